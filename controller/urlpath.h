/*
 * urlpath: the request path as the client sent it (percent-escaped),
 * checked and decoded segment by segment before routing. libmicrohttpd
 * hands on_request an already unescaped path in which "%00" ends the
 * string and "%2F" became a separator; server.c takes the raw request
 * target from MHD_OPTION_URI_LOG_CALLBACK and routes on what
 * urlpath_decode() makes of it. Pure: no HTTP, no store.
 */
#ifndef VMCTL_CONTROLLER_URLPATH_H
#define VMCTL_CONTROLLER_URLPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define URLPATH_MAX	1024	/* longest path accepted, raw or decoded */

/*
 * The path part (before '?') of the request target raw, decoded into
 * out[size]. API_EINVAL (400) when a segment holds a malformed escape,
 * an escaped '/', NUL or other control character (U+0000..U+001F,
 * U+007F, U+0080..U+009F), a raw control character, or bytes that are
 * not well-formed UTF-8 once decoded; or when the path is longer than
 * size - 1. The message never quotes the path.
 */
int urlpath_decode(const char *raw, char *out, size_t size,
    struct vm_error *err);

/* The path part of raw (up to '?' or '#') into out[size], cut to fit. */
void urlpath_raw(const char *raw, char *out, size_t size);

/*
 * Is v[0..n) clean text for a query value: well-formed UTF-8 without a
 * control character (C0, DEL, C1)?
 */
bool urlpath_text_ok(const char *v, size_t n);

/*
 * Could v[0..n) be a list cursor (the "next" of a list answer, passed
 * back as ?after=)? At most URLPATH_CURSOR_MAX bytes: one or two parts
 * joined by '/' (a per-agency key "AGENCY/NAME", or "/NAME"), each of
 * A-Za-z0-9 . _ : - and not starting with '.' or '-'. Extend it if a
 * list ever hands out other cursors.
 */
#define URLPATH_CURSOR_MAX	160
bool urlpath_cursor_ok(const char *v, size_t n);

#endif
