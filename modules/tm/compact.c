/* Compacting finished transactions: during their RFC 3261 wait time they keep only the matching key and the
 * last response. */
#include <stdlib.h>
#include <string.h>

#include "tm_int.h"

bool tm_uac_busy(const struct tm_uac *u)
{
	if (u->resolving || u->state == TM_CALLING || u->state == TM_TRYING || u->state == TM_PROCEEDING)
		return true;
	return u->cancel && tm_uac_busy(u->cancel);
}

/* A branch past its final: it absorbs retransmitted finals, answering a non-2xx one with the kept ACK. */
static void uac_compact(struct tm_uac *u)
{
	if (u->final) {
		u->final->ops->free(u->final);
		u->final = NULL;
	}
	if (u->tmpl) {
		u->tmpl->ops->free(u->tmpl);
		u->tmpl = NULL;
	}
	free(u->uri);
	u->uri = NULL;
	if (!u->req_is_ack) {
		free(u->req);
		u->req = NULL;
		u->req_len = 0;
	}
	if (u->cancel)
		uac_compact(u->cancel);
}

static struct sipd_str key_put(char **p, struct sipd_str s)
{
	struct sipd_str out = {*p, s.len};

	memcpy(*p, s.p, s.len);
	*p += s.len;
	return out;
}

/*
 * The server side keeps branch, sent-by and method for 17.2.3 matching; RFC
 * 2543 requests keep the clone. Lookups on other threads read the key under
 * the bucket lock: it changes under it.
 */
static void uas_compact(struct tm_cell *c)
{
	struct tm_uas *u = &c->uas;
	struct sipd_msg *r = u->req;
	char *key, *p;

	if (r && !u->rfc2543 && c->linked) {
		if (!(key = malloc(u->branch.len + u->sent_host.len + u->method.len + 1)))
			return;
		p = key;
		tm_bucket_lock(c);
		u->branch = key_put(&p, u->branch);
		u->sent_host = key_put(&p, u->sent_host);
		u->method = key_put(&p, u->method);
		u->key = key;
		u->req = NULL;
		tm_bucket_unlock(c);
		r->ops->free(r);
	}
	/* 17.2.1, RFC 6026: Accepted and Confirmed absorb requests without answering them. */
	if (u->resp && u->state != TM_COMPLETED && u->state != TM_PROCEEDING) {
		free(u->resp);
		u->resp = NULL;
		u->resp_len = 0;
	}
}

void tm_cell_compact(struct tm_cell *c)
{
	bool answered = c->has_uas ? c->uas.status >= 200 : c->cb_done;

	/* A route running without the lock may still read the request and the branches. */
	if (!answered || c->routes_running || c->relaying)
		return;
	for (unsigned i = 0; i < c->nuac; i++)
		if (tm_uac_busy(c->uac[i]))
			return;
	for (unsigned i = 0; i < c->nuac; i++)
		uac_compact(c->uac[i]);
	if (c->has_uas)
		uas_compact(c);
}
