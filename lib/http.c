#include "config.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define HTTP_MAX_RESPONSE (64u << 20)

static void http_headers_free(struct curl_slist *h);

struct http_client {
	CURL *curl;			/* owned */
	char *base;			/* owned */
	long timeout_ms;
	int errcode;			/* code for transport failures */
	struct curl_slist *headers;	/* owned */
	char *ca_file;			/* owned; NULL = system CAs */
	char *cert_file;		/* owned; NULL = no client cert */
	char *key_file;			/* owned; NULL = key in cert_file */
};

void
http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

struct http_client *
http_client_new(const char *base_url, long timeout_ms)
{
	struct http_client *c = xcalloc(1, sizeof(*c));
	size_t n;

	c->curl = curl_easy_init();
	if (c->curl == NULL)
		fatalx("curl_easy_init");
	c->base = xstrdup(base_url);
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->timeout_ms = timeout_ms;
	c->errcode = 1;
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Accept: application/json");
	c->headers = curl_slist_append(c->headers, "Expect:");
	return c;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	http_headers_free(c->headers);
	free(c->base);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c);
}

void
http_client_set_errcode(struct http_client *c, int code)
{
	c->errcode = code;
}

/* NULL or "" -> NULL, else an owned copy. */
static char *
http_opt_path(const char *path)
{
	return path != NULL && path[0] != '\0' ? xstrdup(path) : NULL;
}

void
http_client_set_tls(struct http_client *c, const char *ca_file,
    const char *cert_file, const char *key_file)
{
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	c->ca_file = http_opt_path(ca_file);
	c->cert_file = http_opt_path(cert_file);
	c->key_file = http_opt_path(key_file);
}

void
http_client_add_header(struct http_client *c, const char *header)
{
	c->headers = curl_slist_append(c->headers, header);
}

static size_t
http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n > HTTP_MAX_RESPONSE)
		return 0;
	buf_append(b, ptr, n);
	return n;
}

/* What the callbacks fill during one request. */
struct http_io {
	struct buf body;
	int64_t retry_after_s;
};

/* "Retry-After: 3" (seconds; an HTTP date is taken as "soon": 1). */
static size_t
http_header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
	static const char name[] = "retry-after:";
	struct http_io *io = userdata;
	size_t n = size * nitems, i;
	long long v = 0;
	bool digits = false;

	if (n <= sizeof(name) - 1 || strncasecmp(ptr, name,
	    sizeof(name) - 1) != 0)
		return n;
	for (i = sizeof(name) - 1; i < n && (ptr[i] == ' ' ||
	    ptr[i] == '\t'); i++)
		;
	for (; i < n && isdigit((unsigned char)ptr[i]) && v < 86400000; i++) {
		v = v * 10 + (ptr[i] - '0');
		digits = true;
	}
	io->retry_after_s = digits ? v : 1;
	return n;
}

static bool
http_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return true;
	default:
		return false;
	}
}

/* Wipe header copies (they may hold a token) and free them. */
static void
http_headers_free(struct curl_slist *h)
{
	struct curl_slist *p;

	for (p = h; p != NULL; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

int
http_request_ex(struct http_client *c, const char *method, const char *path,
    const char *body, const char *extra_header, long timeout_ms,
    struct http_resp *r, struct vm_error *err)
{
	struct http_io io = { { NULL, 0, 0 }, -1 };
	struct curl_slist *hdrs = NULL, *p;
	char *url = xasprintf("%s%s", c->base, path);
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	/* A fresh list per request: a one-off header never leaks on. */
	for (p = c->headers; p != NULL; p = p->next)
		hdrs = curl_slist_append(hdrs, p->data);
	if (extra_header != NULL)
		hdrs = curl_slist_append(hdrs, extra_header);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
	    timeout_ms > 0 ? timeout_ms : c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &io.body);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &io);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* curl_easy_reset() restores these defaults; say them anyway. */
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	/* TLS 1.2 at least, like the controller (controller/tls.h). */
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca_file != NULL) {
		/* Only these CAs: no system CA directory (and no scan of it). */
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
	}
	if (c->cert_file != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (c->key_file != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->key_file);
		curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	}
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		r->tls_failed = http_tls_error(rc);
		vm_error_set(err, c->errcode, "%s %s: %s", method, url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = io.body.data ? io.body.data : xstrdup("");
	io.body.data = NULL;
	r->retry_after_s = io.retry_after_s;
	ret = 0;
cleanup:
	/* The handle must not keep pointers to what is freed here. */
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	http_headers_free(hdrs);
	buf_free(&io.body);
	free(url);
	return ret;
}

/*
 * A fresh header list for one request (c's headers, minus Content-Type
 * when skip_ctype, plus extra) and the options every request shares.
 */
static struct curl_slist *
http_prepare(struct http_client *c, const char *method, const char *url,
    const char *extra_header, bool skip_ctype, long timeout_ms,
    char *errbuf)
{
	struct curl_slist *hdrs = NULL, *p;

	for (p = c->headers; p != NULL; p = p->next)
		if (!skip_ctype || strncasecmp(p->data, "Content-Type:", 13) != 0)
			hdrs = curl_slist_append(hdrs, p->data);
	if (extra_header != NULL)
		hdrs = curl_slist_append(hdrs, extra_header);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
	    timeout_ms > 0 ? timeout_ms : c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	/* TLS 1.2 at least, like the controller (controller/tls.h). */
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	if (c->ca_file != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
		curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
	}
	if (c->cert_file != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (c->key_file != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->key_file);
		curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	return hdrs;
}

/* Where a download goes: fd while the status is 2xx, else err_body. */
struct http_dl {
	struct http_client *c;
	int fd;
	int64_t max, got;
	struct buf err_body;
	bool failed;
};

static size_t
http_dl_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_dl *d = userdata;
	size_t n = size * nmemb, left = n;
	long status = 0;

	curl_easy_getinfo(d->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		if (d->err_body.len + n <= 65536)
			buf_append(&d->err_body, ptr, n);
		return n;
	}
	if (d->got + (int64_t)n > d->max)
		return 0;
	while (left > 0) {
		ssize_t w = write(d->fd, ptr, left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->failed = true;
			return 0;
		}
		ptr += w;
		left -= (size_t)w;
	}
	d->got += (int64_t)n;
	return n;
}

int
http_download(struct http_client *c, const char *path, int fd, int64_t max,
    long timeout_ms, struct http_resp *r, struct vm_error *err)
{
	struct http_dl d = { c, fd, max, 0, { NULL, 0, 0 }, false };
	char *url = xasprintf("%s%s", c->base, path);
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs;
	CURLcode rc;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	hdrs = http_prepare(c, "GET", url, NULL, true, timeout_ms, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_dl_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &d);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		r->tls_failed = http_tls_error(rc);
		vm_error_set(err, c->errcode, "GET %s: %s", url, d.failed ?
		    strerror(errno) : d.got >= max ? "larger than expected" :
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	buf_append(&d.err_body, "", 1);
	r->body = d.err_body.data;
	d.err_body.data = NULL;
	ret = 0;
cleanup:
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	http_headers_free(hdrs);
	buf_free(&d.err_body);
	free(url);
	return ret;
}

int
http_upload(struct http_client *c, const char *path,
    const struct http_part *parts, size_t nparts, long timeout_ms,
    struct http_resp *r, struct vm_error *err)
{
	struct http_io io = { { NULL, 0, 0 }, -1 };
	char *url = xasprintf("%s%s", c->base, path);
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs;
	curl_mime *mime;
	CURLcode rc;
	size_t i;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	hdrs = http_prepare(c, "POST", url, NULL, true, timeout_ms, errbuf);
	if (timeout_ms == 0)
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 0L);
	mime = curl_mime_init(c->curl);
	for (i = 0; i < nparts; i++) {
		curl_mimepart *part = curl_mime_addpart(mime);

		curl_mime_name(part, parts[i].name);
		if (parts[i].file != NULL) {
			if (curl_mime_filedata(part, parts[i].file) !=
			    CURLE_OK) {
				vm_error_set(err, c->errcode, "%s: cannot "
				    "read it", parts[i].file);
				goto cleanup;
			}
		} else {
			curl_mime_data(part, parts[i].value,
			    CURL_ZERO_TERMINATED);
		}
	}
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, mime);
	/* Big files: no overall deadline, but not a stalled link either. */
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &io.body);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &io);
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		r->tls_failed = http_tls_error(rc);
		vm_error_set(err, c->errcode, "POST %s: %s", url,
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	r->body = io.body.data ? io.body.data : xstrdup("");
	io.body.data = NULL;
	r->retry_after_s = io.retry_after_s;
	ret = 0;
cleanup:
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_MIMEPOST, NULL);
	curl_mime_free(mime);
	http_headers_free(hdrs);
	buf_free(&io.body);
	free(url);
	return ret;
}

int
http_request(struct http_client *c, const char *method, const char *path,
    const char *body, long timeout_ms, long *status, char **resp,
    struct vm_error *err)
{
	struct http_resp r;
	int ret;

	ret = http_request_ex(c, method, path, body, NULL, timeout_ms, &r,
	    err);
	*status = r.status;
	*resp = r.body;
	return ret;
}

bool
http_url_plain_remote(const char *url)
{
	const char *h, *end;
	size_t n;

	if (strncasecmp(url, "http://", 7) != 0)
		return false;
	h = url + 7;
	if (strchr(h, '@') != NULL && strchr(h, '@') < h + strcspn(h, "/"))
		h = strchr(h, '@') + 1;
	if (h[0] == '[') {
		end = strchr(h, ']');
		if (end == NULL)
			return true;
		n = (size_t)(end + 1 - h);
		return !(n == 5 && strncmp(h, "[::1]", 5) == 0);
	}
	n = strcspn(h, ":/?#");
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return false;
	if (n > 4 && strncmp(h, "127.", 4) == 0 &&
	    strspn(h, "0123456789.") >= n)
		return false;
	return true;
}
