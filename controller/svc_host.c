#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
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
svc_query_int(struct req *req, const char *key, long def, long min, long max,
    long *out, struct vm_error *err)
{
	const char *s = req_query(req, key);
	char *end = NULL;
	long v;

	*out = def;
	if (s == NULL)
		return 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || v < min || v > max) {
		vm_error_set(err, API_EINVAL,
		    "%s: must be an integer between %ld and %ld", key, min,
		    max);
		return -1;
	}
	*out = v;
	return 0;
}

int
svc_list_limit(struct req *req, size_t *limit, struct vm_error *err)
{
	const char *after = req_query(req, "after");
	long v;

	if (after != NULL && (strlen(after) == 0 || strlen(after) > 128)) {
		vm_error_set(err, API_EINVAL,
		    "after: must be a cursor from a previous page");
		return -1;
	}
	if (svc_query_int(req, "limit", 1000, 1, 1000, &v, err) < 0)
		return -1;
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

/*
 * Index values: a VM uuid (DB_VMS_BY_HOST), or "SEQ:task-uuid" with a
 * 16-hex-digit sequence (DB_TASKS_BY_HOST). Copy the id out of val and
 * load its row.
 */
static int
dup_load(struct store_txn *txn, enum store_db db, const char *val,
    size_t vlen, size_t prefix, const struct api_schema *schema, void *obj,
    struct vm_error *err)
{
	char id[API_UUID_LEN];

	if (vlen != prefix + API_UUID_LEN - 1)
		return 1;
	memcpy(id, val + prefix, API_UUID_LEN - 1);
	id[API_UUID_LEN - 1] = '\0';
	return store_get_obj(txn, db, id, schema, obj, err);
}

int
svc_dup_vm(struct store_txn *txn, const char *val, size_t vlen,
    struct api_vm *vm, struct vm_error *err)
{
	return dup_load(txn, DB_VMS, val, vlen, 0, &api_vm_schema, vm, err);
}

int
svc_dup_task(struct store_txn *txn, const char *val, size_t vlen,
    struct api_task *t, struct vm_error *err)
{
	return dup_load(txn, DB_TASKS, val, vlen, 17, &api_task_schema, t,
	    err);
}

struct rows_ctx {
	const struct ctl *ctl;
	const struct req *req;
	const struct api_schema *schema;
	void (*fixup)(const struct ctl *ctl, void *obj);
	bool (*keep)(const struct req *req, const void *obj);
	void *obj;			/* scratch of schema->size bytes */
	json_object *items;
	size_t limit, n;
	char last[REQ_PARAM_MAX];
	bool more;
};

static int
rows_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct rows_ctx *c = arg;

	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (api_decode_text(c->schema, val, vlen, c->obj, API_STORED, err) < 0)
		return -1;
	if (klen >= sizeof(c->last))
		klen = sizeof(c->last) - 1;
	memcpy(c->last, key, klen);
	c->last[klen] = '\0';
	if (c->keep != NULL && !c->keep(c->req, c->obj))
		return 0;
	if (c->fixup != NULL)
		c->fixup(c->ctl, c->obj);
	json_object_array_add(c->items, api_encode(c->schema, c->obj));
	c->n++;
	return 0;
}

int
svc_list_rows(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema,
    void (*fixup)(const struct ctl *ctl, void *obj),
    bool (*keep)(const struct req *req, const void *obj))
{
	struct rows_ctx c;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };

	memset(&c, 0, sizeof(c));
	c.ctl = req->ctl;
	c.req = req;
	c.schema = schema;
	c.fixup = fixup;
	c.keep = keep;
	c.obj = xmalloc(schema->size);
	if (svc_list_limit(req, &c.limit, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	c.items = json_object_new_array();
	if (store_iter(txn, db, req_query(req, "after"), rows_cb, &c,
	    &err) < 0)
		goto fail;
	store_txn_abort(txn);
	free(c.obj);
	resp_json(resp, 200, svc_list_envelope(c.items, c.more ? c.last :
	    NULL));
	return HANDLER_DONE;
fail:
	free(c.obj);
	json_object_put(c.items);
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

static void
host_fixup(const struct ctl *ctl, void *obj)
{
	svc_host_state(ctl, obj);
}

int
svc_host_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_HOSTS, &api_host_schema,
	    host_fixup, NULL);
}

int
svc_show_row(struct req *req, struct resp *resp, enum store_db db,
    const struct api_schema *schema, const char *what,
    void (*fixup)(const struct ctl *ctl, void *obj))
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	void *obj = xmalloc(schema->size);
	int rc;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	rc = store_get_obj(txn, db, req->params[0], schema, obj, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ENOTFOUND, "%s '%.64s' not found", what,
		    req->params[0]);
		goto fail;
	}
	store_txn_abort(txn);
	if (fixup != NULL)
		fixup(req->ctl, obj);
	resp_json(resp, 200, api_encode(schema, obj));
	free(obj);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	free(obj);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_host_show(struct req *req, struct resp *resp)
{
	return svc_show_row(req, resp, DB_HOSTS, &api_host_schema, "host",
	    host_fixup);
}

int
svc_commit(struct req *req, struct store_txn *txn, int status,
    struct vm_error *err, const char *object_fmt, ...)
{
	struct api_audit_event ev;
	va_list ap;

	va_start(ap, object_fmt);
	vsnprintf(req->audit_object, sizeof(req->audit_object), object_fmt,
	    ap);
	va_end(ap);
	req_audit_fill(req, status, NULL, &ev);
	if (auditlog_headroom(req, err) < 0 ||
	    audit_append(txn, &ev, err) < 0) {
		store_txn_abort(txn);
		return -1;
	}
	if (store_txn_commit(txn, err) < 0)
		return -1;
	req->audited = true;
	return 0;
}
