/*
 * scale: server groups, scheduler timing, list timing and the
 * anti-affinity check for bench/provision (scale.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "json.h"
#include "rest.h"
#include "scale.h"
#include "util.h"

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
scale_group_name(size_t i, char out[64])
{
	snprintf(out, 64, "bench-g%04zu", i + 1);
}

int
scale_groups_create(struct http_client *c, size_t n, const char *policy,
    const char *agency, struct vm_error *err)
{
	char name[64], body[256];
	size_t i;

	for (i = 0; i < n; i++) {
		scale_group_name(i, name);
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"policy\":"
		    "\"%s\",\"agency\":\"%s\"}", name, policy, agency);
		if (rest_call(c, "POST", "/v1/server-groups", body, 201, NULL,
		    err) < 0)
			return -1;
	}
	return 0;
}

/* The value of the sample line starting with `prefix` in text, or -1. */
static double
metric_value(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

int
scale_sched_read(struct http_client *c, struct scale_sched *s,
    struct vm_error *err)
{
	struct http_resp r = { 0, NULL, -1, false };
	int ret = -1;

	memset(s, 0, sizeof(*s));
	if (http_request_ex(c, "GET", "/metrics", NULL, NULL, 0, &r, err) < 0)
		goto cleanup;
	if (r.status != 200) {
		vm_error_set(err, API_EINTERNAL, "GET /metrics: HTTP %ld",
		    r.status);
		goto cleanup;
	}
	s->placements = metric_value(r.body, "vmctl_sched_placements_total");
	s->load_s = metric_value(r.body,
	    "vmctl_sched_seconds_total{phase=\"load\"}");
	s->place_s = metric_value(r.body,
	    "vmctl_sched_seconds_total{phase=\"place\"}");
	if (s->placements < 0 || s->load_s < 0 || s->place_s < 0) {
		vm_error_set(err, API_EINTERNAL, "GET /metrics: no "
		    "vmctl_sched_* counters");
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(r.body);
	return ret;
}

/*
 * One pass over GET /v1/vms; fn (may be NULL) sees every item (borrowed)
 * as its page arrives.
 */
static int
list_pass(struct http_client *c, size_t *n,
    void (*fn)(json_object *item, void *arg), void *arg, struct vm_error *err)
{
	json_object *o = NULL, *items, *next;
	char path[128], cursor[64] = "";
	size_t i;
	int ret = -1;

	*n = 0;
	for (;;) {
		snprintf(path, sizeof(path), "/v1/vms?limit=1000%s%s",
		    cursor[0] ? "&after=" : "", cursor);
		if (rest_call(c, "GET", path, NULL, 200, &o, err) < 0)
			goto cleanup;
		if (!json_object_object_get_ex(o, "items", &items) ||
		    !json_object_is_type(items, json_type_array)) {
			vm_error_set(err, API_EMALFORMED, "GET %s: no items",
			    path);
			goto cleanup;
		}
		*n += json_object_array_length(items);
		for (i = 0; fn != NULL && i < json_object_array_length(items);
		    i++)
			fn(json_object_array_get_idx(items, i), arg);
		if (!json_object_object_get_ex(o, "next", &next) ||
		    !json_object_is_type(next, json_type_string))
			break;
		if (str_copy(cursor, sizeof(cursor),
		    json_object_get_string(next)) < 0) {
			vm_error_set(err, API_EMALFORMED, "GET %s: bad next",
			    path);
			goto cleanup;
		}
		json_object_put(o);
		o = NULL;
	}
	ret = 0;
cleanup:
	json_object_put(o);
	return ret;
}

/*
 * The "next" cursor of a list answer without parsing it (the timing
 * should be the server's and the transfer, not json-c's parse of the
 * client): the last "next" member; "" when null. -1 when none.
 */
static int
next_cursor(const char *body, char *out, size_t size)
{
	const char *p = NULL, *q = body, *e;

	while ((q = strstr(q, "\"next\"")) != NULL)
		p = q++;
	if (p == NULL)
		return -1;
	p += 6;
	p += strspn(p, " \t\r\n:");
	if (strncmp(p, "null", 4) == 0) {
		out[0] = '\0';
		return 0;
	}
	if (*p != '"' || (e = strchr(p + 1, '"')) == NULL ||
	    (size_t)(e - p - 1) >= size)
		return -1;
	memcpy(out, p + 1, (size_t)(e - p - 1));
	out[e - p - 1] = '\0';
	return 0;
}

/* One pass over GET /v1/vms, every page, bodies not parsed. */
static int
list_pass_raw(struct http_client *c, size_t *bytes, struct vm_error *err)
{
	struct http_resp r = { 0, NULL, -1, false };
	char path[128], cursor[64] = "";

	*bytes = 0;
	for (;;) {
		snprintf(path, sizeof(path), "/v1/vms?limit=1000%s%s",
		    cursor[0] ? "&after=" : "", cursor);
		if (http_request_ex(c, "GET", path, NULL, NULL, 0, &r,
		    err) < 0)
			return -1;
		if (r.status != 200 || next_cursor(r.body, cursor,
		    sizeof(cursor)) < 0) {
			vm_error_set(err, API_EMALFORMED, "GET %s: HTTP %ld, "
			    "no next", path, r.status);
			free(r.body);
			return -1;
		}
		*bytes += strlen(r.body);
		free(r.body);
		r.body = NULL;
		if (cursor[0] == '\0')
			return 0;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
scale_list_time(struct http_client *c, int reps, double *best_s,
    double *median_s, size_t *n, struct vm_error *err)
{
	double *t = xcalloc((size_t)reps, sizeof(*t)), t0;
	size_t bytes = 0;
	int i, ret = -1;

	if (list_pass(c, n, NULL, NULL, err) < 0)	/* the count, parsed */
		goto cleanup;
	for (i = 0; i < reps; i++) {
		t0 = mono_s();
		if (list_pass_raw(c, &bytes, err) < 0)
			goto cleanup;
		t[i] = mono_s() - t0;
	}
	qsort(t, (size_t)reps, sizeof(*t), cmp_double);
	*best_s = t[0];
	*median_s = t[reps / 2];
	ret = 0;
cleanup:
	free(t);
	return ret;
}

/* "group host" strings of the grouped VMs. */
struct pairs {
	char **v;
	size_t n, cap;
};

static void
pair_add(json_object *item, void *arg)
{
	struct pairs *p = arg;
	const char *g = json_get_str(item, "server_group");
	const char *h = json_get_str(item, "host");

	if (g == NULL || h == NULL)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 1024;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = xasprintf("%s %s", g, h);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
scale_group_check(struct http_client *c, size_t *pairs, size_t *grouped,
    struct vm_error *err)
{
	struct pairs p = { NULL, 0, 0 };
	size_t n, i;
	int ret = -1;

	*pairs = *grouped = 0;
	if (list_pass(c, &n, pair_add, &p, err) < 0)
		goto cleanup;
	qsort(p.v, p.n, sizeof(*p.v), cmp_str);
	for (i = 1; i < p.n; i++)
		if (strcmp(p.v[i], p.v[i - 1]) == 0)
			(*pairs)++;
	*grouped = p.n;
	ret = 0;
cleanup:
	for (i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	return ret;
}
