/*
 * vmctl host list|show|enroll|token|delete|maintenance: /v1/hosts. A
 * host is enrolled first (which makes its agent's token, shown once),
 * then appears with capacity when its agent registers with that token.
 * A host in maintenance keeps its VMs but the scheduler places no new
 * ones there.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "host.h"
#include "operation.h"

static void
host_row(struct output_table *t, const void *obj)
{
	const struct api_host *h = obj;
	char ts[32];

	output_cell(t, "%s", h->name);
	output_cell(t, "%s", h->site);
	output_cell(t, "%s", output_str(h->az));
	output_cell(t, "%s", api_host_state_names[h->state]);
	output_cell(t, "%s", h->maintenance ? "M" : "-");
	output_cell(t, "%lld", (long long)h->vcpus);
	output_cell(t, "%lld", (long long)h->alloc_vcpus);
	output_cell(t, "%lld", (long long)h->ram_mib);
	output_cell(t, "%lld", (long long)h->alloc_ram_mib);
	output_cell(t, "%lld", (long long)h->vms);
	output_cell(t, "%s", output_time(h->last_heartbeat, ts));
	output_cell(t, "%s", output_str(h->labels));
}

int
cmd_host_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "SITE", "AZ", "STATE", "M", "VCPUS", "ALLOC_VCPUS",
		"RAM_MIB", "ALLOC_RAM_MIB", "VMS", "LAST_HEARTBEAT", "LABELS"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/hosts", .schema = &api_host_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = host_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_host_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/hosts", "NAME",
	    &api_host_schema, cli_check_name);
}

/*
 * Print the answer {"host", "token", "token_id"} of an enroll or a
 * re-issue: the token once, and how to give it to the agent.
 */
static int
host_token_print(struct cli_ctx *ctx, json_object *ans, const char *verb)
{
	struct vm_error err = { 0 };
	struct api_host h;
	json_object *jh, *jt;
	const char *token;

	if (ans == NULL || !json_object_object_get_ex(ans, "host", &jh) ||
	    !json_object_object_get_ex(ans, "token", &jt) ||
	    !json_object_is_type(jt, json_type_string) ||
	    !cli_token_valid(token = json_object_get_string(jt))) {
		vm_error_set(&err, 0, "unexpected answer from vmctld: no "
		    "host token");
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	if (client_decode(&api_host_schema, jh, &h, &err) < 0) {
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	/* The one place a host token is printed: it is the point. */
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else if (ctx->quiet)
		printf("%s\n", token);
	else
		printf("host %s (site %s%s%s) %s\ntoken: %s\n", h.name,
		    h.site, h.az[0] ? ", az " : "", h.az, verb, token);
	output_msg(ctx, "\nThis token cannot be shown again. Save it in a "
	    "file only vmagentd can read\n(mode 0600) on host %s, and name "
	    "that file in vmagentd.conf:\n\n"
	    "    [agent]\n"
	    "    host = %s\n"
	    "    token_file = /etc/vmctl/agent.token", h.name, h.name);
	return CLI_OK;
}

int
cmd_host_enroll(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "az", required_argument, NULL, 'z' },
		{ "labels", required_argument, NULL, 'l' },
		{ "address", required_argument, NULL, 'a' },
		{ "max-vcpus", required_argument, NULL, 'C' },
		{ "max-ram", required_argument, NULL, 'R' },
		{ "max-disk", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_host_enroll in;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	int ch, ret = CLI_USAGE;

	memset(&in, 0, sizeof(in));
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 's':
			if (cli_opt_name(ctx, "--site", optarg, in.site,
			    sizeof(in.site)) < 0)
				goto cleanup;
			break;
		case 'z':
			if (cli_opt_name(ctx, "--az", optarg, in.az,
			    sizeof(in.az)) < 0)
				goto cleanup;
			break;
		case 'l':
			if (cli_check_labels(ctx, "--labels", optarg) < 0)
				goto cleanup;
			str_copy(in.labels, sizeof(in.labels), optarg);
			break;
		case 'a':
			str_copy(in.address, sizeof(in.address), optarg);
			break;
		case 'C':
			if (cli_parse_field(ctx, "--max-vcpus", optarg,
			    &api_host_enroll_schema, "max_vcpus",
			    &in.max_vcpus) < 0)
				goto cleanup;
			break;
		case 'R':
			if (cli_parse_field(ctx, "--max-ram", optarg,
			    &api_host_enroll_schema, "max_ram_mib",
			    &in.max_ram_mib) < 0)
				goto cleanup;
			break;
		case 'D':
			if (cli_parse_field(ctx, "--max-disk", optarg,
			    &api_host_enroll_schema, "max_disk_gib",
			    &in.max_disk_gib) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		goto cleanup;
	if (in.site[0] == '\0') {
		cli_usage_error(ctx, "missing --site SITE");
		goto cleanup;
	}
	str_copy(in.name, sizeof(in.name), argv[optind]);
	if ((body = client_encode_input(&api_host_enroll_schema, &in,
	    &err)) == NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}

	ret = CLI_ERR;
	if (client_call(ctx, "POST", "/v1/hosts", body, NULL, &ans,
	    &err) < 0) {
		client_error_print(ctx, &err);
		if (err.code == API_ECONFLICT)
			fprintf(stderr, "vmctl: to give it a new token: vmctl "
			    "host token %s\n", in.name);
		goto cleanup;
	}
	ret = host_token_print(ctx, ans, "enrolled");
cleanup:
	json_object_put(body);
	json_object_put(ans);
	return ret;
}

int
cmd_host_token(struct cli_ctx *ctx, int argc, char **argv)
{
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	char *path = NULL;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		return CLI_USAGE;
	path = xasprintf("/v1/hosts/%s/token", argv[optind]);
	if (client_call(ctx, "POST", path, NULL, NULL, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = host_token_print(ctx, ans, "has a new token; the old ones are "
	    "revoked");
cleanup:
	json_object_put(ans);
	free(path);
	return ret;
}

int
cmd_host_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/hosts", "host",
	    "; its tokens are revoked");
}

/* "on" -> 1, "off" -> 0, anything else -1. */
static int
host_onoff(const char *s)
{
	if (strcmp(s, "on") == 0)
		return 1;
	if (strcmp(s, "off") == 0)
		return 0;
	return -1;
}

/*
 * host maintenance NAME on|off (also "on|off NAME", as people say it):
 * POST /v1/hosts/NAME/maintenance. The VMs there keep running.
 */
int
cmd_host_maintenance(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'F' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_host_maintenance m = { false, false };
	struct api_operation op;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL, *jop = NULL;
	struct cli_getopt g;
	struct api_host h;
	const char *name;
	char *path = NULL;
	bool wait = false;
	int ch, on, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'F':
			m.force = true;
			break;
		case 'w':
			wait = true;
			break;
		default:
			return cli_getopt_status(ch);
		}
	}
	if (argc - optind == 1 && host_onoff(argv[optind]) < 0)
		return cli_usage_error(ctx, "missing on|off");
	if (cli_want_args(ctx, argc, argv, 2, "NAME and on|off") < 0)
		return CLI_USAGE;
	name = argv[optind];
	if ((on = host_onoff(argv[optind + 1])) < 0) {
		name = argv[optind + 1];
		if ((on = host_onoff(argv[optind])) < 0)
			return cli_usage_error(ctx, "'%s' is not on or off",
			    argv[optind + 1]);
	}
	if (cli_check_name(ctx, "NAME", name) < 0)
		return CLI_USAGE;
	m.maintenance = on == 1;
	if (m.force && !m.maintenance)
		return cli_usage_error(ctx, "--force: applies only to on");
	if ((body = client_encode_input(&api_host_maintenance_schema, &m,
	    &err)) == NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}

	ret = CLI_ERR;
	path = xasprintf("/v1/hosts/%s/maintenance", name);
	if (client_call(ctx, "POST", path, body, NULL, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	/* On: the answer also holds the drain operation (jop, ours). */
	if (json_object_object_get_ex(ans, "operation", &jop)) {
		json_object_get(jop);
		json_object_object_del(ans, "operation");
	}
	if ((jop != NULL && client_decode(&api_operation_schema, jop, &op,
	    &err) < 0) || client_decode(&api_host_schema, ans, &h, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (jop != NULL)
		json_object_object_add(ans, "operation", json_object_get(jop));
	if (jop != NULL && wait) {
		if (cmd_op_wait(ctx, op.id, &op, &err) < 0) {
			client_error_print(ctx, &err);
			goto cleanup;
		}
		if (op.state == OP_FAILED) {
			fprintf(stderr, "vmctl: drain of host %s: %lld of %lld "
			    "VMs moved, %lld failed: %s\n", name,
			    (long long)op.progress_done,
			    (long long)op.progress_total,
			    (long long)op.progress_failed, output_str(op.error));
			ret = CLI_ERR;
			goto cleanup;
		}
	}
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else if (h.maintenance && jop != NULL && wait)
		output_msg(ctx, "host %s is in maintenance and drained: %lld "
		    "of %lld VM%s moved", h.name, (long long)op.progress_done,
		    (long long)op.progress_total,
		    op.progress_total == 1 ? "" : "s");
	else if (h.maintenance && jop != NULL)
		output_msg(ctx, "host %s is in maintenance: no new VMs are "
		    "placed there; draining %lld VM%s (operation %s; follow "
		    "with 'vmctl op show %s --wait')", h.name,
		    (long long)op.progress_total,
		    op.progress_total == 1 ? "" : "s", op.id, op.id);
	else if (h.maintenance)
		output_msg(ctx, "host %s is in maintenance: no new VMs are "
		    "placed there; its %lld VM%s keep%s running", h.name,
		    (long long)h.vms, h.vms == 1 ? "" : "s",
		    h.vms == 1 ? "s" : "");
	else
		output_msg(ctx, "host %s is out of maintenance: new VMs may "
		    "be placed there again", h.name);
	ret = CLI_OK;
cleanup:
	json_object_put(body);
	json_object_put(ans);
	json_object_put(jop);
	free(path);
	return ret;
}
