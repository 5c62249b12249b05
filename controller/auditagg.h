/*
 * auditagg: refused requests (401/403/429) aggregated in memory before
 * they reach the audit trail, so a flood of refusals costs a bounded
 * number of events: one per (source, principal, method + route, status)
 * per interval, carrying a count. The table holds at most max_keys keys;
 * refusals past that are counted in one "other" aggregate. Pure: no
 * store, no clock of its own (the caller passes now_ms), no locking (the
 * caller serializes: controller/auditlog.c holds a mutex).
 */
#ifndef VMCTL_CONTROLLER_AUDITAGG_H
#define VMCTL_CONTROLLER_AUDITAGG_H

#include <stddef.h>
#include <stdint.h>

#include "audit_event.h"

struct auditagg;

/* interval_ms >= 1, max_keys >= 1. Owned by the caller (auditagg_free). */
struct auditagg *auditagg_new(int64_t interval_ms, size_t max_keys);
void auditagg_free(struct auditagg *a);

/*
 * Count one refusal at now_ms. ev is the event the request would have
 * written (who, source, method, path, status, message; path should be
 * the route's pattern so ids do not make keys); it is copied.
 */
void auditagg_add(struct auditagg *a, const struct api_audit_event *ev,
    int64_t now_ms);

/* True when the current interval has ended and something waits. */
int auditagg_due(const struct auditagg *a, int64_t now_ms);

/*
 * Take every aggregate as events (count, time = first refusal, message
 * saying how many and over what span; seq, prev and hash left empty for
 * audit_append) into *out (owned by the caller, free()) and start a new
 * interval at now_ms. Returns how many; 0 and *out NULL when none.
 */
size_t auditagg_take(struct auditagg *a, int64_t now_ms,
    struct api_audit_event **out);

/* Refusals counted since auditagg_new (for /metrics). */
uint64_t auditagg_total(const struct auditagg *a);
/* Keys in use now (including "other"). */
size_t auditagg_keys(const struct auditagg *a);

#endif
