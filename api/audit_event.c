#include "config.h"

#include <string.h>

#include "audit_event.h"
#include "errors.h"

const char *const api_audit_result_names[] = {
	"ok", "refused", "failed", NULL
};

bool
api_hash_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; i < API_HASH_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

static int
event_validate(const void *obj, struct vm_error *err)
{
	const struct api_audit_event *ev = obj;

	if (ev->user[0] != '\0' && ev->host[0] != '\0') {
		vm_error_set(err, API_EINVAL,
		    "audit_event: user and host are exclusive");
		return -1;
	}
	/* hash is empty in the canonical form that gets hashed. */
	if ((ev->prev[0] != '\0' && !api_hash_hex_valid(ev->prev)) ||
	    (ev->hash[0] != '\0' && !api_hash_hex_valid(ev->hash))) {
		vm_error_set(err, API_EINVAL,
		    "audit_event: prev and hash must be 64 lower-case hex "
		    "digits");
		return -1;
	}
	if (ev->key_id[0] != '\0' && (strlen(ev->key_id) !=
	    API_AUDIT_KEY_ID_LEN || strspn(ev->key_id, "0123456789abcdef") !=
	    API_AUDIT_KEY_ID_LEN)) {
		vm_error_set(err, API_EINVAL,
		    "audit_event: key_id must be 16 lower-case hex digits");
		return -1;
	}
	return 0;
}

/*
 * The order of this table is the order of the members in the canonical
 * JSON text that controller/audit.c hashes (api_encode_text: compact,
 * members in table order, empty strings and time 0 as null). Any change
 * here (order, names, types, a new field) changes the hash of every
 * stored event, so existing logs would no longer verify: such a change
 * needs a versioned chain, not an edit. The exceptions are the members
 * of API_AUDIT_OPTIONAL_MEMBERS (count, key_id, corrupt), added later:
 * the canonical text leaves them out while they hold their default, so
 * the events written before them hash as they always did.
 */
static const struct api_field event_fields[] = {
	AFI("seq", AF_RO, struct api_audit_event, seq, 1, INT64_MAX),
	AFT("time", AF_RO, struct api_audit_event, time),
	AFS("user", AF_NAME, AF_RO, struct api_audit_event, user),
	AFS("host", AF_NAME, AF_RO, struct api_audit_event, host),
	AFS("agency", AF_NAME, AF_RO, struct api_audit_event, agency),
	AFS("source", AF_STR, AF_RO, struct api_audit_event, source),
	AFS("method", AF_STR, AF_RO, struct api_audit_event, method),
	AFS("path", AF_STR, AF_RO, struct api_audit_event, path),
	AFS("object", AF_STR, AF_RO, struct api_audit_event, object),
	AFI("status", AF_RO, struct api_audit_event, status, 100, 599),
	AFE("result", AF_RO, struct api_audit_event, result,
	    api_audit_result_names),
	AFS("message", AF_STR, AF_RO, struct api_audit_event, message),
	AFI("count", AF_RO, struct api_audit_event, count, 1, INT64_MAX),
	AFS("key_id", AF_STR, AF_RO, struct api_audit_event, key_id),
	AFS("prev", AF_STR, AF_RO, struct api_audit_event, prev),
	AFS("hash", AF_STR, AF_RO, struct api_audit_event, hash),
	AFB("corrupt", AF_RO, struct api_audit_event, corrupt),
};

const struct api_schema api_audit_event_schema = {
	"audit_event", event_fields, ARRAY_SIZE(event_fields),
	sizeof(struct api_audit_event), event_validate
};

static const struct api_field verify_fields[] = {
	AFB("ok", AF_RO, struct api_audit_verify, ok),
	AFI("events", AF_RO, struct api_audit_verify, events, 0, INT64_MAX),
	AFI("first_bad", AF_RO, struct api_audit_verify, first_bad, 0,
	    INT64_MAX),
	AFS("reason", AF_STR, AF_RO, struct api_audit_verify, reason),
	AFI("anchor", AF_RO, struct api_audit_verify, anchor, 0, INT64_MAX),
	AFS("key_id", AF_STR, AF_RO, struct api_audit_verify, key_id),
};

const struct api_schema api_audit_verify_schema = {
	"audit_verify", verify_fields, ARRAY_SIZE(verify_fields),
	sizeof(struct api_audit_verify), NULL
};
