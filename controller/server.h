/*
 * server: the HTTP front of vmctld on libmicrohttpd (thread pool, with
 * suspend/resume for long polls). It reads bodies (bounded), matches the
 * route table (routes.c), calls the handler and sends its answer (JSON, or
 * raw text such as /metrics).
 * A struct req lives for one request; everything it points to is owned
 * by the server and valid until the handler returns.
 */
#ifndef VMCTL_CONTROLLER_SERVER_H
#define VMCTL_CONTROLLER_SERVER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "ctl.h"
#include "error.h"

#define REQ_MAX_PARAMS 2
#define REQ_PARAM_MAX 128

struct req {
	struct ctl *ctl;
	const char *method;
	const char *path;
	char params[REQ_MAX_PARAMS][REQ_PARAM_MAX];	/* path captures */
	const char *body;		/* NUL-terminated, may be empty */
	size_t body_len;
	void *conn;			/* struct MHD_Connection */
	struct principal who;		/* the caller, set before the handler */
	char audit_object[128];		/* what the request touched (audit) */
	char audit_agency[API_NAME_MAX];	/* agency of that object */
	bool audited;			/* an event was written with the change */
	/* long poll: a handler may ask to wait (see ROUTE_WAIT) */
	uint64_t wake_gen;		/* server_wake_gen() read by handler */
	char wait_key[64];		/* wake key to wait on */
	int64_t wait_deadline;		/* mono ms */
	bool wait_over;			/* deadline passed or shutting down */
	bool superseded;		/* a newer poll took over wait_key */
	void *upload;			/* ROUTE_UPLOAD: state of up_begin */
};

struct resp {
	int status;			/* HTTP status */
	json_object *body;		/* owned; NULL = no body */
	char *text;			/* owned; non-JSON body (resp_text) */
	const char *content_type;	/* static; of text */
	char *file;			/* owned; path of a file to send */
};

/*
 * Handler result: 0 answered (resp filled), 1 = suspend and call again
 * when server_wake(wait_key) is called or wait_deadline passes. A new
 * waiter on a key supersedes older ones (one poller per agent host: an
 * agent that restarted leaves its old poll behind, whose connection may be
 * dead); those are called again with superseded set and must not hand
 * out work.
 */
#define HANDLER_DONE 0
#define HANDLER_WAIT 1

typedef int (*route_fn)(struct req *req, struct resp *resp);

/*
 * Streamed request bodies (routes flagged ROUTE_UPLOAD): the body never
 * sits in memory. After authentication and authorization the server calls
 * up_begin (fills *state, owned by the upload), then up_data for each
 * chunk as it arrives, then the route's handler with req->upload set.
 * up_free runs when the request ends in any way (answered, failed,
 * connection lost) and must remove whatever the upload left behind.
 * up_begin/up_data return -1 with err filled to refuse (the answer is
 * err; the rest of the body is not read).
 */
struct upload_ops {
	int (*up_begin)(struct req *req, void **state, struct vm_error *err);
	int (*up_data)(void *state, const char *data, size_t len,
	    struct vm_error *err);
	void (*up_free)(void *state);
};

int server_start(struct ctl *ctl, struct server **out, struct vm_error *err);
/* Resume every waiter and stop; accepts NULL. */
void server_stop(struct server *srv);

/* Query parameter or header of the request (borrowed) or NULL. */
const char *req_query(const struct req *req, const char *key);
const char *req_header(const struct req *req, const char *key);
/* Peer address as text, into buf[64]. */
void req_peer(struct req *req, char buf[64]);

/* Wake every long poll waiting on key (e.g. a host name). */
void server_wake(struct server *srv, const char *key);
void server_supersede(struct server *srv, const char *key);
uint64_t server_wake_gen(struct server *srv);

struct api_audit_event;
/* An audit event describing req with this status (not yet appended). */
void req_audit_fill(struct req *req, int status, const char *message,
    struct api_audit_event *ev);

/* Fill resp with an error body from err (status from its code). */
void resp_error(struct resp *resp, const struct vm_error *err);
void resp_json(struct resp *resp, int status, json_object *body);
/* Answer with the content of the file at path (taken, malloc'ed). */
void resp_file(struct resp *resp, int status, char *path);
/* Answer raw text (taken, malloc'ed) of content type ctype (static). */
void resp_text(struct resp *resp, int status, char *text, const char *ctype);

struct buf;
/*
 * Append the HTTP metrics (requests per route and status, latency
 * histograms) in Prometheus text format to out. Locks the server itself.
 */
void server_metrics(struct server *srv, struct buf *out);
/* A Prometheus label value escaped (backslash, quote, newline) onto out. */
void metrics_label(struct buf *out, const char *v);

#endif
