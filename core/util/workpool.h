/*
 * The worker pool: a fixed set of threads running blocking or CPU-heavy jobs (Argon2, connector
 * calls, outbound HTTP) so that no loop thread ever blocks. A job's completion runs on the loop
 * thread that submitted it, delivered through that loop's mailbox (an event made active from
 * the worker thread; libevent must be set up with evthread_use_pthreads()).
 *
 * The queue is bounded: a submit that finds it full fails at once, and the caller answers 503.
 */
#ifndef LATCH_UTIL_WORKPOOL_H
#define LATCH_UTIL_WORKPOOL_H

#include "util/error.h"

struct event_base;
struct latch_workpool;
struct latch_mailbox;

typedef void (*latch_job_fn)(void *arg);

/* Starts `threads` workers; at most max_queue jobs wait. NULL on failure. */
struct latch_workpool *latch_workpool_new(int threads, int max_queue);
/* Runs the jobs already queued, then joins the workers. Completions still undelivered are
 * dropped with their mailboxes. Call after the loops have stopped. */
void latch_workpool_free(struct latch_workpool *pool);

/* A mailbox delivers completions on base's thread. Free it on that thread, after the pool. */
struct latch_mailbox *latch_mailbox_new(struct event_base *base);
void latch_mailbox_free(struct latch_mailbox *mb);

/* Queues work(arg) on a worker; done(arg) later runs on mb's loop thread. Any thread. */
latch_rc latch_workpool_submit(struct latch_workpool *pool, struct latch_mailbox *mb,
                               latch_job_fn work, latch_job_fn done, void *arg) LATCH_MUST_CHECK;

/* The pool's state, for metrics. Any thread. */
struct latch_workpool_stats {
    int threads, max_queue, queued, busy;
    unsigned long long rejected; /* submits refused (queue full or stopping) since start */
};
void latch_workpool_stats_get(struct latch_workpool *pool, struct latch_workpool_stats *out);

#endif
