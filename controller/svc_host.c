#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "svc.h"
#include "util.h"

int
svc_healthz(struct req *req, struct resp *resp)
{
	json_object *o = json_object_new_object();

	(void)req;
	json_object_object_add(o, "status", json_object_new_string("ok"));
	resp_json(resp, 200, o);
	return HANDLER_DONE;
}

void
svc_host_state(const struct ctl *ctl, struct api_host *h)
{
	int64_t age = now_ms() - h->last_heartbeat;

	h->state = (h->last_heartbeat != 0 &&
	    age <= ctl->cfg.down_after_s * 1000) ? HOST_UP : HOST_DOWN;
}

int
svc_list_limit(struct req *req, size_t *limit, struct vm_error *err)
{
	const char *s = req_query(req, "limit");
	char *end = NULL;
	long v;

	*limit = 1000;
	if (s == NULL)
		return 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < 1 || v > 1000) {
		vm_error_set(err, API_EINVAL,
		    "limit: must be an integer between 1 and 1000");
		return -1;
	}
	*limit = (size_t)v;
	return 0;
}

json_object *
svc_list_envelope(json_object *items, const char *next)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "items", items);
	json_object_object_add(o, "next",
	    next ? json_object_new_string(next) : NULL);
	return o;
}

int
svc_body(struct req *req, const struct api_schema *s, void *obj,
    struct vm_error *err)
{
	if (req->body_len == 0) {
		vm_error_set(err, API_EMALFORMED, "a JSON body is required");
		return -1;
	}
	return api_decode_text(s, req->body, req->body_len, obj, API_INPUT,
	    err);
}

int
svc_host_load(struct store_txn *txn, const char *name, struct api_host *h,
    struct vm_error *err)
{
	return store_get_obj(txn, DB_HOSTS, name, &api_host_schema, h, err);
}

struct host_list_ctx {
	const struct ctl *ctl;
	json_object *items;
	size_t limit, n;
	char last[API_NAME_MAX];
	bool more;
};

static int
host_list_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct host_list_ctx *c = arg;
	struct api_host h;

	(void)key;
	(void)klen;
	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (api_decode_text(&api_host_schema, val, vlen, &h, API_STORED,
	    err) < 0)
		return -1;
	svc_host_state(c->ctl, &h);
	json_object_array_add(c->items, api_encode(&api_host_schema, &h));
	str_copy(c->last, sizeof(c->last), h.name);
	c->n++;
	return 0;
}

int
svc_host_list(struct req *req, struct resp *resp)
{
	struct host_list_ctx c = { req->ctl, NULL, 0, 0, "", false };
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };

	if (svc_list_limit(req, &c.limit, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	c.items = json_object_new_array();
	if (store_iter(txn, DB_HOSTS, req_query(req, "after"), host_list_cb,
	    &c, &err) < 0)
		goto fail;
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

int
svc_host_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host h;
	int rc;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	rc = svc_host_load(txn, req->params[0], &h, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND, "host '%.64s' not found",
		    req->params[0]);
		goto fail;
	}
	store_txn_abort(txn);
	svc_host_state(req->ctl, &h);
	resp_json(resp, 200, api_encode(&api_host_schema, &h));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
