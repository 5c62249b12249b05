#include "config.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "util.h"

#define HTTP_MAX_RESPONSE (64u << 20)

struct http_client {
	CURL *curl;			/* owned */
	char *base;			/* owned */
	long timeout_ms;
	int errcode;			/* code for transport failures */
	struct curl_slist *headers;	/* owned */
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
	curl_slist_free_all(c->headers);
	free(c->base);
	free(c);
}

void
http_client_set_errcode(struct http_client *c, int code)
{
	c->errcode = code;
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

int
http_request(struct http_client *c, const char *method, const char *path,
    const char *body, long timeout_ms, long *status, char **resp,
    struct vm_error *err)
{
	struct buf b = { 0 };
	char *url = xasprintf("%s%s", c->base, path);
	CURLcode rc;
	int ret = -1;

	*resp = NULL;
	*status = 0;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
	    timeout_ms > 0 ? timeout_ms : c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(body));
	}
	rc = curl_easy_perform(c->curl);
	if (rc != CURLE_OK) {
		vm_error_set(err, c->errcode, "%s %s: %s", method, url,
		    curl_easy_strerror(rc));
		goto cleanup;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	*resp = b.data ? b.data : xstrdup("");
	b.data = NULL;
	ret = 0;
cleanup:
	buf_free(&b);
	free(url);
	return ret;
}
