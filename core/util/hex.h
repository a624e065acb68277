/*
 * Hexadecimal (RFC 4648 §8 base16): the one encoder (lower case, as PostgreSQL's bytea text and
 * SHA-256 digests are written) and the one decoder (either case) of core/. Pure functions on
 * caller buffers; any thread may call them.
 */
#ifndef LATCH_UTIL_HEX_H
#define LATCH_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The value 0..15 of one hex digit (either case), or -1 for any other byte. */
int latch_hex_digit(unsigned char c);

/* Writes in[0..len) as 2 * len lower-case hex digits into out and NUL-terminates it; cap counts
 * the NUL (at least 2 * len + 1). Returns 2 * len, or -1 when cap is too small (out is then left
 * empty when cap > 0). */
ssize_t latch_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decodes exactly len hex digits (either case, len even) into out (capacity cap bytes). Returns
 * len / 2, or -1 for an odd length, a byte that is not a hex digit, or too small a buffer. */
ssize_t latch_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap);

#endif
