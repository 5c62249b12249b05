#include "config.h"

#include <string.h>

#include "errors.h"
#include "host.h"
#include "image.h"
#include "miguri.h"

const char *const api_uri_kind_names[] = {
	"qemu-system", "qemu-embed", "test", "other", NULL
};
const char *const api_host_state_names[] = { "up", "down", NULL };

static const struct api_field host_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_host, name),
	AFS("site", AF_NAME, AF_REQ, struct api_host, site),
	AFS("az", AF_NAME, 0, struct api_host, az),
	AFS("labels", AF_STR, 0, struct api_host, labels),
	AFB("maintenance", AF_RO, struct api_host, maintenance),
	AFE("uri_kind", AF_REQ, struct api_host, uri_kind, api_uri_kind_names),
	AFI("vcpus", AF_REQ, struct api_host, vcpus, 0, 4096),
	AFI("ram_mib", AF_REQ, struct api_host, ram_mib, 0, 68719476736LL),
	AFI("disk_gib", AF_REQ, struct api_host, disk_gib, 0, 1048576),
	AFI("alloc_vcpus", AF_RO, struct api_host, alloc_vcpus, 0, INT64_MAX),
	AFI("alloc_ram_mib", AF_RO, struct api_host, alloc_ram_mib, 0,
	    INT64_MAX),
	AFI("alloc_disk_gib", AF_RO, struct api_host, alloc_disk_gib, 0,
	    INT64_MAX),
	AFI("vms", AF_RO, struct api_host, vms, 0, INT64_MAX),
	AFI("domains_running", AF_RO, struct api_host, domains_running, 0,
	    INT64_MAX),
	AFE("state", AF_RO, struct api_host, state, api_host_state_names),
	AFT("last_heartbeat", AF_RO, struct api_host, last_heartbeat),
	AFT("registered_at", AF_RO, struct api_host, registered_at),
	AFS("migrate_uri", AF_STR, 0, struct api_host, migrate_uri),
	AFS("migrate_listen", AF_STR, 0, struct api_host, migrate_listen),
	AFS("arch", AF_STR, 0, struct api_host, arch),
	AFS("address", AF_STR, AF_RO, struct api_host, address),
	AFI("max_vcpus", AF_RO, struct api_host, max_vcpus, 0, 4096),
	AFI("max_ram_mib", AF_RO, struct api_host, max_ram_mib, 0,
	    68719476736LL),
	AFI("max_disk_gib", AF_RO, struct api_host, max_disk_gib, 0, 1048576),
	AFI("reported_vcpus", AF_RO, struct api_host, reported_vcpus, 0,
	    4096),
	AFI("reported_ram_mib", AF_RO, struct api_host, reported_ram_mib, 0,
	    68719476736LL),
	AFI("reported_disk_gib", AF_RO, struct api_host, reported_disk_gib, 0,
	    1048576),
};

static int
labels_check(const char *labels, struct vm_error *err)
{
	if (!api_labels_valid(labels)) {
		vm_error_set(err, API_EINVAL, "host.labels: comma-separated "
		    "names like 'gpu,ssd'");
		return -1;
	}
	return 0;
}

static int
address_check(const char *address, struct vm_error *err)
{
	if (address[0] != '\0' && !api_mighost_valid(address)) {
		vm_error_set(err, API_EINVAL, "host.address: a DNS name, an "
		    "IPv4 address or an IPv6 address in brackets");
		return -1;
	}
	return 0;
}

static int
enroll_validate(const void *obj, struct vm_error *err)
{
	const struct api_host_enroll *e = obj;

	if (labels_check(e->labels, err) < 0)
		return -1;
	return address_check(e->address, err);
}

/* "" or scheme://rest with no blank: reaches libvirt, never a shell. */
static int
uri_check(const char *what, const char *uri, struct vm_error *err)
{
	const char *p = strstr(uri, "://");
	size_t i;

	if (uri[0] == '\0')
		return 0;
	for (i = 0; uri[i] != '\0'; i++)
		if (uri[i] <= ' ' || uri[i] == 0x7f)
			break;
	if (p == NULL || p == uri || uri[i] != '\0') {
		vm_error_set(err, API_EINVAL, "host.%s: a URI like "
		    "qemu+tcp://10.0.0.2/system (no blanks)", what);
		return -1;
	}
	return 0;
}

static int
host_validate(const void *obj, struct vm_error *err)
{
	const struct api_host *h = obj;

	if (labels_check(h->labels, err) < 0 ||
	    uri_check("migrate_uri", h->migrate_uri, err) < 0 ||
	    uri_check("migrate_listen", h->migrate_listen, err) < 0)
		return -1;
	if (!api_arch_valid(h->arch)) {
		vm_error_set(err, API_EINVAL, "host.arch: like x86_64 or "
		    "aarch64 (a-z, 0-9, _)");
		return -1;
	}
	return 0;
}

static const struct api_field enroll_fields[] = {
	AFS("name", AF_NAME, AF_REQ, struct api_host_enroll, name),
	AFS("site", AF_NAME, AF_REQ, struct api_host_enroll, site),
	AFS("az", AF_NAME, 0, struct api_host_enroll, az),
	AFS("labels", AF_STR, 0, struct api_host_enroll, labels),
	AFS("address", AF_STR, 0, struct api_host_enroll, address),
	AFI("max_vcpus", 0, struct api_host_enroll, max_vcpus, 0, 4096),
	AFI("max_ram_mib", 0, struct api_host_enroll, max_ram_mib, 0,
	    68719476736LL),
	AFI("max_disk_gib", 0, struct api_host_enroll, max_disk_gib, 0,
	    1048576),
};

static const struct api_field maintenance_fields[] = {
	AFB("maintenance", AF_REQ, struct api_host_maintenance, maintenance),
	AFB("force", 0, struct api_host_maintenance, force),
};

const struct api_schema api_host_maintenance_schema = {
	"maintenance", maintenance_fields, ARRAY_SIZE(maintenance_fields),
	sizeof(struct api_host_maintenance), NULL
};

const struct api_schema api_host_enroll_schema = {
	"host", enroll_fields, ARRAY_SIZE(enroll_fields),
	sizeof(struct api_host_enroll), enroll_validate
};

const struct api_schema api_host_schema = {
	"host", host_fields, ARRAY_SIZE(host_fields), sizeof(struct api_host),
	host_validate
};

static int
patch_validate(const void *obj, struct vm_error *err)
{
	const struct api_host_patch *p = obj;

	if (labels_check(p->labels, err) < 0)
		return -1;
	return address_check(p->address, err);
}

static const struct api_field patch_fields[] = {
	AFS("az", AF_NAME, 0, struct api_host_patch, az),
	AFS("labels", AF_STR, 0, struct api_host_patch, labels),
	AFS("address", AF_STR, 0, struct api_host_patch, address),
	AFI("max_vcpus", 0, struct api_host_patch, max_vcpus, 0, 4096),
	AFI("max_ram_mib", 0, struct api_host_patch, max_ram_mib, 0,
	    68719476736LL),
	AFI("max_disk_gib", 0, struct api_host_patch, max_disk_gib, 0,
	    1048576),
};

const struct api_schema api_host_patch_schema = {
	"host", patch_fields, ARRAY_SIZE(patch_fields),
	sizeof(struct api_host_patch), patch_validate
};
