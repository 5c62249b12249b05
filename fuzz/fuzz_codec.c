/*
 * fuzz_codec: libFuzzer target for the wire codecs of api/ and the JSON
 * and time parsers of lib/. The first input byte picks a schema and a
 * mode; the rest is the text. See fuzz/README.md for the invariants.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency.h"
#include "agentproto.h"
#include "audit_event.h"
#include "codec.h"
#include "errors.h"
#include "flavor.h"
#include "host.h"
#include "identity.h"
#include "json.h"
#include "operation.h"
#include "util.h"
#include "vm.h"

#include "fuzz.h"

/*
 * Order is part of the seeds' meaning (byte 0 >> 1 indexes it): append
 * new schemas at the end, never reorder.
 */
static const struct api_schema *const fuzz_schemas[] = {
	&api_flavor_schema,		/* 0 */
	&api_host_schema,		/* 1 */
	&api_vm_schema,			/* 2 */
	&api_image_schema,		/* 3 */
	&api_vm_action_schema,		/* 4 */
	&api_operation_schema,		/* 5 */
	&api_task_schema,		/* 6 */
	&api_task_result_schema,	/* 7 */
	&api_domain_schema,		/* 8 */
	&api_agency_schema,		/* 9 */
	&api_quota_schema,		/* 10 */
	&api_user_schema,		/* 11 */
	&api_token_schema,		/* 12 */
	&api_whoami_schema,		/* 13 */
	&api_usage_report_schema,	/* 14 */
	&api_audit_event_schema,	/* 15 */
	&api_audit_verify_schema,	/* 16 */
	&api_host_enroll_schema,	/* 17 */
};

#define FUZZ_ARRAY_MAX 64	/* items accepted by api_decode_array here */

/*
 * Decode text with s in mode; when that succeeds, the encoding of the
 * result must decode again (as a stored record: the encoding carries the
 * read-only fields too) to the same bytes and encode to the same text.
 */
static void
fuzz_roundtrip(const struct api_schema *s, const char *text, size_t len,
    enum api_mode mode)
{
	struct vm_error err;
	void *a = xcalloc(1, s->size), *b = xcalloc(1, s->size);
	char *enc = NULL, *enc2 = NULL;

	memset(&err, 0, sizeof(err));
	if (api_decode_text(s, text, len, a, mode, &err) < 0) {
		if (err.code == API_OK || memchr(err.message, '\0',
		    sizeof(err.message)) == NULL)
			FUZZ_FAIL("%s: failed decode left no error", s->name);
		goto cleanup;
	}
	/* Stored records are decoded more leniently than input, never less. */
	if (mode == API_INPUT) {
		if (api_decode_text(s, text, len, b, API_STORED, &err) < 0)
			FUZZ_FAIL("%s: input accepted, refused as stored: %s",
			    s->name, err.message);
		if (memcmp(a, b, s->size) != 0)
			FUZZ_FAIL("%s: input and stored decodes differ",
			    s->name);
	}
	enc = api_encode_text(s, a);
	if (api_decode_text(s, enc, strlen(enc), b, API_STORED, &err) < 0)
		FUZZ_FAIL("%s: own encoding %s does not decode: %s", s->name,
		    enc, err.message);
	if (memcmp(a, b, s->size) != 0)
		FUZZ_FAIL("%s: %s decodes to different bytes", s->name, enc);
	enc2 = api_encode_text(s, b);
	if (strcmp(enc, enc2) != 0)
		FUZZ_FAIL("%s: encoding not stable: %s then %s", s->name, enc,
		    enc2);
cleanup:
	free(enc2);
	free(enc);
	free(b);
	free(a);
}

/* api_decode_array under key, then the same round trip for the array. */
static void
fuzz_array(json_object *o, const char *key, const struct api_schema *s)
{
	struct vm_error err;
	json_object *enc = NULL;
	void *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;

	if (api_decode_array(o, key, s, FUZZ_ARRAY_MAX, &a, &na, &err) < 0) {
		if (a != NULL || na != 0)
			FUZZ_FAIL("%s[]: failed decode left output", s->name);
		goto cleanup;
	}
	if (na > FUZZ_ARRAY_MAX)
		FUZZ_FAIL("%s[]: %zu items above max", s->name, na);
	enc = api_encode_array(key, s, a, na);
	if (api_decode_array(enc, key, s, FUZZ_ARRAY_MAX, &b, &nb, &err) < 0)
		FUZZ_FAIL("%s[]: own encoding does not decode: %s", s->name,
		    err.message);
	if (na != nb || memcmp(a, b, na * s->size) != 0)
		FUZZ_FAIL("%s[]: round trip changed the items", s->name);
cleanup:
	json_object_put(enc);
	free(b);
	free(a);
}

static void
fuzz_heartbeat(json_object *o)
{
	struct api_heartbeat a, b;
	struct vm_error err;
	json_object *enc = NULL, *host = NULL;

	if (api_heartbeat_decode(o, &a, &err) < 0) {
		if (a.domains != NULL)
			FUZZ_FAIL("heartbeat: failed decode left domains");
		return;
	}
	/* The name decoded is the whole name sent (as api_decode wants). */
	if (!json_object_object_get_ex(o, "host", &host) ||
	    (size_t)json_object_get_string_len(host) != strlen(a.host))
		FUZZ_FAIL("heartbeat: host '%s' is not the whole string sent",
		    a.host);
	enc = api_heartbeat_encode(&a);
	if (api_heartbeat_decode(enc, &b, &err) < 0)
		FUZZ_FAIL("heartbeat: own encoding %s does not decode: %s",
		    json_object_to_json_string(enc), err.message);
	if (strcmp(a.host, b.host) != 0 || a.seq != b.seq ||
	    a.full != b.full || a.ndomains != b.ndomains ||
	    (a.ndomains > 0 && memcmp(a.domains, b.domains,
	    a.ndomains * sizeof(*a.domains)) != 0))
		FUZZ_FAIL("heartbeat: round trip changed it");
	json_object_put(enc);
	api_heartbeat_free(&b);
	api_heartbeat_free(&a);
}

/* json_parse; what it accepts, json_dump must write back parseably. */
static void
fuzz_json(const char *text, size_t len, const struct api_schema *s)
{
	struct vm_error err;
	json_object *o, *again;
	char *dump;

	o = json_parse(text, len, API_EMALFORMED, &err);
	if (o == NULL)
		return;
	dump = json_dump(o);
	again = json_parse(dump, strlen(dump), API_EMALFORMED, &err);
	if (again == NULL)
		FUZZ_FAIL("json: own dump %s does not parse: %s", dump,
		    err.message);
	if (!json_object_equal(o, again))
		FUZZ_FAIL("json: dump %s parses to something else", dump);
	json_object_put(again);
	free(dump);

	fuzz_heartbeat(o);
	fuzz_array(o, "items", s);
	fuzz_array(o, "results", s);
	json_object_put(o);
}

/* time_parse of the text as a C string; what it accepts must round trip. */
static void
fuzz_time(const char *str)
{
	int64_t ms, back;
	char ts[32];

	if (time_parse(str, &ms) < 0)
		return;
	time_format(ms, ts);
	if (time_parse(ts, &back) < 0)
		FUZZ_FAIL("time: '%s' -> %lld -> '%s' does not parse", str,
		    (long long)ms, ts);
	if (back != ms)
		FUZZ_FAIL("time: '%s' -> %lld -> '%s' -> %lld", str,
		    (long long)ms, ts, (long long)back);
}

static void
fuzz_error_body(const char *str, long status)
{
	struct vm_error err;

	memset(&err, 0x5a, sizeof(err));
	api_error_decode(str, status, &err);
	if (err.code <= API_OK || err.code >= API_ERR_MAX)
		FUZZ_FAIL("error: code %d out of range", err.code);
	if (memchr(err.message, '\0', sizeof(err.message)) == NULL)
		FUZZ_FAIL("error: message not terminated");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct api_schema *s;
	enum api_mode mode;
	const char *text;
	char *str;
	size_t len;

	if (size < 1)
		return 0;
	s = fuzz_schemas[(data[0] >> 1) % ARRAY_SIZE(fuzz_schemas)];
	mode = (data[0] & 1) ? API_STORED : API_INPUT;
	text = (const char *)data + 1;
	len = size - 1;

	fuzz_roundtrip(s, text, len, mode);
	fuzz_json(text, len, s);

	/* The C-string parsers see the text up to its first NUL. */
	str = xstrndup(text, len);
	fuzz_time(str);
	fuzz_error_body(str, 100 + (long)data[0] * 2);
	free(str);
	return 0;
}
