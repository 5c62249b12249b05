/*
 * vmctl event list [--vm VM] [--host H] [--type T] [--limit N]:
 * GET /v1/events, what the controller noticed in agent heartbeats
 * (unknown domains, vanished domains, state drift), oldest first.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "event.h"

int
cmd_event_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "host", required_argument, NULL, 'H' },
		{ "type", required_argument, NULL, 't' },
		{ "limit", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const headers[] = {
		"TIME", "TYPE", "HOST", "VM", "MESSAGE"
	};
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL;
	struct cli_getopt g;
	struct api_event ev;
	struct buf path = { 0 };
	const char *vm = NULL, *host = NULL, *type = NULL;
	int64_t limit = 0;
	size_t i;
	char ts[32];
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'v':
			if (cli_check_vmref(ctx, "--vm", optarg) < 0)
				return CLI_USAGE;
			vm = optarg;
			break;
		case 'H':
			if (cli_check_name(ctx, "--host", optarg) < 0)
				return CLI_USAGE;
			host = optarg;
			break;
		case 't':
			if (api_enum_index(api_event_type_names, optarg) < 0)
				return cli_usage_error(ctx, "--type: '%s' is not "
				    "one of: unknown_domain, domain_vanished, "
				    "state_drift, crashed", optarg);
			type = optarg;
			break;
		case 'n':
			if (cli_parse_int(ctx, "--limit", optarg, 1, 100000000,
			    &limit) < 0)
				return CLI_USAGE;
			break;
		default:
			return cli_getopt_status(ch);
		}
	}
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;

	buf_printf(&path, "/v1/events");
	if (vm != NULL)
		client_query_add(&path, "vm", vm);
	if (host != NULL)
		client_query_add(&path, "host", host);
	if (type != NULL)
		client_query_add(&path, "type", type);
	if (client_list_max(ctx, path.data, (size_t)limit, &items, &err) < 0)
		goto fail;
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(items); i++) {
		if (client_decode(&api_event_schema,
		    json_object_array_get_idx(items, i), &ev, &err) < 0)
			goto fail;
		output_cell(t, "%s", output_time(ev.time, ts));
		output_cell(t, "%s", api_event_type_names[ev.type]);
		output_cell(t, "%s", output_str(ev.host));
		output_cell(t, "%s", ev.vm_name[0] ? ev.vm_name :
		    output_str(ev.vm_id));
		output_cell(t, "%s", ev.message);
	}
	output_list(ctx, items, t);
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(items);
	buf_free(&path);
	return ret;
}
