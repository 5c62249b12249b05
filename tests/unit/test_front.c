/*
 * test_front: the pure parts of vmctld's HTTP front door: raw path
 * decoding (urlpath.c), the bounded rate-limit table (ratelim.c) and the
 * UTF-8 scrubbing of JSON answers (lib/util.c).
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
#include "ratelim.h"
#include "urlpath.h"
#include "util.h"

static int
dec(const char *raw, char *out)
{
	struct vm_error err = { 0, "" };
	int rc = urlpath_decode(raw, out, URLPATH_MAX, &err);

	if (rc < 0)
		assert_int_equal(err.code, API_EINVAL);
	return rc;
}

static void
test_urlpath_good(void **state)
{
	char out[URLPATH_MAX];

	(void)state;
	assert_int_equal(dec("/v1/vms/web-01", out), 0);
	assert_string_equal(out, "/v1/vms/web-01");
	assert_int_equal(dec("/v1/flavors/%41b?x=%00", out), 0);
	assert_string_equal(out, "/v1/flavors/Ab");
	assert_int_equal(dec("/v1/vms/caf%C3%A9", out), 0);
	assert_string_equal(out, "/v1/vms/caf\xc3\xa9");
	assert_int_equal(dec("/v1/vms/a%20b", out), 0);
	assert_string_equal(out, "/v1/vms/a b");
}

static void
test_urlpath_bad(void **state)
{
	static const char *const bad[] = {
		"/v1/flavors/nulf%00zzz", "/v1/vms/%00abc",
		"/v1/vms/vm1%2Fhistory", "/v1/vms/vm1%2fhistory",
		"/v1/vms/%0a", "/v1/vms/%1F", "/v1/vms/%7f", "/v1/vms/%",
		"/v1/vms/%4", "/v1/vms/%zz", "/v1/vms/%ff", "/v1/vms/%c0%80",
		"/v1/vms/%e0%80%80", "/v1/vms/%ed%a0%80", "/v1/vms/%f4%90%80%80",
		"/v1/vms/%c2%85", "/v1/vms/a\x01", "v1/vms", "",
		"/v1/vms/\xff",
	};
	char out[URLPATH_MAX], big[URLPATH_MAX + 10];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		if (dec(bad[i], out) == 0)
			fail_msg("'%s' accepted as '%s'", bad[i], out);
	}
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dec(big, out), -1);
	urlpath_raw("/a/b%00?c=d", out, sizeof(out));
	assert_string_equal(out, "/a/b%00");
}

static void
test_urlpath_text_cursor(void **state)
{
	(void)state;
	assert_true(urlpath_text_ok("web-01", 6));
	assert_true(urlpath_text_ok("caf\xc3\xa9", 5));
	assert_true(urlpath_text_ok("", 0));
	assert_false(urlpath_text_ok("a\0b", 3));
	assert_false(urlpath_text_ok("a\x1b[0m", 6));
	assert_false(urlpath_text_ok("\xc2\x85", 2));	/* C1 NEL */
	assert_false(urlpath_text_ok("\xff", 1));
	assert_false(urlpath_text_ok("\xed\xa0\x80", 3));
	assert_true(urlpath_cursor_ok("web-01", 6));
	assert_true(urlpath_cursor_ok("0b6c3a9e-1f2d-4e5a-9c8b-7d6e5f4a3b21",
	    36));
	assert_true(urlpath_cursor_ok("00000000000000ff", 16));
	assert_false(urlpath_cursor_ok("../../x", 7));
	assert_false(urlpath_cursor_ok("", 0));
	assert_false(urlpath_cursor_ok("-x", 2));
	/* Per-agency keys (svc_name_key): "AGENCY/NAME" and "/NAME". */
	assert_true(urlpath_cursor_ok("a/b", 3));
	assert_true(urlpath_cursor_ok("/web", 4));
	assert_false(urlpath_cursor_ok("a/b/c", 5));
	assert_false(urlpath_cursor_ok("../x", 4));
	assert_false(urlpath_cursor_ok("a/../x", 6));
	assert_false(urlpath_cursor_ok("a/", 2));
	assert_false(urlpath_cursor_ok("/", 1));
	assert_false(urlpath_cursor_ok("a//b", 4));
	assert_false(urlpath_cursor_ok("a b", 3));
	assert_false(urlpath_cursor_ok("x\xc3\xa9", 3));
}

static void
test_ratelim_bucket(void **state)
{
	struct ratelim *rl = ratelim_new(64, 1.0, 3.0, 42);
	int64_t retry = 0;

	(void)state;
	assert_true(ratelim_take(rl, "alice", 1000, true, NULL));
	assert_true(ratelim_take(rl, "alice", 1000, true, NULL));
	assert_true(ratelim_take(rl, "alice", 1000, true, NULL));
	assert_false(ratelim_take(rl, "alice", 1000, true, &retry));
	assert_int_equal(retry, 1);
	/* Another key has its own bucket. */
	assert_true(ratelim_take(rl, "bob", 1000, true, NULL));
	/* Looking does not take. */
	assert_true(ratelim_take(rl, "bob", 1000, false, NULL));
	/* One second later one token is back. */
	assert_true(ratelim_take(rl, "alice", 2000, true, NULL));
	assert_false(ratelim_take(rl, "alice", 2000, true, NULL));
	/* bob has refilled by then: only alice counts. */
	assert_int_equal(ratelim_live(rl, 2000), 1);
	/* Refilled buckets are as good as gone. */
	assert_int_equal(ratelim_live(rl, 60000), 0);
	ratelim_free(rl);
	ratelim_free(NULL);
}

/* Many keys: the table stays at its size; idle keys give way. */
static void
test_ratelim_bounded(void **state)
{
	struct ratelim *rl = ratelim_new(32, 1.0, 2.0, 7);
	char key[32];
	int i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		ratelim_take(rl, key, 1000 + i / 100, true, NULL);
	}
	assert_true(ratelim_live(rl, 1100) <= 32);
	/* A hot key keeps its (empty) bucket among idle ones. */
	assert_true(ratelim_take(rl, "hot", 5000, true, NULL));
	assert_true(ratelim_take(rl, "hot", 5000, true, NULL));
	assert_false(ratelim_take(rl, "hot", 5000, true, NULL));
	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "idle%d", i);
		ratelim_take(rl, key, 900000, false, NULL);
	}
	/* Long past: everything refilled; new keys start full. */
	assert_true(ratelim_take(rl, "hot", 900000, true, NULL));
	ratelim_free(rl);
}

static void
test_utf8(void **state)
{
	char *s;

	(void)state;
	assert_true(utf8_valid("abc \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	assert_false(utf8_valid("\xff", 1));
	assert_false(utf8_valid("\xc0\x80", 2));
	assert_false(utf8_valid("\xe0\x80\x80", 3));
	assert_false(utf8_valid("\xed\xa0\x80", 3));
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(utf8_valid("\xc3", 1));
	s = utf8_scrub_json(xstrdup("{\"m\":\"no such path: /v1/x/\xff\xc0\x80\"}"));
	assert_string_equal(s, "{\"m\":\"no such path: /v1/x/\\ufffd\\ufffd\\ufffd\"}");
	free(s);
	s = utf8_scrub_json(xstrdup("{\"m\":\"caf\xc3\xa9\"}"));
	assert_string_equal(s, "{\"m\":\"caf\xc3\xa9\"}");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urlpath_good),
		cmocka_unit_test(test_urlpath_bad),
		cmocka_unit_test(test_urlpath_text_cursor),
		cmocka_unit_test(test_ratelim_bucket),
		cmocka_unit_test(test_ratelim_bounded),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
