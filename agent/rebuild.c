/*
 * rebuild: vm rebuild and offline resize on the agent (see rebuild.h).
 * The persistent definition is edited, never rebuilt from scratch, so
 * what volume attach, NICs and the cloud-init seed put there stays.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "agent.h"
#include "disks.h"
#include "domxml.h"
#include "errors.h"
#include "imgcache.h"
#include "log.h"
#include "rebuild.h"
#include "util.h"
#include "virt.h"

static const xmlChar *
X(const char *s)
{
	return (const xmlChar *)s;
}

/* ------------------------------------------------------------ XML */

static xmlDocPtr
rb_parse(const char *xml, struct vm_error *err)
{
	xmlDocPtr doc;

	doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || xmlDocGetRootElement(doc) == NULL) {
		xmlFreeDoc(doc);
		vm_error_set(err, API_ELIBVIRT, "rebuild: unparsable domain XML "
		    "from libvirt");
		return NULL;
	}
	return doc;
}

/* First element child of parent named name (in namespace href, if set). */
static xmlNodePtr
rb_find(xmlNodePtr parent, const char *name, const char *href)
{
	xmlNodePtr c;

	for (c = parent ? parent->children : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    xmlStrcmp(c->name, X(name)) == 0 && (href == NULL ||
		    (c->ns != NULL && xmlStrcmp(c->ns->href, X(href)) == 0)))
			return c;
	return NULL;
}

/* The vmctl:generation element, or NULL. */
static xmlNodePtr
rb_generation_node(xmlDocPtr doc)
{
	xmlNodePtr md, vm;

	md = rb_find(xmlDocGetRootElement(doc), "metadata", NULL);
	vm = rb_find(md, "vm", DOMXML_NS_URI);
	return rb_find(vm, "generation", DOMXML_NS_URI);
}

/* Replace n's content with text (raw: libxml2 escapes it). */
static void
rb_set_text(xmlNodePtr n, const char *text)
{
	xmlNodeSetContent(n, NULL);
	xmlNodeAddContent(n, X(text));
}

/* parent's child name set to text (created at the end if missing); ""
 * removes it. */
static void
rb_child_text(xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n = rb_find(parent, name, NULL);

	if (text[0] == '\0') {
		if (n != NULL) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
		}
		return;
	}
	if (n == NULL && (n = xmlNewChild(parent, NULL, X(name), NULL)) ==
	    NULL)
		fatalx("xmlNewChild: out of memory");
	rb_set_text(n, text);
}

int
rebuild_xml_generation(const char *dom_xml, int64_t *gen,
    struct vm_error *err)
{
	xmlDocPtr doc;
	xmlNodePtr n;
	xmlChar *text;

	*gen = 0;
	if ((doc = rb_parse(dom_xml, err)) == NULL)
		return -1;
	n = rb_generation_node(doc);
	if (n != NULL && (text = xmlNodeGetContent(n)) != NULL) {
		*gen = strtoll((const char *)text, NULL, 10);
		xmlFree(text);
	}
	xmlFreeDoc(doc);
	return 0;
}

int
rebuild_xml_edit(const char *dom_xml, const struct rebuild_edit *e,
    char **xml_out, struct vm_error *err)
{
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n, os;
	xmlChar *mem = NULL;
	char num[32];
	int len = 0, ret = -1;

	*xml_out = NULL;
	if ((doc = rb_parse(dom_xml, err)) == NULL)
		goto cleanup;
	root = xmlDocGetRootElement(doc);
	if (e->generation > 0 && (n = rb_generation_node(doc)) != NULL) {
		snprintf(num, sizeof(num), "%" PRId64, e->generation);
		rb_set_text(n, num);
	}
	if (e->vcpus > 0) {
		snprintf(num, sizeof(num), "%" PRId64, e->vcpus);
		rb_child_text(root, "vcpu", num);
	}
	if (e->ram_mib > 0) {
		const char *const mems[] = { "memory", "currentMemory" };
		size_t i;

		snprintf(num, sizeof(num), "%" PRId64, e->ram_mib * 1024);
		for (i = 0; i < ARRAY_SIZE(mems); i++) {
			if (i > 0 && rb_find(root, mems[i], NULL) == NULL)
				continue;	/* currentMemory is optional */
			rb_child_text(root, mems[i], num);
			n = rb_find(root, mems[i], NULL);
			if (xmlSetProp(n, X("unit"), X("KiB")) == NULL)
				fatalx("xmlSetProp: out of memory");
		}
	}
	if (e->kernel != NULL || e->initrd != NULL || e->cmdline != NULL) {
		if ((os = rb_find(root, "os", NULL)) == NULL) {
			vm_error_set(err, API_ELIBVIRT, "rebuild: domain XML "
			    "without <os>");
			goto cleanup;
		}
		if (e->kernel != NULL)
			rb_child_text(os, "kernel", e->kernel);
		if (e->initrd != NULL)
			rb_child_text(os, "initrd", e->initrd);
		if (e->cmdline != NULL)
			rb_child_text(os, "cmdline", e->cmdline);
	}
	xmlDocDumpFormatMemory(doc, &mem, &len, 1);
	if (mem == NULL || len <= 0)
		fatalx("xmlDocDumpFormatMemory: out of memory");
	*xml_out = xstrndup((const char *)mem, (size_t)len);
	ret = 0;
cleanup:
	xmlFree(mem);
	xmlFreeDoc(doc);
	return ret;
}

/* ------------------------------------------------------------ tasks */

/* The persistent definition and its generation; *cfg owned by caller. */
static int
rb_current(struct virt *v, const struct api_task *t, char **cfg,
    int64_t *gen, bool *active, struct vm_error *err)
{
	int st;

	*cfg = NULL;
	if (v->ops->vo_state(v, t->vm_id, &st, active, 0, err) < 0)
		return -1;
	if (st == DOM_ABSENT) {
		vm_error_set(err, API_ENOTFOUND, "domain %s does not exist",
		    t->vm_id);
		return -1;
	}
	if (v->ops->vo_xml(v, t->vm_id, cfg, VIRT_XML_INACTIVE, err) < 0)
		return -1;
	return rebuild_xml_generation(*cfg, gen, err);
}

/* Start unless running; a race with another start is fine. */
static int
rb_start(struct virt *v, const char *uuid, struct vm_error *err)
{
	bool active;
	int st;

	if (v->ops->vo_state(v, uuid, &st, &active, 0, err) < 0)
		return -1;
	if (active)
		return 0;
	if (v->ops->vo_start(v, uuid, 0, err) == 0)
		return 0;
	if (err->code == API_ECONFLICT && v->ops->vo_state(v, uuid, &st,
	    &active, 0, err) == 0 && active) {
		vm_error_clear(err);
		return 0;
	}
	return -1;
}

int
rebuild_run(struct agent *a, const struct api_task *t, struct vm_error *err)
{
	struct virt *v = a->virt;
	struct rebuild_edit e;
	char *cfg = NULL, *xml = NULL, *overlay = NULL;
	struct imgcache_files f = { NULL, "", NULL, NULL };
	int64_t gen;
	bool active;
	int ret = -1;

	if (rb_current(v, t, &cfg, &gen, &active, err) < 0)
		goto cleanup;
	if (gen >= t->generation) {
		log_info("vm %s (%s): generation %" PRId64 " already rebuilt",
		    t->vm_name, t->vm_id, t->generation);
		goto started;
	}
	/* The files first (blobs fetched, host paths checked against
	 * agent.image_dir): a refusal leaves the VM as it was. */
	if (imgcache_files_get(a, &t->image, &f, err) < 0)
		goto cleanup;
	if (active && v->ops->vo_destroy(v, t->vm_id, 0, err) < 0) {
		if (err->code != API_ENOTFOUND && err->code != API_ECONFLICT)
			goto cleanup;
		vm_error_clear(err);
	}
	if (f.base != NULL) {
		/* A crash from here to the redefine leaves the old generation
		 * in the definition: the retry makes the overlay again. */
		overlay = disks_overlay_path(a->conf.state_dir, t->vm_id);
		if (unlink(overlay) < 0 && errno != ENOENT) {
			vm_error_set(err, API_EINTERNAL, "rebuild: unlink %s: %s",
			    overlay, strerror(errno));
			goto cleanup;
		}
		if (disks_prepare(a->conf.state_dir, t->vm_id, f.base,
		    f.base_fmt, t->disk_gib, NULL, err) < 0)
			goto cleanup;
	}
	memset(&e, 0, sizeof(e));
	e.generation = t->generation;
	if (f.kernel != NULL) {
		e.kernel = f.kernel;
		e.initrd = f.initrd;
		e.cmdline = t->image.cmdline;
	}
	if (rebuild_xml_edit(cfg, &e, &xml, err) < 0 ||
	    v->ops->vo_define(v, xml, 0, err) < 0)
		goto cleanup;
	log_info("vm %s (%s): rebuilt on %s", t->vm_name, t->vm_id,
	    t->image.name[0] ? t->image.name : f.base != NULL ? f.base :
	    e.kernel != NULL ? e.kernel : "its image");
started:
	if (t->start && rb_start(v, t->vm_id, err) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(cfg);
	free(xml);
	free(overlay);
	imgcache_files_free(&f);
	return ret;
}

int
rebuild_resize(struct agent *a, const struct api_task *t,
    struct vm_error *err)
{
	struct virt *v = a->virt;
	struct rebuild_edit e;
	char *cfg = NULL, *xml = NULL, *overlay = NULL;
	struct stat sb;
	int64_t gen;
	bool active;
	int ret = -1;

	if (rb_current(v, t, &cfg, &gen, &active, err) < 0)
		goto cleanup;
	if (gen >= t->generation) {
		log_info("vm %s (%s): generation %" PRId64 " already resized",
		    t->vm_name, t->vm_id, t->generation);
		ret = 0;
		goto cleanup;
	}
	if (active) {
		vm_error_set(err, API_ECONFLICT, "vm %s runs: resize needs it "
		    "shut off (stop it first)", t->vm_name);
		goto cleanup;
	}
	overlay = disks_overlay_path(a->conf.state_dir, t->vm_id);
	if (stat(overlay, &sb) == 0 && disks_grow(overlay, t->disk_gib,
	    err) < 0)
		goto cleanup;
	memset(&e, 0, sizeof(e));
	e.generation = t->generation;
	e.vcpus = t->vcpus;
	e.ram_mib = t->ram_mib;
	if (rebuild_xml_edit(cfg, &e, &xml, err) < 0 ||
	    v->ops->vo_define(v, xml, 0, err) < 0)
		goto cleanup;
	log_info("vm %s (%s): resized to %" PRId64 " vCPUs, %" PRId64 " MiB, %"
	    PRId64 " GiB", t->vm_name, t->vm_id, t->vcpus, t->ram_mib,
	    t->disk_gib);
	ret = 0;
cleanup:
	free(cfg);
	free(xml);
	free(overlay);
	return ret;
}
