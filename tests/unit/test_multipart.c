/*
 * test_multipart: unit tests for controller/multipart.c (the streaming
 * multipart/form-data parser), controller/upform.c (the image upload
 * form) and api_img_probe (api/image.c): boundaries, a body fed in every
 * chunk size giving the same parts, data that looks like a delimiter,
 * malformed bodies, text fields with NUL/control/C1/invalid UTF-8 (the
 * NUL crash of issue 8), and the disk content probe.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "errors.h"
#include "image.h"
#include "multipart.h"
#include "upform.h"
#include "util.h"

/* What a parse saw: "name|filename|bytes;" per part. */
struct seen {
	struct buf log;
	char cur[MP_NAME_MAX * 2 + 8];
	struct buf data;
	bool open;
};

static void
seen_close(struct seen *s)
{
	if (!s->open)
		return;
	buf_append(&s->log, s->cur, strlen(s->cur));
	buf_append(&s->log, s->data.data, s->data.len);
	buf_append(&s->log, ";", 1);
	s->data.len = 0;
	s->open = false;
}

static int
seen_cb(void *arg, const char *name, const char *filename, const char *data,
    uint64_t off, size_t len)
{
	struct seen *s = arg;

	if (data == NULL) {
		assert_int_equal(off, 0);
		assert_int_equal(len, 0);
		seen_close(s);
		snprintf(s->cur, sizeof(s->cur), "%s|%s|", name,
		    filename != NULL ? filename : "-");
		s->open = true;
		return 0;
	}
	assert_true(s->open);
	assert_true(len > 0);
	assert_int_equal(off, s->data.len);
	buf_append(&s->data, data, len);
	return 0;
}

/* Parse body in chunks of chunk bytes; the log (owned) or NULL + err. */
static char *
parse(const char *boundary, const char *body, size_t len, size_t chunk,
    struct vm_error *err)
{
	struct seen s;
	struct multipart *mp;
	size_t off;
	char *out = NULL;
	int rc = 0;

	memset(&s, 0, sizeof(s));
	mp = multipart_new(boundary, seen_cb, &s);
	for (off = 0; off < len && rc == 0; off += chunk)
		rc = multipart_feed(mp, body + off, len - off < chunk ?
		    len - off : chunk, err);
	if (rc == 0)
		rc = multipart_finish(mp, err);
	seen_close(&s);
	if (rc == 0) {
		buf_append(&s.log, "", 1);
		out = xstrdup(s.log.data);
	}
	multipart_free(mp);
	buf_free(&s.log);
	buf_free(&s.data);
	return out;
}

#define BODY \
	"preamble\r\n" \
	"--xyz\r\n" \
	"Content-Disposition: form-data; name=\"name\"\r\n\r\n" \
	"img1\r\n" \
	"--xyz\r\n" \
	"content-disposition: form-data; name=\"disk\"; filename=\"a \\\"b\\\".img\"\r\n" \
	"Content-Type: application/octet-stream\r\n\r\n" \
	"\r\n--xy\r\r\n--xQ\r" \
	"\r\n--xyz  \r\n" \
	"Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n" \
	"\r\n--xyz--\r\nepilogue --xyz"
#define WANT "name|-|img1;disk|a \"b\".img|\r\n--xy\r\r\n--xQ\r;empty||;"

static void
test_every_chunk_size(void **state)
{
	size_t chunk;

	(void)state;
	for (chunk = 1; chunk <= sizeof(BODY); chunk++) {
		struct vm_error err = { 0, "" };
		char *got = parse("xyz", BODY, sizeof(BODY) - 1, chunk, &err);

		if (got == NULL)
			fail_msg("chunk %zu: %s", chunk, err.message);
		assert_string_equal(got, WANT);
		free(got);
	}
}

static void
test_boundary(void **state)
{
	struct vm_error err = { 0, "" };
	char b[MP_BOUNDARY_MAX + 1];
	char long_ct[200];

	(void)state;
	assert_int_equal(multipart_boundary("multipart/form-data; "
	    "boundary=abc", b, sizeof(b), &err), 0);
	assert_string_equal(b, "abc");
	assert_int_equal(multipart_boundary("Multipart/Form-Data;charset="
	    "utf-8; BOUNDARY=\"a b:c\"", b, sizeof(b), &err), 0);
	assert_string_equal(b, "a b:c");
	assert_int_equal(multipart_boundary("text/plain; boundary=a", b,
	    sizeof(b), &err), -1);
	assert_int_equal(err.code, API_EMEDIA);
	assert_int_equal(multipart_boundary("multipart/form-data", b,
	    sizeof(b), &err), -1);
	assert_int_equal(multipart_boundary("multipart/form-data; "
	    "boundary=", b, sizeof(b), &err), -1);
	assert_int_equal(multipart_boundary("multipart/form-data; "
	    "boundary=\"abc", b, sizeof(b), &err), -1);
	assert_int_equal(multipart_boundary("multipart/form-data; "
	    "boundary=\"a\rb\"", b, sizeof(b), &err), -1);
	snprintf(long_ct, sizeof(long_ct), "multipart/form-data; boundary="
	    "%071d", 0);
	assert_int_equal(multipart_boundary(long_ct, b, sizeof(b), &err),
	    -1);
	assert_int_equal(multipart_boundary(NULL, b, sizeof(b), &err), -1);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx",
		"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
		"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n"
		    "x\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=\"a\0\"\r\n\r\n"
		    "x\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\""
		    "\r\n\r\nx\r\n--b--",
		"--b\r\n folded: x\r\nContent-Disposition: form-data; "
		    "name=\"a\"\r\n\r\nx\r\n--b--",
		"--bX\r\n",
		"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx"
		    "\r\n--b--",
		"no boundary at all",
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vm_error err = { 0, "" };
		size_t len = strlen(bad[i]);
		char *got;

		if (i == 3)	/* the NUL inside: count what follows it too */
			len += 1 + strlen(bad[i] + len + 1);
		got = parse("b", bad[i], len, 7, &err);
		if (got != NULL)
			fail_msg("bad body %zu accepted: %s", i, got);
		assert_true(err.code == API_EINVAL ||
		    err.code == API_EMALFORMED);
		assert_true(err.message[0] != '\0');
	}
}

static void
test_text_ok(void **state)
{
	(void)state;
	assert_true(multipart_text_ok("abc", 3, false));
	assert_true(multipart_text_ok("h\xc3\xa9", 3, false));
	assert_true(multipart_text_ok("\xf0\x9f\x98\x80", 4, false));
	assert_false(multipart_text_ok("a\0b", 3, false));
	assert_false(multipart_text_ok("a\tb", 3, false));
	assert_true(multipart_text_ok("a\tb\r\n", 5, true));
	assert_false(multipart_text_ok("a\x1b", 2, true));
	assert_false(multipart_text_ok("\x7f", 1, false));
	assert_false(multipart_text_ok("\xc2\x85", 2, false));	/* C1 */
	assert_false(multipart_text_ok("\xc2\x9f", 2, false));
	assert_true(multipart_text_ok("\xc2\xa0", 2, false));
	assert_false(multipart_text_ok("\xc0\xaf", 2, false));	/* overlong */
	assert_false(multipart_text_ok("\xe0\x80\xaf", 3, false));
	assert_false(multipart_text_ok("\xed\xa0\x80", 3, false)); /* surrogate */
	assert_false(multipart_text_ok("\xf4\x90\x80\x80", 4, false));
	assert_false(multipart_text_ok("\xff", 1, false));
	assert_false(multipart_text_ok("\xc3", 1, false));	/* cut short */
}

/* ---------------------------------------------------------------- upform */

static int
drop_sink(void *arg, int part, const char *data, size_t len,
    struct vm_error *err)
{
	(void)arg;
	(void)part;
	(void)data;
	(void)len;
	(void)err;
	return 0;
}

/* Feed fields (name, value, len) and a disk of content; record it. */
static int
form_record(const char *field, const char *val, size_t vlen,
    const char *disk, size_t dlen, const char *own, struct api_img *img,
    struct vm_error *err)
{
	struct upform f;
	int rc = 0;

	upform_init(&f, 1 << 20, drop_sink, NULL);
	rc |= upform_part(&f, "name", NULL, NULL, 0, 0);
	rc |= upform_part(&f, "name", NULL, "i1", 0, 2);
	rc |= upform_part(&f, "agency", NULL, NULL, 0, 0);
	rc |= upform_part(&f, "agency", NULL, "a1", 0, 2);
	if (field != NULL) {
		rc |= upform_part(&f, field, NULL, NULL, 0, 0);
		rc |= upform_part(&f, field, NULL, val, 0, vlen);
	}
	rc |= upform_part(&f, "disk", "d", NULL, 0, 0);
	rc |= upform_part(&f, "disk", "d", disk, 0, dlen);
	assert_int_equal(rc, 0);
	rc = upform_record(&f, own, img, err);
	upform_fini(&f);
	return rc;
}

static void
test_upform_fields(void **state)
{
	static const struct {
		const char *field, *val;
		size_t len;
	} bad[] = {
		{ "format", "raw\0", 4 },	/* crashed vmctld (d7996bd) */
		{ "format", "raw\0x", 5 },
		{ "format", "", 0 },		/* empty = not given: ok */
		{ "arch", "x86\x01", 4 },
		{ "cmdline", "a\nb", 3 },
		{ "required_labels", "g\xc2\x85", 3 },
		{ "visibility", "\xff", 1 },
		{ "format", "vmdk", 4 },
	};
	struct api_img img;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vm_error err = { 0, "" };
		int rc = form_record(bad[i].field, bad[i].val, bad[i].len,
		    "rawdata", 7, NULL, &img, &err);

		if (bad[i].len == 0) {
			assert_int_equal(rc, 0);
			continue;
		}
		assert_int_equal(rc, -1);
		assert_int_equal(err.code, API_EINVAL);
		assert_non_null(strstr(err.message, bad[i].field));
	}
}

static void
test_upform_parts(void **state)
{
	struct upform f;
	struct api_img img;
	struct vm_error err = { 0, "" };

	(void)state;
	upform_init(&f, 10, drop_sink, NULL);
	assert_int_equal(upform_part(&f, "disk", NULL, NULL, 0, 0), -1);
	assert_int_equal(upform_part(&f, "colour", NULL, NULL, 0, 0), -1);
	assert_int_equal(upform_part(&f, "kernel", "k", NULL, 0, 0), 0);
	assert_int_equal(upform_part(&f, "kernel", "k", "0123456789", 0,
	    10), 0);
	assert_int_equal(upform_part(&f, "kernel", "k", "x", 10, 1), -1);
	assert_int_equal(f.err.code, API_ETOOLARGE);
	assert_int_equal(upform_part(&f, "kernel", "k", NULL, 0, 0), -1);
	assert_int_equal(upform_part(&f, "name", NULL, NULL, 0, 0), 0);
	assert_int_equal(upform_part(&f, "name", NULL, NULL, 0, 0), -1);
	upform_fini(&f);

	/* A member's upload: own agency, never public. */
	assert_int_equal(form_record("visibility", "public", 6, "d", 1, "a1",
	    &img, &err), -1);
	assert_int_equal(err.code, API_EFORBIDDEN);
	assert_int_equal(form_record(NULL, NULL, 0, "d", 1, "a1", &img,
	    &err), 0);
	assert_string_equal(img.agency, "a1");
	assert_int_equal(img.format, IMG_RAW);
	assert_int_equal(img.disk_size, 1);
}

/* ---------------------------------------------------------------- probe */

static void
qcow2_head(unsigned char *h, uint32_t version, uint64_t backing,
    uint64_t incompat)
{
	int i;

	memset(h, 0, API_IMG_HEAD);
	memcpy(h, "QFI\xfb", 4);
	for (i = 0; i < 4; i++)
		h[4 + i] = (unsigned char)(version >> (24 - 8 * i));
	for (i = 0; i < 8; i++) {
		h[8 + i] = (unsigned char)(backing >> (56 - 8 * i));
		h[72 + i] = (unsigned char)(incompat >> (56 - 8 * i));
	}
}

static void
test_probe(void **state)
{
	unsigned char h[API_IMG_HEAD];
	char why[256];
	static const char *const others[] = {
		"KDMV", "COWD", "vhdxfile", "conectix", "QED", "LUKS\xba\xbe",
		"WithoutFreeSpace", "Bochs Virtual HD Image",
		"# Disk DescriptorFile\nversion=1\n",
		"version=1\ncreateType=\"monolithicFlat\"\n",
	};
	size_t i;

	(void)state;
	memset(h, 0, sizeof(h));
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), IMG_RAW);
	assert_int_equal(api_img_probe(h, 0, 0, why, sizeof(why)), IMG_RAW);
	qcow2_head(h, 3, 0, 0);
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), IMG_QCOW2);
	qcow2_head(h, 2, 0, 0);
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), IMG_QCOW2);
	qcow2_head(h, 3, 0x1000, 0);
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "backing file"));
	qcow2_head(h, 3, 0, 4);
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "external data file"));
	qcow2_head(h, 1, 0, 0);
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), -1);
	qcow2_head(h, 3, 0, 0);
	assert_int_equal(api_img_probe(h, 40, 40, why, sizeof(why)), -1);
	for (i = 0; i < ARRAY_SIZE(others); i++) {
		memset(h, 0, sizeof(h));
		memcpy(h, others[i], strlen(others[i]) + (i == 4 ? 1 : 0));
		if (api_img_probe(h, sizeof(h), 1 << 20, why, sizeof(why)) !=
		    -1)
			fail_msg("'%s' accepted", others[i]);
	}
	memset(h, 0, sizeof(h));
	h[0x40] = 0x7f;
	h[0x41] = 0x10;
	h[0x42] = 0xda;
	h[0x43] = 0xbe;			/* vdi signature */
	assert_int_equal(api_img_probe(h, sizeof(h), 1 << 20, why,
	    sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_chunk_size),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_text_ok),
		cmocka_unit_test(test_upform_fields),
		cmocka_unit_test(test_upform_parts),
		cmocka_unit_test(test_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
