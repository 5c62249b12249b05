/*
 * drain: the migration planner (drain.h has the rules and the order).
 * Works on private copies of the hosts and VMs so each move sees the
 * earlier ones; everything but the plan is freed before returning.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drain.h"
#include "errors.h"
#include "util.h"

#define NO_INDEX	((size_t)-1)

/* A VM alone, or the moving members of one hard affinity group. */
struct drain_unit {
	size_t *members;		/* indexes into dvms[] */
	size_t n;
	int64_t v, r, d;		/* summed size */
	const char *name;		/* first member's name: tie-break */
};

static size_t
host_index(const struct sched_host *hosts, size_t nhosts, const char *name)
{
	size_t i;

	for (i = 0; i < nhosts; i++)
		if (strncmp(hosts[i].name, name, API_NAME_MAX) == 0)
			return i;
	return NO_INDEX;
}

static int
unit_cmp(const void *a, const void *b)
{
	const struct drain_unit *x = a, *y = b;

	if (x->r != y->r)
		return x->r > y->r ? -1 : 1;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1;
	if (x->d != y->d)
		return x->d > y->d ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
unit_add(struct drain_unit *u, size_t k, const struct drain_vm *dv,
    const struct sched_vm *v)
{
	u->members = xrealloc(u->members, (u->n + 1) * sizeof(*u->members));
	u->members[u->n++] = k;
	u->v += v->vcpus;
	u->r += v->ram_mib;
	u->d += v->disk_gib;
	if (u->name == NULL || strcmp(dv->name, u->name) < 0)
		u->name = dv->name;
}

/* Units in plan order; *nunits set. Members keep dvms[] order. */
static struct drain_unit *
units_build(const struct sched_vm *vms, const struct drain_vm *dvms,
    size_t ndvms, size_t *nunits)
{
	struct drain_unit *u = xcalloc(ndvms ? ndvms : 1, sizeof(*u));
	size_t *unit_of = xcalloc(ndvms ? ndvms : 1, sizeof(*unit_of));
	size_t i, j, n = 0;

	for (i = 0; i < ndvms; i++) {
		const struct sched_vm *v = &vms[dvms[i].vm];

		unit_of[i] = NO_INDEX;
		if (dvms[i].group_policy == SCHED_GROUP_AFFINITY &&
		    v->server_group[0] != '\0')
			for (j = 0; j < i; j++)
				if (dvms[j].group_policy ==
				    SCHED_GROUP_AFFINITY && strcmp(
				    vms[dvms[j].vm].server_group,
				    v->server_group) == 0) {
					unit_of[i] = unit_of[j];
					break;
				}
		if (unit_of[i] == NO_INDEX)
			unit_of[i] = n++;
		unit_add(&u[unit_of[i]], i, &dvms[i], v);
	}
	free(unit_of);
	qsort(u, n, sizeof(*u), unit_cmp);
	*nunits = n;
	return u;
}

/* Append the members' labels (comma-separated; their images' required
 * labels when image) to out; false if too long. */
static bool
unit_labels(const struct drain_unit *u, const struct drain_vm *dvms,
    bool image, char *out, size_t len)
{
	size_t k, used;

	out[0] = '\0';
	for (k = 0; k < u->n; k++) {
		const char *l = image ? dvms[u->members[k]].image_labels :
		    dvms[u->members[k]].labels;

		if (l[0] == '\0')
			continue;
		used = strlen(out);
		if ((size_t)snprintf(out + used, len - used, "%s%s",
		    used ? "," : "", l) >= len - used)
			return false;
	}
	return true;
}

static void
plan_stuck(struct drain_plan *p, size_t dvm, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static void
plan_stuck(struct drain_plan *p, size_t dvm, const char *fmt, ...)
{
	struct drain_stuck *s;
	va_list ap;

	p->stuck = xrealloc(p->stuck, (p->nstuck + 1) * sizeof(*p->stuck));
	s = &p->stuck[p->nstuck++];
	s->dvm = dvm;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* Place unit u on the working snapshot; moves or stuck entries appended. */
static void
plan_unit(const struct sched_config *cfg, struct sched_host *hs,
    size_t nhosts, struct sched_vm *vs, size_t nvms,
    const struct drain_vm *dvms, const struct drain_unit *u,
    const struct drain_opts *opts, size_t src, struct drain_plan *p)
{
	const struct drain_vm *first = &dvms[u->members[0]];
	const struct sched_vm *fv = &vs[first->vm];
	struct sched_result res = { -1, NULL, 0 };
	struct sched_request r;
	struct vm_error e = { 0, "" };
	char labels[API_TEXT_MAX], ilabels[API_TEXT_MAX];
	const char *arch = "", *image = "";
	size_t k, t;
	bool ha = false;

	for (k = 0; k < u->n; k++)
		ha = ha || vs[dvms[u->members[k]].vm].ha;
	if (!unit_labels(u, dvms, false, labels, sizeof(labels)) ||
	    !unit_labels(u, dvms, true, ilabels, sizeof(ilabels))) {
		for (k = 0; k < u->n; k++)
			plan_stuck(p, u->members[k], "affinity group %s: the "
			    "members' labels are too long together",
			    fv->server_group);
		return;
	}
	/* A unit lands on one host: its images must agree on the arch. */
	for (k = 0; k < u->n; k++) {
		const struct drain_vm *d = &dvms[u->members[k]];

		if (d->arch[0] == '\0')
			continue;
		if (arch[0] != '\0' && strcmp(arch, d->arch) != 0) {
			for (k = 0; k < u->n; k++)
				plan_stuck(p, u->members[k], "affinity group "
				    "%s: its members' images need different "
				    "architectures", fv->server_group);
			return;
		}
		arch = d->arch;
		image = d->image;
	}
	memset(&r, 0, sizeof(r));
	r.vcpus = u->v;
	r.ram_mib = u->r;
	r.disk_gib = u->d;
	r.ha = ha;
	r.site = first->site[0] ? first->site : hs[src].site;
	r.az = first->az;
	r.labels = labels;
	r.image = image;
	r.arch = arch;
	r.image_labels = ilabels;
	r.host_hint = opts->target;
	r.exclude = opts->source;
	r.server_group = fv->server_group;
	r.group_policy = fv->server_group[0] ? first->group_policy :
	    SCHED_GROUP_NONE;
	if (sched_place(cfg, hs, nhosts, vs, nvms, &r, &res, &e) < 0) {
		for (k = 0; k < u->n; k++) {
			if (u->n > 1)
				plan_stuck(p, u->members[k], "affinity group "
				    "%s moves together (%zu VMs, %lld vCPUs, "
				    "%lld MiB, %lld GiB): %s", fv->server_group,
				    u->n, (long long)u->v, (long long)u->r,
				    (long long)u->d, e.message);
			else
				plan_stuck(p, u->members[k], "%s", e.message);
		}
		sched_result_free(&res);
		return;
	}
	t = (size_t)res.chosen;
	sched_result_free(&res);
	hs[t].alloc_vcpus += u->v;
	hs[t].alloc_ram_mib += u->r;
	hs[t].alloc_disk_gib += u->d;
	p->moves = xrealloc(p->moves, (p->nmoves + u->n) * sizeof(*p->moves));
	for (k = 0; k < u->n; k++) {
		struct drain_move *m = &p->moves[p->nmoves++];

		m->dvm = u->members[k];
		str_copy(m->target, sizeof(m->target), hs[t].name);
		str_copy(vs[dvms[u->members[k]].vm].host, API_NAME_MAX,
		    hs[t].name);
	}
}

int
drain_plan(const struct sched_config *cfg,
    const struct sched_host *hosts, size_t nhosts,
    const struct sched_vm *vms, size_t nvms,
    const struct drain_vm *dvms, size_t ndvms,
    const struct drain_opts *opts, struct drain_plan *plan,
    struct vm_error *err)
{
	struct sched_host *hs = NULL;
	struct sched_vm *vs = NULL;
	struct drain_unit *units = NULL;
	size_t i, src, nunits = 0;
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	if (opts->source == NULL || (src = host_index(hosts, nhosts,
	    opts->source)) == NO_INDEX) {
		vm_error_set(err, API_ENOTFOUND, "host '%.64s' not found",
		    opts->source ? opts->source : "");
		goto cleanup;
	}
	if (opts->target != NULL && opts->target[0] != '\0' &&
	    host_index(hosts, nhosts, opts->target) == NO_INDEX) {
		vm_error_set(err, API_ENOTFOUND, "target host '%.64s' not "
		    "found", opts->target);
		goto cleanup;
	}
	for (i = 0; i < ndvms; i++)
		if (dvms[i].vm >= nvms || strncmp(vms[dvms[i].vm].host,
		    opts->source, API_NAME_MAX) != 0) {
			vm_error_set(err, API_EINVAL, "vm %.64s is not on host "
			    "%.64s", dvms[i].name, opts->source);
			goto cleanup;
		}
	hs = xcalloc(nhosts ? nhosts : 1, sizeof(*hs));
	memcpy(hs, hosts, nhosts * sizeof(*hs));
	vs = xcalloc(nvms ? nvms : 1, sizeof(*vs));
	memcpy(vs, vms, nvms * sizeof(*vs));
	/* The moving VMs leave the source: their claims go with them. */
	for (i = 0; i < ndvms; i++) {
		struct sched_vm *v = &vs[dvms[i].vm];

		hs[src].alloc_vcpus -= v->vcpus;
		hs[src].alloc_ram_mib -= v->ram_mib;
		hs[src].alloc_disk_gib -= v->disk_gib;
		v->host[0] = '\0';
	}
	if (opts->maintenance)
		hs[src].maintenance = true;
	units = units_build(vs, dvms, ndvms, &nunits);
	for (i = 0; i < nunits; i++)
		plan_unit(cfg, hs, nhosts, vs, nvms, dvms, &units[i], opts,
		    src, plan);
	rc = 0;
cleanup:
	for (i = 0; i < nunits; i++)
		free(units[i].members);
	free(units);
	free(hs);
	free(vs);
	return rc;
}

void
drain_plan_free(struct drain_plan *plan)
{
	if (plan == NULL)
		return;
	free(plan->moves);
	free(plan->stuck);
	memset(plan, 0, sizeof(*plan));
}

void
drain_plan_summary(const struct drain_plan *plan,
    const struct drain_vm *dvms, char *out, size_t len)
{
	size_t i, used;

	if (len == 0)
		return;
	snprintf(out, len, "%zu VM%s cannot move:", plan->nstuck,
	    plan->nstuck == 1 ? "" : "s");
	for (i = 0; i < plan->nstuck; i++) {
		used = strlen(out);
		if (used + 8 >= len)
			break;
		snprintf(out + used, len - used, "%s %s: %s", i ? ";" : "",
		    dvms[plan->stuck[i].dvm].name, plan->stuck[i].reason);
	}
	used = strlen(out);
	if (used == len - 1 && len > 4)
		memcpy(out + len - 4, "...", 4);
}
