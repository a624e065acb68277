/*
 * The audit log's retention task (see audit.h): on the main thread, a second after start and
 * then every LATCH_LOG_MAINTENANCE_SECONDS, one call of latch_logs_maintain() (schema 0013)
 * creates the partitions of the coming days and drops those whose day is past
 * LATCH_LOG_RETENTION_DAYS. Every node runs it; a transaction advisory lock inside the function
 * lets one at a time do the work (the others return at once), which also works through a
 * transaction-mode pooler. A failed call is tried again within RETRY_SECONDS.
 *
 * Retention is global: every tenant's entries are kept LATCH_LOG_RETENTION_DAYS days, because a
 * partition is dropped whole (see docs/events.md).
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "audit/audit.h"
#include "config/config.h"
#include "store/store.h"
#include "util/log.h"

#define DAYS_AHEAD    7  /* partitions created this many days ahead */
#define RETRY_SECONDS 10 /* after a failed call */

struct latch_audit_retention {
    struct latch_store *store;
    struct event *timer;
    int period_s;
    int retention_days;
    bool busy;
};

static const struct latch_stmt maintain_stmt = {
    .name = "audit_logs_maintain",
    .sql = "SELECT created, dropped FROM latch_logs_maintain($1::integer, $2::integer)",
    .nparams = 2,
};

static void schedule(struct latch_audit_retention *r, int seconds)
{
    struct timeval tv = {.tv_sec = seconds};
    if (evtimer_add(r->timer, &tv) != 0)
        latch_err("audit log: cannot schedule the retention task");
}

static void maintained(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct latch_audit_retention *r = arg;
    r->busy = false;
    if (err != NULL) {
        latch_warn("audit log: partition maintenance failed (%s: %s); trying again in %d s",
                   err->code, err->detail[0] ? err->detail : err->message, RETRY_SECONDS);
        schedule(r, RETRY_SECONDS);
        return;
    }
    long created = n > 0 ? atol(latch_store_result_value(results[0], 0, 0)) : 0;
    long dropped = n > 0 ? atol(latch_store_result_value(results[0], 0, 1)) : 0;
    if (created > 0 || dropped > 0)
        latch_info("audit log: %ld partition(s) created, %ld dropped (retention %d days)", created,
                   dropped, r->retention_days);
    schedule(r, r->period_s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct latch_audit_retention *r = arg;
    if (r->busy)
        return;
    char days[16], ahead[16];
    snprintf(days, sizeof(days), "%d", r->retention_days);
    snprintf(ahead, sizeof(ahead), "%d", DAYS_AHEAD);
    const char *params[2] = {days, ahead};
    r->busy = true;
    latch_store_query(r->store, NULL, &maintain_stmt, params, maintained, r);
}

struct latch_audit_retention *latch_audit_retention_start(struct event_base *base,
                                                          struct latch_store *store,
                                                          const struct latch_config *cfg)
{
    struct latch_audit_retention *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->store = store;
    r->period_s = cfg->log_maintenance_seconds;
    r->retention_days = cfg->log_retention_days;
    r->timer = evtimer_new(base, on_timer, r);
    if (r->timer == NULL) {
        free(r);
        return NULL;
    }
    schedule(r, 1);
    return r;
}

void latch_audit_retention_free(struct latch_audit_retention *r)
{
    if (r == NULL)
        return;
    event_free(r->timer);
    free(r);
}
