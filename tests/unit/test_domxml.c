/*
 * test_domxml: the domain XML of agent/domxml.c. The output must parse,
 * carry the expected elements and values for disk and kernel images and
 * for domain types kvm, qemu and test, and no input may add elements:
 * hostile texts round-trip as text, invalid uuids, names and paths are
 * refused.
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

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "domxml.h"
#include "errors.h"
#include "util.h"

#define UUID	"0b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
#define SD	"/var/lib/vmctl/agent"
#define OVERLAY	SD "/disks/" UUID ".qcow2"
#define CONSOLE	SD "/console/" UUID ".log"
#define KERNEL	"/var/lib/vmctl/images/vmlinuz"
#define INITRD	"/var/lib/vmctl/images/initrd.img"

/* ---------------------------------------------------------------- helpers */

static void
disk_params(struct domxml_params *p, enum domxml_type type)
{
	memset(p, 0, sizeof(*p));
	p->type = type;
	p->uuid = UUID;
	p->name = "web-01";
	p->generation = 7;
	p->vcpus = 2;
	p->ram_mib = 128;
	p->disk = OVERLAY;
	p->console_log = CONSOLE;
}

static void
kernel_params(struct domxml_params *p, enum domxml_type type)
{
	disk_params(p, type);
	p->disk = NULL;
	p->kernel = KERNEL;
	p->initrd = INITRD;
	p->cmdline = "console=ttyS0 quiet";
}

/* Build, check success, parse strictly (no network, no entities). */
static xmlDocPtr
build_doc(const struct domxml_params *p)
{
	struct vm_error err;
	char *xml = NULL;
	xmlDocPtr doc;

	vm_error_clear(&err);
	if (domxml_build(p, &xml, &err) != 0)
		fail_msg("domxml_build: %s", err.message);
	assert_non_null(xml);
	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		fail_msg("output does not parse:\n%s", xml);
	free(xml);
	return doc;
}

static void
expect_refused(const struct domxml_params *p, const char *needle)
{
	struct vm_error err;
	char *xml = (char *)"untouched";

	vm_error_clear(&err);
	assert_int_equal(domxml_build(p, &xml, &err), -1);
	assert_null(xml);
	assert_int_equal(err.code, API_EINVAL);
	if (needle != NULL && strstr(err.message, needle) == NULL)
		fail_msg("message '%s' lacks '%s'", err.message, needle);
}

static xmlXPathObjectPtr
xp_eval(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o;

	assert_non_null(ctx);
	assert_int_equal(xmlXPathRegisterNs(ctx, (const xmlChar *)"v",
	    (const xmlChar *)DOMXML_NS_URI), 0);
	o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
	xmlXPathFreeContext(ctx);
	if (o == NULL)
		fail_msg("bad xpath %s", expr);
	return o;
}

static double
xp_num(xmlDocPtr doc, const char *expr)
{
	xmlXPathObjectPtr o = xp_eval(doc, expr);
	double d = xmlXPathCastToNumber(o);

	xmlXPathFreeObject(o);
	return d;
}

/* Assert string(expr) == want. */
static void
xp_is(xmlDocPtr doc, const char *expr, const char *want)
{
	xmlXPathObjectPtr o = xp_eval(doc, expr);
	xmlChar *s = xmlXPathCastToString(o);

	if (strcmp((const char *)s, want) != 0)
		fail_msg("%s: got '%s', want '%s'", expr, (const char *)s,
		    want);
	xmlFree(s);
	xmlXPathFreeObject(o);
}

static void
xp_count(xmlDocPtr doc, const char *expr, int want)
{
	char q[512];
	double got;

	snprintf(q, sizeof(q), "count(%s)", expr);
	got = xp_num(doc, q);
	if ((int)got != want)
		fail_msg("%s: %d nodes, want %d", expr, (int)got, want);
}

/* Checks shared by every output. */
static void
check_common(xmlDocPtr doc, const struct domxml_params *p)
{
	char buf[64];

	xp_count(doc, "/domain", 1);
	xp_is(doc, "/domain/@type", domxml_type_name(p->type));
	xp_is(doc, "/domain/name", UUID);
	xp_is(doc, "/domain/uuid", UUID);
	xp_is(doc, "/domain/title", p->name);
	xp_count(doc, "/domain/metadata/v:vm", 1);
	xp_is(doc, "/domain/metadata/v:vm/v:name", p->name);
	snprintf(buf, sizeof(buf), "%lld", (long long)p->generation);
	xp_is(doc, "/domain/metadata/v:vm/v:generation", buf);
	xp_is(doc, "/domain/memory/@unit", "KiB");
	snprintf(buf, sizeof(buf), "%lld", (long long)p->ram_mib * 1024);
	xp_is(doc, "/domain/memory", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)p->vcpus);
	xp_is(doc, "/domain/vcpu", buf);
	xp_is(doc, "/domain/os/type", "hvm");
	xp_count(doc, "/domain/features/acpi", 1);
	xp_is(doc, "/domain/on_poweroff", "destroy");
	xp_is(doc, "/domain/on_reboot", "restart");
	xp_is(doc, "/domain/on_crash", p->crash_restart ? "restart" :
	    "destroy");
	xp_count(doc, "/domain/devices/panic[@model='isa']",
	    p->type == DOMXML_TEST ? 0 : 1);
	xp_is(doc, "/domain/devices/serial/@type", "file");
	xp_is(doc, "/domain/devices/serial/source/@path", p->console_log);
	xp_is(doc, "/domain/devices/serial/source/@append", "on");
	xp_is(doc, "/domain/devices/serial/target/@port", "0");
	xp_is(doc, "/domain/devices/console/@type", "file");
	xp_is(doc, "/domain/devices/console/source/@path", p->console_log);
	xp_is(doc, "/domain/devices/console/target/@type", "serial");
	xp_is(doc, "/domain/devices/memballoon/@model", "none");
	xp_count(doc, "//graphics", 0);
	xp_count(doc, "//interface", 0);
	if (p->type == DOMXML_TEST) {
		xp_count(doc, "/domain/os/type/@arch", 0);
		xp_count(doc, "/domain/os/type/@machine", 0);
	} else {
		xp_is(doc, "/domain/os/type/@arch", "x86_64");
		xp_is(doc, "/domain/os/type/@machine", "pc");
	}
	if (p->type == DOMXML_QEMU) {
		xp_is(doc, "/domain/features/tcg/tb-cache", "16");
		xp_is(doc, "/domain/features/tcg/tb-cache/@unit", "MiB");
	} else {
		xp_count(doc, "//tcg", 0);
	}
}

/* ---------------------------------------------------------------- good */

static void
test_disk_all_types(void **state)
{
	static const enum domxml_type types[] = {
		DOMXML_KVM, DOMXML_QEMU, DOMXML_TEST
	};
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		xmlDocPtr doc;

		disk_params(&p, types[i]);
		doc = build_doc(&p);
		check_common(doc, &p);
		xp_count(doc, "/domain/devices/disk", 1);
		xp_is(doc, "/domain/devices/disk/@type", "file");
		xp_is(doc, "/domain/devices/disk/@device", "disk");
		xp_is(doc, "/domain/devices/disk/driver/@name", "qemu");
		xp_is(doc, "/domain/devices/disk/driver/@type", "qcow2");
		xp_is(doc, "/domain/devices/disk/source/@file", OVERLAY);
		xp_is(doc, "/domain/devices/disk/target/@dev", "vda");
		xp_is(doc, "/domain/devices/disk/target/@bus", "virtio");
		xp_is(doc, "/domain/os/boot/@dev", "hd");
		xp_count(doc, "/domain/os/kernel", 0);
		xp_count(doc, "/domain/os/initrd", 0);
		xp_count(doc, "/domain/os/cmdline", 0);
		xmlFreeDoc(doc);
	}
}

/* The on-crash policy reaches libvirt: <on_crash> restart or destroy. */
static void
test_on_crash(void **state)
{
	static const enum domxml_type types[] = {
		DOMXML_KVM, DOMXML_QEMU, DOMXML_TEST
	};
	struct domxml_params p;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++)
		for (r = 0; r < 2; r++) {
			xmlDocPtr doc;

			disk_params(&p, types[i]);
			p.crash_restart = r == 1;
			doc = build_doc(&p);
			check_common(doc, &p);
			xp_is(doc, "/domain/on_crash", r ? "restart" :
			    "destroy");
			xmlFreeDoc(doc);
		}
}

static void
test_kernel_all_types(void **state)
{
	static const enum domxml_type types[] = {
		DOMXML_KVM, DOMXML_QEMU, DOMXML_TEST
	};
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		xmlDocPtr doc;

		kernel_params(&p, types[i]);
		doc = build_doc(&p);
		check_common(doc, &p);
		xp_is(doc, "/domain/os/kernel", KERNEL);
		xp_is(doc, "/domain/os/initrd", INITRD);
		xp_is(doc, "/domain/os/cmdline", "console=ttyS0 quiet");
		xp_count(doc, "/domain/devices/disk", 0);
		xp_count(doc, "/domain/os/boot", 0);
		xmlFreeDoc(doc);
	}
}

static void
test_kernel_only(void **state)
{
	struct domxml_params p;
	xmlDocPtr doc;

	(void)state;
	kernel_params(&p, DOMXML_QEMU);
	p.initrd = NULL;
	p.cmdline = "";
	p.generation = 0;
	p.vcpus = 256;
	p.ram_mib = 4194304;
	doc = build_doc(&p);
	check_common(doc, &p);
	xp_is(doc, "/domain/os/kernel", KERNEL);
	xp_count(doc, "/domain/os/initrd", 0);
	xp_count(doc, "/domain/os/cmdline", 0);
	xmlFreeDoc(doc);
}

static void
test_type_names(void **state)
{
	(void)state;
	assert_string_equal(domxml_type_name(DOMXML_KVM), "kvm");
	assert_string_equal(domxml_type_name(DOMXML_QEMU), "qemu");
	assert_string_equal(domxml_type_name(DOMXML_TEST), "test");
}

/* ---------------------------------------------------------------- hostile */

/* A hostile cmdline comes back as the same text and adds no node. */
static void
test_hostile_cmdline(void **state)
{
	static const char *const evil[] = {
		"a'b\"c<d>e&f",
		"</cmdline></os><devices><disk type='file'/></devices><os>",
		"x]]><graphics type='vnc'/><![CDATA[",
		"&amp; &lt;devices&gt; &#60;disk/&#62; &xxe;",
		"<!-- --><?pi x?><!DOCTYPE d [<!ENTITY e SYSTEM '/etc/pw'>]>",
		"console=ttyS0 init=/bin/sh \"quoted\" 'single' caf\xc3\xa9",
	};
	struct domxml_params p;
	xmlDocPtr ref, doc;
	double nref, nattr;
	size_t i;

	(void)state;
	kernel_params(&p, DOMXML_QEMU);
	p.cmdline = "plain";
	ref = build_doc(&p);
	nref = xp_num(ref, "count(//node())");
	nattr = xp_num(ref, "count(//@*)");
	xmlFreeDoc(ref);
	for (i = 0; i < ARRAY_SIZE(evil); i++) {
		p.cmdline = evil[i];
		doc = build_doc(&p);
		if (xp_num(doc, "count(//node())") != nref ||
		    xp_num(doc, "count(//@*)") != nattr)
			fail_msg("cmdline '%s' changed the tree", evil[i]);
		xp_count(doc, "/domain/os/cmdline/node()", 1);
		xp_count(doc, "/domain/os/cmdline/text()", 1);
		xp_is(doc, "/domain/os/cmdline", evil[i]);
		xp_count(doc, "//graphics", 0);
		xp_count(doc, "/domain/devices/disk", 0);
		xmlFreeDoc(doc);
	}
}

static void
test_hostile_name(void **state)
{
	static const char *const evil[] = {
		"a</title><devices>", "web'01", "web\"01", "web&amp;",
		"<x/>", "a b", "web-01\n", "",
	};
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(evil); i++) {
		disk_params(&p, DOMXML_KVM);
		p.name = evil[i];
		expect_refused(&p, "VM name");
	}
	disk_params(&p, DOMXML_KVM);
	p.name = NULL;
	expect_refused(&p, "VM name");
}

static void
test_hostile_paths(void **state)
{
	static const char *const evil[] = {
		"relative/disk.qcow2", "/a'/><disk file='/etc/shadow",
		"/a\"b", "/a<b", "/a&b", "/a b", "/x/../etc/shadow",
		"/x/./y", "//x", "/x/..", "/", "/a\nb",
	};
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(evil); i++) {
		disk_params(&p, DOMXML_QEMU);
		p.disk = evil[i];
		expect_refused(&p, "disk");
		kernel_params(&p, DOMXML_QEMU);
		p.kernel = evil[i];
		expect_refused(&p, "kernel");
		kernel_params(&p, DOMXML_QEMU);
		p.initrd = evil[i];
		expect_refused(&p, "initrd");
		disk_params(&p, DOMXML_QEMU);
		p.console_log = evil[i];
		expect_refused(&p, "console_log");
	}
	disk_params(&p, DOMXML_QEMU);
	p.console_log = NULL;
	expect_refused(&p, "console_log");
}

/* ---------------------------------------------------------------- refused */

static void
test_bad_uuid(void **state)
{
	static const char *const bad[] = {
		"", "0b7e3c2a", "0B7E3C2A-1D2E-4F5A-8B9C-0D1E2F3A4B5C",
		"0b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c0",
		"0b7e3c2a_1d2e_4f5a_8b9c_0d1e2f3a4b5c",
		"0b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5g",
		"</name><devices/><name>aaaaaaaaaaaaaaaaaaa",
	};
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		disk_params(&p, DOMXML_KVM);
		p.uuid = bad[i];
		expect_refused(&p, "uuid");
	}
	disk_params(&p, DOMXML_KVM);
	p.uuid = NULL;
	expect_refused(&p, "uuid");
}

static void
test_bad_cmdline(void **state)
{
	static const char *const bad[] = {
		"a\nb", "a\rb", "a\tb", "esc\x1b[2J", "del\x7f",
		"bad utf8 \xc3\x28", "truncated \xe2\x82",
	};
	struct domxml_params p;
	char *longer;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		kernel_params(&p, DOMXML_QEMU);
		p.cmdline = bad[i];
		expect_refused(&p, "cmdline");
	}
	longer = xmalloc(600);
	memset(longer, 'a', 599);
	longer[599] = '\0';
	kernel_params(&p, DOMXML_QEMU);
	p.cmdline = longer;
	expect_refused(&p, "cmdline");
	free(longer);
}

static void
test_bad_combinations(void **state)
{
	struct domxml_params p;

	(void)state;
	disk_params(&p, DOMXML_KVM);
	p.kernel = KERNEL;			/* both */
	expect_refused(&p, "exactly one");
	disk_params(&p, DOMXML_KVM);
	p.disk = "";				/* neither */
	expect_refused(&p, "exactly one");
	disk_params(&p, DOMXML_KVM);
	p.initrd = INITRD;			/* initrd without kernel */
	expect_refused(&p, "need a kernel");
	disk_params(&p, DOMXML_KVM);
	p.cmdline = "quiet";			/* cmdline without kernel */
	expect_refused(&p, "need a kernel");
	disk_params(&p, DOMXML_KVM);
	p.vcpus = 0;
	expect_refused(&p, "vcpus");
	disk_params(&p, DOMXML_KVM);
	p.vcpus = 257;
	expect_refused(&p, "vcpus");
	disk_params(&p, DOMXML_KVM);
	p.ram_mib = 0;
	expect_refused(&p, "ram_mib");
	disk_params(&p, DOMXML_KVM);
	p.ram_mib = 4194305;
	expect_refused(&p, "ram_mib");
	disk_params(&p, DOMXML_KVM);
	p.generation = -1;
	expect_refused(&p, "generation");
	disk_params(&p, DOMXML_KVM);
	p.type = (enum domxml_type)3;
	expect_refused(&p, "type");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_all_types),
		cmocka_unit_test(test_on_crash),
		cmocka_unit_test(test_kernel_all_types),
		cmocka_unit_test(test_kernel_only),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_hostile_cmdline),
		cmocka_unit_test(test_hostile_name),
		cmocka_unit_test(test_hostile_paths),
		cmocka_unit_test(test_bad_uuid),
		cmocka_unit_test(test_bad_cmdline),
		cmocka_unit_test(test_bad_combinations),
	};
	int rc;

	xmlInitParser();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return rc;
}
