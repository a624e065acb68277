/*
 * The Experience API's WebAuthn routes (Logto's verification-routes/web-authn-verification.ts
 * and classes/verifications/web-authn-verification.ts, @simplewebauthn JSON shapes), for the
 * person the interaction identified (400 session.identifier_not_found before that):
 *
 *   POST …/verification/web-authn/registration → {verificationId, registrationOptions}: a
 *        challenge (core/webauthn/) kept in interactions.mfa_pending.webAuthn
 *   POST …/verification/web-authn/registration/verify {verificationId, payload} →
 *        {verificationId}: the attestation verified (none or packed; other formats taken as none,
 *        since the options ask for attestation "none"); the credential waits, verified, in the
 *        interaction until POST …/profile/mfa {type: "WebAuthn", verificationId} binds it
 *        (latch_xp_webauthn_bind(), called by mfa.c)
 *   POST …/verification/web-authn/authentication → {verificationId, authenticationOptions}:
 *        the person's credentials as allowCredentials, a challenge in mfa_pending.webAuthnAuth
 *   POST …/verification/web-authn/authentication/verify {verificationId, payload} →
 *        {verificationId}: the assertion verified against the stored COSE key; the new counter is
 *        stored only over the counter the check was made against (a racing use of the same
 *        assertion loses), and the challenge is spent
 *
 * Passkey sign-in (Logto's passkeySignIn; 422 user.sign_in_method_not_enabled unless enabled),
 * before anyone is identified:
 *
 *   POST …/verification/sign-in-passkey/authentication {identifier?: {type, value}} →
 *        {verificationId, authenticationOptions}: with Logto's identifier, the credentials of the
 *        person it names (nobody by it answers as somebody without a passkey: Logto's 400, so
 *        the route tells no more than its options must); without one (Latch's), discoverable
 *        (empty allowCredentials); a challenge in mfa_pending.signInPasskey, with the person
 *   POST /api/experience/preflight/sign-in-passkey/authentication → {authenticationOptions}
 *        (Logto's, for autofill): discoverable, the challenge in the same slot marked preflight,
 *        which PUT /api/experience keeps (Logto keeps it in the OIDC interaction's result)
 *   POST …/verification/sign-in-passkey/authentication/verify {verificationId?, payload} →
 *        {verificationId}: without verificationId against the preflight's challenge, with one
 *        against the options it names; the credential is looked up by its id among the
 *        tenant's WebAuthn factors, the userHandle (required) must name its owner (the
 *        registration options set user.id to the user id), the assertion is verified as above;
 *        the interaction then holds a verification of that person (verified_user_id; 409
 *        session.identity_conflict when the options' identifier named another) which POST
 *        /api/experience/identification turns into the sign-in, with the credential's method in
 *        amr instead of pwd and, when the authenticator performed user verification, as
 *        verified MFA too (identification.c, schema/0016)
 *
 * The RP ID is LATCH_PUBLIC_URL's host and the origin its scheme://host[:port], for every tenant
 * (tenants are paths under it). A lowered signature counter (a cloned authenticator) is refused
 * and logged as a warning with the factor id. A verification adds WebAuthn to
 * interactions.mfa_verified and its RFC 8176 method to amr: swk for a backup-eligible credential
 * (a synced passkey: the key lives in software the provider copies), hwk otherwise.
 *
 * Audit log (Logto's keys): Interaction.<event>.Verification.WebAuthn.Create (both option routes)
 * and .Submit (both verifications), Interaction.<event>.Verification.SignInPasskey.Create and
 * .Submit for a passkey sign-in (its event SignIn when none was chosen yet; userId the
 * credential's owner), with the verification id; never a credential, challenge or assertion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience_internal.h"
#include "util/base64.h"
#include "util/hex.h"
#include "util/json.h"
#include "users/users.h"
#include "util/log.h"
#include "webauthn/webauthn.h"

/* base64url text of the largest clientDataJSON and of a credential id. */
#define CDJ_B64_MAX     ((LATCH_WEBAUTHN_CLIENT_DATA_MAX * 4 + 2) / 3)
#define CRED_ID_B64_MAX ((LATCH_WEBAUTHN_CRED_ID_MAX * 4 + 2) / 3)
#define AGENT_MAX       256
#define TIMEOUT_MS      60000

// clang-format off
#define THIS_INTERACTION LATCH_XP_THIS_INTERACTION
#define VERIFIED_ADD     LATCH_XP_MFA_VERIFIED_ADD("WebAuthn")

/* SQL: the WebAuthn credentials of user u (an SQL expression) as allowCredentials JSON text. */
#define CREDENTIALS_OF(u)                                                                          \
    "(SELECT coalesce(json_agg(json_build_object('type', 'public-key',"                            \
    " 'id', translate(encode(f.credential_id, 'base64'), E'+/=\\n', '-_'),"                       \
    " 'transports', coalesce(to_json(f.transports), '[]'::json)) ORDER BY f.created_at),"         \
    " '[]'::json)::text FROM mfa_factors f WHERE f.tenant_id = $1"                                \
    " AND f.user_id = " u " AND f.type = 'WebAuthn')"

/* The interaction's WebAuthn state and the person's credentials (as allowCredentials JSON). */
static const struct latch_stmt state_stmt = {
    .name = "xp_webauthn_state",
    .sql = "SELECT mfa_pending->'webAuthn'->>'id', mfa_pending->'webAuthn'->>'challenge',"
           " mfa_pending->'webAuthnAuth'->>'id', mfa_pending->'webAuthnAuth'->>'challenge',"
           " " LATCH_XP_MFA_FAILURES ","
           " (SELECT coalesce(u.username, u.primary_email, u.primary_phone, u.id) FROM users u"
           " WHERE u.tenant_id = $1 AND u.id = i.result_user_id),"
           " (SELECT coalesce(u.name, u.username, u.primary_email, u.primary_phone, u.id)"
           " FROM users u WHERE u.tenant_id = $1 AND u.id = i.result_user_id),"
           " " CREDENTIALS_OF("i.result_user_id") ","
           " mfa_pending->'signInPasskey'->>'id', mfa_pending->'signInPasskey'->>'challenge',"
           " coalesce((SELECT (s.passkey_sign_in->>'enabled')::boolean FROM sign_in_experiences s"
           " WHERE s.tenant_id = $1 AND s.id = 'default'), false),"
           " mfa_pending->'signInPasskey'->>'userId',"
           " coalesce((mfa_pending->'signInPasskey'->>'preflight')::boolean, false)"
           " FROM interactions i WHERE " THIS_INTERACTION,
    .nparams = 2,
};

/* The identified person's credential $3 (hex): factor id, COSE key (hex), counter. */
static const struct latch_stmt factor_stmt = {
    .name = "xp_webauthn_factor",
    .sql = "SELECT f.id, encode(f.public_key, 'hex'), f.sign_count FROM mfa_factors f"
           " JOIN interactions i ON i.tenant_id = f.tenant_id AND i.result_user_id = f.user_id"
           " WHERE f.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()"
           " AND f.type = 'WebAuthn' AND f.credential_id = decode($3, 'hex')",
    .nparams = 3,
};

/* Passkey sign-in: the tenant's credential $3 (hex), whoever owns it: factor id, COSE key (hex),
 * counter, owner. ($2 unused but typed, so that the parameters match factor_stmt's.) */
static const struct latch_stmt passkey_factor_stmt = {
    .name = "xp_webauthn_passkey_factor",
    .sql = "SELECT f.id, encode(f.public_key, 'hex'), f.sign_count, f.user_id FROM mfa_factors f"
           " WHERE f.tenant_id = $1 AND $2::bytea IS NOT NULL AND f.type = 'WebAuthn'"
           " AND f.credential_id = decode($3, 'hex')",
    .nparams = 3,
};

/* Passkey sign-in accepted: factor $3 of user $8 moves from counter $4 to $5; the interaction
 * holds verification $7 of that user (amr $6, user verification $9), spending the challenge.
 * Answers the rows changed (0: raced or spent). */
static const struct latch_stmt passkey_accept_stmt = {
    .name = "xp_webauthn_passkey_accept",
    .sql = "WITH i AS (SELECT 1 FROM interactions WHERE " THIS_INTERACTION
           " AND mfa_pending->'signInPasskey'->>'id' = $7 FOR UPDATE),"
           " f AS (UPDATE mfa_factors f SET sign_count = $5::bigint, last_used_at = now()"
           " FROM i WHERE f.tenant_id = $1 AND f.id = $3 AND f.user_id = $8"
           " AND f.sign_count = $4::bigint RETURNING 1),"
           " upd AS (UPDATE interactions SET verified_user_id = $8, verification_id = $7,"
           " mfa_pending = jsonb_set(mfa_pending, '{signInPasskey}', jsonb_build_object('id', $7,"
           " 'verified', true, 'amr', $6::text, 'uv', $9::boolean))"
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM f) RETURNING 1)"
           " SELECT count(*) FROM upd",
    .nparams = 9,
};

/* $3 'webAuthn', 'webAuthnAuth' or 'signInPasskey', $4 verification id, $5 challenge, $6 the
 * identified person (NULL for a passkey sign-in, before anyone is); a passkey sign-in's $7 the
 * person its identifier named (NULL: discoverable) and $8 whether the preflight route made it. */
static const struct latch_stmt pending_stmt = {
    .name = "xp_webauthn_pending",
    .sql = "UPDATE interactions SET mfa_pending = mfa_pending || jsonb_build_object($3::text,"
           " jsonb_build_object('id', $4::text, 'challenge', $5::text, 'verified', false,"
           " 'userId', $7::text, 'preflight', coalesce($8::boolean, false)))"
           " WHERE " THIS_INTERACTION " AND ($6::text IS NULL OR result_user_id = $6) RETURNING 1",
    .nparams = 8,
};

/* Passkey sign-in with an identifier ($2, of the type in the name): the person it names (as the
 * password route finds them, users.h's LATCH_USERS_SQL_MATCH_*) and their credentials. */
#define PASSKEY_OWNER(type, match)                                                                 \
    {                                                                                              \
        .name = "xp_webauthn_passkey_owner_" type,                                                 \
        .sql = "SELECT u.id, " CREDENTIALS_OF("u.id") " FROM users u"                              \
               " WHERE u.tenant_id = $1 AND " match " LIMIT 1",                                    \
        .nparams = 2,                                                                              \
    }
static const struct latch_stmt passkey_owner[] = {
    PASSKEY_OWNER("username", LATCH_USERS_SQL_MATCH_USERNAME("u.", "$2")),
    PASSKEY_OWNER("email", LATCH_USERS_SQL_MATCH_EMAIL("u.", "$2")),
    PASSKEY_OWNER("phone", LATCH_USERS_SQL_MATCH_PHONE("u.", "$2")),
};

/* The registration $3 verified: credential id $4 and COSE key $5 (hex), counter $6, AAGUID $7
 * (32 hex digits), transports $8 (JSON array), user agent $9, amr $10. */
static const struct latch_stmt registered_stmt = {
    .name = "xp_webauthn_registered",
    .sql = "UPDATE interactions SET mfa_pending = jsonb_set(mfa_pending, '{webAuthn}',"
           " jsonb_build_object('id', $3::text, 'verified', true, 'credentialId', $4::text,"
           " 'publicKey', $5::text, 'signCount', $6::bigint, 'aaguid', $7::text,"
           " 'transports', $8::jsonb, 'agent', $9::text, 'amr', $10::text))"
           " WHERE " THIS_INTERACTION " AND mfa_pending->'webAuthn'->>'id' = $3 RETURNING 1",
    .nparams = 10,
};

/* Binds the verified pending credential of verification $3 as factor $4. Answers (problem,
 * rows). */
static const struct latch_stmt bind_stmt = {
    .name = "xp_webauthn_bind",
    .sql = "WITH i AS (SELECT result_user_id AS u, mfa_pending->'webAuthn' AS w,"
           " mfa_verified AS v FROM interactions"
           " WHERE " THIS_INTERACTION " AND result_user_id IS NOT NULL FOR UPDATE),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM i)"
           " OR (SELECT w->>'id' FROM i) IS DISTINCT FROM $3 THEN 'not_found'"
           " WHEN NOT coalesce((SELECT (w->>'verified')::boolean FROM i), false)"
           " THEN 'not_verified'"
           " WHEN NOT " LATCH_XP_MFA_ENABLED_FACTORS " ? 'WebAuthn' THEN 'not_enabled'"
           LATCH_XP_MFA_UNVERIFIED
           " WHEN EXISTS (SELECT 1 FROM mfa_factors f, i WHERE f.tenant_id = $1"
           " AND f.type = 'WebAuthn' AND f.credential_id = decode(i.w->>'credentialId', 'hex'))"
           " THEN 'in_use' END AS problem),"
           " ins AS (INSERT INTO mfa_factors (tenant_id, id, user_id, type, credential_id,"
           " public_key, sign_count, transports, aaguid, agent)"
           " SELECT $1, $4, i.u, 'WebAuthn', decode(i.w->>'credentialId', 'hex'),"
           " decode(i.w->>'publicKey', 'hex'), (i.w->>'signCount')::bigint,"
           " ARRAY(SELECT jsonb_array_elements_text(i.w->'transports')),"
           " (i.w->>'aaguid')::uuid, i.w->>'agent' FROM i"
           " WHERE (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " upd AS (UPDATE interactions SET mfa_pending = mfa_pending - 'webAuthn', " VERIFIED_ADD
           ", amr = CASE WHEN (SELECT w->>'amr' FROM i) = ANY (amr) THEN amr"
           " ELSE amr || (SELECT w->>'amr' FROM i) END"
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM ins) RETURNING 1)"
           " SELECT (SELECT problem FROM chk), (SELECT count(*) FROM upd)",
    .nparams = 4,
};

/* Factor $3 moves from counter $4 to $5 and the interaction records the verification $7 (amr
 * $6), spending its challenge. Answers the rows changed (0: raced or spent). */
static const struct latch_stmt accept_stmt = {
    .name = "xp_webauthn_accept",
    .sql = "WITH i AS (SELECT result_user_id AS u FROM interactions WHERE " THIS_INTERACTION
           " AND result_user_id IS NOT NULL AND mfa_pending->'webAuthnAuth'->>'id' = $7"
           " FOR UPDATE),"
           " f AS (UPDATE mfa_factors f SET sign_count = $5::bigint, last_used_at = now()"
           " FROM i WHERE f.tenant_id = $1 AND f.id = $3 AND f.user_id = i.u"
           " AND f.sign_count = $4::bigint RETURNING 1),"
           " upd AS (UPDATE interactions SET mfa_pending = mfa_pending - 'webAuthnAuth', "
           VERIFIED_ADD ", amr = CASE WHEN $6::text = ANY (amr) THEN amr ELSE amr || $6::text END"
           " WHERE " THIS_INTERACTION " AND EXISTS (SELECT 1 FROM f) RETURNING 1)"
           " SELECT count(*) FROM upd",
    .nparams = 7,
};
// clang-format on

/* ---- common ---- */

struct wa_call {
    /* from state_stmt */
    const char *reg_id, *reg_challenge, *auth_id, *auth_challenge;
    int failures;
    const char *user_name, *display_name, *credentials;
    const char *passkey_id, *passkey_challenge;
    bool passkey_enabled;
    const char *passkey_owner; /* whom the options' identifier named (NULL: discoverable) */
    bool passkey_preflight;    /* the options came from the preflight route */
    bool passkey;   /* a passkey sign-in: nobody need be identified, credentials of the tenant */
    bool preflight; /* this call is POST …/preflight/sign-in-passkey/authentication */
    const struct latch_stmt *owner_stmt; /* with an identifier: its passkey_owner statement */
    const char *ident_value;
    /* from the body */
    const char *verification_id;
    const char *cred_id;  /* payload.rawId (base64url) */
    const char *cred_hex; /* the credential id in hex */
    bool cred_hex_load;   /* load that credential of the person too */
    const char *client_data, *attestation, *auth_data, *signature, *user_handle;
    const char *transports; /* JSON array text */
    /* the answer */
    char new_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
    char challenge[LATCH_WEBAUTHN_CHALLENGE_LEN + 1];
    const char *rp_id, *origin;
    struct latch_json answer; /* the options, sent once the challenge is stored */
    void (*next)(struct latch_xp_call *call, struct latch_store_result *const *res, int n);
};

static const char *cell(struct latch_request *req, const struct latch_store_result *r, int row,
                        int c)
{
    if (r == NULL || latch_store_result_rows(r) <= row || latch_store_result_isnull(r, row, c))
        return NULL;
    return latch_arena_strdup(req->arena, latch_store_result_value(r, row, c));
}

static void oom(struct latch_request *req)
{
    latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
}

/* The RP ID and origin of LATCH_PUBLIC_URL (core/webauthn/). */
static bool rp_of(struct latch_request *req, struct wa_call *wc)
{
    char rp[LATCH_WEBAUTHN_RP_ID_MAX + 1], origin[LATCH_WEBAUTHN_ORIGIN_MAX + 1];
    struct latch_error err = {0};
    if (latch_webauthn_rp_from_url(latch_loop_config(req->loop)->public_url, rp, origin, &err) !=
        LATCH_OK) {
        latch_http_log(req, LATCH_LOG_ERROR, "%s", err.message);
        return false;
    }
    wc->rp_id = latch_arena_strdup(req->arena, rp);
    wc->origin = latch_arena_strdup(req->arena, origin);
    return wc->rp_id != NULL && wc->origin != NULL;
}

static void state_loaded(struct latch_xp_call *call, struct latch_store_result *const *res, int n)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    /* A passkey completes a sign-in, the event of an interaction that has none yet. */
    if (wc->passkey)
        latch_audit_note_default(req, LATCH_AUDIT_EVENT, "SignIn");
    if (call->ia.result_user_id == NULL && !wc->passkey) {
        latch_xp_identifier_not_found(req);
        return;
    }
    const struct latch_store_result *r = n > 0 ? res[0] : NULL;
    wc->reg_id = cell(req, r, 0, 0);
    wc->reg_challenge = cell(req, r, 0, 1);
    wc->auth_id = cell(req, r, 0, 2);
    wc->auth_challenge = cell(req, r, 0, 3);
    const char *f = cell(req, r, 0, 4);
    wc->failures = f != NULL ? atoi(f) : 0;
    wc->user_name = cell(req, r, 0, 5);
    wc->display_name = cell(req, r, 0, 6);
    wc->credentials = cell(req, r, 0, 7);
    wc->passkey_id = cell(req, r, 0, 8);
    wc->passkey_challenge = cell(req, r, 0, 9);
    const char *pk = cell(req, r, 0, 10);
    wc->passkey_enabled = pk != NULL && strcmp(pk, "t") == 0;
    wc->passkey_owner = cell(req, r, 0, 11);
    const char *pf = cell(req, r, 0, 12);
    wc->passkey_preflight = pf != NULL && strcmp(pf, "t") == 0;
    if (!rp_of(req, wc)) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    if (!latch_xp_mfa_tries_left(req, wc->failures))
        return;
    if (wc->passkey && !wc->passkey_enabled) {
        latch_http_respond_errorf(req, 422, "user.sign_in_method_not_enabled",
                                  "Passkey sign-in is not enabled.");
        return;
    }
    wc->next(call, res, n);
}

/* Loads the interaction, the WebAuthn state and, with cred_hex, that credential of the person. */
static void wa_load(struct latch_xp_call *call,
                    void (*next)(struct latch_xp_call *, struct latch_store_result *const *, int))
{
    struct wa_call *wc = call->data;
    struct latch_request *req = call->req;
    wc->next = next;
    struct latch_store_op ops[2] = {
        {.stmt = &state_stmt, .params = {req->tenant->id, call->id_hash}},
        {.stmt = wc->passkey ? &passkey_factor_stmt : &factor_stmt,
         .params = {req->tenant->id, call->id_hash, wc->cred_hex}},
    };
    if (wc->owner_stmt != NULL)
        ops[1] = (struct latch_store_op){.stmt = wc->owner_stmt,
                                         .params = {req->tenant->id, wc->ident_value}};
    latch_xp_load(call, ops, wc->cred_hex_load || wc->owner_stmt != NULL ? 2 : 1, state_loaded);
}

static bool new_id(struct latch_xp_call *call)
{
    struct wa_call *wc = call->data;
    return latch_xp_new_verification_id(call->req, wc->new_id);
}

/* A refused ceremony: counted, then answered with Logto's error and the library's reason. */
static void refused(struct latch_xp_call *call, const char *message)
{
    latch_xp_mfa_refuse(call, LATCH_WEBAUTHN_ERR_FAILED, message);
}

static void respond_new_id(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct wa_call *wc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_xp_not_found(call->req); /* the interaction expired meanwhile */
        return;
    }
    latch_xp_respond_verification(call->req, wc->new_id);
}

/* Decodes base64url text (bounded by cap) into an arena buffer; NULL when not base64url. */
static uint8_t *b64_bytes(struct latch_request *req, const char *s, size_t cap, size_t *len)
{
    size_t n = s != NULL ? strlen(s) : 0;
    uint8_t *out = latch_arena_alloc(req->arena, cap + 1);
    ssize_t got = out != NULL ? latch_base64url_decode(s != NULL ? s : "", n, out, cap) : -1;
    if (got < 0)
        return NULL;
    *len = (size_t)got;
    return out;
}

static const char *hex_of(struct latch_request *req, const uint8_t *p, size_t n)
{
    char *out = latch_arena_alloc(req->arena, 2 * n + 1);
    if (out == NULL || latch_hex_encode(p, n, out, 2 * n + 1) < 0)
        return NULL;
    return out;
}

/* A call without a body. */
static struct latch_xp_call *begin_empty(struct latch_request *req)
{
    struct latch_xp_call *call = latch_xp_begin(req, true);
    if (call == NULL)
        return NULL;
    call->data = latch_arena_calloc(req->arena, 1, sizeof(struct wa_call));
    if (call->data == NULL) {
        oom(req);
        return NULL;
    }
    return call;
}

/* A call with {verificationId, payload: {type: "WebAuthn", id, rawId, response: {...}}}
 * (@simplewebauthn's RegistrationResponseJSON or AuthenticationResponseJSON): the strings of the
 * ceremony copied into the arena, rawId also in hex. NULL after answering. */
static struct latch_xp_call *begin_payload(struct latch_request *req, bool registration,
                                           bool vid_optional)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct wa_call), &call);
    if (body == NULL)
        return NULL;
    struct wa_call *wc = call->data;
    const char *vid = NULL, *type = NULL, *raw = NULL, *cdj = NULL, *main = NULL, *sig = NULL,
               *uh = NULL;
    const char *payload_path[] = {"payload", NULL}, *response_path[] = {"response", NULL};
    const char *transports_path[] = {"transports", NULL};
    yajl_val payload = yajl_tree_get(body, payload_path, yajl_t_object);
    yajl_val response = payload ? yajl_tree_get(payload, response_path, yajl_t_object) : NULL;
    bool ok =
        latch_xp_get_str(req, body, "verificationId", "verificationId", 64, !vid_optional, &vid);
    if (ok && response == NULL) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "The request body is invalid: payload.response is required.");
        ok = false;
    }
    ok = ok && latch_xp_get_str(req, payload, "type", "payload.type", 16, true, &type) &&
         latch_xp_get_str(req, payload, "rawId", "payload.rawId", CRED_ID_B64_MAX, true, &raw) &&
         latch_xp_get_str(req, response, "clientDataJSON", "payload.response.clientDataJSON",
                          CDJ_B64_MAX, true, &cdj);
    if (registration)
        ok = ok &&
             latch_xp_get_str(req, response, "attestationObject",
                              "payload.response.attestationObject", LATCH_XP_BODY_MAX, true, &main);
    else
        ok = ok &&
             latch_xp_get_str(req, response, "authenticatorData",
                              "payload.response.authenticatorData", LATCH_XP_BODY_MAX, true,
                              &main) &&
             latch_xp_get_str(req, response, "signature", "payload.response.signature",
                              LATCH_XP_BODY_MAX, true, &sig) &&
             latch_xp_get_str(req, response, "userHandle", "payload.response.userHandle", 128,
                              false, &uh);
    if (ok && strcmp(type, "WebAuthn") != 0) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "The request body is invalid: payload.type must be WebAuthn.");
        ok = false;
    }
    if (ok) {
        wc->verification_id = vid != NULL ? latch_arena_strdup(req->arena, vid) : NULL;
        wc->cred_id = latch_arena_strdup(req->arena, raw);
        wc->client_data = latch_arena_strdup(req->arena, cdj);
        if (registration)
            wc->attestation = latch_arena_strdup(req->arena, main);
        else
            wc->auth_data = latch_arena_strdup(req->arena, main);
        wc->signature = sig ? latch_arena_strdup(req->arena, sig) : NULL;
        wc->user_handle = uh ? latch_arena_strdup(req->arena, uh) : NULL;
        /* transports: an array of short strings, kept as JSON for the factor row. */
        struct latch_json j;
        latch_json_init_strict(&j);
        latch_json_begin_array(&j);
        yajl_val t = yajl_tree_get(response, transports_path, yajl_t_array);
        for (size_t i = 0; t != NULL && i < YAJL_GET_ARRAY(t)->len && i < 8; i++) {
            yajl_val v = YAJL_GET_ARRAY(t)->values[i];
            const char *sv = YAJL_GET_STRING(v);
            if (sv != NULL && strlen(sv) <= 16)
                latch_json_string(&j, sv);
        }
        latch_json_end_array(&j);
        size_t len;
        char *text = latch_json_take(&j, &len);
        wc->transports = latch_arena_strdup(req->arena, text ? text : "[]");
        free(text);
        uint8_t id[LATCH_WEBAUTHN_CRED_ID_MAX + 1];
        ssize_t idn = latch_base64url_decode(raw, strlen(raw), id, sizeof(id));
        if (idn <= 0 || idn > LATCH_WEBAUTHN_CRED_ID_MAX) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "The request body is invalid: payload.rawId.");
            ok = false;
        } else {
            wc->cred_hex = hex_of(req, id, (size_t)idn);
        }
        if (ok && ((vid != NULL && wc->verification_id == NULL) || wc->cred_id == NULL ||
                   wc->client_data == NULL || wc->transports == NULL || wc->cred_hex == NULL ||
                   (registration ? wc->attestation == NULL : wc->auth_data == NULL))) {
            oom(req);
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    return ok ? call : NULL;
}

/* ---- POST …/web-authn/registration and …/authentication ---- */

static void options_stored(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct wa_call *wc = call->data;
    if (err != NULL) {
        latch_json_clear(&wc->answer);
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_json_clear(&wc->answer);
        latch_xp_not_found(call->req);
        return;
    }
    latch_audit_note(call->req, LATCH_AUDIT_VERIFICATION_ID, wc->new_id);
    latch_xp_respond_json(call->req, 200, &wc->answer);
}

/* Starts an options answer: a fresh verification id and challenge, then
 * {"verificationId": …, "<key>": { — the caller writes the options and calls options_send().
 * False after answering. */
static bool options_begin(struct latch_xp_call *call, const char *key)
{
    struct wa_call *wc = call->data;
    struct latch_error err = {0};
    if (!new_id(call))
        return false;
    if (latch_webauthn_challenge_new(wc->challenge, &err) != LATCH_OK) {
        latch_http_respond_errorf(call->req, 503, "service_unavailable",
                                  "No randomness available.");
        return false;
    }
    latch_json_init(&wc->answer);
    latch_json_begin_object(&wc->answer);
    /* Logto's preflight answers the options alone: its verify finds them in the interaction. */
    if (!wc->preflight) {
        latch_json_key(&wc->answer, "verificationId");
        latch_json_string(&wc->answer, wc->new_id);
    }
    latch_json_key(&wc->answer, key);
    latch_json_begin_object(&wc->answer);
    latch_json_key(&wc->answer, "challenge");
    latch_json_string(&wc->answer, wc->challenge);
    latch_json_key(&wc->answer, "timeout");
    latch_json_int(&wc->answer, TIMEOUT_MS);
    return true;
}

/* Closes the answer and keeps the challenge in mfa_pending.<slot> (signInPasskey for a passkey
 * sign-in); answers once it is stored (the browser must not use a challenge the server has not
 * kept). */
static void options_send(struct latch_xp_call *call, const char *slot, const char *owner)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    latch_json_end_object(&wc->answer);
    latch_json_end_object(&wc->answer);
    struct latch_store_op op = {
        .stmt = &pending_stmt,
        .params = {req->tenant->id, call->id_hash, wc->passkey ? "signInPasskey" : slot, wc->new_id,
                   wc->challenge, wc->passkey ? NULL : call->ia.result_user_id, owner,
                   wc->preflight ? "true" : "false"}};
    latch_xp_exec(call, &op, 1, options_stored);
}

static void registration_next(struct latch_xp_call *call, struct latch_store_result *const *res,
                              int n)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    struct latch_json *j = &wc->answer;
    char user_id[128];
    const char *uid = call->ia.result_user_id;
    if (latch_base64url_encode((const uint8_t *)uid, strlen(uid), user_id, sizeof(user_id)) < 0) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    if (!options_begin(call, "registrationOptions"))
        return;
    latch_json_key(j, "rp");
    latch_json_begin_object(j);
    latch_json_key(j, "name");
    latch_json_string(j, wc->rp_id);
    latch_json_key(j, "id");
    latch_json_string(j, wc->rp_id);
    latch_json_end_object(j);
    latch_json_key(j, "user");
    latch_json_begin_object(j);
    latch_json_key(j, "id");
    latch_json_string(j, user_id);
    latch_json_key(j, "name");
    latch_json_string(j, wc->user_name ? wc->user_name : uid);
    latch_json_key(j, "displayName");
    latch_json_string(j, wc->display_name ? wc->display_name : uid);
    latch_json_end_object(j);
    latch_json_key(j, "pubKeyCredParams");
    latch_json_begin_array(j);
    static const int algs[] = {LATCH_WEBAUTHN_ALG_ES256, LATCH_WEBAUTHN_ALG_EDDSA,
                               LATCH_WEBAUTHN_ALG_RS256};
    for (size_t i = 0; i < 3; i++) {
        latch_json_begin_object(j);
        latch_json_key(j, "alg");
        latch_json_int(j, algs[i]);
        latch_json_key(j, "type");
        latch_json_string(j, "public-key");
        latch_json_end_object(j);
    }
    latch_json_end_array(j);
    latch_json_key(j, "attestation");
    latch_json_string(j, "none");
    const char *creds = wc->credentials ? wc->credentials : "[]";
    latch_json_key(j, "excludeCredentials");
    latch_json_raw(j, creds, strlen(creds));
    latch_json_key(j, "authenticatorSelection");
    latch_json_begin_object(j);
    latch_json_key(j, "residentKey");
    latch_json_string(j, "preferred");
    latch_json_key(j, "requireResidentKey");
    latch_json_bool(j, false);
    latch_json_key(j, "userVerification");
    latch_json_string(j, "preferred");
    latch_json_end_object(j);
    options_send(call, "webAuthn", NULL);
}

static void post_registration(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "Interaction.{event}.Verification.WebAuthn.Create");
    struct latch_xp_call *call = begin_empty(req);
    if (call != NULL)
        wa_load(call, registration_next);
}

static void authentication_next(struct latch_xp_call *call, struct latch_store_result *const *res,
                                int n)
{
    struct wa_call *wc = call->data;
    struct latch_json *j = &wc->answer;
    /* With an identifier (Logto's identifier-first passkey sign-in): the credentials of the
     * person it names. Nobody by that identifier answers as somebody without a passkey does
     * (Logto's 400), so the route does not tell an unknown account from a known one. */
    const char *owner = NULL, *credentials = wc->credentials;
    if (wc->owner_stmt != NULL) {
        /* That answer tells whether the person has a passkey: lookups per client IP are bounded
         * as the registration's "username taken" answers are. */
        if (!latch_xp_lookup_allowed(call))
            return;
        const struct latch_store_result *o = n > 1 ? res[1] : NULL;
        owner = cell(call->req, o, 0, 0);
        credentials = cell(call->req, o, 0, 1);
    }
    bool none = credentials == NULL || strcmp(credentials, "[]") == 0; /* no row: nobody */
    if (wc->owner_stmt != NULL && none)
        latch_xp_lookup_missed(call);
    if ((!wc->passkey || wc->owner_stmt != NULL) && none) {
        latch_http_respond_errorf(call->req, 400, "session.mfa.webauthn_verification_not_found",
                                  "No WebAuthn credential is registered for this account.");
        return;
    }
    if (!options_begin(call, "authenticationOptions"))
        return;
    latch_json_key(j, "rpId");
    latch_json_string(j, wc->rp_id);
    /* A passkey sign-in lets the authenticator offer whichever of its credentials it has for
     * this RP (discoverable credentials); the user handle then says whose it is. */
    latch_json_key(j, "allowCredentials");
    if (wc->passkey && wc->owner_stmt == NULL)
        latch_json_raw(j, "[]", 2);
    else
        latch_json_raw(j, credentials, strlen(credentials));
    latch_json_key(j, "userVerification");
    latch_json_string(j, "preferred");
    options_send(call, "webAuthnAuth", owner);
}

static void post_authentication(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "Interaction.{event}.Verification.WebAuthn.Create");
    struct latch_xp_call *call = begin_empty(req);
    if (call != NULL)
        wa_load(call, authentication_next);
}

/* ---- POST …/web-authn/registration/verify ---- */

/* The User-Agent as a label for the factor: printable ASCII, at most AGENT_MAX bytes. */
static const char *agent_of(struct latch_request *req)
{
    const char *ua = latch_http_header_get(req, "user-agent");
    char *out = latch_arena_alloc(req->arena, AGENT_MAX + 1);
    size_t n = 0;
    if (out == NULL)
        return NULL;
    for (; ua != NULL && *ua != '\0' && n < AGENT_MAX; ua++)
        if (*ua >= 0x20 && *ua < 0x7f)
            out[n++] = *ua;
    out[n] = '\0';
    return out;
}

static void registration_verify_next(struct latch_xp_call *call,
                                     struct latch_store_result *const *res, int n)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    struct latch_error err = {0};
    size_t cdj_len = 0, ao_len = 0;
    if (wc->reg_id == NULL || wc->reg_challenge == NULL ||
        strcmp(wc->reg_id, wc->verification_id) != 0) {
        latch_xp_verification_not_found(req);
        return;
    }
    uint8_t *cdj = b64_bytes(req, wc->client_data, LATCH_WEBAUTHN_CLIENT_DATA_MAX, &cdj_len);
    uint8_t *ao = b64_bytes(req, wc->attestation, LATCH_WEBAUTHN_ATTESTATION_MAX, &ao_len);
    struct latch_webauthn_credential *c = latch_arena_alloc(req->arena, sizeof(*c));
    if (c == NULL) {
        oom(req);
        return;
    }
    if (cdj == NULL || ao == NULL) {
        refused(call, "WebAuthn: clientDataJSON or attestationObject is not base64url within "
                      "its bounds.");
        return;
    }
    /* The options asked for attestation "none": a statement in a format not verified here is
     * disregarded rather than refused (browsers may pass one through). */
    struct latch_webauthn_expect exp = {.rp_id = wc->rp_id,
                                        .origin = wc->origin,
                                        .challenge = wc->reg_challenge,
                                        .other_formats_as_none = true};
    if (latch_webauthn_verify_registration(&exp, cdj, cdj_len, ao, ao_len, c, &err) != LATCH_OK) {
        if (err.status >= 500) {
            latch_http_log(req, LATCH_LOG_ERROR, "WebAuthn registration: %s", err.detail);
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            return;
        }
        refused(call, err.message);
        return;
    }
    const char *cred_hex = hex_of(req, c->id, c->id_len);
    const char *key_hex = hex_of(req, c->cose_key, c->cose_key_len);
    const char *aaguid = hex_of(req, c->aaguid, sizeof(c->aaguid));
    const char *agent = agent_of(req);
    char count[16];
    snprintf(count, sizeof(count), "%u", c->sign_count);
    if (cred_hex == NULL || key_hex == NULL || aaguid == NULL || agent == NULL) {
        oom(req);
        return;
    }
    if (strcmp(cred_hex, wc->cred_hex) != 0) {
        refused(call, "WebAuthn: rawId does not name the credential the attestation registers.");
        return;
    }
    snprintf(wc->new_id, sizeof(wc->new_id), "%s", wc->verification_id);
    struct latch_store_op op = {.stmt = &registered_stmt,
                                .params = {req->tenant->id, call->id_hash, wc->verification_id,
                                           cred_hex, key_hex, latch_arena_strdup(req->arena, count),
                                           aaguid, wc->transports, agent,
                                           (c->flags & LATCH_WEBAUTHN_FLAG_BE) ? "swk" : "hwk"}};
    latch_xp_exec(call, &op, 1, respond_new_id);
}

static void post_registration_verify(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "Interaction.{event}.Verification.WebAuthn.Submit");
    struct latch_xp_call *call = begin_payload(req, true, false);
    if (call != NULL) {
        /* Only the state: the credential is new, there is no factor row to load. */
        ((struct wa_call *)call->data)->cred_hex_load = false;
        wa_load(call, registration_verify_next);
    }
}

/* ---- POST …/web-authn/authentication/verify ---- */

static void accepted(struct latch_store_result *const *results, int n,
                     const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct wa_call *wc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1 ||
        strcmp(latch_store_result_value(results[0], 0, 0), "0") == 0) {
        /* Another request moved the counter (or spent the challenge) first. */
        refused(call, "WebAuthn: this assertion was already used.");
        return;
    }
    latch_xp_respond_verification(call->req, wc->verification_id);
}

static void authentication_verify_next(struct latch_xp_call *call,
                                       struct latch_store_result *const *res, int n)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    struct latch_error err = {0};
    struct latch_webauthn_assertion out;
    size_t cdj_len = 0, ad_len = 0, sig_len = 0, uh_len = 0, key_len = 0;
    const char *pending_id = wc->passkey ? wc->passkey_id : wc->auth_id;
    const char *challenge = wc->passkey ? wc->passkey_challenge : wc->auth_challenge;
    /* Without a verificationId, the preflight's options; with one, the options it named (a
     * preflight's id is never given out, so neither matches the other). */
    if (wc->passkey && wc->verification_id == NULL && wc->passkey_preflight)
        wc->verification_id = pending_id;
    else if (wc->passkey && wc->passkey_preflight)
        pending_id = NULL;
    if (pending_id == NULL || challenge == NULL || wc->verification_id == NULL ||
        strcmp(pending_id, wc->verification_id) != 0) {
        latch_xp_verification_not_found(req);
        return;
    }
    const struct latch_store_result *f = n > 1 ? res[1] : NULL;
    const char *factor_id = cell(req, f, 0, 0), *key_hex = cell(req, f, 0, 1),
               *stored_text = cell(req, f, 0, 2);
    /* Whose credential it is: the identified person's (MFA), or its owner's (passkey). */
    const char *uid = wc->passkey ? cell(req, f, 0, 3) : call->ia.result_user_id;
    if (factor_id == NULL || key_hex == NULL || stored_text == NULL || uid == NULL) {
        refused(call, wc->passkey ? "WebAuthn: the credential is not registered."
                                  : "WebAuthn: the credential is not registered for this account.");
        return;
    }
    uint8_t *key = latch_arena_alloc(req->arena, LATCH_WEBAUTHN_COSE_KEY_MAX);
    ssize_t kn = key != NULL
                     ? latch_hex_decode(key_hex, strlen(key_hex), key, LATCH_WEBAUTHN_COSE_KEY_MAX)
                     : -1;
    uint8_t *cdj = b64_bytes(req, wc->client_data, LATCH_WEBAUTHN_CLIENT_DATA_MAX, &cdj_len);
    uint8_t *ad = b64_bytes(req, wc->auth_data, LATCH_WEBAUTHN_AUTH_DATA_MAX, &ad_len);
    uint8_t *sig = b64_bytes(req, wc->signature, LATCH_WEBAUTHN_SIG_MAX, &sig_len);
    uint8_t *uh = b64_bytes(req, wc->user_handle, LATCH_WEBAUTHN_USER_HANDLE_MAX, &uh_len);
    if (kn <= 0) {
        latch_http_log(req, LATCH_LOG_ERROR, "WebAuthn factor %s has an unreadable key", factor_id);
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    key_len = (size_t)kn;
    if (cdj == NULL || ad == NULL || sig == NULL || uh == NULL) {
        refused(call, "WebAuthn: a field of the assertion is not base64url within its bounds.");
        return;
    }
    /* A user handle, when sent, must name the identified person; a passkey sign-in must send
     * one, naming the credential's owner. */
    if (wc->passkey && uh_len == 0) {
        refused(call, "WebAuthn: a passkey sign-in needs the user handle.");
        return;
    }
    if (uh_len > 0 && (uh_len != strlen(uid) || memcmp(uh, uid, uh_len) != 0)) {
        refused(call, "WebAuthn: the user handle does not name this account.");
        return;
    }
    unsigned long long stored = strtoull(stored_text, NULL, 10);
    struct latch_webauthn_expect exp = {
        .rp_id = wc->rp_id, .origin = wc->origin, .challenge = challenge};
    if (latch_webauthn_verify_assertion(&exp, key, key_len, (uint32_t)stored, cdj, cdj_len, ad,
                                        ad_len, sig, sig_len, uh, uh_len, &out, &err) != LATCH_OK) {
        if (latch_webauthn_is_clone(&err)) {
            latch_http_log(req, LATCH_LOG_WARN,
                           "user %s: WebAuthn factor %s refused, possibly a cloned authenticator "
                           "(%s)",
                           uid, factor_id, err.detail);
        } else if (err.status >= 500) {
            latch_http_log(req, LATCH_LOG_ERROR, "WebAuthn assertion: %s", err.detail);
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            return;
        }
        refused(call, err.message);
        return;
    }
    /* Options for the person an identifier named take only that person's passkey (Logto's 409).
     * Checked once the assertion is proven, so a forged one learns nothing about the owner. */
    if (wc->passkey && wc->passkey_owner != NULL && strcmp(wc->passkey_owner, uid) != 0) {
        latch_http_respond_errorf(req, 409, "session.identity_conflict",
                                  "The passkey belongs to another account than the identifier's.");
        return;
    }
    if (wc->passkey)
        latch_audit_note(req, LATCH_AUDIT_USER_ID, uid); /* whose passkey signed in */
    char new_count[16];
    snprintf(new_count, sizeof(new_count), "%u", out.sign_count);
    struct latch_store_op op = {
        .stmt = wc->passkey ? &passkey_accept_stmt : &accept_stmt,
        .params = {req->tenant->id, call->id_hash, factor_id, stored_text,
                   latch_arena_strdup(req->arena, new_count),
                   (out.flags & LATCH_WEBAUTHN_FLAG_BE) ? "swk" : "hwk", wc->verification_id, uid,
                   (out.flags & LATCH_WEBAUTHN_FLAG_UV) ? "true" : "false"}};
    latch_xp_exec(call, &op, 1, accepted);
}

static void post_authentication_verify(struct latch_request *req, void *arg)
{
    latch_audit_track(req, arg != NULL ? "Interaction.{event}.Verification.SignInPasskey.Submit"
                                       : "Interaction.{event}.Verification.WebAuthn.Submit");
    /* A passkey sign-in may omit it: the preflight options' (Logto's discoverable flow). */
    struct latch_xp_call *call = begin_payload(req, false, arg != NULL);
    if (call != NULL) {
        ((struct wa_call *)call->data)->cred_hex_load = true;
        ((struct wa_call *)call->data)->passkey = arg != NULL;
        wa_load(call, authentication_verify_next);
    }
}

/* ---- POST …/sign-in-passkey/authentication (its /verify: post_authentication_verify) ---- */

/* Reads the optional {identifier: {type, value}} of the options route (no body, or none in it:
 * discoverable options). False after answering. */
static bool read_passkey_identifier(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    struct wa_call *wc = call->data;
    if (req->body_len == 0)
        return true;
    yajl_val body = latch_xp_body(req);
    if (body == NULL)
        return false;
    static const char *const types[] = {"username", "email", "phone"};
    const char *path[] = {"identifier", NULL}, *type = NULL, *value = NULL;
    yajl_val ident = yajl_tree_get(body, path, yajl_t_any);
    bool ok = true;
    if (ident != NULL && !YAJL_IS_OBJECT(ident)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier: must be an object {type, value}");
        ok = false;
    } else if (ident != NULL) {
        ok = latch_xp_get_str(req, ident, "type", "identifier.type", 16, true, &type) &&
             latch_xp_get_str(req, ident, "value", "identifier.value", LATCH_USERS_IDENTIFIER_MAX,
                              true, &value);
        for (size_t i = 0; ok && i < sizeof(types) / sizeof(types[0]); i++)
            if (strcmp(types[i], type) == 0)
                wc->owner_stmt = &passkey_owner[i];
        if (ok && wc->owner_stmt == NULL) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "identifier.type: must be username, email or phone");
            ok = false;
        }
        if (ok && (wc->ident_value = latch_arena_strdup(req->arena, value)) == NULL) {
            oom(req);
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    return ok;
}

static void post_passkey_authentication(struct latch_request *req, void *arg)
{
    latch_audit_track(req, "Interaction.{event}.Verification.SignInPasskey.Create");
    struct latch_xp_call *call = begin_empty(req);
    if (call == NULL)
        return;
    struct wa_call *wc = call->data;
    wc->passkey = true;
    wc->preflight = arg != NULL;
    if (wc->preflight || read_passkey_identifier(call))
        wa_load(call, authentication_next);
}

/* ---- POST /api/experience/profile/mfa {type: "WebAuthn"} ---- */

struct bind_call {
    struct latch_xp_call *call;
    char factor_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
};

static void bound(struct latch_store_result *const *results, int n, const struct latch_error *err,
                  void *arg)
{
    struct bind_call *b = arg;
    struct latch_request *req = b->call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *r = results[0];
    const char *problem =
        latch_store_result_isnull(r, 0, 0) ? NULL : latch_store_result_value(r, 0, 0);
    if (problem == NULL) {
        latch_http_log(req, LATCH_LOG_INFO, "user %s: WebAuthn factor %s bound",
                       b->call->ia.result_user_id, b->factor_id);
        latch_http_respond(req, 204, NULL, NULL, 0);
    } else if (strcmp(problem, "not_found") == 0) {
        latch_xp_verification_not_found(req);
    } else if (strcmp(problem, "not_verified") == 0) {
        latch_http_respond_errorf(req, 400, "session.verification_failed",
                                  "The WebAuthn registration was not verified yet.");
    } else if (strcmp(problem, "not_enabled") == 0) {
        latch_http_respond_errorf(req, 400, "session.mfa.mfa_factor_not_enabled",
                                  "The MFA factor is not enabled.");
    } else if (strcmp(problem, "unverified") == 0) {
        latch_http_respond_errorf(req, 403, "session.mfa.require_mfa_verification",
                                  "MFA verification is required.");
    } else {
        latch_http_respond_errorf(req, 422, "user.webauthn_already_in_use",
                                  "This WebAuthn credential is already registered.");
    }
}

void latch_xp_webauthn_bind(struct latch_xp_call *call, const char *verification_id)
{
    struct latch_request *req = call->req;
    struct bind_call *b = latch_arena_calloc(req->arena, 1, sizeof(*b));
    if (b == NULL) {
        oom(req);
        return;
    }
    b->call = call;
    if (latch_jose_random_id(b->factor_id, LATCH_XP_VERIFICATION_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "No randomness available.");
        return;
    }
    struct latch_store_op ops[2] = {
        {.stmt = &bind_stmt,
         .params = {req->tenant->id, call->id_hash, verification_id, b->factor_id}}};
    if (!latch_xp_user_updated_hook_op(call, &ops[1]))
        return;
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, ops, 2, bound, b);
}

latch_rc latch_xp_webauthn_register(struct latch_server *srv)
{
    static int passkey; /* its address marks the passkey routes' arg */
    static const struct {
        const char *path;
        latch_http_handler handler;
        void *arg;
    } routes[] = {
        {"/api/experience/verification/web-authn/registration", post_registration, NULL},
        {"/api/experience/verification/web-authn/registration/verify", post_registration_verify,
         NULL},
        {"/api/experience/verification/web-authn/authentication", post_authentication, NULL},
        {"/api/experience/verification/web-authn/authentication/verify", post_authentication_verify,
         NULL},
        {"/api/experience/verification/sign-in-passkey/authentication", post_passkey_authentication,
         NULL},
        {"/api/experience/preflight/sign-in-passkey/authentication", post_passkey_authentication,
         &passkey},
        {"/api/experience/verification/sign-in-passkey/authentication/verify",
         post_authentication_verify, &passkey},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (latch_server_add_tenant_route(srv, LATCH_HTTP_POST, routes[i].path, routes[i].handler,
                                          routes[i].arg) != LATCH_OK)
            return LATCH_FAIL;
    return LATCH_OK;
}
