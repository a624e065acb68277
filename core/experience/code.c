/* Pure rules of verification codes; see code.h. */
#include "experience/code.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "users/users.h"

latch_rc latch_xp_code_generate(char out[LATCH_XP_CODE_DIGITS + 1])
{
    /* 10^6 divides none of the powers of two: draw 32 bits and reject the top partial block so
     * every code is equally likely. The loop ends with overwhelming probability at once. */
    const uint32_t span = 1000000u;
    const uint32_t limit = UINT32_MAX - (UINT32_MAX % span);
    uint32_t r;
    do {
        if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
            return LATCH_FAIL;
    } while (r >= limit);
    uint32_t n = r % span;
    for (int i = LATCH_XP_CODE_DIGITS - 1; i >= 0; i--) {
        out[i] = (char)('0' + n % 10);
        n /= 10;
    }
    out[LATCH_XP_CODE_DIGITS] = '\0';
    OPENSSL_cleanse(&r, sizeof(r));
    return LATCH_OK;
}

latch_rc latch_xp_code_hash(const uint8_t key[32], const char *tenant, const char *id,
                            const char *type, const char *value, const char *code,
                            char out[LATCH_TOKEN_HASH_TEXT])
{
    const char *parts[] = {tenant, id, type, value, code};
    size_t total = 0;
    for (size_t i = 0; i < 5; i++) {
        if (parts[i] == NULL || strchr(parts[i], '\n') != NULL)
            return LATCH_FAIL;
        total += strlen(parts[i]) + 1;
    }
    char *msg = malloc(total);
    if (msg == NULL)
        return LATCH_FAIL;
    bool email = strcmp(type, "email") == 0;
    size_t at = 0;
    for (size_t i = 0; i < 5; i++) {
        for (const char *p = parts[i]; *p; p++)
            msg[at++] = (i == 3 && email && *p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
        msg[at++] = i < 4 ? '\n' : '\0';
    }
    latch_rc rc = latch_jose_keyed_hash_text(key, msg, total - 1, out);
    OPENSSL_cleanse(msg, total);
    free(msg);
    return rc;
}

bool latch_xp_code_hash_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return false;
    size_t n = strlen(a);
    if (n == 0 || strlen(b) != n)
        return false;
    return latch_jose_equal((const uint8_t *)a, (const uint8_t *)b, n);
}

enum latch_xp_code_verdict latch_xp_code_check(const struct latch_xp_code_row *row,
                                               const char *type, const char *value)
{
    if (!row->found || row->used || row->type == NULL || row->value == NULL ||
        strcmp(row->type, type) != 0)
        return LATCH_XP_CODE_NOT_FOUND;
    bool email = strcmp(type, "email") == 0;
    if (email ? strcasecmp(row->value, value) != 0 : strcmp(row->value, value) != 0)
        return email ? LATCH_XP_CODE_EMAIL_MISMATCH : LATCH_XP_CODE_PHONE_MISMATCH;
    if (row->expired)
        return LATCH_XP_CODE_EXPIRED;
    if (row->try_count >= row->max_tries)
        return LATCH_XP_CODE_EXCEEDED;
    return LATCH_XP_CODE_USABLE;
}

const char *latch_xp_code_error(enum latch_xp_code_verdict v, const char **message)
{
    switch (v) {
    case LATCH_XP_CODE_NOT_FOUND:
        *message = "Verification code not found. Please send verification code first.";
        return "verification_code.not_found";
    case LATCH_XP_CODE_EMAIL_MISMATCH:
        *message = "Email mismatch. Please request a new verification code.";
        return "verification_code.email_mismatch";
    case LATCH_XP_CODE_PHONE_MISMATCH:
        *message = "Phone mismatch. Please request a new verification code.";
        return "verification_code.phone_mismatch";
    case LATCH_XP_CODE_EXPIRED:
        *message = "Verification code has expired. Please send a new verification code.";
        return "verification_code.expired";
    case LATCH_XP_CODE_EXCEEDED:
        *message = "Verification code retries limitation exceeded. Please send a new "
                   "verification code.";
        return "verification_code.exceed_max_try";
    case LATCH_XP_CODE_USABLE:
        break;
    }
    *message = "Invalid verification code.";
    return "verification_code.code_mismatch";
}

bool latch_xp_code_identifier_ok(const char *type, const char *value)
{
    if (type == NULL || value == NULL)
        return false;
    if (strcmp(type, "email") == 0)
        return latch_users_email_ok(value);
    if (strcmp(type, "phone") == 0)
        return latch_users_phone_ok(value);
    return false;
}
