/*
 * vmctl op show|list and the --wait loop every VM mutation uses:
 * /v1/operations. An operation is the record a 202 answer points at.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "errors.h"

#define OP_POLL_FIRST_MS	100
#define OP_POLL_MAX_MS		500
#define OP_UNREACHABLE_MS	30000	/* tolerate a controller restart */

/* Signal flag: the one global here, set by op_sigint() during a wait. */
static volatile sig_atomic_t op_interrupted;

static void
op_sigint(int sig)
{
	(void)sig;
	op_interrupted = 1;
}

static void
op_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	/* SIGINT cuts the sleep short (no SA_RESTART): the loop checks. */
	nanosleep(&ts, NULL);
}

/* "op 1b2c3d4e.. create web-01" into buf. */
static void
op_label(const char *id, const struct api_operation *op, bool have,
    char *buf, size_t size)
{
	if (!have)
		snprintf(buf, size, "op %.8s..", id);
	else if (op->action == OPA_DRAIN)
		snprintf(buf, size, "op %.8s.. drain %s: %lld/%lld moved, "
		    "%lld failed", id, op->host, (long long)op->progress_done,
		    (long long)op->progress_total,
		    (long long)op->progress_failed);
	else
		snprintf(buf, size, "op %.8s.. %s %s", id,
		    api_op_action_names[op->action],
		    op->vm_name[0] ? op->vm_name : op->vm_id);
}

/*
 * Write line on stderr: in place over the previous one (*shown chars)
 * on a tty when final is false; final lines end with a newline.
 */
static void
op_line(const struct cli_ctx *ctx, const char *line, size_t *shown,
    bool final)
{
	size_t n = strlen(line);

	if (ctx->quiet || (!final && !ctx->stderr_tty))
		return;
	if (ctx->stderr_tty && *shown > 0)
		fprintf(stderr, "\r%s%*s", line,
		    (int)(*shown > n ? *shown - n : 0), "");
	else
		fputs(line, stderr);
	if (final) {
		fputc('\n', stderr);
		*shown = 0;
	} else {
		*shown = n;
	}
	fflush(stderr);
}

int
cmd_op_wait(struct cli_ctx *ctx, const char *id, struct api_operation *op,
    struct vm_error *err)
{
	struct sigaction sa, old_int;
	struct vm_error e = { 0 };
	json_object *ans = NULL;
	char *path = xasprintf("/v1/operations/%s", id);
	char label[160], line[320];
	int64_t start = mono_ms(), deadline, lost = 0, now;
	int64_t delay = OP_POLL_FIRST_MS;
	size_t shown = 0;
	bool have = false;
	int ret = -1;

	deadline = start + ctx->timeout_s * 1000;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = op_sigint;
	sigemptyset(&sa.sa_mask);
	op_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);

	for (;;) {
		json_object_put(ans);
		ans = NULL;
		if (client_call(ctx, "GET", path, NULL, NULL, &ans, &e) < 0) {
			/* Only a controller seen once may be restarting. */
			if (e.code != API_ETRANSPORT || !have) {
				*err = e;
				goto cleanup;
			}
			if (lost == 0)
				lost = mono_ms();
			else if (mono_ms() - lost > OP_UNREACHABLE_MS) {
				*err = e;
				goto cleanup;
			}
		} else {
			lost = 0;
			if (client_decode(&api_operation_schema, ans, op,
			    err) < 0)
				goto cleanup;
			have = true;
			if (op->state == OP_SUCCEEDED ||
			    op->state == OP_FAILED)
				break;
		}
		now = mono_ms();
		op_label(id, op, have, label, sizeof(label));
		snprintf(line, sizeof(line), "%s: %s %.1fs%s", label,
		    have ? api_op_state_names[op->state] : "waiting",
		    (double)(now - start) / 1000.0,
		    lost ? " (vmctld unreachable, retrying)" : "");
		op_line(ctx, line, &shown, false);
		if (op_interrupted || now >= deadline) {
			op_line(ctx, line, &shown, true);
			vm_error_set(err, API_EUNAVAIL, "%s operation %s "
			    "is still %s after %.1fs; follow it with: "
			    "vmctl op show %s --wait",
			    op_interrupted ? "stopped waiting:" : "timed out:",
			    id, have ? api_op_state_names[op->state] :
			    "pending", (double)(now - start) / 1000.0, id);
			goto cleanup;
		}
		op_sleep_ms(delay < deadline - now ? delay : deadline - now);
		delay = delay * 3 / 2;
		if (delay > OP_POLL_MAX_MS)
			delay = OP_POLL_MAX_MS;
	}
	op_label(id, op, have, label, sizeof(label));
	snprintf(line, sizeof(line), "%s: %s in %.1fs", label,
	    api_op_state_names[op->state],
	    (double)(mono_ms() - start) / 1000.0);
	op_line(ctx, line, &shown, true);
	ret = 0;
cleanup:
	if (ret < 0 && shown > 0)
		fputc('\n', stderr);
	sigaction(SIGINT, &old_int, NULL);
	json_object_put(ans);
	free(path);
	return ret;
}

static int
op_check_id(const struct cli_ctx *ctx, const char *id)
{
	if (uuid_valid(id))
		return 0;
	cli_usage_error(ctx, "ID: '%s' is not an operation uuid", id);
	return -1;
}

int
cmd_op_show(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_operation op = { 0 };
	struct vm_error err = { 0 };
	struct cli_getopt g;
	bool wait = false;
	char *path = NULL;
	int ch, ret;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'w':
			wait = true;
			break;
		default:
			return cli_getopt_status(ch);
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "ID") < 0 ||
	    op_check_id(ctx, argv[optind]) < 0)
		return CLI_USAGE;
	if (wait && cmd_op_wait(ctx, argv[optind], &op, &err) < 0) {
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	path = xasprintf("/v1/operations/%s", argv[optind]);
	ret = client_show(ctx, path, &api_operation_schema);
	free(path);
	if (ret == CLI_OK && wait && op.state == OP_FAILED) {
		output_safe_printf(stderr, "vmctl: operation %s failed: %s\n",
		    argv[optind], output_str(op.error));
		ret = CLI_ERR;
	}
	return ret;
}

static void
op_row(struct output_table *t, const void *obj)
{
	const struct api_operation *op = obj;
	char ts[32];

	output_cell(t, "%s", op->id);
	output_cell(t, "%s", op->vm_name[0] ? op->vm_name : op->vm_id);
	output_cell(t, "%s", api_op_action_names[op->action]);
	output_cell(t, "%s", api_op_state_names[op->state]);
	output_cell(t, "%s", output_str(op->host));
	output_cell(t, "%s", output_time(op->created_at, ts));
	output_cell(t, "%s", output_str(op->error));
}

/* --vm takes a VM name or uuid; neither changes when percent-encoded. */
int
cmd_op_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct client_list_filter filters[] = {
		{ "--vm", cli_check_vmref },
	};
	static const char *const headers[] = {
		"ID", "VM", "ACTION", "STATE", "HOST", "CREATED", "ERROR"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/operations",
		.filters = filters, .nfilters = ARRAY_SIZE(filters),
		.schema = &api_operation_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = op_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}
