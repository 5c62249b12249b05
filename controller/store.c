#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "errors.h"
#include "log.h"
#include "store.h"
#include "store_migrate.h"
#include "util.h"

/*
 * Group commit. Every write "transaction" a caller sees is an LMDB child
 * transaction of a batch: one top-level write transaction that the
 * committer thread begins and commits (LMDB ties a write transaction's
 * lock to the thread that began it). Callers take the batch one at a
 * time; each child commits into the batch or aborts on its own, so each
 * request stays all-or-nothing. When no caller is waiting (or the batch is
 * full) the committer commits the batch with one fsync, and only then do
 * the callers' store_txn_commit() return: an acknowledged change is on
 * disk, a crash before that loses the whole batch and no caller has
 * answered for it. N concurrent requests pay one fsync instead of N.
 */
#define STORE_BATCH_MAX		256	/* children per batch */
#define STORE_RING		1024	/* batch results remembered */

struct store {
	MDB_env *env;			/* owned */
	MDB_dbi dbi[DB_MAX];		/* immutable after store_open */
	pthread_t committer;		/* joined by store_close */
	bool committer_started;
	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cv;		/* any change below */
	MDB_txn *batch;			/* open batch, or NULL */
	uint64_t batch_id;		/* id of the open (or last) batch */
	bool busy;			/* a child of the batch is open */
	bool closing;			/* the batch takes no more children */
	int waiting;			/* callers waiting to begin a child */
	int members;			/* children committed into the batch */
	uint64_t commits;		/* children committed, all batches */
	uint64_t batches;		/* batches committed with members */
	int begin_rc;			/* begin failure for waiting callers */
	uint64_t done_id;		/* batches ended so far */
	int done_rc[STORE_RING];	/* their commit results by id */
	bool stop;
	/* store_usage() cache, under usage_mu. */
	pthread_mutex_t usage_mu;
	int64_t usage_at;		/* mono_ms of the last look; 0 = none */
	uint64_t usage_used, usage_size;
	const void *audit_ctx;		/* borrowed; see store_set_audit_ctx */
};

struct store_txn {
	struct store *st;		/* borrowed */
	MDB_txn *txn;			/* owned until commit/abort */
	bool write;
	uint64_t batch_id;		/* write: the batch it belongs to */
};

static const struct {
	const char *name;
	unsigned flags;
} store_dbs[DB_MAX] = {
	[DB_META] = { "meta", 0 },
	[DB_FLAVORS] = { "flavors", 0 },
	[DB_HOSTS] = { "hosts", 0 },
	[DB_VMS] = { "vms", 0 },
	[DB_VMS_BY_NAME] = { "vms_by_name", 0 },
	[DB_VMS_BY_HOST] = { "vms_by_host", MDB_DUPSORT },
	[DB_VMS_BY_FLAVOR] = { "vms_by_flavor", MDB_DUPSORT },
	[DB_OPS] = { "ops", 0 },
	[DB_OPS_BY_VM] = { "ops_by_vm", MDB_DUPSORT },
	[DB_TASKS] = { "tasks", 0 },
	[DB_TASKS_BY_HOST] = { "tasks_by_host", MDB_DUPSORT },
	[DB_IDEMPOTENCY] = { "idempotency", 0 },
	[DB_AGENCIES] = { "agencies", 0 },
	[DB_VMS_BY_AGENCY] = { "vms_by_agency", MDB_DUPSORT },
	[DB_USERS] = { "users", 0 },
	[DB_USERS_BY_AGENCY] = { "users_by_agency", MDB_DUPSORT },
	[DB_TOKENS] = { "tokens", 0 },
	[DB_TOKEN_HASHES] = { "token_hashes", 0 },
	[DB_AUDIT] = { "audit", 0 },
	[DB_VM_LIFETIMES] = { "vm_lifetimes", 0 },
	[DB_PLACEMENTS] = { "placements", 0 },
	[DB_IMAGES] = { "images", 0 },
	[DB_VMS_BY_IMAGE] = { "vms_by_image", MDB_DUPSORT },
	[DB_NETWORKS] = { "networks", 0 },
	[DB_NET_IPS] = { "net_ips", 0 },
	[DB_MACS] = { "macs", 0 },
	[DB_VOLUMES] = { "volumes", 0 },
	[DB_VOLS_BY_VM] = { "vols_by_vm", MDB_DUPSORT },
	[DB_CLOUDINIT] = { "cloudinit", 0 },
	[DB_SERVER_GROUPS] = { "server_groups", 0 },
	[DB_GROUP_MEMBERS] = { "group_members", MDB_DUPSORT },
	[DB_HOST_HA] = { "host_ha", 0 },
	[DB_EVENTS] = { "events", 0 },
	[DB_UNKNOWN_DOMS] = { "unknown_domains", 0 },
	[DB_VM_HISTORY] = { "vm_history", 0 },
	[DB_CONSOLE] = { "console", 0 },
	[DB_NAMES] = { "names", MDB_DUPSORT },
};

static void store_release(struct store *st, bool committed);
static void *store_committer(void *arg);

static int
store_fail(struct vm_error *err, int rc, const char *what)
{
	if (rc == MDB_MAP_FULL)
		vm_error_set(err, API_EUNAVAIL,
		    "store is full: raise store.map_size_mib (%s)", what);
	else
		vm_error_set(err, API_EINTERNAL, "store: %s: %s", what,
		    mdb_strerror(rc));
	return -1;
}

int
store_open(const char *path, int64_t map_size_mib, struct store **out,
    struct vm_error *err)
{
	struct store *st = xcalloc(1, sizeof(*st));
	struct store_txn *txn = NULL;
	MDB_txn *t = NULL;
	char *ver = NULL;
	int rc, i;

	*out = NULL;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	pthread_mutex_init(&st->usage_mu, NULL);
	if (mkdir_p(path, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "store: mkdir %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if ((rc = mdb_env_create(&st->env)) != 0) {
		store_fail(err, rc, "mdb_env_create");
		goto fail;
	}
	mdb_env_set_maxdbs(st->env, DB_MAX + 4);
	mdb_env_set_maxreaders(st->env, 512);
	mdb_env_set_mapsize(st->env, (size_t)map_size_mib << 20);
	/* MDB_NOTLS: read txns are not tied to threads (MHD thread pool). */
	if ((rc = mdb_env_open(st->env, path, MDB_NOTLS, 0600)) != 0) {
		vm_error_set(err, API_EINTERNAL, "store: open %s: %s", path,
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_txn_begin(st->env, NULL, 0, &t)) != 0) {
		store_fail(err, rc, "begin");
		goto fail;
	}
	for (i = 0; i < DB_MAX; i++) {
		rc = mdb_dbi_open(t, store_dbs[i].name,
		    MDB_CREATE | store_dbs[i].flags, &st->dbi[i]);
		if (rc != 0) {
			mdb_txn_abort(t);
			store_fail(err, rc, store_dbs[i].name);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(t)) != 0) {
		store_fail(err, rc, "commit");
		goto fail;
	}
	if ((rc = pthread_create(&st->committer, NULL, store_committer,
	    st)) != 0) {
		vm_error_set(err, API_EINTERNAL, "store: thread: %s",
		    strerror(rc));
		goto fail;
	}
	st->committer_started = true;
	/* Schema version: set on a new store, checked on an old one. */
	if (store_txn_begin(st, true, &txn, err) < 0)
		goto fail;
	rc = store_get(txn, DB_META, "schema_version", &ver, NULL, err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		char v[16];

		snprintf(v, sizeof(v), "%d", STORE_SCHEMA_VERSION);
		if (store_put(txn, DB_META, "schema_version", v, strlen(v), 0,
		    err) < 0)
			goto fail;
	} else if (atoi(ver) != STORE_SCHEMA_VERSION) {
		/* Older layouts are upgraded in this one transaction. */
		if (atoi(ver) > STORE_SCHEMA_VERSION ||
		    store_migrate(txn, atoi(ver), err) < 0) {
			if (err->code == 0 || atoi(ver) > STORE_SCHEMA_VERSION)
				vm_error_set(err, API_EINTERNAL, "store %s has "
				    "schema version %s; this vmctld needs %d",
				    path, ver, STORE_SCHEMA_VERSION);
			goto fail;
		}
	}
	if (store_txn_commit(txn, err) < 0) {
		txn = NULL;
		goto fail;
	}
	free(ver);
	*out = st;
	return 0;
fail:
	store_txn_abort(txn);
	free(ver);
	store_close(st);
	return -1;
}

/* The committer thread: open a batch when someone waits, commit it when
 * nobody waits and no child is open (or it is full). */
static void *
store_committer(void *arg)
{
	struct store *st = arg;
	MDB_txn *parent;
	uint64_t id;
	int rc, members;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->stop && st->waiting == 0)
			pthread_cond_wait(&st->cv, &st->mu);
		if (st->waiting == 0)
			break;		/* stop, nobody left */
		pthread_mutex_unlock(&st->mu);
		rc = mdb_txn_begin(st->env, NULL, 0, &parent);
		pthread_mutex_lock(&st->mu);
		if (rc != 0) {
			/* Fail the current waiters once, then retry. */
			st->begin_rc = rc;
			pthread_cond_broadcast(&st->cv);
			while (st->waiting > 0 && st->begin_rc != 0)
				pthread_cond_wait(&st->cv, &st->mu);
			st->begin_rc = 0;
			continue;
		}
		st->batch = parent;
		id = ++st->batch_id;
		st->members = 0;
		st->closing = false;
		pthread_cond_broadcast(&st->cv);
		while ((st->waiting > 0 && st->members < STORE_BATCH_MAX) ||
		    st->busy)
			pthread_cond_wait(&st->cv, &st->mu);
		st->closing = true;
		members = st->members;
		pthread_mutex_unlock(&st->mu);
		if (members > 0) {
			rc = mdb_txn_commit(parent);
		} else {
			mdb_txn_abort(parent);
			rc = 0;
		}
		pthread_mutex_lock(&st->mu);
		if (members > 0 && rc == 0) {
			st->commits += (uint64_t)members;
			st->batches++;
		}
		st->batch = NULL;
		st->done_rc[id % STORE_RING] = rc;
		st->done_id = id;
		st->closing = false;
		pthread_cond_broadcast(&st->cv);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

void
store_stats(struct store *st, uint64_t *commits, uint64_t *batches)
{
	pthread_mutex_lock(&st->mu);
	*commits = st->commits;
	*batches = st->batches;
	pthread_mutex_unlock(&st->mu);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->committer_started) {
		pthread_mutex_lock(&st->mu);
		st->stop = true;
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		pthread_join(st->committer, NULL);
	}
	if (st->env != NULL)
		mdb_env_close(st->env);
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->usage_mu);
	free(st);
}

void
store_set_audit_ctx(struct store *st, const void *ctx)
{
	st->audit_ctx = ctx;
}

const void *
store_audit_ctx(const struct store_txn *txn)
{
	return txn->st->audit_ctx;
}

/*
 * Pages on the free list: the values of LMDB's free DB (dbi 0) are
 * arrays of page numbers whose first element is their count (what
 * mdb_stat -f adds up).
 */
static int
store_free_pages(MDB_txn *t, uint64_t *out)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;

	*out = 0;
	if ((rc = mdb_cursor_open(t, 0, &cur)) != 0)
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		size_t n;

		if (v.mv_size < sizeof(size_t))
			continue;
		memcpy(&n, v.mv_data, sizeof(n));
		*out += n;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
store_usage(struct store *st, int64_t max_age_ms, uint64_t *used,
    uint64_t *size, struct vm_error *err)
{
	MDB_envinfo info;
	MDB_stat ms;
	MDB_txn *t = NULL;
	uint64_t freep = 0, pages;
	int64_t now = mono_ms();
	int rc;

	pthread_mutex_lock(&st->usage_mu);
	if (st->usage_at != 0 && max_age_ms > 0 &&
	    now - st->usage_at < max_age_ms) {
		*used = st->usage_used;
		*size = st->usage_size;
		pthread_mutex_unlock(&st->usage_mu);
		return 0;
	}
	if ((rc = mdb_env_info(st->env, &info)) != 0 ||
	    (rc = mdb_env_stat(st->env, &ms)) != 0 ||
	    (rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &t)) != 0 ||
	    (rc = store_free_pages(t, &freep)) != 0) {
		mdb_txn_abort(t);
		pthread_mutex_unlock(&st->usage_mu);
		return store_fail(err, rc, "usage");
	}
	mdb_txn_abort(t);
	pages = (uint64_t)info.me_last_pgno + 1;
	pages = pages > freep ? pages - freep : 0;
	st->usage_used = pages * ms.ms_psize;
	st->usage_size = (uint64_t)info.me_mapsize;
	st->usage_at = now;
	*used = st->usage_used;
	*size = st->usage_size;
	pthread_mutex_unlock(&st->usage_mu);
	return 0;
}

int
store_usage_pct(struct store *st)
{
	struct vm_error err = { 0, "" };
	uint64_t used = 0, size = 0;

	/* Fresh enough that a burst of writes cannot run far past a mark. */
	if (store_usage(st, 100, &used, &size, &err) < 0 || size == 0)
		return 0;
	return (int)(used * 100 / size);
}

int
store_txn_begin(struct store *st, bool write, struct store_txn **out,
    struct vm_error *err)
{
	struct store_txn *txn = xcalloc(1, sizeof(*txn));
	MDB_txn *parent = NULL;
	int rc;

	*out = NULL;
	txn->st = st;
	txn->write = write;
	if (write) {
		/* Wait for an open batch that takes children, then own it
		 * until our child commits or aborts. */
		pthread_mutex_lock(&st->mu);
		st->waiting++;
		pthread_cond_broadcast(&st->cv);
		while ((st->batch == NULL || st->busy || st->closing) &&
		    st->begin_rc == 0)
			pthread_cond_wait(&st->cv, &st->mu);
		st->waiting--;
		if ((rc = st->begin_rc) == 0) {
			st->busy = true;
			parent = st->batch;
			txn->batch_id = st->batch_id;
		}
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		if (rc != 0) {
			free(txn);
			return store_fail(err, rc, "begin");
		}
	}
	rc = mdb_txn_begin(st->env, parent, write ? 0 : MDB_RDONLY,
	    &txn->txn);
	if (rc != 0) {
		if (write)
			store_release(st, false);
		free(txn);
		return store_fail(err, rc, "begin");
	}
	*out = txn;
	return 0;
}

/* A child has ended: let the next caller (or the committer) go on. */
static void
store_release(struct store *st, bool committed)
{
	pthread_mutex_lock(&st->mu);
	st->busy = false;
	if (committed)
		st->members++;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
}

int
store_txn_commit(struct store_txn *txn, struct vm_error *err)
{
	struct store *st = txn->st;
	bool write = txn->write;
	uint64_t id = txn->batch_id;
	int rc = mdb_txn_commit(txn->txn);

	free(txn);
	if (!write)
		return rc != 0 ? store_fail(err, rc, "commit") : 0;
	store_release(st, rc == 0);
	if (rc != 0)
		return store_fail(err, rc, "commit");
	/* Answer only once the batch holding our change is on disk. */
	pthread_mutex_lock(&st->mu);
	while (st->done_id < id)
		pthread_cond_wait(&st->cv, &st->mu);
	rc = st->done_rc[id % STORE_RING];
	pthread_mutex_unlock(&st->mu);
	if (rc != 0)
		return store_fail(err, rc, "commit");
	return 0;
}

void
store_txn_abort(struct store_txn *txn)
{
	if (txn == NULL)
		return;
	mdb_txn_abort(txn->txn);
	if (txn->write)
		store_release(txn->st, false);
	free(txn);
}

static MDB_val
mkval(const char *s, size_t len)
{
	MDB_val v;

	v.mv_size = len;
	v.mv_data = (void *)(uintptr_t)s;
	return v;
}

int
store_get(struct store_txn *txn, enum store_db db, const char *key,
    char **val, size_t *len, struct vm_error *err)
{
	MDB_val k = mkval(key, strlen(key)), v;
	int rc;

	*val = NULL;
	if (k.mv_size == 0 || k.mv_size > 511) {
		vm_error_set(err, API_EINVAL, "store: bad key length");
		return -1;
	}
	rc = mdb_get(txn->txn, txn->st->dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return store_fail(err, rc, store_dbs[db].name);
	*val = xmalloc(v.mv_size + 1);
	memcpy(*val, v.mv_data, v.mv_size);
	(*val)[v.mv_size] = '\0';
	if (len)
		*len = v.mv_size;
	return 0;
}

int
store_put(struct store_txn *txn, enum store_db db, const char *key,
    const char *val, size_t len, unsigned flags, struct vm_error *err)
{
	MDB_val k = mkval(key, strlen(key)), v = mkval(val, len);
	unsigned mf = 0;
	int rc;

	if (k.mv_size == 0 || k.mv_size > 511) {
		vm_error_set(err, API_EINVAL, "store: bad key length");
		return -1;
	}
	if (store_dbs[db].flags & MDB_DUPSORT)
		mf |= MDB_NODUPDATA;
	else if (flags & STORE_NOOVERWRITE)
		mf |= MDB_NOOVERWRITE;
	rc = mdb_put(txn->txn, txn->st->dbi[db], &k, &v, mf);
	if (rc == MDB_KEYEXIST)
		return 1;
	if (rc != 0)
		return store_fail(err, rc, store_dbs[db].name);
	return 0;
}

int
store_del(struct store_txn *txn, enum store_db db, const char *key,
    const char *val, struct vm_error *err)
{
	MDB_val k = mkval(key, strlen(key)), v;
	int rc;

	if (val != NULL)
		v = mkval(val, strlen(val));
	rc = mdb_del(txn->txn, txn->st->dbi[db], &k, val ? &v : NULL);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc != 0)
		return store_fail(err, rc, store_dbs[db].name);
	return 0;
}

int
store_iter(struct store_txn *txn, enum store_db db, const char *after,
    store_iter_cb cb, void *arg, struct vm_error *err)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	MDB_cursor_op op = MDB_FIRST;
	int rc, ret = -1;

	if ((rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &cur)) != 0)
		return store_fail(err, rc, "cursor");
	if (after != NULL && *after != '\0') {
		k = mkval(after, strlen(after));
		op = MDB_SET_RANGE;
	}
	rc = mdb_cursor_get(cur, &k, &v, op);
	if (rc == 0 && op == MDB_SET_RANGE && k.mv_size == strlen(after) &&
	    memcmp(k.mv_data, after, k.mv_size) == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
	while (rc == 0) {
		int r = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg,
		    err);

		if (r < 0)
			goto cleanup;
		if (r > 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		store_fail(err, rc, "cursor get");
		goto cleanup;
	}
	ret = 0;
cleanup:
	mdb_cursor_close(cur);
	return ret;
}

int
store_iter_dups(struct store_txn *txn, enum store_db db, const char *key,
    store_iter_cb cb, void *arg, struct vm_error *err)
{
	MDB_cursor *cur = NULL;
	MDB_val k = mkval(key, strlen(key)), v;
	int rc, ret = -1;

	if ((rc = mdb_cursor_open(txn->txn, txn->st->dbi[db], &cur)) != 0)
		return store_fail(err, rc, "cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	while (rc == 0) {
		int r = cb(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg,
		    err);

		if (r < 0)
			goto cleanup;
		if (r > 0)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		store_fail(err, rc, "cursor get");
		goto cleanup;
	}
	ret = 0;
cleanup:
	mdb_cursor_close(cur);
	return ret;
}

int
store_count(struct store_txn *txn, enum store_db db, size_t *n,
    struct vm_error *err)
{
	MDB_stat ms;
	int rc = mdb_stat(txn->txn, txn->st->dbi[db], &ms);

	if (rc != 0)
		return store_fail(err, rc, "stat");
	*n = ms.ms_entries;
	return 0;
}

int
store_seq_next(struct store_txn *txn, const char *name, uint64_t *out,
    struct vm_error *err)
{
	char *key = xasprintf("seq.%s", name), *cur = NULL, val[32];
	uint64_t n = 0;
	int rc, ret = -1;

	rc = store_get(txn, DB_META, key, &cur, NULL, err);
	if (rc < 0)
		goto cleanup;
	if (rc == 0)
		n = strtoull(cur, NULL, 10);
	n++;
	snprintf(val, sizeof(val), "%" PRIu64, n);
	if (store_put(txn, DB_META, key, val, strlen(val), 0, err) < 0)
		goto cleanup;
	*out = n;
	ret = 0;
cleanup:
	free(cur);
	free(key);
	return ret;
}

int
store_get_obj(struct store_txn *txn, enum store_db db, const char *key,
    const struct api_schema *s, void *obj, struct vm_error *err)
{
	char *val = NULL;
	size_t len = 0;
	int rc;

	rc = store_get(txn, db, key, &val, &len, err);
	if (rc != 0)
		return rc;
	rc = api_decode_text(s, val, len, obj, API_STORED, err);
	if (rc < 0) {
		char msg[sizeof(err->message)];

		memcpy(msg, err->message, sizeof(msg));
		vm_error_set(err, API_EINTERNAL, "store: corrupt %s '%s': %s",
		    store_dbs[db].name, key, msg);
	}
	free(val);
	return rc;
}

int
store_put_obj(struct store_txn *txn, enum store_db db, const char *key,
    const struct api_schema *s, const void *obj, unsigned flags,
    struct vm_error *err)
{
	char *text = api_encode_text(s, obj);
	int rc = store_put(txn, db, key, text, strlen(text), flags, err);

	free(text);
	return rc;
}
