/*
 * server_group: a named set of VMs of one agency placed under one policy
 * (affinity, anti-affinity, soft-anti-affinity). Codec only; a decoded
 * struct owns nothing.
 */
#ifndef VMCTL_API_SERVER_GROUP_H
#define VMCTL_API_SERVER_GROUP_H

#include "codec.h"

/* Order matches the scheduler's enum sched_group_policy minus NONE. */
enum api_group_policy {
	GROUP_AFFINITY,		/* hard: every member on one host */
	GROUP_ANTI_AFFINITY,	/* hard: no two members on one host */
	GROUP_SOFT_ANTI_AFFINITY, /* preferred: fewest members per host */
};
extern const char *const api_group_policy_names[];

struct api_server_group {
	char name[API_NAME_MAX];	/* unique among all agencies */
	int policy;			/* enum api_group_policy */
	char agency[API_NAME_MAX];	/* owner; scoped callers: their own */
	int64_t members;		/* RO: VMs in the group now */
	int64_t created_at;		/* RO */
};
extern const struct api_schema api_server_group_schema;

#endif
