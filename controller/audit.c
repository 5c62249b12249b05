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

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "audit_priv.h"
#include "codec.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "util.h"

enum head_state { HEAD_ABSENT, HEAD_OK, HEAD_CORRUPT };

static int head_read(struct store_txn *txn, int64_t *seq,
    char hash[API_HASH_HEX_LEN + 1], enum head_state *state,
    struct vm_error *err);

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

char *
audit_text(const struct api_audit_event *ev)
{
	static const char *const optional[] = API_AUDIT_OPTIONAL_MEMBERS;
	json_object *o = api_encode(&api_audit_event_schema, ev);
	json_object *v = NULL;
	char *t;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(optional); i++) {
		if (!json_object_object_get_ex(o, optional[i], &v))
			continue;
		if (v == NULL || strcmp(optional[i], "corrupt") == 0 ||
		    (strcmp(optional[i], "count") == 0 && ev->count <= 1))
			json_object_object_del(o, optional[i]);
	}
	t = json_dump(o);
	json_object_put(o);
	return t;
}

static void
hex_format(const unsigned char *md, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/*
 * The digest of ev: SHA-256 for an unkeyed event (key_id ""), else
 * HMAC-SHA256 under k, which must be the key ev names.
 */
static int
event_digest(const struct audit_hmac *k, const struct api_audit_event *ev,
    char out[API_HASH_HEX_LEN + 1], struct vm_error *err)
{
	struct api_audit_event tmp = *ev;
	unsigned char md[32];
	struct buf b = { 0 };
	char *text;
	int rc;

	if (ev->key_id[0] != '\0' && (k == NULL ||
	    strcmp(k->id, ev->key_id) != 0)) {
		vm_error_set(err, API_EINTERNAL, "audit: event %lld is keyed "
		    "with key %s, which is not loaded", (long long)ev->seq,
		    ev->key_id);
		return -1;
	}
	tmp.hash[0] = '\0';
	text = audit_text(&tmp);
	buf_append(&b, ev->prev, strlen(ev->prev));
	buf_append(&b, text, strlen(text));
	if (ev->key_id[0] != '\0')
		rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, k->key,
		    sizeof(k->key), b.data, b.len, md);
	else
		rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, b.data, b.len, md);
	free(text);
	buf_free(&b);
	if (rc < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: SHA-256: %s",
		    gnutls_strerror(rc));
		return -1;
	}
	hex_format(md, sizeof(md), out);
	return 0;
}

int
audit_hash(const struct api_audit_event *ev, char out[API_HASH_HEX_LEN + 1],
    struct vm_error *err)
{
	return event_digest(NULL, ev, out, err);
}

/* ------------------------------------------------------------------ key */

/* The key's id: the first 16 hex digits of SHA-256("vmctl-audit" key). */
static void
hmac_id(struct audit_hmac *k)
{
	unsigned char in[11 + sizeof(k->key)], md[32];

	memcpy(in, "vmctl-audit", 11);
	memcpy(in + 11, k->key, sizeof(k->key));
	gnutls_hash_fast(GNUTLS_DIG_SHA256, in, sizeof(in), md);
	hex_format(md, API_AUDIT_KEY_ID_LEN / 2, k->id);
	memset(in, 0, sizeof(in));
}

/* "vmctl-audit-key 1 HEX64 SINCE\n" into k. */
static int
hmac_parse(const char *path, const char *text, struct audit_hmac *k,
    struct vm_error *err)
{
	char hex[API_HASH_HEX_LEN + 2];
	long long since = 0;
	int ver = 0;
	size_t i;

	if (sscanf(text, "vmctl-audit-key %d %65s %lld", &ver, hex,
	    &since) != 3 || ver != 1 || !api_hash_hex_valid(hex) ||
	    since < 1) {
		vm_error_set(err, API_EINTERNAL, "audit: %s is not an audit "
		    "key file (vmctl-audit-key 1 HEX SINCE)", path);
		memset(hex, 0, sizeof(hex));
		return -1;
	}
	for (i = 0; i < sizeof(k->key); i++) {
		unsigned int b;

		sscanf(hex + 2 * i, "%2x", &b);
		k->key[i] = (unsigned char)b;
	}
	memset(hex, 0, sizeof(hex));
	k->since = since;
	hmac_id(k);
	return 0;
}

int
audit_hmac_load(const char *path, struct store *st, struct audit_hmac **out,
    struct vm_error *err)
{
	struct audit_hmac *k = xcalloc(1, sizeof(*k));
	struct store_txn *txn = NULL;
	char text[256], hex[API_HASH_HEX_LEN + 1], hh[API_HASH_HEX_LEN + 1];
	enum head_state hst;
	struct stat sb;
	int64_t seq = 0;
	ssize_t n;
	int fd = -1, ret = -1;

	*out = NULL;
	memset(text, 0, sizeof(text));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    (sb.st_mode & 077) != 0) {
			vm_error_set(err, API_EINTERNAL, "audit: %s must be a "
			    "regular file of mode 0600 (chmod 600 %s)", path,
			    path);
			goto cleanup;
		}
		n = read(fd, text, sizeof(text) - 1);
		if (n < 0) {
			vm_error_set(err, API_EINTERNAL, "audit: read %s: %s",
			    path, strerror(errno));
			goto cleanup;
		}
		if (hmac_parse(path, text, k, err) < 0)
			goto cleanup;
		ret = 0;
		goto cleanup;
	}
	if (errno != ENOENT) {
		vm_error_set(err, API_EINTERNAL, "audit: open %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	/* First start with a key: events from the next one on are keyed. */
	if (store_txn_begin(st, false, &txn, err) < 0 ||
	    head_read(txn, &seq, hh, &hst, err) < 0)
		goto cleanup;
	store_txn_abort(txn);
	txn = NULL;
	if (gnutls_rnd(GNUTLS_RND_KEY, k->key, sizeof(k->key)) < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: no random key");
		goto cleanup;
	}
	hex_format(k->key, sizeof(k->key), hex);
	k->since = seq + 1;
	hmac_id(k);
	snprintf(text, sizeof(text), "vmctl-audit-key 1 %s %lld\n", hex,
	    (long long)k->since);
	memset(hex, 0, sizeof(hex));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0 || write(fd, text, strlen(text)) !=
	    (ssize_t)strlen(text) || fsync(fd) < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: create %s: %s", path,
		    strerror(errno));
		if (fd >= 0)
			unlink(path);
		goto cleanup;
	}
	log_info("audit: created the chain key %s (key id %s); events from "
	    "%lld on are keyed", path, k->id, (long long)k->since);
	ret = 0;
cleanup:
	store_txn_abort(txn);
	memset(text, 0, sizeof(text));
	if (fd >= 0)
		close(fd);
	if (ret < 0) {
		audit_hmac_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void
audit_hmac_free(struct audit_hmac *k)
{
	if (k == NULL)
		return;
	memset(k, 0, sizeof(*k));
	free(k);
}

const char *
audit_hmac_id(const struct audit_hmac *k)
{
	return k != NULL ? k->id : "";
}

/* ---------------------------------------------------------------- append */

/*
 * Make s storable text: control characters and bytes that are not
 * well-formed UTF-8 (e.g. a sequence cut by truncation) become '?'.
 */
static void
text_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = api_utf8_len(p);

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
	const struct audit_hmac *k = store_audit_ctx(txn);
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
	ev->corrupt = false;
	if (ev->count <= 1)
		ev->count = 0;		/* one request: the default, left out */
	str_copy(ev->key_id, sizeof(ev->key_id), audit_hmac_id(k));
	event_sanitize(ev);
	if (event_digest(k, ev, ev->hash, err) < 0)
		goto cleanup;
	text = audit_text(ev);
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
	if (event_digest(k, &back, check, err) < 0)
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

/* ---------------------------------------------------------------- anchor */

/*
 * The anchor: where the chain starts once events were pruned, in DB_META
 * under AUDIT_ANCHOR_KEY as "SEQ HASH MAC KEYID": the seq and hash of the
 * last pruned event, HMAC-SHA256("vmctl-audit-anchor SEQ HASH") under the
 * chain key and that key's id ("-" and "-" without a key), so that moving
 * the anchor forward to hide events needs the key.
 */
static int
anchor_mac(const struct audit_hmac *k, int64_t seq, const char *hash,
    char out[API_HASH_HEX_LEN + 1], struct vm_error *err)
{
	unsigned char md[32];
	char msg[160];
	int rc;

	if (k == NULL) {
		str_copy(out, API_HASH_HEX_LEN + 1, "-");
		return 0;
	}
	snprintf(msg, sizeof(msg), "vmctl-audit-anchor %lld %s",
	    (long long)seq, hash);
	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, k->key, sizeof(k->key), msg,
	    strlen(msg), md);
	if (rc < 0) {
		vm_error_set(err, API_EINTERNAL, "audit: HMAC: %s",
		    gnutls_strerror(rc));
		return -1;
	}
	hex_format(md, sizeof(md), out);
	return 0;
}

enum anchor_state {
	ANCHOR_ABSENT,		/* nothing pruned */
	ANCHOR_OK,
	ANCHOR_CORRUPT,		/* not "SEQ HASH MAC" */
	ANCHOR_BADMAC,		/* keyed, the MAC does not match */
	ANCHOR_OTHERKEY,	/* keyed with another key than the loaded one */
	ANCHOR_UNKEYED,		/* "-" where the chain is keyed */
};

static int
anchor_read(struct store_txn *txn, const struct audit_hmac *k, int64_t *seq,
    char hash[API_HASH_HEX_LEN + 1], enum anchor_state *state,
    struct vm_error *err)
{
	char h[API_HASH_HEX_LEN + 2], m[API_HASH_HEX_LEN + 2];
	char kid[API_AUDIT_KEY_ID_LEN + 2];
	char want[API_HASH_HEX_LEN + 1], *val = NULL;
	long long n = 0;
	int rc;

	*seq = 0;
	*state = ANCHOR_ABSENT;
	rc = store_get(txn, DB_META, AUDIT_ANCHOR_KEY, &val, NULL, err);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	*state = ANCHOR_CORRUPT;
	str_copy(kid, sizeof(kid), "-");
	if (sscanf(val, "%lld %65s %65s %17s", &n, h, m, kid) < 3 || n < 1 ||
	    !api_hash_hex_valid(h)) {
		free(val);
		return 0;
	}
	free(val);
	*seq = n;
	str_copy(hash, API_HASH_HEX_LEN + 1, h);
	if (strcmp(m, "-") == 0) {
		/* Unkeyed: fine while it only skips events before the key. */
		*state = (k != NULL && n >= k->since) ? ANCHOR_UNKEYED :
		    ANCHOR_OK;
		return 0;
	}
	if (k == NULL || strcmp(kid, k->id) != 0) {
		*state = ANCHOR_OTHERKEY;
		str_copy(hash, API_HASH_HEX_LEN + 1, kid);
		return 0;
	}
	if (anchor_mac(k, n, h, want, err) < 0)
		return -1;
	*state = strcmp(want, m) == 0 ? ANCHOR_OK : ANCHOR_BADMAC;
	return 0;
}

/* ---------------------------------------------------------------- verify */

struct verify_ctx {
	struct api_audit_verify *out;
	const struct audit_hmac *k;	/* NULL = no key loaded */
	bool keyed_seen;		/* a keyed event came already */
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
	if (c->ev.key_id[0] == '\0' && (c->keyed_seen || (c->k != NULL &&
	    seq >= c->k->since))) {
		verify_bad(c, seq, "unkeyed: event %lld has a plain hash but "
		    "the chain is keyed from event %lld on (rewritten without "
		    "the key?)", nseq, c->k != NULL ? (long long)c->k->since :
		    nseq);
		return 1;
	}
	if (c->ev.key_id[0] != '\0' && c->k == NULL) {
		verify_bad(c, seq, "key mismatch: event %lld is keyed with key "
		    "%s but no audit key is loaded (audit.key_file)", nseq,
		    c->ev.key_id);
		return 1;
	}
	if (c->ev.key_id[0] != '\0' && strcmp(c->ev.key_id, c->k->id) != 0) {
		verify_bad(c, seq, "key mismatch: event %lld is keyed with key "
		    "%s; audit.key_file holds key %s", nseq, c->ev.key_id,
		    c->k->id);
		return 1;
	}
	if (c->ev.key_id[0] != '\0')
		c->keyed_seen = true;
	if (strcmp(c->ev.prev, c->prev) != 0) {
		if (seq == 1)
			verify_bad(c, seq, "broken link: event 1's prev is "
			    "not 64 zeros");
		else
			verify_bad(c, seq, "broken link: event %lld's prev "
			    "is not the hash of event %lld", nseq, nseq - 1);
		return 1;
	}
	if (event_digest(c->k, &c->ev, want, err) < 0)
		return -1;
	if (strcmp(want, c->ev.hash) != 0) {
		verify_bad(c, seq, "edited: event %lld does not match its "
		    "%s", nseq, c->ev.key_id[0] ? "keyed hash (edited, or "
		    "rehashed without the key)" : "hash");
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
	char ahash[API_HASH_HEX_LEN + 1];
	enum anchor_state ast;
	int64_t aseq = 0;
	size_t n = 0;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->ok = true;
	c->out = out;
	c->k = store_audit_ctx(txn);
	c->expect = 1;
	str_copy(out->key_id, sizeof(out->key_id), audit_hmac_id(c->k));
	str_copy(c->prev, sizeof(c->prev), zero_hash);
	if (store_count(txn, DB_AUDIT, &n, err) < 0)
		goto cleanup;
	out->events = (int64_t)n;
	if (anchor_read(txn, c->k, &aseq, ahash, &ast, err) < 0)
		goto cleanup;
	if (ast == ANCHOR_CORRUPT) {
		verify_bad(c, 1, "anchor: the anchor record (%s) is corrupt",
		    AUDIT_ANCHOR_KEY);
	} else if (ast == ANCHOR_BADMAC) {
		verify_bad(c, aseq + 1, "anchor: the anchor record (%s, "
		    "events up to %lld pruned) does not match its MAC (edited, "
		    "or another key)", AUDIT_ANCHOR_KEY, (long long)aseq);
	} else if (ast == ANCHOR_OTHERKEY) {
		verify_bad(c, aseq + 1, "key mismatch: the anchor record (%s, "
		    "events up to %lld pruned) was made with key %.16s; %s",
		    AUDIT_ANCHOR_KEY, (long long)aseq, ahash, c->k == NULL ?
		    "no audit key is loaded (audit.key_file)" :
		    "audit.key_file holds another key");
	} else if (ast == ANCHOR_UNKEYED) {
		verify_bad(c, aseq + 1, "anchor: the anchor record (%s, "
		    "events up to %lld pruned) has no MAC but the chain is "
		    "keyed from event %lld on", AUDIT_ANCHOR_KEY,
		    (long long)aseq, (long long)c->k->since);
	} else if (ast == ANCHOR_OK) {
		out->anchor = aseq;
		c->expect = aseq + 1;
		str_copy(c->prev, sizeof(c->prev), ahash);
	}
	if (!c->bad && store_iter(txn, DB_AUDIT, NULL, verify_cb, c, err) < 0)
		goto cleanup;
	if (!c->bad && verify_head(txn, c, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(c);
	return ret;
}

/* ----------------------------------------------------------------- prune */

struct prune_ctx {
	const struct audit_prune *p;
	int64_t left;			/* events in the log not yet pruned */
	int64_t head;			/* seq of the head: never pruned */
	char (*keys)[17];		/* owned; [batch] */
	size_t n;
	int64_t last_seq;
	char last_hash[API_HASH_HEX_LEN + 1];
	struct buf *export;
	struct api_audit_event ev;	/* scratch */
};

static int
prune_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct prune_ctx *c = arg;
	struct vm_error derr = { 0, "" };
	bool over;

	(void)err;
	if (c->n == c->p->batch || klen != 16)
		return 1;
	if (api_decode_text(&api_audit_event_schema, val, vlen, &c->ev,
	    API_STORED, &derr) < 0) {
		/* Left for a human: verify and the list name it. */
		log_warnx("audit: pruning stops at the corrupt entry '%.16s'",
		    key);
		return 1;
	}
	if (c->ev.seq >= c->head)
		return 1;
	over = (c->p->max_events > 0 && c->left > c->p->max_events) ||
	    (c->p->before_ms > 0 && c->ev.time < c->p->before_ms);
	if (!over)
		return 1;
	memcpy(c->keys[c->n++], key, 16);
	c->keys[c->n - 1][16] = '\0';
	c->left--;
	c->last_seq = c->ev.seq;
	str_copy(c->last_hash, sizeof(c->last_hash), c->ev.hash);
	if (c->export != NULL) {
		buf_append(c->export, val, vlen);
		buf_append(c->export, "\n", 1);
	}
	return 0;
}

int
audit_prune(struct store_txn *txn, const struct audit_prune *p,
    struct buf *export, int64_t *pruned, struct vm_error *err)
{
	const struct audit_hmac *k = store_audit_ctx(txn);
	struct prune_ctx c;
	char hh[API_HASH_HEX_LEN + 1], anchor[256], mac[API_HASH_HEX_LEN + 1];
	enum head_state hst;
	size_t n = 0, i;
	int ret = -1;

	*pruned = 0;
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.export = export;
	if (p->batch == 0 || (p->max_events <= 0 && p->before_ms <= 0))
		return 0;
	if (head_read(txn, &c.head, hh, &hst, err) < 0 ||
	    store_count(txn, DB_AUDIT, &n, err) < 0)
		return -1;
	if (hst != HEAD_OK)
		return 0;
	c.left = (int64_t)n;
	c.keys = xcalloc(p->batch, sizeof(*c.keys));
	if (store_iter(txn, DB_AUDIT, NULL, prune_cb, &c, err) < 0)
		goto cleanup;
	if (c.n == 0) {
		ret = 0;
		goto cleanup;
	}
	for (i = 0; i < c.n; i++)
		if (store_del(txn, DB_AUDIT, c.keys[i], NULL, err) < 0)
			goto cleanup;
	if (anchor_mac(k, c.last_seq, c.last_hash, mac, err) < 0)
		goto cleanup;
	snprintf(anchor, sizeof(anchor), "%lld %s %s %s",
	    (long long)c.last_seq, c.last_hash, mac, k != NULL ? k->id : "-");
	if (store_put(txn, DB_META, AUDIT_ANCHOR_KEY, anchor, strlen(anchor),
	    0, err) < 0)
		goto cleanup;
	*pruned = (int64_t)c.n;
	ret = 0;
cleanup:
	free(c.keys);
	return ret;
}
