#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "errors.h"
#include "host.h"
#include "log.h"
#include "store.h"
#include "util.h"

const char *const auth_res_names[] = {
	"public", "agent", "self", "flavor", "host", "vm", "agency",
	"quota-write", "user", "audit", "image", "network", "volume",
	"server-group", NULL
};

/*
 * The rule table: role x resource -> scope for (read, write).
 *   N: not allowed (403)      O: its own agency's objects
 *   A: everything             G: everything, for a caller without an
 *                                agency (global viewer); else N
 * A viewer without an agency reads everything it may read (O acts as A).
 * RES_PUBLIC needs no credentials; RES_AGENT only host credentials (they
 * are checked in auth_authorize, not here).
 */
#define N SCOPE_NONE
#define O SCOPE_OWN
#define A SCOPE_ALL
#define G SCOPE_GLOBAL
static const unsigned char auth_rules[ROLE_MAX][RES_MAX][2] = {
	[ROLE_ADMIN] = {
		[RES_SELF] = { A, A }, [RES_FLAVOR] = { A, A },
		[RES_HOST] = { A, A }, [RES_VM] = { A, A },
		[RES_AGENCY] = { A, A }, [RES_QUOTA_WRITE] = { A, A },
		[RES_USER] = { A, A }, [RES_AUDIT] = { A, N },
		[RES_IMAGE] = { A, A },
		[RES_NETWORK] = { A, A }, [RES_VOLUME] = { A, A },
		[RES_GROUP] = { A, A },
	},
	[ROLE_OPERATOR] = {
		[RES_SELF] = { A, A }, [RES_FLAVOR] = { A, A },
		[RES_HOST] = { A, A }, [RES_VM] = { A, A },
		[RES_AGENCY] = { A, N }, [RES_QUOTA_WRITE] = { N, N },
		[RES_USER] = { N, N }, [RES_AUDIT] = { A, N },
		[RES_IMAGE] = { A, A },
		[RES_NETWORK] = { A, A }, [RES_VOLUME] = { A, A },
		[RES_GROUP] = { A, A },
	},
	[ROLE_AGENCY_ADMIN] = {
		[RES_SELF] = { A, A }, [RES_FLAVOR] = { A, N },
		[RES_HOST] = { N, N }, [RES_VM] = { O, O },
		[RES_AGENCY] = { O, N }, [RES_QUOTA_WRITE] = { N, N },
		[RES_USER] = { O, O }, [RES_AUDIT] = { N, N },
		[RES_IMAGE] = { O, O },
		[RES_NETWORK] = { O, O }, [RES_VOLUME] = { O, O },
		[RES_GROUP] = { O, O },
	},
	[ROLE_MEMBER] = {
		[RES_SELF] = { A, A }, [RES_FLAVOR] = { A, N },
		[RES_HOST] = { N, N }, [RES_VM] = { O, O },
		[RES_AGENCY] = { O, N }, [RES_QUOTA_WRITE] = { N, N },
		[RES_USER] = { N, N }, [RES_AUDIT] = { N, N },
		[RES_IMAGE] = { O, O },
		[RES_NETWORK] = { O, O }, [RES_VOLUME] = { O, O },
		[RES_GROUP] = { O, O },
	},
	[ROLE_VIEWER] = {
		[RES_SELF] = { A, A }, [RES_FLAVOR] = { A, N },
		[RES_HOST] = { G, N }, [RES_VM] = { O, N },
		[RES_AGENCY] = { O, N }, [RES_QUOTA_WRITE] = { N, N },
		[RES_USER] = { N, N }, [RES_AUDIT] = { G, N },
		[RES_IMAGE] = { O, N },
		[RES_NETWORK] = { O, N }, [RES_VOLUME] = { O, N },
		[RES_GROUP] = { O, N },
	},
};
#undef N
#undef O
#undef A
#undef G

enum auth_scope
auth_rule(int role, enum auth_res res, enum auth_access acc)
{
	unsigned s;

	if (role < 0 || role >= ROLE_MAX || res >= RES_MAX)
		return SCOPE_NONE;
	s = auth_rules[role][res][acc == ACC_WRITE];
	return (enum auth_scope)s;
}

int
auth_authorize(struct principal *who, enum auth_res res,
    enum auth_access access, struct vm_error *err)
{
	unsigned s;

	who->scope = SCOPE_NONE;
	if (res == RES_PUBLIC) {
		who->scope = SCOPE_ALL;
		return 0;
	}
	if (res == RES_AGENT) {
		if (who->kind != AUTH_HOST) {
			vm_error_set(err, API_EFORBIDDEN,
			    "the agent API takes host credentials only");
			return -1;
		}
		who->scope = SCOPE_OWN;
		return 0;
	}
	if (who->kind != AUTH_USER) {
		vm_error_set(err, API_EFORBIDDEN,
		    "host credentials are accepted on /v1/agent/ only");
		return -1;
	}
	s = auth_rules[who->role][res][access == ACC_WRITE];
	if (s == SCOPE_GLOBAL)
		s = who->agency[0] == '\0' ? SCOPE_ALL : SCOPE_NONE;
	if (s == SCOPE_OWN && who->agency[0] == '\0')
		s = who->role == ROLE_VIEWER ? SCOPE_ALL : SCOPE_NONE;
	if (s == SCOPE_NONE) {
		vm_error_set(err, API_EFORBIDDEN,
		    "role %s may not %s %s", api_role_names[who->role],
		    access == ACC_WRITE ? "change" : "read",
		    auth_res_names[res]);
		return -1;
	}
	who->scope = (int)s;
	return 0;
}

bool
auth_scope_ok(const struct principal *who, const char *agency)
{
	if (who->scope == SCOPE_ALL)
		return true;
	if (who->scope != SCOPE_OWN)
		return false;
	return agency != NULL && who->agency[0] != '\0' &&
	    strcmp(agency, who->agency) == 0;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
auth_token_hash(const char *secret, char hash[65])
{
	unsigned char d[32];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), d) < 0)
		fatalx("gnutls_hash_fast failed");
	hex(d, sizeof(d), hash);
}

void
auth_token_new(char secret[API_TOKEN_LEN + 1], char hash[65])
{
	unsigned char r[32];

	if (gnutls_rnd(GNUTLS_RND_KEY, r, sizeof(r)) < 0)
		fatalx("gnutls_rnd failed");
	/* hex() NUL-terminates after the 64 digits. */
	str_copy(secret, API_TOKEN_LEN + 1, API_TOKEN_PREFIX);
	hex(r, sizeof(r), secret + strlen(API_TOKEN_PREFIX));
	auth_token_hash(secret, hash);
	memset(r, 0, sizeof(r));
}

int
auth_token_put(struct store_txn *txn, const struct api_token *t,
    struct vm_error *err)
{
	struct api_token row = *t;

	row.secret[0] = '\0';	/* never stored */
	if (store_put_obj(txn, DB_TOKENS, row.id, &api_token_schema, &row, 0,
	    err) < 0)
		return -1;
	return store_put(txn, DB_TOKEN_HASHES, row.hash, row.id,
	    strlen(row.id), 0, err) < 0 ? -1 : 0;
}

static bool
token_syntax_ok(const char *s)
{
	size_t i, p = strlen(API_TOKEN_PREFIX);

	if (strlen(s) != API_TOKEN_LEN || strncmp(s, API_TOKEN_PREFIX, p) != 0)
		return false;
	for (i = p; i < API_TOKEN_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Record last use, at most once a minute per token (own write txn). */
static void
token_touch(struct store *st, const char *id)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_token t;

	if (store_txn_begin(st, true, &txn, &err) < 0)
		goto fail;
	if (store_get_obj(txn, DB_TOKENS, id, &api_token_schema, &t, &err) != 0)
		goto fail;
	t.last_used_at = now_ms();
	if (store_put_obj(txn, DB_TOKENS, id, &api_token_schema, &t, 0,
	    &err) < 0)
		goto fail;
	if (store_txn_commit(txn, &err) < 0)
		log_warnx("token %s: last use not recorded: %s", id, err.message);
	return;
fail:
	store_txn_abort(txn);
	if (err.code)
		log_warnx("token %s: last use not recorded: %s", id, err.message);
}

int
auth_authenticate(struct store *st, const char *authorization,
    struct principal *who, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	struct api_token t;
	char hash[65], *id = NULL;
	const char *secret;
	int64_t now = now_ms();
	bool touch = false;
	int rc, ret = -1;

	memset(who, 0, sizeof(*who));
	if (authorization == NULL) {
		vm_error_set(err, API_EUNAUTH,
		    "no credentials: send Authorization: Bearer TOKEN");
		return -1;
	}
	if (strncmp(authorization, "Bearer ", 7) != 0) {
		vm_error_set(err, API_EUNAUTH,
		    "Authorization must be \"Bearer TOKEN\"");
		return -1;
	}
	secret = authorization + 7;
	if (!token_syntax_ok(secret)) {
		vm_error_set(err, API_EUNAUTH, "malformed token");
		return -1;
	}
	auth_token_hash(secret, hash);
	if (store_txn_begin(st, false, &txn, err) < 0)
		return -1;
	rc = store_get(txn, DB_TOKEN_HASHES, hash, &id, NULL, err);
	if (rc < 0)
		goto cleanup;
	if (rc == 1) {
		vm_error_set(err, API_EUNAUTH, "unknown token");
		goto cleanup;
	}
	rc = store_get_obj(txn, DB_TOKENS, id, &api_token_schema, &t, err);
	if (rc < 0)
		goto cleanup;
	if (rc == 1) {
		vm_error_set(err, API_EUNAUTH, "unknown token");
		goto cleanup;
	}
	if (t.revoked_at != 0) {
		vm_error_set(err, API_EUNAUTH, "token %s was revoked", t.id);
		goto cleanup;
	}
	if (t.expires_at != 0 && t.expires_at <= now) {
		vm_error_set(err, API_EUNAUTH, "token %s has expired", t.id);
		goto cleanup;
	}
	str_copy(who->token_id, sizeof(who->token_id), t.id);
	str_copy(who->name, sizeof(who->name), t.subject);
	if (t.kind == TOKEN_HOST) {
		struct api_host h;

		who->kind = AUTH_HOST;
		rc = store_get_obj(txn, DB_HOSTS, t.subject, &api_host_schema, &h,
		    err);
		if (rc < 0)
			goto cleanup;
		if (rc == 1) {
			vm_error_set(err, API_EUNAUTH,
			    "token %s: host %s no longer exists", t.id,
			    t.subject);
			goto cleanup;
		}
	} else {
		struct api_user u;

		who->kind = AUTH_USER;
		rc = store_get_obj(txn, DB_USERS, t.subject, &api_user_schema, &u,
		    err);
		if (rc < 0)
			goto cleanup;
		if (rc == 1) {
			vm_error_set(err, API_EUNAUTH,
			    "token %s: user %s no longer exists", t.id,
			    t.subject);
			goto cleanup;
		}
		who->role = u.role;
		str_copy(who->agency, sizeof(who->agency), u.agency);
	}
	touch = now - t.last_used_at > (int64_t)60 * 1000;
	ret = 0;
cleanup:
	store_txn_abort(txn);
	free(id);
	if (ret == 0 && touch)
		token_touch(st, who->token_id);
	return ret;
}
