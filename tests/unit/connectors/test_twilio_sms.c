/*
 * connectors/twilio-sms/: the Twilio SMS connector, loaded from the build's twilio-sms.so with
 * dlopen (as latchd loads it) and driven through send_message and validate_config with the
 * shared fake host (fake_host.h), whose render_template fills {{name}} as the real host's does.
 *
 * Covered: the descriptor (ABI 1.1, kind SMS, Logto's config keys, the confidential authToken,
 * English and Spanish labels, a default template set that passes validation); the exact request
 * (POST to .../Accounts/<AccountSid>/Messages.json, HTTP Basic AccountSid:AuthToken, the form To
 * with its '+', MessagingServiceSid, Body, RiskCheck); the template picked for each type and the
 * Generic fallback; variable filling without HTML escaping; Twilio's error answers mapped to a
 * status and a log line (401 a configuration error), never logging the token or the code;
 * recipients and configurations refused before any request; validate_config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <latch/connector.h>

#include "fake_host.h"

#ifndef LATCH_TEST_TWILIO_SMS_SO
#error "the build passes LATCH_TEST_TWILIO_SMS_SO, the path of twilio-sms.so"
#endif

#define ACCOUNT_SID  "AC0123456789abcdef0123456789abcdef"
#define AUTH_TOKEN   "f00dfacef00dfacef00dfacef00dface"
#define SERVICE_SID  "MGfedcba9876543210fedcba9876543210"
#define MESSAGES_URL "https://api.twilio.com/2010-04-01/Accounts/" ACCOUNT_SID "/Messages.json"
#define CODE         "482913"
#define PHONE        "15551234567"

#define TEMPLATES                                                                                  \
    "[{\"usageType\": \"SignIn\", \"content\": \"Sign-in code {{code}}\"},"                        \
    " {\"usageType\": \"Register\", \"content\": \"Sign-up code {{ code }}\"},"                    \
    " {\"usageType\": \"ForgotPassword\", \"content\": \"Reset code {{code}}\"},"                  \
    " {\"usageType\": \"OrganizationInvitation\", \"content\": \"{{inviter}} invites you to "      \
    "{{organization}}: {{link}}\"},"                                                               \
    " {\"usageType\": \"Generic\", \"content\": \"Code {{code}} ({{locale}}){{nope}}\"}]"

/* A Twilio 201 answer (trimmed). */
#define QUEUED                                                                                     \
    "{\"account_sid\": \"" ACCOUNT_SID "\", \"sid\": \"SM0123456789abcdef0123456789abcdef\", "     \
    "\"status\": \"queued\", \"to\": \"+" PHONE "\", \"error_code\": null}"

static int fresh(void **state)
{
    fake_host_clear();
    return fake_host_load(LATCH_TEST_TWILIO_SMS_SO);
}

static int cleanup(void **state)
{
    fake_host_unload();
    fake_host_clear();
    return 0;
}

static void configure(void)
{
    config("accountSID", ACCOUNT_SID);
    config("authToken", AUTH_TOKEN);
    config("fromMessagingServiceSID", SERVICE_SID);
    config("templates", TEMPLATES);
}

static const struct latch_connector_param code_vars[] = {
    {"code", CODE},
    {"locale", "es"},
};

static struct latch_connector_message message(const char *type_name, uint32_t type)
{
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = type;
    msg.type_name = type_name;
    msg.to = PHONE;
    msg.vars = code_vars;
    msg.nvars = 2;
    return msg;
}

static int send(const struct latch_connector_message *msg)
{
    return D->ops->send_message(&F, &fake_host, msg);
}

/* Sends a message of type_name and returns the Body Twilio got. */
static const char *body_for(const char *type_name, uint32_t type)
{
    struct latch_connector_message msg = message(type_name, type);
    const struct recorded *r;

    new_flow();
    route("POST", MESSAGES_URL, 201, QUEUED);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    r = request_to("POST", MESSAGES_URL);
    assert_non_null(r);
    return form_value(r->body, "Body");
}

/* What no log line may hold: the code, the token, the Basic credentials
 * (base64 of ACCOUNT_SID ":" AUTH_TOKEN). */
static const char *const secrets[] = {
    CODE, AUTH_TOKEN,
    "QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjpmMDBkZmFjZWYwMGRmYWNlZjAwZGZhY2VmMDBkZmFjZQ==",
    NULL};

static void assert_logs_clean(void)
{
    assert_logs_lack(secrets);
}

static int validate(const char **why)
{
    *why = NULL;
    return D->ops->validate_config(&F, &fake_host, why);
}

static void test_descriptor(void **state)
{
    static const char *const keys[] = {"accountSID", "authToken", "fromMessagingServiceSID",
                                       "disableRiskCheck", "templates"};
    const char *why;

    assert_int_equal(D->magic, LATCH_CONNECTOR_MAGIC);
    assert_int_equal(D->abi_major, 1);
    assert_int_equal(D->abi_minor, 1);
    assert_int_equal(D->kind, LATCH_CONNECTOR_SMS);
    assert_string_equal(D->id, "twilio-short-message-service");
    assert_string_equal(D->target, "twilio-sms");
    assert_string_equal(D->name[0].text, "Twilio SMS Service");
    assert_string_equal(D->name[1].lang, "es");
    assert_true(strncmp(D->logo, "<svg", 4) == 0);
    assert_non_null(strstr(D->readme, "Messages.json"));
    assert_null(D->ops->get_authorization_uri);
    assert_null(D->ops->get_user_info);
    assert_non_null(D->ops->send_message);
    assert_non_null(D->ops->validate_config);
    assert_int_equal(D->nfields, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < D->nfields; i++) {
        const struct latch_connector_field *f = &D->fields[i];
        assert_string_equal(f->key, keys[i]);
        assert_int_equal(f->required, strcmp(keys[i], "disableRiskCheck") != 0);
        assert_int_equal(f->confidential, strcmp(keys[i], "authToken") == 0);
        assert_string_equal(f->label[0].lang, "en");
        assert_string_equal(f->label[1].lang, "es");
    }
    assert_int_equal(D->fields[3].type, LATCH_CONNECTOR_FIELD_SWITCH);
    assert_string_equal(D->fields[3].default_value, "false");
    assert_int_equal(D->fields[4].type, LATCH_CONNECTOR_FIELD_JSON);

    /* The default templates (Logto's nine types) pass the connector's own checks. */
    config("accountSID", ACCOUNT_SID);
    config("authToken", AUTH_TOKEN);
    config("fromMessagingServiceSID", SERVICE_SID);
    if (validate(&why) != LATCH_CONNECTOR_OK)
        fail_msg("the default templates are refused: %s", why);
    assert_string_equal(fake_json_get(&F, fake_config_get(&F, "templates"), "8.usageType"),
                        "BindMfa");
    /* So do the example config's templates. */
    char *example = fake_dup(&F, strchr(strstr(D->config_template, "\"templates\": "), '['));
    strrchr(example, ']')[1] = '\0';
    config("templates", example);
    assert_string_equal(fake_json_get(&F, D->config_template, "fromMessagingServiceSID"),
                        "MG<32 hexadecimal digits>");
    if (validate(&why) != LATCH_CONNECTOR_OK)
        fail_msg("the example templates are refused: %s", why);
}

static void test_request(void **state)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    const struct recorded *r;
    const char *basic;

    configure();
    route("POST", MESSAGES_URL, 201, QUEUED);
    msg.ip = "203.0.113.7";
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    assert_int_equal(F.nrequests, 1);
    r = &F.requests[0];
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->url, MESSAGES_URL);
    basic = fake_format(
        &F, "Basic %s",
        fake_base64(&F, ACCOUNT_SID ":" AUTH_TOKEN, strlen(ACCOUNT_SID ":" AUTH_TOKEN)));
    assert_int_equal(r->nheaders, 3);
    assert_string_equal(header(r, "Authorization"), basic);
    assert_string_equal(header(r, "Content-Type"), "application/x-www-form-urlencoded");
    assert_string_equal(header(r, "Accept"), "application/json");
    assert_true(r->timeout_ms > 0 && r->timeout_ms <= 10000);
    /* Logto's parameters in its order, form-encoded by the host. */
    assert_string_equal(r->body, "To=%2B" PHONE "&MessagingServiceSid=" SERVICE_SID
                                 "&Body=Sign-in%20code%20" CODE "&RiskCheck=enable");
    assert_string_equal(form_value(r->body, "To"), "+" PHONE);
    assert_string_equal(form_value(r->body, "Body"), "Sign-in code " CODE);
    /* Rendered by the host, without HTML escaping. */
    assert_int_equal(F.nrender, 1);
    assert_int_equal(F.last_render_flags, 0);
    assert_int_equal(F.last_log_level, LATCH_CONNECTOR_LOG_INFO);
    assert_non_null(strstr(F.last_log, "sid SM0123456789abcdef0123456789abcdef, status queued"));
    assert_logs_clean();

    /* A number already with its '+' keeps one; the risk check can be turned off. */
    new_flow();
    config("disableRiskCheck", "true");
    route("POST", MESSAGES_URL, 201, QUEUED);
    msg.to = "+447700900123";
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    assert_string_equal(form_value(F.requests[0].body, "To"), "+447700900123");
    assert_string_equal(form_value(F.requests[0].body, "RiskCheck"), "disable");
}

static void test_templates(void **state)
{
    static const struct latch_connector_param invite[] = {
        {"link", "https://app.example/i?a=1&b=<2>"},
        {"inviter", "Ada & \"Bob\""},
        {"organization", "Acme"},
        {"code", CODE},
    };
    struct latch_connector_message msg;
    const struct recorded *r;

    configure();
    assert_string_equal(body_for("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN), "Sign-in code " CODE);
    /* Spaces inside the braces. */
    assert_string_equal(body_for("Register", LATCH_CONNECTOR_TEMPLATE_REGISTER),
                        "Sign-up code " CODE);
    assert_string_equal(body_for("ForgotPassword", LATCH_CONNECTOR_TEMPLATE_FORGOT_PASSWORD),
                        "Reset code " CODE);
    /* Types without a template of their own use Generic's; an unknown name becomes "". */
    assert_string_equal(body_for("Generic", LATCH_CONNECTOR_TEMPLATE_GENERIC),
                        "Code " CODE " (es)");
    assert_string_equal(body_for("BindMfa", LATCH_CONNECTOR_TEMPLATE_BIND_MFA),
                        "Code " CODE " (es)");
    assert_string_equal(
        body_for("UserPermissionValidation", LATCH_CONNECTOR_TEMPLATE_USER_PERMISSION_VALIDATION),
        "Code " CODE " (es)");
    /* A type name a later minor may add: Generic too. */
    assert_string_equal(body_for("SomethingNew", 99), "Code " CODE " (es)");

    /* The invitation's own template, its values as they are (an SMS is not HTML). */
    new_flow();
    route("POST", MESSAGES_URL, 201, QUEUED);
    msg = message("OrganizationInvitation", LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION);
    msg.vars = invite;
    msg.nvars = 4;
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    r = request_to("POST", MESSAGES_URL);
    assert_string_equal(form_value(r->body, "Body"),
                        "Ada & \"Bob\" invites you to Acme: https://app.example/i?a=1&b=<2>");
    assert_int_equal(F.last_render_flags, 0);

    /* The locale comes from the message when the variables lack it. */
    new_flow();
    route("POST", MESSAGES_URL, 201, QUEUED);
    msg = message("Generic", LATCH_CONNECTOR_TEMPLATE_GENERIC);
    msg.nvars = 1; /* code only */
    msg.locale = "pt-BR";
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    assert_string_equal(form_value(F.requests[0].body, "Body"), "Code " CODE " (pt-BR)");
    assert_logs_clean();
}

/* One Twilio error answer: its status and a log line mentioning needle. */
static void expect_failure(int status, const char *body, int want, const char *needle)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    expect_send_failure(&msg, MESSAGES_URL, status, body, want, needle, secrets);
}

static void test_errors(void **state)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);

    configure();
    /* Twilio's answer to a wrong Auth Token. */
    expect_failure(401,
                   "{\"code\": 20003, \"message\": \"Authenticate\", \"more_info\": "
                   "\"https://www.twilio.com/docs/errors/20003\", \"status\": 401}",
                   LATCH_CONNECTOR_ERR_INVALID_CONFIG,
                   "Twilio refused the message: HTTP 401 (check accountSID and authToken), "
                   "error 20003: Authenticate");
    expect_failure(404,
                   "{\"code\": 20404, \"message\": \"The requested resource was not found\", "
                   "\"status\": 404}",
                   LATCH_CONNECTOR_ERR_INVALID_CONFIG, "HTTP 404 (check accountSID), error 20404");
    expect_failure(403, "{\"code\": 20008, \"message\": \"Forbidden\", \"status\": 403}",
                   LATCH_CONNECTOR_ERR_INVALID_CONFIG, "error 20008: Forbidden");
    expect_failure(400,
                   "{\"code\": 21211, \"message\": \"Invalid 'To' Phone Number: +155512XXXXX\", "
                   "\"status\": 400}",
                   LATCH_CONNECTOR_ERR_GENERAL, "HTTP 400, error 21211: Invalid 'To' Phone Number");
    expect_failure(429, "{\"code\": 20429, \"message\": \"Too Many Requests\", \"status\": 429}",
                   LATCH_CONNECTOR_ERR_GENERAL, "rate limited");
    expect_failure(500, "Internal Server Error", LATCH_CONNECTOR_ERR_GENERAL, "HTTP 500");
    expect_failure(301, "", LATCH_CONNECTOR_ERR_GENERAL, "redirect");
    /* A message repeating what was sent is not logged. */
    expect_failure(400, "{\"code\": 21617, \"message\": \"Body 'Sign-in code " CODE "' too long\"}",
                   LATCH_CONNECTOR_ERR_GENERAL, "error 21617: (not logged");

    new_flow();
    route_fail("POST", MESSAGES_URL, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_non_null(strstr(F.last_log, "Twilio did not answer in time"));
    new_flow();
    route_fail("POST", MESSAGES_URL, LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    assert_logs_clean();
}

static void test_refused_before_sending(void **state)
{
    static const char *const bad_numbers[] = {"",
                                              "+",
                                              "5",
                                              "0155512345",
                                              "1555-123-4567",
                                              "1555123456789012",
                                              "ada@example.com",
                                              "++15551234567"};
    struct latch_connector_message msg;
    struct latch_connector_host old = fake_host;

    configure();
    for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
        msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
        msg.to = bad_numbers[i];
        assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    }
    assert_non_null(strstr(F.last_log, "not a phone number"));
    assert_int_equal(send(NULL), LATCH_CONNECTOR_ERR_GENERAL);
    msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    old.struct_size = offsetof(struct latch_connector_host, render_template);
    assert_int_equal(D->ops->send_message(&F, &old, &msg), LATCH_CONNECTOR_ERR_GENERAL);

    /* A configuration that fails the checks: refused with the reason, nothing sent. */
    config("accountSID", "AC123");
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(F.last_log, "accountSID must be a Twilio Account SID"));
    config("accountSID", ACCOUNT_SID);
    config("templates", "[{\"usageType\": \"SignIn\", \"content\": \"x {{code}}\"}]");
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(F.last_log, "templates lacks the Register template"));
    assert_int_equal(F.nrequests, 0);
    assert_int_equal(F.nrender, 0);
}

/* The four required templates, SignIn's content as given. */
static const char *with_sign_in(const char *content)
{
    return fake_format(&F,
                       "[{\"usageType\": \"SignIn\", \"content\": \"%s\"}, {\"usageType\": "
                       "\"Register\", \"content\": \"a\"}, {\"usageType\": \"ForgotPassword\", "
                       "\"content\": \"a\"}, {\"usageType\": \"Generic\", \"content\": \"a\"}]",
                       content);
}

static void test_validate_config(void **state)
{
    static const struct {
        const char *key, *value, *needle;
    } bad[] = {
        {"accountSID", NULL, "accountSID must be a Twilio Account SID"},
        {"accountSID", "AC0123456789abcdef0123456789abcde", "accountSID must"},
        {"accountSID", "AC0123456789abcdef0123456789abcdef0", "accountSID must"},
        {"accountSID", "AB0123456789abcdef0123456789abcdef", "accountSID must"},
        {"accountSID", "AC0123456789abcdef0123456789abcdeg", "accountSID must"},
        {"accountSID", "AC0123456789abcdef/123456789abcdef", "accountSID must"},
        {"authToken", "", "authToken is required"},
        {"authToken", NULL, "authToken is required"},
        {"authToken", "abc\ndef", "authToken must be at most 256 characters"},
        {"fromMessagingServiceSID", "+15550100", "fromMessagingServiceSID must be"},
        {"fromMessagingServiceSID", "PN0123456789abcdef0123456789abcdef",
         "fromMessagingServiceSID must be"},
        {"disableRiskCheck", "yes", "disableRiskCheck must be true or false"},
        {"templates", NULL, "templates is required"},
        {"templates", "{\"usageType\": \"SignIn\"}", "templates must be a JSON array"},
        {"templates", "\"SignIn\"", "templates must be a JSON array"},
        {"templates", "[", "templates is not valid JSON"},
        {"templates", "[] x", "templates is not valid JSON"},
        {"templates", "[], \"b\": 1", "templates must be a JSON array"},
        {"templates", "[]", "templates lacks the Register template"},
        {"templates", "[\"SignIn\"]", "templates[0] must be an object"},
        {"templates", "[null]", "templates[0] must be an object"},
        {"templates", "[[]]", "templates[0] must be an object"},
        {"templates", "[{\"usageType\": \"SignIn\", \"content\": \"a\"}, 5]",
         "templates[1] must be an object"},
        {"templates", "[{\"usageType\": 1, \"content\": \"a\"}]",
         "templates[0].usageType must be a string"},
        {"templates", "[{\"usageType\": \"SignIn\", \"content\": null}]",
         "templates[0].content must be a string"},
        {"templates", "[{\"usageType\": \"SignIn\"}]", "templates[0] lacks content"},
        {"templates", "[{\"content\": \"a\"}]", "templates[0] lacks usageType"},
        {"templates", "[{\"usageType\": \"Signin\", \"content\": \"a\"}]",
         "templates[0].usageType \"Signin\" is not one of"},
        {"templates", "[{\"usageType\": \"Test\", \"content\": \"a\"}]", "is not one of"},
        {"templates",
         "[{\"usageType\": \"SignIn\", \"content\": \"a\"}, {\"usageType\": \"SignIn\", "
         "\"content\": \"b\"}]",
         "two entries for usageType SignIn"},
        {"templates", "[{\"usageType\": \"SignIn\", \"content\": \"\"}]",
         "templates[0].content must have 1 to 1600 characters"},
        {"templates", "[{\"usageType\": \"SignIn\", \"content\": \"a\", \"usageType\": \"b\"}]",
         "templates is not valid JSON"},
        {"templates",
         "[{\"usageType\": \"SignIn\", \"content\": \"a\"}, {\"usageType\": \"Register\", "
         "\"content\": \"a\"}, {\"usageType\": \"Generic\", \"content\": \"a\"}]",
         "templates lacks the ForgotPassword template"},
    };
    const char *why;

    configure();
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    assert_null(why);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        configure();
        config("disableRiskCheck", NULL);
        config(bad[i].key, bad[i].value);
        if (validate(&why) != LATCH_CONNECTOR_ERR_INVALID_CONFIG)
            fail_msg("%s=%s accepted", bad[i].key, bad[i].value ? bad[i].value : "(unset)");
        assert_non_null(why);
        if (strstr(why, bad[i].needle) == NULL)
            fail_msg("%s=%s: why \"%s\" lacks \"%s\"", bad[i].key, bad[i].value, why,
                     bad[i].needle);
        /* No reason quotes the token. */
        assert_null(strstr(why, AUTH_TOKEN));
    }

    /* Upper-case hex SIDs, members Logto's guard ignores, strings with commas and brackets. */
    configure();
    config("accountSID", "AC0123456789ABCDEF0123456789ABCDEF");
    config("disableRiskCheck", "true");
    config("templates",
           " [ {\"usageType\": \"SignIn\", \"content\": \"a, [b] {c} \\\"d\\\" {{code}}\", "
           "\"extra\": {\"x\": [1, 2]}},\n{\"usageType\": \"Register\", \"content\": \"]\"}, "
           "{\"usageType\": \"ForgotPassword\", \"content\": \"r\"}, {\"usageType\": "
           "\"Generic\", \"content\": \"g\"}, {\"usageType\": \"BindMfa\", \"content\": "
           "\"\\u00e9\"} ] ");
    if (validate(&why) != LATCH_CONNECTOR_OK)
        fail_msg("refused: %s", why);

    /* Content length in characters, as Twilio counts it: 1600 two-byte characters pass. */
    char *content = fake_alloc(&F, 1601 * 2 + 1);
    for (size_t i = 0; i < 1600; i++)
        memcpy(content + 2 * i, "\xc3\xa9", 2);
    config("templates", with_sign_in(content));
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    memcpy(content + 3200, "\xc3\xa9", 2);
    config("templates", with_sign_in(content));
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(why, "1 to 1600 characters"));

    /* At most 16 entries. */
    char *many = fake_dup(&F, "[");
    for (int i = 0; i < 17; i++)
        many = fake_format(&F, "%s%s{\"usageType\": \"Generic\", \"content\": \"a\"}", many,
                           i > 0 ? ", " : "");
    config("templates", fake_format(&F, "%s]", many));
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(why, "templates has 17 entries; at most 16"));
    assert_int_equal(F.nrequests, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_request, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_templates, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_errors, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_refused_before_sending, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_validate_config, fresh, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
