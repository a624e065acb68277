/*
 * Secrets at rest; see secret.h. HKDF and HMAC through EVP_KDF / EVP_MAC, AES-256-GCM through
 * EVP_CIPHER, randomness from RAND_bytes (OpenSSL's CSPRNG).
 */
#include "jose/secret.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/hex.h"

#define GCM_IV_LEN  12
#define GCM_TAG_LEN 16

latch_rc latch_jose_derive_key(const uint8_t master[32], const char *purpose, uint8_t out[32])
{
    latch_rc rc = LATCH_FAIL;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx == NULL)
        goto out;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, 32),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, "latch", 5),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)purpose, strlen(purpose)),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx, out, 32, params) == 1)
        rc = LATCH_OK;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

latch_rc latch_jose_seal(const uint8_t key[32], const char *aad, const uint8_t *plain, size_t len,
                         uint8_t **out, size_t *out_len)
{
    latch_rc rc = LATCH_FAIL;
    int n = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *buf = malloc(GCM_IV_LEN + len + GCM_TAG_LEN);
    if (ctx == NULL || buf == NULL || len > INT32_MAX)
        goto out;
    if (RAND_bytes(buf, GCM_IV_LEN) != 1)
        goto out;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, buf + GCM_IV_LEN, &n, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, buf + GCM_IV_LEN + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, buf + GCM_IV_LEN + n + fin) !=
            1)
        goto out;
    *out = buf;
    *out_len = GCM_IV_LEN + (size_t)n + (size_t)fin + GCM_TAG_LEN;
    buf = NULL;
    rc = LATCH_OK;
out:
    free(buf);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

latch_rc latch_jose_open(const uint8_t key[32], const char *aad, const uint8_t *sealed, size_t len,
                         uint8_t **out, size_t *out_len)
{
    latch_rc rc = LATCH_FAIL;
    int n = 0, fin = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t *buf = NULL;
    if (len < GCM_IV_LEN + GCM_TAG_LEN || len > INT32_MAX)
        return LATCH_FAIL;
    size_t clen = len - GCM_IV_LEN - GCM_TAG_LEN;
    ctx = EVP_CIPHER_CTX_new();
    buf = malloc(clen + 1);
    if (ctx == NULL || buf == NULL)
        goto out;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
        EVP_DecryptUpdate(ctx, buf, &n, sealed + GCM_IV_LEN, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                            (void *)(sealed + len - GCM_TAG_LEN)) != 1 ||
        EVP_DecryptFinal_ex(ctx, buf + n, &fin) != 1)
        goto out;
    *out = buf;
    *out_len = (size_t)n + (size_t)fin;
    buf = NULL;
    rc = LATCH_OK;
out:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, clen);
        free(buf);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

latch_rc latch_jose_client_secret_new(char out[LATCH_CLIENT_SECRET_LEN + 1])
{
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return LATCH_FAIL;
    long n = latch_base64url_encode(raw, sizeof(raw), out, LATCH_CLIENT_SECRET_LEN + 1);
    OPENSSL_cleanse(raw, sizeof(raw));
    return n == LATCH_CLIENT_SECRET_LEN ? LATCH_OK : LATCH_FAIL;
}

/* HMAC-SHA-256 of data under key into out. */
static latch_rc hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len,
                            uint8_t out[32])
{
    latch_rc rc = LATCH_FAIL;
    size_t outl = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1 ||
        EVP_MAC_update(ctx, data, len) != 1 || EVP_MAC_final(ctx, out, &outl, 32) != 1 ||
        outl != 32)
        goto out;
    rc = LATCH_OK;
out:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

latch_rc latch_jose_client_secret_hash(const uint8_t hash_key[32], const char *secret, size_t len,
                                       uint8_t out[LATCH_SECRET_HASH_LEN])
{
    return hmac_sha256(hash_key, 32, (const uint8_t *)secret, len, out);
}

latch_rc latch_jose_hmac_sha256_hex(const char *key, size_t key_len, const char *data, size_t len,
                                    char out[65])
{
    uint8_t mac[32];
    latch_rc rc = hmac_sha256((const uint8_t *)key, key_len, (const uint8_t *)data, len, mac);
    if (rc == LATCH_OK && latch_hex_encode(mac, sizeof(mac), out, 65) != 64)
        rc = LATCH_FAIL;
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

latch_rc latch_jose_keyed_hash_text(const uint8_t key[32], const char *msg, size_t len,
                                    char out[LATCH_TOKEN_HASH_TEXT])
{
    uint8_t mac[LATCH_SECRET_HASH_LEN];
    latch_rc rc = latch_jose_client_secret_hash(key, msg, len, mac);
    if (rc == LATCH_OK) {
        out[0] = '\\';
        out[1] = 'x';
        if (latch_hex_encode(mac, sizeof(mac), out + 2, LATCH_TOKEN_HASH_TEXT - 2) != 64)
            rc = LATCH_FAIL;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return rc;
}

bool latch_jose_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

latch_rc latch_jose_random_id(char *out, size_t len)
{
    static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    size_t i = 0;
    while (i < len) {
        uint8_t raw[32];
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return LATCH_FAIL;
        /* 252 = 7 * 36: rejecting larger bytes keeps every character equally likely. */
        for (size_t k = 0; k < sizeof(raw) && i < len; k++)
            if (raw[k] < 252)
                out[i++] = alphabet[raw[k] % 36];
    }
    out[len] = '\0';
    return LATCH_OK;
}

latch_rc latch_jose_token_hash(const char *token, char out[LATCH_TOKEN_HASH_TEXT])
{
    uint8_t md[32];
    unsigned int n = 0;
    if (EVP_Digest(token, strlen(token), md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return LATCH_FAIL;
    out[0] = '\\';
    out[1] = 'x';
    return latch_hex_encode(md, 32, out + 2, LATCH_TOKEN_HASH_TEXT - 2) == 64 ? LATCH_OK
                                                                              : LATCH_FAIL;
}

bool latch_jose_pkce_s256_ok(const char *verifier, const char *challenge)
{
    size_t n = strlen(verifier);
    if (n < 43 || n > 128)
        return false;
    for (const char *p = verifier; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok)
            return false;
    }
    uint8_t md[32];
    unsigned int mdlen = 0;
    char expect[64];
    if (EVP_Digest(verifier, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        latch_base64url_encode(md, 32, expect, sizeof(expect)) != 43 || strlen(challenge) != 43)
        return false;
    return CRYPTO_memcmp(expect, challenge, 43) == 0;
}

latch_rc latch_jose_at_hash(const char *alg, const char *token, char out[48])
{
    const EVP_MD *md = EVP_sha256();
    if (strcmp(alg, "ES384") == 0)
        md = EVP_sha384();
    else if (strcmp(alg, "EdDSA") == 0)
        md = EVP_sha512();
    uint8_t digest[64];
    unsigned int n = 0;
    if (EVP_Digest(token, strlen(token), digest, &n, md, NULL) != 1)
        return LATCH_FAIL;
    return latch_base64url_encode(digest, n / 2, out, 48) > 0 ? LATCH_OK : LATCH_FAIL;
}
