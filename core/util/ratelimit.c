/*
 * Failure throttling; see ratelimit.h. Each bucket is kept as a generic cell rate algorithm
 * (GCRA) "theoretical arrival time": every failure pushes it interval = window / burst further
 * into the future (from now at the latest), and a key may try while it is less than
 * window - interval ahead of now. That is a token bucket of `burst` tokens refilling one per
 * interval, in one 64-bit number. The table is split into shards, each a small array scanned
 * under its own mutex, so loop threads rarely meet.
 */
#include "util/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SHARDS          64
#define SLOTS_PER_SHARD (LATCH_RATELIMIT_SLOTS / SHARDS)

struct slot {
    uint64_t hash; /* 0: free */
    uint64_t tat;  /* theoretical arrival time, ms */
    uint64_t used; /* last touched, ms */
};

struct shard {
    pthread_mutex_t lock;
    struct slot slots[SLOTS_PER_SHARD];
};

struct latch_ratelimit {
    uint64_t seed;
    struct shard shards[SHARDS];
};

uint64_t latch_ratelimit_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct latch_ratelimit *latch_ratelimit_new(void)
{
    struct latch_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    /* A seed nobody knows: keys are chosen by clients, collisions must not be. */
    if (getrandom(&rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed))
        rl->seed = (uint64_t)latch_ratelimit_now_ms() ^ (uint64_t)(uintptr_t)rl;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&rl->shards[i].lock, NULL);
    return rl;
}

void latch_ratelimit_free(struct latch_ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&rl->shards[i].lock);
    free(rl);
}

static struct latch_ratelimit *global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_create(void)
{
    global = latch_ratelimit_new();
}

struct latch_ratelimit *latch_ratelimit_global(void)
{
    pthread_once(&global_once, global_create);
    return global;
}

/* FNV-1a over the key from the seed, then splitmix64's finalizer; never 0. */
static uint64_t key_hash(const struct latch_ratelimit *rl, const char *key)
{
    uint64_t h = 1469598103934665603u ^ rl->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    return h != 0 ? h : 1;
}

static uint64_t interval_ms(const struct latch_ratelimit_rule *rule)
{
    uint64_t t = (uint64_t)rule->window_s * 1000u / (uint64_t)rule->burst;
    return t > 0 ? t : 1;
}

static bool rule_on(const struct latch_ratelimit_rule *rule)
{
    return rule != NULL && rule->burst > 0 && rule->window_s > 0;
}

bool latch_ratelimit_check(struct latch_ratelimit *rl, const struct latch_ratelimit_rule *rule,
                           const char *key, uint64_t now_ms, int *retry_after_s)
{
    if (rl == NULL || !rule_on(rule))
        return true;
    uint64_t h = key_hash(rl, key);
    struct shard *sh = &rl->shards[h % SHARDS];
    uint64_t tat = 0;
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < SLOTS_PER_SHARD; i++) {
        if (sh->slots[i].hash == h) {
            tat = sh->slots[i].tat;
            break;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    uint64_t t = interval_ms(rule), window = (uint64_t)rule->window_s * 1000u;
    uint64_t ahead = tat > now_ms ? tat - now_ms : 0;
    if (ahead + t <= window)
        return true;
    uint64_t wait = ahead + t - window;
    if (retry_after_s != NULL)
        *retry_after_s = (int)((wait + 999) / 1000);
    return false;
}

void latch_ratelimit_fail(struct latch_ratelimit *rl, const struct latch_ratelimit_rule *rule,
                          const char *key, uint64_t now_ms)
{
    if (rl == NULL || !rule_on(rule))
        return;
    uint64_t h = key_hash(rl, key);
    struct shard *sh = &rl->shards[h % SHARDS];
    pthread_mutex_lock(&sh->lock);
    struct slot *found = NULL, *idle = NULL, *oldest = NULL;
    for (int i = 0; i < SLOTS_PER_SHARD && found == NULL; i++) {
        struct slot *s = &sh->slots[i];
        if (s->hash == h)
            found = s;
        else if (idle == NULL && (s->hash == 0 || s->tat <= now_ms))
            idle = s; /* free, or its bucket is full again: nothing to remember */
        else if (oldest == NULL || s->used < oldest->used)
            oldest = s;
    }
    if (found == NULL) {
        found = idle != NULL ? idle : oldest;
        found->hash = h;
        found->tat = now_ms;
    }
    uint64_t base = found->tat > now_ms ? found->tat : now_ms;
    found->tat = base + interval_ms(rule);
    found->used = now_ms;
    pthread_mutex_unlock(&sh->lock);
}

bool latch_ratelimit_allow_per_minute(int n, const char *key, int *retry_after_s)
{
    struct latch_ratelimit_rule rule = {.burst = n, .window_s = 60};
    return latch_ratelimit_check(latch_ratelimit_global(), &rule, key, latch_ratelimit_now_ms(),
                                 retry_after_s);
}

void latch_ratelimit_fail_per_minute(int n, const char *key)
{
    struct latch_ratelimit_rule rule = {.burst = n, .window_s = 60};
    latch_ratelimit_fail(latch_ratelimit_global(), &rule, key, latch_ratelimit_now_ms());
}
