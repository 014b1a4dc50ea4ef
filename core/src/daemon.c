/* The sipd command line: arguments, start-up in dependency order, signals, and a clean shutdown. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libconfig.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/transport.h>

#include "internal.h"

/* Exit codes, documented in docs/configuration.md. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_CONFIG = 2,
	EXIT_MODULE = 3,
	EXIT_SCRIPT = 4,
	EXIT_RUNTIME = 5,
};

struct options {
	const char *conf;
	const char *level;
	const char *db;
	const char *socket;
	const char *module_path;
	const char **listen;
	unsigned listen_count;
	bool check, foreground, version, help;
};

/* What start-up has done so far, so a failure or a shutdown undoes exactly that. */
struct progress {
	bool log, loops, loaded, script, control, running, db;
};

/* Write end of the pipe the waiting parent reads the start-up result from (daemon mode). */
static int ready_fd = -1;

static const char usage_text[] =
    "usage: sipd [options]\n"
    "  -f FILE            modules.conf (default ./modules.conf if present, else /etc/sipd/modules.conf)\n"
    "  -c                 check: load modules and compile the routing script, then exit\n"
    "  -D                 stay in the foreground (default: run as a daemon)\n"
    "  -V, --version      print version, module ABI and build details\n"
    "  -l LEVEL           log level: error, warn, notice, info, debug\n"
    "  -L PROTO:ADDR:PORT listen address, repeatable; replaces core.listen\n"
    "  --db TARGET        database: an SQLite file path, or postgresql://user@host:port/db\n"
    "                     (or a key=value conninfo); replaces core.database\n"
    "  -S PATH            control socket; replaces core.control_socket\n"
    "  -M DIR             module directory, searched first; replaces core.module_path\n"
    "  -h, --help         this text\n"
    "exit codes: 0 ok, 1 usage, 2 configuration, 3 module, 4 routing script, 5 runtime (e.g. bind)\n";

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "sipd: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'sipd -h' for the options.\n");
	return EXIT_USAGE;
}

/* Returns -1 to go on, or the exit code. */
static int parse_args(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct sipd_listen l;
	char why[256];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:cDVl:L:S:M:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			o->conf = optarg;
			break;
		case 'c':
			o->check = true;
			break;
		case 'D':
			o->foreground = true;
			break;
		case 'V':
			o->version = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 'l':
			if (sipd_log_level_parse(optarg) < 0)
				return usage_error("-l '%s': expected error, warn, notice, info or debug",
						   optarg);
			o->level = optarg;
			break;
		case 'L':
			if (listen_parse(&l, optarg, false, why, sizeof(why)) != 0)
				return usage_error("-L %s", why);
			o->listen[o->listen_count++] = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'M':
			o->module_path = optarg;
			break;
		default:
			fprintf(stderr, "Try 'sipd -h' for the options.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

static void print_version(void)
{
	printf("sipd %s\n", sipd_version());
	printf("module ABI %d.%d\n", SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	printf("built with libconfig %d.%d.%d, jansson %s (running %s), libltdl\n", LIBCONFIG_VER_MAJOR,
	       LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION, JANSSON_VERSION, jansson_version_str());
	printf("features: IPv4, IPv6, epoll worker loops, syslog, modules opened RTLD_LOCAL\n");
	printf("module directory: %s\n", SIPD_MODULE_DIR);
}

static int replace_string(char **field, const char *value)
{
	char *copy;

	if (!value)
		return 0;
	copy = strdup(value);
	if (!copy)
		return ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Command-line options win over modules.conf. */
static int apply_overrides(struct core_config *c, const struct options *o)
{
	int ret;

	if ((ret = replace_string(&c->log_level, o->level)) || (ret = replace_string(&c->database, o->db)) ||
	    (ret = replace_string(&c->control_socket, o->socket)) ||
	    (ret = replace_string(&c->module_path, o->module_path)))
		return ret;
	if (o->listen_count) {
		char **specs = calloc(o->listen_count + 1, sizeof(*specs));

		if (!specs)
			return ENOMEM;
		for (unsigned i = 0; i < o->listen_count; i++)
			if (!(specs[i] = strdup(o->listen[i]))) {
				while (i-- > 0)
					free(specs[i]);
				free(specs);
				return ENOMEM;
			}
		for (unsigned i = 0; i < c->listen_count; i++)
			free(c->listen[i]);
		free(c->listen);
		c->listen = specs;
		c->listen_count = o->listen_count;
	}
	return 0;
}

/* The tcp module holds thousands of connections: take every descriptor the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;

		if (want == RLIM_INFINITY) {
			FILE *f = fopen("/proc/sys/fs/nr_open", "r");
			unsigned long long nr = 1048576;

			if (f) {
				if (fscanf(f, "%llu", &nr) != 1)
					nr = 1048576;
				fclose(f);
			}
			want = (rlim_t)nr;
		}
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			SIPD_WARN("cannot raise the open files limit: %s", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	SIPD_DBG("open files limit: %llu", (unsigned long long)rl.rlim_cur);
}

/*
 * The parent stays until the child has started (or failed) and exits with
 * the child's code, so init scripts see bind errors and bad scripts.
 */
static int daemonize(void)
{
	unsigned char code = EXIT_RUNTIME;
	int fds[2], null;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid > 0) {
		close(fds[1]);
		do
			n = read(fds[0], &code, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? code : EXIT_RUNTIME);
	}
	close(fds[0]);
	ready_fd = fds[1];
	setsid();
	/* stderr stays: it is where log_target "stderr" writes, often redirected by a service manager. */
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return 0;
}

static void report_ready(int code)
{
	unsigned char b = (unsigned char)code;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &b, 1) != 1)
		SIPD_WARN("cannot tell the parent process that start-up ended: %s", strerror(errno));
	close(ready_fd);
	ready_fd = -1;
}

static void report(const struct core_config *c, const char *msg)
{
	fprintf(stderr, "sipd: %s\n", msg);
	if (c->log_target && strcmp(c->log_target, "syslog") == 0)
		SIPD_ERR("%s", msg);
}

static void describe_listeners(char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		const struct sipd_listen *l = sipd_listen_get(i);
		bool v6 = strchr(l->host, ':') != NULL;
		int w = snprintf(buf + used, size - used, "%s%s:%s%s%s:%u", i ? ", " : "",
				 sipd_proto_name(l->proto), v6 ? "[" : "", l->host, v6 ? "]" : "", l->port);

		if (w < 0 || (size_t)w >= size - used)
			break;
		used += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, size, "nothing");
}

static void wait_for_signals(const sigset_t *set)
{
	char err[1024];
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGHUP) {
			SIPD_INFO("signal %d (%s): shutting down", sig, strsignal(sig));
			return;
		}
		if (script_reload(err, sizeof(err)) == 0)
			SIPD_INFO("SIGHUP: routing script reloaded");
		else
			SIPD_ERR("SIGHUP: routing script not reloaded, the old one keeps running: %s", err);
	}
}

/* Starts everything up to the running loops; a -c run stops after compiling the script. */
static int start(const struct options *o, struct core_config *c, struct progress *p, uint64_t t0)
{
	char err[2048], where[512];
	int ret;

	if (log_open(c->log_target, c->log_level) != 0) {
		fprintf(stderr, "sipd: cannot open the log (%s, level %s)\n", c->log_target, c->log_level);
		return EXIT_CONFIG;
	}
	p->log = true;
	raise_nofile();
	if (listen_set(c->listen, c->listen_count, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_CONFIG;
	}
	if (aliases_set(c->aliases, c->alias_count) || core_database_set(c->database) ||
	    sipd_allow_method("OPTIONS")) {
		report(c, "out of memory");
		return EXIT_RUNTIME;
	}
	if (node_configure(c->node_id, c->node_address, c->node_dead_after, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_CONFIG;
	}
	/* A check must work beside a running server: with no listen entries, transports bind nothing. */
	if (o->check && listen_set(NULL, 0, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_RUNTIME;
	}
	if ((ret = loops_create(c->workers)) != 0) {
		snprintf(err, sizeof(err), "cannot create %u worker loops: %s", c->workers, strerror(ret));
		report(c, err);
		return EXIT_RUNTIME;
	}
	p->loops = true;
	if ((ret = rpc_core_register()) || (ret = node_rpc_register()) || (ret = rpc_admin_register()) ||
	    (ret = script_core_register())) {
		snprintf(err, sizeof(err), "cannot register the core's RPC methods and script functions: %s",
			 strerror(ret));
		report(c, err);
		return EXIT_RUNTIME;
	}
	p->loaded = true;
	/* Modules migrate their tables and load state in init: the database must be open by then. */
	db_commit_interval_set(c->db_commit_interval);
	if (db_open(c->database, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_RUNTIME;
	}
	p->db = true;
	if (!o->check && node_register() != 0) {
		report(c, "cannot register this node in the database (see the log above)");
		return EXIT_RUNTIME;
	}
	if (loader_load_all(c, err, sizeof(err)) != 0) {
		report(c, err);
		return loader_init_failed() ? EXIT_RUNTIME : EXIT_MODULE;
	}
	if (o->check) {
		if (script_check(c->routing, err, sizeof(err)) != 0) {
			report(c, err);
			return EXIT_SCRIPT;
		}
		printf("sipd: %s and %s are valid (%.1f ms)\n", c->path, c->routing,
		       (double)(mono_us() - t0) / 1000.0);
		return EXIT_OK;
	}
	if (script_load(c->routing, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_SCRIPT;
	}
	p->script = true;
	if ((ret = rpc_admin_set_routing(c->routing)) != 0) {
		report(c, "out of memory");
		return EXIT_RUNTIME;
	}
	if ((ret = receive_start()) != 0) {
		snprintf(err, sizeof(err),
			 "cannot start the receive path: %s (is the parser module enabled?)", strerror(ret));
		report(c, err);
		return EXIT_RUNTIME;
	}
	if (control_start(c->control_socket, err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_RUNTIME;
	}
	p->control = true;
	if (loader_start_all(err, sizeof(err)) != 0) {
		report(c, err);
		return EXIT_RUNTIME;
	}
	if ((ret = loops_run()) != 0) {
		snprintf(err, sizeof(err), "cannot start the worker threads: %s", strerror(ret));
		report(c, err);
		return EXIT_RUNTIME;
	}
	p->running = true;
	describe_listeners(where, sizeof(where));
	SIPD_INFO("sipd %s started: %u worker%s, listening on %s", sipd_version(), c->workers,
		  c->workers == 1 ? "" : "s", where);
	SIPD_INFO("start-up took %.1f ms", (double)(mono_us() - t0) / 1000.0);
	return EXIT_OK;
}

/* Undoes what start did, in reverse: nothing runs when modules are unloaded. */
static void stop(const struct progress *p)
{
	if (p->control)
		control_stop();
	/* Acknowledged writes reach the disk and their completions reach the loops before they stop. */
	if (p->db)
		db_drain();
	if (p->running)
		loops_stop();
	loader_stop_all();
	event_stop();
	if (p->db) {
		node_leave();
		db_close();
	}
	if (p->script)
		script_unload();
	loader_unload_all();
	if (p->loops)
		loops_destroy();
	if (p->loaded)
		rpc_reset();
	service_reset();
	listen_reset();
	if (p->log)
		log_close();
}

int sipd_main(int argc, char **argv)
{
	uint64_t t0 = mono_us();
	const char *listen_specs[argc > 0 ? argc : 1];
	struct options o = {.listen = listen_specs};
	struct core_config c = {0};
	struct progress p = {0};
	char err[2048];
	sigset_t set;
	int code;

	/* Blocked before any thread exists, so every thread inherits the mask and only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	code = parse_args(&o, argc, argv);
	if (code >= 0)
		return code;
	if (o.help) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (o.version) {
		print_version();
		return EXIT_OK;
	}
	if (!o.conf)
		o.conf = access("modules.conf", F_OK) == 0 ? "modules.conf" : "/etc/sipd/modules.conf";
	if (config_load(&c, o.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "sipd: %s\n", err);
		return EXIT_CONFIG;
	}
	if (apply_overrides(&c, &o) != 0) {
		fprintf(stderr, "sipd: out of memory\n");
		config_free(&c);
		return EXIT_RUNTIME;
	}
	if (!o.check && !o.foreground && daemonize() != 0) {
		fprintf(stderr, "sipd: cannot become a daemon: %s\n", strerror(errno));
		config_free(&c);
		return EXIT_RUNTIME;
	}

	code = start(&o, &c, &p, t0);
	report_ready(code);
	if (code == EXIT_OK && p.running)
		wait_for_signals(&set);
	stop(&p);
	config_free(&c);
	return code;
}
