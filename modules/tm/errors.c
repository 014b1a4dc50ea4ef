/* Transport errors after sending (RFC 3261 8.1.3.1): every client transaction toward the peer fails with 503.
 */
#include <stdlib.h>
#include <string.h>

#include "tm_int.h"

struct fail_job {
	struct sipd_dest dst;
	int err;
};

static bool same_dest(const struct sipd_dest *a, const struct sipd_dest *b)
{
	if (a->conn_id && a->conn_id == b->conn_id)
		return true;
	if (a->proto != b->proto || a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.sin.sin_port == b->addr.sin.sin_port &&
		       a->addr.sin.sin_addr.s_addr == b->addr.sin.sin_addr.s_addr;
	return a->addr.sin6.sin6_port == b->addr.sin6.sin6_port &&
	       !memcmp(&a->addr.sin6.sin6_addr, &b->addr.sin6.sin6_addr, sizeof(struct in6_addr));
}

static void fail_cell(struct tm_cell *c, void *arg)
{
	struct fail_job *j = arg;

	tm_cell_lock(c);
	for (unsigned i = 0; i < c->nuac; i++) {
		struct tm_uac *u = c->uac[i];

		if (u->cancel && same_dest(&u->cancel->dst, &j->dst))
			tm_uac_fail(u->cancel, 503);
		if (!u->resolving && same_dest(&u->dst, &j->dst) &&
		    (u->state == TM_CALLING || u->state == TM_TRYING || u->state == TM_PROCEEDING)) {
			sipd_stat_inc(tm_st.transport_errors);
			tm_uac_fail(u, 503);
		}
	}
	tm_cell_check_done(c);
	tm_cell_unlock(c);
}

void tm_fail_dest(const struct sipd_dest *dst, int err)
{
	struct fail_job j = {.dst = *dst, .err = err};

	tm_cell_foreach(fail_cell, &j);
}

static void fail_posted(void *arg)
{
	struct fail_job *j = arg;

	tm_fail_dest(&j->dst, j->err);
	free(j);
}

/* Transports report from inside their own locks: the work goes to a loop. */
void tm_on_transport_error(const struct sipd_dest *dst, int err)
{
	struct fail_job *j = malloc(sizeof(*j));
	struct sipd_loop *l = sipd_loop_self();

	if (!j)
		return;
	j->dst = *dst;
	j->err = err;
	if (sipd_loop_post(l ? l : sipd_loop_get(0), fail_posted, j))
		free(j);
}
