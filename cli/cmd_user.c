/*
 * vmctl user create|list|show|delete: /v1/users. An agency-admin who
 * gives no --agency gets users of its own agency (the server fills it),
 * so the role/agency pairing is left to the server to check.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "identity.h"

static int
user_check_role(const struct cli_ctx *ctx, const char *arg)
{
	return cli_parse_enum(ctx, "--role", arg, api_role_names, "admin, "
	    "operator, agency-admin, member, viewer", NULL);
}

int
cmd_user_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "agency", required_argument, NULL, 'a' },
		{ "display-name", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_user u;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	const char *role = NULL, *agency = NULL, *display = NULL;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'r':
			if (user_check_role(ctx, optarg) < 0)
				goto cleanup;
			role = optarg;
			break;
		case 'a':
			if (cli_check_name(ctx, "--agency", optarg) < 0)
				goto cleanup;
			agency = optarg;
			break;
		case 'D':
			if (strlen(optarg) >= sizeof(u.display_name)) {
				cli_usage_error(ctx, "--display-name: longer "
				    "than %zu characters",
				    sizeof(u.display_name) - 1);
				goto cleanup;
			}
			display = optarg;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		goto cleanup;
	if (role == NULL) {
		cli_usage_error(ctx, "missing --role ROLE");
		goto cleanup;
	}
	if (agency != NULL && (strcmp(role, "admin") == 0 ||
	    strcmp(role, "operator") == 0)) {
		cli_usage_error(ctx, "--agency: an %s has no agency", role);
		goto cleanup;
	}
	body = json_object_new_object();
	json_object_object_add(body, "name",
	    json_object_new_string(argv[optind]));
	json_object_object_add(body, "role", json_object_new_string(role));
	if (agency != NULL)
		json_object_object_add(body, "agency",
		    json_object_new_string(agency));
	if (display != NULL)
		json_object_object_add(body, "display_name",
		    json_object_new_string(display));

	ret = CLI_ERR;
	if (client_call(ctx, "POST", "/v1/users", body, NULL, &ans,
	    &err) < 0 || client_decode(&api_user_schema, ans, &u, &err) < 0) {
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

static void
user_row(struct output_table *t, const void *obj)
{
	const struct api_user *u = obj;
	char ts[32];

	output_cell(t, "%s", u->name);
	output_cell(t, "%s", api_role_names[u->role]);
	output_cell(t, "%s", output_str(u->agency));
	output_cell(t, "%s", output_str(u->display_name));
	output_cell(t, "%s", output_time(u->created_at, ts));
}

int
cmd_user_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--agency", cli_check_name },
	};
	static const char *const headers[] = {
		"NAME", "ROLE", "AGENCY", "DISPLAY_NAME", "CREATED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/users",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.schema = &api_user_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = user_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_user_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/users", "NAME",
	    &api_user_schema, cli_check_name);
}

int
cmd_user_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/users", "user", "");
}
