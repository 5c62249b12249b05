/*
 * tls: the [tls] settings of vmctld. The PEM files are read and checked
 * here, before libmicrohttpd sees them, so a bad file stops the daemon
 * with a message naming the setting and the file instead of MHD's
 * "failed to setup TLS credentials". server_start() hands the PEM text to
 * MHD (MHD_OPTION_HTTPS_MEM_*); authorize() calls tls_agent_check() for
 * agent routes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define TLS_PEM_MAX	(1u << 20)	/* a PEM file larger than this is wrong */

bool
tls_configured(const struct ctl_config *cfg)
{
	return cfg->tls_cert_file[0] != '\0' || cfg->tls_key_file[0] != '\0' ||
	    cfg->tls_client_ca_file[0] != '\0';
}

/* ---------------------------------------------------------------- loading */

/*
 * Read the PEM file of setting `what` into *out (owned). A private key
 * (secret) readable by others is refused; readable by its group it is
 * accepted with a warning (root:vmctl 0640 is a common layout).
 */
static int
tls_read_pem(const char *what, const char *path, bool secret, char **out,
    struct vm_error *err)
{
	struct buf b = { NULL, 0, 0 };
	struct stat st;
	char chunk[4096];
	ssize_t n;
	int fd = -1, ret = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		vm_error_set(err, API_EINVAL, "%s: cannot read %s: %s", what,
		    path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		vm_error_set(err, API_EINVAL, "%s: %s is not a regular file",
		    what, path);
		goto cleanup;
	}
	if (secret && (st.st_mode & 007) != 0) {
		vm_error_set(err, API_EINVAL, "%s: %s is readable by other "
		    "users (mode %04o): the private key must be mode 0600 "
		    "(or 0640 for a group of the daemon); chmod o-rwx it",
		    what, path, (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	if (secret && (st.st_mode & 070) != 0)
		log_warnx("%s: %s is readable by its group (mode %04o); "
		    "make sure only vmctld's group is that group", what, path,
		    (unsigned)(st.st_mode & 07777));
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vm_error_set(err, API_EINVAL, "%s: cannot read %s: %s",
			    what, path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > TLS_PEM_MAX) {
			vm_error_set(err, API_EINVAL, "%s: %s is larger than "
			    "%u bytes: not a PEM file", what, path, TLS_PEM_MAX);
			goto cleanup;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	if (b.len == 0) {
		vm_error_set(err, API_EINVAL, "%s: %s is empty", what, path);
		goto cleanup;
	}
	*out = b.data;
	b.data = NULL;
	ret = 0;
cleanup:
	if (b.data != NULL)
		memset(b.data, 0, b.len);
	buf_free(&b);
	explicit_bzero(chunk, sizeof(chunk));
	if (fd >= 0)
		close(fd);
	return ret;
}

static gnutls_datum_t
tls_datum(const char *pem)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)pem;
	d.size = (unsigned int)strlen(pem);
	return d;
}

/*
 * The server certificate: at least one PEM certificate; warn when the
 * first (the server's own) is expired or not yet valid, since agents and
 * the CLI will refuse it.
 */
static int
tls_check_cert(const char *path, const char *pem, struct vm_error *err)
{
	gnutls_x509_crt_t *list = NULL;
	gnutls_datum_t d = tls_datum(pem);
	unsigned int n = 0, i;
	time_t now = time(NULL), t;
	int rc;

	rc = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM,
	    0);
	if (rc < 0 || n == 0) {
		vm_error_set(err, API_EINVAL, "tls.cert_file: %s: no PEM "
		    "certificate in it (%s)", path,
		    rc < 0 ? gnutls_strerror(rc) : "empty");
		return -1;
	}
	t = gnutls_x509_crt_get_expiration_time(list[0]);
	if (t != (time_t)-1 && t < now)
		log_warnx("tls.cert_file: %s: the certificate has expired; "
		    "clients will refuse it", path);
	t = gnutls_x509_crt_get_activation_time(list[0]);
	if (t != (time_t)-1 && t > now)
		log_warnx("tls.cert_file: %s: the certificate is not valid "
		    "yet; clients will refuse it", path);
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return 0;
}

/* The key parses (unencrypted PEM) and belongs to the certificate. */
static int
tls_check_pair(const struct ctl_config *cfg, const struct tls *t,
    struct vm_error *err)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_x509_privkey_t key = NULL;
	gnutls_datum_t kd = tls_datum(t->tls_key_pem);
	gnutls_datum_t cd = tls_datum(t->tls_cert_pem);
	int rc, ret = -1;

	if (gnutls_x509_privkey_init(&key) < 0 ||
	    gnutls_certificate_allocate_credentials(&cred) < 0)
		fatalx("gnutls: out of memory");
	rc = gnutls_x509_privkey_import2(key, &kd, GNUTLS_X509_FMT_PEM, NULL,
	    0);
	if (rc < 0) {
		vm_error_set(err, API_EINVAL, "tls.key_file: %s: not an "
		    "unencrypted PEM private key (%s)", cfg->tls_key_file,
		    gnutls_strerror(rc));
		goto cleanup;
	}
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd,
	    GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		vm_error_set(err, API_EINVAL, "tls.key_file: %s is not the key "
		    "of the certificate in tls.cert_file %s", cfg->tls_key_file,
		    cfg->tls_cert_file);
		goto cleanup;
	}
	if (rc < 0) {
		vm_error_set(err, API_EINVAL, "tls.cert_file, tls.key_file: "
		    "%s, %s: unusable: %s", cfg->tls_cert_file,
		    cfg->tls_key_file, gnutls_strerror(rc));
		goto cleanup;
	}
	ret = 0;
cleanup:
	gnutls_x509_privkey_deinit(key);
	gnutls_certificate_free_credentials(cred);
	return ret;
}

/* The client CA file holds at least one certificate. */
static int
tls_check_trust(const char *path, const char *pem, struct vm_error *err)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t d = tls_datum(pem);
	int rc;

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		fatalx("gnutls: out of memory");
	rc = gnutls_certificate_set_x509_trust_mem(cred, &d,
	    GNUTLS_X509_FMT_PEM);
	gnutls_certificate_free_credentials(cred);
	if (rc <= 0) {
		vm_error_set(err, API_EINVAL, "tls.client_ca_file: %s: no PEM "
		    "CA certificate in it (%s)", path,
		    rc < 0 ? gnutls_strerror(rc) : "none found");
		return -1;
	}
	return 0;
}

int
tls_load(const struct ctl_config *cfg, struct tls **out,
    struct vm_error *err)
{
	struct tls *t = xcalloc(1, sizeof(*t));

	*out = NULL;
	if (cfg->tls_cert_file[0] == '\0' || cfg->tls_key_file[0] == '\0') {
		vm_error_set(err, API_EINVAL, "tls.cert_file and tls.key_file: "
		    "HTTPS needs both (a PEM certificate and its key)");
		goto fail;
	}
	if (cfg->tls_require_agent_cert && cfg->tls_client_ca_file[0] == '\0') {
		vm_error_set(err, API_EINVAL, "tls.require_agent_client_cert: "
		    "needs tls.client_ca_file (the CA of the agents' "
		    "certificates)");
		goto fail;
	}
	if (tls_read_pem("tls.cert_file", cfg->tls_cert_file, false,
	    &t->tls_cert_pem, err) < 0 ||
	    tls_check_cert(cfg->tls_cert_file, t->tls_cert_pem, err) < 0 ||
	    tls_read_pem("tls.key_file", cfg->tls_key_file, true,
	    &t->tls_key_pem, err) < 0 ||
	    tls_check_pair(cfg, t, err) < 0)
		goto fail;
	if (cfg->tls_client_ca_file[0] != '\0' &&
	    (tls_read_pem("tls.client_ca_file", cfg->tls_client_ca_file,
	    false, &t->tls_trust_pem, err) < 0 ||
	    tls_check_trust(cfg->tls_client_ca_file, t->tls_trust_pem,
	    err) < 0))
		goto fail;
	*out = t;
	return 0;
fail:
	tls_free(t);
	return -1;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	free(t->tls_cert_pem);
	if (t->tls_key_pem != NULL)
		explicit_bzero(t->tls_key_pem, strlen(t->tls_key_pem));
	free(t->tls_key_pem);
	free(t->tls_trust_pem);
	free(t);
}

/* ---------------------------------------------------------------- peers */

int
tls_peer_cn(struct MHD_Connection *conn, char *cn, size_t size,
    struct vm_error *err)
{
	static char purpose[] = GNUTLS_KP_TLS_WWW_CLIENT;
	gnutls_typed_vdata_st vd = { GNUTLS_DT_KEY_PURPOSE_OID,
	    (unsigned char *)purpose, 0 };
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *peers;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t why = { NULL, 0 };
	gnutls_session_t s;
	unsigned int n = 0, status = 0;
	size_t len = size;
	int rc, ret = -1;

	cn[0] = '\0';
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL) {
		vm_error_set(err, API_EFORBIDDEN, "client certificate required, "
		    "but this is not a TLS connection");
		goto cleanup;
	}
	s = (gnutls_session_t)ci->tls_session;
	peers = gnutls_certificate_get_peers(s, &n);
	if (peers == NULL || n == 0) {
		vm_error_set(err, API_EFORBIDDEN, "no client certificate "
		    "presented");
		goto cleanup;
	}
	rc = gnutls_certificate_verify_peers(s, &vd, 1, &status);
	if (rc < 0) {
		vm_error_set(err, API_EFORBIDDEN, "client certificate not "
		    "verified: %s", gnutls_strerror(rc));
		goto cleanup;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &why, 0) < 0)
			why.data = NULL;
		vm_error_set(err, API_EFORBIDDEN, "client certificate not "
		    "trusted by tls.client_ca_file: %s", why.data != NULL ?
		    (const char *)why.data : "verification failed");
		goto cleanup;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		fatalx("gnutls: out of memory");
	rc = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		vm_error_set(err, API_EFORBIDDEN, "client certificate "
		    "unreadable: %s", gnutls_strerror(rc));
		goto cleanup;
	}
	rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, cn, &len);
	/* A CN with a NUL inside (a classic spoof) counts as none. */
	if (rc < 0 || len == 0 || strlen(cn) != len) {
		cn[0] = '\0';
		vm_error_set(err, API_EFORBIDDEN, "client certificate has no "
		    "usable CN (%s)", rc < 0 ? gnutls_strerror(rc) : "empty");
		goto cleanup;
	}
	ret = 0;
cleanup:
	gnutls_free(why.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

int
tls_agent_check(const struct ctl_config *cfg, struct MHD_Connection *conn,
    const char *host, struct vm_error *err)
{
	struct vm_error e = { 0, "" };
	char cn[256];

	if (!cfg->tls_require_agent_cert)
		return 0;
	if (tls_peer_cn(conn, cn, sizeof(cn), &e) < 0) {
		vm_error_set(err, API_EFORBIDDEN, "host %s: %s "
		    "(tls.require_agent_client_cert: agents must present a "
		    "certificate from tls.client_ca_file whose CN is their "
		    "host name)", host, e.message);
		log_warnx("agent %s refused: %s", host, e.message);
		return -1;
	}
	if (strcmp(cn, host) != 0) {
		vm_error_set(err, API_EFORBIDDEN, "host %s: client certificate "
		    "CN '%.63s' is not the token's host name "
		    "(tls.require_agent_client_cert)", host, cn);
		log_warnx("agent %s refused: client certificate CN '%.63s'",
		    host, cn);
		return -1;
	}
	return 0;
}
