/*
 * test_placement: unit tests for controller/placement.c. Pure logic over
 * an array of hosts: which one is chosen, and when none can be, that the
 * error is no_capacity with a reason naming each host and the resource.
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
#include "placement.h"
#include "util.h"

static struct api_host
host(const char *name, const char *site, int64_t vcpus, int64_t ram_mib,
    int64_t disk_gib)
{
	struct api_host h;

	memset(&h, 0, sizeof(h));
	str_copy(h.name, sizeof(h.name), name);
	str_copy(h.site, sizeof(h.site), site);
	h.uri_kind = URI_TEST;
	h.vcpus = vcpus;
	h.ram_mib = ram_mib;
	h.disk_gib = disk_gib;
	h.state = HOST_UP;
	return h;
}

static struct placement_req
req(int64_t vcpus, int64_t ram_mib, int64_t disk_gib)
{
	struct placement_req r;

	memset(&r, 0, sizeof(r));
	r.vcpus = vcpus;
	r.ram_mib = ram_mib;
	r.disk_gib = disk_gib;
	return r;
}

/* Name of the chosen host, failing the test with the error otherwise. */
static const char *
choose_at(const struct api_host *hosts, size_t n,
    const struct placement_req *r, int line)
{
	struct vm_error err;
	size_t chosen = 12345;

	vm_error_clear(&err);
	if (placement_choose(hosts, n, r, &chosen, &err) != 0)
		fail_msg("line %d: refused: %s", line, err.message);
	assert_true(chosen < n);
	assert_int_equal(err.code, 0);
	return hosts[chosen].name;
}
#define CHOOSE(hosts, n, r) choose_at(hosts, n, r, __LINE__)

/* Expect a refusal whose message contains every string in want[]. */
static void
refuse_at(const struct api_host *hosts, size_t n,
    const struct placement_req *r, const char *const *want, int line)
{
	struct vm_error err;
	size_t chosen = 12345, i;

	vm_error_clear(&err);
	if (placement_choose(hosts, n, r, &chosen, &err) != -1)
		fail_msg("line %d: accepted, chose %s", line,
		    chosen < n ? hosts[chosen].name : "?");
	assert_int_equal(chosen, 12345);	/* untouched */
	assert_int_equal(err.code, API_ENOROOM);
	assert_int_equal(api_err_status(err.code), 409);
	for (i = 0; want[i] != NULL; i++)
		if (strstr(err.message, want[i]) == NULL)
			fail_msg("line %d: message '%s' lacks '%s'", line,
			    err.message, want[i]);
}
#define REFUSE(hosts, n, r, ...) \
	refuse_at(hosts, n, r, (const char *const[]){ __VA_ARGS__, NULL }, \
	    __LINE__)

/* ---------------------------------------------------------------- tests */

static void
test_most_free_ram_wins(void **state)
{
	struct api_host h[4];
	struct placement_req r = req(1, 512, 1);

	(void)state;
	h[0] = host("hv-a", "dc", 64, 65536, 1000);
	h[1] = host("hv-b", "dc", 64, 131072, 1000);
	h[2] = host("hv-c", "dc", 64, 32768, 1000);
	h[3] = host("hv-d", "dc", 64, 262144, 1000);
	assert_string_equal(CHOOSE(h, 4, &r), "hv-d");
	/* Free, not total: hv-d has little left after its claims. */
	h[3].alloc_ram_mib = 262144 - 1024;
	assert_string_equal(CHOOSE(h, 4, &r), "hv-b");
	/* CPU and disk do not weigh, only RAM. */
	h[0].alloc_vcpus = 63;
	h[0].alloc_disk_gib = 999;
	h[0].ram_mib = 1 << 20;
	assert_string_equal(CHOOSE(h, 4, &r), "hv-a");
	/* A single fitting host is chosen. */
	assert_string_equal(CHOOSE(&h[2], 1, &r), "hv-c");
}

static void
test_ties_go_to_lower_name(void **state)
{
	struct api_host h[4];
	struct placement_req r = req(2, 2048, 10);

	(void)state;
	h[0] = host("hv-c", "dc", 8, 16384, 100);
	h[1] = host("hv-a", "dc", 8, 16384, 100);
	h[2] = host("hv-b", "dc", 8, 16384, 100);
	h[3] = host("hv-0", "dc", 8, 8192, 100);	/* less RAM */
	assert_string_equal(CHOOSE(h, 4, &r), "hv-a");
	/* Order of the array does not matter. */
	h[1] = host("hv-d", "dc", 8, 16384, 100);
	assert_string_equal(CHOOSE(h, 4, &r), "hv-b");
	/* Equal free RAM reached through different claims. */
	h[0] = host("hv-z", "dc", 8, 32768, 100);
	h[0].alloc_ram_mib = 16384;
	assert_string_equal(CHOOSE(h, 4, &r), "hv-b");
	h[0] = host("hv-1", "dc", 8, 32768, 100);
	h[0].alloc_ram_mib = 16384;
	assert_string_equal(CHOOSE(h, 4, &r), "hv-1");
}

static void
test_down_hosts_skipped(void **state)
{
	struct api_host h[3];
	struct placement_req r = req(1, 1024, 0);

	(void)state;
	h[0] = host("hv-a", "dc", 8, 65536, 100);
	h[1] = host("hv-b", "dc", 8, 16384, 100);
	h[2] = host("hv-c", "dc", 8, 8192, 100);
	h[0].state = HOST_DOWN;
	assert_string_equal(CHOOSE(h, 3, &r), "hv-b");
	h[1].state = HOST_DOWN;
	assert_string_equal(CHOOSE(h, 3, &r), "hv-c");
	h[2].state = HOST_DOWN;
	REFUSE(h, 3, &r, "hv-a: down", "hv-b: down", "hv-c: down");
}

static void
test_site(void **state)
{
	struct api_host h[4];
	struct placement_req r = req(1, 1024, 0);

	(void)state;
	h[0] = host("dc-1", "dc", 8, 65536, 100);
	h[1] = host("dr-1", "dr", 8, 16384, 100);
	h[2] = host("dr-2", "dr", 8, 32768, 100);
	h[3] = host("dc-2", "dc", 8, 131072, 100);
	r.site = "dr";
	assert_string_equal(CHOOSE(h, 4, &r), "dr-2");
	r.site = "dc";
	assert_string_equal(CHOOSE(h, 4, &r), "dc-2");
	/* "" and NULL mean any site. */
	r.site = "";
	assert_string_equal(CHOOSE(h, 4, &r), "dc-2");
	r.site = NULL;
	assert_string_equal(CHOOSE(h, 4, &r), "dc-2");
	/* No host in the site. */
	r.site = "lab";
	REFUSE(h, 4, &r, "in site lab", "dc-1: in site dc", "dr-1: in site dr");
	/* The site's hosts are full: the reason is the resource. */
	r.site = "dr";
	h[1].alloc_ram_mib = 16384;
	h[2].alloc_ram_mib = 32768 - 512;
	REFUSE(h, 4, &r, "in site dr", "dr-1: 0 MiB RAM free",
	    "dr-2: 512 MiB RAM free");
}

static void
test_host_hint(void **state)
{
	struct api_host h[3];
	struct placement_req r = req(2, 4096, 20);

	(void)state;
	h[0] = host("hv-a", "dc", 8, 65536, 100);
	h[1] = host("hv-b", "dc", 8, 8192, 100);
	h[2] = host("hv-c", "dr", 8, 16384, 100);
	/* The hint is taken even though another host has more RAM. */
	r.host_hint = "hv-b";
	assert_string_equal(CHOOSE(h, 3, &r), "hv-b");
	r.host_hint = "";
	assert_string_equal(CHOOSE(h, 3, &r), "hv-a");
	/* Only if it fits: no fallback to another host. */
	r.host_hint = "hv-b";
	h[1].alloc_ram_mib = 6144;
	REFUSE(h, 3, &r, "hv-b: 2048 MiB RAM free");
	{
		struct vm_error err;
		size_t c;

		assert_int_equal(placement_choose(h, 3, &r, &c, &err), -1);
		/* Other hosts are not listed as noise. */
		assert_null(strstr(err.message, "hv-a"));
		assert_null(strstr(err.message, "hv-c"));
	}
	/* A hinted host that is down. */
	h[1].alloc_ram_mib = 0;
	h[1].state = HOST_DOWN;
	REFUSE(h, 3, &r, "hv-b: down");
	/* Hint and site must agree. */
	r.host_hint = "hv-c";
	r.site = "dc";
	REFUSE(h, 3, &r, "hv-c: in site dr");
	r.site = "dr";
	assert_string_equal(CHOOSE(h, 3, &r), "hv-c");
	/* An unknown hint. */
	r.site = NULL;
	r.host_hint = "hv-nope";
	REFUSE(h, 3, &r, "no host named 'hv-nope' is registered");
	REFUSE(h, 0, &r, "no host named 'hv-nope'");
}

static void
test_resources(void **state)
{
	struct api_host h[1];
	struct placement_req r = req(4, 8192, 50);

	(void)state;
	/* Not enough vCPU. */
	h[0] = host("hv-a", "dc", 8, 65536, 500);
	h[0].alloc_vcpus = 5;
	REFUSE(h, 1, &r, "hv-a: 3 vCPUs free",
	    "no host can take 4 vCPUs, 8192 MiB RAM, 50 GiB disk");
	/* Not enough RAM. */
	h[0] = host("hv-a", "dc", 8, 65536, 500);
	h[0].alloc_ram_mib = 60000;
	REFUSE(h, 1, &r, "hv-a: 5536 MiB RAM free");
	/* Not enough disk. */
	h[0] = host("hv-a", "dc", 8, 65536, 500);
	h[0].alloc_disk_gib = 460;
	REFUSE(h, 1, &r, "hv-a: 40 GiB disk free");
	/* Overcommitted host (claims above capacity) is simply full. */
	h[0] = host("hv-a", "dc", 8, 65536, 500);
	h[0].alloc_vcpus = 10;
	REFUSE(h, 1, &r, "hv-a: -2 vCPUs free");
	/* Disk 0 (no root disk size) fits a host with no disk left. */
	h[0] = host("hv-a", "dc", 8, 65536, 0);
	r.disk_gib = 0;
	assert_string_equal(CHOOSE(h, 1, &r), "hv-a");
}

static void
test_every_reason_listed(void **state)
{
	struct api_host h[5];
	struct placement_req r = req(4, 8192, 50);

	(void)state;
	h[0] = host("hv-cpu", "dc", 2, 65536, 500);
	h[1] = host("hv-ram", "dc", 16, 4096, 500);
	h[2] = host("hv-disk", "dc", 16, 65536, 10);
	h[3] = host("hv-down", "dc", 16, 65536, 500);
	h[3].state = HOST_DOWN;
	h[4] = host("hv-dr", "dr", 16, 65536, 500);
	r.site = "dc";
	REFUSE(h, 5, &r, "hv-cpu: 2 vCPUs free", "hv-ram: 4096 MiB RAM free",
	    "hv-disk: 10 GiB disk free", "hv-down: down",
	    "hv-dr: in site dr", "in site dc");
}

static void
test_many_hosts_message_bounded(void **state)
{
	struct api_host h[40];
	struct placement_req r = req(64, 1024, 0);
	struct vm_error err;
	char name[16];
	size_t c, i;

	(void)state;
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "hv-%02zu", i);
		h[i] = host(name, "dc", 8, 65536, 100);
	}
	assert_int_equal(placement_choose(h, 40, &r, &c, &err), -1);
	assert_int_equal(err.code, API_ENOROOM);
	/* The first 20 hosts are named, then "...". */
	assert_non_null(strstr(err.message, "hv-00: 8 vCPUs free"));
	assert_non_null(strstr(err.message, "; ..."));
	assert_null(strstr(err.message, "hv-39"));
	assert_true(strlen(err.message) < sizeof(err.message) - 1);
	/* One host that fits among many that do not. */
	h[33].vcpus = 64;
	assert_string_equal(CHOOSE(h, 40, &r), "hv-33");
}

static void
test_zero_hosts(void **state)
{
	struct placement_req r = req(1, 512, 1);

	(void)state;
	REFUSE(NULL, 0, &r, "no host is registered");
	r.site = "dc";
	REFUSE(NULL, 0, &r, "no host is registered");
}

static void
test_boundaries(void **state)
{
	struct api_host h[1];
	struct placement_req r;

	(void)state;
	h[0] = host("hv-a", "dc", 8, 16384, 100);
	h[0].alloc_vcpus = 4;
	h[0].alloc_ram_mib = 8192;
	h[0].alloc_disk_gib = 60;
	/* Exactly what is free: accepted. */
	r = req(4, 8192, 40);
	assert_string_equal(CHOOSE(h, 1, &r), "hv-a");
	/* One unit over, each resource in turn: refused. */
	r = req(5, 8192, 40);
	REFUSE(h, 1, &r, "hv-a: 4 vCPUs free");
	r = req(4, 8193, 40);
	REFUSE(h, 1, &r, "hv-a: 8192 MiB RAM free");
	r = req(4, 8192, 41);
	REFUSE(h, 1, &r, "hv-a: 40 GiB disk free");
	/* A host with nothing claimed takes a request of its whole size. */
	h[0] = host("hv-a", "dc", 8, 16384, 100);
	r = req(8, 16384, 100);
	assert_string_equal(CHOOSE(h, 1, &r), "hv-a");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_most_free_ram_wins),
		cmocka_unit_test(test_ties_go_to_lower_name),
		cmocka_unit_test(test_down_hosts_skipped),
		cmocka_unit_test(test_site),
		cmocka_unit_test(test_host_hint),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_every_reason_listed),
		cmocka_unit_test(test_many_hosts_message_bounded),
		cmocka_unit_test(test_zero_hosts),
		cmocka_unit_test(test_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
