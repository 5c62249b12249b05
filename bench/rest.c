/*
 * rest: REST calls and identity setup for bench/provision (see rest.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#include "errors.h"
#include "identity.h"
#include "json.h"
#include "rest.h"
#include "util.h"

int
rest_call(struct http_client *c, const char *method, const char *path,
    const char *body, long want, json_object **out, struct vm_error *err)
{
	char *resp = NULL;
	long status = 0;
	int ret = -1;

	if (out != NULL)
		*out = NULL;
	if (http_request(c, method, path, body, 0, &status, &resp, err) < 0)
		goto cleanup;
	if (status != want) {
		struct vm_error e2 = { 0, "" };

		/* Not err->message into itself: the buffers would overlap. */
		api_error_decode(resp, status, &e2);
		vm_error_set(err, e2.code, "%s %s: HTTP %ld: %s", method,
		    path, status, e2.message);
		goto cleanup;
	}
	if (out != NULL && (*out = json_parse(resp, strlen(resp),
	    API_EMALFORMED, err)) == NULL)
		goto cleanup;
	ret = 0;
cleanup:
	free(resp);
	return ret;
}

static bool
rest_token_valid(const char *tok)
{
	return strlen(tok) == API_TOKEN_LEN && strncmp(tok, API_TOKEN_PREFIX,
	    strlen(API_TOKEN_PREFIX)) == 0;
}

char *
rest_bootstrap_admin(const char *vmctld, const char *store,
    const char *logpath, struct vm_error *err)
{
	char *prog = xstrdup(vmctld);
	char *opt = xasprintf("store.path=%s", store);
	char *argv[] = { prog, "--bootstrap-admin", "-c", "/dev/null", "-o",
	    opt, NULL };
	char tok[API_TOKEN_LEN + 2], *ret = NULL;
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int pfd[2] = { -1, -1 }, fd, st = 0;

	memset(tok, 0, sizeof(tok));
	if (pipe(pfd) < 0) {
		vm_error_set(err, API_EINTERNAL, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	if ((pid = fork()) < 0) {
		vm_error_set(err, API_EINTERNAL, "fork: %s", strerror(errno));
		goto cleanup;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	while (n < sizeof(tok) - 1 && (r = read(pfd[0], tok + n,
	    sizeof(tok) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	tok[strcspn(tok, "\n")] = '\0';
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !rest_token_valid(tok)) {
		vm_error_set(err, API_EINTERNAL, "vmctld --bootstrap-admin "
		    "failed (status %d; see %s)", WIFEXITED(st) ?
		    WEXITSTATUS(st) : -1, logpath);
		goto cleanup;
	}
	ret = xstrdup(tok);
cleanup:
	explicit_bzero(tok, sizeof(tok));
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(prog);
	free(opt);
	return ret;
}

int
rest_enroll_host(struct http_client *c, const char *name, const char *site,
    const char *token_path, struct vm_error *err)
{
	json_object *o = NULL;
	const char *tok;
	char body[256];
	int ret = -1;

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"site\":\"%s\"}",
	    name, site);
	if (rest_call(c, "POST", "/v1/hosts", body, 201, &o, err) < 0)
		goto cleanup;
	if ((tok = json_get_str(o, "token")) == NULL ||
	    !rest_token_valid(tok)) {
		vm_error_set(err, API_EMALFORMED, "POST /v1/hosts: no token "
		    "for host %s", name);
		goto cleanup;
	}
	if (file_write_atomic(token_path, tok, strlen(tok), 0600) < 0) {
		vm_error_set(err, API_EINTERNAL, "%s: %s", token_path,
		    strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	json_object_put(o);
	return ret;
}

int
rest_agency_unlimited(struct http_client *c, const char *name,
    struct vm_error *err)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"quota\":"
	    "{\"instances\":-1,\"vcpus\":-1,\"ram_mib\":-1,\"disk_gib\":-1}}",
	    name);
	return rest_call(c, "POST", "/v1/agencies", body, 201, NULL, err);
}
