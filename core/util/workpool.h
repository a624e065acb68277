/*
 * The worker pool: a fixed set of threads running blocking or CPU-heavy jobs (Argon2, connector
 * calls, outbound HTTP) so that no loop thread ever blocks. A job's completion runs on the loop
 * thread that submitted it, delivered through that loop's mailbox (an event made active from
 * the worker thread; libevent must be set up with evthread_use_pthreads()).
 *
 * The server runs two pools, its worker lanes (http.h): one for CPU work, one for I/O. Every
 * pool is bounded: a submit that finds the queue full fails at once, and the caller answers 503.
 * A pool may also bound each key (the I/O lane's key is the tenant): at most key_max_running
 * jobs of one key run at once, the key's other jobs wait (at most key_max_queued of them) while
 * workers take the jobs of other keys behind them, so one tenant's slow upstream never holds
 * every worker.
 */
#ifndef LATCH_UTIL_WORKPOOL_H
#define LATCH_UTIL_WORKPOOL_H

#include <stdint.h>

#include "util/error.h"

struct event_base;
struct latch_workpool;
struct latch_mailbox;

typedef void (*latch_job_fn)(void *arg);

struct latch_workpool_options {
    int threads;         /* workers, >= 1 */
    int max_queue;       /* jobs waiting, every key together, >= 1 */
    int key_max_running; /* jobs of one key running at once; 0: no per-key bound */
    int key_max_queued;  /* jobs of one key waiting; 0: only max_queue bounds them */
};

/* A snapshot of a pool's counters (latch_workpool_get_stats). */
struct latch_workpool_stats {
    int threads;           /* workers */
    int busy;              /* workers running a job now */
    int queued;            /* jobs waiting for a worker */
    int max_queue;         /* the bound of queued */
    int keys;              /* keys with a job queued or running */
    uint64_t submitted;    /* jobs accepted since start */
    uint64_t completed;    /* jobs whose work has run */
    uint64_t rejected;     /* submits refused, for any reason */
    uint64_t rejected_key; /* of those, refused because the key's own queue was full */
};

/* Starts the workers. NULL on failure (invalid options, no memory, no thread). */
struct latch_workpool *latch_workpool_new(const struct latch_workpool_options *opts);
/* Runs the jobs already queued, then joins the workers. Completions still undelivered are
 * dropped with their mailboxes. Call after the loops have stopped. */
void latch_workpool_free(struct latch_workpool *pool);

/* A mailbox delivers completions on base's thread. Free it on that thread, after the pool. */
struct latch_mailbox *latch_mailbox_new(struct event_base *base);
void latch_mailbox_free(struct latch_mailbox *mb);

/* Queues work(arg) on a worker; done(arg) later runs on mb's loop thread. Any thread. Fails
 * (done is then never called) when the queue is full or the pool is stopping. */
latch_rc latch_workpool_submit(struct latch_workpool *pool, struct latch_mailbox *mb,
                               latch_job_fn work, latch_job_fn done, void *arg) LATCH_MUST_CHECK;

/* As latch_workpool_submit, for a job counted against key (copied; NULL or "" counts against
 * no key). On refusal err (may be NULL) holds a 503 whose message says whether the pool or the
 * key was full. */
latch_rc latch_workpool_submit_keyed(struct latch_workpool *pool, struct latch_mailbox *mb,
                                     const char *key, latch_job_fn work, latch_job_fn done,
                                     void *arg, struct latch_error *err) LATCH_MUST_CHECK;

/* Fills *out with the pool's counters now. Any thread; takes the pool's lock briefly. */
void latch_workpool_get_stats(struct latch_workpool *pool, struct latch_workpool_stats *out);

#endif
