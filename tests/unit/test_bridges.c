/*
 * test_bridges: the per-site bridge allow-list of vmctld (bridges.c):
 * parsing [networks] bridges, lookups by site and the error text.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bridges.h"
#include "errors.h"

static void
test_parse_ok(void **state)
{
	struct bridges b;
	struct vm_error err = { 0, "" };
	char text[256];

	(void)state;
	assert_int_equal(bridges_parse("dc:br-vm1,br-vm2  dr:br-vm1", &b,
	    &err), 0);
	assert_int_equal(b.n, 3);
	assert_true(bridges_allowed(&b, "dc", "br-vm2"));
	assert_true(bridges_allowed(&b, "dr", "br-vm1"));
	assert_false(bridges_allowed(&b, "dr", "br-vm2"));
	assert_false(bridges_allowed(&b, "dc", "br-mgmt"));
	assert_true(bridges_allowed(&b, NULL, "br-vm2"));
	assert_false(bridges_allowed(&b, NULL, "br-mgmt"));
	assert_false(bridges_allowed(&b, "xx", "br-vm1"));
	bridges_format(&b, NULL, text, sizeof(text));
	assert_string_equal(text, "dc: br-vm1, br-vm2; dr: br-vm1");
	bridges_format(&b, "dr", text, sizeof(text));
	assert_string_equal(text, "dr: br-vm1");
	bridges_format(&b, "xx", text, sizeof(text));
	assert_string_equal(text, "none");
	/* A bridge twice in one site counts once. */
	assert_int_equal(bridges_parse("dc:br0,br0", &b, &err), 0);
	assert_int_equal(b.n, 1);
}

static void
test_parse_empty(void **state)
{
	struct bridges b;
	struct vm_error err = { 0, "" };
	char text[64];

	(void)state;
	assert_int_equal(bridges_parse("", &b, &err), 0);
	assert_int_equal(b.n, 0);
	assert_false(bridges_allowed(&b, NULL, "br0"));
	bridges_format(&b, NULL, text, sizeof(text));
	assert_string_equal(text, "none");
	assert_int_equal(bridges_parse("   ", &b, &err), 0);
	assert_int_equal(b.n, 0);
}

static void
test_parse_bad(void **state)
{
	static const struct {
		const char *spec, *want;
	} bad[] = {
		{ "br-vm1", "expected SITE:BRIDGE" },
		{ "dc:", "expected SITE:BRIDGE" },
		{ ":br0", "expected SITE:BRIDGE" },
		{ "dc:br0 dc:br1", "site dc is listed twice" },
		{ "DC:br0", "not a valid site name" },
		{ "dc:br0,,", "site dc: an empty bridge name" },
		{ "dc:,", "site dc: an empty bridge name" },
		{ "dc:,br0", "site dc: an empty bridge name" },
		{ "dc:br0,,br1", "site dc: an empty bridge name" },
		{ "dc:br'0", "'br'0' is not a valid bridge name" },
		{ "dc:abcdefghijklmnop", "not a valid bridge name" },
		{ "dc:..", "not a valid bridge name" },
		{ "dc:br0;dr:br1", "not a valid bridge name" },
	};
	struct bridges b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_error err = { 0, "" };

		assert_int_equal(bridges_parse(bad[i].spec, &b, &err), -1);
		assert_int_equal(err.code, API_EINVAL);
		if (strstr(err.message, bad[i].want) == NULL)
			fail_msg("'%s': got '%s', want '%s'", bad[i].spec,
			    err.message, bad[i].want);
		assert_int_equal(b.n, 0);
	}
}

static void
test_parse_limits(void **state)
{
	char spec[BRIDGES_SPEC_MAX + 8];
	struct bridges b;
	struct vm_error err = { 0, "" };
	size_t len = 0;
	int i;

	(void)state;
	/* 65 bridges (one site): more than BRIDGES_MAX. */
	len += (size_t)snprintf(spec, sizeof(spec), "dc:");
	for (i = 0; i <= BRIDGES_MAX; i++)
		len += (size_t)snprintf(spec + len, sizeof(spec) - len,
		    "%sb%d", i ? "," : "", i);
	assert_int_equal(bridges_parse(spec, &b, &err), -1);
	assert_non_null(strstr(err.message, "more than 64 bridges"));
	memset(spec, 'a', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	assert_int_equal(bridges_parse(spec, &b, &err), -1);
	assert_non_null(strstr(err.message, "longer than"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
