/*
 * vmctl vm show VM: the VM (GET /v1/vms/{id}) and then its state history
 * (GET /v1/vms/{id}/history): a table in table mode, a "history" member
 * added to the VM in json mode.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "event.h"
#include "vm.h"

int
cmd_vm_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "TIME", "STATE", "CAUSE" };
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	struct api_vm *vm = xmalloc(sizeof(*vm));
	struct api_vm_transition tr;
	json_object *ans = NULL, *hist = NULL, *items;
	struct cli_getopt g;
	char *path = NULL, ts[32];
	size_t i;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		ret = cli_getopt_status(ch);
		goto cleanup;
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME|ID") < 0 ||
	    cli_check_vmref(ctx, "NAME|ID", argv[optind]) < 0) {
		ret = CLI_USAGE;
		goto cleanup;
	}
	path = xasprintf("/v1/vms/%s", argv[optind]);
	if (client_call(ctx, "GET", path, NULL, NULL, &ans, &err) < 0 ||
	    client_decode(&api_vm_schema, ans, vm, &err) < 0)
		goto fail;
	free(path);
	path = xasprintf("/v1/vms/%s/history", vm->id);
	if (client_call(ctx, "GET", path, NULL, NULL, &hist, &err) < 0)
		goto fail;
	if (hist == NULL || !json_object_object_get_ex(hist, "items",
	    &items) || !json_object_is_type(items, json_type_array)) {
		vm_error_set(&err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: no history items");
		goto fail;
	}
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(items); i++) {
		if (client_decode(&api_vm_transition_schema,
		    json_object_array_get_idx(items, i), &tr, &err) < 0)
			goto fail;
		output_cell(t, "%s", output_time(tr.time, ts));
		output_cell(t, "%s", api_vm_state_names[tr.state]);
		output_cell(t, "%s", output_str(tr.cause));
	}
	if (ctx->output == OUT_JSON) {
		json_object_object_add(ans, "history", json_object_get(items));
		output_json(ans);
	} else {
		output_kv(ans);
		if (!ctx->quiet)
			printf("\nstate history (oldest first, last %d):\n",
			    API_VM_HISTORY_MAX);
		output_table_print(ctx, t);
	}
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(ans);
	json_object_put(hist);
	free(path);
	free(vm);
	return ret;
}
