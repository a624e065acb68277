/*
 * Users (users.h): ids, the statements sign-in and registration share, Logto's identifier
 * formats, and a port of Logto's PasswordPolicyChecker (packages/toolkit/core-kit
 * password-policy.ts) minus the pwned-password lookup, which would need the network.
 */
#include "users/users.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "jose/secret.h"
#include "users/password.h"

latch_rc latch_users_new_id(char out[LATCH_USERS_ID_LEN + 1])
{
    return latch_jose_random_id(out, LATCH_USERS_ID_LEN);
}

/* ---- statements ---- */

// clang-format off
#define FIND_COLUMNS                                                                               \
    "SELECT id, password_encrypted, password_encryption_method, is_suspended FROM users"

const struct latch_stmt latch_users_stmt_find_username = {
    .name = "users_find_username",
    .sql = FIND_COLUMNS " WHERE tenant_id = $1 AND " LATCH_USERS_SQL_MATCH_USERNAME("", "$2"),
    .nparams = 2,
};

const struct latch_stmt latch_users_stmt_find_email = {
    .name = "users_find_email",
    .sql = FIND_COLUMNS " WHERE tenant_id = $1 AND " LATCH_USERS_SQL_MATCH_EMAIL("", "$2"),
    .nparams = 2,
};

const struct latch_stmt latch_users_stmt_find_phone = {
    .name = "users_find_phone",
    .sql = FIND_COLUMNS " WHERE tenant_id = $1 AND " LATCH_USERS_SQL_MATCH_PHONE("", "$2"),
    .nparams = 2,
};

const struct latch_stmt latch_users_stmt_insert_password = {
    .name = "users_insert_password",
    .sql = "INSERT INTO users AS u (tenant_id, id, username, password_encrypted,"
           " password_encryption_method) VALUES ($1, $2, $3, $4, 'Argon2i')"
           " RETURNING u.id, " LATCH_USERS_SQL_JSON("u"),
    .nparams = 4,
};

const struct latch_stmt latch_users_stmt_upgrade_password = {
    .name = "users_upgrade_password",
    .sql = "UPDATE users SET password_encrypted = $3, password_encryption_method = 'Argon2i'"
           " WHERE tenant_id = $1 AND id = $2 AND password_encrypted = $4",
    .nparams = 4,
};

const struct latch_stmt latch_users_stmt_touch_sign_in = {
    .name = "users_touch_sign_in",
    .sql = "UPDATE users SET last_sign_in_at = now() WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};
// clang-format on

const struct latch_stmt *latch_users_find_stmt(const char *type)
{
    if (type == NULL)
        return NULL;
    if (strcmp(type, "username") == 0)
        return &latch_users_stmt_find_username;
    if (strcmp(type, "email") == 0)
        return &latch_users_stmt_find_email;
    if (strcmp(type, "phone") == 0)
        return &latch_users_stmt_find_phone;
    return NULL;
}

/* ---- identifier formats ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* JavaScript's \s for the ASCII range (the regexes run on JS strings in Logto; non-ASCII
 * whitespace is rare enough in identifiers to treat as "not whitespace" here, but control
 * characters are refused by the body readers before this). */
static bool is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

bool latch_users_username_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LATCH_USERS_IDENTIFIER_MAX || !(is_alpha(s[0]) || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(is_alpha(s[i]) || is_digit(s[i]) || s[i] == '_'))
            return false;
    return true;
}

bool latch_users_email_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LATCH_USERS_IDENTIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (is_space(s[i]))
            return false;
    /* \S+@\S+\.\S+ : some '@' with text before it, then a '.' with text on both sides. With no
     * whitespace at all, trying each '@' and each later '.' covers every match. */
    for (const char *at = strchr(s + 1, '@'); at != NULL; at = strchr(at + 1, '@')) {
        for (const char *dot = strchr(at + 2, '.'); at[1] != '\0' && dot != NULL;
             dot = strchr(dot + 1, '.'))
            if (dot[1] != '\0')
                return true;
    }
    return false;
}

bool latch_users_phone_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > LATCH_USERS_IDENTIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return false;
    return true;
}

static bool all_in(const char *s, const char *set_extra)
{
    for (; *s; s++)
        if (!(is_alpha(*s) || is_digit(*s) || strchr(set_extra, *s) != NULL))
            return false;
    return true;
}

bool latch_users_digest_ok(const char *method, const char *digest)
{
    if (method == NULL || digest == NULL || strlen(digest) > LATCH_PASSWORD_HASH_MAX)
        return false;
    const char *prefix = NULL;
    if (strcmp(method, "Argon2i") == 0)
        prefix = "$argon2i$";
    else if (strcmp(method, "Argon2id") == 0)
        prefix = "$argon2id$";
    else if (strcmp(method, "Argon2d") == 0)
        prefix = "$argon2d$";
    if (prefix != NULL) {
        size_t n = strlen(prefix);
        if (strncmp(digest, prefix, n) != 0 || !all_in(digest + n, "$=,+/"))
            return false;
        /* [v=<n>$]m=<n>,t=<n>,p=<n>$<salt>$<hash> */
        const char *params = digest + n;
        if (strncmp(params, "v=", 2) == 0) {
            params = strchr(params, '$');
            if (params == NULL)
                return false;
            params++;
        }
        unsigned m, t, p;
        int used = 0;
        if (sscanf(params, "m=%10u,t=%10u,p=%10u$%n", &m, &t, &p, &used) != 3 || used == 0)
            return false;
        const char *salt = params + used;
        const char *hash = strchr(salt, '$');
        return m >= 1 && m <= LATCH_PASSWORD_VERIFY_MAX_MEMORY_KIB && t >= 1 &&
               t <= LATCH_PASSWORD_VERIFY_MAX_ITERATIONS && p >= 1 &&
               p <= LATCH_PASSWORD_VERIFY_MAX_LANES && hash != NULL && hash > salt &&
               hash[1] != '\0' && strchr(hash + 1, '$') == NULL;
    }
    if (strcmp(method, "Bcrypt") == 0) {
        const char *s = digest;
        if (strlen(s) != 60 || s[0] != '$' || s[1] != '2' ||
            (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$' || !is_digit(s[4]) ||
            !is_digit(s[5]) || s[6] != '$')
            return false;
        int cost = (s[4] - '0') * 10 + (s[5] - '0');
        return cost >= 4 && cost <= LATCH_PASSWORD_VERIFY_MAX_BCRYPT && all_in(s + 7, "./");
    }
    return false;
}

/* ---- password policy ---- */

void latch_users_policy_default(struct latch_password_policy *policy)
{
    memset(policy, 0, sizeof(*policy));
    policy->min_length = 8;
    policy->max_length = 256;
    policy->min_types = 1;
    policy->reject_repetition_and_sequence = true;
    policy->reject_user_info = true;
}

static yajl_val member(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

static latch_rc policy_invalid(struct latch_error *err, const char *what)
{
    return latch_error_set(err, 400, "guard.invalid_input", "passwordPolicy.%s", what);
}

/* An integer member in [min, max] into *out; absent keeps *out. */
static latch_rc policy_int(yajl_val obj, const char *path, const char *key, long long min,
                           long long max, int *out, struct latch_error *err)
{
    yajl_val v = member(obj, key);
    if (v == NULL)
        return LATCH_OK;
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max) {
        char what[128];
        snprintf(what, sizeof(what), "%s.%s: must be an integer from %lld to %lld", path, key, min,
                 max);
        return policy_invalid(err, what);
    }
    *out = (int)YAJL_GET_INTEGER(v);
    return LATCH_OK;
}

static latch_rc policy_bool(yajl_val obj, const char *key, bool *out, struct latch_error *err)
{
    yajl_val v = member(obj, key);
    if (v == NULL)
        return LATCH_OK;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        char what[96];
        snprintf(what, sizeof(what), "rejects.%s: must be a boolean", key);
        return policy_invalid(err, what);
    }
    *out = YAJL_IS_TRUE(v);
    return LATCH_OK;
}

static latch_rc policy_object(yajl_val root, const char *key, yajl_val *out,
                              struct latch_error *err)
{
    *out = member(root, key);
    if (*out != NULL && !YAJL_IS_OBJECT(*out)) {
        char what[96];
        snprintf(what, sizeof(what), "%s: must be an object", key);
        return policy_invalid(err, what);
    }
    return LATCH_OK;
}

latch_rc latch_users_policy_parse(const char *json, struct latch_password_policy *policy,
                                  struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    latch_users_policy_default(policy);
    if (json == NULL || json[0] == '\0')
        return LATCH_OK;
    char errbuf[128];
    yajl_val root = yajl_tree_parse(json, errbuf, sizeof(errbuf));
    yajl_val length, types, rejects;
    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        policy_invalid(err, "must be a JSON object");
        goto out;
    }
    if (policy_object(root, "length", &length, err) != LATCH_OK ||
        policy_object(root, "characterTypes", &types, err) != LATCH_OK ||
        policy_object(root, "rejects", &rejects, err) != LATCH_OK)
        goto out;
    if (policy_int(length, "length", "min", 1, LATCH_PASSWORD_MAX, &policy->min_length, err) !=
            LATCH_OK ||
        policy_int(length, "length", "max", 1, 4096, &policy->max_length, err) != LATCH_OK ||
        policy_int(types, "characterTypes", "min", 1, 4, &policy->min_types, err) != LATCH_OK ||
        policy_bool(rejects, "pwned", &(bool){false}, err) != LATCH_OK ||
        policy_bool(rejects, "repetitionAndSequence", &policy->reject_repetition_and_sequence,
                    err) != LATCH_OK ||
        policy_bool(rejects, "userInfo", &policy->reject_user_info, err) != LATCH_OK)
        goto out;
    /* Hashing refuses longer input, so no policy may allow it. */
    if (policy->max_length > LATCH_PASSWORD_MAX)
        policy->max_length = LATCH_PASSWORD_MAX;
    if (policy->min_length > policy->max_length) {
        policy_invalid(err, "length: min must not exceed max");
        goto out;
    }
    yajl_val words = member(rejects, "words");
    if (words != NULL) {
        if (!YAJL_IS_ARRAY(words) || words->u.array.len > LATCH_POLICY_MAX_WORDS) {
            policy_invalid(err, "rejects.words: must be an array of at most 64 words");
            goto out;
        }
        for (size_t i = 0; i < words->u.array.len; i++) {
            yajl_val w = words->u.array.values[i];
            size_t n = YAJL_IS_STRING(w) ? strlen(w->u.string) : 0;
            if (n == 0 || n > LATCH_POLICY_WORD_MAX) {
                policy_invalid(err, "rejects.words: each word must be 1 to 128 bytes");
                goto out;
            }
            memcpy(policy->words[policy->nwords++], w->u.string, n + 1);
        }
    }
    rc = LATCH_OK;
out:
    if (root != NULL)
        yajl_tree_free(root);
    if (rc != LATCH_OK)
        latch_users_policy_default(policy);
    return rc;
}

static const char symbols[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether s (of n bytes) starts with word (of wn bytes), ignoring ASCII case. */
static bool starts_with_nocase(const char *s, size_t n, const char *word, size_t wn)
{
    if (wn > n)
        return false;
    for (size_t i = 0; i < wn; i++)
        if (lower(s[i]) != lower(word[i]))
            return false;
    return true;
}

/* Logto's repetitionAndSequenceThreshold. */
#define RESTRICTED_RUN_MIN 3
/* Logto's restrictedPhrasesTolerance. */
#define RESTRICTED_TOLERANCE 3

static size_t repetition_len(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && lower(s[len]) == lower(s[0]))
        len++;
    return len >= RESTRICTED_RUN_MIN ? len : 0;
}

static const char *const sequences[] = {
    "0123456789", "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiop", "asdfghjkl",
    "zxcvbnm",    "1qaz",
    "2wsx",       "3edc",
    "4rfv",       "5tgb",
    "6yhn",       "7ujm",
    "8ik",        "9ol",
};

/* Whether the k bytes at s, lowercased, occur in one of the sequences, forwards or backwards. */
static bool is_sequential(const char *s, size_t k)
{
    for (size_t q = 0; q < sizeof(sequences) / sizeof(sequences[0]); q++) {
        const char *seq = sequences[q];
        size_t sn = strlen(seq);
        for (size_t start = 0; k <= sn && start + k <= sn; start++) {
            bool fwd = true, back = true;
            for (size_t i = 0; i < k && (fwd || back); i++) {
                char c = lower(s[i]);
                fwd = fwd && seq[start + i] == c;
                back = back && seq[sn - 1 - start - i] == c;
            }
            if (fwd || back)
                return true;
        }
    }
    return false;
}

static size_t sequence_len(const char *s, size_t n)
{
    size_t len = 1;
    if (n == 0)
        return 0;
    while (len < n && is_sequential(s, len + 1))
        len++;
    return len >= RESTRICTED_RUN_MIN ? len : 0;
}

static size_t word_len(const char *s, size_t n, const struct latch_password_policy *policy)
{
    size_t best = 0;
    for (int i = 0; i < policy->nwords; i++) {
        size_t wn = strlen(policy->words[i]);
        if (wn > best && starts_with_nocase(s, n, policy->words[i], wn))
            best = wn;
    }
    return best;
}

static void longer(size_t *best, size_t len)
{
    if (len > *best)
        *best = len;
}

/* Logto's userInfoLength(): the longest piece of the user's info s starts with. */
static size_t user_info_len(const char *s, size_t n, const struct latch_users_info *info)
{
    size_t best = 0;
    if (info->name != NULL && info->name[0] != '\0') {
        const char *name = info->name;
        size_t nn = strlen(name);
        if (starts_with_nocase(s, n, name, nn)) {
            longer(&best, nn);
        } else {
            /* the name without whitespace, then each word between single spaces */
            char joined[LATCH_PASSWORD_MAX + 1];
            size_t jn = 0;
            for (size_t i = 0; i < nn && jn < LATCH_PASSWORD_MAX; i++)
                if (!is_space(name[i]))
                    joined[jn++] = name[i];
            if (jn > 0 && starts_with_nocase(s, n, joined, jn))
                longer(&best, jn);
            for (const char *w = name; *w;) {
                size_t wn = strcspn(w, " ");
                if (wn > 0 && starts_with_nocase(s, n, w, wn))
                    longer(&best, wn);
                w += wn;
                if (*w == ' ')
                    w++;
            }
        }
    }
    if (info->username != NULL && info->username[0] != '\0' &&
        starts_with_nocase(s, n, info->username, strlen(info->username)))
        longer(&best, strlen(info->username));
    if (info->email != NULL) {
        size_t local = strcspn(info->email, "@");
        if (local > 0 && starts_with_nocase(s, n, info->email, local))
            longer(&best, local);
    }
    if (info->phone != NULL && info->phone[0] != '\0' &&
        starts_with_nocase(s, n, info->phone, strlen(info->phone)))
        longer(&best, strlen(info->phone));
    return best;
}

/* Characters of a UTF-8 string (continuation bytes not counted). */
static size_t char_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

unsigned latch_users_password_issues(const char *password,
                                     const struct latch_password_policy *policy,
                                     const struct latch_users_info *info)
{
    struct latch_password_policy def;
    unsigned issues = 0;
    if (policy == NULL) {
        latch_users_policy_default(&def);
        policy = &def;
    }
    if (password == NULL)
        password = "";
    size_t n = strnlen(password, LATCH_PASSWORD_MAX + 1);
    size_t chars = n > LATCH_PASSWORD_MAX ? n : char_count(password);
    if (chars < (size_t)policy->min_length)
        issues |= LATCH_PASSWORD_TOO_SHORT;
    else if (chars > (size_t)policy->max_length || n > LATCH_PASSWORD_MAX)
        issues |= LATCH_PASSWORD_TOO_LONG;
    if (n > LATCH_PASSWORD_MAX)
        return issues; /* nothing more is worth computing */

    unsigned types = 0;
    bool unsupported = false;
    for (size_t i = 0; i < n; i++) {
        char c = password[i];
        if (c >= 'a' && c <= 'z')
            types |= 1;
        else if (c >= 'A' && c <= 'Z')
            types |= 2;
        else if (c >= '0' && c <= '9')
            types |= 4;
        else if (strchr(symbols, c) != NULL)
            types |= 8;
        else
            unsupported = true;
    }
    if (unsupported)
        issues |= LATCH_PASSWORD_UNSUPPORTED_CHARACTERS;
    else if (__builtin_popcount(types) < policy->min_types)
        issues |= LATCH_PASSWORD_CHARACTER_TYPES;

    /* Restricted phrases: mark every character inside one; the password is refused only when
     * the marks cover more than all but RESTRICTED_TOLERANCE of its characters. */
    bool marked[LATCH_PASSWORD_MAX] = {false};
    unsigned restricted = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = password + i;
        size_t rest = n - i;
        size_t len[4] = {0, 0, 0, 0};
        if (policy->reject_repetition_and_sequence) {
            len[0] = repetition_len(s, rest);
            len[1] = sequence_len(s, rest);
        }
        if (policy->reject_user_info && info != NULL)
            len[2] = user_info_len(s, rest, info);
        if (policy->nwords > 0)
            len[3] = word_len(s, rest, policy);
        static const unsigned bits[4] = {LATCH_PASSWORD_REPETITION, LATCH_PASSWORD_SEQUENCE,
                                         LATCH_PASSWORD_USER_INFO, LATCH_PASSWORD_WORDS};
        for (int k = 0; k < 4; k++) {
            if (len[k] == 0)
                continue;
            restricted |= bits[k];
            for (size_t j = i; j < i + len[k] && j < n; j++)
                marked[j] = true;
        }
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += marked[i];
    size_t threshold = n > RESTRICTED_TOLERANCE + 1 ? n - RESTRICTED_TOLERANCE : 1;
    if (count > threshold)
        issues |= restricted;
    return issues;
}

const char *latch_users_password_issue_code(unsigned issue)
{
    switch (issue) {
    case LATCH_PASSWORD_TOO_SHORT:
        return "password_rejected.too_short";
    case LATCH_PASSWORD_TOO_LONG:
        return "password_rejected.too_long";
    case LATCH_PASSWORD_CHARACTER_TYPES:
        return "password_rejected.character_types";
    case LATCH_PASSWORD_UNSUPPORTED_CHARACTERS:
        return "password_rejected.unsupported_characters";
    case LATCH_PASSWORD_REPETITION:
        return "password_rejected.restricted.repetition";
    case LATCH_PASSWORD_SEQUENCE:
        return "password_rejected.restricted.sequence";
    case LATCH_PASSWORD_USER_INFO:
        return "password_rejected.restricted.user_info";
    case LATCH_PASSWORD_WORDS:
        return "password_rejected.restricted.words";
    default:
        return "password_rejected";
    }
}

bool latch_users_password_ok(const char *password, const struct latch_password_policy *policy,
                             const struct latch_users_info *info, const char **why)
{
    unsigned issues = latch_users_password_issues(password, policy, info);
    if (why != NULL)
        *why = NULL;
    if (issues == 0)
        return true;
    if (why != NULL)
        *why = latch_users_password_issue_code(issues & -issues);
    return false;
}
