#include "config.h"

#include "flavor.h"

static const struct api_field flavor_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_flavor, name),
	AFI("vcpus", AF_REQ, struct api_flavor, vcpus, 1, 256),
	AFI("ram_mib", AF_REQ, struct api_flavor, ram_mib, 16, 4194304),
	AFI("disk_gib", 0, struct api_flavor, disk_gib, 0, 65536),
	AFT("created_at", AF_RO, struct api_flavor, created_at),
};

const struct api_schema api_flavor_schema = {
	"flavor", flavor_fields, ARRAY_SIZE(flavor_fields),
	sizeof(struct api_flavor), NULL
};
