/* rtc.call.started / rtc.call.ended events, published once the core's event bus (sipd/event.h) exists. */
#include <time.h>

#include "rtc_player.h"

#if __has_include(<sipd/event.h>)
#include <sipd/event.h>

void rp_event_call(const struct rp_call *c, bool started)
{
	json_t *data =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "call_id", c->call_id, "user", c->user, "caller",
		      c->caller ? c->caller : "", "kind", rtc_media_kind_name(c->kind), "codec",
		      rtc_media_codec_name(c->codec), "started", (json_int_t)c->started_wall);

	if (data && !started)
		json_object_set_new(data, "reason", json_string(c->end_reason ? c->end_reason : ""));
	if (data)
		sipd_event_publish(started ? "rtc.call.started" : "rtc.call.ended", data);
}
#else
/* Without the event bus (core older than the web admin's events) there is nobody to tell. */
void rp_event_call(const struct rp_call *c, bool started)
{
	(void)c;
	(void)started;
}
#endif
