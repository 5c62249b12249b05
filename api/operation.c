#include "config.h"

#include "operation.h"

const char *const api_op_state_names[] = {
	"pending", "running", "succeeded", "failed", NULL
};
const char *const api_op_action_names[] = {
	"create", "start", "stop", "reboot", "delete", "migrate", "drain",
	"attach", "detach", "volume-delete", "pause", "resume", "console",
	"rebuild", "resize", NULL
};

static const struct api_field op_fields[] = {
	AFS("id", AF_UUID, AF_REQ, struct api_operation, id),
	AFS("vm_id", AF_UUID, 0, struct api_operation, vm_id),	/* "" = drain */
	AFS("vm_name", AF_NAME, 0, struct api_operation, vm_name),
	AFS("agency", AF_NAME, 0, struct api_operation, agency),
	AFS("host", AF_NAME, 0, struct api_operation, host),
	AFE("action", AF_REQ, struct api_operation, action,
	    api_op_action_names),
	AFE("state", AF_REQ, struct api_operation, state, api_op_state_names),
	AFS("error", AF_STR, 0, struct api_operation, error),
	AFT("created_at", 0, struct api_operation, created_at),
	AFT("updated_at", 0, struct api_operation, updated_at),
	AFI("progress_total", 0, struct api_operation, progress_total, 0,
	    INT64_MAX),
	AFI("progress_done", 0, struct api_operation, progress_done, 0,
	    INT64_MAX),
	AFI("progress_failed", 0, struct api_operation, progress_failed, 0,
	    INT64_MAX),
};

const struct api_schema api_operation_schema = {
	"operation", op_fields, ARRAY_SIZE(op_fields),
	sizeof(struct api_operation), NULL
};
