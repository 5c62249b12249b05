/*
 * vm: a virtual machine as requested by a user and tracked by the
 * controller, and the action request (start/stop/reboot). Codec only.
 */
#ifndef VMCTL_API_VM_H
#define VMCTL_API_VM_H

#include "codec.h"
#include "network.h"

/*
 * Observed state. Order of a normal life:
 *   pending -> building -> running <-> stopped -> deleting -> (row gone)
 * with crashed/paused/error reachable from running, stopping between
 * running and stopped, and any state -> deleting.
 */
enum api_vm_state {
	VM_PENDING,	/* accepted, agent has not taken the task yet */
	VM_BUILDING,	/* agent is defining and starting the domain */
	VM_RUNNING,	/* domain runs */
	VM_STOPPING,	/* graceful shutdown in progress */
	VM_STOPPED,	/* domain defined, not running */
	VM_PAUSED,	/* domain suspended */
	VM_CRASHED,	/* guest died without being asked to */
	VM_ERROR,	/* last operation failed; see error */
	VM_DELETING,	/* delete task outstanding */
	VM_MIGRATING,	/* migrate task outstanding; host = the source until
			 * the result, migrate_to = the target (claimed) */
};
extern const char *const api_vm_state_names[];

/* What the user asked for last. */
enum api_vm_desired { DESIRED_RUNNING, DESIRED_STOPPED, DESIRED_DELETED,
	DESIRED_PAUSED };
extern const char *const api_vm_desired_names[];

/* Boot source: a disk image (qcow2 overlay made per VM) or kernel+initrd. */
struct api_image {
	char disk[API_PATH_MAX];
	char kernel[API_PATH_MAX];
	char initrd[API_PATH_MAX];
	char cmdline[API_TEXT_MAX];
	/* An image of the image store, by name (vm create); the server
	 * resolves it in the create transaction and copies what the agent
	 * needs below, so deleting the image later changes no VM. */
	char name[API_NAME_MAX];
	char format[16];		/* RO: qcow2, raw or kernel */
	char disk_sha256[65];		/* RO: blob the agent fetches */
	char kernel_sha256[65];		/* RO */
	char initrd_sha256[65];		/* RO */
	/* RO: the store image's constraints, kept so migration, drains and
	 * rebuilds place the VM where it can boot (filter "image"). */
	char arch[API_NAME_MAX];
	char required_labels[API_TEXT_MAX];
};
extern const struct api_schema api_image_schema;

struct api_vm {
	char id[API_UUID_LEN];		/* RO */
	char name[API_NAME_MAX];
	char agency[API_NAME_MAX];	/* owner; scoped callers: their own */
	char flavor[API_NAME_MAX];
	struct api_image image;
	char site[API_NAME_MAX];	/* optional placement constraint */
	char az[API_NAME_MAX];		/* optional availability zone */
	char labels[API_TEXT_MAX];	/* required host labels (aggregates) */
	int ha;				/* enum api_vm_ha */
	char host_hint[API_NAME_MAX];	/* optional preferred host */
	char host[API_NAME_MAX];	/* RO: where it was placed */
	int64_t vcpus;			/* RO: copied from the flavor */
	int64_t ram_mib;		/* RO */
	int64_t disk_gib;		/* RO */
	int state;			/* RO: enum api_vm_state */
	int desired;			/* RO: enum api_vm_desired */
	int64_t generation;		/* RO: bumped on each desired change */
	char error[API_TEXT_MAX];	/* RO: last failure, if any */
	char last_op[API_UUID_LEN];	/* RO */
	int64_t obs_seq;		/* RO: newest agent observation applied */
	int64_t created_at;		/* RO */
	int64_t updated_at;		/* RO */
	char migrate_to[API_NAME_MAX];	/* RO: planned or claimed target */
	char drain_op[API_UUID_LEN];	/* RO: the drain moving it, if any */
	struct api_nic nics[API_NICS_MAX];	/* ip and mac set by IPAM */
	char server_group[API_NAME_MAX];	/* optional; same agency */
	char tags[API_TEXT_MAX];	/* "k=v,..." (api/tags.h), sorted */
	int on_crash;			/* enum api_vm_on_crash */
};

/* What happens when the guest crashes (seen in a heartbeat). */
enum api_vm_on_crash { ON_CRASH_LEAVE, ON_CRASH_RESTART };
extern const char *const api_vm_on_crash_names[];
extern const struct api_schema api_vm_schema;

/* POST /v1/vms/{id}/tags: pairs to add or replace, keys to drop. */
struct api_vm_tags {
	char set[API_TEXT_MAX];		/* "k=v,..." */
	char remove[API_TEXT_MAX];	/* "k,..." */
};
extern const struct api_schema api_vm_tags_schema;

/* Host HA: restart elsewhere when the host is lost (counts for N+1). */
enum api_vm_ha { VM_HA_RESTART, VM_HA_NONE };
extern const char *const api_vm_ha_names[];

enum api_vm_action { ACTION_START, ACTION_STOP, ACTION_REBOOT, ACTION_MIGRATE,
	ACTION_PAUSE, ACTION_RESUME,
	ACTION_REBUILD,		/* fresh overlay on the (new) image */
	ACTION_RESIZE,		/* stopped VM to another flavor */
};
extern const char *const api_vm_action_names[];

struct api_vm_action_req {
	int action;		/* enum api_vm_action */
	int64_t timeout_s;	/* stop: graceful shutdown timeout; 0 = default */
	bool force;		/* stop: power off at once; reboot: reset */
	char host[API_NAME_MAX];	/* migrate: target; "" = scheduler */
	char image[API_NAME_MAX];	/* rebuild: new store image; "" = same */
	char flavor[API_NAME_MAX];	/* resize: the new flavor */
};
extern const struct api_schema api_vm_action_schema;

#endif
