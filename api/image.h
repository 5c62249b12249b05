/*
 * image: a record of the controller's image store (a disk image, or a
 * kernel with an optional initrd) whose files live as content-addressed
 * blobs (sha256) in the image directory. Codec only; no allocation.
 */
#ifndef VMCTL_API_IMAGE_H
#define VMCTL_API_IMAGE_H

#include "codec.h"

#define API_SHA256_HEX 65	/* 64 lower-case hex digits + NUL */

/* What the image boots from. */
enum api_img_format { IMG_QCOW2, IMG_RAW, IMG_KERNEL };
extern const char *const api_img_format_names[];

/* Who sees it: the owning agency's callers, or everyone. */
enum api_img_visibility { IMG_PRIVATE, IMG_PUBLIC };
extern const char *const api_img_visibility_names[];

struct api_img {
	char name[API_NAME_MAX];
	char agency[API_NAME_MAX];	/* owner; "" for public admin images */
	int visibility;			/* enum api_img_visibility */
	int format;			/* enum api_img_format */
	char arch[API_NAME_MAX];	/* "x86_64" unless given */
	char required_labels[API_TEXT_MAX];	/* host labels it needs */
	char cmdline[API_TEXT_MAX];	/* kernel images: default cmdline */
	char disk_sha256[API_SHA256_HEX];	/* RO */
	int64_t disk_size;		/* RO: bytes */
	char kernel_sha256[API_SHA256_HEX];	/* RO */
	int64_t kernel_size;		/* RO */
	char initrd_sha256[API_SHA256_HEX];	/* RO */
	int64_t initrd_size;		/* RO */
	int64_t created_at;		/* RO */
};
extern const struct api_schema api_img_schema;

/* "" or a CPU architecture name: a-z, 0-9, _ ("x86_64", "aarch64"). */
bool api_arch_valid(const char *s);
/* 64 lower-case hex digits? */
bool api_sha256_valid(const char *s);

/*
 * Content checks of a disk image, shared by the controller (uploads) and
 * the agent (host paths), so no qemu-img ever has to guess a format.
 * head: the first API_IMG_HEAD bytes of the file (fewer if it is
 * smaller), size: the whole file's size. Returns IMG_QCOW2 or IMG_RAW,
 * or -1 with a message in why (why_size bytes) for content that must not
 * be used: another format (vmdk, vhdx, vdi, qed, luks, ...; a VMDK text
 * descriptor names host files), or a qcow2 with a backing file or an
 * external data file (files outside the image).
 */
#define API_IMG_HEAD 1024
int api_img_probe(const unsigned char *head, size_t n, int64_t size,
    char *why, size_t why_size);

#endif
