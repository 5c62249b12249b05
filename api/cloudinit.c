#include "config.h"

#include <stdint.h>
#include <string.h>

#include "cloudinit.h"
#include "errors.h"

static const char *const ssh_key_types[] = {
	"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
	"sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
	NULL
};

static int
b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode the first out_len bytes of base64 text b64[0..n). */
static bool
b64_prefix(const char *b64, size_t n, unsigned char *out, size_t out_len)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4 != 0)
		return false;
	for (i = 0; i < n; i++) {
		int v;

		if (b64[i] == '=') {
			/* padding only at the very end */
			if (i < n - 2 || (i == n - 2 && b64[n - 1] != '='))
				return false;
			break;
		}
		if ((v = b64_val(b64[i])) < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < out_len)
				out[o] = (unsigned char)(acc >> bits);
			o++;
		}
	}
	return o >= out_len;
}

bool
api_ssh_key_valid(const char *line, size_t len)
{
	const char *sp, *b64, *end = line + len, *c;
	unsigned char blob[64];
	size_t tlen, blen, i;
	int t;

	if (len == 0 || len >= API_SSHKEY_LINE_MAX)
		return false;
	sp = memchr(line, ' ', len);
	if (sp == NULL)
		return false;
	tlen = (size_t)(sp - line);
	for (t = 0; ssh_key_types[t] != NULL; t++)
		if (strlen(ssh_key_types[t]) == tlen &&
		    memcmp(ssh_key_types[t], line, tlen) == 0)
			break;
	if (ssh_key_types[t] == NULL)
		return false;
	b64 = sp + 1;
	for (c = b64; c < end && *c != ' '; c++)
		;
	blen = (size_t)(c - b64);
	/* The blob starts with uint32 length + the type name again. */
	if (blen < 16 || 4 + tlen > sizeof(blob) ||
	    !b64_prefix(b64, blen, blob, 4 + tlen))
		return false;
	if (((size_t)blob[0] << 24 | (size_t)blob[1] << 16 |
	    (size_t)blob[2] << 8 | blob[3]) != tlen ||
	    memcmp(blob + 4, line, tlen) != 0)
		return false;
	for (i = 0; c + i < end; i++)
		if (c[i] < 0x20 || c[i] > 0x7e)
			return false;
	return true;
}

static int
cloudinit_validate(const void *obj, struct vm_error *err)
{
	const struct api_cloudinit *ci = obj;
	const char *p = ci->ssh_keys;
	int n = 0, lineno = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");
		size_t l = len;

		lineno++;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > 0) {
			if (!api_ssh_key_valid(p, l)) {
				vm_error_set(err, API_EINVAL, "cloud_init."
				    "ssh_keys: line %d is not an OpenSSH public "
				    "key (TYPE BASE64 [COMMENT], one per line)",
				    lineno);
				return -1;
			}
			if (++n > API_SSHKEYS_COUNT) {
				vm_error_set(err, API_EINVAL, "cloud_init."
				    "ssh_keys: at most %d keys",
				    API_SSHKEYS_COUNT);
				return -1;
			}
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

static const struct api_field cloudinit_fields[] = {
	AFS("user_data", AF_TEXT, 0, struct api_cloudinit, user_data),
	AFS("ssh_keys", AF_TEXT, 0, struct api_cloudinit, ssh_keys),
};

const struct api_schema api_cloudinit_schema = {
	"cloud_init", cloudinit_fields, ARRAY_SIZE(cloudinit_fields),
	sizeof(struct api_cloudinit), cloudinit_validate
};
