/*
 * http: a small HTTP/JSON client on libcurl. One struct http_client per
 * thread (a curl easy handle is not thread-safe); it keeps the connection
 * alive between requests. Response bodies are owned by the caller.
 */
#ifndef VMCTL_LIB_HTTP_H
#define VMCTL_LIB_HTTP_H

#include <stddef.h>

#include "error.h"

struct http_client;

/* One-time libcurl init; call from main() before threads start. */
void http_global_init(void);
void http_global_cleanup(void);

/* base_url like "http://127.0.0.1:8080"; timeout_ms for whole requests. */
struct http_client *http_client_new(const char *base_url, long timeout_ms);
void http_client_free(struct http_client *c);
/* Extra header sent with every request (e.g. "Authorization: ..."). */
void http_client_add_header(struct http_client *c, const char *header);
/* Error code put in err on transport failures (default 1). */
void http_client_set_errcode(struct http_client *c, int code);

/*
 * Perform METHOD base_url+path with an optional JSON body. On transport
 * failure returns -1 and fills err (code set by http_client_set_errcode). Otherwise
 * returns 0, *status is the HTTP status and *resp (owned by caller,
 * NUL-terminated, may be empty) the body.
 */
int http_request(struct http_client *c, const char *method, const char *path,
    const char *body, long timeout_ms, long *status, char **resp,
    struct vm_error *err);

#endif
