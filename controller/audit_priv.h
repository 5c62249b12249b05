/*
 * audit_priv: controller/audit.c's internals exported for the unit test
 * (tests/unit/test_audit.c). Not for other modules: they append through
 * audit_append() and check through audit_verify().
 */
#ifndef VMCTL_CONTROLLER_AUDIT_PRIV_H
#define VMCTL_CONTROLLER_AUDIT_PRIV_H

#include "audit_event.h"
#include "error.h"

/* DB_META key of the chain's head: "SEQ HASH" (decimal seq, hex hash). */
#define AUDIT_HEAD_KEY "audit.head"

/* DB_META key of the anchor after pruning: "SEQ HASH MAC" (see audit.c). */
#define AUDIT_ANCHOR_KEY "audit.anchor"

struct audit_hmac {
	unsigned char key[32];		/* the secret */
	char id[API_AUDIT_KEY_ID_LEN + 1];	/* public id */
	int64_t since;			/* first seq keyed with it */
};

/*
 * The canonical text of ev: api_encode_text() of api_audit_event_schema
 * without the optional members at their default
 * (API_AUDIT_OPTIONAL_MEMBERS). What is hashed and what is stored.
 * Caller frees.
 */
char *audit_text(const struct api_audit_event *ev);

/* DB_AUDIT key of seq: 16 lower-case hex digits, into key[17]. */
void audit_key(int64_t seq, char key[17]);

/*
 * out = hex SHA-256 of ev->prev followed by the canonical JSON text of ev
 * (audit_text) with hash emptied; fails for a keyed event (ev->hash itself is ignored). Pure: same event, same
 * hash.
 */
int audit_hash(const struct api_audit_event *ev,
    char out[API_HASH_HEX_LEN + 1], struct vm_error *err);

#endif
