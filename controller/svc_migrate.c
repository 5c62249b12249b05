/*
 * Live migration and host drain: the store side of drain.c's plans.
 *
 * vm migrate (svc_vm.c's vm_change -> svc_migrate_begin): in the request's
 * write txn, plan the one VM (scheduler filters, groups, N+1; the source
 * excluded), claim on the target, VM state migrating with migrate_to set,
 * and a migrate task for the SOURCE host's agent carrying the target's
 * libvirt URI (svc_migrate_task). The source claim stays until the result.
 *
 * maintenance on (svc_sched.c -> svc_drain_begin): plan every VM of the
 * host at once; if one cannot move, 409 and nothing changes (unless
 * force). Else claim every target now (capacity is reserved for the whole
 * drain, so creates meanwhile cannot take it), mark each VM with
 * migrate_to and drain_op, and start DRAIN_PARALLEL migrations; each
 * migrate result (svc_migrate_result, from svc_agent.c's result_apply)
 * starts the next one (drain_pump) and counts progress on the drain
 * operation, which ends when nothing is queued or in flight.
 *
 * Heartbeats: while migrating, the VM stays indexed on the source, whose
 * task queue holds the migrate task, so the source's heartbeat skips it;
 * the target's heartbeat does not see it (not in its vms_by_host) until
 * the result moves it there in one txn.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "miguri.h"
#include "svc.h"
#include "util.h"

/* Migrations in flight per drained host. */
#define DRAIN_PARALLEL	2

/* ------------------------------------------------------------ helpers */

static int
claim(struct store_txn *txn, const char *host, const struct api_vm *vm,
    int sign, int vms_delta, struct vm_error *err)
{
	struct api_host h;
	int rc;

	rc = svc_host_load(txn, host, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;	/* host deleted meanwhile: nothing to adjust */
	h.alloc_vcpus += sign * vm->vcpus;
	h.alloc_ram_mib += sign * vm->ram_mib;
	h.alloc_disk_gib += sign * vm->disk_gib;
	h.vms += vms_delta;
	if (h.alloc_vcpus < 0)
		h.alloc_vcpus = 0;
	if (h.alloc_ram_mib < 0)
		h.alloc_ram_mib = 0;
	if (h.alloc_disk_gib < 0)
		h.alloc_disk_gib = 0;
	if (h.vms < 0)
		h.vms = 0;
	return store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    err);
}

static size_t
snap_vm_index(const struct sched_snap *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->nvms; i++)
		if (strcmp(s->vm_ids[i], id) == 0)
			return i;
	return (size_t)-1;
}

static void
drain_vm_fill(struct store_txn *txn, struct drain_vm *d, size_t idx,
    const struct api_vm *vm)
{
	memset(d, 0, sizeof(*d));
	d->vm = idx;
	str_copy(d->id, sizeof(d->id), vm->id);
	str_copy(d->name, sizeof(d->name), vm->name);
	str_copy(d->site, sizeof(d->site), vm->site);
	str_copy(d->az, sizeof(d->az), vm->az);
	str_copy(d->labels, sizeof(d->labels), vm->labels);
	d->group_policy = svc_group_policy(txn, vm->agency,
	    vm->server_group);
	str_copy(d->image, sizeof(d->image), vm->image.name);
	str_copy(d->arch, sizeof(d->arch), vm->image.arch);
	str_copy(d->image_labels, sizeof(d->image_labels),
	    vm->image.required_labels);
}

/* A target must say how its libvirtd is reached. */
static const struct api_host *
snap_host(const struct sched_snap *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i].name, name) == 0)
			return &s->hosts[i];
	return NULL;
}

static bool
migratable_state(int st)
{
	return st == VM_RUNNING || st == VM_STOPPED || st == VM_PAUSED ||
	    st == VM_CRASHED;
}

/* ------------------------------------------------------------ vm migrate */

int
svc_migrate_begin(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, struct vm_error *err)
{
	struct sched_snap snap;
	struct drain_plan plan;
	struct drain_opts o;
	struct drain_vm d;
	const struct api_host *th;
	size_t idx;
	int ret = -1;

	memset(&plan, 0, sizeof(plan));
	memset(&snap, 0, sizeof(snap));
	if (!migratable_state(vm->state)) {
		vm_error_set(err, API_ECONFLICT, "vm %s is %s: only a running, "
		    "stopped, paused or crashed VM can migrate", vm->name,
		    api_vm_state_names[vm->state]);
		goto cleanup;
	}
	if (host != NULL && strcmp(host, vm->host) == 0) {
		vm_error_set(err, API_ECONFLICT, "vm %s already runs on host "
		    "%s", vm->name, vm->host);
		goto cleanup;
	}
	if (svc_sched_load_full(ctl, txn, &snap, err) < 0)
		goto cleanup;
	if ((idx = snap_vm_index(&snap, vm->id)) == (size_t)-1) {
		vm_error_set(err, API_ECONFLICT, "vm %s has no placement yet",
		    vm->name);
		goto cleanup;
	}
	drain_vm_fill(txn, &d, idx, vm);
	o.source = vm->host;
	o.target = host;
	o.maintenance = false;
	if (drain_plan(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, &d, 1, &o, &plan, err) < 0)
		goto cleanup;
	if (plan.nstuck > 0) {
		vm_error_set(err, API_ENOROOM, "vm %s cannot migrate: %s",
		    vm->name, plan.stuck[0].reason);
		goto cleanup;
	}
	th = snap_host(&snap, plan.moves[0].target);
	if (th == NULL || th->migrate_uri[0] == '\0') {
		vm_error_set(err, API_ECONFLICT, "host %s cannot receive live "
		    "migrations: its agent reports no migrate_uri (set "
		    "agent.migrate_uri in its vmagentd.conf)",
		    plan.moves[0].target);
		goto cleanup;
	}
	if (claim(txn, th->name, vm, 1, 0, err) < 0)
		goto cleanup;
	str_copy(vm->migrate_to, sizeof(vm->migrate_to), th->name);
	vm->state = VM_MIGRATING;
	vm->error[0] = '\0';
	log_info("vm %s (%s): migrating from %s to %s", vm->name, vm->id,
	    vm->host, th->name);
	ret = 0;
cleanup:
	drain_plan_free(&plan);
	svc_sched_free(&snap);
	return ret;
}

int
svc_migrate_task(struct store_txn *txn, const struct api_vm *vm,
    struct api_task *t, struct vm_error *err)
{
	struct api_host h;
	struct vm_error why = { 0, "" };
	const char *names[2];
	int rc;

	rc = svc_host_load(txn, vm->migrate_to, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || h.migrate_uri[0] == '\0') {
		vm_error_set(err, API_ECONFLICT, "host %s cannot receive live "
		    "migrations (no migrate_uri)", vm->migrate_to);
		return -1;
	}
	/*
	 * Registration checks these (svc_agent_register); a row stored by an
	 * older controller is checked again here so no qemu+ext, ssh, unix or
	 * query URI ever reaches an agent. Plain qemu+tcp passes here: the
	 * source agent refuses it unless agent.migrate_plain.
	 */
	names[0] = h.name;
	names[1] = h.address;
	if (api_miguri_check("migrate_uri", h.migrate_uri, true, names, 2,
	    &why) < 0 || api_migdata_check("migrate_listen", h.migrate_listen,
	    names, 2, &why) < 0) {
		vm_error_set(err, API_ECONFLICT, "host %s cannot receive live "
		    "migrations: %s (its agent must register again)", h.name,
		    why.message);
		return -1;
	}
	str_copy(t->migrate_target, sizeof(t->migrate_target), h.name);
	str_copy(t->migrate_uri, sizeof(t->migrate_uri), h.migrate_uri);
	str_copy(t->migrate_listen, sizeof(t->migrate_listen),
	    h.migrate_listen);
	return 0;
}

/* ------------------------------------------------------------ drain pump */

struct pump_walk {
	const char *op_id;
	char (*queued)[API_UUID_LEN];
	size_t nqueued, cap;
	size_t inflight;
	struct store_txn *txn;
};

static int
pump_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct pump_walk *w = arg;
	struct api_vm vm;
	int rc;

	(void)key;
	(void)klen;
	rc = svc_dup_vm(w->txn, val, vlen, &vm, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || strcmp(vm.drain_op, w->op_id) != 0)
		return 0;
	if (vm.state == VM_MIGRATING) {
		w->inflight++;
		return 0;
	}
	if (w->nqueued == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->queued = xrealloc(w->queued, w->cap * sizeof(*w->queued));
	}
	str_copy(w->queued[w->nqueued++], API_UUID_LEN, vm.id);
	return 0;
}

static int
drain_op_load(struct store_txn *txn, const char *op_id,
    struct api_operation *op, struct vm_error *err)
{
	int rc = store_get_obj(txn, DB_OPS, op_id, &api_operation_schema, op,
	    err);

	if (rc == 1)
		vm_error_set(err, API_EINTERNAL, "drain operation %s is gone",
		    op_id);
	return rc == 0 ? 0 : -1;
}

/*
 * Start queued migrations of drain op on host until DRAIN_PARALLEL are in
 * flight; end the operation when none is left. Partner of svc_drain_begin
 * and svc_migrate_result.
 */
static int
drain_pump(struct store_txn *txn, const char *host, const char *op_id,
    struct vm_error *err)
{
	struct pump_walk w;
	struct api_operation op, vop;
	struct api_vm vm;
	size_t i;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.op_id = op_id;
	w.txn = txn;
	if (store_iter_dups(txn, DB_VMS_BY_HOST, host, pump_cb, &w, err) < 0)
		goto cleanup;
	for (i = 0; i < w.nqueued && w.inflight < DRAIN_PARALLEL; i++) {
		if (store_get_obj(txn, DB_VMS, w.queued[i], &api_vm_schema, &vm,
		    err) != 0)
			goto cleanup;
		vm.state = VM_MIGRATING;
		vm.generation++;
		if (svc_vm_enqueue(txn, &vm, OPA_MIGRATE, &vop, err) < 0 ||
		    svc_vm_save(txn, &vm, err) < 0)
			goto cleanup;
		log_info("drain %s: vm %s (%s) migrating from %s to %s", op_id,
		    vm.name, vm.id, host, vm.migrate_to);
		w.inflight++;
	}
	if (w.inflight == 0 && w.nqueued == 0) {
		if (drain_op_load(txn, op_id, &op, err) < 0)
			goto cleanup;
		if (op.state == OP_PENDING || op.state == OP_RUNNING) {
			op.state = op.progress_failed > 0 ? OP_FAILED :
			    OP_SUCCEEDED;
			log_info("drain %s of host %s: %s, %" PRId64 " of %"
			    PRId64 " moved, %" PRId64 " failed", op_id, host,
			    api_op_state_names[op.state], op.progress_done,
			    op.progress_total, op.progress_failed);
			if (svc_op_save(txn, &op, err) < 0)
				goto cleanup;
		}
	}
	ret = 0;
cleanup:
	free(w.queued);
	return ret;
}

/* ------------------------------------------------------------ results */

static int
vm_state_of(int dom_state)
{
	switch (dom_state) {
	case DOM_RUNNING:
		return VM_RUNNING;
	case DOM_PAUSED:
		return VM_PAUSED;
	case DOM_STOPPED:
	case DOM_CRASHED:
		return VM_STOPPED;
	default:
		return VM_ERROR;
	}
}

int
svc_migrate_result(struct store_txn *txn, const struct api_task *t,
    const struct api_task_result *r, struct api_vm *vm,
    struct vm_error *err)
{
	struct api_operation op;
	char source[API_NAME_MAX], target[API_NAME_MAX];
	char drain[API_UUID_LEN];
	bool ok = r->ok;

	str_copy(source, sizeof(source), vm->host);
	str_copy(target, sizeof(target), vm->migrate_to[0] ?
	    vm->migrate_to : t->migrate_target);
	str_copy(drain, sizeof(drain), vm->drain_op);
	if (vm->state != VM_MIGRATING || vm->generation != t->generation ||
	    strcmp(source, t->host) != 0) {
		/* Not the migration this VM waits for (a stale retry). */
		log_warnx("vm %s (%s): stale migrate result ignored", vm->name,
		    vm->id);
		return svc_vm_save(txn, vm, err);
	}
	if (ok) {
		if (claim(txn, source, vm, -1, -1, err) < 0 ||
		    claim(txn, target, vm, 0, 1, err) < 0 ||
		    store_del(txn, DB_VMS_BY_HOST, source, vm->id, err) < 0 ||
		    store_put(txn, DB_VMS_BY_HOST, target, vm->id,
		    strlen(vm->id), 0, err) < 0)
			return -1;
		str_copy(vm->host, sizeof(vm->host), target);
		if (svc_placement_put(txn, vm, err) < 0)
			return -1;
		vm->state = vm->desired == DESIRED_STOPPED ? VM_STOPPED :
		    VM_RUNNING;
		vm->error[0] = '\0';
		log_info("vm %s (%s): migrated from %s to %s", vm->name,
		    vm->id, source, target);
	} else {
		if (claim(txn, target, vm, -1, 0, err) < 0)
			return -1;
		vm->state = vm_state_of(r->dom_state);
		snprintf(vm->error, sizeof(vm->error), "migrate to %.63s failed: "
		    "%.400s", target, r->error);
		log_warnx("vm %s (%s): %s; stays on %s (%s)", vm->name, vm->id,
		    vm->error, source, api_vm_state_names[vm->state]);
	}
	vm->migrate_to[0] = '\0';
	vm->drain_op[0] = '\0';
	if (svc_vm_save(txn, vm, err) < 0)
		return -1;
	if (drain[0] == '\0')
		return 0;
	if (drain_op_load(txn, drain, &op, err) < 0)
		return -1;
	if (ok) {
		op.progress_done++;
	} else {
		op.progress_failed++;
		snprintf(op.error, sizeof(op.error), "vm %.63s: %.430s",
		    vm->name, vm->error);
	}
	if (svc_op_save(txn, &op, err) < 0)
		return -1;
	return drain_pump(txn, source, drain, err);
}

/* ------------------------------------------------------------ drain */

struct drain_walk {
	struct store_txn *txn;
	struct api_vm *vms;
	size_t n, cap;
};

static int
drain_walk_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct drain_walk *w = arg;
	int rc;

	(void)key;
	(void)klen;
	if (vlen != API_UUID_LEN - 1)
		return 0;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 16;
		w->vms = xrealloc(w->vms, w->cap * sizeof(*w->vms));
	}
	rc = svc_dup_vm(w->txn, val, vlen, &w->vms[w->n], err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		w->n++;
	return 0;
}

/* Append "name: why" to out (a "; "-separated list). */
static void
why_add(char *out, size_t len, const char *name, const char *why)
{
	size_t used = strlen(out);

	if (used + 8 < len)
		snprintf(out + used, len - used, "%s%.63s: %.300s", used ? "; " : "",
		    name, why);
}

int
svc_drain_begin(struct req *req, struct store_txn *txn,
    const struct api_host *h, bool force, struct api_operation *op,
    struct vm_error *err)
{
	struct drain_walk w;
	struct sched_snap snap;
	struct drain_plan plan;
	struct drain_opts o;
	struct drain_vm *dv = NULL;
	struct api_vm **dvm = NULL;
	char why[API_TEXT_MAX] = "", reason[API_TEXT_MAX];
	size_t i, nd = 0, nstuck = 0, ninelig, idx;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	memset(&snap, 0, sizeof(snap));
	memset(&plan, 0, sizeof(plan));
	w.txn = txn;
	if (store_iter_dups(txn, DB_VMS_BY_HOST, h->name, drain_walk_cb, &w,
	    err) < 0 || svc_sched_load_full(req->ctl, txn, &snap, err) < 0)
		goto cleanup;
	dv = xcalloc(w.n ? w.n : 1, sizeof(*dv));
	dvm = xcalloc(w.n ? w.n : 1, sizeof(*dvm));
	for (i = 0; i < w.n; i++) {
		struct api_vm *vm = &w.vms[i];

		if (vm->desired == DESIRED_DELETED ||
		    vm->drain_op[0] != '\0' || vm->state == VM_MIGRATING)
			continue;	/* leaving, or already on its way */
		if (!migratable_state(vm->state) ||
		    (idx = snap_vm_index(&snap, vm->id)) == (size_t)-1) {
			snprintf(reason, sizeof(reason), "it is %s: wait for "
			    "it to settle (or delete it)",
			    api_vm_state_names[vm->state]);
			why_add(why, sizeof(why), vm->name, reason);
			nstuck++;
			continue;
		}
		drain_vm_fill(txn, &dv[nd], idx, vm);
		dvm[nd++] = vm;
	}
	ninelig = nstuck;
	o.source = h->name;
	o.target = NULL;
	o.maintenance = true;
	if (drain_plan(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, dv, nd, &o, &plan, err) < 0)
		goto cleanup;
	for (i = 0; i < plan.nstuck; i++)
		why_add(why, sizeof(why), dv[plan.stuck[i].dvm].name,
		    plan.stuck[i].reason);
	nstuck += plan.nstuck;
	for (i = 0; i < plan.nmoves; i++) {
		const struct api_host *th = snap_host(&snap,
		    plan.moves[i].target);

		if (th != NULL && th->migrate_uri[0] != '\0')
			continue;
		snprintf(reason, sizeof(reason), "its target %s has no "
		    "migrate_uri (set agent.migrate_uri there)",
		    plan.moves[i].target);
		why_add(why, sizeof(why), dv[plan.moves[i].dvm].name, reason);
		nstuck++;
		plan.moves[i].target[0] = '\0';		/* skipped below */
	}
	if (nstuck > 0 && !force) {
		vm_error_set(err, API_ENOROOM, "host %s cannot be drained: %zu "
		    "VM%s cannot move: %.400s; nothing changed (force moves "
		    "what can move)", h->name, nstuck, nstuck == 1 ? "" : "s",
		    why);
		goto cleanup;
	}

	memset(op, 0, sizeof(*op));
	uuid_new(op->id);
	str_copy(op->host, sizeof(op->host), h->name);
	op->action = OPA_DRAIN;
	op->state = OP_RUNNING;
	op->created_at = now_ms();
	op->progress_total = (int64_t)(nd + ninelig);
	op->progress_failed = (int64_t)nstuck;
	if (nstuck > 0)
		snprintf(op->error, sizeof(op->error), "%zu VM%s cannot move: "
		    "%.440s", nstuck, nstuck == 1 ? "" : "s", why);
	for (i = 0; i < plan.nmoves; i++) {
		struct api_vm *vm = dvm[plan.moves[i].dvm];

		if (plan.moves[i].target[0] == '\0')
			continue;
		if (claim(txn, plan.moves[i].target, vm, 1, 0, err) < 0)
			goto cleanup;
		str_copy(vm->migrate_to, sizeof(vm->migrate_to),
		    plan.moves[i].target);
		str_copy(vm->drain_op, sizeof(vm->drain_op), op->id);
		if (svc_vm_save(txn, vm, err) < 0)
			goto cleanup;
	}
	if (svc_op_save(txn, op, err) < 0 ||
	    drain_pump(txn, h->name, op->id, err) < 0)
		goto cleanup;
	log_info("host %s: drain %s: %" PRId64 " VM(s), %zu cannot move "
	    "(by %s)", h->name, op->id, op->progress_total, nstuck,
	    req->who.name);
	/* drain_pump may have ended it already (nothing to move). */
	if (drain_op_load(txn, op->id, op, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	drain_plan_free(&plan);
	svc_sched_free(&snap);
	free(dv);
	free(dvm);
	free(w.vms);
	return ret;
}

int
svc_drain_cancel(struct store_txn *txn, const struct api_host *h,
    struct vm_error *err)
{
	struct drain_walk w;
	struct api_operation op;
	char drain[API_UUID_LEN] = "";
	size_t i;
	int ret = -1;

	memset(&w, 0, sizeof(w));
	w.txn = txn;
	if (store_iter_dups(txn, DB_VMS_BY_HOST, h->name, drain_walk_cb, &w,
	    err) < 0)
		goto cleanup;
	/* Queued moves are dropped first; then the pump ends the drain
	 * operation once the moves in flight are done. */
	for (i = 0; i < w.n; i++) {
		struct api_vm *vm = &w.vms[i];

		if (vm->drain_op[0] == '\0')
			continue;
		str_copy(drain, sizeof(drain), vm->drain_op);
		if (vm->state == VM_MIGRATING)
			continue;	/* in flight: its result counts it */
		if (claim(txn, vm->migrate_to, vm, -1, 0, err) < 0)
			goto cleanup;
		vm->migrate_to[0] = '\0';
		vm->drain_op[0] = '\0';
		if (svc_vm_save(txn, vm, err) < 0 ||
		    drain_op_load(txn, drain, &op, err) < 0)
			goto cleanup;
		op.progress_failed++;
		str_copy(op.error, sizeof(op.error), "cancelled: maintenance "
		    "turned off before every VM moved");
		if (svc_op_save(txn, &op, err) < 0)
			goto cleanup;
	}
	if (drain[0] != '\0' && drain_pump(txn, h->name, drain, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(w.vms);
	return ret;
}
