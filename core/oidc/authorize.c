/*
 * The authorization endpoint, <issuer>/auth (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636,
 * RFC 9207), and its continuation <issuer>/auth/resume after the hosted sign-in.
 *
 * client_id and redirect_uri are checked first; while either is wrong the answer is an HTML
 * page, never a redirect. Every later error goes back to the (now trusted) redirect URI with
 * error, error_description, state and iss. A live session (cookie latch_session_<tenant>)
 * answers at once with a code (single sign-on); otherwise the request is stored as an
 * interaction in PostgreSQL and the browser goes to the sign-in page, so every step may land on
 * another node.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience.h"
#include "http/cookie.h"
#include "jose/secret.h"
#include "oidc/claims.h"
#include "oidc/oidc_internal.h"
#include "rbac/scopes.h"
#include "util/html.h"
#include "util/json.h"
#include "util/log.h"
#include "util/percent.h"
#include "util/utf8.h"
#include <yajl/yajl_tree.h>

#define MAX_STATE      2048
#define MAX_NONCE      512
#define MAX_HINT       256
#define MAX_SCOPE_TEXT 4096

/* ---- shared helpers ---- */

char *latch_oidc_urlencode(struct latch_request *req, const char *s)
{
    return latch_percent_encode(req->arena, s);
}

void latch_oidc_error_page(struct latch_request *req, int status, const char *title,
                           const char *message)
{
    const char *t = latch_html_escape(req->arena, title);
    const char *m = latch_html_escape(req->arena, message);
    struct latch_json b;
    latch_json_init(&b);
    static const char head[] = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                               "<meta name=\"viewport\" content=\"width=device-width\">"
                               "<title>";
    /* latch_json is used as a plain growing buffer here (raw appends). */
    if (t == NULL || m == NULL) {
        b.failed = true; /* out of memory: the plain-text answer below */
    } else {
        latch_json_raw(&b, head, sizeof(head) - 1);
        const char *const rest[] = {t, "</title></head><body><main><h1>",
                                    t, "</h1><p id=\"error\" role=\"alert\">",
                                    m, "</p></main></body></html>"};
        for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
            b.comma = false;
            latch_json_raw(&b, rest[i], strlen(rest[i]));
        }
    }
    size_t len = 0;
    char *page = latch_json_take(&b, &len);
    latch_http_add_header(req, "Content-Security-Policy",
                          "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    latch_http_add_header(req, "Referrer-Policy", "no-referrer");
    latch_http_add_header(req, "X-Frame-Options", "DENY");
    if (page == NULL) {
        latch_http_respond(req, status, "text/plain; charset=utf-8", message, strlen(message));
        return;
    }
    latch_http_respond(req, status, "text/html; charset=utf-8", page, len);
    free(page);
}

/* latch_oidc_params(); with keep_invalid, parameters that are not UTF-8 are left for the caller
 * to refuse (form->invalid set, true returned), so that the authorization endpoint can decide
 * between its error page and a redirect to the client. */
static bool parse_params(struct latch_request *req, struct latch_form *form, bool page_errors,
                         bool keep_invalid)
{
    struct latch_error err;
    const char *text = req->query;
    size_t len = strlen(req->query);
    if (req->method == LATCH_HTTP_POST) {
        const char *ct = latch_http_header_get(req, "content-type");
        if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
            if (page_errors)
                latch_oidc_error_page(req, 400, "Invalid request",
                                      "The body must be application/x-www-form-urlencoded.");
            else
                latch_http_respond_oauth_error(
                    req, 400, "invalid_request",
                    "The body must be application/x-www-form-urlencoded.");
            return false;
        }
        text = req->body;
        len = req->body_len;
    }
    form->invalid = NULL;
    if (memchr(text, '\0', len) != NULL ||
        latch_form_parse(form, req->arena, text, len, &err) != LATCH_OK) {
        if (keep_invalid && form->invalid != NULL)
            return true;
        const char *why = form->invalid ? err.message : "The parameters are malformed.";
        if (page_errors)
            latch_oidc_error_page(req, 400, "Invalid request", why);
        else
            latch_http_respond_oauth_error(req, 400, "invalid_request", why);
        return false;
    }
    return true;
}

bool latch_oidc_params(struct latch_request *req, struct latch_form *form, bool page_errors)
{
    return parse_params(req, form, page_errors, false);
}

/* ---- redirects back to the client ---- */

struct auth_ctx {
    struct latch_request *req;
    struct latch_form form;
    struct latch_tenant_state *state;
    struct latch_client *client;
    const char *redirect_uri;
    const char *state_param;
    const char *scope;
    const char *prompt;
    const char *resource;
    long max_age; /* -1: none */
};

static void redirect_to(struct latch_request *req, const char *location)
{
    latch_http_add_header(req, "Location", location);
    latch_http_respond(req, 303, NULL, NULL, 0);
}

/* redirect_uri + code or error + state + iss (RFC 9207). */
static void redirect_result(struct latch_request *req, const char *redirect_uri, const char *issuer,
                            const char *state, const char *k1, const char *v1, const char *k2,
                            const char *v2)
{
    const char *sep = strchr(redirect_uri, '?') ? "&" : "?";
    char *url = latch_arena_printf(req->arena, "%s%s%s=%s", redirect_uri, sep, k1,
                                   latch_oidc_urlencode(req, v1));
    if (url != NULL && k2 != NULL)
        url = latch_arena_printf(req->arena, "%s&%s=%s", url, k2, latch_oidc_urlencode(req, v2));
    if (url != NULL && state != NULL)
        url = latch_arena_printf(req->arena, "%s&state=%s", url, latch_oidc_urlencode(req, state));
    if (url != NULL)
        url = latch_arena_printf(req->arena, "%s&iss=%s", url, latch_oidc_urlencode(req, issuer));
    if (url == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    redirect_to(req, url);
}

static void auth_release(struct auth_ctx *a)
{
    latch_client_unref(a->client);
    latch_tenant_state_unref(a->state);
    a->client = NULL;
    a->state = NULL;
}

static void auth_error(struct auth_ctx *a, const char *error, const char *description)
{
    redirect_result(a->req, a->redirect_uri, a->state->issuer, a->state_param, "error", error,
                    "error_description", description);
    auth_release(a);
}

/* ---- codes ---- */

static const struct latch_stmt insert_code = {
    .name = "auth_insert_code",
    .sql = "INSERT INTO authorization_codes (tenant_id, code_hash, grant_id, client_id, user_id, "
           "sid, redirect_uri, scope, resource, nonce, code_challenge, code_challenge_method, "
           "auth_time, expires_at, amr) VALUES ($1, $2::bytea, $3, $4, $5, $6, $7, $8, $9, $10, "
           "$11, $12, $13::timestamptz, now() + interval '60 seconds', nullif($14, ''))",
    .nparams = 14,
};

struct code_ctx {
    struct latch_request *req;
    char *redirect_uri;
    char *issuer;
    char *state;
    char code[LATCH_CLIENT_SECRET_LEN + 1];
    const char *session_token; /* set a session cookie with the answer (resume) */
};

static void code_stored(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct code_ctx *cc = arg;
    struct latch_request *req = cc->req;
    if (err != NULL) {
        latch_http_log_error(req, "cannot store an authorization code", err);
        latch_oidc_error_page(req, 503, "Service unavailable", "Please try again shortly.");
        return;
    }
    const struct latch_config *cfg = latch_loop_config(req->loop);
    if (cc->session_token != NULL) {
        struct latch_cookie session = {
            .name = latch_http_tenant_cookie_name(req, "latch_session"),
            .value = cc->session_token,
            .path = latch_http_tenant_cookie_path(req),
            .max_age = LATCH_SESSION_TTL,
            .secure = cfg->public_https,
            .http_only = true,
            .same_site = "Lax",
        };
        latch_http_set_cookie(req, &session);
        struct latch_cookie gone = session;
        gone.name = latch_http_tenant_cookie_name(req, "latch_interaction");
        gone.value = "";
        gone.max_age = 0;
        latch_http_set_cookie(req, &gone);
    }
    redirect_result(req, cc->redirect_uri, cc->issuer, cc->state, "code", cc->code, NULL, NULL);
}

/*
 * Issues a code for cr and redirects with it. ops_before (may be NULL, at most 6) run in the
 * same transaction first (resume: create the session, drop the interaction).
 */
static void issue_code(struct latch_request *req, const struct latch_tenant_state *st,
                       const struct latch_code_request *cr, const struct latch_store_op *before,
                       int nbefore, const char *session_token)
{
    struct code_ctx *cc = latch_arena_calloc(req->arena, 1, sizeof(*cc));
    char hash[LATCH_TOKEN_HASH_TEXT], grant[22];
    if (cc == NULL || latch_jose_token_new(cc->code) != LATCH_OK ||
        latch_jose_token_hash(cc->code, hash) != LATCH_OK ||
        latch_jose_random_id(grant, 21) != LATCH_OK) {
        latch_oidc_error_page(req, 503, "Service unavailable", "Please try again shortly.");
        return;
    }
    cc->req = req;
    cc->redirect_uri = latch_arena_strdup(req->arena, cr->redirect_uri);
    cc->issuer = latch_arena_strdup(req->arena, st->issuer);
    cc->state = cr->state ? latch_arena_strdup(req->arena, cr->state) : NULL;
    cc->session_token = session_token;
    struct latch_store_op ops[LATCH_STORE_MAX_OPS];
    int n = 0;
    for (int i = 0; i < nbefore; i++)
        ops[n++] = before[i];
    ops[n++] = (struct latch_store_op){
        .stmt = &insert_code,
        .params = {st->id, hash, grant, cr->client_id, cr->user_id, cr->sid, cr->redirect_uri,
                   cr->scope, cr->resource, cr->nonce, cr->code_challenge,
                   cr->code_challenge_method, cr->auth_time, cr->amr}};
    latch_store_exec(latch_loop_store(req->loop), st->id, ops, n, code_stored, cc);
}

/* ---- sessions ---- */

static const struct latch_stmt find_session = {
    .name = "auth_find_session",
    .sql = "SELECT s.sid, s.user_id, s.auth_time::text, "
           "extract(epoch FROM now() - s.auth_time)::bigint, s.amr "
           "FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id "
           "WHERE s.tenant_id = $1 AND s.id_hash = $2::bytea AND s.ended_at IS NULL "
           "AND s.expires_at > now() AND NOT u.is_suspended",
    .nparams = 2,
};

static const struct latch_stmt insert_interaction = {
    .name = "auth_insert_interaction",
    .sql = "INSERT INTO interactions (tenant_id, id_hash, params, csrf_token, expires_at) "
           "VALUES ($1, $2::bytea, $3::jsonb, $4, now() + interval '1 hour')",
    .nparams = 4,
};

static void start_interaction(struct auth_ctx *a);

static void session_checked(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct auth_ctx *a = arg;
    if (err != NULL) {
        latch_http_log_error(a->req, "session lookup failed", err);
        auth_error(a, "server_error", "The session could not be read; try again.");
        return;
    }
    const struct latch_store_result *r = results[0];
    bool have = latch_store_result_rows(r) == 1;
    bool login = a->prompt != NULL && latch_scope_has(a->prompt, "login");
    if (have && a->max_age >= 0 && strtol(latch_store_result_value(r, 0, 3), NULL, 10) > a->max_age)
        have = false; /* the sign-in is older than the client accepts */
    if (have && !login) {
        struct latch_code_request cr = {
            .client_id = a->client->id,
            .redirect_uri = a->redirect_uri,
            .scope = a->scope,
            .resource = a->resource,
            .nonce = latch_form_get(&a->form, "nonce"),
            .code_challenge = latch_form_get(&a->form, "code_challenge"),
            .code_challenge_method = latch_form_get(&a->form, "code_challenge_method"),
            .state = a->state_param,
            .user_id = latch_arena_strdup(a->req->arena, latch_store_result_value(r, 0, 1)),
            .sid = latch_arena_strdup(a->req->arena, latch_store_result_value(r, 0, 0)),
            .auth_time = latch_arena_strdup(a->req->arena, latch_store_result_value(r, 0, 2)),
            .amr = latch_arena_strdup(a->req->arena, latch_store_result_value(r, 0, 4)),
        };
        issue_code(a->req, a->state, &cr, NULL, 0, NULL);
        auth_release(a);
        return;
    }
    if (a->prompt != NULL && latch_scope_has(a->prompt, "none")) {
        auth_error(a, "login_required", "The user is not signed in.");
        return;
    }
    start_interaction(a);
}

static void interaction_stored(struct latch_store_result *const *results, int n,
                               const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_http_log_error(req, "cannot store an interaction", err);
        latch_oidc_error_page(req, 503, "Service unavailable", "Please try again shortly.");
        return;
    }
    /* the cookie and Location were prepared before the insert */
    latch_http_respond(req, 303, NULL, NULL, 0);
}

static void param(struct latch_json *j, const char *key, const char *value)
{
    if (value == NULL)
        return;
    latch_json_key(j, key);
    latch_json_string(j, value);
}

static void start_interaction(struct auth_ctx *a)
{
    struct latch_request *req = a->req;
    const struct latch_config *cfg = latch_loop_config(req->loop);
    char token[LATCH_CLIENT_SECRET_LEN + 1], hash[LATCH_TOKEN_HASH_TEXT], csrf[33];
    if (latch_jose_token_new(token) != LATCH_OK || latch_jose_token_hash(token, hash) != LATCH_OK ||
        latch_jose_random_id(csrf, 32) != LATCH_OK) {
        auth_error(a, "server_error", "No randomness available.");
        return;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    param(&j, "client_id", a->client->id);
    param(&j, "client_name", a->client->name);
    param(&j, "redirect_uri", a->redirect_uri);
    param(&j, "scope", a->scope);
    param(&j, "state", a->state_param);
    param(&j, "resource", a->resource);
    static const char *const copied[] = {
        "nonce",      "code_challenge", "code_challenge_method", "prompt",
        "login_hint", "ui_locales",     "first_screen",          NULL};
    for (const char *const *k = copied; *k; k++)
        param(&j, *k, latch_form_get(&a->form, *k));
    latch_json_end_object(&j);
    size_t len = 0;
    char *params = latch_json_take(&j, &len);
    if (params == NULL) {
        auth_error(a, "server_error", "Out of memory.");
        return;
    }
    const char *first = latch_form_get(&a->form, "first_screen");
    bool reg = first != NULL && strcmp(first, "register") == 0;
    latch_http_add_header(
        req, "Location",
        latch_arena_printf(req->arena, "%s/%s", a->state->endpoint, reg ? "register" : "sign-in"));
    struct latch_cookie cookie = {
        .name = latch_http_tenant_cookie_name(req, "latch_interaction"),
        .value = latch_arena_strdup(req->arena, token),
        .path = latch_http_tenant_cookie_path(req),
        .max_age = LATCH_INTERACTION_TTL,
        .secure = cfg->public_https,
        .http_only = true,
        .same_site = "Lax",
    };
    latch_http_set_cookie(req, &cookie);
    latch_audit_track(req, "Interaction.Create");
    latch_audit_note(req, LATCH_AUDIT_APPLICATION_ID, a->client->id);
    const char *p[4] = {a->state->id, hash, params, csrf};
    latch_store_query(latch_loop_store(req->loop), a->state->id, &insert_interaction, p,
                      interaction_stored, req);
    free(params);
    auth_release(a);
}

/* ---- validation ---- */

static bool pkce_challenge_ok(const char *c)
{
    size_t n = strlen(c);
    if (n < 43 || n > 128)
        return false;
    for (const char *p = c; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~'))
            return false;
    return true;
}

/* The scopes of the grant: every distinct scope asked for, Latch's OIDC scopes and resource or
 * organization scopes alike (a token for a resource later gets only those the user's roles
 * hold). NULL when out of memory; the list has passed latch_rbac_check(). */
static char *grant_scopes(struct latch_request *req, const char *scope)
{
    size_t cap = strlen(scope) + 1;
    char *out = latch_arena_alloc(req->arena, cap);
    if (out == NULL ||
        latch_rbac_grant(scope, scope, LATCH_RBAC_NOTHING, out, cap) != LATCH_RBAC_OK)
        return NULL;
    return out;
}

static void got_client(struct latch_client *client, const struct latch_error *err, void *arg)
{
    struct auth_ctx *a = arg;
    struct latch_request *req = a->req;
    if (err != NULL) {
        latch_tenant_state_unref(a->state);
        latch_http_respond_error(req, err);
        return;
    }
    a->client = client;
    if (!client->exists || strcmp(client->type, "MachineToMachine") == 0) {
        auth_release(a);
        latch_oidc_error_page(req, 400, "Unknown application",
                              "The application (client_id) is not registered here.");
        return;
    }
    const char *redirect_uri = latch_form_get(&a->form, "redirect_uri");
    if (redirect_uri == NULL || !latch_utf8_valid_str(redirect_uri) ||
        !latch_client_redirect_uri_ok(client, redirect_uri)) {
        auth_release(a);
        latch_oidc_error_page(req, 400, "Invalid redirect URI",
                              "The redirect_uri is not registered for this application.");
        return;
    }
    a->redirect_uri = redirect_uri;
    a->state_param = latch_form_get(&a->form, "state");
    if (a->form.invalid != NULL) {
        /* A state that is not UTF-8 cannot go back; any other such parameter is an error the
         * client hears about at its (trusted) redirect URI. */
        if (a->state_param != NULL && !latch_utf8_valid_str(a->state_param))
            a->state_param = NULL;
        char *msg = latch_arena_printf(req->arena, "Parameter `%.64s` is not valid UTF-8.",
                                       a->form.invalid);
        auth_error(a, "invalid_request", msg ? msg : "A parameter is not valid UTF-8.");
        return;
    }

    /* From here on, errors go back to the client. */
    static const char *const repeatable[] = {"resource", NULL};
    const char *dup = latch_form_repeated(&a->form, repeatable);
    if (dup != NULL) {
        if (strcmp(dup, "state") == 0)
            a->state_param = NULL;
        auth_error(a, "invalid_request", "A parameter is repeated.");
        return;
    }
    if (a->state_param != NULL && strlen(a->state_param) > MAX_STATE) {
        a->state_param = NULL;
        auth_error(a, "invalid_request", "The state parameter is too long.");
        return;
    }
    const char *response_type = latch_form_get(&a->form, "response_type");
    if (response_type == NULL) {
        auth_error(a, "invalid_request", "Missing parameter `response_type`.");
        return;
    }
    if (strcmp(response_type, "code") != 0) {
        auth_error(a, "unsupported_response_type", "Only response_type=code is supported.");
        return;
    }
    const char *response_mode = latch_form_get(&a->form, "response_mode");
    if (response_mode != NULL && strcmp(response_mode, "query") != 0) {
        auth_error(a, "invalid_request", "Only response_mode=query is supported.");
        return;
    }
    const char *scope = latch_form_get(&a->form, "scope");
    if (scope == NULL || !latch_scope_has(scope, "openid")) {
        auth_error(a, "invalid_scope", "The openid scope is required.");
        return;
    }
    enum latch_rbac_result checked =
        strlen(scope) > MAX_SCOPE_TEXT ? LATCH_RBAC_TOO_LONG : latch_rbac_check(scope);
    if (checked != LATCH_RBAC_OK) {
        auth_error(a, "invalid_scope", latch_rbac_describe(checked));
        return;
    }
    a->scope = grant_scopes(req, scope);
    if (a->scope == NULL) {
        auth_error(a, "server_error", "Out of memory.");
        return;
    }
    const char *nonce = latch_form_get(&a->form, "nonce");
    const char *hint = latch_form_get(&a->form, "login_hint");
    const char *locales = latch_form_get(&a->form, "ui_locales");
    if ((nonce && strlen(nonce) > MAX_NONCE) || (hint && strlen(hint) > MAX_HINT) ||
        (locales && strlen(locales) > MAX_HINT)) {
        auth_error(a, "invalid_request", "A parameter is too long.");
        return;
    }
    const char *challenge = latch_form_get(&a->form, "code_challenge");
    const char *method = latch_form_get(&a->form, "code_challenge_method");
    if (challenge == NULL && client->is_public) {
        auth_error(a, "invalid_request", "PKCE (code_challenge with S256) is required.");
        return;
    }
    if (challenge != NULL &&
        (method == NULL || strcmp(method, "S256") != 0 || !pkce_challenge_ok(challenge))) {
        auth_error(a, "invalid_request", "Only code_challenge_method=S256 is supported.");
        return;
    }
    if (challenge == NULL && method != NULL) {
        auth_error(a, "invalid_request", "code_challenge_method without code_challenge.");
        return;
    }
    a->prompt = latch_form_get(&a->form, "prompt");
    if (a->prompt != NULL) {
        static const char *const prompts[] = {"none", "login", "consent", "select_account", NULL};
        for (const char *p = a->prompt; *p;) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            bool known = false;
            for (const char *const *k = prompts; *k && n; k++)
                known |= strlen(*k) == n && strncmp(*k, p, n) == 0;
            if (n > 0 && !known) {
                auth_error(a, "invalid_request", "Unsupported prompt value.");
                return;
            }
            p += n;
        }
        if (latch_scope_has(a->prompt, "none") && strcmp(a->prompt, "none") != 0) {
            auth_error(a, "invalid_request", "prompt=none cannot be combined with other values.");
            return;
        }
    }
    a->max_age = -1;
    const char *max_age = latch_form_get(&a->form, "max_age");
    if (max_age != NULL) {
        char *end = NULL;
        long v = strtol(max_age, &end, 10);
        if (end == max_age || *end != '\0' || v < 0) {
            auth_error(a, "invalid_request", "max_age must be a non-negative integer.");
            return;
        }
        a->max_age = v;
    }
    /* Logto's SDKs add the reserved organizations resource whenever the organizations scope
     * is asked for; it names no API (organization tokens come from the refresh grant with
     * organization_id), so it is accepted and left out. */
    a->resource = NULL;
    for (int i = 0; i < a->form.n; i++) {
        const struct latch_form_field *f = &a->form.fields[i];
        if (strcmp(f->name, "resource") != 0 || strcmp(f->value, LATCH_RESOURCE_ORGANIZATIONS) == 0)
            continue;
        if (a->resource != NULL) {
            auth_error(a, "invalid_target", "Request one resource at a time.");
            return;
        }
        a->resource = f->value;
    }
    if (a->resource != NULL && latch_tenant_resource(a->state, a->resource) == NULL) {
        auth_error(a, "invalid_target", "The resource indicator is not registered.");
        return;
    }

    const char *cookie =
        latch_http_cookie_get(req, latch_http_tenant_cookie_name(req, "latch_session"));
    char hash[LATCH_TOKEN_HASH_TEXT];
    if (cookie == NULL || strlen(cookie) > 128 || latch_jose_token_hash(cookie, hash) != LATCH_OK) {
        struct latch_store_result *none[1] = {NULL};
        session_checked(none, 1, NULL, a);
        return;
    }
    const char *p[2] = {a->state->id, hash};
    latch_store_query(latch_loop_store(req->loop), a->state->id, &find_session, p, session_checked,
                      a);
}

static void got_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct auth_ctx *a = arg;
    if (err != NULL) {
        latch_http_respond_error(a->req, err);
        return;
    }
    a->state = st;
    const char *client_id = latch_form_get(&a->form, "client_id");
    if (client_id == NULL || client_id[0] == '\0' || strlen(client_id) > 64 ||
        !latch_utf8_valid_str(client_id)) {
        latch_tenant_state_unref(st);
        latch_oidc_error_page(a->req, 400, "Unknown application", "The client_id is missing.");
        return;
    }
    latch_client_get(a->req->loop, a->req->tenant->id, client_id, got_client, a);
}

void latch_oidc_authorize(struct latch_request *req, void *arg)
{
    struct auth_ctx *a = latch_arena_calloc(req->arena, 1, sizeof(*a));
    if (a == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    a->req = req;
    if (!parse_params(req, &a->form, true, true))
        return;
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, got_state, a);
}

/* ---- resume after the hosted sign-in ---- */

/* The Experience API's submit checked the same profile; a client that skipped it is sent back
 * to the page, which submits and asks for what is missing. */
// clang-format off
static const struct latch_stmt find_interaction = {
    .name = "auth_find_interaction",
    .sql = "SELECT i.params::text, i.result_user_id, u.is_suspended,"
           " array_to_string(" LATCH_XP_MISSING_PROFILE_SQL("u", "s") ", ','), m.problem, m.amr"
           " FROM interactions i LEFT JOIN users u"
           " ON u.tenant_id = i.tenant_id AND u.id = i.result_user_id"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = i.tenant_id AND s.id = 'default'"
           " LEFT JOIN LATERAL latch_mfa_check($1, $2::bytea) m ON true"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()",
    .nparams = 2,
};
// clang-format on

static const struct latch_stmt insert_session = {
    .name = "auth_insert_session",
    .sql = "INSERT INTO sessions (tenant_id, id_hash, sid, user_id, auth_time, expires_at, amr) "
           "VALUES ($1, $2::bytea, $3, $4, $5::timestamptz, "
           "$5::timestamptz + interval '14 days', nullif($6, ''))",
    .nparams = 6,
};

static const struct latch_stmt delete_interaction = {
    .name = "auth_delete_interaction",
    .sql = "DELETE FROM interactions WHERE tenant_id = $1 AND id_hash = $2::bytea",
    .nparams = 2,
};

static const struct latch_stmt touch_user = {
    .name = "auth_touch_user",
    .sql = "UPDATE users SET last_sign_in_at = now() WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

struct resume_ctx {
    struct latch_request *req;
    struct latch_tenant_state *state;
    char hash[LATCH_TOKEN_HASH_TEXT];
};

static const char *json_str(yajl_val obj, const char *key, struct latch_arena *arena)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    return v ? latch_arena_strdup(arena, YAJL_GET_STRING(v)) : NULL;
}

static void interaction_found(struct latch_store_result *const *results, int n,
                              const struct latch_error *err, void *arg)
{
    struct resume_ctx *rc = arg;
    struct latch_request *req = rc->req;
    const struct latch_store_result *r = err ? NULL : results[0];
    if (err != NULL || latch_store_result_rows(r) != 1) {
        if (err != NULL)
            latch_http_log_error(req, "interaction lookup failed", err);
        latch_tenant_state_unref(rc->state);
        latch_oidc_error_page(req, 400, "Sign-in expired",
                              "This sign-in is no longer valid. Go back to the application and "
                              "start again.");
        return;
    }
    if (latch_store_result_isnull(r, 0, 1) || latch_store_result_isnull(r, 0, 3) ||
        latch_store_result_value(r, 0, 3)[0] != '\0') {
        /* Not signed in yet, or the profile is incomplete: back to the page. */
        latch_http_add_header(req, "Location",
                              latch_arena_printf(req->arena, "%s/sign-in", rc->state->endpoint));
        latch_tenant_state_unref(rc->state);
        latch_http_respond(req, 303, NULL, NULL, 0);
        return;
    }
    if (strcmp(latch_store_result_value(r, 0, 2), "t") == 0) {
        latch_tenant_state_unref(rc->state);
        latch_oidc_error_page(req, 403, "Account suspended", "This account is suspended.");
        return;
    }
    if (!latch_store_result_isnull(r, 0, 4)) {
        /* MFA is not done (schema/0012's latch_mfa_check): the page walks the person through
         * it. Also stops a flow that comes here without POST /api/experience/submit (a social
         * callback does). */
        latch_http_add_header(req, "Location",
                              latch_arena_printf(req->arena, "%s/sign-in", rc->state->endpoint));
        latch_tenant_state_unref(rc->state);
        latch_http_respond(req, 303, NULL, NULL, 0);
        return;
    }
    yajl_val params = yajl_tree_parse(latch_store_result_value(r, 0, 0), NULL, 0);
    if (params == NULL) {
        latch_tenant_state_unref(rc->state);
        latch_oidc_error_page(req, 500, "Error", "The sign-in could not be completed.");
        return;
    }
    struct latch_arena *arena = req->arena;
    char token[LATCH_CLIENT_SECRET_LEN + 1], shash[LATCH_TOKEN_HASH_TEXT], sid[22];
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (latch_jose_token_new(token) != LATCH_OK ||
        latch_jose_token_hash(token, shash) != LATCH_OK ||
        latch_jose_random_id(sid, 21) != LATCH_OK) {
        yajl_tree_free(params);
        latch_tenant_state_unref(rc->state);
        latch_oidc_error_page(req, 503, "Service unavailable", "Please try again shortly.");
        return;
    }
    const char *user_id = latch_arena_strdup(arena, latch_store_result_value(r, 0, 1));
    struct latch_code_request cr = {
        .client_id = json_str(params, "client_id", arena),
        .redirect_uri = json_str(params, "redirect_uri", arena),
        .scope = json_str(params, "scope", arena),
        .resource = json_str(params, "resource", arena),
        .nonce = json_str(params, "nonce", arena),
        .code_challenge = json_str(params, "code_challenge", arena),
        .code_challenge_method = json_str(params, "code_challenge_method", arena),
        .state = json_str(params, "state", arena),
        .user_id = user_id,
        .sid = latch_arena_strdup(arena, sid),
        .auth_time = latch_arena_strdup(arena, now),
        .amr = latch_store_result_isnull(r, 0, 5)
                   ? NULL
                   : latch_arena_strdup(arena, latch_store_result_value(r, 0, 5)),
    };
    yajl_tree_free(params);
    if (cr.client_id == NULL || cr.redirect_uri == NULL || cr.scope == NULL) {
        latch_tenant_state_unref(rc->state);
        latch_oidc_error_page(req, 500, "Error", "The sign-in could not be completed.");
        return;
    }
    const char *tid = rc->state->id;
    struct latch_store_op before[3] = {
        {.stmt = &insert_session,
         .params = {tid, latch_arena_strdup(arena, shash), cr.sid, user_id, cr.auth_time, cr.amr}},
        {.stmt = &delete_interaction, .params = {tid, rc->hash}},
        {.stmt = &touch_user, .params = {tid, user_id}},
    };
    issue_code(req, rc->state, &cr, before, 3, latch_arena_strdup(arena, token));
    latch_tenant_state_unref(rc->state);
}

static void resume_state(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct resume_ctx *rc = arg;
    if (err != NULL) {
        latch_http_respond_error(rc->req, err);
        return;
    }
    rc->state = st;
    const char *p[2] = {st->id, rc->hash};
    latch_store_query(latch_loop_store(rc->req->loop), st->id, &find_interaction, p,
                      interaction_found, rc);
}

void latch_oidc_resume(struct latch_request *req, void *arg)
{
    const char *cookie =
        latch_http_cookie_get(req, latch_http_tenant_cookie_name(req, "latch_interaction"));
    struct resume_ctx *rc = latch_arena_calloc(req->arena, 1, sizeof(*rc));
    if (rc == NULL || cookie == NULL || strlen(cookie) > 128 ||
        latch_jose_token_hash(cookie, rc->hash) != LATCH_OK) {
        latch_oidc_error_page(req, 400, "Sign-in expired",
                              "This sign-in is no longer valid. Go back to the application and "
                              "start again.");
        return;
    }
    rc->req = req;
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, resume_state, rc);
}
