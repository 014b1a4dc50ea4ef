/* Logging to stderr (one write per line) or syslog, with a runtime level threshold. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sipd/log.h>

#include "internal.h"

#define LINE_MAX_LEN 4096

int sipd_log_threshold = SIPD_LOG_INFO;

static bool to_syslog;

static const struct {
	const char *name;
	int level;
} level_names[] = {
    {"error", SIPD_LOG_ERROR},   {"warn", SIPD_LOG_WARN}, {"warning", SIPD_LOG_WARN},
    {"notice", SIPD_LOG_NOTICE}, {"info", SIPD_LOG_INFO}, {"debug", SIPD_LOG_DEBUG},
};

int sipd_log_level_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(name, level_names[i].name) == 0)
			return level_names[i].level;
	}
	return -1;
}

const char *log_level_name(int level)
{
	switch (level) {
	case SIPD_LOG_ERROR:
		return "error";
	case SIPD_LOG_WARN:
		return "warn";
	case SIPD_LOG_NOTICE:
		return "notice";
	case SIPD_LOG_INFO:
		return "info";
	case SIPD_LOG_DEBUG:
		return "debug";
	default:
		return "unknown";
	}
}

void log_set_level(int level)
{
	__atomic_store_n(&sipd_log_threshold, level, __ATOMIC_RELAXED);
}

static const char *level_tag(int level)
{
	switch (level) {
	case SIPD_LOG_ERROR:
		return "ERROR";
	case SIPD_LOG_WARN:
		return "WARN";
	case SIPD_LOG_NOTICE:
		return "NOTE";
	case SIPD_LOG_INFO:
		return "INFO";
	default:
		return "DEBUG";
	}
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

void sipd_log(int level, const char *module, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	size_t len = 0;
	int saved = errno;

	if (!to_syslog) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		len += (size_t)snprintf(line + len, sizeof(line) - len, ".%03ld %-5s [%s] ",
					ts.tv_nsec / 1000000, level_tag(level), module ? module : "?");
	}
	size_t prefix = len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len += (size_t)n;
	if (len > sizeof(line) - 2) {
		/* Truncated: say so instead of cutting silently. */
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	while (len > prefix && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (to_syslog) {
		line[len] = '\0';
		syslog(level, "[%s] %s", module ? module : "?", line);
	} else {
		line[len++] = '\n';
		write_all(STDERR_FILENO, line, len);
	}
	errno = saved;
}

int log_open(const char *target, const char *level)
{
	if (level) {
		int l = sipd_log_level_parse(level);
		if (l < 0) {
			SIPD_ERR("unknown log level '%s' (use error, warn, notice, info or debug)", level);
			return EINVAL;
		}
		log_set_level(l);
	}
	if (!target || strcmp(target, "stderr") == 0) {
		log_close();
		return 0;
	}
	if (strcmp(target, "syslog") != 0) {
		SIPD_ERR("unknown log target '%s' (use stderr or syslog)", target);
		return EINVAL;
	}
	if (!to_syslog) {
		openlog("sipd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		to_syslog = true;
	}
	return 0;
}

void log_close(void)
{
	if (to_syslog) {
		to_syslog = false;
		closelog();
	}
}
