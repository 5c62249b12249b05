#include "config.h"

#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "svc.h"
#include "util.h"

/*
 * The route table. Every endpoint of the REST API is one line here and in
 * api/openapi.yaml; tests/integration/badinput.sh walks it.
 */
static const struct route route_table[] = {
	{ "GET", "/healthz", svc_healthz, 0 },
	{ "GET", "/v1/flavors", svc_flavor_list, 0 },
	{ "POST", "/v1/flavors", svc_flavor_create, 0 },
	{ "GET", "/v1/flavors/{}", svc_flavor_show, 0 },
	{ "DELETE", "/v1/flavors/{}", svc_flavor_delete, 0 },
	{ "GET", "/v1/hosts", svc_host_list, 0 },
	{ "GET", "/v1/hosts/{}", svc_host_show, 0 },
	{ "GET", "/v1/vms", svc_vm_list, 0 },
	{ "POST", "/v1/vms", svc_vm_create, 0 },
	{ "GET", "/v1/vms/{}", svc_vm_show, 0 },
	{ "DELETE", "/v1/vms/{}", svc_vm_delete, 0 },
	{ "POST", "/v1/vms/{}/actions", svc_vm_action, 0 },
	{ "GET", "/v1/operations", svc_op_list, 0 },
	{ "GET", "/v1/operations/{}", svc_op_show, 0 },
	{ "POST", "/v1/agent/register", svc_agent_register, ROUTE_AGENT },
	{ "POST", "/v1/agent/heartbeat", svc_agent_heartbeat,
	    ROUTE_AGENT | ROUTE_BIGBODY },
	{ "GET", "/v1/agent/tasks", svc_agent_tasks, ROUTE_AGENT },
	{ "POST", "/v1/agent/results", svc_agent_results,
	    ROUTE_AGENT | ROUTE_BIGBODY },
};

/* Compare path against pattern; capture "{}" segments. */
static bool
route_path_match(const char *pattern, const char *path,
    char params[][REQ_PARAM_MAX])
{
	int np = 0;

	while (*pattern && *path) {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = strcspn(path, "/");

			if (n == 0 || n >= REQ_PARAM_MAX || np >= REQ_MAX_PARAMS)
				return false;
			memcpy(params[np], path, n);
			params[np][n] = '\0';
			np++;
			path += n;
			pattern += 2;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	/* Tolerate one trailing slash. */
	if (*pattern == '\0' && path[0] == '/' && path[1] == '\0')
		return true;
	return *pattern == '\0' && *path == '\0';
}

enum route_match
routes_match(const char *method, const char *path, const struct route **out,
    char params[][REQ_PARAM_MAX])
{
	enum route_match m = ROUTE_NO_PATH;
	size_t i;

	*out = NULL;
	for (i = 0; i < ARRAY_SIZE(route_table); i++) {
		if (!route_path_match(route_table[i].pattern, path, params))
			continue;
		if (strcmp(route_table[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		    strcmp(route_table[i].method, "GET") == 0)) {
			*out = &route_table[i];
			return ROUTE_FOUND;
		}
		m = ROUTE_NO_METHOD;
	}
	return m;
}

void
routes_allowed(const char *path, char *buf, size_t len)
{
	char params[REQ_MAX_PARAMS][REQ_PARAM_MAX];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(route_table); i++) {
		int n;

		if (!route_path_match(route_table[i].pattern, path, params))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    route_table[i].method);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}
