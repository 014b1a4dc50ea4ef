/* Message objects: creation by the first pass, the ops table, clone and free. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "parser_int.h"

/* Enough for the header array and parsed headers of a typical request. */
#define INLINE_ARENA 6144
/* A clone starts with what the original used plus room for headers parsed later. */
#define CLONE_ARENA_SLACK 1024
/* Freed receive-size messages kept for the next parse. */
#define SPARES_MAX 8

/*
 * A message with its inline arena is a 6 KB block: taken from malloc for
 * every datagram it made glibc merge its fast bins each time
 * (malloc_consolidate, as much CPU as the parse). Freed ones are kept here
 * instead, a few at most, until the module stops.
 */
static pthread_mutex_t spares_lock = PTHREAD_MUTEX_INITIALIZER;
static struct parser_msg *spares[SPARES_MAX];
static unsigned spare_count;
static bool spares_closed;

static struct parser_msg *msg_new(size_t inline_size)
{
	struct parser_msg *pm = NULL;

	if (inline_size == INLINE_ARENA) {
		pthread_mutex_lock(&spares_lock);
		if (spare_count)
			pm = spares[--spare_count];
		pthread_mutex_unlock(&spares_lock);
	}
	return pm ? pm : malloc(sizeof(*pm) + inline_size);
}

static void msg_release(struct parser_msg *pm, size_t inline_size)
{
	if (inline_size == INLINE_ARENA) {
		pthread_mutex_lock(&spares_lock);
		if (!spares_closed && spare_count < SPARES_MAX) {
			spares[spare_count++] = pm;
			pm = NULL;
		}
		pthread_mutex_unlock(&spares_lock);
	}
	free(pm);
}

void parser_msg_spares_free(void)
{
	pthread_mutex_lock(&spares_lock);
	spares_closed = true;
	while (spare_count)
		free(spares[--spare_count]);
	pthread_mutex_unlock(&spares_lock);
}

const struct sipd_msg_ops parser_msg_ops = {
    .hdr_parsed = parser_hdr_parsed,
    .ruri_parsed = parser_ruri_parsed,
    .alloc = parser_alloc,
    .hdr_append = parser_hdr_append,
    .hdr_remove = parser_hdr_remove,
    .hdr_replace = parser_hdr_replace,
    .set_ruri = parser_set_ruri,
    .via_push = parser_via_push,
    .set_body = parser_set_body,
    .current_ruri = parser_current_ruri,
    .serialize = parser_serialize,
    .reply_build = parser_reply_build,
    .clone = parser_clone,
    .free = parser_free,
    .via_mark_received = parser_via_mark_received,
};

/* Parses into a message whose arena starts with inline_size bytes in the same allocation. */
static int parse_with_arena(struct sipd_msg **out, const char *buf, size_t len,
			    const struct sipd_rcvinfo *rcv, const char **why, size_t inline_size)
{
	const char *ignored;
	struct parser_msg *pm;
	int err;

	if (!why)
		why = &ignored;
	if (!out || (!buf && len)) {
		*why = "No buffer";
		return EINVAL;
	}
	if (len > (size_t)parser_limits.max_message_size) {
		*why = "Message too large";
		return EMSGSIZE;
	}
	pm = msg_new(inline_size);
	if (!pm)
		return ENOMEM;
	memset(pm, 0, sizeof(*pm));
	pm->inline_size = inline_size;
	parser_arena_init(&pm->arena, pm + 1, inline_size);
	pm->pub.ops = &parser_msg_ops;
	pm->pub.buf = buf ? buf : "";
	pm->pub.len = len;
	if (rcv) {
		pm->rcv = *rcv;
		pm->has_rcv = true;
		pm->pub.rcv = &pm->rcv;
	}
	pm->ruri_edit = pm->body_edit = pm->cl_edit = pm->ct_edit = -1;
	err = parser_scan(pm, why);
	if (err) {
		if (err == ENOMEM)
			*why = "Out of memory";
		parser_free(&pm->pub);
		return err;
	}
	*out = &pm->pub;
	return 0;
}

int parser_parse(struct sipd_msg **out, const char *buf, size_t len, const struct sipd_rcvinfo *rcv,
		 const char **why)
{
	return parse_with_arena(out, buf, len, rcv, why, INLINE_ARENA);
}

void parser_free(struct sipd_msg *m)
{
	struct parser_msg *pm;

	if (!m)
		return;
	pm = parser_msg_of(m);
	parser_arena_release(&pm->arena);
	free(pm->owned_buf);
	msg_release(pm, pm->inline_size);
}

void *parser_alloc(struct sipd_msg *m, size_t size)
{
	return parser_arena_alloc(&parser_msg_of(m)->arena, size);
}

int parser_clone(struct sipd_msg **out, const struct sipd_msg *m)
{
	struct parser_msg *src = parser_msg_of((struct sipd_msg *)m), *dst;
	struct sipd_msg *n = NULL;
	const char *why;
	char *copy;
	size_t i, inline_size;
	int err;

	copy = malloc(m->len ? m->len : 1);
	if (!copy)
		return ENOMEM;
	memcpy(copy, m->buf, m->len);
	/* Transactions keep clones for seconds: size the arena to fit rather than to the receive default. */
	inline_size = src->arena.used + CLONE_ARENA_SLACK;
	if (inline_size > INLINE_ARENA)
		inline_size = INLINE_ARENA;
	err = parse_with_arena(&n, copy, m->len, src->has_rcv ? &src->rcv : NULL, &why, inline_size);
	if (err) {
		free(copy);
		return err;
	}
	dst = parser_msg_of(n);
	dst->owned_buf = copy;
	/* Same bytes, same offsets: the edits carry over as they are. */
	for (i = 0; i < src->edit_count; i++) {
		const struct parser_edit *e = &src->edits[i];

		err = parser_edit_add(dst, e->kind, e->off, e->del, e->ins, e->order, e->hdr, NULL);
		if (err)
			goto out;
	}
	dst->order_next = src->order_next;
	dst->push_next = src->push_next;
	dst->ruri_edit = src->ruri_edit;
	dst->body_edit = src->body_edit;
	dst->cl_edit = src->cl_edit;
	dst->ct_edit = src->ct_edit;
	dst->via_marked = src->via_marked;
	*out = n;
	n = NULL;
out:
	parser_free(n);
	return err;
}
