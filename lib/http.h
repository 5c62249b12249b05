/*
 * http: a small HTTP/JSON client on libcurl. One struct http_client per
 * thread (a curl easy handle is not thread-safe); it keeps the connection
 * alive between requests. Response bodies are owned by the caller.
 */
#ifndef VMCTL_LIB_HTTP_H
#define VMCTL_LIB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct http_client;

/* One-time libcurl init; call from main() before threads start. */
void http_global_init(void);
/* True when url is plain http:// to a host other than 127.0.0.0/8, ::1 or
 * localhost: tokens would cross a network in clear (callers warn). */
bool http_url_plain_remote(const char *url);
void http_global_cleanup(void);

/* base_url like "http://127.0.0.1:8080"; timeout_ms for whole requests. */
struct http_client *http_client_new(const char *base_url, long timeout_ms);
void http_client_free(struct http_client *c);
/* Extra header sent with every request (e.g. "Authorization: ..."). */
void http_client_add_header(struct http_client *c, const char *header);
/* Error code put in err on transport failures (default 1). */
void http_client_set_errcode(struct http_client *c, int code);
/*
 * TLS for https:// base URLs: ca_file (PEM bundle) replaces the system
 * CAs for verifying the server; cert_file/key_file (PEM) are a client
 * certificate and its key (key_file NULL: the key is in cert_file).
 * Each may be NULL or "" (not used). Peer and host name verification
 * are always on. The paths are copied.
 */
void http_client_set_tls(struct http_client *c, const char *ca_file,
    const char *cert_file, const char *key_file);

/*
 * Perform METHOD base_url+path with an optional JSON body. On transport
 * failure returns -1 and fills err (code set by http_client_set_errcode). Otherwise
 * returns 0, *status is the HTTP status and *resp (owned by caller,
 * NUL-terminated, may be empty) the body.
 */
/* What one request answered (http_request_ex). */
struct http_resp {
	long status;
	char *body;		/* owned by the caller; NUL-terminated */
	int64_t retry_after_s;	/* Retry-After in seconds, -1 if absent */
	bool tls_failed;	/* transport error in TLS (certificate, CA) */
};

/*
 * Like http_request, with one extra header for this request only (e.g.
 * "Idempotency-Key: K"; NULL for none) and the Retry-After header read.
 * Redirects are never followed (they would carry credentials elsewhere).
 */
int http_request_ex(struct http_client *c, const char *method,
    const char *path, const char *body, const char *extra_header,
    long timeout_ms, struct http_resp *r, struct vm_error *err);

/*
 * GET path into fd (at most max bytes; more is a transport error). A
 * non-2xx answer's body goes to r->body instead (owned by the caller);
 * on a 2xx r->body is "".
 */
int http_download(struct http_client *c, const char *path, int fd,
    int64_t max, long timeout_ms, struct http_resp *r, struct vm_error *err);

/* One part of a multipart/form-data body: a text value or a file. */
struct http_part {
	const char *name;
	const char *value;	/* text, when file is NULL */
	const char *file;	/* path of a file streamed from disk */
};
/*
 * POST parts to path as multipart/form-data; files are read as the body
 * is sent, never held in memory. No overall deadline when timeout_ms is
 * 0 (a link idle for 60 s fails). Answer like http_request_ex.
 */
int http_upload(struct http_client *c, const char *path,
    const struct http_part *parts, size_t nparts, long timeout_ms,
    struct http_resp *r, struct vm_error *err);

int http_request(struct http_client *c, const char *method, const char *path,
    const char *body, long timeout_ms, long *status, char **resp,
    struct vm_error *err);

#endif
