/*
 * test_seed: the files of a cloud-init NoCloud seed (agent/seed.c):
 * meta-data (instance-id, local-hostname, public-keys), user-data (as
 * given, or an empty #cloud-config) and network-config v2 (the NICs'
 * static addresses, one default route). They are JSON (YAML reads it),
 * so hostile keys and names stay values.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "errors.h"
#include "network.h"
#include "seed.h"
#include "util.h"

#define UUID "0b7e3c2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
#define KEY1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGf2TVI8qsAbeYkRMtGnT6Dh3rSnnkc8zZLDC3hlSxzk ops@dc"
#define KEY2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHUmWsAmcVV+lbC9GHg5MnI2yzT2AWAeSu8EPPDK6zYt \"quoted\" \\ name"

static struct api_task *
task_new(void)
{
	struct api_task *t = xcalloc(1, sizeof(*t));

	str_copy(t->vm_id, sizeof(t->vm_id), UUID);
	str_copy(t->vm_name, sizeof(t->vm_name), "web-01");
	return t;
}

static void
nic_set(struct api_task_nic *n, const char *net, const char *mac,
    const char *ip, int prefix, const char *gw)
{
	str_copy(n->network, sizeof(n->network), net);
	str_copy(n->mac, sizeof(n->mac), mac);
	str_copy(n->ip, sizeof(n->ip), ip);
	n->prefix = prefix;
	str_copy(n->gateway, sizeof(n->gateway), gw);
}

static json_object *
parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	if (o == NULL)
		fail_msg("not JSON:\n%s", text);
	return o;
}

static const char *
jstr(json_object *o, const char *path)
{
	char buf[256], *tok, *save = NULL;

	str_copy(buf, sizeof(buf), path);
	for (tok = strtok_r(buf, ".", &save); tok != NULL;
	    tok = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;

		if (json_object_is_type(o, json_type_array))
			next = json_object_array_get_idx(o, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &next))
			next = NULL;
		if (next == NULL)
			fail_msg("no %s", path);
		o = next;
	}
	return json_object_get_string(o);
}

static void
test_meta_data(void **state)
{
	struct api_task *t = task_new();
	struct seed_files f;
	struct vm_error err = { 0, "" };
	json_object *o, *keys;

	(void)state;
	snprintf(t->cloud_init.ssh_keys, sizeof(t->cloud_init.ssh_keys),
	    "%s\r\n\n%s\n", KEY1, KEY2);
	assert_int_equal(seed_files(t, &f, &err), 0);
	o = parse(f.meta_data);
	assert_string_equal(jstr(o, "instance-id"), UUID);
	assert_string_equal(jstr(o, "local-hostname"), "web-01");
	assert_true(json_object_object_get_ex(o, "public-keys", &keys));
	assert_int_equal(json_object_array_length(keys), 2);
	assert_string_equal(jstr(o, "public-keys.0"), KEY1);
	assert_string_equal(jstr(o, "public-keys.1"), KEY2);
	json_object_put(o);
	seed_files_free(&f);
	free(t);
}

static void
test_user_data(void **state)
{
	struct api_task *t = task_new();
	struct seed_files f;
	struct vm_error err = { 0, "" };

	(void)state;
	assert_int_equal(seed_files(t, &f, &err), 0);
	assert_string_equal(f.user_data, "#cloud-config\n{}\n");
	seed_files_free(&f);
	str_copy(t->cloud_init.user_data, sizeof(t->cloud_init.user_data),
	    "#cloud-config\nruncmd:\n  - [sh, -c, 'echo hi']\n");
	assert_int_equal(seed_files(t, &f, &err), 0);
	assert_string_equal(f.user_data,
	    "#cloud-config\nruncmd:\n  - [sh, -c, 'echo hi']\n");
	seed_files_free(&f);
	free(t);
}

static void
test_network_config(void **state)
{
	struct api_task *t = task_new();
	struct seed_files f;
	struct vm_error err = { 0, "" };
	json_object *o, *eth1;

	(void)state;
	nic_set(&t->nics[0], "web", "52:54:00:00:00:01", "10.20.0.7", 24,
	    "10.20.0.1");
	nic_set(&t->nics[1], "db", "52:54:00:00:00:02", "10.30.0.9", 25,
	    "10.30.0.1");
	assert_true(seed_wanted(t));
	assert_int_equal(seed_files(t, &f, &err), 0);
	o = parse(f.network_config);
	assert_int_equal(json_object_get_int(json_object_object_get(o,
	    "version")), 2);
	assert_string_equal(jstr(o, "ethernets.eth0.match.macaddress"),
	    "52:54:00:00:00:01");
	assert_string_equal(jstr(o, "ethernets.eth0.set-name"), "eth0");
	assert_string_equal(jstr(o, "ethernets.eth0.addresses.0"),
	    "10.20.0.7/24");
	assert_string_equal(jstr(o, "ethernets.eth0.routes.0.to"),
	    "0.0.0.0/0");
	assert_string_equal(jstr(o, "ethernets.eth0.routes.0.via"),
	    "10.20.0.1");
	assert_string_equal(jstr(o, "ethernets.eth1.addresses.0"),
	    "10.30.0.9/25");
	/* one default route only */
	assert_true(json_object_object_get_ex(json_object_object_get(o,
	    "ethernets"), "eth1", &eth1));
	assert_false(json_object_object_get_ex(eth1, "routes", NULL));
	json_object_put(o);
	seed_files_free(&f);
	free(t);
}

static void
test_no_seed_and_bad_input(void **state)
{
	struct api_task *t = task_new();
	struct seed_files f;
	struct vm_error err = { 0, "" };

	(void)state;
	assert_false(seed_wanted(t));
	nic_set(&t->nics[0], "web", "52:54:00:00:00:01", "10.20.0", 24, "");
	assert_int_equal(seed_files(t, &f, &err), -1);
	assert_int_equal(err.code, API_EINVAL);
	nic_set(&t->nics[0], "web", "52:54:00:00:00:01", "10.20.0.2", 24, "");
	str_copy(t->vm_name, sizeof(t->vm_name), "Bad Name");
	assert_int_equal(seed_files(t, &f, &err), -1);
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_data),
		cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_network_config),
		cmocka_unit_test(test_no_seed_and_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
