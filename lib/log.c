#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *log_ident = "vmctl";
static enum log_level log_lvl = LOG_LVL_INFO;
static bool log_syslog;

static const char *const log_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *ident, enum log_level level, bool use_syslog)
{
	log_ident = ident;
	log_lvl = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	log_lvl = level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(log_names); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_emit(enum log_level lvl, const char *errstr, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048];
	int n;

	if (lvl > log_lvl)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	if (n < 0)
		return;
	if (errstr != NULL && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", errstr);
	if (log_syslog) {
		syslog(prio[lvl], "%s", msg);
	} else {
		char ts[32], line[2200];
		int len;

		time_format(now_ms(), ts);
		len = snprintf(line, sizeof(line), "%s %s[%d] %s: %s\n", ts,
		    log_ident, (int)getpid(), log_names[lvl], msg);
		if (len > 0) {
			size_t w = (size_t)len < sizeof(line) ? (size_t)len :
			    sizeof(line) - 1;
			if (write(STDERR_FILENO, line, w) < 0) {
				/* nothing sensible left to do */
			}
		}
	}
}

#define LOG_FN(fn, lvl, witherr)					\
void									\
fn(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int saved = errno;						\
									\
	va_start(ap, fmt);						\
	log_emit(lvl, witherr ? strerror(saved) : NULL, fmt, ap);	\
	va_end(ap);							\
	errno = saved;							\
}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_error, LOG_LVL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, strerror(saved), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_LVL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
