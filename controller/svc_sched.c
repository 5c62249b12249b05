/*
 * Scheduling services: the bridge between the store and the pure
 * scheduler (scheduler.c). svc_sched_load() takes a snapshot of hosts and
 * placed VMs inside the caller's transaction; the create handler places
 * and claims in that same transaction. Also the read-only views built on
 * it: the placement dry run (GET /v1/placement), site capacity and N+1
 * (GET /v1/sites), and host maintenance (POST /v1/hosts/{name}/maintenance).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

void
svc_sched_config(const struct ctl *ctl, struct sched_config *cfg)
{
	sched_config_defaults(cfg);
	cfg->cpu_ratio = ctl->cfg.sched_cpu_ratio;
	cfg->ram_ratio = ctl->cfg.sched_ram_ratio;
	cfg->disk_ratio = ctl->cfg.sched_disk_ratio;
	cfg->weigher = ctl->cfg.sched_weigher;
	cfg->tolerate_host_failures = (int)ctl->cfg.sched_tolerate;
}

/*
 * Decoded host rows by position in the last walk of DB_HOSTS, with the
 * stored text they came from: a row whose text did not change since is
 * copied, not decoded again (decoding every host row was most of a
 * create's scheduler time at 200 hosts). Content-addressed, so nothing
 * has to invalidate it; a host added or removed shifts the slots and
 * costs one decode each. Shared by the request threads: mu.
 */
struct sched_cache {
	pthread_mutex_t mu;
	struct cache_slot {
		char *raw;		/* owned */
		size_t len;
		struct api_host h;
	} *slot;
	size_t n;
};

struct sched_cache *
svc_sched_cache_new(void)
{
	struct sched_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void
svc_sched_cache_free(struct sched_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		free(c->slot[i].raw);
	free(c->slot);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Decode host row val (the idx-th of the walk) into h, through the cache. */
static int
host_decode_cached(struct sched_cache *c, size_t idx, const char *val,
    size_t vlen, struct api_host *h, struct vm_error *err)
{
	struct cache_slot *sl;
	int rc = 0;

	if (c == NULL)
		return api_decode_text(&api_host_schema, val, vlen, h,
		    API_STORED, err);
	pthread_mutex_lock(&c->mu);
	if (idx >= c->n) {
		c->slot = xrealloc(c->slot, (idx + 1) * sizeof(*c->slot));
		memset(&c->slot[c->n], 0, (idx + 1 - c->n) * sizeof(*c->slot));
		c->n = idx + 1;
	}
	sl = &c->slot[idx];
	if (sl->raw != NULL && sl->len == vlen &&
	    memcmp(sl->raw, val, vlen) == 0) {
		*h = sl->h;
	} else if ((rc = api_decode_text(&api_host_schema, val, vlen, h,
	    API_STORED, err)) == 0) {
		free(sl->raw);
		sl->raw = xmalloc(vlen);
		memcpy(sl->raw, val, vlen);
		sl->len = vlen;
		sl->h = *h;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int
snap_host_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct sched_snap *s = arg;
	struct api_host *h;
	struct sched_host *sh;

	(void)key;
	(void)klen;
	if (s->nhosts == s->caphosts) {
		s->caphosts = s->caphosts ? s->caphosts * 2 : 16;
		s->hosts = xrealloc(s->hosts, s->caphosts * sizeof(*s->hosts));
		s->shosts = xrealloc(s->shosts,
		    s->caphosts * sizeof(*s->shosts));
	}
	h = &s->hosts[s->nhosts];
	if (host_decode_cached(s->ctl->sched_cache, s->nhosts, val, vlen, h,
	    err) < 0)
		return -1;
	svc_host_state(s->ctl, h);
	sh = &s->shosts[s->nhosts];
	memset(sh, 0, sizeof(*sh));
	str_copy(sh->name, sizeof(sh->name), h->name);
	str_copy(sh->site, sizeof(sh->site), h->site);
	str_copy(sh->az, sizeof(sh->az), h->az);
	str_copy(sh->labels, sizeof(sh->labels), h->labels);
	str_copy(sh->arch, sizeof(sh->arch), h->arch);
	sh->up = h->state == HOST_UP;
	sh->maintenance = h->maintenance;
	sh->vcpus = h->vcpus;
	sh->ram_mib = h->ram_mib;
	sh->disk_gib = h->disk_gib;
	sh->alloc_vcpus = h->alloc_vcpus;
	sh->alloc_ram_mib = h->alloc_ram_mib;
	sh->alloc_disk_gib = h->alloc_disk_gib;
	s->nhosts++;
	return 0;
}

static struct sched_vm *
snap_vm_add(struct sched_snap *s)
{
	struct sched_vm *v;

	if (s->nvms == s->capvms) {
		s->capvms = s->capvms ? s->capvms * 2 : 64;
		s->vms = xrealloc(s->vms, s->capvms * sizeof(*s->vms));
		s->vm_ids = xrealloc(s->vm_ids,
		    s->capvms * sizeof(*s->vm_ids));
	}
	memset(s->vm_ids[s->nvms], 0, API_UUID_LEN);
	v = &s->vms[s->nvms++];
	memset(v, 0, sizeof(*v));
	return v;
}

/*
 * DB_HOST_HA rows: per host, the sizes of its HA VMs as "V R D N" entries
 * separated by ';' (N VMs of that size), kept by svc_placement_put/_del.
 * The snapshot expands them into HA sched_vms for N+1: a create reads one
 * short row per host, never one row per VM.
 */
struct ha_hist {
	struct ha_size {
		int64_t v, r, d, n;
	} *e;
	size_t n, cap;
};

static int
ha_hist_parse(const char *val, size_t vlen, struct ha_hist *hh,
    struct vm_error *err)
{
	char text[32];
	size_t i = 0, j;

	hh->n = 0;
	while (i < vlen) {
		struct ha_size e;

		for (j = i; j < vlen && val[j] != ';'; j++)
			;
		if (j - i >= sizeof(text))
			goto bad;
		memcpy(text, val + i, j - i);
		text[j - i] = '\0';
		if (sscanf(text, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64,
		    &e.v, &e.r, &e.d, &e.n) != 4 || e.n < 0)
			goto bad;
		if (hh->n == hh->cap) {
			hh->cap = hh->cap ? hh->cap * 2 : 8;
			hh->e = xrealloc(hh->e, hh->cap * sizeof(*hh->e));
		}
		hh->e[hh->n++] = e;
		i = j + 1;
	}
	return 0;
bad:
	vm_error_set(err, API_EINTERNAL, "store: bad host_ha row");
	return -1;
}

/* Add delta VMs of size (v, r, d) to host's HA row in txn. */
static int
ha_hist_adjust(struct store_txn *txn, const char *host, int64_t v, int64_t r,
    int64_t d, int delta, struct vm_error *err)
{
	struct ha_hist hh = { NULL, 0, 0 };
	struct buf out = { NULL, 0, 0 };
	char *val = NULL;
	size_t len = 0, i;
	int rc = -1, g;

	g = store_get(txn, DB_HOST_HA, host, &val, &len, err);
	if (g < 0 || (g == 0 && ha_hist_parse(val, len, &hh, err) < 0))
		goto cleanup;
	for (i = 0; i < hh.n; i++)
		if (hh.e[i].v == v && hh.e[i].r == r && hh.e[i].d == d)
			break;
	if (i == hh.n) {
		if (delta < 0) {
			log_warnx("host %s: no HA VM of %" PRId64 "/%" PRId64
			    "/%" PRId64 " to release", host, v, r, d);
			rc = 0;
			goto cleanup;
		}
		if (hh.n == hh.cap) {
			hh.cap = hh.cap ? hh.cap * 2 : 8;
			hh.e = xrealloc(hh.e, hh.cap * sizeof(*hh.e));
		}
		hh.e[hh.n].v = v;
		hh.e[hh.n].r = r;
		hh.e[hh.n].d = d;
		hh.e[hh.n++].n = 0;
	}
	hh.e[i].n += delta;
	if (hh.e[i].n < 0)
		hh.e[i].n = 0;
	for (i = 0; i < hh.n; i++)
		if (hh.e[i].n > 0)
			buf_printf(&out, "%s%" PRId64 " %" PRId64 " %" PRId64
			    " %" PRId64, out.len ? ";" : "", hh.e[i].v,
			    hh.e[i].r, hh.e[i].d, hh.e[i].n);
	if (out.len == 0)
		rc = store_del(txn, DB_HOST_HA, host, NULL, err) < 0 ? -1 : 0;
	else
		rc = store_put(txn, DB_HOST_HA, host, out.data, out.len, 0,
		    err) < 0 ? -1 : 0;
cleanup:
	buf_free(&out);
	free(hh.e);
	free(val);
	return rc;
}

static int
snap_ha_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct sched_snap *s = arg;
	struct ha_hist hh = { NULL, 0, 0 };
	struct sched_vm *v;
	size_t i;
	int64_t k;

	if (klen >= API_NAME_MAX || ha_hist_parse(val, vlen, &hh, err) < 0) {
		free(hh.e);
		if (err->code == 0)
			vm_error_set(err, API_EINTERNAL, "store: bad host_ha key");
		return -1;
	}
	for (i = 0; i < hh.n; i++)
		for (k = 0; k < hh.e[i].n; k++) {
			v = snap_vm_add(s);
			memcpy(v->host, key, klen);
			v->host[klen] = '\0';
			v->ha = true;
			v->vcpus = hh.e[i].v;
			v->ram_mib = hh.e[i].r;
			v->disk_gib = hh.e[i].d;
		}
	free(hh.e);
	return 0;
}

int
svc_sched_load(const struct ctl *ctl, struct store_txn *txn,
    struct sched_snap *s, struct vm_error *err)
{
	memset(s, 0, sizeof(*s));
	s->ctl = ctl;
	svc_sched_config(ctl, &s->cfg);
	if (store_iter(txn, DB_HOSTS, NULL, snap_host_cb, s, err) < 0 ||
	    store_iter(txn, DB_HOST_HA, NULL, snap_ha_cb, s, err) < 0)
		return -1;
	return 0;
}

/* A placement row "HOST HA VCPUS RAM DISK [GROUP]" into its parts. */
struct placement {
	char host[API_NAME_MAX];
	char group[SVC_KEY_MAX];	/* the group's key "AGENCY/NAME" */
	int ha;
	int64_t vcpus, ram_mib, disk_gib;
};

static int
placement_parse(const char *val, size_t vlen, struct placement *p,
    struct vm_error *err)
{
	char text[384];
	int n;

	memset(p, 0, sizeof(*p));
	if (vlen >= sizeof(text))
		goto bad;
	memcpy(text, val, vlen);
	text[vlen] = '\0';
	n = sscanf(text, "%63s %d %" SCNd64 " %" SCNd64 " %" SCNd64 " %128s",
	    p->host, &p->ha, &p->vcpus, &p->ram_mib, &p->disk_gib, p->group);
	if (n == 5 || n == 6)
		return 0;
bad:
	vm_error_set(err, API_EINTERNAL, "store: bad placement row");
	return -1;
}

/* Every placement row, with its VM id and group (svc_sched_load_full). */
static int
snap_full_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct sched_snap *s = arg;
	struct placement p;
	struct sched_vm *v;

	if (klen >= API_UUID_LEN) {
		vm_error_set(err, API_EINTERNAL, "store: bad placement key");
		return -1;
	}
	if (placement_parse(val, vlen, &p, err) < 0)
		return -1;
	v = snap_vm_add(s);
	memcpy(s->vm_ids[s->nvms - 1], key, klen);
	str_copy(v->host, sizeof(v->host), p.host);
	str_copy(v->server_group, sizeof(v->server_group), p.group);
	v->ha = p.ha != 0;
	v->vcpus = p.vcpus;
	v->ram_mib = p.ram_mib;
	v->disk_gib = p.disk_gib;
	return 0;
}

int
svc_sched_load_full(const struct ctl *ctl, struct store_txn *txn,
    struct sched_snap *s, struct vm_error *err)
{
	memset(s, 0, sizeof(*s));
	s->ctl = ctl;
	svc_sched_config(ctl, &s->cfg);
	if (store_iter(txn, DB_HOSTS, NULL, snap_host_cb, s, err) < 0 ||
	    store_iter(txn, DB_PLACEMENTS, NULL, snap_full_cb, s, err) < 0)
		return -1;
	return 0;
}

struct member_ctx {
	struct store_txn *txn;
	struct sched_snap *s;
	const char *group;
};

static int
snap_member_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct member_ctx *m = arg;
	struct placement p;
	struct sched_vm *v;
	char id[API_UUID_LEN], *row = NULL;
	size_t len = 0;
	int rc;

	(void)key;
	(void)klen;
	if (vlen >= sizeof(id)) {
		vm_error_set(err, API_EINTERNAL, "store: bad group member");
		return -1;
	}
	memcpy(id, val, vlen);
	id[vlen] = '\0';
	rc = store_get(m->txn, DB_PLACEMENTS, id, &row, &len, err);
	if (rc != 0) {
		free(row);
		return rc < 0 ? -1 : 0;	/* not placed: not on any host */
	}
	rc = placement_parse(row, len, &p, err);
	free(row);
	if (rc < 0)
		return -1;
	v = snap_vm_add(m->s);
	str_copy(v->host, sizeof(v->host), p.host);
	str_copy(v->server_group, sizeof(v->server_group), m->group);
	v->vcpus = p.vcpus;
	v->ram_mib = p.ram_mib;
	v->disk_gib = p.disk_gib;
	return 0;
}

int
svc_sched_load_group(struct store_txn *txn, struct sched_snap *s,
    const char *group, struct vm_error *err)
{
	struct member_ctx m = { txn, s, group };

	return store_iter_dups(txn, DB_GROUP_MEMBERS, group, snap_member_cb,
	    &m, err);
}

int64_t
svc_sched_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
svc_sched_account(const struct ctl *ctl, int64_t t0, int64_t t1, int64_t t2)
{
	struct ctl_sched_stats *st = ctl->sched_stats;

	if (st == NULL)
		return;
	__atomic_add_fetch(&st->placements, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->load_us, (uint64_t)(t1 - t0),
	    __ATOMIC_RELAXED);
	__atomic_add_fetch(&st->place_us, (uint64_t)(t2 - t1),
	    __ATOMIC_RELAXED);
}

void
svc_sched_free(struct sched_snap *s)
{
	free(s->hosts);
	free(s->shosts);
	free(s->vms);
	free(s->vm_ids);
	memset(s, 0, sizeof(*s));
}

void
svc_sched_request(const struct api_vm *vm, const struct api_flavor *fl,
    struct sched_request *r)
{
	memset(r, 0, sizeof(*r));
	r->vcpus = fl->vcpus;
	r->ram_mib = fl->ram_mib;
	r->disk_gib = fl->disk_gib;
	r->ha = vm->ha == VM_HA_RESTART;
	r->site = vm->site;
	r->az = vm->az;
	r->host_hint = vm->host_hint;
	r->labels = vm->labels;
	r->group_policy = SCHED_GROUP_NONE;
	r->image = vm->image.name;
	r->arch = vm->image.arch;
	r->image_labels = vm->image.required_labels;
}

/* Group row's member count += delta. */
static int
group_count_adjust(struct store_txn *txn, const char *group, int delta,
    struct vm_error *err)
{
	struct api_server_group g;
	int rc;

	rc = store_get_obj(txn, DB_SERVER_GROUPS, group,
	    &api_server_group_schema, &g, err);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	g.members += delta;
	if (g.members < 0)
		g.members = 0;
	return store_put_obj(txn, DB_SERVER_GROUPS, group,
	    &api_server_group_schema, &g, 0, err);
}

/*
 * The placement row of a VM and what hangs off it: its host's HA sizes
 * (DB_HOST_HA) and its server group's members (DB_GROUP_MEMBERS and the
 * group's count). Putting again replaces the old row's share first, so a
 * re-placement (migration) moves it.
 */
int
svc_placement_put(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	char row[384], gkey[SVC_KEY_MAX];

	if (svc_placement_del(txn, vm->id, err) < 0)
		return -1;
	/* The group by its key: names are per agency. */
	svc_name_key(vm->agency, vm->server_group, gkey);
	snprintf(row, sizeof(row), "%s %d %lld %lld %lld%s%s", vm->host,
	    vm->ha == VM_HA_RESTART, (long long)vm->vcpus,
	    (long long)vm->ram_mib, (long long)vm->disk_gib,
	    vm->server_group[0] ? " " : "", vm->server_group[0] ? gkey : "");
	if (store_put(txn, DB_PLACEMENTS, vm->id, row, strlen(row), 0,
	    err) < 0)
		return -1;
	if (vm->ha == VM_HA_RESTART && ha_hist_adjust(txn, vm->host,
	    vm->vcpus, vm->ram_mib, vm->disk_gib, 1, err) < 0)
		return -1;
	if (vm->server_group[0] != '\0' && (store_put(txn, DB_GROUP_MEMBERS,
	    gkey, vm->id, strlen(vm->id), 0, err) < 0 ||
	    group_count_adjust(txn, gkey, 1, err) < 0))
		return -1;
	return 0;
}

int
svc_placement_del(struct store_txn *txn, const char *vm_id,
    struct vm_error *err)
{
	struct placement p;
	char *row = NULL;
	size_t len = 0;
	int rc;

	rc = store_get(txn, DB_PLACEMENTS, vm_id, &row, &len, err);
	if (rc != 0) {
		free(row);
		return rc < 0 ? -1 : 0;
	}
	rc = placement_parse(row, len, &p, err);
	free(row);
	if (rc < 0 || store_del(txn, DB_PLACEMENTS, vm_id, NULL, err) < 0)
		return -1;
	if (p.ha && ha_hist_adjust(txn, p.host, p.vcpus, p.ram_mib,
	    p.disk_gib, -1, err) < 0)
		return -1;
	if (p.group[0] != '\0') {
		rc = store_del(txn, DB_GROUP_MEMBERS, p.group, vm_id, err);
		if (rc < 0 || (rc == 0 && group_count_adjust(txn, p.group, -1,
		    err) < 0))
			return -1;
	}
	return 0;
}

static int
reindex_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct store_txn *txn = arg;
	struct placement p;
	char host[API_NAME_MAX];

	(void)key;
	(void)klen;
	if (placement_parse(val, vlen, &p, err) < 0)
		return -1;
	if (!p.ha)
		return 0;
	str_copy(host, sizeof(host), p.host);
	return ha_hist_adjust(txn, host, p.vcpus, p.ram_mib, p.disk_gib, 1,
	    err);
}

int
svc_sched_reindex(struct store *st, struct vm_error *err)
{
	struct store_txn *txn = NULL;
	size_t nha = 0, npl = 0;

	if (store_txn_begin(st, true, &txn, err) < 0 ||
	    store_count(txn, DB_HOST_HA, &nha, err) < 0 ||
	    store_count(txn, DB_PLACEMENTS, &npl, err) < 0)
		goto fail;
	if (nha > 0 || npl == 0) {
		store_txn_abort(txn);
		return 0;
	}
	if (store_iter(txn, DB_PLACEMENTS, NULL, reindex_cb, txn, err) < 0)
		goto fail;
	log_info("store: per-host HA sizes rebuilt from %zu placements", npl);
	return store_txn_commit(txn, err);
fail:
	store_txn_abort(txn);
	return -1;
}

/* ------------------------------------------------------------ errors */

void
svc_sched_error_redact(const struct req *req, struct vm_error *err)
{
	if (req->who.scope == SCOPE_ALL || err->code != API_ENOROOM)
		return;
	log_info("placement for %s (agency %s) refused: %s", req->who.name,
	    req->who.agency, err->message);
	vm_error_set(err, API_ENOROOM, "no capacity: the cloud cannot place "
	    "this VM now (try a smaller flavor or later, or ask the "
	    "operators)");
}

/* ------------------------------------------------------------ dry run */

static json_object *
verdicts_json(const struct sched_result *res)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < res->nverdicts; i++) {
		const struct sched_verdict *v = &res->verdicts[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "host",
		    json_object_new_string(v->host));
		json_object_object_add(o, "chosen",
		    json_object_new_boolean(res->chosen == (int)i));
		json_object_object_add(o, "filter", v->filter[0] ?
		    json_object_new_string(v->filter) : NULL);
		json_object_object_add(o, "reason", v->reason[0] ?
		    json_object_new_string(v->reason) : NULL);
		json_object_object_add(o, "weight", v->filter[0] ? NULL :
		    json_object_new_double(v->weight));
		json_object_array_add(arr, o);
	}
	return arr;
}

/*
 * GET /v1/placement?flavor=F[&site=&az=&host=&labels=&ha=&group=&image=]
 * — where would a VM of this shape go now, and why not elsewhere. Changes
 * nothing.
 */
int
svc_placement_dryrun(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" }, perr = { 0, "" };
	struct sched_snap snap;
	struct sched_result res = { -1, NULL, 0 };
	struct sched_request r;
	struct api_flavor fl;
	struct api_vm vm;
	const char *q;
	json_object *o;
	int rc;

	memset(&snap, 0, sizeof(snap));
	memset(&vm, 0, sizeof(vm));
	q = req_query(req, "flavor");
	if (q == NULL || !api_name_valid(q)) {
		vm_error_set(&err, API_EINVAL, "flavor: a flavor name is needed");
		goto fail;
	}
	str_copy(vm.flavor, sizeof(vm.flavor), q);
	if (((q = req_query(req, "site")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.site, sizeof(vm.site), q) < 0)) ||
	    ((q = req_query(req, "az")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.az, sizeof(vm.az), q) < 0)) ||
	    ((q = req_query(req, "host")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.host_hint, sizeof(vm.host_hint), q) < 0)) ||
	    ((q = req_query(req, "labels")) != NULL &&
	    (str_copy(vm.labels, sizeof(vm.labels), q) < 0 ||
	    !api_labels_valid(vm.labels)))) {
		vm_error_set(&err, API_EINVAL,
		    "site/az/host: valid names; labels: comma-separated names "
		    "(at most %d characters)", API_TEXT_MAX - 1);
		goto fail;
	}
	if ((q = req_query(req, "ha")) != NULL) {
		vm.ha = api_enum_index(api_vm_ha_names, q);
		if (vm.ha < 0) {
			vm_error_set(&err, API_EINVAL,
			    "ha: one of restart, none");
			goto fail;
		}
	}
	if ((q = req_query(req, "image")) != NULL && !api_name_valid(q)) {
		vm_error_set(&err, API_EINVAL,
		    "image: the name of an image of the store");
		goto fail;
	}
	if (q != NULL)
		str_copy(vm.image.name, sizeof(vm.image.name), q);
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0)
		goto fail;
	/* An image constrains arch and labels (filter "image"); a caller
	 * sees its agency's and the public images. */
	if (vm.image.name[0] != '\0') {
		str_copy(vm.agency, sizeof(vm.agency), req->who.agency);
		if (svc_image_lookup(req, txn, &vm, req->who.scope != SCOPE_OWN,
		    &err) < 0)
			goto fail;
	}
	rc = store_get_obj(txn, DB_FLAVORS, vm.flavor, &api_flavor_schema, &fl,
	    &err);
	if (rc < 0)
		goto fail;
	if (rc == 1) {
		vm_error_set(&err, API_EINVAL, "flavor '%s' does not exist",
		    vm.flavor);
		goto fail;
	}
	if (svc_sched_load(req->ctl, txn, &snap, &err) < 0)
		goto fail;
	svc_sched_request(&vm, &fl, &r);
	if ((q = req_query(req, "group")) != NULL && (!api_name_valid(q) ||
	    str_copy(vm.server_group, sizeof(vm.server_group), q) < 0 ||
	    svc_group_prepare(txn, vm.server_group, req_query(req, "agency"),
	    &snap, &r,
	    &err) < 0)) {
		if (err.code == 0)
			vm_error_set(&err, API_EINVAL,
			    "group: a server group name");
		goto fail;
	}
	store_txn_abort(txn);
	txn = NULL;
	rc = sched_place(&snap.cfg, snap.shosts, snap.nhosts, snap.vms,
	    snap.nvms, &r, &res, &perr);
	o = json_object_new_object();
	json_object_object_add(o, "chosen", rc == 0 && res.chosen >= 0 ?
	    json_object_new_string(snap.shosts[res.chosen].name) : NULL);
	json_object_object_add(o, "error", rc == 0 ? NULL :
	    json_object_new_string(perr.message));
	json_object_object_add(o, "hosts", verdicts_json(&res));
	sched_result_free(&res);
	svc_sched_free(&snap);
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	svc_sched_free(&snap);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ sites */

/* GET /v1/sites: per site totals, allocation, effective free, N+1 now. */
int
svc_site_list(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct sched_snap snap;
	json_object *items = NULL;
	size_t i, j;

	memset(&snap, 0, sizeof(snap));
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    svc_sched_load(req->ctl, txn, &snap, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;
	items = json_object_new_array();
	for (i = 0; i < snap.nhosts; i++) {
		const char *site = snap.shosts[i].site;
		int64_t tot[3] = { 0, 0, 0 }, alloc[3] = { 0, 0, 0 };
		int64_t eff[3] = { 0, 0, 0 };
		int hosts = 0, up = 0;
		char failing[API_TEXT_MAX] = "", why[API_TEXT_MAX] = "";
		json_object *o;
		bool seen = false;
		int n1;

		for (j = 0; j < i; j++)
			if (strcmp(snap.shosts[j].site, site) == 0)
				seen = true;
		if (seen)
			continue;
		for (j = i; j < snap.nhosts; j++) {
			const struct sched_host *h = &snap.shosts[j];
			int64_t ev, er, ed;

			if (strcmp(h->site, site) != 0)
				continue;
			hosts++;
			up += h->up && !h->maintenance;
			tot[0] += h->vcpus;
			tot[1] += h->ram_mib;
			tot[2] += h->disk_gib;
			alloc[0] += h->alloc_vcpus;
			alloc[1] += h->alloc_ram_mib;
			alloc[2] += h->alloc_disk_gib;
			sched_capacity(&snap.cfg, h, &ev, &er, &ed);
			eff[0] += ev;
			eff[1] += er;
			eff[2] += ed;
		}
		n1 = sched_site_n1(&snap.cfg, site, snap.shosts, snap.nhosts,
		    snap.vms, snap.nvms, failing, why);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(site));
		json_object_object_add(o, "hosts", json_object_new_int(hosts));
		json_object_object_add(o, "hosts_up", json_object_new_int(up));
		json_object_object_add(o, "vcpus", json_object_new_int64(tot[0]));
		json_object_object_add(o, "ram_mib",
		    json_object_new_int64(tot[1]));
		json_object_object_add(o, "disk_gib",
		    json_object_new_int64(tot[2]));
		json_object_object_add(o, "alloc_vcpus",
		    json_object_new_int64(alloc[0]));
		json_object_object_add(o, "alloc_ram_mib",
		    json_object_new_int64(alloc[1]));
		json_object_object_add(o, "alloc_disk_gib",
		    json_object_new_int64(alloc[2]));
		json_object_object_add(o, "free_vcpus",
		    json_object_new_int64(eff[0] - alloc[0]));
		json_object_object_add(o, "free_ram_mib",
		    json_object_new_int64(eff[1] - alloc[1]));
		json_object_object_add(o, "free_disk_gib",
		    json_object_new_int64(eff[2] - alloc[2]));
		json_object_object_add(o, "tolerate_host_failures",
		    json_object_new_int(snap.cfg.tolerate_host_failures));
		json_object_object_add(o, "n1_ok",
		    json_object_new_boolean(n1 == 0));
		json_object_object_add(o, "n1_failing", n1 ?
		    json_object_new_string(failing) : NULL);
		json_object_object_add(o, "n1_reason", n1 ?
		    json_object_new_string(why) : NULL);
		json_object_array_add(items, o);
	}
	svc_sched_free(&snap);
	resp_json(resp, 200, svc_list_envelope(items, NULL));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	svc_sched_free(&snap);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ maintenance */

int
svc_host_maintenance(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_host_maintenance m;
	struct api_operation op;
	struct api_host h;
	bool drained = false;
	json_object *o;
	int rc;

	if (svc_body(req, &api_host_maintenance_schema, &m, &err) < 0)
		goto fail;
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
	if (m.force && !m.maintenance) {
		vm_error_set(&err, API_EINVAL,
		    "force: applies only to maintenance on");
		goto fail;
	}
	/* On: drain by live migration (svc_migrate.c); off: drop the moves
	 * not started yet. The host row is written after, with its claims
	 * as the drain left them. */
	if (m.maintenance) {
		if (svc_drain_begin(req, txn, &h, m.force, &op, &err) < 0)
			goto fail;
		drained = true;
	} else if (svc_drain_cancel(txn, &h, &err) < 0) {
		goto fail;
	}
	rc = svc_host_load(txn, req->params[0], &h, &err);
	if (rc != 0)
		goto fail;
	h.maintenance = m.maintenance;
	if (store_put_obj(txn, DB_HOSTS, h.name, &api_host_schema, &h, 0,
	    &err) < 0)
		goto fail;
	if (svc_commit(req, txn, 200, &err, "host %s maintenance %s", h.name,
	    m.maintenance ? "on" : "off") < 0) {
		txn = NULL;
		goto fail;
	}
	log_info("host %s: maintenance %s (by %s); no new VMs are placed "
	    "there while on", h.name, m.maintenance ? "on" : "off",
	    req->who.name);
	svc_host_state(req->ctl, &h);
	o = api_encode(&api_host_schema, &h);
	if (drained) {
		json_object_object_add(o, "operation",
		    api_encode(&api_operation_schema, &op));
		server_wake(req->ctl->server, h.name);
	}
	resp_json(resp, 200, o);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
