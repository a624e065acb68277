/*
 * Management API: organization invitations, in Logto's paths and JSON
 * (/api/organization-invitations...). An invitation asks an email address (the invitee) to join
 * an organization with some User organization roles; it is Pending until accepted, revoked or
 * past expires_at (then it reads Expired: the stored status stays Pending until something writes
 * it). Accepting makes the accepting user a member with the invitation's roles, in the same
 * statement that records the acceptance, and only for a user whose primary email is the invitee.
 * Latch sends no invitation emails yet (no email connector), so messagePayload must be false.
 * See docs/management-api-organization-roles.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

#define INVITEE_MAX_CHARS 256 /* organization_invitations.invitee is varchar(256) */
#define FILTER_MAX_CHARS  256
#define ID_MAX_CHARS      128 /* ids in bodies: longer than any stored one, so unknown → 422 */
#define EXPIRES_MAX_MS    253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* Logto's OrganizationInvitationEntity: a stored Pending past expires_at reads Expired, and the
 * roles the invitation gives come along as [{id, name}] by name. */
#define INVITATION_JSON(i)                                                                         \
    "json_build_object('tenantId', " i ".tenant_id, 'id', " i ".id, 'inviterId', " i               \
    ".inviter_id, 'invitee', " i ".invitee, 'acceptedUserId', " i ".accepted_user_id, "            \
    "'organizationId', " i ".organization_id, 'status', " EFFECTIVE_STATUS(i) ", "                 \
    "'createdAt', " LATCH_MGMT_SQL_MS(i ".created_at") ", "                                        \
    "'updatedAt', " LATCH_MGMT_SQL_MS(i ".updated_at") ", "                                        \
    "'expiresAt', " LATCH_MGMT_SQL_MS(i ".expires_at") ", "                                        \
    "'organizationRoles', (SELECT coalesce(json_agg(json_build_object('id', r.id,"                 \
    " 'name', r.name) ORDER BY r.name, r.id), '[]'::json)"                                         \
    " FROM organization_invitation_role_relations x JOIN organization_roles r"                     \
    " ON r.tenant_id = x.tenant_id AND r.id = x.organization_role_id"                              \
    " WHERE x.tenant_id = $1 AND x.organization_invitation_id = " i ".id))"
#define EFFECTIVE_STATUS(i)                                                                        \
    "(CASE WHEN " i ".status = 'Pending' AND " i ".expires_at <= now() THEN 'Expired'"             \
    " ELSE " i ".status END)"

/* ---- statements ---- */

/* $2 organizationId, $3 inviterId, $4 invitee (each NULL: any), $5/$6 limit/offset. Newest
 * first, as Logto. */
static const struct latch_stmt invitation_list = {
    .name = "mgmt_invitation_list",
    .sql = "WITH f AS (SELECT i.* FROM organization_invitations i WHERE i.tenant_id = $1"
           " AND ($2::text IS NULL OR i.organization_id = $2::text)"
           " AND ($3::text IS NULL OR i.inviter_id = $3::text)"
           " AND ($4::text IS NULL OR lower(i.invitee) = lower($4::text))),"
           " p AS (SELECT " INVITATION_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $5::bigint OFFSET $6::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 6,
};

static const struct latch_stmt invitation_get = {
    .name = "mgmt_invitation_get",
    .sql = "SELECT " INVITATION_JSON("i") " FROM organization_invitations i"
           " WHERE i.tenant_id = $1 AND i.id = $2",
    .nparams = 2,
};

/* Before inviting $3 (invitee) to $2 (organization) again: their Pending invitations that have
 * expired are written Expired, so that the one-pending-invitation index lets the new one in
 * (Logto's updateExpiredEntities). */
static const struct latch_stmt invitation_expire_stale = {
    .name = "mgmt_invitation_expire_stale",
    .sql = "UPDATE organization_invitations SET status = 'Expired'"
           " WHERE tenant_id = $1 AND organization_id = $2 AND lower(invitee) = lower($3)"
           " AND status = 'Pending' AND expires_at <= now()",
    .nparams = 3,
};

/* $2 id, $3 organizationId, $4 invitee, $5 inviterId (NULL: none), $6 expiresAt (epoch ms),
 * $7 organization role ids (JSON array). The invitation and its roles, or the first problem. */
static const struct latch_stmt invitation_insert = {
    .name = "mgmt_invitation_insert",
    .sql = "WITH want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($7::json) AS v),"
           " found AS (SELECT r.id, r.type FROM organization_roles r JOIN want w ON w.id = r.id"
           " WHERE r.tenant_id = $1),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM organizations"
           " WHERE tenant_id = $1 AND id = $3) THEN 'organization_missing'"
           " WHEN $5::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users"
           " WHERE tenant_id = $1 AND id = $5::text) THEN 'inviter_missing'"
           " WHEN m.id IS NOT NULL THEN 'role_missing'"
           " WHEN n.id IS NOT NULL THEN 'role_not_user'"
           " WHEN EXISTS (SELECT 1 FROM organization_user_relations ou JOIN users u"
           " ON u.tenant_id = ou.tenant_id AND u.id = ou.user_id WHERE ou.tenant_id = $1"
           " AND ou.organization_id = $3 AND lower(u.primary_email) = lower($4))"
           " THEN 'already_member'"
           " WHEN EXISTS (SELECT 1 FROM organization_invitations i WHERE i.tenant_id = $1"
           " AND i.organization_id = $3 AND lower(i.invitee) = lower($4)"
           " AND i.status = 'Pending') THEN 'pending_exists' END AS problem,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM organizations WHERE tenant_id = $1 AND id = $3)"
           " THEN $3 WHEN $5::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users"
           " WHERE tenant_id = $1 AND id = $5::text) THEN $5::text"
           " ELSE coalesce(m.id, n.id) END AS detail"
           " FROM (SELECT 1) AS one"
           " LEFT JOIN LATERAL (SELECT w.id FROM want w WHERE NOT EXISTS"
           " (SELECT 1 FROM found f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) m ON true"
           " LEFT JOIN LATERAL (SELECT f.id FROM found f WHERE f.type <> 'User'"
           " ORDER BY f.id LIMIT 1) n ON true),"
           " ins AS (INSERT INTO organization_invitations"
           " (tenant_id, id, inviter_id, invitee, organization_id, status, expires_at)"
           " SELECT $1, $2, $5::text, $4, $3, 'Pending',"
           " 'epoch'::timestamptz + $6::bigint * interval '1 millisecond'"
           " FROM chk WHERE chk.problem IS NULL RETURNING id),"
           " rr AS (INSERT INTO organization_invitation_role_relations"
           " (tenant_id, organization_invitation_id, organization_role_id)"
           " SELECT $1, ins.id, found.id FROM ins CROSS JOIN found RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 7,
};

static const struct latch_stmt invitation_delete = {
    .name = "mgmt_invitation_delete",
    .sql = "DELETE FROM organization_invitations WHERE tenant_id = $1 AND id = $2"
           " RETURNING NULL::json",
    .nparams = 2,
};

/* $3 the new status ('Accepted' or 'Revoked'), $4 acceptedUserId (for Accepted). The row is
 * locked first, so two concurrent changes are decided one after the other; only an effective
 * Pending changes. Accepting adds the member and the invitation's roles in this statement (the
 * foreign keys are checked at its end, when the membership row exists). */
static const struct latch_stmt invitation_set_status = {
    .name = "mgmt_invitation_set_status",
    .sql = "WITH inv AS (SELECT i.organization_id, i.invitee, " EFFECTIVE_STATUS("i") " AS eff"
           " FROM organization_invitations i WHERE i.tenant_id = $1 AND i.id = $2 FOR UPDATE),"
           " usr AS (SELECT u.primary_email FROM users u WHERE u.tenant_id = $1"
           " AND u.id = $4::text),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM inv) THEN 'not_found'"
           " WHEN (SELECT eff FROM inv) <> 'Pending' THEN 'not_pending'"
           " WHEN $3::text = 'Accepted' AND NOT EXISTS (SELECT 1 FROM usr) THEN 'user_missing'"
           " WHEN $3::text = 'Accepted' AND lower(coalesce((SELECT primary_email FROM usr), ''))"
           " <> lower((SELECT invitee FROM inv)) THEN 'email_mismatch' END AS problem,"
           " CASE WHEN (SELECT eff FROM inv) <> 'Pending' THEN (SELECT eff FROM inv)"
           " ELSE $4::text END AS detail),"
           " ok AS (SELECT inv.organization_id FROM inv, chk"
           " WHERE chk.problem IS NULL AND $3::text = 'Accepted'),"
           " mem AS (INSERT INTO organization_user_relations (tenant_id, organization_id, user_id)"
           " SELECT $1, ok.organization_id, $4::text FROM ok ON CONFLICT DO NOTHING RETURNING 1),"
           " mr AS (INSERT INTO organization_role_user_relations"
           " (tenant_id, organization_id, organization_role_id, user_id)"
           " SELECT $1, ok.organization_id, x.organization_role_id, $4::text"
           " FROM ok CROSS JOIN organization_invitation_role_relations x"
           " WHERE x.tenant_id = $1 AND x.organization_invitation_id = $2"
           " ON CONFLICT DO NOTHING RETURNING 1),"
           " upd AS (UPDATE organization_invitations AS i SET status = $3::text,"
           " accepted_user_id = CASE WHEN $3::text = 'Accepted' THEN $4::text"
           " ELSE i.accepted_user_id END, updated_at = now()"
           " WHERE i.tenant_id = $1 AND i.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " INVITATION_JSON("i") " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, problem, detail FROM chk",
    .nparams = 4,
};
// clang-format on

static const struct latch_mgmt_problem invitation_problems[] = {
    {"organization_missing", 422, "entity.relation_foreign_key_not_found",
     "The organization with ID `{}` does not exist."},
    {"inviter_missing", 422, "entity.relation_foreign_key_not_found",
     "The user with ID `{}` (inviterId) does not exist."},
    {"role_missing", 422, "entity.relation_foreign_key_not_found",
     "The organization role with ID `{}` does not exist."},
    {"role_not_user", 422, "request.invalid_input",
     "The organization role `{}` is a MachineToMachine role; invitations give User roles only."},
    {"already_member", 422, "request.invalid_input",
     "The invitee is already a member of the organization."},
    {"pending_exists", 422, "entity.unique_integrity_violation",
     "A pending invitation for this invitee to this organization already exists."},
    {"not_pending", 422, "request.invalid_input",
     "The invitation is {}: its status cannot be changed anymore."},
    {"user_missing", 404, "entity.not_exists_with_id", "The user with ID `{}` does not exist."},
    {"email_mismatch", 422, "organization_invitation.email_mismatch",
     "Accepting requires signing in with the invited email: the primary email of user `{}` is "
     "not the invitee."},
    {NULL, 0, NULL, NULL},
};

/* ---- helpers ---- */

/* Logto's email format as users have it (^\S+@\S+\.\S+$), without the 128-byte limit of a
 * user's email; s has no whitespace (read with LATCH_MGMT_NO_SPACE). */
static bool email_ok(const char *s)
{
    for (const char *at = s[0] ? strchr(s + 1, '@') : NULL; at != NULL; at = strchr(at + 1, '@'))
        for (const char *dot = at[1] ? strchr(at + 2, '.') : NULL; dot != NULL;
             dot = strchr(dot + 1, '.'))
            if (dot[1] != '\0')
                return true;
    return false;
}

/* A filter of the list (query parameter name): valid text of at most 256 characters, else 400.
 * *out NULL when absent or empty. */
static bool query_filter(struct latch_request *req, const char *name, const char **out)
{
    const char *v = latch_mgmt_query(req, name);
    *out = NULL;
    if (v == NULL || v[0] == '\0')
        return true;
    long n = latch_mgmt_utf8_len(v);
    bool control = false;
    for (const unsigned char *p = (const unsigned char *)v; *p && !control; p++)
        control = *p < 0x20 || *p == 0x7F;
    if (n < 0 || n > FILTER_MAX_CHARS || control) {
        latch_mgmt_invalid(req, name, "must be valid text of at most 256 characters");
        return false;
    }
    *out = v;
    return true;
}

static const char *invitation_id(struct latch_request *req)
{
    return latch_mgmt_param_id(req, "id", "organization invitation");
}

/* ---- handlers ---- */

static void list_invitations(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *org, *inviter, *invitee;
    if (!latch_mgmt_paginate(req, true, &limit, &offset) ||
        !query_filter(req, "organizationId", &org) || !query_filter(req, "inviterId", &inviter) ||
        !query_filter(req, "invitee", &invitee))
        return;
    struct latch_store_op op = {&invitation_list,
                                {req->tenant->id, org, inviter, invitee, limit, offset}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "organization invitation", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* messagePayload: Logto sends the invitation email with it; Latch has no email connector yet,
 * so only false (or nothing) is accepted: no caller may believe that an email went out. */
static bool check_message_payload(const struct latch_mgmt_obj *body)
{
    yajl_val v = latch_mgmt_member(body, "messagePayload");
    if (v == NULL || YAJL_IS_FALSE(v))
        return true;
    latch_mgmt_invalid_member(body, "messagePayload",
                              "must be false or absent: Latch does not send invitation emails "
                              "yet (no email connector); deliver the invitation yourself");
    return false;
}

static void create_invitation(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *org, *invitee, *inviter, *roles;
    long long expires_at = 0;
    bool has_expires;
    bool ok = latch_mgmt_get_str(&body, "organizationId", 1, ID_MAX_CHARS, LATCH_MGMT_REQUIRED,
                                 &org, NULL) &&
              latch_mgmt_get_str(&body, "invitee", 3, INVITEE_MAX_CHARS,
                                 LATCH_MGMT_REQUIRED | LATCH_MGMT_NO_SPACE, &invitee, NULL) &&
              latch_mgmt_get_int(&body, "expiresAt", 0, EXPIRES_MAX_MS, LATCH_MGMT_REQUIRED,
                                 &expires_at, &has_expires) &&
              latch_mgmt_get_str(&body, "inviterId", 1, ID_MAX_CHARS, LATCH_MGMT_NULLABLE, &inviter,
                                 NULL) &&
              latch_mgmt_get_ids(&body, "organizationRoleIds", 0, false, &roles) &&
              check_message_payload(&body);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (!email_ok(invitee)) {
        latch_mgmt_invalid(req, "invitee", "must be an email address");
        return;
    }
    if (expires_at <= latch_mgmt_now_ms()) {
        latch_http_respond_errorf(req, 400, "request.invalid_input",
                                  "The value of `expiresAt` must be in the future.");
        return;
    }
    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    const char *expires = latch_arena_printf(req->arena, "%lld", expires_at);
    if (id == NULL || expires == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op ops[3] = {
        {&invitation_expire_stale, {req->tenant->id, org, invitee}},
        {&invitation_insert,
         {req->tenant->id, id, org, invitee, inviter, expires, roles ? roles : "[]"}},
        {&invitation_get, {req->tenant->id, id}},
    };
    /* A concurrent invitation of the same invitee can still meet the unique index. */
    struct latch_mgmt_reply reply = {
        .status = 201,
        .op = 2,
        .entity = "organization invitation",
        .id = id,
        .problems = invitation_problems,
        .conflict_code = "entity.unique_integrity_violation",
        .conflict_message =
            "A pending invitation for this invitee to this organization already exists.",
    };
    latch_mgmt_run(req, ops, 3, &reply);
}

static void set_invitation_status(struct latch_request *req, void *arg)
{
    const char *id = invitation_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *status, *user;
    bool ok = latch_mgmt_get_str(&body, "status", 1, 32, LATCH_MGMT_REQUIRED, &status, NULL) &&
              latch_mgmt_get_str(&body, "acceptedUserId", 1, ID_MAX_CHARS, LATCH_MGMT_NULLABLE,
                                 &user, NULL);
    yajl_tree_free(tree);
    if (!ok)
        return;
    bool accept = strcmp(status, "Accepted") == 0;
    if (!accept && strcmp(status, "Revoked") != 0) {
        latch_mgmt_invalid(req, "status", "must be Accepted or Revoked");
        return;
    }
    if (accept && user == NULL) {
        /* Logto's answer for this case. */
        latch_http_respond_errorf(req, 422, "request.invalid_input",
                                  "The `acceptedUserId` is required when accepting an "
                                  "invitation.");
        return;
    }
    struct latch_store_op op = {&invitation_set_status,
                                {req->tenant->id, id, status, accept ? user : NULL}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "organization invitation",
        .id = id,
        .problems = invitation_problems,
    };
    latch_mgmt_run(req, &op, 1, &reply);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_invitation_call = {&invitation_get, "id",
                                                            "organization invitation", 200, NULL};
static const struct latch_mgmt_by_id delete_invitation_call = {
    &invitation_delete, "id", "organization invitation", 204, NULL};

latch_rc latch_mgmt_invitations_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/organization-invitations", list_invitations, NULL},
        {LATCH_HTTP_POST, "/api/organization-invitations", create_invitation, NULL},
        {LATCH_HTTP_GET, "/api/organization-invitations/:id", latch_mgmt_by_id,
         &get_invitation_call},
        {LATCH_HTTP_DELETE, "/api/organization-invitations/:id", latch_mgmt_by_id,
         &delete_invitation_call},
        {LATCH_HTTP_PUT, "/api/organization-invitations/:id/status", set_invitation_status, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
