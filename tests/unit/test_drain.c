/*
 * test_drain: unit tests for controller/drain.c, the migration planner.
 * Pure logic over arrays of hosts and placed VMs: the 40 VMs with
 * anti-affinity and N+1, the capacity edge, nothing fits, hard affinity
 * groups (together or not at all), one VM with a chosen target,
 * determinism, bad input, and the time to plan a drain on 200 hosts with
 * 10,000 VMs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "drain.h"
#include "errors.h"
#include "scheduler.h"
#include "util.h"

/* ---------------------------------------------------------------- world */

#define MAXH 256
#define MAXV 12000

struct world {
	struct sched_config cfg;
	struct sched_host h[MAXH];
	size_t nh;
	struct sched_vm v[MAXV];
	size_t nv;
	struct drain_vm d[MAXV];	/* VMs to move */
	size_t nd;
	int policy[MAXV];		/* group policy of v[i] */
	char names[MAXV][API_NAME_MAX];
};

static struct world *
world_new(int tolerate)
{
	struct world *w = xcalloc(1, sizeof(*w));

	sched_config_defaults(&w->cfg);
	w->cfg.tolerate_host_failures = tolerate;
	return w;
}

static size_t
hidx(const struct world *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nh; i++)
		if (strcmp(w->h[i].name, name) == 0)
			return i;
	fail_msg("no host %s", name);
	return 0;
}

static void
add_host(struct world *w, const char *name, const char *site,
    int64_t vcpus, int64_t ram_mib, int64_t disk_gib)
{
	struct sched_host *h = &w->h[w->nh++];

	memset(h, 0, sizeof(*h));
	str_copy(h->name, sizeof(h->name), name);
	str_copy(h->site, sizeof(h->site), site);
	h->up = true;
	h->vcpus = vcpus;
	h->ram_mib = ram_mib;
	h->disk_gib = disk_gib;
}

/* A placed VM (claims on its host); returns its index. */
static size_t
add_vm(struct world *w, const char *name, const char *host,
    const char *group, int policy, bool ha, int64_t vcpus, int64_t ram_mib,
    int64_t disk_gib)
{
	size_t i = w->nv++, k = hidx(w, host);
	struct sched_vm *v = &w->v[i];

	memset(v, 0, sizeof(*v));
	str_copy(v->host, sizeof(v->host), host);
	str_copy(v->server_group, sizeof(v->server_group), group ? group :
	    "");
	v->ha = ha;
	v->vcpus = vcpus;
	v->ram_mib = ram_mib;
	v->disk_gib = disk_gib;
	w->policy[i] = policy;
	str_copy(w->names[i], API_NAME_MAX, name);
	w->h[k].alloc_vcpus += vcpus;
	w->h[k].alloc_ram_mib += ram_mib;
	w->h[k].alloc_disk_gib += disk_gib;
	return i;
}

/* Every VM on host goes into the list to move. */
static void
select_host(struct world *w, const char *host)
{
	size_t i;

	w->nd = 0;
	for (i = 0; i < w->nv; i++) {
		struct drain_vm *d;

		if (strcmp(w->v[i].host, host) != 0)
			continue;
		d = &w->d[w->nd++];
		memset(d, 0, sizeof(*d));
		d->vm = i;
		snprintf(d->id, sizeof(d->id), "%036zu", i);
		str_copy(d->name, sizeof(d->name), w->names[i]);
		d->group_policy = w->policy[i];
	}
}

static void
plan_of(struct world *w, const char *source, const char *target,
    bool maintenance, struct drain_plan *p)
{
	struct drain_opts o = { source, target, maintenance };
	struct vm_error err;

	vm_error_clear(&err);
	if (drain_plan(&w->cfg, w->h, w->nh, w->v, w->nv, w->d, w->nd, &o, p,
	    &err) != 0)
		fail_msg("drain_plan: %s", err.message);
	assert_int_equal(p->nmoves + p->nstuck, w->nd);
}

/* Apply the moves to the world (what the migrations will do). */
static void
apply(struct world *w, const char *source, const struct drain_plan *p)
{
	size_t i, s = hidx(w, source);

	for (i = 0; i < p->nmoves; i++) {
		struct sched_vm *v = &w->v[w->d[p->moves[i].dvm].vm];
		size_t t = hidx(w, p->moves[i].target);

		assert_string_not_equal(p->moves[i].target, source);
		w->h[s].alloc_vcpus -= v->vcpus;
		w->h[s].alloc_ram_mib -= v->ram_mib;
		w->h[s].alloc_disk_gib -= v->disk_gib;
		w->h[t].alloc_vcpus += v->vcpus;
		w->h[t].alloc_ram_mib += v->ram_mib;
		w->h[t].alloc_disk_gib += v->disk_gib;
		str_copy(v->host, sizeof(v->host), p->moves[i].target);
	}
}

/* No host over its effective capacity; no hard group broken. */
static void
check_world(const struct world *w)
{
	size_t i, j;

	for (i = 0; i < w->nh; i++) {
		int64_t v, r, d;

		sched_capacity(&w->cfg, &w->h[i], &v, &r, &d);
		assert_true(w->h[i].alloc_vcpus <= v);
		assert_true(w->h[i].alloc_ram_mib <= r);
		assert_true(w->h[i].alloc_disk_gib <= d);
	}
	for (i = 0; i < w->nv; i++)
		for (j = i + 1; j < w->nv; j++) {
			if (w->v[i].server_group[0] == '\0' || strcmp(
			    w->v[i].server_group, w->v[j].server_group) != 0)
				continue;
			if (w->policy[i] == SCHED_GROUP_ANTI_AFFINITY &&
			    strcmp(w->v[i].host, w->v[j].host) == 0)
				fail_msg("anti-affinity %s: %s and %s both on "
				    "%s", w->v[i].server_group, w->names[i],
				    w->names[j], w->v[i].host);
			if (w->policy[i] == SCHED_GROUP_AFFINITY &&
			    strcmp(w->v[i].host, w->v[j].host) != 0)
				fail_msg("affinity %s: %s on %s, %s on %s",
				    w->v[i].server_group, w->names[i],
				    w->v[i].host, w->names[j], w->v[j].host);
		}
}

static const char *
stuck_reason(const struct world *w, const struct drain_plan *p,
    const char *name)
{
	size_t i;

	for (i = 0; i < p->nstuck; i++)
		if (strcmp(w->d[p->stuck[i].dvm].name, name) == 0)
			return p->stuck[i].reason;
	fail_msg("%s is not stuck", name);
	return NULL;
}

static const char *
target_of(const struct world *w, const struct drain_plan *p,
    const char *name)
{
	size_t i;

	for (i = 0; i < p->nmoves; i++)
		if (strcmp(w->d[p->moves[i].dvm].name, name) == 0)
			return p->moves[i].target;
	fail_msg("%s does not move", name);
	return NULL;
}

#define assert_contains(hay, needle) do {				\
	if (strstr((hay), (needle)) == NULL)				\
		fail_msg("'%s' lacks '%s'", (hay), (needle));		\
} while (0)

/* ---------------------------------------------------------------- tests */

/*
 * The case: a host with 40 VMs (8 of them members of anti-affinity
 * groups whose other members sit on hv2 and hv3) drained onto 4 hosts,
 * with N+1 after the drain.
 */
static struct world *
world_40(void)
{
	struct world *w = world_new(1);
	char name[API_NAME_MAX], grp[API_NAME_MAX];
	int i;

	add_host(w, "hv1", "dc", 16, 32768, 500);
	add_host(w, "hv2", "dc", 16, 32768, 500);
	add_host(w, "hv3", "dc", 16, 32768, 500);
	add_host(w, "hv4", "dc", 16, 32768, 500);
	add_host(w, "hv5", "dc", 16, 32768, 500);
	add_host(w, "dr1", "dr", 64, 262144, 4000);	/* other site: never */
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "vm-%02d", i);
		snprintf(grp, sizeof(grp), "aa%d", i);
		add_vm(w, name, "hv1", i < 8 ? grp : NULL, i < 8 ?
		    SCHED_GROUP_ANTI_AFFINITY : SCHED_GROUP_NONE, true,
		    i < 10 ? 2 : 1, i < 10 ? 1024 : 512, 10);
	}
	for (i = 0; i < 8; i++) {
		snprintf(grp, sizeof(grp), "aa%d", i);
		snprintf(name, sizeof(name), "peer-a%d", i);
		add_vm(w, name, "hv2", grp, SCHED_GROUP_ANTI_AFFINITY, true, 1,
		    512, 10);
		snprintf(name, sizeof(name), "peer-b%d", i);
		add_vm(w, name, "hv3", grp, SCHED_GROUP_ANTI_AFFINITY, true, 1,
		    512, 10);
	}
	for (i = 2; i <= 5; i++) {
		snprintf(name, sizeof(name), "bg-%d", i);
		snprintf(grp, sizeof(grp), "hv%d", i);
		add_vm(w, name, grp, NULL, SCHED_GROUP_NONE, true, 4, 8192, 50);
	}
	return w;
}

static void
test_forty_vms_anti_affinity_n1(void **state)
{
	struct world *w = world_40();
	struct drain_plan p;
	char failing[API_TEXT_MAX], why[API_TEXT_MAX];
	size_t i;
	int n4 = 0;

	(void)state;
	select_host(w, "hv1");
	assert_int_equal(w->nd, 40);
	plan_of(w, "hv1", NULL, true, &p);
	assert_int_equal(p.nstuck, 0);
	assert_int_equal(p.nmoves, 40);
	/* Largest first: the ten 1 GiB VMs lead the plan. */
	for (i = 0; i < 10; i++)
		assert_int_equal(w->v[w->d[p.moves[i].dvm].vm].ram_mib, 1024);
	/* The anti-affinity members can only go to hv4 or hv5. */
	for (i = 0; i < 8; i++) {
		char name[API_NAME_MAX];
		const char *t;

		snprintf(name, sizeof(name), "vm-%02zu", i);
		t = target_of(w, &p, name);
		assert_true(strcmp(t, "hv4") == 0 || strcmp(t, "hv5") == 0);
	}
	for (i = 0; i < p.nmoves; i++) {
		assert_string_not_equal(p.moves[i].target, "dr1");
		n4 += strcmp(p.moves[i].target, "hv4") == 0;
	}
	assert_true(n4 > 0 && n4 < 40);		/* spread, not piled up */
	apply(w, "hv1", &p);
	w->h[hidx(w, "hv1")].maintenance = true;
	assert_int_equal(w->h[hidx(w, "hv1")].alloc_ram_mib, 0);
	check_world(w);
	/* N+1 holds after the drain, hv1 out of service. */
	assert_int_equal(sched_site_n1(&w->cfg, "dc", w->h, w->nh, w->v, w->nv,
	    failing, why), 0);
	drain_plan_free(&p);
	drain_plan_free(&p);		/* twice is fine */
	free(w);
}

/* Same 40 VMs, but the remaining hosts are too small for N+1 after it. */
static void
test_forty_vms_n1_refuses(void **state)
{
	struct world *w = world_40();
	struct drain_plan p;
	char sum[1024];
	size_t i;

	(void)state;
	for (i = 1; i < 5; i++)
		w->h[i].ram_mib = 20480;	/* 4 x 20 GiB for ~58 GiB */
	select_host(w, "hv1");
	plan_of(w, "hv1", NULL, true, &p);
	assert_true(p.nstuck > 0);
	assert_true(p.nmoves > 0);
	for (i = 0; i < p.nstuck; i++)
		assert_contains(p.stuck[i].reason, "n+1");
	assert_contains(p.stuck[0].reason, "losing host");
	assert_contains(p.stuck[0].reason, "MiB");
	drain_plan_summary(&p, w->d, sum, sizeof(sum));
	assert_contains(sum, "cannot move:");
	assert_contains(sum, w->d[p.stuck[0].dvm].name);
	/* What it did plan keeps N+1 and capacity. */
	apply(w, "hv1", &p);
	check_world(w);
	drain_plan_free(&p);
	/* tolerate 0: capacity alone decides, everything moves. */
	free(w);
	w = world_40();
	w->cfg.tolerate_host_failures = 0;
	for (i = 1; i < 5; i++)
		w->h[i].ram_mib = 20480;
	select_host(w, "hv1");
	plan_of(w, "hv1", NULL, true, &p);
	assert_int_equal(p.nstuck, 0);
	apply(w, "hv1", &p);
	check_world(w);
	drain_plan_free(&p);
	free(w);
}

static void
test_capacity_edge(void **state)
{
	struct world *w = world_new(0);
	struct drain_plan p;

	(void)state;
	add_host(w, "a", "dc", 4, 8192, 100);
	add_host(w, "b", "dc", 4, 8192, 100);
	add_vm(w, "big", "a", NULL, 0, true, 2, 4096, 40);
	add_vm(w, "fill", "b", NULL, 0, true, 2, 4096, 60);
	/* b has exactly 4096 MiB and 40 GiB left: fits. */
	select_host(w, "a");
	plan_of(w, "a", NULL, true, &p);
	assert_int_equal(p.nmoves, 1);
	assert_string_equal(p.moves[0].target, "b");
	drain_plan_free(&p);
	/* One MiB more than b has: stuck, with the numbers. */
	w->v[0].ram_mib = 4097;
	plan_of(w, "a", NULL, true, &p);
	assert_int_equal(p.nmoves, 0);
	assert_int_equal(p.nstuck, 1);
	assert_contains(stuck_reason(w, &p, "big"),
	    "ram: 1 host (b: 4096 MiB free of 8192 (ratio 1.0), needs 4097)");
	drain_plan_free(&p);
	/* vCPUs use the overcommit ratio: 16 effective, 2 used. */
	w->v[0].ram_mib = 1024;
	w->v[0].vcpus = 15;
	plan_of(w, "a", NULL, true, &p);
	assert_int_equal(p.nstuck, 1);
	assert_contains(p.stuck[0].reason, "vcpus: 1 host (b: 14 free of 16 "
	    "(ratio 4.0), needs 15)");
	drain_plan_free(&p);
	w->v[0].vcpus = 14;
	plan_of(w, "a", NULL, true, &p);
	assert_int_equal(p.nmoves, 1);
	drain_plan_free(&p);
	free(w);
}

static void
test_nothing_fits(void **state)
{
	struct world *w = world_new(1);
	struct drain_plan p;
	char sum[2048];
	size_t i;

	(void)state;
	add_host(w, "a", "dc", 8, 16384, 200);
	add_host(w, "b", "dc", 8, 16384, 200);
	add_host(w, "c", "dc", 8, 16384, 200);
	w->h[2].up = false;			/* c is down */
	add_vm(w, "x1", "a", NULL, 0, false, 2, 10000, 10);
	add_vm(w, "x2", "a", NULL, 0, false, 2, 6000, 10);
	add_vm(w, "y", "b", NULL, 0, false, 2, 12000, 10);
	select_host(w, "a");
	plan_of(w, "a", NULL, true, &p);
	assert_int_equal(p.nmoves, 0);
	assert_int_equal(p.nstuck, 2);
	/* With a in maintenance and c down, b is the only usable host. */
	for (i = 0; i < 2; i++)
		assert_contains(p.stuck[i].reason, "no host can take");
	assert_contains(stuck_reason(w, &p, "x1"), "in site dc");
	assert_contains(stuck_reason(w, &p, "x1"), "up: 1 host");
	drain_plan_summary(&p, w->d, sum, sizeof(sum));
	assert_contains(sum, "2 VMs cannot move: x1: ");
	assert_contains(sum, "; x2: ");
	drain_plan_free(&p);
	/* A tiny summary buffer is cut, not overrun. */
	plan_of(w, "a", NULL, true, &p);
	drain_plan_summary(&p, w->d, sum, 40);
	assert_true(strlen(sum) <= 39);
	drain_plan_free(&p);
	/* No VMs to move: an empty plan. */
	w->nd = 0;
	plan_of(w, "c", NULL, true, &p);
	assert_int_equal(p.nmoves + p.nstuck, 0);
	drain_plan_free(&p);
	free(w);
}

static void
test_affinity_together_or_refused(void **state)
{
	struct world *w = world_new(0);
	struct drain_plan p;
	const char *t;

	(void)state;
	add_host(w, "src", "dc", 16, 32768, 500);
	add_host(w, "t1", "dc", 16, 8192, 500);
	add_host(w, "t2", "dc", 16, 16384, 500);
	add_host(w, "t3", "dc", 16, 16384, 500);
	add_vm(w, "g1", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "g2", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "g3", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "solo", "src", NULL, 0, true, 1, 1024, 10);
	add_vm(w, "t3-load", "t3", NULL, 0, true, 1, 2048, 10);
	select_host(w, "src");
	plan_of(w, "src", NULL, true, &p);
	assert_int_equal(p.nstuck, 0);
	/* 12 GiB together: only t2 or t3 can hold them; t2 has more room. */
	t = target_of(w, &p, "g1");
	assert_string_equal(t, "t2");
	assert_string_equal(target_of(w, &p, "g2"), t);
	assert_string_equal(target_of(w, &p, "g3"), t);
	/* The group is the largest unit: planned first. */
	assert_string_equal(w->d[p.moves[0].dvm].name, "g1");
	apply(w, "src", &p);
	check_world(w);
	drain_plan_free(&p);
	free(w);

	/* No host holds all three: none moves, each says why. */
	w = world_new(0);
	add_host(w, "src", "dc", 16, 32768, 500);
	add_host(w, "t1", "dc", 16, 8192, 500);
	add_host(w, "t2", "dc", 16, 10240, 500);
	add_vm(w, "g1", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "g2", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "g3", "src", "db", SCHED_GROUP_AFFINITY, true, 2, 4096, 10);
	add_vm(w, "solo", "src", NULL, 0, true, 1, 1024, 10);
	select_host(w, "src");
	plan_of(w, "src", NULL, true, &p);
	assert_int_equal(p.nmoves, 1);
	assert_string_equal(w->d[p.moves[0].dvm].name, "solo");
	assert_int_equal(p.nstuck, 3);
	assert_contains(stuck_reason(w, &p, "g2"), "affinity group db moves "
	    "together (3 VMs, 6 vCPUs, 12288 MiB, 30 GiB)");
	assert_contains(stuck_reason(w, &p, "g2"), "ram: 2 hosts");
	drain_plan_free(&p);

	/* One member alone (not a drain) cannot leave its group. */
	w->nd = 1;
	plan_of(w, "src", NULL, false, &p);
	assert_int_equal(p.nstuck, 1);
	assert_contains(p.stuck[0].reason, "affinity: 2 hosts");
	assert_contains(p.stuck[0].reason, "they are on src");
	drain_plan_free(&p);
	free(w);
}

/* One VM (vm migrate): the source stays in service; target optional. */
static void
test_single_vm_target(void **state)
{
	struct world *w = world_new(1);
	struct drain_plan p;
	struct drain_opts o = { "a", "nope", false };
	struct vm_error err;

	(void)state;
	add_host(w, "a", "dc", 8, 8192, 100);
	add_host(w, "b", "dc", 8, 8192, 100);
	add_host(w, "c", "dc", 8, 8192, 100);
	add_host(w, "d", "dc", 8, 8192, 100);
	add_vm(w, "web", "a", "web", SCHED_GROUP_ANTI_AFFINITY, true, 1, 2048,
	    10);
	add_vm(w, "web2", "b", "web", SCHED_GROUP_ANTI_AFFINITY, true, 1,
	    2048, 10);
	add_vm(w, "load", "c", NULL, 0, true, 1, 1024, 10);
	select_host(w, "a");
	/* Scheduler's choice: not a (source), not b (anti-affinity); d has
	 * the most free RAM. */
	plan_of(w, "a", NULL, false, &p);
	assert_int_equal(p.nmoves, 1);
	assert_string_equal(p.moves[0].target, "d");
	drain_plan_free(&p);
	plan_of(w, "a", "c", false, &p);
	assert_string_equal(p.moves[0].target, "c");
	drain_plan_free(&p);
	/* A target that breaks anti-affinity: stuck with the verdict. */
	plan_of(w, "a", "b", false, &p);
	assert_int_equal(p.nstuck, 1);
	assert_contains(p.stuck[0].reason, "on host b");
	assert_contains(p.stuck[0].reason, "anti-affinity: 1 host (b: holds 1 "
	    "member of group web)");
	drain_plan_free(&p);
	/* The source itself as target: refused as a hint. */
	plan_of(w, "a", "a", false, &p);
	assert_int_equal(p.nstuck, 1);
	assert_contains(p.stuck[0].reason, "no host can take");
	drain_plan_free(&p);
	/* Unknown target, unknown source, a VM not on the source. */
	vm_error_clear(&err);
	assert_int_equal(drain_plan(&w->cfg, w->h, w->nh, w->v, w->nv, w->d,
	    w->nd, &o, &p, &err), -1);
	assert_int_equal(err.code, API_ENOTFOUND);
	assert_contains(err.message, "target host 'nope' not found");
	o.target = NULL;
	o.source = "zz";
	vm_error_clear(&err);
	assert_int_equal(drain_plan(&w->cfg, w->h, w->nh, w->v, w->nv, w->d,
	    w->nd, &o, &p, &err), -1);
	assert_int_equal(err.code, API_ENOTFOUND);
	o.source = "b";
	vm_error_clear(&err);
	assert_int_equal(drain_plan(&w->cfg, w->h, w->nh, w->v, w->nv, w->d,
	    w->nd, &o, &p, &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	assert_contains(err.message, "vm web is not on host b");
	assert_null(p.moves);
	assert_null(p.stuck);
	free(w);
}

/* Same input, same plan; input order does not matter either. */
static void
test_deterministic(void **state)
{
	struct world *w = world_40();
	struct drain_plan p1, p2, p3;
	struct drain_vm tmp;
	size_t i;

	(void)state;
	select_host(w, "hv1");
	plan_of(w, "hv1", NULL, true, &p1);
	plan_of(w, "hv1", NULL, true, &p2);
	assert_int_equal(p1.nmoves, p2.nmoves);
	for (i = 0; i < p1.nmoves; i++) {
		assert_int_equal(p1.moves[i].dvm, p2.moves[i].dvm);
		assert_string_equal(p1.moves[i].target, p2.moves[i].target);
	}
	/* Reverse the list: same VM -> host pairs in the same order. */
	for (i = 0; i < w->nd / 2; i++) {
		tmp = w->d[i];
		w->d[i] = w->d[w->nd - 1 - i];
		w->d[w->nd - 1 - i] = tmp;
	}
	plan_of(w, "hv1", NULL, true, &p3);
	assert_int_equal(p1.nmoves, p3.nmoves);
	for (i = 0; i < p1.nmoves; i++) {
		assert_int_equal(w->d[p3.moves[i].dvm].vm,
		    w->d[w->nd - 1 - p1.moves[i].dvm].vm);
		assert_string_equal(p1.moves[i].target, p3.moves[i].target);
	}
	drain_plan_free(&p1);
	drain_plan_free(&p2);
	drain_plan_free(&p3);
	free(w);
}

static double
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* 200 hosts, 10,000 VMs (50 a host, HA, a tenth in anti-affinity pairs):
 * plan the drain of one host. */
static void
test_perf_200_hosts_10000_vms(void **state)
{
	enum { NH = 200, NV = 10000 };
	struct world *w = world_new(1);
	struct drain_plan p;
	struct timespec a, b;
	char name[API_NAME_MAX], hname[API_NAME_MAX], grp[API_NAME_MAX];
	size_t i;
	double ms;

	(void)state;
	for (i = 0; i < NH; i++) {
		snprintf(hname, sizeof(hname), "hv%03zu", i);
		add_host(w, hname, i % 2 ? "dc" : "dr", 64, 262144, 8000);
	}
	for (i = 0; i < NV; i++) {
		bool grouped = i % 10 == 0;

		snprintf(name, sizeof(name), "vm%05zu", i);
		snprintf(hname, sizeof(hname), "hv%03zu", i % NH);
		snprintf(grp, sizeof(grp), "g%zu", i / 20);
		add_vm(w, name, hname, grouped ? grp : NULL, grouped ?
		    SCHED_GROUP_ANTI_AFFINITY : SCHED_GROUP_NONE, true,
		    1 + (int64_t)(i % 4), 1024 + 1024 * (int64_t)(i % 4),
		    20);
	}
	select_host(w, "hv001");
	assert_int_equal(w->nd, NV / NH);
	clock_gettime(CLOCK_MONOTONIC, &a);
	plan_of(w, "hv001", NULL, true, &p);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = elapsed_ms(&a, &b);
	assert_int_equal(p.nstuck, 0);
	apply(w, "hv001", &p);
	check_world(w);
	printf("drain plan: 200 hosts, 10000 VMs, %zu VMs moved off hv001 in "
	    "%.1f ms (%.2f ms per VM)\n", p.nmoves, ms, ms / (double)p.nmoves);
	assert_true(ms < 5000.0);
	drain_plan_free(&p);
	free(w);
}

/* A drain honours the VMs' image constraints: an aarch64 VM goes to the
 * aarch64 host only, a VM whose image needs label gpu is stuck when no
 * other host has it, with the image named. */
static void
test_image_constraints(void **state)
{
	struct world *w = world_new(0);
	struct drain_plan p;
	size_t i;

	(void)state;
	add_host(w, "hv1", "dc", 16, 16384, 200);
	add_host(w, "hv2", "dc", 16, 16384, 200);
	add_host(w, "hv3", "dc", 16, 16384, 200);
	str_copy(w->h[0].arch, API_NAME_MAX, "aarch64");
	str_copy(w->h[1].arch, API_NAME_MAX, "x86_64");
	str_copy(w->h[2].arch, API_NAME_MAX, "aarch64");
	str_copy(w->h[0].labels, API_TEXT_MAX, "gpu");
	add_vm(w, "arm1", "hv1", NULL, SCHED_GROUP_NONE, true, 1, 1024, 10);
	add_vm(w, "arm2", "hv1", NULL, SCHED_GROUP_NONE, true, 1, 1024, 10);
	add_vm(w, "gpu1", "hv1", NULL, SCHED_GROUP_NONE, true, 1, 1024, 10);
	select_host(w, "hv1");
	for (i = 0; i < w->nd; i++) {
		str_copy(w->d[i].image, API_NAME_MAX, i < 2 ? "armimg" :
		    "gpuimg");
		str_copy(w->d[i].arch, API_NAME_MAX, "aarch64");
		if (i == 2)
			str_copy(w->d[i].image_labels, API_TEXT_MAX, "gpu");
	}
	plan_of(w, "hv1", NULL, true, &p);
	assert_int_equal(p.nmoves, 2);
	for (i = 0; i < p.nmoves; i++)
		assert_string_equal(p.moves[i].target, "hv3");
	assert_int_equal(p.nstuck, 1);
	assert_string_equal(w->d[p.stuck[0].dvm].name, "gpu1");
	if (strstr(p.stuck[0].reason, "image: 2 hosts (hv2: gpuimg") == NULL)
		fail_msg("stuck reason: %s", p.stuck[0].reason);
	drain_plan_free(&p);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forty_vms_anti_affinity_n1),
		cmocka_unit_test(test_forty_vms_n1_refuses),
		cmocka_unit_test(test_capacity_edge),
		cmocka_unit_test(test_nothing_fits),
		cmocka_unit_test(test_affinity_together_or_refused),
		cmocka_unit_test(test_single_vm_target),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_image_constraints),
		cmocka_unit_test(test_perf_200_hosts_10000_vms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
