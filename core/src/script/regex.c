/*
 * Regular expressions of routing scripts, checked before regcomp: glibc
 * compiles stacked repetition operators ("D+++") and nested bounded
 * repetitions ("((a{50}){50}){50}") into automata whose size grows
 * exponentially, gigabytes for a short pattern (found by fuzz_script).
 * A script must fail to compile with a clear error instead.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "script_int.h"

/* Nested groups in one pattern, and atoms once every bounded repetition is expanded. */
#define REGEX_MAX_DEPTH 32
#define REGEX_MAX_ATOMS 100000

struct weight {
	uint64_t total; /* atoms of the group so far */
	uint64_t last;  /* atoms of its last piece, which a repetition operator applies to */
};

static uint64_t saturating_mul(uint64_t a, uint64_t b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* The upper count of a bound "{m}", "{m,}" or "{m,n}" at p (after '{'); 0 when it is none. */
static uint64_t bound_count(const char *p, const char **end)
{
	uint64_t m = 0, n;
	const char *q = p;

	if (*q < '0' || *q > '9')
		return 0;
	while (*q >= '0' && *q <= '9' && m < 1000000)
		m = m * 10 + (uint64_t)(*q++ - '0');
	n = m;
	if (*q == ',') {
		q++;
		if (*q == '}') {
			n = m + 1; /* "{m,}": m copies and a starred one */
		} else {
			for (n = 0; *q >= '0' && *q <= '9' && n < 1000000; q++)
				n = n * 10 + (uint64_t)(*q - '0');
		}
	}
	if (*q != '}')
		return 0;
	*end = q;
	return n ? n : 1;
}

/* The end of the bracket expression starting at p ('['), or NULL when unterminated (regcomp says why). */
static const char *bracket_end(const char *p)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	for (; *q; q++) {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			const char *close = strchr(q + 2, q[1]);

			if (!close || close[1] != ']')
				return NULL;
			q = close + 1;
		} else if (*q == ']') {
			return q;
		}
	}
	return NULL;
}

static int check(const char *pattern, char *why, size_t whylen)
{
	struct weight stack[REGEX_MAX_DEPTH + 1] = {{0, 0}};
	unsigned depth = 0;
	bool after_repeat = false;

	for (const char *p = pattern; *p; p++) {
		uint64_t piece = 1, count = 0;
		const char *end = p;

		switch (*p) {
		case '+':
			count = 2; /* glibc copies the piece: "a+" is "aa*" */
			break;
		case '*':
		case '?':
			count = 1;
			break;
		case '{':
			count = bound_count(p + 1, &end);
			break;
		case '(':
			if (depth == REGEX_MAX_DEPTH) {
				snprintf(why, whylen, "groups nested more than %d deep", REGEX_MAX_DEPTH);
				return EINVAL;
			}
			stack[++depth] = (struct weight){0, 0};
			after_repeat = false;
			continue;
		case ')':
			if (!depth)
				break; /* regcomp says what is wrong */
			piece = stack[depth].total ? stack[depth].total : 1;
			depth--;
			break;
		case '|':
		case '^':
		case '$':
			piece = 0;
			break;
		case '\\':
			if (p[1])
				p++;
			break;
		case '[':
			if (!(end = bracket_end(p)))
				return 0;
			p = end;
			break;
		default:
			break;
		}
		if (count) {
			if (after_repeat) {
				snprintf(why, whylen, "a repetition operator follows another at offset %zu",
					 (size_t)(p - pattern));
				return EINVAL;
			}
			/* The piece repeated: its atoms count count times. */
			stack[depth].total += saturating_mul(stack[depth].last, count - 1);
			stack[depth].last = saturating_mul(stack[depth].last, count);
			p = end;
			after_repeat = true;
		} else {
			stack[depth].total += piece;
			stack[depth].last = piece;
			after_repeat = false;
		}
		if (stack[depth].total > REGEX_MAX_ATOMS) {
			snprintf(why, whylen, "too large once its repetitions are expanded (over %d atoms)",
				 REGEX_MAX_ATOMS);
			return EINVAL;
		}
	}
	return 0;
}

int script_regex_compile(regex_t *re, const char *pattern, int flags, char *why, size_t whylen)
{
	int rc;

	if (check(pattern, why, whylen))
		return EINVAL;
	if ((rc = regcomp(re, pattern, flags)) != 0) {
		regerror(rc, re, why, whylen);
		return EINVAL;
	}
	return 0;
}
