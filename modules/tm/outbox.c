/* Sends decided while a cell is locked go out once it is unlocked: no system call under a cell lock. */
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

#define TM_OUTBOX 32

struct outmsg {
	struct sipd_dest d;
	char *buf;
	size_t len;
};

/* Per thread: how many cell locks it holds, and what waits for the last one to go. */
static __thread struct {
	unsigned depth, n;
	struct outmsg m[TM_OUTBOX];
} box;

static void flush(void)
{
	struct outmsg m[TM_OUTBOX];
	unsigned n = box.n;

	/* Taken first: nothing a send does may see (or add to) this batch. */
	memcpy(m, box.m, n * sizeof(m[0]));
	box.n = 0;
	for (unsigned i = 0; i < n; i++) {
		int err = tm_sys->send(&m[i].d, m[i].buf, m[i].len);

		if (err)
			SIPD_DBG("a deferred send failed: %s", strerror(err));
		free(m[i].buf);
	}
}

void tm_cell_lock(struct tm_cell *c)
{
	pthread_mutex_lock(&c->lock);
	box.depth++;
}

void tm_cell_unlock(struct tm_cell *c)
{
	pthread_mutex_unlock(&c->lock);
	if (--box.depth == 0 && box.n)
		flush();
}

void tm_send_queued(void)
{
	if (box.n)
		flush();
}

int tm_send(const struct sipd_dest *d, const char *buf, size_t len)
{
	char *copy;

	if (!box.depth || box.n == TM_OUTBOX || !(copy = malloc(len ? len : 1)))
		return tm_sys->send(d, buf, len);
	memcpy(copy, buf, len);
	box.m[box.n++] = (struct outmsg){.d = *d, .buf = copy, .len = len};
	return 0;
}
