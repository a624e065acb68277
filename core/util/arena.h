/*
 * A bump allocator for request-scoped data: allocations are freed all at once with the arena.
 * Blocks grow geometrically; a request that needs more than `limit` bytes in total fails
 * (NULL) instead of growing without bound. Not thread-safe: an arena belongs to one request.
 */
#ifndef LATCH_UTIL_ARENA_H
#define LATCH_UTIL_ARENA_H

#include <stddef.h>

#include "util/error.h"

struct latch_arena;

/* limit: total bytes this arena may hand out (0 = 16 MiB). */
struct latch_arena *latch_arena_new(size_t limit);
/* Wipes every byte handed out (the arena holds secrets) and frees the arena. */
void latch_arena_free(struct latch_arena *arena);
/* Wipes every byte handed out and frees every block but the first, so the arena can serve the
 * next request on a connection. */
void latch_arena_reset(struct latch_arena *arena);

/* 16-byte aligned; NULL when the limit would be exceeded or memory is exhausted. */
void *latch_arena_alloc(struct latch_arena *arena, size_t size);
void *latch_arena_calloc(struct latch_arena *arena, size_t n, size_t size);
char *latch_arena_strndup(struct latch_arena *arena, const char *s, size_t len);
char *latch_arena_strdup(struct latch_arena *arena, const char *s);
char *latch_arena_printf(struct latch_arena *arena, const char *fmt, ...) LATCH_PRINTF(2, 3);

#endif
