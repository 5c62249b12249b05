/*
 * vmctl client: where the controller is and who we are (--url/--token/
 * --ca-file, $VMCTL_URL/$VMCTL_TOKEN/$VMCTL_CA_FILE, the config file, the
 * default), one HTTP request with JSON in and out (lib/http.c), list
 * paging, and the codec glue for request bodies and answers.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "log.h"

/* ------------------------------------------------------------ where */

struct client_conf {
	char url[1024];
	char token[CLI_TOKEN_MAX];
	char ca_file[CLI_FILE_MAX];
};

static const struct conf_item client_conf_items[] = {
	CONF_ITEM_STR("cli", "url", struct client_conf, url, ""),
	CONF_ITEM_STR("cli", "token", struct client_conf, token, ""),
	CONF_ITEM_STR("cli", "ca_file", struct client_conf, ca_file, ""),
};

char *
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

/* Like ssh: a token others can read is no longer a secret. */
static void
client_conf_perm_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(stderr, "vmctl: warning: %s holds a token and others "
		    "may read it: chmod 600 it\n", path);
}

/*
 * Fill what the environment did not give from the config file. A missing
 * file is fine; a broken one is an error even if it would not be needed
 * for the missing setting, so mistakes show early.
 */
static int
client_conf_fill(struct cli_ctx *ctx, bool url, bool token, bool ca,
    struct vm_error *err)
{
	struct client_conf cf;
	char *path = NULL;
	int ret = -1;

	path = client_conf_path();
	if (path == NULL || access(path, F_OK) != 0) {
		ret = 0;
		goto cleanup;
	}
	conf_defaults(client_conf_items, ARRAY_SIZE(client_conf_items), &cf);
	if (conf_load(path, client_conf_items, ARRAY_SIZE(client_conf_items),
	    &cf, err) < 0)
		goto cleanup;
	if (!url && cf.url[0] != '\0') {
		if (!client_url_ok(cf.url) ||
		    str_copy(ctx->url, sizeof(ctx->url), cf.url) < 0) {
			vm_error_set(err, API_EINVAL, "%s: url: '%.200s' is "
			    "not an http:// or https:// URL", path, cf.url);
			goto cleanup;
		}
	}
	if (!token && cf.token[0] != '\0') {
		if (!cli_token_valid(cf.token)) {
			vm_error_set(err, API_EINVAL, "%s: token: not a vmctl "
			    "token (vmctl_ and 64 hex digits)", path);
			goto cleanup;
		}
		str_copy(ctx->token, sizeof(ctx->token), cf.token);
		client_conf_perm_check(path);
	}
	if (!ca && cf.ca_file[0] != '\0')
		str_copy(ctx->ca_file, sizeof(ctx->ca_file), cf.ca_file);
	ret = 0;
cleanup:
	explicit_bzero(&cf, sizeof(cf));
	free(path);
	return ret;
}

int
client_resolve(struct cli_ctx *ctx, struct vm_error *err)
{
	bool url = ctx->url_set, token = ctx->token_set, ca = ctx->ca_set;
	const char *env;

	if (ctx->resolved)
		return 0;
	if (!url) {
		str_copy(ctx->url, sizeof(ctx->url), CLI_DEFAULT_URL);
		env = getenv("VMCTL_URL");
		if (env != NULL && env[0] != '\0') {
			if (!client_url_ok(env) ||
			    str_copy(ctx->url, sizeof(ctx->url), env) < 0) {
				vm_error_set(err, API_EINVAL, "VMCTL_URL: "
				    "'%.200s' is not an http:// or https:// "
				    "URL", env);
				return -1;
			}
			url = true;
		}
	}
	env = getenv("VMCTL_TOKEN");
	if (!token && env != NULL && env[0] != '\0') {
		if (!cli_token_valid(env)) {
			vm_error_set(err, API_EINVAL, "VMCTL_TOKEN: not a "
			    "vmctl token (vmctl_ and 64 hex digits)");
			return -1;
		}
		str_copy(ctx->token, sizeof(ctx->token), env);
		token = true;
	}
	env = getenv("VMCTL_CA_FILE");
	if (!ca && env != NULL && env[0] != '\0') {
		if (str_copy(ctx->ca_file, sizeof(ctx->ca_file), env) < 0) {
			vm_error_set(err, API_EINVAL, "VMCTL_CA_FILE: longer "
			    "than %d characters", CLI_FILE_MAX - 1);
			return -1;
		}
		ca = true;
	}
	if ((!url || !token || !ca) &&
	    client_conf_fill(ctx, url, token, ca, err) < 0)
		return -1;
	ctx->resolved = true;
	return 0;
}

static long
client_request_ms(const struct cli_ctx *ctx)
{
	int64_t s = ctx->timeout_s < CLI_REQUEST_S ? ctx->timeout_s :
	    CLI_REQUEST_S;

	return (long)s * 1000;
}

void
client_free(struct cli_ctx *ctx)
{
	http_client_free(ctx->http);
	ctx->http = NULL;
	explicit_bzero(ctx->token, sizeof(ctx->token));
}

/* ------------------------------------------------------------ requests */

/* The HTTP client, made on first use with url, token and CA. */
static int
client_http(struct cli_ctx *ctx, struct vm_error *err)
{
	if (client_resolve(ctx, err) < 0)
		return -1;
	if (ctx->http == NULL) {
		/* Say which file, rather than curl's "CA cert (path?)". */
		if (ctx->ca_file[0] != '\0' &&
		    strncmp(ctx->url, "https://", 8) == 0 &&
		    access(ctx->ca_file, R_OK) != 0) {
			vm_error_set(err, API_EINVAL, "CA file %.900s: %s",
			    ctx->ca_file, strerror(errno));
			return -1;
		}
		/* Once per run, before the token is sent (issue 8). */
		if (http_url_plain_remote(ctx->url))
			fprintf(stderr, "vmctl: warning: %.900s is plain http "
			    "to a remote host: your token and everything "
			    "you send cross the network in clear; use "
			    "https://\n", ctx->url);
		ctx->http = http_client_new(ctx->url, client_request_ms(ctx));
		http_client_set_errcode(ctx->http, API_ETRANSPORT);
		http_client_set_tls(ctx->http, ctx->ca_file, NULL, NULL);
		if (ctx->token[0] != '\0') {
			char *auth = xasprintf("Authorization: Bearer %s",
			    ctx->token);

			http_client_add_header(ctx->http, auth);
			explicit_bzero(auth, strlen(auth));
			free(auth);
		}
	}
	return 0;
}

/*
 * With $VMCTL_TRACE_FILE set, append one JSON line per answer (method,
 * path, status, body as a string) to that file, made 0600: the test suite
 * checks every answer against api/openapi.yaml
 * (tests/integration/check_responses.py). One write(2) per line with
 * O_APPEND, so concurrent vmctl processes do not mix their lines. The
 * bodies may hold new tokens: a debugging aid, never on by default.
 */
static void
client_trace(const char *method, const char *path, const struct http_resp *r)
{
	const char *file = getenv("VMCTL_TRACE_FILE");
	json_object *o;
	char *line;
	size_t len;
	int fd;

	if (file == NULL || file[0] == '\0')
		return;
	o = json_object_new_object();
	json_object_object_add(o, "method", json_object_new_string(method));
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "status", json_object_new_int64(r->status));
	json_object_object_add(o, "body", json_object_new_string(r->body));
	line = xasprintf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	len = strlen(line);
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, line, len) != (ssize_t)len)
			log_warnx("VMCTL_TRACE_FILE %s: short write", file);
		close(fd);
	}
	free(line);
}

/* The answer of a request: *answer parsed on 2xx, else err. */
static int
client_answer(struct cli_ctx *ctx, const char *method, const char *path,
    struct http_resp *r, json_object **answer, struct vm_error *err)
{
	client_trace(method, path, r);
	ctx->retry_after_s = r->retry_after_s;
	if (r->status < 200 || r->status > 299) {
		api_error_decode(r->body, r->status, err);
		return -1;
	}
	if (r->body[strspn(r->body, " \t\r\n")] != '\0') {
		*answer = json_parse(r->body, strlen(r->body), API_EINTERNAL,
		    err);
		if (*answer == NULL) {
			char msg[sizeof(err->message)];

			memcpy(msg, err->message, sizeof(msg));
			vm_error_set(err, API_EINTERNAL,
			    "%s %s: unexpected answer from vmctld: %s",
			    method, path, msg);
			return -1;
		}
	}
	return 0;
}

int
client_upload(struct cli_ctx *ctx, const char *path,
    const struct http_part *parts, size_t nparts, json_object **answer,
    struct vm_error *err)
{
	struct http_resp r = { 0, NULL, -1, false };
	int ret = -1;

	*answer = NULL;
	ctx->retry_after_s = -1;
	ctx->tls_failed = false;
	if (client_http(ctx, err) < 0)
		goto cleanup;
	if (http_upload(ctx->http, path, parts, nparts, 0, &r, err) < 0) {
		ctx->tls_failed = r.tls_failed;
		goto cleanup;
	}
	ret = client_answer(ctx, "POST", path, &r, answer, err);
cleanup:
	free(r.body);
	return ret;
}

int
client_call(struct cli_ctx *ctx, const char *method, const char *path,
    json_object *body, const char *idem_key, json_object **answer,
    struct vm_error *err)
{
	struct http_resp r = { 0, NULL, -1, false };
	struct buf qpath = { NULL, 0, 0 };
	char *text = NULL, *hdr = NULL;
	int ret = -1;

	*answer = NULL;
	ctx->retry_after_s = -1;
	ctx->tls_failed = false;
	if (client_http(ctx, err) < 0)
		goto cleanup;
	if (idem_key != NULL)
		hdr = xasprintf("Idempotency-Key: %s", idem_key);
	if (body != NULL)
		text = json_dump(body);
	/* Global --agency: names resolve in that agency (admins, operators;
	 * an agency's own users always resolve in theirs). */
	if (ctx->agency[0] != '\0' && strstr(path, "agency=") == NULL) {
		buf_printf(&qpath, "%s", path);
		client_query_add(&qpath, "agency", ctx->agency);
		path = qpath.data;
	}
	if (http_request_ex(ctx->http, method, path, text, hdr, 0, &r,
	    err) < 0) {
		ctx->tls_failed = r.tls_failed;
		goto cleanup;
	}
	if (client_answer(ctx, method, path, &r, answer, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	buf_free(&qpath);
	free(hdr);
	free(text);
	free(r.body);
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

void
client_query_add(struct buf *path, const char *key, const char *value)
{
	char *esc = client_escape(value);

	buf_printf(path, "%s%s=%s", path->data != NULL &&
	    strchr(path->data, '?') != NULL ? "&" : "?", key, esc);
	free(esc);
}

#define CLIENT_MAX_PAGES 100000

int
client_list_each(struct cli_ctx *ctx, const char *path, size_t max,
    client_item_fn *fn, void *arg, struct vm_error *err)
{
	json_object *page = NULL, *arr, *next;
	char *cursor = NULL, *url = NULL, *esc = NULL;
	size_t i, n, count = 0;
	int ret = -1, npages;

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
		n = json_object_array_length(arr);
		for (i = 0; i < n && (max == 0 || count < max); i++, count++)
			if (fn(json_object_array_get_idx(arr, i), arg,
			    err) < 0)
				goto cleanup;
		if ((max != 0 && count >= max) ||
		    !json_object_object_get_ex(page, "next", &next) ||
		    next == NULL) {
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
	json_object_put(page);
	free(cursor);
	free(url);
	free(esc);
	return ret;
}

static int
client_list_add(json_object *item, void *arg, struct vm_error *err)
{
	(void)err;
	json_object_array_add(arg, json_object_get(item));
	return 0;
}

int
client_list_max(struct cli_ctx *ctx, const char *path, size_t max,
    json_object **items, struct vm_error *err)
{
	json_object *all = json_object_new_array();

	*items = NULL;
	if (client_list_each(ctx, path, max, client_list_add, all,
	    err) < 0) {
		json_object_put(all);
		return -1;
	}
	*items = all;
	return 0;
}

int
client_list(struct cli_ctx *ctx, const char *path, json_object **items,
    struct vm_error *err)
{
	return client_list_max(ctx, path, 0, items, err);
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
		else if (f->type == AF_ARR &&
		    json_object_array_length(v) == 0)
			json_object_object_del(o, f->name);
		else if (f->type == AF_ARR) {
			size_t k;

			for (k = 0; k < json_object_array_length(v); k++)
				client_strip(f->sub,
				    json_object_array_get_idx(v, k));
		}
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
client_delete_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const char *collection, const char *noun, const char *extra)
{
	struct vm_error err = { 0 };
	json_object *ans = NULL;
	struct cli_getopt g;
	char *path = NULL;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 1, "NAME") < 0 ||
	    cli_check_name(ctx, "NAME", argv[optind]) < 0)
		return CLI_USAGE;
	path = xasprintf("%s/%s", collection, argv[optind]);
	if (client_call(ctx, "DELETE", path, NULL, NULL, &ans, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_msg(ctx, "%s %s deleted%s", noun, argv[optind], extra);
	ret = CLI_OK;
cleanup:
	json_object_put(ans);
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
	output_safe_printf(stderr, "vmctl: %s\n", err->message[0] ?
	    err->message : api_err_name(err->code));
	switch (err->code) {
	case API_ETRANSPORT:
		if (ctx->tls_failed)
			fprintf(stderr, "vmctl: could not verify vmctld's "
			    "certificate: check --ca-file / VMCTL_CA_FILE\n");
		else
			fprintf(stderr, "vmctl: is vmctld running at %s? check "
			    "--url / VMCTL_URL\n", ctx->url);
		break;
	case API_EUNAUTH:
		if (ctx->token[0] == '\0')
			fprintf(stderr, "vmctl: no token: run 'vmctl login' "
			    "or give --token / VMCTL_TOKEN\n");
		else
			fprintf(stderr, "vmctl: the token was refused: run "
			    "'vmctl login' again or check --token / "
			    "VMCTL_TOKEN\n");
		break;
	case API_EFORBIDDEN:
		fprintf(stderr, "vmctl: your role does not allow this (see "
		    "'vmctl whoami')\n");
		break;
	case API_ERATE:
		if (ctx->retry_after_s >= 0)
			fprintf(stderr, "vmctl: too many requests: retry in "
			    "%lld second%s\n", (long long)ctx->retry_after_s,
			    ctx->retry_after_s == 1 ? "" : "s");
		else
			fprintf(stderr, "vmctl: too many requests: retry "
			    "later\n");
		break;
	default:
		break;
	}
}

/* ------------------------------------------------- whole commands */

/* getopt values of a list command's filters (past the global ones). */
#define CLIENT_LIST_OPT		0x300
#define CLIENT_LIST_OPT_LIMIT	0x3ff

int
client_list_cmd(struct cli_ctx *ctx, int argc, char **argv,
    const struct client_list_spec *spec)
{
	struct option lo[CLIENT_LIST_FILTERS_MAX + 2];
	const char *val[CLIENT_LIST_FILTERS_MAX] = { NULL };
	const struct client_list_filter *f;
	struct vm_error err = { 0 };
	struct output_table *t = NULL;
	json_object *items = NULL, *it;
	struct cli_getopt g;
	struct buf path = { 0 };
	int64_t limit = 0;
	void *obj = NULL;
	size_t i, n = 0;
	int ch, ret = CLI_ERR;

	if (spec->nfilters > CLIENT_LIST_FILTERS_MAX)
		fatalx("client_list_cmd %s: too many filters", spec->path);
	for (i = 0; i < spec->nfilters; i++)
		lo[n++] = (struct option){ spec->filters[i].opt + 2,
		    required_argument, NULL, CLIENT_LIST_OPT + (int)i };
	if (spec->limit)
		lo[n++] = (struct option){ "limit", required_argument, NULL,
		    CLIENT_LIST_OPT_LIMIT };
	lo[n] = (struct option){ NULL, 0, NULL, 0 };

	cli_getopt_init(&g, ctx, "", lo);
	while ((ch = cli_getopt_next(&g, argc, argv)) != -1) {
		if (ch == CLIENT_LIST_OPT_LIMIT && spec->limit) {
			if (cli_parse_int(ctx, "--limit", optarg, 1, 100000000,
			    &limit) < 0)
				return CLI_USAGE;
			continue;
		}
		if (ch < CLIENT_LIST_OPT ||
		    ch >= CLIENT_LIST_OPT + (int)spec->nfilters)
			return cli_getopt_status(ch);
		f = &spec->filters[ch - CLIENT_LIST_OPT];
		if (f->check(ctx, f->opt, optarg) < 0)
			return CLI_USAGE;
		val[ch - CLIENT_LIST_OPT] = optarg;
	}
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;

	buf_printf(&path, "%s", spec->path);
	for (i = 0; i < spec->nfilters; i++)
		if (val[i] != NULL)
			client_query_add(&path, spec->filters[i].opt + 2,
			    val[i]);
	if (client_list_max(ctx, path.data, (size_t)limit, &items, &err) < 0)
		goto fail;
	obj = xmalloc(spec->schema->size);
	t = output_table_new(spec->headers, spec->ncols);
	for (i = 0; i < json_object_array_length(items); i++) {
		it = json_object_array_get_idx(items, i);
		if (spec->prep != NULL)
			spec->prep(it);
		if (client_decode(spec->schema, it, obj, &err) < 0)
			goto fail;
		spec->row(t, obj);
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
	free(obj);
	return ret;
}

int
client_create(struct cli_ctx *ctx, const char *path,
    const struct api_schema *s, void *obj)
{
	struct vm_error err = { 0 };
	json_object *body = NULL, *ans = NULL;
	int ret = CLI_USAGE;

	if ((body = client_encode_input(s, obj, &err)) == NULL) {
		cli_usage_error(ctx, "%s", err.message);
		goto cleanup;
	}
	ret = CLI_ERR;
	if (client_call(ctx, "POST", path, body, NULL, &ans, &err) < 0 ||
	    client_decode(s, ans, obj, &err) < 0) {
		client_error_print(ctx, &err);
		goto cleanup;
	}
	output_show(ctx, ans);
	ret = CLI_OK;
cleanup:
	json_object_put(body);
	json_object_put(ans);
	return ret;
}
