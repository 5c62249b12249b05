/*
 * vmctl login|whoami: check a token with GET /v1/whoami and save it, with
 * the URL and CA file, in the [cli] section of the config file (mode
 * 0600, written atomically, other lines kept as they are). The token is
 * read from --token or one line of stdin, never echoed or printed.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "errors.h"
#include "identity.h"

#define LOGIN_CONF_MAX	((size_t)1024 * 1024)

/* --------------------------------------------------------- the token */

/* Terminal state to restore if a signal ends a no-echo read. */
static struct termios login_tty_saved;
static volatile sig_atomic_t login_tty_dirty;

static void
login_tty_restore(int sig)
{
	if (login_tty_dirty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &login_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * One line of stdin into buf (trailing blanks and newline cut). On a
 * terminal: a prompt on stderr and no echo. -1 + err at EOF or if the
 * line does not fit.
 */
static int
login_read_token(const struct cli_ctx *ctx, char *buf, size_t size,
    struct vm_error *err)
{
	struct sigaction sa, old_int, old_term, old_hup;
	struct termios noecho;
	bool tty = isatty(STDIN_FILENO) == 1;
	size_t n;
	int ret = -1;

	if (tty) {
		fprintf(stderr, "Token for %s: ", ctx->url);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &login_tty_saved) == 0) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = login_tty_restore;
			sigemptyset(&sa.sa_mask);
			sigaction(SIGINT, &sa, &old_int);
			sigaction(SIGTERM, &sa, &old_term);
			sigaction(SIGHUP, &sa, &old_hup);
			noecho = login_tty_saved;
			noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			login_tty_dirty = 1;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		}
	}
	if (fgets(buf, (int)size, stdin) == NULL) {
		vm_error_set(err, API_EINVAL, "no token on standard input");
		goto cleanup;
	}
	n = strlen(buf);
	if (n == size - 1 && buf[n - 1] != '\n') {
		vm_error_set(err, API_EINVAL, "the line on standard input is "
		    "too long for a token");
		goto cleanup;
	}
	while (n > 0 && strchr(" \t\r\n", buf[n - 1]) != NULL)
		buf[--n] = '\0';
	n = strspn(buf, " \t");
	memmove(buf, buf + n, strlen(buf + n) + 1);
	ret = 0;
cleanup:
	if (login_tty_dirty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &login_tty_saved);
		login_tty_dirty = 0;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
	}
	if (tty)
		fputc('\n', stderr);
	if (ret < 0)
		explicit_bzero(buf, size);
	return ret;
}

/* ------------------------------------------------------- config file */

struct login_kv {
	const char *key;
	const char *value;	/* NULL: leave the file's line alone */
	bool done;
};

/* "  key = v" -> true if its key is `key`. */
static bool
login_line_is(const char *line, size_t len, const char *key)
{
	size_t k = strlen(key), i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i < k || strncmp(line + i, key, k) != 0)
		return false;
	for (i += k; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && (line[i] == '=' || line[i] == ':');
}

/* Section name of a "[name]" line into sec; false if not a header. */
static bool
login_line_section(const char *line, size_t len, char *sec, size_t size)
{
	const char *end;
	size_t i = 0, n;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= len || line[i] != '[')
		return false;
	end = memchr(line + i, ']', len - i);
	if (end == NULL)
		return false;
	n = (size_t)(end - (line + i + 1));
	if (n >= size)
		n = size - 1;
	memcpy(sec, line + i + 1, n);
	sec[n] = '\0';
	return true;
}

/* Add the keys not written yet, before the section's trailing blanks. */
static void
login_put_missing(struct buf *out, struct login_kv *kv, size_t nkv)
{
	size_t i, blanks = 0;

	while (out->len >= blanks + 2 &&
	    out->data[out->len - blanks - 1] == '\n' &&
	    out->data[out->len - blanks - 2] == '\n')
		blanks++;
	out->len -= blanks;
	for (i = 0; i < nkv; i++) {
		if (kv[i].value == NULL || kv[i].done)
			continue;
		buf_printf(out, "%s = %s\n", kv[i].key, kv[i].value);
		kv[i].done = true;
	}
	for (i = 0; i < blanks; i++)
		buf_append(out, "\n", 1);
}

/*
 * old (may be NULL) with the keys of kv set in [cli]: a key's first line
 * there is replaced, later ones dropped, missing ones added at the end of
 * the section (or in a new [cli] section). Everything else is kept.
 */
static char *
login_conf_edit(const char *old, struct login_kv *kv, size_t nkv)
{
	struct buf out = { 0 };
	const char *p = old != NULL ? old : "", *nl;
	char sec[64] = "";
	bool in_cli = false, seen_cli = false, skip;
	size_t len, i;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (login_line_section(p, len, sec, sizeof(sec))) {
			if (in_cli)
				login_put_missing(&out, kv, nkv);
			in_cli = strcmp(sec, "cli") == 0;
			seen_cli |= in_cli;
		}
		skip = false;
		for (i = 0; in_cli && i < nkv; i++) {
			if (kv[i].value == NULL ||
			    !login_line_is(p, len, kv[i].key))
				continue;
			if (!kv[i].done)
				buf_printf(&out, "%s = %s\n", kv[i].key,
				    kv[i].value);
			kv[i].done = true;
			skip = true;
			break;
		}
		if (!skip) {
			buf_append(&out, p, len);
			buf_append(&out, "\n", 1);
		}
		p += len + (nl != NULL ? 1 : 0);
	}
	if (in_cli)
		login_put_missing(&out, kv, nkv);
	if (!seen_cli) {
		if (out.len > 0)
			buf_append(&out, "\n", 1);
		buf_printf(&out, "[cli]\n");
		login_put_missing(&out, kv, nkv);
	}
	return out.data;
}

static bool
login_value_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Save url, token and ca_file (if any) in the config file. */
static int
login_conf_save(const struct cli_ctx *ctx, char **pathp, struct vm_error *err)
{
	char ca_abs[PATH_MAX];
	struct login_kv kv[] = {
		{ "url", ctx->url, false },
		{ "token", ctx->token, false },
		{ "ca_file", NULL, false },
	};
	char *path = NULL, *dir = NULL, *old = NULL, *text = NULL, *slash;
	int ret = -1;

	if (ctx->ca_file[0] != '\0')
		kv[2].value = realpath(ctx->ca_file, ca_abs) != NULL ?
		    ca_abs : ctx->ca_file;
	if (!login_value_ok(ctx->url) || (kv[2].value != NULL &&
	    !login_value_ok(kv[2].value))) {
		vm_error_set(err, API_EINVAL, "the URL or CA file name holds "
		    "control characters");
		goto cleanup;
	}
	if ((path = client_conf_path()) == NULL) {
		vm_error_set(err, API_EINVAL, "neither HOME nor "
		    "XDG_CONFIG_HOME is set: nowhere to save the token");
		goto cleanup;
	}
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (mkdir_p(dir, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "%s: %s", dir,
		    strerror(errno));
		goto cleanup;
	}
	if (file_read(path, LOGIN_CONF_MAX, &old, NULL) < 0 &&
	    errno != ENOENT) {
		vm_error_set(err, API_EINTERNAL, "%s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	text = login_conf_edit(old, kv, ARRAY_SIZE(kv));
	if (file_write_atomic(path, text, strlen(text), 0600) < 0) {
		vm_error_set(err, API_EINTERNAL, "%s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	/* An existing file keeps its mode through rename: not here. */
	if (chmod(path, 0600) < 0) {
		vm_error_set(err, API_EINTERNAL, "%s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	*pathp = path;
	path = NULL;
	ret = 0;
cleanup:
	if (old != NULL)
		explicit_bzero(old, strlen(old));
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	free(old);
	free(text);
	free(dir);
	free(path);
	return ret;
}

/* ------------------------------------------------------------ commands */

int
cmd_login(struct cli_ctx *ctx, int argc, char **argv)
{
	struct vm_error err = { 0 };
	struct api_whoami me;
	json_object *ans = NULL;
	struct cli_getopt g;
	char line[CLI_TOKEN_MAX + 2];
	char *path = NULL;
	int ch, ret = CLI_ERR;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	/* Not cli_want_args(): it would echo a token given as argument. */
	if (argc - optind > 0)
		return cli_usage_error(ctx, "no argument expected: give the "
		    "token with --token or on standard input");

	if (!ctx->token_set) {
		/* Only the URL is wanted for the prompt: not a token. */
		ctx->token_set = true;
		if (client_resolve(ctx, &err) < 0)
			goto fail;
		if (login_read_token(ctx, line, sizeof(line), &err) < 0) {
			fprintf(stderr, "vmctl: login: %s\n", err.message);
			return CLI_USAGE;
		}
		if (cli_check_token(ctx, "the token read from standard "
		    "input", line) < 0) {
			explicit_bzero(line, sizeof(line));
			return CLI_USAGE;
		}
		str_copy(ctx->token, sizeof(ctx->token), line);
		explicit_bzero(line, sizeof(line));
	}
	if (client_call(ctx, "GET", "/v1/whoami", NULL, NULL, &ans,
	    &err) < 0 || client_decode(&api_whoami_schema, ans, &me,
	    &err) < 0)
		goto fail;
	if (me.kind != TOKEN_USER) {
		fprintf(stderr, "vmctl: login: that is the token of host %s; "
		    "log in with a user's token\n", me.host);
		goto cleanup;
	}
	if (login_conf_save(ctx, &path, &err) < 0)
		goto fail;
	if (ctx->output == OUT_JSON) {
		output_json(ans);
	} else if (!ctx->quiet) {
		printf("logged in to %s as %s (role %s", ctx->url, me.user,
		    api_role_names[me.role]);
		if (me.agency[0] != '\0')
			printf(", agency %s", me.agency);
		printf(")\n");
	}
	output_msg(ctx, "saved in %s", path);
	ret = CLI_OK;
	goto cleanup;
fail:
	client_error_print(ctx, &err);
cleanup:
	json_object_put(ans);
	free(path);
	return ret;
}

int
cmd_whoami(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_getopt g;
	int ch;

	cli_getopt_init(&g, ctx, "", NULL);
	if ((ch = cli_getopt_next(&g, argc, argv)) != -1)
		return cli_getopt_status(ch);
	if (cli_want_args(ctx, argc, argv, 0, "") < 0)
		return CLI_USAGE;
	return client_show(ctx, "/v1/whoami", &api_whoami_schema);
}
