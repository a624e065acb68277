/* Signing-key material; see keys.h. */
#include "tenants/keys.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jose/secret.h"
#include "tenants/tenant_id.h"
#include "util/hex.h"

const struct latch_stmt latch_keys_init_stmt = {
    .name = "keys_init",
    .sql = "SELECT latch_init_keys($1, $2, $3, $4::bytea, $5::jsonb, $6, $7, $8::bytea, $9::jsonb)",
    .nparams = 9,
};

const struct latch_stmt latch_keys_rotate_stmt = {
    .name = "keys_rotate",
    .sql = "SELECT latch_rotate_keys($1, $2::bigint, $3::integer, $4, $5, $6::bytea, $7::jsonb, "
           "$8, $9, $10::bytea, $11::jsonb)",
    .nparams = 11,
};

bool latch_keys_limit_reached(const struct latch_error *err)
{
    return err != NULL && strcmp(err->code, LATCH_KEYS_LIMIT_SQLSTATE) == 0;
}

latch_rc latch_keys_limit_error(struct latch_error *err)
{
    latch_error_set(err, 422, "oidc.key_limit",
                    "A tenant holds at most %d signing keys: the current key, the next key and %d "
                    "previous keys in their grace period. Rotate again once a grace period has "
                    "ended, delete a previous key, or rotate with a grace period of 0.",
                    LATCH_KEYS_MAX, LATCH_KEYS_MAX - 2);
    return LATCH_FAIL;
}

const struct latch_stmt latch_keys_list_stmt = {
    .name = "keys_list",
    .sql = "SELECT latch_keys_json($1)",
    .nparams = 1,
};

bool latch_keys_algorithm(const char *name, enum latch_jose_alg *alg)
{
    static const struct {
        const char *name;
        enum latch_jose_alg alg;
    } map[] = {
        {"EC", LATCH_JOSE_ES384},
        {"EC-P256", LATCH_JOSE_ES256},
        {"RSA", LATCH_JOSE_RS256},
        {"Ed25519", LATCH_JOSE_EDDSA},
    };
    for (size_t i = 0; name != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].name, name) == 0) {
            if (alg != NULL)
                *alg = map[i].alg;
            return true;
        }
    }
    return false;
}

/* PostgreSQL's bytea text form: "\\x" and the hex digits; malloc'd, NULL when out of memory. */
static char *to_hex_bytea(const uint8_t *p, size_t n)
{
    char *out = n < SIZE_MAX / 2 - 3 ? malloc(2 * n + 3) : NULL;
    if (out == NULL)
        return NULL;
    out[0] = '\\';
    out[1] = 'x';
    (void)latch_hex_encode(p, n, out + 2, 2 * n + 1); /* sized exactly: cannot fail */
    return out;
}

latch_rc latch_keys_prepare(const uint8_t seal_key[32], const char *tenant_id,
                            const char *algorithm, struct latch_prepared_key *out,
                            struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    enum latch_jose_alg alg;
    struct latch_jose_key *key = NULL;
    uint8_t *der = NULL, *sealed = NULL;
    size_t der_len = 0, sealed_len = 0, jwk_len = 0;
    char aad[LATCH_TENANT_ID_MAX + LATCH_JOSE_KID_MAX + 4];

    memset(out, 0, sizeof(*out));
    if (!latch_keys_algorithm(algorithm, &alg))
        return latch_error_set(err, 400, "guard.invalid_input",
                               "signingKeyAlgorithm: expected EC, EC-P256, RSA or Ed25519");
    if (latch_jose_key_generate(alg, &key, err) != LATCH_OK ||
        latch_jose_key_to_pkcs8_der(key, &der, &der_len, err) != LATCH_OK ||
        latch_jose_key_public_jwk(key, &out->jwk, &jwk_len, err) != LATCH_OK)
        goto out;
    snprintf(out->kid, sizeof(out->kid), "%s", key->kid);
    snprintf(out->algorithm, sizeof(out->algorithm), "%s", algorithm);
    snprintf(aad, sizeof(aad), "%s/%s", tenant_id, key->kid);
    if (latch_jose_seal(seal_key, aad, der, der_len, &sealed, &sealed_len) != LATCH_OK) {
        latch_error_set(err, 500, "server_error", "cannot seal a signing key");
        goto out;
    }
    out->sealed_hex = to_hex_bytea(sealed, sealed_len);
    if (out->sealed_hex == NULL) {
        latch_error_set(err, 500, "server_error", "out of memory");
        goto out;
    }
    rc = LATCH_OK;
out:
    if (der != NULL)
        latch_jose_secret_free(der, der_len);
    free(sealed);
    latch_jose_key_free(key);
    if (rc != LATCH_OK)
        latch_prepared_key_clear(out);
    return rc;
}

void latch_prepared_key_clear(struct latch_prepared_key *key)
{
    free(key->sealed_hex);
    free(key->jwk);
    memset(key, 0, sizeof(*key));
}

latch_rc latch_keys_open(const uint8_t seal_key[32], const char *tenant_id, const char *kid,
                         const char *sealed_hex, struct latch_jose_key **out,
                         struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    uint8_t *sealed = NULL, *der = NULL;
    size_t der_len = 0;
    char aad[LATCH_TENANT_ID_MAX + LATCH_JOSE_KID_MAX + 4];
    size_t hl = strlen(sealed_hex);
    if (hl < 2 || sealed_hex[0] != '\\' || sealed_hex[1] != 'x' || hl % 2 != 0)
        return latch_error_set(err, 500, "server_error", "malformed sealed key");
    size_t n = (hl - 2) / 2;
    sealed = malloc(n ? n : 1);
    if (sealed == NULL)
        return latch_error_set(err, 500, "server_error", "out of memory");
    if (latch_hex_decode(sealed_hex + 2, hl - 2, sealed, n) != (ssize_t)n) {
        latch_error_set(err, 500, "server_error", "malformed sealed key");
        goto out;
    }
    snprintf(aad, sizeof(aad), "%s/%s", tenant_id, kid);
    if (latch_jose_open(seal_key, aad, sealed, n, &der, &der_len) != LATCH_OK) {
        latch_error_set(err, 500, "server_error", "cannot open signing key %s", kid);
        latch_error_detail(err, "wrong LATCH_SECRET_KEY, or the row was altered");
        goto out;
    }
    rc = latch_jose_key_from_pkcs8_der(der, der_len, out, err);
out:
    if (der != NULL)
        latch_jose_secret_free(der, der_len);
    free(sealed);
    return rc;
}
