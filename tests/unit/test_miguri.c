/*
 * test_miguri: unit tests for api/miguri.c, the live-migration URI rules
 * of issue 8 item 4 (which transports, which host), and for
 * http_url_plain_remote() (lib/http.c), the "plain http to a remote
 * host" test behind the agent's and the CLI's warnings.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "errors.h"
#include "http.h"
#include "miguri.h"

static const char *const hosts[] = { "hv2", "10.0.0.2" };

static int
chk(const char *uri, bool plain, bool with_hosts)
{
	struct vm_error err = { 0, "" };

	return api_miguri_check("u", uri, plain, with_hosts ? hosts : NULL,
	    2, &err);
}

static void
test_accepted(void **state)
{
	(void)state;
	assert_int_equal(chk("", false, true), 0);
	assert_int_equal(chk("qemu+tls://hv2/system", false, true), 0);
	assert_int_equal(chk("qemu+tls://HV2/system", false, true), 0);
	assert_int_equal(chk("qemu+tls://10.0.0.2/system", false, true), 0);
	assert_int_equal(chk("qemu+tls://10.0.0.2:16514/system", false, true),
	    0);
	assert_int_equal(chk("qemu+tcp://hv2/system", true, true), 0);
	/* Structure only (the agent): any valid host. */
	assert_int_equal(chk("qemu+tls://hv9.example.org/system", false,
	    false), 0);
	assert_int_equal(chk("qemu+tls://[fd00::2]:16514/system", false,
	    false), 0);
}

static void
test_refused(void **state)
{
	static const char *const bad[] = {
		"qemu+ext:///system?command=/sbin/reboot",
		"qemu+ext://hv2/system?command=/sbin/reboot",
		"qemu+ssh://hv2/system",
		"qemu+ssh://hv2/system?keyfile=/root/.ssh/id",
		"qemu+unix:///system?socket=/run/x",
		"qemu+libssh2://hv2/system",
		"qemu:///system", "qemu://hv2/system", "test:///default",
		"qemu+tcp://hv2/system",	/* plain not allowed */
		"qemu+tls://hv2/system?command=/sbin/reboot",
		"qemu+tls://hv2/system?socket=/tmp/s",
		"qemu+tls://hv2/system#x", "qemu+tls://root@hv2/system",
		"qemu+tls://hv2/session", "qemu+tls://hv2/system/",
		"qemu+tls://hv2", "qemu+tls:///system",
		"qemu+tls://hv2:/system",
		"qemu+tls://hv2:0/system", "qemu+tls://hv2:65536/system",
		"qemu+tls://hv2:1234567/system", "qemu+tls://-hv2/system",
		"qemu+tls://hv2./system", "qemu+tls://h v2/system",
		"qemu+tls://hv2/system\n", "QEMU+TLS://hv2/system",
		"qemu+tls://hv1/system",	/* another host */
		"qemu+tls://10.0.0.3/system",
		"qemu+tls://[::1/system",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (chk(bad[i], false, true) != -1)
			fail_msg("accepted: %s", bad[i]);
	}
	/* With plain migration allowed, still no ext/ssh/unix. */
	assert_int_equal(chk("qemu+ext:///system?command=x", true, true), -1);
	assert_int_equal(chk("qemu+unix:///system", true, true), -1);
	assert_int_equal(chk("qemu+tcp://hv2/system?socket=x", true, true),
	    -1);
}

static void
test_data(void **state)
{
	struct vm_error err = { 0, "" };

	(void)state;
	assert_int_equal(api_migdata_check("d", "", hosts, 2, &err), 0);
	assert_int_equal(api_migdata_check("d", "tcp://10.0.0.2", hosts, 2,
	    &err), 0);
	assert_int_equal(api_migdata_check("d", "tcp://hv2:49152", hosts, 2,
	    &err), 0);
	assert_int_equal(api_migdata_check("d", "tcp://10.0.0.9", hosts, 2,
	    &err), -1);
	assert_int_equal(api_migdata_check("d", "unix:///tmp/s", NULL, 0,
	    &err), -1);
	assert_int_equal(api_migdata_check("d", "rdma://hv2", NULL, 0,
	    &err), -1);
	assert_int_equal(api_migdata_check("d", "tcp://hv2?x=1", NULL, 0,
	    &err), -1);
	assert_int_equal(err.code, API_EINVAL);
}

static void
test_tls(void **state)
{
	(void)state;
	assert_true(api_miguri_is_tls("qemu+tls://hv2/system"));
	assert_false(api_miguri_is_tls("qemu+tcp://hv2/system"));
	assert_false(api_miguri_is_tls(""));
}

static void
test_host(void **state)
{
	(void)state;
	assert_true(api_mighost_valid("hv-1.example.org"));
	assert_true(api_mighost_valid("10.0.0.2"));
	assert_true(api_mighost_valid("[fd00::1]"));
	assert_false(api_mighost_valid(""));
	assert_false(api_mighost_valid("a..b"));
	assert_false(api_mighost_valid("a_b"));
	assert_false(api_mighost_valid("[fd00::1"));
	assert_false(api_mighost_valid("[zz]"));
	assert_false(api_mighost_valid("a/b"));
}

static void
test_plain_remote(void **state)
{
	(void)state;
	assert_false(http_url_plain_remote("https://10.0.0.1:8080"));
	assert_false(http_url_plain_remote("http://127.0.0.1:8080"));
	assert_false(http_url_plain_remote("http://127.8.9.10/"));
	assert_false(http_url_plain_remote("http://localhost:8080"));
	assert_false(http_url_plain_remote("http://[::1]:8080"));
	assert_true(http_url_plain_remote("http://10.0.0.1:8080"));
	assert_true(http_url_plain_remote("HTTP://10.0.0.1"));
	assert_true(http_url_plain_remote("http://127.0.0.1.evil.org/"));
	assert_true(http_url_plain_remote("http://localhost.evil.org/"));
	assert_true(http_url_plain_remote("http://[::2]:80"));
	assert_true(http_url_plain_remote("http://0.0.0.0:9"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_data),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_plain_remote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
