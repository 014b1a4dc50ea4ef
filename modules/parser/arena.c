/* Per-message bump allocator: everything a message parses dies with it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parser_int.h"

#define ARENA_ALIGN 16
#define ARENA_CHUNK 8192

struct parser_chunk {
	struct parser_chunk *next;
	max_align_t data[];
};

void parser_arena_init(struct parser_arena *a, void *mem, size_t size)
{
	uintptr_t p = ((uintptr_t)mem + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);

	a->p = (char *)p;
	a->end = (char *)mem + size;
	if (a->p > a->end)
		a->p = a->end;
	a->extra = NULL;
	a->used = 0;
}

void *parser_arena_alloc(struct parser_arena *a, size_t size)
{
	size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	struct parser_chunk *c;
	size_t csize;
	void *r;

	if (need < size)
		return NULL;
	if ((size_t)(a->end - a->p) >= need) {
		r = a->p;
		a->p += need;
		a->used += need;
		return r;
	}
	/* Big requests get a chunk of their own so the current one stays usable. */
	csize = need > ARENA_CHUNK / 2 ? need : ARENA_CHUNK;
	if (csize > SIZE_MAX - sizeof(*c))
		return NULL;
	c = malloc(sizeof(*c) + csize);
	if (!c)
		return NULL;
	c->next = a->extra;
	a->extra = c;
	a->used += need;
	if (csize == need)
		return c->data;
	a->p = (char *)c->data + need;
	a->end = (char *)c->data + csize;
	return c->data;
}

void parser_arena_release(struct parser_arena *a)
{
	struct parser_chunk *c = a->extra, *n;

	while (c) {
		n = c->next;
		free(c);
		c = n;
	}
	a->extra = NULL;
	a->p = a->end = NULL;
}

int parser_arena_dup(struct parser_arena *a, struct sipd_str *out, struct sipd_str s)
{
	char *p = parser_arena_alloc(a, s.len + 1);

	if (!p)
		return ENOMEM;
	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	out->p = p;
	out->len = s.len;
	return 0;
}
