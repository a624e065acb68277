/*
 * experience/ internals shared by its files: the interaction a request's cookie names, loaded in
 * the first round trip of every Experience API call together with the tenant's sign-in experience
 * (and whatever else the handler needs in the same transaction); the CSRF and content-type checks
 * of mutating calls; answering helpers; and each file's register function.
 *
 * Everything here runs on the loop thread of the request.
 */
#ifndef LATCH_EXPERIENCE_EXPERIENCE_INTERNAL_H
#define LATCH_EXPERIENCE_EXPERIENCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "experience/code.h"
#include "experience/experience.h"
#include "experience/policy.h"
#include "http/http.h"
#include "jose/secret.h"
#include "store/store.h"
#include "tenants/tenants.h"

/* Experience API bodies are small; anything bigger is refused before parsing. */
#define LATCH_XP_BODY_MAX 16384
/* Verification ids (Logto: 21-character nanoids; the column holds 32). */
#define LATCH_XP_VERIFICATION_ID_LEN 21
/* Longest identifier value (the users columns). */
#define LATCH_XP_IDENTIFIER_MAX 128

/* The defaults of sign_in_experiences' columns in schema/0003 (a tenant without a row reads
 * these); keep them equal. */
#define LATCH_XP_DEFAULT_MODE            "SignInAndRegister"
#define LATCH_XP_DEFAULT_PASSWORD_POLICY "{\"length\": {\"min\": 8, \"max\": 256}}"
#define LATCH_XP_DEFAULT_SENTINEL_POLICY "{\"maxAttempts\": 100, \"lockoutDuration\": 60}"
#define LATCH_XP_DEFAULT_LANGUAGE_INFO   "{\"autoDetect\": true, \"fallbackLanguage\": \"en\"}"
/* schema/0012. */
#define LATCH_XP_DEFAULT_MFA                                                                       \
    "{\"factors\": [], \"policy\": \"UserControlled\","                                            \
    " \"organizationRequiredMfaPolicy\": \"NoPrompt\"}"
/* schema/0016. */
#define LATCH_XP_DEFAULT_PASSKEY_SIGN_IN                                                           \
    "{\"enabled\": false, \"showPasskeyButton\": false, \"allowAutofill\": false}"
/* schema/0019 (Logto's seed colours). */
#define LATCH_XP_DEFAULT_COLOR                                                                     \
    "{\"primaryColor\": \"#6139F6\", \"isDarkModeEnabled\": false,"                                \
    " \"darkPrimaryColor\": \"#8C70FF\"}"
/* schema/0010 (signUp's default: experience.h). */
#define LATCH_XP_DEFAULT_SIGN_IN                                                                   \
    "{\"methods\": [{\"identifier\": \"username\", \"password\": true,"                            \
    " \"verificationCode\": false, \"isPasswordPrimary\": true}]}"

/* SQL: forgets the MFA step of an interaction (schema/0012), with who it identified. */
#define LATCH_XP_MFA_RESET LATCH_XP_MFA_RESET_TO("'{}'")
#define LATCH_XP_MFA_RESET_TO(pending)                                                             \
    "amr = '{}', mfa_verified = '{}', mfa_pending = " pending ", mfa_skipped = false"
/* SQL: the mfa_pending a new event starts with: only the unverified options of the passkey
 * preflight (webauthn.c), which Logto keeps beside the interaction it starts, so the page may
 * ask for them (the autofill request) before or after PUT /api/experience. */
#define LATCH_XP_PASSKEY_PREFLIGHT_KEPT                                                            \
    "CASE WHEN coalesce((mfa_pending->'signInPasskey'->>'preflight')::boolean, false)"             \
    " AND NOT coalesce((mfa_pending->'signInPasskey'->>'verified')::boolean, false)"               \
    " THEN jsonb_build_object('signInPasskey', mfa_pending->'signInPasskey') ELSE '{}' END"
/* SQL: records RFC 8176 method v (a literal) among the interaction's amr once. */
#define LATCH_XP_AMR_ADD(v)                                                                        \
    "amr = CASE WHEN '" v "' = ANY (amr) THEN amr ELSE amr || '" v "'::text END"

/* ---- the MFA step's SQL and failure count, shared by mfa.c and webauthn.c ---- */

// clang-format off
/* SQL: the live interaction of the request ($1 tenant, $2 the cookie's hash). */
#define LATCH_XP_THIS_INTERACTION                                                                  \
    "tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
/* SQL: records MFA factor type v (a literal) among the interaction's verified ones once. */
#define LATCH_XP_MFA_VERIFIED_ADD(v)                                                               \
    "mfa_verified = CASE WHEN '" v "' = ANY (mfa_verified) THEN mfa_verified"                     \
    " ELSE mfa_verified || '" v "'::text END"
/* SQL: the MFA factor types the sign-in experience of tenant $1 enables (JSON array). */
#define LATCH_XP_MFA_ENABLED_FACTORS                                                               \
    "coalesce((SELECT s.mfa->'factors' FROM sign_in_experiences s"                                \
    " WHERE s.tenant_id = $1 AND s.id = 'default'), '[]'::jsonb)"
/* SQL: the CASE arm of a binding statement (CTE i: u the person, v the verified types) that
 * answers 'unverified' for a person who has a usable factor (backup codes while one is unused)
 * and has not verified one in this interaction: binding another would let whoever knows the
 * password add a factor of their own and pass the MFA step with it, so it waits for the proof. */
#define LATCH_XP_MFA_UNVERIFIED                                                                    \
    " WHEN cardinality((SELECT v FROM i)) = 0 AND EXISTS (SELECT 1 FROM mfa_factors f, i"         \
    " WHERE f.tenant_id = $1 AND f.user_id = i.u AND (f.type <> 'BackupCode' OR EXISTS"            \
    " (SELECT 1 FROM mfa_backup_codes c WHERE c.tenant_id = $1 AND c.factor_id = f.id"             \
    " AND c.used_at IS NULL))) THEN 'unverified'"
/* SQL: the interaction's failed MFA verifications so far (a column of a SELECT on it). */
#define LATCH_XP_MFA_FAILURES "coalesce((mfa_pending->>'failures')::int, 0)"
/* SQL (an UPDATE of interactions at identification by verification $3): the first factor's
 * RFC 8176 method joins amr — the passkey's (hwk or swk) when $3 is a verified passkey sign-in
 * (webauthn.c), a password's otherwise — and a passkey whose authenticator performed user
 * verification is recorded as verified MFA ('Passkey' among mfa_verified: schema/0016). */
#define LATCH_XP_PASSKEY_OR_PWD                                                                    \
    "amr = CASE WHEN " LATCH_XP_PASSKEY_IS("$3") " THEN CASE WHEN"                                 \
    " mfa_pending->'signInPasskey'->>'amr' = ANY (amr) THEN amr"                                  \
    " ELSE amr || (mfa_pending->'signInPasskey'->>'amr') END"                                     \
    " WHEN 'pwd' = ANY (amr) THEN amr ELSE amr || 'pwd'::text END,"                                \
    " mfa_verified = CASE WHEN " LATCH_XP_PASSKEY_IS("$3") " AND"                                  \
    " (mfa_pending->'signInPasskey'->>'uv')::boolean AND NOT 'Passkey' = ANY (mfa_verified)"       \
    " THEN mfa_verified || 'Passkey'::text ELSE mfa_verified END"
/* SQL: whether verification id is the interaction's verified passkey sign-in. */
#define LATCH_XP_PASSKEY_IS(id)                                                                    \
    "(mfa_pending->'signInPasskey'->>'id' IS NOT DISTINCT FROM " id                               \
    " AND coalesce((mfa_pending->'signInPasskey'->>'verified')::boolean, false))"
// clang-format on
/* Failed MFA verifications one interaction may make; then it takes no more (429), so guessing
 * needs a new first-factor proof each time. */
#define LATCH_XP_MFA_MAX_FAILURES 10

/* A live interaction as loaded (strings in req->arena; NULL for SQL NULL). */
struct latch_xp_interaction {
    const char *event;            /* "SignIn", "Register" or NULL */
    const char *verified_user_id; /* set by a password or passkey verification */
    const char *verification_id;  /* the current verification record */
    const char *result_user_id;   /* set by identification */
    const char *csrf_token;
    const char *ui_locales;
    const char *login_hint;
    const char *app_name;
    const char *sign_in_mode;
    const char *password_policy; /* JSON text (stored or default) */
    const char *sentinel_policy; /* JSON text */
    const char *language_info;   /* JSON text */
    bool has_pending;            /* a registration waits in params._pending */
    bool has_new_password;       /* a password reset waits in params._newPassword */
    const char *rate_limits;     /* JSON text, Latch's rateLimits ("{}" when none is set) */
};

struct latch_xp_call;
/* Runs once the interaction was loaded (and, for mutating calls, the CSRF token checked);
 * results are those of the handler's extra statements (results[0] is the first extra one). */
typedef void (*latch_xp_loaded_cb)(struct latch_xp_call *call,
                                   struct latch_store_result *const *results, int nresults);
/* Runs instead of loaded when the call ended early (to wipe and free the handler's secrets). */
typedef void (*latch_xp_cleanup_cb)(struct latch_xp_call *call);

/* One Experience API call; lives in req->arena. */
struct latch_xp_call {
    struct latch_request *req;
    char id_hash[LATCH_TOKEN_HASH_TEXT]; /* of the interaction cookie */
    bool mutating;
    struct latch_xp_interaction ia;
    latch_xp_loaded_cb loaded;
    latch_xp_cleanup_cb cleanup; /* optional */
    void *data;                  /* the handler's own state */
};

/*
 * Starts a call: for mutating calls checks Content-Type (415) and the body size (413); reads the
 * interaction cookie (404 session.not_found when absent). Returns NULL after answering.
 */
struct latch_xp_call *latch_xp_begin(struct latch_request *req, bool mutating);

/*
 * Loads the interaction, then runs extra[0..nextra) in the same transaction (at most
 * LATCH_STORE_MAX_OPS - 1), then calls loaded: never when the interaction is missing or expired
 * (404 session.not_found), a mutating call's X-CSRF-Token does not match (403
 * session.csrf_token_mismatch), or the store failed (answered); call->cleanup runs then.
 */
void latch_xp_load(struct latch_xp_call *call, const struct latch_store_op *extra, int nextra,
                   latch_xp_loaded_cb loaded);

/* Sends ops for the request's tenant; cb as for latch_store_exec(). */
void latch_xp_exec(struct latch_xp_call *call, const struct latch_store_op *ops, int nops,
                   latch_store_cb cb);

/* A mutating call with a JSON body: latch_xp_begin(req, true), (*call)->data = data_size zeroed
 * bytes in req->arena (the handler's state), and the parsed body as latch_xp_body() gives it.
 * NULL after answering. */
yajl_val latch_xp_begin_body(struct latch_request *req, size_t data_size,
                             struct latch_xp_call **call);

/* Parses the JSON body (400 guard.invalid_input on failure, answered; NULL). Free the tree
 * with latch_xp_body_free(), which also wipes every string in it (passwords). */
yajl_val latch_xp_body(struct latch_request *req);
void latch_xp_body_free(struct latch_request *req, yajl_val tree);

/* A string member of obj: NULL when absent; answers 400 naming path and returns false when
 * not a string of 1..max bytes without control characters (or, required, when absent). */
bool latch_xp_get_str(struct latch_request *req, yajl_val obj, const char *key, const char *path,
                      size_t max, bool required, const char **out);

/* Answers a store failure (503 while PostgreSQL is away, 500 otherwise). */
void latch_xp_store_error(struct latch_request *req, const struct latch_error *err);

/* Answers 404 session.not_found. */
void latch_xp_not_found(struct latch_request *req);

/* Answers 404 session.verification_session_not_found (an unknown, unusable or spent
 * verification). */
void latch_xp_verification_not_found(struct latch_request *req);

/* Answers 422 user.email_already_in_use (email) or user.phone_already_in_use: another account
 * has that identifier. */
void latch_xp_identifier_in_use(struct latch_request *req, bool email);

/* Answers 422 user.missing_profile with data.missingProfile, the comma-separated names in
 * missing (Logto's MissingProfile values). */
void latch_xp_missing_profile(struct latch_request *req, const char *missing);

/* An identifier lookup whose answer tells something of an account (webauthn.c's passkey options
 * for an identifier): whether the client IP may make one now (429 with Retry-After answered if
 * not), and the count of one that found nothing, both against the registration-check budget
 * (rateLimits.registrationChecksPerIpPerMinute, else LATCH_LIMIT_IP_REGISTRATION_CHECKS). */
bool latch_xp_lookup_allowed(const struct latch_xp_call *call);
void latch_xp_lookup_missed(const struct latch_xp_call *call);

/* Answers 400 session.identifier_not_found (nobody identified yet, or no longer). */
void latch_xp_identifier_not_found(struct latch_request *req);

/* Answers JSON that was built with latch_json (frees it). 500 when building failed. */
void latch_xp_respond_json(struct latch_request *req, int status, struct latch_json *j);

/* The statement that follows a change of the identified user in its transaction (an MFA factor
 * bound, the profile completed): User.Data.Updated to webhooks when a sign-in changed the user
 * (latch_mgmt_hook_user_updated_stmt). False after answering 503. */
bool latch_xp_user_updated_hook_op(struct latch_xp_call *call, struct latch_store_op *op);

/* Answers 200 {verificationId}; the id is also the audit entry's verificationId (when req is
 * tracked and none was noted). */
void latch_xp_respond_verification(struct latch_request *req, const char *verification_id);

/* Each file's routes (main thread, before start). */
latch_rc latch_xp_interaction_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_verification_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_identification_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_settings_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_pages_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_social_register(struct latch_server *srv) LATCH_MUST_CHECK; /* social.c */
/* verification_code.c */
latch_rc latch_xp_code_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_xp_mfa_register(struct latch_server *srv) LATCH_MUST_CHECK;      /* mfa.c */
latch_rc latch_xp_webauthn_register(struct latch_server *srv) LATCH_MUST_CHECK; /* webauthn.c */

/* ---- mfa.c: the MFA step of submit ---- */

/* The statement ($1 tenant, $2 interaction hash) asking schema/0012's latch_mfa_check whether
 * MFA lets the interaction finish: (problem, available factors JSON, skippable). */
/* POST /api/experience/profile/mfa {type: "WebAuthn", verificationId}: binds the credential that
 * verification registered and verified (webauthn.c); answers 204 or the error. */
void latch_xp_webauthn_bind(struct latch_xp_call *call, const char *verification_id);

extern const struct latch_stmt latch_xp_mfa_check_stmt;

/* Whether the interaction, with failures failed MFA verifications (LATCH_XP_MFA_FAILURES), may
 * try another; answers 429 guard.too_many_requests when not. */
bool latch_xp_mfa_tries_left(struct latch_request *req, int failures);

/* A failed MFA verification: counted in the interaction, then answered 400 with Logto's error
 * code and message (copied). */
void latch_xp_mfa_refuse(struct latch_xp_call *call, const char *code, const char *message);

/* A fresh verification id into out (LATCH_XP_VERIFICATION_ID_LEN + 1 bytes); false after
 * answering 503. */
bool latch_xp_new_verification_id(struct latch_request *req, char *out);

/* Answers Logto's error for an unfinished MFA step of the result of latch_xp_mfa_check_stmt
 * (403 session.mfa.require_mfa_verification, 422 user.missing_mfa with data.availableFactors
 * and data.skippable, 422 session.mfa.backup_code_required) and returns true; false when MFA
 * is done (nothing answered). */
bool latch_xp_mfa_check_answer(struct latch_request *req, const struct latch_store_result *res);

/* console.c: the admin console's page and its one-time password links. */
latch_rc latch_xp_console_register(struct latch_server *srv) LATCH_MUST_CHECK;

/* ---- pages.c: filling a page template ---- */

struct latch_ui_asset;
struct latch_xp_placeholder {
    const char *name; /* "{{ui}}" */
    const char *value;
};

/* Fills the template's placeholders (any NULL value: out of memory) and answers 200 with the
 * page and the headers every page carries: page_csp as its Content-Security-Policy, no
 * referrer, no framing, no caching, and its language. Loop thread. */
void latch_xp_respond_page(struct latch_request *req, const struct latch_ui_asset *tpl,
                           const struct latch_xp_placeholder *ph, int nph, const char *page_csp,
                           const char *locale);

/* ---- verification_code.c: the sign-in experience fields of codes ---- */

/* The statement ($1 tenant) that reads signIn, signUp, forgotPasswordMethods and
 * verificationCodePolicy (stored or default), for latch_xp_methods_read(). */
extern const struct latch_stmt latch_xp_methods_stmt;

struct latch_xp_methods {
    struct latch_xp_sign_in sign_in;
    struct latch_xp_sign_up sign_up;
    unsigned forgot; /* LATCH_XP_ID_EMAIL / LATCH_XP_ID_PHONE */
    struct latch_xp_code_policy code_policy;
};

/* Reads the result of latch_xp_methods_stmt leniently (defaults for what is invalid). */
void latch_xp_methods_read(const struct latch_store_result *res, struct latch_xp_methods *m);

/* ---- verification.c: password reset ---- */

/* POST /api/experience/profile {type: "password", value} in the SignIn or Register event: the
 * identified user, who has no password (else 422 user.password_exists_in_profile), gets this one
 * once the tenant's policy accepts it (422 password.rejected), 204. Runs latch_xp_load itself;
 * password is copied (the caller wipes its own). */
void latch_xp_profile_password(struct latch_xp_call *call, const char *password);

/* POST /api/experience/submit of a ForgotPassword interaction: sets the new password (from
 * PUT /api/experience/profile/password), ends the person's sessions, revokes their refresh
 * tokens and grants and clears their sentinel lock in one transaction, and resets the
 * interaction (event and verifications), answering 204. */
void latch_xp_password_reset_submit(struct latch_xp_call *call);

/* social.c: the statement ($1 tenant) that reads what the page's social buttons need, and the
 * writer of GET /api/experience/interaction's socialConnectors from its result:
 * [{id, target, name (in locale), logo (data: URI or null)}] for the enabled targets, in their
 * order, whose factory is loaded on this node. */
struct latch_json;
extern const struct latch_stmt latch_xp_social_buttons_stmt;
/* social.c: POST /api/experience/identification with the verification id of a social
 * verification (…/social/:connectorId/verify): the user with that identity (or the one linked by
 * verified email when the tenant links automatically) signs in, 204; with sign_up (the Register
 * event) a new user is created from the profile when none exists, 201; otherwise 422
 * user.identity_not_exist (Logto's answer, after which a client may switch to Register). */
void latch_xp_social_identify(struct latch_xp_call *call, const char *verification_id,
                              bool sign_up);
void latch_xp_social_buttons_write(struct latch_request *req, const struct latch_store_result *res,
                                   const char *locale, struct latch_json *j);

#endif
