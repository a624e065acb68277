/*
 * Unit tests of util/ratelimit: a bucket allows `burst` failures, then refuses with the time
 * until one token is back; it refills at burst / window; keys and rules are independent; a rule
 * with burst 0 is off; the table stays bounded and keeps the busiest keys when flooded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "util/ratelimit.h"

static const struct latch_ratelimit_rule five_a_minute = {.burst = 5, .window_s = 60};

static void test_burst_then_refusal(void **state)
{
    (void)state;
    struct latch_ratelimit *rl = latch_ratelimit_new();
    uint64_t now = 1000000;
    int retry = -1;
    assert_non_null(rl);
    for (int i = 0; i < 5; i++) {
        assert_true(latch_ratelimit_check(rl, &five_a_minute, "k", now, &retry));
        latch_ratelimit_fail(rl, &five_a_minute, "k", now);
    }
    assert_false(latch_ratelimit_check(rl, &five_a_minute, "k", now, &retry));
    assert_int_equal(retry, 12); /* one token every 60 / 5 = 12 s */
    assert_false(latch_ratelimit_check(rl, &five_a_minute, "k", now + 11999, &retry));
    assert_int_equal(retry, 1);
    assert_true(latch_ratelimit_check(rl, &five_a_minute, "k", now + 12000, &retry));
    /* Another key is not affected. */
    assert_true(latch_ratelimit_check(rl, &five_a_minute, "other", now, &retry));
    /* A full window later the bucket is full again: five more failures. */
    now += 60000;
    for (int i = 0; i < 5; i++) {
        assert_true(latch_ratelimit_check(rl, &five_a_minute, "k", now, &retry));
        latch_ratelimit_fail(rl, &five_a_minute, "k", now);
    }
    assert_false(latch_ratelimit_check(rl, &five_a_minute, "k", now, &retry));
    latch_ratelimit_free(rl);
}

static void test_rule_off(void **state)
{
    (void)state;
    struct latch_ratelimit *rl = latch_ratelimit_new();
    struct latch_ratelimit_rule off = {.burst = 0, .window_s = 60};
    for (int i = 0; i < 1000; i++)
        latch_ratelimit_fail(rl, &off, "k", 5000);
    assert_true(latch_ratelimit_check(rl, &off, "k", 5000, NULL));
    latch_ratelimit_free(rl);
}

/* A flood of distinct keys cannot make the table forget a key that is still being refused for
 * long: the least recently used buckets go first, and full (idle) ones before busy ones. */
static void test_flood_keeps_the_busy_key(void **state)
{
    (void)state;
    struct latch_ratelimit *rl = latch_ratelimit_new();
    uint64_t now = 1000000;
    int retry = 0;
    char key[32];
    for (int i = 0; i < 5; i++)
        latch_ratelimit_fail(rl, &five_a_minute, "victim-of-brute-force", now);
    for (int i = 0; i < 4 * LATCH_RATELIMIT_SLOTS; i++) {
        snprintf(key, sizeof(key), "noise-%d", i);
        /* Each noise key fails once and is idle again 12 s later. */
        latch_ratelimit_fail(rl, &five_a_minute, key, now + 12000 + (uint64_t)i);
        if (i % 64 == 0) /* the attacker keeps trying, so the key stays recent */
            latch_ratelimit_fail(rl, &five_a_minute, "victim-of-brute-force",
                                 now + 12000 + (uint64_t)i);
    }
    assert_false(latch_ratelimit_check(rl, &five_a_minute, "victim-of-brute-force",
                                       now + 12000 + 4 * LATCH_RATELIMIT_SLOTS, &retry));
    latch_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_rule_off),
        cmocka_unit_test(test_flood_keeps_the_busy_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
