/*
 * Worker pool and mailboxes; see workpool.h. A mutex and condition variable guard a singly
 * linked FIFO of jobs; finished jobs move to their mailbox's list and the mailbox's event is
 * activated, so the completion runs on the owning loop with no polling.
 */
#include "util/workpool.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"

struct job {
    struct job *next;
    latch_job_fn work, done;
    void *arg;
    struct latch_mailbox *mb;
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
    int queued, max_queue;
    bool stopping;
    pthread_t *threads;
    int nthreads;
    atomic_int busy;        /* for metrics: jobs running */
    atomic_ullong rejected; /* for metrics: submits refused */
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

static void *worker_main(void *arg)
{
    struct latch_workpool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        while (pool->head == NULL && !pool->stopping)
            pthread_cond_wait(&pool->cond, &pool->lock);
        struct job *job = pool->head;
        if (job == NULL) {
            pthread_mutex_unlock(&pool->lock);
            return NULL;
        }
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->queued--;
        pthread_mutex_unlock(&pool->lock);

        atomic_fetch_add_explicit(&pool->busy, 1, memory_order_relaxed);
        job->work(job->arg);
        atomic_fetch_sub_explicit(&pool->busy, 1, memory_order_relaxed);

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
}

struct latch_workpool *latch_workpool_new(int threads, int max_queue)
{
    struct latch_workpool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    pool->max_queue = max_queue;
    pool->threads = calloc((size_t)threads, sizeof(pthread_t));
    if (pool->threads == NULL)
        goto fail;
    for (int i = 0; i < threads; i++) {
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
    free(pool->threads);
    pthread_cond_destroy(&pool->cond);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

latch_rc latch_workpool_submit(struct latch_workpool *pool, struct latch_mailbox *mb,
                               latch_job_fn work, latch_job_fn done, void *arg)
{
    struct job *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return LATCH_FAIL;
    job->work = work;
    job->done = done;
    job->arg = arg;
    job->mb = mb;
    pthread_mutex_lock(&pool->lock);
    if (pool->stopping || pool->queued >= pool->max_queue) {
        atomic_fetch_add_explicit(&pool->rejected, 1, memory_order_relaxed);
        pthread_mutex_unlock(&pool->lock);
        free(job);
        return LATCH_FAIL;
    }
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
    return LATCH_OK;
}

void latch_workpool_stats_get(struct latch_workpool *pool, struct latch_workpool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    out->threads = pool->nthreads;
    out->max_queue = pool->max_queue;
    out->queued = pool->queued;
    pthread_mutex_unlock(&pool->lock);
    out->busy = atomic_load_explicit(&pool->busy, memory_order_relaxed);
    out->rejected = atomic_load_explicit(&pool->rejected, memory_order_relaxed);
}
