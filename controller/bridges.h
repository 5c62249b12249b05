/*
 * bridges: the per-site allow-list of host bridges that bridge-mode
 * networks may use (vmctld.conf [networks] bridges, vmctl.conf(5)).
 * Pure logic: no store, no locks. A struct bridges is a plain value
 * filled by bridges_parse(); nothing to free. svc_net.c binds it: only an
 * admin creates a bridge network, on a bridge listed for some site, and a
 * VM gets a NIC on it only on a host of a site that lists the bridge.
 */
#ifndef VMCTL_CONTROLLER_BRIDGES_H
#define VMCTL_CONTROLLER_BRIDGES_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "error.h"
#include "network.h"

#define BRIDGES_MAX 64			/* (site, bridge) pairs */
#define BRIDGES_SPEC_MAX 1024		/* the config value, NUL included */

struct bridges {
	size_t n;
	struct {
		char site[API_NAME_MAX];
		char bridge[API_BRIDGE_MAX];
	} b[BRIDGES_MAX];
};

/*
 * "SITE:BRIDGE[,BRIDGE...] [SITE:...]" (blank-separated sites, each at
 * most once; "" = no bridge allowed anywhere) into *out. -1 + err
 * (code API_EINVAL) naming the bad part.
 */
int bridges_parse(const char *spec, struct bridges *out,
    struct vm_error *err);
/* Is bridge listed for site (site NULL: for any site)? */
bool bridges_allowed(const struct bridges *b, const char *site,
    const char *bridge);
/*
 * The allowed bridges as text for error messages, of one site or (site
 * NULL) of all: "dc: br-vm1, br-vm2; dr: br-vm1", or "none".
 */
void bridges_format(const struct bridges *b, const char *site, char *buf,
    size_t size);

#endif
