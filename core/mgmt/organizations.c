/*
 * Management API: organizations, in Logto's paths and JSON (/api/organizations...): the
 * organizations themselves, their user members and the organization roles those hold, their
 * MachineToMachine application members and roles, just-in-time provisioning (email domains and
 * the roles new members get), and GET /api/users/:userId/organizations. The roles come from the
 * tenant-wide template (organization_roles.c): User roles for users and JIT, MachineToMachine
 * roles for applications. Every write is one statement that checks before it writes, so a
 * refused request changes nothing. See docs/management-api-organizations.md for every route.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"
#include "users/users.h"

#define NAME_MAX_CHARS   128 /* organizations.name is varchar(128) */
#define DESC_MAX_CHARS   256 /* organizations.description is varchar(256) */
#define DOMAIN_MAX_CHARS 128 /* organization_jit_email_domains.email_domain is varchar(128) */

#define DOMAIN_PROBLEM "must be a domain name such as example.com"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* Logto's Organization, as the members of a json_build_object() over the row alias o. */
#define ORG_FIELDS(o)                                                                              \
    "'tenantId', " o ".tenant_id, 'id', " o ".id, 'name', " o ".name, 'description', " o           \
    ".description, 'customData', " o ".custom_data, 'isMfaRequired', " o ".is_mfa_required, "      \
    "'branding', " o ".branding, 'createdAt', " LATCH_MGMT_SQL_MS(o ".created_at")
#define ORG_JSON(o) "json_build_object(" ORG_FIELDS(o) ")"
/* With showFeatured: the number of user members and up to three of them, newest members first. */
#define ORG_FEATURED_JSON(o)                                                                       \
    "json_build_object(" ORG_FIELDS(o) ", 'usersCount', (SELECT count(*)"                          \
    " FROM organization_user_relations m WHERE m.tenant_id = $1 AND m.organization_id = " o ".id),"\
    " 'featuredUsers', (SELECT coalesce(json_agg(json_build_object('id', fu.id,"                   \
    " 'avatar', fu.avatar, 'name', fu.name) ORDER BY fu.joined DESC, fu.id), '[]'::json)"          \
    " FROM (SELECT u.id, u.avatar, u.name, m.created_at AS joined FROM users u"                    \
    " JOIN organization_user_relations m ON m.tenant_id = u.tenant_id AND m.user_id = u.id"        \
    " WHERE u.tenant_id = $1 AND m.tenant_id = $1 AND m.organization_id = " o ".id"                \
    " ORDER BY m.created_at DESC, u.id LIMIT 3) fu))"
#define ORG_ROLE_JSON(r)                                                                           \
    "json_build_object('tenantId', " r ".tenant_id, 'id', " r ".id, 'name', " r ".name, "          \
    "'description', " r ".description, 'type', " r ".type, 'createdAt', "                          \
    LATCH_MGMT_SQL_MS(r ".created_at") ")"
#define ORG_SCOPE_JSON(s)                                                                          \
    "json_build_object('tenantId', " s ".tenant_id, 'id', " s ".id, 'name', " s ".name, "          \
    "'description', " s ".description)"
#define DOMAIN_JSON(d)                                                                             \
    "json_build_object('tenantId', " d ".tenant_id, 'organizationId', " d ".organization_id, "     \
    "'emailDomain', " d ".email_domain)"
/* The organization roles [{id, name}] that the relation table rel gives the member whose id is
 * in column col, in organization org; by name. */
#define ROLES_OF(rel, col, org, member)                                                            \
    "(SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name)"                      \
    " ORDER BY r.name, r.id), '[]'::json) FROM " rel " x JOIN organization_roles r"                \
    " ON r.tenant_id = x.tenant_id AND r.id = x.organization_role_id"                              \
    " WHERE x.tenant_id = $1 AND x.organization_id = " org " AND x." col " = " member ")"

/* $2 is always the organization of the path. */
#define ORG_EXISTS "EXISTS (SELECT 1 FROM organizations WHERE tenant_id = $1 AND id = $2)"
#define IS_MEMBER(rel, col, member)                                                                \
    "EXISTS (SELECT 1 FROM " rel " m WHERE m.tenant_id = $1 AND m.organization_id = $2"            \
    " AND m." col " = " member ")"
/* The distinct ids of the JSON array `param` as the CTE `alias` (column id). */
#define WANT(alias, param)                                                                         \
    " " alias " AS (SELECT DISTINCT v AS id FROM json_array_elements_text(" param "::json) AS v),"
/* The first id (alphabetically) of `want` missing from `found`, as alias.id (NULL if none). */
#define FIRST_MISSING(alias, want, found)                                                          \
    " LEFT JOIN LATERAL (SELECT w.id FROM " want " w WHERE NOT EXISTS"                              \
    " (SELECT 1 FROM " found " f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) " alias " ON true"
/* The organization roles listed in `param` that exist, with their type. */
#define FOUND_ROLES(param)                                                                         \
    WANT("want_r", param)                                                                          \
    " found_r AS (SELECT r.id, r.type FROM organization_roles r JOIN want_r w ON w.id = r.id"      \
    " WHERE r.tenant_id = $1),"
#define WHEN_NO_ORG " WHEN NOT " ORG_EXISTS " THEN 'not_found'"
/* A statement's answer when it only reports a problem (from the CTE chk). */
#define ANSWER_CHK " SELECT NULL::json, NULL::bigint, problem, detail FROM chk"

/* ---- statements: organizations ---- */

/* $2/$3 limit/offset (NULL limit: all), $4 search pattern, $5 showFeatured. Newest first. */
static const struct latch_stmt org_list = {
    .name = "mgmt_org_list",
    .sql = "WITH f AS (SELECT o.* FROM organizations o WHERE o.tenant_id = $1"
           " AND ($4::text IS NULL OR o.id ILIKE $4 OR o.name ILIKE $4"
           " OR o.description ILIKE $4)),"
           " p AS (SELECT CASE WHEN $5::boolean THEN " ORG_FEATURED_JSON("f")
           " ELSE " ORG_JSON("f") " END AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 5,
};

static const struct latch_stmt org_get = {
    .name = "mgmt_org_get",
    .sql = "SELECT " ORG_JSON("o") " FROM organizations o WHERE o.tenant_id = $1 AND o.id = $2",
    .nparams = 2,
};

/* $2 id, $3 name, $4 description, $5 customData, $6 isMfaRequired, $7 branding (NULL: default). */
static const struct latch_stmt org_insert = {
    .name = "mgmt_org_insert",
    .sql = "INSERT INTO organizations AS o (tenant_id, id, name, description, custom_data,"
           " is_mfa_required, branding) VALUES ($1, $2, $3, $4, coalesce($5::jsonb, '{}'),"
           " coalesce($6::boolean, false), coalesce($7::jsonb, '{}')) RETURNING " ORG_JSON("o"),
    .nparams = 7,
};

/* $3 name, $4 description, $5 whether description was given (null clears it), $6 customData,
 * $7 isMfaRequired, $8 branding; NULL keeps the stored value. Logto's PATCH replaces the JSON
 * objects as given. */
static const struct latch_stmt org_update = {
    .name = "mgmt_org_update",
    .sql = "UPDATE organizations AS o SET name = coalesce($3::text, o.name),"
           " description = CASE WHEN $5::boolean THEN $4::text ELSE o.description END,"
           " custom_data = coalesce($6::jsonb, o.custom_data),"
           " is_mfa_required = coalesce($7::boolean, o.is_mfa_required),"
           " branding = coalesce($8::jsonb, o.branding)"
           " WHERE o.tenant_id = $1 AND o.id = $2 RETURNING " ORG_JSON("o"),
    .nparams = 8,
};

/* Memberships, roles, JIT rows and invitations go with it (ON DELETE CASCADE). */
static const struct latch_stmt org_delete = {
    .name = "mgmt_org_delete",
    .sql = "DELETE FROM organizations WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

/* GET /api/users/:userId/organizations: $2 the user. */
static const struct latch_stmt user_org_list = {
    .name = "mgmt_user_org_list",
    .sql = "SELECT coalesce((SELECT json_agg(json_build_object(" ORG_FIELDS("o") ","
           " 'organizationRoles', " ROLES_OF("organization_role_user_relations", "user_id",
                                             "o.id", "$2") ")"
           " ORDER BY o.created_at DESC, o.id) FROM organizations o"
           " JOIN organization_user_relations m"
           " ON m.tenant_id = o.tenant_id AND m.organization_id = o.id"
           " WHERE o.tenant_id = $1 AND m.tenant_id = $1 AND m.user_id = $2), '[]'::json),"
           " NULL::bigint, CASE WHEN NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1"
           " AND id = $2) THEN 'not_found' END",
    .nparams = 2,
};

/* ---- statements: user members ---- */

/* $3/$4 limit/offset, $5 search pattern over the columns GET /api/users searches. Each user as
 * GET /api/users shows it, plus its organizationRoles here. */
static const struct latch_stmt member_list = {
    .name = "mgmt_org_member_list",
    .sql = "WITH f AS (SELECT u.* FROM users u JOIN organization_user_relations m"
           " ON m.tenant_id = u.tenant_id AND m.user_id = u.id"
           " WHERE u.tenant_id = $1 AND m.tenant_id = $1 AND m.organization_id = $2"
           " AND ($5::text IS NULL OR u.id ILIKE $5 OR u.username ILIKE $5"
           " OR u.primary_email ILIKE $5 OR u.primary_phone ILIKE $5 OR u.name ILIKE $5)),"
           " p AS (SELECT " LATCH_USERS_SQL_JSON("f") "::jsonb || jsonb_build_object("
           "'organizationRoles', " ROLES_OF("organization_role_user_relations", "user_id", "$2",
                                            "f.id") ") AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT " ORG_EXISTS " THEN 'not_found' END",
    .nparams = 5,
};

/* $3 a JSON array of user ids: the organization exists and so does every user. */
#define MEMBER_USERS_CHECK                                                                         \
    "WITH" WANT("want", "$3")                                                                      \
    " found AS (SELECT u.id FROM users u JOIN want w ON w.id = u.id WHERE u.tenant_id = $1),"      \
    " chk AS (SELECT CASE" WHEN_NO_ORG " WHEN mu.id IS NOT NULL THEN 'user_missing'"               \
    " END AS problem, mu.id AS detail FROM (SELECT 1) AS one"                                      \
    FIRST_MISSING("mu", "want", "found") "),"
#define INSERT_MEMBER_USERS                                                                        \
    " ins AS (INSERT INTO organization_user_relations (tenant_id, organization_id, user_id)"       \
    " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"                    \
    " ON CONFLICT DO NOTHING RETURNING 1)"

/* Members already there stay as they are (with their roles). */
static const struct latch_stmt member_add = {
    .name = "mgmt_org_member_add",
    .sql = MEMBER_USERS_CHECK INSERT_MEMBER_USERS ANSWER_CHK,
    .nparams = 3,
};

/* Members not listed leave, and their organization roles with them (ON DELETE CASCADE). */
static const struct latch_stmt member_replace = {
    .name = "mgmt_org_member_replace",
    .sql = MEMBER_USERS_CHECK
           " del AS (DELETE FROM organization_user_relations m WHERE m.tenant_id = $1"
           " AND m.organization_id = $2 AND m.user_id NOT IN (SELECT id FROM want)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1)," INSERT_MEMBER_USERS ANSWER_CHK,
    .nparams = 3,
};

/* $3 the user. */
static const struct latch_stmt member_delete = {
    .name = "mgmt_org_member_delete",
    .sql = "WITH d AS (DELETE FROM organization_user_relations WHERE tenant_id = $1"
           " AND organization_id = $2 AND user_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE" WHEN_NO_ORG
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'user_not_in_org' END, $3::text",
    .nparams = 3,
};

/* ---- statements: organization roles of members (users and applications alike) ---- */

/* $3 a JSON array of member ids, $4 a JSON array of organization role ids: the organization
 * exists, every member is a member of it (in rel, by column col), every role exists and has
 * the given type. Problems name the first offending id. */
#define MEMBER_ROLES_CHECK(rel, col, type, not_member, wrong_type)                                 \
    "WITH" WANT("want_m", "$3") FOUND_ROLES("$4")                                                  \
    " chk AS (SELECT CASE" WHEN_NO_ORG " WHEN nm.id IS NOT NULL THEN '" not_member "'"            \
    " WHEN mr.id IS NOT NULL THEN 'role_missing'"                                                  \
    " WHEN nt.id IS NOT NULL THEN '" wrong_type "' END AS problem,"                                \
    " coalesce(nm.id, mr.id, nt.id) AS detail FROM (SELECT 1) AS one"                              \
    " LEFT JOIN LATERAL (SELECT w.id FROM want_m w WHERE NOT " IS_MEMBER(rel, col, "w.id")         \
    " ORDER BY w.id LIMIT 1) nm ON true" FIRST_MISSING("mr", "want_r", "found_r")                  \
    " LEFT JOIN LATERAL (SELECT f.id FROM found_r f WHERE f.type <> '" type "'"                    \
    " ORDER BY f.id LIMIT 1) nt ON true),"
#define INSERT_MEMBER_ROLES(rel, col)                                                              \
    " ins AS (INSERT INTO " rel " (tenant_id, organization_id, organization_role_id, " col ")"     \
    " SELECT $1, $2, r.id, m.id FROM found_r r CROSS JOIN want_m m"                                \
    " WHERE (SELECT problem FROM chk) IS NULL ON CONFLICT DO NOTHING RETURNING 1)"
/* PUT: the roles not listed go (for the members listed). */
#define DELETE_OTHER_ROLES(rel, col)                                                               \
    " del AS (DELETE FROM " rel " x WHERE x.tenant_id = $1 AND x.organization_id = $2"             \
    " AND x." col " IN (SELECT id FROM want_m) AND x.organization_role_id NOT IN"                  \
    " (SELECT id FROM want_r) AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
/* $3 the member, $4/$5 limit/offset; by name. */
#define MEMBER_ROLE_LIST(mrel, rrel, col, not_member)                                              \
    "WITH f AS (SELECT r.* FROM organization_roles r JOIN " rrel " x"                              \
    " ON x.tenant_id = r.tenant_id AND x.organization_role_id = r.id"                              \
    " WHERE r.tenant_id = $1 AND x.tenant_id = $1 AND x.organization_id = $2"                      \
    " AND x." col " = $3),"                                                                        \
    " p AS (SELECT " ORG_ROLE_JSON("f") " AS j, f.name, f.id FROM f"                               \
    " ORDER BY f.name, f.id LIMIT $4::bigint OFFSET $5::bigint)"                                   \
    " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.name, p.id) FROM p), '[]'::json),"           \
    " (SELECT count(*) FROM f), CASE" WHEN_NO_ORG " WHEN NOT " IS_MEMBER(mrel, col, "$3")          \
    " THEN '" not_member "' END, $3::text"
/* $3 the member, $4 the organization role. */
#define MEMBER_ROLE_DELETE(mrel, rrel, col, not_member)                                            \
    "WITH chk AS (SELECT CASE" WHEN_NO_ORG " WHEN NOT " IS_MEMBER(mrel, col, "$3")                 \
    " THEN '" not_member "' END AS problem),"                                                      \
    " d AS (DELETE FROM " rrel " WHERE tenant_id = $1 AND organization_id = $2"                    \
    " AND " col " = $3 AND organization_role_id = $4 AND (SELECT problem FROM chk) IS NULL"        \
    " RETURNING 1)"                                                                                \
    " SELECT NULL::json, NULL::bigint, coalesce(problem, CASE WHEN NOT EXISTS"                     \
    " (SELECT 1 FROM d) THEN 'role_not_assigned' END),"                                            \
    " CASE WHEN problem IS NULL THEN $4::text ELSE $3::text END FROM chk"

#define USER_ROLES_CHECK                                                                           \
    MEMBER_ROLES_CHECK("organization_user_relations", "user_id", "User", "user_not_member",       \
                       "role_not_user")
#define APP_ROLES_CHECK                                                                            \
    MEMBER_ROLES_CHECK("organization_application_relations", "application_id",                     \
                       "MachineToMachine", "app_not_member", "role_not_m2m")

/* POST /users/roles and POST /users/:userId/roles (the user as a one-element $3). */
static const struct latch_stmt user_role_add = {
    .name = "mgmt_org_user_role_add",
    .sql = USER_ROLES_CHECK
           INSERT_MEMBER_ROLES("organization_role_user_relations", "user_id") ANSWER_CHK,
    .nparams = 4,
};

static const struct latch_stmt user_role_replace = {
    .name = "mgmt_org_user_role_replace",
    .sql = USER_ROLES_CHECK DELETE_OTHER_ROLES("organization_role_user_relations", "user_id")
           INSERT_MEMBER_ROLES("organization_role_user_relations", "user_id") ANSWER_CHK,
    .nparams = 4,
};

static const struct latch_stmt user_role_list = {
    .name = "mgmt_org_user_role_list",
    .sql = MEMBER_ROLE_LIST("organization_user_relations", "organization_role_user_relations",
                            "user_id", "user_not_member"),
    .nparams = 5,
};

static const struct latch_stmt user_role_delete = {
    .name = "mgmt_org_user_role_delete",
    .sql = MEMBER_ROLE_DELETE("organization_user_relations", "organization_role_user_relations",
                              "user_id", "user_not_member"),
    .nparams = 4,
};

/* $3 the user: the organization scopes its roles here grant, each once, by name. */
static const struct latch_stmt user_scope_list = {
    .name = "mgmt_org_user_scope_list",
    .sql = "SELECT coalesce((SELECT json_agg(" ORG_SCOPE_JSON("s") " ORDER BY s.name, s.id)"
           " FROM organization_scopes s WHERE s.tenant_id = $1 AND s.id IN"
           " (SELECT rs.organization_scope_id FROM organization_role_scope_relations rs"
           " JOIN organization_role_user_relations x ON x.tenant_id = rs.tenant_id"
           " AND x.organization_role_id = rs.organization_role_id WHERE rs.tenant_id = $1"
           " AND x.tenant_id = $1 AND x.organization_id = $2 AND x.user_id = $3)), '[]'::json),"
           " NULL::bigint, CASE" WHEN_NO_ORG
           " WHEN NOT " IS_MEMBER("organization_user_relations", "user_id", "$3")
           " THEN 'user_not_member' END, $3::text",
    .nparams = 3,
};

/* ---- statements: application members ---- */

/* $3/$4 limit/offset, $5 search pattern over id, name and description. */
static const struct latch_stmt app_list = {
    .name = "mgmt_org_app_list",
    .sql = "WITH f AS (SELECT a.* FROM applications a JOIN organization_application_relations m"
           " ON m.tenant_id = a.tenant_id AND m.application_id = a.id"
           " WHERE a.tenant_id = $1 AND m.tenant_id = $1 AND m.organization_id = $2"
           " AND ($5::text IS NULL OR a.id ILIKE $5 OR a.name ILIKE $5"
           " OR a.description ILIKE $5)),"
           " p AS (SELECT " LATCH_MGMT_SQL_APP_JSON("f") "::jsonb || jsonb_build_object("
           "'organizationRoles', " ROLES_OF("organization_role_application_relations",
                                            "application_id", "$2", "f.id")
           ") AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT " ORG_EXISTS " THEN 'not_found' END",
    .nparams = 5,
};

/* $3 a JSON array of application ids: the organization exists, every application exists and is
 * a MachineToMachine one. */
#define MEMBER_APPS_CHECK                                                                          \
    "WITH" WANT("want", "$3")                                                                      \
    " found AS (SELECT a.id, a.type FROM applications a JOIN want w ON w.id = a.id"                \
    " WHERE a.tenant_id = $1),"                                                                    \
    " chk AS (SELECT CASE" WHEN_NO_ORG " WHEN ma.id IS NOT NULL THEN 'app_missing'"                \
    " WHEN na.id IS NOT NULL THEN 'app_not_m2m' END AS problem,"                                   \
    " coalesce(ma.id, na.id) AS detail FROM (SELECT 1) AS one"                                     \
    FIRST_MISSING("ma", "want", "found")                                                           \
    " LEFT JOIN LATERAL (SELECT f.id FROM found f WHERE f.type <> 'MachineToMachine'"              \
    " ORDER BY f.id LIMIT 1) na ON true),"
#define INSERT_MEMBER_APPS                                                                         \
    " ins AS (INSERT INTO organization_application_relations"                                      \
    " (tenant_id, organization_id, application_id) SELECT $1, $2, f.id FROM found f"               \
    " WHERE (SELECT problem FROM chk) IS NULL ON CONFLICT DO NOTHING RETURNING 1)"

static const struct latch_stmt app_add = {
    .name = "mgmt_org_app_add",
    .sql = MEMBER_APPS_CHECK INSERT_MEMBER_APPS ANSWER_CHK,
    .nparams = 3,
};

static const struct latch_stmt app_replace = {
    .name = "mgmt_org_app_replace",
    .sql = MEMBER_APPS_CHECK
           " del AS (DELETE FROM organization_application_relations m WHERE m.tenant_id = $1"
           " AND m.organization_id = $2 AND m.application_id NOT IN (SELECT id FROM want)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1)," INSERT_MEMBER_APPS ANSWER_CHK,
    .nparams = 3,
};

static const struct latch_stmt app_delete = {
    .name = "mgmt_org_app_delete",
    .sql = "WITH d AS (DELETE FROM organization_application_relations WHERE tenant_id = $1"
           " AND organization_id = $2 AND application_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE" WHEN_NO_ORG
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'app_not_in_org' END, $3::text",
    .nparams = 3,
};

static const struct latch_stmt app_role_add = {
    .name = "mgmt_org_app_role_add",
    .sql = APP_ROLES_CHECK
           INSERT_MEMBER_ROLES("organization_role_application_relations", "application_id")
           ANSWER_CHK,
    .nparams = 4,
};

static const struct latch_stmt app_role_replace = {
    .name = "mgmt_org_app_role_replace",
    .sql = APP_ROLES_CHECK
           DELETE_OTHER_ROLES("organization_role_application_relations", "application_id")
           INSERT_MEMBER_ROLES("organization_role_application_relations", "application_id")
           ANSWER_CHK,
    .nparams = 4,
};

static const struct latch_stmt app_role_list = {
    .name = "mgmt_org_app_role_list",
    .sql = MEMBER_ROLE_LIST("organization_application_relations",
                            "organization_role_application_relations", "application_id",
                            "app_not_member"),
    .nparams = 5,
};

static const struct latch_stmt app_role_delete = {
    .name = "mgmt_org_app_role_delete",
    .sql = MEMBER_ROLE_DELETE("organization_application_relations",
                              "organization_role_application_relations", "application_id",
                              "app_not_member"),
    .nparams = 4,
};

/* ---- statements: just-in-time provisioning ---- */

/* $3/$4 limit/offset; by domain. */
static const struct latch_stmt jit_domain_list = {
    .name = "mgmt_org_jit_domain_list",
    .sql = "WITH f AS (SELECT d.* FROM organization_jit_email_domains d WHERE d.tenant_id = $1"
           " AND d.organization_id = $2),"
           " p AS (SELECT " DOMAIN_JSON("f") " AS j, f.email_domain FROM f"
           " ORDER BY f.email_domain LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.email_domain) FROM p), '[]'::json),"
           " (SELECT count(*) FROM f), CASE WHEN NOT " ORG_EXISTS " THEN 'not_found' END",
    .nparams = 4,
};

/* $3 the domain (lowercase); a duplicate hits the primary key (422). */
static const struct latch_stmt jit_domain_add = {
    .name = "mgmt_org_jit_domain_add",
    .sql = "WITH chk AS (SELECT CASE" WHEN_NO_ORG " END AS problem, NULL::text AS detail),"
           " ins AS (INSERT INTO organization_jit_email_domains AS d"
           " (tenant_id, organization_id, email_domain) SELECT $1, $2, $3 FROM chk"
           " WHERE chk.problem IS NULL RETURNING " DOMAIN_JSON("d") " AS j)"
           " SELECT (SELECT j FROM ins), NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

/* $3 a JSON array of domains (lowercase). */
static const struct latch_stmt jit_domain_replace = {
    .name = "mgmt_org_jit_domain_replace",
    .sql = "WITH" WANT("want", "$3")
           " chk AS (SELECT CASE" WHEN_NO_ORG " END AS problem, NULL::text AS detail),"
           " del AS (DELETE FROM organization_jit_email_domains d WHERE d.tenant_id = $1"
           " AND d.organization_id = $2 AND d.email_domain NOT IN (SELECT id FROM want)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " ins AS (INSERT INTO organization_jit_email_domains"
           " (tenant_id, organization_id, email_domain) SELECT $1, $2, w.id FROM want w"
           " WHERE (SELECT problem FROM chk) IS NULL ON CONFLICT DO NOTHING RETURNING 1)"
           ANSWER_CHK,
    .nparams = 3,
};

static const struct latch_stmt jit_domain_delete = {
    .name = "mgmt_org_jit_domain_delete",
    .sql = "WITH d AS (DELETE FROM organization_jit_email_domains WHERE tenant_id = $1"
           " AND organization_id = $2 AND email_domain = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE" WHEN_NO_ORG
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'domain_missing' END, $3::text",
    .nparams = 3,
};

/* $3/$4 limit/offset; by name. */
static const struct latch_stmt jit_role_list = {
    .name = "mgmt_org_jit_role_list",
    .sql = "WITH f AS (SELECT r.* FROM organization_roles r JOIN organization_jit_roles x"
           " ON x.tenant_id = r.tenant_id AND x.organization_role_id = r.id"
           " WHERE r.tenant_id = $1 AND x.tenant_id = $1 AND x.organization_id = $2),"
           " p AS (SELECT " ORG_ROLE_JSON("f") " AS j, f.name, f.id FROM f"
           " ORDER BY f.name, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.name, p.id) FROM p), '[]'::json),"
           " (SELECT count(*) FROM f), CASE WHEN NOT " ORG_EXISTS " THEN 'not_found' END",
    .nparams = 4,
};

/* $3 a JSON array of organization role ids: all exist and are User roles. */
#define JIT_ROLES_CHECK                                                                            \
    "WITH" FOUND_ROLES("$3")                                                                       \
    " chk AS (SELECT CASE" WHEN_NO_ORG " WHEN mr.id IS NOT NULL THEN 'role_missing'"               \
    " WHEN nt.id IS NOT NULL THEN 'role_not_user' END AS problem,"                                 \
    " coalesce(mr.id, nt.id) AS detail FROM (SELECT 1) AS one"                                     \
    FIRST_MISSING("mr", "want_r", "found_r")                                                       \
    " LEFT JOIN LATERAL (SELECT f.id FROM found_r f WHERE f.type <> 'User'"                        \
    " ORDER BY f.id LIMIT 1) nt ON true),"
#define INSERT_JIT_ROLES                                                                           \
    " ins AS (INSERT INTO organization_jit_roles (tenant_id, organization_id,"                     \
    " organization_role_id) SELECT $1, $2, r.id FROM found_r r"                                    \
    " WHERE (SELECT problem FROM chk) IS NULL ON CONFLICT DO NOTHING RETURNING 1)"

static const struct latch_stmt jit_role_add = {
    .name = "mgmt_org_jit_role_add",
    .sql = JIT_ROLES_CHECK INSERT_JIT_ROLES ANSWER_CHK,
    .nparams = 3,
};

static const struct latch_stmt jit_role_replace = {
    .name = "mgmt_org_jit_role_replace",
    .sql = JIT_ROLES_CHECK
           " del AS (DELETE FROM organization_jit_roles x WHERE x.tenant_id = $1"
           " AND x.organization_id = $2 AND x.organization_role_id NOT IN (SELECT id FROM want_r)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1)," INSERT_JIT_ROLES ANSWER_CHK,
    .nparams = 3,
};

/* $3 the organization role. */
static const struct latch_stmt jit_role_delete = {
    .name = "mgmt_org_jit_role_delete",
    .sql = "WITH d AS (DELETE FROM organization_jit_roles WHERE tenant_id = $1"
           " AND organization_id = $2 AND organization_role_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, CASE" WHEN_NO_ORG
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'role_not_assigned' END, $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem org_problems[] = {
    {"user_missing", 422, "entity.relation_foreign_key_not_found",
     "The user with ID `{}` does not exist."},
    {"user_not_in_org", 404, "entity.not_found",
     "The user `{}` is not a member of this organization."},
    {"user_not_member", 422, "organization.require_membership",
     "The user `{}` must be a member of the organization."},
    {"app_missing", 422, "entity.relation_foreign_key_not_found",
     "The application with ID `{}` does not exist."},
    {"app_not_m2m", 422, "application.invalid_type",
     "Only machine to machine applications can be members of an organization: `{}` is not one."},
    {"app_not_in_org", 404, "entity.not_found",
     "The application `{}` is not a member of this organization."},
    {"app_not_member", 422, "organization.require_membership",
     "The application `{}` must be a member of the organization."},
    {"role_missing", 422, "entity.relation_foreign_key_not_found",
     "The organization role with ID `{}` does not exist."},
    {"role_not_user", 422, "user.invalid_role_type",
     "The organization role `{}` is a machine-to-machine role; only User roles can be given to "
     "users."},
    {"role_not_m2m", 422, "application.invalid_role_type",
     "The organization role `{}` is a User role; only machine-to-machine roles can be given to "
     "applications."},
    {"role_not_assigned", 404, "entity.not_found",
     "The organization role `{}` is not assigned here."},
    {"domain_missing", 404, "entity.not_found",
     "The email domain `{}` is not a just-in-time domain of this organization."},
    {NULL, 0, NULL, NULL},
};

/* ---- helpers ---- */

static void oom(struct latch_request *req)
{
    latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
}

static const char *org_id(struct latch_request *req)
{
    return latch_mgmt_param_id(req, "id", "organization");
}

/* Runs one statement for the organization `id` of the path. 200 answers with the row's body,
 * 201 and 204 without one. */
static void run(struct latch_request *req, const struct latch_store_op *op, const char *id,
                int status, bool list)
{
    struct latch_mgmt_reply reply = {
        .status = status,
        .entity = "organization",
        .id = id,
        .problems = org_problems,
        .list = list,
        .no_body = status != 200,
    };
    latch_mgmt_run(req, op, 1, &reply);
}

/* Reads the id arrays key1 (and key2 when not NULL) from the body; both required, [] refused
 * when nonempty. */
static bool read_ids(struct latch_request *req, const char *key1, const char **ids1,
                     const char *key2, const char **ids2, bool nonempty)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    bool ok =
        latch_mgmt_get_ids(&body, key1, LATCH_MGMT_REQUIRED, nonempty, ids1) &&
        (key2 == NULL || latch_mgmt_get_ids(&body, key2, LATCH_MGMT_REQUIRED, nonempty, ids2));
    yajl_tree_free(tree);
    return ok;
}

/* A path id as a one-element JSON array (the id is [0-9A-Za-z_-], latch_mgmt_param_id()). */
static const char *one_id_array(struct latch_request *req, const char *id)
{
    const char *json = latch_arena_printf(req->arena, "[\"%s\"]", id);
    if (json == NULL)
        oom(req);
    return json;
}

/* The object member key as JSON text (NULL when absent); null is refused. */
static bool get_obj_text(const struct latch_mgmt_obj *o, const char *key, const char **out)
{
    struct latch_mgmt_obj m;
    *out = NULL;
    if (!latch_mgmt_get_obj(o, key, 0, &m))
        return false;
    if (m.val == NULL)
        return true;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g != NULL)
        latch_mgmt_gen_value(g, m.val);
    *out = g ? latch_mgmt_gen_take(o->req, g) : NULL;
    if (*out == NULL) {
        oom(o->req);
        return false;
    }
    return true;
}

/* Whether s is a domain name (1..128 characters of letters, digits, dots and dashes, at least
 * one dot, no empty label, not starting or ending with a dot or a dash); if so, out gets it in
 * lowercase, as the table stores it. */
static bool domain_lower(const char *s, char out[DOMAIN_MAX_CHARS + 1])
{
    size_t len = strlen(s);
    if (len < 1 || len > DOMAIN_MAX_CHARS)
        return false;
    bool dot = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '.') {
            if (i > 0 && s[i - 1] == '.')
                return false;
            dot = true;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
        out[i] = c;
    }
    out[len] = '\0';
    return dot && s[0] != '.' && s[0] != '-' && s[len - 1] != '.' && s[len - 1] != '-';
}

/* ---- handlers: organizations ---- */

static void list_orgs(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    if (!latch_mgmt_paginate(req, true, &limit, &offset) || !latch_mgmt_search_q(req, &search))
        return;
    const char *featured = latch_mgmt_query_flag(req, "showFeatured") ? "true" : "false";
    struct latch_store_op op = {&org_list, {req->tenant->id, limit, offset, search, featured}};
    run(req, &op, NULL, 200, true);
}

/* The writable fields of an organization, as statement parameters (NULL: not given). */
struct org_fields {
    const char *name;
    const char *description;
    bool description_given; /* null clears the description */
    const char *custom_data;
    const char *mfa; /* "true", "false" */
    const char *branding;
};

/* Reads the body of POST (name required) or PATCH. */
static bool read_org(struct latch_request *req, bool create, struct org_fields *f)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    int mfa = -1;
    bool ok = latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, create ? LATCH_MGMT_REQUIRED : 0,
                                 &f->name, NULL) &&
              latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                                 &f->description, &f->description_given) &&
              get_obj_text(&body, "customData", &f->custom_data) &&
              latch_mgmt_get_bool(&body, "isMfaRequired", 0, &mfa) &&
              get_obj_text(&body, "branding", &f->branding);
    yajl_tree_free(tree);
    f->mfa = mfa < 0 ? NULL : mfa ? "true" : "false";
    return ok;
}

/* Webhook events of the routes (Logto's managementApiHooksRegistration). */
static const struct latch_mgmt_hook_spec hook_created = {
    "Organization.Created", LATCH_MGMT_HOOK_ORGANIZATION, "/api/organizations"};
static const struct latch_mgmt_hook_spec hook_updated = {
    "Organization.Data.Updated", LATCH_MGMT_HOOK_ORGANIZATION, "/api/organizations/:id"};
static const struct latch_mgmt_hook_spec hook_deleted = {
    "Organization.Deleted", LATCH_MGMT_HOOK_ORGANIZATION, "/api/organizations/:id"};

static void create_org(struct latch_request *req, void *arg)
{
    struct org_fields f = {0};
    if (!read_org(req, true, &f))
        return;
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {
        &org_insert,
        {req->tenant->id, id, f.name, f.description, f.custom_data, f.mfa, f.branding}};
    struct latch_mgmt_reply reply = {
        .status = 201, .entity = "organization", .id = id, .problems = org_problems};
    latch_mgmt_run_hooked(req, &op, &reply, &hook_created, id);
}

static void update_org(struct latch_request *req, void *arg)
{
    const char *id = org_id(req);
    struct org_fields f = {0};
    if (id == NULL || !read_org(req, false, &f))
        return;
    struct latch_store_op op = {&org_update,
                                {req->tenant->id, id, f.name, f.description,
                                 f.description_given ? "true" : "false", f.custom_data, f.mfa,
                                 f.branding}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "organization", .id = id, .problems = org_problems};
    latch_mgmt_run_hooked(req, &op, &reply, &hook_updated, id);
}

/* ---- handlers: members (users and applications) ---- */

/* User and application members: the member set is a relation (relation.c); the roles members
 * hold in the organization have their own handlers. The route table passes the kind (to the
 * relation handlers, its `members`). */
struct member_kind {
    struct latch_mgmt_relation members;
    const struct latch_stmt *role_list, *role_add, *role_replace, *role_remove;
};

static const struct latch_mgmt_hook_spec hook_user_members = {
    "Organization.Membership.Updated", LATCH_MGMT_HOOK_MEMBERSHIP, "/api/organizations/:id/users"};
static const struct latch_mgmt_hook_spec hook_app_members = {"Organization.Membership.Updated",
                                                             LATCH_MGMT_HOOK_MEMBERSHIP,
                                                             "/api/organizations/:id/applications"};

static const struct member_kind user_members = {
    .members =
        {
            .owner_entity = "organization",
            .list = &member_list,
            .add = &member_add,
            .replace = &member_replace,
            .remove = &member_delete,
            .ids_key = "userIds",
            .param = "userId",
            .param_entity = "user",
            .search = LATCH_MGMT_SEARCH_Q,
            .problems = org_problems,
            .hook = &hook_user_members,
        },
    .role_list = &user_role_list,
    .role_add = &user_role_add,
    .role_replace = &user_role_replace,
    .role_remove = &user_role_delete,
};

static const struct member_kind app_members = {
    .members =
        {
            .owner_entity = "organization",
            .list = &app_list,
            .add = &app_add,
            .replace = &app_replace,
            .remove = &app_delete,
            .ids_key = "applicationIds",
            .param = "applicationId",
            .param_entity = "application",
            .search = LATCH_MGMT_SEARCH_Q,
            .problems = org_problems,
            .hook = &hook_app_members,
        },
    .role_list = &app_role_list,
    .role_add = &app_role_add,
    .role_replace = &app_role_replace,
    .role_remove = &app_role_delete,
};

/* POST /:id/<members>/roles {<ids_key>: [...], organizationRoleIds: [...]}: every listed member
 * gets every listed role. */
static void add_members_roles(struct latch_request *req, void *arg)
{
    const struct member_kind *kind = arg;
    const char *members, *roles;
    const char *id = org_id(req);
    if (id == NULL ||
        !read_ids(req, kind->members.ids_key, &members, "organizationRoleIds", &roles, true))
        return;
    struct latch_store_op op = {kind->role_add, {req->tenant->id, id, members, roles}};
    run(req, &op, id, 201, false);
}

/* GET /:id/<members>/:<param>/roles, optional pagination. */
static void list_member_roles(struct latch_request *req, void *arg)
{
    const struct member_kind *kind = arg;
    const char *limit, *offset;
    const char *id = org_id(req);
    const char *member =
        id ? latch_mgmt_param_id(req, kind->members.param, kind->members.param_entity) : NULL;
    if (member == NULL || !latch_mgmt_paginate(req, true, &limit, &offset))
        return;
    struct latch_store_op op = {kind->role_list, {req->tenant->id, id, member, limit, offset}};
    run(req, &op, id, 200, true);
}

/* POST (201, non-empty) and PUT (204, [] removes all) /:id/<members>/:<param>/roles
 * {organizationRoleIds}. */
static void set_member_roles(struct latch_request *req, const struct member_kind *kind,
                             bool replace)
{
    const char *roles;
    const char *id = org_id(req);
    const char *member =
        id ? latch_mgmt_param_id(req, kind->members.param, kind->members.param_entity) : NULL;
    if (member == NULL || !read_ids(req, "organizationRoleIds", &roles, NULL, NULL, !replace))
        return;
    const char *members = one_id_array(req, member);
    if (members == NULL)
        return;
    struct latch_store_op op = {replace ? kind->role_replace : kind->role_add,
                                {req->tenant->id, id, members, roles}};
    run(req, &op, id, replace ? 204 : 201, false);
}

static void add_member_roles(struct latch_request *req, void *arg)
{
    set_member_roles(req, arg, false);
}

static void replace_member_roles(struct latch_request *req, void *arg)
{
    set_member_roles(req, arg, true);
}

/* DELETE /:id/<members>/:<param>/roles/:organizationRoleId. */
static void delete_member_role(struct latch_request *req, void *arg)
{
    const struct member_kind *kind = arg;
    const char *id = org_id(req);
    const char *member =
        id ? latch_mgmt_param_id(req, kind->members.param, kind->members.param_entity) : NULL;
    const char *role =
        member ? latch_mgmt_param_id(req, "organizationRoleId", "organization role") : NULL;
    if (role == NULL)
        return;
    struct latch_store_op op = {kind->role_remove, {req->tenant->id, id, member, role}};
    run(req, &op, id, 204, false);
}

/* GET /:id/users/:userId/scopes (users only). */
static void list_user_scopes(struct latch_request *req, void *arg)
{
    const char *id = org_id(req);
    const char *user = id ? latch_mgmt_param_id(req, "userId", "user") : NULL;
    if (user == NULL)
        return;
    struct latch_store_op op = {&user_scope_list, {req->tenant->id, id, user}};
    run(req, &op, id, 200, false);
}

/* ---- handlers: just-in-time provisioning ---- */

/* GET /:id/jit/email-domains and /:id/jit/roles, optional pagination; the route table passes
 * the statement. */
static void list_jit(struct latch_request *req, void *arg)
{
    const struct latch_stmt *stmt = arg;
    const char *limit, *offset;
    const char *id = org_id(req);
    if (id == NULL || !latch_mgmt_paginate(req, true, &limit, &offset))
        return;
    struct latch_store_op op = {stmt, {req->tenant->id, id, limit, offset}};
    run(req, &op, id, 200, true);
}

static void add_jit_domain(struct latch_request *req, void *arg)
{
    const char *id = org_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *given;
    char lower[DOMAIN_MAX_CHARS + 1];
    bool ok = latch_mgmt_get_str(&body, "emailDomain", 1, DOMAIN_MAX_CHARS, LATCH_MGMT_REQUIRED,
                                 &given, NULL);
    if (ok && !domain_lower(given, lower)) {
        latch_mgmt_invalid_member(&body, "emailDomain", DOMAIN_PROBLEM);
        ok = false;
    }
    yajl_tree_free(tree);
    if (!ok)
        return;
    const char *domain = latch_arena_strdup(req->arena, lower);
    if (domain == NULL) {
        oom(req);
        return;
    }
    struct latch_store_op op = {&jit_domain_add, {req->tenant->id, id, domain}};
    struct latch_mgmt_reply reply = {
        .status = 201,
        .entity = "organization",
        .id = id,
        .problems = org_problems,
        .conflict_message = "This email domain is already a just-in-time domain of the "
                            "organization.",
    };
    latch_mgmt_run(req, &op, 1, &reply);
}

/* {emailDomains: [...]}: at most LATCH_MGMT_MAX_IDS domains, each valid; as a JSON array of the
 * lowercased domains. */
static bool read_domains(struct latch_request *req, const char **json)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    yajl_val v = latch_mgmt_member(&body, "emailDomains");
    struct latch_json *g = NULL;
    bool ok = false;
    *json = NULL;
    if (v == NULL || YAJL_IS_NULL(v)) {
        latch_mgmt_invalid(req, "emailDomains", "is required");
        goto done;
    }
    if (!YAJL_IS_ARRAY(v) || v->u.array.len > LATCH_MGMT_MAX_IDS) {
        latch_mgmt_invalid(req, "emailDomains", "must be an array of at most 100 domains");
        goto done;
    }
    g = latch_mgmt_gen_new();
    if (g == NULL) {
        oom(req);
        goto done;
    }
    latch_json_begin_array(g);
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val item = v->u.array.values[i];
        char domain[DOMAIN_MAX_CHARS + 1];
        if (!YAJL_IS_STRING(item) || !domain_lower(item->u.string, domain)) {
            char problem[96];
            snprintf(problem, sizeof(problem), "item %zu " DOMAIN_PROBLEM, i);
            latch_mgmt_invalid(req, "emailDomains", problem);
            goto done;
        }
        latch_mgmt_gen_str(g, domain);
    }
    latch_json_end_array(g);
    *json = latch_mgmt_gen_take(req, g);
    g = NULL;
    if (*json == NULL) {
        oom(req);
        goto done;
    }
    ok = true;
done:
    if (g != NULL)
        latch_mgmt_gen_free(g);
    yajl_tree_free(tree);
    return ok;
}

static void replace_jit_domains(struct latch_request *req, void *arg)
{
    const char *domains;
    const char *id = org_id(req);
    if (id == NULL || !read_domains(req, &domains))
        return;
    struct latch_store_op op = {&jit_domain_replace, {req->tenant->id, id, domains}};
    run(req, &op, id, 204, false);
}

static void delete_jit_domain(struct latch_request *req, void *arg)
{
    const char *id = org_id(req);
    const char *domain =
        id ? latch_mgmt_param_name(req, "emailDomain", DOMAIN_MAX_CHARS, "email domain") : NULL;
    if (domain == NULL)
        return;
    /* Stored lowercase; anything that is not a domain name matches no row (and still gets the
     * organization's 404 first when that does not exist). */
    char lower[DOMAIN_MAX_CHARS + 1];
    if (domain_lower(domain, lower)) {
        domain = latch_arena_strdup(req->arena, lower);
        if (domain == NULL) {
            oom(req);
            return;
        }
    }
    struct latch_store_op op = {&jit_domain_delete, {req->tenant->id, id, domain}};
    run(req, &op, id, 204, false);
}

static void set_jit_roles(struct latch_request *req, bool replace)
{
    const char *roles;
    const char *id = org_id(req);
    if (id == NULL || !read_ids(req, "organizationRoleIds", &roles, NULL, NULL, !replace))
        return;
    struct latch_store_op op = {replace ? &jit_role_replace : &jit_role_add,
                                {req->tenant->id, id, roles}};
    run(req, &op, id, replace ? 204 : 201, false);
}

static void add_jit_roles(struct latch_request *req, void *arg)
{
    set_jit_roles(req, false);
}

static void replace_jit_roles(struct latch_request *req, void *arg)
{
    set_jit_roles(req, true);
}

static void delete_jit_role(struct latch_request *req, void *arg)
{
    const char *id = org_id(req);
    const char *role =
        id ? latch_mgmt_param_id(req, "organizationRoleId", "organization role") : NULL;
    if (role == NULL)
        return;
    struct latch_store_op op = {&jit_role_delete, {req->tenant->id, id, role}};
    run(req, &op, id, 204, false);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_org_call = {&org_get, "id", "organization", 200,
                                                     org_problems};
static const struct latch_mgmt_by_id_hooked delete_org_call = {
    {&org_delete, "id", "organization", 204, org_problems}, &hook_deleted};
static const struct latch_mgmt_by_id list_user_orgs_call = {&user_org_list, "userId", "user", 200,
                                                            NULL};

latch_rc latch_mgmt_organizations_register(struct latch_server *srv)
{
    /* The first route matching a path wins: /:id/users/roles (POST) comes before
     * /:id/users/:userId (DELETE only, so a POST there never reaches it anyway). Routes of one
     * path stay together (the OpenAPI document groups them in this order). */
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/organizations", list_orgs, NULL},
        {LATCH_HTTP_POST, "/api/organizations", create_org, NULL},
        {LATCH_HTTP_GET, "/api/organizations/:id", latch_mgmt_by_id, &get_org_call},
        {LATCH_HTTP_PATCH, "/api/organizations/:id", update_org, NULL},
        {LATCH_HTTP_DELETE, "/api/organizations/:id", latch_mgmt_by_id_hooked, &delete_org_call},
        {LATCH_HTTP_GET, "/api/organizations/:id/users", latch_mgmt_relation_list,
         &user_members.members},
        {LATCH_HTTP_POST, "/api/organizations/:id/users", latch_mgmt_relation_add,
         &user_members.members},
        {LATCH_HTTP_PUT, "/api/organizations/:id/users", latch_mgmt_relation_replace,
         &user_members.members},
        {LATCH_HTTP_POST, "/api/organizations/:id/users/roles", add_members_roles, &user_members},
        {LATCH_HTTP_DELETE, "/api/organizations/:id/users/:userId", latch_mgmt_relation_remove,
         &user_members.members},
        {LATCH_HTTP_GET, "/api/organizations/:id/users/:userId/roles", list_member_roles,
         &user_members},
        {LATCH_HTTP_POST, "/api/organizations/:id/users/:userId/roles", add_member_roles,
         &user_members},
        {LATCH_HTTP_PUT, "/api/organizations/:id/users/:userId/roles", replace_member_roles,
         &user_members},
        {LATCH_HTTP_DELETE, "/api/organizations/:id/users/:userId/roles/:organizationRoleId",
         delete_member_role, &user_members},
        {LATCH_HTTP_GET, "/api/organizations/:id/users/:userId/scopes", list_user_scopes, NULL},
        {LATCH_HTTP_GET, "/api/organizations/:id/applications", latch_mgmt_relation_list,
         &app_members.members},
        {LATCH_HTTP_POST, "/api/organizations/:id/applications", latch_mgmt_relation_add,
         &app_members.members},
        {LATCH_HTTP_PUT, "/api/organizations/:id/applications", latch_mgmt_relation_replace,
         &app_members.members},
        {LATCH_HTTP_POST, "/api/organizations/:id/applications/roles", add_members_roles,
         &app_members},
        {LATCH_HTTP_DELETE, "/api/organizations/:id/applications/:applicationId",
         latch_mgmt_relation_remove, &app_members.members},
        {LATCH_HTTP_GET, "/api/organizations/:id/applications/:applicationId/roles",
         list_member_roles, &app_members},
        {LATCH_HTTP_POST, "/api/organizations/:id/applications/:applicationId/roles",
         add_member_roles, &app_members},
        {LATCH_HTTP_PUT, "/api/organizations/:id/applications/:applicationId/roles",
         replace_member_roles, &app_members},
        {LATCH_HTTP_DELETE,
         "/api/organizations/:id/applications/:applicationId/roles/:organizationRoleId",
         delete_member_role, &app_members},
        {LATCH_HTTP_GET, "/api/organizations/:id/jit/email-domains", list_jit, &jit_domain_list},
        {LATCH_HTTP_POST, "/api/organizations/:id/jit/email-domains", add_jit_domain, NULL},
        {LATCH_HTTP_PUT, "/api/organizations/:id/jit/email-domains", replace_jit_domains, NULL},
        {LATCH_HTTP_DELETE, "/api/organizations/:id/jit/email-domains/:emailDomain",
         delete_jit_domain, NULL},
        {LATCH_HTTP_GET, "/api/organizations/:id/jit/roles", list_jit, &jit_role_list},
        {LATCH_HTTP_POST, "/api/organizations/:id/jit/roles", add_jit_roles, NULL},
        {LATCH_HTTP_PUT, "/api/organizations/:id/jit/roles", replace_jit_roles, NULL},
        {LATCH_HTTP_DELETE, "/api/organizations/:id/jit/roles/:organizationRoleId", delete_jit_role,
         NULL},
        {LATCH_HTTP_GET, "/api/users/:userId/organizations", latch_mgmt_by_id,
         &list_user_orgs_call},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
