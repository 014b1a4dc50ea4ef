/* sipctl: command-line client of the sipd control socket (JSON lines over a Unix socket). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#ifndef SIPD_DEFAULT_SOCKET
#define SIPD_DEFAULT_SOCKET "/run/sipd/sipd.ctl"
#endif

/* Exit codes: the command failed (or was misused); the daemon could not be reached. */
#define EXIT_FAILED      1
#define EXIT_UNREACHABLE 2

#define MAX_RESPONSE (256u << 20)

struct conn {
	int fd;
	const char *path;
	int timeout_ms;
	json_int_t next_id;
	char *buf;
	size_t len, cap;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sipctl [-S SOCKET] [-j] [-t SECONDS] COMMAND [ARG...]\n"
		   "\n"
		   "Runs a control command of a running sipd. Command words map to a method\n"
		   "name joined with '.' (`sipctl users add alice secret` calls users.add);\n"
		   "arguments of the form key=value are sent as named parameters.\n"
		   "\n"
		   "  -S SOCKET   control socket (default: $SIPD_CONTROL or " SIPD_DEFAULT_SOCKET ")\n"
		   "  -j          print the raw JSON result\n"
		   "  -t SECONDS  how long to wait for an answer (default 30)\n"
		   "\n"
		   "`sipctl help` lists the commands. Exit status: 0 success, 1 the command\n"
		   "failed, 2 the daemon could not be reached.\n");
}

static int conn_open(struct conn *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(c->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sipctl: cannot connect to %s: path too long\n", c->path);
		return EXIT_UNREACHABLE;
	}
	strcpy(sa.sun_path, c->path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "sipctl: cannot connect to %s: %s\n", c->path, strerror(errno));
		return EXIT_UNREACHABLE;
	}
	return 0;
}

static int send_all(struct conn *c, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sipctl: sending to %s: %s\n", c->path, strerror(errno));
			return EXIT_UNREACHABLE;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one response line into *line (NUL-terminated inside c->buf). */
static int read_line(struct conn *c, char **line, size_t *linelen)
{
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = c->buf;
			*linelen = (size_t)(nl - c->buf);
			return 0;
		}
		if (c->len + 65536 > c->cap) {
			if (c->cap >= MAX_RESPONSE) {
				fprintf(stderr, "sipctl: answer from %s is too large\n", c->path);
				return EXIT_UNREACHABLE;
			}
			size_t cap = c->cap ? c->cap * 2 : 131072;
			char *grown = realloc(c->buf, cap);
			if (!grown) {
				fprintf(stderr, "sipctl: out of memory\n");
				return EXIT_FAILED;
			}
			c->buf = grown;
			c->cap = cap;
		}
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int r = poll(&p, 1, c->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "sipctl: no answer from %s within %d s\n", c->path,
				c->timeout_ms / 1000);
			return EXIT_UNREACHABLE;
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "sipctl: %s closed the connection\n", c->path);
			return EXIT_UNREACHABLE;
		}
		c->len += (size_t)n;
	}
}

/* One round trip; *resp is the whole response object. */
static int call(struct conn *c, const char *method, json_t *params, json_t **resp)
{
	json_error_t jerr;
	char *line;
	size_t linelen;
	json_int_t id = ++c->next_id;
	json_t *req = json_pack("{s:I, s:s, s:O}", "id", id, "method", method, "params", params);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc = 0;

	json_decref(req);
	if (!text) {
		fprintf(stderr, "sipctl: out of memory\n");
		return EXIT_FAILED;
	}
	rc = send_all(c, text, strlen(text));
	if (!rc)
		rc = send_all(c, "\n", 1);
	free(text);
	if (rc)
		return rc;
	rc = read_line(c, &line, &linelen);
	if (rc)
		return rc;
	*resp = json_loadb(line, linelen, 0, &jerr);
	/* Keep whatever followed the line for the next call. */
	size_t used = linelen + 1;
	memmove(c->buf, c->buf + used, c->len - used);
	c->len -= used;
	if (!*resp || !json_is_object(*resp) || json_integer_value(json_object_get(*resp, "id")) != id) {
		fprintf(stderr, "sipctl: unreadable answer from %s%s%s\n", c->path, *resp ? "" : ": ",
			*resp ? "" : jerr.text);
		json_decref(*resp);
		*resp = NULL;
		return EXIT_UNREACHABLE;
	}
	return 0;
}

static bool is_scalar(json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

static bool all_scalars(json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		if (!is_scalar(v))
			return false;
	}
	return true;
}

/* A cell or an inline value: strings bare, scalar arrays joined, the rest as compact JSON. */
static char *text_of(json_t *v)
{
	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_null(v))
		return strdup("");
	if (json_is_array(v) && all_scalars(v)) {
		size_t cap = 1, i;
		json_t *e;
		char *out = NULL;
		json_array_foreach(v, i, e)
		{
			char *t = text_of(e);
			size_t tl = t ? strlen(t) : 0;
			char *grown = realloc(out, cap + tl + 2);
			if (!grown) {
				free(t);
				break;
			}
			if (!out)
				grown[0] = '\0';
			out = grown;
			if (i)
				strcat(out, ", ");
			strcat(out, t ? t : "");
			cap += tl + 2;
			free(t);
		}
		return out ? out : strdup("");
	}
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void print_value(json_t *v, int indent);

static void print_table(json_t *rows)
{
	json_t *cols = json_array();
	size_t i, j, ncols;
	json_t *row, *col;
	const char *key;
	json_t *cell;

	json_array_foreach(rows, i, row)
	{
		json_object_foreach(row, key, cell)
		{
			bool seen = false;
			json_array_foreach(cols, j, col)
			{
				seen = seen || strcmp(json_string_value(col), key) == 0;
			}
			if (!seen)
				json_array_append_new(cols, json_string(key));
		}
	}
	ncols = json_array_size(cols);
	size_t *width = calloc(ncols ? ncols : 1, sizeof(*width));
	if (!width) {
		json_decref(cols);
		return;
	}
	json_array_foreach(cols, j, col)
	{
		width[j] = strlen(json_string_value(col));
	}
	json_array_foreach(rows, i, row)
	{
		json_array_foreach(cols, j, col)
		{
			char *t = text_of(json_object_get(row, json_string_value(col)));
			if (t && strlen(t) > width[j])
				width[j] = strlen(t);
			free(t);
		}
	}
	json_array_foreach(cols, j, col)
	{
		const char *name = json_string_value(col);
		for (const char *p = name; *p; p++)
			putchar(toupper((unsigned char)*p));
		if (j + 1 < ncols)
			printf("%*s", (int)(width[j] - strlen(name) + 2), "");
	}
	putchar('\n');
	json_array_foreach(rows, i, row)
	{
		json_array_foreach(cols, j, col)
		{
			char *t = text_of(json_object_get(row, json_string_value(col)));
			if (j + 1 < ncols)
				printf("%-*s  ", (int)width[j], t ? t : "");
			else
				printf("%s", t ? t : "");
			free(t);
		}
		putchar('\n');
	}
	free(width);
	json_decref(cols);
}

static void print_value(json_t *v, int indent)
{
	size_t i;
	json_t *e;
	const char *key;

	if (json_is_object(v)) {
		json_object_foreach(v, key, e)
		{
			if (is_scalar(e) || (json_is_array(e) && all_scalars(e))) {
				char *t = text_of(e);
				printf("%*s%s: %s\n", indent, "", key, t ? t : "");
				free(t);
			} else {
				printf("%*s%s:\n", indent, "", key);
				print_value(e, indent + 2);
			}
		}
		return;
	}
	if (json_is_array(v)) {
		bool objects = json_array_size(v) > 0;
		json_array_foreach(v, i, e)
		{
			objects = objects && json_is_object(e);
		}
		if (json_array_size(v) == 0) {
			printf("%*s(none)\n", indent, "");
			return;
		}
		if (objects && indent == 0) {
			print_table(v);
			return;
		}
		json_array_foreach(v, i, e)
		{
			if (is_scalar(e)) {
				char *t = text_of(e);
				printf("%*s%s\n", indent, "", t ? t : "");
				free(t);
			} else {
				print_value(e, indent + 2);
			}
		}
		return;
	}
	if (json_is_null(v))
		return;
	char *t = text_of(v);
	printf("%*s%s\n", indent, "", t ? t : "");
	free(t);
}

/* `sipctl help` reads better as commands than as a table of method names. */
static void print_help(json_t *result)
{
	size_t i, width = 0;
	json_t *m;
	json_t *list = json_is_array(result) ? json_incref(result) : json_pack("[O]", result);

	json_array_foreach(list, i, m)
	{
		size_t w = strlen(json_string_value(json_object_get(m, "name")) ?: "") +
			   strlen(json_string_value(json_object_get(m, "usage")) ?: "") + 1;
		if (w > width)
			width = w;
	}
	json_array_foreach(list, i, m)
	{
		char cmd[512];
		const char *name = json_string_value(json_object_get(m, "name")) ?: "";
		const char *use = json_string_value(json_object_get(m, "usage")) ?: "";
		snprintf(cmd, sizeof(cmd), "%s%s%s", name, *use ? " " : "", use);
		for (char *p = cmd; *p && p < cmd + strlen(name); p++)
			if (*p == '.')
				*p = ' ';
		printf("  %-*s  %s\n", (int)width, cmd, json_string_value(json_object_get(m, "help")) ?: "");
	}
	json_decref(list);
}

static bool is_named_arg(const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !(isalpha((unsigned char)arg[0]) || arg[0] == '_'))
		return false;
	for (const char *p = arg; p < eq; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	}
	return true;
}

/* Every argument key=value: an object; otherwise positional strings. */
static json_t *build_params(char **args, int n)
{
	bool named = n > 0;

	for (int i = 0; i < n; i++)
		named = named && is_named_arg(args[i]);
	json_t *params = named ? json_object() : json_array();
	for (int i = 0; i < n; i++) {
		if (named) {
			char *eq = strchr(args[i], '=');
			*eq = '\0';
			json_object_set_new(params, args[i], json_string(eq + 1));
			*eq = '=';
		} else {
			json_array_append_new(params, json_string(args[i]));
		}
	}
	return params;
}

/* Longest prefix of the words that names a method; returns how many words it used. */
static int match_method(json_t *methods, char **words, int n, char *name, size_t namelen)
{
	for (int k = n; k > 0; k--) {
		size_t len = 0;
		name[0] = '\0';
		for (int i = 0; i < k && len < namelen; i++)
			len += (size_t)snprintf(name + len, namelen - len, "%s%s", i ? "." : "", words[i]);
		if (len >= namelen)
			continue;
		size_t i;
		json_t *m;
		json_array_foreach(methods, i, m)
		{
			if (strcmp(json_string_value(json_object_get(m, "name")) ?: "", name) == 0)
				return k;
		}
	}
	return 0;
}

static int report_error(json_t *resp, bool raw)
{
	json_t *e = json_object_get(resp, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (raw) {
		char *t = json_dumps(e, JSON_INDENT(2));
		printf("%s\n", t ? t : "");
		free(t);
	} else {
		fprintf(stderr, "sipctl: %s\n", msg ? msg : "the command failed");
	}
	return EXIT_FAILED;
}

int main(int argc, char **argv)
{
	struct conn c = {.fd = -1, .timeout_ms = 30000};
	bool raw = false;
	int opt, rc = 0;
	json_t *resp = NULL, *params = NULL;
	char name[1024];

	c.path = getenv("SIPD_CONTROL");
	if (!c.path || !*c.path)
		c.path = SIPD_DEFAULT_SOCKET;
	/* '+': stop at the first command word so arguments like "-5" pass through. */
	while ((opt = getopt(argc, argv, "+S:jt:hV")) != -1) {
		switch (opt) {
		case 'S':
			c.path = optarg;
			break;
		case 'j':
			raw = true;
			break;
		case 't': {
			char *end;
			long s = strtol(optarg, &end, 10);
			if (*end || s <= 0 || s > 86400) {
				fprintf(stderr, "sipctl: -t wants a number of seconds (1-86400), not '%s'\n",
					optarg);
				return EXIT_FAILED;
			}
			c.timeout_ms = (int)s * 1000;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sipctl %s\n", SIPD_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_FAILED;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_FAILED;
	}
	rc = conn_open(&c);
	if (rc)
		goto out;
	params = json_array();
	rc = call(&c, "help", params, &resp);
	json_decref(params);
	params = NULL;
	if (rc)
		goto out;
	if (json_object_get(resp, "error")) {
		rc = report_error(resp, raw);
		goto out;
	}
	char **words = argv + optind;
	int nwords = argc - optind;
	int used = match_method(json_object_get(resp, "result"), words, nwords, name, sizeof(name));
	json_decref(resp);
	resp = NULL;
	if (!used) {
		fprintf(stderr, "sipctl: unknown command '%s' (sipctl help lists the commands)\n", words[0]);
		rc = EXIT_FAILED;
		goto out;
	}
	params = build_params(words + used, nwords - used);
	rc = call(&c, name, params, &resp);
	if (rc)
		goto out;
	if (json_object_get(resp, "error")) {
		rc = report_error(resp, raw);
		goto out;
	}
	json_t *result = json_object_get(resp, "result");
	if (raw) {
		char *t = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY);
		printf("%s\n", t ? t : "null");
		free(t);
	} else if (strcmp(name, "help") == 0 && (json_is_array(result) || json_is_object(result))) {
		print_help(result);
	} else {
		print_value(result, 0);
	}
out:
	json_decref(resp);
	json_decref(params);
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	return rc;
}
