/*
 * Worker pool and mailboxes; see workpool.h. A mutex and condition variable guard a singly
 * linked FIFO of jobs; finished jobs move to their mailbox's list and the mailbox's event is
 * activated, so the completion runs on the owning loop with no polling.
 *
 * Per-key bounds: each key with a job queued or running has a slot (in a small hash table)
 * counting both. A worker takes the first queued job whose key is under key_max_running, so a
 * key at its bound is skipped, not waited for; a worker that finishes a job of a key with jobs
 * waiting looks for work again and wakes one idle worker. The scan is bounded by max_queue.
 */
#include "util/workpool.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define KEY_BUCKETS 64
#define KEY_MAX     128 /* bytes of a key that count; tenant ids are far shorter */

struct key_slot {
    struct key_slot *next; /* in its bucket */
    int running, queued;
    char key[KEY_MAX];
};

struct job {
    struct job *next;
    latch_job_fn work, done;
    void *arg;
    struct latch_mailbox *mb;
    struct key_slot *slot; /* NULL: counted against no key */
};

struct latch_mailbox {
    pthread_mutex_t lock;
    struct job *head, *tail;
    struct event *ev;
};

struct latch_workpool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    struct latch_workpool_options opts;
    int queued, busy, keys;
    uint64_t submitted, completed, rejected, rejected_key;
    bool stopping;
    struct key_slot *buckets[KEY_BUCKETS];
    pthread_t *threads;
    int nthreads;
};

static void mailbox_deliver(evutil_socket_t fd, short what, void *arg)
{
    struct latch_mailbox *mb = arg;
    pthread_mutex_lock(&mb->lock);
    struct job *list = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->lock);
    while (list != NULL) {
        struct job *next = list->next;
        if (list->done != NULL)
            list->done(list->arg);
        free(list);
        list = next;
    }
}

struct latch_mailbox *latch_mailbox_new(struct event_base *base)
{
    struct latch_mailbox *mb = calloc(1, sizeof(*mb));
    if (mb == NULL)
        return NULL;
    pthread_mutex_init(&mb->lock, NULL);
    mb->ev = event_new(base, -1, 0, mailbox_deliver, mb);
    if (mb->ev == NULL) {
        pthread_mutex_destroy(&mb->lock);
        free(mb);
        return NULL;
    }
    return mb;
}

void latch_mailbox_free(struct latch_mailbox *mb)
{
    if (mb == NULL)
        return;
    event_free(mb->ev);
    for (struct job *j = mb->head, *next; j != NULL; j = next) {
        next = j->next;
        free(j);
    }
    pthread_mutex_destroy(&mb->lock);
    free(mb);
}

/* ---- key slots (under pool->lock) ---- */

static size_t bucket_of(const char *key)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *p = key; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    return (size_t)(h % KEY_BUCKETS);
}

/* The slot of key (already cut to KEY_MAX - 1 bytes), created when missing; NULL: no memory. */
static struct key_slot *slot_get(struct latch_workpool *pool, const char *key)
{
    struct key_slot **bucket = &pool->buckets[bucket_of(key)];
    for (struct key_slot *s = *bucket; s != NULL; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    struct key_slot *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    snprintf(s->key, sizeof(s->key), "%s", key);
    s->next = *bucket;
    *bucket = s;
    pool->keys++;
    return s;
}

/* Frees slot once nothing of its key is queued or running. */
static void slot_release(struct latch_workpool *pool, struct key_slot *slot)
{
    if (slot->running > 0 || slot->queued > 0)
        return;
    for (struct key_slot **pp = &pool->buckets[bucket_of(slot->key)]; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == slot) {
            *pp = slot->next;
            free(slot);
            pool->keys--;
            return;
        }
    }
}

static bool may_run(const struct latch_workpool *pool, const struct job *job)
{
    return job->slot == NULL || pool->opts.key_max_running <= 0 ||
           job->slot->running < pool->opts.key_max_running;
}

/* Unlinks and returns the first queued job that may run now; NULL when none may. */
static struct job *take_runnable(struct latch_workpool *pool)
{
    struct job *prev = NULL;
    for (struct job *j = pool->head; j != NULL; prev = j, j = j->next) {
        if (!may_run(pool, j))
            continue;
        if (prev != NULL)
            prev->next = j->next;
        else
            pool->head = j->next;
        if (pool->tail == j)
            pool->tail = prev;
        j->next = NULL;
        pool->queued--;
        if (j->slot != NULL) {
            j->slot->queued--;
            j->slot->running++;
        }
        return j;
    }
    return NULL;
}

/* ---- workers ---- */

static void deliver(struct job *job)
{
    struct latch_mailbox *mb = job->mb;
    job->next = NULL;
    pthread_mutex_lock(&mb->lock);
    bool was_empty = mb->head == NULL;
    if (mb->tail)
        mb->tail->next = job;
    else
        mb->head = job;
    mb->tail = job;
    pthread_mutex_unlock(&mb->lock);
    if (was_empty)
        event_active(mb->ev, EV_READ, 0);
}

static void *worker_main(void *arg)
{
    struct latch_workpool *pool = arg;
    struct key_slot *finished = NULL; /* the key of the job this worker just ran */
    bool ran = false;

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        if (ran) {
            pool->busy--;
            pool->completed++;
            if (finished != NULL) {
                finished->running--;
                /* A job of this key may run now. This worker takes the first runnable job, which
                 * may be another one: wake an idle worker to look too. */
                if (finished->queued > 0)
                    pthread_cond_signal(&pool->cond);
                slot_release(pool, finished);
            }
            ran = false;
            finished = NULL;
        }
        struct job *job = take_runnable(pool);
        if (job == NULL) {
            if (pool->stopping && pool->head == NULL) {
                /* Others may wait for jobs that were not runnable yet: let them see the end. */
                pthread_cond_broadcast(&pool->cond);
                break;
            }
            pthread_cond_wait(&pool->cond, &pool->lock);
            continue;
        }
        pool->busy++;
        pthread_mutex_unlock(&pool->lock);

        /* The job goes to the loop after work; keep what the bookkeeping needs. */
        finished = job->slot;
        job->work(job->arg);
        deliver(job);
        ran = true;

        pthread_mutex_lock(&pool->lock);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

struct latch_workpool *latch_workpool_new(const struct latch_workpool_options *opts)
{
    if (opts == NULL || opts->threads < 1 || opts->max_queue < 1 || opts->key_max_running < 0 ||
        opts->key_max_queued < 0)
        return NULL;
    struct latch_workpool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->opts = *opts;
    pool->threads = calloc((size_t)opts->threads, sizeof(pthread_t));
    if (pool->threads == NULL)
        goto fail;
    for (int i = 0; i < opts->threads; i++) {
        if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) {
            latch_err("cannot start worker thread %d", i);
            goto fail;
        }
        pool->nthreads++;
    }
    return pool;
fail:
    latch_workpool_free(pool);
    return NULL;
}

void latch_workpool_free(struct latch_workpool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    /* Jobs left only when no worker ever started. */
    for (struct job *j = pool->head, *next; j != NULL; j = next) {
        next = j->next;
        free(j);
    }
    for (int b = 0; b < KEY_BUCKETS; b++) {
        for (struct key_slot *s = pool->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            free(s);
        }
    }
    free(pool->threads);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

latch_rc latch_workpool_submit_keyed(struct latch_workpool *pool, struct latch_mailbox *mb,
                                     const char *key, latch_job_fn work, latch_job_fn done,
                                     void *arg, struct latch_error *err)
{
    char cut[KEY_MAX];
    latch_rc rc = LATCH_FAIL;
    struct job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return latch_error_set(err, 503, "service_unavailable",
                               "The server is out of memory; try again shortly.");
    job->work = work;
    job->done = done;
    job->arg = arg;
    job->mb = mb;
    bool keyed = key != NULL && key[0] != '\0';
    if (keyed)
        snprintf(cut, sizeof(cut), "%s", key);

    pthread_mutex_lock(&pool->lock);
    if (pool->stopping || pool->queued >= pool->opts.max_queue) {
        pool->rejected++;
        latch_error_set(err, 503, "service_unavailable", "The server is busy; try again shortly.");
        latch_error_detail(err, "worker queue full (%d jobs waiting)", pool->queued);
        goto out;
    }
    if (keyed) {
        job->slot = slot_get(pool, cut);
        if (job->slot == NULL) {
            pool->rejected++;
            latch_error_set(err, 503, "service_unavailable",
                            "The server is out of memory; try again shortly.");
            goto out;
        }
        if (pool->opts.key_max_queued > 0 && job->slot->queued >= pool->opts.key_max_queued) {
            pool->rejected++;
            pool->rejected_key++;
            latch_error_set(err, 503, "service_unavailable",
                            "Too many requests of this tenant are waiting for an upstream "
                            "service; try again shortly.");
            latch_error_detail(err, "%d jobs of the tenant running, %d waiting", job->slot->running,
                               job->slot->queued);
            goto out;
        }
        job->slot->queued++;
    }
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->queued++;
    pool->submitted++;
    rc = LATCH_OK;
    /* A job of a key at its bound wakes a worker for nothing; harmless, and rare. */
    pthread_cond_signal(&pool->cond);
out:
    pthread_mutex_unlock(&pool->lock);
    if (rc != LATCH_OK)
        free(job);
    return rc;
}

latch_rc latch_workpool_submit(struct latch_workpool *pool, struct latch_mailbox *mb,
                               latch_job_fn work, latch_job_fn done, void *arg)
{
    return latch_workpool_submit_keyed(pool, mb, NULL, work, done, arg, NULL);
}

void latch_workpool_get_stats(struct latch_workpool *pool, struct latch_workpool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = (struct latch_workpool_stats){
        .threads = pool->nthreads,
        .busy = pool->busy,
        .queued = pool->queued,
        .max_queue = pool->opts.max_queue,
        .keys = pool->keys,
        .submitted = pool->submitted,
        .completed = pool->completed,
        .rejected = pool->rejected,
        .rejected_key = pool->rejected_key,
    };
    pthread_mutex_unlock(&pool->lock);
}
