/*
 * agency: a tenant of the cloud (a government agency) with its quota and
 * usage, and the usage report. Codec only.
 */
#ifndef VMCTL_API_AGENCY_H
#define VMCTL_API_AGENCY_H

#include "codec.h"

#define QUOTA_UNLIMITED (-1)

/* Limits (quota: -1 = unlimited) or amounts in use (usage). */
struct api_quota {
	int64_t instances;
	int64_t vcpus;
	int64_t ram_mib;
	int64_t disk_gib;
	int64_t volumes;
	int64_t networks;
	int64_t protected_vms;
	int64_t images;		/* images of the store owned by the agency */
	int64_t image_mib;	/* their files, MiB (each file rounded up) */
};
extern const struct api_schema api_quota_schema;
/* Every field as a (name, offset) pair, for loops over resources. */
struct api_quota_field {
	const char *name;
	size_t off;
};
extern const struct api_quota_field api_quota_fields[];
extern const size_t api_quota_nfields;
void api_quota_defaults(struct api_quota *q);

struct api_agency {
	char name[API_NAME_MAX];
	char id[API_UUID_LEN];		/* RO: never reused, unlike a name
					 * (a deleted agency's is retired) */
	char display_name[API_TEXT_MAX];
	struct api_quota quota;
	struct api_quota usage;		/* RO */
	int64_t created_at;		/* RO */
};
extern const struct api_schema api_agency_schema;

/* GET /v1/agencies/{name}/usage */
struct api_usage_report {
	char agency[API_NAME_MAX];
	struct api_quota quota;
	struct api_quota usage;
	int64_t from;
	int64_t to;
	int64_t vm_hours_milli;		/* thousandths of an hour */
	int64_t vcpu_hours_milli;
	int64_t ram_gib_hours_milli;
	int64_t disk_gib_hours_milli;
};
extern const struct api_schema api_usage_report_schema;

#endif
