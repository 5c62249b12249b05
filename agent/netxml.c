/*
 * netxml: network, interface and volume disk XML (see netxml.h). Called
 * by domxml.c (interfaces of a new domain) and taskloop.c (networks,
 * volume attach/detach), and by tests/unit/test_netxml.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "codec.h"
#include "errors.h"
#include "log.h"
#include "netxml.h"
#include "network.h"
#include "util.h"
#include "volume.h"

static const xmlChar *
X(const char *s)
{
	return (const xmlChar *)s;
}

static xmlNodePtr
nx_child(xmlNodePtr parent, const char *name)
{
	xmlNodePtr n = xmlNewChild(parent, NULL, X(name), NULL);

	if (n == NULL)
		fatalx("xmlNewChild: out of memory");
	return n;
}

static void
nx_prop(xmlNodePtr node, const char *name, const char *value)
{
	if (xmlNewProp(node, X(name), X(value)) == NULL)
		fatalx("xmlNewProp: out of memory");
}

static char *
nx_dump(xmlDocPtr doc, xmlNodePtr root)
{
	xmlChar *mem = NULL;
	char *out;
	int len = 0;

	if (root != NULL)
		xmlDocSetRootElement(doc, root);
	xmlDocDumpFormatMemory(doc, &mem, &len, 1);
	if (mem == NULL || len <= 0)
		fatalx("xmlDocDumpFormatMemory: out of memory");
	out = xstrndup((const char *)mem, (size_t)len);
	xmlFree(mem);
	return out;
}

void
netxml_net_name(const char *network, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", NETXML_PREFIX, network);
}

int
netxml_nic_check(const struct api_task_nic *nic, struct vm_error *err)
{
	uint32_t ip;

	if (!api_name_valid(nic->network) || !api_mac_valid(nic->mac) ||
	    api_ipv4_parse(nic->ip, &ip) < 0 ||
	    nic->prefix < API_NET_PREFIX_MIN ||
	    nic->prefix > API_NET_PREFIX_MAX ||
	    (nic->gateway[0] != '\0' &&
	    api_ipv4_parse(nic->gateway, &ip) < 0) ||
	    nic->mode < NET_ISOLATED || nic->mode > NET_BRIDGE ||
	    (nic->mode == NET_BRIDGE) != (nic->bridge[0] != '\0') ||
	    (nic->bridge[0] != '\0' && !api_bridge_valid(nic->bridge))) {
		vm_error_set(err, API_EINVAL, "netxml: bad NIC on network "
		    "'%.64s' (mac %.20s, ip %.20s)", nic->network, nic->mac,
		    nic->ip);
		return -1;
	}
	return 0;
}

int
netxml_network_build(const struct api_task_nic *nic, char **xml_out,
    struct vm_error *err)
{
	char name[API_NAME_MAX + 8], prefix[8];
	xmlDocPtr doc;
	xmlNodePtr net, n;

	*xml_out = NULL;
	if (netxml_nic_check(nic, err) < 0)
		return -1;
	if (nic->mode == NET_BRIDGE || nic->gateway[0] == '\0') {
		vm_error_set(err, API_EINVAL, "netxml: network %s: no libvirt "
		    "network for mode bridge or without a gateway",
		    nic->network);
		return -1;
	}
	doc = xmlNewDoc(X("1.0"));
	net = xmlNewDocNode(doc, NULL, X("network"), NULL);
	if (doc == NULL || net == NULL)
		fatalx("xmlNewDoc: out of memory");
	netxml_net_name(nic->network, name, sizeof(name));
	if (xmlNewTextChild(net, NULL, X("name"), X(name)) == NULL)
		fatalx("xmlNewTextChild: out of memory");
	if (nic->mode == NET_NAT)
		nx_prop(nx_child(net, "forward"), "mode", "nat");
	n = nx_child(net, "bridge");
	nx_prop(n, "stp", "on");
	nx_prop(n, "delay", "0");
	n = nx_child(net, "ip");
	nx_prop(n, "address", nic->gateway);
	snprintf(prefix, sizeof(prefix), "%d", (int)nic->prefix);
	nx_prop(n, "prefix", prefix);
	*xml_out = nx_dump(doc, net);
	xmlFreeDoc(doc);
	return 0;
}

void
netxml_interfaces(xmlNodePtr devs, const struct api_task_nic *nics, size_t n,
    bool filter)
{
	char name[API_NAME_MAX + 8];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct api_task_nic *nic = &nics[i];
		xmlNodePtr ifc, src;

		ifc = nx_child(devs, "interface");
		src = xmlNewChild(ifc, NULL, X("source"), NULL);
		if (src == NULL)
			fatalx("xmlNewChild: out of memory");
		if (nic->mode == NET_BRIDGE) {
			nx_prop(ifc, "type", "bridge");
			nx_prop(src, "bridge", nic->bridge);
		} else {
			nx_prop(ifc, "type", "network");
			netxml_net_name(nic->network, name, sizeof(name));
			nx_prop(src, "network", name);
		}
		nx_prop(nx_child(ifc, "mac"), "address", nic->mac);
		nx_prop(nx_child(ifc, "model"), "type", "virtio");
		if (filter) {
			xmlNodePtr f = nx_child(ifc, "filterref"), prm;

			nx_prop(f, "filter", NETXML_NWFILTER);
			prm = nx_child(f, "parameter");
			nx_prop(prm, "name", "IP");
			nx_prop(prm, "value", nic->ip);
		}
	}
}

static int
nx_disk_check(const char *path, const char *dev, struct vm_error *err)
{
	if (!api_path_valid(path) || (dev != NULL &&
	    !api_vol_dev_valid(dev))) {
		vm_error_set(err, API_EINVAL, "netxml: bad volume path '%.80s' "
		    "or device '%.8s'", path, dev ? dev : "");
		return -1;
	}
	return 0;
}

static xmlNodePtr
nx_disk_node(xmlDocPtr doc, const char *path, const char *dev)
{
	xmlNodePtr disk, n;

	disk = xmlNewDocNode(doc, NULL, X("disk"), NULL);
	if (disk == NULL)
		fatalx("xmlNewDocNode: out of memory");
	nx_prop(disk, "type", "file");
	nx_prop(disk, "device", "disk");
	n = nx_child(disk, "driver");
	nx_prop(n, "name", "qemu");
	nx_prop(n, "type", "qcow2");
	nx_prop(nx_child(disk, "source"), "file", path);
	n = nx_child(disk, "target");
	nx_prop(n, "dev", dev);
	nx_prop(n, "bus", "virtio");
	return disk;
}

int
netxml_disk_build(const char *path, const char *dev, char **xml_out,
    struct vm_error *err)
{
	xmlDocPtr doc;

	*xml_out = NULL;
	if (nx_disk_check(path, dev, err) < 0)
		return -1;
	if ((doc = xmlNewDoc(X("1.0"))) == NULL)
		fatalx("xmlNewDoc: out of memory");
	*xml_out = nx_dump(doc, nx_disk_node(doc, path, dev));
	xmlFreeDoc(doc);
	return 0;
}

static xmlDocPtr
nx_parse(const char *xml, struct vm_error *err)
{
	xmlDocPtr doc;

	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL)
		vm_error_set(err, API_ELIBVIRT, "netxml: unparsable domain "
		    "XML from libvirt");
	return doc;
}

static xmlNodePtr
nx_find(xmlNodePtr parent, const char *name)
{
	xmlNodePtr c;

	for (c = parent ? parent->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(c->name, X(name)) == 0)
			return c;
	return NULL;
}

/* Is disk node d's <source file=...> equal to path? */
static bool
nx_disk_is(xmlNodePtr d, const char *path)
{
	xmlNodePtr src = nx_find(d, "source");
	xmlChar *f;
	bool same;

	if (src == NULL || (f = xmlGetProp(src, X("file"))) == NULL)
		return false;
	same = strcmp((const char *)f, path) == 0;
	xmlFree(f);
	return same;
}

int
netxml_disk_present(const char *dom_xml, const char *path, bool *present,
    struct vm_error *err)
{
	xmlDocPtr doc;
	xmlNodePtr devs, d;

	*present = false;
	if ((doc = nx_parse(dom_xml, err)) == NULL)
		return -1;
	devs = nx_find(xmlDocGetRootElement(doc), "devices");
	for (d = devs ? devs->children : NULL; d != NULL; d = d->next)
		if (d->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(d->name, X("disk")) == 0 && nx_disk_is(d, path))
			*present = true;
	xmlFreeDoc(doc);
	return 0;
}

int
netxml_disk_edit(const char *dom_xml, const char *path, const char *dev,
    bool add, char **xml_out, struct vm_error *err)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr devs, d, next;
	int ret = -1;

	*xml_out = NULL;
	if (nx_disk_check(path, add ? dev : NULL, err) < 0 ||
	    (doc = nx_parse(dom_xml, err)) == NULL)
		goto cleanup;
	devs = nx_find(xmlDocGetRootElement(doc), "devices");
	if (devs == NULL) {
		vm_error_set(err, API_ELIBVIRT, "netxml: domain XML without "
		    "<devices>");
		goto cleanup;
	}
	for (d = devs->children; d != NULL; d = next) {
		next = d->next;
		if (d->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(d->name, X("disk")) == 0 && nx_disk_is(d, path)) {
			xmlUnlinkNode(d);
			xmlFreeNode(d);
		}
	}
	if (add && xmlAddChild(devs, nx_disk_node(doc, path, dev)) == NULL)
		fatalx("xmlAddChild: out of memory");
	*xml_out = nx_dump(doc, NULL);
	ret = 0;
cleanup:
	xmlFreeDoc(doc);
	return ret;
}
