/* The tm service for other modules: server transactions to reply on, and stateful requests with callbacks. */
#include <errno.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

static int api_uas_get(struct tm_cell **out, struct sipd_ctx *ctx)
{
	struct tm_cell *c;
	int err;

	if (!out || !ctx || !ctx->msg)
		return EINVAL;
	if ((err = tm_uas_create(&c, ctx)))
		return err;
	tm_cell_unlock(c);
	*out = c;
	return 0;
}

static int api_uas_reply(struct tm_cell *c, int code, const char *reason, const char *extra,
			 const char *ctype, const char *body)
{
	int err;

	if (!c || code < 100 || code > 699)
		return EINVAL;
	tm_cell_lock(c);
	err = tm_uas_reply(c, code, reason && *reason ? reason : "Answer", extra, ctype, body);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
	return err;
}

static void api_release(struct tm_cell *c)
{
	tm_cell_unref(c);
}

static int api_reply(struct sipd_ctx *ctx, int code, const char *reason, const char *extra)
{
	struct tm_cell *c;
	int err;

	if (ctx && ctx->msg && ctx->msg->method_id == SIPD_METHOD_ACK)
		return 0;
	if ((err = api_uas_get(&c, ctx)))
		return err;
	err = api_uas_reply(c, code, reason, extra, NULL, NULL);
	api_release(c);
	if (!err && code >= 200)
		ctx->replied = true;
	return err;
}

static int api_request(const char *buf, size_t len, const struct sipd_dest *dst,
		       const struct tm_callbacks *cb, void *arg)
{
	struct sipd_msg *m = NULL;
	struct tm_cell *c = NULL;
	int err;

	if (!buf || !cb || !cb->on_final || !cb->on_failure)
		return EINVAL;
	if ((err = tm_parser->parse(&m, buf, len, NULL, NULL)))
		return err;
	if (!m->is_request || m->method_id == SIPD_METHOD_ACK) {
		err = EINVAL;
		goto out;
	}
	if ((err = tm_cell_new(&c)))
		goto out;
	c->cb = cb;
	c->cb_arg = arg;
	tm_cell_link(c, 0, NULL, NULL);
	tm_cell_lock(c);
	err = tm_request_send(c, m, dst);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
out:
	if (c)
		tm_cell_unref(c);
	if (m)
		m->ops->free(m);
	return err;
}

void tm_api_deliver(struct tm_cell *c, struct tm_uac *u, struct sipd_msg *resp, int status)
{
	const struct tm_callbacks *cb = c->cb;
	bool final = status >= 200;

	/* After the final, only further 2xx of an INVITE are news (forking downstream). */
	if (c->cb_done && !(final && status < 300 && u->invite))
		return;
	if (final)
		c->cb_done = true;
	tm_cell_ref(c);
	tm_cell_unlock(c);
	if (!final) {
		if (cb->on_provisional && resp)
			cb->on_provisional(c->cb_arg, resp);
	} else if (resp) {
		cb->on_final(c->cb_arg, resp);
	} else {
		cb->on_failure(c->cb_arg, status, status == 408 ? ETIMEDOUT : ECONNREFUSED);
	}
	tm_cell_lock(c);
	tm_cell_unref(c);
}

const struct tm_api tm_api_table = {
    .uas_get = api_uas_get,
    .uas_reply = api_uas_reply,
    .reply = api_reply,
    .request = api_request,
    .release = api_release,
    .response_hook_add = tm_proxy_hook_add,
};
