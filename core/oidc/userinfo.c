/*
 * Userinfo (<issuer>/me, OIDC Core §5.3), RP-initiated logout (<issuer>/session/end, OIDC
 * RP-Initiated Logout 1.0), revocation (RFC 7009) and introspection (RFC 7662).
 *
 * Logout ends the session at once only when the application proves it asks, with a valid
 * id_token_hint; otherwise (a link any site could make the browser follow) the person confirms
 * on a page whose form carries an anti-forgery token, as node-oidc-provider does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience.h"
#include "http/cookie.h"
#include "util/base64.h"
#include "jose/jwt.h"
#include "jose/secret.h"
#include "oidc/claims.h"
#include "oidc/oidc_internal.h"
#include "util/json.h"
#include "util/log.h"

/*
 * Verifies a JWT issued by this tenant. With an audience: the full check (jose/jwt.h). Without
 * one (introspection, id_token_hint): the signature by one of the tenant's keys, the issuer, and
 * unless accept_expired, an exp in the future.
 */
static bool verify_jwt(struct latch_tenant_state *st, const char *token, const char *audience,
                       bool accept_expired, struct latch_jose_jwt *jwt)
{
    const struct latch_jose_key *keys[LATCH_TENANT_MAX_KEYS];
    for (int i = 0; i < st->nkeys; i++)
        keys[i] = st->keys[i].key;
    struct latch_error err;
    int64_t now = (int64_t)time(NULL);
    memset(jwt, 0, sizeof(*jwt));
    if (audience != NULL && !accept_expired) {
        struct latch_jose_jwt_rules rules = {
            .issuer = st->issuer,
            .audience = audience,
            .now = now,
            .leeway = 30,
            .allowed_algs = LATCH_JOSE_ALGS_ALL,
        };
        return latch_jose_jwt_verify(token, strlen(token), keys, st->nkeys, &rules, jwt, &err) ==
               LATCH_OK;
    }
    struct latch_jose_jws jws;
    memset(&jws, 0, sizeof(jws));
    if (latch_jose_verify(token, strlen(token), keys, st->nkeys, LATCH_JOSE_ALGS_ALL, &jws, &err) !=
        LATCH_OK)
        return false;
    struct latch_json_limits lim = latch_jose_json_limits(8);
    struct latch_error perr = {0};
    bool ok = latch_json_parse(jws.payload, jws.payload_len, &lim, &jwt->claims, &perr) == LATCH_OK;
    latch_jose_jws_clear(&jws);
    if (!ok)
        return false;
    const char *iss[] = {"iss", NULL}, *exp[] = {"exp", NULL}, *iat[] = {"iat", NULL};
    yajl_val v_iss = yajl_tree_get(jwt->claims, iss, yajl_t_string);
    yajl_val v_exp = yajl_tree_get(jwt->claims, exp, yajl_t_number);
    yajl_val v_iat = yajl_tree_get(jwt->claims, iat, yajl_t_number);
    jwt->exp = v_exp && YAJL_IS_INTEGER(v_exp) ? YAJL_GET_INTEGER(v_exp) : 0;
    jwt->iat = v_iat && YAJL_IS_INTEGER(v_iat) ? YAJL_GET_INTEGER(v_iat) : 0;
    const char *issuer = v_iss ? YAJL_GET_STRING(v_iss) : NULL;
    ok = issuer != NULL && strcmp(issuer, st->issuer) == 0 && (accept_expired || jwt->exp > now);
    if (!ok)
        latch_jose_jwt_clear(jwt);
    return ok;
}

static const char *claim_str(yajl_val claims, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = claims ? yajl_tree_get(claims, path, yajl_t_string) : NULL;
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* ---- userinfo ---- */

/* Every organization claim: the access token's scope decides which are written. Column 17:
 * whether the token's grant ($4, NULL for none) was revoked by a reused code; read in the same
 * statement as the user, so checking it costs no round trip. */
#define USERINFO_COLUMNS                                                                           \
    USER_COLUMNS_FOR("'" LATCH_SCOPE_ORGANIZATIONS " " LATCH_SCOPE_ORGANIZATION_ROLES "'",         \
                     ORGANIZATION_DATA_SQL)
static const struct latch_stmt user_stmt = {
    .name = "userinfo_user",
    .sql = "SELECT " USERINFO_COLUMNS ", EXISTS (SELECT 1 FROM revoked_grants g "
           "WHERE g.tenant_id = $1 AND g.grant_id = $4) FROM users u "
           "WHERE u.tenant_id = $1 AND u.id = $2",
    .nparams = 4,
};
enum { COL_GRANT_REVOKED = 17 };

struct ui_ctx {
    struct latch_request *req;
    const char *token;
    const char *sub;
    const char *scope;
    const char *client_id;
    const char *grant_id; /* NULL: the token names no grant */
};

static void bearer_error(struct latch_request *req, const char *error, const char *why)
{
    latch_http_add_header(
        req, "WWW-Authenticate",
        latch_arena_printf(req->arena, "Bearer realm=\"latch\", error=\"%s\"", error));
    /* RFC 6750 §3.1 */
    int status = strcmp(error, "invalid_request") == 0      ? 400
                 : strcmp(error, "insufficient_scope") == 0 ? 403
                                                            : 401;
    latch_http_respond_oauth_error(req, status, error, why);
}

static void user_loaded(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct ui_ctx *u = arg;
    struct latch_request *req = u->req;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    const struct latch_store_result *r = results[0];
    if (latch_store_result_rows(r) != 1 || strcmp(latch_store_result_value(r, 0, 11), "t") == 0) {
        bearer_error(req, "invalid_token", "The user of this token cannot sign in.");
        return;
    }
    if (strcmp(latch_store_result_value(r, 0, COL_GRANT_REVOKED), "t") == 0) {
        bearer_error(req, "invalid_token", "The access token was revoked.");
        return;
    }
    struct latch_claims_user cu = {
        .id = latch_store_result_value(r, 0, 0),
        .username = latch_store_result_value(r, 0, 1),
        .primary_email = latch_store_result_value(r, 0, 2),
        .primary_phone = latch_store_result_value(r, 0, 3),
        .name = latch_store_result_value(r, 0, 4),
        .avatar = latch_store_result_value(r, 0, 5),
        .profile = latch_store_result_value(r, 0, 6),
        .custom_data = latch_store_result_value(r, 0, 7),
        .identities = latch_store_result_value(r, 0, 8),
        .created_at = strtoll(latch_store_result_value(r, 0, 9), NULL, 10),
        .updated_at = strtoll(latch_store_result_value(r, 0, 10), NULL, 10),
        .roles = latch_store_result_value(r, 0, 12),
        .organizations = latch_store_result_value(r, 0, 14),
        .organization_data = latch_store_result_value(r, 0, 15),
        .organization_roles = latch_store_result_value(r, 0, 16),
    };
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "sub");
    latch_json_string(&j, u->sub);
    latch_claims_write(&j, &cu, u->scope, LATCH_CLAIMS_USERINFO);
    latch_json_end_object(&j);
    size_t len = 0;
    char *body = latch_json_take(&j, &len);
    if (body == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, 200, body, len);
    free(body);
}

static void ui_client(struct latch_client *client, const struct latch_error *err, void *arg)
{
    struct ui_ctx *u = arg;
    struct latch_request *req = u->req;
    const char *origin = latch_http_header_get(req, "origin");
    if (err == NULL && client->exists && origin != NULL && latch_client_origin_ok(client, origin)) {
        latch_http_add_header(req, "Access-Control-Allow-Origin", origin);
        latch_http_add_header(req, "Vary", "Origin");
    }
    latch_client_unref(client);
    const char *p[4] = {req->tenant->id, u->sub, NULL, u->grant_id};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &user_stmt, p, user_loaded, u);
}

static void ui_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct ui_ctx *u = arg;
    struct latch_request *req = u->req;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    char *aud = latch_arena_printf(req->arena, "%s/me", st->issuer);
    struct latch_jose_jwt jwt;
    bool ok = aud != NULL && verify_jwt(st, u->token, aud, false, &jwt);
    latch_tenant_state_unref(st);
    if (!ok) {
        bearer_error(req, "invalid_token", "The access token is invalid or expired.");
        return;
    }
    u->sub = latch_arena_strdup(req->arena, claim_str(jwt.claims, "sub") ?: "");
    u->scope = latch_arena_strdup(req->arena, claim_str(jwt.claims, "scope") ?: "");
    u->client_id = latch_arena_strdup(req->arena, claim_str(jwt.claims, "client_id") ?: "");
    const char *grant_id = claim_str(jwt.claims, "grant_id");
    u->grant_id = grant_id ? latch_arena_strdup(req->arena, grant_id) : NULL;
    latch_jose_jwt_clear(&jwt);
    if (!latch_scope_has(u->scope, "openid") || u->sub[0] == '\0') {
        bearer_error(req, "insufficient_scope", "The token was not granted the openid scope.");
        return;
    }
    latch_client_get(req->loop, req->tenant->id, u->client_id, ui_client, u);
}

static void preflight_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    const char *origin = latch_http_header_get(req, "origin");
    if (err == NULL && latch_tenant_origin_allowed(st, origin)) {
        latch_http_add_header(req, "Access-Control-Allow-Origin", origin);
        latch_http_add_header(req, "Access-Control-Allow-Methods", "GET, POST");
        latch_http_add_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        latch_http_add_header(req, "Access-Control-Max-Age", "600");
    }
    latch_http_add_header(req, "Vary", "Origin");
    if (st != NULL)
        latch_tenant_state_unref(st);
    latch_http_respond(req, 204, NULL, NULL, 0);
}

/* CORS preflight for the browser endpoints (userinfo, token): only origins some application of
 * the tenant allows; the actual answer checks the token's own client again. */
void latch_oidc_preflight(struct latch_request *req, void *arg)
{
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, preflight_state, req);
}

void latch_oidc_userinfo(struct latch_request *req, void *arg)
{
    struct ui_ctx *u = latch_arena_calloc(req->arena, 1, sizeof(*u));
    if (u == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    u->req = req;
    const char *authz = latch_http_header_get(req, "authorization");
    const char *form_token = NULL;
    if (req->method == LATCH_HTTP_POST && req->body_len > 0) {
        struct latch_form form;
        if (!latch_oidc_params(req, &form, false))
            return;
        form_token = latch_form_get(&form, "access_token");
    }
    if (authz != NULL && form_token != NULL) {
        bearer_error(req, "invalid_request", "Send the token one way only.");
        return;
    }
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            bearer_error(req, "invalid_token", "Use a Bearer token.");
            return;
        }
        u->token = authz + 7;
    } else {
        u->token = form_token;
    }
    if (u->token == NULL || u->token[0] == '\0') {
        latch_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"latch\"");
        latch_http_respond_oauth_error(req, 401, "invalid_token", "An access token is required.");
        return;
    }
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, ui_state, u);
}

/* ---- RP-initiated logout ---- */

static const struct latch_stmt end_session = {
    .name = "logout_end_session",
    .sql = "UPDATE sessions SET ended_at = now() WHERE tenant_id = $1 AND id_hash = $2::bytea "
           "AND ended_at IS NULL",
    .nparams = 2,
};

struct logout_ctx {
    struct latch_request *req;
    struct latch_form form;
    struct latch_tenant_state *state;
    const char *client_id;
    const char *post_logout;
    const char *state_param;
    bool hinted; /* a valid id_token_hint: the application asks, no confirmation needed */
};

static void logged_out(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct logout_ctx *l = arg;
    struct latch_request *req = l->req;
    if (err != NULL)
        latch_http_log_error(req, "cannot end a session", err);
    const struct latch_config *cfg = latch_loop_config(req->loop);
    struct latch_cookie gone = {
        .name = latch_http_tenant_cookie_name(req, "latch_session"),
        .value = "",
        .path = latch_http_tenant_cookie_path(req),
        .max_age = 0,
        .secure = cfg->public_https,
        .http_only = true,
        .same_site = "Lax",
    };
    latch_http_set_cookie(req, &gone);
    if (l->post_logout != NULL) {
        const char *sep = strchr(l->post_logout, '?') ? "&" : "?";
        char *url = l->state_param
                        ? latch_arena_printf(req->arena, "%s%sstate=%s", l->post_logout, sep,
                                             latch_oidc_urlencode(req, l->state_param))
                        : latch_arena_strdup(req->arena, l->post_logout);
        latch_http_add_header(req, "Location", url);
        latch_http_respond(req, 303, NULL, NULL, 0);
        return;
    }
    latch_oidc_error_page(req, 200, "Signed out", "You have signed out.");
}

static const char *session_cookie(struct latch_request *req)
{
    const char *cookie =
        latch_http_cookie_get(req, latch_http_tenant_cookie_name(req, "latch_session"));
    return cookie != NULL && cookie[0] != '\0' && strlen(cookie) <= 128 ? cookie : NULL;
}

static void end_now(struct logout_ctx *l)
{
    struct latch_request *req = l->req;
    const char *cookie = session_cookie(req);
    char hash[LATCH_TOKEN_HASH_TEXT];
    const char *tid = l->state->id;
    latch_tenant_state_unref(l->state);
    if (cookie == NULL || latch_jose_token_hash(cookie, hash) != LATCH_OK) {
        logged_out(NULL, 0, NULL, l);
        return;
    }
    const char *p[2] = {tid, hash};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &end_session, p, logged_out, l);
}

/*
 * The confirmation form's anti-forgery token (node-oidc-provider's `xsrf`): an HMAC of the
 * tenant and the session cookie under a key derived from LATCH_SECRET_KEY. Only a page that
 * came with the (HttpOnly) cookie can know it, it needs no stored state (any node can check
 * it), and it changes with the session. out: 43 characters of base64url and a NUL.
 */
#define XSRF_LEN 43
static bool logout_xsrf(struct latch_request *req, const char *cookie, char out[XSRF_LEN + 1])
{
    uint8_t key[32], mac[LATCH_SECRET_HASH_LEN];
    const char *msg = latch_arena_printf(req->arena, "%s\n%s", req->tenant->id, cookie);
    bool ok = msg != NULL &&
              latch_jose_derive_key(latch_loop_config(req->loop)->secret_key,
                                    "latch/logout-xsrf/v1", key) == LATCH_OK &&
              latch_jose_client_secret_hash(key, msg, strlen(msg), mac) == LATCH_OK &&
              latch_base64url_encode(mac, sizeof(mac), out, XSRF_LEN + 1) == XSRF_LEN;
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok;
}

/* The application's parameters checked: end the session when the request may, else ask. */
static void confirm_or_end(struct logout_ctx *l)
{
    struct latch_request *req = l->req;
    const char *cookie = session_cookie(req);
    /* With a valid id_token_hint the application asks (as before); without a session there is
     * nothing to end, only the cookie to clear and the redirect. */
    if (l->hinted || cookie == NULL) {
        end_now(l);
        return;
    }
    char expected[XSRF_LEN + 1];
    if (!logout_xsrf(req, cookie, expected)) {
        latch_tenant_state_unref(l->state);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Please try again shortly.");
        return;
    }
    const char *answer = req->method == LATCH_HTTP_POST ? latch_form_get(&l->form, "logout") : NULL;
    if (answer == NULL) {
        latch_tenant_state_unref(l->state);
        const char *base = latch_http_tenant_cookie_path(req);
        const char *action =
            base ? latch_arena_printf(req->arena, "%soidc/session/end", base) : NULL;
        const char *xsrf = latch_arena_strdup(req->arena, expected);
        struct latch_xp_hidden *fields = latch_arena_calloc(req->arena, 4, sizeof(*fields));
        if (action == NULL || xsrf == NULL || fields == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            return;
        }
        const char *ui_locales = latch_form_get(&l->form, "ui_locales");
        fields[0] = (struct latch_xp_hidden){"client_id", l->client_id};
        fields[1] = (struct latch_xp_hidden){"post_logout_redirect_uri", l->post_logout};
        fields[2] = (struct latch_xp_hidden){"state", l->state_param};
        fields[3] = (struct latch_xp_hidden){"ui_locales", ui_locales};
        latch_xp_logout_page(req, action, xsrf, ui_locales, fields, 4);
        return;
    }
    const char *given = latch_form_get(&l->form, "xsrf");
    bool ok = given != NULL && strlen(given) == XSRF_LEN &&
              latch_jose_equal((const uint8_t *)given, (const uint8_t *)expected, XSRF_LEN);
    OPENSSL_cleanse(expected, sizeof(expected));
    if (!ok) {
        /* A forged or stale form: the session stays. */
        latch_tenant_state_unref(l->state);
        latch_oidc_error_page(req, 400, "Invalid request",
                              "The sign-out request could not be verified. Go back to the "
                              "application and sign out again.");
        return;
    }
    if (strcmp(answer, "yes") == 0) {
        end_now(l);
        return;
    }
    /* "No, stay signed in": back to the application when it said where, session kept. */
    latch_tenant_state_unref(l->state);
    if (l->post_logout != NULL) {
        const char *sep = strchr(l->post_logout, '?') ? "&" : "?";
        char *url = l->state_param
                        ? latch_arena_printf(req->arena, "%s%sstate=%s", l->post_logout, sep,
                                             latch_oidc_urlencode(req, l->state_param))
                        : latch_arena_strdup(req->arena, l->post_logout);
        latch_http_add_header(req, "Location", url);
        latch_http_respond(req, 303, NULL, NULL, 0);
        return;
    }
    latch_oidc_error_page(req, 200, "Still signed in", "You are still signed in.");
}

static void logout_client(struct latch_client *client, const struct latch_error *err, void *arg)
{
    struct logout_ctx *l = arg;
    bool ok =
        err == NULL && client->exists && latch_client_post_logout_uri_ok(client, l->post_logout);
    latch_client_unref(client);
    if (!ok) {
        latch_tenant_state_unref(l->state);
        latch_oidc_error_page(l->req, 400, "Invalid redirect URI",
                              "The post_logout_redirect_uri is not registered for this "
                              "application.");
        return;
    }
    confirm_or_end(l);
}

static void logout_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct logout_ctx *l = arg;
    struct latch_request *req = l->req;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    l->state = st;
    const char *hint = latch_form_get(&l->form, "id_token_hint");
    if (hint != NULL) {
        struct latch_jose_jwt jwt;
        if (!verify_jwt(st, hint, NULL, true, &jwt)) {
            latch_tenant_state_unref(st);
            latch_oidc_error_page(req, 400, "Invalid request", "The id_token_hint is invalid.");
            return;
        }
        const char *aud = claim_str(jwt.claims, "aud");
        if (aud != NULL && l->client_id != NULL && strcmp(aud, l->client_id) != 0) {
            latch_jose_jwt_clear(&jwt);
            latch_tenant_state_unref(st);
            latch_oidc_error_page(req, 400, "Invalid request",
                                  "client_id does not match the id_token_hint.");
            return;
        }
        if (l->client_id == NULL && aud != NULL)
            l->client_id = latch_arena_strdup(req->arena, aud);
        latch_jose_jwt_clear(&jwt);
        l->hinted = true;
    }
    if (l->post_logout != NULL) {
        if (l->client_id == NULL) {
            latch_tenant_state_unref(st);
            latch_oidc_error_page(req, 400, "Invalid request",
                                  "post_logout_redirect_uri needs client_id or id_token_hint.");
            return;
        }
        latch_client_get(req->loop, req->tenant->id, l->client_id, logout_client, l);
        return;
    }
    confirm_or_end(l);
}

void latch_oidc_end_session(struct latch_request *req, void *arg)
{
    struct logout_ctx *l = latch_arena_calloc(req->arena, 1, sizeof(*l));
    if (l == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    l->req = req;
    if (!latch_oidc_params(req, &l->form, true))
        return;
    l->client_id = latch_form_get(&l->form, "client_id");
    l->post_logout = latch_form_get(&l->form, "post_logout_redirect_uri");
    l->state_param = latch_form_get(&l->form, "state");
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, logout_state, l);
}

/* ---- revocation and introspection ---- */

static const struct latch_stmt revoke_family = {
    .name = "revoke_family",
    .sql = "UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1 AND revoked_at IS "
           "NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 AND "
           "token_hash = $2::bytea AND client_id = $3)",
    .nparams = 3,
};

static const struct latch_stmt introspect_refresh = {
    .name = "introspect_refresh",
    .sql = "SELECT user_id, scope, extract(epoch FROM expires_at)::bigint, "
           "extract(epoch FROM created_at)::bigint FROM refresh_tokens WHERE tenant_id = $1 AND "
           "token_hash = $2::bytea AND client_id = $3 AND revoked_at IS NULL AND consumed_at IS "
           "NULL AND expires_at > now()",
    .nparams = 3,
};

static void finish(struct latch_token_request *tr)
{
    latch_client_unref(tr->client);
    latch_tenant_state_unref(tr->state);
}

static void revoked(struct latch_store_result *const *results, int n, const struct latch_error *err,
                    void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    latch_http_respond(req, 200, NULL, NULL, 0);
}

static bool looks_like_jwt(const char *t)
{
    const char *d = strchr(t, '.');
    return d != NULL && strchr(d + 1, '.') != NULL;
}

static void revoke(struct latch_token_request *tr)
{
    struct latch_request *req = tr->req;
    const char *token = latch_form_get(&tr->form, "token");
    char hash[LATCH_TOKEN_HASH_TEXT];
    if (token == NULL) {
        latch_http_respond_oauth_error(req, 400, "invalid_request", "Missing parameter `token`.");
    } else if (looks_like_jwt(token) || strlen(token) > 128 ||
               latch_jose_token_hash(token, hash) != LATCH_OK) {
        /* Access tokens are self-contained JWTs that expire on their own; RFC 7009 §2.2 lets
         * the server answer 200 for tokens it does not revoke. */
        latch_http_respond(req, 200, NULL, NULL, 0);
    } else {
        const char *p[3] = {tr->state->id, hash, tr->client->id};
        latch_store_query(latch_loop_store(req->loop), tr->state->id, &revoke_family, p, revoked,
                          req);
    }
    finish(tr);
}

void latch_oidc_revocation(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "RevokeToken");
    latch_oidc_authenticate(req, true, revoke);
}

static void respond_inactive(struct latch_request *req)
{
    static const char body[] = "{\"active\":false}";
    latch_http_respond_json(req, 200, body, sizeof(body) - 1);
}

static void introspected(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct latch_token_request *tr = arg;
    struct latch_request *req = tr->req;
    if (err != NULL || latch_store_result_rows(results[0]) != 1) {
        respond_inactive(req);
        finish(tr);
        return;
    }
    const struct latch_store_result *r = results[0];
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "active");
    latch_json_bool(&j, true);
    latch_json_key(&j, "sub");
    latch_json_string(&j, latch_store_result_value(r, 0, 0));
    latch_json_key(&j, "client_id");
    latch_json_string(&j, tr->client->id);
    latch_json_key(&j, "scope");
    latch_json_string(&j, latch_store_result_value(r, 0, 1));
    latch_json_key(&j, "exp");
    latch_json_int(&j, strtoll(latch_store_result_value(r, 0, 2), NULL, 10));
    latch_json_key(&j, "iat");
    latch_json_int(&j, strtoll(latch_store_result_value(r, 0, 3), NULL, 10));
    latch_json_key(&j, "iss");
    latch_json_string(&j, tr->state->issuer);
    latch_json_key(&j, "token_type");
    latch_json_string(&j, "refresh_token");
    latch_json_end_object(&j);
    size_t len = 0;
    char *body = latch_json_take(&j, &len);
    if (body != NULL)
        latch_http_respond_json(req, 200, body, len);
    else
        respond_inactive(req);
    free(body);
    finish(tr);
}

static void introspect(struct latch_token_request *tr)
{
    struct latch_request *req = tr->req;
    const char *token = latch_form_get(&tr->form, "token");
    if (token == NULL) {
        latch_http_respond_oauth_error(req, 400, "invalid_request", "Missing parameter `token`.");
        finish(tr);
        return;
    }
    if (looks_like_jwt(token)) {
        struct latch_jose_jwt jwt;
        if (!verify_jwt(tr->state, token, NULL, false, &jwt)) {
            respond_inactive(req);
            finish(tr);
            return;
        }
        /* The payload is the answer, with active: true (RFC 7662 §2.2). */
        struct latch_json j;
        latch_json_init(&j);
        latch_json_begin_object(&j);
        latch_json_key(&j, "active");
        latch_json_bool(&j, true);
        latch_json_key(&j, "token_type");
        latch_json_string(&j, "Bearer");
        static const char *const members[] = {"sub", "client_id", "scope", "iss",
                                              "aud", "jti",       NULL};
        for (const char *const *m = members; *m; m++) {
            const char *v = claim_str(jwt.claims, *m);
            if (v != NULL) {
                latch_json_key(&j, *m);
                latch_json_string(&j, v);
            }
        }
        latch_json_key(&j, "exp");
        latch_json_int(&j, jwt.exp);
        latch_json_key(&j, "iat");
        latch_json_int(&j, jwt.iat);
        latch_json_end_object(&j);
        latch_jose_jwt_clear(&jwt);
        size_t len = 0;
        char *body = latch_json_take(&j, &len);
        if (body != NULL)
            latch_http_respond_json(req, 200, body, len);
        else
            respond_inactive(req);
        free(body);
        finish(tr);
        return;
    }
    char hash[LATCH_TOKEN_HASH_TEXT];
    if (strlen(token) > 128 || latch_jose_token_hash(token, hash) != LATCH_OK) {
        respond_inactive(req);
        finish(tr);
        return;
    }
    const char *p[3] = {tr->state->id, hash, tr->client->id};
    latch_store_query(latch_loop_store(req->loop), tr->state->id, &introspect_refresh, p,
                      introspected, tr);
}

void latch_oidc_introspection(struct latch_request *req, void *arg)
{
    latch_oidc_authenticate(req, true, introspect);
}
