/*
 * volume: an extra data disk (qcow2 file on one host's local storage)
 * that attaches to VMs of that host, and the attach request. Codec only.
 */
#ifndef VMCTL_API_VOLUME_H
#define VMCTL_API_VOLUME_H

#include "codec.h"

#define API_DEV_MAX	8	/* "vdb" .. "vdz" + NUL */
#define API_VOL_SIZE_MAX 16384	/* GiB */

/*
 * available -> attaching -> attached -> detaching -> available;
 * attaching/detaching -> error when the agent fails (detach or attach
 * again, or delete); any state but attached/attaching -> deleting ->
 * (row gone).
 */
enum api_vol_state {
	VOL_AVAILABLE,	/* not attached */
	VOL_ATTACHING,	/* attach task outstanding */
	VOL_ATTACHED,	/* in the VM's definition (and live if it runs) */
	VOL_DETACHING,	/* detach task outstanding */
	VOL_ERROR,	/* last attach/detach failed; see error */
	VOL_DELETING,	/* file removal task outstanding */
};
extern const char *const api_vol_state_names[];

struct api_volume {
	char id[API_UUID_LEN];		/* RO */
	char name[API_NAME_MAX];
	char agency[API_NAME_MAX];	/* owner; scoped callers: their own */
	int64_t size_gib;
	int state;			/* RO: enum api_vol_state */
	char vm[API_UUID_LEN];		/* RO: attached to (uuid) */
	char vm_name[API_NAME_MAX];	/* RO */
	char dev[API_DEV_MAX];		/* RO: vdb, vdc, ... */
	char host[API_NAME_MAX];	/* RO: where its file lives */
	char error[API_TEXT_MAX];	/* RO */
	char last_op[API_UUID_LEN];	/* RO */
	int64_t created_at;		/* RO */
	int64_t updated_at;		/* RO */
};
extern const struct api_schema api_volume_schema;

/* "vdb" .. "vdz" (vda is the root disk). */
bool api_vol_dev_valid(const char *s);

/* POST /v1/volumes/{name}/attach */
struct api_volume_attach {
	char vm[API_NAME_MAX];		/* VM name or uuid */
};
extern const struct api_schema api_volume_attach_schema;

#endif
