/*
 * Management API: roles, the scopes they grant, the MachineToMachine applications and the users
 * that hold them, in Logto's paths and JSON (/api/roles...). Only MachineToMachine roles may be
 * given to applications, and only to MachineToMachine applications; only User roles may be given
 * to users (the applications_roles and users_roles tables check the role's type too); scopes of
 * the Management API resource may not go to User roles.
 * See docs/management-api.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"
#include "users/users.h"

#define NAME_MAX_CHARS 128 /* roles.name is varchar(128) */
#define DESC_MAX_CHARS 4096

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define ROLE_JSON LATCH_MGMT_SQL_ROLE_JSON("r")
/* A role in lists, with Logto's counters and up to three featured users and applications. */
#define ROLE_LIST_JSON(r)                                                                          \
    "json_build_object('id', " r ".id, 'tenantId', " r ".tenant_id, 'name', " r ".name, "          \
    "'description', " r ".description, 'type', " r ".type, 'isDefault', " r ".is_default, "        \
    "'usersCount', (SELECT count(*) FROM users_roles ur WHERE ur.tenant_id = $1"                   \
    " AND ur.role_id = " r ".id), 'featuredUsers', (SELECT coalesce(json_agg(json_build_object("  \
    "'id', fu.id, 'avatar', fu.avatar, 'name', fu.name) ORDER BY fu.id), '[]'::json)"              \
    " FROM (SELECT u.id, u.avatar, u.name FROM users u JOIN users_roles ur"                        \
    " ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id WHERE u.tenant_id = $1"                  \
    " AND ur.role_id = " r ".id ORDER BY u.id LIMIT 3) fu),"                                        \
    " 'applicationsCount', (SELECT count(*)"                                                        \
    " FROM applications_roles ar WHERE ar.tenant_id = $1 AND ar.role_id = " r ".id),"              \
    " 'featuredApplications', (SELECT coalesce(json_agg(json_build_object('id', fa.id,"            \
    " 'name', fa.name, 'type', fa.type) ORDER BY fa.created_at DESC, fa.id), '[]'::json)"          \
    " FROM (SELECT a.id, a.name, a.type, a.created_at FROM applications a"                         \
    " JOIN applications_roles ar ON ar.tenant_id = a.tenant_id AND ar.application_id = a.id"       \
    " WHERE a.tenant_id = $1 AND ar.role_id = " r ".id ORDER BY a.created_at DESC, a.id"           \
    " LIMIT 3) fa))"
/* A scope with its resource (GET /api/roles/:id/scopes, Logto's ScopeResponse). */
#define SCOPE_RESOURCE_JSON(s)                                                                     \
    "json_build_object('id', " s ".id, 'tenantId', " s ".tenant_id, 'resourceId', " s              \
    ".resource_id, 'name', " s ".name, 'description', " s ".description, 'createdAt', "            \
    LATCH_MGMT_SQL_MS(s ".created_at") ", 'resource', (SELECT "                                    \
    LATCH_MGMT_SQL_RESOURCE_JSON("res") " FROM resources res WHERE res.tenant_id = $1"             \
    " AND res.id = " s ".resource_id))"

/* ---- statements ---- */

/* $2/$3 limit/offset, $4 type, $5 search pattern, $6 excludeApplicationId. */
static const struct latch_stmt role_list = {
    .name = "mgmt_role_list",
    .sql = "WITH f AS (SELECT r.* FROM roles r WHERE r.tenant_id = $1"
           " AND ($4::text IS NULL OR r.type = $4::text)"
           " AND ($5::text IS NULL OR r.id ILIKE $5 OR r.name ILIKE $5 OR r.description ILIKE $5)"
           " AND ($6::text IS NULL OR NOT EXISTS (SELECT 1 FROM applications_roles x"
           " WHERE x.tenant_id = $1 AND x.application_id = $6::text AND x.role_id = r.id))),"
           " p AS (SELECT " ROLE_LIST_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 6,
};

static const struct latch_stmt role_get = {
    .name = "mgmt_role_get",
    .sql = "SELECT " ROLE_JSON " FROM roles r WHERE r.tenant_id = $1 AND r.id = $2",
    .nparams = 2,
};

/* $3 must be a JSON array of scope ids; which of them exist and whether they belong to the
 * Management API. */
#define WANT_SCOPES                                                                                \
    " want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($3::json) AS v),"             \
    " found AS (SELECT s.id, r.is_management FROM scopes s JOIN resources r"                       \
    " ON r.tenant_id = s.tenant_id AND r.id = s.resource_id JOIN want w ON w.id = s.id"            \
    " WHERE s.tenant_id = $1),"
#define FIRST_MISSING                                                                              \
    " LEFT JOIN LATERAL (SELECT w.id FROM want w WHERE NOT EXISTS"                                 \
    " (SELECT 1 FROM found f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) m ON true"

/* $2 id, $3 scope ids (JSON array, '[]' for none), $4 name, $5 description, $6 type,
 * $7 isDefault. */
static const struct latch_stmt role_insert = {
    .name = "mgmt_role_insert",
    .sql = "WITH" WANT_SCOPES
           " chk AS (SELECT CASE WHEN m.id IS NOT NULL THEN 'scope_missing'"
           " WHEN $6::text = 'User' AND EXISTS (SELECT 1 FROM found WHERE is_management)"
           " THEN 'management_scope_user_role' END AS problem, m.id AS detail"
           " FROM (SELECT 1) AS one" FIRST_MISSING "),"
           " ins AS (INSERT INTO roles AS r (tenant_id, id, name, description, type, is_default)"
           " SELECT $1, $2::text, $4::text, $5::text, $6::text, $7::boolean FROM chk"
           " WHERE chk.problem IS NULL RETURNING " ROLE_JSON " AS j, r.id),"
           " rs AS (INSERT INTO roles_scopes (tenant_id, role_id, scope_id)"
           " SELECT $1, ins.id, found.id FROM ins CROSS JOIN found RETURNING 1)"
           " SELECT (SELECT j FROM ins), NULL::bigint, problem, detail FROM chk",
    .nparams = 7,
};

/* $3 name, $4 description, $5 isDefault (NULL keeps), $6 type (must equal the stored one). */
static const struct latch_stmt role_update = {
    .name = "mgmt_role_update",
    .sql = "WITH cur AS (SELECT type FROM roles WHERE tenant_id = $1 AND id = $2),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN $6::text IS NOT NULL AND $6::text <> (SELECT type FROM cur)"
           " THEN 'type_immutable' END AS problem),"
           " upd AS (UPDATE roles AS r SET name = coalesce($3::text, r.name),"
           " description = coalesce($4::text, r.description),"
           " is_default = coalesce($5::boolean, r.is_default)"
           " WHERE r.tenant_id = $1 AND r.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " ROLE_JSON " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, (SELECT problem FROM chk)",
    .nparams = 6,
};

static const struct latch_stmt role_delete = {
    .name = "mgmt_role_delete",
    .sql = "DELETE FROM roles WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

static const struct latch_stmt role_scope_list = {
    .name = "mgmt_role_scope_list",
    .sql = "WITH role AS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT s.* FROM scopes s JOIN roles_scopes rs"
           " ON rs.tenant_id = s.tenant_id AND rs.scope_id = s.id"
           " WHERE s.tenant_id = $1 AND rs.tenant_id = $1 AND rs.role_id = $2"
           " AND ($5::text IS NULL OR s.id ILIKE $5 OR s.name ILIKE $5"
           " OR coalesce(s.description, '') ILIKE $5)),"
           " p AS (SELECT " SCOPE_RESOURCE_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found' END",
    .nparams = 5,
};

static const struct latch_stmt role_scope_add = {
    .name = "mgmt_role_scope_add",
    .sql = "WITH role AS (SELECT type FROM roles WHERE tenant_id = $1 AND id = $2)," WANT_SCOPES
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found'"
           " WHEN m.id IS NOT NULL THEN 'scope_missing'"
           " WHEN e.scope_id IS NOT NULL THEN 'scope_assigned'"
           " WHEN (SELECT type FROM role) = 'User'"
           " AND EXISTS (SELECT 1 FROM found WHERE is_management)"
           " THEN 'management_scope_user_role' END AS problem,"
           " coalesce(m.id, e.scope_id) AS detail FROM (SELECT 1) AS one" FIRST_MISSING
           " LEFT JOIN LATERAL (SELECT rs.scope_id FROM roles_scopes rs JOIN want w"
           " ON w.id = rs.scope_id WHERE rs.tenant_id = $1 AND rs.role_id = $2"
           " ORDER BY rs.scope_id LIMIT 1) e ON true),"
           " ins AS (INSERT INTO roles_scopes (tenant_id, role_id, scope_id)"
           " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

/* Runs after role_scope_add in the same transaction, so it sees the new assignments. */
static const struct latch_stmt role_scope_all = {
    .name = "mgmt_role_scope_all",
    .sql = "SELECT coalesce(json_agg(" LATCH_MGMT_SQL_SCOPE_JSON("s")
           " ORDER BY s.created_at, s.id), '[]'::json) FROM scopes s JOIN roles_scopes rs"
           " ON rs.tenant_id = s.tenant_id AND rs.scope_id = s.id"
           " WHERE s.tenant_id = $1 AND rs.tenant_id = $1 AND rs.role_id = $2",
    .nparams = 2,
};

static const struct latch_stmt role_scope_delete = {
    .name = "mgmt_role_scope_delete",
    .sql = "WITH d AS (DELETE FROM roles_scopes WHERE tenant_id = $1 AND role_id = $2"
           " AND scope_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'scope_not_assigned' END,"
           " $3::text",
    .nparams = 3,
};

static const struct latch_stmt role_app_list = {
    .name = "mgmt_role_app_list",
    .sql = "WITH role AS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT a.* FROM applications a JOIN applications_roles ar"
           " ON ar.tenant_id = a.tenant_id AND ar.application_id = a.id"
           " WHERE a.tenant_id = $1 AND ar.tenant_id = $1 AND ar.role_id = $2"
           " AND ($5::text IS NULL OR a.id ILIKE $5 OR a.name ILIKE $5"
           " OR coalesce(a.description, '') ILIKE $5)),"
           " p AS (SELECT " LATCH_MGMT_SQL_APP_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found' END",
    .nparams = 5,
};

static const struct latch_stmt role_app_add = {
    .name = "mgmt_role_app_add",
    .sql = "WITH role AS (SELECT type FROM roles WHERE tenant_id = $1 AND id = $2),"
           " want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($3::json) AS v),"
           " found AS (SELECT a.id, a.type FROM applications a JOIN want w ON w.id = a.id"
           " WHERE a.tenant_id = $1),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found'"
           " WHEN (SELECT type FROM role) <> 'MachineToMachine' THEN 'role_not_m2m'"
           " WHEN m.id IS NOT NULL THEN 'app_missing'"
           " WHEN n.id IS NOT NULL THEN 'app_not_m2m'"
           " WHEN e.application_id IS NOT NULL THEN 'app_assigned' END AS problem,"
           " coalesce(m.id, n.id, e.application_id) AS detail"
           " FROM (SELECT 1) AS one" FIRST_MISSING
           " LEFT JOIN LATERAL (SELECT f.id FROM found f WHERE f.type <> 'MachineToMachine'"
           " ORDER BY f.id LIMIT 1) n ON true"
           " LEFT JOIN LATERAL (SELECT ar.application_id FROM applications_roles ar JOIN want w"
           " ON w.id = ar.application_id WHERE ar.tenant_id = $1 AND ar.role_id = $2"
           " ORDER BY ar.application_id LIMIT 1) e ON true),"
           " ins AS (INSERT INTO applications_roles (tenant_id, application_id, role_id)"
           " SELECT $1, f.id, $2 FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt role_app_delete = {
    .name = "mgmt_role_app_delete",
    .sql = "WITH d AS (DELETE FROM applications_roles WHERE tenant_id = $1 AND role_id = $2"
           " AND application_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'app_not_assigned' END,"
           " $3::text",
    .nparams = 3,
};

/* The users holding a role, as GET /api/users lists them: $3/$4 limit/offset, $5 search pattern
 * over the same columns. */
static const struct latch_stmt role_user_list = {
    .name = "mgmt_role_user_list",
    .sql = "WITH role AS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT u.* FROM users u JOIN users_roles ur"
           " ON ur.tenant_id = u.tenant_id AND ur.user_id = u.id"
           " WHERE u.tenant_id = $1 AND ur.tenant_id = $1 AND ur.role_id = $2"
           " AND ($5::text IS NULL OR u.id ILIKE $5 OR u.username ILIKE $5"
           " OR u.primary_email ILIKE $5 OR u.primary_phone ILIKE $5 OR u.name ILIKE $5)),"
           " p AS (SELECT " LATCH_USERS_SQL_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found' END",
    .nparams = 5,
};

/* $3 a JSON array of user ids. Checked in Logto's order: the role, then a user who already
 * holds it, then a user who does not exist; nothing is written unless all pass. */
static const struct latch_stmt role_user_add = {
    .name = "mgmt_role_user_add",
    .sql = "WITH role AS (SELECT type FROM roles WHERE tenant_id = $1 AND id = $2),"
           " want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($3::json) AS v),"
           " found AS (SELECT u.id FROM users u JOIN want w ON w.id = u.id"
           " WHERE u.tenant_id = $1),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM role) THEN 'not_found'"
           " WHEN (SELECT type FROM role) <> 'User' THEN 'role_not_user'"
           " WHEN e.user_id IS NOT NULL THEN 'user_assigned'"
           " WHEN m.id IS NOT NULL THEN 'user_missing' END AS problem,"
           " CASE WHEN (SELECT type FROM role) <> 'User' THEN $2::text"
           " ELSE coalesce(e.user_id, m.id) END AS detail"
           " FROM (SELECT 1) AS one" FIRST_MISSING
           " LEFT JOIN LATERAL (SELECT ur.user_id FROM users_roles ur JOIN want w"
           " ON w.id = ur.user_id WHERE ur.tenant_id = $1 AND ur.role_id = $2"
           " ORDER BY ur.user_id LIMIT 1) e ON true),"
           " ins AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1, f.id, $2 FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt role_user_delete = {
    .name = "mgmt_role_user_delete",
    .sql = "WITH d AS (DELETE FROM users_roles WHERE tenant_id = $1 AND role_id = $2"
           " AND user_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM roles WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found'"
           " WHEN NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $3)"
           " THEN 'user_missing' WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'user_not_assigned' END,"
           " $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem role_problems[] = {
    {"scope_missing", 404, "entity.not_exists_with_id", "The scope with ID `{}` does not exist."},
    {"management_scope_user_role", 403, "role.management_api_scopes_not_assignable_to_user_role",
     "Cannot assign management API scopes to a user role."},
    {"scope_assigned", 422, "role.scope_exists",
     "The scope id {} has already been added to this role"},
    {"scope_not_assigned", 404, "entity.not_found", "The scope `{}` is not assigned to this role."},
    {"role_not_m2m", 422, "application.invalid_role_type",
     "Can not assign user type role to machine to machine application."},
    {"app_missing", 404, "entity.not_exists_with_id",
     "The application with ID `{}` does not exist."},
    {"app_not_m2m", 422, "application.invalid_type",
     "Only machine to machine applications can have associated roles."},
    {"app_assigned", 422, "role.application_exists",
     "The application id {} is already been added to this role"},
    {"app_not_assigned", 404, "entity.not_found",
     "The application `{}` is not assigned to this role."},
    {"role_not_user", 422, "user.invalid_role_type",
     "Invalid role type, can not assign machine-to-machine role `{}` to user."},
    {"user_missing", 404, "entity.not_exists_with_id", "The user with ID `{}` does not exist."},
    {"user_assigned", 422, "role.user_exists", "The user id {} is already been added to this role"},
    {"user_not_assigned", 404, "entity.not_found", "The user `{}` is not assigned to this role."},
    {"type_immutable", 400, "guard.invalid_input", "type: cannot be changed"},
    {NULL, 0, NULL, NULL},
};

/* ---- helpers ---- */

static bool valid_role_type(const char *t)
{
    return strcmp(t, "User") == 0 || strcmp(t, "MachineToMachine") == 0;
}

static const char *name_conflict(struct latch_request *req, const char *name)
{
    if (name == NULL)
        return NULL;
    return latch_arena_printf(req->arena, "This role name %s is already in use", name);
}

/* ---- handlers ---- */

static void list_roles(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    if (!latch_mgmt_paginate(req, false, &limit, &offset) || !latch_mgmt_search(req, &search))
        return;
    const char *type = latch_mgmt_query(req, "type");
    if (type != NULL && !valid_role_type(type)) {
        latch_mgmt_invalid(req, "type", "must be User or MachineToMachine");
        return;
    }
    const char *exclude = latch_mgmt_query(req, "excludeApplicationId");
    if (exclude != NULL &&
        (exclude[0] == '\0' || strlen(exclude) > 128 || latch_mgmt_utf8_len(exclude) < 0)) {
        latch_mgmt_invalid(req, "excludeApplicationId", "must be an application id");
        return;
    }
    struct latch_store_op op = {&role_list,
                                {req->tenant->id, limit, offset, type, search, exclude}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "role", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* Webhook events of the routes (Logto's managementApiHooksRegistration). */
static const struct latch_mgmt_hook_spec hook_created = {"Role.Created", LATCH_MGMT_HOOK_ROLE,
                                                         "/api/roles"};
static const struct latch_mgmt_hook_spec hook_updated = {"Role.Data.Updated", LATCH_MGMT_HOOK_ROLE,
                                                         "/api/roles/:id"};
static const struct latch_mgmt_hook_spec hook_deleted = {"Role.Deleted", LATCH_MGMT_HOOK_ROLE,
                                                         "/api/roles/:id"};

static void create_role(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name, *description, *type, *scopes;
    int is_default;
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, LATCH_MGMT_REQUIRED, &name, NULL) &&
        latch_mgmt_get_str(&body, "description", 1, DESC_MAX_CHARS, LATCH_MGMT_REQUIRED,
                           &description, NULL) &&
        latch_mgmt_get_str(&body, "type", 1, 32, 0, &type, NULL) &&
        latch_mgmt_get_bool(&body, "isDefault", 0, &is_default) &&
        latch_mgmt_get_ids(&body, "scopeIds", 0, false, &scopes);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (type == NULL)
        type = "User";
    if (!valid_role_type(type)) {
        latch_mgmt_invalid(req, "type", "must be User or MachineToMachine");
        return;
    }
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {&role_insert,
                                {req->tenant->id, id, scopes ? scopes : "[]", name, description,
                                 type, is_default == 1 ? "true" : "false"}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "role",
        .id = id,
        .problems = role_problems,
        .conflict_code = "role.name_in_use",
        .conflict_message = name_conflict(req, name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_created, id);
}

static void update_role(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "role");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name, *description, *type;
    int is_default;
    bool ok = latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, 0, &name, NULL) &&
              latch_mgmt_get_str(&body, "description", 1, DESC_MAX_CHARS, 0, &description, NULL) &&
              latch_mgmt_get_str(&body, "type", 1, 32, 0, &type, NULL) &&
              latch_mgmt_get_bool(&body, "isDefault", 0, &is_default);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (type != NULL && !valid_role_type(type)) {
        latch_mgmt_invalid(req, "type", "must be User or MachineToMachine");
        return;
    }
    /* A default User role is given to everyone who signs up: never the administrators' role. */
    if (is_default == 1 &&
        latch_mgmt_refuse_reserved(req, "id", LATCH_MGMT_CONSOLE_ROLE, "role.reserved",
                                   "The console administrators' role cannot be a default role."))
        return;
    const char *def = is_default < 0 ? NULL : is_default ? "true" : "false";
    struct latch_store_op op = {&role_update, {req->tenant->id, id, name, description, def, type}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "role",
        .id = id,
        .problems = role_problems,
        .conflict_code = "role.name_in_use",
        .conflict_message = name_conflict(req, name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_updated, id);
}

/* What a role relates to (relation.c): the scopes it grants (adding answers with all of them),
 * the MachineToMachine applications and the users that hold it. Logto answers 201 without a
 * body when applications or users are added. */
static const struct latch_mgmt_hook_spec hook_scopes = {
    "Role.Scopes.Updated", LATCH_MGMT_HOOK_ROLE_SCOPES, "/api/roles/:id/scopes"};
static const struct latch_mgmt_relation role_scopes = {
    .owner_entity = "role",
    .list = &role_scope_list,
    .add = &role_scope_add,
    .add_answer = &role_scope_all,
    .remove = &role_scope_delete,
    .ids_key = "scopeIds",
    .param = "scopeId",
    .param_entity = "scope",
    .page_optional = true,
    .search = LATCH_MGMT_SEARCH_PATTERN,
    .problems = role_problems,
    .hook = &hook_scopes,
};

static const struct latch_mgmt_relation role_apps = {
    .owner_entity = "role",
    .list = &role_app_list,
    .add = &role_app_add,
    .remove = &role_app_delete,
    .ids_key = "applicationIds",
    .param = "applicationId",
    .param_entity = "application",
    .search = LATCH_MGMT_SEARCH_PATTERN,
    .problems = role_problems,
};

/* Two requests adding the same user at once: the loser hits the primary key. */
static const struct latch_mgmt_relation role_users = {
    .owner_entity = "role",
    .list = &role_user_list,
    .add = &role_user_add,
    .remove = &role_user_delete,
    .ids_key = "userIds",
    .param = "userId",
    .param_entity = "user",
    .search = LATCH_MGMT_SEARCH_USERS,
    .problems = role_problems,
    .conflict_code = "role.user_exists",
    .conflict_message = "The user is already been added to this role",
};

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_role_call = {&role_get, "id", "role", 200, NULL};
static const struct latch_mgmt_by_id_hooked delete_role_call = {
    {&role_delete, "id", "role", 204, NULL}, &hook_deleted};

/* The console administrators' role stays, with the Management API scope. */
static void delete_role(struct latch_request *req, void *arg)
{
    if (latch_mgmt_refuse_reserved(req, "id", LATCH_MGMT_CONSOLE_ROLE, "role.reserved",
                                   "The console administrators' role cannot be deleted."))
        return;
    latch_mgmt_by_id_hooked(req, (void *)&delete_role_call);
}

static void delete_role_scope(struct latch_request *req, void *arg)
{
    const char *id = latch_http_param(req, "id");
    if (id != NULL && strcmp(id, LATCH_MGMT_CONSOLE_ROLE) == 0 &&
        latch_mgmt_refuse_reserved(req, "scopeId", LATCH_MGMT_CONSOLE_SCOPE, "role.reserved",
                                   "The console administrators' role keeps the Management API "
                                   "scope."))
        return;
    latch_mgmt_relation_remove(req, arg);
}

latch_rc latch_mgmt_roles_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/roles", list_roles, NULL},
        {LATCH_HTTP_POST, "/api/roles", create_role, NULL},
        {LATCH_HTTP_GET, "/api/roles/:id", latch_mgmt_by_id, &get_role_call},
        {LATCH_HTTP_PATCH, "/api/roles/:id", update_role, NULL},
        {LATCH_HTTP_DELETE, "/api/roles/:id", delete_role, NULL},
        {LATCH_HTTP_GET, "/api/roles/:id/scopes", latch_mgmt_relation_list, &role_scopes},
        {LATCH_HTTP_POST, "/api/roles/:id/scopes", latch_mgmt_relation_add, &role_scopes},
        {LATCH_HTTP_DELETE, "/api/roles/:id/scopes/:scopeId", delete_role_scope, &role_scopes},
        {LATCH_HTTP_GET, "/api/roles/:id/applications", latch_mgmt_relation_list, &role_apps},
        {LATCH_HTTP_POST, "/api/roles/:id/applications", latch_mgmt_relation_add, &role_apps},
        {LATCH_HTTP_DELETE, "/api/roles/:id/applications/:applicationId",
         latch_mgmt_relation_remove, &role_apps},
        {LATCH_HTTP_GET, "/api/roles/:id/users", latch_mgmt_relation_list, &role_users},
        {LATCH_HTTP_POST, "/api/roles/:id/users", latch_mgmt_relation_add, &role_users},
        {LATCH_HTTP_DELETE, "/api/roles/:id/users/:userId", latch_mgmt_relation_remove,
         &role_users},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
