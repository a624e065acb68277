/*
 * Management API: the tenant's sign-in experience, Logto's GET/PATCH /api/sign-in-exp, limited to
 * what Latch uses: signInMode, passwordPolicy, sentinelPolicy, languageInfo, branding,
 * socialSignInConnectorTargets (the social buttons, by connector target, in order), socialSignIn
 * ({automaticAccountLinking, skipRequiredIdentifiers}), signUp ({identifiers, password,
 * verify}; no identifiers = social-only sign-up) and Latch's own rateLimits
 * ({passwordFailuresPerIpPerMinute, registrationChecksPerIpPerMinute}: the tenant's throttling
 * limits; an absent member means the node's LATCH_LIMIT_* value), and what verification codes
 * may do: signIn ({methods: [{identifier, password, verificationCode, isPasswordPrimary}]}),
 * forgotPasswordMethods (EmailVerificationCode, PhoneVerificationCode) and
 * verificationCodePolicy ({expirationDuration, maxRetryAttempts}), mfa ({factors, policy,
 * organizationRequiredMfaPolicy}, schema/0012) and passkeySignIn ({enabled, showPasskeyButton,
 * allowAutofill}, schema/0016; an omitted member is false) and color ({primaryColor,
 * isDarkModeEnabled, darkPrimaryColor}, schema/0019; all three required, as Logto's colorGuard,
 * and an unknown member refused as in branding). A tenant
 * may have no row yet; it reads as the defaults, and PATCH creates the row. PATCH replaces each
 * field it names (after validating it strictly and filling the omitted members of a policy with
 * their defaults) and, as Logto, ignores members it does not know. Protected by the Management
 * API's bearer check (latch_mgmt_route).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experience/experience_internal.h"
#include "mgmt/mgmt_internal.h"
#include "users/users.h"
#include "util/json.h"

#define BRANDING_URL_MAX 2048

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define SIE_JSON(s)                                                                                \
    "json_build_object('tenantId', $1::text, 'id', 'default',"                                    \
    " 'signInMode', coalesce(" s ".sign_in_mode, '" LATCH_XP_DEFAULT_MODE "'),"                    \
    " 'passwordPolicy', coalesce(" s ".password_policy,"                                           \
    " '" LATCH_XP_DEFAULT_PASSWORD_POLICY "'::jsonb),"                                             \
    " 'sentinelPolicy', coalesce(" s ".sentinel_policy,"                                           \
    " '" LATCH_XP_DEFAULT_SENTINEL_POLICY "'::jsonb),"                                             \
    " 'languageInfo', coalesce(" s ".language_info, '" LATCH_XP_DEFAULT_LANGUAGE_INFO "'::jsonb),"  \
    " 'branding', coalesce(" s ".branding, '{}'::jsonb),"                                        \
    " 'socialSignInConnectorTargets', coalesce(" s ".social_sign_in_connector_targets,"          \
    " '[]'::jsonb),"                                                                               \
    " 'socialSignIn', coalesce(" s ".social_sign_in, '{}'::jsonb),"                              \
    " 'signUp', coalesce(" s ".sign_up, '" LATCH_XP_DEFAULT_SIGN_UP "'::jsonb),"                         \
    " 'rateLimits', coalesce(" s ".rate_limits, '{}'::jsonb),"                                  \
    " 'signIn', coalesce(" s ".sign_in, '" LATCH_XP_DEFAULT_SIGN_IN "'::jsonb),"                  \
    " 'forgotPasswordMethods', coalesce(" s ".forgot_password_methods, '[]'::jsonb),"            \
    " 'verificationCodePolicy', coalesce(" s ".verification_code_policy, '{}'::jsonb),"          \
    " 'mfa', coalesce(" s ".mfa, '" LATCH_XP_DEFAULT_MFA "'::jsonb),"                              \
    " 'passkeySignIn', coalesce(" s ".passkey_sign_in,"                                           \
    " '" LATCH_XP_DEFAULT_PASSKEY_SIGN_IN "'::jsonb),"                                              \
    " 'color', coalesce(" s ".color, '" LATCH_XP_DEFAULT_COLOR "'::jsonb))"

static const struct latch_stmt sie_get = {
    .name = "xp_sie_get",
    .sql = "SELECT " SIE_JSON("s") " FROM (SELECT 1) AS one"
           " LEFT JOIN sign_in_experiences s ON s.tenant_id = $1 AND s.id = 'default'",
    .nparams = 1,
};

/* $2 mode, $3..$16 JSON texts; NULL keeps the stored value (or the column default). */
static const struct latch_stmt sie_patch = {
    .name = "xp_sie_patch",
    .sql = "INSERT INTO sign_in_experiences AS s (tenant_id, id, sign_in_mode, password_policy,"
           " sentinel_policy, language_info, branding, social_sign_in_connector_targets,"
           " social_sign_in, sign_up, rate_limits, sign_in, forgot_password_methods,"
           " verification_code_policy, mfa, passkey_sign_in, color)"
           " VALUES ($1, 'default', coalesce($2, '" LATCH_XP_DEFAULT_MODE "'),"
           " coalesce($3::jsonb, '" LATCH_XP_DEFAULT_PASSWORD_POLICY "'::jsonb),"
           " coalesce($4::jsonb, '" LATCH_XP_DEFAULT_SENTINEL_POLICY "'::jsonb),"
           " coalesce($5::jsonb, '" LATCH_XP_DEFAULT_LANGUAGE_INFO "'::jsonb),"
           " coalesce($6::jsonb, '{}'::jsonb), coalesce($7::jsonb, '[]'::jsonb),"
           " coalesce($8::jsonb, '{}'::jsonb), coalesce($9::jsonb, '" LATCH_XP_DEFAULT_SIGN_UP "'::jsonb),"
           " coalesce($10::jsonb, '{}'::jsonb),"
           " coalesce($11::jsonb, '" LATCH_XP_DEFAULT_SIGN_IN "'::jsonb),"
           " coalesce($12::jsonb, '[]'::jsonb), coalesce($13::jsonb, '{}'::jsonb),"
           " coalesce($14::jsonb, '" LATCH_XP_DEFAULT_MFA "'::jsonb),"
           " coalesce($15::jsonb, '" LATCH_XP_DEFAULT_PASSKEY_SIGN_IN "'::jsonb),"
           " coalesce($16::jsonb, '" LATCH_XP_DEFAULT_COLOR "'::jsonb))"
           " ON CONFLICT (tenant_id, id) DO UPDATE SET"
           " sign_in_mode = coalesce($2, s.sign_in_mode),"
           " password_policy = coalesce($3::jsonb, s.password_policy),"
           " sentinel_policy = coalesce($4::jsonb, s.sentinel_policy),"
           " language_info = coalesce($5::jsonb, s.language_info),"
           " branding = coalesce($6::jsonb, s.branding),"
           " social_sign_in_connector_targets = coalesce($7::jsonb,"
           " s.social_sign_in_connector_targets),"
           " social_sign_in = coalesce($8::jsonb, s.social_sign_in),"
           " sign_up = coalesce($9::jsonb, s.sign_up),"
           " rate_limits = coalesce($10::jsonb, s.rate_limits),"
           " sign_in = coalesce($11::jsonb, s.sign_in),"
           " forgot_password_methods = coalesce($12::jsonb, s.forgot_password_methods),"
           " verification_code_policy = coalesce($13::jsonb, s.verification_code_policy),"
           " mfa = coalesce($14::jsonb, s.mfa),"
           " passkey_sign_in = coalesce($15::jsonb, s.passkey_sign_in),"
           " color = coalesce($16::jsonb, s.color)"
           " RETURNING " SIE_JSON("s"),
    .nparams = 16,
};
// clang-format on

static void get_sie(struct latch_request *req, void *arg)
{
    struct latch_store_op op = {.stmt = &sie_get, .params = {req->tenant->id}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "sign-in experience", .id = "default"};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* JSON text of a writer in req->arena (NULL after answering 500). */
static const char *take(struct latch_request *req, struct latch_json *j)
{
    char *text = latch_json_take(j, NULL);
    const char *out = text ? latch_arena_strdup(req->arena, text) : NULL;
    free(text);
    if (out == NULL)
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
    return out;
}

static bool http_url(const char *s)
{
    return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

/* branding: {logoUrl, darkLogoUrl, favicon, darkFavicon}, each an http(s) URL or null. */
static bool read_branding(struct latch_request *req, yajl_val v, const char **out)
{
    static const char *const keys[] = {"logoUrl", "darkLogoUrl", "favicon", "darkFavicon", NULL};
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "branding", "must be an object");
        return false;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *key = v->u.object.keys[i];
        yajl_val item = v->u.object.values[i];
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, key) == 0;
        char field[64];
        snprintf(field, sizeof(field), "branding.%.40s", key);
        if (!known) {
            latch_json_clear(&j);
            latch_mgmt_invalid(req, field, "is not a known member");
            return false;
        }
        if (YAJL_IS_NULL(item))
            continue;
        long n = YAJL_IS_STRING(item) ? latch_mgmt_utf8_len(item->u.string) : -1;
        if (n < 1 || n > BRANDING_URL_MAX || !http_url(item->u.string) ||
            strpbrk(item->u.string, " \t\r\n\"'<>") != NULL) {
            latch_json_clear(&j);
            latch_mgmt_invalid(req, field, "must be an http(s) URL of at most 2048 characters");
            return false;
        }
        latch_json_key(&j, key);
        latch_json_string(&j, item->u.string);
    }
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

static yajl_val top_member(yajl_val body, const char *key);

/* "#rgb" or "#rrggbb", either case: Logto's hexColorRegEx. */
static bool hex_color(const char *s)
{
    size_t n = strlen(s);
    return (n == 4 || n == 7) && s[0] == '#' && strspn(s + 1, "0123456789abcdefABCDEF") == n - 1;
}

/* color: {primaryColor, isDarkModeEnabled, darkPrimaryColor}, all three (Logto's colorGuard);
 * a member Logto does not define is refused, as in branding, so a typo is not silently lost. */
static bool read_color(struct latch_request *req, yajl_val v, const char **out)
{
    static const char *const keys[] = {"primaryColor", "isDarkModeEnabled", "darkPrimaryColor"};
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "color", "must be an object");
        return false;
    }
    for (size_t i = 0; i < v->u.object.len; i++) {
        bool known = false;
        for (size_t k = 0; k < 3 && !known; k++)
            known = strcmp(keys[k], v->u.object.keys[i]) == 0;
        if (!known) {
            char field[64];
            snprintf(field, sizeof(field), "color.%.40s", v->u.object.keys[i]);
            latch_mgmt_invalid(req, field, "is not a known member");
            return false;
        }
    }
    yajl_val primary = top_member(v, "primaryColor");
    yajl_val dark = top_member(v, "darkPrimaryColor");
    yajl_val enabled = top_member(v, "isDarkModeEnabled");
    if (primary == NULL || !YAJL_IS_STRING(primary) || !hex_color(primary->u.string)) {
        latch_mgmt_invalid(req, "color.primaryColor", "must be a hex colour (#rgb or #rrggbb)");
        return false;
    }
    if (dark == NULL || !YAJL_IS_STRING(dark) || !hex_color(dark->u.string)) {
        latch_mgmt_invalid(req, "color.darkPrimaryColor", "must be a hex colour (#rgb or #rrggbb)");
        return false;
    }
    if (enabled == NULL || (!YAJL_IS_TRUE(enabled) && !YAJL_IS_FALSE(enabled))) {
        latch_mgmt_invalid(req, "color.isDarkModeEnabled", "must be a boolean");
        return false;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "primaryColor");
    latch_json_string(&j, primary->u.string);
    latch_json_key(&j, "isDarkModeEnabled");
    latch_json_bool(&j, YAJL_IS_TRUE(enabled));
    latch_json_key(&j, "darkPrimaryColor");
    latch_json_string(&j, dark->u.string);
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

#define TARGETS_MAX    50
#define TARGET_MAX_LEN 64

/* socialSignInConnectorTargets: distinct connector targets ([A-Za-z0-9_-.], 1..64), in order. */
static bool read_targets(struct latch_request *req, yajl_val v, const char **out)
{
    if (!YAJL_IS_ARRAY(v) || v->u.array.len > TARGETS_MAX) {
        latch_mgmt_invalid(req, "socialSignInConnectorTargets",
                           "must be an array of at most 50 connector targets");
        return false;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_array(&j);
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val t = v->u.array.values[i];
        size_t n = YAJL_IS_STRING(t) ? strlen(t->u.string) : 0;
        bool dup = false;
        for (size_t k = 0; k < i && n > 0; k++)
            dup = dup || strcmp(v->u.array.values[k]->u.string, t->u.string) == 0;
        if (n == 0 || n > TARGET_MAX_LEN || dup ||
            strspn(t->u.string,
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
            latch_json_clear(&j);
            latch_mgmt_invalid(req, "socialSignInConnectorTargets",
                               dup ? "must not repeat a target"
                                   : "each target is 1 to 64 letters, digits, '_', '-' or '.'");
            return false;
        }
        latch_json_string(&j, t->u.string);
    }
    latch_json_end_array(&j);
    *out = take(req, &j);
    return *out != NULL;
}

/* An optional boolean member of an object; false after answering 400. */
static bool opt_bool(struct latch_request *req, yajl_val obj, const char *key, const char *field,
                     int *out)
{
    *out = -1;
    for (size_t i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) != 0)
            continue;
        yajl_val b = obj->u.object.values[i];
        if (YAJL_IS_NULL(b))
            return true;
        if (!YAJL_IS_TRUE(b) && !YAJL_IS_FALSE(b)) {
            latch_mgmt_invalid(req, field, "must be a boolean");
            return false;
        }
        *out = YAJL_IS_TRUE(b);
    }
    return true;
}

/* socialSignIn: {automaticAccountLinking?, skipRequiredIdentifiers?} (booleans). */
static bool read_social(struct latch_request *req, yajl_val v, const char **out)
{
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "socialSignIn", "must be an object");
        return false;
    }
    int link, skip;
    if (!opt_bool(req, v, "automaticAccountLinking", "socialSignIn.automaticAccountLinking",
                  &link) ||
        !opt_bool(req, v, "skipRequiredIdentifiers", "socialSignIn.skipRequiredIdentifiers", &skip))
        return false;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    if (link >= 0) {
        latch_json_key(&j, "automaticAccountLinking");
        latch_json_bool(&j, link == 1);
    }
    if (skip >= 0) {
        latch_json_key(&j, "skipRequiredIdentifiers");
        latch_json_bool(&j, skip == 1);
    }
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

/* signUp: {identifiers: subset of username/email/phone ([] = social only), password, verify};
 * omitted members take the defaults. */
static bool read_sign_up(struct latch_request *req, yajl_val v, const char **out)
{
    static const char *const known[] = {"username", "email", "phone"};
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "signUp", "must be an object");
        return false;
    }
    yajl_val ids = top_member(v, "identifiers");
    bool have[3] = {true, false, false};
    if (ids != NULL && !YAJL_IS_NULL(ids)) {
        if (!YAJL_IS_ARRAY(ids)) {
            latch_mgmt_invalid(req, "signUp.identifiers", "must be an array");
            return false;
        }
        have[0] = false;
        for (size_t i = 0; i < ids->u.array.len; i++) {
            yajl_val t = ids->u.array.values[i];
            int k = -1;
            for (int m = 0; m < 3 && YAJL_IS_STRING(t); m++)
                if (strcmp(t->u.string, known[m]) == 0)
                    k = m;
            if (k < 0) {
                latch_mgmt_invalid(req, "signUp.identifiers",
                                   "each must be username, email or phone");
                return false;
            }
            have[k] = true;
        }
    }
    int password, verify;
    if (!opt_bool(req, v, "password", "signUp.password", &password) ||
        !opt_bool(req, v, "verify", "signUp.verify", &verify))
        return false;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "identifiers");
    latch_json_begin_array(&j);
    for (int m = 0; m < 3; m++)
        if (have[m])
            latch_json_string(&j, known[m]);
    latch_json_end_array(&j);
    latch_json_key(&j, "password");
    latch_json_bool(&j, password != 0);
    latch_json_key(&j, "verify");
    latch_json_bool(&j, verify == 1);
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

static yajl_val top_member(yajl_val body, const char *key)
{
    for (size_t i = 0; i < body->u.object.len; i++)
        if (strcmp(body->u.object.keys[i], key) == 0)
            return body->u.object.values[i];
    return NULL;
}

/* signIn, forgotPasswordMethods and verificationCodePolicy (policy.h's strict readers) into
 * out[0..3); answers 400 and returns false when one is invalid. */
static bool read_code_fields(struct latch_request *req, yajl_val body, const char **out[3])
{
    char problem[192];
    struct latch_json j;
    yajl_val v;
    if ((v = top_member(body, "signIn")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_xp_sign_in si;
        if (!latch_xp_sign_in_read(v, true, &si, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_sign_in_write(&si, &j);
        if ((*out[0] = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "forgotPasswordMethods")) != NULL && !YAJL_IS_NULL(v)) {
        unsigned methods;
        if (!latch_xp_forgot_methods_read(v, true, &methods, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_forgot_methods_write(methods, &j);
        if ((*out[1] = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "verificationCodePolicy")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_xp_code_policy cp;
        if (!latch_xp_code_policy_read(v, true, &cp, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_code_policy_write(&cp, &j);
        if ((*out[2] = take(req, &j)) == NULL)
            return false;
    }
    return true;
}

/* mfa: {factors: distinct Totp | WebAuthn | BackupCode, policy: one of Logto's MfaPolicy values,
 * organizationRequiredMfaPolicy?: NoPrompt (default) | Mandatory}, written back in full. */
static bool read_mfa(struct latch_request *req, yajl_val v, const char **out)
{
    static const char *const factor_names[] = {"Totp", "WebAuthn", "BackupCode"};
    static const char *const policies[] = {"UserControlled", "PromptAtSignInAndSignUp",
                                           "PromptOnlyAtSignIn", "Mandatory", "NoPrompt"};
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "mfa", "must be an object");
        return false;
    }
    yajl_val factors = top_member(v, "factors");
    if (factors == NULL || !YAJL_IS_ARRAY(factors) || factors->u.array.len > 3) {
        latch_mgmt_invalid(req, "mfa.factors", "must be an array of Totp, WebAuthn, BackupCode");
        return false;
    }
    unsigned seen = 0;
    for (size_t i = 0; i < factors->u.array.len; i++) {
        yajl_val f = factors->u.array.values[i];
        unsigned bit = 0;
        for (unsigned k = 0; k < 3 && YAJL_IS_STRING(f); k++)
            if (strcmp(f->u.string, factor_names[k]) == 0)
                bit = 1u << k;
        if (bit == 0 || (seen & bit)) {
            latch_mgmt_invalid(req, "mfa.factors",
                               "must be distinct values of Totp, WebAuthn, BackupCode");
            return false;
        }
        seen |= bit;
    }
    if (seen == 4u) {
        /* Logto: backup codes back up another factor, never alone. */
        latch_mgmt_invalid(req, "mfa.factors", "BackupCode cannot be the only factor");
        return false;
    }
    yajl_val policy = top_member(v, "policy");
    const char *policy_name = NULL;
    for (size_t k = 0; policy != NULL && YAJL_IS_STRING(policy) && k < 5; k++)
        if (strcmp(policy->u.string, policies[k]) == 0)
            policy_name = policies[k];
    if (policy_name == NULL) {
        latch_mgmt_invalid(req, "mfa.policy",
                           "must be UserControlled, PromptAtSignInAndSignUp, "
                           "PromptOnlyAtSignIn, Mandatory or NoPrompt");
        return false;
    }
    yajl_val org = top_member(v, "organizationRequiredMfaPolicy");
    const char *org_name = "NoPrompt";
    if (org != NULL && !YAJL_IS_NULL(org)) {
        if (!YAJL_IS_STRING(org) ||
            (strcmp(org->u.string, "NoPrompt") != 0 && strcmp(org->u.string, "Mandatory") != 0)) {
            latch_mgmt_invalid(req, "mfa.organizationRequiredMfaPolicy",
                               "must be NoPrompt or Mandatory");
            return false;
        }
        org_name = org->u.string;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "factors");
    latch_json_begin_array(&j);
    for (size_t i = 0; i < factors->u.array.len; i++)
        latch_json_string(&j, factors->u.array.values[i]->u.string);
    latch_json_end_array(&j);
    latch_json_key(&j, "policy");
    latch_json_string(&j, policy_name);
    latch_json_key(&j, "organizationRequiredMfaPolicy");
    latch_json_string(&j, org_name);
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

/* passkeySignIn: {enabled?, showPasskeyButton?, allowAutofill?} (Logto's partial PasskeySignIn),
 * booleans, written back in full (an omitted member false). */
static bool read_passkey_sign_in(struct latch_request *req, yajl_val v, const char **out)
{
    static const char *const keys[] = {"enabled", "showPasskeyButton", "allowAutofill"};
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid(req, "passkeySignIn", "must be an object");
        return false;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    for (size_t k = 0; k < 3; k++) {
        yajl_val b = top_member(v, keys[k]);
        if (b != NULL && !YAJL_IS_TRUE(b) && !YAJL_IS_FALSE(b)) {
            latch_json_clear(&j);
            latch_mgmt_invalid(req, "passkeySignIn", "members must be booleans");
            return false;
        }
        latch_json_key(&j, keys[k]);
        latch_json_bool(&j, b != NULL && YAJL_IS_TRUE(b));
    }
    latch_json_end_object(&j);
    *out = take(req, &j);
    return *out != NULL;
}

/* Reads every field PATCH knows into params[1..16); answers 400 and returns false when one is
 * invalid. */
static bool read_patch(struct latch_request *req, yajl_val body, const char **mode,
                       const char **pp_json, const char **sp_json, const char **li_json,
                       const char **branding_json, const char **targets_json,
                       const char **social_json, const char **sign_up_json, const char **rl_json,
                       const char **codes_json[3], const char **mfa_json, const char **passkey_json,
                       const char **color_json)
{
    char problem[192];
    struct latch_json j;
    yajl_val v;

    struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
    if (!latch_mgmt_get_str(&o, "signInMode", 1, 32, 0, mode, NULL))
        return false;
    if (*mode != NULL && strcmp(*mode, "SignIn") != 0 && strcmp(*mode, "Register") != 0 &&
        strcmp(*mode, "SignInAndRegister") != 0) {
        latch_mgmt_invalid(req, "signInMode", "must be SignIn, Register or SignInAndRegister");
        return false;
    }

    if ((v = top_member(body, "passwordPolicy")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_password_policy *pp = latch_arena_alloc(req->arena, sizeof(*pp));
        if (pp == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return false;
        }
        /* users/ parses the stored text; give it this member's text. */
        struct latch_json *g = latch_mgmt_gen_new();
        if (g == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return false;
        }
        latch_mgmt_gen_value(g, v);
        const char *text = latch_mgmt_gen_take(req, g);
        struct latch_error err;
        if (text == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return false;
        }
        if (!YAJL_IS_OBJECT(v)) {
            latch_mgmt_invalid(req, "passwordPolicy", "must be an object");
            return false;
        }
        if (latch_users_policy_parse(text, pp, &err) != LATCH_OK) {
            latch_http_respond_error(req, &err);
            return false;
        }
        latch_json_init(&j);
        latch_xp_password_policy_write(pp, &j);
        if ((*pp_json = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "sentinelPolicy")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_sentinel_policy sp;
        if (!latch_xp_sentinel_policy_read(v, true, &sp, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_sentinel_policy_write(&sp, &j);
        if ((*sp_json = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "rateLimits")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_xp_rate_limits rl;
        if (!latch_xp_rate_limits_read(v, true, &rl, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_rate_limits_write(&rl, &j);
        if ((*rl_json = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "languageInfo")) != NULL && !YAJL_IS_NULL(v)) {
        struct latch_language_info li;
        if (!latch_xp_language_info_read(v, true, &li, problem, sizeof(problem))) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s", problem);
            return false;
        }
        latch_json_init(&j);
        latch_xp_language_info_write(&li, &j);
        if ((*li_json = take(req, &j)) == NULL)
            return false;
    }
    if ((v = top_member(body, "branding")) != NULL && !YAJL_IS_NULL(v) &&
        !read_branding(req, v, branding_json))
        return false;
    if ((v = top_member(body, "socialSignInConnectorTargets")) != NULL && !YAJL_IS_NULL(v) &&
        !read_targets(req, v, targets_json))
        return false;
    if ((v = top_member(body, "socialSignIn")) != NULL && !YAJL_IS_NULL(v) &&
        !read_social(req, v, social_json))
        return false;
    if ((v = top_member(body, "signUp")) != NULL && !YAJL_IS_NULL(v) &&
        !read_sign_up(req, v, sign_up_json))
        return false;
    if ((v = top_member(body, "mfa")) != NULL && !YAJL_IS_NULL(v) && !read_mfa(req, v, mfa_json))
        return false;
    if ((v = top_member(body, "passkeySignIn")) != NULL && !YAJL_IS_NULL(v) &&
        !read_passkey_sign_in(req, v, passkey_json))
        return false;
    if ((v = top_member(body, "color")) != NULL && !YAJL_IS_NULL(v) &&
        !read_color(req, v, color_json))
        return false;
    return read_code_fields(req, body, codes_json);
}

static void patch_sie(struct latch_request *req, void *arg)
{
    yajl_val body = latch_mgmt_body(req);
    if (body == NULL)
        return;
    const char *mode = NULL, *pp = NULL, *sp = NULL, *li = NULL, *branding = NULL;
    const char *targets = NULL, *social = NULL, *sign_up = NULL, *rl = NULL;
    const char *sign_in = NULL, *forgot = NULL, *code_policy = NULL, *mfa = NULL, *passkey = NULL;
    const char *color = NULL;
    const char **codes[3] = {&sign_in, &forgot, &code_policy};
    bool ok = read_patch(req, body, &mode, &pp, &sp, &li, &branding, &targets, &social, &sign_up,
                         &rl, codes, &mfa, &passkey, &color);
    yajl_tree_free(body);
    if (!ok)
        return;
    struct latch_store_op op = {.stmt = &sie_patch,
                                .params = {req->tenant->id, mode, pp, sp, li, branding, targets,
                                           social, sign_up, rl, sign_in, forgot, code_policy, mfa,
                                           passkey, color}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "sign-in experience", .id = "default"};
    latch_mgmt_run(req, &op, 1, &reply);
}

latch_rc latch_xp_settings_register(struct latch_server *srv)
{
    if (latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/sign-in-exp", get_sie) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_PATCH, "/api/sign-in-exp", patch_sie) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
