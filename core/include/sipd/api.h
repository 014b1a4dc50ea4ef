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
 * 1.1: sipd_dest.server_name, sipd_conn_id_next() (transport.h), sipd_param_source() (module.h).
 * 1.2: sipd_db_read(), sipd_db_listen_many() (db.h).
 * 1.3: sipd_transport_batch_register(), sipd_send_soon() (transport.h).
 * 1.4: sipd_raw_call_id() (transport.h).
 */
#define SIPD_ABI_MAJOR 1
#define SIPD_ABI_MINOR 4

#if defined(__GNUC__)
#define SIPD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SIPD_PRINTF(fmt, args)
#endif

#endif
