/*
 * netxml: the libvirt XML the agent needs for NICs and volumes, built and
 * edited with libxml2 (never by pasting strings): the network of a NIC
 * (vmctl-NAME), the <interface> elements of a domain, a volume's <disk>,
 * and the persistent domain XML with a volume's disk added or removed
 * (for drivers without device hot-plug, like test:///). Pure functions:
 * no libvirt calls, no state. Returned XML text is owned by the caller
 * (free()).
 */
#ifndef VMCTL_AGENT_NETXML_H
#define VMCTL_AGENT_NETXML_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#include "agentproto.h"
#include "error.h"

#define NETXML_PREFIX "vmctl-"	/* libvirt network name = prefix + name */

/* "vmctl-NAME" into buf[API_NAME_MAX + 8]. */
void netxml_net_name(const char *network, char *buf, size_t size);
/* Validate one NIC of a task (mac, ip, prefix, bridge, names). */
int netxml_nic_check(const struct api_task_nic *nic, struct vm_error *err);
/*
 * <network> for nic's network (isolated or nat; never bridge): the
 * gateway address with nic's prefix on the bridge libvirt picks, no
 * DHCP (addresses are static, from the controller's IPAM).
 */
int netxml_network_build(const struct api_task_nic *nic, char **xml_out,
    struct vm_error *err);
/* The libvirt nwfilter every NIC gets when the driver has it. */
#define NETXML_NWFILTER "clean-traffic"
/*
 * Append an <interface> (virtio, the MAC) per NIC under devs; with
 * filter, each also gets <filterref filter='clean-traffic'> with the
 * NIC's IPAM address as IP (libvirt takes MAC from <mac>): the guest can
 * send only from that MAC and IP (no ARP/IP spoofing, no DHCP server).
 */
void netxml_interfaces(xmlNodePtr devs, const struct api_task_nic *nics,
    size_t n, bool filter);
/* <disk> of a volume: qcow2 file path on virtio target dev (vdb...). */
int netxml_disk_build(const char *path, const char *dev, char **xml_out,
    struct vm_error *err);
/* Does domain XML dom_xml have a disk whose source file is path? */
int netxml_disk_present(const char *dom_xml, const char *path,
    bool *present, struct vm_error *err);
/* dom_xml with the disk (path on dev) added, or every disk on path
 * removed. */
int netxml_disk_edit(const char *dom_xml, const char *path, const char *dev,
    bool add, char **xml_out, struct vm_error *err);

#endif
