/*
 * Node health for load balancers and monitoring (docs/operations.md says why):
 *
 * - /healthz answers 200 while the process runs (liveness).
 * - /readyz is for load balancers: 200 when this node has reached PostgreSQL once, has seen the
 *   schema at the version it needs, and is not draining. A database outage does NOT fail it:
 *   the outage is shared by every node, so failing readiness would take them all out of the
 *   load balancer at once, and with them what they still serve from their caches (discovery,
 *   JWKS, client-credentials tokens). The body reports the database's state ("up"/"down").
 * - /readyz/database is for monitoring: 200 only when a query reaches PostgreSQL now and the
 *   schema is current.
 *
 * The reason for a 503 names the category only; the database's own message goes to the log.
 */
#include "http/health.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrate.h"
#include "store/store.h"
#include "util/log.h"

static const struct latch_stmt schema_version = {
    .name = "health_schema_version",
    .sql = LATCH_MIGRATE_VERSION_SQL,
    .nparams = 0,
};

static void healthz(struct latch_request *req, void *arg)
{
    static const char body[] = "{\"status\":\"ok\"}";
    latch_http_respond_json(req, 200, body, sizeof(body) - 1);
}

/* The newest schema version a query returned; 0 until one did. */
static atomic_int schema_seen;

static void not_ready(struct latch_request *req, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"status\":\"unavailable\",\"reason\":\"%s\"}", reason);
    latch_http_respond_json(req, 503, body, (size_t)n);
}

static void ready(struct latch_request *req, const char *database, int version)
{
    char body[128];
    int n = snprintf(body, sizeof(body),
                     "{\"status\":\"ready\",\"database\":\"%s\",\"schemaVersion\":%d}", database,
                     version);
    latch_http_respond_json(req, 200, body, (size_t)n);
}

/* Answers from what is known without the database: ready when the schema was seen current. */
static void readyz_degraded(struct latch_request *req)
{
    int seen = atomic_load_explicit(&schema_seen, memory_order_relaxed);
    if (seen >= latch_migrate_latest_version())
        ready(req, "down", seen);
    else
        not_ready(req, "database unreachable");
}

static void check_done(struct latch_store_result *const *results, int nresults,
                       const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    bool monitoring = strcmp(req->route_path, "/readyz") != 0;
    if (err != NULL) {
        latch_warn("readiness check failed: %s (%s)", err->message, err->detail);
        /* 42P01: undefined table, so no migration ever ran. */
        if (strcmp(err->code, "42P01") == 0)
            not_ready(req, "schema not migrated");
        else if (err->status != 503)
            not_ready(req, "database error");
        else if (monitoring)
            not_ready(req, "database unreachable");
        else
            readyz_degraded(req);
        return;
    }
    int version = atoi(latch_store_result_value(results[0], 0, 0));
    int need = latch_migrate_latest_version();
    atomic_store_explicit(&schema_seen, version, memory_order_relaxed);
    if (version < need) {
        char reason[96];
        snprintf(reason, sizeof(reason), "schema at version %d, this node needs %d", version, need);
        not_ready(req, reason);
        return;
    }
    ready(req, "up", version);
}

static void readyz(struct latch_request *req, void *arg)
{
    struct latch_store *store = latch_loop_store(req->loop);
    if (arg == NULL && (latch_loop_is_draining(req->loop) || latch_loop_is_stopping(req->loop))) {
        not_ready(req, "draining");
        return;
    }
    /* No connection on this loop and none elsewhere in the process: the database is down. */
    if (!latch_store_is_connected(store) && latch_store_ready_total() == 0) {
        if (arg != NULL)
            not_ready(req, "database unreachable");
        else
            readyz_degraded(req);
        return;
    }
    latch_store_query(store, NULL, &schema_version, NULL, check_done, req);
}

/* Logto's GET /api/status: 204 when the tenant serves. Tenant resolution already read the
 * tenant from PostgreSQL, so this answers whether that tenant is up. */
static void api_status(struct latch_request *req, void *arg)
{
    latch_http_respond(req, 204, NULL, NULL, 0);
}

latch_rc latch_health_register(struct latch_server *srv)
{
    if (latch_server_add_node_route(srv, LATCH_HTTP_GET, "/healthz", healthz, NULL) != LATCH_OK ||
        latch_server_add_node_route(srv, LATCH_HTTP_GET, "/readyz", readyz, NULL) != LATCH_OK ||
        latch_server_add_node_route(srv, LATCH_HTTP_GET, "/readyz/database", readyz,
                                    (void *)"database") != LATCH_OK ||
        latch_server_add_tenant_route_fresh(srv, LATCH_HTTP_GET, "/api/status", api_status, NULL) !=
            LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
