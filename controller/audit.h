/*
 * audit: the tamper-evident audit trail. Events live in DB_AUDIT keyed by
 * a 16-hex-digit sequence number; each records the SHA-256 of the previous
 * event (hash chain, see docs/security.md). audit_append() writes in the
 * caller's write transaction, so an event commits with the change it
 * describes or not at all. No locking beyond LMDB's single writer.
 */
#ifndef VMCTL_CONTROLLER_AUDIT_H
#define VMCTL_CONTROLLER_AUDIT_H

#include "audit_event.h"
#include "auditlog.h"		/* refusals, retention, headroom */
#include "error.h"
#include "server.h"

struct store;
struct store_txn;
struct buf;

/*
 * The chain key (audit.key_file, outside LMDB): events appended while a
 * key is attached to the store (store_set_audit_ctx) carry its key_id and
 * an HMAC-SHA256 hash, so rewriting the LMDB file alone cannot recompute
 * the chain. Immutable once loaded; the secret is never logged.
 */
struct audit_hmac;

/*
 * Load the key in path, or create it (mode 0600, random) if absent; a new
 * key applies from the event after the store's current head. *out owned
 * by the caller (audit_hmac_free).
 */
int audit_hmac_load(const char *path, struct store *st,
    struct audit_hmac **out, struct vm_error *err);
void audit_hmac_free(struct audit_hmac *k);
/* The key's public id (16 hex digits); "" for NULL. */
const char *audit_hmac_id(const struct audit_hmac *k);

/* What audit_prune() removes: the oldest events past either limit. */
struct audit_prune {
	int64_t before_ms;	/* events older than this; 0 = no age limit */
	int64_t max_events;	/* keep at most this many; 0 = no limit */
	size_t batch;		/* at most this many per call */
};

/*
 * Delete the oldest events over the limits, at most p->batch, never the
 * head, stopping at an entry that does not decode; move the anchor (the
 * seq and hash of the last pruned event) so audit_verify() starts there.
 * export (may be NULL) gets each pruned event's stored JSON text and a
 * newline: the caller writes it out before committing txn.
 */
int audit_prune(struct store_txn *txn, const struct audit_prune *p,
    struct buf *export, int64_t *pruned, struct vm_error *err);

/*
 * Append ev in txn: fills ev->seq, ev->time (if 0), ev->prev and ev->hash
 * from the current head. The caller fills who/what/result.
 */
int audit_append(struct store_txn *txn, struct api_audit_event *ev,
    struct vm_error *err);

/* Walk the whole chain in txn (read); fills the verify report. */
int audit_verify(struct store_txn *txn, struct api_audit_verify *out,
    struct vm_error *err);

/* Route handlers: GET /v1/audit, GET /v1/audit/verify. */
int svc_audit_list(struct req *req, struct resp *resp);
int svc_audit_verify(struct req *req, struct resp *resp);

#endif
