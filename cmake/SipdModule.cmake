# sipd_add_module(NAME SOURCES file.c... [LIBRARIES lib...] [INCLUDES dir...])
# Builds a loadable sipd module: a shared object named NAME.so with hidden
# symbols (only the descriptor is exported), linked with --no-undefined
# against the core, compiled with SIPD_MODULE_NAME="NAME" for logging.
# Works in the sipd tree and, through find_package(sipd), out of tree.
function(sipd_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES;INCLUDES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "sipd_add_module(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    C_STANDARD 11
    POSITION_INDEPENDENT_CODE ON)
  if(SIPD_BUILD_MODULE_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SIPD_BUILD_MODULE_DIR}")
  endif()
  target_compile_definitions(${name} PRIVATE SIPD_MODULE_NAME="${name}")
  target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  target_link_libraries(${name} PRIVATE ${SIPD_CORE_TARGET} ${ARG_LIBRARIES})
  if(ARG_INCLUDES)
    target_include_directories(${name} PRIVATE ${ARG_INCLUDES})
  endif()
  if(SIPD_MODULE_INSTALL_DIR)
    install(TARGETS ${name} LIBRARY DESTINATION "${SIPD_MODULE_INSTALL_DIR}")
  endif()
endfunction()
