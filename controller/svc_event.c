/*
 * Events and reconcile: what the controller notices in agent heartbeats
 * without being asked, kept in DB_EVENTS under a time-ordered key (a
 * store sequence in 16 hex digits) with bounded retention ([events]
 * keep: the oldest go in the same transaction as the newest). The
 * heartbeat handler (svc_agent.c) calls svc_reconcile_vanished() and
 * svc_reconcile_unknown() inside its own transaction; GET /v1/events
 * lists them, scoped like VMs (host-level events have no agency: only
 * callers who see everything get them).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

/* ------------------------------------------------------------ append */

struct trim_ctx {
	size_t drop;
	char (*keys)[API_EVENT_ID_LEN];
	size_t n;
};

static int
trim_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct trim_ctx *t = arg;

	(void)val;
	(void)vlen;
	(void)err;
	if (t->n == t->drop)
		return 1;
	if (klen < API_EVENT_ID_LEN) {
		memcpy(t->keys[t->n], key, klen);
		t->keys[t->n][klen] = '\0';
		t->n++;
	}
	return 0;
}

int
svc_event_add(const struct ctl *ctl, struct store_txn *txn, int type,
    const char *host, const struct api_vm *vm, const char *dom_id,
    struct vm_error *err, const char *fmt, ...)
{
	struct api_event ev;
	struct trim_ctx t = { 0, NULL, 0 };
	uint64_t seq;
	size_t n = 0, i;
	va_list ap;
	int ret = -1;

	memset(&ev, 0, sizeof(ev));
	if (store_seq_next(txn, "events", &seq, err) < 0)
		return -1;
	snprintf(ev.id, sizeof(ev.id), "%016" PRIx64, seq);
	ev.time = now_ms();
	ev.type = type;
	str_copy(ev.host, sizeof(ev.host), host);
	if (vm != NULL) {
		str_copy(ev.vm_id, sizeof(ev.vm_id), vm->id);
		str_copy(ev.vm_name, sizeof(ev.vm_name), vm->name);
		str_copy(ev.agency, sizeof(ev.agency), vm->agency);
	} else if (dom_id != NULL) {
		str_copy(ev.vm_id, sizeof(ev.vm_id), dom_id);
	}
	va_start(ap, fmt);
	vsnprintf(ev.message, sizeof(ev.message), fmt, ap);
	va_end(ap);
	if (store_put_obj(txn, DB_EVENTS, ev.id, &api_event_schema, &ev, 0,
	    err) < 0 || store_count(txn, DB_EVENTS, &n, err) < 0)
		return -1;
	log_info("event %s: %s%s%s: %s", api_event_type_names[type], host,
	    vm != NULL ? " vm " : "", vm != NULL ? vm->name : "", ev.message);
	if (n <= (size_t)ctl->cfg.events_keep)
		return 0;
	t.drop = n - (size_t)ctl->cfg.events_keep;
	t.keys = xcalloc(t.drop, sizeof(*t.keys));
	if (store_iter(txn, DB_EVENTS, NULL, trim_cb, &t, err) < 0)
		goto cleanup;
	for (i = 0; i < t.n; i++)
		if (store_del(txn, DB_EVENTS, t.keys[i], NULL, err) < 0)
			goto cleanup;
	ret = 0;
cleanup:
	free(t.keys);
	return ret;
}

/* ------------------------------------------------------------ reconcile */

int
svc_reconcile_vanished(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, bool *wake, struct vm_error *err)
{
	struct api_operation op;
	const char *was = api_vm_state_names[vm->state];

	if (vm->ha == VM_HA_RESTART && vm->desired == DESIRED_RUNNING) {
		vm->generation++;
		vm->state = VM_PENDING;
		snprintf(vm->error, sizeof(vm->error), "domain vanished from "
		    "host %s (was %s): re-defined and started (ha restart)",
		    host, was);
		if (svc_vm_enqueue(txn, vm, OPA_CREATE, &op, err) < 0)
			return -1;
		*wake = true;
	} else {
		vm->state = VM_ERROR;
		snprintf(vm->error, sizeof(vm->error), "domain vanished from "
		    "host %s (was %s): marked error (ha %s, desired %s)", host,
		    was, api_vm_ha_names[vm->ha],
		    api_vm_desired_names[vm->desired]);
	}
	if (svc_vm_save(txn, vm, err) < 0)
		return -1;
	return svc_event_add(ctl, txn, EVENT_DOMAIN_VANISHED, host, vm, NULL,
	    err, "%s", vm->error);
}

struct unknown_ctx {
	const struct api_heartbeat *hb;
	size_t plen;			/* strlen("host/") */
	char (*gone)[API_NAME_MAX + API_UUID_LEN];
	size_t ngone, capgone;
};

static int
dom_cmp(const void *a, const void *b)
{
	return strcmp(((const struct api_domain *)a)->id,
	    ((const struct api_domain *)b)->id);
}

/* Entries of this host whose domain the heartbeat no longer lists. */
static int
unknown_gone_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct unknown_ctx *u = arg;
	struct api_domain probe = { .id = "" };
	char k[API_NAME_MAX + API_UUID_LEN];

	(void)val;
	(void)vlen;
	(void)err;
	if (klen >= sizeof(k))
		return 0;
	memcpy(k, key, klen);
	k[klen] = '\0';
	if (klen < u->plen || strncmp(k, u->hb->host, u->plen - 1) != 0 ||
	    k[u->plen - 1] != '/')
		return 1;		/* past this host's keys */
	str_copy(probe.id, sizeof(probe.id), k + u->plen);
	if (bsearch(&probe, u->hb->domains, u->hb->ndomains,
	    sizeof(*u->hb->domains), dom_cmp) != NULL)
		return 0;
	if (u->ngone == u->capgone) {
		u->capgone = u->capgone ? u->capgone * 2 : 16;
		u->gone = xrealloc(u->gone, u->capgone * sizeof(*u->gone));
	}
	memcpy(u->gone[u->ngone++], k, klen + 1);
	return 0;
}

/*
 * What one host can make the controller store about domains it runs that
 * are no VM of ours (issue 8): at most UNKNOWN_NEW_PER_HB new rows per
 * heartbeat and UNKNOWN_MAX_PER_HOST rows in all, so a host (or a stolen
 * host token) listing thousands of made-up domains costs a bounded number
 * of rows and unknown_domain events; the rest are counted in the log and
 * tracked in later heartbeats as rows free up.
 */
#define UNKNOWN_NEW_PER_HB	32
#define UNKNOWN_MAX_PER_HOST	256

struct unknown_count {
	size_t plen;
	const char *host;
	size_t n;
};

static int
unknown_count_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct unknown_count *c = arg;

	(void)val;
	(void)vlen;
	(void)err;
	if (klen < c->plen || strncmp(key, c->host, c->plen - 1) != 0 ||
	    key[c->plen - 1] != '/')
		return 1;		/* past this host's keys */
	c->n++;
	return 0;
}

/* hb->domains must be sorted by id (the heartbeat handler sorts them). */
int
svc_reconcile_unknown(const struct ctl *ctl, struct store_txn *txn,
    const struct api_heartbeat *hb, struct vm_error *err)
{
	struct unknown_ctx u;
	struct unknown_count cnt;
	struct api_vm vm;
	char key[API_NAME_MAX + API_UUID_LEN], *mark = NULL, prefix[80];
	size_t i, added = 0, skipped = 0;
	int rc, vrc, ret = -1;

	memset(&u, 0, sizeof(u));
	if (!hb->full)
		return 0;
	snprintf(prefix, sizeof(prefix), "%s.", hb->host);
	cnt.plen = strlen(hb->host) + 1;
	cnt.host = hb->host;
	cnt.n = 0;
	if (store_iter(txn, DB_UNKNOWN_DOMS, prefix, unknown_count_cb, &cnt,
	    err) < 0)
		goto cleanup;
	for (i = 0; i < hb->ndomains; i++) {
		const char *id = hb->domains[i].id;

		/* The placement row ("HOST ...") says where a VM is without
		 * decoding the VM; a VM with none is looked at whole. */
		free(mark);
		mark = NULL;
		vrc = store_get(txn, DB_PLACEMENTS, id, &mark, NULL, err);
		if (vrc < 0)
			goto cleanup;
		if (vrc == 0 && strncmp(mark, hb->host, strlen(hb->host)) == 0 &&
		    mark[strlen(hb->host)] == ' ')
			continue;
		vrc = store_get_obj(txn, DB_VMS, id, &api_vm_schema, &vm, err);
		if (vrc < 0)
			goto cleanup;
		if (vrc == 0 && strcmp(vm.host, hb->host) == 0)
			continue;
		snprintf(key, sizeof(key), "%s/%s", hb->host, id);
		free(mark);
		mark = NULL;
		rc = store_get(txn, DB_UNKNOWN_DOMS, key, &mark, NULL, err);
		if (rc < 0)
			goto cleanup;
		if (rc == 1) {
			char first[48];

			if (added == UNKNOWN_NEW_PER_HB ||
			    cnt.n >= UNKNOWN_MAX_PER_HOST) {
				skipped++;
				continue;
			}
			added++;
			cnt.n++;
			snprintf(first, sizeof(first), "pending %" PRId64,
			    hb->seq);
			if (store_put(txn, DB_UNKNOWN_DOMS, key, first,
			    strlen(first), 0, err) < 0)
				goto cleanup;
			continue;
		}
		if (strcmp(mark, "raised") == 0)
			continue;
		if (store_put(txn, DB_UNKNOWN_DOMS, key, "raised", 6, 0,
		    err) < 0 ||
		    svc_event_add(ctl, txn, EVENT_UNKNOWN_DOMAIN, hb->host,
		    NULL, id, err, "domain %s on host %s (%s) is not a VM of "
		    "this controller on this host%s%s: left alone", id,
		    hb->host, api_dom_state_names[hb->domains[i].state],
		    vrc == 0 ? "; VM placed on " : "", vrc == 0 ? vm.host :
		    "") < 0)
			goto cleanup;
	}
	if (skipped > 0)
		log_warnx("host %s: %zu unknown domains not tracked in this "
		    "heartbeat (at most %d new per heartbeat, %d per host)",
		    hb->host, skipped, UNKNOWN_NEW_PER_HB,
		    UNKNOWN_MAX_PER_HOST);
	/* Forget domains no longer listed: if one comes back, it is news.
	 * "host." sorts just before "host/" ('.' < '/'; names have no '.'). */
	u.hb = hb;
	u.plen = strlen(hb->host) + 1;
	if (store_iter(txn, DB_UNKNOWN_DOMS, prefix, unknown_gone_cb, &u,
	    err) < 0)
		goto cleanup;
	for (i = 0; i < u.ngone; i++)
		if (store_del(txn, DB_UNKNOWN_DOMS, u.gone[i], NULL, err) < 0)
			goto cleanup;
	ret = 0;
cleanup:
	free(mark);
	free(u.gone);
	return ret;
}

int
svc_reconcile_crashed(const struct ctl *ctl, struct store_txn *txn,
    struct api_vm *vm, const char *host, bool *wake, struct vm_error *err)
{
	struct api_operation op;

	if (vm->on_crash == ON_CRASH_RESTART &&
	    vm->desired == DESIRED_RUNNING) {
		vm->generation++;
		vm->state = VM_CRASHED;
		snprintf(vm->error, sizeof(vm->error), "guest crashed on host "
		    "%s: restarted (on_crash restart)", host);
		if (svc_vm_enqueue(txn, vm, OPA_START, &op, err) < 0)
			return -1;
		*wake = true;
	} else {
		vm->state = VM_CRASHED;
		snprintf(vm->error, sizeof(vm->error), "guest crashed on host "
		    "%s: left crashed (on_crash %s%s)", host,
		    api_vm_on_crash_names[vm->on_crash],
		    vm->desired == DESIRED_RUNNING ? "" : ", not desired "
		    "running");
	}
	if (svc_vm_save(txn, vm, err) < 0)
		return -1;
	return svc_event_add(ctl, txn, EVENT_CRASHED, host, vm, NULL, err,
	    "%s", vm->error);
}

/* ------------------------------------------------------------ list */

struct list_ctx {
	const struct req *req;
	const char *vm, *host;
	int type;			/* -1 = any */
	size_t limit, n;
	bool more;
	char last[API_EVENT_ID_LEN];
	json_object *items;
};

static int
list_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct list_ctx *c = arg;
	struct api_event ev;

	(void)key;
	(void)klen;
	if (c->n == c->limit) {
		c->more = true;
		return 1;
	}
	if (api_decode_text(&api_event_schema, val, vlen, &ev, API_STORED,
	    err) < 0)
		return -1;
	if (!auth_scope_ok(&c->req->who, ev.agency) ||
	    (c->type >= 0 && ev.type != c->type) ||
	    (c->host != NULL && strcmp(c->host, ev.host) != 0) ||
	    (c->vm != NULL && strcmp(c->vm, ev.vm_id) != 0 &&
	    strcmp(c->vm, ev.vm_name) != 0))
		return 0;
	json_object_array_add(c->items, api_encode(&api_event_schema, &ev));
	str_copy(c->last, sizeof(c->last), ev.id);
	c->n++;
	return 0;
}

/* GET /v1/events?vm=&host=&type=&limit=&after=, oldest first. */
int
svc_event_list(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct list_ctx c;
	const char *q;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.type = -1;
	c.vm = req_query(req, "vm");
	c.host = req_query(req, "host");
	if (svc_list_limit(req, &c.limit, &err) < 0)
		goto fail;
	if ((c.vm != NULL && !uuid_valid(c.vm) && !api_name_valid(c.vm)) ||
	    (c.host != NULL && !api_name_valid(c.host))) {
		vm_error_set(&err, API_EINVAL, "vm: a VM name or uuid; host: a "
		    "host name");
		goto fail;
	}
	if ((q = req_query(req, "type")) != NULL &&
	    (c.type = api_enum_index(api_event_type_names, q)) < 0) {
		vm_error_set(&err, API_EINVAL, "type: one of unknown_domain, "
		    "domain_vanished, state_drift, crashed");
		goto fail;
	}
	if ((q = req_query(req, "after")) != NULL && (strlen(q) !=
	    API_EVENT_ID_LEN - 1 || strspn(q, "0123456789abcdef") !=
	    API_EVENT_ID_LEN - 1)) {
		vm_error_set(&err, API_EINVAL, "after: the id of an event (16 "
		    "hex digits)");
		goto fail;
	}
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	c.items = json_object_new_array();
	if (store_iter(txn, DB_EVENTS, q, list_cb, &c, &err) < 0)
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
