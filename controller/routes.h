/*
 * routes: the one table mapping (method, path pattern) to a handler.
 * Patterns use "{}" for a captured segment. Immutable.
 */
#ifndef VMCTL_CONTROLLER_ROUTES_H
#define VMCTL_CONTROLLER_ROUTES_H

#include "server.h"

#define ROUTE_AGENT	0x1	/* agent-facing */
#define ROUTE_BIGBODY	0x2	/* may carry up to ROUTE_BIGBODY_MAX bytes */
#define ROUTE_BIGBODY_MAX (16u << 20)

struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
	unsigned flags;
};

enum route_match { ROUTE_FOUND, ROUTE_NO_PATH, ROUTE_NO_METHOD };

/* Match method+path; fills params. */
enum route_match routes_match(const char *method, const char *path,
    const struct route **out, char params[][REQ_PARAM_MAX]);

/* "GET, POST" etc.: the methods served on path, into buf[len]. */
void routes_allowed(const char *path, char *buf, size_t len);

#endif
