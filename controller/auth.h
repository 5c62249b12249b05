/*
 * auth: who is calling (token -> principal) and what they may touch (one
 * rule table: role x resource -> access and scope). Called by server.c
 * for every request before the handler; handlers use auth_scope_ok() to
 * hide other agencies' objects (404). Stateless apart from the store.
 */
#ifndef VMCTL_CONTROLLER_AUTH_H
#define VMCTL_CONTROLLER_AUTH_H

#include <stdbool.h>

#include "codec.h"
#include "error.h"
#include "identity.h"

struct store;
struct store_txn;

/* What a route touches; each route in routes.c names one. */
enum auth_res {
	RES_PUBLIC,	/* no credentials: /healthz */
	RES_AGENT,	/* host credentials only: /v1/agent/... */
	RES_SELF,	/* any authenticated caller: whoami, own tokens */
	RES_FLAVOR,
	RES_HOST,
	RES_VM,		/* VMs and their operations */
	RES_AGENCY,	/* agencies, quotas, usage */
	RES_QUOTA_WRITE,	/* changing a quota */
	RES_USER,
	RES_AUDIT,
	RES_IMAGE,	/* the image store */
	RES_NETWORK,	/* networks: agency's own, shared ones readable */
	RES_VOLUME,	/* volumes and their attachments */
	RES_GROUP,	/* server groups (agency-owned) */
	RES_MAX
};
extern const char *const auth_res_names[];

enum auth_access { ACC_READ, ACC_WRITE };

/*
 * How far a role reaches for a resource. SCOPE_GLOBAL appears only in the
 * rule table: everything for a caller without an agency, else nothing.
 */
enum auth_scope { SCOPE_NONE, SCOPE_OWN, SCOPE_ALL, SCOPE_GLOBAL };

enum auth_kind { AUTH_NONE, AUTH_USER, AUTH_HOST };

struct principal {
	int kind;			/* enum auth_kind */
	char name[API_NAME_MAX];	/* user or host name */
	char agency[API_NAME_MAX];	/* "" = none */
	int role;			/* enum api_role (users) */
	char token_id[API_UUID_LEN];
	int scope;			/* enum auth_scope granted for the route */
};

/* Resolve "Bearer TOKEN" into who (API_EUNAUTH on failure). */
int auth_authenticate(struct store *st, const char *authorization,
    struct principal *who, struct vm_error *err);
/* May who do access on res? Sets who->scope; API_EFORBIDDEN if not. */
int auth_authorize(struct principal *who, enum auth_res res,
    enum auth_access access, struct vm_error *err);
/* Is an object of agency `agency` inside who's scope? */
bool auth_scope_ok(const struct principal *who, const char *agency);
/* The scope role has on res for access (for tests and the matrix). */
enum auth_scope auth_rule(int role, enum auth_res res, enum auth_access acc);

/* New token: secret text (API_TOKEN_LEN + NUL) and its hash (hex). */
void auth_token_new(char secret[API_TOKEN_LEN + 1], char hash[65]);
void auth_token_hash(const char *secret, char hash[65]);
/* Store token row + hash index in txn (t->hash must be set). */
int auth_token_put(struct store_txn *txn, const struct api_token *t,
    struct vm_error *err);

#endif
