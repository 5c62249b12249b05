/*
 * virt: the agent's only door to the hypervisor, one table of operations
 * (struct virt_ops) each taking flags (reserved: pass 0) so a fake can be
 * plugged in. virt_libvirt_open() gives the real one: a libvirt connection
 * shared by all threads (thread-safe), with its event loop thread, owned by
 * the caller and released by virt_close(). Domains are named by VM uuid.
 * A missing domain fails with code API_ENOTFOUND, a domain in the wrong
 * state with API_ECONFLICT, any other libvirt failure with API_ELIBVIRT
 * and libvirt's message.
 */
#ifndef VMCTL_AGENT_VIRT_H
#define VMCTL_AGENT_VIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentproto.h"
#include "error.h"

struct virt;

struct virt_node {
	int64_t vn_vcpus;
	int64_t vn_ram_mib;
	char vn_arch[64];		/* capabilities host/cpu/arch; "" = none */
};

/* Called from the event loop thread on every domain lifecycle event. */
typedef void (*virt_event_cb)(void *opaque, const char *uuid);

struct virt_ops {
	const char *vo_name;
	/* Define (persistently) a domain from XML; redefining updates it. */
	int (*vo_define)(struct virt *v, const char *xml, unsigned int flags,
	    struct vm_error *err);
	int (*vo_start)(struct virt *v, const char *uuid, unsigned int flags,
	    struct vm_error *err);
	/* Ask the guest to power off (ACPI); returns at once. */
	int (*vo_shutdown)(struct virt *v, const char *uuid,
	    unsigned int flags, struct vm_error *err);
	/* Power off at once. */
	int (*vo_destroy)(struct virt *v, const char *uuid,
	    unsigned int flags, struct vm_error *err);
	int (*vo_reboot)(struct virt *v, const char *uuid, unsigned int flags,
	    struct vm_error *err);
	/* Hard reset (reboot with force). */
	int (*vo_reset)(struct virt *v, const char *uuid, unsigned int flags,
	    struct vm_error *err);
	int (*vo_resume)(struct virt *v, const char *uuid, unsigned int flags,
	    struct vm_error *err);
	/* Forget the domain and all its metadata (snapshots, nvram...). */
	int (*vo_undefine)(struct virt *v, const char *uuid,
	    unsigned int flags, struct vm_error *err);
	/* *state = enum api_dom_state (DOM_ABSENT, returning 0, when there
	 * is no such domain); *active (may be NULL) = a process runs. */
	int (*vo_state)(struct virt *v, const char *uuid, int *state,
	    bool *active, unsigned int flags, struct vm_error *err);
	/* Our domains (name == uuid) with their states; *doms owned by the
	 * caller (free()). */
	int (*vo_list)(struct virt *v, struct api_domain **doms, size_t *n,
	    unsigned int flags, struct vm_error *err);
	int (*vo_node_info)(struct virt *v, struct virt_node *node,
	    unsigned int flags, struct vm_error *err);
	/* Check the connection; reconnect if it was lost. */
	int (*vo_ping)(struct virt *v, unsigned int flags,
	    struct vm_error *err);
	void (*vo_close)(struct virt *v);
	/*
	 * Move the domain to the libvirtd at dest_uri, peer to peer: live
	 * when it runs (offline, definition only, when it does not), defined
	 * on the destination and undefined here once done. data_uri ("" =
	 * libvirt's choice) carries the memory stream. flags: VIRT_MIGRATE_*.
	 * Idempotent: a domain gone from here and active (or defined) at
	 * dest_uri is success. On failure the domain keeps running here.
	 */
	int (*vo_migrate)(struct virt *v, const char *uuid,
	    const char *dest_uri, const char *data_uri, unsigned int flags,
	    struct vm_error *err);
	/* Make libvirt network `name` exist (defined from xml, autostart)
	 * and be active; an existing one is left as it is. */
	int (*vo_net_ensure)(struct virt *v, const char *name,
	    const char *xml, unsigned int flags, struct vm_error *err);
	/* The domain's XML (*xml owned by the caller); flags
	 * VIRT_XML_INACTIVE: the persistent definition. */
	int (*vo_xml)(struct virt *v, const char *uuid, char **xml,
	    unsigned int flags, struct vm_error *err);
	/* Hot-plug / unplug a device; flags VIRT_DEV_LIVE | VIRT_DEV_CONFIG.
	 * A driver that cannot (test:///) fails with API_EMETHOD. */
	int (*vo_attach)(struct virt *v, const char *uuid, const char *xml,
	    unsigned int flags, struct vm_error *err);
	int (*vo_detach)(struct virt *v, const char *uuid, const char *xml,
	    unsigned int flags, struct vm_error *err);
	/* Pause the guest's vCPUs (vo_resume undoes it). */
	int (*vo_suspend)(struct virt *v, const char *uuid, unsigned int flags,
	    struct vm_error *err);
	/* Does the nwfilter `name` exist? 1 yes, 0 no (or the driver has no
	 * nwfilter support: test:///, qemu:///embed), -1 on other errors. */
	int (*vo_nwfilter)(struct virt *v, const char *name,
	    unsigned int flags, struct vm_error *err);
};

/* vo_migrate flags */
#define VIRT_MIGRATE_UNSAFE	0x1	/* skip libvirt's cache/storage checks */
#define VIRT_MIGRATE_TLS	0x2	/* VIR_MIGRATE_TLS: encrypted stream */
#define VIRT_XML_INACTIVE	0x1
#define VIRT_DEV_LIVE		0x1
#define VIRT_DEV_CONFIG		0x2

struct virt {
	const struct virt_ops *ops;	/* immutable */
};

/*
 * Register libvirt's default event loop and run it in a thread, then open
 * uri and subscribe to lifecycle events (cb may be NULL).
 */
int virt_libvirt_open(const char *uri, virt_event_cb cb, void *opaque,
    struct virt **out, struct vm_error *err);

/* Map a libvirt virDomainState to enum api_dom_state. */
int virt_state_map(int vir_state);

static inline void
virt_close(struct virt *v)
{
	if (v != NULL)
		v->ops->vo_close(v);
}

#endif
