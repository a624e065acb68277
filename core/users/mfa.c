/*
 * MFA factors at rest; see mfa.h.
 */
#include "users/mfa.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hex.h"
#include "util/json.h"

/* The AES-GCM additional data of a person's TOTP secret. */
static char *totp_aad(const char *tenant, const char *user)
{
    size_t n = strlen(tenant) + strlen(user) + sizeof("//totp");
    char *aad = malloc(n);
    if (aad != NULL)
        snprintf(aad, n, "%s/%s/totp", tenant, user);
    return aad;
}

latch_rc latch_users_mfa_totp_seal(const uint8_t master[32], const char *tenant, const char *user,
                                   const uint8_t *secret, size_t len,
                                   char out[LATCH_MFA_SEALED_HEX_MAX])
{
    latch_rc rc = LATCH_FAIL;
    uint8_t key[32];
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    char *aad = totp_aad(tenant, user);
    if (aad == NULL || len == 0 || len > LATCH_TOTP_SECRET_MAX ||
        latch_jose_derive_key(master, LATCH_MFA_TOTP_KEY_PURPOSE, key) != LATCH_OK ||
        latch_jose_seal(key, aad, secret, len, &sealed, &sealed_len) != LATCH_OK)
        goto out;
    if (latch_hex_encode(sealed, sealed_len, out, LATCH_MFA_SEALED_HEX_MAX) < 0)
        goto out;
    rc = LATCH_OK;
out:
    OPENSSL_cleanse(key, sizeof(key));
    free(sealed);
    free(aad);
    return rc;
}

latch_rc latch_users_mfa_totp_open(const uint8_t master[32], const char *tenant, const char *user,
                                   const char *sealed_hex, uint8_t secret[LATCH_TOTP_SECRET_MAX],
                                   size_t *len)
{
    latch_rc rc = LATCH_FAIL;
    uint8_t key[32], sealed[LATCH_MFA_SEALED_HEX_MAX / 2];
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char *aad = totp_aad(tenant, user);
    if (sealed_hex[0] == '\\' && sealed_hex[1] == 'x')
        sealed_hex += 2;
    ssize_t n = latch_hex_decode(sealed_hex, strlen(sealed_hex), sealed, sizeof(sealed));
    if (aad == NULL || n <= 0 ||
        latch_jose_derive_key(master, LATCH_MFA_TOTP_KEY_PURPOSE, key) != LATCH_OK ||
        latch_jose_open(key, aad, sealed, (size_t)n, &plain, &plain_len) != LATCH_OK)
        goto out;
    if (plain_len == 0 || plain_len > LATCH_TOTP_SECRET_MAX)
        goto out;
    memcpy(secret, plain, plain_len);
    *len = plain_len;
    rc = LATCH_OK;
out:
    OPENSSL_cleanse(key, sizeof(key));
    if (plain != NULL) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    free(aad);
    return rc;
}

latch_rc
latch_users_mfa_backup_codes_new(char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1])
{
    uint8_t raw[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN / 2];
    latch_rc rc = LATCH_OK;
    if (RAND_bytes(&raw[0][0], sizeof(raw)) != 1)
        rc = LATCH_FAIL;
    for (int i = 0; i < LATCH_MFA_BACKUP_CODES && rc == LATCH_OK; i++)
        if (latch_hex_encode(raw[i], sizeof(raw[i]), codes[i], LATCH_MFA_BACKUP_CODE_LEN + 1) !=
            LATCH_MFA_BACKUP_CODE_LEN)
            rc = LATCH_FAIL;
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

latch_rc latch_users_mfa_backup_hash(const uint8_t key[32], const char *tenant, const char *user,
                                     const char *code, char out[LATCH_TOKEN_HASH_TEXT])
{
    char norm[LATCH_MFA_BACKUP_CODE_LEN + 1];
    size_t n = 0;
    /* People copy codes with spaces around them and may type them in upper case. */
    while (*code == ' ')
        code++;
    for (; *code && *code != ' '; code++) {
        char c = *code;
        if (c >= 'A' && c <= 'F')
            c = (char)(c + 32);
        if (n >= LATCH_MFA_BACKUP_CODE_LEN || latch_hex_digit((unsigned char)c) < 0)
            return LATCH_FAIL;
        norm[n++] = c;
    }
    while (*code == ' ')
        code++;
    if (*code != '\0' || n != LATCH_MFA_BACKUP_CODE_LEN || strchr(tenant, '\n') != NULL ||
        strchr(user, '\n') != NULL)
        return LATCH_FAIL;
    norm[n] = '\0';
    size_t total = strlen(tenant) + strlen(user) + n + 3;
    char *msg = malloc(total);
    if (msg == NULL)
        return LATCH_FAIL;
    snprintf(msg, total, "%s\n%s\n%s", tenant, user, norm);
    latch_rc rc = latch_jose_keyed_hash_text(key, msg, total - 1, out);
    OPENSSL_cleanse(msg, total);
    OPENSSL_cleanse(norm, sizeof(norm));
    free(msg);
    return rc;
}

latch_rc latch_users_mfa_totp_new(const uint8_t master[32], const char *tenant, const char *user,
                                  char b32[LATCH_TOTP_SECRET_B32 + 1],
                                  char sealed[LATCH_MFA_SEALED_HEX_MAX])
{
    uint8_t secret[LATCH_TOTP_SECRET_BYTES];
    latch_rc rc = latch_jose_totp_secret_new(secret);
    if (rc == LATCH_OK)
        rc = latch_users_mfa_totp_seal(master, tenant, user, secret, sizeof(secret), sealed);
    if (rc == LATCH_OK &&
        latch_jose_base32_encode(secret, sizeof(secret), b32, LATCH_TOTP_SECRET_B32 + 1) < 0)
        rc = LATCH_FAIL;
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

latch_rc latch_users_mfa_backup_check_hash(const uint8_t master[32], const char *tenant,
                                           const char *user, const char *code,
                                           char out[LATCH_TOKEN_HASH_TEXT])
{
    uint8_t key[32];
    latch_rc rc = latch_jose_derive_key(master, LATCH_MFA_BACKUP_KEY_PURPOSE, key);
    if (rc == LATCH_OK)
        rc = latch_users_mfa_backup_hash(key, tenant, user, code, out);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

latch_rc
latch_users_mfa_backup_new(const uint8_t master[32], const char *tenant, const char *user,
                           char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1],
                           char **hashes)
{
    uint8_t key[32];
    *hashes = NULL;
    latch_rc rc = latch_users_mfa_backup_codes_new(codes);
    if (rc == LATCH_OK)
        rc = latch_jose_derive_key(master, LATCH_MFA_BACKUP_KEY_PURPOSE, key);
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_array(&j);
    for (int i = 0; i < LATCH_MFA_BACKUP_CODES && rc == LATCH_OK; i++) {
        char hash[LATCH_TOKEN_HASH_TEXT];
        rc = latch_users_mfa_backup_hash(key, tenant, user, codes[i], hash);
        if (rc == LATCH_OK)
            latch_json_string(&j, hash);
    }
    latch_json_end_array(&j);
    OPENSSL_cleanse(key, sizeof(key));
    size_t len = 0;
    char *text = latch_json_take(&j, &len);
    if (rc != LATCH_OK || text == NULL) {
        free(text);
        OPENSSL_cleanse(codes, sizeof(char[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1]));
        return LATCH_FAIL;
    }
    *hashes = text;
    return LATCH_OK;
}

/* Appends s percent-encoded (RFC 3986 unreserved kept) at *at in out. */
static size_t put_encoded(char *out, size_t at, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[at++] = (char)c;
        } else {
            out[at++] = '%';
            out[at++] = hex[c >> 4];
            out[at++] = hex[c & 15];
        }
    }
    return at;
}

char *latch_users_mfa_otpauth_uri(const char *issuer, const char *account, const char *secret_b32)
{
    static const char tail[] = "&algorithm=SHA1&digits=6&period=30";
    size_t cap = sizeof("otpauth://totp/") + 3 * strlen(issuer) * 2 + 3 * strlen(account) +
                 sizeof("%3A?secret=&issuer=") + strlen(secret_b32) + sizeof(tail);
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t at = 0;
    memcpy(out, "otpauth://totp/", 15);
    at = 15;
    at = put_encoded(out, at, issuer);
    memcpy(out + at, "%3A", 3);
    at += 3;
    at = put_encoded(out, at, account);
    memcpy(out + at, "?secret=", 8);
    at += 8;
    memcpy(out + at, secret_b32, strlen(secret_b32));
    at += strlen(secret_b32);
    memcpy(out + at, "&issuer=", 8);
    at += 8;
    at = put_encoded(out, at, issuer);
    memcpy(out + at, tail, sizeof(tail));
    return out;
}
