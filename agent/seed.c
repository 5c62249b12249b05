/*
 * seed: cloud-init NoCloud seed ISOs (see seed.h). meta-data and
 * network-config are JSON, which YAML (what cloud-init reads) includes:
 * json-c quotes every value, so no name, key or comment can change their
 * structure. Called by taskloop.c (create, delete).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "disks.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "network.h"
#include "seed.h"
#include "util.h"

#ifndef GENISOIMAGE_PATH
#define GENISOIMAGE_PATH "/usr/bin/genisoimage"
#endif

static const char seed_empty_user_data[] = "#cloud-config\n{}\n";

bool
seed_wanted(const struct api_task *t)
{
	return t->cloud_init.user_data[0] != '\0' ||
	    t->cloud_init.ssh_keys[0] != '\0' || t->nics[0].network[0] != '\0';
}

void
seed_files_free(struct seed_files *f)
{
	if (f == NULL)
		return;
	free(f->meta_data);
	free(f->user_data);
	free(f->network_config);
	memset(f, 0, sizeof(*f));
}

static char *
seed_dump(json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = xasprintf("%s\n", s);

	json_object_put(o);
	return out;
}

static json_object *
seed_keys(const char *keys)
{
	json_object *arr = json_object_new_array();
	const char *p = keys;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n"), l = len;

		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > 0)
			json_object_array_add(arr,
			    json_object_new_string_len(p, (int)l));
		p += len;
		if (*p == '\n')
			p++;
	}
	return arr;
}

static json_object *
seed_network(const struct api_task *t, struct vm_error *err)
{
	json_object *root, *eths;
	size_t i;

	root = json_object_new_object();
	json_object_object_add(root, "version", json_object_new_int(2));
	eths = json_object_new_object();
	json_object_object_add(root, "ethernets", eths);
	for (i = 0; i < API_NICS_MAX && t->nics[i].network[0] != '\0'; i++) {
		const struct api_task_nic *n = &t->nics[i];
		json_object *e, *m, *addrs;
		char name[16], addr[API_IP_MAX + 4];
		uint32_t ip;

		if (!api_mac_valid(n->mac) || api_ipv4_parse(n->ip, &ip) < 0 ||
		    n->prefix < 1 || n->prefix > 32) {
			vm_error_set(err, API_EINVAL, "seed: bad NIC %zu on "
			    "network %.64s", i, n->network);
			json_object_put(root);
			return NULL;
		}
		snprintf(name, sizeof(name), "eth%zu", i);
		snprintf(addr, sizeof(addr), "%s/%d", n->ip, (int)n->prefix);
		e = json_object_new_object();
		m = json_object_new_object();
		json_object_object_add(m, "macaddress",
		    json_object_new_string(n->mac));
		json_object_object_add(e, "match", m);
		json_object_object_add(e, "set-name",
		    json_object_new_string(name));
		addrs = json_object_new_array();
		json_object_array_add(addrs, json_object_new_string(addr));
		json_object_object_add(e, "addresses", addrs);
		/* One default route: through the first NIC's gateway. */
		if (i == 0 && n->gateway[0] != '\0' &&
		    api_ipv4_parse(n->gateway, &ip) == 0) {
			json_object *routes = json_object_new_array();
			json_object *r = json_object_new_object();

			json_object_object_add(r, "to",
			    json_object_new_string("0.0.0.0/0"));
			json_object_object_add(r, "via",
			    json_object_new_string(n->gateway));
			json_object_array_add(routes, r);
			json_object_object_add(e, "routes", routes);
		}
		json_object_object_add(eths, name, e);
	}
	return root;
}

int
seed_files(const struct api_task *t, struct seed_files *f,
    struct vm_error *err)
{
	json_object *md, *net;

	memset(f, 0, sizeof(*f));
	if (!uuid_valid(t->vm_id) || !api_name_valid(t->vm_name)) {
		vm_error_set(err, API_EINVAL, "seed: bad VM uuid or name");
		return -1;
	}
	if ((net = seed_network(t, err)) == NULL)
		return -1;
	md = json_object_new_object();
	json_object_object_add(md, "instance-id",
	    json_object_new_string(t->vm_id));
	json_object_object_add(md, "local-hostname",
	    json_object_new_string(t->vm_name));
	json_object_object_add(md, "public-keys",
	    seed_keys(t->cloud_init.ssh_keys));
	f->meta_data = seed_dump(md);
	f->network_config = seed_dump(net);
	f->user_data = xstrdup(t->cloud_init.user_data[0] != '\0' ?
	    t->cloud_init.user_data : seed_empty_user_data);
	return 0;
}

char *
seed_iso_path(const char *state_dir, const char *uuid)
{
	return xasprintf("%s/seed/%s.iso", state_dir, uuid);
}

static char *
seed_dir_path(const char *state_dir, const char *uuid)
{
	return xasprintf("%s/seed/%s.d", state_dir, uuid);
}

static int
seed_write(const char *dir, const char *name, const char *text,
    struct vm_error *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	int ret = -1;

	if (fp == NULL) {
		vm_error_set(err, API_EINTERNAL, "seed: %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	if (fputs(text, fp) == EOF || fclose(fp) != 0) {
		fp = NULL;
		vm_error_set(err, API_EINTERNAL, "seed: write %s: %s", path,
		    strerror(errno));
		goto cleanup;
	}
	fp = NULL;
	ret = 0;
cleanup:
	if (fp != NULL)
		fclose(fp);
	free(path);
	return ret;
}

static void
seed_rmdir(const char *dir)
{
	static const char *const names[] = {
		"meta-data", "user-data", "network-config"
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
}

int
seed_build(const char *state_dir, const struct api_task *t, char **path_out,
    struct vm_error *err)
{
	struct seed_files f;
	char *iso = seed_iso_path(state_dir, t->vm_id);
	char *tmp = xasprintf("%s.tmp", iso);
	char *dir = seed_dir_path(state_dir, t->vm_id);
	struct stat st;
	int ret = -1;

	memset(&f, 0, sizeof(f));
	*path_out = NULL;
	if (stat(iso, &st) == 0) {
		ret = 0;	/* made by an earlier delivery of this task */
		goto cleanup;
	}
	if (seed_files(t, &f, err) < 0)
		goto cleanup;
	if (mkdir_p(dir, 0700) < 0) {
		vm_error_set(err, API_EINTERNAL, "seed: mkdir %s: %s", dir,
		    strerror(errno));
		goto cleanup;
	}
	if (seed_write(dir, "meta-data", f.meta_data, err) < 0 ||
	    seed_write(dir, "user-data", f.user_data, err) < 0 ||
	    seed_write(dir, "network-config", f.network_config, err) < 0)
		goto cleanup;
	{
		char *md = xasprintf("%s/meta-data", dir);
		char *ud = xasprintf("%s/user-data", dir);
		char *nc = xasprintf("%s/network-config", dir);
		char *argv[] = { (char *)(uintptr_t)GENISOIMAGE_PATH,
		    (char *)"-quiet", (char *)"-output", tmp,
		    (char *)"-volid", (char *)SEED_LABEL, (char *)"-joliet",
		    (char *)"-rock", ud, md, nc, NULL };
		int rc;

		unlink(tmp);
		rc = disks_tool("making the cloud-init seed", argv, err);
		free(md);
		free(ud);
		free(nc);
		if (rc < 0) {
			unlink(tmp);
			goto cleanup;
		}
	}
	if (rename(tmp, iso) < 0) {
		vm_error_set(err, API_EINTERNAL, "seed: rename %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto cleanup;
	}
	log_info("vm %s (%s): cloud-init seed %s", t->vm_name, t->vm_id, iso);
	ret = 0;
cleanup:
	seed_rmdir(dir);
	if (ret == 0) {
		*path_out = iso;
		iso = NULL;
	}
	seed_files_free(&f);
	free(iso);
	free(tmp);
	free(dir);
	return ret;
}

int
seed_remove(const char *state_dir, const char *uuid, struct vm_error *err)
{
	char *iso = seed_iso_path(state_dir, uuid);
	char *tmp = xasprintf("%s.tmp", iso);
	char *dir = seed_dir_path(state_dir, uuid);
	int ret = 0;

	seed_rmdir(dir);
	if ((unlink(iso) < 0 && errno != ENOENT) ||
	    (unlink(tmp) < 0 && errno != ENOENT)) {
		vm_error_set(err, API_EINTERNAL, "seed: cannot remove %s: %s",
		    iso, strerror(errno));
		ret = -1;
	}
	free(iso);
	free(tmp);
	free(dir);
	return ret;
}
