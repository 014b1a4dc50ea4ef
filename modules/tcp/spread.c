/* Spreading the messages of one connection over the worker loops by Call-ID: a busy trunk uses every core,
 * while the messages of one call keep their order (one loop per Call-ID, FIFO posts). */
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/loop.h>

#include "tcp.h"

struct spread_job {
	struct sipd_rcvinfo ri;
	size_t len;
	char buf[];
};

static unsigned pending; /* atomic: messages posted and not yet handled */

static void job_run(void *arg)
{
	struct spread_job *j = arg;

	sipd_receive(&j->ri, j->buf, j->len);
	__atomic_sub_fetch(&pending, 1, __ATOMIC_RELAXED);
	free(j);
}

bool tcp_spread_full(void)
{
	return tcp_cfg.spread &&
	       __atomic_load_n(&pending, __ATOMIC_RELAXED) >= (unsigned)tcp_cfg.spread_queue;
}

bool tcp_spread(const struct sipd_rcvinfo *ri, const char *p, size_t len, struct sipd_stat *counter)
{
	unsigned loops = sipd_loop_count(), target;
	struct sipd_str cid;
	struct spread_job *j;
	uint32_t h = 2166136261u;

	if (!tcp_cfg.spread || loops < 2)
		return false;
	cid = sipd_raw_call_id(p, len);
	for (size_t i = 0; i < cid.len; i++) {
		h ^= (unsigned char)cid.p[i];
		h *= 16777619u;
	}
	target = h % loops;
	/* Never handled here when it hashes elsewhere: that could overtake its call's earlier messages. */
	if (sipd_loop_get(target) == sipd_loop_self())
		return false;
	if (!(j = malloc(sizeof(*j) + len))) {
		SIPD_WARN("no memory to hand a message to worker %u: dropped", target);
		return true;
	}
	j->ri = *ri;
	j->len = len;
	memcpy(j->buf, p, len);
	__atomic_add_fetch(&pending, 1, __ATOMIC_RELAXED);
	if (sipd_loop_post(sipd_loop_get(target), job_run, j)) {
		__atomic_sub_fetch(&pending, 1, __ATOMIC_RELAXED);
		free(j);
		SIPD_WARN("cannot hand a message to worker %u: dropped", target);
		return true;
	}
	sipd_stat_inc(counter);
	return true;
}
