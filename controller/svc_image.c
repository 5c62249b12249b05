/*
 * svc_image: the image store. Uploads (POST /v1/images, multipart/form-
 * data) stream each file part to a temporary file in IMAGES_DIR/tmp while
 * hashing it (sha256); when the request is complete the files are fsync'ed
 * and renamed to their content address IMAGES_DIR/blobs/SHA256 and ONE
 * write transaction creates the image row. A request that ends any other
 * way (refused, size limit, connection lost) leaves neither row nor file:
 * upload_free() removes the temporary files, and svc_image_init() removes
 * leftovers and unreferenced blobs at startup.
 *
 * Blob files are shared by images with the same content; images.mu
 * serializes "rename blob + create row" against "delete row + unlink
 * blob", so a blob is never removed under a row being created.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "multipart.h"
#include "svc.h"
#include "upform.h"
#include "util.h"

#define MIB		(1024LL * 1024)

struct images {
	pthread_mutex_t mu;		/* blob renames/unlinks vs rows */
	char dir[API_PATH_MAX];		/* immutable */
	char blobs[API_PATH_MAX + 8];	/* immutable: dir/blobs */
	char tmp[API_PATH_MAX + 8];	/* immutable: dir/tmp */
};

/* A file part on its way to the blob store. */
struct upl_file {
	char *tmp;			/* owned path; NULL once renamed */
	int fd;				/* -1 when closed */
	gnutls_hash_hd_t hash;		/* owned while fd is open */
	char sha[API_SHA256_HEX];
};

/*
 * One upload in progress (struct req.upload); freed by upload_free. The
 * body goes through the multipart parser (multipart.c) into the form
 * (upform.c), whose sink upload_sink writes the file parts.
 */
struct upload {
	struct images *im;		/* borrowed */
	struct multipart *mp;		/* owned */
	struct upform form;		/* owned: upform_fini */
	struct upl_file files[UPF_NPARTS];
};

/* ------------------------------------------------------------ store dir */

static void
images_paths(struct images *im, const struct ctl_config *cfg)
{
	if (cfg->images_dir[0] != '\0')
		str_copy(im->dir, sizeof(im->dir), cfg->images_dir);
	else	/* beside the store: /var/lib/vmctl/state -> .../images */
		path_beside(cfg->store_path, "images", im->dir,
		    sizeof(im->dir));
	snprintf(im->blobs, sizeof(im->blobs), "%s/blobs", im->dir);
	snprintf(im->tmp, sizeof(im->tmp), "%s/tmp", im->dir);
}

/* Is sha referenced by some image row? 1 yes, 0 no, -1 error. */
struct ref_arg {
	const char *sha;
	bool found;
};

static int
images_ref_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct ref_arg *ra = arg;
	struct api_img img;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_img_schema, val, vlen, &img, API_STORED,
	    err) < 0)
		return -1;
	if (strcmp(img.disk_sha256, ra->sha) == 0 ||
	    strcmp(img.kernel_sha256, ra->sha) == 0 ||
	    strcmp(img.initrd_sha256, ra->sha) == 0) {
		ra->found = true;
		return 1;
	}
	return 0;
}

static int
images_referenced(struct store *st, const char *sha, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	struct ref_arg ra = { sha, false };
	int rc;

	if (store_txn_begin(st, false, &txn, err) < 0)
		return -1;
	rc = store_iter(txn, DB_IMAGES, NULL, images_ref_cb, &ra, err);
	store_txn_abort(txn);
	if (rc < 0)
		return -1;
	return ra.found ? 1 : 0;
}

/* Unlink blob sha unless a row references it; under im->mu. */
static void
images_blob_release(struct ctl *ctl, const char *sha)
{
	struct vm_error err = { 0, "" };
	char *path;
	int rc;

	if (sha[0] == '\0')
		return;
	rc = images_referenced(ctl->store, sha, &err);
	if (rc != 0) {
		if (rc < 0)
			log_warnx("images: blob %s kept: %s", sha, err.message);
		return;
	}
	path = xasprintf("%s/%s", ctl->images->blobs, sha);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("images: unlink %s", path);
	else
		log_info("images: blob %s removed", sha);
	free(path);
}

/* Startup GC: temporary files, and blobs no image row references. */
static void
images_gc(struct ctl *ctl)
{
	struct images *im = ctl->images;
	struct dirent *de;
	DIR *d;
	int ntmp = 0, nblobs = 0;

	if ((d = opendir(im->tmp)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				ntmp++;
		}
		closedir(d);
	}
	if ((d = opendir(im->blobs)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			struct vm_error err = { 0, "" };
			int rc;

			if (de->d_name[0] == '.')
				continue;
			rc = api_sha256_valid(de->d_name) ?
			    images_referenced(ctl->store, de->d_name, &err) : 0;
			if (rc == 0 && unlinkat(dirfd(d), de->d_name, 0) == 0)
				nblobs++;
			else if (rc < 0)
				log_warnx("images: gc: %s", err.message);
		}
		closedir(d);
	}
	if (ntmp > 0 || nblobs > 0)
		log_info("images: removed %d unfinished upload file%s and %d "
		    "unreferenced blob%s", ntmp, ntmp == 1 ? "" : "s", nblobs,
		    nblobs == 1 ? "" : "s");
}

int
svc_image_init(struct ctl *ctl, struct vm_error *err)
{
	struct images *im = xcalloc(1, sizeof(*im));

	images_paths(im, &ctl->cfg);
	if (mkdir_p(im->blobs, 0700) < 0 || mkdir_p(im->tmp, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "images.dir %s: %s", im->dir,
		    strerror(errno));
		free(im);
		return -1;
	}
	pthread_mutex_init(&im->mu, NULL);
	ctl->images = im;
	images_gc(ctl);
	return 0;
}

void
svc_image_fini(struct ctl *ctl)
{
	if (ctl->images == NULL)
		return;
	pthread_mutex_destroy(&ctl->images->mu);
	free(ctl->images);
	ctl->images = NULL;
}

char *
svc_image_blob_path(const struct ctl *ctl, const char *sha)
{
	return xasprintf("%s/%s", ctl->images->blobs, sha);
}

/* ------------------------------------------------------------ upload */

static void
upl_file_close(struct upl_file *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
		gnutls_hash_deinit(f->hash, NULL);
	}
}

static void
upload_free(void *state)
{
	struct upload *u = state;
	size_t i;

	if (u == NULL)
		return;
	multipart_free(u->mp);
	for (i = 0; i < UPF_NPARTS; i++) {
		upl_file_close(&u->files[i]);
		if (u->files[i].tmp != NULL) {
			if (unlink(u->files[i].tmp) < 0 && errno != ENOENT)
				log_warn("images: unlink %s", u->files[i].tmp);
			free(u->files[i].tmp);
		}
	}
	upform_fini(&u->form);
	free(u);
}

/* upform's sink: a temporary file (and its hash) per file part. */
static int
upload_sink(void *arg, int part, const char *data, size_t size,
    struct vm_error *err)
{
	struct upload *u = arg;
	struct upl_file *f = &u->files[part];

	if (data == NULL) {
		f->tmp = xasprintf("%s/upload-XXXXXX", u->im->tmp);
		f->fd = mkostemp(f->tmp, O_CLOEXEC);
		if (f->fd < 0) {
			vm_error_set(err, API_EINTERNAL, "images: cannot "
			    "create a temporary file: %s", strerror(errno));
			free(f->tmp);
			f->tmp = NULL;
			return -1;
		}
		if (gnutls_hash_init(&f->hash, GNUTLS_DIG_SHA256) < 0) {
			close(f->fd);
			f->fd = -1;
			vm_error_set(err, API_EINTERNAL, "images: %s",
			    "sha256 unavailable");
			return -1;
		}
		return 0;
	}
	if (f->fd < 0) {
		vm_error_set(err, API_EINTERNAL, "images: part %s has no file",
		    upform_part_names[part]);
		return -1;
	}
	gnutls_hash(f->hash, data, size);
	while (size > 0) {
		ssize_t w = write(f->fd, data, size);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			vm_error_set(err, API_EINTERNAL, "images: write: %s",
			    strerror(errno));
			return -1;
		}
		data += w;
		size -= (size_t)w;
	}
	return 0;
}

/*
 * An agency user's upload when the agency has no image left in its count
 * quota: refused on the headers, before the body is streamed. The
 * authoritative check is image_quota() in the create transaction.
 */
static int
upload_quota_precheck(struct req *req, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	struct api_agency a;
	int rc;

	if (req->who.scope != SCOPE_OWN)
		return 0;
	if (store_txn_begin(req->ctl->store, false, &txn, err) < 0)
		return -1;
	rc = store_get_obj(txn, DB_AGENCIES, req->who.agency,
	    &api_agency_schema, &a, err);
	store_txn_abort(txn);
	if (rc < 0)
		return -1;
	if (rc == 0 && a.quota.images != QUOTA_UNLIMITED &&
	    a.usage.images + 1 > a.quota.images) {
		vm_error_set(err, API_EQUOTA, "quota of agency %s exceeded for "
		    "images: limit %lld, in use %lld, requested 1", a.name,
		    (long long)a.quota.images, (long long)a.usage.images);
		return -1;
	}
	return 0;
}

static int
upload_begin(struct req *req, void **state, struct vm_error *err)
{
	const char *ct = req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *cl = req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char boundary[MP_BOUNDARY_MAX + 1];
	struct upload *u;
	int64_t max = req->ctl->cfg.images_max_size_mib * MIB;
	size_t i;

	if (ct == NULL || strncmp(ct, "multipart/form-data", 19) != 0) {
		vm_error_set(err, API_EMEDIA, "Content-Type must be "
		    "multipart/form-data (fields name, format, ...; file "
		    "parts disk or kernel and initrd)");
		return -1;
	}
	if (multipart_boundary(ct, boundary, sizeof(boundary), err) < 0)
		return -1;
	/* Two files at most (kernel + initrd) plus the form around them. */
	if (cl != NULL && strtoull(cl, NULL, 10) >
	    (unsigned long long)(2 * max + MIB)) {
		vm_error_set(err, API_ETOOLARGE, "image upload larger than the "
		    "limit (images.max_size_mib = %lld MiB per file)",
		    (long long)req->ctl->cfg.images_max_size_mib);
		return -1;
	}
	if (upload_quota_precheck(req, err) < 0)
		return -1;
	u = xcalloc(1, sizeof(*u));
	u->im = req->ctl->images;
	for (i = 0; i < UPF_NPARTS; i++)
		u->files[i].fd = -1;
	upform_init(&u->form, max, upload_sink, u);
	u->mp = multipart_new(boundary, upform_part, &u->form);
	*state = u;
	return 0;
}

static int
upload_data(void *state, const char *data, size_t len, struct vm_error *err)
{
	struct upload *u = state;

	if (multipart_feed(u->mp, data, len, err) == 0)
		return 0;
	if (multipart_stopped(u->mp))
		*err = u->form.err;
	return -1;
}

const struct upload_ops svc_image_upload_ops = {
	upload_begin, upload_data, upload_free
};

/* ------------------------------------------------------------ create */

/* MiB of a file, rounded up. */
static int64_t
image_mib(int64_t bytes)
{
	return bytes <= 0 ? 0 : (bytes - 1) / MIB + 1;
}

int64_t
svc_image_quota_mib(const struct api_img *img)
{
	return image_mib(img->disk_size) + image_mib(img->kernel_size) +
	    image_mib(img->initrd_size);
}

/*
 * The owning agency's share of img (private images; public ones belong
 * to no agency): sign 1 claims one image and its files' MiB (refused past
 * the quota), -1 releases them, in the transaction of the row.
 */
static int
image_quota(struct store_txn *txn, const struct api_img *img, int sign,
    struct vm_error *err)
{
	struct api_quota d;

	if (img->agency[0] == '\0')
		return 0;
	memset(&d, 0, sizeof(d));
	d.images = sign;
	d.image_mib = sign * svc_image_quota_mib(img);
	return svc_quota_claim(txn, img->agency, &d, err);
}

/* fsync and close part f, its sha256 into f->sha. */
static int
upload_file_finish(struct upl_file *f, struct vm_error *err)
{
	unsigned char d[32];
	size_t i;

	if (fsync(f->fd) < 0) {
		vm_error_set(err, API_EINTERNAL, "images: fsync: %s",
		    strerror(errno));
		return -1;
	}
	gnutls_hash_output(f->hash, d);
	for (i = 0; i < sizeof(d); i++)
		snprintf(f->sha + 2 * i, 3, "%02x", d[i]);
	upl_file_close(f);
	return 0;
}

static int
dir_fsync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
svc_image_create(struct req *req, struct resp *resp)
{
	struct upload *u = req->upload;
	struct images *im = req->ctl->images;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_img img;
	char key[SVC_KEY_MAX];
	bool locked = false, renamed[UPF_NPARTS] = { false, false, false };
	size_t i;
	int rc;

	if (u == NULL) {
		vm_error_set(&err, API_EINTERNAL, "no upload");
		goto fail;
	}
	if (multipart_finish(u->mp, &err) < 0 ||
	    upform_record(&u->form, req->who.scope == SCOPE_OWN ?
	    req->who.agency : NULL, &img, &err) < 0)
		goto fail;
	for (i = 0; i < UPF_NPARTS; i++)
		if (u->form.have[i] && upload_file_finish(&u->files[i],
		    &err) < 0)
			goto fail;
	str_copy(img.disk_sha256, sizeof(img.disk_sha256),
	    u->form.have[UPF_DISK] ? u->files[UPF_DISK].sha : "");
	str_copy(img.kernel_sha256, sizeof(img.kernel_sha256),
	    u->form.have[UPF_KERNEL] ? u->files[UPF_KERNEL].sha : "");
	str_copy(img.initrd_sha256, sizeof(img.initrd_sha256),
	    u->form.have[UPF_INITRD] ? u->files[UPF_INITRD].sha : "");
	img.created_at = now_ms();
	str_copy(req->audit_agency, sizeof(req->audit_agency), img.agency);

	pthread_mutex_lock(&im->mu);
	locked = true;
	for (i = 0; i < UPF_NPARTS; i++) {
		struct upl_file *f = &u->files[i];
		char *dst;

		if (!u->form.have[i])
			continue;
		dst = xasprintf("%s/%s", im->blobs, f->sha);
		if (rename(f->tmp, dst) < 0) {
			vm_error_set(&err, API_EINTERNAL, "images: rename to "
			    "%s: %s", dst, strerror(errno));
			free(dst);
			goto fail;
		}
		free(dst);
		free(f->tmp);
		f->tmp = NULL;
		renamed[i] = true;
	}
	if (dir_fsync(im->blobs) < 0) {
		vm_error_set(&err, API_EINTERNAL, "images: fsync %s: %s",
		    im->blobs, strerror(errno));
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    image_quota(txn, &img, 1, &err) < 0)
		goto fail;
	/* Names per agency; public names unique (svc_names.c). */
	svc_name_key(img.agency, img.name, key);
	if (svc_name_clash(txn, NAME_IMAGE, img.agency, img.name, &err) < 0 ||
	    store_put_obj(txn, DB_IMAGES, key, &api_img_schema, &img, 0,
	    &err) < 0 ||
	    svc_name_add(txn, NAME_IMAGE, img.agency, img.name, &err) < 0)
		goto fail;
	rc = svc_commit(req, txn, 201, &err, "image %s", img.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	pthread_mutex_unlock(&im->mu);
	log_info("image %s: created (%s, %lld bytes)", img.name,
	    api_img_format_names[img.format], (long long)(img.disk_size +
	    img.kernel_size + img.initrd_size));
	resp_json(resp, 201, api_encode(&api_img_schema, &img));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	if (locked) {
		for (i = 0; i < UPF_NPARTS; i++)
			if (renamed[i])
				images_blob_release(req->ctl, u->files[i].sha);
		pthread_mutex_unlock(&im->mu);
	}
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ read */

/* May who see img? Public ones, and those of its scope. */
static bool
image_visible(const struct principal *who, const struct api_img *img)
{
	return img->visibility == IMG_PUBLIC || auth_scope_ok(who,
	    img->agency);
}

static bool
image_keep(const struct req *req, const void *obj)
{
	return image_visible(&req->who, obj);
}

int
svc_image_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_IMAGES, &api_img_schema, NULL,
	    image_keep);
}

/* Load image name as req's caller sees it: 0, or -1 with 404. */
static int
image_load(struct req *req, struct store_txn *txn, const char *name,
    struct api_img *img, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	rc = svc_name_resolve(req, txn, NAME_IMAGE, name, key, err);
	if (rc == 0)
		rc = store_get_obj(txn, DB_IMAGES, key, &api_img_schema, img,
		    err);
	if (rc < 0)
		return -1;
	if (rc == 1 || !image_visible(&req->who, img)) {
		vm_error_set(err, API_ENOTFOUND, "image '%.64s' not found",
		    name);
		return -1;
	}
	return 0;
}

int
svc_image_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_img img;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    image_load(req, txn, req->params[0], &img, &err) < 0) {
		store_txn_abort(txn);
		resp_error(resp, &err);
		return HANDLER_DONE;
	}
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_img_schema, &img));
	return HANDLER_DONE;
}

static int
image_used_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	size_t *n = arg;

	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(void)err;
	(*n)++;
	return 0;
}

int
svc_image_delete(struct req *req, struct resp *resp)
{
	struct images *im = req->ctl->images;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_img img;
	char key[SVC_KEY_MAX];
	size_t used = 0;
	int rc;

	pthread_mutex_lock(&im->mu);
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    image_load(req, txn, req->params[0], &img, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), img.agency);
	if (!auth_scope_ok(&req->who, img.agency)) {
		vm_error_set(&err, API_EFORBIDDEN, "image '%s' is public: "
		    "only admins delete it", img.name);
		goto fail;
	}
	svc_name_key(img.agency, img.name, key);
	if (store_iter_dups(txn, DB_VMS_BY_IMAGE, key, image_used_cb,
	    &used, &err) < 0)
		goto fail;
	if (used > 0) {
		vm_error_set(&err, API_ECONFLICT,
		    "image '%s' is used by %zu VM%s: delete or rebuild them "
		    "first", img.name, used, used == 1 ? "" : "s");
		goto fail;
	}
	if (store_del(txn, DB_IMAGES, key, NULL, &err) < 0 ||
	    svc_name_del(txn, NAME_IMAGE, img.agency, img.name, &err) < 0 ||
	    image_quota(txn, &img, -1, &err) < 0)
		goto fail;
	rc = svc_commit(req, txn, 204, &err, "image %s", img.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	images_blob_release(req->ctl, img.disk_sha256);
	images_blob_release(req->ctl, img.kernel_sha256);
	images_blob_release(req->ctl, img.initrd_sha256);
	pthread_mutex_unlock(&im->mu);
	resp_json(resp, 204, NULL);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	pthread_mutex_unlock(&im->mu);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* GET /v1/agent/blobs/{sha256}: a blob some image row references and
 * some VM or task of the calling host uses. */
int
svc_agent_blob(struct req *req, struct resp *resp)
{
	struct vm_error err = { 0, "" };
	const char *sha = req->params[0];
	int rc;

	if (!api_sha256_valid(sha)) {
		vm_error_set(&err, API_EINVAL,
		    "a blob is named by its sha256: 64 lower-case hex digits");
		goto fail;
	}
	rc = images_referenced(req->ctl->store, sha, &err);
	/* Only to a host with a VM or task using it; 404 either way, so a
	 * host learns nothing of the images other hosts run (item 9). */
	if (rc > 0)
		rc = svc_agent_blob_allowed(req->ctl->store, req->who.name, sha,
		    &err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		vm_error_set(&err, API_ENOTFOUND, "blob %s not found", sha);
		goto fail;
	}
	resp_file(resp, 200, svc_image_blob_path(req->ctl, sha));
	return HANDLER_DONE;
fail:
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ VM create */

int
svc_image_resolve(struct req *req, struct store_txn *txn, struct api_vm *vm,
    struct vm_error *err)
{
	if (svc_image_lookup(req, txn, vm, false, err) < 0)
		return -1;
	return svc_image_use(txn, vm, err);
}

/* DB_VMS_BY_IMAGE under the key of the image vm's agency sees. */
static int
image_use(struct store_txn *txn, const struct api_vm *vm, bool add,
    struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	if (vm->image.name[0] == '\0')
		return 0;
	rc = svc_name_find(txn, NAME_IMAGE, vm->agency, vm->image.name, key,
	    err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (add)
		return store_put(txn, DB_VMS_BY_IMAGE, key, vm->id,
		    strlen(vm->id), 0, err) < 0 ? -1 : 0;
	return store_del(txn, DB_VMS_BY_IMAGE, key, vm->id, err) < 0 ? -1 : 0;
}

int
svc_image_use(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	return image_use(txn, vm, true, err);
}

int
svc_image_unuse(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	return image_use(txn, vm, false, err);
}

int
svc_image_lookup(struct req *req, struct store_txn *txn, struct api_vm *vm,
    bool any_agency, struct vm_error *err)
{
	struct api_image *b = &vm->image;
	struct api_img img;
	char key[SVC_KEY_MAX];
	int rc;

	if (b->name[0] == '\0') {
		/* A path on the agent host: only for admins and operators. */
		if (req->who.scope != SCOPE_ALL) {
			vm_error_set(err, API_EFORBIDDEN, "vm.image: paths "
			    "(disk, kernel, initrd) are for admins; use an "
			    "image of the store (vmctl image create, then vm "
			    "create --image NAME)");
			return -1;
		}
		return 0;
	}
	/* The VM's agency's image, or a public one (svc_names.c). */
	if (vm->agency[0] != '\0')
		rc = svc_name_find(txn, NAME_IMAGE, vm->agency, b->name, key,
		    err);
	else
		rc = svc_name_resolve(req, txn, NAME_IMAGE, b->name, key, err);
	if (rc == 0)
		rc = store_get_obj(txn, DB_IMAGES, key, &api_img_schema, &img,
		    err);
	if (rc < 0)
		return -1;
	if (rc == 1 || !image_visible(&req->who, &img)) {
		vm_error_set(err, API_ENOTFOUND, "vm.image.name: image '%s' "
		    "not found (see vmctl image list)", b->name);
		return -1;
	}
	if (img.visibility == IMG_PRIVATE && !any_agency &&
	    strcmp(img.agency, vm->agency) != 0) {
		vm_error_set(err, API_EINVAL, "vm.image.name: image '%s' "
		    "belongs to agency %s, not %s", img.name, img.agency,
		    vm->agency);
		return -1;
	}
	if (b->cmdline[0] != '\0' && img.format != IMG_KERNEL) {
		vm_error_set(err, API_EINVAL, "vm.image.cmdline: image '%s' is "
		    "a disk image; a cmdline is only for kernel images",
		    img.name);
		return -1;
	}
	str_copy(b->format, sizeof(b->format),
	    api_img_format_names[img.format]);
	str_copy(b->disk_sha256, sizeof(b->disk_sha256), img.disk_sha256);
	str_copy(b->kernel_sha256, sizeof(b->kernel_sha256),
	    img.kernel_sha256);
	str_copy(b->initrd_sha256, sizeof(b->initrd_sha256),
	    img.initrd_sha256);
	if (b->cmdline[0] == '\0')
		str_copy(b->cmdline, sizeof(b->cmdline), img.cmdline);
	str_copy(b->arch, sizeof(b->arch), img.arch);
	str_copy(b->required_labels, sizeof(b->required_labels),
	    img.required_labels);
	return 0;
}
