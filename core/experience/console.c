/*
 * The admin console's page and its one-time password links (issue 13).
 *
 * GET <tenant endpoint>/console, /console/<page> and /console/<page>/<id> all answer the one
 * HTML page (core/console/console.html) of a single-page application whose script, styles,
 * translations and UI library (Preact + htm, copied from core/console/node_modules at build
 * time) are compiled into the binary and served from /ui/<file> like the hosted sign-in pages.
 * Its Content-Security-Policy allows scripts, styles and fetches from this origin only and no
 * framing. The page carries the tenant's endpoint; the script signs the administrator in through
 * the tenant's own /oidc with the reserved SPA application `admin-console` (authorization code
 * + PKCE, resource <tenant endpoint>/api, scope `all`, seeded by latch_bootstrap_tenant in
 * schema/0015_console.sql) and then calls only the public Management API with that token.
 *
 * POST <tenant endpoint>/console/password {token, password} sets a password through a one-time
 * link printed by `latchctl admin create` (table password_links: the token's SHA-256, its user,
 * an expiry): the password must pass the tenant's password policy; it is hashed on the CPU lane
 * and the link is marked used by the same statement that sets the password, so two requests
 * racing with one link set at most one password. 204, or 400 console.link_invalid when the link
 * is unknown, used or expired, or 422 with the policy's code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "config/config.h"
#include "experience/experience_internal.h"
#include "http/cookie.h"
#include "tenants/cache.h"
#include "ui/assets.h"
#include "users/password.h"
#include "users/users.h"
#include "util/html.h"

#define CONSOLE_TEMPLATE "console.html"
#define LINK_TOKEN_MAX   128

/* img-src allows https: for the sign-in experience preview, which shows the tenant's logo from
 * wherever branding.logoUrl points (as the hosted sign-in page does, core/experience/pages.c);
 * an image can neither run script nor read the page. */
static const char console_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                                  "img-src 'self' data: https:; connect-src 'self'; "
                                  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

static void get_console(struct latch_request *req, void *arg)
{
    const struct latch_config *cfg = latch_loop_config(req->loop);
    struct latch_language_info li;
    (void)latch_xp_language_info_read(NULL, false, &li, NULL, 0);
    const char *locale = latch_xp_locale(NULL, latch_http_header_get(req, "accept-language"), &li);
    const struct latch_ui_asset *tpl = latch_ui_asset_find(CONSOLE_TEMPLATE);
    char *endpoint = latch_tenant_endpoint(cfg, req->tenant->id);
    const char *ep = endpoint ? latch_arena_strdup(req->arena, endpoint) : NULL;
    free(endpoint);
    const char *ui = latch_arena_printf(req->arena, "%s/ui/", cfg->public_path);
    const char *base = latch_http_tenant_cookie_path(req);
    if (tpl == NULL || ep == NULL || ui == NULL || base == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_xp_placeholder ph[] = {
        {"{{ui}}", latch_html_escape(req->arena, ui)},
        {"{{v}}", latch_ui_version},
        {"{{lang}}", locale},
        {"{{endpoint}}", latch_html_escape(req->arena, ep)},
        {"{{base}}", latch_html_escape(req->arena, base)},
        {"{{tenant}}", latch_html_escape(req->arena, req->tenant->id)},
    };
    latch_xp_respond_page(req, tpl, ph, (int)(sizeof(ph) / sizeof(ph[0])), console_csp, locale);
}

/* ---- one-time password links ---- */

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* The link's user (usable links only) and what the password policy needs. */
static const struct latch_stmt link_lookup = {
    .name = "console_link_lookup",
    .sql = "SELECT u.id, u.username, u.primary_email, u.primary_phone, u.name,"
           " coalesce(s.password_policy, '" LATCH_XP_DEFAULT_PASSWORD_POLICY "'::jsonb)::text"
           " FROM password_links l JOIN users u ON u.tenant_id = l.tenant_id AND u.id = l.user_id"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = l.tenant_id AND s.id = 'default'"
           " WHERE l.tenant_id = $1 AND l.token_hash = $2::bytea AND l.used_at IS NULL"
           " AND l.expires_at > now()",
    .nparams = 2,
};

/* Spends the link and sets the password in one statement: no row when the link was spent
 * meanwhile. */
static const struct latch_stmt link_use = {
    .name = "console_link_use",
    .sql = "WITH spent AS (UPDATE password_links SET used_at = now()"
           " WHERE tenant_id = $1 AND token_hash = $2::bytea AND used_at IS NULL"
           " AND expires_at > now() RETURNING user_id)"
           " UPDATE users u SET password_encrypted = $3, password_encryption_method = 'Argon2i',"
           " updated_at = now() FROM spent"
           " WHERE u.tenant_id = $1 AND u.id = spent.user_id RETURNING u.id",
    .nparams = 3,
};
// clang-format on

struct link_call {
    struct latch_request *req;
    char token_hash[LATCH_TOKEN_HASH_TEXT];
    char *password; /* in the arena; wiped once hashed or refused */
    char hash[LATCH_PASSWORD_HASH_MAX];
    latch_rc rc;
    struct latch_error err;
};

static void link_invalid(struct latch_request *req)
{
    latch_http_respond_errorf(req, 400, "console.link_invalid",
                              "This link is invalid, was used already or has expired.");
}

static void wipe_password(struct link_call *lc)
{
    if (lc->password != NULL)
        explicit_bzero(lc->password, strlen(lc->password));
}

static void link_used(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    struct link_call *lc = arg;
    explicit_bzero(lc->hash, sizeof(lc->hash));
    if (err != NULL) {
        latch_xp_store_error(lc->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) != 1) {
        link_invalid(lc->req);
        return;
    }
    latch_http_log(lc->req, LATCH_LOG_INFO, "password set through a one-time link for user %s",
                   latch_store_result_value(results[0], 0, 0));
    latch_http_respond(lc->req, 204, NULL, NULL, 0);
}

static void hash_work(void *arg)
{
    struct link_call *lc = arg;
    lc->rc = latch_password_hash(lc->password, lc->hash, &lc->err);
    wipe_password(lc);
}

static void hash_done(void *arg)
{
    struct link_call *lc = arg;
    struct latch_request *req = lc->req;
    if (lc->rc != LATCH_OK) {
        latch_http_log_error(req, "password hash", &lc->err);
        latch_http_respond_error(req, &lc->err);
        return;
    }
    const char *params[3] = {req->tenant->id, lc->token_hash, lc->hash};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &link_use, params, link_used,
                      lc);
}

static void link_found(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct link_call *lc = arg;
    struct latch_request *req = lc->req;
    if (err != NULL) {
        wipe_password(lc);
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) != 1) {
        wipe_password(lc);
        link_invalid(req);
        return;
    }
    struct latch_password_policy *policy = latch_arena_alloc(req->arena, sizeof(*policy));
    struct latch_error perr;
    if (policy == NULL ||
        latch_users_policy_parse(latch_store_result_value(res, 0, 5), policy, &perr) != LATCH_OK) {
        if (policy != NULL)
            latch_users_policy_default(policy);
    }
    struct latch_users_info info = {
        .username =
            latch_store_result_isnull(res, 0, 1) ? NULL : latch_store_result_value(res, 0, 1),
        .email = latch_store_result_isnull(res, 0, 2) ? NULL : latch_store_result_value(res, 0, 2),
        .phone = latch_store_result_isnull(res, 0, 3) ? NULL : latch_store_result_value(res, 0, 3),
        .name = latch_store_result_isnull(res, 0, 4) ? NULL : latch_store_result_value(res, 0, 4),
    };
    unsigned issues = policy ? latch_users_password_issues(lc->password, policy, &info)
                             : LATCH_PASSWORD_TOO_SHORT;
    if (issues != 0) {
        wipe_password(lc);
        unsigned first = issues & -issues;
        char text[256];
        if (policy != NULL)
            latch_xp_password_issue_text(first, policy, text, sizeof(text));
        else
            snprintf(text, sizeof(text), "The password is not acceptable.");
        latch_http_respond_errorf(req, 422, latch_users_password_issue_code(first), "%s", text);
        return;
    }
    struct latch_error serr;
    if (latch_http_submit(req, LATCH_LANE_CPU, hash_work, hash_done, lc, &serr) != LATCH_OK) {
        wipe_password(lc);
        latch_http_respond_error(req, &serr);
    }
}

static void post_password(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_xp_body(req);
    if (tree == NULL)
        return;
    const char *token = NULL, *password = NULL;
    struct link_call *lc = latch_arena_calloc(req->arena, 1, sizeof(*lc));
    bool ok =
        lc != NULL && latch_xp_get_str(req, tree, "token", "token", LINK_TOKEN_MAX, true, &token) &&
        latch_xp_get_str(req, tree, "password", "password", LATCH_PASSWORD_MAX, true, &password);
    if (ok) {
        lc->req = req;
        lc->password = latch_arena_strdup(req->arena, password);
        ok = lc->password != NULL && latch_jose_token_hash(token, lc->token_hash) == LATCH_OK;
        if (!ok)
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
    } else if (lc == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
    }
    latch_xp_body_free(req, tree); /* wipes the password in the tree */
    if (!ok) {
        if (lc != NULL)
            wipe_password(lc);
        return;
    }
    const char *params[2] = {req->tenant->id, lc->token_hash};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &link_lookup, params,
                      link_found, lc);
}

latch_rc latch_xp_console_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/console", get_console, NULL) !=
            LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/console/:page", get_console, NULL) !=
            LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/console/:page/:id", get_console,
                                      NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/console/password", post_password,
                                      NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
