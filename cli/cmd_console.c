/*
 * vmctl vm console VM [--follow]: the VM's serial log through the
 * controller. POST /v1/vms/{id}/console answers what the controller has
 * and asks the VM's agent for the bytes after it (at most one ask in
 * flight per VM); GET only reads. One-shot: POST, then GET (at most 3 s)
 * until that ask is answered, then print the newest log the controller
 * keeps (64 KiB). --follow: then POST every 0.5 s for what came after,
 * until interrupted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentproto.h"
#include "cli.h"
#include "console.h"
#include "errors.h"

#define CONSOLE_POLL_MS		100	/* one-shot: waiting for the refresh */
#define CONSOLE_WAIT_MS		3000
#define CONSOLE_FOLLOW_MS	500

static void
console_sleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* GET (ask false) or POST (ask: also ask the agent for fresh bytes) the
 * console after `after`; *ans owned by the caller, *lines borrowed from
 * it. Lines are checked one by one into a struct on the stack: 64 KiB of
 * newlines is 65,536 of them. */
static int
console_get(struct cli_ctx *ctx, const char *ref, bool ask, int64_t after,
    json_object **ans, struct api_console *c, json_object **lines,
    struct vm_error *err)
{
	char *path = xasprintf("/v1/vms/%s/console?after=%lld", ref,
	    (long long)after);
	struct api_console_line l;
	json_object *head = NULL;
	size_t i, n;
	int ret = -1;

	*ans = NULL;
	*lines = NULL;
	if (client_call(ctx, ask ? "POST" : "GET", path, NULL, NULL, ans,
	    err) < 0)
		goto cleanup;
	if (*ans == NULL || !json_object_is_type(*ans, json_type_object) ||
	    !json_object_object_get_ex(*ans, "lines", lines) ||
	    !json_object_is_type(*lines, json_type_array) ||
	    (n = json_object_array_length(*lines)) > API_CONSOLE_LINES_MAX)
		goto bad;
	head = json_object_new_object();
	{
		json_object_object_foreach(*ans, key, val) {
			if (strcmp(key, "lines") != 0)
				json_object_object_add(head, key,
				    json_object_get(val));
		}
	}
	if (client_decode(&api_console_schema, head, c, err) < 0)
		goto bad;
	for (i = 0; i < n; i++)
		if (client_decode(&api_console_line_schema,
		    json_object_array_get_idx(*lines, i), &l, err) < 0)
			goto bad;
	ret = 0;
	goto cleanup;
bad:
	*lines = NULL;
	if (err->code == 0)
		vm_error_set(err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: no console lines");
cleanup:
	json_object_put(head);
	free(path);
	return ret;
}

/* Print lines checked by console_get(). */
static void
console_print(json_object *lines)
{
	struct api_console_line l;
	struct vm_error err;
	size_t i, n = lines != NULL ? json_object_array_length(lines) : 0;

	for (i = 0; i < n; i++) {
		if (api_decode(&api_console_line_schema,
		    json_object_array_get_idx(lines, i), &l, API_STORED,
		    &err) < 0)
			continue;
		fputs(l.text, stdout);
		if (l.nl)
			fputc('\n', stdout);
	}
	fflush(stdout);
}

int
cmd_vm_console(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct vm_error err = { 0 };
	json_object *lines = NULL;
	struct api_console c;
	json_object *ans = NULL;
	struct cli_getopt g;
	const char *ref;
	bool follow = false, ask = true;
	int64_t asked_end = -1;
	long waited = 0;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			follow = true;
			break;
		default:
			return cli_getopt_status(ch);
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME|ID") < 0 ||
	    cli_check_vmref(ctx, "NAME|ID", argv[optind]) < 0)
		return CLI_USAGE;
	ref = argv[optind];
	if (follow && ctx->output == OUT_JSON)
		return cli_usage_error(ctx, "--follow prints text: leave out "
		    "-o json");
	/*
	 * Ask the agent, wait for its bytes; while an answer brought new
	 * bytes, ask again (one chunk is at most 8 KiB of log, less when
	 * it is many short lines): until nothing new or CONSOLE_WAIT_MS.
	 */
	for (;;) {
		if (console_get(ctx, ref, ask, 0, &ans, &c, &lines, &err) < 0)
			goto fail;
		if (waited >= CONSOLE_WAIT_MS || (!c.pending && (ask ||
		    c.end == asked_end)))
			break;
		if (ask)
			asked_end = c.end;
		ask = !c.pending;
		json_object_put(ans);
		ans = NULL;
		lines = NULL;
		console_sleep(CONSOLE_POLL_MS);
		waited += CONSOLE_POLL_MS;
	}
	if (c.pending && !ctx->quiet)
		fprintf(stderr, "vmctl: the agent has not answered in %d s: "
		    "showing what the controller had\n", CONSOLE_WAIT_MS / 1000);
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else
		console_print(lines);
	while (follow) {
		int64_t end = c.end;

		json_object_put(ans);
		ans = NULL;
		lines = NULL;
		console_sleep(CONSOLE_FOLLOW_MS);
		if (console_get(ctx, ref, true, end, &ans, &c, &lines,
		    &err) < 0)
			goto fail;
		if (c.offset < end && !ctx->quiet)
			fprintf(stderr, "vmctl: [console log started over or "
			    "fell out of the controller's window]\n");
		console_print(lines);
	}
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	json_object_put(ans);
	return ret;
}
