/*
 * test_netxml: agent/netxml.c. The libvirt network of a NIC (isolated,
 * nat; never for bridge), the <interface> elements domxml_build() adds,
 * a volume's <disk>, and the persistent domain XML with a volume added
 * and removed (the path of drivers without hot-plug). Every output must
 * parse; hostile or malformed NIC and volume values are refused.
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

#include "domxml.h"
#include "errors.h"
#include "netxml.h"
#include "network.h"
#include "util.h"

#define UUID	"0b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
#define CONSOLE	"/var/lib/vmctl/agent/console/" UUID ".log"
#define KERNEL	"/var/lib/vmctl/images/vmlinuz"
#define VOL	"/var/lib/vmctl/agent/volumes/1b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c.qcow2"

static void
nic_fill(struct api_task_nic *n, const char *net, int mode, const char *mac,
    const char *ip)
{
	memset(n, 0, sizeof(*n));
	str_copy(n->network, sizeof(n->network), net);
	n->mode = mode;
	str_copy(n->mac, sizeof(n->mac), mac);
	str_copy(n->ip, sizeof(n->ip), ip);
	n->prefix = 24;
	str_copy(n->gateway, sizeof(n->gateway), "10.20.0.1");
	if (mode == NET_BRIDGE)
		str_copy(n->bridge, sizeof(n->bridge), "br0");
}

static xmlDocPtr
parse(const char *xml)
{
	xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

	if (doc == NULL)
		fail_msg("does not parse:\n%s", xml);
	return doc;
}

/* Number of nodes matching expr, and the string value of the first. */
static int
xp(xmlDocPtr doc, const char *expr, char *val, size_t size)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr,
	    ctx);
	int n = 0;

	assert_non_null(o);
	if (o->nodesetval != NULL)
		n = o->nodesetval->nodeNr;
	if (val != NULL) {
		val[0] = '\0';
		if (n > 0) {
			xmlChar *s = xmlNodeGetContent(
			    o->nodesetval->nodeTab[0]);

			str_copy(val, size, (const char *)s);
			xmlFree(s);
		}
	}
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return n;
}

static void
assert_xp(xmlDocPtr doc, const char *expr, const char *want)
{
	char v[512];

	if (xp(doc, expr, v, sizeof(v)) != 1)
		fail_msg("%s: %d matches, want 1", expr,
		    xp(doc, expr, NULL, 0));
	if (want != NULL && strcmp(v, want) != 0)
		fail_msg("%s = '%s', want '%s'", expr, v, want);
}

static void
test_network_isolated(void **state)
{
	struct api_task_nic n;
	struct vm_error err = { 0, "" };
	char *xml = NULL;
	xmlDocPtr doc;

	(void)state;
	nic_fill(&n, "web", NET_ISOLATED, "52:54:00:aa:bb:cc", "10.20.0.7");
	assert_int_equal(netxml_network_build(&n, &xml, &err), 0);
	doc = parse(xml);
	assert_xp(doc, "/network/name", "vmctl-web");
	assert_xp(doc, "/network/ip/@address", "10.20.0.1");
	assert_xp(doc, "/network/ip/@prefix", "24");
	assert_int_equal(xp(doc, "/network/forward", NULL, 0), 0);
	assert_int_equal(xp(doc, "//dhcp", NULL, 0), 0);
	assert_int_equal(xp(doc, "/network/bridge/@name", NULL, 0), 0);
	xmlFreeDoc(doc);
	free(xml);
}

static void
test_network_nat_and_bridge(void **state)
{
	struct api_task_nic n;
	struct vm_error err = { 0, "" };
	char *xml = NULL;
	xmlDocPtr doc;

	(void)state;
	nic_fill(&n, "out", NET_NAT, "52:54:00:aa:bb:cc", "10.20.0.7");
	assert_int_equal(netxml_network_build(&n, &xml, &err), 0);
	doc = parse(xml);
	assert_xp(doc, "/network/forward/@mode", "nat");
	xmlFreeDoc(doc);
	free(xml);
	xml = NULL;
	nic_fill(&n, "lan", NET_BRIDGE, "52:54:00:aa:bb:cc", "10.20.0.7");
	assert_int_equal(netxml_network_build(&n, &xml, &err), -1);
	assert_null(xml);
	assert_non_null(strstr(err.message, "mode bridge"));
}

static void
test_domain_interfaces(void **state)
{
	struct api_task_nic nics[2];
	struct domxml_params p;
	struct vm_error err = { 0, "" };
	char *xml = NULL;
	xmlDocPtr doc;

	(void)state;
	nic_fill(&nics[0], "web", NET_ISOLATED, "52:54:00:00:00:01",
	    "10.20.0.2");
	nic_fill(&nics[1], "lan", NET_BRIDGE, "52:54:00:00:00:02",
	    "10.20.0.3");
	memset(&p, 0, sizeof(p));
	p.type = DOMXML_QEMU;
	p.uuid = UUID;
	p.name = "web-01";
	p.vcpus = 1;
	p.ram_mib = 128;
	p.kernel = KERNEL;
	p.console_log = CONSOLE;
	p.nics = nics;
	p.nnics = 2;
	assert_int_equal(domxml_build(&p, &xml, &err), 0);
	doc = parse(xml);
	assert_int_equal(xp(doc, "/domain/devices/interface", NULL, 0), 2);
	assert_xp(doc, "/domain/devices/interface[1]/@type", "network");
	assert_xp(doc, "/domain/devices/interface[1]/source/@network",
	    "vmctl-web");
	assert_xp(doc, "/domain/devices/interface[1]/mac/@address",
	    "52:54:00:00:00:01");
	assert_xp(doc, "/domain/devices/interface[1]/model/@type", "virtio");
	assert_xp(doc, "/domain/devices/interface[2]/@type", "bridge");
	assert_xp(doc, "/domain/devices/interface[2]/source/@bridge", "br0");
	assert_xp(doc, "/domain/devices/interface[2]/mac/@address",
	    "52:54:00:00:00:02");
	xmlFreeDoc(doc);
	free(xml);
}

/*
 * Issue 8 (reading item): VM NICs had no anti-spoofing. With nic_filter
 * (the driver has nwfilter), every NIC gets
 * <filterref filter='clean-traffic'><parameter name='IP' value=IPAM/>
 * (MAC from <mac>); without it, none (test:/// and qemu:///embed lack
 * the nwfilter driver; agent.require_nwfilter refuses those, taskloop).
 */
static void
test_domain_interfaces_nwfilter(void **state)
{
	struct api_task_nic nics[2];
	struct domxml_params p;
	struct vm_error err = { 0, "" };
	char *xml = NULL;
	xmlDocPtr doc;

	(void)state;
	nic_fill(&nics[0], "web", NET_ISOLATED, "52:54:00:00:00:01",
	    "10.20.0.2");
	nic_fill(&nics[1], "lan", NET_BRIDGE, "52:54:00:00:00:02",
	    "10.20.0.3");
	memset(&p, 0, sizeof(p));
	p.type = DOMXML_KVM;
	p.uuid = UUID;
	p.name = "web-01";
	p.vcpus = 1;
	p.ram_mib = 128;
	p.kernel = KERNEL;
	p.console_log = CONSOLE;
	p.nics = nics;
	p.nnics = 2;
	p.nic_filter = true;
	assert_int_equal(domxml_build(&p, &xml, &err), 0);
	doc = parse(xml);
	assert_int_equal(xp(doc, "/domain/devices/interface/filterref", NULL,
	    0), 2);
	assert_xp(doc, "/domain/devices/interface[1]/filterref/@filter",
	    "clean-traffic");
	assert_xp(doc, "/domain/devices/interface[1]/filterref/parameter"
	    "[@name='IP']/@value", "10.20.0.2");
	assert_xp(doc, "/domain/devices/interface[1]/mac/@address",
	    "52:54:00:00:00:01");
	assert_xp(doc, "/domain/devices/interface[2]/filterref/@filter",
	    "clean-traffic");
	assert_xp(doc, "/domain/devices/interface[2]/filterref/parameter"
	    "[@name='IP']/@value", "10.20.0.3");
	/* One parameter only: MAC comes from <mac>, no other IP allowed. */
	assert_int_equal(xp(doc, "/domain/devices/interface[2]/filterref/"
	    "parameter", NULL, 0), 1);
	xmlFreeDoc(doc);
	free(xml);
	xml = NULL;
	p.nic_filter = false;
	assert_int_equal(domxml_build(&p, &xml, &err), 0);
	doc = parse(xml);
	assert_int_equal(xp(doc, "//filterref", NULL, 0), 0);
	xmlFreeDoc(doc);
	free(xml);
}

static void
test_bad_nics(void **state)
{
	static const struct {
		const char *mac, *ip, *bridge;
		int mode;
	} bad[] = {
		{ "52:54:00:00:00:0G", "10.20.0.2", "", NET_ISOLATED },
		{ "aa:54:00:00:00:01", "10.20.0.2", "", NET_ISOLATED },
		{ "52:54:00:00:00:01", "10.20.0", "", NET_ISOLATED },
		{ "52:54:00:00:00:01", "10.20.0.2'/>", "", NET_ISOLATED },
		{ "52:54:00:00:00:01", "10.20.0.2", "br0'/><x a='", NET_BRIDGE },
		{ "52:54:00:00:00:01", "10.20.0.2", "", NET_BRIDGE },
		{ "52:54:00:00:00:01", "10.20.0.2", "br0", NET_NAT },
	};
	struct api_task_nic n;
	struct domxml_params p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct vm_error err = { 0, "" };
		char *xml = NULL;

		nic_fill(&n, "web", NET_ISOLATED, bad[i].mac, bad[i].ip);
		n.mode = bad[i].mode;
		str_copy(n.bridge, sizeof(n.bridge), bad[i].bridge);
		memset(&p, 0, sizeof(p));
		p.type = DOMXML_TEST;
		p.uuid = UUID;
		p.name = "web-01";
		p.vcpus = 1;
		p.ram_mib = 128;
		p.kernel = KERNEL;
		p.console_log = CONSOLE;
		p.nics = &n;
		p.nnics = 1;
		if (domxml_build(&p, &xml, &err) != -1)
			fail_msg("case %zu accepted:\n%s", i, xml);
		assert_int_equal(err.code, API_EINVAL);
		assert_null(xml);
	}
}

static void
test_disk_build(void **state)
{
	struct vm_error err = { 0, "" };
	char *xml = NULL;
	xmlDocPtr doc;

	(void)state;
	assert_int_equal(netxml_disk_build(VOL, "vdc", &xml, &err), 0);
	doc = parse(xml);
	assert_xp(doc, "/disk/@type", "file");
	assert_xp(doc, "/disk/driver/@type", "qcow2");
	assert_xp(doc, "/disk/source/@file", VOL);
	assert_xp(doc, "/disk/target/@dev", "vdc");
	assert_xp(doc, "/disk/target/@bus", "virtio");
	xmlFreeDoc(doc);
	free(xml);
	xml = NULL;
	assert_int_equal(netxml_disk_build(VOL, "vda", &xml, &err), -1);
	assert_int_equal(netxml_disk_build(VOL, "sdb", &xml, &err), -1);
	assert_int_equal(netxml_disk_build("/var/../etc/x.qcow2", "vdb",
	    &xml, &err), -1);
	assert_int_equal(netxml_disk_build("/var/x'.qcow2", "vdb", &xml,
	    &err), -1);
	assert_null(xml);
}

static void
test_disk_edit(void **state)
{
	struct domxml_params p;
	struct vm_error err = { 0, "" };
	char *dom = NULL, *added = NULL, *twice = NULL, *removed = NULL;
	bool present = true;
	xmlDocPtr doc;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.type = DOMXML_TEST;
	p.uuid = UUID;
	p.name = "web-01";
	p.vcpus = 1;
	p.ram_mib = 128;
	p.disk = "/var/lib/vmctl/agent/disks/" UUID ".qcow2";
	p.console_log = CONSOLE;
	assert_int_equal(domxml_build(&p, &dom, &err), 0);
	assert_int_equal(netxml_disk_present(dom, VOL, &present, &err), 0);
	assert_false(present);
	assert_int_equal(netxml_disk_edit(dom, VOL, "vdb", true, &added,
	    &err), 0);
	assert_int_equal(netxml_disk_present(added, VOL, &present, &err), 0);
	assert_true(present);
	doc = parse(added);
	assert_int_equal(xp(doc, "/domain/devices/disk", NULL, 0), 2);
	assert_xp(doc, "/domain/devices/disk[target/@dev='vdb']/source/@file",
	    VOL);
	xmlFreeDoc(doc);
	/* adding again replaces: still one disk on that file */
	assert_int_equal(netxml_disk_edit(added, VOL, "vdb", true, &twice,
	    &err), 0);
	doc = parse(twice);
	assert_int_equal(xp(doc, "/domain/devices/disk", NULL, 0), 2);
	xmlFreeDoc(doc);
	assert_int_equal(netxml_disk_edit(twice, VOL, NULL, false, &removed,
	    &err), 0);
	assert_int_equal(netxml_disk_present(removed, VOL, &present, &err), 0);
	assert_false(present);
	doc = parse(removed);
	assert_xp(doc, "/domain/devices/disk/target/@dev", "vda");
	xmlFreeDoc(doc);
	assert_int_equal(netxml_disk_present("<domain", VOL, &present, &err),
	    -1);
	free(dom);
	free(added);
	free(twice);
	free(removed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_isolated),
		cmocka_unit_test(test_network_nat_and_bridge),
		cmocka_unit_test(test_domain_interfaces),
		cmocka_unit_test(test_domain_interfaces_nwfilter),
		cmocka_unit_test(test_bad_nics),
		cmocka_unit_test(test_disk_build),
		cmocka_unit_test(test_disk_edit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
