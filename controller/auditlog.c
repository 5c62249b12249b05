/*
 * auditlog.c: see auditlog.h. The thread wakes every second: it flushes
 * the refusal aggregates once their interval is over (all of them in one
 * write transaction, see auditagg.c), and every AUDITLOG_PRUNE_S it
 * prunes events past the retention limits in batches of
 * AUDITLOG_PRUNE_BATCH, each batch appended to the export file and
 * fsynced before its transaction commits (so a pruned event is on disk
 * somewhere; a crash between the two exports it twice, same seq).
 * Partners: server_audit() calls auditlog_refusal(); svc_commit() calls
 * auditlog_headroom(); svc_metrics() reads auditlog_stats().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "auditagg.h"
#include "auditlog.h"
#include "auth.h"
#include "ctl.h"
#include "errors.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "util.h"

#define AUDITLOG_PRUNE_S	10	/* between retention passes */
#define AUDITLOG_PRUNE_BATCH	1000	/* events per prune transaction */
#define AUDITLOG_PRUNE_ROUNDS	20	/* batches per pass at most */
#define AUDITLOG_EXPORT_FILE	"audit-export.jsonl"

struct auditlog {
	struct ctl *ctl;		/* borrowed */
	struct audit_hmac *key;		/* owned */
	char export_dir[API_PATH_MAX];
	pthread_mutex_t mu;		/* protects agg, stop, counters */
	pthread_cond_t cv;
	struct auditagg *agg;		/* owned */
	bool stop;
	bool started;
	pthread_t thread;
	uint64_t flushed, pruned;
	int64_t warned_ms;		/* last "store above high water" */
};

/* path, or NAME beside the store directory when path is "". */
static void
beside_store(const struct ctl_config *cfg, const char *path,
    const char *name, char out[API_PATH_MAX])
{
	if (path[0] != '\0')
		str_copy(out, API_PATH_MAX, path);
	else
		path_beside(cfg->store_path, name, out, API_PATH_MAX);
}

static bool
over_high_water(const struct ctl *ctl)
{
	return store_usage_pct(ctl->store) >= ctl->cfg.store_high_water_pct;
}

/* ------------------------------------------------------------- flush */

/* Write events in one transaction; false when the store refused. */
static void
flush_events(struct auditlog *al, struct api_audit_event *evs, size_t n)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	int64_t refusals = 0;
	size_t i;

	for (i = 0; i < n; i++)
		refusals += evs[i].count;
	if (store_txn_begin(al->ctl->store, true, &txn, &err) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (audit_append(txn, &evs[i], &err) < 0)
			goto fail;
	if (store_txn_commit(txn, &err) < 0) {
		txn = NULL;
		goto fail;
	}
	pthread_mutex_lock(&al->mu);
	al->flushed += n;
	pthread_mutex_unlock(&al->mu);
	return;
fail:
	store_txn_abort(txn);
	log_error("audit: %zu refusal events (%lld refused requests) not "
	    "written: %s", n, (long long)refusals, err.message);
}

/* Flush the aggregates if their interval is over (or force). */
static void
flush(struct auditlog *al, bool force)
{
	struct api_audit_event *evs = NULL;
	int64_t now = now_ms();
	size_t n = 0;

	pthread_mutex_lock(&al->mu);
	if (force ? auditagg_keys(al->agg) > 0 : auditagg_due(al->agg, now)) {
		if (over_high_water(al->ctl)) {
			/* Keep counting in memory (bounded) until room. */
			if (now - al->warned_ms > 60000) {
				log_warnx("audit: store above %lld%% of its map: "
				    "refusal events held in memory",
				    (long long)al->ctl->cfg.store_high_water_pct);
				al->warned_ms = now;
			}
		} else {
			n = auditagg_take(al->agg, now, &evs);
		}
	}
	pthread_mutex_unlock(&al->mu);
	if (n > 0)
		flush_events(al, evs, n);
	free(evs);
}

/* ------------------------------------------------------------- prune */

static int
export_write(const struct auditlog *al, const struct buf *b,
    struct vm_error *err)
{
	char *path = NULL;
	int fd = -1, ret = -1;
	size_t off = 0;

	if (mkdir_p(al->export_dir, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: mkdir %s: %s",
		    al->export_dir, strerror(errno));
		return -1;
	}
	path = xasprintf("%s/%s", al->export_dir, AUDITLOG_EXPORT_FILE);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	while (off < b->len) {
		ssize_t w = write(fd, (const char *)b->data + off, b->len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	ret = 0;
	goto cleanup;
fail:
	vm_error_set(err, API_EINTERNAL, "audit: export to %s: %s", path,
	    strerror(errno));
cleanup:
	if (fd >= 0)
		close(fd);
	free(path);
	return ret;
}

/* One batch; *n pruned (0 = nothing left to prune). -1 on failure. */
static int
prune_batch(struct auditlog *al, int64_t *n, struct vm_error *err)
{
	const struct ctl_config *cfg = &al->ctl->cfg;
	struct audit_prune p;
	struct store_txn *txn = NULL;
	struct buf b = { 0 };
	int ret = -1;

	*n = 0;
	memset(&p, 0, sizeof(p));
	p.batch = AUDITLOG_PRUNE_BATCH;
	p.max_events = cfg->audit_max_events;
	if (cfg->audit_keep_days > 0)
		p.before_ms = now_ms() - cfg->audit_keep_days * 86400000LL;
	if (store_txn_begin(al->ctl->store, true, &txn, err) < 0 ||
	    audit_prune(txn, &p, &b, n, err) < 0)
		goto cleanup;
	if (*n == 0) {
		ret = 0;
		goto cleanup;
	}
	if (export_write(al, &b, err) < 0)
		goto cleanup;
	ret = store_txn_commit(txn, err);
	txn = NULL;
	if (ret == 0) {
		pthread_mutex_lock(&al->mu);
		al->pruned += (uint64_t)*n;
		pthread_mutex_unlock(&al->mu);
	}
cleanup:
	store_txn_abort(txn);
	buf_free(&b);
	return ret;
}

static void
prune(struct auditlog *al)
{
	struct vm_error err = { 0, "" };
	int64_t n = 0, total = 0;
	int i;

	if (al->ctl->cfg.audit_max_events == 0 &&
	    al->ctl->cfg.audit_keep_days == 0)
		return;
	for (i = 0; i < AUDITLOG_PRUNE_ROUNDS; i++) {
		if (prune_batch(al, &n, &err) < 0) {
			log_error("audit: pruning: %s", err.message);
			break;
		}
		total += n;
		if (n < AUDITLOG_PRUNE_BATCH)
			break;
		pthread_mutex_lock(&al->mu);
		if (al->stop)
			i = AUDITLOG_PRUNE_ROUNDS;
		pthread_mutex_unlock(&al->mu);
	}
	if (total > 0)
		log_info("audit: pruned %lld events (exported to %s/%s)",
		    (long long)total, al->export_dir, AUDITLOG_EXPORT_FILE);
}

/* ------------------------------------------------------------ thread */

static void *
auditlog_main(void *arg)
{
	struct auditlog *al = arg;
	int64_t last_prune = 0;
	struct timespec ts;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&al->mu);
		if (!al->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			if (al->ctl->cfg.audit_refusal_interval_s == 0) {
				/* Tests: as soon as possible, 20 flushes/s. */
				ts.tv_nsec += 50 * 1000000L;
				if (ts.tv_nsec >= 1000000000L) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000L;
				}
			} else {
				ts.tv_sec += 1;
			}
			pthread_cond_timedwait(&al->cv, &al->mu, &ts);
		}
		stop = al->stop;
		pthread_mutex_unlock(&al->mu);
		if (stop)
			break;
		flush(al, false);
		if (mono_ms() - last_prune >= AUDITLOG_PRUNE_S * 1000) {
			prune(al);
			last_prune = mono_ms();
		}
	}
	return NULL;
}

int
auditlog_start(struct ctl *ctl, struct auditlog **out, struct vm_error *err)
{
	struct auditlog *al = xcalloc(1, sizeof(*al));
	char keypath[API_PATH_MAX];
	int rc;

	*out = NULL;
	al->ctl = ctl;
	pthread_mutex_init(&al->mu, NULL);
	pthread_cond_init(&al->cv, NULL);
	al->agg = auditagg_new(ctl->cfg.audit_refusal_interval_s * 1000,
	    (size_t)ctl->cfg.audit_refusal_max_keys);
	beside_store(&ctl->cfg, ctl->cfg.audit_export_dir, "audit-export",
	    al->export_dir);
	beside_store(&ctl->cfg, ctl->cfg.audit_key_file, "audit.key",
	    keypath);
	if (audit_hmac_load(keypath, ctl->store, &al->key, err) < 0)
		goto fail;
	store_set_audit_ctx(ctl->store, al->key);
	if ((rc = pthread_create(&al->thread, NULL, auditlog_main, al)) != 0) {
		vm_error_set(err, API_EINTERNAL, "audit: thread: %s",
		    strerror(rc));
		goto fail;
	}
	al->started = true;
	*out = al;
	return 0;
fail:
	store_set_audit_ctx(ctl->store, NULL);
	auditlog_stop(al);
	return -1;
}

void
auditlog_stop(struct auditlog *al)
{
	if (al == NULL)
		return;
	if (al->started) {
		pthread_mutex_lock(&al->mu);
		al->stop = true;
		pthread_cond_broadcast(&al->cv);
		pthread_mutex_unlock(&al->mu);
		pthread_join(al->thread, NULL);
		flush(al, true);
	}
	if (al->ctl != NULL && al->ctl->store != NULL)
		store_set_audit_ctx(al->ctl->store, NULL);
	audit_hmac_free(al->key);
	auditagg_free(al->agg);
	pthread_cond_destroy(&al->cv);
	pthread_mutex_destroy(&al->mu);
	free(al);
}

void
auditlog_refusal(struct auditlog *al, const struct api_audit_event *ev)
{
	if (al == NULL)
		return;
	pthread_mutex_lock(&al->mu);
	auditagg_add(al->agg, ev, now_ms());
	pthread_mutex_unlock(&al->mu);
}

int
auditlog_headroom(const struct req *req, struct vm_error *err)
{
	const struct ctl *ctl = req->ctl;
	int pct;

	if (req->who.kind == AUTH_HOST || strcmp(req->method, "DELETE") == 0)
		return 0;
	pct = store_usage_pct(ctl->store);
	if (pct < ctl->cfg.store_high_water_pct)
		return 0;
	vm_error_set(err, API_EUNAVAIL, "the state store is %d%% full (over "
	    "store.high_water_pct = %lld): changes are refused so that agents "
	    "keep reporting; deletes still work; an administrator must raise "
	    "store.map_size_mib or prune the audit trail (audit.max_events, "
	    "audit.keep_days)", pct,
	    (long long)ctl->cfg.store_high_water_pct);
	return -1;
}

void
auditlog_stats(const struct ctl *ctl, struct auditlog_stats *out)
{
	struct vm_error err = { 0, "" };
	struct auditlog *al = ctl->auditlog;

	memset(out, 0, sizeof(*out));
	out->high_water_pct = ctl->cfg.store_high_water_pct;
	if (store_usage(ctl->store, 1000, &out->store_used, &out->store_size,
	    &err) < 0)
		log_warnx("metrics: %s", err.message);
	if (al == NULL)
		return;
	pthread_mutex_lock(&al->mu);
	out->refusals = auditagg_total(al->agg);
	out->flushed_events = al->flushed;
	out->pruned = al->pruned;
	pthread_mutex_unlock(&al->mu);
}
