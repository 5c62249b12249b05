#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "miguri.h"

#define TLS_SCHEME "qemu+tls://"
#define TCP_SCHEME "qemu+tcp://"

bool
api_mighost_valid(const char *host)
{
	size_t i, n = strlen(host);

	if (n == 0 || n >= API_MIGHOST_MAX)
		return false;
	if (host[0] == '[') {
		if (n < 4 || host[n - 1] != ']')
			return false;
		for (i = 1; i < n - 1; i++)
			if (strchr("0123456789abcdefABCDEF:.", host[i]) ==
			    NULL)
				return false;
		return true;
	}
	if (host[0] == '-' || host[0] == '.' || host[n - 1] == '.' ||
	    host[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = host[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
		if (c == '.' && host[i + 1] == '.')
			return false;
	}
	return true;
}

/*
 * Split "HOST[:PORT]REST" at the start of s into host (copied) and the
 * rest; false when the host or the port is not valid.
 */
static bool
hostport_split(const char *s, char host[API_MIGHOST_MAX], const char **rest)
{
	const char *p, *end;
	size_t n;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL)
			return false;
		end++;
	} else {
		end = s + strcspn(s, ":/?#@");
	}
	n = (size_t)(end - s);
	if (n == 0 || n >= API_MIGHOST_MAX)
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (!api_mighost_valid(host))
		return false;
	p = end;
	if (*p == ':') {
		long port = 0;
		size_t digits = 0;

		p++;
		while (*p >= '0' && *p <= '9' && digits < 6) {
			port = port * 10 + (*p - '0');
			p++;
			digits++;
		}
		if (digits == 0 || port < 1 || port > 65535)
			return false;
	}
	*rest = p;
	return true;
}

/* Is host one of hosts (any host when hosts is NULL)? -1 + err if not. */
static int
host_check(const char *what, const char *host, const char *const *hosts,
    size_t nhosts, struct vm_error *err)
{
	size_t i;

	if (hosts == NULL)
		return 0;
	for (i = 0; i < nhosts; i++)
		if (hosts[i] != NULL && hosts[i][0] != '\0' &&
		    strcasecmp(hosts[i], host) == 0)
			return 0;
	vm_error_set(err, API_EINVAL, "%s: the host part must be this "
	    "host's enrolled name or address", what);
	return -1;
}

bool
api_miguri_is_tls(const char *uri)
{
	return strncmp(uri, TLS_SCHEME, strlen(TLS_SCHEME)) == 0;
}

int
api_miguri_check(const char *what, const char *uri, bool plain,
    const char *const *hosts, size_t nhosts, struct vm_error *err)
{
	char host[API_MIGHOST_MAX];
	const char *p, *rest;

	if (uri[0] == '\0')
		return 0;
	if (api_miguri_is_tls(uri))
		p = uri + strlen(TLS_SCHEME);
	else if (plain && strncmp(uri, TCP_SCHEME, strlen(TCP_SCHEME)) == 0)
		p = uri + strlen(TCP_SCHEME);
	else {
		vm_error_set(err, API_EINVAL, "%s: only qemu+tls://HOST/system "
		    "%sis accepted for live migration", what, plain ?
		    "or qemu+tcp://HOST/system " : "(plain qemu+tcp only when "
		    "the configuration allows it) ");
		return -1;
	}
	if (!hostport_split(p, host, &rest) || strcmp(rest, "/system") != 0) {
		vm_error_set(err, API_EINVAL, "%s: must be exactly "
		    "SCHEME://HOST[:PORT]/system (no user, query or "
		    "fragment)", what);
		return -1;
	}
	return host_check(what, host, hosts, nhosts, err);
}

int
api_migdata_check(const char *what, const char *listen,
    const char *const *hosts, size_t nhosts, struct vm_error *err)
{
	char host[API_MIGHOST_MAX];
	const char *rest;

	if (listen[0] == '\0')
		return 0;
	if (strncmp(listen, "tcp://", 6) != 0 ||
	    !hostport_split(listen + 6, host, &rest) ||
	    (rest[0] != '\0' && strcmp(rest, "/") != 0)) {
		vm_error_set(err, API_EINVAL, "%s: must be tcp://HOST[:PORT]",
		    what);
		return -1;
	}
	return host_check(what, host, hosts, nhosts, err);
}
