/* Test-module helper: appends one line per hook to $SIPD_TEST_TRACE so tests can check the order. */
#ifndef SIPD_TEST_TRACE_H
#define SIPD_TEST_TRACE_H

#include <stdio.h>
#include <stdlib.h>

static void trace(const char *fmt, const char *arg)
{
	const char *path = getenv("SIPD_TEST_TRACE");
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	fprintf(f, fmt, arg);
	fputc('\n', f);
	fclose(f);
}

#endif
