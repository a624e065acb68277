/*
 * The asynchronous PostgreSQL pool of one loop thread; see store.h.
 *
 * Each connection is a small state machine (DOWN → CONNECTING → READY, back to DOWN on any
 * failure, with a backoff timer) driven by libevent events on PQsocket(). READY connections are
 * in pipeline mode: a call is sent as one segment ending with a Sync, so several calls can be in
 * flight on one connection, each answered in order. Per call we remember the sequence of
 * results to expect (prepares, the tenant setting, the statements), and walk it as results come
 * back: a query's results end with NULL, the segment with PGRES_PIPELINE_SYNC.
 *
 * Outages: a connection retries with jittered exponential backoff; connection 0 of each store
 * is the probe and never waits more than PROBE_MAX_MS, so that some connection of every node
 * notices within half a second that PostgreSQL is back. The first connection established after
 * a failure wakes every store of the process (a registry of stores, each with an event any
 * thread may activate), whose down connections then reconnect at once.
 */
#include "store/store.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics.h"
#include "util/log.h"

#define CONNECT_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     5000
#define PROBE_MAX_MS       500   /* connection 0's backoff bound */
#define WAIT_DEFAULT_MS    1000  /* a call's wait for a connection while another store has one */
#define RESOLVE_TTL_MS     10000 /* how long resolved database addresses are reused */
#define RESOLVE_MAX_ADDRS  8
#define KICK_MIN_MS        100
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
    uint64_t queued_ms; /* when it started waiting for a connection */
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
    /* The COMMIT failed: its error result came after the last statement's, and libpq's NULL
     * that ends it is still to be read before the Sync (conn_read_results). */
    bool commit_error_open;
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
    bool failed_since_ready;  /* a connect failed since the last established connection */
    bool waiting_dns;         /* down, to be started when the resolution completes */
    struct call *head, *tail; /* in flight, in order */
    int inflight;
    struct prep_entry prepared[PREPARED_SLOTS];
};

struct resolver;

struct latch_store {
    struct latch_store *next_store; /* the process-wide registry */
    struct event_base *base;
    char *conninfo;
    bool transaction_pooling;
    bool ever_connected;
    uint64_t kicked_ms; /* last reconnect started by a waiting call */
    int wait_ms;
    struct event *ev_wake; /* activated by any thread: reconnect now */
    struct event *ev_wait; /* fails calls that waited wait_ms for a connection */
    /* Host name resolution off the loop (see the resolver below). */
    char *resolve_hosts; /* the conninfo's host list when it names hosts; NULL otherwise */
    char *resolve_ports; /* its port list, "" when none */
    char *hostaddr, *hostlist, *portlist; /* the last resolution, for libpq */
    uint64_t resolved_ms;
    struct resolver *resolving; /* in flight */
    struct event *ev_resolved;
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

/* ---- the process-wide registry of stores ---- */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct latch_store *registry;
static atomic_int ready_total;
static atomic_bool pooled_detected; /* transaction pooling seen in session mode */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void registry_add(struct latch_store *store)
{
    pthread_mutex_lock(&registry_lock);
    store->next_store = registry;
    registry = store;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct latch_store *store)
{
    pthread_mutex_lock(&registry_lock);
    for (struct latch_store **p = &registry; *p != NULL; p = &(*p)->next_store) {
        if (*p == store) {
            *p = store->next_store;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* PostgreSQL answered one of our connections: every other store retries now. The lock keeps a
 * store from being freed while its event is activated. */
static void wake_all(const struct latch_store *except)
{
    pthread_mutex_lock(&registry_lock);
    for (struct latch_store *st = registry; st != NULL; st = st->next_store)
        if (st != except)
            event_active(st->ev_wake, EV_READ, 0);
    pthread_mutex_unlock(&registry_lock);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct latch_store *store = arg;
    for (int i = 0; i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        if (c->state != CONN_DOWN || c->waiting_dns || store->freeing)
            continue;
        evtimer_del(c->ev_timer);
        c->backoff_ms = 0;
        conn_start(c);
    }
}

static bool pooled(const struct latch_store *store)
{
    return store->transaction_pooling ||
           atomic_load_explicit(&pooled_detected, memory_order_relaxed);
}

/* ---- host name resolution off the loop ----
 *
 * libpq resolves a host name with a blocking getaddrinfo() inside PQconnectStartParams. So when
 * the conninfo names hosts (and gives no hostaddr), a short-lived thread resolves them and the
 * connections are made with hostaddr set to what it found; host keeps the name (TLS host
 * verification, Kerberos). The resolver is shared by the store and its thread; whichever lets
 * go last frees it, and a store that goes away first leaves the result unread. */

struct resolver {
    pthread_mutex_t lock;
    int refs;
    struct latch_store *store; /* NULL once the store has let go */
    char *hosts, *ports;       /* copies of the conninfo's lists */
    char *hostaddr, *hostlist, *portlist;
    char error[256];
};

static void resolver_unref(struct resolver *r)
{
    pthread_mutex_lock(&r->lock);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->hosts);
    free(r->ports);
    free(r->hostaddr);
    free(r->hostlist);
    free(r->portlist);
    free(r);
}

/* Appends item to a comma-separated list in buf (bounded). */
static bool list_add(char *buf, size_t cap, const char *item)
{
    size_t n = strlen(buf), k = strlen(item);
    if (n + k + 2 > cap)
        return false;
    if (n > 0)
        buf[n++] = ',';
    memcpy(buf + n, item, k + 1);
    return true;
}

/* The i-th element of a comma-separated list into out ("" when absent). */
static void list_get(const char *list, int i, char *out, size_t cap)
{
    out[0] = '\0';
    for (const char *p = list; p != NULL; i--) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (i == 0) {
            if (n >= cap)
                n = cap - 1;
            memcpy(out, p, n);
            out[n] = '\0';
            return;
        }
        p = end ? end + 1 : NULL;
    }
}

static int list_count(const char *list)
{
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    return n;
}

static void *resolve_main(void *arg)
{
    struct resolver *r = arg;
    enum { CAP = RESOLVE_MAX_ADDRS * 64 };
    char addrs[CAP] = "", hosts[CAP] = "", ports[CAP] = "";
    int nhosts = list_count(r->hosts);
    bool per_host_ports = r->ports[0] != '\0' && list_count(r->ports) == nhosts;
    int found = 0;
    for (int i = 0; i < nhosts && found < RESOLVE_MAX_ADDRS; i++) {
        char host[256], port[16];
        list_get(r->hosts, i, host, sizeof(host));
        list_get(r->ports, per_host_ports ? i : 0, port, sizeof(port));
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct addrinfo *ai = NULL;
        int rc = getaddrinfo(host, NULL, &hints, &ai);
        if (rc != 0) {
            snprintf(r->error, sizeof(r->error),
                     "could not resolve the database host \"%.128s\": %.80s", host,
                     gai_strerror(rc));
            continue;
        }
        for (struct addrinfo *a = ai; a != NULL && found < RESOLVE_MAX_ADDRS; a = a->ai_next) {
            char ip[INET6_ADDRSTRLEN];
            const void *src = a->ai_family == AF_INET
                                  ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                  : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
                inet_ntop(a->ai_family, src, ip, sizeof(ip)) == NULL)
                continue;
            if (!list_add(addrs, CAP, ip) || !list_add(hosts, CAP, host) ||
                (per_host_ports && !list_add(ports, CAP, port)))
                break;
            found++;
        }
        freeaddrinfo(ai);
    }
    pthread_mutex_lock(&r->lock);
    if (found > 0) {
        r->hostaddr = strdup(addrs);
        r->hostlist = strdup(hosts);
        r->portlist = per_host_ports ? strdup(ports) : NULL;
        r->error[0] = '\0';
    } else if (r->error[0] == '\0') {
        snprintf(r->error, sizeof(r->error), "the database host has no address");
    }
    if (r->store != NULL)
        event_active(r->store->ev_resolved, EV_READ, 0);
    pthread_mutex_unlock(&r->lock);
    resolver_unref(r);
    return NULL;
}

/* Starts a resolution unless one runs; false when no thread could be started. */
static bool resolve_start(struct latch_store *store)
{
    if (store->resolving != NULL)
        return true;
    struct resolver *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return false;
    pthread_mutex_init(&r->lock, NULL);
    r->refs = 2;
    r->store = store;
    r->hosts = strdup(store->resolve_hosts);
    r->ports = strdup(store->resolve_ports);
    pthread_attr_t attr;
    pthread_t t;
    bool started = false;
    if (r->hosts != NULL && r->ports != NULL && pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&t, &attr, resolve_main, r) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        r->refs = 1;
        resolver_unref(r);
        return false;
    }
    store->resolving = r;
    return true;
}

/* The store lets go of its resolution in flight (its result is not wanted). */
static void resolve_abandon(struct latch_store *store)
{
    struct resolver *r = store->resolving;
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->store = NULL;
    pthread_mutex_unlock(&r->lock);
    store->resolving = NULL;
    resolver_unref(r);
}

static void on_resolved(evutil_socket_t fd, short what, void *arg)
{
    struct latch_store *store = arg;
    struct resolver *r = store->resolving;
    if (r == NULL)
        return;
    char error[sizeof(r->error)];
    pthread_mutex_lock(&r->lock);
    bool ok = r->hostaddr != NULL;
    if (ok) {
        free(store->hostaddr);
        free(store->hostlist);
        free(store->portlist);
        store->hostaddr = r->hostaddr;
        store->hostlist = r->hostlist;
        store->portlist = r->portlist;
        r->hostaddr = r->hostlist = r->portlist = NULL;
        store->resolved_ms = now_ms();
    }
    memcpy(error, r->error, sizeof(error));
    r->store = NULL;
    pthread_mutex_unlock(&r->lock);
    store->resolving = NULL;
    resolver_unref(r);
    for (int i = 0; i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        if (!c->waiting_dns)
            continue;
        c->waiting_dns = false;
        if (ok)
            conn_start(c);
        else
            conn_fail(c, error);
    }
}

/* Reads the conninfo's host and port lists; resolution is wanted when it names hosts and
 * gives no hostaddr (socket paths and numeric addresses need no lookup). */
static bool resolve_setup(struct latch_store *store)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(store->conninfo, &errmsg);
    if (opts == NULL) {
        PQfreemem(errmsg); /* libpq reports it again when connecting */
        return true;
    }
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    bool names = false, others = false;
    int n = host != NULL && host[0] != '\0' ? list_count(host) : 0;
    for (int i = 0; i < n; i++) {
        char h[256];
        unsigned char buf[16];
        list_get(host, i, h, sizeof(h));
        if (h[0] == '/' || h[0] == '@' || h[0] == '\0' || inet_pton(AF_INET, h, buf) == 1 ||
            inet_pton(AF_INET6, h, buf) == 1)
            others = true;
        else
            names = true;
    }
    bool ok = true;
    if (names && !others && (hostaddr == NULL || hostaddr[0] == '\0')) {
        store->resolve_hosts = strdup(host);
        store->resolve_ports = strdup(port != NULL ? port : "");
        ok = store->resolve_hosts != NULL && store->resolve_ports != NULL;
    }
    PQconninfoFree(opts);
    return ok;
}

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

    /* Behind a transaction pooler, a statement prepared in one transaction may be gone (or
     * already there) in the next: everything goes unnamed. */
    bool named = !pooled(c->store);
    for (int i = 0; named && i < nprep; i++) {
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
        if (!(named ? PQsendQueryPrepared(c->pg, set_tenant_stmt.name, 1, p, NULL, NULL, 0)
                    : PQsendQueryParams(c->pg, set_tenant_stmt.sql, 1, NULL, p, NULL, NULL, 0)))
            return false;
        call->steps[call->nsteps++] = (struct step){.kind = STEP_TENANT};
    }
    for (int i = 0; i < call->nops; i++) {
        const struct latch_stmt *st = call->ops[i].stmt;
        int ok;
        if (named && st->name != NULL && prep_slot(c, st) != NULL)
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
    /* A transaction pooler may hand the next transaction to another server before the first
     * one's results are read: one call at a time per connection there. */
    int depth = pooled(store) ? 1 : store->max_in_flight;
    for (int i = 0; i < store->nconns; i++) {
        struct conn *c = &store->conns[i];
        if (c->state != CONN_READY || c->inflight >= depth)
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

/* Connection exceptions (class 08), administrator/crash shutdown and "cannot connect now"
 * (57P01-57P03), too many connections (53300), and the prepared-statement errors that only a
 * transaction pooler causes: the statement did not run, and it will on another try. */
static bool transient_state(const char *sqlstate)
{
    return strncmp(sqlstate, "08", 2) == 0 || strcmp(sqlstate, "57P01") == 0 ||
           strcmp(sqlstate, "57P02") == 0 || strcmp(sqlstate, "57P03") == 0 ||
           strcmp(sqlstate, "53300") == 0 || strcmp(sqlstate, "26000") == 0 ||
           strcmp(sqlstate, "42P05") == 0;
}

/* A prepared statement we made is missing, or one we never made exists: this connection is
 * multiplexed per transaction (PgBouncer in transaction mode). Switch every store over. */
static void detect_pooling(struct latch_store *store, const char *msg)
{
    if (store->transaction_pooling || atomic_exchange(&pooled_detected, true))
        return;
    char why[128];
    snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "");
    why[strcspn(why, "\n")] = '\0';
    latch_err("the database connection is pooled per transaction (%s): prepared statements are "
              "now sent unnamed. Set LATCH_DB_POOL_MODE=transaction, and point "
              "LATCH_DATABASE_LISTEN_URL at PostgreSQL directly (LISTEN cannot work through "
              "such a pooler)",
              why);
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
    if (call == NULL) {
        PQclear(res);
        return;
    }
    /* After the last statement, before the Sync: the implicit COMMIT failed (a deferred
     * constraint or trigger, a serialization failure). Nothing was committed, and the caller
     * must not answer as if it was. */
    bool after_last = call->cur >= call->nsteps;
    struct step *step = after_last ? NULL : &call->steps[call->cur];
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (step != NULL && step->kind == STEP_PREPARE)
        prepare_result(c, step->stmt, ok);
    if (after_last && ok) {
        PQclear(res);
        return;
    }
    if (after_last)
        call->commit_error_open = true;
    if (!ok) {
        if (st == PGRES_PIPELINE_ABORTED) {
            call_set_error(call, 500, "server_error", "The database rejected the request.",
                           "pipeline aborted");
        } else {
            const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            const char *msg = PQresultErrorMessage(res);
            latch_metrics_db_error(sqlstate);
            if (sqlstate != NULL &&
                (strcmp(sqlstate, "26000") == 0 || strcmp(sqlstate, "42P05") == 0))
                detect_pooling(c->store, msg);
            /* Constraint violations are the caller's business (409/422); others are ours,
             * except a database going away or a pooler's confusion, which a retry fixes. */
            if (sqlstate == NULL ? PQstatus(c->pg) == CONNECTION_BAD : transient_state(sqlstate))
                unavailable(call, msg);
            else if (sqlstate != NULL && strncmp(sqlstate, "23", 2) == 0)
                call_set_error(call, 409, sqlstate, "The request conflicts with stored data.", msg);
            else if (sqlstate != NULL && strcmp(sqlstate, "42501") == 0)
                call_set_error(call, 403, sqlstate, "Not permitted.", msg);
            else if (sqlstate != NULL && strncmp(sqlstate, "22", 2) == 0) {
                /* Data exception (22021 bad UTF-8, 22001 too long, 22P02 bad syntax...): the
                 * input was bad, not the server. Parsers refuse such input first; this is the
                 * backstop, and the SQLSTATE stays in the log. */
                char detail[sizeof(call->err.detail)];
                snprintf(detail, sizeof(detail), "SQLSTATE %s: %s", sqlstate, msg);
                call_set_error(call, 400, "invalid_request", "Malformed input.", detail);
            } else
                call_set_error(call, 500, sqlstate ? sqlstate : "server_error",
                               "The database rejected the request.", msg);
        }
        PQclear(res);
        return;
    }
    if (step != NULL && step->kind == STEP_OP && call->results[step->op].pg == NULL) {
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
            if (call != NULL && call->commit_error_open) {
                /* The end of the failed COMMIT's results: the Sync follows. */
                call->commit_error_open = false;
                continue;
            }
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
    /* Connection 0 probes often: it is how this store learns that the database is back. */
    int max = c->index == 0 ? PROBE_MAX_MS : BACKOFF_MAX_MS;
    int base = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
    if (base > max)
        base = max;
    c->backoff_ms = base * 2 > max ? max : base * 2;
    /* ±25% jitter so the nodes of a cluster do not reconnect in lockstep. */
    int jitter = (int)(random() % (base / 2 + 1)) - base / 4;
    int ms = base + jitter;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(c->ev_timer, &tv);
}

/* Whether calls on this store, which has no ready connection, may wait for one: another store
 * of the process is connected (the database is up; ours are catching up), or one of ours is
 * connecting right now. */
static bool worth_waiting(const struct latch_store *store)
{
    if (atomic_load_explicit(&ready_total, memory_order_relaxed) > 0)
        return true;
    for (int i = 0; i < store->nconns; i++)
        if (store->conns[i].state == CONN_CONNECTING || store->conns[i].waiting_dns)
            return true;
    return false;
}

/* Fails the waiting calls that have waited at least min_wait_ms (all with 0). */
static void fail_waiting(struct latch_store *store, int min_wait_ms)
{
    uint64_t now = now_ms();
    while (store->wait_head != NULL &&
           (min_wait_ms == 0 || store->wait_head->queued_ms + (uint64_t)min_wait_ms <= now)) {
        struct call *call = store->wait_head;
        store->wait_head = call->next;
        if (store->wait_head == NULL)
            store->wait_tail = NULL;
        store->nwaiting--;
        char detail[384];
        snprintf(detail, sizeof(detail), "no database connection%s (%s)",
                 min_wait_ms ? " within the wait" : "", store->last_error);
        unavailable(call, detail);
        fail_later(store, call);
    }
}

/* Arms the timer that fails calls which waited wait_ms without a connection. */
static void arm_wait(struct latch_store *store)
{
    if (store->wait_head == NULL || evtimer_pending(store->ev_wait, NULL))
        return;
    uint64_t due = store->wait_head->queued_ms + (uint64_t)store->wait_ms, now = now_ms();
    uint64_t ms = due > now ? due - now : 0;
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(store->ev_wait, &tv);
}

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
    struct latch_store *store = arg;
    if (store->nready > 0) {
        pump(store);
        return;
    }
    fail_waiting(store, store->wait_ms);
    if (!worth_waiting(store))
        fail_waiting(store, 0);
    arm_wait(store);
}

static void conn_fail(struct conn *c, const char *why)
{
    struct latch_store *store = c->store;
    bool was_ready = c->state == CONN_READY;
    set_last_error(store, why);
    if (was_ready) {
        store->nready--;
        atomic_fetch_sub_explicit(&ready_total, 1, memory_order_relaxed);
    }
    if (store->freeing) {
        /* shutting down: nothing to say */
    } else if (was_ready) {
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
    if (!was_ready)
        c->failed_since_ready = true;
    if (!store->freeing)
        schedule_retry(c);
    /* Waiting calls go elsewhere, wait a little for a connection, or fail. */
    if (store->nready > 0)
        pump(store);
    else if (!store->freeing && worth_waiting(store))
        arm_wait(store);
    else
        fail_waiting(store, 0);
}

static void on_io(evutil_socket_t fd, short what, void *arg);

/* on_connect runs once LISTEN has taken effect: a NOTIFY sent from another connection after
 * it is then sure to arrive. */
static void listen_done(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct latch_store *store = arg;
    if (store->freeing)
        return;
    if (err != NULL)
        latch_warn("LISTEN failed: %s (%s)", err->message, err->detail);
    else if (store->on_connect != NULL)
        store->on_connect(store->notify_arg);
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
    bool recovered = c->failed_since_ready;
    if (c->backoff_ms > BACKOFF_MIN_MS * 2)
        latch_info("database connection %d re-established", c->index);
    c->state = CONN_READY;
    c->backoff_ms = 0;
    c->failed_since_ready = false;
    c->store->nready++;
    c->store->ever_connected = true;
    c->store->last_error[0] = '\0';
    atomic_fetch_add_explicit(&ready_total, 1, memory_order_relaxed);
    if (recovered) {
        /* The database is back: nobody else waits for their backoff. */
        latch_metrics_db_reconnect();
        wake_all(c->store);
        on_wake(-1, 0, c->store);
    }
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
    } else if (c->store->on_connect != NULL) {
        c->store->on_connect(c->store->notify_arg);
    }
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
    struct latch_store *store = c->store;
    if (store->resolve_hosts != NULL) {
        /* Resolve again when the addresses are old, or a while after a failure (the database
         * may have moved: DNS fail-over). */
        uint64_t age = now_ms() - store->resolved_ms;
        if (store->hostaddr == NULL || age > RESOLVE_TTL_MS ||
            (c->failed_since_ready && age > RESOLVE_TTL_MS / 5)) {
            c->waiting_dns = true;
            if (!resolve_start(store)) {
                c->waiting_dns = false;
                conn_fail(c, "cannot start resolving the database host");
            }
            return;
        }
    }
    /* Keywords after dbname override what the expanded conninfo says. */
    const char *keys[] = {"dbname", "application_name", "host", "hostaddr", "port", NULL};
    const char *values[] = {store->conninfo, "latchd",        store->hostlist,
                            store->hostaddr, store->portlist, NULL};
    if (store->hostaddr == NULL)
        keys[2] = values[2] = NULL;
    else if (store->portlist == NULL)
        keys[4] = values[4] = NULL;
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
    store->wait_ms = opts->wait_ms > 0 ? opts->wait_ms : WAIT_DEFAULT_MS;
    store->transaction_pooling = opts->transaction_pooling;
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
    store->ev_wake = event_new(base, -1, 0, on_wake, store);
    store->ev_wait = evtimer_new(base, on_wait, store);
    store->ev_resolved = event_new(base, -1, 0, on_resolved, store);
    if (store->conninfo == NULL || store->conns == NULL || store->ev_done == NULL ||
        store->ev_wake == NULL || store->ev_wait == NULL || store->ev_resolved == NULL ||
        !resolve_setup(store))
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
    registry_add(store);
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
    if (store->ev_wake != NULL)
        registry_remove(store); /* no other thread activates ev_wake from here on */
    resolve_abandon(store);
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
    if (store->ev_wake)
        event_free(store->ev_wake);
    if (store->ev_wait)
        event_free(store->ev_wait);
    if (store->ev_resolved)
        event_free(store->ev_resolved);
    free(store->conns);
    free(store->conninfo);
    free(store->resolve_hosts);
    free(store->resolve_ports);
    free(store->hostaddr);
    free(store->hostlist);
    free(store->portlist);
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

    if (store->nready == 0 && !worth_waiting(store)) {
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
    call->queued_ms = now_ms();
    if (store->nready == 0) {
        /* The database answers another store: ours reconnect now (at most every
         * KICK_MIN_MS, so a burst of calls is no burst of connection attempts), and the call
         * waits. */
        uint64_t now = call->queued_ms;
        if (now - store->kicked_ms >= KICK_MIN_MS) {
            store->kicked_ms = now;
            on_wake(-1, 0, store);
        }
        arm_wait(store);
        return;
    }
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

bool latch_store_has_connected(const struct latch_store *store)
{
    return store->ever_connected;
}

int latch_store_ready_total(void)
{
    return atomic_load_explicit(&ready_total, memory_order_relaxed);
}

bool latch_store_transaction_pooling(void)
{
    return atomic_load_explicit(&pooled_detected, memory_order_relaxed);
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
