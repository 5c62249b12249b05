#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ratelim.h"
#include "util.h"

struct ratelim_slot {
	char key[RATELIM_KEY_MAX];	/* "" = free */
	double tokens;			/* at last_ms */
	int64_t last_ms;		/* last refill = last use */
};

struct ratelim {
	pthread_mutex_t lock;		/* protects slots */
	struct ratelim_slot *slots;	/* owned; nsets * RATELIM_WAYS */
	size_t nsets;
	double rate;			/* tokens per ms */
	double burst;
	uint32_t seed;
};

struct ratelim *
ratelim_new(size_t cap, double rate_per_s, double burst, uint32_t seed)
{
	struct ratelim *rl = xcalloc(1, sizeof(*rl));

	rl->nsets = (cap + RATELIM_WAYS - 1) / RATELIM_WAYS;
	if (rl->nsets == 0)
		rl->nsets = 1;
	rl->slots = xcalloc(rl->nsets * RATELIM_WAYS, sizeof(*rl->slots));
	rl->rate = rate_per_s / 1000.0;
	rl->burst = burst;
	rl->seed = seed;
	pthread_mutex_init(&rl->lock, NULL);
	return rl;
}

void
ratelim_free(struct ratelim *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/* FNV-1a, seeded. */
static uint32_t
ratelim_hash(uint32_t seed, const char *key)
{
	uint32_t h = 2166136261u ^ seed;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619u;
	}
	return h;
}

/* Tokens of s at now (refilled, capped at burst). */
static double
ratelim_level(const struct ratelim *rl, const struct ratelim_slot *s,
    int64_t now)
{
	double t = s->tokens;

	if (now > s->last_ms)
		t += (double)(now - s->last_ms) * rl->rate;
	return t > rl->burst ? rl->burst : t;
}

/* The slot of key (found or taken over); under rl->lock. */
static struct ratelim_slot *
ratelim_slot(struct ratelim *rl, const char *k, int64_t now)
{
	struct ratelim_slot *set, *victim = NULL;
	size_t i;

	set = &rl->slots[(ratelim_hash(rl->seed, k) % rl->nsets) *
	    RATELIM_WAYS];
	for (i = 0; i < RATELIM_WAYS; i++)
		if (strcmp(set[i].key, k) == 0 && set[i].key[0] != '\0')
			return &set[i];
	for (i = 0; i < RATELIM_WAYS && victim == NULL; i++)
		if (set[i].key[0] == '\0' ||
		    ratelim_level(rl, &set[i], now) >= rl->burst)
			victim = &set[i];
	if (victim == NULL) {
		/* Every way busy: the least recently used goes. */
		victim = &set[0];
		for (i = 1; i < RATELIM_WAYS; i++)
			if (set[i].last_ms < victim->last_ms)
				victim = &set[i];
	}
	str_copy(victim->key, sizeof(victim->key), k);
	victim->tokens = rl->burst;
	victim->last_ms = now;
	return victim;
}

bool
ratelim_take(struct ratelim *rl, const char *key, int64_t now_ms, bool take,
    int64_t *retry_s)
{
	struct ratelim_slot *s;
	char k[RATELIM_KEY_MAX];
	bool ok;

	str_copy(k, sizeof(k), key[0] != '\0' ? key : "-");
	pthread_mutex_lock(&rl->lock);
	s = ratelim_slot(rl, k, now_ms);
	s->tokens = ratelim_level(rl, s, now_ms);
	s->last_ms = now_ms;
	ok = s->tokens >= 1.0;
	if (ok && take)
		s->tokens -= 1.0;
	if (!ok && retry_s != NULL) {
		double w = rl->rate > 0 ? (1.0 - s->tokens) /
		    (rl->rate * 1000.0) : 3600;

		*retry_s = (int64_t)w;
		if ((double)*retry_s < w || *retry_s < 1)
			(*retry_s)++;
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

size_t
ratelim_live(struct ratelim *rl, int64_t now_ms)
{
	size_t i, n = 0;

	pthread_mutex_lock(&rl->lock);
	for (i = 0; i < rl->nsets * RATELIM_WAYS; i++)
		if (rl->slots[i].key[0] != '\0' &&
		    ratelim_level(rl, &rl->slots[i], now_ms) < rl->burst)
			n++;
	pthread_mutex_unlock(&rl->lock);
	return n;
}
