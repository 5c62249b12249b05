/*
 * rest: a benchmark's calls to vmctld and its identity setup: one REST
 * call with a status check, the admin token from vmctld --bootstrap-admin,
 * host enrollment (the token into a 0600 file) and an unlimited agency.
 * Tokens returned are owned by the caller (zero them before free). Each
 * http_client is for one thread; the rest is main thread only (fork).
 */
#ifndef VMCTL_BENCH_REST_H
#define VMCTL_BENCH_REST_H

#include <json-c/json.h>

#include "error.h"
#include "http.h"

/*
 * METHOD path with an optional JSON body; -1 + err ("METHOD path: HTTP
 * N: message") unless the status is want. The JSON answer goes to *out
 * (owned by the caller) when out != NULL.
 */
int rest_call(struct http_client *c, const char *method, const char *path,
    const char *body, long want, json_object **out, struct vm_error *err);

/*
 * Run `vmctld --bootstrap-admin -c /dev/null -o store.path=STORE` (stderr
 * appended to logpath) and return the admin token it prints, or NULL.
 */
char *rest_bootstrap_admin(const char *vmctld, const char *store,
    const char *logpath, struct vm_error *err);

/* POST /v1/hosts {name, site}; the host token into token_path (0600). */
int rest_enroll_host(struct http_client *c, const char *name,
    const char *site, const char *token_path, struct vm_error *err);

/* POST /v1/agencies: agency name, no limit on instances, CPU, RAM, disk. */
int rest_agency_unlimited(struct http_client *c, const char *name,
    struct vm_error *err);

#endif
