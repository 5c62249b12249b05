/*
 * bench/provision: measures vmctl's provisioning path end to end. Starts
 * one vmctld (plain HTTP on loopback, its admin token from
 * --bootstrap-admin, no rate limit) and H vmagentd on libvirt's test
 * driver in a temp dir (each host enrolled, its token in a 0600 file),
 * creates N VMs in an unlimited agency through POST /v1/vms from C client
 * threads (every request authenticated, quota-checked and audited), waits
 * until all run, deletes them, and compares with a plain libvirt loop
 * doing the same define+create on H private test-driver connections.
 * Single process; the daemons are children killed by PID on the way out.
 * Built by `make`, never run by `make check`; see bench/README.md.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "codec.h"
#include "errors.h"
#include "host.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "baseline.h"
#include "procs.h"
#include "rest.h"
#include "scale.h"
#include "util.h"
#include "vm.h"

#define BENCH_PORT_MIN		22000
#define BENCH_PORT_MAX		22999
#define BENCH_FLAVOR		"bench-tiny"
#define BENCH_SITE		"dc"
#define BENCH_AGENCY		"bench"
#define BENCH_HTTP_TIMEOUT_MS	60000L
#define BENCH_READY_S		30	/* vmctld up; then hosts up */
#define BENCH_POLL_MS		100	/* list polling period */
#define BENCH_PROGRESS_MS	5000
#define BENCH_STOP_S		15	/* SIGTERM -> SIGKILL */

/* Set by SIGINT/SIGTERM; every loop checks it and falls to cleanup. */
static volatile sig_atomic_t bench_quit;

struct bench_opts {
	size_t nvms;
	size_t nhosts;
	size_t conc;
	int port;			/* 0 = pick a free one */
	int deadline_s;			/* all running / all gone */
	bool keep;
	char *vmctld;			/* owned */
	char *vmagentd;			/* owned */
	const char **ctl_extra;		/* borrowed from argv: -o values */
	size_t nctl_extra;
	const char **agent_extra;	/* borrowed from argv: -o values */
	size_t nagent_extra;
	size_t ngroups;			/* server groups; 0 = none */
	const char *group_policy;	/* borrowed: argv or a literal */
};

/* Latency summary of one batch of requests, in milliseconds. */
struct lat_stats {
	double p50, p90, p99, max;
};

struct bench {
	struct bench_opts o;
	char *tmp;			/* owned: the temp dir */
	char *url;			/* owned: http://127.0.0.1:PORT */
	pid_t ctl_pid;			/* -1 when not running */
	pid_t *agent_pids;		/* owned [nhosts]; -1: not running */
	struct http_client *http;	/* owned; main thread only */
	char *auth_header;		/* owned: "Authorization: Bearer ..." */

	/* Figures; NAN (or -1 for counts) until measured. */
	double ready_s;			/* agents started -> hosts up */
	double create_api_s;		/* first POST -> last answer */
	double create_total_s;		/* first POST -> all running */
	struct lat_stats create_lat;
	size_t create_bad;		/* answers other than 202 */
	double delete_api_s;
	double delete_total_s;		/* first DELETE -> all gone */
	struct lat_stats delete_lat;
	size_t delete_bad;
	long ctl_hwm_kib;		/* VmHWM of vmctld */
	long agents_hwm_kib;		/* sum of the agents' VmHWM */
	double libvirt_s;		/* baseline define+create loop */
	long audit_events;		/* in the trail at the end; -1: unknown */
	double audit_verify_s;		/* GET /v1/audit/verify */
	struct scale_sched sched;	/* from /metrics after the creates */
	double list_best_s, list_median_s;	/* GET /v1/vms, every page */
	size_t list_n;
	long group_pairs;		/* members sharing a host; -1 unknown */
};

/* ------------------------------------------------------------ helpers */

static void
on_signal(int sig)
{
	(void)sig;
	bench_quit = 1;
}

static int64_t
clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !bench_quit)
		;
}

static double
secs_since(int64_t t0_us)
{
	return (double)(clock_us() - t0_us) / 1e6;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentiles of n latencies in us; sorts lat. */
static void
lat_summarize(int64_t *lat, size_t n, struct lat_stats *st)
{
	const double q[3] = { 0.50, 0.90, 0.99 };
	double *out[3] = { &st->p50, &st->p90, &st->p99 };
	size_t i, k;

	st->p50 = st->p90 = st->p99 = st->max = NAN;
	if (n == 0)
		return;
	qsort(lat, n, sizeof(*lat), cmp_i64);
	for (i = 0; i < 3; i++) {
		k = (size_t)(q[i] * (double)n + 0.999999);
		if (k < 1)
			k = 1;
		*out[i] = (double)lat[k - 1] / 1000.0;
	}
	st->max = (double)lat[n - 1] / 1000.0;
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0)
		log_warn("remove %s", path);
	return 0;
}

/* Default daemon path: $TOP_BUILDDIR/REL, else DIR-OF-EXE/../REL. */
static char *
default_daemon(const char *rel)
{
	const char *top = getenv("TOP_BUILDDIR");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (top != NULL && *top != '\0')
		return xasprintf("%s/%s", top, rel);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup(rel);
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	return xasprintf("%s/../%s", exe, rel);
}

/* ------------------------------------------------------------ daemons */

static int
daemons_alive(struct bench *b, struct vm_error *err)
{
	char *log = NULL;
	char what[32];
	size_t i;
	int ret = -1;

	log = xasprintf("%s/vmctld.log", b->tmp);
	if (procs_check(&b->ctl_pid, "vmctld", log, err) < 0)
		goto cleanup;
	for (i = 0; i < b->o.nhosts; i++) {
		free(log);
		log = xasprintf("%s/agent%zu.log", b->tmp, i + 1);
		snprintf(what, sizeof(what), "vmagentd %zu", i + 1);
		if (procs_check(&b->agent_pids[i], what, log, err) < 0)
			goto cleanup;
	}
	ret = 0;
cleanup:
	free(log);
	return ret;
}

static int
ctl_start(struct bench *b, struct vm_error *err)
{
	struct procs_argv a = { NULL, 0 };
	char *log = xasprintf("%s/vmctld.log", b->tmp);
	size_t i;
	int ret = -1;

	procs_argv_add(&a, "%s", b->o.vmctld);
	procs_argv_add(&a, "-f");
	procs_argv_add(&a, "-c");
	procs_argv_add(&a, "/dev/null");
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "server.port=%d", b->o.port);
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "store.path=%s/state", b->tmp);
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "server.threads=8");
	/* Loopback only, no certificate: plain HTTP must be asked for. */
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "server.insecure_http=true");
	/* The per-token rate limit would throttle the load itself (--ctl-opt
	 * limits.rate_per_s=N puts it back: later -o win). */
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "limits.rate_per_s=0");
	/* Every agent and client of the bench is on 127.0.0.1: lift the
	 * per-address connection limit above what --hosts N needs. */
	procs_argv_add(&a, "-o");
	procs_argv_add(&a, "server.max_conns_per_ip=4096");
	for (i = 0; i < b->o.nctl_extra; i++) {
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "%s", b->o.ctl_extra[i]);
	}
	if ((b->ctl_pid = procs_spawn(a.v, log, err)) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	procs_argv_free(&a);
	free(log);
	return ret;
}

static int
agents_start(struct bench *b, struct vm_error *err)
{
	struct procs_argv a = { NULL, 0 };
	char *log = NULL, *dir = NULL;
	size_t i, j;
	int ret = -1;

	/* The kernel VMs name (never read on the test driver) must be a
	 * regular file inside the agents' agent.image_dir. */
	dir = xasprintf("%s/images", b->tmp);
	log = xasprintf("%s/images/" BENCH_KERNEL_FILE, b->tmp);
	if (mkdir_p(dir, 0755) < 0 || file_write_atomic(log, "", 0, 0644) < 0) {
		vm_error_set(err, API_EINTERNAL, "bench kernel %s: %s", log,
		    strerror(errno));
		goto cleanup;
	}
	free(dir);
	free(log);
	dir = log = NULL;
	for (i = 0; i < b->o.nhosts; i++) {
		dir = xasprintf("%s/agent%zu", b->tmp, i + 1);
		log = xasprintf("%s/agent%zu.log", b->tmp, i + 1);
		if (mkdir_p(dir, 0755) < 0) {
			vm_error_set(err, API_EINTERNAL, "mkdir %s: %s", dir,
			    strerror(errno));
			goto cleanup;
		}
		procs_argv_add(&a, "%s", b->o.vmagentd);
		procs_argv_add(&a, "-f");
		procs_argv_add(&a, "-c");
		procs_argv_add(&a, "/dev/null");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.host=bench-h%zu", i + 1);
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.site=" BENCH_SITE);
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.controller_url=%s", b->url);
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.libvirt_uri=test:///default");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.state_dir=%s", dir);
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.vcpus=256");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.ram_mib=1048576");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.disk_gib=100000");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.heartbeat_s=2");
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.token_file=%s/token", dir);
		procs_argv_add(&a, "-o");
		procs_argv_add(&a, "agent.image_dir=%s/images", b->tmp);
		for (j = 0; j < b->o.nagent_extra; j++) {
			procs_argv_add(&a, "-o");
			procs_argv_add(&a, "%s", b->o.agent_extra[j]);
		}
		if ((b->agent_pids[i] = procs_spawn(a.v, log, err)) < 0)
			goto cleanup;
		procs_argv_free(&a);
		free(dir);
		free(log);
		dir = log = NULL;
	}
	ret = 0;
cleanup:
	procs_argv_free(&a);
	free(dir);
	free(log);
	return ret;
}

/* SIGTERM every daemon we started, by PID; SIGKILL after BENCH_STOP_S. */
static void
daemons_stop(struct bench *b)
{
	pid_t **pids = xcalloc(b->o.nhosts + 1, sizeof(*pids));
	size_t i, n = 0;

	pids[n++] = &b->ctl_pid;
	for (i = 0; b->agent_pids != NULL && i < b->o.nhosts; i++)
		pids[n++] = &b->agent_pids[i];
	procs_stop(pids, n, BENCH_STOP_S);
	free(pids);
}

/* ------------------------------------------------------------ identity */

/* An HTTP client on b->url that sends the admin token with every request. */
static struct http_client *
bench_client(const struct bench *b)
{
	struct http_client *c = http_client_new(b->url, BENCH_HTTP_TIMEOUT_MS);

	if (b->auth_header != NULL)
		http_client_add_header(c, b->auth_header);
	return c;
}

/* vmctld --bootstrap-admin on the fresh store; sets b->auth_header. */
static int
bootstrap_admin(struct bench *b, struct vm_error *err)
{
	char *log = xasprintf("%s/vmctld.log", b->tmp);
	char *store = xasprintf("%s/state", b->tmp);
	char *tok;

	tok = rest_bootstrap_admin(b->o.vmctld, store, log, err);
	free(log);
	free(store);
	if (tok == NULL)
		return -1;
	b->auth_header = xasprintf("Authorization: Bearer %s", tok);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	return 0;
}

/* ------------------------------------------------------------ REST */

/* Wait until vmctld answers /healthz (before the agents start). */
static int
wait_healthz(struct bench *b, struct vm_error *err)
{
	int64_t t0 = clock_us();
	struct vm_error e2 = { 0, "" };

	for (;;) {
		if (bench_quit) {
			vm_error_set(err, API_EUNAVAIL, "interrupted");
			return -1;
		}
		if (daemons_alive(b, err) < 0)
			return -1;
		vm_error_clear(&e2);
		if (rest_call(b->http, "GET", "/healthz", NULL, 200, NULL,
		    &e2) == 0)
			return 0;
		if (secs_since(t0) > BENCH_READY_S) {
			vm_error_set(err, API_EUNAVAIL, "vmctld not answering "
			    "after %d s: %s", BENCH_READY_S, e2.message);
			return -1;
		}
		sleep_ms(20);
	}
}

/* Wait for every bench-hN to be registered and up; t0 = agents' start. */
static int
wait_ready(struct bench *b, int64_t t0, struct vm_error *err)
{
	struct vm_error e2 = { 0, "" };
	json_object *o = NULL, *items;
	struct api_host h;
	size_t i, up = 0;

	for (;;) {
		if (bench_quit) {
			vm_error_set(err, API_EUNAVAIL, "interrupted");
			return -1;
		}
		if (daemons_alive(b, err) < 0)
			return -1;
		up = 0;
		vm_error_clear(&e2);
		if (rest_call(b->http, "GET", "/v1/hosts", NULL, 200, &o,
		    &e2) == 0 &&
		    json_object_object_get_ex(o, "items", &items)) {
			for (i = 0; i < json_object_array_length(items); i++) {
				if (api_decode(&api_host_schema,
				    json_object_array_get_idx(items, i), &h,
				    API_STORED, &e2) < 0)
					continue;
				if (strncmp(h.name, "bench-h", 7) == 0 &&
				    h.state == HOST_UP)
					up++;
			}
		}
		json_object_put(o);
		o = NULL;
		if (up >= b->o.nhosts)
			break;
		if (secs_since(t0) > BENCH_READY_S) {
			vm_error_set(err, API_EUNAVAIL, "after %d s only %zu "
			    "of %zu hosts are up (last error: %s); see the "
			    "logs in %s (use --keep)", BENCH_READY_S, up,
			    b->o.nhosts, e2.code ? e2.message : "none",
			    b->tmp);
			return -1;
		}
		sleep_ms(50);
	}
	b->ready_s = secs_since(t0);
	return 0;
}

static int
flavor_create(struct bench *b, struct vm_error *err)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"name\":\"" BENCH_FLAVOR "\","
	    "\"vcpus\":1,\"ram_mib\":%d,\"disk_gib\":0}", BENCH_FLAVOR_RAM_MIB);
	return rest_call(b->http, "POST", "/v1/flavors", body, 201, NULL, err);
}

/* Enroll bench-h1..H; each token goes to TMP/agentN/token (mode 0600). */
static int
hosts_enroll(struct bench *b, struct vm_error *err)
{
	char name[32], *dir = NULL, *path = NULL;
	size_t i;
	int ret = -1;

	for (i = 0; i < b->o.nhosts; i++) {
		snprintf(name, sizeof(name), "bench-h%zu", i + 1);
		dir = xasprintf("%s/agent%zu", b->tmp, i + 1);
		path = xasprintf("%s/token", dir);
		if (mkdir_p(dir, 0755) < 0) {
			vm_error_set(err, API_EINTERNAL, "mkdir %s: %s", dir,
			    strerror(errno));
			goto cleanup;
		}
		if (rest_enroll_host(b->http, name, BENCH_SITE, path, err) < 0)
			goto cleanup;
		free(dir);
		free(path);
		dir = path = NULL;
	}
	ret = 0;
cleanup:
	free(dir);
	free(path);
	return ret;
}

/* The audit trail after the run: its size and how long verify takes. */
static void
audit_sample(struct bench *b)
{
	struct vm_error err = { 0, "" };
	json_object *o = NULL, *v;
	int64_t t0 = clock_us();

	if (rest_call(b->http, "GET", "/v1/audit/verify", NULL, 200, &o,
	    &err) < 0) {
		log_warnx("audit verify: %s", err.message);
		return;
	}
	b->audit_verify_s = secs_since(t0);
	if (json_object_object_get_ex(o, "events", &v))
		b->audit_events = (long)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "ok", &v) ||
	    !json_object_get_boolean(v))
		log_warnx("audit verify: the chain does not verify");
	json_object_put(o);
}

/*
 * Count the VMs named bench-* by state (counts[API state]) and in all
 * (*total), following the list's "next" cursor.
 */
static int
vms_count(struct http_client *c, size_t counts[VM_DELETING + 1],
    size_t *total, struct vm_error *err)
{
	json_object *o = NULL, *items, *next;
	struct api_vm *vm = xmalloc(sizeof(*vm));
	char path[128];
	char cursor[API_UUID_LEN] = "";
	size_t i;
	int ret = -1;

	memset(counts, 0, sizeof(counts[0]) * (VM_DELETING + 1));
	*total = 0;
	for (;;) {
		if (cursor[0] == '\0')
			snprintf(path, sizeof(path), "/v1/vms?limit=1000");
		else
			snprintf(path, sizeof(path),
			    "/v1/vms?limit=1000&after=%s", cursor);
		if (rest_call(c, "GET", path, NULL, 200, &o, err) < 0)
			goto cleanup;
		if (!json_object_object_get_ex(o, "items", &items) ||
		    !json_object_is_type(items, json_type_array)) {
			vm_error_set(err, API_EMALFORMED, "GET %s: no items",
			    path);
			goto cleanup;
		}
		for (i = 0; i < json_object_array_length(items); i++) {
			if (api_decode(&api_vm_schema,
			    json_object_array_get_idx(items, i), vm,
			    API_STORED, err) < 0)
				goto cleanup;
			if (strncmp(vm->name, "bench-", 6) != 0)
				continue;
			if (vm->state >= 0 && vm->state <= VM_DELETING)
				counts[vm->state]++;
			(*total)++;
		}
		if (!json_object_object_get_ex(o, "next", &next) ||
		    !json_object_is_type(next, json_type_string))
			break;
		if (str_copy(cursor, sizeof(cursor),
		    json_object_get_string(next)) < 0) {
			vm_error_set(err, API_EMALFORMED, "GET %s: bad next",
			    path);
			goto cleanup;
		}
		json_object_put(o);
		o = NULL;
	}
	ret = 0;
cleanup:
	json_object_put(o);
	free(vm);
	return ret;
}

static void
counts_format(const size_t counts[VM_DELETING + 1], char *out, size_t size)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i <= VM_DELETING && len < size; i++) {
		if (counts[i] == 0)
			continue;
		len += (size_t)snprintf(out + len, size - len, "%s%s %zu",
		    len ? ", " : "", api_vm_state_names[i], counts[i]);
	}
}

/*
 * Poll the VM list until `want` bench VMs run (gone == false) or none is
 * left (gone == true); *secs counts from t0_us. Fails at the deadline,
 * when a daemon dies, or when VMs end in `error` so that the goal can no
 * longer be reached.
 */
static int
wait_vms(struct bench *b, bool gone, size_t want, int64_t t0_us,
    double *secs, struct vm_error *err)
{
	size_t counts[VM_DELETING + 1], total = 0;
	int64_t last_progress = clock_us();
	char text[256];

	for (;;) {
		if (bench_quit) {
			vm_error_set(err, API_EUNAVAIL, "interrupted");
			return -1;
		}
		if (daemons_alive(b, err) < 0)
			return -1;
		if (vms_count(b->http, counts, &total, err) < 0)
			return -1;
		if (gone ? total == 0 : counts[VM_RUNNING] >= want)
			break;
		counts_format(counts, text, sizeof(text));
		if (!gone && counts[VM_ERROR] > 0 &&
		    counts[VM_RUNNING] + counts[VM_ERROR] >= want) {
			vm_error_set(err, API_EINTERNAL, "%zu VMs ended in "
			    "state error (%s)", counts[VM_ERROR], text);
			return -1;
		}
		if (secs_since(t0_us) > b->o.deadline_s) {
			vm_error_set(err, API_EUNAVAIL, "deadline %d s: %s %zu "
			    "VMs, have %s", b->o.deadline_s,
			    gone ? "waiting for 0 of" : "waiting for running",
			    gone ? total : want, total ? text : "none");
			return -1;
		}
		if (clock_us() - last_progress >= (int64_t)BENCH_PROGRESS_MS * 1000) {
			fprintf(stderr, "  ... %.1f s: %s\n", secs_since(t0_us),
			    total ? text : "none left");
			last_progress = clock_us();
		}
		sleep_ms(BENCH_POLL_MS);
	}
	*secs = secs_since(t0_us);
	return 0;
}

/* ------------------------------------------------------------ load */

enum req_kind { REQ_CREATE, REQ_DELETE };

/* Shared by the client threads of one batch. */
struct req_batch {
	struct bench *b;
	enum req_kind kind;
	size_t next;			/* atomic: next VM index to do */
	size_t bad;			/* atomic: answers other than 202 */
	int64_t *lat_us;		/* owned [nvms] */
	pthread_mutex_t mu;		/* guards first_err */
	struct vm_error first_err;
};

static void *
req_worker(void *arg)
{
	struct req_batch *r = arg;
	struct http_client *c = bench_client(r->b);
	struct vm_error err;
	char path[96], body[1536];
	size_t i;
	int64_t t0;
	int rc;

	for (;;) {
		i = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
		if (i >= r->b->o.nvms || bench_quit)
			break;
		vm_error_clear(&err);
		t0 = clock_us();
		if (r->kind == REQ_CREATE) {
			char grp[96] = "", gname[64];

			if (r->b->o.ngroups > 0) {
				scale_group_name(i % r->b->o.ngroups, gname);
				snprintf(grp, sizeof(grp),
				    ",\"server_group\":\"%s\"", gname);
			}
			snprintf(body, sizeof(body),
			    "{\"name\":\"bench-%05zu\","
			    "\"agency\":\"" BENCH_AGENCY "\","
			    "\"flavor\":\"" BENCH_FLAVOR "\"%s,"
			    "\"image\":{\"kernel\":\"%s/images/"
			    BENCH_KERNEL_FILE "\"}}", i + 1, grp, r->b->tmp);
			rc = rest_call(c, "POST", "/v1/vms", body, 202, NULL,
			    &err);
		} else {
			snprintf(path, sizeof(path), "/v1/vms/bench-%05zu",
			    i + 1);
			rc = rest_call(c, "DELETE", path, NULL, 202, NULL, &err);
		}
		r->lat_us[i] = clock_us() - t0;
		if (rc < 0) {
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
			pthread_mutex_lock(&r->mu);
			if (r->first_err.code == 0)
				r->first_err = err;
			pthread_mutex_unlock(&r->mu);
		}
	}
	http_client_free(c);
	return NULL;
}

/*
 * Send nvms creates or deletes from conc threads, one http_client each.
 * *t0_us is when the first request left; *api_s when the last answered.
 */
static int
req_batch_run(struct bench *b, enum req_kind kind, int64_t *t0_us,
    double *api_s, struct lat_stats *st, size_t *bad, struct vm_error *err)
{
	struct req_batch r;
	size_t nthreads = b->o.conc < b->o.nvms ? b->o.conc : b->o.nvms, i;
	pthread_t *th = xcalloc(nthreads, sizeof(*th));
	size_t started = 0;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	r.b = b;
	r.kind = kind;
	r.lat_us = xcalloc(b->o.nvms, sizeof(*r.lat_us));
	pthread_mutex_init(&r.mu, NULL);
	*t0_us = clock_us();
	for (i = 0; i < nthreads; i++) {
		if ((errno = pthread_create(&th[i], NULL, req_worker, &r))
		    != 0) {
			vm_error_set(err, API_EINTERNAL, "pthread_create: %s",
			    strerror(errno));
			bench_quit = 1;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	*api_s = secs_since(*t0_us);
	if (started < nthreads)
		goto cleanup;
	if (bench_quit) {
		vm_error_set(err, API_EUNAVAIL, "interrupted");
		goto cleanup;
	}
	lat_summarize(r.lat_us, b->o.nvms, st);
	*bad = r.bad;
	if (r.bad > 0)
		log_warnx("%zu of %zu %s answers were not 202; first: %s",
		    r.bad, b->o.nvms, kind == REQ_CREATE ? "POST" : "DELETE",
		    r.first_err.message);
	ret = 0;
cleanup:
	pthread_mutex_destroy(&r.mu);
	free(r.lat_us);
	free(th);
	return ret;
}

/* ------------------------------------------------------------ run */

/*
 * Read the daemons' VmHWM: after all run (in case the delete phase
 * fails) and after all are gone; VmHWM only grows, and a dead daemon
 * keeps its last reading.
 */
static void
hwm_sample(struct bench *b)
{
	long kib, sum = 0;
	size_t i;

	if ((kib = procs_hwm_kib(b->ctl_pid)) > b->ctl_hwm_kib)
		b->ctl_hwm_kib = kib;
	for (i = 0; i < b->o.nhosts; i++) {
		if ((kib = procs_hwm_kib(b->agent_pids[i])) < 0)
			return;
		sum += kib;
	}
	if (sum > b->agents_hwm_kib)
		b->agents_hwm_kib = sum;
}

/*
 * With every VM running: the scheduler's time per placement (/metrics),
 * the time to list them all, and whether anti-affinity held.
 */
static int
bench_scale_figures(struct bench *b, struct vm_error *err)
{
	const struct scale_sched *s = &b->sched;
	size_t grouped = 0, pairs = 0;

	if (scale_sched_read(b->http, &b->sched, err) < 0)
		return -1;
	if (s->placements > 0)
		printf("  scheduler per placement (vmctld, in the create txn): "
		    "%.1f us (snapshot read %.1f us + filters/weights/N+1 "
		    "%.1f us) over %.0f placements\n",
		    (s->load_s + s->place_s) * 1e6 / s->placements,
		    s->load_s * 1e6 / s->placements,
		    s->place_s * 1e6 / s->placements, s->placements);
	if (scale_list_time(b->http, 5, &b->list_best_s, &b->list_median_s,
	    &b->list_n, err) < 0)
		return -1;
	printf("  list: GET /v1/vms of %zu VMs (pages of 1000) in %.1f ms "
	    "(median of 5; best %.1f ms)\n", b->list_n,
	    b->list_median_s * 1e3, b->list_best_s * 1e3);
	if (b->o.ngroups == 0)
		return 0;
	if (scale_group_check(b->http, &pairs, &grouped, err) < 0)
		return -1;
	b->group_pairs = (long)pairs;
	printf("  groups: %zu grouped VMs, %zu sharing a host with a member "
	    "of their group\n", grouped, pairs);
	if (pairs > 0 && strcmp(b->o.group_policy, "anti-affinity") == 0) {
		vm_error_set(err, API_EINTERNAL, "anti-affinity broken: %zu "
		    "VMs share a host with a member of their group", pairs);
		return -1;
	}
	return 0;
}

/* Daemons up -> create -> all running -> delete -> all gone. */
static int
bench_vmctl(struct bench *b, struct vm_error *err)
{
	int64_t t0;
	size_t created;

	if (bootstrap_admin(b, err) < 0)
		return -1;
	http_client_free(b->http);
	b->http = bench_client(b);
	if (ctl_start(b, err) < 0 || wait_healthz(b, err) < 0)
		return -1;
	if (hosts_enroll(b, err) < 0 ||
	    rest_agency_unlimited(b->http, BENCH_AGENCY, err) < 0)
		return -1;
	t0 = clock_us();
	if (agents_start(b, err) < 0 || wait_ready(b, t0, err) < 0)
		return -1;
	printf("ready: %zu hosts enrolled and up %.2f s after the agents "
	    "started\n", b->o.nhosts, b->ready_s);
	if (flavor_create(b, err) < 0)
		return -1;
	if (b->o.ngroups > 0) {
		if (scale_groups_create(b->http, b->o.ngroups,
		    b->o.group_policy, BENCH_AGENCY, err) < 0)
			return -1;
		printf("groups: %zu %s server groups, VM i in group i mod "
		    "%zu\n", b->o.ngroups, b->o.group_policy, b->o.ngroups);
	}

	if (req_batch_run(b, REQ_CREATE, &t0, &b->create_api_s,
	    &b->create_lat, &b->create_bad, err) < 0)
		return -1;
	created = b->o.nvms - b->create_bad;
	printf("create: %zu x POST /v1/vms answered in %.2f s (%.1f req/s), "
	    "%zu x 202\n", b->o.nvms, b->create_api_s,
	    (double)b->o.nvms / b->create_api_s, created);
	printf("  API latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	    b->create_lat.p50, b->create_lat.p90, b->create_lat.p99,
	    b->create_lat.max);
	if (wait_vms(b, false, created, t0, &b->create_total_s, err) < 0)
		return -1;
	printf("  all %zu running %.2f s after the first request: "
	    "%.1f VMs/s\n", created, b->create_total_s,
	    (double)created / b->create_total_s);
	hwm_sample(b);
	if (bench_scale_figures(b, err) < 0)
		return -1;

	if (req_batch_run(b, REQ_DELETE, &t0, &b->delete_api_s,
	    &b->delete_lat, &b->delete_bad, err) < 0)
		return -1;
	printf("delete: %zu x DELETE /v1/vms/NAME answered in %.2f s "
	    "(%.1f req/s), %zu x 202\n", b->o.nvms, b->delete_api_s,
	    (double)b->o.nvms / b->delete_api_s,
	    b->o.nvms - b->delete_bad);
	printf("  API latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
	    b->delete_lat.p50, b->delete_lat.p90, b->delete_lat.p99,
	    b->delete_lat.max);
	if (wait_vms(b, true, 0, t0, &b->delete_total_s, err) < 0)
		return -1;
	printf("  all gone %.2f s after the first request: %.1f VMs/s\n",
	    b->delete_total_s, (double)b->o.nvms / b->delete_total_s);
	hwm_sample(b);
	audit_sample(b);
	if (b->audit_events >= 0)
		printf("audit: %ld events in the trail, verified in %.3f s\n",
		    b->audit_events, b->audit_verify_s);
	if (b->create_bad > 0 || b->delete_bad > 0) {
		vm_error_set(err, API_EINTERNAL, "%zu creates and %zu deletes "
		    "were not answered 202", b->create_bad, b->delete_bad);
		return -1;
	}
	return 0;
}

/* A number with prec decimals, or null when not measured. */
static json_object *
jnum(double v, int prec)
{
	char s[64];

	if (isnan(v) || isinf(v))
		return NULL;
	snprintf(s, sizeof(s), "%.*f", prec, v);
	return json_object_new_double_s(v, s);
}

static void
print_summary(const struct bench *b, bool ok, const struct vm_error *err)
{
	json_object *o = json_object_new_object();
	double vps = (double)b->o.nvms / b->create_total_s;
	char *text;

	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, "vms", json_object_new_int64(
	    (int64_t)b->o.nvms));
	json_object_object_add(o, "hosts", json_object_new_int64(
	    (int64_t)b->o.nhosts));
	json_object_object_add(o, "concurrency", json_object_new_int64(
	    (int64_t)b->o.conc));
	json_object_object_add(o, "total_s", jnum(b->create_total_s, 3));
	json_object_object_add(o, "vms_per_s", jnum(vps, 1));
	json_object_object_add(o, "api_s", jnum(b->create_api_s, 3));
	json_object_object_add(o, "p50_ms", jnum(b->create_lat.p50, 2));
	json_object_object_add(o, "p90_ms", jnum(b->create_lat.p90, 2));
	json_object_object_add(o, "p99_ms", jnum(b->create_lat.p99, 2));
	json_object_object_add(o, "max_ms", jnum(b->create_lat.max, 2));
	json_object_object_add(o, "delete_total_s", jnum(b->delete_total_s,
	    3));
	json_object_object_add(o, "ctl_peak_rss_kib", b->ctl_hwm_kib < 0 ?
	    NULL : json_object_new_int64(b->ctl_hwm_kib));
	json_object_object_add(o, "agents_peak_rss_kib",
	    b->agents_hwm_kib < 0 ? NULL :
	    json_object_new_int64(b->agents_hwm_kib));
	json_object_object_add(o, "libvirt_total_s", jnum(b->libvirt_s, 3));
	json_object_object_add(o, "libvirt_per_s",
	    jnum((double)b->o.nvms / b->libvirt_s, 1));
	json_object_object_add(o, "ratio",
	    jnum(b->create_total_s / b->libvirt_s, 1));
	json_object_object_add(o, "auth", json_object_new_boolean(true));
	json_object_object_add(o, "audit_events", b->audit_events < 0 ? NULL :
	    json_object_new_int64(b->audit_events));
	json_object_object_add(o, "audit_verify_s", jnum(b->audit_verify_s,
	    3));
	json_object_object_add(o, "sched_us", b->sched.placements > 0 ?
	    jnum((b->sched.load_s + b->sched.place_s) * 1e6 /
	    b->sched.placements, 1) : NULL);
	json_object_object_add(o, "sched_load_us", b->sched.placements > 0 ?
	    jnum(b->sched.load_s * 1e6 / b->sched.placements, 1) : NULL);
	json_object_object_add(o, "list_ms", jnum(b->list_median_s * 1e3, 1));
	json_object_object_add(o, "groups", json_object_new_int64(
	    (int64_t)b->o.ngroups));
	json_object_object_add(o, "group_pairs", b->group_pairs < 0 ? NULL :
	    json_object_new_int64(b->group_pairs));
	if (!ok)
		json_object_object_add(o, "error",
		    json_object_new_string(err->message));
	text = json_dump(o);
	printf("%s\n", text);
	free(text);
	json_object_put(o);
}

/* ------------------------------------------------------------ main */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: provision [options]\n"
	    "Measure vmctl's provisioning path: one vmctld, H vmagentd on\n"
	    "libvirt's test driver, N VMs created through the REST API, and\n"
	    "the same define+create done straight on libvirt for comparison.\n"
	    "Every request carries the admin token (vmctld --bootstrap-admin);\n"
	    "the hosts are enrolled, the VMs in an unlimited agency; vmctld\n"
	    "serves plain HTTP on loopback with no rate limit.\n"
	    "  -n, --vms N          VMs to create (default 400)\n"
	    "  -H, --hosts H        agents / simulated hosts (default 10)\n"
	    "  -c, --concurrency C  client threads (default 32)\n"
	    "  -p, --port P         controller port (default: a free one in "
	    "%d-%d)\n"
	    "  -t, --deadline S     seconds to wait for all running / all "
	    "gone (default 300)\n"
	    "      --vmctld PATH    controller binary (default "
	    "$TOP_BUILDDIR/controller/vmctld\n"
	    "                       or ../controller/vmctld next to this "
	    "program)\n"
	    "      --vmagentd PATH  agent binary (same rule, agent/vmagentd)\n"
	    "      --ctl-opt S.K=V  extra -o for vmctld (repeatable)\n"
	    "      --agent-opt S.K=V extra -o for every vmagentd (repeatable)\n"
	    "  -g, --groups G       G server groups; VM i joins group i mod G "
	    "(default 0)\n"
	    "      --group-policy P anti-affinity (default), affinity or "
	    "soft-anti-affinity\n"
	    "  -k, --keep           keep the temp dir (state, daemon logs)\n"
	    "  -h, --help           this help\n"
	    "Prints human-readable figures, then one JSON line. Exit 0 when "
	    "every step worked.\n", BENCH_PORT_MIN, BENCH_PORT_MAX);
}

static int
parse_size(const char *s, size_t min, size_t max, size_t *out)
{
	char *end = NULL;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max)
		return -1;
	*out = (size_t)v;
	return 0;
}

enum { OPT_VMCTLD = 256, OPT_VMAGENTD, OPT_CTL_OPT, OPT_AGENT_OPT,
	OPT_GROUP_POLICY };

static int
parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longopts[] = {
		{ "vms", required_argument, NULL, 'n' },
		{ "hosts", required_argument, NULL, 'H' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "deadline", required_argument, NULL, 't' },
		{ "vmctld", required_argument, NULL, OPT_VMCTLD },
		{ "vmagentd", required_argument, NULL, OPT_VMAGENTD },
		{ "ctl-opt", required_argument, NULL, OPT_CTL_OPT },
		{ "agent-opt", required_argument, NULL, OPT_AGENT_OPT },
		{ "keep", no_argument, NULL, 'k' },
		{ "groups", required_argument, NULL, 'g' },
		{ "group-policy", required_argument, NULL, OPT_GROUP_POLICY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t v;
	int ch;

	o->nvms = 400;
	o->nhosts = 10;
	o->conc = 32;
	o->deadline_s = 300;
	o->group_policy = "anti-affinity";
	o->ctl_extra = xcalloc((size_t)argc, sizeof(*o->ctl_extra));
	o->agent_extra = xcalloc((size_t)argc, sizeof(*o->agent_extra));
	while ((ch = getopt_long(argc, argv, "n:H:c:p:t:g:kh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (parse_size(optarg, 1, 99999, &o->nvms) < 0)
				goto bad;
			break;
		case 'H':
			if (parse_size(optarg, 1, 1000, &o->nhosts) < 0)
				goto bad;
			break;
		case 'c':
			if (parse_size(optarg, 1, 1024, &o->conc) < 0)
				goto bad;
			break;
		case 'p':
			if (parse_size(optarg, 1, 65535, &v) < 0)
				goto bad;
			o->port = (int)v;
			break;
		case 't':
			if (parse_size(optarg, 1, 86400, &v) < 0)
				goto bad;
			o->deadline_s = (int)v;
			break;
		case OPT_VMCTLD:
			free(o->vmctld);
			o->vmctld = xstrdup(optarg);
			break;
		case OPT_VMAGENTD:
			free(o->vmagentd);
			o->vmagentd = xstrdup(optarg);
			break;
		case OPT_CTL_OPT:
			o->ctl_extra[o->nctl_extra++] = optarg;
			break;
		case OPT_AGENT_OPT:
			o->agent_extra[o->nagent_extra++] = optarg;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'g':
			if (parse_size(optarg, 0, 9999, &o->ngroups) < 0)
				goto bad;
			break;
		case OPT_GROUP_POLICY:
			if (strcmp(optarg, "anti-affinity") != 0 &&
			    strcmp(optarg, "affinity") != 0 &&
			    strcmp(optarg, "soft-anti-affinity") != 0)
				goto bad;
			o->group_policy = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->vmctld == NULL)
		o->vmctld = default_daemon("controller/vmctld");
	if (o->vmagentd == NULL)
		o->vmagentd = default_daemon("agent/vmagentd");
	return 0;
bad:
	fprintf(stderr, "provision: bad value '%s' for -%c\n", optarg,
	    ch < 256 ? ch : '-');
	return -1;
}

int
main(int argc, char **argv)
{
	struct bench b;
	struct vm_error err = { 0, "" }, berr = { 0, "" };
	struct sigaction sa;
	const char *tmpdir = getenv("TMPDIR");
	bool vm_ok = false, base_ok = false;

	memset(&b, 0, sizeof(b));
	b.ctl_pid = -1;
	b.ready_s = b.create_api_s = b.create_total_s = NAN;
	b.delete_api_s = b.delete_total_s = b.libvirt_s = NAN;
	b.create_lat.p50 = b.create_lat.p90 = b.create_lat.p99 = NAN;
	b.create_lat.max = NAN;
	b.ctl_hwm_kib = b.agents_hwm_kib = -1;
	b.audit_events = -1;
	b.audit_verify_s = NAN;
	b.list_best_s = b.list_median_s = NAN;
	b.group_pairs = -1;
	log_init("provision", LOG_LVL_INFO, false);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* keep order with stderr */
	if (parse_args(argc, argv, &b.o) < 0)
		return 2;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	http_global_init();

	b.tmp = xasprintf("%s/vmctl-bench.XXXXXX",
	    tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (mkdtemp(b.tmp) == NULL)
		fatal("mkdtemp %s", b.tmp);
	if (b.o.port == 0 && (b.o.port = procs_free_port(BENCH_PORT_MIN,
	    BENCH_PORT_MAX)) < 0)
		fatalx("no free port in %d-%d", BENCH_PORT_MIN, BENCH_PORT_MAX);
	b.url = xasprintf("http://127.0.0.1:%d", b.o.port);
	b.http = http_client_new(b.url, BENCH_HTTP_TIMEOUT_MS);
	b.agent_pids = xcalloc(b.o.nhosts, sizeof(*b.agent_pids));
	for (size_t i = 0; i < b.o.nhosts; i++)
		b.agent_pids[i] = -1;

	printf("vmctl provisioning benchmark: %zu VMs, %zu hosts (libvirt "
	    "test driver), concurrency %zu\n", b.o.nvms, b.o.nhosts,
	    b.o.conc);
	printf("  controller %s on port %d, temp dir %s\n", b.o.vmctld,
	    b.o.port, b.tmp);
	vm_ok = bench_vmctl(&b, &err) == 0;
	hwm_sample(&b);
	if (b.ctl_hwm_kib >= 0)
		printf("peak RSS: vmctld %ld KiB, agents %ld KiB (sum of %zu)"
		    "\n", b.ctl_hwm_kib, b.agents_hwm_kib, b.o.nhosts);
	if (!vm_ok)
		log_warnx("vmctl run failed: %s", err.message);
	daemons_stop(&b);

	if (!bench_quit) {
		base_ok = baseline_run(b.o.nhosts, b.o.nvms, b.tmp,
		    &bench_quit, &b.libvirt_s, &berr) == 0;
		if (base_ok)
			printf("libvirt baseline: %zu define+create on %zu "
			    "private test:/// connections in %.3f s: %.0f "
			    "domains/s\n", b.o.nvms, b.o.nhosts, b.libvirt_s,
			    (double)b.o.nvms / b.libvirt_s);
		else
			log_warnx("libvirt baseline failed: %s",
			    berr.message);
	}
	if (vm_ok && base_ok)
		printf("ratio vmctl/libvirt (time to all running): %.1f\n",
		    b.create_total_s / b.libvirt_s);
	if (vm_ok && !base_ok)
		err = berr;
	print_summary(&b, vm_ok && base_ok, &err);

	http_client_free(b.http);
	http_global_cleanup();
	if (b.auth_header != NULL)
		explicit_bzero(b.auth_header, strlen(b.auth_header));
	free(b.auth_header);
	if (b.o.keep)
		fprintf(stderr, "provision: kept %s\n", b.tmp);
	else if (nftw(b.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		log_warn("remove %s", b.tmp);
	free(b.tmp);
	free(b.url);
	free(b.agent_pids);
	free(b.o.vmctld);
	free(b.o.vmagentd);
	free(b.o.ctl_extra);
	free(b.o.agent_extra);
	return vm_ok && base_ok ? 0 : 1;
}
