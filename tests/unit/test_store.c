/*
 * test_store: unit tests for controller/store.c (LMDB). Each test gets a
 * fresh directory from mkdtemp under /tmp (removed by the teardown) and
 * opens the store in a subdirectory that store_open must create.
 */
#include "config.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "errors.h"
#include "store.h"
#include "util.h"
#include "vm.h"

#define MAP_MIB 64

struct fixture {
	char dir[64];		/* mkdtemp result */
	char path[96];		/* dir/state: the store */
	struct store *st;	/* open store, or NULL */
};

/* ---------------------------------------------------------------- fixture */

static int
rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct vm_error err;

	str_copy(fx->dir, sizeof(fx->dir), "/tmp/vmctl-test-store.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/state", fx->dir);
	if (store_open(fx->path, MAP_MIB, &fx->st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.message);
		nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	int rc;

	store_close(fx->st);
	rc = nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* Close and reopen the fixture's store. */
static void
reopen(struct fixture *fx, int64_t map_mib)
{
	struct vm_error err;

	store_close(fx->st);
	fx->st = NULL;
	if (store_open(fx->path, map_mib, &fx->st, &err) < 0)
		fail_msg("reopen: %s", err.message);
}

static struct store_txn *
begin(struct fixture *fx, bool write)
{
	struct store_txn *txn = NULL;
	struct vm_error err;

	if (store_txn_begin(fx->st, write, &txn, &err) < 0)
		fail_msg("begin: %s", err.message);
	return txn;
}

static void
commit(struct store_txn *txn)
{
	struct vm_error err;

	if (store_txn_commit(txn, &err) < 0)
		fail_msg("commit: %s", err.message);
}

static void
put(struct store_txn *txn, enum store_db db, const char *k, const char *v)
{
	struct vm_error err;

	if (store_put(txn, db, k, v, strlen(v), 0, &err) != 0)
		fail_msg("put %s: %s", k, err.message);
}

/* Value of k as a string ("" when absent; caller frees). */
static char *
get(struct store_txn *txn, enum store_db db, const char *k)
{
	struct vm_error err;
	char *v = NULL;
	int rc = store_get(txn, db, k, &v, NULL, &err);

	if (rc < 0)
		fail_msg("get %s: %s", k, err.message);
	return rc == 1 ? xstrdup("") : v;
}

static void
assert_value(struct store_txn *txn, enum store_db db, const char *k,
    const char *want)
{
	char *v = get(txn, db, k);

	assert_string_equal(v, want);
	free(v);
}

static size_t
count(struct store_txn *txn, enum store_db db)
{
	struct vm_error err;
	size_t n = 0;

	if (store_count(txn, db, &n, &err) < 0)
		fail_msg("count: %s", err.message);
	return n;
}

/* Iteration collector: "key=val" strings, stopping or failing on demand. */
struct seen {
	char items[2100][48];
	size_t n;
	size_t stop_at;		/* return 1 after this many (0 = never) */
	size_t fail_at;		/* return -1 at this many (0 = never) */
};

static int
collect(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct seen *s = arg;

	if (s->fail_at && s->n + 1 == s->fail_at) {
		vm_error_set(err, API_ECONFLICT, "callback gave up at %.*s",
		    (int)klen, key);
		return -1;
	}
	assert_true(s->n < ARRAY_SIZE(s->items));
	snprintf(s->items[s->n++], sizeof(s->items[0]), "%.*s=%.*s",
	    (int)klen, key, (int)vlen, val);
	if (s->stop_at && s->n == s->stop_at)
		return 1;
	return 0;
}

static struct seen *
seen_new(void)
{
	return xcalloc(1, sizeof(struct seen));
}

/* ---------------------------------------------------------------- tests */

static void
test_open_new(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct stat sb;
	char ver[8];
	int i;

	/* The directory was created, and the schema version written. */
	assert_int_equal(stat(fx->path, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	txn = begin(fx, false);
	snprintf(ver, sizeof(ver), "%d", STORE_SCHEMA_VERSION);
	assert_value(txn, DB_META, "schema_version", ver);
	/* Every database exists and is empty but for meta. */
	for (i = DB_FLAVORS; i < DB_MAX; i++)
		assert_int_equal(count(txn, (enum store_db)i), 0);
	assert_int_equal(count(txn, DB_META), 1);
	store_txn_abort(txn);
	/* Reopening an existing store works and keeps the version. */
	reopen(fx, MAP_MIB);
	txn = begin(fx, false);
	assert_value(txn, DB_META, "schema_version", ver);
	store_txn_abort(txn);
	store_txn_abort(NULL);
}

static void
test_put_get_del(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = begin(fx, true);
	struct vm_error err;
	char key[600], *v = (char *)1;
	size_t len = 99;

	/* absent */
	assert_int_equal(store_get(txn, DB_FLAVORS, "small", &v, &len, &err),
	    1);
	assert_null(v);
	/* put, get */
	assert_int_equal(store_put(txn, DB_FLAVORS, "small", "{\"v\":1}", 7, 0,
	    &err), 0);
	assert_int_equal(store_get(txn, DB_FLAVORS, "small", &v, &len, &err),
	    0);
	assert_string_equal(v, "{\"v\":1}");
	assert_int_equal(len, 7);
	free(v);
	/* overwrite */
	put(txn, DB_FLAVORS, "small", "{\"v\":2}");
	assert_value(txn, DB_FLAVORS, "small", "{\"v\":2}");
	/* STORE_NOOVERWRITE: 1 on an existing key, value unchanged */
	assert_int_equal(store_put(txn, DB_FLAVORS, "small", "{\"v\":3}", 7,
	    STORE_NOOVERWRITE, &err), 1);
	assert_value(txn, DB_FLAVORS, "small", "{\"v\":2}");
	assert_int_equal(store_put(txn, DB_FLAVORS, "large", "L", 1,
	    STORE_NOOVERWRITE, &err), 0);
	assert_value(txn, DB_FLAVORS, "large", "L");
	/* Databases are separate namespaces. */
	assert_value(txn, DB_HOSTS, "small", "");
	/* Binary value with NULs and an empty value keep their length. */
	assert_int_equal(store_put(txn, DB_HOSTS, "bin", "a\0b\0", 4, 0, &err),
	    0);
	assert_int_equal(store_get(txn, DB_HOSTS, "bin", &v, &len, &err), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(v, "a\0b\0", 5);
	free(v);
	assert_int_equal(store_put(txn, DB_HOSTS, "empty", "", 0, 0, &err), 0);
	assert_int_equal(store_get(txn, DB_HOSTS, "empty", &v, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_string_equal(v, "");
	free(v);
	/* delete */
	assert_int_equal(store_del(txn, DB_FLAVORS, "small", NULL, &err), 0);
	assert_value(txn, DB_FLAVORS, "small", "");
	assert_int_equal(store_del(txn, DB_FLAVORS, "small", NULL, &err), 1);
	assert_int_equal(store_del(txn, DB_FLAVORS, "never", NULL, &err), 1);
	/* Key length: 1..511 bytes. */
	vm_error_clear(&err);
	assert_int_equal(store_put(txn, DB_FLAVORS, "", "x", 1, 0, &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	assert_int_equal(store_get(txn, DB_FLAVORS, "", &v, &len, &err), -1);
	memset(key, 'k', sizeof(key));
	key[511] = '\0';
	put(txn, DB_FLAVORS, key, "max");
	assert_value(txn, DB_FLAVORS, key, "max");
	key[511] = 'k';
	key[512] = '\0';
	vm_error_clear(&err);
	assert_int_equal(store_put(txn, DB_FLAVORS, key, "x", 1, 0, &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	assert_int_equal(store_get(txn, DB_FLAVORS, key, &v, &len, &err), -1);
	commit(txn);

	/* Committed state as seen by a reader. */
	txn = begin(fx, false);
	assert_value(txn, DB_FLAVORS, "large", "L");
	assert_value(txn, DB_FLAVORS, "small", "");
	/* A read transaction cannot write. */
	vm_error_clear(&err);
	assert_int_equal(store_put(txn, DB_FLAVORS, "x", "y", 1, 0, &err), -1);
	assert_int_equal(err.code, API_EINTERNAL);
	store_txn_abort(txn);
}

static void
test_dupsort(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = begin(fx, true);
	struct seen *s = seen_new();
	struct vm_error err;
	char *v = NULL;

	/* Put out of order; dups come back sorted. */
	put(txn, DB_VMS_BY_HOST, "hv-01", "cccc");
	put(txn, DB_VMS_BY_HOST, "hv-01", "aaaa");
	put(txn, DB_VMS_BY_HOST, "hv-02", "zzzz");
	put(txn, DB_VMS_BY_HOST, "hv-01", "bbbb");
	put(txn, DB_VMS_BY_HOST, "hv-00", "xxxx");
	/* The same pair again: 1 and nothing added. */
	assert_int_equal(store_put(txn, DB_VMS_BY_HOST, "hv-01", "aaaa", 4, 0,
	    &err), 1);
	assert_int_equal(store_put(txn, DB_VMS_BY_HOST, "hv-01", "bbbb", 4,
	    STORE_NOOVERWRITE, &err), 1);
	assert_int_equal(count(txn, DB_VMS_BY_HOST), 5);
	assert_int_equal(store_iter_dups(txn, DB_VMS_BY_HOST, "hv-01", collect,
	    s, &err), 0);
	assert_int_equal(s->n, 3);
	assert_string_equal(s->items[0], "hv-01=aaaa");
	assert_string_equal(s->items[1], "hv-01=bbbb");
	assert_string_equal(s->items[2], "hv-01=cccc");
	/* store_get gives the first dup. */
	assert_int_equal(store_get(txn, DB_VMS_BY_HOST, "hv-01", &v, NULL,
	    &err), 0);
	assert_string_equal(v, "aaaa");
	free(v);
	/* Early stop in store_iter_dups. */
	memset(s, 0, sizeof(*s));
	s->stop_at = 2;
	assert_int_equal(store_iter_dups(txn, DB_VMS_BY_HOST, "hv-01", collect,
	    s, &err), 0);
	assert_int_equal(s->n, 2);
	/* No dups for an unknown key. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter_dups(txn, DB_VMS_BY_HOST, "hv-99", collect,
	    s, &err), 0);
	assert_int_equal(s->n, 0);
	/* Delete one pair, an absent pair, then all dups of a key. */
	assert_int_equal(store_del(txn, DB_VMS_BY_HOST, "hv-01", "bbbb", &err),
	    0);
	assert_int_equal(store_del(txn, DB_VMS_BY_HOST, "hv-01", "bbbb", &err),
	    1);
	assert_int_equal(store_del(txn, DB_VMS_BY_HOST, "hv-01", "nope", &err),
	    1);
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter_dups(txn, DB_VMS_BY_HOST, "hv-01", collect,
	    s, &err), 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[0], "hv-01=aaaa");
	assert_string_equal(s->items[1], "hv-01=cccc");
	commit(txn);

	txn = begin(fx, true);
	/* store_iter over a dupsort db visits every pair in order; after a
	 * key skips all of its dups. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_VMS_BY_HOST, NULL, collect, s,
	    &err), 0);
	assert_int_equal(s->n, 4);
	assert_string_equal(s->items[0], "hv-00=xxxx");
	assert_string_equal(s->items[1], "hv-01=aaaa");
	assert_string_equal(s->items[2], "hv-01=cccc");
	assert_string_equal(s->items[3], "hv-02=zzzz");
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_VMS_BY_HOST, "hv-01", collect, s,
	    &err), 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->items[0], "hv-02=zzzz");
	/* Delete all dups of a key. */
	assert_int_equal(store_del(txn, DB_VMS_BY_HOST, "hv-01", NULL, &err), 0);
	assert_int_equal(count(txn, DB_VMS_BY_HOST), 2);
	/* The ordered task queue: "SEQ:uuid" dups sort by zero-padded SEQ. */
	put(txn, DB_TASKS_BY_HOST, "hv-01", "00000000000000000010:t10");
	put(txn, DB_TASKS_BY_HOST, "hv-01", "00000000000000000002:t2");
	put(txn, DB_TASKS_BY_HOST, "hv-01", "00000000000000000100:t100");
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter_dups(txn, DB_TASKS_BY_HOST, "hv-01",
	    collect, s, &err), 0);
	assert_int_equal(s->n, 3);
	assert_non_null(strstr(s->items[0], ":t2"));
	assert_non_null(strstr(s->items[1], ":t10"));
	assert_non_null(strstr(s->items[2], ":t100"));
	commit(txn);
	free(s);
}

static void
test_abort_and_commit(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn, *old;
	struct vm_error err;

	/* Writes of an aborted txn vanish, in every db. */
	txn = begin(fx, true);
	put(txn, DB_VMS, "vm-1", "one");
	put(txn, DB_VMS_BY_NAME, "web", "vm-1");
	put(txn, DB_VMS_BY_HOST, "hv-01", "vm-1");
	assert_value(txn, DB_VMS, "vm-1", "one");	/* visible inside */
	store_txn_abort(txn);
	txn = begin(fx, false);
	assert_value(txn, DB_VMS, "vm-1", "");
	assert_value(txn, DB_VMS_BY_NAME, "web", "");
	assert_int_equal(count(txn, DB_VMS_BY_HOST), 0);
	store_txn_abort(txn);

	/* A committed txn keeps all of them. */
	txn = begin(fx, true);
	put(txn, DB_VMS, "vm-1", "one");
	put(txn, DB_VMS_BY_NAME, "web", "vm-1");
	put(txn, DB_VMS_BY_HOST, "hv-01", "vm-1");
	commit(txn);
	txn = begin(fx, false);
	assert_value(txn, DB_VMS, "vm-1", "one");
	assert_value(txn, DB_VMS_BY_NAME, "web", "vm-1");
	assert_value(txn, DB_VMS_BY_HOST, "hv-01", "vm-1");
	store_txn_abort(txn);

	/* A reader keeps its snapshot while a writer commits. */
	old = begin(fx, false);
	txn = begin(fx, true);
	put(txn, DB_VMS, "vm-1", "changed");
	assert_int_equal(store_del(txn, DB_VMS_BY_NAME, "web", NULL, &err), 0);
	commit(txn);
	assert_value(old, DB_VMS, "vm-1", "one");
	assert_value(old, DB_VMS_BY_NAME, "web", "vm-1");
	store_txn_abort(old);
	txn = begin(fx, false);
	assert_value(txn, DB_VMS, "vm-1", "changed");
	assert_value(txn, DB_VMS_BY_NAME, "web", "");
	store_txn_abort(txn);

	/* A write txn with nothing in it commits fine. */
	txn = begin(fx, true);
	commit(txn);
}

static void
test_iter(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = begin(fx, true);
	struct seen *s = seen_new();
	struct vm_error err;
	char k[16], v[16];
	int i, j;

	/* 100 keys put in a scrambled order (37 is prime to 100). */
	for (i = 0; i < 100; i++) {
		j = (i * 37) % 100;
		snprintf(k, sizeof(k), "k%03d", j);
		snprintf(v, sizeof(v), "v%d", j);
		put(txn, DB_FLAVORS, k, v);
	}
	commit(txn);
	txn = begin(fx, false);

	/* From the start: all, sorted. */
	assert_int_equal(store_iter(txn, DB_FLAVORS, NULL, collect, s, &err),
	    0);
	assert_int_equal(s->n, 100);
	for (i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%03d=v%d", i, i);
		assert_string_equal(s->items[i], k);
	}
	/* "" is the same as NULL. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "", collect, s, &err), 0);
	assert_int_equal(s->n, 100);
	/* Strictly after an existing key. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "k049", collect, s, &err),
	    0);
	assert_int_equal(s->n, 50);
	assert_string_equal(s->items[0], "k050=v50");
	assert_string_equal(s->items[49], "k099=v99");
	/* After a key that is not there: from the next one. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "k0495", collect, s,
	    &err), 0);
	assert_int_equal(s->n, 50);
	assert_string_equal(s->items[0], "k050=v50");
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "a", collect, s, &err), 0);
	assert_int_equal(s->n, 100);
	/* After the last key, or beyond: nothing. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "k099", collect, s, &err),
	    0);
	assert_int_equal(s->n, 0);
	assert_int_equal(store_iter(txn, DB_FLAVORS, "zzz", collect, s, &err),
	    0);
	assert_int_equal(s->n, 0);
	/* Prefix of a key: "k05" < "k050", so k050 is included. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_FLAVORS, "k05", collect, s, &err),
	    0);
	assert_string_equal(s->items[0], "k050=v50");
	/* Early stop. */
	memset(s, 0, sizeof(*s));
	s->stop_at = 10;
	assert_int_equal(store_iter(txn, DB_FLAVORS, "k010", collect, s, &err),
	    0);
	assert_int_equal(s->n, 10);
	assert_string_equal(s->items[0], "k011=v11");
	assert_string_equal(s->items[9], "k020=v20");
	/* Callback error: -1 and the callback's own error, untouched. */
	memset(s, 0, sizeof(*s));
	s->fail_at = 5;
	vm_error_clear(&err);
	assert_int_equal(store_iter(txn, DB_FLAVORS, NULL, collect, s, &err),
	    -1);
	assert_int_equal(s->n, 4);
	assert_int_equal(err.code, API_ECONFLICT);
	assert_string_equal(err.message, "callback gave up at k004");
	/* Same for store_iter_dups. */
	store_txn_abort(txn);
	txn = begin(fx, true);
	put(txn, DB_OPS_BY_VM, "vm", "1");
	put(txn, DB_OPS_BY_VM, "vm", "2");
	memset(s, 0, sizeof(*s));
	s->fail_at = 2;
	assert_int_equal(store_iter_dups(txn, DB_OPS_BY_VM, "vm", collect, s,
	    &err), -1);
	assert_int_equal(s->n, 1);
	assert_string_equal(err.message, "callback gave up at vm");
	/* Iterating an empty db calls nothing. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter(txn, DB_TASKS, NULL, collect, s, &err), 0);
	assert_int_equal(s->n, 0);
	store_txn_abort(txn);
	free(s);
}

static void
test_count(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = begin(fx, true);
	struct vm_error err;
	char k[16];
	int i;

	assert_int_equal(count(txn, DB_HOSTS), 0);
	for (i = 0; i < 250; i++) {
		snprintf(k, sizeof(k), "hv-%d", i);
		put(txn, DB_HOSTS, k, "{}");
	}
	assert_int_equal(count(txn, DB_HOSTS), 250);
	put(txn, DB_HOSTS, "hv-0", "{\"again\":1}");	/* overwrite */
	assert_int_equal(count(txn, DB_HOSTS), 250);
	assert_int_equal(store_del(txn, DB_HOSTS, "hv-7", NULL, &err), 0);
	assert_int_equal(count(txn, DB_HOSTS), 249);
	commit(txn);
	txn = begin(fx, false);
	assert_int_equal(count(txn, DB_HOSTS), 249);
	assert_int_equal(count(txn, DB_FLAVORS), 0);
	store_txn_abort(txn);
}

static uint64_t
seq(struct store_txn *txn, const char *name)
{
	struct vm_error err;
	uint64_t n = 0;

	if (store_seq_next(txn, name, &n, &err) < 0)
		fail_msg("seq %s: %s", name, err.message);
	return n;
}

static void
test_seq(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = begin(fx, true);
	uint64_t last = 0, n;
	int i;

	/* Starts at 1, strictly increasing, independent per name. */
	assert_int_equal(seq(txn, "ops"), 1);
	assert_int_equal(seq(txn, "ops"), 2);
	assert_int_equal(seq(txn, "tasks"), 1);
	last = 2;
	for (i = 0; i < 500; i++) {
		n = seq(txn, "ops");
		assert_true(n == last + 1);
		last = n;
	}
	commit(txn);
	/* An aborted txn does not use numbers up. */
	txn = begin(fx, true);
	assert_int_equal(seq(txn, "ops"), last + 1);
	store_txn_abort(txn);
	/* Persistent across close and reopen. */
	reopen(fx, MAP_MIB);
	txn = begin(fx, true);
	assert_int_equal(seq(txn, "ops"), last + 1);
	assert_int_equal(seq(txn, "tasks"), 2);
	commit(txn);
	txn = begin(fx, false);
	assert_value(txn, DB_META, "seq.ops", "503");
	store_txn_abort(txn);
}

static void
test_schema_version(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct store *st = (struct store *)1;
	struct vm_error err;

	txn = begin(fx, true);
	put(txn, DB_META, "schema_version", "99");
	commit(txn);
	store_close(fx->st);
	fx->st = NULL;

	vm_error_clear(&err);
	assert_int_equal(store_open(fx->path, MAP_MIB, &st, &err), -1);
	assert_null(st);
	assert_int_equal(err.code, API_EINTERNAL);
	assert_non_null(strstr(err.message, "schema version 99"));
	assert_non_null(strstr(err.message, fx->path));
	{
		char need[32];

		snprintf(need, sizeof(need), "needs %d", STORE_SCHEMA_VERSION);
		assert_non_null(strstr(err.message, need));
	}
	/* Refused twice: nothing was "fixed" by the failed open. */
	assert_int_equal(store_open(fx->path, MAP_MIB, &st, &err), -1);
	assert_null(st);
}

/* Values of the dups of k, joined by ',' (for DB_NAMES and indexes). */
static int
join_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct buf *b = arg;

	(void)key;
	(void)klen;
	(void)err;
	if (b->len > 0)
		buf_append(b, ",", 1);
	buf_append(b, val, vlen);
	return 0;
}

static char *
dups(struct store_txn *txn, enum store_db db, const char *k)
{
	struct buf b = { NULL, 0, 0 };
	struct vm_error err;

	if (store_iter_dups(txn, db, k, join_cb, &b, &err) < 0)
		fail_msg("dups %s: %s", k, err.message);
	return b.data != NULL ? b.data : xstrdup("");
}

static void
assert_dups(struct store_txn *txn, enum store_db db, const char *k,
    const char *want)
{
	char *v = dups(txn, db, k);

	assert_string_equal(v, want);
	free(v);
}

#define VM1 "11111111-1111-4111-8111-111111111111"

/*
 * A schema 3 store (names global) opened by this vmctld is migrated to 4
 * in the start-up transaction: rows re-keyed "AGENCY/NAME" ("/NAME" for
 * public images and shared networks), the indexes that name them follow,
 * DB_NAMES is built, unscoped idempotency rows are dropped.
 */
static void
test_migrate_v3(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct store *st = NULL;
	struct vm_error err;

	txn = begin(fx, true);
	put(txn, DB_META, "schema_version", "3");
	put(txn, DB_IMAGES, "deb", "{\"name\":\"deb\",\"agency\":\"a1\"}");
	put(txn, DB_IMAGES, "pub", "{\"name\":\"pub\",\"agency\":null}");
	put(txn, DB_NETWORKS, "n1", "{\"name\":\"n1\",\"agency\":\"a1\"}");
	put(txn, DB_NETWORKS, "shr", "{\"name\":\"shr\",\"shared\":true}");
	put(txn, DB_VOLUMES, "d1", "{\"name\":\"d1\",\"agency\":\"a2\"}");
	put(txn, DB_SERVER_GROUPS, "g1", "{\"name\":\"g1\",\"agency\":\"a1\"}");
	put(txn, DB_VMS, VM1,
	    "{\"name\":\"web\",\"agency\":\"a1\"}");
	put(txn, DB_VMS_BY_NAME, "web", VM1);
	put(txn, DB_VMS_BY_IMAGE, "deb", VM1);
	put(txn, DB_GROUP_MEMBERS, "g1", VM1);
	put(txn, DB_VOLS_BY_VM, VM1, "d1");
	put(txn, DB_NET_IPS, "n1/0a000002", VM1);
	put(txn, DB_NET_IPS, "shr/0a090002",
	    VM1);
	put(txn, DB_PLACEMENTS, VM1,
	    "hv1 1 1 128 2 g1");
	put(txn, DB_IDEMPOTENCY, "POST /v1/vms k1", "{\"status\":202}");
	put(txn, DB_AGENCIES, "a1", "{\"name\":\"a1\"}");
	commit(txn);
	store_close(fx->st);
	fx->st = NULL;

	vm_error_clear(&err);
	if (store_open(fx->path, MAP_MIB, &st, &err) < 0)
		fail_msg("open v3: %s", err.message);
	fx->st = st;
	txn = begin(fx, false);
	assert_value(txn, DB_META, "schema_version", "4");
	assert_value(txn, DB_IMAGES, "deb", "");
	assert_value(txn, DB_IMAGES, "a1/deb",
	    "{\"name\":\"deb\",\"agency\":\"a1\"}");
	assert_value(txn, DB_IMAGES, "/pub",
	    "{\"name\":\"pub\",\"agency\":null}");
	assert_value(txn, DB_NETWORKS, "a1/n1",
	    "{\"name\":\"n1\",\"agency\":\"a1\"}");
	assert_value(txn, DB_NETWORKS, "/shr",
	    "{\"name\":\"shr\",\"shared\":true}");
	assert_value(txn, DB_VOLUMES, "a2/d1",
	    "{\"name\":\"d1\",\"agency\":\"a2\"}");
	assert_value(txn, DB_SERVER_GROUPS, "a1/g1",
	    "{\"name\":\"g1\",\"agency\":\"a1\"}");
	assert_value(txn, DB_VMS_BY_NAME, "web", "");
	assert_value(txn, DB_VMS_BY_NAME, "a1/web",
	    VM1);
	assert_dups(txn, DB_VMS_BY_IMAGE, "a1/deb",
	    VM1);
	assert_dups(txn, DB_VMS_BY_IMAGE, "deb", "");
	assert_dups(txn, DB_GROUP_MEMBERS, "a1/g1",
	    VM1);
	assert_dups(txn, DB_VOLS_BY_VM, VM1,
	    "a2/d1");
	assert_value(txn, DB_NET_IPS, "a1/n1/0a000002",
	    VM1);
	assert_value(txn, DB_NET_IPS, "/shr/0a090002",
	    VM1);
	assert_value(txn, DB_NET_IPS, "n1/0a000002", "");
	assert_value(txn, DB_PLACEMENTS, VM1,
	    "hv1 1 1 128 2 a1/g1");
	assert_value(txn, DB_IDEMPOTENCY, "POST /v1/vms k1", "");
	assert_dups(txn, DB_NAMES, "vm:web", "a1/web");
	assert_dups(txn, DB_NAMES, "image:deb", "a1/deb");
	assert_dups(txn, DB_NAMES, "image:pub", "/pub");
	assert_dups(txn, DB_NAMES, "network:shr", "/shr");
	assert_dups(txn, DB_NAMES, "volume:d1", "a2/d1");
	assert_dups(txn, DB_NAMES, "group:g1", "a1/g1");
	{
		char *ag = get(txn, DB_AGENCIES, "a1"), id[API_UUID_LEN];
		const char *p = strstr(ag, "\"id\":\"");

		/* {"name":"a1","id":"<uuid>"}: the agency got an id. */
		assert_non_null(p);
		str_copy(id, sizeof(id), p + 6);
		assert_true(uuid_valid(id));
		free(ag);
	}
	store_txn_abort(txn);

	/* Opening again changes nothing (already version 4). */
	reopen(fx, MAP_MIB);
	txn = begin(fx, false);
	assert_value(txn, DB_IMAGES, "a1/deb",
	    "{\"name\":\"deb\",\"agency\":\"a1\"}");
	assert_dups(txn, DB_NAMES, "image:deb", "a1/deb");
	store_txn_abort(txn);
}

/* A store older than 3 is refused, unchanged. */
static void
test_migrate_too_old(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct store *st = NULL;
	struct vm_error err;

	txn = begin(fx, true);
	put(txn, DB_META, "schema_version", "2");
	put(txn, DB_IMAGES, "deb", "{\"name\":\"deb\",\"agency\":\"a1\"}");
	commit(txn);
	store_close(fx->st);
	fx->st = NULL;
	vm_error_clear(&err);
	assert_int_equal(store_open(fx->path, MAP_MIB, &st, &err), -1);
	assert_null(st);
	assert_non_null(strstr(err.message, "upgrades only from 3"));
}

static void
test_open_fails_cleanly(void **state)
{
	struct fixture *fx = *state;
	struct store *st = (struct store *)1;
	struct vm_error err;
	char path[160];
	int fd;

	/* The path is a regular file: mkdir_p fails. */
	snprintf(path, sizeof(path), "%s/file", fx->dir);
	fd = creat(path, 0600);
	assert_true(fd >= 0);
	close(fd);
	vm_error_clear(&err);
	assert_int_equal(store_open(path, MAP_MIB, &st, &err), -1);
	assert_null(st);
	assert_int_equal(err.code, API_EINTERNAL);
	assert_non_null(strstr(err.message, path));
}

static void
test_restart_keeps_data(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct seen *s = seen_new();
	struct vm_error err;
	char k[32], v[64];
	int i, b;

	/* 1,000 rows in 10 txns, each with an index entry. */
	for (b = 0; b < 10; b++) {
		txn = begin(fx, true);
		for (i = b * 100; i < (b + 1) * 100; i++) {
			snprintf(k, sizeof(k), "vm-%04d", i);
			snprintf(v, sizeof(v), "{\"n\":%d,\"pad\":\"%0*d\"}", i,
			    i % 40, 0);
			put(txn, DB_VMS, k, v);
			snprintf(v, sizeof(v), "hv-%02d", i % 7);
			put(txn, DB_VMS_BY_HOST, v, k);
		}
		commit(txn);
	}
	reopen(fx, MAP_MIB);
	txn = begin(fx, false);
	assert_int_equal(count(txn, DB_VMS), 1000);
	assert_int_equal(count(txn, DB_VMS_BY_HOST), 1000);
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "vm-%04d", i);
		snprintf(v, sizeof(v), "{\"n\":%d,\"pad\":\"%0*d\"}", i,
		    i % 40, 0);
		assert_value(txn, DB_VMS, k, v);
	}
	assert_int_equal(store_iter(txn, DB_VMS, NULL, collect, s, &err), 0);
	assert_int_equal(s->n, 1000);
	assert_true(strncmp(s->items[0], "vm-0000=", 8) == 0);
	assert_true(strncmp(s->items[999], "vm-0999=", 8) == 0);
	memset(s, 0, sizeof(*s));
	assert_int_equal(store_iter_dups(txn, DB_VMS_BY_HOST, "hv-03", collect,
	    s, &err), 0);
	assert_int_equal(s->n, 143);	/* i % 7 == 3 for i < 1000 */
	assert_string_equal(s->items[0], "hv-03=vm-0003");
	store_txn_abort(txn);
	free(s);
}

static void
fill_vm(struct api_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	uuid_new(vm->id);
	str_copy(vm->name, sizeof(vm->name), "web-01");
	str_copy(vm->flavor, sizeof(vm->flavor), "small");
	str_copy(vm->image.disk, sizeof(vm->image.disk), "/srv/img/deb.qcow2");
	str_copy(vm->host, sizeof(vm->host), "hv-01");
	vm->vcpus = 2;
	vm->ram_mib = 2048;
	vm->disk_gib = 10;
	vm->state = VM_STOPPED;
	vm->desired = DESIRED_STOPPED;
	vm->generation = 4;
	str_copy(vm->error, sizeof(vm->error), "guest powered itself off");
	uuid_new(vm->last_op);
	vm->created_at = 1795307776123LL;
	vm->updated_at = 1795307799000LL;
}

static void
test_obj(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct api_vm vm, back;
	struct vm_error err;
	char *raw = NULL;

	fill_vm(&vm);
	txn = begin(fx, true);
	assert_int_equal(store_put_obj(txn, DB_VMS, vm.id, &api_vm_schema, &vm,
	    STORE_NOOVERWRITE, &err), 0);
	/* A second create with the same key is refused. */
	assert_int_equal(store_put_obj(txn, DB_VMS, vm.id, &api_vm_schema, &vm,
	    STORE_NOOVERWRITE, &err), 1);
	commit(txn);
	txn = begin(fx, false);
	memset(&back, 0xee, sizeof(back));
	assert_int_equal(store_get_obj(txn, DB_VMS, vm.id, &api_vm_schema,
	    &back, &err), 0);
	assert_memory_equal(&back, &vm, sizeof(vm));
	/* Stored as the codec's JSON (readable with mdb_dump). */
	assert_int_equal(store_get(txn, DB_VMS, vm.id, &raw, NULL, &err), 0);
	assert_non_null(strstr(raw, "\"name\":\"web-01\""));
	assert_non_null(strstr(raw, "\"state\":\"stopped\""));
	free(raw);
	/* Absent: 1. */
	assert_int_equal(store_get_obj(txn, DB_VMS, "no-such-vm",
	    &api_vm_schema, &back, &err), 1);
	store_txn_abort(txn);
}

static void
test_corrupt_value(void **state)
{
	static const char *const bad[] = {
		"{not json",
		"",
		"[]",
		"{\"name\":\"web-01\"}",		/* required fields missing */
		"{\"id\":\"x\",\"name\":\"web-01\",\"flavor\":\"s\","
		"\"image\":{\"disk\":\"/d\"}}",		/* bad uuid */
	};
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct api_vm vm;
	struct vm_error err;
	size_t i;

	txn = begin(fx, true);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		put(txn, DB_VMS, "vm-bad", bad[i]);
		vm_error_clear(&err);
		assert_int_equal(store_get_obj(txn, DB_VMS, "vm-bad",
		    &api_vm_schema, &vm, &err), -1);
		assert_int_equal(err.code, API_EINTERNAL);
		if (strstr(err.message, "corrupt") == NULL ||
		    strstr(err.message, "vms 'vm-bad'") == NULL)
			fail_msg("'%s': message '%s'", bad[i], err.message);
	}
	/* The detail of what is wrong is kept. */
	put(txn, DB_VMS, "vm-bad", "{\"name\":\"web-01\"}");
	assert_int_equal(store_get_obj(txn, DB_VMS, "vm-bad", &api_vm_schema,
	    &vm, &err), -1);
	assert_non_null(strstr(err.message, "vm.flavor: is required"));
	store_txn_abort(txn);
}

static void
test_map_full(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn = NULL;
	struct vm_error err;
	size_t vlen = 64 * 1024, committed = 0, i;
	char *val = xmalloc(vlen), k[32], *v = NULL;
	int rc = 0, failed_at_commit = 0;

	/* A new store made with the minimum map (16 MiB). */
	store_close(fx->st);
	fx->st = NULL;
	snprintf(fx->path, sizeof(fx->path), "%s/full", fx->dir);
	reopen(fx, 16);
	memset(val, 'x', vlen);
	vm_error_clear(&err);
	for (i = 0; i < 10000 && rc == 0; i++) {
		if (txn == NULL)
			txn = begin(fx, true);
		snprintf(k, sizeof(k), "big-%05zu", i);
		rc = store_put(txn, DB_VMS, k, val, vlen, 0, &err);
		if (rc != 0)
			break;
		if (i % 16 == 15) {
			rc = store_txn_commit(txn, &err);
			txn = NULL;
			if (rc != 0) {
				failed_at_commit = 1;
				break;
			}
			committed = i + 1;
		}
	}
	assert_int_equal(rc, -1);
	assert_true(i < 10000);
	if (err.code != API_EUNAVAIL)
		fail_msg("full store: code %d, message '%s'", err.code,
		    err.message);
	assert_non_null(strstr(err.message, "store is full"));
	assert_non_null(strstr(err.message, "map_size_mib"));
	if (!failed_at_commit)
		store_txn_abort(txn);
	assert_true(committed > 0);

	/* The store still opens and everything committed reads back. */
	reopen(fx, 16);
	txn = begin(fx, false);
	assert_int_equal(count(txn, DB_VMS), committed);
	snprintf(k, sizeof(k), "big-%05zu", committed - 1);
	assert_int_equal(store_get(txn, DB_VMS, k, &v, NULL, &err), 0);
	assert_memory_equal(v, val, vlen);
	free(v);
	snprintf(k, sizeof(k), "big-%05zu", committed);
	assert_int_equal(store_get(txn, DB_VMS, k, &v, NULL, &err), 1);
	store_txn_abort(txn);

	/* Freeing room makes it writable again. */
	txn = begin(fx, true);
	for (i = 0; i < committed / 2; i++) {
		snprintf(k, sizeof(k), "big-%05zu", i);
		assert_int_equal(store_del(txn, DB_VMS, k, NULL, &err), 0);
	}
	commit(txn);
	txn = begin(fx, true);
	put(txn, DB_FLAVORS, "small", "{}");
	commit(txn);
	free(val);
}

/* --------------------------------------------------------- group commit */

#define GC_THREADS	16
#define GC_EACH		40

struct gc_arg {
	struct store *st;
	int id;
	int committed;
};

/*
 * Each transaction puts its own key and increments a shared counter
 * (read-modify-write); every fourth one aborts after doing both. If
 * children of a batch were not strictly one at a time, or an abort leaked
 * into the batch, the counter would not match.
 */
static void *
gc_writer(void *p)
{
	struct gc_arg *a = p;
	struct store_txn *txn;
	struct vm_error err;
	char key[32], *val, num[32];
	int i, n;

	for (i = 0; i < GC_EACH; i++) {
		if (store_txn_begin(a->st, true, &txn, &err) < 0)
			return NULL;
		snprintf(key, sizeof(key), "gc-%02d-%03d", a->id, i);
		store_put(txn, DB_FLAVORS, key, "x", 1, 0, &err);
		n = 0;
		if (store_get(txn, DB_META, "gc_counter", &val, NULL,
		    &err) == 0) {
			n = atoi(val);
			free(val);
		}
		snprintf(num, sizeof(num), "%d", n + 1);
		store_put(txn, DB_META, "gc_counter", num, strlen(num), 0,
		    &err);
		if (i % 4 == 3) {
			store_txn_abort(txn);
			continue;
		}
		if (store_txn_commit(txn, &err) == 0)
			a->committed++;
	}
	return NULL;
}

static void
test_group_commit(void **state)
{
	struct fixture *fx = *state;
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct store_txn *txn;
	struct vm_error err;
	uint64_t commits0, batches0, commits, batches;
	char key[32], *val;
	size_t n;
	int i, j, total = 0;

	store_stats(fx->st, &commits0, &batches0);
	for (i = 0; i < GC_THREADS; i++) {
		args[i] = (struct gc_arg){ .st = fx->st, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, gc_writer,
		    &args[i]), 0);
	}
	for (i = 0; i < GC_THREADS; i++) {
		pthread_join(th[i], NULL);
		total += args[i].committed;
	}
	assert_int_equal(total, GC_THREADS * GC_EACH * 3 / 4);
	store_stats(fx->st, &commits, &batches);
	assert_int_equal(commits - commits0, (uint64_t)total);
	/* Concurrent writers shared batches (fsyncs). */
	assert_true(batches - batches0 < commits - commits0);
	printf("# group commit: %d commits in %" PRIu64 " batches\n", total,
	    batches - batches0);

	/* Everything answered is in the store, after a reopen too. */
	reopen(fx, MAP_MIB);
	assert_int_equal(store_txn_begin(fx->st, false, &txn, &err), 0);
	assert_int_equal(store_get(txn, DB_META, "gc_counter", &val, NULL,
	    &err), 0);
	assert_int_equal(atoi(val), total);
	free(val);
	assert_int_equal(store_count(txn, DB_FLAVORS, &n, &err), 0);
	assert_int_equal(n, (size_t)total);
	for (i = 0; i < GC_THREADS; i++)
		for (j = 0; j < GC_EACH; j++) {
			snprintf(key, sizeof(key), "gc-%02d-%03d", i, j);
			assert_int_equal(store_get(txn, DB_FLAVORS, key, &val,
			    NULL, &err), j % 4 == 3 ? 1 : 0);
			free(val);
		}
	store_txn_abort(txn);
}

/*
 * store_usage: the map's size, and the pages in use, which grow with the
 * data and shrink again once deleted pages are on LMDB's free list.
 */
static void
test_usage(void **state)
{
	struct fixture *fx = *state;
	struct store_txn *txn;
	struct vm_error err;
	uint64_t used0, used1, used2, size;
	size_t vlen = 8 * 1024, i;
	char *val = xmalloc(vlen), k[32];

	memset(val, 'y', vlen);
	assert_int_equal(store_usage(fx->st, 0, &used0, &size, &err), 0);
	assert_int_equal(size, (uint64_t)MAP_MIB << 20);
	assert_true(used0 > 0 && used0 < size / 100);
	txn = begin(fx, true);
	for (i = 0; i < 512; i++) {		/* 4 MiB */
		snprintf(k, sizeof(k), "u-%05zu", i);
		assert_int_equal(store_put(txn, DB_VMS, k, val, vlen, 0, &err),
		    0);
	}
	assert_int_equal(store_txn_commit(txn, &err), 0);
	assert_int_equal(store_usage(fx->st, 0, &used1, &size, &err), 0);
	assert_true(used1 >= used0 + (4u << 20));
	assert_true(used1 < used0 + (8u << 20));	/* overflow pages */
	/* Cached: a fresh look only when asked. */
	assert_int_equal(store_usage_pct(fx->st), (int)(used1 * 100 / size));
	txn = begin(fx, true);
	for (i = 0; i < 512; i++) {
		snprintf(k, sizeof(k), "u-%05zu", i);
		assert_int_equal(store_del(txn, DB_VMS, k, NULL, &err), 0);
	}
	assert_int_equal(store_txn_commit(txn, &err), 0);
	/* Freed pages are reusable once no reader holds them: one more
	 * commit lets LMDB see that. */
	txn = begin(fx, true);
	assert_int_equal(store_put(txn, DB_META, "x", "1", 1, 0, &err), 0);
	assert_int_equal(store_txn_commit(txn, &err), 0);
	assert_int_equal(store_usage(fx->st, 0, &used2, &size, &err), 0);
	print_message("usage: %llu -> %llu -> %llu bytes\n",
	    (unsigned long long)used0, (unsigned long long)used1,
	    (unsigned long long)used2);
	assert_true(used2 < used0 + (1u << 20));
	free(val);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_get_del, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dupsort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_iter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v3, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_too_old, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_cleanly, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_data, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_obj, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_value, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
