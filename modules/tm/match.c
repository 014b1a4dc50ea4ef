/* Matching requests to server transactions (RFC 3261 17.2.3, RFC 2543 fallback) and responses to client ones
 * (17.1.3). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_int.h"

#define MAGIC_COOKIE "z9hG4bK"

struct match_req {
	struct sipd_msg *m;
	enum sipd_method method; /* the method the cell must have */
	bool rfc2543;
	struct sipd_str branch, host;
	uint16_t port;
};

static bool has_cookie(struct sipd_str b)
{
	return b.len > sizeof(MAGIC_COOKIE) - 1 && !memcmp(b.p, MAGIC_COOKIE, sizeof(MAGIC_COOKIE) - 1);
}

int tm_request_key(struct sipd_msg *m, uint32_t *hash, bool *rfc2543, struct sipd_str *branch,
		   struct sipd_str *host, uint16_t *port)
{
	const struct sipd_via *v;
	int err;

	if ((err = sipd_msg_via(m, &v)))
		return err;
	*branch = v->branch;
	*host = v->host;
	*port = v->port;
	*rfc2543 = !has_cookie(v->branch);
	if (!*rfc2543) {
		*hash = tm_hash(v->branch, 0);
		return 0;
	}
	if (!m->call_id.len)
		return EBADMSG;
	*hash = tm_hash(m->call_id, 1);
	return 0;
}

static struct sipd_str tag_of(struct sipd_msg *m, struct sipd_hdr *h)
{
	const struct sipd_nameaddr *na;

	return sipd_msg_hdr(m, h, (const void **)&na) == 0 ? na->tag : SIPD_STR_NULL;
}

static uint32_t cseq_num(struct sipd_msg *m)
{
	const struct sipd_cseq *cs;

	return sipd_msg_cseq(m, &cs) == 0 ? cs->number : 0;
}

static struct sipd_str via_value(struct sipd_msg *m)
{
	const struct sipd_via *v;

	return sipd_msg_via(m, &v) == 0 ? v->value : SIPD_STR_NULL;
}

/* RFC 3261 17.2.3's fallback: Request-URI, tags, Call-ID, CSeq and top Via of the original request. */
static bool match_2543(struct sipd_msg *r, struct match_req *q)
{
	struct sipd_msg *m = q->m;

	if (!sipd_str_eq(r->ruri, m->ruri) || !sipd_str_eq(r->call_id, m->call_id) ||
	    cseq_num(r) != cseq_num(m) || !sipd_str_eq(tag_of(r, r->h_from), tag_of(m, m->h_from)) ||
	    !sipd_str_eq(via_value(r), via_value(m)))
		return false;
	/* The ACK of a non-2xx carries the To tag of our answer, which the request lacked. */
	if (m->method_id == SIPD_METHOD_ACK)
		return true;
	return sipd_str_eq(tag_of(r, r->h_to), tag_of(m, m->h_to));
}

bool tm_match_pred(struct tm_cell *c, void *arg)
{
	struct match_req *q = arg;
	struct tm_uas *u = &c->uas;

	if (u->rfc2543 != q->rfc2543 || u->method_id != q->method)
		return false;
	if (q->method == SIPD_METHOD_OTHER && !sipd_str_eq(u->method, q->m->method))
		return false;
	if (q->rfc2543)
		return u->req && match_2543(u->req, q);
	return sipd_str_eq(u->branch, q->branch) && sipd_str_caseeq(u->sent_host, q->host) &&
	       u->sent_port == q->port;
}

static int query_init(struct match_req *q, uint32_t *hash, struct sipd_msg *m, bool for_invite)
{
	memset(q, 0, sizeof(*q));
	q->m = m;
	q->method = m->method_id;
	if (m->method_id == SIPD_METHOD_ACK || (m->method_id == SIPD_METHOD_CANCEL && for_invite))
		q->method = SIPD_METHOD_INVITE;
	return tm_request_key(m, hash, &q->rfc2543, &q->branch, &q->host, &q->port);
}

struct tm_cell *tm_match_request(struct sipd_msg *m, bool for_invite)
{
	struct match_req q;
	uint32_t hash;

	if (query_init(&q, &hash, m, for_invite))
		return NULL;
	return tm_cell_find(hash, tm_match_pred, &q);
}

/* Links a new server cell unless a cell for the same request got there first. */
struct tm_cell *tm_match_link(struct tm_cell *c, struct sipd_msg *m)
{
	struct match_req q;
	uint32_t hash;

	if (query_init(&q, &hash, m, false))
		return NULL;
	return tm_cell_link(c, hash, tm_match_pred, &q);
}

void tm_branch_make(char *buf, size_t size, const struct tm_cell *c, unsigned idx)
{
	snprintf(buf, size, TM_BRANCH_PREFIX "%08x.%x.%x.%u", c->loop_hash, c->bucket, c->label, idx);
}

static bool hex_field(const char **p, const char *end, char stop, uint32_t *out)
{
	uint32_t v = 0;
	unsigned n = 0;

	for (; *p < end && **p != stop; (*p)++, n++) {
		char ch = **p;
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return false;
		if (n >= 8)
			return false;
		v = v << 4 | d;
	}
	if (n == 0)
		return false;
	*out = v;
	return true;
}

bool tm_branch_parse(struct sipd_str b, unsigned *bucket, uint32_t *label, unsigned *idx, uint32_t *loop)
{
	const size_t plen = sizeof(TM_BRANCH_PREFIX) - 1;
	const char *p, *end = b.p + b.len;
	uint32_t bk, lb, lp;
	unsigned long ix = 0;

	if (b.len <= plen || memcmp(b.p, TM_BRANCH_PREFIX, plen))
		return false;
	p = b.p + plen;
	if (!hex_field(&p, end, '.', &lp) || p++ == end || !hex_field(&p, end, '.', &bk) || p++ == end ||
	    !hex_field(&p, end, '.', &lb) || p++ == end || p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || ix > TM_MAX_UAC)
			return false;
		ix = ix * 10 + (unsigned long)(*p - '0');
	}
	*bucket = bk;
	*label = lb;
	*idx = (unsigned)ix;
	*loop = lp;
	return true;
}

struct tm_cell *tm_match_response(struct sipd_msg *m, struct tm_uac **out)
{
	const struct sipd_via *v;
	const struct sipd_cseq *cs;
	unsigned bucket, idx;
	uint32_t label, loop;
	struct tm_cell *c;
	struct tm_uac *u;

	if (sipd_msg_via(m, &v) || sipd_msg_cseq(m, &cs) ||
	    !tm_branch_parse(v->branch, &bucket, &label, &idx, &loop))
		return NULL;
	if (!(c = tm_cell_by_label(bucket, label)))
		return NULL;
	tm_cell_lock(c);
	u = idx < c->nuac ? c->uac[idx] : NULL;
	if (u && cs->method_id == SIPD_METHOD_CANCEL)
		u = u->cancel;
	/* The full branch and the method must agree (17.1.3): a stale label is someone else's cell. */
	if (u && (!sipd_str_eq(v->branch, sipd_str_c(u->branch)) ||
		  (cs->method_id == SIPD_METHOD_INVITE) != u->invite))
		u = NULL;
	tm_cell_unlock(c);
	if (!u) {
		tm_cell_unref(c);
		return NULL;
	}
	*out = u;
	return c;
}
