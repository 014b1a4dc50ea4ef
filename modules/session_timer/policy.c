/* The session-timer policy (RFC 4028 8.1): a request's timer headers in, a verdict and edits out. */
#include <errno.h>
#include <string.h>

#include "st.h"

int st_mode_parse(const char *name)
{
	if (!name)
		return -1;
	if (!strcasecmp(name, "required"))
		return ST_MODE_REQUIRED;
	if (!strcasecmp(name, "supported"))
		return ST_MODE_SUPPORTED;
	if (!strcasecmp(name, "off"))
		return ST_MODE_OFF;
	return -1;
}

uint64_t st_expiry_ms(uint32_t interval)
{
	uint64_t ms = (uint64_t)interval * 1000;
	uint64_t margin = ms / 3 < 32000 ? ms / 3 : 32000;

	return ms - margin;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static void reject(struct st_decision *out, int status, const char *reason, const char *warning)
{
	out->status = status;
	out->reason = reason;
	out->warning = warning;
}

void st_policy_decide(struct st_decision *out, const struct st_policy *p, const struct st_request *r)
{
	uint32_t eff_min, asked_min;

	memset(out, 0, sizeof(*out));
	if (p->mode == ST_MODE_OFF)
		return;
	if (r->se_malformed) {
		reject(out, 400, "Bad Session-Expires",
		       "Malformed Session-Expires (RFC 4028 4: delta-seconds)");
		return;
	}
	if (r->min_se_malformed) {
		reject(out, 400, "Bad Min-SE", "Malformed Min-SE (RFC 4028 5: delta-seconds)");
		return;
	}
	/* A Session-Expires without Supported: timer was put there by a proxy upstream: the session is timed.
	 */
	if (!r->supports_timer && !r->se_present && p->mode == ST_MODE_REQUIRED) {
		reject(out, 421, "Extension Required", NULL);
		return;
	}
	asked_min = r->min_se_present ? r->min_se : ST_RFC_MIN_SE;
	eff_min = max_u32(p->min_se, r->min_se_present ? r->min_se : 0);
	if (r->se_present) {
		if (r->se < eff_min) {
			if (r->supports_timer) {
				reject(out, 422, "Session Interval Too Small", NULL);
				out->min_se = eff_min;
				return;
			}
			/* 8.1: a UAC that does not know 422 cannot retry; the interval is raised instead. */
			out->se_edit = ST_SE_SET;
			out->se = eff_min;
		} else if (r->se > max_u32(p->max_se, eff_min)) {
			/* Lowered, but never below the Min-SE the request carries. */
			out->se_edit = ST_SE_SET;
			out->se = max_u32(p->max_se, eff_min);
		} else {
			out->se = r->se;
		}
	} else {
		out->se_edit = ST_SE_INSERT;
		out->se = max_u32(p->session_expires, eff_min);
		if (out->se > max_u32(p->max_se, eff_min))
			out->se = max_u32(p->max_se, eff_min);
	}
	/* Downstream elements must not go below our minimum either (8.1). */
	if (p->min_se > asked_min)
		out->min_se = p->min_se;
}

static bool has_timer_tag(struct sipd_msg *m)
{
	const struct sipd_tokens *t;

	if (sipd_msg_hdr(m, m->h_supported, (const void **)&t))
		return false;
	for (unsigned i = 0; i < t->count; i++)
		if (sipd_str_caseeq_c(t->items[i], "timer"))
			return true;
	return false;
}

void st_request_read(struct st_request *out, struct sipd_msg *m)
{
	const struct sipd_session_expires *se;
	const uint32_t *min;

	memset(out, 0, sizeof(*out));
	out->supports_timer = has_timer_tag(m);
	if (m->h_session_expires) {
		out->se_present = true;
		/* Two values cannot both be the session's interval. */
		if (sipd_msg_hdr_next(m, m->h_session_expires) ||
		    sipd_msg_hdr(m, m->h_session_expires, (const void **)&se))
			out->se_malformed = true;
		else
			out->se = se->delta;
	}
	if (m->h_min_se) {
		out->min_se_present = true;
		if (sipd_msg_hdr_next(m, m->h_min_se) || sipd_msg_hdr(m, m->h_min_se, (const void **)&min))
			out->min_se_malformed = true;
		else
			out->min_se = *min;
	}
}
