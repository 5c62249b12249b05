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

static int
event_check_type(const struct cli_ctx *ctx, const char *what,
    const char *arg)
{
	return cli_parse_enum(ctx, what, arg, api_event_type_names,
	    "unknown_domain, domain_vanished, state_drift, crashed", NULL);
}

static void
event_row(struct output_table *t, const void *obj)
{
	const struct api_event *ev = obj;
	char ts[32];

	output_cell(t, "%s", output_time(ev->time, ts));
	output_cell(t, "%s", api_event_type_names[ev->type]);
	output_cell(t, "%s", output_str(ev->host));
	output_cell(t, "%s", ev->vm_name[0] ? ev->vm_name :
	    output_str(ev->vm_id));
	output_cell(t, "%s", ev->message);
}

int
cmd_event_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--vm", cli_check_vmref },
		{ "--host", cli_check_name },
		{ "--type", event_check_type },
	};
	static const char *const headers[] = {
		"TIME", "TYPE", "HOST", "VM", "MESSAGE"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/events",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.limit = true, .schema = &api_event_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = event_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}
