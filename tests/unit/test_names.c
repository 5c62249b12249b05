/*
 * test_names: names per agency (controller/svc_names.c) against a real
 * store in a fresh directory: storage keys, resolution for an agency
 * caller and for a caller without an agency (one match, several:
 * ambiguous, ?agency=), the public-name clash rules, counts per agency.
 * req_query() is stubbed: req->conn points to the ?agency= value.
 */
#include "config.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "errors.h"
#include "svc.h"
#include "util.h"

#define MAP_MIB 16

/* The stub of server.c's req_query: only "agency", from req->conn. */
const char *
req_query(const struct req *req, const char *key)
{
	if (strcmp(key, "agency") != 0)
		return NULL;
	return req->conn;
}

struct fixture {
	char dir[64];
	struct store *st;
	struct store_txn *txn;		/* open write txn */
};

static int
rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

static int
setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	struct vm_error err;
	char path[96];

	str_copy(fx->dir, sizeof(fx->dir), "/tmp/vmctl-test-names.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/state", fx->dir);
	if (store_open(path, MAP_MIB, &fx->st, &err) < 0 ||
	    store_txn_begin(fx->st, true, &fx->txn, &err) < 0) {
		fprintf(stderr, "store: %s\n", err.message);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	int rc;

	store_txn_abort(fx->txn);
	store_close(fx->st);
	rc = nftw(fx->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return rc;
}

/* An object of kind (agency "" = public) with its name index. */
static void
add(struct fixture *fx, int kind, enum store_db db, const char *agency,
    const char *name)
{
	struct vm_error err;
	char key[SVC_KEY_MAX];

	svc_name_key(agency, name, key);
	if (store_put(fx->txn, db, key, "{}", 2, 0, &err) < 0 ||
	    svc_name_add(fx->txn, kind, agency, name, &err) < 0)
		fail_msg("add %s: %s", key, err.message);
}

static void
who(struct req *req, const char *agency, const char *query)
{
	memset(req, 0, sizeof(*req));
	req->who.kind = AUTH_USER;
	str_copy(req->who.agency, sizeof(req->who.agency), agency);
	req->conn = (void *)(uintptr_t)query;
}

static void
test_key(void **state)
{
	char key[SVC_KEY_MAX];

	(void)state;
	svc_name_key("health", "web", key);
	assert_string_equal(key, "health/web");
	svc_name_key("", "deb", key);
	assert_string_equal(key, "/deb");
	svc_name_key(NULL, "deb", key);
	assert_string_equal(key, "/deb");
}

static void
test_agency_caller(void **state)
{
	struct fixture *fx = *state;
	struct vm_error err;
	char key[SVC_KEY_MAX];
	struct req req;

	add(fx, NAME_VM, DB_VMS_BY_NAME, "a1", "web");
	add(fx, NAME_VM, DB_VMS_BY_NAME, "a2", "web");
	add(fx, NAME_IMAGE, DB_IMAGES, "", "deb");
	add(fx, NAME_IMAGE, DB_IMAGES, "a2", "own");
	/* Its own VM, whatever ?agency= it sends. */
	who(&req, "a1", "a2");
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VM, "web", key,
	    &err), 0);
	assert_string_equal(key, "a1/web");
	who(&req, "a2", NULL);
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VM, "web", key,
	    &err), 0);
	assert_string_equal(key, "a2/web");
	/* Images: its own, then the public ones; never another agency's. */
	who(&req, "a1", NULL);
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_IMAGE, "deb",
	    key, &err), 0);
	assert_string_equal(key, "/deb");
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_IMAGE, "own",
	    key, &err), 1);
	/* VMs have no public objects. */
	assert_int_equal(svc_name_find(fx->txn, NAME_VM, "a3", "web", key,
	    &err), 1);
	/* Not a name at all: absent. */
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VM, "../x", key,
	    &err), 1);
}

static void
test_admin(void **state)
{
	struct fixture *fx = *state;
	struct vm_error err;
	char key[SVC_KEY_MAX];
	struct req req;

	add(fx, NAME_VOLUME, DB_VOLUMES, "a1", "data");
	add(fx, NAME_VOLUME, DB_VOLUMES, "a2", "data");
	add(fx, NAME_VOLUME, DB_VOLUMES, "a2", "logs");
	who(&req, "", NULL);
	/* One match: it. */
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "logs",
	    key, &err), 0);
	assert_string_equal(key, "a2/logs");
	/* Several: ambiguous, naming them and the way out. */
	vm_error_clear(&err);
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "data",
	    key, &err), -1);
	assert_int_equal(err.code, API_EAMBIGUOUS);
	assert_non_null(strstr(err.message, "a1, a2"));
	assert_non_null(strstr(err.message, "?agency=AGENCY"));
	/* ?agency= chooses. */
	who(&req, "", "a2");
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "data",
	    key, &err), 0);
	assert_string_equal(key, "a2/data");
	who(&req, "", "a3");
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "data",
	    key, &err), 1);
	who(&req, "", "Bad/");
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "data",
	    key, &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	/* Gone from one agency: no longer ambiguous. */
	if (store_del(fx->txn, DB_VOLUMES, "a1/data", NULL, &err) < 0 ||
	    svc_name_del(fx->txn, NAME_VOLUME, "a1", "data", &err) < 0)
		fail_msg("del: %s", err.message);
	who(&req, "", NULL);
	assert_int_equal(svc_name_resolve(&req, fx->txn, NAME_VOLUME, "data",
	    key, &err), 0);
	assert_string_equal(key, "a2/data");
}

static void
test_clash(void **state)
{
	struct fixture *fx = *state;
	struct vm_error err;

	add(fx, NAME_NETWORK, DB_NETWORKS, "a1", "web");
	add(fx, NAME_NETWORK, DB_NETWORKS, "", "shr");
	/* The same name in another agency: fine. */
	assert_int_equal(svc_name_clash(fx->txn, NAME_NETWORK, "a2", "web",
	    &err), 0);
	/* In its own: 409 about its own agency only. */
	vm_error_clear(&err);
	assert_int_equal(svc_name_clash(fx->txn, NAME_NETWORK, "a1", "web",
	    &err), -1);
	assert_int_equal(err.code, API_ECONFLICT);
	assert_non_null(strstr(err.message, "in agency a1"));
	/* A shared name: no agency may take it... */
	vm_error_clear(&err);
	assert_int_equal(svc_name_clash(fx->txn, NAME_NETWORK, "a2", "shr",
	    &err), -1);
	assert_non_null(strstr(err.message, "shared network"));
	/* ...and no shared one may take an agency's. */
	vm_error_clear(&err);
	assert_int_equal(svc_name_clash(fx->txn, NAME_NETWORK, "", "web",
	    &err), -1);
	assert_non_null(strstr(err.message, "agency a1"));
	/* Groups have no public objects: "" never clashes with a1's. */
	add(fx, NAME_GROUP, DB_SERVER_GROUPS, "a1", "g");
	assert_int_equal(svc_name_clash(fx->txn, NAME_GROUP, "a2", "g", &err),
	    0);
}

static void
test_count(void **state)
{
	struct fixture *fx = *state;
	struct vm_error err;
	size_t n = 99;

	add(fx, NAME_IMAGE, DB_IMAGES, "a", "x");
	add(fx, NAME_IMAGE, DB_IMAGES, "a", "y");
	add(fx, NAME_IMAGE, DB_IMAGES, "a-b", "x");
	add(fx, NAME_IMAGE, DB_IMAGES, "ab", "x");
	add(fx, NAME_IMAGE, DB_IMAGES, "", "x2");
	assert_int_equal(svc_name_count(fx->txn, NAME_IMAGE, "a", &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(svc_name_count(fx->txn, NAME_IMAGE, "a-b", &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(svc_name_count(fx->txn, NAME_IMAGE, "zz", &n, &err),
	    0);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test_setup_teardown(test_agency_caller, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_count, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
