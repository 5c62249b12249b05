/*
 * Rebuild and offline resize of a VM: the checks and row changes done
 * inside the action's write transaction (svc_vm.c vm_change() opens it,
 * bumps the generation, enqueues the task and commits). The agent's side
 * is agent/rebuild.c.
 *
 *   rebuild: a fresh overlay on the VM's image, or on another store image
 *            of the same kind (disk or kernel) that the VM's host can
 *            boot (scheduler filter "image"); vms_by_image follows.
 *   resize:  a stopped VM to another flavor: quota delta, the new size
 *            placed on the same host by the scheduler with the VM's own
 *            claim left out (capacity and N+1), claims and placement
 *            rewritten, vms_by_flavor moved. Disks only grow.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "svc.h"
#include "util.h"

/* "kernel" or "disk": what the domain boots from. */
static bool
image_is_kernel(const struct api_image *im)
{
	if (im->name[0] != '\0')
		return strcmp(im->format, "kernel") == 0;
	return im->kernel[0] != '\0';
}

/* ------------------------------------------------------------ rebuild */

int
svc_rebuild_begin(struct req *req, struct store_txn *txn, struct api_vm *vm,
    const char *image, struct vm_error *err)
{
	struct api_vm nvm;
	struct api_host h;
	struct sched_host sh;
	struct sched_request r;
	char reason[API_TEXT_MAX];
	bool change;
	int rc;

	if (vm->state == VM_PENDING || vm->state == VM_BUILDING ||
	    vm->state == VM_STOPPING) {
		vm_error_set(err, API_ECONFLICT, "vm %s is %s: wait until it "
		    "settles, then rebuild", vm->name,
		    api_vm_state_names[vm->state]);
		return -1;
	}
	change = image != NULL && image[0] != '\0' &&
	    strcmp(image, vm->image.name) != 0;
	nvm = *vm;
	if (change) {
		memset(&nvm.image, 0, sizeof(nvm.image));
		str_copy(nvm.image.name, sizeof(nvm.image.name), image);
		if (svc_image_lookup(req, txn, &nvm, false, err) < 0)
			return -1;
		if (image_is_kernel(&nvm.image) != image_is_kernel(&vm->image)) {
			vm_error_set(err, API_ECONFLICT, "vm %s boots from a %s; "
			    "image %s is a %s: rebuild onto an image of the "
			    "same kind (or delete and create the VM)", vm->name,
			    image_is_kernel(&vm->image) ? "kernel" : "disk",
			    image, image_is_kernel(&nvm.image) ? "kernel image" :
			    "disk image");
			return -1;
		}
	}
	/* The VM stays on its host: that host must boot the image. */
	rc = svc_host_load(txn, vm->host, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		memset(&sh, 0, sizeof(sh));
		str_copy(sh.name, sizeof(sh.name), h.name);
		str_copy(sh.labels, sizeof(sh.labels), h.labels);
		str_copy(sh.arch, sizeof(sh.arch), h.arch);
		memset(&r, 0, sizeof(r));
		r.image = nvm.image.name;
		r.arch = nvm.image.arch;
		r.image_labels = nvm.image.required_labels;
		if (!sched_image_ok(&sh, &r, reason, sizeof(reason))) {
			vm_error_set(err, API_ECONFLICT, "vm %s cannot be rebuilt "
			    "on its host %s: %s (migrate it first, or choose "
			    "another image)", vm->name, h.name, reason);
			return -1;
		}
	}
	if (change) {
		if (svc_image_unuse(txn, vm, err) < 0 ||
		    svc_image_use(txn, &nvm, err) < 0)
			return -1;
		log_info("vm %s (%s): rebuild from image %s (was %s)", vm->name,
		    vm->id, nvm.image.name, vm->image.name[0] ?
		    vm->image.name : vm->image.disk[0] ? vm->image.disk :
		    vm->image.kernel);
		vm->image = nvm.image;
	}
	vm->state = VM_BUILDING;
	vm->error[0] = '\0';
	return 0;
}

/* ------------------------------------------------------------ resize */

static size_t
snap_host_index(const struct sched_snap *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nhosts; i++)
		if (strcmp(s->shosts[i].name, name) == 0)
			return i;
	return (size_t)-1;
}

int
svc_resize_begin(struct req *req, struct store_txn *txn, struct api_vm *vm,
    const char *flavor, struct vm_error *err)
{
	struct sched_snap snap;
	struct sched_result res = { -1, NULL, 0 };
	struct sched_request r;
	struct api_flavor fl;
	struct api_quota d;
	struct api_host h;
	size_t i, hi;
	int rc, ret = -1;

	memset(&snap, 0, sizeof(snap));
	if (vm->state != VM_STOPPED && !(vm->state == VM_ERROR &&
	    vm->desired == DESIRED_STOPPED)) {
		vm_error_set(err, API_ECONFLICT, "vm %s is %s: resize needs a "
		    "stopped VM; stop it first (vmctl vm stop %s --wait)",
		    vm->name, api_vm_state_names[vm->state], vm->name);
		goto cleanup;
	}
	rc = store_get_obj(txn, DB_FLAVORS, flavor, &api_flavor_schema, &fl,
	    err);
	if (rc < 0)
		goto cleanup;
	if (rc == 1) {
		vm_error_set(err, API_EINVAL, "action.flavor: flavor '%s' does "
		    "not exist (see GET /v1/flavors)", flavor);
		goto cleanup;
	}
	if (strcmp(fl.name, vm->flavor) == 0 && vm->state == VM_STOPPED) {
		vm_error_set(err, API_ECONFLICT, "vm %s already has flavor %s",
		    vm->name, fl.name);
		goto cleanup;
	}
	if (fl.disk_gib < vm->disk_gib) {
		vm_error_set(err, API_ECONFLICT, "vm %s: a disk cannot shrink: "
		    "flavor %s has %lld GiB, the VM's disk is %lld GiB (choose "
		    "a flavor with at least %lld GiB)", vm->name, fl.name,
		    (long long)fl.disk_gib, (long long)vm->disk_gib,
		    (long long)vm->disk_gib);
		goto cleanup;
	}
	memset(&d, 0, sizeof(d));
	d.vcpus = fl.vcpus - vm->vcpus;
	d.ram_mib = fl.ram_mib - vm->ram_mib;
	d.disk_gib = fl.disk_gib - vm->disk_gib;
	if (vm->agency[0] != '\0' &&
	    svc_quota_claim(txn, vm->agency, &d, err) < 0)
		goto cleanup;

	/* Place the new size on this host only, the VM's claim left out. */
	if (svc_sched_load(req->ctl, txn, &snap, err) < 0)
		goto cleanup;
	hi = snap_host_index(&snap, vm->host);
	if (hi == (size_t)-1) {
		vm_error_set(err, API_ECONFLICT, "vm %s: its host %s is not "
		    "registered", vm->name, vm->host);
		goto cleanup;
	}
	snap.shosts[hi].alloc_vcpus -= vm->vcpus;
	snap.shosts[hi].alloc_ram_mib -= vm->ram_mib;
	snap.shosts[hi].alloc_disk_gib -= vm->disk_gib;
	for (i = 0; i < snap.nvms; i++)
		if (strcmp(snap.vm_ids[i], vm->id) == 0)
			snap.vms[i].host[0] = '\0';
	svc_sched_request(vm, &fl, &r);
	r.host_hint = vm->host;
	if (sched_place(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, &r, &res, err) < 0) {
		char why[API_TEXT_MAX];

		str_copy(why, sizeof(why), err->message);
		vm_error_set(err, err->code, "vm %s cannot grow to flavor %s on "
		    "its host %s: %s", vm->name, fl.name, vm->host, why);
		svc_sched_error_redact(req, err);
		goto cleanup;
	}

	/* Claims: the host's allocation, the placement row, the indexes. */
	rc = svc_host_load(txn, vm->host, &h, err);
	if (rc != 0) {
		if (rc == 1)
			vm_error_set(err, API_ECONFLICT, "vm %s: host %s is gone",
			    vm->name, vm->host);
		goto cleanup;
	}
	h.alloc_vcpus += d.vcpus;
	h.alloc_ram_mib += d.ram_mib;
	h.alloc_disk_gib += d.disk_gib;
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    err) < 0)
		goto cleanup;
	if (strcmp(fl.name, vm->flavor) != 0 &&
	    (store_del(txn, DB_VMS_BY_FLAVOR, vm->flavor, vm->id, err) < 0 ||
	    store_put(txn, DB_VMS_BY_FLAVOR, fl.name, vm->id, strlen(vm->id),
	    0, err) < 0))
		goto cleanup;
	log_info("vm %s (%s): resize from %s (%lld vCPUs, %lld MiB, %lld GiB) "
	    "to %s (%lld, %lld, %lld)", vm->name, vm->id, vm->flavor,
	    (long long)vm->vcpus, (long long)vm->ram_mib,
	    (long long)vm->disk_gib, fl.name, (long long)fl.vcpus,
	    (long long)fl.ram_mib, (long long)fl.disk_gib);
	str_copy(vm->flavor, sizeof(vm->flavor), fl.name);
	vm->vcpus = fl.vcpus;
	vm->ram_mib = fl.ram_mib;
	vm->disk_gib = fl.disk_gib;
	if (svc_placement_put(txn, vm, err) < 0)
		goto cleanup;
	vm->error[0] = '\0';
	ret = 0;
cleanup:
	sched_result_free(&res);
	svc_sched_free(&snap);
	return ret;
}
