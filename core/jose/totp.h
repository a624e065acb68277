/*
 * TOTP (RFC 6238 over HOTP, RFC 4226): HMAC-SHA-1, 30-second steps from the Unix epoch, and the
 * base32 (RFC 4648 §6) in which authenticator apps take the secret. The MFA factor of
 * experience/mfa.c and the Management API's users/:id/mfa-verifications use it. Pure functions
 * on caller buffers; any thread.
 */
#ifndef LATCH_JOSE_TOTP_H
#define LATCH_JOSE_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define LATCH_TOTP_STEP_SECONDS 30
#define LATCH_TOTP_DIGITS       6
/* A new secret: 20 random bytes (RFC 4226 §4 recommends 160 bits), 32 base32 characters. */
#define LATCH_TOTP_SECRET_BYTES 20
#define LATCH_TOTP_SECRET_B32   32
/* Longest secret accepted from an administrator (bytes once decoded). */
#define LATCH_TOTP_SECRET_MAX 64

/* The time step of Unix time t. */
int64_t latch_jose_totp_step(int64_t t);

/* HOTP(key, counter) truncated to digits (6..8) decimal digits with leading zeros, into out
 * (digits + 1 bytes). */
latch_rc latch_jose_totp_code(const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits,
                              char *out) LATCH_MUST_CHECK;

/*
 * Whether code (6 digits) is the TOTP of key for the step of time t or the step before or after
 * (RFC 6238 §5.2, one step of clock drift each way). Every candidate is computed and compared
 * in constant time, so the time taken says nothing about which step matched. On a match *step
 * is the step it matched (the caller accepts each step at most once).
 */
bool latch_jose_totp_match(const uint8_t *key, size_t key_len, const char *code, int64_t t,
                           int64_t *step);

/* Base32 of in[0..len), upper case, without padding, into out (cap counts the NUL). Returns
 * the length, or -1 when cap is too small. */
int latch_jose_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decodes base32 (either case; spaces and trailing '=' ignored, as people type and apps show
 * them) into out. Returns the number of bytes, or -1 for another character, a trailing partial
 * byte that is not zero bits, or too small a buffer. */
int latch_jose_base32_decode(const char *in, uint8_t *out, size_t cap);

/* A new secret: LATCH_TOTP_SECRET_BYTES random bytes into out. */
latch_rc latch_jose_totp_secret_new(uint8_t out[LATCH_TOTP_SECRET_BYTES]) LATCH_MUST_CHECK;

#endif
