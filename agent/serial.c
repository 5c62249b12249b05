/*
 * serial: answer a console task with a chunk of the VM's serial log
 * (serial.h). A log shorter than the asked position was started anew
 * (the domain was re-created): the chunk then starts at 0. A missing log
 * is an empty one.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "disks.h"
#include "errors.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "serial.h"
#include "util.h"

#define SERIAL_POST_MS 15000

int
serial_send(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct api_console c;
	struct http_client *hc = NULL;
	struct stat st;
	char *path = disks_console_path(a->conf.state_dir, t->vm_id);
	char *buf = xmalloc(API_CONSOLE_CHUNK), *body = NULL, *resp = NULL;
	int64_t off = t->console_offset;
	ssize_t got = 0, shrunk;
	size_t len = 0;
	int tries;
	long status = 0;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		vm_error_set(err, API_EINTERNAL, "console log %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < off)
		off = 0;
	/* A first look, or a gap wider than the controller keeps: the
	 * newest chunk (older bytes would not be shown anyway). */
	else if (st.st_size - off > API_CONSOLE_CHUNK && (off == 0 ||
	    st.st_size - off > API_CONSOLE_KEEP))
		off = st.st_size - API_CONSOLE_CHUNK;
	if (fd >= 0 && (got = pread(fd, buf, API_CONSOLE_CHUNK, off)) < 0) {
		vm_error_set(err, API_EINTERNAL, "read %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	memset(&c, 0, sizeof(c));
	str_copy(c.vm_id, sizeof(c.vm_id), t->vm_id);
	c.offset = off;
	/*
	 * Fit the ENCODED body in API_CONSOLE_BODY_MAX: 8 KiB of newlines
	 * is ~190 KiB of JSON. Shrink the byte count in proportion until
	 * it fits (bounded: a handful of rounds; one byte always fits);
	 * the controller asks again from the new end for the rest.
	 */
	for (tries = 0; ; tries++) {
		c.end = off + got;
		body = api_console_format(&c, buf, (size_t)got);
		len = strlen(body);
		if (len <= API_CONSOLE_BODY_MAX || got <= 1 || tries >= 16)
			break;
		free(body);
		body = NULL;
		shrunk = (ssize_t)((double)got * API_CONSOLE_BODY_MAX /
		    (double)len * 0.95);
		got = shrunk < got ? (shrunk > 0 ? shrunk : 1) : got - 1;
	}
	hc = agent_http_client(a, SERIAL_POST_MS);
	if (http_request(hc, "POST", "/v1/agent/console", body, 0, &status,
	    &resp, err) < 0)
		goto cleanup;
	if (status != 200) {
		api_error_decode(resp, status, err);
		goto cleanup;
	}
	log_debug("vm %s: console %lld..%lld sent", t->vm_name,
	    (long long)c.offset, (long long)c.end);
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	http_client_free(hc);
	free(body);
	free(resp);
	free(buf);
	free(path);
	return ret;
}
