/* Request paths: decoding, segments, traversal attempts, queries. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "webadmin.h"

Test(path, split_into_segments)
{
	char buf[256];
	char *seg[8];

	cr_assert_eq(wa_path_split("/api/users/bob", buf, sizeof(buf), seg, 8), 3);
	cr_assert_str_eq(seg[2], "bob");
	cr_assert_eq(wa_path_split("/api/users/a%25b", buf, sizeof(buf), seg, 8), 3, "no second decoding");
	cr_assert_str_eq(seg[2], "a%25b");
	cr_assert_eq(wa_path_split("//api///x/", buf, sizeof(buf), seg, 8), 2);
	cr_assert_eq(wa_path_split("/", buf, sizeof(buf), seg, 8), 0);
	cr_assert_eq(wa_path_split("/1/2/3/4/5/6/7/8/9", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(wa_path_split("no-slash", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(
	    wa_path_split("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", buf, 16, seg, 8), -1);
}

/* Paths as civetweb hands them over: decoded once ("%2e%2e" arrives as ".."). */
Test(path, files_stay_under_root)
{
	char out[512];

	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/"), 0);
	cr_assert_str_eq(out, "/srv/www/index.html");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/css/site.css"), 0);
	cr_assert_str_eq(out, "/srv/www/css/site.css");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/vendor/"), 0);
	cr_assert_str_eq(out, "/srv/www/vendor/index.html");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/../etc/passwd"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/a/../../etc/passwd"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/a/.."), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/a\\..\\b"), EINVAL, "backslashes");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/.git/config"), EINVAL, "dot files");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/./index.html"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/%2e%2e/x"), 0,
		     "a literal %2e%2e is a name");
	cr_assert_str_eq(out, "/srv/www/%2e%2e/x");
	cr_assert_eq(wa_path_file(out, 16, "/srv/www", "/long/enough/to/overflow"), ENAMETOOLONG);
}

Test(path, query_values)
{
	char v[64];

	cr_assert_eq(wa_query_get("q=al&offset=10", "q", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "al");
	cr_assert_eq(wa_query_get("q=al&offset=10", "offset", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "10");
	cr_assert_eq(wa_query_get("q=al&offset=10", "limit", v, sizeof(v)), 0);
	cr_assert_eq(wa_query_get(NULL, "limit", v, sizeof(v)), 0);
	cr_assert_eq(wa_query_get("aor=sip%3Abob%40x&contact=a+b", "aor", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "sip:bob@x");
	cr_assert_eq(wa_query_get("aor=sip%3Abob%40x&contact=a+b", "contact", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "a b");
	cr_assert_eq(wa_query_get("qq=1&q=2", "q", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "2");
	cr_assert_eq(wa_query_get("q=%zz", "q", v, sizeof(v)), -1);
	/* Not UTF-8 (found by tests/fuzz/fuzz_api: the value could not become a JSON param, so
	 * GET /api/registrations?aor=%FF listed every binding). UTF-8 passes. */
	cr_assert_eq(wa_query_get("aor=sip%3A%FF%40x", "aor", v, sizeof(v)), -1);
	cr_assert_eq(wa_query_get("q=%C3%A9", "q", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "\xc3\xa9");
	cr_assert_eq(wa_query_get("q=", "q", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "");
}
