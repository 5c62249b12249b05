/*
 * vmctl audit list|verify|export: /v1/audit and /v1/audit/verify. Export
 * streams every page as it arrives, one compact JSON object per line
 * (for a SIEM), so a long trail never sits in memory whole.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "audit_event.h"
#include "cli.h"

#define AUDIT_PAGE_MAX 1000	/* the server's largest ?limit= */

/* ?since=&until=&agency=&user= onto path; zero / NULL ones left out. */
static void
audit_query(struct buf *path, int64_t since, int64_t until,
    const char *agency, const char *user)
{
	char ts[32];

	buf_printf(path, "/v1/audit");
	if (since != 0)
		client_query_add(path, "since", output_time(since, ts));
	if (until != 0)
		client_query_add(path, "until", output_time(until, ts));
	if (agency != NULL)
		client_query_add(path, "agency", agency);
	if (user != NULL)
		client_query_add(path, "user", user);
}

int
cmd_audit_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "agency", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'U' },
		{ "limit", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const headers[] = {
		"SEQ", "TIME", "USER", "AGENCY", "SOURCE", "METHOD", "PATH",
		"STATUS", "RESULT", "COUNT"
	};
	struct api_audit_event ev;
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL;
	struct cli_getopt g;
	struct buf path = { 0 };
	const char *agency = NULL, *user = NULL;
	int64_t since = 0, until = 0, limit = 0;
	size_t i;
	char ts[32], page[32];
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 's':
			if (cli_parse_time(ctx, "--since", optarg, &since) < 0)
				goto cleanup;
			break;
		case 'u':
			if (cli_parse_time(ctx, "--until", optarg, &until) < 0)
				goto cleanup;
			break;
		case 'a':
			if (cli_check_name(ctx, "--agency", optarg) < 0)
				goto cleanup;
			agency = optarg;
			break;
		case 'U':
			if (cli_check_name(ctx, "--user", optarg) < 0)
				goto cleanup;
			user = optarg;
			break;
		case 'l':
			if (cli_parse_int(ctx, "--limit", optarg, 1,
			    100000000, &limit) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		goto cleanup;
	if (since != 0 && until != 0 && since >= until) {
		cli_usage_error(ctx, "--since must be before --until");
		goto cleanup;
	}
	audit_query(&path, since, until, agency, user);
	if (limit > 0 && limit < AUDIT_PAGE_MAX) {
		snprintf(page, sizeof(page), "%lld", (long long)limit);
		client_query_add(&path, "limit", page);
	}

	ret = CLI_ERR;
	if (client_list_max(ctx, path.data, (size_t)limit, &items, &err) < 0)
		goto fail;
	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < json_object_array_length(items); i++) {
		if (client_decode(&api_audit_event_schema,
		    json_object_array_get_idx(items, i), &ev, &err) < 0)
			goto fail;
		output_cell(t, "%lld", (long long)ev.seq);
		if (ev.corrupt) {
			/* An entry the server could not decode. */
			output_cell(t, "-");
			output_cell(t, "-");
			output_cell(t, "-");
			output_cell(t, "-");
			output_cell(t, "-");
			output_cell(t, "(corrupt: vmctl audit verify)");
			output_cell(t, "-");
			output_cell(t, "corrupt");
			output_cell(t, "-");
			continue;
		}
		output_cell(t, "%s", output_time(ev.time, ts));
		if (ev.host[0] != '\0')
			output_cell(t, "host:%s", ev.host);
		else
			output_cell(t, "%s", output_str(ev.user));
		output_cell(t, "%s", output_str(ev.agency));
		output_cell(t, "%s", output_str(ev.source));
		output_cell(t, "%s", ev.method);
		output_cell(t, "%s", ev.path);
		output_cell(t, "%lld", (long long)ev.status);
		output_cell(t, "%s", api_audit_result_names[ev.result]);
		output_cell(t, "%lld", (long long)(ev.count > 1 ? ev.count : 1));
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

int
cmd_audit_verify(struct cli_ctx *ctx, int argc, char **argv)
{
	struct api_audit_verify v;
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;
	if (client_call(ctx, "GET", "/v1/audit/verify", NULL, NULL, &ans,
	    &err) < 0 || client_decode(&api_audit_verify_schema, ans, &v,
	    &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (ctx->output == OUT_JSON)
		output_json(ans);
	if (v.ok) {
		output_msg(ctx, "audit trail intact: %lld events",
		    (long long)v.events);
		ret = CLI_OK;
	} else {
		/* Exit 1 and say where, even with -q: it is the result. */
		output_safe_printf(stderr, "vmctl: audit trail broken at seq "
		    "%lld (of "
		    "%lld events): %s\n", (long long)v.first_bad,
		    (long long)v.events, output_str(v.reason));
	}
cleanup:
	json_object_put(ans);
	return ret;
}

/* One event per line, checked against the codec first. */
static int
audit_export_item(json_object *item, void *arg, struct vm_error *err)
{
	struct api_audit_event ev;

	(void)arg;
	if (client_decode(&api_audit_event_schema, item, &ev, err) < 0)
		return -1;
	printf("%s\n", json_object_to_json_string_ext(item,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

int
cmd_audit_export(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct vm_error err = { 0 };
	struct cli_getopt g;
	struct buf path = { 0 };
	int64_t since = 0;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 's':
			if (cli_parse_time(ctx, "--since", optarg, &since) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		goto cleanup;
	audit_query(&path, since, 0, NULL, NULL);

	ret = CLI_ERR;
	if (client_list_each(ctx, path.data, 0, audit_export_item, NULL,
	    &err) < 0) {
		fflush(stdout);
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = CLI_OK;
cleanup:
	buf_free(&path);
	return ret;
}
