/*
 * test_scheduler: unit tests for controller/scheduler.c. Pure logic over
 * arrays of hosts and placed VMs: each filter's verdict and reason, the
 * spread/pack weights, server groups, N+1 admission, the ENOROOM summary,
 * and the time one placement takes on 200 hosts with 10,000 VMs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "errors.h"
#include "scheduler.h"
#include "util.h"

/* ---------------------------------------------------------------- helpers */

static struct sched_host
host(const char *name, const char *site, int64_t vcpus, int64_t ram_mib,
    int64_t disk_gib)
{
	struct sched_host h;

	memset(&h, 0, sizeof(h));
	str_copy(h.name, sizeof(h.name), name);
	str_copy(h.site, sizeof(h.site), site);
	h.up = true;
	h.vcpus = vcpus;
	h.ram_mib = ram_mib;
	h.disk_gib = disk_gib;
	return h;
}

/* A placed VM; also claims its size on hosts[] (so alloc matches). */
static struct sched_vm
vm_on(struct sched_host *hosts, size_t n, const char *hname,
    const char *group, bool ha, int64_t vcpus, int64_t ram_mib,
    int64_t disk_gib)
{
	struct sched_vm v;
	size_t i;

	memset(&v, 0, sizeof(v));
	str_copy(v.host, sizeof(v.host), hname);
	str_copy(v.server_group, sizeof(v.server_group), group ? group : "");
	v.ha = ha;
	v.vcpus = vcpus;
	v.ram_mib = ram_mib;
	v.disk_gib = disk_gib;
	for (i = 0; i < n; i++)
		if (strcmp(hosts[i].name, hname) == 0) {
			hosts[i].alloc_vcpus += vcpus;
			hosts[i].alloc_ram_mib += ram_mib;
			hosts[i].alloc_disk_gib += disk_gib;
		}
	return v;
}

static struct sched_request
req(int64_t vcpus, int64_t ram_mib, int64_t disk_gib, bool ha)
{
	struct sched_request r;

	memset(&r, 0, sizeof(r));
	r.vcpus = vcpus;
	r.ram_mib = ram_mib;
	r.disk_gib = disk_gib;
	r.ha = ha;
	return r;
}

static struct sched_config
conf(int tolerate)
{
	struct sched_config c;

	sched_config_defaults(&c);
	c.tolerate_host_failures = tolerate;
	return c;
}

/* Name of the chosen host, failing the test with the error otherwise. */
static const char *
place_at(const struct sched_config *cfg, const struct sched_host *hosts,
    size_t n, const struct sched_vm *vms, size_t nvms,
    const struct sched_request *r, int line)
{
	struct sched_result res = { -1, NULL, 0 };
	struct vm_error err;
	int chosen;

	vm_error_clear(&err);
	if (sched_place(cfg, hosts, n, vms, nvms, r, &res, &err) != 0)
		fail_msg("line %d: refused: %s", line, err.message);
	chosen = res.chosen;
	assert_true(chosen >= 0 && (size_t)chosen < n);
	assert_int_equal(err.code, 0);
	assert_int_equal(res.nverdicts, n);
	assert_string_equal(res.verdicts[chosen].filter, "");
	assert_string_equal(res.verdicts[chosen].reason, "chosen");
	sched_result_free(&res);
	assert_null(res.verdicts);
	return hosts[chosen].name;
}
#define PLACE(cfg, h, n, v, nv, r) place_at(cfg, h, n, v, nv, r, __LINE__)

/* Expect a refusal whose message contains every string in want[]. */
static void
refuse_at(const struct sched_config *cfg, const struct sched_host *hosts,
    size_t n, const struct sched_vm *vms, size_t nvms,
    const struct sched_request *r, const char *const *want, int line)
{
	struct sched_result res = { -1, NULL, 0 };
	struct vm_error err;
	size_t i;

	vm_error_clear(&err);
	if (sched_place(cfg, hosts, n, vms, nvms, r, &res, &err) != -1)
		fail_msg("line %d: accepted, chose %s", line,
		    res.chosen >= 0 ? hosts[res.chosen].name : "?");
	assert_int_equal(res.chosen, -1);
	assert_int_equal(res.nverdicts, n);
	assert_int_equal(err.code, API_ENOROOM);
	assert_int_equal(api_err_status(err.code), 409);
	assert_true(strlen(err.message) <= 480);
	for (i = 0; want[i] != NULL; i++)
		if (strstr(err.message, want[i]) == NULL)
			fail_msg("line %d: message '%s' lacks '%s'", line,
			    err.message, want[i]);
	sched_result_free(&res);
}
#define REFUSE(cfg, h, n, v, nv, r, ...) \
	refuse_at(cfg, h, n, v, nv, r, \
	    (const char *const[]){ __VA_ARGS__, NULL }, __LINE__)

/* The verdict on host name (placement done again, result discarded). */
static struct sched_verdict
verdict_at(const struct sched_config *cfg, const struct sched_host *hosts,
    size_t n, const struct sched_vm *vms, size_t nvms,
    const struct sched_request *r, const char *name, int line)
{
	struct sched_result res = { -1, NULL, 0 };
	struct sched_verdict v;
	struct vm_error err;
	size_t i;

	vm_error_clear(&err);
	(void)sched_place(cfg, hosts, n, vms, nvms, r, &res, &err);
	for (i = 0; i < res.nverdicts; i++) {
		/* Verdicts are in hosts order. */
		assert_string_equal(res.verdicts[i].host, hosts[i].name);
		if (strcmp(res.verdicts[i].host, name) == 0)
			break;
	}
	if (i == res.nverdicts)
		fail_msg("line %d: no verdict for %s", line, name);
	v = res.verdicts[i];
	sched_result_free(&res);
	return v;
}
#define VERDICT(cfg, h, n, v, nv, r, name) \
	verdict_at(cfg, h, n, v, nv, r, name, __LINE__)

/* Expect host name rejected by filter with exactly this reason. */
#define REJECTED(cfg, h, n, v, nv, r, name, f, why) do {		\
	struct sched_verdict vd_ = VERDICT(cfg, h, n, v, nv, r, name);	\
	assert_string_equal(vd_.filter, f);				\
	assert_string_equal(vd_.reason, why);				\
} while (0)

/* ---------------------------------------------------------------- config */

static void
test_defaults_and_capacity(void **state)
{
	struct sched_config c;
	struct sched_host h = host("hv", "dc", 3, 1000, 7);
	int64_t v, r, d;

	(void)state;
	sched_config_defaults(&c);
	assert_true(c.cpu_ratio == 4.0);
	assert_true(c.ram_ratio == 1.0);
	assert_true(c.disk_ratio == 1.0);
	assert_int_equal(c.weigher, SCHED_SPREAD);
	assert_int_equal(c.tolerate_host_failures, 1);
	sched_capacity(&c, &h, &v, &r, &d);
	assert_int_equal(v, 12);
	assert_int_equal(r, 1000);
	assert_int_equal(d, 7);
	/* floor(physical * ratio). */
	c.cpu_ratio = 1.5;
	c.ram_ratio = 0.75;
	c.disk_ratio = 2.5;
	sched_capacity(&c, &h, &v, &r, &d);
	assert_int_equal(v, 4);		/* 4.5 */
	assert_int_equal(r, 750);
	assert_int_equal(d, 17);	/* 17.5 */
	/* Free on NULL and on an empty result. */
	sched_result_free(NULL);
}

/* ---------------------------------------------------------------- filters */

static void
test_each_filter(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_vm v[2];
	struct sched_request r = req(2, 1024, 10, true);

	(void)state;
	h[0] = host("hv-a", "dc", 8, 8192, 100);
	h[1] = host("hv-b", "dc", 8, 8192, 100);
	h[2] = host("hv-c", "dr", 8, 8192, 100);

	r.host_hint = "hv-b";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "hint",
	    "hint: not the requested host hv-b");
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-b");
	r.host_hint = NULL;

	h[0].up = false;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "up", "up: host is down");
	/* The first filter decides: down and in maintenance says "up". */
	h[0].maintenance = true;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "up", "up: host is down");
	h[0].up = true;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "maintenance",
	    "maintenance: host is in maintenance");
	h[0].maintenance = false;

	r.site = "dc";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-c", "site",
	    "site: in site dr, not dc");
	r.site = "";
	assert_string_equal(VERDICT(&c, h, 3, NULL, 0, &r, "hv-c").filter, "");

	str_copy(h[0].az, sizeof(h[0].az), "az1");
	r.az = "az1";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "az",
	    "az: in zone (none), not az1");
	str_copy(h[1].az, sizeof(h[1].az), "az2");
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "az",
	    "az: in zone az2, not az1");
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-a");
	r.az = NULL;

	str_copy(h[0].labels, sizeof(h[0].labels), "gpu,agency-x");
	r.labels = "agency-x";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "labels",
	    "labels: lacks label agency-x (host has: none)");
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-a");
	r.labels = "gpu,ssd";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "labels",
	    "labels: lacks label ssd (host has: gpu,agency-x)");
	r.labels = NULL;

	v[0] = vm_on(h, 0, "hv-a", "web", true, 1, 512, 1);
	r.server_group = "web";
	r.group_policy = SCHED_GROUP_AFFINITY;
	REJECTED(&c, h, 3, v, 1, &r, "hv-b", "affinity",
	    "affinity: none of the 1 members of group web is here "
	    "(they are on hv-a)");
	r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
	v[1] = vm_on(h, 0, "hv-a", "web", true, 1, 512, 1);
	REJECTED(&c, h, 3, v, 2, &r, "hv-a", "anti-affinity",
	    "anti-affinity: holds 2 members of group web");
	r.server_group = NULL;
	r.group_policy = SCHED_GROUP_NONE;

	/* Capacity: effective = floor(physical x ratio) - claims. */
	h[1].alloc_vcpus = 31;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "vcpus",
	    "vcpus: 1 free of 32 (ratio 4.0), needs 2");
	h[1].alloc_vcpus = 0;
	h[1].alloc_ram_mib = 7680;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "ram",
	    "ram: 512 MiB free of 8192 (ratio 1.0), needs 1024");
	h[1].alloc_ram_mib = 0;
	h[1].alloc_disk_gib = 95;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "disk",
	    "disk: 5 GiB free of 100 (ratio 1.0), needs 10");
	/* vcpus is checked before ram, ram before disk. */
	h[1].alloc_vcpus = 32;
	h[1].alloc_ram_mib = 8192;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "vcpus",
	    "vcpus: 0 free of 32 (ratio 4.0), needs 2");
	h[1].alloc_vcpus = 0;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "ram",
	    "ram: 0 MiB free of 8192 (ratio 1.0), needs 1024");
	/* Claims above capacity: negative free. */
	h[1].alloc_ram_mib = 9000;
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "ram",
	    "ram: -808 MiB free of 8192 (ratio 1.0), needs 1024");
}

static void
test_boundaries(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[1];
	struct sched_request r;

	(void)state;
	/* Ratio 1.0 everywhere. */
	c.cpu_ratio = 1.0;
	h[0] = host("hv-a", "dc", 8, 16384, 100);
	h[0].alloc_vcpus = 4;
	h[0].alloc_ram_mib = 8192;
	h[0].alloc_disk_gib = 60;
	r = req(4, 8192, 40, false);
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	r = req(5, 8192, 40, false);
	REFUSE(&c, h, 1, NULL, 0, &r,
	    "vcpus: 1 host (hv-a: 4 free of 8 (ratio 1.0), needs 5)");
	r = req(4, 8193, 40, false);
	REFUSE(&c, h, 1, NULL, 0, &r,
	    "ram: 1 host (hv-a: 8192 MiB free of 16384 (ratio 1.0), "
	    "needs 8193)");
	r = req(4, 8192, 41, false);
	REFUSE(&c, h, 1, NULL, 0, &r,
	    "disk: 1 host (hv-a: 40 GiB free of 100 (ratio 1.0), needs 41)");
	/* A whole empty host. */
	h[0].alloc_vcpus = h[0].alloc_ram_mib = h[0].alloc_disk_gib = 0;
	r = req(8, 16384, 100, false);
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");

	/* Ratio 4.0 on every resource: 8 vCPUs are 32, and so on. */
	c.cpu_ratio = c.ram_ratio = c.disk_ratio = 4.0;
	h[0].alloc_vcpus = 28;
	h[0].alloc_ram_mib = 65536 - 2048;
	h[0].alloc_disk_gib = 390;
	r = req(4, 2048, 10, false);
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	r = req(5, 2048, 10, false);
	REFUSE(&c, h, 1, NULL, 0, &r, "hv-a: 4 free of 32 (ratio 4.0), "
	    "needs 5");
	r = req(4, 2049, 10, false);
	REFUSE(&c, h, 1, NULL, 0, &r, "hv-a: 2048 MiB free of 65536 "
	    "(ratio 4.0), needs 2049");
	r = req(4, 2048, 11, false);
	REFUSE(&c, h, 1, NULL, 0, &r, "hv-a: 10 GiB free of 400 (ratio 4.0), "
	    "needs 11");
	/* Disk 0 fits a host with no disk left. */
	h[0].alloc_disk_gib = 400;
	r = req(1, 1, 0, false);
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
}

static void
test_labels_exact_tokens(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[1];
	struct sched_request r = req(1, 512, 1, false);

	(void)state;
	h[0] = host("hv-a", "dc", 8, 8192, 100);
	str_copy(h[0].labels, sizeof(h[0].labels), "ssd-fast,gpu, agency-x ");
	r.labels = "gpu";
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	r.labels = "gpu,ssd-fast";
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	r.labels = " agency-x , gpu ";	/* spaces around tokens ignored */
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	r.labels = ",,";		/* no token: no requirement */
	assert_string_equal(PLACE(&c, h, 1, NULL, 0, &r), "hv-a");
	/* Substrings and prefixes are not labels. */
	r.labels = "ssd";
	REFUSE(&c, h, 1, NULL, 0, &r, "labels: 1 host (hv-a: lacks label ssd");
	r.labels = "fast";
	REFUSE(&c, h, 1, NULL, 0, &r, "lacks label fast");
	r.labels = "gp";
	REFUSE(&c, h, 1, NULL, 0, &r, "lacks label gp");
	r.labels = "agency";
	REFUSE(&c, h, 1, NULL, 0, &r, "lacks label agency");
	r.labels = "gpu,agency-y";
	REFUSE(&c, h, 1, NULL, 0, &r, "lacks label agency-y");
	r.labels = "GPU";		/* case matters */
	REFUSE(&c, h, 1, NULL, 0, &r, "lacks label GPU");
}

/* Filter "image": the arch (a host that reports none takes any image) and
 * the image's required labels, after the VM's own labels. */
static void
test_image_filter(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_request r = req(1, 512, 1, false);
	char why[API_TEXT_MAX];

	(void)state;
	h[0] = host("hv-a", "dc", 8, 8192, 100);
	h[1] = host("hv-b", "dc", 8, 8192, 100);
	h[2] = host("hv-c", "dc", 8, 8192, 100);
	str_copy(h[0].arch, sizeof(h[0].arch), "x86_64");
	str_copy(h[1].arch, sizeof(h[1].arch), "aarch64");
	str_copy(h[0].labels, sizeof(h[0].labels), "gpu,ssd");

	/* No image constraint: the arch is not looked at. */
	r.image = "deb";
	assert_string_equal(VERDICT(&c, h, 3, NULL, 0, &r, "hv-b").filter, "");
	r.arch = "x86_64";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-b", "image",
	    "image: deb is built for x86_64, the host is aarch64");
	/* hv-c reports no arch: it is not refused for it. */
	assert_string_equal(VERDICT(&c, h, 3, NULL, 0, &r, "hv-c").filter, "");
	r.arch = "aarch64";
	assert_string_equal(PLACE(&c, h, 2, NULL, 0, &r), "hv-b");
	r.arch = "riscv64";
	REFUSE(&c, h, 2, NULL, 0, &r, "image: 2 hosts",
	    "deb is built for riscv64, the host is");

	/* Required labels, as exact tokens. */
	r.arch = "x86_64";
	r.image_labels = "gpu";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-c", "image",
	    "image: deb needs host label gpu (host has: none)");
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-a");
	r.image_labels = "ssd, nvme";
	REFUSE(&c, h, 3, NULL, 0, &r, "deb needs host label nvme");
	/* The VM's labels come first: their filter names the mismatch. */
	r.image_labels = "gpu";
	r.labels = "nvme";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "labels",
	    "labels: lacks label nvme (host has: gpu,ssd)");
	r.labels = NULL;
	/* Without a name the reason still reads. */
	r.image = NULL;
	r.image_labels = "tpu";
	REJECTED(&c, h, 3, NULL, 0, &r, "hv-a", "image",
	    "image: the image needs host label tpu (host has: gpu,ssd)");

	/* sched_image_ok alone (rebuild on the VM's host). */
	r.image = "k";
	r.arch = "x86_64";
	r.image_labels = "ssd";
	assert_true(sched_image_ok(&h[0], &r, why, sizeof(why)));
	assert_false(sched_image_ok(&h[1], &r, why, sizeof(why)));
	assert_string_equal(why, "image: k is built for x86_64, the host is "
	    "aarch64");
	assert_false(sched_image_ok(&h[2], &r, why, sizeof(why)));
	assert_string_equal(why, "image: k needs host label ssd (host has: "
	    "none)");
}

/* ---------------------------------------------------------------- weights */

static void
test_spread_vs_pack(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_request r = req(2, 4096, 10, false);
	struct sched_verdict va, vb;

	(void)state;
	h[0] = host("hv-a", "dc", 16, 65536, 500);
	h[1] = host("hv-b", "dc", 16, 65536, 500);
	h[2] = host("hv-c", "dc", 16, 65536, 500);
	h[0].alloc_ram_mib = 8192;
	h[1].alloc_ram_mib = 49152;
	h[2].alloc_ram_mib = 32768;
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-a");
	c.weigher = SCHED_PACK;
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-b");
	/* The weight is recorded: spread = free RAM fraction after the
	 * placement + free vCPU fraction / 1000. */
	c.weigher = SCHED_SPREAD;
	va = VERDICT(&c, h, 3, NULL, 0, &r, "hv-a");
	assert_true(va.weight > 0.8134 && va.weight < 0.8135);	/* 53248 /
								 * 65536 + 62 / 64 / 1000 */
	assert_string_equal(va.reason, "chosen");
	vb = VERDICT(&c, h, 3, NULL, 0, &r, "hv-b");
	assert_string_equal(vb.filter, "");
	assert_string_equal(vb.reason, "passed; ranked 3 of 3 by weight");
	assert_true(vb.weight < va.weight);

	/* A fraction, not an absolute figure: a big host half full loses
	 * to a small empty one under spread, wins under pack. */
	h[0] = host("hv-big", "dc", 16, 262144, 500);
	h[0].alloc_ram_mib = 131072;
	h[1] = host("hv-small", "dc", 16, 32768, 500);
	assert_string_equal(PLACE(&c, h, 2, NULL, 0, &r), "hv-small");
	c.weigher = SCHED_PACK;
	assert_string_equal(PLACE(&c, h, 2, NULL, 0, &r), "hv-big");

	/* Equal RAM fractions: free vCPUs decide. */
	h[0] = host("hv-a", "dc", 16, 65536, 500);
	h[1] = host("hv-b", "dc", 16, 65536, 500);
	h[0].alloc_vcpus = 40;
	c.weigher = SCHED_SPREAD;
	assert_string_equal(PLACE(&c, h, 2, NULL, 0, &r), "hv-b");
	c.weigher = SCHED_PACK;
	assert_string_equal(PLACE(&c, h, 2, NULL, 0, &r), "hv-a");
}

static void
test_ties_by_name(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[4];
	struct sched_request r = req(2, 2048, 10, false);

	(void)state;
	h[0] = host("hv-c", "dc", 8, 16384, 100);
	h[1] = host("hv-a", "dc", 8, 16384, 100);
	h[2] = host("hv-b", "dc", 8, 16384, 100);
	h[3] = host("hv-0", "dc", 8, 8192, 100);
	assert_string_equal(PLACE(&c, h, 4, NULL, 0, &r), "hv-a");
	h[1] = host("hv-d", "dc", 8, 16384, 100);
	assert_string_equal(PLACE(&c, h, 4, NULL, 0, &r), "hv-b");
	/* Pack: ties also go to the lower name (hv-0 is fuller). */
	c.weigher = SCHED_PACK;
	assert_string_equal(PLACE(&c, h, 4, NULL, 0, &r), "hv-0");
	/* All four equal: the lowest name. */
	h[3] = host("hv-e", "dc", 8, 16384, 100);
	assert_string_equal(PLACE(&c, h, 4, NULL, 0, &r), "hv-b");
}

static void
test_soft_anti_affinity(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_vm v[6];
	struct sched_request r = req(1, 1024, 1, false);
	struct sched_verdict va, vb;

	(void)state;
	h[0] = host("hv-a", "dc", 16, 131072, 500);	/* most free */
	h[1] = host("hv-b", "dc", 16, 16384, 500);
	h[2] = host("hv-c", "dc", 16, 16384, 500);
	h[2].alloc_ram_mib = 8192;
	v[0] = vm_on(h, 3, "hv-a", "db", false, 1, 1024, 1);
	r.server_group = "db";
	r.group_policy = SCHED_GROUP_SOFT_ANTI_AFFINITY;
	/* One member on hv-a outweighs its much larger free RAM. */
	assert_string_equal(PLACE(&c, h, 3, v, 1, &r), "hv-b");
	va = VERDICT(&c, h, 3, v, 1, &r, "hv-a");
	vb = VERDICT(&c, h, 3, v, 1, &r, "hv-b");
	assert_string_equal(va.filter, "");	/* soft: still passes */
	assert_true(vb.weight - va.weight > 9.0);
	/* Fewest members wins; among equals, the weigher decides. */
	v[1] = vm_on(h, 3, "hv-b", "db", false, 1, 1024, 1);
	v[2] = vm_on(h, 3, "hv-b", "db", false, 1, 1024, 1);
	v[3] = vm_on(h, 3, "hv-c", "db", false, 1, 1024, 1);
	assert_string_equal(PLACE(&c, h, 3, v, 4, &r), "hv-a");
	v[4] = vm_on(h, 3, "hv-a", "db", false, 1, 1024, 1);
	/* a: 2, b: 2, c: 1 */
	assert_string_equal(PLACE(&c, h, 3, v, 5, &r), "hv-c");
	/* It dominates pack too. */
	c.weigher = SCHED_PACK;
	assert_string_equal(PLACE(&c, h, 3, v, 5, &r), "hv-c");
	/* Other groups' members do not count. */
	v[5] = vm_on(h, 3, "hv-c", "web", false, 1, 1024, 1);
	assert_string_equal(PLACE(&c, h, 3, v, 6, &r), "hv-c");
	/* Without the policy, the group is ignored. */
	r.group_policy = SCHED_GROUP_NONE;
	c.weigher = SCHED_SPREAD;
	assert_string_equal(PLACE(&c, h, 3, v, 6, &r), "hv-a");
}

/* ---------------------------------------------------------------- groups */

static void
test_affinity(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_vm v[3];
	struct sched_request r = req(2, 4096, 10, false);

	(void)state;
	h[0] = host("hv-a", "dc", 16, 65536, 500);
	h[1] = host("hv-b", "dc", 16, 32768, 500);
	h[2] = host("hv-c", "dc", 16, 16384, 500);
	r.server_group = "app";
	r.group_policy = SCHED_GROUP_AFFINITY;
	/* No member yet: any host, the weigher chooses. */
	v[0] = vm_on(h, 3, "hv-c", "other", false, 1, 1024, 1);
	assert_string_equal(PLACE(&c, h, 3, v, 1, &r), "hv-a");
	/* A member on hv-c: only hv-c. */
	v[1] = vm_on(h, 3, "hv-c", "app", false, 1, 1024, 1);
	assert_string_equal(PLACE(&c, h, 3, v, 2, &r), "hv-c");
	REJECTED(&c, h, 3, v, 2, &r, "hv-a", "affinity",
	    "affinity: none of the 1 members of group app is here "
	    "(they are on hv-c)");
	/* hv-c full: no fallback elsewhere. */
	h[2].alloc_ram_mib = 16384 - 2048;
	REFUSE(&c, h, 3, v, 2, &r, "ram: 1 host (hv-c: 2048 MiB free",
	    "affinity: 2 hosts (hv-a: none of the 1 members of group app");
	/* Members on two hosts: either passes. */
	v[2] = vm_on(h, 3, "hv-b", "app", false, 1, 1024, 1);
	assert_string_equal(PLACE(&c, h, 3, v, 3, &r), "hv-b");
	REJECTED(&c, h, 3, v, 3, &r, "hv-a", "affinity",
	    "affinity: none of the 2 members of group app is here "
	    "(they are on hv-b, hv-c)");
}

static void
test_anti_affinity(void **state)
{
	struct sched_config c = conf(0);
	struct sched_host h[3];
	struct sched_vm v[3];
	struct sched_request r = req(2, 4096, 10, false);

	(void)state;
	h[0] = host("hv-a", "dc", 16, 65536, 500);
	h[1] = host("hv-b", "dc", 16, 32768, 500);
	h[2] = host("hv-c", "dc", 16, 16384, 500);
	r.server_group = "db";
	r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
	assert_string_equal(PLACE(&c, h, 3, NULL, 0, &r), "hv-a");
	v[0] = vm_on(h, 3, "hv-a", "db", false, 2, 4096, 10);
	assert_string_equal(PLACE(&c, h, 3, v, 1, &r), "hv-b");
	v[1] = vm_on(h, 3, "hv-b", "db", false, 2, 4096, 10);
	assert_string_equal(PLACE(&c, h, 3, v, 2, &r), "hv-c");
	v[2] = vm_on(h, 3, "hv-c", "db", false, 2, 4096, 10);
	REFUSE(&c, h, 3, v, 3, &r, "anti-affinity: 3 hosts (hv-a: holds 1 "
	    "member of group db)");
	/* Another group is not affected. */
	r.server_group = "web";
	assert_string_equal(PLACE(&c, h, 3, v, 3, &r), "hv-a");
}

/* ---------------------------------------------------------------- N+1 */

static void
test_n1_tolerate_0_and_1(void **state)
{
	struct sched_config c0 = conf(0), c1 = conf(1);
	struct sched_host h[3];
	struct sched_vm v[4];
	struct sched_request r;
	struct sched_verdict vd;

	(void)state;
	h[0] = host("a", "dc", 16, 16384, 100);
	h[1] = host("b", "dc", 16, 16384, 100);
	h[2] = host("c", "dc", 16, 16384, 100);
	v[0] = vm_on(h, 3, "a", NULL, true, 2, 4096, 10);
	v[1] = vm_on(h, 3, "a", NULL, true, 2, 4096, 10);
	v[2] = vm_on(h, 3, "b", NULL, true, 2, 4096, 10);
	v[3] = vm_on(h, 3, "b", NULL, true, 2, 4096, 10);
	/* Fits N+1: losing c restarts the new VM on a or b. */
	r = req(2, 8192, 10, true);
	assert_string_equal(PLACE(&c1, h, 3, v, 4, &r), "c");
	/* Fits on c but breaks N+1: nothing else has 12 GiB if c dies. */
	r = req(2, 12288, 10, true);
	assert_string_equal(PLACE(&c0, h, 3, v, 4, &r), "c");
	REFUSE(&c1, h, 3, v, 4, &r, "no host can take 2 vCPUs, 12288 MiB, "
	    "10 GiB: ram: 2 hosts (a: 8192 MiB free of 16384 (ratio 1.0), "
	    "needs 12288); n+1: 1 host (c: losing host c would leave 1 HA VM "
	    "(2 vCPUs, 12288 MiB, 10 GiB) without room on the other 2 "
	    "hosts)");
	vd = VERDICT(&c1, h, 3, v, 4, &r, "c");
	assert_string_equal(vd.filter, "n+1");
	assert_string_equal(vd.reason, "n+1: losing host c would leave 1 HA "
	    "VM (2 vCPUs, 12288 MiB, 10 GiB) without room on the other 2 "
	    "hosts");
	/* The same VM without HA needs no restart room. */
	r.ha = false;
	assert_string_equal(PLACE(&c1, h, 3, v, 4, &r), "c");
	/* Restart room counts all three resources: disk this time. */
	r = req(2, 4096, 95, true);
	assert_string_equal(PLACE(&c0, h, 3, v, 4, &r), "c");
	REFUSE(&c1, h, 3, v, 4, &r, "n+1: 1 host (c: losing host c would "
	    "leave 1 HA VM (2 vCPUs, 4096 MiB, 95 GiB)");
}

static void
test_n1_non_ha_ignored_but_occupying(void **state)
{
	struct sched_config c = conf(1);
	struct sched_host h[2];
	struct sched_vm v[2];
	struct sched_request r = req(2, 12288, 10, false);

	(void)state;
	h[0] = host("a", "dc", 16, 16384, 100);
	h[1] = host("b", "dc", 16, 16384, 100);
	/* a's VMs are not HA: losing a needs no room on b. */
	v[0] = vm_on(h, 2, "a", NULL, false, 2, 4096, 10);
	v[1] = vm_on(h, 2, "a", NULL, false, 2, 4096, 10);
	assert_string_equal(PLACE(&c, h, 2, v, 2, &r), "b");
	/* The same VMs with HA: b (4 GiB left) cannot take both. */
	v[0].ha = v[1].ha = true;
	REFUSE(&c, h, 2, v, 2, &r, "n+1: 1 host (b: losing host a would "
	    "leave 1 HA VM (2 vCPUs, 4096 MiB, 10 GiB) without room on the "
	    "other 1 host)");
	/* Non-HA VMs still occupy their host: the new HA VM on a would not
	 * restart on b, full of non-HA VMs. */
	h[0] = host("a", "dc", 16, 16384, 100);
	h[1] = host("b", "dc", 16, 16384, 100);
	v[0] = vm_on(h, 2, "b", NULL, false, 2, 8192, 10);
	v[1] = vm_on(h, 2, "b", NULL, false, 2, 4096, 10);
	r = req(2, 8192, 10, true);
	REFUSE(&c, h, 2, v, 2, &r, "(a: losing host a would leave 1 HA VM "
	    "(2 vCPUs, 8192 MiB, 10 GiB) without room on the other 1 host)");
	r = req(2, 4096, 10, true);
	assert_string_equal(PLACE(&c, h, 2, v, 2, &r), "a");
}

static void
test_n1_best_first_then_next(void **state)
{
	struct sched_config c = conf(1);
	struct sched_host h[3];
	struct sched_vm v[1];
	struct sched_request r = req(2, 12288, 0, false);
	struct sched_verdict vd;

	(void)state;
	h[0] = host("a", "dc", 64, 32768, 100);
	h[1] = host("b", "dc", 64, 16384, 100);
	h[2] = host("c", "dc", 64, 24576, 100);
	v[0] = vm_on(h, 3, "a", NULL, true, 2, 20480, 0);
	/* Spread ranks c (1/2 free after), b (1/4), a (0). c would leave
	 * a's 20 GiB VM nowhere; b keeps c's room free: b is chosen. */
	assert_string_equal(PLACE(&c, h, 3, v, 1, &r), "b");
	vd = VERDICT(&c, h, 3, v, 1, &r, "c");
	assert_string_equal(vd.filter, "n+1");
	assert_string_equal(vd.reason, "n+1: losing host a would leave 1 HA "
	    "VM (2 vCPUs, 20480 MiB, 0 GiB) without room on the other 2 "
	    "hosts");
	/* a passed the filters and was not needed: weight, no filter. */
	vd = VERDICT(&c, h, 3, v, 1, &r, "a");
	assert_string_equal(vd.filter, "");
	assert_string_equal(vd.reason,
	    "passed; ranked 3 of 3 by weight (n+1 checked only when it is "
	    "tried)");
	assert_true(vd.weight >= 0.0 && vd.weight < 0.01);
}

static void
test_n1_tolerate_2(void **state)
{
	struct sched_config c1 = conf(1), c2 = conf(2);
	struct sched_host h[4];
	struct sched_vm v[4];
	struct sched_request r = req(2, 4096, 10, true);

	(void)state;
	h[0] = host("a", "dc", 16, 16384, 100);
	h[1] = host("b", "dc", 16, 16384, 100);
	h[2] = host("c", "dc", 16, 16384, 100);
	v[0] = vm_on(h, 3, "a", NULL, true, 2, 8192, 10);
	v[1] = vm_on(h, 3, "b", NULL, true, 2, 8192, 10);
	v[2] = vm_on(h, 3, "c", NULL, true, 2, 8192, 10);
	/* Any one loss is absorbed; two are not. */
	assert_string_equal(PLACE(&c1, h, 3, v, 3, &r), "a");
	REFUSE(&c2, h, 3, v, 3, &r, "n+1: 3 hosts (a: losing hosts a and b "
	    "would leave 2 HA VMs (4 vCPUs, 12288 MiB, 20 GiB) without room "
	    "on the other 1 host)");
	/* A fourth host makes room for any pair. */
	h[3] = host("d", "dc", 16, 16384, 100);
	assert_string_equal(PLACE(&c2, h, 4, v, 3, &r), "d");
	v[3] = vm_on(h, 4, "d", NULL, true, 2, 4096, 10);
	/* a: 8, b: 8, c: 8, d: 4 GiB used; 8 GiB more on d (the best
	 * weighted, quoted): losing a and b leaves 8+8 for c's 8 and d's 4. */
	r = req(2, 8192, 10, true);
	REFUSE(&c2, h, 4, v, 4, &r, "no host can take 2 vCPUs, 8192 MiB, "
	    "10 GiB: n+1: 4 hosts (d: losing hosts a and b would leave 1 HA VM "
	    "(2 vCPUs, 8192 MiB, 10 GiB) without room on the other 2 hosts)");
	assert_string_equal(PLACE(&c1, h, 4, v, 4, &r), "d");
	/* Tolerate 0..2 only: above is taken as 2. */
	c2.tolerate_host_failures = 7;
	REFUSE(&c2, h, 4, v, 4, &r, "n+1: 4 hosts (d: losing hosts a and b");
}

static void
test_n1_too_few_hosts(void **state)
{
	struct sched_config c0 = conf(0), c1 = conf(1), c2 = conf(2);
	struct sched_host h[3];
	struct sched_request r = req(1, 1024, 1, false);
	char failing[API_TEXT_MAX], why[API_TEXT_MAX];

	(void)state;
	h[0] = host("a", "dc", 16, 16384, 100);
	h[1] = host("b", "dc", 16, 16384, 100);
	h[2] = host("x", "dr", 16, 16384, 100);
	/* One host in site dr: no room anywhere if it dies, even with no
	 * HA VM at all. */
	r.site = "dr";
	assert_string_equal(PLACE(&c0, h, 3, NULL, 0, &r), "x");
	REFUSE(&c1, h, 3, NULL, 0, &r, "n+1: 1 host (x: site dr has 1 usable "
	    "host (up, not in maintenance); tolerating 1 host failure needs "
	    "at least 2)");
	assert_int_equal(sched_site_n1(&c1, "dr", h, 3, NULL, 0, failing,
	    why), 1);
	assert_string_equal(failing, "x");
	assert_string_equal(why, "site dr has 1 usable host (up, not in "
	    "maintenance); tolerating 1 host failure needs at least 2");
	/* Two in dc: enough for 1, not for 2. */
	r.site = "dc";
	assert_string_equal(PLACE(&c1, h, 3, NULL, 0, &r), "a");
	REFUSE(&c2, h, 3, NULL, 0, &r, "n+1: 2 hosts (a: site dc has 2 "
	    "usable hosts (up, not in maintenance); tolerating 2 host "
	    "failures needs at least 3)");
	/* A host in maintenance or down is not usable. */
	h[1].maintenance = true;
	REFUSE(&c1, h, 3, NULL, 0, &r, "n+1: 1 host (a: site dc has 1 usable");
	h[1].maintenance = false;
	h[1].up = false;
	REFUSE(&c1, h, 3, NULL, 0, &r, "n+1: 1 host (a: site dc has 1 usable",
	    "up: 1 host (b: host is down)");
	/* An empty site. */
	assert_int_equal(sched_site_n1(&c1, "lab", h, 3, NULL, 0, failing,
	    why), 1);
	assert_string_equal(failing, "");
	assert_string_equal(why, "site lab has 0 usable hosts (up, not in "
	    "maintenance); tolerating 1 host failure needs at least 2");
	assert_int_equal(sched_site_n1(&c0, "lab", h, 3, NULL, 0, failing,
	    why), 0);
}

static void
test_site_n1(void **state)
{
	struct sched_config c = conf(1);
	struct sched_host h[4], m[3];
	struct sched_vm v[6], mv[3];
	char failing[API_TEXT_MAX], why[API_TEXT_MAX];

	(void)state;
	h[0] = host("hv1", "dc", 16, 32768, 500);
	h[1] = host("hv2", "dc", 16, 32768, 500);
	h[2] = host("hv3", "dc", 16, 32768, 500);
	h[3] = host("dr1", "dr", 16, 8192, 500);
	v[0] = vm_on(h, 4, "hv1", NULL, true, 4, 8192, 20);
	v[1] = vm_on(h, 4, "hv2", NULL, true, 4, 8192, 20);
	v[2] = vm_on(h, 4, "hv3", NULL, true, 4, 8192, 20);
	v[3] = vm_on(h, 4, "dr1", NULL, true, 4, 8192, 20);
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 3, failing, why), 0);
	assert_string_equal(failing, "");
	assert_string_equal(why, "");
	/* hv2 fills up with HA VMs: 8+16+8; hv1 and hv3 have 24 free
	 * each: 16 -> hv1, 8 -> hv1, 8 -> hv3. Absorbed. */
	v[4] = vm_on(h, 4, "hv2", NULL, true, 4, 16384, 20);
	v[5] = vm_on(h, 4, "hv2", NULL, true, 4, 8192, 20);
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 0);
	/* Non-HA VMs take room on hv1 and hv3: no longer absorbed. */
	h[0].alloc_ram_mib += 8192;
	h[2].alloc_ram_mib += 12288;
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 1);
	assert_string_equal(failing, "hv2");
	assert_string_equal(why, "losing host hv2 would leave 1 HA VM "
	    "(4 vCPUs, 8192 MiB, 20 GiB) without room on the other 2 hosts");
	h[0].alloc_ram_mib -= 8192;
	h[2].alloc_ram_mib -= 12288;
	/* hv3 in maintenance takes no restarts: hv1's VM has nowhere to
	 * go (hv2 is full). */
	h[2].maintenance = true;
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 1);
	assert_string_equal(failing, "hv1");
	assert_string_equal(why, "losing host hv1 would leave 1 HA VM "
	    "(4 vCPUs, 8192 MiB, 20 GiB) without room on the other 1 host");
	h[2].maintenance = false;
	/* A down host is neither lost again nor a target. */
	h[1].up = false;
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 0);
	h[1].up = true;
	/* Pairs: named "x,y". */
	c.tolerate_host_failures = 2;
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 1);
	assert_string_equal(failing, "hv1,hv2");
	assert_string_equal(why, "losing hosts hv1 and hv2 would leave 2 HA "
	    "VMs (8 vCPUs, 16384 MiB, 40 GiB) without room on the other 1 "
	    "host");
	/* Tolerate 0: always holds. */
	c.tolerate_host_failures = 0;
	assert_int_equal(sched_site_n1(&c, "dc", h, 4, v, 6, failing, why), 0);

	/* A host in maintenance still runs its VMs: its loss counts. */
	c.tolerate_host_failures = 1;
	m[0] = host("m", "lab", 16, 16384, 100);
	m[1] = host("p", "lab", 16, 16384, 100);
	m[2] = host("q", "lab", 16, 16384, 100);
	m[0].maintenance = true;
	mv[0] = vm_on(m, 3, "m", NULL, true, 2, 8192, 10);
	mv[1] = vm_on(m, 3, "p", NULL, false, 2, 12288, 10);
	mv[2] = vm_on(m, 3, "q", NULL, false, 2, 12288, 10);
	assert_int_equal(sched_site_n1(&c, "lab", m, 3, mv, 3, failing, why),
	    1);
	assert_string_equal(failing, "m");
	assert_string_equal(why, "losing host m would leave 1 HA VM "
	    "(2 vCPUs, 8192 MiB, 10 GiB) without room on the other 2 hosts");
	mv[0].ha = false;
	assert_int_equal(sched_site_n1(&c, "lab", m, 3, mv, 3, failing, why),
	    0);
}

/* Deterministic pseudo-random integer in [0, n). */
static int64_t
rnd(unsigned *seed, int64_t n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (int64_t)(*seed >> 16) % n;
}

/*
 * Cross-check on random sites: the chosen host, once the VM is on it,
 * leaves the site N+1 (sched_site_n1, which shares no cache with the
 * placement); every host refused by "n+1" would break it with exactly
 * the reason given. This exercises the baseline cache of n1_admit().
 */
static void
test_n1_random_cross_check(void **state)
{
	enum { NH = 7, NV = 40 };
	struct sched_host h[NH], h2[NH];
	struct sched_vm v[NV + 1];
	struct sched_result res;
	struct sched_config c;
	struct sched_request r;
	struct vm_error err;
	char failing[API_TEXT_MAX], why[API_TEXT_MAX], name[8];
	unsigned seed = 12345;
	int iter, refusals = 0, chosen = 0, cached = 0;
	size_t i, k, nv;

	(void)state;
#define RND(n) rnd(&seed, n)
	for (iter = 0; iter < 1000; iter++) {
		c = conf(1 + (int)RND(2));
		c.weigher = (int)RND(2);
		for (i = 0; i < NH; i++) {
			snprintf(name, sizeof(name), "h%zu", i);
			h[i] = host(name, RND(5) == 0 ? "dr" : "dc", 8 + RND(8),
			    16384 + 4096 * RND(5), 200);
			h[i].maintenance = RND(10) == 0;
			h[i].up = RND(12) != 0;
		}
		nv = (size_t)(10 + RND(NV - 10));
		for (i = 0; i < nv; i++) {
			snprintf(name, sizeof(name), "h%zu", (size_t)RND(NH));
			v[i] = vm_on(h, NH, name, NULL, RND(4) != 0,
			    1 + RND(4), 1024 * (1 + RND(6)), RND(20));
		}
		r = req(1 + RND(4), 1024 * (1 + RND(8)), RND(20), RND(3) != 0);
		vm_error_clear(&err);
		if (sched_place(&c, h, NH, v, nv, &r, &res, &err) < 0)
			refusals++;
		else
			chosen++;
		for (k = 0, i = 0; k < NH; k++)
			i += strcmp(res.verdicts[k].filter, "n+1") == 0;
		cached += i > 1 || (i == 1 && res.chosen >= 0);
		for (k = 0; k < NH; k++) {
			const struct sched_verdict *vd = &res.verdicts[k];
			int want;

			if ((int)k != res.chosen && strcmp(vd->filter, "n+1") != 0)
				continue;
			/* The world after placing the VM on host k. */
			memcpy(h2, h, sizeof(h));
			v[nv] = vm_on(h2, NH, h[k].name, NULL, r.ha, r.vcpus,
			    r.ram_mib, r.disk_gib);
			want = (int)k == res.chosen ? 0 : 1;
			assert_int_equal(sched_site_n1(&c, h[k].site, h2, NH, v,
			    nv + 1, failing, why), want);
			if (want)
				assert_string_equal(vd->reason + 5, why);
		}
		sched_result_free(&res);
	}
#undef RND
	print_message("n+1 cross-check: %d placed, %d refused, %d with a "
	    "second candidate (baseline cache)\n", chosen, refusals, cached);
	assert_true(chosen > 50 && refusals > 50 && cached > 50);
}

/* ---------------------------------------------------------------- scenario */

/* 40 VMs in 10 anti-affinity groups of 4, on 5 hosts, one at a time. */
static void
test_scenario_40_vms_5_hosts(void **state)
{
	struct sched_config c = conf(1);
	struct sched_host h[5];
	struct sched_vm v[41];
	struct sched_request r;
	char failing[API_TEXT_MAX], why[API_TEXT_MAX], group[16], name[8];
	char want[128];
	int count[5] = { 0 }, ingroup[10][5];
	size_t i, k, nv = 0;

	(void)state;
	memset(ingroup, 0, sizeof(ingroup));
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "hv%zu", i + 1);
		h[i] = host(name, "dc", 32, 65536, 2000);
	}
	for (i = 0; i < 40; i++) {
		const char *chosen;
		int64_t ram = i % 2 ? 6144 : 4096;

		snprintf(group, sizeof(group), "grp%zu", i % 10);
		r = req(2, ram, 20, true);
		r.site = "dc";
		r.server_group = group;
		r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
		chosen = PLACE(&c, h, 5, v, nv, &r);
		for (k = 0; k < 5; k++)
			if (strcmp(h[k].name, chosen) == 0)
				break;
		assert_true(k < 5);
		assert_int_equal(ingroup[i % 10][k], 0);	/* anti */
		ingroup[i % 10][k]++;
		count[k]++;
		v[nv] = vm_on(h, 5, chosen, group, true, 2, ram, 20);
		str_copy(v[nv].server_group, sizeof(v[nv].server_group),
		    group);
		nv++;
		assert_int_equal(sched_site_n1(&c, "dc", h, 5, v, nv, failing,
		    why), 0);
	}
	/* Spread (within what anti-affinity allows: 7 to 9 VMs each, RAM
	 * within two VM sizes), and no host over its capacity. */
	for (k = 0; k < 5; k++) {
		int64_t d = h[k].alloc_ram_mib - h[0].alloc_ram_mib;

		assert_true(count[k] >= 7 && count[k] <= 9);
		assert_true(d >= -12288 && d <= 12288);
		assert_true(h[k].alloc_ram_mib <= 65536);
		assert_true(h[k].alloc_vcpus <= 128);
	}
	/* A fifth member of grp0 goes to the one host without one; then
	 * every host holds one and a sixth is refused. */
	r = req(2, 4096, 20, true);
	r.server_group = "grp0";
	r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
	for (k = 0; k < 5 && ingroup[0][k] != 0; k++)
		;
	assert_true(k < 5);
	assert_string_equal(PLACE(&c, h, 5, v, nv, &r), h[k].name);
	v[nv] = vm_on(h, 5, h[k].name, "grp0", true, 2, 4096, 20);
	REFUSE(&c, h, 5, v, nv + 1, &r, "anti-affinity: 5 hosts (hv1: holds "
	    "1 member of group grp0)");
	h[k].alloc_vcpus -= 2;
	h[k].alloc_ram_mib -= 4096;
	h[k].alloc_disk_gib -= 20;
	/* A VM that fits only the emptiest host, which no other host could
	 * restart if that host died: refused by N+1 alone. */
	for (i = 0, k = 0; i < 5; i++)
		if (h[i].alloc_ram_mib < h[k].alloc_ram_mib)
			k = i;
	r = req(2, 65536 - h[k].alloc_ram_mib, 20, true);
	snprintf(want, sizeof(want), "n+1: 1 host (%s: losing host %s would "
	    "leave ", h[k].name, h[k].name);
	REFUSE(&c, h, 5, v, nv, &r, want, "ram: 4 hosts");
	r.ha = false;
	assert_string_equal(PLACE(&c, h, 5, v, nv, &r), h[k].name);
	/* Maintenance: with one host off, a loss is still absorbed; with
	 * three, hv1 (the fullest) could not be restarted on the other. */
	h[4].maintenance = true;
	assert_int_equal(sched_site_n1(&c, "dc", h, 5, v, nv, failing, why), 0);
	h[2].maintenance = h[3].maintenance = true;
	assert_int_equal(sched_site_n1(&c, "dc", h, 5, v, nv, failing, why), 1);
	assert_string_equal(failing, "hv1");
}

/* ---------------------------------------------------------------- summary */

static void
test_error_summary(void **state)
{
	struct sched_config c = conf(1);
	struct sched_host h[6];
	struct sched_vm v[2];
	struct sched_request r = req(2, 4096, 20, true);
	struct sched_result res;
	struct vm_error err;

	(void)state;
	h[0] = host("hv1", "dc", 8, 8192, 100);
	h[1] = host("hv2", "dc", 8, 16384, 100);
	h[2] = host("hv3", "dc", 8, 8192, 100);
	h[3] = host("hv4", "dc", 8, 8192, 100);
	h[4] = host("hv5", "dc", 8, 8192, 100);
	h[5] = host("dr1", "dr", 8, 65536, 100);
	h[0].alloc_ram_mib = 6144;
	h[2].alloc_ram_mib = 5120;
	h[3].alloc_ram_mib = 8192;
	h[4].maintenance = true;
	v[0] = vm_on(h, 6, "hv2", NULL, true, 2, 8192, 10);
	v[1] = vm_on(h, 6, "hv2", NULL, true, 2, 4096, 10);
	r.site = "dc";
	REFUSE(&c, h, 6, v, 2, &r, "no host can take 2 vCPUs, 4096 MiB, "
	    "20 GiB in site dc: ram: 3 hosts (hv3: 3072 MiB free of 8192 "
	    "(ratio 1.0), needs 4096); n+1: 1 host (hv2: losing host hv2 "
	    "would leave 3 HA VMs (6 vCPUs, 16384 MiB, 40 GiB) without room "
	    "on the other 3 hosts); maintenance: 1 host (hv5: host is in "
	    "maintenance); site: 1 host (dr1: in site dr, not dc)");

	/* Zero hosts and an unknown hint. */
	REFUSE(&c, NULL, 0, NULL, 0, &r, "no host is registered");
	r.site = NULL;
	r.host_hint = "hv9";
	REFUSE(&c, h, 6, v, 2, &r, "no host named 'hv9' is registered");
	/* A hint: the other hosts are not counted. */
	r.host_hint = "hv4";
	vm_error_clear(&err);
	assert_int_equal(sched_place(&c, h, 6, v, 2, &r, &res, &err), -1);
	assert_string_equal(err.message, "no host can take 2 vCPUs, 4096 MiB, "
	    "20 GiB on host hv4: ram: 1 host (hv4: 0 MiB free of 8192 "
	    "(ratio 1.0), needs 4096)");
	assert_string_equal(res.verdicts[0].filter, "hint");
	sched_result_free(&res);
}

/* One host per filter, long names and labels: the summary stays within
 * 480 characters, informative filters first, and says "; ..." when it
 * has to leave some out. */
static void
test_error_summary_bounded(void **state)
{
	static const char *const order[] = {
		"labels", "affinity", "vcpus", "ram", "disk", "up",
		"maintenance", "site", "az",
	};
	struct sched_config c = conf(1);
	struct sched_host h[9];
	struct sched_vm v[3];
	struct sched_request r = req(2, 4096, 20, true);
	struct sched_result res;
	struct vm_error err;
	char name[API_NAME_MAX], lbl[API_TEXT_MAX], want[64];
	const char *p, *prev = NULL;
	size_t i;

	(void)state;
	memset(lbl, 'x', 300);
	lbl[300] = '\0';
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "hv-%zu-%.*s", i, 50,
		    "0123456789012345678901234567890123456789012345678901");
		h[i] = host(name, "dc", 8, 16384, 100);
		str_copy(h[i].az, sizeof(h[i].az), "az9");
		str_copy(h[i].labels, sizeof(h[i].labels), "needed");
	}
	str_copy(h[0].labels, sizeof(h[0].labels), lbl);	/* labels */
	v[0] = vm_on(h, 9, h[2].name, "g", true, 32, 0, 0);	/* vcpus */
	v[1] = vm_on(h, 9, h[3].name, "g", true, 0, 16384, 0);	/* ram */
	v[2] = vm_on(h, 9, h[4].name, "g", true, 0, 0, 100);	/* disk */
	/* h[1]: no member of g: affinity */
	h[5].up = false;
	h[6].maintenance = true;
	str_copy(h[7].site, sizeof(h[7].site), "dr");
	str_copy(h[8].az, sizeof(h[8].az), "az1");
	r.site = "dc";
	r.az = "az9";
	r.labels = "needed";
	r.server_group = "g";
	r.group_policy = SCHED_GROUP_AFFINITY;
	vm_error_clear(&err);
	assert_int_equal(sched_place(&c, h, 9, v, 3, &r, &res, &err), -1);
	for (i = 0; i < 9; i++) {
		if (i == 1)
			assert_string_equal(res.verdicts[i].filter, "affinity");
		else
			assert_string_equal(res.verdicts[i].filter,
			    i == 0 ? "labels" : order[i]);
	}
	sched_result_free(&res);
	print_message("%zu chars: %s\n", strlen(err.message), err.message);
	assert_int_equal(err.code, API_ENOROOM);
	assert_true(strlen(err.message) <= 480);
	assert_true(strncmp(err.message, "no host can take 2 vCPUs, 4096 MiB, "
	    "20 GiB in site dc in zone az9: labels: 1 host (hv-0-", 84) == 0);
	/* The labels reason is long: its quote stays, the others fall back
	 * to counts. The parts come in order while they fit. */
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		snprintf(want, sizeof(want), "%s%s: 1 host", i ? "; " : ": ",
		    order[i]);
		p = strstr(err.message, want);
		if (p == NULL)
			break;
		assert_true(prev == NULL || p > prev);
		prev = p;
	}
	assert_true(i >= 5);
	if (i < ARRAY_SIZE(order))
		assert_string_equal(err.message + strlen(err.message) - 5,
		    "; ...");
}

/* ---------------------------------------------------------------- speed */

static double
elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median and max of runs placements of r, in ms; returns sched_place's
 * result of the last one. */
static int
time_place(const struct sched_config *c, const struct sched_host *h,
    size_t nh, const struct sched_vm *v, size_t nv,
    const struct sched_request *r, int runs, double *med, double *max)
{
	double t[64];
	struct timespec a, b;
	struct sched_result res;
	struct vm_error err;
	int i, rc = 0;

	for (i = 0; i < runs; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		rc = sched_place(c, h, nh, v, nv, r, &res, &err);
		clock_gettime(CLOCK_MONOTONIC, &b);
		sched_result_free(&res);
		t[i] = elapsed_ms(&a, &b);
	}
	qsort(t, (size_t)runs, sizeof(t[0]), dbl_cmp);
	*med = t[runs / 2];
	*max = t[runs - 1];
	return rc;
}

static void
test_perf_200_hosts_10000_vms(void **state)
{
	enum { NH = 200, NV = 10000, RUNS = 31 };
	struct sched_host *h = xcalloc(NH, sizeof(*h));
	struct sched_vm *v = xcalloc(NV, sizeof(*v));
	struct sched_config c = conf(1);
	struct sched_request r = req(2, 4096, 20, true);
	double med, max;
	char name[16], group[16];
	size_t i;

	(void)state;
	for (i = 0; i < NH; i++) {
		snprintf(name, sizeof(name), "hv%03zu", i);
		h[i] = host(name, i < 100 ? "dc" : "dr", 64, 524288, 8000);
	}
	for (i = 0; i < NV; i++) {
		size_t k = (i * 7919) % NH;

		snprintf(group, sizeof(group), "g%zu", i % 500);
		v[i] = vm_on(h, 0, h[k].name, group, i % 10 < 7,
		    1 + (int64_t)(i % 4), 2048 * (1 + (int64_t)(i % 4)),
		    10 + (int64_t)(i % 40));
		h[k].alloc_vcpus += v[i].vcpus;
		h[k].alloc_ram_mib += v[i].ram_mib;
		h[k].alloc_disk_gib += v[i].disk_gib;
	}
	r.server_group = "g7";
	r.group_policy = SCHED_GROUP_SOFT_ANTI_AFFINITY;
	assert_int_equal(time_place(&c, h, NH, v, NV, &r, RUNS, &med, &max),
	    0);
	print_message("placement, 200 hosts / 10,000 VMs, N+1 tolerate 1: "
	    "median %.3f ms, max %.3f ms\n", med, max);
	r.site = "dc";
	c.tolerate_host_failures = 2;
	assert_int_equal(time_place(&c, h, NH, v, NV, &r, 5, &med, &max), 0);
	print_message("placement, same, site of 100 hosts, tolerate 2: "
	    "median %.3f ms, max %.3f ms\n", med, max);
	/* Worst case: every host of the site passes the filters and every
	 * one is refused by N+1 (one host holds a VM nothing else can
	 * restart). */
	c.tolerate_host_failures = 1;
	h[99].ram_mib = (int64_t)4 * 524288;		/* the last of site dc */
	v[0].ram_mib = 600000;
	v[0].ha = true;
	h[(size_t)(strtoul(v[0].host + 2, NULL, 10))].alloc_ram_mib -= 2048;
	str_copy(v[0].host, sizeof(v[0].host), h[99].name);
	h[99].alloc_ram_mib += 600000;
	r.ram_mib = 2048;
	assert_int_equal(time_place(&c, h, NH, v, NV, &r, 5, &med, &max), -1);
	print_message("refusal, 100 candidates all refused by N+1: "
	    "median %.3f ms, max %.3f ms\n", med, max);
	free(h);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_capacity),
		cmocka_unit_test(test_each_filter),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_labels_exact_tokens),
		cmocka_unit_test(test_spread_vs_pack),
		cmocka_unit_test(test_ties_by_name),
		cmocka_unit_test(test_soft_anti_affinity),
		cmocka_unit_test(test_affinity),
		cmocka_unit_test(test_anti_affinity),
		cmocka_unit_test(test_n1_tolerate_0_and_1),
		cmocka_unit_test(test_n1_non_ha_ignored_but_occupying),
		cmocka_unit_test(test_n1_best_first_then_next),
		cmocka_unit_test(test_n1_tolerate_2),
		cmocka_unit_test(test_n1_too_few_hosts),
		cmocka_unit_test(test_site_n1),
		cmocka_unit_test(test_n1_random_cross_check),
		cmocka_unit_test(test_scenario_40_vms_5_hosts),
		cmocka_unit_test(test_error_summary),
		cmocka_unit_test(test_image_filter),
		cmocka_unit_test(test_error_summary_bounded),
		cmocka_unit_test(test_perf_200_hosts_10000_vms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
