/* errno to HTTP status, and the JSON body rules (type 415, size 413, malformed or not UTF-8 400). */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "webadmin.h"

Test(http, errno_to_status)
{
	cr_assert_eq(wa_status_of(0), 200);
	cr_assert_eq(wa_status_of(EINVAL), 400);
	cr_assert_eq(wa_status_of(EACCES), 403);
	cr_assert_eq(wa_status_of(ENOENT), 404);
	cr_assert_eq(wa_status_of(EEXIST), 409);
	cr_assert_eq(wa_status_of(EFBIG), 413);
	cr_assert_eq(wa_status_of(EMSGSIZE), 413);
	cr_assert_eq(wa_status_of(ENOTSUP), 415);
	cr_assert_eq(wa_status_of(EBUSY), 503);
	cr_assert_eq(wa_status_of(ENODEV), 503);
	cr_assert_eq(wa_status_of(EIO), 500);
	cr_assert_eq(wa_status_of(ENOMEM), 500);
}

static int parse(const char *type, const char *body, size_t len)
{
	char msg[256];
	json_t *j = NULL;
	int st = wa_json_parse(type, body, len, &j, msg, sizeof(msg));

	if (!st) {
		cr_assert(json_is_object(j));
		json_decref(j);
	} else {
		cr_assert_null(j);
		cr_assert_gt(strlen(msg), 0);
	}
	return st;
}

Test(http, json_bodies)
{
	const char ok[] = "{\"username\":\"a\"}";

	cr_assert_eq(parse("application/json", ok, strlen(ok)), 0);
	cr_assert_eq(parse("application/json; charset=utf-8", ok, strlen(ok)), 0);
	cr_assert_eq(parse("Application/JSON", ok, strlen(ok)), 0);
	cr_assert_eq(parse(NULL, ok, strlen(ok)), 415);
	cr_assert_eq(parse("text/plain", ok, strlen(ok)), 415);
	cr_assert_eq(parse("application/jsonp", ok, strlen(ok)), 415);
	cr_assert_eq(parse("application/x-www-form-urlencoded", "a=b", 3), 415);
	cr_assert_eq(parse("application/json", "{", 1), 400);
	cr_assert_eq(parse("application/json", "", 0), 400);
	cr_assert_eq(parse("application/json", "[1,2]", 5), 400, "not an object");
	cr_assert_eq(parse("application/json", "\"x\"", 3), 400);
	cr_assert_eq(parse("application/json", "{\"a\":1,\"a\":2}", 13), 400, "duplicate keys");
	cr_assert_eq(parse("application/json", "{\"a\":\"\xff\xfe\"}", 10), 400, "not UTF-8");
	cr_assert_eq(parse("application/json", "{\"a\":\"\xc3\xa9\"}", 10), 0, "UTF-8");
	cr_assert_eq(parse("application/json", "{\"a\":\"\\u0000\"}", 14), 400, "NUL in a string");
}

Test(http, body_size_limit)
{
	static char big[3000];

	wa_max_body = 1024;
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	cr_assert_eq(parse("application/json", big, sizeof(big)), 413);
	wa_max_body = 4096;
	cr_assert_eq(parse("application/json", big, sizeof(big)), 0);
}
