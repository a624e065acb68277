/*
 * Percent-encoding (RFC 3986 §2.1): the one encoder of core/, for a form field or query
 * component (application/x-www-form-urlencoded values, redirect parameters, data: URIs), and the
 * one strict decoder behind forms, query strings and path parameters. Any thread may call them.
 */
#ifndef LATCH_UTIL_PERCENT_H
#define LATCH_UTIL_PERCENT_H

#include <stddef.h>

#include "util/arena.h"

/* s with every byte but the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) written as
 * %XX (upper-case digits, RFC 3986 §2.1), so the result is safe as a form or query name or
 * value. Allocated in arena; NULL when out of memory. */
char *latch_percent_encode(struct latch_arena *arena, const char *s);

/* Decodes src[0..len) into dst (room for len + 1 bytes) and NUL-terminates it. Strict: every '%'
 * must be followed by two hex digits, and a NUL, raw or as %00, is refused (it would cut the C
 * string). '+' is left as is (form callers turn it into a space first). Returns the decoded
 * length, or -1. */
long latch_percent_decode(char *dst, const char *src, size_t len);

#endif
