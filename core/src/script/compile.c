/* Compiling a routing script: read the file, parse, resolve; and freeing a compiled script. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "script_int.h"

/* A routing script is small; anything bigger than this is a mistake. */
#define SCRIPT_MAX_FILE (4u << 20)

void script_free(struct script *s)
{
	if (!s)
		return;
	for (struct script_call *c = s->fixed; c; c = c->next_fixed)
		c->entry->fn->free_fixup(c->args);
	for (struct script_regex *r = s->regexes; r; r = r->next)
		regfree(&r->re);
	free(s->routes);
	free(s->path);
	script_arena_free(&s->arena);
	free(s);
}

int script_compile_text(struct script **out, const char *file, const char *text, size_t len, char *err,
			size_t errlen)
{
	struct script_comp c = {0};
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!(c.s = calloc(1, sizeof(*c.s))))
		return ENOMEM;
	if (!(c.s->path = strdup(file))) {
		rc = ENOMEM;
		goto out;
	}
	c.src = (struct script_src){c.s->path, text, len};
	c.err = err;
	c.errlen = errlen;
	if (memchr(text, '\0', len)) {
		const char *z = memchr(text, '\0', len);
		int line = 1, col = 1;
		for (const char *p = text; p < z; p++, col++)
			if (*p == '\n') {
				line++;
				col = 0;
			}
		script_errorf(&c.src, line, col, err, errlen, "NUL byte in script");
		rc = EINVAL;
		goto out;
	}
	if ((rc = script_parse(&c)) || (rc = script_resolve(&c)))
		goto out;
	*out = c.s;
	c.s = NULL;
out:
	if (rc == ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", file);
	script_free(c.s);
	return rc;
}

int script_compile(struct script **out, const char *path, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *text = NULL;
	struct stat st;
	int rc = 0;

	if (!(f = fopen(path, "rb"))) {
		rc = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(rc));
		goto out;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)SCRIPT_MAX_FILE) {
		rc = EINVAL;
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", path, SCRIPT_MAX_FILE);
		goto out;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		rc = ENOMEM;
		goto out;
	}
	size_t n = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		rc = EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	text[n] = '\0';
	rc = script_compile_text(out, path, text, n, err, errlen);
out:
	free(text);
	if (f)
		fclose(f);
	return rc;
}
