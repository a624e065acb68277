/*
 * POST /api/experience/identification {verificationId}: turns the interaction's verification into
 * the person who signs in (interactions.result_user_id), as Logto's identifyUser:
 *   SignIn   — a password or passkey (webauthn.c) verification names an existing user: 204
 *              (amr: pwd, or the passkey's hwk/swk and, with user verification, mfa), unless
 *              the user was suspended or deleted meanwhile, or the interaction already
 *              identified someone else;
 *   Register — a new-password-identity verification: the user is created (with the tenant's
 *              default roles) from params._pending in the same transaction: 201; refused (422
 *              user.missing_profile) when signUp.verify asks for an email or phone first.
 * With a verified verification code (verification_code.c) instead, whose template must be the
 * event's:
 *   SignIn, ForgotPassword — the user whose primary email or phone the code proved (404
 *              user.user_not_exist when nobody has it: said only after the proof) when signIn
 *              methods (or forgotPasswordMethods) allow codes for it: 204;
 *   Register — a new user with that primary email or phone (plus the username and password of a
 *              new-password-identity made before, which signUp may require: else 422
 *              user.missing_profile); 422 user.email_already_in_use / phone_already_in_use: 201.
 * The code is consumed.
 * With a social verification (…/social/:connectorId/verify), social.c decides
 * (latch_xp_social_identify).
 * Errors: 404 session.interaction_not_found without an event (PUT /api/experience first),
 * 404 session.verification_session_not_found for an unknown verificationId, 400
 * session.verification_failed when the verification does not fit the event, 403 auth.forbidden
 * when the sign-in mode does not allow the event, 401 user.suspended, 409
 * session.identity_conflict, 422 user.username_already_in_use.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "experience/experience_internal.h"
#include "messages/messages.h"
#include "util/json.h"
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
           " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM u),"
           " " LATCH_XP_PASSKEY_OR_PWD
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
           " params = params - '_pending', verification_id = NULL, " LATCH_XP_AMR_ADD("pwd")
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND EXISTS (SELECT 1 FROM ins)"
           " RETURNING 1)"
           " SELECT (SELECT id FROM ins), (SELECT count(*) FROM dr), (SELECT count(*) FROM upd)",
    .nparams = 4,
};
/* The code verification $2 of interaction $3, if the id names one (columns read by
 * id_loaded()): identifier type and value, template, verified, consumed. */
static const struct latch_stmt code_row = {
    .name = "xp_identify_code_row",
    .sql = "SELECT identifier_type, identifier, template_type, verified_at IS NOT NULL,"
           " consumed_at IS NOT NULL FROM verification_codes"
           " WHERE tenant_id = $1 AND id = $2 AND interaction_hash = $3::bytea",
    .nparams = 3,
};

/* CTE c: the identifier of the verified, unused code $3 of interaction $2 for identifier type
 * `type` (and the further condition `extra`), locked. */
#define VERIFIED_CODE(type, extra)                                                                 \
    "c AS (SELECT identifier FROM verification_codes WHERE tenant_id = $1 AND id = $3"             \
    " AND interaction_hash = $2::bytea AND identifier_type = '" type "'" extra                     \
    " AND verified_at IS NOT NULL AND consumed_at IS NULL FOR UPDATE)"

/*
 * SignIn or ForgotPassword with a verified code: the person who has the identifier the code
 * proved, found with users.h's LATCH_USERS_SQL_MATCH_* as every sign-in lookup. The code is
 * consumed. $3 verification id. Answers (problem or NULL, user id).
 */
#define IDENTIFY_BY_CODE(type, match, amr)                                                         \
    {                                                                                              \
        .name = "xp_identify_code_" type,                                                          \
        .sql = "WITH " VERIFIED_CODE(type, "") ","                                                 \
               " i AS (SELECT result_user_id FROM interactions WHERE tenant_id = $1"               \
               " AND id_hash = $2::bytea AND expires_at > now() AND verification_id = $3"          \
               " FOR UPDATE),"                                                                     \
               " u AS (SELECT u.id, u.is_suspended FROM users u, c WHERE u.tenant_id = $1"         \
               " AND " match "),"                                                                  \
               " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM c)"                           \
               " OR NOT EXISTS (SELECT 1 FROM i) THEN 'verification_not_found'"                   \
               " WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'user_not_exist'"                         \
               " WHEN (SELECT is_suspended FROM u) THEN 'suspended'"                              \
               " WHEN (SELECT result_user_id FROM i) IS NOT NULL"                                  \
               " AND (SELECT result_user_id FROM i) <> (SELECT id FROM u)"                         \
               " THEN 'identity_conflict' END AS problem),"                                        \
               " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM u),"            \
               " verified_user_id = (SELECT id FROM u), " LATCH_XP_AMR_ADD(amr)                    \
               " WHERE tenant_id = $1 AND id_hash = $2::bytea"                                     \
               " AND (SELECT problem FROM chk) IS NULL RETURNING result_user_id),"                 \
               " used AS (UPDATE verification_codes SET consumed_at = now()"                       \
               " WHERE tenant_id = $1 AND id = $3 AND (SELECT problem FROM chk) IS NULL"           \
               " RETURNING 1)"                                                                     \
               " SELECT (SELECT problem FROM chk), (SELECT result_user_id FROM upd),"              \
               " (SELECT count(*) FROM used)",                                                     \
        .nparams = 3,                                                                              \
    }
static const struct latch_stmt identify_by_code[] = {
    IDENTIFY_BY_CODE("email", LATCH_USERS_SQL_MATCH_EMAIL("u.", "c.identifier"), "otp"),
    IDENTIFY_BY_CODE("phone", LATCH_USERS_SQL_MATCH_PHONE("u.", "c.identifier"), "sms"),
};

/*
 * Register with a verified code: a new user whose primary email (or phone) is the proven
 * identifier, with the username and password of a new-password-identity when one waits in
 * params._pending, and the tenant's default roles. The code is consumed. $3 verification id,
 * $4 the new user's id. Answers (user id or NULL, identifier taken, code usable).
 */
#define REGISTER_BY_CODE(type, column, match, amr)                                                 \
    {                                                                                              \
        .name = "xp_register_code_" type,                                                          \
        .sql = "WITH " VERIFIED_CODE(type, " AND template_type = 'Register'") ","                  \
               " i AS (SELECT params->'_pending' AS p FROM interactions WHERE tenant_id = $1"      \
               " AND id_hash = $2::bytea AND expires_at > now() AND verification_id = $3"          \
               " AND result_user_id IS NULL FOR UPDATE),"                                          \
               " taken AS (SELECT EXISTS (SELECT 1 FROM users u, c WHERE u.tenant_id = $1"         \
               " AND " match ") AS t),"                                                            \
               " ins AS (INSERT INTO users (tenant_id, id, username, " column ","                  \
               " password_encrypted, password_encryption_method)"                                  \
               " SELECT $1, $4, i.p->>'username', c.identifier, i.p->>'passwordEncrypted',"        \
               " i.p->>'passwordEncryptionMethod' FROM c, i WHERE NOT (SELECT t FROM taken)"       \
               " RETURNING id),"                                                                   \
               " dr AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"                     \
               " SELECT $1, ins.id, r.id FROM ins, roles r"                                        \
               " WHERE r.tenant_id = $1 AND r.is_default AND r.type = 'User' RETURNING 1),"        \
               " upd AS (UPDATE interactions SET result_user_id = (SELECT id FROM ins),"           \
               " params = params - '_pending', verification_id = NULL,"                            \
               " amr = ARRAY['" amr "'] || CASE WHEN (SELECT p->>'passwordEncrypted' FROM i)"      \
               " IS NOT NULL THEN ARRAY['pwd'] ELSE '{}'::text[] END"                              \
               " WHERE tenant_id = $1 AND id_hash = $2::bytea AND EXISTS (SELECT 1 FROM ins)"      \
               " RETURNING 1),"                                                                    \
               " used AS (UPDATE verification_codes SET consumed_at = now()"                       \
               " WHERE tenant_id = $1 AND id = $3 AND EXISTS (SELECT 1 FROM ins) RETURNING 1)"     \
               " SELECT (SELECT id FROM ins), (SELECT t FROM taken),"                              \
               " EXISTS (SELECT 1 FROM c) AND EXISTS (SELECT 1 FROM i),"                           \
               " (SELECT count(*) FROM dr) + (SELECT count(*) FROM upd)"                           \
               " + (SELECT count(*) FROM used)",                                                   \
        .nparams = 4,                                                                              \
    }
static const struct latch_stmt register_by_code[] = {
    REGISTER_BY_CODE("email", "primary_email", LATCH_USERS_SQL_MATCH_EMAIL("u.", "c.identifier"),
                     "otp"),
    REGISTER_BY_CODE("phone", "primary_phone", LATCH_USERS_SQL_MATCH_PHONE("u.", "c.identifier"),
                     "sms"),
};
// clang-format on

struct id_call {
    const char *verification_id;
    char user_id[LATCH_USERS_ID_LEN + 1];
    bool email; /* the code's identifier type, for the answers */
};

void latch_xp_verification_not_found(struct latch_request *req)
{
    latch_http_respond_errorf(req, 404, "session.verification_session_not_found",
                              "The verification was not successful. Restart the verification "
                              "flow and try again.");
}

void latch_xp_identifier_in_use(struct latch_request *req, bool email)
{
    if (email)
        latch_http_respond_errorf(req, 422, "user.email_already_in_use",
                                  "This email is associated with an existing account.");
    else
        latch_http_respond_errorf(req, 422, "user.phone_already_in_use",
                                  "This phone number is associated with an existing account.");
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
    } else if (strcmp(problem, "user_not_exist") == 0) {
        /* Said only now that the code proved the identifier is the caller's. */
        latch_http_respond_errorf(req, 404, "user.user_not_exist",
                                  "The user does not exist or the identifier is incorrect.");
    } else {
        latch_xp_verification_not_found(req);
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
        latch_xp_verification_not_found(req);
        return;
    }
    latch_http_log(req, LATCH_LOG_INFO, "user %s registered",
                   latch_store_result_value(results[0], 0, 0));
    /* A body, as Logto's (Koa answers its status text): some clients treat an empty 201 as an
     * aborted response. */
    latch_http_respond_json(req, 201, "{}", 2);
}

static void code_register_done(struct latch_store_result *const *results, int n,
                               const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct id_call *ic = call->data;
    struct latch_request *req = call->req;
    const struct latch_store_result *res = err == NULL ? results[0] : NULL;
    bool taken = res != NULL && strcmp(latch_store_result_value(res, 0, 1), "t") == 0;
    if (err != NULL && strcmp(err->code, "23505") != 0) {
        latch_xp_store_error(req, err);
        return;
    }
    if (err != NULL || taken) {
        /* Someone has the identifier (or took it, or the pending username, meanwhile). */
        latch_xp_identifier_in_use(req, ic->email);
        return;
    }
    if (latch_store_result_isnull(res, 0, 0)) {
        latch_xp_verification_not_found(req);
        return;
    }
    latch_http_log(req, LATCH_LOG_INFO, "user %s registered with a verified %s",
                   latch_store_result_value(res, 0, 0), ic->email ? "email" : "phone");
    latch_http_respond_json(req, 201, "{}", 2);
}

/* Identification with a verified code (results: the code row, the methods). */
static void id_by_code(struct latch_xp_call *call, enum latch_xp_event event,
                       const struct latch_store_result *code, const struct latch_xp_methods *m)
{
    struct id_call *ic = call->data;
    struct latch_request *req = call->req;
    const char *type = latch_store_result_value(code, 0, 0);
    int template = latch_messages_template_type(latch_store_result_value(code, 0, 2));
    bool verified = strcmp(latch_store_result_value(code, 0, 3), "t") == 0;
    bool consumed = strcmp(latch_store_result_value(code, 0, 4), "t") == 0;
    unsigned bit = latch_xp_identifier_bit(type);
    ic->email = bit == LATCH_XP_ID_EMAIL;
    int k = ic->email ? 0 : 1;
    if (!verified || consumed) {
        latch_xp_verification_not_found(req);
        return;
    }
    int want = event == LATCH_XP_EVENT_SIGN_IN    ? LATCH_MESSAGES_TEMPLATE_SIGN_IN
               : event == LATCH_XP_EVENT_REGISTER ? LATCH_MESSAGES_TEMPLATE_REGISTER
                                                  : LATCH_MESSAGES_TEMPLATE_FORGOT_PASSWORD;
    if (template != want) {
        latch_http_respond_errorf(req, 400, "session.verification_failed",
                                  "This code was sent for another purpose; request a new one.");
        return;
    }
    const char *tenant = req->tenant->id;
    if (event == LATCH_XP_EVENT_REGISTER) {
        /* The tenant's sign-up decides what else the account needs: a username and password
         * come from a new-password-identity made before the code. */
        if (!(m->sign_up.identifiers & bit)) {
            latch_http_respond_errorf(req, 422, "user.sign_up_method_not_enabled",
                                      "This sign-up method is not enabled.");
            return;
        }
        if (!call->ia.has_pending && (m->sign_up.identifiers & LATCH_XP_ID_USERNAME)) {
            latch_xp_missing_profile(req, "username");
            return;
        }
        if (!call->ia.has_pending && m->sign_up.password) {
            latch_xp_missing_profile(req, "password");
            return;
        }
        if (latch_users_new_id(ic->user_id) != LATCH_OK) {
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            return;
        }
        struct latch_store_op op = {
            .stmt = &register_by_code[k],
            .params = {tenant, call->id_hash, ic->verification_id, ic->user_id},
        };
        latch_xp_exec(call, &op, 1, code_register_done);
        return;
    }
    bool allowed = event == LATCH_XP_EVENT_SIGN_IN ? latch_xp_sign_in_by_code(&m->sign_in, bit)
                                                   : (m->forgot & bit) != 0;
    if (!allowed) {
        if (event == LATCH_XP_EVENT_SIGN_IN)
            latch_http_respond_errorf(req, 422, "user.sign_in_method_not_enabled",
                                      "This sign-in method is not enabled.");
        else
            latch_http_respond_errorf(req, 422, "session.forgot_password_not_enabled",
                                      "Forgot password is not enabled.");
        return;
    }
    struct latch_store_op op = {.stmt = &identify_by_code[k],
                                .params = {tenant, call->id_hash, ic->verification_id}};
    latch_xp_exec(call, &op, 1, existing_done);
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
        latch_xp_verification_not_found(req);
        return;
    }
    if (!latch_xp_mode_allows(ia->sign_in_mode, event)) {
        latch_http_respond_errorf(req, 403, "auth.forbidden", "%s",
                                  event == LATCH_XP_EVENT_REGISTER
                                      ? "Registration is not enabled."
                                      : "Sign-in is not enabled; create an account instead.");
        return;
    }
    struct latch_xp_methods m;
    latch_xp_methods_read(results[1], &m);
    if (latch_store_result_rows(results[0]) > 0) {
        id_by_code(call, event, results[0], &m);
        return;
    }
    const char *tenant = req->tenant->id;
    if (event == LATCH_XP_EVENT_FORGOT_PASSWORD) {
        /* Only a code proves who forgot their password. */
        latch_http_respond_errorf(req, 400, "session.verification_failed",
                                  "A password reset needs a verification code.");
        return;
    }
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
    /* signUp.verify: no account before the email or phone it asks for is proven by a code. */
    if (m.sign_up.verify && (m.sign_up.identifiers & (LATCH_XP_ID_EMAIL | LATCH_XP_ID_PHONE))) {
        latch_xp_missing_profile(req,
                                 (m.sign_up.identifiers & LATCH_XP_ID_EMAIL) ? "email" : "phone");
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
    struct latch_xp_call *call;
    latch_audit_track(req, "Interaction.{event}.Identifier.Submit");
    yajl_val body = latch_xp_begin_body(req, sizeof(struct id_call), &call);
    if (body == NULL)
        return;
    struct id_call *ic = call->data;
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
    struct latch_store_op extra[2] = {
        {.stmt = &code_row, .params = {req->tenant->id, ic->verification_id, call->id_hash}},
        {.stmt = &latch_xp_methods_stmt, .params = {req->tenant->id}},
    };
    latch_xp_load(call, extra, 2, id_loaded);
}

latch_rc latch_xp_identification_register(struct latch_server *srv)
{
    return latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/api/experience/identification",
                                         post_identification, NULL);
}
