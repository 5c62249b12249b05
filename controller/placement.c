#include "config.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "placement.h"
#include "util.h"

/* Why h cannot take req, into why[len]; false if it can. */
static bool
placement_reject(const struct api_host *h, const struct placement_req *req,
    char *why, size_t len)
{
	if (req->host_hint && *req->host_hint &&
	    strcmp(req->host_hint, h->name) != 0) {
		snprintf(why, len, "not the requested host");
		return true;
	}
	if (req->site && *req->site && strcmp(req->site, h->site) != 0) {
		snprintf(why, len, "in site %s", h->site);
		return true;
	}
	if (h->state != HOST_UP) {
		snprintf(why, len, "down");
		return true;
	}
	if (h->vcpus - h->alloc_vcpus < req->vcpus) {
		snprintf(why, len, "%lld vCPUs free",
		    (long long)(h->vcpus - h->alloc_vcpus));
		return true;
	}
	if (h->ram_mib - h->alloc_ram_mib < req->ram_mib) {
		snprintf(why, len, "%lld MiB RAM free",
		    (long long)(h->ram_mib - h->alloc_ram_mib));
		return true;
	}
	if (h->disk_gib - h->alloc_disk_gib < req->disk_gib) {
		snprintf(why, len, "%lld GiB disk free",
		    (long long)(h->disk_gib - h->alloc_disk_gib));
		return true;
	}
	return false;
}

int
placement_choose(const struct api_host *hosts, size_t n,
    const struct placement_req *req, size_t *chosen, struct vm_error *err)
{
	struct buf reasons = { 0 };
	size_t i, best = n, shown = 0;
	char why[128];

	for (i = 0; i < n; i++) {
		const struct api_host *h = &hosts[i];

		if (placement_reject(h, req, why, sizeof(why))) {
			/* Hosts outside the hint are noise in the message. */
			if (req->host_hint && *req->host_hint &&
			    strcmp(req->host_hint, h->name) != 0)
				continue;
			if (shown++ < 20)
				buf_printf(&reasons, "%s%s: %s",
				    reasons.len ? "; " : "", h->name, why);
			continue;
		}
		if (best == n) {
			best = i;
			continue;
		}
		{
			int64_t fb = hosts[best].ram_mib -
			    hosts[best].alloc_ram_mib;
			int64_t fi = h->ram_mib - h->alloc_ram_mib;

			if (fi > fb || (fi == fb &&
			    strcmp(h->name, hosts[best].name) < 0))
				best = i;
		}
	}
	if (best == n) {
		if (req->host_hint && *req->host_hint && shown == 0)
			vm_error_set(err, API_ENOROOM,
			    "no host named '%s' is registered", req->host_hint);
		else if (n == 0)
			vm_error_set(err, API_ENOROOM,
			    "no host is registered: start a vmagentd");
		else
			vm_error_set(err, API_ENOROOM,
			    "no host can take %lld vCPUs, %lld MiB RAM, %lld "
			    "GiB disk%s%s: %s%s", (long long)req->vcpus,
			    (long long)req->ram_mib, (long long)req->disk_gib,
			    req->site && *req->site ? " in site " : "",
			    req->site && *req->site ? req->site : "",
			    reasons.data ? reasons.data : "",
			    shown > 20 ? "; ..." : "");
		buf_free(&reasons);
		return -1;
	}
	buf_free(&reasons);
	*chosen = best;
	return 0;
}
