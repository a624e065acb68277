/*
 * Management API: organization invitations, in Logto's paths and JSON
 * (/api/organization-invitations...). An invitation asks an email address (the invitee) to join
 * an organization with some User organization roles; it is Pending until accepted, revoked or
 * past expires_at (then it reads Expired: the stored status stays Pending until something writes
 * it). Accepting makes the accepting user a member with the invitation's roles, in the same
 * statement that records the acceptance, and only for a user whose primary email is the invitee.
 * With messagePayload (Logto's SendMessagePayload: link, locale, ...) creation also mails the
 * invitee through the tenant's email connector (messages/, template OrganizationInvitation), and
 * POST /:id/message mails an existing invitation again; the variables `organization` and
 * `inviter` (names) are added unless given. An invitation whose mail could not be sent is not
 * kept: the caller gets the connector's error, as Logto's transaction gives it.
 * See docs/management-api-organization-roles.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "messages/messages.h"
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

/* What the invitation mail needs: invitee, organization name, (NULL), inviter's name (or
 * username). Column 2 stays NULL: latch_mgmt_run reads a third column as a problem. */
static const struct latch_stmt invitation_mail_info = {
    .name = "mgmt_invitation_mail_info",
    .sql = "SELECT i.invitee, o.name, NULL::text, coalesce(u.name, u.username)"
           " FROM organization_invitations i"
           " JOIN organizations o ON o.tenant_id = i.tenant_id AND o.id = i.organization_id"
           " LEFT JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.inviter_id"
           " WHERE i.tenant_id = $1 AND i.id = $2",
    .nparams = 2,
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

/* ---- the invitation mail ---- */

/* A messagePayload read from a body, copied into the request's arena. */
struct mail_payload {
    struct latch_request *req;
    bool send;
    const char *locale;
    struct latch_messages_var vars[LATCH_MESSAGES_VARS_MAX];
    size_t nvars;
    char *body;     /* create: the invitation JSON to answer with once the mail is out */
    const char *id; /* create: the invitation, deleted again when the mail fails */
    struct latch_error failure; /* why the mail failed, answered once the row is gone */
};

static bool var_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= LATCH_MESSAGES_VAR_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* Reads a SendMessagePayload object (v) into *mp: every member a string (Logto's payload holds
 * code, link, locale, uiLocales and the template's own variables), at most
 * LATCH_MESSAGES_VARS_MAX - 2 of them (organization and inviter are added). false after
 * answering 400. */
static bool read_payload(struct latch_request *req, const char *path, yajl_val v,
                         struct mail_payload *mp)
{
    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, path, "must be an object of strings (or false)");
        return false;
    }
    if (v->u.object.len > LATCH_MESSAGES_VARS_MAX - 2) {
        latch_mgmt_invalid(req, path, "has too many members");
        return false;
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *key = v->u.object.keys[i];
        yajl_val m = v->u.object.values[i];
        if (!var_name_ok(key)) {
            latch_mgmt_invalid(req, path, "member names are 1 to 64 letters, digits or '_'");
            return false;
        }
        if (!YAJL_IS_STRING(m) || strlen(m->u.string) > LATCH_MESSAGES_VAR_VALUE_MAX) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "%s.%s: must be a string of at most %d bytes", path, key,
                                      LATCH_MESSAGES_VAR_VALUE_MAX);
            return false;
        }
        struct latch_messages_var *var = &mp->vars[mp->nvars++];
        var->name = latch_arena_strdup(req->arena, key);
        var->value = latch_arena_strdup(req->arena, m->u.string);
        if (var->name == NULL || var->value == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            return false;
        }
        if (strcmp(key, "locale") == 0)
            mp->locale = var->value;
    }
    if (mp->locale != NULL && strlen(mp->locale) > LATCH_MESSAGES_LOCALE_MAX)
        mp->locale = NULL;
    mp->send = true;
    return true;
}

static bool payload_has(const struct mail_payload *mp, const char *name)
{
    for (size_t i = 0; i < mp->nvars; i++)
        if (strcmp(mp->vars[i].name, name) == 0)
            return true;
    return false;
}

static void mail_deleted(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    (void)results;
    (void)n;
    struct mail_payload *mp = arg;
    if (err != NULL)
        latch_http_log_error(mp->req, "invitation: removing an invitation whose mail failed", err);
    latch_http_respond_error(mp->req, &mp->failure);
}

static void mail_sent(struct latch_request *req, const struct latch_error *err, void *arg)
{
    struct mail_payload *mp = arg;
    if (err != NULL) {
        latch_http_log(req, LATCH_LOG_WARN, "invitation mail not sent: %s", err->code);
        if (mp->id == NULL) {
            latch_http_respond_error(req, err);
            return;
        }
        /* Not kept: the caller sees that nothing was created (Logto's transaction), once the
         * row is gone. */
        mp->failure = *err;
        struct latch_store_op op = {&invitation_delete, {req->tenant->id, mp->id}};
        latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, mail_deleted, mp);
        return;
    }
    if (mp->body != NULL)
        latch_http_respond_json(req, 201, mp->body, strlen(mp->body));
    else
        latch_http_respond(req, 204, NULL, NULL, 0);
}

/* Sends the mail of the invitation whose invitation_mail_info row is res. */
static void mail_send(struct latch_request *req, const struct latch_store_result *res,
                      struct mail_payload *mp)
{
    const char *invitee = latch_arena_strdup(req->arena, latch_store_result_value(res, 0, 0));
    const char *org = latch_arena_strdup(req->arena, latch_store_result_value(res, 0, 1));
    const char *inviter = latch_store_result_isnull(res, 0, 3)
                              ? NULL
                              : latch_arena_strdup(req->arena, latch_store_result_value(res, 0, 3));
    if (invitee == NULL || org == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (!payload_has(mp, "organization"))
        mp->vars[mp->nvars++] = (struct latch_messages_var){"organization", org};
    if (inviter != NULL && !payload_has(mp, "inviter"))
        mp->vars[mp->nvars++] = (struct latch_messages_var){"inviter", inviter};
    struct latch_messages_send m = {
        .channel = LATCH_MESSAGES_EMAIL,
        .type = LATCH_MESSAGES_TEMPLATE_ORGANIZATION_INVITATION,
        .to = invitee,
        .locale = mp->locale,
        .vars = mp->vars,
        .nvars = mp->nvars,
    };
    latch_messages_send(req, &m, mail_sent, mp);
}

/* After the invitation was stored (results: expire, insert, get, mail info). */
static void created_then(struct latch_request *req, struct latch_store_result *const *results,
                         int n, void *arg)
{
    struct mail_payload *mp = arg;
    mp->body =
        n > 3 ? latch_arena_strdup(req->arena, latch_store_result_value(results[2], 0, 0)) : NULL;
    if (mp->body == NULL || latch_store_result_rows(results[3]) < 1) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    mail_send(req, results[3], mp);
}

static void message_loaded(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct mail_payload *mp = arg;
    struct latch_request *req = mp->req;
    if (err != NULL) {
        latch_mgmt_store_error(req, err, NULL, NULL);
        return;
    }
    if (n < 1 || latch_store_result_rows(results[0]) < 1) {
        latch_mgmt_not_found(req, "organization invitation", mp->id);
        return;
    }
    mp->id = NULL; /* an existing invitation stays whatever happens to the mail */
    mail_send(req, results[0], mp);
}

/* POST /api/organization-invitations/:id/message: the body is the SendMessagePayload. */
static void post_message(struct latch_request *req, void *arg)
{
    (void)arg;
    const char *id = latch_mgmt_param_id(req, "id", "organization invitation");
    if (id == NULL)
        return;
    struct mail_payload *mp = latch_arena_calloc(req->arena, 1, sizeof(*mp));
    if (mp == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    bool ok = read_payload(req, "body", tree, mp);
    yajl_tree_free(tree);
    if (!ok)
        return;
    mp->req = req;
    mp->id = id;
    struct latch_store_op op = {&invitation_mail_info, {req->tenant->id, id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, message_loaded, mp);
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
              latch_mgmt_get_ids(&body, "organizationRoleIds", 0, false, &roles);
    struct mail_payload *mp = ok ? latch_arena_calloc(req->arena, 1, sizeof(*mp)) : NULL;
    if (ok && mp == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        ok = false;
    }
    yajl_val payload = ok ? latch_mgmt_member(&body, "messagePayload") : NULL;
    if (ok && payload != NULL && !YAJL_IS_FALSE(payload) && !YAJL_IS_NULL(payload))
        ok = read_payload(req, "messagePayload", payload, mp);
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
    struct latch_store_op ops[4] = {
        {&invitation_expire_stale, {req->tenant->id, org, invitee}},
        {&invitation_insert,
         {req->tenant->id, id, org, invitee, inviter, expires, roles ? roles : "[]"}},
        {&invitation_get, {req->tenant->id, id}},
        {&invitation_mail_info, {req->tenant->id, id}},
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
    if (mp->send) {
        mp->req = req;
        mp->id = id;
        reply.then = created_then;
        reply.then_arg = mp;
    }
    latch_mgmt_run(req, ops, mp->send ? 4 : 3, &reply);
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
    /* Accepting adds the member (when not one already): Logto's Organization.Membership.Updated
     * for the invitation's organization, in the same transaction. */
    static const struct latch_mgmt_hook_spec accepted = {
        "Organization.Membership.Updated", LATCH_MGMT_HOOK_INVITATION_MEMBERSHIP,
        "/api/organization-invitations/:id/status"};
    if (accept)
        latch_mgmt_run_hooked(req, &op, &reply, &accepted, id);
    else
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
        {LATCH_HTTP_POST, "/api/organization-invitations/:id/message", post_message, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
