/* The auth_db module: parameters, start-up (tables, secret, caches) and the auth_db service. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "auth_db.h"
#include "auth_db_api.h"

const char *auth_realm = "sipd";
int auth_nonce_ttl = 300;
int auth_nonce_table = 65536;
bool auth_remove_credentials = true;
bool auth_check_identity = true;
static const char *digest_uri = "ours";
enum auth_uri_mode auth_uri_mode = AUTH_URI_OURS;
const struct sipd_parser_api *auth_parser;
int auth_guard_failures = 5;
int auth_guard_user_failures = 20;
int auth_guard_max_backoff = 300;
int auth_guard_table = 65536;
static const char *const default_algorithms[] = {"SHA-256", "MD5", NULL};
static const char *const *algorithms = default_algorithms;
enum auth_algo auth_offered[AUTH_ALGO_COUNT];
unsigned auth_offered_count;

static bool api_user_exists(struct sipd_str username)
{
	return auth_users_exists(username, sipd_str_c(auth_realm));
}

static const struct auth_db_api api = {
    .user_exists = api_user_exists,
};

static void auth_db_stop(void)
{
	auth_users_fini();
	auth_guard_fini();
	auth_nonce_fini();
	auth_digest_fini();
}

static int auth_db_init(void)
{
	unsigned char secret[32];
	int err;

	if (!strcmp(digest_uri, "exact"))
		auth_uri_mode = AUTH_URI_EXACT;
	else if (!strcmp(digest_uri, "ours"))
		auth_uri_mode = AUTH_URI_OURS;
	else if (!strcmp(digest_uri, "any"))
		auth_uri_mode = AUTH_URI_ANY;
	else {
		SIPD_ERR("digest_uri \"%s\": expected \"exact\", \"ours\" or \"any\"", digest_uri);
		return EINVAL;
	}
	if (!auth_name_valid(auth_realm, 128)) {
		SIPD_ERR("realm \"%s\" is not valid: letters, digits and -_.!~*'()&=+$,;?/ only", auth_realm);
		return EINVAL;
	}
	auth_offered_count = 0;
	for (const char *const *a = algorithms; a && *a; a++) {
		enum auth_algo algo;
		bool dup = false;

		if (auth_algo_parse(&algo, sipd_str_c(*a)) != 0 || !**a) {
			SIPD_ERR("algorithms: \"%s\" is not supported (SHA-256 or MD5)", *a);
			return EINVAL;
		}
		for (unsigned i = 0; i < auth_offered_count; i++)
			dup = dup || auth_offered[i] == algo;
		if (!dup)
			auth_offered[auth_offered_count++] = algo;
	}
	if (!auth_offered_count) {
		SIPD_ERR("algorithms: at least one of SHA-256 and MD5 is needed");
		return EINVAL;
	}
	if ((err = auth_digest_init())) {
		SIPD_ERR("OpenSSL offers no MD5 or SHA-256 digest");
		return err;
	}
	if ((err = auth_check_init()) || (err = auth_users_init()) ||
	    (err = auth_secret_load(secret, sizeof(secret))) ||
	    (err = auth_nonce_init(secret, sizeof(secret), (unsigned)auth_nonce_table)) ||
	    (err = auth_guard_init((unsigned)auth_guard_table)))
		goto out;
	err = sipd_service_provide(AUTH_DB_SERVICE, AUTH_DB_VERSION, &api);
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	if (err) {
		SIPD_ERR("auth_db cannot start: %s", strerror(err));
		auth_db_stop();
	}
	return err;
}

static int auth_db_start(void)
{
	int err = sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, (const void **)&auth_parser);

	if (err)
		SIPD_ERR("the parser service is missing: %s", strerror(err));
	return err;
}

static const struct sipd_param_def auth_db_params[] = {
    {.name = "realm",
     .type = SIPD_PARAM_STR,
     .var = &auth_realm,
     .help = "digest realm of challenges and of users created without one"},
    {.name = "nonce_ttl",
     .type = SIPD_PARAM_INT,
     .var = &auth_nonce_ttl,
     .min = 5,
     .max = 86400,
     .help = "seconds a nonce stays valid; older ones get a challenge with stale=true"},
    {.name = "nonce_table",
     .type = SIPD_PARAM_INT,
     .var = &auth_nonce_table,
     .min = 64,
     .max = 16777216,
     .help = "nonces whose nonce-count is tracked against replays (memory bound)"},
    {.name = "algorithms",
     .type = SIPD_PARAM_STR_LIST,
     .var = &algorithms,
     .help = "digest algorithms challenges offer, one header each, in this order (RFC 8760: SHA-256 first)"},
    {.name = "remove_credentials",
     .type = SIPD_PARAM_BOOL,
     .var = &auth_remove_credentials,
     .help = "remove our Authorization/Proxy-Authorization header before relaying"},
    {.name = "check_identity",
     .type = SIPD_PARAM_BOOL,
     .var = &auth_check_identity,
     .help = "the authenticated user must be the To user of a REGISTER and the From user of other requests"},
    {.name = "guard_failures",
     .type = SIPD_PARAM_INT,
     .var = &auth_guard_failures,
     .min = 0,
     .max = 1000,
     .help = "wrong passwords in a row from one address before that user+address backs off (0: no guard)"},
    {.name = "guard_max_backoff",
     .type = SIPD_PARAM_INT,
     .var = &auth_guard_max_backoff,
     .min = 1,
     .max = 86400,
     .help = "longest back-off in seconds (it doubles from 1 s with each further failure)"},
    {.name = "guard_user_failures",
     .type = SIPD_PARAM_INT,
     .var = &auth_guard_user_failures,
     .min = 1,
     .max = 1000000,
     .help = "wrong passwords for one user within a minute from anywhere before addresses that never "
	     "logged the user in get one attempt a second between them"},
    {.name = "guard_table",
     .type = SIPD_PARAM_INT,
     .var = &auth_guard_table,
     .min = 64,
     .max = 16777216,
     .help = "(user, address) and user entries the guard tracks (memory bound, 48 bytes each)"},
    {.name = "digest_uri",
     .type = SIPD_PARAM_STR,
     .var = &digest_uri,
     .help = "the digest uri must be: \"exact\" the Request-URI; \"ours\" it, or a SIP URI of ours or of the "
	     "Request-URI's host (default); \"any\" anything"},
    {.name = NULL},
};

static const char *const auth_db_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "auth_db",
    .version = "1.0",
    .description = "digest authentication (SHA-256, MD5) against users stored in the database",
    .requires = auth_db_requires,
    .params = auth_db_params,
    .functions = auth_functions,
    .rpc = auth_rpc_methods,
    .init = auth_db_init,
    .start = auth_db_start,
    .stop = auth_db_stop,
};
