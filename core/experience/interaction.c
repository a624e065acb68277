/*
 * The Experience API's common machinery (experience_internal.h) and its simplest routes: reading
 * the interaction (GET /api/experience/interaction), choosing the event (PUT /api/experience and
 * PUT /api/experience/interaction-event) and submitting (POST /api/experience/submit).
 *
 * Every call starts the same way: the interaction cookie's SHA-256 names the `interactions` row;
 * one round trip loads it (unexpired) together with the tenant's sign-in experience, the client's
 * name and whatever the handler asked for, all in one transaction with the tenant set for
 * row-level security. Mutating calls then must present the interaction's CSRF token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "experience/experience_internal.h"
#include "http/cookie.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/cache.h"
#include "util/json.h"
#include "util/log.h"

#define COOKIE_PREFIX   "latch_interaction"
#define TOKEN_MAX_BYTES 256

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* Column order is read by load_done(). */
static const struct latch_stmt load_stmt = {
    .name = "xp_interaction_load",
    .sql = "SELECT i.event, i.verified_user_id, i.verification_id, i.result_user_id,"
           " i.csrf_token, i.params->>'ui_locales', i.params->>'login_hint',"
           " coalesce(nullif(i.params->>'client_name', ''), a.name),"
           " coalesce(s.sign_in_mode, '" LATCH_XP_DEFAULT_MODE "'),"
           " coalesce(s.password_policy, '" LATCH_XP_DEFAULT_PASSWORD_POLICY "'::jsonb)::text,"
           " coalesce(s.sentinel_policy, '" LATCH_XP_DEFAULT_SENTINEL_POLICY "'::jsonb)::text,"
           " coalesce(s.language_info, '" LATCH_XP_DEFAULT_LANGUAGE_INFO "'::jsonb)::text,"
           " i.params ? '_pending',"
           " coalesce(s.rate_limits, '{}'::jsonb)::text,"
           " i.params ? '_newPassword', i.params->>'client_id'"
           " FROM interactions i"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = i.tenant_id AND s.id = 'default'"
           " LEFT JOIN applications a ON a.tenant_id = i.tenant_id"
           " AND a.id = i.params->>'client_id'"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()",
    .nparams = 2,
};

/* PUT /api/experience: a new event starts over, as Logto creates a fresh interaction. */
static const struct latch_stmt event_reset_stmt = {
    .name = "xp_event_reset",
    .sql = "UPDATE interactions SET event = $3, verified_user_id = NULL, verification_id = NULL,"
           " result_user_id = NULL, params = params - '_pending' - '_newPassword',"
           " " LATCH_XP_MFA_RESET_TO(LATCH_XP_PASSKEY_PREFLIGHT_KEPT)
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now() RETURNING 1",
    .nparams = 3,
};

/* PUT /api/experience/interaction-event keeps the verification; who was identified for the
 * other event must be identified again. */
static const struct latch_stmt event_change_stmt = {
    .name = "xp_event_change",
    .sql = "UPDATE interactions SET event = $3::text,"
           " result_user_id = CASE WHEN event IS DISTINCT FROM $3::text THEN NULL"
           " ELSE result_user_id END,"
           " params = CASE WHEN event IS DISTINCT FROM $3::text THEN params - '_newPassword'"
           " ELSE params END,"
           " amr = CASE WHEN event IS DISTINCT FROM $3::text THEN '{}' ELSE amr END,"
           " mfa_verified = CASE WHEN event IS DISTINCT FROM $3::text THEN '{}'"
           " ELSE mfa_verified END,"
           " mfa_pending = CASE WHEN event IS DISTINCT FROM $3::text THEN '{}'"
           " ELSE mfa_pending END,"
           " mfa_skipped = mfa_skipped AND event IS NOT DISTINCT FROM $3::text"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now() RETURNING 1",
    .nparams = 3,
};
/* GET /api/experience/interaction's mfa and mfaStep: the settings (stored or default) and
 * latch_mfa_check's answer; and passkeySignIn. */
static const struct latch_stmt mfa_view_stmt = {
    .name = "xp_interaction_mfa",
    .sql = "SELECT coalesce((SELECT s.mfa FROM sign_in_experiences s WHERE s.tenant_id = $1"
           " AND s.id = 'default'), '" LATCH_XP_DEFAULT_MFA "'::jsonb)::text,"
           " m.problem, m.available::text, m.skippable, m.backup_codes_left,"
           " coalesce((SELECT s.passkey_sign_in FROM sign_in_experiences s WHERE s.tenant_id = $1"
           " AND s.id = 'default'), '" LATCH_XP_DEFAULT_PASSKEY_SIGN_IN "'::jsonb)::text"
           " FROM latch_mfa_check($1, $2::bytea) m",
    .nparams = 2,
};
// clang-format on

/* ---- common machinery ---- */

void latch_xp_not_found(struct latch_request *req)
{
    latch_http_respond_errorf(req, 404, "session.not_found",
                              "Session not found. Please go back and sign in again.");
}

void latch_xp_identifier_not_found(struct latch_request *req)
{
    latch_http_respond_errorf(req, 400, "session.identifier_not_found",
                              "User identifier not found. Please go back and sign in again.");
}

void latch_xp_store_error(struct latch_request *req, const struct latch_error *err)
{
    if (err->status >= 500 && err->status != 503)
        latch_http_log_error(req, "experience api store call", err);
    if (err->status == 409) {
        /* A constraint the handler did not expect: say so without details. */
        latch_http_respond_errorf(req, 409, "entity.unique_integrity_violation",
                                  "The request conflicts with stored data; try again.");
        return;
    }
    latch_http_respond_error(req, err);
}

void latch_xp_respond_json(struct latch_request *req, int status, struct latch_json *j)
{
    size_t len = 0;
    char *body = latch_json_take(j, &len);
    if (body == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, status, body, len);
    free(body);
}

struct latch_xp_call *latch_xp_begin(struct latch_request *req, bool mutating)
{
    if (mutating) {
        if (req->body_len > LATCH_XP_BODY_MAX) {
            latch_http_respond_errorf(req, 413, "guard.invalid_input", "body: larger than %d bytes",
                                      LATCH_XP_BODY_MAX);
            return NULL;
        }
        /* A body must be JSON. With the custom X-CSRF-Token header this keeps every mutating
         * call out of reach of plain cross-site forms (they need a CORS preflight). */
        if (req->body_len > 0 && !latch_xp_is_json(latch_http_header_get(req, "content-type"))) {
            latch_http_respond_errorf(req, 415, "guard.invalid_content_type",
                                      "Content-Type must be application/json.");
            return NULL;
        }
    }
    const char *name = latch_http_tenant_cookie_name(req, COOKIE_PREFIX);
    const char *token = name ? latch_http_cookie_get(req, name) : NULL;
    if (token == NULL || token[0] == '\0' || strlen(token) > TOKEN_MAX_BYTES) {
        latch_xp_not_found(req);
        return NULL;
    }
    struct latch_xp_call *call = latch_arena_calloc(req->arena, 1, sizeof(*call));
    if (call == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return NULL;
    }
    call->req = req;
    call->mutating = mutating;
    if (latch_jose_token_hash(token, call->id_hash) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return NULL;
    }
    return call;
}

static const char *col(struct latch_request *req, const struct latch_store_result *res, int c)
{
    if (latch_store_result_isnull(res, 0, c))
        return NULL;
    return latch_arena_strdup(req->arena, latch_store_result_value(res, 0, c));
}

static void end_early(struct latch_xp_call *call)
{
    if (call->cleanup != NULL)
        call->cleanup(call);
}

static void load_done(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        end_early(call);
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) < 1) {
        end_early(call);
        latch_xp_not_found(req);
        return;
    }
    struct latch_xp_interaction *ia = &call->ia;
    ia->event = col(req, res, 0);
    ia->verified_user_id = col(req, res, 1);
    ia->verification_id = col(req, res, 2);
    ia->result_user_id = col(req, res, 3);
    ia->csrf_token = col(req, res, 4);
    ia->ui_locales = col(req, res, 5);
    ia->login_hint = col(req, res, 6);
    ia->app_name = col(req, res, 7);
    ia->sign_in_mode = col(req, res, 8);
    ia->password_policy = col(req, res, 9);
    ia->sentinel_policy = col(req, res, 10);
    ia->language_info = col(req, res, 11);
    ia->has_pending = strcmp(latch_store_result_value(res, 0, 12), "t") == 0;
    ia->rate_limits = col(req, res, 13);
    ia->has_new_password = strcmp(latch_store_result_value(res, 0, 14), "t") == 0;
    /* What the audit log says about the request, when it is tracked (a handler may have
     * noted the event of its body already). */
    latch_audit_note_default(req, LATCH_AUDIT_EVENT, ia->event);
    latch_audit_note_default(req, LATCH_AUDIT_USER_ID,
                             ia->result_user_id ? ia->result_user_id : ia->verified_user_id);
    latch_audit_note_default(req, LATCH_AUDIT_APPLICATION_ID, col(req, res, 15));
    if (ia->csrf_token == NULL || ia->sign_in_mode == NULL || ia->password_policy == NULL ||
        ia->sentinel_policy == NULL || ia->language_info == NULL || ia->rate_limits == NULL) {
        end_early(call);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (call->mutating &&
        !latch_xp_csrf_ok(ia->csrf_token, latch_http_header_get(req, "x-csrf-token"))) {
        end_early(call);
        latch_http_respond_errorf(req, 403, "session.csrf_token_mismatch",
                                  "The CSRF token is missing or does not match.");
        return;
    }
    call->loaded(call, results + 1, n - 1);
}

void latch_xp_load(struct latch_xp_call *call, const struct latch_store_op *extra, int nextra,
                   latch_xp_loaded_cb loaded)
{
    struct latch_store_op ops[LATCH_STORE_MAX_OPS];
    if (nextra < 0 || nextra > LATCH_STORE_MAX_OPS - 1) {
        end_early(call);
        latch_http_respond_errorf(call->req, 500, "server_error", "Internal error.");
        return;
    }
    memset(ops, 0, sizeof(ops));
    ops[0].stmt = &load_stmt;
    ops[0].params[0] = call->req->tenant->id;
    ops[0].params[1] = call->id_hash;
    for (int i = 0; i < nextra; i++)
        ops[i + 1] = extra[i];
    call->loaded = loaded;
    latch_store_exec(latch_loop_store(call->req->loop), call->req->tenant->id, ops, nextra + 1,
                     load_done, call);
}

void latch_xp_exec(struct latch_xp_call *call, const struct latch_store_op *ops, int nops,
                   latch_store_cb cb)
{
    latch_store_exec(latch_loop_store(call->req->loop), call->req->tenant->id, ops, nops, cb, call);
}

bool latch_xp_user_updated_hook_op(struct latch_xp_call *call, struct latch_store_op *op)
{
    struct latch_request *req = call->req;
    const char *head = latch_mgmt_hook_xp_head(req, NULL);
    if (head == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    *op = (struct latch_store_op){&latch_mgmt_hook_user_updated_stmt,
                                  {req->tenant->id, call->id_hash, head, call->ia.result_user_id}};
    return true;
}

void latch_xp_respond_verification(struct latch_request *req, const char *verification_id)
{
    latch_audit_note_default(req, LATCH_AUDIT_VERIFICATION_ID, verification_id);
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "verificationId");
    latch_json_string(&j, verification_id);
    latch_json_end_object(&j);
    latch_xp_respond_json(req, 200, &j);
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return true;
    return false;
}

yajl_val latch_xp_body(struct latch_request *req)
{
    /* The Management API's bounded parser (depth, NUL bytes, "\u0000"), same 400 answers. */
    yajl_val tree = latch_mgmt_body(req);
    /* The body may hold a password: wipe it now that the tree has its own copy. */
    if (req->body != NULL)
        explicit_bzero((char *)req->body, req->body_len);
    return tree;
}

yajl_val latch_xp_begin_body(struct latch_request *req, size_t data_size,
                             struct latch_xp_call **call)
{
    *call = latch_xp_begin(req, true);
    if (*call == NULL)
        return NULL;
    (*call)->data = latch_arena_calloc(req->arena, 1, data_size);
    if ((*call)->data == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return NULL;
    }
    return latch_xp_body(req);
}

static void wipe_tree(yajl_val v)
{
    if (v == NULL)
        return;
    if (YAJL_IS_STRING(v)) {
        explicit_bzero(v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++)
            wipe_tree(v->u.object.values[i]);
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            wipe_tree(v->u.array.values[i]);
    }
}

void latch_xp_body_free(struct latch_request *req, yajl_val tree)
{
    (void)req;
    wipe_tree(tree);
    yajl_tree_free(tree);
}

bool latch_xp_get_str(struct latch_request *req, yajl_val obj, const char *key, const char *path,
                      size_t max, bool required, const char **out)
{
    *out = NULL;
    yajl_val v = NULL;
    if (obj != NULL && YAJL_IS_OBJECT(obj))
        for (size_t i = 0; i < obj->u.object.len && v == NULL; i++)
            if (strcmp(obj->u.object.keys[i], key) == 0)
                v = obj->u.object.values[i];
    if (v == NULL || YAJL_IS_NULL(v)) {
        if (!required)
            return true;
        latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s: is required", path);
        return false;
    }
    size_t len = YAJL_IS_STRING(v) ? strlen(v->u.string) : 0;
    if (!YAJL_IS_STRING(v) || len == 0 || len > max || has_control(v->u.string)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "%s: must be a string of 1 to %zu bytes without control "
                                  "characters",
                                  path, max);
        return false;
    }
    *out = v->u.string;
    return true;
}

/* ---- GET /api/experience/interaction ---- */

static void interaction_loaded(struct latch_xp_call *call, struct latch_store_result *const *res,
                               int n)
{
    struct latch_request *req = call->req;
    const struct latch_xp_interaction *ia = &call->ia;
    struct latch_language_info li;
    struct latch_password_policy *pp = latch_arena_alloc(req->arena, sizeof(*pp));
    if (pp == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    yajl_val v = yajl_tree_parse(ia->language_info, NULL, 0);
    (void)latch_xp_language_info_read(v, false, &li, NULL, 0);
    yajl_tree_free(v);
    struct latch_error err;
    if (latch_users_policy_parse(ia->password_policy, pp, &err) != LATCH_OK)
        latch_http_log(req, LATCH_LOG_WARN,
                       "stored password policy is invalid (%s); using the defaults", err.message);
    const char *locale =
        latch_xp_locale(ia->ui_locales, latch_http_header_get(req, "accept-language"), &li);

    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "interactionEvent");
    if (ia->event != NULL)
        latch_json_string(&j, ia->event);
    else
        latch_json_null(&j);
    latch_json_key(&j, "csrfToken");
    latch_json_string(&j, ia->csrf_token);
    latch_json_key(&j, "locale");
    latch_json_string(&j, locale);
    latch_json_key(&j, "applicationName");
    if (ia->app_name != NULL)
        latch_json_string(&j, ia->app_name);
    else
        latch_json_null(&j);
    latch_json_key(&j, "signInMode");
    latch_json_string(&j, ia->sign_in_mode);
    latch_json_key(&j, "loginHint");
    if (ia->login_hint != NULL)
        latch_json_string(&j, ia->login_hint);
    else
        latch_json_null(&j);
    latch_json_key(&j, "passwordPolicy");
    latch_xp_password_policy_write(pp, &j);
    latch_json_key(&j, "identified");
    latch_json_bool(&j, ia->result_user_id != NULL);
    latch_json_key(&j, "socialConnectors");
    latch_xp_social_buttons_write(req, n > 0 ? res[0] : NULL, locale, &j);
    /* What the page offers: codes to sign in or register with, password reset. */
    struct latch_xp_methods m;
    latch_xp_methods_read(n > 1 ? res[1] : NULL, &m);
    latch_json_key(&j, "signIn");
    latch_xp_sign_in_write(&m.sign_in, &j);
    latch_json_key(&j, "signUp");
    latch_json_begin_object(&j);
    latch_json_key(&j, "identifiers");
    latch_json_begin_array(&j);
    static const struct {
        unsigned bit;
        const char *name;
    } ids[] = {{LATCH_XP_ID_USERNAME, "username"},
               {LATCH_XP_ID_EMAIL, "email"},
               {LATCH_XP_ID_PHONE, "phone"}};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if (m.sign_up.identifiers & ids[i].bit)
            latch_json_string(&j, ids[i].name);
    latch_json_end_array(&j);
    latch_json_key(&j, "password");
    latch_json_bool(&j, m.sign_up.password);
    latch_json_key(&j, "verify");
    latch_json_bool(&j, m.sign_up.verify);
    latch_json_end_object(&j);
    latch_json_key(&j, "forgotPasswordMethods");
    latch_xp_forgot_methods_write(m.forgot, &j);
    /* The tenant's MFA settings, and where this person stands (Latch: what submit would say,
     * so the page knows which MFA screen to show without submitting first). */
    const struct latch_store_result *mfa = n > 2 ? res[2] : NULL;
    bool have_mfa = mfa != NULL && latch_store_result_rows(mfa) == 1;
    const char *settings = have_mfa ? latch_store_result_value(mfa, 0, 0) : LATCH_XP_DEFAULT_MFA;
    latch_json_key(&j, "mfa");
    latch_json_raw(&j, settings, strlen(settings));
    const char *passkey =
        have_mfa ? latch_store_result_value(mfa, 0, 5) : LATCH_XP_DEFAULT_PASSKEY_SIGN_IN;
    latch_json_key(&j, "passkeySignIn");
    latch_json_raw(&j, passkey, strlen(passkey));
    latch_json_key(&j, "mfaStep");
    if (have_mfa && ia->result_user_id != NULL && !latch_store_result_isnull(mfa, 0, 1)) {
        const char *available = latch_store_result_value(mfa, 0, 2);
        latch_json_begin_object(&j);
        latch_json_key(&j, "problem");
        latch_json_string(&j, latch_store_result_value(mfa, 0, 1));
        latch_json_key(&j, "availableFactors");
        latch_json_raw(&j, available, strlen(available));
        latch_json_key(&j, "skippable");
        latch_json_bool(&j, strcmp(latch_store_result_value(mfa, 0, 3), "t") == 0);
        const char *left = latch_store_result_value(mfa, 0, 4);
        latch_json_key(&j, "backupCodesLeft");
        latch_json_number(&j, left, strlen(left));
        latch_json_end_object(&j);
    } else {
        latch_json_null(&j);
    }
    latch_json_end_object(&j);
    latch_xp_respond_json(req, 200, &j);
}

static void get_interaction(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call = latch_xp_begin(req, false);
    if (call == NULL)
        return;
    struct latch_store_op ops[] = {
        {.stmt = &latch_xp_social_buttons_stmt, .params = {req->tenant->id}},
        {.stmt = &latch_xp_methods_stmt, .params = {req->tenant->id}},
        {.stmt = &mfa_view_stmt, .params = {req->tenant->id, call->id_hash}},
    };
    latch_xp_load(call, ops, 3, interaction_loaded);
}

/* ---- PUT /api/experience, PUT /api/experience/interaction-event ---- */

struct event_change {
    enum latch_xp_event event;
    const char *event_text;
    bool reset;
};

static void event_done(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_xp_not_found(call->req); /* expired meanwhile */
        return;
    }
    latch_http_respond(call->req, 204, NULL, NULL, 0);
}

static void event_loaded(struct latch_xp_call *call, struct latch_store_result *const *res, int n)
{
    struct event_change *ec = call->data;
    if (ec->event == LATCH_XP_EVENT_FORGOT_PASSWORD) {
        /* Password reset exists only where the tenant chose how codes prove the person. */
        struct latch_xp_methods m;
        latch_xp_methods_read(res[0], &m);
        if (m.forgot == 0) {
            latch_http_respond_errorf(call->req, 422, "session.forgot_password_not_enabled",
                                      "Forgot password is not enabled.");
            return;
        }
    }
    if (!latch_xp_mode_allows(call->ia.sign_in_mode, ec->event)) {
        latch_http_respond_errorf(call->req, 403, "auth.forbidden", "%s",
                                  ec->event == LATCH_XP_EVENT_REGISTER
                                      ? "Registration is not enabled."
                                      : "Sign-in is not enabled; create an account instead.");
        return;
    }
    struct latch_store_op op = {
        .stmt = ec->reset ? &event_reset_stmt : &event_change_stmt,
        .params = {call->req->tenant->id, call->id_hash, ec->event_text},
    };
    latch_xp_exec(call, &op, 1, event_done);
}

static void put_event(struct latch_request *req, bool reset)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct event_change), &call);
    if (body == NULL)
        return;
    struct event_change *ec = call->data;
    const char *event;
    bool ok = latch_xp_get_str(req, body, "interactionEvent", "interactionEvent", 32, true, &event);
    if (ok) {
        ec->event = latch_xp_event_parse(event);
        if (ec->event == LATCH_XP_EVENT_NONE) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "interactionEvent: must be SignIn, Register or "
                                      "ForgotPassword");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    ec->event_text = ec->event == LATCH_XP_EVENT_SIGN_IN    ? "SignIn"
                     : ec->event == LATCH_XP_EVENT_REGISTER ? "Register"
                                                            : "ForgotPassword";
    ec->reset = reset;
    latch_audit_track(req, "Interaction.{event}.Update");
    latch_audit_note(req, LATCH_AUDIT_EVENT, ec->event_text);
    struct latch_store_op extra = {.stmt = &latch_xp_methods_stmt, .params = {req->tenant->id}};
    latch_xp_load(call, &extra, 1, event_loaded);
}

static void put_experience(struct latch_request *req, void *arg)
{
    put_event(req, true);
}

static void put_interaction_event(struct latch_request *req, void *arg)
{
    put_event(req, false);
}

/* ---- POST /api/experience/submit ---- */

void latch_xp_missing_profile(struct latch_request *req, const char *missing)
{
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "code");
    latch_json_string(&j, "user.missing_profile");
    latch_json_key(&j, "message");
    latch_json_string(&j, "You need to provide additional info before signing in.");
    latch_json_key(&j, "data");
    latch_json_begin_object(&j);
    latch_json_key(&j, "missingProfile");
    latch_json_begin_array(&j);
    for (const char *p = missing; *p != '\0';) {
        size_t len = strcspn(p, ",");
        latch_json_string_n(&j, p, len);
        p += len + (p[len] == ',');
    }
    latch_json_end_array(&j);
    latch_json_end_object(&j);
    latch_json_end_object(&j);
    latch_xp_respond_json(req, 422, &j);
}

/* What the identified user still lacks (one row, "a,b" text; no row when nobody is). */
// clang-format off
static const struct latch_stmt missing_stmt = {
    .name = "xp_submit_missing",
    .sql = "SELECT array_to_string(" LATCH_XP_MISSING_PROFILE_SQL("u", "s") ", ',')"
           " FROM interactions i"
           " JOIN users u ON u.tenant_id = i.tenant_id AND u.id = i.result_user_id"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = i.tenant_id AND s.id = 'default'"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea",
    .nparams = 2,
};
// clang-format on

/* The submit's PostSignIn or PostRegister (with User.Created) are in the outbox: answer. */
static void submit_hooked(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
    if (endpoint == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    char *target = latch_arena_printf(req->arena, "%s/oidc/auth/resume", endpoint);
    free(endpoint);
    if (target == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "redirectTo");
    latch_json_string(&j, target);
    latch_json_end_object(&j);
    latch_xp_respond_json(req, 200, &j);
}

static void submit_loaded(struct latch_xp_call *call, struct latch_store_result *const *res, int n)
{
    struct latch_request *req = call->req;
    if (call->ia.result_user_id == NULL || latch_store_result_rows(res[0]) != 1) {
        latch_xp_identifier_not_found(req);
        return;
    }
    if (latch_xp_event_parse(call->ia.event) == LATCH_XP_EVENT_FORGOT_PASSWORD) {
        latch_xp_password_reset_submit(call);
        return;
    }
    /* In Logto's order: a factor the person has is verified first, then the profile is
     * completed, then MFA enrolment. /oidc/auth/resume asks both again: these are the answers a
     * client can act on. */
    const struct latch_store_result *mfa = n > 1 ? res[1] : NULL;
    bool must_verify = mfa != NULL && latch_store_result_rows(mfa) == 1 &&
                       !latch_store_result_isnull(mfa, 0, 0) &&
                       strcmp(latch_store_result_value(mfa, 0, 0), "require_mfa_verification") == 0;
    if (must_verify && latch_xp_mfa_check_answer(req, mfa))
        return;
    const char *missing = latch_store_result_value(res[0], 0, 0);
    if (missing[0] != '\0') {
        latch_xp_missing_profile(req, missing);
        return;
    }
    if (latch_xp_mfa_check_answer(req, mfa))
        return;
    /* Every check passed: the hook events, once per interaction, then the answer. */
    const char *head = latch_mgmt_hook_xp_head(req, NULL);
    if (head == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    struct latch_store_op op = {&latch_mgmt_hook_xp_stmt, {req->tenant->id, call->id_hash, head}};
    latch_xp_exec(call, &op, 1, submit_hooked);
}

static void post_submit(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "Interaction.{event}.Submit");
    struct latch_xp_call *call = latch_xp_begin(req, true);
    if (call == NULL)
        return;
    struct latch_store_op extra[2] = {
        {.stmt = &missing_stmt, .params = {req->tenant->id, call->id_hash}},
        {.stmt = &latch_xp_mfa_check_stmt, .params = {req->tenant->id, call->id_hash}},
    };
    latch_xp_load(call, extra, 2, submit_loaded);
}

/* ---- registration ---- */

latch_rc latch_xp_interaction_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/api/experience/interaction",
                                      get_interaction, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_PUT, "/api/experience", put_experience,
                                      NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_PUT, "/api/experience/interaction-event",
                                      put_interaction_event, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/api/experience/submit", post_submit,
                                      NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}

latch_rc latch_experience_register(struct latch_server *srv)
{
    if (latch_xp_interaction_register(srv) != LATCH_OK ||
        latch_xp_verification_register(srv) != LATCH_OK ||
        latch_xp_identification_register(srv) != LATCH_OK ||
        latch_xp_settings_register(srv) != LATCH_OK || latch_xp_pages_register(srv) != LATCH_OK ||
        latch_xp_social_register(srv) != LATCH_OK || latch_xp_code_register(srv) != LATCH_OK ||
        latch_xp_mfa_register(srv) != LATCH_OK || latch_xp_webauthn_register(srv) != LATCH_OK ||
        latch_xp_console_register(srv) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
