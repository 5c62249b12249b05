#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "disks.h"
#include "errors.h"
#include "http.h"
#include "image.h"
#include "imgcache.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#define IMGCACHE_MAX_BYTES	(1LL << 40)	/* sanity bound per blob */
#define IMGCACHE_TIMEOUT_MS	(3600L * 1000)

/* A blob checked since the agent started, and the file it was. */
struct ic_checked {
	char sha[API_SHA256_HEX];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct imgcache {
	char *dir;			/* owned; immutable */
	pthread_mutex_t mu;		/* protects busy and checked */
	pthread_cond_t cond;		/* a busy sha was released */
	char (*busy)[API_SHA256_HEX];	/* owned: shas being fetched */
	size_t nbusy, capbusy;
	struct ic_checked *checked;	/* owned */
	size_t nchecked, capchecked;
};

int
imgcache_new(const char *dir, struct imgcache **out, struct vm_error *err)
{
	struct imgcache *ic;
	struct dirent *de;
	DIR *d;

	if (mkdir_p(dir, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "agent.image_cache_dir %s: %s",
		    dir, strerror(errno));
		return -1;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, ".tmp-", 5) == 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	ic = xcalloc(1, sizeof(*ic));
	ic->dir = xstrdup(dir);
	pthread_mutex_init(&ic->mu, NULL);
	pthread_cond_init(&ic->cond, NULL);
	*out = ic;
	return 0;
}

void
imgcache_free(struct imgcache *ic)
{
	if (ic == NULL)
		return;
	pthread_mutex_destroy(&ic->mu);
	pthread_cond_destroy(&ic->cond);
	free(ic->busy);
	free(ic->checked);
	free(ic->dir);
	free(ic);
}

/* sha256 of the file at fd into hex[65]. */
static int
ic_hash_fd(int fd, char hex[API_SHA256_HEX], struct vm_error *err)
{
	gnutls_hash_hd_t h;
	unsigned char d[32];
	char *buf = xmalloc(1 << 20);
	ssize_t n;
	size_t i;
	int ret = -1;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		vm_error_set(err, API_EINTERNAL, "imgcache: no sha256");
		free(buf);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto cleanup;
	while ((n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto cleanup;
		gnutls_hash(h, buf, (size_t)n);
	}
	ret = 0;
cleanup:
	gnutls_hash_deinit(h, d);
	free(buf);
	if (ret < 0) {
		vm_error_set(err, API_EINTERNAL, "imgcache: read: %s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

/* Was this very file (same inode, size, mtime) checked? Under mu. */
static bool
ic_is_checked(struct imgcache *ic, const char *sha, const struct stat *st)
{
	size_t i;

	for (i = 0; i < ic->nchecked; i++) {
		const struct ic_checked *c = &ic->checked[i];

		if (strcmp(c->sha, sha) == 0)
			return c->dev == st->st_dev && c->ino == st->st_ino &&
			    c->size == st->st_size &&
			    c->mtime.tv_sec == st->st_mtim.tv_sec &&
			    c->mtime.tv_nsec == st->st_mtim.tv_nsec;
	}
	return false;
}

static void
ic_mark_checked(struct imgcache *ic, const char *sha, const struct stat *st)
{
	struct ic_checked *c = NULL;
	size_t i;

	pthread_mutex_lock(&ic->mu);
	for (i = 0; i < ic->nchecked; i++)
		if (strcmp(ic->checked[i].sha, sha) == 0)
			c = &ic->checked[i];
	if (c == NULL) {
		if (ic->nchecked == ic->capchecked) {
			ic->capchecked = ic->capchecked ? 2 * ic->capchecked : 16;
			ic->checked = xrealloc(ic->checked,
			    ic->capchecked * sizeof(*ic->checked));
		}
		c = &ic->checked[ic->nchecked++];
	}
	str_copy(c->sha, sizeof(c->sha), sha);
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->size = st->st_size;
	c->mtime = st->st_mtim;
	pthread_mutex_unlock(&ic->mu);
}

/* Is the cached file good? 1 yes, 0 absent or removed as corrupt, -1. */
static int
ic_check_cached(struct imgcache *ic, const char *sha, const char *path,
    struct vm_error *err)
{
	char hex[API_SHA256_HEX];
	struct stat st;
	bool known;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		vm_error_set(err, API_EINTERNAL, "imgcache: %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		vm_error_set(err, API_EINTERNAL, "imgcache: %s: %s", path,
		    strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&ic->mu);
	known = ic_is_checked(ic, sha, &st);
	pthread_mutex_unlock(&ic->mu);
	if (known) {
		close(fd);
		return 1;
	}
	if (ic_hash_fd(fd, hex, err) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	if (strcmp(hex, sha) != 0) {
		log_warnx("imgcache: %s is corrupt (its sha256 is %s): removed, "
		    "fetching it again", path, hex);
		if (unlink(path) < 0 && errno != ENOENT) {
			vm_error_set(err, API_EINTERNAL, "imgcache: unlink %s: "
			    "%s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	ic_mark_checked(ic, sha, &st);
	return 1;
}

/* Download blob sha into path through a checked temporary file. */
static int
ic_fetch(struct agent *a, const char *sha, const char *path,
    struct vm_error *err)
{
	struct imgcache *ic = a->imgcache;
	struct http_client *c = NULL;
	struct http_resp r = { 0, NULL, -1, false };
	char *tmp = xasprintf("%s/.tmp-%s-XXXXXX", ic->dir, sha);
	char *url = xasprintf("/v1/agent/blobs/%s", sha);
	char hex[API_SHA256_HEX];
	struct stat st;
	int64_t t0 = mono_ms();
	int fd, ret = -1;

	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		vm_error_set(err, API_EINTERNAL, "imgcache: %s: %s", tmp,
		    strerror(errno));
		goto cleanup;
	}
	c = agent_http_client(a, IMGCACHE_TIMEOUT_MS);
	http_client_set_errcode(c, API_EUNAVAIL);
	if (http_download(c, url, fd, IMGCACHE_MAX_BYTES, IMGCACHE_TIMEOUT_MS,
	    &r, err) < 0)
		goto cleanup;
	if (r.status != 200) {
		struct vm_error e = { 0, "" };

		api_error_decode(r.body, r.status, &e);
		vm_error_set(err, API_EUNAVAIL, "image blob %s: vmctld "
		    "answered %ld: %s", sha, r.status, e.message);
		goto cleanup;
	}
	if (fsync(fd) < 0 || ic_hash_fd(fd, hex, err) < 0) {
		if (err->code == 0)
			vm_error_set(err, API_EINTERNAL, "imgcache: fsync: %s",
			    strerror(errno));
		goto cleanup;
	}
	if (strcmp(hex, sha) != 0) {
		vm_error_set(err, API_EUNAVAIL, "image blob %s: the download "
		    "is corrupt (its sha256 is %s): discarded; the task may be "
		    "retried", sha, hex);
		goto cleanup;
	}
	if (fstat(fd, &st) < 0 || rename(tmp, path) < 0) {
		vm_error_set(err, API_EINTERNAL, "imgcache: rename %s: %s",
		    tmp, strerror(errno));
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	ic_mark_checked(ic, sha, &st);
	log_info("imgcache: fetched %s (%lld bytes in %lld ms)", sha,
	    (long long)st.st_size, (long long)(mono_ms() - t0));
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	http_client_free(c);
	free(r.body);
	free(url);
	return ret;
}

static bool
ic_busy_has(struct imgcache *ic, const char *sha)
{
	size_t i;

	for (i = 0; i < ic->nbusy; i++)
		if (strcmp(ic->busy[i], sha) == 0)
			return true;
	return false;
}

int
imgcache_get(struct agent *a, const char *sha, char **path,
    struct vm_error *err)
{
	struct imgcache *ic = a->imgcache;
	char *p;
	size_t i;
	int rc, ret = -1;

	*path = NULL;
	if (!api_sha256_valid(sha)) {
		vm_error_set(err, API_EINVAL, "imgcache: '%.70s' is not a "
		    "sha256", sha);
		return -1;
	}
	p = xasprintf("%s/%s", ic->dir, sha);
	/* One caller per sha: the others wait for its download. */
	pthread_mutex_lock(&ic->mu);
	while (ic_busy_has(ic, sha))
		pthread_cond_wait(&ic->cond, &ic->mu);
	if (ic->nbusy == ic->capbusy) {
		ic->capbusy = ic->capbusy ? 2 * ic->capbusy : 8;
		ic->busy = xrealloc(ic->busy, ic->capbusy * sizeof(*ic->busy));
	}
	str_copy(ic->busy[ic->nbusy++], API_SHA256_HEX, sha);
	pthread_mutex_unlock(&ic->mu);

	rc = ic_check_cached(ic, sha, p, err);
	if (rc == 0)
		rc = ic_fetch(a, sha, p, err) == 0 ? 1 : -1;
	if (rc == 1) {
		*path = p;
		p = NULL;
		ret = 0;
	}

	pthread_mutex_lock(&ic->mu);
	for (i = 0; i < ic->nbusy; i++)
		if (strcmp(ic->busy[i], sha) == 0) {
			memmove(&ic->busy[i], &ic->busy[i + 1],
			    (ic->nbusy - i - 1) * sizeof(*ic->busy));
			ic->nbusy--;
			break;
		}
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->mu);
	free(p);
	return ret;
}

/* ------------------------------------------------------------ VM files */

void
imgcache_files_free(struct imgcache_files *f)
{
	free(f->base);
	free(f->kernel);
	free(f->initrd);
	memset(f, 0, sizeof(*f));
}

/* One file of the image: a blob of the store, or a host path. */
static int
ic_file(struct agent *a, const char *what, const char *sha,
    const char *path, char **out, struct vm_error *err)
{
	if (sha[0] != '\0')
		return imgcache_get(a, sha, out, err);
	if (path[0] != '\0')
		return disks_host_path(a->conf.image_dir, what, path, out,
		    err);
	return 0;
}

int
imgcache_files_get(struct agent *a, const struct api_image *im,
    struct imgcache_files *f, struct vm_error *err)
{
	memset(f, 0, sizeof(*f));
	if (ic_file(a, "disk", im->disk_sha256, im->disk, &f->base,
	    err) < 0 ||
	    ic_file(a, "kernel", im->kernel_sha256, im->kernel, &f->kernel,
	    err) < 0 ||
	    ic_file(a, "initrd", im->initrd_sha256, im->initrd, &f->initrd,
	    err) < 0)
		goto fail;
	if (f->base != NULL && disks_base_format(f->base,
	    im->disk_sha256[0] != '\0' ? im->format : NULL, f->base_fmt,
	    sizeof(f->base_fmt), err) < 0)
		goto fail;
	return 0;
fail:
	imgcache_files_free(f);
	return -1;
}
