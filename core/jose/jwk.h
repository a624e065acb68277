/*
 * JOSE keys: the signing and verification keys of core/jose/ and their JSON Web Key form
 * (RFC 7517/7518/8037). A struct latch_jose_key wraps an OpenSSL EVP_PKEY with the JWS algorithm
 * it is used with (ES256 on P-256, ES384 on P-384, RS256 on RSA, EdDSA on Ed25519) and its key
 * id, which for keys made here is the RFC 7638 thumbprint. Private keys travel to storage as
 * unencrypted PKCS#8 (DER or PEM) that another module encrypts; public keys are published as
 * JWK/JWKS and public JWKs can be imported to verify. The layer above is jws.h.
 *
 * A key is immutable once made, so any thread may use a const key concurrently (OpenSSL 3
 * EVP_PKEY objects are safe to share for signing and verifying); freeing it is the owner's job.
 * This is the only part of core/ besides http/ that includes OpenSSL, and it keeps OpenSSL out of
 * its headers.
 */
#ifndef LATCH_JOSE_JWK_H
#define LATCH_JOSE_JWK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "util/error.h"
#include "util/json.h"

enum latch_jose_alg {
    LATCH_JOSE_ES256 = 0, /* ECDSA P-256 SHA-256, signature r||s of 2 x 32 bytes */
    LATCH_JOSE_ES384,     /* ECDSA P-384 SHA-384, signature r||s of 2 x 48 bytes */
    LATCH_JOSE_RS256,     /* RSASSA-PKCS1-v1_5 SHA-256, RSA of 2048 to 8192 bits */
    LATCH_JOSE_EDDSA,     /* Ed25519 (RFC 8037), signature of 64 bytes */
};
#define LATCH_JOSE_ALG_COUNT 4

/* Sets of algorithms, e.g. for what a verifier accepts. */
#define LATCH_JOSE_ALG_BIT(alg) (1u << (unsigned)(alg))
#define LATCH_JOSE_ALGS_ALL     ((1u << LATCH_JOSE_ALG_COUNT) - 1u)

/* Longest kid accepted from a JWK; a thumbprint kid is LATCH_JOSE_THUMBPRINT_LEN characters. */
#define LATCH_JOSE_KID_MAX        128
#define LATCH_JOSE_THUMBPRINT_LEN 43
/* Longest JWK document latch_jose_key_from_jwk() reads. */
#define LATCH_JOSE_JWK_MAX (16 * 1024)
/* Largest RSA modulus accepted for signing or verifying, in bits. */
#define LATCH_JOSE_RSA_MAX_BITS 8192

/* Largest JWS signature of any supported algorithm (RSA at LATCH_JOSE_RSA_MAX_BITS). */
#define LATCH_JOSE_SIG_MAX (LATCH_JOSE_RSA_MAX_BITS / 8)

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */
struct latch_jose_sign_pool;

/* Read-only after construction; use the functions below rather than writing fields. */
struct latch_jose_key {
    struct evp_pkey_st *pkey; /* owned */
    enum latch_jose_alg alg;
    bool has_private; /* false for keys imported from a public JWK */
    char kid[LATCH_JOSE_KID_MAX + 1];
    /* Owned: the protected header prefix this key signs with, `{"alg":"…","kid":"…"` without
     * the closing brace; NULL when has_private is false. */
    char *header;
    size_t header_len;
    /* Owned, internal: reusable ECDSA signing contexts behind a mutex (so signing with a shared
     * const key stays thread-safe); NULL for other keys. */
    struct latch_jose_sign_pool *pool;
};

/* "ES256", "ES384", "RS256", "EdDSA"; "?" for a value outside the enum. Static storage. */
const char *latch_jose_alg_name(enum latch_jose_alg alg);

/* Maps an exact (case-sensitive) JWS "alg" value to the enum. "none", "HS256", "PS256", "ES512"
 * and everything else not implemented return false. */
bool latch_jose_alg_from_name(const char *name, size_t len, enum latch_jose_alg *out);

/* Generates a fresh key for alg: EC P-256, EC P-384, RSA 2048 (e = 65537) or Ed25519.
 * *out is the caller's, released with latch_jose_key_free(). May take tens of milliseconds for
 * RSA: call it off the loop threads. */
latch_rc latch_jose_key_generate(enum latch_jose_alg alg, struct latch_jose_key **out,
                                 struct latch_error *err) LATCH_MUST_CHECK;

void latch_jose_key_free(struct latch_jose_key *key);

/* Serialises the private key as an unencrypted PKCS#8 PrivateKeyInfo in DER. *der and *len are
 * the caller's; release them with latch_jose_secret_free(*der, *len), which wipes them. Fails
 * for a key without its private part. */
latch_rc latch_jose_key_to_pkcs8_der(const struct latch_jose_key *key, uint8_t **der, size_t *len,
                                     struct latch_error *err) LATCH_MUST_CHECK;

/* Same as PEM ("-----BEGIN PRIVATE KEY-----"), NUL-terminated; *len excludes the NUL. Release
 * with latch_jose_secret_free(*pem, *len). */
latch_rc latch_jose_key_to_pkcs8_pem(const struct latch_jose_key *key, char **pem, size_t *len,
                                     struct latch_error *err) LATCH_MUST_CHECK;

/* Loads a private key from unencrypted PKCS#8 DER (the whole buffer must be one
 * PrivateKeyInfo) or PEM. The algorithm follows from the key (P-256 → ES256, P-384 → ES384,
 * RSA → RS256, Ed25519 → EdDSA; other keys are refused), the key pair is checked for
 * consistency, and kid is the RFC 7638 thumbprint. The input stays the caller's (wipe it).
 * *out is the caller's, released with latch_jose_key_free(). */
latch_rc latch_jose_key_from_pkcs8_der(const uint8_t *der, size_t len, struct latch_jose_key **out,
                                       struct latch_error *err) LATCH_MUST_CHECK;
latch_rc latch_jose_key_from_pkcs8_pem(const char *pem, size_t len, struct latch_jose_key **out,
                                       struct latch_error *err) LATCH_MUST_CHECK;

/* OPENSSL_cleanse()s then frees a buffer returned by the *_to_pkcs8_* functions; NULL is fine. */
void latch_jose_secret_free(void *p, size_t len);

/* The RFC 7638 JWK thumbprint (SHA-256, base64url, 43 characters + NUL) of the public key. */
latch_rc latch_jose_key_thumbprint(const struct latch_jose_key *key,
                                   char out[LATCH_JOSE_THUMBPRINT_LEN + 1],
                                   struct latch_error *err) LATCH_MUST_CHECK;

/* The public JWK as compact JSON: kty with crv/x/y (EC, coordinates left-padded to the curve
 * size), n/e (RSA, no leading zero bytes) or crv/x (OKP), then kid, alg and "use":"sig". Never
 * contains private members. *json is malloc'd and the caller's (free()), NUL-terminated; *len
 * (may be NULL) excludes the NUL. */
latch_rc latch_jose_key_public_jwk(const struct latch_jose_key *key, char **json, size_t *len,
                                   struct latch_error *err) LATCH_MUST_CHECK;

/* A JWKS document {"keys":[…]} with the public JWK of each of keys[0..n) in that order (n may
 * be 0). *json as for latch_jose_key_public_jwk(). */
latch_rc latch_jose_jwks(const struct latch_jose_key *const *keys, size_t n, char **json,
                         size_t *len, struct latch_error *err) LATCH_MUST_CHECK;

/* Imports a public key from a JWK (at most LATCH_JOSE_JWK_MAX bytes) for verifying: kty "EC"
 * (crv "P-256"/"P-384", x and y of exactly the curve size, a point on the curve), "RSA" (n of
 * 2048 to 8192 bits, e) or "OKP" (crv "Ed25519", x of 32 bytes). Optional members are checked
 * when present: "alg" must be the one the key implies, "use" must be "sig", "key_ops" must allow
 * "verify", "kid" must be a string of 1 to LATCH_JOSE_KID_MAX characters (without one, kid is
 * the thumbprint). Private members are ignored: the result can only verify. Errors carry code
 * "invalid_key" and status 400. *out is the caller's, released with latch_jose_key_free(). */
latch_rc latch_jose_key_from_jwk(const char *json, size_t len, struct latch_jose_key **out,
                                 struct latch_error *err) LATCH_MUST_CHECK;

/* Length of the JWS signature key makes: 2 x 32 (ES256), 2 x 48 (ES384), 64 (EdDSA), the
 * modulus size (RS256); 0 if the key is unusable. */
size_t latch_jose_key_sig_len(const struct latch_jose_key *key);

/* Signs data[0..len) with key's private part into sig (capacity cap, at least
 * latch_jose_key_sig_len(key)) in its JWS form: raw r||s, each half left-padded, for ECDSA;
 * RSASSA-PKCS1-v1_5 SHA-256 for RS256; pure Ed25519 for EdDSA. *siglen receives the length.
 * Any thread. */
latch_rc latch_jose_key_sign(const struct latch_jose_key *key, const void *data, size_t len,
                             uint8_t *sig, size_t cap, size_t *siglen,
                             struct latch_error *err) LATCH_MUST_CHECK;

/* True when sig[0..siglen) is key's valid JWS-form signature of data[0..len). Wrong lengths are
 * simply false. Any thread. */
bool latch_jose_key_verify(const struct latch_jose_key *key, const void *data, size_t len,
                           const uint8_t *sig, size_t siglen);

/* ECDSA signature form conversions (also for tests). coord is 32 for P-256, 48 for P-384; raw is
 * 2*coord bytes r||s, each half big-endian and left-padded with zeros. der_to_raw refuses
 * trailing bytes and values longer than coord. */
latch_rc latch_jose_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t coord, uint8_t *raw,
                                     struct latch_error *err) LATCH_MUST_CHECK;
/* Writes the DER form into der (capacity cap; 2*coord + 9 always suffices); *der_len is its
 * length. */
latch_rc latch_jose_ecdsa_raw_to_der(const uint8_t *raw, size_t coord, uint8_t *der, size_t cap,
                                     size_t *der_len, struct latch_error *err) LATCH_MUST_CHECK;

/* The bounds of the JSON the JOSE layer reads with latch_json_parse() (util/json.h): JOSE
 * headers, JWT claims and JWKs are objects of at most LATCH_JOSE_TOKEN_MAX bytes, 256 members per
 * object, no deeper than max_depth. Any thread. */
static inline struct latch_json_limits latch_jose_json_limits(unsigned max_depth)
{
    return (struct latch_json_limits){
        .max_bytes = 16 * 1024, /* LATCH_JOSE_TOKEN_MAX (jws.h), which includes jwk.h */
        .max_depth = max_depth,
        .max_members = 256,
        .require_object = true,
    };
}

/* The member `name` of object obj, or NULL (borrowed from obj). */
yajl_val latch_jose_json_get(yajl_val obj, const char *name);

#endif
