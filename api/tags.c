#include "config.h"

#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "codec.h"
#include "errors.h"
#include "tags.h"
#include "util.h"

#define TAGS_MAX 64		/* pairs in one list */

struct tag {
	char k[API_NAME_MAX];
	char v[API_TAG_VALUE_MAX];
};

static bool
value_valid(const char *v)
{
	size_t n = strlen(v);

	return n < API_TAG_VALUE_MAX && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/*
 * Split s ("k=v,..." or, with keys_only, "k,...") into t[]; blanks are
 * not allowed. Returns the count, or -1.
 */
static int
tags_split(const char *s, struct tag *t, bool keys_only)
{
	char item[API_NAME_MAX + API_TAG_VALUE_MAX + 2];
	const char *p = s, *e, *eq;
	int n = 0, i;

	if (*s == '\0')
		return 0;
	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) >= sizeof(item) || n == TAGS_MAX)
			return -1;
		memcpy(item, p, (size_t)(e - p));
		item[e - p] = '\0';
		eq = strchr(item, '=');
		if (keys_only != (eq == NULL))
			return -1;
		if (eq != NULL) {
			item[eq - item] = '\0';
			if (!value_valid(eq + 1))
				return -1;
			str_copy(t[n].v, sizeof(t[n].v), eq + 1);
		} else {
			t[n].v[0] = '\0';
		}
		if (!api_name_valid(item))
			return -1;
		str_copy(t[n].k, sizeof(t[n].k), item);
		for (i = 0; i < n; i++)
			if (strcmp(t[i].k, t[n].k) == 0)
				return -1;
		n++;
		if (*e == '\0')
			return n;
		p = e + 1;
	}
}

bool
api_tags_valid(const char *s)
{
	struct tag *t = xcalloc(TAGS_MAX, sizeof(*t));
	int n = tags_split(s, t, false);

	free(t);
	return n >= 0;
}

bool
api_tag_keys_valid(const char *s)
{
	struct tag *t = xcalloc(TAGS_MAX, sizeof(*t));
	int n = tags_split(s, t, true);

	free(t);
	return n >= 0;
}

static int
tag_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tag *)a)->k, ((const struct tag *)b)->k);
}

int
api_tags_apply(const char *cur, const char *set, const char *remove,
    char *out, size_t size, struct vm_error *err)
{
	struct tag *t = xcalloc((size_t)3 * TAGS_MAX, sizeof(*t));
	struct tag *s = t + TAGS_MAX, *r = t + (ptrdiff_t)2 * TAGS_MAX;
	int n, ns, nr, i, j, ret = -1;
	size_t len = 0;

	n = tags_split(cur, t, false);
	ns = tags_split(set, s, false);
	nr = tags_split(remove, r, true);
	if (n < 0 || ns < 0 || nr < 0) {
		vm_error_set(err, API_EINVAL, "tags: %s", n < 0 ? "stored "
		    "tags are damaged" : ns < 0 ? "set: comma-separated "
		    "key=value (key like a name, value of A-Z a-z 0-9 . _ -, "
		    "at most 63)" : "remove: comma-separated keys");
		goto cleanup;
	}
	for (i = 0; i < ns; i++) {
		for (j = 0; j < n && strcmp(t[j].k, s[i].k) != 0; j++)
			;
		if (j == n) {
			if (n == TAGS_MAX) {
				vm_error_set(err, API_EINVAL, "tags: at most "
				    "%d", TAGS_MAX);
				goto cleanup;
			}
			n++;
		}
		t[j] = s[i];
	}
	for (i = 0; i < nr; i++)
		for (j = 0; j < n; j++)
			if (strcmp(t[j].k, r[i].k) == 0) {
				t[j] = t[--n];
				break;
			}
	qsort(t, (size_t)n, sizeof(*t), tag_cmp);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t k = strlen(t[i].k), v = strlen(t[i].v);

		if (len + k + v + 3 > size) {
			vm_error_set(err, API_EINVAL, "tags: longer than %zu "
			    "characters in all", size - 1);
			goto cleanup;
		}
		if (i > 0)
			out[len++] = ',';
		memcpy(out + len, t[i].k, k);
		len += k;
		out[len++] = '=';
		memcpy(out + len, t[i].v, v + 1);
		len += v;
	}
	ret = 0;
cleanup:
	free(t);
	return ret;
}

bool
api_tag_query_valid(const char *q)
{
	const char *eq = strchr(q, '=');
	char k[API_NAME_MAX];

	if (eq == NULL)
		return api_name_valid(q);
	if ((size_t)(eq - q) >= sizeof(k))
		return false;
	memcpy(k, q, (size_t)(eq - q));
	k[eq - q] = '\0';
	return api_name_valid(k) && value_valid(eq + 1);
}

bool
api_tags_match(const char *tags, const char *q)
{
	const char *p = tags, *e, *eq = strchr(q, '=');
	size_t qn = strlen(q), kn = eq != NULL ? (size_t)(eq - q) : qn;

	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if (eq != NULL ? ((size_t)(e - p) == qn &&
		    strncmp(p, q, qn) == 0) : ((size_t)(e - p) > kn &&
		    strncmp(p, q, kn) == 0 && p[kn] == '='))
			return true;
		if (*e == '\0')
			break;
		p = e + 1;
	}
	return false;
}
