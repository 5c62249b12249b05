/*
 * store: the controller's state in one LMDB environment with named
 * databases. Only store.c includes <lmdb.h>. A struct store_txn is used by
 * one thread at a time; values handed to iteration callbacks are owned by
 * LMDB and valid only during the callback; store_get copies out.
 * Rule: one API request = one write transaction (store_txn_begin(write)).
 */
#ifndef VMCTL_CONTROLLER_STORE_H
#define VMCTL_CONTROLLER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

#define STORE_SCHEMA_VERSION 4

enum store_db {
	DB_META,		/* key -> text: schema_version, seq counters */
	DB_FLAVORS,		/* name -> flavor */
	DB_HOSTS,		/* name -> host */
	DB_VMS,			/* uuid -> vm */
	DB_VMS_BY_NAME,		/* "AGENCY/NAME" -> uuid (unique) */
	DB_VMS_BY_HOST,		/* host -> uuid (dupsort) */
	DB_VMS_BY_FLAVOR,	/* flavor -> uuid (dupsort) */
	DB_OPS,			/* uuid -> operation */
	DB_OPS_BY_VM,		/* vm uuid -> "SEQ:op-uuid" (dupsort) */
	DB_TASKS,		/* uuid -> task */
	DB_TASKS_BY_HOST,	/* host -> "SEQ:task-uuid" (dupsort, ordered) */
	DB_IDEMPOTENCY,		/* "USER/AGENCY/METHOD PATH KEY" ->
				 * {"status", "request", "at", "body"} */
	DB_AGENCIES,		/* name -> agency (quota + usage) */
	DB_VMS_BY_AGENCY,	/* agency -> uuid (dupsort) */
	DB_USERS,		/* name -> user */
	DB_USERS_BY_AGENCY,	/* agency -> user name (dupsort) */
	DB_TOKENS,		/* uuid -> token (hash, never the secret) */
	DB_TOKEN_HASHES,	/* sha256 hex -> token uuid */
	DB_AUDIT,		/* 16-hex seq -> audit event (hash chain) */
	DB_VM_LIFETIMES,	/* vm uuid -> lifetime (chargeback) */
	DB_PLACEMENTS,		/* vm uuid -> "host ha vcpus ram disk [group]" */
	DB_IMAGES,		/* "AGENCY/NAME" ("/NAME" public) -> image */
	DB_VMS_BY_IMAGE,	/* image key -> vm uuid (dupsort) */
	DB_NETWORKS,		/* "AGENCY/NAME" ("/NAME": shared) -> net */
	DB_NET_IPS,		/* "NETKEY/8-hex IP" -> vm uuid (IPAM) */
	DB_MACS,		/* mac -> vm uuid (IPAM) */
	DB_VOLUMES,		/* "AGENCY/NAME" -> volume */
	DB_VOLS_BY_VM,		/* vm uuid -> volume key (dupsort) */
	DB_CLOUDINIT,		/* vm uuid -> cloud-init (user-data, keys) */
	DB_SERVER_GROUPS,	/* "AGENCY/NAME" -> server group */
	DB_GROUP_MEMBERS,	/* group key -> vm uuid (dupsort) */
	DB_HOST_HA,		/* host -> its HA VMs' sizes "V R D N;..." */
	DB_EVENTS,		/* 16-hex seq -> event (time-ordered) */
	DB_UNKNOWN_DOMS,	/* "host/domain-uuid" -> "pending SEQ"|"raised" */
	DB_VM_HISTORY,		/* vm uuid -> "TIME STATE CAUSE\n" x <= 20 */
	DB_CONSOLE,		/* vm uuid -> "START END PENDING\n" + log bytes */
	DB_NAMES,		/* "KIND:NAME" -> storage keys (dupsort; v4) */
	DB_MAX
};

struct store;
struct store_txn;

int store_open(const char *path, int64_t map_size_mib, struct store **out,
    struct vm_error *err);
void store_close(struct store *st);
/* Write transactions committed and batches (fsyncs) that carried them. */
void store_stats(struct store *st, uint64_t *commits, uint64_t *batches);

/*
 * How full the map is: pages in use (the file's high-water page count
 * minus the pages on LMDB's free list, which later writes reuse) and the
 * pages the map can hold, both in bytes. Reads in a read transaction of
 * its own; the result is cached for up to max_age_ms (0 = fresh).
 * Thread-safe.
 */
int store_usage(struct store *st, int64_t max_age_ms, uint64_t *used,
    uint64_t *size, struct vm_error *err);
/* used * 100 / size, from store_usage(st, 100, ...); 0 on error. */
int store_usage_pct(struct store *st);

/*
 * The audit trail's context (controller/audit.c: its HMAC key), attached
 * once at startup before any transaction runs: the store only carries
 * the pointer, borrowed, for audit_append() to find from a txn.
 */
void store_set_audit_ctx(struct store *st, const void *ctx);
const void *store_audit_ctx(const struct store_txn *txn);

int store_txn_begin(struct store *st, bool write, struct store_txn **out,
    struct vm_error *err);
/* Commit and free the txn (also on failure). */
int store_txn_commit(struct store_txn *txn, struct vm_error *err);
/* Abort and free; accepts NULL. */
void store_txn_abort(struct store_txn *txn);

/* 0 found (*val owned by caller, NUL-terminated), 1 absent, -1 error. */
int store_get(struct store_txn *txn, enum store_db db, const char *key,
    char **val, size_t *len, struct vm_error *err);
#define STORE_NOOVERWRITE 0x1
/* 0 stored, 1 exists (with STORE_NOOVERWRITE or a dup pair), -1 error. */
int store_put(struct store_txn *txn, enum store_db db, const char *key,
    const char *val, size_t len, unsigned flags, struct vm_error *err);
/* Delete key (all its dups when val is NULL, else that dup pair).
 * 0 deleted, 1 absent, -1 error. */
int store_del(struct store_txn *txn, enum store_db db, const char *key,
    const char *val, struct vm_error *err);

/*
 * Callback for iteration: key and val are borrowed (not NUL-terminated).
 * Return 0 to go on, 1 to stop, -1 to fail (fill err).
 */
typedef int (*store_iter_cb)(const char *key, size_t klen, const char *val,
    size_t vlen, void *arg, struct vm_error *err);
/* Iterate keys strictly after `after` (NULL = from the start). */
int store_iter(struct store_txn *txn, enum store_db db, const char *after,
    store_iter_cb cb, void *arg, struct vm_error *err);
/* Iterate the duplicate values of key in order. */
int store_iter_dups(struct store_txn *txn, enum store_db db, const char *key,
    store_iter_cb cb, void *arg, struct vm_error *err);
/* Number of entries in db. */
int store_count(struct store_txn *txn, enum store_db db, size_t *n,
    struct vm_error *err);

/* Next value of the persistent counter `name` (starts at 1). */
int store_seq_next(struct store_txn *txn, const char *name, uint64_t *out,
    struct vm_error *err);

/* Codec helpers: decode a stored record / encode and put one. */
int store_get_obj(struct store_txn *txn, enum store_db db, const char *key,
    const struct api_schema *s, void *obj, struct vm_error *err);
int store_put_obj(struct store_txn *txn, enum store_db db, const char *key,
    const struct api_schema *s, const void *obj, unsigned flags,
    struct vm_error *err);

#endif
