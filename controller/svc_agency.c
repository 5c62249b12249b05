/*
 * Agency services: agencies, their quotas and usage, and the VM lifetime
 * records behind chargeback (VM-hours). Usage changes only through
 * svc_quota_claim(), called inside the write transaction that creates or
 * removes the VM, so it can never drift from the VM rows.
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

/* One VM's life, for VM-hours: [start, end), end 0 = still alive. */
struct vm_lifetime {
	char vm_id[API_UUID_LEN];
	char name[API_NAME_MAX];
	char agency[API_NAME_MAX];
	int64_t vcpus;
	int64_t ram_mib;
	int64_t disk_gib;
	int64_t start;
	int64_t end;
};

static const struct api_field lifetime_fields[] = {
	AFS("vm_id", AF_UUID, AF_REQ, struct vm_lifetime, vm_id),
	AFS("name", AF_NAME, 0, struct vm_lifetime, name),
	AFS("agency", AF_NAME, 0, struct vm_lifetime, agency),
	AFI("vcpus", 0, struct vm_lifetime, vcpus, 0, INT64_MAX),
	AFI("ram_mib", 0, struct vm_lifetime, ram_mib, 0, INT64_MAX),
	AFI("disk_gib", 0, struct vm_lifetime, disk_gib, 0, INT64_MAX),
	AFT("start", 0, struct vm_lifetime, start),
	AFT("end", 0, struct vm_lifetime, end),
};

static const struct api_schema lifetime_schema = {
	"lifetime", lifetime_fields, ARRAY_SIZE(lifetime_fields),
	sizeof(struct vm_lifetime), NULL
};

int
svc_lifetime_start(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	struct vm_lifetime l;

	memset(&l, 0, sizeof(l));
	str_copy(l.vm_id, sizeof(l.vm_id), vm->id);
	str_copy(l.name, sizeof(l.name), vm->name);
	str_copy(l.agency, sizeof(l.agency), vm->agency);
	l.vcpus = vm->vcpus;
	l.ram_mib = vm->ram_mib;
	l.disk_gib = vm->disk_gib;
	l.start = vm->created_at;
	return store_put_obj(txn, DB_VM_LIFETIMES, l.vm_id, &lifetime_schema,
	    &l, 0, err);
}

int
svc_lifetime_end(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	struct vm_lifetime l;
	int rc;

	rc = store_get_obj(txn, DB_VM_LIFETIMES, vm_id, &lifetime_schema, &l,
	    err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	l.end = now_ms();
	return store_put_obj(txn, DB_VM_LIFETIMES, vm_id, &lifetime_schema, &l,
	    0, err);
}

static int64_t *
qfield(struct api_quota *q, size_t i)
{
	return (int64_t *)(void *)((char *)q + api_quota_fields[i].off);
}

int
svc_quota_claim(struct store_txn *txn, const char *agency,
    const struct api_quota *delta, struct vm_error *err)
{
	struct api_agency a;
	struct api_quota d = *delta;
	size_t i;
	int rc;

	rc = store_get_obj(txn, DB_AGENCIES, agency, &api_agency_schema, &a,
	    err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		vm_error_set(err, API_EINVAL, "agency '%s' does not exist",
		    agency);
		return -1;
	}
	for (i = 0; i < api_quota_nfields; i++) {
		int64_t lim = *qfield(&a.quota, i), use = *qfield(&a.usage, i);
		int64_t want = *qfield(&d, i);

		if (want > 0 && lim != QUOTA_UNLIMITED && use + want > lim) {
			vm_error_set(err, API_EQUOTA,
			    "quota of agency %s exceeded for %s: limit %lld, "
			    "in use %lld, requested %lld", agency,
			    api_quota_fields[i].name, (long long)lim,
			    (long long)use, (long long)want);
			return -1;
		}
		use += want;
		*qfield(&a.usage, i) = use < 0 ? 0 : use;
	}
	return store_put_obj(txn, DB_AGENCIES, agency, &api_agency_schema, &a,
	    0, err);
}

/* Quota fields present in the JSON sub-object `key` of the body. */
static int
quota_overlay(const char *body, size_t len, const char *key,
    struct api_quota *q, struct vm_error *err)
{
	json_object *o, *sub = NULL, *v = NULL;
	size_t i;

	o = json_parse(body, len, API_EMALFORMED, err);
	if (o == NULL)
		return -1;
	if (key != NULL && !json_object_object_get_ex(o, key, &sub)) {
		json_object_put(o);
		return 0;
	}
	if (key == NULL)
		sub = o;
	for (i = 0; i < api_quota_nfields && sub != NULL; i++) {
		if (json_object_object_get_ex(sub, api_quota_fields[i].name,
		    &v) && v != NULL)
			*qfield(q, i) = json_object_get_int64(v);
	}
	json_object_put(o);
	return 0;
}

/* ------------------------------------------------------------ agencies */

int
svc_agency_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_agency a;
	char rk[API_NAME_MAX + 16], *row = NULL;
	int rc;

	if (svc_body(req, &api_agency_schema, &a, &err) < 0)
		goto fail;
	/* Absent quota fields get the defaults, not 0. */
	api_quota_defaults(&a.quota);
	if (quota_overlay(req->body, req->body_len, "quota", &a.quota,
	    &err) < 0)
		goto fail;
	memset(&a.usage, 0, sizeof(a.usage));
	uuid_new(a.id);
	a.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	/* A deleted agency's name is never given to a new one. */
	snprintf(rk, sizeof(rk), "retired_agency/%s", a.name);
	rc = store_get(txn, DB_META, rk, &row, NULL, &err);
	free(row);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		vm_error_set(&err, API_ECONFLICT, "agency name '%s' belonged "
		    "to a deleted agency and is not reused (its audit trail "
		    "and usage keep that name): choose another", a.name);
		goto fail;
	}
	rc = store_put_obj(txn, DB_AGENCIES, a.name, &api_agency_schema, &a,
	    STORE_NOOVERWRITE, &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_ECONFLICT, "agency '%s' already exists",
		    a.name);
		goto fail;
	}
	if (svc_commit(req, txn, 201, &err, "agency %s", a.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 201, api_encode(&api_agency_schema, &a));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

static bool
agency_keep(const struct req *req, const void *obj)
{
	return auth_scope_ok(&req->who, ((const struct api_agency *)obj)->name);
}

int
svc_agency_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_AGENCIES, &api_agency_schema, NULL,
	    agency_keep);
}

/* Agency params[0] within the caller's scope (404 otherwise). */
static int
agency_load(struct req *req, struct store_txn *txn, struct api_agency *a,
    struct vm_error *err)
{
	int rc = store_get_obj(txn, DB_AGENCIES, req->params[0],
	    &api_agency_schema, a, err);

	if (rc < 0)
		return -1;
	if (rc == 1 || !auth_scope_ok(&req->who, a->name)) {
		vm_error_set(err, API_ENOTFOUND, "agency '%.64s' not found",
		    req->params[0]);
		return -1;
	}
	return 0;
}

static int
agency_get(struct req *req, struct resp *resp, bool quota_only)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_agency a;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    agency_load(req, txn, &a, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, quota_only ? api_encode(&api_quota_schema,
	    &a.quota) : api_encode(&api_agency_schema, &a));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_agency_show(struct req *req, struct resp *resp)
{
	return agency_get(req, resp, false);
}

int
svc_quota_show(struct req *req, struct resp *resp)
{
	return agency_get(req, resp, true);
}

static int
count_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(void)err;
	(*(size_t *)arg)++;
	return 0;
}

int
svc_agency_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_agency a;
	size_t vms = 0, users = 0, imgs = 0, nets = 0, vols = 0, grps = 0;
	char rk[API_NAME_MAX + 16];

	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    agency_load(req, txn, &a, &err) < 0)
		goto fail;
	/* Nothing may outlive its agency (item: leftovers handed to the
	 * next agency of that name): everything it owns is counted. */
	if (store_iter_dups(txn, DB_VMS_BY_AGENCY, a.name, count_cb, &vms,
	    &err) < 0 ||
	    store_iter_dups(txn, DB_USERS_BY_AGENCY, a.name, count_cb, &users,
	    &err) < 0 ||
	    svc_name_count(txn, NAME_IMAGE, a.name, &imgs, &err) < 0 ||
	    svc_name_count(txn, NAME_NETWORK, a.name, &nets, &err) < 0 ||
	    svc_name_count(txn, NAME_VOLUME, a.name, &vols, &err) < 0 ||
	    svc_name_count(txn, NAME_GROUP, a.name, &grps, &err) < 0)
		goto fail;
	if (vms + users + imgs + nets + vols + grps > 0) {
		vm_error_set(&err, API_ECONFLICT,
		    "agency %s still has %zu VMs, %zu volumes, %zu images, "
		    "%zu networks, %zu server groups and %zu users: delete "
		    "them first (vmctl vm|volume|image|network|group list "
		    "--agency %s; vmctl user list)", a.name, vms, vols, imgs,
		    nets, grps, users, a.name);
		goto fail;
	}
	/* The name is retired: audit events, chargeback lifetimes and
	 * events keep naming the old agency, so no new agency may take it. */
	snprintf(rk, sizeof(rk), "retired_agency/%s", a.name);
	if (store_del(txn, DB_AGENCIES, a.name, NULL, &err) < 0 ||
	    store_put(txn, DB_META, rk, a.id[0] ? a.id : "-",
	    a.id[0] ? strlen(a.id) : 1, 0, &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 204, &err, "agency %s", a.name) < 0) {
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

int
svc_quota_set(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_quota in;
	struct api_agency a;
	json_object *o, *over;
	size_t i;

	if (svc_body(req, &api_quota_schema, &in, &err) < 0)
		goto fail;
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    agency_load(req, txn, &a, &err) < 0)
		goto fail;
	/* Fields left out keep their current limit. */
	if (quota_overlay(req->body, req->body_len, NULL, &a.quota, &err) < 0)
		goto fail;
	if (store_put_obj(txn, DB_AGENCIES, a.name, &api_agency_schema, &a, 0,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 200, &err, "quota of agency %s",
	    a.name) < 0) {
		txn = NULL;
		goto fail;
	}
	o = api_encode(&api_agency_schema, &a);
	over = json_object_new_array();
	for (i = 0; i < api_quota_nfields; i++) {
		int64_t lim = *qfield(&a.quota, i);

		if (lim != QUOTA_UNLIMITED && *qfield(&a.usage, i) > lim)
			json_object_array_add(over, json_object_new_string(
			    api_quota_fields[i].name));
	}
	if (json_object_array_length(over) > 0)
		log_info("agency %s: quota set below usage for %zu resources; "
		    "new allocations are blocked", a.name,
		    json_object_array_length(over));
	json_object_object_add(o, "over", over);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ usage */

struct usage_ctx {
	const char *agency;
	int64_t from, to;
	struct api_usage_report *r;
	bool overflow;			/* a total would not fit */
};

/* *acc += ms * a / div, false (and *acc unchanged) on overflow. */
static bool
usage_add(int64_t *acc, int64_t ms, int64_t a, int64_t div)
{
	int64_t p, sum;

	if (a < 0 || __builtin_mul_overflow(ms, a, &p) ||
	    __builtin_add_overflow(*acc, p / div, &sum))
		return false;
	*acc = sum;
	return true;
}

/*
 * Add ms * amount in thousandths of hours (x GiB for RAM/disk), over the
 * part of the VM's lifetime inside [from, to] (to is at most now, so a
 * running VM counts until now, never into the future). Checked: a total
 * that would overflow int64 makes the report a 400, never a negative
 * number.
 */
static int
usage_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct usage_ctx *c = arg;
	struct api_usage_report *r = c->r;
	struct vm_lifetime l;
	int64_t s, e, ms;

	(void)key;
	(void)klen;
	if (api_decode_text(&lifetime_schema, val, vlen, &l, API_STORED,
	    err) < 0)
		return -1;
	if (strcmp(l.agency, c->agency) != 0)
		return 0;
	s = l.start > c->from ? l.start : c->from;
	e = l.end == 0 || l.end > c->to ? c->to : l.end;
	if (e <= s)
		return 0;
	ms = e - s;
	/* ms / 3600 = thousandths of an hour */
	if (!usage_add(&r->vm_hours_milli, ms, 1, 3600) ||
	    !usage_add(&r->vcpu_hours_milli, ms, l.vcpus, 3600) ||
	    !usage_add(&r->ram_gib_hours_milli, ms, l.ram_mib, 1024 * 3600) ||
	    !usage_add(&r->disk_gib_hours_milli, ms, l.disk_gib, 3600)) {
		c->overflow = true;
		return 1;
	}
	return 0;
}

int
svc_usage_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_usage_report r;
	struct api_agency a;
	struct usage_ctx c;
	const char *fs = req_query(req, "from"), *ts = req_query(req, "to");

	memset(&r, 0, sizeof(r));
	r.to = now_ms();
	r.from = r.to - 30LL * 24 * 3600 * 1000;
	if ((fs != NULL && time_parse(fs, &r.from) < 0) ||
	    (ts != NULL && time_parse(ts, &r.to) < 0)) {
		vm_error_set(&err, API_EINVAL,
		    "from/to: ISO-8601 UTC times like 2026-11-01T00:00:00Z");
		goto fail;
	}
	if (r.to <= r.from) {
		vm_error_set(&err, API_EINVAL, "from must be before to");
		goto fail;
	}
	/* Usage is what happened: the period ends now at the latest. */
	if (r.from >= now_ms()) {
		vm_error_set(&err, API_EINVAL, "from: in the future (usage is "
		    "reported up to now)");
		goto fail;
	}
	if (r.to > now_ms())
		r.to = now_ms();
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    agency_load(req, txn, &a, &err) < 0)
		goto fail;
	str_copy(r.agency, sizeof(r.agency), a.name);
	/* Nothing is billed before the agency existed (and the period
	 * always has a start to show: a time of 0 encodes as null). */
	if (a.created_at > 0 && r.from < a.created_at)
		r.from = a.created_at;
	if (r.from <= 0)
		r.from = 1;
	if (r.from > r.to)
		r.from = r.to;
	r.quota = a.quota;
	r.usage = a.usage;
	c.agency = a.name;
	c.from = r.from;
	c.to = r.to;
	c.r = &r;
	c.overflow = false;
	if (store_iter(txn, DB_VM_LIFETIMES, NULL, usage_cb, &c, &err) < 0)
		goto fail;
	if (c.overflow) {
		vm_error_set(&err, API_EINVAL, "from/to: the totals of this "
		    "period do not fit in 64 bits; ask for a shorter period");
		goto fail;
	}
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_usage_report_schema, &r));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
