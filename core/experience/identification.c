/*
 * POST /api/experience/identification {verificationId}: turns the interaction's verification into
 * the person who signs in (interactions.result_user_id), as Logto's identifyUser:
 *   SignIn   — a password verification names an existing user: 204, unless the user was
 *              suspended or deleted meanwhile, or the interaction already identified someone else;
 *   Register — a new-password-identity verification: the user is created (with the tenant's
 *              default roles) from params._pending in the same transaction: 201;
 *   either   — a social verification (…/social/:connectorId/verify): social.c decides.
 * Errors: 404 session.interaction_not_found without an event (PUT /api/experience first),
 * 404 session.verification_session_not_found for an unknown verificationId, 400
 * session.verification_failed when the verification does not fit the event, 403 auth.forbidden
 * when the sign-in mode does not allow the event, 401 user.suspended, 409
 * session.identity_conflict, 422 user.username_already_in_use.
 */
#include <stdio.h>
#include <string.h>

#include "experience/experience_internal.h"
#include "users/users.h"
#include "util/log.h"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* $3 verification id. Answers (problem or NULL, user id). */
static const struct latch_stmt identify_existing = {
    .name = "xp_identify_existing",
    .sql = "WITH i AS (SELECT verified_user_id, result_user_id FROM interactions"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
           " AND verification_id = $3 AND verified_user_id IS NOT NULL FOR UPDATE),"
           " u AS (SELECT u.id, u.is_suspended FROM users u JOIN i ON u.id = i.verified_user_id"
           " WHERE u.tenant_id = $1),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'verification_not_found'"
           " WHEN (SELECT is_suspended FROM u) THEN 'suspended'"
           " WHEN (SELECT result_user_id FROM i) IS NOT NULL"
           " AND (SELECT result_user_id FROM i) <> (SELECT id FROM u) THEN 'identity_conflict'"
           " END AS problem),"
           " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM u)"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND (SELECT problem FROM chk) IS NULL"
           " RETURNING result_user_id)"
           " SELECT (SELECT problem FROM chk), (SELECT result_user_id FROM upd)",
    .nparams = 3,
};

/* $3 verification id, $4 the new user's id. Answers (user id or NULL when the pending
 * registration is gone). */
static const struct latch_stmt identify_new = {
    .name = "xp_identify_new",
    .sql = "WITH i AS (SELECT params->'_pending' AS p FROM interactions"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
           " AND verification_id = $3 AND params ? '_pending' FOR UPDATE),"
           " ins AS (INSERT INTO users (tenant_id, id, username, password_encrypted,"
           " password_encryption_method)"
           " SELECT $1, $4, p->>'username', p->>'passwordEncrypted',"
           " p->>'passwordEncryptionMethod' FROM i RETURNING id),"
           " dr AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1, ins.id, r.id FROM ins, roles r"
           " WHERE r.tenant_id = $1 AND r.is_default AND r.type = 'User' RETURNING 1),"
           " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM ins),"
           " params = params - '_pending', verification_id = NULL"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND EXISTS (SELECT 1 FROM ins)"
           " RETURNING 1)"
           " SELECT (SELECT id FROM ins), (SELECT count(*) FROM dr), (SELECT count(*) FROM upd)",
    .nparams = 4,
};
// clang-format on

struct id_call {
    const char *verification_id;
    char user_id[LATCH_USERS_ID_LEN + 1];
};

static void verification_not_found(struct latch_request *req)
{
    latch_http_respond_errorf(req, 404, "session.verification_session_not_found",
                              "The verification was not successful. Restart the verification "
                              "flow and try again.");
}

static void existing_done(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    const char *problem =
        latch_store_result_isnull(res, 0, 0) ? NULL : latch_store_result_value(res, 0, 0);
    if (problem == NULL && latch_store_result_isnull(res, 0, 1)) {
        latch_xp_not_found(req); /* expired meanwhile */
    } else if (problem == NULL) {
        latch_http_respond(req, 204, NULL, NULL, 0);
    } else if (strcmp(problem, "suspended") == 0) {
        latch_http_respond_errorf(req, 401, "user.suspended", "This account is suspended.");
    } else if (strcmp(problem, "identity_conflict") == 0) {
        latch_http_respond_errorf(req, 409, "session.identity_conflict",
                                  "This session has already identified another user.");
    } else {
        verification_not_found(req);
    }
}

static void new_done(struct latch_store_result *const *results, int n,
                     const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        if (strcmp(err->code, "23505") == 0) {
            /* Someone took the username since it was checked. */
            latch_http_respond_errorf(req, 422, "user.username_already_in_use",
                                      "This username is already in use.");
            return;
        }
        latch_xp_store_error(req, err);
        return;
    }
    if (latch_store_result_isnull(results[0], 0, 0)) {
        verification_not_found(req);
        return;
    }
    latch_http_log(req, LATCH_LOG_INFO, "user %s registered",
                   latch_store_result_value(results[0], 0, 0));
    /* A body, as Logto's (Koa answers its status text): some clients treat an empty 201 as an
     * aborted response. */
    latch_http_respond_json(req, 201, "{}", 2);
}

static void id_loaded(struct latch_xp_call *call, struct latch_store_result *const *results, int n)
{
    struct id_call *ic = call->data;
    struct latch_request *req = call->req;
    const struct latch_xp_interaction *ia = &call->ia;
    enum latch_xp_event event = latch_xp_event_parse(ia->event);
    if (event == LATCH_XP_EVENT_NONE) {
        latch_http_respond_errorf(req, 404, "session.interaction_not_found",
                                  "Interaction session not found. Please go back and start the "
                                  "session again.");
        return;
    }
    if (ia->verification_id == NULL || strcmp(ia->verification_id, ic->verification_id) != 0) {
        verification_not_found(req);
        return;
    }
    if (!latch_xp_mode_allows(ia->sign_in_mode, event)) {
        latch_http_respond_errorf(req, 403, "auth.forbidden", "%s",
                                  event == LATCH_XP_EVENT_REGISTER
                                      ? "Registration is not enabled."
                                      : "Sign-in is not enabled; create an account instead.");
        return;
    }
    const char *tenant = req->tenant->id;
    if (ia->verified_user_id == NULL && !ia->has_pending) {
        /* Neither a password nor a new-password identity: a social verification, if any. */
        latch_xp_social_identify(call, ic->verification_id, event == LATCH_XP_EVENT_REGISTER);
        return;
    }
    if (event == LATCH_XP_EVENT_SIGN_IN) {
        if (ia->verified_user_id == NULL) {
            latch_http_respond_errorf(req, 400, "session.verification_failed",
                                      "This verification cannot sign anyone in; register "
                                      "instead.");
            return;
        }
        struct latch_store_op op = {.stmt = &identify_existing,
                                    .params = {tenant, call->id_hash, ic->verification_id}};
        latch_xp_exec(call, &op, 1, existing_done);
        return;
    }
    if (!ia->has_pending) {
        latch_http_respond_errorf(req, 400, "session.verification_failed",
                                  "This verification cannot create an account; sign in instead.");
        return;
    }
    if (latch_users_new_id(ic->user_id) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {
        .stmt = &identify_new,
        .params = {tenant, call->id_hash, ic->verification_id, ic->user_id},
    };
    latch_xp_exec(call, &op, 1, new_done);
}

static void post_identification(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call = latch_xp_begin(req, true);
    if (call == NULL)
        return;
    struct id_call *ic = latch_arena_calloc(req->arena, 1, sizeof(*ic));
    if (ic == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    yajl_val body = latch_xp_body(req);
    if (body == NULL)
        return;
    const char *vid;
    bool ok = latch_xp_get_str(req, body, "verificationId", "verificationId", 64, true, &vid);
    if (ok) {
        ic->verification_id = latch_arena_strdup(req->arena, vid);
        if (ic->verification_id == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->data = ic;
    latch_xp_load(call, NULL, 0, id_loaded);
}

latch_rc latch_xp_identification_register(struct latch_server *srv)
{
    return latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/api/experience/identification",
                                         post_identification, NULL);
}
