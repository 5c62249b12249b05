#include "config.h"

#include <string.h>

#include "errors.h"
#include "image.h"

const char *const api_img_format_names[] = { "qcow2", "raw", "kernel", NULL };
const char *const api_img_visibility_names[] = { "private", "public", NULL };

bool
api_sha256_valid(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

static int
img_validate(const void *obj, struct vm_error *err)
{
	const struct api_img *im = obj;
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
	if (!api_arch_valid(im->arch)) {
		vm_error_set(err, API_EINVAL, "image.arch: like x86_64 "
		    "or aarch64 (a-z, 0-9, _)");
		return -1;
	}
	if (!api_labels_valid(im->required_labels)) {
		vm_error_set(err, API_EINVAL, "image.required_labels: "
		    "comma-separated names like 'gpu,ssd'");
		return -1;
	}
	return 0;
}

static const struct api_field img_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_img, name),
	AFS("agency", AF_NAME, 0, struct api_img, agency),
	AFE("visibility", 0, struct api_img, visibility,
	    api_img_visibility_names),
	AFE("format", 0, struct api_img, format, api_img_format_names),
	AFS("arch", AF_STR, 0, struct api_img, arch),
	AFS("required_labels", AF_STR, 0, struct api_img, required_labels),
	AFS("cmdline", AF_STR, 0, struct api_img, cmdline),
	AFS("disk_sha256", AF_STR, AF_RO, struct api_img, disk_sha256),
	AFI("disk_size", AF_RO, struct api_img, disk_size, 0, INT64_MAX),
	AFS("kernel_sha256", AF_STR, AF_RO, struct api_img, kernel_sha256),
	AFI("kernel_size", AF_RO, struct api_img, kernel_size, 0, INT64_MAX),
	AFS("initrd_sha256", AF_STR, AF_RO, struct api_img, initrd_sha256),
	AFI("initrd_size", AF_RO, struct api_img, initrd_size, 0, INT64_MAX),
	AFT("created_at", AF_RO, struct api_img, created_at),
};

const struct api_schema api_img_schema = {
	"image", img_fields, ARRAY_SIZE(img_fields), sizeof(struct api_img),
	img_validate
};

bool
api_arch_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}
