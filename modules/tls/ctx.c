/* The OpenSSL contexts: built from the parameters with errors that name modules.conf:line, swapped on reload.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <sipd/module.h>

#include "tls_int.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls_ctxs current;

static int fail(char *err, size_t errlen, int ret, const char *param, const char *fmt, ...) SIPD_PRINTF(5, 6);
static int fail(char *err, size_t errlen, int ret, const char *param, const char *fmt, ...)
{
	char where[512];
	va_list ap;
	int n;

	n = snprintf(err, errlen,
		     "%s: parameter '%s': ", sipd_param_source("tls", param, where, sizeof(where)), param);
	if (n < 0 || (size_t)n >= errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

/* The oldest OpenSSL error of this thread in words (the first is the cause), then clears the queue. */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	snprintf(buf, size, "%s", r ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

/* A file named by param must be a readable regular file: say which and why before OpenSSL does it vaguely. */
static int check_file(const char *param, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return fail(err, errlen, errno == ENOENT ? ENOENT : EACCES, param, "cannot read %s: %s", path,
			    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, EINVAL, param, "%s is not a regular file", path);
	return 0;
}

static int parse_verify_client(enum tls_verify_client *out, char *err, size_t errlen)
{
	const char *v = tls_cfg.verify_client ? tls_cfg.verify_client : "none";

	if (!strcasecmp(v, "none"))
		*out = TLS_VERIFY_CLIENT_NONE;
	else if (!strcasecmp(v, "optional"))
		*out = TLS_VERIFY_CLIENT_OPTIONAL;
	else if (!strcasecmp(v, "required"))
		*out = TLS_VERIFY_CLIENT_REQUIRED;
	else
		return fail(err, errlen, EINVAL, "verify_client",
			    "\"%s\" is not one of none, optional, required", v);
	return 0;
}

/* What both sides share: versions, ciphers, options, trusted CAs. */
static int common_setup(SSL_CTX *ctx, bool trust_needed, char *err, size_t errlen)
{
	char why[256];

	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/* Renegotiation is a DoS lever; a peer that drops TCP without close_notify is an ordinary close for
	 * SIP, whose messages are framed by Content-Length. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Write queues hand the same bytes back after WANT_WRITE, maybe from another chunk address;
	 * idle connections give their buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				  SSL_MODE_RELEASE_BUFFERS);
	if (!SSL_CTX_set_cipher_list(ctx, tls_cfg.ciphers))
		return fail(err, errlen, EINVAL, "ciphers", "\"%s\": %s", tls_cfg.ciphers,
			    ssl_reason(why, sizeof(why)));
	if (!SSL_CTX_set_ciphersuites(ctx, tls_cfg.ciphersuites))
		return fail(err, errlen, EINVAL, "ciphersuites", "\"%s\": %s", tls_cfg.ciphersuites,
			    ssl_reason(why, sizeof(why)));
	if (tls_cfg.ca_file || tls_cfg.ca_path) {
		int ret;
		if (tls_cfg.ca_file && (ret = check_file("ca_file", tls_cfg.ca_file, err, errlen)))
			return ret;
		if (!SSL_CTX_load_verify_locations(ctx, tls_cfg.ca_file, tls_cfg.ca_path))
			return fail(err, errlen, EINVAL, tls_cfg.ca_file ? "ca_file" : "ca_path",
				    "cannot load CA certificates from %s: %s",
				    tls_cfg.ca_file ? tls_cfg.ca_file : tls_cfg.ca_path,
				    ssl_reason(why, sizeof(why)));
	} else if (trust_needed) {
		SSL_CTX_set_default_verify_paths(ctx); /* the system's CAs */
	}
	return 0;
}

/* Certificate chain and key, checked against each other. */
static int load_identity(SSL_CTX *ctx, char *err, size_t errlen)
{
	const char *key = tls_cfg.private_key ? tls_cfg.private_key : tls_cfg.certificate;
	const char *key_param = tls_cfg.private_key ? "private_key" : "certificate";
	char why[256];
	int ret;

	if ((ret = check_file("certificate", tls_cfg.certificate, err, errlen)) ||
	    (ret = check_file(key_param, key, err, errlen)))
		return ret;
	if (SSL_CTX_use_certificate_chain_file(ctx, tls_cfg.certificate) != 1)
		return fail(err, errlen, EINVAL, "certificate", "%s holds no usable PEM certificate: %s",
			    tls_cfg.certificate, ssl_reason(why, sizeof(why)));
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH)
			return fail(err, errlen, EINVAL, key_param,
				    "%s does not match the certificate in %s (%s)", key, tls_cfg.certificate,
				    ssl_reason(why, sizeof(why)));
		return fail(err, errlen, EINVAL, key_param, "%s holds no usable PEM private key: %s", key,
			    ssl_reason(why, sizeof(why)));
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(err, errlen, EINVAL, key_param, "%s does not match the certificate in %s (%s)",
			    key, tls_cfg.certificate, ssl_reason(why, sizeof(why)));
	return 0;
}

static int build_server(SSL_CTX **out, enum tls_verify_client vc, char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "sipd";
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int ret;

	if (!ctx)
		return ENOMEM;
	if ((ret = common_setup(ctx, vc != TLS_VERIFY_CLIENT_NONE, err, errlen)) ||
	    (ret = load_identity(ctx, err, errlen)))
		goto out;
	if (vc != TLS_VERIFY_CLIENT_NONE)
		SSL_CTX_set_verify(
		    ctx,
		    SSL_VERIFY_PEER |
			(vc == TLS_VERIFY_CLIENT_REQUIRED ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
		    NULL);
	/* Sessions resumed with a client certificate must be tied to this context. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return ret;
}

static int build_client(SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	int ret;

	if (!ctx)
		return ENOMEM;
	if ((ret = common_setup(ctx, tls_cfg.verify_server, err, errlen)))
		goto out;
	/* Our certificate doubles as the client certificate for peers that ask (mutual TLS). */
	if (tls_cfg.certificate && (ret = load_identity(ctx, err, errlen)))
		goto out;
	SSL_CTX_set_verify(ctx, tls_cfg.verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	*out = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return ret;
}

int tls_ctxs_build(struct tls_ctxs *out, bool need_server, char *err, size_t errlen)
{
	struct tls_ctxs c = {0};
	enum tls_verify_client vc = TLS_VERIFY_CLIENT_NONE;
	int ret;

	ERR_clear_error();
	if ((ret = parse_verify_client(&vc, err, errlen)))
		return ret;
	if (tls_cfg.private_key && !tls_cfg.certificate)
		return fail(err, errlen, EINVAL, "certificate", "private_key is set but certificate is not");
	if (need_server && !tls_cfg.certificate)
		return fail(err, errlen, EINVAL, "certificate",
			    "a tls: listen entry needs a certificate (PEM chain) and its private_key");
	if (tls_cfg.certificate && (ret = build_server(&c.server, vc, err, errlen)))
		goto out;
	if ((ret = build_client(&c.client, err, errlen)))
		goto out;
	*out = c;
	c = (struct tls_ctxs){0};
out:
	tls_ctxs_free(&c);
	return ret;
}

void tls_ctxs_free(struct tls_ctxs *c)
{
	SSL_CTX_free(c->server);
	SSL_CTX_free(c->client);
	c->server = c->client = NULL;
}

void tls_ctxs_install(struct tls_ctxs *c)
{
	struct tls_ctxs old;

	pthread_mutex_lock(&lock);
	old = current;
	current = *c;
	pthread_mutex_unlock(&lock);
	*c = (struct tls_ctxs){0};
	/* Connections made with the old contexts hold their own references. */
	tls_ctxs_free(&old);
}

SSL_CTX *tls_ctx_get(bool server)
{
	pthread_mutex_lock(&lock);
	SSL_CTX *ctx = server ? current.server : current.client;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&lock);
	return ctx;
}

void tls_ctxs_shutdown(void)
{
	struct tls_ctxs none = {0};

	tls_ctxs_install(&none);
}

void tls_cert_summary(char *buf, size_t size)
{
	SSL_CTX *ctx = tls_ctx_get(true);
	X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
	char subject[256] = "";
	BIO *b;

	buf[0] = '\0';
	if (x) {
		X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
		if ((b = BIO_new(BIO_s_mem()))) {
			char until[64] = "";
			int n;
			ASN1_TIME_print(b, X509_get0_notAfter(x));
			n = BIO_read(b, until, sizeof(until) - 1);
			until[n > 0 ? n : 0] = '\0';
			snprintf(buf, size, "%s, valid until %s", subject, until);
			BIO_free(b);
		}
	}
	SSL_CTX_free(ctx);
}
