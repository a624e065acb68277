/*
 * Unit tests of the worker pool (core/util/workpool.c), the machinery of the server's worker
 * lanes: a full queue refuses at once, a key (the I/O lane's tenant) never runs more than its
 * bound while other keys' jobs behind it run, a key's waiting jobs are bounded, completions run
 * on the thread of the loop that submitted them, and freeing a pool runs what was queued.
 *
 * Jobs block on a gate the test opens, so every count is taken at a known point; waiting for
 * workers to reach a state polls the pool's counters (synchronization, not a timing check).
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/workpool.h"

/* ---- a gate jobs wait on ---- */

struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    g->open = false;
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void gate_wait(struct gate *g)
{
    pthread_mutex_lock(&g->lock);
    while (!g->open)
        pthread_cond_wait(&g->cond, &g->lock);
    pthread_mutex_unlock(&g->lock);
}

static void gate_clear(struct gate *g)
{
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
}

/* ---- jobs ---- */

/* What a group of jobs (one key) shares. */
struct group {
    struct gate *gate;       /* NULL: the job does not wait */
    atomic_int running;      /* jobs of the group in work() now */
    atomic_int max_seen;     /* most of them in work() at once */
    atomic_int worked;       /* work() finished */
    int done;                /* done() ran; only the loop thread touches it */
    pthread_t loop;          /* the thread done() must run on */
    atomic_int wrong_thread; /* done() ran elsewhere, or work() ran on the loop */
};

static void job_work(void *arg)
{
    struct group *g = arg;
    if (pthread_equal(pthread_self(), g->loop))
        g->wrong_thread++;
    int now = atomic_fetch_add(&g->running, 1) + 1;
    int seen = atomic_load(&g->max_seen);
    while (now > seen && !atomic_compare_exchange_weak(&g->max_seen, &seen, now))
        ;
    if (g->gate != NULL)
        gate_wait(g->gate);
    atomic_fetch_sub(&g->running, 1);
    atomic_fetch_add(&g->worked, 1);
}

static void job_done(void *arg)
{
    struct group *g = arg;
    if (!pthread_equal(pthread_self(), g->loop))
        g->wrong_thread++;
    g->done++;
}

static void group_init(struct group *g, struct gate *gate)
{
    memset(g, 0, sizeof(*g));
    g->gate = gate;
    g->loop = pthread_self();
}

static void pause_briefly(void)
{
    nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

/* Polls until `busy` workers run and `queued` jobs wait. */
static void await_stats(struct latch_workpool *pool, int busy, int queued)
{
    struct latch_workpool_stats st;
    for (;;) {
        latch_workpool_get_stats(pool, &st);
        if (st.busy == busy && st.queued == queued)
            return;
        pause_briefly();
    }
}

/* Polls until n jobs of g are inside work() (a worker counts as busy a little earlier). */
static void await_running(struct group *g, int n)
{
    while (atomic_load(&g->running) != n)
        pause_briefly();
}

/* Runs base until *count reaches want. */
static void run_until(struct event_base *base, const int *count, int want)
{
    while (*count < want) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*count < want)
            pause_briefly();
    }
}

static int setup(void **state)
{
    (void)state;
    return evthread_use_pthreads();
}

/* ---- tests ---- */

static void test_full_queue_refuses(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct latch_mailbox *mb = latch_mailbox_new(base);
    struct latch_workpool *pool =
        latch_workpool_new(&(struct latch_workpool_options){.threads = 1, .max_queue = 2});
    struct gate gate;
    struct group g;
    struct latch_error err = {0};
    struct latch_workpool_stats st;

    assert_non_null(pool);
    gate_init(&gate);
    group_init(&g, &gate);
    assert_int_equal(latch_workpool_submit(pool, mb, job_work, job_done, &g), LATCH_OK);
    await_stats(pool, 1, 0); /* the one worker holds it */
    assert_int_equal(latch_workpool_submit(pool, mb, job_work, job_done, &g), LATCH_OK);
    assert_int_equal(latch_workpool_submit_keyed(pool, mb, "t1", job_work, job_done, &g, &err),
                     LATCH_OK);
    /* The queue holds two: the next is refused at once, with or without a key. */
    assert_int_equal(latch_workpool_submit(pool, mb, job_work, job_done, &g), LATCH_FAIL);
    assert_int_equal(latch_workpool_submit_keyed(pool, mb, "t2", job_work, job_done, &g, &err),
                     LATCH_FAIL);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.message, "The server is busy; try again shortly.");
    latch_workpool_get_stats(pool, &st);
    assert_int_equal(st.threads, 1);
    assert_int_equal(st.busy, 1);
    assert_int_equal(st.queued, 2);
    assert_int_equal(st.submitted, 3);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(st.rejected_key, 0);

    gate_open(&gate);
    run_until(base, &g.done, 3);
    await_stats(pool, 0, 0); /* the worker's bookkeeping follows the completion */
    latch_workpool_get_stats(pool, &st);
    assert_int_equal(st.completed, 3);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.keys, 0); /* t1's slot went with its last job */
    assert_int_equal(g.max_seen, 1);
    assert_int_equal(g.wrong_thread, 0);
    /* Room again. */
    g.gate = NULL;
    assert_int_equal(latch_workpool_submit(pool, mb, job_work, job_done, &g), LATCH_OK);
    run_until(base, &g.done, 4);

    latch_workpool_free(pool);
    latch_mailbox_free(mb);
    event_base_free(base);
    gate_clear(&gate);
}

static void test_per_key_bound(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct latch_mailbox *mb = latch_mailbox_new(base);
    struct latch_workpool *pool = latch_workpool_new(&(struct latch_workpool_options){
        .threads = 4, .max_queue = 100, .key_max_running = 2, .key_max_queued = 3});
    struct gate slow, other;
    struct group a, b, c;
    struct latch_error err = {0};
    struct latch_workpool_stats st;

    assert_non_null(pool);
    gate_init(&slow);
    gate_init(&other);
    group_init(&a, &slow); /* tenant a: a hanging upstream */
    group_init(&b, &other);
    group_init(&c, &other);

    /* a fills its two workers, then three of its jobs wait; the next is refused. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(latch_workpool_submit_keyed(pool, mb, "a", job_work, job_done, &a, &err),
                         LATCH_OK);
        if (i == 1)
            await_stats(pool, 2, 0); /* until workers take them, they count as waiting */
    }
    await_stats(pool, 2, 3);
    assert_int_equal(latch_workpool_submit_keyed(pool, mb, "a", job_work, job_done, &a, &err),
                     LATCH_FAIL);
    assert_int_equal(err.status, 503);
    assert_non_null(strstr(err.message, "tenant"));
    latch_workpool_get_stats(pool, &st);
    assert_int_equal(st.rejected, 1);
    assert_int_equal(st.rejected_key, 1);
    assert_int_equal(st.keys, 1);

    /* b's jobs, queued behind a's, take the two free workers at once; a third of b waits. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(latch_workpool_submit_keyed(pool, mb, "b", job_work, job_done, &b, &err),
                         LATCH_OK);
    await_stats(pool, 4, 4);
    await_running(&a, 2);
    await_running(&b, 2);

    /* b finishes: its waiting job runs, then an unkeyed one, though a's were queued first. */
    assert_int_equal(latch_workpool_submit(pool, mb, job_work, job_done, &c), LATCH_OK);
    gate_open(&other);
    run_until(base, &b.done, 3);
    run_until(base, &c.done, 1);
    await_stats(pool, 2, 3);
    await_running(&a, 2);
    assert_int_equal(a.done, 0);

    /* a's upstream answers: its jobs drain, never more than two at once. */
    gate_open(&slow);
    run_until(base, &a.done, 5);
    await_stats(pool, 0, 0);
    assert_int_equal(a.max_seen, 2);
    assert_int_equal(b.max_seen, 2);
    assert_int_equal(a.wrong_thread + b.wrong_thread + c.wrong_thread, 0);
    latch_workpool_get_stats(pool, &st);
    assert_int_equal(st.submitted, 9);
    assert_int_equal(st.completed, 9);
    assert_int_equal(st.keys, 0);

    latch_workpool_free(pool);
    latch_mailbox_free(mb);
    event_base_free(base);
    gate_clear(&slow);
    gate_clear(&other);
}

/* Two loops on their own threads submit to one pool: each loop gets its own completions. */
struct loop_thread {
    struct latch_workpool *pool;
    struct group g;
    int submitted;
};

#define LOOP_JOBS 200

static void *loop_main(void *arg)
{
    struct loop_thread *lt = arg;
    struct event_base *base = event_base_new();
    struct latch_mailbox *mb = latch_mailbox_new(base);
    group_init(&lt->g, NULL);
    for (int i = 0; i < LOOP_JOBS; i++)
        if (latch_workpool_submit(lt->pool, mb, job_work, job_done, &lt->g) == LATCH_OK)
            lt->submitted++;
    run_until(base, &lt->g.done, lt->submitted);
    latch_mailbox_free(mb);
    event_base_free(base);
    return NULL;
}

static void test_completions_on_the_submitting_loop(void **state)
{
    (void)state;
    struct latch_workpool *pool =
        latch_workpool_new(&(struct latch_workpool_options){.threads = 3, .max_queue = 1000});
    struct loop_thread lt[2] = {{.pool = pool}, {.pool = pool}};
    pthread_t th[2];

    assert_non_null(pool);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, loop_main, &lt[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lt[i].submitted, LOOP_JOBS);
        assert_int_equal(lt[i].g.done, LOOP_JOBS);
        assert_int_equal(atomic_load(&lt[i].g.worked), LOOP_JOBS);
        assert_int_equal(lt[i].g.wrong_thread, 0);
    }
    latch_workpool_free(pool);
}

/* Freeing a pool runs the jobs still queued, even those a key's bound holds back. */
static void test_free_runs_what_was_queued(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct latch_mailbox *mb = latch_mailbox_new(base);
    struct latch_workpool *pool = latch_workpool_new(&(struct latch_workpool_options){
        .threads = 3, .max_queue = 50, .key_max_running = 1, .key_max_queued = 20});
    struct gate gate;
    struct group a;

    assert_non_null(pool);
    gate_init(&gate);
    group_init(&a, &gate);
    for (int i = 0; i < 10; i++)
        assert_int_equal(latch_workpool_submit_keyed(pool, mb, "a", job_work, job_done, &a, NULL),
                         LATCH_OK);
    await_stats(pool, 1, 9);
    gate_open(&gate);
    latch_workpool_free(pool); /* joins every worker: must not hang on a's bound */
    assert_int_equal(atomic_load(&a.worked), 10);
    assert_int_equal(a.max_seen, 1);
    latch_mailbox_free(mb); /* the completions were never delivered: dropped */
    assert_int_equal(a.done, 0);
    event_base_free(base);
    gate_clear(&gate);
}

static void test_invalid_options(void **state)
{
    (void)state;
    assert_null(latch_workpool_new(NULL));
    assert_null(latch_workpool_new(&(struct latch_workpool_options){.threads = 0, .max_queue = 1}));
    assert_null(latch_workpool_new(&(struct latch_workpool_options){.threads = 1, .max_queue = 0}));
    assert_null(latch_workpool_new(
        &(struct latch_workpool_options){.threads = 1, .max_queue = 1, .key_max_running = -1}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_queue_refuses),
        cmocka_unit_test(test_per_key_bound),
        cmocka_unit_test(test_completions_on_the_submitting_loop),
        cmocka_unit_test(test_free_runs_what_was_queued),
        cmocka_unit_test(test_invalid_options),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
