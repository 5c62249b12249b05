#include "config.h"

#include <stdio.h>
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

/* ------------------------------------------------------------ content */

static uint64_t
img_be64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
img_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Does needle occur in the first n bytes of head? */
static bool
img_contains(const unsigned char *head, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(head + i, needle, k) == 0)
			return true;
	return false;
}

/* Magic at offset 0 of formats qemu-img knows besides raw and qcow2. */
static const struct {
	const char *magic;
	size_t len;
	const char *name;
} img_magics[] = {
	{ "KDMV", 4, "vmdk" },
	{ "COWD", 4, "vmdk (ESX COW)" },
	{ "vhdxfile", 8, "vhdx" },
	{ "conectix", 8, "vpc/vhd" },
	{ "QED\0", 4, "qed" },
	{ "LUKS\xba\xbe", 6, "luks" },
	{ "WithoutFreeSpace", 16, "parallels" },
	{ "WithouFreSpacExt", 16, "parallels" },
	{ "Bochs Virtual HD Image", 22, "bochs" },
	{ "#!/bin/sh\n#V2.0 Format", 22, "cloop" },
	{ "QFI\xfb", 4, NULL },		/* qcow/qcow2: checked below */
};

int
api_img_probe(const unsigned char *head, size_t n, int64_t size, char *why,
    size_t why_size)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(img_magics); i++) {
		if (n < img_magics[i].len || memcmp(head, img_magics[i].magic,
		    img_magics[i].len) != 0)
			continue;
		if (img_magics[i].name == NULL)
			break;
		snprintf(why, why_size, "the file is a %s image: only raw "
		    "and qcow2 are accepted", img_magics[i].name);
		return -1;
	}
	/* VDI: a text line, then its signature at offset 0x40. */
	if (n >= 0x44 && img_le32(head + 0x40) == 0xbeda107fU) {
		snprintf(why, why_size, "the file is a vdi image: only raw "
		    "and qcow2 are accepted");
		return -1;
	}
	/* A VMDK text descriptor names extent files on the host. */
	if (img_contains(head, n, "DescriptorFile") ||
	    img_contains(head, n, "createType=")) {
		snprintf(why, why_size, "the file is a VMDK descriptor (it "
		    "names other files): refused");
		return -1;
	}
	if (i == ARRAY_SIZE(img_magics))
		return IMG_RAW;
	/* qcow2: version 2 or 3, no backing file, no external data file. */
	if (n < 72 || size < 72 || (img_be64(head + 4) >> 32) < 2) {
		snprintf(why, why_size, "the file is a qcow version 1 image "
		    "or a truncated qcow2 header: refused");
		return -1;
	}
	if (img_be64(head + 8) != 0) {
		snprintf(why, why_size, "a qcow2 disk with a backing file is "
		    "refused (flatten it: qemu-img convert -O qcow2)");
		return -1;
	}
	if ((img_be64(head + 4) >> 32) >= 3 && n >= 80 &&
	    (img_be64(head + 72) & 0x4) != 0) {
		snprintf(why, why_size, "a qcow2 disk with an external data "
		    "file is refused");
		return -1;
	}
	return IMG_QCOW2;
}
