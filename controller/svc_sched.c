/*
 * Scheduling services: the bridge between the store and the pure
 * scheduler (scheduler.c). svc_sched_load() takes a snapshot of hosts and
 * placed VMs inside the caller's transaction; the create handler places
 * and claims in that same transaction. Also the read-only views built on
 * it: the placement dry run (GET /v1/placement), site capacity and N+1
 * (GET /v1/sites), and host maintenance (POST /v1/hosts/{name}/maintenance).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

void
svc_sched_config(const struct ctl *ctl, struct sched_config *cfg)
{
	sched_config_defaults(cfg);
	cfg->cpu_ratio = ctl->cfg.sched_cpu_ratio;
	cfg->ram_ratio = ctl->cfg.sched_ram_ratio;
	cfg->disk_ratio = ctl->cfg.sched_disk_ratio;
	cfg->weigher = ctl->cfg.sched_weigher;
	cfg->tolerate_host_failures = (int)ctl->cfg.sched_tolerate;
}

static int
snap_host_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct sched_snap *s = arg;
	struct api_host *h;
	struct sched_host *sh;

	(void)key;
	(void)klen;
	if (s->nhosts == s->caphosts) {
		s->caphosts = s->caphosts ? s->caphosts * 2 : 16;
		s->hosts = xrealloc(s->hosts, s->caphosts * sizeof(*s->hosts));
		s->shosts = xrealloc(s->shosts,
		    s->caphosts * sizeof(*s->shosts));
	}
	h = &s->hosts[s->nhosts];
	if (api_decode_text(&api_host_schema, val, vlen, h, API_STORED,
	    err) < 0)
		return -1;
	svc_host_state(s->ctl, h);
	sh = &s->shosts[s->nhosts];
	memset(sh, 0, sizeof(*sh));
	str_copy(sh->name, sizeof(sh->name), h->name);
	str_copy(sh->site, sizeof(sh->site), h->site);
	str_copy(sh->az, sizeof(sh->az), h->az);
	str_copy(sh->labels, sizeof(sh->labels), h->labels);
	str_copy(sh->arch, sizeof(sh->arch), h->arch);
	sh->up = h->state == HOST_UP;
	sh->maintenance = h->maintenance;
	sh->vcpus = h->vcpus;
	sh->ram_mib = h->ram_mib;
	sh->disk_gib = h->disk_gib;
	sh->alloc_vcpus = h->alloc_vcpus;
	sh->alloc_ram_mib = h->alloc_ram_mib;
	sh->alloc_disk_gib = h->alloc_disk_gib;
	s->nhosts++;
	return 0;
}

/* Placement rows are "HOST HA VCPUS RAM DISK" (cheap to parse: one per VM
 * is read on every create). */
static int
snap_vm_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct sched_snap *s = arg;
	struct sched_vm *v;
	char text[160];
	long long vc, ram, disk;
	int ha;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(text)) {
		vm_error_set(err, API_EINTERNAL, "store: bad placement row");
		return -1;
	}
	memcpy(text, val, vlen);
	text[vlen] = '\0';
	if (s->nvms == s->capvms) {
		s->capvms = s->capvms ? s->capvms * 2 : 64;
		s->vms = xrealloc(s->vms, s->capvms * sizeof(*s->vms));
		s->vm_ids = xrealloc(s->vm_ids,
		    s->capvms * sizeof(*s->vm_ids));
	}
	memset(s->vm_ids[s->nvms], 0, API_UUID_LEN);
	memcpy(s->vm_ids[s->nvms], key, klen < API_UUID_LEN ? klen :
	    API_UUID_LEN - 1);
	v = &s->vms[s->nvms];
	memset(v, 0, sizeof(*v));
	if (sscanf(text, "%63s %d %lld %lld %lld", v->host, &ha, &vc, &ram,
	    &disk) != 5) {
		vm_error_set(err, API_EINTERNAL, "store: bad placement row");
		return -1;
	}
	v->ha = ha != 0;
	v->vcpus = vc;
	v->ram_mib = ram;
	v->disk_gib = disk;
	s->nvms++;
	return 0;
}

int
svc_sched_load(const struct ctl *ctl, struct store_txn *txn,
    struct sched_snap *s, struct vm_error *err)
{
	memset(s, 0, sizeof(*s));
	s->ctl = ctl;
	svc_sched_config(ctl, &s->cfg);
	if (store_iter(txn, DB_HOSTS, NULL, snap_host_cb, s, err) < 0 ||
	    store_iter(txn, DB_PLACEMENTS, NULL, snap_vm_cb, s, err) < 0)
		return -1;
	return 0;
}

void
svc_sched_free(struct sched_snap *s)
{
	free(s->hosts);
	free(s->shosts);
	free(s->vms);
	free(s->vm_ids);
	memset(s, 0, sizeof(*s));
}

void
svc_sched_request(const struct api_vm *vm, const struct api_flavor *fl,
    struct sched_request *r)
{
	memset(r, 0, sizeof(*r));
	r->vcpus = fl->vcpus;
	r->ram_mib = fl->ram_mib;
	r->disk_gib = fl->disk_gib;
	r->ha = vm->ha == VM_HA_RESTART;
	r->site = vm->site;
	r->az = vm->az;
	r->host_hint = vm->host_hint;
	r->labels = vm->labels;
	r->group_policy = SCHED_GROUP_NONE;
	r->image = vm->image.name;
	r->arch = vm->image.arch;
	r->image_labels = vm->image.required_labels;
}

int
svc_placement_put(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	char row[160];

	snprintf(row, sizeof(row), "%s %d %lld %lld %lld", vm->host,
	    vm->ha == VM_HA_RESTART, (long long)vm->vcpus,
	    (long long)vm->ram_mib, (long long)vm->disk_gib);
	return store_put(txn, DB_PLACEMENTS, vm->id, row, strlen(row), 0, err);
}

int
svc_placement_del(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	return store_del(txn, DB_PLACEMENTS, vm_id, NULL, err) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ dry run */

static json_object *
verdicts_json(const struct sched_result *res)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < res->nverdicts; i++) {
		const struct sched_verdict *v = &res->verdicts[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "host",
		    json_object_new_string(v->host));
		json_object_object_add(o, "chosen",
		    json_object_new_boolean(res->chosen == (int)i));
		json_object_object_add(o, "filter", v->filter[0] ?
		    json_object_new_string(v->filter) : NULL);
		json_object_object_add(o, "reason", v->reason[0] ?
		    json_object_new_string(v->reason) : NULL);
		json_object_object_add(o, "weight", v->filter[0] ? NULL :
		    json_object_new_double(v->weight));
		json_object_array_add(arr, o);
	}
	return arr;
}

/*
 * GET /v1/placement?flavor=F[&site=&az=&host=&labels=&ha=&image=] — where would
 * a VM of this shape go now, and why not elsewhere. Changes nothing.
 */
int
svc_placement_dryrun(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" }, perr = { 0, "" };
	struct sched_snap snap;
	struct sched_result res = { -1, NULL, 0 };
	struct sched_request r;
	struct api_flavor fl;
	struct api_vm vm;
	const char *q;
	json_object *o;
	int rc;

	memset(&snap, 0, sizeof(snap));
	memset(&vm, 0, sizeof(vm));
	q = req_query(req, "flavor");
	if (q == NULL || !api_name_valid(q)) {
		vm_error_set(&err, API_EINVAL, "flavor: a flavor name is needed");
		goto fail;
	}
	str_copy(vm.flavor, sizeof(vm.flavor), q);
	if (((q = req_query(req, "site")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.site, sizeof(vm.site), q) < 0)) ||
	    ((q = req_query(req, "az")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.az, sizeof(vm.az), q) < 0)) ||
	    ((q = req_query(req, "host")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.host_hint, sizeof(vm.host_hint), q) < 0)) ||
	    ((q = req_query(req, "labels")) != NULL &&
	    (str_copy(vm.labels, sizeof(vm.labels), q) < 0 ||
	    !api_labels_valid(vm.labels)))) {
		vm_error_set(&err, API_EINVAL,
		    "site/az/host: valid names; labels: comma-separated names "
		    "(at most %d characters)", API_TEXT_MAX - 1);
		goto fail;
	}
	if ((q = req_query(req, "ha")) != NULL) {
		vm.ha = api_enum_index(api_vm_ha_names, q);
		if (vm.ha < 0) {
			vm_error_set(&err, API_EINVAL,
			    "ha: one of restart, none");
			goto fail;
		}
	}
	if ((q = req_query(req, "image")) != NULL && !api_name_valid(q)) {
		vm_error_set(&err, API_EINVAL,
		    "image: the name of an image of the store");
		goto fail;
	}
	if (q != NULL)
		str_copy(vm.image.name, sizeof(vm.image.name), q);
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	/* An image constrains arch and labels (filter "image"); a caller
	 * sees its agency's and the public images. */
	if (vm.image.name[0] != '\0') {
		str_copy(vm.agency, sizeof(vm.agency), req->who.agency);
		if (svc_image_lookup(req, txn, &vm, req->who.scope != SCOPE_OWN,
		    &err) < 0)
			goto fail;
	}
	rc = store_get_obj(txn, DB_FLAVORS, vm.flavor, &api_flavor_schema, &fl,
	    &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_EINVAL, "flavor '%s' does not exist",
		    vm.flavor);
		goto fail;
	}
	if (svc_sched_load(req->ctl, txn, &snap, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;
	svc_sched_request(&vm, &fl, &r);
	rc = sched_place(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, &r, &res, &perr);
	o = json_object_new_object();
	json_object_object_add(o, "chosen", rc == 0 && res.chosen >= 0 ?
	    json_object_new_string(snap.shosts[res.chosen].name) : NULL);
	json_object_object_add(o, "error", rc == 0 ? NULL :
	    json_object_new_string(perr.message));
	json_object_object_add(o, "hosts", verdicts_json(&res));
	sched_result_free(&res);
	svc_sched_free(&snap);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	svc_sched_free(&snap);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ sites */

/* GET /v1/sites: per site totals, allocation, effective free, N+1 now. */
int
svc_site_list(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct sched_snap snap;
	json_object *items = NULL;
	size_t i, j;

	memset(&snap, 0, sizeof(snap));
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    svc_sched_load(req->ctl, txn, &snap, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;
	items = json_object_new_array();
	for (i = 0; i < snap.nhosts; i++) {
		const char *site = snap.shosts[i].site;
		int64_t tot[3] = { 0, 0, 0 }, alloc[3] = { 0, 0, 0 };
		int64_t eff[3] = { 0, 0, 0 };
		int hosts = 0, up = 0;
		char failing[API_TEXT_MAX] = "", why[API_TEXT_MAX] = "";
		json_object *o;
		bool seen = false;
		int n1;

		for (j = 0; j < i; j++)
			if (strcmp(snap.shosts[j].site, site) == 0)
				seen = true;
		if (seen)
			continue;
		for (j = i; j < snap.nhosts; j++) {
			const struct sched_host *h = &snap.shosts[j];
			int64_t ev, er, ed;

			if (strcmp(h->site, site) != 0)
				continue;
			hosts++;
			up += h->up && !h->maintenance;
			tot[0] += h->vcpus;
			tot[1] += h->ram_mib;
			tot[2] += h->disk_gib;
			alloc[0] += h->alloc_vcpus;
			alloc[1] += h->alloc_ram_mib;
			alloc[2] += h->alloc_disk_gib;
			sched_capacity(&snap.cfg, h, &ev, &er, &ed);
			eff[0] += ev;
			eff[1] += er;
			eff[2] += ed;
		}
		n1 = sched_site_n1(&snap.cfg, site, snap.shosts, snap.nhosts,
		    snap.vms, snap.nvms, failing, why);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(site));
		json_object_object_add(o, "hosts", json_object_new_int(hosts));
		json_object_object_add(o, "hosts_up", json_object_new_int(up));
		json_object_object_add(o, "vcpus", json_object_new_int64(tot[0]));
		json_object_object_add(o, "ram_mib",
		    json_object_new_int64(tot[1]));
		json_object_object_add(o, "disk_gib",
		    json_object_new_int64(tot[2]));
		json_object_object_add(o, "alloc_vcpus",
		    json_object_new_int64(alloc[0]));
		json_object_object_add(o, "alloc_ram_mib",
		    json_object_new_int64(alloc[1]));
		json_object_object_add(o, "alloc_disk_gib",
		    json_object_new_int64(alloc[2]));
		json_object_object_add(o, "free_vcpus",
		    json_object_new_int64(eff[0] - alloc[0]));
		json_object_object_add(o, "free_ram_mib",
		    json_object_new_int64(eff[1] - alloc[1]));
		json_object_object_add(o, "free_disk_gib",
		    json_object_new_int64(eff[2] - alloc[2]));
		json_object_object_add(o, "tolerate_host_failures",
		    json_object_new_int(snap.cfg.tolerate_host_failures));
		json_object_object_add(o, "n1_ok",
		    json_object_new_boolean(n1 == 0));
		json_object_object_add(o, "n1_failing", n1 ?
		    json_object_new_string(failing) : NULL);
		json_object_object_add(o, "n1_reason", n1 ?
		    json_object_new_string(why) : NULL);
		json_object_array_add(items, o);
	}
	svc_sched_free(&snap);
	resp_json(resp, 200, svc_list_envelope(items, NULL));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	svc_sched_free(&snap);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ maintenance */

int
svc_host_maintenance(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host_maintenance m;
	struct api_operation op;
	struct api_host h;
	bool drained = false;
	json_object *o;
	int rc;

	if (svc_body(req, &api_host_maintenance_schema, &m, &err) < 0)
		goto fail;
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
	if (m.force && !m.maintenance) {
		vm_error_set(&err, API_EINVAL,
		    "force: applies only to maintenance on");
		goto fail;
	}
	/* On: drain by live migration (svc_migrate.c); off: drop the moves
	 * not started yet. The host row is written after, with its claims
	 * as the drain left them. */
	if (m.maintenance) {
		if (svc_drain_begin(req, txn, &h, m.force, &op, &err) < 0)
			goto fail;
		drained = true;
	} else if (svc_drain_cancel(txn, &h, &err) < 0) {
		goto fail;
	}
	rc = svc_host_load(txn, req->params[0], &h, &err);
	if (rc != 0)
		goto fail;
	h.maintenance = m.maintenance;
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 200, &err, "host %s maintenance %s", h.name,
	    m.maintenance ? "on" : "off") < 0) {
		txn = NULL;
		goto fail;
	}
	log_info("host %s: maintenance %s (by %s); no new VMs are placed "
	    "there while on", h.name, m.maintenance ? "on" : "off",
	    req->who.name);
	svc_host_state(req->ctl, &h);
	o = api_encode(&api_host_schema, &h);
	if (drained) {
		json_object_object_add(o, "operation",
		    api_encode(&api_operation_schema, &op));
		server_wake(req->ctl->server, h.name);
	}
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
