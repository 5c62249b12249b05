/*
 * tags: a VM's metadata tags as text, "k=v,k2=v2" (keys sorted, unique;
 * key like a name, value [A-Za-z0-9._-]{0,63}). Pure string functions:
 * the caller owns every buffer; nothing is allocated that outlives a call.
 */
#ifndef VMCTL_API_TAGS_H
#define VMCTL_API_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define API_TAG_VALUE_MAX 64	/* value + NUL */

/* "" or a comma-separated list of k=v (any order, no duplicate key). */
bool api_tags_valid(const char *s);
/* "" or comma-separated keys. */
bool api_tag_keys_valid(const char *s);
/*
 * out[size] = cur with the pairs of set added or replaced and the keys of
 * remove dropped, keys sorted. -1 + err (API_EINVAL) on bad input or when
 * the result does not fit.
 */
int api_tags_apply(const char *cur, const char *set, const char *remove,
    char *out, size_t size, struct vm_error *err);
/* Does tags hold q ("k=v": that pair; "k": that key with any value)? */
bool api_tags_match(const char *tags, const char *q);
/* Is q a valid query ("k=v" or "k")? */
bool api_tag_query_valid(const char *q);

#endif
