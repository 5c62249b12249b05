/*
 * network: a virtual network (CIDR, gateway, mode) owned by an agency or
 * shared, and the NIC a VM has on it; IPv4 text helpers for the IPAM.
 * Codec only: no allocation, no state.
 */
#ifndef VMCTL_API_NETWORK_H
#define VMCTL_API_NETWORK_H

#include "codec.h"

#define API_IP_MAX	16	/* "255.255.255.255" + NUL */
#define API_CIDR_MAX	19	/* "255.255.255.255/32" + NUL */
#define API_MAC_MAX	18	/* "52:54:00:12:34:56" + NUL */
#define API_NICS_MAX	4	/* NICs per VM */
#define API_BRIDGE_MAX	16	/* Linux IFNAMSIZ, NUL included */
#define API_NET_PREFIX_MIN 16
#define API_NET_PREFIX_MAX 30

/*
 * isolated: a libvirt network with the gateway address on its bridge and
 * no DHCP, no forwarding; nat: the same with forward mode nat; bridge:
 * no libvirt network, the NIC joins an existing host bridge.
 */
enum api_net_mode { NET_ISOLATED, NET_NAT, NET_BRIDGE };
extern const char *const api_net_mode_names[];

struct api_network {
	char name[API_NAME_MAX];
	char agency[API_NAME_MAX];	/* owner; "" when shared */
	bool shared;			/* visible to every agency (admin) */
	char cidr[API_CIDR_MAX];	/* "10.20.0.0/24": host bits zero */
	char gateway[API_IP_MAX];	/* default: first address */
	int mode;			/* enum api_net_mode */
	char bridge[API_BRIDGE_MAX];	/* mode bridge: the host bridge */
	int64_t prefix;			/* RO: from cidr */
	int64_t created_at;		/* RO */
};
extern const struct api_schema api_network_schema;

/* One NIC of a VM: network given, ip optional on input, mac RO. */
struct api_nic {
	char network[API_NAME_MAX];
	char ip[API_IP_MAX];
	char mac[API_MAC_MAX];		/* RO: set by the IPAM */
};
extern const struct api_schema api_nic_schema;

/* Strict dotted quad ("10.0.0.1") into host byte order; -1 if bad. */
int api_ipv4_parse(const char *s, uint32_t *out);
/* buf[API_IP_MAX] */
void api_ipv4_format(uint32_t ip, char *buf);
/* "A.B.C.D/N" with N in 0..32; -1 if bad. */
int api_cidr_parse(const char *s, uint32_t *net, int *prefix);
/* "52:54:00:xx:xx:xx" lower case */
bool api_mac_valid(const char *s);
/* Linux interface name: 1..15 of [A-Za-z0-9_.-], not "." or "..". */
bool api_bridge_valid(const char *s);

#endif
