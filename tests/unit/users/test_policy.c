/*
 * Unit tests for the password policy of core/users/users.c (a port of Logto's
 * PasswordPolicyChecker): a table of passwords, policies and user info with the issues each must
 * produce; policy JSON parsing (defaults, Logto's shape, bad members); the first-issue code
 * latch_users_password_ok() reports; and Logto's identifier formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "users/password.h"
#include "users/users.h"

enum {
    SHORT = LATCH_PASSWORD_TOO_SHORT,
    LONG = LATCH_PASSWORD_TOO_LONG,
    TYPES = LATCH_PASSWORD_CHARACTER_TYPES,
    UNSUPPORTED = LATCH_PASSWORD_UNSUPPORTED_CHARACTERS,
    REP = LATCH_PASSWORD_REPETITION,
    SEQ = LATCH_PASSWORD_SEQUENCE,
    INFO = LATCH_PASSWORD_USER_INFO,
    WORDS = LATCH_PASSWORD_WORDS,
};

static const struct latch_users_info alice = {.username = "alice"};
static const struct latch_users_info bob = {.username = "bob_1", .email = "bob.smith@example.com"};
static const struct latch_users_info jane = {.name = "Jane Q Public"};
static const struct latch_users_info phone = {.phone = "19175550123"};

static const struct policy_case {
    const char *password;
    const char *policy; /* JSON, NULL for the default policy */
    const struct latch_users_info *info;
    unsigned issues;
} cases[] = {
    /* length and character types */
    {"", NULL, NULL, SHORT | TYPES},
    {"Tr0ub4d", NULL, NULL, SHORT},
    {"Tr0ub4dor&3", NULL, NULL, 0},
    {"tr0ub4dor", NULL, NULL, 0},
    {"correct horse", NULL, NULL, UNSUPPORTED}, /* a space is not a supported character */
    {"p\xc3\xa4sswOrd1", NULL, NULL, UNSUPPORTED},
    {"tab\there1x", NULL, NULL, UNSUPPORTED},
    {"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", NULL, NULL, 0}, /* all 32 symbols */
    {"Tr0ub4dor&3", "{\"length\":{\"min\":12,\"max\":256}}", NULL, SHORT},
    {"Tr0ub4dor&3", "{\"length\":{\"min\":8,\"max\":10}}", NULL, LONG},
    {"Tr0ub4dor&", "{\"length\":{\"min\":8,\"max\":10}}", NULL, 0},
    {"tr0ub4dor", "{\"characterTypes\":{\"min\":3}}", NULL, TYPES},
    {"Tr0ub4dor", "{\"characterTypes\":{\"min\":3}}", NULL, 0},
    {"Tr0ub4dor", "{\"characterTypes\":{\"min\":4}}", NULL, TYPES},
    {"Tr0ub4dor&3", "{\"characterTypes\":{\"min\":4}}", NULL, 0},
    /* repetition and sequences (3 or more) cover all but at most 3 characters */
    {"aaaaaaaa", NULL, NULL, REP},
    {"AAAaaaAA", NULL, NULL, REP}, /* without case */
    {"12345678", NULL, NULL, SEQ},
    {"87654321", NULL, NULL, SEQ},
    {"qwertyuiop", NULL, NULL, SEQ},
    {"abcdefg", NULL, NULL, SHORT | SEQ},
    {"1qaz2wsx3edc", NULL, NULL, SEQ},
    {"aaa1Xyz!Q9", NULL, NULL, 0},         /* 6 of 10 restricted: within the tolerance */
    {"aaa1234zZq", NULL, NULL, 0},         /* 7 of 10: exactly the tolerance */
    {"aaaa12345z", NULL, NULL, REP | SEQ}, /* 9 of 10 */
    {"12345678", "{\"rejects\":{\"repetitionAndSequence\":false}}", NULL, 0},
    /* the user's own info, without case */
    {"alice", NULL, &alice, SHORT | INFO},
    {"alicealice", NULL, &alice, INFO},
    {"ALICE-Mar7!x", NULL, &alice, 0},
    {"xx-alice-xx", NULL, &alice, 0},
    {"alice123", NULL, &alice, INFO | SEQ},
    {"alice123", "{\"rejects\":{\"userInfo\":false}}", &alice, 0},
    {"alice123", NULL, NULL, 0}, /* no info given: nothing to compare with */
    {"bob.smith99", NULL, &bob, INFO},
    {"Bob_1Bob_1", NULL, &bob, INFO},
    {"bob.smith-Kx7!q", NULL, &bob, 0},
    {"JanePublic!", NULL, &jane, INFO},
    {"JaneQPublic", NULL, &jane, INFO},
    {"Jane Q Public", NULL, &jane, INFO | UNSUPPORTED},
    {"Jane-Tr0ub4dor", NULL, &jane, 0},
    {"19175550123x", NULL, &phone, INFO | REP | SEQ}, /* also 555 and 0123 */
    /* the policy's words, without case */
    {"LatchLatch1", "{\"rejects\":{\"words\":[\"latch\"]}}", NULL, WORDS},
    {"Latch-Tr0ub4dor", "{\"rejects\":{\"words\":[\"latch\"]}}", NULL, 0},
    {"LatchLatch1", NULL, NULL, 0},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct policy_case *c = &cases[i];
        struct latch_password_policy policy;
        struct latch_error err;
        assert_int_equal(latch_users_policy_parse(c->policy, &policy, &err), LATCH_OK);
        unsigned got = latch_users_password_issues(c->password, &policy, c->info);
        if (got != c->issues)
            fail_msg("case %zu \"%s\" (policy %s): issues 0x%x, want 0x%x", i, c->password,
                     c->policy ? c->policy : "default", got, c->issues);
        const char *why = "unset";
        bool ok = latch_users_password_ok(c->password, &policy, c->info, &why);
        assert_int_equal(ok, c->issues == 0);
        if (ok)
            assert_null(why);
        else
            assert_string_equal(why, latch_users_password_issue_code(c->issues & -c->issues));
    }
}

static void test_long_passwords(void **state)
{
    char pw[LATCH_PASSWORD_MAX + 2];
    static const char unit[] = "Tr0ub4dor&3";
    (void)state;
    for (size_t i = 0; i < sizeof(pw); i++)
        pw[i] = unit[i % (sizeof(unit) - 1)];
    pw[LATCH_PASSWORD_MAX] = '\0';
    assert_int_equal(latch_users_password_issues(pw, NULL, NULL), 0);
    pw[LATCH_PASSWORD_MAX] = 'x';
    pw[LATCH_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(latch_users_password_issues(pw, NULL, NULL), LONG);
    /* a policy may not allow more than hashing accepts */
    struct latch_password_policy policy;
    struct latch_error err;
    assert_int_equal(
        latch_users_policy_parse("{\"length\":{\"min\":8,\"max\":4096}}", &policy, &err), LATCH_OK);
    assert_int_equal(policy.max_length, LATCH_PASSWORD_MAX);
    assert_int_equal(latch_users_password_issues(pw, &policy, NULL), LONG);
}

static void test_why(void **state)
{
    const char *why = NULL;
    (void)state;
    assert_false(latch_users_password_ok("short", NULL, NULL, &why));
    assert_string_equal(why, "password_rejected.too_short");
    assert_false(latch_users_password_ok("alice123", NULL, &alice, &why));
    assert_string_equal(why, "password_rejected.restricted.sequence");
    assert_false(latch_users_password_ok("alicealice", NULL, &alice, &why));
    assert_string_equal(why, "password_rejected.restricted.user_info");
    assert_false(latch_users_password_ok("correct horse", NULL, NULL, NULL));
    assert_true(latch_users_password_ok("Tr0ub4dor&3", NULL, &alice, &why));
    assert_null(why);
}

static void test_policy_parse(void **state)
{
    struct latch_password_policy p;
    struct latch_error err;
    (void)state;
    assert_int_equal(latch_users_policy_parse(NULL, &p, &err), LATCH_OK);
    assert_int_equal(p.min_length, 8);
    assert_int_equal(p.max_length, 256);
    assert_int_equal(p.min_types, 1);
    assert_true(p.reject_repetition_and_sequence);
    assert_true(p.reject_user_info);
    assert_int_equal(p.nwords, 0);
    /* the schema's default value */
    assert_int_equal(latch_users_policy_parse("{\"length\": {\"min\": 8, \"max\": 256}}", &p, &err),
                     LATCH_OK);
    assert_int_equal(p.min_length, 8);
    assert_int_equal(latch_users_policy_parse(
                         "{\"length\":{\"min\":10,\"max\":64},\"characterTypes\":{\"min\":3},"
                         "\"rejects\":{\"pwned\":true,\"repetitionAndSequence\":false,"
                         "\"userInfo\":false,\"words\":[\"acme\",\"Latch\"]}}",
                         &p, &err),
                     LATCH_OK);
    assert_int_equal(p.min_length, 10);
    assert_int_equal(p.max_length, 64);
    assert_int_equal(p.min_types, 3);
    assert_false(p.reject_repetition_and_sequence);
    assert_false(p.reject_user_info);
    assert_int_equal(p.nwords, 2);
    assert_string_equal(p.words[1], "Latch");

    static const struct {
        const char *json;
        const char *names;
    } bad[] = {
        {"[]", "passwordPolicy"},
        {"{", "passwordPolicy"},
        {"{\"length\":8}", "length"},
        {"{\"length\":{\"min\":0}}", "length.min"},
        {"{\"length\":{\"min\":\"8\"}}", "length.min"},
        {"{\"length\":{\"min\":20,\"max\":10}}", "length"},
        {"{\"characterTypes\":{\"min\":5}}", "characterTypes.min"},
        {"{\"rejects\":{\"userInfo\":\"yes\"}}", "rejects.userInfo"},
        {"{\"rejects\":{\"words\":\"latch\"}}", "rejects.words"},
        {"{\"rejects\":{\"words\":[\"\"]}}", "rejects.words"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.min_length = 99;
        if (latch_users_policy_parse(bad[i].json, &p, &err) != LATCH_FAIL)
            fail_msg("policy %s accepted", bad[i].json);
        assert_int_equal(err.status, 400);
        if (strstr(err.message, bad[i].names) == NULL)
            fail_msg("policy %s: message \"%s\" does not name %s", bad[i].json, err.message,
                     bad[i].names);
        assert_int_equal(p.min_length, 8); /* left at the defaults */
    }
}

static void test_identifiers(void **state)
{
    (void)state;
    static const char *const usernames_ok[] = {"alice", "_x", "A1_b2", "a", NULL};
    static const char *const usernames_bad[] = {
        "", "1abc", "al ice", "al-ice", "al.ice", "\xc3\xa9t\xc3\xa9", NULL};
    for (const char *const *s = usernames_ok; *s; s++)
        assert_true(latch_users_username_ok(*s));
    for (const char *const *s = usernames_bad; *s; s++)
        assert_false(latch_users_username_ok(*s));
    char long_name[130];
    memset(long_name, 'a', sizeof(long_name));
    long_name[128] = '\0';
    assert_true(latch_users_username_ok(long_name));
    long_name[128] = 'a';
    long_name[129] = '\0';
    assert_false(latch_users_username_ok(long_name));

    static const char *const emails_ok[] = {"a@b.c",   "alice@example.com", "x+y@sub.example.org",
                                            "a@b@c.d", "@@a.b.c",           NULL};
    static const char *const emails_bad[] = {
        "",           "alice",          "alice@example",      "@example.com",
        "alice@.com", "alice@example.", "al ice@example.com", "alice@exa mple.com",
        NULL};
    for (const char *const *s = emails_ok; *s; s++)
        if (!latch_users_email_ok(*s))
            fail_msg("email %s refused", *s);
    for (const char *const *s = emails_bad; *s; s++)
        if (latch_users_email_ok(*s))
            fail_msg("email %s accepted", *s);

    assert_true(latch_users_phone_ok("8613800000000"));
    assert_false(latch_users_phone_ok("+8613800000000"));
    assert_false(latch_users_phone_ok("138 0000"));
    assert_false(latch_users_phone_ok(""));
}

static void test_ids(void **state)
{
    char a[LATCH_USERS_ID_LEN + 1], b[LATCH_USERS_ID_LEN + 1];
    (void)state;
    assert_int_equal(latch_users_new_id(a), LATCH_OK);
    assert_int_equal(latch_users_new_id(b), LATCH_OK);
    assert_int_equal(strlen(a), LATCH_USERS_ID_LEN);
    assert_int_equal(strspn(a, "0123456789abcdefghijklmnopqrstuvwxyz"), LATCH_USERS_ID_LEN);
    assert_string_not_equal(a, b);
    assert_ptr_equal(latch_users_find_stmt("username"), &latch_users_stmt_find_username);
    assert_ptr_equal(latch_users_find_stmt("email"), &latch_users_stmt_find_email);
    assert_ptr_equal(latch_users_find_stmt("phone"), &latch_users_stmt_find_phone);
    assert_null(latch_users_find_stmt("id"));
    assert_null(latch_users_find_stmt(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),       cmocka_unit_test(test_long_passwords),
        cmocka_unit_test(test_why),         cmocka_unit_test(test_policy_parse),
        cmocka_unit_test(test_identifiers), cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
