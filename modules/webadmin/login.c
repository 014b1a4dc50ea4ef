/* POST /api/login (JSON credentials, rate-limited, to a session cookie) and POST /api/logout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include <sipd/log.h>

#include "webadmin.h"

/* The session cookie's value, if any. */
bool wa_cookie_token(struct mg_connection *c, char *out, size_t size)
{
	const char *cookies = mg_get_header(c, "Cookie");

	return cookies && mg_get_cookie(cookies, "sipd_session", out, size) > 0;
}

int wa_login(struct wa_request *r)
{
	struct mg_connection *c = r->c;
	char token[64], cookie[256];
	json_t *body = NULL, *answer;
	int st;

	if (strcmp(r->method, "POST"))
		return wa_method_not_allowed(c, "POST");
	if ((st = wa_json_body(c, &body)))
		return st;
	json_t *ju = json_object_get(body, "username"), *jp = json_object_get(body, "password");
	if (!json_is_string(ju) || !json_string_length(ju) || json_string_length(ju) > 64) {
		json_decref(body);
		return wa_send_error(c, 400, json_pack("{s:s}", "field", "username"),
				     "username must be a string of 1-64 characters");
	}
	if (!json_is_string(jp) || !json_string_length(jp) || json_string_length(jp) > 1024) {
		json_decref(body);
		return wa_send_error(c, 400, json_pack("{s:s}", "field", "password"),
				     "password must be a string of 1-1024 characters");
	}
	const char *user = json_string_value(ju);
	char safe[80];
	wa_log_safe(safe, sizeof(safe), user);
	int64_t wait = wa_login_blocked(r->addr, user, (int64_t)time(NULL));
	if (wait > 0) {
		char extra[64];
		json_t *e =
		    json_pack("{s:o, s:I}", "error",
			      json_sprintf("too many failed logins; try again in %lld s", (long long)wait),
			      "retry_after", (json_int_t)wait);
		snprintf(extra, sizeof(extra), "Retry-After: %lld\r\n", (long long)wait);
		wa_send_json(c, 429, e, extra);
		json_decref(e);
		json_decref(body);
		SIPD_NOTICE("login of %s from %s refused: rate limit", safe, r->addr);
		return 429;
	}
	int err = wa_admin_check(user, json_string_value(jp));
	if (err) {
		if (err == EACCES)
			wa_login_failed(r->addr, user, (int64_t)time(NULL));
		SIPD_NOTICE("audit: failed login admin=%s addr=%s", safe, r->addr);
		json_decref(body);
		return wa_send_error(c, err == EACCES ? 401 : 500, NULL, "%s",
				     err == EACCES ? "wrong username or password"
						   : "cannot check the login now");
	}
	wa_login_succeeded(r->addr, user);
	struct wa_session_info info;
	if ((err = wa_session_create(user, token, sizeof(token), &info, (int64_t)time(NULL)))) {
		json_decref(body);
		return wa_send_error(c, 500, NULL, "cannot create a session: %s", strerror(err));
	}
	snprintf(cookie, sizeof(cookie),
		 "Set-Cookie: sipd_session=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n", token,
		 wa_https ? "; Secure" : "");
	answer = json_pack("{s:s, s:s, s:I}", "username", info.admin, "csrf", info.csrf, "expires_in",
			   (json_int_t)info.expires_in);
	wa_send_json(c, 200, answer, cookie);
	SIPD_NOTICE("audit: login admin=%s addr=%s", safe, r->addr);
	json_decref(answer);
	json_decref(body);
	return 200;
}

int wa_logout(struct wa_request *r)
{
	char token[128];
	json_t *answer;

	if (strcmp(r->method, "POST"))
		return wa_method_not_allowed(r->c, "POST");
	if (wa_cookie_token(r->c, token, sizeof(token)))
		wa_session_end(token);
	answer = json_pack("{s:b}", "logged_out", 1);
	wa_send_json(r->c, 200, answer,
		     "Set-Cookie: sipd_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict\r\n");
	json_decref(answer);
	return 200;
}
