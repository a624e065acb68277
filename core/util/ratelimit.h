/*
 * util/ratelimit: per-node failure throttling (token buckets), shared by the loop threads.
 *
 * A key (a client id, a client IP…) has a bucket of `burst` tokens that refills at
 * burst / window_s tokens per second. Each failure takes a token; while a key's bucket has less
 * than one, latch_ratelimit_check() says when to come back. Only failures count, so a well-behaved
 * client is never slowed down. Buckets live in a fixed table (LATCH_RATELIMIT_SLOTS, hashed
 * with a per-process random seed, sharded under small mutexes): memory is bounded whatever the
 * number of keys, and when the table is full the least recently used bucket that is full again
 * (or, failing that, the least recently used one) is forgotten.
 *
 * Per node, not shared: behind N nodes an attacker gets at most N times the limit, which is
 * the documented bound; sharing would put a database write or a network round trip on every
 * failed attempt. A key belongs to one rule: callers prefix keys with what they count
 * ("cauth:<tenant>:<client>", "ipauth:<ip>"). Any thread.
 */
#ifndef LATCH_UTIL_RATELIMIT_H
#define LATCH_UTIL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define LATCH_RATELIMIT_SLOTS 8192

struct latch_ratelimit_rule {
    int burst;    /* failures allowed at once; 0 turns the rule off */
    int window_s; /* seconds in which a full bucket refills */
};

struct latch_ratelimit;

/* The process-wide table (created on first use). NULL only when out of memory. */
struct latch_ratelimit *latch_ratelimit_global(void);

/* A table of its own (tests); free it with latch_ratelimit_free(). */
struct latch_ratelimit *latch_ratelimit_new(void);
void latch_ratelimit_free(struct latch_ratelimit *rl);

/* Whether key may try now under rule: true, or false with *retry_after_s set (>= 1). */
bool latch_ratelimit_check(struct latch_ratelimit *rl, const struct latch_ratelimit_rule *rule,
                           const char *key, uint64_t now_ms, int *retry_after_s);

/* Records one failure of key under rule. */
void latch_ratelimit_fail(struct latch_ratelimit *rl, const struct latch_ratelimit_rule *rule,
                          const char *key, uint64_t now_ms);

/* The common case: n failures a minute (n = 0: off) for key, on the process-wide table, now. */
bool latch_ratelimit_allow_per_minute(int n, const char *key, int *retry_after_s);
void latch_ratelimit_fail_per_minute(int n, const char *key);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t latch_ratelimit_now_ms(void);

#endif
