/*
 * A minimal stand-in for Criterion's API, used only to run the threaded unit
 * tests under ThreadSanitizer: Criterion's runner cannot start under TSan
 * (its inheritable arena fails), so these tests run in-process, in order.
 * Covers the subset of macros those tests use; anything else fails to compile.
 */
#ifndef SIPD_TSAN_CRITERION_H
#define SIPD_TSAN_CRITERION_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cr_opts {
	void (*init)(void);
	void (*fini)(void);
	double timeout;
};

struct cr_test {
	const char *suite, *name;
	void (*fn)(void);
	const struct cr_opts *opts;
	struct cr_test *next;
};

struct cr_suite {
	const char *name;
	const struct cr_opts *opts;
	struct cr_suite *next;
};

static struct cr_test *cr_tests, **cr_tests_tail = &cr_tests;
static struct cr_suite *cr_suites;
static jmp_buf cr_abort;
static bool cr_failed;

static inline void cr_register_test(struct cr_test *t)
{
	*cr_tests_tail = t;
	cr_tests_tail = &t->next;
}

static inline void cr_register_suite(struct cr_suite *s)
{
	s->next = cr_suites;
	cr_suites = s;
}

static inline void cr_check_(bool fatal, bool ok, const char *expr, const char *file, int line,
			     const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	cr_failed = true;
	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
	if (fmt && *fmt) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	if (fatal)
		longjmp(cr_abort, 1);
}

#define CR_CHECK(fatal, ok, expr, ...) cr_check_((fatal), (ok), (expr), __FILE__, __LINE__, "" __VA_ARGS__)

#define cr_assert(cond, ...)        CR_CHECK(true, (cond), #cond, __VA_ARGS__)
#define cr_expect(cond, ...)        CR_CHECK(false, (cond), #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...)    CR_CHECK(true, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_not(cond, ...)    CR_CHECK(false, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...)     CR_CHECK(true, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)     CR_CHECK(false, (a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)    CR_CHECK(true, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)    CR_CHECK(false, (a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)     CR_CHECK(true, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)     CR_CHECK(false, (a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)    CR_CHECK(true, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)    CR_CHECK(false, (a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)     CR_CHECK(true, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)     CR_CHECK(false, (a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)    CR_CHECK(true, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)    CR_CHECK(false, (a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)      CR_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)      CR_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...)  CR_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...)  CR_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) CR_CHECK(true, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) CR_CHECK(false, strcmp((a), (b)) == 0, #a " == " #b, __VA_ARGS__)
#define cr_log_info(...)            (printf(__VA_ARGS__), putchar('\n'))
#define cr_log_warn(...)            (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

#define TestSuite(suite, ...)                                                                                \
	static const struct cr_opts cr_suite_opts_##suite = {__VA_ARGS__};                                   \
	static struct cr_suite cr_suite_##suite = {#suite, &cr_suite_opts_##suite, NULL};                    \
	__attribute__((constructor)) static void cr_suite_reg_##suite(void)                                  \
	{                                                                                                    \
		cr_register_suite(&cr_suite_##suite);                                                        \
	}

#define Test(suite, name, ...)                                                                               \
	static void cr_fn_##suite##_##name(void);                                                            \
	static const struct cr_opts cr_opts_##suite##_##name = {__VA_ARGS__};                                \
	static struct cr_test cr_test_##suite##_##name = {#suite, #name, cr_fn_##suite##_##name,             \
							  &cr_opts_##suite##_##name, NULL};                  \
	__attribute__((constructor)) static void cr_reg_##suite##_##name(void)                               \
	{                                                                                                    \
		cr_register_test(&cr_test_##suite##_##name);                                                 \
	}                                                                                                    \
	static void cr_fn_##suite##_##name(void)

static inline const struct cr_opts *cr_suite_opts(const char *name)
{
	for (struct cr_suite *s = cr_suites; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s->opts;
	return NULL;
}

/* Runs init and the test body; a fatal assertion jumps back here. */
static inline void cr_run_body(void (*volatile init)(void), void (*volatile fn)(void))
{
	if (setjmp(cr_abort) == 0) {
		if (init)
			init();
		fn();
	}
}

int main(void)
{
	unsigned passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (struct cr_test *t = cr_tests; t; t = t->next) {
		const struct cr_opts *so = cr_suite_opts(t->suite);
		void (*init)(void) = t->opts->init ? t->opts->init : (so ? so->init : NULL);
		void (*fini)(void) = t->opts->fini ? t->opts->fini : (so ? so->fini : NULL);

		cr_failed = false;
		cr_run_body(init, t->fn);
		if (fini)
			fini();
		printf("[%s] %s::%s\n", cr_failed ? "FAIL" : "PASS", t->suite, t->name);
		if (cr_failed)
			failed++;
		else
			passed++;
	}
	printf("Synthesis: Tested: %u | Passing: %u | Failing: %u\n", passed + failed, passed, failed);
	return failed ? 1 : 0;
}

#endif
