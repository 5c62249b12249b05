/*
 * svc_qupgrade: the one-time upgrade of a store made before volumes and
 * images counted in quotas and host claims (issue 8). At startup, once
 * per store (DB_META key QU_KEY), in one write transaction:
 *  - agencies whose stored quota has no `images`/`image_mib` get the
 *    defaults of api_quota_defaults (decoding would read 0: no image);
 *  - every agency's usage gains its volumes' GiB in disk_gib, and its
 *    images/image_mib usage is set from its private images;
 *  - every host's alloc_disk_gib gains the GiB of the volumes whose file
 *    lives there.
 * From then on svc_volume.c and svc_image.c keep these exact in the
 * transactions that change them. A fresh store just gets the key.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "image.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

#define QU_KEY	"upgrade.volume_image_quota"

struct qu_row {
	char agency[API_NAME_MAX];
	char host[API_NAME_MAX];
	int64_t gib;		/* volume */
	int64_t mib;		/* image */
	bool image;
};

struct qu_ctx {
	struct qu_row *rows;
	size_t n, cap;
	char (*old)[API_NAME_MAX];	/* agencies without image quotas */
	size_t nold, capold;
	char (*all)[API_NAME_MAX];	/* every agency */
	size_t nall, capall;
};

static struct qu_row *
qu_add(struct qu_ctx *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->rows = xrealloc(c->rows, c->cap * sizeof(*c->rows));
	}
	memset(&c->rows[c->n], 0, sizeof(c->rows[c->n]));
	return &c->rows[c->n++];
}

static int
qu_agency_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct qu_ctx *c = arg;
	json_object *o, *q = NULL;

	(void)err;
	if (klen >= API_NAME_MAX)
		return 0;
	if (c->nall == c->capall) {
		c->capall = c->capall ? 2 * c->capall : 64;
		c->all = xrealloc(c->all, c->capall * sizeof(*c->all));
	}
	memcpy(c->all[c->nall], key, klen);
	c->all[c->nall++][klen] = '\0';
	o = json_parse(val, vlen, API_EINTERNAL, err);
	if (o == NULL)
		return -1;
	if (!json_object_object_get_ex(o, "quota", &q) || q == NULL ||
	    !json_object_object_get_ex(q, "images", NULL)) {
		if (c->nold == c->capold) {
			c->capold = c->capold ? 2 * c->capold : 64;
			c->old = xrealloc(c->old, c->capold * sizeof(*c->old));
		}
		str_copy(c->old[c->nold++], API_NAME_MAX, c->all[c->nall - 1]);
	}
	json_object_put(o);
	return 0;
}

static int
qu_volume_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct api_volume v;
	struct qu_row *r;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_volume_schema, val, vlen, &v, API_STORED,
	    err) < 0)
		return -1;
	r = qu_add(arg);
	str_copy(r->agency, sizeof(r->agency), v.agency);
	str_copy(r->host, sizeof(r->host), v.host);
	r->gib = v.size_gib;
	return 0;
}

static int
qu_image_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct api_img img;
	struct qu_row *r;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_img_schema, val, vlen, &img, API_STORED,
	    err) < 0)
		return -1;
	if (img.agency[0] == '\0')
		return 0;
	r = qu_add(arg);
	str_copy(r->agency, sizeof(r->agency), img.agency);
	r->image = true;
	r->mib = svc_image_quota_mib(&img);
	return 0;
}

static int
qu_apply(struct store_txn *txn, struct qu_ctx *c, struct vm_error *err)
{
	struct api_quota defaults;
	struct api_agency a;
	struct api_host h;
	size_t i, j;
	int rc;

	api_quota_defaults(&defaults);
	for (i = 0; i < c->nall; i++) {
		rc = store_get_obj(txn, DB_AGENCIES, c->all[i],
		    &api_agency_schema, &a, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		for (j = 0; j < c->nold; j++)
			if (strcmp(c->old[j], a.name) == 0) {
				a.quota.images = defaults.images;
				a.quota.image_mib = defaults.image_mib;
			}
		a.usage.images = a.usage.image_mib = 0;
		for (j = 0; j < c->n; j++) {
			if (strcmp(c->rows[j].agency, a.name) != 0)
				continue;
			if (c->rows[j].image) {
				a.usage.images++;
				a.usage.image_mib += c->rows[j].mib;
			} else {
				a.usage.disk_gib += c->rows[j].gib;
			}
		}
		if (store_put_obj(txn, DB_AGENCIES, a.name, &api_agency_schema,
		    &a, 0, err) < 0)
			return -1;
	}
	for (j = 0; j < c->n; j++) {
		if (c->rows[j].image || c->rows[j].host[0] == '\0')
			continue;
		rc = svc_host_load(txn, c->rows[j].host, &h, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			continue;
		h.alloc_disk_gib += c->rows[j].gib;
		if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h,
		    0, err) < 0)
			return -1;
	}
	return 0;
}

int
svc_quota_upgrade(struct store *st, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	struct qu_ctx c;
	char *val = NULL;
	int rc, ret = -1;

	memset(&c, 0, sizeof(c));
	if (store_txn_begin(st, true, &txn, err) < 0)
		return -1;
	rc = store_get(txn, DB_META, QU_KEY, &val, NULL, err);
	free(val);
	if (rc < 0)
		goto cleanup;
	if (rc == 0) {
		ret = 0;	/* done before */
		goto cleanup;
	}
	if (store_iter(txn, DB_AGENCIES, NULL, qu_agency_cb, &c, err) < 0 ||
	    store_iter(txn, DB_VOLUMES, NULL, qu_volume_cb, &c, err) < 0 ||
	    store_iter(txn, DB_IMAGES, NULL, qu_image_cb, &c, err) < 0 ||
	    qu_apply(txn, &c, err) < 0 ||
	    store_put(txn, DB_META, QU_KEY, "1", 1, 0, err) < 0)
		goto cleanup;
	rc = store_txn_commit(txn, err);
	txn = NULL;
	if (rc < 0)
		goto cleanup;
	if (c.nall > 0)
		log_info("store: volumes and images counted in quotas and host "
		    "claims (%zu agencies, %zu given image quotas, %zu volumes "
		    "and images)", c.nall, c.nold, c.n);
	ret = 0;
cleanup:
	store_txn_abort(txn);
	free(c.rows);
	free(c.old);
	free(c.all);
	return ret;
}
