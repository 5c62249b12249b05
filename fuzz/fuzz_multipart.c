/*
 * fuzz_multipart: libFuzzer target for the image upload body: the
 * multipart parser (controller/multipart.c) feeding the upload form
 * (controller/upform.c) as svc_image.c wires them, with a sink that only
 * counts the file bytes. Input: a Content-Type line, then the body. Byte
 * 0 of the body (after the first newline) also picks the chunk size the
 * body is fed in, so chunk boundaries fall everywhere. See
 * fuzz/README.md for the invariants.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "image.h"
#include "multipart.h"
#include "upform.h"
#include "util.h"

#include "fuzz.h"

struct fuzz_sink {
	int64_t bytes[UPF_NPARTS];
	bool begun[UPF_NPARTS];
};

static int
fuzz_sink_cb(void *arg, int part, const char *data, size_t len,
    struct vm_error *err)
{
	struct fuzz_sink *s = arg;

	(void)err;
	if (part < 0 || part >= UPF_NPARTS)
		FUZZ_FAIL("sink: part %d", part);
	if (data == NULL) {
		if (s->begun[part])
			FUZZ_FAIL("sink: part %d begun twice", part);
		s->begun[part] = true;
		return 0;
	}
	if (!s->begun[part] || len == 0)
		FUZZ_FAIL("sink: %zu bytes for part %d not begun", len, part);
	s->bytes[part] += (int64_t)len;
	return 0;
}

static void
fuzz_check_err(const struct vm_error *err, const char *what)
{
	if (getenv("FUZZ_VERBOSE") != NULL)
		printf("  refused by %s: %d %s\n", what,
		    api_err_status(err->code), err->message);
	if (err->code == API_OK || memchr(err->message, '\0',
	    sizeof(err->message)) == NULL)
		FUZZ_FAIL("%s failed without an error", what);
	if (api_err_status(err->code) < 400 || api_err_status(err->code) > 499)
		FUZZ_FAIL("%s: status %d for a client's body (%s)", what,
		    api_err_status(err->code), err->message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char ct[256], boundary[MP_BOUNDARY_MAX + 1];
	struct vm_error err = { 0, "" };
	struct fuzz_sink sink;
	struct multipart *mp = NULL;
	struct upform form;
	struct api_img img;
	const char *body;
	size_t ctlen, blen, chunk, off;
	int i, rc;

	if (nl == NULL)
		return 0;
	ctlen = (size_t)(nl - (const char *)data);
	if (ctlen >= sizeof(ct) || memchr(data, '\0', ctlen) != NULL)
		return 0;
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	body = nl + 1;
	blen = size - ctlen - 1;
	chunk = blen > 0 ? 1 + (size_t)(unsigned char)body[0] % 97 : 1;

	if (multipart_boundary(ct, boundary, sizeof(boundary), &err) < 0) {
		fuzz_check_err(&err, "multipart_boundary");
		return 0;
	}
	if (strlen(boundary) == 0 || strlen(boundary) > MP_BOUNDARY_MAX ||
	    strchr(boundary, '\r') != NULL || strchr(boundary, '\n') != NULL)
		FUZZ_FAIL("boundary '%s' accepted", boundary);
	memset(&sink, 0, sizeof(sink));
	upform_init(&form, 4096, fuzz_sink_cb, &sink);
	mp = multipart_new(boundary, upform_part, &form);
	for (off = 0; off < blen; off += chunk) {
		size_t n = blen - off < chunk ? blen - off : chunk;

		if (multipart_feed(mp, body + off, n, &err) < 0) {
			if (multipart_stopped(mp))
				err = form.err;
			fuzz_check_err(&err, "multipart_feed");
			goto cleanup;
		}
	}
	if (multipart_finish(mp, &err) < 0) {
		fuzz_check_err(&err, "multipart_finish");
		goto cleanup;
	}
	for (i = 0; i < UPF_NPARTS; i++)
		if (sink.bytes[i] != form.size[i] || sink.begun[i] !=
		    form.have[i])
			FUZZ_FAIL("part %d: sink %lld bytes, form %lld", i,
			    (long long)sink.bytes[i], (long long)form.size[i]);
	memset(&img, 0, sizeof(img));
	rc = upform_record(&form, (blen & 1) ? "a" : NULL, &img, &err);
	if (rc < 0) {
		fuzz_check_err(&err, "upform_record");
		goto cleanup;
	}
	/* What is accepted is a valid record with checked content. */
	{
		char *text = api_encode_text(&api_img_schema, &img);
		struct api_img back;

		if (api_decode_text(&api_img_schema, text, strlen(text), &back,
		    API_STORED, &err) < 0)
			FUZZ_FAIL("record does not decode: %s (%s)",
			    err.message, text);
		free(text);
	}
	if (getenv("FUZZ_VERBOSE") != NULL)
		printf("  accepted: image %s, %s\n", img.name,
		    api_img_format_names[img.format]);
	if (img.format == IMG_RAW || img.format == IMG_QCOW2) {
		char why[256];
		size_t n = img.disk_size < API_IMG_HEAD ?
		    (size_t)img.disk_size : API_IMG_HEAD;

		if (api_img_probe(form.head[UPF_DISK], n, img.disk_size, why,
		    sizeof(why)) != img.format)
			FUZZ_FAIL("disk accepted as %s, probe disagrees",
			    api_img_format_names[img.format]);
	}
cleanup:
	multipart_free(mp);
	upform_fini(&form);
	return 0;
}
