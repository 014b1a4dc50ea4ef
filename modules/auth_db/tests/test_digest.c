/* Digest computations against the worked examples of RFC 2617 3.5 and RFC 7616 3.9.1. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "auth_db.h"

static void setup(void)
{
	cr_assert_eq(auth_digest_init(), 0);
}

static void teardown(void)
{
	auth_digest_fini();
}

TestSuite(digest, .init = setup, .fini = teardown);

static char *response(enum auth_algo a, const char *user, const char *realm, const char *pass,
		      const char *nonce, const char *cnonce, const char *method, const char *uri)
{
	static char out[AUTH_HEX_MAX];
	char ha1[AUTH_HEX_MAX];

	cr_assert_eq(auth_ha1(ha1, a, user, realm, pass), 0);
	cr_assert_eq(auth_response(out, a, sipd_str_c(ha1), sipd_str_c(nonce), SIPD_STR("00000001"),
				   sipd_str_c(cnonce), SIPD_STR("auth"), sipd_str_c(method), sipd_str_c(uri)),
		     0);
	return out;
}

Test(digest, rfc2617_md5_qop_auth)
{
	cr_assert_str_eq(response(AUTH_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life",
				  "dcd98b7102dd2f0e8b11d0f600bfb0c093", "0a4f113b", "GET", "/dir/index.html"),
			 "6629fae49393a05397450978507c4ef1");
}

Test(digest, rfc7616_md5)
{
	cr_assert_str_eq(response(AUTH_MD5, "Mufasa", "http-auth@example.org", "Circle of Life",
				  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "GET", "/dir/index.html"),
			 "8ca523f5e9506fed4657c9700eebdbec");
}

Test(digest, rfc7616_sha256)
{
	cr_assert_str_eq(response(AUTH_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life",
				  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "GET", "/dir/index.html"),
			 "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

Test(digest, ha1_md5_known_value)
{
	char ha1[AUTH_HEX_MAX];

	/* MD5("Mufasa:testrealm@host.com:Circle Of Life"), RFC 2617's HA1. */
	cr_assert_eq(auth_ha1(ha1, AUTH_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life"), 0);
	cr_assert_str_eq(ha1, "939e7578ed9e3c518a452acee763bce9");
}

Test(digest, algorithm_names)
{
	enum auth_algo a;

	cr_assert_eq(auth_algo_parse(&a, SIPD_STR("")), 0);
	cr_assert_eq(a, AUTH_MD5);
	cr_assert_eq(auth_algo_parse(&a, SIPD_STR("md5")), 0);
	cr_assert_eq(a, AUTH_MD5);
	cr_assert_eq(auth_algo_parse(&a, SIPD_STR("SHA-256")), 0);
	cr_assert_eq(a, AUTH_SHA256);
	cr_assert_eq(auth_algo_parse(&a, SIPD_STR("MD5-sess")), ENOTSUP);
	cr_assert_eq(auth_algo_parse(&a, SIPD_STR("SHA-512-256")), ENOTSUP);
	cr_assert_eq(auth_hexlen(AUTH_MD5), 32);
	cr_assert_eq(auth_hexlen(AUTH_SHA256), 64);
}

Test(digest, constant_time_equal)
{
	cr_assert(auth_equal(SIPD_STR("abcd"), SIPD_STR("abcd")));
	cr_assert_not(auth_equal(SIPD_STR("abcd"), SIPD_STR("abce")));
	cr_assert_not(auth_equal(SIPD_STR("abcd"), SIPD_STR("abc")));
}
