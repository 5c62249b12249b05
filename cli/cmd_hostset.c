/*
 * vmctl host set NAME [--labels L] [--az Z] [--address A] [--max-vcpus N]
 * [--max-ram MIB] [--max-disk GIB]: PATCH /v1/hosts/{name}, a host's
 * aggregates, migration address and approved capacity after enrollment.
 * An empty value clears labels, az or address.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "host.h"

int
cmd_host_set(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "labels", required_argument, NULL, 'l' },
		{ "az", required_argument, NULL, 'z' },
		{ "address", required_argument, NULL, 'a' },
		{ "max-vcpus", required_argument, NULL, 'C' },
		{ "max-ram", required_argument, NULL, 'R' },
		{ "max-disk", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_host_patch p;
	struct api_host h;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	bool set_labels = false, set_az = false, set_addr = false;
	bool set_cpu = false, set_ram = false, set_disk = false;
	char *path = NULL;
	int ch, ret = CLI_USAGE;

	memset(&p, 0, sizeof(p));
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'l':
			if (optarg[0] != '\0' &&
			    cli_check_labels(ctx, "--labels", optarg) < 0)
				goto cleanup;
			str_copy(p.labels, sizeof(p.labels), optarg);
			set_labels = true;
			break;
		case 'z':
			if (optarg[0] != '\0' && cli_opt_name(ctx, "--az",
			    optarg, p.az, sizeof(p.az)) < 0)
				goto cleanup;
			set_az = true;
			break;
		case 'a':
			str_copy(p.address, sizeof(p.address), optarg);
			set_addr = true;
			break;
		case 'C':
			if (cli_parse_field(ctx, "--max-vcpus", optarg,
			    &api_host_patch_schema, "max_vcpus",
			    &p.max_vcpus) < 0)
				goto cleanup;
			set_cpu = true;
			break;
		case 'R':
			if (cli_parse_field(ctx, "--max-ram", optarg,
			    &api_host_patch_schema, "max_ram_mib",
			    &p.max_ram_mib) < 0)
				goto cleanup;
			set_ram = true;
			break;
		case 'D':
			if (cli_parse_field(ctx, "--max-disk", optarg,
			    &api_host_patch_schema, "max_disk_gib",
			    &p.max_disk_gib) < 0)
				goto cleanup;
			set_disk = true;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		goto cleanup;
	if (!set_labels && !set_az && !set_addr && !set_cpu && !set_ram &&
	    !set_disk) {
		cli_usage_error(ctx, "nothing to set: give --labels and/or "
		    "--az, --address, --max-vcpus, --max-ram, --max-disk (an "
		    "empty value clears labels, az or address)");
		goto cleanup;
	}
	if ((body = client_encode_input(&api_host_patch_schema, &p, &err)) ==
	    NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}
	/* Absent = keep; null = clear. */
	if (!set_labels)
		json_object_object_del(body, "labels");
	else if (p.labels[0] == '\0')
		json_object_object_add(body, "labels", NULL);
	if (!set_az)
		json_object_object_del(body, "az");
	else if (p.az[0] == '\0')
		json_object_object_add(body, "az", NULL);
	if (!set_addr)
		json_object_object_del(body, "address");
	else if (p.address[0] == '\0')
		json_object_object_add(body, "address", NULL);
	if (!set_cpu)
		json_object_object_del(body, "max_vcpus");
	if (!set_ram)
		json_object_object_del(body, "max_ram_mib");
	if (!set_disk)
		json_object_object_del(body, "max_disk_gib");

	ret = CLI_ERR;
	path = xasprintf("/v1/hosts/%s", argv[optind]);
	if (client_call(ctx, "PATCH", path, body, NULL, &ans, &err) < 0 ||
	    client_decode(&api_host_schema, ans, &h, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_show(ctx, ans);
	ret = CLI_OK;
cleanup:
	json_object_put(body);
	json_object_put(ans);
	free(path);
	return ret;
}
