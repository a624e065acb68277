/*
 * http/: Latch's HTTP/1.1 server on libevent.
 *
 * N loop threads, each with its own event_base and listening socket bound to the same port with
 * SO_REUSEPORT. A connection is owned by the loop that accepted it. Requests are parsed with
 * hard bounds (request line and headers: 431/414, body: 413, with a JSON error), served one at a
 * time per connection (keep-alive and pipelining), each with its own arena.
 *
 * Handlers are asynchronous: a handler may return before answering and call latch_http_respond()
 * later, on the same loop thread (for example from a store or worker completion). Every request
 * is answered exactly once; when the client goes away first, the request stays valid until the
 * handler answers, and the answer is dropped.
 */
#ifndef LATCH_HTTP_HTTP_H
#define LATCH_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"
#include "util/error.h"
#include "util/log.h"

struct latch_server;
struct latch_loop;
struct latch_request;
struct latch_config;
struct latch_store;
struct latch_tenant;
struct latch_workpool;

enum latch_http_method {
    LATCH_HTTP_OTHER = 0,
    LATCH_HTTP_GET,
    LATCH_HTTP_HEAD,
    LATCH_HTTP_POST,
    LATCH_HTTP_PUT,
    LATCH_HTTP_PATCH,
    LATCH_HTTP_DELETE,
    LATCH_HTTP_OPTIONS,
};

/* Route handler: answer with latch_http_respond*() now or later on the same thread. */
typedef void (*latch_http_handler)(struct latch_request *req, void *arg);
struct latch_route_match;

struct latch_http_header {
    const char *name;  /* as received; compare with latch_http_header_get() */
    const char *value; /* leading and trailing whitespace removed */
};

#define LATCH_HTTP_MAX_HEADERS 100

/* The parsed request; every string lives in req->arena and is NUL-terminated. */
struct latch_request {
    struct latch_arena *arena;
    enum latch_http_method method;
    const char *method_text;
    const char *target;   /* request-target as received */
    const char *path;     /* percent-decoded path without the query, no NULs */
    const char *raw_path; /* path as received (still percent-encoded) */
    const char *query;    /* after '?', "" when none */
    int minor_version;    /* HTTP/1.x */
    struct latch_http_header headers[LATCH_HTTP_MAX_HEADERS];
    int nheaders;
    const char *body; /* NUL-terminated copy of the body */
    size_t body_len;

    /* Filled by the server before the handler runs. */
    char request_id[64];
    char client_ip[64];                /* peer, or X-Forwarded-For from a trusted proxy */
    const struct latch_tenant *tenant; /* set by tenant routes; borrowed from the request */
    const char *tenant_id;             /* for the access log, NULL when none */
    const char *route_path;            /* path inside the tenant endpoint ("/api/status") */
    /* A successful (2xx) answer to this request changed the tenant's data: this node drops its
     * cached view of the tenant before the answer goes out, so the client's next request here
     * sees the change at once (other nodes learn of it through NOTIFY). */
    bool changes_tenant;
    /* Optional: runs once just before the answer is written, with its status and body (borrowed,
     * never kept): the audit log (audit/) records the outcome of a request this way. */
    void (*on_answer)(struct latch_request *req, int status, const char *body, size_t len,
                      void *arg);
    void *on_answer_arg;

    struct latch_loop *loop;
    struct latch_route_match *route; /* parameters of the matched route */
    void *priv;                      /* server-internal */
};

/* A route parameter (":id") by name, decoded; NULL when absent. Borrowed from the request. */
const char *latch_http_param(const struct latch_request *req, const char *name);

/* Registers routes before latch_server_start(). Node routes match the whole path
 * ("/healthz"); tenant routes match the path inside a tenant endpoint ("/api/status" serves
 * both PUBLIC_URL/api/status for tenant default and /t/<id>/api/status), and run after the
 * tenant was resolved (req->tenant set; unknown → 404, suspended → 403). */
latch_rc latch_server_add_node_route(struct latch_server *srv, enum latch_http_method method,
                                     const char *pattern, latch_http_handler handler,
                                     void *arg) LATCH_MUST_CHECK;
latch_rc latch_server_add_tenant_route(struct latch_server *srv, enum latch_http_method method,
                                       const char *pattern, latch_http_handler handler,
                                       void *arg) LATCH_MUST_CHECK;
/* As above, but the tenant is read from PostgreSQL on every request instead of the node's
 * cache (a route whose answer is "this tenant is up right now"). */
latch_rc latch_server_add_tenant_route_fresh(struct latch_server *srv,
                                             enum latch_http_method method, const char *pattern,
                                             latch_http_handler handler,
                                             void *arg) LATCH_MUST_CHECK;

/* As latch_server_add_tenant_route, with LATCH_ROUTE_* flags (http/router.h). */
latch_rc latch_server_add_tenant_route_flags(struct latch_server *srv,
                                             enum latch_http_method method, const char *pattern,
                                             latch_http_handler handler, void *arg,
                                             unsigned flags) LATCH_MUST_CHECK;

/*
 * Memory before authentication. On a route registered with LATCH_ROUTE_AUTH_FIRST whose body
 * has not all arrived with the head, the handler runs as soon as the head is parsed, with
 * req->body NULL, and reading stops: it checks the credentials in the headers, then either
 * answers (the body is never read; the answer closes the connection) or calls
 * latch_http_read_body(), which reads the body and then calls next(req, arg) on the loop
 * thread. When the body is already there, next runs at once. When reading fails (the node's
 * body budget, LATCH_BODY_BUDGET_BYTES, is spent: 503 with Retry-After; malformed chunks: 400;
 * past the route's bound: 413; too slow: 408), the server answers and next never runs.
 */
void latch_http_read_body(struct latch_request *req, latch_http_handler next, void *arg);

/* The loop's tenant state cache (tenants/cache.h). Loop thread only. */
struct latch_tenant_cache *latch_loop_tenant_cache(struct latch_loop *loop);

/* Per-loop state of a module, created on first use on the loop's thread and destroyed with
 * the loop (after its store, so pending completions have run). slot < LATCH_LOOP_SLOTS. */
#define LATCH_LOOP_SLOTS 8
enum { LATCH_LOOP_SLOT_CLIENTS = 0, LATCH_LOOP_SLOT_AUDIT = 1 };
void *latch_loop_local(struct latch_loop *loop, int slot, void *(*create)(struct latch_loop *),
                       void (*destroy)(void *));

/* Calls fn for each tenant route registered so far (main thread, before start). */
void latch_server_each_tenant_route(struct latch_server *srv,
                                    void (*fn)(enum latch_http_method method, const char *pattern,
                                               void *arg),
                                    void *arg);

/* Whether the node has stopped accepting (the drain delay is over). */
bool latch_loop_is_stopping(const struct latch_loop *loop);

/* Whether the node is draining: SIGTERM received, /readyz fails and every answer closes its
 * connection; true from latch_server_drain() on. Any thread. */
bool latch_loop_is_draining(const struct latch_loop *loop);

/* Case-insensitive lookup; NULL when absent. Borrowed. */
const char *latch_http_header_get(const struct latch_request *req, const char *name);

/* Adds a response header (copied into the request arena). */
void latch_http_add_header(struct latch_request *req, const char *name, const char *value);

/* Answers with status and body (copied). content_type NULL means no body headers. */
void latch_http_respond(struct latch_request *req, int status, const char *content_type,
                        const char *body, size_t len);

/* Answers with a JSON body. */
void latch_http_respond_json(struct latch_request *req, int status, const char *json, size_t len);

/* Answers with Logto's error shape {"code":…,"message":…}; 405 gets its Allow header from the
 * router, 401 errors get WWW-Authenticate from the caller. A SQLSTATE-shaped code (a store
 * error passed on unmapped) is answered as server_error (5xx) or invalid_request (4xx). */
void latch_http_respond_error(struct latch_request *req, const struct latch_error *err);

/* Answers an OAuth error: {"error":…,"error_description":…} with the status (RFC 6749 §5.2) and
 * Pragma: no-cache. */
void latch_http_respond_oauth_error(struct latch_request *req, int status, const char *error,
                                    const char *description);

/* Whether code looks like a PostgreSQL SQLSTATE: exactly five of [0-9A-Z]. */
bool latch_http_is_sqlstate(const char *code);

/* Shortcut building the error in place. */
void latch_http_respond_errorf(struct latch_request *req, int status, const char *code,
                               const char *fmt, ...) LATCH_PRINTF(4, 5);

/* Logs a line about the request being served (util/log.h): with its request id and tenant, so
 * every line a request causes can be found from its access line. For any thread that may use
 * req (a worker job holding the request included). Never pass secrets, codes or tokens. */
void latch_http_log(const struct latch_request *req, enum latch_log_level level, const char *fmt,
                    ...) LATCH_PRINTF(3, 4);
/* latch_log_error() for the request being served. */
void latch_http_log_error(const struct latch_request *req, const char *what,
                          const struct latch_error *err);

/* The loop's store, event_base and index; only valid on the loop's own thread. */
struct latch_store *latch_loop_store(struct latch_loop *loop);
struct event_base *latch_loop_base(struct latch_loop *loop);
int latch_loop_index(const struct latch_loop *loop);
const struct latch_config *latch_loop_config(const struct latch_loop *loop);

/*
 * The worker lanes (http/lanes.c): blocking or CPU-heavy work runs on one of two bounded pools
 * so that neither starves the other (a hanging upstream never delays a password sign-in).
 */
enum latch_lane {
    LATCH_LANE_CPU = 0, /* Argon2 hashing and verification, key generation (LATCH_CPU_WORKERS) */
    LATCH_LANE_IO,      /* connector calls, outbound HTTP (LATCH_IO_WORKERS); bounded per tenant */
};
#define LATCH_LANES 2

/*
 * Runs fn(arg) on the lane's workers, then done(arg) on req's loop thread. On the I/O lane the
 * job counts against req's tenant: at most LATCH_IO_TENANT_WORKERS of a tenant's jobs run at
 * once, the others wait in a bounded per-tenant queue. Returns LATCH_FAIL when the lane's queue
 * (or the tenant's) is full: err then holds a 503, req has a Retry-After header, and done is
 * never called. Loop thread only.
 */
typedef void (*latch_work_fn)(void *arg);
latch_rc latch_http_submit(struct latch_request *req, enum latch_lane lane, latch_work_fn fn,
                           latch_work_fn done, void *arg, struct latch_error *err) LATCH_MUST_CHECK;

struct latch_workpool_stats;
/* The lane's pool, for work that belongs to no request (webhook deliveries); submit to it with
 * latch_workpool_submit_keyed() and a mailbox of the submitting thread. NULL before
 * latch_server_start(). Any thread. */
struct latch_workpool *latch_server_lane(struct latch_server *srv, enum latch_lane lane);

/* The lane's counters now (queue depth, busy workers, rejections); for metrics. Any thread
 * while the server runs. */
void latch_server_lane_stats(struct latch_server *srv, enum latch_lane lane,
                             struct latch_workpool_stats *out);

/* Server life cycle (main thread). */
struct latch_server *latch_server_new(const struct latch_config *cfg, struct latch_error *err);
/* Binds and starts the loop threads. */
latch_rc latch_server_start(struct latch_server *srv, struct latch_error *err) LATCH_MUST_CHECK;
/* Starts draining (see latch_loop_is_draining); the node keeps serving. Any thread. */
void latch_server_drain(struct latch_server *srv);
/* Accepts what waits in the listen backlog, stops accepting, lets requests in flight finish
 * within the grace period, joins the threads. */
void latch_server_shutdown(struct latch_server *srv);
void latch_server_free(struct latch_server *srv);

/* For metrics (main thread, after latch_server_start): loop i (NULL past the last one).
 * Borrowed; valid until latch_server_free(). */
struct latch_loop *latch_server_loop(struct latch_server *srv, int i);

#endif
