/* The webadmin module: parameters, the civetweb server, and the front door of every request (auth, CSRF,
 * audit). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <civetweb.h>
#include <openssl/ssl.h>

#include <sipd/log.h>
#include <sipd/module.h>

#include "webadmin.h"

static const char *const default_listen[] = {"127.0.0.1:8080", NULL};
static const char *const default_metrics_allow[] = {"127.0.0.0/8", "::1", NULL};
static const char *const *param_listen = default_listen;
static const char *const *param_metrics_allow = default_metrics_allow;
static const char *param_certificate = "";
static const char *param_private_key = "";
static const char *param_webroot = "";
static bool param_bootstrap = true;
static int param_threads = 0;

static struct mg_context *server;
static char *webroot_buf;
static pthread_t boot_thread;
static bool boot_running;

static const struct sipd_param_def params[] = {
    {.name = "listen",
     .type = SIPD_PARAM_STR_LIST,
     .var = &param_listen,
     .help = "HOST:PORT entries to serve; a trailing 's' (\"0.0.0.0:8443s\") serves HTTPS"},
    {.name = "certificate",
     .type = SIPD_PARAM_STR,
     .var = &param_certificate,
     .help = "PEM certificate (chain)"},
    {.name = "private_key", .type = SIPD_PARAM_STR, .var = &param_private_key, .help = "PEM private key"},
    {.name = "webroot", .type = SIPD_PARAM_STR, .var = &param_webroot, .help = "directory of the pages"},
    {.name = "session_ttl",
     .type = SIPD_PARAM_INT,
     .var = &wa_session_ttl,
     .min = 60,
     .max = 86400 * 7,
     .help = "seconds of inactivity that end a login"},
    {.name = "max_body",
     .type = SIPD_PARAM_INT,
     .var = &wa_max_body,
     .min = 1024,
     .max = 64 << 20,
     .help = "largest JSON request body (bytes)"},
    {.name = "max_upload",
     .type = SIPD_PARAM_INT,
     .var = &wa_max_upload,
     .min = 1024,
     .max = 1 << 30,
     .help = "largest audio upload (bytes)"},
    {.name = "upload_dir",
     .type = SIPD_PARAM_STR,
     .var = &wa_upload_dir,
     .help = "where uploads wait for rtc_player (default: $TMPDIR or /tmp)"},
    {.name = "metrics_allow",
     .type = SIPD_PARAM_STR_LIST,
     .var = &param_metrics_allow,
     .help = "addresses or CIDR prefixes that read /metrics without a login"},
    {.name = "pbkdf2_iterations",
     .type = SIPD_PARAM_INT,
     .var = &wa_pbkdf2_iterations,
     .min = 1000,
     .max = 10000000,
     .help = "PBKDF2-HMAC-SHA256 iterations of new admin password hashes"},
    {.name = "login_max_failures",
     .type = SIPD_PARAM_INT,
     .var = &wa_login_max_failures,
     .min = 1,
     .max = 1000,
     .help = "failed logins per address or account within login_window before a lock-out"},
    {.name = "login_window",
     .type = SIPD_PARAM_INT,
     .var = &wa_login_window,
     .min = 1,
     .max = 86400,
     .help = "seconds over which failed logins are counted"},
    {.name = "login_lockout",
     .type = SIPD_PARAM_INT,
     .var = &wa_login_lockout,
     .min = 1,
     .max = 86400,
     .help = "seconds a locked address or account waits (429)"},
    {.name = "max_event_clients",
     .type = SIPD_PARAM_INT,
     .var = &wa_max_event_clients,
     .min = 1,
     .max = 256,
     .help = "open /api/events streams at most"},
    {.name = "threads",
     .type = SIPD_PARAM_INT,
     .var = &param_threads,
     .min = 0,
     .max = 512,
     .help = "civetweb worker threads (0: max_event_clients + 8)"},
    {.name = "bootstrap_admin",
     .type = SIPD_PARAM_BOOL,
     .var = &param_bootstrap,
     .help = "on a start with no admin account, create 'admin' and log its generated password once"},
    {.name = NULL},
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static bool state_changing(const char *m)
{
	return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE");
}

static int api(struct mg_connection *c, const char *method, const char *raw, const char *query,
	       const char *addr)
{
	struct wa_request r = {.c = c, .method = method, .query = query, .addr = addr};
	char segbuf[2048], token[128];
	int st;

	r.nseg = wa_path_split(raw, segbuf, sizeof(segbuf), r.seg, 8);
	if (r.nseg < 0)
		return wa_send_error(c, 404, NULL, "no such path");
	if (r.nseg == 2 && !strcmp(r.seg[1], "login"))
		return wa_login(&r);
	r.logged_in = wa_cookie_token(c, token, sizeof(token)) && wa_session_get(token, &r.s, now_s()) == 0;
	if (!r.logged_in)
		return wa_send_error(c, 401, NULL, "log in first (POST /api/login)");
	if (state_changing(method) && !wa_csrf_ok(&r.s, mg_get_header(c, "X-CSRF-Token")))
		return wa_send_error(c, 403, NULL, "missing or wrong X-CSRF-Token header");
	if (r.nseg == 2 && !strcmp(r.seg[1], "logout"))
		st = wa_logout(&r);
	else
		st = wa_api_dispatch(&r);
	if (state_changing(method)) {
		char safe[512];
		SIPD_NOTICE("audit: admin=%s addr=%s %s %s -> %d", r.s.admin, addr, method,
			    wa_log_safe(safe, sizeof(safe), raw), st);
	}
	return st;
}

/* Every request comes here first. */
static int handle(struct mg_connection *c, void *cbdata)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *raw = ri->request_uri ? ri->request_uri : "/";
	char path[4096];

	(void)cbdata;
	/* An absolute-form target ("http://host/x"): keep its path. */
	if (raw[0] != '/') {
		const char *p = strstr(raw, "://");
		raw = p ? strchr(p + 3, '/') : NULL;
		if (!raw)
			return wa_send_error(c, 400, NULL, "malformed request target");
	}
	/* civetweb gives the path decoded once, without the query (query_string holds that, raw). */
	if (snprintf(path, sizeof(path), "%s", raw) >= (int)sizeof(path))
		return wa_send_error(c, 414, NULL, "request path too long");
	if (!strcmp(path, "/api") || !strncmp(path, "/api/", 5))
		return api(c, ri->request_method, path, ri->query_string, ri->remote_addr);
	if (!strcmp(path, "/metrics")) {
		struct wa_request r = {.c = c, .method = ri->request_method, .addr = ri->remote_addr};
		char token[128];
		r.logged_in =
		    wa_cookie_token(c, token, sizeof(token)) && wa_session_get(token, &r.s, now_s()) == 0;
		return wa_metrics_serve(&r);
	}
	return wa_files_serve(c, ri->request_method, path);
}

static int log_message(const struct mg_connection *c, const char *message)
{
	(void)c;
	SIPD_WARN("civetweb: %s", message);
	return 1;
}

/* HTTPS: the certificate chain and the key may be two files (civetweb alone wants one). */
static int init_ssl(void *ssl_ctx, void *user_data)
{
	SSL_CTX *ctx = ssl_ctx;

	(void)user_data;
	if (SSL_CTX_use_certificate_chain_file(ctx, param_certificate) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, param_private_key[0] ? param_private_key : param_certificate,
					SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SIPD_ERR("cannot use certificate %s with key %s", param_certificate,
			 param_private_key[0] ? param_private_key : param_certificate);
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	return 1;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int wa_init(void)
{
	int err;

	if (param_webroot[0])
		wa_webroot = param_webroot;
	else
		wa_webroot = is_dir(SIPD_WEBROOT_INSTALLED) ? SIPD_WEBROOT_INSTALLED : SIPD_WEBROOT_SOURCE;
	/* realpath: file paths are built under it, and it appears in logs once. */
	if ((webroot_buf = realpath(wa_webroot, NULL)))
		wa_webroot = webroot_buf;
	if (!is_dir(wa_webroot))
		SIPD_WARN("webroot %s is not a directory: only the API is served", wa_webroot);
	for (const char *const *l = param_listen; l && *l; l++) {
		size_t n = strlen(*l);
		if (n && (*l)[n - 1] == 's')
			wa_https = true;
	}
	if (wa_https && !param_certificate[0]) {
		SIPD_ERR("an HTTPS listen entry needs certificate (and private_key)");
		return EINVAL;
	}
	if (!param_listen || !param_listen[0]) {
		SIPD_ERR("listen is empty");
		return EINVAL;
	}
	if ((err = wa_metrics_init(param_metrics_allow)))
		return err;
	return wa_admins_init();
}

/* The first-start account: its PBKDF2 hash must not hold up start-up (SIP workers start after every module).
 */
static void *bootstrap_main(void *arg)
{
	(void)arg;
	wa_admins_bootstrap();
	return NULL;
}

static int wa_start(void)
{
	char ports[1024] = "", threads[16], errtext[256] = "";
	size_t used = 0;
	unsigned code = 0;
	struct mg_callbacks cb = {.log_message = log_message, .init_ssl = init_ssl};
	int err;

	if (param_bootstrap && !pthread_create(&boot_thread, NULL, bootstrap_main, NULL))
		boot_running = true;
	for (const char *const *l = param_listen; *l; l++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s%s", used ? "," : "", *l);
	snprintf(threads, sizeof(threads), "%d", param_threads ? param_threads : wa_max_event_clients + 8);
	const char *options[] = {
	    "listening_ports", ports, "num_threads", threads, "request_timeout_ms", "30000",
	    "enable_keep_alive", "yes", "keep_alive_timeout_ms", "5000",
	    /* Headers and body go in two writes: without it Nagle holds the body for a delayed ACK. */
	    "tcp_nodelay", "1", wa_https ? "ssl_certificate" : NULL, param_certificate, NULL};
	struct mg_init_data init = {.callbacks = &cb, .configuration_options = options};
	struct mg_error_data error = {.code = &code, .text = errtext, .text_buffer_size = sizeof(errtext)};

	mg_init_library(wa_https ? MG_FEATURES_TLS : MG_FEATURES_DEFAULT);
	if ((err = wa_events_start()))
		return err;
	if (!(server = mg_start2(&init, &error))) {
		SIPD_ERR("cannot serve HTTP on %s: %s", ports, errtext[0] ? errtext : "unknown error");
		wa_events_stop();
		mg_exit_library();
		return strstr(errtext, "bind") || strstr(errtext, "port") ? EADDRINUSE : EINVAL;
	}
	mg_set_request_handler(server, "/", handle, NULL);
	SIPD_INFO("web admin on %s%s (webroot %s)", wa_https ? "https " : "http ", ports, wa_webroot);
	return 0;
}

static void wa_stop(void)
{
	/* The event streams notice first, so civetweb's threads are free to end. */
	wa_events_stop();
	if (server)
		mg_stop(server);
	server = NULL;
	mg_exit_library();
	/* Before the database closes. */
	if (boot_running)
		pthread_join(boot_thread, NULL);
	boot_running = false;
	wa_sessions_clear();
	wa_ratelimit_clear();
	free(webroot_buf);
	webroot_buf = NULL;
}

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "webadmin",
    .version = "1.0",
    .description = "Web admin: the admin pages and the JSON API over the RPC methods (civetweb)",
    .params = params,
    .rpc = wa_rpc_methods,
    .init = wa_init,
    .start = wa_start,
    .stop = wa_stop,
};
