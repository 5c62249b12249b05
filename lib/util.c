#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "log.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc");
	return p;
}

void *
xcalloc(size_t nmemb, size_t n)
{
	void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

	if (p == NULL)
		fatal("calloc");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatal("realloc");
	return q;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("strdup");
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (p == NULL)
		fatal("strndup");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	return s;
}

int
str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_format(int64_t ms, char buf[32])
{
	int64_t sec = ms / 1000, msec = ms % 1000;
	struct tm tm;
	char tmp[128];
	time_t t;

	if (msec < 0) {		/* floor, not truncation, before 1970 */
		msec += 1000;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)msec);
	str_copy(buf, 32, tmp);
}

int
time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	int msec = 0, n = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -1;
	s += n;
	if (*s == '.') {
		int d = 0;

		s++;
		while (*s >= '0' && *s <= '9' && d < 3) {
			msec = msec * 10 + (*s++ - '0');
			d++;
		}
		while (d++ < 3)
			msec *= 10;
	}
	if (strcmp(s, "Z") != 0)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -1;
	{
		struct tm check = tm, back;

		t = timegm(&check);
		/* timegm normalises Feb 30 to Mar 2: refuse such dates. */
		if (gmtime_r(&t, &back) == NULL ||
		    back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon ||
		    back.tm_year != tm.tm_year)
			return -1;
	}
	*ms = (int64_t)t * 1000 + msec;
	return 0;
}

void
uuid_new(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

bool
uuid_valid(const char *s)
{
	size_t i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("vasprintf");
	buf_append(b, s, (size_t)n);
	free(s);
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd = -1, ret = -1, saved;
	const char *p = data;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto cleanup;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto cleanup;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return ret;
}

int
file_read(const char *path, size_t max, char **out, size_t *len)
{
	struct buf b = { 0 };
	char chunk[8192];
	int fd, ret = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto cleanup;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > max) {
			errno = EFBIG;
			goto cleanup;
		}
		buf_append(&b, chunk, (size_t)r);
	}
	if (b.data == NULL)
		b.data = xstrdup("");
	*out = b.data;
	if (len)
		*len = b.len;
	b.data = NULL;
	ret = 0;
cleanup:
	close(fd);
	buf_free(&b);
	return ret;
}

int
mkdir_p(const char *path, int mode)
{
	char *p = xstrdup(path), *s;
	int ret = -1;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
			goto cleanup;
		*s = '/';
	}
	if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
		goto cleanup;
	ret = 0;
cleanup:
	free(p);
	return ret;
}

void
path_beside(const char *path, const char *name, char *out, size_t size)
{
	char *parent = xstrdup(path), *slash;

	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL) {
		free(parent);
		parent = xstrdup(".");
	} else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	snprintf(out, size, "%s/%s", parent, name);
	free(parent);
}

/* ------------------------------------------------------------ UTF-8 */

size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;	/* continuation byte, 0xc0/0xc1, 0xf5.. */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool
utf8_text_ok(const char *s, size_t n, bool allow_lines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			if (!allow_lines || (p[i] != '\t' && p[i] != '\n' &&
			    p[i] != '\r'))
				return false;
			i++;
			continue;
		}
		k = utf8_seq_len(p + i, n - i);
		if (k == 0 || (k == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0))
			return false;	/* ill-formed, or a C1 control */
		i += k;
	}
	return true;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if ((k = utf8_seq_len(p + i, n - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

char *
utf8_scrub_json(char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = strlen(text), i = 0, k;
	struct buf b = { NULL, 0, 0 };

	if (utf8_valid(text, n))
		return text;
	while (i < n) {
		if ((k = utf8_seq_len(p + i, n - i)) == 0) {
			buf_append(&b, "\\ufffd", 6);
			i++;
			continue;
		}
		buf_append(&b, p + i, k);
		i += k;
	}
	free(text);
	return b.data;
}

/* ------------------------------------------------------------ process */

int
util_nodump(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return -1;
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ? -1 : 0;
}
