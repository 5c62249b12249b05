/*
 * Host aggregates after enrollment: PATCH /v1/hosts/{name} {az?, labels?}
 * changes a host's availability zone and labels in one write transaction.
 * The scheduler reads host rows on every placement, so the next create
 * and dry run see the change at once; VMs already placed stay where they
 * are (their constraints were met when they were placed).
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

/*
 * Which members the body has (null included): the codec decoded and
 * validated the values already; this only tells "absent" (keep) from
 * null (clear), which a decoded struct cannot.
 */
static bool
patch_has(const struct req *req, const char *key)
{
	json_object *o;
	bool has;

	o = json_tokener_parse(req->body);
	if (o == NULL)
		return false;
	has = json_object_object_get_ex(o, key, NULL);
	json_object_put(o);
	return has;
}

int
svc_host_patch(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host_patch p;
	struct api_host h;
	bool has_az, has_labels, has_addr, has_max;
	int rc;

	if (svc_body(req, &api_host_patch_schema, &p, &err) < 0)
		goto fail;
	has_az = patch_has(req, "az");
	has_labels = patch_has(req, "labels");
	has_addr = patch_has(req, "address");
	has_max = patch_has(req, "max_vcpus") ||
	    patch_has(req, "max_ram_mib") || patch_has(req, "max_disk_gib");
	if (!has_az && !has_labels && !has_addr && !has_max) {
		vm_error_set(&err, API_EINVAL, "host: give labels, az, address "
		    "and/or max_vcpus, max_ram_mib, max_disk_gib (null clears "
		    "one)");
		goto fail;
	}
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
	if (has_az)
		str_copy(h.az, sizeof(h.az), p.az);
	if (has_labels)
		str_copy(h.labels, sizeof(h.labels), p.labels);
	if (has_addr)
		str_copy(h.address, sizeof(h.address), p.address);
	/* Approved capacity (issue 8 item 4): an absent max is kept. */
	if (patch_has(req, "max_vcpus"))
		h.max_vcpus = p.max_vcpus;
	if (patch_has(req, "max_ram_mib"))
		h.max_ram_mib = p.max_ram_mib;
	if (patch_has(req, "max_disk_gib"))
		h.max_disk_gib = p.max_disk_gib;
	if (has_max && h.registered_at != 0)
		svc_host_capacity(&h);
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 200, &err, "host %s az=%s labels=%.150s "
	    "address=%.100s max=%lld/%lld/%lld", h.name, h.az[0] ? h.az : "-",
	    h.labels[0] ? h.labels : "-", h.address[0] ? h.address : "-",
	    (long long)h.max_vcpus, (long long)h.max_ram_mib,
	    (long long)h.max_disk_gib) < 0) {
		txn = NULL;
		goto fail;
	}
	log_info("host %s: az '%s', labels '%s' (by %s)", h.name, h.az,
	    h.labels, req->who.name);
	svc_host_state(req->ctl, &h);
	resp_json(resp, 200, api_encode(&api_host_schema, &h));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
