/*
 * Social sign-in through a connector (plugin/), Logto's flow with the state kept server-side:
 *
 *   1. The page lists the enabled connectors (GET /api/experience/interaction, socialConnectors,
 *      written here) and, on a click, calls
 *      POST /api/experience/verification/social/:connectorId/authorization-uri. A fresh random
 *      state is bound to the interaction in params._social together with the connector, the
 *      factory version that started the flow (its SHA-256) and the connector's session; the
 *      connector builds the upstream URI on the worker pool, with
 *      redirect_uri = <tenant endpoint>/callback/<connectorId>. → {authorizationUri,
 *      verificationId}.
 *   2. Upstream sends the browser to GET <tenant endpoint>/callback/:connectorId (a POST there
 *      is turned into a 303 to the GET, as Logto does, so the Lax interaction cookie comes
 *      along). The state must match (constant time); the same factory version finishes the
 *      flow (an upgrade meanwhile does not matter; an unload ends it cleanly); the connector
 *      fetches the profile on the worker pool.
 *   3. In one transaction: the user with that identity (users.identities.<target>.userId), or,
 *      when the tenant allows automatic account linking, the user whose primary email equals the
 *      profile's verified email (the identity is added), or, when sign-up is allowed, a new user
 *      from the profile (primary email only when verified and free). The interaction's
 *      result_user_id is set and _social removed (a callback is good once), and the browser
 *      goes to <tenant endpoint>/oidc/auth/resume, which creates the session and returns to the
 *      application with a code.
 *
 * Every failure of the callback ends on a plain HTML page that says what went wrong, and no user
 * is created. Connector configs are read from PostgreSQL per request, opened in memory on the
 * worker and wiped after the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience_internal.h"
#include "http/cookie.h"
#include "http/form.h"
#include "metrics/metrics.h"
#include "mgmt/mgmt_internal.h"
#include "plugin/plugin.h"
#include "tenants/cache.h"
#include "users/users.h"
#include "util/html.h"
#include "util/json.h"
#include "util/log.h"
#include "util/percent.h"

#define COOKIE_PREFIX     "latch_interaction"
#define TOKEN_MAX_BYTES   256
#define CONNECTOR_ID_MAX  128
#define CALLBACK_BODY_MAX 8192
#define LOGO_MAX          65536
#define NAME_MAX_BYTES    128
#define AVATAR_MAX        2048
#define EMAIL_MAX         128

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define TARGETS_SQL                                                                                \
    "coalesce((SELECT social_sign_in_connector_targets FROM sign_in_experiences"                  \
    " WHERE tenant_id = $1 AND id = 'default'), '[]'::jsonb)::text"

/* For the page: the enabled targets, and every social connector of the tenant (none: one row
 * of NULLs). Email and SMS connectors (connectors.type) never become buttons, whatever their
 * target. */
const struct latch_stmt latch_xp_social_buttons_stmt = {
    .name = "xp_social_buttons",
    .sql = "SELECT " TARGETS_SQL ", c.id, c.connector_id, c.metadata::text"
           " FROM (SELECT 1) AS one LEFT JOIN connectors c ON c.tenant_id = $1"
           " AND c.type = 'Social'"
           " ORDER BY c.created_at, c.id",
    .nparams = 1,
};

/* $2 connector id. */
static const struct latch_stmt connector_get = {
    .name = "xp_social_connector",
    .sql = "SELECT c.connector_id, c.config::text, c.metadata::text, " TARGETS_SQL
           " FROM connectors c WHERE c.tenant_id = $1 AND c.id = $2 AND c.type = 'Social'",
    .nparams = 2,
};

/* $10 the redirect URI of a custom sign-in UI (NULL: the tenant's own callback). */
static const struct latch_stmt social_set = {
    .name = "xp_social_set",
    .sql = "UPDATE interactions SET params = params || jsonb_build_object('_social',"
           " jsonb_build_object('connectorId', $3::text, 'factoryId', $4::text,"
           " 'sha256', $5::text, 'state', $6::text, 'session', $7::jsonb,"
           " 'verificationId', $8::text, 'target', $9::text, 'redirectUri', $10::text)),"
           " verification_id = $8"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now() RETURNING 1",
    .nparams = 10,
};

/* The callback's first round trip: the flow under way, the tenant's rules, the connector. */
static const struct latch_stmt callback_load = {
    .name = "xp_social_callback",
    .sql = "SELECT i.params->'_social'->>'connectorId', i.params->'_social'->>'factoryId',"
           " i.params->'_social'->>'sha256', i.params->'_social'->>'state',"
           " (i.params->'_social'->'session')::text, i.params->'_social'->>'target',"
           " coalesce(s.sign_in_mode, '" LATCH_XP_DEFAULT_MODE "'),"
           " coalesce((s.social_sign_in->>'automaticAccountLinking')::boolean, false),"
           " c.config::text, i.params->'_social'->>'verificationId',"
           " i.params->'_social' ? 'profile', i.event"
           " FROM interactions i"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = i.tenant_id AND s.id = 'default'"
           " LEFT JOIN connectors c ON c.tenant_id = i.tenant_id AND c.id = $3"
           " AND c.type = 'Social'"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()",
    .nparams = 3,
};

/* …/verify keeps the profile for identification: $3 state, $4 verification id, $5 the profile
 * ({uid, name, avatar, email (verified only), identity}). Once per flow. */
static const struct latch_stmt profile_set = {
    .name = "xp_social_profile_set",
    .sql = "UPDATE interactions SET params = jsonb_set(params, '{_social,profile}', $5::jsonb)"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
           " AND params->'_social'->>'state' = $3 AND params->'_social'->>'verificationId' = $4"
           " AND NOT (params->'_social' ? 'profile') RETURNING 1",
    .nparams = 5,
};

/* Identification with a verified social profile: $3 verification id. */
static const struct latch_stmt profile_get = {
    .name = "xp_social_profile_get",
    .sql = "SELECT i.params->'_social'->>'state', i.params->'_social'->>'target',"
           " x.p->>'uid', x.p->>'name', x.p->>'avatar', x.p->>'email', (x.p->'identity')::text,"
           " coalesce((s.social_sign_in->>'automaticAccountLinking')::boolean, false)"
           " FROM interactions i CROSS JOIN LATERAL"
           " (SELECT i.params->'_social'->'profile' AS p) x"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = i.tenant_id AND s.id = 'default'"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()"
           " AND i.params->'_social'->>'verificationId' = $3"
           " AND jsonb_typeof(x.p) = 'object'",
    .nparams = 3,
};

/* Just-in-time provisioning (Logto's organization JIT): a new user whose verified email is in a
 * domain an organization claims joins it with that organization's JIT roles (the statement that
 * follows, latch_mgmt_hook_jit_stmt, reports each membership to webhooks). `who` is a CTE of
 * the new user (id, primary_email), which holds the email only when it is verified. Adds the CTEs
 * jm (memberships) and jr (their roles). */
#define JIT_PROVISION(who)                                                                         \
    " jm AS (INSERT INTO organization_user_relations (tenant_id, organization_id, user_id)"        \
    " SELECT DISTINCT $1::text, d.organization_id, n.id FROM " who " n"                            \
    " JOIN organization_jit_email_domains d ON d.tenant_id = $1"                                   \
    " AND d.email_domain = lower(split_part(n.primary_email, '@', 2))"                             \
    " WHERE n.primary_email LIKE '%_@_%' RETURNING organization_id, user_id),"                     \
    " jr AS (INSERT INTO organization_role_user_relations"                                          \
    " (tenant_id, organization_id, organization_role_id, user_id)"                                 \
    " SELECT $1::text, jm.organization_id, j.organization_role_id, jm.user_id FROM jm"             \
    " JOIN organization_jit_roles j ON j.tenant_id = $1 AND j.organization_id = jm.organization_id" \
    " RETURNING 1),"

/*
 * Who signs in. $3 state (the flow must still be pending), $4 target, $5 upstream user id,
 * $6 new user id, $7 name, $8 avatar, $9 verified email or NULL, $10 the identity
 * ({userId, details}), $11 sign-up allowed, $12 automatic account linking.
 * Answers (flow pending, existing id, existing suspended, linked id, linked-candidate suspended,
 * created id, interaction updated, default roles given, JIT organization roles given).
 */
static const struct latch_stmt identify = {
    .name = "xp_social_identify",
    .sql = "WITH i AS (SELECT 1 FROM interactions WHERE tenant_id = $1 AND id_hash = $2::bytea"
           " AND expires_at > now() AND params->'_social'->>'state' = $3 FOR UPDATE),"
           " ex AS (SELECT id, is_suspended FROM users WHERE tenant_id = $1"
           " AND identities @> jsonb_build_object($4::text, jsonb_build_object('userId', $5::text))"
           " ORDER BY created_at LIMIT 1),"
           " lk AS (SELECT id, is_suspended FROM users WHERE tenant_id = $1 AND $12::boolean"
           " AND $9::text IS NOT NULL AND lower(primary_email) = lower($9::text)"
           " AND NOT identities ? $4::text AND NOT EXISTS (SELECT 1 FROM ex) LIMIT 1),"
           " lnk AS (UPDATE users u SET identities = u.identities || jsonb_build_object($4::text,"
           " $10::jsonb), updated_at = now() FROM lk WHERE u.tenant_id = $1 AND u.id = lk.id"
           " AND NOT lk.is_suspended AND EXISTS (SELECT 1 FROM i) RETURNING u.id),"
           " ins AS (INSERT INTO users (tenant_id, id, name, avatar, primary_email, identities)"
           " SELECT $1::text, $6::text, $7::text, $8::text, CASE WHEN $9::text IS NOT NULL AND NOT EXISTS (SELECT 1"
           " FROM users WHERE tenant_id = $1 AND lower(primary_email) = lower($9::text))"
           " THEN $9::text END, jsonb_build_object($4::text, $10::jsonb)"
           " WHERE $11::boolean AND EXISTS (SELECT 1 FROM i) AND NOT EXISTS (SELECT 1 FROM ex)"
           " AND NOT EXISTS (SELECT 1 FROM lk) RETURNING id, primary_email),"
           " dr AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1::text, ins.id, r.id FROM ins, roles r"
           " WHERE r.tenant_id = $1 AND r.is_default AND r.type = 'User' RETURNING 1),"
           JIT_PROVISION("ins")
           " who AS (SELECT id FROM ex WHERE NOT is_suspended UNION ALL SELECT id FROM lnk"
           " UNION ALL SELECT id FROM ins),"
           " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM who LIMIT 1),"
           " params = params - '_social', event = coalesce(event, 'SignIn'),"
           " verification_id = NULL"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND EXISTS (SELECT 1 FROM who)"
           " AND EXISTS (SELECT 1 FROM i) RETURNING 1)"
           " SELECT EXISTS (SELECT 1 FROM i), (SELECT id FROM ex), (SELECT is_suspended FROM ex),"
           " (SELECT id FROM lnk), (SELECT is_suspended FROM lk), (SELECT id FROM ins),"
           " (SELECT count(*) FROM upd), (SELECT count(*) FROM dr), (SELECT count(*) FROM jr)",
    .nparams = 12,
};

/* A failed callback ends the flow: the state cannot be tried again. */
static const struct latch_stmt social_drop = {
    .name = "xp_social_drop",
    .sql = "UPDATE interactions SET params = params - '_social'"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND params->'_social'->>'state' = $3",
    .nparams = 3,
};
// clang-format on

/* ---- the factory's texts ---- */

static yajl_val obj_get(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

static yajl_val parse_object(const char *text)
{
    yajl_val v = text ? yajl_tree_parse(text, NULL, 0) : NULL;
    if (v != NULL && !YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        v = NULL;
    }
    return v;
}

/* A localized text: a string, or {en, es, …} (locale, then its language, then en). */
static const char *i18n_pick(yajl_val v, const char *locale)
{
    if (v == NULL)
        return NULL;
    if (YAJL_IS_STRING(v))
        return v->u.string;
    if (!YAJL_IS_OBJECT(v))
        return NULL;
    yajl_val t = locale ? obj_get(v, locale) : NULL;
    if (t == NULL && locale != NULL) {
        char lang[8];
        size_t n = strcspn(locale, "-_");
        if (n < sizeof(lang)) {
            memcpy(lang, locale, n);
            lang[n] = '\0';
            t = obj_get(v, lang);
        }
    }
    if (t == NULL || !YAJL_IS_STRING(t))
        t = obj_get(v, "en");
    return t && YAJL_IS_STRING(t) ? t->u.string : NULL;
}

/* What a connector instance shows: its metadata over the factory's. */
struct face {
    const char *target, *name, *logo;
};

/* Fills f from the factory (p) and the instance metadata; the strings live in the trees. */
static void face_read(yajl_val factory, yajl_val meta, const char *locale, struct face *f)
{
    yajl_val v;
    f->target = NULL;
    f->name = NULL;
    f->logo = NULL;
    if ((v = obj_get(meta, "target")) != NULL && YAJL_IS_STRING(v))
        f->target = v->u.string;
    else if ((v = obj_get(factory, "target")) != NULL && YAJL_IS_STRING(v))
        f->target = v->u.string;
    f->name = i18n_pick(obj_get(meta, "name"), locale);
    if (f->name == NULL)
        f->name = i18n_pick(obj_get(factory, "name"), locale);
    if ((v = obj_get(meta, "logo")) != NULL && YAJL_IS_STRING(v))
        f->logo = v->u.string;
    else if ((v = obj_get(factory, "logo")) != NULL && YAJL_IS_STRING(v))
        f->logo = v->u.string;
}

/* Whether p signs people in (a factory id may come back as another kind after an operator
 * replaced its file): only a social connector has the operations this file calls. */
static bool is_social(const struct latch_plugin *p)
{
    const char *kind = latch_plugin_kind_type(latch_plugin_info(p)->kind);
    return kind != NULL && strcmp(kind, "Social") == 0;
}

static yajl_val factory_tree(struct latch_plugin *p)
{
    char *text = latch_plugin_factory_json(p);
    yajl_val t = parse_object(text);
    free(text);
    return t;
}

/* The page's CSP allows images from data: URIs only (and 'self'): an SVG text becomes one. */
static const char *logo_uri(struct latch_arena *arena, const char *logo)
{
    if (logo == NULL || strlen(logo) > LOGO_MAX)
        return NULL;
    if (strncmp(logo, "data:image/", 11) == 0)
        return logo;
    const char *s = logo + strspn(logo, " \t\r\n");
    if (s[0] != '<')
        return NULL;
    /* Percent-encoded (RFC 2397): every byte but the unreserved ones, so nothing in the SVG
     * text can end the attribute or the URI it is placed in. */
    const char *enc = latch_percent_encode(arena, s);
    return enc != NULL ? latch_arena_printf(arena, "data:image/svg+xml,%s", enc) : NULL;
}

static bool targets_has(yajl_val targets, const char *target)
{
    if (targets == NULL || !YAJL_IS_ARRAY(targets) || target == NULL)
        return false;
    for (size_t i = 0; i < targets->u.array.len; i++) {
        yajl_val t = targets->u.array.values[i];
        if (YAJL_IS_STRING(t) && strcmp(t->u.string, target) == 0)
            return true;
    }
    return false;
}

void latch_xp_social_buttons_write(struct latch_request *req, const struct latch_store_result *res,
                                   const char *locale, struct latch_json *j)
{
    int rows = res ? latch_store_result_rows(res) : 0;
    yajl_val targets =
        rows > 0 ? yajl_tree_parse(latch_store_result_value(res, 0, 0), NULL, 0) : NULL;
    int n = rows;
    yajl_val *factories = NULL, *metas = NULL;
    if (n > 0) {
        factories = calloc((size_t)n, sizeof(*factories));
        metas = calloc((size_t)n, sizeof(*metas));
    }
    latch_json_begin_array(j);
    if (targets != NULL && YAJL_IS_ARRAY(targets) && factories != NULL && metas != NULL) {
        for (int r = 0; r < n; r++) {
            if (latch_store_result_isnull(res, r, 1))
                continue;
            struct latch_plugin *p = latch_plugin_get(latch_store_result_value(res, r, 2));
            if (p == NULL)
                continue; /* not loaded on this node (or unloaded): no button */
            if (!is_social(p)) {
                latch_plugin_unref(p);
                continue;
            }
            factories[r] = factory_tree(p);
            latch_plugin_unref(p);
            metas[r] = parse_object(latch_store_result_value(res, r, 3));
        }
        /* In the order of socialSignInConnectorTargets. */
        for (size_t t = 0; t < targets->u.array.len; t++) {
            yajl_val tv = targets->u.array.values[t];
            if (!YAJL_IS_STRING(tv))
                continue;
            for (int r = 0; r < n; r++) {
                if (factories[r] == NULL)
                    continue;
                struct face f;
                face_read(factories[r], metas[r], locale, &f);
                if (f.target == NULL || strcmp(f.target, tv->u.string) != 0)
                    continue;
                latch_json_begin_object(j);
                latch_json_key(j, "id");
                latch_json_string(j, latch_store_result_value(res, r, 1));
                latch_json_key(j, "target");
                latch_json_string(j, f.target);
                latch_json_key(j, "name");
                latch_json_string(j, f.name ? f.name : f.target);
                latch_json_key(j, "logo");
                const char *logo = logo_uri(req->arena, f.logo);
                if (logo != NULL)
                    latch_json_string(j, logo);
                else
                    latch_json_null(j);
                latch_json_end_object(j);
            }
        }
    }
    latch_json_end_array(j);
    for (int r = 0; factories != NULL && metas != NULL && r < n; r++) {
        yajl_tree_free(factories[r]);
        yajl_tree_free(metas[r]);
    }
    free(factories);
    free(metas);
    yajl_tree_free(targets);
}

/* ---- POST /api/experience/verification/social/:connectorId/authorization-uri ---- */

struct auth_call {
    struct latch_xp_call *xp;
    const char *connector_id;
    struct latch_plugin *plugin;
    struct latch_plugin_info info;
    char *stored_config; /* sealed, malloc'd */
    const char *target;
    char state[LATCH_CLIENT_SECRET_LEN + 1];
    char verification_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
    char *redirect_uri;
    /* A custom sign-in UI's own redirect URI and state (Logto's body), or NULL. */
    const char *client_state, *client_redirect;
    const char *flow_state; /* state or client_state */
    bool custom;            /* the upstream returns to client_redirect, not to the tenant */
    const char *tenant_id;
    const uint8_t *master;
    /* worker results */
    latch_rc rc;
    char *uri;
    char *session;
    char error_code[64];
    char error_detail[256];
};

static void auth_cleanup(struct latch_xp_call *call)
{
    struct auth_call *ac = call->data;
    if (ac->plugin != NULL)
        latch_plugin_unref(ac->plugin);
    ac->plugin = NULL;
    free(ac->stored_config);
    ac->stored_config = NULL;
    free(ac->redirect_uri);
    ac->redirect_uri = NULL;
    free(ac->uri);
    ac->uri = NULL;
    free(ac->session);
    ac->session = NULL;
}

static void auth_work(void *arg)
{
    struct auth_call *ac = arg;
    struct latch_plugin_call pc = {.session_json = "{}",
                                   .request_id = ac->xp->req->request_id,
                                   .tenant = ac->xp->req->tenant->id};
    ac->rc = latch_mgmt_connector_call_open(&pc, ac->master, ac->tenant_id, ac->connector_id,
                                            ac->stored_config);
    if (ac->rc == LATCH_OK) {
        ac->rc = latch_plugin_authorization_uri(ac->plugin, &pc, ac->flow_state, ac->redirect_uri,
                                                NULL, &ac->uri);
        ac->session = pc.session_out;
    }
    latch_mgmt_connector_call_close(&pc);
    if (ac->rc != LATCH_OK) {
        memcpy(ac->error_code, pc.error_code, sizeof(ac->error_code));
        memcpy(ac->error_detail, pc.error_detail, sizeof(ac->error_detail));
    }
}

static void auth_stored(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct auth_call *ac = call->data;
    struct latch_request *req = call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
    } else if (latch_store_result_rows(results[0]) < 1) {
        latch_xp_not_found(req);
    } else {
        struct latch_json j;
        latch_json_init(&j);
        latch_json_begin_object(&j);
        latch_json_key(&j, "authorizationUri");
        latch_json_string(&j, ac->uri);
        latch_json_key(&j, "verificationId");
        latch_json_string(&j, ac->verification_id);
        latch_json_end_object(&j);
        latch_xp_respond_json(req, 200, &j);
    }
    auth_cleanup(call);
}

static void auth_done(void *arg)
{
    struct auth_call *ac = arg;
    struct latch_xp_call *call = ac->xp;
    struct latch_request *req = call->req;
    if (ac->rc != LATCH_OK || ac->uri == NULL) {
        latch_http_log(req, LATCH_LOG_WARN, "connector %s (%s %s): authorization URI failed: %s %s",
                       ac->connector_id, ac->info.id, ac->info.version, ac->error_code,
                       ac->error_detail);
        latch_http_respond_errorf(req, 400,
                                  ac->error_code[0] ? ac->error_code : "connector.general",
                                  "The sign-in method could not start. Contact the "
                                  "administrator.");
        auth_cleanup(call);
        return;
    }
    /* The session must be a JSON object, as the plugin promised; anything else starts empty. */
    yajl_val s = parse_object(ac->session);
    const char *session = s != NULL ? ac->session : "{}";
    yajl_tree_free(s);
    struct latch_store_op op = {
        .stmt = &social_set,
        .params = {ac->tenant_id, call->id_hash, ac->connector_id, ac->info.id, ac->info.sha256,
                   ac->flow_state, session, ac->verification_id, ac->target,
                   ac->custom ? ac->redirect_uri : NULL},
    };
    latch_xp_exec(call, &op, 1, auth_stored);
}

static void auth_loaded(struct latch_xp_call *call, struct latch_store_result *const *results,
                        int n)
{
    struct auth_call *ac = call->data;
    struct latch_request *req = call->req;
    const struct latch_store_result *res = results[0];
    yajl_val factory = NULL, meta = NULL, targets = NULL;
    if (latch_store_result_rows(res) < 1) {
        latch_http_respond_errorf(req, 404, "entity.not_exists_with_id",
                                  "The connector with ID `%s` does not exist.", ac->connector_id);
        goto fail;
    }
    ac->plugin = latch_plugin_get(latch_store_result_value(res, 0, 0));
    if (ac->plugin != NULL && !is_social(ac->plugin)) {
        latch_plugin_unref(ac->plugin);
        ac->plugin = NULL;
    }
    if (ac->plugin == NULL) {
        latch_http_respond_errorf(req, 422, "connector.not_found",
                                  "This sign-in method is no longer available.");
        goto fail;
    }
    ac->info = *latch_plugin_info(ac->plugin);
    latch_audit_note(call->req, LATCH_AUDIT_CONNECTOR_VERSION, ac->info.version);
    /* An event-less social flow is a sign-in, as `identify` then makes it. */
    latch_audit_note_default(call->req, LATCH_AUDIT_EVENT, "SignIn");
    factory = factory_tree(ac->plugin);
    meta = parse_object(latch_store_result_value(res, 0, 2));
    targets = yajl_tree_parse(latch_store_result_value(res, 0, 3), NULL, 0);
    struct face f;
    face_read(factory, meta, NULL, &f);
    if (!targets_has(targets, f.target)) {
        latch_http_respond_errorf(req, 403, "auth.forbidden",
                                  "This sign-in method is not enabled.");
        goto fail;
    }
    ac->target = latch_arena_strdup(req->arena, f.target);
    ac->stored_config = strdup(latch_store_result_value(res, 0, 1));
    char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
    if (endpoint != NULL &&
        asprintf(&ac->redirect_uri, "%s/callback/%s", endpoint, ac->connector_id) < 0)
        ac->redirect_uri = NULL;
    free(endpoint);
    if (ac->target == NULL || ac->stored_config == NULL || ac->redirect_uri == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        goto fail;
    }
    /* A custom sign-in UI (Logto's Experience API) names its own page as the redirect URI and
     * keeps its own state: the upstream returns there, and the UI hands the callback's
     * parameters to …/verify, where the state is checked against the one kept here. The
     * upstream checks the redirect URI against its registration. The hosted page names the
     * tenant's callback and gets a state of the server's making. */
    ac->flow_state = ac->state;
    if (ac->client_redirect != NULL && strcmp(ac->client_redirect, ac->redirect_uri) != 0) {
        if (ac->client_state == NULL) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "`state` is required with a redirectUri of your own.");
            goto fail;
        }
        free(ac->redirect_uri);
        ac->redirect_uri = strdup(ac->client_redirect);
        if (ac->redirect_uri == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            goto fail;
        }
        ac->flow_state = ac->client_state;
        ac->custom = true;
    }
    if (latch_jose_token_new(ac->state) != LATCH_OK ||
        latch_jose_random_id(ac->verification_id, LATCH_XP_VERIFICATION_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        goto fail;
    }
    ac->tenant_id = req->tenant->id;
    ac->master = latch_loop_config(req->loop)->secret_key;
    yajl_tree_free(factory);
    yajl_tree_free(meta);
    yajl_tree_free(targets);
    struct latch_error err;
    if (latch_http_submit(req, LATCH_LANE_IO, auth_work, auth_done, ac, &err) != LATCH_OK) {
        latch_http_respond_error(req, &err);
        auth_cleanup(call);
    }
    return;
fail:
    yajl_tree_free(factory);
    yajl_tree_free(meta);
    yajl_tree_free(targets);
    auth_cleanup(call);
}

static bool connector_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= CONNECTOR_ID_MAX &&
           strspn(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-.") == n;
}

/* An absolute http(s) URL of printable ASCII without a fragment: where a custom sign-in UI
 * wants the upstream to return. */
static bool redirect_uri_ok(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return false;
    const char *host = strstr(u, "://") + 3;
    if (*host == '\0' || *host == '/' || *host == '?')
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || *p == '#')
            return false;
    return true;
}

/* The start of the Experience API's social routes: the path's connector id (404 when it cannot
 * name one), the mutating call, and size bytes of zeroed state in the arena. NULL after
 * answering. */
static struct latch_xp_call *social_begin(struct latch_request *req, size_t size, void **state,
                                          const char **cid)
{
    *cid = latch_http_param(req, "connectorId");
    if (!connector_id_ok(*cid)) {
        latch_http_respond_errorf(req, 404, "entity.not_exists_with_id",
                                  "The connector does not exist.");
        return NULL;
    }
    struct latch_xp_call *call = latch_xp_begin(req, true);
    if (call == NULL)
        return NULL;
    *state = latch_arena_calloc(req->arena, 1, size);
    if (*state == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return NULL;
    }
    return call;
}

static void post_authorization_uri(struct latch_request *req, void *arg)
{
    const char *cid;
    void *mem;
    latch_audit_track(req, "Interaction.{event}.Verification.Social.Create");
    struct latch_xp_call *call = social_begin(req, sizeof(struct auth_call), &mem, &cid);
    if (call == NULL)
        return;
    latch_audit_note(req, LATCH_AUDIT_CONNECTOR_ID, cid);
    struct auth_call *ac = mem;
    /* Logto's body {state, redirectUri, scope?} (see auth_loaded for what each is used for). */
    if (req->body_len > 0) {
        yajl_val body = latch_xp_body(req);
        if (body == NULL)
            return;
        const char *state, *redirect;
        bool ok = latch_xp_get_str(req, body, "state", "state", 512, false, &state) &&
                  latch_xp_get_str(req, body, "redirectUri", "redirectUri", 2048, false, &redirect);
        if (ok && redirect != NULL && !redirect_uri_ok(redirect)) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "`redirectUri` must be an absolute http or https URL "
                                      "without a fragment.");
            ok = false;
        }
        if (ok) {
            ac->client_state = state ? latch_arena_strdup(req->arena, state) : NULL;
            ac->client_redirect = redirect ? latch_arena_strdup(req->arena, redirect) : NULL;
            if ((state && !ac->client_state) || (redirect && !ac->client_redirect)) {
                latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
                ok = false;
            }
        }
        latch_xp_body_free(req, body);
        if (!ok)
            return;
    }
    ac->xp = call;
    ac->connector_id = cid;
    call->data = ac;
    call->cleanup = auth_cleanup;
    struct latch_store_op op = {.stmt = &connector_get, .params = {req->tenant->id, cid}};
    latch_xp_load(call, &op, 1, auth_loaded);
}

/* ---- <tenant endpoint>/callback/:connectorId ---- */

/* Appends s as is; a NULL s (an escape that ran out of memory) fails the page. */
static void raw(struct latch_json *b, const char *s)
{
    if (s == NULL) {
        b->failed = true;
        return;
    }
    b->comma = false;
    latch_json_raw(b, s, strlen(s));
}

/* The callback's answer when the sign-in cannot go on: a page a person can read. */
static void error_page(struct latch_request *req, int status, const char *title,
                       const char *message)
{
    const char *t = latch_html_escape(req->arena, title);
    const char *m = latch_html_escape(req->arena, message);
    struct latch_json b;
    latch_json_init(&b);
    raw(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    raw(&b, t);
    raw(&b, "</title></head><body><main><h1 id=\"title\">");
    raw(&b, t);
    raw(&b, "</h1><p id=\"error\" role=\"alert\">");
    raw(&b, m);
    raw(&b, "</p><p>Go back to the application and try again.</p></main></body></html>");
    size_t len = 0;
    char *page = latch_json_take(&b, &len);
    latch_http_add_header(req, "Content-Security-Policy",
                          "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    latch_http_add_header(req, "Referrer-Policy", "no-referrer");
    latch_http_add_header(req, "X-Frame-Options", "DENY");
    latch_http_add_header(req, "Cache-Control", "no-store");
    if (page == NULL) {
        latch_http_respond(req, status, "text/plain; charset=utf-8", message, strlen(message));
        return;
    }
    latch_http_respond(req, status, "text/html; charset=utf-8", page, len);
    free(page);
}

#define TITLE_FAILED "Sign-in failed"

/* One callback: the hosted flow's GET <tenant endpoint>/callback/:connectorId, or a custom UI's
 * POST …/social/:connectorId/verify (api: answers are Logto's JSON errors, and the profile is
 * kept for identification instead of signing in at once). */
struct cb_call {
    struct latch_request *req;
    char id_hash[LATCH_TOKEN_HASH_TEXT];
    const char *connector_id;
    bool api;
    const char *verification_id; /* api: the body's */
    struct latch_form form;
    /* loaded */
    const char *factory_id, *sha256, *state, *session, *target, *sign_in_mode;
    bool auto_link;
    char *stored_config; /* malloc'd */
    struct latch_plugin *plugin;
    char name[128]; /* the connector's English name, for messages */
    const char *tenant_id;
    const uint8_t *master;
    /* worker results */
    latch_rc rc;
    struct latch_plugin_user user;
    char error_code[64];
    char error_detail[256];
    char new_id[LATCH_USERS_ID_LEN + 1];
};

static void cb_clear(struct cb_call *cc)
{
    if (cc->plugin != NULL)
        latch_plugin_unref(cc->plugin);
    cc->plugin = NULL;
    free(cc->stored_config);
    cc->stored_config = NULL;
    latch_plugin_user_clear(&cc->user);
}

static void drop_done(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    (void)results;
    (void)n;
    (void)arg;
    if (err != NULL && err->status >= 500 && err->status != 503)
        latch_log_error("social callback: ending the flow", err);
}

/* Ends the flow after a failure (best effort; the page is answered at once). */
static void cb_drop(struct cb_call *cc)
{
    if (cc->state == NULL)
        return;
    struct latch_store_op op = {.stmt = &social_drop,
                                .params = {cc->req->tenant->id, cc->id_hash, cc->state}};
    latch_store_exec(latch_loop_store(cc->req->loop), cc->req->tenant->id, &op, 1, drop_done, NULL);
}

/* Answers a refused callback: an error page for the hosted flow, Logto's {code, message} for a
 * custom UI. */
static void cb_refuse(struct cb_call *cc, int status, const char *code, const char *message)
{
    if (cc->api)
        latch_http_respond_errorf(cc->req, status, code, "%s", message);
    else
        error_page(cc->req, status, TITLE_FAILED, message);
}

static void cb_fail(struct cb_call *cc, int status, const char *code, const char *message)
{
    cb_drop(cc);
    cb_refuse(cc, status, code, message);
    cb_clear(cc);
}

static void upstream_failed(struct cb_call *cc)
{
    const char *code = cc->error_code;
    const char *name = cc->name[0] ? cc->name : "The sign-in provider";
    char msg[384];
    int status = 502;
    if (strstr(code, "authorization_failed") != NULL) {
        status = 400;
        snprintf(msg, sizeof(msg),
                 "%s did not grant access: the sign-in was cancelled or consent was denied.", name);
    } else if (strstr(code, "auth_code") != NULL) {
        snprintf(msg, sizeof(msg),
                 "%s refused the sign-in code (it may have expired or been used already).", name);
    } else if (strstr(code, "access_token") != NULL) {
        snprintf(msg, sizeof(msg), "%s rejected the access token when your profile was requested.",
                 name);
    } else if (strstr(code, "timeout") != NULL) {
        status = 504;
        snprintf(msg, sizeof(msg), "%s did not answer in time.", name);
    } else if (strstr(code, "invalid_response") != NULL) {
        snprintf(msg, sizeof(msg), "%s sent a malformed answer that could not be understood.",
                 name);
    } else if (strstr(code, "invalid_config") != NULL) {
        status = 500;
        snprintf(msg, sizeof(msg),
                 "The %s sign-in is not configured correctly. Contact the administrator.", name);
    } else {
        snprintf(msg, sizeof(msg), "Signing in with %s failed.", name);
    }
    latch_http_log(cc->req, LATCH_LOG_WARN, "connector %s (%s): sign-in failed: %s %s",
                   cc->connector_id, cc->factory_id, code, cc->error_detail);
    latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_FAILURE);
    cb_fail(cc, status, strncmp(code, "connector.", 10) == 0 ? code : "connector.general", msg);
}

static void redirect(struct latch_request *req, const char *location)
{
    latch_http_add_header(req, "Location", location);
    latch_http_add_header(req, "Cache-Control", "no-store");
    latch_http_add_header(req, "Referrer-Policy", "no-referrer");
    latch_http_respond(req, 303, NULL, NULL, 0);
}

static void identify_done(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct cb_call *cc = arg;
    struct latch_request *req = cc->req;
    if (err != NULL) {
        if (err->status >= 500 && err->status != 503)
            latch_http_log_error(req, "social callback: identify", err);
        cb_fail(cc, err->status == 503 ? 503 : 500,
                err->status == 503 ? "service_unavailable" : "server_error",
                "The sign-in could not be completed because of a server problem.");
        return;
    }
    const struct latch_store_result *res = results[0];
    bool pending = strcmp(latch_store_result_value(res, 0, 0), "t") == 0;
    bool ex = !latch_store_result_isnull(res, 0, 1);
    bool ex_susp = ex && strcmp(latch_store_result_value(res, 0, 2), "t") == 0;
    bool linked = !latch_store_result_isnull(res, 0, 3);
    bool lk_susp = !latch_store_result_isnull(res, 0, 4) &&
                   strcmp(latch_store_result_value(res, 0, 4), "t") == 0;
    bool created = !latch_store_result_isnull(res, 0, 5);
    bool updated = strcmp(latch_store_result_value(res, 0, 6), "0") != 0;
    if (!pending) {
        latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_FAILURE);
        cb_fail(cc, 400, "session.verification_failed",
                "This sign-in link was already used or has expired.");
        return;
    }
    if (ex_susp || lk_susp) {
        latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_SUSPENDED);
        cb_fail(cc, 401, "user.suspended", "This account is suspended. Contact the administrator.");
        return;
    }
    if (!updated) {
        latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_FAILURE);
        cb_fail(cc, 403, "auth.forbidden",
                "No account is linked to this sign-in, and creating an account is not enabled.");
        return;
    }
    if (created)
        latch_http_log(req, LATCH_LOG_INFO, "user %s registered with connector %s",
                       latch_store_result_value(res, 0, 5), cc->connector_id);
    else if (linked)
        latch_http_log(req, LATCH_LOG_INFO, "connector %s linked to user %s", cc->connector_id,
                       latch_store_result_value(res, 0, 3));
    (void)ex;
    latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_SUCCESS);
    char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
    char *target =
        endpoint ? latch_arena_printf(req->arena, "%s/oidc/auth/resume", endpoint) : NULL;
    free(endpoint);
    cb_clear(cc);
    if (target == NULL) {
        error_page(req, 503, TITLE_FAILED, "The server is out of memory; try again.");
        return;
    }
    redirect(req, target);
}

/* A copy of s cut to at most max bytes on a UTF-8 boundary (arena), NULL when s is NULL. */
static const char *cut(struct latch_arena *arena, const char *s, size_t max)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    if (n <= max)
        return latch_arena_strdup(arena, s);
    while (n > 0 && n > max)
        n--;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return latch_arena_strndup(arena, s, n);
}

/* What the upstream profile contributes to an account (arena strings; NULL when absent). */
struct social_profile {
    const char *uid;      /* the upstream's user id */
    const char *name;     /* cut to NAME_MAX_BYTES */
    const char *avatar;   /* NULL when too long */
    const char *email;    /* only when the upstream says it is verified */
    const char *identity; /* users.identities.<target>: {userId, details} as JSON text */
};

/* Reads cc->user into *p; false after answering (an unusable profile, out of memory). */
static bool profile_prepare(struct cb_call *cc, struct social_profile *p)
{
    struct latch_request *req = cc->req;
    const struct latch_plugin_user *u = &cc->user;
    if (u->id == NULL || u->id[0] == '\0' || strlen(u->id) > 256) {
        snprintf(cc->error_code, sizeof(cc->error_code), "connector.invalid_response");
        snprintf(cc->error_detail, sizeof(cc->error_detail), "profile without a usable id");
        upstream_failed(cc);
        return false;
    }
    const char *email = u->email && u->email_verified && strlen(u->email) <= EMAIL_MAX &&
                                strchr(u->email, '@') != NULL
                            ? u->email
                            : NULL;
    const char *avatar = u->avatar && strlen(u->avatar) <= AVATAR_MAX ? u->avatar : NULL;
    yajl_val raw_tree = u->raw_json ? yajl_tree_parse(u->raw_json, NULL, 0) : NULL;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "userId");
    latch_json_string(&j, u->id);
    latch_json_key(&j, "details");
    latch_json_begin_object(&j);
    latch_json_key(&j, "id");
    latch_json_string(&j, u->id);
    const char *keys[] = {"name", "email", "avatar", "phone"};
    const char *vals[] = {u->name, u->email, u->avatar, u->phone};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (vals[i] != NULL) {
            latch_json_key(&j, keys[i]);
            latch_json_string(&j, vals[i]);
        }
    }
    if (raw_tree != NULL) {
        latch_json_key(&j, "rawData");
        latch_json_raw(&j, u->raw_json, strlen(u->raw_json));
    }
    latch_json_end_object(&j);
    latch_json_end_object(&j);
    yajl_tree_free(raw_tree);
    char *identity_text = latch_json_take(&j, NULL);
    p->identity = identity_text ? latch_arena_strdup(req->arena, identity_text) : NULL;
    free(identity_text);
    p->uid = latch_arena_strdup(req->arena, u->id);
    p->name = cut(req->arena, u->name, NAME_MAX_BYTES);
    p->email = email ? latch_arena_strdup(req->arena, email) : NULL;
    p->avatar = avatar ? latch_arena_strdup(req->arena, avatar) : NULL;
    if (p->identity == NULL || p->uid == NULL || (email && !p->email) || (avatar && !p->avatar) ||
        (u->name && !p->name)) {
        cb_fail(cc, 503, "service_unavailable", "The server is out of memory; try again.");
        return false;
    }
    return true;
}

/* The statement that follows `identify` in its transaction: the organizations the new user
 * new_id joined by JIT, reported to webhooks. False when out of memory. */
static bool jit_hook_op(struct latch_request *req, const char *new_id, struct latch_store_op *op)
{
    const char *head = latch_mgmt_hook_xp_head(req, NULL);
    *op = (struct latch_store_op){&latch_mgmt_hook_jit_stmt, {req->tenant->id, new_id, head}};
    return head != NULL;
}

/* The hosted flow: who signs in is decided now, and the browser resumes the authorization. */
static void cb_identify(struct cb_call *cc)
{
    struct latch_request *req = cc->req;
    struct social_profile p;
    if (!profile_prepare(cc, &p))
        return;
    if (latch_users_new_id(cc->new_id) != LATCH_OK) {
        cb_fail(cc, 500, "server_error", "Internal error.");
        return;
    }
    bool allow_signup = strcmp(cc->sign_in_mode, "SignIn") != 0;
    struct latch_store_op ops[2] = {
        {.stmt = &identify,
         .params = {req->tenant->id, cc->id_hash, cc->state, cc->target, p.uid, cc->new_id, p.name,
                    p.avatar, p.email, p.identity, allow_signup ? "true" : "false",
                    cc->auto_link ? "true" : "false"}},
    };
    if (!jit_hook_op(req, cc->new_id, &ops[1])) {
        cb_fail(cc, 503, "service_unavailable", "The server is out of memory; try again.");
        return;
    }
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, ops, 2, identify_done, cc);
}

static void profile_stored(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct cb_call *cc = arg;
    struct latch_request *req = cc->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
    } else if (n < 1 || latch_store_result_rows(results[0]) < 1) {
        cb_refuse(cc, 400, "session.verification_failed",
                  "This social verification was already used or has expired.");
    } else {
        struct latch_json j;
        latch_json_init(&j);
        latch_json_begin_object(&j);
        latch_json_key(&j, "verificationId");
        latch_json_string(&j, cc->verification_id);
        latch_json_end_object(&j);
        latch_xp_respond_json(req, 200, &j);
    }
    cb_clear(cc);
}

/* A custom UI's …/verify: the profile is kept in the flow; POST /api/experience/identification
 * with the verification id decides who signs in (latch_xp_social_identify). */
static void cb_store_profile(struct cb_call *cc)
{
    struct latch_request *req = cc->req;
    struct social_profile p;
    if (!profile_prepare(cc, &p))
        return;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    const char *keys[] = {"uid", "name", "avatar", "email"};
    const char *vals[] = {p.uid, p.name, p.avatar, p.email};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (vals[i] != NULL) {
            latch_json_key(&j, keys[i]);
            latch_json_string(&j, vals[i]);
        }
    }
    latch_json_key(&j, "identity");
    latch_json_raw(&j, p.identity, strlen(p.identity));
    latch_json_end_object(&j);
    char *text = latch_json_take(&j, NULL);
    const char *profile = text ? latch_arena_strdup(req->arena, text) : NULL;
    free(text);
    if (profile == NULL) {
        cb_fail(cc, 503, "service_unavailable", "The server is out of memory; try again.");
        return;
    }
    struct latch_store_op op = {
        .stmt = &profile_set,
        .params = {req->tenant->id, cc->id_hash, cc->state, cc->verification_id, profile},
    };
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, profile_stored, cc);
}

static void cb_work(void *arg)
{
    struct cb_call *cc = arg;
    const char *names[LATCH_FORM_MAX_FIELDS], *values[LATCH_FORM_MAX_FIELDS];
    for (int i = 0; i < cc->form.n; i++) {
        names[i] = cc->form.fields[i].name;
        values[i] = cc->form.fields[i].value;
    }
    struct latch_plugin_call pc = {.session_json = cc->session,
                                   .request_id = cc->req->request_id,
                                   .tenant = cc->req->tenant->id};
    cc->rc = latch_mgmt_connector_call_open(&pc, cc->master, cc->tenant_id, cc->connector_id,
                                            cc->stored_config);
    if (cc->rc == LATCH_OK) {
        cc->rc =
            latch_plugin_user_info(cc->plugin, &pc, names, values, (size_t)cc->form.n, &cc->user);
        free(pc.session_out); /* the flow ends here */
    }
    latch_mgmt_connector_call_close(&pc);
    if (cc->rc != LATCH_OK) {
        memcpy(cc->error_code, pc.error_code, sizeof(cc->error_code));
        cc->error_code[sizeof(cc->error_code) - 1] = '\0';
        memcpy(cc->error_detail, pc.error_detail, sizeof(cc->error_detail));
        cc->error_detail[sizeof(cc->error_detail) - 1] = '\0';
    }
}

static void cb_work_done(void *arg)
{
    struct cb_call *cc = arg;
    if (cc->rc != LATCH_OK) {
        upstream_failed(cc);
        return;
    }
    if (cc->api)
        cb_store_profile(cc);
    else
        cb_identify(cc);
}

static const char *colv(struct latch_request *req, const struct latch_store_result *res, int c)
{
    if (latch_store_result_isnull(res, 0, c))
        return NULL;
    return latch_arena_strdup(req->arena, latch_store_result_value(res, 0, c));
}

static void cb_loaded(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    struct cb_call *cc = arg;
    struct latch_request *req = cc->req;
    if (err != NULL) {
        if (err->status >= 500 && err->status != 503)
            latch_http_log_error(req, "social callback: load", err);
        if (cc->api)
            latch_xp_store_error(req, err);
        else
            error_page(req, err->status == 503 ? 503 : 500, TITLE_FAILED,
                       "The sign-in could not be completed because of a server problem.");
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) < 1) {
        if (cc->api)
            latch_xp_not_found(req);
        else
            error_page(req, 400, TITLE_FAILED,
                       "This sign-in session has expired or was not found in this browser.");
        return;
    }
    const char *cid = colv(req, res, 0);
    cc->factory_id = colv(req, res, 1);
    cc->sha256 = colv(req, res, 2);
    const char *state = colv(req, res, 3);
    cc->session = colv(req, res, 4);
    cc->target = colv(req, res, 5);
    cc->sign_in_mode = colv(req, res, 6);
    cc->auto_link = !latch_store_result_isnull(res, 0, 7) &&
                    strcmp(latch_store_result_value(res, 0, 7), "t") == 0;
    const char *vid = colv(req, res, 9);
    latch_audit_note_default(req, LATCH_AUDIT_EVENT, colv(req, res, 11));
    latch_audit_note_default(req, LATCH_AUDIT_EVENT, "SignIn"); /* as `identify` makes it */
    bool has_profile = !latch_store_result_isnull(res, 0, 10) &&
                       strcmp(latch_store_result_value(res, 0, 10), "t") == 0;
    if (cid == NULL || state == NULL || cc->factory_id == NULL || cc->sha256 == NULL ||
        cc->target == NULL || cc->sign_in_mode == NULL || strcmp(cid, cc->connector_id) != 0 ||
        (cc->api && (vid == NULL || strcmp(vid, cc->verification_id) != 0)) || has_profile) {
        cb_refuse(cc, cc->api ? 404 : 400, "session.verification_session_not_found",
                  "No sign-in with this method is under way in this browser.");
        return;
    }
    const char *given = latch_form_get(&cc->form, "state");
    if (!latch_xp_csrf_ok(state, given)) {
        latch_http_log(req, LATCH_LOG_WARN, "connector %s: callback with a wrong state",
                       cc->connector_id);
        cb_refuse(cc, 400, "session.connector_validation_session_not_found",
                  "The sign-in response does not belong to this sign-in (state mismatch).");
        return;
    }
    cc->state = state;
    if (cc->session == NULL)
        cc->session = "{}";
    if (latch_store_result_isnull(res, 0, 8)) {
        cb_fail(cc, 410, "connector.not_found", "This sign-in method is no longer available.");
        return;
    }
    /* The version the flow started on, even when a newer one was loaded since. */
    cc->plugin = latch_plugin_get_version(cc->factory_id, cc->sha256);
    if (cc->plugin != NULL && !is_social(cc->plugin)) {
        latch_plugin_unref(cc->plugin);
        cc->plugin = NULL;
    }
    if (cc->plugin == NULL) {
        cb_fail(cc, 410, "connector.not_found", "This sign-in method is no longer available.");
        return;
    }
    latch_audit_note(req, LATCH_AUDIT_CONNECTOR_VERSION, latch_plugin_info(cc->plugin)->version);
    yajl_val factory = factory_tree(cc->plugin);
    struct face f;
    face_read(factory, NULL, "en", &f);
    snprintf(cc->name, sizeof(cc->name), "%s", f.name ? f.name : "");
    yajl_tree_free(factory);
    cc->stored_config = strdup(latch_store_result_value(res, 0, 8));
    if (cc->stored_config == NULL) {
        cb_fail(cc, 503, "service_unavailable", "The server is out of memory; try again.");
        return;
    }
    cc->tenant_id = req->tenant->id;
    cc->master = latch_loop_config(req->loop)->secret_key;
    struct latch_error werr;
    if (latch_http_submit(req, LATCH_LANE_IO, cb_work, cb_work_done, cc, &werr) != LATCH_OK) {
        cb_refuse(cc, 503, "service_unavailable", "The server is busy; try again in a moment.");
        cb_clear(cc);
    }
}

static void get_callback(struct latch_request *req, void *arg)
{
    const char *cid = latch_http_param(req, "connectorId");
    if (!connector_id_ok(cid)) {
        error_page(req, 404, TITLE_FAILED, "This sign-in method does not exist.");
        return;
    }
    const char *name = latch_http_tenant_cookie_name(req, COOKIE_PREFIX);
    const char *token = name ? latch_http_cookie_get(req, name) : NULL;
    if (token == NULL || token[0] == '\0' || strlen(token) > TOKEN_MAX_BYTES) {
        error_page(req, 400, TITLE_FAILED,
                   "This sign-in session has expired or was not found in this browser.");
        return;
    }
    latch_audit_track(req, "Interaction.{event}.Verification.Social.Submit");
    latch_audit_note(req, LATCH_AUDIT_CONNECTOR_ID, cid);
    struct cb_call *cc = latch_arena_calloc(req->arena, 1, sizeof(*cc));
    if (cc == NULL) {
        error_page(req, 503, TITLE_FAILED, "The server is out of memory; try again.");
        return;
    }
    cc->req = req;
    cc->connector_id = cid;
    struct latch_error err;
    if (latch_form_parse(&cc->form, req->arena, req->query, strlen(req->query), &err) != LATCH_OK) {
        error_page(req, 400, TITLE_FAILED, "The sign-in response is malformed.");
        return;
    }
    if (latch_jose_token_hash(token, cc->id_hash) != LATCH_OK) {
        error_page(req, 500, TITLE_FAILED, "Internal error.");
        return;
    }
    struct latch_store_op op = {.stmt = &callback_load,
                                .params = {req->tenant->id, cc->id_hash, cid}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, cb_loaded, cc);
}

/* A form-posting upstream (response_mode=form_post): the same parameters as a GET, so the
 * interaction cookie (SameSite=Lax) is sent. */
static void post_callback(struct latch_request *req, void *arg)
{
    const char *cid = latch_http_param(req, "connectorId");
    if (!connector_id_ok(cid)) {
        error_page(req, 404, TITLE_FAILED, "This sign-in method does not exist.");
        return;
    }
    const char *ct = latch_http_header_get(req, "content-type");
    const char *body = req->body ? req->body : "";
    if ((req->body_len > 0 &&
         (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0)) ||
        req->body_len > CALLBACK_BODY_MAX || strlen(body) != req->body_len) {
        error_page(req, 400, TITLE_FAILED, "The sign-in response is malformed.");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7F || *p == '#') {
            error_page(req, 400, TITLE_FAILED, "The sign-in response is malformed.");
            return;
        }
    }
    char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
    char *location = endpoint ? latch_arena_printf(req->arena, "%s/callback/%s%s%s", endpoint, cid,
                                                   body[0] ? "?" : "", body)
                              : NULL;
    free(endpoint);
    if (location == NULL) {
        error_page(req, 503, TITLE_FAILED, "The server is out of memory; try again.");
        return;
    }
    redirect(req, location);
}

/* ---- POST /api/experience/verification/social/:connectorId/verify ---- */

/* The most callback parameters a custom UI may hand over, and the longest value. */
#define CONNECTOR_DATA_VALUE_MAX 4096

static void verify_loaded(struct latch_xp_call *call, struct latch_store_result *const *results,
                          int n)
{
    cb_loaded(results, n, NULL, call->data);
}

/* Logto's body {connectorData, verificationId}: connectorData holds the parameters the upstream
 * sent to the custom UI's redirect URI (code, state, ...), all strings. */
static void post_verify(struct latch_request *req, void *arg)
{
    (void)arg;
    const char *cid;
    void *mem;
    latch_audit_track(req, "Interaction.{event}.Verification.Social.Submit");
    struct latch_xp_call *call = social_begin(req, sizeof(struct cb_call), &mem, &cid);
    if (call == NULL)
        return;
    latch_audit_note(req, LATCH_AUDIT_CONNECTOR_ID, cid);
    struct cb_call *cc = mem;
    cc->req = req;
    cc->connector_id = cid;
    cc->api = true;
    memcpy(cc->id_hash, call->id_hash, sizeof(cc->id_hash));
    yajl_val body = latch_xp_body(req);
    if (body == NULL)
        return;
    const char *vid;
    bool ok = latch_xp_get_str(req, body, "verificationId", "verificationId", 64, true, &vid);
    yajl_val data = ok ? obj_get(body, "connectorData") : NULL;
    if (ok &&
        (data == NULL || !YAJL_IS_OBJECT(data) || data->u.object.len > LATCH_FORM_MAX_FIELDS)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "`connectorData` must be an object of at most %d strings.",
                                  LATCH_FORM_MAX_FIELDS);
        ok = false;
    }
    if (ok) {
        cc->verification_id = latch_arena_strdup(req->arena, vid);
        ok = cc->verification_id != NULL;
        for (size_t i = 0; ok && i < data->u.object.len; i++) {
            const char *key = data->u.object.keys[i];
            yajl_val v = data->u.object.values[i];
            /* As a query string would carry them: strings, possibly empty. */
            const char *value = YAJL_IS_STRING(v) ? v->u.string : NULL;
            size_t len = value ? strlen(value) : 0;
            bool printable = value != NULL;
            for (size_t k = 0; printable && k < len; k++)
                printable = (unsigned char)value[k] >= 0x20 && value[k] != 0x7F;
            if (!printable || len > CONNECTOR_DATA_VALUE_MAX || strlen(key) > 128) {
                latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                          "connectorData: `%.128s` must be a string of at most %d "
                                          "bytes without control characters",
                                          key, CONNECTOR_DATA_VALUE_MAX);
                ok = false;
                break;
            }
            struct latch_form_field *f = &cc->form.fields[cc->form.n++];
            f->name = latch_arena_strdup(req->arena, key);
            f->value = latch_arena_strdup(req->arena, value);
            if (f->name == NULL || f->value == NULL) {
                latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
                ok = false;
            }
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->data = cc;
    struct latch_store_op op = {.stmt = &callback_load,
                                .params = {req->tenant->id, cc->id_hash, cid}};
    latch_xp_load(call, &op, 1, verify_loaded);
}

/* ---- identification with a verified social profile ---- */

struct social_id {
    struct latch_xp_call *call;
    bool sign_up;
    char new_id[LATCH_USERS_ID_LEN + 1];
};

static void api_identify_done(struct latch_store_result *const *results, int n,
                              const struct latch_error *err, void *arg)
{
    struct social_id *si = arg;
    struct latch_request *req = si->call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    bool pending = strcmp(latch_store_result_value(res, 0, 0), "t") == 0;
    bool ex_susp = !latch_store_result_isnull(res, 0, 1) &&
                   strcmp(latch_store_result_value(res, 0, 2), "t") == 0;
    bool lk_susp = !latch_store_result_isnull(res, 0, 4) &&
                   strcmp(latch_store_result_value(res, 0, 4), "t") == 0;
    bool created = !latch_store_result_isnull(res, 0, 5);
    bool updated = strcmp(latch_store_result_value(res, 0, 6), "0") != 0;
    if (!pending) {
        latch_xp_verification_not_found(req);
    } else if (ex_susp || lk_susp) {
        latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_SUSPENDED);
        latch_http_respond_errorf(req, 401, "user.suspended", "This account is suspended.");
    } else if (!updated) {
        /* Logto's answer: the client may switch the event to Register and identify again. */
        latch_http_respond_errorf(req, 422, "user.identity_not_exist",
                                  "The social account has not been registered yet.");
    } else {
        latch_metrics_signin(LATCH_METRICS_SIGNIN_SOCIAL, LATCH_METRICS_SIGNIN_SUCCESS);
        if (created) {
            latch_http_log(req, LATCH_LOG_INFO, "user %s registered with a social verification",
                           latch_store_result_value(res, 0, 5));
            latch_http_respond_json(req, 201, "{}", 2);
        } else {
            latch_http_respond(req, 204, NULL, NULL, 0);
        }
    }
}

static void api_profile_loaded(struct latch_store_result *const *results, int n,
                               const struct latch_error *err, void *arg)
{
    struct social_id *si = arg;
    struct latch_xp_call *call = si->call;
    struct latch_request *req = call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) < 1) {
        latch_xp_verification_not_found(req);
        return;
    }
    if (latch_users_new_id(si->new_id) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op ops[2] = {
        {.stmt = &identify,
         .params = {req->tenant->id, call->id_hash, colv(req, res, 0), colv(req, res, 1),
                    colv(req, res, 2), si->new_id, colv(req, res, 3), colv(req, res, 4),
                    colv(req, res, 5), colv(req, res, 6), si->sign_up ? "true" : "false",
                    strcmp(latch_store_result_value(res, 0, 7), "t") == 0 ? "true" : "false"}},
    };
    if (!jit_hook_op(req, si->new_id, &ops[1])) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, ops, 2, api_identify_done, si);
}

void latch_xp_social_identify(struct latch_xp_call *call, const char *verification_id, bool sign_up)
{
    struct latch_request *req = call->req;
    struct social_id *si = latch_arena_calloc(req->arena, 1, sizeof(*si));
    if (si == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    si->call = call;
    si->sign_up = sign_up;
    struct latch_store_op op = {.stmt = &profile_get,
                                .params = {req->tenant->id, call->id_hash, verification_id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, api_profile_loaded, si);
}

latch_rc latch_xp_social_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(
            srv, LATCH_HTTP_POST,
            "/api/experience/verification/social/:connectorId/authorization-uri",
            post_authorization_uri, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST,
                                      "/api/experience/verification/social/:connectorId/verify",
                                      post_verify, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/callback/:connectorId", get_callback,
                                      NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/callback/:connectorId", post_callback,
                                      NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
