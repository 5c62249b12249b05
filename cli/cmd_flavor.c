/*
 * vmctl flavor create|list|show|delete: /v1/flavors.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "flavor.h"

int
cmd_flavor_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vcpus", required_argument, NULL, 'c' },
		{ "ram", required_argument, NULL, 'r' },
		{ "disk", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_flavor f = { 0 };
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	bool have_vcpus = false, have_ram = false;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'c':
			if (cli_parse_field(ctx, "--vcpus", optarg,
			    &api_flavor_schema, "vcpus", &f.vcpus) < 0)
				goto cleanup;
			have_vcpus = true;
			break;
		case 'r':
			if (cli_parse_field(ctx, "--ram", optarg,
			    &api_flavor_schema, "ram_mib", &f.ram_mib) < 0)
				goto cleanup;
			have_ram = true;
			break;
		case 'd':
			if (cli_parse_field(ctx, "--disk", optarg,
			    &api_flavor_schema, "disk_gib", &f.disk_gib) < 0)
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
	if (!have_vcpus || !have_ram) {
		cli_usage_error(ctx, "missing %s", !have_vcpus ? "--vcpus N" :
		    "--ram MIB");
		goto cleanup;
	}
	str_copy(f.name, sizeof(f.name), argv[optind]);
	if ((body = client_encode_input(&api_flavor_schema, &f, &err)) ==
	    NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}

	ret = CLI_ERR;
	if (client_call(ctx, "POST", "/v1/flavors", body, NULL, &ans,
	    &err) < 0 || client_decode(&api_flavor_schema, ans, &f, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_show(ctx, ans);
	ret = CLI_OK;
cleanup:
	json_object_put(body);
	json_object_put(ans);
	return ret;
}

int
cmd_flavor_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "VCPUS", "RAM_MIB", "DISK_GIB", "CREATED"
	};
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL;
	struct cli_getopt g;
	struct api_flavor f;
	size_t i;
	char ts[32];
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;

	if (client_list(ctx, "/v1/flavors", &items, &err) < 0)
		goto fail;
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(items); i++) {
		if (client_decode(&api_flavor_schema,
		    json_object_array_get_idx(items, i), &f, &err) < 0)
			goto fail;
		output_cell(t, "%s", f.name);
		output_cell(t, "%lld", (long long)f.vcpus);
		output_cell(t, "%lld", (long long)f.ram_mib);
		output_cell(t, "%lld", (long long)f.disk_gib);
		output_cell(t, "%s", output_time(f.created_at, ts));
	}
	output_list(ctx, items, t);
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(items);
	return ret;
}

int
cmd_flavor_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/flavors", "NAME",
	    &api_flavor_schema, cli_check_name);
}

int
cmd_flavor_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/flavors", "flavor", "");
}
