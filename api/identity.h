/*
 * identity: users, API tokens and the caller as the server sees it
 * (whoami). Codec only; token secrets never live in these structs except
 * api_token.secret, set only in the answer that creates a token.
 */
#ifndef VMCTL_API_IDENTITY_H
#define VMCTL_API_IDENTITY_H

#include "codec.h"

enum api_role {
	ROLE_ADMIN, ROLE_OPERATOR, ROLE_AGENCY_ADMIN, ROLE_MEMBER, ROLE_VIEWER,
	ROLE_MAX
};
extern const char *const api_role_names[];

struct api_user {
	char name[API_NAME_MAX];
	char display_name[API_TEXT_MAX];
	char agency[API_NAME_MAX];	/* "" for admin, operator, global viewer */
	int role;			/* enum api_role */
	int64_t created_at;		/* RO */
};
extern const struct api_schema api_user_schema;

enum api_token_kind { TOKEN_USER, TOKEN_HOST };
extern const char *const api_token_kind_names[];

#define API_TOKEN_PREFIX "vmctl_"
#define API_TOKEN_LEN (6 + 64)		/* prefix + 64 hex digits */

struct api_token {
	char id[API_UUID_LEN];		/* RO */
	int kind;			/* RO: enum api_token_kind */
	char subject[API_NAME_MAX];	/* RO: user or host name */
	char user[API_NAME_MAX];	/* input: admin makes one for user */
	char description[API_TEXT_MAX];
	int64_t expires_in_s;		/* input: 0 = never */
	int64_t created_at;		/* RO */
	int64_t expires_at;		/* RO; 0 = never */
	int64_t last_used_at;		/* RO */
	int64_t revoked_at;		/* RO */
	char secret[API_TOKEN_LEN + 1];	/* RO: only when created */
	char hash[65];			/* RO: stored, never sent */
};
extern const struct api_schema api_token_schema;

/* GET /v1/whoami */
struct api_whoami {
	int kind;			/* enum api_token_kind */
	char user[API_NAME_MAX];
	char host[API_NAME_MAX];
	char agency[API_NAME_MAX];
	int role;			/* users only */
	char token_id[API_UUID_LEN];
};
extern const struct api_schema api_whoami_schema;

#endif
