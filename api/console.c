#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agentproto.h"
#include "console.h"
#include "errors.h"
#include "json.h"
#include "util.h"

static const struct api_field line_fields[] = {
	AFS("text", AF_STR, 0, struct api_console_line, text),
	AFB("nl", 0, struct api_console_line, nl),
};

const struct api_schema api_console_line_schema = {
	"line", line_fields, ARRAY_SIZE(line_fields),
	sizeof(struct api_console_line), NULL
};

static int
console_validate(const void *obj, struct vm_error *err)
{
	const struct api_console *c = obj;

	if (c->end < c->offset) {
		vm_error_set(err, API_EINVAL, "console.end: before offset");
		return -1;
	}
	return 0;
}

static const struct api_field console_fields[] = {
	AFS("vm_id", AF_UUID, AF_REQ, struct api_console, vm_id),
	AFI("offset", 0, struct api_console, offset, 0, INT64_MAX),
	AFI("end", 0, struct api_console, end, 0, INT64_MAX),
	AFB("pending", 0, struct api_console, pending),
};

const struct api_schema api_console_schema = {
	"console", console_fields, ARRAY_SIZE(console_fields),
	sizeof(struct api_console), console_validate
};

size_t
api_console_lines(const char *buf, size_t n, struct api_console_line **out)
{
	struct api_console_line *l = NULL;
	size_t nl = 0, cap = 0, len = 0, i;
	bool open = false;		/* l[nl - 1] takes more bytes */

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r' && i + 1 < n && buf[i + 1] == '\n')
			continue;	/* a serial line's CR LF ends as LF */
		if (!open) {
			if (nl == cap) {
				cap = cap ? cap * 2 : 16;
				l = xrealloc(l, cap * sizeof(*l));
			}
			memset(&l[nl++], 0, sizeof(*l));
			len = 0;
			open = true;
		}
		if (ch == '\n') {
			l[nl - 1].nl = true;
			open = false;
			continue;
		}
		l[nl - 1].text[len++] = (ch < 0x20 && ch != '\t') ||
		    ch >= 0x7f ? '?' : (char)ch;
		if (len == API_CONSOLE_LINE_MAX - 1)
			open = false;	/* full: the next byte starts a line */
	}
	*out = l;
	return nl;
}

json_object *
api_console_encode(const struct api_console *c,
    const struct api_console_line *lines, size_t n)
{
	json_object *o = api_encode(&api_console_schema, c);
	json_object *arr = api_encode_array("lines", &api_console_line_schema,
	    lines, n);
	json_object *v = NULL;

	json_object_object_get_ex(arr, "lines", &v);
	json_object_object_add(o, "lines", json_object_get(v));
	json_object_put(arr);
	return o;
}

/* One line object of api_console_format(): text as api_encode() writes
 * it (an empty string is null), then nl. */
static void
format_line(struct buf *b, const char *text, size_t len, bool nl, bool first)
{
	size_t i;

	buf_append(b, first ? "{" : ",{", first ? 1 : 2);
	if (len == 0) {
		buf_append(b, "\"text\":null", 11);
	} else {
		buf_append(b, "\"text\":\"", 8);
		for (i = 0; i < len; i++) {
			if (text[i] == '"' || text[i] == '\\')
				buf_append(b, "\\", 1);
			if (text[i] == '\t')
				buf_append(b, "\\t", 2);
			else
				buf_append(b, &text[i], 1);
		}
		buf_append(b, "\"", 1);
	}
	if (nl)
		buf_append(b, ",\"nl\":true}", 11);
	else
		buf_append(b, ",\"nl\":false}", 12);
}

char *
api_console_format(const struct api_console *c, const char *buf, size_t n)
{
	struct buf b = { NULL, 0, 0 };
	char text[API_CONSOLE_LINE_MAX];
	char *head = api_encode_text(&api_console_schema, c);
	size_t hl = strlen(head), len = 0, i;
	bool open = false, first = true;

	/* The header object without its closing brace, then the lines. */
	buf_append(&b, head, hl - 1);
	free(head);
	buf_append(&b, hl > 2 ? ",\"lines\":[" : "\"lines\":[",
	    hl > 2 ? 10 : 9);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == '\r' && i + 1 < n && buf[i + 1] == '\n')
			continue;	/* as api_console_lines() */
		if (!open) {
			len = 0;
			open = true;
		}
		if (ch == '\n') {
			format_line(&b, text, len, true, first);
			first = false;
			open = false;
			continue;
		}
		/* As api_console_lines(): controls and non-ASCII are '?'. */
		text[len++] = (ch < 0x20 && ch != '\t') || ch >= 0x7f ? '?' :
		    (char)ch;
		if (len == API_CONSOLE_LINE_MAX - 1) {
			format_line(&b, text, len, false, first);
			first = false;
			open = false;
		}
	}
	if (open) {
		format_line(&b, text, len, false, first);
		first = false;
	}
	buf_append(&b, "]}", 2);
	return b.data;
}
