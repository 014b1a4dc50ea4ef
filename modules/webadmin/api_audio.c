/* The audio endpoints (rtc_player's audio.* and rtc.calls methods) and GET /api/softphone (a SIP user per
 * admin). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include <sipd/module.h>
#include <sipd/rpc.h>
#include <sipd/transport.h>

#include "webadmin.h"

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* Audio names: 1-64 of letters, digits, -_. and not starting with a dot. */
static bool audio_name_valid(const char *n)
{
	size_t len = strlen(n);

	if (len < 1 || len > 64 || n[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = n[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

/* A listing method's result, paged: an array, or the first array inside an object. */
static int page_of(struct wa_request *r, const char *method, json_t *params)
{
	json_t *result = NULL, *items = NULL, *v;
	const char *key;
	int err = sipd_rpc_call(method, params, &result), st;

	json_decref(params);
	if (err) {
		st = wa_send_rpc_error(r->c, err, result);
		json_decref(result);
		return st;
	}
	if (json_is_array(result))
		items = result;
	json_object_foreach(result, key, v) if (!items && json_is_array(v)) items = v;
	st = items ? wa_send_page(r->c, r->query, items) : wa_send_json(r->c, 200, result, NULL);
	json_decref(result);
	return st;
}

/* POST /api/audio?name=NAME: the body goes to a temporary file that audio.add decodes and copies. */
static int upload(struct wa_request *r, const char *name)
{
	const char *dir = wa_upload_dir[0] ? wa_upload_dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[4096], *body = NULL;
	size_t len = 0;
	int fd, err, st;

	if ((err = wa_read_body(r->c, &body, &len, (size_t)wa_max_upload)) == EFBIG)
		return wa_send_error(r->c, 413, NULL, "the file is larger than %d bytes", wa_max_upload);
	if (err)
		return wa_send_error(r->c, 400, NULL, "cannot read the body: %s", strerror(err));
	if (!len) {
		free(body);
		return wa_send_error(r->c, 400, NULL, "the body is empty: send the audio file's bytes");
	}
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/sipd-upload-XXXXXX", dir);
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		free(body);
		return wa_send_error(r->c, 500, NULL, "cannot store the upload in %s: %s", dir,
				     strerror(errno));
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, body + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fd);
	free(body);
	if (off < len) {
		unlink(path);
		return wa_send_error(r->c, 500, NULL, "cannot write the upload to %s", dir);
	}
	st = wa_rpc_answer(r->c, "audio.add", json_pack("{s:s, s:s}", "name", name, "file", path), 201);
	/* audio.add copied what it kept: the upload is not needed either way. */
	unlink(path);
	return st;
}

/* GET /api/audio/NAME/file: the stored file, for the page's <audio>. */
static int audio_file(struct wa_request *r, const char *name)
{
	json_t *result = NULL;
	struct stat st;
	int err = wa_rpc("audio.file", json_pack("{s:s}", "name", name), &result), fd = -1, status;
	const char *path = json_string_value(json_object_get(result, "path"));
	const char *type = json_string_value(json_object_get(result, "content_type"));

	if (err || !path) {
		status = err ? wa_send_rpc_error(r->c, err, result)
			     : wa_send_error(r->c, 500, NULL, "audio.file gave no path");
		json_decref(result);
		return status;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		status = wa_send_error(r->c, 404, NULL, "the file of %s is gone", name);
		goto out;
	}
	wa_send_head(r->c, 200, type ? type : "application/octet-stream", (long long)st.st_size,
		     "Cache-Control: no-store\r\n");
	status = 200;
	char buf[8192]; /* civetweb threads have small stacks */
	for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
		if (mg_write(r->c, buf, (size_t)n) != (int)n)
			break;
out:
	if (fd >= 0)
		close(fd);
	json_decref(result);
	return status;
}

static int assign(struct wa_request *r, const char *user)
{
	json_t *body = NULL;
	int st;

	if (is(r->method, "DELETE"))
		return wa_rpc_answer(r->c, "audio.unassign", json_pack("{s:s}", "user", user), 200);
	if (!is(r->method, "PUT"))
		return wa_method_not_allowed(r->c, "PUT, DELETE");
	if ((st = wa_json_body(r->c, &body)))
		return st;
	json_t *audio = json_object_get(body, "audio"), *mode = json_object_get(body, "mode");
	if (!json_is_string(audio) || !audio_name_valid(json_string_value(audio)))
		st = wa_send_error(r->c, 400, json_pack("{s:s}", "field", "audio"),
				   "audio must name an audio file");
	else if (mode && (!json_is_string(mode) ||
			  (!is(json_string_value(mode), "loop") && !is(json_string_value(mode), "once"))))
		st = wa_send_error(r->c, 400, json_pack("{s:s}", "field", "mode"),
				   "mode must be \"loop\" or \"once\"");
	else
		st = wa_rpc_answer(r->c, "audio.assign",
				   json_pack("{s:s, s:O, s:s}", "user", user, "name", audio, "mode",
					     mode ? json_string_value(mode) : "loop"),
				   200);
	json_decref(body);
	return st;
}

int wa_api_audio(struct wa_request *r)
{
	const char *top = r->seg[1];

	if (!sipd_module_loaded("rtc_player"))
		return wa_send_error(r->c, 404, NULL, "rtc_player is not loaded");
	if (is(top, "users"))
		return assign(r, r->seg[2]);
	if (is(top, "assignments") && r->nseg == 2)
		return is(r->method, "GET") ? page_of(r, "audio.assignments", NULL)
					    : wa_method_not_allowed(r->c, "GET");
	if (is(top, "rtc") && r->nseg == 3 && is(r->seg[2], "calls"))
		return is(r->method, "GET") ? page_of(r, "rtc.calls", NULL)
					    : wa_method_not_allowed(r->c, "GET");
	if (!is(top, "audio"))
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (r->nseg == 2) {
		char name[256];
		if (is(r->method, "GET"))
			return page_of(r, "audio.list", NULL);
		if (!is(r->method, "POST"))
			return wa_method_not_allowed(r->c, "GET, POST");
		if (wa_query_get(r->query, "name", name, sizeof(name)) != 1 || !audio_name_valid(name))
			return wa_send_error(
			    r->c, 400, json_pack("{s:s}", "field", "name"),
			    "?name= must be 1-64 letters, digits, -_. (not starting with a dot)");
		return upload(r, name);
	}
	if (!audio_name_valid(r->seg[2]))
		return wa_send_error(r->c, 404, NULL, "no audio file %s", r->seg[2]);
	if (r->nseg == 3)
		return is(r->method, "DELETE")
			   ? wa_rpc_answer(r->c, "audio.delete", json_pack("{s:s}", "name", r->seg[2]), 200)
			   : wa_method_not_allowed(r->c, "DELETE");
	if (r->nseg == 4 && is(r->seg[3], "file"))
		return is(r->method, "GET") ? audio_file(r, r->seg[2]) : wa_method_not_allowed(r->c, "GET");
	return wa_send_error(r->c, 404, NULL, "no such path");
}

/* The host the browser used (Host header without the port), for wildcard listen addresses. */
static void request_host(struct mg_connection *c, char *out, size_t size)
{
	const char *h = mg_get_header(c, "Host");
	size_t n;

	if (!h || !*h) {
		snprintf(out, size, "127.0.0.1");
		return;
	}
	if (h[0] == '[') {
		n = strcspn(h, "]");
		snprintf(out, size, "%.*s", (int)n, h + 1);
	} else {
		n = strcspn(h, ":");
		snprintf(out, size, "%.*s", (int)n, h);
	}
	/* Only a plain host name or address goes into a URL. */
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == ':'))
			*p = '\0';
	if (!out[0])
		snprintf(out, size, "127.0.0.1");
}

/* ws_url and the host of the SIP URI, from the first ws/wss entry of core.listen; false when there is none.
 */
static bool ws_endpoint(struct mg_connection *c, char *url, size_t url_size, char *host, size_t host_size)
{
	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		const struct sipd_listen *l = sipd_listen_get(i);
		if (l->proto != SIPD_PROTO_WS && l->proto != SIPD_PROTO_WSS)
			continue;
		if (!strcmp(l->host, "0.0.0.0") || !strcmp(l->host, "::"))
			request_host(c, host, host_size);
		else
			snprintf(host, host_size, "%s", l->host);
		bool v6 = strchr(host, ':') != NULL;
		snprintf(url, url_size, "%s://%s%s%s:%u", l->proto == SIPD_PROTO_WSS ? "wss" : "ws",
			 v6 ? "[" : "", host, v6 ? "]" : "", l->port);
		return true;
	}
	return false;
}

int wa_api_softphone(struct wa_request *r)
{
	char user[80], password[25], url[160], host[96];
	json_t *result = NULL, *answer;
	int err, st;

	if (!sipd_module_loaded("auth_db"))
		return wa_send_error(r->c, 404, NULL, "auth_db is not loaded: there are no SIP users");
	snprintf(user, sizeof(user), "webadmin-%s", r->s.admin);
	for (char *p = user; *p; p++)
		if (*p == '@')
			*p = '.';
	if (wa_password_random(password, sizeof(password) - 1))
		return wa_send_error(r->c, 500, NULL, "no random bytes for a password");
	/* A fresh password each time: the page holds it only while it is open. */
	err =
	    wa_rpc("users.passwd", json_pack("{s:s, s:s}", "username", user, "password", password), &result);
	if (err == ENOENT) {
		json_decref(result);
		result = NULL;
		err = wa_rpc("users.add", json_pack("{s:s, s:s}", "username", user, "password", password),
			     &result);
	}
	if (!err) {
		json_decref(result);
		result = NULL;
		err = wa_rpc("users.enable", json_pack("{s:s}", "username", user), &result);
	}
	if (err) {
		st = wa_send_rpc_error(r->c, err, result);
		json_decref(result);
		return st;
	}
	const char *realm = json_string_value(json_object_get(result, "realm"));
	bool has_ws = ws_endpoint(r->c, url, sizeof(url), host, sizeof(host));
	if (!has_ws)
		request_host(r->c, host, sizeof(host));
	bool v6 = strchr(host, ':') != NULL;
	answer = json_pack("{s:s?, s:o, s:s, s:s, s:s?}", "ws_url", has_ws ? url : NULL, "uri",
			   json_sprintf("sip:%s@%s%s%s", user, v6 ? "[" : "", host, v6 ? "]" : ""),
			   "username", user, "password", password, "realm", realm);
	if (!has_ws)
		json_object_set_new(
		    answer, "message",
		    json_string("no ws or wss entry in core.listen: add \"ws:0.0.0.0:8088\""));
	st = wa_send_json(r->c, 200, answer, NULL);
	json_decref(answer);
	json_decref(result);
	return st;
}
