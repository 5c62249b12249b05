/*
 * store_migrate: schema upgrades of an existing store, run by store_open()
 * inside its one start-up write transaction (all or nothing). Uses only
 * the store_* API (no <lmdb.h>).
 *
 * v3 -> v4: names per agency. Images, networks, volumes, server groups
 * and the VM name index are re-keyed "AGENCY/NAME" ("/NAME" for public
 * images and shared networks); the indexes that refer to them by name
 * (vms_by_image, group_members, vols_by_vm values, IPAM "NET/...", the
 * group in placement rows) follow; DB_NAMES is built; idempotency rows
 * (not scoped to a principal in v3) are dropped; agencies get an id.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "store_migrate.h"
#include "util.h"

#define KEY_MAX (2 * API_NAME_MAX + 1)

struct kv {
	char *key, *val;	/* owned, NUL-terminated */
	size_t vlen;
};

struct kvs {
	struct kv *v;		/* owned */
	size_t n, cap;
};

static void
kvs_free(struct kvs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int
kvs_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct kvs *l = arg;

	(void)err;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].key = xstrndup(key, klen);
	l->v[l->n].val = xstrndup(val, vlen);
	l->v[l->n].vlen = vlen;
	l->n++;
	return 0;
}

/* Every (key, value) pair of db, dups included, read before rewriting. */
static int
kvs_load(struct store_txn *txn, enum store_db db, struct kvs *l,
    struct vm_error *err)
{
	memset(l, 0, sizeof(*l));
	return store_iter(txn, db, NULL, kvs_cb, l, err);
}

/* old name -> new key of one kind (small linear map; migration only). */
struct rename {
	struct kvs map;		/* key = old name, val = new key */
};

static const char *
rename_lookup(const struct rename *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->map.n; i++)
		if (strcmp(r->map.v[i].key, name) == 0)
			return r->map.v[i].val;
	return NULL;
}

/* Re-key a table of JSON rows "NAME" -> "AGENCY/NAME" + DB_NAMES. */
static int
rekey_rows(struct store_txn *txn, enum store_db db, const char *kind,
    struct rename *r, struct vm_error *err)
{
	struct vm_error ignore = { 0, "" };
	struct kvs l;
	char key[KEY_MAX], ik[KEY_MAX + 16];
	size_t i;
	int rc = -1;

	memset(&r->map, 0, sizeof(r->map));
	if (kvs_load(txn, db, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		json_object *o;
		const char *ag = NULL;

		if (strchr(l.v[i].key, '/') != NULL)
			continue;	/* already v4 */
		o = json_parse(l.v[i].val, l.v[i].vlen, API_EINTERNAL, &ignore);
		if (o != NULL)
			ag = json_get_str(o, "agency");
		snprintf(key, sizeof(key), "%s/%s", ag != NULL ? ag : "",
		    l.v[i].key);
		json_object_put(o);
		snprintf(ik, sizeof(ik), "%s:%s", kind, l.v[i].key);
		if (store_del(txn, db, l.v[i].key, NULL, err) < 0 ||
		    store_put(txn, db, key, l.v[i].val, l.v[i].vlen, 0,
		    err) < 0 ||
		    store_put(txn, DB_NAMES, ik, key, strlen(key), 0, err) < 0)
			goto cleanup;
		kvs_cb(l.v[i].key, strlen(l.v[i].key), key, strlen(key),
		    &r->map, err);
	}
	rc = 0;
cleanup:
	kvs_free(&l);
	return rc;
}

/* Dupsort index keyed by an old name: re-key each pair with r. */
static int
rekey_index(struct store_txn *txn, enum store_db db, const struct rename *r,
    struct vm_error *err)
{
	struct kvs l;
	const char *nk;
	size_t i;
	int rc = -1;

	if (kvs_load(txn, db, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		nk = rename_lookup(r, l.v[i].key);
		if (nk == NULL)
			continue;
		if (store_del(txn, db, l.v[i].key, l.v[i].val, err) < 0 ||
		    store_put(txn, db, nk, l.v[i].val, l.v[i].vlen, 0,
		    err) < 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	kvs_free(&l);
	return rc;
}

/* Agencies get an id (v4): never reused, unlike a name. */
static int
agency_ids(struct store_txn *txn, struct vm_error *err)
{
	struct vm_error ignore = { 0, "" };
	struct kvs l;
	size_t i;
	int rc = -1;

	if (kvs_load(txn, DB_AGENCIES, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		json_object *o;
		char u[API_UUID_LEN], *text;
		int r;

		o = json_parse(l.v[i].val, l.v[i].vlen, API_EINTERNAL, &ignore);
		if (o == NULL || !json_object_is_type(o, json_type_object) ||
		    json_get_str(o, "id") != NULL) {
			json_object_put(o);
			continue;
		}
		uuid_new(u);
		json_object_object_add(o, "id", json_object_new_string(u));
		text = json_dump(o);
		json_object_put(o);
		r = store_put(txn, DB_AGENCIES, l.v[i].key, text, strlen(text),
		    0, err);
		free(text);
		if (r < 0)
			goto cleanup;
	}
	rc = 0;
cleanup:
	kvs_free(&l);
	return rc;
}

static int
migrate_v3(struct store_txn *txn, struct vm_error *err)
{
	struct vm_error ignore = { 0, "" };
	struct rename img, net, vol, grp;
	struct kvs l;
	char key[KEY_MAX + 16], ik[KEY_MAX + 16];
	size_t i;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	memset(&img, 0, sizeof(img));
	memset(&net, 0, sizeof(net));
	memset(&vol, 0, sizeof(vol));
	memset(&grp, 0, sizeof(grp));
	if (agency_ids(txn, err) < 0 ||
	    rekey_rows(txn, DB_IMAGES, "image", &img, err) < 0 ||
	    rekey_rows(txn, DB_NETWORKS, "network", &net, err) < 0 ||
	    rekey_rows(txn, DB_VOLUMES, "volume", &vol, err) < 0 ||
	    rekey_rows(txn, DB_SERVER_GROUPS, "group", &grp, err) < 0 ||
	    rekey_index(txn, DB_VMS_BY_IMAGE, &img, err) < 0 ||
	    rekey_index(txn, DB_GROUP_MEMBERS, &grp, err) < 0)
		goto cleanup;

	/* vms_by_name: the VM row gives the agency. */
	if (kvs_load(txn, DB_VMS_BY_NAME, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		json_object *o = NULL;
		const char *ag = NULL;
		char *row = NULL;
		size_t len = 0;

		if (strchr(l.v[i].key, '/') != NULL)
			continue;
		if (store_get(txn, DB_VMS, l.v[i].val, &row, &len, err) < 0)
			goto cleanup;
		if (row != NULL)
			o = json_parse(row, len, API_EINTERNAL, &ignore);
		free(row);
		if (o != NULL)
			ag = json_get_str(o, "agency");
		snprintf(key, sizeof(key), "%s/%s", ag != NULL ? ag : "",
		    l.v[i].key);
		json_object_put(o);
		snprintf(ik, sizeof(ik), "vm:%s", l.v[i].key);
		if (store_del(txn, DB_VMS_BY_NAME, l.v[i].key, NULL, err) < 0 ||
		    store_put(txn, DB_VMS_BY_NAME, key, l.v[i].val,
		    l.v[i].vlen, 0, err) < 0 ||
		    store_put(txn, DB_NAMES, ik, key, strlen(key), 0, err) < 0)
			goto cleanup;
	}
	kvs_free(&l);

	/* vols_by_vm: values are volume names, now keys. */
	if (kvs_load(txn, DB_VOLS_BY_VM, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		const char *nk = rename_lookup(&vol, l.v[i].val);

		if (nk == NULL)
			continue;
		if (store_del(txn, DB_VOLS_BY_VM, l.v[i].key, l.v[i].val,
		    err) < 0 || store_put(txn, DB_VOLS_BY_VM, l.v[i].key, nk,
		    strlen(nk), 0, err) < 0)
			goto cleanup;
	}
	kvs_free(&l);

	/* IPAM: "NET/IPHEX" -> "NETKEY/IPHEX". */
	if (kvs_load(txn, DB_NET_IPS, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		char *slash = strchr(l.v[i].key, '/');
		const char *nk;

		if (slash == NULL || strchr(slash + 1, '/') != NULL)
			continue;
		*slash = '\0';
		nk = rename_lookup(&net, l.v[i].key);
		if (nk == NULL)
			continue;
		snprintf(key, sizeof(key), "%s/%s", nk, slash + 1);
		*slash = '/';
		if (store_del(txn, DB_NET_IPS, l.v[i].key, NULL, err) < 0 ||
		    store_put(txn, DB_NET_IPS, key, l.v[i].val, l.v[i].vlen, 0,
		    err) < 0)
			goto cleanup;
	}
	kvs_free(&l);

	/* Placement rows: "HOST HA V R D [GROUP]" -> group key. */
	if (kvs_load(txn, DB_PLACEMENTS, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++) {
		char *sp = l.v[i].val, *row;
		const char *nk;
		int f;

		for (f = 0; f < 5 && sp != NULL; f++) {
			sp = strchr(sp, ' ');
			if (sp != NULL)
				sp++;
		}
		if (sp == NULL || *sp == '\0' || strchr(sp, '/') != NULL)
			continue;
		nk = rename_lookup(&grp, sp);
		if (nk == NULL)
			continue;
		row = xasprintf("%.*s%s", (int)(sp - l.v[i].val), l.v[i].val,
		    nk);
		rc = store_put(txn, DB_PLACEMENTS, l.v[i].key, row,
		    strlen(row), 0, err);
		free(row);
		if (rc < 0)
			goto cleanup;
		rc = -1;
	}
	kvs_free(&l);

	/* Idempotency rows of v3 are not scoped to a principal: drop them. */
	if (kvs_load(txn, DB_IDEMPOTENCY, &l, err) < 0)
		goto cleanup;
	for (i = 0; i < l.n; i++)
		if (store_del(txn, DB_IDEMPOTENCY, l.v[i].key, NULL, err) < 0)
			goto cleanup;
	log_info("store: migrated to schema 4 (names per agency): %zu "
	    "images, %zu networks, %zu volumes, %zu groups re-keyed; %zu "
	    "idempotency rows dropped", img.map.n, net.map.n, vol.map.n,
	    grp.map.n, l.n);
	rc = 0;
cleanup:
	kvs_free(&l);
	kvs_free(&img.map);
	kvs_free(&net.map);
	kvs_free(&vol.map);
	kvs_free(&grp.map);
	return rc;
}

int
store_migrate(struct store_txn *txn, int from, struct vm_error *err)
{
	char v[16];

	if (from == 3 && migrate_v3(txn, err) < 0)
		return -1;
	if (from != 3) {
		vm_error_set(err, API_EINTERNAL,
		    "store has schema version %d; this vmctld needs %d and "
		    "upgrades only from 3", from, STORE_SCHEMA_VERSION);
		return -1;
	}
	snprintf(v, sizeof(v), "%d", STORE_SCHEMA_VERSION);
	return store_put(txn, DB_META, "schema_version", v, strlen(v), 0,
	    err) < 0 ? -1 : 0;
}
