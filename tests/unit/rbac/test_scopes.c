/* Unit tests for rbac/scopes.c: the scope decision of every access token, as a table of
 * (requested, held, policy) → granted, plus the scope-token grammar and bounded output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rbac/scopes.h"

struct decision {
    const char *what;
    const char *requested;
    const char *held;
    enum latch_rbac_unrequested unrequested;
    enum latch_rbac_result result;
    const char *granted;
};

static const struct decision decisions[] = {
    /* People: a resource token carries what is asked for, limited to what the roles hold. */
    {"asked and held", "read:data write:data", "read:data write:data admin", LATCH_RBAC_NOTHING,
     LATCH_RBAC_OK, "read:data write:data"},
    {"asked, partly held", "read:data delete:data", "read:data write:data", LATCH_RBAC_NOTHING,
     LATCH_RBAC_OK, "read:data"},
    {"asked, none held", "delete:data", "read:data", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"nothing asked gives nothing", NULL, "read:data", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"only spaces is nothing asked", "   ", "read:data", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"no roles", "read:data", NULL, LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"no roles, empty list", "read:data", "", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"OIDC scopes are not resource scopes", "openid profile read:data", "read:data",
     LATCH_RBAC_NOTHING, LATCH_RBAC_OK, "read:data"},
    {"requested order, each once", "b a b a", "a b c", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, "b a"},
    {"extra spaces", "  a   b ", "a b", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, "a b"},
    {"exact names, no prefixes", "read read:data:all", "read:data", LATCH_RBAC_NOTHING,
     LATCH_RBAC_OK, ""},
    {"case matters", "Read:Data", "read:data", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, ""},
    {"held duplicates", "a", "a a", LATCH_RBAC_NOTHING, LATCH_RBAC_OK, "a"},
    /* Machines: nothing asked gives everything held (Logto's client_credentials). */
    {"machine, nothing asked", NULL, "a b a c", LATCH_RBAC_ALL, LATCH_RBAC_OK, "a b c"},
    {"machine, asked", "c x", "a b c", LATCH_RBAC_ALL, LATCH_RBAC_OK, "c"},
    {"machine, asked but none held: nothing, not everything", "x", "a b", LATCH_RBAC_ALL,
     LATCH_RBAC_OK, ""},
    {"machine, nothing held", NULL, NULL, LATCH_RBAC_ALL, LATCH_RBAC_OK, ""},
    /* Organization members: URN-shaped and colon scopes pass the grammar. */
    {"organization scopes", "urn:logto:scope:organizations invite:member", "invite:member",
     LATCH_RBAC_NOTHING, LATCH_RBAC_OK, "invite:member"},
    /* Malformed requests are refused whatever is held. */
    {"quote", "a \"b", "a", LATCH_RBAC_NOTHING, LATCH_RBAC_MALFORMED, ""},
    {"backslash", "a\\b", "a\\b", LATCH_RBAC_ALL, LATCH_RBAC_MALFORMED, ""},
    {"control character", "a\tb", "a", LATCH_RBAC_NOTHING, LATCH_RBAC_MALFORMED, ""},
    {"non-ASCII", "caf\xc3\xa9", "caf\xc3\xa9", LATCH_RBAC_NOTHING, LATCH_RBAC_MALFORMED, ""},
};

static void test_decision_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(decisions) / sizeof(decisions[0]); i++) {
        const struct decision *d = &decisions[i];
        char out[256];
        memset(out, 'x', sizeof(out));
        enum latch_rbac_result r =
            latch_rbac_grant(d->requested, d->held, d->unrequested, out, sizeof(out));
        if (r != d->result || strcmp(out, d->granted) != 0)
            fail_msg("%s: got %d \"%s\", want %d \"%s\"", d->what, (int)r, out, (int)d->result,
                     d->granted);
    }
}

static void test_bounded_output(void **state)
{
    (void)state;
    char out[8];
    /* "aaa bbb" needs 8 bytes with its terminator: fits exactly. */
    assert_int_equal(latch_rbac_grant("aaa bbb", "aaa bbb", LATCH_RBAC_NOTHING, out, 8),
                     LATCH_RBAC_OK);
    assert_string_equal(out, "aaa bbb");
    assert_int_equal(latch_rbac_grant("aaa bbbb", "aaa bbbb", LATCH_RBAC_NOTHING, out, 8),
                     LATCH_RBAC_TOO_LONG);
    assert_string_equal(out, "");
    assert_int_equal(latch_rbac_grant(NULL, "aaa bbbb", LATCH_RBAC_ALL, out, 8),
                     LATCH_RBAC_TOO_LONG);
    assert_string_equal(out, "");
    assert_int_equal(latch_rbac_grant("a", "a", LATCH_RBAC_NOTHING, out, 0), LATCH_RBAC_TOO_LONG);
}

static void test_too_many_scopes(void **state)
{
    (void)state;
    char many[LATCH_RBAC_MAX_SCOPES * 2 + 4] = "";
    for (int i = 0; i < LATCH_RBAC_MAX_SCOPES; i++)
        strcat(many, i ? " a" : "a");
    char out[8];
    assert_int_equal(latch_rbac_check(many), LATCH_RBAC_OK);
    assert_int_equal(latch_rbac_grant(many, "a", LATCH_RBAC_NOTHING, out, sizeof(out)),
                     LATCH_RBAC_OK);
    assert_string_equal(out, "a");
    strcat(many, " a");
    assert_int_equal(latch_rbac_check(many), LATCH_RBAC_TOO_MANY);
    assert_int_equal(latch_rbac_grant(many, "a", LATCH_RBAC_NOTHING, out, sizeof(out)),
                     LATCH_RBAC_TOO_MANY);
    assert_string_equal(out, "");
    assert_int_equal(latch_rbac_check("a \"b"), LATCH_RBAC_MALFORMED);
    assert_int_equal(latch_rbac_check(NULL), LATCH_RBAC_OK);
    assert_string_equal(latch_rbac_describe(LATCH_RBAC_TOO_MANY),
                        "The scope parameter names too many scopes.");
}

static void test_grammar_and_lists(void **state)
{
    (void)state;
    assert_true(latch_rbac_scope_token_ok("urn:logto:scope:organizations", 29));
    assert_true(latch_rbac_scope_token_ok("!#[]~", 5));
    assert_false(latch_rbac_scope_token_ok("", 0));
    assert_false(latch_rbac_scope_token_ok("a b", 3));
    assert_false(latch_rbac_scope_token_ok("\x7f", 1));
    assert_true(latch_rbac_list_has("openid  profile", "profile", 7));
    assert_false(latch_rbac_list_has("openid profile", "prof", 4));
    assert_false(latch_rbac_list_has(NULL, "a", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_bounded_output),
        cmocka_unit_test(test_too_many_scopes),
        cmocka_unit_test(test_grammar_and_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
