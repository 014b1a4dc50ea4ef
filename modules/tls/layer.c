/* The TLS layer of a stream connection: non-blocking handshake, SNI and name checks, record I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "stream_api.h"
#include "tls_int.h"

struct tls_io {
	SSL *ssl;
	bool outbound;
	char peer_name[256]; /* what an outbound certificate was checked against */
};

static bool ip_literal(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/*
 * RFC 5922: the certificate of a server we connect to must name the host the
 * target URI named (or its IP address when the URI held one). SNI only
 * carries names (RFC 6066 3).
 */
static int client_checks(struct tls_io *t, const char *name)
{
	if (!name || !*name)
		return 0;
	snprintf(t->peer_name, sizeof(t->peer_name), "%s", name);
	if (ip_literal(name))
		return tls_cfg.verify_server && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
			   ? EINVAL
			   : 0;
	if (!SSL_set_tlsext_host_name(t->ssl, name))
		return EINVAL;
	return tls_cfg.verify_server && !SSL_set1_host(t->ssl, name) ? EINVAL : 0;
}

static int tls_open(void **io, int fd, bool outbound, const char *server_name)
{
	SSL_CTX *ctx = tls_ctx_get(!outbound);
	struct tls_io *t = NULL;
	int err = ENOMEM;

	if (!ctx) /* no certificate: cannot serve (listeners need one, so this is a client without ctx) */
		return ENOTSUP;
	if (!(t = calloc(1, sizeof(*t))) || !(t->ssl = SSL_new(ctx)))
		goto out;
	t->outbound = outbound;
	if (!SSL_set_fd(t->ssl, fd))
		goto out;
	if (outbound) {
		SSL_set_connect_state(t->ssl);
		if ((err = client_checks(t, server_name)))
			goto out;
	} else {
		SSL_set_accept_state(t->ssl);
	}
	*io = t;
	t = NULL;
	err = 0;
out:
	if (t) {
		SSL_free(t->ssl);
		free(t);
	}
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	ERR_clear_error();
	return err;
}

/* Why a handshake failed, in one line: the certificate check first, since it is the usual cause. */
static void failure_reason(struct tls_io *t, int ssl_err, char *why, size_t size)
{
	long vr = SSL_get_verify_result(t->ssl);
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (vr != X509_V_OK && t->outbound)
		snprintf(why, size, "certificate of %s not accepted: %s",
			 t->peer_name[0] ? t->peer_name : "the server", X509_verify_cert_error_string(vr));
	else if (vr != X509_V_OK)
		snprintf(why, size, "client certificate not accepted: %s", X509_verify_cert_error_string(vr));
	else if (r)
		snprintf(why, size, "%s", r);
	else if (ssl_err == SSL_ERROR_SYSCALL)
		snprintf(why, size, "connection closed during the handshake%s%s", errno ? ": " : "",
			 errno ? strerror(errno) : "");
	else if (ssl_err == SSL_ERROR_ZERO_RETURN)
		snprintf(why, size, "the peer closed during the handshake");
	else
		snprintf(why, size, "SSL error %d", ssl_err);
}

static int tls_handshake(void *io, bool *want_write, char *why, size_t size)
{
	struct tls_io *t = io;
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r == 1)
		return 0;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want_write = e == SSL_ERROR_WANT_WRITE;
		return EAGAIN;
	}
	failure_reason(t, e, why, size);
	ERR_clear_error();
	return EPROTO;
}

/* Maps a failed SSL_read/SSL_write to errno: EAGAIN to wait, else a hard error. */
static ssize_t failed(struct tls_io *t, int r)
{
	int e = SSL_get_error(t->ssl, r), saved = errno;

	ERR_clear_error();
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		errno = saved ? saved : ECONNRESET;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

static ssize_t tls_read(void *io, void *buf, size_t len)
{
	struct tls_io *t = io;
	int n;

	ERR_clear_error();
	errno = 0;
	n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return n > 0 ? n : failed(t, n);
}

static ssize_t tls_write(void *io, const void *buf, size_t len)
{
	struct tls_io *t = io;
	int n;

	ERR_clear_error();
	errno = 0;
	n = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0)
		return n;
	/* A read-side close seen while writing is a write to a closed peer. */
	ssize_t r = failed(t, n);
	if (r == 0) {
		errno = EPIPE;
		r = -1;
	}
	return r;
}

static bool tls_pending(void *io)
{
	return SSL_pending(((struct tls_io *)io)->ssl) > 0;
}

static void tls_describe(void *io, char *buf, size_t size)
{
	struct tls_io *t = io;
	X509 *peer = SSL_get0_peer_certificate(t->ssl);
	char cn[128] = "";

	if (peer)
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
	snprintf(buf, size, "%s %s%s%s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl),
		 cn[0] ? " peer CN=" : "", cn);
}

static void tls_close(void *io)
{
	struct tls_io *t = io;

	/* close_notify when the session is up; never wait for the peer's. */
	if (SSL_is_init_finished(t->ssl)) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
	}
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

struct stream_layer tls_layer = {
    .proto = SIPD_PROTO_TLS,
    .name = "tls",
    .open = tls_open,
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .pending = tls_pending,
    .describe = tls_describe,
    .close = tls_close,
};
