/*
 * VM metadata tags: POST /v1/vms/{id}/tags {set?, remove?} changes a VM's
 * tags in one write transaction (audited; no agent task: tags live in the
 * controller only). Listing by tag is GET /v1/vms?tag=k=v (svc_vm.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "tags.h"
#include "util.h"

int
svc_vm_tags(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_vm_tags t;
	struct api_vm vm;

	if (svc_body(req, &api_vm_tags_schema, &t, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    svc_vm_lookup_scoped(req, txn, req->params[0], &vm, &err) < 0)
		goto fail;
	if (vm.desired == DESIRED_DELETED) {
		vm_error_set(&err, API_ECONFLICT, "vm %s is being deleted",
		    vm.name);
		goto fail;
	}
	if (api_tags_apply(vm.tags, t.set, t.remove, vm.tags,
	    sizeof(vm.tags), &err) < 0 || svc_vm_save(txn, &vm, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), vm.agency);
	if (svc_commit(req, txn, 200, &err, "vm %s tags %.400s", vm.name,
	    vm.tags[0] ? vm.tags : "(none)") < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 200, api_encode(&api_vm_schema, &vm));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
