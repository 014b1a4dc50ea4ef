/* PBKDF2 admin password hashes: format, verify, salts, tampering; random passwords and tokens. */
#include <string.h>

#include <errno.h>
#include <stdio.h>

#include <criterion/criterion.h>

#include "webadmin.h"

/* Few iterations keep the test fast; the format and the check are the same at 600 000. */
#define ITER 1000

Test(password, hash_then_verify)
{
	char h[WA_HASH_MAX];

	cr_assert_eq(wa_password_hash(h, sizeof(h), "correct horse", ITER), 0);
	cr_assert_eq(strncmp(h, "pbkdf2-sha256$1000$", 19), 0, "%s", h);
	cr_assert(wa_password_verify(h, "correct horse"));
	cr_assert_not(wa_password_verify(h, "correct hors"));
	cr_assert_not(wa_password_verify(h, "correct horse "));
	cr_assert_not(wa_password_verify(h, ""));
}

Test(password, default_cost_is_at_least_600k)
{
	char h[WA_HASH_MAX];

	cr_assert_geq(wa_pbkdf2_iterations, 600000);
	cr_assert_eq(wa_password_hash(h, sizeof(h), "x", wa_pbkdf2_iterations), 0);
	cr_assert(wa_password_verify(h, "x"));
}

Test(password, salts_differ)
{
	char a[WA_HASH_MAX], b[WA_HASH_MAX];

	cr_assert_eq(wa_password_hash(a, sizeof(a), "same", ITER), 0);
	cr_assert_eq(wa_password_hash(b, sizeof(b), "same", ITER), 0);
	cr_assert_str_neq(a, b);
	cr_assert(wa_password_verify(a, "same") && wa_password_verify(b, "same"));
}

Test(password, refuses_bad_input_and_tampered_hashes)
{
	char h[WA_HASH_MAX], t[WA_HASH_MAX];
	char big[1100];

	cr_assert_eq(wa_password_hash(h, sizeof(h), "", ITER), EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(wa_password_hash(h, sizeof(h), big, ITER), EINVAL);
	cr_assert_eq(wa_password_hash(h, 20, "pw", ITER), EINVAL, "too small a buffer");
	cr_assert_eq(wa_password_hash(h, sizeof(h), "pw", ITER), 0);
	/* Fewer iterations in the stored text: the derived key no longer matches. */
	strcpy(t, h);
	t[15] = '9';
	cr_assert_not(wa_password_verify(t, "pw"));
	cr_assert_not(wa_password_verify("pbkdf2-sha256$999999999999$aaaa$bbbb", "pw"));
	cr_assert_not(wa_password_verify("plain:pw", "pw"));
	cr_assert_not(wa_password_verify("pbkdf2-sha256$1000$!!!$xxx", "pw"));
	cr_assert_not(wa_password_verify(NULL, "pw"));
	cr_assert_not(wa_password_verify(h, NULL));
}

Test(password, random_passwords_and_tokens)
{
	char a[21], b[21], t[64];

	cr_assert_eq(wa_password_random(a, 20), 0);
	cr_assert_eq(wa_password_random(b, 20), 0);
	cr_assert_eq(strlen(a), 20);
	cr_assert_str_neq(a, b);
	for (int i = 0; i < 20; i++)
		cr_assert(strchr("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", a[i]));
	cr_assert_eq(wa_token_random(t, sizeof(t), 32), 0);
	cr_assert_eq(strlen(t), 43);
	cr_assert_eq(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	cr_assert_eq(wa_token_random(t, 10, 32), EINVAL);
}
