/*
 * audit.c: the hash chain behind the audit trail (docs/security.md,
 * "Audit trail"). Pure store functions, no HTTP: svc_audit.c has the
 * route handlers, server.c calls audit_append() for each audited request.
 *
 * The chain: event N is stored in DB_AUDIT under audit_key(N) (16 hex
 * digits, so LMDB's key order is seq order). Its prev is the hash of event
 * N-1 (64 zeros for event 1) and its hash is
 *
 *	SHA-256(prev || canonical JSON of the event with hash empty)
 *
 * in lower-case hex, where the canonical JSON is api_encode_text() of
 * api_audit_event_schema: compact, members in the table's order, empty
 * strings and time 0 as null ("hash":null). The text therefore depends on
 * the table and on json-c's compact output (stable escaping of '"', '\\'
 * and control characters; '/' and UTF-8 left as they are):
 * test_audit.c pins a known vector so a change shows up.
 *
 * The head (seq and hash of the newest event) is kept in DB_META under
 * AUDIT_HEAD_KEY so audit_append() is O(1); audit_verify() trusts nothing
 * but recomputes the chain from the events and then compares the head
 * with the last event (that is what catches events cut off the end).
 */
#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_priv.h"
#include "errors.h"
#include "log.h"
#include "store.h"
#include "util.h"

static const char zero_hash[API_HASH_HEX_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

void
audit_key(int64_t seq, char key[17])
{
	snprintf(key, 17, "%016llx", (unsigned long long)seq);
}

/* Parse a DB_AUDIT key: exactly 16 lower-case hex digits, seq >= 1. */
static bool
audit_key_parse(const char *key, size_t klen, int64_t *seq)
{
	unsigned long long v = 0;
	size_t i;

	if (klen != 16)
		return false;
	for (i = 0; i < klen; i++) {
		char c = key[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long long)(c - 'a' + 10);
		else
			return false;
	}
	if (v == 0 || v > INT64_MAX)
		return false;
	*seq = (int64_t)v;
	return true;
}

int
audit_hash(const struct api_audit_event *ev, char out[API_HASH_HEX_LEN + 1],
    struct vm_error *err)
{
	struct api_audit_event tmp = *ev;
	unsigned char md[32];
	struct buf b = { 0 };
	char *text;
	size_t i;
	int rc;

	tmp.hash[0] = '\0';
	text = api_encode_text(&api_audit_event_schema, &tmp);
	buf_append(&b, ev->prev, strlen(ev->prev));
	buf_append(&b, text, strlen(text));
	rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, b.data, b.len, md);
	free(text);
	buf_free(&b);
	if (rc < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: SHA-256: %s",
		    gnutls_strerror(rc));
		return -1;
	}
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---------------------------------------------------------------- append */

/* Length of the well-formed UTF-8 sequence at p (1-4), 0 if malformed. */
static size_t
utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xe0 && p[1] < 0xa0) ||	/* overlong */
		    (p[0] == 0xed && p[1] > 0x9f))	/* surrogate */
			return 0;
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Make s storable text: control characters and bytes that are not
 * well-formed UTF-8 (e.g. a sequence cut by truncation) become '?'.
 */
static void
text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = utf8_len(p);

		if (n == 0 || (*p < 0x20 && *p != '\t') || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

/*
 * What the caller filled may come from the request (path, peer): make
 * every field valid for the codec, so the event decodes again at verify
 * time. A name that is not a valid name is dropped (only a bug could
 * give one: principals come from the store).
 */
static void
event_sanitize(struct api_audit_event *ev)
{
	const struct api_schema *s = &api_audit_event_schema;
	size_t i;

	for (i = 0; i < s->nfields; i++) {
		const struct api_field *f = &s->fields[i];
		char *p = (char *)ev + f->off;

		if (f->type == AF_STR) {
			p[f->size - 1] = '\0';
			text_sanitize(p);
		} else if (f->type == AF_NAME && p[0] != '\0' &&
		    !api_name_valid(p)) {
			log_warnx("audit: dropping invalid %s name", f->name);
			p[0] = '\0';
		}
	}
	if (ev->status < 100 || ev->status > 599)
		ev->status = 500;
	if (ev->result < AUDIT_OK || ev->result > AUDIT_FAILED)
		ev->result = AUDIT_FAILED;
}

enum head_state { HEAD_ABSENT, HEAD_OK, HEAD_CORRUPT };

/*
 * Read the head into *seq and hash (0 and zero_hash when absent or
 * corrupt; *state says which). -1 only for a store failure.
 */
static int
head_read(struct store_txn *txn, int64_t *seq, char hash[API_HASH_HEX_LEN + 1],
    enum head_state *state, struct vm_error *err)
{
	char h[API_HASH_HEX_LEN + 2], *val = NULL;
	long long n = 0;
	int rc;

	*seq = 0;
	str_copy(hash, API_HASH_HEX_LEN + 1, zero_hash);
	*state = HEAD_ABSENT;
	rc = store_get(txn, DB_META, AUDIT_HEAD_KEY, &val, NULL, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	*state = HEAD_CORRUPT;
	if (sscanf(val, "%lld %65s", &n, h) == 2 && n >= 1 &&
	    api_hash_hex_valid(h)) {
		*seq = n;
		str_copy(hash, API_HASH_HEX_LEN + 1, h);
		*state = HEAD_OK;
	}
	free(val);
	return 0;
}

int
audit_append(struct store_txn *txn, struct api_audit_event *ev,
    struct vm_error *err)
{
	struct api_audit_event back;
	struct vm_error derr = { 0, "" };
	char key[17], check[API_HASH_HEX_LEN + 1], head[128];
	char *text = NULL;
	enum head_state hst;
	int64_t seq;
	int rc, ret = -1;

	if (head_read(txn, &seq, ev->prev, &hst, err) < 0)
		goto cleanup;
	if (hst == HEAD_CORRUPT) {
		vm_error_set(err, API_EINTERNAL, "audit: the head record (%s) "
		    "is corrupt: run GET /v1/audit/verify", AUDIT_HEAD_KEY);
		goto cleanup;
	}
	ev->seq = seq + 1;
	if (ev->time == 0)
		ev->time = now_ms();
	ev->hash[0] = '\0';
	event_sanitize(ev);
	if (audit_hash(ev, ev->hash, err) < 0)
		goto cleanup;
	text = api_encode_text(&api_audit_event_schema, ev);
	/*
	 * What we store must verify: decode it again and hash what came
	 * back, so a value the codec would not take back (or would read
	 * differently) fails here, in the request, not in a later audit.
	 */
	if (api_decode_text(&api_audit_event_schema, text, strlen(text),
	    &back, API_STORED, &derr) < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: event %lld would not "
		    "decode: %.300s", (long long)ev->seq, derr.message);
		goto cleanup;
	}
	if (audit_hash(&back, check, err) < 0)
		goto cleanup;
	if (strcmp(check, ev->hash) != 0) {
		vm_error_set(err, API_EINTERNAL, "audit: event %lld would not "
		    "verify (it decodes differently)", (long long)ev->seq);
		goto cleanup;
	}
	audit_key(ev->seq, key);
	rc = store_put(txn, DB_AUDIT, key, text, strlen(text),
	    STORE_NOOVERWRITE, err);
	if (rc < 0)
		goto cleanup;
	if (rc == 1) {
		/* The head is behind the log: never overwrite an event. */
		vm_error_set(err, API_EINTERNAL,
		    "audit: event %lld exists already (audit head is behind "
		    "the log: run GET /v1/audit/verify)", (long long)ev->seq);
		goto cleanup;
	}
	snprintf(head, sizeof(head), "%lld %s", (long long)ev->seq, ev->hash);
	if (store_put(txn, DB_META, AUDIT_HEAD_KEY, head, strlen(head), 0,
	    err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(text);
	return ret;
}

/* ---------------------------------------------------------------- verify */

struct verify_ctx {
	struct api_audit_verify *out;
	int64_t expect;			/* seq of the next event */
	char prev[API_HASH_HEX_LEN + 1];	/* hash of event expect - 1 */
	bool bad;
	struct api_audit_event ev;	/* scratch */
};

static void verify_bad(struct verify_ctx *c, int64_t seq, const char *fmt,
    ...) ATTR_PRINTF(3, 4);

/* Record the first break: seq and why (the kind first in the text). */
static void
verify_bad(struct verify_ctx *c, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	c->bad = true;
	c->out->ok = false;
	c->out->first_bad = seq;
	va_start(ap, fmt);
	vsnprintf(c->out->reason, sizeof(c->out->reason), fmt, ap);
	va_end(ap);
	text_sanitize(c->out->reason);
}

static int
verify_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct verify_ctx *c = arg;
	char want[API_HASH_HEX_LEN + 1];
	struct vm_error derr = { 0, "" };
	long long nseq = (long long)c->expect;
	int64_t seq;

	if (!audit_key_parse(key, klen, &seq) || seq < c->expect) {
		verify_bad(c, c->expect, "extra: an entry under key '%.*s' "
		    "that is not the next event (%lld)",
		    (int)(klen > 40 ? 40 : klen), key, nseq);
		return 1;
	}
	if (seq > c->expect) {
		if (seq == c->expect + 1)
			verify_bad(c, c->expect, "missing: event %lld is "
			    "gone (the log goes on at %lld)", nseq,
			    (long long)seq);
		else
			verify_bad(c, c->expect, "missing: events %lld-%lld "
			    "are gone (the log goes on at %lld)", nseq,
			    (long long)seq - 1, (long long)seq);
		return 1;
	}
	if (api_decode_text(&api_audit_event_schema, val, vlen, &c->ev,
	    API_STORED, &derr) < 0) {
		verify_bad(c, seq, "edited: event %lld is not a valid event: "
		    "%s", nseq, derr.message);
		return 1;
	}
	if (c->ev.seq != seq) {
		verify_bad(c, seq, "reordered: the entry of event %lld holds "
		    "event %lld", nseq, (long long)c->ev.seq);
		return 1;
	}
	if (strcmp(c->ev.prev, c->prev) != 0) {
		if (seq == 1)
			verify_bad(c, seq, "broken link: event 1's prev is "
			    "not 64 zeros");
		else
			verify_bad(c, seq, "broken link: event %lld's prev "
			    "is not the hash of event %lld", nseq, nseq - 1);
		return 1;
	}
	if (audit_hash(&c->ev, want, err) < 0)
		return -1;
	if (strcmp(want, c->ev.hash) != 0) {
		verify_bad(c, seq, "edited: event %lld does not match its "
		    "hash", nseq);
		return 1;
	}
	str_copy(c->prev, sizeof(c->prev), c->ev.hash);
	c->expect++;
	return 0;
}

/* After a clean walk: the head must name the last event. */
static int
verify_head(struct store_txn *txn, struct verify_ctx *c,
    struct vm_error *err)
{
	long long last = (long long)c->expect - 1, hs;
	char hash[API_HASH_HEX_LEN + 1];
	enum head_state hst;
	int64_t hseq;

	if (head_read(txn, &hseq, hash, &hst, err) < 0)
		return -1;
	if (hst == HEAD_CORRUPT) {
		verify_bad(c, last + 1, "head mismatch: the head record (%s) "
		    "is corrupt", AUDIT_HEAD_KEY);
		return 0;
	}
	hs = (long long)hseq;
	if (hst == HEAD_ABSENT) {
		if (last > 0)
			verify_bad(c, last + 1, "head mismatch: the log has "
			    "%lld events but no head record (%s)", last,
			    AUDIT_HEAD_KEY);
		return 0;
	}
	if (hs > last) {
		if (last == 0)
			verify_bad(c, 1, "head mismatch: the head is event "
			    "%lld but the log is empty (events removed)", hs);
		else
			verify_bad(c, last + 1, "head mismatch: the head is "
			    "event %lld but the log ends at %lld (events "
			    "%lld-%lld removed from the end)", hs, last,
			    last + 1, hs);
	} else if (hs + 1 == last) {
		verify_bad(c, last, "extra: event %lld is past the head "
		    "(event %lld)", last, hs);
	} else if (hs < last) {
		verify_bad(c, hs + 1, "extra: events %lld-%lld are past the "
		    "head (event %lld)", hs + 1, last, hs);
	} else if (strcmp(hash, c->prev) != 0) {
		verify_bad(c, last, "head mismatch: the head's hash is not "
		    "event %lld's (the last event was replaced)", last);
	}
	return 0;
}

int
audit_verify(struct store_txn *txn, struct api_audit_verify *out,
    struct vm_error *err)
{
	struct verify_ctx *c = xcalloc(1, sizeof(*c));
	size_t n = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->ok = true;
	c->out = out;
	c->expect = 1;
	str_copy(c->prev, sizeof(c->prev), zero_hash);
	if (store_count(txn, DB_AUDIT, &n, err) < 0)
		goto cleanup;
	out->events = (int64_t)n;
	if (store_iter(txn, DB_AUDIT, NULL, verify_cb, c, err) < 0)
		goto cleanup;
	if (!c->bad && verify_head(txn, c, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(c);
	return ret;
}
