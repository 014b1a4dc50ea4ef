/* The rtc_player module: answers calls to users with audio assigned and plays it (Opus/G.711 over (S)RTP). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "rtc_player.h"

struct rp_cfg rp_cfg;
const struct tm_api *rp_tm;
struct rtc_media_engine *rp_engine;
atomic_bool rp_ready;

static const char *p_audio_dir = "";
static const char *p_upload_dir = "";
static int p_max_seconds = 600;
static const char *p_bind = "0.0.0.0";
static const char *p_media_address = "";
static int p_port_min = 20000, p_port_max = 20999;
static int p_threads = 1;
static int p_rt_priority;
static int p_consent = 30, p_rtp_timeout = 60;
static int p_ring_ms = 500;
static int p_session_expires = 1800, p_min_se = 90;
static const char *p_contact_host = "";
static const char *p_demo_user = "welcome";
static const char *p_demo_audio = "greeting.wav";
static bool p_test_intervals;

static char library_dir[PATH_MAX], upload_dir[PATH_MAX];

static const struct sipd_param_def rp_params[] = {
    {.name = "audio_dir",
     .type = SIPD_PARAM_STR,
     .var = &p_audio_dir,
     .help = "shipped audio files (the greeting); default: the installed share/sipd/audio, else the source "
	     "audio/"},
    {.name = "upload_dir",
     .type = SIPD_PARAM_STR,
     .var = &p_upload_dir,
     .help = "where uploads and encoded caches go (writable); default: audio/ beside the database"},
    {.name = "max_seconds",
     .type = SIPD_PARAM_INT,
     .var = &p_max_seconds,
     .min = 1,
     .max = 7200,
     .help = "longest audio file accepted (seconds)"},
    {.name = "bind_address", .type = SIPD_PARAM_STR, .var = &p_bind, .help = "IP the media sockets bind to"},
    {.name = "media_address",
     .type = SIPD_PARAM_STR,
     .var = &p_media_address,
     .help =
	 "IP written into SDP (c=, ICE candidate), e.g. the public address behind NAT; default bind_address"},
    {.name = "port_min",
     .type = SIPD_PARAM_INT,
     .var = &p_port_min,
     .min = 1024,
     .max = 65535,
     .help = "first media port (one UDP port per call)"},
    {.name = "port_max",
     .type = SIPD_PARAM_INT,
     .var = &p_port_max,
     .min = 1024,
     .max = 65535,
     .help = "last media port"},
    {.name = "media_threads",
     .type = SIPD_PARAM_INT,
     .var = &p_threads,
     .min = 1,
     .max = 64,
     .help = "threads pacing and sending media"},
    {.name = "rt_priority",
     .type = SIPD_PARAM_INT,
     .var = &p_rt_priority,
     .min = 0,
     .max = 99,
     .help = "SCHED_FIFO priority of the media threads (0: normal scheduling); keeps 20 ms pacing on a busy "
	     "host, needs CAP_SYS_NICE"},
    {.name = "consent_timeout",
     .type = SIPD_PARAM_INT,
     .var = &p_consent,
     .min = 5,
     .max = 3600,
     .help = "seconds without ICE consent (STUN) from a WebRTC peer before the call ends"},
    {.name = "rtp_timeout",
     .type = SIPD_PARAM_INT,
     .var = &p_rtp_timeout,
     .min = 0,
     .max = 86400,
     .help = "seconds without RTP/RTCP from a phone before the call ends (0: never)"},
    {.name = "ring_ms",
     .type = SIPD_PARAM_INT,
     .var = &p_ring_ms,
     .min = 0,
     .max = 60000,
     .help = "how long 180 Ringing lasts before the 200 OK (ms)"},
    {.name = "session_expires",
     .type = SIPD_PARAM_INT,
     .var = &p_session_expires,
     .min = 1,
     .max = 86400,
     .help = "session interval offered when the caller supports timers but asks for none (s)"},
    {.name = "min_se",
     .type = SIPD_PARAM_INT,
     .var = &p_min_se,
     .min = 1,
     .max = 86400,
     .help = "smallest session interval accepted (s; 422 below it)"},
    {.name = "test_intervals",
     .type = SIPD_PARAM_BOOL,
     .var = &p_test_intervals,
     .help = "allow min_se below 90 s (tests only)"},
    {.name = "contact_host",
     .type = SIPD_PARAM_STR,
     .var = &p_contact_host,
     .help = "host of our Contact; default: the address the INVITE arrived on (media_address for wildcards)"},
    {.name = "demo_user",
     .type = SIPD_PARAM_STR,
     .var = &p_demo_user,
     .help = "user assigned demo_audio at first start (\"\" for none)"},
    {.name = "demo_audio",
     .type = SIPD_PARAM_STR,
     .var = &p_demo_audio,
     .help = "file in audio_dir assigned to demo_user (its name without extension is the audio's name)"},
    {.name = NULL},
};

static enum sipd_result fn_is_target(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_uri *ruri;
	const struct sipd_nameaddr *to;

	(void)args;
	if (m->method_id != SIPD_METHOD_INVITE || sipd_msg_to(m, &to) || to->tag.len ||
	    sipd_msg_ruri(m, &ruri) || !ruri->user.len)
		return SIPD_FALSE;
	return rp_assign_lookup(ruri->user.p, ruri->user.len, NULL, NULL) ? SIPD_TRUE : SIPD_FALSE;
}

static enum sipd_result fn_answer(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return rp_answer(ctx);
}

static enum sipd_result fn_in_dialog(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return rp_in_dialog(ctx);
}

static const struct sipd_script_fn rp_functions[] = {
    {.name = "rtc_player_is_target",
     .fn = fn_is_target,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "true for an initial INVITE whose Request-URI user has audio assigned (from memory)"},
    {.name = "rtc_player_answer",
     .fn = fn_answer,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "answer the INVITE and play the user's audio (STOP); false when the user has none"},
    {.name = "rtc_player_in_dialog",
     .fn = fn_in_dialog,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "take an in-dialog request (ACK, BYE, re-INVITE, UPDATE ...) of a player call (STOP); false if "
	     "it belongs to no player call"},
    {.name = NULL},
};

static int pick_dirs(void)
{
	char db[PATH_MAX];

	if (p_audio_dir[0])
		snprintf(library_dir, sizeof(library_dir), "%s", p_audio_dir);
	else if (access(RP_INSTALL_AUDIO_DIR "/README.md", R_OK) == 0)
		snprintf(library_dir, sizeof(library_dir), "%s", RP_INSTALL_AUDIO_DIR);
	else
		snprintf(library_dir, sizeof(library_dir), "%s", RP_SOURCE_AUDIO_DIR);
	if (p_upload_dir[0]) {
		snprintf(upload_dir, sizeof(upload_dir), "%s", p_upload_dir);
	} else {
		const char *path = sipd_core_database();

		if (!path || !path[0]) {
			SIPD_ERR("no database: set upload_dir");
			return EINVAL;
		}
		snprintf(db, sizeof(db), "%s", path);
		snprintf(upload_dir, sizeof(upload_dir), "%s/audio", dirname(db));
	}
	return 0;
}

static int rp_init(void)
{
	if (p_port_min > p_port_max) {
		SIPD_ERR("port_min %d is above port_max %d", p_port_min, p_port_max);
		return EINVAL;
	}
	if (p_min_se < 90 && !p_test_intervals) {
		SIPD_ERR("min_se %d is below RFC 4028's 90 s (test_intervals = true allows it in tests)",
			 p_min_se);
		return EINVAL;
	}
	if (p_session_expires < p_min_se) {
		SIPD_ERR("session_expires %d is below min_se %d", p_session_expires, p_min_se);
		return EINVAL;
	}
	rp_cfg = (struct rp_cfg){
	    .ring_ms = (unsigned)p_ring_ms,
	    .session_expires = (uint32_t)p_session_expires,
	    .min_se = (uint32_t)p_min_se,
	    .contact_host = p_contact_host[0] ? p_contact_host : NULL,
	    .media_host = p_media_address[0] ? p_media_address : p_bind,
	};
	return sipd_support_option("timer") ?: pick_dirs();
}

static int rp_start(void)
{
	struct rp_audio_cfg acfg = {
	    .library_dir = library_dir, .upload_dir = upload_dir, .max_seconds = (unsigned)p_max_seconds};
	struct rtc_media_config mcfg = {
	    .bind_address = p_bind,
	    .media_address = p_media_address[0] ? p_media_address : NULL,
	    .port_min = (uint16_t)p_port_min,
	    .port_max = (uint16_t)p_port_max,
	    .threads = (unsigned)p_threads,
	    .consent_timeout = (unsigned)p_consent,
	    .rtp_timeout = (unsigned)p_rtp_timeout,
	    .rt_priority = p_rt_priority,
	};
	int err;

	if ((err = sipd_service_require(TM_SERVICE, 2, (const void **)&rp_tm))) {
		SIPD_ERR("the tm service (version 2) is missing: %s", strerror(err));
		return err;
	}
	if ((err = rp_store_init(&acfg)) || (err = rp_assign_init()) ||
	    (err = rp_demo_setup(p_demo_user, p_demo_audio, library_dir)))
		return err;
	if ((err = rtc_media_engine_create(&rp_engine, &mcfg))) {
		SIPD_ERR("media engine: %s", strerror(err));
		return err;
	}
	SIPD_INFO("audio from %s, uploads in %s, media on %s:%d-%d", library_dir, upload_dir, p_bind,
		  p_port_min, p_port_max);
	atomic_store(&rp_ready, true);
	return 0;
}

static void rp_stop(void)
{
	atomic_store(&rp_ready, false);
	rp_calls_shutdown();
	rp_requests_shutdown();
	if (rp_engine)
		rtc_media_engine_destroy(rp_engine);
	rp_engine = NULL;
	rp_assign_shutdown();
	rp_store_shutdown();
}

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "rtc_player",
    .version = "1.0",
    .description = "answers calls to users with audio assigned and streams it (WebRTC, SRTP, RTP)",
    .requires = (const char *const[]){"parser", "tm", NULL},
    .params = rp_params,
    .functions = rp_functions,
    .rpc = rp_rpc_methods,
    .init = rp_init,
    .start = rp_start,
    .stop = rp_stop,
};
