/*
 * vmctl image create|list|show|delete: /v1/images. create streams the
 * files as multipart/form-data (libcurl reads them while sending).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "image.h"

/* A readable regular file, or a usage error naming opt. */
static int
image_check_file(const struct cli_ctx *ctx, const char *opt, const char *arg)
{
	if (access(arg, R_OK) != 0) {
		cli_usage_error(ctx, "%s %s: %s", opt, arg, strerror(errno));
		return -1;
	}
	return 0;
}

int
cmd_image_create(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "format", required_argument, NULL, 'F' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "agency", required_argument, NULL, 'a' },
		{ "public", no_argument, NULL, 'p' },
		{ "arch", required_argument, NULL, 'A' },
		{ "labels", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct http_part parts[10];
	const char *file = NULL, *kernel = NULL, *initrd = NULL;
	const char *format = NULL, *cmdline = NULL, *agency = NULL;
	const char *arch = NULL, *labels = NULL;
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct api_img img;
	struct cli_getopt g;
	bool pub = false;
	size_t n = 0;
	int ch, ret = CLI_USAGE;

	cli_getopt_init(&g, ctx, "", longopts);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		switch (ch) {
		case 'f':
			if (image_check_file(ctx, "--file", optarg) < 0)
				goto cleanup;
			file = optarg;
			break;
		case 'F':
			if (api_enum_index(api_img_format_names, optarg) < 0 ||
			    strcmp(optarg, "kernel") == 0) {
				cli_usage_error(ctx, "--format: qcow2 or raw, "
				    "not '%s'", optarg);
				goto cleanup;
			}
			format = optarg;
			break;
		case 'k':
			if (image_check_file(ctx, "--kernel", optarg) < 0)
				goto cleanup;
			kernel = optarg;
			break;
		case 'i':
			if (image_check_file(ctx, "--initrd", optarg) < 0)
				goto cleanup;
			initrd = optarg;
			break;
		case 'c':
			if (strlen(optarg) >= API_TEXT_MAX) {
				cli_usage_error(ctx, "--cmdline: longer than "
				    "%d characters", API_TEXT_MAX - 1);
				goto cleanup;
			}
			cmdline = optarg;
			break;
		case 'a':
			if (cli_check_name(ctx, "--agency", optarg) < 0)
				goto cleanup;
			agency = optarg;
			break;
		case 'p':
			pub = true;
			break;
		case 'A':
			arch = optarg;
			break;
		case 'l':
			if (cli_check_labels(ctx, "--labels", optarg) < 0)
				goto cleanup;
			labels = optarg;
			break;
		default:
			ret = cli_getopt_status(ch);
			goto cleanup;
		}
	}
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		goto cleanup;
	if ((file == NULL) == (kernel == NULL)) {
		cli_usage_error(ctx, file == NULL ? "missing --file DISK or "
		    "--kernel FILE" : "give --file or --kernel, not both");
		goto cleanup;
	}
	if (file != NULL && (initrd != NULL || cmdline != NULL)) {
		cli_usage_error(ctx, "%s needs --kernel, not --file",
		    initrd != NULL ? "--initrd" : "--cmdline");
		goto cleanup;
	}
	if (kernel != NULL && format != NULL) {
		cli_usage_error(ctx, "--format is for --file");
		goto cleanup;
	}
	if (pub && agency != NULL) {
		cli_usage_error(ctx, "give --agency or --public, not both");
		goto cleanup;
	}
	parts[n++] = (struct http_part){ "name", argv[optind], NULL };
	if (pub)
		parts[n++] = (struct http_part){ "visibility", "public", NULL };
	if (agency != NULL)
		parts[n++] = (struct http_part){ "agency", agency, NULL };
	if (format != NULL)
		parts[n++] = (struct http_part){ "format", format, NULL };
	if (cmdline != NULL)
		parts[n++] = (struct http_part){ "cmdline", cmdline, NULL };
	if (arch != NULL)
		parts[n++] = (struct http_part){ "arch", arch, NULL };
	if (labels != NULL)
		parts[n++] = (struct http_part){ "required_labels", labels,
		    NULL };
	if (file != NULL)
		parts[n++] = (struct http_part){ "disk", NULL, file };
	if (kernel != NULL)
		parts[n++] = (struct http_part){ "kernel", NULL, kernel };
	if (initrd != NULL)
		parts[n++] = (struct http_part){ "initrd", NULL, initrd };

	ret = CLI_ERR;
	if (client_upload(ctx, "/v1/images", parts, n, &ans, &err) < 0 ||
	    client_decode(&api_img_schema, ans, &img, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_show(ctx, ans);
	ret = CLI_OK;
cleanup:
	json_object_put(ans);
	return ret;
}

static void
image_row(struct output_table *t, const void *obj)
{
	const struct api_img *im = obj;
	char ts[32];

	output_cell(t, "%s", im->name);
	output_cell(t, "%s", output_str(im->agency));
	output_cell(t, "%s", api_img_visibility_names[im->visibility]);
	output_cell(t, "%s", api_img_format_names[im->format]);
	output_cell(t, "%lld", (long long)im->disk_size +
	    (long long)im->kernel_size + (long long)im->initrd_size);
	output_cell(t, "%.12s", im->format == IMG_KERNEL ?
	    im->kernel_sha256 : im->disk_sha256);
	output_cell(t, "%s", output_time(im->created_at, ts));
}

int
cmd_image_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = {
		"NAME", "AGENCY", "VISIBILITY", "FORMAT", "SIZE", "SHA256",
		"CREATED"
	};
	static const struct client_list_spec spec = {
		.path = "/v1/images", .schema = &api_img_schema,
		.headers = headers, .ncols = ARRAY_SIZE(headers),
		.row = image_row,
	};

	return client_list_cmd(ctx, argc, argv, &spec);
}

int
cmd_image_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_show_cmd(ctx, argc, argv, "/v1/images", "NAME",
	    &api_img_schema, cli_check_name);
}

int
cmd_image_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return client_delete_cmd(ctx, argc, argv, "/v1/images", "image", "");
}
