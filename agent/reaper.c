/*
 * reaper: reap re-parented QEMU zombies of the embed driver.
 *
 * Why: a SIGKILLed QEMU stays a zombie until its parent reaps it, and
 * libvirt (which sees its monitor socket close, then waits for the pid to
 * vanish) reports the death only after that. Re-parented to a slow PID 1
 * this takes 1-2 s; reaped here it takes milliseconds. The capability
 * probe of a fresh embed root needs it too: libvirt kills its probe QEMU
 * and waits up to 15 s for it to vanish.
 *
 * Which zombies: children of ours (ppid == getpid()) in state Z whose
 * command is qemu-system-* and whose session is not ours. That is exactly
 * the QEMUs we inherited: libvirt daemonizes a guest's QEMU (an
 * intermediate child calls setsid(), forks QEMU and exits) and a probe
 * QEMU daemonizes itself (-daemonize: fork, setsid, fork). Neither the
 * guest QEMU nor the probe's last two processes were ever forked by us.
 * libvirt's own children are left alone: those that exec QEMU directly
 * (the probe's first process) stay in our session, and the daemonizing
 * intermediates never exec (their command is one of our thread names).
 * qemu-img runs of disks.c are in our session too. Their waitpid()
 * callers keep their exit status. (Pidfiles are no help: a probe QEMU
 * killed with SIGTERM removes its own -pidfile before it dies.)
 *
 * Cost: waitid(WNOWAIT) names a zombie child cheaply; /proc is scanned
 * only when that one is not ours to reap.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "reaper.h"
#include "util.h"

/* Look even without SIGCHLD this often (belt and braces). */
#define REAPER_TICK_MS	250

struct reaper {
	int rp_sid;			/* immutable: our session */
	pthread_t rp_thread;
	atomic_bool rp_stop;
	unsigned long rp_reaped;	/* reaper thread only */
};

int
reaper_become_subreaper(struct vm_error *err)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		vm_error_set(err, API_EINTERNAL,
		    "reaper: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reap pid if it is one of the QEMU zombies described above; returns
 * whether it did. */
static bool
reaper_check(struct reaper *r, pid_t pid)
{
	char path[64], *data = NULL, *open_p, *close_p, comm[64], state = 0;
	int ppid = 0, pgrp = 0, sid = 0, status = 0;
	size_t len = 0;
	bool reaped = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read(path, 4096, &data, &len) < 0)
		return false;	/* gone meanwhile */
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	open_p = strchr(data, '(');
	close_p = strrchr(data, ')');
	if (open_p == NULL || close_p == NULL || close_p < open_p)
		goto cleanup;
	*close_p = '\0';
	str_copy(comm, sizeof(comm), open_p + 1);
	if (sscanf(close_p + 1, " %c %d %d %d", &state, &ppid, &pgrp,
	    &sid) != 4)
		goto cleanup;
	if (state != 'Z' || ppid != (int)getpid() ||
	    strncmp(comm, "qemu-system", 11) != 0 || sid == r->rp_sid)
		goto cleanup;
	if (waitpid(pid, &status, WNOHANG) == pid) {
		reaped = true;
		r->rp_reaped++;
		log_debug("reaper: reaped %s pid %d, status 0x%x", comm,
		    (int)pid, (unsigned)status);
	}
cleanup:
	free(data);
	return reaped;
}

/*
 * Fast path: waitid(WNOWAIT) names a zombie child without reaping it;
 * reap it if it qualifies and ask again. A zombie we must leave alone
 * hides the others from waitid, so then scan /proc for our children.
 * Speed matters: libvirt, told of the death by the monitor socket at the
 * same instant, looks whether the pid is gone and, if not yet, sleeps
 * 200 ms before it looks again.
 */
static void
reaper_scan(struct reaper *r)
{
	struct dirent *de;
	siginfo_t si;
	DIR *d;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid == 0)
			return;		/* no zombie child */
		if (!reaper_check(r, si.si_pid))
			break;
	}
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *end = NULL;
		long pid = strtol(de->d_name, &end, 10);

		if (pid > 1 && end != NULL && *end == '\0' &&
		    (pid_t)pid != si.si_pid)
			reaper_check(r, (pid_t)pid);
	}
	closedir(d);
}

static void *
reaper_main(void *arg)
{
	struct reaper *r = arg;
	struct timespec tick = { 0, REAPER_TICK_MS * 1000000L };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	while (!atomic_load(&r->rp_stop)) {
		int sig = sigtimedwait(&set, NULL, &tick);

		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			log_warn("reaper: sigtimedwait");
			nanosleep(&tick, NULL);
		}
		if (atomic_load(&r->rp_stop))
			break;
		reaper_scan(r);
	}
	log_debug("reaper: stopped after reaping %lu", r->rp_reaped);
	return NULL;
}

int
reaper_start(struct reaper **out, struct vm_error *err)
{
	struct reaper *r = xcalloc(1, sizeof(*r));

	*out = NULL;
	r->rp_sid = (int)getsid(0);
	atomic_init(&r->rp_stop, false);
	if ((errno = pthread_create(&r->rp_thread, NULL, reaper_main,
	    r)) != 0) {
		vm_error_set(err, API_EINTERNAL, "reaper: thread: %s",
		    strerror(errno));
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

void
reaper_stop(struct reaper *r)
{
	if (r == NULL)
		return;
	atomic_store(&r->rp_stop, true);
	pthread_kill(r->rp_thread, SIGCHLD);	/* end its wait now */
	pthread_join(r->rp_thread, NULL);
	free(r);
}

/* ------------------------------------------------------- stale probes */

/* 1 when /proc/PID/cmdline is a probe QEMU using qmp dir `dir`. */
static int
probe_matches(pid_t pid, const char *dir)
{
	char path[64], cmd[4096];
	ssize_t n, i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	return strstr(cmd, "qemu-system") != NULL &&
	    strstr(cmd, "-machine none") != NULL && strstr(cmd, dir) != NULL;
}

int
reaper_kill_stale_probes(const char *root)
{
	char *base = xasprintf("%s/lib/qemu", root), *dir, *pidfile, *text;
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int killed = 0;

	if ((d = opendir(base)) == NULL) {
		free(base);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "qmp-", 4) != 0)
			continue;
		dir = xasprintf("%s/%s", base, de->d_name);
		pidfile = xasprintf("%s/qmp.pid", dir);
		text = NULL;
		if (file_read(pidfile, 64, &text, NULL) == 0 &&
		    (pid = (pid_t)atoi(text)) > 1 && probe_matches(pid, dir) &&
		    kill(pid, SIGKILL) == 0) {
			log_info("embed: killed QEMU probe %d left by an earlier "
			    "agent (%s)", (int)pid, dir);
			killed++;
		}
		free(text);
		free(pidfile);
		free(dir);
	}
	closedir(d);
	free(base);
	return killed;
}
