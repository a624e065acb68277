/*
 * Management API: API resources (RFC 8707 indicators, the audience of access tokens) and their
 * scopes, in Logto's paths and JSON (/api/resources...). The tenant's own Management API
 * resource (is_management, seeded by latch_bootstrap_tenant) cannot be deleted, keeps its
 * indicator, and its scopes cannot be changed: that would lock every client out of this API.
 * See docs/management-api.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

#define NAME_MAX_CHARS      256
#define DESC_MAX_CHARS      4096
#define INDICATOR_MAX_CHARS 2048
#define TTL_MAX             31536000 /* the schema's resources_ttl check */

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define RES_JSON LATCH_MGMT_SQL_RESOURCE_JSON("r")
/* A resource with its scopes (GET /api/resources?includeScopes=true). */
#define RES_SCOPES_JSON(r)                                                                         \
    "json_build_object('id', " r ".id, 'tenantId', " r ".tenant_id, 'name', " r ".name, "          \
    "'indicator', " r ".indicator, 'isDefault', " r ".is_default, 'accessTokenTtl', " r            \
    ".access_token_ttl, 'scopes', (SELECT coalesce(json_agg(" LATCH_MGMT_SQL_SCOPE_JSON("s")       \
    " ORDER BY s.created_at, s.id), '[]'::json) FROM scopes s WHERE s.tenant_id = $1"              \
    " AND s.resource_id = " r ".id))"

/* ---- statements ---- */

static const struct latch_stmt res_list = {
    .name = "mgmt_res_list",
    .sql = "WITH f AS (SELECT r.* FROM resources r WHERE r.tenant_id = $1),"
           " p AS (SELECT CASE WHEN $4::boolean THEN " RES_SCOPES_JSON("f") " ELSE "
           LATCH_MGMT_SQL_RESOURCE_JSON("f") " END AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 4,
};

static const struct latch_stmt res_get = {
    .name = "mgmt_res_get",
    .sql = "SELECT " RES_JSON " FROM resources r WHERE r.tenant_id = $1 AND r.id = $2",
    .nparams = 2,
};

/* Before a new default resource: the old one stops being the default ($2: the new one is). */
static const struct latch_stmt res_clear_default_new = {
    .name = "mgmt_res_clear_default_new",
    .sql = "UPDATE resources SET is_default = false WHERE tenant_id = $1 AND is_default"
           " AND $2::boolean IS TRUE",
    .nparams = 2,
};

/* The same before res_update makes $2 the default ($3); only when res_update will succeed
 * (the resource exists and the update is allowed), since the two commit together. */
static const struct latch_stmt res_clear_default = {
    .name = "mgmt_res_clear_default",
    .sql = "UPDATE resources SET is_default = false WHERE tenant_id = $1 AND is_default"
           " AND id <> $2 AND $3::boolean IS TRUE AND EXISTS (SELECT 1 FROM resources t"
           " WHERE t.tenant_id = $1 AND t.id = $2"
           " AND NOT (t.is_management AND $4::text IS NOT NULL AND $4::text <> t.indicator))",
    .nparams = 4,
};

static const struct latch_stmt res_insert = {
    .name = "mgmt_res_insert",
    .sql = "INSERT INTO resources AS r (tenant_id, id, name, indicator, access_token_ttl,"
           " is_default) VALUES ($1, $2, $3, $4, coalesce($5::bigint, 3600), $6::boolean)"
           " RETURNING " RES_SCOPES_JSON("r"),
    .nparams = 6,
};

/* $3 name, $4 indicator, $5 TTL, $6 isDefault; NULL keeps the stored value. */
static const struct latch_stmt res_update = {
    .name = "mgmt_res_update",
    .sql = "WITH cur AS (SELECT is_management, indicator FROM resources"
           " WHERE tenant_id = $1 AND id = $2),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN (SELECT is_management FROM cur) AND $4::text IS NOT NULL"
           " AND $4::text <> (SELECT indicator FROM cur) THEN 'management_api_indicator'"
           " END AS problem),"
           " upd AS (UPDATE resources AS r SET name = coalesce($3::text, r.name),"
           " indicator = coalesce($4::text, r.indicator),"
           " access_token_ttl = coalesce($5::bigint, r.access_token_ttl),"
           " is_default = coalesce($6::boolean, r.is_default)"
           " WHERE r.tenant_id = $1 AND r.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " RES_JSON " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, (SELECT problem FROM chk)",
    .nparams = 6,
};

static const struct latch_stmt res_delete = {
    .name = "mgmt_res_delete",
    .sql = "WITH cur AS (SELECT is_management FROM resources WHERE tenant_id = $1 AND id = $2),"
           " d AS (DELETE FROM resources WHERE tenant_id = $1 AND id = $2 AND NOT is_management"
           " RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN (SELECT is_management FROM cur) THEN 'management_api_delete' END",
    .nparams = 2,
};

static const struct latch_stmt scope_list = {
    .name = "mgmt_scope_list",
    .sql = "WITH res AS (SELECT 1 FROM resources WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT s.* FROM scopes s WHERE s.tenant_id = $1 AND s.resource_id = $2"
           " AND ($5::text IS NULL OR s.id ILIKE $5 OR s.name ILIKE $5"
           " OR coalesce(s.description, '') ILIKE $5)),"
           " p AS (SELECT " LATCH_MGMT_SQL_SCOPE_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM res) THEN 'not_found' END",
    .nparams = 5,
};

/* $3 new scope id, $4 name, $5 description. */
static const struct latch_stmt scope_insert = {
    .name = "mgmt_scope_insert",
    .sql = "WITH res AS (SELECT is_management FROM resources WHERE tenant_id = $1 AND id = $2),"
           " ins AS (INSERT INTO scopes AS s (tenant_id, id, resource_id, name, description)"
           " SELECT $1, $3::text, $2, $4::text, $5::text FROM res WHERE NOT res.is_management"
           " RETURNING " LATCH_MGMT_SQL_SCOPE_JSON("s") " AS j)"
           " SELECT (SELECT j FROM ins), NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM res) THEN 'not_found'"
           " WHEN (SELECT is_management FROM res) THEN 'management_api' END",
    .nparams = 5,
};

/* $3 scope id, $4 name (NULL keeps), $5 description (applied when $6). */
static const struct latch_stmt scope_update = {
    .name = "mgmt_scope_update",
    .sql = "WITH res AS (SELECT is_management FROM resources WHERE tenant_id = $1 AND id = $2),"
           " upd AS (UPDATE scopes AS s SET name = coalesce($4::text, s.name),"
           " description = CASE WHEN $6::boolean THEN $5::text ELSE s.description END"
           " WHERE s.tenant_id = $1 AND s.resource_id = $2 AND s.id = $3"
           " AND (SELECT NOT is_management FROM res)"
           " RETURNING " LATCH_MGMT_SQL_SCOPE_JSON("s") " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM res) THEN 'not_found'"
           " WHEN (SELECT is_management FROM res) THEN 'management_api'"
           " WHEN NOT EXISTS (SELECT 1 FROM upd) THEN 'scope_not_found' END, $3::text",
    .nparams = 6,
};

static const struct latch_stmt scope_delete = {
    .name = "mgmt_scope_delete",
    .sql = "WITH res AS (SELECT is_management FROM resources WHERE tenant_id = $1 AND id = $2),"
           " d AS (DELETE FROM scopes s WHERE s.tenant_id = $1 AND s.resource_id = $2"
           " AND s.id = $3 AND (SELECT NOT is_management FROM res) RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM res) THEN 'not_found'"
           " WHEN (SELECT is_management FROM res) THEN 'management_api'"
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'scope_not_found' END, $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem res_problems[] = {
    {"management_api_delete", 403, "resource.cannot_delete_management_api",
     "Cannot delete the Management API resource."},
    {"management_api_indicator", 403, "resource.cannot_modify_management_api",
     "The indicator of the Management API resource cannot be changed."},
    {"management_api", 403, "resource.cannot_modify_management_api",
     "The scopes of the Management API resource cannot be changed."},
    {"scope_not_found", 404, "entity.not_exists_with_id", "The scope with ID `{}` does not exist."},
    {NULL, 0, NULL, NULL},
};

/* ---- validation ---- */

/* An absolute URI without fragment, whitespace or control characters (RFC 8707 §2). */
static bool valid_indicator(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    if (s[i] != ':' || s[i + 1] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7F || *p == '#')
            return false;
    return true;
}

struct res_input {
    const char *name;
    const char *indicator;
    const char *ttl;        /* text or NULL */
    const char *is_default; /* "true"/"false" or NULL */
};

static bool read_resource(struct latch_request *req, yajl_val tree, bool create,
                          struct res_input *in)
{
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    unsigned req_flag = create ? LATCH_MGMT_REQUIRED : 0;
    long long ttl;
    bool has_ttl;
    int is_default;
    memset(in, 0, sizeof(*in));
    if (!latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, req_flag, &in->name, NULL) ||
        !latch_mgmt_get_str(&body, "indicator", 1, INDICATOR_MAX_CHARS, req_flag, &in->indicator,
                            NULL) ||
        !latch_mgmt_get_int(&body, "accessTokenTtl", 1, TTL_MAX, 0, &ttl, &has_ttl) ||
        !latch_mgmt_get_bool(&body, "isDefault", 0, &is_default))
        return false;
    if (in->indicator != NULL && !valid_indicator(in->indicator)) {
        latch_mgmt_invalid(
            req, "indicator",
            "must be an absolute URI without fragment, e.g. https://api.example.com");
        return false;
    }
    if (has_ttl && (in->ttl = latch_arena_printf(req->arena, "%lld", ttl)) == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return false;
    }
    if (is_default >= 0)
        in->is_default = is_default ? "true" : "false";
    return true;
}

static const char *indicator_conflict(struct latch_request *req, const char *indicator)
{
    if (indicator == NULL)
        return NULL;
    return latch_arena_printf(req->arena, "The API identifier %s is already in use", indicator);
}

/* ---- handlers ---- */

static void list_resources(struct latch_request *req, void *arg)
{
    const char *limit, *offset;
    if (!latch_mgmt_paginate(req, true, &limit, &offset))
        return;
    const char *scopes = latch_mgmt_query_flag(req, "includeScopes") ? "true" : "false";
    struct latch_store_op op = {&res_list, {req->tenant->id, limit, offset, scopes}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "resource", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void create_resource(struct latch_request *req, void *arg)
{
    struct res_input in;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    bool ok = read_resource(req, tree, true, &in);
    yajl_tree_free(tree);
    if (!ok)
        return;
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    const char *is_default = in.is_default ? in.is_default : "false";
    struct latch_store_op ops[2] = {
        {&res_clear_default_new, {req->tenant->id, is_default}},
        {&res_insert, {req->tenant->id, id, in.name, in.indicator, in.ttl, is_default}},
    };
    struct latch_mgmt_reply reply = {
        .status = 200,
        .op = 1,
        .entity = "resource",
        .id = id,
        .conflict_code = "resource.resource_identifier_in_use",
        .conflict_message = indicator_conflict(req, in.indicator),
    };
    latch_mgmt_run(req, ops, 2, &reply);
}

static void run_update(struct latch_request *req, const char *id, const struct res_input *in)
{
    struct latch_store_op ops[2] = {
        {&res_clear_default, {req->tenant->id, id, in->is_default, in->indicator}},
        {&res_update, {req->tenant->id, id, in->name, in->indicator, in->ttl, in->is_default}},
    };
    struct latch_mgmt_reply reply = {
        .status = 200,
        .op = 1,
        .entity = "resource",
        .id = id,
        .problems = res_problems,
        .conflict_code = "resource.resource_identifier_in_use",
        .conflict_message = indicator_conflict(req, in->indicator),
    };
    latch_mgmt_run(req, ops, 2, &reply);
}

static void update_resource(struct latch_request *req, void *arg)
{
    struct res_input in;
    const char *id = latch_mgmt_param_id(req, "id", "resource");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    bool ok = read_resource(req, tree, false, &in);
    yajl_tree_free(tree);
    if (ok)
        run_update(req, id, &in);
}

static void set_default_resource(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "resource");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    int is_default;
    bool ok = latch_mgmt_get_bool(&body, "isDefault", LATCH_MGMT_REQUIRED, &is_default);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct res_input in = {.is_default = is_default ? "true" : "false"};
    run_update(req, id, &in);
}

static void list_scopes(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    const char *id = latch_mgmt_param_id(req, "resourceId", "resource");
    if (id == NULL || !latch_mgmt_paginate(req, true, &limit, &offset) ||
        !latch_mgmt_search(req, &search))
        return;
    struct latch_store_op op = {&scope_list, {req->tenant->id, id, limit, offset, search}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "resource", .id = id, .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* Reads {name, description}; create requires name. */
static bool read_scope(struct latch_request *req, bool create, const char **name,
                       const char **description, bool *description_set)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS,
                           LATCH_MGMT_NO_SPACE | (create ? LATCH_MGMT_REQUIRED : 0), name, NULL) &&
        latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                           description, description_set);
    yajl_tree_free(tree);
    return ok;
}

static const char *scope_conflict(struct latch_request *req, const char *name)
{
    if (name == NULL)
        return NULL;
    return latch_arena_printf(req->arena, "The scope name %s is already in use", name);
}

/* Webhook events of the scope routes (Logto's managementApiHooksRegistration). */
static const struct latch_mgmt_hook_spec hook_scope_created = {
    "Scope.Created", LATCH_MGMT_HOOK_SCOPE, "/api/resources/:resourceId/scopes"};
static const struct latch_mgmt_hook_spec hook_scope_updated = {
    "Scope.Data.Updated", LATCH_MGMT_HOOK_SCOPE, "/api/resources/:resourceId/scopes/:scopeId"};
static const struct latch_mgmt_hook_spec hook_scope_deleted = {
    "Scope.Deleted", LATCH_MGMT_HOOK_SCOPE, "/api/resources/:resourceId/scopes/:scopeId"};

static void create_scope(struct latch_request *req, void *arg)
{
    const char *name, *description;
    bool description_set;
    const char *res = latch_mgmt_param_id(req, "resourceId", "resource");
    if (res == NULL || !read_scope(req, true, &name, &description, &description_set))
        return;
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {&scope_insert, {req->tenant->id, res, id, name, description}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "resource",
        .id = res,
        .problems = res_problems,
        .conflict_code = "scope.name_exists",
        .conflict_message = scope_conflict(req, name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_scope_created, id);
}

static void update_scope(struct latch_request *req, void *arg)
{
    const char *name, *description;
    bool description_set;
    const char *res = latch_mgmt_param_id(req, "resourceId", "resource");
    const char *id = res ? latch_mgmt_param_id(req, "scopeId", "scope") : NULL;
    if (id == NULL || !read_scope(req, false, &name, &description, &description_set))
        return;
    struct latch_store_op op = {
        &scope_update,
        {req->tenant->id, res, id, name, description, description_set ? "true" : "false"}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "resource",
        .id = res,
        .problems = res_problems,
        .conflict_code = "scope.name_exists",
        .conflict_message = scope_conflict(req, name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_scope_updated, id);
}

static void delete_scope(struct latch_request *req, void *arg)
{
    const char *res = latch_mgmt_param_id(req, "resourceId", "resource");
    const char *id = res ? latch_mgmt_param_id(req, "scopeId", "scope") : NULL;
    if (id == NULL)
        return;
    struct latch_store_op op = {&scope_delete, {req->tenant->id, res, id}};
    struct latch_mgmt_reply reply = {
        .status = 204, .entity = "resource", .id = res, .problems = res_problems};
    latch_mgmt_run_hooked(req, &op, &reply, &hook_scope_deleted, id);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_resource_call = {&res_get, "id", "resource", 200, NULL};
static const struct latch_mgmt_by_id delete_resource_call = {&res_delete, "id", "resource", 204,
                                                             res_problems};

latch_rc latch_mgmt_resources_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/resources", list_resources, NULL},
        {LATCH_HTTP_POST, "/api/resources", create_resource, NULL},
        {LATCH_HTTP_GET, "/api/resources/:id", latch_mgmt_by_id, &get_resource_call},
        {LATCH_HTTP_PATCH, "/api/resources/:id", update_resource, NULL},
        {LATCH_HTTP_DELETE, "/api/resources/:id", latch_mgmt_by_id, &delete_resource_call},
        {LATCH_HTTP_PATCH, "/api/resources/:id/is-default", set_default_resource, NULL},
        {LATCH_HTTP_GET, "/api/resources/:resourceId/scopes", list_scopes, NULL},
        {LATCH_HTTP_POST, "/api/resources/:resourceId/scopes", create_scope, NULL},
        {LATCH_HTTP_PATCH, "/api/resources/:resourceId/scopes/:scopeId", update_scope, NULL},
        {LATCH_HTTP_DELETE, "/api/resources/:resourceId/scopes/:scopeId", delete_scope, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
