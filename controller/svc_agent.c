#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "miguri.h"
#include "svc.h"
#include "util.h"

#define TASKS_MAX_PER_POLL 256

/* ------------------------------------------------------------ register */

void
svc_host_capacity(struct api_host *h)
{
	h->vcpus = h->reported_vcpus;
	h->ram_mib = h->reported_ram_mib;
	h->disk_gib = h->reported_disk_gib;
	if (h->max_vcpus > 0 && h->vcpus > h->max_vcpus)
		h->vcpus = h->max_vcpus;
	if (h->max_ram_mib > 0 && h->ram_mib > h->max_ram_mib)
		h->ram_mib = h->max_ram_mib;
	if (h->max_disk_gib > 0 && h->disk_gib > h->max_disk_gib)
		h->disk_gib = h->max_disk_gib;
}

/*
 * A registering agent is a new life of the host's agent: tasks leased to
 * its previous life (maybe into a long poll whose connection died with
 * it) are queued again at once instead of waiting for their lease.
 */
static int
lease_release_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct store_txn *txn = arg;
	struct api_task t;
	int rc;

	(void)key;
	(void)klen;
	rc = svc_dup_task(txn, val, vlen, &t, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || t.state != TASK_LEASED)
		return 0;
	t.state = TASK_QUEUED;
	t.lease_until = 0;
	log_info("task %s (%s vm %s): lease released, host %s registered "
	    "again", t.id, api_op_action_names[t.action], t.vm_name, t.host);
	return store_put_obj(txn, DB_TASKS, t.id, &api_task_schema, &t, 0,
	    err);
}

int
svc_agent_register(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host in, h;
	const char *names[2];
	int rc;

	if (svc_body(req, &api_host_schema, &in, &err) < 0)
		goto fail;
	if (strcmp(in.name, req->who.name) != 0) {
		vm_error_set(&err, API_EFORBIDDEN,
		    "this credential belongs to host %s, not %s",
		    req->who.name, in.name);
		goto fail;
	}
	if (in.vcpus < 1 || in.ram_mib < 64) {
		vm_error_set(&err, API_EINVAL,
		    "host: at least 1 vCPU and 64 MiB RAM are needed");
		goto fail;
	}
	/* A long poll of the previous life must lease nothing more: end it
	 * before the leases are released below. */
	server_supersede(req->ctl->server, in.name);
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = svc_host_load(txn, in.name, &h, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND,
		    "host %s is not enrolled: vmctl host enroll %s --site %s",
		    in.name, in.name, in.site);
		goto fail;
	}
	/* Migration URIs name this host (its name or enrolled address) over
	 * a secure transport: never a command, a socket or options. */
	names[0] = h.name;
	names[1] = h.address;
	if (api_miguri_check("host.migrate_uri", in.migrate_uri,
	    req->ctl->cfg.hosts_migrate_plain, names, 2, &err) < 0 ||
	    api_migdata_check("host.migrate_listen", in.migrate_listen,
	    names, 2, &err) < 0)
		goto fail;
	/* The site given at enrollment is the truth; the agent's only a hint. */
	if (strcmp(h.site, in.site) != 0)
		log_warnx("host %s: agent says site %s but the host is enrolled "
		    "in site %s; keeping %s (set agent.site = %s)", h.name,
		    in.site, h.site, h.site, h.site);
	/* Capacity: the first report is recorded as the approved ceiling
	 * unless an admin set one; later reports never raise it. */
	if (h.max_vcpus == 0)
		h.max_vcpus = in.vcpus;
	if (h.max_ram_mib == 0)
		h.max_ram_mib = in.ram_mib;
	if (h.max_disk_gib == 0)
		h.max_disk_gib = in.disk_gib;
	if (in.vcpus > h.max_vcpus || in.ram_mib > h.max_ram_mib ||
	    in.disk_gib > h.max_disk_gib)
		log_warnx("host %s: reports %lld vCPUs, %lld MiB, %lld GiB, "
		    "more than approved (%lld, %lld, %lld): capped (an admin "
		    "raises it: PATCH /v1/hosts/%s max_*)", h.name,
		    (long long)in.vcpus, (long long)in.ram_mib,
		    (long long)in.disk_gib, (long long)h.max_vcpus,
		    (long long)h.max_ram_mib, (long long)h.max_disk_gib,
		    h.name);
	if (h.registered_at == 0) {
		h.registered_at = now_ms();
		log_info("host %s: registered (site %s, %s, %lld vCPUs, "
		    "%lld MiB)", h.name, h.site, api_uri_kind_names[in.uri_kind],
		    (long long)in.vcpus, (long long)in.ram_mib);
	}
	h.uri_kind = in.uri_kind;
	str_copy(h.migrate_uri, sizeof(h.migrate_uri), in.migrate_uri);
	str_copy(h.migrate_listen, sizeof(h.migrate_listen), in.migrate_listen);
	str_copy(h.arch, sizeof(h.arch), in.arch);
	h.reported_vcpus = in.vcpus;
	h.reported_ram_mib = in.ram_mib;
	h.reported_disk_gib = in.disk_gib;
	svc_host_capacity(&h);
	h.last_heartbeat = now_ms();
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0 ||
	    store_iter_dups(txn, DB_TASKS_BY_HOST, h.name, lease_release_cb,
	    txn, &err) < 0)
		goto fail;
	rc = svc_commit(req, txn, 200, &err, "host %s", h.name);
	txn = NULL;
	if (rc < 0)
		goto fail;
	svc_host_state(req->ctl, &h);
	resp_json(resp, 200, api_encode(&api_host_schema, &h));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ blobs */

/* Does the image of vm or of a task name blob sha? */
static bool
image_uses(const struct api_image *im, const char *sha)
{
	return strcmp(im->disk_sha256, sha) == 0 ||
	    strcmp(im->kernel_sha256, sha) == 0 ||
	    strcmp(im->initrd_sha256, sha) == 0;
}

struct blob_ctx {
	struct store_txn *txn;
	const char *sha;
	bool found;
};

static int
blob_vm_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct blob_ctx *c = arg;
	struct api_vm vm;
	int rc;

	(void)key;
	(void)klen;
	rc = svc_dup_vm(c->txn, val, vlen, &vm, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && image_uses(&vm.image, c->sha)) {
		c->found = true;
		return 1;
	}
	return 0;
}

static int
blob_task_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct blob_ctx *c = arg;
	struct api_task t;
	int rc;

	(void)key;
	(void)klen;
	rc = svc_dup_task(c->txn, val, vlen, &t, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && t.state != TASK_DONE && image_uses(&t.image, c->sha)) {
		c->found = true;
		return 1;
	}
	return 0;
}

/*
 * May host fetch blob sha (GET /v1/agent/blobs)? Only while a VM placed
 * on it, or a task queued for it (create, rebuild), names the blob as
 * its disk, kernel or initrd (issue 8 item 9). 1 yes, 0 no, -1 error.
 */
int
svc_agent_blob_allowed(struct store *st, const char *host, const char *sha,
    struct vm_error *err)
{
	struct blob_ctx c = { NULL, sha, false };
	int ret = -1;

	if (store_txn_begin(st, false, &c.txn, err) < 0)
		return -1;
	if (store_iter_dups(c.txn, DB_VMS_BY_HOST, host, blob_vm_cb, &c,
	    err) < 0)
		goto cleanup;
	if (!c.found && store_iter_dups(c.txn, DB_TASKS_BY_HOST, host,
	    blob_task_cb, &c, err) < 0)
		goto cleanup;
	ret = c.found ? 1 : 0;
cleanup:
	store_txn_abort(c.txn);
	return ret;
}

/* ------------------------------------------------------------ heartbeat */

/* VM ids with a task in flight on a host (their state is the task's). */
struct busy_set {
	char (*ids)[API_NAME_MAX];	/* VM uuids or host names */
	size_t n, cap;
};

static bool
busy_has(const struct busy_set *b, const char *id)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->ids[i], id) == 0)
			return true;
	return false;
}

static void
busy_add(struct busy_set *b, const char *id)
{
	if (busy_has(b, id))
		return;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->ids = xrealloc(b->ids, b->cap * sizeof(*b->ids));
	}
	str_copy(b->ids[b->n++], API_NAME_MAX, id);
}

struct task_walk {
	struct store_txn *txn;
	struct busy_set busy;
	/* lease mode */
	bool lease;
	int64_t now, lease_ms;
	size_t max;
	struct api_task *out;		/* owned; capout slots */
	size_t nout, capout;
	bool changed;
};

static int
domain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct api_domain *)a)->id,
	    ((const struct api_domain *)b)->id);
}

/*
 * Walk the host's task queue in order. Without lease: collect busy VMs.
 * With lease: also lease deliverable tasks (queued, or lease run out)
 * whose VM has no earlier unfinished task.
 */
static int
task_walk_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct task_walk *w = arg;
	struct api_task t;
	struct api_operation op;
	int rc;

	(void)key;
	(void)klen;
	rc = svc_dup_task(w->txn, val, vlen, &t, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || t.state == TASK_DONE)
		return 0;
	if (!w->lease || busy_has(&w->busy, t.vm_id) || w->nout >= w->max ||
	    (t.state == TASK_LEASED && t.lease_until > w->now)) {
		busy_add(&w->busy, t.vm_id);
		return 0;
	}
	busy_add(&w->busy, t.vm_id);
	t.state = TASK_LEASED;
	t.attempt++;
	t.lease_until = w->now + w->lease_ms +
	    (t.action == OPA_STOP ? ((t.stop_timeout_s ? t.stop_timeout_s :
	    60) + 30) * 1000 : 0) +
	    (t.action == OPA_MIGRATE ? 600 * 1000 : 0);
	if (store_put_obj(w->txn, DB_TASKS, t.id, &api_task_schema, &t, 0,
	    err) < 0)
		return -1;
	if (t.attempt == 1) {
		struct api_vm vm;

		rc = store_get_obj(w->txn, DB_OPS, t.op_id,
		    &api_operation_schema, &op, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && op.state == OP_PENDING) {
			op.state = OP_RUNNING;
			if (svc_op_save(w->txn, &op, err) < 0)
				return -1;
		}
		if (t.action == OPA_CREATE) {
			rc = store_get_obj(w->txn, DB_VMS, t.vm_id,
			    &api_vm_schema, &vm, err);
			if (rc < 0)
				return -1;
			if (rc == 0 && vm.state == VM_PENDING) {
				vm.state = VM_BUILDING;
				if (svc_vm_save(w->txn, &vm, err) < 0)
					return -1;
			}
		}
	} else {
		log_warnx("task %s (%s vm %s) offered again, attempt %lld",
		    t.id, api_op_action_names[t.action], t.vm_name,
		    (long long)t.attempt);
	}
	if (w->nout == w->capout) {
		w->capout = w->capout ? w->capout * 2 : 4;
		if (w->capout > w->max)
			w->capout = w->max;
		w->out = xrealloc(w->out, w->capout * sizeof(*w->out));
	}
	w->out[w->nout++] = t;
	w->changed = true;
	return 0;
}

/* Observed state of vm from its domain; true when vm changed. */
static bool
reconcile_vm(struct api_vm *vm, const struct api_domain *d, const char *host)
{
	int old = vm->state;

	if (d == NULL) {
		if (vm->state == VM_RUNNING || vm->state == VM_STOPPED ||
		    vm->state == VM_PAUSED || vm->state == VM_CRASHED) {
			vm->state = VM_ERROR;
			snprintf(vm->error, sizeof(vm->error),
			    "domain not found on host %s", host);
		}
		return vm->state != old;
	}
	switch (d->state) {
	case DOM_RUNNING:
		if (vm->state != VM_RUNNING) {
			vm->state = VM_RUNNING;
			vm->error[0] = '\0';
		}
		break;
	case DOM_PAUSED:
		vm->state = VM_PAUSED;
		break;
	case DOM_STOPPED:
	case DOM_CRASHED:
		if (vm->state != VM_STOPPED) {
			vm->state = VM_STOPPED;
			if (vm->desired == DESIRED_RUNNING)
				snprintf(vm->error, sizeof(vm->error),
				    "domain %s without a request on host %s",
				    d->state == DOM_CRASHED ? "crashed" :
				    "stopped", host);
		}
		break;
	default:
		break;
	}
	return vm->state != old;
}

struct hb_ctx {
	struct store_txn *txn;
	const struct api_heartbeat *hb;
	const struct busy_set *busy;
	const struct ctl *ctl;
	bool wake;			/* a task was queued for the host */
};

static int
hb_vm_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct hb_ctx *c = arg;
	struct api_domain probe, *d;
	struct api_vm vm;
	char id[API_UUID_LEN];
	int rc;

	(void)key;
	(void)klen;
	if (vlen != API_UUID_LEN - 1)
		return 0;
	memcpy(id, val, vlen);
	id[vlen] = '\0';
	if (busy_has(c->busy, id))
		return 0;
	rc = store_get_obj(c->txn, DB_VMS, id, &api_vm_schema, &vm, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || vm.state == VM_PENDING || vm.state == VM_BUILDING ||
	    vm.state == VM_DELETING || vm.state == VM_STOPPING ||
	    vm.state == VM_MIGRATING)
		return 0;
	/* Overtaken by a newer observation (a task result): stale. */
	if (c->hb->seq != 0 && c->hb->seq <= vm.obs_seq)
		return 0;
	str_copy(probe.id, sizeof(probe.id), id);
	d = bsearch(&probe, c->hb->domains, c->hb->ndomains,
	    sizeof(*c->hb->domains), domain_cmp);
	if (d == NULL && !c->hb->full)
		return 0;
	if (c->hb->seq > vm.obs_seq)
		vm.obs_seq = c->hb->seq;
	if (d == NULL && (vm.state == VM_RUNNING || vm.state == VM_STOPPED ||
	    vm.state == VM_PAUSED || vm.state == VM_CRASHED))
		return svc_reconcile_vanished(c->ctl, c->txn, &vm,
		    c->hb->host, &c->wake, err);
	if (d != NULL && d->state == DOM_CRASHED)
		return vm.state == VM_CRASHED ? 0 : svc_reconcile_crashed(
		    c->ctl, c->txn, &vm, c->hb->host, &c->wake, err);
	if (reconcile_vm(&vm, d, c->hb->host)) {
		log_info("vm %s (%s): now %s%s%s", vm.name, vm.id,
		    api_vm_state_names[vm.state], vm.error[0] ? ": " : "",
		    vm.error);
		if (svc_vm_save(c->txn, &vm, err) < 0)
			return -1;
		if (vm.desired == DESIRED_RUNNING && (vm.state == VM_STOPPED ||
		    vm.state == VM_PAUSED) && svc_event_add(c->ctl, c->txn,
		    EVENT_STATE_DRIFT, c->hb->host, &vm, NULL, err,
		    "desired running, observed %s without a request",
		    api_dom_state_names[d->state]) < 0)
			return -1;
	}
	return 0;
}

int
svc_agent_heartbeat(struct req *req, struct resp *resp)
{
	struct task_walk w;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_heartbeat hb;
	struct api_host h;
	json_object *o = NULL;
	bool wake = false;
	size_t i;
	int rc;

	memset(&w, 0, sizeof(w));
	memset(&hb, 0, sizeof(hb));
	if (req->body_len == 0) {
		vm_error_set(&err, API_EMALFORMED, "a JSON body is required");
		goto fail;
	}
	o = json_parse(req->body, req->body_len, API_EMALFORMED, &err);
	if (o == NULL || api_heartbeat_decode(o, &hb, &err) < 0)
		goto fail;
	if (strcmp(hb.host, req->who.name) != 0) {
		vm_error_set(&err, API_EFORBIDDEN,
		    "this credential belongs to host %s, not %s",
		    req->who.name, hb.host);
		goto fail;
	}
	qsort(hb.domains, hb.ndomains, sizeof(*hb.domains), domain_cmp);
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = svc_host_load(txn, hb.host, &h, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1 || h.registered_at == 0) {
		vm_error_set(&err, API_ENOTFOUND,
		    "host %s is not registered: register first", hb.host);
		goto fail;
	}
	h.last_heartbeat = now_ms();
	h.domains_running = 0;
	for (i = 0; i < hb.ndomains; i++)
		if (hb.domains[i].state == DOM_RUNNING)
			h.domains_running++;
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0)
		goto fail;
	w.txn = txn;
	if (store_iter_dups(txn, DB_TASKS_BY_HOST, h.name, task_walk_cb, &w,
	    &err) < 0)
		goto fail;
	{
		struct hb_ctx c = { txn, &hb, &w.busy, req->ctl, false };

		if (store_iter_dups(txn, DB_VMS_BY_HOST, h.name, hb_vm_cb, &c,
		    &err) < 0 ||
		    svc_reconcile_unknown(req->ctl, txn, &hb, &err) < 0)
			goto fail;
		wake = c.wake;
	}
	rc = store_txn_commit(txn, &err);
	txn = NULL;
	if (rc < 0)
		goto fail;
	if (wake)
		server_wake(req->ctl->server, h.name);
	json_object_put(o);
	api_heartbeat_free(&hb);
	free(w.busy.ids);
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(true));
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	json_object_put(o);
	api_heartbeat_free(&hb);
	free(w.busy.ids);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ tasks */

int
svc_agent_tasks(struct req *req, struct resp *resp)
{
	struct task_walk w;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	const char *host = req_query(req, "host");
	json_object *o;
	long wait, max;
	int rc;

	memset(&w, 0, sizeof(w));
	if (host == NULL || !api_name_valid(host)) {
		vm_error_set(&err, API_EINVAL,
		    "host: a valid host name is required");
		goto fail;
	}
	if (strcmp(host, req->who.name) != 0) {
		vm_error_set(&err, API_EFORBIDDEN,
		    "this credential belongs to host %s, not %s",
		    req->who.name, host);
		goto fail;
	}
	if (svc_query_int(req, "wait", 0, 0, 3600, &wait, &err) < 0 ||
	    svc_query_int(req, "max", 64, 1, TASKS_MAX_PER_POLL, &max, &err) < 0)
		goto fail;
	/* A longer wait than the controller allows is cut, not refused. */
	if (wait > req->ctl->cfg.long_poll_max_s)
		wait = req->ctl->cfg.long_poll_max_s;
	if (req->superseded) {
		/* A newer poll of this host took over: hand out nothing. */
		resp_json(resp, 200, api_encode_array("items",
		    &api_task_schema, NULL, 0));
		return HANDLER_DONE;
	}
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	w.txn = txn;
	w.lease = true;
	w.now = now_ms();
	w.lease_ms = req->ctl->cfg.lease_s * 1000;
	w.max = (size_t)max;
	w.out = NULL;		/* grown as tasks are leased (big structs) */
	if (store_iter_dups(txn, DB_TASKS_BY_HOST, host, task_walk_cb, &w,
	    &err) < 0)
		goto fail;
	if (w.changed) {
		rc = store_txn_commit(txn, &err);
		txn = NULL;
		if (rc < 0)
			goto fail;
	} else {
		store_txn_abort(txn);
		txn = NULL;
	}
	if (w.nout == 0 && wait > 0 && !req->wait_over) {
		/* Nothing yet: sleep until a task for host or the deadline. */
		if (req->wait_deadline == 0)
			req->wait_deadline = mono_ms() + wait * 1000;
		str_copy(req->wait_key, sizeof(req->wait_key), host);
		free(w.out);
		free(w.busy.ids);
		return HANDLER_WAIT;
	}
	o = api_encode_array("items", &api_task_schema, w.out, w.nout);
	free(w.out);
	free(w.busy.ids);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	free(w.out);
	free(w.busy.ids);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ results */

static int
result_apply(struct store_txn *txn, const struct principal *who,
    const struct api_task_result *r, bool *applied, char host[API_NAME_MAX],
    struct vm_error *err)
{
	struct api_task t;
	struct api_operation op;
	struct api_vm vm;
	char idx[80];
	int rc, vrc;

	*applied = false;
	rc = store_get_obj(txn, DB_TASKS, r->task_id, &api_task_schema, &t,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 1 || t.state == TASK_DONE)
		return 0;	/* unknown or already done: ignore */
	if (strcmp(t.host, who->name) != 0) {
		vm_error_set(err, API_EFORBIDDEN,
		    "task %s belongs to host %s, not %s", t.id, t.host,
		    who->name);
		return -1;
	}
	str_copy(host, API_NAME_MAX, t.host);
	/* The task is finished: drop it from the queue. */
	snprintf(idx, sizeof(idx), "%016" PRIx64 ":%s", (uint64_t)t.seq, t.id);
	if (store_del(txn, DB_TASKS_BY_HOST, t.host, idx, err) < 0 ||
	    store_del(txn, DB_TASKS, t.id, NULL, err) < 0)
		return -1;
	if (t.action == OPA_CONSOLE)
		return 0;	/* a read: the bytes came by /v1/agent/console */
	rc = store_get_obj(txn, DB_OPS, t.op_id, &api_operation_schema, &op,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		op.state = r->ok ? OP_SUCCEEDED : OP_FAILED;
		str_copy(op.error, sizeof(op.error), r->ok ? "" : r->error);
		if (svc_op_save(txn, &op, err) < 0)
			return -1;
	}
	if (t.action == OPA_VOL_ATTACH || t.action == OPA_VOL_DETACH ||
	    t.action == OPA_VOL_DELETE) {
		*applied = true;
		return svc_volume_result(txn, &t, r, err);
	}
	vrc = store_get_obj(txn, DB_VMS, t.vm_id, &api_vm_schema, &vm, err);
	if (vrc < 0)
		return -1;
	*applied = true;
	if (vrc == 1)
		return 0;
	if (r->seq > vm.obs_seq)
		vm.obs_seq = r->seq;
	if (t.action == OPA_MIGRATE)
		return svc_migrate_result(txn, &t, r, &vm, err);
	if (!r->ok) {
		vm.state = VM_ERROR;
		snprintf(vm.error, sizeof(vm.error), "%s failed: %.480s",
		    api_op_action_names[t.action], r->error);
		log_warnx("vm %s (%s): %s", vm.name, vm.id, vm.error);
		return svc_vm_save(txn, &vm, err);
	}
	if (t.action == OPA_DELETE) {
		log_info("vm %s (%s): deleted from host %s", vm.name, vm.id,
		    vm.host);
		return svc_vm_remove(txn, &vm, err);
	}
	/* A newer task for this VM will set its own state. */
	if (vm.generation != t.generation)
		return svc_vm_save(txn, &vm, err);
	vm.error[0] = '\0';
	switch (r->dom_state) {
	case DOM_RUNNING:
		vm.state = VM_RUNNING;
		break;
	case DOM_PAUSED:
		vm.state = VM_PAUSED;
		break;
	case DOM_STOPPED:
	case DOM_CRASHED:
		vm.state = VM_STOPPED;
		break;
	default:
		vm.state = VM_ERROR;
		snprintf(vm.error, sizeof(vm.error),
		    "%s left the domain %s", api_op_action_names[t.action],
		    api_dom_state_names[r->dom_state]);
		break;
	}
	return svc_vm_save(txn, &vm, err);
}

int
svc_agent_results(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_task_result *rs = NULL;
	struct busy_set hosts = { NULL, 0, 0 };
	json_object *o = NULL;
	void *items = NULL;
	size_t i, n = 0, applied = 0;
	int rc;

	if (req->body_len == 0) {
		vm_error_set(&err, API_EMALFORMED, "a JSON body is required");
		goto fail;
	}
	o = json_parse(req->body, req->body_len, API_EMALFORMED, &err);
	if (o == NULL)
		goto fail;
	if (!json_object_is_type(o, json_type_object) ||
	    json_object_object_length(o) != 1) {
		vm_error_set(&err, API_EINVAL,
		    "body: must be {\"results\": [...]}");
		goto fail;
	}
	if (api_decode_array(o, "results", &api_task_result_schema,
	    API_RESULTS_MAX, &items, &n, &err) < 0)
		goto fail;
	rs = items;
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		char host[API_NAME_MAX] = "";
		bool a;

		if (result_apply(txn, &req->who, &rs[i], &a, host, &err) < 0)
			goto fail;
		applied += a;
		if (host[0] != '\0')
			busy_add(&hosts, host);
	}
	rc = store_txn_commit(txn, &err);
	txn = NULL;
	if (rc < 0)
		goto fail;
	/* A finished task may free the next one of its VM: wake the polls. */
	for (i = 0; i < hosts.n; i++)
		server_wake(req->ctl->server, hosts.ids[i]);
	free(hosts.ids);
	json_object_put(o);
	free(rs);
	o = json_object_new_object();
	json_object_object_add(o, "accepted",
	    json_object_new_int64((int64_t)applied));
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	json_object_put(o);
	free(rs);
	free(hosts.ids);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
