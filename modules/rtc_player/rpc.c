/* RPC methods of rtc_player (sipctl audio ..., sipctl rtc calls, the web admin's audio pages). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rtc_player.h"

/* Params are positional words (sipctl) or an object (web): the idx-th word or the named member. */
static const char *param(json_t *params, size_t idx, const char *key)
{
	json_t *v = json_is_array(params) ? json_array_get(params, idx) : json_object_get(params, key);

	return json_string_value(v);
}

static int fail(json_t **result, int err, const char *msg)
{
	return sipd_rpc_fail(result, err, "%s", msg);
}

/* The control socket serves requests while modules start: the library is not there yet. */
static bool starting(json_t **result, int *err)
{
	if (atomic_load(&rp_ready))
		return false;
	*err = sipd_rpc_fail(result, EAGAIN, "rtc_player is starting, try again");
	return true;
}

static int rpc_add(json_t *params, json_t **result)
{
	const char *name = param(params, 0, "name"), *file = param(params, 1, "file");
	char msg[RP_ERRMSG_MAX] = "";
	int err;

	if (starting(result, &err))
		return err;

	if (!name || !file)
		return fail(result, EINVAL, "usage: audio add NAME FILE");
	if (file[0] != '/')
		return sipd_rpc_fail(result, EINVAL,
				     "FILE must be an absolute path (the server reads it): %s", file);
	if ((err = rp_store_add(name, file, false, msg, sizeof(msg))))
		return sipd_rpc_fail(result, err, "%s: %s", file, msg);
	*result = json_pack("{s:s,s:b}", "name", name, "added", 1);
	return *result ? 0 : ENOMEM;
}

static int rpc_list(json_t *params, json_t **result)
{
	int err;

	if (starting(result, &err))
		return err;
	(void)params;
	*result = rp_store_list();
	return *result ? 0 : ENOMEM;
}

static int rpc_delete(json_t *params, json_t **result)
{
	const char *name = param(params, 0, "name");
	char msg[RP_ERRMSG_MAX] = "";
	int err;

	if (starting(result, &err))
		return err;

	if (!name)
		return fail(result, EINVAL, "usage: audio delete NAME");
	if ((err = rp_store_delete(name, msg, sizeof(msg))))
		return fail(result, err, msg);
	*result = json_pack("{s:s,s:b}", "name", name, "deleted", 1);
	return *result ? 0 : ENOMEM;
}

static int rpc_assign(json_t *params, json_t **result)
{
	const char *user = param(params, 0, "user"), *name = param(params, 1, "name");
	const char *mode_s = param(params, 2, "mode");
	int mode = rp_mode_parse(mode_s), err;

	if (starting(result, &err))
		return err;

	if (!name && json_is_object(params))
		name = param(params, 1, "audio");
	if (!user || !name || !user[0] || strlen(user) > 128 || strpbrk(user, " \t\r\n@:;"))
		return fail(result, EINVAL,
			    "usage: audio assign USER NAME [loop|once] (USER: a user name, no domain)");
	if (mode < 0)
		return sipd_rpc_fail(result, EINVAL, "mode '%s': use loop or once", mode_s);
	if ((err = rp_assign_set(user, name, (enum rp_mode)mode)))
		return err == ENOENT
			   ? sipd_rpc_fail(result, err, "no audio named '%s'", name)
			   : sipd_rpc_fail(result, err, "cannot store the assignment: %s", strerror(err));
	*result =
	    json_pack("{s:s,s:s,s:s}", "user", user, "audio", name, "mode", rp_mode_name((enum rp_mode)mode));
	return *result ? 0 : ENOMEM;
}

static int rpc_unassign(json_t *params, json_t **result)
{
	const char *user = param(params, 0, "user");
	int err;

	if (starting(result, &err))
		return err;

	if (!user)
		return fail(result, EINVAL, "usage: audio unassign USER");
	if ((err = rp_assign_remove(user)))
		return err == ENOENT
			   ? sipd_rpc_fail(result, err, "user '%s' has no audio assigned", user)
			   : sipd_rpc_fail(result, err, "cannot remove the assignment: %s", strerror(err));
	*result = json_pack("{s:s,s:b}", "user", user, "unassigned", 1);
	return *result ? 0 : ENOMEM;
}

static int rpc_assignments(json_t *params, json_t **result)
{
	int err;

	if (starting(result, &err))
		return err;
	(void)params;
	*result = rp_assign_list();
	return *result ? 0 : ENOMEM;
}

static int rpc_file(json_t *params, json_t **result)
{
	const char *name = param(params, 0, "name");
	struct rp_audio *a;
	int err;

	if (starting(result, &err))
		return err;

	if (!name)
		return fail(result, EINVAL, "usage: audio file NAME");
	if (!(a = rp_audio_get(name)))
		return sipd_rpc_fail(result, ENOENT, "no audio named '%s'", name);
	*result = json_pack("{s:s,s:s}", "path", a->path, "content_type", a->content_type);
	rp_audio_unref(a);
	return *result ? 0 : ENOMEM;
}

struct listing {
	json_t *list;
	bool failed;
};

static void add_call(struct rp_call *c, void *arg)
{
	struct listing *l = arg;
	struct rtc_media_stats st = {0};
	char started[32];
	time_t t = (time_t)c->started_wall;
	struct tm tm;
	const char *state;
	json_t *o;

	pthread_mutex_lock(&c->lock);
	if (c->media)
		rtc_media_session_stats(c->media, &st);
	state = c->state == RP_RINGING     ? "ringing"
		: c->state == RP_ANSWERED  ? "answered"
		: c->state == RP_CONFIRMED ? "confirmed"
					   : "ended";
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:s}", "call_id", c->call_id, "user",
		      c->user, "caller", c->caller, "kind", rtc_media_kind_name(c->kind), "codec",
		      rtc_media_codec_name(c->codec), "state", state, "started",
		      (strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm)), started),
		      "packets_sent", (json_int_t)st.packets_sent, "packets_received",
		      (json_int_t)st.packets_received, "peer", st.peer, "dtls", rtc_dtls_state_name(st.dtls),
		      "session_expires", (json_int_t)c->interval, "refresher",
		      c->refresher == RP_REFRESH_UAS   ? "uas"
		      : c->refresher == RP_REFRESH_UAC ? "uac"
						       : "none");
	pthread_mutex_unlock(&c->lock);
	if (!o || json_array_append_new(l->list, o))
		l->failed = true;
}

static int rpc_calls(json_t *params, json_t **result)
{
	struct listing l = {0};
	int err;

	(void)params;
	if (starting(result, &err))
		return err;
	if (!(l.list = json_array()))
		return ENOMEM;
	rp_calls_foreach(add_call, &l);
	if (l.failed) {
		json_decref(l.list);
		return ENOMEM;
	}
	*result = l.list;
	return 0;
}

static int rpc_stats(json_t *params, json_t **result)
{
	const char *what = param(params, 0, "reset");
	struct rtc_media_jitter j = {0};
	int err;

	if (starting(result, &err))
		return err;

	if (what && strcmp(what, "reset") && strcmp(what, "true"))
		return fail(result, EINVAL, "usage: rtc stats [reset]");
	if (rp_engine)
		rtc_media_engine_jitter(rp_engine, &j);
	if (what && rp_engine)
		rtc_media_engine_jitter_reset(rp_engine);
	*result = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "calls", (json_int_t)rp_calls_count(), "packets",
			    (json_int_t)j.packets, "send_late_p50_us", (json_int_t)j.p50_us,
			    "send_late_p99_us", (json_int_t)j.p99_us, "send_late_p999_us",
			    (json_int_t)j.p999_us, "send_late_max_us", (json_int_t)j.max_us);
	return *result ? 0 : ENOMEM;
}

const struct sipd_rpc_method rp_rpc_methods[] = {
    {.name = "audio.add",
     .fn = rpc_add,
     .usage = "NAME FILE",
     .help =
	 "Add an audio file (absolute path; WAV, FLAC, Ogg/Vorbis or MP3): decoded, validated, copied into "
	 "the audio directory and encoded (Opus, G.711)."},
    {.name = "audio.list",
     .fn = rpc_list,
     .usage = "",
     .help = "Audio files: name, format, duration, users."},
    {.name = "audio.delete",
     .fn = rpc_delete,
     .usage = "NAME",
     .help = "Delete an audio file and its assignments."},
    {.name = "audio.assign",
     .fn = rpc_assign,
     .usage = "USER NAME [loop|once]",
     .help = "Calls to USER are answered with audio NAME, looped (default) or played once then hung up."},
    {.name = "audio.unassign",
     .fn = rpc_unassign,
     .usage = "USER",
     .help = "Calls to USER are routed as before."},
    {.name = "audio.assignments", .fn = rpc_assignments, .usage = "", .help = "Users with audio assigned."},
    {.name = "audio.file",
     .fn = rpc_file,
     .usage = "NAME",
     .help = "Where an audio file is stored, and its content type (for playback in the browser)."},
    {.name = "rtc.calls",
     .fn = rpc_calls,
     .usage = "",
     .help = "Active player calls: Call-ID, user, caller, kind, codec, state, start, packets sent/received."},
    {.name = "rtc.stats",
     .fn = rpc_stats,
     .usage = "[reset]",
     .help = "Player calls and the media threads' send-time lateness (p50/p99/p99.9/max, microseconds) "
	     "since start or the last reset (reset: answer, then start again)."},
    {.name = NULL},
};
