/* Unit tests for messages/messages.c: the names and numbers it mirrors from the connector ABI
 * (checked at compile time against plugins-api/latch/connector.h), Logto's template names, and
 * the bounds every message is checked against before it reaches a connector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <latch/connector.h>

#include "messages/messages.h"

/* messages.h mirrors these so that core callers need not include the ABI header. */
_Static_assert(LATCH_MESSAGES_TEMPLATE_SIGN_IN == LATCH_CONNECTOR_TEMPLATE_SIGN_IN, "SignIn");
_Static_assert(LATCH_MESSAGES_TEMPLATE_REGISTER == LATCH_CONNECTOR_TEMPLATE_REGISTER, "Register");
_Static_assert(LATCH_MESSAGES_TEMPLATE_FORGOT_PASSWORD == LATCH_CONNECTOR_TEMPLATE_FORGOT_PASSWORD,
               "ForgotPassword");
_Static_assert(LATCH_MESSAGES_TEMPLATE_GENERIC == LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic");
_Static_assert(LATCH_MESSAGES_TEMPLATE_ORGANIZATION_INVITATION ==
                   LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION,
               "OrganizationInvitation");
_Static_assert(LATCH_MESSAGES_TEMPLATE_USER_PERMISSION_VALIDATION ==
                   LATCH_CONNECTOR_TEMPLATE_USER_PERMISSION_VALIDATION,
               "UserPermissionValidation");
_Static_assert(LATCH_MESSAGES_TEMPLATE_BIND_NEW_IDENTIFIER ==
                   LATCH_CONNECTOR_TEMPLATE_BIND_NEW_IDENTIFIER,
               "BindNewIdentifier");
_Static_assert(LATCH_MESSAGES_TEMPLATE_MFA_VERIFICATION ==
                   LATCH_CONNECTOR_TEMPLATE_MFA_VERIFICATION,
               "MfaVerification");
_Static_assert(LATCH_MESSAGES_TEMPLATE_BIND_MFA == LATCH_CONNECTOR_TEMPLATE_BIND_MFA, "BindMfa");
_Static_assert(LATCH_MESSAGES_VARS_MAX <= 32, "the ABI takes at most 32 variables");

static void test_kinds(void **state)
{
    (void)state;
    assert_int_equal(latch_messages_channel_kind(LATCH_MESSAGES_EMAIL), LATCH_CONNECTOR_EMAIL);
    assert_int_equal(latch_messages_channel_kind(LATCH_MESSAGES_SMS), LATCH_CONNECTOR_SMS);
    assert_int_equal(latch_messages_kind_channel(LATCH_CONNECTOR_EMAIL), LATCH_MESSAGES_EMAIL);
    assert_int_equal(latch_messages_kind_channel(LATCH_CONNECTOR_SMS), LATCH_MESSAGES_SMS);
    assert_int_equal(latch_messages_kind_channel(LATCH_CONNECTOR_SOCIAL), 0);
    assert_int_equal(latch_messages_kind_channel(99), 0);
}

static void test_template_names(void **state)
{
    (void)state;
    static const char *const logto[] = {"SignIn",
                                        "Register",
                                        "ForgotPassword",
                                        "Generic",
                                        "OrganizationInvitation",
                                        "UserPermissionValidation",
                                        "BindNewIdentifier",
                                        "MfaVerification",
                                        "BindMfa"};
    for (int t = 1; t <= LATCH_MESSAGES_TEMPLATE_MAX; t++) {
        assert_string_equal(latch_messages_template_name(t), logto[t - 1]);
        assert_int_equal(latch_messages_template_type(logto[t - 1]), t);
    }
    assert_null(latch_messages_template_name(0));
    assert_null(latch_messages_template_name(LATCH_MESSAGES_TEMPLATE_MAX + 1));
    assert_int_equal(latch_messages_template_type("signin"), 0); /* names are case-sensitive */
    assert_int_equal(latch_messages_template_type("Continue"), 0);
    assert_int_equal(latch_messages_template_type(""), 0);
    assert_int_equal(latch_messages_template_type(NULL), 0);
}

struct check_case {
    const char *what;
    enum latch_messages_channel channel;
    int type;
    const char *to;
    const char *locale;
    bool ok;
};

static const struct check_case cases[] = {
    {"email", LATCH_MESSAGES_EMAIL, 1, "ada@example.com", "en", true},
    {"email with a plus and subdomain", LATCH_MESSAGES_EMAIL, 3, "a+b@mail.example.org", "zh-CN",
     true},
    {"no locale", LATCH_MESSAGES_EMAIL, 4, "ada@example.com", NULL, true},
    {"phone digits", LATCH_MESSAGES_SMS, 1, "34600111222", "es", true},
    {"no @", LATCH_MESSAGES_EMAIL, 1, "ada.example.com", NULL, false},
    {"nothing before @", LATCH_MESSAGES_EMAIL, 1, "@example.com", NULL, false},
    {"no dot in the domain", LATCH_MESSAGES_EMAIL, 1, "ada@localhost", NULL, false},
    {"dot right after @", LATCH_MESSAGES_EMAIL, 1, "ada@.com", NULL, false},
    {"ends with a dot", LATCH_MESSAGES_EMAIL, 1, "ada@example.", NULL, false},
    {"space", LATCH_MESSAGES_EMAIL, 1, "ada lovelace@example.com", NULL, false},
    {"header injection", LATCH_MESSAGES_EMAIL, 1, "ada@example.com\r\nBcc: x@y.z", NULL, false},
    {"empty", LATCH_MESSAGES_EMAIL, 1, "", NULL, false},
    {"no recipient", LATCH_MESSAGES_EMAIL, 1, NULL, NULL, false},
    {"phone with +", LATCH_MESSAGES_SMS, 1, "+34600111222", NULL, false},
    {"phone with spaces", LATCH_MESSAGES_SMS, 1, "34 600 111 222", NULL, false},
    {"email address to SMS", LATCH_MESSAGES_SMS, 1, "ada@example.com", NULL, false},
    {"phone to email", LATCH_MESSAGES_EMAIL, 1, "34600111222", NULL, false},
    {"phone too long", LATCH_MESSAGES_SMS, 1, "123456789012345678901234567890123", NULL, false},
    {"unknown type", LATCH_MESSAGES_EMAIL, 0, "ada@example.com", NULL, false},
    {"type past the last", LATCH_MESSAGES_EMAIL, LATCH_MESSAGES_TEMPLATE_MAX + 1, "ada@example.com",
     NULL, false},
    {"unknown channel", (enum latch_messages_channel)3, 1, "ada@example.com", NULL, false},
    {"locale with a quote", LATCH_MESSAGES_EMAIL, 1, "ada@example.com", "en'--", false},
    {"locale too long", LATCH_MESSAGES_EMAIL, 1, "ada@example.com", "en-aaaaaaaaaaaaaaa", false},
    {"empty locale", LATCH_MESSAGES_EMAIL, 1, "ada@example.com", "", false},
};

static void test_check_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct check_case *c = &cases[i];
        struct latch_messages_send m = {
            .channel = c->channel, .type = c->type, .to = c->to, .locale = c->locale};
        struct latch_error err = {0};
        latch_rc rc = latch_messages_check(&m, &err);
        if ((rc == LATCH_OK) != c->ok)
            fail_msg("%s: expected %s, got %s (%s)", c->what, c->ok ? "ok" : "refused",
                     rc == LATCH_OK ? "ok" : "refused", err.message);
        if (!c->ok) {
            assert_int_equal(err.status, 400);
            assert_string_equal(err.code, "guard.invalid_input");
        }
    }
    /* A long address passes up to the bound and not past it. */
    char to[LATCH_MESSAGES_TO_MAX + 2];
    struct latch_messages_send m = {.channel = LATCH_MESSAGES_EMAIL, .type = 1, .to = to};
    for (size_t len = LATCH_MESSAGES_TO_MAX; len <= LATCH_MESSAGES_TO_MAX + 1; len++) {
        memset(to, 'a', len);
        memcpy(to + len - 12, "@example.com", 12);
        to[len] = '\0';
        assert_int_equal(latch_messages_check(&m, NULL),
                         len <= LATCH_MESSAGES_TO_MAX ? LATCH_OK : LATCH_FAIL);
    }
}

static void test_check_vars(void **state)
{
    (void)state;
    struct latch_messages_var vars[LATCH_MESSAGES_VARS_MAX + 1];
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        vars[i] = (struct latch_messages_var){.name = "code", .value = "123456"};
    struct latch_messages_send m = {.channel = LATCH_MESSAGES_EMAIL,
                                    .type = LATCH_MESSAGES_TEMPLATE_SIGN_IN,
                                    .to = "ada@example.com",
                                    .vars = vars,
                                    .nvars = LATCH_MESSAGES_VARS_MAX};
    struct latch_error err = {0};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_OK);
    m.nvars = LATCH_MESSAGES_VARS_MAX + 1;
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
    assert_int_equal(err.status, 400);

    m.nvars = 2;
    vars[1] = (struct latch_messages_var){.name = "application.name", .value = "Line one\nTwo"};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_OK);
    vars[1] = (struct latch_messages_var){.name = "a b", .value = "x"};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
    vars[1] = (struct latch_messages_var){.name = "{{code}}", .value = "x"};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
    vars[1] = (struct latch_messages_var){.name = "", .value = "x"};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
    vars[1] = (struct latch_messages_var){.name = "link", .value = NULL};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
    vars[1] = (struct latch_messages_var){.name = "link", .value = "a\x01"};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);

    static char long_value[LATCH_MESSAGES_VAR_VALUE_MAX + 2];
    memset(long_value, 'x', LATCH_MESSAGES_VAR_VALUE_MAX);
    long_value[LATCH_MESSAGES_VAR_VALUE_MAX] = '\0';
    vars[1] = (struct latch_messages_var){.name = "link", .value = long_value};
    assert_int_equal(latch_messages_check(&m, &err), LATCH_OK);
    long_value[LATCH_MESSAGES_VAR_VALUE_MAX] = 'x';
    long_value[LATCH_MESSAGES_VAR_VALUE_MAX + 1] = '\0';
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);

    m.nvars = 1;
    m.vars = NULL;
    assert_int_equal(latch_messages_check(&m, &err), LATCH_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_template_names),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_check_vars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
