/*
 * The pure rules of verification codes (Logto's passcodes) and of the sign-in experience fields
 * that govern them, kept free of I/O so unit tests can drive them: making a code (6 digits, every
 * value equally likely), its keyed hash (what verification_codes.code_hash stores, see
 * schema/0010), the constant-time comparison and the verdict on a stored code (Logto's order:
 * not found, identifier mismatch, expired, too many tries). The sign-in experience fields that
 * govern codes (signIn.methods, signUp, forgotPasswordMethods, verificationCodePolicy) are read
 * in policy.h.
 *
 * Any thread; nothing here allocates.
 */
#ifndef LATCH_EXPERIENCE_CODE_H
#define LATCH_EXPERIENCE_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jose/secret.h"
#include "util/error.h"

#define LATCH_XP_CODE_DIGITS 6
/* The longest code a client may submit (anything longer is refused before any work). */
#define LATCH_XP_CODE_INPUT_MAX 32

/* verificationCodePolicy bounds and defaults (Logto's). */
#define LATCH_XP_CODE_TTL_MIN       60
#define LATCH_XP_CODE_TTL_MAX       3600
#define LATCH_XP_CODE_TTL_DEFAULT   600
#define LATCH_XP_CODE_TRIES_MIN     1
#define LATCH_XP_CODE_TRIES_MAX     100
#define LATCH_XP_CODE_TRIES_DEFAULT 10

/* Resend throttle per identifier (in PostgreSQL, shared by the nodes): one code per
 * LATCH_XP_CODE_RESEND_SECONDS, at most LATCH_XP_CODE_PER_HOUR in an hour. */
#define LATCH_XP_CODE_RESEND_SECONDS 60
#define LATCH_XP_CODE_PER_HOUR       10

/* A number macro as SQL text. */
#define LATCH_XP_STR_(x) #x
#define LATCH_XP_STR(x)  LATCH_XP_STR_(x)

/* The key purpose under LATCH_SECRET_KEY (latch_jose_derive_key). */
#define LATCH_XP_CODE_KEY_PURPOSE "latch/verification-code/v1"

/* Logto's TemplateType values a code is sent with (the numbers of plugins-api's
 * latch_connector_template and of core/messages). */
enum latch_xp_code_template {
    LATCH_XP_TEMPLATE_SIGN_IN = 1,
    LATCH_XP_TEMPLATE_REGISTER = 2,
    LATCH_XP_TEMPLATE_FORGOT_PASSWORD = 3,
    LATCH_XP_TEMPLATE_GENERIC = 4,
    LATCH_XP_TEMPLATE_BIND_NEW_IDENTIFIER = 7,
};

/* "SignIn", "Register", "ForgotPassword", "Generic", "BindNewIdentifier" and back (0 / NULL
 * for anything else). */
enum latch_xp_code_template latch_xp_code_template_parse(const char *s);
const char *latch_xp_code_template_name(enum latch_xp_code_template t);

/* Writes a new code: LATCH_XP_CODE_DIGITS decimal digits and a NUL, uniformly distributed
 * (OpenSSL's CSPRNG with rejection sampling, no modulo bias). */
latch_rc latch_xp_code_generate(char out[LATCH_XP_CODE_DIGITS + 1]) LATCH_MUST_CHECK;

/*
 * The stored form of a code: HMAC-SHA-256 under key (derived with LATCH_XP_CODE_KEY_PURPOSE) of
 * "tenant\nverification id\ntype\nvalue\ncode", the value of an email in ASCII lowercase, as
 * PostgreSQL bytea text ("\\x" + 64 hex digits). Binding the row's context means a hash copied
 * to another row, identifier or tenant never matches. Fails only when a part contains a newline
 * or OpenSSL fails.
 */
latch_rc latch_xp_code_hash(const uint8_t key[32], const char *tenant, const char *id,
                            const char *type, const char *value, const char *code,
                            char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* Whether two hashes in bytea text are equal, in time independent of where they differ (NULLs
 * and different lengths never match). */
bool latch_xp_code_hash_equal(const char *a, const char *b);

/* A stored code as read back (see experience/verification_code.c). */
struct latch_xp_code_row {
    bool found;        /* a row with that id for this interaction */
    const char *type;  /* identifier_type */
    const char *value; /* identifier */
    bool used;         /* verified or consumed already (codes are single use) */
    bool expired;      /* expires_at <= now() */
    int try_count;
    int max_tries;
};

enum latch_xp_code_verdict {
    LATCH_XP_CODE_USABLE = 0,
    LATCH_XP_CODE_NOT_FOUND,      /* verification_code.not_found */
    LATCH_XP_CODE_EMAIL_MISMATCH, /* verification_code.email_mismatch */
    LATCH_XP_CODE_PHONE_MISMATCH, /* verification_code.phone_mismatch */
    LATCH_XP_CODE_EXPIRED,        /* verification_code.expired */
    LATCH_XP_CODE_EXCEEDED,       /* verification_code.exceed_max_try */
};

/* Whether row may be tried with the identifier (type, value) the client names, in Logto's
 * order; an email compares without ASCII case, a phone exactly. */
enum latch_xp_code_verdict latch_xp_code_check(const struct latch_xp_code_row *row,
                                               const char *type, const char *value);

/* Logto's error code and English message for a verdict (also for the wrong code:
 * LATCH_XP_CODE_USABLE gives verification_code.code_mismatch). */
const char *latch_xp_code_error(enum latch_xp_code_verdict v, const char **message);

/* Whether value is a well-formed identifier of type "email" or "phone" (users/'s formats). */
bool latch_xp_code_identifier_ok(const char *type, const char *value);

#endif
