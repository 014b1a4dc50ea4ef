/* Compiler tests: every construct compiles, every error class names the right file:line:column. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "script_test.h"

TestSuite(script_compile, .init = script_test_setup, .fini = script_test_teardown);

static int compile_str(const char *text, char *err, size_t errlen)
{
	struct script *s = NULL;
	int rc = script_compile_text(&s, "t.cfg", text, strlen(text), err, errlen);
	script_free(s);
	return rc;
}

Test(script_compile, every_construct)
{
	char err[1024] = "";
	struct script *s = NULL;
	int rc = script_compile(&s, SIPD_TEST_DATA "/script/all_constructs.cfg", err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(s->nroutes, 7);
	cr_assert_eq(s->nvars, 2);
	/* Kinds flow through route(): HELPER and CHECK run in request_route only. */
	for (unsigned i = 0; i < s->nroutes; i++) {
		const struct script_route *r = &s->routes[i];
		if (r->name && (!strcmp(r->name, "HELPER") || !strcmp(r->name, "CHECK")))
			cr_assert_eq(r->reach, SIPD_ROUTE_REQUEST, "%s", r->name);
		if (r->name && !strcmp(r->name, "UNUSED"))
			cr_assert_eq(r->reach, 0);
		if (r->name && !strcmp(r->name, "FAIL_A"))
			cr_assert_eq(r->reach, SIPD_ROUTE_FAILURE);
	}
	script_free(s);
}

static const char *const bad_fixtures[] = {
    "bad_unknown_fn",   "bad_arg_count",  "bad_arg_type",      "bad_route_kind",      "bad_missing_semi",
    "bad_unterminated", "bad_escape",     "bad_unknown_route", "bad_unknown_pv",      "bad_no_request_route",
    "bad_duplicate",    "bad_reply_code", "bad_regex",         "bad_unexpected",      "bad_log_level",
    "bad_append_hf",    "bad_route_arg",  "bad_assign",        "bad_route_call_kind", "bad_comment",
};

/* Each fixture's first line says "# expect: LINE:COL: message-prefix". */
Test(script_compile, error_fixtures)
{
	for (size_t i = 0; i < sizeof(bad_fixtures) / sizeof(bad_fixtures[0]); i++) {
		char path[512], first[256], want[1024], err[2048] = "";
		struct script *s = NULL;
		snprintf(path, sizeof(path), "%s/script/%s.cfg", SIPD_TEST_DATA, bad_fixtures[i]);
		FILE *f = fopen(path, "r");
		cr_assert_not_null(f, "%s", path);
		cr_assert_not_null(fgets(first, sizeof(first), f));
		fclose(f);
		first[strcspn(first, "\n")] = '\0';
		cr_assert(strncmp(first, "# expect: ", 10) == 0, "%s has no expect line", path);
		snprintf(want, sizeof(want), "%s:%s", path, first + 10);

		int rc = script_compile(&s, path, err, sizeof(err));
		cr_assert_eq(rc, EINVAL, "%s compiled (rc %d)", bad_fixtures[i], rc);
		cr_assert_null(s);
		cr_assert(strncmp(err, want, strlen(want)) == 0, "%s:\n got: %s\nwant: %s", bad_fixtures[i],
			  err, want);
	}
}

Test(script_compile, caret_under_column)
{
	char err[512];
	cr_assert_eq(compile_str("request_route {\n\tt_count();\n\tbogus(1);\n}\n", err, sizeof(err)),
		     EINVAL);
	cr_assert_str_eq(err, "t.cfg:3:2: unknown function 'bogus'\n\tbogus(1);\n\t^");
}

Test(script_compile, argument_types)
{
	char err[512];
	/* STR where INT is declared, too many arguments, unknown route in a ROUTE argument, bad REGEX. */
	cr_assert_eq(compile_str("request_route { t_int(1, \"a\", 3); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t_int() takes 1 to 2 arguments, got 3"), "%s", err);
	cr_assert_eq(compile_str("request_route { t_int(1, 2); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "argument 2 of t_int() must be a string"), "%s", err);
	cr_assert_eq(compile_str("request_route { t_route(NOPE); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "unknown route 'NOPE' in t_route()"), "%s", err);
	cr_assert_eq(compile_str("request_route { is_method(\"INVITE||BYE\"); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "is_method(): empty method name"), "%s", err);
	cr_assert_eq(compile_str("request_route { reply(\"200\", \"OK\"); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "argument 1 of reply() must be an integer"), "%s", err);
	cr_assert_eq(compile_str("request_route { log(\"info\", \"$zz\"); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:30: unknown pseudo-variable $zz"), "%s", err);
	cr_assert_eq(compile_str("request_route { if ($hdr == \"\") exit; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "$hdr needs a parameter"), "%s", err);
	cr_assert_eq(compile_str("request_route { if ($rm(x) == \"\") exit; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "$rm takes no parameter"), "%s", err);
}

/* Patterns glibc would compile into gigabytes are refused with a reason (fuzz_script found "UD+++...P"). */
Test(script_compile, regexes_that_would_blow_up_are_refused)
{
	static const char *const fine[] = {
	    "^sip:[a-z0-9.+-]+@(example\\\\.com|test)$",
	    "a{32767}",
	    "(a{255}){255}",
	    "(.*){1000}",
	    "(a+)+b",
	    "x{2,}y?z*",
	    "[[:alpha:]+*]{3}",
	    "\\\\++",
	    "a{2,5}b",
	};
	static const struct {
		const char *re, *why;
	} refused[] = {
	    {"UD+++P", "bad regular expression: a repetition operator follows another at offset 3"},
	    {"a*?", "a repetition operator follows another at offset 2"},
	    {"a{2}{3}", "a repetition operator follows another at offset 4"},
	    {"((a{50}){50}){50}", "too large once its repetitions are expanded (over 100000 atoms)"},
	    {"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))",
	     "groups nested more than 32 deep"},
	};
	char text[512], err[1024];

	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		snprintf(text, sizeof(text), "request_route { if ($ru =~ \"%s\") exit; }", fine[i]);
		cr_assert_eq(compile_str(text, err, sizeof(err)), 0, "%s: %s", fine[i], err);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(text, sizeof(text), "request_route { if ($ru =~ \"%s\") exit; }", refused[i].re);
		cr_assert_eq(compile_str(text, err, sizeof(err)), EINVAL, "%s compiled", refused[i].re);
		cr_assert(strstr(err, "t.cfg:1:28: ") && strstr(err, refused[i].why), "%s: %s", refused[i].re,
			  err);
	}
}

Test(script_compile, route_kind_checks)
{
	char err[512];
	/* reply() is not allowed in reply_route, directly or through route(). */
	cr_assert_eq(
	    compile_str("request_route { exit; }\nreply_route { reply(200, \"x\"); }", err, sizeof(err)),
	    EINVAL);
	cr_assert(strstr(err, "t.cfg:2:15: reply() is not allowed in a reply_route"), "%s", err);
	cr_assert_eq(compile_str("request_route { route(A); }\nreply_route { route(B); }\n"
				 "route B { route(A); }\nroute A { uri_is_myself(); }",
				 err, sizeof(err)),
		     EINVAL);
	cr_assert(strstr(err, "uri_is_myself() is not allowed in a reply_route (route A is called from one)"),
		  "%s", err);
	/* The same function in a route only request_route reaches is fine. */
	cr_assert_eq(compile_str("request_route { route(A); }\nroute A { route(A); uri_is_myself(); }", err,
				 sizeof(err)),
		     0, "%s", err);
}

Test(script_compile, syntax_errors)
{
	char err[512];
	cr_assert_eq(compile_str("request_route { if ($rm == \"A\" exit; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:32: unexpected 'exit', expected ')'"), "%s", err);
	cr_assert_eq(compile_str("request_route { t_count()", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:26: missing ';' at end of file"), "%s", err);
	cr_assert_eq(compile_str("request_route { t_count();", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "unexpected end of file, missing '}'"), "%s", err);
	cr_assert_eq(compile_str("request_route { else t_count(); }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "'else' without a matching 'if'"), "%s", err);
	cr_assert_eq(compile_str("request_route { } request_route { }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:19: duplicate request_route"), "%s", err);
	cr_assert_eq(compile_str("request_route { $ru == \"x\"; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "expected '='"), "%s", err);
	cr_assert_eq(compile_str("request_route { if ($rm =~ $ru) exit; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "must be a string literal"), "%s", err);
	cr_assert_eq(compile_str("request_route { x = 1; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:19: unexpected '=', expected '('"), "%s", err);
	cr_assert_eq(compile_str("request_route { return 99999999999999999999; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "integer out of range"), "%s", err);
	cr_assert_eq(compile_str("request_route { t_count(); } @", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "t.cfg:1:30: unexpected character '@'"), "%s", err);
	cr_assert_eq(compile_str("foo { }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "expected request_route, reply_route, failure_route or route"), "%s", err);
	cr_assert_eq(compile_str("request_route { if ($var() == 1) exit; }", err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, "$var needs a name"), "%s", err);
}

Test(script_compile, missing_file)
{
	char err[512];
	cr_assert_eq(script_check("/nonexistent/routing.cfg", err, sizeof(err)), ENOENT);
	cr_assert(strstr(err, "/nonexistent/routing.cfg: cannot open"), "%s", err);
}

static int t_pv(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return ENOENT;
}

Test(script_compile, registry_rejects_bad_tables)
{
	static const struct sipd_script_fn dup[] = {{.name = "t_count", .fn = t_count}, {.name = NULL}};
	static const struct sipd_script_fn bad_opt[] = {
	    {.name = "x_bad", .fn = t_count, .args = {SIPD_ARG_INT | SIPD_ARG_OPTIONAL, SIPD_ARG_INT}},
	    {.name = NULL},
	};
	cr_assert_eq(sipd_script_register("other", dup), EEXIST);
	cr_assert_eq(sipd_script_register("other", bad_opt), EINVAL);
	cr_assert_eq(sipd_pv_register("rm", false, NULL), EINVAL);
	cr_assert_eq(sipd_pv_register("bad name", false, t_pv), EINVAL);
	cr_assert_eq(sipd_pv_register("rm", false, t_pv), EEXIST);
}

/* Blocks nested without end overflowed the stack of the recursive parser (found by tests/fuzz/fuzz_script):
 * 64 levels compile, deeper is an error at the block that goes too deep. */
Test(script_compile, nesting_is_bounded)
{
	char text[1024], err[256];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "request_route ");
	for (int i = 0; i < 64; i++)
		text[n++] = '{';
	for (int i = 0; i < 64; i++)
		text[n++] = '}';
	text[n] = '\0';
	cr_assert_eq(compile_str(text, err, sizeof(err)), 0, "%s", err);
	n = (size_t)snprintf(text, sizeof(text), "request_route ");
	for (int i = 0; i < 65; i++)
		text[n++] = '{';
	for (int i = 0; i < 65; i++)
		text[n++] = '}';
	text[n] = '\0';
	cr_assert_neq(compile_str(text, err, sizeof(err)), 0);
	cr_assert(strstr(err, "blocks nested deeper than 64"), "%s", err);
}

/* The same for parentheses and '!' inside an expression. */
Test(script_compile, expression_nesting_is_bounded)
{
	char text[1024], err[256];
	int n = snprintf(text, sizeof(text), "request_route { if (");

	for (int i = 0; i < 100; i++)
		text[n++] = '(';
	n += snprintf(text + n, sizeof(text) - (size_t)n, "1");
	for (int i = 0; i < 100; i++)
		text[n++] = ')';
	snprintf(text + n, sizeof(text) - (size_t)n, ") { exit; } }");
	cr_assert_neq(compile_str(text, err, sizeof(err)), 0);
	cr_assert(strstr(err, "expression nested deeper than 64"), "%s", err);
	cr_assert_eq(compile_str("request_route { if (!!((!(1)))) { exit; } }", err, sizeof(err)), 0, "%s",
		     err);
}
