#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "agentproto.h"
#include "errors.h"
#include "json.h"

const char *const api_task_state_names[] = {
	"queued", "leased", "done", NULL
};
const char *const api_dom_state_names[] = {
	"running", "stopped", "paused", "crashed", "absent", "other", NULL
};

static int
task_nic_validate(const void *obj, struct vm_error *err)
{
	const struct api_task_nic *n = obj;
	uint32_t ip;

	if (!api_mac_valid(n->mac) || api_ipv4_parse(n->ip, &ip) < 0 ||
	    (n->gateway[0] != '\0' && api_ipv4_parse(n->gateway, &ip) < 0) ||
	    (n->bridge[0] != '\0' && !api_bridge_valid(n->bridge)) ||
	    (n->mode == NET_BRIDGE && n->bridge[0] == '\0')) {
		vm_error_set(err, API_EINVAL, "task.nic: bad mac, ip, gateway "
		    "or bridge on network %s", n->network);
		return -1;
	}
	return 0;
}

static const struct api_field task_nic_fields[] = {
	AFS("network", AF_NAME, AF_REQ, struct api_task_nic, network),
	AFE("mode", 0, struct api_task_nic, mode, api_net_mode_names),
	AFS("bridge", AF_STR, 0, struct api_task_nic, bridge),
	AFS("mac", AF_STR, AF_REQ, struct api_task_nic, mac),
	AFS("ip", AF_STR, AF_REQ, struct api_task_nic, ip),
	AFI("prefix", 0, struct api_task_nic, prefix, 0, 32),
	AFS("gateway", AF_STR, 0, struct api_task_nic, gateway),
};

const struct api_schema api_task_nic_schema = {
	"nic", task_nic_fields, ARRAY_SIZE(task_nic_fields),
	sizeof(struct api_task_nic), task_nic_validate
};

static const struct api_field task_fields[] = {
	AFS("id", AF_UUID, AF_REQ, struct api_task, id),
	AFS("op_id", AF_UUID, AF_REQ, struct api_task, op_id),
	AFS("vm_id", AF_UUID, AF_REQ, struct api_task, vm_id),
	AFS("vm_name", AF_NAME, AF_REQ, struct api_task, vm_name),
	AFS("host", AF_NAME, AF_REQ, struct api_task, host),
	AFI("generation", AF_REQ, struct api_task, generation, 0, INT64_MAX),
	AFE("action", AF_REQ, struct api_task, action, api_op_action_names),
	AFI("vcpus", 0, struct api_task, vcpus, 0, 256),
	AFI("ram_mib", 0, struct api_task, ram_mib, 0, 4194304),
	AFI("disk_gib", 0, struct api_task, disk_gib, 0, 65536),
	AFSUB("image", 0, struct api_task, image, &api_image_schema),
	AFI("stop_timeout_s", 0, struct api_task, stop_timeout_s, 0, 3600),
	AFB("force", 0, struct api_task, force),
	AFE("state", 0, struct api_task, state, api_task_state_names),
	AFI("attempt", 0, struct api_task, attempt, 0, INT64_MAX),
	AFT("lease_until", 0, struct api_task, lease_until),
	AFT("created_at", 0, struct api_task, created_at),
	AFI("seq", 0, struct api_task, seq, 0, INT64_MAX),
	AFS("migrate_target", AF_NAME, 0, struct api_task, migrate_target),
	AFS("migrate_uri", AF_STR, 0, struct api_task, migrate_uri),
	AFS("migrate_listen", AF_STR, 0, struct api_task, migrate_listen),
	AFA("nics", 0, struct api_task, nics, &api_task_nic_schema),
	AFS("vol_id", AF_UUID, 0, struct api_task, vol_id),
	AFS("vol_name", AF_NAME, 0, struct api_task, vol_name),
	AFI("vol_size_gib", 0, struct api_task, vol_size_gib, 0,
	    API_VOL_SIZE_MAX),
	AFS("vol_dev", AF_STR, 0, struct api_task, vol_dev),
	AFSUB("cloud_init", 0, struct api_task, cloud_init,
	    &api_cloudinit_schema),
	AFI("console_offset", 0, struct api_task, console_offset, 0,
	    INT64_MAX),
	AFB("start", 0, struct api_task, start),
	AFE("on_crash", 0, struct api_task, on_crash, api_vm_on_crash_names),
};

static int
task_validate(const void *obj, struct vm_error *err)
{
	const struct api_task *t = obj;
	struct api_image empty;

	memset(&empty, 0, sizeof(empty));
	if (t->action == OPA_CREATE && memcmp(&t->image, &empty,
	    sizeof(empty)) == 0) {
		vm_error_set(err, API_EINVAL, "task: create needs an image");
		return -1;
	}
	if (t->action == OPA_MIGRATE && t->migrate_uri[0] == '\0') {
		vm_error_set(err, API_EINVAL, "task: migrate needs the target's "
		    "migrate_uri");
		return -1;
	}
	if (t->vol_dev[0] != '\0' && !api_vol_dev_valid(t->vol_dev)) {
		vm_error_set(err, API_EINVAL, "task.vol_dev: '%s' is not "
		    "vdb..vdz", t->vol_dev);
		return -1;
	}
	return 0;
}

const struct api_schema api_task_schema = {
	"task", task_fields, ARRAY_SIZE(task_fields), sizeof(struct api_task),
	task_validate
};

static const struct api_field result_fields[] = {
	AFS("task_id", AF_UUID, AF_REQ, struct api_task_result, task_id),
	AFB("ok", AF_REQ, struct api_task_result, ok),
	AFS("error", AF_STR, 0, struct api_task_result, error),
	AFE("dom_state", AF_REQ, struct api_task_result, dom_state,
	    api_dom_state_names),
	AFI("seq", 0, struct api_task_result, seq, 0, INT64_MAX),
};

const struct api_schema api_task_result_schema = {
	"result", result_fields, ARRAY_SIZE(result_fields),
	sizeof(struct api_task_result), NULL
};

static const struct api_field domain_fields[] = {
	AFS("id", AF_UUID, AF_REQ, struct api_domain, id),
	AFE("state", AF_REQ, struct api_domain, state, api_dom_state_names),
};

const struct api_schema api_domain_schema = {
	"domain", domain_fields, ARRAY_SIZE(domain_fields),
	sizeof(struct api_domain), NULL
};

int
api_decode_array(json_object *o, const char *key, const struct api_schema *s,
    size_t max, void **out, size_t *n, struct vm_error *err)
{
	json_object *arr = NULL;
	char *items = NULL;
	size_t i, len;

	*out = NULL;
	*n = 0;
	if (!json_object_object_get_ex(o, key, &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		vm_error_set(err, API_EINVAL, "%s: must be an array", key);
		return -1;
	}
	len = json_object_array_length(arr);
	if (len > max) {
		vm_error_set(err, API_EINVAL, "%s: more than %zu items", key,
		    max);
		return -1;
	}
	items = xcalloc(len ? len : 1, s->size);
	for (i = 0; i < len; i++) {
		if (api_decode(s, json_object_array_get_idx(arr, i),
		    items + i * s->size, API_STORED, err) < 0) {
			free(items);
			return -1;
		}
	}
	*out = items;
	*n = len;
	return 0;
}

json_object *
api_encode_array(const char *key, const struct api_schema *s,
    const void *items, size_t n)
{
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array_ext((int)n);
	const char *p = items;
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, api_encode(s, p + i * s->size));
	json_object_object_add(o, key, arr);
	return o;
}

int
api_heartbeat_decode(json_object *o, struct api_heartbeat *hb,
    struct vm_error *err)
{
	const char *host;
	void *doms = NULL;

	memset(hb, 0, sizeof(*hb));
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		vm_error_set(err, API_EINVAL, "heartbeat: must be an object");
		return -1;
	}
	{
		json_object_object_foreach(o, key, val) {
			(void)val;
			if (strcmp(key, "host") != 0 &&
			    strcmp(key, "domains") != 0 &&
			    strcmp(key, "seq") != 0 &&
			    strcmp(key, "full") != 0) {
				vm_error_set(err, API_EINVAL,
				    "heartbeat: unknown field '%.64s'", key);
				return -1;
			}
		}
	}
	host = json_get_str(o, "host");
	if (host == NULL || !api_name_valid(host)) {
		vm_error_set(err, API_EINVAL,
		    "heartbeat.host: missing or not a valid name");
		return -1;
	}
	str_copy(hb->host, sizeof(hb->host), host);
	{
		json_object *f = NULL;

		hb->full = true;
		if (json_object_object_get_ex(o, "full", &f)) {
			if (!json_object_is_type(f, json_type_boolean)) {
				vm_error_set(err, API_EINVAL,
				    "heartbeat.full: must be true or false");
				return -1;
			}
			hb->full = json_object_get_boolean(f);
		}
	}
	{
		json_object *sq = NULL;

		if (json_object_object_get_ex(o, "seq", &sq) && sq != NULL) {
			if (!json_object_is_type(sq, json_type_int) ||
			    json_object_get_int64(sq) < 0) {
				vm_error_set(err, API_EINVAL,
				    "heartbeat.seq: must be an integer >= 0");
				return -1;
			}
			hb->seq = json_object_get_int64(sq);
		}
	}
	if (api_decode_array(o, "domains", &api_domain_schema,
	    API_HEARTBEAT_MAX_DOMAINS, &doms, &hb->ndomains, err) < 0)
		return -1;
	hb->domains = doms;
	return 0;
}

json_object *
api_heartbeat_encode(const struct api_heartbeat *hb)
{
	json_object *o = api_encode_array("domains", &api_domain_schema,
	    hb->domains, hb->ndomains);

	json_object_object_add(o, "host", json_object_new_string(hb->host));
	json_object_object_add(o, "full", json_object_new_boolean(hb->full));
	json_object_object_add(o, "seq", json_object_new_int64(hb->seq));
	return o;
}

void
api_heartbeat_free(struct api_heartbeat *hb)
{
	if (hb == NULL)
		return;
	free(hb->domains);
	hb->domains = NULL;
	hb->ndomains = 0;
}
