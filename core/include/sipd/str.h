/* Length-delimited string slices: the currency of the message API. */
#ifndef SIPD_STR_H
#define SIPD_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* A slice: p points into a buffer someone else owns; not NUL-terminated. */
struct sipd_str {
	const char *p;
	size_t len;
};

#define SIPD_STR(lit) ((struct sipd_str){(lit), sizeof(lit) - 1})
#define SIPD_STR_NULL ((struct sipd_str){NULL, 0})
/* printf helper: printf("%.*s", SIPD_STR_FMT(s)) */
#define SIPD_STR_FMT(s) (int)(s).len, (s).p

static inline struct sipd_str sipd_str_c(const char *cstr)
{
	struct sipd_str s = {cstr, cstr ? strlen(cstr) : 0};
	return s;
}

static inline bool sipd_str_empty(struct sipd_str s)
{
	return s.len == 0;
}

static inline bool sipd_str_eq(struct sipd_str a, struct sipd_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Case-insensitive (ASCII) equality, as SIP header names and tokens need. */
static inline bool sipd_str_caseeq(struct sipd_str a, struct sipd_str b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

static inline bool sipd_str_caseeq_c(struct sipd_str a, const char *b)
{
	return sipd_str_caseeq(a, sipd_str_c(b));
}

/* Longest decimal form of a uint64_t, with its NUL. */
#define SIPD_UTOA_MAX 21

/*
 * v in decimal into buf (SIPD_UTOA_MAX bytes at least), NUL-terminated; returns the
 * number of digits. For the numbers of every message (ports, lengths, status codes),
 * where snprintf's format parsing costs more than the digits.
 */
static inline size_t sipd_utoa(char *buf, uint64_t v)
{
	char tmp[SIPD_UTOA_MAX];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

#endif
