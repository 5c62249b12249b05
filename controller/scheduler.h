/*
 * scheduler: choose a host for a new VM, and say why every other host was
 * not chosen. Pure logic over a snapshot (no store, no locks, no
 * allocation that outlives a call except what sched_result_free frees):
 * the caller collects hosts and VMs inside the create write transaction,
 * runs sched_place(), and claims on the chosen host in that same
 * transaction, so two concurrent creates can never over-commit a host.
 *
 * Pipeline (each stage is a function in scheduler.c with its unit tests):
 *   filters  -> up, not in maintenance, site, availability zone, labels
 *               (aggregates), image (arch and the image's required
 *               labels), server group (affinity / anti-affinity),
 *               capacity (vCPU, RAM, disk with the overcommit ratios)
 *   weights  -> spread (most free RAM, then vCPU) or pack (least free);
 *               soft-anti-affinity as a penalty; ties broken by name
 *   N+1      -> admission per site: after the placement, the loss of any
 *               tolerate_host_failures hosts of the site must leave room
 *               (first-fit decreasing) to restart all their HA VMs on the
 *               remaining up hosts; else refused with the numbers.
 */
#ifndef VMCTL_CONTROLLER_SCHEDULER_H
#define VMCTL_CONTROLLER_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

enum sched_weigher { SCHED_SPREAD, SCHED_PACK };

/* Settings ([scheduler] in vmctld.conf); immutable during a call. */
struct sched_config {
	double cpu_ratio;		/* overcommit, default 4.0 */
	double ram_ratio;		/* default 1.0 */
	double disk_ratio;		/* default 1.0 */
	int weigher;			/* enum sched_weigher, default spread */
	int tolerate_host_failures;	/* per site, 0..2, default 1 */
};

/* One host as the scheduler sees it. */
struct sched_host {
	char name[API_NAME_MAX];
	char site[API_NAME_MAX];
	char az[API_NAME_MAX];		/* availability zone; "" = none */
	char labels[API_TEXT_MAX];	/* comma-separated aggregate labels */
	bool up;
	bool maintenance;
	int64_t vcpus, ram_mib, disk_gib;		/* physical capacity */
	int64_t alloc_vcpus, alloc_ram_mib, alloc_disk_gib;	/* claimed */
	char arch[API_NAME_MAX];	/* CPU architecture; "" = unknown
					 * (matches any image) */
};

/* A VM already placed (for N+1 and server groups). */
struct sched_vm {
	char host[API_NAME_MAX];
	char server_group[2 * API_NAME_MAX + 1];	/* "" = none; the
					 * group's key "AGENCY/NAME" */
	bool ha;			/* restarted elsewhere if its host dies */
	int64_t vcpus, ram_mib, disk_gib;
};

enum sched_group_policy {
	SCHED_GROUP_NONE,
	SCHED_GROUP_AFFINITY,		/* hard: same host as the members */
	SCHED_GROUP_ANTI_AFFINITY,	/* hard: no host with a member */
	SCHED_GROUP_SOFT_ANTI_AFFINITY,	/* weight: fewest members */
};

/* What the new VM needs. */
struct sched_request {
	int64_t vcpus, ram_mib, disk_gib;
	bool ha;
	const char *site;		/* "" or NULL = any */
	const char *az;			/* "" or NULL = any */
	const char *host_hint;		/* "" or NULL = any */
	const char *labels;		/* required labels, comma-separated */
	const char *server_group;	/* "" or NULL = none */
	int group_policy;		/* enum sched_group_policy */
	const char *exclude;		/* "" or NULL = none: a host never
					 * chosen (a migrating VM's source) */
	/* Image compatibility (filter "image"): the boot image's name (for
	 * the reason text), its architecture and the host labels it needs;
	 * "" or NULL = no constraint. */
	const char *image;
	const char *arch;
	const char *image_labels;
};

/* Why a host was not chosen (or "chosen"). */
struct sched_verdict {
	char host[API_NAME_MAX];
	char filter[32];		/* "hint", "up", "maintenance", "site", "az",
					 * "labels", "image", "affinity",
					 * "anti-affinity", "vcpus", "ram",
					 * "disk", "n+1"; "" = passed */
	char reason[API_TEXT_MAX];	/* human text with the numbers */
	double weight;			/* for hosts that passed */
};

struct sched_result {
	int chosen;			/* index into hosts, -1 = none */
	struct sched_verdict *verdicts;	/* owned [nhosts], in hosts order */
	size_t nverdicts;
};

void sched_config_defaults(struct sched_config *cfg);

/*
 * Place req among hosts[0..nhosts) given the placed vms[0..nvms).
 * Returns 0 with res->chosen set, or -1 with err: API_ENOROOM and a
 * message summarising the verdicts per filter (res->verdicts filled
 * either way, for dry runs). sched_result_free() releases res.
 */
int sched_place(const struct sched_config *cfg,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms,
    const struct sched_request *req, struct sched_result *res,
    struct vm_error *err);
void sched_result_free(struct sched_result *res);

/* The "image" filter alone (rebuild on the VM's host): true if h can boot
 * req's image; else false with "image: ..." in reason[len]. */
bool sched_image_ok(const struct sched_host *h, const struct sched_request *req,
    char *reason, size_t len);

/*
 * N+1 state of one site now: 0 if every loss of tolerate hosts is
 * absorbed; else 1 and the first host (or pair) whose loss is not, in
 * failing[API_TEXT_MAX], with the numbers in why[API_TEXT_MAX].
 */
int sched_site_n1(const struct sched_config *cfg, const char *site,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms, char *failing, char *why);

/* Effective capacity of h under the overcommit ratios. */
void sched_capacity(const struct sched_config *cfg, const struct sched_host *h,
    int64_t *vcpus, int64_t *ram_mib, int64_t *disk_gib);

#endif
