/*
 * Identity services: whoami, API tokens, users, host enrollment.
 * Every change is one write transaction that also appends its audit
 * event (svc_commit). Token secrets exist only in the answer that
 * creates them; rows keep the SHA-256.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

/* ------------------------------------------------------------ whoami */

int
svc_whoami(struct req *req, struct resp *resp)
{
	struct api_whoami w;

	memset(&w, 0, sizeof(w));
	w.kind = req->who.kind == AUTH_HOST ? TOKEN_HOST : TOKEN_USER;
	if (req->who.kind == AUTH_HOST)
		str_copy(w.host, sizeof(w.host), req->who.name);
	else
		str_copy(w.user, sizeof(w.user), req->who.name);
	str_copy(w.agency, sizeof(w.agency), req->who.agency);
	w.role = req->who.role;
	str_copy(w.token_id, sizeof(w.token_id), req->who.token_id);
	resp_json(resp, 200, api_encode(&api_whoami_schema, &w));
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ tokens */

static bool
is_admin(const struct req *req)
{
	return req->who.kind == AUTH_USER && req->who.role == ROLE_ADMIN;
}

/* A token as sent to clients: never the hash. */
static json_object *
token_json(const struct api_token *t)
{
	struct api_token c = *t;

	c.hash[0] = '\0';
	return api_encode(&api_token_schema, &c);
}

/* Make a token for (kind, subject) in txn; secret into t->secret. */
int
svc_token_issue(struct store_txn *txn, int kind, const char *subject,
    const char *description, int64_t expires_in_s, struct api_token *t,
    struct vm_error *err)
{
	memset(t, 0, sizeof(*t));
	uuid_new(t->id);
	t->kind = kind;
	str_copy(t->subject, sizeof(t->subject), subject);
	if (description != NULL)
		str_copy(t->description, sizeof(t->description), description);
	t->created_at = now_ms();
	if (expires_in_s > 0)
		t->expires_at = t->created_at + expires_in_s * 1000;
	auth_token_new(t->secret, t->hash);
	return auth_token_put(txn, t, err);
}

struct token_walk {
	const char *subject;	/* only this subject's; NULL = all */
	int kind;		/* -1 = any */
	json_object *items;	/* list mode */
	struct store_txn *txn;	/* revoke mode */
	size_t n;
};

static int
token_walk_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct token_walk *w = arg;
	struct api_token t;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_token_schema, val, vlen, &t, API_STORED,
	    err) < 0)
		return -1;
	if (w->subject != NULL && strcmp(t.subject, w->subject) != 0)
		return 0;
	if (w->kind >= 0 && t.kind != w->kind)
		return 0;
	if (w->items != NULL) {
		json_object_array_add(w->items, token_json(&t));
	} else if (t.revoked_at == 0) {
		t.revoked_at = now_ms();
		if (store_put_obj(w->txn, DB_TOKENS, t.id, &api_token_schema,
		    &t, 0, err) < 0)
			return -1;
	}
	w->n++;
	return 0;
}

/* Live (not revoked, not expired) user tokens of subject: w->n. */
static int
token_live_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct token_walk *w = arg;
	struct api_token t;
	int64_t now = now_ms();

	(void)key;
	(void)klen;
	if (api_decode_text(&api_token_schema, val, vlen, &t, API_STORED,
	    err) < 0)
		return -1;
	if (t.kind == TOKEN_USER && strcmp(t.subject, w->subject) == 0 &&
	    t.revoked_at == 0 && (t.expires_at == 0 || t.expires_at > now))
		w->n++;
	return 0;
}

/* Revoke every live token of (kind, subject) in txn. */
int
svc_tokens_revoke_all(struct store_txn *txn, int kind, const char *subject,
    struct vm_error *err)
{
	struct token_walk w = { subject, kind, NULL, txn, 0 };

	return store_iter(txn, DB_TOKENS, NULL, token_walk_cb, &w, err);
}

int
svc_token_list(struct req *req, struct resp *resp)
{
	struct token_walk w = { NULL, -1, NULL, NULL, 0 };
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	const char *user = req_query(req, "user");

	if (!is_admin(req)) {
		if (user != NULL && strcmp(user, req->who.name) != 0) {
			vm_error_set(&err, API_EFORBIDDEN,
			    "only an admin may list another user's tokens");
			goto fail;
		}
		w.subject = req->who.name;
		w.kind = TOKEN_USER;
	} else if (user != NULL) {
		w.subject = user;
		w.kind = TOKEN_USER;
	}
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	w.items = json_object_new_array();
	if (store_iter(txn, DB_TOKENS, NULL, token_walk_cb, &w, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, svc_list_envelope(w.items, NULL));
	return HANDLER_DONE;
fail:
	json_object_put(w.items);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_token_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_token in, t;
	struct api_user u;
	struct token_walk live = { NULL, TOKEN_USER, NULL, NULL, 0 };
	const char *subject = req->who.name;
	int rc;

	if (req->body_len == 0) {
		memset(&in, 0, sizeof(in));
	} else if (svc_body(req, &api_token_schema, &in, &err) < 0) {
		goto fail;
	}
	if (req->who.kind != AUTH_USER) {
		vm_error_set(&err, API_EFORBIDDEN, "hosts cannot make tokens");
		goto fail;
	}
	if (in.user[0] != '\0' && strcmp(in.user, req->who.name) != 0) {
		if (!is_admin(req)) {
			vm_error_set(&err, API_EFORBIDDEN,
			    "only an admin may make a token for another user");
			goto fail;
		}
		subject = in.user;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_get_obj(txn, DB_USERS, subject, &api_user_schema, &u, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_EINVAL, "token.user: no user '%s'",
		    subject);
		goto fail;
	}
	/* Each token is a credential and a rate-limit burst: bounded. */
	live.subject = subject;
	if (store_iter(txn, DB_TOKENS, NULL, token_live_cb, &live, &err) < 0)
		goto fail;
	if ((int64_t)live.n >= req->ctl->cfg.max_tokens_per_user) {
		vm_error_set(&err, API_ECONFLICT, "user %s already has %zu live "
		    "tokens (limits.max_tokens_per_user = %lld): revoke one "
		    "first (vmctl token list; vmctl token revoke ID)", subject,
		    live.n, (long long)req->ctl->cfg.max_tokens_per_user);
		goto fail;
	}
	if (svc_token_issue(txn, TOKEN_USER, subject, in.description,
	    in.expires_in_s, &t, &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 201, &err, "token %s of user %s", t.id,
	    subject) < 0) {
		txn = NULL;
		goto fail;
	}
	log_info("token %s made for user %s by %s", t.id, subject,
	    req->who.name);
	resp_json(resp, 201, token_json(&t));
	memset(t.secret, 0, sizeof(t.secret));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_token_revoke(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_token t;
	int rc;

	if (!uuid_valid(req->params[0])) {
		vm_error_set(&err, API_EINVAL, "'%.64s' is not a token id",
		    req->params[0]);
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_get_obj(txn, DB_TOKENS, req->params[0], &api_token_schema,
	    &t, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1 || (!is_admin(req) && (t.kind != TOKEN_USER ||
	    strcmp(t.subject, req->who.name) != 0))) {
		vm_error_set(&err, API_ENOTFOUND, "token %s not found",
		    req->params[0]);
		goto fail;
	}
	if (t.revoked_at == 0) {
		t.revoked_at = now_ms();
		if (store_put_obj(txn, DB_TOKENS, t.id, &api_token_schema, &t,
		    0, &err) < 0)
			goto fail;
	}
	if (svc_commit(req, txn, 200, &err, "token %s of %s", t.id,
	    t.subject) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 200, token_json(&t));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ users */

/* May the caller manage user u (same agency for agency-admins)? */
static int
user_manage_ok(const struct req *req, const struct api_user *u,
    struct vm_error *err)
{
	if (req->who.scope == SCOPE_ALL)
		return 0;
	if (u->role == ROLE_ADMIN || u->role == ROLE_OPERATOR ||
	    u->agency[0] == '\0') {
		vm_error_set(err, API_EFORBIDDEN,
		    "an agency-admin manages users of its own agency only");
		return -1;
	}
	if (strcmp(u->agency, req->who.agency) != 0) {
		vm_error_set(err, API_EFORBIDDEN,
		    "an agency-admin manages users of its own agency only");
		return -1;
	}
	return 0;
}

int
svc_user_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_user u;
	json_object *o = NULL, *role = NULL;
	char *row = NULL;
	int rc;

	if (req->body_len == 0) {
		vm_error_set(&err, API_EMALFORMED, "a JSON body is required");
		goto fail;
	}
	/* An agency-admin's users are in its agency unless it says so. */
	o = json_parse(req->body, req->body_len, API_EMALFORMED, &err);
	if (o == NULL)
		goto fail;
	/* A role above the caller's is refused as such (403), before the
	 * agency filled in below makes it an invalid combination (400). */
	if (req->who.scope != SCOPE_ALL &&
	    json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "role", &role) &&
	    json_object_is_type(role, json_type_string) &&
	    (strcmp(json_object_get_string(role), "admin") == 0 ||
	    strcmp(json_object_get_string(role), "operator") == 0)) {
		vm_error_set(&err, API_EFORBIDDEN,
		    "an agency-admin manages users of its own agency only");
		goto fail;
	}
	if (req->who.scope != SCOPE_ALL &&
	    json_object_is_type(o, json_type_object) &&
	    !json_object_object_get_ex(o, "agency", NULL))
		json_object_object_add(o, "agency",
		    json_object_new_string(req->who.agency));
	if (api_decode(&api_user_schema, o, &u, API_INPUT, &err) < 0)
		goto fail;
	if (user_manage_ok(req, &u, &err) < 0)
		goto fail;
	u.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	if (u.agency[0] != '\0') {
		rc = store_get(txn, DB_AGENCIES, u.agency, &row, NULL, &err);
		if (rc < 0)
			goto fail;
		if (rc == 1) {
			vm_error_set(&err, API_EINVAL,
			    "user.agency: no agency '%s'", u.agency);
			goto fail;
		}
	}
	rc = store_put_obj(txn, DB_USERS, u.name, &api_user_schema, &u,
	    STORE_NOOVERWRITE, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		/* User names are global login names: an agency-admin
		 * learns only that the name is taken, never where
		 * (docs/decisions.md). */
		if (req->who.scope == SCOPE_ALL)
			vm_error_set(&err, API_ECONFLICT,
			    "user '%s' already exists", u.name);
		else
			vm_error_set(&err, API_ECONFLICT, "user name '%s' is "
			    "not available (user names are unique in the whole "
			    "cloud): choose another", u.name);
		goto fail;
	}
	if (u.agency[0] != '\0' && store_put(txn, DB_USERS_BY_AGENCY, u.agency,
	    u.name, strlen(u.name), 0, &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 201, &err, "user %s", u.name) < 0) {
		txn = NULL;
		goto fail;
	}
	free(row);
	json_object_put(o);
	resp_json(resp, 201, api_encode(&api_user_schema, &u));
	return HANDLER_DONE;
fail:
	free(row);
	json_object_put(o);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

static bool
user_keep(const struct req *req, const void *obj)
{
	const struct api_user *u = obj;
	const char *agency = req_query(req, "agency");

	return auth_scope_ok(&req->who, u->agency) &&
	    (agency == NULL || strcmp(u->agency, agency) == 0);
}

int
svc_user_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_USERS, &api_user_schema, NULL,
	    user_keep);
}

/* Load user params[0] within the caller's scope (404 otherwise). */
static int
user_load(struct req *req, struct store_txn *txn, struct api_user *u,
    struct vm_error *err)
{
	int rc = store_get_obj(txn, DB_USERS, req->params[0], &api_user_schema,
	    u, err);

	if (rc < 0)
		return -1;
	if (rc == 1 || !auth_scope_ok(&req->who, u->agency)) {
		vm_error_set(err, API_ENOTFOUND, "user '%.64s' not found",
		    req->params[0]);
		return -1;
	}
	return 0;
}

int
svc_user_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_user u;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    user_load(req, txn, &u, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_user_schema, &u));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_user_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_user u;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    user_load(req, txn, &u, &err) < 0 ||
	    user_manage_ok(req, &u, &err) < 0)
		goto fail;
	if (strcmp(u.name, req->who.name) == 0) {
		vm_error_set(&err, API_ECONFLICT,
		    "you cannot delete yourself: ask another admin");
		goto fail;
	}
	if (store_del(txn, DB_USERS, u.name, NULL, &err) < 0 ||
	    (u.agency[0] != '\0' && store_del(txn, DB_USERS_BY_AGENCY,
	    u.agency, u.name, &err) < 0) ||
	    svc_tokens_revoke_all(txn, TOKEN_USER, u.name, &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 204, &err, "user %s", u.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 204, NULL);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ hosts */

/* {"host": h, "token": secret} */
static json_object *
host_token_body(const struct ctl *ctl, struct api_host *h,
    const struct api_token *t)
{
	json_object *o = json_object_new_object();

	svc_host_state(ctl, h);
	json_object_object_add(o, "host", api_encode(&api_host_schema, h));
	json_object_object_add(o, "token", json_object_new_string(t->secret));
	json_object_object_add(o, "token_id", json_object_new_string(t->id));
	return o;
}

int
svc_host_enroll(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host_enroll in;
	struct api_host h;
	struct api_token t;
	int rc;

	memset(&t, 0, sizeof(t));
	if (svc_body(req, &api_host_enroll_schema, &in, &err) < 0)
		goto fail;
	memset(&h, 0, sizeof(h));
	str_copy(h.name, sizeof(h.name), in.name);
	str_copy(h.site, sizeof(h.site), in.site);
	str_copy(h.az, sizeof(h.az), in.az);
	str_copy(h.labels, sizeof(h.labels), in.labels);
	str_copy(h.address, sizeof(h.address), in.address);
	h.max_vcpus = in.max_vcpus;	/* 0: the first report (register) */
	h.max_ram_mib = in.max_ram_mib;
	h.max_disk_gib = in.max_disk_gib;
	h.uri_kind = URI_OTHER;
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h,
	    STORE_NOOVERWRITE, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ECONFLICT,
		    "host '%s' is already enrolled (a new token: POST "
		    "/v1/hosts/%s/token)", h.name, h.name);
		goto fail;
	}
	if (svc_token_issue(txn, TOKEN_HOST, h.name, "host credential", 0, &t,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 201, &err, "host %s", h.name) < 0) {
		txn = NULL;
		goto fail;
	}
	log_info("host %s: enrolled in site %s by %s", h.name, h.site,
	    req->who.name);
	resp_json(resp, 201, host_token_body(req->ctl, &h, &t));
	memset(t.secret, 0, sizeof(t.secret));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_host_token(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host h;
	struct api_token t;
	int rc;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = svc_host_load(txn, req->params[0], &h, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND, "host '%.64s' not found",
		    req->params[0]);
		goto fail;
	}
	if (svc_tokens_revoke_all(txn, TOKEN_HOST, h.name, &err) < 0 ||
	    svc_token_issue(txn, TOKEN_HOST, h.name, "host credential", 0, &t,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 201, &err, "host %s token", h.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 201, host_token_body(req->ctl, &h, &t));
	memset(t.secret, 0, sizeof(t.secret));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_host_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host h;
	int rc;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = svc_host_load(txn, req->params[0], &h, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND, "host '%.64s' not found",
		    req->params[0]);
		goto fail;
	}
	if (h.vms > 0) {
		vm_error_set(&err, API_ECONFLICT,
		    "host %s still has %lld VMs: delete or move them first",
		    h.name, (long long)h.vms);
		goto fail;
	}
	if (store_del(txn, DB_HOSTS, h.name, NULL, &err) < 0 ||
	    svc_tokens_revoke_all(txn, TOKEN_HOST, h.name, &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 204, &err, "host %s", h.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 204, NULL);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
