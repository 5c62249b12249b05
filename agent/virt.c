/*
 * virt: the libvirt implementation of struct virt_ops.
 *
 * One connection serves every thread (libvirt connections are
 * thread-safe); lv_lock is a read-write lock only so that vo_ping() can
 * replace a connection that died (libvirtd restarted) while other threads
 * use it. libvirt reports errors in thread-local storage, read right after
 * the failing call by lv_fail(). The event loop thread (lv_event_main)
 * must run before virConnectOpen: the embed driver and the lifecycle
 * callbacks need it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "errors.h"
#include "log.h"
#include "util.h"
#include "virt.h"

/* The event loop wakes at least this often to notice a stop request. */
#define LV_EVENT_TICK_MS	500

struct virt_lv {
	struct virt lv_virt;		/* first: casts between the two */
	char *lv_uri;			/* owned */
	pthread_rwlock_t lv_lock;	/* write: replacing lv_conn */
	virConnectPtr lv_conn;		/* owned; under lv_lock */
	int lv_cb_id;			/* lifecycle callback, -1 if none */
	virt_event_cb lv_cb;		/* immutable */
	void *lv_cb_opaque;		/* immutable */
	pthread_t lv_ev_thread;
	bool lv_ev_started;
	int lv_ev_timer;		/* -1 if none */
	atomic_bool lv_ev_stop;
	pthread_mutex_t lv_net_mu;	/* serializes vo_net_ensure */
};

/* libvirt's default event loop is process-wide. */
static pthread_mutex_t lv_event_mu = PTHREAD_MUTEX_INITIALIZER;
static bool lv_event_registered;

static struct virt_lv *
LV(struct virt *v)
{
	return (struct virt_lv *)(void *)v;
}

/* ---------------------------------------------------------------- errors */

/* libvirt prints every error on stderr unless told otherwise; we report
 * them ourselves from the thread-local copy. */
static void
lv_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;
}

/* Fill err from libvirt's last error in this thread. */
static void
lv_fail(struct vm_error *err, const char *what, const char *uuid)
{
	int code = API_ELIBVIRT;

	switch (virGetLastErrorCode()) {
	case VIR_ERR_NO_DOMAIN:
		code = API_ENOTFOUND;
		break;
	case VIR_ERR_OPERATION_INVALID:
		code = API_ECONFLICT;
		break;
	case VIR_ERR_NO_SUPPORT:
		code = API_EMETHOD;
		break;
	default:
		break;
	}
	vm_error_set(err, code, "%s %s: %s", what, uuid ? uuid : "",
	    virGetLastErrorMessage());
}

int
virt_state_map(int vir_state)
{
	switch (vir_state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED:
		return DOM_RUNNING;
	case VIR_DOMAIN_PAUSED:
		return DOM_PAUSED;
	case VIR_DOMAIN_SHUTOFF:
	case VIR_DOMAIN_SHUTDOWN:
		return DOM_STOPPED;
	case VIR_DOMAIN_CRASHED:
		return DOM_CRASHED;
	default:
		return DOM_OTHER;
	}
}

/* ---------------------------------------------------------------- events */

static void
lv_tick(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static void *
lv_event_main(void *arg)
{
	struct virt_lv *lv = arg;
	struct timespec pause = { 0, 100L * 1000 * 1000 };

	while (!atomic_load(&lv->lv_ev_stop)) {
		if (virEventRunDefaultImpl() < 0) {
			log_warnx("virt: event loop: %s",
			    virGetLastErrorMessage());
			nanosleep(&pause, NULL);	/* do not spin */
		}
	}
	return NULL;
}

static int
lv_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
    void *opaque)
{
	struct virt_lv *lv = opaque;
	char uuid[VIR_UUID_STRING_BUFLEN] = "";

	(void)conn;
	if (virDomainGetUUIDString(dom, uuid) < 0)
		uuid[0] = '\0';
	log_debug("virt: domain %s: lifecycle event %d detail %d", uuid,
	    event, detail);
	if (lv->lv_cb != NULL)
		lv->lv_cb(lv->lv_cb_opaque, uuid);
	return 0;
}

/* Open lv_uri into lv_conn and subscribe; lv_lock held for writing or
 * not yet shared. */
static int
lv_connect(struct virt_lv *lv, struct vm_error *err)
{
	lv->lv_conn = virConnectOpen(lv->lv_uri);
	if (lv->lv_conn == NULL) {
		vm_error_set(err, API_ELIBVIRT, "virt: cannot open %s: %s",
		    lv->lv_uri, virGetLastErrorMessage());
		return -1;
	}
	virConnSetErrorFunc(lv->lv_conn, NULL, lv_quiet);
	lv->lv_cb_id = virConnectDomainEventRegisterAny(lv->lv_conn, NULL,
	    VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_lifecycle), lv, NULL);
	if (lv->lv_cb_id < 0) {
		vm_error_set(err, API_ELIBVIRT,
		    "virt: %s: cannot subscribe to lifecycle events: %s",
		    lv->lv_uri, virGetLastErrorMessage());
		virConnectClose(lv->lv_conn);
		lv->lv_conn = NULL;
		return -1;
	}
	return 0;
}

static void
lv_disconnect(struct virt_lv *lv)
{
	if (lv->lv_conn == NULL)
		return;
	if (lv->lv_cb_id >= 0)
		virConnectDomainEventDeregisterAny(lv->lv_conn, lv->lv_cb_id);
	lv->lv_cb_id = -1;
	virConnectClose(lv->lv_conn);
	lv->lv_conn = NULL;
}

/* ---------------------------------------------------------------- helpers */

/*
 * Take the connection for one operation and look the domain up. On
 * success the read lock is held: release with lv_put().
 */
static virDomainPtr
lv_get(struct virt_lv *lv, const char *uuid, const char *what,
    struct vm_error *err)
{
	virDomainPtr dom;

	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL) {
		pthread_rwlock_unlock(&lv->lv_lock);
		vm_error_set(err, API_ELIBVIRT, "%s %s: not connected to %s",
		    what, uuid, lv->lv_uri);
		return NULL;
	}
	dom = virDomainLookupByUUIDString(lv->lv_conn, uuid);
	if (dom == NULL) {
		lv_fail(err, what, uuid);
		pthread_rwlock_unlock(&lv->lv_lock);
	}
	return dom;
}

static void
lv_put(struct virt_lv *lv, virDomainPtr dom)
{
	virDomainFree(dom);
	pthread_rwlock_unlock(&lv->lv_lock);
}

/* The common shape of the simple domain operations. */
#define LV_DOM_OP(fn, what, call)					\
static int								\
fn(struct virt *v, const char *uuid, unsigned int flags,		\
    struct vm_error *err)						\
{									\
	struct virt_lv *lv = LV(v);					\
	virDomainPtr dom;						\
	int ret = 0;							\
									\
	(void)flags;							\
	if ((dom = lv_get(lv, uuid, what, err)) == NULL)		\
		return -1;						\
	if ((call) < 0) {						\
		lv_fail(err, what, uuid);				\
		ret = -1;						\
	}								\
	lv_put(lv, dom);						\
	return ret;							\
}

LV_DOM_OP(lv_start, "start", virDomainCreate(dom))
LV_DOM_OP(lv_shutdown, "shutdown", virDomainShutdown(dom))
LV_DOM_OP(lv_destroy, "destroy", virDomainDestroy(dom))
LV_DOM_OP(lv_reboot, "reboot", virDomainReboot(dom, 0))
LV_DOM_OP(lv_reset, "reset", virDomainReset(dom, 0))
LV_DOM_OP(lv_resume, "resume", virDomainResume(dom))
LV_DOM_OP(lv_suspend, "suspend", virDomainSuspend(dom))

/* ---------------------------------------------------------------- ops */

static int
lv_define(struct virt *v, const char *xml, unsigned int flags,
    struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	int ret = -1;

	(void)flags;
	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL) {
		vm_error_set(err, API_ELIBVIRT, "define: not connected to %s",
		    lv->lv_uri);
		goto cleanup;
	}
	dom = virDomainDefineXMLFlags(lv->lv_conn, xml, 0);
	if (dom == NULL) {
		lv_fail(err, "define", NULL);
		goto cleanup;
	}
	virDomainFree(dom);
	ret = 0;
cleanup:
	pthread_rwlock_unlock(&lv->lv_lock);
	return ret;
}

/*
 * Undefine with every kind of metadata; drivers that refuse a flag they
 * do not know get asked again with fewer.
 */
static int
lv_undefine(struct virt *v, const char *uuid, unsigned int flags,
    struct vm_error *err)
{
	static const unsigned int tries[] = {
		VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
		    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
		    VIR_DOMAIN_UNDEFINE_NVRAM |
		    VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
		VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
		    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
		0,
	};
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	size_t i;
	int ret = -1;

	(void)flags;
	if ((dom = lv_get(lv, uuid, "undefine", err)) == NULL)
		return -1;
	for (i = 0; i < ARRAY_SIZE(tries); i++) {
		int code;

		if (virDomainUndefineFlags(dom, tries[i]) == 0) {
			ret = 0;
			break;
		}
		code = virGetLastErrorCode();
		if (code != VIR_ERR_NO_SUPPORT && code != VIR_ERR_INVALID_ARG &&
		    code != VIR_ERR_ARGUMENT_UNSUPPORTED &&
		    code != VIR_ERR_OPERATION_UNSUPPORTED)
			break;
		log_debug("virt: undefine %s flags 0x%x refused: %s", uuid,
		    tries[i], virGetLastErrorMessage());
	}
	if (ret < 0)
		lv_fail(err, "undefine", uuid);
	lv_put(lv, dom);
	return ret;
}

static int
lv_state(struct virt *v, const char *uuid, int *state, bool *active,
    unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	int st = 0, reason = 0, ret = -1;

	(void)flags;
	*state = DOM_ABSENT;
	if (active != NULL)
		*active = false;
	if ((dom = lv_get(lv, uuid, "state", err)) == NULL) {
		if (err->code == API_ENOTFOUND) {
			vm_error_clear(err);
			return 0;
		}
		return -1;
	}
	if (virDomainGetState(dom, &st, &reason, 0) < 0) {
		if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
			ret = 0;	/* vanished meanwhile */
			goto cleanup;
		}
		lv_fail(err, "state", uuid);
		goto cleanup;
	}
	*state = virt_state_map(st);
	if (active != NULL)
		*active = st != VIR_DOMAIN_SHUTOFF;
	ret = 0;
cleanup:
	lv_put(lv, dom);
	return ret;
}

static int
lv_list(struct virt *v, struct api_domain **doms_out, size_t *n_out,
    unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr *doms = NULL;
	struct api_domain *out = NULL;
	size_t n = 0;
	int i, count = -1, ret = -1;

	(void)flags;
	*doms_out = NULL;
	*n_out = 0;
	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL) {
		vm_error_set(err, API_ELIBVIRT, "list: not connected to %s",
		    lv->lv_uri);
		goto cleanup;
	}
	count = virConnectListAllDomains(lv->lv_conn, &doms, 0);
	if (count < 0) {
		lv_fail(err, "list domains", NULL);
		goto cleanup;
	}
	out = xcalloc(count > 0 ? (size_t)count : 1, sizeof(*out));
	for (i = 0; i < count; i++) {
		char uuid[VIR_UUID_STRING_BUFLEN];
		const char *name = virDomainGetName(doms[i]);
		int st = 0, reason = 0;

		/* Ours are named by their uuid; leave the others alone. */
		if (name == NULL || virDomainGetUUIDString(doms[i], uuid) < 0 ||
		    strcmp(name, uuid) != 0 || !uuid_valid(uuid))
			continue;
		if (virDomainGetState(doms[i], &st, &reason, 0) < 0)
			continue;	/* undefined meanwhile */
		str_copy(out[n].id, sizeof(out[n].id), uuid);
		out[n].state = virt_state_map(st);
		n++;
	}
	*doms_out = out;
	*n_out = n;
	out = NULL;
	ret = 0;
cleanup:
	pthread_rwlock_unlock(&lv->lv_lock);
	for (i = 0; i < count; i++)
		virDomainFree(doms[i]);
	free(doms);
	free(out);
	return ret;
}

/* <capabilities><host><cpu><arch>x86_64</arch> into arch ("" if not). */
static void
lv_caps_arch(const char *caps, char *arch, size_t len)
{
	xmlDocPtr doc;
	xmlNodePtr n;
	const char *const path[] = { "host", "cpu", "arch" };
	xmlChar *text;
	size_t i;

	arch[0] = '\0';
	doc = xmlReadMemory(caps, (int)strlen(caps), "capabilities.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		return;
	n = xmlDocGetRootElement(doc);
	for (i = 0; n != NULL && i < ARRAY_SIZE(path); i++) {
		for (n = n->children; n != NULL; n = n->next)
			if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name,
			    (const xmlChar *)path[i]) == 0)
				break;
	}
	if (n != NULL && (text = xmlNodeGetContent(n)) != NULL) {
		str_copy(arch, len, (const char *)text);
		xmlFree(text);
	}
	xmlFreeDoc(doc);
}

static int
lv_node_info(struct virt *v, struct virt_node *node, unsigned int flags,
    struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virNodeInfo info;
	char *caps = NULL;
	int ret = -1;

	(void)flags;
	memset(node, 0, sizeof(*node));
	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL || virNodeGetInfo(lv->lv_conn, &info) < 0) {
		vm_error_set(err, API_ELIBVIRT, "virt: node info: %s",
		    lv->lv_conn ? virGetLastErrorMessage() : "not connected");
		goto cleanup;
	}
	node->vn_vcpus = info.cpus;
	node->vn_ram_mib = (int64_t)(info.memory / 1024);
	if ((caps = virConnectGetCapabilities(lv->lv_conn)) != NULL)
		lv_caps_arch(caps, node->vn_arch, sizeof(node->vn_arch));
	else
		log_warnx("virt: capabilities: %s", virGetLastErrorMessage());
	ret = 0;
cleanup:
	pthread_rwlock_unlock(&lv->lv_lock);
	free(caps);
	return ret;
}

static int
lv_ping(struct virt *v, unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	int alive, ret = 0;

	(void)flags;
	pthread_rwlock_rdlock(&lv->lv_lock);
	alive = lv->lv_conn != NULL && virConnectIsAlive(lv->lv_conn) == 1;
	pthread_rwlock_unlock(&lv->lv_lock);
	if (alive)
		return 0;

	pthread_rwlock_wrlock(&lv->lv_lock);
	if (lv->lv_conn != NULL && virConnectIsAlive(lv->lv_conn) == 1)
		goto cleanup;	/* another thread reconnected */
	if (lv->lv_conn != NULL)
		log_warnx("virt: connection to %s lost, reconnecting",
		    lv->lv_uri);
	lv_disconnect(lv);
	if (lv_connect(lv, err) < 0) {
		ret = -1;
		goto cleanup;
	}
	log_info("virt: reconnected to %s", lv->lv_uri);
cleanup:
	pthread_rwlock_unlock(&lv->lv_lock);
	return ret;
}

/* ---------------------------------------------------------------- networks */

static int
lv_nwfilter(struct virt *v, const char *name, unsigned int flags,
    struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virNWFilterPtr f;
	int code, ret = -1;

	(void)flags;
	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL) {
		vm_error_set(err, API_ELIBVIRT, "nwfilter %s: not connected "
		    "to %s", name, lv->lv_uri);
		goto cleanup;
	}
	f = virNWFilterLookupByName(lv->lv_conn, name);
	if (f != NULL) {
		virNWFilterFree(f);
		ret = 1;
		goto cleanup;
	}
	/* test:/// and qemu:///embed have no nwfilter driver at all. */
	code = virGetLastErrorCode();
	if (code == VIR_ERR_NO_NWFILTER || code == VIR_ERR_NO_SUPPORT) {
		ret = 0;
		goto cleanup;
	}
	vm_error_set(err, API_ELIBVIRT, "nwfilter %s: %s", name,
	    virGetLastErrorMessage());
cleanup:
	pthread_rwlock_unlock(&lv->lv_lock);
	return ret;
}

static int
lv_net_ensure(struct virt *v, const char *name, const char *xml,
    unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virNetworkPtr net = NULL;
	int active, ret = -1;

	(void)flags;
	/* Two workers starting VMs on one new network: one defines it. */
	pthread_mutex_lock(&lv->lv_net_mu);
	pthread_rwlock_rdlock(&lv->lv_lock);
	if (lv->lv_conn == NULL) {
		vm_error_set(err, API_ELIBVIRT, "network %s: not connected "
		    "to %s", name, lv->lv_uri);
		goto cleanup;
	}
	net = virNetworkLookupByName(lv->lv_conn, name);
	if (net == NULL) {
		if (virGetLastErrorCode() != VIR_ERR_NO_NETWORK) {
			vm_error_set(err, API_ELIBVIRT, "network %s: %s", name,
			    virGetLastErrorMessage());
			goto cleanup;
		}
		net = virNetworkDefineXML(lv->lv_conn, xml);
		if (net == NULL) {
			vm_error_set(err, API_ELIBVIRT, "network %s: define: "
			    "%s", name, virGetLastErrorMessage());
			goto cleanup;
		}
		if (virNetworkSetAutostart(net, 1) < 0)
			log_debug("virt: network %s: autostart: %s", name,
			    virGetLastErrorMessage());
		log_info("virt: network %s defined", name);
	}
	active = virNetworkIsActive(net);
	if (active < 0) {
		vm_error_set(err, API_ELIBVIRT, "network %s: %s", name,
		    virGetLastErrorMessage());
		goto cleanup;
	}
	if (active == 0) {
		if (virNetworkCreate(net) < 0) {
			vm_error_set(err, API_ELIBVIRT, "network %s: start: %s",
			    name, virGetLastErrorMessage());
			goto cleanup;
		}
		log_info("virt: network %s started", name);
	}
	ret = 0;
cleanup:
	if (net != NULL)
		virNetworkFree(net);
	pthread_rwlock_unlock(&lv->lv_lock);
	pthread_mutex_unlock(&lv->lv_net_mu);
	return ret;
}

/* ---------------------------------------------------------------- devices */

static int
lv_xml(struct virt *v, const char *uuid, char **xml, unsigned int flags,
    struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	char *x;

	*xml = NULL;
	if ((dom = lv_get(lv, uuid, "dumpxml", err)) == NULL)
		return -1;
	x = virDomainGetXMLDesc(dom, (flags & VIRT_XML_INACTIVE) ?
	    VIR_DOMAIN_XML_INACTIVE : 0);
	if (x == NULL)
		lv_fail(err, "dumpxml", uuid);
	lv_put(lv, dom);
	if (x == NULL)
		return -1;
	*xml = x;	/* libvirt allocates with malloc */
	return 0;
}

static unsigned int
lv_dev_flags(unsigned int flags)
{
	return ((flags & VIRT_DEV_LIVE) ? VIR_DOMAIN_AFFECT_LIVE : 0) |
	    ((flags & VIRT_DEV_CONFIG) ? VIR_DOMAIN_AFFECT_CONFIG : 0);
}

static int
lv_attach(struct virt *v, const char *uuid, const char *xml,
    unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	int ret = 0;

	if ((dom = lv_get(lv, uuid, "attach", err)) == NULL)
		return -1;
	if (virDomainAttachDeviceFlags(dom, xml, lv_dev_flags(flags)) < 0) {
		lv_fail(err, "attach", uuid);
		ret = -1;
	}
	lv_put(lv, dom);
	return ret;
}

static int
lv_detach(struct virt *v, const char *uuid, const char *xml,
    unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virDomainPtr dom;
	int ret = 0;

	if ((dom = lv_get(lv, uuid, "detach", err)) == NULL)
		return -1;
	if (virDomainDetachDeviceFlags(dom, xml, lv_dev_flags(flags)) < 0) {
		lv_fail(err, "detach", uuid);
		ret = -1;
	}
	lv_put(lv, dom);
	return ret;
}

static void
lv_close(struct virt *v)
{
	struct virt_lv *lv = LV(v);

	pthread_rwlock_wrlock(&lv->lv_lock);
	lv_disconnect(lv);
	pthread_rwlock_unlock(&lv->lv_lock);
	if (lv->lv_ev_started) {
		atomic_store(&lv->lv_ev_stop, true);
		/* fire the tick at once so the loop returns */
		virEventUpdateTimeout(lv->lv_ev_timer, 0);
		pthread_join(lv->lv_ev_thread, NULL);
	}
	if (lv->lv_ev_timer >= 0)
		virEventRemoveTimeout(lv->lv_ev_timer);
	pthread_rwlock_destroy(&lv->lv_lock);
	pthread_mutex_destroy(&lv->lv_net_mu);
	free(lv->lv_uri);
	free(lv);
}

/* ---------------------------------------------------------------- migrate */

/* Is uuid active (or at least defined) at dest_uri? 1 yes, 0 no, -1 err. */
static int
lv_dest_has(const char *dest_uri, const char *uuid, struct vm_error *err)
{
	virConnectPtr dc;
	virDomainPtr dom;
	int active, ret = 0;

	if ((dc = virConnectOpen(dest_uri)) == NULL) {
		vm_error_set(err, API_ELIBVIRT, "migrate %s: cannot reach %s: "
		    "%s", uuid, dest_uri, virGetLastErrorMessage());
		return -1;
	}
	if ((dom = virDomainLookupByUUIDString(dc, uuid)) != NULL) {
		active = virDomainIsActive(dom);
		ret = active == 1 ? 1 : virDomainIsPersistent(dom) == 1;
		virDomainFree(dom);
	}
	virConnectClose(dc);
	return ret;
}

static int
lv_migrate(struct virt *v, const char *uuid, const char *dest_uri,
    const char *data_uri, unsigned int flags, struct vm_error *err)
{
	struct virt_lv *lv = LV(v);
	virTypedParameterPtr params = NULL;
	virDomainPtr dom;
	unsigned long vflags;
	int nparams = 0, maxparams = 0, active, rc, ret = -1;

	if ((dom = lv_get(lv, uuid, "migrate", err)) == NULL) {
		if (err->code != API_ENOTFOUND)
			return -1;
		/* A retried task whose migration already happened. */
		rc = lv_dest_has(dest_uri, uuid, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			vm_error_set(err, API_ENOTFOUND, "migrate %s: the domain "
			    "is neither here nor at %s", uuid, dest_uri);
			return -1;
		}
		vm_error_clear(err);
		log_info("virt: domain %s: already at %s", uuid, dest_uri);
		return 0;
	}
	active = virDomainIsActive(dom);
	vflags = VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
	    VIR_MIGRATE_UNDEFINE_SOURCE;
	vflags |= active == 1 ? VIR_MIGRATE_LIVE : VIR_MIGRATE_OFFLINE;
	if (flags & VIRT_MIGRATE_UNSAFE)
		vflags |= VIR_MIGRATE_UNSAFE;
	if (flags & VIRT_MIGRATE_TLS)
		vflags |= VIR_MIGRATE_TLS;
	if (active == 1 && data_uri != NULL && data_uri[0] != '\0' &&
	    virTypedParamsAddString(&params, &nparams, &maxparams,
	    VIR_MIGRATE_PARAM_URI, data_uri) < 0) {
		lv_fail(err, "migrate", uuid);
		goto cleanup;
	}
	log_info("virt: domain %s: %s migration to %s%s%s", uuid,
	    active == 1 ? "live" : "offline", dest_uri,
	    nparams ? " via " : "", nparams ? data_uri : "");
	if (virDomainMigrateToURI3(dom, dest_uri, params, (unsigned)nparams,
	    vflags) < 0) {
		lv_fail(err, "migrate", uuid);
		goto cleanup;
	}
	ret = 0;
cleanup:
	virTypedParamsFree(params, nparams);
	lv_put(lv, dom);
	return ret;
}

static const struct virt_ops lv_ops = {
	.vo_name = "libvirt",
	.vo_define = lv_define,
	.vo_start = lv_start,
	.vo_shutdown = lv_shutdown,
	.vo_destroy = lv_destroy,
	.vo_reboot = lv_reboot,
	.vo_reset = lv_reset,
	.vo_resume = lv_resume,
	.vo_undefine = lv_undefine,
	.vo_state = lv_state,
	.vo_list = lv_list,
	.vo_node_info = lv_node_info,
	.vo_ping = lv_ping,
	.vo_close = lv_close,
	.vo_migrate = lv_migrate,
	.vo_net_ensure = lv_net_ensure,
	.vo_xml = lv_xml,
	.vo_attach = lv_attach,
	.vo_detach = lv_detach,
	.vo_suspend = lv_suspend,
	.vo_nwfilter = lv_nwfilter,
};

int
virt_libvirt_open(const char *uri, virt_event_cb cb, void *opaque,
    struct virt **out, struct vm_error *err)
{
	struct virt_lv *lv;
	int ret = -1;

	*out = NULL;
	lv = xcalloc(1, sizeof(*lv));
	lv->lv_virt.ops = &lv_ops;
	lv->lv_uri = xstrdup(uri);
	lv->lv_cb = cb;
	lv->lv_cb_opaque = opaque;
	lv->lv_cb_id = -1;
	lv->lv_ev_timer = -1;
	atomic_init(&lv->lv_ev_stop, false);
	pthread_rwlock_init(&lv->lv_lock, NULL);
	pthread_mutex_init(&lv->lv_net_mu, NULL);

	if (virInitialize() < 0) {
		vm_error_set(err, API_ELIBVIRT, "virt: virInitialize: %s",
		    virGetLastErrorMessage());
		goto cleanup;
	}
	virSetErrorFunc(NULL, lv_quiet);
	/* Once per process, even when a failed open is retried. */
	pthread_mutex_lock(&lv_event_mu);
	if (!lv_event_registered && virEventRegisterDefaultImpl() < 0) {
		pthread_mutex_unlock(&lv_event_mu);
		vm_error_set(err, API_ELIBVIRT, "virt: event loop: %s",
		    virGetLastErrorMessage());
		goto cleanup;
	}
	lv_event_registered = true;
	pthread_mutex_unlock(&lv_event_mu);
	/* Without a timer virEventRunDefaultImpl() may block forever. */
	lv->lv_ev_timer = virEventAddTimeout(LV_EVENT_TICK_MS, lv_tick, NULL,
	    NULL);
	if (lv->lv_ev_timer < 0) {
		vm_error_set(err, API_ELIBVIRT, "virt: event timer: %s",
		    virGetLastErrorMessage());
		goto cleanup;
	}
	if ((errno = pthread_create(&lv->lv_ev_thread, NULL, lv_event_main,
	    lv)) != 0) {
		vm_error_set(err, API_EINTERNAL, "virt: event thread: %s",
		    strerror(errno));
		goto cleanup;
	}
	lv->lv_ev_started = true;
	if (lv_connect(lv, err) < 0)
		goto cleanup;
	*out = &lv->lv_virt;
	lv = NULL;
	ret = 0;
cleanup:
	if (lv != NULL)
		lv_close(&lv->lv_virt);
	return ret;
}
