/*
 * connectors/smtp/: the SMTP email connector, loaded from the build's smtp.so with dlopen (as
 * latchd loads it) and driven through validate_config and send_message with the shared fake host
 * (fake_host.h): config in a table with the schema's defaults, json_get and json_members with
 * dotted paths on core/util's bounded JSON reader, render_template on core/util/template (the
 * real host's renderer), base64 and random bytes, and an smtp_send that records the request
 * instead of connecting. Checked: the descriptor (Logto's factory id and
 * keys, the confidential auth), Logto's config checks, nodemailer's TLS switches mapped onto the
 * three modes (no TLS only for localhost), the template choice (tenant's, the type's, Generic),
 * and the message as built: headers, RFC 2047 subjects, quoted-printable bodies that decode to
 * the filled-in template, HTML escaping of values, CRLF everywhere, no header injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include <latch/connector.h>

#include "fake_host.h"
#include "util/base64.h"

#ifndef LATCH_TEST_SMTP_SO
#error "the build passes LATCH_TEST_SMTP_SO, the path of smtp.so"
#endif

/* Loaded once for the group; each test starts with an empty fake host. */
static int setup(void **state)
{
    return fake_host_load(LATCH_TEST_SMTP_SO);
}

static int teardown(void **state)
{
    fake_host_unload();
    return 0;
}

static int fresh(void **state)
{
    fake_host_clear();
    return 0;
}

static int cleanup(void **state)
{
    fake_host_clear();
    return 0;
}

#define TEMPLATES                                                                                  \
    "[{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":\"Sign in: "            \
    "{{code}}\",\"content\":\"Your sign-in code is {{ code }}.\"},"                                \
    "{\"usageType\":\"Register\",\"contentType\":\"text/plain\",\"subject\":\"Register\","         \
    "\"content\":\"Register {{code}}\"},"                                                          \
    "{\"usageType\":\"ForgotPassword\",\"contentType\":\"text/html\",\"subject\":\"Reset\","       \
    "\"content\":\"<p>Code <b>{{code}}</b> <a href=\\\"{{link}}\\\">reset</a></p>\"},"             \
    "{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Generic\","           \
    "\"content\":\"Generic {{code}}\"}]"

static void good_config(void)
{
    config("host", "smtp.example.com");
    config("port", "587");
    config("auth", "{\"user\":\"mailer\",\"pass\":\"pa55\"}");
    config("fromEmail", "Example <noreply@example.com>");
    config("templates", TEMPLATES);
}

static const char *validate(void)
{
    const char *why = NULL;
    int rc = D->ops->validate_config(&F, &fake_host, &why);
    assert_true((rc == LATCH_CONNECTOR_OK) == (why == NULL));
    return why;
}

static int send_as(int type, const char *type_name, const char *to, const char *link)
{
    struct latch_connector_param vars[] = {{"code", "123456"}, {"link", link}, {"locale", "es"}};
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = (uint32_t)type;
    msg.type_name = type_name;
    msg.to = to;
    msg.vars = vars;
    msg.nvars = link != NULL ? 3 : 1;
    return D->ops->send_message(&F, &fake_host, &msg);
}

/* The value of header name in the sent message (unfolded), or NULL. */
static char *mail_header(const char *name)
{
    const char *data = F.smtp_req.data;
    const char *end = strstr(data, "\r\n\r\n");
    size_t n = strlen(name);
    for (const char *l = data; l != NULL && l < end; l = strstr(l, "\r\n") + 2) {
        if (strncmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 2;
            const char *e = v;
            /* a folded header continues on lines that start with a space */
            while ((e = strstr(e, "\r\n")) != NULL && e[2] == ' ')
                e += 2;
            return fake_format(&F, "%.*s", (int)(e - v), v);
        }
    }
    return NULL;
}

/* The body, quoted-printable decoded. */
static char *body(void)
{
    const char *p = strstr(F.smtp_req.data, "\r\n\r\n") + 4;
    char *out = fake_alloc(&F, strlen(p) + 1), *o = out;
    while (*p != '\0') {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 3;
        } else if (p[0] == '=') {
            char hex[3] = {p[1], p[2], '\0'};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Every line ends in CRLF, and none is longer than max characters (the 78 RFC 5322 §2.1.1
 * recommends for headers; quoted-printable lines are 76 at most). */
static void assert_lines(size_t max)
{
    const char *d = F.smtp_req.data;
    assert_int_equal(F.smtp_req.data_len, strlen(d));
    for (const char *l = d; *l != '\0';) {
        const char *e = strstr(l, "\r\n");
        assert_non_null(e);
        for (const char *c = l; c < e; c++)
            assert_true(*c != '\r' && *c != '\n');
        if ((size_t)(e - l) > max)
            fail_msg("line longer than %zu: %.*s", max, (int)(e - l), l);
        l = e + 2;
    }
}

/* ---- tests ---- */

static void test_descriptor(void **state)
{
    (void)state;
    assert_string_equal(D->id, "simple-mail-transfer-protocol");
    assert_string_equal(D->target, "smtp");
    assert_int_equal(D->kind, LATCH_CONNECTOR_EMAIL);
    assert_int_equal(D->abi_minor, 1);
    assert_non_null(D->ops->send_message);
    assert_null(D->ops->get_authorization_uri);
    assert_non_null(strstr(D->logo, "<svg"));
    assert_true(strncmp(D->readme, "# SMTP connector", 16) == 0);
    static const char *const keys[] = {"host",      "port",   "auth",       "fromEmail", "replyTo",
                                       "templates", "secure", "requireTLS", "ignoreTLS"};
    assert_int_equal(D->nfields, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < D->nfields; i++) {
        assert_string_equal(D->fields[i].key, keys[i]);
        /* auth holds the password: encrypted at rest, never shown in full. */
        assert_int_equal(D->fields[i].confidential != 0, strcmp(keys[i], "auth") == 0);
    }
    yajl_val t = yajl_tree_parse(D->config_template, NULL, 0);
    assert_non_null(t);
    yajl_tree_free(t);
}

static void test_validate_config(void **state)
{
    (void)state;
    good_config();
    assert_null(validate());

    /* Logto's rule: the four required usage types. */
    config("templates", "[{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":"
                        "\"s\",\"content\":\"c\"}]");
    assert_string_equal(validate(), "Template with UsageType (Register, ForgotPassword, Generic) "
                                    "should be provided!");
    config("templates", "[{\"usageType\":\"SignIn\",\"contentType\":\"text/markdown\","
                        "\"subject\":\"s\",\"content\":\"c\"}]");
    assert_string_equal(validate(), "templates[0].contentType must be text/plain or text/html.");
    config("templates", "[{\"usageType\":\"SignIn\",\"subject\":\"s\"}]");
    assert_non_null(strstr(validate(), "templates[0] needs the strings"));
    config("templates", "{\"SignIn\":{}}");
    assert_non_null(strstr(validate(), "templates must be a JSON array"));
    config("templates", "[5]");
    assert_string_equal(validate(), "templates[0] must be an object.");
    config("templates", TEMPLATES);

    config("port", "0");
    assert_string_equal(validate(), "port must be a number from 1 to 65535.");
    config("port", "587");
    config("host", "smtp example");
    assert_non_null(strstr(validate(), "host must be"));
    config("host", "smtp.example.com");
    config("fromEmail", "not an address");
    assert_non_null(strstr(validate(), "fromEmail must be"));
    config("fromEmail", "Example <noreply@example.com");
    assert_non_null(strstr(validate(), "fromEmail must be"));
    config("fromEmail", "noreply@example.com");
    assert_null(validate());
    config("replyTo", "two@@example.com");
    assert_non_null(strstr(validate(), "replyTo must be"));
    config("replyTo", "");
    config("auth", "{\"type\":\"oauth2\",\"user\":\"u\",\"privateKey\":\"k\"}");
    assert_string_equal(validate(), "auth.type: only login (user and pass) is supported.");
    config("auth", "{\"user\":\"u\"}");
    assert_string_equal(validate(), "auth needs user and pass.");
    config("auth", "{\"type\":\"LOGIN\",\"user\":\"u\",\"pass\":\"p\"}");
    assert_null(validate());

    /* No TLS: for a server on this machine only. */
    config("ignoreTLS", "true");
    assert_non_null(strstr(validate(), "ignoreTLS (mail without TLS) is allowed only"));
    config("host", "localhost");
    assert_null(validate());
    config("host", "127.0.0.1");
    assert_null(validate());
    config("host", "10.0.0.5");
    assert_non_null(validate());
    /* secure wins: TLS from the first byte is fine anywhere. */
    config("secure", "true");
    assert_null(validate());
}

static void test_message_and_envelope(void **state)
{
    (void)state;
    good_config();
    config("replyTo", "help@example.com");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_SIGN_IN, "SignIn", "ada@example.org", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.nsent, 1);
    /* The envelope: STARTTLS (secure off, ignoreTLS unset), AUTH, MAIL FROM the bare address. */
    assert_string_equal(F.smtp_req.host, "smtp.example.com");
    assert_int_equal(F.smtp_req.port, 587);
    assert_int_equal(F.smtp_req.tls, LATCH_CONNECTOR_SMTP_TLS_STARTTLS);
    assert_string_equal(F.smtp_req.username, "mailer");
    assert_string_equal(F.smtp_req.password, "pa55");
    assert_string_equal(F.smtp_req.mail_from, "noreply@example.com");
    assert_int_equal(F.smtp_req.nrcpt, 1);
    assert_string_equal(F.rcpt0, "ada@example.org");
    assert_int_equal(F.smtp_req.struct_size, sizeof(struct latch_connector_smtp_request));

    assert_lines(78);
    assert_string_equal(mail_header("From"), "\"Example\" <noreply@example.com>");
    assert_string_equal(mail_header("To"), "ada@example.org");
    assert_string_equal(mail_header("Reply-To"), "help@example.com");
    assert_string_equal(mail_header("Subject"), "Sign in: 123456");
    assert_string_equal(mail_header("MIME-Version"), "1.0");
    assert_string_equal(mail_header("Content-Type"), "text/plain; charset=utf-8");
    assert_string_equal(mail_header("Content-Transfer-Encoding"), "quoted-printable");
    /* Message-ID: 32 hex digits at the sender's domain. */
    const char *id = mail_header("Message-ID");
    assert_int_equal(strlen(id), 1 + 32 + strlen("@example.com") + 1);
    assert_int_equal(strspn(id + 1, "0123456789ABCDEF"), 32);
    assert_string_equal(id + 33, "@example.com>");
    /* Date: "Thu, 03 Dec 2026 07:00:00 +0000" */
    const char *date = mail_header("Date");
    char day[4], mon[4];
    int d, y, h, m, s;
    assert_int_equal(
        sscanf(date, "%3s, %2d %3s %4d %2d:%2d:%2d +0000", day, &d, mon, &y, &h, &m, &s), 7);
    assert_int_equal(strlen(date), 31);
    assert_string_equal(body(), "Your sign-in code is 123456.\r\n");
}

static void test_template_choice(void **state)
{
    (void)state;
    good_config();
    /* The type's own template. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_REGISTER, "Register", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(mail_header("Subject"), "Register");
    assert_string_equal(body(), "Register 123456\r\n");
    /* No template for the type: Generic. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_ORGANIZATION_INVITATION,
                             "OrganizationInvitation", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(mail_header("Subject"), "Generic");
    assert_string_equal(body(), "Generic 123456\r\n");

    /* The tenant's template wins over the configured one. */
    struct latch_connector_param vars[] = {{"code", "654321"}, {"organization", "<Acme>"}};
    struct latch_connector_message msg = LATCH_CONNECTOR_MESSAGE_INIT;
    msg.type = LATCH_CONNECTOR_TEMPLATE_SIGN_IN;
    msg.type_name = "SignIn";
    msg.to = "a@b.example";
    msg.vars = vars;
    msg.nvars = 2;
    msg.subject = "{{organization}} code";
    msg.content = "<p>{{code}} for {{organization}}</p>";
    msg.content_type = "text/html";
    assert_int_equal(D->ops->send_message(&F, &fake_host, &msg), LATCH_CONNECTOR_OK);
    /* The subject is text: not escaped. The HTML body: values escaped. */
    assert_string_equal(mail_header("Subject"), "<Acme> code");
    assert_string_equal(mail_header("Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(body(), "<p>654321 for &lt;Acme&gt;</p>\r\n");
}

static void test_html_template_escapes_values(void **state)
{
    (void)state;
    good_config();
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_FORGOT_PASSWORD, "ForgotPassword",
                             "a@b.example", "https://x.example/r?a=1&b=\"><script>"),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(mail_header("Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(body(), "<p>Code <b>123456</b> <a href=\"https://x.example/r?a=1&amp;b="
                                "&quot;&gt;&lt;script&gt;\">reset</a></p>\r\n");
    assert_lines(78);
    /* '=' is encoded, as quoted-printable requires. */
    assert_non_null(strstr(F.smtp_req.data, "href=3D"));
}

/* 115 characters: a line that needs a soft break. */
#define XS                                                                                         \
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
    "xxxxxxxxxxxxxxxxxxxxxxx"

static void test_encodings(void **state)
{
    (void)state;
    good_config();
    config("fromEmail", "Équipe \"Latch\" <noreply@example.com>");
    /* A subject in Spanish, a long body line with a trailing space, '=' and non-ASCII. */
    config("templates",
           "[{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Tu código "
           "de verificación es {{code}} — válido durante diez minutos, señor Ñandú\","
           "\"content\":\"Línea = {{code}} ends with a space \\n" XS "\\r\\nlast\"},"
           "{\"usageType\":\"SignIn\",\"contentType\":\"text/plain\",\"subject\":\"s\","
           "\"content\":\"c\"},{\"usageType\":\"Register\",\"contentType\":\"text/plain\","
           "\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":\"ForgotPassword\","
           "\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":\"c\"}]");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_lines(78);
    /* The subject: encoded words of at most 75 characters, decoding to the filled-in text. */
    char *subject = mail_header("Subject");
    char decoded[1024] = "";
    for (char *w = strtok(subject, " \r\n"); w != NULL; w = strtok(NULL, " \r\n")) {
        size_t n = strlen(w);
        assert_true(n <= 75);
        assert_true(strncmp(w, "=?UTF-8?B?", 10) == 0 && strcmp(w + n - 2, "?=") == 0);
        unsigned char raw[64];
        ssize_t r = latch_base64_decode(w + 10, n - 12, raw, sizeof(raw));
        assert_true(r > 0);
        strncat(decoded, (const char *)raw, (size_t)r);
    }
    assert_string_equal(decoded, "Tu código de verificación es 123456 — válido durante diez "
                                 "minutos, señor Ñandú");
    /* The display name: encoded too (not ASCII). */
    char *from = mail_header("From");
    assert_true(strncmp(from, "=?UTF-8?B?", 10) == 0);
    assert_non_null(strstr(from, "?= <noreply@example.com>"));
    /* The body decodes to the text, its line breaks as CRLF. */
    assert_string_equal(body(), "Línea = 123456 ends with a space \r\n" XS "\r\nlast\r\n");
    assert_non_null(strstr(F.smtp_req.data, "L=C3=ADnea =3D 123456 ends with a space=20\r\n"));
}

/* A subject can hold no line break, whatever the template says: no header can be added. */
static void test_no_header_injection(void **state)
{
    (void)state;
    good_config();
    config("templates",
           "[{\"usageType\":\"Generic\",\"contentType\":\"text/plain\",\"subject\":\"Hi\\r\\nBcc: "
           "evil@example.net\",\"content\":\"c\"},{\"usageType\":\"SignIn\",\"contentType\":"
           "\"text/plain\",\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":\"Register\","
           "\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":\"c\"},{\"usageType\":"
           "\"ForgotPassword\",\"contentType\":\"text/plain\",\"subject\":\"s\",\"content\":"
           "\"c\"}]");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(mail_header("Subject"), "Hi  Bcc: evil@example.net");
    assert_null(mail_header("Bcc"));
    /* A recipient the host would refuse is refused here too. */
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic",
                             "a@b.example\r\nBcc: evil@example.net", NULL),
                     LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(F.nsent, 1);
}

static void test_tls_modes_and_failures(void **state)
{
    (void)state;
    good_config();
    config("secure", "true");
    config("port", "465");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.smtp_req.tls, LATCH_CONNECTOR_SMTP_TLS_IMPLICIT);
    assert_int_equal(F.smtp_req.port, 465);
    config("secure", "false");
    config("ignoreTLS", "true");
    config("host", "localhost");
    config("port", "25");
    config("auth", "{\"user\":\"\",\"pass\":\"\"}");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(F.smtp_req.tls, LATCH_CONNECTOR_SMTP_TLS_NONE);
    assert_null(F.smtp_req.username); /* empty user: no AUTH */
    /* A configuration the checks refuse is never sent. */
    config("host", "mail.example.com");
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_int_equal(F.nsent, 2);
    assert_non_null(strstr(F.last_log, "ignoreTLS"));
    /* smtp_send's status is the operation's. */
    config("ignoreTLS", "false");
    F.smtp_rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    F.smtp_rc = LATCH_CONNECTOR_ERR_TIMEOUT;
    assert_int_equal(send_as(LATCH_CONNECTOR_TEMPLATE_GENERIC, "Generic", "a@b.example", NULL),
                     LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(F.nsent, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_validate_config, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_message_and_envelope, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_template_choice, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_html_template_escapes_values, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_encodings, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_no_header_injection, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_tls_modes_and_failures, fresh, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
