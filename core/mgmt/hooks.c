/*
 * Webhooks in the Management API, as Logto's /api/hooks (packages/core/src/routes/hook.ts):
 * create, list, read, update and delete hooks, rotate a hook's signing key, send a test payload
 * now (POST /api/hooks/:id/test) and read the attempts of the last 24 hours
 * (/api/hooks/:id/recent-logs, includeExecutionStats). Also the statement every change that
 * Logto reports to hooks adds to its own transaction (latch_mgmt_hook_op): the events go to the
 * outbox (schema/0014_hooks.sql) together with the change, and hook_delivery.c delivers them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "outbound/outbound.h"
#include "tenants/tenants.h"
#include "users/users.h"

#define HOOK_ENTITY      "hook"
#define HOOK_NAME_MAX    256
#define HOOK_KEY_LEN     32
#define HOOK_URL_MAX     2048
#define HOOK_HEADERS_MAX 32
#define HOOK_HEADER_MAX  4096

/* Logto's hookEvents, in its order. PostSignInAdaptiveMfaTriggered is refused as Logto refuses
 * it without its dev features; Identifier.Lockout and Message.RateLimited are accepted (Logto's
 * guard does) but Latch has no such exception events yet, so they never fire. */
static const char *const hook_events[] = {
    "PostRegister",
    "PostSignIn",
    "PostResetPassword",
    "User.Created",
    "User.Deleted",
    "User.Data.Updated",
    "User.SuspensionStatus.Updated",
    "Role.Created",
    "Role.Deleted",
    "Role.Data.Updated",
    "Role.Scopes.Updated",
    "Scope.Created",
    "Scope.Deleted",
    "Scope.Data.Updated",
    "Organization.Created",
    "Organization.Deleted",
    "Organization.Data.Updated",
    "Organization.Membership.Updated",
    "OrganizationRole.Created",
    "OrganizationRole.Deleted",
    "OrganizationRole.Data.Updated",
    "OrganizationRole.Scopes.Updated",
    "OrganizationScope.Created",
    "OrganizationScope.Deleted",
    "OrganizationScope.Data.Updated",
    "Identifier.Lockout",
    "Message.RateLimited",
    NULL,
};

/* Header names a hook's config may not set: the request's framing and its signature are ours. */
static const char *const reserved_headers[] = {
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "expect",
    "te",
    "upgrade",
    "trailer",
    "keep-alive",
    LATCH_HOOKS_SIGNATURE_HEADER,
    NULL,
};

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define HOOK_JSON(h)                                                                               \
    "json_build_object('tenantId', " h ".tenant_id, 'id', " h ".id, 'name', " h ".name,"           \
    " 'event', " h ".event, 'events', " h ".events, 'signingKey', " h ".signing_key,"              \
    " 'enabled', " h ".enabled, 'config', " h ".config, 'createdAt', "                            \
    LATCH_MGMT_SQL_MS(h ".created_at") ")"
/* Logto's getHookExecutionStatsByHookId: the attempts of the last 24 hours. */
#define HOOK_STATS(h)                                                                              \
    "(SELECT json_build_object('requestCount', count(*), 'successCount',"                          \
    " count(*) FILTER (WHERE l.payload->>'result' = 'Success')) FROM hook_logs l"                  \
    " WHERE l.tenant_id = " h ".tenant_id AND l.hook_id = " h ".id"                                \
    " AND l.created_at > now() - interval '1 day')"
/* $n true: with executionStats. */
#define HOOK_JSON_STATS(h, n)                                                                      \
    "CASE WHEN " n "::boolean THEN (" HOOK_JSON(h) "::jsonb || jsonb_build_object("                \
    "'executionStats', " HOOK_STATS(h) "))::json ELSE " HOOK_JSON(h) " END"

/* $2/$3 limit/offset (limit NULL: all), $4 includeExecutionStats. */
static const struct latch_stmt hook_list = {
    .name = "mgmt_hook_list",
    .sql = "WITH p AS (SELECT " HOOK_JSON_STATS("h", "$4") " AS j, h.created_at, h.id"
           " FROM hooks h WHERE h.tenant_id = $1"
           " ORDER BY h.created_at DESC, h.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM hooks WHERE tenant_id = $1)",
    .nparams = 4,
};

static const struct latch_stmt hook_get = {
    .name = "mgmt_hook_get",
    .sql = "SELECT " HOOK_JSON_STATS("h", "$3") " FROM hooks h WHERE h.tenant_id = $1 AND h.id = $2",
    .nparams = 3,
};

/* $3 name, $4 event, $5 events (JSON array), $6 config, $7 signing key, $8 enabled. */
static const struct latch_stmt hook_insert = {
    .name = "mgmt_hook_insert",
    .sql = "INSERT INTO hooks AS h (tenant_id, id, name, event, events, config, signing_key,"
           " enabled) VALUES ($1, $2, coalesce($3, ''), $4, $5::jsonb, $6::jsonb, $7,"
           " coalesce($8::boolean, true)) RETURNING " HOOK_JSON("h"),
    .nparams = 8,
};

/* $3 name, $4 '1' when event is given ($5 its value, NULL clears it), $6 events, $7 config,
 * $8 enabled; NULL keeps the column. */
static const struct latch_stmt hook_update = {
    .name = "mgmt_hook_update",
    .sql = "UPDATE hooks AS h SET name = coalesce($3, h.name),"
           " event = CASE WHEN $4::text IS NULL THEN h.event ELSE $5 END,"
           " events = coalesce($6::jsonb, h.events), config = coalesce($7::jsonb, h.config),"
           " enabled = coalesce($8::boolean, h.enabled)"
           " WHERE h.tenant_id = $1 AND h.id = $2 RETURNING " HOOK_JSON("h"),
    .nparams = 8,
};

static const struct latch_stmt hook_rotate = {
    .name = "mgmt_hook_rotate",
    .sql = "UPDATE hooks AS h SET signing_key = $3 WHERE h.tenant_id = $1 AND h.id = $2"
           " RETURNING " HOOK_JSON("h"),
    .nparams = 3,
};

static const struct latch_stmt hook_delete = {
    .name = "mgmt_hook_delete",
    .sql = "DELETE FROM hooks WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

static const struct latch_stmt hook_signing_key = {
    .name = "mgmt_hook_signing_key",
    .sql = "SELECT signing_key FROM hooks WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

/* Logto's recent-logs: TriggerHook.* entries of the hook in the last 24 hours, newest first.
 * $3/$4 limit/offset, $5 logKey. */
static const struct latch_stmt hook_recent_logs = {
    .name = "mgmt_hook_recent_logs",
    .sql = "WITH f AS (SELECT * FROM hook_logs l WHERE l.tenant_id = $1 AND l.hook_id = $2"
           " AND l.created_at > now() - interval '1 day' AND ($5::text IS NULL OR l.key = $5)),"
           " p AS (SELECT f.id, f.created_at, json_build_object('id', f.id::text, 'key', f.key,"
           " 'payload', f.payload, 'createdAt', " LATCH_MGMT_SQL_MS("f.created_at") ") AS j"
           " FROM f ORDER BY f.created_at DESC, f.id DESC LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id DESC) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 5,
};

/* The emission statements (latch_mgmt_hook_op): $1 event, $2 the payload's head, $3 tenant,
 * $4 the id of the item, $5 true when only an item this transaction wrote counts (its row
 * version's xmin is this transaction), $6 the item's owner named in the path when it has one
 * (a scope's resource: a scope of another resource is not the one the route changes). The data is read back from the row as the Management API
 * shows it; without such a row (the change did not happen) nothing is emitted. */
#define HOOK_EMIT(kind, json, table, owner)                                                        \
    {                                                                                              \
        .name = "hook_emit_" kind,                                                                 \
        .sql = "SELECT latch_hook_emit($1, $2, ',\"data\":' || (SELECT " json "::text"             \
               " FROM " table " x WHERE x.tenant_id = $3 AND x.id = $4"                            \
               " AND ($5::boolean IS NOT TRUE OR x.xmin = pg_current_xact_id()::xid)"               \
               " AND ($6::text IS NULL OR " owner " = $6)))",                                      \
        .nparams = 6,                                                                              \
    }
static const struct latch_stmt hook_emit[LATCH_MGMT_HOOK_KINDS] = {
    [LATCH_MGMT_HOOK_USER] = HOOK_EMIT("user", LATCH_USERS_SQL_JSON("x"), "users", "NULL"),
    [LATCH_MGMT_HOOK_ORGANIZATION] =
        HOOK_EMIT("organization",
                  "json_build_object('tenantId', x.tenant_id, 'id', x.id, 'name', x.name,"
                  " 'description', x.description, 'customData', x.custom_data,"
                  " 'isMfaRequired', x.is_mfa_required, 'branding', x.branding, 'createdAt', "
                  LATCH_MGMT_SQL_MS("x.created_at") ")",
                  "organizations", "NULL"),
    [LATCH_MGMT_HOOK_ROLE] = HOOK_EMIT("role", LATCH_MGMT_SQL_ROLE_JSON("x"), "roles", "NULL"),
    [LATCH_MGMT_HOOK_SCOPE] = HOOK_EMIT("scope", LATCH_MGMT_SQL_SCOPE_JSON("x"), "scopes", "x.resource_id"),
    [LATCH_MGMT_HOOK_ORGANIZATION_ROLE] =
        HOOK_EMIT("organization_role",
                  "json_build_object('tenantId', x.tenant_id, 'id', x.id, 'name', x.name,"
                  " 'description', x.description, 'type', x.type, 'createdAt', "
                  LATCH_MGMT_SQL_MS("x.created_at") ")",
                  "organization_roles", "NULL"),
    [LATCH_MGMT_HOOK_ORGANIZATION_SCOPE] =
        HOOK_EMIT("organization_scope",
                  "json_build_object('tenantId', x.tenant_id, 'id', x.id, 'name', x.name,"
                  " 'description', x.description, 'createdAt', "
                  LATCH_MGMT_SQL_MS("x.created_at") ")",
                  "organization_scopes", "NULL"),
    /* A member added or removed by this transaction, as the relation tables' triggers mark it
     * (schema/0014_hooks.sql; an add of a member already there changes nothing). $3, $5 and $6 are
     * unused. */
    [LATCH_MGMT_HOOK_MEMBERSHIP] =
        {
            .name = "hook_emit_membership",
            .sql = "SELECT latch_hook_emit($1, $2, ',\"organizationId\":' || to_json($4::text)::text)"
                   " WHERE $3::text IS NOT NULL AND $5::boolean IS NOT NULL AND $6::text IS NULL"
                   " AND current_setting('latch.members_changed', true) = 'on'",
            .nparams = 6,
        },    /* $4 the invitation; its organization gained the member. */
    [LATCH_MGMT_HOOK_INVITATION_MEMBERSHIP] =
        {
            .name = "hook_emit_invitation_membership",
            .sql = "SELECT latch_hook_emit($1, $2, ',\"organizationId\":' || to_json(x.organization_id::text)::text)"
                   " FROM organization_invitations x WHERE x.tenant_id = $3 AND x.id = $4"
                   " AND $5::boolean IS NOT NULL AND $6::text IS NULL"
                   " AND current_setting('latch.members_changed', true) = 'on'",
            .nparams = 6,
        },
    /* $5: an add (true: the role's scopes as data) or a removal (false: no data). */
    [LATCH_MGMT_HOOK_ROLE_SCOPES] =
        {
            .name = "hook_emit_role_scopes",
            .sql = "SELECT latch_hook_emit($1, $2, CASE WHEN $5::boolean THEN ',\"data\":' ||"
                   " (SELECT coalesce(json_agg(" LATCH_MGMT_SQL_SCOPE_JSON("s")
                   " ORDER BY s.created_at, s.id), '[]'::json) FROM scopes s JOIN roles_scopes rs"
                   " ON rs.tenant_id = s.tenant_id AND rs.scope_id = s.id"
                   " WHERE s.tenant_id = $3 AND rs.tenant_id = $3 AND rs.role_id = $4)::text"
                   " ELSE '' END)"
                   " WHERE $6::text IS NULL"
                   " AND current_setting('latch.role_scopes_changed', true) = 'on'",
            .nparams = 6,
        },
    [LATCH_MGMT_HOOK_ORGANIZATION_ROLE_SCOPES] =
        {
            .name = "hook_emit_organization_role_scopes",
            .sql = "SELECT latch_hook_emit($1, $2, '')"
                   " WHERE $3::text IS NOT NULL AND $4::text IS NOT NULL"
                   " AND $5::boolean IS NOT NULL AND $6::text IS NULL"
                   " AND current_setting('latch.organization_role_scopes_changed', true) = 'on'",
            .nparams = 6,
        },
};

/* The sign-in experience's events, at POST /api/experience/submit: once per interaction (the
 * `_hooked` mark), for the user it identified. $1 tenant, $2 the interaction's id hash, $3 the
 * head of the payload. PostRegister and User.Created for a registration (Logto reports both),
 * PostSignIn for a sign-in. (A reset has its own statement, below.) */
#define XP_USER_INFO(u)                                                                            \
    "json_build_object('id', " u ".id, 'username', " u ".username, 'primaryEmail', "               \
    u ".primary_email, 'primaryPhone', " u ".primary_phone, 'name', " u ".name, 'avatar', "        \
    u ".avatar, 'customData', " u ".custom_data, 'identities', " u ".identities,"                  \
    " 'lastSignInAt', " LATCH_MGMT_SQL_MS(u ".last_sign_in_at") ", 'createdAt', "                  \
    LATCH_MGMT_SQL_MS(u ".created_at") ", 'updatedAt', " LATCH_MGMT_SQL_MS(u ".updated_at")        \
    ", 'profile', " u ".profile, 'applicationId', " u ".application_id, 'isSuspended', "          \
    u ".is_suspended)"
/* The interaction's application (SQL text or NULL), `app` its id. */
#define XP_APP_INFO(app)                                                                           \
    "(SELECT json_build_object('id', a.id, 'type', a.type, 'name', a.name,"                        \
    " 'description', a.description)::text FROM applications a"                                     \
    " WHERE a.tenant_id = $1 AND a.id = " app ")"
/* The interaction event's payload (v: event, user_id, user_json, app_json, hook_event). */
#define XP_EMIT                                                                                    \
    "latch_hook_emit(v.hook_event, '{\"event\":' || to_json(v.hook_event)::text"                   \
    " || ',\"interactionEvent\":' || to_json(v.event)::text || $3, ',\"userId\":'"                  \
    " || to_json(v.user_id)::text || ',\"user\":' || v.user_json"                                   \
    " || coalesce(',\"application\":' || v.app_json, ''))"
/* A data event of the interaction, `event` its name: Logto's metadata (ip, not userIp). */
#define XP_DATA_EMIT(event)                                                                        \
    "latch_hook_emit('" event "', '{\"event\":\"" event "\",\"interactionEvent\":'"                 \
    " || to_json(v.event)::text || replace($3, ',\"userIp\":', ',\"ip\":'),"                       \
    " ',\"data\":' || v.user_json)"
const struct latch_stmt latch_mgmt_hook_xp_stmt = {
    .name = "hook_emit_experience",
    .sql = "WITH i AS (UPDATE interactions SET params = params || '{\"_hooked\": true}'"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND result_user_id IS NOT NULL"
           " AND NOT params ? '_hooked' RETURNING event, result_user_id, params->>'client_id' AS app),"
           " v AS (SELECT i.event, u.id AS user_id, " XP_USER_INFO("u") "::text AS user_json,"
           " " XP_APP_INFO("i.app") " AS app_json,"
           " CASE i.event WHEN 'Register' THEN 'PostRegister' WHEN 'SignIn' THEN 'PostSignIn'"
           " ELSE 'PostResetPassword' END AS hook_event"
           " FROM i JOIN users u ON u.tenant_id = $1 AND u.id = i.result_user_id)"
           " SELECT " XP_EMIT ", CASE WHEN v.event = 'Register' THEN " XP_DATA_EMIT("User.Created")
           " END FROM v",
    .nparams = 3,
};

/* A password reset's events: PostResetPassword and User.Data.Updated (Logto reports both), run
 * after the reset in its transaction ($4 the user): only when that transaction changed the user
 * (the reset happened), with the user as it is now. The reset puts the interaction back to no
 * event, so this does not read the event from it. */
const struct latch_stmt latch_mgmt_hook_reset_stmt = {
    .name = "hook_emit_reset",
    .sql = "WITH v AS (SELECT 'ForgotPassword'::text AS event, 'PostResetPassword'::text AS hook_event,"
           " u.id AS user_id, " XP_USER_INFO("u") "::text AS user_json,"
           " " XP_APP_INFO("(SELECT params->>'client_id' FROM interactions"
                           " WHERE tenant_id = $1 AND id_hash = $2::bytea)") " AS app_json"
           " FROM users u WHERE u.tenant_id = $1 AND u.id = $4"
           " AND u.xmin = pg_current_xact_id()::xid)"
           " SELECT " XP_EMIT ", " XP_DATA_EMIT("User.Data.Updated") " FROM v",
    .nparams = 4,
};

/* A sign-in that changed the user (bound an MFA factor, completed the profile): Logto's
 * User.Data.Updated (Logto writes both at submit and reports the user then; Latch writes them at
 * once, so the event goes with the change). Run after the change in its transaction ($4 the
 * user): only when it wrote the user's row or one of its factors, and only in a SignIn
 * interaction (a registration reports its user with User.Created). */
const struct latch_stmt latch_mgmt_hook_user_updated_stmt = {
    .name = "hook_emit_user_updated",
    .sql = "WITH v AS (SELECT i.event, " XP_USER_INFO("u") "::text AS user_json"
           " FROM interactions i JOIN users u ON u.tenant_id = $1 AND u.id = $4"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.event = 'SignIn'"
           " AND (u.xmin = pg_current_xact_id()::xid"
           " OR EXISTS (SELECT 1 FROM mfa_factors f WHERE f.tenant_id = $1 AND f.user_id = $4"
           " AND f.xmin = pg_current_xact_id()::xid)))"
           " SELECT " XP_DATA_EMIT("User.Data.Updated") " FROM v",
    .nparams = 4,
};
// clang-format on

/* Just-in-time provisioning at a registration (Logto's provisionOrganizations): one
 * Organization.Membership.Updated for each organization the new user $2 joined in this
 * transaction. $1 tenant, $3 latch_mgmt_hook_xp_head(). */
const struct latch_stmt latch_mgmt_hook_jit_stmt = {
    .name = "hook_emit_jit",
    .sql = "SELECT latch_hook_emit('Organization.Membership.Updated',"
           " '{\"event\":\"Organization.Membership.Updated\",\"interactionEvent\":\"Register\"'"
           " || replace($3, ',\"userIp\":', ',\"ip\":'),"
           " ',\"organizationId\":' || to_json(r.organization_id::text)::text)"
           " FROM (SELECT organization_id FROM organization_user_relations"
           " WHERE tenant_id = $1 AND user_id = $2 AND xmin = pg_current_xact_id()::xid"
           " ORDER BY organization_id) r",
    .nparams = 3,
};

/* ---- the payload's head ---- */

/* Logto's createdAt: an ISO 8601 time in UTC with milliseconds. */
static void iso_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Logto's `params`: every parameter of the matched route ("/api/resources/:resourceId/scopes/
 * :scopeId"), by name, as the router decoded it. */
static void gen_params(struct latch_request *req, struct latch_json *j, const char *route)
{
    latch_json_begin_object(j);
    for (const char *p = strchr(route, ':'); p != NULL; p = strchr(p, ':')) {
        size_t n = strcspn(++p, "/");
        char name[64];
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, p, n);
        name[n] = '\0';
        const char *value = latch_http_param(req, name);
        if (value != NULL) {
            latch_json_key(j, name);
            latch_json_string(j, value);
        }
    }
    latch_json_end_object(j);
}

bool latch_mgmt_hook_op(struct latch_request *req, struct latch_store_op *op,
                        const struct latch_mgmt_hook_spec *spec, const char *id, int status)
{
    char now[32];
    iso_now(now);
    const char *ua = latch_http_header_get(req, "user-agent");
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "event");
    latch_json_string(&j, spec->event);
    latch_json_key(&j, "createdAt");
    latch_json_string(&j, now);
    if (ua != NULL) {
        latch_json_key(&j, "userAgent");
        latch_json_string(&j, ua);
    }
    latch_json_key(&j, "ip");
    latch_json_string(&j, req->client_ip);
    latch_json_key(&j, "path");
    latch_json_string(&j, req->route_path != NULL ? req->route_path : req->path);
    latch_json_key(&j, "method");
    latch_json_string(&j, req->method_text);
    latch_json_key(&j, "status");
    latch_json_int(&j, status);
    latch_json_key(&j, "params");
    gen_params(req, &j, spec->route);
    latch_json_key(&j, "matchedRoute");
    latch_json_string(&j, spec->route);
    latch_json_end_object(&j);
    size_t len;
    char *text = latch_json_take(&j, &len);
    char *head = text != NULL ? latch_arena_alloc(req->arena, len) : NULL;
    if (head != NULL) {
        /* Without its closing brace: latch_hook_emit() appends the data and the hook's id. */
        memcpy(head, text, len - 1);
        head[len - 1] = '\0';
    }
    free(text);
    if (head == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return false;
    }
    /* A deletion reports the item as it is before the delete that follows in the transaction. */
    const char *written_only = req->method == LATCH_HTTP_DELETE ? "false" : "true";
    const char *owner =
        spec->kind == LATCH_MGMT_HOOK_SCOPE ? latch_http_param(req, "resourceId") : NULL;
    *op = (struct latch_store_op){&hook_emit[spec->kind],
                                  {spec->event, head, req->tenant->id, id, written_only, owner}};
    return true;
}

void latch_mgmt_run_hooked(struct latch_request *req, const struct latch_store_op *op,
                           const struct latch_mgmt_reply *reply,
                           const struct latch_mgmt_hook_spec *spec, const char *id)
{
    struct latch_store_op ops[2];
    bool before = req->method == LATCH_HTTP_DELETE && spec->kind < LATCH_MGMT_HOOK_MEMBERSHIP;
    if (!latch_mgmt_hook_op(req, &ops[before ? 0 : 1], spec, id, reply->status))
        return;
    ops[before ? 1 : 0] = *op;
    struct latch_mgmt_reply r = *reply;
    r.op = reply->op + (before ? 1 : 0);
    latch_mgmt_run(req, ops, 2, &r);
}

char *latch_mgmt_hook_xp_head(struct latch_request *req, const char *session_id)
{
    char now[32];
    iso_now(now);
    const char *ua = latch_http_header_get(req, "user-agent");
    struct latch_json j;
    latch_json_init(&j);
    /* Members that follow "event" and "interactionEvent", each with its leading comma. */
    latch_json_begin_object(&j);
    latch_json_key(&j, "createdAt");
    latch_json_string(&j, now);
    if (session_id != NULL) {
        latch_json_key(&j, "sessionId");
        latch_json_string(&j, session_id);
    }
    if (ua != NULL) {
        latch_json_key(&j, "userAgent");
        latch_json_string(&j, ua);
    }
    latch_json_key(&j, "userIp");
    latch_json_string(&j, req->client_ip);
    latch_json_end_object(&j);
    size_t len;
    char *text = latch_json_take(&j, &len);
    char *head = text != NULL && len >= 2 ? latch_arena_alloc(req->arena, len) : NULL;
    if (head != NULL) {
        head[0] = ',';
        memcpy(head + 1, text + 1, len - 2);
        head[len - 1] = '\0';
    }
    free(text);
    return head;
}

/* ---- reading a hook from the body ---- */

/* Whether s is in the NULL-terminated list (header names: in any case). */
static bool in_list(const char *const *list, const char *s, bool any_case)
{
    for (; *list; list++)
        if ((any_case ? strcasecmp(*list, s) : strcmp(*list, s)) == 0)
            return true;
    return false;
}

static bool known_event(const char *s)
{
    return in_list(hook_events, s, false);
}

/* `events`: a non-empty array of Logto's event names, duplicates removed (Logto's
 * nonemptyUniqueHookEventsGuard), as a JSON array text. */
static bool read_events(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        const char **out)
{
    yajl_val v = latch_mgmt_member(o, key);
    *out = NULL;
    if (v == NULL) {
        if (flags & LATCH_MGMT_REQUIRED) {
            latch_mgmt_invalid_member(o, key, "is required");
            return false;
        }
        return true;
    }
    if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0) {
        latch_mgmt_invalid_member(o, key, "must be a non-empty array of hook events");
        return false;
    }
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    latch_json_begin_array(g);
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val e = v->u.array.values[i];
        if (!YAJL_IS_STRING(e) || !known_event(e->u.string)) {
            latch_mgmt_gen_free(g);
            latch_mgmt_invalid_member(o, key, "holds an unknown hook event");
            return false;
        }
        bool dup = false;
        for (size_t k = 0; k < i; k++)
            dup = dup || strcmp(v->u.array.values[k]->u.string, e->u.string) == 0;
        if (!dup)
            latch_mgmt_gen_str(g, e->u.string);
    }
    latch_json_end_array(g);
    *out = latch_mgmt_gen_take(o->req, g);
    if (*out == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

static bool is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Logto's hookConfigGuard {url, headers?, retries?}; the URL must be one the outbound policy
 * lets Latch call. Written back as a JSON object text. */
static bool read_config(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        const char **out)
{
    struct latch_mgmt_obj c;
    const char *url;
    bool has_retries;
    long long retries;
    *out = NULL;
    if (!latch_mgmt_get_obj(o, key, flags, &c))
        return false;
    if (c.val == NULL)
        return true;
    if (!latch_mgmt_get_str(&c, "url", 1, HOOK_URL_MAX, LATCH_MGMT_REQUIRED | LATCH_MGMT_NO_SPACE,
                            &url, NULL) ||
        !latch_mgmt_get_int(&c, "retries", 0, 3, 0, &retries, &has_retries))
        return false;
    struct latch_error err;
    if (latch_outbound_url_check(url, &err) != LATCH_OK) {
        latch_mgmt_invalid_member(&c, "url", err.message);
        return false;
    }
    yajl_val h = latch_mgmt_member(&c, "headers");
    if (h != NULL && (!YAJL_IS_OBJECT(h) || h->u.object.len > HOOK_HEADERS_MAX)) {
        latch_mgmt_invalid_member(&c, "headers", "must be an object of at most 32 strings");
        return false;
    }
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    latch_json_begin_object(g);
    latch_mgmt_gen_str(g, "url");
    latch_mgmt_gen_str(g, url);
    if (h != NULL) {
        latch_mgmt_gen_str(g, "headers");
        latch_json_begin_object(g);
        for (size_t i = 0; i < h->u.object.len; i++) {
            const char *name = h->u.object.keys[i];
            yajl_val val = h->u.object.values[i];
            bool ok =
                name[0] != '\0' && strlen(name) <= 256 && !in_list(reserved_headers, name, true);
            for (const char *p = name; ok && *p; p++)
                ok = is_tchar(*p);
            if (ok && YAJL_IS_STRING(val) && strlen(val->u.string) <= HOOK_HEADER_MAX) {
                for (const unsigned char *p = (const unsigned char *)val->u.string; ok && *p; p++)
                    ok = *p >= 0x20 && *p != 0x7f;
            } else {
                ok = false;
            }
            if (!ok) {
                latch_mgmt_gen_free(g);
                latch_mgmt_invalid_member(&c, "headers",
                                          "must map header names (not framing headers nor the "
                                          "signature) to single-line strings");
                return false;
            }
            latch_mgmt_gen_str(g, name);
            latch_mgmt_gen_str(g, val->u.string);
        }
        latch_json_end_object(g);
    }
    if (has_retries) {
        latch_mgmt_gen_str(g, "retries");
        latch_json_int(g, retries);
    }
    latch_json_end_object(g);
    *out = latch_mgmt_gen_take(o->req, g);
    if (*out == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

static bool read_event(const struct latch_mgmt_obj *o, unsigned flags, const char **out,
                       bool *present)
{
    if (!latch_mgmt_get_str(o, "event", 1, 128, flags, out, present))
        return false;
    if (*out != NULL && !known_event(*out)) {
        latch_mgmt_invalid_member(o, "event", "is not a hook event");
        return false;
    }
    return true;
}

/* ---- handlers ---- */

static void list_hooks(struct latch_request *req, void *arg)
{
    const char *limit, *offset;
    if (!latch_mgmt_paginate(req, true, &limit, &offset))
        return;
    const char *stats = latch_mgmt_query_flag(req, "includeExecutionStats") ? "true" : "false";
    struct latch_store_op op = {&hook_list, {req->tenant->id, limit, offset, stats}};
    /* Logto's optional pagination: Total-Number only when a page was asked for. */
    struct latch_mgmt_reply reply = {.status = 200, .entity = HOOK_ENTITY, .list = limit != NULL};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void get_hook(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", HOOK_ENTITY);
    if (id == NULL)
        return;
    /* Logto reads the parameter's presence here, not its value. */
    const char *stats = latch_mgmt_query(req, "includeExecutionStats") != NULL ? "true" : "false";
    struct latch_store_op op = {&hook_get, {req->tenant->id, id, stats}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = HOOK_ENTITY, .id = id};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* The members of a hook in a POST (create: config required) or PATCH body. */
struct hook_fields {
    const char *name, *event, *events, *config;
    bool has_event;
    const char *enabled; /* "true", "false", or NULL when absent */
};

static bool read_hook(struct latch_request *req, bool create, struct hook_fields *f)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    int enabled;
    bool ok = latch_mgmt_get_str(&body, "name", 0, HOOK_NAME_MAX, 0, &f->name, NULL) &&
              read_event(&body, create ? 0 : LATCH_MGMT_NULLABLE, &f->event, &f->has_event) &&
              read_events(&body, "events", 0, &f->events) &&
              read_config(&body, "config", create ? LATCH_MGMT_REQUIRED : 0, &f->config) &&
              latch_mgmt_get_bool(&body, "enabled", 0, &enabled);
    yajl_tree_free(tree);
    f->enabled = !ok || enabled < 0 ? NULL : enabled ? "true" : "false";
    return ok;
}

static void create_hook(struct latch_request *req, void *arg)
{
    struct hook_fields f;
    if (!read_hook(req, true, &f))
        return;
    if (f.event == NULL && f.events == NULL) {
        latch_http_respond_errorf(req, 400, "hook.missing_events", "Missing events.");
        return;
    }
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    char *key = latch_arena_alloc(req->arena, HOOK_KEY_LEN + 1);
    if (id == NULL || key == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK ||
        latch_jose_random_id(key, HOOK_KEY_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {&hook_insert,
                                {req->tenant->id, id, f.name, f.event, f.events ? f.events : "[]",
                                 f.config, key, f.enabled}};
    struct latch_mgmt_reply reply = {.status = 201, .entity = HOOK_ENTITY, .id = id};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void update_hook(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", HOOK_ENTITY);
    struct hook_fields f;
    if (id == NULL || !read_hook(req, false, &f))
        return;
    struct latch_store_op op = {&hook_update,
                                {req->tenant->id, id, f.name, f.has_event ? "1" : NULL, f.event,
                                 f.events, f.config, f.enabled}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = HOOK_ENTITY, .id = id};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void rotate_key(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", HOOK_ENTITY);
    if (id == NULL)
        return;
    char *key = latch_arena_alloc(req->arena, HOOK_KEY_LEN + 1);
    if (key == NULL || latch_jose_random_id(key, HOOK_KEY_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {&hook_rotate, {req->tenant->id, id, key}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = HOOK_ENTITY, .id = id};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void recent_logs(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", HOOK_ENTITY);
    char limit[16], offset[16];
    if (id == NULL || !latch_mgmt_page(req, limit, offset))
        return;
    const char *key = latch_mgmt_query(req, "logKey");
    if (key != NULL && (strlen(key) > 160 || latch_mgmt_utf8_len(key) < 0)) {
        latch_mgmt_invalid(req, "logKey", "must be a log key");
        return;
    }
    struct latch_store_op op = {&hook_recent_logs, {req->tenant->id, id, limit, offset, key}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = HOOK_ENTITY, .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* ---- POST /api/hooks/:id/test ---- */

#define TEST_EVENTS_MAX 32

struct test_call {
    struct latch_request *req;
    const char *hook_id;
    const char *url;
    const char *headers; /* JSON object text */
    const char *events[TEST_EVENTS_MAX];
    int nevents;
    char *key; /* the hook's signing key, wiped when done */
    struct latch_mgmt_hook_result result;
    int failed_status; /* the first non-2xx answer, 0 when none */
    char *failed_body;
};

/* Logto's generateHookTestPayload, for one event. */
static char *test_payload(const char *hook_id, const char *event)
{
    bool interaction = strncmp(event, "Post", 4) == 0;
    char now[32];
    iso_now(now);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "event");
    latch_json_string(&j, event);
    latch_json_key(&j, "hookId");
    latch_json_string(&j, hook_id);
    latch_json_key(&j, "createdAt");
    latch_json_string(&j, now);
    latch_json_key(&j, "userAgent");
    latch_json_string(&j, "fake-user-agent");
    if (interaction) {
        latch_json_key(&j, "sessionId");
        latch_json_string(&j, "fake-session-id");
        latch_json_key(&j, "userIp");
        latch_json_string(&j, "fake-user-ip");
        latch_json_key(&j, "userId");
        latch_json_string(&j, "fake-id");
        latch_json_key(&j, "user");
        latch_json_begin_object(&j);
        static const char *const user_fields[][2] = {
            {"id", "fake-id"},
            {"username", "fake-user"},
            {"primaryEmail", "fake-user@fake-service.com"},
            {"primaryPhone", "1234567890"},
            {"name", "Fake User"},
            {"avatar", "https://fake-service.com/avatars/fake-user.png"},
        };
        for (size_t i = 0; i < sizeof(user_fields) / sizeof(user_fields[0]); i++) {
            latch_json_key(&j, user_fields[i][0]);
            latch_json_string(&j, user_fields[i][1]);
        }
        latch_json_key(&j, "customData");
        latch_json_raw(&j, "{\"theme\":\"light\"}", 17);
        latch_json_key(&j, "identities");
        latch_json_raw(&j, "{\"google\":{\"userId\":\"fake-google-user-id\"}}", 43);
        latch_json_key(&j, "profile");
        latch_json_raw(&j, "{}", 2);
        latch_json_key(&j, "applicationId");
        latch_json_string(&j, "fake-application-id");
        latch_json_key(&j, "isSuspended");
        latch_json_bool(&j, false);
        latch_json_key(&j, "lastSignInAt");
        latch_json_int(&j, ms);
        latch_json_key(&j, "createdAt");
        latch_json_int(&j, ms);
        latch_json_key(&j, "updatedAt");
        latch_json_int(&j, ms);
        latch_json_end_object(&j);
        latch_json_key(&j, "application");
        latch_json_begin_object(&j);
        latch_json_key(&j, "id");
        latch_json_string(&j, "fake-spa-application-id");
        latch_json_key(&j, "type");
        latch_json_string(&j, "SPA");
        latch_json_key(&j, "name");
        latch_json_string(&j, "Fake Application");
        latch_json_key(&j, "description");
        latch_json_string(&j, "Fake application data for testing");
        latch_json_end_object(&j);
    } else {
        latch_json_key(&j, "path");
        latch_json_string(&j, "/fake-path/:id");
        latch_json_key(&j, "method");
        latch_json_string(&j, "POST");
        latch_json_key(&j, "status");
        latch_json_int(&j, 200);
        latch_json_key(&j, "params");
        latch_json_raw(&j, "{\"id\":\"fake-id\"}", 16);
        latch_json_key(&j, "data");
        latch_json_raw(&j, "{\"result\":\"success\"}", 20);
    }
    latch_json_end_object(&j);
    return latch_json_take(&j, NULL);
}

/* I/O lane: one POST per event, in order; stops at the first failure, as Logto's Promise.all
 * answers with the first. */
static void test_work(void *arg)
{
    struct test_call *tc = arg;
    for (int i = 0; i < tc->nevents; i++) {
        char *body = test_payload(tc->hook_id, tc->events[i]);
        latch_mgmt_hook_result_clear(&tc->result);
        if (body == NULL) {
            tc->result.failed = true;
            snprintf(tc->result.error, sizeof(tc->result.error), "Out of memory.");
            return;
        }
        latch_mgmt_hook_send(tc->url, tc->headers, body, tc->key, &tc->result);
        free(body);
        if (tc->result.failed || tc->result.status < 200 || tc->result.status > 299)
            return;
    }
}

static void test_done(void *arg)
{
    struct test_call *tc = arg;
    struct latch_request *req = tc->req;
    explicit_bzero(tc->key, strlen(tc->key));
    if (tc->result.failed) {
        latch_http_respond_errorf(req, 422, "hook.send_test_payload_failed", "%s",
                                  tc->result.error);
    } else if (tc->result.status < 200 || tc->result.status > 299) {
        /* Logto: RequestError 422 whose data holds the receiver's answer. */
        struct latch_json j;
        latch_json_init(&j);
        latch_json_begin_object(&j);
        latch_json_key(&j, "code");
        latch_json_string(&j, "hook.endpoint_responded_with_error");
        latch_json_key(&j, "message");
        latch_json_string(&j, "The hook endpoint responded with an error.");
        latch_json_key(&j, "data");
        latch_json_begin_object(&j);
        latch_json_key(&j, "responseStatus");
        latch_json_int(&j, tc->result.status);
        latch_json_key(&j, "responseBody");
        latch_json_string(&j, tc->result.body != NULL ? tc->result.body : "");
        latch_json_end_object(&j);
        latch_json_end_object(&j);
        size_t len;
        char *text = latch_json_take(&j, &len);
        if (text == NULL)
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        else
            latch_http_respond_json(req, 422, text, len);
        free(text);
    } else {
        latch_http_respond(req, 204, NULL, NULL, 0);
    }
    latch_mgmt_hook_result_clear(&tc->result);
}

static void test_key_loaded(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct test_call *tc = arg;
    struct latch_request *req = tc->req;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_mgmt_not_found(req, HOOK_ENTITY, tc->hook_id);
        return;
    }
    const char *key = latch_store_result_value(results[0], 0, 0);
    tc->key = latch_arena_strdup(req->arena, key);
    if (tc->key == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    struct latch_error serr;
    if (latch_http_submit(req, LATCH_LANE_IO, test_work, test_done, tc, &serr) != LATCH_OK) {
        explicit_bzero(tc->key, strlen(tc->key));
        latch_http_respond_error(req, &serr);
    }
}

static void test_hook(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", HOOK_ENTITY);
    if (id == NULL)
        return;
    struct test_call *tc = latch_arena_calloc(req->arena, 1, sizeof(*tc));
    if (tc == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    tc->req = req;
    tc->hook_id = id;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *events, *config;
    bool ok = read_events(&body, "events", LATCH_MGMT_REQUIRED, &events) &&
              read_config(&body, "config", LATCH_MGMT_REQUIRED, &config);
    yajl_val ev = latch_mgmt_member(&body, "events");
    struct latch_mgmt_obj cfg = {
        .req = req, .val = latch_mgmt_member(&body, "config"), .path = "config"};
    if (ok && ev->u.array.len > TEST_EVENTS_MAX) {
        latch_mgmt_invalid(req, "events", "must hold at most 32 events");
        ok = false;
    }
    for (size_t i = 0; ok && i < ev->u.array.len; i++) {
        bool dup = false;
        for (int k = 0; k < tc->nevents; k++)
            dup = dup || strcmp(tc->events[k], ev->u.array.values[i]->u.string) == 0;
        if (!dup)
            tc->events[tc->nevents++] =
                latch_arena_strdup(req->arena, ev->u.array.values[i]->u.string);
    }
    if (ok) {
        yajl_val u = latch_mgmt_member(&cfg, "url");
        tc->url = latch_arena_strdup(req->arena, u->u.string);
        /* read_config() checked the headers: send them as the stored config's would be. */
        yajl_val h = latch_mgmt_member(&cfg, "headers");
        struct latch_json *g = h != NULL ? latch_mgmt_gen_new() : NULL;
        if (g != NULL)
            latch_mgmt_gen_value(g, h);
        tc->headers = g != NULL ? latch_mgmt_gen_take(req, g) : "{}";
    }
    yajl_tree_free(tree);
    if (!ok)
        return;
    for (int k = 0; k < tc->nevents; k++)
        if (tc->events[k] == NULL || tc->url == NULL || tc->headers == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return;
        }
    struct latch_store_op op = {&hook_signing_key, {req->tenant->id, id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, test_key_loaded, tc);
}

static const struct latch_mgmt_by_id delete_call = {&hook_delete, "id", HOOK_ENTITY, 204, NULL};

latch_rc latch_mgmt_hooks_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/hooks", list_hooks, NULL},
        {LATCH_HTTP_POST, "/api/hooks", create_hook, NULL},
        {LATCH_HTTP_GET, "/api/hooks/:id", get_hook, NULL},
        {LATCH_HTTP_PATCH, "/api/hooks/:id", update_hook, NULL},
        {LATCH_HTTP_DELETE, "/api/hooks/:id", latch_mgmt_by_id, &delete_call},
        {LATCH_HTTP_PATCH, "/api/hooks/:id/signing-key", rotate_key, NULL},
        {LATCH_HTTP_POST, "/api/hooks/:id/test", test_hook, NULL},
        {LATCH_HTTP_GET, "/api/hooks/:id/recent-logs", recent_logs, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
