/*
 * The grants that act for a person at the token endpoint: authorization_code (RFC 6749 §4.1.3
 * with PKCE, RFC 7636) and refresh_token (§6, rotated on every use; a replayed token revokes its
 * family). Both end in tokens_issue(): an access token (a JWT for the requested resource with
 * the scopes the user's roles hold, or a userinfo token), an ID token (OIDC Core §2) and, with
 * offline_access, a refresh token stored as a hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jose/jws.h"
#include "jose/secret.h"
#include "oidc/claims.h"
#include "audit/audit.h"
#include "oidc/oidc_internal.h"
#include "rbac/scopes.h"
#include "util/json.h"
#include "util/log.h"
#include "util/wipe.h"

static const struct latch_stmt use_code = {
    .name = "grant_use_code",
    .sql = "SELECT * FROM latch_code_use($1, $2::bytea)",
    .nparams = 2,
};

static const struct latch_stmt code_user = {
    .name = "grant_code_user",
    .sql = "SELECT " USER_COLUMNS_FOR("c.scope",
                                      "NULL") ", c.amr FROM authorization_codes c JOIN users u "
                                              "ON u.tenant_id = c.tenant_id AND u.id = c.user_id "
                                              "WHERE c.tenant_id = $1 AND c.code_hash = $2::bytea",
    .nparams = 3,
};

static const struct latch_stmt use_refresh = {
    .name = "grant_use_refresh",
    .sql = "SELECT * FROM latch_refresh_use($1, $2::bytea, $3, $4::bytea, $5::boolean, "
           "$6::bigint)",
    .nparams = 6,
};

/* Column of refresh_user after USER_COLUMNS_FOR, and of use_refresh_org after latch_refresh_use's.
 */
enum { COL_HAS_ORG_SCOPE = 17, COL_ORG_HELD = 7 };
/* Column of the grant's amr: code_user's after USER_COLUMNS_FOR, refresh_user's after that. */
enum { COL_CODE_AMR = 17, COL_REFRESH_AMR = 18 };

/* The grant's organizations scope, as SQL over refresh_tokens t. */
#define HAS_ORG_SCOPE LATCH_SQL_SCOPE_HAS("t.scope", LATCH_SCOPE_ORGANIZATIONS)
/* Whether the refresh token's user is a member of organization `org` (SQL). */
#define IS_MEMBER(org)                                                                             \
    "EXISTS (SELECT 1 FROM organization_user_relations m WHERE m.tenant_id = $1 "                  \
    "AND m.organization_id = " org " AND m.user_id = t.user_id)"

/* Whether organization `org` requires MFA (isMfaRequired) and the refresh token's user has no
 * factor to do it with (backup codes alone do not count) (SQL over refresh_tokens t). */
#define MFA_MISSING(org)                                                                           \
    "(EXISTS (SELECT 1 FROM organizations o WHERE o.tenant_id = $1 AND o.id = " org                \
    " AND o.is_mfa_required) AND NOT EXISTS (SELECT 1 FROM mfa_factors f"                          \
    " WHERE f.tenant_id = $1 AND f.user_id = t.user_id AND f.type <> 'BackupCode'))"

/* For an organization token ($7 the organization id): latch_refresh_use only when the grant has
 * the organizations scope and its user is a member, or when the token was used already (a replay
 * still revokes its family); `held` (SQL over the function's row u) is then column 7. Otherwise
 * no row, and the token is left as it is: a refused request does not use up a rotating refresh
 * token. (The condition refers to no row of the function, so PostgreSQL checks it once, before
 * calling the function.) */
#define USE_REFRESH_ORG(held)                                                                      \
    "SELECT u.*, " held " FROM latch_refresh_use($1, $2::bytea, $3, $4::bytea, $5::boolean, "      \
    "$6::bigint) u WHERE EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.tenant_id = $1 "           \
    "AND t.token_hash = $2::bytea AND (t.consumed_at IS NOT NULL OR (" HAS_ORG_SCOPE               \
    " AND " IS_MEMBER("$7::text") " AND NOT " MFA_MISSING("$7::text") ")))"

/* The organization token: what the member's organization roles grant in organization $7. */
static const struct latch_stmt use_refresh_org = {
    .name = "grant_use_refresh_org",
    .sql = USE_REFRESH_ORG(LATCH_OIDC_ORG_HELD("organization_role_user_relations", "user_id",
                                               "u.user_id", "$7::text")),
    .nparams = 7,
};

/* A token for the resource $8 in organization $7's context. */
static const struct latch_stmt use_refresh_org_resource = {
    .name = "grant_use_refresh_org_res",
    .sql = USE_REFRESH_ORG(LATCH_OIDC_ORG_RESOURCE_HELD(
        "organization_role_user_relations", "user_id", "u.user_id", "$7::text", "$8::text")),
    .nparams = 8,
};

/* Column 17: whether the grant has the organizations scope. */
static const struct latch_stmt refresh_user = {
    .name = "grant_refresh_user",
    .sql = "SELECT " USER_COLUMNS_FOR(
        "t.scope", "NULL") ", " HAS_ORG_SCOPE ", t.amr FROM refresh_tokens t JOIN users u "
                           "ON u.tenant_id = t.tenant_id AND u.id = t.user_id "
                           "WHERE t.tenant_id = $1 AND t.token_hash = $2::bytea",
    .nparams = 3,
};

/* Why use_refresh_org refused: the organization requires MFA the member lacks ($3 org). */
static const struct latch_stmt refresh_org_mfa = {
    .name = "grant_refresh_org_mfa",
    .sql = "SELECT " MFA_MISSING("$3::text") " FROM refresh_tokens t"
                                             " WHERE t.tenant_id = $1 AND t.token_hash = $2::bytea",
    .nparams = 3,
};

static const struct latch_stmt insert_refresh = {
    .name = "grant_insert_refresh",
    .sql = "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, grant_id, client_id, "
           "user_id, sid, scope, resource, auth_time, expires_at, amr) VALUES ($1, $2::bytea, $3, "
           "$4, $5, $6, $7, $8, $9, to_timestamp($10::bigint), now() + make_interval(secs => "
           "$11::bigint), $12)",
    .nparams = 12,
};

/* What the issued tokens are made of. */
struct issue {
    struct latch_token_request *tr;
    const char *user_id;
    const char *sid;
    const char *scope;
    const char *resource;
    const char *nonce;
    const char *grant_id;
    int64_t auth_time;
    const char *amr; /* RFC 8176 methods, space-separated (NULL: none recorded) */
    struct latch_claims_user user;
    const char *resource_scopes; /* what the user's roles hold on the resource */
    const char *requested;       /* the scopes asked for the access token (NULL: the grant's) */
    const char *organization_id; /* an organization token (RFC 0001) for this organization */
    const char *org_held;        /* what the member's organization roles grant (there) */
    const char *refresh_token;   /* to answer with: new (rotated or first) or the same */
    bool store_refresh;          /* insert refresh_token as a new family (code grant) */
    char *body;
    size_t body_len;
};

static void release(struct latch_token_request *tr)
{
    latch_client_unref(tr->client);
    latch_tenant_state_unref(tr->state);
}

static void grant_error(struct latch_token_request *tr, const char *error, const char *why)
{
    latch_http_respond_oauth_error(tr->req, 400, error, why);
    release(tr);
}

static const char *col(const struct latch_store_result *r, int c, struct latch_arena *arena)
{
    if (latch_store_result_isnull(r, 0, c))
        return NULL;
    return latch_arena_strdup(arena, latch_store_result_value(r, 0, c));
}

static bool read_user(struct issue *is, const struct latch_store_result *r)
{
    struct latch_arena *a = is->tr->req->arena;
    if (latch_store_result_rows(r) != 1)
        return false;
    struct latch_claims_user *u = &is->user;
    u->id = col(r, 0, a);
    u->username = col(r, 1, a);
    u->primary_email = col(r, 2, a);
    u->primary_phone = col(r, 3, a);
    u->name = col(r, 4, a);
    u->avatar = col(r, 5, a);
    u->profile = col(r, 6, a);
    u->custom_data = col(r, 7, a);
    u->identities = col(r, 8, a);
    u->created_at = strtoll(latch_store_result_value(r, 0, 9), NULL, 10);
    u->updated_at = strtoll(latch_store_result_value(r, 0, 10), NULL, 10);
    u->roles = col(r, 12, a);
    is->resource_scopes = col(r, 13, a);
    u->organizations = col(r, 14, a);
    u->organization_data = col(r, 15, a);
    u->organization_roles = col(r, 16, a);
    return strcmp(latch_store_result_value(r, 0, 11), "t") != 0; /* not suspended */
}

/* The access token's scopes: those asked for that `held` grants (rbac/scopes.h); the request's
 * scope passed latch_rbac_check() and the grant's did at authorization. NULL when out of
 * memory. */
static const char *decide(struct issue *is, const char *requested, const char *held)
{
    size_t cap = (requested ? strlen(requested) : 0) + 1;
    char *out = latch_arena_alloc(is->tr->req->arena, cap);
    if (out == NULL ||
        latch_rbac_grant(requested, held, LATCH_RBAC_NOTHING, out, cap) != LATCH_RBAC_OK)
        return NULL;
    return out;
}

/* The scopes of a userinfo access token: the grant's OpenID Connect scopes, without resource or
 * organization permissions. */
static const char *person_scopes(struct issue *is)
{
    struct latch_arena *a = is->tr->req->arena;
    size_t cap = strlen(is->scope) + 1, len = 0;
    char *out = latch_arena_alloc(a, cap);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (const char *p = is->scope; *p;) {
        size_t n = strcspn(p, " ");
        for (const char *const *k = latch_user_scopes; n > 0 && *k; k++)
            if (strlen(*k) == n && memcmp(*k, p, n) == 0) {
                len += (size_t)snprintf(out + len, cap - len, "%s%.*s", len ? " " : "", (int)n, p);
                break;
            }
        p += n;
        while (*p == ' ')
            p++;
    }
    return out;
}

static char *sign_json(struct latch_tenant_state *st, struct latch_json *j, const char *extra)
{
    size_t len = 0;
    char *payload = latch_json_take(j, &len);
    char *token = NULL;
    struct latch_error err;
    if (payload == NULL ||
        latch_jose_sign(st->keys[st->current].key, extra, payload, len, &token, &err) != LATCH_OK)
        token = NULL;
    free(payload);
    return token;
}

static void answer(struct issue *is)
{
    struct latch_token_request *tr = is->tr;
    latch_http_add_header(tr->req, "Pragma", "no-cache");
    latch_http_respond_json(tr->req, 200, is->body, is->body_len);
    latch_wipe_free(is->body, is->body_len); /* tokens: wiped at once, never logged */
    release(tr);
}

static void refresh_stored(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct issue *is = arg;
    if (err != NULL) {
        latch_http_log_error(is->tr->req, "cannot store a refresh token", err);
        latch_wipe_free(is->body, is->body_len);
        latch_http_respond_errorf(is->tr->req, 503, "service_unavailable",
                                  "Please try again shortly.");
        release(is->tr);
        return;
    }
    answer(is);
}

static void tokens_issue(struct issue *is)
{
    struct latch_token_request *tr = is->tr;
    struct latch_tenant_state *st = tr->state;
    struct latch_client *client = tr->client;
    struct latch_request *req = tr->req;
    if (st->current < 0) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "No signing key available.");
        release(tr);
        return;
    }
    const char *alg = latch_jose_alg_name(st->keys[st->current].key->alg);
    time_t now = time(NULL);

    /* Access token: for the resource (in the organization's context when there is one), for
     * the organization, or for userinfo. */
    const struct latch_resource *res =
        is->resource ? latch_tenant_resource(st, is->resource) : NULL;
    const char *org = is->organization_id;
    const char *requested = is->requested ? is->requested : is->scope;
    long at_ttl = res ? res->ttl : client->access_token_ttl;
    const char *at_scope, *aud;
    if (res != NULL) {
        at_scope = decide(is, requested, org ? is->org_held : is->resource_scopes);
        aud = res->indicator;
    } else if (org != NULL) {
        at_scope = decide(is, requested, is->org_held);
        aud = latch_arena_printf(req->arena, LATCH_ORGANIZATION_URN "%s", org);
    } else {
        at_scope = person_scopes(is);
        aud = latch_arena_printf(req->arena, "%s/me", st->issuer);
    }
    if (at_scope == NULL || aud == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        release(tr);
        return;
    }
    struct latch_oidc_access at = {
        .sub = is->user_id,
        .aud = aud,
        .scope = at_scope,
        .ttl = at_ttl,
        .organization_id = org,
        .sid = is->sid,
        .grant_id = is->grant_id,
        .iat = now,
    };
    char *access = NULL;
    struct latch_error err;
    if (latch_oidc_access_token(tr, &at, &access, &err) != LATCH_OK) {
        latch_http_respond_error(req, &err);
        release(tr);
        return;
    }
    struct latch_json j;

    /* ID token. */
    char at_hash[48] = "";
    char *id_token = NULL;
    if (latch_scope_has(is->scope, "openid") &&
        latch_jose_at_hash(alg, access, at_hash) == LATCH_OK) {
        latch_json_init(&j);
        latch_json_begin_object(&j);
        latch_json_key(&j, "iss");
        latch_json_string(&j, st->issuer);
        latch_json_key(&j, "sub");
        latch_json_string(&j, is->user_id);
        latch_json_key(&j, "aud");
        latch_json_string(&j, client->id);
        latch_json_key(&j, "exp");
        latch_json_int(&j, now + client->id_token_ttl);
        latch_json_key(&j, "iat");
        latch_json_int(&j, now);
        latch_json_key(&j, "auth_time");
        latch_json_int(&j, is->auth_time);
        if (is->nonce != NULL) {
            latch_json_key(&j, "nonce");
            latch_json_string(&j, is->nonce);
        }
        latch_json_key(&j, "at_hash");
        latch_json_string(&j, at_hash);
        if (is->amr != NULL && is->amr[0] != '\0') {
            /* RFC 8176 via OIDC Core §2: how the person signed in (schema/0012). */
            latch_json_key(&j, "amr");
            latch_json_begin_array(&j);
            for (const char *p = is->amr; *p;) {
                size_t len = strcspn(p, " ");
                if (len > 0)
                    latch_json_string_n(&j, p, len);
                p += len;
                while (*p == ' ')
                    p++;
            }
            latch_json_end_array(&j);
        }
        if (is->sid != NULL) {
            latch_json_key(&j, "sid");
            latch_json_string(&j, is->sid);
        }
        latch_claims_write(&j, &is->user, is->scope, LATCH_CLAIMS_ID_TOKEN);
        latch_json_end_object(&j);
        id_token = sign_json(st, &j, NULL);
    }
    if (latch_scope_has(is->scope, "openid") && id_token == NULL) {
        latch_wipe_free_str(access);
        latch_http_log(req, LATCH_LOG_ERROR, "cannot sign an ID token");
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        release(tr);
        return;
    }

    latch_oidc_token_body_begin(&j, access, at_ttl, at_scope);
    if (id_token != NULL) {
        latch_json_key(&j, "id_token");
        latch_json_string(&j, id_token);
    }
    if (is->refresh_token != NULL) {
        latch_json_key(&j, "refresh_token");
        latch_json_string(&j, is->refresh_token);
    }
    latch_json_end_object(&j);
    latch_wipe_free_str(access);
    latch_wipe_free_str(id_token);
    is->body = latch_json_take(&j, &is->body_len);
    if (is->body == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        release(tr);
        return;
    }
    if (!is->store_refresh) {
        answer(is);
        return;
    }
    char hash[LATCH_TOKEN_HASH_TEXT], family[22], auth_time[24], ttl[24];
    if (latch_jose_token_hash(is->refresh_token, hash) != LATCH_OK ||
        latch_jose_random_id(family, 21) != LATCH_OK) {
        latch_wipe_free(is->body, is->body_len);
        latch_http_respond_errorf(req, 503, "service_unavailable", "No randomness available.");
        release(tr);
        return;
    }
    snprintf(auth_time, sizeof(auth_time), "%lld", (long long)is->auth_time);
    snprintf(ttl, sizeof(ttl), "%ld", client->refresh_token_ttl);
    const char *p[12] = {st->id,  hash,      family,       is->grant_id, client->id, is->user_id,
                         is->sid, is->scope, is->resource, auth_time,    ttl,        is->amr};
    latch_store_query(latch_loop_store(req->loop), st->id, &insert_refresh, p, refresh_stored, is);
}

static bool wants_refresh(const struct latch_client *client, const char *scope)
{
    return latch_scope_has(scope, "offline_access") ||
           (client->always_issue_refresh_token && strcmp(client->type, "Traditional") == 0);
}

/* ---- authorization_code ---- */

struct code_grant {
    struct issue is;
    const char *redirect_uri;
    const char *verifier;
};

static void code_used(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    struct code_grant *cg = arg;
    struct latch_token_request *tr = cg->is.tr;
    struct latch_arena *a = tr->req->arena;
    if (err != NULL) {
        latch_http_log_error(tr->req, "code lookup failed", err);
        latch_http_respond_errorf(tr->req, 503, "service_unavailable", "Please try again shortly.");
        release(tr);
        return;
    }
    const struct latch_store_result *c = results[0];
    const char *status = latch_store_result_value(c, 0, 0);
    if (strcmp(status, "ok") != 0) {
        grant_error(tr, "invalid_grant",
                    strcmp(status, "reused") == 0    ? "The authorization code was already used."
                    : strcmp(status, "expired") == 0 ? "The authorization code has expired."
                                                     : "The authorization code is invalid.");
        return;
    }
    if (strcmp(latch_store_result_value(c, 0, 2), tr->client->id) != 0) {
        grant_error(tr, "invalid_grant", "The authorization code was issued to another client.");
        return;
    }
    if (cg->redirect_uri == NULL || strcmp(latch_store_result_value(c, 0, 5), cg->redirect_uri)) {
        grant_error(tr, "invalid_grant", "redirect_uri does not match the authorization request.");
        return;
    }
    const char *challenge = col(c, 9, a);
    if (challenge != NULL) {
        if (cg->verifier == NULL || !latch_jose_pkce_s256_ok(cg->verifier, challenge)) {
            grant_error(tr, "invalid_grant", "PKCE verification failed.");
            return;
        }
    } else if (cg->verifier != NULL) {
        grant_error(tr, "invalid_grant", "code_verifier without a code_challenge.");
        return;
    }
    struct issue *is = &cg->is;
    if (!read_user(is, results[1])) {
        grant_error(tr, "invalid_grant", "The user cannot sign in.");
        return;
    }
    is->grant_id = col(c, 1, a);
    is->user_id = col(c, 3, a);
    latch_audit_note(tr->req, LATCH_AUDIT_USER_ID, is->user_id);
    is->sid = col(c, 4, a);
    is->scope = col(c, 6, a);
    is->resource = col(c, 7, a);
    is->nonce = col(c, 8, a);
    is->auth_time = strtoll(latch_store_result_value(c, 0, 11), NULL, 10);
    is->amr = col(results[1], COL_CODE_AMR, a);
    const char *resource = latch_oidc_resource_param(&tr->form);
    if (resource != NULL && (is->resource == NULL || strcmp(resource, is->resource) != 0)) {
        grant_error(tr, "invalid_target", "The resource was not part of the authorization.");
        return;
    }
    if (wants_refresh(tr->client, is->scope)) {
        char *rt = latch_arena_alloc(a, LATCH_CLIENT_SECRET_LEN + 1);
        if (rt == NULL || latch_jose_token_new(rt) != LATCH_OK) {
            grant_error(tr, "server_error", "No randomness available.");
            return;
        }
        is->refresh_token = rt;
        is->store_refresh = true;
    }
    tokens_issue(is);
}

void latch_oidc_grant_authorization_code(struct latch_token_request *tr)
{
    struct latch_request *req = tr->req;
    const char *code = latch_form_get(&tr->form, "code");
    if (code == NULL || code[0] == '\0' || strlen(code) > 128) {
        grant_error(tr, "invalid_request", "Missing parameter `code`.");
        return;
    }
    struct code_grant *cg = latch_arena_calloc(req->arena, 1, sizeof(*cg));
    char hash[LATCH_TOKEN_HASH_TEXT];
    if (cg == NULL || latch_jose_token_hash(code, hash) != LATCH_OK) {
        grant_error(tr, "server_error", "Out of memory.");
        return;
    }
    cg->is.tr = tr;
    cg->redirect_uri = latch_form_get(&tr->form, "redirect_uri");
    cg->verifier = latch_form_get(&tr->form, "code_verifier");
    const char *resource = latch_oidc_resource_param(&tr->form);
    struct latch_store_op ops[2] = {
        {.stmt = &use_code, .params = {tr->state->id, hash}},
        {.stmt = &code_user, .params = {tr->state->id, hash, resource}},
    };
    latch_store_exec(latch_loop_store(req->loop), tr->state->id, ops, 2, code_used, cg);
}

/* ---- refresh_token ---- */

struct refresh_grant {
    struct issue is;
    const char *organization_id;
    char new_token[LATCH_CLIENT_SECRET_LEN + 1];
    bool rotated;
};

static void refresh_used(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct refresh_grant *rg = arg;
    struct latch_token_request *tr = rg->is.tr;
    struct latch_arena *a = tr->req->arena;
    if (err != NULL) {
        latch_http_log_error(tr->req, "refresh token lookup failed", err);
        latch_http_respond_errorf(tr->req, 503, "service_unavailable", "Please try again shortly.");
        release(tr);
        return;
    }
    const struct latch_store_result *t = results[0];
    const struct latch_store_result *u = results[1];
    if (latch_store_result_rows(t) == 0) {
        /* use_refresh_org refused the organization before using the token. */
        if (latch_store_result_rows(u) == 1 &&
            strcmp(latch_store_result_value(u, 0, COL_HAS_ORG_SCOPE), "t") != 0) {
            latch_http_respond_oauth_error(tr->req, 403, "insufficient_scope",
                                           "The refresh token lacks the " LATCH_SCOPE_ORGANIZATIONS
                                           " scope.");
            release(tr);
        } else if (n > 2 && latch_store_result_rows(results[2]) == 1 &&
                   strcmp(latch_store_result_value(results[2], 0, 0), "t") == 0) {
            grant_error(tr, "invalid_grant",
                        "The organization requires multi-factor authentication; the user has "
                        "not set it up. Sign in again to enrol.");
        } else {
            grant_error(tr, "invalid_grant", "The user is not a member of the organization.");
        }
        return;
    }
    const char *status = latch_store_result_value(t, 0, 0);
    if (strcmp(status, "ok") != 0) {
        if (strcmp(status, "reused") == 0)
            latch_http_log(tr->req, LATCH_LOG_WARN,
                           "refresh token replayed; its family is revoked");
        grant_error(tr, "invalid_grant", "The refresh token is invalid, expired or revoked.");
        return;
    }
    struct issue *is = &rg->is;
    if (!read_user(is, results[1])) {
        grant_error(tr, "invalid_grant", "The user cannot sign in.");
        return;
    }
    is->grant_id = col(t, 1, a);
    is->user_id = col(t, 2, a);
    latch_audit_note(tr->req, LATCH_AUDIT_USER_ID, is->user_id);
    is->sid = col(t, 3, a);
    is->scope = col(t, 4, a);
    is->resource = col(t, 5, a);
    is->auth_time = strtoll(latch_store_result_value(t, 0, 6), NULL, 10);
    is->amr = col(results[1], COL_REFRESH_AMR, a);
    const char *resource = latch_oidc_resource_param(&tr->form);
    if (resource != NULL)
        is->resource = latch_arena_strdup(a, resource); /* registered: checked before */
    const char *scope = latch_form_get(&tr->form, "scope");
    if (rg->organization_id != NULL) {
        /* Logto RFC 0001: latch_refresh_use_organization checked that the grant has the
         * organizations scope and that the user is a member before it used the token, and read
         * what the member's organization roles grant (for the resource when there is one). */
        is->organization_id = rg->organization_id;
        is->org_held = col(t, COL_ORG_HELD, a);
        if (resource == NULL)
            is->resource = NULL; /* the organization token, not the grant's resource */
    }
    if (scope != NULL && (is->resource != NULL || is->organization_id != NULL)) {
        /* Permissions may be asked for at the token request (RFC 0001 §7.2): they are granted
         * only as far as the user's roles hold them. */
        is->requested = scope;
    } else if (scope != NULL) {
        /* A narrower scope may be asked for (RFC 6749 §6), never a wider one. */
        for (const char *p = scope; *p;) {
            size_t len = strcspn(p, " ");
            char *name = latch_arena_strndup(a, p, len);
            if (len > 0 && name != NULL && !latch_scope_has(is->scope, name)) {
                grant_error(tr, "invalid_scope", "The scope exceeds the original grant.");
                return;
            }
            p += len;
            while (*p == ' ')
                p++;
        }
        is->scope = latch_arena_strdup(a, scope);
    }
    is->refresh_token = rg->rotated ? rg->new_token : latch_form_get(&tr->form, "refresh_token");
    tokens_issue(is);
}

void latch_oidc_grant_refresh_token(struct latch_token_request *tr)
{
    struct latch_request *req = tr->req;
    const char *token = latch_form_get(&tr->form, "refresh_token");
    if (token == NULL || token[0] == '\0' || strlen(token) > 128) {
        grant_error(tr, "invalid_request", "Missing parameter `refresh_token`.");
        return;
    }
    struct refresh_grant *rg = latch_arena_calloc(req->arena, 1, sizeof(*rg));
    char hash[LATCH_TOKEN_HASH_TEXT], new_hash[LATCH_TOKEN_HASH_TEXT], ttl[24];
    if (rg == NULL || latch_jose_token_hash(token, hash) != LATCH_OK ||
        latch_jose_token_new(rg->new_token) != LATCH_OK ||
        latch_jose_token_hash(rg->new_token, new_hash) != LATCH_OK) {
        grant_error(tr, "server_error", "Out of memory.");
        return;
    }
    rg->is.tr = tr;
    rg->rotated = tr->client->rotate_refresh_token || tr->client->is_public;
    snprintf(ttl, sizeof(ttl), "%ld", tr->client->refresh_token_ttl);
    /* Everything that can be refused without the database is, before the token is used (and,
     * with rotation, consumed). */
    const char *resource = latch_oidc_resource_param(&tr->form);
    if (resource != NULL && latch_tenant_resource(tr->state, resource) == NULL) {
        grant_error(tr, "invalid_target", "The resource indicator is not registered.");
        return;
    }
    enum latch_rbac_result checked = latch_rbac_check(latch_form_get(&tr->form, "scope"));
    if (checked != LATCH_RBAC_OK) {
        grant_error(tr, "invalid_scope", latch_rbac_describe(checked));
        return;
    }
    const char *org = latch_form_get(&tr->form, "organization_id");
    if (org != NULL && !latch_oidc_organization_id_ok(org)) {
        grant_error(tr, "invalid_grant", "The user is not a member of the organization.");
        return;
    }
    rg->organization_id = org;
    struct latch_store_op ops[3] = {
        {.stmt = !org       ? &use_refresh
                 : resource ? &use_refresh_org_resource
                            : &use_refresh_org,
         .params = {tr->state->id, hash, tr->client->id, new_hash, rg->rotated ? "true" : "false",
                    ttl, org, resource}},
        {.stmt = &refresh_user, .params = {tr->state->id, hash, resource}},
        {.stmt = &refresh_org_mfa, .params = {tr->state->id, hash, org}},
    };
    latch_store_exec(latch_loop_store(req->loop), tr->state->id, ops, org ? 3 : 2, refresh_used,
                     rg);
}
