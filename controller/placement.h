/*
 * placement: choose a host for a new VM. Pure logic over a snapshot of the
 * hosts (no store, no locks); the caller runs it inside the create write
 * transaction and claims the resources on the chosen host there.
 * The real scheduler (filters, weights, N+1) replaces the body of
 * placement_choose() later; callers stay as they are.
 */
#ifndef VMCTL_CONTROLLER_PLACEMENT_H
#define VMCTL_CONTROLLER_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "host.h"

struct placement_req {
	int64_t vcpus;
	int64_t ram_mib;
	int64_t disk_gib;
	const char *site;	/* "" or NULL = any */
	const char *host_hint;	/* "" or NULL = any */
};

/*
 * Pick among hosts[0..n) (state already computed): up, matching site and
 * hint, with room; the most free RAM wins, ties to the lower name.
 * Returns 0 and *chosen, or -1 with err (API_ENOROOM) naming, per host,
 * why it was rejected.
 */
int placement_choose(const struct api_host *hosts, size_t n,
    const struct placement_req *req, size_t *chosen, struct vm_error *err);

#endif
