/*
 * cli: the vmctl command-line client. main.c holds the command table that
 * drives dispatch, usage and --help; client.c talks to vmctld over the
 * public REST API; output.c prints tables, "key: value" lines and JSON;
 * cmd_*.c implement one command family each. Single-threaded: everything
 * hangs off one struct cli_ctx made in main(); no other state.
 */
#ifndef VMCTL_CLI_CLI_H
#define VMCTL_CLI_CLI_H

#include <getopt.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "codec.h"
#include "error.h"
#include "http.h"
#include "operation.h"
#include "util.h"

/* Exit statuses (vmctl(1) EXIT STATUS). */
#define CLI_OK		0
#define CLI_ERR		1	/* API, transport or operation failure */
#define CLI_USAGE	2	/* bad command line */

#define CLI_DEFAULT_URL		"http://127.0.0.1:8080"
#define CLI_DEFAULT_WAIT_S	600	/* --timeout default */
#define CLI_REQUEST_S		30	/* one HTTP request, at most */
#define CLI_TOKEN_MAX		256	/* longest token text accepted + NUL */
#define CLI_FILE_MAX		1024	/* longest --ca-file path + NUL */

enum cli_output { OUT_TABLE, OUT_JSON };

struct http_client;

/*
 * url, token and ca_file come from the option, else the environment,
 * else the config file (client.c resolves them before the first request).
 * The token is a secret: it goes into the Authorization header and
 * nowhere else (no message, no output); cleared by client_free().
 */
struct cli_ctx {
	char url[1024];			/* --url; else resolved lazily */
	bool url_set;			/* url came from --url */
	char token[CLI_TOKEN_MAX];	/* secret; "" = none */
	bool token_set;			/* token came from --token (or login) */
	char ca_file[CLI_FILE_MAX];	/* CA bundle for https; "" = system */
	bool ca_set;			/* ca_file came from --ca-file */
	bool resolved;			/* url, token, ca_file are final */
	int output;			/* enum cli_output */
	bool quiet;			/* -q: no headers, progress, messages */
	int64_t timeout_s;		/* --timeout: bound for --wait */
	bool stderr_tty;		/* progress lines only on a tty */
	struct http_client *http;	/* owned; made on first request */
	int64_t retry_after_s;		/* Retry-After of the last 429; -1 */
	bool tls_failed;		/* the last transport error was TLS */
	const struct cli_cmd *cmd;	/* command being run (for usage) */
	char agency[API_NAME_MAX];	/* global --agency: ?agency= on every
					 * request (names are per agency) */
};

struct cli_cmd;
typedef int cli_cmd_fn(struct cli_ctx *ctx, int argc, char **argv);

/*
 * One row of the command table (main.c): "vmctl NOUN VERB USAGE".
 * Top-level commands (version, help) have verb == NULL. opts is the
 * option list printed by --help, one "  --opt ARG  text\n" per line.
 */
struct cli_cmd {
	const char *noun;
	const char *verb;
	cli_cmd_fn *fn;
	const char *usage;
	const char *summary;
	const char *opts;		/* may be NULL */
};

/* ------------------------------------------------------------ main.c */

/* Print "usage: vmctl NOUN VERB USAGE" for ctx->cmd to fp. */
void cli_usage(const struct cli_ctx *ctx, FILE *fp);
/* "vmctl: NOUN VERB: message" + usage on stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
    ATTR_PRINTF(2, 3);
/* Full --help text of ctx->cmd on stdout; returns CLI_OK. */
int cli_help_cmd(const struct cli_ctx *ctx);

/*
 * Per-command option parsing: the command's own options plus the global
 * ones (--url -o -q --timeout -h), so "vmctl vm list -o json" works and
 * "--timeout" never abbreviates a command's "--timeout-s". Global options
 * are applied to ctx inside cli_getopt_next().
 */
#define CLI_MAX_OPTS 48
#define CLI_OPT_HELP	(-2)	/* --help was printed: exit CLI_OK */
#define CLI_OPT_BAD	(-3)	/* usage error was printed: exit CLI_USAGE */

struct cli_getopt {
	struct cli_ctx *ctx;
	struct option lo[CLI_MAX_OPTS];
	char so[64];
};

void cli_getopt_init(struct cli_getopt *g, struct cli_ctx *ctx,
    const char *shortopts, const struct option *longopts);
/* Next command option, -1 at the end, or CLI_OPT_HELP / CLI_OPT_BAD. */
int cli_getopt_next(struct cli_getopt *g, int argc, char **argv);
/* Exit status for a CLI_OPT_* value or an unexpected option. */
int cli_getopt_status(int ch);
/* Handle a global option (shared by main() and cli_getopt_next()). */
int cli_global_opt(struct cli_ctx *ctx, int ch, const char *arg);

/* Argument checks: print a usage error naming opt and return -1. */
int cli_parse_int(const struct cli_ctx *ctx, const char *opt,
    const char *arg, int64_t min, int64_t max, int64_t *out);
/* Like cli_parse_int with the bounds of schema field `field`. */
int cli_parse_field(const struct cli_ctx *ctx, const char *opt,
    const char *arg, const struct api_schema *s, const char *field,
    int64_t *out);
int cli_check_name(const struct cli_ctx *ctx, const char *what,
    const char *arg);
/* cli_check_name, then copy arg into dst[size]. */
int cli_opt_name(const struct cli_ctx *ctx, const char *what,
    const char *arg, char *dst, size_t size);
int cli_check_path(const struct cli_ctx *ctx, const char *what,
    const char *arg);
/* A VM reference: a name or a uuid. */
int cli_check_vmref(const struct cli_ctx *ctx, const char *what,
    const char *arg);
/*
 * An enum word: its index in names (NULL-terminated, api_enum_index) into
 * *out (may be NULL), else a usage error "OPT: 'ARG' is not one of: LIST".
 */
int cli_parse_enum(const struct cli_ctx *ctx, const char *opt,
    const char *arg, const char *const *names, const char *list, int *out);
/*
 * Host labels (aggregates): comma-separated names, "gpu,health", at most
 * API_TEXT_MAX - 1 characters.
 */
int cli_check_labels(const struct cli_ctx *ctx, const char *what,
    const char *arg);
/* A token from the command line, environment or stdin (never echoed). */
int cli_check_token(const struct cli_ctx *ctx, const char *what,
    const char *arg);
bool cli_token_valid(const char *s);
/* --quota-like value: an integer >= -1 or "unlimited" (-1). */
int cli_parse_limit(const struct cli_ctx *ctx, const char *opt,
    const char *arg, int64_t *out);
/*
 * Duration: N (seconds) or N followed by s, m, h or d; within
 * [min, max] seconds.
 */
int cli_parse_duration(const struct cli_ctx *ctx, const char *opt,
    const char *arg, int64_t min, int64_t max, int64_t *secs);
/*
 * A point in time: ISO-8601 ("2026-11-22T00:00:00Z", ms optional),
 * "now", or a duration meaning that long ago ("90m", "7d"). Epoch ms.
 */
int cli_parse_time(const struct cli_ctx *ctx, const char *opt,
    const char *arg, int64_t *ms);
/* Positional arguments: exactly n after optind, else usage error. */
int cli_want_args(const struct cli_ctx *ctx, int argc, char **argv, int n,
    const char *what);

/* ---------------------------------------------------------- client.c */

/*
 * Perform one request. body (borrowed, may be NULL) is sent as JSON;
 * idem_key (may be NULL) adds an Idempotency-Key header. On a 2xx answer
 * returns 0 and *answer is the parsed body (owned; NULL when empty).
 * Otherwise -1 with err filled: API_ETRANSPORT when vmctld could not be
 * reached, the server's code and message for an HTTP error.
 */
int client_call(struct cli_ctx *ctx, const char *method, const char *path,
    json_object *body, const char *idem_key, json_object **answer,
    struct vm_error *err);
/*
 * GET a list path (which may already have a query), following "next"
 * cursors until null. *items is a new JSON array of every item (owned).
 */
int client_list(struct cli_ctx *ctx, const char *path, json_object **items,
    struct vm_error *err);
/* Like client_list, but stop after max items (0: no limit). */
int client_list_max(struct cli_ctx *ctx, const char *path, size_t max,
    json_object **items, struct vm_error *err);
/*
 * Like client_list_max, but hand each item (borrowed, valid during the
 * call) to fn as its page arrives, so nothing piles up in memory. fn
 * returns -1 with err filled to stop.
 */
typedef int client_item_fn(json_object *item, void *arg,
    struct vm_error *err);
int client_list_each(struct cli_ctx *ctx, const char *path, size_t max,
    client_item_fn *fn, void *arg, struct vm_error *err);
/* Append "?key=value" or "&key=value" (value percent-encoded) to path. */
void client_query_add(struct buf *path, const char *key, const char *value);
/*
 * Settle url, token and ca_file: option, else environment, else the
 * config file, else the defaults. Done by the first request; login calls
 * it itself. The config file is read only when something is missing.
 */
int client_resolve(struct cli_ctx *ctx, struct vm_error *err);
/*
 * $XDG_CONFIG_HOME/vmctl/config, else ~/.config/vmctl/config; NULL when
 * neither variable is set. Malloc'ed.
 */
char *client_conf_path(void);
/* Decode a server object with API_STORED; err names what was expected. */
int client_decode(const struct api_schema *s, json_object *o, void *obj,
    struct vm_error *err);
/*
 * Request body for obj: api_encode() minus read-only and null members,
 * checked with api_decode(API_INPUT) like the server will. NULL + err
 * when the server would refuse it.
 */
json_object *client_encode_input(const struct api_schema *s,
    const void *obj, struct vm_error *err);
/*
 * POST parts (struct http_part, lib/http.h) as multipart/form-data to
 * path, files streamed from disk; answer like client_call.
 */
int client_upload(struct cli_ctx *ctx, const char *path,
    const struct http_part *parts, size_t nparts, json_object **answer,
    struct vm_error *err);
/* Percent-encode s for a query string (malloc'ed). */
char *client_escape(const char *s);
/*
 * GET path, check the answer decodes as schema s and print it
 * (output_show). Returns an exit status; errors are printed.
 */
int client_show(struct cli_ctx *ctx, const char *path,
    const struct api_schema *s);
/*
 * A whole "NOUN show ARG" command: no options, one argument checked by
 * check (named what in messages), then client_show(collection/ARG).
 */
int client_show_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const char *collection, const char *what, const struct api_schema *s,
    int (*check)(const struct cli_ctx *, const char *, const char *));
/*
 * A whole "NOUN delete NAME" command: no options, one name, DELETE
 * collection/NAME, then "NOUN NAME deleted" plus `extra` (may be "").
 */
int client_delete_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const char *collection, const char *noun, const char *extra);
/*
 * A whole "NOUN list" command, driven by a table (client_list_cmd):
 * the filter options, GET path with them as a query, every item decoded
 * with schema, one table row per item by row(), then output_list().
 * A filter "--NAME VALUE" is checked by check (which prints a usage
 * error naming opt and returns -1) and sent as ?NAME=VALUE, in table
 * order. limit adds "--limit N" (1..100000000): stop after N items.
 * prep (may be NULL) edits each item (borrowed) before it is decoded and
 * printed. Returns an exit status; errors are printed.
 */
#define CLIENT_LIST_FILTERS_MAX 8

struct client_list_filter {
	const char *opt;		/* "--agency"; query key: opt + 2 */
	int (*check)(const struct cli_ctx *, const char *, const char *);
};

struct output_table;

struct client_list_spec {
	const char *path;			/* "/v1/flavors" */
	const struct client_list_filter *filters;	/* may be NULL */
	size_t nfilters;
	bool limit;				/* offer --limit N */
	const struct api_schema *schema;	/* of one item */
	const char *const *headers;
	size_t ncols;
	void (*prep)(json_object *item);	/* may be NULL */
	void (*row)(struct output_table *t, const void *obj);
};

int client_list_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const struct client_list_spec *spec);
/*
 * The end of a "NOUN create": encode obj for input (a usage error if the
 * server would refuse it), POST it to path, decode the answer into obj
 * with s and print it (output_show). Returns an exit status (CLI_USAGE,
 * CLI_ERR, CLI_OK); errors are printed.
 */
int client_create(struct cli_ctx *ctx, const char *path,
    const struct api_schema *s, void *obj);
/* Print "vmctl: message" and a hint (transport errors) on stderr. */
void client_error_print(const struct cli_ctx *ctx,
    const struct vm_error *err);
void client_free(struct cli_ctx *ctx);

/* ---------------------------------------------------------- output.c */

struct output_table;

struct output_table *output_table_new(const char *const *headers,
    size_t ncols);
/* Append one cell; rows wrap after ncols cells. */
void output_cell(struct output_table *t, const char *fmt, ...)
    ATTR_PRINTF(2, 3);
/* Aligned columns on stdout; header unless ctx->quiet. */
void output_table_print(const struct cli_ctx *ctx, struct output_table *t);
void output_table_free(struct output_table *t);
/*
 * A list command's output: the items array as JSON, or the table t.
 * Used once every item decoded and went into t.
 */
void output_list(const struct cli_ctx *ctx, json_object *items,
    struct output_table *t);
/* "key: value" lines for obj (nested objects as "a.b: v"). */
void output_kv(json_object *obj);
/* obj as "key: value" lines (table) or pretty JSON (json). */
void output_show(const struct cli_ctx *ctx, json_object *obj);
/* Pretty-printed JSON and a newline on stdout. */
void output_json(json_object *obj);
/* Informational message: stdout in table mode, stderr in json mode,
 * nothing with -q. */
void output_msg(const struct cli_ctx *ctx, const char *fmt, ...)
    ATTR_PRINTF(2, 3);
/*
 * Text from the server made safe for a terminal (malloc'ed): C0 controls,
 * DEL and bytes that are not UTF-8 as \xNN, C1 controls (U+0080..U+009F)
 * as \u00NN, so an escape sequence in a stored string or in an error
 * that echoes input is shown, never obeyed. OUTPUT_ESC_LINES keeps LF
 * and tab (messages); without it they are escaped too.
 */
#define OUTPUT_ESC_LINES 0x1
char *output_escape(const char *s, unsigned flags);
/* fprintf whose whole result goes through output_escape(LINES). */
void output_safe_printf(FILE *fp, const char *fmt, ...) ATTR_PRINTF(2, 3);
/* Shorthand for a string that may be empty: "-" then. */
const char *output_str(const char *s);
/* ISO-8601 text of epoch ms, or "-" for 0; buf[32]. */
const char *output_time(int64_t ms, char buf[32]);

/* ------------------------------------------------------ cmd_*.c */

int cmd_flavor_create(struct cli_ctx *, int, char **);
int cmd_flavor_list(struct cli_ctx *, int, char **);
int cmd_flavor_show(struct cli_ctx *, int, char **);
int cmd_flavor_delete(struct cli_ctx *, int, char **);

int cmd_image_create(struct cli_ctx *, int, char **);
int cmd_image_list(struct cli_ctx *, int, char **);
int cmd_image_show(struct cli_ctx *, int, char **);
int cmd_image_delete(struct cli_ctx *, int, char **);

int cmd_host_list(struct cli_ctx *, int, char **);
int cmd_host_show(struct cli_ctx *, int, char **);
int cmd_host_enroll(struct cli_ctx *, int, char **);
int cmd_host_token(struct cli_ctx *, int, char **);
int cmd_host_delete(struct cli_ctx *, int, char **);
int cmd_host_maintenance(struct cli_ctx *, int, char **);
int cmd_host_set(struct cli_ctx *, int, char **);

int cmd_site_capacity(struct cli_ctx *, int, char **);	/* also list */

int cmd_login(struct cli_ctx *, int, char **);
int cmd_whoami(struct cli_ctx *, int, char **);

int cmd_agency_create(struct cli_ctx *, int, char **);
int cmd_agency_list(struct cli_ctx *, int, char **);
int cmd_agency_show(struct cli_ctx *, int, char **);
int cmd_agency_delete(struct cli_ctx *, int, char **);
int cmd_quota_show(struct cli_ctx *, int, char **);
int cmd_quota_set(struct cli_ctx *, int, char **);
int cmd_usage(struct cli_ctx *, int, char **);

int cmd_user_create(struct cli_ctx *, int, char **);
int cmd_user_list(struct cli_ctx *, int, char **);
int cmd_user_show(struct cli_ctx *, int, char **);
int cmd_user_delete(struct cli_ctx *, int, char **);

int cmd_token_create(struct cli_ctx *, int, char **);
int cmd_token_list(struct cli_ctx *, int, char **);
int cmd_token_revoke(struct cli_ctx *, int, char **);

int cmd_audit_list(struct cli_ctx *, int, char **);
int cmd_audit_verify(struct cli_ctx *, int, char **);
int cmd_audit_export(struct cli_ctx *, int, char **);

int cmd_vm_create(struct cli_ctx *, int, char **);
int cmd_vm_list(struct cli_ctx *, int, char **);
int cmd_vm_show(struct cli_ctx *, int, char **);
int cmd_vm_action(struct cli_ctx *, int, char **);	/* start stop reboot
							 * migrate */
int cmd_vm_delete(struct cli_ctx *, int, char **);
int cmd_vm_tag(struct cli_ctx *, int, char **);
int cmd_vm_console(struct cli_ctx *, int, char **);

int cmd_group_create(struct cli_ctx *, int, char **);
int cmd_group_list(struct cli_ctx *, int, char **);
int cmd_group_show(struct cli_ctx *, int, char **);
int cmd_group_delete(struct cli_ctx *, int, char **);

int cmd_event_list(struct cli_ctx *, int, char **);

int cmd_network_create(struct cli_ctx *, int, char **);
int cmd_network_list(struct cli_ctx *, int, char **);
int cmd_network_show(struct cli_ctx *, int, char **);
int cmd_network_delete(struct cli_ctx *, int, char **);
int cmd_volume_create(struct cli_ctx *, int, char **);
int cmd_volume_list(struct cli_ctx *, int, char **);
int cmd_volume_show(struct cli_ctx *, int, char **);
int cmd_volume_attach(struct cli_ctx *, int, char **);
int cmd_volume_detach(struct cli_ctx *, int, char **);
int cmd_volume_delete(struct cli_ctx *, int, char **);
struct api_nic;
/* vm create --network NAME[,ip=A.B.C.D] into the first free of nics[max]. */
int cli_parse_nic(const struct cli_ctx *ctx, const char *opt,
    const char *arg, struct api_nic *nics, size_t max);

struct api_cloudinit;
/* vm create --user-data FILE / --ssh-key FILE (cmd_cloudinit.c). */
int cli_read_user_data(const struct cli_ctx *ctx, const char *opt,
    const char *path, struct api_cloudinit *ci);
int cli_read_ssh_keys(const struct cli_ctx *ctx, const char *opt,
    const char *path, struct api_cloudinit *ci);

int cmd_op_show(struct cli_ctx *, int, char **);
int cmd_op_list(struct cli_ctx *, int, char **);

/*
 * Follow GET /v1/operations/{id} until it succeeds or fails, polling
 * every 100 ms growing to 500 ms, with a progress line on a tty. Returns
 * 0 when it ended (*op holds the final record: check op->state), -1 on
 * error, timeout (ctx->timeout_s) or interrupt, with err saying how to
 * follow the operation later. Used by cmd_vm.c's --wait and op show.
 */
int cmd_op_wait(struct cli_ctx *ctx, const char *id,
    struct api_operation *op, struct vm_error *err);

#endif
