/*
 * vmctl vm show VM: the VM (GET /v1/vms/{id}), its disks (the system
 * disk from its image, then the volumes attached to it, from GET
 * /v1/volumes) and its state history (GET /v1/vms/{id}/history): tables
 * in table mode, "volumes" and "history" members added to the VM in json
 * mode.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"
#include "event.h"
#include "vm.h"
#include "volume.h"

/* The volumes attached to one VM, collected from the volume list. */
struct vols_of {
	const char *vm_id;
	json_object *arr;		/* owned by the caller */
	struct output_table *t;		/* borrowed */
};

static int
vols_of_cb(json_object *item, void *arg, struct vm_error *err)
{
	struct vols_of *w = arg;
	struct api_volume v;

	if (client_decode(&api_volume_schema, item, &v, err) < 0)
		return -1;
	if (strcmp(v.vm, w->vm_id) != 0 || v.state == VOL_AVAILABLE)
		return 0;
	json_object_array_add(w->arr, json_object_get(item));
	output_cell(w->t, "%s", output_str(v.dev));
	output_cell(w->t, "volume %s (%s)", v.name,
	    api_vol_state_names[v.state]);
	output_cell(w->t, "%lld", (long long)v.size_gib);
	output_cell(w->t, "%s", output_str(v.host));
	return 0;
}

int
cmd_vm_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "TIME", "STATE", "CAUSE" };
	static const char *const dheaders[] = { "DEV", "DISK", "SIZE_GIB",
	    "HOST" };
	struct vm_error err = { 0 };
	struct output_table *t = NULL, *dt = NULL;
	struct vols_of w = { NULL, NULL, NULL };
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
	/* Disks: the system disk, then the attached volumes. */
	dt = output_table_new(dheaders, ARRAY_SIZE(dheaders));
	output_cell(dt, "vda");
	if (vm->image.name[0] != '\0')
		output_cell(dt, "system: image %s", vm->image.name);
	else
		output_cell(dt, "system: %s", vm->image.disk[0] ? vm->image.disk :
		    vm->image.kernel[0] ? "kernel (no disk image)" : "-");
	output_cell(dt, "%lld", (long long)vm->disk_gib);
	output_cell(dt, "%s", output_str(vm->host));
	w.vm_id = vm->id;
	w.arr = json_object_new_array();
	w.t = dt;
	if (client_list_each(ctx, "/v1/volumes", 0, vols_of_cb, &w, &err) < 0)
		goto fail;
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
		json_object_object_add(ans, "volumes", json_object_get(w.arr));
		json_object_object_add(ans, "history", json_object_get(items));
		output_json(ans);
	} else {
		output_kv(ans);
		if (!ctx->quiet)
			printf("\ndisks:\n");
		output_table_print(ctx, dt);
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
	output_table_free(dt);
	json_object_put(w.arr);
	json_object_put(ans);
	json_object_put(hist);
	free(path);
	free(vm);
	return ret;
}
