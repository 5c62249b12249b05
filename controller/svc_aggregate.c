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
static void
patch_present(const struct req *req, bool *az, bool *labels)
{
	json_object *o;

	*az = *labels = false;
	o = json_tokener_parse(req->body);
	if (o == NULL)
		return;
	*az = json_object_object_get_ex(o, "az", NULL);
	*labels = json_object_object_get_ex(o, "labels", NULL);
	json_object_put(o);
}

int
svc_host_patch(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host_patch p;
	struct api_host h;
	bool has_az, has_labels;
	int rc;

	if (svc_body(req, &api_host_patch_schema, &p, &err) < 0)
		goto fail;
	patch_present(req, &has_az, &has_labels);
	if (!has_az && !has_labels) {
		vm_error_set(&err, API_EINVAL, "host: give labels and/or az "
		    "(null clears one)");
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
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 200, &err, "host %s az=%s labels=%.200s",
	    h.name, h.az[0] ? h.az : "-", h.labels[0] ? h.labels : "-") < 0) {
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
