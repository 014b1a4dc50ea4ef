/* Ending an expired session (RFC 4028 10): a BYE to each party along the dialog's route set. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "st.h"

static void bye_final(void *arg, struct sipd_msg *resp)
{
	(void)arg;
	/* 481 means that party already considers the dialog gone: the BYE's purpose is met. */
	if (resp->status >= 300 && resp->status != 481) {
		sipd_stat_inc(st_st.bye_failures);
		SIPD_INFO("expiry BYE for %.*s answered %d", SIPD_STR_FMT(resp->call_id), resp->status);
	}
}

static void bye_failure(void *arg, int status, int err)
{
	(void)arg;
	sipd_stat_inc(st_st.bye_failures);
	SIPD_INFO("expiry BYE got no answer (%d, %s)", status, strerror(err));
}

static const struct tm_callbacks bye_callbacks = {
    .on_final = bye_final,
    .on_failure = bye_failure,
};

/*
 * The BYE the other party would send: toward the caller it comes From the
 * callee (To of the 2xx, with its tag) with the callee's CSeq space, and
 * the other way round; both continue their sender's CSeq.
 */
static int send_bye(const struct st_dialog_info *d, bool to_caller, const char *reason)
{
	struct sipd_str ruri = to_caller ? d->caller_contact : d->callee_contact;
	struct sipd_str route = to_caller ? d->route_caller : d->route_callee;
	struct sipd_str from = to_caller ? d->callee : d->caller;
	struct sipd_str to = to_caller ? d->caller : d->callee;
	uint32_t cseq = (to_caller ? d->callee_cseq : d->caller_cseq) + 1;
	const struct sipd_dest *dst = to_caller ? &d->caller_dst : &d->callee_dst;
	char *buf = NULL;
	int n, err;

	n = asprintf(&buf,
		     "BYE %.*s SIP/2.0\r\n"
		     "%s%.*s%s"
		     "Max-Forwards: 70\r\n"
		     "From: %.*s\r\n"
		     "To: %.*s\r\n"
		     "Call-ID: %.*s\r\n"
		     "CSeq: %u BYE\r\n"
		     "Reason: %s\r\n"
		     "User-Agent: %s\r\n"
		     "Content-Length: 0\r\n\r\n",
		     SIPD_STR_FMT(ruri), route.len ? "Route: " : "", SIPD_STR_FMT(route),
		     route.len ? "\r\n" : "", SIPD_STR_FMT(from), SIPD_STR_FMT(to), SIPD_STR_FMT(d->call_id),
		     cseq, reason, sipd_server_name());
	if (n < 0)
		return ENOMEM;
	/* With a Route set tm follows it; without one the party is where its messages came from. */
	err = st_tm->request(buf, (size_t)n, route.len ? NULL : dst, &bye_callbacks, NULL);
	free(buf);
	if (!err)
		sipd_stat_inc(st_st.byes_sent);
	return err;
}

void st_send_byes(const struct st_dialog_info *d, const char *reason)
{
	int err;

	if (!st_tm)
		return;
	if ((err = send_bye(d, false, reason)))
		SIPD_WARN("BYE to the callee of %.*s not sent: %s", SIPD_STR_FMT(d->call_id), strerror(err));
	if ((err = send_bye(d, true, reason)))
		SIPD_WARN("BYE to the caller of %.*s not sent: %s", SIPD_STR_FMT(d->call_id), strerror(err));
}

void st_expire_bye(const struct st_dialog_info *d)
{
	if (st_expiry_bye)
		st_send_byes(d, "SIP;cause=408;text=\"Session timer expired\"");
}
