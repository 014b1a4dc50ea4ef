/* Request paths and query strings: percent-decoding, segments, and mapping to a file that stays in webroot.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "webadmin.h"

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int wa_url_decode(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = src[i];
		if (ch == '%') {
			int h, l;
			if (i + 2 >= len || (h = hex(src[i + 1])) < 0 || (l = hex(src[i + 2])) < 0)
				return -1;
			ch = (char)(h << 4 | l);
			i += 2;
		}
		if (ch == '\0' || o + 1 >= size)
			return -1;
		dst[o++] = ch;
	}
	if (!size)
		return -1;
	dst[o] = '\0';
	return (int)o;
}

int wa_path_split(const char *path, char *buf, size_t size, char **seg, int max)
{
	const char *p = path;
	size_t used = 0;
	int n = 0;

	if (!path || path[0] != '/')
		return -1;
	while (*p == '/')
		p++;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (n == max || used + len + 1 > size)
			return -1;
		memcpy(buf + used, p, len);
		buf[used + len] = '\0';
		seg[n++] = buf + used;
		used += len + 1;
		p += len;
		while (*p == '/')
			p++;
	}
	return n;
}

int wa_path_file(char *out, size_t size, const char *root, const char *raw)
{
	char buf[1024];
	char *seg[32];
	int n = wa_path_split(raw, buf, sizeof(buf), seg, 32);
	size_t used;

	if (n < 0)
		return EINVAL;
	used = (size_t)snprintf(out, size, "%s", root);
	if (used >= size)
		return ENAMETOOLONG;
	for (int i = 0; i < n; i++) {
		/* Dot files and "..": nothing hidden is served, and nothing above root. */
		if (seg[i][0] == '.' || seg[i][0] == '\0' || strchr(seg[i], '/') || strchr(seg[i], '\\'))
			return EINVAL;
		int w = snprintf(out + used, size - used, "/%s", seg[i]);
		if (w < 0 || (size_t)w >= size - used)
			return ENAMETOOLONG;
		used += (size_t)w;
	}
	if (n == 0 || raw[strlen(raw) - 1] == '/') {
		int w = snprintf(out + used, size - used, "/index.html");
		if (w < 0 || (size_t)w >= size - used)
			return ENAMETOOLONG;
	}
	return 0;
}

bool wa_utf8_valid(const char *s)
{
	json_t *j = json_string(s); /* jansson refuses invalid UTF-8 */

	json_decref(j);
	return j != NULL;
}

int wa_query_get(const char *query, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p && *p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		if (klen == nlen && strncmp(p, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : p + len;
			size_t vlen = (size_t)(p + len - v);
			char tmp[4096];
			/* '+' means a space in a query string. */
			if (vlen >= sizeof(tmp))
				return -1;
			for (size_t i = 0; i < vlen; i++)
				tmp[i] = v[i] == '+' ? ' ' : v[i];
			/* Values go into JSON (RPC params): text that is not UTF-8 is malformed. */
			return wa_url_decode(out, size, tmp, vlen) < 0 || !wa_utf8_valid(out) ? -1 : 1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}
