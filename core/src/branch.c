/* The destination set of a request, kept in the message's arena. */
#include <errno.h>
#include <string.h>

#include <sipd/branch.h>
#include <sipd/msg.h>
#include <sipd/script.h>

struct sipd_branch_set {
	unsigned count;
	struct sipd_branch items[SIPD_MAX_BRANCHES];
};

static int copy_str(struct sipd_msg *m, struct sipd_str *dst, struct sipd_str src)
{
	char *p;

	*dst = SIPD_STR_NULL;
	if (src.len == 0)
		return 0;
	if (!(p = sipd_msg_alloc(m, src.len)))
		return ENOMEM;
	memcpy(p, src.p, src.len);
	dst->p = p;
	dst->len = src.len;
	return 0;
}

SIPD_API int sipd_branch_add(struct sipd_ctx *ctx, const struct sipd_branch *b)
{
	struct sipd_branch *n;
	int err;

	if (!ctx || !ctx->msg || !b || b->uri.len == 0)
		return EINVAL;
	if (!ctx->branches) {
		if (!(ctx->branches = sipd_msg_alloc(ctx->msg, sizeof(*ctx->branches))))
			return ENOMEM;
		ctx->branches->count = 0;
	}
	if (ctx->branches->count >= SIPD_MAX_BRANCHES)
		return ENOSPC;
	n = &ctx->branches->items[ctx->branches->count];
	*n = *b;
	if ((err = copy_str(ctx->msg, &n->uri, b->uri)) ||
	    (err = copy_str(ctx->msg, &n->dst_uri, b->dst_uri)) ||
	    (err = copy_str(ctx->msg, &n->path, b->path)))
		return err;
	ctx->branches->count++;
	return 0;
}

SIPD_API unsigned sipd_branch_count(const struct sipd_ctx *ctx)
{
	return ctx && ctx->branches ? ctx->branches->count : 0;
}

SIPD_API const struct sipd_branch *sipd_branch_get(const struct sipd_ctx *ctx, unsigned idx)
{
	return idx < sipd_branch_count(ctx) ? &ctx->branches->items[idx] : NULL;
}

SIPD_API void sipd_branch_clear(struct sipd_ctx *ctx)
{
	if (ctx && ctx->branches)
		ctx->branches->count = 0;
}
