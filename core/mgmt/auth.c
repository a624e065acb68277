/*
 * The Management API's bearer check (as Logto's koa-auth): a JWT access token signed by one of
 * the tenant's live keys, issued by <tenant endpoint>/oidc for the audience
 * <tenant endpoint>/api, unexpired, with scope `all`. 401 when the token is missing or invalid
 * (with WWW-Authenticate, RFC 6750 §3), 403 when it lacks the scope.
 *
 * Invalid tokens count against the client IP (util/ratelimit.h, LATCH_LIMIT_IP_AUTH_FAILURES a
 * minute, shared with failed client authentication at the token endpoint): past the bound the
 * answer is 429 with Retry-After before any signature is verified, so forged tokens cannot buy
 * a signature verification each on a loop thread.
 *
 * The routes are registered with LATCH_ROUTE_AUTH_FIRST: when a body has not all arrived with
 * the head, this check runs first and the body is read only for a valid token, so that
 * unauthenticated clients cannot make the node buffer Management API bodies (up to
 * LATCH_MAX_BODY_BYTES each).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "http/form.h"
#include "http/router.h"
#include "jose/jwt.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/cache.h"
#include "util/log.h"
#include "util/ratelimit.h"

struct guard {
    latch_http_handler handler;
    const void *arg;
    const char *audit_key; /* the route's audit-log key, NULL when not recorded */
};

static void unauthorized(struct latch_request *req, const char *code, const char *message)
{
    latch_http_add_header(req, "WWW-Authenticate",
                          "Bearer realm=\"latch\", error=\"invalid_token\"");
    latch_http_respond_errorf(req, 401, code, "%s", message);
}

static void ip_key(const struct latch_request *req, char *out, size_t cap)
{
    snprintf(out, cap, "ipauth:%s", req->client_ip);
}

static void invalid_token(struct latch_request *req)
{
    char key[96];
    ip_key(req, key, sizeof(key));
    latch_ratelimit_fail_per_minute(latch_loop_config(req->loop)->limit_ip_auth_failures, key);
    unauthorized(req, "auth.unauthorized", "The access token is invalid.");
}

static bool has_scope(const char *scopes, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = scopes; p && *p;) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t m = e ? (size_t)(e - p) : strlen(p);
        if (m == n && strncmp(p, want, n) == 0)
            return true;
        p = e;
    }
    return false;
}

struct check {
    struct latch_request *req;
    const char *token;
    const struct guard *guard;
};

static void check_token(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct check *ck = arg;
    struct latch_request *req = ck->req;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    const struct latch_jose_key *keys[LATCH_TENANT_MAX_KEYS];
    for (int i = 0; i < st->nkeys; i++)
        keys[i] = st->keys[i].key;
    struct latch_jose_jwt_rules rules = {
        .issuer = st->issuer,
        .audience = st->mgmt_indicator,
        .now = (int64_t)time(NULL),
        .leeway = 30,
        .allowed_algs = LATCH_JOSE_ALGS_ALL,
    };
    struct latch_jose_jwt jwt;
    struct latch_error verr;
    memset(&jwt, 0, sizeof(jwt));
    if (latch_jose_jwt_verify(ck->token, strlen(ck->token), keys, st->nkeys, &rules, &jwt, &verr) !=
        LATCH_OK) {
        latch_http_log(req, LATCH_LOG_DEBUG, "management token refused: %s (%s)", verr.message,
                       verr.detail);
        latch_tenant_state_unref(st);
        invalid_token(req);
        return;
    }
    const char *scope = latch_jose_jwt_get_string(&jwt, "scope");
    bool allowed = scope != NULL && has_scope(scope, "all");
    if (allowed)
        latch_mgmt_change_track(req, ck->guard->audit_key,
                                latch_jose_jwt_get_string(&jwt, "client_id"));
    latch_jose_jwt_clear(&jwt);
    latch_tenant_state_unref(st);
    if (!allowed) {
        latch_http_respond_errorf(req, 403, "auth.forbidden",
                                  "The access token lacks the `all` scope.");
        return;
    }
    /* Handlers read the query leniently (a malformed one reads as absent parameters); a query
     * that does not parse, above all one that is not UTF-8, is refused here for all of them. */
    struct latch_form form;
    struct latch_error qerr;
    if (latch_form_parse(&form, req->arena, req->query, strlen(req->query), &qerr) != LATCH_OK) {
        if (form.invalid != NULL)
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%.64s: is not valid UTF-8",
                                      form.invalid);
        else
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "query: %s", qerr.message);
        return;
    }
    req->changes_tenant = req->method != LATCH_HTTP_GET && req->method != LATCH_HTTP_HEAD;
    /* Only now is the body read, when it had not all come with the head (LATCH_ROUTE_AUTH_FIRST):
     * a stranger's large body is refused before it costs memory. */
    latch_http_read_body(req, ck->guard->handler, (void *)ck->guard->arg);
}

static void guarded(struct latch_request *req, void *arg)
{
    const char *authz = latch_http_header_get(req, "authorization");
    if (authz == NULL) {
        unauthorized(req, "auth.authorization_header_missing", "Authorization header is missing.");
        return;
    }
    if (strncasecmp(authz, "Bearer ", 7) != 0) {
        unauthorized(req, "auth.authorization_token_type_not_supported",
                     "Authorization type is not supported; use Bearer.");
        return;
    }
    char key[96];
    int retry = 0;
    ip_key(req, key, sizeof(key));
    if (!latch_ratelimit_allow_per_minute(latch_loop_config(req->loop)->limit_ip_auth_failures, key,
                                          &retry)) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", retry);
        latch_http_add_header(req, "Retry-After", ra);
        latch_http_respond_errorf(req, 429, "auth.too_many_requests",
                                  "Too many invalid access tokens; try again later.");
        return;
    }
    struct check *ck = latch_arena_calloc(req->arena, 1, sizeof(*ck));
    if (ck == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    ck->req = req;
    ck->token = authz + 7;
    while (*ck->token == ' ')
        ck->token++;
    ck->guard = arg;
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, check_token, ck);
}

/* One guard per protected route, for the life of the process (routes are never removed). */
#define MAX_GUARDS 256
static struct guard guards[MAX_GUARDS];
static int nguards;

static latch_rc add_guarded(struct latch_server *srv, enum latch_http_method method,
                            const char *pattern, latch_http_handler handler, const void *arg)
{
    if (nguards == MAX_GUARDS)
        return LATCH_FAIL;
    struct guard *g = &guards[nguards];
    g->handler = handler;
    g->arg = arg;
    g->audit_key = latch_mgmt_change_key(method, pattern);
    if (latch_server_add_tenant_route_flags(srv, method, pattern, guarded, g,
                                            LATCH_ROUTE_AUTH_FIRST) != LATCH_OK)
        return LATCH_FAIL;
    nguards++;
    return LATCH_OK;
}

latch_rc latch_mgmt_route(struct latch_server *srv, enum latch_http_method method,
                          const char *pattern, latch_http_handler handler)
{
    return add_guarded(srv, method, pattern, handler, NULL);
}

latch_rc latch_mgmt_routes(struct latch_server *srv, const struct latch_mgmt_route_def *routes,
                           size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (add_guarded(srv, routes[i].method, routes[i].pattern, routes[i].handler,
                        routes[i].arg) != LATCH_OK)
            return LATCH_FAIL;
    return LATCH_OK;
}

const uint8_t *latch_mgmt_secret_hash_key(void)
{
    return latch_tenant_secret_hash_key();
}
