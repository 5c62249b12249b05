#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "routes.h"
#include "server.h"
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
};

/* Per-connection (per-request) state, freed in on_completed(). */
struct conn_state {
	struct buf body;		/* owned */
	size_t limit;
	bool too_large;
	bool waiting;			/* suspended in a long poll */
	const struct route *route;
	enum route_match match;
	struct req req;
};

const char *
req_query(struct req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    key);
}

const char *
req_header(struct req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

void
req_peer(struct req *req, char buf[64])
{
	const union MHD_ConnectionInfo *ci;

	buf[0] = '\0';
	ci = MHD_get_connection_info(req->conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL)
		return;
	if (ci->client_addr->sa_family == AF_INET) {
		const struct sockaddr_in *in =
		    (const struct sockaddr_in *)(const void *)ci->client_addr;

		inet_ntop(AF_INET, &in->sin_addr, buf, 64);
	} else if (ci->client_addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)(const void *)ci->client_addr;

		inet_ntop(AF_INET6, &in6->sin6_addr, buf, 64);
	}
}

void
resp_json(struct resp *resp, int status, json_object *body)
{
	json_object_put(resp->body);
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

static enum MHD_Result
send_resp_allow(struct MHD_Connection *conn, struct resp *resp,
    const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text = NULL;
	size_t len = 0;

	if (resp->body != NULL) {
		text = json_dump(resp->body);
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
	if (resp->body != NULL)
		MHD_add_response_header(r, "Content-Type", "application/json");
	if (resp->status == 405 && allow != NULL)
		MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	json_object_put(resp->body);
	resp->body = NULL;
	return ret;
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct resp *resp)
{
	return send_resp_allow(conn, resp, NULL);
}

static enum MHD_Result
send_error(struct MHD_Connection *conn, int code, const char *msg)
{
	struct resp resp = { 0, NULL };
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

uint64_t
server_wake_gen(struct server *srv)
{
	uint64_t g;

	pthread_mutex_lock(&srv->lock);
	g = srv->gen;
	pthread_mutex_unlock(&srv->lock);
	return g;
}

static void *
server_timer(void *arg)
{
	struct server *srv = arg;

	for (;;) {
		struct waiter **pp, *w;
		int64_t now = mono_ms();
		bool stop;

		pthread_mutex_lock(&srv->lock);
		stop = srv->stopping;
		pp = &srv->waiters;
		while ((w = *pp) != NULL) {
			if (stop || now >= w->cs->req.wait_deadline) {
				*pp = w->next;
				w->cs->req.wait_over = true;
				MHD_resume_connection(w->conn);
				free(w);
			} else {
				pp = &w->next;
			}
		}
		pthread_mutex_unlock(&srv->lock);
		if (stop)
			break;
		usleep(100 * 1000);
	}
	return NULL;
}

/* Run the handler; suspend the connection if it asks to wait. */
static enum MHD_Result
dispatch(struct server *srv, struct MHD_Connection *conn,
    struct conn_state *cs)
{
	struct resp resp = { 200, NULL };
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
			MHD_suspend_connection(conn);
			pthread_mutex_unlock(&srv->lock);
			return MHD_YES;
		}
		pthread_mutex_unlock(&srv->lock);
		/* Woken between the handler's look and now: look again. */
	}
	cs->waiting = false;
	return send_resp(conn, &resp);
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
		const char *cl;

		cs = xcalloc(1, sizeof(*cs));
		*con_cls = cs;
		cs->match = routes_match(method, url, &cs->route,
		    cs->req.params);
		cs->limit = (size_t)srv->ctl->cfg.max_body_kib * 1024;
		if (cs->route != NULL && (cs->route->flags & ROUTE_BIGBODY))
			cs->limit = ROUTE_BIGBODY_MAX;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > cs->limit) {
			cs->too_large = true;
			return send_error(conn, API_ETOOLARGE,
			    "request body larger than the limit "
			    "(server.max_body_kib)");
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		if (!cs->too_large && cs->body.len + *upload_data_size <=
		    cs->limit)
			buf_append(&cs->body, upload_data, *upload_data_size);
		else
			cs->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->waiting)
		return dispatch(srv, conn, cs);
	if (cs->too_large)
		return send_error(conn, API_ETOOLARGE,
		    "request body larger than the limit "
		    "(server.max_body_kib)");
	if (cs->match == ROUTE_NO_PATH) {
		char msg[300];

		snprintf(msg, sizeof(msg), "no such path: %.200s", url);
		return send_error(conn, API_ENOTFOUND, msg);
	}
	if (cs->match == ROUTE_NO_METHOD) {
		struct resp resp = { 0, NULL };
		struct vm_error err;
		char allow[64];

		routes_allowed(url, allow, sizeof(allow));
		vm_error_set(&err, API_EMETHOD,
		    "method %.10s not allowed on %.200s (allowed: %s)", method,
		    url, allow);
		resp_error(&resp, &err);
		return send_resp_allow(conn, &resp, allow);
	}
	if (cs->body.len > 0) {
		const char *ct = MHD_lookup_connection_value(conn,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

		if (ct != NULL && strncmp(ct, "application/json", 16) != 0) {
			char msg[200];

			snprintf(msg, sizeof(msg), "Content-Type must be "
			    "application/json, not %.100s", ct);
			return send_error(conn, API_EMEDIA, msg);
		}
	}
	cs->req.ctl = srv->ctl;
	cs->req.method = method;
	cs->req.path = url;
	cs->req.body = cs->body.data ? cs->body.data : "";
	cs->req.body_len = cs->body.len;
	cs->req.conn = conn;
	return dispatch(srv, conn, cs);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (cs == NULL)
		return;
	buf_free(&cs->body);
	free(cs);
	*con_cls = NULL;
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
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned flags;

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
	srv->ctl = ctl;
	pthread_mutex_init(&srv->lock, NULL);
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->mhd = MHD_start_daemon(flags, (uint16_t)ctl->cfg.port, NULL, NULL,
	    on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)ctl->cfg.threads,
	    MHD_OPTION_CONNECTION_LIMIT, 4096u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120u,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_END);
	if (srv->mhd == NULL) {
		vm_error_set(err, API_EINTERNAL,
		    "cannot listen on %s port %lld (in use? see the log)",
		    ctl->cfg.listen, (long long)ctl->cfg.port);
		pthread_mutex_destroy(&srv->lock);
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
	/* Let resumed long polls answer before the daemon goes away. */
	MHD_quiesce_daemon(srv->mhd);
	usleep(200 * 1000);
	MHD_stop_daemon(srv->mhd);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
