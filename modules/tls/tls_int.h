/* Shared declarations of the tls module's parts (not installed). */
#ifndef TLS_INT_H
#define TLS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

enum tls_verify_client {
	TLS_VERIFY_CLIENT_NONE = 0,
	TLS_VERIFY_CLIENT_OPTIONAL,
	TLS_VERIFY_CLIENT_REQUIRED,
};

/* Module parameters (modules.conf), as written. */
struct tls_cfg {
	const char *certificate;
	const char *private_key;
	const char *ca_file;
	const char *ca_path;
	const char *verify_client; /* "none", "optional", "required" */
	bool verify_server;
	const char *ciphers;      /* TLS 1.2 cipher list */
	const char *ciphersuites; /* TLS 1.3 suites */
	int handshake_timeout;    /* seconds */
};
extern struct tls_cfg tls_cfg;

/* The server and client contexts built from tls_cfg; each SSL holds a reference to its own. */
struct tls_ctxs {
	SSL_CTX *server; /* NULL when no certificate is configured */
	SSL_CTX *client;
};

/*
 * ctx.c: builds both contexts from tls_cfg, reading the files now. On an
 * error, err gets "modules.conf:LINE: parameter 'x': what is wrong" and
 * EINVAL (or ENOENT/EACCES for files) is returned. need_server: a tls
 * listen entry exists, so a certificate is required.
 */
int tls_ctxs_build(struct tls_ctxs *out, bool need_server, char *err, size_t errlen);
void tls_ctxs_free(struct tls_ctxs *c);
/* Installs c as the contexts new connections use; the previous ones are freed once unused. */
void tls_ctxs_install(struct tls_ctxs *c);
/* New references to the current contexts (SSL_CTX_free them); the server one may be NULL. */
SSL_CTX *tls_ctx_get(bool server);
void tls_ctxs_shutdown(void);
/* Subject and expiry of the current server certificate, for tls.reload's answer ("" when none). */
void tls_cert_summary(char *buf, size_t size);

/* layer.c: the stream layer the tcp module runs connections with. */
extern struct stream_layer tls_layer;

#endif
