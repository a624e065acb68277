/* Pure rules of the Experience API; see policy.h. */
#include "experience/policy.h"

#include "experience/code.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SENTINEL_MAX_ATTEMPTS 10000
#define SENTINEL_MAX_MINUTES  (30 * 24 * 60)

/* ---- reading JSON objects ---- */

static yajl_val member(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

static bool fail(char *problem, size_t cap, const char *path, const char *what)
{
    if (problem != NULL && cap > 0)
        snprintf(problem, cap, "%s: %s", path, what);
    return false;
}

/* Refuses members of obj not named in keys (strict reads only). */
static bool only_keys(yajl_val obj, const char *const *keys, const char *path, char *problem,
                      size_t cap)
{
    for (size_t i = 0; i < obj->u.object.len; i++) {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp(*k, obj->u.object.keys[i]) == 0;
        if (!known) {
            char where[128];
            snprintf(where, sizeof(where), "%s%s%s", path, path[0] ? "." : "",
                     obj->u.object.keys[i]);
            return fail(problem, cap, where, "is not a known member");
        }
    }
    return true;
}

/* An optional integer in [min, max]; *out untouched when absent, null, or (not strict) invalid. */
static bool read_int(yajl_val parent, const char *key, long long min, long long max, bool strict,
                     const char *path, int *out, char *problem, size_t cap)
{
    yajl_val v = member(parent, key);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max) {
        if (!strict)
            return true;
        char what[96];
        snprintf(what, sizeof(what), "must be an integer from %lld to %lld", min, max);
        return fail(problem, cap, path, what);
    }
    *out = (int)YAJL_GET_INTEGER(v);
    return true;
}

static bool read_bool(yajl_val parent, const char *key, bool strict, const char *path, bool *out,
                      char *problem, size_t cap)
{
    yajl_val v = member(parent, key);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
        return strict ? fail(problem, cap, path, "must be a boolean") : true;
    *out = YAJL_IS_TRUE(v);
    return true;
}

/* ---- password policy ---- */

void latch_xp_password_policy_write(const struct latch_password_policy *p, struct latch_json *j)
{
    latch_json_begin_object(j);
    latch_json_key(j, "length");
    latch_json_begin_object(j);
    latch_json_key(j, "min");
    latch_json_int(j, p->min_length);
    latch_json_key(j, "max");
    latch_json_int(j, p->max_length);
    latch_json_end_object(j);
    latch_json_key(j, "characterTypes");
    latch_json_begin_object(j);
    latch_json_key(j, "min");
    latch_json_int(j, p->min_types);
    latch_json_end_object(j);
    latch_json_key(j, "rejects");
    latch_json_begin_object(j);
    latch_json_key(j, "pwned");
    latch_json_bool(j, false);
    latch_json_key(j, "repetitionAndSequence");
    latch_json_bool(j, p->reject_repetition_and_sequence);
    latch_json_key(j, "userInfo");
    latch_json_bool(j, p->reject_user_info);
    latch_json_key(j, "words");
    latch_json_begin_array(j);
    for (int i = 0; i < p->nwords; i++)
        latch_json_string(j, p->words[i]);
    latch_json_end_array(j);
    latch_json_end_object(j);
    latch_json_end_object(j);
}

void latch_xp_password_issue_interpolation(unsigned issue, const struct latch_password_policy *p,
                                           const char **name, int *value)
{
    *name = NULL;
    *value = 0;
    if (issue == LATCH_PASSWORD_TOO_SHORT) {
        *name = "min";
        *value = p->min_length;
    } else if (issue == LATCH_PASSWORD_TOO_LONG) {
        *name = "max";
        *value = p->max_length;
    } else if (issue == LATCH_PASSWORD_CHARACTER_TYPES) {
        *name = "min";
        *value = p->min_types;
    }
}

void latch_xp_password_issue_text(unsigned issue, const struct latch_password_policy *p, char *out,
                                  size_t cap)
{
    switch (issue) {
    case LATCH_PASSWORD_TOO_SHORT:
        snprintf(out, cap, "The password must be at least %d characters long.", p->min_length);
        break;
    case LATCH_PASSWORD_TOO_LONG:
        snprintf(out, cap, "The password must be at most %d characters long.", p->max_length);
        break;
    case LATCH_PASSWORD_CHARACTER_TYPES:
        snprintf(out, cap,
                 "The password must mix at least %d of: lowercase letters, uppercase letters, "
                 "digits and symbols.",
                 p->min_types);
        break;
    case LATCH_PASSWORD_UNSUPPORTED_CHARACTERS:
        snprintf(out, cap,
                 "The password may contain only ASCII letters, digits and symbols (no spaces).");
        break;
    case LATCH_PASSWORD_REPETITION:
        snprintf(out, cap, "The password must not be one character repeated.");
        break;
    case LATCH_PASSWORD_SEQUENCE:
        snprintf(out, cap, "The password must not be a sequence such as 123456 or abcdef.");
        break;
    case LATCH_PASSWORD_WORDS:
        snprintf(out, cap, "The password contains a word that is not allowed.");
        break;
    case LATCH_PASSWORD_USER_INFO:
        snprintf(out, cap, "The password must not contain your username.");
        break;
    default:
        snprintf(out, cap, "The password does not meet the requirements.");
    }
}

/* ---- sentinel policy ---- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

void latch_xp_sentinel_policy_default(struct latch_sentinel_policy *p)
{
    p->max_attempts = 100;
    p->lockout_minutes = 60;
}

bool latch_xp_sentinel_policy_read(yajl_val v, bool strict, struct latch_sentinel_policy *p,
                                   char *problem, size_t cap)
{
    static const char *const keys[] = {"maxAttempts", "lockoutDuration", NULL};
    latch_xp_sentinel_policy_default(p);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_OBJECT(v))
        return strict ? fail(problem, cap, "sentinelPolicy", "must be an object") : true;
    if (strict && !only_keys(v, keys, "sentinelPolicy", problem, cap))
        return false;
    return read_int(v, "maxAttempts", 1, SENTINEL_MAX_ATTEMPTS, strict,
                    "sentinelPolicy.maxAttempts", &p->max_attempts, problem, cap) &&
           read_int(v, "lockoutDuration", 1, SENTINEL_MAX_MINUTES, strict,
                    "sentinelPolicy.lockoutDuration", &p->lockout_minutes, problem, cap);
}

void latch_xp_sentinel_policy_write(const struct latch_sentinel_policy *p, struct latch_json *j)
{
    latch_json_begin_object(j);
    latch_json_key(j, "maxAttempts");
    latch_json_int(j, p->max_attempts);
    latch_json_key(j, "lockoutDuration");
    latch_json_int(j, p->lockout_minutes);
    latch_json_end_object(j);
}

latch_rc latch_xp_sentinel_key(const char *type, const char *value, char out[LATCH_TOKEN_HASH_TEXT])
{
    size_t tlen = strlen(type), vlen = strlen(value);
    char *buf = malloc(tlen + vlen + 2);
    if (buf == NULL)
        return LATCH_FAIL;
    memcpy(buf, type, tlen);
    buf[tlen] = ':';
    for (size_t i = 0; i < vlen; i++)
        buf[tlen + 1 + i] = lower(value[i]);
    buf[tlen + 1 + vlen] = '\0';
    latch_rc rc = latch_jose_token_hash(buf, out);
    free(buf);
    return rc;
}

latch_rc latch_xp_sentinel_user_key(const char *user_id, char out[LATCH_TOKEN_HASH_TEXT])
{
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "user:%s", user_id);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return LATCH_FAIL;
    return latch_jose_token_hash(buf, out);
}

/* ---- per-tenant throttling ---- */

bool latch_xp_rate_limits_read(yajl_val v, bool strict, struct latch_xp_rate_limits *rl,
                               char *problem, size_t cap)
{
    static const char *const keys[] = {"passwordFailuresPerIpPerMinute",
                                       "registrationChecksPerIpPerMinute", NULL};
    memset(rl, 0, sizeof(*rl));
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_OBJECT(v))
        return strict ? fail(problem, cap, "rateLimits", "must be an object") : true;
    if (strict && !only_keys(v, keys, "rateLimits", problem, cap))
        return false;
    return read_int(v, keys[0], LATCH_XP_RATE_LIMIT_MIN, LATCH_XP_RATE_LIMIT_MAX, strict,
                    "rateLimits.passwordFailuresPerIpPerMinute", &rl->password_failures_per_ip,
                    problem, cap) &&
           read_int(v, keys[1], LATCH_XP_RATE_LIMIT_MIN, LATCH_XP_RATE_LIMIT_MAX, strict,
                    "rateLimits.registrationChecksPerIpPerMinute", &rl->registration_checks_per_ip,
                    problem, cap);
}

void latch_xp_rate_limits_write(const struct latch_xp_rate_limits *rl, struct latch_json *j)
{
    latch_json_begin_object(j);
    if (rl->password_failures_per_ip > 0) {
        latch_json_key(j, "passwordFailuresPerIpPerMinute");
        latch_json_int(j, rl->password_failures_per_ip);
    }
    if (rl->registration_checks_per_ip > 0) {
        latch_json_key(j, "registrationChecksPerIpPerMinute");
        latch_json_int(j, rl->registration_checks_per_ip);
    }
    latch_json_end_object(j);
}

/* ---- language ---- */

void latch_xp_language_info_default(struct latch_language_info *li)
{
    li->auto_detect = true;
    snprintf(li->fallback, sizeof(li->fallback), "en");
}

/* The supported language ("en", "es") a BCP 47 tag of n bytes names, else NULL. */
static const char *supported(const char *tag, size_t n)
{
    size_t primary = 0;
    while (primary < n && tag[primary] != '-' && tag[primary] != '_')
        primary++;
    if (primary == 2 && strncasecmp(tag, "en", 2) == 0)
        return "en";
    if (primary == 2 && strncasecmp(tag, "es", 2) == 0)
        return "es";
    return NULL;
}

bool latch_xp_language_info_read(yajl_val v, bool strict, struct latch_language_info *li,
                                 char *problem, size_t cap)
{
    static const char *const keys[] = {"autoDetect", "fallbackLanguage", NULL};
    latch_xp_language_info_default(li);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_OBJECT(v))
        return strict ? fail(problem, cap, "languageInfo", "must be an object") : true;
    if (strict && !only_keys(v, keys, "languageInfo", problem, cap))
        return false;
    if (!read_bool(v, "autoDetect", strict, "languageInfo.autoDetect", &li->auto_detect, problem,
                   cap))
        return false;
    yajl_val f = member(v, "fallbackLanguage");
    if (f == NULL || YAJL_IS_NULL(f))
        return true;
    const char *lang = YAJL_IS_STRING(f) && strlen(f->u.string) == 2
                           ? supported(f->u.string, strlen(f->u.string))
                           : NULL;
    if (lang == NULL)
        return strict
                   ? fail(problem, cap, "languageInfo.fallbackLanguage", "must be \"en\" or \"es\"")
                   : true;
    snprintf(li->fallback, sizeof(li->fallback), "%s", lang);
    return true;
}

void latch_xp_language_info_write(const struct latch_language_info *li, struct latch_json *j)
{
    latch_json_begin_object(j);
    latch_json_key(j, "autoDetect");
    latch_json_bool(j, li->auto_detect);
    latch_json_key(j, "fallbackLanguage");
    latch_json_string(j, li->fallback);
    latch_json_end_object(j);
}

/* q-value of an Accept-Language parameter list (";q=0.5"), in thousandths; -1 when malformed. */
static int qvalue(const char *p, const char *end)
{
    int q = 1000;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        if (p == end)
            break;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            if (p < end && *p == '0') {
                q = 0;
                p++;
                if (p < end && *p == '.') {
                    p++;
                    int scale = 100;
                    for (int i = 0; i < 3 && p < end && *p >= '0' && *p <= '9'; i++, p++) {
                        q += (*p - '0') * scale;
                        scale /= 10;
                    }
                }
            } else if (p < end && *p == '1') {
                q = 1000;
                p++;
                if (p < end && *p == '.') {
                    p++;
                    for (int i = 0; i < 3 && p < end && *p == '0'; i++)
                        p++;
                }
            } else {
                return -1;
            }
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
            if (p < end && *p != ';')
                return -1;
        } else {
            while (p < end && *p != ';')
                p++; /* another parameter: ignored */
        }
    }
    return q;
}

const char *latch_xp_locale(const char *ui_locales, const char *accept_language,
                            const struct latch_language_info *li)
{
    if (ui_locales != NULL) {
        for (const char *p = ui_locales; *p;) {
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " ");
            const char *lang = n > 0 ? supported(p, n) : NULL;
            if (lang != NULL)
                return lang;
            p += n;
        }
    }
    if (accept_language != NULL && (li == NULL || li->auto_detect)) {
        const char *best = NULL;
        int best_q = 0;
        for (const char *p = accept_language; *p;) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            size_t n = strcspn(p, ",");
            if (n == 0)
                break;
            const char *end = p + n;
            size_t tag = strcspn(p, ";, \t");
            if (tag > n)
                tag = n;
            const char *lang = supported(p, tag);
            int q = qvalue(p + tag, end);
            if (lang != NULL && q > best_q) {
                best = lang;
                best_q = q;
            }
            p = end;
        }
        if (best != NULL)
            return best;
    }
    if (li != NULL && strcmp(li->fallback, "es") == 0)
        return "es";
    return "en";
}

/* ---- small checks ---- */

bool latch_xp_is_json(const char *ct)
{
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "application/json", 16) != 0)
        return false;
    ct += 16;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

bool latch_xp_csrf_ok(const char *expected, const char *given)
{
    if (expected == NULL || given == NULL)
        return false;
    size_t n = strlen(expected);
    if (n == 0 || strlen(given) != n)
        return false;
    return latch_jose_equal((const uint8_t *)expected, (const uint8_t *)given, n);
}

enum latch_xp_event latch_xp_event_parse(const char *s)
{
    if (s == NULL)
        return LATCH_XP_EVENT_NONE;
    if (strcmp(s, "SignIn") == 0)
        return LATCH_XP_EVENT_SIGN_IN;
    if (strcmp(s, "Register") == 0)
        return LATCH_XP_EVENT_REGISTER;
    if (strcmp(s, "ForgotPassword") == 0)
        return LATCH_XP_EVENT_FORGOT_PASSWORD;
    return LATCH_XP_EVENT_NONE;
}

bool latch_xp_mode_allows(const char *mode, enum latch_xp_event event)
{
    if (event == LATCH_XP_EVENT_SIGN_IN || event == LATCH_XP_EVENT_FORGOT_PASSWORD)
        return mode == NULL || strcmp(mode, "Register") != 0;
    if (event == LATCH_XP_EVENT_REGISTER)
        return mode == NULL || strcmp(mode, "SignIn") != 0;
    return false;
}

/* ---- sign-in and sign-up methods, password reset, verification codes ---- */

static const char *const id_names[] = {"username", "email", "phone"};

unsigned latch_xp_identifier_bit(const char *type)
{
    for (unsigned i = 0; type != NULL && i < 3; i++)
        if (strcmp(type, id_names[i]) == 0)
            return 1u << i;
    return 0;
}

void latch_xp_sign_in_default(struct latch_xp_sign_in *si)
{
    memset(si, 0, sizeof(*si));
    si->nmethods = 1;
    si->methods[0] = (struct latch_xp_sign_in_method){
        .identifier = LATCH_XP_ID_USERNAME, .password = true, .password_primary = true};
}

bool latch_xp_sign_in_read(yajl_val v, bool strict, struct latch_xp_sign_in *si, char *problem,
                           size_t cap)
{
    static const char *const keys[] = {"methods", NULL};
    static const char *const mkeys[] = {"identifier", "password", "verificationCode",
                                        "isPasswordPrimary", NULL};
    latch_xp_sign_in_default(si);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_OBJECT(v))
        return strict ? fail(problem, cap, "signIn", "must be an object") : true;
    if (strict && !only_keys(v, keys, "signIn", problem, cap))
        return false;
    yajl_val methods = member(v, "methods");
    if (methods == NULL || YAJL_IS_NULL(methods))
        return true;
    if (!YAJL_IS_ARRAY(methods) || methods->u.array.len > 3)
        return strict
                   ? fail(problem, cap, "signIn.methods", "must be an array of at most 3 methods")
                   : true;
    struct latch_xp_sign_in out = {0};
    unsigned seen = 0;
    for (size_t i = 0; i < methods->u.array.len; i++) {
        yajl_val m = methods->u.array.values[i];
        char path[64];
        snprintf(path, sizeof(path), "signIn.methods[%zu]", i);
        if (!YAJL_IS_OBJECT(m)) {
            if (strict)
                return fail(problem, cap, path, "must be an object");
            continue;
        }
        if (strict && !only_keys(m, mkeys, path, problem, cap))
            return false;
        yajl_val id = member(m, "identifier");
        unsigned bit = id != NULL && YAJL_IS_STRING(id) ? latch_xp_identifier_bit(id->u.string) : 0;
        struct latch_xp_sign_in_method sm = {
            .identifier = bit, .password = true, .password_primary = true};
        if (!read_bool(m, "password", strict, path, &sm.password, problem, cap) ||
            !read_bool(m, "verificationCode", strict, path, &sm.verification_code, problem, cap) ||
            !read_bool(m, "isPasswordPrimary", strict, path, &sm.password_primary, problem, cap))
            return false;
        const char *why = NULL;
        if (bit == 0)
            why = "identifier must be username, email or phone";
        else if (seen & bit)
            why = "identifier must not repeat";
        else if (!sm.password && !sm.verification_code)
            why = "must enable password, verificationCode or both";
        else if (bit == LATCH_XP_ID_USERNAME && sm.verification_code)
            why = "a username cannot receive a verification code";
        if (why != NULL) {
            if (strict)
                return fail(problem, cap, path, why);
            continue;
        }
        if (bit == LATCH_XP_ID_USERNAME)
            sm.password_primary = true;
        seen |= bit;
        out.methods[out.nmethods++] = sm;
    }
    *si = out;
    return true;
}

void latch_xp_sign_in_write(const struct latch_xp_sign_in *si, struct latch_json *j)
{
    latch_json_begin_object(j);
    latch_json_key(j, "methods");
    latch_json_begin_array(j);
    for (int i = 0; i < si->nmethods; i++) {
        const struct latch_xp_sign_in_method *m = &si->methods[i];
        const char *name = m->identifier == LATCH_XP_ID_EMAIL   ? "email"
                           : m->identifier == LATCH_XP_ID_PHONE ? "phone"
                                                                : "username";
        latch_json_begin_object(j);
        latch_json_key(j, "identifier");
        latch_json_string(j, name);
        latch_json_key(j, "password");
        latch_json_bool(j, m->password);
        latch_json_key(j, "verificationCode");
        latch_json_bool(j, m->verification_code);
        latch_json_key(j, "isPasswordPrimary");
        latch_json_bool(j, m->password_primary);
        latch_json_end_object(j);
    }
    latch_json_end_array(j);
    latch_json_end_object(j);
}

bool latch_xp_sign_in_by_code(const struct latch_xp_sign_in *si, unsigned identifier)
{
    for (int i = 0; i < si->nmethods; i++)
        if (si->methods[i].identifier == identifier)
            return si->methods[i].verification_code;
    return false;
}

void latch_xp_sign_up_read(yajl_val v, struct latch_xp_sign_up *su)
{
    su->identifiers = LATCH_XP_ID_USERNAME;
    su->password = true;
    su->verify = false;
    if (v == NULL || !YAJL_IS_OBJECT(v))
        return;
    yajl_val ids = member(v, "identifiers");
    if (ids != NULL && YAJL_IS_ARRAY(ids)) {
        su->identifiers = 0;
        for (size_t i = 0; i < ids->u.array.len; i++) {
            yajl_val t = ids->u.array.values[i];
            su->identifiers |= YAJL_IS_STRING(t) ? latch_xp_identifier_bit(t->u.string) : 0;
        }
    }
    (void)read_bool(v, "password", false, "signUp.password", &su->password, NULL, 0);
    (void)read_bool(v, "verify", false, "signUp.verify", &su->verify, NULL, 0);
}

static const char *const forgot_names[] = {"EmailVerificationCode", "PhoneVerificationCode"};

bool latch_xp_forgot_methods_read(yajl_val v, bool strict, unsigned *methods, char *problem,
                                  size_t cap)
{
    *methods = 0;
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_ARRAY(v))
        return strict ? fail(problem, cap, "forgotPasswordMethods", "must be an array") : true;
    unsigned out = 0;
    for (size_t i = 0; i < v->u.array.len; i++) {
        yajl_val t = v->u.array.values[i];
        unsigned bit = 0;
        for (int k = 0; k < 2 && YAJL_IS_STRING(t); k++)
            if (strcmp(t->u.string, forgot_names[k]) == 0)
                bit = k == 0 ? LATCH_XP_ID_EMAIL : LATCH_XP_ID_PHONE;
        if (bit == 0 || (out & bit)) {
            if (strict)
                return fail(problem, cap, "forgotPasswordMethods",
                            "each must be EmailVerificationCode or PhoneVerificationCode, once");
            continue;
        }
        out |= bit;
    }
    *methods = out;
    return true;
}

void latch_xp_forgot_methods_write(unsigned methods, struct latch_json *j)
{
    latch_json_begin_array(j);
    if (methods & LATCH_XP_ID_EMAIL)
        latch_json_string(j, forgot_names[0]);
    if (methods & LATCH_XP_ID_PHONE)
        latch_json_string(j, forgot_names[1]);
    latch_json_end_array(j);
}

void latch_xp_code_policy_default(struct latch_xp_code_policy *p)
{
    p->ttl_seconds = LATCH_XP_CODE_TTL_DEFAULT;
    p->max_tries = LATCH_XP_CODE_TRIES_DEFAULT;
}

bool latch_xp_code_policy_read(yajl_val v, bool strict, struct latch_xp_code_policy *p,
                               char *problem, size_t cap)
{
    static const char *const keys[] = {"expirationDuration", "maxRetryAttempts", NULL};
    latch_xp_code_policy_default(p);
    if (v == NULL || YAJL_IS_NULL(v))
        return true;
    if (!YAJL_IS_OBJECT(v))
        return strict ? fail(problem, cap, "verificationCodePolicy", "must be an object") : true;
    if (strict && !only_keys(v, keys, "verificationCodePolicy", problem, cap))
        return false;
    return read_int(v, "expirationDuration", LATCH_XP_CODE_TTL_MIN, LATCH_XP_CODE_TTL_MAX, strict,
                    "verificationCodePolicy.expirationDuration", &p->ttl_seconds, problem, cap) &&
           read_int(v, "maxRetryAttempts", LATCH_XP_CODE_TRIES_MIN, LATCH_XP_CODE_TRIES_MAX, strict,
                    "verificationCodePolicy.maxRetryAttempts", &p->max_tries, problem, cap);
}

void latch_xp_code_policy_write(const struct latch_xp_code_policy *p, struct latch_json *j)
{
    latch_json_begin_object(j);
    latch_json_key(j, "expirationDuration");
    latch_json_int(j, p->ttl_seconds);
    latch_json_key(j, "maxRetryAttempts");
    latch_json_int(j, p->max_tries);
    latch_json_end_object(j);
}
