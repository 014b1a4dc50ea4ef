/* The maxfwd module: maxfwd(n) enforces and decrements Max-Forwards (RFC 3261 16.3, 16.6). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/msg.h>
#include <sipd/stats.h>

#define MAXFWD_LIMIT_MAX 255
/* 1*DIGIT can be long; anything past this is not a hop count. */
#define MAXFWD_VALUE_MAX 4294967295UL

static struct sipd_stat *stat_483, *stat_invalid;

/* Max-Forwards = 1*DIGIT; returns false when the value is not one. */
static bool value_parse(struct sipd_str v, unsigned long *out)
{
	unsigned long n = 0;

	if (!v.len)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		n = n * 10 + (unsigned long)(v.p[i] - '0');
		if (n > MAXFWD_VALUE_MAX)
			return false;
	}
	*out = n;
	return true;
}

/* Edits keep the value slice until the message is serialized: it lives in the arena. */
static int value_set(struct sipd_msg *m, struct sipd_hdr *h, unsigned long value)
{
	char *buf = sipd_msg_alloc(m, SIPD_UTOA_MAX);
	size_t n;

	if (!buf)
		return ENOMEM;
	n = sipd_utoa(buf, value);
	if (h)
		return m->ops->hdr_replace(m, h, (struct sipd_str){buf, n});
	return m->ops->hdr_append(m, SIPD_STR("Max-Forwards"), (struct sipd_str){buf, n});
}

static enum sipd_result maxfwd(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	struct sipd_hdr *h = m->h_max_forwards;
	unsigned long value;
	int err;

	if (!h) {
		err = value_set(m, NULL, (unsigned long)args[0].i);
		goto out;
	}
	if (!value_parse(h->value, &value)) {
		sipd_stat_inc(stat_invalid);
		sipd_reply(ctx, 400, "Invalid Max-Forwards", NULL);
		return SIPD_STOP;
	}
	/*
	 * RFC 3261 16.3 lets a proxy answer an OPTIONS with Max-Forwards 0
	 * itself; we keep one rule for every method: 483.
	 */
	if (value == 0) {
		sipd_stat_inc(stat_483);
		sipd_reply(ctx, 483, "Too Many Hops", NULL);
		return SIPD_STOP;
	}
	err = value_set(m, h, value - 1);
out:
	if (err) {
		SIPD_ERR("editing Max-Forwards failed: %s", strerror(err));
		return SIPD_ERROR;
	}
	return SIPD_TRUE;
}

static int maxfwd_fixup(union sipd_arg *args, char *err, size_t errlen)
{
	if (args[0].i < 1 || args[0].i > MAXFWD_LIMIT_MAX) {
		snprintf(err, errlen, "maxfwd(): the limit must be 1..%d, not %ld", MAXFWD_LIMIT_MAX,
			 args[0].i);
		return EINVAL;
	}
	return 0;
}

static int maxfwd_init(void)
{
	stat_483 = sipd_stat_register("maxfwd", "rejected_483", "requests answered 483 Too Many Hops");
	stat_invalid =
	    sipd_stat_register("maxfwd", "rejected_invalid", "requests answered 400: bad Max-Forwards");
	return stat_483 && stat_invalid ? 0 : ENOMEM;
}

static const struct sipd_script_fn maxfwd_functions[] = {
    {.name = "maxfwd",
     .fn = maxfwd,
     .args = {SIPD_ARG_INT},
     .routes = SIPD_ROUTE_REQUEST,
     .fixup = maxfwd_fixup,
     .help = "maxfwd(N): adds Max-Forwards: N (1..255) when absent, answers 483 and stops when it is "
	     "0, else decrements it; true when the request may go on."},
    {.name = NULL},
};

static const char *const maxfwd_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "maxfwd",
    .version = "1.0",
    .description = "Max-Forwards check and decrement",
    .requires = maxfwd_requires,
    .functions = maxfwd_functions,
    .init = maxfwd_init,
};
