/*
 * The server's two worker lanes (http.h): a CPU lane for Argon2 and key generation, sized to the
 * cores, and an I/O lane for connector calls and outbound HTTP, whose jobs mostly wait on a
 * network and which bounds each tenant, so that a slow upstream of one tenant never holds every
 * I/O worker and never delays a password sign-in. Both are util/workpool.h pools; this file
 * sizes them from the configuration and routes a request's job to its lane.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "http/server_internal.h"
#include "util/log.h"
#include "util/workpool.h"

/* Jobs waiting on the CPU lane. A password check takes tens of milliseconds: a full queue is
 * seconds of work, beyond which answering 503 at once serves a client better than waiting. */
#define CPU_QUEUE_MAX 1024
/* Jobs waiting on the I/O lane, every tenant together. */
#define IO_QUEUE_MAX 1024
/* A tenant's jobs waiting on the I/O lane, per I/O worker it may hold: behind a hanging
 * upstream they would wait its whole timeout, so the queue is short and the rest get 503. */
#define IO_TENANT_QUEUE_PER_WORKER 4
/* Seconds a refused client is told to wait. */
#define RETRY_AFTER "1"

static const char *const lane_names[LATCH_LANES] = {"cpu", "io"};
static _Atomic time_t last_warn[LATCH_LANES];

latch_rc latch_server_lanes_start(struct latch_server *srv, struct latch_error *err)
{
    const struct latch_config *cfg = srv->cfg;
    const struct latch_workpool_options opts[LATCH_LANES] = {
        [LATCH_LANE_CPU] = {.threads = cfg->cpu_workers, .max_queue = CPU_QUEUE_MAX},
        [LATCH_LANE_IO] =
            {
                .threads = cfg->io_workers,
                .max_queue = IO_QUEUE_MAX,
                .key_max_running = cfg->io_tenant_workers,
                .key_max_queued = cfg->io_tenant_workers * IO_TENANT_QUEUE_PER_WORKER,
            },
    };
    for (int i = 0; i < LATCH_LANES; i++) {
        srv->lanes[i] = latch_workpool_new(&opts[i]);
        if (srv->lanes[i] == NULL)
            return latch_error_set(err, 500, "server_error", "cannot start the %s worker lane",
                                   lane_names[i]);
    }
    latch_info("worker lanes: cpu %d workers (queue %d), io %d workers (queue %d; per tenant %d "
               "running, %d waiting)",
               opts[LATCH_LANE_CPU].threads, opts[LATCH_LANE_CPU].max_queue,
               opts[LATCH_LANE_IO].threads, opts[LATCH_LANE_IO].max_queue,
               opts[LATCH_LANE_IO].key_max_running, opts[LATCH_LANE_IO].key_max_queued);
    return LATCH_OK;
}

void latch_server_lanes_free(struct latch_server *srv)
{
    /* Workers finish what they run; completions not yet delivered are dropped. */
    for (int i = 0; i < LATCH_LANES; i++) {
        latch_workpool_free(srv->lanes[i]);
        srv->lanes[i] = NULL;
    }
}

latch_rc latch_http_submit(struct latch_request *req, enum latch_lane lane, latch_work_fn fn,
                           latch_work_fn done, void *arg, struct latch_error *err)
{
    struct latch_loop *loop = req->loop;
    struct latch_workpool *pool = loop->srv->lanes[lane];
    /* Only the I/O lane counts jobs per tenant: CPU work is short and bounded by the cores. */
    const char *key = lane == LATCH_LANE_IO ? req->tenant_id : NULL;

    if (latch_workpool_submit_keyed(pool, loop->mailbox, key, fn, done, arg, err) == LATCH_OK)
        return LATCH_OK;
    latch_http_add_header(req, "Retry-After", RETRY_AFTER);
    /* At most one line per lane and second: under overload every request is refused. */
    time_t now = time(NULL);
    time_t last = atomic_load_explicit(&last_warn[lane], memory_order_relaxed);
    if (err != NULL && now != last &&
        atomic_compare_exchange_strong_explicit(&last_warn[lane], &last, now, memory_order_relaxed,
                                                memory_order_relaxed))
        latch_http_log(req, LATCH_LOG_WARN, "%s worker lane refused a job: %s", lane_names[lane],
                       err->detail);
    return LATCH_FAIL;
}

struct latch_workpool *latch_server_lane(struct latch_server *srv, enum latch_lane lane)
{
    return srv->lanes[lane];
}

void latch_server_lane_stats(struct latch_server *srv, enum latch_lane lane,
                             struct latch_workpool_stats *out)
{
    if (srv->lanes[lane] == NULL) {
        *out = (struct latch_workpool_stats){0};
        return;
    }
    latch_workpool_get_stats(srv->lanes[lane], out);
}
