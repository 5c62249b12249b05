/*
 * multipart: streaming multipart/form-data parser; see multipart.h.
 *
 * The body is read as if "\r\n" came before it, so the first boundary
 * line "--B" and every later "\r\n--B" are the same delimiter D. A match
 * of D is tracked byte by byte: '\r' occurs in D only at its start (the
 * boundary holds no CR), so when a partial match fails the bytes matched
 * so far are plain data and a new match can only begin at the failing
 * byte. Part bytes are passed on in runs straight from the caller's
 * chunk; only a partial match that ends a chunk is held over (it is a
 * prefix of D, so it is re-emitted from D itself).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "errors.h"
#include "multipart.h"
#include "util.h"

/* preamble -> (delimiter) after -> headers -> body -> (delimiter) after
 * ... -> "--" end. fail is final. */
enum mp_state {
	MP_PREAMBLE,	/* before the first delimiter: discarded */
	MP_AFTER,	/* just after a delimiter: "--" or padding + CRLF */
	MP_AFTER_DASH,	/* seen "-" after a delimiter */
	MP_AFTER_CR,	/* seen CR after a delimiter */
	MP_HEADERS,	/* a part's header block, up to an empty line */
	MP_BODY,	/* a part's bytes, up to the next delimiter */
	MP_END,		/* after the closing delimiter: epilogue ignored */
	MP_FAIL,	/* malformed, or stopped by the callback */
};

struct multipart {
	enum mp_state state;
	char delim[MP_BOUNDARY_MAX + 5];	/* "\r\n--" boundary */
	size_t dlen;
	size_t m;		/* bytes of delim matched so far */
	multipart_cb cb;
	void *arg;
	bool stopped;		/* the callback asked to stop */
	char hdr[MP_HEADER_MAX + 1];
	size_t hlen;
	char name[MP_NAME_MAX];
	char filename[MP_NAME_MAX];
	bool has_filename;
	uint64_t off;		/* bytes of the current part so far */
};

/* ------------------------------------------------------------ helpers */

bool
multipart_text_ok(const char *data, size_t len, bool allow_lines)
{
	return utf8_text_ok(data, len, allow_lines);
}

static bool
mp_bchar(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"';
}

int
multipart_boundary(const char *ct, char *out, size_t outsz,
    struct vm_error *err)
{
	const char *p;
	size_t n = 0;

	if (ct == NULL || strncasecmp(ct, "multipart/form-data", 19) != 0 ||
	    (ct[19] != '\0' && ct[19] != ';' && ct[19] != ' ')) {
		vm_error_set(err, API_EMEDIA, "Content-Type must be "
		    "multipart/form-data");
		return -1;
	}
	for (p = ct + 19; *p != '\0'; p++) {
		if (*p != ';')
			continue;
		while (p[1] == ' ' || p[1] == '\t')
			p++;
		if (strncasecmp(p + 1, "boundary=", 9) == 0)
			break;
	}
	if (*p == '\0') {
		vm_error_set(err, API_EINVAL, "multipart/form-data without a "
		    "boundary");
		return -1;
	}
	p += 10;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (!mp_bchar((unsigned char)*p) || n + 1 >= outsz ||
			    n >= MP_BOUNDARY_MAX)
				goto bad;
			out[n++] = *p;
		}
		if (*p != '"')
			goto bad;
	} else {
		for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t';
		    p++) {
			if (!mp_bchar((unsigned char)*p) || n + 1 >= outsz ||
			    n >= MP_BOUNDARY_MAX)
				goto bad;
			out[n++] = *p;
		}
	}
	if (n == 0 || out[n - 1] == ' ')
		goto bad;
	out[n] = '\0';
	return 0;
bad:
	vm_error_set(err, API_EINVAL, "multipart/form-data: invalid boundary "
	    "(1..%d printable characters)", MP_BOUNDARY_MAX);
	return -1;
}

struct multipart *
multipart_new(const char *boundary, multipart_cb cb, void *arg)
{
	struct multipart *mp = xcalloc(1, sizeof(*mp));

	mp->dlen = (size_t)snprintf(mp->delim, sizeof(mp->delim), "\r\n--%.*s",
	    MP_BOUNDARY_MAX, boundary);
	mp->cb = cb;
	mp->arg = arg;
	mp->state = MP_PREAMBLE;
	mp->m = 2;		/* the body starts as if after "\r\n" */
	return mp;
}

void
multipart_free(struct multipart *mp)
{
	free(mp);
}

bool
multipart_stopped(const struct multipart *mp)
{
	return mp->stopped;
}

static int
mp_malformed(struct multipart *mp, struct vm_error *err, const char *what)
{
	mp->state = MP_FAIL;
	vm_error_set(err, API_EMALFORMED, "multipart body: %s", what);
	return -1;
}

static int
mp_invalid(struct multipart *mp, struct vm_error *err, const char *what)
{
	mp->state = MP_FAIL;
	vm_error_set(err, API_EINVAL, "multipart body: %s", what);
	return -1;
}

/* Pass n bytes of the current part on. */
static int
mp_emit(struct multipart *mp, const char *data, size_t n)
{
	if (n == 0)
		return 0;
	if (mp->cb(mp->arg, mp->name, mp->has_filename ? mp->filename : NULL,
	    data, mp->off, n) < 0) {
		mp->stopped = true;
		mp->state = MP_FAIL;
		return -1;
	}
	mp->off += n;
	return 0;
}

/* ------------------------------------------------------------ headers */

/* A parameter value at *pp (quoted or a token) into out; advance *pp. */
static int
mp_param_value(const char **pp, char *out, size_t outsz)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0' && p[1] != '\r')
				p++;
			if (*p == '\0' || *p == '\r' || n + 1 >= outsz)
				return -1;
			out[n++] = *p;
		}
		p++;
	} else {
		for (; *p != '\0' && *p != ';' && *p != '\r' && *p != ' ' &&
		    *p != '\t'; p++) {
			if (n + 1 >= outsz)
				return -1;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] */
static int
mp_disposition(struct multipart *mp, const char *v, bool *named,
    struct vm_error *err)
{
	const char *p = v;

	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "form-data", 9) != 0)
		return mp_invalid(mp, err, "a part that is not form-data");
	p += 9;
	for (;;) {
		char key[32], *dst;
		bool *seen;
		size_t k = 0, dsz;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\r' || *p == '\0')
			break;
		if (*p != ';')
			return mp_invalid(mp, err, "bad Content-Disposition");
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p != '\0' && *p != '=' && *p != ';' && *p != '\r' &&
		    k + 1 < sizeof(key))
			key[k++] = (char)tolower((unsigned char)*p++);
		key[k] = '\0';
		if (*p != '=')
			return mp_invalid(mp, err, "bad Content-Disposition");
		p++;
		if (strcmp(key, "name") == 0) {
			seen = named;
			dst = mp->name;
			dsz = sizeof(mp->name);
		} else if (strcmp(key, "filename") == 0) {
			seen = &mp->has_filename;
			dst = mp->filename;
			dsz = sizeof(mp->filename);
		} else {
			/* Another parameter (filename*, ...): skipped. */
			char skip[MP_HEADER_MAX];

			if (mp_param_value(&p, skip, sizeof(skip)) < 0)
				return mp_invalid(mp, err,
				    "bad Content-Disposition");
			continue;
		}
		if (*seen)
			return mp_invalid(mp, err, "a parameter of "
			    "Content-Disposition given twice");
		if (mp_param_value(&p, dst, dsz) < 0)
			return mp_invalid(mp, err, "a part name or file name "
			    "too long or unterminated");
		*seen = true;
	}
	return 0;
}

/* The header block of a part is complete in mp->hdr: parse it. */
static int
mp_headers_done(struct multipart *mp, struct vm_error *err)
{
	const char *line = mp->hdr, *end = mp->hdr + mp->hlen;
	bool named = false, disp = false;

	mp->name[0] = mp->filename[0] = '\0';
	mp->has_filename = false;
	mp->off = 0;
	if (!multipart_text_ok(mp->hdr, mp->hlen, true))
		return mp_invalid(mp, err, "control characters or invalid "
		    "UTF-8 in a part's headers");
	while (line < end) {
		const char *eol = strstr(line, "\r\n");

		if (eol == NULL || eol == line)
			break;
		if (strncasecmp(line, "Content-Disposition:", 20) == 0) {
			if (disp)
				return mp_invalid(mp, err, "Content-"
				    "Disposition given twice");
			disp = true;
			if (mp_disposition(mp, line + 20, &named, err) < 0)
				return -1;
		} else if (line[0] == ' ' || line[0] == '\t' ||
		    memchr(line, ':', (size_t)(eol - line)) == NULL) {
			return mp_invalid(mp, err, "a header line without a "
			    "name (folded lines are not accepted)");
		}
		line = eol + 2;
	}
	if (!named)
		return mp_invalid(mp, err, "a part without a name");
	if (mp->cb(mp->arg, mp->name, mp->has_filename ? mp->filename : NULL,
	    NULL, 0, 0) < 0) {
		mp->stopped = true;
		mp->state = MP_FAIL;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ feed */

/*
 * Look for the delimiter in data (preamble or body; the body's bytes go
 * to the callback). 1 when found (*used: bytes up to and including it),
 * 0 when data ran out first (*used = len), -1 when the callback stopped.
 */
static int
mp_scan(struct multipart *mp, const char *data, size_t len, size_t *used)
{
	bool body = mp->state == MP_BODY;
	size_t held = mp->m;		/* matched before this chunk */
	size_t run = 0;			/* start of the unsent bytes */
	ssize_t mstart = held > 0 ? -1 : 0;	/* -1: match began before */
	size_t i;

	for (i = 0; i < len; i++) {
		if (mp->m == 0) {
			/* Fast path: no match open, skip to the next CR. */
			const char *cr = memchr(data + i, '\r', len - i);

			if (cr == NULL)
				break;
			i = (size_t)(cr - data);
		}
		if (data[i] == mp->delim[mp->m]) {
			if (mp->m == 0)
				mstart = (ssize_t)i;
			if (++mp->m < mp->dlen)
				continue;
			/* The delimiter: the part ends before it. */
			if (body && mstart >= 0 && mp_emit(mp, data + run,
			    (size_t)mstart - run) < 0)
				return -1;
			mp->m = 0;
			*used = i + 1;
			return 1;
		}
		if (mp->m > 0 && mstart < 0) {
			/* The held prefix was data after all. */
			if (body && mp_emit(mp, mp->delim, held) < 0)
				return -1;
			held = 0;
		}
		mp->m = 0;
		mstart = 0;
		if (data[i] == mp->delim[0]) {
			mp->m = 1;
			mstart = (ssize_t)i;
		}
	}
	*used = len;
	if (body) {
		if (mp->m == 0 && mp_emit(mp, data + run, len - run) < 0)
			return -1;
		if (mp->m > 0 && mstart >= 0 && mp_emit(mp, data + run,
		    (size_t)mstart - run) < 0)
			return -1;
	}
	return 0;
}

int
multipart_feed(struct multipart *mp, const char *data, size_t len,
    struct vm_error *err)
{
	size_t i = 0, used;
	int rc;

	while (i < len) {
		char c = data[i];

		switch (mp->state) {
		case MP_PREAMBLE:
		case MP_BODY:
			rc = mp_scan(mp, data + i, len - i, &used);
			if (rc < 0)
				return -1;
			i += used;
			if (rc == 1)
				mp->state = MP_AFTER;
			continue;
		case MP_AFTER:
			if (c == '-')
				mp->state = MP_AFTER_DASH;
			else if (c == '\r')
				mp->state = MP_AFTER_CR;
			else if (c != ' ' && c != '\t')
				return mp_malformed(mp, err, "garbage after "
				    "a boundary");
			break;
		case MP_AFTER_DASH:
			if (c != '-')
				return mp_malformed(mp, err, "garbage after "
				    "a boundary");
			mp->state = MP_END;
			break;
		case MP_AFTER_CR:
			if (c != '\n')
				return mp_malformed(mp, err, "garbage after "
				    "a boundary");
			mp->state = MP_HEADERS;
			mp->hlen = 0;
			break;
		case MP_HEADERS:
			if (mp->hlen >= MP_HEADER_MAX)
				return mp_invalid(mp, err, "a part's headers "
				    "are too long");
			mp->hdr[mp->hlen++] = c;
			mp->hdr[mp->hlen] = '\0';
			if ((mp->hlen == 2 && memcmp(mp->hdr, "\r\n", 2) == 0) ||
			    (mp->hlen >= 4 && memcmp(mp->hdr + mp->hlen - 4,
			    "\r\n\r\n", 4) == 0)) {
				if (mp_headers_done(mp, err) < 0)
					return -1;
				mp->state = MP_BODY;
				mp->m = 0;
			}
			break;
		case MP_END:
			return 0;	/* the epilogue is ignored */
		case MP_FAIL:
			if (!mp->stopped)
				vm_error_set(err, API_EMALFORMED,
				    "multipart body: already failed");
			return -1;
		}
		i++;
	}
	if (mp->state == MP_FAIL) {
		if (!mp->stopped)
			vm_error_set(err, API_EMALFORMED,
			    "multipart body: already failed");
		return -1;
	}
	return 0;
}

int
multipart_finish(struct multipart *mp, struct vm_error *err)
{
	if (mp->state == MP_END)
		return 0;
	if (mp->state != MP_FAIL)
		mp->state = MP_FAIL;
	vm_error_set(err, API_EMALFORMED, "multipart body: it ended before "
	    "its closing boundary");
	return -1;
}
