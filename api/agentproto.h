/*
 * agentproto: the controller <-> agent contract.
 *   POST /v1/agent/register   body api_host (input fields)
 *   POST /v1/agent/heartbeat  body api_heartbeat
 *   GET  /v1/agent/tasks?host=H&wait=S&max=N  -> {"items": [api_task...]}
 *   POST /v1/agent/results    body {"results": [api_task_result...]}
 * Tasks are delivered at least once; the agent executes them idempotently
 * keyed by (vm_id, generation). api_heartbeat owns its domain array
 * (api_heartbeat_free).
 */
#ifndef VMCTL_API_AGENTPROTO_H
#define VMCTL_API_AGENTPROTO_H

#include "codec.h"
#include "operation.h"
#include "vm.h"
#include "volume.h"
#include "cloudinit.h"

/*
 * Task life: queued -> leased -> done. A leased task whose lease expires
 * is offered again (leased again by the same host's next poll).
 */
enum api_task_state { TASK_QUEUED, TASK_LEASED, TASK_DONE };

/* A VM's NIC as the agent needs it: the network resolved by the IPAM. */
struct api_task_nic {
	char network[API_NAME_MAX];
	int mode;			/* enum api_net_mode */
	char bridge[API_BRIDGE_MAX];	/* mode bridge */
	char mac[API_MAC_MAX];
	char ip[API_IP_MAX];
	int64_t prefix;
	char gateway[API_IP_MAX];
};
extern const struct api_schema api_task_nic_schema;
extern const char *const api_task_state_names[];

struct api_task {
	char id[API_UUID_LEN];
	char op_id[API_UUID_LEN];
	char vm_id[API_UUID_LEN];
	char vm_name[API_NAME_MAX];
	char host[API_NAME_MAX];
	int64_t generation;
	int action;			/* enum api_op_action */
	int64_t vcpus;
	int64_t ram_mib;
	int64_t disk_gib;
	struct api_image image;
	int64_t stop_timeout_s;		/* graceful stop before power off */
	bool force;			/* stop: power off at once */
	int state;			/* enum api_task_state */
	int64_t attempt;		/* deliveries so far */
	int64_t lease_until;
	int64_t created_at;
	int64_t seq;			/* queue order on its host */
	/* migrate: the target host, its libvirt URI and data address */
	char migrate_target[API_NAME_MAX];
	char migrate_uri[API_TEXT_MAX];
	char migrate_listen[API_TEXT_MAX];
	struct api_task_nic nics[API_NICS_MAX];	/* create */
	char vol_id[API_UUID_LEN];	/* volume tasks: file VOL_ID.qcow2 */
	char vol_name[API_NAME_MAX];
	int64_t vol_size_gib;
	char vol_dev[API_DEV_MAX];	/* attach/detach: vdb, ... */
	struct api_cloudinit cloud_init;	/* create: user-data, keys */
	int64_t console_offset;		/* console: send the log from here */
	bool start;			/* rebuild: start the domain after */
	int on_crash;			/* create: enum api_vm_on_crash, applied
					 * by libvirt through <on_crash> */
};
extern const struct api_schema api_task_schema;

/* What a domain looks like to the agent. */
enum api_dom_state {
	DOM_RUNNING, DOM_STOPPED, DOM_PAUSED, DOM_CRASHED, DOM_ABSENT,
	DOM_OTHER
};
extern const char *const api_dom_state_names[];

struct api_task_result {
	char task_id[API_UUID_LEN];
	bool ok;
	char error[API_TEXT_MAX];
	int dom_state;			/* enum api_dom_state after the task */
	int64_t seq;			/* agent observation order (below) */
};
extern const struct api_schema api_task_result_schema;

struct api_domain {
	char id[API_UUID_LEN];		/* domain uuid = VM id */
	int state;			/* enum api_dom_state */
};
extern const struct api_schema api_domain_schema;

#define API_HEARTBEAT_MAX_DOMAINS 100000
#define API_RESULTS_MAX 1000

/*
 * Observation order: the agent stamps each heartbeat (before it lists its
 * domains) and each task result (after it reads the domain's state) with a
 * strictly increasing number (wall-clock microseconds, bumped when equal).
 * The controller keeps the highest stamp applied to a VM (api_vm.obs_seq)
 * and ignores a heartbeat older than that, so a heartbeat overtaken by a
 * task result cannot undo it. 0 = unstamped (always applied).
 */
struct api_heartbeat {
	char host[API_NAME_MAX];
	int64_t seq;
	struct api_domain *domains;	/* owned */
	size_t ndomains;
	bool full;			/* domains lists every domain */
};

int api_heartbeat_decode(json_object *o, struct api_heartbeat *hb,
    struct vm_error *err);
json_object *api_heartbeat_encode(const struct api_heartbeat *hb);
void api_heartbeat_free(struct api_heartbeat *hb);

/*
 * Decode a JSON array member `key` of o whose items follow schema s into
 * a malloc'ed array (*out, owned by the caller) of *n items of s->size
 * bytes each, at most max items.
 */
int api_decode_array(json_object *o, const char *key,
    const struct api_schema *s, size_t max, void **out, size_t *n,
    struct vm_error *err);
/* {"key": [items...]} from an array of n structs of schema s. */
json_object *api_encode_array(const char *key, const struct api_schema *s,
    const void *items, size_t n);

#endif
