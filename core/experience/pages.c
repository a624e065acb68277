/*
 * The hosted sign-in pages: GET <tenant endpoint>/sign-in and /register serve one HTML page
 * (core/ui/sign-in.html) whose script switches on the body's data-mode, with a strict
 * Content-Security-Policy (no inline script or style, nothing from other origins, no framing);
 * GET /ui/<file> (a node route: the same files for every tenant) serves the page's CSS, script,
 * translations and logo from the copies compiled into the binary, looked up by exact name only.
 * A page the tenant's sign-in mode does not offer (/register when only SignIn is allowed, or
 * /sign-in when only Register is) redirects (303) to the other one.
 *
 * The page template carries placeholders the server fills per request: {{ui}} (the assets' path),
 * {{v}} (the assets' version, for cache busting), {{base}} (the tenant endpoint's path, for the
 * Experience API and the links), {{mode}} ("sign-in" or "register"), {{lang}} (from
 * the interaction's ui_locales, then Accept-Language, as the Experience API chooses), {{title}}
 * and {{i18n}} (that language's translations, read by the script before the page's load event),
 * and {{brand}}: the tenant's branding as data attributes of the body (data-logo, data-dark-logo,
 * data-primary, data-dark-primary, present only when set and well formed), which the script
 * applies: attributes, not an inline style, keep the CSP free of 'unsafe-inline'.
 */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "config/config.h"
#include "experience/experience_internal.h"
#include "http/cookie.h"
#include "ui/assets.h"
#include "util/html.h"

#define PAGE_TEMPLATE   "sign-in.html"
#define LOGOUT_TEMPLATE "logout.html"

/* img-src allows https: for the tenant's logo (branding.logoUrl, darkLogoUrl), which lives on
 * the tenant's own host or CDN. Only images: an image cannot run script or read the page, and
 * plain http: stays refused (a mixed-content image on an https page; the script then falls back
 * to Latch's logo). Naming the logo's exact origin instead would make the header differ per
 * tenant for no gain against an image. */
static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data: https:; connect-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'";

/* The template with every placeholder replaced, in arena; NULL when out of memory. */
static char *render(struct latch_arena *arena, const struct latch_ui_asset *tpl,
                    const struct latch_xp_placeholder *ph, int nph, size_t *len)
{
    const char *src = (const char *)tpl->data;
    size_t cap = tpl->len + 1;
    /* Upper bound: each occurrence grows by at most its value's length. */
    for (size_t i = 0; i + 1 < tpl->len; i++)
        if (src[i] == '{' && src[i + 1] == '{')
            for (int k = 0; k < nph; k++)
                cap += strlen(ph[k].value);
    char *out = latch_arena_alloc(arena, cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < tpl->len;) {
        bool replaced = false;
        if (src[i] == '{' && i + 1 < tpl->len && src[i + 1] == '{') {
            for (int k = 0; k < nph && !replaced; k++) {
                size_t nl = strlen(ph[k].name);
                if (i + nl <= tpl->len && memcmp(src + i, ph[k].name, nl) == 0) {
                    size_t vl = strlen(ph[k].value);
                    memcpy(out + o, ph[k].value, vl);
                    o += vl;
                    i += nl;
                    replaced = true;
                }
            }
        }
        if (!replaced)
            out[o++] = src[i++];
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* The page's title in each language, as the translations say it (title.signIn, title.register). */
static const char *page_title(const char *locale, bool register_mode)
{
    bool es = strcmp(locale, "es") == 0;
    if (register_mode)
        return es ? "Crear cuenta" : "Create account";
    return es ? "Iniciar sesi\xc3\xb3n" : "Sign in";
}

struct page_call {
    struct latch_request *req;
    bool register_mode;
    char id_hash[LATCH_TOKEN_HASH_TEXT];
};

void latch_xp_respond_page(struct latch_request *req, const struct latch_ui_asset *tpl,
                           const struct latch_xp_placeholder *ph, int nph, const char *page_csp,
                           const char *locale)
{
    for (int k = 0; k < nph; k++) {
        if (ph[k].value == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return;
        }
    }
    size_t len = 0;
    char *html = render(req->arena, tpl, ph, nph, &len);
    if (html == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_http_add_header(req, "Content-Security-Policy", page_csp);
    latch_http_add_header(req, "Referrer-Policy", "no-referrer");
    latch_http_add_header(req, "X-Frame-Options", "DENY");
    latch_http_add_header(req, "Cache-Control", "no-store");
    latch_http_add_header(req, "Content-Language", locale);
    latch_http_respond(req, 200, tpl->content_type, html, len);
}

/* A string member of a parsed object, or NULL. */
static const char *str_member(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj ? yajl_tree_get(obj, path, yajl_t_string) : NULL;
    return v ? YAJL_GET_STRING(v) : NULL;
}

/* "#rgb" or "#rrggbb" (what PATCH /api/sign-in-exp accepts). */
static bool is_hex_color(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (n == 4 || n == 7) && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == n - 1;
}

/* One data attribute for {{brand}}, or "" when the value is absent or not what PATCH accepts
 * (the column may have been written by hand); NULL when out of memory. */
static const char *brand_attr(struct latch_arena *arena, const char *name, const char *value,
                              bool color)
{
    bool ok = value != NULL &&
              (color ? is_hex_color(value)
                     : strncmp(value, "https://", 8) == 0 || strncmp(value, "http://", 7) == 0);
    if (!ok || strlen(value) > 2048)
        return "";
    const char *escaped = latch_html_escape(arena, value);
    return escaped ? latch_arena_printf(arena, " %s=\"%s\"", name, escaped) : NULL;
}

/* {{brand}}: the body's data attributes for the tenant's logo and colours (the stored branding
 * and color JSON texts; NULL: Latch's own look). */
static const char *brand_attrs(struct latch_arena *arena, const char *branding, const char *color)
{
    yajl_val b = branding ? yajl_tree_parse(branding, NULL, 0) : NULL;
    yajl_val c = color ? yajl_tree_parse(color, NULL, 0) : NULL;
    const char *path[] = {"isDarkModeEnabled", NULL};
    bool dark = c != NULL && YAJL_IS_TRUE(yajl_tree_get(c, path, yajl_t_any));
    /* Without dark mode the dark variants are not used: one logo and one colour everywhere. */
    const char *logo = brand_attr(arena, "data-logo", str_member(b, "logoUrl"), false);
    const char *dark_logo =
        dark ? brand_attr(arena, "data-dark-logo", str_member(b, "darkLogoUrl"), false) : "";
    const char *primary = brand_attr(arena, "data-primary", str_member(c, "primaryColor"), true);
    const char *dark_primary =
        dark ? brand_attr(arena, "data-dark-primary", str_member(c, "darkPrimaryColor"), true) : "";
    yajl_tree_free(b);
    yajl_tree_free(c);
    if (logo == NULL || dark_logo == NULL || primary == NULL || dark_primary == NULL)
        return NULL;
    return latch_arena_printf(arena, "%s%s%s%s", logo, dark_logo, primary, dark_primary);
}

static void render_page(struct page_call *pc, const char *ui_locales, const char *language_info,
                        const char *branding, const char *color)
{
    struct latch_request *req = pc->req;
    struct latch_language_info li;
    yajl_val v = language_info ? yajl_tree_parse(language_info, NULL, 0) : NULL;
    (void)latch_xp_language_info_read(v, false, &li, NULL, 0);
    yajl_tree_free(v);
    const char *locale =
        latch_xp_locale(ui_locales, latch_http_header_get(req, "accept-language"), &li);

    const struct latch_ui_asset *tpl = latch_ui_asset_find(PAGE_TEMPLATE);
    const struct latch_ui_asset *strings =
        latch_ui_asset_find(strcmp(locale, "es") == 0 ? "es.json" : "en.json");
    const struct latch_config *cfg = latch_loop_config(req->loop);
    const char *base = latch_http_tenant_cookie_path(req);
    const char *ui = latch_arena_printf(req->arena, "%s/ui/", cfg->public_path);
    const char *i18n =
        strings ? latch_arena_strndup(req->arena, (const char *)strings->data, strings->len) : NULL;
    if (tpl == NULL || base == NULL || ui == NULL || i18n == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_xp_placeholder ph[] = {
        {"{{ui}}", latch_html_escape(req->arena, ui)},
        {"{{v}}", latch_ui_version},
        {"{{base}}", latch_html_escape(req->arena, base)},
        {"{{mode}}", pc->register_mode ? "register" : "sign-in"},
        {"{{lang}}", locale},
        {"{{title}}", page_title(locale, pc->register_mode)},
        /* JSON in a non-executed script element; embed.py makes sure it holds no "<". */
        {"{{i18n}}", i18n},
        {"{{brand}}", brand_attrs(req->arena, branding, color)},
    };
    latch_xp_respond_page(req, tpl, ph, (int)(sizeof(ph) / sizeof(ph[0])), csp, locale);
}

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* What the page depends on: the interaction's ui_locales ($2 NULL: no cookie), the tenant's
 * languageInfo, its sign-in mode, branding and color. */
static const struct latch_stmt page_locale = {
    .name = "xp_page_locale",
    .sql = "SELECT (SELECT params->>'ui_locales' FROM interactions WHERE tenant_id = $1"
           " AND id_hash = $2::bytea AND expires_at > now()),"
           " coalesce(s.language_info, '" LATCH_XP_DEFAULT_LANGUAGE_INFO "'::jsonb)::text,"
           " coalesce(s.sign_in_mode, '" LATCH_XP_DEFAULT_MODE "'),"
           " coalesce(s.branding, '{}'::jsonb)::text,"
           " coalesce(s.color, '" LATCH_XP_DEFAULT_COLOR "'::jsonb)::text"
           " FROM (SELECT 1) AS one"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = $1 AND s.id = 'default'",
    .nparams = 2,
};
// clang-format on

static void locale_loaded(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct page_call *pc = arg;
    if (err != NULL) {
        /* The page still works in the visitor's language; the API will report the outage. */
        render_page(pc, NULL, NULL, NULL, NULL);
        return;
    }
    const struct latch_store_result *res = results[0];
    /* A page the sign-in experience does not offer: send the browser to the one it does. */
    enum latch_xp_event want = pc->register_mode ? LATCH_XP_EVENT_REGISTER : LATCH_XP_EVENT_SIGN_IN;
    if (!latch_xp_mode_allows(latch_store_result_value(res, 0, 2), want)) {
        struct latch_request *req = pc->req;
        const char *base = latch_http_tenant_cookie_path(req);
        const char *to = base ? latch_arena_printf(req->arena, "%s%s", base,
                                                   pc->register_mode ? "sign-in" : "register")
                              : NULL;
        if (to == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return;
        }
        latch_http_add_header(req, "Location", to);
        latch_http_add_header(req, "Cache-Control", "no-store");
        latch_http_respond(req, 303, NULL, NULL, 0);
        return;
    }
    render_page(pc,
                latch_store_result_isnull(res, 0, 0) ? NULL : latch_store_result_value(res, 0, 0),
                latch_store_result_value(res, 0, 1), latch_store_result_value(res, 0, 3),
                latch_store_result_value(res, 0, 4));
}

static void serve_page(struct latch_request *req, bool register_mode)
{
    struct page_call *pc = latch_arena_calloc(req->arena, 1, sizeof(*pc));
    if (pc == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    pc->req = req;
    pc->register_mode = register_mode;
    const char *name = latch_http_tenant_cookie_name(req, "latch_interaction");
    const char *token = name ? latch_http_cookie_get(req, name) : NULL;
    bool have = token != NULL && token[0] != '\0' && strlen(token) <= 256 &&
                latch_jose_token_hash(token, pc->id_hash) == LATCH_OK;
    const char *params[2] = {req->tenant->id, have ? pc->id_hash : NULL};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &page_locale, params,
                      locale_loaded, pc);
}

static void get_sign_in(struct latch_request *req, void *arg)
{
    serve_page(req, false);
}

static void get_register(struct latch_request *req, void *arg)
{
    serve_page(req, true);
}

/* ---- the logout confirmation page ---- */

/* No script, so no script-src; no form-action either: the confirmed POST is answered by a
 * redirect to the application's post_logout_redirect_uri, which browsers check against it. */
static const char logout_csp[] = "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                 "frame-ancestors 'none'; base-uri 'none'";

struct logout_call {
    struct latch_request *req;
    const char *action;
    const char *xsrf;
    const char *ui_locales;
    const struct latch_xp_hidden *fields;
    int nfields;
};

static void logout_render(struct logout_call *lc, const char *language_info)
{
    struct latch_request *req = lc->req;
    struct latch_language_info li;
    yajl_val v = language_info ? yajl_tree_parse(language_info, NULL, 0) : NULL;
    (void)latch_xp_language_info_read(v, false, &li, NULL, 0);
    yajl_tree_free(v);
    const char *locale =
        latch_xp_locale(lc->ui_locales, latch_http_header_get(req, "accept-language"), &li);
    bool es = strcmp(locale, "es") == 0;
    const struct latch_config *cfg = latch_loop_config(req->loop);
    const struct latch_ui_asset *tpl = latch_ui_asset_find(LOGOUT_TEMPLATE);
    const char *ui = latch_arena_printf(req->arena, "%s/ui/", cfg->public_path);
    /* The hidden inputs, each value escaped; "" when there are none. */
    char *fields = latch_arena_strdup(req->arena, "");
    for (int i = 0; i < lc->nfields && fields != NULL; i++) {
        if (lc->fields[i].value == NULL)
            continue;
        const char *value = latch_html_escape(req->arena, lc->fields[i].value);
        fields = value ? latch_arena_printf(req->arena,
                                            "%s    <input type=\"hidden\" name=\"%s\" "
                                            "value=\"%s\">\n",
                                            fields, lc->fields[i].name, value)
                       : NULL;
    }
    if (tpl == NULL || ui == NULL || fields == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_xp_placeholder ph[] = {
        {"{{ui}}", latch_html_escape(req->arena, ui)},
        {"{{v}}", latch_ui_version},
        {"{{lang}}", locale},
        {"{{title}}", es ? "Cerrar sesi\xc3\xb3n" : "Sign out"},
        {"{{question}}", es ? "\xc2\xbfQuiere cerrar la sesi\xc3\xb3n en este sitio?"
                            : "Do you want to sign out of this site?"},
        {"{{action}}", latch_html_escape(req->arena, lc->action)},
        {"{{xsrf}}", latch_html_escape(req->arena, lc->xsrf)},
        {"{{fields}}", fields},
        {"{{confirm}}", es ? "S\xc3\xad, cerrar sesi\xc3\xb3n" : "Yes, sign me out"},
        {"{{cancel}}", es ? "No, seguir conectado" : "No, stay signed in"},
    };
    latch_xp_respond_page(req, tpl, ph, (int)(sizeof(ph) / sizeof(ph[0])), logout_csp, locale);
}

static void logout_locale_loaded(struct latch_store_result *const *results, int n,
                                 const struct latch_error *err, void *arg)
{
    struct logout_call *lc = arg;
    /* Without the tenant's languageInfo the page still works in the visitor's language. */
    logout_render(lc, err == NULL ? latch_store_result_value(results[0], 0, 1) : NULL);
}

void latch_xp_logout_page(struct latch_request *req, const char *action, const char *xsrf,
                          const char *ui_locales, const struct latch_xp_hidden *fields, int nfields)
{
    struct logout_call *lc = latch_arena_calloc(req->arena, 1, sizeof(*lc));
    if (lc == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    *lc = (struct logout_call){req, action, xsrf, ui_locales, fields, nfields};
    const char *params[2] = {req->tenant->id, NULL};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &page_locale, params,
                      logout_locale_loaded, lc);
}

/* Whether the If-None-Match header lists etag (or is "*"). */
static bool etag_matches(const char *header, const char *etag)
{
    if (header == NULL)
        return false;
    size_t n = strlen(etag);
    for (const char *p = header; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison is what If-None-Match asks for */
        if (*p == '*')
            return true;
        if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static void get_asset(struct latch_request *req, void *arg)
{
    const char *name = latch_http_param(req, "file");
    const struct latch_ui_asset *a = latch_ui_asset_find(name);
    /* The page templates are served only through their routes, filled in. */
    if (a == NULL || strcmp(a->name, PAGE_TEMPLATE) == 0 || strcmp(a->name, LOGOUT_TEMPLATE) == 0 ||
        strcmp(a->name, "console.html") == 0) {
        latch_http_respond_errorf(req, 404, "http.not_found", "Not found.");
        return;
    }
    latch_http_add_header(req, "Cache-Control", "public, max-age=3600");
    latch_http_add_header(req, "ETag", a->etag);
    if (etag_matches(latch_http_header_get(req, "if-none-match"), a->etag)) {
        latch_http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    if (strncmp(a->content_type, "image/svg", 9) == 0)
        latch_http_add_header(req, "Content-Security-Policy", "default-src 'none'");
    latch_http_respond(req, 200, a->content_type, (const char *)a->data, a->len);
}

latch_rc latch_xp_pages_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/sign-in", get_sign_in, NULL) !=
            LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/register", get_register, NULL) !=
            LATCH_OK ||
        latch_server_add_node_route(srv, LATCH_HTTP_GET, "/ui/:file", get_asset, NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
