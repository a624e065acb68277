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

/* Constant-time equality of two equal-length buffers. */
bool latch_jose_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* A random id of len characters over [0-9a-z] (Logto's nanoid alphabet) into out (len + 1). */
latch_rc latch_jose_random_id(char *out, size_t len) LATCH_MUST_CHECK;

#endif
