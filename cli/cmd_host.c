/*
 * vmctl host list|show: /v1/hosts (hosts appear when their agent
 * registers; read-only from the CLI).
 */
#include "config.h"

#include <stdlib.h>

#include "cli.h"
#include "host.h"

int
cmd_host_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "SITE", "STATE", "VCPUS", "ALLOC_VCPUS", "RAM_MIB",
		"ALLOC_RAM_MIB", "VMS", "LAST_HEARTBEAT"
	};
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL;
	struct cli_getopt g;
	struct api_host h;
	size_t i;
	char ts[32];
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;

	if (client_list(ctx, "/v1/hosts", &items, &err) < 0)
		goto fail;
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(items); i++) {
		if (client_decode(&api_host_schema,
		    json_object_array_get_idx(items, i), &h, &err) < 0)
			goto fail;
		output_cell(t, "%s", h.name);
		output_cell(t, "%s", h.site);
		output_cell(t, "%s", api_host_state_names[h.state]);
		output_cell(t, "%lld", (long long)h.vcpus);
		output_cell(t, "%lld", (long long)h.alloc_vcpus);
		output_cell(t, "%lld", (long long)h.ram_mib);
		output_cell(t, "%lld", (long long)h.alloc_ram_mib);
		output_cell(t, "%lld", (long long)h.vms);
		output_cell(t, "%s", output_time(h.last_heartbeat, ts));
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
cmd_host_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/hosts", "NAME",
	    &api_host_schema, cli_check_name);
}
