/*
 * taskloop: task delivery and execution on the agent side.
 *
 *   tl_poll_main   GET /v1/agent/tasks (long poll) -> tl_dispatch() puts
 *                  each task on worker hash(vm_id) % workers, unless the
 *                  same task id is already here (a redelivery).
 *   tl_worker_main runs tl_exec() on its tasks one by one, then queues
 *                  the result.
 *   tl_send_main   POST /v1/agent/results in batches; a result leaves the
 *                  queue only once the controller answered, so none is
 *                  lost when the controller is down or restarting.
 *
 * A task id counts as "here" from dispatch until its result is accepted.
 * Tasks are executed idempotently keyed by VM uuid (docs/internals.md,
 * "Delivery and idempotency"): doing one twice is harmless.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentproto.h"
#include "disks.h"
#include "imgcache.h"
#include "domxml.h"
#include "netxml.h"
#include "seed.h"
#include "vols.h"
#include "rebuild.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "miguri.h"
#include "serial.h"
#include "taskloop.h"
#include "util.h"
#include "virt.h"

#define TL_POLL_MAX		64	/* tasks asked for per poll */
#define TL_POLL_DECODE_MAX	1000	/* tasks accepted per answer */
#define TL_SEND_TIMEOUT_MS	15000
#define TL_FINAL_SEND_MS	3000	/* last flush when stopping */
#define TL_STOP_POLL_MS		100	/* graceful stop: state poll period */
#define TL_STOP_DEFAULT_S	60

/* tl_exec outcomes besides 0 and -1. */
#define TL_INTERRUPTED		(-2)

struct tl_job {
	struct api_task j_task;
	struct tl_job *j_next;
};

struct tl_worker {
	struct taskloop *w_tl;
	pthread_t w_thread;
	bool w_started;
	pthread_cond_t w_cond;
	struct tl_job *w_head;		/* under tl_mu: queue, owned */
	struct tl_job *w_tail;
	char w_running[API_UUID_LEN];	/* under tl_mu: task id or "" */
};

struct taskloop {
	struct agent *tl_agent;		/* borrowed */
	pthread_mutex_t tl_mu;
	bool tl_stopping;		/* under tl_mu: poller, workers */
	bool tl_send_stop;		/* under tl_mu: sender (last) */
	struct tl_worker *tl_workers;	/* owned, tl_nworkers */
	size_t tl_nworkers;
	pthread_t tl_poller;
	bool tl_poller_started;
	pthread_t tl_sender;
	bool tl_sender_started;
	pthread_cond_t tl_send_cond;
	struct api_task_result *tl_results; /* under tl_mu: not yet accepted */
	size_t tl_nresults;
	size_t tl_cap;
};

/* ---------------------------------------------------------------- queues */

static bool
tl_stopping(struct taskloop *tl)
{
	bool s;

	pthread_mutex_lock(&tl->tl_mu);
	s = tl->tl_stopping;
	pthread_mutex_unlock(&tl->tl_mu);
	return s;
}

/* FNV-1a of the VM uuid picks the worker. */
static size_t
tl_worker_of(struct taskloop *tl, const char *vm_id)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *)vm_id; *p != '\0'; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return h % tl->tl_nworkers;
}

/* Is this task queued, running or waiting for its result to be sent?
 * tl_mu held. */
static bool
tl_here(struct taskloop *tl, const char *task_id)
{
	size_t i;

	for (i = 0; i < tl->tl_nworkers; i++) {
		struct tl_worker *w = &tl->tl_workers[i];
		struct tl_job *j;

		if (strcmp(w->w_running, task_id) == 0)
			return true;
		for (j = w->w_head; j != NULL; j = j->j_next)
			if (strcmp(j->j_task.id, task_id) == 0)
				return true;
	}
	for (i = 0; i < tl->tl_nresults; i++)
		if (strcmp(tl->tl_results[i].task_id, task_id) == 0)
			return true;
	return false;
}

static void
tl_enqueue(struct taskloop *tl, const struct api_task *t)
{
	struct tl_worker *w;
	struct tl_job *j;

	pthread_mutex_lock(&tl->tl_mu);
	if (tl->tl_stopping)
		goto cleanup;
	if (tl_here(tl, t->id)) {
		log_debug("task %s: offered again while still here: skipped",
		    t->id);
		goto cleanup;
	}
	j = xcalloc(1, sizeof(*j));
	j->j_task = *t;
	w = &tl->tl_workers[tl_worker_of(tl, t->vm_id)];
	if (w->w_tail != NULL)
		w->w_tail->j_next = j;
	else
		w->w_head = j;
	w->w_tail = j;
	pthread_cond_signal(&w->w_cond);
cleanup:
	pthread_mutex_unlock(&tl->tl_mu);
}

static void
tl_push_result(struct taskloop *tl, const struct api_task_result *r)
{
	pthread_mutex_lock(&tl->tl_mu);
	if (tl->tl_nresults == tl->tl_cap) {
		tl->tl_cap = tl->tl_cap ? tl->tl_cap * 2 : 64;
		tl->tl_results = xrealloc(tl->tl_results,
		    tl->tl_cap * sizeof(*tl->tl_results));
	}
	tl->tl_results[tl->tl_nresults++] = *r;
	pthread_cond_signal(&tl->tl_send_cond);
	pthread_mutex_unlock(&tl->tl_mu);
}

/* Copy an error text into a result: one line, cut on a UTF-8 boundary. */
static void
tl_set_error(struct api_task_result *r, const char *msg)
{
	size_t n, max = sizeof(r->error) - 1;

	n = strlen(msg);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(r->error, msg, n);
	r->error[n] = '\0';
	api_text_scrub(r->error);	/* controls, C1, bad UTF-8 */
	if (r->error[0] == '\0')
		str_copy(r->error, sizeof(r->error), "failed");
}

/* ---------------------------------------------------------------- actions */

/* Destroy; a domain already gone or not running is fine. On the embed
 * driver right after connecting, destroy may kill the guest and still
 * say "Domain not found". */
static int
tl_destroy(struct virt *v, const char *uuid, struct vm_error *err)
{
	if (v->ops->vo_destroy(v, uuid, 0, err) == 0)
		return 0;
	if (err->code == API_ENOTFOUND || err->code == API_ECONFLICT) {
		log_debug("vm %s: destroy: %s (fine)", uuid, err->message);
		vm_error_clear(err);
		return 0;
	}
	return -1;
}

/*
 * Power off a domain left paused by a start cut off by an agent kill.
 * The destroy kills QEMU at once, then waits for the domain's job; the
 * restarted driver's reconnect to that QEMU may hold the job past
 * libvirt's wait (seen under a loaded host: "cannot acquire state change
 * lock"), and lets it go once it sees QEMU gone: try again, a few times,
 * and stop as soon as the domain is no longer paused.
 */
#define TL_STALE_TRIES	4

static int
tl_destroy_stale(struct virt *v, const struct api_task *t,
    struct vm_error *err)
{
	int i, st;

	for (i = 0; i < TL_STALE_TRIES; i++) {
		if (tl_destroy(v, t->vm_id, err) == 0)
			return 0;
		log_warnx("vm %s (%s): destroy of the stale paused domain, try "
		    "%d of %d: %s", t->vm_name, t->vm_id, i + 1, TL_STALE_TRIES,
		    err->message);
		if (v->ops->vo_state(v, t->vm_id, &st, NULL, 0, err) < 0)
			return -1;
		if (st != DOM_PAUSED && st != DOM_RUNNING) {
			vm_error_clear(err);
			return 0;
		}
		if (i + 1 < TL_STALE_TRIES)
			vm_error_clear(err);
	}
	return -1;
}

/*
 * Pause a running domain (or resume a paused one); done already is fine
 * (a task may be delivered twice), any other state is an error.
 */
static int
tl_pause(struct virt *v, const char *uuid, bool pause, struct vm_error *err)
{
	int st;

	if (v->ops->vo_state(v, uuid, &st, NULL, 0, err) < 0)
		return -1;
	if (st == (pause ? DOM_PAUSED : DOM_RUNNING))
		return 0;
	if (st != (pause ? DOM_RUNNING : DOM_PAUSED)) {
		vm_error_set(err, API_ECONFLICT, "domain %s is %s, not %s",
		    uuid, api_dom_state_names[st], pause ? "running" :
		    "paused");
		return -1;
	}
	return pause ? v->ops->vo_suspend(v, uuid, 0, err) :
	    v->ops->vo_resume(v, uuid, 0, err);
}

/* Make an existing domain run: start, resume, or restart a crashed one. */
static int
tl_ensure_running(struct virt *v, const char *uuid, struct vm_error *err)
{
	int st;

	if (v->ops->vo_state(v, uuid, &st, NULL, 0, err) < 0)
		return -1;
	switch (st) {
	case DOM_RUNNING:
		return 0;
	case DOM_ABSENT:
		vm_error_set(err, API_ENOTFOUND, "domain %s does not exist",
		    uuid);
		return -1;
	case DOM_PAUSED:
		return v->ops->vo_resume(v, uuid, 0, err);
	case DOM_CRASHED:
		if (tl_destroy(v, uuid, err) < 0)
			return -1;
		return v->ops->vo_start(v, uuid, 0, err);
	default:
		if (v->ops->vo_start(v, uuid, 0, err) == 0)
			return 0;
		/* started meanwhile (e.g. autostart, or a race with libvirt
		 * reattaching): fine if it runs now */
		if (err->code == API_ECONFLICT &&
		    v->ops->vo_state(v, uuid, &st, NULL, 0, err) == 0 &&
		    st == DOM_RUNNING) {
			vm_error_clear(err);
			return 0;
		}
		return -1;
	}
}

/* Number of NICs a task carries (used slots come first). */
static size_t
tl_nnics(const struct api_task *t)
{
	size_t n = 0;

	while (n < API_NICS_MAX && t->nics[n].network[0] != '\0')
		n++;
	return n;
}

/* Make the libvirt network of every NIC (but bridge ones) exist and run
 * before the domain is defined or started. */
static int
tl_networks(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	size_t i, n = tl_nnics(t);

	for (i = 0; i < n; i++) {
		char name[API_NAME_MAX + 8], *xml = NULL;
		int rc;

		if (t->nics[i].mode == NET_BRIDGE)
			continue;
		netxml_net_name(t->nics[i].network, name, sizeof(name));
		if (netxml_network_build(&t->nics[i], &xml, err) < 0)
			return -1;
		rc = v->ops->vo_net_ensure(v, name, xml, 0, err);
		free(xml);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * NICs get the clean-traffic nwfilter (MAC + IP anti-spoofing) when the
 * libvirt driver has it; without it (test:///, qemu:///embed) the VM
 * starts unfiltered, unless agent.require_nwfilter refuses it.
 */
static int
tl_nic_filter(struct agent *a, const struct api_task *t, bool *filter,
    struct vm_error *err)
{
	struct virt *v = a->virt;
	int rc;

	*filter = false;
	rc = v->ops->vo_nwfilter(v, NETXML_NWFILTER, 0, err);
	if (rc < 0)
		return -1;
	if (rc == 0 && a->conf.require_nwfilter) {
		vm_error_set(err, API_ECONFLICT, "vm %s: host %s has no "
		    "nwfilter %s and agent.require_nwfilter is set: no NIC "
		    "without anti-spoofing", t->vm_name, a->conf.host,
		    NETXML_NWFILTER);
		return -1;
	}
	*filter = rc == 1;
	return 0;
}

static int
tl_create(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	struct domxml_params p;
	char *overlay = NULL, *console = NULL, *xml = NULL, *seed = NULL;
	struct imgcache_files f = { NULL, "", NULL, NULL };
	int st, ret = -1;

	if (v->ops->vo_state(v, t->vm_id, &st, NULL, 0, err) < 0)
		goto cleanup;
	/*
	 * A new domain's files first (store blobs, host paths checked
	 * against agent.image_dir): a refused image creates nothing.
	 */
	if (st == DOM_ABSENT && imgcache_files_get(a, &t->image, &f,
	    err) < 0)
		goto cleanup;
	if (tl_networks(a, t, err) < 0)
		goto cleanup;
	if (st == DOM_PAUSED) {
		/*
		 * A create finds its domain paused only when a start was cut
		 * off (QEMU runs with -S until libvirt resumes it at the end
		 * of the start), e.g. the agent was killed: libvirt may still
		 * hold that start's job, so a resume can time out on its state
		 * change lock. The guest never ran: power it off and start it
		 * afresh (destroy interrupts the stale job).
		 */
		log_info("vm %s (%s): domain paused by an interrupted start; "
		    "starting it again", t->vm_name, t->vm_id);
		if (tl_destroy_stale(v, t, err) < 0)
			goto cleanup;
		st = DOM_STOPPED;
	}
	if (st != DOM_ABSENT) {
		ret = tl_ensure_running(v, t->vm_id, err);
		goto cleanup;
	}
	if (f.base != NULL && disks_prepare(a->conf.state_dir, t->vm_id,
	    f.base, f.base_fmt, t->disk_gib, &overlay, err) < 0)
		goto cleanup;
	if (seed_wanted(t) && seed_build(a->conf.state_dir, t, &seed,
	    err) < 0)
		goto cleanup;
	console = disks_console_path(a->conf.state_dir, t->vm_id);
	memset(&p, 0, sizeof(p));
	p.type = a->dom_type;
	p.uuid = t->vm_id;
	p.name = t->vm_name;
	p.generation = t->generation;
	p.vcpus = t->vcpus;
	p.ram_mib = t->ram_mib;
	p.disk = overlay;
	p.kernel = f.kernel;
	p.initrd = f.initrd;
	p.cmdline = t->image.cmdline;
	p.console_log = console;
	p.nics = t->nics;
	p.nnics = tl_nnics(t);
	p.seed_iso = seed;
	p.crash_restart = t->on_crash == ON_CRASH_RESTART;
	if (p.nnics > 0 && tl_nic_filter(a, t, &p.nic_filter, err) < 0)
		goto cleanup;
	if (domxml_build(&p, &xml, err) < 0)
		goto cleanup;
	if (v->ops->vo_define(v, xml, 0, err) < 0)
		goto cleanup;
	if (v->ops->vo_start(v, t->vm_id, 0, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	imgcache_files_free(&f);
	free(overlay);
	free(console);
	free(xml);
	free(seed);
	return ret;
}

static int
tl_stop(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	int64_t timeout_s, deadline;
	bool active;
	int st;

	if (v->ops->vo_state(v, t->vm_id, &st, &active, 0, err) < 0)
		return -1;
	if (st == DOM_ABSENT) {
		vm_error_set(err, API_ENOTFOUND, "domain %s does not exist",
		    t->vm_id);
		return -1;
	}
	if (!active)
		return 0;
	/* A paused guest cannot see the ACPI button. */
	if (t->force || st == DOM_PAUSED)
		return tl_destroy(v, t->vm_id, err);
	if (v->ops->vo_shutdown(v, t->vm_id, 0, err) < 0) {
		if (err->code != API_ECONFLICT && err->code != API_ENOTFOUND)
			return -1;
		vm_error_clear(err);	/* stopped meanwhile: see below */
	}
	timeout_s = t->stop_timeout_s > 0 ? t->stop_timeout_s :
	    TL_STOP_DEFAULT_S;
	deadline = mono_ms() + timeout_s * 1000;
	for (;;) {
		if (v->ops->vo_state(v, t->vm_id, &st, &active, 0, err) < 0)
			return -1;
		if (!active)
			return 0;
		if (mono_ms() >= deadline)
			break;
		if (!agent_sleep(a, TL_STOP_POLL_MS))
			return TL_INTERRUPTED;
	}
	log_info("vm %s (%s): did not stop within %" PRId64 " s, powering off",
	    t->vm_name, t->vm_id, timeout_s);
	return tl_destroy(v, t->vm_id, err);
}

/*
 * Start, resume and reboot want the VM running: when its domain is gone
 * (undefined behind our back, a host rebuilt, a test:/// agent started
 * again), define it again from the task as a create does, keeping its
 * disk overlay (disks_prepare() reuses it). 1 = re-created, 0 = the
 * domain exists, -1 = error.
 */
static int
tl_recreate_if_gone(struct agent *a, const struct api_task *t,
    struct vm_error *err)
{
	int st;

	if (a->virt->ops->vo_state(a->virt, t->vm_id, &st, NULL, 0, err) < 0)
		return -1;
	if (st != DOM_ABSENT)
		return 0;
	log_warnx("vm %s (%s): %s: the domain is gone; defining it again from "
	    "the VM's record", t->vm_name, t->vm_id,
	    api_op_action_names[t->action]);
	return tl_create(a, t, err) < 0 ? -1 : 1;
}

static int
tl_start(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	int rc = tl_recreate_if_gone(a, t, err);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (t->action == OPA_RESUME)
		return tl_pause(a->virt, t->vm_id, false, err);
	if (tl_networks(a, t, err) < 0)
		return -1;
	return tl_ensure_running(a->virt, t->vm_id, err);
}

static int
tl_reboot(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	int rc = tl_recreate_if_gone(a, t, err);

	if (rc != 0)
		return rc < 0 ? -1 : 0;	/* a fresh boot is a reboot */
	if (t->force)
		return v->ops->vo_reset(v, t->vm_id, 0, err);
	return v->ops->vo_reboot(v, t->vm_id, 0, err);
}

static int
tl_delete(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	bool active;
	int st;

	if (v->ops->vo_state(v, t->vm_id, &st, &active, 0, err) < 0)
		return -1;
	if (active && tl_destroy(v, t->vm_id, err) < 0)
		return -1;
	if (st != DOM_ABSENT &&
	    v->ops->vo_undefine(v, t->vm_id, 0, err) < 0) {
		if (err->code != API_ENOTFOUND)
			return -1;
		vm_error_clear(err);
	}
	if (seed_remove(a->conf.state_dir, t->vm_id, err) < 0)
		return -1;
	return disks_remove(a->conf.state_dir, t->vm_id, err);
}

/* Live-migrate to the target named by the task (virt.h: vo_migrate). */
static int
tl_migrate(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	unsigned int flags;

	if (t->migrate_uri[0] == '\0') {
		vm_error_set(err, API_EINVAL, "migrate: no libvirt URI for host "
		    "%s (set agent.migrate_uri there)", t->migrate_target);
		return -1;
	}
	if (v->ops->vo_migrate == NULL) {
		vm_error_set(err, API_EINVAL, "migrate: the %s driver cannot "
		    "migrate", v->ops->vo_name);
		return -1;
	}
	/*
	 * Defense in depth (miguri.h): whatever the controller sent, libvirt
	 * gets only a qemu+tls (qemu+tcp with agent.migrate_plain) URI with
	 * no query, never qemu+ext/ssh/unix, which run commands or reach
	 * sockets on this host.
	 */
	if (api_miguri_check("migrate: target URI", t->migrate_uri,
	    a->conf.migrate_plain, NULL, 0, err) < 0 ||
	    api_migdata_check("migrate: target data URI", t->migrate_listen,
	    NULL, 0, err) < 0) {
		log_warnx("vm %s (%s): migration to host %s refused: %s",
		    t->vm_name, t->vm_id, t->migrate_target, err->message);
		return -1;
	}
	flags = a->conf.migrate_unsafe ? VIRT_MIGRATE_UNSAFE : 0;
	if (!a->conf.migrate_plain || api_miguri_is_tls(t->migrate_uri))
		flags |= VIRT_MIGRATE_TLS;
	log_info("vm %s (%s): migrating to host %s (%s%s)", t->vm_name,
	    t->vm_id, t->migrate_target, t->migrate_uri,
	    (flags & VIRT_MIGRATE_TLS) ? ", TLS" : ", plain");
	return v->ops->vo_migrate(v, t->vm_id, t->migrate_uri,
	    t->migrate_listen, flags, err);
}

/*
 * Run one task; fill r. Returns false when the task was abandoned because
 * the agent is stopping (no result: the controller will offer it again).
 */
static bool
tl_exec(struct agent *a, const struct api_task *t, struct api_task_result *r)
{
	struct vm_error err;
	const char *action = api_op_action_names[t->action];
	int64_t t0 = mono_ms();
	int rc = -1, st = DOM_OTHER;

	vm_error_clear(&err);
	memset(r, 0, sizeof(*r));
	str_copy(r->task_id, sizeof(r->task_id), t->id);
	log_debug("task %s: %s vm %s (%s) generation %" PRId64 " attempt %"
	    PRId64, t->id, action, t->vm_name, t->vm_id, t->generation,
	    t->attempt);
	switch (t->action) {
	case OPA_CREATE:
		rc = tl_create(a, t, &err);
		break;
	case OPA_START:
		rc = tl_start(a, t, &err);
		break;
	case OPA_STOP:
		rc = tl_stop(a, t, &err);
		break;
	case OPA_REBOOT:
		rc = tl_reboot(a, t, &err);
		break;
	case OPA_DELETE:
		rc = tl_delete(a, t, &err);
		break;
	case OPA_MIGRATE:
		rc = tl_migrate(a, t, &err);
		break;
	case OPA_VOL_ATTACH:
	case OPA_VOL_DETACH:
		rc = vols_attach(a, t, t->action == OPA_VOL_ATTACH, &err);
		break;
	case OPA_VOL_DELETE:
		rc = vols_delete(a, t, &err);
		break;
	case OPA_CONSOLE:
		rc = serial_send(a, t, &err);
		break;
	case OPA_PAUSE:
		rc = tl_pause(a->virt, t->vm_id, true, &err);
		break;
	case OPA_RESUME:
		rc = tl_start(a, t, &err);
		break;
	case OPA_REBUILD:
		rc = rebuild_run(a, t, &err);
		break;
	case OPA_RESIZE:
		rc = rebuild_resize(a, t, &err);
		break;
	default:
		vm_error_set(&err, API_EINVAL, "unknown action %d", t->action);
		break;
	}
	if (rc == TL_INTERRUPTED) {
		log_info("task %s: %s vm %s: abandoned, agent stopping", t->id,
		    action, t->vm_name);
		return false;
	}
	r->ok = rc == 0;
	if (!r->ok)
		tl_set_error(r, err.message);
	vm_error_clear(&err);
	if (a->virt->ops->vo_state(a->virt, t->vm_id, &st, NULL, 0,
	    &err) < 0) {
		log_warnx("task %s: %s", t->id, err.message);
		st = DOM_OTHER;
	}
	r->dom_state = st;
	r->seq = agent_obs_seq(a);	/* after reading: see agentproto.h */
	if (r->ok)
		log_info("vm %s (%s): %s done in %" PRId64 " ms, %s",
		    t->vm_name, t->vm_id, action, mono_ms() - t0,
		    api_dom_state_names[st]);
	else
		log_warnx("vm %s (%s): %s failed: %s", t->vm_name, t->vm_id,
		    action, r->error);
	return true;
}

/* ---------------------------------------------------------------- threads */

static void *
tl_worker_main(void *arg)
{
	struct tl_worker *w = arg;
	struct taskloop *tl = w->w_tl;
	struct api_task_result r;
	struct tl_job *j;

	pthread_mutex_lock(&tl->tl_mu);
	for (;;) {
		bool post;

		while (!tl->tl_stopping && w->w_head == NULL)
			pthread_cond_wait(&w->w_cond, &tl->tl_mu);
		if (tl->tl_stopping)
			break;
		j = w->w_head;
		w->w_head = j->j_next;
		if (w->w_head == NULL)
			w->w_tail = NULL;
		str_copy(w->w_running, sizeof(w->w_running), j->j_task.id);
		pthread_mutex_unlock(&tl->tl_mu);

		post = tl_exec(tl->tl_agent, &j->j_task, &r);
		if (post)
			tl_push_result(tl, &r);
		free(j);

		pthread_mutex_lock(&tl->tl_mu);
		w->w_running[0] = '\0';
	}
	/* Queued tasks are dropped: the controller offers them again. */
	while ((j = w->w_head) != NULL) {
		w->w_head = j->j_next;
		free(j);
	}
	w->w_tail = NULL;
	pthread_mutex_unlock(&tl->tl_mu);
	return NULL;
}

/* A result batch that failed for good (4xx) is dropped: retrying the same
 * body cannot help, and the controller offers the tasks again. */
static void *
tl_send_main(void *arg)
{
	struct taskloop *tl = arg;
	struct agent *a = tl->tl_agent;
	struct http_client *c;
	int64_t backoff = 0;
	bool failing = false;

	c = agent_http_client(a, TL_SEND_TIMEOUT_MS);
	pthread_mutex_lock(&tl->tl_mu);
	for (;;) {
		struct api_task_result *batch;
		struct vm_error err;
		json_object *o;
		char *body, *resp = NULL;
		size_t n;
		long status = 0;
		bool last;
		int rc;

		while (!tl->tl_send_stop && tl->tl_nresults == 0)
			pthread_cond_wait(&tl->tl_send_cond, &tl->tl_mu);
		if (tl->tl_nresults == 0)
			break;
		last = tl->tl_send_stop;
		n = tl->tl_nresults < API_RESULTS_MAX ? tl->tl_nresults :
		    API_RESULTS_MAX;
		batch = xcalloc(n, sizeof(*batch));
		memcpy(batch, tl->tl_results, n * sizeof(*batch));
		pthread_mutex_unlock(&tl->tl_mu);

		o = api_encode_array("results", &api_task_result_schema, batch,
		    n);
		body = json_dump(o);
		json_object_put(o);
		free(batch);
		vm_error_clear(&err);
		rc = http_request(c, "POST", "/v1/agent/results", body,
		    last ? TL_FINAL_SEND_MS : 0, &status, &resp, &err);
		free(body);
		if (rc == 0 && status != 200) {
			api_error_decode(resp, status, &err);
			if (status >= 400 && status < 500 && status != 429) {
				log_warnx("results: controller refused %zu: "
				    "%ld %s", n, status, err.message);
				rc = 0;
				status = 200;	/* dropped */
			}
		}
		free(resp);

		pthread_mutex_lock(&tl->tl_mu);
		if (rc == 0 && status == 200) {
			log_debug("results: %zu sent", n);
			tl->tl_nresults -= n;
			memmove(tl->tl_results, tl->tl_results + n,
			    tl->tl_nresults * sizeof(*tl->tl_results));
			if (failing)
				log_info("results: controller reachable again");
			failing = false;
			backoff = 0;
			continue;
		}
		if (!failing)
			log_warnx("results: %s; will retry", err.message);
		failing = true;
		if (last) {
			log_warnx("results: %zu not delivered at shutdown; "
			    "the controller will offer their tasks again",
			    tl->tl_nresults);
			break;
		}
		backoff = agent_backoff_next(backoff);
		pthread_mutex_unlock(&tl->tl_mu);
		agent_sleep(a, backoff);
		pthread_mutex_lock(&tl->tl_mu);
	}
	pthread_mutex_unlock(&tl->tl_mu);
	http_client_free(c);
	return NULL;
}

/* Tasks the array decoder refused as a whole: take the good ones and
 * fail the bad ones, so one bad task does not block the others. */
static void
tl_dispatch_each(struct taskloop *tl, json_object *o)
{
	struct agent *a = tl->tl_agent;
	json_object *arr = NULL;
	size_t i, len;

	if (!json_object_object_get_ex(o, "items", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	len = json_object_array_length(arr);
	for (i = 0; i < len && i < TL_POLL_DECODE_MAX; i++) {
		json_object *item = json_object_array_get_idx(arr, i);
		struct api_task t;
		struct api_task_result r;
		struct vm_error err;
		const char *id, *vm_id;
		int st = DOM_OTHER;

		vm_error_clear(&err);
		if (api_decode(&api_task_schema, item, &t, API_STORED,
		    &err) == 0) {
			tl_enqueue(tl, &t);
			continue;
		}
		id = json_get_str(item, "id");
		vm_id = json_get_str(item, "vm_id");
		log_warnx("task %.40s: cannot decode: %s", id ? id : "?",
		    err.message);
		if (id == NULL || !uuid_valid(id))
			continue;
		pthread_mutex_lock(&tl->tl_mu);
		if (tl_here(tl, id)) {
			pthread_mutex_unlock(&tl->tl_mu);
			continue;
		}
		pthread_mutex_unlock(&tl->tl_mu);
		memset(&r, 0, sizeof(r));
		str_copy(r.task_id, sizeof(r.task_id), id);
		r.ok = false;
		tl_set_error(&r, err.message);
		if (vm_id != NULL && uuid_valid(vm_id) &&
		    a->virt->ops->vo_state(a->virt, vm_id, &st, NULL, 0,
		    &err) < 0)
			st = DOM_OTHER;
		r.dom_state = st;
		r.seq = agent_obs_seq(a);
		tl_push_result(tl, &r);
	}
}

/* Returns how many tasks the answer held. */
static size_t
tl_dispatch(struct taskloop *tl, const char *resp)
{
	struct vm_error err;
	json_object *o;
	void *items = NULL;
	size_t i, n = 0;

	vm_error_clear(&err);
	o = json_parse(resp, strlen(resp), API_EMALFORMED, &err);
	if (o == NULL) {
		log_warnx("tasks: bad answer: %s", err.message);
		return 0;
	}
	if (api_decode_array(o, "items", &api_task_schema, TL_POLL_DECODE_MAX,
	    &items, &n, &err) < 0) {
		log_warnx("tasks: %s", err.message);
		tl_dispatch_each(tl, o);
		n = 1;
	} else {
		const struct api_task *t = items;

		for (i = 0; i < n; i++)
			tl_enqueue(tl, &t[i]);
	}
	free(items);
	json_object_put(o);
	return n;
}

static void *
tl_poll_main(void *arg)
{
	struct taskloop *tl = arg;
	struct agent *a = tl->tl_agent;
	struct http_client *c;
	char *path;
	int64_t backoff = 0;
	bool failing = false;

	c = agent_http_client(a,
	    (long)(a->conf.poll_wait_s + 10) * 1000);
	path = xasprintf("/v1/agent/tasks?host=%s&wait=%" PRId64 "&max=%d",
	    a->conf.host, a->conf.poll_wait_s, TL_POLL_MAX);
	while (!tl_stopping(tl)) {
		struct vm_error err;
		char *resp = NULL;
		long status = 0;
		int64_t t0 = mono_ms();
		size_t n = 0;
		int rc;

		vm_error_clear(&err);
		rc = http_request(c, "GET", path, NULL, 0, &status, &resp,
		    &err);
		if (tl_stopping(tl)) {
			free(resp);
			break;
		}
		if (rc == 0 && status == 200) {
			if (failing)
				log_info("tasks: controller reachable again");
			failing = false;
			backoff = 0;
			n = tl_dispatch(tl, resp);
			free(resp);
			/* an empty answer long before the wait ended: do not
			 * spin against a controller that does not wait */
			if (n == 0 && mono_ms() - t0 < 100)
				agent_sleep(a, 200);
			continue;
		}
		if (rc == 0)
			api_error_decode(resp, status, &err);
		free(resp);
		if (!failing)
			log_warnx("tasks: poll failed: %s%s", err.message,
			    status == 404 ? " (host not registered yet)" : "");
		failing = true;
		backoff = agent_backoff_next(backoff);
		agent_sleep(a, backoff);
	}
	free(path);
	http_client_free(c);
	return NULL;
}

/* -------------------------------------------------------------- start/stop */

/* Port of the controller URL, for tl_unblock_poll(). */
static int
tl_url_port(const char *url)
{
	const char *p = strstr(url, "://"), *end, *colon;
	int def = strncmp(url, "https:", 6) == 0 ? 443 : 80;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
	}
	if (colon == NULL)
		return def;
	return atoi(colon + 1);
}

/*
 * lib/http cannot abort a request, and the long poll may wait
 * poll_wait_s more seconds. By then every other thread that talks to the
 * controller has stopped, so shut down (not close: curl still owns the
 * descriptors) our TCP connections to the controller's port; curl sees
 * the connection end and returns at once.
 */
static void
tl_unblock_poll(struct taskloop *tl)
{
	int port = tl_url_port(tl->tl_agent->conf.controller_url);
	struct dirent *de;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct stat st;
		int fd = atoi(de->d_name), peer = -1;

		memset(&ss, 0, sizeof(ss));
		if (de->d_name[0] == '.' || fd == dirfd(d) ||
		    fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
		    getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
			continue;
		if (ss.ss_family == AF_INET)
			peer = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			peer = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		if (peer == port) {
			log_debug("tasks: shutting down fd %d to end the poll",
			    fd);
			shutdown(fd, SHUT_RDWR);
		}
	}
	closedir(d);
}

/* CLOCK_REALTIME deadline ms from now, for pthread_timedjoin_np(). */
static void
tl_abstime(long ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
taskloop_start(struct agent *a, struct taskloop **out, struct vm_error *err)
{
	struct taskloop *tl = xcalloc(1, sizeof(*tl));
	size_t i;
	int rc;

	*out = NULL;
	tl->tl_agent = a;
	pthread_mutex_init(&tl->tl_mu, NULL);
	pthread_cond_init(&tl->tl_send_cond, NULL);
	tl->tl_nworkers = (size_t)a->conf.workers;
	tl->tl_workers = xcalloc(tl->tl_nworkers, sizeof(*tl->tl_workers));
	for (i = 0; i < tl->tl_nworkers; i++) {
		struct tl_worker *w = &tl->tl_workers[i];

		w->w_tl = tl;
		pthread_cond_init(&w->w_cond, NULL);
	}
	for (i = 0; i < tl->tl_nworkers; i++) {
		struct tl_worker *w = &tl->tl_workers[i];

		if ((rc = pthread_create(&w->w_thread, NULL, tl_worker_main,
		    w)) != 0)
			goto fail;
		w->w_started = true;
	}
	if ((rc = pthread_create(&tl->tl_sender, NULL, tl_send_main, tl)) != 0)
		goto fail;
	tl->tl_sender_started = true;
	if ((rc = pthread_create(&tl->tl_poller, NULL, tl_poll_main, tl)) != 0)
		goto fail;
	tl->tl_poller_started = true;
	*out = tl;
	return 0;
fail:
	vm_error_set(err, API_EINTERNAL, "taskloop: thread: %s", strerror(rc));
	taskloop_stop(tl);
	return -1;
}

void
taskloop_stop(struct taskloop *tl)
{
	size_t i;

	if (tl == NULL)
		return;
	pthread_mutex_lock(&tl->tl_mu);
	tl->tl_stopping = true;
	for (i = 0; i < tl->tl_nworkers; i++)
		pthread_cond_broadcast(&tl->tl_workers[i].w_cond);
	pthread_mutex_unlock(&tl->tl_mu);
	for (i = 0; i < tl->tl_nworkers; i++)
		if (tl->tl_workers[i].w_started)
			pthread_join(tl->tl_workers[i].w_thread, NULL);

	/* Every result is queued now: one last try to deliver them. */
	pthread_mutex_lock(&tl->tl_mu);
	tl->tl_send_stop = true;
	pthread_cond_broadcast(&tl->tl_send_cond);
	pthread_mutex_unlock(&tl->tl_mu);
	if (tl->tl_sender_started)
		pthread_join(tl->tl_sender, NULL);

	if (tl->tl_poller_started) {
		struct timespec ts;

		/* give a poll that is about to return a moment, then cut */
		tl_abstime(200, &ts);
		while (pthread_timedjoin_np(tl->tl_poller, NULL, &ts) ==
		    ETIMEDOUT) {
			/* curl retries once on a fresh connection when a
			 * reused one dies: cut that one too */
			tl_unblock_poll(tl);
			tl_abstime(50, &ts);
		}
	}

	for (i = 0; i < tl->tl_nworkers; i++)
		pthread_cond_destroy(&tl->tl_workers[i].w_cond);
	free(tl->tl_workers);
	free(tl->tl_results);
	pthread_cond_destroy(&tl->tl_send_cond);
	pthread_mutex_destroy(&tl->tl_mu);
	free(tl);
}
