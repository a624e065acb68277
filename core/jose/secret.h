/*
 * Secrets at rest: key derivation from LATCH_SECRET_KEY (HKDF-SHA-256), AES-256-GCM sealing of
 * private keys, and client secrets (generated at random, stored as an HMAC-SHA-256 under a
 * derived key, compared in constant time). Pure functions; any thread.
 */
#ifndef LATCH_JOSE_SECRET_H
#define LATCH_JOSE_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define LATCH_SECRET_HASH_LEN   32
#define LATCH_CLIENT_SECRET_LEN 43 /* 32 random bytes, base64url */

/* Derives a 32-byte key for one purpose ("latch/client-secret/v1") from the master key. */
latch_rc latch_jose_derive_key(const uint8_t master[32], const char *purpose,
                               uint8_t out[32]) LATCH_MUST_CHECK;

/* Seals plaintext under key with AES-256-GCM; aad binds it to its row (e.g. "tenant/kid").
 * *out (malloc'd, caller frees) = 12-byte IV || ciphertext || 16-byte tag. */
latch_rc latch_jose_seal(const uint8_t key[32], const char *aad, const uint8_t *plain, size_t len,
                         uint8_t **out, size_t *out_len) LATCH_MUST_CHECK;

/* Opens what latch_jose_seal() produced; fails on any tampering or a wrong aad. *out is
 * malloc'd; the caller wipes (OPENSSL_cleanse) and frees it. */
latch_rc latch_jose_open(const uint8_t key[32], const char *aad, const uint8_t *sealed, size_t len,
                         uint8_t **out, size_t *out_len) LATCH_MUST_CHECK;

/* Writes a new client secret (LATCH_CLIENT_SECRET_LEN chars + NUL) into out. */
latch_rc latch_jose_client_secret_new(char out[LATCH_CLIENT_SECRET_LEN + 1]) LATCH_MUST_CHECK;

/* HMAC-SHA-256 of secret under hash_key (from latch_jose_derive_key "latch/client-secret/v1"). */
latch_rc latch_jose_client_secret_hash(const uint8_t hash_key[32], const char *secret, size_t len,
                                       uint8_t out[LATCH_SECRET_HASH_LEN]) LATCH_MUST_CHECK;

/* HMAC-SHA-256 of msg[0..len) under key as PostgreSQL bytea text ("\\x" + 64 hex digits + NUL,
 * LATCH_TOKEN_HASH_TEXT bytes): the stored form of short codes (verification and backup codes),
 * whose keyed hash a copy of the database cannot reverse. */
#define LATCH_TOKEN_HASH_TEXT 67
latch_rc latch_jose_keyed_hash_text(const uint8_t key[32], const char *msg, size_t len,
                                    char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* A new bearer token (session or interaction cookie, authorization code, refresh token):
 * 32 random bytes, base64url, LATCH_CLIENT_SECRET_LEN characters. */
#define latch_jose_token_new latch_jose_client_secret_new

/* The SHA-256 of a bearer token as PostgreSQL bytea text (LATCH_TOKEN_HASH_TEXT bytes): what the
 * database stores and looks tokens up by. */
latch_rc latch_jose_token_hash(const char *token, char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* PKCE (RFC 7636 §4.6): whether BASE64URL(SHA-256(verifier)) equals challenge, in constant
 * time. The verifier must be 43 to 128 unreserved characters. */
bool latch_jose_pkce_s256_ok(const char *verifier, const char *challenge);

/* OIDC Core §3.1.3.6 at_hash: base64url of the left half of the hash of token, with the hash of
 * the signing algorithm (SHA-256 for ES256/RS256, SHA-384 for ES384, SHA-512 for EdDSA).
 * alg is the JWS alg name; out needs 48 bytes. */
latch_rc latch_jose_at_hash(const char *alg, const char *token, char out[48]) LATCH_MUST_CHECK;

/* Lowercase hex HMAC-SHA-256 of data under key (webhook signatures, Logto's
 * logto-signature-sha-256) into out (64 digits + NUL). Any thread. */
latch_rc latch_jose_hmac_sha256_hex(const char *key, size_t key_len, const char *data, size_t len,
                                    char out[65]) LATCH_MUST_CHECK;

/* Constant-time equality of two equal-length buffers. */
bool latch_jose_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* A random id of len characters over [0-9a-z] (Logto's nanoid alphabet) into out (len + 1). */
latch_rc latch_jose_random_id(char *out, size_t len) LATCH_MUST_CHECK;

#endif
