/* The running script: install, reload beside it, swap without a global lock on the message path. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/loop.h>

#include "internal.h"
#include "script_int.h"

/*
 * One mutex per thread slot. A message run holds its own slot's
 * (uncontended) lock while it uses the script. A swap publishes the new
 * script, then takes and releases each slot lock once: a run that could
 * have read the old pointer held its lock before that, so once every slot
 * has been passed nothing uses the old script and it is freed. The writer
 * never holds more than two locks. Threads beyond SIPD_MAX_THREADS share
 * slots, which costs contention, not correctness.
 */
struct slot {
	pthread_mutex_t lock;
} __attribute__((aligned(64)));

static struct slot slots[SIPD_MAX_THREADS] = {
    [0 ... SIPD_MAX_THREADS - 1] = {PTHREAD_MUTEX_INITIALIZER},
};
static _Atomic(struct script *) current;
/*
 * While a swap passes the slots, runs wait at this gate instead of taking
 * their slot again: without it a busy worker re-locks its slot at once and
 * a reload can starve.
 */
static atomic_bool swap_pending;
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static char *current_path;                                     /* guarded by admin_lock */
static pthread_mutex_t admin_lock = PTHREAD_MUTEX_INITIALIZER; /* load/reload/unload among themselves */

/* Runs nested inside a run (a function running a route) reuse the held slot. */
static __thread unsigned held_depth;
static __thread unsigned held_slot;

static struct script *swap(struct script *next)
{
	struct script *old;

	pthread_mutex_lock(&gate);
	atomic_store(&swap_pending, true);
	old = atomic_exchange_explicit(&current, next, memory_order_acq_rel);
	for (unsigned i = 0; i < SIPD_MAX_THREADS; i++) {
		pthread_mutex_lock(&slots[i].lock);
		pthread_mutex_unlock(&slots[i].lock);
	}
	atomic_store(&swap_pending, false);
	pthread_mutex_unlock(&gate);
	return old;
}

enum sipd_result script_run_id(struct sipd_ctx *ctx, int id)
{
	enum sipd_result res;
	struct script *s;

	if (held_depth == 0) {
		if (atomic_load_explicit(&swap_pending, memory_order_relaxed)) {
			pthread_mutex_lock(&gate);
			pthread_mutex_unlock(&gate);
		}
		held_slot = sipd_thread_index() % SIPD_MAX_THREADS;
		pthread_mutex_lock(&slots[held_slot].lock);
	}
	held_depth++;
	s = atomic_load_explicit(&current, memory_order_acquire);
	if (!s) {
		SIPD_WARN("script: no routing script is loaded");
		res = SIPD_ERROR;
	} else if (id < 0 || (unsigned)id >= s->nids || !s->by_id[id]) {
		/* A missing reply_route simply means there is nothing to do for replies. */
		res = id == SCRIPT_ROUTE_ID_REPLY ? SIPD_TRUE : SIPD_ERROR;
		if (res == SIPD_ERROR)
			SIPD_WARN("script: route id %d does not exist in the running script", id);
	} else {
		res = script_exec(s, s->by_id[id], ctx);
	}
	if (--held_depth == 0)
		pthread_mutex_unlock(&slots[held_slot].lock);
	return res;
}

SIPD_API enum sipd_result sipd_script_run_route(struct sipd_ctx *ctx, int route)
{
	if (!ctx || !ctx->msg)
		return SIPD_ERROR;
	return script_run_id(ctx, route);
}

int script_check(const char *path, char *err, size_t errlen)
{
	struct script *s = NULL;
	int rc = script_compile(&s, path, err, errlen);
	script_free(s);
	return rc;
}

int script_check_text(const char *file, const char *text, size_t len, int *line, int *col, char *msg,
		      size_t msglen)
{
	struct script *s = NULL;
	char err[2048];
	size_t flen = strlen(file);
	int rc = script_compile_text(&s, file, text, len, err, sizeof(err));

	script_free(s);
	*line = *col = 0;
	if (!rc)
		return 0;
	/* "file:line:col: message\nsource line\ncaret": keep the position and the message's first line. */
	const char *m = err;
	if (strncmp(err, file, flen) == 0 && err[flen] == ':' &&
	    sscanf(err + flen + 1, "%d:%d:", line, col) == 2) {
		m = strstr(err + flen + 1, ": ");
		m = m ? m + 2 : err;
	} else if (strncmp(err, file, flen) == 0 && err[flen] == ':' && err[flen + 1] == ' ') {
		m = err + flen + 2;
	}
	snprintf(msg, msglen, "%.*s", (int)strcspn(m, "\n"), m);
	return rc;
}

static int install(const char *path, char *err, size_t errlen)
{
	struct script *s = NULL, *old;
	char *p = NULL;
	int rc;

	if (held_depth) {
		snprintf(err, errlen, "cannot reload the script from inside a script run");
		return EBUSY;
	}
	if ((rc = script_compile(&s, path, err, errlen)))
		return rc;
	if (path != current_path && !(p = strdup(path))) {
		script_free(s);
		return ENOMEM;
	}
	old = swap(s);
	script_free(old);
	if (p) {
		free(current_path);
		current_path = p;
	}
	return 0;
}

int script_load(const char *path, char *err, size_t errlen)
{
	pthread_mutex_lock(&admin_lock);
	int rc = install(path, err, errlen);
	pthread_mutex_unlock(&admin_lock);
	if (!rc)
		SIPD_INFO("script: loaded %s", path);
	return rc;
}

int script_reload(char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&admin_lock);
	if (!current_path) {
		snprintf(err, errlen, "no routing script is loaded");
		rc = EINVAL;
	} else {
		rc = install(current_path, err, errlen);
	}
	if (rc)
		SIPD_ERR("script: reload failed, the running script stays: %s", err);
	else
		SIPD_NOTICE("script: reloaded %s", current_path);
	pthread_mutex_unlock(&admin_lock);
	return rc;
}

void script_unload(void)
{
	pthread_mutex_lock(&admin_lock);
	script_free(swap(NULL));
	free(current_path);
	current_path = NULL;
	pthread_mutex_unlock(&admin_lock);
}
