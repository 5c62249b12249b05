/*
 * svc_volume: data volumes (/v1/volumes). A volume is a qcow2 file in the
 * agent's volume_dir on one host (local storage): the first attach binds
 * it to the VM's host, and from then on it attaches only to VMs of that
 * host. Attach, detach and the removal of the file are agent tasks queued
 * on that host in the request's transaction; svc_agent.c hands their
 * results to svc_volume_result(). Attach tasks carry the VM's uuid, so
 * they run in order with the VM's own tasks; a file removal carries the
 * volume's uuid in vm_id.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "scheduler.h"
#include "svc.h"
#include "util.h"

static int
vol_save(struct store_txn *txn, struct api_volume *v, struct vm_error *err)
{
	char key[SVC_KEY_MAX];

	v->updated_at = now_ms();
	svc_name_key(v->agency, v->name, key);
	return store_put_obj(txn, DB_VOLUMES, key, &api_volume_schema, v,
	    0, err);
}

/* Remove v's row and its name. */
static int
vol_del(struct store_txn *txn, const struct api_volume *v,
    struct vm_error *err)
{
	return svc_name_remove(txn, NAME_VOLUME, v->agency, v->name, err);
}

/* The volume of a task: its name in whichever agency has that id. */
struct vol_by_id {
	struct store_txn *txn;
	const char *id;
	struct api_volume *v;
	bool found;
};

static int
vol_by_id_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct vol_by_id *b = arg;
	char k[SVC_KEY_MAX];
	int rc;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(k))
		return 0;
	memcpy(k, val, vlen);
	k[vlen] = '\0';
	rc = store_get_obj(b->txn, DB_VOLUMES, k, &api_volume_schema, b->v,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 0 && strcmp(b->v->id, b->id) == 0) {
		b->found = true;
		return 1;
	}
	return 0;
}

static int
vol_get_by_id(struct store_txn *txn, const char *name, const char *id,
    struct api_volume *v, struct vm_error *err)
{
	struct vol_by_id b = { txn, id, v, false };
	char ik[SVC_KEY_MAX + 16];

	snprintf(ik, sizeof(ik), "volume:%s", name);
	if (store_iter_dups(txn, DB_NAMES, ik, vol_by_id_cb, &b, err) < 0)
		return -1;
	return b.found ? 0 : 1;
}

static int
vol_lookup(struct req *req, struct store_txn *txn, const char *name,
    struct api_volume *v, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	rc = svc_name_resolve(req, txn, NAME_VOLUME, name, key, err);
	if (rc == 0)
		rc = store_get_obj(txn, DB_VOLUMES, key, &api_volume_schema,
		    v, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || !auth_scope_ok(&req->who, v->agency)) {
		vm_error_set(err, API_ENOTFOUND, "volume '%.64s' not found",
		    name);
		return -1;
	}
	return 0;
}

/*
 * The agency's share of volume v: sign 1 claims (refused past a limit),
 * -1 releases. A volume counts in `volumes` and its size in `disk_gib`,
 * like a VM's disk.
 */
static int
vol_quota(struct store_txn *txn, const struct api_volume *v, int sign,
    struct vm_error *err)
{
	struct api_quota d;

	memset(&d, 0, sizeof(d));
	d.volumes = sign;
	d.disk_gib = sign * v->size_gib;
	return svc_quota_claim(txn, v->agency, &d, err);
}

/*
 * The host's share of volume v, whose file lives on v->host: sign 1
 * claims its size in the host's alloc_disk_gib (refused with no_capacity
 * past the host's disk under the overcommit ratio, as the scheduler
 * counts it), -1 releases it. The scheduler and N+1 read alloc_disk_gib,
 * so they see the volumes too. Called in the transaction that binds the
 * volume to its host (first attach) and in the one that removes its row
 * (svc_volume_result), so the claim exists exactly while v->host is set.
 */
static int
vol_host_claim(const struct req *req, struct store_txn *txn,
    const struct api_volume *v, int sign, struct vm_error *err)
{
	struct sched_config cfg;
	struct sched_host sh;
	struct api_host h;
	int64_t cv, cr, cd;
	int rc;

	if (v->host[0] == '\0' || v->size_gib <= 0)
		return 0;
	rc = svc_host_load(txn, v->host, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;	/* host gone: nothing to adjust */
	if (sign > 0 && req != NULL) {
		memset(&sh, 0, sizeof(sh));
		sh.disk_gib = h.disk_gib;
		svc_sched_config(req->ctl, &cfg);
		sched_capacity(&cfg, &sh, &cv, &cr, &cd);
		if (h.alloc_disk_gib > cd - v->size_gib) {
			if (req->who.scope == SCOPE_ALL)
				vm_error_set(err, API_ENOROOM, "volume %s: "
				    "%lld GiB do not fit on host %s (disk "
				    "%lld GiB, %lld allocated)", v->name,
				    (long long)v->size_gib, h.name,
				    (long long)cd,
				    (long long)h.alloc_disk_gib);
			else
				vm_error_set(err, API_ENOROOM, "volume %s: "
				    "not enough disk capacity on the VM's "
				    "host for %lld GiB", v->name,
				    (long long)v->size_gib);
			return -1;
		}
	}
	h.alloc_disk_gib += sign * v->size_gib;
	if (h.alloc_disk_gib < 0)
		h.alloc_disk_gib = 0;
	return store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    err);
}

/* Operation + task for volume v (t: vm_id, vm_name, host, action set). */
static int
vol_enqueue(struct store_txn *txn, struct api_volume *v, struct api_task *t,
    struct api_operation *op, struct vm_error *err)
{
	uint64_t seq;
	char idx[64];

	memset(op, 0, sizeof(*op));
	uuid_new(op->id);
	str_copy(op->vm_id, sizeof(op->vm_id), t->vm_id);
	str_copy(op->vm_name, sizeof(op->vm_name), t->vm_name);
	str_copy(op->agency, sizeof(op->agency), v->agency);
	str_copy(op->host, sizeof(op->host), t->host);
	op->action = t->action;
	op->state = OP_PENDING;
	op->created_at = now_ms();
	if (svc_op_save(txn, op, err) < 0 ||
	    store_seq_next(txn, "ops", &seq, err) < 0)
		return -1;
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", seq, op->id);
	if (store_put(txn, DB_OPS_BY_VM, t->vm_id, idx, strlen(idx), 0,
	    err) < 0)
		return -1;

	uuid_new(t->id);
	str_copy(t->op_id, sizeof(t->op_id), op->id);
	str_copy(t->vol_id, sizeof(t->vol_id), v->id);
	str_copy(t->vol_name, sizeof(t->vol_name), v->name);
	t->vol_size_gib = v->size_gib;
	str_copy(t->vol_dev, sizeof(t->vol_dev), v->dev);
	t->state = TASK_QUEUED;
	t->created_at = now_ms();
	if (store_seq_next(txn, "tasks", &seq, err) < 0)
		return -1;
	t->seq = (int64_t)seq;
	if (store_put_obj(txn, DB_TASKS, t->id, &api_task_schema, t, 0,
	    err) < 0)
		return -1;
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", seq, t->id);
	if (store_put(txn, DB_TASKS_BY_HOST, t->host, idx, strlen(idx), 0,
	    err) < 0)
		return -1;
	str_copy(v->last_op, sizeof(v->last_op), op->id);
	return 0;
}

static json_object *
vol_accepted(const struct api_operation *op, const struct api_volume *v)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "operation",
	    api_encode(&api_operation_schema, op));
	json_object_object_add(o, "volume", api_encode(&api_volume_schema, v));
	return o;
}

/* ------------------------------------------------------------ CRUD */

int
svc_volume_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_volume v;
	int rc;

	if (svc_body(req, &api_volume_schema, &v, &err) < 0)
		goto fail;
	if (req->who.scope == SCOPE_OWN) {
		if (v.agency[0] != '\0' &&
		    strcmp(v.agency, req->who.agency) != 0) {
			vm_error_set(&err, API_EFORBIDDEN, "volume.agency: you "
			    "may create volumes in agency %s only",
			    req->who.agency);
			goto fail;
		}
		str_copy(v.agency, sizeof(v.agency), req->who.agency);
	} else if (v.agency[0] == '\0') {
		vm_error_set(&err, API_EINVAL,
		    "volume.agency: required (the agency that owns it)");
		goto fail;
	}
	uuid_new(v.id);
	v.state = VOL_AVAILABLE;
	v.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    vol_quota(txn, &v, 1, &err) < 0)
		goto fail;
	v.updated_at = v.created_at;
	/* Names per agency (svc_names.c). */
	rc = svc_name_clash(txn, NAME_VOLUME, v.agency, v.name, &err) < 0 ||
	    vol_save(txn, &v, &err) < 0 ||
	    svc_name_add(txn, NAME_VOLUME, v.agency, v.name, &err) < 0;
	if (rc != 0) {
		goto fail;
	}
	str_copy(req->audit_agency, sizeof(req->audit_agency), v.agency);
	if (svc_commit(req, txn, 201, &err, "volume %s", v.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 201, api_encode(&api_volume_schema, &v));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

static bool
vol_keep(const struct req *req, const void *obj)
{
	const struct api_volume *v = obj;

	return auth_scope_ok(&req->who, v->agency);
}

int
svc_volume_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_VOLUMES, &api_volume_schema, NULL,
	    vol_keep);
}

int
svc_volume_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_volume v;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    vol_lookup(req, txn, req->params[0], &v, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_volume_schema, &v));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_volume_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_operation op;
	struct api_volume v;
	struct api_task t;
	json_object *body = NULL;
	int rc, status;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    vol_lookup(req, txn, req->params[0], &v, &err) < 0)
		goto fail;
	if (v.vm[0] != '\0' || v.state == VOL_DELETING) {
		vm_error_set(&err, API_ECONFLICT, v.vm[0] != '\0' ?
		    "volume %s is %s to vm %s: detach it first" :
		    "volume %s is being deleted", v.name,
		    v.vm[0] != '\0' ? api_vol_state_names[v.state] : "",
		    v.vm_name);
		goto fail;
	}
	str_copy(req->audit_agency, sizeof(req->audit_agency), v.agency);
	if (v.host[0] == '\0') {
		/* No file anywhere yet: the row goes now. */
		if (vol_del(txn, &v, &err) < 0 ||
		    vol_quota(txn, &v, -1, &err) < 0)
			goto fail;
		status = 204;
	} else {
		memset(&t, 0, sizeof(t));
		str_copy(t.vm_id, sizeof(t.vm_id), v.id);
		str_copy(t.vm_name, sizeof(t.vm_name), v.name);
		str_copy(t.host, sizeof(t.host), v.host);
		t.action = OPA_VOL_DELETE;
		v.state = VOL_DELETING;
		v.error[0] = '\0';
		v.dev[0] = '\0';
		if (vol_enqueue(txn, &v, &t, &op, &err) < 0 ||
		    vol_save(txn, &v, &err) < 0)
			goto fail;
		body = vol_accepted(&op, &v);
		status = 202;
	}
	rc = svc_commit(req, txn, status, &err, "volume %s", v.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	if (status == 202)
		server_wake(req->ctl->server, v.host);
	resp_json(resp, status, body);
	return HANDLER_DONE;
fail:
	json_object_put(body);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ attach */

struct vol_devs {
	struct store_txn *txn;
	bool used[26];
};

static int
vol_devs_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct vol_devs *d = arg;
	char name[SVC_KEY_MAX];
	struct api_volume v;
	int rc;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(name))
		return 0;
	memcpy(name, val, vlen);
	name[vlen] = '\0';
	rc = store_get_obj(d->txn, DB_VOLUMES, name, &api_volume_schema, &v,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 0 && api_vol_dev_valid(v.dev))
		d->used[v.dev[2] - 'a'] = true;
	return 0;
}

int
svc_volume_attach(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_volume_attach a;
	struct api_operation op;
	struct api_volume v;
	struct vol_devs d;
	struct api_task t;
	struct api_vm vm;
	json_object *body = NULL;
	char vkey[SVC_KEY_MAX];
	int rc, i;

	if (svc_body(req, &api_volume_attach_schema, &a, &err) < 0 ||
	    store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    vol_lookup(req, txn, req->params[0], &v, &err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, a.vm, &vm, &err) < 0)
		goto fail;
	if (v.vm[0] != '\0' || (v.state != VOL_AVAILABLE &&
	    v.state != VOL_ERROR)) {
		vm_error_set(&err, API_ECONFLICT, "volume %s is %s%s%s%s",
		    v.name, api_vol_state_names[v.state],
		    v.vm[0] != '\0' ? " (vm " : "", v.vm_name,
		    v.vm[0] != '\0' ? "): detach it first" : "");
		goto fail;
	}
	if (strcmp(vm.agency, v.agency) != 0) {
		vm_error_set(&err, API_ECONFLICT, "volume %s belongs to agency "
		    "%s and vm %s to %s", v.name, v.agency, vm.name, vm.agency);
		goto fail;
	}
	if (vm.desired == DESIRED_DELETED) {
		vm_error_set(&err, API_ECONFLICT, "vm %s is being deleted",
		    vm.name);
		goto fail;
	}
	if (v.host[0] != '\0' && strcmp(v.host, vm.host) != 0) {
		vm_error_set(&err, API_ECONFLICT, "volume %s lives on host %s "
		    "(local storage) and vm %s runs on %s: attach it to a VM "
		    "of host %s", v.name, v.host, vm.name, vm.host, v.host);
		goto fail;
	}
	memset(&d, 0, sizeof(d));
	d.txn = txn;
	if (store_iter_dups(txn, DB_VOLS_BY_VM, vm.id, vol_devs_cb, &d,
	    &err) < 0)
		goto fail;
	for (i = 1; i < 26 && d.used[i]; i++)
		;
	if (i == 26) {
		vm_error_set(&err, API_ECONFLICT, "vm %s has no free disk slot "
		    "(vdb..vdz)", vm.name);
		goto fail;
	}
	snprintf(v.dev, sizeof(v.dev), "vd%c", 'a' + i);
	str_copy(v.vm, sizeof(v.vm), vm.id);
	str_copy(v.vm_name, sizeof(v.vm_name), vm.name);
	if (v.host[0] == '\0') {
		/* First attach: the file will live on the VM's host. */
		str_copy(v.host, sizeof(v.host), vm.host);
		if (vol_host_claim(req, txn, &v, 1, &err) < 0)
			goto fail;
	}
	v.state = VOL_ATTACHING;
	v.error[0] = '\0';
	memset(&t, 0, sizeof(t));
	str_copy(t.vm_id, sizeof(t.vm_id), vm.id);
	str_copy(t.vm_name, sizeof(t.vm_name), vm.name);
	str_copy(t.host, sizeof(t.host), vm.host);
	t.generation = vm.generation;
	t.action = OPA_VOL_ATTACH;
	svc_name_key(v.agency, v.name, vkey);
	if (store_put(txn, DB_VOLS_BY_VM, vm.id, vkey, strlen(vkey), 0,
	    &err) < 0 ||
	    vol_enqueue(txn, &v, &t, &op, &err) < 0 ||
	    vol_save(txn, &v, &err) < 0)
		goto fail;
	body = vol_accepted(&op, &v);
	str_copy(req->audit_agency, sizeof(req->audit_agency), v.agency);
	rc = svc_commit(req, txn, 202, &err, "volume %s to vm %s", v.name,
	    vm.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	server_wake(req->ctl->server, v.host);
	resp_json(resp, 202, body);
	return HANDLER_DONE;
fail:
	json_object_put(body);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_volume_detach(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_operation op;
	struct api_volume v;
	struct api_task t;
	struct api_vm vm;
	json_object *body = NULL;
	int rc;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    vol_lookup(req, txn, req->params[0], &v, &err) < 0)
		goto fail;
	if (v.vm[0] == '\0' || (v.state != VOL_ATTACHED &&
	    v.state != VOL_ERROR)) {
		vm_error_set(&err, API_ECONFLICT, "volume %s is %s%s%s", v.name,
		    v.vm[0] == '\0' ? "not attached" :
		    api_vol_state_names[v.state],
		    v.vm[0] != '\0' ? " to vm " : "", v.vm_name);
		goto fail;
	}
	if (svc_vm_lookup(txn, v.vm, &vm, &err) < 0)
		goto fail;
	memset(&t, 0, sizeof(t));
	str_copy(t.vm_id, sizeof(t.vm_id), vm.id);
	str_copy(t.vm_name, sizeof(t.vm_name), vm.name);
	str_copy(t.host, sizeof(t.host), vm.host);
	t.generation = vm.generation;
	t.action = OPA_VOL_DETACH;
	v.state = VOL_DETACHING;
	v.error[0] = '\0';
	if (vol_enqueue(txn, &v, &t, &op, &err) < 0 ||
	    vol_save(txn, &v, &err) < 0)
		goto fail;
	body = vol_accepted(&op, &v);
	str_copy(req->audit_agency, sizeof(req->audit_agency), v.agency);
	rc = svc_commit(req, txn, 202, &err, "volume %s from vm %s", v.name,
	    vm.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	server_wake(req->ctl->server, v.host);
	resp_json(resp, 202, body);
	return HANDLER_DONE;
fail:
	json_object_put(body);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ results */

/* Forget the attachment of v (row saved by the caller). */
static int
vol_unbind(struct store_txn *txn, struct api_volume *v, struct vm_error *err)
{
	char key[SVC_KEY_MAX];

	svc_name_key(v->agency, v->name, key);
	if (v->vm[0] != '\0' &&
	    store_del(txn, DB_VOLS_BY_VM, v->vm, key, err) < 0)
		return -1;
	v->vm[0] = '\0';
	v->vm_name[0] = '\0';
	v->dev[0] = '\0';
	return 0;
}

int
svc_volume_result(struct store_txn *txn, const struct api_task *t,
    const struct api_task_result *r, struct vm_error *err)
{
	struct api_volume v;
	int rc;

	rc = vol_get_by_id(txn, t->vol_name, t->vol_id, &v, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;	/* gone meanwhile */
	if (!r->ok) {
		v.state = VOL_ERROR;
		snprintf(v.error, sizeof(v.error), "%s failed: %.480s",
		    api_op_action_names[t->action], r->error);
		log_warnx("volume %s: %s", v.name, v.error);
		if (t->action == OPA_VOL_ATTACH && vol_unbind(txn, &v, err) < 0)
			return -1;
		return vol_save(txn, &v, err);
	}
	switch (t->action) {
	case OPA_VOL_ATTACH:
		v.state = VOL_ATTACHED;
		break;
	case OPA_VOL_DETACH:
		v.state = VOL_AVAILABLE;
		if (vol_unbind(txn, &v, err) < 0)
			return -1;
		break;
	case OPA_VOL_DELETE:
		log_info("volume %s: file removed from host %s; deleted",
		    v.name, v.host);
		if (vol_del(txn, &v, err) < 0 ||
		    vol_host_claim(NULL, txn, &v, -1, err) < 0)
			return -1;
		return vol_quota(txn, &v, -1, err);
	default:
		return 0;
	}
	return vol_save(txn, &v, err);
}

struct vol_gone {
	struct store_txn *txn;
	char names[26][SVC_KEY_MAX];
	size_t n;
};

static int
vol_gone_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct vol_gone *g = arg;

	(void)key;
	(void)klen;
	(void)err;
	if (vlen < SVC_KEY_MAX && g->n < ARRAY_SIZE(g->names)) {
		memcpy(g->names[g->n], val, vlen);
		g->names[g->n][vlen] = '\0';
		g->n++;
	}
	return 0;
}

int
svc_volume_vm_gone(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	struct vol_gone *g = xcalloc(1, sizeof(*g));
	struct api_volume v;
	size_t i;
	int rc, ret = -1;

	g->txn = txn;
	if (store_iter_dups(txn, DB_VOLS_BY_VM, vm_id, vol_gone_cb, g,
	    err) < 0)
		goto cleanup;
	for (i = 0; i < g->n; i++) {
		rc = store_get_obj(txn, DB_VOLUMES, g->names[i],
		    &api_volume_schema, &v, err);
		if (rc < 0)
			goto cleanup;
		if (rc == 1 || strcmp(v.vm, vm_id) != 0)
			continue;
		v.vm[0] = '\0';
		v.vm_name[0] = '\0';
		v.dev[0] = '\0';
		v.state = VOL_AVAILABLE;
		if (vol_save(txn, &v, err) < 0)
			goto cleanup;
	}
	if (store_del(txn, DB_VOLS_BY_VM, vm_id, NULL, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(g);
	return ret;
}
