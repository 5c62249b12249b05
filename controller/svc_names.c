/*
 * svc_names: names unique per agency. Objects of an agency are stored
 * under "AGENCY/NAME", public images and shared networks under "/NAME"
 * (svc_name_key); DB_NAMES maps "KIND:NAME" to every storage key of that
 * name (dupsort) so a caller without an agency (admin, operator, global
 * viewer) finds a name in whatever agency holds it. Resolution rules
 * (docs/decisions.md, "Names per agency"):
 *   - a caller of an agency sees its own name, then (images, networks)
 *     the public one; both cannot exist (svc_name_clash refuses it);
 *   - an admin/operator gives ?agency=X to resolve as X would, or a bare
 *     name that must match once; several matches are API_EAMBIGUOUS.
 * Errors never name another agency's object to an agency caller.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "svc.h"
#include "util.h"

static const char *const kind_names[] = {
	[NAME_VM] = "vm", [NAME_IMAGE] = "image", [NAME_NETWORK] = "network",
	[NAME_VOLUME] = "volume", [NAME_GROUP] = "group",
};

static const enum store_db kind_dbs[] = {
	[NAME_VM] = DB_VMS_BY_NAME, [NAME_IMAGE] = DB_IMAGES,
	[NAME_NETWORK] = DB_NETWORKS, [NAME_VOLUME] = DB_VOLUMES,
	[NAME_GROUP] = DB_SERVER_GROUPS,
};

/* Images and networks have public (shared) objects, the others not. */
static bool
kind_public(int kind)
{
	return kind == NAME_IMAGE || kind == NAME_NETWORK;
}

void
svc_name_key(const char *agency, const char *name, char key[SVC_KEY_MAX])
{
	snprintf(key, SVC_KEY_MAX, "%s/%s", agency != NULL ? agency : "",
	    name);
}

static void
index_key(int kind, const char *name, char out[SVC_KEY_MAX + 16])
{
	snprintf(out, SVC_KEY_MAX + 16, "%s:%s", kind_names[kind], name);
}

int
svc_name_add(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err)
{
	char ik[SVC_KEY_MAX + 16], key[SVC_KEY_MAX];

	index_key(kind, name, ik);
	svc_name_key(agency, name, key);
	return store_put(txn, DB_NAMES, ik, key, strlen(key), 0, err) < 0 ?
	    -1 : 0;
}

int
svc_name_del(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err)
{
	char ik[SVC_KEY_MAX + 16], key[SVC_KEY_MAX];

	index_key(kind, name, ik);
	svc_name_key(agency, name, key);
	return store_del(txn, DB_NAMES, ik, key, err) < 0 ? -1 : 0;
}

int
svc_name_remove(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err)
{
	char key[SVC_KEY_MAX];

	svc_name_key(agency, name, key);
	if (store_del(txn, kind_dbs[kind], key, NULL, err) < 0)
		return -1;
	return svc_name_del(txn, kind, agency, name, err);
}

/* Collected storage keys of one name (at most a few shown). */
struct names_ctx {
	size_t n;
	char first[SVC_KEY_MAX];
	char list[512];		/* "a, b, ...": agencies, for the message */
};

static int
names_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct names_ctx *c = arg;
	char k[SVC_KEY_MAX];
	const char *slash;
	size_t len;

	(void)key;
	(void)klen;
	(void)err;
	if (vlen >= sizeof(k))
		return 0;
	memcpy(k, val, vlen);
	k[vlen] = '\0';
	if (c->n++ == 0)
		str_copy(c->first, sizeof(c->first), k);
	slash = strchr(k, '/');
	if (slash == NULL)
		return 0;
	len = strlen(c->list);
	if (len + (size_t)(slash - k) + 16 < sizeof(c->list))
		snprintf(c->list + len, sizeof(c->list) - len, "%s%.*s",
		    len ? ", " : "", slash == k ? 6 : (int)(slash - k),
		    slash == k ? "public" : k);
	return 0;
}

/* Collect in c the storage keys DB_NAMES holds for name of kind. */
static int
names_collect(struct store_txn *txn, int kind, const char *name,
    struct names_ctx *c, struct vm_error *err)
{
	char ik[SVC_KEY_MAX + 16];

	memset(c, 0, sizeof(*c));
	index_key(kind, name, ik);
	return store_iter_dups(txn, DB_NAMES, ik, names_cb, c, err) < 0 ?
	    -1 : 0;
}

/* Is key present in the kind's table? 0 yes, 1 no, -1 error. */
static int
key_exists(struct store_txn *txn, int kind, const char *key,
    struct vm_error *err)
{
	char *val = NULL;
	int rc;

	rc = store_get(txn, kind_dbs[kind], key, &val, NULL, err);
	free(val);
	return rc;
}

int
svc_name_find(struct store_txn *txn, int kind, const char *agency,
    const char *name, char key[SVC_KEY_MAX], struct vm_error *err)
{
	int rc;

	if (agency != NULL && agency[0] != '\0') {
		svc_name_key(agency, name, key);
		rc = key_exists(txn, kind, key, err);
		if (rc != 1 || !kind_public(kind))
			return rc;
	}
	if (!kind_public(kind))
		return 1;
	svc_name_key("", name, key);
	return key_exists(txn, kind, key, err);
}

int
svc_name_resolve(struct req *req, struct store_txn *txn, int kind,
    const char *name, char key[SVC_KEY_MAX], struct vm_error *err)
{
	const char *ag = req_query(req, "agency");

	key[0] = '\0';
	if (!api_name_valid(name))
		return 1;
	/* A caller of an agency resolves in its agency, whatever it asks. */
	if (req->who.agency[0] != '\0')
		return svc_name_find(txn, kind, req->who.agency, name, key,
		    err);
	if (ag != NULL && ag[0] != '\0') {
		if (!api_name_valid(ag)) {
			vm_error_set(err, API_EINVAL,
			    "agency: not a valid agency name");
			return -1;
		}
		return svc_name_find(txn, kind, ag, name, key, err);
	}
	return svc_name_any(txn, kind, name, key, err);
}

int
svc_name_any(struct store_txn *txn, int kind, const char *name,
    char key[SVC_KEY_MAX], struct vm_error *err)
{
	struct names_ctx c;

	if (names_collect(txn, kind, name, &c, err) < 0)
		return -1;
	if (c.n == 0)
		return 1;
	if (c.n > 1) {
		vm_error_set(err, API_EAMBIGUOUS, "%s name '%s' is used in "
		    "several agencies (%s): give the agency (?agency=AGENCY, "
		    "vmctl --agency AGENCY)%s", kind_names[kind], name, c.list,
		    kind == NAME_VM ? " or the uuid" : "");
		return -1;
	}
	str_copy(key, SVC_KEY_MAX, c.first);
	return 0;
}

int
svc_name_clash(struct store_txn *txn, int kind, const char *agency,
    const char *name, struct vm_error *err)
{
	char key[SVC_KEY_MAX];
	struct names_ctx c;
	int rc;

	svc_name_key(agency, name, key);
	rc = key_exists(txn, kind, key, err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		vm_error_set(err, API_ECONFLICT, "%s '%s' already exists%s%s",
		    kind_names[kind], name, agency[0] ? " in agency " :
		    kind == NAME_NETWORK ? " (shared)" : " (public)", agency);
		return -1;
	}
	if (!kind_public(kind))
		return 0;
	/* A public name is unique among all agencies' names (no shadowing):
	 * an agency's new name must not be a public one, which every agency
	 * sees anyway; a new public name must be in no agency (only admins
	 * and operators make public objects and may see which). */
	if (agency[0] != '\0') {
		svc_name_key("", name, key);
		rc = key_exists(txn, kind, key, err);
		if (rc < 0)
			return -1;
		if (rc == 0) {
			vm_error_set(err, API_ECONFLICT, "a %s %s named '%s' "
			    "exists: choose another name",
			    kind == NAME_NETWORK ? "shared" : "public",
			    kind_names[kind], name);
			return -1;
		}
		return 0;
	}
	if (names_collect(txn, kind, name, &c, err) < 0)
		return -1;
	if (c.n > 0) {
		vm_error_set(err, API_ECONFLICT, "%s name '%s' is used by "
		    "agency %s: a %s name must be unique among all "
		    "agencies", kind_names[kind], name, c.list,
		    kind == NAME_NETWORK ? "shared" : "public");
		return -1;
	}
	return 0;
}

/* Agency objects of kind: count rows keyed "AGENCY/...". */
struct prefix_ctx {
	const char *prefix;
	size_t plen, n;
};

static int
prefix_cb(const char *key, size_t klen, const char *val, size_t vlen,
    void *arg, struct vm_error *err)
{
	struct prefix_ctx *c = arg;

	(void)val;
	(void)vlen;
	(void)err;
	if (klen < c->plen || memcmp(key, c->prefix, c->plen) != 0)
		return 1;
	c->n++;
	return 0;
}

int
svc_name_count(struct store_txn *txn, int kind, const char *agency,
    size_t *n, struct vm_error *err)
{
	char prefix[API_NAME_MAX + 2];
	struct prefix_ctx c;

	snprintf(prefix, sizeof(prefix), "%s/", agency);
	c.prefix = prefix;
	c.plen = strlen(prefix);
	c.n = 0;
	if (store_iter(txn, kind_dbs[kind], prefix, prefix_cb, &c, err) < 0)
		return -1;
	*n = c.n;
	return 0;
}
