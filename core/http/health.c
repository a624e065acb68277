/*
 * /healthz answers while the process runs; /readyz answers 200 only when PostgreSQL is
 * reachable from this loop and the schema is at least the version this binary needs, so a load
 * balancer takes the node out while it cannot serve. The reason for a 503 names the category
 * only; the database's own message goes to the log.
 */
#include "http/health.h"

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

static void not_ready(struct latch_request *req, const char *reason)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"status\":\"unavailable\",\"reason\":\"%s\"}", reason);
    latch_http_respond_json(req, 503, body, (size_t)n);
}

static void readyz_done(struct latch_store_result *const *results, int nresults,
                        const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_warn("readiness check failed: %s (%s)", err->message, err->detail);
        /* 42P01: undefined table, so no migration ever ran. */
        not_ready(req, strcmp(err->code, "42P01") == 0 ? "schema not migrated"
                       : err->status == 503            ? "database unreachable"
                                                       : "database error");
        return;
    }
    int version = atoi(latch_store_result_value(results[0], 0, 0));
    int need = latch_migrate_latest_version();
    if (version < need) {
        char reason[96];
        snprintf(reason, sizeof(reason), "schema at version %d, this node needs %d", version, need);
        not_ready(req, reason);
        return;
    }
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"status\":\"ready\",\"schemaVersion\":%d}", version);
    latch_http_respond_json(req, 200, body, (size_t)n);
}

static void readyz(struct latch_request *req, void *arg)
{
    struct latch_store *store = latch_loop_store(req->loop);
    if (latch_loop_is_stopping(req->loop)) {
        not_ready(req, "shutting down");
        return;
    }
    if (!latch_store_is_connected(store)) {
        not_ready(req, "database unreachable");
        return;
    }
    latch_store_query(store, NULL, &schema_version, NULL, readyz_done, req);
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
        latch_server_add_tenant_route_fresh(srv, LATCH_HTTP_GET, "/api/status", api_status, NULL) !=
            LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
