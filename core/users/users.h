/*
 * users/: the people of a tenant, in Logto's shapes, shared by the Management API
 * (mgmt/users.c) and the Experience API (experience/): user ids, the SQL that renders a user as
 * Logto's JSON, the statements sign-in and registration need, Logto's identifier formats, and
 * Logto's password policy checker.
 *
 * Everything here is pure (or a constant statement) and may be used from any thread; the
 * statements run through store/ on a loop thread like any other. Password hashing itself is in
 * users/password.h and belongs on the worker pool.
 */
#ifndef LATCH_USERS_USERS_H
#define LATCH_USERS_USERS_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"
#include "util/error.h"

#define LATCH_USERS_ID_LEN 12 /* Logto: user ids are 12 characters of [0-9a-z] */

/* Writes a new user id (LATCH_USERS_ID_LEN characters + NUL) into out. */
latch_rc latch_users_new_id(char out[LATCH_USERS_ID_LEN + 1]) LATCH_MUST_CHECK;

/* ---- SQL ---- */

/* SQL text is laid out by hand; clang-format would scatter it. */
// clang-format off
/* A timestamptz column as epoch milliseconds (JSON number; null stays null). */
#define LATCH_USERS_SQL_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* A user as Logto's Management API answers it (userInfoSelectFields + hasPassword), built from
 * the row alias u (a string literal: LATCH_USERS_SQL_JSON("u")). Never includes the hash. */
#define LATCH_USERS_SQL_JSON(u)                                                                    \
    "json_build_object('id', " u ".id, 'username', " u ".username, 'primaryEmail', " u             \
    ".primary_email, 'primaryPhone', " u ".primary_phone, 'name', " u ".name, 'avatar', " u        \
    ".avatar, 'customData', " u ".custom_data, 'identities', " u ".identities, 'lastSignInAt', "   \
    LATCH_USERS_SQL_MS(u ".last_sign_in_at") ", 'createdAt', "                                     \
    LATCH_USERS_SQL_MS(u ".created_at") ", 'updatedAt', " LATCH_USERS_SQL_MS(u ".updated_at")      \
    ", 'profile', " u ".profile, 'applicationId', " u ".application_id, 'isSuspended', " u         \
    ".is_suspended, 'hasPassword', " u ".password_encrypted IS NOT NULL)"
// clang-format on

/*
 * Statements (prepared per connection by store/). Parameters: $1 is always the tenant id.
 *
 * Sign-in lookup, $2 the identifier as typed; at most one row:
 *   0 id, 1 password_encrypted (NULL: no password), 2 password_encryption_method,
 *   3 is_suspended ("t"/"f").
 * Username and email compare without case (as the unique indexes do), phone exactly.
 */
extern const struct latch_stmt latch_users_stmt_find_username;
extern const struct latch_stmt latch_users_stmt_find_email;
extern const struct latch_stmt latch_users_stmt_find_phone;

/* The lookup for an identifier type ("username", "email", "phone"), NULL for anything else. */
const struct latch_stmt *latch_users_find_stmt(const char *type);

/* Registration: $2 new id (latch_users_new_id), $3 username, $4 Argon2i PHC hash.
 * Returns one row: 0 id, 1 the user's JSON. A taken username fails with SQLSTATE 23505. */
extern const struct latch_stmt latch_users_stmt_insert_password;

/* Replaces the hash after a successful verification that asked for an upgrade: $2 user id,
 * $3 the new Argon2i hash, $4 the hash that was verified. Changes nothing when the stored hash
 * is no longer $4 (the password changed meanwhile). Affected rows: 1 or 0. */
extern const struct latch_stmt latch_users_stmt_upgrade_password;

/* Records a sign-in: last_sign_in_at = now(); $2 user id. */
extern const struct latch_stmt latch_users_stmt_touch_sign_in;

/* ---- identifier formats (Logto's core-kit regular expressions) ---- */

/* How a sign-in identifier finds its user, as SQL conditions on the users row prefixed by p
 * ("" or "u.") against the parameter v ("$2"): usernames and emails case-insensitively, phones
 * exactly. Every statement that resolves an identifier uses these, so all resolve it alike. */
#define LATCH_USERS_SQL_MATCH_USERNAME(p, v) "lower(" p "username) = lower(" v ")"
#define LATCH_USERS_SQL_MATCH_EMAIL(p, v)    "lower(" p "primary_email) = lower(" v ")"
#define LATCH_USERS_SQL_MATCH_PHONE(p, v)    p "primary_phone = " v

#define LATCH_USERS_IDENTIFIER_MAX 128 /* users.username/primary_email/primary_phone */

/* ^[A-Z_a-z]\w*$ (ASCII), 1..128 characters. */
bool latch_users_username_ok(const char *s);
/* ^\S+@\S+\.\S+$ (whitespace as JavaScript's \s for ASCII), at most 128 bytes. */
bool latch_users_email_ok(const char *s);
/* ^\d+$, 1..128 digits. */
bool latch_users_phone_ok(const char *s);

/* The costliest stored hashes latch_password_verify() agrees to compute (anything above is
 * refused, so that a stored hash cannot tie up a worker): the configuration's own maxima for
 * Argon2, and bcrypt cost 16 (about five seconds on one core). */
#define LATCH_PASSWORD_VERIFY_MAX_MEMORY_KIB 1048576u
#define LATCH_PASSWORD_VERIFY_MAX_ITERATIONS 64u
#define LATCH_PASSWORD_VERIFY_MAX_LANES      16u
#define LATCH_PASSWORD_VERIFY_MAX_BCRYPT     16

/* Whether digest looks like a hash of method that latch_password_verify() would compute
 * ("Argon2i", "Argon2id", "Argon2d": a PHC string of that variant with m, t and p within the
 * limits above; "Bcrypt": $2a$/$2b$/$2y$, cost 04..16, 53 characters of salt and hash), at most
 * 256 bytes. For imports: a digest refused here could never be verified. */
bool latch_users_digest_ok(const char *method, const char *digest);

/* ---- password policy (Logto's PasswordPolicyChecker, without the pwned check) ---- */

#define LATCH_POLICY_MAX_WORDS 64
#define LATCH_POLICY_WORD_MAX  128

struct latch_password_policy {
    int min_length; /* length.min, default 8 */
    int max_length; /* length.max, default 256 (never more than LATCH_PASSWORD_MAX) */
    int min_types;  /* characterTypes.min 1..4, default 1: lowercase, uppercase, digits, symbols */
    bool reject_repetition_and_sequence; /* rejects.repetitionAndSequence, default true */
    bool reject_user_info;               /* rejects.userInfo, default true */
    int nwords;                          /* rejects.words */
    char words[LATCH_POLICY_MAX_WORDS][LATCH_POLICY_WORD_MAX + 1];
};

/* What the user is known by, for rejects.userInfo; NULL members are skipped. Borrowed. */
struct latch_users_info {
    const char *username;
    const char *email;
    const char *phone;
    const char *name;
};

/* Logto's default policy: length 8..256, 1 character type, rejects repetition, sequences and
 * the user's own info. */
void latch_users_policy_default(struct latch_password_policy *policy);

/* Reads a policy from its JSON (sign_in_experiences.password_policy, Logto's shape
 * {"length":{"min","max"},"characterTypes":{"min"},"rejects":{"repetitionAndSequence",
 * "userInfo","words"}}; missing members keep the defaults; "pwned" is accepted and ignored).
 * Fails with 400 guard.invalid_input naming the member on a wrong type or range. */
latch_rc latch_users_policy_parse(const char *json, struct latch_password_policy *policy,
                                  struct latch_error *err) LATCH_MUST_CHECK;

/* Issues of a password (a bit set). */
enum {
    LATCH_PASSWORD_TOO_SHORT = 1 << 0,
    LATCH_PASSWORD_TOO_LONG = 1 << 1,
    LATCH_PASSWORD_CHARACTER_TYPES = 1 << 2,
    LATCH_PASSWORD_UNSUPPORTED_CHARACTERS = 1 << 3,
    LATCH_PASSWORD_REPETITION = 1 << 4,
    LATCH_PASSWORD_SEQUENCE = 1 << 5,
    LATCH_PASSWORD_USER_INFO = 1 << 6,
    LATCH_PASSWORD_WORDS = 1 << 7,
};

/*
 * Checks password against policy as Logto does: length in characters, character types (only
 * printable ASCII letters, digits and the 32 ASCII symbols are supported; anything else, space
 * included, is unsupported), and the restricted phrases: repetitions (aaa) and sequences (abc,
 * 123, qwerty rows, keyboard columns, also reversed) of 3 or more, the user's own info
 * (username, name and its words, the email's local part, phone) and the policy's words, all
 * without case. Like Logto, restricted phrases reject the password only when they cover all
 * but at most 3 of its characters (so "alice" is refused for user alice, "alice-Mar7!x" is
 * not). info may be NULL. Returns the issues found (0 = acceptable).
 */
unsigned latch_users_password_issues(const char *password,
                                     const struct latch_password_policy *policy,
                                     const struct latch_users_info *info);

/* Logto's code of one issue bit ("password_rejected.too_short", ...). */
const char *latch_users_password_issue_code(unsigned issue);

/* True when the password is acceptable; otherwise *why (may be NULL) gets the code of the first
 * issue. policy NULL means the default policy. */
bool latch_users_password_ok(const char *password, const struct latch_password_policy *policy,
                             const struct latch_users_info *info, const char **why);

#endif
