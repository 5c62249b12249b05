/*
 * console: a VM's serial log as it travels agent -> controller -> user.
 * Bytes are carried as lines (the codec refuses control characters in
 * strings): each {text, nl}, nl = a newline ended it (a CR before it is
 * dropped); other control bytes and non-ASCII become '?'. offset/end are positions
 * in the agent's log file. api_console_lines() allocates; the caller
 * frees (free()); the rest is codec only.
 */
#ifndef VMCTL_API_CONSOLE_H
#define VMCTL_API_CONSOLE_H

#include <json-c/json.h>

#include "codec.h"

#define API_CONSOLE_LINE_MAX 1024	/* text of one line + NUL */
#define API_CONSOLE_CHUNK 8192	/* bytes the agent sends at most (8 KiB) */
/*
 * The whole JSON body of one POST /v1/agent/console, encoded, at most:
 * a newline costs a line object (~23 bytes) and '"' '\' tab two, so the
 * agent sends only as many log bytes as fit (serial.c) and the
 * controller refuses more (413). 8 KiB, far under any route limit.
 */
#define API_CONSOLE_BODY_MAX 8192
#define API_CONSOLE_KEEP 65536	/* bytes the controller keeps (64 KiB) */
#define API_CONSOLE_LINES_MAX (API_CONSOLE_KEEP + 1)

struct api_console_line {
	char text[API_CONSOLE_LINE_MAX];
	bool nl;
};
extern const struct api_schema api_console_line_schema;

/*
 * POST /v1/agent/console (agent) and GET /v1/vms/{id}/console (answer):
 * plus a "lines" array of api_console_line.
 */
struct api_console {
	char vm_id[API_UUID_LEN];
	int64_t offset;			/* log position of the first byte */
	int64_t end;			/* position after the last byte */
	bool pending;			/* answer: a refresh is on its way */
};
extern const struct api_schema api_console_schema;

/* Split buf[0..n) into lines (*out owned by the caller); their count. */
size_t api_console_lines(const char *buf, size_t n,
    struct api_console_line **out);
/* obj + "lines" as one JSON object (caller owns). */
json_object *api_console_encode(const struct api_console *c,
    const struct api_console_line *lines, size_t n);
/*
 * The same document as api_console_encode(c, lines of buf[0..n)), as
 * compact JSON text (malloc'ed, caller frees), written straight from the
 * bytes: about 24 bytes per line instead of a 1 KiB struct and json-c
 * objects per line (64 KiB of newlines is 65,536 lines).
 */
char *api_console_format(const struct api_console *c, const char *buf,
    size_t n);

#endif
