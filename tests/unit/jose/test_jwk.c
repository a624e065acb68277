/*
 * Unit tests for core/jose/jwk.c: the RFC 7638 §3.1 and RFC 8037 A.3 thumbprints, public JWK
 * output (EC coordinates left-padded to the curve size, checked on keys whose coordinates really
 * have leading zero bytes; RSA n without them; Ed25519 x), JWKS documents, JWK import and what
 * it refuses (off-curve points, wrong coordinate lengths, wrong curves, small RSA, mismatched
 * alg/use/key_ops, non-strict JSON), PKCS#8 DER and PEM round trips, and algorithm names.
 *
 * Vectors: RFC 7638 §3.1 (RSA key, thumbprint NzbLsXh8…), RFC 7515 A.3 (P-256 key), RFC 8037
 * A.1-A.3 (Ed25519 key and thumbprint). Each was cross-checked with python3-cryptography before
 * being copied here; the off-curve point is A.3's with the last bit of y flipped, checked off
 * the curve with the P-256 equation in python.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "util/base64.h"
#include "jose/jwk.h"
#include "jose/jws.h"
#include "jose/secret.h"

/* RFC 7638 §3.1. */
#define RFC7638_N                                                                                  \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP" \
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY" \
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f" \
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_THUMBPRINT "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

/* RFC 7515 A.3.1 (P-256); thumbprint computed with python3 (hashlib over the RFC 7638 form). */
#define A3_X           "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
#define A3_Y           "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
#define A3_Y_OFF_CURVE "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aw"
#define A3_THUMBPRINT  "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"

/* RFC 8037 A.1 (private seed d) and A.2 (public x), A.3 (thumbprint). */
static const uint8_t rfc8037_d[32] = {
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
#define RFC8037_X          "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define RFC8037_THUMBPRINT "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

/* RFC 8410 PKCS#8 wrapping of an Ed25519 seed: SEQUENCE { version 0, AlgorithmIdentifier
 * id-Ed25519, OCTET STRING { OCTET STRING seed } } (same bytes as python3-cryptography). */
static const uint8_t ed25519_pkcs8_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                                 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};

static struct latch_jose_key *import(const char *json)
{
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};
    if (latch_jose_key_from_jwk(json, strlen(json), &key, &err) != LATCH_OK) {
        fprintf(stderr, "import failed: %s | %s\n", err.message, err.detail);
        return NULL;
    }
    return key;
}

static void expect_import_refused(const char *json)
{
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};
    if (latch_jose_key_from_jwk(json, strlen(json), &key, &err) == LATCH_OK)
        fprintf(stderr, "unexpectedly accepted: %s\n", json);
    assert_null(key);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.code, "invalid_key");
}

static struct latch_jose_key *generate(enum latch_jose_alg alg)
{
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};
    assert_int_equal(latch_jose_key_generate(alg, &key, &err), LATCH_OK);
    assert_non_null(key);
    return key;
}

/* The JOSE layer's bounds on latch_json_parse() (util/json.h; the reader itself is tested in
 * tests/unit/util/test_json.c). */
static bool jose_parse(const char *json, size_t len, unsigned depth, yajl_val *v,
                       struct latch_error *err)
{
    struct latch_json_limits lim = latch_jose_json_limits(depth);
    return latch_json_parse(json, len, &lim, v, err) == LATCH_OK;
}

/* Parses JSON text for assertions. */
static yajl_val parse(const char *json)
{
    yajl_val v = NULL;
    struct latch_error err = {0};
    assert_true(jose_parse(json, strlen(json), 8, &v, &err));
    return v;
}

static const char *member(yajl_val obj, const char *name)
{
    yajl_val v = latch_jose_json_get(obj, name);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}

/* Decodes the base64url string member `name` of obj; returns its length. */
static size_t member_bytes(yajl_val obj, const char *name, uint8_t *buf, size_t cap)
{
    const char *s = member(obj, name);
    assert_non_null(s);
    ssize_t n = latch_base64url_decode(s, strlen(s), buf, cap);
    assert_true(n >= 0);
    return (size_t)n;
}

static void test_rfc7638_thumbprint(void **state)
{
    char tp[LATCH_JOSE_THUMBPRINT_LEN + 1];
    struct latch_error err = {0};

    (void)state;
    /* With a kid, the kid is kept; the thumbprint is computed over n, e and kty only. */
    struct latch_jose_key *key = import("{\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\",\"e\":\"AQAB\","
                                        "\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}");
    assert_non_null(key);
    assert_string_equal(key->kid, "2011-04-29");
    assert_int_equal(key->alg, LATCH_JOSE_RS256);
    assert_false(key->has_private);
    assert_int_equal(latch_jose_key_thumbprint(key, tp, &err), LATCH_OK);
    assert_string_equal(tp, RFC7638_THUMBPRINT);
    latch_jose_key_free(key);

    /* Without one, the kid is the thumbprint. */
    key = import("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"" RFC7638_N "\"}");
    assert_non_null(key);
    assert_string_equal(key->kid, RFC7638_THUMBPRINT);
    latch_jose_key_free(key);
}

static void test_ec_import_and_thumbprint(void **state)
{
    (void)state;
    /* The private member d is ignored: the key can only verify. */
    struct latch_jose_key *key =
        import("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\","
               "\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}");
    assert_non_null(key);
    assert_int_equal(key->alg, LATCH_JOSE_ES256);
    assert_false(key->has_private);
    assert_null(key->header);
    assert_string_equal(key->kid, A3_THUMBPRINT);

    /* Exported again, it is the same public key. */
    char *json = NULL;
    struct latch_error err = {0};
    assert_int_equal(latch_jose_key_public_jwk(key, &json, NULL, &err), LATCH_OK);
    yajl_val v = parse(json);
    assert_string_equal(member(v, "kty"), "EC");
    assert_string_equal(member(v, "crv"), "P-256");
    assert_string_equal(member(v, "x"), A3_X);
    assert_string_equal(member(v, "y"), A3_Y);
    assert_string_equal(member(v, "kid"), A3_THUMBPRINT);
    assert_string_equal(member(v, "alg"), "ES256");
    assert_string_equal(member(v, "use"), "sig");
    assert_null(latch_jose_json_get(v, "d"));
    yajl_tree_free(v);
    free(json);
    latch_jose_key_free(key);
}

static void test_okp_rfc8037(void **state)
{
    uint8_t der[48];
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};
    char *json = NULL;

    (void)state;
    memcpy(der, ed25519_pkcs8_prefix, 16);
    memcpy(der + 16, rfc8037_d, 32);
    assert_int_equal(latch_jose_key_from_pkcs8_der(der, sizeof(der), &key, &err), LATCH_OK);
    assert_int_equal(key->alg, LATCH_JOSE_EDDSA);
    assert_true(key->has_private);
    assert_string_equal(key->kid, RFC8037_THUMBPRINT);
    assert_int_equal(latch_jose_key_public_jwk(key, &json, NULL, &err), LATCH_OK);
    yajl_val v = parse(json);
    assert_string_equal(member(v, "kty"), "OKP");
    assert_string_equal(member(v, "crv"), "Ed25519");
    assert_string_equal(member(v, "x"), RFC8037_X);
    assert_string_equal(member(v, "alg"), "EdDSA");
    assert_null(latch_jose_json_get(v, "d"));
    assert_null(latch_jose_json_get(v, "y"));
    yajl_tree_free(v);
    free(json);
    latch_jose_key_free(key);

    key = import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}");
    assert_non_null(key);
    assert_string_equal(key->kid, RFC8037_THUMBPRINT);
    latch_jose_key_free(key);
}

/* Generates keys until one has an x or y coordinate below 2^(8(coord-1)), i.e. a leading zero
 * byte, then checks the JWK still carries exactly coord bytes for both. */
static void check_ec_padding(enum latch_jose_alg alg, size_t coord)
{
    int padded_x = 0;
    int padded_y = 0;

    for (int i = 0; i < 20000 && (padded_x == 0 || padded_y == 0); i++) {
        struct latch_jose_key *key = generate(alg);
        BIGNUM *bx = NULL;
        BIGNUM *by = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by), 1);
        bool short_x = (size_t)BN_num_bytes(bx) < coord;
        bool short_y = (size_t)BN_num_bytes(by) < coord;
        if (short_x || short_y || i < 3) {
            char *json = NULL;
            struct latch_error err = {0};
            uint8_t x[64];
            uint8_t y[64];
            uint8_t want[64];
            assert_int_equal(latch_jose_key_public_jwk(key, &json, NULL, &err), LATCH_OK);
            yajl_val v = parse(json);
            assert_int_equal(member_bytes(v, "x", x, sizeof(x)), coord);
            assert_int_equal(member_bytes(v, "y", y, sizeof(y)), coord);
            assert_int_equal(BN_bn2binpad(bx, want, (int)coord), (int)coord);
            assert_memory_equal(x, want, coord);
            assert_int_equal(BN_bn2binpad(by, want, (int)coord), (int)coord);
            assert_memory_equal(y, want, coord);
            if (short_x)
                assert_int_equal(x[0], 0);
            if (short_y)
                assert_int_equal(y[0], 0);
            padded_x += short_x;
            padded_y += short_y;
            /* The exported JWK imports back to the same kid. */
            struct latch_jose_key *back = import(json);
            assert_non_null(back);
            assert_string_equal(back->kid, key->kid);
            latch_jose_key_free(back);
            yajl_tree_free(v);
            free(json);
        }
        BN_free(bx);
        BN_free(by);
        latch_jose_key_free(key);
    }
    /* Each happens for about 1 key in 256: 20000 tries make missing one practically impossible. */
    assert_true(padded_x > 0);
    assert_true(padded_y > 0);
}

static void test_ec_coordinate_padding_p256(void **state)
{
    (void)state;
    check_ec_padding(LATCH_JOSE_ES256, 32);
}

static void test_ec_coordinate_padding_p384(void **state)
{
    (void)state;
    check_ec_padding(LATCH_JOSE_ES384, 48);
}

static void test_rsa_export(void **state)
{
    char *json = NULL;
    struct latch_error err = {0};
    uint8_t n[600];
    uint8_t e[8];

    (void)state;
    struct latch_jose_key *key = generate(LATCH_JOSE_RS256);
    assert_int_equal(latch_jose_key_public_jwk(key, &json, NULL, &err), LATCH_OK);
    yajl_val v = parse(json);
    assert_string_equal(member(v, "kty"), "RSA");
    assert_null(latch_jose_json_get(v, "crv"));
    /* 2048 bits: 256 bytes exactly, the first not zero (RFC 7518 §6.3.1.1). */
    assert_int_equal(member_bytes(v, "n", n, sizeof(n)), 256);
    assert_true(n[0] != 0);
    assert_string_equal(member(v, "e"), "AQAB");
    assert_int_equal(member_bytes(v, "e", e, sizeof(e)), 3);
    assert_string_equal(member(v, "alg"), "RS256");
    for (const char *const *m = (const char *const[]){"d", "p", "q", "dp", "dq", "qi", NULL}; *m;
         m++)
        assert_null(latch_jose_json_get(v, *m));
    struct latch_jose_key *back = import(json);
    assert_non_null(back);
    assert_string_equal(back->kid, key->kid);
    latch_jose_key_free(back);
    yajl_tree_free(v);
    free(json);
    latch_jose_key_free(key);
}

static void test_jwks(void **state)
{
    struct latch_error err = {0};
    char *json = NULL;
    size_t len = 0;

    (void)state;
    struct latch_jose_key *a = generate(LATCH_JOSE_ES384);
    struct latch_jose_key *b = generate(LATCH_JOSE_EDDSA);
    const struct latch_jose_key *keys[] = {a, b};
    assert_int_equal(latch_jose_jwks(keys, 2, &json, &len, &err), LATCH_OK);
    assert_int_equal(strlen(json), len);
    yajl_val v = parse(json);
    yajl_val arr = latch_jose_json_get(v, "keys");
    assert_true(YAJL_IS_ARRAY(arr));
    assert_int_equal(arr->u.array.len, 2);
    assert_string_equal(member(arr->u.array.values[0], "kid"), a->kid);
    assert_string_equal(member(arr->u.array.values[0], "crv"), "P-384");
    assert_string_equal(member(arr->u.array.values[0], "alg"), "ES384");
    assert_string_equal(member(arr->u.array.values[1], "kid"), b->kid);
    assert_string_equal(member(arr->u.array.values[1], "kty"), "OKP");
    assert_null(latch_jose_json_get(arr->u.array.values[0], "d"));
    assert_null(latch_jose_json_get(arr->u.array.values[1], "d"));
    yajl_tree_free(v);
    free(json);

    assert_int_equal(latch_jose_jwks(keys, 0, &json, &len, &err), LATCH_OK);
    assert_string_equal(json, "{\"keys\":[]}");
    free(json);
    latch_jose_key_free(a);
    latch_jose_key_free(b);
}

static void test_import_refusals(void **state)
{
    (void)state;
    /* Off the curve: A.3's point with one bit of y flipped. */
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
                          "\",\"y\":\"" A3_Y_OFF_CURVE "\"}");
    /* Coordinates of the wrong length: y of 31 bytes (A.3's without its first byte), x of 33
     * (A.3's with a zero byte in front), and a P-256 point named P-384. */
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X
                          "\",\"y\":\"8UTNG72bfocs3-257rn0s2ldbqkLJK2KRiMohYjlrQ\"}");
    expect_import_refused(
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AH_Nzidw9sRdQYPL7m_bS3tYBzM1e-nvE7rPbjx70VRF\","
        "\"y\":\"" A3_Y "\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\"}");
    /* Curves and key types not supported. */
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\"}");
    expect_import_refused("{\"kty\":\"EC\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y "\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\"}");
    expect_import_refused("{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-"
                          "1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"}");
    expect_import_refused("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" RFC8037_X "\"}");
    expect_import_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_"
                          "7TyWQHOg7hcvPapiMlrwIaaPcHUQ\"}");
    expect_import_refused("{\"kty\":\"RSA\",\"e\":\"AQAB\"}");
    /* Optional members that contradict the key. */
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\",\"alg\":\"ES384\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\",\"use\":\"enc\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\",\"key_ops\":[\"sign\"]}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\",\"kid\":\"\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" A3_X "\",\"y\":\"" A3_Y
                          "\",\"kid\":7}");
    /* Not strict JSON: duplicate member, comment, escaped NUL, not an object, garbage. */
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"crv\":\"P-384\",\"x\":\"" A3_X
                          "\",\"y\":\"" A3_Y "\"}");
    expect_import_refused("{\"kty\":\"EC\",/* c */\"crv\":\"P-256\",\"x\":\"" A3_X
                          "\",\"y\":\"" A3_Y "\"}");
    expect_import_refused("{\"kty\":\"EC\",\"crv\":\"P-256\\u0000x\",\"x\":\"" A3_X
                          "\",\"y\":\"" A3_Y "\"}");
    expect_import_refused("[{\"kty\":\"EC\"}]");
    expect_import_refused("{\"kty\":");
    expect_import_refused("");
    /* Base64 with padding or the standard alphabet. */
    expect_import_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "=\"}");
    expect_import_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS/"
                          "7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}");
}

/* A real RSA key of 1024 bits (made here with OpenSSL) is well-formed but too small. */
static void test_import_small_rsa(void **state)
{
    uint8_t buf[128];
    char n[200];
    char json[400];
    BIGNUM *bn = NULL;
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};

    (void)state;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    assert_int_equal(BN_bn2bin(bn, buf), 128);
    assert_int_equal(latch_base64url_encode(buf, 128, n, sizeof(n)), 171);
    snprintf(json, sizeof(json), "{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}", n);
    assert_int_equal(latch_jose_key_from_jwk(json, strlen(json), &key, &err), LATCH_FAIL);
    assert_null(key);
    assert_string_equal(err.code, "invalid_key");
    assert_non_null(strstr(err.message, "2048"));
    BN_free(bn);
    EVP_PKEY_free(pkey);
}

static void test_import_size_bound(void **state)
{
    struct latch_jose_key *key = NULL;
    struct latch_error err = {0};
    size_t len = LATCH_JOSE_JWK_MAX + 1;
    char *big = malloc(len + 1);

    (void)state;
    assert_non_null(big);
    memset(big, ' ', len);
    big[len] = '\0';
    const char *jwk = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}";
    memcpy(big, jwk, strlen(jwk));
    assert_int_equal(latch_jose_key_from_jwk(big, len, &key, &err), LATCH_FAIL);
    assert_null(key);
    /* The same document within the bound is fine (trailing whitespace is valid JSON). */
    assert_int_equal(latch_jose_key_from_jwk(big, len - 1, &key, &err), LATCH_OK);
    latch_jose_key_free(key);
    free(big);
}

/* Signs with `a` and verifies with `b` (different objects holding the same key pair). */
static void assert_same_pair(const struct latch_jose_key *a, const struct latch_jose_key *b)
{
    struct latch_error err = {0};
    char *tok = NULL;
    struct latch_jose_jws jws;
    static const char payload[] = "{\"sub\":\"pkcs8\"}";
    assert_int_equal(latch_jose_sign(a, NULL, payload, strlen(payload), &tok, &err), LATCH_OK);
    const struct latch_jose_key *keys[] = {b};
    assert_int_equal(latch_jose_verify(tok, strlen(tok), keys, 1, LATCH_JOSE_ALGS_ALL, &jws, &err),
                     LATCH_OK);
    latch_jose_jws_clear(&jws);
    free(tok);
}

static void test_pkcs8_round_trip(void **state)
{
    static const enum latch_jose_alg algs[] = {LATCH_JOSE_ES256, LATCH_JOSE_ES384, LATCH_JOSE_RS256,
                                               LATCH_JOSE_EDDSA};
    (void)state;
    for (size_t i = 0; i < 4; i++) {
        struct latch_error err = {0};
        struct latch_jose_key *key = generate(algs[i]);
        struct latch_jose_key *back = NULL;
        uint8_t *der = NULL;
        size_t der_len = 0;
        char *pem = NULL;
        size_t pem_len = 0;

        assert_int_equal(latch_jose_key_to_pkcs8_der(key, &der, &der_len, &err), LATCH_OK);
        assert_true(der_len > 16);
        assert_int_equal(der[0], 0x30); /* SEQUENCE */
        assert_int_equal(latch_jose_key_from_pkcs8_der(der, der_len, &back, &err), LATCH_OK);
        assert_int_equal(back->alg, key->alg);
        assert_true(back->has_private);
        assert_string_equal(back->kid, key->kid);
        assert_same_pair(back, key);
        assert_same_pair(key, back);
        latch_jose_key_free(back);
        back = NULL;

        /* Trailing bytes, truncation and a flipped version byte are refused. */
        uint8_t *longer = malloc(der_len + 1);
        assert_non_null(longer);
        memcpy(longer, der, der_len);
        longer[der_len] = 0;
        assert_int_equal(latch_jose_key_from_pkcs8_der(longer, der_len + 1, &back, &err),
                         LATCH_FAIL);
        assert_null(back);
        assert_int_equal(latch_jose_key_from_pkcs8_der(der, der_len - 1, &back, &err), LATCH_FAIL);
        assert_null(back);
        assert_int_equal(latch_jose_key_from_pkcs8_der(der, 0, &back, &err), LATCH_FAIL);
        latch_jose_secret_free(longer, der_len + 1);

        assert_int_equal(latch_jose_key_to_pkcs8_pem(key, &pem, &pem_len, &err), LATCH_OK);
        assert_int_equal(strlen(pem), pem_len);
        assert_int_equal(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
        assert_int_equal(latch_jose_key_from_pkcs8_pem(pem, pem_len, &back, &err), LATCH_OK);
        assert_string_equal(back->kid, key->kid);
        assert_same_pair(back, key);
        latch_jose_key_free(back);
        back = NULL;
        /* DER is not PEM and PEM is not DER. */
        assert_int_equal(latch_jose_key_from_pkcs8_pem((const char *)der, der_len, &back, &err),
                         LATCH_FAIL);
        assert_int_equal(latch_jose_key_from_pkcs8_der((const uint8_t *)pem, pem_len, &back, &err),
                         LATCH_FAIL);
        assert_null(back);

        latch_jose_secret_free(der, der_len);
        latch_jose_secret_free(pem, pem_len);
        latch_jose_key_free(key);
    }
}

static void test_public_key_cannot_export_or_sign(void **state)
{
    struct latch_error err = {0};
    uint8_t *der = NULL;
    size_t der_len = 0;
    char *tok = NULL;

    (void)state;
    struct latch_jose_key *key =
        import("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" RFC8037_X "\"}");
    assert_non_null(key);
    assert_int_equal(latch_jose_key_to_pkcs8_der(key, &der, &der_len, &err), LATCH_FAIL);
    assert_null(der);
    assert_int_equal(latch_jose_sign(key, NULL, "{}", 2, &tok, &err), LATCH_FAIL);
    assert_null(tok);
    assert_int_equal(err.status, 500);
    latch_jose_key_free(key);
}

static void test_garbage_pkcs8(void **state)
{
    struct latch_error err = {0};
    struct latch_jose_key *key = NULL;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    uint8_t der[48];

    (void)state;
    assert_int_equal(latch_jose_key_from_pkcs8_der(junk, sizeof(junk), &key, &err), LATCH_FAIL);
    assert_null(key);
    assert_string_equal(err.code, "invalid_key");
    /* A well-formed PKCS#8 whose algorithm identifier is changed to X25519 (1.3.101.110). */
    memcpy(der, ed25519_pkcs8_prefix, 16);
    memcpy(der + 16, rfc8037_d, 32);
    der[11] = 0x6e;
    assert_int_equal(latch_jose_key_from_pkcs8_der(der, sizeof(der), &key, &err), LATCH_FAIL);
    assert_null(key);
}

static void test_alg_names(void **state)
{
    enum latch_jose_alg alg;

    (void)state;
    for (unsigned i = 0; i < LATCH_JOSE_ALG_COUNT; i++) {
        const char *name = latch_jose_alg_name((enum latch_jose_alg)i);
        assert_true(latch_jose_alg_from_name(name, strlen(name), &alg));
        assert_int_equal(alg, i);
    }
    assert_string_equal(latch_jose_alg_name(LATCH_JOSE_ES256), "ES256");
    assert_string_equal(latch_jose_alg_name(LATCH_JOSE_ES384), "ES384");
    assert_string_equal(latch_jose_alg_name(LATCH_JOSE_RS256), "RS256");
    assert_string_equal(latch_jose_alg_name(LATCH_JOSE_EDDSA), "EdDSA");
    static const char *const refused[] = {"none",  "None",   "es256", "EDDSA", "HS256",  "PS256",
                                          "ES512", "ES2560", "ES25",  "",      "Ed25519"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        assert_false(latch_jose_alg_from_name(refused[i], strlen(refused[i]), &alg));
    /* Length-bounded: "ES256" followed by more bytes is not ES256. */
    assert_false(latch_jose_alg_from_name("ES256x", 6, &alg));
    assert_true(latch_jose_alg_from_name("ES256x", 5, &alg));
}

static void test_strict_json(void **state)
{
    yajl_val v = NULL;
    struct latch_error err = {0};

    (void)state;
    assert_true(jose_parse("{\"a\":{\"b\":[1,2]}}", 17, 3, &v, &err));
    yajl_tree_free(v);
    assert_false(jose_parse("{\"a\":{\"b\":[1,2]}}", 17, 2, &v, &err));
    assert_string_equal(err.message, "nested too deeply");
    assert_null(v);
    assert_false(jose_parse("{\"a\":1,\"a\":2}", 13, 3, &v, &err));
    assert_string_equal(err.message, "duplicate key `a`");
    assert_false(jose_parse("{\"a\":{\"b\":1,\"b\":1}}", 19, 3, &v, &err));
    assert_false(jose_parse("{\"a\":1}//", 9, 3, &v, &err));
    assert_false(jose_parse("{\"a\":1}\0", 8, 3, &v, &err));
    assert_false(jose_parse("[1]", 3, 3, &v, &err));
    assert_string_equal(err.message, "must be a JSON object");
    assert_false(jose_parse("{\"a\":1} {}", 10, 3, &v, &err));
    /* A slash inside a string is fine; an escaped quote does not end the string. */
    assert_true(jose_parse("{\"a\":\"x/\\\"//\"}", 14, 3, &v, &err));
    assert_string_equal(member(v, "a"), "x/\"//");
    yajl_tree_free(v);
    /* At most 256 members per object. */
    char big[257 * 12 + 2];
    for (int n = 256; n <= 257; n++) {
        size_t k = 0;
        big[k++] = '{';
        for (int i = 0; i < n; i++)
            k += (size_t)snprintf(big + k, sizeof(big) - k, "%s\"k%d\":1", i ? "," : "", i);
        big[k++] = '}';
        bool ok = jose_parse(big, k, 3, &v, &err);
        assert_int_equal(ok, n == 256);
        yajl_tree_free(v);
        v = NULL;
    }
    assert_string_equal(err.message, "an object has too many members");
}

/* Webhook signatures: RFC 4231's HMAC-SHA-256 test cases 1 and 2, in lowercase hex. */
static void test_hmac_sha256_hex(void **state)
{
    char out[65];
    char key1[20];
    (void)state;
    memset(key1, 0x0b, sizeof(key1));
    assert_int_equal(latch_jose_hmac_sha256_hex(key1, sizeof(key1), "Hi There", 8, out), LATCH_OK);
    assert_string_equal(out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_int_equal(latch_jose_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, out),
                     LATCH_OK);
    assert_string_equal(out, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7638_thumbprint),
        cmocka_unit_test(test_ec_import_and_thumbprint),
        cmocka_unit_test(test_okp_rfc8037),
        cmocka_unit_test(test_ec_coordinate_padding_p256),
        cmocka_unit_test(test_ec_coordinate_padding_p384),
        cmocka_unit_test(test_rsa_export),
        cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_import_small_rsa),
        cmocka_unit_test(test_import_size_bound),
        cmocka_unit_test(test_pkcs8_round_trip),
        cmocka_unit_test(test_public_key_cannot_export_or_sign),
        cmocka_unit_test(test_garbage_pkcs8),
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_strict_json),
        cmocka_unit_test(test_hmac_sha256_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
