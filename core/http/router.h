/*
 * Route table: method + path pattern ("/api/users/:id/roles") → handler. Built once on the main
 * thread before the loops start, then read-only, so every loop thread shares it.
 *
 * Matching works on the raw (percent-encoded) path, segment by segment, so an encoded "/" inside
 * a parameter never splits it; parameter values are decoded afterwards. HEAD matches GET routes.
 * A path that matches only under other methods gives LATCH_ROUTE_METHOD_NOT_ALLOWED and the
 * Allow list.
 */
#ifndef LATCH_HTTP_ROUTER_H
#define LATCH_HTTP_ROUTER_H

#include <stddef.h>

#include "http/http.h"

#define LATCH_ROUTE_MAX_PARAMS   8
#define LATCH_ROUTE_MAX_SEGMENTS 16

struct latch_router;

struct latch_route_param {
    char name[32];
    const char *value; /* decoded, in the request arena */
};

/* Route flags. */
#define LATCH_ROUTE_FRESH_TENANT 1u /* read the tenant from PostgreSQL, not the cache */
/* The handler checks credentials sent in the headers (the Management API's bearer token) and
 * may run before the body has arrived: see latch_http_read_body(). Such routes take bodies up
 * to LATCH_MAX_BODY_BYTES; the others take LATCH_ROUTE_SMALL_BODY at most. */
#define LATCH_ROUTE_AUTH_FIRST 2u
/* Set by the router for patterns under /oidc/: errors the server answers itself before the
 * handler runs (413, 503) take OAuth's shape, {"error":…,"error_description":…}. */
#define LATCH_ROUTE_OAUTH_ERRORS 4u

/* The body bound of routes without LATCH_ROUTE_AUTH_FIRST (token, revocation and introspection
 * endpoints, the Experience API, social callbacks) and of requests that match no route: what
 * anyone may make the node buffer without credentials. GET and HEAD routes take no body. */
#define LATCH_ROUTE_SMALL_BODY ((size_t)64 << 10)

struct latch_route_match {
    latch_http_handler handler;
    void *arg;
    unsigned flags;
    size_t max_body;   /* the route's body bound before LATCH_MAX_BODY_BYTES applies */
    int metrics_route; /* enum latch_metrics_route of the pattern; 0 (unmatched) when none */
    struct latch_route_param params[LATCH_ROUTE_MAX_PARAMS];
    int nparams;
    char allow[96]; /* "GET, POST" when the method did not match */
};

enum latch_route_result {
    LATCH_ROUTE_FOUND = 0,
    LATCH_ROUTE_NOT_FOUND,
    LATCH_ROUTE_METHOD_NOT_ALLOWED,
    LATCH_ROUTE_BAD_PATH, /* a parameter with malformed percent-encoding or not UTF-8; its name
                           * is params[nparams - 1].name */
};

struct latch_router *latch_router_new(void);
void latch_router_free(struct latch_router *router);

/* pattern: literal segments and ":name" parameters; copied. Fails on a malformed pattern. */
latch_rc latch_router_add(struct latch_router *router, enum latch_http_method method,
                          const char *pattern, latch_http_handler handler,
                          void *arg) LATCH_MUST_CHECK;
latch_rc latch_router_add_flags(struct latch_router *router, enum latch_http_method method,
                                const char *pattern, latch_http_handler handler, void *arg,
                                unsigned flags) LATCH_MUST_CHECK;

/* raw_path: percent-encoded path without query. Decoded params are allocated in arena. */
enum latch_route_result latch_router_match(const struct latch_router *router,
                                           enum latch_http_method method, const char *raw_path,
                                           struct latch_arena *arena,
                                           struct latch_route_match *match);

const char *latch_http_method_name(enum latch_http_method method);

/* Calls fn for every route, in the order they were added (for documentation). */
void latch_router_each(const struct latch_router *router,
                       void (*fn)(enum latch_http_method method, const char *pattern, void *arg),
                       void *arg);

#endif
