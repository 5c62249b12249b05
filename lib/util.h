/*
 * util: allocation that aborts on exhaustion, string copies, clocks.
 * Every x* allocator returns memory owned by the caller (free()).
 * No locking needed: all functions are reentrant.
 */
#ifndef VMCTL_LIB_UTIL_H
#define VMCTL_LIB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) ATTR_PRINTF(1, 2);

/* Copy src into dst[size]; returns -1 (dst truncated, NUL-terminated)
 * when src does not fit. */
int str_copy(char *dst, size_t size, const char *src);

/* Wall clock in milliseconds since the epoch; monotonic clock in ms. */
int64_t now_ms(void);
int64_t mono_ms(void);

/* Format epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf[32]. */
void time_format(int64_t ms, char buf[32]);
/* Parse the format above (milliseconds optional); -1 on error. */
int time_parse(const char *s, int64_t *ms);

/* New random UUID in canonical lower-case form, into out[37]. */
void uuid_new(char out[37]);
bool uuid_valid(const char *s);

/* Growable byte buffer; owns data; buf_free() releases it. */
struct buf {
	char *data;	/* owned, always NUL-terminated when len > 0 */
	size_t len;
	size_t cap;
};
void buf_append(struct buf *b, const void *p, size_t n);
void buf_printf(struct buf *b, const char *fmt, ...) ATTR_PRINTF(2, 3);
void buf_free(struct buf *b);

/* Write a whole file atomically (tmp + fsync + rename); -1 sets errno. */
int file_write_atomic(const char *path, const void *data, size_t len, int mode);
/* Read a whole file (at most max bytes) into *out (owned, NUL-term). */
int file_read(const char *path, size_t max, char **out, size_t *len);
/* mkdir -p */
int mkdir_p(const char *path, int mode);
/* "DIR/name" into out[size], DIR the directory that holds path (trailing
 * '/'s ignored; "." when path has no '/'): a file beside path. */
void path_beside(const char *path, const char *name, char *out, size_t size);

/*
 * Length of the well-formed UTF-8 sequence at p[0..n) (1..4), or 0 when
 * it is not one: stray continuation bytes, overlong forms, surrogates
 * (U+D800..U+DFFF) and code points past U+10FFFF are all refused.
 */
size_t utf8_seq_len(const unsigned char *p, size_t n);
/*
 * Is s[0..n) clean text: well-formed UTF-8 with no C0 control (tab, LF
 * and CR aside when allow_lines), no DEL and no C1 control (U+0080..9F)?
 */
bool utf8_text_ok(const char *s, size_t n, bool allow_lines);
/* Is s[0..n) well-formed UTF-8 (see utf8_seq_len)? */
bool utf8_valid(const char *s, size_t n);
/*
 * JSON text with every ill-formed UTF-8 sequence replaced by the escape
 * \ufffd (such bytes can only sit inside strings, where the escape is
 * valid). Returns text itself when it is valid, else a new string and
 * frees text: owned by the caller either way.
 */
char *utf8_scrub_json(char *text);

/*
 * No core dumps for this process (RLIMIT_CORE 0, not dumpable, so no
 * ptrace by other users either): its memory holds secrets. -1 sets errno.
 */
int util_nodump(void);

#endif
