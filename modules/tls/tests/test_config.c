/* TLS configuration errors as sipd -c reports them: each names modules.conf:line and what is wrong. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

static char dir[] = "/tmp/sipd_tls_cfgXXXXXX";

/* A self-signed certificate and key, and a second key that matches nothing. */
static void setup(void)
{
	char cmd[1024];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
		 "-subj /CN=sipd.test -keyout key.pem -out cert.pem >/dev/null 2>&1 && "
		 "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.pem >/dev/null "
		 "2>&1 && "
		 "echo 'request_route { exit; }' > routing.cfg && echo 'not a certificate' > junk.pem",
		 dir);
	cr_assert_eq(system(cmd), 0, "openssl could not make the test certificate");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

/*
 * Writes a modules.conf whose tls entry holds tls_params starting on line 6,
 * runs sipd -c on it, returns its exit status and its stderr in out.
 */
static int check(const char *tls_params, char *out, size_t size)
{
	char conf[512], cmd[1024];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/modules.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"core = { routing = \"routing.cfg\"; database = \"%s/sipd.db\"; };\n"
		"modules = (\n"
		"  { name = \"parser\"; },\n"
		"  { name = \"tcp\"; },\n"
		"  { name = \"tls\";\n"
		"%s\n"
		"  }\n"
		");\n",
		dir, tls_params);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && %s -c -f %s 2>&1", dir, SIPD_BIN, conf);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	size_t n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_error(const char *params, const char *where, const char *what)
{
	char out[8192];
	int code = check(params, out, sizeof(out));

	cr_expect_neq(code, 0, "sipd -c accepted: %s", params);
	cr_expect(strstr(out, where) != NULL, "no \"%s\" in:\n%s", where, out);
	cr_expect(strstr(out, what) != NULL, "no \"%s\" in:\n%s", what, out);
}

TestSuite(tls_config, .init = setup, .fini = teardown);

Test(tls_config, a_good_configuration_passes)
{
	char out[8192], p[512];

	snprintf(
	    p, sizeof(p),
	    "    certificate = \"%s/cert.pem\"; private_key = \"%s/key.pem\"; ca_file = \"%s/cert.pem\";",
	    dir, dir, dir);
	cr_expect_eq(check(p, out, sizeof(out)), 0, "sipd -c failed:\n%s", out);
}

Test(tls_config, a_missing_certificate_names_its_line)
{
	expect_error("    verify_client = \"none\";\n    certificate = \"/nonexistent/cert.pem\";",
		     "modules.conf:7: parameter 'certificate'", "cannot read /nonexistent/cert.pem");
}

Test(tls_config, a_file_without_a_certificate_is_refused)
{
	char p[512];

	snprintf(p, sizeof(p), "    certificate = \"%s/junk.pem\"; private_key = \"%s/key.pem\";", dir, dir);
	expect_error(p, "modules.conf:6: parameter 'certificate'", "holds no usable PEM certificate");
}

Test(tls_config, a_key_of_another_certificate_is_refused)
{
	char p[512];

	snprintf(p, sizeof(p), "    certificate = \"%s/cert.pem\";\n    private_key = \"%s/other.pem\";", dir,
		 dir);
	expect_error(p, "modules.conf:7: parameter 'private_key'", "does not match the certificate");
}

Test(tls_config, an_unknown_verify_client_value_is_refused)
{
	expect_error("    verify_client = \"sometimes\";", "modules.conf:6: parameter 'verify_client'",
		     "\"sometimes\" is not one of none, optional, required");
}

Test(tls_config, a_cipher_list_that_matches_nothing_is_refused)
{
	expect_error("\n    ciphers = \"NOSUCHCIPHER\";", "modules.conf:7: parameter 'ciphers'",
		     "NOSUCHCIPHER");
}

Test(tls_config, an_unreadable_ca_file_is_refused)
{
	expect_error("    ca_file = \"/nonexistent/ca.pem\";", "modules.conf:6: parameter 'ca_file'",
		     "cannot read /nonexistent/ca.pem");
}

Test(tls_config, a_key_without_certificate_is_refused)
{
	char p[512];

	snprintf(p, sizeof(p), "    private_key = \"%s/key.pem\";", dir);
	expect_error(p, "modules.conf:5: parameter 'certificate'",
		     "private_key is set but certificate is not");
}

Test(tls_config, a_wrong_type_is_reported_by_the_core)
{
	expect_error("    handshake_timeout = \"soon\";", "modules.conf:6:", "expects an integer");
}
