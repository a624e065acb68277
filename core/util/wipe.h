/*
 * Freeing heap buffers that held secrets (tokens, client secrets, codes, passwords): the bytes
 * are wiped with OPENSSL_cleanse, which the compiler may not elide, before free(), so a later
 * allocation or a core dump cannot show them. Any thread may call these.
 */
#ifndef LATCH_UTIL_WIPE_H
#define LATCH_UTIL_WIPE_H

#include <stddef.h>

/* Wipes len bytes at p and frees p (from malloc); NULL is allowed. */
void latch_wipe_free(void *p, size_t len);

/* Wipes the NUL-terminated string s (malloc'd) and frees it; NULL is allowed. */
void latch_wipe_free_str(char *s);

#endif
