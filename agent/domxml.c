/*
 * domxml: the domain XML of a VM. Every text and attribute value goes
 * through libxml2 (xmlNewTextChild, xmlNewProp), which escapes it; the
 * inputs are validated anyway so a bad task is refused with a message
 * rather than turned into a strange domain. Called by the task executor
 * (taskloop.c) and by tests/unit/test_domxml.c.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/xmlstring.h>

#include "codec.h"
#include "domxml.h"
#include "errors.h"
#include "log.h"
#include "netxml.h"
#include "util.h"

#define DOMXML_VCPUS_MAX	256
#define DOMXML_RAM_MIB_MAX	4194304
#define DOMXML_TB_CACHE_MIB	"16"

static const char *const domxml_type_names[] = { "kvm", "qemu", "test" };

const char *
domxml_type_name(enum domxml_type type)
{
	if ((size_t)type >= ARRAY_SIZE(domxml_type_names))
		return "?";
	return domxml_type_names[type];
}

static const xmlChar *
X(const char *s)
{
	return (const xmlChar *)s;
}

static bool
domxml_empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Printable UTF-8 text without control characters. */
static bool
domxml_text_valid(const char *s, size_t max)
{
	const unsigned char *p;

	if (strlen(s) >= max)
		return false;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return xmlCheckUTF8(X(s)) != 0;
}

static int
domxml_check_path(const char *what, const char *path, bool required,
    struct vm_error *err)
{
	if (domxml_empty(path)) {
		if (!required)
			return 0;
		vm_error_set(err, API_EINVAL, "domxml: %s: missing", what);
		return -1;
	}
	if (!api_path_valid(path)) {
		vm_error_set(err, API_EINVAL,
		    "domxml: %s: '%.80s' is not a valid absolute path", what,
		    path);
		return -1;
	}
	return 0;
}

static int
domxml_validate(const struct domxml_params *p, struct vm_error *err)
{
	size_t i;

	if ((size_t)p->type >= ARRAY_SIZE(domxml_type_names)) {
		vm_error_set(err, API_EINVAL, "domxml: bad domain type %d",
		    (int)p->type);
		return -1;
	}
	if (p->uuid == NULL || !uuid_valid(p->uuid)) {
		vm_error_set(err, API_EINVAL, "domxml: '%.40s' is not a valid "
		    "uuid", p->uuid ? p->uuid : "");
		return -1;
	}
	if (p->name == NULL || !api_name_valid(p->name)) {
		vm_error_set(err, API_EINVAL, "domxml: '%.64s' is not a valid "
		    "VM name", p->name ? p->name : "");
		return -1;
	}
	if (p->generation < 0) {
		vm_error_set(err, API_EINVAL, "domxml: negative generation");
		return -1;
	}
	if (p->vcpus < 1 || p->vcpus > DOMXML_VCPUS_MAX) {
		vm_error_set(err, API_EINVAL, "domxml: vcpus %" PRId64
		    " out of range 1..%d", p->vcpus, DOMXML_VCPUS_MAX);
		return -1;
	}
	if (p->ram_mib < 1 || p->ram_mib > DOMXML_RAM_MIB_MAX) {
		vm_error_set(err, API_EINVAL, "domxml: ram_mib %" PRId64
		    " out of range 1..%d", p->ram_mib, DOMXML_RAM_MIB_MAX);
		return -1;
	}
	if (domxml_empty(p->disk) == domxml_empty(p->kernel)) {
		vm_error_set(err, API_EINVAL,
		    "domxml: give exactly one of disk or kernel");
		return -1;
	}
	if (domxml_check_path("disk", p->disk, false, err) < 0 ||
	    domxml_check_path("kernel", p->kernel, false, err) < 0 ||
	    domxml_check_path("initrd", p->initrd, false, err) < 0 ||
	    domxml_check_path("console_log", p->console_log, true, err) < 0 ||
	    domxml_check_path("seed_iso", p->seed_iso, false, err) < 0)
		return -1;
	if (domxml_empty(p->kernel) && (!domxml_empty(p->initrd) ||
	    !domxml_empty(p->cmdline))) {
		vm_error_set(err, API_EINVAL,
		    "domxml: initrd and cmdline need a kernel");
		return -1;
	}
	if (!domxml_empty(p->cmdline) &&
	    !domxml_text_valid(p->cmdline, API_TEXT_MAX)) {
		vm_error_set(err, API_EINVAL, "domxml: cmdline: too long, "
		    "control characters or not UTF-8");
		return -1;
	}
	for (i = 0; i < p->nnics; i++)
		if (netxml_nic_check(&p->nics[i], err) < 0)
			return -1;
	return 0;
}

/* libxml2 returns NULL only when out of memory: abort like xmalloc. */
static xmlNodePtr
domxml_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
    const char *text)
{
	xmlNodePtr n;

	n = xmlNewTextChild(parent, ns, X(name), text ? X(text) : NULL);
	if (n == NULL)
		fatalx("xmlNewTextChild: out of memory");
	return n;
}

static void
domxml_prop(xmlNodePtr node, const char *name, const char *value)
{
	if (xmlNewProp(node, X(name), X(value)) == NULL)
		fatalx("xmlNewProp: out of memory");
}

static void
domxml_metadata(xmlNodePtr dom, const struct domxml_params *p)
{
	xmlNodePtr md, vm;
	xmlNsPtr ns;
	char gen[32];

	md = domxml_child(dom, NULL, "metadata", NULL);
	vm = domxml_child(md, NULL, "vm", NULL);
	ns = xmlNewNs(vm, X(DOMXML_NS_URI), X(DOMXML_NS_PREFIX));
	if (ns == NULL)
		fatalx("xmlNewNs: out of memory");
	xmlSetNs(vm, ns);
	snprintf(gen, sizeof(gen), "%" PRId64, p->generation);
	domxml_child(vm, ns, "name", p->name);
	domxml_child(vm, ns, "generation", gen);
}

static void
domxml_os(xmlNodePtr dom, const struct domxml_params *p)
{
	xmlNodePtr os, type;

	os = domxml_child(dom, NULL, "os", NULL);
	type = domxml_child(os, NULL, "type", "hvm");
	/* The test driver only knows i686 and picks it by itself. */
	if (p->type != DOMXML_TEST) {
		domxml_prop(type, "arch", "x86_64");
		domxml_prop(type, "machine", "pc");
	}
	if (!domxml_empty(p->kernel)) {
		domxml_child(os, NULL, "kernel", p->kernel);
		if (!domxml_empty(p->initrd))
			domxml_child(os, NULL, "initrd", p->initrd);
		if (!domxml_empty(p->cmdline))
			domxml_child(os, NULL, "cmdline", p->cmdline);
	} else {
		domxml_prop(domxml_child(os, NULL, "boot", NULL), "dev", "hd");
	}
}

static void
domxml_features(xmlNodePtr dom, const struct domxml_params *p)
{
	xmlNodePtr f, tcg, tb;

	f = domxml_child(dom, NULL, "features", NULL);
	domxml_child(f, NULL, "acpi", NULL);
	if (p->type == DOMXML_QEMU) {
		/* TCG's default 1 GiB translation cache costs ~25 MiB RSS per
		 * idle guest more than this (LIBVIRT-NOTES). */
		tcg = domxml_child(f, NULL, "tcg", NULL);
		tb = domxml_child(tcg, NULL, "tb-cache", DOMXML_TB_CACHE_MIB);
		domxml_prop(tb, "unit", "MiB");
	}
}

/* <serial> or <console> of type file, appending to the log. */
static xmlNodePtr
domxml_chardev(xmlNodePtr devs, const char *elem, const char *path)
{
	xmlNodePtr c, src;

	c = domxml_child(devs, NULL, elem, NULL);
	domxml_prop(c, "type", "file");
	src = domxml_child(c, NULL, "source", NULL);
	domxml_prop(src, "path", path);
	domxml_prop(src, "append", "on");
	return c;
}

static void
domxml_devices(xmlNodePtr dom, const struct domxml_params *p)
{
	xmlNodePtr devs, disk, n;

	devs = domxml_child(dom, NULL, "devices", NULL);
	if (!domxml_empty(p->disk)) {
		disk = domxml_child(devs, NULL, "disk", NULL);
		domxml_prop(disk, "type", "file");
		domxml_prop(disk, "device", "disk");
		n = domxml_child(disk, NULL, "driver", NULL);
		domxml_prop(n, "name", "qemu");
		domxml_prop(n, "type", "qcow2");
		n = domxml_child(disk, NULL, "source", NULL);
		domxml_prop(n, "file", p->disk);
		n = domxml_child(disk, NULL, "target", NULL);
		domxml_prop(n, "dev", "vda");
		domxml_prop(n, "bus", "virtio");
	}
	if (!domxml_empty(p->seed_iso)) {
		disk = domxml_child(devs, NULL, "disk", NULL);
		domxml_prop(disk, "type", "file");
		domxml_prop(disk, "device", "cdrom");
		n = domxml_child(disk, NULL, "driver", NULL);
		domxml_prop(n, "name", "qemu");
		domxml_prop(n, "type", "raw");
		n = domxml_child(disk, NULL, "source", NULL);
		domxml_prop(n, "file", p->seed_iso);
		n = domxml_child(disk, NULL, "target", NULL);
		domxml_prop(n, "dev", "hdc");
		domxml_prop(n, "bus", "ide");
		domxml_child(disk, NULL, "readonly", NULL);
	}
	if (p->nnics > 0)
		netxml_interfaces(devs, p->nics, p->nnics, p->nic_filter);
	n = domxml_chardev(devs, "serial", p->console_log);
	domxml_prop(domxml_child(n, NULL, "target", NULL), "port", "0");
	n = domxml_chardev(devs, "console", p->console_log);
	n = domxml_child(n, NULL, "target", NULL);
	domxml_prop(n, "type", "serial");
	domxml_prop(n, "port", "0");
	n = domxml_child(devs, NULL, "memballoon", NULL);
	domxml_prop(n, "model", "none");
	/* A guest kernel panic reaches libvirt (and <on_crash>) through
	 * the pvpanic ISA device; the test driver has no such device. */
	if (p->type != DOMXML_TEST)
		domxml_prop(domxml_child(devs, NULL, "panic", NULL), "model",
		    "isa");
}

int
domxml_build(const struct domxml_params *p, char **xml_out,
    struct vm_error *err)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr dom, n;
	xmlChar *mem = NULL;
	char num[32];
	int len = 0, ret = -1;

	*xml_out = NULL;
	if (domxml_validate(p, err) < 0)
		goto cleanup;
	doc = xmlNewDoc(X("1.0"));
	dom = xmlNewDocNode(doc, NULL, X("domain"), NULL);
	if (doc == NULL || dom == NULL)
		fatalx("xmlNewDoc: out of memory");
	xmlDocSetRootElement(doc, dom);
	domxml_prop(dom, "type", domxml_type_name(p->type));
	domxml_child(dom, NULL, "name", p->uuid);
	domxml_child(dom, NULL, "uuid", p->uuid);
	domxml_child(dom, NULL, "title", p->name);
	domxml_metadata(dom, p);
	snprintf(num, sizeof(num), "%" PRId64, p->ram_mib * 1024);
	n = domxml_child(dom, NULL, "memory", num);
	domxml_prop(n, "unit", "KiB");
	snprintf(num, sizeof(num), "%" PRId64, p->vcpus);
	domxml_child(dom, NULL, "vcpu", num);
	domxml_os(dom, p);
	domxml_features(dom, p);
	domxml_child(dom, NULL, "on_poweroff", "destroy");
	domxml_child(dom, NULL, "on_reboot", "restart");
	domxml_child(dom, NULL, "on_crash", p->crash_restart ? "restart" :
	    "destroy");
	domxml_devices(dom, p);

	xmlDocDumpFormatMemory(doc, &mem, &len, 1);
	if (mem == NULL || len <= 0)
		fatalx("xmlDocDumpFormatMemory: out of memory");
	/* Hand out malloc'ed memory, whatever allocator libxml2 uses. */
	*xml_out = xstrndup((const char *)mem, (size_t)len);
	ret = 0;
cleanup:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return ret;
}
