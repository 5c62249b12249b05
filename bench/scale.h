/*
 * scale: the parts of bench/provision for the scale runs (issue 4): server
 * groups for the VMs, the controller's scheduler timing from /metrics,
 * the time to list every VM, and a check that anti-affinity held. Each
 * call uses the caller's http_client (one thread); nothing is kept.
 */
#ifndef VMCTL_BENCH_SCALE_H
#define VMCTL_BENCH_SCALE_H

#include <stddef.h>

#include "error.h"
#include "http.h"

/* Name of server group i (0-based) into out[64]. */
void scale_group_name(size_t i, char out[64]);

/* POST /v1/server-groups bench-gNNNN for i < n, policy, agency. */
int scale_groups_create(struct http_client *c, size_t n, const char *policy,
    const char *agency, struct vm_error *err);

/* Scheduler counters of GET /metrics (vmctl_sched_*). */
struct scale_sched {
	double placements;
	double load_s, place_s;		/* sums */
};
int scale_sched_read(struct http_client *c, struct scale_sched *s,
    struct vm_error *err);

/*
 * GET /v1/vms?limit=1000 following "next" until the end, `reps` times,
 * the answers received but not parsed (server time + transfer): the
 * fastest and the median in *best_s / *median_s; *n items (one parsed
 * pass before).
 */
int scale_list_time(struct http_client *c, int reps, double *best_s,
    double *median_s, size_t *n, struct vm_error *err);

/*
 * Over every VM with a server group: *pairs = VMs sharing a host with a
 * member of their group (0 when anti-affinity held), *grouped = VMs with
 * a group.
 */
int scale_group_check(struct http_client *c, size_t *pairs, size_t *grouped,
    struct vm_error *err);

#endif
