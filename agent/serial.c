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
	struct api_console_line *lines = NULL;
	struct api_console c;
	struct http_client *hc = NULL;
	struct stat st;
	char *path = disks_console_path(a->conf.state_dir, t->vm_id);
	char *buf = xmalloc(API_CONSOLE_CHUNK), *body = NULL, *resp = NULL;
	json_object *o = NULL;
	int64_t off = t->console_offset;
	ssize_t got = 0;
	size_t n;
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
	c.end = off + got;
	n = api_console_lines(buf, (size_t)got, &lines);
	o = api_console_encode(&c, lines, n);
	body = json_dump(o);
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
	json_object_put(o);
	free(lines);
	free(body);
	free(resp);
	free(buf);
	free(path);
	return ret;
}
