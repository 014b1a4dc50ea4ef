/* A grow-only allocator: a compiled script is freed in one go with its arena. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"

struct script_arena_block {
	struct script_arena_block *next;
	size_t used, size;
	max_align_t data[];
};

#define ARENA_BLOCK 8192

void *script_arena_alloc(struct script_arena *a, size_t size)
{
	size_t need = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct script_arena_block *b = a->head;

	if (!b || b->size - b->used < need) {
		size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->size = cap;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += need;
	/* Nodes rely on zeroed memory for absent links and empty slices. */
	memset(p, 0, size);
	return p;
}

char *script_arena_strndup(struct script_arena *a, const char *s, size_t len)
{
	char *p = script_arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void script_arena_free(struct script_arena *a)
{
	struct script_arena_block *b = a->head;
	while (b) {
		struct script_arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}
