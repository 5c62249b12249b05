/*
 * vmctl group create|list|show|delete: /v1/server-groups. A VM joins a
 * group at creation (vmctl vm create --group G).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "server_group.h"

int
cmd_group_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "agency", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_server_group grp = { 0 };
	struct cli_getopt g;
	bool have_policy = false;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'p':
			if (cli_parse_enum(ctx, "--policy", optarg,
			    api_group_policy_names, "affinity, anti-affinity, "
			    "soft-anti-affinity", &grp.policy) < 0)
				goto cleanup;
			have_policy = true;
			break;
		case 'a':
			if (cli_opt_name(ctx, "--agency", optarg, grp.agency,
			    sizeof(grp.agency)) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_opt_name(ctx, "NAME", argv[optind], grp.name,
	    sizeof(grp.name)) < 0)
		goto cleanup;
	if (!have_policy) {
		cli_usage_error(ctx, "missing --policy affinity|anti-affinity|"
		    "soft-anti-affinity");
		goto cleanup;
	}
	ret = client_create(ctx, "/v1/server-groups", &api_server_group_schema, &grp);
cleanup:
	return ret;
}

static void
group_row(struct output_table *t, const void *obj)
{
	const struct api_server_group *grp = obj;
	char ts[32];

	output_cell(t, "%s", grp->name);
	output_cell(t, "%s", api_group_policy_names[grp->policy]);
	output_cell(t, "%s", output_str(grp->agency));
	output_cell(t, "%lld", (long long)grp->members);
	output_cell(t, "%s", output_time(grp->created_at, ts));
}

int
cmd_group_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--agency", cli_check_name },
	};
	static const char *const headers[] = {
		"NAME", "POLICY", "AGENCY", "MEMBERS", "CREATED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/server-groups",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.schema = &api_server_group_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = group_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

/* The group as "key: value" lines, then a table of its members. */
int
cmd_group_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "VM", "ID", "HOST", "STATE" };
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	struct api_server_group grp;
	json_object *ans = NULL, *vms = NULL, *bare = NULL;
	struct cli_getopt g;
	char *path = NULL;
	size_t i;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		return CLI_USAGE;
	path = xasprintf("/v1/server-groups/%s", argv[optind]);
	if (client_call(ctx, "GET", path, NULL, NULL, &ans, &err) < 0)
		goto fail;
	if (ans == NULL || !json_object_object_get_ex(ans, "vms", &vms) ||
	    !json_object_is_type(vms, json_type_array)) {
		vm_error_set(&err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: no member list");
		goto fail;
	}
	json_object_deep_copy(ans, &bare, NULL);
	json_object_object_del(bare, "vms");
	if (client_decode(&api_server_group_schema, bare, &grp, &err) < 0)
		goto fail;
	if (ctx->output == OUT_JSON) {
		output_json(ans);
		ret = CLI_OK;
		goto cleanup;
	}
	output_kv(bare);
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(vms); i++) {
		json_object *m = json_object_array_get_idx(vms, i), *v;
		static const char *const keys[] = { "name", "id", "host",
		    "state" };
		size_t k;

		for (k = 0; k < ARRAY_SIZE(keys); k++)
			output_cell(t, "%s", m != NULL &&
			    json_object_object_get_ex(m, keys[k], &v) &&
			    v != NULL ? json_object_get_string(v) : "-");
	}
	if (json_object_array_length(vms) > 0) {
		printf("\n");
		output_table_print(ctx, t);
	}
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(bare);
	json_object_put(ans);
	free(path);
	return ret;
}

int
cmd_group_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/server-groups",
	    "group", "");
}
