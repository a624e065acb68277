/*
 * base64 (RFC 4648): the one implementation every part of core/ uses. Three spellings: standard
 * padded (§4, as HTTP Basic and data: URIs use it), URL-safe unpadded (§5 as JOSE uses it,
 * RFC 7515 §2), and, for keys an operator types (LATCH_SECRET_KEY), either alphabet with optional
 * padding. Every decoder is strict: no whitespace, no character outside its alphabet, '=' only
 * where it completes the last group, no length of the form 4k+1 and no non-zero bits left over
 * in the last character, so every byte string has exactly one accepted encoding per spelling.
 * Pure functions on caller buffers; any thread may call them.
 */
#ifndef LATCH_UTIL_BASE64_H
#define LATCH_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Characters needed to encode n bytes (no terminating NUL): padded standard base64. */
size_t latch_base64_encoded_len(size_t n);

/* Characters needed to encode n bytes (no terminating NUL): unpadded base64url. */
size_t latch_base64url_encoded_len(size_t n);

/* Upper bound on the bytes any of the decoders below produces from n characters (exact for
 * every valid unpadded input). */
size_t latch_base64_decoded_len(size_t n);

/* Encode in[0..len) into out and NUL-terminate it. cap counts the NUL, so it must be at least
 * the matching _encoded_len(len) + 1. Return the number of characters written (without the
 * NUL), or -1 when cap is too small (out is then left empty when cap > 0). */
ssize_t latch_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
ssize_t latch_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Strictly decode in[0..len) into out (capacity cap bytes; no NUL is added). Return the number
 * of bytes decoded, or -1 for an invalid encoding or when the result would not fit in cap; out
 * may hold partial output after a failure (callers of secrets wipe it).
 *   latch_base64_decode:     standard alphabet, padding required (length a multiple of 4);
 *   latch_base64url_decode:  URL-safe alphabet, no padding;
 *   latch_base64_decode_any: either alphabet but not both in one text, padding optional. */
ssize_t latch_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
ssize_t latch_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
ssize_t latch_base64_decode_any(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
