/* save(): a REGISTER per RFC 3261 10.3, answered 200 only once its bindings are committed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/msg.h>
#include <sipd/stats.h>

#include "auth_db_api.h"
#include "registrar.h"

#define MAX_CONTACTS_PER_REQUEST 32
#define MAX_URI                  1024
/* Bindings of one AOR considered when working out removals (max_contacts is far lower in practice). */
#define MAX_BEFORE 256

struct save_job {
	struct sipd_db_job job; /* first: the DB thread hands it back */
	/* The 200, built while the request was at hand (it dies when save() returns). */
	struct sipd_reply_later *reply;
	struct reg_snapshot snap;
	json_t *events; /* published once the change is durable; NULL when nobody listens */
};

static struct sipd_stat *st_saved, *st_rejected, *st_not_stored, *st_busy, *st_unavailable;

int reg_save_init(void)
{
	st_saved = sipd_stat_register("registrar", "accepted", "REGISTERs answered 200 after their commit");
	st_rejected =
	    sipd_stat_register("registrar", "rejected", "REGISTERs refused (400, 403, 404, 423, 500)");
	st_not_stored =
	    sipd_stat_register("registrar", "not_stored", "REGISTERs answered 500: the commit failed");
	st_busy = sipd_stat_register("registrar", "overload_503",
				     "REGISTERs answered 503: too many writes waiting for the disk");
	st_unavailable = sipd_stat_register("registrar", "db_unavailable_503",
					    "REGISTERs answered 503: the database server was unreachable");
	reg_st_bindings = sipd_stat_register("registrar", "bindings", "bindings in memory");
	return st_saved && st_rejected && st_not_stored && st_busy && st_unavailable && reg_st_bindings
		   ? 0
		   : ENOMEM;
}

static void job_free(struct save_job *sj)
{
	sipd_reply_later_free(sj->reply);
	reg_snapshot_free(&sj->snap);
	json_decref(sj->events);
	free(sj);
}

static int save_run(struct sipd_db_job *job)
{
	struct save_job *sj = (struct save_job *)job;

	return reg_store_write(&sj->snap);
}

/* On the worker loop that took the REGISTER, after the batch holding its write committed. */
static void save_done(struct sipd_db_job *job, int err)
{
	struct save_job *sj = (struct save_job *)job;
	int rc;

	if (err) {
		sipd_stat_inc(st_not_stored);
		rc = sipd_reply_later_send(sj->reply, 500, "Registration Not Stored", "Retry-After: 5\r\n");
	} else {
		sipd_stat_inc(st_saved);
		rc = sipd_reply_later_send(sj->reply, 0, NULL, NULL);
		reg_events_publish(sj->events);
		sj->events = NULL;
	}
	if (rc)
		SIPD_DBG("REGISTER answer not sent: %s", strerror(rc));
	job_free(sj);
}

static enum sipd_result refuse(struct sipd_ctx *ctx, int code, const char *reason, const char *extra)
{
	int err;

	sipd_stat_inc(st_rejected);
	if ((err = sipd_reply(ctx, code, reason, extra)))
		SIPD_DBG("%d not sent: %s", code, strerror(err));
	return SIPD_STOP;
}

/* Path values of every Path header line, joined with ',' (RFC 3327), in the message's arena. */
static struct sipd_str join_path(struct sipd_msg *m)
{
	size_t len = 0, used = 0;
	char *buf;

	for (unsigned i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == SIPD_HDR_PATH)
			len += m->hdrs[i].value.len + 1;
	if (!len || !(buf = sipd_msg_alloc(m, len)))
		return SIPD_STR_NULL;
	for (unsigned i = 0; i < m->hdr_count; i++) {
		struct sipd_str v = m->hdrs[i].value;

		if (m->hdrs[i].type != SIPD_HDR_PATH)
			continue;
		if (used)
			buf[used++] = ',';
		memcpy(buf + used, v.p, v.len);
		used += v.len;
	}
	return (struct sipd_str){buf, used};
}

static bool supports_path(struct sipd_msg *m)
{
	const struct sipd_tokens *t;

	if (sipd_msg_hdr(m, m->h_supported, (const void **)&t) != 0)
		return false;
	for (unsigned i = 0; i < t->count; i++)
		if (sipd_str_caseeq_c(t->items[i], "path"))
			return true;
	return false;
}

/* q as RFC 3261 writes it: 0, 1, or 0.xyz without trailing zeros. */
static void format_q(char *buf, size_t size, int q)
{
	if (q >= 1000)
		snprintf(buf, size, ";q=1");
	else if (q % 100 == 0)
		snprintf(buf, size, ";q=0.%d", q / 100);
	else if (q % 10 == 0)
		snprintf(buf, size, ";q=0.%02d", q / 10);
	else
		snprintf(buf, size, ";q=0.%03d", q);
}

/* "Date: ...\r\n" for the second now (RFC 3261 20.17), formatted once a second per thread. */
static struct sipd_str date_line(int64_t now)
{
	static __thread int64_t cached = -1;
	static __thread char line[64];
	static __thread size_t len;

	if (now != cached) {
		time_t t = (time_t)now;
		struct tm tm;

		gmtime_r(&t, &tm);
		len = strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
		cached = now;
	}
	return (struct sipd_str){line, len};
}

static char *put(char *p, struct sipd_str s)
{
	memcpy(p, s.p, s.len);
	return p + s.len;
}

/* The 200's headers: every current binding with its remaining time (step 8), Path, and Date; in m's arena. */
static char *reply_headers(struct sipd_msg *m, const struct reg_aor *aor, int64_t now, struct sipd_str path)
{
	static const struct sipd_str contact = SIPD_STR("Contact: <"), expires = SIPD_STR(">;expires="),
				     crlf = SIPD_STR("\r\n"), path_name = SIPD_STR("Path: ");
	struct sipd_str date = date_line(now);
	size_t size = path_name.len + path.len + crlf.len + date.len + 1;
	char *buf, *p, q[16];

	for (const struct reg_contact *c = aor->contacts; c; c = c->next)
		size += contact.len + strlen(c->uri) + expires.len + SIPD_UTOA_MAX + sizeof(q) + crlf.len;
	if (!(buf = sipd_msg_alloc(m, size)))
		return NULL;
	p = buf;
	for (const struct reg_contact *c = aor->contacts; c; c = c->next) {
		/* Expired bindings went before the rules ran: what is left has time to run. */
		int64_t left = c->expires > now ? c->expires - now : 0;

		p = put(p, contact);
		p = put(p, sipd_str_c(c->uri));
		p = put(p, expires);
		p += sipd_utoa(p, (uint64_t)left);
		if (c->q >= 0) {
			format_q(q, sizeof(q), c->q);
			p = put(p, sipd_str_c(q));
		}
		p = put(p, crlf);
	}
	if (path.len) {
		p = put(p, path_name);
		p = put(p, path);
		p = put(p, crlf);
	}
	p = put(p, date);
	*p = '\0';
	return buf;
}

/* Steps 1-5 and the request's data for the rules; returns 0 or fills code/reason. */
static int read_request(struct sipd_ctx *ctx, struct reg_request *r, struct reg_new_contact *contacts,
			char *key, size_t keylen, int *code, const char **reason)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_nameaddr *to, *c;
	const struct sipd_cseq *cseq;
	const struct sipd_uri *ruri;
	const uint32_t *exp;

	*code = 400;
	if (sipd_msg_ruri(m, &ruri) != 0 || !reg_domain_is_ours(ruri)) {
		*code = 403;
		*reason = "Domain Not Served Here";
		return EINVAL;
	}
	if (sipd_msg_to(m, &to) != 0 || reg_aor_key(key, keylen, &to->uri) != 0) {
		*reason = "Invalid Address-of-Record In To";
		return EINVAL;
	}
	if (reg_auth && !reg_auth->user_exists(to->uri.user)) {
		*code = 404;
		*reason = "Not Found";
		return EINVAL;
	}
	if (sipd_msg_cseq(m, &cseq) != 0 || !m->call_id.len) {
		*reason = "Missing Call-ID or CSeq";
		return EINVAL;
	}
	r->expires_hdr = -1;
	if (m->h_expires) {
		if (sipd_msg_hdr(m, m->h_expires, (const void **)&exp) != 0) {
			*reason = "Malformed Expires";
			return EINVAL;
		}
		r->expires_hdr = (long)*exp;
	}
	r->n = 0;
	if (m->h_contact) {
		if (sipd_msg_contact(m, &c) != 0) {
			*reason = "Malformed Contact";
			return EINVAL;
		}
		for (; c; c = c->next) {
			if (c->star) {
				r->star = true;
				continue;
			}
			if (r->n == MAX_CONTACTS_PER_REQUEST) {
				*code = 403;
				*reason = "Too Many Contacts In One Request";
				return EINVAL;
			}
			if (c->uri.raw.len > MAX_URI || memchr(c->uri.raw.p, '>', c->uri.raw.len)) {
				*reason = "Unusable Contact URI";
				return EINVAL;
			}
			contacts[r->n].uri = c->uri.raw;
			contacts[r->n].expires = c->expires;
			contacts[r->n].q = c->q;
			r->n++;
		}
	}
	r->contacts = contacts;
	r->call_id = m->call_id;
	r->cseq = cseq->number;
	r->path = join_path(m);
	if (m->h_user_agent)
		r->user_agent =
		    (struct sipd_str){m->h_user_agent->value.p,
				      m->h_user_agent->value.len > 256 ? 256 : m->h_user_agent->value.len};
	r->proto = ctx->rcv ? ctx->rcv->proto : SIPD_PROTO_NONE;
	if (ctx->rcv) {
		r->src = ctx->rcv->src;
		r->conn_id = ctx->rcv->conn_id;
	}
	r->now = sipd_db_now();
	return 0;
}

/* The contact URIs of aor, copied into one buffer (*buf, freed by the caller). */
static int copy_uris(const struct reg_aor *aor, char **uris, char **buf, unsigned *n)
{
	size_t total = 0, used = 0;

	*n = 0;
	*buf = NULL;
	for (const struct reg_contact *c = aor->contacts; c; c = c->next)
		total += strlen(c->uri) + 1;
	if (!total)
		return 0;
	if (!(*buf = malloc(total)))
		return ENOMEM;
	for (const struct reg_contact *c = aor->contacts; c && *n < MAX_BEFORE; c = c->next) {
		size_t len = strlen(c->uri) + 1;

		uris[(*n)++] = memcpy(*buf + used, c->uri, len);
		used += len;
	}
	return 0;
}

enum sipd_result reg_save(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct reg_new_contact contacts[MAX_CONTACTS_PER_REQUEST];
	struct reg_request r = {0};
	struct reg_verdict v;
	struct save_job *sj = NULL;
	struct reg_aor *aor;
	const char *reason = NULL;
	char key[512], extra[64], *extra_200;
	unsigned before, n_before;
	char *before_uris[MAX_BEFORE], *before_buf = NULL;
	int code, err;

	(void)args;
	if (ctx->msg->method_id != SIPD_METHOD_REGISTER) {
		SIPD_WARN("save() called for a %.*s request", SIPD_STR_FMT(ctx->msg->method));
		return SIPD_ERROR;
	}
	/*
	 * Past the backlog limit answers would come later than clients resend,
	 * and the resends would deepen the backlog: shed load before any change.
	 */
	if (sipd_db_pending() >= (unsigned)reg_max_pending) {
		sipd_stat_inc(st_busy);
		if ((err = sipd_reply(ctx, 503, "Registrar Overloaded", "Retry-After: 1\r\n")))
			SIPD_DBG("503 not sent: %s", strerror(err));
		return SIPD_STOP;
	}
	/* The database server is unreachable (it reconnects by itself): say so now rather than hang. */
	if (!sipd_db_available()) {
		sipd_stat_inc(st_unavailable);
		if ((err = sipd_reply(ctx, 503, "Registrar Database Unavailable", "Retry-After: 5\r\n")))
			SIPD_DBG("503 not sent: %s", strerror(err));
		return SIPD_STOP;
	}
	if (read_request(ctx, &r, contacts, key, sizeof(key), &code, &reason) != 0)
		return refuse(ctx, code, reason, NULL);
	if (!(sj = calloc(1, sizeof(*sj))))
		return SIPD_ERROR;
	if (!(aor = reg_table_lock(key, true))) {
		reg_table_unlock(key);
		job_free(sj);
		return SIPD_ERROR;
	}
	before = aor->count;
	/* Copies of the URIs before (the rules free and replace them), to tell which bindings went. */
	if ((err = copy_uris(aor, before_uris, &before_buf, &n_before)) != 0) {
		reg_table_unlock(key);
		job_free(sj);
		return SIPD_ERROR;
	}
	json_t *old = reg_events_before(aor);
	err = reg_rules_apply(aor, &r, &reg_cfg, &v);
	sipd_stat_add(reg_st_bindings, (int64_t)aor->count - (int64_t)before);
	if (!err && v.code == 200 && old) {
		char call_id[256];
		snprintf(call_id, sizeof(call_id), "%.*s", SIPD_STR_FMT(r.call_id));
		sj->events = reg_events_diff(old, aor, r.now, r.cseq, call_id);
	}
	json_decref(old);
	if (err || v.code != 200) {
		reg_table_unlock(key);
		free(before_buf);
		job_free(sj);
		if (err)
			return SIPD_ERROR;
		extra[0] = '\0';
		if (v.code == 423)
			snprintf(extra, sizeof(extra), "Min-Expires: %d\r\n", v.min_expires);
		return refuse(ctx, v.code, v.reason, extra[0] ? extra : NULL);
	}
	/*
	 * Submitted under the bucket lock: the DB thread runs jobs in queue order, so
	 * the last snapshot of an AOR written is always the newest one.
	 */
	extra_200 = reply_headers(ctx->msg, aor, r.now, supports_path(ctx->msg) ? r.path : SIPD_STR_NULL);
	err = extra_200 ? sipd_reply_later(&sj->reply, ctx, 200, "OK", extra_200) : ENOMEM;
	/* No answer can reach the sender (no usable Via): the change is stored all the same. */
	if (err && err != ENOMEM) {
		SIPD_DBG("REGISTER for %s will not be answered: %s", key, strerror(err));
		err = 0;
	}
	if (!err)
		err = reg_snapshot_take(&sj->snap, aor, v.changed, &r, before_uris, n_before);
	free(before_buf);
	if (!err) {
		sj->job.run = save_run;
		sj->job.done = save_done;
		err = sipd_db_submit(&sj->job);
	}
	reg_table_unlock(key);
	if (err) {
		SIPD_ERR("REGISTER for %s not queued for storage: %s", key, strerror(err));
		job_free(sj);
		return refuse(ctx, 500, "Registration Not Stored", "Retry-After: 5\r\n");
	}
	return SIPD_STOP;
}
