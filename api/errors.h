/*
 * errors: the error codes of the wire contract, their names (the "code"
 * string in {"error": {"code", "message"}}) and their HTTP statuses.
 * The mapping lives here and nowhere else.
 */
#ifndef VMCTL_API_ERRORS_H
#define VMCTL_API_ERRORS_H

#include <json-c/json.h>

#include "error.h"

enum api_err {
	API_OK = 0,
	API_EINVAL,		/* 400 invalid_argument: bad field value */
	API_EMALFORMED,		/* 400 malformed_request: not JSON, etc. */
	API_EUNAUTH,		/* 401 unauthenticated */
	API_EFORBIDDEN,		/* 403 forbidden */
	API_ENOTFOUND,		/* 404 not_found */
	API_EMETHOD,		/* 405 method_not_allowed */
	API_ECONFLICT,		/* 409 conflict: exists, in use, wrong state */
	API_ENOROOM,		/* 409 no_capacity: no host can take it */
	API_ETOOLARGE,		/* 413 payload_too_large */
	API_EMEDIA,		/* 415 unsupported_media_type */
	API_ERATE,		/* 429 rate_limited */
	API_EINTERNAL,		/* 500 internal */
	API_EUNAVAIL,		/* 503 unavailable */
	API_ETRANSPORT,		/* client side: could not reach the server */
	API_ELIBVIRT,		/* agent side: libvirt call failed */
	API_EQUOTA,		/* 409 quota_exceeded */
	API_EAMBIGUOUS,		/* 409 ambiguous: name of several agencies */
	API_ERR_MAX
};

const char *api_err_name(int code);
int api_err_status(int code);
/* Code for an HTTP status + name read back from an error body. */
int api_err_from_name(const char *name);

/* {"error": {"code": NAME, "message": MSG}}; caller owns the object. */
json_object *api_error_encode(const struct vm_error *err);
/* Fill err from a response body (falls back to the status). */
void api_error_decode(const char *body, long status, struct vm_error *err);

#endif
