/*
 * miguri: which live-migration URIs a host may announce and an agent may
 * use (issue 8 item 4). A migration URI reaches libvirt, which runs
 * transports such as qemu+ext (any command) or qemu+ssh (options in the
 * query): only qemu+tls://HOST[:PORT]/system is accepted, qemu+tcp too
 * when plain migration is allowed by configuration, and the data URI is
 * tcp://HOST[:PORT]. No user part, query or fragment. Pure functions,
 * no allocation; shared by vmctld (register) and vmagentd (config, and
 * before it calls libvirt).
 */
#ifndef VMCTL_API_MIGURI_H
#define VMCTL_API_MIGURI_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define API_MIGHOST_MAX 254	/* host part, with a NUL */

/* A DNS name, an IPv4 address, or an IPv6 address in brackets. */
bool api_mighost_valid(const char *host);

/*
 * uri is "" or qemu+tls://HOST[:PORT]/system (qemu+tcp as well when
 * plain). When hosts != NULL, HOST must equal (case-insensitively) one of
 * the nhosts non-empty strings of hosts. what names the field in errors.
 * Returns 0 or -1 with err set (API_EINVAL).
 */
int api_miguri_check(const char *what, const char *uri, bool plain,
    const char *const *hosts, size_t nhosts, struct vm_error *err);

/* listen is "" or tcp://HOST[:PORT]; hosts as above. */
int api_migdata_check(const char *what, const char *listen,
    const char *const *hosts, size_t nhosts, struct vm_error *err);

/* True when uri is a qemu+tls:// URI (VIR_MIGRATE_TLS goes with it). */
bool api_miguri_is_tls(const char *uri);

#endif
