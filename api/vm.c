#include "config.h"

#include <string.h>

#include "errors.h"
#include "image.h"
#include "tags.h"
#include "vm.h"

const char *const api_vm_state_names[] = {
	"pending", "building", "running", "stopping", "stopped", "paused",
	"crashed", "error", "deleting", "migrating", NULL
};
const char *const api_vm_desired_names[] = {
	"running", "stopped", "deleted", "paused", NULL
};
const char *const api_vm_action_names[] = {
	"start", "stop", "reboot", "migrate", "pause", "resume", "rebuild",
	"resize", NULL
};
const char *const api_vm_ha_names[] = { "restart", "none", NULL };
const char *const api_vm_on_crash_names[] = { "leave", "restart", NULL };

static int
image_validate(const void *obj, struct vm_error *err)
{
	const struct api_image *im = obj;
	const char *const shas[] = { im->disk_sha256, im->kernel_sha256,
	    im->initrd_sha256 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(shas); i++) {
		if (shas[i][0] != '\0' && !api_sha256_valid(shas[i])) {
			vm_error_set(err, API_EINVAL,
			    "image: a sha256 is 64 lower-case hex digits");
			return -1;
		}
	}
	if (im->name[0] != '\0') {
		if (im->disk[0] != '\0' || im->kernel[0] != '\0' ||
		    im->initrd[0] != '\0') {
			vm_error_set(err, API_EINVAL, "image: give either name "
			    "(an image of the store) or paths, not both");
			return -1;
		}
		return 0;
	}
	if (im->disk[0] != '\0' && (im->kernel[0] != '\0' ||
	    im->initrd[0] != '\0')) {
		vm_error_set(err, API_EINVAL,
		    "image: give either disk or kernel (+initrd), not both");
		return -1;
	}
	if (im->disk[0] == '\0' && im->kernel[0] == '\0') {
		vm_error_set(err, API_EINVAL,
		    "image: one of name, disk or kernel is required");
		return -1;
	}
	if (im->initrd[0] != '\0' && im->kernel[0] == '\0') {
		vm_error_set(err, API_EINVAL, "image.initrd: needs a kernel");
		return -1;
	}
	if (im->cmdline[0] != '\0' && im->kernel[0] == '\0') {
		vm_error_set(err, API_EINVAL, "image.cmdline: needs a kernel");
		return -1;
	}
	return 0;
}

static const struct api_field image_fields[] = {
	AFS("disk", AF_PATH, 0, struct api_image, disk),
	AFS("kernel", AF_PATH, 0, struct api_image, kernel),
	AFS("initrd", AF_PATH, 0, struct api_image, initrd),
	AFS("cmdline", AF_STR, 0, struct api_image, cmdline),
	AFS("name", AF_NAME, 0, struct api_image, name),
	AFS("format", AF_STR, AF_RO, struct api_image, format),
	AFS("disk_sha256", AF_STR, AF_RO, struct api_image, disk_sha256),
	AFS("kernel_sha256", AF_STR, AF_RO, struct api_image, kernel_sha256),
	AFS("initrd_sha256", AF_STR, AF_RO, struct api_image, initrd_sha256),
	AFS("arch", AF_STR, AF_RO, struct api_image, arch),
	AFS("required_labels", AF_STR, AF_RO, struct api_image,
	    required_labels),
};

const struct api_schema api_image_schema = {
	"image", image_fields, ARRAY_SIZE(image_fields),
	sizeof(struct api_image), image_validate
};

static int
vm_validate(const void *obj, struct vm_error *err)
{
	const struct api_vm *vm = obj;

	if (!api_labels_valid(vm->labels)) {
		vm_error_set(err, API_EINVAL, "vm.labels: comma-separated "
		    "names like 'gpu,ssd'");
		return -1;
	}
	if (!api_tags_valid(vm->tags)) {
		vm_error_set(err, API_EINVAL, "vm.tags: comma-separated "
		    "key=value like 'env=prod,tier=web' (key like a name, "
		    "value of A-Z a-z 0-9 . _ -, at most 63; keys unique)");
		return -1;
	}
	return 0;
}

static const struct api_field vm_fields[] = {
	AFS("id", AF_UUID, AF_RO, struct api_vm, id),
	AFS("name", AF_NAME, AF_REQ, struct api_vm, name),
	AFS("agency", AF_NAME, 0, struct api_vm, agency),
	AFS("flavor", AF_NAME, AF_REQ, struct api_vm, flavor),
	AFSUB("image", AF_REQ, struct api_vm, image, &api_image_schema),
	AFS("site", AF_NAME, 0, struct api_vm, site),
	AFS("az", AF_NAME, 0, struct api_vm, az),
	AFS("labels", AF_STR, 0, struct api_vm, labels),
	AFE("ha", 0, struct api_vm, ha, api_vm_ha_names),
	AFS("host_hint", AF_NAME, 0, struct api_vm, host_hint),
	AFS("host", AF_NAME, AF_RO, struct api_vm, host),
	AFI("vcpus", AF_RO, struct api_vm, vcpus, 0, 256),
	AFI("ram_mib", AF_RO, struct api_vm, ram_mib, 0, 4194304),
	AFI("disk_gib", AF_RO, struct api_vm, disk_gib, 0, 65536),
	AFE("state", AF_RO, struct api_vm, state, api_vm_state_names),
	AFE("desired", AF_RO, struct api_vm, desired, api_vm_desired_names),
	AFI("generation", AF_RO, struct api_vm, generation, 0, INT64_MAX),
	AFS("error", AF_STR, AF_RO, struct api_vm, error),
	AFS("last_op", AF_UUID, AF_RO, struct api_vm, last_op),
	AFI("obs_seq", AF_RO, struct api_vm, obs_seq, 0, INT64_MAX),
	AFT("created_at", AF_RO, struct api_vm, created_at),
	AFT("updated_at", AF_RO, struct api_vm, updated_at),
	AFS("migrate_to", AF_NAME, AF_RO, struct api_vm, migrate_to),
	AFS("drain_op", AF_UUID, AF_RO, struct api_vm, drain_op),
	AFA("nics", 0, struct api_vm, nics, &api_nic_schema),
	AFS("server_group", AF_NAME, 0, struct api_vm, server_group),
	AFS("tags", AF_STR, 0, struct api_vm, tags),
	AFE("on_crash", 0, struct api_vm, on_crash, api_vm_on_crash_names),
};

const struct api_schema api_vm_schema = {
	"vm", vm_fields, ARRAY_SIZE(vm_fields), sizeof(struct api_vm),
	vm_validate
};

static int
action_validate(const void *obj, struct vm_error *err)
{
	const struct api_vm_action_req *a = obj;

	if (a->action != ACTION_STOP && a->timeout_s != 0) {
		vm_error_set(err, API_EINVAL,
		    "action.timeout_s: applies only to stop");
		return -1;
	}
	if (a->action != ACTION_STOP && a->action != ACTION_REBOOT &&
	    a->force) {
		vm_error_set(err, API_EINVAL,
		    "action.force: applies only to stop and reboot");
		return -1;
	}
	if (a->action != ACTION_MIGRATE && a->host[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "action.host: applies only to migrate");
		return -1;
	}
	if ((a->action == ACTION_REBUILD || a->action == ACTION_RESIZE) &&
	    a->force) {
		vm_error_set(err, API_EINVAL,
		    "action.force: applies only to stop and reboot");
		return -1;
	}
	if (a->action != ACTION_REBUILD && a->image[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "action.image: applies only to rebuild");
		return -1;
	}
	if (a->action != ACTION_RESIZE && a->flavor[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "action.flavor: applies only to resize");
		return -1;
	}
	if (a->action == ACTION_RESIZE && a->flavor[0] == '\0') {
		vm_error_set(err, API_EINVAL,
		    "action.flavor: resize needs the new flavor");
		return -1;
	}
	return 0;
}

static const struct api_field action_fields[] = {
	AFE("action", AF_REQ, struct api_vm_action_req, action,
	    api_vm_action_names),
	AFI("timeout_s", 0, struct api_vm_action_req, timeout_s, 0, 3600),
	AFB("force", 0, struct api_vm_action_req, force),
	AFS("host", AF_NAME, 0, struct api_vm_action_req, host),
	AFS("image", AF_NAME, 0, struct api_vm_action_req, image),
	AFS("flavor", AF_NAME, 0, struct api_vm_action_req, flavor),
};

const struct api_schema api_vm_action_schema = {
	"action", action_fields, ARRAY_SIZE(action_fields),
	sizeof(struct api_vm_action_req), action_validate
};

static int
tags_validate(const void *obj, struct vm_error *err)
{
	const struct api_vm_tags *t = obj;

	if (t->set[0] == '\0' && t->remove[0] == '\0') {
		vm_error_set(err, API_EINVAL, "tags: give set and/or remove");
		return -1;
	}
	if (!api_tags_valid(t->set)) {
		vm_error_set(err, API_EINVAL, "tags.set: comma-separated "
		    "key=value like 'env=prod' (keys unique)");
		return -1;
	}
	if (!api_tag_keys_valid(t->remove)) {
		vm_error_set(err, API_EINVAL, "tags.remove: comma-separated "
		    "keys like 'env,tier'");
		return -1;
	}
	return 0;
}

static const struct api_field tags_fields[] = {
	AFS("set", AF_STR, 0, struct api_vm_tags, set),
	AFS("remove", AF_STR, 0, struct api_vm_tags, remove),
};

const struct api_schema api_vm_tags_schema = {
	"tags", tags_fields, ARRAY_SIZE(tags_fields),
	sizeof(struct api_vm_tags), tags_validate
};
