/*
 * svc_audit.c: GET /v1/audit and GET /v1/audit/verify. Authorization
 * (admin, operator, global viewer) is done by the server through the
 * route's RES_AUDIT rule before these run. Both read in one read
 * transaction; the chain itself is controller/audit.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_priv.h"
#include "errors.h"
#include "svc.h"
#include "util.h"

/* The filters of GET /v1/audit, all optional. */
struct audit_filter {
	int64_t since, until;		/* since <= time < until; 0 = open */
	const char *agency, *user;	/* exact match; NULL = any */
};

struct list_ctx {
	const struct audit_filter *f;
	size_t limit, n;
	int64_t last;			/* seq of the last item listed */
	bool more;
	json_object *items;
	struct api_audit_event ev;	/* scratch */
};

static bool
filter_match(const struct audit_filter *f, const struct api_audit_event *ev)
{
	if (f->since != 0 && ev->time < f->since)
		return false;
	if (f->until != 0 && ev->time >= f->until)
		return false;
	if (f->agency != NULL && strcmp(ev->agency, f->agency) != 0)
		return false;
	if (f->user != NULL && strcmp(ev->user, f->user) != 0)
		return false;
	return true;
}

/* Whatever the stored bytes were: printable ASCII only in the answer. */
static void
ascii_only(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

/*
 * An entry that does not decode is listed, not fatal: an item with its
 * seq (from the key), corrupt: true and why, so one bad entry does not
 * hide every page that covers it; GET /v1/audit/verify names it too.
 * Filters cannot apply to it: it is listed whatever they are.
 */
static void
list_corrupt(struct list_ctx *c, const char *key, size_t klen,
    const char *why)
{
	json_object *o = json_object_new_object();
	char k[17];
	long long seq = 0;

	memset(k, 0, sizeof(k));
	memcpy(k, key, klen < 16 ? klen : 16);
	if (sscanf(k, "%llx", &seq) != 1)
		seq = 0;
	json_object_object_add(o, "seq", json_object_new_int64(seq));
	json_object_object_add(o, "corrupt", json_object_new_boolean(1));
	json_object_object_add(o, "message", json_object_new_string(why));
	json_object_array_add(c->items, o);
	c->last = seq;
	c->n++;
}

static int
list_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct list_ctx *c = arg;
	struct vm_error derr = { 0, "" };
	json_object *o;

	(void)err;
	if (api_decode_text(&api_audit_event_schema, val, vlen, &c->ev,
	    API_STORED, &derr) < 0) {
		char why[API_TEXT_MAX];

		if (c->n == c->limit) {
			c->more = true;
			return 1;
		}
		snprintf(why, sizeof(why), "this entry does not decode (GET "
		    "/v1/audit/verify tells more): %.200s", derr.message);
		ascii_only(why);
		list_corrupt(c, key, klen, why);
		return 0;
	}
	if (!filter_match(c->f, &c->ev))
		return 0;
	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (c->ev.count < 1)
		c->ev.count = 1;	/* stored without: one request */
	o = api_encode(&api_audit_event_schema, &c->ev);
	json_object_object_del(o, "corrupt");	/* only on corrupt items */
	json_object_array_add(c->items, o);
	c->last = c->ev.seq;
	c->n++;
	return 0;
}

/* ?since= / ?until=: ISO-8601 UTC. */
static int
query_time(struct req *req, const char *key, int64_t *out,
    struct vm_error *err)
{
	const char *s = req_query(req, key);

	*out = 0;
	if (s == NULL)
		return 0;
	if (time_parse(s, out) < 0 || *out <= 0) {
		vm_error_set(err, API_EINVAL, "%s: '%.40s' is not an ISO-8601 "
		    "UTC time (e.g. 2026-11-22T00:36:16Z)", key, s);
		return -1;
	}
	return 0;
}

/* ?agency= / ?user=: a name. */
static int
query_name(struct req *req, const char *key, const char **out,
    struct vm_error *err)
{
	const char *s = req_query(req, key);

	*out = s;
	if (s != NULL && !api_name_valid(s)) {
		vm_error_set(err, API_EINVAL, "%s: '%.64s' is not a valid name",
		    key, s);
		return -1;
	}
	return 0;
}

/* ?after=SEQ (the "next" of the previous page) into a DB_AUDIT key. */
static int
query_after(struct req *req, char key[17], struct vm_error *err)
{
	const char *s = req_query(req, "after");
	char *end = NULL;
	long long v;

	key[0] = '\0';
	if (s == NULL)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 0) {
		vm_error_set(err, API_EINVAL, "after: '%.40s' is not an event "
		    "seq (use the \"next\" of the previous page)", s);
		return -1;
	}
	if (v > 0)
		audit_key(v, key);
	return 0;
}

int
svc_audit_list(struct req *req, struct resp *resp)
{
	struct audit_filter f;
	struct list_ctx *c = xcalloc(1, sizeof(*c));
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	char after[17], next[24];

	memset(&f, 0, sizeof(f));
	if (svc_list_limit(req, &c->limit, &err) < 0 ||
	    query_after(req, after, &err) < 0 ||
	    query_time(req, "since", &f.since, &err) < 0 ||
	    query_time(req, "until", &f.until, &err) < 0 ||
	    query_name(req, "agency", &f.agency, &err) < 0 ||
	    query_name(req, "user", &f.user, &err) < 0)
		goto fail;
	if (f.since != 0 && f.until != 0 && f.since > f.until) {
		vm_error_set(&err, API_EINVAL, "since: after until");
		goto fail;
	}
	c->f = &f;
	c->items = json_object_new_array();
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	if (store_iter(txn, DB_AUDIT, after[0] ? after : NULL, list_cb, c,
	    &err) < 0)
		goto fail;
	store_txn_abort(txn);
	snprintf(next, sizeof(next), "%lld", (long long)c->last);
	resp_json(resp, 200, svc_list_envelope(c->items, c->more ? next :
	    NULL));
	free(c);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	json_object_put(c->items);
	free(c);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_audit_verify(struct req *req, struct resp *resp)
{
	struct api_audit_verify v;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	json_object *o;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    audit_verify(txn, &v, &err) < 0) {
		store_txn_abort(txn);
		resp_error(resp, &err);
		return HANDLER_DONE;
	}
	store_txn_abort(txn);
	o = api_encode(&api_audit_verify_schema, &v);
	/* The contract says first_bad: seq|null. */
	if (v.first_bad == 0)
		json_object_object_add(o, "first_bad", NULL);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
}
