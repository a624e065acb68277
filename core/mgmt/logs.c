/*
 * Management API: the audit log (Logto's /api/logs), and the keys under which Management API
 * changes are recorded in it.
 *
 *   GET /api/logs                 newest first; filters logKey, userId, applicationId and the
 *                                 time range startTime (inclusive) / endTime (exclusive) in epoch
 *                                 milliseconds; page/page_size with Total-Number
 *   GET /api/logs/:id             one entry, with tenantId
 *   GET /api/users/:userId/logs   the entries naming the user (404 for an unknown user); logKey,
 *                                 time range and pagination as above
 *
 * Entries are {id, key, payload, createdAt (epoch ms)}; the list omits tenantId as Logto does.
 * See docs/events.md "Audit log".
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

#define KEY_MAX_CHARS 128 /* logs.key is varchar(128) */
#define ID_MAX_CHARS  128
#define MS_MAX_DIGITS 15 /* epoch milliseconds until the year 33658 */

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define LOG_JSON(l)                                                                                \
    "json_build_object('id', " l ".id, 'key', " l ".key, 'payload', " l ".payload, 'createdAt', " \
    LATCH_MGMT_SQL_MS(l ".created_at") ")"

/* $1 tenant, $2/$3 limit/offset, $4 logKey, $5 userId, $6 applicationId, $7/$8 startTime and
 * endTime in epoch ms. The time bounds are compared with created_at itself so that partitions
 * outside them are pruned. */
#define LOG_FILTER                                                                                 \
    " FROM logs l WHERE l.tenant_id = $1 AND l.key NOT LIKE 'TriggerHook.%'"                       \
    " AND ($4::text IS NULL OR l.key = $4::text)"                                                  \
    " AND ($5::text IS NULL OR l.payload ->> 'userId' = $5::text)"                                 \
    " AND ($6::text IS NULL OR l.payload ->> 'applicationId' = $6::text)"                          \
    " AND ($7::bigint IS NULL OR l.created_at >= to_timestamp($7::bigint / 1000.0))"               \
    " AND ($8::bigint IS NULL OR l.created_at < to_timestamp($8::bigint / 1000.0))"
#define LOG_PAGE                                                                                   \
    " p AS (SELECT f.* FROM f ORDER BY f.created_at DESC, f.id DESC"                               \
    " LIMIT $2::bigint OFFSET $3::bigint)"                                                         \
    " SELECT coalesce((SELECT json_agg(" LOG_JSON("p") " ORDER BY p.created_at DESC, p.id DESC)"   \
    " FROM p), '[]'::json), (SELECT count(*) FROM f)"
// clang-format on

static const struct latch_stmt log_list = {
    .name = "mgmt_log_list",
    .sql = "WITH f AS (SELECT l.id, l.key, l.payload, l.created_at" LOG_FILTER ")," LOG_PAGE,
    .nparams = 8,
};

/* As log_list with $5 the user of the path, and problem not_found for an unknown user. */
static const struct latch_stmt user_log_list = {
    .name = "mgmt_user_log_list",
    .sql = "WITH f AS (SELECT l.id, l.key, l.payload, l.created_at" LOG_FILTER "),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = $1"
           " AND u.id = $5::text) THEN 'not_found' END AS problem)," LOG_PAGE
           ", (SELECT problem FROM chk)",
    .nparams = 8,
};

static const struct latch_stmt log_get = {
    .name = "mgmt_log_get",
    .sql = "SELECT json_build_object('id', l.id, 'tenantId', l.tenant_id, 'key', l.key,"
           " 'payload', l.payload, 'createdAt', " LATCH_MGMT_SQL_MS(
               "l.created_at") ")"
                               " FROM logs l WHERE l.tenant_id = $1 AND l.id = $2 LIMIT 1",
    .nparams = 2,
};

/* A text filter of at most max characters (valid UTF-8, not empty), or absent. */
static bool text_filter(struct latch_request *req, const char *name, long max, const char **out)
{
    *out = latch_mgmt_query(req, name);
    if (*out == NULL)
        return true;
    long n = latch_mgmt_utf8_len(*out);
    if (n < 1 || n > max) {
        char *why = latch_arena_printf(req->arena, "must be 1 to %ld characters", max);
        latch_mgmt_invalid(req, name, why ? why : "is malformed");
        return false;
    }
    return true;
}

/* A time bound in epoch milliseconds (digits only), or absent. */
static bool time_filter(struct latch_request *req, const char *name, const char **out)
{
    *out = latch_mgmt_query(req, name);
    if (*out == NULL)
        return true;
    size_t n = strlen(*out);
    bool ok = n >= 1 && n <= MS_MAX_DIGITS && strspn(*out, "0123456789") == n;
    if (!ok)
        latch_mgmt_invalid(req, name, "must be a time in epoch milliseconds");
    return ok;
}

static void list(struct latch_request *req, const char *user_id)
{
    const char *limit, *offset, *key, *user = user_id, *app, *start, *end;
    if (!latch_mgmt_paginate(req, false, &limit, &offset) ||
        !text_filter(req, "logKey", KEY_MAX_CHARS, &key) ||
        (user_id == NULL && !text_filter(req, "userId", ID_MAX_CHARS, &user)) ||
        !text_filter(req, "applicationId", ID_MAX_CHARS, &app) ||
        !time_filter(req, "startTime", &start) || !time_filter(req, "endTime", &end))
        return;
    struct latch_store_op op = {user_id != NULL ? &user_log_list : &log_list,
                                {req->tenant->id, limit, offset, key, user, app, start, end}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = user_id != NULL ? "user" : "log", .id = user_id, .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void list_logs(struct latch_request *req, void *arg)
{
    list(req, NULL);
}

static void list_user_logs(struct latch_request *req, void *arg)
{
    const char *user = latch_mgmt_param_id(req, "userId", "user");
    if (user != NULL)
        list(req, user);
}

static const struct latch_mgmt_by_id get_log_call = {&log_get, "id", "log", 200, NULL};

latch_rc latch_mgmt_logs_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/logs", list_logs, NULL},
        {LATCH_HTTP_GET, "/api/logs/:id", latch_mgmt_by_id, &get_log_call},
        {LATCH_HTTP_GET, "/api/users/:userId/logs", list_user_logs, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}

/* ---- the keys of Management API changes ---- */

/* Named as Logto's webhook events where one exists (User.Created, Role.Data.Updated...). */
static const struct {
    enum latch_http_method method;
    const char *pattern;
    const char *key; /* NULL: not a change, not recorded */
} change_keys[] = {
    {LATCH_HTTP_POST, "/api/users", "User.Created"},
    {LATCH_HTTP_DELETE, "/api/users/:userId", "User.Deleted"},
    {LATCH_HTTP_PATCH, "/api/users/:userId", "User.Data.Updated"},
    {LATCH_HTTP_PATCH, "/api/users/:userId/custom-data", "User.Data.Updated"},
    {LATCH_HTTP_PATCH, "/api/users/:userId/profile", "User.Data.Updated"},
    {LATCH_HTTP_PATCH, "/api/users/:userId/password", "User.Password.Updated"},
    {LATCH_HTTP_PATCH, "/api/users/:userId/is-suspended", "User.SuspensionStatus.Updated"},
    {LATCH_HTTP_DELETE, "/api/users/:userId/identities/:target", "User.Identities.Updated"},
    {LATCH_HTTP_DELETE, "/api/users/:userId/sessions", "User.Sessions.Ended"},
    {LATCH_HTTP_POST, "/api/users/:userId/roles", "User.Roles.Updated"},
    {LATCH_HTTP_PUT, "/api/users/:userId/roles", "User.Roles.Updated"},
    {LATCH_HTTP_DELETE, "/api/users/:userId/roles/:roleId", "User.Roles.Updated"},
    {LATCH_HTTP_POST, "/api/users/:userId/password/verify", NULL},
    {LATCH_HTTP_POST, "/api/verification-codes", NULL},
    {LATCH_HTTP_POST, "/api/verification-codes/verify", NULL},
    {LATCH_HTTP_POST, "/api/roles", "Role.Created"},
    {LATCH_HTTP_PATCH, "/api/roles/:id", "Role.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/roles/:id", "Role.Deleted"},
    {LATCH_HTTP_POST, "/api/roles/:id/scopes", "Role.Scopes.Updated"},
    {LATCH_HTTP_DELETE, "/api/roles/:id/scopes/:scopeId", "Role.Scopes.Updated"},
    {LATCH_HTTP_POST, "/api/roles/:id/users", "Role.Users.Updated"},
    {LATCH_HTTP_DELETE, "/api/roles/:id/users/:userId", "Role.Users.Updated"},
    {LATCH_HTTP_POST, "/api/roles/:id/applications", "Role.Applications.Updated"},
    {LATCH_HTTP_DELETE, "/api/roles/:id/applications/:applicationId", "Role.Applications.Updated"},
    {LATCH_HTTP_POST, "/api/organizations", "Organization.Created"},
    {LATCH_HTTP_PATCH, "/api/organizations/:id", "Organization.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/organizations/:id", "Organization.Deleted"},
    {LATCH_HTTP_POST, "/api/organizations/:id/users", "Organization.Membership.Updated"},
    {LATCH_HTTP_PUT, "/api/organizations/:id/users", "Organization.Membership.Updated"},
    {LATCH_HTTP_DELETE, "/api/organizations/:id/users/:userId", "Organization.Membership.Updated"},
    {LATCH_HTTP_POST, "/api/organizations/:id/applications", "Organization.Membership.Updated"},
    {LATCH_HTTP_PUT, "/api/organizations/:id/applications", "Organization.Membership.Updated"},
    {LATCH_HTTP_DELETE, "/api/organizations/:id/applications/:applicationId",
     "Organization.Membership.Updated"},
    {LATCH_HTTP_POST, "/api/organization-roles", "OrganizationRole.Created"},
    {LATCH_HTTP_PATCH, "/api/organization-roles/:id", "OrganizationRole.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/organization-roles/:id", "OrganizationRole.Deleted"},
    {LATCH_HTTP_POST, "/api/organization-scopes", "OrganizationScope.Created"},
    {LATCH_HTTP_PATCH, "/api/organization-scopes/:id", "OrganizationScope.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/organization-scopes/:id", "OrganizationScope.Deleted"},
    {LATCH_HTTP_POST, "/api/applications", "Application.Created"},
    {LATCH_HTTP_PATCH, "/api/applications/:id", "Application.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/applications/:id", "Application.Deleted"},
    {LATCH_HTTP_POST, "/api/resources", "Resource.Created"},
    {LATCH_HTTP_PATCH, "/api/resources/:id", "Resource.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/resources/:id", "Resource.Deleted"},
    {LATCH_HTTP_POST, "/api/resources/:resourceId/scopes", "Scope.Created"},
    {LATCH_HTTP_PATCH, "/api/resources/:resourceId/scopes/:scopeId", "Scope.Data.Updated"},
    {LATCH_HTTP_DELETE, "/api/resources/:resourceId/scopes/:scopeId", "Scope.Deleted"},
};

const char *latch_mgmt_change_key(enum latch_http_method method, const char *pattern)
{
    if (method == LATCH_HTTP_GET || method == LATCH_HTTP_HEAD || method == LATCH_HTTP_OPTIONS)
        return NULL;
    for (size_t i = 0; i < sizeof(change_keys) / sizeof(change_keys[0]); i++)
        if (change_keys[i].method == method && strcmp(change_keys[i].pattern, pattern) == 0)
            return change_keys[i].key;
    /* Every other change is recorded too, under one key, with its path. */
    return "ManagementApi.Change";
}

void latch_mgmt_change_track(struct latch_request *req, const char *key, const char *caller)
{
    if (key == NULL)
        return;
    latch_audit_track(req, key);
    if (!latch_audit_tracked(req))
        return;
    latch_audit_note(req, LATCH_AUDIT_APPLICATION_ID, caller);
    latch_audit_note(req, LATCH_AUDIT_PATH, req->route_path != NULL ? req->route_path : req->path);
    const char *user = latch_http_param(req, "userId");
    const char *target = latch_http_param(req, "id");
    latch_audit_note(req, LATCH_AUDIT_TARGET_ID, target != NULL ? target : user);
    if (user != NULL)
        latch_audit_note(req, LATCH_AUDIT_USER_ID, user);
    if (strncmp(key, "Organization.", 13) == 0 && target != NULL)
        latch_audit_note(req, LATCH_AUDIT_ORGANIZATION_ID, target);
}
