/*
 * codec: table-driven JSON <-> struct conversion shared by every resource.
 * A resource describes its fields once (name, type, bounds, flags, offset)
 * and gets encoding, strict decoding (unknown fields, wrong types, bounds,
 * read-only fields on input all rejected with a message naming the field)
 * and validation. Strings live in fixed arrays inside the structs, so a
 * decoded struct owns nothing and needs no free.
 */
#ifndef VMCTL_API_CODEC_H
#define VMCTL_API_CODEC_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

#define API_NAME_MAX 64		/* [a-z0-9][a-z0-9-]{0,62} + NUL */
#define API_UUID_LEN 37
#define API_PATH_MAX 1024
#define API_TEXT_MAX 512
#define API_BODY_MAX ((size_t)64 * 1024)	/* largest JSON request body */

enum api_ftype {
	AF_STR,		/* free text, printable, bounded by size */
	AF_NAME,	/* [a-z0-9][a-z0-9-]{0,62} */
	AF_UUID,	/* canonical lower-case uuid */
	AF_PATH,	/* absolute path, [A-Za-z0-9._+/-], no ".." */
	AF_INT,		/* int64_t within [min, max] */
	AF_BOOL,	/* bool */
	AF_ENUM,	/* int index into enums[] */
	AF_TIME,	/* int64_t ms since epoch, ISO-8601 on the wire */
	AF_SUB,		/* embedded struct described by sub */
	AF_ARR,		/* inline array of structs described by sub: size /
			 * sub->size slots, used slots first; a slot left
			 * all zero is unused (not encoded) */
	AF_TEXT,	/* like AF_STR, and lines: LF, CR and tab allowed */
};

#define AF_REQ	0x1	/* required on input */
#define AF_RO	0x2	/* set by the server: refused on input */
#define AF_EMIT	0x4	/* AF_SUB: encoded even when all zero */

struct api_schema;

struct api_field {
	const char *name;
	enum api_ftype type;
	unsigned flags;
	size_t off;
	size_t size;
	long long min, max;
	const char *const *enums;	/* AF_ENUM: NULL-terminated */
	const struct api_schema *sub;	/* AF_SUB */
};

struct api_schema {
	const char *name;		/* resource name for messages */
	const struct api_field *fields;
	size_t nfields;
	size_t size;			/* sizeof the struct */
	/* Cross-field checks after decoding; may be NULL. */
	int (*validate)(const void *obj, struct vm_error *err);
};

#define AFS(n, t, fl, type_, field) \
	{ n, t, fl, offsetof(type_, field), sizeof(((type_ *)0)->field), \
	  0, 0, NULL, NULL }
#define AFI(n, fl, type_, field, mn, mx) \
	{ n, AF_INT, fl, offsetof(type_, field), sizeof(int64_t), mn, mx, \
	  NULL, NULL }
#define AFE(n, fl, type_, field, names) \
	{ n, AF_ENUM, fl, offsetof(type_, field), sizeof(int), 0, 0, names, \
	  NULL }
#define AFB(n, fl, type_, field) \
	{ n, AF_BOOL, fl, offsetof(type_, field), sizeof(bool), 0, 1, NULL, \
	  NULL }
#define AFT(n, fl, type_, field) \
	{ n, AF_TIME, fl, offsetof(type_, field), sizeof(int64_t), 0, 0, \
	  NULL, NULL }
#define AFSUB(n, fl, type_, field, schema) \
	{ n, AF_SUB, fl, offsetof(type_, field), sizeof(((type_ *)0)->field), \
	  0, 0, NULL, schema }

#define AFA(n, fl, type_, field, schema) \
	{ n, AF_ARR, fl, offsetof(type_, field), sizeof(((type_ *)0)->field), \
	  0, 0, NULL, schema }

/* How strictly to decode. */
enum api_mode {
	API_INPUT,	/* a client request: AF_RO fields are refused */
	API_STORED,	/* a stored or server-produced record: all accepted */
};

/* New JSON object for obj (caller owns). Empty strings become null. */
json_object *api_encode(const struct api_schema *s, const void *obj);
/* Decode o into obj (zeroed first); -1 + err (API_EINVAL) on failure. */
int api_decode(const struct api_schema *s, json_object *o, void *obj,
    enum api_mode mode, struct vm_error *err);
/* Parse text then decode (API_EMALFORMED for bad JSON). */
int api_decode_text(const struct api_schema *s, const char *text, size_t len,
    void *obj, enum api_mode mode, struct vm_error *err);
/* Encode to malloc'ed compact text. */
char *api_encode_text(const struct api_schema *s, const void *obj);

bool api_name_valid(const char *s);
/* "" or comma-separated names ("gpu,ssd"; blanks around names allowed). */
bool api_labels_valid(const char *s);
bool api_path_valid(const char *s);
/* Length of the well-formed UTF-8 sequence at p, 0 if there is none. */
size_t api_utf8_len(const unsigned char *p);
#define API_TEXT_LINES	0x1	/* LF and CR allowed (AF_TEXT) */
#define API_TEXT_STRICT	0x2	/* input: UTF-8 only, no C1 (U+0080..9F) */
/* Is s text of the API's one class (codec.c says which characters)? */
bool api_text_valid(const char *s, unsigned flags);
/* Make s valid strict text in place: controls and bad bytes -> ' '. */
void api_text_scrub(char *s);
/* Index of s in a NULL-terminated list, or -1 (also for s NULL). */
int api_enum_index(const char *const *names, const char *s);

#endif
