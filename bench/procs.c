/*
 * procs: child daemons of the benchmarks (see procs.h). Stopping goes by
 * PID only: we never signal a process we did not start.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "errors.h"
#include "log.h"
#include "procs.h"

void
procs_argv_add(struct procs_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("vasprintf: out of memory");
	va_end(ap);
	a->v = xrealloc(a->v, (a->n + 2) * sizeof(*a->v));
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void
procs_argv_free(struct procs_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

pid_t
procs_spawn(char *const *argv, const char *logpath, struct vm_error *err)
{
	pid_t pid;
	int fd;

	if (access(argv[0], X_OK) < 0) {
		vm_error_set(err, API_EINVAL, "%s: %s", argv[0],
		    strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		vm_error_set(err, API_EINTERNAL, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Own process group: a terminal's ^C reaches only us, and we
		 * stop the daemons in order. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int
procs_check(pid_t *pid, const char *what, const char *logpath,
    struct vm_error *err)
{
	int st;

	if (*pid <= 0 || waitpid(*pid, &st, WNOHANG) != *pid)
		return 0;
	*pid = -1;
	if (WIFEXITED(st))
		vm_error_set(err, API_EUNAVAIL, "%s exited with status %d "
		    "(see %s)", what, WEXITSTATUS(st), logpath);
	else
		vm_error_set(err, API_EUNAVAIL, "%s killed by signal %d "
		    "(see %s)", what, WIFSIGNALED(st) ? WTERMSIG(st) : 0,
		    logpath);
	return -1;
}

void
procs_stop(pid_t *const *pids, size_t n, int grace_s)
{
	int64_t t0 = mono_ms();
	size_t i, left;
	bool killed = false;
	int st;

	for (i = 0; i < n; i++)
		if (*pids[i] > 0)
			kill(*pids[i], SIGTERM);
	for (;;) {
		for (i = 0, left = 0; i < n; i++) {
			if (*pids[i] <= 0)
				continue;
			if (waitpid(*pids[i], &st, WNOHANG) != *pids[i]) {
				left++;
				continue;
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				log_warnx("pid %ld: unclean exit (wait "
				    "status 0x%x) after SIGTERM",
				    (long)*pids[i], st);
			*pids[i] = -1;
		}
		if (left == 0)
			break;
		if (!killed && mono_ms() - t0 > grace_s * 1000L) {
			for (i = 0; i < n; i++) {
				if (*pids[i] <= 0)
					continue;
				log_warnx("pid %ld: still running %d s after "
				    "SIGTERM, sending SIGKILL", (long)*pids[i],
				    grace_s);
				kill(*pids[i], SIGKILL);
			}
			killed = true;
		}
		usleep(10000);
	}
}

long
procs_hwm_kib(pid_t pid)
{
	char path[64], line[256];
	FILE *fp;
	long kib = -1;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return kib;
}

/* Start at a PID-based offset so parallel runs rarely collide. */
int
procs_free_port(int min, int max)
{
	int span = max - min + 1, i, port, fd, one = 1;
	struct sockaddr_in sa;

	for (i = 0; i < span; i++) {
		port = min + ((int)getpid() + i) % span;
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	return -1;
}
