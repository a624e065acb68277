/*
 * Experience API verification codes (Logto's verification-code routes and CodeVerification), a
 * code sent by email or SMS to prove that the person holds an address or a number:
 *
 * POST /api/experience/verification/verification-code {identifier: {type: email|phone, value},
 *   interactionEvent} → {verificationId}: stores a new code (code.h: 6 digits, kept only as a
 *   keyed hash, schema/0010) bound to this interaction and identifier, and sends it through
 *   core/messages with the template of the event (SignIn, Register, ForgotPassword). The code
 *   the interaction had for the same template is superseded. Whether an account has that
 *   identifier is not looked at: a code to an unknown address is sent and answered exactly as
 *   one to a known address (as Logto does), and only identification, once the code proved the
 *   address, says that nobody has it.
 * Once the interaction has identified someone, a code goes out as BindNewIdentifier instead (when
 * the tenant's signUp collects that kind of identifier), and POST /api/experience/profile
 * {type: email|phone, verificationId} binds the proved identifier to the person's account
 * (Logto's missing-profile fulfilment: 204, 422 user.email_already_in_use / phone_already_in_use).
 * The same route takes the other items submit's 422 user.missing_profile can ask for: {type:
 * username, value} for an account without a username, and {type: password, value}, which
 * verification.c checks against the password policy and stores.
 * POST /api/experience/verification/verification-code/verify {identifier, verificationId, code}
 *   → {verificationId}: the code is checked (Logto's errors, 400: verification_code.not_found,
 *   email_mismatch / phone_mismatch, expired, exceed_max_try, code_mismatch). An attempt is
 *   counted before the comparison, in the same statement that checks the count, so concurrent
 *   guesses cannot exceed verificationCodePolicy.maxRetryAttempts (10). The comparison of the
 *   keyed hashes is constant-time. The right code marks the row verified (once: a code is
 *   single use) and makes it the interaction's current verification, which identification
 *   (identification.c) then consumes.
 *
 * The Management API's Logto routes for apps that verify contacts themselves: POST
 * /api/verification-codes {email} or {phone} sends a code with the Generic template (204), and
 * POST /api/verification-codes/verify {email|phone, verificationCode} checks the latest one sent
 * to that identifier (204, or the same 400 errors); such codes belong to no interaction and are
 * used up by the right answer.
 *
 * Sending is throttled twice, and both answers are 429 guard.too_many_requests with Retry-After:
 * per identifier in PostgreSQL, so shared by every node (one code per
 * LATCH_XP_CODE_RESEND_SECONDS, at most LATCH_XP_CODE_PER_HOUR an hour, counted from the rows of
 * the last hour under a transaction advisory lock on the identifier), and, at the Experience API,
 * per tenant and client IP on each node (util/ratelimit, LATCH_LIMIT_IP_CODE_SENDS a minute, every
 * send counts). Neither depends on whether an account exists.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience_internal.h"
#include "messages/messages.h"
#include "mgmt/mgmt_internal.h"
#include "users/password.h"
#include "users/users.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ratelimit.h"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
const struct latch_stmt latch_xp_methods_stmt = {
    .name = "xp_methods",
    .sql = "SELECT coalesce(s.sign_in, '" LATCH_XP_DEFAULT_SIGN_IN "'::jsonb)::text,"
           " coalesce(s.sign_up, '" LATCH_XP_DEFAULT_SIGN_UP "'::jsonb)::text,"
           " coalesce(s.forgot_password_methods, '[]'::jsonb)::text,"
           " coalesce(s.verification_code_policy, '{}'::jsonb)::text"
           " FROM (SELECT 1) AS one"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = $1 AND s.id = 'default'",
    .nparams = 1,
};

/* Serializes the sends to one identifier (across nodes) for the rest of the transaction, so the
 * throttle below counts every concurrent send. $2 type, $3 value. */
static const struct latch_stmt code_lock = {
    .name = "xp_code_lock",
    .sql = "SELECT pg_advisory_xact_lock(hashtextextended('latch-code:' || $1 || ':' || $2"
           " || ':' || lower($3), 0))",
    .nparams = 3,
};

/*
 * A new code, unless the identifier is throttled: $2 id, $3 interaction hash (NULL: a
 * Management API code), $4 type, $5 value, $6 template, $7 code hash, $8 lifetime (s), $9 tries.
 * Deletes the identifier's rows older than an hour (they no longer count) and supersedes the
 * unverified code this interaction (or, without one, this identifier) had for the template.
 * Answers (seconds to wait or NULL, whether the code was stored). The interaction must still be
 * live for an interaction's code.
 */
#define SAME_IDENTIFIER                                                                            \
    "tenant_id = $1 AND identifier_type = $4 AND lower(identifier) = lower($5)"
static const struct latch_stmt code_insert = {
    .name = "xp_code_insert",
    .sql = "WITH recent AS (SELECT count(*) AS n, min(created_at) AS first,"
           " max(created_at) AS last FROM verification_codes WHERE " SAME_IDENTIFIER
           " AND created_at > now() - interval '1 hour'),"
           " wait AS (SELECT CASE"
           " WHEN r.last > now() - make_interval(secs => " LATCH_XP_STR(LATCH_XP_CODE_RESEND_SECONDS) ")"
           " THEN greatest(1, ceil(extract(epoch FROM r.last + make_interval(secs => "
           LATCH_XP_STR(LATCH_XP_CODE_RESEND_SECONDS) ") - now())))"
           " WHEN r.n >= " LATCH_XP_STR(LATCH_XP_CODE_PER_HOUR)
           " THEN greatest(1, ceil(extract(epoch FROM r.first + interval '1 hour' - now())))"
           " END::int AS s FROM recent r),"
           " ok AS (SELECT (SELECT s FROM wait) IS NULL AND ($3::bytea IS NULL OR EXISTS"
           " (SELECT 1 FROM interactions WHERE tenant_id = $1 AND id_hash = $3::bytea"
           " AND expires_at > now())) AS go),"
           " old AS (DELETE FROM verification_codes WHERE " SAME_IDENTIFIER
           " AND created_at <= now() - interval '1 hour' RETURNING 1),"
           " sup AS (UPDATE verification_codes SET consumed_at = now()"
           " WHERE tenant_id = $1 AND template_type = $6 AND verified_at IS NULL"
           " AND consumed_at IS NULL AND (SELECT go FROM ok)"
           " AND (interaction_hash = $3::bytea OR ($3::bytea IS NULL AND interaction_hash IS NULL"
           " AND identifier_type = $4 AND lower(identifier) = lower($5))) RETURNING 1),"
           " ins AS (INSERT INTO verification_codes (tenant_id, id, interaction_hash,"
           " identifier_type, identifier, template_type, code_hash, expires_at, max_tries)"
           " SELECT $1, $2, $3::bytea, $4, $5, $6, $7::bytea,"
           " now() + make_interval(secs => $8::int), $9::int WHERE (SELECT go FROM ok)"
           " RETURNING 1)"
           " SELECT (SELECT s FROM wait), EXISTS (SELECT 1 FROM ins),"
           " (SELECT count(*) FROM old), (SELECT count(*) FROM sup)",
    .nparams = 9,
};

/* A code that could not be sent is forgotten (it neither works nor counts for the throttle). */
static const struct latch_stmt code_delete = {
    .name = "xp_code_delete",
    .sql = "DELETE FROM verification_codes WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

/* The state of code $2 of interaction $3 (columns read by verify_loaded()). */
static const struct latch_stmt code_get = {
    .name = "xp_code_get",
    .sql = "SELECT identifier_type, identifier,"
           " verified_at IS NOT NULL OR consumed_at IS NOT NULL, expires_at <= now(),"
           " try_count, max_tries FROM verification_codes"
           " WHERE tenant_id = $1 AND id = $2 AND interaction_hash = $3::bytea",
    .nparams = 3,
};

/* Takes one attempt, if any is left; answers the stored hash (hex) when one was taken. $3 the
 * interaction hash, NULL for a Management API code. */
static const struct latch_stmt code_attempt = {
    .name = "xp_code_attempt",
    .sql = "UPDATE verification_codes SET try_count = try_count + 1"
           " WHERE tenant_id = $1 AND id = $2 AND interaction_hash IS NOT DISTINCT FROM $3::bytea"
           " AND verified_at IS NULL AND consumed_at IS NULL AND expires_at > now()"
           " AND try_count < max_tries RETURNING encode(code_hash, 'hex')",
    .nparams = 3,
};

/* The right code: verified once, and the interaction's current verification. */
static const struct latch_stmt code_verified = {
    .name = "xp_code_verified",
    .sql = "WITH v AS (UPDATE verification_codes SET verified_at = now()"
           " WHERE tenant_id = $1 AND id = $2 AND interaction_hash = $3::bytea"
           " AND verified_at IS NULL AND consumed_at IS NULL AND expires_at > now()"
           " RETURNING id)"
           " UPDATE interactions SET verification_id = (SELECT id FROM v),"
           " verified_user_id = NULL"
           " WHERE tenant_id = $1 AND id_hash = $3::bytea AND expires_at > now()"
           " AND EXISTS (SELECT 1 FROM v) RETURNING 1",
    .nparams = 3,
};
/* The Management API's latest live code for an identifier ($2 type, $3 value): id, then the
 * columns of code_get. */
static const struct latch_stmt code_get_generic = {
    .name = "xp_code_get_generic",
    .sql = "SELECT id, identifier_type, identifier,"
           " verified_at IS NOT NULL OR consumed_at IS NOT NULL, expires_at <= now(),"
           " try_count, max_tries FROM verification_codes"
           " WHERE tenant_id = $1 AND interaction_hash IS NULL AND template_type = 'Generic'"
           " AND identifier_type = $2 AND lower(identifier) = lower($3) AND consumed_at IS NULL"
           " ORDER BY created_at DESC LIMIT 1",
    .nparams = 3,
};

/* The Management API's right code: used up at once (it verifies nothing in Latch itself). */
static const struct latch_stmt code_consume = {
    .name = "xp_code_consume",
    .sql = "UPDATE verification_codes SET verified_at = now(), consumed_at = now()"
           " WHERE tenant_id = $1 AND id = $2 AND interaction_hash IS NULL"
           " AND verified_at IS NULL AND consumed_at IS NULL AND expires_at > now() RETURNING 1",
    .nparams = 2,
};
// clang-format on

void latch_xp_methods_read(const struct latch_store_result *res, struct latch_xp_methods *m)
{
    const char *text[4] = {NULL, NULL, NULL, NULL};
    if (res != NULL && latch_store_result_rows(res) > 0)
        for (int c = 0; c < 4; c++)
            if (!latch_store_result_isnull(res, 0, c))
                text[c] = latch_store_result_value(res, 0, c);
    yajl_val v = text[0] ? yajl_tree_parse(text[0], NULL, 0) : NULL;
    (void)latch_xp_sign_in_read(v, false, &m->sign_in, NULL, 0);
    yajl_tree_free(v);
    v = text[1] ? yajl_tree_parse(text[1], NULL, 0) : NULL;
    latch_xp_sign_up_read(v, &m->sign_up);
    yajl_tree_free(v);
    v = text[2] ? yajl_tree_parse(text[2], NULL, 0) : NULL;
    (void)latch_xp_forgot_methods_read(v, false, &m->forgot, NULL, 0);
    yajl_tree_free(v);
    v = text[3] ? yajl_tree_parse(text[3], NULL, 0) : NULL;
    (void)latch_xp_code_policy_read(v, false, &m->code_policy, NULL, 0);
    yajl_tree_free(v);
}

/* ---- shared ---- */

static void respond_verdict(struct latch_request *req, enum latch_xp_code_verdict v)
{
    const char *message;
    const char *code = latch_xp_code_error(v, &message);
    latch_http_respond_errorf(req, 400, code, "%s", message);
}

static void respond_throttled(struct latch_request *req, int seconds, const char *why)
{
    char ra[16];
    snprintf(ra, sizeof(ra), "%d", seconds < 1 ? 1 : seconds);
    latch_http_add_header(req, "Retry-After", ra);
    latch_http_respond_errorf(req, 429, "guard.too_many_requests",
                              "%s Please try again in %d second%s.", why, seconds < 1 ? 1 : seconds,
                              seconds == 1 ? "" : "s");
}

/* Reads {identifier: {type: email|phone, value}} of body (answers 400 when invalid). */
static bool read_code_identifier(struct latch_request *req, yajl_val body, const char **type,
                                 const char **value)
{
    yajl_val ident = NULL;
    for (size_t i = 0; i < body->u.object.len; i++)
        if (strcmp(body->u.object.keys[i], "identifier") == 0)
            ident = body->u.object.values[i];
    if (ident == NULL || !YAJL_IS_OBJECT(ident)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier: must be an object {type, value}");
        return false;
    }
    if (!latch_xp_get_str(req, ident, "type", "identifier.type", 16, true, type) ||
        !latch_xp_get_str(req, ident, "value", "identifier.value", LATCH_XP_IDENTIFIER_MAX, true,
                          value))
        return false;
    if (strcmp(*type, "email") != 0 && strcmp(*type, "phone") != 0) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier.type: must be email or phone");
        return false;
    }
    if (!latch_xp_code_identifier_ok(*type, *value)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s",
                                  strcmp(*type, "email") == 0
                                      ? "identifier.value: must be an email address"
                                      : "identifier.value: must be a phone number (digits only)");
        return false;
    }
    return true;
}

/* The code's keyed hash (code.h) under the node's derived key. */
static latch_rc hash_code(struct latch_request *req, const char *id, const char *type,
                          const char *value, const char *code, char out[LATCH_TOKEN_HASH_TEXT])
{
    uint8_t key[32];
    latch_rc rc = latch_jose_derive_key(latch_loop_config(req->loop)->secret_key,
                                        LATCH_XP_CODE_KEY_PURPOSE, key);
    if (rc == LATCH_OK)
        rc = latch_xp_code_hash(key, req->tenant->id, id, type, value, code, out);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/* ---- a new code, stored and sent (both APIs) ---- */

struct new_code {
    struct latch_request *req;
    const char *type, *value;     /* the identifier, as given */
    const char *interaction_hash; /* NULL: a Management API code */
    int template;                 /* LATCH_MESSAGES_TEMPLATE_* */
    const char *locale;
    void (*sent)(struct new_code *nc); /* answers once the message went out */
    char verification_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
    char code[LATCH_XP_CODE_DIGITS + 1];
    char hash[LATCH_TOKEN_HASH_TEXT];
    struct latch_messages_var vars[1];
    struct latch_messages_send msg;
    struct latch_error send_err; /* kept while the unsent code is deleted */
};

static void new_code_wipe(struct new_code *nc)
{
    OPENSSL_cleanse(nc->code, sizeof(nc->code));
    OPENSSL_cleanse(nc->hash, sizeof(nc->hash));
}

static void unsent_deleted(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct new_code *nc = arg;
    if (err != NULL)
        latch_http_log_error(nc->req, "deleting an unsent verification code", err);
    latch_http_respond_error(nc->req, &nc->send_err);
}

static void new_code_sent(struct latch_request *req, const struct latch_error *err, void *arg)
{
    struct new_code *nc = arg;
    new_code_wipe(nc);
    if (err == NULL) {
        latch_http_log(req, LATCH_LOG_INFO, "verification code %s sent (%s, %s)",
                       nc->verification_id, nc->type, latch_messages_template_name(nc->template));
        nc->sent(nc);
        return;
    }
    nc->send_err = *err;
    if (err->status >= 500)
        latch_http_log_error(req, "sending a verification code", err);
    struct latch_store_op op = {.stmt = &code_delete,
                                .params = {req->tenant->id, nc->verification_id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, unsent_deleted, nc);
}

static void new_code_stored(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct new_code *nc = arg;
    struct latch_request *req = nc->req;
    if (err != NULL) {
        new_code_wipe(nc);
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[1];
    if (!latch_store_result_isnull(res, 0, 0)) {
        new_code_wipe(nc);
        respond_throttled(req, atoi(latch_store_result_value(res, 0, 0)),
                          "A verification code was sent to this address recently.");
        return;
    }
    if (strcmp(latch_store_result_value(res, 0, 1), "t") != 0) {
        new_code_wipe(nc);
        latch_xp_not_found(req); /* the interaction expired meanwhile */
        return;
    }
    nc->vars[0] = (struct latch_messages_var){.name = "code", .value = nc->code};
    nc->msg = (struct latch_messages_send){
        .channel = strcmp(nc->type, "email") == 0 ? LATCH_MESSAGES_EMAIL : LATCH_MESSAGES_SMS,
        .type = nc->template,
        .to = nc->value,
        .locale = nc->locale,
        .vars = nc->vars,
        .nvars = 1,
    };
    latch_messages_send(req, &nc->msg, new_code_sent, nc);
}

/* Makes nc's code (a verification id, the digits, their keyed hash), stores it under the
 * identifier's throttle with policy's lifetime and tries, and sends it: nc->sent answers when
 * it went out; every other outcome is answered here. */
static void new_code_start(struct new_code *nc, const struct latch_xp_code_policy *policy)
{
    struct latch_request *req = nc->req;
    char ttl[16], tries[16];
    snprintf(ttl, sizeof(ttl), "%d", policy->ttl_seconds);
    snprintf(tries, sizeof(tries), "%d", policy->max_tries);
    if (latch_jose_random_id(nc->verification_id, LATCH_XP_VERIFICATION_ID_LEN) != LATCH_OK ||
        latch_xp_code_generate(nc->code) != LATCH_OK ||
        hash_code(req, nc->verification_id, nc->type, nc->value, nc->code, nc->hash) != LATCH_OK) {
        new_code_wipe(nc);
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    const char *tenant = req->tenant->id;
    struct latch_store_op ops[2] = {
        {.stmt = &code_lock, .params = {tenant, nc->type, nc->value}},
        {.stmt = &code_insert,
         .params = {tenant, nc->verification_id, nc->interaction_hash, nc->type, nc->value,
                    latch_messages_template_name(nc->template), nc->hash, ttl, tries}},
    };
    latch_store_exec(latch_loop_store(req->loop), tenant, ops, 2, new_code_stored, nc);
    /* The store copied the parameters. */
    OPENSSL_cleanse(nc->hash, sizeof(nc->hash));
}

/* ---- POST /api/experience/verification/verification-code ---- */

struct send_call {
    enum latch_xp_event event;
    struct new_code nc;
};

static void send_cleanup(struct latch_xp_call *call)
{
    struct send_call *sc = call->data;
    new_code_wipe(&sc->nc);
}

static void xp_sent(struct new_code *nc)
{
    latch_xp_respond_verification(nc->req, nc->verification_id);
}

/* Whether the tenant lets a code of this event go to this kind of identifier; answers if not. */
static bool event_allows(struct latch_request *req, const struct latch_xp_methods *m,
                         enum latch_xp_event event, unsigned bit)
{
    switch (event) {
    case LATCH_XP_EVENT_SIGN_IN:
        if (latch_xp_sign_in_by_code(&m->sign_in, bit))
            return true;
        latch_http_respond_errorf(req, 422, "user.sign_in_method_not_enabled",
                                  "This sign-in method is not enabled.");
        return false;
    case LATCH_XP_EVENT_REGISTER:
        if (m->sign_up.identifiers & bit)
            return true;
        latch_http_respond_errorf(req, 422, "user.sign_up_method_not_enabled",
                                  "This sign-up method is not enabled.");
        return false;
    case LATCH_XP_EVENT_FORGOT_PASSWORD:
        if (m->forgot & bit)
            return true;
        latch_http_respond_errorf(req, 422, "session.forgot_password_not_enabled",
                                  "Forgot password is not enabled.");
        return false;
    case LATCH_XP_EVENT_NONE:
        break;
    }
    return false;
}

static void send_loaded(struct latch_xp_call *call, struct latch_store_result *const *results,
                        int n)
{
    struct send_call *sc = call->data;
    struct latch_request *req = call->req;
    const struct latch_xp_interaction *ia = &call->ia;
    struct latch_xp_methods m;
    latch_xp_methods_read(results[0], &m);
    unsigned bit = latch_xp_identifier_bit(sc->nc.type);

    if (ia->result_user_id != NULL) {
        /* Someone is identified already: the code proves a new email or phone for their
         * account (Logto's BindNewIdentifier), which POST /api/experience/profile binds. It
         * signs nobody in: identification takes only a code of its event's template. */
        if (!(m.sign_up.identifiers & bit)) {
            latch_http_respond_errorf(req, 422, "user.sign_up_method_not_enabled",
                                      "This identifier is not collected by this tenant.");
            return;
        }
        sc->nc.template = LATCH_MESSAGES_TEMPLATE_BIND_NEW_IDENTIFIER;
    } else {
        if (!latch_xp_mode_allows(ia->sign_in_mode, sc->event)) {
            latch_http_respond_errorf(req, 403, "auth.forbidden", "%s",
                                      sc->event == LATCH_XP_EVENT_REGISTER
                                          ? "Registration is not enabled."
                                          : "Sign-in is not enabled; create an account instead.");
            return;
        }
        if (!event_allows(req, &m, sc->event, bit))
            return;
    }

    const struct latch_config *cfg = latch_loop_config(req->loop);
    char key[128];
    int retry = 0;
    snprintf(key, sizeof(key), "code:%s:ip:%s", req->tenant->id, req->client_ip);
    if (!latch_ratelimit_allow_per_minute(cfg->limit_ip_code_sends, key, &retry)) {
        respond_throttled(req, retry, "Too many verification codes requested from this address.");
        return;
    }
    /* Every send counts, so the bucket bounds messages sent, not failures. */
    latch_ratelimit_fail_per_minute(cfg->limit_ip_code_sends, key);

    struct latch_language_info li;
    yajl_val v = yajl_tree_parse(ia->language_info, NULL, 0);
    (void)latch_xp_language_info_read(v, false, &li, NULL, 0);
    yajl_tree_free(v);
    sc->nc.locale =
        latch_xp_locale(ia->ui_locales, latch_http_header_get(req, "accept-language"), &li);
    new_code_start(&sc->nc, &m.code_policy);
}

/* The audit-log key of a code step (Logto: Interaction.<event>.Verification.<type>.<action>). */
static const char *code_key(const char *type, const char *action)
{
    bool phone = strcmp(type, "phone") == 0;
    if (strcmp(action, "Create") == 0)
        return phone ? "Interaction.{event}.Verification.PhoneVerificationCode.Create"
                     : "Interaction.{event}.Verification.EmailVerificationCode.Create";
    return phone ? "Interaction.{event}.Verification.PhoneVerificationCode.Submit"
                 : "Interaction.{event}.Verification.EmailVerificationCode.Submit";
}

static void post_send(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct send_call), &call);
    if (body == NULL)
        return;
    struct send_call *sc = call->data;
    const char *type, *value, *event;
    bool ok = read_code_identifier(req, body, &type, &value) &&
              latch_xp_get_str(req, body, "interactionEvent", "interactionEvent", 32, true, &event);
    if (ok) {
        latch_audit_track(req, code_key(type, "Create"));
        sc->event = latch_xp_event_parse(event);
        if (sc->event != LATCH_XP_EVENT_NONE)
            latch_audit_note(req, LATCH_AUDIT_EVENT, event);
        sc->nc.template = sc->event == LATCH_XP_EVENT_SIGN_IN ? LATCH_MESSAGES_TEMPLATE_SIGN_IN
                          : sc->event == LATCH_XP_EVENT_REGISTER
                              ? LATCH_MESSAGES_TEMPLATE_REGISTER
                              : LATCH_MESSAGES_TEMPLATE_FORGOT_PASSWORD;
        if (sc->event == LATCH_XP_EVENT_NONE) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "interactionEvent: must be SignIn, Register or "
                                      "ForgotPassword");
            ok = false;
        }
    }
    if (ok) {
        sc->nc.req = req;
        sc->nc.interaction_hash = call->id_hash;
        sc->nc.sent = xp_sent;
        sc->nc.type = latch_arena_strdup(req->arena, type);
        sc->nc.value = latch_arena_strdup(req->arena, value);
        if (sc->nc.type == NULL || sc->nc.value == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->cleanup = send_cleanup;
    struct latch_store_op extra = {.stmt = &latch_xp_methods_stmt, .params = {req->tenant->id}};
    latch_xp_load(call, &extra, 1, send_loaded);
}

/* ---- POST /api/experience/verification/verification-code/verify ---- */

struct verify_call {
    const char *type, *value;
    const char *verification_id;
    char code[LATCH_XP_CODE_INPUT_MAX + 1];
};

static void verify_cleanup(struct latch_xp_call *call)
{
    struct verify_call *vc = call->data;
    OPENSSL_cleanse(vc->code, sizeof(vc->code));
}

static void verified_done(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct verify_call *vc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        /* A concurrent request with the same code won, or the code expired meanwhile. */
        respond_verdict(call->req, LATCH_XP_CODE_NOT_FOUND);
        return;
    }
    latch_xp_respond_verification(call->req, vc->verification_id);
}

/* ---- one attempt at a code (both APIs) ---- */

/* The outcome of an attempt: right, wrong (counted), or no attempt was left. */
enum attempt_result { ATTEMPT_RIGHT, ATTEMPT_WRONG, ATTEMPT_NONE_LEFT, ATTEMPT_FAILED };

struct attempt {
    struct latch_request *req;
    const char *id, *type, *value; /* the stored identifier, as the hash was made with it */
    const char *interaction_hash;  /* NULL: a Management API code */
    char code[LATCH_XP_CODE_INPUT_MAX + 1];
    void (*done)(struct attempt *a, enum attempt_result r, const struct latch_error *err);
    void *arg;
};

static void attempt_taken(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct attempt *a = arg;
    if (err != NULL) {
        OPENSSL_cleanse(a->code, sizeof(a->code));
        a->done(a, ATTEMPT_FAILED, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        /* Concurrent attempts spent the last tries (or it expired or was used just now). */
        OPENSSL_cleanse(a->code, sizeof(a->code));
        a->done(a, ATTEMPT_NONE_LEFT, NULL);
        return;
    }
    char given[LATCH_TOKEN_HASH_TEXT];
    bool right = hash_code(a->req, a->id, a->type, a->value, a->code, given) == LATCH_OK &&
                 latch_xp_code_hash_equal(given + 2, latch_store_result_value(results[0], 0, 0));
    OPENSSL_cleanse(given, sizeof(given));
    OPENSSL_cleanse(a->code, sizeof(a->code));
    a->done(a, right ? ATTEMPT_RIGHT : ATTEMPT_WRONG, NULL);
}

/* Takes an attempt at code a->id (counted before the comparison) and compares a->code with it
 * in constant time; a->done runs once. */
static void attempt_start(struct attempt *a)
{
    struct latch_store_op op = {.stmt = &code_attempt,
                                .params = {a->req->tenant->id, a->id, a->interaction_hash}};
    latch_store_exec(latch_loop_store(a->req->loop), a->req->tenant->id, &op, 1, attempt_taken, a);
}

/* Answers the outcomes other than a right code. */
static void attempt_respond(struct latch_request *req, enum attempt_result r,
                            const struct latch_error *err)
{
    if (r == ATTEMPT_FAILED)
        latch_xp_store_error(req, err);
    else
        respond_verdict(req, r == ATTEMPT_WRONG ? LATCH_XP_CODE_USABLE /* code_mismatch */
                                                : LATCH_XP_CODE_EXCEEDED);
}

/* Reads a latch_xp_code_row from columns first.. of row 0 (type, value, used, expired, tries,
 * max tries). */
static void read_code_row(const struct latch_store_result *res, int first,
                          struct latch_xp_code_row *row)
{
    memset(row, 0, sizeof(*row));
    row->found = latch_store_result_rows(res) > 0;
    if (!row->found)
        return;
    row->type = latch_store_result_value(res, 0, first);
    row->value = latch_store_result_value(res, 0, first + 1);
    row->used = strcmp(latch_store_result_value(res, 0, first + 2), "t") == 0;
    row->expired = strcmp(latch_store_result_value(res, 0, first + 3), "t") == 0;
    row->try_count = atoi(latch_store_result_value(res, 0, first + 4));
    row->max_tries = atoi(latch_store_result_value(res, 0, first + 5));
}

static void xp_attempt_done(struct attempt *a, enum attempt_result r, const struct latch_error *err)
{
    struct latch_xp_call *call = a->arg;
    struct verify_call *vc = call->data;
    struct latch_request *req = call->req;
    if (r != ATTEMPT_RIGHT) {
        attempt_respond(req, r, err);
        return;
    }
    struct latch_store_op op = {.stmt = &code_verified,
                                .params = {req->tenant->id, vc->verification_id, call->id_hash}};
    latch_xp_exec(call, &op, 1, verified_done);
}

static void verify_loaded(struct latch_xp_call *call, struct latch_store_result *const *results,
                          int n)
{
    struct verify_call *vc = call->data;
    struct latch_request *req = call->req;
    struct latch_xp_code_row row;
    read_code_row(results[0], 0, &row);
    enum latch_xp_code_verdict verdict = latch_xp_code_check(&row, vc->type, vc->value);
    struct attempt *a =
        verdict == LATCH_XP_CODE_USABLE ? latch_arena_calloc(req->arena, 1, sizeof(*a)) : NULL;
    /* The stored identifier, as the hash was made with it (an email differs only in case). */
    const char *value = a != NULL ? latch_arena_strdup(req->arena, row.value) : NULL;
    if (verdict != LATCH_XP_CODE_USABLE || value == NULL) {
        verify_cleanup(call);
        if (verdict != LATCH_XP_CODE_USABLE)
            respond_verdict(req, verdict);
        else
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    *a = (struct attempt){.req = req,
                          .id = vc->verification_id,
                          .type = vc->type,
                          .value = value,
                          .interaction_hash = call->id_hash,
                          .done = xp_attempt_done,
                          .arg = call};
    memcpy(a->code, vc->code, sizeof(a->code));
    verify_cleanup(call);
    attempt_start(a);
}

static void post_verify(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct verify_call), &call);
    if (body == NULL)
        return;
    struct verify_call *vc = call->data;
    const char *type, *value, *vid, *code;
    bool ok = read_code_identifier(req, body, &type, &value) &&
              latch_xp_get_str(req, body, "verificationId", "verificationId", 64, true, &vid) &&
              latch_xp_get_str(req, body, "code", "code", LATCH_XP_CODE_INPUT_MAX, true, &code);
    if (ok) {
        latch_audit_track(req, code_key(type, "Submit"));
        latch_audit_note(req, LATCH_AUDIT_VERIFICATION_ID, vid);
        vc->type = latch_arena_strdup(req->arena, type);
        vc->value = latch_arena_strdup(req->arena, value);
        vc->verification_id = latch_arena_strdup(req->arena, vid);
        snprintf(vc->code, sizeof(vc->code), "%s", code);
        if (vc->type == NULL || vc->value == NULL || vc->verification_id == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok) {
        OPENSSL_cleanse(vc->code, sizeof(vc->code));
        return;
    }
    call->cleanup = verify_cleanup;
    struct latch_store_op extra = {.stmt = &code_get,
                                   .params = {req->tenant->id, vc->verification_id, call->id_hash}};
    latch_xp_load(call, &extra, 1, verify_loaded);
}

/* ---- Management API: POST /api/verification-codes and /api/verification-codes/verify ---- */

struct mgmt_code {
    struct latch_request *req;
    const char *type, *value;
    struct new_code nc;
    struct attempt attempt;
};

/* Reads {email} or {phone} (exactly one) and, for verify, {verificationCode}; answers 400. */
static struct mgmt_code *mgmt_code_read(struct latch_request *req, bool verify)
{
    struct mgmt_code *mc = latch_arena_calloc(req->arena, 1, sizeof(*mc));
    yajl_val body = mc != NULL ? latch_mgmt_body(req) : NULL;
    if (mc == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return NULL;
    }
    if (body == NULL)
        return NULL;
    mc->req = req;
    struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
    const char *email = NULL, *phone = NULL, *code = NULL;
    bool ok = latch_mgmt_get_str(&o, "email", 1, LATCH_XP_IDENTIFIER_MAX, 0, &email, NULL) &&
              latch_mgmt_get_str(&o, "phone", 1, LATCH_XP_IDENTIFIER_MAX, 0, &phone, NULL) &&
              (!verify || latch_mgmt_get_str(&o, "verificationCode", 1, LATCH_XP_CODE_INPUT_MAX,
                                             LATCH_MGMT_REQUIRED, &code, NULL));
    if (ok && (email == NULL) == (phone == NULL)) {
        latch_mgmt_invalid(req, "email", "give either email or phone");
        ok = false;
    }
    if (ok) {
        mc->type = email != NULL ? "email" : "phone";
        mc->value = latch_arena_strdup(req->arena, email != NULL ? email : phone);
        if (mc->value == NULL || !latch_xp_code_identifier_ok(mc->type, mc->value)) {
            latch_mgmt_invalid(req, mc->type,
                               email != NULL ? "must be an email address"
                                             : "must be a phone number (digits only)");
            ok = false;
        }
    }
    if (ok && code != NULL)
        snprintf(mc->attempt.code, sizeof(mc->attempt.code), "%s", code);
    /* latch_mgmt_body() leaves the raw body: the code is in it. */
    if (req->body != NULL)
        explicit_bzero((char *)req->body, req->body_len);
    yajl_tree_free(body);
    return ok ? mc : NULL;
}

static void mgmt_cleanup(struct mgmt_code *mc)
{
    new_code_wipe(&mc->nc);
    OPENSSL_cleanse(mc->attempt.code, sizeof(mc->attempt.code));
}

static void mgmt_sent(struct new_code *nc)
{
    latch_http_respond(nc->req, 204, NULL, NULL, 0);
}

static void mgmt_policy_read(struct latch_store_result *const *results, int n,
                             const struct latch_error *err, void *arg)
{
    struct mgmt_code *mc = arg;
    if (err != NULL) {
        latch_mgmt_store_error(mc->req, err, NULL, NULL);
        return;
    }
    struct latch_xp_methods m;
    latch_xp_methods_read(results[0], &m);
    mc->nc = (struct new_code){.req = mc->req,
                               .type = mc->type,
                               .value = mc->value,
                               .template = LATCH_MESSAGES_TEMPLATE_GENERIC,
                               .locale = "en",
                               .sent = mgmt_sent};
    new_code_start(&mc->nc, &m.code_policy);
}

static void post_mgmt_send(struct latch_request *req, void *arg)
{
    struct mgmt_code *mc = mgmt_code_read(req, false);
    if (mc == NULL)
        return;
    struct latch_store_op op = {.stmt = &latch_xp_methods_stmt, .params = {req->tenant->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, mgmt_policy_read, mc);
}

static void mgmt_consumed(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct mgmt_code *mc = arg;
    if (err != NULL) {
        latch_mgmt_store_error(mc->req, err, NULL, NULL);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        respond_verdict(mc->req, LATCH_XP_CODE_NOT_FOUND); /* used concurrently */
        return;
    }
    latch_http_respond(mc->req, 204, NULL, NULL, 0);
}

static void mgmt_attempt_done(struct attempt *a, enum attempt_result r,
                              const struct latch_error *err)
{
    struct mgmt_code *mc = a->arg;
    struct latch_request *req = mc->req;
    if (r != ATTEMPT_RIGHT) {
        attempt_respond(req, r, err);
        return;
    }
    struct latch_store_op op = {.stmt = &code_consume, .params = {req->tenant->id, a->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, mgmt_consumed, mc);
}

static void mgmt_code_found(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct mgmt_code *mc = arg;
    struct latch_request *req = mc->req;
    if (err != NULL) {
        mgmt_cleanup(mc);
        latch_mgmt_store_error(req, err, NULL, NULL);
        return;
    }
    struct latch_xp_code_row row;
    read_code_row(results[0], 1, &row);
    enum latch_xp_code_verdict verdict = latch_xp_code_check(&row, mc->type, mc->value);
    const char *id =
        row.found ? latch_arena_strdup(req->arena, latch_store_result_value(results[0], 0, 0))
                  : NULL;
    const char *value = row.found ? latch_arena_strdup(req->arena, row.value) : NULL;
    if (verdict != LATCH_XP_CODE_USABLE || id == NULL || value == NULL) {
        mgmt_cleanup(mc);
        respond_verdict(req, verdict != LATCH_XP_CODE_USABLE ? verdict : LATCH_XP_CODE_NOT_FOUND);
        return;
    }
    struct attempt *a = &mc->attempt;
    a->req = req;
    a->id = id;
    a->type = mc->type;
    a->value = value;
    a->interaction_hash = NULL;
    a->done = mgmt_attempt_done;
    a->arg = mc;
    attempt_start(a);
}

static void post_mgmt_verify(struct latch_request *req, void *arg)
{
    struct mgmt_code *mc = mgmt_code_read(req, true);
    if (mc == NULL)
        return;
    struct latch_store_op op = {.stmt = &code_get_generic,
                                .params = {req->tenant->id, mc->type, mc->value}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, mgmt_code_found, mc);
}

/* ---- POST /api/experience/profile {type: email|phone, verificationId} ---- */

/* Binds the identifier a BindNewIdentifier code proved ($3 code id, $4 type) to the identified
 * user ($5), unless another user has it; the code is used up. Answers (code found, taken by
 * someone else, bound). */
// clang-format off
static const struct latch_stmt profile_bind = {
    .name = "xp_profile_bind",
    .sql = "WITH c AS (SELECT identifier_type, identifier FROM verification_codes"
           " WHERE tenant_id = $1 AND id = $3 AND interaction_hash = $2::bytea"
           " AND template_type = 'BindNewIdentifier' AND identifier_type = $4"
           " AND verified_at IS NOT NULL AND consumed_at IS NULL FOR UPDATE),"
           " taken AS (SELECT 1 FROM users u, c WHERE u.tenant_id = $1 AND u.id <> $5"
           " AND CASE WHEN c.identifier_type = 'email'"
           " THEN lower(u.primary_email) = lower(c.identifier)"
           " ELSE u.primary_phone = c.identifier END),"
           " upd AS (UPDATE users u SET primary_email = CASE WHEN c.identifier_type = 'email'"
           " THEN c.identifier ELSE u.primary_email END,"
           " primary_phone = CASE WHEN c.identifier_type = 'phone'"
           " THEN c.identifier ELSE u.primary_phone END, updated_at = now()"
           " FROM c WHERE u.tenant_id = $1 AND u.id = $5 AND NOT EXISTS (SELECT 1 FROM taken)"
           " RETURNING u.id),"
           " used AS (UPDATE verification_codes SET consumed_at = now()"
           " WHERE tenant_id = $1 AND id = $3 AND EXISTS (SELECT 1 FROM upd) RETURNING 1)"
           " SELECT EXISTS (SELECT 1 FROM c), EXISTS (SELECT 1 FROM taken),"
           " EXISTS (SELECT 1 FROM upd), (SELECT count(*) FROM used)",
    .nparams = 5,
};
// clang-format on

struct profile_call {
    const char *type;
    const char *verification_id; /* email, phone */
    const char *username;        /* username */
};

static void profile_bound(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct profile_call *pc = call->data;
    struct latch_request *req = call->req;
    if (err != NULL) {
        if (strcmp(err->code, "23505") == 0) /* someone took it meanwhile */
            latch_xp_identifier_in_use(req, strcmp(pc->type, "email") == 0);
        else
            latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (strcmp(latch_store_result_value(res, 0, 0), "t") != 0) {
        latch_xp_verification_not_found(req);
    } else if (strcmp(latch_store_result_value(res, 0, 1), "t") == 0) {
        latch_xp_identifier_in_use(req, strcmp(pc->type, "email") == 0);
    } else if (strcmp(latch_store_result_value(res, 0, 2), "t") != 0) {
        latch_xp_identifier_not_found(req); /* the user is gone */
    } else {
        latch_http_log(req, LATCH_LOG_INFO, "user %s: verified %s bound", call->ia.result_user_id,
                       pc->type);
        latch_http_respond(req, 204, NULL, NULL, 0);
    }
}

/* {type: "username", value}: the identified user, who has none, takes the name ($3 user, $4 name);
 * a name someone else has fails with 23505. Answers (user found, name set). */
static const struct latch_stmt profile_username = {
    .name = "xp_profile_username",
    .sql = "WITH u AS (SELECT u.id, u.username FROM interactions i JOIN users u"
           " ON u.tenant_id = i.tenant_id AND u.id = i.result_user_id"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()"
           " AND u.id = $3 FOR UPDATE OF u),"
           " upd AS (UPDATE users SET username = $4, updated_at = now()"
           " WHERE tenant_id = $1 AND id = (SELECT id FROM u WHERE username IS NULL)"
           " RETURNING 1)"
           " SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM upd)",
    .nparams = 4,
};

static void username_set(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        if (strcmp(err->code, "23505") == 0)
            latch_http_respond_errorf(req, 422, "user.username_already_in_use",
                                      "This username is already in use.");
        else
            latch_xp_store_error(req, err);
    } else if (strcmp(latch_store_result_value(results[0], 0, 0), "t") != 0) {
        latch_xp_identifier_not_found(req);
    } else if (strcmp(latch_store_result_value(results[0], 0, 1), "t") != 0) {
        latch_http_respond_errorf(req, 422, "user.username_exists_in_profile",
                                  "This account already has a username.");
    } else {
        latch_http_log(req, LATCH_LOG_INFO, "user %s: username set at sign-in",
                       call->ia.result_user_id);
        latch_http_respond(req, 204, NULL, NULL, 0);
    }
}

/* Once the interaction is loaded: binds the proved email or phone, or sets the username. */
static void profile_loaded(struct latch_xp_call *call, struct latch_store_result *const *results,
                           int n)
{
    struct profile_call *pc = call->data;
    struct latch_request *req = call->req;
    if (call->ia.result_user_id == NULL) {
        latch_xp_identifier_not_found(req);
        return;
    }
    /* A sign-in's change of the user goes to webhooks in the same transaction. */
    struct latch_store_op ops[2];
    if (!latch_xp_user_updated_hook_op(call, &ops[1]))
        return;
    if (pc->username != NULL) {
        ops[0] = (struct latch_store_op){
            .stmt = &profile_username,
            .params = {req->tenant->id, call->id_hash, call->ia.result_user_id, pc->username},
        };
        latch_xp_exec(call, ops, 2, username_set);
        return;
    }
    ops[0] = (struct latch_store_op){
        .stmt = &profile_bind,
        .params = {req->tenant->id, call->id_hash, pc->verification_id, pc->type,
                   call->ia.result_user_id},
    };
    latch_xp_exec(call, ops, 2, profile_bound);
}

/* Logto's profile types: email and phone with the verificationId of a BindNewIdentifier code,
 * username and password with a value (what user.missing_profile asked for). Social identities
 * are bound by their own verification. */
static void post_profile(struct latch_request *req, void *arg)
{
    (void)arg;
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct profile_call), &call);
    if (body == NULL)
        return;
    struct profile_call *pc = call->data;
    const char *type, *vid = NULL, *value = NULL;
    bool ok = latch_xp_get_str(req, body, "type", "type", 16, true, &type);
    bool contact = ok && (strcmp(type, "email") == 0 || strcmp(type, "phone") == 0);
    if (ok && !contact && strcmp(type, "username") != 0 && strcmp(type, "password") != 0) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "type: must be email, phone, username or password");
        ok = false;
    }
    if (ok && contact)
        ok = latch_xp_get_str(req, body, "verificationId", "verificationId", 64, true, &vid);
    else if (ok)
        ok = latch_xp_get_str(req, body, "value", "value",
                              strcmp(type, "password") == 0 ? LATCH_PASSWORD_MAX
                                                            : LATCH_USERS_IDENTIFIER_MAX,
                              true, &value);
    if (ok && strcmp(type, "username") == 0 && !latch_users_username_ok(value)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "value: a username starts with a letter or an underscore and "
                                  "has only letters, digits and underscores (at most 128)");
        ok = false;
    }
    if (ok && strcmp(type, "password") == 0) {
        latch_xp_profile_password(call, value); /* copies it */
        latch_xp_body_free(req, body);
        return;
    }
    if (ok && !contact) {
        pc->username = latch_arena_strdup(req->arena, value);
        latch_xp_body_free(req, body);
        if (pc->username == NULL)
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        else
            latch_xp_load(call, NULL, 0, profile_loaded);
        return;
    }
    if (ok) {
        pc->type = latch_arena_strdup(req->arena, type);
        pc->verification_id = latch_arena_strdup(req->arena, vid);
        if (pc->type == NULL || pc->verification_id == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    latch_xp_load(call, NULL, 0, profile_loaded);
}

latch_rc latch_xp_code_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_POST,
                                      "/api/experience/verification/verification-code", post_send,
                                      NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST,
                                      "/api/experience/verification/verification-code/verify",
                                      post_verify, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/api/experience/profile", post_profile,
                                      NULL) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_POST, "/api/verification-codes", post_mgmt_send) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_POST, "/api/verification-codes/verify",
                         post_mgmt_verify) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
