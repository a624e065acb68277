/* Tenant id syntax (core/tenants/tenant_id.c): a table of ids and whether each is valid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tenants/tenant_id.h"

struct id_case {
    const char *id;
    bool valid;
};

static const struct id_case cases[] = {
    /* valid */
    {"default", true},
    {"a", true},
    {"0", true},
    {"acme", true},
    {"acme-corp", true},
    {"a-b-c", true},
    {"a--b", true},
    {"123", true},
    {"9lives", true},
    {"tenant-42", true},
    {"abcdefghijklmnopqrstu", true}, /* 21: the maximum */
    {"a1234567890123456789z", true},
    /* invalid: length */
    {"", false},
    {"abcdefghijklmnopqrstuv", false}, /* 22 */
    {"abcdefghijklmnopqrstuvwxyz0123456789", false},
    /* invalid: dashes at the ends */
    {"-", false},
    {"-a", false},
    {"a-", false},
    {"-acme-", false},
    {"--", false},
    /* invalid: characters */
    {"Acme", false},
    {"ACME", false},
    {"acmE", false},
    {"a_b", false},
    {"_a", false},
    {"a.b", false},
    {"a b", false},
    {" a", false},
    {"a ", false},
    {"a/b", false},
    {"..", false},
    {"a\n", false},
    {"a\tb", false},
    {"caf\xc3\xa9", false}, /* é in UTF-8 */
    {"a%20", false},
    {"a;drop", false},
    {"a'b", false},
};

static void test_valid_id_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = latch_tenants_valid_id(cases[i].id);
        if (got != cases[i].valid)
            fail_msg("latch_tenants_valid_id(\"%s\") = %d, want %d", cases[i].id, got,
                     cases[i].valid);
        /* The length-based form agrees when given the exact length. */
        got = latch_tenants_valid_id_len(cases[i].id, strlen(cases[i].id));
        if (got != cases[i].valid)
            fail_msg("latch_tenants_valid_id_len(\"%s\") = %d, want %d", cases[i].id, got,
                     cases[i].valid);
    }
}

static void test_null(void **state)
{
    (void)state;
    assert_false(latch_tenants_valid_id(NULL));
    assert_false(latch_tenants_valid_id_len(NULL, 0));
    assert_false(latch_tenants_valid_id_len(NULL, 4));
}

/* A URL path segment is not NUL-terminated: only the first len bytes count. */
static void test_len_segment(void **state)
{
    (void)state;
    const char *path = "acme/oidc/token";
    assert_true(latch_tenants_valid_id_len(path, 4));
    assert_false(latch_tenants_valid_id_len(path, 5)); /* "acme/" */
    assert_false(latch_tenants_valid_id_len(path, 0));
    assert_true(latch_tenants_valid_id_len("acme-", 4));
    assert_false(latch_tenants_valid_id_len("acme-", 5));
}

/* An embedded NUL inside the given length is not part of a valid id. */
static void test_len_embedded_nul(void **state)
{
    (void)state;
    const char id[] = {'a', '\0', 'b'};
    assert_false(latch_tenants_valid_id_len(id, sizeof(id)));
    assert_true(latch_tenants_valid_id_len(id, 1));
}

/* latch_tenants_valid_id stops looking after LATCH_TENANT_ID_MAX + 1 bytes. */
static void test_long_without_reading_all(void **state)
{
    (void)state;
    char buf[4096];
    memset(buf, 'a', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    assert_false(latch_tenants_valid_id(buf));
    buf[LATCH_TENANT_ID_MAX] = '\0';
    assert_true(latch_tenants_valid_id(buf));
    buf[LATCH_TENANT_ID_MAX] = 'a';
    buf[LATCH_TENANT_ID_MAX + 1] = '\0';
    assert_false(latch_tenants_valid_id(buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_id_table),
        cmocka_unit_test(test_null),
        cmocka_unit_test(test_len_segment),
        cmocka_unit_test(test_len_embedded_nul),
        cmocka_unit_test(test_long_without_reading_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
