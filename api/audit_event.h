/*
 * audit_event: one entry of the controller's audit trail and the report
 * of GET /v1/audit/verify. Codec only (the chain lives in
 * controller/audit.c). Strings are fixed arrays: a decoded struct owns
 * nothing. The field order of the table is part of the hash: see
 * api_audit_event_schema in audit_event.c before changing it.
 */
#ifndef VMCTL_API_AUDIT_EVENT_H
#define VMCTL_API_AUDIT_EVENT_H

#include "codec.h"

#define API_AUDIT_METHOD_MAX 16
#define API_AUDIT_SOURCE_MAX 64		/* peer address text */
#define API_AUDIT_PATH_MAX 256		/* request path, <= 255 chars */
#define API_AUDIT_OBJECT_MAX 128	/* what the request touched */
#define API_HASH_HEX_LEN 64		/* SHA-256 as lower-case hex */
#define API_AUDIT_KEY_ID_LEN 16		/* key_id: 16 lower-case hex digits */

/* What became of the request. */
enum api_audit_result {
	AUDIT_OK,	/* done (2xx) */
	AUDIT_REFUSED,	/* 4xx: unauthenticated, forbidden, invalid, ... */
	AUDIT_FAILED,	/* 5xx: the controller could not do it */
};
extern const char *const api_audit_result_names[];

struct api_audit_event {
	int64_t seq;			/* 1, 2, ...: position in the chain */
	int64_t time;			/* ms since the epoch */
	char user[API_NAME_MAX];	/* caller when a user; may be "" */
	char host[API_NAME_MAX];	/* caller when an agent host; may be "" */
	char agency[API_NAME_MAX];	/* caller's agency; may be "" */
	char source[API_AUDIT_SOURCE_MAX];	/* peer address */
	char method[API_AUDIT_METHOD_MAX];
	char path[API_AUDIT_PATH_MAX];	/* without the query string */
	char object[API_AUDIT_OBJECT_MAX];	/* e.g. "vm/UUID"; may be "" */
	int64_t status;			/* HTTP status answered */
	int result;			/* enum api_audit_result */
	char message[API_TEXT_MAX];	/* error message, or a summary */
	/*
	 * Requests this event stands for: 1 (0 in events written before
	 * the field existed: read as 1) for one request; N for refusals
	 * aggregated over an interval (controller/auditagg.c).
	 */
	int64_t count;
	/*
	 * "" = hash is plain SHA-256 (events before the chain was keyed);
	 * else the id of the key whose HMAC-SHA256 hash is (audit.key_file).
	 */
	char key_id[API_AUDIT_KEY_ID_LEN + 1];
	char prev[API_HASH_HEX_LEN + 1];	/* hash of event seq - 1 */
	char hash[API_HASH_HEX_LEN + 1];	/* this event's hash */
	/*
	 * GET /v1/audit only, never stored nor hashed: true for an entry
	 * that does not decode (then only seq is set).
	 */
	bool corrupt;
};
extern const struct api_schema api_audit_event_schema;

/* GET /v1/audit/verify; first_bad 0 = none (null on the wire). */
struct api_audit_verify {
	bool ok;
	int64_t events;			/* entries in the log */
	int64_t first_bad;		/* seq where the chain first breaks */
	char reason[API_TEXT_MAX];	/* what is wrong there; "" when ok */
	int64_t anchor;			/* events up to this seq were pruned */
	char key_id[API_AUDIT_KEY_ID_LEN + 1];	/* chain key; "" = none */
};
extern const struct api_schema api_audit_verify_schema;

/*
 * Names of the members that audit.c leaves out of the hashed canonical
 * text when they hold their default (count 1 or 0, key_id "", corrupt
 * false), so events written before they existed keep their hash.
 */
#define API_AUDIT_OPTIONAL_MEMBERS { "count", "key_id", "corrupt" }

/* True for exactly 64 lower-case hex digits. */
bool api_hash_hex_valid(const char *s);

#endif
