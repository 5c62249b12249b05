#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "audit.h"
#include "ratelim.h"
#include "routes.h"
#include "store.h"
#include "server.h"
#include "tls.h"
#include "urlpath.h"
#include "util.h"

/* One suspended long poll. */
struct waiter {
	struct MHD_Connection *conn;	/* borrowed from MHD */
	struct conn_state *cs;		/* borrowed */
	struct waiter *next;
};

struct server {
	struct ctl *ctl;		/* borrowed */
	struct MHD_Daemon *mhd;		/* owned */
	pthread_mutex_t lock;		/* protects waiters, gen, stopping */
	struct waiter *waiters;		/* owned list */
	uint64_t gen;			/* bumped by every server_wake() */
	bool stopping;
	pthread_t timer;		/* resumes waiters past deadline */
	bool timer_started;
	struct ratelim *rl_user;	/* owned; requests per user */
	struct ratelim *rl_src;		/* owned; failed logins per source */
	pthread_mutex_t ct_lock;	/* protects conns and their fields */
	struct conn_track *conns;	/* owned list: open connections */
	struct tls *tls;		/* owned; NULL = plain HTTP */
	pthread_mutex_t mlock;		/* protects stats */
	struct route_stats *stats;	/* owned; [routes_count] */
};

/* Latency histogram bounds (seconds) of vmctl_http_request_duration. */
static const double metrics_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};
#define METRICS_NBOUNDS ARRAY_SIZE(metrics_bounds)
#define METRICS_NSTATUS 16	/* distinct statuses counted per route */

/* Requests of one route (routes_table[i]); under server.mlock. */
struct route_stats {
	int status[METRICS_NSTATUS];	/* 0 = unused slot */
	uint64_t count[METRICS_NSTATUS];
	uint64_t other;			/* statuses past the slots */
	uint64_t bucket[METRICS_NBOUNDS];	/* not cumulative */
	uint64_t n;			/* all requests */
	double sum_s;
};

/* Buckets per table (users, sources): bounded, see ratelim.h. */
#define SERVER_RL_CAP	4096

/*
 * One open connection (MHD_OPTION_NOTIFY_CONNECTION), for the header
 * deadline: server_timer() shuts down the socket of a connection that has
 * been waiting for a complete request header longer than
 * server.header_timeout_s (slowloris). Under server.ct_lock.
 */
struct conn_track {
	int fd;				/* MHD's; never closed here */
	bool in_request;		/* headers complete, not yet answered */
	bool cut;			/* shut down by the deadline */
	int64_t idle_since_ms;		/* mono: waiting for headers since */
	struct conn_track *prev, *next;
};

/* Per-connection (per-request) state, freed in on_completed(). */
struct conn_state {
	struct buf body;		/* owned */
	size_t limit;
	bool too_large;
	bool waiting;			/* suspended in a long poll */
	int64_t start_us;		/* first on_request call (mono) */
	int64_t wait_start_us;		/* suspended since (mono) */
	int64_t waited_us;		/* time spent suspended */
	bool recorded;			/* counted in the metrics */
	const struct route *route;
	enum route_match match;
	bool started;			/* first on_request call done */
	char raw_path[URLPATH_MAX];	/* as received (audit) */
	char path[URLPATH_MAX];		/* decoded, routed on */
	bool uploading;			/* ROUTE_UPLOAD body being streamed */
	bool upload_refused;		/* answer upload_err once drained */
	struct vm_error upload_err;
	uint64_t drained;		/* body bytes read after the refusal */
	struct req req;
};

const char *
req_query(const struct req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    key);
}

const char *
req_header(const struct req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

/*
 * conn's client address as text, "" when unknown; with prefix64 an IPv6
 * address is cut to its /64 ("2001:db8:1:2::/64").
 */
static void
peer_text(struct MHD_Connection *conn, bool prefix64, char buf[64])
{
	const union MHD_ConnectionInfo *ci;

	buf[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in =
		    (const struct sockaddr_in *)(const void *)ci->client_addr;

		inet_ntop(AF_INET, &in->sin_addr, buf, 64);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		struct sockaddr_in6 in6;

		memcpy(&in6, ci->client_addr, sizeof(in6));
		if (!prefix64) {
			inet_ntop(AF_INET6, &in6.sin6_addr, buf, 64);
			return;
		}
		memset(&in6.sin6_addr.s6_addr[8], 0, 8);
		if (inet_ntop(AF_INET6, &in6.sin6_addr, buf, 60) != NULL)
			memcpy(buf + strlen(buf), "/64", 4);	/* < 64 */
	}
}

void
req_peer(struct req *req, char buf[64])
{
	peer_text(req->conn, false, buf);
}

void
resp_json(struct resp *resp, int status, json_object *body)
{
	json_object_put(resp->body);
	free(resp->text);
	resp->text = NULL;
	free(resp->file);
	resp->file = NULL;
	resp->content_type = NULL;
	resp->status = status;
	resp->body = body;
}

void
resp_error(struct resp *resp, const struct vm_error *err)
{
	struct vm_error e = *err;

	if (e.code == 0)
		vm_error_set(&e, API_EINTERNAL, "internal error");
	resp_json(resp, api_err_status(e.code), api_error_encode(&e));
}

void
resp_file(struct resp *resp, int status, char *path)
{
	resp_json(resp, status, NULL);
	free(resp->file);
	resp->file = path;
}

void
resp_text(struct resp *resp, int status, char *text, const char *ctype)
{
	json_object_put(resp->body);
	resp->body = NULL;
	free(resp->text);
	resp->status = status;
	resp->text = text;
	resp->content_type = ctype;
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Count cs's request (once) with this status in its route's stats. */
static void
metrics_record(struct server *srv, struct conn_state *cs, int status)
{
	struct route_stats *st;
	double s;
	size_t i;

	if (cs->recorded || cs->route == NULL || srv->stats == NULL)
		return;
	cs->recorded = true;
	s = (double)(mono_us() - cs->start_us - cs->waited_us) / 1e6;
	if (s < 0)
		s = 0;
	st = &srv->stats[cs->route - routes_table];
	pthread_mutex_lock(&srv->mlock);
	for (i = 0; i < METRICS_NSTATUS; i++)
		if (st->status[i] == status || st->status[i] == 0)
			break;
	if (i < METRICS_NSTATUS) {
		st->status[i] = status;
		st->count[i]++;
	} else {
		st->other++;
	}
	for (i = 0; i < METRICS_NBOUNDS; i++)
		if (s <= metrics_bounds[i])
			break;
	if (i < METRICS_NBOUNDS)
		st->bucket[i]++;
	st->n++;
	st->sum_s += s;
	pthread_mutex_unlock(&srv->mlock);
}

void
metrics_label(struct buf *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			buf_append(out, "\\\\", 2);
		else if (*v == '"')
			buf_append(out, "\\\"", 2);
		else if (*v == '\n')
			buf_append(out, "\\n", 2);
		else
			buf_append(out, v, 1);
	}
}

/* route="METHOD PATTERN" (escaped) onto out. */
static void
metrics_route(struct buf *out, const struct route *r)
{
	char name[256];

	snprintf(name, sizeof(name), "%s %s", r->method, r->pattern);
	buf_printf(out, "route=\"");
	metrics_label(out, name);
	buf_printf(out, "\"");
}

void
server_metrics(struct server *srv, struct buf *out)
{
	size_t i, j;

	if (srv == NULL || srv->stats == NULL)
		return;
	pthread_mutex_lock(&srv->mlock);
	buf_printf(out, "# HELP vmctl_http_requests_total HTTP requests "
	    "answered, by route and status.\n"
	    "# TYPE vmctl_http_requests_total counter\n");
	for (i = 0; i < routes_count; i++) {
		const struct route_stats *st = &srv->stats[i];

		for (j = 0; j < METRICS_NSTATUS && st->status[j] != 0; j++) {
			buf_printf(out, "vmctl_http_requests_total{");
			metrics_route(out, &routes_table[i]);
			buf_printf(out, ",status=\"%d\"} %llu\n",
			    st->status[j], (unsigned long long)st->count[j]);
		}
		if (st->other != 0) {
			buf_printf(out, "vmctl_http_requests_total{");
			metrics_route(out, &routes_table[i]);
			buf_printf(out, ",status=\"other\"} %llu\n",
			    (unsigned long long)st->other);
		}
	}
	buf_printf(out, "# HELP vmctl_http_request_duration_seconds Time "
	    "from the start of a request to its answer, without long-poll "
	    "waits.\n"
	    "# TYPE vmctl_http_request_duration_seconds histogram\n");
	for (i = 0; i < routes_count; i++) {
		const struct route_stats *st = &srv->stats[i];
		uint64_t cum = 0;

		if (st->n == 0)
			continue;
		for (j = 0; j < METRICS_NBOUNDS; j++) {
			cum += st->bucket[j];
			buf_printf(out, "vmctl_http_request_duration_seconds_bucket{");
			metrics_route(out, &routes_table[i]);
			buf_printf(out, ",le=\"%g\"} %llu\n", metrics_bounds[j],
			    (unsigned long long)cum);
		}
		buf_printf(out, "vmctl_http_request_duration_seconds_bucket{");
		metrics_route(out, &routes_table[i]);
		buf_printf(out, ",le=\"+Inf\"} %llu\n",
		    (unsigned long long)st->n);
		buf_printf(out, "vmctl_http_request_duration_seconds_sum{");
		metrics_route(out, &routes_table[i]);
		buf_printf(out, "} %.6f\n", st->sum_s);
		buf_printf(out, "vmctl_http_request_duration_seconds_count{");
		metrics_route(out, &routes_table[i]);
		buf_printf(out, "} %llu\n", (unsigned long long)st->n);
	}
	pthread_mutex_unlock(&srv->mlock);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, int code,
    const char *msg);

static enum MHD_Result
send_resp_hdr(struct MHD_Connection *conn, struct resp *resp,
    const char *hname, const char *hvalue)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;

	if (resp->file != NULL) {
		struct stat st;
		int fd = open(resp->file, O_RDONLY | O_CLOEXEC);

		free(resp->file);
		resp->file = NULL;
		if (fd < 0 || fstat(fd, &st) < 0) {
			if (fd >= 0)
				close(fd);
			return send_error(conn, API_EINTERNAL,
			    "cannot open the file to send");
		}
		/* MHD closes fd with the response. */
		r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
		if (r == NULL) {
			close(fd);
			return MHD_NO;
		}
		MHD_add_response_header(r, "Content-Type",
		    "application/octet-stream");
	} else if (resp->text != NULL) {
		text = resp->text;
		resp->text = NULL;
		len = strlen(text);
		r = MHD_create_response_from_buffer(len, text,
		    MHD_RESPMEM_MUST_FREE);
	} else if (resp->body != NULL) {
		/* Valid UTF-8 whatever the request held (it may be echoed). */
		text = utf8_scrub_json(json_dump(resp->body));
		len = strlen(text);
		r = MHD_create_response_from_buffer(len, text,
		    MHD_RESPMEM_MUST_FREE);
	} else {
		r = MHD_create_response_from_buffer(0, (void *)(uintptr_t)"",
		    MHD_RESPMEM_PERSISTENT);
	}
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	if (resp->content_type != NULL && text != NULL && resp->body == NULL)
		MHD_add_response_header(r, "Content-Type", resp->content_type);
	else if (resp->body != NULL)
		MHD_add_response_header(r, "Content-Type", "application/json");
	if (hname != NULL && hvalue != NULL)
		MHD_add_response_header(r, hname, hvalue);
	if (resp->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate",
		    "Bearer realm=\"vmctl\"");
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	json_object_put(resp->body);
	resp->body = NULL;
	return ret;
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct resp *resp)
{
	return send_resp_hdr(conn, resp, NULL, NULL);
}

static enum MHD_Result
send_error(struct MHD_Connection *conn, int code, const char *msg)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };
	struct vm_error err;

	vm_error_set(&err, code, "%s", msg);
	resp_error(&resp, &err);
	return send_resp(conn, &resp);
}

void
server_wake(struct server *srv, const char *key)
{
	struct waiter **pp, *w;

	pthread_mutex_lock(&srv->lock);
	srv->gen++;
	pp = &srv->waiters;
	while ((w = *pp) != NULL) {
		if (key == NULL || strcmp(w->cs->req.wait_key, key) == 0) {
			*pp = w->next;
			MHD_resume_connection(w->conn);
			free(w);
		} else {
			pp = &w->next;
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

/*
 * Resume and forget waiters, srv->lock held: with key, the long polls of
 * key (marked superseded); without, those whose deadline is past at now,
 * or all of them when stop (marked wait_over).
 */
static void
waiters_resume(struct server *srv, const char *key, bool stop, int64_t now)
{
	struct waiter **pp, *w;

	pp = &srv->waiters;
	while ((w = *pp) != NULL) {
		if (key != NULL ? strcmp(w->cs->req.wait_key, key) == 0 :
		    stop || now >= w->cs->req.wait_deadline) {
			*pp = w->next;
			if (key != NULL)
				w->cs->req.superseded = true;
			else
				w->cs->req.wait_over = true;
			MHD_resume_connection(w->conn);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/*
 * End the waiting long polls of key with an empty answer: svc_agent_register
 * calls it when an agent starts again, so a poll of its previous life
 * (a dead connection the server has not noticed) leases nothing more.
 */
void
server_supersede(struct server *srv, const char *key)
{
	pthread_mutex_lock(&srv->lock);
	waiters_resume(srv, key, false, 0);
	pthread_mutex_unlock(&srv->lock);
}

uint64_t
server_wake_gen(struct server *srv)
{
	uint64_t g;

	pthread_mutex_lock(&srv->lock);
	g = srv->gen;
	pthread_mutex_unlock(&srv->lock);
	return g;
}

static void conn_deadline(struct server *srv, int64_t now);

static void *
server_timer(void *arg)
{
	struct server *srv = arg;
	int64_t last_sweep = 0;

	for (;;) {
		int64_t now = mono_ms();
		bool stop;

		pthread_mutex_lock(&srv->lock);
		stop = srv->stopping;
		waiters_resume(srv, NULL, stop, now);
		pthread_mutex_unlock(&srv->lock);
		if (stop)
			break;
		if (now - last_sweep >= 250) {
			conn_deadline(srv, now);
			last_sweep = now;
		}
		usleep(100 * 1000);
	}
	return NULL;
}

void
req_audit_fill(struct req *req, int status, const char *message,
    struct api_audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (req->who.kind == AUTH_HOST)
		str_copy(ev->host, sizeof(ev->host), req->who.name);
	else if (req->who.kind == AUTH_USER)
		str_copy(ev->user, sizeof(ev->user), req->who.name);
	/* The agency of what was touched, else the caller's. */
	str_copy(ev->agency, sizeof(ev->agency), req->audit_agency[0] ?
	    req->audit_agency : req->who.agency);
	req_peer(req, ev->source);
	str_copy(ev->method, sizeof(ev->method), req->method);
	str_copy(ev->path, sizeof(ev->path), req->path);
	str_copy(ev->object, sizeof(ev->object), req->audit_object);
	ev->status = status;
	ev->result = status < 400 ? AUDIT_OK : status < 500 ? AUDIT_REFUSED :
	    AUDIT_FAILED;
	if (message != NULL)
		str_copy(ev->message, sizeof(ev->message), message);
}

/*
 * After the handler: a change that committed already wrote its event
 * with it (svc_commit); anything else worth recording (a refused or
 * failed change, a refused read) gets an event in a transaction of its
 * own. Machine traffic (heartbeats, polls, results) only when refused.
 */
static void
server_audit(struct server *srv, struct conn_state *cs, int status,
    const char *message)
{
	struct api_audit_event ev;
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	bool mutating = strcmp(cs->req.method, "GET") != 0 &&
	    strcmp(cs->req.method, "HEAD") != 0;
	bool refused = status == 401 || status == 403 || status == 429;

	if (cs->req.audited || cs->route == NULL ||
	    cs->route->res == RES_PUBLIC)
		return;
	if (!refused && (!mutating || (cs->route->flags & ROUTE_NOAUDIT)))
		return;
	req_audit_fill(&cs->req, status, message, &ev);
	if (refused) {
		/*
		 * Counted in memory, written once per key and interval by
		 * auditlog.c: a flood of refusals costs no disk write here
		 * and a bounded number of events. The route's pattern, not
		 * the path, so ids do not make new keys.
		 */
		str_copy(ev.path, sizeof(ev.path), cs->route->pattern);
		auditlog_refusal(srv->ctl->auditlog, &ev);
		cs->req.audited = true;
		return;
	}
	if (store_txn_begin(srv->ctl->store, true, &txn, &err) < 0 ||
	    audit_append(txn, &ev, &err) < 0) {
		store_txn_abort(txn);
		log_error("audit: event for %s %s not written: %s",
		    cs->req.method, cs->req.path, err.message);
		return;
	}
	if (store_txn_commit(txn, &err) < 0)
		log_error("audit: event for %s %s not written: %s",
		    cs->req.method, cs->req.path, err.message);
	cs->req.audited = true;
}

/* Message of an error answer, for the audit event. */
static const char *
resp_message(const struct resp *resp)
{
	json_object *e = NULL;

	if (resp->body == NULL || resp->status < 400 ||
	    !json_object_object_get_ex(resp->body, "error", &e))
		return NULL;
	return json_get_str(e, "message");
}

/* The per-user bucket (limits.rate_per_s, limits.burst). */
static bool
rate_ok(struct server *srv, const char *user, int64_t *retry_s)
{
	if (srv->rl_user == NULL)
		return true;
	return ratelim_take(srv->rl_user, user, mono_ms(), true, retry_s);
}

/*
 * The source a request comes from, as a rate-limit key: the IPv4
 * address, or the /64 of an IPv6 address (one host usually has a whole
 * /64 to pick from).
 */
static void
peer_key(struct MHD_Connection *conn, char buf[64])
{
	peer_text(conn, true, buf);
	if (buf[0] == '\0')
		str_copy(buf, 64, "?");
}

/*
 * The caller's credentials (Authorization). A failed authentication
 * takes a token from its source's bucket (limits.auth_fail_per_s,
 * limits.auth_fail_burst); once that is empty, failures from there are
 * answered 429 with Retry-After instead of 401, so a flood of bad tokens
 * is throttled while good tokens from the same address still work.
 */
static int
authenticate(struct server *srv, struct MHD_Connection *conn,
    struct principal *who, int64_t *retry_s, struct vm_error *err)
{
	const char *v = NULL;
	size_t vlen = 0, i;
	char src[64];

	*retry_s = 0;
	if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION,
	    strlen(MHD_HTTP_HEADER_AUTHORIZATION), &v, &vlen) != MHD_YES)
		v = NULL;
	for (i = 0; v != NULL && i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			break;
	if (v != NULL && i < vlen) {
		memset(who, 0, sizeof(*who));
		vm_error_set(err, API_EUNAUTH, "the Authorization header "
		    "holds a NUL or control character");
	} else if (auth_authenticate(srv->ctl->store, v, who, err) == 0) {
		return 0;
	}
	peer_key(conn, src);
	if (srv->rl_src != NULL &&
	    !ratelim_take(srv->rl_src, src, mono_ms(), true, retry_s))
		vm_error_set(err, API_ERATE, "too many failed "
		    "authentications from this address: at most %lld per "
		    "second (burst %lld); retry in %lld s",
		    (long long)srv->ctl->cfg.auth_fail_per_s,
		    (long long)srv->ctl->cfg.auth_fail_burst,
		    (long long)*retry_s);
	return -1;
}

/* Who is calling, may they, and are they within their rate? */
static enum MHD_Result
authorize(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs, bool *done)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };
	struct vm_error err = { 0, "" };
	int64_t retry = 0;
	enum MHD_Result ret;

	*done = false;
	if (cs->route->res == RES_PUBLIC)
		return MHD_YES;
	if (authenticate(srv, conn, &cs->req.who, &retry, &err) < 0 ||
	    auth_authorize(&cs->req.who, cs->route->res, cs->route->access,
	    &err) < 0 ||
	    (cs->route->res == RES_AGENT && tls_agent_check(&srv->ctl->cfg,
	    conn, cs->req.who.name, &err) < 0)) {
		char ra[24];

		*done = true;
		resp_error(&resp, &err);
		server_audit(srv, cs, resp.status, err.message);
		metrics_record(srv, cs, resp.status);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		return send_resp_hdr(conn, &resp, retry > 0 ? "Retry-After" :
		    NULL, ra);
	}
	if (cs->req.who.kind == AUTH_USER &&
	    !rate_ok(srv, cs->req.who.name, &retry)) {
		char ra[24];

		*done = true;
		vm_error_set(&err, API_ERATE,
		    "too many requests: at most %lld per second (burst %lld) "
		    "per user; retry in %lld s",
		    (long long)srv->ctl->cfg.rate_per_s,
		    (long long)srv->ctl->cfg.rate_burst, (long long)retry);
		resp_error(&resp, &err);
		server_audit(srv, cs, resp.status, err.message);
		metrics_record(srv, cs, resp.status);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		ret = send_resp_hdr(conn, &resp, "Retry-After", ra);
		return ret;
	}
	return MHD_YES;
}

/* Run the handler; suspend the connection if it asks to wait. */
static enum MHD_Result
dispatch(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs)
{
	struct resp resp = { 200, NULL, NULL, NULL, NULL };
	int rc;

	for (;;) {
		cs->req.wake_gen = server_wake_gen(srv);
		rc = cs->route->fn(&cs->req, &resp);
		if (rc != HANDLER_WAIT)
			break;
		pthread_mutex_lock(&srv->lock);
		if (srv->stopping || mono_ms() >= cs->req.wait_deadline)
			cs->req.wait_over = true;
		if (!cs->req.wait_over && srv->gen == cs->req.wake_gen) {
			struct waiter *w, **pp = &srv->waiters;

			while ((w = *pp) != NULL) {
				if (strcmp(w->cs->req.wait_key,
				    cs->req.wait_key) == 0) {
					*pp = w->next;
					w->cs->req.superseded = true;
					MHD_resume_connection(w->conn);
					free(w);
				} else {
					pp = &w->next;
				}
			}
			w = xcalloc(1, sizeof(*w));

			w->conn = conn;
			w->cs = cs;
			w->next = srv->waiters;
			srv->waiters = w;
			cs->waiting = true;
			cs->wait_start_us = mono_us();
			MHD_suspend_connection(conn);
			pthread_mutex_unlock(&srv->lock);
			return MHD_YES;
		}
		pthread_mutex_unlock(&srv->lock);
		/* Woken between the handler's look and now: look again. */
	}
	cs->waiting = false;
	server_audit(srv, cs, resp.status, resp_message(&resp));
	metrics_record(srv, cs, resp.status);
	return send_resp(conn, &resp);
}

/* Most of a refused upload's body read and dropped (upload_chunk). */
#define ROUTE_DRAIN_MAX	(64u << 20)

/*
 * First call of a ROUTE_UPLOAD request, once the caller is authorized
 * (request_begin()): let the route begin its upload.
 */
static enum MHD_Result
upload_start(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };
	struct vm_error err = { 0, "" };

	if (routes_upload(cs->route)->up_begin(&cs->req, &cs->req.upload, &err) < 0) {
		const char *expect = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
		const char *cl = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		/*
		 * An authorized caller refused on its headers (a quota): a
		 * client that did not wait for "100 Continue" is sending the
		 * body already, and closing under it resets the connection
		 * before it reads the answer. Read and drop a body of at most
		 * ROUTE_DRAIN_MAX, then answer (upload_refuse); answer at
		 * once when the client waits (Expect) or the body is bigger.
		 */
		if ((expect == NULL || strcasecmp(expect, "100-continue") != 0) &&
		    (cl == NULL || strtoull(cl, NULL, 10) <= ROUTE_DRAIN_MAX)) {
			cs->upload_err = err;
			cs->upload_refused = true;
			cs->uploading = true;
			return MHD_YES;
		}
		resp_error(&resp, &err);
		server_audit(srv, cs, resp.status, err.message);
		metrics_record(srv, cs, resp.status);
		return send_resp(conn, &resp);
	}
	cs->uploading = true;
	return MHD_YES;
}

/*
 * A chunk of a ROUTE_UPLOAD body. After a refusal the rest of the body is
 * read and dropped (libmicrohttpd answers only once the request is
 * complete), up to ROUTE_DRAIN_MAX bytes; past that the connection is
 * closed without an answer.
 */
/* The same for a body past its route's limit (server.c reads it). */
#define ROUTE_BODY_DRAIN_MAX	(1u << 20)

static enum MHD_Result
upload_chunk(struct conn_state *cs, const char *data, size_t len)
{
	if (cs->upload_refused) {
		cs->drained += len;
		return cs->drained > ROUTE_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (routes_upload(cs->route)->up_data(cs->req.upload, data, len,
	    &cs->upload_err) == 0)
		return MHD_YES;
	cs->upload_refused = true;
	/* The files go now, not when the client is done sending. */
	routes_upload(cs->route)->up_free(cs->req.upload);
	cs->req.upload = NULL;
	return MHD_YES;
}

/* The end of a refused upload: its answer. */
static enum MHD_Result
upload_refuse(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };

	resp_error(&resp, &cs->upload_err);
	server_audit(srv, cs, resp.status, cs->upload_err.message);
	metrics_record(srv, cs, resp.status);
	return send_resp(conn, &resp);
}

/* Answer err now, before any body byte is read (MHD then closes). */
static enum MHD_Result
refuse(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs, const struct vm_error *err)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };

	resp_error(&resp, err);
	server_audit(srv, cs, resp.status, err->message);
	metrics_record(srv, cs, resp.status);
	return send_resp(conn, &resp);
}

struct value_check {
	struct vm_error *err;
	bool bad;
};

/* Query parameters: decoded, they must be clean text; cursors valid. */
static enum MHD_Result
check_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t klen,
    const char *value, size_t vlen)
{
	struct value_check *vc = cls;

	(void)kind;
	if (!urlpath_text_ok(key, klen) ||
	    (value != NULL && !urlpath_text_ok(value, vlen))) {
		vm_error_set(vc->err, API_EINVAL, "query parameter %.40s: "
		    "NUL, control character or ill-formed UTF-8",
		    urlpath_text_ok(key, klen) ? key : "name");
		vc->bad = true;
		return MHD_NO;
	}
	return MHD_YES;
}

/* A paged list's ?after=: a cursor it handed out, nothing else. */
static int
check_cursor(struct MHD_Connection *conn, const struct route *r,
    struct vm_error *err)
{
	const char *v = NULL;
	size_t vlen = 0;

	if (!(r->flags & ROUTE_PAGED) ||
	    MHD_lookup_connection_value_n(conn, MHD_GET_ARGUMENT_KIND,
	    "after", 5, &v, &vlen) != MHD_YES)
		return 0;
	if (v != NULL && urlpath_cursor_ok(v, vlen))
		return 0;
	vm_error_set(err, API_EINVAL, "after: must be a cursor from a "
	    "previous page (the \"next\" of a list answer)");
	return -1;
}

/* Headers: no NUL or control character (tab aside) in a value. */
static enum MHD_Result
check_header(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t klen, const char *value, size_t vlen)
{
	struct value_check *vc = cls;
	size_t i;

	(void)kind;
	(void)klen;
	for (i = 0; value != NULL && i < vlen; i++)
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
		    value[i] == 0x7f)
			break;
	if (value == NULL || i == vlen)
		return MHD_YES;
	/* Authorization: left to authenticate() (401). */
	if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
		return MHD_YES;
	vm_error_set(vc->err, API_EINVAL, "header %.40s holds a NUL or "
	    "control character", urlpath_text_ok(key, strlen(key)) ? key :
	    "?");
	vc->bad = true;
	return MHD_NO;
}

/* Mark the connection of conn as inside a request (header deadline). */
static void
conn_track_set(struct server *srv, struct MHD_Connection *conn,
    bool in_request)
{
	const union MHD_ConnectionInfo *ci;
	struct conn_track *ct;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (ct = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&srv->ct_lock);
	ct->in_request = in_request;
	ct->idle_since_ms = mono_ms();
	pthread_mutex_unlock(&srv->ct_lock);
}

/* Unrouted: 401 without valid credentials (no hint), else 404 or 405. */
static enum MHD_Result
request_unrouted(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs)
{
	struct resp resp = { 0, NULL, NULL, NULL, NULL };
	struct vm_error err = { 0, "" };
	struct principal who;
	int64_t retry = 0;
	char allow[64], ra[24];

	if (authenticate(srv, conn, &who, &retry, &err) < 0) {
		resp_error(&resp, &err);
		snprintf(ra, sizeof(ra), "%lld", (long long)retry);
		return send_resp_hdr(conn, &resp, retry > 0 ? "Retry-After" :
		    NULL, ra);
	}
	if (cs->match == ROUTE_NO_PATH) {
		vm_error_set(&err, API_ENOTFOUND, "no such path: %.200s",
		    cs->path);
		resp_error(&resp, &err);
		return send_resp(conn, &resp);
	}
	routes_allowed(cs->path, allow, sizeof(allow));
	vm_error_set(&err, API_EMETHOD,
	    "method %.10s not allowed on %.200s (allowed: %s)",
	    cs->req.method, cs->path, allow);
	resp_error(&resp, &err);
	return send_resp_hdr(conn, &resp, "Allow", allow);
}

/*
 * First call of a request, headers complete, no body byte read yet: check
 * the path and the headers, route, authenticate, authorize and apply the
 * rate limits and the route's body limit. Anything refused is answered
 * now; libmicrohttpd then closes the connection without reading the body.
 */
static enum MHD_Result
request_begin(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs, const char *method, const char *url)
{
	struct vm_error err = { 0, "" };
	struct value_check vc = { &err, false };
	const char *cl;
	enum MHD_Result r;
	bool done;

	cs->started = true;
	if (cs->start_us == 0)
		cs->start_us = mono_us();
	conn_track_set(srv, conn, true);
	if (cs->raw_path[0] == '\0')
		urlpath_raw(url, cs->raw_path, sizeof(cs->raw_path));
	cs->req.ctl = srv->ctl;
	cs->req.method = method;
	cs->req.path = cs->raw_path;
	cs->req.body = "";
	cs->req.body_len = 0;
	cs->req.conn = conn;
	if (strlen(cs->raw_path) >= URLPATH_MAX - 1) {
		vm_error_set(&err, API_EINVAL, "request path longer than %d "
		    "bytes", URLPATH_MAX - 2);
		return refuse(srv, conn, cs, &err);
	}
	if (urlpath_decode(cs->raw_path, cs->path, sizeof(cs->path),
	    &err) < 0)
		return refuse(srv, conn, cs, &err);
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, check_header, &vc);
	if (!vc.bad)
		MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND,
		    check_arg, &vc);
	if (vc.bad)
		return refuse(srv, conn, cs, &err);
	cs->match = routes_match(method, cs->path, &cs->route,
	    cs->req.params);
	if (cs->match != ROUTE_FOUND)
		return request_unrouted(srv, conn, cs);
	if (check_cursor(conn, cs->route, &err) < 0)
		return refuse(srv, conn, cs, &err);
	r = authorize(srv, conn, cs, &done);
	if (done)
		return r;
	if ((cs->route->flags & ROUTE_UPLOAD) && routes_upload(cs->route) !=
	    NULL)
		return upload_start(srv, conn, cs);
	cs->limit = routes_body_max(cs->route,
	    (size_t)srv->ctl->cfg.max_body_kib * 1024);
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > cs->limit) {
		cs->too_large = true;
		vm_error_set(&err, API_ETOOLARGE, "request body larger than "
		    "the limit of %s %s (%zu bytes)", cs->route->method,
		    cs->route->pattern, cs->limit);
		return refuse(srv, conn, cs, &err);
	}
	return MHD_YES;
}

/*
 * The raw request target, before libmicrohttpd unescapes it
 * (MHD_OPTION_URI_LOG_CALLBACK): the request's state starts here and
 * becomes *con_cls of on_request(); on_completed() frees it.
 */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct conn_state *cs = xcalloc(1, sizeof(*cs));

	(void)cls;
	(void)conn;
	cs->start_us = mono_us();
	urlpath_raw(uri, cs->raw_path, sizeof(cs->raw_path));
	return cs;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct conn_state *cs = *con_cls;

	(void)version;
	if (cs == NULL) {
		cs = xcalloc(1, sizeof(*cs));
		*con_cls = cs;
	}
	if (!cs->started)
		return request_begin(srv, conn, cs, method, url);
	if (*upload_data_size != 0 && cs->route != NULL &&
	    (cs->route->flags & ROUTE_UPLOAD)) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (!cs->uploading)
			return MHD_YES;	/* refused: the answer is queued */
		return upload_chunk(cs, upload_data, n);
	}
	if (cs->uploading) {
		cs->uploading = false;
		if (cs->upload_refused)
			return upload_refuse(srv, conn, cs);
		return dispatch(srv, conn, cs);
	}
	if (*upload_data_size != 0) {
		/* Chunked bodies have no Content-Length: count as they come. */
		if (!cs->too_large && cs->body.len + *upload_data_size <=
		    cs->limit) {
			buf_append(&cs->body, upload_data, *upload_data_size);
		} else {
			cs->too_large = true;
			cs->drained += *upload_data_size;
		}
		*upload_data_size = 0;
		return cs->drained > ROUTE_BODY_DRAIN_MAX ? MHD_NO : MHD_YES;
	}
	if (cs->waiting) {
		cs->waited_us += mono_us() - cs->wait_start_us;
		return dispatch(srv, conn, cs);
	}
	if (cs->too_large) {
		struct vm_error err = { 0, "" };

		vm_error_set(&err, API_ETOOLARGE, "request body larger than "
		    "the limit of %s %s (%zu bytes)", cs->route->method,
		    cs->route->pattern, cs->limit);
		return refuse(srv, conn, cs, &err);
	}
	if (cs->body.len > 0) {
		const char *ct = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

		if (ct != NULL && strncmp(ct, "application/json", 16) != 0) {
			char msg[200];

			snprintf(msg, sizeof(msg), "Content-Type must be "
			    "application/json, not %.100s", ct);
			metrics_record(srv, cs, api_err_status(API_EMEDIA));
			return send_error(conn, API_EMEDIA, msg);
		}
	}
	cs->req.body = cs->body.data ? cs->body.data : "";
	cs->req.body_len = cs->body.len;
	return dispatch(srv, conn, cs);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)toe;
	conn_track_set(cls, conn, false);
	if (cs == NULL)
		return;
	if (cs->req.upload != NULL)
		routes_upload(cs->route)->up_free(cs->req.upload);
	buf_free(&cs->body);
	free(cs);
	*con_cls = NULL;
}

/* Connections opened and closed: the list the header deadline walks. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct server *srv = cls;
	struct conn_track *ct = *socket_context;
	const union MHD_ConnectionInfo *ci;

	pthread_mutex_lock(&srv->ct_lock);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(conn,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		ct = xcalloc(1, sizeof(*ct));
		ct->fd = ci != NULL ? (int)ci->connect_fd : -1;
		ct->idle_since_ms = mono_ms();
		ct->next = srv->conns;
		if (srv->conns != NULL)
			srv->conns->prev = ct;
		srv->conns = ct;
		*socket_context = ct;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && ct != NULL) {
		/* MHD closes the fd after this: no shutdown() can hit a reuse. */
		if (ct->prev != NULL)
			ct->prev->next = ct->next;
		else
			srv->conns = ct->next;
		if (ct->next != NULL)
			ct->next->prev = ct->prev;
		free(ct);
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&srv->ct_lock);
}

/*
 * Header deadline: shut down connections that have waited longer than
 * server.header_timeout_s for a complete request header, whether they
 * send nothing (idle keep-alive) or trickle bytes (slowloris), which
 * MHD's idle timeout alone does not catch. MHD then closes them.
 */
static void
conn_deadline(struct server *srv, int64_t now)
{
	int64_t limit = srv->ctl->cfg.header_timeout_s * 1000;
	struct conn_track *ct;

	pthread_mutex_lock(&srv->ct_lock);
	for (ct = srv->conns; ct != NULL; ct = ct->next)
		if (!ct->in_request && !ct->cut && ct->fd >= 0 &&
		    now - ct->idle_since_ms > limit) {
			shutdown(ct->fd, SHUT_RDWR);
			ct->cut = true;
		}
	pthread_mutex_unlock(&srv->ct_lock);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(msg, sizeof(msg), fmt, ap);
#pragma GCC diagnostic pop
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("http: %s", msg);
}

int
server_start(struct ctl *ctl, struct server **out, struct vm_error *err)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	struct MHD_OptionItem tlsopt[5];
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned flags;
	size_t nopt = 0;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ctl->cfg.listen, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)ctl->cfg.port);
		if (inet_pton(AF_INET6, ctl->cfg.listen, &in6->sin6_addr) != 1)
			goto badaddr;
		sslen = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)ctl->cfg.port);
		if (inet_pton(AF_INET, ctl->cfg.listen, &in->sin_addr) != 1)
			goto badaddr;
		sslen = sizeof(*in);
	}
	(void)sslen;
	if (tls_configured(&ctl->cfg) &&
	    tls_load(&ctl->cfg, &srv->tls, err) < 0) {
		free(srv);
		return -1;
	}
	srv->ctl = ctl;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->ct_lock, NULL);
	pthread_mutex_init(&srv->mlock, NULL);
	if (ctl->cfg.rate_per_s > 0)
		srv->rl_user = ratelim_new(SERVER_RL_CAP,
		    (double)ctl->cfg.rate_per_s, (double)ctl->cfg.rate_burst,
		    (uint32_t)mono_us());
	if (ctl->cfg.auth_fail_per_s > 0)
		srv->rl_src = ratelim_new(SERVER_RL_CAP,
		    (double)ctl->cfg.auth_fail_per_s,
		    (double)ctl->cfg.auth_fail_burst, (uint32_t)now_ms());
	srv->stats = xcalloc(routes_count, sizeof(*srv->stats));
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* HTTPS: the PEM text stays in srv->tls while the daemon runs. */
	if (srv->tls != NULL) {
		flags |= MHD_USE_TLS;
		tlsopt[nopt++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls->tls_key_pem };
		tlsopt[nopt++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls->tls_cert_pem };
		tlsopt[nopt++] = (struct MHD_OptionItem){
		    MHD_OPTION_HTTPS_PRIORITIES, 0,
		    (void *)(uintptr_t)TLS_PRIORITIES };
		/* Client certificates are then asked for, not required. */
		if (srv->tls->tls_trust_pem != NULL)
			tlsopt[nopt++] = (struct MHD_OptionItem){
			    MHD_OPTION_HTTPS_MEM_TRUST, 0,
			    srv->tls->tls_trust_pem };
	}
	tlsopt[nopt] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	srv->mhd = MHD_start_daemon(flags, (uint16_t)ctl->cfg.port, NULL, NULL,
	    on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctl->cfg.threads,
	    MHD_OPTION_CONNECTION_LIMIT, 4096u,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)ctl->cfg.max_conns_per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ctl->cfg.timeout_s,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_ARRAY, tlsopt,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		vm_error_set(err, API_EINTERNAL,
		    "cannot listen on %s port %lld (in use? see the log)",
		    ctl->cfg.listen, (long long)ctl->cfg.port);
		pthread_mutex_destroy(&srv->lock);
		pthread_mutex_destroy(&srv->ct_lock);
		pthread_mutex_destroy(&srv->mlock);
		free(srv->stats);
		ratelim_free(srv->rl_user);
		ratelim_free(srv->rl_src);
		tls_free(srv->tls);
		free(srv);
		return -1;
	}
	if (pthread_create(&srv->timer, NULL, server_timer, srv) != 0)
		fatal("pthread_create");
	srv->timer_started = true;
	*out = srv;
	return 0;
badaddr:
	vm_error_set(err, API_EINVAL, "server.listen: '%s' is not an IP address",
	    ctl->cfg.listen);
	free(srv);
	return -1;
}

void
server_stop(struct server *srv)
{
	if (srv == NULL)
		return;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	pthread_mutex_unlock(&srv->lock);
	if (srv->timer_started)
		pthread_join(srv->timer, NULL);
	/*
	 * Let resumed long polls answer before the daemon goes away. No
	 * MHD_quiesce_daemon(): with MHD_USE_EPOLL and the internal polling
	 * thread, libmicrohttpd 0.9.75 can race itself removing the listen
	 * socket from its epoll set and abort ("Failed to remove listen FD
	 * from epoll set"), seen once in the TLS test. A request that comes
	 * in meanwhile is answered normally; long polls end at once
	 * (srv->stopping is set).
	 */
	usleep(200 * 1000);
	MHD_stop_daemon(srv->mhd);
	while (srv->conns != NULL) {
		struct conn_track *ct = srv->conns;

		srv->conns = ct->next;
		free(ct);
	}
	pthread_mutex_destroy(&srv->ct_lock);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->mlock);
	free(srv->stats);
	ratelim_free(srv->rl_user);
	ratelim_free(srv->rl_src);
	tls_free(srv->tls);
	free(srv);
}
