/* Internal interfaces of the auth_db module: digests, nonces, the user cache, its settings. */
#ifndef AUTH_DB_H
#define AUTH_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/transport.h>
#include <sipd/script.h>
#include <sipd/str.h>

/* Digest algorithms, in the order challenges offer them (RFC 8760: strongest first). */
enum auth_algo { AUTH_SHA256 = 0, AUTH_MD5 = 1, AUTH_ALGO_COUNT };

/* Hex digest of the longest algorithm plus NUL. */
#define AUTH_HEX_MAX 65

/* Module parameters (auth_db.c). */
extern const char *auth_realm;
extern int auth_nonce_ttl;
extern int auth_nonce_table;
extern bool auth_remove_credentials;
extern bool auth_check_identity;
/* How the digest uri must relate to the Request-URI (param digest_uri). */
enum auth_uri_mode { AUTH_URI_EXACT, AUTH_URI_OURS, AUTH_URI_ANY };
extern enum auth_uri_mode auth_uri_mode;
/* The parser service, for the digest uri (set at start). */
extern const struct sipd_parser_api *auth_parser;
/* The algorithms challenges offer, in order (param algorithms), and how many. */
extern enum auth_algo auth_offered[AUTH_ALGO_COUNT];
extern unsigned auth_offered_count;

/* ---- digest.c (OpenSSL EVP) ---- */
int auth_digest_init(void);
void auth_digest_fini(void);
/* Hex length of an algorithm's digest (32 or 64). */
size_t auth_hexlen(enum auth_algo a);
/* "MD5" / "SHA-256"; and parsing the algorithm parameter (empty means MD5, RFC 2617). */
const char *auth_algo_name(enum auth_algo a);
int auth_algo_parse(enum auth_algo *out, struct sipd_str name);
/* out = hex(H(parts[0] ":" parts[1] ":" ...)). out holds AUTH_HEX_MAX. */
int auth_hash(char *out, enum auth_algo a, const struct sipd_str *parts, unsigned n);
/* HA1 = H(username:realm:password). */
int auth_ha1(char *out, enum auth_algo a, const char *user, const char *realm, const char *password);
/* RFC 7616 3.4.1 response for qop=auth: H(HA1:nonce:nc:cnonce:qop:H(method:uri)). */
int auth_response(char *out, enum auth_algo a, struct sipd_str ha1, struct sipd_str nonce, struct sipd_str nc,
		  struct sipd_str cnonce, struct sipd_str qop, struct sipd_str method, struct sipd_str uri);
/* HMAC-SHA256(key, data) into mac[32]. */
int auth_hmac(unsigned char *mac, const unsigned char *key, size_t keylen, const void *data, size_t len);
/* Constant-time comparison of two strings of equal length (false if lengths differ). */
bool auth_equal(struct sipd_str a, struct sipd_str b);

/* ---- nonce.c: stateless nonces and nonce-count replay tracking ---- */
#define AUTH_NONCE_LEN 56 /* hex: 16 digits of ms time, 8 of a sequence number, 32 of truncated HMAC */
enum auth_nonce_state {
	AUTH_NONCE_VALID,
	AUTH_NONCE_STALE,   /* ours, but older than the TTL */
	AUTH_NONCE_INVALID, /* not made with our secret (forged, or from before the secret changed) */
};
int auth_nonce_init(const unsigned char *secret, size_t len, unsigned table_entries);
void auth_nonce_fini(void);
/* Writes AUTH_NONCE_LEN hex characters and a NUL into out[AUTH_NONCE_LEN + 1]. */
int auth_nonce_make(char *out, uint64_t now_ms);
enum auth_nonce_state auth_nonce_check(struct sipd_str nonce, uint64_t now_ms, uint64_t ttl_ms,
				       uint64_t *issued_ms);
/*
 * Records nonce-count nc for a valid nonce issued at issued_ms. False when
 * nc is not above every count seen with this nonce (a replay), or when the
 * nonce's history was evicted from the bounded table (the caller answers
 * with a fresh stale challenge then). The highest nc may come again with
 * the same branch (hash of the top Via branch, 0 if none) within 32 s: a
 * retransmission of that request, not a replay.
 */
bool auth_nc_accept(struct sipd_str nonce, uint64_t issued_ms, uint32_t nc, uint32_t branch, uint64_t now_ms);

/* ---- users.c: the users table and its in-memory cache ---- */
int auth_users_init(void);
void auth_users_fini(void);
/* Copies the HA1 for a; 0, ENOENT (unknown), EACCES (disabled). */
int auth_users_ha1(char *out, struct sipd_str user, struct sipd_str realm, enum auth_algo a);
bool auth_users_exists(struct sipd_str user, struct sipd_str realm);
/* Management (control thread): 0 or errno (EEXIST, ENOENT, EINVAL). */
int auth_users_add(const char *user, const char *realm, const char *password);
int auth_users_passwd(const char *user, const char *realm, const char *password);
int auth_users_enable(const char *user, const char *realm, bool enabled);
int auth_users_delete(const char *user, const char *realm);
/* A JSON array of users (filter: realm or NULL); a user object, or NULL when unknown. */
json_t *auth_users_list(const char *realm);
json_t *auth_users_get(const char *user, const char *realm);
/*
 * One page of the users sorted by name (realm and q, a case-insensitive part
 * of the name, filter when not NULL): {"items", "total", "offset", "limit"}.
 */
json_t *auth_users_find(const char *realm, const char *q, size_t offset, size_t limit);
/* The nonce secret: read from the database, created at first start. */
int auth_secret_load(unsigned char *secret, size_t len);
/* Characters a username or realm may hold (what needs no quoting in a SIP URI or header). */
bool auth_name_valid(const char *s, size_t max);

/* ---- guard.c: brute-force back-off (params guard_*) ---- */
extern int auth_guard_failures, auth_guard_user_failures, auth_guard_max_backoff, auth_guard_table;
int auth_guard_init(unsigned entries);
void auth_guard_fini(void);
/*
 * Milliseconds user at addr must still wait before credentials are checked (0: check them now): after
 * guard_failures wrong answers in a row from that address it backs off 1 s, 2 s, 4 s ... up to
 * guard_max_backoff; after guard_user_failures wrong answers for the user from anywhere within a minute,
 * addresses that have not logged the user in within a day get one attempt a second between them, while
 * the user's own known addresses go on unhindered.
 */
uint64_t auth_guard_check(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now);
/* A wrong password (or unknown user); returns true when this failure started a back-off. */
bool auth_guard_failed(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now);
void auth_guard_succeeded(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now);

/* ---- rpc.c ---- */
extern const struct sipd_rpc_method auth_rpc_methods[];

/* ---- check.c ---- */
extern const struct sipd_script_fn auth_functions[];
int auth_check_init(void);

#endif
