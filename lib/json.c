#include "config.h"

#include <string.h>

#include "json.h"
#include "log.h"
#include "util.h"

json_object *
json_parse(const char *data, size_t len, int errcode, struct vm_error *err)
{
	struct json_tokener *tok = NULL;
	json_object *obj = NULL;
	enum json_tokener_error jerr;
	bool whole = false;

	if (len > (size_t)0x7fffffff) {
		vm_error_set(err, errcode, "JSON body too large");
		return NULL;
	}
	if (memchr(data, '\0', len) != NULL) {
		vm_error_set(err, errcode, "JSON body contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		fatalx("json_tokener_new_ex");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue && obj == NULL) {
		/* A bare number ends only at the end of input: say so. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		whole = true;	/* it consumed all of data */
	}
	if (jerr == json_tokener_continue) {
		vm_error_set(err, errcode, "malformed JSON: unexpected end");
		goto fail;
	}
	if (jerr != json_tokener_success) {
		vm_error_set(err, errcode, "malformed JSON at offset %zu: %s",
		    json_tokener_get_parse_end(tok),
		    json_tokener_error_desc(jerr));
		goto fail;
	}
	if (obj == NULL) {
		vm_error_set(err, errcode, "malformed JSON: the body is null");
		goto fail;
	}
	if (!whole && json_tokener_get_parse_end(tok) != len) {
		size_t i;

		for (i = json_tokener_get_parse_end(tok); i < len; i++) {
			if (!strchr(" \t\r\n", data[i])) {
				vm_error_set(err, errcode,
				    "malformed JSON: trailing data at offset %zu",
				    i);
				goto fail;
			}
		}
	}
	json_tokener_free(tok);
	return obj;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

char *
json_dump(json_object *obj)
{
	return xstrdup(json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *
json_get_str(json_object *obj, const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	/* A NUL inside would cut the string short: refuse it. */
	if ((size_t)json_object_get_string_len(v) !=
	    strlen(json_object_get_string(v)))
		return NULL;
	return json_object_get_string(v);
}

long long
json_get_int(json_object *obj, const char *key, long long def)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return def;
	return (long long)json_object_get_int64(v);
}
