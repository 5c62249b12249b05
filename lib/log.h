/*
 * log: leveled logging to stderr or syslog, in the style of OpenBSD's
 * vmd: log_warn() appends strerror(errno), log_warnx() does not,
 * fatal()/fatalx() log and exit(1). Settings are process globals set
 * once by log_init(); the functions are thread-safe (one write per line).
 */
#ifndef VMCTL_LIB_LOG_H
#define VMCTL_LIB_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *ident, enum log_level level, bool use_syslog);
void log_set_level(enum log_level level);
int log_level_parse(const char *s, enum log_level *out);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
