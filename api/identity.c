#include "config.h"

#include "errors.h"
#include "identity.h"

const char *const api_role_names[] = {
	"admin", "operator", "agency-admin", "member", "viewer", NULL
};
const char *const api_token_kind_names[] = { "user", "host", NULL };

static int
user_validate(const void *obj, struct vm_error *err)
{
	const struct api_user *u = obj;

	if ((u->role == ROLE_ADMIN || u->role == ROLE_OPERATOR) &&
	    u->agency[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "user.agency: an %s has no agency", api_role_names[u->role]);
		return -1;
	}
	if ((u->role == ROLE_AGENCY_ADMIN || u->role == ROLE_MEMBER) &&
	    u->agency[0] == '\0') {
		vm_error_set(err, API_EINVAL,
		    "user.agency: required for role %s",
		    api_role_names[u->role]);
		return -1;
	}
	return 0;
}

static const struct api_field user_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_user, name),
	AFS("display_name", AF_STR, 0, struct api_user, display_name),
	AFS("agency", AF_NAME, 0, struct api_user, agency),
	AFE("role", AF_REQ, struct api_user, role, api_role_names),
	AFT("created_at", AF_RO, struct api_user, created_at),
};

const struct api_schema api_user_schema = {
	"user", user_fields, ARRAY_SIZE(user_fields), sizeof(struct api_user),
	user_validate
};

static const struct api_field token_fields[] = {
	AFS("id", AF_UUID, AF_RO, struct api_token, id),
	AFE("kind", AF_RO, struct api_token, kind, api_token_kind_names),
	AFS("subject", AF_NAME, AF_RO, struct api_token, subject),
	AFS("user", AF_NAME, 0, struct api_token, user),
	AFS("description", AF_STR, 0, struct api_token, description),
	AFI("expires_in_s", 0, struct api_token, expires_in_s, 0,
	    315360000),
	AFT("created_at", AF_RO, struct api_token, created_at),
	AFT("expires_at", AF_RO, struct api_token, expires_at),
	AFT("last_used_at", AF_RO, struct api_token, last_used_at),
	AFT("revoked_at", AF_RO, struct api_token, revoked_at),
	AFS("secret", AF_STR, AF_RO, struct api_token, secret),
	AFS("hash", AF_STR, AF_RO, struct api_token, hash),
};

const struct api_schema api_token_schema = {
	"token", token_fields, ARRAY_SIZE(token_fields),
	sizeof(struct api_token), NULL
};

static const struct api_field whoami_fields[] = {
	AFE("kind", AF_REQ, struct api_whoami, kind, api_token_kind_names),
	AFS("user", AF_NAME, 0, struct api_whoami, user),
	AFS("host", AF_NAME, 0, struct api_whoami, host),
	AFS("agency", AF_NAME, 0, struct api_whoami, agency),
	AFE("role", 0, struct api_whoami, role, api_role_names),
	AFS("token_id", AF_UUID, 0, struct api_whoami, token_id),
};

const struct api_schema api_whoami_schema = {
	"whoami", whoami_fields, ARRAY_SIZE(whoami_fields),
	sizeof(struct api_whoami), NULL
};
