#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "network.h"

const char *const api_net_mode_names[] = {
	"isolated", "nat", "bridge", NULL
};

int
api_ipv4_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	/* inet_pton takes only the strict dotted quad (no "10.1"). */
	if (s == NULL || strlen(s) >= API_IP_MAX ||
	    inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

void
api_ipv4_format(uint32_t ip, char *buf)
{
	snprintf(buf, API_IP_MAX, "%u.%u.%u.%u", (ip >> 24) & 0xff,
	    (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

int
api_cidr_parse(const char *s, uint32_t *net, int *prefix)
{
	char ip[API_IP_MAX], *end;
	const char *slash;
	long n;

	slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip) ||
	    slash[1] < '0' || slash[1] > '9')
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	n = strtol(slash + 1, &end, 10);
	if (*end != '\0' || n < 0 || n > 32 || end - (slash + 1) > 2)
		return -1;
	if (api_ipv4_parse(ip, net) < 0)
		return -1;
	*prefix = (int)n;
	return 0;
}

bool
api_mac_valid(const char *s)
{
	size_t i;

	if (strlen(s) != API_MAC_MAX - 1 || strncmp(s, "52:54:00:", 9) != 0)
		return false;
	for (i = 0; i < API_MAC_MAX - 1; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

bool
api_bridge_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= API_BRIDGE_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		    s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static uint32_t
mask_of(int prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static int
network_validate(const void *obj, struct vm_error *err)
{
	const struct api_network *n = obj;
	uint32_t net, gw, mask;
	int prefix;

	if (api_cidr_parse(n->cidr, &net, &prefix) < 0) {
		vm_error_set(err, API_EINVAL, "network.cidr: '%s' is not an "
		    "IPv4 CIDR like 10.20.0.0/24", n->cidr);
		return -1;
	}
	if (prefix < API_NET_PREFIX_MIN || prefix > API_NET_PREFIX_MAX) {
		vm_error_set(err, API_EINVAL, "network.cidr: prefix /%d is "
		    "outside /%d../%d", prefix, API_NET_PREFIX_MIN,
		    API_NET_PREFIX_MAX);
		return -1;
	}
	mask = mask_of(prefix);
	if ((net & ~mask) != 0) {
		char want[API_IP_MAX];

		api_ipv4_format(net & mask, want);
		vm_error_set(err, API_EINVAL, "network.cidr: '%s' has host "
		    "bits set: did you mean %s/%d?", n->cidr, want, prefix);
		return -1;
	}
	if (n->gateway[0] != '\0') {
		if (api_ipv4_parse(n->gateway, &gw) < 0) {
			vm_error_set(err, API_EINVAL, "network.gateway: '%s' "
			    "is not an IPv4 address", n->gateway);
			return -1;
		}
		if ((gw & mask) != net || gw == net || gw == (net | ~mask)) {
			vm_error_set(err, API_EINVAL, "network.gateway: %s is "
			    "not a host address of %s", n->gateway, n->cidr);
			return -1;
		}
	}
	if ((n->mode == NET_BRIDGE) != (n->bridge[0] != '\0')) {
		vm_error_set(err, API_EINVAL, n->mode == NET_BRIDGE ?
		    "network.bridge: mode bridge needs the host bridge name" :
		    "network.bridge: only for mode bridge");
		return -1;
	}
	if (n->bridge[0] != '\0' && !api_bridge_valid(n->bridge)) {
		vm_error_set(err, API_EINVAL, "network.bridge: '%.64s' is not "
		    "a valid interface name (1-15 of A-Z a-z 0-9 _ . -)",
		    n->bridge);
		return -1;
	}
	if (n->shared && n->agency[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "network: give agency or shared, not both");
		return -1;
	}
	return 0;
}

static const struct api_field network_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_network, name),
	AFS("agency", AF_NAME, 0, struct api_network, agency),
	AFB("shared", 0, struct api_network, shared),
	AFS("cidr", AF_STR, AF_REQ, struct api_network, cidr),
	AFS("gateway", AF_STR, 0, struct api_network, gateway),
	AFE("mode", 0, struct api_network, mode, api_net_mode_names),
	AFS("bridge", AF_STR, 0, struct api_network, bridge),
	AFI("prefix", AF_RO, struct api_network, prefix, 0, 32),
	AFT("created_at", AF_RO, struct api_network, created_at),
};

const struct api_schema api_network_schema = {
	"network", network_fields, ARRAY_SIZE(network_fields),
	sizeof(struct api_network), network_validate
};

static int
nic_validate(const void *obj, struct vm_error *err)
{
	const struct api_nic *n = obj;
	uint32_t ip;

	if (n->ip[0] != '\0' && api_ipv4_parse(n->ip, &ip) < 0) {
		vm_error_set(err, API_EINVAL, "nic.ip: '%s' is not an IPv4 "
		    "address", n->ip);
		return -1;
	}
	if (n->mac[0] != '\0' && !api_mac_valid(n->mac)) {
		vm_error_set(err, API_EINVAL, "nic.mac: '%s' is not a "
		    "52:54:00:xx:xx:xx address", n->mac);
		return -1;
	}
	return 0;
}

static const struct api_field nic_fields[] = {
	AFS("network", AF_NAME, AF_REQ, struct api_nic, network),
	AFS("ip", AF_STR, 0, struct api_nic, ip),
	AFS("mac", AF_STR, AF_RO, struct api_nic, mac),
};

const struct api_schema api_nic_schema = {
	"nic", nic_fields, ARRAY_SIZE(nic_fields), sizeof(struct api_nic),
	nic_validate
};
