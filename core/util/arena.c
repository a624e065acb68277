/*
 * The request arena (see arena.h): a bump allocator over a chain of blocks. The first block,
 * about 4 KiB, lives in the same malloc as the arena header, so a small request costs one malloc
 * for all its data. When it runs out, a new block twice the size of the previous one is chained;
 * an allocation too big for that gets a block of its own, so it neither wastes the current block
 * nor inflates the next. Every allocation is counted (rounded to 16 bytes) against the arena's
 * limit and fails with NULL beyond it. All size arithmetic checks for overflow.
 *
 * A request's arena holds passwords, client secrets, codes and tokens, so reset and free wipe
 * (OPENSSL_cleanse) every byte that was handed out, and only those: each block remembers how far
 * it was used, so the cost follows the request's size, not the blocks' capacity.
 */
#include "util/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define ARENA_ALIGN         16
#define ARENA_DEFAULT_LIMIT ((size_t)16 << 20)
/* The header and first block share one allocation of this size. */
#define ARENA_FIRST_ALLOC 4096
/* The first chained block; each further one doubles, up to the limit still available. */
#define ARENA_SECOND_BLOCK 8192

struct arena_block {
    struct arena_block *next; /* older blocks */
    size_t size;              /* usable bytes after the header (alignment slack included) */
    size_t used; /* bytes from the start of the data that were handed out, once not current */
};

struct latch_arena {
    unsigned char *cur; /* next free byte of the current block */
    unsigned char *end; /* end of the current block */
    /* The block cur points into, NULL for the embedded first block. */
    struct arena_block *current;
    size_t first_used; /* bytes of the embedded block handed out, once it is not current */
    /* Chained blocks, newest first; the embedded first block is not among them. */
    struct arena_block *blocks;
    size_t limit;
    size_t used;       /* bytes handed out, each allocation rounded up to ARENA_ALIGN */
    size_t next_size;  /* size of the next chained block */
    size_t first_size; /* usable bytes of the embedded first block */
};

static unsigned char *first_block(struct latch_arena *arena)
{
    return (unsigned char *)(arena + 1);
}

static uintptr_t align_up(uintptr_t p)
{
    return (p + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
}

static unsigned char *block_data(struct arena_block *b)
{
    return (unsigned char *)(b + 1);
}

/* An arena with nothing handed out, serving from its embedded block. */
static void start_empty(struct latch_arena *arena)
{
    arena->blocks = NULL;
    arena->current = NULL;
    arena->cur = first_block(arena);
    arena->end = arena->cur + arena->first_size;
    arena->first_used = 0;
    arena->used = 0;
    arena->next_size = ARENA_SECOND_BLOCK;
}

/* Wipes the bytes handed out from every block and frees the chained ones. */
static void wipe_and_release(struct latch_arena *arena)
{
    unsigned char *first = first_block(arena);
    size_t n = arena->current == NULL ? (size_t)(arena->cur - first) : arena->first_used;
    OPENSSL_cleanse(first, n);
    struct arena_block *b = arena->blocks;
    while (b != NULL) {
        struct arena_block *next = b->next;
        n = b == arena->current ? (size_t)(arena->cur - block_data(b)) : b->used;
        OPENSSL_cleanse(block_data(b), n);
        free(b);
        b = next;
    }
}

struct latch_arena *latch_arena_new(size_t limit)
{
    struct latch_arena *arena;

    _Static_assert(sizeof(struct latch_arena) < ARENA_FIRST_ALLOC / 4, "arena header too big");
    arena = malloc(ARENA_FIRST_ALLOC);
    if (arena == NULL)
        return NULL;
    arena->limit = limit == 0 ? ARENA_DEFAULT_LIMIT : limit;
    arena->first_size = ARENA_FIRST_ALLOC - sizeof(*arena);
    start_empty(arena);
    return arena;
}

void latch_arena_reset(struct latch_arena *arena)
{
    if (arena == NULL)
        return;
    wipe_and_release(arena);
    start_empty(arena);
}

void latch_arena_free(struct latch_arena *arena)
{
    if (arena == NULL)
        return;
    wipe_and_release(arena);
    free(arena);
}

/* Chains a block with room for at least `need` aligned bytes; NULL when out of memory. */
static struct arena_block *add_block(struct latch_arena *arena, size_t need, size_t size)
{
    struct arena_block *b;

    if (size < need)
        size = need;
    /* Room for the header and for aligning the first allocation, without wrapping. */
    if (size > SIZE_MAX - sizeof(*b) - ARENA_ALIGN)
        return NULL;
    size += ARENA_ALIGN;
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->used = 0;
    b->next = arena->blocks;
    arena->blocks = b;
    return b;
}

void *latch_arena_alloc(struct latch_arena *arena, size_t size)
{
    struct arena_block *b;
    unsigned char *p;
    size_t rounded;
    size_t left;

    if (arena == NULL)
        return NULL;
    if (size == 0)
        size = 1; /* every allocation is a distinct pointer */
    if (size > SIZE_MAX - (ARENA_ALIGN - 1))
        return NULL;
    rounded = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    left = arena->limit - arena->used;
    if (rounded > left)
        return NULL;

    p = (unsigned char *)align_up((uintptr_t)arena->cur);
    if (p <= arena->end && (size_t)(arena->end - p) >= rounded) {
        arena->cur = p + rounded;
        arena->used += rounded;
        return p;
    }

    if (rounded > arena->next_size / 2) {
        /* Big: a block of its own; the current block keeps serving small allocations. */
        b = add_block(arena, rounded, rounded);
        if (b == NULL)
            return NULL;
        p = (unsigned char *)align_up((uintptr_t)block_data(b));
        b->used = (size_t)(p - block_data(b)) + rounded;
        arena->used += rounded;
        return p;
    }

    /* Never reserve much more than the limit still allows. */
    b = add_block(arena, rounded, arena->next_size < left ? arena->next_size : left);
    if (b == NULL)
        return NULL;
    if (arena->next_size <= SIZE_MAX / 2)
        arena->next_size *= 2;
    /* The block being left keeps its extent, for the wipe. */
    if (arena->current == NULL)
        arena->first_used = (size_t)(arena->cur - first_block(arena));
    else
        arena->current->used = (size_t)(arena->cur - block_data(arena->current));
    arena->current = b;
    p = (unsigned char *)align_up((uintptr_t)block_data(b));
    arena->end = block_data(b) + b->size;
    arena->cur = p + rounded;
    arena->used += rounded;
    return p;
}

void *latch_arena_calloc(struct latch_arena *arena, size_t n, size_t size)
{
    void *p;

    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = latch_arena_alloc(arena, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

char *latch_arena_strndup(struct latch_arena *arena, const char *s, size_t len)
{
    char *p;

    if (s == NULL)
        return NULL;
    /* Like strndup(3): stop at a NUL inside the first len bytes. */
    len = strnlen(s, len);
    if (len == SIZE_MAX)
        return NULL;
    p = latch_arena_alloc(arena, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *latch_arena_strdup(struct latch_arena *arena, const char *s)
{
    if (s == NULL)
        return NULL;
    return latch_arena_strndup(arena, s, strlen(s));
}

char *latch_arena_printf(struct latch_arena *arena, const char *fmt, ...)
{
    va_list ap;
    va_list ap2;
    char *p = NULL;
    int n;

    if (arena == NULL || fmt == NULL)
        return NULL;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0)
        goto out;
    p = latch_arena_alloc(arena, (size_t)n + 1);
    if (p == NULL)
        goto out;
    if (vsnprintf(p, (size_t)n + 1, fmt, ap2) != n)
        p = NULL; /* the arguments changed under us; the bytes stay in the arena until reset */
out:
    va_end(ap2);
    va_end(ap);
    return p;
}
