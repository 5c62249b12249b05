/*
 * tls: vmctld's HTTPS material ([tls] in vmctld.conf) and the agents'
 * client-certificate check. tls_load() reads and checks the PEM files
 * once at startup into a struct tls that server.c owns for the life of
 * the MHD daemon (MHD keeps pointers to the PEM text). tls_peer_cn() and
 * tls_agent_check() run on MHD's threads and only read the connection's
 * GnuTLS session: no locking.
 */
#ifndef VMCTL_CONTROLLER_TLS_H
#define VMCTL_CONTROLLER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "ctl.h"
#include "error.h"

struct MHD_Connection;

/*
 * TLS 1.2 and 1.3 only; forward-secret key exchange only (ECDHE, DHE:
 * no static RSA), AEAD ciphers only (AES-GCM, ChaCha20-Poly1305, AES-CCM:
 * no CBC, so no SHA1/SHA256 record MACs), and the server's order wins.
 */
#define TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:" \
	"+VERS-TLS1.2:-RSA:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
	"+AES-128-GCM:+AES-256-CCM:+AES-128-CCM:-MAC-ALL:+AEAD:" \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:%SERVER_PRECEDENCE"

struct tls {
	char *tls_cert_pem;	/* owned; server certificate (chain) */
	char *tls_key_pem;	/* owned; its private key, wiped by tls_free() */
	char *tls_trust_pem;	/* owned; client CAs; NULL = no client certs */
};

/* Does [tls] ask for HTTPS (any of cert_file, key_file, client_ca_file)? */
bool tls_configured(const struct ctl_config *cfg);

/*
 * Read and check [tls]: both files given, key not readable by others,
 * a certificate and a private key that match, a CA file holding at least
 * one certificate; require_agent_client_cert needs client_ca_file.
 * Errors name the setting and the file. *out is owned by the caller
 * (tls_free()).
 */
int tls_load(const struct ctl_config *cfg, struct tls **out,
    struct vm_error *err);
/* Accepts NULL. */
void tls_free(struct tls *t);

/*
 * The CN of the client certificate of conn, after verifying it against
 * tls.client_ca_file for TLS client use (GnuTLS session of the
 * connection). API_EFORBIDDEN with the reason when there is none, it is
 * not trusted or has no CN.
 */
int tls_peer_cn(struct MHD_Connection *conn, char *cn, size_t size,
    struct vm_error *err);

/*
 * For the agent routes (/v1/agent/...), after the host token passed: with
 * tls.require_agent_client_cert, conn must carry a trusted client
 * certificate whose CN is host (the token's host). 0 when not required
 * or good; -1 and API_EFORBIDDEN otherwise.
 */
int tls_agent_check(const struct ctl_config *cfg, struct MHD_Connection *conn,
    const char *host, struct vm_error *err);

#endif
