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

/* DB_AUDIT key of seq: 16 lower-case hex digits, into key[17]. */
void audit_key(int64_t seq, char key[17]);

/*
 * out = hex SHA-256 of ev->prev followed by the canonical JSON text of ev
 * with hash emptied (ev->hash itself is ignored). Pure: same event, same
 * hash.
 */
int audit_hash(const struct api_audit_event *ev,
    char out[API_HASH_HEX_LEN + 1], struct vm_error *err);

#endif
