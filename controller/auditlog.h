/*
 * auditlog: the audit trail's running parts around the chain (audit.c):
 * the chain key (audit.key_file), refusals aggregated in memory
 * (auditagg.c) and flushed once per interval in one write transaction,
 * retention (audit.keep_days, audit.max_events) with export of pruned
 * events to an append-only JSON-lines file, and the store's headroom
 * (store.high_water_pct). One background thread; everything here is
 * thread-safe. Owned by main() through ctl->auditlog.
 */
#ifndef VMCTL_CONTROLLER_AUDITLOG_H
#define VMCTL_CONTROLLER_AUDITLOG_H

#include <stdint.h>

#include "audit_event.h"
#include "error.h"

struct ctl;
struct req;
struct auditlog;

/*
 * Load (or create) the chain key, attach it to ctl->store and start the
 * thread. Call after store_open, before serving.
 */
int auditlog_start(struct ctl *ctl, struct auditlog **out,
    struct vm_error *err);
/*
 * Flush what is aggregated, stop the thread, detach and free the key.
 * After the server stopped, before store_close. Accepts NULL.
 */
void auditlog_stop(struct auditlog *al);

/*
 * Count one refused request (401/403/429): in memory only, never a disk
 * write in the request's path. ev as from req_audit_fill().
 */
void auditlog_refusal(struct auditlog *al, const struct api_audit_event *ev);

/*
 * The headroom rule: above store.high_water_pct of the map, a user's
 * change is refused with 503 (API_EUNAVAIL) so that agents' heartbeats
 * and results, and deletes, still have room. 0 = go on.
 */
int auditlog_headroom(const struct req *req, struct vm_error *err);

/* For /metrics. */
struct auditlog_stats {
	uint64_t refusals;		/* counted since start */
	uint64_t flushed_events;	/* aggregate events written */
	uint64_t pruned;		/* events pruned (and exported) */
	uint64_t store_used;		/* bytes of the map in use */
	uint64_t store_size;		/* bytes of the map */
	int64_t high_water_pct;
};
void auditlog_stats(const struct ctl *ctl, struct auditlog_stats *out);

#endif
