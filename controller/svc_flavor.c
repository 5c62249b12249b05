#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "svc.h"
#include "util.h"

int
svc_flavor_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_FLAVORS, &api_flavor_schema, NULL,
	    NULL);
}

int
svc_flavor_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_flavor f;
	int rc;

	if (svc_body(req, &api_flavor_schema, &f, &err) < 0)
		goto fail;
	f.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	rc = store_put_obj(txn, DB_FLAVORS, f.name, &api_flavor_schema, &f,
	    STORE_NOOVERWRITE, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ECONFLICT, "flavor '%s' already exists",
		    f.name);
		goto fail;
	}
	if (svc_commit(req, txn, 201, &err, "flavor %s", f.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 201, api_encode(&api_flavor_schema, &f));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_flavor_show(struct req *req, struct resp *resp)
{
	return svc_show_row(req, resp, DB_FLAVORS, &api_flavor_schema,
	    "flavor", NULL);
}

static int
flavor_used_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	size_t *n = arg;

	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(void)err;
	(*n)++;
	return 0;
}

int
svc_flavor_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	size_t used = 0;
	int rc;

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	if (store_iter_dups(txn, DB_VMS_BY_FLAVOR, req->params[0],
	    flavor_used_cb, &used, &err) < 0)
		goto fail;
	if (used > 0) {
		vm_error_set(&err, API_ECONFLICT,
		    "flavor '%.64s' is used by %zu VM%s: delete or resize them "
		    "first", req->params[0], used, used == 1 ? "" : "s");
		goto fail;
	}
	rc = store_del(txn, DB_FLAVORS, req->params[0], NULL, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND, "flavor '%.64s' not found",
		    req->params[0]);
		goto fail;
	}
	if (svc_commit(req, txn, 204, &err, "flavor %.64s",
	    req->params[0]) < 0) {
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
