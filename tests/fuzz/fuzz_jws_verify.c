/*
 * libFuzzer driver for the JWS verifier and what it leads to: each input is a compact token
 * checked by latch_jose_verify() against a fixed set of keys (ES256, ES384, RS256, EdDSA, made
 * once), then, as a JWT payload, by the claim checks, and as a JWK by the importer.
 * Build: meson setup build-fuzz -Dfuzz=true (clang), run: build-fuzz/tests/fuzz_jws_verify.
 * Seeds worth giving: real tokens from latch_jose_sign() and the RFC 7515/8037 examples.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/jwk.h"
#include "jose/jws.h"
#include "jose/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct latch_jose_key *keys[4];

static void make_keys(void)
{
    static const enum latch_jose_alg algs[4] = {LATCH_JOSE_ES256, LATCH_JOSE_ES384,
                                                LATCH_JOSE_RS256, LATCH_JOSE_EDDSA};
    struct latch_error err;
    for (int i = 0; i < 4; i++)
        if (latch_jose_key_generate(algs[i], &keys[i], &err) != LATCH_OK)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct latch_error err;
    struct latch_jose_jws jws;

    if (keys[0] == NULL)
        make_keys();
    const struct latch_jose_key *const *set = (const struct latch_jose_key *const *)keys;

    /* Both with the whole set and with one key (which allows tokens without a kid). */
    if (latch_jose_verify((const char *)data, size, set, 4, LATCH_JOSE_ALGS_ALL, &jws, &err) ==
        LATCH_OK)
        latch_jose_jws_clear(&jws);
    if (latch_jose_verify((const char *)data, size, set, 1, LATCH_JOSE_ALGS_ALL, &jws, &err) ==
        LATCH_OK)
        latch_jose_jws_clear(&jws);

    struct latch_jose_jwt_rules rules = {
        .issuer = "https://auth.example.com/oidc",
        .audience = "https://api.example.com",
        .now = 1700000000,
        .leeway = 60,
        .max_age = 3600,
    };
    yajl_val claims = NULL;
    if (latch_jose_jwt_check_claims((const char *)data, size, &rules, &claims, &err) == LATCH_OK)
        yajl_tree_free(claims);

    struct latch_jose_key *key = NULL;
    if (latch_jose_key_from_jwk((const char *)data, size, &key, &err) == LATCH_OK)
        latch_jose_key_free(key);
    return 0;
}
