/*
 * vmctl network create|list|show|delete (/v1/networks), vmctl volume
 * create|attach|detach|list|show|delete (/v1/volumes), and the parser of
 * vm create --network NAME[,ip=A.B.C.D].
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "network.h"
#include "volume.h"

/* ------------------------------------------------------------ NICs */

int
cli_parse_nic(const struct cli_ctx *ctx, const char *opt, const char *arg,
    struct api_nic *nics, size_t max)
{
	char buf[API_NAME_MAX + API_IP_MAX + 8], *comma;
	struct api_nic *nic = NULL;
	uint32_t ip;
	size_t i;

	for (i = 0; i < max; i++)
		if (nics[i].network[0] == '\0') {
			nic = &nics[i];
			break;
		}
	if (nic == NULL) {
		cli_usage_error(ctx, "%s: at most %zu NICs per VM", opt, max);
		return -1;
	}
	if (str_copy(buf, sizeof(buf), arg) < 0) {
		cli_usage_error(ctx, "%s: '%.80s' is too long", opt, arg);
		return -1;
	}
	comma = strchr(buf, ',');
	if (comma != NULL)
		*comma++ = '\0';
	if (cli_opt_name(ctx, opt, buf, nic->network,
	    sizeof(nic->network)) < 0)
		return -1;
	if (comma == NULL)
		return 0;
	if (strncmp(comma, "ip=", 3) != 0 ||
	    api_ipv4_parse(comma + 3, &ip) < 0) {
		memset(nic, 0, sizeof(*nic));
		cli_usage_error(ctx, "%s: '%s' is not NAME or NAME,ip=A.B.C.D",
		    opt, arg);
		return -1;
	}
	str_copy(nic->ip, sizeof(nic->ip), comma + 3);
	return 0;
}

/* ------------------------------------------------------------ networks */

int
cmd_network_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cidr", required_argument, NULL, 'c' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "mode", required_argument, NULL, 'm' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "agency", required_argument, NULL, 'a' },
		{ "shared", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_network n = { 0 };
	struct cli_getopt g;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'c':
			if (str_copy(n.cidr, sizeof(n.cidr), optarg) < 0) {
				cli_usage_error(ctx, "--cidr: '%.40s' is not "
				    "a CIDR like 10.20.0.0/24", optarg);
				goto cleanup;
			}
			break;
		case 'g':
			if (str_copy(n.gateway, sizeof(n.gateway),
			    optarg) < 0) {
				cli_usage_error(ctx, "--gateway: '%.40s' is "
				    "not an IPv4 address", optarg);
				goto cleanup;
			}
			break;
		case 'm':
			if (cli_parse_enum(ctx, "--mode", optarg,
			    api_net_mode_names, "isolated, nat, bridge",
			    &n.mode) < 0)
				goto cleanup;
			break;
		case 'b':
			if (!api_bridge_valid(optarg)) {
				cli_usage_error(ctx, "--bridge: '%.40s' is not "
				    "an interface name (1-15 of A-Z a-z 0-9 _ "
				    ". -)", optarg);
				goto cleanup;
			}
			str_copy(n.bridge, sizeof(n.bridge), optarg);
			break;
		case 'a':
			if (cli_opt_name(ctx, "--agency", optarg, n.agency,
			    sizeof(n.agency)) < 0)
				goto cleanup;
			break;
		case 's':
			n.shared = true;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_opt_name(ctx, "NAME", argv[optind], n.name,
	    sizeof(n.name)) < 0)
		goto cleanup;
	if (n.cidr[0] == '\0') {
		cli_usage_error(ctx, "missing --cidr A.B.C.D/N");
		goto cleanup;
	}
	if (n.shared && n.agency[0] != '\0') {
		cli_usage_error(ctx, "give --agency or --shared, not both");
		goto cleanup;
	}
	ret = client_create(ctx, "/v1/networks", &api_network_schema, &n);
cleanup:
	return ret;
}

static void
network_row(struct output_table *t, const void *obj)
{
	const struct api_network *n = obj;

	output_cell(t, "%s", n->name);
	output_cell(t, "%s", n->shared ? "(shared)" : output_str(n->agency));
	output_cell(t, "%s", n->cidr);
	output_cell(t, "%s", n->gateway);
	output_cell(t, "%s", api_net_mode_names[n->mode]);
	output_cell(t, "%s", output_str(n->bridge));
}

int
cmd_network_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "AGENCY", "CIDR", "GATEWAY", "MODE", "BRIDGE"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/networks", .schema = &api_network_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = network_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_network_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/networks", "NAME",
	    &api_network_schema, cli_check_name);
}

int
cmd_network_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/networks", "network",
	    "");
}

/* ------------------------------------------------------------ volumes */

int
cmd_volume_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "size-gib", required_argument, NULL, 's' },
		{ "agency", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_volume v = { 0 };
	struct cli_getopt g;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 's':
			if (cli_parse_field(ctx, "--size-gib", optarg,
			    &api_volume_schema, "size_gib", &v.size_gib) < 0)
				goto cleanup;
			break;
		case 'a':
			if (cli_opt_name(ctx, "--agency", optarg, v.agency,
			    sizeof(v.agency)) < 0)
				goto cleanup;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_opt_name(ctx, "NAME", argv[optind], v.name,
	    sizeof(v.name)) < 0)
		goto cleanup;
	if (v.size_gib == 0) {
		cli_usage_error(ctx, "missing --size-gib N");
		goto cleanup;
	}
	ret = client_create(ctx, "/v1/volumes", &api_volume_schema, &v);
cleanup:
	return ret;
}

static void
volume_row(struct output_table *t, const void *obj)
{
	const struct api_volume *v = obj;

	output_cell(t, "%s", v->name);
	output_cell(t, "%s", v->agency);
	output_cell(t, "%lld", (long long)v->size_gib);
	output_cell(t, "%s", api_vol_state_names[v->state]);
	output_cell(t, "%s", output_str(v->vm_name));
	output_cell(t, "%s", output_str(v->dev));
	output_cell(t, "%s", output_str(v->host));
}

int
cmd_volume_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "AGENCY", "SIZE_GIB", "STATE", "VM", "DEV", "HOST"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/volumes", .schema = &api_volume_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = volume_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_volume_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/volumes", "NAME",
	    &api_volume_schema, cli_check_name);
}

/*
 * The 202 of attach, detach and delete-with-a-file: print the operation
 * id, or with --wait follow it and show the volume (or say it is gone).
 */
static int
volume_accepted(struct cli_ctx *ctx, const char *name, json_object *ans,
    bool wait)
{
	struct api_operation op;
	struct vm_error err = { 0 };
	json_object *jop = NULL;
	char *path = NULL;
	int ret;

	if (ans == NULL || !json_object_object_get_ex(ans, "operation", &jop) ||
	    client_decode(&api_operation_schema, jop, &op, &err) < 0) {
		if (err.message[0] == '\0')
			vm_error_set(&err, 0, "unexpected answer from vmctld: "
			    "no operation");
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	if (!wait) {
		if (ctx->output == OUT_JSON)
			output_json(ans);
		else
			printf("%s\n", op.id);
		return CLI_OK;
	}
	if (cmd_op_wait(ctx, op.id, &op, &err) < 0) {
		client_error_print(ctx, &err);
		return CLI_ERR;
	}
	if (op.state == OP_FAILED) {
		output_safe_printf(stderr, "vmctl: volume %s: %s failed: "
		    "%s\n", name, api_op_action_names[op.action],
		    output_str(op.error));
		fprintf(stderr, "vmctl: see 'vmctl volume show %s'\n", name);
		return CLI_ERR;
	}
	if (op.action == OPA_VOL_DELETE) {
		output_msg(ctx, "volume %s deleted", name);
		return CLI_OK;
	}
	path = xasprintf("/v1/volumes/%s", name);
	ret = client_show(ctx, path, &api_volume_schema);
	free(path);
	return ret;
}

/* attach NAME VM, detach NAME, delete NAME: [--wait] */
static int
volume_change(struct cli_ctx *ctx, int argc, char **argv, const char *verb)
{
	static const struct option longopts[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_volume_attach a = { { 0 } };
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	struct cli_getopt g;
	bool attach = strcmp(verb, "attach") == 0;
	bool del = strcmp(verb, "delete") == 0;
	char *path = NULL;
	const char *name;
	bool wait = false;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		if (ch != 'w')
			return cli_getopt_status(ch);
		wait = true;
	}
	if (cli_want_args(ctx, argc, argv, attach ? 2 : 1,
	    attach ? "NAME VM" : "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0 ||
	    (attach && cli_check_vmref(ctx, "VM", argv[optind + 1]) < 0))
		return CLI_USAGE;
	name = argv[optind];
	if (attach) {
		str_copy(a.vm, sizeof(a.vm), argv[optind + 1]);
		body = api_encode(&api_volume_attach_schema, &a);
	}
	path = del ? xasprintf("/v1/volumes/%s", name) :
	    xasprintf("/v1/volumes/%s/%s", name, verb);
	if (client_call(ctx, del ? "DELETE" : "POST", path, body, NULL, &ans,
	    &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	if (del && ans == NULL) {
		output_msg(ctx, "volume %s deleted", name);
		ret = CLI_OK;
		goto cleanup;
	}
	ret = volume_accepted(ctx, name, ans, wait);
cleanup:
	json_object_put(body);
	json_object_put(ans);
	free(path);
	return ret;
}

int
cmd_volume_attach(struct cli_ctx *ctx, int argc, char **argv)
{
	return volume_change(ctx, argc, argv, "attach");
}

int
cmd_volume_detach(struct cli_ctx *ctx, int argc, char **argv)
{
	return volume_change(ctx, argc, argv, "detach");
}

int
cmd_volume_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return volume_change(ctx, argc, argv, "delete");
}
