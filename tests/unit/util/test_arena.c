/*
 * Unit tests for core/util/arena.c: 16-byte alignment, growth past the first block with every
 * byte kept intact, big allocations, the total limit and overflow-safe sizes, reset keeping the
 * first block, reset wiping what was handed out (the bytes of a secret read back as zeros, with
 * and without chained blocks), and the string helpers. Run under ASan, leaks and overlaps show
 * up too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "util/arena.h"

static void test_alignment(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    unsigned char *prev = NULL;
    size_t prev_size = 0;

    (void)state;
    assert_non_null(a);
    for (size_t size = 0; size < 200; size++) {
        unsigned char *p = latch_arena_alloc(a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        /* Consecutive allocations from one block never overlap. */
        if (prev != NULL && p > prev)
            assert_true(p >= prev + prev_size);
        memset(p, 0xab, size);
        prev = p;
        prev_size = size;
    }
    latch_arena_free(a);
}

static void test_zero_size_distinct(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    void *p;
    void *q;

    (void)state;
    p = latch_arena_alloc(a, 0);
    q = latch_arena_alloc(a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    latch_arena_free(a);
}

static void test_growth_keeps_data(void **state)
{
    enum { N = 3000 };
    struct latch_arena *a = latch_arena_new(0);
    unsigned char *ptrs[N];
    size_t sizes[N];

    (void)state;
    /* About 400 KiB in uneven sizes: many blocks, some big ones in between. */
    for (size_t i = 0; i < N; i++) {
        sizes[i] = (i * 37) % 251 + 1;
        if (i % 500 == 499)
            sizes[i] = 20000 + i;
        ptrs[i] = latch_arena_alloc(a, sizes[i]);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], (int)(i & 0xff), sizes[i]);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < sizes[i]; k++) {
            if (ptrs[i][k] != (unsigned char)(i & 0xff))
                fail_msg("allocation %zu byte %zu overwritten", i, k);
        }
    }
    latch_arena_free(a);
}

static void test_big_allocation(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    unsigned char *small1;
    unsigned char *big;
    unsigned char *small2;

    (void)state;
    small1 = latch_arena_alloc(a, 32);
    big = latch_arena_alloc(a, 1 << 20);
    small2 = latch_arena_alloc(a, 32);
    assert_non_null(small1);
    assert_non_null(big);
    assert_non_null(small2);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 0x5a, 1 << 20);
    /* The big one got a block of its own; small ones still come from the first block. */
    assert_ptr_equal(small2, small1 + 32);
    latch_arena_free(a);
}

static void test_limit(void **state)
{
    struct latch_arena *a = latch_arena_new(4096);
    int count = 0;

    (void)state;
    assert_non_null(a);
    /* 16-byte allocations: exactly limit / 16 fit. */
    while (latch_arena_alloc(a, 16) != NULL)
        count++;
    assert_int_equal(count, 256);
    assert_null(latch_arena_alloc(a, 1));
    /* Sizes are counted rounded up to 16. */
    latch_arena_reset(a);
    count = 0;
    while (latch_arena_alloc(a, 1) != NULL)
        count++;
    assert_int_equal(count, 256);
    latch_arena_free(a);

    a = latch_arena_new(100000);
    assert_non_null(latch_arena_alloc(a, 99984));
    assert_null(latch_arena_alloc(a, 17));
    assert_non_null(latch_arena_alloc(a, 16));
    assert_null(latch_arena_alloc(a, 1));
    latch_arena_free(a);

    /* 0 means 16 MiB. */
    a = latch_arena_new(0);
    assert_null(latch_arena_alloc(a, ((size_t)16 << 20) + 1));
    assert_non_null(latch_arena_alloc(a, (size_t)16 << 20));
    assert_null(latch_arena_alloc(a, 1));
    latch_arena_free(a);
}

static void test_overflow(void **state)
{
    struct latch_arena *a = latch_arena_new(SIZE_MAX);

    (void)state;
    assert_null(latch_arena_alloc(a, SIZE_MAX));
    assert_null(latch_arena_alloc(a, SIZE_MAX - 8));
    assert_null(latch_arena_alloc(a, SIZE_MAX - 20)); /* rounds fine, block header would wrap */
    assert_null(latch_arena_calloc(a, SIZE_MAX / 2, 3));
    assert_null(latch_arena_calloc(a, 3, SIZE_MAX / 2));
    /* strndup stops at the NUL, so a huge len is no overflow. */
    assert_string_equal(latch_arena_strndup(a, "abc", SIZE_MAX), "abc");
    /* Still usable afterwards. */
    assert_non_null(latch_arena_alloc(a, 10));
    latch_arena_free(a);
}

static void test_reset_keeps_first_block(void **state)
{
    struct latch_arena *a = latch_arena_new(1 << 20);
    void *first;
    void *again;

    (void)state;
    first = latch_arena_alloc(a, 100);
    for (int i = 0; i < 100; i++)
        assert_non_null(latch_arena_alloc(a, 1000));
    latch_arena_reset(a);
    again = latch_arena_alloc(a, 100);
    assert_ptr_equal(again, first);
    /* The limit counts from zero again. */
    assert_non_null(latch_arena_alloc(a, (1 << 20) - 112));
    latch_arena_reset(a);
    latch_arena_reset(a);
    latch_arena_free(a);
    latch_arena_free(NULL);
    latch_arena_reset(NULL);
    assert_null(latch_arena_alloc(NULL, 1));
}

static void test_calloc_zeroes(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    unsigned char *p;

    (void)state;
    p = latch_arena_alloc(a, 256);
    memset(p, 0xff, 256);
    latch_arena_reset(a);
    p = latch_arena_calloc(a, 16, 16);
    assert_non_null(p);
    for (int i = 0; i < 256; i++)
        assert_int_equal(p[i], 0);
    latch_arena_free(a);
}

static void test_strings(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    char *s;

    (void)state;
    assert_string_equal(latch_arena_strdup(a, "hello"), "hello");
    assert_string_equal(latch_arena_strdup(a, ""), "");
    assert_string_equal(latch_arena_strndup(a, "hello", 3), "hel");
    assert_string_equal(latch_arena_strndup(a, "hello", 0), "");
    assert_string_equal(latch_arena_strndup(a, "ab\0cd", 5), "ab");
    /* len past the end of a shorter string stops at its NUL. */
    assert_string_equal(latch_arena_strndup(a, "ab", 100), "ab");
    assert_null(latch_arena_strdup(a, NULL));

    s = latch_arena_printf(a, "%s-%d-%c", "tenant", 42, 'x');
    assert_string_equal(s, "tenant-42-x");
    assert_int_equal((uintptr_t)s % 16, 0);
    s = latch_arena_printf(a, "%s", "");
    assert_string_equal(s, "");
    s = latch_arena_printf(a, "%9000d|", 7);
    assert_non_null(s);
    assert_int_equal(strlen(s), 9001);
    assert_int_equal(s[8999], '7');
    assert_int_equal(s[9000], '|');
    latch_arena_free(a);
}

static void test_printf_limit(void **state)
{
    struct latch_arena *a = latch_arena_new(64);

    (void)state;
    assert_string_equal(latch_arena_printf(a, "%s", "short"), "short");
    assert_null(latch_arena_printf(a, "%100d", 1));
    latch_arena_free(a);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* A secret written into the arena is gone after reset: the first block, which survives the
 * reset, reads back as zeros, whether it was still the current block or had been left for
 * chained ones (whose own bytes are wiped before free(), which a test cannot read back). */
static void test_reset_wipes(void **state)
{
    struct latch_arena *a = latch_arena_new(1 << 20);
    unsigned char *secret;
    unsigned char *again;

    (void)state;
    /* Still in the first block. */
    secret = latch_arena_alloc(a, 64);
    memset(secret, 'S', 64);
    latch_arena_reset(a);
    again = latch_arena_alloc(a, 64);
    assert_ptr_equal(again, secret);
    assert_true(all_zero(again, 64));

    /* The first block left behind for chained ones, a big block of its own, then reset. */
    memset(again, 'S', 64);
    unsigned char *tail = latch_arena_alloc(a, 1000);
    memset(tail, 'T', 1000);
    for (int i = 0; i < 20; i++)
        memset(latch_arena_alloc(a, 1000), 'C', 1000);
    memset(latch_arena_alloc(a, 100000), 'B', 100000);
    latch_arena_reset(a);
    again = latch_arena_alloc(a, 64);
    assert_ptr_equal(again, secret);
    assert_true(all_zero(again, 64));
    unsigned char *tail2 = latch_arena_alloc(a, 1000);
    assert_ptr_equal(tail2, tail);
    assert_true(all_zero(tail2, 1000));
    latch_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_zero_size_distinct),
        cmocka_unit_test(test_growth_keeps_data),
        cmocka_unit_test(test_big_allocation),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_reset_keeps_first_block),
        cmocka_unit_test(test_reset_wipes),
        cmocka_unit_test(test_calloc_zeroes),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_printf_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
