/*
 * The token endpoint, <issuer>/token (RFC 6749 §3.2, §4.4; RFC 8707; RFC 9068).
 *
 * Client authentication: client_secret_basic or client_secret_post (never both), secrets
 * checked against keyed hashes in constant time. The client_credentials grant issues a JWT
 * access token signed with the tenant's current key. Everything a request needs comes from the
 * tenant and client caches: no database write, and no database read while the caches are warm.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/form.h"
#include "jose/jws.h"
#include "jose/secret.h"
#include "oidc/clients.h"
#include "oidc/oidc_internal.h"
#include "rbac/scopes.h"
#include "tenants/cache.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "util/wipe.h"

#define MAX_CLIENT_ID  128
#define MAX_SECRET     512
#define MAX_SCOPE_TEXT 4096

struct token_ctx {
    struct latch_token_request tr; /* first: grants get &ctx->tr */
    struct latch_request *req;
    const char *client_id;
    const char *client_secret; /* NULL: a public client (token_endpoint_auth_method none) */
    bool basic;
    bool allow_public;
    latch_oidc_client_cb done;
};

/* ---- throttling of failed client authentication (util/ratelimit.h, per node) ---- */

static void throttle_keys(const struct token_ctx *ctx, char *by_client, size_t ccap, char *by_ip,
                          size_t icap)
{
    const struct latch_request *req = ctx->req;
    snprintf(by_client, ccap, "cauth:%s:%s", req->tenant->id,
             ctx->client_id != NULL ? ctx->client_id : "");
    snprintf(by_ip, icap, "ipauth:%s", req->client_ip);
}

/* 429 in the token endpoint's error shape, with Retry-After. */
static void too_many(struct latch_request *req, int retry_after_s)
{
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", retry_after_s);
    latch_http_add_header(req, "Retry-After", ra);
    latch_http_respond_oauth_error(req, 429, "temporarily_unavailable",
                                   "Too many failed client authentications; try again later.");
}

/* Whether the client (and this client IP) may try to authenticate now; answers 429 if not. */
static bool throttle_allows(struct token_ctx *ctx)
{
    const struct latch_config *cfg = latch_loop_config(ctx->req->loop);
    char by_client[160], by_ip[96];
    int retry = 0;
    throttle_keys(ctx, by_client, sizeof(by_client), by_ip, sizeof(by_ip));
    if (latch_ratelimit_allow_per_minute(cfg->limit_ip_auth_failures, by_ip, &retry) &&
        latch_ratelimit_allow_per_minute(cfg->limit_client_auth_failures, by_client, &retry))
        return true;
    too_many(ctx->req, retry);
    return false;
}

static void invalid_client(struct token_ctx *ctx, const char *why)
{
    /* Every failed authentication counts against the client id and the client IP. */
    const struct latch_config *cfg = latch_loop_config(ctx->req->loop);
    char by_client[160], by_ip[96];
    throttle_keys(ctx, by_client, sizeof(by_client), by_ip, sizeof(by_ip));
    latch_ratelimit_fail_per_minute(cfg->limit_ip_auth_failures, by_ip);
    if (ctx->client_id != NULL)
        latch_ratelimit_fail_per_minute(cfg->limit_client_auth_failures, by_client);
    latch_http_add_header(ctx->req, "WWW-Authenticate", "Basic realm=\"latch\", charset=\"UTF-8\"");
    latch_http_respond_oauth_error(ctx->req, 401, "invalid_client", why);
}

/* Reads HTTP Basic credentials; both parts are form-urlencoded (RFC 6749 §2.3.1). The decoded
 * text holds the client secret: it is wiped before returning (the copies live in the arena,
 * which is wiped with the request). */
static bool parse_basic(struct token_ctx *ctx, const char *header)
{
    char raw[MAX_CLIENT_ID + MAX_SECRET * 3 + 8];
    bool ok = false;

    if (strncasecmp(header, "Basic ", 6) != 0)
        return false;
    const char *b64 = header + 6;
    while (*b64 == ' ')
        b64++;
    /* Standard base64 with padding (RFC 7617), one byte kept for the NUL. */
    ssize_t n = latch_base64_decode(b64, strlen(b64), (uint8_t *)raw, sizeof(raw) - 1);
    if (n <= 0)
        goto out;
    raw[n] = '\0';
    if (memchr(raw, '\0', (size_t)n) != NULL)
        goto out;
    char *colon = strchr(raw, ':');
    if (colon == NULL)
        goto out;
    *colon = '\0';
    struct latch_form f;
    struct latch_error err;
    char *pair = latch_arena_printf(ctx->req->arena, "id=%s&secret=%s", raw, colon + 1);
    if (pair == NULL || latch_form_parse(&f, ctx->req->arena, pair, strlen(pair), &err) != LATCH_OK)
        goto out;
    /* '&' or '=' inside the raw parts would have split differently: insist on two fields. */
    if (f.n != 2)
        goto out;
    ctx->client_id = latch_form_get(&f, "id");
    ctx->client_secret = latch_form_get(&f, "secret");
    ctx->basic = true;
    ok = ctx->client_id != NULL && ctx->client_secret != NULL;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    return ok;
}

/* The scopes a machine holds on a resource, space-separated, into the request arena. */
static char *held_scopes(struct latch_arena *arena, const struct latch_client *client,
                         const char *indicator)
{
    size_t cap = 1;
    for (int i = 0; i < client->nscopes; i++)
        if (strcmp(client->scopes[i].indicator, indicator) == 0)
            cap += strlen(client->scopes[i].name) + 1;
    char *out = latch_arena_alloc(arena, cap);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < client->nscopes; i++)
        if (strcmp(client->scopes[i].indicator, indicator) == 0)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "",
                                    client->scopes[i].name);
    return out;
}

/* granted = requested ∩ held, or everything held when nothing was requested (rbac/scopes.h);
 * requested has passed latch_rbac_check(). NULL when out of memory. */
static char *grant_scopes(struct token_ctx *ctx, const char *held, const char *requested)
{
    size_t cap = MAX_SCOPE_TEXT + 1;
    char *out = latch_arena_alloc(ctx->req->arena, cap);
    if (out == NULL || latch_rbac_grant(requested, held, LATCH_RBAC_ALL, out, cap) != LATCH_RBAC_OK)
        return NULL;
    return out;
}

void latch_oidc_token_body_begin(struct latch_json *j, const char *access_token, long ttl,
                                 const char *scope)
{
    latch_json_init(j);
    latch_json_begin_object(j);
    latch_json_key(j, "access_token");
    latch_json_string(j, access_token);
    latch_json_key(j, "expires_in");
    latch_json_int(j, ttl);
    latch_json_key(j, "token_type");
    latch_json_string(j, "Bearer");
    latch_json_key(j, "scope");
    latch_json_string(j, scope);
}

latch_rc latch_oidc_access_token(const struct latch_token_request *tr,
                                 const struct latch_oidc_access *at, char **token,
                                 struct latch_error *err)
{
    struct latch_tenant_state *st = tr->state;
    *token = NULL;
    if (st->current < 0)
        return latch_error_set(err, 503, "service_unavailable", "No signing key available.");
    char jti[33];
    if (latch_jose_random_id(jti, 32) != LATCH_OK)
        return latch_error_set(err, 503, "service_unavailable", "No randomness available.");
    time_t now = at->iat;
    /* The claim order is part of what clients see (and what the tests compare): keep it. */
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "jti");
    latch_json_string(&j, jti);
    latch_json_key(&j, "sub");
    latch_json_string(&j, at->sub);
    latch_json_key(&j, "iat");
    latch_json_int(&j, (int64_t)now);
    latch_json_key(&j, "exp");
    latch_json_int(&j, (int64_t)now + at->ttl);
    latch_json_key(&j, "scope");
    latch_json_string(&j, at->scope);
    latch_json_key(&j, "client_id");
    latch_json_string(&j, tr->client->id);
    latch_json_key(&j, "iss");
    latch_json_string(&j, st->issuer);
    latch_json_key(&j, "aud");
    latch_json_string(&j, at->aud);
    if (at->organization_id != NULL) {
        latch_json_key(&j, "organization_id");
        latch_json_string(&j, at->organization_id);
    }
    if (at->sid != NULL) {
        latch_json_key(&j, "sid");
        latch_json_string(&j, at->sid);
    }
    /* The grant (authorization) the token comes from: a reused code revokes it, and userinfo
     * then refuses the token (revoked_grants, schema 0008). */
    if (at->grant_id != NULL) {
        latch_json_key(&j, "grant_id");
        latch_json_string(&j, at->grant_id);
    }
    latch_json_end_object(&j);
    size_t plen = 0;
    char *payload = latch_json_take(&j, &plen);
    struct latch_error sign_err;
    if (payload == NULL || latch_jose_sign(st->keys[st->current].key, "\"typ\":\"at+jwt\"", payload,
                                           plen, token, &sign_err) != LATCH_OK) {
        free(payload);
        *token = NULL;
        latch_http_log(tr->req, LATCH_LOG_ERROR, "cannot sign an access token");
        return latch_error_set(err, 500, "server_error", "Internal error.");
    }
    free(payload);
    return LATCH_OK;
}

void latch_oidc_machine_token(struct latch_token_request *tr, const char *aud, long ttl,
                              const char *scope, const char *organization_id)
{
    struct latch_request *req = tr->req;
    struct latch_oidc_access at = {
        .sub = tr->client->id,
        .aud = aud,
        .scope = scope,
        .ttl = ttl,
        .organization_id = organization_id,
        .iat = time(NULL),
    };
    char *token = NULL;
    struct latch_error err;
    if (latch_oidc_access_token(tr, &at, &token, &err) != LATCH_OK) {
        latch_http_respond_error(req, &err);
        return;
    }
    struct latch_json j;
    latch_oidc_token_body_begin(&j, token, ttl, scope);
    latch_json_end_object(&j);
    latch_wipe_free_str(token);
    size_t blen = 0;
    char *body = latch_json_take(&j, &blen);
    if (body == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    latch_http_add_header(req, "Pragma", "no-cache");
    latch_http_respond_json(req, 200, body, blen);
    latch_wipe_free(body, blen);
}

/* Answers the client_credentials grant; true when it went on asynchronously (and then releases
 * the request's references itself). */
static bool issue_client_credentials(struct token_ctx *ctx, struct latch_client *client)
{
    struct latch_request *req = ctx->req;
    struct latch_tenant_state *st = ctx->tr.state;
    if (latch_form_count(&ctx->tr.form, "resource") > 1) {
        latch_http_respond_oauth_error(
            req, 400, "invalid_target",
            "Only one resource can be requested with client_credentials.");
        return false;
    }
    const char *requested = latch_form_get(&ctx->tr.form, "scope");
    enum latch_rbac_result checked = requested != NULL && strlen(requested) > MAX_SCOPE_TEXT
                                         ? LATCH_RBAC_TOO_LONG
                                         : latch_rbac_check(requested);
    if (checked != LATCH_RBAC_OK) {
        latch_http_respond_oauth_error(req, 400, "invalid_scope", latch_rbac_describe(checked));
        return false;
    }
    const char *indicator = latch_oidc_resource_param(&ctx->tr.form);
    if (indicator != NULL && latch_tenant_resource(st, indicator) == NULL) {
        latch_http_respond_oauth_error(req, 400, "invalid_target",
                                       "The resource indicator is not registered.");
        return false;
    }
    const char *org = latch_form_get(&ctx->tr.form, "organization_id");
    if (org != NULL) {
        latch_oidc_grant_client_organization(&ctx->tr, org);
        return true;
    }
    const struct latch_resource *res =
        indicator ? latch_tenant_resource(st, indicator) : latch_tenant_default_resource(st);
    if (res == NULL) {
        latch_http_respond_oauth_error(req, 400, "invalid_target",
                                       "A resource indicator is required (RFC 8707 `resource`).");
        return false;
    }
    const char *held = held_scopes(req->arena, client, res->indicator);
    char *scope = held ? grant_scopes(ctx, held, requested) : NULL;
    if (scope == NULL)
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
    else
        latch_oidc_machine_token(&ctx->tr, res->indicator, res->ttl, scope, NULL);
    return false;
}

static void got_client(struct latch_client *client, const struct latch_error *err, void *arg)
{
    struct token_ctx *ctx = arg;
    if (err != NULL) {
        latch_http_respond_error(ctx->req, err);
    } else if (!client->exists) {
        invalid_client(ctx, "Client authentication failed.");
    } else if (ctx->client_secret == NULL) {
        /* No secret: only public clients (SPA, Native) may come without one. They run in
         * browsers, so their allowed origins may read the answer. */
        const char *origin = latch_http_header_get(ctx->req, "origin");
        if (origin != NULL && latch_client_origin_ok(client, origin)) {
            latch_http_add_header(ctx->req, "Access-Control-Allow-Origin", origin);
            latch_http_add_header(ctx->req, "Vary", "Origin");
        }
        if (!client->is_public || !ctx->allow_public) {
            invalid_client(ctx, "Client authentication failed.");
        } else {
            ctx->tr.client = client;
            ctx->done(&ctx->tr);
            return;
        }
    } else if (client->is_public ||
               !latch_client_check_secret(client, ctx->client_secret, time(NULL))) {
        invalid_client(ctx, "Client authentication failed.");
    } else {
        ctx->tr.client = client;
        ctx->done(&ctx->tr);
        return;
    }
    latch_client_unref(client);
    latch_tenant_state_unref(ctx->tr.state);
}

static void got_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct token_ctx *ctx = arg;
    if (err != NULL) {
        latch_http_respond_error(ctx->req, err);
        return;
    }
    ctx->tr.state = st;
    latch_client_get(ctx->req->loop, ctx->req->tenant->id, ctx->client_id, got_client, ctx);
}

/* The audit log's client and organization of a token-endpoint style request, and for the token
 * endpoint itself its key by grant type (Logto's ExchangeTokenBy.*). */
static void note_grant(struct latch_request *req, const struct latch_form *form)
{
    const char *grant = latch_form_get(form, "grant_type");
    const char *key = "ExchangeTokenBy.Unknown";
    if (grant != NULL && strcmp(grant, "authorization_code") == 0)
        key = "ExchangeTokenBy.AuthorizationCode";
    else if (grant != NULL && strcmp(grant, "refresh_token") == 0)
        key = "ExchangeTokenBy.RefreshToken";
    else if (grant != NULL && strcmp(grant, "client_credentials") == 0)
        key = "ExchangeTokenBy.ClientCredentials";
    if (strncmp(latch_audit_key(req), "ExchangeTokenBy.", 16) == 0)
        latch_audit_track(req, key);
    const char *client = latch_form_get(form, "client_id");
    if (client != NULL && strlen(client) <= MAX_CLIENT_ID)
        latch_audit_note(req, LATCH_AUDIT_APPLICATION_ID, client);
    const char *org = latch_form_get(form, "organization_id");
    if (org != NULL && latch_oidc_organization_id_ok(org))
        latch_audit_note(req, LATCH_AUDIT_ORGANIZATION_ID, org);
}

void latch_oidc_authenticate(struct latch_request *req, bool allow_public,
                             latch_oidc_client_cb done)
{
    struct token_ctx *ctx = latch_arena_calloc(req->arena, 1, sizeof(*ctx));
    struct latch_error err;
    if (ctx == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    ctx->req = req;
    ctx->tr.req = req;
    ctx->allow_public = allow_public;
    ctx->done = done;
    const char *ct = latch_http_header_get(req, "content-type");
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
        (ct[33] != '\0' && ct[33] != ';' && ct[33] != ' ')) {
        latch_http_respond_oauth_error(req, 400, "invalid_request",
                                       "The body must be application/x-www-form-urlencoded.");
        return;
    }
    if (memchr(req->body, '\0', req->body_len) != NULL ||
        latch_form_parse(&ctx->tr.form, req->arena, req->body, req->body_len, &err) != LATCH_OK) {
        latch_http_respond_oauth_error(req, 400, "invalid_request",
                                       ctx->tr.form.invalid ? err.message
                                                            : "The form body is malformed.");
        return;
    }
    if (latch_audit_tracked(req))
        note_grant(req, &ctx->tr.form);
    static const char *const repeatable[] = {"resource", NULL};
    const char *dup = latch_form_repeated(&ctx->tr.form, repeatable);
    if (dup != NULL) {
        char *msg = latch_arena_printf(req->arena, "Parameter `%.64s` is repeated.", dup);
        latch_http_respond_oauth_error(req, 400, "invalid_request",
                                       msg ? msg : "A parameter is repeated.");
        return;
    }

    const char *authz = latch_http_header_get(req, "authorization");
    const char *post_id = latch_form_get(&ctx->tr.form, "client_id");
    const char *post_secret = latch_form_get(&ctx->tr.form, "client_secret");
    if (authz != NULL) {
        if (!parse_basic(ctx, authz)) {
            invalid_client(ctx, "Malformed client credentials in the Authorization header.");
            return;
        }
        if (strlen(ctx->client_id) <= MAX_CLIENT_ID)
            latch_audit_note(req, LATCH_AUDIT_APPLICATION_ID, ctx->client_id);
        if (post_secret != NULL) {
            latch_http_respond_oauth_error(req, 400, "invalid_request",
                                           "Use one client authentication method, not several.");
            return;
        }
        if (post_id != NULL && strcmp(post_id, ctx->client_id) != 0) {
            latch_http_respond_oauth_error(req, 400, "invalid_request",
                                           "client_id does not match.");
            return;
        }
    } else if (post_id != NULL) {
        ctx->client_id = post_id;
        ctx->client_secret = post_secret; /* NULL for a public client */
    } else {
        invalid_client(ctx, "Client authentication is required.");
        return;
    }
    if (ctx->client_id[0] == '\0' || strlen(ctx->client_id) > MAX_CLIENT_ID ||
        (ctx->client_secret != NULL && strlen(ctx->client_secret) > MAX_SECRET)) {
        invalid_client(ctx, "Client authentication failed.");
        return;
    }
    /* Before any work on the secret: a client (or an address) that failed too often waits. */
    if (!throttle_allows(ctx))
        return;
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, got_state, ctx);
}

static void token_dispatch(struct latch_token_request *tr)
{
    struct token_ctx *ctx = (struct token_ctx *)tr;
    struct latch_client *client = tr->client;
    const char *grant_type = latch_form_get(&tr->form, "grant_type");
    bool m2m = strcmp(client->type, "MachineToMachine") == 0;
    if (grant_type == NULL || grant_type[0] == '\0') {
        latch_http_respond_oauth_error(tr->req, 400, "invalid_request",
                                       "Missing parameter `grant_type`.");
    } else if (strcmp(grant_type, "client_credentials") == 0) {
        if (!m2m)
            latch_http_respond_oauth_error(
                tr->req, 400, "unauthorized_client",
                "The client_credentials grant is for MachineToMachine applications.");
        else if (issue_client_credentials(ctx, client))
            return; /* the organization grant releases the references */
    } else if (strcmp(grant_type, "authorization_code") == 0 ||
               strcmp(grant_type, "refresh_token") == 0) {
        if (m2m) {
            latch_http_respond_oauth_error(
                tr->req, 400, "unauthorized_client",
                "This grant is not allowed for MachineToMachine applications.");
        } else if (grant_type[0] == 'a') {
            latch_oidc_grant_authorization_code(tr);
            return; /* the grant releases the references */
        } else {
            latch_oidc_grant_refresh_token(tr);
            return;
        }
    } else {
        latch_http_respond_oauth_error(tr->req, 400, "unsupported_grant_type",
                                       "The grant type is not supported.");
    }
    latch_client_unref(client);
    latch_tenant_state_unref(tr->state);
}

void latch_oidc_token(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "ExchangeTokenBy.Unknown");
    latch_oidc_authenticate(req, true, token_dispatch);
}

latch_rc latch_oidc_register(struct latch_server *srv)
{
    static const struct {
        enum latch_http_method method;
        const char *pattern;
        latch_http_handler handler;
    } routes[] = {
        {LATCH_HTTP_GET, "/oidc/auth", latch_oidc_authorize},
        {LATCH_HTTP_POST, "/oidc/auth", latch_oidc_authorize},
        {LATCH_HTTP_GET, "/oidc/auth/resume", latch_oidc_resume},
        {LATCH_HTTP_OPTIONS, "/oidc/token", latch_oidc_preflight},
        {LATCH_HTTP_GET, "/oidc/me", latch_oidc_userinfo},
        {LATCH_HTTP_POST, "/oidc/me", latch_oidc_userinfo},
        {LATCH_HTTP_OPTIONS, "/oidc/me", latch_oidc_preflight},
        {LATCH_HTTP_GET, "/oidc/session/end", latch_oidc_end_session},
        {LATCH_HTTP_POST, "/oidc/session/end", latch_oidc_end_session},
        {LATCH_HTTP_POST, "/oidc/token/revocation", latch_oidc_revocation},
        {LATCH_HTTP_POST, "/oidc/token/introspection", latch_oidc_introspection},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (latch_server_add_tenant_route(srv, routes[i].method, routes[i].pattern,
                                          routes[i].handler, NULL) != LATCH_OK)
            return LATCH_FAIL;
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/oidc/.well-known/openid-configuration",
                                      latch_oidc_discovery, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/oidc/jwks", latch_oidc_discovery,
                                      NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/oidc/token", latch_oidc_token,
                                      NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
