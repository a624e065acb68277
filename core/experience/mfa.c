/*
 * The Experience API's MFA step (Logto's verification-routes/totp-verification.ts,
 * backup-code-verification.ts and profile-routes' mfa binding), for the person the interaction
 * identified (interactions.result_user_id; 400 session.identifier_not_found before that):
 *
 *   POST …/verification/totp/secret       → {verificationId, secret, secretQrCode, keyUri}: a new
 *        secret, sealed (users/mfa.h) in interactions.mfa_pending until it is bound; secretQrCode
 *        is the otpauth:// URI the page draws as a QR code (Logto sends a PNG data URL there)
 *   POST …/verification/totp/verify       {code, verificationId?} → {verificationId}: with the id
 *        of a pending secret, proves the new secret; without, verifies the person's TOTP factor
 *        (RFC 6238, ±1 step): a step is accepted only when later than the last one accepted
 *        (mfa_factors.totp_last_step, updated in the statement that accepts it), so a code works
 *        once even when two nodes race with it
 *   POST …/verification/backup-code/generate → {verificationId, codes}: ten codes, their keyed
 *        hashes pending in the interaction
 *   POST …/verification/backup-code/verify {code} → {verificationId, remainCodes}: marks one
 *        unused code used (remainCodes, Latch's: how many are left)
 *   POST /api/experience/profile/mfa      {type: Totp|BackupCode, verificationId} → 204: binds a
 *        verified pending factor (Logto binds at submit; Latch at once, in one transaction); a
 *        person who has a factor must have verified one in this interaction first (403
 *        session.mfa.require_mfa_verification), or the password alone could replace it
 *   POST /api/experience/profile/mfa/mfa-skipped → 204 where the policy lets the person skip
 *
 * A verification adds its factor type to interactions.mfa_verified and its RFC 8176 method to
 * interactions.amr (otp), which latch_mfa_check (schema/0012) reads when the interaction is
 * submitted or resumed. Wrong codes count in the interaction (mfa_pending.failures): after
 * LATCH_XP_MFA_MAX_FAILURES the interaction takes no more, so guessing needs a new password proof
 * each time. Secrets and codes are wiped after use and never logged.
 *
 * Each route is recorded in the audit log under Logto's key (mfa_routes below): the entry has the
 * verification id, never the secret or a code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience_internal.h"
#include "tenants/cache.h"
#include "users/mfa.h"
#include "util/json.h"
#include "util/log.h"
#include "util/wipe.h"

#define CODE_MAX 32

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define AMR_ADD(v)          LATCH_XP_AMR_ADD(v)
#define VERIFIED_ADD(v)     LATCH_XP_MFA_VERIFIED_ADD(v)
#define THIS_INTERACTION    LATCH_XP_THIS_INTERACTION
#define ENABLED_FACTORS     LATCH_XP_MFA_ENABLED_FACTORS
#define UNVERIFIED          LATCH_XP_MFA_UNVERIFIED

/* What a verification needs of the interaction (columns read by state_read()). */
static const struct latch_stmt state_stmt = {
    .name = "xp_mfa_state",
    .sql = "SELECT mfa_pending->'totp'->>'id', mfa_pending->'totp'->>'sealed',"
           " coalesce((mfa_pending->'totp'->>'verified')::boolean, false),"
           " mfa_pending->'backupCode'->>'id',"
           " " LATCH_XP_MFA_FAILURES ","
           " (SELECT coalesce(u.username, u.primary_email, u.primary_phone, u.name, u.id)"
           " FROM users u WHERE u.tenant_id = $1 AND u.id = i.result_user_id),"
           " (SELECT encode(f.totp_secret_sealed, 'hex') FROM mfa_factors f"
           " WHERE f.tenant_id = $1 AND f.user_id = i.result_user_id AND f.type = 'Totp')"
           " FROM interactions i WHERE " THIS_INTERACTION,
    .nparams = 2,
};

/* What waits in the interaction to be bound: mfa_pending.$3 = {id: $4, $5: $6 (JSON)} for the
 * identified person $7 ($3 totp with the sealed secret, or backupCode with the code hashes). */
static const struct latch_stmt pending_stmt = {
    .name = "xp_mfa_pending",
    .sql = "UPDATE interactions SET mfa_pending = mfa_pending || jsonb_build_object($3::text,"
           " jsonb_build_object('id', $4::text, $5::text, $6::jsonb))"
           " WHERE " THIS_INTERACTION " AND result_user_id = $7 RETURNING 1",
    .nparams = 7,
};

/* $3 the pending verification id, $4 the time step its code proved (the factor starts from it,
 * so the enrolment code is not good for a sign-in as well). */
static const struct latch_stmt totp_pending_verified_stmt = {
    .name = "xp_mfa_totp_pending_ok",
    .sql = "UPDATE interactions SET mfa_pending = jsonb_set(jsonb_set(mfa_pending,"
           " '{totp,verified}', 'true'), '{totp,step}', to_jsonb($4::bigint))"
           " WHERE " THIS_INTERACTION " AND mfa_pending->'totp'->>'id' = $3 RETURNING 1",
    .nparams = 4,
};

/* The person's TOTP factor accepts step $3 (later than the last one) and the interaction
 * records the verification. Answers the number of rows changed (0: replayed or raced). */
static const struct latch_stmt totp_accept_stmt = {
    .name = "xp_mfa_totp_accept",
    .sql = "WITH i AS (SELECT result_user_id AS u FROM interactions WHERE " THIS_INTERACTION
           " AND result_user_id IS NOT NULL FOR UPDATE),"
           " f AS (UPDATE mfa_factors f SET totp_last_step = $3::bigint, last_used_at = now()"
           " FROM i WHERE f.tenant_id = $1 AND f.user_id = i.u AND f.type = 'Totp'"
           " AND (f.totp_last_step IS NULL OR f.totp_last_step < $3::bigint) RETURNING 1),"
           " upd AS (UPDATE interactions SET " VERIFIED_ADD("Totp") ", " AMR_ADD("otp")
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM f) RETURNING 1)"
           " SELECT count(*) FROM upd",
    .nparams = 3,
};

/* Uses the person's unused backup code with hash $3. Answers the rows changed (0: wrong or
 * used code). */
static const struct latch_stmt backup_use_stmt = {
    .name = "xp_mfa_backup_use",
    .sql = "WITH i AS (SELECT result_user_id AS u FROM interactions WHERE " THIS_INTERACTION
           " AND result_user_id IS NOT NULL FOR UPDATE),"
           " c AS (UPDATE mfa_backup_codes c SET used_at = now() FROM mfa_factors f, i"
           " WHERE c.tenant_id = $1 AND f.tenant_id = $1 AND f.id = c.factor_id"
           " AND f.user_id = i.u AND f.type = 'BackupCode' AND c.code_hash = $3::bytea"
           " AND c.used_at IS NULL RETURNING f.id),"
           " lu AS (UPDATE mfa_factors SET last_used_at = now()"
           " WHERE tenant_id = $1 AND id IN (SELECT id FROM c) RETURNING 1),"
           " upd AS (UPDATE interactions SET " VERIFIED_ADD("BackupCode") ", " AMR_ADD("otp")
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM c) RETURNING 1)"
           " SELECT (SELECT count(*) FROM upd) + 0 * (SELECT count(*) FROM lu),"
           /* what is left once this one is used (the snapshot still sees it unused) */
           " (SELECT count(*) - 1 FROM mfa_backup_codes b WHERE b.tenant_id = $1"
           " AND b.factor_id = (SELECT id FROM c) AND b.used_at IS NULL)",
    .nparams = 3,
};

/* Binds the verified pending TOTP secret $3 as factor $4. Answers (problem, rows). */
static const struct latch_stmt bind_totp_stmt = {
    .name = "xp_mfa_bind_totp",
    .sql = "WITH i AS (SELECT result_user_id AS u, mfa_pending AS p, mfa_verified AS v"
           " FROM interactions"
           " WHERE " THIS_INTERACTION " AND result_user_id IS NOT NULL FOR UPDATE),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM i)"
           " OR (SELECT p->'totp'->>'id' FROM i) IS DISTINCT FROM $3"
           " THEN 'not_found'"
           " WHEN NOT coalesce((SELECT (p->'totp'->>'verified')::boolean FROM i), false)"
           " THEN 'not_verified'"
           " WHEN NOT " ENABLED_FACTORS " ? 'Totp' THEN 'not_enabled'"
           UNVERIFIED
           " WHEN EXISTS (SELECT 1 FROM mfa_factors f, i WHERE f.tenant_id = $1"
           " AND f.user_id = i.u AND f.type = 'Totp') THEN 'in_use' END AS problem),"
           " ins AS (INSERT INTO mfa_factors (tenant_id, id, user_id, type, totp_secret_sealed,"
           " totp_last_step)"
           " SELECT $1, $4, i.u, 'Totp', decode(i.p->'totp'->>'sealed', 'hex'),"
           " (i.p->'totp'->>'step')::bigint FROM i"
           " WHERE (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " upd AS (UPDATE interactions SET mfa_pending = mfa_pending - 'totp',"
           " " VERIFIED_ADD("Totp") ", " AMR_ADD("otp")
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM ins) RETURNING 1)"
           " SELECT (SELECT problem FROM chk), (SELECT count(*) FROM upd)",
    .nparams = 4,
};

/* Replaces the person's backup codes with the pending ones of verification $3 (factor id $4).
 * Answers (problem, rows). */
static const struct latch_stmt bind_backup_stmt = {
    .name = "xp_mfa_bind_backup",
    .sql = "WITH i AS (SELECT result_user_id AS u, mfa_pending AS p, mfa_verified AS v"
           " FROM interactions"
           " WHERE " THIS_INTERACTION " AND result_user_id IS NOT NULL FOR UPDATE),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM i)"
           " OR (SELECT p->'backupCode'->>'id' FROM i) IS DISTINCT FROM $3"
           " THEN 'not_found'"
           " WHEN NOT " ENABLED_FACTORS " ? 'BackupCode' THEN 'not_enabled'"
           UNVERIFIED
           " WHEN NOT EXISTS (SELECT 1 FROM mfa_factors f, i WHERE f.tenant_id = $1"
           " AND f.user_id = i.u AND f.type <> 'BackupCode') THEN 'alone' END AS problem),"
           /* The factor row stays (one statement cannot delete it and insert its successor
            * under the one-per-person unique index); its codes are replaced. */
           " ins AS (INSERT INTO mfa_factors (tenant_id, id, user_id, type)"
           " SELECT $1, $4, i.u, 'BackupCode' FROM i WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT (tenant_id, user_id) WHERE type = 'BackupCode'"
           " DO UPDATE SET created_at = now(), last_used_at = NULL RETURNING id),"
           " del AS (DELETE FROM mfa_backup_codes c USING ins WHERE c.tenant_id = $1"
           " AND c.factor_id = ins.id RETURNING 1),"
           " codes AS (INSERT INTO mfa_backup_codes (tenant_id, factor_id, code_hash)"
           " SELECT $1, ins.id, decode(substr(h, 3), 'hex') FROM ins, i,"
           " jsonb_array_elements_text(i.p->'backupCode'->'hashes') h RETURNING 1),"
           " upd AS (UPDATE interactions SET mfa_pending = mfa_pending - 'backupCode'"
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM ins) RETURNING 1)"
           " SELECT (SELECT problem FROM chk),"
           " (SELECT count(*) FROM upd) + (SELECT count(*) FROM codes) + (SELECT count(*) FROM del)",
    .nparams = 4,
};

/* POST …/mfa-skipped: allowed unless the policy is Mandatory or an organization of the person
 * requires MFA (organizationRequiredMfaPolicy Mandatory). Answers (allowed, rows). */
static const struct latch_stmt skip_stmt = {
    .name = "xp_mfa_skip",
    .sql = "WITH s AS (SELECT coalesce((SELECT mfa FROM sign_in_experiences"
           " WHERE tenant_id = $1 AND id = 'default'), '{}'::jsonb) AS m),"
           " i AS (SELECT result_user_id AS u FROM interactions WHERE " THIS_INTERACTION
           " AND result_user_id IS NOT NULL),"
           " ok AS (SELECT coalesce((SELECT m->>'policy' FROM s), '') <> 'Mandatory'"
           " AND NOT (coalesce((SELECT m->>'organizationRequiredMfaPolicy' FROM s), '')"
           " = 'Mandatory' AND EXISTS (SELECT 1 FROM organization_user_relations r"
           " JOIN organizations o ON o.tenant_id = r.tenant_id AND o.id = r.organization_id"
           " WHERE r.tenant_id = $1 AND r.user_id = (SELECT u FROM i) AND o.is_mfa_required))"
           " AS v),"
           " u1 AS (UPDATE interactions SET mfa_skipped = true WHERE " THIS_INTERACTION
           " AND (SELECT v FROM ok) RETURNING 1),"
           " u2 AS (UPDATE users SET mfa_skipped = true WHERE tenant_id = $1"
           " AND id = (SELECT u FROM i) AND (SELECT v FROM ok) RETURNING 1)"
           " SELECT (SELECT v FROM ok), (SELECT count(*) FROM u1) + (SELECT count(*) FROM u2)",
    .nparams = 2,
};
// clang-format on

/* ---- common ---- */

struct mfa_state {
    const char *totp_id;       /* the pending secret's verification id */
    const char *totp_sealed;   /* hex */
    bool totp_verified;        /* the pending secret was proved */
    const char *backup_id;     /* pending backup codes' verification id */
    int failures;              /* wrong codes in this interaction */
    const char *account;       /* the person, as an authenticator app labels the secret */
    const char *factor_sealed; /* the person's TOTP factor (hex), NULL without one */
};

static const char *cell(struct latch_request *req, const struct latch_store_result *r, int c)
{
    if (latch_store_result_rows(r) < 1 || latch_store_result_isnull(r, 0, c))
        return NULL;
    return latch_arena_strdup(req->arena, latch_store_result_value(r, 0, c));
}

static void state_read(struct latch_request *req, const struct latch_store_result *r,
                       struct mfa_state *st)
{
    memset(st, 0, sizeof(*st));
    st->totp_id = cell(req, r, 0);
    st->totp_sealed = cell(req, r, 1);
    const char *v = cell(req, r, 2);
    st->totp_verified = v != NULL && strcmp(v, "t") == 0;
    st->backup_id = cell(req, r, 3);
    v = cell(req, r, 4);
    st->failures = v ? atoi(v) : 0;
    st->account = cell(req, r, 5);
    st->factor_sealed = cell(req, r, 6);
}

/* Loads the interaction with state_stmt; loaded runs only for an identified person. */
struct mfa_call {
    struct mfa_state st;
    char *code; /* the code in the body (a copy, wiped in cleanup) */
    const char *verification_id;
    const char *type;
    char new_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
    int64_t step;
    void (*next)(struct latch_xp_call *call);
};

static void call_cleanup(struct latch_xp_call *call)
{
    struct mfa_call *mc = call->data;
    if (mc->code != NULL)
        explicit_bzero(mc->code, strlen(mc->code));
}

static void state_loaded(struct latch_xp_call *call, struct latch_store_result *const *res, int n)
{
    struct mfa_call *mc = call->data;
    if (call->ia.result_user_id == NULL) {
        call_cleanup(call);
        latch_xp_identifier_not_found(call->req);
        return;
    }
    state_read(call->req, n > 0 ? res[0] : NULL, &mc->st);
    mc->next(call);
}

static void mfa_load(struct latch_xp_call *call, void (*next)(struct latch_xp_call *))
{
    struct mfa_call *mc = call->data;
    mc->next = next;
    call->cleanup = call_cleanup;
    struct latch_store_op op = {.stmt = &state_stmt,
                                .params = {call->req->tenant->id, call->id_hash}};
    latch_xp_load(call, &op, 1, state_loaded);
}

/* A call without a body (…/secret, …/generate, …/mfa-skipped). */
static struct latch_xp_call *begin_empty(struct latch_request *req)
{
    struct latch_xp_call *call = latch_xp_begin(req, true);
    if (call == NULL)
        return NULL;
    call->data = latch_arena_calloc(req->arena, 1, sizeof(struct mfa_call));
    if (call->data == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return NULL;
    }
    return call;
}

/* A call with a JSON body {code?, verificationId?, type?}; NULL after answering. */
static struct latch_xp_call *begin_body(struct latch_request *req, bool want_code, bool want_type)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct mfa_call), &call);
    if (body == NULL)
        return NULL;
    struct mfa_call *mc = call->data;
    const char *code = NULL, *vid = NULL, *type = NULL;
    bool ok =
        (!want_code || latch_xp_get_str(req, body, "code", "code", CODE_MAX, true, &code)) &&
        latch_xp_get_str(req, body, "verificationId", "verificationId", 64, want_type, &vid) &&
        (!want_type || latch_xp_get_str(req, body, "type", "type", 32, true, &type));
    if (ok) {
        mc->code = code ? latch_arena_strdup(req->arena, code) : NULL;
        mc->verification_id = vid ? latch_arena_strdup(req->arena, vid) : NULL;
        mc->type = type ? latch_arena_strdup(req->arena, type) : NULL;
        if ((code && mc->code == NULL) || (vid && mc->verification_id == NULL) ||
            (type && mc->type == NULL)) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok) {
        if (mc->code != NULL)
            explicit_bzero(mc->code, strlen(mc->code));
        return NULL;
    }
    return call;
}

/* An answer written before its statement runs (it holds a secret or codes): sent once the
 * statement stored what it answers for, and wiped either way. */
struct prepared {
    struct latch_request *req;
    char *body;
    size_t len;
};

static void prepared_stored(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct prepared *a = arg;
    if (err != NULL)
        latch_xp_store_error(a->req, err);
    else if (latch_store_result_rows(results[0]) < 1)
        latch_xp_not_found(a->req); /* the interaction expired meanwhile */
    else
        latch_http_respond_json(a->req, 200, a->body, a->len);
    latch_wipe_free(a->body, a->len);
}

/* Runs op, then answers 200 with j's text (taken here). */
static void store_then_answer(struct latch_xp_call *call, const struct latch_store_op *op,
                              struct latch_json *j)
{
    struct latch_request *req = call->req;
    struct prepared *a = latch_arena_calloc(req->arena, 1, sizeof(*a));
    size_t len = 0;
    char *body = latch_json_take(j, &len);
    if (a == NULL || body == NULL) {
        if (body != NULL)
            latch_wipe_free(body, len);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    a->req = req;
    a->body = body;
    a->len = len;
    latch_audit_note(req, LATCH_AUDIT_VERIFICATION_ID, ((struct mfa_call *)call->data)->new_id);
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, op, 1, prepared_stored, a);
}

/* A failed MFA verification (mfa.c's codes, webauthn.c's ceremonies): counted, then answered. */
static const struct latch_stmt failure_stmt = {
    .name = "xp_mfa_failure",
    .sql = "UPDATE interactions SET mfa_pending = jsonb_set(mfa_pending, '{failures}',"
           " to_jsonb(" LATCH_XP_MFA_FAILURES " + 1)) WHERE " THIS_INTERACTION,
    .nparams = 2,
};

struct failure {
    struct latch_request *req;
    const char *code;
    char message[256];
};

static void failure_counted(struct latch_store_result *const *results, int n,
                            const struct latch_error *err, void *arg)
{
    struct failure *f = arg;
    if (err != NULL) {
        latch_xp_store_error(f->req, err);
        return;
    }
    latch_http_respond_errorf(f->req, 400, f->code, "%s", f->message);
}

void latch_xp_mfa_refuse(struct latch_xp_call *call, const char *code, const char *message)
{
    struct latch_request *req = call->req;
    struct failure *f = latch_arena_calloc(req->arena, 1, sizeof(*f));
    if (f == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    f->req = req;
    f->code = code;
    snprintf(f->message, sizeof(f->message), "%s", message);
    struct latch_store_op op = {.stmt = &failure_stmt, .params = {req->tenant->id, call->id_hash}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, failure_counted, f);
}

static void wrong_code(struct latch_xp_call *call, bool totp)
{
    if (totp)
        latch_xp_mfa_refuse(call, "session.mfa.invalid_totp_code", "Invalid TOTP code.");
    else
        latch_xp_mfa_refuse(call, "session.mfa.invalid_backup_code", "Invalid backup code.");
}

bool latch_xp_mfa_tries_left(struct latch_request *req, int failures)
{
    if (failures < LATCH_XP_MFA_MAX_FAILURES)
        return true;
    latch_http_respond_errorf(req, 429, "guard.too_many_requests",
                              "Too many failed verifications. Go back and sign in again.");
    return false;
}

static bool tries_left(struct latch_xp_call *call)
{
    struct mfa_call *mc = call->data;
    return latch_xp_mfa_tries_left(call->req, mc->st.failures);
}

bool latch_xp_new_verification_id(struct latch_request *req, char *out)
{
    if (latch_jose_random_id(out, LATCH_XP_VERIFICATION_ID_LEN) == LATCH_OK)
        return true;
    latch_http_respond_errorf(req, 503, "service_unavailable", "No randomness available.");
    return false;
}

static bool new_id(struct latch_xp_call *call)
{
    struct mfa_call *mc = call->data;
    return latch_xp_new_verification_id(call->req, mc->new_id);
}

static void respond_new_id(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct mfa_call *mc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1 ||
        strcmp(latch_store_result_value(results[0], 0, 0), "0") == 0) {
        latch_xp_not_found(call->req); /* the interaction expired meanwhile */
        return;
    }
    latch_xp_respond_verification(call->req, mc->new_id);
}

/* ---- POST /api/experience/verification/totp/secret ---- */

/* The issuer an authenticator app shows: the host of the tenant endpoint. */
static const char *issuer_label(struct latch_request *req)
{
    char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
    if (endpoint == NULL)
        return NULL;
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    size_t len = strcspn(host, "/:");
    char *out = latch_arena_strndup(req->arena, host, len);
    free(endpoint);
    return out;
}

static void totp_secret_next(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    char b32[LATCH_TOTP_SECRET_B32 + 1], sealed[LATCH_MFA_SEALED_HEX_MAX];
    const char *issuer = issuer_label(req);
    if (issuer == NULL || mc->st.account == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    if (!new_id(call))
        return;
    if (latch_users_mfa_totp_new(latch_loop_config(req->loop)->secret_key, req->tenant->id,
                                 call->ia.result_user_id, b32, sealed) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    char *uri = latch_users_mfa_otpauth_uri(issuer, mc->st.account, b32);
    struct latch_json j;
    latch_json_init_secret(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "verificationId");
    latch_json_string(&j, mc->new_id);
    latch_json_key(&j, "secret");
    latch_json_string(&j, b32);
    latch_json_key(&j, "secretQrCode");
    latch_json_string(&j, uri ? uri : "");
    latch_json_key(&j, "keyUri");
    latch_json_string(&j, uri ? uri : "");
    latch_json_end_object(&j);
    explicit_bzero(b32, sizeof(b32));
    const char *sealed_json = latch_arena_printf(req->arena, "\"%s\"", sealed); /* hex */
    if (uri == NULL || sealed_json == NULL) {
        latch_wipe_free_str(uri);
        latch_json_clear(&j);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    latch_wipe_free_str(uri);
    struct latch_store_op op = {.stmt = &pending_stmt,
                                .params = {req->tenant->id, call->id_hash, "totp", mc->new_id,
                                           "sealed", sealed_json, call->ia.result_user_id}};
    store_then_answer(call, &op, &j);
}

/* ---- POST /api/experience/verification/totp/verify ---- */

/* Whether code is the TOTP of the sealed secret now (±1 step); *step the step. */
static bool totp_ok(struct latch_xp_call *call, const char *sealed, const char *code, int64_t *step,
                    bool *broken)
{
    struct latch_request *req = call->req;
    uint8_t secret[LATCH_TOTP_SECRET_MAX];
    size_t len = 0;
    *broken = false;
    if (latch_users_mfa_totp_open(latch_loop_config(req->loop)->secret_key, req->tenant->id,
                                  call->ia.result_user_id, sealed, secret, &len) != LATCH_OK) {
        /* A secret sealed under another LATCH_SECRET_KEY: the operator must know. */
        latch_http_log(req, LATCH_LOG_ERROR,
                       "a TOTP secret of user %s does not open (LATCH_SECRET_KEY changed?)",
                       call->ia.result_user_id);
        *broken = true;
        return false;
    }
    bool ok = latch_jose_totp_match(secret, len, code, (int64_t)time(NULL), step);
    explicit_bzero(secret, sizeof(secret));
    return ok;
}

/* The factor accepted the step, or it had accepted it (or a later one) already: a replay. */
static void totp_accepted(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct mfa_call *mc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1 ||
        strcmp(latch_store_result_value(results[0], 0, 0), "0") == 0) {
        latch_http_log(call->req, LATCH_LOG_INFO,
                       "user %s: a TOTP code for an accepted time step was refused (replay)",
                       call->ia.result_user_id);
        wrong_code(call, true);
        return;
    }
    latch_xp_respond_verification(call->req, mc->new_id);
}

static void totp_verify_next(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    bool broken = false;
    if (!tries_left(call)) {
        call_cleanup(call);
        return;
    }
    if (mc->verification_id != NULL) {
        /* Proving a new secret before it is bound. */
        if (mc->st.totp_id == NULL || strcmp(mc->st.totp_id, mc->verification_id) != 0 ||
            mc->st.totp_sealed == NULL) {
            call_cleanup(call);
            latch_xp_verification_not_found(req);
            return;
        }
        int64_t step;
        bool ok = totp_ok(call, mc->st.totp_sealed, mc->code, &step, &broken);
        call_cleanup(call);
        if (broken) {
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            return;
        }
        if (!ok) {
            wrong_code(call, true);
            return;
        }
        /* Equal to the pending id, so it has that id's length. */
        snprintf(mc->new_id, sizeof(mc->new_id), "%s", mc->verification_id);
        struct latch_store_op op = {
            .stmt = &totp_pending_verified_stmt,
            .params = {req->tenant->id, call->id_hash, mc->verification_id,
                       latch_arena_printf(req->arena, "%lld", (long long)step)}};
        latch_xp_exec(call, &op, 1, respond_new_id);
        return;
    }
    if (mc->st.factor_sealed == NULL) {
        /* No TOTP factor: the same answer as a wrong code (Logto's). */
        call_cleanup(call);
        wrong_code(call, true);
        return;
    }
    bool ok = totp_ok(call, mc->st.factor_sealed, mc->code, &mc->step, &broken);
    call_cleanup(call);
    if (broken) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    if (!ok) {
        wrong_code(call, true);
        return;
    }
    if (!new_id(call))
        return;
    char step[24];
    snprintf(step, sizeof(step), "%lld", (long long)mc->step);
    struct latch_store_op op = {
        .stmt = &totp_accept_stmt,
        .params = {req->tenant->id, call->id_hash, latch_arena_strdup(req->arena, step)}};
    latch_xp_exec(call, &op, 1, totp_accepted);
}

/* ---- POST /api/experience/verification/backup-code/generate ---- */

static void backup_generate_next(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1];
    char *hashes = NULL;
    if (!new_id(call))
        return;
    if (latch_users_mfa_backup_new(latch_loop_config(req->loop)->secret_key, req->tenant->id,
                                   call->ia.result_user_id, codes, &hashes) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    const char *copy = latch_arena_strdup(req->arena, hashes);
    free(hashes);
    struct latch_json j;
    latch_json_init_secret(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "verificationId");
    latch_json_string(&j, mc->new_id);
    latch_json_key(&j, "codes");
    latch_json_begin_array(&j);
    for (int i = 0; i < LATCH_MFA_BACKUP_CODES; i++)
        latch_json_string(&j, codes[i]);
    latch_json_end_array(&j);
    latch_json_end_object(&j);
    explicit_bzero(codes, sizeof(codes));
    if (copy == NULL) {
        latch_json_clear(&j);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    struct latch_store_op op = {.stmt = &pending_stmt,
                                .params = {req->tenant->id, call->id_hash, "backupCode", mc->new_id,
                                           "hashes", copy, call->ia.result_user_id}};
    store_then_answer(call, &op, &j);
}

/* ---- POST /api/experience/verification/backup-code/verify ---- */

static void backup_used(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct mfa_call *mc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1 ||
        strcmp(latch_store_result_value(results[0], 0, 0), "0") == 0) {
        wrong_code(call, false);
        return;
    }
    /* Logto's {verificationId}, and Latch's remainCodes: the person is told how many remain. */
    const char *left = latch_store_result_value(results[0], 0, 1);
    latch_audit_note(call->req, LATCH_AUDIT_VERIFICATION_ID, mc->new_id);
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "verificationId");
    latch_json_string(&j, mc->new_id);
    latch_json_key(&j, "remainCodes");
    latch_json_number(&j, left, strlen(left));
    latch_json_end_object(&j);
    latch_xp_respond_json(call->req, 200, &j);
}

static void backup_verify_next(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    if (!tries_left(call)) {
        call_cleanup(call);
        return;
    }
    char hash[LATCH_TOKEN_HASH_TEXT];
    latch_rc rc =
        latch_users_mfa_backup_check_hash(latch_loop_config(req->loop)->secret_key, req->tenant->id,
                                          call->ia.result_user_id, mc->code, hash);
    call_cleanup(call);
    if (rc != LATCH_OK) {
        wrong_code(call, false); /* not the shape of a backup code */
        return;
    }
    if (!new_id(call))
        return;
    struct latch_store_op op = {
        .stmt = &backup_use_stmt,
        .params = {req->tenant->id, call->id_hash, latch_arena_strdup(req->arena, hash)}};
    latch_xp_exec(call, &op, 1, backup_used);
}

/* ---- POST /api/experience/profile/mfa ---- */

static void bound(struct latch_store_result *const *results, int n, const struct latch_error *err,
                  void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *r = results[0];
    const char *problem =
        latch_store_result_isnull(r, 0, 0) ? NULL : latch_store_result_value(r, 0, 0);
    if (problem == NULL) {
        latch_http_log(req, LATCH_LOG_INFO, "user %s: MFA factor %s bound", call->ia.result_user_id,
                       mc->type);
        latch_http_respond(req, 204, NULL, NULL, 0);
    } else if (strcmp(problem, "not_found") == 0) {
        latch_xp_verification_not_found(req);
    } else if (strcmp(problem, "not_verified") == 0) {
        latch_http_respond_errorf(req, 400, "session.verification_failed",
                                  "The TOTP secret was not verified with a code yet.");
    } else if (strcmp(problem, "not_enabled") == 0) {
        latch_http_respond_errorf(req, 400, "session.mfa.mfa_factor_not_enabled",
                                  "The MFA factor is not enabled.");
    } else if (strcmp(problem, "unverified") == 0) {
        latch_http_respond_errorf(req, 403, "session.mfa.require_mfa_verification",
                                  "MFA verification is required.");
    } else if (strcmp(problem, "in_use") == 0) {
        latch_http_respond_errorf(req, 422, "user.totp_already_in_use", "TOTP is already in use.");
    } else {
        latch_http_respond_errorf(req, 422, "session.mfa.backup_code_can_not_be_alone",
                                  "Backup code can not be the only MFA factor.");
    }
}

static void bind_next(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct mfa_call *mc = call->data;
    bool totp = strcmp(mc->type, "Totp") == 0;
    if (strcmp(mc->type, "WebAuthn") == 0) {
        latch_xp_webauthn_bind(call, mc->verification_id); /* webauthn.c */
        return;
    }
    if (!totp && strcmp(mc->type, "BackupCode") != 0) {
        latch_http_respond_errorf(req, 400, "session.mfa.mfa_factor_not_enabled",
                                  "The MFA factor is not enabled.");
        return;
    }
    if (!new_id(call))
        return;
    struct latch_store_op ops[2] = {
        {.stmt = totp ? &bind_totp_stmt : &bind_backup_stmt,
         .params = {req->tenant->id, call->id_hash, mc->verification_id, mc->new_id}}};
    if (!latch_xp_user_updated_hook_op(call, &ops[1]))
        return;
    latch_xp_exec(call, ops, 2, bound);
}

/* ---- POST /api/experience/profile/mfa/mfa-skipped ---- */

static void skipped(struct latch_store_result *const *results, int n, const struct latch_error *err,
                    void *arg)
{
    struct latch_xp_call *call = arg;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (strcmp(latch_store_result_value(results[0], 0, 0), "t") != 0) {
        latch_http_respond_errorf(call->req, 422, "session.mfa.mfa_policy_not_user_controlled",
                                  "MFA is required; it cannot be skipped.");
        return;
    }
    latch_http_respond(call->req, 204, NULL, NULL, 0);
}

static void skip_next(struct latch_xp_call *call)
{
    struct latch_store_op op = {.stmt = &skip_stmt,
                                .params = {call->req->tenant->id, call->id_hash}};
    latch_xp_exec(call, &op, 1, skipped);
}

/* ---- the submit check ---- */

const struct latch_stmt latch_xp_mfa_check_stmt = {
    .name = "xp_mfa_check",
    .sql = "SELECT problem, available::text, skippable, backup_codes_left"
           " FROM latch_mfa_check($1, $2::bytea)",
    .nparams = 2,
};

bool latch_xp_mfa_check_answer(struct latch_request *req, const struct latch_store_result *res)
{
    if (res == NULL || latch_store_result_rows(res) < 1 || latch_store_result_isnull(res, 0, 0))
        return false;
    const char *problem = latch_store_result_value(res, 0, 0);
    const char *available = latch_store_result_value(res, 0, 1);
    bool skippable = strcmp(latch_store_result_value(res, 0, 2), "t") == 0;
    int status;
    const char *code, *message;
    if (strcmp(problem, "require_mfa_verification") == 0) {
        status = 403;
        code = "session.mfa.require_mfa_verification";
        message = "MFA verification is required.";
    } else if (strcmp(problem, "missing_mfa") == 0) {
        status = 422;
        code = "user.missing_mfa";
        message = "You need to bind an MFA factor before signing in.";
    } else if (strcmp(problem, "backup_code_required") == 0) {
        status = 422;
        code = "session.mfa.backup_code_required";
        message = "Backup codes are required.";
    } else {
        latch_xp_identifier_not_found(req);
        return true;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "code");
    latch_json_string(&j, code);
    latch_json_key(&j, "message");
    latch_json_string(&j, message);
    latch_json_key(&j, "data");
    latch_json_begin_object(&j);
    latch_json_key(&j, "availableFactors");
    latch_json_raw(&j, available, strlen(available));
    if (strcmp(problem, "missing_mfa") == 0 && skippable) {
        latch_json_key(&j, "skippable");
        latch_json_bool(&j, true);
    }
    if (strstr(available, "\"BackupCode\"") != NULL) {
        /* Latch: how many backup codes remain, for the person to be told. */
        const char *left = latch_store_result_value(res, 0, 3);
        latch_json_key(&j, "backupCodesLeft");
        latch_json_number(&j, left, strlen(left));
    }
    latch_json_end_object(&j);
    latch_json_end_object(&j);
    latch_xp_respond_json(req, status, &j);
    return true;
}

/* How a route reads its request before next runs on the loaded interaction, and its audit-log
 * key (Logto's: koaExperienceVerificationsAuditLog's Interaction.<event>.Verification.<type>.
 * <Create|Submit>; NULL for the binding, whose key names the factor of its body). */
struct mfa_route {
    const char *path;
    enum { NO_BODY, CODE, TYPE } body; /* {code, verificationId?} or {type, verificationId} */
    void (*next)(struct latch_xp_call *call);
    const char *audit_key;
};

static const struct mfa_route mfa_routes[] = {
    {"/api/experience/verification/totp/secret", NO_BODY, totp_secret_next,
     "Interaction.{event}.Verification.Totp.Create"},
    {"/api/experience/verification/totp/verify", CODE, totp_verify_next,
     "Interaction.{event}.Verification.Totp.Submit"},
    {"/api/experience/verification/backup-code/generate", NO_BODY, backup_generate_next,
     "Interaction.{event}.Verification.BackupCode.Create"},
    {"/api/experience/verification/backup-code/verify", CODE, backup_verify_next,
     "Interaction.{event}.Verification.BackupCode.Submit"},
    {"/api/experience/profile/mfa", TYPE, bind_next, NULL},
    /* Logto records no entry for a skip; Latch does, under Logto's key of a profile change (the
     * person's mfa_skipped is set). */
    {"/api/experience/profile/mfa/mfa-skipped", NO_BODY, skip_next,
     "Interaction.{event}.Profile.Update"},
};

/* Logto's Interaction.<event>.BindMfa.<MfaFactor>.Submit, for a factor Logto names. */
static const char *bind_key(const char *type)
{
    if (strcmp(type, "Totp") == 0)
        return "Interaction.{event}.BindMfa.Totp.Submit";
    if (strcmp(type, "WebAuthn") == 0)
        return "Interaction.{event}.BindMfa.WebAuthn.Submit";
    if (strcmp(type, "BackupCode") == 0)
        return "Interaction.{event}.BindMfa.BackupCode.Submit";
    return NULL;
}

static void mfa_post(struct latch_request *req, void *arg)
{
    const struct mfa_route *r = arg;
    if (r->audit_key != NULL)
        latch_audit_track(req, r->audit_key);
    struct latch_xp_call *call =
        r->body == NO_BODY ? begin_empty(req) : begin_body(req, r->body == CODE, r->body == TYPE);
    if (call == NULL)
        return;
    if (r->body == TYPE) {
        struct mfa_call *mc = call->data;
        const char *key = bind_key(mc->type);
        if (key != NULL) {
            latch_audit_track(req, key);
            latch_audit_note(req, LATCH_AUDIT_VERIFICATION_ID, mc->verification_id);
        }
    }
    mfa_load(call, r->next);
}

latch_rc latch_xp_mfa_register(struct latch_server *srv)
{
    for (size_t i = 0; i < sizeof(mfa_routes) / sizeof(mfa_routes[0]); i++)
        if (latch_server_add_tenant_route(srv, LATCH_HTTP_POST, mfa_routes[i].path, mfa_post,
                                          (void *)&mfa_routes[i]) != LATCH_OK)
            return LATCH_FAIL;
    return LATCH_OK;
}
