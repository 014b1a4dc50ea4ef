/* The tls transport module: SIP over TLS (RFC 3261 26, RFC 5630) on the tcp module's stream machinery. */
#include <errno.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/rpc.h>
#include <sipd/service.h>
#include <sipd/transport.h>

#include "stream_api.h"
#include "tls_int.h"

/* Mozilla's "intermediate" choice: forward secrecy and AEAD only. */
#define DEFAULT_CIPHERS                                                                                      \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"           \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct tls_cfg tls_cfg = {
    .verify_client = "none",
    .verify_server = true,
    .ciphers = DEFAULT_CIPHERS,
    .ciphersuites = DEFAULT_SUITES,
    .handshake_timeout = 5,
};

static const struct stream_api *stream;

static bool have_listen_entry(void)
{
	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		const struct sipd_listen *l = sipd_listen_get(i);
		if (l && l->proto == SIPD_PROTO_TLS)
			return true;
	}
	return false;
}

static int tls_init(void)
{
	struct tls_ctxs c;
	char err[1024];
	int ret;

	if ((ret = tls_ctxs_build(&c, have_listen_entry(), err, sizeof(err)))) {
		SIPD_ERR("%s", err);
		return ret;
	}
	tls_ctxs_install(&c);
	if ((ret = sipd_service_require(STREAM_SERVICE, STREAM_SERVICE_VERSION, (const void **)&stream))) {
		SIPD_ERR("the stream service of the tcp module is missing: %s", strerror(ret));
		goto fail;
	}
	tls_layer.handshake_timeout_ms = (unsigned)tls_cfg.handshake_timeout * 1000;
	if ((ret = stream->layer_register(&tls_layer))) {
		SIPD_ERR("cannot serve tls: %s", strerror(ret));
		goto fail;
	}
	if (tls_cfg.certificate) {
		char summary[512];
		tls_cert_summary(summary, sizeof(summary));
		SIPD_INFO("certificate %s: %s", tls_cfg.certificate, summary);
	}
	return 0;
fail:
	tls_ctxs_shutdown();
	return ret;
}

static void tls_stop(void)
{
	/* Connections are closed by the tcp module's stop, which runs after ours; they hold their contexts.
	 */
	tls_ctxs_shutdown();
}

/*
 * Re-reads the certificate, key and CAs named in modules.conf (the files,
 * not the parameters). New connections use the new contexts; open ones keep
 * theirs. A failure leaves everything as it was.
 */
static int rpc_reload(json_t *params, json_t **result)
{
	struct tls_ctxs c;
	char err[1024], summary[512];
	int ret;

	(void)params;
	if ((ret = tls_ctxs_build(&c, have_listen_entry(), err, sizeof(err)))) {
		SIPD_WARN("reload refused, the current certificate stays: %s", err);
		return sipd_rpc_fail(result, ret, "%s", err);
	}
	tls_ctxs_install(&c);
	tls_cert_summary(summary, sizeof(summary));
	SIPD_INFO("reloaded: certificate %s", summary[0] ? summary : "(none)");
	*result = json_pack("{s:s, s:s}", "certificate", tls_cfg.certificate ? tls_cfg.certificate : "",
			    "summary", summary);
	return *result ? 0 : ENOMEM;
}

static const struct sipd_rpc_method methods[] = {
    {
	.name = "tls.reload",
	.fn = rpc_reload,
	.usage = "",
	.help =
	    "re-read the certificate, private key and CAs; new connections use them, open ones keep theirs",
    },
    {.name = NULL},
};

static const char *const requires[] = {"tcp", NULL};

static const struct sipd_param_def params[] = {
    {"certificate", SIPD_PARAM_STR, &tls_cfg.certificate, 0, 0,
     "PEM file: our certificate, then its intermediates (required with a tls: listen entry)"},
    {"private_key", SIPD_PARAM_STR, &tls_cfg.private_key, 0, 0,
     "PEM file with the certificate's private key (default: the certificate file)"},
    {"ca_file", SIPD_PARAM_STR, &tls_cfg.ca_file, 0, 0,
     "PEM file of CA certificates trusted for peers (default: the system's CAs)"},
    {"ca_path", SIPD_PARAM_STR, &tls_cfg.ca_path, 0, 0, "directory of hashed CA certificates (c_rehash)"},
    {"verify_client", SIPD_PARAM_STR, &tls_cfg.verify_client, 0, 0,
     "none | optional | required: ask clients for a certificate and check it (default none)"},
    {"verify_server", SIPD_PARAM_BOOL, &tls_cfg.verify_server, 0, 0,
     "check the chain and the name of servers we connect to (default true)"},
    {"ciphers", SIPD_PARAM_STR, &tls_cfg.ciphers, 0, 0, "TLS 1.2 cipher list (OpenSSL syntax)"},
    {"ciphersuites", SIPD_PARAM_STR, &tls_cfg.ciphersuites, 0, 0, "TLS 1.3 cipher suites (OpenSSL syntax)"},
    {"handshake_timeout", SIPD_PARAM_INT, &tls_cfg.handshake_timeout, 1, 300,
     "seconds a handshake may take before the connection is closed (default 5)"},
    {.name = NULL},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "tls",
    .version = "1.0",
    .description = "SIP over TLS 1.2/1.3 (OpenSSL): certificates, client and server verification, reload",
    .requires = requires,
    .params = params,
    .rpc = methods,
    .init = tls_init,
    .stop = tls_stop,
};
