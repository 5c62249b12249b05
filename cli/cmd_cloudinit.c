/*
 * vm create --user-data FILE --ssh-key FILE: read and check the files
 * into an api_cloudinit (the "cloud_init" member of the create body).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cloudinit.h"

int
cli_read_user_data(const struct cli_ctx *ctx, const char *opt,
    const char *path, struct api_cloudinit *ci)
{
	char *text = NULL;
	size_t len = 0, i;
	int ret = -1;

	if (file_read(path, API_USERDATA_MAX - 1, &text, &len) < 0) {
		cli_usage_error(ctx, "%s: %s: %s", opt, path, errno == EFBIG ?
		    "larger than 32768 bytes" : strerror(errno));
		goto cleanup;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f) {
			cli_usage_error(ctx, "%s: %s: not a text file (byte "
			    "0x%02x at offset %zu)", opt, path, c, i);
			goto cleanup;
		}
	}
	str_copy(ci->user_data, sizeof(ci->user_data), text);
	ret = 0;
cleanup:
	free(text);
	return ret;
}

int
cli_read_ssh_keys(const struct cli_ctx *ctx, const char *opt,
    const char *path, struct api_cloudinit *ci)
{
	char *text = NULL;
	const char *p;
	size_t len = 0;
	int lineno = 0, ret = -1;

	if (file_read(path, API_SSHKEYS_MAX - 1, &text, &len) < 0) {
		cli_usage_error(ctx, "%s: %s: %s", opt, path, errno == EFBIG ?
		    "too large" : strerror(errno));
		goto cleanup;
	}
	for (p = text; *p != '\0';) {
		size_t n = strcspn(p, "\n"), l = n;

		lineno++;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > 0 && p[0] != '#') {
			if (!api_ssh_key_valid(p, l)) {
				cli_usage_error(ctx, "%s: %s line %d: not an "
				    "OpenSSH public key (TYPE BASE64 [COMMENT]; "
				    "give the .pub file)", opt, path, lineno);
				goto cleanup;
			}
			if (strlen(ci->ssh_keys) + l + 2 > sizeof(ci->ssh_keys)) {
				cli_usage_error(ctx, "%s: too many keys",
				    opt);
				goto cleanup;
			}
			{
				size_t at = strlen(ci->ssh_keys);

				memcpy(ci->ssh_keys + at, p, l);
				ci->ssh_keys[at + l] = '\n';
				ci->ssh_keys[at + l + 1] = '\0';
			}
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	ret = 0;
cleanup:
	free(text);
	return ret;
}
