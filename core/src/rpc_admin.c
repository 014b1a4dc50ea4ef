/* The core's RPC methods for administration: the routing script (get, check, put), modules.list and
 * stats.get. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sipd/log.h>
#include <sipd/rpc.h>

#include "internal.h"

/* The largest script accepted over RPC: as much as the compiler reads from a file. */
#define ROUTING_MAX (4u << 20)

static char *routing_path;
static time_t started;
/* routing.put among itself: one writer of the file and its backup at a time. */
static pthread_mutex_t put_lock = PTHREAD_MUTEX_INITIALIZER;

int rpc_admin_set_routing(const char *path)
{
	char *p = strdup(path);

	if (!p)
		return ENOMEM;
	free(routing_path);
	routing_path = p;
	return 0;
}

/* Reads a whole file of at most ROUTING_MAX bytes; *out is NUL-terminated. */
static int read_file(char **out, size_t *len, const char *path)
{
	struct stat st;
	char *text = NULL;
	int err = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)ROUTING_MAX) {
		err = EINVAL;
		goto out;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		err = ENOMEM;
		goto out;
	}
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : EIO;
			goto out;
		}
		n += (size_t)r;
	}
	text[n] = '\0';
	*out = text;
	*len = n;
	text = NULL;
out:
	free(text);
	close(fd);
	return err;
}

static int rpc_routing_get(json_t *params, json_t **result)
{
	char *text = NULL;
	size_t len;
	int err;

	(void)params;
	if (!routing_path)
		return sipd_rpc_fail(result, ENOENT, "no routing script is loaded");
	if ((err = read_file(&text, &len, routing_path)))
		return sipd_rpc_fail(result, err, "cannot read %s: %s", routing_path, strerror(err));
	*result = json_pack("{s:s, s:s%}", "path", routing_path, "script", text, len);
	free(text);
	if (!*result)
		return sipd_rpc_fail(result, EINVAL, "%s is not UTF-8 text", routing_path);
	return 0;
}

/*
 * The script to check: {"script": TEXT}, {"file": PATH} or [PATH] (sipctl
 * routing check FILE). *text is malloc'ed.
 */
static int script_arg(char **text, size_t *len, json_t *params, json_t **result)
{
	json_t *script = json_is_object(params) ? json_object_get(params, "script") : NULL;
	json_t *file = json_is_object(params) ? json_object_get(params, "file") : json_array_get(params, 0);
	int err;

	if (script && file)
		return sipd_rpc_fail(result, EINVAL, "give either script or file, not both");
	if (script) {
		if (!json_is_string(script))
			return sipd_rpc_fail(result, EINVAL, "'script' must be a string");
		*len = json_string_length(script);
		if (*len > ROUTING_MAX)
			return sipd_rpc_fail(result, EFBIG, "the script is longer than %u bytes",
					     ROUTING_MAX);
		if (!(*text = malloc(*len + 1)))
			return ENOMEM;
		memcpy(*text, json_string_value(script), *len + 1);
		return 0;
	}
	if (!file || !json_is_string(file))
		return sipd_rpc_fail(result, EINVAL,
				     "a script is required: {\"script\": TEXT} or a file path");
	if ((err = read_file(text, len, json_string_value(file))))
		return sipd_rpc_fail(result, err, "cannot read %s: %s", json_string_value(file),
				     strerror(err));
	return 0;
}

/* Compiles text; on error sets *result to {message, errors: [{line, column, message}]} and returns EINVAL. */
static int check(const char *text, size_t len, json_t **result)
{
	char msg[1024];
	int line, col;
	const char *base = routing_path ? strrchr(routing_path, '/') : NULL;
	const char *name = base ? base + 1 : routing_path ? routing_path : "routing.cfg";
	int err = script_check_text(name, text, len, &line, &col, msg, sizeof(msg));

	if (!err)
		return 0;
	if (err == ENOMEM)
		return sipd_rpc_fail(result, ENOMEM, "out of memory while compiling");
	*result = json_pack("{s:s, s:[{s:i, s:i, s:s}]}", "message", "the script does not compile", "errors",
			    "line", line, "column", col, "message", msg);
	return EINVAL;
}

static int rpc_routing_check(json_t *params, json_t **result)
{
	char *text = NULL;
	size_t len;
	int err = script_arg(&text, &len, params, result);

	if (!err && !(err = check(text, len, result)))
		*result = json_pack("{s:b}", "ok", 1);
	free(text);
	return err;
}

/* Writes len bytes to path through a temporary file and a rename, so readers see the old or the new file. */
static int write_atomic(const char *path, const char *text, size_t len, mode_t mode)
{
	char *tmp = NULL;
	int err = 0, fd = -1;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return ENOMEM;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		err = errno;
		goto out;
	}
	for (size_t n = 0; n < len;) {
		ssize_t w = write(fd, text + n, len - n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			err = errno;
			goto out;
		}
		n += (size_t)w;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		err = errno;
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		err = errno;
out:
	if (fd >= 0)
		close(fd);
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

static int rpc_routing_put(json_t *params, json_t **result)
{
	char *text = NULL, *old = NULL, *bak = NULL;
	char msg[2048];
	size_t len, old_len = 0;
	struct stat st;
	mode_t mode = 0644;
	int err;

	if (json_is_array(params))
		return sipd_rpc_fail(result, EINVAL, "routing.put takes {\"script\": TEXT}");
	if ((err = script_arg(&text, &len, params, result)))
		return err;
	pthread_mutex_lock(&put_lock);
	if (!routing_path) {
		err = sipd_rpc_fail(result, ENOENT, "no routing script is loaded");
		goto out;
	}
	if ((err = check(text, len, result)))
		goto out;
	if (stat(routing_path, &st) == 0)
		mode = st.st_mode & 07777;
	if (asprintf(&bak, "%s.bak", routing_path) < 0) {
		err = ENOMEM;
		goto out;
	}
	if ((err = read_file(&old, &old_len, routing_path)) && err != ENOENT) {
		err = sipd_rpc_fail(result, EIO, "cannot read %s: %s", routing_path, strerror(err));
		goto out;
	}
	if (old && (err = write_atomic(bak, old, old_len, mode))) {
		err = sipd_rpc_fail(result, EIO, "cannot write %s: %s", bak, strerror(err));
		goto out;
	}
	if ((err = write_atomic(routing_path, text, len, mode))) {
		err = sipd_rpc_fail(result, EIO, "cannot write %s: %s", routing_path, strerror(err));
		goto out;
	}
	if ((err = script_reload(msg, sizeof(msg)))) {
		/* Checked above, so only something outside the text (a module gone) gets here: put the old
		 * file back. */
		if (old && write_atomic(routing_path, old, old_len, mode))
			SIPD_ERR("routing.put: cannot restore %s from its backup %s", routing_path, bak);
		err = sipd_rpc_fail(result, EIO, "saved but not reloaded, the old script keeps running: %s",
				    msg);
		goto out;
	}
	SIPD_NOTICE("routing.put: %s replaced (%zu bytes, previous one in %s) and reloaded", routing_path,
		    len, bak);
	*result = json_pack("{s:b, s:b, s:s, s:s?}", "ok", 1, "reloaded", 1, "path", routing_path, "backup",
			    old ? bak : NULL);
out:
	pthread_mutex_unlock(&put_lock);
	free(text);
	free(old);
	free(bak);
	return err;
}

static int rpc_modules_list(json_t *params, json_t **result)
{
	(void)params;
	*result = json_array();
	if (!*result)
		return ENOMEM;
	loader_describe(*result);
	return 0;
}

static bool is_error_counter(const char *name)
{
	return strstr(name, "rejected") || strstr(name, "error") || strstr(name, "fail") ||
	       strstr(name, "unparseable");
}

static int64_t counter(json_t *flat, const char *name)
{
	return json_integer_value(json_object_get(flat, name));
}

static int rpc_stats_get(json_t *params, json_t **result)
{
	json_t *flat = json_object(), *modules = json_object(), *v;
	const char *key;
	int64_t errors = 0;

	(void)params;
	if (!flat || !modules) {
		json_decref(flat);
		json_decref(modules);
		return ENOMEM;
	}
	stats_dump(flat);
	json_object_foreach(flat, key, v)
	{
		const char *dot = strchr(key, '.');
		char group[64];
		if (!dot || (size_t)(dot - key) >= sizeof(group))
			continue;
		memcpy(group, key, (size_t)(dot - key));
		group[dot - key] = '\0';
		json_t *g = json_object_get(modules, group);
		if (!g)
			json_object_set_new(modules, group, g = json_object());
		json_object_set(g, dot + 1, v);
		if (is_error_counter(dot + 1))
			errors += json_integer_value(v);
	}
	*result = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "version", SIPD_VERSION, "uptime",
			    (json_int_t)(time(NULL) - started), "registrations",
			    (json_int_t)counter(flat, "registrar.bindings"), "sessions",
			    (json_int_t)counter(flat, "session_timer.active"), "calls",
			    (json_int_t)counter(flat, "session_timer.created"), "errors", (json_int_t)errors,
			    "modules", modules);
	json_decref(flat);
	return *result ? 0 : ENOMEM;
}

static const struct sipd_rpc_method admin_methods[] = {
    {.name = "routing.get", .fn = rpc_routing_get, .usage = "", .help = "Shows the routing script file"},
    {.name = "routing.check",
     .fn = rpc_routing_check,
     .usage = "FILE | script=TEXT",
     .help = "Compiles a routing script without installing it; errors give line and column"},
    {.name = "routing.put",
     .fn = rpc_routing_put,
     .usage = "script=TEXT",
     .help = "Checks a script, saves it (the old file kept as .bak) and reloads it live"},
    {.name = "modules.list",
     .fn = rpc_modules_list,
     .usage = "",
     .help = "Lists the loaded modules with their versions and parameters"},
    {.name = "stats.get",
     .fn = rpc_stats_get,
     .usage = "",
     .help = "Uptime, registrations, sessions, calls, errors and every counter by module"},
    {.name = NULL},
};

int rpc_admin_register(void)
{
	started = time(NULL);
	return sipd_rpc_register(admin_methods);
}
