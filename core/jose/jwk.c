/*
 * JOSE keys on OpenSSL 3 EVP: generation, PKCS#8 in and out, the public JWK/JWKS form, public
 * JWK import with validation, RFC 7638 thumbprints, and the strict JSON parsing the whole JOSE
 * layer shares. See jwk.h.
 */
#include "jose/jwk.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "util/base64.h"

/* Largest DER ECDSA signature for P-384: SEQUENCE(2) + 2 x INTEGER(2 + 49). */
#define ECDSA_DER_MAX 112
/* Idle signing contexts kept per key: about the number of threads that sign at once. */
#define POOL_MAX 16

/* Initialised EVP_PKEY_CTXs for ECDSA signing. Setting one up (provider fetches, context
 * allocation, digest setup) costs about a fifth of a P-256 signature, so each is reused for many
 * signatures; a context serves one thread at a time, hence the mutex around the idle list. */
struct latch_jose_sign_pool {
    pthread_mutex_t lock;
    EVP_MD *md; /* prefetched SHA-256 or SHA-384 */
    int n;
    EVP_PKEY_CTX *idle[POOL_MAX];
};

/* Upper bounds of the public members' base64url text (RSA n at LATCH_JOSE_RSA_MAX_BITS). */
#define RSA_N_MAX_BYTES (LATCH_JOSE_RSA_MAX_BITS / 8)
#define RSA_E_MAX_BYTES 16
#define B64_CAP(n)      (((n) + 2) / 3 * 4 + 1)

/* The public members of a key, base64url-encoded, as a JWK and its thumbprint need them. */
struct pub_members {
    const char *kty;
    const char *crv; /* NULL for RSA */
    char x[B64_CAP(48)];
    char y[B64_CAP(48)];
    char n[B64_CAP(RSA_N_MAX_BYTES)];
    char e[B64_CAP(RSA_E_MAX_BYTES)];
};

static const char *const alg_names[LATCH_JOSE_ALG_COUNT] = {
    [LATCH_JOSE_ES256] = "ES256",
    [LATCH_JOSE_ES384] = "ES384",
    [LATCH_JOSE_RS256] = "RS256",
    [LATCH_JOSE_EDDSA] = "EdDSA",
};

const char *latch_jose_alg_name(enum latch_jose_alg alg)
{
    if ((unsigned)alg >= LATCH_JOSE_ALG_COUNT)
        return "?";
    return alg_names[alg];
}

bool latch_jose_alg_from_name(const char *name, size_t len, enum latch_jose_alg *out)
{
    for (unsigned i = 0; i < LATCH_JOSE_ALG_COUNT; i++) {
        if (strlen(alg_names[i]) == len && memcmp(alg_names[i], name, len) == 0) {
            *out = (enum latch_jose_alg)i;
            return true;
        }
    }
    return false;
}

/* Coordinate size of the EC algorithms, 0 for the others. */
static size_t ec_coord_len(enum latch_jose_alg alg)
{
    return alg == LATCH_JOSE_ES256 ? 32 : alg == LATCH_JOSE_ES384 ? 48 : 0;
}

/* Appends OpenSSL's queued errors to err's detail and clears the queue. */
static void ossl_detail(struct latch_error *err)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        latch_error_detail(err, "; %s", buf);
    }
}

/* An internal failure of OpenSSL or of memory: 500 for whoever asked. */
static latch_rc internal_fail(struct latch_error *err, const char *what)
{
    latch_error_set(err, 500, "server_error", "Internal server error.");
    latch_error_detail(err, "jose: %s failed", what);
    ossl_detail(err);
    return LATCH_FAIL;
}

static latch_rc invalid_key(struct latch_error *err, const char *why)
{
    latch_error_set(err, 400, "invalid_key", "The key is invalid: %s.", why);
    ossl_detail(err);
    return LATCH_FAIL;
}

/* ---- JSON ---- */

yajl_val latch_jose_json_get(yajl_val obj, const char *name)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], name) == 0)
            return obj->u.object.values[i];
    return NULL;
}

/* ---- public members, thumbprint, JWK output ---------------------------------------------- */

static bool b64_into(const uint8_t *in, size_t len, char *out, size_t cap)
{
    return latch_base64url_encode(in, len, out, cap) >= 0;
}

static latch_rc pub_members_get(const struct latch_jose_key *key, struct pub_members *m,
                                struct latch_error *err)
{
    EVP_PKEY *pkey = key->pkey;
    BIGNUM *a = NULL;
    BIGNUM *b = NULL;
    uint8_t buf[RSA_N_MAX_BYTES];
    latch_rc rc = LATCH_FAIL;

    memset(m, 0, sizeof(*m));
    switch (key->alg) {
    case LATCH_JOSE_ES256:
    case LATCH_JOSE_ES384: {
        size_t coord = ec_coord_len(key->alg);
        m->kty = "EC";
        m->crv = key->alg == LATCH_JOSE_ES256 ? "P-256" : "P-384";
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) != 1 ||
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b) != 1) {
            internal_fail(err, "reading the EC public point");
            goto done;
        }
        /* RFC 7518 §6.2.1.2: each coordinate is exactly the curve size, zeros to the left. */
        if (BN_bn2binpad(a, buf, (int)coord) != (int)coord ||
            !b64_into(buf, coord, m->x, sizeof(m->x)) ||
            BN_bn2binpad(b, buf, (int)coord) != (int)coord ||
            !b64_into(buf, coord, m->y, sizeof(m->y))) {
            internal_fail(err, "encoding the EC public point");
            goto done;
        }
        break;
    }
    case LATCH_JOSE_RS256: {
        m->kty = "RSA";
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &a) != 1 ||
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &b) != 1) {
            internal_fail(err, "reading the RSA public key");
            goto done;
        }
        /* RFC 7518 §6.3.1: the minimal big-endian form, which BN_bn2bin gives. */
        int nlen = BN_num_bytes(a);
        int elen = BN_num_bytes(b);
        if (nlen <= 0 || nlen > RSA_N_MAX_BYTES || elen <= 0 || elen > RSA_E_MAX_BYTES) {
            internal_fail(err, "sizing the RSA public key");
            goto done;
        }
        if (BN_bn2bin(a, buf) != nlen || !b64_into(buf, (size_t)nlen, m->n, sizeof(m->n)) ||
            BN_bn2bin(b, buf) != elen || !b64_into(buf, (size_t)elen, m->e, sizeof(m->e))) {
            internal_fail(err, "encoding the RSA public key");
            goto done;
        }
        break;
    }
    case LATCH_JOSE_EDDSA: {
        size_t len = 0;
        m->kty = "OKP";
        m->crv = "Ed25519";
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, 32, &len) != 1 ||
            len != 32 || !b64_into(buf, 32, m->x, sizeof(m->x))) {
            internal_fail(err, "reading the Ed25519 public key");
            goto done;
        }
        break;
    }
    default:
        internal_fail(err, "an unknown algorithm");
        goto done;
    }
    rc = LATCH_OK;
done:
    BN_free(a);
    BN_free(b);
    return rc;
}

/* RFC 7638 §3: SHA-256 over the required members, in lexicographic order, without spaces.
 * Every value is base64url or a constant, so no escaping is needed. */
static latch_rc thumbprint_of(const struct pub_members *m, char out[LATCH_JOSE_THUMBPRINT_LEN + 1],
                              struct latch_error *err)
{
    char canon[sizeof(m->n) + sizeof(m->e) + 64];
    int n;
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (strcmp(m->kty, "EC") == 0)
        n = snprintf(canon, sizeof(canon),
                     "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", m->crv, m->x,
                     m->y);
    else if (strcmp(m->kty, "RSA") == 0)
        n = snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", m->e,
                     m->n);
    else
        n = snprintf(canon, sizeof(canon), "{\"crv\":\"%s\",\"kty\":\"OKP\",\"x\":\"%s\"}", m->crv,
                     m->x);
    if (n < 0 || (size_t)n >= sizeof(canon))
        return internal_fail(err, "building the thumbprint input");
    if (EVP_Digest(canon, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return internal_fail(err, "hashing the thumbprint input");
    if (latch_base64url_encode(md, mdlen, out, LATCH_JOSE_THUMBPRINT_LEN + 1) !=
        LATCH_JOSE_THUMBPRINT_LEN)
        return internal_fail(err, "encoding the thumbprint");
    return LATCH_OK;
}

latch_rc latch_jose_key_thumbprint(const struct latch_jose_key *key,
                                   char out[LATCH_JOSE_THUMBPRINT_LEN + 1], struct latch_error *err)
{
    struct pub_members m;
    if (pub_members_get(key, &m, err) != LATCH_OK)
        return LATCH_FAIL;
    return thumbprint_of(&m, out, err);
}

/* Writes one public JWK as an object (member order as RFC 7517's examples). */
static void gen_jwk(struct latch_json *g, const struct latch_jose_key *key,
                    const struct pub_members *m)
{
    latch_json_begin_object(g);
    latch_json_key(g, "kty");
    latch_json_string(g, m->kty);
    if (m->crv != NULL) {
        latch_json_key(g, "crv");
        latch_json_string(g, m->crv);
    }
    if (strcmp(m->kty, "RSA") == 0) {
        latch_json_key(g, "n");
        latch_json_string(g, m->n);
        latch_json_key(g, "e");
        latch_json_string(g, m->e);
    } else {
        latch_json_key(g, "x");
        latch_json_string(g, m->x);
        if (strcmp(m->kty, "EC") == 0) {
            latch_json_key(g, "y");
            latch_json_string(g, m->y);
        }
    }
    latch_json_key(g, "kid");
    latch_json_string(g, key->kid);
    latch_json_key(g, "alg");
    latch_json_string(g, latch_jose_alg_name(key->alg));
    latch_json_key(g, "use");
    latch_json_string(g, "sig");
    latch_json_end_object(g);
}

static latch_rc jwks_or_jwk(const struct latch_jose_key *const *keys, size_t n, bool set,
                            char **json, size_t *len, struct latch_error *err)
{
    struct latch_json g;
    struct pub_members *m = malloc(sizeof(*m));
    latch_rc rc = LATCH_FAIL;

    *json = NULL;
    /* Key ids from imported JWKs are arbitrary text: refuse to emit invalid UTF-8. */
    latch_json_init_strict(&g);
    if (m == NULL) {
        internal_fail(err, "setting up the JWK writer");
        goto done;
    }
    if (set) {
        latch_json_begin_object(&g);
        latch_json_key(&g, "keys");
        latch_json_begin_array(&g);
    }
    for (size_t i = 0; i < n; i++) {
        if (pub_members_get(keys[i], m, err) != LATCH_OK)
            goto done;
        gen_jwk(&g, keys[i], m);
    }
    if (set) {
        latch_json_end_array(&g);
        latch_json_end_object(&g);
    }
    *json = latch_json_take(&g, len);
    if (*json == NULL) {
        internal_fail(err, "generating JWK JSON");
        goto done;
    }
    rc = LATCH_OK;
done:
    latch_json_clear(&g);
    free(m);
    return rc;
}

latch_rc latch_jose_key_public_jwk(const struct latch_jose_key *key, char **json, size_t *len,
                                   struct latch_error *err)
{
    return jwks_or_jwk(&key, 1, false, json, len, err);
}

latch_rc latch_jose_jwks(const struct latch_jose_key *const *keys, size_t n, char **json,
                         size_t *len, struct latch_error *err)
{
    return jwks_or_jwk(keys, n, true, json, len, err);
}

/* ---- signing and verifying -------------------------------------------------------------- */

/* Digest for EVP_Digest{Sign,Verify}Init_ex; NULL for Ed25519, which hashes internally. */
static const char *md_name(enum latch_jose_alg alg)
{
    switch (alg) {
    case LATCH_JOSE_ES256:
    case LATCH_JOSE_RS256:
        return "SHA256";
    case LATCH_JOSE_ES384:
        return "SHA384";
    default:
        return NULL;
    }
}

size_t latch_jose_key_sig_len(const struct latch_jose_key *key)
{
    switch (key->alg) {
    case LATCH_JOSE_ES256:
    case LATCH_JOSE_ES384:
        return 2 * ec_coord_len(key->alg);
    case LATCH_JOSE_EDDSA:
        return 64;
    case LATCH_JOSE_RS256: {
        int n = EVP_PKEY_get_size(key->pkey);
        return n > 0 && n <= LATCH_JOSE_SIG_MAX ? (size_t)n : 0;
    }
    default:
        return 0;
    }
}

latch_rc latch_jose_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t coord, uint8_t *raw,
                                     struct latch_error *err)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = NULL;
    latch_rc rc = LATCH_FAIL;

    if (der_len == 0 || der_len > ECDSA_DER_MAX || coord == 0 || coord > 66) {
        internal_fail(err, "sizing an ECDSA signature");
        goto done;
    }
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL || p != der + der_len) {
        internal_fail(err, "decoding a DER ECDSA signature");
        goto done;
    }
    /* The classic JOSE bug is to copy BN_bn2bin's minimal bytes: r or s below 2^(8(coord-1))
     * (about 1 signature in 128) then comes out short. Pad each half to the curve size. */
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, (int)coord) != (int)coord ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + coord, (int)coord) != (int)coord) {
        internal_fail(err, "padding an ECDSA signature");
        goto done;
    }
    rc = LATCH_OK;
done:
    ECDSA_SIG_free(sig);
    return rc;
}

latch_rc latch_jose_ecdsa_raw_to_der(const uint8_t *raw, size_t coord, uint8_t *der, size_t cap,
                                     size_t *der_len, struct latch_error *err)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(raw + coord, (int)coord, NULL);
    unsigned char *p = der;
    latch_rc rc = LATCH_FAIL;

    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        internal_fail(err, "building an ECDSA signature");
        goto done;
    }
    r = NULL; /* owned by sig now */
    s = NULL;
    int n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || (size_t)n > cap || i2d_ECDSA_SIG(sig, &p) != n) {
        internal_fail(err, "encoding a DER ECDSA signature");
        goto done;
    }
    *der_len = (size_t)n;
    rc = LATCH_OK;
done:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rc;
}

static void pool_free(struct latch_jose_sign_pool *pool)
{
    if (pool == NULL)
        return;
    for (int i = 0; i < pool->n; i++)
        EVP_PKEY_CTX_free(pool->idle[i]);
    EVP_MD_free(pool->md);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

static latch_rc pool_new(struct latch_jose_key *key, struct latch_error *err)
{
    struct latch_jose_sign_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return internal_fail(err, "allocating a signing pool");
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return internal_fail(err, "initialising a signing pool");
    }
    pool->md = EVP_MD_fetch(NULL, md_name(key->alg), NULL);
    if (pool->md == NULL) {
        pool_free(pool);
        return internal_fail(err, "fetching a digest");
    }
    key->pool = pool;
    return LATCH_OK;
}

/* An idle signing context of key's pool, or a fresh one; NULL on failure. */
static EVP_PKEY_CTX *pool_take(const struct latch_jose_key *key)
{
    struct latch_jose_sign_pool *pool = key->pool;
    EVP_PKEY_CTX *ctx = NULL;

    pthread_mutex_lock(&pool->lock);
    if (pool->n > 0)
        ctx = pool->idle[--pool->n];
    pthread_mutex_unlock(&pool->lock);
    if (ctx != NULL)
        return ctx;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, pool->md) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Returns ctx for reuse, or frees it when the pool is full. */
static void pool_give(const struct latch_jose_key *key, EVP_PKEY_CTX *ctx)
{
    struct latch_jose_sign_pool *pool = key->pool;

    pthread_mutex_lock(&pool->lock);
    if (pool->n < POOL_MAX) {
        pool->idle[pool->n++] = ctx;
        ctx = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    EVP_PKEY_CTX_free(ctx);
}

/* ECDSA: hash, sign the digest with a pooled context (each EVP_PKEY_sign draws a fresh nonce),
 * convert DER to r||s. */
static latch_rc ecdsa_sign(const struct latch_jose_key *key, const void *data, size_t len,
                           uint8_t *sig, struct latch_error *err)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t der[ECDSA_DER_MAX];
    size_t der_len = sizeof(der);
    EVP_PKEY_CTX *ctx = pool_take(key);
    latch_rc rc = LATCH_FAIL;

    if (ctx == NULL) {
        internal_fail(err, "setting up ECDSA signing");
        goto done;
    }
    if (EVP_Digest(data, len, digest, &dlen, key->pool->md, NULL) != 1 ||
        EVP_PKEY_sign(ctx, der, &der_len, digest, dlen) != 1) {
        internal_fail(err, "ECDSA signing");
        /* A context that failed mid-operation is not trusted again. */
        EVP_PKEY_CTX_free(ctx);
        ctx = NULL;
        goto done;
    }
    rc = latch_jose_ecdsa_der_to_raw(der, der_len, ec_coord_len(key->alg), sig, err);
done:
    if (ctx != NULL)
        pool_give(key, ctx);
    OPENSSL_cleanse(digest, sizeof(digest));
    return rc;
}

latch_rc latch_jose_key_sign(const struct latch_jose_key *key, const void *data, size_t len,
                             uint8_t *sig, size_t cap, size_t *siglen, struct latch_error *err)
{
    EVP_MD_CTX *ctx = NULL;
    size_t want = latch_jose_key_sig_len(key);
    size_t n = cap;
    latch_rc rc = LATCH_FAIL;

    *siglen = 0;
    if (!key->has_private || want == 0 || cap < want) {
        internal_fail(err, "signing without a private key or room for the signature");
        goto done;
    }
    if (key->alg == LATCH_JOSE_ES256 || key->alg == LATCH_JOSE_ES384) {
        if (ecdsa_sign(key, data, len, sig, err) != LATCH_OK)
            goto done;
    } else {
        /* RSA (about a millisecond) and Ed25519 gain little from reusing contexts. */
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL ||
            EVP_DigestSignInit_ex(ctx, NULL, md_name(key->alg), NULL, NULL, key->pkey, NULL) != 1) {
            internal_fail(err, "setting up signing");
            goto done;
        }
        if (EVP_DigestSign(ctx, sig, &n, data, len) != 1 || n != want) {
            internal_fail(err, "signing");
            goto done;
        }
    }
    *siglen = want;
    rc = LATCH_OK;
done:
    EVP_MD_CTX_free(ctx);
    return rc;
}

bool latch_jose_key_verify(const struct latch_jose_key *key, const void *data, size_t len,
                           const uint8_t *sig, size_t siglen)
{
    EVP_MD_CTX *ctx = NULL;
    uint8_t der[ECDSA_DER_MAX];
    bool ok = false;

    if (siglen == 0 || siglen != latch_jose_key_sig_len(key))
        goto done;
    if (key->alg == LATCH_JOSE_ES256 || key->alg == LATCH_JOSE_ES384) {
        /* JWS carries r||s; OpenSSL verifies DER. */
        size_t der_len = 0;
        if (latch_jose_ecdsa_raw_to_der(sig, siglen / 2, der, sizeof(der), &der_len, NULL) !=
            LATCH_OK)
            goto done;
        sig = der;
        siglen = der_len;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL ||
        EVP_DigestVerifyInit_ex(ctx, NULL, md_name(key->alg), NULL, NULL, key->pkey, NULL) != 1)
        goto done;
    ok = EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
done:
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* ---- making keys ------------------------------------------------------------------------- */

/* The algorithm an EVP_PKEY is used with, or an invalid_key error. */
static latch_rc alg_of_pkey(EVP_PKEY *pkey, enum latch_jose_alg *alg, struct latch_error *err)
{
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char name[80];
        size_t len = 0;
        if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
            return invalid_key(err, "the EC key has no named curve");
        int nid = OBJ_sn2nid(name);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(name);
        if (nid == NID_X9_62_prime256v1)
            *alg = LATCH_JOSE_ES256;
        else if (nid == NID_secp384r1)
            *alg = LATCH_JOSE_ES384;
        else
            return invalid_key(err, "the EC curve is not P-256 or P-384");
        return LATCH_OK;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < 2048 || bits > LATCH_JOSE_RSA_MAX_BITS)
            return invalid_key(err, "the RSA modulus is not between 2048 and 8192 bits");
        *alg = LATCH_JOSE_RS256;
        return LATCH_OK;
    }
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *alg = LATCH_JOSE_EDDSA;
        return LATCH_OK;
    }
    return invalid_key(err, "the key type is not supported");
}

/* The protected header prefix `{"alg":"…","kid":"…"` for a signing key. */
static latch_rc header_prefix(struct latch_jose_key *key, struct latch_error *err)
{
    struct latch_json g;
    latch_rc rc = LATCH_FAIL;
    size_t len = 0;

    latch_json_init_strict(&g);
    latch_json_begin_object(&g);
    latch_json_key(&g, "alg");
    latch_json_string(&g, latch_jose_alg_name(key->alg));
    latch_json_key(&g, "kid");
    latch_json_string(&g, key->kid);
    latch_json_end_object(&g);
    char *json = latch_json_take(&g, &len);
    if (json == NULL || len < 2 || json[len - 1] != '}') {
        free(json);
        internal_fail(err, "generating the protected header");
        goto done;
    }
    /* Drop the closing brace: signing appends the caller's members, then closes it. */
    json[--len] = '\0';
    key->header = json;
    key->header_len = len;
    rc = LATCH_OK;
done:
    latch_json_clear(&g);
    return rc;
}

/* Wraps pkey (always taken, also on failure) in a new key. kid NULL means the thumbprint. */
static latch_rc key_wrap(EVP_PKEY *pkey, bool has_private, const char *kid,
                         struct latch_jose_key **out, struct latch_error *err)
{
    struct latch_jose_key *key = calloc(1, sizeof(*key));
    latch_rc rc = LATCH_FAIL;

    *out = NULL;
    if (key == NULL) {
        internal_fail(err, "allocating a key");
        EVP_PKEY_free(pkey);
        goto done;
    }
    key->pkey = pkey;
    key->has_private = has_private;
    if (alg_of_pkey(pkey, &key->alg, err) != LATCH_OK)
        goto done;
    if (kid != NULL)
        snprintf(key->kid, sizeof(key->kid), "%s", kid);
    else if (latch_jose_key_thumbprint(key, key->kid, err) != LATCH_OK)
        goto done;
    if (has_private && header_prefix(key, err) != LATCH_OK)
        goto done;
    if (has_private && (key->alg == LATCH_JOSE_ES256 || key->alg == LATCH_JOSE_ES384) &&
        pool_new(key, err) != LATCH_OK)
        goto done;
    *out = key;
    key = NULL;
    rc = LATCH_OK;
done:
    latch_jose_key_free(key);
    return rc;
}

void latch_jose_key_free(struct latch_jose_key *key)
{
    if (key == NULL)
        return;
    /* The pooled contexts hold references to pkey: free them first. */
    pool_free(key->pool);
    EVP_PKEY_free(key->pkey);
    free(key->header);
    free(key);
}

void latch_jose_secret_free(void *p, size_t len)
{
    if (p != NULL)
        OPENSSL_clear_free(p, len);
}

latch_rc latch_jose_key_generate(enum latch_jose_alg alg, struct latch_jose_key **out,
                                 struct latch_error *err)
{
    EVP_PKEY *pkey = NULL;

    *out = NULL;
    switch (alg) {
    case LATCH_JOSE_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case LATCH_JOSE_ES384:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        break;
    case LATCH_JOSE_RS256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case LATCH_JOSE_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    default:
        return latch_error_set(err, 500, "server_error", "Internal server error.");
    }
    if (pkey == NULL)
        return internal_fail(err, "generating a key");
    return key_wrap(pkey, true, NULL, out, err);
}

/* ---- PKCS#8 ------------------------------------------------------------------------------ */

static latch_rc pkcs8_encode(const struct latch_jose_key *key, const char *type, uint8_t **data,
                             size_t *len, struct latch_error *err)
{
    OSSL_ENCODER_CTX *ectx = NULL;
    latch_rc rc = LATCH_FAIL;

    *data = NULL;
    *len = 0;
    if (!key->has_private) {
        latch_error_set(err, 500, "server_error", "Internal server error.");
        latch_error_detail(err, "jose: exporting a key without its private part");
        goto done;
    }
    ectx = OSSL_ENCODER_CTX_new_for_pkey(key->pkey, EVP_PKEY_KEYPAIR, type, "PrivateKeyInfo", NULL);
    if (ectx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0) {
        internal_fail(err, "setting up the PKCS#8 encoder");
        goto done;
    }
    if (OSSL_ENCODER_to_data(ectx, data, len) != 1 || *data == NULL || *len == 0) {
        internal_fail(err, "encoding PKCS#8");
        goto done;
    }
    rc = LATCH_OK;
done:
    OSSL_ENCODER_CTX_free(ectx);
    return rc;
}

latch_rc latch_jose_key_to_pkcs8_der(const struct latch_jose_key *key, uint8_t **der, size_t *len,
                                     struct latch_error *err)
{
    return pkcs8_encode(key, "DER", der, len, err);
}

latch_rc latch_jose_key_to_pkcs8_pem(const struct latch_jose_key *key, char **pem, size_t *len,
                                     struct latch_error *err)
{
    uint8_t *data = NULL;
    size_t n = 0;
    latch_rc rc = LATCH_FAIL;

    *pem = NULL;
    *len = 0;
    if (pkcs8_encode(key, "PEM", &data, &n, err) != LATCH_OK)
        goto done;
    /* The encoder does not NUL-terminate; copy into secure-freeable memory that is. */
    char *text = OPENSSL_malloc(n + 1);
    if (text == NULL) {
        internal_fail(err, "allocating PEM");
        goto done;
    }
    memcpy(text, data, n);
    text[n] = '\0';
    *pem = text;
    *len = n;
    rc = LATCH_OK;
done:
    latch_jose_secret_free(data, n);
    return rc;
}

static latch_rc pkcs8_decode(const char *type, const uint8_t *data, size_t len,
                             struct latch_jose_key **out, struct latch_error *err)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = NULL;
    EVP_PKEY_CTX *check = NULL;
    latch_rc rc = LATCH_FAIL;
    const unsigned char *p = data;
    size_t left = len;

    *out = NULL;
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, type, "PrivateKeyInfo", NULL, EVP_PKEY_KEYPAIR,
                                         NULL, NULL);
    if (dctx == NULL || OSSL_DECODER_CTX_get_num_decoders(dctx) == 0) {
        internal_fail(err, "setting up the PKCS#8 decoder");
        goto done;
    }
    if (len == 0 || OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
        invalid_key(err, "not an unencrypted PKCS#8 private key");
        goto done;
    }
    if (left != 0) {
        invalid_key(err, "trailing data after the PKCS#8 private key");
        goto done;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) {
        internal_fail(err, "checking the key pair");
        goto done;
    }
    if (EVP_PKEY_pairwise_check(check) != 1) {
        invalid_key(err, "the private and public parts do not match");
        goto done;
    }
    rc = key_wrap(pkey, true, NULL, out, err);
    pkey = NULL;
done:
    EVP_PKEY_CTX_free(check);
    OSSL_DECODER_CTX_free(dctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return rc;
}

latch_rc latch_jose_key_from_pkcs8_der(const uint8_t *der, size_t len, struct latch_jose_key **out,
                                       struct latch_error *err)
{
    return pkcs8_decode("DER", der, len, out, err);
}

latch_rc latch_jose_key_from_pkcs8_pem(const char *pem, size_t len, struct latch_jose_key **out,
                                       struct latch_error *err)
{
    return pkcs8_decode("PEM", (const uint8_t *)pem, len, out, err);
}

/* ---- JWK import -------------------------------------------------------------------------- */

/* Decodes the string member `name` of jwk into buf, requiring between min and max bytes. */
static bool jwk_bytes(yajl_val jwk, const char *name, uint8_t *buf, size_t min, size_t max,
                      size_t *len)
{
    yajl_val v = latch_jose_json_get(jwk, name);
    if (!YAJL_IS_STRING(v))
        return false;
    const char *s = v->u.string;
    ssize_t n = latch_base64url_decode(s, strlen(s), buf, max);
    if (n < 0 || (size_t)n < min)
        return false;
    *len = (size_t)n;
    return true;
}

static bool string_is(yajl_val v, const char *s)
{
    return YAJL_IS_STRING(v) && strcmp(v->u.string, s) == 0;
}

/* Checks "alg", "use", "key_ops" and "kid" of a JWK against what the key is. */
static latch_rc jwk_optional_members(yajl_val jwk, enum latch_jose_alg alg, const char **kid,
                                     struct latch_error *err)
{
    yajl_val v = latch_jose_json_get(jwk, "alg");
    if (v != NULL && !string_is(v, latch_jose_alg_name(alg)))
        return invalid_key(err, "\"alg\" does not match the key");
    v = latch_jose_json_get(jwk, "use");
    if (v != NULL && !string_is(v, "sig"))
        return invalid_key(err, "\"use\" is not \"sig\"");
    v = latch_jose_json_get(jwk, "key_ops");
    if (v != NULL) {
        bool verify = false;
        if (!YAJL_IS_ARRAY(v))
            return invalid_key(err, "\"key_ops\" is not an array");
        for (size_t i = 0; i < v->u.array.len; i++)
            verify = verify || string_is(v->u.array.values[i], "verify");
        if (!verify)
            return invalid_key(err, "\"key_ops\" does not allow \"verify\"");
    }
    *kid = NULL;
    v = latch_jose_json_get(jwk, "kid");
    if (v != NULL) {
        if (!YAJL_IS_STRING(v) || v->u.string[0] == '\0' ||
            strlen(v->u.string) > LATCH_JOSE_KID_MAX)
            return invalid_key(err, "\"kid\" is not a string of 1 to 128 characters");
        *kid = v->u.string;
    }
    return LATCH_OK;
}

latch_rc latch_jose_key_from_jwk(const char *json, size_t len, struct latch_jose_key **out,
                                 struct latch_error *err)
{
    yajl_val jwk = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn_n = NULL;
    BIGNUM *bn_e = NULL;
    const char *type = NULL;
    const char *kid = NULL;
    enum latch_jose_alg alg = LATCH_JOSE_ES256;
    uint8_t point[1 + 2 * 48];
    uint8_t *nbuf = NULL;
    latch_rc rc = LATCH_FAIL;

    *out = NULL;
    if (len > LATCH_JOSE_JWK_MAX) {
        invalid_key(err, "the JWK is too large");
        goto done;
    }
    struct latch_json_limits lim = latch_jose_json_limits(4);
    struct latch_error perr = {0};
    if (latch_json_parse(json, len, &lim, &jwk, &perr) != LATCH_OK) {
        invalid_key(err, "the JWK is not a valid JSON object");
        latch_error_detail(err, "jwk %s", perr.message);
        goto done;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        internal_fail(err, "allocating key parameters");
        goto done;
    }
    yajl_val kty = latch_jose_json_get(jwk, "kty");
    if (string_is(kty, "EC")) {
        yajl_val crv = latch_jose_json_get(jwk, "crv");
        size_t xlen = 0;
        size_t ylen = 0;
        if (string_is(crv, "P-256"))
            alg = LATCH_JOSE_ES256;
        else if (string_is(crv, "P-384"))
            alg = LATCH_JOSE_ES384;
        else {
            invalid_key(err, "\"crv\" is not P-256 or P-384");
            goto done;
        }
        size_t coord = ec_coord_len(alg);
        /* RFC 7518 §6.2.1.2-3: x and y are exactly the coordinate size, never shorter. */
        if (!jwk_bytes(jwk, "x", point + 1, coord, coord, &xlen) ||
            !jwk_bytes(jwk, "y", point + 1 + coord, coord, coord, &ylen)) {
            invalid_key(err, "\"x\" or \"y\" is not a coordinate of the curve's size");
            goto done;
        }
        point[0] = 0x04; /* uncompressed point */
        type = "EC";
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                            alg == LATCH_JOSE_ES256 ? "prime256v1" : "secp384r1",
                                            0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord) !=
                1) {
            internal_fail(err, "building EC parameters");
            goto done;
        }
    } else if (string_is(kty, "RSA")) {
        uint8_t ebuf[RSA_E_MAX_BYTES];
        size_t nlen = 0;
        size_t elen = 0;
        alg = LATCH_JOSE_RS256;
        /* One spare byte: a leading zero some encoders add is tolerated (BN drops it). */
        nbuf = malloc(RSA_N_MAX_BYTES + 1);
        if (nbuf == NULL) {
            internal_fail(err, "allocating the RSA modulus");
            goto done;
        }
        if (!jwk_bytes(jwk, "n", nbuf, 1, RSA_N_MAX_BYTES + 1, &nlen) ||
            !jwk_bytes(jwk, "e", ebuf, 1, sizeof(ebuf), &elen)) {
            invalid_key(err, "\"n\" or \"e\" is missing, malformed or too large");
            goto done;
        }
        type = "RSA";
        bn_n = BN_bin2bn(nbuf, (int)nlen, NULL);
        bn_e = BN_bin2bn(ebuf, (int)elen, NULL);
        if (bn_n == NULL || bn_e == NULL ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
            internal_fail(err, "building RSA parameters");
            goto done;
        }
    } else if (string_is(kty, "OKP")) {
        size_t xlen = 0;
        if (!string_is(latch_jose_json_get(jwk, "crv"), "Ed25519")) {
            invalid_key(err, "\"crv\" is not Ed25519");
            goto done;
        }
        alg = LATCH_JOSE_EDDSA;
        if (!jwk_bytes(jwk, "x", point, 32, 32, &xlen)) {
            invalid_key(err, "\"x\" is not an Ed25519 public key of 32 bytes");
            goto done;
        }
        type = "ED25519";
        if (OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 32) != 1) {
            internal_fail(err, "building Ed25519 parameters");
            goto done;
        }
    } else {
        invalid_key(err, "\"kty\" is not EC, RSA or OKP");
        goto done;
    }
    if (jwk_optional_members(jwk, alg, &kid, err) != LATCH_OK)
        goto done;

    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        internal_fail(err, "setting up the key import");
        goto done;
    }
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1 || pkey == NULL) {
        invalid_key(err, "the public key is not valid");
        goto done;
    }
    /* For EC this proves the point is on the curve and not the identity; for RSA it checks
     * the modulus and exponent are sane. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL) {
        internal_fail(err, "checking the public key");
        goto done;
    }
    if (EVP_PKEY_public_check(check) != 1) {
        invalid_key(err, "the public key is not valid");
        goto done;
    }
    rc = key_wrap(pkey, false, kid, out, err);
    pkey = NULL;
    /* key_wrap recomputes the algorithm from the key; it must agree with the JWK's. */
    if (rc == LATCH_OK && (*out)->alg != alg) {
        latch_jose_key_free(*out);
        *out = NULL;
        rc = invalid_key(err, "the key does not match its JWK type");
    }
done:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(nbuf);
    yajl_tree_free(jwk);
    ERR_clear_error();
    return rc;
}
