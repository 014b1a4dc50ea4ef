/* HTTP answers (security headers, JSON, errors), errno to status, and request bodies with their limits. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include <sipd/log.h>

#include "webadmin.h"

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "media-src 'self' blob:; frame-ancestors 'none'";

int wa_status_of(int err)
{
	switch (err) {
	case 0:
		return 200;
	case EINVAL:
	case EBADMSG:
	case ERANGE:
	case ENAMETOOLONG:
		return 400;
	case EACCES:
	case EPERM:
		return 403;
	case ENOENT:
	case ESRCH:
		return 404;
	case EEXIST:
		return 409;
	case EFBIG:
	case EMSGSIZE:
		return 413;
	case ENOTSUP:
		return 415;
	case EBUSY:
	case EAGAIN:
	case ENODEV:
	case ESHUTDOWN:
	case ECONNREFUSED:
		return 503;
	default:
		return 500;
	}
}

void wa_send_head(struct mg_connection *c, int status, const char *content_type, long long length,
		  const char *extra)
{
	char len[32];

	mg_response_header_start(c, status);
	mg_response_header_add(c, "Content-Security-Policy", csp, -1);
	mg_response_header_add(c, "X-Content-Type-Options", "nosniff", -1);
	mg_response_header_add(c, "Referrer-Policy", "no-referrer", -1);
	mg_response_header_add(c, "X-Frame-Options", "DENY", -1);
	if (content_type)
		mg_response_header_add(c, "Content-Type", content_type, -1);
	if (length >= 0) {
		snprintf(len, sizeof(len), "%lld", length);
		mg_response_header_add(c, "Content-Length", len, -1);
	}
	if (extra)
		mg_response_header_add_lines(c, extra);
	mg_response_header_send(c);
}

int wa_send_json(struct mg_connection *c, int status, json_t *body, const char *extra)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	size_t n;

	if (!text) {
		status = 500;
		text = strdup("{\"error\":\"out of memory\"}");
		if (!text)
			return 500;
	}
	n = strlen(text);
	char hdr[512];
	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\n%s", extra ? extra : "");
	wa_send_head(c, status, "application/json", (long long)n + 1, hdr);
	mg_write(c, text, n);
	mg_write(c, "\n", 1);
	free(text);
	return status;
}

/*
 * An error text may quote what the client sent (the JSON parser's excerpt of
 * a malformed body) or be cut inside a character: a JSON string must be
 * UTF-8, so then every byte outside ASCII becomes '?'.
 */
static void utf8_or_ascii(char *s)
{
	if (wa_utf8_valid(s))
		return;
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

int wa_send_error(struct mg_connection *c, int status, json_t *extra_fields, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_or_ascii(msg);
	body = json_pack("{s:s}", "error", msg);
	if (body && extra_fields)
		json_object_update(body, extra_fields);
	json_decref(extra_fields);
	status = wa_send_json(c, status, body, NULL);
	json_decref(body);
	return status;
}

int wa_send_rpc_error(struct mg_connection *c, int err, json_t *result)
{
	json_t *msg = json_is_object(result) ? json_object_get(result, "message") : result;
	json_t *errors = json_is_object(result) ? json_object_get(result, "errors") : NULL;
	const char *text = json_is_string(msg) ? json_string_value(msg) : strerror(err);

	if (errors) {
		return wa_send_error(c, 422, json_pack("{s:O}", "errors", errors), "%s", text);
	}
	return wa_send_error(c, wa_status_of(err), NULL, "%s", text);
}

int wa_read_body(struct mg_connection *c, char **out, size_t *len, size_t max)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	size_t cap = ri->content_length >= 0 ? (size_t)ri->content_length : 4096, n = 0;
	char *buf;

	if (ri->content_length > (long long)max)
		return EFBIG;
	if (!(buf = malloc(cap + 1)))
		return ENOMEM;
	for (;;) {
		if (n == cap) {
			if (ri->content_length >= 0)
				break;
			if (cap >= max + 1) {
				free(buf);
				return EFBIG;
			}
			size_t grown_cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *grown = realloc(buf, grown_cap + 1);
			if (!grown) {
				free(buf);
				return ENOMEM;
			}
			buf = grown;
			cap = grown_cap;
		}
		int r = mg_read(c, buf + n, cap - n);
		if (r < 0) {
			free(buf);
			return EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int wa_json_parse(const char *content_type, const char *body, size_t len, json_t **out, char *msg,
		  size_t msglen)
{
	json_error_t jerr;
	json_t *j;
	size_t tlen = strlen("application/json");

	if (!content_type || strncasecmp(content_type, "application/json", tlen) != 0 ||
	    (content_type[tlen] && content_type[tlen] != ';' && content_type[tlen] != ' ')) {
		snprintf(msg, msglen, "the body must be JSON (Content-Type: application/json)");
		return 415;
	}
	if (len > (size_t)wa_max_body) {
		snprintf(msg, msglen, "the body is larger than %d bytes", wa_max_body);
		return 413;
	}
	/* jansson refuses invalid UTF-8 and NUL inside strings by default. */
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		snprintf(msg, msglen, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
			 jerr.text);
		return 400;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(msg, msglen, "the body must be a JSON object");
		return 400;
	}
	*out = j;
	return 0;
}

int wa_json_body(struct mg_connection *c, json_t **out)
{
	char msg[512];
	char *body = NULL;
	size_t len = 0;
	const char *ct = mg_get_header(c, "Content-Type");
	int st;

	/* The type first: a wrong one is refused without reading what may be a large body. */
	if ((st = wa_json_parse(ct, "", 0, out, msg, sizeof(msg))) == 415)
		return wa_send_error(c, 415, NULL, "%s", msg);
	int err = wa_read_body(c, &body, &len, (size_t)wa_max_body);
	if (err == EFBIG)
		return wa_send_error(c, 413, NULL, "the body is larger than %d bytes", wa_max_body);
	if (err)
		return wa_send_error(c, 400, NULL, "cannot read the body: %s", strerror(err));
	st = wa_json_parse(ct, body, len, out, msg, sizeof(msg));
	free(body);
	if (st)
		return wa_send_error(c, st, NULL, "%s", msg);
	return 0;
}

int wa_method_not_allowed(struct mg_connection *c, const char *allow)
{
	char extra[128];
	json_t *body = json_pack("{s:s}", "error", "method not allowed");

	snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	wa_send_json(c, 405, body, extra);
	json_decref(body);
	return 405;
}

const char *wa_log_safe(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)(in ? in : ""); *p && o + 1 < size; p++)
		out[o++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
	out[o] = '\0';
	return out;
}
