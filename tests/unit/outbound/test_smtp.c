/*
 * Unit tests for core/outbound/smtp.c against the fake SMTP server of fake_smtp.c on 127.0.0.1:
 * the envelope and the message as received (dot-stuffing undone), AUTH PLAIN and LOGIN,
 * STARTTLS and implicit TLS under a test CA with the server reached by name through connect-to,
 * refused credentials (535) as a configuration error that never shows the password, STARTTLS
 * required but not offered (no AUTH, no mail sent in clear), no TLS allowed to loopback only,
 * the address policy, a refused recipient, a server that is down, and malformed requests
 * refused before any connection. No traffic leaves 127.0.0.0/8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "outbound/outbound.h"

#include "fake_smtp.h"

#define USER     "mailer@latch.test"
#define PASSWORD "pa55-w0rd-never-logged"

static char tmp_dir[64];
static char ca_file[128];
static struct fake_smtp_session *seen; /* large: on the heap */

static const char message[] = "From: <noreply@latch.test>\r\n"
                              "To: <ada@example.com>\r\n"
                              "Subject: Your code\r\n"
                              "\r\n"
                              "Your code is 123456.\r\n"
                              ".a line that starts with a dot\r\n"
                              "..and one with two\r\n";

static int group_setup(void **state)
{
    (void)state;
    /* The tests talk to 127.0.0.1 directly, whatever proxy the environment names. */
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/latch-smtp-XXXXXX");
    if (mkdtemp(tmp_dir) == NULL)
        return -1;
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tmp_dir);
    fake_smtp_start(ca_file);
    seen = calloc(1, sizeof(*seen));
    return seen == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fake_smtp_stop();
    free(seen);
    unlink(ca_file);
    rmdir(tmp_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    latch_outbound_shutdown();
    return 0;
}

/* smtp.test:<port> mapped to the fake server (as LATCH_OUTBOUND_CONNECT_TO would), the test CA
 * trusted; allow_private: every non-public address may be reached (LATCH_OUTBOUND_ALLOW_PRIVATE).
 */
static void init_with(uint16_t port, bool allow_private, bool mapped)
{
    char mapping[128];
    struct latch_error err = {0};
    snprintf(mapping, sizeof(mapping), "smtp.test:%u:127.0.0.1:%u", (unsigned)port,
             (unsigned)fake_smtp_port());
    struct latch_outbound_options opts = {
        .ca_file = ca_file,
        .connect_to = mapped ? mapping : NULL,
        .allow_private_all = allow_private,
    };
    if (latch_outbound_init(&opts, &err) != LATCH_OK)
        fail_msg("latch_outbound_init: %s", err.message);
}

static void init(uint16_t port, bool allow_private)
{
    init_with(port, allow_private, true);
}

static const char *const two_rcpt[] = {"ada@example.com", "bob@example.com"};

/* A request to smtp.test:port with the test message and two recipients. */
static struct latch_outbound_smtp_request request(uint16_t port, enum latch_outbound_smtp_tls tls)
{
    return (struct latch_outbound_smtp_request){
        .host = "smtp.test",
        .port = port,
        .tls = tls,
        .username = USER,
        .password = PASSWORD,
        .mail_from = "noreply@latch.test",
        .rcpt = two_rcpt,
        .nrcpt = 2,
        .data = message,
        .data_len = sizeof(message) - 1,
        .timeout_ms = 5000,
    };
}

static latch_rc smtp(const struct latch_outbound_smtp_request *req, int *reply,
                     struct latch_error *err)
{
    memset(err, 0, sizeof(*err));
    return latch_outbound_smtp_send(req, reply, err);
}

static void assert_no_password(const struct latch_error *err)
{
    assert_null(strstr(err->message, PASSWORD));
    assert_null(strstr(err->detail, PASSWORD));
}

static void test_starttls_auth_plain_delivers(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(&(struct fake_smtp_options){.offer_starttls = true,
                                                    .auth = "PLAIN",
                                                    .user = USER,
                                                    .pass = PASSWORD,
                                                    .require_auth = true});
    init(587, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req = request(587, LATCH_OUTBOUND_SMTP_TLS_STARTTLS);
    if (smtp(&req, &reply, &err) != LATCH_OK)
        fail_msg("smtp: %s (%s)", err.message, err.detail);
    assert_int_equal(reply, 250);
    assert_true(fake_smtp_wait(before, seen));
    assert_true(seen->starttls);
    assert_true(seen->tls);
    assert_string_equal(seen->auth_mech, "PLAIN");
    assert_string_equal(seen->auth_user, USER);
    assert_true(seen->authed);
    assert_string_equal(seen->mail_from, "noreply@latch.test");
    assert_int_equal(seen->nrcpt, 2);
    assert_string_equal(seen->rcpt[0], "ada@example.com");
    assert_string_equal(seen->rcpt[1], "bob@example.com");
    assert_true(seen->data_ok);
    /* Byte for byte, the leading dots restored by the server's un-stuffing. */
    assert_int_equal(seen->data_len, sizeof(message) - 1);
    assert_memory_equal(seen->data, message, sizeof(message) - 1);
    assert_true(seen->quit);
    assert_true(seen->ehlo[0] != '\0');
}

static void test_auth_login_and_implicit_tls(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(&(struct fake_smtp_options){.implicit_tls = true,
                                                    .auth = "LOGIN",
                                                    .user = USER,
                                                    .pass = PASSWORD,
                                                    .require_auth = true});
    init(465, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req = request(0, LATCH_OUTBOUND_SMTP_TLS_IMPLICIT);
    req.nrcpt = 1;
    if (smtp(&req, &reply, &err) != LATCH_OK) /* port 0: 465 */
        fail_msg("smtp: %s (%s)", err.message, err.detail);
    assert_int_equal(reply, 250);
    assert_true(fake_smtp_wait(before, seen));
    assert_true(seen->tls);
    assert_false(seen->starttls);
    assert_string_equal(seen->auth_mech, "LOGIN");
    assert_true(seen->authed);
    assert_int_equal(seen->nrcpt, 1);
    assert_memory_equal(seen->data, message, sizeof(message) - 1);
}

static void test_refused_credentials(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(&(struct fake_smtp_options){.offer_starttls = true,
                                                    .auth = "PLAIN LOGIN",
                                                    .user = USER,
                                                    .pass = "another password",
                                                    .require_auth = true});
    init(587, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req = request(587, LATCH_OUTBOUND_SMTP_TLS_STARTTLS);
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_int_equal(reply, 535);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_CONFIG);
    assert_non_null(strstr(err.message, "refused the username or password (reply 535)"));
    assert_no_password(&err);
    assert_true(fake_smtp_wait(before, seen));
    assert_false(seen->authed);
    assert_string_equal(seen->mail_from, ""); /* nothing sent */
}

/* STARTTLS required, the server does not offer it: nothing, credentials above all, goes out in
 * clear. */
static void test_starttls_not_offered(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(&(struct fake_smtp_options){
        .offer_starttls = false, .auth = "PLAIN LOGIN", .user = USER, .pass = PASSWORD});
    init(587, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req = request(587, LATCH_OUTBOUND_SMTP_TLS_STARTTLS);
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_CONFIG);
    assert_non_null(strstr(err.message, "does not offer STARTTLS"));
    assert_true(fake_smtp_wait(before, seen));
    assert_false(seen->tls);
    assert_string_equal(seen->auth_mech, "");
    assert_string_equal(seen->auth_user, "");
    assert_string_equal(seen->mail_from, "");
    assert_false(seen->data_ok);
}

/* Without TLS: to loopback (the operator allowing private addresses), and nowhere else. */
static void test_tls_none_loopback_only(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(
        &(struct fake_smtp_options){.auth = "PLAIN", .user = USER, .pass = PASSWORD});
    init(25, true);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req =
        request(fake_smtp_port(), LATCH_OUTBOUND_SMTP_TLS_NONE);
    req.host = "127.0.0.1";
    if (smtp(&req, &reply, &err) != LATCH_OK)
        fail_msg("smtp: %s (%s)", err.message, err.detail);
    assert_int_equal(reply, 250);
    assert_true(fake_smtp_wait(before, seen));
    assert_false(seen->tls);
    assert_true(seen->authed);
    assert_memory_equal(seen->data, message, sizeof(message) - 1);

    /* 0.0.0.0 is not loopback (and a connection to it would not leave the machine anyway): the
     * open-socket callback refuses it before any socket exists. */
    req.host = "0.0.0.0";
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_CONFIG);
    assert_non_null(strstr(err.message, "resolves to 0.0.0.0, not a loopback address"));
    assert_int_equal(reply, 0);
    assert_int_equal(fake_smtp_sessions(), before + 1);

    /* The classification itself, on addresses never connected to. */
    static const char *const loop[] = {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.2"};
    static const char *const other[] = {
        "8.8.8.8", "93.184.216.34", "10.0.0.1",       "0.0.0.0",  "2001:4860:4860::8888",
        "::",      "::2",           "::ffff:8.8.8.8", "128.0.0.1"};
    uint8_t a[16];
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]) + sizeof(other) / sizeof(other[0]); i++) {
        bool want = i < sizeof(loop) / sizeof(loop[0]);
        const char *s = want ? loop[i] : other[i - sizeof(loop) / sizeof(loop[0])];
        memset(a, 0, sizeof(a));
        if (strchr(s, ':') != NULL) {
            assert_int_equal(inet_pton(AF_INET6, s, a), 1);
        } else {
            a[10] = a[11] = 0xff;
            assert_int_equal(inet_pton(AF_INET, s, a + 12), 1);
        }
        if (latch_outbound_address_loopback(a) != want)
            fail_msg("%s: loopback should be %d", s, want);
    }
}

/* The outbound address policy applies as it does to HTTPS: loopback by address is refused
 * unless the operator allows private addresses (or maps a name there with connect-to, which
 * this test does not). */
static void test_address_policy(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(&(struct fake_smtp_options){.implicit_tls = true});
    init_with(465, false, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req =
        request(fake_smtp_port(), LATCH_OUTBOUND_SMTP_TLS_NONE);
    req.host = "127.0.0.1";
    req.username = NULL;
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_ADDRESS);
    assert_non_null(strstr(err.message, "LATCH_OUTBOUND_ALLOW_PRIVATE"));
    req.tls = LATCH_OUTBOUND_SMTP_TLS_IMPLICIT;
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_ADDRESS);
    assert_int_equal(fake_smtp_sessions(), before);
}

static void test_refused_recipient_and_server_down(void **state)
{
    (void)state;
    struct latch_error err;
    int reply = -1;
    fake_smtp_configure(
        &(struct fake_smtp_options){.implicit_tls = true, .reject_rcpt = "bob@example.com"});
    init(465, false);
    int before = fake_smtp_sessions();
    struct latch_outbound_smtp_request req = request(465, LATCH_OUTBOUND_SMTP_TLS_IMPLICIT);
    req.username = NULL;
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_GENERAL);
    assert_int_equal(reply, 550);
    assert_non_null(strstr(err.message, "refused the message (reply 550)"));
    assert_true(fake_smtp_wait(before, seen));
    assert_false(seen->data_ok);
    latch_outbound_shutdown();

    /* Nothing listens on the port. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &alen), 0);
    close(fd);
    init(25, true);
    req = request(ntohs(addr.sin_port), LATCH_OUTBOUND_SMTP_TLS_NONE);
    req.host = "127.0.0.1";
    assert_int_equal(smtp(&req, &reply, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_GENERAL);
    assert_int_equal(reply, 0);
    assert_non_null(strstr(err.message, "sending mail through smtp://127.0.0.1:"));
}

/* Refused before any connection: nothing reaches the server. */
static void test_malformed_requests(void **state)
{
    (void)state;
    struct latch_error err;
    fake_smtp_configure(&(struct fake_smtp_options){0});
    init(25, true);
    int before = fake_smtp_sessions();
    const char *many[17];
    for (int i = 0; i < 17; i++)
        many[i] = "a@b.example";
    static const char nul[] = "Subject: x\r\n\r\na\0b\r\n";
    const char *injected[] = {"a@b.example>\r\nRCPT TO:<c@d.example"};
    struct latch_outbound_smtp_request ok = request(fake_smtp_port(), LATCH_OUTBOUND_SMTP_TLS_NONE);
    ok.host = "127.0.0.1";
    struct latch_outbound_smtp_request bad[12];
    for (size_t i = 0; i < 12; i++)
        bad[i] = ok;
    bad[0].host = "smtp test";
    bad[1].host = NULL;
    bad[2].tls = 9;
    bad[3].mail_from = "noreply@latch.test\r\nRCPT TO:<x@y.example>";
    bad[4].mail_from = "no-at-sign";
    bad[5].nrcpt = 0;
    bad[6].rcpt = many;
    bad[6].nrcpt = 17;
    bad[7].rcpt = injected;
    bad[7].nrcpt = 1;
    bad[8].data = nul;
    bad[8].data_len = sizeof(nul) - 1;
    bad[9].data_len = 0;
    bad[10].password = NULL;
    bad[11].data_len = ((size_t)1 << 20) + 1;
    for (size_t i = 0; i < 12; i++) {
        int reply = -1;
        if (smtp(&bad[i], &reply, &err) != LATCH_FAIL)
            fail_msg("case %zu accepted", i);
        assert_string_equal(err.code, LATCH_OUTBOUND_ERR_CONFIG);
        assert_int_equal(reply, 0);
        assert_no_password(&err);
    }
    assert_int_equal(fake_smtp_sessions(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_starttls_auth_plain_delivers, teardown),
        cmocka_unit_test_teardown(test_auth_login_and_implicit_tls, teardown),
        cmocka_unit_test_teardown(test_refused_credentials, teardown),
        cmocka_unit_test_teardown(test_starttls_not_offered, teardown),
        cmocka_unit_test_teardown(test_tls_none_loopback_only, teardown),
        cmocka_unit_test_teardown(test_address_policy, teardown),
        cmocka_unit_test_teardown(test_refused_recipient_and_server_down, teardown),
        cmocka_unit_test_teardown(test_malformed_requests, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
