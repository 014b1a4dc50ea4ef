/* Edits recorded against the original buffer, and serialization that applies them. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser_int.h"

/* Body last, and the blank line that completes an unterminated header block before it. */
#define ORDER_TERM_LF LONG_MIN
#define ORDER_BLANK   (LONG_MAX - 1)
#define ORDER_BODY    LONG_MAX

int parser_edit_add(struct parser_msg *pm, enum parser_edit_kind kind, size_t off, size_t del,
		    struct sipd_str ins, long order, long hdr, long *idx)
{
	struct parser_edit *e;
	int err;

	if (pm->edit_count == pm->edit_cap) {
		size_t cap = pm->edit_cap ? pm->edit_cap * 2 : 8;

		e = parser_arena_alloc(&pm->arena, sizeof(*e) * cap);
		if (!e)
			return ENOMEM;
		if (pm->edit_count)
			memcpy(e, pm->edits, sizeof(*e) * pm->edit_count);
		pm->edits = e;
		pm->edit_cap = cap;
	}
	e = &pm->edits[pm->edit_count];
	err = parser_arena_dup(&pm->arena, &e->ins, ins);
	if (err)
		return err;
	e->kind = kind;
	e->off = off;
	e->del = del;
	e->order = order;
	e->hdr = hdr;
	if (idx)
		*idx = (long)pm->edit_count;
	pm->edit_count++;
	return 0;
}

static int edit_set_ins(struct parser_msg *pm, long idx, struct sipd_str ins)
{
	return parser_arena_dup(&pm->arena, &pm->edits[idx].ins, ins);
}

/* Builds "Name: value\r\n" in the arena. */
static int header_text(struct parser_msg *pm, struct sipd_str *out, struct sipd_str name,
		       struct sipd_str value)
{
	size_t n = name.len + value.len + 4;
	char *p;

	if (name.len == 0 || !parser_valid(name, PARSER_C_TOKEN, false) ||
	    memchr(value.p ? value.p : "", '\r', value.len) ||
	    memchr(value.p ? value.p : "", '\n', value.len))
		return EINVAL;
	p = parser_arena_alloc(&pm->arena, n);
	if (!p)
		return ENOMEM;
	memcpy(p, name.p, name.len);
	memcpy(p + name.len, ": ", 2);
	if (value.len)
		memcpy(p + name.len + 2, value.p, value.len);
	memcpy(p + n - 2, "\r\n", 2);
	out->p = p;
	out->len = n;
	return 0;
}

static long hdr_index(struct sipd_msg *m, const struct sipd_hdr *h)
{
	if (!h || h < m->hdrs || h >= m->hdrs + m->hdr_count)
		return -1;
	return (long)(h - m->hdrs);
}

static long find_hdr_edit(struct parser_msg *pm, long hdr)
{
	size_t i;

	for (i = 0; i < pm->edit_count; i++)
		if (pm->edits[i].kind == PARSER_EDIT_HDR && pm->edits[i].hdr == hdr)
			return (long)i;
	return -1;
}

/* A removed or replaced header line: a second edit of the same line replaces the first. */
static int hdr_edit(struct parser_msg *pm, struct sipd_hdr *h, struct sipd_str ins)
{
	long idx = hdr_index(&pm->pub, h), e;

	if (idx < 0)
		return EINVAL;
	e = find_hdr_edit(pm, idx);
	if (e >= 0)
		return edit_set_ins(pm, e, ins);
	return parser_edit_add(pm, PARSER_EDIT_HDR, (size_t)(h->line.p - pm->pub.buf), h->line.len, ins, 0,
			       idx, NULL);
}

int parser_hdr_append(struct sipd_msg *m, struct sipd_str name, struct sipd_str value)
{
	struct parser_msg *pm = parser_msg_of(m);
	struct sipd_str text;
	int err = header_text(pm, &text, name, value);

	if (err)
		return err;
	return parser_edit_add(pm, PARSER_EDIT_INSERT, pm->hdr_end, 0, text, ++pm->order_next, -1, NULL);
}

int parser_hdr_remove(struct sipd_msg *m, struct sipd_hdr *h)
{
	return hdr_edit(parser_msg_of(m), h, SIPD_STR(""));
}

int parser_hdr_replace(struct sipd_msg *m, struct sipd_hdr *h, struct sipd_str value)
{
	struct parser_msg *pm = parser_msg_of(m);
	struct sipd_str text;
	int err;

	if (hdr_index(m, h) < 0)
		return EINVAL;
	err = header_text(pm, &text, h->name, value);
	if (err)
		return err;
	return hdr_edit(pm, h, text);
}

int parser_set_ruri(struct sipd_msg *m, struct sipd_str uri)
{
	struct parser_msg *pm = parser_msg_of(m);
	size_t i;
	int err;

	if (!m->is_request || uri.len == 0 || uri.len > (size_t)parser_limits.max_uri_length)
		return EINVAL;
	for (i = 0; i < uri.len; i++)
		if (parser_is(uri.p[i], PARSER_C_WS) || uri.p[i] == '\0')
			return EINVAL;
	if (pm->ruri_edit >= 0)
		err = edit_set_ins(pm, pm->ruri_edit, uri);
	else
		err = parser_edit_add(pm, PARSER_EDIT_RURI, (size_t)(m->ruri.p - m->buf), m->ruri.len, uri, 0,
				      -1, &pm->ruri_edit);
	if (!err)
		pm->ruri_state = PARSER_RURI_UNPARSED;
	return err;
}

int parser_via_push(struct sipd_msg *m, struct sipd_str via_value)
{
	struct parser_msg *pm = parser_msg_of(m);
	struct sipd_str text;
	int err = header_text(pm, &text, SIPD_STR("Via"), via_value);

	if (err)
		return err;
	/* a later push goes above the earlier ones: it is the new top Via */
	return parser_edit_add(pm, PARSER_EDIT_INSERT, pm->hdrs_off, 0, text, --pm->push_next, -1, NULL);
}

/* Replaces the first header of a type (removing the others) or appends one. */
static int set_single(struct parser_msg *pm, struct sipd_hdr *first, long *appended, struct sipd_str name,
		      struct sipd_str value)
{
	struct sipd_msg *m = &pm->pub;
	struct sipd_hdr *h;
	struct sipd_str text;
	int err;

	if (first) {
		if (value.len == 0)
			err = parser_hdr_remove(m, first);
		else
			err = parser_hdr_replace(m, first, value);
		for (h = sipd_msg_hdr_next(m, first); h && !err; h = sipd_msg_hdr_next(m, h))
			err = parser_hdr_remove(m, h);
		return err;
	}
	if (value.len == 0) {
		if (*appended >= 0)
			return edit_set_ins(pm, *appended, SIPD_STR(""));
		return 0;
	}
	err = header_text(pm, &text, name, value);
	if (err)
		return err;
	if (*appended >= 0)
		return edit_set_ins(pm, *appended, text);
	return parser_edit_add(pm, PARSER_EDIT_INSERT, pm->hdr_end, 0, text, ++pm->order_next, -1, appended);
}

int parser_set_body(struct sipd_msg *m, struct sipd_str content_type, struct sipd_str body)
{
	struct parser_msg *pm = parser_msg_of(m);
	char num[24];
	int err;

	if (body.len && !body.p)
		return EINVAL;
	snprintf(num, sizeof(num), "%zu", body.len);
	err = set_single(pm, m->h_content_length, &pm->cl_edit, SIPD_STR("Content-Length"), sipd_str_c(num));
	if (!err && (content_type.len || body.len == 0))
		err = set_single(pm, m->h_content_type, &pm->ct_edit, SIPD_STR("Content-Type"), content_type);
	if (err)
		return err;
	if (pm->body_edit >= 0)
		return edit_set_ins(pm, pm->body_edit, body);
	return parser_edit_add(pm, PARSER_EDIT_BODY, pm->body_off, m->len - pm->body_off, body, ORDER_BODY,
			       -1, &pm->body_edit);
}

struct sipd_str parser_current_ruri(struct sipd_msg *m)
{
	struct parser_msg *pm = parser_msg_of(m);

	return pm->ruri_edit >= 0 ? pm->edits[pm->ruri_edit].ins : m->ruri;
}

static int edit_cmp(const void *a, const void *b)
{
	const struct parser_edit *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Copies or measures buf[start,end) with the sorted edits es[0..n) applied. */
static size_t render(const struct parser_msg *pm, const struct parser_edit *es, size_t n, size_t start,
		     size_t end, char *dst)
{
	const char *buf = pm->pub.buf;
	size_t cur = start, total = 0, i, off, del;

	for (i = 0; i < n; i++) {
		off = es[i].off;
		del = es[i].del;
		if (off < start || off > end || off + del > end)
			continue;
		if (off < cur) {
			/* inside a line removed or replaced before: that edit wins */
			if (off + del <= cur)
				continue;
			del -= cur - off;
			off = cur;
		}
		if (dst) {
			memcpy(dst + total, buf + cur, off - cur);
			if (es[i].ins.len)
				memcpy(dst + total + (off - cur), es[i].ins.p, es[i].ins.len);
		}
		total += off - cur + es[i].ins.len;
		cur = off + del;
	}
	if (dst)
		memcpy(dst + total, buf + cur, end - cur);
	return total + end - cur;
}

/* The edits in application order; with synthetic ones that end an unterminated header block. */
static struct parser_edit *sorted_edits(struct parser_msg *pm, enum parser_edit_kind kind, size_t *n)
{
	struct parser_edit *es = parser_arena_alloc(&pm->arena, sizeof(*es) * (pm->edit_count + 2));
	size_t i, k = 0;

	if (!es)
		return NULL;
	for (i = 0; i < pm->edit_count; i++)
		if (!kind || pm->edits[i].kind == kind)
			es[k++] = pm->edits[i];
	if (!kind && pm->term_missing) {
		if (pm->term_missing == 2)
			es[k++] = (struct parser_edit){.off = pm->hdr_end,
						       .ins = SIPD_STR("\r\n"),
						       .order = ORDER_TERM_LF,
						       .kind = PARSER_EDIT_INSERT};
		es[k++] = (struct parser_edit){.off = pm->hdr_end,
					       .ins = SIPD_STR("\r\n"),
					       .order = ORDER_BLANK,
					       .kind = PARSER_EDIT_INSERT};
	}
	qsort(es, k, sizeof(*es), edit_cmp);
	*n = k;
	return es;
}

size_t parser_render_range(struct parser_msg *pm, size_t start, size_t end, enum parser_edit_kind kind,
			   char *dst)
{
	struct parser_edit *es;
	size_t n;

	es = sorted_edits(pm, kind, &n);
	if (!es)
		return (size_t)-1;
	return render(pm, es, n, start, end, dst);
}

int parser_serialize(struct sipd_msg *m, struct sipd_str *out)
{
	struct parser_msg *pm = parser_msg_of(m);
	struct parser_edit *es;
	size_t n, len;
	char *dst;

	if (pm->edit_count == 0) {
		/* nothing changed: the received bytes are the message */
		*out = (struct sipd_str){m->buf, m->len};
		return 0;
	}
	es = sorted_edits(pm, 0, &n);
	if (!es)
		return ENOMEM;
	len = render(pm, es, n, 0, m->len, NULL);
	dst = parser_arena_alloc(&pm->arena, len + 1);
	if (!dst)
		return ENOMEM;
	render(pm, es, n, 0, m->len, dst);
	dst[len] = '\0';
	*out = (struct sipd_str){dst, len};
	return 0;
}
