/* Request paths: decoding, segments, traversal attempts, queries. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "webadmin.h"

Test(path, split_decodes_each_segment)
{
	char buf[256];
	char *seg[8];

	cr_assert_eq(wa_path_split("/api/users/bob", buf, sizeof(buf), seg, 8), 3);
	cr_assert_str_eq(seg[2], "bob");
	cr_assert_eq(wa_path_split("/api/users/a%2Fb", buf, sizeof(buf), seg, 8), 3,
		     "an encoded slash stays inside");
	cr_assert_str_eq(seg[2], "a/b");
	cr_assert_eq(wa_path_split("/api/sessions/abc%40host", buf, sizeof(buf), seg, 8), 3);
	cr_assert_str_eq(seg[2], "abc@host");
	cr_assert_eq(wa_path_split("//api///x/", buf, sizeof(buf), seg, 8), 2);
	cr_assert_eq(wa_path_split("/", buf, sizeof(buf), seg, 8), 0);
	cr_assert_eq(wa_path_split("/a/b?x=1", buf, sizeof(buf), seg, 8), 2);
}

Test(path, split_refuses_bad_encodings)
{
	char buf[256];
	char *seg[8];

	cr_assert_eq(wa_path_split("/a%2", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(wa_path_split("/a%zz", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(wa_path_split("/a%00b", buf, sizeof(buf), seg, 8), -1, "NUL");
	cr_assert_eq(wa_path_split("/1/2/3/4/5/6/7/8/9", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(wa_path_split("no-slash", buf, sizeof(buf), seg, 8), -1);
	cr_assert_eq(
	    wa_path_split("/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", buf, 16, seg, 8), -1);
}

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
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/%2e%2e/etc/passwd"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/%2E%2E%2Fetc%2Fpasswd"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/..%2fetc/passwd"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/a%5c..%5cb"), EINVAL, "backslashes");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/.git/config"), EINVAL, "dot files");
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/./index.html"), EINVAL);
	cr_assert_eq(wa_path_file(out, sizeof(out), "/srv/www", "/x%00.html"), EINVAL);
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
	cr_assert_eq(wa_query_get("q=", "q", v, sizeof(v)), 1);
	cr_assert_str_eq(v, "");
}
