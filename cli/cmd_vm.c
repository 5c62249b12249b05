/*
 * vmctl vm create|list|show|start|stop|reboot|delete: /v1/vms. Every
 * mutation answers 202 with an operation; --wait follows it (cmd_op.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cloudinit.h"
#include "errors.h"
#include "log.h"
#include "operation.h"
#include "tags.h"
#include "vm.h"

#define VM_IDEM_MAX 128

static int
vm_check_idem(const struct cli_ctx *ctx, const char *key)
{
	size_t i, n = strlen(key);

	for (i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			break;
	if (n >= 1 && n <= VM_IDEM_MAX && i == n)
		return 0;
	cli_usage_error(ctx, "--idempotency-key: must be 1-%d printable "
	    "characters without spaces", VM_IDEM_MAX);
	return -1;
}

/*
 * Handle a 202 answer {"operation": ..., "vm": ...}: print the operation
 * id (or the answer in json mode), or with --wait follow it and print
 * the VM (nothing but a message after a delete). Returns an exit status.
 */
static int
vm_accepted(struct cli_ctx *ctx, json_object *ans, bool wait, bool deleting)
{
	struct api_operation op;
	struct vm_error err = { 0 };
	json_object *jop = NULL;
	char *path = NULL;
	int ret = CLI_ERR;

	if (ans == NULL || !json_object_object_get_ex(ans, "operation", &jop)) {
		vm_error_set(&err, 0, "unexpected answer from vmctld: no "
		    "operation");
		goto fail;
	}
	if (client_decode(&api_operation_schema, jop, &op, &err) < 0)
		goto fail;
	if (!wait) {
		if (ctx->output == OUT_JSON)
			output_json(ans);
		else
			printf("%s\n", op.id);
		return CLI_OK;
	}
	if (cmd_op_wait(ctx, op.id, &op, &err) < 0)
		goto fail;
	if (op.state == OP_FAILED) {
		output_safe_printf(stderr, "vmctl: %s %s failed: %s\n",
		    api_op_action_names[op.action],
		    op.vm_name[0] ? op.vm_name : op.vm_id,
		    output_str(op.error));
		if (!deleting)
			fprintf(stderr, "vmctl: see 'vmctl vm show %s'\n",
			    op.vm_name[0] ? op.vm_name : op.vm_id);
		return CLI_ERR;
	}
	if (deleting) {
		if (ctx->output == OUT_JSON) {
			json_object *o = api_encode(&api_operation_schema,
			    &op);

			output_json(o);
			json_object_put(o);
		} else {
			output_msg(ctx, "vm %s deleted",
			    op.vm_name[0] ? op.vm_name : op.vm_id);
		}
		return CLI_OK;
	}
	path = xasprintf("/v1/vms/%s", op.vm_id);
	ret = client_show(ctx, path, &api_vm_schema);
	free(path);
	return ret;
fail:
	client_error_print(ctx, &err);
	return ret;
}

/*
 * The last cell of a dry-run line: a rejected host's reason without the
 * "FILTER: " the FILTER column already shows; a passed host's weight, and
 * its rank when the reason gives one.
 */
static void
dry_run_detail(struct output_table *t, json_object *jfilter,
    json_object *jreason, json_object *jweight)
{
	const char *reason = NULL, *filter;
	size_t n;

	if (jreason != NULL)
		reason = json_object_get_string(jreason);
	if (jfilter != NULL && reason != NULL) {
		filter = json_object_get_string(jfilter);
		n = strlen(filter);
		if (strncmp(reason, filter, n) == 0 && reason[n] == ':' &&
		    reason[n + 1] == ' ')
			reason += n + 2;
	}
	if (jfilter == NULL && jweight != NULL) {
		if (reason != NULL && strcmp(reason, "chosen") != 0)
			output_cell(t, "%.4g (%s)",
			    json_object_get_double(jweight), reason);
		else
			output_cell(t, "%.4g", json_object_get_double(jweight));
	} else {
		output_cell(t, "%s", output_str(reason));
	}
}

/*
 * vm create --dry-run: GET /v1/placement with the constraints of vm and
 * print the verdict per host (table) or the answer (json). The answer is
 * 200 even when no host fits: "chosen" is then null and "error" says why.
 * Exit 0 when a host was chosen, 1 otherwise.
 */
static int
vm_dry_run(struct cli_ctx *ctx, const struct api_vm *vm)
{
	static const char *const headers[] = {
		"HOST", "VERDICT", "FILTER", "REASON/WEIGHT"
	};
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *ans = NULL, *hosts = NULL, *v;
	struct buf path = { 0 };
	const char *chosen = NULL, *error = NULL;
	size_t i;
	int ret = CLI_ERR;

	buf_printf(&path, "/v1/placement");
	client_query_add(&path, "flavor", vm->flavor);
	if (vm->site[0] != '\0')
		client_query_add(&path, "site", vm->site);
	if (vm->az[0] != '\0')
		client_query_add(&path, "az", vm->az);
	if (vm->host_hint[0] != '\0')
		client_query_add(&path, "host", vm->host_hint);
	if (vm->labels[0] != '\0')
		client_query_add(&path, "labels", vm->labels);
	client_query_add(&path, "ha", api_vm_ha_names[vm->ha]);
	if (vm->server_group[0] != '\0')
		client_query_add(&path, "group", vm->server_group);
	if (vm->image.name[0] != '\0')
		client_query_add(&path, "image", vm->image.name);
	if (client_call(ctx, "GET", path.data, NULL, NULL, &ans, &err) < 0)
		goto fail;
	if (ans == NULL || !json_object_object_get_ex(ans, "hosts", &hosts) ||
	    !json_object_is_type(hosts, json_type_array)) {
		vm_error_set(&err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: no host verdicts");
		goto fail;
	}
	if (json_object_object_get_ex(ans, "chosen", &v) && v != NULL)
		chosen = json_object_get_string(v);
	if (json_object_object_get_ex(ans, "error", &v) && v != NULL)
		error = json_object_get_string(v);

	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(hosts); i++) {
		json_object *h = json_object_array_get_idx(hosts, i);
		json_object *jname = NULL, *jchosen = NULL, *jfilter = NULL;
		json_object *jreason = NULL, *jweight = NULL;

		if (h == NULL || !json_object_object_get_ex(h, "host",
		    &jname) || !json_object_is_type(jname, json_type_string)) {
			vm_error_set(&err, API_EINTERNAL, "unexpected answer "
			    "from vmctld: a verdict names no host");
			goto fail;
		}
		json_object_object_get_ex(h, "chosen", &jchosen);
		json_object_object_get_ex(h, "filter", &jfilter);
		json_object_object_get_ex(h, "reason", &jreason);
		json_object_object_get_ex(h, "weight", &jweight);
		output_cell(t, "%s", json_object_get_string(jname));
		if (json_object_get_boolean(jchosen))
			output_cell(t, "chosen");
		else if (jfilter != NULL)
			output_cell(t, "rejected");
		else
			output_cell(t, "eligible");
		output_cell(t, "%s", jfilter != NULL ?
		    json_object_get_string(jfilter) : "-");
		dry_run_detail(t, jfilter, jreason, jweight);
	}
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else
		output_table_print(ctx, t);
	if (chosen != NULL) {
		if (vm->name[0] != '\0')
			output_msg(ctx, "vm %s would be placed on host %s",
			    vm->name, chosen);
		else
			output_msg(ctx, "a VM of flavor %s would be placed "
			    "on host %s", vm->flavor, chosen);
		ret = CLI_OK;
	} else {
		fflush(stdout);		/* the table first, even in a pipe */
		output_safe_printf(stderr, "vmctl: no host for the VM: %s\n",
		    error != NULL ? error : "(no reason given)");
	}
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(ans);
	buf_free(&path);
	return ret;
}

int
cmd_vm_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "flavor", required_argument, NULL, 'f' },
		{ "disk", required_argument, NULL, 'd' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "site", required_argument, NULL, 's' },
		{ "az", required_argument, NULL, 'z' },
		{ "host", required_argument, NULL, 'H' },
		{ "labels", required_argument, NULL, 'l' },
		{ "ha", required_argument, NULL, 'A' },
		{ "agency", required_argument, NULL, 'a' },
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "image", required_argument, NULL, 'I' },
		{ "network", required_argument, NULL, 'N' },
		{ "user-data", required_argument, NULL, 'U' },
		{ "ssh-key", required_argument, NULL, 'S' },
		{ "group", required_argument, NULL, 'G' },
		{ "tag", required_argument, NULL, 'T' },
		{ "on-crash", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_vm vm = { 0 };
	struct api_cloudinit *ci = NULL;
	struct api_image *im = &vm.image;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	const char *idem = NULL, *name;
	bool wait = false, dry = false;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			if (cli_opt_name(ctx, "--flavor", optarg, vm.flavor,
			    sizeof(vm.flavor)) < 0)
				goto cleanup;
			break;
		case 'd':
			if (cli_check_path(ctx, "--disk", optarg) < 0)
				goto cleanup;
			str_copy(im->disk, sizeof(im->disk), optarg);
			break;
		case 'I':
			if (cli_opt_name(ctx, "--image", optarg, im->name,
			    sizeof(im->name)) < 0)
				goto cleanup;
			break;
		case 'k':
			if (cli_check_path(ctx, "--kernel", optarg) < 0)
				goto cleanup;
			str_copy(im->kernel, sizeof(im->kernel), optarg);
			break;
		case 'i':
			if (cli_check_path(ctx, "--initrd", optarg) < 0)
				goto cleanup;
			str_copy(im->initrd, sizeof(im->initrd), optarg);
			break;
		case 'c':
			if (str_copy(im->cmdline, sizeof(im->cmdline),
			    optarg) < 0) {
				cli_usage_error(ctx, "--cmdline: longer than "
				    "%zu characters", sizeof(im->cmdline) - 1);
				goto cleanup;
			}
			break;
		case 's':
			if (cli_opt_name(ctx, "--site", optarg, vm.site,
			    sizeof(vm.site)) < 0)
				goto cleanup;
			break;
		case 'z':
			if (cli_opt_name(ctx, "--az", optarg, vm.az,
			    sizeof(vm.az)) < 0)
				goto cleanup;
			break;
		case 'H':
			if (cli_opt_name(ctx, "--host", optarg, vm.host_hint,
			    sizeof(vm.host_hint)) < 0)
				goto cleanup;
			break;
		case 'l':
			if (cli_check_labels(ctx, "--labels", optarg) < 0)
				goto cleanup;
			str_copy(vm.labels, sizeof(vm.labels), optarg);
			break;
		case 'A':
			if (cli_parse_enum(ctx, "--ha", optarg,
			    api_vm_ha_names, "restart, none", &vm.ha) < 0)
				goto cleanup;
			break;
		case 'a':
			if (cli_opt_name(ctx, "--agency", optarg, vm.agency,
			    sizeof(vm.agency)) < 0)
				goto cleanup;
			break;
		case 'w':
			wait = true;
			break;
		case 'K':
			if (vm_check_idem(ctx, optarg) < 0)
				goto cleanup;
			idem = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'N':
			if (cli_parse_nic(ctx, "--network", optarg, vm.nics,
			    API_NICS_MAX) < 0)
				goto cleanup;
			break;
		case 'U':
		case 'S':
			if (ci == NULL)
				ci = xcalloc(1, sizeof(*ci));
			if ((ch == 'U' ? cli_read_user_data(ctx, "--user-data",
			    optarg, ci) : cli_read_ssh_keys(ctx, "--ssh-key",
			    optarg, ci)) < 0)
				goto cleanup;
			break;
		case 'G':
			if (cli_opt_name(ctx, "--group", optarg,
			    vm.server_group, sizeof(vm.server_group)) < 0)
				goto cleanup;
			break;
		case 'T':
			if (strchr(optarg, '=') == NULL ||
			    strchr(optarg, ',') != NULL ||
			    api_tags_apply(vm.tags, optarg, "", vm.tags,
			    sizeof(vm.tags), &err) < 0) {
				cli_usage_error(ctx, "--tag: '%s' is not "
				    "key=value (key like a name; value of A-Z "
				    "a-z 0-9 . _ -, at most 63)", optarg);
				goto cleanup;
			}
			break;
		case 'C':
			if (cli_parse_enum(ctx, "--on-crash", optarg,
			    api_vm_on_crash_names, "leave, restart",
			    &vm.on_crash) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	/* A dry run needs only the flavor: the rest is checked if given. */
	if (dry && argc - optind == 0)
		name = NULL;
	else if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0)
		goto cleanup;
	else
		name = argv[optind];
	if (name != NULL && cli_check_name(ctx, "NAME", name) < 0)
		goto cleanup;
	if (name != NULL && uuid_valid(name)) {
		cli_usage_error(ctx, "NAME: '%s' looks like a uuid, which a "
		    "VM name may not", name);
		goto cleanup;
	}
	if (vm.flavor[0] == '\0') {
		cli_usage_error(ctx, "missing --flavor F");
		goto cleanup;
	}
	if (im->name[0] != '\0' && (im->disk[0] != '\0' ||
	    im->kernel[0] != '\0' || im->initrd[0] != '\0')) {
		cli_usage_error(ctx, "give --image or paths (--disk, --kernel), "
		    "not both");
		goto cleanup;
	}
	if (im->disk[0] != '\0' && im->kernel[0] != '\0') {
		cli_usage_error(ctx, "give --disk or --kernel, not both");
		goto cleanup;
	}
	if (!dry && im->name[0] == '\0' && im->disk[0] == '\0' &&
	    im->kernel[0] == '\0') {
		cli_usage_error(ctx, "missing --image NAME (or, for admins, "
		    "--disk PATH or --kernel PATH)");
		goto cleanup;
	}
	if (im->name[0] == '\0' && im->kernel[0] == '\0' &&
	    (im->initrd[0] || im->cmdline[0])) {
		cli_usage_error(ctx, "%s needs --kernel",
		    im->initrd[0] ? "--initrd" : "--cmdline");
		goto cleanup;
	}
	if (name != NULL)
		str_copy(vm.name, sizeof(vm.name), name);
	if (dry) {
		ret = vm_dry_run(ctx, &vm);
		goto cleanup;
	}
	if ((body = client_encode_input(&api_vm_schema, &vm, &err)) == NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}
	if (ci != NULL) {
		json_object *c = client_encode_input(&api_cloudinit_schema, ci,
		    &err);

		if (c == NULL) {
			cli_usage_error(ctx, "%s", err.message);
			goto cleanup;
		}
		json_object_object_add(body, "cloud_init", c);
	}

	ret = CLI_ERR;
	if (client_call(ctx, "POST", "/v1/vms", body, idem, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = vm_accepted(ctx, ans, wait, false);
cleanup:
	json_object_put(body);
	json_object_put(ans);
	free(ci);
	return ret;
}

static int
vm_check_tag_query(const struct cli_ctx *ctx, const char *what,
    const char *arg)
{
	if (api_tag_query_valid(arg))
		return 0;
	cli_usage_error(ctx, "%s: '%s' is not key=value or key", what, arg);
	return -1;
}

static void
vm_row(struct output_table *t, const void *obj)
{
	const struct api_vm *vm = obj;

	output_cell(t, "%s", vm->id);
	output_cell(t, "%s", vm->name);
	output_cell(t, "%s", output_str(vm->agency));
	output_cell(t, "%s", api_vm_state_names[vm->state]);
	output_cell(t, "%s", api_vm_desired_names[vm->desired]);
	output_cell(t, "%s", output_str(vm->host));
	output_cell(t, "%s", vm->flavor);
	output_cell(t, "%lld", (long long)vm->vcpus);
	output_cell(t, "%lld", (long long)vm->ram_mib);
}

int
cmd_vm_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--agency", cli_check_name },
		{ "--host", cli_check_name },
		{ "--name", cli_check_name },
		{ "--tag", vm_check_tag_query },
	};
	static const char *const headers[] = {
		"ID", "NAME", "AGENCY", "STATE", "DESIRED", "HOST", "FLAVOR",
		"VCPUS", "RAM_MIB"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/vms",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.schema = &api_vm_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = vm_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

/* cmd_vm_show: cmd_vmhistory.c (the VM and its state history). */

/* vm start|stop|reboot|migrate|rebuild|resize: the verb of ctx->cmd names
 * the action. */
int
cmd_vm_action(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option stop_opts[] = {
		{ "timeout-s", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'F' },
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option migrate_opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option rebuild_opts[] = {
		{ "image", required_argument, NULL, 'I' },
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	static const struct option resize_opts[] = {
		{ "flavor", required_argument, NULL, 'f' },
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	const struct option *longopts = stop_opts + 2;	/* start */
	struct api_vm_action_req req = { 0 };
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	const char *idem = NULL;
	char *path = NULL;
	bool wait = false;
	int ch, ret = CLI_USAGE;

	req.action = api_enum_index(api_vm_action_names, ctx->cmd->verb);
	if (req.action < 0)
		fatalx("cmd_vm_action: no action %s", ctx->cmd->verb);
	if (req.action == ACTION_STOP)
		longopts = stop_opts;
	else if (req.action == ACTION_REBOOT)
		longopts = stop_opts + 1;	/* --force */
	else if (req.action == ACTION_MIGRATE)
		longopts = migrate_opts;
	else if (req.action == ACTION_REBUILD)
		longopts = rebuild_opts;
	else if (req.action == ACTION_RESIZE)
		longopts = resize_opts;
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 't':
			if (cli_parse_int(ctx, "--timeout-s", optarg, 1, 3600,
			    &req.timeout_s) < 0)
				goto cleanup;
			break;
		case 'F':
			req.force = true;
			break;
		case 'H':
			if (cli_check_name(ctx, "--host", optarg) < 0)
				goto cleanup;
			str_copy(req.host, sizeof(req.host), optarg);
			break;
		case 'I':
			if (cli_check_name(ctx, "--image", optarg) < 0)
				goto cleanup;
			str_copy(req.image, sizeof(req.image), optarg);
			break;
		case 'f':
			if (cli_check_name(ctx, "--flavor", optarg) < 0)
				goto cleanup;
			str_copy(req.flavor, sizeof(req.flavor), optarg);
			break;
		case 'w':
			wait = true;
			break;
		case 'K':
			if (vm_check_idem(ctx, optarg) < 0)
				goto cleanup;
			idem = optarg;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME|ID") < 0 ||
	    cli_check_vmref(ctx, "NAME|ID", argv[optind]) < 0)
		goto cleanup;
	if ((body = client_encode_input(&api_vm_action_schema, &req,
	    &err)) == NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}

	ret = CLI_ERR;
	path = xasprintf("/v1/vms/%s/actions", argv[optind]);
	if (client_call(ctx, "POST", path, body, idem, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = vm_accepted(ctx, ans, wait, false);
cleanup:
	json_object_put(body);
	json_object_put(ans);
	free(path);
	return ret;
}

int
cmd_vm_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "idempotency-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	const char *idem = NULL;
	char *path = NULL;
	bool wait = false;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'w':
			wait = true;
			break;
		case 'K':
			if (vm_check_idem(ctx, optarg) < 0)
				return CLI_USAGE;
			idem = optarg;
			break;
		default:
			return cli_getopt_status(ch);
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME|ID") < 0 ||
	    cli_check_vmref(ctx, "NAME|ID", argv[optind]) < 0)
		return CLI_USAGE;

	ret = CLI_ERR;
	path = xasprintf("/v1/vms/%s", argv[optind]);
	if (client_call(ctx, "DELETE", path, NULL, idem, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = vm_accepted(ctx, ans, wait, true);
cleanup:
	json_object_put(ans);
	free(path);
	return ret;
}
