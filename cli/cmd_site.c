/*
 * vmctl site capacity (alias site list): GET /v1/sites. Per site the
 * totals of its hosts, what the placed VMs claim, what is free after the
 * overcommit ratios, and whether the site can absorb the loss of its
 * tolerate_host_failures largest hosts (N+1) right now.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "errors.h"

/* The numbers of one site, in table order. */
static const char *const site_nums[] = {
	"hosts", "hosts_up", "vcpus", "alloc_vcpus", "free_vcpus", "ram_mib",
	"alloc_ram_mib", "free_ram_mib", "disk_gib", "alloc_disk_gib",
	"free_disk_gib", "tolerate_host_failures"
};
#define SITE_NNUMS	ARRAY_SIZE(site_nums)
#define SITE_TOLERATE	(SITE_NNUMS - 1)

struct site_row {
	const char *name;		/* borrowed from the answer */
	int64_t num[SITE_NNUMS];	/* site_nums order */
	bool n1_ok;
	const char *n1_failing;		/* borrowed; NULL when n1_ok */
	const char *n1_reason;		/* borrowed; NULL when n1_ok */
};

static const char *
site_str(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Check one item of the answer and borrow its members into r. */
static int
site_decode(json_object *o, struct site_row *r, struct vm_error *err)
{
	json_object *v = NULL;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    (r->name = site_str(o, "name")) == NULL) {
		vm_error_set(err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: a site without a name");
		return -1;
	}
	for (i = 0; i < SITE_NNUMS; i++) {
		if (!json_object_object_get_ex(o, site_nums[i], &v) ||
		    !json_object_is_type(v, json_type_int)) {
			vm_error_set(err, API_EINTERNAL, "unexpected answer "
			    "from vmctld (is it a different version?): site "
			    "%s: no number %s", r->name, site_nums[i]);
			return -1;
		}
		r->num[i] = json_object_get_int64(v);
	}
	if (!json_object_object_get_ex(o, "n1_ok", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		vm_error_set(err, API_EINTERNAL, "unexpected answer from "
		    "vmctld: site %s: no n1_ok", r->name);
		return -1;
	}
	r->n1_ok = json_object_get_boolean(v);
	r->n1_failing = site_str(o, "n1_failing");
	r->n1_reason = site_str(o, "n1_reason");
	return 0;
}

/* The N+1 cell: "ok", "off" (nothing tolerated), "NO: failing". */
static void
site_n1_cell(struct output_table *t, const struct site_row *r)
{
	int64_t tol = r->num[SITE_TOLERATE];

	if (!r->n1_ok)
		output_cell(t, "NO: %s", output_str(r->n1_failing));
	else if (tol == 0)
		output_cell(t, "off");
	else if (tol == 1)
		output_cell(t, "ok");
	else
		output_cell(t, "ok (N+%lld)", (long long)tol);
}

int
cmd_site_capacity(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"SITE", "HOSTS", "UP", "VCPUS", "ALLOC", "FREE", "RAM_MIB",
		"ALLOC", "FREE", "DISK_GIB", "ALLOC", "FREE", "N+1"
	};
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL, *shown = NULL;
	struct site_row *rows = NULL;
	struct cli_getopt g;
	const char *only = NULL;
	size_t i, j, n, nrows = 0;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (argc - optind >= 1) {
		if (cli_want_args(ctx, argc, argv, 1, "SITE") < 0 ||
		    cli_check_name(ctx, "SITE", argv[optind]) < 0)
			return CLI_USAGE;
		only = argv[optind];
	}

	if (client_list(ctx, "/v1/sites", &items, &err) < 0)
		goto fail;
	n = json_object_array_length(items);
	rows = xcalloc(n ? n : 1, sizeof(*rows));
	shown = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(items, i);

		if (site_decode(o, &rows[nrows], &err) < 0)
			goto fail;
		if (only != NULL && strcmp(rows[nrows].name, only) != 0)
			continue;
		json_object_array_add(shown, json_object_get(o));
		nrows++;
	}
	if (only != NULL && nrows == 0) {
		vm_error_set(&err, API_ENOTFOUND, "site '%s' has no hosts",
		    only);
		goto fail;
	}
	if (ctx->output == OUT_JSON) {
		output_json(shown);
		ret = CLI_OK;
		goto cleanup;
	}

	t = output_table_new(headers, ARRAY_SIZE(headers));
	for (i = 0; i < nrows; i++) {
		output_cell(t, "%s", rows[i].name);
		for (j = 0; j < SITE_TOLERATE; j++)
			output_cell(t, "%lld", (long long)rows[i].num[j]);
		site_n1_cell(t, &rows[i]);
	}
	output_table_print(ctx, t);
	/* Why N+1 fails is data, not chatter: printed even with -q. */
	for (i = 0; i < nrows; i++)
		if (!rows[i].n1_ok)
			output_safe_printf(stdout,
			    "site %s: N+%lld does not hold: %s\n",
			    rows[i].name,
			    (long long)rows[i].num[SITE_TOLERATE],
			    rows[i].n1_reason != NULL ? rows[i].n1_reason :
			    "(no reason given)");
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	output_table_free(t);
	json_object_put(shown);
	json_object_put(items);
	free(rows);
	return ret;
}
