# make install: binaries, modules, public headers, the CMake package
# (find_package(sipd) -> sipd::core + sipd_add_module()), pkg-config, configs, systemd unit.
include(CMakePackageConfigHelpers)

install(TARGETS sipd sipctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sipdcore EXPORT sipdTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY core/include/sipd DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
# Modules' service APIs (tm_api.h, ...) install beside the core headers: #include <sipd/tm_api.h>.
file(GLOB SIPD_MODULE_API_HEADERS "${PROJECT_SOURCE_DIR}/modules/*/*_api.h")
install(FILES ${SIPD_MODULE_API_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sipd)

set(SIPD_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/sipd")
install(EXPORT sipdTargets NAMESPACE sipd:: DESTINATION ${SIPD_CMAKE_DIR})
configure_package_config_file(cmake/templates/sipdConfig.cmake.in
  "${CMAKE_BINARY_DIR}/sipdConfig.cmake"
  INSTALL_DESTINATION ${SIPD_CMAKE_DIR}
  PATH_VARS SIPD_MODULE_INSTALL_DIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file("${CMAKE_BINARY_DIR}/sipdConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_BINARY_DIR}/sipdConfig.cmake" "${CMAKE_BINARY_DIR}/sipdConfigVersion.cmake"
  cmake/SipdModule.cmake DESTINATION ${SIPD_CMAKE_DIR})

# Relocatable: the prefix is found from the .pc file's own place.
file(RELATIVE_PATH SIPD_PC_PREFIX_FROM_PCDIR "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
configure_file(cmake/templates/sipd.pc.in "${CMAKE_BINARY_DIR}/sipd.pc" @ONLY)
install(FILES "${CMAKE_BINARY_DIR}/sipd.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(FILES modules.conf routing.cfg DESTINATION ${SIPD_CONF_INSTALL_DIR})
configure_file(cmake/templates/sipd.service.in "${CMAKE_BINARY_DIR}/sipd.service" @ONLY)
install(FILES "${CMAKE_BINARY_DIR}/sipd.service" DESTINATION lib/systemd/system)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(EXISTS "${PROJECT_SOURCE_DIR}/webroot")
  install(DIRECTORY webroot/ DESTINATION ${SIPD_DATA_INSTALL_DIR}/webroot)
endif()
if(EXISTS "${PROJECT_SOURCE_DIR}/audio")
  install(DIRECTORY audio/ DESTINATION ${SIPD_DATA_INSTALL_DIR}/audio)
endif()
