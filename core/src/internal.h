/* Interfaces between the core's own parts (not installed, not for modules). */
#ifndef SIPD_INTERNAL_H
#define SIPD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <sipd/module.h>
#include <sipd/transport.h>

#define SIPD_MAX_THREADS 64

/* ---- daemon.c: the sipd command line (exported only for core/main) ---- */
SIPD_API int sipd_main(int argc, char **argv);

/* ---- config.c: modules.conf ------------------------------------------ */

struct core_module_entry {
	char *name;
	bool enabled;
	char *file;    /* modules.conf path, for error messages */
	int line;      /* line of the module's entry */
	void *setting; /* libconfig config_setting_t * of the entry (valid until config_free) */
};

struct core_config {
	char *path;    /* modules.conf */
	char **listen; /* "proto:host:port" strings */
	unsigned listen_count;
	char **aliases;
	unsigned alias_count;
	unsigned workers; /* resolved: never 0 */
	char *database;
	char *routing; /* routing script path, resolved relative to modules.conf */
	char *log_level;
	char *log_target; /* "stderr" or "syslog" */
	char *control_socket;
	char *module_path;
	char *node_id, *node_address; /* NULL: defaults (host name; first listen entry) */
	int node_dead_after;          /* seconds */
	unsigned db_commit_interval;  /* milliseconds */
	struct core_module_entry *modules;
	unsigned module_count;
	void *cfg; /* libconfig config_t * */
};

/* Reads path; on error writes "file:line: what was expected" to err and returns EINVAL/ENOENT. */
int config_load(struct core_config *out, const char *path, char *err, size_t errlen);
void config_free(struct core_config *c);
/* Applies a module's parameters from its entry; errors name file:line. */
int config_apply_params(const struct core_config *c, const struct core_module_entry *e,
			const struct sipd_module *m, char *err, size_t errlen);

/* "file:line" of parameter param of entry e (or of the entry itself) into buf. */
void config_param_source(const struct core_config *c, const struct core_module_entry *e, const char *param,
			 char *buf, size_t size);

/* listen.c: parses and owns core.listen; also aliases and capabilities (core.h). */
int listen_set(char *const *specs, unsigned count, char *err, size_t errlen);
int aliases_set(char *const *names, unsigned count);
void listen_reset(void);
/*
 * Parses one "proto:host[:port]" spec into *out (fd -1). Host names are
 * looked up with getaddrinfo only when resolve is true. Returns 0 or EINVAL
 * with the reason in err.
 */
int listen_parse(struct sipd_listen *out, const char *spec, bool resolve, char *err, size_t errlen);

/* caps.c: sipd_core_database's value, and clearing the Allow/Supported lists (listen_reset does it). */
int core_database_set(const char *path);
void caps_reset(void);
/* Whether method is in the Allow list (methods are added during init only, so it takes no lock). */
bool caps_method_allowed(struct sipd_str method);

/* ---- loader.c: modules ------------------------------------------------ */

/* Loads, checks and orders every enabled module; runs init in dependency order. */
int loader_load_all(const struct core_config *c, char *err, size_t errlen);
int loader_start_all(char *err, size_t errlen);
void loader_stop_all(void); /* reverse order */
void loader_unload_all(void);
/* Appends one object per module {name, version, abi, description, file, functions, rpc, parameters}. */
void loader_describe(json_t *array);
/* After loader_load_all failed: true if a module's init hook failed (e.g. a bind error), false if the loader
 * refused a module. */
bool loader_init_failed(void);

/* ---- service.c --------------------------------------------------------- */
void service_reset(void);

/* ---- log.c ------------------------------------------------------------- */
int log_open(const char *target, const char *level);
void log_close(void);
/* Added by runtime: "error"... for a level; sets the threshold at run time (log.level). */
const char *log_level_name(int level);
void log_set_level(int level);

/* ---- loop.c / timer.c / worker.c -------------------------------------- */
int loops_create(unsigned count);
int loops_run(void); /* starts one thread per loop */
/* Asks every loop to finish its queued work and exit; joins the threads. */
void loops_stop(void);
void loops_destroy(void);
/* A loop calls this between event batches (the script uses it for reload). */
typedef void (*loop_idle_hook)(unsigned thread_index);
void loops_set_idle_hook(loop_idle_hook hook);

/* ---- transport.c ------------------------------------------------------- */
/* Sends what the calling worker queued with sipd_send_soon this round (its loop calls it). */
void transports_flush(void);

/* ---- stats.c ----------------------------------------------------------- */
/* Appends {"group.name": value, ...} to obj. */
void stats_dump(json_t *obj);
void stats_reset_all(void);
/* Added by runtime: appends {name, help, value} per counter (stats.list). */
void stats_describe(json_t *array);

/* ---- rpc.c / control.c ------------------------------------------------- */
int rpc_core_register(void); /* modules, stats, reload, help, version */
int control_start(const char *socket_path, char *err, size_t errlen);
void control_stop(void);
void rpc_reset(void);

/* ---- event.c: the event bus (sipd/event.h) ---------------------------- */
/* Stops the event thread and frees queued events (after the modules stopped). */
void event_stop(void);

/* ---- rpc_admin.c: routing.*, modules.list, stats.get ------------------ */
int rpc_admin_register(void);
/* The routing script path the daemon loaded (for routing.get/put). */
int rpc_admin_set_routing(const char *path);

/* ---- script/ ----------------------------------------------------------- */
/* Compiles path and installs it as the running script. */
int script_load(const char *path, char *err, size_t errlen);
/* Compiles path without installing it (sipd -c). */
int script_check(const char *path, char *err, size_t errlen);
/* Recompiles the current path beside the running script and swaps atomically. */
int script_reload(char *err, size_t errlen);
void script_unload(void);
/*
 * Compiles text (named file in messages) without installing it. On error
 * fills *line, *col (0 when unknown) and msg with the first error.
 */
int script_check_text(const char *file, const char *text, size_t len, int *line, int *col, char *msg,
		      size_t msglen);
/* Registers the core's own script functions and pseudo-variables. */
int script_core_register(void);

/* ---- db.c / db_thread.c: the database (sipd/db.h) --------------------- */
/* Opens path (empty: no database) and starts the DB thread; on error err says what is wrong with the file. */
int db_open(const char *path, char *err, size_t errlen);
/* core.db_commit_interval: the least time between the starts of two group commits (before db_open). */
#define DB_COMMIT_INTERVAL_DEFAULT_MS 20
#define DB_COMMIT_INTERVAL_MAX_MS     1000
void db_commit_interval_set(unsigned ms);
/* Waits until queued writes are committed and their completions posted (before the loops stop). */
void db_drain(void);
/* Commits what is left, stops the DB thread, closes the file (after the modules stopped). */
void db_close(void);

/* ---- node.c: this node in the nodes table ------------------------------ */
/* Sets the id (NULL/"": the host name) and address (NULL/"": from core.listen; call after listen_set). */
int node_configure(const char *id, const char *address, int dead_after, char *err, size_t errlen);
/* Migrates the nodes table and marks this node up (after db_open; nothing without a database). */
int node_register(void);
/* Refreshes last_seen (the DB thread calls it every few seconds). */
void node_heartbeat(void);
/* Marks this node stopped (clean shutdown, before db_close). */
void node_leave(void);
int node_rpc_register(void);

/* ---- receive.c: sipd_receive() needs the parser service --------------- */
int receive_start(void);

#endif
