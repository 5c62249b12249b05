/*
 * vmctl token create|list|revoke: /v1/tokens. A token's secret exists
 * only in the answer that creates it; this file prints it that once and
 * strips "secret" and "hash" from anything else it prints.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "identity.h"

#define TOKEN_EXPIRES_MAX 315360000	/* ten years, as api/identity.c */

/* Never print these from a list, whatever the server sends. */
static void
token_strip(json_object *o)
{
	json_object_object_del(o, "secret");
	json_object_object_del(o, "hash");
}

int
cmd_token_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "description", required_argument, NULL, 'D' },
		{ "expires-in", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_token t;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	int ch, ret = CLI_USAGE;

	memset(&t, 0, sizeof(t));
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'u':
			if (cli_opt_name(ctx, "--user", optarg, t.user,
			    sizeof(t.user)) < 0)
				goto cleanup;
			break;
		case 'D':
			if (str_copy(t.description, sizeof(t.description),
			    optarg) < 0) {
				cli_usage_error(ctx, "--description: longer "
				    "than %zu characters",
				    sizeof(t.description) - 1);
				goto cleanup;
			}
			break;
		case 'e':
			if (cli_parse_duration(ctx, "--expires-in", optarg, 1,
			    TOKEN_EXPIRES_MAX, &t.expires_in_s) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		goto cleanup;
	if ((body = client_encode_input(&api_token_schema, &t, &err)) ==
	    NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}

	ret = CLI_ERR;
	if (client_call(ctx, "POST", "/v1/tokens", body, NULL, &ans,
	    &err) < 0 || client_decode(&api_token_schema, ans, &t,
	    &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (!cli_token_valid(t.secret)) {
		vm_error_set(&err, 0, "unexpected answer from vmctld: no "
		    "token secret");
		client_error_print(ctx, &err);
		goto cleanup;
	}
	json_object_object_del(ans, "hash");
	ret = CLI_OK;
	/* The one place a secret is printed: it is the point of the call. */
	if (ctx->output == OUT_JSON) {
		output_json(ans);
	} else if (ctx->quiet) {
		printf("%s\n", t.secret);
	} else {
		/* Input-only members: noise in an answer. */
		json_object_object_del(ans, "secret");
		json_object_object_del(ans, "user");
		json_object_object_del(ans, "expires_in_s");
		output_kv(ans);
		printf("token: %s\n", t.secret);
	}
	output_msg(ctx, "This token cannot be shown again: store it now "
	    "(for example with 'vmctl login').");
cleanup:
	explicit_bzero(&t, sizeof(t));
	json_object_put(body);
	json_object_put(ans);
	return ret;
}

static const char *
token_state(const struct api_token *t)
{
	if (t->revoked_at != 0)
		return "revoked";
	if (t->expires_at != 0 && t->expires_at <= now_ms())
		return "expired";
	return "active";
}

static void
token_row(struct output_table *t, const void *obj)
{
	const struct api_token *tok = obj;
	char t1[32], t2[32], t3[32];

	output_cell(t, "%s", tok->id);
	output_cell(t, "%s", api_token_kind_names[tok->kind]);
	output_cell(t, "%s", tok->subject);
	output_cell(t, "%s", token_state(tok));
	output_cell(t, "%s", output_str(tok->description));
	output_cell(t, "%s", output_time(tok->created_at, t1));
	output_cell(t, "%s", tok->expires_at != 0 ?
	    output_time(tok->expires_at, t2) : "never");
	output_cell(t, "%s", output_time(tok->last_used_at, t3));
}

int
cmd_token_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--user", cli_check_name },
	};
	static const char *const headers[] = {
		"ID", "KIND", "SUBJECT", "STATE", "DESCRIPTION", "CREATED",
		"EXPIRES", "LAST_USED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/tokens",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.schema = &api_token_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.prep = token_strip, .row = token_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_token_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	char *path = NULL;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, "ID") < 0)
		return CLI_USAGE;
	if (!uuid_valid(argv[optind]))
		/* Not echoed: it might be a token's secret. */
		return cli_usage_error(ctx, "ID: not a token id (a uuid, see "
		    "'vmctl token list')");
	path = xasprintf("/v1/tokens/%s", argv[optind]);
	if (client_call(ctx, "DELETE", path, NULL, NULL, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (ans != NULL)
		token_strip(ans);
	if (ctx->output == OUT_JSON && ans != NULL)
		output_json(ans);
	else
		output_msg(ctx, "token %s revoked", argv[optind]);
	ret = CLI_OK;
cleanup:
	json_object_put(ans);
	free(path);
	return ret;
}
