/*
 * flavor: a named size (vCPUs, RAM, disk). Codec only; no allocation.
 */
#ifndef VMCTL_API_FLAVOR_H
#define VMCTL_API_FLAVOR_H

#include "codec.h"

struct api_flavor {
	char name[API_NAME_MAX];
	int64_t vcpus;		/* 1..256 */
	int64_t ram_mib;	/* 16..4 TiB */
	int64_t disk_gib;	/* 0..64 TiB; 0 = no root disk size */
	int64_t created_at;	/* RO */
};

extern const struct api_schema api_flavor_schema;

#endif
