/*
 * connectors/http-email/ and connectors/http-sms/: Logto's HTTP email and HTTP SMS connectors,
 * one source built twice. Each .so is loaded with dlopen (as latchd loads it) and driven through
 * send_message and validate_config with the shared fake host (fake_host.h); every test runs
 * against both builds.
 *
 * Covered: the descriptors (ABI 1.1, kind, ids, schema with English and Spanish labels, the
 * confidential authorization); the exact request (POST to the endpoint, Content-Type, the
 * Authorization header only when configured, the JSON body {to, type, payload, ip?} with the
 * variables as strings, the locale added, a duplicate name sent once, JSON escaping); the answers
 * (2xx sent; 401/403/404 a configuration error; 3xx, 4xx, 5xx, timeouts and transport failures
 * each with its status and log line, never the code or the authorization value); messages and
 * hosts the connector must refuse; validate_config.
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

#if !defined(LATCH_TEST_HTTP_EMAIL_SO) || !defined(LATCH_TEST_HTTP_SMS_SO)
#error "the build passes LATCH_TEST_HTTP_EMAIL_SO and LATCH_TEST_HTTP_SMS_SO"
#endif

#define ENDPOINT      "https://hooks.example.com/latch/send?tenant=acme"
#define AUTHORIZATION "Bearer s3cr3t-t0ken"
#define CODE          "482913"

/* Which build the group runs against. */
struct build {
    const char *so;
    const char *id;
    uint32_t kind;
    const char *to; /* a recipient of the kind */
    const char *name_en;
    const char *name_es;
};

static const struct build email = {LATCH_TEST_HTTP_EMAIL_SO, "http-email", LATCH_CONNECTOR_EMAIL,
                                   "ada@example.com",        "HTTP Email", "Correo por HTTP"};
static const struct build sms = {LATCH_TEST_HTTP_SMS_SO, "http-sms", LATCH_CONNECTOR_SMS,
                                 "15551234567",          "HTTP SMS", "SMS por HTTP"};
static const struct build *B;

static int group_email(void **state)
{
    B = &email;
    return 0;
}

static int group_sms(void **state)
{
    B = &sms;
    return 0;
}

static int fresh(void **state)
{
    fake_host_clear();
    return fake_host_load(B->so);
}

static int cleanup(void **state)
{
    fake_host_unload();
    fake_host_clear();
    return 0;
}

static const struct latch_connector_param sign_in_vars[] = {
    {"code", CODE},
    {"locale", "es"},
};

static int send(const struct latch_connector_message *msg)
{
    return D->ops->send_message(&F, &fake_host, msg);
}

static struct latch_connector_message message(const char *type_name, uint32_t type)
{
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = type;
    msg.type_name = type_name;
    msg.to = B->to;
    msg.vars = sign_in_vars;
    msg.nvars = 2;
    return msg;
}

static void configure(void)
{
    config("endpoint", ENDPOINT);
    config("authorization", AUTHORIZATION);
}

/* What no log line may hold. */
static const char *const secrets[] = {CODE, "s3cr3t", NULL};

static void assert_logs_clean(void)
{
    assert_logs_lack(secrets);
}

static void test_descriptor(void **state)
{
    const struct latch_connector_field *f = D->fields;

    assert_int_equal(D->magic, LATCH_CONNECTOR_MAGIC);
    assert_int_equal(D->abi_major, 1);
    assert_int_equal(D->abi_minor, 1); /* send_message is 1.1 */
    assert_int_equal(D->kind, B->kind);
    assert_int_equal(D->flags, 0);
    assert_string_equal(D->id, B->id);
    assert_string_equal(D->target, B->id);
    assert_string_equal(D->name[0].lang, "en");
    assert_string_equal(D->name[0].text, B->name_en);
    assert_string_equal(D->name[1].lang, "es");
    assert_string_equal(D->name[1].text, B->name_es);
    assert_string_equal(D->description[1].lang, "es");
    assert_non_null(D->logo);
    assert_true(strncmp(D->logo, "<svg", 4) == 0);
    assert_non_null(D->readme);
    assert_non_null(strstr(D->readme, "\"payload\""));
    assert_non_null(strstr(D->readme, B->id));
    assert_null(D->ops->get_authorization_uri);
    assert_null(D->ops->get_user_info);
    assert_non_null(D->ops->send_message);
    assert_non_null(D->ops->validate_config);

    assert_int_equal(D->nfields, 2);
    assert_string_equal(f[0].key, "endpoint");
    assert_int_equal(f[0].type, LATCH_CONNECTOR_FIELD_TEXT);
    assert_true(f[0].required);
    assert_false(f[0].confidential);
    assert_string_equal(f[1].key, "authorization");
    assert_false(f[1].required);
    assert_true(f[1].confidential);
    for (size_t i = 0; i < D->nfields; i++) {
        assert_int_equal(f[i].struct_size, sizeof(struct latch_connector_field));
        assert_string_equal(f[i].label[0].lang, "en");
        assert_string_equal(f[i].label[1].lang, "es");
        assert_string_equal(f[i].description[1].lang, "es");
    }
    /* The example config is JSON naming both keys. */
    assert_non_null(fake_json_get(&F, D->config_template, "endpoint"));
    assert_string_equal(fake_json_get(&F, D->config_template, "authorization"),
                        "Bearer <your-token>");
}

static void test_request(void **state)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    const struct recorded *r;

    configure();
    route("POST", ENDPOINT, 200, "{\"message\": \"queued\"}");
    msg.ip = "203.0.113.7";
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    assert_int_equal(F.nrequests, 1);
    r = request_to("POST", ENDPOINT);
    assert_non_null(r);
    assert_int_equal(r->nheaders, 2);
    assert_string_equal(header(r, "Content-Type"), "application/json");
    assert_string_equal(header(r, "Authorization"), AUTHORIZATION);
    assert_true(r->timeout_ms > 0 && r->timeout_ms <= 10000);
    assert_string_equal(r->body, fake_format(&F,
                                             "{\"to\": \"%s\", \"type\": \"SignIn\", \"payload\": "
                                             "{\"code\": \"" CODE "\", \"locale\": \"es\"}, "
                                             "\"ip\": \"203.0.113.7\"}",
                                             B->to));
    assert_int_equal(r->body_len, strlen(r->body));
    assert_string_equal(fake_json_get(&F, r->body, "payload.code"), CODE);
    assert_int_equal(F.last_log_level, LATCH_CONNECTOR_LOG_INFO);
    assert_logs_clean();
    /* Sent as is: the connector renders nothing. */
    assert_int_equal(F.nrender, 0);
}

static void test_request_variants(void **state)
{
    static const struct latch_connector_param vars[] = {
        {"link", "https://app.example/invite?x=1&y=\"2\""},
        {"inviter", "Ada \"the\" Countess\n"},
        {"link", "https://evil.example/"}, /* a second value of a name: the first wins */
        {"organization", "Acme"},
    };
    struct latch_connector_message msg =
        message("OrganizationInvitation", LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION);
    const struct recorded *r;

    /* No authorization configured: no Authorization header at all (Logto sends none). */
    config("endpoint", ENDPOINT);
    route("POST", ENDPOINT, 204, "");
    msg.vars = vars;
    msg.nvars = 4;
    msg.locale = "en-US"; /* not among the variables: added as payload.locale */
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    r = request_to("POST", ENDPOINT);
    assert_non_null(r);
    assert_int_equal(r->nheaders, 1);
    assert_null(header(r, "Authorization"));
    assert_string_equal(
        r->body,
        fake_format(&F,
                    "{\"to\": \"%s\", \"type\": \"OrganizationInvitation\", \"payload\": "
                    "{\"link\": \"https://app.example/invite?x=1&y=\\\"2\\\"\", \"inviter\": "
                    "\"Ada \\\"the\\\" Countess\\u000a\", \"organization\": \"Acme\", "
                    "\"locale\": \"en-US\"}}",
                    B->to));
    assert_string_equal(fake_json_get(&F, r->body, "payload.inviter"), "Ada \"the\" Countess\n");

    /* An empty authorization is none; a Generic test message with no variables. */
    new_flow();
    config("authorization", "");
    route("POST", ENDPOINT, 202, NULL);
    msg = message("Generic", LATCH_CONNECTOR_TEMPLATE_GENERIC);
    msg.vars = NULL;
    msg.nvars = 0;
    assert_int_equal(send(&msg), LATCH_CONNECTOR_OK);
    r = request_to("POST", ENDPOINT);
    assert_null(header(r, "Authorization"));
    assert_string_equal(r->body, fake_format(&F,
                                             "{\"to\": \"%s\", \"type\": \"Generic\", "
                                             "\"payload\": {}}",
                                             B->to));
}

/* One failing answer: its status, and a log line mentioning needle. */
static void expect_failure(int status, const char *body, int want, const char *needle)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    expect_send_failure(&msg, ENDPOINT, status, body, want, needle, secrets);
}

static void test_answers(void **state)
{
    struct latch_connector_message msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);

    configure();
    expect_failure(500, "{\"message\": \"mail quota exceeded\"}", LATCH_CONNECTOR_ERR_GENERAL,
                   "answered HTTP 500: mail quota exceeded");
    expect_failure(400, "{\"error\": {\"message\": \"bad recipient\"}}",
                   LATCH_CONNECTOR_ERR_GENERAL, "HTTP 400: bad recipient");
    expect_failure(422, "{\"error\": \"unprocessable\"}", LATCH_CONNECTOR_ERR_GENERAL,
                   "HTTP 422: unprocessable");
    expect_failure(503, "<html>down</html>", LATCH_CONNECTOR_ERR_GENERAL, "HTTP 503");
    expect_failure(401, "{\"message\": \"bad token\"}", LATCH_CONNECTOR_ERR_INVALID_CONFIG,
                   "HTTP 401 (check the authorization field): bad token");
    expect_failure(403, "", LATCH_CONNECTOR_ERR_INVALID_CONFIG, "authorization");
    expect_failure(404, "", LATCH_CONNECTOR_ERR_INVALID_CONFIG, "check the endpoint URL");
    expect_failure(302, "", LATCH_CONNECTOR_ERR_GENERAL, "redirects are not followed");
    expect_failure(199, "", LATCH_CONNECTOR_ERR_GENERAL, "HTTP 199");
    /* An endpoint that echoes the request: its message is not logged, since it holds the code. */
    expect_failure(400, "{\"message\": \"cannot deliver code " CODE "\"}",
                   LATCH_CONNECTOR_ERR_GENERAL, "not logged");
    /* One log line, whatever the endpoint wrote. */
    expect_failure(500, "{\"message\": \"line one\\nline two\\u001b[31m\"}",
                   LATCH_CONNECTOR_ERR_GENERAL, "HTTP 500: line one?line two?[31m");
    /* A long message is cut. */
    char long_message[600];
    memset(long_message, 'x', sizeof(long_message));
    long_message[sizeof(long_message) - 1] = '\0';
    expect_failure(500, fake_format(&F, "{\"message\": \"%s\"}", long_message),
                   LATCH_CONNECTOR_ERR_GENERAL, "xxx...");
    assert_true(strlen(F.last_log) < 300);

    /* No answer at all. */
    new_flow();
    route_fail("POST", ENDPOINT, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_non_null(strstr(F.last_log, "did not answer in time"));
    new_flow();
    route_fail("POST", ENDPOINT, LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    assert_non_null(strstr(F.last_log, "did not answer"));
    assert_logs_clean();
}

static void test_refused_messages(void **state)
{
    struct latch_connector_param many[33];
    struct latch_connector_message msg;
    struct latch_connector_host old = fake_host;

    configure();
    assert_int_equal(send(NULL), LATCH_CONNECTOR_ERR_GENERAL);
    msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    msg.to = "";
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    msg = message(NULL, LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    /* More variables than the ABI allows. */
    for (size_t i = 0; i < 33; i++)
        many[i] = (struct latch_connector_param){fake_format(&F, "v%zu", i), "x"};
    msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    msg.vars = many;
    msg.nvars = 33;
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    /* A nameless variable. */
    many[3].name = NULL;
    msg.nvars = 5;
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    /* A message struct that ends before ip (older than 1.1). */
    msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    msg.struct_size = offsetof(struct latch_connector_message, nvars);
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_GENERAL);
    /* A host whose table ends before render_template. */
    msg = message("SignIn", LATCH_CONNECTOR_TEMPLATE_SIGN_IN);
    old.struct_size = offsetof(struct latch_connector_host, render_template);
    assert_int_equal(D->ops->send_message(&F, &old, &msg), LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(F.nrequests, 0);

    /* A configuration that fails the checks is refused before any request. */
    config("endpoint", "http://hooks.example.com/send");
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(F.last_log, "endpoint must be an https URL"));
    config("endpoint", ENDPOINT);
    config("authorization", "Bearer x\r\nX-Injected: 1");
    assert_int_equal(send(&msg), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(F.last_log, "authorization must not contain line breaks"));
    assert_null(strstr(F.last_log, "Injected"));
    assert_int_equal(F.nrequests, 0);
}

static int validate(const char **why)
{
    *why = NULL;
    return D->ops->validate_config(&F, &fake_host, why);
}

static void test_validate_config(void **state)
{
    static const struct {
        const char *endpoint, *needle;
    } bad[] = {
        {NULL, "endpoint is required"},
        {"", "endpoint is required"},
        {"http://hooks.example.com/send", "endpoint must be an https URL"},
        {"hooks.example.com/send", "endpoint must be an https URL"},
        {"HTTPS://hooks.example.com/", "endpoint must be an https URL"},
        {"https://", "endpoint must name a host"},
        {"https:///send", "endpoint must name a host"},
        {"https://:443/send", "endpoint must name a host"},
        {"https://user:pw@hooks.example.com/send", "user name or password"},
        {"https://hooks.example.com/send#x", "fragment"},
        {"https://hooks.example.com/a b", "spaces or control characters"},
        {"https://hooks.example.com/\n", "spaces or control characters"},
    };
    static const char *const good[] = {
        ENDPOINT,
        "https://hooks.example.com",
        "https://hooks.example.com:8443/send",
        "https://[2001:db8::1]/send",
        "https://hooks.example.com/p?redirect=a@b",
    };
    char long_url[2100];
    const char *why;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        config("endpoint", good[i]);
        if (validate(&why) != LATCH_CONNECTOR_OK)
            fail_msg("endpoint %s refused: %s", good[i], why);
        assert_null(why);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config("endpoint", bad[i].endpoint);
        assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
        assert_non_null(why);
        if (strstr(why, bad[i].needle) == NULL)
            fail_msg("endpoint %s: why \"%s\" lacks \"%s\"", bad[i].endpoint, why, bad[i].needle);
    }
    memset(long_url, 'a', sizeof(long_url));
    memcpy(long_url, "https://", 8);
    long_url[sizeof(long_url) - 1] = '\0';
    config("endpoint", long_url);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(why, "longer than 2048"));

    config("endpoint", ENDPOINT);
    config("authorization", AUTHORIZATION);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("authorization", "Basic dXNlcjpwdw==\n");
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(why, "authorization must not contain line breaks"));
    /* The reason never quotes the value. */
    assert_null(strstr(why, "dXNlcjpwdw"));
    char long_auth[4200];
    memset(long_auth, 'a', sizeof(long_auth));
    long_auth[sizeof(long_auth) - 1] = '\0';
    config("authorization", long_auth);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(strstr(why, "authorization is longer than 4096"));
    assert_int_equal(F.nrequests, 0);
}

#define TESTS                                                                                      \
    {                                                                                              \
        cmocka_unit_test_setup_teardown(test_descriptor, fresh, cleanup),                          \
            cmocka_unit_test_setup_teardown(test_request, fresh, cleanup),                         \
            cmocka_unit_test_setup_teardown(test_request_variants, fresh, cleanup),                \
            cmocka_unit_test_setup_teardown(test_answers, fresh, cleanup),                         \
            cmocka_unit_test_setup_teardown(test_refused_messages, fresh, cleanup),                \
            cmocka_unit_test_setup_teardown(test_validate_config, fresh, cleanup),                 \
    }

int main(void)
{
    const struct CMUnitTest email_tests[] = TESTS;
    const struct CMUnitTest sms_tests[] = TESTS;
    int failed = 0;

    failed += cmocka_run_group_tests_name("http-email", email_tests, group_email, NULL);
    failed += cmocka_run_group_tests_name("http-sms", sms_tests, group_sms, NULL);
    return failed;
}
