/*
 * Unit tests for core/audit/queue.c, the audit log's per-loop queue and batches: the two bounds
 * (entries and bytes) refuse a push and leave the row to the caller; FIFO order across the ring's
 * wrap; a batch takes at most its room and at most LATCH_AUDIT_BATCH_TENANTS tenants, stopping
 * before the first entry of one more (which the next batch takes first); the JSON array of one
 * tenant holds exactly that tenant's rows in order; bad tenant ids are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/queue.h"

static char *row(int n)
{
    char *r = malloc(32);
    assert_non_null(r);
    snprintf(r, 32, "{\"n\":%d}", n);
    return r;
}

/* Pushes row(n) for tenant; asserts the outcome; frees a refused row. */
static void push(struct latch_audit_queue *q, const char *tenant, int n, bool want)
{
    char *r = row(n);
    bool ok = latch_audit_queue_push(q, tenant, r, strlen(r));
    assert_int_equal(ok, want);
    if (!ok)
        free(r);
}

static void test_entry_bound(void **state)
{
    struct latch_audit_queue q;
    assert_int_equal(latch_audit_queue_init(&q, 3, 1 << 20), LATCH_OK);
    push(&q, "a", 1, true);
    push(&q, "a", 2, true);
    push(&q, "a", 3, true);
    push(&q, "a", 4, false); /* full: refused, the caller keeps (and frees) it */
    assert_int_equal(q.count, 3);
    assert_int_equal(q.bytes, 3 * strlen("{\"n\":1}"));
    latch_audit_queue_clear(&q);
}

static void test_byte_bound(void **state)
{
    struct latch_audit_queue q;
    size_t one = strlen("{\"n\":1}");
    assert_int_equal(latch_audit_queue_init(&q, 100, 2 * one + 1), LATCH_OK);
    push(&q, "a", 1, true);
    push(&q, "a", 2, true);
    push(&q, "a", 3, false); /* would pass the byte bound */
    assert_int_equal(q.count, 2);
    /* Taking frees room in bytes too. */
    struct latch_audit_batch b;
    assert_int_equal(latch_audit_batch_init(&b, 1), LATCH_OK);
    assert_int_equal(latch_audit_batch_take(&b, &q), 1);
    assert_int_equal(q.bytes, one);
    push(&q, "a", 3, true);
    latch_audit_batch_clear(&b);
    latch_audit_queue_clear(&q);
}

static void test_bad_input(void **state)
{
    struct latch_audit_queue q;
    assert_int_equal(latch_audit_queue_init(&q, 4, 1024), LATCH_OK);
    push(&q, "", 1, false);
    push(&q, NULL, 1, false);
    push(&q, "a-tenant-id-of-22-chrs", 1, false); /* 22 > 21 */
    push(&q, "a-tenant-id-of-21-chr", 1, true);
    char *r = row(9);
    assert_false(latch_audit_queue_push(&q, "a", r, 0));
    free(r);
    assert_int_equal(q.count, 1);
    latch_audit_queue_clear(&q);
    struct latch_audit_queue none;
    assert_int_equal(latch_audit_queue_init(&none, 0, 1024), LATCH_FAIL);
}

/* Batches drain the queue in FIFO order, also after the ring wrapped. */
static void test_fifo_wrap(void **state)
{
    struct latch_audit_queue q;
    struct latch_audit_batch b;
    assert_int_equal(latch_audit_queue_init(&q, 4, 1 << 20), LATCH_OK);
    assert_int_equal(latch_audit_batch_init(&b, 3), LATCH_OK);
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        while (q.count < 4)
            push(&q, "t", next_in++, true);
        size_t n = latch_audit_batch_take(&b, &q);
        assert_int_equal(n, 3); /* the batch's room */
        for (size_t i = 0; i < b.count; i++) {
            char want[32];
            snprintf(want, sizeof(want), "{\"n\":%d}", next_out++);
            assert_string_equal(b.entries[i].row, want);
        }
        latch_audit_batch_reset(&b);
    }
    latch_audit_batch_clear(&b);
    latch_audit_queue_clear(&q);
}

/* At most LATCH_AUDIT_BATCH_TENANTS tenants a batch; the next tenant's entry waits. */
static void test_tenant_bound(void **state)
{
    struct latch_audit_queue q;
    struct latch_audit_batch b;
    assert_int_equal(latch_audit_queue_init(&q, 64, 1 << 20), LATCH_OK);
    assert_int_equal(latch_audit_batch_init(&b, 64), LATCH_OK);
    static const char *const tenants[] = {"t1", "t2", "t1", "t3", "t4", "t2", "t5", "t1"};
    for (int i = 0; i < 8; i++)
        push(&q, tenants[i], i, true);
    assert_int_equal(LATCH_AUDIT_BATCH_TENANTS, 4);
    assert_int_equal(latch_audit_batch_take(&b, &q), 6); /* stops before t5 */
    assert_int_equal(b.ntenants, 4);
    assert_string_equal(b.tenants[0], "t1");
    assert_string_equal(b.tenants[1], "t2");
    assert_string_equal(b.tenants[2], "t3");
    assert_string_equal(b.tenants[3], "t4");

    size_t len = 0;
    char *j = latch_audit_batch_json(&b, 0, &len);
    assert_non_null(j);
    assert_string_equal(j, "[{\"n\":0},{\"n\":2}]");
    assert_int_equal(len, strlen(j));
    free(j);
    j = latch_audit_batch_json(&b, 1, &len);
    assert_string_equal(j, "[{\"n\":1},{\"n\":5}]");
    free(j);
    j = latch_audit_batch_json(&b, 3, &len);
    assert_string_equal(j, "[{\"n\":4}]");
    free(j);
    assert_null(latch_audit_batch_json(&b, 4, &len));
    assert_null(latch_audit_batch_json(&b, -1, &len));

    latch_audit_batch_reset(&b);
    assert_int_equal(latch_audit_batch_take(&b, &q), 2);
    assert_string_equal(b.tenants[0], "t5");
    assert_string_equal(b.entries[0].row, "{\"n\":6}");
    assert_string_equal(b.entries[1].row, "{\"n\":7}");
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(latch_audit_batch_take(&b, &q), 0);
    latch_audit_batch_clear(&b);
    latch_audit_queue_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_bound),  cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_bad_input),    cmocka_unit_test(test_fifo_wrap),
        cmocka_unit_test(test_tenant_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
