/*
 * svc_cloudinit: the cloud-init part of a VM create. The request's
 * "cloud_init" member (user-data, SSH keys) is taken out of the body
 * before the VM is decoded, kept in DB_CLOUDINIT (vm uuid -> record),
 * never in the VM row and never answered back (user-data may hold
 * secrets), and copied into the create task for the agent, which builds
 * the NoCloud seed. svc_vm_create(), vm_enqueue() and svc_vm_remove()
 * call these in their own transactions.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "svc.h"
#include "util.h"

int
svc_vm_body(struct req *req, struct api_vm *vm, struct api_cloudinit **ci,
    struct vm_error *err)
{
	json_object *o = NULL, *c = NULL;
	int ret = -1;

	*ci = NULL;
	if (req->body_len == 0) {
		vm_error_set(err, API_EMALFORMED, "a JSON body is required");
		return -1;
	}
	if (req->body_len > API_BODY_MAX) {
		vm_error_set(err, API_ETOOLARGE,
		    "request body larger than %zu bytes", API_BODY_MAX);
		return -1;
	}
	o = json_parse(req->body, req->body_len, API_EMALFORMED, err);
	if (o == NULL)
		return -1;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "cloud_init", &c)) {
		if (c != NULL) {
			*ci = xmalloc(sizeof(**ci));
			if (api_decode(&api_cloudinit_schema, c, *ci,
			    API_INPUT, err) < 0)
				goto cleanup;
		}
		json_object_object_del(o, "cloud_init");
	}
	if (api_decode(&api_vm_schema, o, vm, API_INPUT, err) < 0)
		goto cleanup;
	if (*ci != NULL && (*ci)->user_data[0] == '\0' &&
	    (*ci)->ssh_keys[0] == '\0') {
		free(*ci);
		*ci = NULL;
	}
	ret = 0;
cleanup:
	if (ret < 0) {
		free(*ci);
		*ci = NULL;
	}
	json_object_put(o);
	return ret;
}

int
svc_cloudinit_put(struct store_txn *txn, const char *vm_id,
    const struct api_cloudinit *ci, struct vm_error *err)
{
	if (ci == NULL)
		return 0;
	return store_put_obj(txn, DB_CLOUDINIT, vm_id, &api_cloudinit_schema,
	    ci, 0, err);
}

int
svc_cloudinit_task(struct store_txn *txn, const char *vm_id,
    struct api_task *t, struct vm_error *err)
{
	int rc = store_get_obj(txn, DB_CLOUDINIT, vm_id, &api_cloudinit_schema,
	    &t->cloud_init, err);

	if (rc == 1)
		memset(&t->cloud_init, 0, sizeof(t->cloud_init));
	return rc < 0 ? -1 : 0;
}

int
svc_cloudinit_del(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	return store_del(txn, DB_CLOUDINIT, vm_id, NULL, err) < 0 ? -1 : 0;
}
