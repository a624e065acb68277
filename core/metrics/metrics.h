/*
 * metrics/: the node's Prometheus metrics and the listener that serves them.
 *
 * A process-wide registry of metric families whose label sets are fixed at compile time (route
 * class, status class, algorithm, outcome...), so the number of series is bounded: no label ever
 * carries a user, token, client or tenant. The one label set known only at run time, connector id
 * and version, is bounded by a fixed table of connector versions ever loaded.
 *
 * Counters and histograms are relaxed C11 atomics, incremented on the hot path with no lock and
 * no allocation (every function below that records something may be called from any thread).
 * Gauges are read when scraped: through probes that run on the thread owning the state (a loop's
 * database pool, the invalidation listener) or through callbacks that may run on the metrics
 * thread (the worker pool). Histograms take nanoseconds and are exposed in seconds.
 *
 * The text exposition format is Prometheus 0.0.4, served by latch_metrics_listener_start() on its
 * own thread, event_base and address (LATCH_METRICS_LISTEN), never on the public port.
 *
 * This module sits beside util/: it includes nothing but util/ and libevent, and any module may
 * include it.
 */
#ifndef LATCH_METRICS_METRICS_H
#define LATCH_METRICS_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

struct event_base;

/* ---- the generic registry (also what the unit tests drive) ---- */

enum latch_metrics_type {
    LATCH_METRICS_COUNTER = 0,
    LATCH_METRICS_GAUGE,
    LATCH_METRICS_HISTOGRAM,
};

/* One label and every value it may take. Values are static strings. */
struct latch_metrics_label {
    const char *name;
    const char *const *values;
    int nvalues;
};

/*
 * A metric family: every combination of its labels' values is one series, numbered in row-major
 * order (the last label varies fastest; latch_metrics_series() computes the index). Each series
 * owns `cells` consecutive atomics: one for a counter or gauge; for a histogram one per bucket
 * (nbounds finite buckets, then +Inf, not cumulative) and one for the sum.
 */
struct latch_metrics_family {
    const char *name; /* "latch_http_requests_total" */
    const char *help;
    enum latch_metrics_type type;
    const struct latch_metrics_label *labels;
    int nlabels;
    const uint64_t *bounds; /* histogram upper bounds (inclusive), ascending, in nanoseconds */
    int nbounds;
    bool sparse;            /* expose only series that are not zero (large label sets) */
    _Atomic uint64_t *data; /* series() * cells() atomics, zeroed */
};

/* Number of series, and atomics per series. */
int latch_metrics_series_count(const struct latch_metrics_family *f);
int latch_metrics_cells(const struct latch_metrics_family *f);

/* Series index from one value index per label (idx[nlabels]); -1 when one is out of range. */
int latch_metrics_series(const struct latch_metrics_family *f, const int *idx);

/* Counters: adds n to a series. Gauges: sets or adds. Out-of-range series are ignored. */
void latch_metrics_counter_add(struct latch_metrics_family *f, int series, uint64_t n);
void latch_metrics_gauge_set(struct latch_metrics_family *f, int series, int64_t value);

/* Histograms: the bucket a value falls in (first bound >= value; nbounds for +Inf). */
int latch_metrics_bucket(const struct latch_metrics_family *f, uint64_t value_ns);
void latch_metrics_observe(struct latch_metrics_family *f, int series, uint64_t value_ns);

/* Writes one family in the text format (# HELP, # TYPE, samples). Returns false on a write
 * error of out. */
bool latch_metrics_family_render(const struct latch_metrics_family *f, FILE *out);

/* Writes `value` with the escaping the format wants inside a label value (\\, \", \n). */
void latch_metrics_write_label_value(FILE *out, const char *value);

/* ---- what Latch records ---- */

/* Route classes: a fixed set derived from the route pattern when the route is registered. */
enum latch_metrics_route {
    LATCH_METRICS_ROUTE_UNMATCHED = 0, /* no route: 404, 405, malformed paths */
    LATCH_METRICS_ROUTE_OIDC_TOKEN,
    LATCH_METRICS_ROUTE_OIDC_AUTH,
    LATCH_METRICS_ROUTE_OIDC_DISCOVERY,
    LATCH_METRICS_ROUTE_OIDC_JWKS,
    LATCH_METRICS_ROUTE_OIDC_USERINFO,
    LATCH_METRICS_ROUTE_OIDC_OTHER,
    LATCH_METRICS_ROUTE_EXPERIENCE,
    LATCH_METRICS_ROUTE_MGMT,
    LATCH_METRICS_ROUTE_PAGES,
    LATCH_METRICS_ROUTE_HEALTH,
    LATCH_METRICS_ROUTE_OTHER,
    LATCH_METRICS_ROUTE_COUNT
};

/* The class of a route pattern ("/oidc/token", "/api/users/:id"); the label value by class. */
enum latch_metrics_route latch_metrics_route_class(const char *pattern);
const char *latch_metrics_route_name(enum latch_metrics_route route);

/* One answered request: its route class, status and time from first byte to answer. */
void latch_metrics_http_request(enum latch_metrics_route route, int status, uint64_t duration_ns);

/* Database: a connection re-established after a loss or a failed attempt; a statement that
 * failed with sqlstate (its two-character class becomes the label; NULL counts as "other"). */
void latch_metrics_db_reconnect(void);
void latch_metrics_db_error(const char *sqlstate);

/* Tenant caches: the tenant row cache and the OIDC state cache (keys, JWKS, discovery). */
enum latch_metrics_cache { LATCH_METRICS_CACHE_TENANT = 0, LATCH_METRICS_CACHE_STATE };
void latch_metrics_cache_lookup(enum latch_metrics_cache cache, bool hit);

/* Invalidations applied: one tenant (a NOTIFY), or every tenant (the listener (re)connected,
 * so notifications may have been missed). Also records the time of the last one. */
void latch_metrics_invalidation(bool all_tenants);
/* The listener heard its own heartbeat ns after sending it (latchd.c). */
void latch_metrics_invalidation_lag(uint64_t ns);

/* A JWS signed, by algorithm (enum latch_jose_alg value: 0 ES256, 1 ES384, 2 RS256, 3 EdDSA). */
void latch_metrics_token_signed(int jose_alg);

enum latch_metrics_signin_method { LATCH_METRICS_SIGNIN_PASSWORD = 0, LATCH_METRICS_SIGNIN_SOCIAL };
enum latch_metrics_signin_outcome {
    LATCH_METRICS_SIGNIN_SUCCESS = 0,
    LATCH_METRICS_SIGNIN_FAILURE,   /* wrong password, unknown account, social identity refused */
    LATCH_METRICS_SIGNIN_LOCKED,    /* too many attempts: the identifier is locked */
    LATCH_METRICS_SIGNIN_SUSPENDED, /* right credentials, suspended account */
};
void latch_metrics_signin(enum latch_metrics_signin_method method,
                          enum latch_metrics_signin_outcome outcome);

/* The audit log (audit/): entries written, and entries dropped by reason. */
enum latch_metrics_audit_drop {
    LATCH_METRICS_AUDIT_QUEUE_FULL = 0, /* the loop's queue was full: overload */
    LATCH_METRICS_AUDIT_WRITE_FAILED,   /* the batch's INSERT failed */
};
void latch_metrics_audit_written(uint64_t n);
void latch_metrics_audit_dropped(enum latch_metrics_audit_drop reason, uint64_t n);

/* A call into a connector (worker thread): connector id and version as loaded (copied; at most
 * LATCH_METRICS_MAX_CONNECTORS distinct pairs per process, the rest count as id "other"). */
#define LATCH_METRICS_MAX_CONNECTORS 32
enum latch_metrics_connector_op {
    LATCH_METRICS_CONNECTOR_AUTHORIZATION_URI = 0,
    LATCH_METRICS_CONNECTOR_USER_INFO,
    LATCH_METRICS_CONNECTOR_VALIDATE_CONFIG,
    LATCH_METRICS_CONNECTOR_SEND_MESSAGE,
};
void latch_metrics_connector_call(const char *id, const char *version,
                                  enum latch_metrics_connector_op op, bool ok,
                                  uint64_t duration_ns);

/* Monotonic nanoseconds, for durations. */
uint64_t latch_metrics_now_ns(void);

/* ---- gauges read at scrape time ---- */

/* A database pool's state, sampled on the pool's own thread. */
struct latch_metrics_db_sample {
    int connections; /* configured */
    int ready;       /* established */
    int busy;        /* established with calls in flight */
    int waiting;     /* calls queued for a connection */
};
typedef void (*latch_metrics_db_probe_fn)(void *arg, struct latch_metrics_db_sample *out);

/* Registers a probe run on base's thread (through event_base_once) at every scrape; listener
 * marks the node's LISTEN connection rather than a loop's pool. Main thread, before
 * latch_metrics_listener_start(); base must outlive latch_metrics_listener_stop(). */
latch_rc latch_metrics_add_db_probe(struct event_base *base, bool listener,
                                    latch_metrics_db_probe_fn fn, void *arg) LATCH_MUST_CHECK;

/* A worker lane's state, read on the metrics thread (the callback must be thread-safe). */
struct latch_metrics_lane_sample {
    int threads;
    int capacity; /* queue bound */
    int queued;
    int busy;
    uint64_t rejected; /* submits refused (queue, or a tenant's share, full) since start */
};
typedef void (*latch_metrics_lane_fn)(void *arg, struct latch_metrics_lane_sample *out);
/* The worker lanes (http.h's enum latch_lane, in the same order). */
enum latch_metrics_lane { LATCH_METRICS_LANE_CPU = 0, LATCH_METRICS_LANE_IO, LATCH_METRICS_LANES };
void latch_metrics_set_lane(enum latch_metrics_lane lane, latch_metrics_lane_fn fn, void *arg);

/* ---- exposition ---- */

/* Records the process start time and build info. Call once at start-up (any thread; later calls
 * do nothing). */
void latch_metrics_init(void);

/* Forgets the probes and the lane callback; latch_metrics_listener_stop() calls it once nothing
 * scrapes any more. */
void latch_metrics_clear_sources(void);

/* Runs the probes (waiting at most a quarter second for them) and writes every family. The
 * metrics thread, or tests. Returns false on a write error. */
bool latch_metrics_render_all(FILE *out);

/* Serves GET /metrics on host:port from a thread of its own. Binds before returning (the error
 * names the address). Main thread. */
latch_rc latch_metrics_listener_start(const char *host, uint16_t port,
                                      struct latch_error *err) LATCH_MUST_CHECK;
/* Stops and joins that thread, then forgets the probes; harmless when not started. Call before
 * the event bases of the probes are freed. */
void latch_metrics_listener_stop(void);

#endif
