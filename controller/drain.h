/*
 * drain: plan the live migrations that empty a host (maintenance) or move
 * one VM, over the scheduler's snapshot types. Pure logic: no store, no
 * locks; drain_plan() fills a struct drain_plan whose arrays it owns until
 * drain_plan_free(). Every move goes through sched_place() (the same
 * filters, weights and N+1 admission as a create), so a plan never
 * over-commits a host, splits a hard affinity group or breaks N+1.
 *
 * Order: the VMs to move are taken in units (a VM alone, or every moving
 * member of a hard affinity group together), largest first (RAM, vCPUs,
 * disk, then name), so the plan is deterministic and the big ones find
 * room before small ones fragment it. Each unit is placed on the snapshot
 * as the earlier moves left it. With maintenance, the source counts as in
 * maintenance (no target, no restart room for N+1) and its moving VMs no
 * longer on it: N+1 is checked for the site as it will be after the drain.
 */
#ifndef VMCTL_CONTROLLER_DRAIN_H
#define VMCTL_CONTROLLER_DRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "scheduler.h"

/* One VM to move, with the constraints it was placed under. */
struct drain_vm {
	size_t vm;			/* index into vms[] (host, size, group) */
	char id[API_UUID_LEN];
	char name[API_NAME_MAX];
	char site[API_NAME_MAX];	/* "" = the source's site */
	char az[API_NAME_MAX];		/* "" = any */
	char labels[API_TEXT_MAX];	/* required host labels */
	int group_policy;		/* enum sched_group_policy of its group */
	char image[API_NAME_MAX];	/* boot image (filter "image"); "" = */
	char arch[API_NAME_MAX];	/* none, or a path image */
	char image_labels[API_TEXT_MAX];
};

struct drain_opts {
	const char *source;		/* host to empty / the VMs' host */
	const char *target;		/* "" or NULL = the scheduler chooses */
	bool maintenance;		/* source leaves service (drain) */
};

struct drain_move {
	size_t dvm;			/* index into the dvms[] given */
	char target[API_NAME_MAX];
};

struct drain_stuck {
	size_t dvm;			/* index into the dvms[] given */
	char reason[API_TEXT_MAX];	/* the scheduler's verdicts, numbers */
};

struct drain_plan {
	struct drain_move *moves;	/* owned; in execution order */
	size_t nmoves;
	struct drain_stuck *stuck;	/* owned; VMs that cannot move */
	size_t nstuck;
};

/*
 * Plan moving dvms[0..ndvms) (all on opts->source) given hosts and every
 * placed VM. Returns 0 with plan filled (plan->nstuck > 0 when some VMs
 * cannot move: each with its reason); -1 with err for bad input (unknown
 * source or target, a VM not on the source).
 */
int drain_plan(const struct sched_config *cfg,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms,
    const struct drain_vm *dvms, size_t ndvms,
    const struct drain_opts *opts, struct drain_plan *plan,
    struct vm_error *err);
void drain_plan_free(struct drain_plan *plan);

/* "3 VMs cannot move: web-1: no host can take ...; db-2: ..." into out. */
void drain_plan_summary(const struct drain_plan *plan,
    const struct drain_vm *dvms, char *out, size_t len);

#endif
