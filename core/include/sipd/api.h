/* Export marker and ABI version of the sipd module API. */
#ifndef SIPD_API_H
#define SIPD_API_H

/* Symbols of libsipdcore are hidden unless marked SIPD_API. */
#if defined(SIPD_BUILDING_CORE)
#define SIPD_API __attribute__((visibility("default")))
#else
#define SIPD_API
#endif

/* Marks the one symbol a module exports (see module.h). */
#define SIPD_EXPORT __attribute__((visibility("default")))

/*
 * ABI version. A module built against MAJOR.MINOR loads into a core whose
 * major is equal and whose minor is >= the module's minor.
 * 1.0: first stable ABI.
 */
#define SIPD_ABI_MAJOR 1
#define SIPD_ABI_MINOR 1

#if defined(__GNUC__)
#define SIPD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SIPD_PRINTF(fmt, args)
#endif

#endif
