/*
 * scheduler: filters, weights and N+1 admission over a snapshot of hosts
 * and placed VMs (scheduler.h has the pipeline and the ownership rules).
 * Everything allocated here lives for one call, in a struct sched_ctx.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "scheduler.h"
#include "util.h"

/* Per member of a soft-anti-affinity group already on the host; the
 * spread/pack weight stays within [0, 1.001], so this always dominates. */
#define SCHED_SOFT_PENALTY	10.0
/* Longest ENOROOM summary (vm_error.message is 512). */
#define SCHED_MSG_MAX		480
#define SCHED_QUOTE_MAX		150	/* of one reason in the summary */
#define NO_HOST			((size_t)-1)

struct res3 {
	int64_t v, r, d;		/* vCPUs, RAM MiB, disk GiB */
};

/* What the first-fit restart of one failure set left without room. */
struct n1_loss {
	size_t nvms;			/* 0 = every HA VM restarted */
	struct res3 sum;
	size_t targets;			/* hosts that could take restarts */
};

/* Placement done during a packing, undone at its end. */
struct n1_undo {
	size_t h;
	struct res3 res;
};

/*
 * N+1 state of one site. Failure sets are the up hosts (maintenance
 * included: they still run VMs) taken tolerate at a time, in name order;
 * restarts go to the usable hosts (up, not in maintenance) in order[],
 * most free RAM first (deterministic, and first-fit then finds room in a
 * probe or two, which keeps 200 hosts x 10,000 VMs near 1 ms). The baseline (the site as it is, no new VM) is
 * computed once a first candidate of the site has been refused: a
 * candidate only changes the sets that contain it and those whose
 * baseline packing put a VM on it (if nothing landed on it, taking room
 * from it cannot change what first-fit does), so the other candidates of
 * a refusal cost little.
 */
struct n1_site {
	const char *site;		/* borrowed from hosts[] */
	size_t *up, nup;		/* failure candidates, name order */
	size_t *order, norder;		/* restart targets */
	size_t *corder;			/* scratch: order for one candidate */
	size_t nsets;
	int evals;
	bool based;
	unsigned char *base_ok;		/* [nsets] */
	size_t *used_start;		/* [nsets + 1] into used[] */
	size_t *used, nused, capused;
};

struct sched_ctx {
	const struct sched_config *cfg;
	const struct sched_host *hosts;
	size_t nhosts;
	const struct sched_vm *vms;
	size_t nvms;
	int tolerate;			/* clamped to 0..2 */
	size_t *slots, nslots;		/* name hash: host index + 1 */
	size_t *vm_host;		/* [nvms] host index or NO_HOST */
	struct res3 *cap, *free;	/* [nhosts] effective, and minus alloc */
	bool ha_built;
	size_t *ha_start;		/* [nhosts + 1] slices of ha[] */
	struct res3 *ha;		/* HA VMs by host, largest first */
	struct n1_undo *undo;		/* [nha + 1] */
	unsigned *mark, stamp;		/* [nhosts] dedupe of used hosts */
	struct n1_site *sites;
	size_t nsites;
};

/* ------------------------------------------------------------ helpers */

static bool
str_set(const char *s)
{
	return s != NULL && *s != '\0';
}

static int64_t
eff_cap(int64_t phys, double ratio)
{
	double x = (double)phys * ratio;

	if (x <= 0)
		return 0;
	if (x >= 4.0e18)
		return (int64_t)4e18;
	return (int64_t)x;		/* truncation = floor for x >= 0 */
}

void
sched_config_defaults(struct sched_config *cfg)
{
	cfg->cpu_ratio = 4.0;
	cfg->ram_ratio = 1.0;
	cfg->disk_ratio = 1.0;
	cfg->weigher = SCHED_SPREAD;
	cfg->tolerate_host_failures = 1;
}

void
sched_capacity(const struct sched_config *cfg, const struct sched_host *h,
    int64_t *vcpus, int64_t *ram_mib, int64_t *disk_gib)
{
	*vcpus = eff_cap(h->vcpus, cfg->cpu_ratio);
	*ram_mib = eff_cap(h->ram_mib, cfg->ram_ratio);
	*disk_gib = eff_cap(h->disk_gib, cfg->disk_ratio);
}

void
sched_result_free(struct sched_result *res)
{
	if (res == NULL)
		return;
	free(res->verdicts);
	res->verdicts = NULL;
	res->nverdicts = 0;
	res->chosen = -1;
}

/* FFD order: RAM, then vCPUs, then disk, largest first. */
static int
res_ffd_cmp(const void *a, const void *b)
{
	const struct res3 *x = a, *y = b;

	if (x->r != y->r)
		return x->r > y->r ? -1 : 1;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	if (x->d != y->d)
		return x->d > y->d ? -1 : 1;
	return 0;
}

static bool
res_fits(const struct res3 *need, const struct res3 *room)
{
	return need->v <= room->v && need->r <= room->r && need->d <= room->d;
}

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < API_NAME_MAX && s[i] != '\0'; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static size_t
host_lookup(const struct sched_ctx *c, const char *name)
{
	size_t i, k;

	if (c->nslots == 0)
		return NO_HOST;
	i = name_hash(name) & (c->nslots - 1);
	while ((k = c->slots[i]) != 0) {
		if (strncmp(c->hosts[k - 1].name, name, API_NAME_MAX) == 0)
			return k - 1;
		i = (i + 1) & (c->nslots - 1);
	}
	return NO_HOST;
}

/* Is tok[0..len) one of the comma-separated labels (spaces trimmed)? */
static bool
label_has(const char *labels, const char *tok, size_t len)
{
	const char *p = labels, *e;
	size_t n;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		e = p;
		while (*e != '\0' && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && n == len && memcmp(p, tok, len) == 0)
			return true;
		p = e;
	}
	return false;
}

/* First label of want missing from have, into out; false if none is. */
static bool
label_missing(const char *have, const char *want, char *out, size_t len)
{
	const char *p = want, *e;
	size_t n;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		e = p;
		while (*e != '\0' && *e != ',')
			e++;
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && !label_has(have, p, n)) {
			snprintf(out, len, "%.*s", (int)n, p);
			return true;
		}
		p = e;
	}
	return false;
}

/* ------------------------------------------------------------ context */

static void
ctx_init(struct sched_ctx *c, const struct sched_config *cfg,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms)
{
	size_t i, j;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->hosts = hosts;
	c->nhosts = nhosts;
	c->vms = vms;
	c->nvms = nvms;
	c->tolerate = cfg->tolerate_host_failures;
	if (c->tolerate < 0)
		c->tolerate = 0;
	if (c->tolerate > 2)
		c->tolerate = 2;
	c->cap = xcalloc(nhosts, sizeof(*c->cap));
	c->free = xcalloc(nhosts, sizeof(*c->free));
	for (i = 0; i < nhosts; i++) {
		sched_capacity(cfg, &hosts[i], &c->cap[i].v, &c->cap[i].r,
		    &c->cap[i].d);
		c->free[i].v = c->cap[i].v - hosts[i].alloc_vcpus;
		c->free[i].r = c->cap[i].r - hosts[i].alloc_ram_mib;
		c->free[i].d = c->cap[i].d - hosts[i].alloc_disk_gib;
	}
	for (c->nslots = 8; c->nslots < 2 * nhosts; c->nslots *= 2)
		;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	for (i = 0; i < nhosts; i++) {
		if (host_lookup(c, hosts[i].name) != NO_HOST)
			continue;	/* duplicate name: the first wins */
		j = name_hash(hosts[i].name) & (c->nslots - 1);
		while (c->slots[j] != 0)
			j = (j + 1) & (c->nslots - 1);
		c->slots[j] = i + 1;
	}
	c->vm_host = xcalloc(nvms, sizeof(*c->vm_host));
	for (i = 0; i < nvms; i++)
		c->vm_host[i] = host_lookup(c, vms[i].host);
}

/* HA VMs grouped by host in FFD order; built on the first N+1 check. */
static void
ctx_ha_build(struct sched_ctx *c)
{
	size_t i, h, nha = 0, *fill;

	if (c->ha_built)
		return;
	c->ha_built = true;
	c->ha_start = xcalloc(c->nhosts + 1, sizeof(*c->ha_start));
	for (i = 0; i < c->nvms; i++)
		if (c->vms[i].ha && c->vm_host[i] != NO_HOST) {
			c->ha_start[c->vm_host[i] + 1]++;
			nha++;
		}
	for (h = 0; h < c->nhosts; h++)
		c->ha_start[h + 1] += c->ha_start[h];
	c->ha = xcalloc(nha, sizeof(*c->ha));
	fill = xcalloc(c->nhosts, sizeof(*fill));
	for (i = 0; i < c->nvms; i++) {
		struct res3 *r;

		if (!c->vms[i].ha || (h = c->vm_host[i]) == NO_HOST)
			continue;
		r = &c->ha[c->ha_start[h] + fill[h]++];
		r->v = c->vms[i].vcpus;
		r->r = c->vms[i].ram_mib;
		r->d = c->vms[i].disk_gib;
	}
	free(fill);
	for (h = 0; h < c->nhosts; h++)
		if (c->ha_start[h + 1] - c->ha_start[h] > 1)
			qsort(&c->ha[c->ha_start[h]],
			    c->ha_start[h + 1] - c->ha_start[h],
			    sizeof(*c->ha), res_ffd_cmp);
	c->undo = xcalloc(nha + 1, sizeof(*c->undo));
	c->mark = xcalloc(c->nhosts, sizeof(*c->mark));
}

static void
n1_site_free(struct n1_site *s)
{
	free(s->up);
	free(s->order);
	free(s->corder);
	free(s->base_ok);
	free(s->used_start);
	free(s->used);
}

static void
ctx_free(struct sched_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nsites; i++)
		n1_site_free(&c->sites[i]);
	free(c->sites);
	free(c->cap);
	free(c->free);
	free(c->slots);
	free(c->vm_host);
	free(c->ha_start);
	free(c->ha);
	free(c->undo);
	free(c->mark);
	memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ N+1 */

static bool
host_usable(const struct sched_host *h)
{
	return h->up && !h->maintenance;
}

/* Sort keys, so qsort needs no context. */
struct hkey {
	size_t h;
	int64_t r, v;			/* free RAM and vCPUs */
	const char *name;
};

static int
hkey_name_cmp(const void *a, const void *b)
{
	const struct hkey *x = a, *y = b;
	int k = strcmp(x->name, y->name);

	if (k != 0)
		return k;
	return x->h < y->h ? -1 : x->h > y->h;
}

/* Restart targets: most free RAM, then vCPUs, then name. */
static int
hkey_target_cmp(const void *a, const void *b)
{
	const struct hkey *x = a, *y = b;

	if (x->r != y->r)
		return x->r > y->r ? -1 : 1;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	return hkey_name_cmp(a, b);
}

static void
hkey_fill(const struct sched_ctx *c, size_t h, struct hkey *k)
{
	k->h = h;
	k->r = c->free[h].r;
	k->v = c->free[h].v;
	k->name = c->hosts[h].name;
}

static bool
target_before(const struct sched_ctx *c, size_t x, size_t y)
{
	struct hkey a, b;

	hkey_fill(c, x, &a);
	hkey_fill(c, y, &b);
	return hkey_target_cmp(&a, &b) < 0;
}

static void
hosts_sort(const struct sched_ctx *c, size_t *idx, size_t n,
    int (*cmp)(const void *, const void *))
{
	struct hkey *k = xcalloc(n, sizeof(*k));
	size_t i;

	for (i = 0; i < n; i++)
		hkey_fill(c, idx[i], &k[i]);
	qsort(k, n, sizeof(*k), cmp);
	for (i = 0; i < n; i++)
		idx[i] = k[i].h;
	free(k);
}

static struct n1_site *
n1_site_get(struct sched_ctx *c, const char *site)
{
	struct n1_site *s;
	size_t i, n;

	for (i = 0; i < c->nsites; i++)
		if (strcmp(c->sites[i].site, site) == 0)
			return &c->sites[i];
	ctx_ha_build(c);
	c->sites = xrealloc(c->sites, (c->nsites + 1) * sizeof(*c->sites));
	s = &c->sites[c->nsites++];
	memset(s, 0, sizeof(*s));
	s->site = site;
	s->up = xcalloc(c->nhosts, sizeof(*s->up));
	s->order = xcalloc(c->nhosts, sizeof(*s->order));
	s->corder = xcalloc(c->nhosts, sizeof(*s->corder));
	for (i = 0; i < c->nhosts; i++) {
		if (strcmp(c->hosts[i].site, site) != 0 || !c->hosts[i].up ||
		    host_lookup(c, c->hosts[i].name) != i)
			continue;
		s->up[s->nup++] = i;
		if (host_usable(&c->hosts[i]))
			s->order[s->norder++] = i;
	}
	hosts_sort(c, s->up, s->nup, hkey_name_cmp);
	hosts_sort(c, s->order, s->norder, hkey_target_cmp);
	n = s->nup;
	s->nsets = c->tolerate == 1 ? n : c->tolerate == 2 && n > 1 ?
	    n * (n - 1) / 2 : 0;
	return s;
}

static bool
in_set(size_t h, const size_t *f, size_t nf)
{
	return (nf > 0 && f[0] == h) || (nf > 1 && f[1] == h);
}

/*
 * Restart the HA VMs of the failed hosts f[0..nf) (and extra, the new VM
 * when it is HA and would be on one of them) first-fit decreasing onto
 * order[0..norder) minus the failed hosts, with c->free as their room
 * (restored before returning). What found no room goes in *loss; when
 * s is not NULL, the hosts that took a VM are appended to s->used.
 */
static void
n1_pack(struct sched_ctx *c, const size_t *f, size_t nf,
    const struct res3 *extra, const size_t *order, size_t norder,
    struct n1_loss *loss, struct n1_site *s)
{
	size_t pos[2] = { 0, 0 }, end[2] = { 0, 0 }, k, i, h, nundo = 0;
	bool extra_left = extra != NULL;

	memset(loss, 0, sizeof(*loss));
	loss->targets = norder;
	for (k = 0; k < nf; k++) {
		pos[k] = c->ha_start[f[k]];
		end[k] = c->ha_start[f[k] + 1];
		if (host_usable(&c->hosts[f[k]]))
			loss->targets--;
	}
	if (++c->stamp == 0) {
		memset(c->mark, 0, c->nhosts * sizeof(*c->mark));
		c->stamp = 1;
	}
	for (;;) {
		const struct res3 *vm = NULL;
		int from = -1;

		for (k = 0; k < nf; k++)
			if (pos[k] < end[k] && (vm == NULL ||
			    res_ffd_cmp(&c->ha[pos[k]], vm) < 0)) {
				vm = &c->ha[pos[k]];
				from = (int)k;
			}
		if (extra_left && extra != NULL &&
		    (vm == NULL || res_ffd_cmp(extra, vm) < 0)) {
			vm = extra;
			from = -1;
		}
		if (vm == NULL)
			break;
		if (from < 0)
			extra_left = false;
		else
			pos[from]++;
		for (i = 0; i < norder; i++) {
			h = order[i];
			if (!in_set(h, f, nf) && res_fits(vm, &c->free[h]))
				break;
		}
		if (i == norder) {
			loss->nvms++;
			loss->sum.v += vm->v;
			loss->sum.r += vm->r;
			loss->sum.d += vm->d;
			continue;
		}
		c->free[h].v -= vm->v;
		c->free[h].r -= vm->r;
		c->free[h].d -= vm->d;
		c->undo[nundo].h = h;
		c->undo[nundo++].res = *vm;
		if (s != NULL && c->mark[h] != c->stamp) {
			c->mark[h] = c->stamp;
			if (s->nused == s->capused) {
				s->capused = s->capused ? s->capused * 2 : 256;
				s->used = xrealloc(s->used,
				    s->capused * sizeof(*s->used));
			}
			s->used[s->nused++] = h;
		}
	}
	while (nundo > 0) {
		nundo--;
		h = c->undo[nundo].h;
		c->free[h].v += c->undo[nundo].res.v;
		c->free[h].r += c->undo[nundo].res.r;
		c->free[h].d += c->undo[nundo].res.d;
	}
}

static void
n1_loss_text(const struct sched_ctx *c, const size_t *f, size_t nf,
    const struct n1_loss *l, const char *prefix, char *out, size_t len)
{
	snprintf(out, len, "%slosing host%s %s%s%s would leave %zu HA VM%s "
	    "(%lld vCPUs, %lld MiB, %lld GiB) without room on the other %zu "
	    "host%s", prefix, nf > 1 ? "s" : "", c->hosts[f[0]].name,
	    nf > 1 ? " and " : "", nf > 1 ? c->hosts[f[1]].name : "",
	    l->nvms, l->nvms == 1 ? "" : "s", (long long)l->sum.v,
	    (long long)l->sum.r, (long long)l->sum.d, l->targets,
	    l->targets == 1 ? "" : "s");
}

static void
n1_count_text(const struct sched_ctx *c, const struct n1_site *s,
    const char *prefix, char *out, size_t len)
{
	snprintf(out, len, "%ssite %s has %zu usable host%s (up, not in "
	    "maintenance); tolerating %d host failure%s needs at least %d",
	    prefix, s->site, s->norder, s->norder == 1 ? "" : "s",
	    c->tolerate, c->tolerate == 1 ? "" : "s", c->tolerate + 1);
}

/* Failure set number k (name order) into f[]; returns its size. */
static size_t
n1_set(const struct sched_ctx *c, const struct n1_site *s, size_t k,
    size_t f[2])
{
	size_t a = 0, n = s->nup;

	if (c->tolerate == 1) {
		f[0] = s->up[k];
		return 1;
	}
	/* Pairs (a, b), a < b, in order: row a holds n - 1 - a pairs. */
	while (k >= n - 1 - a) {
		k -= n - 1 - a;
		a++;
	}
	f[0] = s->up[a];
	f[1] = s->up[a + 1 + k];
	return 2;
}

static void
n1_baseline(struct sched_ctx *c, struct n1_site *s)
{
	struct n1_loss loss;
	size_t k, nf, f[2];

	s->based = true;
	s->base_ok = xcalloc(s->nsets, 1);
	s->used_start = xcalloc(s->nsets + 1, sizeof(*s->used_start));
	for (k = 0; k < s->nsets; k++) {
		nf = n1_set(c, s, k, f);
		s->used_start[k] = s->nused;
		n1_pack(c, f, nf, NULL, s->order, s->norder, &loss, s);
		s->base_ok[k] = loss.nvms == 0;
	}
	s->used_start[s->nsets] = s->nused;
}

static bool
n1_used(const struct n1_site *s, size_t k, size_t h)
{
	size_t i;

	for (i = s->used_start[k]; i < s->used_start[k + 1]; i++)
		if (s->used[i] == h)
			return true;
	return false;
}

/*
 * Admission of the new VM (need, ha) on host cand (usable, of site s):
 * 0, or -1 with the first failure set that would not be absorbed in
 * reason. Partner of n1_baseline(), which it runs from the second
 * candidate of a site on.
 */
static int
n1_admit(struct sched_ctx *c, struct n1_site *s, size_t cand,
    const struct res3 *need, bool ha, char *reason, size_t len)
{
	struct n1_loss loss;
	size_t i, j, k, nf, f[2];
	int rc = 0;

	if (c->tolerate == 0)
		return 0;
	if (s->norder < (size_t)c->tolerate + 1) {
		n1_count_text(c, s, "n+1: ", reason, len);
		return -1;
	}
	if (s->evals++ > 0 && !s->based)
		n1_baseline(c, s);
	c->free[cand].v -= need->v;
	c->free[cand].r -= need->r;
	c->free[cand].d -= need->d;
	/* Same order as s->order, the candidate moved to its new rank. */
	for (i = j = 0; i < s->norder; i++)
		if (s->order[i] != cand)
			s->corder[j++] = s->order[i];
	for (i = 0; i < j && target_before(c, s->corder[i], cand); i++)
		;
	memmove(&s->corder[i + 1], &s->corder[i], (j - i) * sizeof(size_t));
	s->corder[i] = cand;

	for (k = 0; k < s->nsets; k++) {
		nf = n1_set(c, s, k, f);
		if (in_set(cand, f, nf))
			n1_pack(c, f, nf, ha ? need : NULL, s->corder,
			    s->norder, &loss, NULL);
		else if (s->based && s->base_ok[k] && !n1_used(s, k, cand))
			continue;
		else
			n1_pack(c, f, nf, NULL, s->corder, s->norder, &loss,
			    NULL);
		if (loss.nvms > 0) {
			n1_loss_text(c, f, nf, &loss, "n+1: ", reason, len);
			rc = -1;
			break;
		}
	}
	c->free[cand].v += need->v;
	c->free[cand].r += need->r;
	c->free[cand].d += need->d;
	return rc;
}

int
sched_site_n1(const struct sched_config *cfg, const char *site,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms, char *failing, char *why)
{
	struct sched_ctx c;
	struct n1_site *s;
	struct n1_loss loss;
	size_t k, nf, f[2];
	int rc = 0;

	failing[0] = why[0] = '\0';
	ctx_init(&c, cfg, hosts, nhosts, vms, nvms);
	if (c.tolerate == 0)
		goto cleanup;
	s = n1_site_get(&c, site != NULL ? site : "");
	if (s->norder < (size_t)c.tolerate + 1) {
		n1_count_text(&c, s, "", why, API_TEXT_MAX);
		for (k = 0; k < s->norder && k < (size_t)c.tolerate; k++)
			snprintf(failing + strlen(failing),
			    API_TEXT_MAX - strlen(failing), "%s%s",
			    k ? "," : "", hosts[s->order[k]].name);
		rc = 1;
		goto cleanup;
	}
	for (k = 0; k < s->nsets; k++) {
		nf = n1_set(&c, s, k, f);
		n1_pack(&c, f, nf, NULL, s->order, s->norder, &loss, NULL);
		if (loss.nvms == 0)
			continue;
		snprintf(failing, API_TEXT_MAX, "%s%s%s", hosts[f[0]].name,
		    nf > 1 ? "," : "", nf > 1 ? hosts[f[1]].name : "");
		n1_loss_text(&c, f, nf, &loss, "", why, API_TEXT_MAX);
		rc = 1;
		break;
	}
cleanup:
	ctx_free(&c);
	return rc;
}

/* ------------------------------------------------------------ filters */

/* Server group of the request, seen from the placed VMs. */
struct group_view {
	const char *name;		/* NULL = no group logic */
	int policy;
	int *members;			/* [nhosts] */
	size_t total;			/* members on known hosts */
	char where[160];		/* up to a few hosts holding members */
};

static void
group_view_init(const struct sched_ctx *c, const struct sched_request *req,
    struct group_view *g)
{
	size_t i, shown = 0, len;

	memset(g, 0, sizeof(*g));
	g->members = xcalloc(c->nhosts, sizeof(*g->members));
	if (!str_set(req->server_group) || req->group_policy ==
	    SCHED_GROUP_NONE)
		return;
	g->name = req->server_group;
	g->policy = req->group_policy;
	for (i = 0; i < c->nvms; i++)
		if (c->vm_host[i] != NO_HOST && strncmp(c->vms[i].server_group,
		    g->name, API_NAME_MAX) == 0) {
			g->members[c->vm_host[i]]++;
			g->total++;
		}
	for (i = 0; i < c->nhosts; i++) {
		if (g->members[i] == 0)
			continue;
		len = strlen(g->where);
		if (shown++ == 3) {
			snprintf(g->where + len, sizeof(g->where) - len, ", ...");
			break;
		}
		snprintf(g->where + len, sizeof(g->where) - len, "%s%.64s",
		    len ? ", " : "", c->hosts[i].name);
	}
}

static void
cap_reason(char *out, size_t len, const char *what, const char *unit,
    int64_t free_, int64_t cap, double ratio, int64_t need)
{
	snprintf(out, len, "%s: %lld%s free of %lld (ratio %.1f), needs %lld",
	    what, (long long)free_, unit, (long long)cap, ratio,
	    (long long)need);
}

bool
sched_image_ok(const struct sched_host *h, const struct sched_request *req,
    char *reason, size_t len)
{
	const char *img = str_set(req->image) ? req->image : "the image";
	char label[API_TEXT_MAX];

	if (str_set(req->arch) && h->arch[0] != '\0' &&
	    strcmp(req->arch, h->arch) != 0) {
		snprintf(reason, len, "image: %.64s is built for %.32s, the "
		    "host is %.32s", img, req->arch, h->arch);
		return false;
	}
	if (str_set(req->image_labels) && label_missing(h->labels,
	    req->image_labels, label, sizeof(label))) {
		snprintf(reason, len, "image: %.64s needs host label %.64s "
		    "(host has: %.200s)", img, label,
		    h->labels[0] ? h->labels : "none");
		return false;
	}
	return true;
}

/* The first filter that rejects host i, into v; false if none does. */
static bool
sched_filter(const struct sched_ctx *c, size_t i,
    const struct sched_request *req, const struct group_view *g,
    struct sched_verdict *v)
{
	const struct sched_host *h = &c->hosts[i];
	const struct res3 *fr = &c->free[i], *cap = &c->cap[i];
	char label[API_TEXT_MAX];

#define REJECT(f, ...) do {						\
	str_copy(v->filter, sizeof(v->filter), f);			\
	snprintf(v->reason, sizeof(v->reason), __VA_ARGS__);		\
	return true;							\
} while (0)
	if (str_set(req->host_hint) && strcmp(req->host_hint, h->name) != 0)
		REJECT("hint", "hint: not the requested host %.64s",
		    req->host_hint);
	if (str_set(req->exclude) && strcmp(req->exclude, h->name) == 0)
		REJECT("hint", "hint: the VM's current host");
	if (!h->up)
		REJECT("up", "up: host is down");
	if (h->maintenance)
		REJECT("maintenance", "maintenance: host is in maintenance");
	if (str_set(req->site) && strcmp(req->site, h->site) != 0)
		REJECT("site", "site: in site %s, not %.64s",
		    h->site[0] ? h->site : "(none)", req->site);
	if (str_set(req->az) && strcmp(req->az, h->az) != 0)
		REJECT("az", "az: in zone %s, not %.64s",
		    h->az[0] ? h->az : "(none)", req->az);
	if (str_set(req->labels) && label_missing(h->labels, req->labels,
	    label, sizeof(label)))
		REJECT("labels", "labels: lacks label %.64s (host has: %.200s)",
		    label, h->labels[0] ? h->labels : "none");
	if (!sched_image_ok(h, req, v->reason, sizeof(v->reason))) {
		str_copy(v->filter, sizeof(v->filter), "image");
		return true;
	}
	if (g->name != NULL && g->policy == SCHED_GROUP_AFFINITY &&
	    g->total > 0 && g->members[i] == 0)
		REJECT("affinity", "affinity: none of the %zu members of group "
		    "%.64s is here (they are on %s)", g->total, g->name,
		    g->where);
	if (g->name != NULL && g->policy == SCHED_GROUP_ANTI_AFFINITY &&
	    g->members[i] > 0)
		REJECT("anti-affinity", "anti-affinity: holds %d member%s of "
		    "group %.64s", g->members[i], g->members[i] == 1 ? "" : "s",
		    g->name);
#undef REJECT
	if (req->vcpus > fr->v) {
		str_copy(v->filter, sizeof(v->filter), "vcpus");
		cap_reason(v->reason, sizeof(v->reason), "vcpus", "", fr->v,
		    cap->v, c->cfg->cpu_ratio, req->vcpus);
		return true;
	}
	if (req->ram_mib > fr->r) {
		str_copy(v->filter, sizeof(v->filter), "ram");
		cap_reason(v->reason, sizeof(v->reason), "ram", " MiB", fr->r,
		    cap->r, c->cfg->ram_ratio, req->ram_mib);
		return true;
	}
	if (req->disk_gib > fr->d) {
		str_copy(v->filter, sizeof(v->filter), "disk");
		cap_reason(v->reason, sizeof(v->reason), "disk", " GiB", fr->d,
		    cap->d, c->cfg->disk_ratio, req->disk_gib);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------ weights */

static double
frac(int64_t part, int64_t whole)
{
	return whole > 0 ? (double)part / (double)whole : 0.0;
}

/*
 * Spread: free RAM left after the placement as a fraction of the
 * effective RAM, then free vCPUs (weighted 1/1000, so they only matter
 * when RAM fractions are within 0.1%). Pack: the used fractions. A soft
 * anti-affinity group subtracts SCHED_SOFT_PENALTY per member.
 */
static double
sched_weigh(const struct sched_ctx *c, size_t i,
    const struct sched_request *req, const struct group_view *g)
{
	double fr = frac(c->free[i].r - req->ram_mib, c->cap[i].r);
	double fv = frac(c->free[i].v - req->vcpus, c->cap[i].v);
	double w;

	if (c->cfg->weigher == SCHED_PACK)
		w = (1.0 - fr) + (1.0 - fv) / 1000.0;
	else
		w = fr + fv / 1000.0;
	if (g->name != NULL && g->policy == SCHED_GROUP_SOFT_ANTI_AFFINITY)
		w -= SCHED_SOFT_PENALTY * g->members[i];
	return w;
}

struct ranked {
	size_t h;
	double w;
	const char *name;
};

static int
ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	int k;

	if (x->w != y->w)
		return x->w > y->w ? -1 : 1;
	k = strcmp(x->name, y->name);
	if (k != 0)
		return k;
	return x->h < y->h ? -1 : x->h > y->h;
}

/* ------------------------------------------------------------ summary */

static const char *const sched_filters[] = {
	"hint", "up", "maintenance", "site", "az", "labels", "image",
	"affinity", "anti-affinity", "vcpus", "ram", "disk", "n+1",
};
#define NFILTERS ARRAY_SIZE(sched_filters)

static bool
filter_informative(size_t f)
{
	return f >= 5;		/* labels and after: the host was eligible */
}

/* Which host of filter f to quote: for capacity, the one closest to
 * fitting; for n+1, the best weighted (the one that would have been
 * chosen); else the first. */
static double
filter_rank(const struct sched_ctx *c, const struct sched_verdict *vd,
    size_t f, size_t h)
{
	const char *name = sched_filters[f];

	if (strcmp(name, "vcpus") == 0)
		return (double)c->free[h].v;
	if (strcmp(name, "ram") == 0)
		return (double)c->free[h].r;
	if (strcmp(name, "disk") == 0)
		return (double)c->free[h].d;
	if (strcmp(name, "n+1") == 0)
		return vd[h].weight;
	return 0.0;
}

/*
 * "no host can take ...: ram: 3 hosts (hv1: 512 MiB free ...); n+1: 1
 * host (hv4: losing host hv2 would ...); maintenance: 1 host (...)":
 * filters that saw otherwise eligible hosts first, then by count; for
 * each, the reason of one host (filter_rank()).
 * Hosts left out by a hint are noise and not counted.
 */
static void
sched_summary(const struct sched_ctx *c, const struct sched_request *req,
    const struct sched_verdict *vd, struct vm_error *err)
{
	size_t count[NFILTERS], rep[NFILTERS], order[NFILTERS], i, f, k;
	char msg[SCHED_MSG_MAX + 1], part[1024];
	size_t len;
	const char *why;
	double x, y;

	memset(count, 0, sizeof(count));
	memset(rep, 0, sizeof(rep));
	for (i = 0; i < c->nhosts; i++) {
		for (f = 0; f < NFILTERS; f++)
			if (strcmp(vd[i].filter, sched_filters[f]) == 0)
				break;
		if (f == NFILTERS || f == 0)
			continue;
		if (count[f]++ == 0) {
			rep[f] = i;
			continue;
		}
		x = filter_rank(c, vd, f, i);
		y = filter_rank(c, vd, f, rep[f]);
		if (x > y || (x == y && f == NFILTERS - 1 &&
		    strcmp(vd[i].host, vd[rep[f]].host) < 0))
			rep[f] = i;	/* n+1 ties: as ranked_cmp() */
	}
	for (f = 0; f < NFILTERS; f++)
		order[f] = f;
	for (i = 1; i < NFILTERS; i++)	/* stable insertion sort */
		for (k = i; k > 0; k--) {
			size_t a = order[k - 1], b = order[k];
			bool ia = filter_informative(a);
			bool ib = filter_informative(b);

			if (ia > ib || (ia == ib && count[a] >= count[b]))
				break;
			order[k - 1] = b;
			order[k] = a;
		}
	snprintf(msg, sizeof(msg), "no host can take %lld vCPUs, %lld MiB, "
	    "%lld GiB%s%.64s%s%.64s%s%.64s:", (long long)req->vcpus,
	    (long long)req->ram_mib, (long long)req->disk_gib,
	    str_set(req->site) ? " in site " : "",
	    str_set(req->site) ? req->site : "",
	    str_set(req->az) ? " in zone " : "",
	    str_set(req->az) ? req->az : "",
	    str_set(req->host_hint) ? " on host " : "",
	    str_set(req->host_hint) ? req->host_hint : "");
	for (k = 0, i = 0; k < NFILTERS; k++) {
		f = order[k];
		if (count[f] == 0)
			continue;
		len = strlen(msg);
		/* The reason without its "filter: " prefix. */
		why = strchr(vd[rep[f]].reason, ':');
		why = why != NULL ? why + 1 : vd[rep[f]].reason;
		while (*why == ' ')
			why++;
		/* One long quote must not crowd out the other filters. */
		snprintf(part, sizeof(part), "%s %s: %zu host%s (%.64s: %.*s%s)",
		    i++ ? ";" : "", sched_filters[f], count[f],
		    count[f] == 1 ? "" : "s", vd[rep[f]].host,
		    strlen(why) > SCHED_QUOTE_MAX ? SCHED_QUOTE_MAX - 3 :
		    SCHED_QUOTE_MAX, why,
		    strlen(why) > SCHED_QUOTE_MAX ? "..." : "");
		if (len + strlen(part) > SCHED_MSG_MAX)
			snprintf(part, sizeof(part), "%s %s: %zu host%s",
			    i > 1 ? ";" : "", sched_filters[f], count[f],
			    count[f] == 1 ? "" : "s");
		if (len + strlen(part) > SCHED_MSG_MAX - 5) {
			if (len + 5 <= SCHED_MSG_MAX)
				snprintf(msg + len, sizeof(msg) - len, "; ...");
			break;
		}
		memcpy(msg + len, part, strlen(part) + 1);	/* fits: checked */
	}
	vm_error_set(err, API_ENOROOM, "%s", msg);
}

/* ------------------------------------------------------------ place */

int
sched_place(const struct sched_config *cfg,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms,
    const struct sched_request *req, struct sched_result *res,
    struct vm_error *err)
{
	struct sched_ctx c;
	struct group_view g;
	struct ranked *rk = NULL;
	struct sched_verdict *vd;
	struct res3 need;
	size_t i, npass = 0;
	int rc = -1;

	res->chosen = -1;
	res->nverdicts = nhosts;
	res->verdicts = vd = xcalloc(nhosts, sizeof(*res->verdicts));
	ctx_init(&c, cfg, hosts, nhosts, vms, nvms);
	group_view_init(&c, req, &g);
	need.v = req->vcpus;
	need.r = req->ram_mib;
	need.d = req->disk_gib;

	rk = xcalloc(nhosts, sizeof(*rk));
	for (i = 0; i < nhosts; i++) {
		str_copy(vd[i].host, sizeof(vd[i].host), hosts[i].name);
		if (sched_filter(&c, i, req, &g, &vd[i]))
			continue;
		vd[i].weight = sched_weigh(&c, i, req, &g);
		rk[npass].h = i;
		rk[npass].w = vd[i].weight;
		rk[npass++].name = hosts[i].name;
	}
	qsort(rk, npass, sizeof(*rk), ranked_cmp);

	/* N+1, best weight first; the first host admitted is chosen. */
	for (i = 0; i < npass && res->chosen < 0; i++) {
		size_t h = rk[i].h;
		struct n1_site *s;

		if (c.tolerate == 0) {
			res->chosen = (int)h;
			break;
		}
		s = n1_site_get(&c, hosts[h].site);
		if (n1_admit(&c, s, h, &need, req->ha, vd[h].reason,
		    sizeof(vd[h].reason)) == 0)
			res->chosen = (int)h;
		else
			str_copy(vd[h].filter, sizeof(vd[h].filter), "n+1");
	}
	for (i = 0; i < npass; i++) {
		size_t h = rk[i].h;

		if ((int)h == res->chosen)
			snprintf(vd[h].reason, sizeof(vd[h].reason), "chosen");
		else if (vd[h].filter[0] == '\0')
			snprintf(vd[h].reason, sizeof(vd[h].reason),
			    "passed; ranked %zu of %zu by weight%s", i + 1, npass,
			    c.tolerate > 0 ? " (n+1 checked only when it is "
			    "tried)" : "");
	}
	if (res->chosen >= 0) {
		rc = 0;
		goto cleanup;
	}

	if (nhosts == 0)
		vm_error_set(err, API_ENOROOM,
		    "no host is registered: start a vmagentd");
	else if (str_set(req->host_hint) &&
	    host_lookup(&c, req->host_hint) == NO_HOST)
		vm_error_set(err, API_ENOROOM,
		    "no host named '%.64s' is registered", req->host_hint);
	else
		sched_summary(&c, req, vd, err);
cleanup:
	free(rk);
	free(g.members);
	ctx_free(&c);
	return rc;
}
