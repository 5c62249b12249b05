/*
 * Server groups (/v1/server-groups): a named set of VMs of one agency
 * placed under one policy. The group row holds its member count; the
 * members themselves are DB_GROUP_MEMBERS (group -> VM uuid), kept with
 * the VM's placement row by svc_placement_put/_del (svc_sched.c), so a
 * create reads only the members of its own group. svc_group_prepare()
 * feeds a group into the scheduler inside the create transaction.
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

static bool
group_keep(const struct req *req, const void *obj)
{
	const struct api_server_group *g = obj;
	const char *ag = req_query(req, "agency");

	if (ag != NULL && strcmp(ag, g->agency) != 0)
		return false;
	return auth_scope_ok(&req->who, g->agency);
}

int
svc_group_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_SERVER_GROUPS,
	    &api_server_group_schema, NULL, group_keep);
}

/* Load group name for the caller: 404 when absent or out of scope. */
static int
group_load_scoped(struct req *req, struct store_txn *txn, const char *name,
    struct api_server_group *g, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	rc = svc_name_resolve(req, txn, NAME_GROUP, name, key, err);
	if (rc == 0)
		rc = store_get_obj(txn, DB_SERVER_GROUPS, key,
		    &api_server_group_schema, g, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || !auth_scope_ok(&req->who, g->agency)) {
		vm_error_set(err, API_ENOTFOUND, "server group '%.64s' not "
		    "found", name);
		return -1;
	}
	return 0;
}

int
svc_group_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_server_group g;
	char *row = NULL, key[SVC_KEY_MAX];
	int rc;

	if (svc_body(req, &api_server_group_schema, &g, &err) < 0)
		goto fail;
	if (req->who.scope == SCOPE_OWN) {
		if (g.agency[0] != '\0' &&
		    strcmp(g.agency, req->who.agency) != 0) {
			vm_error_set(&err, API_EFORBIDDEN, "server_group.agency: "
			    "you may create groups in agency %s only",
			    req->who.agency);
			goto fail;
		}
		str_copy(g.agency, sizeof(g.agency), req->who.agency);
	} else if (g.agency[0] == '\0') {
		vm_error_set(&err, API_EINVAL, "server_group.agency: required "
		    "(the agency whose VMs join the group)");
		goto fail;
	}
	g.members = 0;
	g.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_get(txn, DB_AGENCIES, g.agency, &row, NULL, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_EINVAL, "server_group.agency: no agency "
		    "'%s'", g.agency);
		goto fail;
	}
	/* Names per agency (svc_names.c). */
	svc_name_key(g.agency, g.name, key);
	if (svc_name_clash(txn, NAME_GROUP, g.agency, g.name, &err) < 0 ||
	    store_put_obj(txn, DB_SERVER_GROUPS, key,
	    &api_server_group_schema, &g, 0, &err) < 0 ||
	    svc_name_add(txn, NAME_GROUP, g.agency, g.name, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), g.agency);
	if (svc_commit(req, txn, 201, &err, "server-group %s (%s)", g.name,
	    api_group_policy_names[g.policy]) < 0) {
		txn = NULL;
		goto fail;
	}
	free(row);
	resp_json(resp, 201, api_encode(&api_server_group_schema, &g));
	return HANDLER_DONE;
fail:
	free(row);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

struct show_ctx {
	struct store_txn *txn;
	json_object *members;
};

static int
show_member_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct show_ctx *c = arg;
	struct api_vm vm;
	char id[API_UUID_LEN];
	json_object *o;
	int rc;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(id)) {
		vm_error_set(err, API_EINTERNAL, "store: bad group member");
		return -1;
	}
	memcpy(id, val, vlen);
	id[vlen] = '\0';
	rc = store_get_obj(c->txn, DB_VMS, id, &api_vm_schema, &vm, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(vm.id));
	json_object_object_add(o, "name", json_object_new_string(vm.name));
	json_object_object_add(o, "host", vm.host[0] ?
	    json_object_new_string(vm.host) : NULL);
	json_object_object_add(o, "state",
	    json_object_new_string(api_vm_state_names[vm.state]));
	json_object_array_add(c->members, o);
	return 0;
}

/* GET /v1/server-groups/{name}: the group and its members (VM id, name,
 * host, state). */
int
svc_group_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_server_group g;
	struct show_ctx c = { NULL, NULL };
	char key[SVC_KEY_MAX];
	json_object *o;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    group_load_scoped(req, txn, req->params[0], &g, &err) < 0)
		goto fail;
	c.txn = txn;
	c.members = json_object_new_array();
	svc_name_key(g.agency, g.name, key);
	if (store_iter_dups(txn, DB_GROUP_MEMBERS, key, show_member_cb, &c,
	    &err) < 0)
		goto fail;
	store_txn_abort(txn);
	o = api_encode(&api_server_group_schema, &g);
	json_object_object_add(o, "vms", c.members);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	json_object_put(c.members);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_group_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_server_group g;
	char key[SVC_KEY_MAX];

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    group_load_scoped(req, txn, req->params[0], &g, &err) < 0)
		goto fail;
	if (g.members > 0) {
		vm_error_set(&err, API_ECONFLICT, "server group '%s' has %lld "
		    "member%s: delete them first (vmctl group show %s)", g.name,
		    (long long)g.members, g.members == 1 ? "" : "s", g.name);
		goto fail;
	}
	svc_name_key(g.agency, g.name, key);
	if (store_del(txn, DB_SERVER_GROUPS, key, NULL, &err) < 0 ||
	    store_del(txn, DB_GROUP_MEMBERS, key, NULL, &err) < 0 ||
	    svc_name_del(txn, NAME_GROUP, g.agency, g.name, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), g.agency);
	if (svc_commit(req, txn, 204, &err, "server-group %s", g.name) < 0) {
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

int
svc_group_prepare(struct store_txn *txn, const char *group,
    const char *agency, struct sched_snap *s, struct sched_request *r,
    struct vm_error *err)
{
	struct api_server_group g;
	int rc;

	/* The group of that name in the VM's agency (or, for a dry run
	 * without one, the only agency that has it). */
	if (agency != NULL && agency[0] != '\0') {
		svc_name_key(agency, group, s->group_key);
		rc = 0;
	} else {
		rc = svc_name_any(txn, NAME_GROUP, group, s->group_key, err);
		agency = NULL;
	}
	if (rc == 0)
		rc = store_get_obj(txn, DB_SERVER_GROUPS, s->group_key,
		    &api_server_group_schema, &g, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || (agency != NULL && strcmp(agency, g.agency) != 0)) {
		vm_error_set(err, API_EINVAL, "server_group: no server group "
		    "'%.64s'%s%.64s (see vmctl group list)", group,
		    agency != NULL ? " in agency " : "",
		    agency != NULL ? agency : "");
		return -1;
	}
	if (svc_sched_load_group(txn, s, s->group_key, err) < 0)
		return -1;
	r->server_group = s->group_key;
	r->group_policy = g.policy == GROUP_AFFINITY ? SCHED_GROUP_AFFINITY :
	    g.policy == GROUP_ANTI_AFFINITY ? SCHED_GROUP_ANTI_AFFINITY :
	    SCHED_GROUP_SOFT_ANTI_AFFINITY;
	return 0;
}

int
svc_group_policy(struct store_txn *txn, const char *agency,
    const char *group)
{
	struct api_server_group g;
	struct vm_error err;
	char key[SVC_KEY_MAX];

	if (group == NULL || group[0] == '\0')
		return SCHED_GROUP_NONE;
	svc_name_key(agency, group, key);
	if (store_get_obj(txn, DB_SERVER_GROUPS, key,
	    &api_server_group_schema, &g, &err) != 0)
		return SCHED_GROUP_NONE;
	return g.policy == GROUP_AFFINITY ? SCHED_GROUP_AFFINITY :
	    g.policy == GROUP_ANTI_AFFINITY ? SCHED_GROUP_ANTI_AFFINITY :
	    SCHED_GROUP_SOFT_ANTI_AFFINITY;
}
