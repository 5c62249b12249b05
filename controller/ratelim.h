/*
 * ratelim: token buckets keyed by a short string (a user name, a source
 * address) in a table of fixed size, so memory stays bounded whoever
 * calls. The table is set-associative: a key hashes to a set of
 * RATELIM_WAYS slots; a new key takes a free slot of its set, else one
 * whose bucket has refilled (it is then as good as absent), else the
 * least recently used. Eviction can only hand a key a fresh burst early,
 * never refuse it. A struct ratelim has its own mutex: any thread may
 * call. Pure (no HTTP, no store); server.c binds it.
 */
#ifndef VMCTL_CONTROLLER_RATELIM_H
#define VMCTL_CONTROLLER_RATELIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIM_WAYS	8
#define RATELIM_KEY_MAX	64	/* longer keys are cut (then shared) */

struct ratelim;

/*
 * A table of about cap buckets (rounded up to whole sets) refilling at
 * rate_per_s up to burst. seed varies the hash (pass something random).
 * Owned by the caller: ratelim_free(), which accepts NULL.
 */
struct ratelim *ratelim_new(size_t cap, double rate_per_s, double burst,
    uint32_t seed);
void ratelim_free(struct ratelim *rl);

/*
 * One request of key at now_ms: true when its bucket holds a token, which
 * is taken if take is set (take false only looks). When false, *retry_s
 * (if not NULL) is the whole seconds until a token is back.
 */
bool ratelim_take(struct ratelim *rl, const char *key, int64_t now_ms,
    bool take, int64_t *retry_s);

/* Keys with a bucket that has not refilled by now_ms (for tests). */
size_t ratelim_live(struct ratelim *rl, int64_t now_ms);

#endif
