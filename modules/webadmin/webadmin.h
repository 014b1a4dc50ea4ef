/* Internal interfaces of the webadmin module: parameters, HTTP helpers, sessions, login limits, the API. */
#ifndef WEBADMIN_H
#define WEBADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <sipd/rpc.h>

struct mg_connection;

/* ---- webadmin.c: parameters ---- */
extern int wa_session_ttl; /* seconds of inactivity before a session ends */
extern int wa_max_body;    /* bytes of a JSON body */
extern int wa_max_upload;  /* bytes of an audio upload */
extern int wa_pbkdf2_iterations;
extern int wa_login_max_failures, wa_login_window, wa_login_lockout;
extern int wa_max_event_clients;
extern const char *wa_upload_dir;
extern const char *wa_webroot; /* resolved at init */
extern bool wa_https;          /* some listen entry is HTTPS: cookies get Secure */

/* ---- password.c: PBKDF2-HMAC-SHA256 hashes "pbkdf2-sha256$ITER$SALT$HASH" (base64) ---- */
#define WA_HASH_MAX 160
/* Hashes password with a fresh random salt into out (WA_HASH_MAX bytes). 0, EINVAL, EIO. */
int wa_password_hash(char *out, size_t size, const char *password, int iterations);
/* True when password matches stored (constant-time compare). */
bool wa_password_verify(const char *stored, const char *password);
/* A random password of len characters (letters and digits) in out (len + 1 bytes). 0 or EIO. */
int wa_password_random(char *out, size_t len);
/* Random bytes as base64url without padding (for tokens) in out. 0 or EIO. */
int wa_token_random(char *out, size_t size, size_t nbytes);

/* ---- session.c: logged-in admins, by cookie token; CSRF tokens ---- */
struct wa_session_info {
	char admin[65];
	char csrf[64];
	int64_t expires_in;
};
/* Creates a session for admin; token (cookie value) and csrf are written out. 0, ENOMEM, EIO. */
int wa_session_create(const char *admin, char *token, size_t token_size, struct wa_session_info *info,
		      int64_t now);
/* Looks the token up, extends it; 0 with *info, or ENOENT (unknown or expired). */
int wa_session_get(const char *token, struct wa_session_info *info, int64_t now);
/* Ends one session; 0 or ENOENT. */
int wa_session_end(const char *token);
/* Ends every session of admin (deleted or new password). */
void wa_session_end_admin(const char *admin);
/* Constant-time comparison of the CSRF header with the session's token. */
bool wa_csrf_ok(const struct wa_session_info *info, const char *header);
void wa_sessions_clear(void);

/* ---- ratelimit.c: failed logins per address and per account ---- */
/* 0 when a login may be tried now, else the seconds to wait. */
int64_t wa_login_blocked(const char *addr, const char *account, int64_t now);
/* Counts a failure (may start a lock-out). */
void wa_login_failed(const char *addr, const char *account, int64_t now);
/* A success clears both. */
void wa_login_succeeded(const char *addr, const char *account);
void wa_ratelimit_clear(void);

/* ---- path.c: request paths ---- */
/*
 * Splits a request path, already percent-decoded once by civetweb, into
 * segments: "/api/users/bob" -> "api", "users", "bob" (no second decoding:
 * "%2e" in a decoded path stays those three characters). Returns the number
 * of segments, or -1 when there are more than max or buf is too small.
 * seg points into buf.
 */
int wa_path_split(const char *path, char *buf, size_t size, char **seg, int max);
/* Percent-decodes src[0..len) into dst (size bytes); -1 on bad encoding or NUL, else the length. */
int wa_url_decode(char *dst, size_t size, const char *src, size_t len);
/*
 * Maps a (decoded) request path to a file under root: out gets root + the
 * path ("/" and ".../" -> index.html). EINVAL when a segment is "..", ".",
 * starts with a dot or holds a backslash; ENAMETOOLONG.
 */
int wa_path_file(char *out, size_t size, const char *root, const char *raw);
/* Value of query parameter name in a raw query string, decoded into out; 1 found, 0 absent, -1 malformed
 * (bad percent-encoding, too long, or not UTF-8). */
int wa_query_get(const char *query, const char *name, char *out, size_t size);
/* True when s is valid UTF-8 (what a JSON string may hold). */
bool wa_utf8_valid(const char *s);

/* ---- http.c: answers and bodies ---- */
/* The HTTP status of an RPC errno. */
int wa_status_of(int err);
/* in with control and non-ASCII bytes as '?' (for log lines that quote the client), in out. */
const char *wa_log_safe(char *out, size_t size, const char *in);
/* Sends status with the security headers, extra header lines (CRLF-terminated, or NULL), and the JSON body.
 */
int wa_send_json(struct mg_connection *c, int status, json_t *body, const char *extra);
/* {"error": msg} (+ the fields of extra_fields, stolen, may be NULL). */
int wa_send_error(struct mg_connection *c, int status, json_t *extra_fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends an RPC failure: err and its result (string or object with "message"). 422 for routing errors. */
int wa_send_rpc_error(struct mg_connection *c, int err, json_t *result);
/* Writes the status line and the headers every answer has; then the caller adds its own and ends them. */
void wa_send_head(struct mg_connection *c, int status, const char *content_type, long long length,
		  const char *extra);
/*
 * Reads a body of at most max bytes (malloc'ed, NUL-terminated). Returns 0,
 * EFBIG (413), EINVAL (no length where one is needed), EIO.
 */
int wa_read_body(struct mg_connection *c, char **out, size_t *len, size_t max);
/*
 * Checks the JSON body rules: Content-Type application/json (415), size
 * (413), valid UTF-8 JSON object (400). On error the answer is sent and
 * the status returned; 0 with *out set on success.
 */
int wa_json_body(struct mg_connection *c, json_t **out);
/* Same checks on text already read (unit tests): status or 0. msg gets the reason. */
int wa_json_parse(const char *content_type, const char *body, size_t len, json_t **out, char *msg,
		  size_t msglen);

/* ---- admins.c: the admin accounts (table, admin.* RPC, login check) ---- */
int wa_admins_init(void);
extern const struct sipd_rpc_method wa_rpc_methods[];
/* Verifies a login on the calling (civetweb) thread. 0, EACCES (wrong), EIO. */
int wa_admin_check(const char *name, const char *password);
/* Creates "admin" with a random password when there is no admin at all (first start). */
void wa_admins_bootstrap(void);
/* The admins as [{name, created, updated, last_login}]. */
json_t *wa_admins_list(void);

/* ---- api.c / api_audio.c / events.c / metrics.c / files.c: request handlers ---- */
struct wa_request {
	struct mg_connection *c;
	const char *method;
	const char *query; /* raw, may be NULL */
	char *seg[8];      /* decoded path segments */
	int nseg;
	const char *addr; /* client address */
	struct wa_session_info s;
	bool logged_in;
};
/* Each returns the HTTP status it sent (for the audit line). */
int wa_api_dispatch(struct wa_request *r);
/* login.c: POST /api/login {username, password} -> session cookie + {username, csrf, expires_in}; logout. */
int wa_login(struct wa_request *r);
int wa_logout(struct wa_request *r);
/* The sipd_session cookie's value, if the request has one. */
bool wa_cookie_token(struct mg_connection *c, char *out, size_t size);
int wa_api_audio(struct wa_request *r);
int wa_api_softphone(struct wa_request *r);
int wa_events_serve(struct wa_request *r);
int wa_metrics_serve(struct wa_request *r);
int wa_files_serve(struct mg_connection *c, const char *method, const char *raw_path);
/* sipd_rpc_call with params stolen (NULL allowed): 0 or the errno, *result as the method left it. */
int wa_rpc(const char *method, json_t *params, json_t **result);
/* Calls method with params (stolen) and answers: result as is (status ok) or the error. */
int wa_rpc_answer(struct mg_connection *c, const char *method, json_t *params, int ok);
/* 405 with Allow. */
int wa_method_not_allowed(struct mg_connection *c, const char *allow);
/* Paging of a JSON array by the offset/limit of the query; sends 400 and returns it on bad values. */
int wa_send_page(struct mg_connection *c, const char *query, json_t *items);

/* events.c: the SSE fan-out and the stats tick. */
int wa_events_start(void);
void wa_events_stop(void);
extern uint64_t wa_event_drops; /* atomic */
/* The last stats.get object with calls_per_second (a new reference; NULL before the first tick). */
json_t *wa_stats_latest(void);

/* metrics.c: allowed addresses for /metrics without login. */
int wa_metrics_init(const char *const *allow);
bool wa_metrics_allowed(const char *addr);

#endif
