#include "config.h"

#include "agency.h"

#define QMAX 1099511627776LL	/* 2^40: far above any real limit */

static const struct api_field quota_fields[] = {
	AFI("instances", 0, struct api_quota, instances, -1, QMAX),
	AFI("vcpus", 0, struct api_quota, vcpus, -1, QMAX),
	AFI("ram_mib", 0, struct api_quota, ram_mib, -1, QMAX),
	AFI("disk_gib", 0, struct api_quota, disk_gib, -1, QMAX),
	AFI("volumes", 0, struct api_quota, volumes, -1, QMAX),
	AFI("networks", 0, struct api_quota, networks, -1, QMAX),
	AFI("protected_vms", 0, struct api_quota, protected_vms, -1, QMAX),
	AFI("images", 0, struct api_quota, images, -1, QMAX),
	AFI("image_mib", 0, struct api_quota, image_mib, -1, QMAX),
};

const struct api_schema api_quota_schema = {
	"quota", quota_fields, ARRAY_SIZE(quota_fields),
	sizeof(struct api_quota), NULL
};

const struct api_quota_field api_quota_fields[] = {
	{ "instances", offsetof(struct api_quota, instances) },
	{ "vcpus", offsetof(struct api_quota, vcpus) },
	{ "ram_mib", offsetof(struct api_quota, ram_mib) },
	{ "disk_gib", offsetof(struct api_quota, disk_gib) },
	{ "volumes", offsetof(struct api_quota, volumes) },
	{ "networks", offsetof(struct api_quota, networks) },
	{ "protected_vms", offsetof(struct api_quota, protected_vms) },
	{ "images", offsetof(struct api_quota, images) },
	{ "image_mib", offsetof(struct api_quota, image_mib) },
};
const size_t api_quota_nfields = ARRAY_SIZE(api_quota_fields);

void
api_quota_defaults(struct api_quota *q)
{
	q->instances = 10;
	q->vcpus = 20;
	q->ram_mib = 51200;
	q->disk_gib = 1000;
	q->volumes = 10;
	q->networks = 10;
	q->protected_vms = 0;
	q->images = 20;
	q->image_mib = 51200;
}

static const struct api_field agency_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_agency, name),
	AFS("id", AF_UUID, AF_RO, struct api_agency, id),
	AFS("display_name", AF_STR, 0, struct api_agency, display_name),
	AFSUB("quota", 0, struct api_agency, quota, &api_quota_schema),
	AFSUB("usage", AF_RO | AF_EMIT, struct api_agency, usage,
	    &api_quota_schema),
	AFT("created_at", AF_RO, struct api_agency, created_at),
};

const struct api_schema api_agency_schema = {
	"agency", agency_fields, ARRAY_SIZE(agency_fields),
	sizeof(struct api_agency), NULL
};

static const struct api_field usage_fields[] = {
	AFS("agency", AF_NAME, AF_REQ, struct api_usage_report, agency),
	AFSUB("quota", AF_REQ, struct api_usage_report, quota,
	    &api_quota_schema),
	AFSUB("usage", AF_REQ, struct api_usage_report, usage,
	    &api_quota_schema),
	AFT("from", AF_REQ, struct api_usage_report, from),
	AFT("to", AF_REQ, struct api_usage_report, to),
	AFI("vm_hours_milli", 0, struct api_usage_report, vm_hours_milli, 0,
	    INT64_MAX),
	AFI("vcpu_hours_milli", 0, struct api_usage_report, vcpu_hours_milli,
	    0, INT64_MAX),
	AFI("ram_gib_hours_milli", 0, struct api_usage_report,
	    ram_gib_hours_milli, 0, INT64_MAX),
	AFI("disk_gib_hours_milli", 0, struct api_usage_report,
	    disk_gib_hours_milli, 0, INT64_MAX),
};

const struct api_schema api_usage_report_schema = {
	"usage", usage_fields, ARRAY_SIZE(usage_fields),
	sizeof(struct api_usage_report), NULL
};
