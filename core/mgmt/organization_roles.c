/*
 * Management API: the organization template, in Logto's paths and JSON: organization roles
 * (/api/organization-roles...) with the organization scopes and API-resource scopes they grant,
 * and organization scopes (/api/organization-scopes...). The template is tenant-wide; members
 * hold its roles per organization (organizations.c, invitations.c). A role's type is fixed once
 * created, and scopes of the Management API resource are never granted through an organization
 * role. See docs/management-api-organization-roles.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

#define NAME_MAX_CHARS 128 /* organization_roles.name, organization_scopes.name: varchar(128) */
#define DESC_MAX_CHARS 256 /* .description: varchar(256) */

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define ORG_ROLE_JSON(r)                                                                           \
    "json_build_object('tenantId', " r ".tenant_id, 'id', " r ".id, 'name', " r ".name, "          \
    "'description', " r ".description, 'type', " r ".type, 'createdAt', "                          \
    LATCH_MGMT_SQL_MS(r ".created_at") ")"
#define ORG_SCOPE_JSON(s)                                                                          \
    "json_build_object('tenantId', " s ".tenant_id, 'id', " s ".id, 'name', " s ".name, "          \
    "'description', " s ".description, 'createdAt', " LATCH_MGMT_SQL_MS(s ".created_at") ")"
/* A role with what it grants (Logto's OrganizationRoleWithScopes): scopes [{id, name}] and
 * resourceScopes [{id, name, resource: {id, name}}], each by name. */
#define ORG_ROLE_SCOPES_JSON(r)                                                                    \
    "json_build_object('tenantId', " r ".tenant_id, 'id', " r ".id, 'name', " r ".name, "          \
    "'description', " r ".description, 'type', " r ".type, 'createdAt', "                          \
    LATCH_MGMT_SQL_MS(r ".created_at") ", 'scopes', (SELECT coalesce(json_agg("                    \
    "json_build_object('id', os.id, 'name', os.name) ORDER BY os.name, os.id), '[]'::json)"        \
    " FROM organization_role_scope_relations x JOIN organization_scopes os"                        \
    " ON os.tenant_id = x.tenant_id AND os.id = x.organization_scope_id"                           \
    " WHERE x.tenant_id = $1 AND x.organization_role_id = " r ".id),"                              \
    " 'resourceScopes', (SELECT coalesce(json_agg(json_build_object('id', rs.id,"                  \
    " 'name', rs.name, 'resource', json_build_object('id', res.id, 'name', res.name))"             \
    " ORDER BY res.name, rs.name, rs.id), '[]'::json)"                                             \
    " FROM organization_role_resource_scope_relations x JOIN scopes rs"                            \
    " ON rs.tenant_id = x.tenant_id AND rs.id = x.scope_id JOIN resources res"                     \
    " ON res.tenant_id = rs.tenant_id AND res.id = rs.resource_id"                                  \
    " WHERE x.tenant_id = $1 AND x.organization_role_id = " r ".id))"
/* A resource scope with its resource, as GET /api/roles/:id/scopes answers (roles.c). */
#define SCOPE_RESOURCE_JSON(s)                                                                     \
    "json_build_object('id', " s ".id, 'tenantId', " s ".tenant_id, 'resourceId', " s              \
    ".resource_id, 'name', " s ".name, 'description', " s ".description, 'createdAt', "            \
    LATCH_MGMT_SQL_MS(s ".created_at") ", 'resource', (SELECT "                                    \
    LATCH_MGMT_SQL_RESOURCE_JSON("res") " FROM resources res WHERE res.tenant_id = $1"             \
    " AND res.id = " s ".resource_id))"

/* The organization scope ids in the JSON array `param`, and those of them that exist. */
#define WANT_ORG_SCOPES(param)                                                                     \
    " want_o AS (SELECT DISTINCT v AS id FROM json_array_elements_text(" param "::json) AS v),"    \
    " found_o AS (SELECT s.id FROM organization_scopes s JOIN want_o w ON w.id = s.id"             \
    " WHERE s.tenant_id = $1),"
/* The resource scope ids in the JSON array `param`, those of them that exist, and whether they
 * belong to the Management API. */
#define WANT_RES_SCOPES(param)                                                                     \
    " want_r AS (SELECT DISTINCT v AS id FROM json_array_elements_text(" param "::json) AS v),"    \
    " found_r AS (SELECT s.id, r.is_management FROM scopes s JOIN resources r"                     \
    " ON r.tenant_id = s.tenant_id AND r.id = s.resource_id JOIN want_r w ON w.id = s.id"          \
    " WHERE s.tenant_id = $1),"
/* The first id (alphabetically) of `want` missing from `found`, as alias.id (NULL if none). */
#define FIRST_MISSING(alias, want, found)                                                          \
    " LEFT JOIN LATERAL (SELECT w.id FROM " want " w WHERE NOT EXISTS"                              \
    " (SELECT 1 FROM " found " f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) " alias " ON true"
#define ROLE_EXISTS "EXISTS (SELECT 1 FROM organization_roles WHERE tenant_id = $1 AND id = $2)"

/* ---- statements: organization roles ---- */

/* $2/$3 limit/offset (NULL limit: all), $4 search pattern. Logto lists by name. */
static const struct latch_stmt role_list = {
    .name = "mgmt_org_role_list",
    .sql = "WITH f AS (SELECT r.* FROM organization_roles r WHERE r.tenant_id = $1"
           " AND ($4::text IS NULL OR r.id ILIKE $4 OR r.name ILIKE $4"
           " OR r.description ILIKE $4)),"
           " p AS (SELECT " ORG_ROLE_SCOPES_JSON("f") " AS j, f.name, f.id FROM f"
           " ORDER BY f.name, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.name, p.id) FROM p), '[]'::json),"
           " (SELECT count(*) FROM f)",
    .nparams = 4,
};

static const struct latch_stmt role_get = {
    .name = "mgmt_org_role_get",
    .sql = "SELECT " ORG_ROLE_SCOPES_JSON("r") " FROM organization_roles r"
           " WHERE r.tenant_id = $1 AND r.id = $2",
    .nparams = 2,
};

/* $2 id, $3 name, $4 description, $5 type, $6 organization scope ids, $7 resource scope ids
 * (JSON arrays, '[]' for none). */
static const struct latch_stmt role_insert = {
    .name = "mgmt_org_role_insert",
    .sql = "WITH" WANT_ORG_SCOPES("$6") WANT_RES_SCOPES("$7")
           " chk AS (SELECT CASE WHEN mo.id IS NOT NULL THEN 'org_scope_missing'"
           " WHEN mr.id IS NOT NULL THEN 'resource_scope_missing'"
           " WHEN EXISTS (SELECT 1 FROM found_r WHERE is_management) THEN 'management_scope'"
           " END AS problem, coalesce(mo.id, mr.id) AS detail FROM (SELECT 1) AS one"
           FIRST_MISSING("mo", "want_o", "found_o") FIRST_MISSING("mr", "want_r", "found_r") "),"
           " ins AS (INSERT INTO organization_roles AS r (tenant_id, id, name, description, type)"
           " SELECT $1, $2, $3, $4, $5 FROM chk WHERE chk.problem IS NULL"
           " RETURNING " ORG_ROLE_JSON("r") " AS j, r.id),"
           " os AS (INSERT INTO organization_role_scope_relations"
           " (tenant_id, organization_role_id, organization_scope_id)"
           " SELECT $1, ins.id, found_o.id FROM ins CROSS JOIN found_o RETURNING 1),"
           " rs AS (INSERT INTO organization_role_resource_scope_relations"
           " (tenant_id, organization_role_id, scope_id)"
           " SELECT $1, ins.id, found_r.id FROM ins CROSS JOIN found_r RETURNING 1)"
           " SELECT (SELECT j FROM ins), NULL::bigint, problem, detail FROM chk",
    .nparams = 7,
};

/* $3 name (NULL keeps), $4 description, $5 whether description was given (null clears it),
 * $6 type (must equal the stored one). */
static const struct latch_stmt role_update = {
    .name = "mgmt_org_role_update",
    .sql = "WITH cur AS (SELECT type FROM organization_roles WHERE tenant_id = $1 AND id = $2),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN $6::text IS NOT NULL AND $6::text <> (SELECT type FROM cur)"
           " THEN 'type_immutable' END AS problem),"
           " upd AS (UPDATE organization_roles AS r SET name = coalesce($3::text, r.name),"
           " description = CASE WHEN $5::boolean THEN $4::text ELSE r.description END"
           " WHERE r.tenant_id = $1 AND r.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " ORG_ROLE_JSON("r") " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, (SELECT problem FROM chk)",
    .nparams = 6,
};

static const struct latch_stmt role_delete = {
    .name = "mgmt_org_role_delete",
    .sql = "DELETE FROM organization_roles WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

/* ---- statements: what a role grants ---- */

/* $3/$4 limit/offset. */
static const struct latch_stmt role_scope_list = {
    .name = "mgmt_org_role_scope_list",
    .sql = "WITH f AS (SELECT s.* FROM organization_scopes s JOIN organization_role_scope_relations x"
           " ON x.tenant_id = s.tenant_id AND x.organization_scope_id = s.id"
           " WHERE s.tenant_id = $1 AND x.tenant_id = $1 AND x.organization_role_id = $2),"
           " p AS (SELECT " ORG_SCOPE_JSON("f") " AS j, f.name, f.id FROM f"
           " ORDER BY f.name, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.name, p.id) FROM p), '[]'::json),"
           " (SELECT count(*) FROM f), CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found' END",
    .nparams = 4,
};

/* $3 organization scope ids: added to the role's (POST; already granted ones are kept). */
static const struct latch_stmt role_scope_add = {
    .name = "mgmt_org_role_scope_add",
    .sql = "WITH" WANT_ORG_SCOPES("$3")
           " chk AS (SELECT CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found'"
           " WHEN mo.id IS NOT NULL THEN 'org_scope_missing' END AS problem, mo.id AS detail"
           " FROM (SELECT 1) AS one" FIRST_MISSING("mo", "want_o", "found_o") "),"
           " ins AS (INSERT INTO organization_role_scope_relations"
           " (tenant_id, organization_role_id, organization_scope_id)"
           " SELECT $1, $2, f.id FROM found_o f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

/* $3 organization scope ids: become exactly the role's (PUT). */
static const struct latch_stmt role_scope_replace = {
    .name = "mgmt_org_role_scope_replace",
    .sql = "WITH" WANT_ORG_SCOPES("$3")
           " chk AS (SELECT CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found'"
           " WHEN mo.id IS NOT NULL THEN 'org_scope_missing' END AS problem, mo.id AS detail"
           " FROM (SELECT 1) AS one" FIRST_MISSING("mo", "want_o", "found_o") "),"
           " del AS (DELETE FROM organization_role_scope_relations x WHERE x.tenant_id = $1"
           " AND x.organization_role_id = $2 AND x.organization_scope_id NOT IN"
           " (SELECT id FROM want_o) AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " ins AS (INSERT INTO organization_role_scope_relations"
           " (tenant_id, organization_role_id, organization_scope_id)"
           " SELECT $1, $2, f.id FROM found_o f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt role_scope_delete = {
    .name = "mgmt_org_role_scope_delete",
    .sql = "WITH d AS (DELETE FROM organization_role_scope_relations WHERE tenant_id = $1"
           " AND organization_role_id = $2 AND organization_scope_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found'"
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'org_scope_not_granted' END, $3::text",
    .nparams = 3,
};

/* $3/$4 limit/offset. */
static const struct latch_stmt role_rscope_list = {
    .name = "mgmt_org_role_rscope_list",
    .sql = "WITH f AS (SELECT s.* FROM scopes s JOIN organization_role_resource_scope_relations x"
           " ON x.tenant_id = s.tenant_id AND x.scope_id = s.id"
           " WHERE s.tenant_id = $1 AND x.tenant_id = $1 AND x.organization_role_id = $2),"
           " p AS (SELECT " SCOPE_RESOURCE_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found' END",
    .nparams = 4,
};

/* What adding or replacing resource scopes checks: the role exists, every scope in $3 exists and
 * none belongs to the Management API. */
#define RSCOPE_CHECK                                                                               \
    "WITH" WANT_RES_SCOPES("$3")                                                                   \
    " chk AS (SELECT CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found'"                              \
    " WHEN mr.id IS NOT NULL THEN 'resource_scope_missing'"                                        \
    " WHEN EXISTS (SELECT 1 FROM found_r WHERE is_management) THEN 'management_scope'"             \
    " END AS problem, mr.id AS detail FROM (SELECT 1) AS one"                                      \
    FIRST_MISSING("mr", "want_r", "found_r") ")"

static const struct latch_stmt role_rscope_add = {
    .name = "mgmt_org_role_rscope_add",
    .sql = RSCOPE_CHECK ","
           " ins AS (INSERT INTO organization_role_resource_scope_relations"
           " (tenant_id, organization_role_id, scope_id)"
           " SELECT $1, $2, f.id FROM found_r f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt role_rscope_replace = {
    .name = "mgmt_org_role_rscope_replace",
    .sql = RSCOPE_CHECK ","
           " del AS (DELETE FROM organization_role_resource_scope_relations x"
           " WHERE x.tenant_id = $1 AND x.organization_role_id = $2"
           " AND x.scope_id NOT IN (SELECT id FROM want_r)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " ins AS (INSERT INTO organization_role_resource_scope_relations"
           " (tenant_id, organization_role_id, scope_id)"
           " SELECT $1, $2, f.id FROM found_r f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt role_rscope_delete = {
    .name = "mgmt_org_role_rscope_delete",
    .sql = "WITH d AS (DELETE FROM organization_role_resource_scope_relations WHERE tenant_id = $1"
           " AND organization_role_id = $2 AND scope_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE WHEN NOT " ROLE_EXISTS " THEN 'not_found'"
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'resource_scope_not_granted' END, $3::text",
    .nparams = 3,
};

/* ---- statements: organization scopes ---- */

/* $2/$3 limit/offset (NULL limit: all), $4 search pattern. Logto lists by name. */
static const struct latch_stmt scope_list = {
    .name = "mgmt_org_scope_list",
    .sql = "WITH f AS (SELECT s.* FROM organization_scopes s WHERE s.tenant_id = $1"
           " AND ($4::text IS NULL OR s.id ILIKE $4 OR s.name ILIKE $4"
           " OR s.description ILIKE $4)),"
           " p AS (SELECT " ORG_SCOPE_JSON("f") " AS j, f.name, f.id FROM f"
           " ORDER BY f.name, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.name, p.id) FROM p), '[]'::json),"
           " (SELECT count(*) FROM f)",
    .nparams = 4,
};

static const struct latch_stmt scope_get = {
    .name = "mgmt_org_scope_get",
    .sql = "SELECT " ORG_SCOPE_JSON("s") " FROM organization_scopes s"
           " WHERE s.tenant_id = $1 AND s.id = $2",
    .nparams = 2,
};

/* $2 id, $3 name, $4 description. */
static const struct latch_stmt scope_insert = {
    .name = "mgmt_org_scope_insert",
    .sql = "INSERT INTO organization_scopes AS s (tenant_id, id, name, description)"
           " VALUES ($1, $2, $3, $4) RETURNING " ORG_SCOPE_JSON("s"),
    .nparams = 4,
};

/* $3 name (NULL keeps), $4 description, $5 whether description was given. */
static const struct latch_stmt scope_update = {
    .name = "mgmt_org_scope_update",
    .sql = "UPDATE organization_scopes AS s SET name = coalesce($3::text, s.name),"
           " description = CASE WHEN $5::boolean THEN $4::text ELSE s.description END"
           " WHERE s.tenant_id = $1 AND s.id = $2 RETURNING " ORG_SCOPE_JSON("s"),
    .nparams = 5,
};

static const struct latch_stmt scope_delete = {
    .name = "mgmt_org_scope_delete",
    .sql = "DELETE FROM organization_scopes WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};
// clang-format on

static const struct latch_mgmt_problem org_role_problems[] = {
    {"org_scope_missing", 422, "entity.relation_foreign_key_not_found",
     "The organization scope with ID `{}` does not exist."},
    {"resource_scope_missing", 422, "entity.relation_foreign_key_not_found",
     "The scope with ID `{}` does not exist."},
    {"management_scope", 403, "role.management_api_scopes_not_assignable_to_user_role",
     "Cannot assign management API scopes to an organization role."},
    {"org_scope_not_granted", 404, "entity.not_found",
     "The organization scope `{}` is not assigned to this organization role."},
    {"resource_scope_not_granted", 404, "entity.not_found",
     "The scope `{}` is not assigned to this organization role."},
    {"type_immutable", 400, "guard.invalid_input", "type: cannot be changed"},
    {NULL, 0, NULL, NULL},
};

/* ---- helpers ---- */

static bool valid_role_type(const char *t)
{
    return strcmp(t, "User") == 0 || strcmp(t, "MachineToMachine") == 0;
}

/* A new 21-character id in req->arena; answers 500 and returns NULL on failure. */
static char *new_id(struct latch_request *req)
{
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return NULL;
    }
    return id;
}

static const char *name_conflict(struct latch_request *req, const char *what, const char *name)
{
    if (name == NULL)
        return NULL;
    return latch_arena_printf(req->arena, "The %s name `%s` is already in use.", what, name);
}

/* A list answer (Total-Number) for one statement with (tenant, [id,] limit, offset[, q]). */
static void run_list(struct latch_request *req, const struct latch_store_op *op, const char *id)
{
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "organization role", .id = id, .list = true};
    latch_mgmt_run(req, op, 1, &reply);
}

/* ---- handlers: organization roles ---- */

static void list_roles(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *q;
    if (!latch_mgmt_paginate(req, true, &limit, &offset) || !latch_mgmt_search_q(req, &q))
        return;
    struct latch_store_op op = {&role_list, {req->tenant->id, limit, offset, q}};
    run_list(req, &op, NULL);
}

/* Webhook events of the routes (Logto's managementApiHooksRegistration). */
static const struct latch_mgmt_hook_spec hook_role_created = {
    "OrganizationRole.Created", LATCH_MGMT_HOOK_ORGANIZATION_ROLE, "/api/organization-roles"};
static const struct latch_mgmt_hook_spec hook_role_updated = {"OrganizationRole.Data.Updated",
                                                              LATCH_MGMT_HOOK_ORGANIZATION_ROLE,
                                                              "/api/organization-roles/:id"};
static const struct latch_mgmt_hook_spec hook_role_deleted = {
    "OrganizationRole.Deleted", LATCH_MGMT_HOOK_ORGANIZATION_ROLE, "/api/organization-roles/:id"};
static const struct latch_mgmt_hook_spec hook_scope_created = {
    "OrganizationScope.Created", LATCH_MGMT_HOOK_ORGANIZATION_SCOPE, "/api/organization-scopes"};
static const struct latch_mgmt_hook_spec hook_scope_updated = {"OrganizationScope.Data.Updated",
                                                               LATCH_MGMT_HOOK_ORGANIZATION_SCOPE,
                                                               "/api/organization-scopes/:id"};
static const struct latch_mgmt_hook_spec hook_scope_deleted = {"OrganizationScope.Deleted",
                                                               LATCH_MGMT_HOOK_ORGANIZATION_SCOPE,
                                                               "/api/organization-scopes/:id"};

static void create_role(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name, *description, *type, *org_scopes, *res_scopes;
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, LATCH_MGMT_REQUIRED, &name, NULL) &&
        latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                           &description, NULL) &&
        latch_mgmt_get_str(&body, "type", 1, 32, 0, &type, NULL) &&
        latch_mgmt_get_ids(&body, "organizationScopeIds", 0, false, &org_scopes) &&
        latch_mgmt_get_ids(&body, "resourceScopeIds", 0, false, &res_scopes);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (type == NULL)
        type = "User";
    if (!valid_role_type(type)) {
        latch_mgmt_invalid(req, "type", "must be User or MachineToMachine");
        return;
    }
    char *id = new_id(req);
    if (id == NULL)
        return;
    struct latch_store_op op = {&role_insert,
                                {req->tenant->id, id, name, description, type,
                                 org_scopes ? org_scopes : "[]", res_scopes ? res_scopes : "[]"}};
    struct latch_mgmt_reply reply = {
        .status = 201,
        .entity = "organization role",
        .id = id,
        .problems = org_role_problems,
        .conflict_message = name_conflict(req, "organization role", name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_role_created, id);
}

static void update_role(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "organization role");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name, *description, *type;
    bool has_description;
    bool ok = latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, 0, &name, NULL) &&
              latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                                 &description, &has_description) &&
              latch_mgmt_get_str(&body, "type", 1, 32, 0, &type, NULL);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (type != NULL && !valid_role_type(type)) {
        latch_mgmt_invalid(req, "type", "must be User or MachineToMachine");
        return;
    }
    struct latch_store_op op = {
        &role_update,
        {req->tenant->id, id, name, description, has_description ? "true" : "false", type}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "organization role",
        .id = id,
        .problems = org_role_problems,
        .conflict_message = name_conflict(req, "organization role", name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, &hook_role_updated, id);
}

/* ---- handlers: what a role grants ---- */

/* The two kinds of grants (relation.c): organization scopes and API-resource scopes. Logto
 * reports changes of the first (OrganizationRole.Scopes.Updated), not of the second. */
static const struct latch_mgmt_hook_spec hook_scope_grants = {
    "OrganizationRole.Scopes.Updated", LATCH_MGMT_HOOK_ORGANIZATION_ROLE_SCOPES,
    "/api/organization-roles/:id/scopes"};
static const struct latch_mgmt_relation org_scope_grants = {
    .owner_entity = "organization role",
    .list = &role_scope_list,
    .add = &role_scope_add,
    .replace = &role_scope_replace,
    .remove = &role_scope_delete,
    .ids_key = "organizationScopeIds",
    .param = "organizationScopeId",
    .param_entity = "organization scope",
    .page_optional = true,
    .problems = org_role_problems,
    .hook = &hook_scope_grants,
};

static const struct latch_mgmt_relation resource_scope_grants = {
    .owner_entity = "organization role",
    .list = &role_rscope_list,
    .add = &role_rscope_add,
    .replace = &role_rscope_replace,
    .remove = &role_rscope_delete,
    .ids_key = "scopeIds",
    .param = "scopeId",
    .param_entity = "scope",
    .page_optional = true,
    .problems = org_role_problems,
};

/* ---- handlers: organization scopes ---- */

static void list_scopes(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *q;
    if (!latch_mgmt_paginate(req, true, &limit, &offset) || !latch_mgmt_search_q(req, &q))
        return;
    struct latch_store_op op = {&scope_list, {req->tenant->id, limit, offset, q}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "organization scope", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* POST (create) and PATCH (update, id non-NULL) of an organization scope. */
static void write_scope(struct latch_request *req, const char *id)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name, *description;
    bool has_description;
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS,
                           LATCH_MGMT_NO_SPACE | (id ? 0 : LATCH_MGMT_REQUIRED), &name, NULL) &&
        latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                           &description, &has_description);
    yajl_tree_free(tree);
    if (!ok)
        return;
    bool create = id == NULL;
    if (create && (id = new_id(req)) == NULL)
        return;
    struct latch_store_op op = {
        create ? &scope_insert : &scope_update,
        {req->tenant->id, id, name, description, has_description ? "true" : "false"}};
    struct latch_mgmt_reply reply = {
        .status = create ? 201 : 200,
        .entity = "organization scope",
        .id = id,
        .conflict_message = name_conflict(req, "organization scope", name),
    };
    latch_mgmt_run_hooked(req, &op, &reply, create ? &hook_scope_created : &hook_scope_updated, id);
}

static void create_scope(struct latch_request *req, void *arg)
{
    write_scope(req, NULL);
}

static void update_scope(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "organization scope");
    if (id != NULL)
        write_scope(req, id);
}

/* GET and DELETE /api/organization-scopes/:id. */
static void scope_by_id(struct latch_request *req, const struct latch_stmt *stmt, int status)
{
    const char *id = latch_mgmt_param_id(req, "id", "organization scope");
    if (id == NULL)
        return;
    struct latch_store_op op = {stmt, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {.status = status, .entity = "organization scope", .id = id};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void get_scope(struct latch_request *req, void *arg)
{
    scope_by_id(req, &scope_get, 200);
}

static void delete_scope(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "organization scope");
    if (id == NULL)
        return;
    struct latch_store_op op = {&scope_delete, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {.status = 204, .entity = "organization scope", .id = id};
    latch_mgmt_run_hooked(req, &op, &reply, &hook_scope_deleted, id);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_role_call = {&role_get, "id", "organization role", 200,
                                                      NULL};
static const struct latch_mgmt_by_id_hooked delete_role_call = {
    {&role_delete, "id", "organization role", 204, NULL}, &hook_role_deleted};

latch_rc latch_mgmt_organization_roles_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/organization-roles", list_roles, NULL},
        {LATCH_HTTP_POST, "/api/organization-roles", create_role, NULL},
        {LATCH_HTTP_GET, "/api/organization-roles/:id", latch_mgmt_by_id, &get_role_call},
        {LATCH_HTTP_PATCH, "/api/organization-roles/:id", update_role, NULL},
        {LATCH_HTTP_DELETE, "/api/organization-roles/:id", latch_mgmt_by_id_hooked,
         &delete_role_call},
        {LATCH_HTTP_GET, "/api/organization-roles/:id/scopes", latch_mgmt_relation_list,
         &org_scope_grants},
        {LATCH_HTTP_POST, "/api/organization-roles/:id/scopes", latch_mgmt_relation_add,
         &org_scope_grants},
        {LATCH_HTTP_PUT, "/api/organization-roles/:id/scopes", latch_mgmt_relation_replace,
         &org_scope_grants},
        {LATCH_HTTP_DELETE, "/api/organization-roles/:id/scopes/:organizationScopeId",
         latch_mgmt_relation_remove, &org_scope_grants},
        {LATCH_HTTP_GET, "/api/organization-roles/:id/resource-scopes", latch_mgmt_relation_list,
         &resource_scope_grants},
        {LATCH_HTTP_POST, "/api/organization-roles/:id/resource-scopes", latch_mgmt_relation_add,
         &resource_scope_grants},
        {LATCH_HTTP_PUT, "/api/organization-roles/:id/resource-scopes", latch_mgmt_relation_replace,
         &resource_scope_grants},
        {LATCH_HTTP_DELETE, "/api/organization-roles/:id/resource-scopes/:scopeId",
         latch_mgmt_relation_remove, &resource_scope_grants},
        {LATCH_HTTP_GET, "/api/organization-scopes", list_scopes, NULL},
        {LATCH_HTTP_POST, "/api/organization-scopes", create_scope, NULL},
        {LATCH_HTTP_GET, "/api/organization-scopes/:id", get_scope, NULL},
        {LATCH_HTTP_PATCH, "/api/organization-scopes/:id", update_scope, NULL},
        {LATCH_HTTP_DELETE, "/api/organization-scopes/:id", delete_scope, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
