/*
 * The metric registry, what Latch records in it, and the text exposition; see metrics.h. The
 * listener serving it is in listener.c.
 *
 * Every family is a static struct with a static array of atomics, so recording is one relaxed
 * atomic add on memory that always exists: no registration step can be forgotten, no lock and no
 * allocation is on the hot path. The families are shared by all loop threads; a contended add
 * costs a cache line transfer, which is noise next to a request (measured with
 * tests/bench/tokens.sh), so there is no per-thread sharding.
 */
#include "metrics/metrics.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the generic registry ---- */

int latch_metrics_series_count(const struct latch_metrics_family *f)
{
    int n = 1;
    for (int i = 0; i < f->nlabels; i++)
        n *= f->labels[i].nvalues;
    return n;
}

int latch_metrics_cells(const struct latch_metrics_family *f)
{
    return f->type == LATCH_METRICS_HISTOGRAM ? f->nbounds + 2 : 1;
}

int latch_metrics_series(const struct latch_metrics_family *f, const int *idx)
{
    int s = 0;
    for (int i = 0; i < f->nlabels; i++) {
        if (idx[i] < 0 || idx[i] >= f->labels[i].nvalues)
            return -1;
        s = s * f->labels[i].nvalues + idx[i];
    }
    return s;
}

static _Atomic uint64_t *cell(struct latch_metrics_family *f, int series, int offset)
{
    if (series < 0 || series >= latch_metrics_series_count(f))
        return NULL;
    return &f->data[(size_t)series * (size_t)latch_metrics_cells(f) + (size_t)offset];
}

void latch_metrics_counter_add(struct latch_metrics_family *f, int series, uint64_t n)
{
    _Atomic uint64_t *c = cell(f, series, 0);
    if (c != NULL)
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void latch_metrics_gauge_set(struct latch_metrics_family *f, int series, int64_t value)
{
    _Atomic uint64_t *c = cell(f, series, 0);
    if (c != NULL)
        atomic_store_explicit(c, (uint64_t)value, memory_order_relaxed);
}

static int bucket_of(const uint64_t *bounds, int nbounds, uint64_t value)
{
    /* A dozen bounds: a linear scan beats a binary search's branches. */
    int b = 0;
    while (b < nbounds && value > bounds[b])
        b++;
    return b;
}

int latch_metrics_bucket(const struct latch_metrics_family *f, uint64_t value_ns)
{
    return bucket_of(f->bounds, f->nbounds, value_ns);
}

void latch_metrics_observe(struct latch_metrics_family *f, int series, uint64_t value_ns)
{
    _Atomic uint64_t *c = cell(f, series, 0);
    if (c == NULL)
        return;
    atomic_fetch_add_explicit(&c[bucket_of(f->bounds, f->nbounds, value_ns)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&c[f->nbounds + 1], value_ns, memory_order_relaxed);
}

void latch_metrics_write_label_value(FILE *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '"')
            fputs("\\\"", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

/* Writes {n1="v1",…[,le="…"]}, or nothing when there is no label at all. */
static void put_labels(FILE *out, const char *const *names, const char *const *values, int n,
                       const char *le)
{
    if (n == 0 && le == NULL)
        return;
    fputc('{', out);
    for (int i = 0; i < n; i++) {
        fprintf(out, "%s%s=\"", i ? "," : "", names[i]);
        latch_metrics_write_label_value(out, values[i]);
        fputc('"', out);
    }
    if (le != NULL)
        fprintf(out, "%sle=\"%s\"", n ? "," : "", le);
    fputc('}', out);
}

static void put_header(FILE *out, const char *name, const char *help, enum latch_metrics_type type)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, types[type]);
}

/* Seconds from nanoseconds, exactly as many digits as needed ("0.0005", "10"). */
static void format_seconds(char *buf, size_t cap, uint64_t ns)
{
    snprintf(buf, cap, "%.9g", (double)ns / 1e9);
}

/* One histogram series: cumulative buckets, +Inf, _sum, _count. cells: nbounds + 2 atomics. */
static void put_histogram(FILE *out, const char *name, const char *const *names,
                          const char *const *values, int n, const uint64_t *bounds, int nbounds,
                          _Atomic uint64_t *cells)
{
    uint64_t cumulative = 0;
    char le[32];
    for (int b = 0; b <= nbounds; b++) {
        cumulative += atomic_load_explicit(&cells[b], memory_order_relaxed);
        if (b < nbounds)
            format_seconds(le, sizeof(le), bounds[b]);
        else
            snprintf(le, sizeof(le), "+Inf");
        fprintf(out, "%s_bucket", name);
        put_labels(out, names, values, n, le);
        fprintf(out, " %llu\n", (unsigned long long)cumulative);
    }
    /* _count is the +Inf bucket, so the two agree even while other threads record. */
    char sum[32];
    format_seconds(sum, sizeof(sum),
                   atomic_load_explicit(&cells[nbounds + 1], memory_order_relaxed));
    fprintf(out, "%s_sum", name);
    put_labels(out, names, values, n, NULL);
    fprintf(out, " %s\n%s_count", sum, name);
    put_labels(out, names, values, n, NULL);
    fprintf(out, " %llu\n", (unsigned long long)cumulative);
}

#define MAX_LABELS 6

bool latch_metrics_family_render(const struct latch_metrics_family *f, FILE *out)
{
    const char *names[MAX_LABELS], *values[MAX_LABELS];
    int nseries = latch_metrics_series_count(f);
    int ncells = latch_metrics_cells(f);

    if (f->nlabels > MAX_LABELS)
        return false;
    for (int i = 0; i < f->nlabels; i++)
        names[i] = f->labels[i].name;
    put_header(out, f->name, f->help, f->type);
    for (int s = 0; s < nseries; s++) {
        _Atomic uint64_t *c = &f->data[(size_t)s * (size_t)ncells];
        if (f->sparse) {
            bool any = false;
            for (int k = 0; k < ncells && !any; k++)
                any = atomic_load_explicit(&c[k], memory_order_relaxed) != 0;
            if (!any)
                continue;
        }
        for (int i = f->nlabels - 1, rest = s; i >= 0; i--) {
            values[i] = f->labels[i].values[rest % f->labels[i].nvalues];
            rest /= f->labels[i].nvalues;
        }
        if (f->type == LATCH_METRICS_HISTOGRAM) {
            put_histogram(out, f->name, names, values, f->nlabels, f->bounds, f->nbounds, c);
            continue;
        }
        uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
        fputs(f->name, out);
        put_labels(out, names, values, f->nlabels, NULL);
        if (f->type == LATCH_METRICS_GAUGE)
            fprintf(out, " %lld\n", (long long)(int64_t)v);
        else
            fprintf(out, " %llu\n", (unsigned long long)v);
    }
    return !ferror(out);
}

/* ---- label sets ---- */

#define LABEL(n, v)                                                                                \
    {                                                                                              \
        .name = (n), .values = (v), .nvalues = NELEMS(v)                                           \
    }

static const char *const route_names[LATCH_METRICS_ROUTE_COUNT] = {
    [LATCH_METRICS_ROUTE_UNMATCHED] = "unmatched",
    [LATCH_METRICS_ROUTE_OIDC_TOKEN] = "oidc_token",
    [LATCH_METRICS_ROUTE_OIDC_AUTH] = "oidc_auth",
    [LATCH_METRICS_ROUTE_OIDC_DISCOVERY] = "oidc_discovery",
    [LATCH_METRICS_ROUTE_OIDC_JWKS] = "oidc_jwks",
    [LATCH_METRICS_ROUTE_OIDC_USERINFO] = "oidc_userinfo",
    [LATCH_METRICS_ROUTE_OIDC_OTHER] = "oidc_other",
    [LATCH_METRICS_ROUTE_EXPERIENCE] = "experience",
    [LATCH_METRICS_ROUTE_MGMT] = "mgmt",
    [LATCH_METRICS_ROUTE_PAGES] = "pages",
    [LATCH_METRICS_ROUTE_HEALTH] = "health",
    [LATCH_METRICS_ROUTE_OTHER] = "other",
};
static const char *const status_names[] = {"2xx", "3xx", "4xx", "5xx"};
static const struct latch_metrics_label route_status_labels[] = {LABEL("route", route_names),
                                                                 LABEL("status", status_names)};
static const struct latch_metrics_label route_labels[] = {LABEL("route", route_names)};

/* The SQLSTATE classes of PostgreSQL 15 (Appendix A), and "other" for anything else. */
static const char *const sqlstate_classes[] = {
    "00", "01", "02", "03", "08", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "20", "21",   "22",
    "23", "24", "25", "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D",   "3F",
    "40", "42", "44", "53", "54", "55", "57", "58", "72", "F0", "HV", "P0", "XX", "other"};
static const struct latch_metrics_label sqlstate_labels[] = {LABEL("class", sqlstate_classes)};

static const char *const pool_names[] = {"requests", "listener"};
static const struct latch_metrics_label pool_labels[] = {LABEL("pool", pool_names)};

static const char *const lane_names[] = {"cpu", "io"};
static const struct latch_metrics_label lane_labels[] = {LABEL("lane", lane_names)};

static const char *const cache_names[] = {"tenant", "state"};
static const char *const result_names[] = {"hit", "miss"};
static const struct latch_metrics_label cache_labels[] = {LABEL("cache", cache_names),
                                                          LABEL("result", result_names)};

static const char *const scope_names[] = {"tenant", "all"};
static const struct latch_metrics_label scope_labels[] = {LABEL("scope", scope_names)};

static const char *const alg_names[] = {"ES256", "ES384", "RS256", "EdDSA"};
static const struct latch_metrics_label alg_labels[] = {LABEL("alg", alg_names)};

static const char *const method_names[] = {"password", "social"};
static const char *const outcome_names[] = {"success", "failure", "locked", "suspended"};
static const struct latch_metrics_label signin_labels[] = {LABEL("method", method_names),
                                                           LABEL("outcome", outcome_names)};

static const char *const drop_reason_names[] = {"queue_full", "write_failed"};
static const struct latch_metrics_label drop_labels[] = {LABEL("reason", drop_reason_names)};

static const char *const version_values[] = {LATCH_VERSION};
static const struct latch_metrics_label build_labels[] = {LABEL("version", version_values)};

/* Request latencies: half a millisecond (a cached JWKS) to ten seconds (a timeout). */
static const uint64_t http_bounds[] = {500000,     1000000,    2500000,    5000000,    10000000,
                                       25000000,   50000000,   100000000,  250000000,  500000000u,
                                       1000000000, 2500000000, 5000000000, 10000000000};
#define HTTP_CELLS (NELEMS(http_bounds) + 2)

/* Connector calls go to the Internet: 5 ms to the 30 s that outbound requests may take. */
static const uint64_t connector_bounds[] = {5000000,    10000000,   25000000,    50000000,
                                            100000000,  250000000,  500000000u,  1000000000,
                                            2500000000, 5000000000, 10000000000, 30000000000};
#define CONNECTOR_CELLS (NELEMS(connector_bounds) + 2)

/* ---- the families ---- */

#define FAMILY(var, ncells_)                                                                       \
    static _Atomic uint64_t var##_data[ncells_];                                                   \
    static struct latch_metrics_family var

FAMILY(http_requests, LATCH_METRICS_ROUTE_COUNT * 4) = {
    .name = "latch_http_requests_total",
    .help = "HTTP requests answered, by route class and status class.",
    .type = LATCH_METRICS_COUNTER,
    .labels = route_status_labels,
    .nlabels = 2,
    .data = http_requests_data,
};
FAMILY(http_duration, LATCH_METRICS_ROUTE_COUNT *HTTP_CELLS) = {
    .name = "latch_http_request_duration_seconds",
    .help = "Time from a request's first byte to its answer, by route class.",
    .type = LATCH_METRICS_HISTOGRAM,
    .labels = route_labels,
    .nlabels = 1,
    .bounds = http_bounds,
    .nbounds = NELEMS(http_bounds),
    .data = http_duration_data,
};
FAMILY(db_connections, 2) = {
    .name = "latch_db_connections",
    .help = "PostgreSQL connections configured (pool=requests: all loop threads together).",
    .type = LATCH_METRICS_GAUGE,
    .labels = pool_labels,
    .nlabels = 1,
    .data = db_connections_data,
};
FAMILY(db_ready, 2) = {
    .name = "latch_db_connections_ready",
    .help = "PostgreSQL connections established.",
    .type = LATCH_METRICS_GAUGE,
    .labels = pool_labels,
    .nlabels = 1,
    .data = db_ready_data,
};
FAMILY(db_busy, 2) = {
    .name = "latch_db_connections_busy",
    .help = "PostgreSQL connections with statements in flight.",
    .type = LATCH_METRICS_GAUGE,
    .labels = pool_labels,
    .nlabels = 1,
    .data = db_busy_data,
};
FAMILY(db_waiting, 2) = {
    .name = "latch_db_calls_waiting",
    .help = "Database calls queued for a connection.",
    .type = LATCH_METRICS_GAUGE,
    .labels = pool_labels,
    .nlabels = 1,
    .data = db_waiting_data,
};
FAMILY(db_reconnects, 1) = {
    .name = "latch_db_reconnects_total",
    .help = "PostgreSQL connections re-established after a loss or a failed attempt.",
    .type = LATCH_METRICS_COUNTER,
    .data = db_reconnects_data,
};
FAMILY(db_errors, NELEMS(sqlstate_classes)) = {
    .name = "latch_db_statement_errors_total",
    .help = "Statements PostgreSQL answered with an error, by SQLSTATE class.",
    .type = LATCH_METRICS_COUNTER,
    .labels = sqlstate_labels,
    .nlabels = 1,
    .sparse = true,
    .data = db_errors_data,
};
FAMILY(worker_threads, LATCH_METRICS_LANES) = {
    .name = "latch_worker_threads",
    .help = "Worker threads of the lane.",
    .type = LATCH_METRICS_GAUGE,
    .labels = lane_labels,
    .nlabels = 1,
    .data = worker_threads_data,
};
FAMILY(worker_capacity, LATCH_METRICS_LANES) = {
    .name = "latch_worker_queue_capacity",
    .help = "Jobs that may wait in the lane's queue before submits are refused.",
    .type = LATCH_METRICS_GAUGE,
    .labels = lane_labels,
    .nlabels = 1,
    .data = worker_capacity_data,
};
FAMILY(worker_queued, LATCH_METRICS_LANES) = {
    .name = "latch_worker_queue_depth",
    .help = "Jobs waiting for a worker thread.",
    .type = LATCH_METRICS_GAUGE,
    .labels = lane_labels,
    .nlabels = 1,
    .data = worker_queued_data,
};
FAMILY(worker_busy, LATCH_METRICS_LANES) = {
    .name = "latch_worker_busy",
    .help = "Worker threads running a job.",
    .type = LATCH_METRICS_GAUGE,
    .labels = lane_labels,
    .nlabels = 1,
    .data = worker_busy_data,
};
FAMILY(worker_rejected, LATCH_METRICS_LANES) = {
    .name = "latch_worker_rejected_total",
    .help = "Jobs refused because the lane's queue (or, on the I/O lane, the tenant's share) was "
            "full (answered 503).",
    .type = LATCH_METRICS_COUNTER,
    .labels = lane_labels,
    .nlabels = 1,
    .data = worker_rejected_data,
};
FAMILY(cache_lookups, 4) = {
    .name = "latch_tenant_cache_lookups_total",
    .help = "Lookups in the per-loop tenant caches (tenant rows; OIDC state: keys, JWKS, "
            "discovery), by result.",
    .type = LATCH_METRICS_COUNTER,
    .labels = cache_labels,
    .nlabels = 2,
    .data = cache_lookups_data,
};
FAMILY(invalidations, 2) = {
    .name = "latch_invalidations_total",
    .help = "Cache invalidations applied: one tenant (NOTIFY), or all (listener reconnected).",
    .type = LATCH_METRICS_COUNTER,
    .labels = scope_labels,
    .nlabels = 1,
    .data = invalidations_data,
};
FAMILY(invalidation_last, 1) = {
    .name = "latch_invalidation_last_timestamp_seconds",
    .help = "Unix time of the last invalidation applied (0: none yet).",
    .type = LATCH_METRICS_GAUGE,
    .data = invalidation_last_data,
};
FAMILY(invalidation_lag, NELEMS(http_bounds) + 2) = {
    .name = "latch_invalidation_lag_seconds",
    .help = "Round trip of the listener's heartbeat: a NOTIFY sent through the pool's database "
            "URL until the listener hears it, which is what an invalidation from another node "
            "takes.",
    .type = LATCH_METRICS_HISTOGRAM,
    .bounds = http_bounds,
    .nbounds = NELEMS(http_bounds),
    .data = invalidation_lag_data,
};
FAMILY(tokens_signed, NELEMS(alg_names)) = {
    .name = "latch_tokens_signed_total",
    .help = "JWTs signed (ID, access and management tokens), by algorithm.",
    .type = LATCH_METRICS_COUNTER,
    .labels = alg_labels,
    .nlabels = 1,
    .data = tokens_signed_data,
};
FAMILY(signins, NELEMS(method_names) * NELEMS(outcome_names)) = {
    .name = "latch_signin_attempts_total",
    .help = "Sign-in verifications by method and outcome.",
    .type = LATCH_METRICS_COUNTER,
    .labels = signin_labels,
    .nlabels = 2,
    .data = signins_data,
};
FAMILY(audit_written, 1) = {
    .name = "latch_audit_log_written_total",
    .help = "Audit-log entries written to PostgreSQL.",
    .type = LATCH_METRICS_COUNTER,
    .data = audit_written_data,
};
FAMILY(audit_dropped, NELEMS(drop_reason_names)) = {
    .name = "latch_audit_log_dropped_total",
    .help = "Audit-log entries dropped: the loop's queue was full (overload), or their batch "
            "could not be written (database unreachable or refusing).",
    .type = LATCH_METRICS_COUNTER,
    .labels = drop_labels,
    .nlabels = 1,
    .data = audit_dropped_data,
};
FAMILY(build_info, 1) = {
    .name = "latch_build_info",
    .help = "Always 1; the version of latchd as a label.",
    .type = LATCH_METRICS_GAUGE,
    .labels = build_labels,
    .nlabels = 1,
    .data = build_info_data,
};
FAMILY(start_time, 1) = {
    .name = "process_start_time_seconds",
    .help = "Unix time the process started.",
    .type = LATCH_METRICS_GAUGE,
    .data = start_time_data,
};

/* In exposition order; the connector families come last (their own table). */
static struct latch_metrics_family *const families[] = {
    &build_info,     &start_time,      &http_requests,     &http_duration,    &db_connections,
    &db_ready,       &db_busy,         &db_waiting,        &db_reconnects,    &db_errors,
    &worker_threads, &worker_capacity, &worker_queued,     &worker_busy,      &worker_rejected,
    &cache_lookups,  &invalidations,   &invalidation_last, &invalidation_lag, &tokens_signed,
    &signins,        &audit_written,   &audit_dropped,
};

/* ---- recording ---- */

uint64_t latch_metrics_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* pattern is path, or path followed by "/…". */
static bool under(const char *pattern, const char *path)
{
    size_t n = strlen(path);
    return strncmp(pattern, path, n) == 0 && (pattern[n] == '\0' || pattern[n] == '/');
}

enum latch_metrics_route latch_metrics_route_class(const char *pattern)
{
    if (pattern == NULL)
        return LATCH_METRICS_ROUTE_UNMATCHED;
    if (strcmp(pattern, "/healthz") == 0 || strcmp(pattern, "/readyz") == 0 ||
        strcmp(pattern, "/api/status") == 0)
        return LATCH_METRICS_ROUTE_HEALTH;
    if (under(pattern, "/oidc")) {
        if (strcmp(pattern, "/oidc/token") == 0)
            return LATCH_METRICS_ROUTE_OIDC_TOKEN;
        if (under(pattern, "/oidc/auth"))
            return LATCH_METRICS_ROUTE_OIDC_AUTH;
        if (under(pattern, "/oidc/.well-known"))
            return LATCH_METRICS_ROUTE_OIDC_DISCOVERY;
        if (strcmp(pattern, "/oidc/jwks") == 0)
            return LATCH_METRICS_ROUTE_OIDC_JWKS;
        if (strcmp(pattern, "/oidc/me") == 0)
            return LATCH_METRICS_ROUTE_OIDC_USERINFO;
        return LATCH_METRICS_ROUTE_OIDC_OTHER;
    }
    if (under(pattern, "/api/experience") || under(pattern, "/callback"))
        return LATCH_METRICS_ROUTE_EXPERIENCE;
    if (under(pattern, "/api"))
        return LATCH_METRICS_ROUTE_MGMT;
    if (under(pattern, "/sign-in") || under(pattern, "/register") || under(pattern, "/consent") ||
        under(pattern, "/ui") || under(pattern, "/console"))
        return LATCH_METRICS_ROUTE_PAGES;
    return LATCH_METRICS_ROUTE_OTHER;
}

const char *latch_metrics_route_name(enum latch_metrics_route route)
{
    return (unsigned)route < LATCH_METRICS_ROUTE_COUNT ? route_names[route] : "other";
}

void latch_metrics_http_request(enum latch_metrics_route route, int status, uint64_t duration_ns)
{
    if ((unsigned)route >= LATCH_METRICS_ROUTE_COUNT)
        route = LATCH_METRICS_ROUTE_OTHER;
    int sc = status < 300 ? 0 : status < 400 ? 1 : status < 500 ? 2 : 3;
    atomic_fetch_add_explicit(&http_requests_data[(int)route * 4 + sc], 1, memory_order_relaxed);
    /* The histogram cells by hand: this runs for every request. */
    _Atomic uint64_t *c = &http_duration_data[(int)route * HTTP_CELLS];
    atomic_fetch_add_explicit(&c[bucket_of(http_bounds, NELEMS(http_bounds), duration_ns)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&c[NELEMS(http_bounds) + 1], duration_ns, memory_order_relaxed);
}

void latch_metrics_db_reconnect(void)
{
    atomic_fetch_add_explicit(&db_reconnects_data[0], 1, memory_order_relaxed);
}

void latch_metrics_db_error(const char *sqlstate)
{
    int i = NELEMS(sqlstate_classes) - 1; /* "other" */
    if (sqlstate != NULL && sqlstate[0] != '\0' && sqlstate[1] != '\0') {
        for (int k = 0; k < NELEMS(sqlstate_classes) - 1; k++) {
            if (sqlstate_classes[k][0] == sqlstate[0] && sqlstate_classes[k][1] == sqlstate[1]) {
                i = k;
                break;
            }
        }
    }
    atomic_fetch_add_explicit(&db_errors_data[i], 1, memory_order_relaxed);
}

void latch_metrics_cache_lookup(enum latch_metrics_cache cache, bool hit)
{
    int c = cache == LATCH_METRICS_CACHE_STATE ? 1 : 0;
    atomic_fetch_add_explicit(&cache_lookups_data[c * 2 + (hit ? 0 : 1)], 1, memory_order_relaxed);
}

void latch_metrics_invalidation_lag(uint64_t ns)
{
    latch_metrics_observe(&invalidation_lag, 0, ns);
}

void latch_metrics_invalidation(bool all_tenants)
{
    atomic_fetch_add_explicit(&invalidations_data[all_tenants ? 1 : 0], 1, memory_order_relaxed);
    atomic_store_explicit(&invalidation_last_data[0], (uint64_t)time(NULL), memory_order_relaxed);
}

void latch_metrics_token_signed(int jose_alg)
{
    if (jose_alg >= 0 && jose_alg < NELEMS(alg_names))
        atomic_fetch_add_explicit(&tokens_signed_data[jose_alg], 1, memory_order_relaxed);
}

void latch_metrics_signin(enum latch_metrics_signin_method method,
                          enum latch_metrics_signin_outcome outcome)
{
    int idx[2] = {(int)method, (int)outcome};
    latch_metrics_counter_add(&signins, latch_metrics_series(&signins, idx), 1);
}

void latch_metrics_audit_written(uint64_t n)
{
    atomic_fetch_add_explicit(&audit_written_data[0], n, memory_order_relaxed);
}

void latch_metrics_audit_dropped(enum latch_metrics_audit_drop reason, uint64_t n)
{
    if ((int)reason >= 0 && (int)reason < (int)NELEMS(drop_reason_names))
        atomic_fetch_add_explicit(&audit_dropped_data[reason], n, memory_order_relaxed);
}

/* ---- connectors: a table of the (id, version) pairs seen, filled as they are first called ---- */

static const char *const op_names[] = {"authorization_uri", "user_info", "validate_config",
                                       "send_message"};
static const char *const call_outcomes[] = {"ok", "error"};
#define N_OPS 4

struct connector_slot {
    char id[128];
    char version[32];
    _Atomic uint64_t calls[N_OPS][2];
    _Atomic uint64_t duration[N_OPS][CONNECTOR_CELLS];
};

/* Slots [0, nconnectors) are published (immutable names); the last one is the overflow "other". */
static struct connector_slot connectors[LATCH_METRICS_MAX_CONNECTORS + 1];
static atomic_int nconnectors;
static pthread_mutex_t connectors_lock = PTHREAD_MUTEX_INITIALIZER;

static struct connector_slot *connector_slot(const char *id, const char *version)
{
    int n = atomic_load_explicit(&nconnectors, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(connectors[i].id, id) == 0 && strcmp(connectors[i].version, version) == 0)
            return &connectors[i];
    struct connector_slot *s = &connectors[LATCH_METRICS_MAX_CONNECTORS];
    pthread_mutex_lock(&connectors_lock);
    n = atomic_load_explicit(&nconnectors, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        if (strcmp(connectors[i].id, id) == 0 && strcmp(connectors[i].version, version) == 0) {
            s = &connectors[i];
            goto out;
        }
    }
    if (n < LATCH_METRICS_MAX_CONNECTORS && strlen(id) < sizeof(s->id) &&
        strlen(version) < sizeof(s->version)) {
        s = &connectors[n];
        snprintf(s->id, sizeof(s->id), "%s", id);
        snprintf(s->version, sizeof(s->version), "%s", version);
        atomic_store_explicit(&nconnectors, n + 1, memory_order_release);
    }
out:
    pthread_mutex_unlock(&connectors_lock);
    return s;
}

void latch_metrics_connector_call(const char *id, const char *version,
                                  enum latch_metrics_connector_op op, bool ok, uint64_t duration_ns)
{
    if ((unsigned)op >= N_OPS)
        return;
    struct connector_slot *s = connector_slot(id != NULL ? id : "", version != NULL ? version : "");
    atomic_fetch_add_explicit(&s->calls[op][ok ? 0 : 1], 1, memory_order_relaxed);
    _Atomic uint64_t *c = s->duration[op];
    atomic_fetch_add_explicit(
        &c[bucket_of(connector_bounds, NELEMS(connector_bounds), duration_ns)], 1,
        memory_order_relaxed);
    atomic_fetch_add_explicit(&c[NELEMS(connector_bounds) + 1], duration_ns, memory_order_relaxed);
}

static bool slot_used(struct connector_slot *s, int op)
{
    return atomic_load_explicit(&s->calls[op][0], memory_order_relaxed) != 0 ||
           atomic_load_explicit(&s->calls[op][1], memory_order_relaxed) != 0;
}

static void render_connectors(FILE *out)
{
    static const char *const call_names[] = {"connector", "version", "op", "outcome"};
    int n = atomic_load_explicit(&nconnectors, memory_order_acquire);
    const char *values[4];

    put_header(out, "latch_connector_calls_total",
               "Calls into connectors, by connector id, version, operation and outcome.",
               LATCH_METRICS_COUNTER);
    for (int i = 0; i <= LATCH_METRICS_MAX_CONNECTORS; i++) {
        if (i == n)
            i = LATCH_METRICS_MAX_CONNECTORS;
        struct connector_slot *s = &connectors[i];
        values[0] = i == LATCH_METRICS_MAX_CONNECTORS ? "other" : s->id;
        values[1] = i == LATCH_METRICS_MAX_CONNECTORS ? "" : s->version;
        for (int op = 0; op < N_OPS; op++) {
            if (!slot_used(s, op))
                continue; /* a connector shows up with the operations it served */
            values[2] = op_names[op];
            for (int o = 0; o < 2; o++) {
                values[3] = call_outcomes[o];
                fputs("latch_connector_calls_total", out);
                put_labels(out, call_names, values, 4, NULL);
                fprintf(out, " %llu\n",
                        (unsigned long long)atomic_load_explicit(&s->calls[op][o],
                                                                 memory_order_relaxed));
            }
        }
    }
    put_header(out, "latch_connector_call_duration_seconds",
               "Time connector calls took (worker thread), by connector id, version and operation.",
               LATCH_METRICS_HISTOGRAM);
    for (int i = 0; i <= LATCH_METRICS_MAX_CONNECTORS; i++) {
        if (i == n)
            i = LATCH_METRICS_MAX_CONNECTORS;
        struct connector_slot *s = &connectors[i];
        values[0] = i == LATCH_METRICS_MAX_CONNECTORS ? "other" : s->id;
        values[1] = i == LATCH_METRICS_MAX_CONNECTORS ? "" : s->version;
        for (int op = 0; op < N_OPS; op++) {
            if (!slot_used(s, op))
                continue;
            values[2] = op_names[op];
            put_histogram(out, "latch_connector_call_duration_seconds", call_names, values, 3,
                          connector_bounds, NELEMS(connector_bounds), s->duration[op]);
        }
    }
}

/* ---- gauges read at scrape time ---- */

#define MAX_PROBES    272 /* 256 loop threads at most, the listener, room to spare */
#define PROBE_WAIT_MS 250

struct probe {
    struct event_base *base;
    bool listener;
    latch_metrics_db_probe_fn fn;
    void *arg;
    /* under probe_lock */
    bool scheduled; /* an event_base_once is pending on base */
    bool answered;  /* answered the current round */
    bool has_sample;
    struct latch_metrics_db_sample sample;
};

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t probe_cond;
static pthread_once_t probe_cond_once = PTHREAD_ONCE_INIT;
static struct probe probes[MAX_PROBES];
static int nprobes;
static int probes_pending;

static pthread_mutex_t lane_lock = PTHREAD_MUTEX_INITIALIZER;
static latch_metrics_lane_fn lane_fn[LATCH_METRICS_LANES];
static void *lane_arg[LATCH_METRICS_LANES];

/* Serialises whole scrapes (the listener serves one at a time; tests may call in parallel). */
static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;

static void probe_cond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&probe_cond, &attr);
    pthread_condattr_destroy(&attr);
}

latch_rc latch_metrics_add_db_probe(struct event_base *base, bool listener,
                                    latch_metrics_db_probe_fn fn, void *arg)
{
    latch_rc rc = LATCH_FAIL;
    pthread_once(&probe_cond_once, probe_cond_init);
    pthread_mutex_lock(&probe_lock);
    if (nprobes < MAX_PROBES) {
        probes[nprobes++] =
            (struct probe){.base = base, .listener = listener, .fn = fn, .arg = arg};
        rc = LATCH_OK;
    }
    pthread_mutex_unlock(&probe_lock);
    return rc;
}

/* On the probed thread: the sample is taken there, where the pool's state may be read. */
static void probe_run(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    struct latch_metrics_db_sample s = {0};
    p->fn(p->arg, &s);
    pthread_mutex_lock(&probe_lock);
    p->sample = s;
    p->has_sample = true;
    p->scheduled = false;
    if (!p->answered) {
        p->answered = true;
        probes_pending--;
        pthread_cond_signal(&probe_cond);
    }
    pthread_mutex_unlock(&probe_lock);
}

static void run_probes(void)
{
    struct latch_metrics_db_sample sum[2] = {{0}};
    struct timespec deadline;

    pthread_once(&probe_cond_once, probe_cond_init);
    pthread_mutex_lock(&probe_lock);
    probes_pending = 0;
    for (int i = 0; i < nprobes; i++) {
        struct probe *p = &probes[i];
        p->answered = false;
        probes_pending++;
        /* A thread that has not run the previous probe yet answers this round when it does;
         * never more than one pending per thread, however often we are scraped. */
        if (!p->scheduled) {
            if (event_base_once(p->base, -1, EV_TIMEOUT, probe_run, p, &(struct timeval){0}) == 0) {
                p->scheduled = true;
            } else {
                p->answered = true;
                probes_pending--;
            }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += PROBE_WAIT_MS * 1000000L;
    deadline.tv_sec += deadline.tv_nsec / 1000000000L;
    deadline.tv_nsec %= 1000000000L;
    while (probes_pending > 0)
        if (pthread_cond_timedwait(&probe_cond, &probe_lock, &deadline) != 0)
            break; /* a thread that is busy or gone keeps its last sample */
    for (int i = 0; i < nprobes; i++) {
        if (!probes[i].has_sample)
            continue;
        struct latch_metrics_db_sample *t = &sum[probes[i].listener ? 1 : 0];
        t->connections += probes[i].sample.connections;
        t->ready += probes[i].sample.ready;
        t->busy += probes[i].sample.busy;
        t->waiting += probes[i].sample.waiting;
    }
    pthread_mutex_unlock(&probe_lock);
    for (int p = 0; p < 2; p++) {
        latch_metrics_gauge_set(&db_connections, p, sum[p].connections);
        latch_metrics_gauge_set(&db_ready, p, sum[p].ready);
        latch_metrics_gauge_set(&db_busy, p, sum[p].busy);
        latch_metrics_gauge_set(&db_waiting, p, sum[p].waiting);
    }

    for (int l = 0; l < LATCH_METRICS_LANES; l++) {
        struct latch_metrics_lane_sample lane = {0};
        pthread_mutex_lock(&lane_lock);
        if (lane_fn[l] != NULL)
            lane_fn[l](lane_arg[l], &lane);
        pthread_mutex_unlock(&lane_lock);
        latch_metrics_gauge_set(&worker_threads, l, lane.threads);
        latch_metrics_gauge_set(&worker_capacity, l, lane.capacity);
        latch_metrics_gauge_set(&worker_queued, l, lane.queued);
        latch_metrics_gauge_set(&worker_busy, l, lane.busy);
        atomic_store_explicit(&worker_rejected_data[l], lane.rejected, memory_order_relaxed);
    }
}

void latch_metrics_set_lane(enum latch_metrics_lane lane, latch_metrics_lane_fn fn, void *arg)
{
    if ((int)lane < 0 || lane >= LATCH_METRICS_LANES)
        return;
    pthread_mutex_lock(&lane_lock);
    lane_fn[lane] = fn;
    lane_arg[lane] = arg;
    pthread_mutex_unlock(&lane_lock);
}

void latch_metrics_clear_sources(void)
{
    pthread_mutex_lock(&probe_lock);
    nprobes = 0;
    pthread_mutex_unlock(&probe_lock);
    for (int l = 0; l < LATCH_METRICS_LANES; l++)
        latch_metrics_set_lane((enum latch_metrics_lane)l, NULL, NULL);
}

/* The process start time, taken once (the first scrape, or start-up through the listener). */
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static void start_init(void)
{
    /* /proc/self/stat would give the exact exec time; the first call is close enough, and it is
     * made before the listener starts. */
    atomic_store_explicit(&start_time_data[0], (uint64_t)time(NULL), memory_order_relaxed);
    atomic_store_explicit(&build_info_data[0], 1, memory_order_relaxed);
}

void latch_metrics_init(void)
{
    pthread_once(&start_once, start_init);
}

bool latch_metrics_render_all(FILE *out)
{
    bool ok = true;
    latch_metrics_init();
    pthread_mutex_lock(&render_lock);
    run_probes();
    for (int i = 0; i < NELEMS(families) && ok; i++)
        ok = latch_metrics_family_render(families[i], out);
    if (ok)
        render_connectors(out);
    pthread_mutex_unlock(&render_lock);
    return ok && !ferror(out);
}
