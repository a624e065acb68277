/*
 * The pure rules behind the Experience API and the sign-in experience settings, kept free of I/O
 * so unit tests can drive them: reading the JSON policies stored in sign_in_experiences (sentinel,
 * language, Latch's rateLimits) with their defaults, writing the password policy and its rejection
 * issues in Logto's shapes (the checker itself is users/users.h), the sentinel's keys, choosing
 * the page language from ui_locales and Accept-Language, and the small request checks (JSON
 * content type, CSRF token, interaction event and sign-in mode).
 *
 * Any thread; nothing here allocates except where a function says so.
 */
#ifndef LATCH_EXPERIENCE_POLICY_H
#define LATCH_EXPERIENCE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "jose/secret.h"
#include "util/error.h"
#include "users/users.h"
#include "util/json.h"

/* ---- password policy (users/users.h checks it) ---- */

/* Writes policy as Logto's complete passwordPolicy object ("pwned" is always false: Latch does
 * not look passwords up online). */
void latch_xp_password_policy_write(const struct latch_password_policy *policy,
                                    struct latch_json *j);

/* Logto's interpolation for one issue bit (LATCH_PASSWORD_TOO_SHORT → "min" = policy's minimum),
 * *name NULL when the issue has none. */
void latch_xp_password_issue_interpolation(unsigned issue,
                                           const struct latch_password_policy *policy,
                                           const char **name, int *value);

/* An English sentence for one issue bit ("The password must be at least 8 characters long."). */
void latch_xp_password_issue_text(unsigned issue, const struct latch_password_policy *policy,
                                  char *out, size_t cap);

/* ---- sentinel policy (Logto's sentinelPolicy) ---- */

#define LATCH_XP_SENTINEL_WINDOW_MINUTES 60 /* failures older than this are forgotten */

struct latch_sentinel_policy {
    int max_attempts;    /* failures in the window that lock the identifier, default 100 */
    int lockout_minutes; /* lockoutDuration, default 60 */
};

void latch_xp_sentinel_policy_default(struct latch_sentinel_policy *p);
bool latch_xp_sentinel_policy_read(yajl_val v, bool strict, struct latch_sentinel_policy *p,
                                   char *problem, size_t cap);
void latch_xp_sentinel_policy_write(const struct latch_sentinel_policy *p, struct latch_json *j);

/* The sentinel's key for an identifier nobody has: latch_jose_token_hash("<type>:<value in
 * lowercase>") (ASCII case folding). */
latch_rc latch_xp_sentinel_key(const char *type, const char *value,
                               char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* The sentinel's key for a user, whichever identifier was typed:
 * latch_jose_token_hash("user:<id>") (the id as stored; in SQL
 * sha256(convert_to('user:' || id, 'UTF8'))). No identifier key can be equal: types are
 * username, email and phone. */
latch_rc latch_xp_sentinel_user_key(const char *user_id,
                                    char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* ---- per-tenant throttling (Latch's rateLimits) ---- */

/* Bounds of a tenant's override: a tenant may lower or raise the node's limit but not switch
 * the throttle off or open it wide (Argon2 runs on the node's shared CPU lane). */
#define LATCH_XP_RATE_LIMIT_MIN 1
#define LATCH_XP_RATE_LIMIT_MAX 10000

/* Failures a minute per client IP in this tenant; 0 = the node's LATCH_LIMIT_* applies. */
struct latch_xp_rate_limits {
    int password_failures_per_ip;   /* passwordFailuresPerIpPerMinute */
    int registration_checks_per_ip; /* registrationChecksPerIpPerMinute */
};

/* Reads rateLimits (members optional, null = the node's default). Strict reads refuse unknown
 * members and values outside [LATCH_XP_RATE_LIMIT_MIN, LATCH_XP_RATE_LIMIT_MAX], naming the
 * member in problem; lenient reads (stored values) skip what is invalid. */
bool latch_xp_rate_limits_read(yajl_val v, bool strict, struct latch_xp_rate_limits *rl,
                               char *problem, size_t cap);
/* Writes the members that are set (an empty object when none is). */
void latch_xp_rate_limits_write(const struct latch_xp_rate_limits *rl, struct latch_json *j);

/* ---- language (Logto's languageInfo) ---- */

struct latch_language_info {
    bool auto_detect; /* use Accept-Language; default true */
    char fallback[8]; /* "en" or "es"; default "en" */
};

void latch_xp_language_info_default(struct latch_language_info *li);
bool latch_xp_language_info_read(yajl_val v, bool strict, struct latch_language_info *li,
                                 char *problem, size_t cap);
void latch_xp_language_info_write(const struct latch_language_info *li, struct latch_json *j);

/*
 * The page language, "en" or "es" (static strings): the first tag of ui_locales (space-separated
 * BCP 47 tags, OIDC) whose language is supported; else, when li->auto_detect, the supported
 * language with the highest q in Accept-Language (first one on ties, q=0 excluded); else
 * li->fallback. Each input may be NULL.
 */
const char *latch_xp_locale(const char *ui_locales, const char *accept_language,
                            const struct latch_language_info *li);

/* ---- small checks ---- */

/* Content-Type is application/json, parameters (charset) allowed, case-insensitive. */
bool latch_xp_is_json(const char *content_type);

/* given equals expected, compared in constant time (lengths may differ; NULLs never match). */
bool latch_xp_csrf_ok(const char *expected, const char *given);

/* interactionEvent values. */
enum latch_xp_event {
    LATCH_XP_EVENT_NONE = 0,
    LATCH_XP_EVENT_SIGN_IN,
    LATCH_XP_EVENT_REGISTER,
    LATCH_XP_EVENT_FORGOT_PASSWORD,
};

/* "SignIn", "Register", "ForgotPassword" (else NONE). */
enum latch_xp_event latch_xp_event_parse(const char *s);

/* Whether sign_in_mode ("SignIn", "Register", "SignInAndRegister") allows event (ForgotPassword
 * as SignIn: a tenant without sign-in has no password to reset). */
bool latch_xp_mode_allows(const char *sign_in_mode, enum latch_xp_event event);

/* ---- sign-in and sign-up methods, password reset, verification codes ---- */

enum {
    LATCH_XP_ID_USERNAME = 1 << 0,
    LATCH_XP_ID_EMAIL = 1 << 1,
    LATCH_XP_ID_PHONE = 1 << 2,
};

/* The bit of "username", "email", "phone" (0 otherwise). */
unsigned latch_xp_identifier_bit(const char *type);

/* signIn: {methods: [{identifier, password, verificationCode, isPasswordPrimary}]}, at most one
 * method per identifier. */
struct latch_xp_sign_in_method {
    unsigned identifier; /* one LATCH_XP_ID_* bit */
    bool password;
    bool verification_code;
    bool password_primary;
};
struct latch_xp_sign_in {
    int nmethods;
    struct latch_xp_sign_in_method methods[3];
};

/* Logto's OSS default: username with password. */
void latch_xp_sign_in_default(struct latch_xp_sign_in *si);
/* Strict reads (PATCH) refuse unknown identifiers, duplicates, a method with neither password
 * nor verificationCode and a username with verificationCode, naming the member in problem;
 * lenient reads (stored values) skip what is invalid. Missing booleans: password true,
 * verificationCode false, isPasswordPrimary true. */
bool latch_xp_sign_in_read(yajl_val v, bool strict, struct latch_xp_sign_in *si, char *problem,
                           size_t cap);
void latch_xp_sign_in_write(const struct latch_xp_sign_in *si, struct latch_json *j);
/* Whether signing in by a code sent to an identifier of this bit is enabled. */
bool latch_xp_sign_in_by_code(const struct latch_xp_sign_in *si, unsigned identifier);

/* signUp, read leniently from storage (settings.c validates what is written). */
struct latch_xp_sign_up {
    unsigned identifiers; /* LATCH_XP_ID_* bits; default username */
    bool password;        /* default true */
    bool verify;          /* default false */
};
void latch_xp_sign_up_read(yajl_val v, struct latch_xp_sign_up *su);

/* forgotPasswordMethods: ["EmailVerificationCode", "PhoneVerificationCode"] as LATCH_XP_ID_EMAIL
 * and LATCH_XP_ID_PHONE bits; default none (password reset off). Strict reads refuse anything
 * else and duplicates. */
bool latch_xp_forgot_methods_read(yajl_val v, bool strict, unsigned *methods, char *problem,
                                  size_t cap);
void latch_xp_forgot_methods_write(unsigned methods, struct latch_json *j);

/* verificationCodePolicy: {expirationDuration (s), maxRetryAttempts}. */
struct latch_xp_code_policy {
    int ttl_seconds; /* expirationDuration */
    int max_tries;   /* maxRetryAttempts */
};
void latch_xp_code_policy_default(struct latch_xp_code_policy *p);
bool latch_xp_code_policy_read(yajl_val v, bool strict, struct latch_xp_code_policy *p,
                               char *problem, size_t cap);
void latch_xp_code_policy_write(const struct latch_xp_code_policy *p, struct latch_json *j);

#endif
