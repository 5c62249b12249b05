/*
 * routes: the one table mapping (method, path pattern) to a handler.
 * Patterns use "{}" for a captured segment. Immutable.
 */
#ifndef VMCTL_CONTROLLER_ROUTES_H
#define VMCTL_CONTROLLER_ROUTES_H

#include <stdio.h>

#include "server.h"

#define ROUTE_AGENT	0x1	/* agent-facing */
#define ROUTE_BIGBODY	0x2	/* may carry up to ROUTE_BIGBODY_MAX bytes */
#define ROUTE_BIGBODY_MAX (16u << 20)

#define ROUTE_SMALLBODY_MAX (1u << 10)	/* GET, HEAD, DELETE */

#define ROUTE_NOAUDIT	0x4	/* machine traffic: not in the audit trail */
#define ROUTE_UPLOAD	0x8	/* body streamed to route->upload, any size */
#define ROUTE_PAGED	0x10	/* a list paged with ?after= (cursor checked) */

struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
	unsigned flags;
	enum auth_res res;		/* what it touches (auth.c rules) */
	enum auth_access access;	/* read or write */
};

/* The table itself, for the route x role matrix test. */
extern const struct route routes_table[];
extern const size_t routes_count;

/* The upload callbacks of a ROUTE_UPLOAD route (NULL for others). */
const struct upload_ops *routes_upload(const struct route *r);

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/*
 * The largest body route r takes: ROUTE_BIGBODY_MAX for ROUTE_BIGBODY,
 * ROUTE_SMALLBODY_MAX for GET and DELETE, else dflt (server.max_body_kib).
 */
size_t routes_body_max(const struct route *r, size_t dflt);

/* Match method+path; fills params. */
enum route_match routes_match(const char *method, const char *path,
    const struct route **out, char params[][REQ_PARAM_MAX]);

/* Print the table as TSV with each role's scope (vmctld --dump-routes). */
void routes_dump(FILE *fp);

/* "GET, POST" etc.: the methods served on path, into buf[len]. */
void routes_allowed(const char *path, char *buf, size_t len);

#endif
