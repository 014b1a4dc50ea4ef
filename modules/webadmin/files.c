/* Static files of webroot/: GET and HEAD only, no listing, nothing outside webroot (symlinks included). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include "webadmin.h"

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
    {".wav", "audio/wav"},
    {".ogg", "audio/ogg"},
    {".mp3", "audio/mpeg"},
};

static const char *type_of(const char *path)
{
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

int wa_files_serve(struct mg_connection *c, const char *method, const char *raw_path)
{
	char path[PATH_MAX], *real = NULL;
	struct stat st;
	size_t rootlen = strlen(wa_webroot);
	int fd = -1, status;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return wa_method_not_allowed(c, "GET, HEAD");
	if (wa_path_file(path, sizeof(path), wa_webroot, raw_path))
		return wa_send_error(c, 404, NULL, "not found");
	/* A symlink may point anywhere: the resolved file must still be under webroot. */
	if (!(real = realpath(path, NULL)) || strncmp(real, wa_webroot, rootlen) != 0 ||
	    real[rootlen] != '/' || (fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
	    fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		status = wa_send_error(c, 404, NULL, "not found");
		goto out;
	}
	wa_send_head(c, 200, type_of(real), (long long)st.st_size, "Cache-Control: no-cache\r\n");
	status = 200;
	if (!strcmp(method, "HEAD"))
		goto out;
	char buf[8192]; /* civetweb threads have small stacks */
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0 || mg_write(c, buf, (size_t)n) != (int)n)
			break;
	}
out:
	if (fd >= 0)
		close(fd);
	free(real);
	return status;
}
