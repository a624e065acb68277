/*
 * The asynchronous PostgreSQL pool of one loop thread; see store.h.
 *
 * Each connection is a small state machine (DOWN → CONNECTING → READY, back to DOWN on any
 * failure, with a backoff timer) driven by libevent events on PQsocket(). READY connections are
 * in pipeline mode: a call is sent as one segment ending with a Sync, so several calls can be in
 * flight on one connection, each answered in order. Per call we remember the sequence of
 * results to expect (prepares, the tenant setting, the statements), and walk it as results come
 * back: a query's results end with NULL, the segment with PGRES_PIPELINE_SYNC.
 */
#include "store/store.h"

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/log.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define PREPARED_SLOTS     256 /* open-addressing set of prepared statements per connection */

static const struct latch_stmt set_tenant_stmt = {
    .name = "latch_set_tenant",
    .sql = "SELECT set_config('latch.tenant_id', $1, true)",
    .nparams = 1,
};

enum step_kind { STEP_PREPARE, STEP_TENANT, STEP_OP };

struct step {
    enum step_kind kind;
    int op;                        /* for STEP_OP */
    const struct latch_stmt *stmt; /* for STEP_PREPARE */
};

struct latch_store_result {
    PGresult *pg;
};

struct call {
    struct call *next;
    latch_store_cb cb;
    void *arg;
    int nops;
    struct latch_store_op ops[LATCH_STORE_MAX_OPS];
    char *tenant_id;
    char *param_storage; /* one block holding copies of every parameter */

    /* while in flight */
    struct step steps[LATCH_STORE_MAX_OPS * 2 + 1];
    int nsteps, cur;
    bool failed;
    struct latch_error err;
    struct latch_store_result results[LATCH_STORE_MAX_OPS];
};

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_READY };

enum prep_state { PREP_NONE = 0, PREP_PENDING, PREP_DONE };

struct prep_entry {
    const struct latch_stmt *stmt;
    enum prep_state state;
};

struct conn {
    struct latch_store *store;
    int index;
    PGconn *pg;
    enum conn_state state;
    struct event *ev_read;
    struct event *ev_write;
    struct event *ev_timer; /* connect timeout, or reconnect backoff */
    int backoff_ms;
    struct call *head, *tail; /* in flight, in order */
    int inflight;
    struct prep_entry prepared[PREPARED_SLOTS];
};

struct latch_store {
    struct event_base *base;
    char *conninfo;
    int max_queue, max_in_flight;
    struct conn *conns;
    int nconns;
    int nready;
    struct call *wait_head, *wait_tail; /* waiting for a connection with room */
    int nwaiting;
    struct call *done_head, *done_tail; /* failed before sending; completed from ev_done */
    struct event *ev_done;
    char last_error[256];
    bool freeing;
    char *listen_sql[LATCH_STORE_MAX_OPS];
    struct latch_stmt listen_stmt[LATCH_STORE_MAX_OPS];
    int nlisten;
    void (*on_notify)(const char *channel, const char *payload, void *arg);
    void (*on_connect)(void *arg);
    void *notify_arg;
};

static void conn_start(struct conn *c);
static void conn_fail(struct conn *c, const char *why);
static void pump(struct latch_store *store);

/* ---- calls ---- */

static void call_free(struct call *call)
{
    for (int i = 0; i < call->nops; i++)
        if (call->results[i].pg != NULL)
            PQclear(call->results[i].pg);
    free(call->param_storage);
    free(call->tenant_id);
    free(call);
}

static void call_complete(struct call *call)
{
    struct latch_store_result *ptrs[LATCH_STORE_MAX_OPS];
    for (int i = 0; i < call->nops; i++)
        ptrs[i] = call->failed ? NULL : &call->results[i];
    call->cb(ptrs, call->nops, call->failed ? &call->err : NULL, call->arg);
    call_free(call);
}

static void call_set_error(struct call *call, int status, const char *code, const char *message,
                           const char *detail)
{
    if (call->failed)
        return; /* keep the first error */
    call->failed = true;
    latch_error_set(&call->err, status, code, "%s", message);
    if (detail != NULL)
        latch_error_detail(&call->err, "%s", detail);
}

static void fail_later(struct latch_store *store, struct call *call)
{
    call->next = NULL;
    if (store->done_tail)
        store->done_tail->next = call;
    else
        store->done_head = call;
    store->done_tail = call;
    event_active(store->ev_done, EV_TIMEOUT, 0);
}

static void run_done(evutil_socket_t fd, short what, void *arg)
{
    struct latch_store *store = arg;
    struct call *list = store->done_head;
    store->done_head = store->done_tail = NULL;
    while (list != NULL) {
        struct call *next = list->next;
        call_complete(list);
        list = next;
    }
}

static void unavailable(struct call *call, const char *detail)
{
    call_set_error(call, 503, "service_unavailable",
                   "The database is unavailable; try again shortly.", detail);
}

/* ---- prepared statement bookkeeping ---- */

static struct prep_entry *prep_slot(struct conn *c, const struct latch_stmt *stmt)
{
    size_t h = ((size_t)(uintptr_t)stmt >> 4) % PREPARED_SLOTS;
    for (size_t i = 0; i < PREPARED_SLOTS; i++) {
        struct prep_entry *e = &c->prepared[(h + i) % PREPARED_SLOTS];
        if (e->stmt == stmt || e->stmt == NULL)
            return e;
    }
    return NULL; /* full: the statement is sent unprepared */
}

/* ---- sending ---- */

static void want_flush(struct conn *c)
{
    int rc = PQflush(c->pg);
    if (rc < 0)
        conn_fail(c, PQerrorMessage(c->pg));
    else if (rc == 1)
        event_add(c->ev_write, NULL);
}

/* Sends one call as a pipeline segment. Returns false if the connection broke. */
static bool conn_send(struct conn *c, struct call *call)
{
    call->nsteps = 0;
    call->cur = 0;
    const struct latch_stmt *to_prepare[LATCH_STORE_MAX_OPS + 1];
    int nprep = 0;

    if (call->tenant_id != NULL)
        to_prepare[nprep++] = &set_tenant_stmt;
    for (int i = 0; i < call->nops; i++)
        to_prepare[nprep++] = call->ops[i].stmt;

    for (int i = 0; i < nprep; i++) {
        if (to_prepare[i]->name == NULL)
            continue;
        struct prep_entry *e = prep_slot(c, to_prepare[i]);
        if (e == NULL || e->state != PREP_NONE)
            continue;
        if (!PQsendPrepare(c->pg, to_prepare[i]->name, to_prepare[i]->sql, to_prepare[i]->nparams,
                           NULL))
            return false;
        e->stmt = to_prepare[i];
        e->state = PREP_PENDING;
        call->steps[call->nsteps++] = (struct step){.kind = STEP_PREPARE, .stmt = to_prepare[i]};
    }
    if (call->tenant_id != NULL) {
        const char *p[1] = {call->tenant_id};
        if (!PQsendQueryPrepared(c->pg, set_tenant_stmt.name, 1, p, NULL, NULL, 0))
            return false;
        call->steps[call->nsteps++] = (struct step){.kind = STEP_TENANT};
    }
    for (int i = 0; i < call->nops; i++) {
        const struct latch_stmt *st = call->ops[i].stmt;
        int ok;
        if (st->name != NULL && prep_slot(c, st) != NULL)
            ok = PQsendQueryPrepared(c->pg, st->name, st->nparams, call->ops[i].params, NULL, NULL,
                                     0);
        else
            ok = PQsendQueryParams(c->pg, st->sql, st->nparams, NULL, call->ops[i].params, NULL,
                                   NULL, 0);
        if (!ok)
            return false;
        call->steps[call->nsteps++] = (struct step){.kind = STEP_OP, .op = i};
    }
    if (!PQpipelineSync(c->pg))
        return false;

    call->next = NULL;
    if (c->tail)
        c->tail->next = call;
    else
        c->head = call;
    c->tail = call;
    c->inflight++;
    return true;
}

static struct conn *pick_conn(struct latch_store *store)
{
    struct conn *best = NULL;
    for (int i = 0; i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        if (c->state != CONN_READY || c->inflight >= store->max_in_flight)
            continue;
        if (best == NULL || c->inflight < best->inflight)
            best = c;
    }
    return best;
}

/* Moves waiting calls onto connections with room. */
static void pump(struct latch_store *store)
{
    while (store->wait_head != NULL) {
        struct conn *c = pick_conn(store);
        if (c == NULL)
            return;
        struct call *call = store->wait_head;
        store->wait_head = call->next;
        if (store->wait_head == NULL)
            store->wait_tail = NULL;
        store->nwaiting--;
        if (!conn_send(c, call)) {
            /* The call was not queued on c; fail it with the connection's error. */
            unavailable(call, PQerrorMessage(c->pg));
            fail_later(store, call);
            conn_fail(c, PQerrorMessage(c->pg));
            continue;
        }
        want_flush(c);
    }
}

/* ---- receiving ---- */

static void prepare_result(struct conn *c, const struct latch_stmt *stmt, bool ok)
{
    struct prep_entry *e = prep_slot(c, stmt);
    if (e != NULL && e->stmt == stmt)
        e->state = ok ? PREP_DONE : PREP_NONE;
}

static void handle_result(struct conn *c, PGresult *res)
{
    struct call *call = c->head;
    ExecStatusType st = PQresultStatus(res);

    if (st == PGRES_PIPELINE_SYNC) {
        PQclear(res);
        if (call == NULL)
            return;
        c->head = call->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->inflight--;
        if (!call->failed && call->cur != call->nsteps)
            call_set_error(call, 500, "server_error", "Unexpected database response.",
                           "pipeline sync before all results");
        call_complete(call);
        return;
    }
    if (call == NULL || call->cur >= call->nsteps) {
        PQclear(res);
        return;
    }
    struct step *step = &call->steps[call->cur];
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (step->kind == STEP_PREPARE)
        prepare_result(c, step->stmt, ok);
    if (!ok) {
        if (st == PGRES_PIPELINE_ABORTED) {
            call_set_error(call, 500, "server_error", "The database rejected the request.",
                           "pipeline aborted");
        } else {
            const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            const char *msg = PQresultErrorMessage(res);
            latch_metrics_db_error(sqlstate);
            /* Constraint violations are the caller's business (409/422); others are ours. */
            if (sqlstate != NULL && strncmp(sqlstate, "23", 2) == 0)
                call_set_error(call, 409, sqlstate, "The request conflicts with stored data.", msg);
            else if (sqlstate != NULL && strcmp(sqlstate, "42501") == 0)
                call_set_error(call, 403, sqlstate, "Not permitted.", msg);
            else
                call_set_error(call, 500, sqlstate ? sqlstate : "server_error",
                               "The database rejected the request.", msg);
        }
        PQclear(res);
        return;
    }
    if (step->kind == STEP_OP && call->results[step->op].pg == NULL) {
        call->results[step->op].pg = res;
        return;
    }
    PQclear(res);
}

static void conn_read_results(struct conn *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    while (c->state == CONN_READY && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res == NULL) {
            /* End of one query's results, or nothing more is pending. */
            struct call *call = c->head;
            if (call == NULL || call->cur >= call->nsteps)
                break;
            call->cur++;
            continue;
        }
        handle_result(c, res);
    }
    PGnotify *n;
    while (c->state == CONN_READY && (n = PQnotifies(c->pg)) != NULL) {
        if (c->store->on_notify != NULL)
            c->store->on_notify(n->relname, n->extra, c->store->notify_arg);
        PQfreemem(n);
    }
    if (c->state == CONN_READY && PQstatus(c->pg) == CONNECTION_BAD)
        conn_fail(c, PQerrorMessage(c->pg));
}

/* ---- connection life cycle ---- */

static void set_last_error(struct latch_store *store, const char *why)
{
    snprintf(store->last_error, sizeof(store->last_error), "%s", why ? why : "unknown error");
    size_t n = strlen(store->last_error);
    while (n > 0 && (store->last_error[n - 1] == '\n' || store->last_error[n - 1] == ' '))
        store->last_error[--n] = '\0';
}

static void conn_teardown(struct conn *c)
{
    if (c->ev_read) {
        event_free(c->ev_read);
        c->ev_read = NULL;
    }
    if (c->ev_write) {
        event_free(c->ev_write);
        c->ev_write = NULL;
    }
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    memset(c->prepared, 0, sizeof(c->prepared));
}

static void schedule_retry(struct conn *c)
{
    int base = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
    c->backoff_ms = base * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : base * 2;
    /* ±25% jitter so the nodes of a cluster do not reconnect in lockstep. */
    int jitter = (int)(random() % (base / 2 + 1)) - base / 4;
    int ms = base + jitter;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(c->ev_timer, &tv);
}

static void conn_fail(struct conn *c, const char *why)
{
    struct latch_store *store = c->store;
    bool was_ready = c->state == CONN_READY;
    set_last_error(store, why);
    if (was_ready) {
        store->nready--;
        latch_warn("database connection %d lost: %s", c->index, store->last_error);
    } else if (c->state == CONN_CONNECTING && c->backoff_ms <= BACKOFF_MIN_MS * 2) {
        latch_warn("database connection %d failed: %s", c->index, store->last_error);
    }
    c->state = CONN_DOWN;
    evtimer_del(c->ev_timer);

    struct call *list = c->head;
    c->head = c->tail = NULL;
    c->inflight = 0;
    conn_teardown(c);
    while (list != NULL) {
        struct call *next = list->next;
        unavailable(list, store->last_error);
        fail_later(store, list);
        list = next;
    }
    /* Waiting calls go elsewhere, or fail if nothing is left. */
    if (store->nready == 0) {
        while (store->wait_head != NULL) {
            struct call *call = store->wait_head;
            store->wait_head = call->next;
            unavailable(call, store->last_error);
            fail_later(store, call);
        }
        store->wait_tail = NULL;
        store->nwaiting = 0;
    } else {
        pump(store);
    }
    if (!store->freeing)
        schedule_retry(c);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

static void listen_done(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    if (err != NULL)
        latch_warn("LISTEN failed: %s (%s)", err->message, err->detail);
}

static void connect_poll(struct conn *c)
{
    PostgresPollingStatusType st = PQconnectPoll(c->pg);
    if (c->ev_read) {
        event_free(c->ev_read);
        c->ev_read = NULL;
    }
    if (c->ev_write) {
        event_free(c->ev_write);
        c->ev_write = NULL;
    }
    int fd = PQsocket(c->pg);
    switch (st) {
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
        /* The socket may change between polls (several hosts or addresses): new events. */
        c->ev_read = event_new(c->store->base, fd, st == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
                               on_io, c);
        if (c->ev_read == NULL || event_add(c->ev_read, NULL) != 0)
            conn_fail(c, "cannot watch the database socket");
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    c->ev_read = event_new(c->store->base, fd, EV_READ | EV_PERSIST, on_io, c);
    c->ev_write = event_new(c->store->base, fd, EV_WRITE, on_io, c);
    if (c->ev_read == NULL || c->ev_write == NULL || event_add(c->ev_read, NULL) != 0) {
        conn_fail(c, "cannot watch the database socket");
        return;
    }
    evtimer_del(c->ev_timer);
    if (c->backoff_ms > BACKOFF_MIN_MS * 2)
        latch_info("database connection %d re-established", c->index);
    if (c->backoff_ms != 0)
        latch_metrics_db_reconnect(); /* backoff is set by a loss or a failed attempt only */
    c->state = CONN_READY;
    c->backoff_ms = 0;
    c->store->nready++;
    c->store->last_error[0] = '\0';
    if (c->store->nlisten > 0) {
        struct call *call = calloc(1, sizeof(*call));
        if (call == NULL) {
            conn_fail(c, "out of memory");
            return;
        }
        call->cb = listen_done;
        call->arg = c->store;
        call->nops = c->store->nlisten;
        for (int i = 0; i < c->store->nlisten; i++)
            call->ops[i].stmt = &c->store->listen_stmt[i];
        if (!conn_send(c, call)) {
            call_free(call);
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        want_flush(c);
        if (c->state != CONN_READY)
            return;
    }
    if (c->store->on_connect != NULL)
        c->store->on_connect(c->store->notify_arg);
    pump(c->store);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CONNECTING) {
        connect_poll(c);
        return;
    }
    if (c->state != CONN_READY)
        return;
    if (what & EV_WRITE) {
        want_flush(c);
        if (c->state != CONN_READY)
            return;
    }
    if (what & EV_READ) {
        conn_read_results(c);
        if (c->state == CONN_READY)
            pump(c->store);
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CONNECTING)
        conn_fail(c, "timed out connecting to the database");
    else if (c->state == CONN_DOWN)
        conn_start(c);
}

static void conn_start(struct conn *c)
{
    static const char *const keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {c->store->conninfo, "latchd", NULL};
    c->pg = PQconnectStartParams(keys, values, 1);
    if (c->pg == NULL) {
        conn_fail(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = CONN_CONNECTING;
    struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_MS / 1000, .tv_usec = 0};
    evtimer_add(c->ev_timer, &tv);
    connect_poll(c);
}

/* ---- public API ---- */

struct latch_store *latch_store_new(struct event_base *base, const struct latch_store_options *opts)
{
    struct latch_store *store = calloc(1, sizeof(*store));
    if (store == NULL)
        return NULL;
    store->base = base;
    store->conninfo = strdup(opts->conninfo);
    store->max_queue = opts->max_queue > 0 ? opts->max_queue : 1024;
    store->max_in_flight = opts->max_in_flight > 0 ? opts->max_in_flight : 32;
    store->nconns = opts->pool_size > 0 ? opts->pool_size : 1;
    store->on_notify = opts->on_notify;
    store->on_connect = opts->on_connect;
    store->notify_arg = opts->notify_arg;
    const char *channels[LATCH_STORE_MAX_OPS];
    int nchannels = 0;
    if (opts->listen_channel != NULL)
        channels[nchannels++] = opts->listen_channel;
    for (const char *const *ch = opts->listen_channels; ch != NULL && *ch != NULL; ch++) {
        if (nchannels == LATCH_STORE_MAX_OPS)
            goto fail; /* more channels than one call can LISTEN to */
        channels[nchannels++] = *ch;
    }
    for (int i = 0; i < nchannels; i++) {
        /* The channel is a compile-time identifier of ours, never input; quote it anyway. */
        size_t n = strlen(channels[i]) + 16;
        char *sql = malloc(n);
        if (sql == NULL)
            goto fail;
        snprintf(sql, n, "LISTEN \"%s\"", channels[i]);
        store->listen_sql[i] = sql;
        store->listen_stmt[i].name = NULL; /* sent unprepared */
        store->listen_stmt[i].sql = sql;
        store->listen_stmt[i].nparams = 0;
        store->nlisten = i + 1;
    }
    store->conns = calloc((size_t)store->nconns, sizeof(struct conn));
    store->ev_done = event_new(base, -1, 0, run_done, store);
    if (store->conninfo == NULL || store->conns == NULL || store->ev_done == NULL)
        goto fail;
    set_last_error(store, "connecting");
    for (int i = 0; i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        c->store = store;
        c->index = i;
        c->ev_timer = evtimer_new(base, on_timer, c);
        if (c->ev_timer == NULL)
            goto fail;
    }
    for (int i = 0; i < store->nconns; i++)
        conn_start(&store->conns[i]);
    return store;
fail:
    latch_store_free(store);
    return NULL;
}

void latch_store_free(struct latch_store *store)
{
    if (store == NULL)
        return;
    store->freeing = true;
    for (int i = 0; store->conns != NULL && i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        if (c->state != CONN_DOWN || c->head != NULL)
            conn_fail(c, "shutting down");
        conn_teardown(c);
        if (c->ev_timer)
            event_free(c->ev_timer);
    }
    while (store->wait_head != NULL) {
        struct call *call = store->wait_head;
        store->wait_head = call->next;
        unavailable(call, "shutting down");
        fail_later(store, call);
    }
    if (store->ev_done != NULL)
        run_done(-1, 0, store);
    if (store->ev_done)
        event_free(store->ev_done);
    free(store->conns);
    free(store->conninfo);
    for (int i = 0; i < store->nlisten; i++)
        free(store->listen_sql[i]);
    free(store);
}

void latch_store_exec(struct latch_store *store, const char *tenant_id,
                      const struct latch_store_op *ops, int nops, latch_store_cb cb, void *arg)
{
    struct call *call = calloc(1, sizeof(*call));
    if (call == NULL)
        goto oom;
    call->cb = cb;
    call->arg = arg;
    if (nops < 1 || nops > LATCH_STORE_MAX_OPS) {
        call_set_error(call, 500, "server_error", "Internal error.", "bad number of statements");
        fail_later(store, call);
        return;
    }
    call->nops = nops;

    /* Copy every parameter into one block, so the caller's buffers may go away. */
    size_t total = 0;
    for (int i = 0; i < nops; i++)
        for (int p = 0; p < ops[i].stmt->nparams; p++)
            if (ops[i].params[p] != NULL)
                total += strlen(ops[i].params[p]) + 1;
    call->param_storage = malloc(total ? total : 1);
    if (tenant_id != NULL)
        call->tenant_id = strdup(tenant_id);
    if (call->param_storage == NULL || (tenant_id != NULL && call->tenant_id == NULL)) {
        call_free(call);
        goto oom;
    }
    char *w = call->param_storage;
    for (int i = 0; i < nops; i++) {
        call->ops[i].stmt = ops[i].stmt;
        for (int p = 0; p < ops[i].stmt->nparams && p < LATCH_STORE_MAX_PARAMS; p++) {
            if (ops[i].params[p] == NULL)
                continue;
            size_t len = strlen(ops[i].params[p]) + 1;
            memcpy(w, ops[i].params[p], len);
            call->ops[i].params[p] = w;
            w += len;
        }
    }

    if (store->nready == 0) {
        unavailable(call, store->last_error);
        fail_later(store, call);
        return;
    }
    if (store->nwaiting >= store->max_queue) {
        call_set_error(call, 503, "service_unavailable", "The server is busy; try again shortly.",
                       "database queue full");
        fail_later(store, call);
        return;
    }
    call->next = NULL;
    if (store->wait_tail)
        store->wait_tail->next = call;
    else
        store->wait_head = call;
    store->wait_tail = call;
    store->nwaiting++;
    pump(store);
    return;
oom:
    latch_err("out of memory queueing a database call");
    {
        static const struct latch_error oom_err = {
            .status = 503, .code = "service_unavailable", .message = "Out of memory."};
        cb(NULL, 0, &oom_err, arg);
    }
}

void latch_store_query(struct latch_store *store, const char *tenant_id,
                       const struct latch_stmt *stmt, const char *const *params, latch_store_cb cb,
                       void *arg)
{
    struct latch_store_op op = {.stmt = stmt};
    for (int i = 0; i < stmt->nparams && i < LATCH_STORE_MAX_PARAMS; i++)
        op.params[i] = params[i];
    latch_store_exec(store, tenant_id, &op, 1, cb, arg);
}

bool latch_store_is_connected(const struct latch_store *store)
{
    return store->nready > 0;
}

const char *latch_store_last_error(const struct latch_store *store)
{
    return store->nready > 0 ? "" : store->last_error;
}

int latch_store_result_rows(const struct latch_store_result *res)
{
    return res && res->pg ? PQntuples(res->pg) : 0;
}

int latch_store_result_cols(const struct latch_store_result *res)
{
    return res && res->pg ? PQnfields(res->pg) : 0;
}

bool latch_store_result_isnull(const struct latch_store_result *res, int row, int col)
{
    return res == NULL || res->pg == NULL || PQgetisnull(res->pg, row, col);
}

const char *latch_store_result_value(const struct latch_store_result *res, int row, int col)
{
    if (res == NULL || res->pg == NULL || row >= PQntuples(res->pg) || col >= PQnfields(res->pg))
        return "";
    return PQgetvalue(res->pg, row, col);
}

size_t latch_store_result_length(const struct latch_store_result *res, int row, int col)
{
    if (res == NULL || res->pg == NULL || row >= PQntuples(res->pg) || col >= PQnfields(res->pg))
        return 0;
    return (size_t)PQgetlength(res->pg, row, col);
}

long latch_store_result_affected(const struct latch_store_result *res)
{
    if (res == NULL || res->pg == NULL)
        return 0;
    return strtol(PQcmdTuples(res->pg), NULL, 10);
}

void latch_store_stats_get(const struct latch_store *store, struct latch_store_stats *out)
{
    out->connections = store->nconns;
    out->ready = store->nready;
    out->busy = 0;
    for (int i = 0; i < store->nconns; i++)
        if (store->conns[i].state == CONN_READY && store->conns[i].inflight > 0)
            out->busy++;
    out->waiting = store->nwaiting;
}
