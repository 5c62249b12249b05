/*
 * seed: the cloud-init NoCloud seed of a VM: an ISO 9660 image labelled
 * "cidata" with meta-data (instance-id = VM uuid, local-hostname = VM
 * name, public-keys), user-data (as given, or an empty #cloud-config)
 * and network-config (version 2, the static addresses of the VM's NICs
 * from the controller's IPAM), made with genisoimage and attached as a
 * cdrom. seed_files() is pure (tests/unit/test_seed.c); seed_build()
 * writes STATE_DIR/seed/UUID.iso. Returned strings are owned by the
 * caller (free()). Calls for one VM are serialized by the task loop.
 */
#ifndef VMCTL_AGENT_SEED_H
#define VMCTL_AGENT_SEED_H

#include <stdbool.h>

#include "agentproto.h"
#include "error.h"

#define SEED_LABEL "cidata"

struct seed_files {
	char *meta_data;	/* owned */
	char *user_data;	/* owned */
	char *network_config;	/* owned */
};

/* Does task t want a seed (user-data, keys or NICs)? */
bool seed_wanted(const struct api_task *t);
/* The three files of t's seed. */
int seed_files(const struct api_task *t, struct seed_files *f,
    struct vm_error *err);
void seed_files_free(struct seed_files *f);
char *seed_iso_path(const char *state_dir, const char *uuid);
/* Make (or keep) t's seed ISO; *path_out (owned) is its path. */
int seed_build(const char *state_dir, const struct api_task *t,
    char **path_out, struct vm_error *err);
/* Remove a VM's seed; already gone is fine. */
int seed_remove(const char *state_dir, const char *uuid,
    struct vm_error *err);

#endif
