/* Helpers shared by the parser tests: fixture files and parsing with defaults. */
#ifndef PARSER_TEST_CORPUS_H
#define PARSER_TEST_CORPUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>

#include "parser_int.h"

/* Reads a whole file; *len gets its size. NULL if it cannot be read. */
static inline char *corpus_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* Option tags the tests treat as supported by "loaded modules". */
static inline void corpus_options(void)
{
	sipd_support_option("timer");
	sipd_support_option("100rel");
	sipd_support_option("replaces");
	sipd_support_option("path");
}

static inline struct sipd_msg *parse_str(const char *s)
{
	struct sipd_msg *m = NULL;
	const char *why = NULL;

	if (parser_parse(&m, s, strlen(s), NULL, &why))
		return NULL;
	return m;
}

#endif
