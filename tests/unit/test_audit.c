/*
 * test_audit: unit tests for controller/audit.c (the audit hash chain).
 * Each test gets a fresh LMDB store under a mkdtemp directory (removed by
 * the teardown), appends events through audit_append() and tampers with
 * them through store_put/store_del the way someone with write access to
 * the store could; audit_verify() must name the first place it breaks.
 */
#include "config.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "audit_priv.h"
#include "errors.h"
#include "store.h"
#include "util.h"

#define MAP_MIB 64
#define NEVENTS 100
#define T0 INT64_C(1790000000000)	/* 2026-09-21T14:13:20Z */

static const char zeros[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct fixture {
	char dir[64];		/* mkdtemp result */
	char path[96];		/* dir/state: the store */
	struct store *st;
	struct audit_hmac *key;	/* NULL = unkeyed; freed by teardown */
};

/* ---------------------------------------------------------------- fixture */

static int
rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct vm_error err;

	str_copy(fx->dir, sizeof(fx->dir), "/tmp/vmctl-test-audit.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/state", fx->dir);
	if (store_open(fx->path, MAP_MIB, &fx->st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err.message);
		nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	int rc;

	store_close(fx->st);
	audit_hmac_free(fx->key);
	rc = nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* ---------------------------------------------------------------- helpers */

static struct store_txn *
begin(struct fixture *fx, bool write)
{
	struct store_txn *txn = NULL;
	struct vm_error err;

	if (store_txn_begin(fx->st, write, &txn, &err) < 0)
		fail_msg("begin: %s", err.message);
	return txn;
}

static void
commit(struct store_txn *txn)
{
	struct vm_error err;

	if (store_txn_commit(txn, &err) < 0)
		fail_msg("commit: %s", err.message);
}

/* A plausible event number i (deterministic). */
static void
event_fill(struct api_audit_event *ev, int i)
{
	memset(ev, 0, sizeof(*ev));
	ev->time = T0 + (int64_t)i * 1000;
	if (i % 7 == 0) {
		snprintf(ev->host, sizeof(ev->host), "hv-%02d", i % 5);
		str_copy(ev->method, sizeof(ev->method), "POST");
		str_copy(ev->path, sizeof(ev->path), "/v1/agent/register");
		snprintf(ev->object, sizeof(ev->object), "host/hv-%02d", i % 5);
		ev->status = 200;
	} else if (i % 5 == 0) {
		snprintf(ev->user, sizeof(ev->user), "user-%d", i % 3);
		str_copy(ev->agency, sizeof(ev->agency), "health");
		str_copy(ev->method, sizeof(ev->method), "DELETE");
		snprintf(ev->path, sizeof(ev->path), "/v1/vms/web-%d", i);
		ev->status = 403;
		ev->result = AUDIT_REFUSED;
		str_copy(ev->message, sizeof(ev->message),
		    "forbidden: role viewer may not write vm");
	} else {
		str_copy(ev->user, sizeof(ev->user), "admin");
		str_copy(ev->method, sizeof(ev->method), "POST");
		str_copy(ev->path, sizeof(ev->path), "/v1/flavors");
		snprintf(ev->object, sizeof(ev->object), "flavor/f%d", i);
		ev->status = 201;
	}
	str_copy(ev->source, sizeof(ev->source), "127.0.0.1");
}

/* Append events from..to, a few per transaction. */
static void
append_n_from(struct fixture *fx, int from, int to)
{
	struct api_audit_event ev;
	struct store_txn *txn = NULL;
	struct vm_error err;
	int i;

	for (i = from; i <= to; i++) {
		if (txn == NULL)
			txn = begin(fx, true);
		event_fill(&ev, i);
		if (audit_append(txn, &ev, &err) < 0)
			fail_msg("append %d: %s", i, err.message);
		assert_int_equal(ev.seq, i);
		if (i % 3 == 0 || i == to) {
			commit(txn);
			txn = NULL;
		}
	}
}

/* Append events 1..n, a few per transaction. */
static void
append_n(struct fixture *fx, int n)
{
	struct api_audit_event ev;
	struct store_txn *txn = NULL;
	struct vm_error err;
	int i;

	for (i = 1; i <= n; i++) {
		if (txn == NULL)
			txn = begin(fx, true);
		event_fill(&ev, i);
		if (audit_append(txn, &ev, &err) < 0)
			fail_msg("append %d: %s", i, err.message);
		assert_int_equal(ev.seq, i);
		if (i % 3 == 0 || i == n) {
			commit(txn);
			txn = NULL;
		}
	}
}

static void
verify(struct fixture *fx, struct api_audit_verify *v)
{
	struct store_txn *txn = begin(fx, false);
	struct vm_error err;

	if (audit_verify(txn, v, &err) < 0)
		fail_msg("verify: %s", err.message);
	store_txn_abort(txn);
}

/* Verify and expect the chain to break first at bad, for `kind`. */
static void
expect_bad(struct fixture *fx, int64_t bad, const char *kind)
{
	struct api_audit_verify v;

	verify(fx, &v);
	if (v.ok || v.first_bad != bad ||
	    strncmp(v.reason, kind, strlen(kind)) != 0)
		fail_msg("expected first_bad %lld (%s), got ok=%d first_bad "
		    "%lld: %s", (long long)bad, kind, v.ok,
		    (long long)v.first_bad, v.reason);
	print_message("first_bad %lld: %s\n", (long long)v.first_bad,
	    v.reason);
}

static void
expect_ok(struct fixture *fx, int64_t events)
{
	struct api_audit_verify v;

	verify(fx, &v);
	if (!v.ok)
		fail_msg("verify: first_bad %lld: %s", (long long)v.first_bad,
		    v.reason);
	assert_int_equal(v.events, events);
	assert_int_equal(v.first_bad, 0);
	assert_string_equal(v.reason, "");
}

/* Stored text of event seq (caller frees; NULL when absent). */
static char *
raw_get(struct fixture *fx, int64_t seq)
{
	struct store_txn *txn = begin(fx, false);
	struct vm_error err;
	char key[17], *v = NULL;
	int rc;

	audit_key(seq, key);
	rc = store_get(txn, DB_AUDIT, key, &v, NULL, &err);
	store_txn_abort(txn);
	if (rc < 0)
		fail_msg("get %s: %s", key, err.message);
	return rc == 0 ? v : NULL;
}

static void
raw_put(struct fixture *fx, enum store_db db, const char *key,
    const char *val)
{
	struct store_txn *txn = begin(fx, true);
	struct vm_error err;

	if (store_put(txn, db, key, val, strlen(val), 0, &err) != 0)
		fail_msg("put %s: %s", key, err.message);
	commit(txn);
}

static void
raw_put_seq(struct fixture *fx, int64_t seq, const char *val)
{
	char key[17];

	audit_key(seq, key);
	raw_put(fx, DB_AUDIT, key, val);
}

static void
raw_del(struct fixture *fx, enum store_db db, const char *key)
{
	struct store_txn *txn = begin(fx, true);
	struct vm_error err;

	if (store_del(txn, db, key, NULL, &err) != 0)
		fail_msg("del %s: %s", key, err.message);
	commit(txn);
}

static void
raw_del_seq(struct fixture *fx, int64_t seq)
{
	char key[17];

	audit_key(seq, key);
	raw_del(fx, DB_AUDIT, key);
}

static void
load(struct fixture *fx, int64_t seq, struct api_audit_event *ev)
{
	char *t = raw_get(fx, seq);
	struct vm_error err;

	assert_non_null(t);
	if (api_decode_text(&api_audit_event_schema, t, strlen(t), ev,
	    API_STORED, &err) < 0)
		fail_msg("decode %lld: %s", (long long)seq, err.message);
	free(t);
}

static void
save(struct fixture *fx, const struct api_audit_event *ev)
{
	char *t = api_encode_text(&api_audit_event_schema, ev);

	raw_put_seq(fx, ev->seq, t);
	free(t);
}

static void
rehash(struct api_audit_event *ev)
{
	struct vm_error err;

	if (audit_hash(ev, ev->hash, &err) < 0)
		fail_msg("hash: %s", err.message);
}

/* ---------------------------------------------------------------- tests */

static void
test_empty(void **state)
{
	expect_ok(*state, 0);
}

static void
test_append_verify(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event e1, e2, e100;
	struct store_txn *txn;
	struct vm_error err;
	char *head = NULL, want[128];

	append_n(fx, NEVENTS);
	expect_ok(fx, NEVENTS);
	load(fx, 1, &e1);
	load(fx, 2, &e2);
	load(fx, NEVENTS, &e100);
	assert_string_equal(e1.prev, zeros);
	assert_string_equal(e2.prev, e1.hash);
	assert_int_equal(e1.time, T0 + 1000);
	assert_string_equal(e1.user, "admin");
	txn = begin(fx, false);
	assert_int_equal(store_get(txn, DB_META, AUDIT_HEAD_KEY, &head, NULL,
	    &err), 0);
	store_txn_abort(txn);
	snprintf(want, sizeof(want), "%d %s", NEVENTS, e100.hash);
	assert_string_equal(head, want);
	free(head);
}

/* An event appended in a transaction that aborts leaves no trace. */
static void
test_abort_keeps_chain(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;
	struct store_txn *txn;
	struct vm_error err;

	append_n(fx, 3);
	txn = begin(fx, true);
	event_fill(&ev, 4);
	assert_int_equal(audit_append(txn, &ev, &err), 0);
	assert_int_equal(ev.seq, 4);
	store_txn_abort(txn);
	expect_ok(fx, 3);
	txn = begin(fx, true);
	event_fill(&ev, 5);
	ev.time = 0;		/* audit_append sets it */
	assert_int_equal(audit_append(txn, &ev, &err), 0);
	assert_int_equal(ev.seq, 4);
	assert_true(ev.time > T0 - INT64_C(365) * 86400 * 1000);
	commit(txn);
	expect_ok(fx, 4);
}

static void
test_edit_field(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;

	append_n(fx, NEVENTS);
	load(fx, 37, &ev);
	ev.status = 200;	/* hide a refusal */
	save(fx, &ev);
	expect_bad(fx, 37, "edited");
}

/* Editing by hand in the stored text (one byte, still valid JSON). */
static void
test_edit_text(void **state)
{
	struct fixture *fx = *state;
	char *t, *p;

	append_n(fx, NEVENTS);
	t = raw_get(fx, 37);
	p = strstr(t, "\"admin\"");
	assert_non_null(p);
	p[1] = 'b';		/* "bdmin" */
	raw_put_seq(fx, 37, t);
	free(t);
	expect_bad(fx, 37, "edited");
}

/* Edited and re-hashed: the next event's link breaks. */
static void
test_edit_rehash(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;

	append_n(fx, NEVENTS);
	load(fx, 37, &ev);
	str_copy(ev.user, sizeof(ev.user), "nobody");
	rehash(&ev);
	save(fx, &ev);
	expect_bad(fx, 38, "broken link");
}

/* Not an event any more (garbage, or a field the codec refuses). */
static void
test_undecodable(void **state)
{
	struct fixture *fx = *state;

	append_n(fx, NEVENTS);
	raw_put_seq(fx, 12, "{\"seq\": 12, \"bogus\": true}");
	expect_bad(fx, 12, "edited");
	raw_put_seq(fx, 11, "not json");
	expect_bad(fx, 11, "edited");
}

static void
test_delete_middle(void **state)
{
	struct fixture *fx = *state;

	append_n(fx, NEVENTS);
	raw_del_seq(fx, 50);
	expect_bad(fx, 50, "missing");
	raw_del_seq(fx, 51);
	expect_bad(fx, 50, "missing");
}

static void
test_delete_first(void **state)
{
	struct fixture *fx = *state;

	append_n(fx, NEVENTS);
	raw_del_seq(fx, 1);
	expect_bad(fx, 1, "missing");
}

static void
test_delete_tail(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_verify v;

	append_n(fx, NEVENTS);
	raw_del_seq(fx, NEVENTS);
	raw_del_seq(fx, NEVENTS - 1);
	raw_del_seq(fx, NEVENTS - 2);
	expect_bad(fx, NEVENTS - 2, "head mismatch");
	verify(fx, &v);
	assert_int_equal(v.events, NEVENTS - 3);
}

static void
test_delete_all(void **state)
{
	struct fixture *fx = *state;
	int i;

	append_n(fx, 5);
	for (i = 1; i <= 5; i++)
		raw_del_seq(fx, i);
	expect_bad(fx, 1, "head mismatch");
}

/* The head removed too: the chain is whole, the end is unconfirmed. */
static void
test_head_missing(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;
	struct store_txn *txn;
	struct vm_error err;

	append_n(fx, 10);
	raw_del(fx, DB_META, AUDIT_HEAD_KEY);
	expect_bad(fx, 11, "head mismatch");
	/* Appending must not overwrite event 1: it fails closed. */
	txn = begin(fx, true);
	event_fill(&ev, 11);
	assert_int_equal(audit_append(txn, &ev, &err), -1);
	assert_int_equal(err.code, API_EINTERNAL);
	assert_non_null(strstr(err.message, "exists already"));
	store_txn_abort(txn);
	raw_put(fx, DB_META, AUDIT_HEAD_KEY, "garbage");
	expect_bad(fx, 11, "head mismatch");
}

static void
test_swap(void **state)
{
	struct fixture *fx = *state;
	char *a, *b;

	append_n(fx, NEVENTS);
	a = raw_get(fx, 20);
	b = raw_get(fx, 30);
	raw_put_seq(fx, 20, b);
	raw_put_seq(fx, 30, a);
	free(a);
	free(b);
	expect_bad(fx, 20, "reordered");
}

/* Renumbered to hide the swap: seq fixed and re-hashed, links break. */
static void
test_swap_renumbered(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event a, b;

	append_n(fx, NEVENTS);
	load(fx, 20, &a);
	load(fx, 21, &b);
	a.seq = 21;
	b.seq = 20;
	rehash(&a);
	rehash(&b);
	save(fx, &a);
	save(fx, &b);
	expect_bad(fx, 20, "broken link");
}

static void
test_change_prev(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event e58, e60;

	append_n(fx, NEVENTS);
	load(fx, 58, &e58);
	load(fx, 60, &e60);
	/* Skip event 59, consistently re-hashed. */
	str_copy(e60.prev, sizeof(e60.prev), e58.hash);
	rehash(&e60);
	save(fx, &e60);
	expect_bad(fx, 60, "broken link");
}

static void
test_change_first_prev(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;

	append_n(fx, 5);
	load(fx, 1, &ev);
	ev.prev[0] = '1';
	rehash(&ev);
	save(fx, &ev);
	expect_bad(fx, 1, "broken link");
}

/* An event slipped in after the last one, with a valid link. */
static void
test_extra_after_head(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event last, ev;

	append_n(fx, NEVENTS);
	load(fx, NEVENTS, &last);
	event_fill(&ev, NEVENTS + 1);
	ev.seq = NEVENTS + 1;
	str_copy(ev.prev, sizeof(ev.prev), last.hash);
	rehash(&ev);
	save(fx, &ev);
	expect_bad(fx, NEVENTS + 1, "extra");
}

/* An entry under a key that is no seq, between two events. */
static void
test_extra_key(void **state)
{
	struct fixture *fx = *state;
	char *t;

	append_n(fx, NEVENTS);
	t = raw_get(fx, 41);
	raw_put(fx, DB_AUDIT, "0000000000000028x", t);	/* after 40 */
	free(t);
	expect_bad(fx, 41, "extra");
}

/* The last event replaced by a consistent one: only the head tells. */
static void
test_last_replaced(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;

	append_n(fx, NEVENTS);
	load(fx, NEVENTS, &ev);
	ev.status = 204;
	rehash(&ev);
	save(fx, &ev);
	expect_bad(fx, NEVENTS, "head mismatch");
}

static const char vector_json[] =
    "{\"seq\":1,\"time\":\"2026-09-21T14:13:20.000Z\",\"user\":\"admin\","
    "\"host\":null,\"agency\":null,\"source\":\"127.0.0.1\","
    "\"method\":\"POST\",\"path\":\"/v1/flavors\","
    "\"object\":\"flavor/small\",\"status\":201,\"result\":\"ok\","
    "\"message\":null,\"prev\":\"" "0000000000000000000000000000000000000000"
    "000000000000000000000000\",\"hash\":null}";
/* = printf '%s%s' "$prev" "$vector_json" | sha256sum */
static const char vector_hash[] =
    "9fa620b976fa5159b31d2a97b1a4abd1f55a46778bce5e6a8e14ce76397443b7";

static void
vector_event(struct api_audit_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->seq = 1;
	ev->time = T0;
	str_copy(ev->user, sizeof(ev->user), "admin");
	str_copy(ev->source, sizeof(ev->source), "127.0.0.1");
	str_copy(ev->method, sizeof(ev->method), "POST");
	str_copy(ev->path, sizeof(ev->path), "/v1/flavors");
	str_copy(ev->object, sizeof(ev->object), "flavor/small");
	ev->status = 201;
	ev->result = AUDIT_OK;
	str_copy(ev->prev, sizeof(ev->prev), zeros);
}

/* The canonical text and its hash are pinned: a change breaks old logs. */
static void
test_hash_vector(void **state)
{
	struct api_audit_event ev;
	char h1[65], h2[65], *text;
	struct vm_error err;

	(void)state;
	vector_event(&ev);
	text = audit_text(&ev);
	assert_string_equal(text, vector_json);
	free(text);
	/* count 1 (one request) is the default, left out like 0. */
	ev.count = 1;
	text = audit_text(&ev);
	assert_string_equal(text, vector_json);
	free(text);
	ev.count = 0;
	assert_int_equal(audit_hash(&ev, h1, &err), 0);
	/* ev.hash does not take part; the same event hashes the same. */
	str_copy(ev.hash, sizeof(ev.hash), h1);
	assert_int_equal(audit_hash(&ev, h2, &err), 0);
	assert_string_equal(h1, h2);
	assert_string_equal(h1, vector_hash);
	/* Any field counts. */
	ev.status = 200;
	assert_int_equal(audit_hash(&ev, h2, &err), 0);
	assert_string_not_equal(h1, h2);
	vector_event(&ev);
	ev.prev[63] = '1';
	assert_int_equal(audit_hash(&ev, h2, &err), 0);
	assert_string_not_equal(h1, h2);
}

/* The same events in a new store chain to the same hashes. */
static void
test_hash_deterministic(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event a, b;

	append_n(fx, 5);
	load(fx, 5, &a);
	raw_del_seq(fx, 5);
	raw_del_seq(fx, 4);
	raw_del(fx, DB_META, AUDIT_HEAD_KEY);
	{
		struct api_audit_event e3;
		char head[128];

		load(fx, 3, &e3);
		snprintf(head, sizeof(head), "3 %s", e3.hash);
		raw_put(fx, DB_META, AUDIT_HEAD_KEY, head);
	}
	expect_ok(fx, 3);
	{
		struct store_txn *txn = begin(fx, true);
		struct api_audit_event ev;
		struct vm_error err;
		int i;

		for (i = 4; i <= 5; i++) {
			event_fill(&ev, i);
			assert_int_equal(audit_append(txn, &ev, &err), 0);
		}
		commit(txn);
	}
	load(fx, 5, &b);
	assert_string_equal(a.hash, b.hash);
	expect_ok(fx, 5);
}

/* Request text (path, peer) is made storable, so the chain verifies. */
static void
test_sanitize(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev, back;
	struct store_txn *txn;
	struct vm_error err;
	size_t n;

	txn = begin(fx, true);
	event_fill(&ev, 1);
	str_copy(ev.path, sizeof(ev.path), "/v1/vms/a\x01\x7f\xff\xc3" "b");
	/* A UTF-8 sequence cut at the end of the array. */
	memset(ev.object, 'o', sizeof(ev.object));
	n = sizeof(ev.object);
	ev.object[n - 3] = '\xc3';
	ev.object[n - 2] = '\xa9';
	ev.object[n - 1] = '\xc3';	/* no terminator: truncated */
	str_copy(ev.message, sizeof(ev.message), "caf\xc3\xa9 \xe2\x82");
	str_copy(ev.agency, sizeof(ev.agency), "Not A Name");
	assert_int_equal(audit_append(txn, &ev, &err), 0);
	commit(txn);
	expect_ok(fx, 1);
	load(fx, 1, &back);
	assert_string_equal(back.path, "/v1/vms/a????b");
	assert_int_equal(strlen(back.object), n - 1);
	assert_string_equal(back.object + n - 3, "\xc3\xa9");
	assert_string_equal(back.message, "caf\xc3\xa9 ??");
	assert_string_equal(back.agency, "");
}

/* The codec refuses what the chain could not hold. */
static void
test_codec(void **state)
{
	struct api_audit_event ev;
	static const char vjson[] =
	    "{\"ok\":false,\"events\":9,\"first_bad\":null,\"reason\":\"x\"}";
	struct api_audit_verify v;
	struct vm_error err;
	char *t;

	(void)state;
	vector_event(&ev);
	str_copy(ev.hash, sizeof(ev.hash), "ABC");
	t = api_encode_text(&api_audit_event_schema, &ev);
	assert_int_equal(api_decode_text(&api_audit_event_schema, t,
	    strlen(t), &ev, API_STORED, &err), -1);
	free(t);
	vector_event(&ev);
	str_copy(ev.host, sizeof(ev.host), "hv-1");
	t = api_encode_text(&api_audit_event_schema, &ev);
	assert_int_equal(api_decode_text(&api_audit_event_schema, t,
	    strlen(t), &ev, API_STORED, &err), -1);
	free(t);
	/* Server output only: a client may not send one. */
	assert_int_equal(api_decode_text(&api_audit_event_schema,
	    "{\"seq\":1}", 9, &ev, API_INPUT, &err), -1);
	memset(&v, 0, sizeof(v));
	v.ok = true;
	v.events = 3;
	t = api_encode_text(&api_audit_verify_schema, &v);
	assert_string_equal(t,
	    "{\"ok\":true,\"events\":3,\"first_bad\":0,\"reason\":null,"
	    "\"anchor\":0,\"key_id\":null}");
	assert_int_equal(api_decode_text(&api_audit_verify_schema, vjson,
	    strlen(vjson), &v, API_STORED, &err), 0);
	assert_int_equal(v.first_bad, 0);
	free(t);
}


/* ------------------------------------------------------------ keyed chain */

/* Load (or create) dir/NAME and attach it: later events are keyed. */
static void
key_attach(struct fixture *fx, const char *name)
{
	char path[160];
	struct vm_error err;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	store_set_audit_ctx(fx->st, NULL);
	audit_hmac_free(fx->key);
	fx->key = NULL;
	if (audit_hmac_load(path, fx->st, &fx->key, &err) < 0)
		fail_msg("key %s: %s", path, err.message);
	store_set_audit_ctx(fx->st, fx->key);
}

/* Recompute ev's hash the way someone without the key can: plain. */
static void
rehash_plain(struct api_audit_event *ev)
{
	ev->key_id[0] = '\0';
	rehash(ev);
}

/* An old unkeyed log goes on keyed; both parts verify; file is 0600. */
static void
test_keyed_after_unkeyed(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event e5, e6;
	char path[160];
	struct stat sb;

	append_n(fx, 5);
	key_attach(fx, "audit.key");
	snprintf(path, sizeof(path), "%s/audit.key", fx->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(fx->key->since, 6);
	append_n_from(fx, 6, 10);
	expect_ok(fx, 10);
	load(fx, 5, &e5);
	load(fx, 6, &e6);
	assert_string_equal(e5.key_id, "");
	assert_string_equal(e6.key_id, fx->key->id);
	assert_string_equal(e6.prev, e5.hash);
	/* Loaded again: the same key, the same since. */
	key_attach(fx, "audit.key");
	assert_int_equal(fx->key->since, 6);
	expect_ok(fx, 10);
	/* A key file others may read is refused. */
	chmod(path, 0644);
	{
		struct audit_hmac *k = NULL;
		struct vm_error err;

		assert_int_equal(audit_hmac_load(path, fx->st, &k, &err), -1);
		assert_non_null(strstr(err.message, "0600"));
		assert_null(k);
	}
}

/*
 * Someone who can rewrite the LMDB file but has no key: an edit of a
 * keyed event rehashed in plain SHA-256 (and the chain after it relinked)
 * is a downgrade verify names; keeping key_id with a plain hash is an
 * edit.
 */
static void
test_keyed_rehash_without_key(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;
	char head[128];
	int64_t s;

	key_attach(fx, "audit.key");
	append_n(fx, 6);
	expect_ok(fx, 6);
	load(fx, 3, &ev);
	ev.status = 200;
	{
		struct api_audit_event tmp = ev;
		struct vm_error err;

		tmp.key_id[0] = '\0';
		assert_int_equal(audit_hash(&tmp, ev.hash, &err), 0);
	}
	save(fx, &ev);
	expect_bad(fx, 3, "edited");
	/* The full rewrite: plain hashes from 3 on, links and head redone. */
	for (s = 3; s <= 6; s++) {
		struct api_audit_event prev;

		load(fx, s, &ev);
		load(fx, s - 1, &prev);
		str_copy(ev.prev, sizeof(ev.prev), prev.hash);
		if (s == 3)
			ev.status = 200;
		rehash_plain(&ev);
		save(fx, &ev);
	}
	snprintf(head, sizeof(head), "6 %s", ev.hash);
	raw_put(fx, DB_META, AUDIT_HEAD_KEY, head);
	expect_bad(fx, 3, "unkeyed");
	/* Even the whole chain rewritten plain: keyed from event 1 on. */
	for (s = 1; s <= 6; s++) {
		load(fx, s, &ev);
		if (s == 1) {
			str_copy(ev.prev, sizeof(ev.prev), zeros);
		} else {
			struct api_audit_event prev;

			load(fx, s - 1, &prev);
			str_copy(ev.prev, sizeof(ev.prev), prev.hash);
		}
		rehash_plain(&ev);
		save(fx, &ev);
	}
	snprintf(head, sizeof(head), "6 %s", ev.hash);
	raw_put(fx, DB_META, AUDIT_HEAD_KEY, head);
	expect_bad(fx, 1, "unkeyed");
}

/* Another key file (or none) than the one the chain was made with. */
static void
test_key_mismatch(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_verify v;

	key_attach(fx, "a.key");
	append_n(fx, 3);
	expect_ok(fx, 3);
	verify(fx, &v);
	assert_string_equal(v.key_id, fx->key->id);
	key_attach(fx, "b.key");
	expect_bad(fx, 1, "key mismatch");
	verify(fx, &v);
	assert_non_null(strstr(v.reason, "audit.key_file holds key"));
	store_set_audit_ctx(fx->st, NULL);
	expect_bad(fx, 1, "key mismatch");
	verify(fx, &v);
	assert_non_null(strstr(v.reason, "no audit key is loaded"));
	key_attach(fx, "a.key");
	expect_ok(fx, 3);
}

/* ----------------------------------------------------------------- prune */

static int64_t
prune(struct fixture *fx, int64_t max_events, int64_t before_ms,
    size_t batch, struct buf *export)
{
	struct audit_prune p = { before_ms, max_events, batch };
	struct store_txn *txn = begin(fx, true);
	struct vm_error err;
	int64_t n = -1;

	if (audit_prune(txn, &p, export, &n, &err) < 0)
		fail_msg("prune: %s", err.message);
	commit(txn);
	return n;
}

/* Retention in batches; verify starts at the anchor; export has all. */
static void
test_prune_anchor(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_verify v;
	struct api_audit_event ev;
	struct buf b = { 0 };
	char *line;

	key_attach(fx, "audit.key");
	append_n(fx, NEVENTS);
	assert_int_equal(prune(fx, 40, 0, 25, &b), 25);
	assert_int_equal(prune(fx, 40, 0, 25, &b), 25);
	assert_int_equal(prune(fx, 40, 0, 25, &b), 10);
	assert_int_equal(prune(fx, 40, 0, 25, &b), 0);
	expect_ok(fx, 40);
	verify(fx, &v);
	assert_int_equal(v.anchor, 60);
	assert_null(raw_get(fx, 60));
	load(fx, 61, &ev);
	/* The export: events 1..60 in order, one JSON text per line. */
	buf_append(&b, "", 1);
	line = (char *)b.data;
	assert_int_equal(strncmp(line, "{\"seq\":1,", 9), 0);
	assert_non_null(strstr(line, "\n{\"seq\":60,"));
	assert_null(strstr(line, "\"seq\":61,"));
	/* Age: everything before event 71's time goes; never the head. */
	load(fx, 71, &ev);
	assert_int_equal(prune(fx, 0, ev.time, 1000, NULL), 10);
	expect_ok(fx, 30);
	assert_int_equal(prune(fx, 1, 0, 1000, NULL), 29);
	assert_int_equal(prune(fx, 1, 0, 1000, NULL), 0);
	expect_ok(fx, 1);
	/* Appending goes on from the head. */
	append_n_from(fx, NEVENTS + 1, NEVENTS + 2);
	expect_ok(fx, 3);
	buf_free(&b);
}

/* Moving the anchor forward to hide events needs the key. */
static void
test_prune_anchor_forged(void **state)
{
	struct fixture *fx = *state;
	struct api_audit_event ev;
	char anchor[256];
	int64_t s;

	key_attach(fx, "audit.key");
	append_n(fx, 20);
	assert_int_equal(prune(fx, 15, 0, 100, NULL), 5);
	expect_ok(fx, 15);
	/* Hide events 6..10: delete them, anchor at 10 without a MAC. */
	load(fx, 10, &ev);
	for (s = 6; s <= 10; s++)
		raw_del_seq(fx, s);
	snprintf(anchor, sizeof(anchor), "10 %s -", ev.hash);
	raw_put(fx, DB_META, AUDIT_ANCHOR_KEY, anchor);
	expect_bad(fx, 11, "anchor");
	/* Or with a made-up MAC (the key id is public). */
	snprintf(anchor, sizeof(anchor), "10 %s %s %s", ev.hash, ev.hash,
	    fx->key->id);
	raw_put(fx, DB_META, AUDIT_ANCHOR_KEY, anchor);
	expect_bad(fx, 11, "anchor");
	raw_put(fx, DB_META, AUDIT_ANCHOR_KEY, "garbage");
	expect_bad(fx, 1, "anchor");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_empty),
		T(test_keyed_after_unkeyed),
		T(test_keyed_rehash_without_key),
		T(test_key_mismatch),
		T(test_prune_anchor),
		T(test_prune_anchor_forged),
		T(test_append_verify),
		T(test_abort_keeps_chain),
		T(test_edit_field),
		T(test_edit_text),
		T(test_edit_rehash),
		T(test_undecodable),
		T(test_delete_middle),
		T(test_delete_first),
		T(test_delete_tail),
		T(test_delete_all),
		T(test_head_missing),
		T(test_swap),
		T(test_swap_renumbered),
		T(test_change_prev),
		T(test_change_first_prev),
		T(test_extra_after_head),
		T(test_extra_key),
		T(test_last_replaced),
		T(test_hash_deterministic),
		T(test_sanitize),
		cmocka_unit_test(test_hash_vector),
		cmocka_unit_test(test_codec),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
