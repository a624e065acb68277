/*
 * base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2), the lowest layer of
 * core/jose/. The decoder is strict on purpose: it accepts only the 64 URL-safe characters, no
 * '=' padding, no whitespace, no length of the form 4k+1, and no non-zero bits left over in the
 * last character, so every byte string has exactly one accepted encoding. Pure functions on
 * caller buffers; any thread may call them.
 */
#ifndef LATCH_JOSE_BASE64URL_H
#define LATCH_JOSE_BASE64URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Characters needed to encode n bytes (no padding, no terminating NUL). */
size_t latch_jose_b64url_encoded_len(size_t n);

/* Upper bound on the bytes decoded from n characters (exact for every valid input). */
size_t latch_jose_b64url_decoded_len(size_t n);

/* Encodes in[0..len) into out and NUL-terminates it. cap counts the NUL, so it must be at least
 * latch_jose_b64url_encoded_len(len) + 1. Returns the number of characters written (without
 * the NUL), or -1 when cap is too small (out is then left empty when cap > 0). */
ssize_t latch_jose_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Strictly decodes in[0..len) into out (capacity cap bytes; no NUL is added). Returns the
 * number of bytes decoded, or -1 for an invalid encoding or when the result would not fit in
 * cap. out may hold partial output after a failure. */
ssize_t latch_jose_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
