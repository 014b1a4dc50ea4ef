/* The event bus: delivery in order to every listener, drops when the queue is full, unsubscribe waits. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sipd/event.h>

#include "internal.h"

struct seen {
	pthread_mutex_t lock;
	long count, last_seq;
	bool out_of_order;
	char last_type[64];
	atomic_int block; /* the listener sleeps while this is set */
};

static void listen_fn(const char *type, json_t *data, void *arg)
{
	struct seen *s = arg;
	long seq = (long)json_integer_value(json_object_get(data, "seq"));

	while (atomic_load(&s->block))
		usleep(1000);
	pthread_mutex_lock(&s->lock);
	if (seq <= s->last_seq)
		s->out_of_order = true;
	s->last_seq = seq;
	s->count++;
	snprintf(s->last_type, sizeof(s->last_type), "%s", type);
	pthread_mutex_unlock(&s->lock);
}

static long wait_count(struct seen *s, long want)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&s->lock);
		long n = s->count;
		pthread_mutex_unlock(&s->lock);
		if (n >= want)
			return n;
		usleep(1000);
	}
	return -1;
}

static void teardown(void)
{
	event_stop();
}

TestSuite(event, .fini = teardown, .timeout = 60);

Test(event, nobody_listening_costs_nothing)
{
	cr_assert_not(sipd_event_wanted());
	cr_assert_eq(sipd_event_publish("registration.added", json_object()), ENOENT);
	cr_assert_eq(sipd_event_publish("", json_object()), EINVAL);
	cr_assert_eq(sipd_event_publish(NULL, NULL), EINVAL);
}

Test(event, every_listener_gets_events_in_order)
{
	struct seen a = {.lock = PTHREAD_MUTEX_INITIALIZER}, b = {.lock = PTHREAD_MUTEX_INITIALIZER};

	cr_assert_eq(sipd_event_subscribe(listen_fn, &a), 0);
	cr_assert_eq(sipd_event_subscribe(listen_fn, &a), EEXIST);
	cr_assert_eq(sipd_event_subscribe(listen_fn, &b), 0);
	cr_assert(sipd_event_wanted());
	for (long i = 1; i <= 1000; i++)
		cr_assert_eq(sipd_event_publish("session.started", json_pack("{s:I}", "seq", (json_int_t)i)),
			     0);
	cr_assert_eq(wait_count(&a, 1000), 1000);
	cr_assert_eq(wait_count(&b, 1000), 1000);
	cr_assert_not(a.out_of_order);
	cr_assert_not(b.out_of_order);
	cr_assert_str_eq(a.last_type, "session.started");
	cr_assert_eq(sipd_event_unsubscribe(listen_fn, &a), 0);
	cr_assert_eq(sipd_event_unsubscribe(listen_fn, &a), ENOENT);
	cr_assert_eq(sipd_event_publish("session.ended", json_pack("{s:I}", "seq", (json_int_t)1001)), 0);
	cr_assert_eq(wait_count(&b, 1001), 1001);
	cr_assert_eq(a.count, 1000);
	cr_assert_eq(sipd_event_unsubscribe(listen_fn, &b), 0);
	cr_assert_not(sipd_event_wanted());
}

Test(event, a_slow_listener_makes_publishers_drop_not_wait)
{
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	int dropped = 0;

	atomic_store(&s.block, 1);
	cr_assert_eq(sipd_event_subscribe(listen_fn, &s), 0);
	/* The listener holds the first event; the queue fills behind it. */
	for (long i = 1; i <= 10000; i++) {
		int err = sipd_event_publish("registration.added", json_pack("{s:I}", "seq", (json_int_t)i));
		cr_assert(err == 0 || err == ENOBUFS);
		dropped += err == ENOBUFS;
	}
	cr_assert_gt(dropped, 0);
	atomic_store(&s.block, 0);
	cr_assert_eq(wait_count(&s, 10000 - dropped), 10000 - dropped);
	cr_assert_not(s.out_of_order);
	cr_assert_eq(sipd_event_unsubscribe(listen_fn, &s), 0);
}

static void *publisher(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++)
		sipd_event_publish("x", json_pack("{s:i}", "seq", 0));
	return NULL;
}

Test(event, unsubscribe_while_publishing)
{
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER, .last_seq = -1};
	pthread_t t[3];

	for (int round = 0; round < 20; round++) {
		cr_assert_eq(sipd_event_subscribe(listen_fn, &s), 0);
		for (int i = 0; i < 3; i++)
			pthread_create(&t[i], NULL, publisher, NULL);
		usleep(200);
		cr_assert_eq(sipd_event_unsubscribe(listen_fn, &s), 0);
		/* Once unsubscribe returned, the listener is never called again. */
		pthread_mutex_lock(&s.lock);
		long n = s.count;
		pthread_mutex_unlock(&s.lock);
		for (int i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
		usleep(2000);
		cr_assert_eq(s.count, n);
	}
}
