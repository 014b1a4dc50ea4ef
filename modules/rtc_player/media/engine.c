/* The media engine: port range, media threads with one epoll + timerfd each, the pacing loop. */
#define _GNU_SOURCE /* sendmmsg, struct mmsghdr */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sipd/log.h>

#include "session_int.h"

#define EPOLL_BATCH 64

uint64_t rtc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_addr(struct sockaddr_storage *ss, socklen_t *len, const char *ip)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len = sizeof(*in6);
		return 0;
	}
	return EINVAL;
}

int rtc_engine_bind(struct rtc_media_engine *e, int *fd, uint16_t *port)
{
	unsigned range = (unsigned)(e->port_max - e->port_min) + 1;
	struct sockaddr_storage ss = e->bind_addr;
	int s, err = EADDRINUSE;

	s = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	pthread_mutex_lock(&e->port_lock);
	for (unsigned i = 0; i < range; i++) {
		uint16_t p = e->port_next;

		e->port_next = p == e->port_max ? e->port_min : (uint16_t)(p + 1);
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(p);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(p);
		if (bind(s, (struct sockaddr *)&ss, e->bind_len) == 0) {
			*fd = s;
			*port = p;
			err = 0;
			break;
		}
		if (errno != EADDRINUSE && errno != EACCES) {
			err = errno;
			break;
		}
	}
	pthread_mutex_unlock(&e->port_lock);
	if (err)
		close(s);
	return err;
}

void rtc_thread_command(struct rtc_media_thread *t, struct rtc_media_session *s, unsigned cmd)
{
	uint64_t one = 1;

	pthread_mutex_lock(&t->cmd_lock);
	if (s->cmd == 0) {
		s->cmd_next = t->cmd_head;
		t->cmd_head = s;
	}
	s->cmd |= cmd;
	pthread_mutex_unlock(&t->cmd_lock);
	if (write(t->eventfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		SIPD_ERR("media: eventfd write: %s", strerror(errno));
}

static void unlink_session(struct rtc_media_thread *t, struct rtc_media_session *s)
{
	for (struct rtc_media_session **pp = &t->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
}

static void run_commands(struct rtc_media_thread *t, uint64_t now_ms)
{
	struct rtc_media_session *list, *s, *next;

	pthread_mutex_lock(&t->cmd_lock);
	list = t->cmd_head;
	t->cmd_head = NULL;
	pthread_mutex_unlock(&t->cmd_lock);
	for (s = list; s; s = next) {
		unsigned cmd;

		pthread_mutex_lock(&t->cmd_lock);
		next = s->cmd_next;
		cmd = s->cmd;
		s->cmd = 0;
		pthread_mutex_unlock(&t->cmd_lock);
		if (cmd & RTC_CMD_ADD) {
			struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};

			s->next = t->sessions;
			t->sessions = s;
			if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, s->fd, &ev) != 0)
				SIPD_ERR("media: epoll_ctl: %s", strerror(errno));
		}
		if (cmd & RTC_CMD_DESTROY) {
			epoll_ctl(t->epfd, EPOLL_CTL_DEL, s->fd, NULL);
			rtc_pace_remove(&t->pace, &s->pace);
			unlink_session(t, s);
			atomic_fetch_sub(&t->count, 1);
			rtc_session_free(s);
			continue;
		}
		if ((cmd & RTC_CMD_START) && !s->started) {
			s->started = true;
			s->start_ms = s->last_rx_ms = s->last_consent_ms = now_ms;
			if (s->choice.kind != RTC_MEDIA_WEBRTC)
				rtc_session_begin_sending(s, now_ms);
			else if (atomic_load(&s->dtls_state) == RTC_DTLS_CONNECTED)
				rtc_session_begin_sending(s, now_ms);
		}
	}
}

static void arm_timer(struct rtc_media_thread *t, uint64_t now_ms)
{
	uint64_t next = rtc_pace_next(&t->pace, now_ms);
	struct itimerspec its;

	if (t->sessions && t->next_housekeep_ms < next)
		next = t->next_housekeep_ms;
	if (next == t->armed_ms)
		return;
	memset(&its, 0, sizeof(its));
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000L;
	}
	/* it_value 0 disarms */
	timerfd_settime(t->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
	t->armed_ms = next;
}

static void set_realtime(int priority)
{
	struct sched_param sp = {.sched_priority = priority};
	int err;

	if (priority <= 0)
		return;
	if ((err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp)) != 0)
		SIPD_WARN("media: SCHED_FIFO priority %d refused (%s): normal scheduling", priority,
			  strerror(err));
}

static void *thread_main(void *arg)
{
	struct rtc_media_thread *t = arg;
	struct epoll_event evs[EPOLL_BATCH];

	set_realtime(t->engine->rt_priority);

	while (!atomic_load(&t->stop)) {
		int n = epoll_wait(t->epfd, evs, EPOLL_BATCH, -1);
		bool commands = false;
		uint64_t now_ms, junk;

		if (n < 0 && errno != EINTR)
			break;
		now_ms = rtc_now_ns() / 1000000ULL;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &t->timer_tag) {
				if (read(t->timerfd, &junk, sizeof(junk)) < 0)
					junk = 0;
				t->armed_ms = 0;
			} else if (p == &t->event_tag) {
				if (read(t->eventfd, &junk, sizeof(junk)) < 0)
					junk = 0;
				commands = true;
			} else {
				rtc_session_readable(p, now_ms);
			}
		}
		now_ms = rtc_now_ns() / 1000000ULL;
		rtc_pace_run(&t->pace, t->last_ms, now_ms, rtc_session_tick, t);
		t->last_ms = now_ms;
		if (commands)
			run_commands(t, now_ms);
		if (now_ms >= t->next_housekeep_ms) {
			struct rtc_media_session *s, *next;

			for (s = t->sessions; s; s = next) {
				next = s->next;
				rtc_session_housekeep(s, now_ms);
			}
			t->next_housekeep_ms = now_ms + RTC_HOUSEKEEP_MS;
		}
		arm_timer(t, now_ms);
	}
	return NULL;
}

static void thread_close(struct rtc_media_thread *t)
{
	struct rtc_media_session *s, *next;

	/* sessions still queued or open: free them without events */
	for (s = t->cmd_head; s; s = next) {
		next = s->cmd_next;
		/* not yet on t->sessions: only here */
		if (s->cmd & RTC_CMD_ADD)
			rtc_session_free(s);
	}
	for (s = t->sessions; s; s = next) {
		next = s->next;
		rtc_session_free(s);
	}
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->timerfd >= 0)
		close(t->timerfd);
	if (t->eventfd >= 0)
		close(t->eventfd);
	pthread_mutex_destroy(&t->cmd_lock);
}

static int thread_open(struct rtc_media_thread *t, struct rtc_media_engine *e)
{
	struct epoll_event ev = {.events = EPOLLIN};

	t->engine = e;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	t->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&t->cmd_lock, NULL);
	rtc_pace_init(&t->pace);
	t->armed_ms = UINT64_MAX;
	for (unsigned i = 0; i <= RTC_TX_BATCH; i++) {
		t->iov[i].iov_base = t->pkt[i];
		t->msgs[i].msg_hdr.msg_iov = &t->iov[i];
		t->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (t->epfd < 0 || t->timerfd < 0 || t->eventfd < 0)
		return errno;
	ev.data.ptr = &t->timer_tag;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->timerfd, &ev) != 0)
		return errno;
	ev.data.ptr = &t->event_tag;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->eventfd, &ev) != 0)
		return errno;
	return 0;
}

int rtc_media_engine_create(struct rtc_media_engine **out, const struct rtc_media_config *cfg)
{
	struct rtc_media_engine *e;
	struct sockaddr_storage media;
	socklen_t media_len;
	int err;

	if (!cfg->bind_address || cfg->port_min == 0 || cfg->port_max < cfg->port_min || cfg->threads == 0 ||
	    cfg->threads > 64 || cfg->rt_priority < 0 || cfg->rt_priority > 99)
		return EINVAL;
	if ((err = rtc_srtp_global_init()) != 0)
		return err;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	pthread_mutex_init(&e->port_lock, NULL);
	err = EINVAL;
	if (parse_addr(&e->bind_addr, &e->bind_len, cfg->bind_address) != 0)
		goto fail;
	const char *maddr =
	    cfg->media_address && cfg->media_address[0] ? cfg->media_address : cfg->bind_address;
	if (parse_addr(&media, &media_len, maddr) != 0 || strlen(maddr) >= sizeof(e->media_address))
		goto fail;
	strcpy(e->media_address, maddr);
	e->media_family = media.ss_family;
	e->port_min = cfg->port_min;
	e->port_max = cfg->port_max;
	e->port_next = cfg->port_min;
	e->consent_timeout_ms = (cfg->consent_timeout ? cfg->consent_timeout : 30) * 1000U;
	e->rtp_timeout_ms = cfg->rtp_timeout * 1000U;
	e->rt_priority = cfg->rt_priority;
	if ((err = rtc_dtls_cert_create(&e->cert)) != 0)
		goto fail;
	e->nthreads = cfg->threads;
	e->threads = calloc(e->nthreads, sizeof(*e->threads));
	if (!e->threads) {
		err = ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < e->nthreads; i++)
		e->threads[i].epfd = e->threads[i].timerfd = e->threads[i].eventfd = -1;
	for (unsigned i = 0; i < e->nthreads; i++)
		if ((err = thread_open(&e->threads[i], e)) != 0)
			goto fail;
	for (unsigned i = 0; i < e->nthreads; i++) {
		if ((err = pthread_create(&e->threads[i].tid, NULL, thread_main, &e->threads[i])) != 0)
			goto fail;
		e->threads[i].running = true;
	}
	*out = e;
	return 0;
fail:
	rtc_media_engine_destroy(e);
	return err;
}

void rtc_media_engine_destroy(struct rtc_media_engine *e)
{
	if (!e)
		return;
	for (unsigned i = 0; e->threads && i < e->nthreads; i++) {
		struct rtc_media_thread *t = &e->threads[i];
		uint64_t one = 1;

		if (!t->running)
			continue;
		atomic_store(&t->stop, true);
		if (write(t->eventfd, &one, sizeof(one)) < 0)
			SIPD_ERR("media: eventfd write: %s", strerror(errno));
		pthread_join(t->tid, NULL);
	}
	if (e->threads) {
		for (unsigned i = 0; i < e->nthreads; i++)
			thread_close(&e->threads[i]);
		free(e->threads);
	}
	rtc_dtls_cert_free(e->cert);
	pthread_mutex_destroy(&e->port_lock);
	free(e);
}

const char *rtc_media_engine_fingerprint(const struct rtc_media_engine *e)
{
	return rtc_dtls_cert_fingerprint(e->cert);
}

void rtc_media_engine_jitter(const struct rtc_media_engine *e, struct rtc_media_jitter *out)
{
	struct rtc_jitter_hist *h[64];

	for (unsigned i = 0; i < e->nthreads; i++)
		h[i] = &e->threads[i].jitter;
	rtc_jitter_summarise(out, h, e->nthreads);
}

void rtc_media_engine_jitter_reset(struct rtc_media_engine *e)
{
	for (unsigned i = 0; i < e->nthreads; i++)
		rtc_jitter_clear(&e->threads[i].jitter);
}
