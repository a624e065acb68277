/*
 * UTF-8 validation for network input (RFC 3629): the one check every parser of client text
 * (forms, query strings, path parameters, JSON bodies) applies before a value can reach
 * PostgreSQL, which refuses ill-formed UTF-8 with SQLSTATE 22021. Pure functions, any thread.
 */
#ifndef LATCH_UTIL_UTF8_H
#define LATCH_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length of the well-formed UTF-8 sequence at s (at most len bytes, len > 0), or 0 when the bytes
 * there are not one: a stray continuation byte, a truncated sequence, an overlong form (C0 AF), a
 * UTF-16 surrogate (ED A0 80) or a code point above U+10FFFF.
 */
size_t latch_utf8_seq_len(const unsigned char *s, size_t len);

/* Whether s[0..len) is well-formed UTF-8. A NUL byte is well-formed (U+0000): callers that hand
 * the text on as a C string reject NULs themselves. */
bool latch_utf8_valid(const char *s, size_t len);

/* Whether the C string s is well-formed UTF-8. */
bool latch_utf8_valid_str(const char *s);

#endif
