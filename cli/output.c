/*
 * vmctl output: aligned tables, "key: value" lines and pretty JSON on
 * stdout. In json mode stdout carries exactly one JSON document (or
 * nothing); messages go to stderr then.
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "log.h"
#include "util.h"

struct output_table {
	const char *const *headers;	/* borrowed, ncols entries */
	size_t ncols;
	char **cells;			/* owned, row-major */
	size_t ncells;
	size_t cap;
};

/* fmt and ap as a malloc'ed string. */
static char *vformat(const char *fmt, va_list ap) ATTR_PRINTF(1, 0);

static char *
vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		fatalx("vasprintf");
	return s;
}

char *
output_escape(const char *s, unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b = { NULL, 0, 0 };

	while (*p != '\0') {
		size_t n = api_utf8_len(p);

		if ((flags & OUTPUT_ESC_LINES) && (*p == '\n' || *p == '\t')) {
			buf_append(&b, (const char *)p, 1);
			p++;
		} else if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f) {
			buf_printf(&b, "\\u00%02x", p[1]);
			p += 2;
		} else if (n == 0 || *p < 0x20 || *p == 0x7f) {
			buf_printf(&b, "\\x%02x", *p);
			p++;
		} else {
			buf_append(&b, (const char *)p, n);
			p += n;
		}
	}
	return b.data != NULL ? b.data : xstrdup("");
}

void
output_safe_printf(FILE *fp, const char *fmt, ...)
{
	char *s, *e;
	va_list ap;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	e = output_escape(s, OUTPUT_ESC_LINES);
	fputs(e, fp);
	free(e);
	free(s);
}

struct output_table *
output_table_new(const char *const *headers, size_t ncols)
{
	struct output_table *t = xcalloc(1, sizeof(*t));

	t->headers = headers;
	t->ncols = ncols;
	return t;
}

void
output_cell(struct output_table *t, const char *fmt, ...)
{
	char *s, *p;
	va_list ap;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	/* One row per line, whatever a server string holds; and no
	 * terminal control from it (output_escape). */
	for (p = s; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	p = output_escape(s, 0);
	free(s);
	s = p;
	if (s[0] == '\0') {
		free(s);
		s = xstrdup("-");
	}
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cells = xrealloc(t->cells, t->cap * sizeof(*t->cells));
	}
	t->cells[t->ncells++] = s;
}

static void
output_row(const struct output_table *t, const size_t *width,
    const char *const *row)
{
	size_t c;

	for (c = 0; c < t->ncols; c++) {
		if (c + 1 < t->ncols)
			printf("%-*s  ", (int)width[c], row[c]);
		else
			printf("%s\n", row[c]);
	}
}

void
output_table_print(const struct cli_ctx *ctx, struct output_table *t)
{
	size_t *width, c, i, nrows;

	width = xcalloc(t->ncols, sizeof(*width));

	/* A partial last row is a caller bug; pad it rather than crash. */
	while (t->ncells % t->ncols != 0)
		output_cell(t, "-");
	nrows = t->ncells / t->ncols;
	for (c = 0; c < t->ncols; c++)
		width[c] = ctx->quiet ? 0 : strlen(t->headers[c]);
	for (i = 0; i < t->ncells; i++) {
		size_t n = strlen(t->cells[i]);

		if (n > width[i % t->ncols])
			width[i % t->ncols] = n;
	}
	if (!ctx->quiet)
		output_row(t, width, t->headers);
	for (i = 0; i < nrows; i++)
		output_row(t, width,
		    (const char *const *)&t->cells[i * t->ncols]);
	free(width);
}

void
output_table_free(struct output_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void
output_list(const struct cli_ctx *ctx, json_object *items,
    struct output_table *t)
{
	if (ctx->output == OUT_JSON)
		output_json(items);
	else
		output_table_print(ctx, t);
}

static void
output_kv_prefix(const char *prefix, json_object *obj)
{
	json_object_object_foreach(obj, key, val) {
		char *name = prefix ? xasprintf("%s.%s", prefix, key) :
		    xstrdup(key);

		if (val != NULL && json_object_is_type(val, json_type_object))
			output_kv_prefix(name, val);
		else if (val != NULL &&
		    json_object_is_type(val, json_type_array) &&
		    json_object_array_length(val) > 0 &&
		    json_object_is_type(json_object_array_get_idx(val, 0),
		    json_type_object)) {
			size_t k;

			/* nics.0.ip: 10.20.0.2 */
			for (k = 0; k < json_object_array_length(val); k++) {
				char *sub = xasprintf("%s.%zu", name, k);

				output_kv_prefix(sub,
				    json_object_array_get_idx(val, k));
				free(sub);
			}
		} else if (val == NULL)
			output_safe_printf(stdout, "%s: -\n", name);
		else if (json_object_is_type(val, json_type_string)) {
			char *v = output_escape(json_object_get_string(val), 0);

			output_safe_printf(stdout, "%s: %s\n", name, v);
			free(v);
		} else
			output_safe_printf(stdout, "%s: %s\n", name,
			    json_object_to_json_string_ext(val,
			    JSON_C_TO_STRING_PLAIN));
		free(name);
	}
}

void
output_kv(json_object *obj)
{
	output_kv_prefix(NULL, obj);
}

/*
 * json-c escapes C0 controls but writes DEL and C1 controls as they are;
 * those can only sit inside strings, where \u007f / \u00NN mean the same
 * characters: the document is unchanged for a parser, inert on a terminal.
 */
void
output_json(json_object *obj)
{
	const unsigned char *p = (const unsigned char *)
	    json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);

	for (; *p != '\0'; p++) {
		if (*p == 0x7f)
			fputs("\\u007f", stdout);
		else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			printf("\\u00%02x", *++p);
		else
			putchar(*p);
	}
	putchar('\n');
}

void
output_show(const struct cli_ctx *ctx, json_object *obj)
{
	if (ctx->output == OUT_JSON)
		output_json(obj);
	else
		output_kv(obj);
}

void
output_msg(const struct cli_ctx *ctx, const char *fmt, ...)
{
	FILE *fp = ctx->output == OUT_JSON ? stderr : stdout;
	char *s = NULL;
	va_list ap;

	if (ctx->quiet)
		return;
	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	output_safe_printf(fp, "%s\n", s);
	free(s);
}

const char *
output_str(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

const char *
output_time(int64_t ms, char buf[32])
{
	if (ms == 0)
		return "-";
	time_format(ms, buf);
	return buf;
}
