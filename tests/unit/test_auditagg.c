/*
 * test_auditagg: unit tests for controller/auditagg.c (refusals
 * aggregated per source, principal, method + route and status per
 * interval) on a simulated clock: a flood becomes one event with a count,
 * distinct keys stay apart, the table is bounded and its overflow counted
 * in one "other" aggregate, and nothing is lost across intervals.
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

#include "auditagg.h"
#include "util.h"

#define T0 INT64_C(1790000000000)

static void
refusal(struct api_audit_event *ev, const char *source, const char *user,
    const char *method, const char *path, int status)
{
	memset(ev, 0, sizeof(*ev));
	str_copy(ev->source, sizeof(ev->source), source);
	str_copy(ev->user, sizeof(ev->user), user);
	str_copy(ev->method, sizeof(ev->method), method);
	str_copy(ev->path, sizeof(ev->path), path);
	ev->status = status;
	ev->result = AUDIT_REFUSED;
	str_copy(ev->message, sizeof(ev->message), "unknown token");
}

static int64_t
sum_counts(const struct api_audit_event *evs, size_t n)
{
	int64_t s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += evs[i].count;
	return s;
}

/* 5,000 bad tokens from one address in 10 s: one event, count 5000. */
static void
test_flood_one_key(void **state)
{
	struct auditagg *a = auditagg_new(10000, 256);
	struct api_audit_event ev, *out = NULL;
	size_t n;
	int i;

	(void)state;
	refusal(&ev, "127.0.0.1", "", "GET", "/v1/flavors", 401);
	assert_false(auditagg_due(a, T0));
	for (i = 0; i < 5000; i++)
		auditagg_add(a, &ev, T0 + i);	/* 5 s of refusals */
	assert_int_equal(auditagg_keys(a), 1);
	assert_false(auditagg_due(a, T0 + 9999));
	assert_true(auditagg_due(a, T0 + 10000));
	n = auditagg_take(a, T0 + 10000, &out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].count, 5000);
	assert_int_equal(out[0].time, T0);
	assert_int_equal(out[0].status, 401);
	assert_string_equal(out[0].path, "/v1/flavors");
	assert_string_equal(out[0].source, "127.0.0.1");
	assert_non_null(strstr(out[0].message, "5000 refused requests"));
	assert_non_null(strstr(out[0].message, "unknown token"));
	assert_int_equal(out[0].seq, 0);
	free(out);
	/* Taken: empty, nothing due, a new interval from the take. */
	assert_int_equal(auditagg_keys(a), 0);
	assert_false(auditagg_due(a, T0 + 50000));
	assert_int_equal(auditagg_total(a), 5000);
	auditagg_add(a, &ev, T0 + 15000);
	assert_false(auditagg_due(a, T0 + 19999));
	assert_true(auditagg_due(a, T0 + 20000));
	n = auditagg_take(a, T0 + 20000, &out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].count, 1);
	/* One refusal keeps its own message. */
	assert_string_equal(out[0].message, "unknown token");
	free(out);
	auditagg_free(a);
}

/* Source, principal, method, route and status each make a key. */
static void
test_keys_apart(void **state)
{
	struct auditagg *a = auditagg_new(10000, 256);
	struct api_audit_event ev, *out = NULL;
	size_t n, i;

	(void)state;
	refusal(&ev, "10.0.0.1", "", "GET", "/v1/vms", 401);
	auditagg_add(a, &ev, T0);
	auditagg_add(a, &ev, T0 + 1);
	refusal(&ev, "10.0.0.2", "", "GET", "/v1/vms", 401);
	auditagg_add(a, &ev, T0 + 2);
	refusal(&ev, "10.0.0.1", "eve", "GET", "/v1/vms", 403);
	auditagg_add(a, &ev, T0 + 3);
	refusal(&ev, "10.0.0.1", "eve", "POST", "/v1/vms", 403);
	auditagg_add(a, &ev, T0 + 4);
	refusal(&ev, "10.0.0.1", "eve", "POST", "/v1/vms", 429);
	auditagg_add(a, &ev, T0 + 5);
	refusal(&ev, "10.0.0.1", "eve", "POST", "/v1/flavors", 429);
	auditagg_add(a, &ev, T0 + 6);
	refusal(&ev, "10.0.0.1", "", "POST", "/v1/flavors", 429);
	str_copy(ev.host, sizeof(ev.host), "hv-1");
	auditagg_add(a, &ev, T0 + 7);
	n = auditagg_take(a, T0 + 10000, &out);
	assert_int_equal(n, 7);
	assert_int_equal(sum_counts(out, n), 8);
	/* In the order they began. */
	assert_int_equal(out[0].count, 2);
	assert_string_equal(out[1].source, "10.0.0.2");
	assert_int_equal(out[2].status, 403);
	assert_string_equal(out[3].method, "POST");
	assert_int_equal(out[4].status, 429);
	assert_string_equal(out[5].path, "/v1/flavors");
	assert_string_equal(out[6].host, "hv-1");
	for (i = 0; i < n; i++)
		assert_int_equal(out[i].result, AUDIT_REFUSED);
	free(out);
	auditagg_free(a);
}

/* Past max_keys keys: one "other" aggregate counts the rest. */
static void
test_bounded(void **state)
{
	struct auditagg *a = auditagg_new(1000, 4);
	struct api_audit_event ev, *out = NULL;
	char src[32];
	size_t n;
	int i, round;

	(void)state;
	for (round = 0; round < 3; round++) {
		int64_t t = T0 + round * 1000;

		for (i = 0; i < 10000; i++) {
			snprintf(src, sizeof(src), "10.%d.%d.%d", i / 65536,
			    (i / 256) % 256, i % 256);
			refusal(&ev, src, "", "GET", "/v1/vms", 401);
			auditagg_add(a, &ev, t + i / 100);
		}
		assert_int_equal(auditagg_keys(a), 5);
		n = auditagg_take(a, t + 1000, &out);
		assert_int_equal(n, 5);
		assert_int_equal(sum_counts(out, n), 10000);
		assert_string_equal(out[0].source, "10.0.0.0");
		assert_int_equal(out[0].count, 1);
		assert_string_equal(out[4].source, "other");
		assert_string_equal(out[4].path, "*");
		assert_int_equal(out[4].status, 401);
		assert_int_equal(out[4].count, 9996);
		assert_non_null(strstr(out[4].message, "past the 4 keys"));
		free(out);
	}
	assert_int_equal(auditagg_total(a), 30000);
	/* Nothing counted: nothing to take. */
	assert_int_equal(auditagg_take(a, T0 + 9000, &out), 0);
	assert_null(out);
	auditagg_free(a);
}

/* Many keys spread over the table still find their slot. */
static void
test_many_keys(void **state)
{
	struct auditagg *a = auditagg_new(10000, 1000);
	struct api_audit_event ev, *out = NULL;
	char path[64];
	size_t n, i;
	int k, rep;

	(void)state;
	for (rep = 0; rep < 3; rep++)
		for (k = 0; k < 1000; k++) {
			snprintf(path, sizeof(path), "/v1/r%d", k);
			refusal(&ev, "::1", "mallory", "GET", path, 403);
			auditagg_add(a, &ev, T0 + rep);
		}
	n = auditagg_take(a, T0 + 10000, &out);
	assert_int_equal(n, 1000);
	for (i = 0; i < n; i++)
		assert_int_equal(out[i].count, 3);
	free(out);
	auditagg_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flood_one_key),
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_many_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
