/*
 * auditagg.c: the refusal aggregator (auditagg.h). An open-addressing
 * table of at most max_keys entries (slots: a power of two >= 2 x
 * max_keys, so probes stay short), plus the insertion order so that
 * auditagg_take() hands the aggregates out in the order they began.
 * Partners: controller/auditlog.c feeds it from server_audit() and
 * flushes it in one write transaction per interval.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditagg.h"
#include "util.h"

struct agg {
	int used;
	uint64_t h;
	struct api_audit_event ev;	/* the first refusal of the key */
	int64_t first_ms, last_ms;
	int64_t count;
};

struct auditagg {
	int64_t interval_ms;
	size_t max_keys;
	struct agg *slots;		/* owned; [nslots] */
	size_t nslots;
	size_t *order;			/* owned; slot indexes, [max_keys] */
	size_t nkeys;
	struct agg other;		/* refusals past max_keys */
	int64_t start_ms;		/* the current interval began */
	uint64_t total;
};

struct auditagg *
auditagg_new(int64_t interval_ms, size_t max_keys)
{
	struct auditagg *a = xcalloc(1, sizeof(*a));

	a->interval_ms = interval_ms < 1 ? 1 : interval_ms;
	a->max_keys = max_keys < 1 ? 1 : max_keys;
	a->nslots = 16;
	while (a->nslots < 2 * a->max_keys)
		a->nslots *= 2;
	a->slots = xcalloc(a->nslots, sizeof(*a->slots));
	a->order = xcalloc(a->max_keys, sizeof(*a->order));
	a->start_ms = -1;
	return a;
}

void
auditagg_free(struct auditagg *a)
{
	if (a == NULL)
		return;
	free(a->slots);
	free(a->order);
	free(a);
}

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	h ^= 0x1f;		/* field separator */
	return h * UINT64_C(1099511628211);
}

static uint64_t
key_hash(const struct api_audit_event *ev)
{
	uint64_t h = UINT64_C(14695981039346656037);
	char st[16];

	snprintf(st, sizeof(st), "%lld", (long long)ev->status);
	h = fnv(h, ev->source);
	h = fnv(h, ev->user);
	h = fnv(h, ev->host);
	h = fnv(h, ev->agency);
	h = fnv(h, ev->method);
	h = fnv(h, ev->path);
	return fnv(h, st);
}

static int
key_equal(const struct api_audit_event *a, const struct api_audit_event *b)
{
	return a->status == b->status && strcmp(a->source, b->source) == 0 &&
	    strcmp(a->user, b->user) == 0 && strcmp(a->host, b->host) == 0 &&
	    strcmp(a->agency, b->agency) == 0 &&
	    strcmp(a->method, b->method) == 0 &&
	    strcmp(a->path, b->path) == 0;
}

static void
agg_count(struct agg *g, int64_t now_ms)
{
	if (g->count == 0)
		g->first_ms = now_ms;
	g->last_ms = now_ms;
	g->count++;
}

void
auditagg_add(struct auditagg *a, const struct api_audit_event *ev,
    int64_t now_ms)
{
	uint64_t h = key_hash(ev);
	size_t i = (size_t)(h & (a->nslots - 1));
	struct agg *g;

	if (a->start_ms < 0)
		a->start_ms = now_ms;
	a->total++;
	for (;;) {
		g = &a->slots[i];
		if (!g->used)
			break;
		if (g->h == h && key_equal(&g->ev, ev)) {
			agg_count(g, now_ms);
			return;
		}
		i = (i + 1) & (a->nslots - 1);
	}
	if (a->nkeys == a->max_keys) {
		g = &a->other;
		if (g->count == 0) {
			memset(&g->ev, 0, sizeof(g->ev));
			str_copy(g->ev.source, sizeof(g->ev.source), "other");
			str_copy(g->ev.method, sizeof(g->ev.method), "*");
			str_copy(g->ev.path, sizeof(g->ev.path), "*");
			g->ev.status = ev->status;
			g->ev.result = AUDIT_REFUSED;
		}
		agg_count(g, now_ms);
		return;
	}
	g->used = 1;
	g->h = h;
	g->ev = *ev;
	g->count = 0;
	agg_count(g, now_ms);
	a->order[a->nkeys++] = i;
}

int
auditagg_due(const struct auditagg *a, int64_t now_ms)
{
	return (a->nkeys > 0 || a->other.count > 0) && a->start_ms >= 0 &&
	    now_ms - a->start_ms >= a->interval_ms;
}

/* The event of one aggregate: count, span and the first message. */
static void
agg_event(const struct auditagg *a, const struct agg *g,
    struct api_audit_event *out)
{
	char first[API_TEXT_MAX];

	*out = g->ev;
	out->seq = 0;
	out->prev[0] = out->hash[0] = out->key_id[0] = '\0';
	out->time = g->first_ms;
	out->count = g->count;
	str_copy(first, sizeof(first), g->ev.message);
	if (g == &a->other)
		snprintf(out->message, sizeof(out->message),
		    "%lld refused requests past the %zu keys of the refusal "
		    "table in %lld ms", (long long)g->count, a->max_keys,
		    (long long)(g->last_ms - g->first_ms));
	else if (g->count == 1)
		str_copy(out->message, sizeof(out->message), first);
	else
		snprintf(out->message, sizeof(out->message),
		    "%lld refused requests in %lld ms: %.400s",
		    (long long)g->count,
		    (long long)(g->last_ms - g->first_ms), first);
}

size_t
auditagg_take(struct auditagg *a, int64_t now_ms,
    struct api_audit_event **out)
{
	size_t n = a->nkeys + (a->other.count > 0 ? 1 : 0), i, k = 0;

	*out = NULL;
	a->start_ms = now_ms;
	if (n == 0)
		return 0;
	*out = xcalloc(n, sizeof(**out));
	for (i = 0; i < a->nkeys; i++)
		agg_event(a, &a->slots[a->order[i]], &(*out)[k++]);
	if (a->other.count > 0)
		agg_event(a, &a->other, &(*out)[k++]);
	memset(a->slots, 0, a->nslots * sizeof(*a->slots));
	memset(&a->other, 0, sizeof(a->other));
	a->nkeys = 0;
	return n;
}

uint64_t
auditagg_total(const struct auditagg *a)
{
	return a->total;
}

size_t
auditagg_keys(const struct auditagg *a)
{
	return a->nkeys + (a->other.count > 0 ? 1 : 0);
}
