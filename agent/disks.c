/*
 * disks: per-VM files, and the qemu-img runs that make overlays.
 *
 * qemu-img runs through posix_spawn with a clean signal mask (the agent
 * blocks SIGCHLD and others in every thread) and is waited for by pid, so
 * it never meets the reaper (reaper.c only reaps QEMU pids listed in the
 * embed driver's pidfiles).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "disks.h"
#include "errors.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "util.h"

#ifndef QEMU_IMG_PATH
#define QEMU_IMG_PATH "qemu-img"
#endif

#define DISKS_CMD_TIMEOUT_MS	120000
#define DISKS_OUT_MAX		(1 << 20)
#define GIB			(1024LL * 1024 * 1024)

extern char **environ;

char *
disks_overlay_path(const char *state_dir, const char *uuid)
{
	return xasprintf("%s/disks/%s.qcow2", state_dir, uuid);
}

char *
disks_console_path(const char *state_dir, const char *uuid)
{
	return xasprintf("%s/console/%s.log", state_dir, uuid);
}

/* Keep the tail of a tool's output readable on one line. */
static void
disks_oneline(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		s[--n] = '\0';
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

/*
 * Run argv (argv[0] is a path), collect stdout into *out and stderr into
 * *errout (both owned by the caller, NUL-terminated). Returns the exit
 * status (0..255), or -1 with err set when it could not run or was killed.
 */
static int
disks_run(char *const argv[], struct buf *out, struct buf *errout,
    struct vm_error *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int opipe[2] = { -1, -1 }, epipe[2] = { -1, -1 };
	int64_t deadline = mono_ms() + DISKS_CMD_TIMEOUT_MS;
	pid_t pid = -1;
	int status = 0, ret = -1, open_fds = 2;

	if (pipe2(opipe, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0) {
		vm_error_set(err, API_EINTERNAL, "disks: pipe: %s",
		    strerror(errno));
		goto cleanup;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, opipe[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, epipe[1], STDERR_FILENO);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	errno = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (errno != 0) {
		vm_error_set(err, API_EINTERNAL, "disks: cannot run %s: %s",
		    argv[0], strerror(errno));
		pid = -1;
		goto cleanup;
	}
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;

	while (open_fds > 0) {
		struct pollfd pfd[2] = {
			{ opipe[0], POLLIN, 0 }, { epipe[0], POLLIN, 0 }
		};
		int64_t left = deadline - mono_ms();
		int i, r;

		if (left <= 0) {
			vm_error_set(err, API_EINTERNAL,
			    "disks: %s timed out", argv[0]);
			kill(pid, SIGKILL);
			goto cleanup;
		}
		r = poll(pfd, 2, (int)left);
		if (r < 0 && errno != EINTR) {
			vm_error_set(err, API_EINTERNAL, "disks: poll: %s",
			    strerror(errno));
			kill(pid, SIGKILL);
			goto cleanup;
		}
		for (i = 0; i < 2 && r > 0; i++) {
			char chunk[4096];
			struct buf *b = i == 0 ? out : errout;
			ssize_t n;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, chunk, sizeof(chunk));
			if (n > 0 && b->len + (size_t)n <= DISKS_OUT_MAX) {
				buf_append(b, chunk, (size_t)n);
			} else if (n == 0 || (n < 0 && errno != EINTR &&
			    errno != EAGAIN)) {
				if (i == 0) {
					close(opipe[0]);
					opipe[0] = -1;
				} else {
					close(epipe[0]);
					epipe[0] = -1;
				}
				open_fds--;
			}
		}
	}
	ret = 0;
cleanup:
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (ret == 0 && !WIFEXITED(status)) {
			vm_error_set(err, API_EINTERNAL,
			    "disks: %s killed by signal %d", argv[0],
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			ret = -1;
		} else if (ret == 0) {
			ret = WEXITSTATUS(status);
		}
	}
	if (opipe[0] >= 0)
		close(opipe[0]);
	if (opipe[1] >= 0)
		close(opipe[1]);
	if (epipe[0] >= 0)
		close(epipe[0]);
	if (epipe[1] >= 0)
		close(epipe[1]);
	buf_append(out, "", 0);		/* NUL-terminated even when empty */
	buf_append(errout, "", 0);
	return ret;
}

/*
 * A tool failed: its output goes to the agent's log only (it can name
 * host files, and for an image an agency uploaded it is the answer of an
 * oracle); the caller's error names the step.
 */
static void
disks_log_tool(const char *step, const char *what, const struct buf *eout)
{
	char *copy = xstrdup(eout->len ? eout->data : "(no output)");

	disks_oneline(copy);
	log_warnx("disks: %s %s failed: %s", step, what, copy);
	free(copy);
}

/*
 * Virtual size of the image at path in format fmt (qemu-img info -f FMT:
 * qemu-img never guesses a format, so never follows what a guessed
 * format names).
 */
static int
disks_base_info(const char *base, const char *fmt, bool is_base,
    int64_t *vsize, struct vm_error *err)
{
	char *argv[] = { (char *)(uintptr_t)QEMU_IMG_PATH, (char *)"info",
	    (char *)"-f", (char *)(uintptr_t)fmt, (char *)"--output=json",
	    (char *)"-U", (char *)(uintptr_t)base, NULL };
	struct buf out = { 0 }, eout = { 0 };
	json_object *o = NULL;
	int rc, ret = -1;

	*vsize = 0;
	rc = disks_run(argv, &out, &eout, err);
	if (rc < 0)
		goto cleanup;
	if (rc != 0) {
		disks_log_tool("qemu-img info", base, &eout);
		vm_error_set(err, API_EINVAL, "disk image check failed "
		    "(qemu-img info of the %s image; details in the agent's "
		    "log)", fmt);
		goto cleanup;
	}
	o = json_parse(out.data, out.len, API_EINTERNAL, err);
	if (o == NULL)
		goto cleanup;
	if (is_base && (json_object_object_get_ex(o, "backing-filename",
	    NULL) || json_object_object_get_ex(o, "data-file", NULL))) {
		log_warnx("disks: %s names a backing or data file", base);
		vm_error_set(err, API_EINVAL, "disk image refused: it names "
		    "other files (backing or data file)");
		goto cleanup;
	}
	*vsize = json_get_int(o, "virtual-size", 0);
	ret = 0;
cleanup:
	json_object_put(o);
	buf_free(&out);
	buf_free(&eout);
	return ret;
}

int
disks_prepare(const char *state_dir, const char *uuid, const char *base,
    const char *fmt, int64_t disk_gib, char **path_out, struct vm_error *err)
{
	char *path = disks_overlay_path(state_dir, uuid);
	char *tmp = xasprintf("%s.tmp", path);
	char size[32] = "";
	struct buf out = { 0 }, eout = { 0 };
	struct stat st;
	int64_t vsize;
	int rc, ret = -1;

	if (path_out != NULL)
		*path_out = NULL;
	if (stat(path, &st) == 0) {
		log_debug("disks: %s exists", path);
		ret = 0;
		goto cleanup;
	}
	if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0) {
		vm_error_set(err, API_EINVAL, "disks: base image format '%s' "
		    "is not raw or qcow2", fmt);
		goto cleanup;
	}
	if (disks_base_info(base, fmt, true, &vsize, err) < 0)
		goto cleanup;
	if (disk_gib > 0 && disk_gib * GIB > vsize)
		snprintf(size, sizeof(size), "%" PRId64 "G", disk_gib);
	{
		char *argv[] = { (char *)(uintptr_t)QEMU_IMG_PATH,
		    (char *)"create", (char *)"-q", (char *)"-f",
		    (char *)"qcow2", (char *)"-F", (char *)(uintptr_t)fmt,
		    (char *)"-b",
		    (char *)(uintptr_t)base, tmp, size[0] ? size : NULL,
		    NULL };

		unlink(tmp);	/* a leftover of a crash */
		rc = disks_run(argv, &out, &eout, err);
	}
	if (rc < 0)
		goto cleanup;
	if (rc != 0) {
		disks_log_tool("qemu-img create", path, &eout);
		vm_error_set(err, API_EINTERNAL, "making the VM's disk failed "
		    "(qemu-img create; details in the agent's log)");
		unlink(tmp);
		goto cleanup;
	}
	if (rename(tmp, path) < 0) {
		vm_error_set(err, API_EINTERNAL, "disks: rename %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	log_info("disks: created %s on %s (%s)", path, base, fmt);
	ret = 0;
cleanup:
	if (ret == 0 && path_out != NULL) {
		*path_out = path;
		path = NULL;
	}
	buf_free(&out);
	buf_free(&eout);
	free(tmp);
	free(path);
	return ret;
}

static int
disks_unlink(const char *path, struct vm_error *err)
{
	if (unlink(path) < 0 && errno != ENOENT) {
		vm_error_set(err, API_EINTERNAL, "disks: cannot remove %s: %s",
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

int
disks_remove(const char *state_dir, const char *uuid, struct vm_error *err)
{
	char *path = disks_overlay_path(state_dir, uuid);
	char *tmp = xasprintf("%s.tmp", path);
	char *log = disks_console_path(state_dir, uuid);
	int ret = -1;

	if (disks_unlink(path, err) < 0 || disks_unlink(tmp, err) < 0 ||
	    disks_unlink(log, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(path);
	free(tmp);
	free(log);
	return ret;
}

/* ---------------------------------------------------------------- images */

int
disks_base_format(const char *path, const char *recorded, char *fmt,
    size_t fmtsize, struct vm_error *err)
{
	unsigned char head[API_IMG_HEAD];
	char why[256];
	struct stat st;
	ssize_t n = -1;
	int fd, got;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		n = read(fd, head, sizeof(head));
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		log_warn("disks: cannot read %s", path);
		vm_error_set(err, API_EINVAL, "disk image check failed (cannot "
		    "read the image; details in the agent's log)");
		return -1;
	}
	got = api_img_probe(head, (size_t)n, st.st_size, why, sizeof(why));
	if (got < 0) {
		log_warnx("disks: %s refused: %s", path, why);
		vm_error_set(err, API_EINVAL, "disk image refused: %s", why);
		return -1;
	}
	if (recorded != NULL && recorded[0] != '\0' &&
	    strcmp(recorded, api_img_format_names[got]) != 0) {
		log_warnx("disks: %s is %s, recorded as %s", path,
		    api_img_format_names[got], recorded);
		vm_error_set(err, API_EINVAL, "disk image refused: its content "
		    "is %s, not the recorded %s", api_img_format_names[got],
		    recorded);
		return -1;
	}
	str_copy(fmt, fmtsize, api_img_format_names[got]);
	return 0;
}

int
disks_host_path(const char *dir, const char *what, const char *path,
    char **resolved, struct vm_error *err)
{
	char *rdir = NULL, *rpath = NULL;
	struct stat st;
	size_t dlen;
	int fd = -1, ret = -1;

	*resolved = NULL;
	if (dir[0] == '\0') {
		vm_error_set(err, API_EFORBIDDEN, "image.%s: host paths are "
		    "disabled on this host (agent.image_dir is not set); use "
		    "an image of the store", what);
		return -1;
	}
	if ((rdir = realpath(dir, NULL)) == NULL) {
		log_warn("agent.image_dir %s", dir);
		vm_error_set(err, API_EINTERNAL, "image.%s: the host's image "
		    "directory is unusable (see the agent's log)", what);
		goto cleanup;
	}
	rpath = realpath(path, NULL);
	dlen = strlen(rdir);
	if (rpath == NULL || strncmp(rpath, rdir, dlen) != 0 ||
	    (rdir[dlen - 1] != '/' && rpath[dlen] != '/')) {
		if (rpath == NULL)
			log_warn("image.%s %s", what, path);
		else
			log_warnx("image.%s %s resolves to %s, outside "
			    "agent.image_dir %s", what, path, rpath, rdir);
		vm_error_set(err, API_EFORBIDDEN, "image.%s: '%s' is not a "
		    "file of the host's image directory %s", what, path, dir);
		goto cleanup;
	}
	/* Resolved: no symlink left in rpath; a swap now is refused. */
	fd = open(rpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd < 0)
			log_warn("image.%s %s", what, rpath);
		vm_error_set(err, API_EFORBIDDEN, "image.%s: '%s' is not a "
		    "regular file of the host's image directory %s", what,
		    path, dir);
		goto cleanup;
	}
	*resolved = rpath;
	rpath = NULL;
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	free(rdir);
	free(rpath);
	return ret;
}

/* ---------------------------------------------------------------- volumes */

char *
disks_volume_path(const char *volume_dir, const char *vol_id)
{
	return xasprintf("%s/%s.qcow2", volume_dir, vol_id);
}

int
disks_volume_create(const char *path, int64_t size_gib, struct vm_error *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	char size[32];
	struct buf out = { 0 }, eout = { 0 };
	struct stat st;
	int rc, ret = -1;

	if (stat(path, &st) == 0) {
		ret = 0;
		goto cleanup;
	}
	snprintf(size, sizeof(size), "%" PRId64 "G", size_gib);
	{
		char *argv[] = { (char *)(uintptr_t)QEMU_IMG_PATH,
		    (char *)"create", (char *)"-q", (char *)"-f",
		    (char *)"qcow2", tmp, size, NULL };

		unlink(tmp);
		rc = disks_run(argv, &out, &eout, err);
	}
	if (rc < 0)
		goto cleanup;
	if (rc != 0) {
		disks_log_tool("qemu-img create", path, &eout);
		vm_error_set(err, API_EINTERNAL, "making the volume's file "
		    "failed (qemu-img create; details in the agent's log)");
		unlink(tmp);
		goto cleanup;
	}
	if (rename(tmp, path) < 0) {
		vm_error_set(err, API_EINTERNAL, "disks: rename %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	log_info("disks: created volume %s (%s)", path, size);
	ret = 0;
cleanup:
	buf_free(&out);
	buf_free(&eout);
	free(tmp);
	return ret;
}

int
disks_volume_remove(const char *path, struct vm_error *err)
{
	char *tmp = xasprintf("%s.tmp", path);
	int ret;

	ret = disks_unlink(path, err) < 0 || disks_unlink(tmp, err) < 0 ?
	    -1 : 0;
	free(tmp);
	return ret;
}

int
disks_tool(const char *step, char *const argv[], struct vm_error *err)
{
	struct buf out = { 0 }, eout = { 0 };
	const char *slash = strrchr(argv[0], '/');
	int rc;

	rc = disks_run(argv, &out, &eout, err);
	if (rc > 0) {
		disks_log_tool(slash != NULL ? slash + 1 : argv[0], step,
		    &eout);
		vm_error_set(err, API_EINTERNAL, "%s failed (%s; details in "
		    "the agent's log)", step, slash != NULL ? slash + 1 :
		    argv[0]);
	}
	buf_free(&out);
	buf_free(&eout);
	return rc == 0 ? 0 : -1;
}

int
disks_grow(const char *path, int64_t disk_gib, struct vm_error *err)
{
	char size[32];
	int64_t vsize;

	/* Overlays are ours: always qcow2. */
	if (disks_base_info(path, "qcow2", false, &vsize, err) < 0)
		return -1;
	if (disk_gib * GIB <= vsize) {
		log_debug("disks: %s already %" PRId64 " bytes", path, vsize);
		return 0;
	}
	snprintf(size, sizeof(size), "%" PRId64 "G", disk_gib);
	{
		char *argv[] = { (char *)(uintptr_t)QEMU_IMG_PATH,
		    (char *)"resize", (char *)"-q", (char *)"-f",
		    (char *)"qcow2", (char *)(uintptr_t)path, size, NULL };

		if (disks_tool("growing the VM's disk", argv, err) < 0)
			return -1;
	}
	log_info("disks: %s grown to %s", path, size);
	return 0;
}
