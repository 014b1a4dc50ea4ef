/* libFuzzer target: web admin API requests (method, path, query, headers, JSON body) through webadmin's
 * routes, body checks and mapping to RPC params, with civetweb's connection and the RPC methods played here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include <sipd/log.h>

#include "internal.h"
#include "webadmin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the connection: the request's parts in, the answer's status, Content-Length and bytes out ---- */

struct mg_connection {
	struct mg_request_info ri;
	const char *ctype, *host, *cookie;
	const char *body;
	size_t body_len, body_off;
	int status;
	long long content_length; /* the Content-Length header sent, -1 if none */
	bool head_sent;
	char *out;
	size_t out_len, out_cap;
};

const struct mg_request_info *mg_get_request_info(const struct mg_connection *c)
{
	return &c->ri;
}

const char *mg_get_header(const struct mg_connection *c, const char *name)
{
	if (!strcasecmp(name, "Content-Type"))
		return c->ctype;
	if (!strcasecmp(name, "Host"))
		return c->host;
	if (!strcasecmp(name, "Cookie"))
		return c->cookie;
	return NULL;
}

/* The body in pieces of at most 7 bytes, as a network read may split it. */
int mg_read(struct mg_connection *c, void *buf, size_t len)
{
	size_t n = c->body_len - c->body_off;

	if (n > len)
		n = len;
	if (n > 7)
		n = 7;
	memcpy(buf, c->body + c->body_off, n);
	c->body_off += n;
	return (int)n;
}

int mg_write(struct mg_connection *c, const void *buf, size_t len)
{
	if (!c->head_sent)
		abort(); /* a body before the head */
	if (c->out_len + len > c->out_cap) {
		c->out_cap = (c->out_len + len) * 2;
		if (!(c->out = realloc(c->out, c->out_cap)))
			abort();
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	return (int)len;
}

int mg_response_header_start(struct mg_connection *c, int status)
{
	if (c->status || status < 100 || status > 599)
		abort(); /* one answer per request */
	c->status = status;
	return 0;
}

int mg_response_header_add(struct mg_connection *c, const char *header, const char *value, int value_len)
{
	if (!c->status || value_len != -1)
		abort();
	if (!strcasecmp(header, "Content-Length"))
		c->content_length = atoll(value);
	return 0;
}

int mg_response_header_add_lines(struct mg_connection *c, const char *lines)
{
	size_t n = strlen(lines);

	/* CRLF-terminated lines with no bare CR or LF inside (no header injection from request data). */
	if (!c->status || n < 2 || lines[n - 2] != '\r' || lines[n - 1] != '\n')
		abort();
	for (const char *p = lines; *p; p++)
		if ((*p == '\r' && p[1] != '\n') || (*p == '\n' && (p == lines || p[-1] != '\r')))
			abort();
	return 0;
}

int mg_response_header_send(struct mg_connection *c)
{
	if (!c->status || c->head_sent)
		abort();
	c->head_sent = true;
	return 0;
}

/* ---- what the rest of webadmin and the other modules would provide ---- */

bool fuzz_module_loaded(const char *name)
{
	(void)name;
	return true; /* rtc_player and auth_db: their routes are open */
}

int wa_admin_check(const char *name, const char *password)
{
	return !strcmp(name, "admin") && !strcmp(password, "correct horse") ? 0 : EACCES;
}

json_t *wa_stats_latest(void)
{
	return json_pack("{s:f}", "calls_per_second", 12.5);
}

int wa_events_serve(struct wa_request *r)
{
	(void)r;
	abort(); /* a stream: not routed here */
}

/* ---- the RPC methods: each checks webadmin's params against the method's contract ---- */

static unsigned rpc_outcome; /* chosen per input: which answer the methods give */

struct contract {
	const char *method;
	const char *required[4];
	const char *optional[4]; /* strings, except offset/limit (integers) */
};

static const struct contract contracts[] = {
    {"users.find", {"q"}, {"realm", "offset", "limit"}},
    {"users.add", {"username", "password"}, {"realm"}},
    {"users.passwd", {"username", "password"}, {"realm"}},
    {"users.get", {"username"}, {"realm"}},
    {"users.delete", {"username"}, {"realm"}},
    {"users.enable", {"username"}, {"realm"}},
    {"users.disable", {"username"}, {"realm"}},
    {"registrations", {NULL}, {"aor"}},
    {"registrations.remove", {"aor", "contact"}, {NULL}},
    {"sessions", {NULL}, {NULL}},
    {"sessions.end", {"call_id"}, {NULL}},
    {"stats.get", {NULL}, {NULL}},
    {"routing.get", {NULL}, {NULL}},
    {"routing.check", {"script"}, {NULL}},
    {"routing.put", {"script"}, {NULL}},
    {"modules.list", {NULL}, {NULL}},
    {"admin.list", {NULL}, {NULL}},
    {"audio.list", {NULL}, {NULL}},
    {"audio.delete", {"name"}, {NULL}},
    {"audio.assign", {"user", "name", "mode"}, {NULL}},
    {"audio.unassign", {"user"}, {NULL}},
    {"audio.assignments", {NULL}, {NULL}},
    {"rtc.calls", {NULL}, {NULL}},
};

static bool listed(const char *const *names, const char *key)
{
	for (unsigned i = 0; i < 4 && names[i]; i++)
		if (!strcmp(names[i], key))
			return true;
	return false;
}

/* What the audio routes promise rtc_player: names of 1-64 of [A-Za-z0-9._-] not starting with a dot. */
static bool audio_name_ok(const char *n)
{
	size_t len = strlen(n);

	return len >= 1 && len <= 64 && n[0] != '.' &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static void check_params(const struct contract *k, json_t *params)
{
	const char *key;
	json_t *v;

	if (json_is_array(params)) {
		if (json_array_size(params) || k->required[0])
			abort(); /* the web passes objects; an empty array only where nothing is needed */
		return;
	}
	if (!json_is_object(params))
		abort();
	for (unsigned i = 0; i < 4 && k->required[i]; i++)
		if (!json_object_get(params, k->required[i]))
			abort();
	json_object_foreach(params, key, v)
	{
		bool integer = !strcmp(key, "offset") || !strcmp(key, "limit");

		if (!listed(k->required, key) && !listed(k->optional, key))
			abort(); /* nothing from the request beyond the contract */
		if (integer ? !json_is_integer(v) || json_integer_value(v) < 0 : !json_is_string(v))
			abort();
	}
	if (!strncmp(k->method, "audio.", 6) && json_object_get(params, "name") &&
	    !audio_name_ok(json_string_value(json_object_get(params, "name"))))
		abort();
	v = json_object_get(params, "mode");
	if (v && strcmp(json_string_value(v), "loop") && strcmp(json_string_value(v), "once"))
		abort();
}

static int rpc_any(const char *method, json_t *params, json_t **result)
{
	const struct contract *k = NULL;

	for (size_t i = 0; i < sizeof(contracts) / sizeof(contracts[0]); i++)
		if (!strcmp(contracts[i].method, method))
			k = &contracts[i];
	if (!k)
		abort(); /* webadmin called a method outside the contract */
	check_params(k, params);
	switch (rpc_outcome % 6) {
	case 0: /* a list of items, or an object holding one */
		*result = json_pack("[{s:s}, {s:s}, {s:s}]", "name", "a", "name", "b", "name", "c");
		if (!strcmp(method, "sessions") || !strcmp(method, "stats.get"))
			*result = json_pack("{s:o, s:s}", "sessions", *result, "realm", "example.test");
		return 0;
	case 1: /* an object */
		*result = json_pack("{s:s, s:b}", "realm", "example.test", "enabled", 1);
		return 0;
	case 2:
		return sipd_rpc_fail(result, EINVAL, "the password is too short");
	case 3:
		*result = json_pack("{s:s, s:[{s:i, s:i, s:s}]}", "message", "script has errors", "errors",
				    "line", 3, "column", 7, "message", "unknown function");
		return EINVAL;
	case 4:
		return ENOENT; /* and no result */
	default:
		*result = json_integer(42); /* neither a string nor an object */
		return EEXIST;
	}
}

/* One handler per method name (the registry calls fn(params, result) without the name). */
#define RPC_FN(id, name)                                                                                     \
	static int rpc_##id(json_t *params, json_t **result)                                                 \
	{                                                                                                    \
		return rpc_any(name, params, result);                                                        \
	}
RPC_FN(users_find, "users.find")
RPC_FN(users_add, "users.add")
RPC_FN(users_passwd, "users.passwd")
RPC_FN(users_get, "users.get")
RPC_FN(users_delete, "users.delete")
RPC_FN(users_enable, "users.enable")
RPC_FN(users_disable, "users.disable")
RPC_FN(registrations, "registrations")
RPC_FN(registrations_remove, "registrations.remove")
RPC_FN(sessions, "sessions")
RPC_FN(sessions_end, "sessions.end")
RPC_FN(stats_get, "stats.get")
RPC_FN(routing_get, "routing.get")
RPC_FN(routing_check, "routing.check")
RPC_FN(routing_put, "routing.put")
RPC_FN(modules_list, "modules.list")
RPC_FN(admin_list, "admin.list")
RPC_FN(audio_list, "audio.list")
RPC_FN(audio_delete, "audio.delete")
RPC_FN(audio_assign, "audio.assign")
RPC_FN(audio_unassign, "audio.unassign")
RPC_FN(audio_assignments, "audio.assignments")
RPC_FN(rtc_calls, "rtc.calls")

static const struct sipd_rpc_method methods[] = {
    {"users.find", rpc_users_find, "", ""},
    {"users.add", rpc_users_add, "", ""},
    {"users.passwd", rpc_users_passwd, "", ""},
    {"users.get", rpc_users_get, "", ""},
    {"users.delete", rpc_users_delete, "", ""},
    {"users.enable", rpc_users_enable, "", ""},
    {"users.disable", rpc_users_disable, "", ""},
    {"registrations", rpc_registrations, "", ""},
    {"registrations.remove", rpc_registrations_remove, "", ""},
    {"sessions", rpc_sessions, "", ""},
    {"sessions.end", rpc_sessions_end, "", ""},
    {"stats.get", rpc_stats_get, "", ""},
    {"routing.get", rpc_routing_get, "", ""},
    {"routing.check", rpc_routing_check, "", ""},
    {"routing.put", rpc_routing_put, "", ""},
    {"modules.list", rpc_modules_list, "", ""},
    {"admin.list", rpc_admin_list, "", ""},
    {"audio.list", rpc_audio_list, "", ""},
    {"audio.delete", rpc_audio_delete, "", ""},
    {"audio.assign", rpc_audio_assign, "", ""},
    {"audio.unassign", rpc_audio_unassign, "", ""},
    {"audio.assignments", rpc_audio_assignments, "", ""},
    {"rtc.calls", rpc_rtc_calls, "", ""},
    {NULL, NULL, NULL, NULL},
};

/* ---- one request ---- */

/* Splits "NAME: value" header lines of [p, end) into the connection. */
static void headers(struct mg_connection *c, char *p, char *end)
{
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *colon;

		if (!nl)
			nl = end;
		*nl = '\0';
		if ((colon = strchr(p, ':'))) {
			*colon = '\0';
			const char *v = colon + 1 + (colon[1] == ' ');
			if (!strcasecmp(p, "Content-Type"))
				c->ctype = v;
			else if (!strcasecmp(p, "Host"))
				c->host = v;
			else if (!strcasecmp(p, "Cookie"))
				c->cookie = v;
			else if (!strcasecmp(p, "Transfer-Encoding"))
				c->ri.content_length = -1; /* chunked: read until the end */
		}
		p = nl + 1;
	}
}

/* The answer: one status, a Content-Length that matches, a JSON body, {"error": "..."} on failures. */
static void check_answer(const struct mg_connection *c, int st)
{
	json_t *j;

	if (!c->head_sent || st != c->status || c->content_length != (long long)c->out_len)
		abort();
	if (!(j = json_loadb(c->out, c->out_len, JSON_DECODE_ANY, NULL)))
		abort();
	if (c->status >= 400 && !json_is_string(json_object_get(j, "error")))
		abort();
	json_decref(j);
}

/*
 * Input: "METHOD /api/PATH[?QUERY]\n" then header lines ("Content-Type: application/json", Host, Cookie,
 * Transfer-Encoding), an empty line, the body. The first byte after the method picks the RPC outcome.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct mg_connection c;
	struct wa_request r;
	char *buf, *line_end, *sp, *hdr_end, *query, segbuf[2048];
	int st;

	if (!ready) {
		log_set_level(SIPD_LOG_ERROR); /* no audit lines for every login */
		if (sipd_rpc_register(methods))
			abort();
		ready = true;
	}
	if (size > 65536 || !(buf = malloc(size + 1)))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&c, 0, sizeof(c));
	c.content_length = -1;
	if (!(line_end = memchr(buf, '\n', size)) || !(sp = memchr(buf, ' ', (size_t)(line_end - buf))))
		goto out;
	*line_end = *sp = '\0';
	rpc_outcome = (unsigned char)sp[1];
	query = strchr(sp + 1, '?');
	if (query)
		*query++ = '\0';
	hdr_end = strstr(line_end + 1, "\n\n");
	c.body = hdr_end ? hdr_end + 2 : buf + size;
	c.body_len = (size_t)(buf + size - c.body);
	c.ri.content_length = (long long)c.body_len;
	c.ri.request_method = buf;
	if (hdr_end) {
		*hdr_end = '\0';
		headers(&c, line_end + 1, hdr_end);
	}
	/* As webadmin.c's api(): the path to segments, login and logout, the rest to the routes. */
	memset(&r, 0, sizeof(r));
	r.c = &c;
	r.method = buf;
	r.query = query;
	r.addr = "192.0.2.7";
	r.nseg = wa_path_split(sp + 1, segbuf, sizeof(segbuf), r.seg, 8);
	if (r.nseg < 2 || strcmp(r.seg[0], "api"))
		goto out;
	/* Not JSON bodies: the audio upload (raw bytes to a file), its download, the event stream. */
	if (!strcmp(r.seg[1], "events") ||
	    (!strcmp(r.seg[1], "audio") && ((r.nseg == 2 && !strcmp(r.method, "POST")) || r.nseg == 4)))
		goto out;
	r.logged_in = true;
	strcpy(r.s.admin, "admin@example.test");
	strcpy(r.s.csrf, "csrf-token");
	r.s.expires_in = 3600;
	if (r.nseg == 2 && !strcmp(r.seg[1], "login"))
		st = wa_login(&r);
	else if (r.nseg == 2 && !strcmp(r.seg[1], "logout"))
		st = wa_logout(&r);
	else
		st = wa_api_dispatch(&r);
	check_answer(&c, st);
out:
	/* Each input starts from no sessions and no failed logins. */
	wa_sessions_clear();
	wa_ratelimit_clear();
	free(c.out);
	free(buf);
	return 0;
}
