/* GET /metrics: every counter in the Prometheus text format, open to the metrics_allow addresses. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include <sipd/log.h>
#include <sipd/rpc.h>

#include "webadmin.h"

#define MAX_ALLOW 32

struct prefix {
	unsigned char addr[16]; /* IPv4 as v4-mapped IPv6 */
	int bits;               /* of the 128 */
};

static struct prefix allow[MAX_ALLOW];
static unsigned nallow;

/* "1.2.3.4", "::1", "10.0.0.0/8", "fd00::/8" -> a 128-bit prefix. */
static int parse(struct prefix *p, const char *text)
{
	char buf[64], *slash;
	unsigned char a4[4];
	long bits = -1;

	if (snprintf(buf, sizeof(buf), "%s", text) >= (int)sizeof(buf))
		return EINVAL;
	if ((slash = strchr(buf, '/'))) {
		char *end;
		*slash = '\0';
		bits = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1)
			return EINVAL;
	}
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, a4) == 1) {
		if (bits > 32)
			return EINVAL;
		p->addr[10] = p->addr[11] = 0xff;
		memcpy(p->addr + 12, a4, 4);
		p->bits = 96 + (int)(bits < 0 ? 32 : bits);
		return 0;
	}
	if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		if (bits > 128)
			return EINVAL;
		p->bits = (int)(bits < 0 ? 128 : bits);
		return 0;
	}
	return EINVAL;
}

static bool matches(const struct prefix *p, const unsigned char *a)
{
	int full = p->bits / 8, rest = p->bits % 8;

	if (memcmp(p->addr, a, (size_t)full) != 0)
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (p->addr[full] & mask) == (a[full] & mask);
}

int wa_metrics_init(const char *const *list)
{
	nallow = 0;
	for (; list && *list; list++) {
		if (nallow == MAX_ALLOW || parse(&allow[nallow], *list)) {
			SIPD_ERR(
			    "metrics_allow: \"%s\" is not an address or prefix (or more than %d entries)",
			    *list, MAX_ALLOW);
			return EINVAL;
		}
		nallow++;
	}
	return 0;
}

bool wa_metrics_allowed(const char *addr)
{
	struct prefix a;

	if (!addr || parse(&a, addr) || a.bits != 128)
		return false;
	for (unsigned i = 0; i < nallow; i++)
		if (matches(&allow[i], a.addr))
			return true;
	return false;
}

static bool is_gauge(const char *name)
{
	static const char *const gauges[] = {".current", ".active",      ".bindings",
					     ".open",    ".connections", "_bytes"};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		size_t g = strlen(gauges[i]);
		if (n >= g && strcmp(name + n - g, gauges[i]) == 0)
			return true;
	}
	return false;
}

/* "tm.current" -> "sipd_tm_current". */
static void metric_name(char *out, size_t size, const char *name)
{
	size_t o = (size_t)snprintf(out, size, "sipd_");

	for (const char *p = name; *p && o + 1 < size; p++) {
		char ch = *p;
		out[o++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
			       ? ch
			       : '_';
	}
	out[o] = '\0';
}

/* HELP text: a backslash and a newline are escaped. */
static void append_help(FILE *f, const char *help)
{
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

static void gauge(FILE *f, const char *name, const char *help, json_int_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name, (long long)v);
}

int wa_metrics_serve(struct wa_request *r)
{
	json_t *list = NULL, *stats = NULL, *v;
	char *text = NULL, name[160];
	size_t len = 0, i;
	FILE *f;
	int err;

	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
		return wa_method_not_allowed(r->c, "GET");
	if (!r->logged_in && !wa_metrics_allowed(r->addr))
		return wa_send_error(r->c, 401, NULL,
				     "log in, or read /metrics from an address in metrics_allow");
	if ((err = sipd_rpc_call("stats.list", NULL, &list)) ||
	    (err = sipd_rpc_call("stats.get", NULL, &stats))) {
		int st = wa_send_rpc_error(r->c, err, stats ? stats : list);
		json_decref(list);
		json_decref(stats);
		return st;
	}
	if (!(f = open_memstream(&text, &len))) {
		json_decref(list);
		json_decref(stats);
		return wa_send_error(r->c, 500, NULL, "out of memory");
	}
	json_array_foreach(list, i, v)
	{
		const char *n = json_string_value(json_object_get(v, "name"));
		if (!n)
			continue;
		metric_name(name, sizeof(name), n);
		fprintf(f, "# HELP %s ", name);
		append_help(f, json_string_value(json_object_get(v, "help")) ?: n);
		fprintf(f, "\n# TYPE %s %s\n%s %lld\n", name, is_gauge(n) ? "gauge" : "counter", name,
			(long long)json_integer_value(json_object_get(v, "value")));
	}
	gauge(f, "sipd_uptime_seconds", "seconds since sipd started",
	      json_integer_value(json_object_get(stats, "uptime")));
	gauge(f, "sipd_registrations", "bindings in the registrar",
	      json_integer_value(json_object_get(stats, "registrations")));
	gauge(f, "sipd_sessions", "sessions tracked by session_timer",
	      json_integer_value(json_object_get(stats, "sessions")));
	fprintf(f,
		"# HELP sipd_webadmin_event_drops_total events not delivered to a slow /api/events client\n"
		"# TYPE sipd_webadmin_event_drops_total counter\nsipd_webadmin_event_drops_total %llu\n",
		(unsigned long long)__atomic_load_n(&wa_event_drops, __ATOMIC_RELAXED));
	fclose(f);
	json_decref(list);
	json_decref(stats);
	wa_send_head(r->c, 200, "text/plain; version=0.0.4; charset=utf-8", (long long)len,
		     "Cache-Control: no-store\r\n");
	if (strcmp(r->method, "HEAD"))
		mg_write(r->c, text, len);
	free(text);
	return 200;
}
