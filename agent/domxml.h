/*
 * domxml: the libvirt domain XML of a VM, built with libxml2 (never by
 * pasting strings), so no input can add elements or attributes. A pure
 * function of its parameters: no libvirt calls, no state, no locking.
 * The XML text returned by domxml_build() is owned by the caller (free()).
 */
#ifndef VMCTL_AGENT_DOMXML_H
#define VMCTL_AGENT_DOMXML_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct api_task_nic;

/* XML namespace of our <metadata> element, and its prefix. */
#define DOMXML_NS_URI		"http://vmctl.local/xmlns/vm/1"
#define DOMXML_NS_PREFIX	"vmctl"

/* The <domain type='...'>: KVM in production, TCG on test machines,
 * libvirt's test driver for scale tests. */
enum domxml_type { DOMXML_KVM, DOMXML_QEMU, DOMXML_TEST };

struct domxml_params {
	enum domxml_type type;
	const char *uuid;	/* domain name and uuid: canonical lower-case */
	const char *name;	/* VM name: <title> and metadata */
	int64_t generation;	/* VM generation, kept in the metadata */
	int64_t vcpus;		/* 1..256 */
	int64_t ram_mib;	/* 1..4194304 */
	const char *disk;	/* qcow2 overlay (vda), or NULL/"" */
	const char *kernel;	/* direct kernel boot, or NULL/"" */
	const char *initrd;	/* optional, with kernel */
	const char *cmdline;	/* optional, with kernel: printable text */
	const char *console_log; /* serial console log file */
	const struct api_task_nic *nics;	/* NICs (netxml.c), may be NULL */
	size_t nnics;
	const char *seed_iso;	/* cloud-init NoCloud seed (cdrom), or NULL */
	bool nic_filter;	/* NICs get the clean-traffic nwfilter with
				 * their IP and MAC (netxml_interfaces) */
	bool crash_restart;	/* on-crash policy: libvirt restarts a guest
				 * that panics (reported by a pvpanic device)
				 * instead of powering it off */
};

/* "kvm", "qemu" or "test". */
const char *domxml_type_name(enum domxml_type type);

/*
 * Validate p and build the XML into *xml_out (caller frees). Refuses
 * invalid uuids, names, paths and texts with API_EINVAL.
 */
int domxml_build(const struct domxml_params *p, char **xml_out,
    struct vm_error *err);

#endif
