#include "config.h"

#include <string.h>

#include "volume.h"

bool
api_vol_dev_valid(const char *s)
{
	return strlen(s) == 3 && s[0] == 'v' && s[1] == 'd' && s[2] >= 'b' &&
	    s[2] <= 'z';
}

const char *const api_vol_state_names[] = {
	"available", "attaching", "attached", "detaching", "error", "deleting",
	NULL
};

static const struct api_field volume_fields[] = {
	AFS("id", AF_UUID, AF_RO, struct api_volume, id),
	AFS("name", AF_NAME, AF_REQ, struct api_volume, name),
	AFS("agency", AF_NAME, 0, struct api_volume, agency),
	AFI("size_gib", AF_REQ, struct api_volume, size_gib, 1,
	    API_VOL_SIZE_MAX),
	AFE("state", AF_RO, struct api_volume, state, api_vol_state_names),
	AFS("vm", AF_UUID, AF_RO, struct api_volume, vm),
	AFS("vm_name", AF_NAME, AF_RO, struct api_volume, vm_name),
	AFS("dev", AF_STR, AF_RO, struct api_volume, dev),
	AFS("host", AF_NAME, AF_RO, struct api_volume, host),
	AFS("error", AF_STR, AF_RO, struct api_volume, error),
	AFS("last_op", AF_UUID, AF_RO, struct api_volume, last_op),
	AFT("created_at", AF_RO, struct api_volume, created_at),
	AFT("updated_at", AF_RO, struct api_volume, updated_at),
};

const struct api_schema api_volume_schema = {
	"volume", volume_fields, ARRAY_SIZE(volume_fields),
	sizeof(struct api_volume), NULL
};

static const struct api_field attach_fields[] = {
	AFS("vm", AF_NAME, AF_REQ, struct api_volume_attach, vm),
};

const struct api_schema api_volume_attach_schema = {
	"attach", attach_fields, ARRAY_SIZE(attach_fields),
	sizeof(struct api_volume_attach), NULL
};
