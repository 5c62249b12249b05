/*
 * multipart: a streaming multipart/form-data parser (RFC 7578), pure: no
 * HTTP server, no I/O. The caller feeds the body in chunks of any size;
 * the parser calls back once at the start of every part (data NULL, len
 * 0) and then with each run of the part's bytes as they arrive. It keeps
 * no part data itself: only the header block of the current part (bounded
 * by MP_HEADER_MAX) and the bytes that may start a boundary.
 *
 * Used by svc_image.c (image uploads) and the fuzz target fuzz_multipart.
 * A struct multipart is owned by its creator (multipart_free); the names
 * passed to the callback are borrowed for that call only. Not thread-safe:
 * one body, one thread at a time.
 */
#ifndef VMCTL_CONTROLLER_MULTIPART_H
#define VMCTL_CONTROLLER_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MP_BOUNDARY_MAX	70	/* RFC 2046 */
#define MP_HEADER_MAX	8192	/* header block of one part */
#define MP_NAME_MAX	256	/* a part's name or filename */

/*
 * Called at the start of each part (data NULL, off 0, len 0) and with its
 * bytes (off: how many bytes of the part came before). name is the
 * form-data name (never NULL, may be ""), filename NULL for a text field
 * (no filename parameter). Return 0 to go on, -1 to stop the parse (the
 * callback keeps its own reason: see multipart_feed).
 */
typedef int (*multipart_cb)(void *arg, const char *name,
    const char *filename, const char *data, uint64_t off, size_t len);

struct multipart;

/*
 * The boundary of a Content-Type "multipart/form-data; boundary=B" (B
 * quoted or not), into out (MP_BOUNDARY_MAX + 1 bytes). -1 + err when the
 * type is not multipart/form-data or the boundary is missing or invalid.
 */
int multipart_boundary(const char *content_type, char *out, size_t outsz,
    struct vm_error *err);

/* A parser for boundary (as multipart_boundary gives it). */
struct multipart *multipart_new(const char *boundary, multipart_cb cb,
    void *arg);
void multipart_free(struct multipart *mp);

/*
 * Feed the next len bytes of the body. -1 on a malformed body (err set,
 * API_EMALFORMED or API_EINVAL) or when the callback returned -1 (err
 * left as it was: the callback has the reason; multipart_stopped() says
 * which). Once it failed, every later call fails.
 */
int multipart_feed(struct multipart *mp, const char *data, size_t len,
    struct vm_error *err);
/* The body ended: 0 when the closing boundary was seen, else -1 + err. */
int multipart_finish(struct multipart *mp, struct vm_error *err);
/* Did the last failure come from the callback? */
bool multipart_stopped(const struct multipart *mp);

/*
 * May a text field hold these bytes? Valid UTF-8 without NUL, without
 * C0 controls (tab, LF and CR too unless allow_lines), DEL or C1
 * controls (U+0080..U+009F).
 */
bool multipart_text_ok(const char *data, size_t len, bool allow_lines);

#endif
