/*
 * upform: the image upload form; see upform.h. Everything a client sends
 * in an upload is checked here before svc_image.c touches the store: the
 * part names, each text field (whole, once the body is complete, so a
 * UTF-8 sequence split across chunks is judged as one), the file parts'
 * combination and the disk's first bytes.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "multipart.h"
#include "upform.h"

#define UPF_MIB		(1024LL * 1024)

const char *const upform_part_names[] = { "disk", "kernel", "initrd",
	NULL };
const char *const upform_field_names[] = {
	"name", "agency", "visibility", "format", "arch", "required_labels",
	"cmdline", NULL
};

void
upform_init(struct upform *f, int64_t max, upform_sink sink, void *sink_arg)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
	f->sink = sink;
	f->sink_arg = sink_arg;
}

void
upform_fini(struct upform *f)
{
	size_t i;

	for (i = 0; i < UPF_NFIELDS; i++)
		buf_free(&f->fields[i]);
}

static int upform_fail(struct upform *f, int code, const char *fmt, ...)
    ATTR_PRINTF(3, 4);

static int
upform_fail(struct upform *f, int code, const char *fmt, ...)
{
	char msg[sizeof(f->err.message)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm_error_set(&f->err, code, "%s", msg);
	return -1;
}

static int
upform_file(struct upform *f, int part, const char *data, uint64_t off,
    size_t len)
{
	(void)off;
	if (data == NULL) {
		if (f->have[part])
			return upform_fail(f, API_EINVAL, "image upload: part "
			    "'%s' given twice", upform_part_names[part]);
		f->have[part] = true;
		return f->sink(f->sink_arg, part, NULL, 0, &f->err);
	}
	if (len > (uint64_t)f->max || f->size[part] > f->max - (int64_t)len)
		return upform_fail(f, API_ETOOLARGE, "image file larger than "
		    "the limit (images.max_size_mib = %lld MiB)",
		    (long long)(f->max / UPF_MIB));
	if (f->size[part] < API_IMG_HEAD) {
		size_t n = API_IMG_HEAD - (size_t)f->size[part];

		memcpy(f->head[part] + f->size[part], data, n < len ? n : len);
	}
	f->size[part] += (int64_t)len;
	return f->sink(f->sink_arg, part, data, len, &f->err);
}

int
upform_part(void *arg, const char *name, const char *filename,
    const char *data, uint64_t off, size_t len)
{
	struct upform *f = arg;
	int i;

	i = api_enum_index(upform_part_names, name);
	if (i >= 0) {
		if (filename == NULL)
			return upform_fail(f, API_EINVAL, "image upload: '%s' "
			    "must be a file part", name);
		return upform_file(f, i, data, off, len);
	}
	i = api_enum_index(upform_field_names, name);
	if (i < 0)
		return upform_fail(f, API_EINVAL, "image upload: unknown part "
		    "'%.64s' (name, agency, visibility, format, arch, "
		    "required_labels, cmdline, disk, kernel, initrd)",
		    multipart_text_ok(name, strlen(name), false) ? name : "?");
	if (data == NULL) {
		if (f->field_seen[i])
			return upform_fail(f, API_EINVAL, "image.%s: given "
			    "twice", name);
		f->field_seen[i] = true;
		return 0;
	}
	if (len >= API_TEXT_MAX || f->fields[i].len + len >= API_TEXT_MAX)
		return upform_fail(f, API_EINVAL, "image.%s: too long", name);
	buf_append(&f->fields[i], data, len);
	return 0;
}

/* The disk's format by content (api_img_probe); given: -1 or asked. */
static int
upform_disk_format(const struct upform *f, int given, int *fmt,
    struct vm_error *err)
{
	int64_t size = f->size[UPF_DISK];
	char why[256];
	int got;

	if (size == 0) {
		vm_error_set(err, API_EINVAL, "image: the disk file is empty");
		return -1;
	}
	got = api_img_probe(f->head[UPF_DISK], size < API_IMG_HEAD ?
	    (size_t)size : API_IMG_HEAD, size, why, sizeof(why));
	if (got < 0) {
		vm_error_set(err, API_EINVAL, "image: %s", why);
		return -1;
	}
	if (given >= 0 && given != got) {
		vm_error_set(err, API_EINVAL, "image.format: the file is %s, "
		    "not %s (leave format out to detect it)",
		    api_img_format_names[got], api_img_format_names[given]);
		return -1;
	}
	*fmt = got;
	return 0;
}

/* Fields -> JSON object for api_img_schema; each field checked first. */
static json_object *
upform_fields_json(const struct upform *f, int *given, struct vm_error *err)
{
	json_object *o = json_object_new_object();
	size_t i;

	*given = -1;
	for (i = 0; i < UPF_NFIELDS; i++) {
		const struct buf *b = &f->fields[i];
		char *s;

		if (b->len == 0)
			continue;
		if (!multipart_text_ok(b->data, b->len, false)) {
			vm_error_set(err, API_EINVAL, "image.%s: NUL, control "
			    "characters and invalid UTF-8 are not allowed",
			    upform_field_names[i]);
			json_object_put(o);
			return NULL;
		}
		s = xmalloc(b->len + 1);
		memcpy(s, b->data, b->len);
		s[b->len] = '\0';
		if (i == UPF_FORMAT && (*given = api_enum_index(
		    api_img_format_names, s)) < 0) {
			vm_error_set(err, API_EINVAL, "image.format: one of "
			    "qcow2, raw, kernel");
			free(s);
			json_object_put(o);
			return NULL;
		}
		json_object_object_add(o, upform_field_names[i],
		    json_object_new_string(s));
		free(s);
	}
	return o;
}

int
upform_record(struct upform *f, const char *own_agency, struct api_img *img,
    struct vm_error *err)
{
	json_object *o;
	int given, ret = -1;

	o = upform_fields_json(f, &given, err);
	if (o == NULL)
		return -1;
	if (api_decode(&api_img_schema, o, img, API_INPUT, err) < 0)
		goto cleanup;
	if (f->have[UPF_DISK] == f->have[UPF_KERNEL]) {
		vm_error_set(err, API_EINVAL, "image: give a disk file part, "
		    "or a kernel part (+ initrd), not %s",
		    f->have[UPF_DISK] ? "both" : "neither");
		goto cleanup;
	}
	if (f->have[UPF_INITRD] && !f->have[UPF_KERNEL]) {
		vm_error_set(err, API_EINVAL, "image: initrd needs a kernel");
		goto cleanup;
	}
	if (f->have[UPF_DISK]) {
		if (upform_disk_format(f, given, &img->format, err) < 0)
			goto cleanup;
	} else {
		if (given >= 0 && given != IMG_KERNEL) {
			vm_error_set(err, API_EINVAL, "image.format: a kernel "
			    "image has format kernel");
			goto cleanup;
		}
		img->format = IMG_KERNEL;
		if (f->size[UPF_KERNEL] == 0) {
			vm_error_set(err, API_EINVAL,
			    "image: the kernel file is empty");
			goto cleanup;
		}
	}
	if (img->cmdline[0] != '\0' && img->format != IMG_KERNEL) {
		vm_error_set(err, API_EINVAL,
		    "image.cmdline: only for kernel images");
		goto cleanup;
	}
	if (img->arch[0] == '\0')
		str_copy(img->arch, sizeof(img->arch), "x86_64");
	/* Scoping: agency users make their agency's private images. */
	if (own_agency != NULL) {
		if (img->visibility == IMG_PUBLIC) {
			vm_error_set(err, API_EFORBIDDEN, "image.visibility: "
			    "only admins create public images");
			goto cleanup;
		}
		if (img->agency[0] != '\0' &&
		    strcmp(img->agency, own_agency) != 0) {
			vm_error_set(err, API_EFORBIDDEN, "image.agency: you "
			    "may create images in agency %s only", own_agency);
			goto cleanup;
		}
		str_copy(img->agency, sizeof(img->agency), own_agency);
	} else if (img->visibility == IMG_PUBLIC && img->agency[0] != '\0') {
		vm_error_set(err, API_EINVAL, "image.agency: a public image "
		    "belongs to no agency");
		goto cleanup;
	} else if (img->visibility == IMG_PRIVATE && img->agency[0] == '\0') {
		vm_error_set(err, API_EINVAL, "image.agency: required for a "
		    "private image (or make it public)");
		goto cleanup;
	}
	img->disk_size = f->size[UPF_DISK];
	img->kernel_size = f->size[UPF_KERNEL];
	img->initrd_size = f->size[UPF_INITRD];
	ret = 0;
cleanup:
	json_object_put(o);
	return ret;
}
