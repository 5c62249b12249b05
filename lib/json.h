/*
 * json: json-c helpers. Parsing is strict (whole input, bounded depth);
 * returned json_object pointers are owned by the caller (json_object_put).
 * Getters return borrowed pointers valid while the parent object lives.
 */
#ifndef VMCTL_LIB_JSON_H
#define VMCTL_LIB_JSON_H

#include <json-c/json.h>
#include <stddef.h>

#include "error.h"

#define JSON_MAX_DEPTH 16

/* Parse exactly len bytes; NULL + err (code = errcode) on failure. */
json_object *json_parse(const char *data, size_t len, int errcode,
    struct vm_error *err);
/* Compact text of obj, malloc'ed (caller frees). */
char *json_dump(json_object *obj);
/* Borrowed string member or NULL when absent or not a string. */
const char *json_get_str(json_object *obj, const char *key);
/* Integer member, or def when absent or not an integer. */
long long json_get_int(json_object *obj, const char *key, long long def);

#endif
