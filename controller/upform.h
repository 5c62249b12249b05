/*
 * upform: the form of an image upload (POST /v1/images), pure: which
 * multipart parts it takes, the checks on its text fields and file
 * contents, and the image record built from them. svc_image.c binds it to
 * the HTTP upload (its sink writes and hashes the file parts); the fuzz
 * target fuzz_multipart drives it with a sink that drops the bytes.
 *
 * A struct upform is owned by its creator (upform_free). Not thread-safe.
 */
#ifndef VMCTL_CONTROLLER_UPFORM_H
#define VMCTL_CONTROLLER_UPFORM_H

#include <stdbool.h>
#include <stdint.h>

#include "image.h"
#include "util.h"

/* The file parts an upload may carry. */
enum upform_part { UPF_DISK, UPF_KERNEL, UPF_INITRD, UPF_NPARTS };
extern const char *const upform_part_names[];

/* The text fields, decoded with api_img_schema once complete. */
enum upform_field {
	UPF_NAME, UPF_AGENCY, UPF_VISIBILITY, UPF_FORMAT, UPF_ARCH,
	UPF_REQUIRED_LABELS, UPF_CMDLINE, UPF_NFIELDS
};
extern const char *const upform_field_names[];

/*
 * Where file bytes go: called with data NULL when part begins, then with
 * its bytes. 0, or -1 with err set (the upload fails with it).
 */
typedef int (*upform_sink)(void *arg, int part, const char *data,
    size_t len, struct vm_error *err);

struct upform {
	int64_t max;			/* bytes per file */
	upform_sink sink;
	void *sink_arg;
	bool have[UPF_NPARTS];
	int64_t size[UPF_NPARTS];
	unsigned char head[UPF_NPARTS][API_IMG_HEAD];	/* first bytes */
	bool field_seen[UPF_NFIELDS];
	struct buf fields[UPF_NFIELDS];	/* owned */
	struct vm_error err;		/* why upform_part stopped */
};

void upform_init(struct upform *f, int64_t max, upform_sink sink,
    void *sink_arg);
void upform_fini(struct upform *f);

/* A multipart_cb: route a part's start or bytes (see multipart.h). */
int upform_part(void *arg, const char *name, const char *filename,
    const char *data, uint64_t off, size_t len);

/*
 * The image record from the complete form: text fields checked (no NUL or
 * control characters, valid UTF-8) and decoded, the parts' combination
 * and the disk's content checked (api_img_probe; a format given must
 * match it), sizes filled (not the sha256s). own_agency: the agency of a
 * caller scoped to its own agency, or NULL for admins and operators.
 */
int upform_record(struct upform *f, const char *own_agency,
    struct api_img *img, struct vm_error *err);

#endif
