#include "config.h"

#include <string.h>

#include "errors.h"
#include "json.h"

static const struct {
	const char *name;
	int status;
} api_errs[API_ERR_MAX] = {
	[API_OK] = { "ok", 200 },
	[API_EINVAL] = { "invalid_argument", 400 },
	[API_EMALFORMED] = { "malformed_request", 400 },
	[API_EUNAUTH] = { "unauthenticated", 401 },
	[API_EFORBIDDEN] = { "forbidden", 403 },
	[API_ENOTFOUND] = { "not_found", 404 },
	[API_EMETHOD] = { "method_not_allowed", 405 },
	[API_ECONFLICT] = { "conflict", 409 },
	[API_ENOROOM] = { "no_capacity", 409 },
	[API_ETOOLARGE] = { "payload_too_large", 413 },
	[API_EMEDIA] = { "unsupported_media_type", 415 },
	[API_ERATE] = { "rate_limited", 429 },
	[API_EINTERNAL] = { "internal", 500 },
	[API_EUNAVAIL] = { "unavailable", 503 },
	[API_ETRANSPORT] = { "transport", 502 },
	[API_ELIBVIRT] = { "libvirt", 500 },
	[API_EQUOTA] = { "quota_exceeded", 409 },
	[API_EAMBIGUOUS] = { "ambiguous", 409 },
};

const char *
api_err_name(int code)
{
	if (code < 0 || code >= API_ERR_MAX)
		return "internal";
	return api_errs[code].name;
}

int
api_err_status(int code)
{
	if (code < 0 || code >= API_ERR_MAX)
		return 500;
	return api_errs[code].status;
}

int
api_err_from_name(const char *name)
{
	int i;

	for (i = 0; i < API_ERR_MAX; i++)
		if (strcmp(api_errs[i].name, name) == 0)
			return i;
	return API_EINTERNAL;
}

json_object *
api_error_encode(const struct vm_error *err)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "code",
	    json_object_new_string(api_err_name(err->code)));
	json_object_object_add(e, "message",
	    json_object_new_string(err->message));
	json_object_object_add(o, "error", e);
	return o;
}

void
api_error_decode(const char *body, long status, struct vm_error *err)
{
	json_object *o = NULL, *e = NULL;
	const char *code, *msg;

	o = json_parse(body, strlen(body), API_EINTERNAL, NULL);
	if (o != NULL && json_object_object_get_ex(o, "error", &e) &&
	    (code = json_get_str(e, "code")) != NULL &&
	    (msg = json_get_str(e, "message")) != NULL &&
	    api_err_from_name(code) != API_OK) {
		vm_error_set(err, api_err_from_name(code), "%s", msg);
	} else {
		int i, c = API_EINTERNAL;

		for (i = 1; i < API_ETRANSPORT; i++)
			if (api_errs[i].status == status) {
				c = i;
				break;
			}
		vm_error_set(err, c, "HTTP status %ld", status);
	}
	json_object_put(o);
}
