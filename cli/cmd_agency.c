/*
 * vmctl agency create|list|show|delete, quota show|set, usage:
 * /v1/agencies, /v1/agencies/{name}/quota and /usage. Limits are numbers
 * >= 0 or -1 ("unlimited"); quota set reads the current quota and PUTs
 * it whole with the given limits changed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "cli.h"
#include "log.h"

/* Option values for the quota limits: QOPT + index in api_quota_fields. */
#define QOPT 0x200
#define QUOTA_LONGOPTS \
	{ "instances", required_argument, NULL, QOPT + 0 }, \
	{ "vcpus", required_argument, NULL, QOPT + 1 }, \
	{ "ram", required_argument, NULL, QOPT + 2 }, \
	{ "disk", required_argument, NULL, QOPT + 3 }, \
	{ "volumes", required_argument, NULL, QOPT + 4 }, \
	{ "networks", required_argument, NULL, QOPT + 5 }, \
	{ "protected-vms", required_argument, NULL, QOPT + 6 }, \
	{ "images", required_argument, NULL, QOPT + 7 }, \
	{ "image-size", required_argument, NULL, QOPT + 8 }

/* Option name of each api_quota_fields entry, same order. */
static const char *const quota_opt_names[] = {
	"--instances", "--vcpus", "--ram", "--disk", "--volumes",
	"--networks", "--protected-vms", "--images", "--image-size"
};

static int64_t *
quota_field(struct api_quota *q, size_t i)
{
	return (int64_t *)(void *)((char *)q + api_quota_fields[i].off);
}

static int64_t
quota_get(const struct api_quota *q, size_t i)
{
	return *(const int64_t *)(const void *)((const char *)q +
	    api_quota_fields[i].off);
}

/*
 * A quota option: set the limit in q and its bit in *mask. 1 if ch is
 * not a quota option, 0 done, -1 usage error (printed).
 */
static int
quota_opt(const struct cli_ctx *ctx, int ch, const char *arg,
    struct api_quota *q, unsigned *mask)
{
	size_t i;

	if (ch < QOPT || ch >= QOPT + (int)api_quota_nfields)
		return 1;
	i = (size_t)(ch - QOPT);
	if (cli_parse_limit(ctx, quota_opt_names[i], arg, quota_field(q,
	    i)) < 0)
		return -1;
	*mask |= 1u << i;
	return 0;
}

static void
quota_fmt(int64_t v, char buf[32])
{
	if (v == QUOTA_UNLIMITED)
		snprintf(buf, 32, "unlimited");
	else
		snprintf(buf, 32, "%lld", (long long)v);
}

/* RESOURCE USED LIMIT FREE, one row per resource. */
static void
quota_table(const struct cli_ctx *ctx, const struct api_quota *limit,
    const struct api_quota *used)
{
	static const char *const headers[] = {
		"RESOURCE", "USED", "LIMIT", "FREE"
	};
	struct output_table *t = output_table_new(headers,
	    ARRAY_SIZE(headers));
	char buf[32];
	size_t i;

	for (i = 0; i < api_quota_nfields; i++) {
		int64_t lim = quota_get(limit, i), use = quota_get(used, i);

		output_cell(t, "%s", api_quota_fields[i].name);
		output_cell(t, "%lld", (long long)use);
		quota_fmt(lim, buf);
		output_cell(t, "%s", buf);
		if (lim == QUOTA_UNLIMITED)
			output_cell(t, "unlimited");
		else if (use > lim)
			output_cell(t, "over by %lld",
			    (long long)(use - lim));
		else
			output_cell(t, "%lld", (long long)(lim - use));
	}
	output_table_print(ctx, t);
	output_table_free(t);
}

/* GET /v1/agencies/NAME into a (and its JSON into *ans if wanted). */
static int
agency_fetch(struct cli_ctx *ctx, const char *name, struct api_agency *a,
    json_object **ans, struct vm_error *err)
{
	json_object *o = NULL;
	char *path = xasprintf("/v1/agencies/%s", name);
	int ret = -1;

	if (client_call(ctx, "GET", path, NULL, NULL, &o, err) < 0 ||
	    client_decode(&api_agency_schema, o, a, err) < 0)
		goto cleanup;
	if (ans != NULL) {
		*ans = o;
		o = NULL;
	}
	ret = 0;
cleanup:
	json_object_put(o);
	free(path);
	return ret;
}

/* ------------------------------------------------------------ agency */

int
cmd_agency_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "display-name", required_argument, NULL, 'D' },
		QUOTA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct api_agency a;
	struct cli_getopt g;
	unsigned mask = 0;
	int ch, rc, ret = CLI_USAGE;

	memset(&a, 0, sizeof(a));
	/* The whole quota is sent: unset limits keep the defaults. */
	api_quota_defaults(&a.quota);
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		if ((rc = quota_opt(ctx, ch, optarg, &a.quota, &mask)) < 0)
			goto cleanup;
		if (rc == 0)
			continue;
		switch (ch) {
		case 'D':
			if (str_copy(a.display_name, sizeof(a.display_name),
			    optarg) < 0) {
				cli_usage_error(ctx, "--display-name: longer "
				    "than %zu characters",
				    sizeof(a.display_name) - 1);
				goto cleanup;
			}
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		goto cleanup;
	str_copy(a.name, sizeof(a.name), argv[optind]);
	ret = client_create(ctx, "/v1/agencies", &api_agency_schema, &a);
cleanup:
	return ret;
}

/* "used/limit" for the list. */
static void
agency_cell(struct output_table *t, const struct api_agency *a, size_t i)
{
	char buf[32];

	quota_fmt(quota_get(&a->quota, i), buf);
	output_cell(t, "%lld/%s", (long long)quota_get(&a->usage, i), buf);
}

static void
agency_row(struct output_table *t, const void *obj)
{
	const struct api_agency *a = obj;
	char ts[32];

	output_cell(t, "%s", a->name);
	output_cell(t, "%s", output_str(a->display_name));
	agency_cell(t, a, 0);	/* instances */
	agency_cell(t, a, 1);	/* vcpus */
	agency_cell(t, a, 2);	/* ram_mib */
	agency_cell(t, a, 3);	/* disk_gib */
	output_cell(t, "%s", output_time(a->created_at, ts));
}

int
cmd_agency_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "DISPLAY_NAME", "INSTANCES", "VCPUS", "RAM_MIB",
		"DISK_GIB", "CREATED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/agencies", .schema = &api_agency_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = agency_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_agency_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/agencies", "NAME",
	    &api_agency_schema, cli_check_name);
}

int
cmd_agency_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/agencies", "agency", "");
}

/* ------------------------------------------------------------ quota */

/* json mode: {"agency", "quota", "usage"} of an agency object. */
static void
quota_json(const struct api_agency *a)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "agency", json_object_new_string(a->name));
	json_object_object_add(o, "quota", api_encode(&api_quota_schema,
	    &a->quota));
	json_object_object_add(o, "usage", api_encode(&api_quota_schema,
	    &a->usage));
	output_json(o);
	json_object_put(o);
}

int
cmd_quota_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct vm_error err = { 0 };
	struct api_agency a;
	struct cli_getopt g;
	int ch;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, "AGENCY") < 0 ||
	    cli_check_name(ctx, "AGENCY", argv[optind]) < 0)
		return CLI_USAGE;
	/* The agency carries the usage beside the quota. */
	if (agency_fetch(ctx, argv[optind], &a, NULL, &err) < 0) {
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	if (ctx->output == OUT_JSON)
		quota_json(&a);
	else
		quota_table(ctx, &a.quota, &a.usage);
	return CLI_OK;
}

/* Warn (on stderr, even with -q) about the resources listed in "over". */
static void
quota_warn_over(const char *agency, json_object *ans)
{
	json_object *over;
	size_t i, n;

	if (ans == NULL || !json_object_object_get_ex(ans, "over", &over) ||
	    !json_object_is_type(over, json_type_array) ||
	    (n = json_object_array_length(over)) == 0)
		return;
	fprintf(stderr, "vmctl: warning: agency %s now uses more than its "
	    "quota of:", agency);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s %s", i > 0 ? "," : "",
		    json_object_get_string(json_object_array_get_idx(over,
		    i)));
	fprintf(stderr, "\nvmctl: new VMs of %s are refused until its usage "
	    "is below the limits\n", agency);
}

/* Member key of ans, if it is a quota, into q; q is left alone if not. */
static void
quota_from_answer(json_object *ans, const char *key, struct api_quota *q)
{
	struct vm_error err = { 0 };
	struct api_quota tmp;
	json_object *sub;

	if (ans != NULL && json_object_object_get_ex(ans, key, &sub) &&
	    api_decode(&api_quota_schema, sub, &tmp, API_STORED, &err) == 0)
		*q = tmp;
}

int
cmd_quota_set(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		QUOTA_LONGOPTS,
		{ NULL, 0, NULL, 0 }
	};
	struct api_quota want, q;
	struct api_agency a;
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	const char *name;
	char *path = NULL;
	unsigned mask = 0;
	size_t i;
	int ch, rc, ret = CLI_USAGE;

	memset(&want, 0, sizeof(want));
	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		if ((rc = quota_opt(ctx, ch, optarg, &want, &mask)) < 0)
			goto cleanup;
		if (rc > 0) {
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "AGENCY") < 0 ||
	    cli_check_name(ctx, "AGENCY", argv[optind]) < 0)
		goto cleanup;
	if (mask == 0) {
		cli_usage_error(ctx, "nothing to change: give at least one "
		    "limit");
		goto cleanup;
	}
	name = argv[optind];

	ret = CLI_ERR;
	if (agency_fetch(ctx, name, &a, NULL, &err) < 0)
		goto fail;
	q = a.quota;
	for (i = 0; i < api_quota_nfields; i++)
		if (mask & (1u << i))
			*quota_field(&q, i) = quota_get(&want, i);
	if ((body = client_encode_input(&api_quota_schema, &q, &err)) ==
	    NULL)
		goto fail;
	path = xasprintf("/v1/agencies/%s/quota", name);
	if (client_call(ctx, "PUT", path, body, NULL, &ans, &err) < 0)
		goto fail;
	/* The answer is the agency plus "over": show what it holds. */
	a.quota = q;
	quota_from_answer(ans, "quota", &a.quota);
	quota_from_answer(ans, "usage", &a.usage);
	if (ctx->output == OUT_JSON)
		output_json(ans);
	else
		quota_table(ctx, &a.quota, &a.usage);
	quota_warn_over(name, ans);
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	json_object_put(body);
	json_object_put(ans);
	free(path);
	return ret;
}

/* ------------------------------------------------------------ usage */

/* Thousandths of an hour with one decimal, rounded half up. */
static void
usage_hours(const char *name, int64_t milli)
{
	int64_t tenths = (milli + 50) / 100;

	printf("%-15s %lld.%lld\n", name, (long long)(tenths / 10),
	    (long long)(tenths % 10));
}

int
cmd_usage(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_usage_report r;
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	struct buf path = { 0 };
	int64_t from = 0, to = 0;
	char ts[32], te[32];
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			if (cli_parse_time(ctx, "--from", optarg, &from) < 0)
				goto cleanup;
			break;
		case 't':
			if (cli_parse_time(ctx, "--to", optarg, &to) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "AGENCY") < 0 ||
	    cli_check_name(ctx, "AGENCY", argv[optind]) < 0)
		goto cleanup;
	if (from != 0 && to != 0 && from >= to) {
		cli_usage_error(ctx, "--from must be before --to");
		goto cleanup;
	}
	buf_printf(&path, "/v1/agencies/%s/usage", argv[optind]);
	if (from != 0)
		client_query_add(&path, "from", output_time(from, ts));
	if (to != 0)
		client_query_add(&path, "to", output_time(to, ts));

	ret = CLI_ERR;
	if (client_call(ctx, "GET", path.data, NULL, NULL, &ans, &err) < 0 ||
	    client_decode(&api_usage_report_schema, ans, &r, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	ret = CLI_OK;
	if (ctx->output == OUT_JSON) {
		output_json(ans);
		goto cleanup;
	}
	if (!ctx->quiet)
		printf("agency %s, from %s to %s\n\n", r.agency,
		    output_time(r.from, ts), output_time(r.to, te));
	quota_table(ctx, &r.quota, &r.usage);
	if (!ctx->quiet)
		printf("\n");
	usage_hours("vm_hours", r.vm_hours_milli);
	usage_hours("vcpu_hours", r.vcpu_hours_milli);
	usage_hours("ram_gib_hours", r.ram_gib_hours_milli);
	usage_hours("disk_gib_hours", r.disk_gib_hours_milli);
cleanup:
	json_object_put(ans);
	buf_free(&path);
	return ret;
}
