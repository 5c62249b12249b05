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
#include "error.h"
#include "server.h"

struct store_txn;

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
