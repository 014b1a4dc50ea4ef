/* Compile errors in the gcc form: file:line:col, the source line, and a caret under the column. */
#include <stdio.h>

#include "script_int.h"

void script_errorf(const struct script_src *src, int line, int col, char *err, size_t errlen, const char *fmt,
		   ...)
{
	size_t n = 0;
	int w;

	if (!err || errlen == 0)
		return;
	w = snprintf(err, errlen, "%s:%d:%d: ", src->file, line, col);
	n = w < 0 ? 0 : (size_t)w;
	if (n < errlen) {
		va_list ap;
		va_start(ap, fmt);
		w = vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
		n += w < 0 ? 0 : (size_t)w;
	}

	/* Find the line in the source to quote it. */
	const char *p = src->text, *end = src->text + src->len;
	for (int l = 1; l < line && p < end; p++)
		if (*p == '\n')
			l++;
	const char *eol = p;
	while (eol < end && *eol != '\n' && *eol != '\r')
		eol++;
	if (p >= end && line > 1 && col <= 1)
		return; /* error at end of file: no line to show */
	if (n < errlen) {
		w = snprintf(err + n, errlen - n, "\n%.*s\n", (int)(eol - p), p);
		n += w < 0 ? 0 : (size_t)w;
	}
	/* Keep tabs in the caret line so it lines up however the terminal expands them. */
	for (int i = 1; i < col && n + 1 < errlen; i++)
		err[n++] = (p + i - 1 < eol && p[i - 1] == '\t') ? '\t' : ' ';
	if (n + 1 < errlen)
		err[n++] = '^';
	if (n < errlen)
		err[n] = '\0';
	else
		err[errlen - 1] = '\0';
}
