/* Control socket: newline-delimited JSON requests on a Unix socket, served by one thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sipd/log.h>
#include <sipd/rpc.h>

#include "internal.h"

#define MAX_CLIENTS 32
#define MAX_REQUEST (1u << 20)
#define READ_CHUNK  65536
/* Stop reading a client's requests while this much of its output is unsent. */
#define OUT_HIGH (1u << 20)

struct client {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off, out_cap;
	bool closing; /* close once out is flushed */
};

static struct {
	bool running;
	pthread_t thread;
	int listen_fd;
	int stop_fd;
	char *path;
	struct client clients[MAX_CLIENTS];
	unsigned nclients;
} ctl = {.listen_fd = -1, .stop_fd = -1};

static int append_out(struct client *c, const char *p, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *grown = realloc(c->out, cap);
		if (!grown)
			return ENOMEM;
		c->out = grown;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

static json_t *error_object(int err, json_t *detail)
{
	const char *name = strerrorname_np(err);
	json_t *m = json_is_object(detail) ? json_object_get(detail, "message") : detail;
	const char *msg = json_is_string(m) ? json_string_value(m) : strerror(err);
	json_t *e =
	    json_pack("{s:i, s:s, s:s}", "code", err, "name", name ? name : "EUNKNOWN", "message", msg);

	if (e && detail && !json_is_string(detail) && !json_is_null(detail))
		json_object_set(e, "data", detail);
	return e;
}

/* Queues one response line; id may be NULL (the request had none or was unreadable). */
static void respond(struct client *c, json_t *id, int err, json_t *result)
{
	json_t *resp = json_object();
	char *text = NULL;

	json_object_set_new(resp, "id", id ? json_incref(id) : json_null());
	if (err)
		json_object_set_new(resp, "error", error_object(err, result));
	else
		json_object_set(resp, "result", result);
	text = json_dumps(resp, JSON_COMPACT);
	if (!text) {
		/* e.g. a handler returned a NaN real: still answer, with an error. */
		json_object_del(resp, "result");
		json_object_set_new(resp, "error", error_object(EINVAL, NULL));
		text = json_dumps(resp, JSON_COMPACT);
	}
	if (!text || append_out(c, text, strlen(text)) || append_out(c, "\n", 1)) {
		SIPD_ERR("control: out of memory answering a request");
		c->closing = true;
	}
	free(text);
	json_decref(resp);
}

static void fail(struct client *c, json_t *id, int err, const char *fmt, ...) SIPD_PRINTF(4, 5);

static void fail(struct client *c, json_t *id, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *detail = json_string(msg);
	respond(c, id, err, detail);
	json_decref(detail);
}

static void handle_request(struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *result = NULL;
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
		i++;
	if (i == len)
		return;
	json_t *req = json_loadb(line, len, 0, &jerr);
	if (!req) {
		fail(c, NULL, EBADMSG, "malformed JSON at column %d: %s", jerr.column, jerr.text);
		return;
	}
	json_t *id = json_object_get(req, "id");
	json_t *method = json_object_get(req, "method");
	json_t *params = json_object_get(req, "params");
	if (!json_is_object(req)) {
		fail(c, NULL, EINVAL,
		     "a request is a JSON object {\"id\":..., \"method\":..., \"params\":[...]}");
	} else if (!json_is_string(method)) {
		fail(c, id, EINVAL, "the request has no \"method\" string");
	} else if (params && !json_is_array(params) && !json_is_object(params)) {
		fail(c, id, EINVAL, "\"params\" must be an array or an object");
	} else {
		int err = sipd_rpc_call(json_string_value(method), params, &result);
		respond(c, id, err, result);
		json_decref(result);
	}
	json_decref(req);
}

/* Answers buffered requests while the client keeps reading its answers. */
static void client_progress(struct client *c)
{
	size_t start = 0;

	while (!c->closing && c->out_len - c->out_off < OUT_HIGH) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		if (!nl)
			break;
		handle_request(c, c->in + start, (size_t)(nl - (c->in + start)));
		start = (size_t)(nl - c->in) + 1;
	}
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (!c->closing && c->in_len > MAX_REQUEST && !memchr(c->in, '\n', c->in_len)) {
		fail(c, NULL, EMSGSIZE, "request longer than %u bytes", MAX_REQUEST);
		c->in_len = 0;
		c->closing = true;
	}
}

static void client_close(unsigned i)
{
	struct client *c = &ctl.clients[i];

	close(c->fd);
	free(c->in);
	free(c->out);
	ctl.clients[i] = ctl.clients[--ctl.nclients];
}

/* Returns false if the client is gone. */
static bool client_read(struct client *c)
{
	if (c->in_cap - c->in_len < READ_CHUNK) {
		size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK * 2;
		char *grown = realloc(c->in, cap);
		if (!grown)
			return false;
		c->in = grown;
		c->in_cap = cap;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, READ_CHUNK, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0) {
		/* The peer finished sending: a last request without '\n' still counts. */
		client_progress(c);
		if (!c->closing && c->in_len > 0)
			handle_request(c, c->in, c->in_len);
		c->in_len = 0;
		c->closing = true;
		return true;
	}
	c->in_len += (size_t)n;
	client_progress(c);
	return true;
}

static bool client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += (size_t)n;
	}
	client_progress(c);
	return true;
}

static void accept_clients(void)
{
	for (;;) {
		int fd = accept4(ctl.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				SIPD_WARN("control: accept: %s", strerror(errno));
			return;
		}
		if (ctl.nclients == MAX_CLIENTS) {
			static const char busy[] = "{\"id\":null,\"error\":{\"code\":16,\"name\":\"EBUSY\","
						   "\"message\":\"too many control connections\"}}\n";
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL) < 0)
				SIPD_DBG("control: could not tell a client it was refused: %s",
					 strerror(errno));
			close(fd);
			continue;
		}
		ctl.clients[ctl.nclients++] = (struct client){.fd = fd};
	}
}

static void *control_main(void *arg)
{
	struct pollfd pfd[MAX_CLIENTS + 2];

	for (;;) {
		pfd[0] = (struct pollfd){.fd = ctl.stop_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = ctl.listen_fd, .events = POLLIN};
		unsigned n = ctl.nclients;
		for (unsigned i = 0; i < n; i++) {
			struct client *c = &ctl.clients[i];
			short ev = 0;
			if (c->out_off < c->out_len)
				ev |= POLLOUT;
			if (!c->closing && c->out_len - c->out_off < OUT_HIGH)
				ev |= POLLIN;
			pfd[i + 2] = (struct pollfd){.fd = c->fd, .events = ev};
		}
		if (poll(pfd, n + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			SIPD_ERR("control: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			break;
		/* Backwards, because closing moves the last client into the freed place. */
		for (unsigned i = n; i-- > 0;) {
			struct client *c = &ctl.clients[i];
			short re = pfd[i + 2].revents;
			bool alive = true;
			if (re & (POLLERR | POLLNVAL))
				alive = false;
			if (alive && (re & (POLLIN | POLLHUP)) && !c->closing)
				alive = client_read(c);
			if (alive && (re & POLLOUT))
				alive = client_write(c);
			if (!alive || (c->closing && c->out_off == c->out_len) ||
			    (re & POLLHUP && c->closing))
				client_close(i);
		}
		if (pfd[1].revents & POLLIN)
			accept_clients();
	}
	return NULL;
}

/* mkdir -p for the socket's directory. */
static int make_parents(const char *path)
{
	char *dir = strdup(path);
	int err = 0;

	if (!dir)
		return ENOMEM;
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			err = errno;
			goto out;
		}
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		err = errno;
out:
	free(dir);
	return err;
}

/* Removes a socket left by a dead daemon; refuses to steal a live one. */
static int clear_stale(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", sa->sun_path);
		return EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
		close(fd);
		if (live) {
			snprintf(err, errlen, "%s is in use: is another sipd running?", sa->sun_path);
			return EADDRINUSE;
		}
	}
	if (unlink(sa->sun_path) < 0 && errno != ENOENT) {
		int e = errno;
		snprintf(err, errlen, "cannot remove stale %s: %s", sa->sun_path, strerror(e));
		return e;
	}
	return 0;
}

int control_start(const char *socket_path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int e = 0;

	if (ctl.running) {
		snprintf(err, errlen, "the control socket is already open");
		return EBUSY;
	}
	if (!socket_path || !*socket_path) {
		snprintf(err, errlen, "no control socket path");
		return EINVAL;
	}
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path longer than %zu bytes: %s",
			 sizeof(sa.sun_path) - 1, socket_path);
		return ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);
	e = make_parents(socket_path);
	if (e) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", socket_path, strerror(e));
		goto out;
	}
	e = clear_stale(&sa, err, errlen);
	if (e)
		goto out;
	ctl.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl.listen_fd < 0 || bind(ctl.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot bind %s: %s", socket_path, strerror(e));
		goto out;
	}
	/* Whoever can connect can reload or stop things: owner only. */
	if (chmod(socket_path, 0600) < 0 || listen(ctl.listen_fd, 16) < 0) {
		e = errno;
		snprintf(err, errlen, "cannot listen on %s: %s", socket_path, strerror(e));
		unlink(socket_path);
		goto out;
	}
	ctl.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ctl.path = strdup(socket_path);
	if (ctl.stop_fd < 0 || !ctl.path) {
		e = ctl.stop_fd < 0 ? errno : ENOMEM;
		snprintf(err, errlen, "control socket: %s", strerror(e));
		unlink(socket_path);
		goto out;
	}
	e = pthread_create(&ctl.thread, NULL, control_main, NULL);
	if (e) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(e));
		unlink(socket_path);
		goto out;
	}
	pthread_setname_np(ctl.thread, "sipd-ctl");
	ctl.running = true;
	SIPD_INFO("control socket %s", socket_path);
out:
	if (e) {
		if (ctl.listen_fd >= 0)
			close(ctl.listen_fd);
		if (ctl.stop_fd >= 0)
			close(ctl.stop_fd);
		free(ctl.path);
		ctl.listen_fd = ctl.stop_fd = -1;
		ctl.path = NULL;
	}
	return e;
}

void control_stop(void)
{
	uint64_t one = 1;

	if (!ctl.running)
		return;
	if (write(ctl.stop_fd, &one, sizeof(one)) < 0)
		SIPD_ERR("control: cannot wake the control thread: %s", strerror(errno));
	pthread_join(ctl.thread, NULL);
	while (ctl.nclients)
		client_close(ctl.nclients - 1);
	close(ctl.listen_fd);
	close(ctl.stop_fd);
	unlink(ctl.path);
	free(ctl.path);
	ctl.listen_fd = ctl.stop_fd = -1;
	ctl.path = NULL;
	ctl.running = false;
}
