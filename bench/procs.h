/*
 * procs: the child daemons of a benchmark: argv building, fork+exec with
 * the output sent to a log file, liveness checks, peak RSS, and stopping
 * by PID (SIGTERM, then SIGKILL after a grace period). Callers own the
 * pid_t slots; a slot is set to -1 once its child has been reaped.
 * Main thread only (waitpid, fork).
 */
#ifndef VMCTL_BENCH_PROCS_H
#define VMCTL_BENCH_PROCS_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

/* A growing, NULL-terminated argv; owns its strings. */
struct procs_argv {
	char **v;		/* owned; freed by procs_argv_free() */
	size_t n;
};

void procs_argv_add(struct procs_argv *a, const char *fmt, ...)
    ATTR_PRINTF(2, 3);
void procs_argv_free(struct procs_argv *a);

/*
 * fork+exec argv (argv[0] is a path) with stdout and stderr appended to
 * logpath, stdin from /dev/null, in its own process group. The child
 * gets SIGTERM when we die, so an aborted run leaves no daemon behind.
 * Returns the PID or -1.
 */
pid_t procs_spawn(char *const *argv, const char *logpath,
    struct vm_error *err);

/* -1 + err (naming what and logpath) if *pid has exited; reaps it. */
int procs_check(pid_t *pid, const char *what, const char *logpath,
    struct vm_error *err);

/* SIGTERM the n live *pids[i], reap them, SIGKILL after grace_s. */
void procs_stop(pid_t *const *pids, size_t n, int grace_s);

/* Peak resident set (VmHWM) of a live process in KiB, or -1. */
long procs_hwm_kib(pid_t pid);

/* A loopback TCP port in [min, max] nobody is bound to, or -1. */
int procs_free_port(int min, int max);

#endif
