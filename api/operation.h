/*
 * operation: the record a client follows after a 202 (vmctl --wait).
 * Codec only.
 */
#ifndef VMCTL_API_OPERATION_H
#define VMCTL_API_OPERATION_H

#include "codec.h"

/* pending -> running -> succeeded | failed (pending -> failed allowed). */
enum api_op_state { OP_PENDING, OP_RUNNING, OP_SUCCEEDED, OP_FAILED };
extern const char *const api_op_state_names[];

/* What the operation does; also the agent task's action. */
enum api_op_action { OPA_CREATE, OPA_START, OPA_STOP, OPA_REBOOT, OPA_DELETE,
	OPA_MIGRATE,		/* live (or offline) migration, task to the source */
	OPA_DRAIN,		/* host maintenance drain: no task, no VM */
	OPA_VOL_ATTACH, OPA_VOL_DETACH, OPA_VOL_DELETE,
	OPA_PAUSE, OPA_RESUME,
	OPA_CONSOLE,	/* console: a task only (no operation row), a read */
	OPA_REBUILD,		/* fresh overlay on the VM's (new) image */
	OPA_RESIZE,		/* stopped VM: new vCPUs, RAM, bigger disk */
};
extern const char *const api_op_action_names[];

struct api_operation {
	char id[API_UUID_LEN];
	char vm_id[API_UUID_LEN];
	char vm_name[API_NAME_MAX];
	char agency[API_NAME_MAX];
	char host[API_NAME_MAX];
	int action;			/* enum api_op_action */
	int state;			/* enum api_op_state */
	char error[API_TEXT_MAX];
	int64_t created_at;
	int64_t updated_at;
	/* drain: VMs to move, moved, failed or unmovable (0 otherwise) */
	int64_t progress_total;
	int64_t progress_done;
	int64_t progress_failed;
};
extern const struct api_schema api_operation_schema;

#endif
