#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "tags.h"
#include "util.h"

#define IDEM_KEY_MAX 128

/* ------------------------------------------------------------ helpers */

int
svc_vm_lookup_scoped(struct req *req, struct store_txn *txn,
    const char *id_or_name, struct api_vm *vm, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	/* A name is the caller's (or ?agency='s) VM of that name. */
	if (!uuid_valid(id_or_name) && api_name_valid(id_or_name)) {
		rc = svc_name_resolve(req, txn, NAME_VM, id_or_name, key, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			vm_error_set(err, API_ENOTFOUND, "vm '%.64s' not found",
			    id_or_name);
			return -1;
		}
		id_or_name = key;
	}
	if (svc_vm_lookup(txn, id_or_name, vm, err) < 0)
		return -1;
	if (!auth_scope_ok(&req->who, vm->agency)) {
		vm_error_set(err, API_ENOTFOUND, "vm '%.64s' not found",
		    id_or_name);
		return -1;
	}
	return 0;
}

int
svc_vm_lookup(struct store_txn *txn, const char *id_or_name,
    struct api_vm *vm, struct vm_error *err)
{
	char *id = NULL;
	int rc;

	if (uuid_valid(id_or_name)) {
		rc = store_get_obj(txn, DB_VMS, id_or_name, &api_vm_schema, vm,
		    err);
	} else if (strchr(id_or_name, '/') != NULL) {
		/* A storage key "AGENCY/NAME" (svc_name_resolve). */
		rc = store_get(txn, DB_VMS_BY_NAME, id_or_name, &id, NULL, err);
		if (rc == 0)
			rc = store_get_obj(txn, DB_VMS, id, &api_vm_schema, vm,
			    err);
		free(id);
		if (rc == 1) {
			vm_error_set(err, API_ENOTFOUND, "vm '%.64s' not found",
			    strchr(id_or_name, '/') + 1);
			return -1;
		}
	} else if (api_name_valid(id_or_name)) {
		/* A bare name: the only agency's VM of that name. */
		char key[SVC_KEY_MAX];

		rc = svc_name_any(txn, NAME_VM, id_or_name, key, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			rc = store_get(txn, DB_VMS_BY_NAME, key, &id, NULL,
			    err);
		if (rc == 0)
			rc = store_get_obj(txn, DB_VMS, id, &api_vm_schema, vm,
			    err);
		free(id);
	} else {
		vm_error_set(err, API_EINVAL,
		    "'%.64s' is neither a VM uuid nor a valid VM name",
		    id_or_name);
		return -1;
	}
	if (rc == 1) {
		vm_error_set(err, API_ENOTFOUND, "vm '%.64s' not found",
		    id_or_name);
		return -1;
	}
	return rc;
}

int
svc_vm_name_put(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	char key[SVC_KEY_MAX];

	svc_name_key(vm->agency, vm->name, key);
	if (store_put(txn, DB_VMS_BY_NAME, key, vm->id, strlen(vm->id), 0,
	    err) < 0)
		return -1;
	return svc_name_add(txn, NAME_VM, vm->agency, vm->name, err);
}

int
svc_vm_name_del(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	return svc_name_remove(txn, NAME_VM, vm->agency, vm->name, err);
}

int
svc_vm_save(struct store_txn *txn, struct api_vm *vm, struct vm_error *err)
{
	vm->updated_at = now_ms();
	if (svc_history_note(txn, vm, err) < 0)
		return -1;
	return store_put_obj(txn, DB_VMS, vm->id, &api_vm_schema, vm, 0, err);
}

int
svc_op_save(struct store_txn *txn, struct api_operation *op,
    struct vm_error *err)
{
	op->updated_at = now_ms();
	return store_put_obj(txn, DB_OPS, op->id, &api_operation_schema, op, 0,
	    err);
}

int
svc_vm_remove(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	struct api_host h;
	int rc;

	if (store_del(txn, DB_VMS, vm->id, NULL, err) < 0 ||
	    svc_history_drop(txn, vm->id, err) < 0 ||
	    svc_console_drop(txn, vm->id, err) < 0 ||
	    svc_placement_del(txn, vm->id, err) < 0 ||
	    svc_net_free(txn, vm, err) < 0 ||
	    svc_cloudinit_del(txn, vm->id, err) < 0 ||
	    svc_volume_vm_gone(txn, vm->id, err) < 0 ||
	    svc_vm_name_del(txn, vm, err) < 0 ||
	    store_del(txn, DB_VMS_BY_FLAVOR, vm->flavor, vm->id, err) < 0 ||
	    svc_image_unuse(txn, vm, err) < 0)
		return -1;
	if (vm->agency[0] != '\0') {
		struct api_quota d;

		memset(&d, 0, sizeof(d));
		d.instances = -1;
		d.vcpus = -vm->vcpus;
		d.ram_mib = -vm->ram_mib;
		d.disk_gib = -vm->disk_gib;
		if (store_del(txn, DB_VMS_BY_AGENCY, vm->agency, vm->id,
		    err) < 0 ||
		    svc_quota_claim(txn, vm->agency, &d, err) < 0 ||
		    svc_lifetime_end(txn, vm->id, err) < 0)
			return -1;
	}
	if (vm->migrate_to[0] != '\0') {
		rc = svc_host_load(txn, vm->migrate_to, &h, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			h.alloc_vcpus -= vm->vcpus;
			h.alloc_ram_mib -= vm->ram_mib;
			h.alloc_disk_gib -= vm->disk_gib;
			if (store_put_obj(txn, DB_HOSTS, h.name,
			    &api_host_schema, &h, 0, err) < 0)
				return -1;
		}
	}
	if (vm->host[0] == '\0')
		return 0;
	if (store_del(txn, DB_VMS_BY_HOST, vm->host, vm->id, err) < 0)
		return -1;
	rc = svc_host_load(txn, vm->host, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	h.alloc_vcpus -= vm->vcpus;
	h.alloc_ram_mib -= vm->ram_mib;
	h.alloc_disk_gib -= vm->disk_gib;
	h.vms--;
	if (h.alloc_vcpus < 0 || h.alloc_ram_mib < 0 || h.alloc_disk_gib < 0 ||
	    h.vms < 0) {
		log_warnx("host %s: allocation went negative releasing vm %s; "
		    "clamped", h.name, vm->id);
		h.alloc_vcpus = h.alloc_vcpus < 0 ? 0 : h.alloc_vcpus;
		h.alloc_ram_mib = h.alloc_ram_mib < 0 ? 0 : h.alloc_ram_mib;
		h.alloc_disk_gib = h.alloc_disk_gib < 0 ? 0 : h.alloc_disk_gib;
		h.vms = h.vms < 0 ? 0 : h.vms;
	}
	return store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    err);
}

/* New operation + task for vm, both written in txn. */
static int
vm_enqueue(struct store_txn *txn, struct api_vm *vm, int action,
    const struct api_vm_action_req *areq, struct api_operation *op,
    struct vm_error *err)
{
	struct api_task t;
	uint64_t seq;
	char idx[64];

	memset(op, 0, sizeof(*op));
	uuid_new(op->id);
	str_copy(op->vm_id, sizeof(op->vm_id), vm->id);
	str_copy(op->vm_name, sizeof(op->vm_name), vm->name);
	str_copy(op->agency, sizeof(op->agency), vm->agency);
	str_copy(op->host, sizeof(op->host), vm->host);
	op->action = action;
	op->state = OP_PENDING;
	op->created_at = now_ms();
	if (svc_op_save(txn, op, err) < 0)
		return -1;
	if (store_seq_next(txn, "ops", &seq, err) < 0)
		return -1;
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", seq, op->id);
	if (store_put(txn, DB_OPS_BY_VM, vm->id, idx, strlen(idx), 0, err) < 0)
		return -1;

	memset(&t, 0, sizeof(t));
	uuid_new(t.id);
	str_copy(t.op_id, sizeof(t.op_id), op->id);
	str_copy(t.vm_id, sizeof(t.vm_id), vm->id);
	str_copy(t.vm_name, sizeof(t.vm_name), vm->name);
	str_copy(t.host, sizeof(t.host), vm->host);
	t.generation = vm->generation;
	t.action = action;
	t.vcpus = vm->vcpus;
	t.ram_mib = vm->ram_mib;
	t.disk_gib = vm->disk_gib;
	t.image = vm->image;
	t.on_crash = vm->on_crash;
	/*
	 * The actions that leave the VM running carry everything a create
	 * needs: an agent that finds the domain gone re-creates it from the
	 * task (issue 8 item 23) instead of failing for good.
	 */
	if ((action == OPA_CREATE || action == OPA_START ||
	    action == OPA_REBOOT || action == OPA_RESUME) &&
	    (svc_net_task_nics(txn, vm, &t, err) < 0 ||
	    svc_cloudinit_task(txn, vm->id, &t, err) < 0))
		return -1;
	if (areq != NULL) {
		t.stop_timeout_s = areq->timeout_s;
		t.force = areq->force;
	}
	if (action == OPA_MIGRATE && svc_migrate_task(txn, vm, &t, err) < 0)
		return -1;
	if (action == OPA_REBUILD)
		t.start = vm->desired == DESIRED_RUNNING;
	t.state = TASK_QUEUED;
	t.created_at = now_ms();
	if (store_seq_next(txn, "tasks", &seq, err) < 0)
		return -1;
	t.seq = (int64_t)seq;
	if (store_put_obj(txn, DB_TASKS, t.id, &api_task_schema, &t, 0,
	    err) < 0)
		return -1;
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", seq, t.id);
	if (store_put(txn, DB_TASKS_BY_HOST, t.host, idx, strlen(idx), 0,
	    err) < 0)
		return -1;
	str_copy(vm->last_op, sizeof(vm->last_op), op->id);
	return 0;
}

int
svc_vm_enqueue(struct store_txn *txn, struct api_vm *vm, int action,
    struct api_operation *op, struct vm_error *err)
{
	return vm_enqueue(txn, vm, action, NULL, op, err);
}

/* {"operation": op, "vm": vm} */
static json_object *
accepted_body(const struct api_operation *op, const struct api_vm *vm)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "operation",
	    api_encode(&api_operation_schema, op));
	json_object_object_add(o, "vm", api_encode(&api_vm_schema, vm));
	return o;
}

/*
 * Idempotency-Key support. A stored answer is replayed only to the same
 * principal (user and agency) for the same method and path, and only for
 * the same request: the row keeps a SHA-256 of method, path and body, and
 * a key reused with another request is refused (409). Rows expire after
 * limits.idempotency_ttl_s; idem_prune() removes expired rows a few at a
 * time on every save (bounded work per request). Store key:
 * "USER/AGENCY/METHOD PATH KEY" (user and agency names have no '/').
 */
struct idem {
	char *key;		/* owned; NULL = no Idempotency-Key header */
	char hash[65];		/* sha256 hex of method, path and body */
};

static void
idem_free(struct idem *im)
{
	free(im->key);
	im->key = NULL;
}

static int
idem_key(struct req *req, struct idem *im, struct vm_error *err)
{
	const char *k = req_header(req, "Idempotency-Key");
	unsigned char md[32];
	struct buf b = { NULL, 0, 0 };
	size_t i, n;

	im->key = NULL;
	im->hash[0] = '\0';
	if (k == NULL)
		return 0;
	n = strlen(k);
	if (n == 0 || n > IDEM_KEY_MAX) {
		vm_error_set(err, API_EINVAL,
		    "Idempotency-Key: must be 1 to %d characters",
		    IDEM_KEY_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (k[i] < 0x21 || k[i] > 0x7e) {
			vm_error_set(err, API_EINVAL,
			    "Idempotency-Key: printable ASCII only");
			return -1;
		}
	}
	im->key = xasprintf("%s/%s/%s %s %s", req->who.name, req->who.agency,
	    req->method, req->path, k);
	if (strlen(im->key) > 500) {
		idem_free(im);
		vm_error_set(err, API_EINVAL, "Idempotency-Key: too long");
		return -1;
	}
	buf_printf(&b, "%s\n%s\n", req->method, req->path);
	buf_append(&b, req->body, req->body_len);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, b.data, b.len, md) < 0)
		fatalx("gnutls_hash_fast failed");
	buf_free(&b);
	for (i = 0; i < sizeof(md); i++)
		snprintf(im->hash + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Up to IDEM_PRUNE_MAX rows after the meta cursor "idem_prune". */
#define IDEM_PRUNE_MAX 16
struct idem_prune_ctx {
	int64_t cutoff;
	size_t seen, nold;
	char *old[IDEM_PRUNE_MAX];	/* owned keys to delete */
	char *last;			/* owned; last key seen */
};

static int
idem_prune_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct idem_prune_ctx *c = arg;
	json_object *o;
	struct vm_error ignore = { 0, "" };

	(void)err;
	free(c->last);
	c->last = xstrndup(key, klen);
	o = json_parse(val, vlen, API_EINTERNAL, &ignore);
	if (o == NULL || json_get_int(o, "at", 0) < c->cutoff)
		c->old[c->nold++] = xstrdup(c->last);
	json_object_put(o);
	return ++c->seen == IDEM_PRUNE_MAX ? 1 : 0;
}

static int
idem_prune(struct req *req, struct store_txn *txn, struct vm_error *err)
{
	struct idem_prune_ctx c;
	char *after = NULL;
	size_t i;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.cutoff = now_ms() - req->ctl->cfg.idem_ttl_s * 1000;
	if (store_get(txn, DB_META, "idem_prune", &after, NULL, err) < 0)
		goto cleanup;
	if (store_iter(txn, DB_IDEMPOTENCY, after, idem_prune_cb, &c,
	    err) < 0)
		goto cleanup;
	for (i = 0; i < c.nold; i++)
		if (store_del(txn, DB_IDEMPOTENCY, c.old[i], NULL, err) < 0)
			goto cleanup;
	/* Past the end: start again from the first key next time. */
	if (c.seen < IDEM_PRUNE_MAX || c.last == NULL)
		rc = store_del(txn, DB_META, "idem_prune", NULL, err) < 0 ?
		    -1 : 0;
	else
		rc = store_put(txn, DB_META, "idem_prune", c.last,
		    strlen(c.last), 0, err) < 0 ? -1 : 0;
cleanup:
	for (i = 0; i < c.nold; i++)
		free(c.old[i]);
	free(c.last);
	free(after);
	return rc;
}

static int
idem_check(struct req *req, struct store_txn *txn, const struct idem *im,
    struct resp *resp, struct vm_error *err)
{
	json_object *o = NULL, *body = NULL;
	const char *req_hash;
	char *val = NULL;
	size_t len = 0;
	int rc;

	if (im->key == NULL)
		return 0;
	rc = store_get(txn, DB_IDEMPOTENCY, im->key, &val, &len, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	o = json_parse(val, len, API_EINTERNAL, err);
	free(val);
	if (o == NULL)
		return -1;
	/* Expired (pruning lags): as if absent; the new answer replaces it. */
	if (json_get_int(o, "at", 0) <
	    now_ms() - req->ctl->cfg.idem_ttl_s * 1000) {
		json_object_put(o);
		return 0;
	}
	req_hash = json_get_str(o, "request");
	if (req_hash == NULL || strcmp(req_hash, im->hash) != 0) {
		json_object_put(o);
		vm_error_set(err, API_ECONFLICT, "Idempotency-Key: reused with "
		    "a different request (a key names one request for %lld s)",
		    (long long)req->ctl->cfg.idem_ttl_s);
		return -1;
	}
	if (json_object_object_get_ex(o, "body", &body))
		json_object_get(body);
	resp_json(resp, (int)json_get_int(o, "status", 200), body);
	json_object_put(o);
	return 1;
}

static int
idem_save(struct req *req, struct store_txn *txn, const struct idem *im,
    int status, json_object *body, struct vm_error *err)
{
	json_object *o;
	char *text;
	int rc;

	if (im->key == NULL)
		return 0;
	if (idem_prune(req, txn, err) < 0)
		return -1;
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_int(status));
	json_object_object_add(o, "request", json_object_new_string(im->hash));
	json_object_object_add(o, "at", json_object_new_int64(now_ms()));
	json_object_object_add(o, "body", json_object_get(body));
	text = json_dump(o);
	rc = store_put(txn, DB_IDEMPOTENCY, im->key, text, strlen(text), 0,
	    err);
	free(text);
	json_object_put(o);
	return rc;
}

/* ------------------------------------------------------------ create */

int
svc_vm_create(struct req *req, struct resp *resp)
{
	struct sched_snap snap;
	struct sched_result res = { -1, NULL, 0 };
	struct sched_request sreq;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_flavor fl;
	struct api_operation op;
	struct api_host *h;
	struct api_vm vm;
	struct api_cloudinit *ci = NULL;
	json_object *body = NULL;
	struct idem idem = { NULL, "" };
	int64_t t_sched[2];
	int rc;

	memset(&snap, 0, sizeof(snap));

	if (svc_vm_body(req, &vm, &ci, &err) < 0 ||
	    idem_key(req, &idem, &err) < 0)
		goto fail;
	if (uuid_valid(vm.name)) {
		vm_error_set(&err, API_EINVAL,
		    "vm.name: must not look like a uuid");
		goto fail;
	}
	/* Tags in their stored form: keys sorted. */
	if (api_tags_apply("", vm.tags, "", vm.tags, sizeof(vm.tags),
	    &err) < 0)
		goto fail;
	if (req->who.scope == SCOPE_OWN) {
		if (vm.agency[0] != '\0' &&
		    strcmp(vm.agency, req->who.agency) != 0) {
			vm_error_set(&err, API_EFORBIDDEN,
			    "vm.agency: you may create VMs in agency %s only",
			    req->who.agency);
			goto fail;
		}
		str_copy(vm.agency, sizeof(vm.agency), req->who.agency);
	} else if (vm.agency[0] == '\0') {
		vm_error_set(&err, API_EINVAL,
		    "vm.agency: required (the agency that owns the VM)");
		goto fail;
	}
	/* Pinning to a host (co-residency with a chosen neighbour) is an
	 * operator's tool, not an agency's. */
	if (vm.host_hint[0] != '\0' && req->who.scope != SCOPE_ALL) {
		vm_error_set(&err, API_EFORBIDDEN,
		    "vm.host_hint: only an admin or operator may choose the "
		    "host");
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	if ((rc = idem_check(req, txn, &idem, resp, &err)) != 0) {
		if (rc < 0)
			goto fail;
		store_txn_abort(txn);
		idem_free(&idem);
		return HANDLER_DONE;
	}
	/* Names are unique per agency (svc_names.c). */
	if (svc_name_clash(txn, NAME_VM, vm.agency, vm.name, &err) < 0)
		goto fail;
	rc = store_get_obj(txn, DB_FLAVORS, vm.flavor, &api_flavor_schema, &fl,
	    &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_EINVAL,
		    "vm.flavor: flavor '%s' does not exist (see GET /v1/flavors)",
		    vm.flavor);
		goto fail;
	}

	/* Quota, placement and claims, all in this same transaction. */
	{
		struct api_quota d;

		memset(&d, 0, sizeof(d));
		d.instances = 1;
		d.vcpus = fl.vcpus;
		d.ram_mib = fl.ram_mib;
		d.disk_gib = fl.disk_gib;
		if (svc_quota_claim(txn, vm.agency, &d, &err) < 0)
			goto fail;
	}
	/* The image first: its arch and labels are a filter. */
	uuid_new(vm.id);
	if (svc_image_resolve(req, txn, &vm, &err) < 0)
		goto fail;
	t_sched[0] = svc_sched_clock_us();
	if (svc_sched_load(req->ctl, txn, &snap, &err) < 0)
		goto fail;
	svc_sched_request(&vm, &fl, &sreq);
	if (vm.server_group[0] != '\0' && svc_group_prepare(txn,
	    vm.server_group, vm.agency, &snap, &sreq, &err) < 0)
		goto fail;
	t_sched[1] = svc_sched_clock_us();
	rc = sched_place(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, &sreq, &res, &err);
	svc_sched_account(req->ctl, t_sched[0], t_sched[1],
	    svc_sched_clock_us());
	if (rc < 0) {
		svc_sched_error_redact(req, &err);
		goto fail;
	}
	h = &snap.hosts[res.chosen];
	h->alloc_vcpus += fl.vcpus;
	h->alloc_ram_mib += fl.ram_mib;
	h->alloc_disk_gib += fl.disk_gib;
	h->vms++;
	if (store_put_obj(txn, DB_HOSTS, h->name, &api_host_schema, h, 0,
	    &err) < 0)
		goto fail;

	str_copy(vm.host, sizeof(vm.host), h->name);
	vm.vcpus = fl.vcpus;
	vm.ram_mib = fl.ram_mib;
	vm.disk_gib = fl.disk_gib;
	vm.state = VM_PENDING;
	vm.desired = DESIRED_RUNNING;
	vm.generation = 1;
	vm.created_at = now_ms();
	if (svc_net_alloc(req, txn, &vm, &err) < 0 ||
	    svc_cloudinit_put(txn, vm.id, ci, &err) < 0 ||
	    vm_enqueue(txn, &vm, OPA_CREATE, NULL, &op, &err) < 0 ||
	    svc_vm_save(txn, &vm, &err) < 0 ||
	    svc_vm_name_put(txn, &vm, &err) < 0 ||
	    store_put(txn, DB_VMS_BY_HOST, vm.host, vm.id, strlen(vm.id), 0,
	    &err) < 0 ||
	    store_put(txn, DB_VMS_BY_FLAVOR, vm.flavor, vm.id, strlen(vm.id), 0,
	    &err) < 0 ||
	    store_put(txn, DB_VMS_BY_AGENCY, vm.agency, vm.id, strlen(vm.id), 0,
	    &err) < 0 ||
	    svc_lifetime_start(txn, &vm, &err) < 0 ||
	    svc_placement_put(txn, &vm, &err) < 0)
		goto fail;
	body = accepted_body(&op, &vm);
	if (idem_save(req, txn, &idem, 202, body, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), vm.agency);
	rc = svc_commit(req, txn, 202, &err, "vm %s (%s)", vm.name, vm.id);
	txn = NULL;
	if (rc < 0)
		goto fail;
	server_wake(req->ctl->server, vm.host);
	resp_json(resp, 202, body);
	sched_result_free(&res);
	svc_sched_free(&snap);
	idem_free(&idem);
	free(ci);
	return HANDLER_DONE;
fail:
	json_object_put(body);
	store_txn_abort(txn);
	sched_result_free(&res);
	svc_sched_free(&snap);
	idem_free(&idem);
	free(ci);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ read */

int
svc_vm_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_vm vm;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, req->params[0], &vm, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_vm_schema, &vm));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

struct vm_list_ctx {
	const struct principal *who;
	const char *agency;	/* ?agency= filter or NULL */
	struct store_txn *txn;
	json_object *items;
	size_t limit, n;
	char last[API_UUID_LEN];
	bool more;
	bool by_index;		/* values are VM ids */
	const char *after;	/* for index walks */
	struct buf *raw;	/* items as stored, no decode (see below) */
	const char *tag;	/* ?tag=k=v or ?tag=k, or NULL */
};

static int
vm_list_add(struct vm_list_ctx *c, const char *val, size_t vlen,
    struct vm_error *err)
{
	struct api_vm vm;

	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (api_decode_text(&api_vm_schema, val, vlen, &vm, API_STORED,
	    err) < 0)
		return -1;
	str_copy(c->last, sizeof(c->last), vm.id);
	if (!auth_scope_ok(c->who, vm.agency) ||
	    (c->agency != NULL && strcmp(vm.agency, c->agency) != 0) ||
	    (c->tag != NULL && !api_tags_match(vm.tags, c->tag)))
		return 0;
	json_object_array_add(c->items, api_encode(&api_vm_schema, &vm));
	c->n++;
	return 0;
}

static int
vm_list_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct vm_list_ctx *c = arg;
	char id[API_UUID_LEN], *row = NULL;
	size_t len = 0;
	int rc;

	if (c->raw != NULL) {
		/* The stored value is the codec's encoding of the row, the
		 * very text api_encode() would give back: copy it. */
		if (c->n == c->limit) {
			c->more = true;
			return 1;
		}
		if (klen >= sizeof(c->last)) {
			vm_error_set(err, API_EINTERNAL, "store: bad vm key");
			return -1;
		}
		if (c->n > 0)
			buf_append(c->raw, ",", 1);
		buf_append(c->raw, val, vlen);
		memcpy(c->last, key, klen);
		c->last[klen] = '\0';
		c->n++;
		return 0;
	}
	if (!c->by_index)
		return vm_list_add(c, val, vlen, err);
	if (vlen >= sizeof(id))
		return 0;
	memcpy(id, val, vlen);
	id[vlen] = '\0';
	if (c->after != NULL && strcmp(id, c->after) <= 0)
		return 0;
	rc = store_get(c->txn, DB_VMS, id, &row, &len, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	rc = vm_list_add(c, row, len, err);
	free(row);
	return rc;
}

/* ?name= for a caller who sees every agency: the VMs of that name in
 * each agency that has one (names are per agency; DB_NAMES). */
struct vm_named_ctx {
	struct vm_list_ctx *c;
	const char *host, *agency;
};

static int
vm_named_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct vm_named_ctx *nc = arg;
	struct vm_error e = { 0, "" };
	char k[SVC_KEY_MAX];
	struct api_vm vm;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(k))
		return 0;
	memcpy(k, val, vlen);
	k[vlen] = '\0';
	if (svc_vm_lookup(nc->c->txn, k, &vm, &e) < 0) {
		if (e.code == API_ENOTFOUND)
			return 0;
		*err = e;
		return -1;
	}
	if (auth_scope_ok(nc->c->who, vm.agency) &&
	    (nc->host == NULL || strcmp(vm.host, nc->host) == 0) &&
	    (nc->agency == NULL || strcmp(vm.agency, nc->agency) == 0) &&
	    (nc->c->tag == NULL || api_tags_match(vm.tags, nc->c->tag)))
		json_object_array_add(nc->c->items,
		    api_encode(&api_vm_schema, &vm));
	return 0;
}

static int
vm_list_named(struct vm_list_ctx *c, const char *name, const char *host,
    const char *agency, struct vm_error *err)
{
	struct vm_named_ctx nc = { c, host, agency };
	char ik[SVC_KEY_MAX + 16];

	snprintf(ik, sizeof(ik), "vm:%s", name);
	return store_iter_dups(c->txn, DB_NAMES, ik, vm_named_cb, &nc, err);
}

int
svc_vm_list(struct req *req, struct resp *resp)
{
	struct vm_list_ctx c;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	const char *name = req_query(req, "name");
	const char *host = req_query(req, "host");
	const char *agency = req_query(req, "agency");
	const char *after = req_query(req, "after");
	int rc;

	memset(&c, 0, sizeof(c));
	c.who = &req->who;
	c.agency = agency;
	c.tag = req_query(req, "tag");
	if (svc_list_limit(req, &c.limit, &err) < 0)
		goto fail;
	if (c.tag != NULL && !api_tag_query_valid(c.tag)) {
		vm_error_set(&err, API_EINVAL, "tag: key=value or key");
		goto fail;
	}
	if ((name && !api_name_valid(name)) || (host && !api_name_valid(host)) ||
	    (agency && !api_name_valid(agency))) {
		vm_error_set(&err, API_EINVAL,
		    "name/host/agency: not a valid name");
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	c.txn = txn;
	c.items = json_object_new_array();
	if (name != NULL) {
		struct api_vm vm;
		struct vm_error e2 = { 0, "" };

		rc = svc_vm_lookup_scoped(req, txn, name, &vm, &e2);
		if (rc == 0 && (host == NULL || strcmp(vm.host, host) == 0) &&
		    (agency == NULL || strcmp(vm.agency, agency) == 0) &&
		    (c.tag == NULL || api_tags_match(vm.tags, c.tag)))
			json_object_array_add(c.items,
			    api_encode(&api_vm_schema, &vm));
		else if (rc < 0 && e2.code == API_EAMBIGUOUS) {
			/* A list filter: every agency's VM of that name. */
			if (vm_list_named(&c, name, host, agency, &err) < 0)
				goto fail;
		} else if (rc < 0 && e2.code != API_ENOTFOUND) {
			err = e2;
			goto fail;
		}
	} else if (host != NULL || agency != NULL) {
		c.by_index = true;
		c.after = after;
		if (host != NULL && agency != NULL)
			c.agency = agency;
		if (store_iter_dups(txn, host ? DB_VMS_BY_HOST :
		    DB_VMS_BY_AGENCY, host ? host : agency, vm_list_cb, &c,
		    &err) < 0)
			goto fail;
	} else if (req->who.scope == SCOPE_ALL && c.tag == NULL) {
		/* Unfiltered list for a caller who sees every VM: the rows go
		 * out as stored, without a decode and encode per VM (listing
		 * 10,000 VMs is then a copy). */
		struct buf raw = { NULL, 0, 0 };

		json_object_put(c.items);
		c.items = NULL;
		c.raw = &raw;
		buf_printf(&raw, "{\"items\":[");
		if (store_iter(txn, DB_VMS, after, vm_list_cb, &c, &err) < 0) {
			buf_free(&raw);
			goto fail;
		}
		store_txn_abort(txn);
		if (c.more)
			buf_printf(&raw, "],\"next\":\"%s\"}", c.last);
		else
			buf_printf(&raw, "],\"next\":null}");
		resp_text(resp, 200, raw.data, "application/json");
		return HANDLER_DONE;
	} else {
		if (store_iter(txn, DB_VMS, after, vm_list_cb, &c, &err) < 0)
			goto fail;
	}
	store_txn_abort(txn);
	resp_json(resp, 200, svc_list_envelope(c.items, c.more ? c.last :
	    NULL));
	return HANDLER_DONE;
fail:
	json_object_put(c.items);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ changes */

/* Shared body of delete and actions: one write txn. */
static int
vm_change(struct req *req, struct resp *resp, int opa,
    const struct api_vm_action_req *areq)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_operation op;
	struct api_vm vm;
	json_object *body = NULL;
	struct idem idem = { NULL, "" };
	int rc;

	memset(&vm, 0, sizeof(vm));
	if (idem_key(req, &idem, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	if ((rc = idem_check(req, txn, &idem, resp, &err)) != 0) {
		if (rc < 0)
			goto fail;
		store_txn_abort(txn);
		idem_free(&idem);
		return HANDLER_DONE;
	}
	if (svc_vm_lookup_scoped(req, txn, req->params[0], &vm, &err) < 0)
		goto fail;
	if (vm.desired == DESIRED_DELETED) {
		vm_error_set(&err, API_ECONFLICT,
		    "vm %s is being deleted (operation %s)", vm.name,
		    vm.last_op);
		goto fail;
	}
	if (vm.state == VM_MIGRATING || vm.drain_op[0] != '\0') {
		vm_error_set(&err, API_ECONFLICT, "vm %s is %s to host %s "
		    "(operation %s): wait until it ends", vm.name,
		    vm.state == VM_MIGRATING ? "migrating" :
		    "queued for migration by a host drain", vm.migrate_to,
		    vm.state == VM_MIGRATING ? vm.last_op : vm.drain_op);
		goto fail;
	}
	switch (opa) {
	case OPA_START:
		if (vm.state == VM_RUNNING && vm.desired == DESIRED_RUNNING) {
			vm_error_set(&err, API_ECONFLICT,
			    "vm %s is already running", vm.name);
			goto fail;
		}
		vm.desired = DESIRED_RUNNING;
		break;
	case OPA_STOP:
		if (vm.state == VM_STOPPED && vm.desired == DESIRED_STOPPED) {
			vm_error_set(&err, API_ECONFLICT,
			    "vm %s is already stopped", vm.name);
			goto fail;
		}
		vm.desired = DESIRED_STOPPED;
		vm.state = VM_STOPPING;
		break;
	case OPA_REBOOT:
		if (vm.state != VM_RUNNING || vm.desired != DESIRED_RUNNING) {
			vm_error_set(&err, API_ECONFLICT,
			    "vm %s is %s, not running: start it instead",
			    vm.name, api_vm_state_names[vm.state]);
			goto fail;
		}
		break;
	case OPA_DELETE:
		vm.desired = DESIRED_DELETED;
		vm.state = VM_DELETING;
		break;
	case OPA_MIGRATE:
		if (svc_migrate_begin(req->ctl, txn, &vm, areq->host,
		    &err) < 0)
			goto fail;
		break;
	case OPA_PAUSE:
		if (vm.state != VM_RUNNING || vm.desired != DESIRED_RUNNING) {
			vm_error_set(&err, API_ECONFLICT,
			    "vm %s is %s, not running: only a running VM can "
			    "be paused", vm.name, vm.desired == DESIRED_PAUSED ?
			    "paused" : api_vm_state_names[vm.state]);
			goto fail;
		}
		vm.desired = DESIRED_PAUSED;
		break;
	case OPA_RESUME:
		if (vm.state != VM_PAUSED && vm.desired != DESIRED_PAUSED) {
			vm_error_set(&err, API_ECONFLICT,
			    "vm %s is %s, not paused", vm.name,
			    api_vm_state_names[vm.state]);
			goto fail;
		}
		vm.desired = DESIRED_RUNNING;
		break;
	case OPA_REBUILD:
		if (svc_rebuild_begin(req, txn, &vm, areq->image, &err) < 0)
			goto fail;
		break;
	case OPA_RESIZE:
		if (svc_resize_begin(req, txn, &vm, areq->flavor, &err) < 0)
			goto fail;
		break;
	default:
		vm_error_set(&err, API_EINTERNAL, "bad action");
		goto fail;
	}
	vm.generation++;
	if (vm_enqueue(txn, &vm, opa, areq, &op, &err) < 0 ||
	    svc_vm_save(txn, &vm, &err) < 0)
		goto fail;
	body = accepted_body(&op, &vm);
	if (idem_save(req, txn, &idem, 202, body, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), vm.agency);
	rc = svc_commit(req, txn, 202, &err, "vm %s (%s)", vm.name, vm.id);
	txn = NULL;
	if (rc < 0)
		goto fail;
	server_wake(req->ctl->server, vm.host);
	resp_json(resp, 202, body);
	idem_free(&idem);
	return HANDLER_DONE;
fail:
	json_object_put(body);
	store_txn_abort(txn);
	idem_free(&idem);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_vm_delete(struct req *req, struct resp *resp)
{
	return vm_change(req, resp, OPA_DELETE, NULL);
}

int
svc_vm_action(struct req *req, struct resp *resp)
{
	static const int opa_of[] = {
		[ACTION_START] = OPA_START,
		[ACTION_STOP] = OPA_STOP,
		[ACTION_REBOOT] = OPA_REBOOT,
		[ACTION_MIGRATE] = OPA_MIGRATE,
		[ACTION_PAUSE] = OPA_PAUSE,
		[ACTION_RESUME] = OPA_RESUME,
		[ACTION_REBUILD] = OPA_REBUILD,
		[ACTION_RESIZE] = OPA_RESIZE,
	};
	struct api_vm_action_req a;
	struct vm_error err = { 0, "" };

	if (svc_body(req, &api_vm_action_schema, &a, &err) < 0) {
		resp_error(resp, &err);
		return HANDLER_DONE;
	}
	/* Choosing hosts is the operators' business: migrate needs the
	 * right to change hosts (as maintenance does). */
	if (a.action == ACTION_MIGRATE) {
		struct principal who = req->who;

		if (auth_authorize(&who, RES_HOST, ACC_WRITE, &err) < 0) {
			vm_error_set(&err, API_EFORBIDDEN, "migrate: your role "
			    "may not move VMs between hosts (needs write access "
			    "to hosts)");
			resp_error(resp, &err);
			return HANDLER_DONE;
		}
	}
	return vm_change(req, resp, opa_of[a.action], &a);
}

/* ------------------------------------------------------------ operations */

int
svc_op_show(struct req *req, struct resp *resp)
{
	struct vm_error err = { 0, "" };

	if (!uuid_valid(req->params[0])) {
		vm_error_set(&err, API_EINVAL, "'%.64s' is not an operation id",
		    req->params[0]);
		resp_error(resp, &err);
		return HANDLER_DONE;
	}
	{
		struct store_txn *txn = NULL;
		struct api_operation op;
		int rc;

		if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0) {
			resp_error(resp, &err);
			return HANDLER_DONE;
		}
		rc = store_get_obj(txn, DB_OPS, req->params[0],
		    &api_operation_schema, &op, &err);
		store_txn_abort(txn);
		if (rc == 1 || (rc == 0 && !auth_scope_ok(&req->who,
		    op.agency))) {
			vm_error_set(&err, API_ENOTFOUND,
			    "operation %s not found", req->params[0]);
			rc = -1;
		}
		if (rc < 0) {
			resp_error(resp, &err);
			return HANDLER_DONE;
		}
		resp_json(resp, 200, api_encode(&api_operation_schema, &op));
		return HANDLER_DONE;
	}
}

struct op_list_ctx {
	const struct principal *who;
	struct store_txn *txn;
	json_object *items;
	size_t limit, n;
	char last[80];
	bool more;
	bool by_vm;
	const char *after;
};

static int
op_list_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct op_list_ctx *c = arg;
	struct api_operation op;
	char idx[80];
	int rc;

	(void)klen;
	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (c->by_vm) {
		/* val is "SEQ:op-uuid" */
		if (vlen >= sizeof(idx) || vlen < 18)
			return 0;
		memcpy(idx, val, vlen);
		idx[vlen] = '\0';
		if (c->after != NULL && strcmp(idx, c->after) <= 0)
			return 0;
		rc = store_get_obj(c->txn, DB_OPS, idx + 17,
		    &api_operation_schema, &op, err);
		if (rc < 0)
			return -1;
		if (rc == 1)
			return 0;
		str_copy(c->last, sizeof(c->last), idx);
	} else {
		if (api_decode_text(&api_operation_schema, val, vlen, &op,
		    API_STORED, err) < 0)
			return -1;
		(void)key;
		str_copy(c->last, sizeof(c->last), op.id);
	}
	if (!auth_scope_ok(c->who, op.agency))
		return 0;
	json_object_array_add(c->items, api_encode(&api_operation_schema, &op));
	c->n++;
	return 0;
}

int
svc_op_list(struct req *req, struct resp *resp)
{
	struct op_list_ctx c;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	const char *vmq = req_query(req, "vm");

	memset(&c, 0, sizeof(c));
	c.who = &req->who;
	if (svc_list_limit(req, &c.limit, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	c.txn = txn;
	c.items = json_object_new_array();
	if (vmq != NULL) {
		struct api_vm vm;

		if (uuid_valid(vmq)) {
			str_copy(vm.id, sizeof(vm.id), vmq);
		} else if (svc_vm_lookup_scoped(req, txn, vmq, &vm,
		    &err) < 0) {
			goto fail;
		}
		c.by_vm = true;
		c.after = req_query(req, "after");
		if (store_iter_dups(txn, DB_OPS_BY_VM, vm.id, op_list_cb, &c,
		    &err) < 0)
			goto fail;
	} else if (store_iter(txn, DB_OPS, req_query(req, "after"), op_list_cb,
	    &c, &err) < 0) {
		goto fail;
	}
	store_txn_abort(txn);
	resp_json(resp, 200, svc_list_envelope(c.items, c.more ? c.last :
	    NULL));
	return HANDLER_DONE;
fail:
	json_object_put(c.items);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
