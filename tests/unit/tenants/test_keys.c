/*
 * The signing-key limit (core/tenants/keys.c, schema/0006): one number for the cache, the
 * statement parameter and the migration compiled into the binary; the refusal of a rotation over
 * it recognised by its SQLSTATE and answered 422 oidc.key_limit with a message naming it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/migrate.h"
#include "tenants/cache.h"
#include "tenants/keys.h"

static void test_one_limit(void **state)
{
    (void)state;
    assert_int_equal(LATCH_TENANT_MAX_KEYS, LATCH_KEYS_MAX);
    assert_int_equal(strtol(LATCH_KEYS_MAX_TEXT, NULL, 10), LATCH_KEYS_MAX);
    assert_true(LATCH_KEYS_MAX >= 3); /* current, next and at least one previous key */
    assert_int_equal(latch_keys_rotate_stmt.nparams, 11);
    assert_non_null(strstr(latch_keys_rotate_stmt.sql, "$3::integer"));
}

/* The migration that adds the limit raises our SQLSTATE, and its form for nodes of the previous
 * release applies the same limit latchd passes. */
static void test_migration_agrees(void **state)
{
    (void)state;
    const struct latch_migration *m = NULL;
    for (int i = 0; i < latch_migrations_count; i++)
        if (strcmp(latch_migrations[i].name, "signing_key_limit") == 0)
            m = &latch_migrations[i];
    assert_non_null(m);
    char raise[64], legacy[96];
    snprintf(raise, sizeof(raise), "ERRCODE = '%s'", LATCH_KEYS_LIMIT_SQLSTATE);
    snprintf(legacy, sizeof(legacy), "PERFORM latch_rotate_keys(tid, grace_seconds, %d,",
             LATCH_KEYS_MAX);
    assert_non_null(strstr(m->sql, raise));
    assert_non_null(strstr(m->sql, legacy));
}

static void test_limit_reached(void **state)
{
    (void)state;
    struct latch_error err;
    assert_false(latch_keys_limit_reached(NULL));
    latch_error_set(&err, 500, LATCH_KEYS_LIMIT_SQLSTATE, "The database rejected the request.");
    assert_true(latch_keys_limit_reached(&err));
    latch_error_set(&err, 409, "23505", "The request conflicts with stored data.");
    assert_false(latch_keys_limit_reached(&err));
    latch_error_set(&err, 500, "store.failed", "the database refused the operation");
    assert_false(latch_keys_limit_reached(&err));
    latch_error_clear(&err);
    assert_false(latch_keys_limit_reached(&err));
}

static void test_limit_error(void **state)
{
    (void)state;
    struct latch_error err;
    latch_error_clear(&err);
    assert_int_equal(latch_keys_limit_error(&err), LATCH_FAIL);
    assert_int_equal(err.status, 422);
    assert_string_equal(err.code, "oidc.key_limit");
    char want[96];
    snprintf(want, sizeof(want), "at most %d signing keys", LATCH_KEYS_MAX);
    assert_non_null(strstr(err.message, want));
    snprintf(want, sizeof(want), "%d previous keys", LATCH_KEYS_MAX - 2);
    assert_non_null(strstr(err.message, want));
    /* Not cut short by the message buffer: it ends with its last sentence. */
    size_t n = strlen(err.message);
    assert_true(n < sizeof(err.message) - 1);
    assert_string_equal(err.message + n - strlen("grace period of 0."), "grace period of 0.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_limit),
        cmocka_unit_test(test_migration_agrees),
        cmocka_unit_test(test_limit_reached),
        cmocka_unit_test(test_limit_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
