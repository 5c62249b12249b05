#include "config.h"

#include <string.h>

#include "errors.h"
#include "urlpath.h"
#include "util.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
urlpath_raw(const char *raw, char *out, size_t size)
{
	size_t n = strcspn(raw, "?#");

	if (size == 0)
		return;
	if (n >= size)
		n = size - 1;
	memcpy(out, raw, n);
	out[n] = '\0';
}

int
urlpath_decode(const char *raw, char *out, size_t size, struct vm_error *err)
{
	size_t i, o = 0, n = strcspn(raw, "?#"), seg = 0;

	if (size == 0 || n == 0 || raw[0] != '/') {
		vm_error_set(err, API_EINVAL, "the request path must start "
		    "with '/'");
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '/')
			seg++;
		if (c < 0x20 || c == 0x7f) {
			vm_error_set(err, API_EINVAL, "path segment %zu holds "
			    "a control character", seg);
			return -1;
		}
		if (c == '%') {
			int hi = hexval(raw[i + 1]), lo;

			lo = hi < 0 ? -1 : hexval(raw[i + 2]);
			if (hi < 0 || lo < 0) {
				vm_error_set(err, API_EINVAL, "path segment "
				    "%zu: '%%' must be followed by two hex "
				    "digits", seg);
				return -1;
			}
			c = (unsigned char)(hi * 16 + lo);
			if (c < 0x20 || c == 0x7f || c == '/') {
				vm_error_set(err, API_EINVAL, "path segment "
				    "%zu holds an escaped %s (%%%02X)", seg,
				    c == '/' ? "'/'" : c == 0 ? "NUL" :
				    "control character", c);
				return -1;
			}
			i += 2;
		}
		if (o + 1 >= size) {
			vm_error_set(err, API_EINVAL, "request path longer "
			    "than %zu bytes", size - 1);
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* Well-formed UTF-8 without C1 controls (U+0080..U+009F: C2 80..9F). */
	for (i = 0; i < o; ) {
		const unsigned char *p = (const unsigned char *)out + i;
		size_t k = utf8_seq_len(p, o - i);

		if (k == 0 || (k == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			vm_error_set(err, API_EINVAL, "request path: %s",
			    k == 0 ? "not well-formed UTF-8 once decoded" :
			    "a C1 control character once decoded");
			out[0] = '\0';
			return -1;
		}
		i += k;
	}
	return 0;
}

bool
urlpath_text_ok(const char *v, size_t n)
{
	return utf8_text_ok(v, n, false);
}

/* One part of a cursor: [A-Za-z0-9._:-], not starting with '.' or '-'. */
static bool
cursor_part_ok(const char *v, size_t n)
{
	size_t i;

	if (n == 0 || v[0] == '.' || v[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
		    v[i] == '_' || v[i] == '.' || v[i] == ':'))
			return false;
	return true;
}

/*
 * A list cursor is a store key handed out as "next": a name, a uuid, a
 * sequence, or a per-agency key "AGENCY/NAME" ("/NAME" for public and
 * shared objects, svc_name_key). At most one '/'.
 */
bool
urlpath_cursor_ok(const char *v, size_t n)
{
	const char *slash;

	if (n == 0 || n > URLPATH_CURSOR_MAX)
		return false;
	slash = memchr(v, '/', n);
	if (slash == NULL)
		return cursor_part_ok(v, n);
	if (slash != v && !cursor_part_ok(v, (size_t)(slash - v)))
		return false;
	return cursor_part_ok(slash + 1, n - (size_t)(slash - v) - 1);
}
