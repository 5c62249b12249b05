/*
 * vmctl client: where the controller is (--url, $VMCTL_URL, the config
 * file, the default), one HTTP request with JSON in and out, list paging,
 * and the codec glue for request bodies and answers.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "errors.h"
#include "json.h"

/* ------------------------------------------------------------ where */

struct client_conf {
	char url[1024];
};

static const struct conf_item client_conf_items[] = {
	CONF_ITEM_STR("cli", "url", struct client_conf, url, ""),
};

/*
 * $XDG_CONFIG_HOME/vmctl/config, else ~/.config/vmctl/config; NULL when
 * neither variable is set. Malloc'ed.
 */
static char *
client_conf_path(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/vmctl/config", xdg);
	if (home != NULL && home[0] != '\0')
		return xasprintf("%s/.config/vmctl/config", home);
	return NULL;
}

static bool
client_url_ok(const char *url)
{
	return strncmp(url, "http://", 7) == 0 ||
	    strncmp(url, "https://", 8) == 0;
}

/* Fill ctx->url unless --url gave it. A missing config file is fine. */
static int
client_url_resolve(struct cli_ctx *ctx, struct vm_error *err)
{
	struct client_conf cf;
	const char *env;
	char *path = NULL;
	int ret = -1;

	if (ctx->url_set)
		return 0;
	env = getenv("VMCTL_URL");
	if (env != NULL && env[0] != '\0') {
		if (!client_url_ok(env) ||
		    str_copy(ctx->url, sizeof(ctx->url), env) < 0) {
			vm_error_set(err, API_EINVAL, "VMCTL_URL: '%.200s' is "
			    "not an http:// or https:// URL", env);
			goto cleanup;
		}
		ret = 0;
		goto cleanup;
	}
	str_copy(ctx->url, sizeof(ctx->url), CLI_DEFAULT_URL);
	path = client_conf_path();
	if (path == NULL || access(path, F_OK) != 0) {
		ret = 0;
		goto cleanup;
	}
	conf_defaults(client_conf_items, ARRAY_SIZE(client_conf_items), &cf);
	if (conf_load(path, client_conf_items, ARRAY_SIZE(client_conf_items),
	    &cf, err) < 0)
		goto cleanup;
	if (cf.url[0] != '\0') {
		if (!client_url_ok(cf.url)) {
			vm_error_set(err, API_EINVAL, "%s: url: '%.200s' is "
			    "not an http:// or https:// URL", path, cf.url);
			goto cleanup;
		}
		str_copy(ctx->url, sizeof(ctx->url), cf.url);
	}
	ret = 0;
cleanup:
	free(path);
	return ret;
}

static long
client_request_ms(const struct cli_ctx *ctx)
{
	int64_t s = ctx->timeout_s < CLI_REQUEST_S ? ctx->timeout_s :
	    CLI_REQUEST_S;

	return (long)s * 1000;
}

static struct http_client *
client_http(struct cli_ctx *ctx, struct vm_error *err)
{
	if (ctx->http != NULL)
		return ctx->http;
	if (client_url_resolve(ctx, err) < 0)
		return NULL;
	ctx->http = http_client_new(ctx->url, client_request_ms(ctx));
	return ctx->http;
}

void
client_free(struct cli_ctx *ctx)
{
	http_client_free(ctx->http);
	ctx->http = NULL;
}

/* ------------------------------------------------------------ requests */

int
client_call(struct cli_ctx *ctx, const char *method, const char *path,
    json_object *body, const char *idem_key, json_object **answer,
    struct vm_error *err)
{
	struct http_client *hc, *once = NULL;
	char *text = NULL, *resp = NULL, *hdr = NULL;
	long status = 0;
	int ret = -1;

	*answer = NULL;
	if ((hc = client_http(ctx, err)) == NULL)
		goto cleanup;
	if (idem_key != NULL) {
		/* The header belongs to this request only, not to polls. */
		once = http_client_new(ctx->url, client_request_ms(ctx));
		hdr = xasprintf("Idempotency-Key: %s", idem_key);
		http_client_add_header(once, hdr);
		hc = once;
	}
	if (body != NULL)
		text = json_dump(body);
	if (http_request(hc, method, path, text, 0, &status, &resp,
	    err) < 0) {
		/* lib/http fills a generic code; make it ours. */
		err->code = API_ETRANSPORT;
		goto cleanup;
	}
	if (status < 200 || status > 299) {
		api_error_decode(resp, status, err);
		goto cleanup;
	}
	if (resp[strspn(resp, " \t\r\n")] != '\0') {
		*answer = json_parse(resp, strlen(resp), API_EINTERNAL, err);
		if (*answer == NULL) {
			char msg[sizeof(err->message)];

			memcpy(msg, err->message, sizeof(msg));
			vm_error_set(err, API_EINTERNAL,
			    "%s %s: unexpected answer from vmctld: %s",
			    method, path, msg);
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	http_client_free(once);
	free(hdr);
	free(text);
	free(resp);
	return ret;
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = { 0 };
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL) {
			buf_append(&b, p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

			buf_append(&b, e, 3);
		}
	}
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
}

#define CLIENT_MAX_PAGES 100000

int
client_list(struct cli_ctx *ctx, const char *path, json_object **items,
    struct vm_error *err)
{
	json_object *all = json_object_new_array(), *page = NULL, *arr, *next;
	char *cursor = NULL, *url = NULL, *esc = NULL;
	int ret = -1, npages;
	size_t i;

	*items = NULL;
	for (npages = 0; npages < CLIENT_MAX_PAGES; npages++) {
		free(url);
		free(esc);
		esc = cursor != NULL ? client_escape(cursor) : NULL;
		url = esc == NULL ? xstrdup(path) : xasprintf("%s%safter=%s",
		    path, strchr(path, '?') != NULL ? "&" : "?", esc);
		json_object_put(page);
		if (client_call(ctx, "GET", url, NULL, NULL, &page, err) < 0)
			goto cleanup;
		if (page == NULL ||
		    !json_object_object_get_ex(page, "items", &arr) ||
		    !json_object_is_type(arr, json_type_array)) {
			vm_error_set(err, API_EINTERNAL, "GET %s: unexpected "
			    "answer from vmctld: no \"items\" array", url);
			goto cleanup;
		}
		for (i = 0; i < json_object_array_length(arr); i++)
			json_object_array_add(all, json_object_get(
			    json_object_array_get_idx(arr, i)));
		if (!json_object_object_get_ex(page, "next", &next) ||
		    next == NULL) {
			*items = all;
			all = NULL;
			ret = 0;
			goto cleanup;
		}
		if (!json_object_is_type(next, json_type_string) ||
		    (cursor != NULL &&
		    strcmp(cursor, json_object_get_string(next)) == 0)) {
			vm_error_set(err, API_EINTERNAL, "GET %s: unexpected "
			    "answer from vmctld: bad \"next\" cursor", url);
			goto cleanup;
		}
		free(cursor);
		cursor = xstrdup(json_object_get_string(next));
	}
	vm_error_set(err, API_EINTERNAL, "GET %s: more than %d pages", path,
	    CLIENT_MAX_PAGES);
cleanup:
	json_object_put(all);
	json_object_put(page);
	free(cursor);
	free(url);
	free(esc);
	return ret;
}

/* ------------------------------------------------------------ codecs */

int
client_decode(const struct api_schema *s, json_object *o, void *obj,
    struct vm_error *err)
{
	char msg[sizeof(err->message)];

	if (api_decode(s, o, obj, API_STORED, err) == 0)
		return 0;
	memcpy(msg, err->message, sizeof(msg));
	vm_error_set(err, API_EINTERNAL, "unexpected answer from vmctld "
	    "(is it a different version?): %s", msg);
	return -1;
}

/* Drop members the server sets (AF_RO) and members that are null. */
static void
client_strip(const struct api_schema *s, json_object *o)
{
	json_object *v;
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		const struct api_field *f = &s->fields[i];

		if (!json_object_object_get_ex(o, f->name, &v))
			continue;
		if ((f->flags & AF_RO) || v == NULL)
			json_object_object_del(o, f->name);
		else if (f->type == AF_SUB)
			client_strip(f->sub, v);
	}
}

json_object *
client_encode_input(const struct api_schema *s, const void *obj,
    struct vm_error *err)
{
	json_object *o = api_encode(s, obj);
	void *check = xmalloc(s->size);

	client_strip(s, o);
	if (api_decode(s, o, check, API_INPUT, err) < 0) {
		json_object_put(o);
		o = NULL;
	}
	free(check);
	return o;
}

int
client_show_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const char *collection, const char *what, const struct api_schema *s,
    int (*check)(const struct cli_ctx *, const char *, const char *))
{
	struct cli_getopt g;
	char *path = NULL;
	int ch, ret;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, what) < 0 ||
	    check(ctx, what, argv[optind]) < 0)
		return CLI_USAGE;
	path = xasprintf("%s/%s", collection, argv[optind]);
	ret = client_show(ctx, path, s);
	free(path);
	return ret;
}

int
client_show(struct cli_ctx *ctx, const char *path,
    const struct api_schema *s)
{
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	void *obj = xmalloc(s->size);
	int ret = CLI_ERR;

	if (client_call(ctx, "GET", path, NULL, NULL, &ans, &err) < 0 ||
	    client_decode(s, ans, obj, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_show(ctx, ans);
	ret = CLI_OK;
cleanup:
	json_object_put(ans);
	free(obj);
	return ret;
}

void
client_error_print(const struct cli_ctx *ctx, const struct vm_error *err)
{
	fprintf(stderr, "vmctl: %s\n", err->message[0] ? err->message :
	    api_err_name(err->code));
	switch (err->code) {
	case API_ETRANSPORT:
		fprintf(stderr, "vmctl: is vmctld running at %s? check --url "
		    "/ VMCTL_URL\n", ctx->url);
		break;
	case API_EUNAUTH:
	case API_EFORBIDDEN:
		fprintf(stderr, "vmctl: check your credentials\n");
		break;
	default:
		break;
	}
}
