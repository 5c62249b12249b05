/*
 * svc_metrics.c: GET /metrics in the Prometheus text exposition format
 * (version 0.0.4). Host, VM and task gauges come from one read
 * transaction; the HTTP counters and histograms from the server
 * (server_metrics). Authorization: the route's RES_HOST read rule.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "auditlog.h"
#include "svc.h"
#include "util.h"

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAXVM 256	/* distinct (state, agency) pairs listed */

/* Number of VMs per (state, agency). */
struct vm_count {
	int state;
	char agency[API_NAME_MAX];
	uint64_t n;
};

struct metrics_ctx {
	const struct ctl *ctl;
	struct buf hostbuf;		/* per-host gauge lines */
	uint64_t hosts[3];		/* up, down, maintenance */
	struct vm_count *vms;		/* owned */
	size_t nvms, capvms;
	uint64_t queued;
	int64_t oldest;			/* created_at of the oldest; 0 none */
};

static const char *const host_states[] = { "up", "down", "maintenance" };

static int
host_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct metrics_ctx *m = arg;
	struct api_host h;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_host_schema, val, vlen, &h, API_STORED,
	    err) < 0)
		return -1;
	svc_host_state(m->ctl, &h);
	m->hosts[h.maintenance ? 2 : h.state == HOST_UP ? 0 : 1]++;
	buf_printf(&m->hostbuf, "H %s %lld %lld %lld %lld\n", h.name,
	    (long long)h.alloc_vcpus, (long long)h.alloc_ram_mib,
	    (long long)h.vcpus, (long long)h.ram_mib);
	return 0;
}

static int
vm_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct metrics_ctx *m = arg;
	struct api_vm *vm = xmalloc(sizeof(*vm));
	size_t i;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_vm_schema, val, vlen, vm, API_STORED,
	    err) < 0) {
		free(vm);
		return -1;
	}
	for (i = 0; i < m->nvms; i++)
		if (m->vms[i].state == vm->state &&
		    strcmp(m->vms[i].agency, vm->agency) == 0)
			break;
	if (i == m->nvms) {
		if (m->nvms == m->capvms) {
			m->capvms = m->capvms ? m->capvms * 2 : 16;
			m->vms = xrealloc(m->vms, m->capvms * sizeof(*m->vms));
		}
		memset(&m->vms[i], 0, sizeof(m->vms[i]));
		m->vms[i].state = vm->state;
		str_copy(m->vms[i].agency, sizeof(m->vms[i].agency),
		    vm->agency);
		m->nvms++;
	}
	m->vms[i].n++;
	free(vm);
	return 0;
}

static int
task_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct metrics_ctx *m = arg;
	struct api_task *t = xmalloc(sizeof(*t));

	(void)key;
	(void)klen;
	if (api_decode_text(&api_task_schema, val, vlen, t, API_STORED,
	    err) < 0) {
		free(t);
		return -1;
	}
	if (t->state != TASK_DONE) {
		m->queued++;
		if (m->oldest == 0 || (t->created_at != 0 &&
		    t->created_at < m->oldest))
			m->oldest = t->created_at;
	}
	free(t);
	return 0;
}

static void
help(struct buf *out, const char *name, const char *type, const char *text)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* The per-host gauges from the "H name a b c d" lines of hostbuf. */
static void
host_gauges(struct buf *out, const struct buf *hb)
{
	static const char *const names[] = {
		"vmctl_host_alloc_vcpus", "vmctl_host_alloc_ram_mib",
		"vmctl_host_vcpus", "vmctl_host_ram_mib"
	};
	static const char *const helps[] = {
		"vCPUs claimed by the VMs placed on the host.",
		"RAM (MiB) claimed by the VMs placed on the host.",
		"vCPUs of the host.",
		"RAM (MiB) of the host."
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(names); k++) {
		const char *p = hb->len ? hb->data : "";

		help(out, names[k], "gauge", helps[k]);
		while (*p != '\0') {
			char name[API_NAME_MAX];
			long long v[4];
			const char *nl = strchr(p, '\n');

			if (sscanf(p, "H %63s %lld %lld %lld %lld", name, &v[0],
			    &v[1], &v[2], &v[3]) == 5) {
				buf_printf(out, "%s{host=\"", names[k]);
				metrics_label(out, name);
				buf_printf(out, "\"} %lld\n", v[k]);
			}
			if (nl == NULL)
				break;
			p = nl + 1;
		}
	}
}

/* One sample without labels, after its HELP and TYPE lines. */
static void
metric_u64(struct buf *out, const char *name, const char *type,
    const char *text, uint64_t v)
{
	help(out, name, type, text);
	buf_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* The store's map use and the audit trail's counters (auditlog.c). */
static void
audit_metrics(const struct ctl *ctl, struct buf *out)
{
	struct auditlog_stats a;

	auditlog_stats(ctl, &a);
	metric_u64(out, "vmctl_store_map_used_bytes", "gauge",
	    "Bytes of the LMDB map in use (pages used minus free pages).",
	    a.store_used);
	metric_u64(out, "vmctl_store_map_size_bytes", "gauge",
	    "Bytes the LMDB map can hold (store.map_size_mib).",
	    a.store_size);
	help(out, "vmctl_store_high_water_ratio", "gauge",
	    "Share of the map above which user changes get 503 "
	    "(store.high_water_pct).");
	buf_printf(out, "vmctl_store_high_water_ratio %.2f\n",
	    (double)a.high_water_pct / 100.0);
	metric_u64(out, "vmctl_audit_refusals_total", "counter",
	    "Refused requests (401/403/429) counted for the audit trail.",
	    a.refusals);
	metric_u64(out, "vmctl_audit_refusal_events_total", "counter",
	    "Aggregated refusal events written (one per key and interval).",
	    a.flushed_events);
	metric_u64(out, "vmctl_audit_pruned_total", "counter",
	    "Audit events pruned by retention (exported first).", a.pruned);
}

int
svc_metrics(struct req *req, struct resp *resp)
{
	struct metrics_ctx m;
	struct store_txn *txn = NULL;
	uint64_t commits, batches;
	struct vm_error err = { 0, "" };
	struct buf out = { NULL, 0, 0 };
	size_t i;
	int s;

	memset(&m, 0, sizeof(m));
	m.ctl = req->ctl;
	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    store_iter(txn, DB_HOSTS, NULL, host_cb, &m, &err) < 0 ||
	    store_iter(txn, DB_VMS, NULL, vm_cb, &m, &err) < 0 ||
	    store_iter(txn, DB_TASKS, NULL, task_cb, &m, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	txn = NULL;

	help(&out, "vmctl_hosts", "gauge", "Hosts by state (maintenance "
	    "counts hosts in maintenance whatever their liveness).");
	for (s = 0; s < 3; s++)
		buf_printf(&out, "vmctl_hosts{state=\"%s\"} %llu\n",
		    host_states[s], (unsigned long long)m.hosts[s]);
	help(&out, "vmctl_vms", "gauge", "VMs by state and agency.");
	for (i = 0; i < m.nvms; i++) {
		int st = m.vms[i].state;

		buf_printf(&out, "vmctl_vms{state=\"");
		metrics_label(&out, st >= 0 && st <= VM_MIGRATING ?
		    api_vm_state_names[st] : "unknown");
		buf_printf(&out, "\",agency=\"");
		metrics_label(&out, m.vms[i].agency);
		buf_printf(&out, "\"} %llu\n", (unsigned long long)m.vms[i].n);
	}
	host_gauges(&out, &m.hostbuf);
	help(&out, "vmctl_tasks_queued", "gauge",
	    "Agent tasks not done (queued or leased).");
	buf_printf(&out, "vmctl_tasks_queued %llu\n",
	    (unsigned long long)m.queued);
	help(&out, "vmctl_task_oldest_age_seconds", "gauge",
	    "Age of the oldest task not done; 0 when none.");
	buf_printf(&out, "vmctl_task_oldest_age_seconds %.3f\n",
	    m.oldest == 0 || now_ms() < m.oldest ? 0.0 :
	    (double)(now_ms() - m.oldest) / 1000.0);
	store_stats(req->ctl->store, &commits, &batches);
	help(&out, "vmctl_store_commits_total", "counter",
	    "Write transactions committed (one per changing request).");
	buf_printf(&out, "vmctl_store_commits_total %llu\n",
	    (unsigned long long)commits);
	help(&out, "vmctl_store_batches_total", "counter",
	    "Group commits (fsyncs) that carried them.");
	buf_printf(&out, "vmctl_store_batches_total %llu\n",
	    (unsigned long long)batches);
	audit_metrics(req->ctl, &out);
	if (req->ctl->sched_stats != NULL) {
		const struct ctl_sched_stats *st = req->ctl->sched_stats;

		help(&out, "vmctl_sched_placements_total", "counter",
		    "Scheduler runs of POST /v1/vms (placed or refused).");
		buf_printf(&out, "vmctl_sched_placements_total %llu\n",
		    (unsigned long long)__atomic_load_n(&st->placements,
		    __ATOMIC_RELAXED));
		help(&out, "vmctl_sched_seconds_total", "counter",
		    "Time of those runs: phase load = reading hosts, HA sizes "
		    "and group members in the create txn; place = filters, "
		    "weights, N+1.");
		buf_printf(&out, "vmctl_sched_seconds_total{phase=\"load\"} "
		    "%.6f\n", (double)__atomic_load_n(&st->load_us,
		    __ATOMIC_RELAXED) / 1e6);
		buf_printf(&out, "vmctl_sched_seconds_total{phase=\"place\"} "
		    "%.6f\n", (double)__atomic_load_n(&st->place_us,
		    __ATOMIC_RELAXED) / 1e6);
	}
	server_metrics(req->ctl->server, &out);

	buf_free(&m.hostbuf);
	free(m.vms);
	buf_append(&out, "", 1);	/* NUL-terminated even when empty */
	resp_text(resp, 200, out.data, METRICS_CTYPE);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	buf_free(&m.hostbuf);
	buf_free(&out);
	free(m.vms);
	resp_error(resp, &err);
	return HANDLER_DONE;
}
