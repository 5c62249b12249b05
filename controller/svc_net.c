/*
 * svc_net: networks (/v1/networks) and the IPAM behind VM NICs.
 *
 * IPAM state lives in two tables written in the VM's own transactions:
 * DB_NET_IPS "NET/IPHEX" -> vm uuid (one key per allocated address; the
 * keys of a network are contiguous and sorted by address, so the lowest
 * free address is the first gap) and DB_MACS mac -> vm uuid. svc_vm_create
 * calls svc_net_alloc() in the create transaction, svc_vm_remove() calls
 * svc_net_free() in the transaction that removes the VM row, and
 * vm_enqueue() calls svc_net_task_nics() to give the agent each NIC
 * resolved. LMDB serializes write transactions, so two creates can never
 * take the same address.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "bridges.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "svc.h"
#include "util.h"

#define NET_MAC_TRIES 32

static uint32_t
net_mask(int64_t prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

/* Network address, gateway and broadcast of n (a validated row). */
static void
net_addrs(const struct api_network *n, uint32_t *net, uint32_t *gw,
    uint32_t *bcast)
{
	int prefix = 0;

	if (api_cidr_parse(n->cidr, net, &prefix) < 0)
		*net = 0;
	*bcast = *net | ~net_mask(prefix);
	if (api_ipv4_parse(n->gateway, gw) < 0)
		*gw = *net + 1;
}

static bool
net_visible(const struct principal *who, const struct api_network *n)
{
	return n->shared || auth_scope_ok(who, n->agency);
}

static void
net_ip_key(const char *net, uint32_t ip, char *key, size_t size)
{
	snprintf(key, size, "%s/%08" PRIx32, net, ip);
}

/* ------------------------------------------------------------ bridges */

/*
 * A bridge network puts guests straight on a host bridge: the management
 * LAN, another agency's segment. Only an admin makes one, and only on a
 * bridge the allow-list ([networks] bridges, bridges.h) names for some
 * site; net_bridge_site_ok() then keeps each NIC to the sites that list it.
 */
static int
net_bridge_check(const struct req *req, const struct api_network *n,
    struct vm_error *err)
{
	struct bridges br;
	char allowed[512];

	if (req->who.role != ROLE_ADMIN) {
		vm_error_set(err, API_EFORBIDDEN, "network.mode: bridge "
		    "networks put VMs on a host bridge: only admins make "
		    "them (use mode isolated or nat)");
		return -1;
	}
	if (bridges_parse(req->ctl->cfg.net_bridges, &br, err) < 0)
		return -1;
	if (!bridges_allowed(&br, NULL, n->bridge)) {
		bridges_format(&br, NULL, allowed, sizeof(allowed));
		vm_error_set(err, API_EINVAL, "network.bridge: %s is not on "
		    "the allow-list of any site (vmctld.conf [networks] "
		    "bridges; allowed: %s)", n->bridge, allowed);
		return -1;
	}
	return 0;
}

/* A NIC of bridge network n on a VM placed on host `host`: only at a site
 * whose allow-list names the bridge. */
static int
net_bridge_site_ok(struct req *req, struct store_txn *txn, size_t i,
    const struct api_network *n, const char *host, struct vm_error *err)
{
	struct bridges br;
	struct api_host h;
	int rc;

	rc = store_get_obj(txn, DB_HOSTS, host, &api_host_schema, &h, err);
	if (rc < 0)
		return -1;
	if (rc == 1) {
		vm_error_set(err, API_EINTERNAL, "vm.nics[%zu]: host of the "
		    "placement is gone", i);
		return -1;
	}
	if (bridges_parse(req->ctl->cfg.net_bridges, &br, err) < 0)
		return -1;
	if (!bridges_allowed(&br, h.site, n->bridge)) {
		vm_error_set(err, API_EINVAL, "vm.nics[%zu].network: network "
		    "%s (bridge %s) is not available at site %s, where the "
		    "VM was placed", i, n->name, n->bridge, h.site);
		return -1;
	}
	return 0;
}

/*
 * The libvirt network a host defines for network key is "vmctl-" + this
 * name. Names are per agency, host networks are per host: a network made
 * while another agency has one of the same name gets a name of its own
 * (DB_META "nethost/KEY" = "n" + 16 hex of sha256(KEY)); the others keep
 * their name, so hosts of an upgraded store keep their networks.
 */
static int
net_host_name(struct store_txn *txn, const char *key, const char *name,
    char out[API_NAME_MAX], struct vm_error *err)
{
	char mk[SVC_KEY_MAX + 16], *val = NULL;
	int rc;

	snprintf(mk, sizeof(mk), "nethost/%s", key);
	rc = store_get(txn, DB_META, mk, &val, NULL, err);
	if (rc < 0)
		return -1;
	str_copy(out, API_NAME_MAX, rc == 0 ? val : name);
	free(val);
	return 0;
}

static int
net_host_name_new(struct store_txn *txn, const struct api_network *n,
    struct vm_error *err)
{
	char key[SVC_KEY_MAX], mk[SVC_KEY_MAX + 16], ik[SVC_KEY_MAX + 16];
	char *val = NULL, hn[API_NAME_MAX];
	unsigned char md[32];
	int rc, i;

	snprintf(ik, sizeof(ik), "network:%s", n->name);
	rc = store_get(txn, DB_NAMES, ik, &val, NULL, err);
	free(val);
	if (rc != 0)
		return rc < 0 ? -1 : 0;	/* the first of its name */
	svc_name_key(n->agency, n->name, key);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, key, strlen(key), md) < 0)
		fatalx("gnutls_hash_fast failed");
	hn[0] = 'n';
	for (i = 0; i < 8; i++)
		snprintf(hn + 1 + 2 * i, 3, "%02x", md[i]);
	snprintf(mk, sizeof(mk), "nethost/%s", key);
	return store_put(txn, DB_META, mk, hn, strlen(hn), 0, err) < 0 ? -1 :
	    0;
}

/* ------------------------------------------------------------ CRUD */

struct net_overlap {
	const struct api_network *n;
	uint32_t net;
	int prefix;
	char other[API_NAME_MAX];
	char other_cidr[API_CIDR_MAX];
};

static int
net_overlap_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct net_overlap *o = arg;
	struct api_network x;
	uint32_t xnet, mask;
	int xprefix;

	(void)key;
	(void)klen;
	if (api_decode_text(&api_network_schema, val, vlen, &x, API_STORED,
	    err) < 0)
		return -1;
	if (x.shared != o->n->shared || strcmp(x.agency, o->n->agency) != 0 ||
	    api_cidr_parse(x.cidr, &xnet, &xprefix) < 0)
		return 0;
	mask = net_mask(xprefix < o->prefix ? xprefix : o->prefix);
	if ((xnet & mask) != (o->net & mask))
		return 0;
	str_copy(o->other, sizeof(o->other), x.name);
	str_copy(o->other_cidr, sizeof(o->other_cidr), x.cidr);
	return 1;
}

int
svc_net_create(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct net_overlap ov;
	struct api_network n;
	char key[SVC_KEY_MAX];
	uint32_t net, gw, bcast;
	int prefix;

	if (svc_body(req, &api_network_schema, &n, &err) < 0)
		goto fail;
	if (n.mode == NET_BRIDGE && net_bridge_check(req, &n, &err) < 0)
		goto fail;
	if (req->who.scope == SCOPE_OWN) {
		if (n.shared) {
			vm_error_set(&err, API_EFORBIDDEN, "network.shared: "
			    "only admins and operators make shared networks");
			goto fail;
		}
		if (n.agency[0] != '\0' &&
		    strcmp(n.agency, req->who.agency) != 0) {
			vm_error_set(&err, API_EFORBIDDEN, "network.agency: "
			    "you may create networks in agency %s only",
			    req->who.agency);
			goto fail;
		}
		str_copy(n.agency, sizeof(n.agency), req->who.agency);
	} else if (n.agency[0] == '\0' && !n.shared) {
		vm_error_set(&err, API_EINVAL, "network: give the owning "
		    "agency, or shared: true for a network every agency sees");
		goto fail;
	}
	if (api_cidr_parse(n.cidr, &net, &prefix) < 0) {
		vm_error_set(&err, API_EINTERNAL, "network.cidr: unparsable");
		goto fail;
	}
	n.prefix = prefix;
	net_addrs(&n, &net, &gw, &bcast);
	if (n.gateway[0] == '\0')
		api_ipv4_format(gw, n.gateway);
	n.created_at = now_ms();
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0)
		goto fail;
	memset(&ov, 0, sizeof(ov));
	ov.n = &n;
	ov.net = net;
	ov.prefix = prefix;
	if (store_iter(txn, DB_NETWORKS, NULL, net_overlap_cb, &ov, &err) < 0)
		goto fail;
	if (ov.other[0] != '\0') {
		vm_error_set(&err, API_ECONFLICT, "network.cidr: %s overlaps "
		    "network %s (%s) of %s%s", n.cidr, ov.other, ov.other_cidr,
		    n.shared ? "the shared networks" : "agency ",
		    n.shared ? "" : n.agency);
		goto fail;
	}
	if (!n.shared) {
		struct api_quota d;

		memset(&d, 0, sizeof(d));
		d.networks = 1;
		if (svc_quota_claim(txn, n.agency, &d, &err) < 0)
			goto fail;
	}
	/* Names per agency; shared names unique (svc_names.c). */
	svc_name_key(n.agency, n.name, key);
	if (svc_name_clash(txn, NAME_NETWORK, n.agency, n.name, &err) < 0 ||
	    net_host_name_new(txn, &n, &err) < 0 ||
	    store_put_obj(txn, DB_NETWORKS, key, &api_network_schema, &n, 0,
	    &err) < 0 ||
	    svc_name_add(txn, NAME_NETWORK, n.agency, n.name, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), n.agency);
	if (svc_commit(req, txn, 201, &err, "network %s", n.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 201, api_encode(&api_network_schema, &n));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

static bool
net_keep(const struct req *req, const void *obj)
{
	return net_visible(&req->who, obj);
}

int
svc_net_list(struct req *req, struct resp *resp)
{
	return svc_list_rows(req, resp, DB_NETWORKS, &api_network_schema, NULL,
	    net_keep);
}

/* Load a network the caller may see: 0, or -1 with 404. */
static int
net_lookup(struct req *req, struct store_txn *txn, const char *name,
    struct api_network *n, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	int rc;

	rc = svc_name_resolve(req, txn, NAME_NETWORK, name, key, err);
	if (rc == 0)
		rc = store_get_obj(txn, DB_NETWORKS, key, &api_network_schema,
		    n, err);
	if (rc < 0)
		return -1;
	if (rc == 1 || !net_visible(&req->who, n)) {
		vm_error_set(err, API_ENOTFOUND, "network '%.64s' not found",
		    name);
		return -1;
	}
	return 0;
}

/* Count the addresses allocated on network `name` (stops at max). */
struct net_count {
	char prefix[SVC_KEY_MAX + 1];
	size_t n, max;
	char first_vm[API_UUID_LEN];
};

static int
net_count_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct net_count *c = arg;
	size_t pl = strlen(c->prefix);

	(void)err;
	if (klen < pl || memcmp(key, c->prefix, pl) != 0)
		return 1;
	if (c->n == 0 && vlen < sizeof(c->first_vm)) {
		memcpy(c->first_vm, val, vlen);
		c->first_vm[vlen] = '\0';
	}
	c->n++;
	return c->max != 0 && c->n >= c->max ? 1 : 0;
}

int
svc_net_show(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct api_network n;

	if (store_txn_begin(req->ctl->store, false, &txn, &err) < 0 ||
	    net_lookup(req, txn, req->params[0], &n, &err) < 0)
		goto fail;
	store_txn_abort(txn);
	resp_json(resp, 200, api_encode(&api_network_schema, &n));
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

int
svc_net_delete(struct req *req, struct resp *resp)
{
	struct store_txn *txn = NULL;
	struct vm_error err = { 0, "" };
	struct net_count c;
	struct api_network n;
	char key[SVC_KEY_MAX], mk[SVC_KEY_MAX + 16];

	memset(&c, 0, sizeof(c));
	if (store_txn_begin(req->ctl->store, true, &txn, &err) < 0 ||
	    net_lookup(req, txn, req->params[0], &n, &err) < 0)
		goto fail;
	if (n.shared && req->who.scope == SCOPE_OWN) {
		vm_error_set(&err, API_EFORBIDDEN, "network %s is shared: only "
		    "admins and operators delete it", n.name);
		goto fail;
	}
	svc_name_key(n.agency, n.name, key);
	snprintf(c.prefix, sizeof(c.prefix), "%s/", key);
	if (store_iter(txn, DB_NET_IPS, c.prefix, net_count_cb, &c, &err) < 0)
		goto fail;
	if (c.n > 0) {
		vm_error_set(&err, API_ECONFLICT, "network %s has %zu NIC%s "
		    "(vm %s%s): delete those VMs first", n.name, c.n,
		    c.n == 1 ? "" : "s", c.first_vm, c.n > 1 ? ", ..." : "");
		goto fail;
	}
	if (!n.shared) {
		struct api_quota d;

		memset(&d, 0, sizeof(d));
		d.networks = -1;
		if (svc_quota_claim(txn, n.agency, &d, &err) < 0)
			goto fail;
	}
	snprintf(mk, sizeof(mk), "nethost/%s", key);
	if (store_del(txn, DB_NETWORKS, key, NULL, &err) < 0 ||
	    store_del(txn, DB_META, mk, NULL, &err) < 0 ||
	    svc_name_del(txn, NAME_NETWORK, n.agency, n.name, &err) < 0)
		goto fail;
	str_copy(req->audit_agency, sizeof(req->audit_agency), n.agency);
	if (svc_commit(req, txn, 204, &err, "network %s", n.name) < 0) {
		txn = NULL;
		goto fail;
	}
	resp_json(resp, 204, NULL);
	return HANDLER_DONE;
fail:
	store_txn_abort(txn);
	resp_error(resp, &err);
	return HANDLER_DONE;
}

/* ------------------------------------------------------------ IPAM */

/* Find the lowest free host address: walk the sorted keys of a network. */
struct net_free {
	char prefix[SVC_KEY_MAX + 1];
	uint32_t cand, gw;
};

static int
net_free_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct net_free *f = arg;
	size_t pl = strlen(f->prefix);
	char hex[9];
	uint32_t ip;

	(void)val;
	(void)vlen;
	(void)err;
	if (klen != pl + 8 || memcmp(key, f->prefix, pl) != 0)
		return 1;
	memcpy(hex, key + pl, 8);
	hex[8] = '\0';
	ip = (uint32_t)strtoul(hex, NULL, 16);
	if (f->cand == f->gw)
		f->cand++;
	if (ip > f->cand)
		return 1;		/* a gap: cand is free */
	if (ip == f->cand) {
		f->cand++;
		if (f->cand == f->gw)
			f->cand++;
	}
	return 0;
}

static int
net_new_mac(struct store_txn *txn, const char *vm_id, char *mac,
    struct vm_error *err)
{
	int i, rc;

	for (i = 0; i < NET_MAC_TRIES; i++) {
		char u[API_UUID_LEN];

		uuid_new(u);	/* 122 random bits: take 24 of them */
		snprintf(mac, API_MAC_MAX, "52:54:00:%c%c:%c%c:%c%c", u[0],
		    u[1], u[2], u[3], u[4], u[5]);
		rc = store_put(txn, DB_MACS, mac, vm_id, strlen(vm_id),
		    STORE_NOOVERWRITE, err);
		if (rc <= 0)
			return rc;
	}
	vm_error_set(err, API_EINTERNAL, "no free MAC address after %d tries",
	    NET_MAC_TRIES);
	return -1;
}

int
svc_net_alloc(struct req *req, struct store_txn *txn, struct api_vm *vm,
    struct vm_error *err)
{
	size_t i;

	for (i = 0; i < API_NICS_MAX && vm->nics[i].network[0] != '\0'; i++) {
		struct api_nic *nic = &vm->nics[i];
		struct api_network n;
		uint32_t net, gw, bcast, ip;
		char key[SVC_KEY_MAX + 16], nk[SVC_KEY_MAX];
		int rc;

		/* The VM's agency's network of that name, or a shared one. */
		rc = svc_name_find(txn, NAME_NETWORK, vm->agency, nic->network,
		    nk, err);
		if (rc == 0)
			rc = store_get_obj(txn, DB_NETWORKS, nk,
			    &api_network_schema, &n, err);
		if (rc < 0)
			return -1;
		if (rc == 1 || !(n.shared || strcmp(n.agency, vm->agency) == 0)
		    || !net_visible(&req->who, &n)) {
			vm_error_set(err, API_EINVAL, "vm.nics[%zu].network: "
			    "network '%s' does not exist in agency %s (see "
			    "vmctl network list)", i, nic->network,
			    vm->agency);
			return -1;
		}
		if (n.mode == NET_BRIDGE && net_bridge_site_ok(req, txn, i,
		    &n, vm->host, err) < 0)
			return -1;
		net_addrs(&n, &net, &gw, &bcast);
		if (nic->ip[0] != '\0') {
			if (api_ipv4_parse(nic->ip, &ip) < 0 ||
			    (ip & net_mask(n.prefix)) != net || ip == net ||
			    ip == bcast || ip == gw) {
				vm_error_set(err, API_ECONFLICT,
				    "vm.nics[%zu].ip: %s is not a free host "
				    "address of network %s (%s, gateway %s)",
				    i, nic->ip, n.name, n.cidr, n.gateway);
				return -1;
			}
		} else {
			struct net_free f;

			memset(&f, 0, sizeof(f));
			snprintf(f.prefix, sizeof(f.prefix), "%s/", nk);
			f.cand = net + 1;
			f.gw = gw;
			if (store_iter(txn, DB_NET_IPS, f.prefix, net_free_cb,
			    &f, err) < 0)
				return -1;
			if (f.cand == f.gw)
				f.cand++;
			if (f.cand >= bcast) {
				vm_error_set(err, API_ENOROOM,
				    "network %s (%s) has no free address",
				    n.name, n.cidr);
				return -1;
			}
			ip = f.cand;
			api_ipv4_format(ip, nic->ip);
		}
		net_ip_key(nk, ip, key, sizeof(key));
		rc = store_put(txn, DB_NET_IPS, key, vm->id, strlen(vm->id),
		    STORE_NOOVERWRITE, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			vm_error_set(err, API_ECONFLICT, "vm.nics[%zu].ip: %s "
			    "is taken on network %s", i, nic->ip, n.name);
			return -1;
		}
		/* canonical text ("010.0.0.1" cannot reach here) */
		api_ipv4_format(ip, nic->ip);
		if (net_new_mac(txn, vm->id, nic->mac, err) < 0)
			return -1;
	}
	return 0;
}

int
svc_net_free(struct store_txn *txn, const struct api_vm *vm,
    struct vm_error *err)
{
	size_t i;

	for (i = 0; i < API_NICS_MAX && vm->nics[i].network[0] != '\0'; i++) {
		const struct api_nic *nic = &vm->nics[i];
		char key[SVC_KEY_MAX + 16], nk[SVC_KEY_MAX];
		uint32_t ip;
		int rc;

		rc = svc_name_find(txn, NAME_NETWORK, vm->agency, nic->network,
		    nk, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && api_ipv4_parse(nic->ip, &ip) == 0) {
			net_ip_key(nk, ip, key, sizeof(key));
			if (store_del(txn, DB_NET_IPS, key, NULL, err) < 0)
				return -1;
		}
		if (nic->mac[0] != '\0' &&
		    store_del(txn, DB_MACS, nic->mac, NULL, err) < 0)
			return -1;
	}
	return 0;
}

int
svc_net_task_nics(struct store_txn *txn, const struct api_vm *vm,
    struct api_task *t, struct vm_error *err)
{
	size_t i;

	for (i = 0; i < API_NICS_MAX && vm->nics[i].network[0] != '\0'; i++) {
		const struct api_nic *nic = &vm->nics[i];
		struct api_task_nic *tn = &t->nics[i];
		struct api_network n;
		char nk[SVC_KEY_MAX];
		int rc;

		rc = svc_name_find(txn, NAME_NETWORK, vm->agency, nic->network,
		    nk, err);
		if (rc == 0)
			rc = store_get_obj(txn, DB_NETWORKS, nk,
			    &api_network_schema, &n, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			vm_error_set(err, API_EINTERNAL, "vm %s: its network "
			    "%s is gone", vm->name, nic->network);
			return -1;
		}
		if (net_host_name(txn, nk, n.name, tn->network, err) < 0)
			return -1;
		tn->mode = n.mode;
		str_copy(tn->bridge, sizeof(tn->bridge), n.bridge);
		str_copy(tn->mac, sizeof(tn->mac), nic->mac);
		str_copy(tn->ip, sizeof(tn->ip), nic->ip);
		tn->prefix = n.prefix;
		str_copy(tn->gateway, sizeof(tn->gateway), n.gateway);
	}
	return 0;
}
