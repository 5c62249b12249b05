/*
 * cloudinit: what a VM gets through its NoCloud seed besides its name and
 * NICs: user-data (text, up to 32 KiB) and SSH public keys (one OpenSSH
 * key per line). Given at creation, kept by the controller apart from the
 * VM row (never answered back: user-data may hold secrets), and carried
 * to the agent by the create task. Codec only; no allocation.
 */
#ifndef VMCTL_API_CLOUDINIT_H
#define VMCTL_API_CLOUDINIT_H

#include "codec.h"

#define API_USERDATA_MAX	(32 * 1024 + 1)
#define API_SSHKEYS_MAX		(16 * 1024 + 1)
#define API_SSHKEYS_COUNT	32	/* keys per VM */
#define API_SSHKEY_LINE_MAX	8192	/* one key, comment included */

struct api_cloudinit {
	char user_data[API_USERDATA_MAX];	/* "" = none */
	char ssh_keys[API_SSHKEYS_MAX];		/* LF-separated keys */
};
extern const struct api_schema api_cloudinit_schema;

/*
 * One OpenSSH public key line: TYPE BASE64 [COMMENT], TYPE a known key
 * type, BASE64 decoding to a blob that starts with TYPE, the comment
 * printable ASCII.
 */
bool api_ssh_key_valid(const char *line, size_t len);

#endif
