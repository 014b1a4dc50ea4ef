/* A session's send side: the per-packet path (RTP, SRTP, RTCP SR, one sendmmsg), called from the pacing
 * wheel. */
#define _GNU_SOURCE /* sendmmsg, struct mmsghdr */
#include <errno.h>
#include <srtp2/srtp.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "session_int.h"

static void count(_Atomic uint64_t *c, uint64_t n)
{
	/* one writer (the media thread): a plain load + store, no locked add */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Builds the next RTP packet into t->pkt[i]; returns its length (0 on an SRTP error). */
static size_t build_rtp(struct rtc_media_session *s, struct rtc_media_thread *t, unsigned i)
{
	const struct rtc_media_frame *f = &s->src.frames[s->frame];
	uint16_t len = f->len;
	int n;

	if (len > RTC_PKT_MAX - 12 - SRTP_MAX_TRAILER_LEN)
		len = RTC_PKT_MAX - 12 - SRTP_MAX_TRAILER_LEN;
	n = (int)rtc_rtp_write(&s->rtp, t->pkt[i], f->data, len);
	if (s->srtp && srtp_protect(s->srtp, t->pkt[i], &n) != srtp_err_status_ok)
		return 0;
	s->frame++;
	return (size_t)n;
}

static size_t build_sr(struct rtc_media_session *s, struct rtc_media_thread *t, unsigned i)
{
	int n = (int)rtc_rtcp_sr_write(t->pkt[i], RTC_PKT_MAX - SRTP_MAX_TRAILER_LEN - 4, &s->rtp, wall_ns(),
				       s->cname);

	if (n > 0 && s->srtp && srtp_protect_rtcp(s->srtp, t->pkt[i], &n) != srtp_err_status_ok)
		return 0;
	return (size_t)n;
}

unsigned rtc_session_tick(struct rtc_pace_entry *e, uint64_t now_ms, void *arg)
{
	struct rtc_media_thread *t = arg;
	struct rtc_media_session *s = rtc_session_of(e);
	uint64_t behind = (now_ms - e->due_ms) / RTC_PACE_PERIOD, sent_bytes = 0;
	unsigned periods = (unsigned)behind + 1, n = 0, rtp_n = 0;
	bool finished = false;

	if (!s->have_peer)
		return periods; /* no address yet (plain RTP on hold, waiting for the peer's first packet) */
	if (behind > RTC_MAX_CATCHUP) {
		/* a long stall: keep the timeline, drop what is too old to be useful */
		uint64_t skip = behind;

		rtc_rtp_skip(&s->rtp, (uint32_t)skip);
		s->frame = s->src.loop ? (size_t)((s->frame + skip) % s->src.count)
				       : (size_t)(s->frame + skip < s->src.count ? s->frame + skip
										 : s->src.count - 1);
		behind = 0;
	}
	for (uint64_t k = 0; k <= behind && n < RTC_TX_BATCH; k++) {
		size_t len = build_rtp(s, t, n);

		if (len == 0)
			break;
		t->iov[n].iov_len = len;
		t->msgs[n].msg_hdr.msg_name = &s->peer;
		t->msgs[n].msg_hdr.msg_namelen = s->peer_len;
		t->due_ns[n] = (e->due_ms + k * RTC_PACE_PERIOD) * 1000000ULL;
		sent_bytes += len;
		n++;
		if (s->frame == s->src.count) {
			if (!s->src.loop) {
				finished = true;
				break;
			}
			s->frame = 0;
		}
	}
	rtp_n = n;
	if (n && s->rtp.packets % RTC_SR_PACKETS < rtp_n && (s->rtcp_mux || s->rtcp_peer_len)) {
		size_t len = build_sr(s, t, n);

		if (len) {
			t->iov[n].iov_len = len;
			t->msgs[n].msg_hdr.msg_name = s->rtcp_mux ? &s->peer : &s->rtcp_peer;
			t->msgs[n].msg_hdr.msg_namelen = s->rtcp_mux ? s->peer_len : s->rtcp_peer_len;
			n++;
		}
	}
	if (n) {
		int r = sendmmsg(s->fd, t->msgs, n, 0);
		uint64_t now = rtc_now_ns();

		for (unsigned i = 0; i < rtp_n; i++)
			rtc_jitter_record(&t->jitter, now > t->due_ns[i] ? (now - t->due_ns[i]) / 1000 : 0);
		if (r > 0) {
			unsigned rtp_ok = (unsigned)r < rtp_n ? (unsigned)r : rtp_n;
			count(&s->packets_sent, rtp_ok);
			count(&s->bytes_sent, sent_bytes);
			if ((unsigned)r > rtp_n)
				count(&s->rtcp_sent, 1);
		}
	}
	if (finished)
		rtc_session_event(s, RTC_MEDIA_FINISHED, "played to the end");
	return periods;
}
