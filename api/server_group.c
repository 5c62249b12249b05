#include "config.h"

#include "server_group.h"

const char *const api_group_policy_names[] = {
	"affinity", "anti-affinity", "soft-anti-affinity", NULL
};

static const struct api_field group_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_server_group, name),
	AFE("policy", AF_REQ, struct api_server_group, policy,
	    api_group_policy_names),
	AFS("agency", AF_NAME, 0, struct api_server_group, agency),
	AFI("members", AF_RO, struct api_server_group, members, 0, INT64_MAX),
	AFT("created_at", AF_RO, struct api_server_group, created_at),
};

const struct api_schema api_server_group_schema = {
	"server_group", group_fields, ARRAY_SIZE(group_fields),
	sizeof(struct api_server_group), NULL
};
