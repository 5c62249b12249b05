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
	ret = client_create(ctx, "/v1/flavors", &api_flavor_schema, &f);
cleanup:
	return ret;
}

static void
flavor_row(struct output_table *t, const void *obj)
{
	const struct api_flavor *f = obj;
	char ts[32];

	output_cell(t, "%s", f->name);
	output_cell(t, "%lld", (long long)f->vcpus);
	output_cell(t, "%lld", (long long)f->ram_mib);
	output_cell(t, "%lld", (long long)f->disk_gib);
	output_cell(t, "%s", output_time(f->created_at, ts));
}

int
cmd_flavor_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "VCPUS", "RAM_MIB", "DISK_GIB", "CREATED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/flavors", .schema = &api_flavor_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = flavor_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
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
