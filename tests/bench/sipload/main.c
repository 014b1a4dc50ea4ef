/* sipload: a lean SIP call load generator (UAC and UAS) over TCP, TLS, WS or WSS, one epoll loop.
 * usage: sipload -s HOST:PORT [-p tcp|tls|ws|wss] [-c one|call] [-r calls/s] [-d seconds] [-l uas_port]
 *                [-R both|uac|uas] [-t timeout_s] [-a answer_ms] [-m max_inflight] [-C cert -K key]
 *                [-o origin] [-u callee]
 * Prints one line of key=value results (see docs/benchmarks.md, "sipload"). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "sipload.h"

struct sl_config sl_cfg = {
    .proto = SL_TCP,
    .rate = 100,
    .duration = 5,
    .timeout = 5,
    .answer_ms = 20,
    .max_inflight = 100000,
    .origin = "http://127.0.0.1",
    .user = "uas",
    .uac = true,
    .uas = true,
};
int sl_epfd;
SSL_CTX *sl_client_ctx, *sl_server_ctx;
static volatile sig_atomic_t stop;

uint64_t sl_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

void sl_deliver(struct sl_conn *c, const char *p, size_t len)
{
	struct sl_msg m;

	if (sl_msg_parse(&m, p, len))
		return;
	if (c->role == SL_ROLE_UAC)
		sl_uac_on_msg(c, &m);
	else
		sl_uas_on_msg(c, &m);
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: sipload -s HOST:PORT [-p tcp|tls|ws|wss] [-c one|call] [-r rate] [-d seconds]\n"
	    "               [-l uas_port] [-R both|uac|uas] [-t timeout] [-a answer_ms] [-m max_inflight]\n"
	    "               [-C cert.pem -K key.pem] [-o origin] [-u callee]\n");
	return 2;
}

static int parse_args(int argc, char **argv)
{
	int o;
	char *colon;

	while ((o = getopt(argc, argv, "s:p:c:r:d:l:R:t:a:m:C:K:o:u:")) != -1) {
		switch (o) {
		case 's':
			colon = strrchr(optarg, ':');
			if (!colon)
				return EINVAL;
			*colon = '\0';
			sl_cfg.host = optarg;
			sl_cfg.port = atoi(colon + 1);
			break;
		case 'p':
			if (!strcmp(optarg, "tcp"))
				sl_cfg.proto = SL_TCP;
			else if (!strcmp(optarg, "tls"))
				sl_cfg.proto = SL_TLS;
			else if (!strcmp(optarg, "ws"))
				sl_cfg.proto = SL_WS;
			else if (!strcmp(optarg, "wss"))
				sl_cfg.proto = SL_WSS;
			else
				return EINVAL;
			break;
		case 'c':
			sl_cfg.per_call = !strcmp(optarg, "call");
			break;
		case 'r':
			sl_cfg.rate = atof(optarg);
			break;
		case 'd':
			sl_cfg.duration = atof(optarg);
			break;
		case 'l':
			sl_cfg.uas_port = atoi(optarg);
			break;
		case 'R':
			sl_cfg.uac = strcmp(optarg, "uas") != 0;
			sl_cfg.uas = strcmp(optarg, "uac") != 0;
			break;
		case 't':
			sl_cfg.timeout = atof(optarg);
			break;
		case 'a':
			sl_cfg.answer_ms = (unsigned)atoi(optarg);
			break;
		case 'm':
			sl_cfg.max_inflight = (unsigned)atoi(optarg);
			break;
		case 'C':
			sl_cfg.cert = optarg;
			break;
		case 'K':
			sl_cfg.key = optarg;
			break;
		case 'o':
			sl_cfg.origin = optarg;
			break;
		case 'u':
			sl_cfg.user = optarg;
			break;
		default:
			return EINVAL;
		}
	}
	if (!sl_cfg.host || sl_cfg.port <= 0 || sl_cfg.rate <= 0 || sl_cfg.duration <= 0)
		return EINVAL;
	if (sl_cfg.uas && (sl_cfg.proto == SL_TCP || sl_cfg.proto == SL_TLS) && sl_cfg.uas_port <= 0)
		return EINVAL;
	if (sl_cfg.uas && sl_cfg.proto == SL_TLS && (!sl_cfg.cert || !sl_cfg.key))
		return EINVAL;
	return 0;
}

/* Client side: no verification (loopback bench), no session reuse: a new connection is a full handshake. */
static int tls_setup(void)
{
	sl_client_ctx = SSL_CTX_new(TLS_client_method());
	if (!sl_client_ctx)
		return EPROTO;
	SSL_CTX_set_min_proto_version(sl_client_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(sl_client_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(sl_client_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(sl_client_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!sl_cfg.uas || sl_cfg.proto != SL_TLS)
		return 0;
	sl_server_ctx = SSL_CTX_new(TLS_server_method());
	if (!sl_server_ctx)
		return EPROTO;
	SSL_CTX_set_min_proto_version(sl_server_ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(sl_server_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(sl_server_ctx, sl_cfg.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sl_server_ctx, sl_cfg.key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "sipload: cannot load %s / %s\n", sl_cfg.cert, sl_cfg.key);
		return EINVAL;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void report(double elapsed, double cpu)
{
	char lat[400] = "";
	double start_s =
	    sl_uac.t_last_start && sl_uac.t_begin ? (sl_uac.t_last_start - sl_uac.t_begin) / 1e6 : elapsed;
	unsigned done = sl_uac.ok + sl_uac.failed + sl_uac.timeout;

	sl_uac_latency(lat, sizeof(lat));
	printf("sipload: proto=%s conn=%s rate=%.0f duration=%.1f started=%u ok=%u failed=%u timeout=%u "
	       "unfinished=%u final_errors=%u achieved=%.0f goodput=%.0f elapsed=%.2f tool_cpu_s=%.2f "
	       "tool_cpu_us_per_call=%.0f connect_errors=%u tls_errors=%u%s\n",
	       (const char *[]){"tcp", "tls", "ws", "wss"}[sl_cfg.proto], sl_cfg.per_call ? "call" : "one",
	       sl_cfg.rate, sl_cfg.duration, sl_uac.started, sl_uac.ok, sl_uac.failed, sl_uac.timeout,
	       sl_uac.started - done, sl_uac.final_errors,
	       start_s > 0 ? sl_uac.started / (start_s > 1e-3 ? start_s : 1e-3) : 0,
	       elapsed > 0 ? sl_uac.ok / elapsed : 0, elapsed, cpu, sl_uac.ok ? cpu * 1e6 / sl_uac.ok : 0,
	       sl_connect_errors, sl_tls_errors, lat);
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct rlimit rl;
	uint64_t t0, now, deadline;
	double c0;
	int n, i, err;
	bool finished = false;

	if (parse_args(argc, argv))
		return usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	sl_uac.run_id = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	sl_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sl_epfd < 0 || tls_setup()) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	if (sl_cfg.uac)
		sl_uac_init();
	err = sl_cfg.uas ? sl_uas_start() : 0;
	if (!err && sl_cfg.uac)
		err = sl_uac_start();
	if (err) {
		fprintf(stderr, "sipload: cannot start: %s\n", strerror(err));
		return 1;
	}
	t0 = sl_now_us();
	c0 = cpu_s();
	/* Setting up (connect, register) may take 10 s; then the calls, then their timeout. */
	deadline = t0 + (uint64_t)((10 + sl_cfg.duration + sl_cfg.timeout + 1) * 1e6);
	while (!stop) {
		n = epoll_wait(sl_epfd, evs, 256, 1);
		for (i = 0; i < n; i++)
			sl_conn_event(evs[i].data.ptr, evs[i].events);
		now = sl_now_us();
		if (sl_cfg.uas)
			sl_uas_tick(now);
		if (sl_cfg.uac && sl_uac_tick(now, !sl_cfg.uas || sl_uas_ready)) {
			finished = true;
			break;
		}
		sl_conn_flush_all();
		sl_conn_reap();
		if (sl_uas_refused || sl_uac.broken || (sl_cfg.uac && now > deadline))
			break;
	}
	sl_uac.done = true;
	if (sl_cfg.uac) {
		now = sl_now_us();
		report(sl_uac.t_begin ? (now - sl_uac.t_begin) / 1e6 : 0, cpu_s() - c0);
		fflush(stdout);
	}
	sl_conn_close_all();
	sl_uas_free();
	if (sl_cfg.uac)
		sl_uac_free();
	SSL_CTX_free(sl_client_ctx);
	SSL_CTX_free(sl_server_ctx);
	close(sl_epfd);
	return !sl_cfg.uac || finished ? 0 : 1;
}
