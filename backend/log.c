/* Logging: one line per event, with a level; stderr carries a UTC time
 * stamp, syslog adds its own. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static bool log_to_stderr = true;
static enum log_level log_max = LOG_LVL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* Who this daemon is, on every line: several workers usually log to one
 * journal, and a line must say whose it is. */
static char log_who[300];

void log_set_who(const char *who)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_who, sizeof(log_who), "%s", who ? who : "");
	pthread_mutex_unlock(&log_lock);
}

void log_setup(const char *ident, bool to_stderr, enum log_level max_level)
{
	log_to_stderr = to_stderr;
	log_max = max_level;
	if (!to_stderr)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "ERROR", "WARNING", "INFO", "DEBUG" };
	static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	va_list ap;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	if (log_to_stderr) {
		char stamp[32];
		struct timespec now;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		/* One lock so that lines from threads never interleave. */
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s cinderfs%s%s%s %s: ", stamp, log_who[0] ? "[" : "", log_who,
			log_who[0] ? "]" : "", names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		pthread_mutex_unlock(&log_lock);
	} else {
		char line[2048];
		vsnprintf(line, sizeof(line), fmt, ap);
		pthread_mutex_lock(&log_lock);
		if (log_who[0])
			syslog(priorities[level], "[%s] %s", log_who, line);
		else
			syslog(priorities[level], "%s", line);
		pthread_mutex_unlock(&log_lock);
	}
	va_end(ap);
}
