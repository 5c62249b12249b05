/*
 * vmctl vm tag VM [k=v ...] [--remove k ...]: POST /v1/vms/{id}/tags,
 * then the VM's tags. Tags live in the controller only (no agent task).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tags.h"
#include "vm.h"

int
cmd_vm_tag(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "remove", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_vm_tags t = { "", "" };
	struct api_vm vm;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	struct buf rm = { 0 };
	char *path = NULL;
	const char *ref;
	int ch, i, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'r':
			if (!api_tag_keys_valid(optarg) ||
			    strchr(optarg, ',') != NULL) {
				cli_usage_error(ctx, "--remove: '%s' is not a "
				    "tag key", optarg);
				goto cleanup;
			}
			buf_printf(&rm, "%s%s", rm.len ? "," : "", optarg);
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (optind >= argc) {
		cli_usage_error(ctx, "missing NAME|ID");
		goto cleanup;
	}
	ref = argv[optind];
	if (cli_check_vmref(ctx, "NAME|ID", ref) < 0)
		goto cleanup;
	for (i = optind + 1; i < argc; i++) {
		if (strchr(argv[i], '=') == NULL || strchr(argv[i], ',') !=
		    NULL || api_tags_apply(t.set, argv[i], "", t.set,
		    sizeof(t.set), &err) < 0) {
			cli_usage_error(ctx, "'%s' is not key=value (key like a "
			    "name; value of A-Z a-z 0-9 . _ -, at most 63)",
			    argv[i]);
			goto cleanup;
		}
	}
	if (rm.len > 0 && str_copy(t.remove, sizeof(t.remove), rm.data) < 0) {
		cli_usage_error(ctx, "--remove: too many keys");
		goto cleanup;
	}
	if (t.set[0] == '\0' && t.remove[0] == '\0') {
		cli_usage_error(ctx, "nothing to do: give key=value pairs "
		    "and/or --remove KEY");
		goto cleanup;
	}
	if ((body = client_encode_input(&api_vm_tags_schema, &t, &err)) ==
	    NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}
	ret = CLI_ERR;
	path = xasprintf("/v1/vms/%s/tags", ref);
	if (client_call(ctx, "POST", path, body, NULL, &ans, &err) < 0 ||
	    client_decode(&api_vm_schema, ans, &vm, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else
		output_msg(ctx, "vm %s tags: %s", vm.name,
		    vm.tags[0] ? vm.tags : "(none)");
	ret = CLI_OK;
cleanup:
	json_object_put(body);
	json_object_put(ans);
	buf_free(&rm);
	free(path);
	return ret;
}
