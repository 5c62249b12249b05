#include "config.h"

#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "audit.h"
#include "svc.h"
#include "util.h"

/*
 * The route table. Every endpoint of the REST API is one line here and in
 * api/openapi.yaml; tests/integration/badinput.sh walks it.
 */
#define R ACC_READ
#define W ACC_WRITE
const struct route routes_table[] = {
	{ "GET", "/healthz", svc_healthz, 0, RES_PUBLIC, R },
	{ "GET", "/metrics", svc_metrics, 0, RES_HOST, R },
	{ "GET", "/v1/whoami", svc_whoami, 0, RES_SELF, R },
	{ "GET", "/v1/tokens", svc_token_list, 0, RES_SELF, R },
	{ "POST", "/v1/tokens", svc_token_create, 0, RES_SELF, W },
	{ "DELETE", "/v1/tokens/{}", svc_token_revoke, 0, RES_SELF, W },
	{ "GET", "/v1/users", svc_user_list, ROUTE_PAGED, RES_USER, R },
	{ "POST", "/v1/users", svc_user_create, 0, RES_USER, W },
	{ "GET", "/v1/users/{}", svc_user_show, 0, RES_USER, R },
	{ "DELETE", "/v1/users/{}", svc_user_delete, 0, RES_USER, W },
	{ "GET", "/v1/agencies", svc_agency_list, ROUTE_PAGED, RES_AGENCY, R },
	{ "POST", "/v1/agencies", svc_agency_create, 0, RES_AGENCY, W },
	{ "GET", "/v1/agencies/{}", svc_agency_show, 0, RES_AGENCY, R },
	{ "DELETE", "/v1/agencies/{}", svc_agency_delete, 0, RES_AGENCY, W },
	{ "GET", "/v1/agencies/{}/quota", svc_quota_show, 0, RES_AGENCY, R },
	{ "PUT", "/v1/agencies/{}/quota", svc_quota_set, 0, RES_QUOTA_WRITE,
	    W },
	{ "GET", "/v1/agencies/{}/usage", svc_usage_show, 0, RES_AGENCY, R },
	{ "GET", "/v1/flavors", svc_flavor_list, ROUTE_PAGED, RES_FLAVOR, R },
	{ "POST", "/v1/flavors", svc_flavor_create, 0, RES_FLAVOR, W },
	{ "GET", "/v1/flavors/{}", svc_flavor_show, 0, RES_FLAVOR, R },
	{ "DELETE", "/v1/flavors/{}", svc_flavor_delete, 0, RES_FLAVOR, W },
	{ "GET", "/v1/hosts", svc_host_list, ROUTE_PAGED, RES_HOST, R },
	{ "POST", "/v1/hosts", svc_host_enroll, 0, RES_HOST, W },
	{ "GET", "/v1/hosts/{}", svc_host_show, 0, RES_HOST, R },
	{ "DELETE", "/v1/hosts/{}", svc_host_delete, 0, RES_HOST, W },
	{ "POST", "/v1/hosts/{}/token", svc_host_token, 0, RES_HOST, W },
	{ "POST", "/v1/hosts/{}/maintenance", svc_host_maintenance, 0,
	    RES_HOST, W },
	{ "GET", "/v1/sites", svc_site_list, 0, RES_HOST, R },
	{ "GET", "/v1/placement", svc_placement_dryrun, 0, RES_HOST, R },
	{ "GET", "/v1/vms", svc_vm_list, ROUTE_PAGED, RES_VM, R },
	{ "POST", "/v1/vms", svc_vm_create, 0, RES_VM, W },
	{ "GET", "/v1/vms/{}", svc_vm_show, 0, RES_VM, R },
	{ "DELETE", "/v1/vms/{}", svc_vm_delete, 0, RES_VM, W },
	{ "POST", "/v1/vms/{}/actions", svc_vm_action, 0, RES_VM, W },
	{ "GET", "/v1/operations", svc_op_list, ROUTE_PAGED, RES_VM, R },
	{ "GET", "/v1/operations/{}", svc_op_show, 0, RES_VM, R },
	{ "GET", "/v1/audit", svc_audit_list, ROUTE_PAGED, RES_AUDIT, R },
	{ "GET", "/v1/audit/verify", svc_audit_verify, 0, RES_AUDIT, R },
	{ "PATCH", "/v1/hosts/{}", svc_host_patch, 0, RES_HOST, W },
	{ "GET", "/v1/server-groups", svc_group_list, ROUTE_PAGED, RES_GROUP, R },
	{ "POST", "/v1/server-groups", svc_group_create, 0, RES_GROUP, W },
	{ "GET", "/v1/server-groups/{}", svc_group_show, 0, RES_GROUP, R },
	{ "DELETE", "/v1/server-groups/{}", svc_group_delete, 0, RES_GROUP,
	    W },
	{ "GET", "/v1/events", svc_event_list, ROUTE_PAGED, RES_VM, R },
	{ "POST", "/v1/vms/{}/tags", svc_vm_tags, 0, RES_VM, W },
	{ "GET", "/v1/vms/{}/history", svc_vm_history, 0, RES_VM, R },
	{ "GET", "/v1/vms/{}/console", svc_vm_console, 0, RES_VM, R },
	{ "POST", "/v1/vms/{}/console", svc_vm_console_refresh,
	    ROUTE_NOAUDIT, RES_VM, R },
	{ "POST", "/v1/agent/register", svc_agent_register, ROUTE_AGENT,
	    RES_AGENT, W },
	{ "POST", "/v1/agent/heartbeat", svc_agent_heartbeat,
	    ROUTE_AGENT | ROUTE_BIGBODY | ROUTE_NOAUDIT, RES_AGENT, W },
	{ "GET", "/v1/agent/tasks", svc_agent_tasks,
	    ROUTE_AGENT | ROUTE_NOAUDIT, RES_AGENT, W },
	{ "POST", "/v1/agent/results", svc_agent_results,
	    ROUTE_AGENT | ROUTE_BIGBODY | ROUTE_NOAUDIT, RES_AGENT, W },
	{ "GET", "/v1/images", svc_image_list, ROUTE_PAGED, RES_IMAGE, R },
	{ "POST", "/v1/images", svc_image_create, ROUTE_UPLOAD, RES_IMAGE, W },
	{ "GET", "/v1/images/{}", svc_image_show, 0, RES_IMAGE, R },
	{ "DELETE", "/v1/images/{}", svc_image_delete, 0, RES_IMAGE, W },
	{ "GET", "/v1/agent/blobs/{}", svc_agent_blob,
	    ROUTE_AGENT | ROUTE_NOAUDIT, RES_AGENT, R },
	{ "GET", "/v1/networks", svc_net_list, ROUTE_PAGED, RES_NETWORK, R },
	{ "POST", "/v1/networks", svc_net_create, 0, RES_NETWORK, W },
	{ "GET", "/v1/networks/{}", svc_net_show, 0, RES_NETWORK, R },
	{ "DELETE", "/v1/networks/{}", svc_net_delete, 0, RES_NETWORK, W },
	{ "GET", "/v1/volumes", svc_volume_list, ROUTE_PAGED, RES_VOLUME, R },
	{ "POST", "/v1/volumes", svc_volume_create, 0, RES_VOLUME, W },
	{ "GET", "/v1/volumes/{}", svc_volume_show, 0, RES_VOLUME, R },
	{ "DELETE", "/v1/volumes/{}", svc_volume_delete, 0, RES_VOLUME, W },
	{ "POST", "/v1/volumes/{}/attach", svc_volume_attach, 0, RES_VOLUME,
	    W },
	{ "POST", "/v1/volumes/{}/detach", svc_volume_detach, 0, RES_VOLUME,
	    W },
	{ "POST", "/v1/agent/console", svc_agent_console,
	    ROUTE_AGENT | ROUTE_NOAUDIT, RES_AGENT, W },
};
#undef R
#undef W
const size_t routes_count = ARRAY_SIZE(routes_table);

/* The streamed-body routes (ROUTE_UPLOAD), by handler. */
static const struct {
	route_fn fn;
	const struct upload_ops *ops;
} routes_uploads[] = {
	{ svc_image_create, &svc_image_upload_ops },
};

const struct upload_ops *
routes_upload(const struct route *r)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(routes_uploads); i++)
		if (routes_uploads[i].fn == r->fn)
			return routes_uploads[i].ops;
	return NULL;
}

size_t
routes_body_max(const struct route *r, size_t dflt)
{
	if (r->flags & ROUTE_BIGBODY)
		return ROUTE_BIGBODY_MAX;
	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "DELETE") == 0)
		return ROUTE_SMALLBODY_MAX;
	return dflt;
}

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
	for (i = 0; i < ARRAY_SIZE(routes_table); i++) {
		if (!route_path_match(routes_table[i].pattern, path, params))
			continue;
		if (strcmp(routes_table[i].method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		    strcmp(routes_table[i].method, "GET") == 0)) {
			*out = &routes_table[i];
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
	for (i = 0; i < ARRAY_SIZE(routes_table); i++) {
		int n;

		if (!route_path_match(routes_table[i].pattern, path, params))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    routes_table[i].method);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

void
routes_dump(FILE *fp)
{
	static const char *const scope_names[] = {
		"none", "own", "all", "global"
	};
	size_t i;
	int role;

	fprintf(fp, "# method\tpattern\tresource\taccess");
	for (role = 0; role < ROLE_MAX; role++)
		fprintf(fp, "\t%s", api_role_names[role]);
	fprintf(fp, "\n");
	for (i = 0; i < routes_count; i++) {
		const struct route *r = &routes_table[i];

		fprintf(fp, "%s\t%s\t%s\t%s", r->method, r->pattern,
		    auth_res_names[r->res], r->access == ACC_WRITE ? "write" :
		    "read");
		for (role = 0; role < ROLE_MAX; role++) {
			enum auth_scope s = auth_rule(role, r->res, r->access);

			if (r->res == RES_PUBLIC)
				s = SCOPE_ALL;
			else if (r->res == RES_AGENT)
				s = SCOPE_NONE;
			fprintf(fp, "\t%s", scope_names[s]);
		}
		fprintf(fp, "\n");
	}
}
