/*
 * imgcache: the agent's local cache of image blobs fetched from vmctld by
 * sha256 (GET /v1/agent/blobs/SHA) into CACHE_DIR/SHA, verified before
 * use. Thread-safe: concurrent callers wanting the same blob wait for one
 * download (a per-sha lock). Returned paths are owned by the caller.
 */
#ifndef VMCTL_AGENT_IMGCACHE_H
#define VMCTL_AGENT_IMGCACHE_H

#include "error.h"

struct agent;
struct imgcache;

/* Make the cache in dir (created if needed; unfinished downloads of a
 * previous run removed). */
int imgcache_new(const char *dir, struct imgcache **out,
    struct vm_error *err);
void imgcache_free(struct imgcache *ic);

/*
 * *path = CACHE_DIR/SHA once it holds a blob whose sha256 is sha: a file
 * already there is checked (again when it changed since it was last
 * checked; a corrupt one is removed and fetched anew), else the blob is
 * downloaded to a temporary file, checked and renamed into place. A
 * download whose sha256 differs is discarded and the call fails (the
 * task fails and may be retried).
 */
int imgcache_get(struct agent *a, const char *sha, char **path,
    struct vm_error *err);

/* The files a VM boots from, for a create or a rebuild (all owned by the
 * caller; NULL when the image has none). */
struct imgcache_files {
	char *base;		/* the disk the overlay sits on */
	char base_fmt[16];	/* its format: "raw" or "qcow2" */
	char *kernel;
	char *initrd;
};

/*
 * Fill f for image im: store blobs through imgcache_get, host paths
 * through disks_host_path (only inside agent.image_dir). The base's
 * format comes from its content (disks_base_format) and must match the
 * store's record. Nothing is created but cache files. On -1 f holds
 * nothing (imgcache_files_free done).
 */
struct api_image;
int imgcache_files_get(struct agent *a, const struct api_image *im,
    struct imgcache_files *f, struct vm_error *err);
void imgcache_files_free(struct imgcache_files *f);

#endif
