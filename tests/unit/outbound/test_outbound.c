/*
 * Unit tests for core/outbound/outbound.c against a real TLS server on 127.0.0.1, started in a
 * thread of this test with OpenSSL's SSL API. Its certificate is made at test time: a test CA
 * and a leaf for huggingface.co (and 127.0.0.1) signed by it, plus a second, unrelated CA;
 * both CAs are written as PEM files to a temporary directory. The tests check what connectors
 * rely on: the configured CA is trusted and no other, connect-to mapping reaches the server
 * under the real host name, the host name is verified, the size cap and the timeout become
 * errors, http:// and header injection are refused, redirects come back as they are, proxy
 * variables are honoured; and the configuration checks of LATCH_OUTBOUND_CA_FILE and
 * LATCH_OUTBOUND_CONNECT_TO.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "outbound/outbound.h"

#include "test_server.h"

#define MAX_CONNS  256
#define HEAD_MAX   16384
#define BODY_MAX   65536
#define SLOW_MS    3000
#define SIZE_CAP   1000
#define LEAF_SAN   "DNS:huggingface.co,IP:127.0.0.1"
#define SECRET_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define DATABASE   "postgresql://latch@localhost/latch"

/* ---- certificates ---- */

static char tmp_dir[64];
static char ca_file[128];  /* the CA that signed the server's certificate */
static char other_ca[128]; /* an unrelated CA */

/* ---- the TLS server ---- */

static struct {
    SSL_CTX *ctx;
    int listen_fd;
    int stop_pipe[2];
    uint16_t port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_t conns[MAX_CONNS];
    int nconns;
    atomic_int accepted; /* TCP connections accepted */
    atomic_int served;   /* requests answered (counted before the answer is sent, so a client
                            that has its answer sees its request counted) */
} srv;

struct request {
    char method[16];
    char path[256];
    char host[256];
    char user_agent[256];
    char authorization[256];
    char x_test[64];
    char body[BODY_MAX + 1];
    size_t body_len;
};

/* Value of header name in the request head (lines after the first), "" when absent. */
static void header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(head, "\r\n");

    out[0] = '\0';
    while (line != NULL && line[2] != '\r') {
        const char *start = line + 2;
        const char *end = strstr(start, "\r\n");
        if (end == NULL)
            return;
        if ((size_t)(end - start) > nlen && strncasecmp(start, name, nlen) == 0 &&
            start[nlen] == ':') {
            const char *v = start + nlen + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end - v), v);
            return;
        }
        line = end;
    }
}

static bool read_request(SSL *ssl, struct request *req)
{
    char head[HEAD_MAX + 1];
    size_t len = 0;
    char *end = NULL;
    char clen[32];
    size_t body_have;
    size_t want;

    memset(req, 0, sizeof(*req));
    while (end == NULL) {
        int n;
        if (len == HEAD_MAX)
            return false;
        n = SSL_read(ssl, head + len, (int)(HEAD_MAX - len));
        if (n <= 0)
            return false;
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (sscanf(head, "%15s %255s", req->method, req->path) != 2)
        return false;
    header_value(head, "Host", req->host, sizeof(req->host));
    header_value(head, "User-Agent", req->user_agent, sizeof(req->user_agent));
    header_value(head, "Authorization", req->authorization, sizeof(req->authorization));
    header_value(head, "X-Test", req->x_test, sizeof(req->x_test));
    header_value(head, "Content-Length", clen, sizeof(clen));
    want = clen[0] != '\0' ? (size_t)strtoul(clen, NULL, 10) : 0;
    if (want > BODY_MAX)
        return false;
    body_have = len - (size_t)(end + 4 - head);
    if (body_have > want)
        body_have = want;
    memcpy(req->body, end + 4, body_have);
    while (body_have < want) {
        int n = SSL_read(ssl, req->body + body_have, (int)(want - body_have));
        if (n <= 0)
            return false;
        body_have += (size_t)n;
    }
    req->body_len = want;
    return true;
}

static void write_all(SSL *ssl, const char *data, size_t len)
{
    while (len > 0) {
        int n = SSL_write(ssl, data, (int)(len > 16384 ? 16384 : len));
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* Sends a response; with_length false means a body delimited by the connection's close. */
static void respond(SSL *ssl, int status, const char *extra, const char *body, size_t len,
                    bool with_length)
{
    char head[1024];
    int n;

    if (with_length)
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n%sContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, extra, len);
    else
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\n%sConnection: close\r\n\r\n",
                     status, extra);
    atomic_fetch_add(&srv.served, 1);
    write_all(ssl, head, (size_t)n);
    write_all(ssl, body, len);
}

/* Waits up to ms for the stop pipe (teardown); true when stopping. */
static bool wait_stop(int ms)
{
    struct pollfd p = {.fd = srv.stop_pipe[0], .events = POLLIN};

    return poll(&p, 1, ms) > 0;
}

static void serve(SSL *ssl)
{
    struct request *r = malloc(sizeof(*r));
    char *buf = NULL;
    size_t n;

    if (r == NULL || !read_request(ssl, r))
        goto out;
    if (strcmp(r->path, "/hello") == 0) {
        static const char body[] = "hello from huggingface.co";
        respond(ssl, 200, "", body, sizeof(body) - 1, true);
    } else if (strcmp(r->path, "/echo") == 0) {
        buf = malloc(BODY_MAX + 2048);
        if (buf == NULL)
            goto out;
        n = (size_t)snprintf(buf, BODY_MAX + 2048,
                             "method=%s\nhost=%s\nua=%s\nauth=%s\nx-test=%s\nbody=%.*s", r->method,
                             r->host, r->user_agent, r->authorization, r->x_test, (int)r->body_len,
                             r->body);
        respond(ssl, 200, "", buf, n, true);
    } else if (strncmp(r->path, "/size/", 6) == 0 || strncmp(r->path, "/stream/", 8) == 0) {
        bool with_length = r->path[1] == 's' && r->path[2] == 'i';
        n = (size_t)strtoul(strchr(r->path + 1, '/') + 1, NULL, 10);
        buf = malloc(n + 1);
        if (buf == NULL)
            goto out;
        memset(buf, 'a', n);
        respond(ssl, 200, "", buf, n, with_length);
    } else if (strcmp(r->path, "/slow") == 0) {
        wait_stop(SLOW_MS);
        respond(ssl, 200, "", "late", 4, true);
    } else if (strcmp(r->path, "/redirect") == 0) {
        respond(ssl, 302, "Location: https://huggingface.co/hello\r\n", "", 0, true);
    } else {
        respond(ssl, 404, "", "not found", 9, true);
    }
out:
    free(buf);
    free(r);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct timeval tv = {.tv_sec = 5};
    SSL *ssl = SSL_new(srv.ctx);

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (ssl != NULL && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
        serve(ssl);
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = latch_test_accept(srv.listen_fd, srv.stop_pipe[0]);
        if (fd < 0)
            return NULL;
        atomic_fetch_add(&srv.accepted, 1);
        pthread_mutex_lock(&srv.lock);
        if (srv.nconns == MAX_CONNS ||
            pthread_create(&srv.conns[srv.nconns], NULL, conn_main, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            srv.nconns++;
        pthread_mutex_unlock(&srv.lock);
    }
}

static int setup(void **state)
{
    EVP_PKEY *other_key;
    X509 *other;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    /* The tests talk to 127.0.0.1 directly, whatever proxy the environment names. */
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    setenv("no_proxy", "*", 1);

    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/latch-outbound-XXXXXX");
    assert_non_null(mkdtemp(tmp_dir));
    snprintf(ca_file, sizeof(ca_file), "%s/ca.pem", tmp_dir);
    snprintf(other_ca, sizeof(other_ca), "%s/other-ca.pem", tmp_dir);

    /* The server's CA, and an unrelated one a client must not accept it under. */
    srv.ctx = latch_test_server_ctx(ca_file, "huggingface.co", LEAF_SAN);
    other_key = EVP_EC_gen("P-256");
    assert_non_null(other_key);
    other = latch_test_make_cert(other_key, "Unrelated Test CA", NULL, NULL, NULL);
    latch_test_write_cert(other_ca, other);
    X509_free(other);
    EVP_PKEY_free(other_key);
    srv.listen_fd = latch_test_listen(&srv.port);
    assert_int_equal(pipe(srv.stop_pipe), 0);
    assert_int_equal(pthread_mutex_init(&srv.lock, NULL), 0);
    assert_int_equal(pthread_create(&srv.acceptor, NULL, accept_main, NULL), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(write(srv.stop_pipe[1], "x", 1), 1);
    pthread_join(srv.acceptor, NULL);
    for (int i = 0; i < srv.nconns; i++)
        pthread_join(srv.conns[i], NULL);
    close(srv.listen_fd);
    close(srv.stop_pipe[0]);
    close(srv.stop_pipe[1]);
    SSL_CTX_free(srv.ctx);
    unlink(ca_file);
    unlink(other_ca);
    rmdir(tmp_dir);
    return 0;
}

/* ---- helpers ---- */

static char connect_to[128]; /* huggingface.co:443 -> the test server */

static void init_with(const char *ca, const char *mapping, size_t max_bytes)
{
    struct latch_error err = {0};
    /* Without a mapping the tests call the loopback server by its address, which the address
     * policy refuses unless allowed, as an operator would with LATCH_OUTBOUND_ALLOW_PRIVATE. */
    struct latch_outbound_options opts = {
        .ca_file = ca,
        .connect_to = mapping,
        .max_response_bytes = max_bytes,
        .allow_private_all = mapping == NULL,
    };

    if (latch_outbound_init(&opts, &err) != LATCH_OK)
        fail_msg("latch_outbound_init: %s", err.message);
}

static void init_mapped(size_t max_bytes)
{
    snprintf(connect_to, sizeof(connect_to), "huggingface.co:443:127.0.0.1:%u", (unsigned)srv.port);
    init_with(ca_file, connect_to, max_bytes);
}

static latch_rc get(const char *url, uint32_t timeout_ms, struct latch_outbound_response *resp,
                    struct latch_error *err)
{
    struct latch_outbound_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};

    memset(err, 0, sizeof(*err));
    return latch_outbound_request(&req, resp, err);
}

static long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void local_url(char *out, size_t cap, const char *scheme, const char *path)
{
    snprintf(out, cap, "%s://127.0.0.1:%u%s", scheme, (unsigned)srv.port, path);
}

/* ---- trust ---- */

static void test_trusted_ca_gets_200(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char url[128];

    (void)state;
    init_with(ca_file, NULL, 0);
    local_url(url, sizeof(url), "https", "/hello");
    assert_int_equal(get(url, 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "hello from huggingface.co");
    assert_int_equal(resp.body_len, strlen("hello from huggingface.co"));
    assert_non_null(resp.content_type);
    assert_string_equal(resp.content_type, "text/plain");
    latch_outbound_response_clear(&resp);
    assert_null(resp.body);

    /* A second request on the same thread reuses the cached handle. */
    local_url(url, sizeof(url), "https", "/nothing-here");
    assert_int_equal(get(url, 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 404);
    assert_string_equal(resp.body, "not found");
    latch_outbound_response_clear(&resp);
    latch_outbound_shutdown();
}

static void test_wrong_ca_fails(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char url[128];
    int served = atomic_load(&srv.served);

    (void)state;
    init_with(other_ca, NULL, 0);
    local_url(url, sizeof(url), "https", "/hello");
    assert_int_equal(get(url, 0, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_int_equal(err.status, 502);
    assert_non_null(strstr(err.detail, "certificate"));
    assert_null(resp.body);
    assert_int_equal(resp.status, 0);
    assert_int_equal(atomic_load(&srv.served), served);
    latch_outbound_shutdown();
}

static void test_default_bundle_does_not_trust_test_ca(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char url[128];

    (void)state;
    init_with(NULL, NULL, 0);
    local_url(url, sizeof(url), "https", "/hello");
    assert_int_equal(get(url, 0, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_non_null(strstr(err.detail, "certificate"));
    latch_outbound_shutdown();
}

/* ---- connect-to ---- */

static void test_connect_to_keeps_real_host_name(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;

    (void)state;
    init_mapped(0);
    assert_int_equal(get("https://huggingface.co/echo", 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 200);
    /* The server saw the real name: in Host, and in SNI, or its certificate would not do. */
    assert_non_null(strstr(resp.body, "host=huggingface.co\n"));
    assert_non_null(strstr(resp.body, "method=GET\n"));
    latch_outbound_response_clear(&resp);
    latch_outbound_shutdown();
}

static void test_host_name_is_verified(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char mapping[128];

    (void)state;
    /* Same server, same trusted CA, but its certificate does not name example.com. */
    snprintf(mapping, sizeof(mapping), "example.com:443:127.0.0.1:%u", (unsigned)srv.port);
    init_with(ca_file, mapping, 0);
    assert_int_equal(get("https://example.com/hello", 0, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_non_null(strstr(err.detail, "example.com"));
    latch_outbound_shutdown();
}

/* ---- bounds ---- */

static void test_size_cap(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char url[64];

    (void)state;
    init_mapped(SIZE_CAP);

    /* Exactly the cap is fine, with or without a Content-Length. */
    snprintf(url, sizeof(url), "https://huggingface.co/size/%d", SIZE_CAP);
    assert_int_equal(get(url, 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.body_len, SIZE_CAP);
    assert_int_equal(strlen(resp.body), SIZE_CAP);
    latch_outbound_response_clear(&resp);
    snprintf(url, sizeof(url), "https://huggingface.co/stream/%d", SIZE_CAP);
    assert_int_equal(get(url, 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.body_len, SIZE_CAP);
    latch_outbound_response_clear(&resp);

    /* One byte more is an error, never a truncated body: announced by Content-Length... */
    snprintf(url, sizeof(url), "https://huggingface.co/size/%d", SIZE_CAP + 1);
    assert_int_equal(get(url, 0, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_non_null(strstr(err.message, "larger than 1000 bytes"));
    assert_null(resp.body);
    /* ...or only noticed while it streams in. */
    snprintf(url, sizeof(url), "https://huggingface.co/stream/%d", SIZE_CAP + 1);
    assert_int_equal(get(url, 0, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_non_null(strstr(err.message, "larger than 1000 bytes"));
    assert_null(resp.body);
    latch_outbound_shutdown();
}

static void test_default_cap_is_one_mib(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;

    (void)state;
    init_mapped(0);
    assert_int_equal(get("https://huggingface.co/stream/1048576", 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.body_len, 1048576);
    latch_outbound_response_clear(&resp);
    assert_int_equal(get("https://huggingface.co/stream/1048577", 0, &resp, &err), LATCH_FAIL);
    assert_non_null(strstr(err.message, "larger than 1048576 bytes"));
    latch_outbound_shutdown();
}

static void test_slow_server_times_out(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    long t0;
    long took;

    (void)state;
    init_mapped(0);
    t0 = now_ms();
    assert_int_equal(get("https://huggingface.co/slow", 300, &resp, &err), LATCH_FAIL);
    took = now_ms() - t0;
    assert_string_equal(err.code, "connector.timeout");
    assert_int_equal(err.status, 504);
    assert_non_null(strstr(err.message, "300 ms"));
    assert_true(took >= 250);
    assert_true(took < SLOW_MS - 500);
    assert_null(resp.body);
    latch_outbound_shutdown();
}

/* ---- refusals ---- */

static void test_http_url_refused(void **state)
{
    /* Each URL is prefix + "127.0.0.1:<port>" + path. */
    static const char *const bad[][2] = {
        {"http://", "/hello"},   {"ftp://", "/hello"}, {"HTTP://", "/hello"},
        {"https://", "/he llo"}, {"", "/hello"},       {"https:/", "/hello"},
    };
    struct latch_outbound_response resp;
    struct latch_error err;
    int accepted = atomic_load(&srv.accepted);

    (void)state;
    init_with(ca_file, NULL, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), "%s127.0.0.1:%u%s", bad[i][0], (unsigned)srv.port, bad[i][1]);
        assert_int_equal(get(url, 0, &resp, &err), LATCH_FAIL);
        assert_string_equal(err.code, "connector.general");
        assert_null(resp.body);
    }
    assert_int_equal(get(NULL, 0, &resp, &err), LATCH_FAIL);
    /* Not one connection was made. */
    assert_int_equal(atomic_load(&srv.accepted), accepted);
    latch_outbound_shutdown();
}

static void test_bad_method_and_headers_refused(void **state)
{
    struct latch_outbound_header injected[] = {{"X-Test", "a\r\nEvil: 1"}};
    struct latch_outbound_header bad_name[] = {{"X Test", "a"}};
    struct latch_outbound_request req = {.url = "https://huggingface.co/echo"};
    struct latch_outbound_response resp;
    struct latch_error err;
    int accepted = atomic_load(&srv.accepted);

    (void)state;
    init_mapped(0);
    req.headers = injected;
    req.nheaders = 1;
    assert_int_equal(latch_outbound_request(&req, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    req.headers = bad_name;
    assert_int_equal(latch_outbound_request(&req, &resp, &err), LATCH_FAIL);
    req.headers = NULL;
    req.nheaders = 0;
    req.method = "CONNECT";
    assert_int_equal(latch_outbound_request(&req, &resp, &err), LATCH_FAIL);
    req.method = "GET";
    req.body_len = 3; /* without a body */
    assert_int_equal(latch_outbound_request(&req, &resp, &err), LATCH_FAIL);
    assert_int_equal(atomic_load(&srv.accepted), accepted);
    latch_outbound_shutdown();
}

/* ---- what a connector sends and gets ---- */

static void test_post_sends_body_headers_and_user_agent(void **state)
{
    static const char form[] = "grant_type=authorization_code&code=abc";
    struct latch_outbound_header headers[] = {
        {"Authorization", "Basic aWQ6c2VjcmV0"},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"X-Test", "42"},
    };
    struct latch_outbound_request req = {
        .method = "POST",
        .url = "https://huggingface.co/echo",
        .headers = headers,
        .nheaders = 3,
        .body = form,
        .body_len = sizeof(form) - 1,
    };
    struct latch_outbound_response resp;
    struct latch_error err;

    (void)state;
    init_mapped(0);
    assert_int_equal(latch_outbound_request(&req, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "method=POST\n"));
    assert_non_null(strstr(resp.body, "ua=Latch/" LATCH_VERSION "\n"));
    assert_non_null(strstr(resp.body, "auth=Basic aWQ6c2VjcmV0\n"));
    assert_non_null(strstr(resp.body, "x-test=42\n"));
    assert_non_null(strstr(resp.body, "body=grant_type=authorization_code&code=abc"));
    latch_outbound_response_clear(&resp);
    latch_outbound_shutdown();
}

static void test_redirect_not_followed(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    int served;

    (void)state;
    init_mapped(0);
    served = atomic_load(&srv.served);
    assert_int_equal(get("https://huggingface.co/redirect", 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 302);
    assert_int_equal(resp.body_len, 0);
    assert_string_equal(resp.body, "");
    assert_int_equal(atomic_load(&srv.served), served + 1);
    latch_outbound_response_clear(&resp);
    latch_outbound_shutdown();
}

static void test_proxy_variables_honoured(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    int accepted;

    (void)state;
    init_mapped(0);
    /* A proxy that is not there: the request must go to it, not to the server. */
    unsetenv("no_proxy");
    setenv("https_proxy", "http://127.0.0.1:1", 1);
    accepted = atomic_load(&srv.accepted);
    assert_int_equal(get("https://huggingface.co/hello", 2000, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, "connector.general");
    assert_int_equal(atomic_load(&srv.accepted), accepted);
    unsetenv("https_proxy");
    setenv("no_proxy", "*", 1);
    assert_int_equal(get("https://huggingface.co/hello", 0, &resp, &err), LATCH_OK);
    assert_int_equal(resp.status, 200);
    latch_outbound_response_clear(&resp);
    latch_outbound_shutdown();
}

/* ---- the address policy ---- */

static bool public_text(const char *text)
{
    uint8_t a[16] = {0};
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &v4, 4);
    } else if (inet_pton(AF_INET6, text, a) != 1) {
        fail_msg("bad address in the test: %s", text);
    }
    return latch_outbound_address_public(a);
}

static void test_address_policy(void **state)
{
    static const char *const refused[] = {"0.0.0.0",
                                          "0.1.2.3",
                                          "10.0.0.1",
                                          "10.255.255.255",
                                          "100.64.0.1",
                                          "100.127.255.254",
                                          "127.0.0.1",
                                          "127.9.9.9",
                                          "169.254.169.254",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.0.0.8",
                                          "192.0.2.1",
                                          "192.88.99.1",
                                          "192.168.1.1",
                                          "198.18.0.1",
                                          "198.19.255.1",
                                          "198.51.100.7",
                                          "203.0.113.9",
                                          "224.0.0.1",
                                          "239.255.255.250",
                                          "240.0.0.1",
                                          "255.255.255.255",
                                          "::",
                                          "::1",
                                          "::127.0.0.1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.1.2.3",
                                          "::ffff:169.254.169.254",
                                          "64:ff9b::a9fe:a9fe",
                                          "64:ff9b::7f00:1",
                                          "64:ff9b:1::1",
                                          "100::1",
                                          "2001::1",
                                          "2001:db8::1",
                                          "2002:7f00:1::1",
                                          "2002:a00:1::1",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "fe80::1",
                                          "febf::1",
                                          "fec0::1",
                                          "ff02::1",
                                          "ff0e::1"};
    static const char *const allowed[] = {"1.1.1.1",
                                          "8.8.8.8",
                                          "100.63.255.255",
                                          "100.128.0.1",
                                          "172.15.255.255",
                                          "172.32.0.1",
                                          "192.0.1.1",
                                          "192.169.0.1",
                                          "198.17.255.255",
                                          "198.20.0.1",
                                          "223.255.255.255",
                                          "::ffff:8.8.8.8",
                                          "64:ff9b::808:808",
                                          "2002:808:808::1",
                                          "2600:1f18::1",
                                          "2a00:1450:4001::200e",
                                          "2606:4700:4700::1111"};
    (void)state;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (public_text(refused[i]))
            fail_msg("%s counted as public", refused[i]);
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (!public_text(allowed[i]))
            fail_msg("%s counted as not public", allowed[i]);
}

static void test_loopback_classifier(void **state)
{
    static const char *const loopback[] = {"127.0.0.1", "127.255.255.254", "::1",
                                           "::ffff:127.0.0.1", "::ffff:127.1.2.3"};
    static const char *const other[] = {"128.0.0.1", "126.255.255.255",  "10.0.0.1", "::",
                                        "::2",       "::ffff:128.0.0.1", "fe80::1",  "::127.0.0.1"};
    (void)state;
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        uint8_t a[16] = {0};
        struct in_addr v4;
        if (inet_pton(AF_INET, loopback[i], &v4) == 1) {
            a[10] = a[11] = 0xff;
            memcpy(a + 12, &v4, 4);
        } else {
            assert_int_equal(inet_pton(AF_INET6, loopback[i], a), 1);
        }
        if (!latch_outbound_address_loopback(a))
            fail_msg("%s not counted as loopback", loopback[i]);
    }
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        uint8_t a[16] = {0};
        struct in_addr v4;
        if (inet_pton(AF_INET, other[i], &v4) == 1) {
            a[10] = a[11] = 0xff;
            memcpy(a + 12, &v4, 4);
        } else {
            assert_int_equal(inet_pton(AF_INET6, other[i], a), 1);
        }
        if (latch_outbound_address_loopback(a))
            fail_msg("%s counted as loopback", other[i]);
    }
}

static bool url_ok(const char *url)
{
    struct latch_error err = {0};
    return latch_outbound_url_check(url, &err) == LATCH_OK;
}

/* Webhook URLs, checked before they are stored: IP literals and localhost names against the
 * policy, with the options of the node. */
static void test_url_check(void **state)
{
    static const char *const refused[] = {
        "https://127.0.0.1/hook",
        "https://127.0.0.1:8443/hook",
        "https://localhost/x",
        "https://LOCALHOST:443/x",
        "https://api.localhost/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[fe80::1%25eth0]/",
        "https://169.254.169.254/",
        "https://10.1.2.3/",
        "https://192.168.0.10/",
        "https://[fd00::1]/",
        "https://224.0.0.251/",
        "https://[ff02::1]/",
        "https://0.0.0.0/",
        "http://example.com/hook",
        "https://",
        "not a url",
        "ftp://example.com/",
    };
    static const char *const allowed[] = {
        "https://example.com/hook", "https://8.8.8.8/h", "https://[2606:4700:4700::1111]:8443/h",
        "https://hooks.example.com:8443/a?b=c", "https://localhost.example.com/"};
    struct latch_error err = {0};
    (void)state;
    assert_int_equal(latch_outbound_init(&(struct latch_outbound_options){0}, &err), LATCH_OK);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (url_ok(refused[i]))
            fail_msg("%s accepted", refused[i]);
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
        if (!url_ok(allowed[i]))
            fail_msg("%s refused", allowed[i]);
    assert_int_equal(latch_outbound_url_check("https://127.0.0.1/", &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_ADDRESS);
    assert_int_equal(err.status, 400);
    latch_outbound_shutdown();

    /* The operator allows 127.0.0.0/8: loopback literals and localhost pass, others do not. */
    struct latch_cidr net;
    assert_int_equal(latch_config_parse_cidr("127.0.0.0/8", &net), LATCH_OK);
    assert_int_equal(
        latch_outbound_init(&(struct latch_outbound_options){.allow = &net, .nallow = 1}, &err),
        LATCH_OK);
    assert_true(url_ok("https://127.0.0.1:8443/hook"));
    assert_true(url_ok("https://localhost/hook"));
    assert_false(url_ok("https://[::1]/hook"));
    assert_false(url_ok("https://10.0.0.1/hook"));
    assert_false(url_ok("http://127.0.0.1/hook"));
    latch_outbound_shutdown();

    assert_int_equal(
        latch_outbound_init(&(struct latch_outbound_options){.allow_private_all = true}, &err),
        LATCH_OK);
    assert_true(url_ok("https://[::1]/hook"));
    assert_true(url_ok("https://10.0.0.1/hook"));
    latch_outbound_shutdown();
}

/* A name mapped elsewhere is not allowed by the mapping: only the connect-host is. */
static void test_private_address_refused_unless_allowed(void **state)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    char url[64];
    int accepted;

    (void)state;
    init_mapped(0);
    accepted = atomic_load(&srv.accepted);
    /* 127.0.0.2 is not the mapping's connect-host (127.0.0.1): refused before connecting. */
    snprintf(url, sizeof(url), "https://127.0.0.2:%u/hello", (unsigned)srv.port);
    assert_int_equal(get(url, 2000, &resp, &err), LATCH_FAIL);
    assert_string_equal(err.code, LATCH_OUTBOUND_ERR_ADDRESS);
    assert_non_null(strstr(err.detail, "127.0.0.2"));
    assert_int_equal(atomic_load(&srv.accepted), accepted);
    latch_outbound_shutdown();
}

/* ---- a request on another thread ---- */

static void *thread_get(void *arg)
{
    struct latch_outbound_response resp;
    struct latch_error err;
    int *status = arg;

    if (get("https://huggingface.co/hello", 0, &resp, &err) == LATCH_OK)
        *status = resp.status;
    latch_outbound_response_clear(&resp);
    return NULL;
}

static void test_worker_threads(void **state)
{
    pthread_t t[4];
    int status[4] = {0};

    (void)state;
    init_mapped(0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_get, &status[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(status[i], 200);
    }
    latch_outbound_shutdown();
}

/* ---- initialization ---- */

static void test_init_rejects_bad_options(void **state)
{
    struct latch_error err = {0};
    struct latch_outbound_options opts = {.ca_file = "/nonexistent/ca.pem"};
    struct latch_outbound_response resp;

    (void)state;
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_FAIL);
    assert_non_null(strstr(err.message, "not readable"));
    opts.ca_file = NULL;
    opts.connect_to = "huggingface.co:443";
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_FAIL);
    opts.connect_to = "huggingface.co:443:127.0.0.1:1,,";
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_FAIL);
    /* Nothing half-initialized: requests are refused, and a good init works. */
    assert_int_equal(get("https://huggingface.co/hello", 0, &resp, &err), LATCH_FAIL);
    init_mapped(0);
    assert_int_equal(latch_outbound_init(&opts, &err), LATCH_FAIL); /* twice */
    latch_outbound_shutdown();
}

/* ---- LATCH_OUTBOUND_* in config/ ---- */

struct env {
    const char *ca;
    const char *connect_to;
};

static const char *env_get(const char *name, void *arg)
{
    const struct env *e = arg;

    if (strcmp(name, "LATCH_DATABASE_URL") == 0)
        return DATABASE;
    if (strcmp(name, "LATCH_SECRET_KEY") == 0)
        return SECRET_KEY;
    if (strcmp(name, "LATCH_OUTBOUND_CA_FILE") == 0)
        return e->ca;
    if (strcmp(name, "LATCH_OUTBOUND_CONNECT_TO") == 0)
        return e->connect_to;
    return NULL;
}

static void test_config_outbound_variables(void **state)
{
    static const char *const good[] = {
        "huggingface.co:443:127.0.0.1:8443",
        " huggingface.co:443:127.0.0.1:8443 , example.com:443:10.0.0.1:443",
        "::127.0.0.1:8443",
        "huggingface.co:443:[::1]:8443",
        "[::1]:443:localhost:",
        "huggingface.co::proxy.internal:",
        "",
    };
    static const char *const bad[] = {
        "huggingface.co",
        "huggingface.co:443:127.0.0.1",
        "huggingface.co:443:127.0.0.1:8443:9",
        "huggingface.co:443::",
        "huggingface.co:99999:127.0.0.1:8443",
        "huggingface.co:443:127.0.0.1:0",
        "huggingface.co:443:[::1:8443",
        "hugging_face.co:443:127.0.0.1:8443",
        "huggingface.co:443:127.0.0.1:8443,",
        "huggingface.co:443:127.0.0.1:8443,,example.com:443:127.0.0.1:1",
    };
    static struct latch_config cfg;
    struct latch_error err;
    struct env e = {0};

    (void)state;
    assert_int_equal(latch_config_load(&cfg, env_get, &e, &err), LATCH_OK);
    assert_string_equal(cfg.outbound_ca_file, "");
    assert_string_equal(cfg.outbound_connect_to, "");

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        e.connect_to = good[i];
        if (latch_config_load(&cfg, env_get, &e, &err) != LATCH_OK)
            fail_msg("\"%s\" refused: %s", good[i], err.message);
    }
    e.connect_to = good[0];
    assert_int_equal(latch_config_load(&cfg, env_get, &e, &err), LATCH_OK);
    assert_string_equal(cfg.outbound_connect_to, good[0]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e.connect_to = bad[i];
        if (latch_config_load(&cfg, env_get, &e, &err) == LATCH_OK)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_string_equal(err.code, "config.invalid");
        assert_non_null(strstr(err.message, "LATCH_OUTBOUND_CONNECT_TO: "));
        assert_non_null(strstr(err.message, "expected"));
    }
    e.connect_to = NULL;

    e.ca = ca_file;
    assert_int_equal(latch_config_load(&cfg, env_get, &e, &err), LATCH_OK);
    assert_string_equal(cfg.outbound_ca_file, ca_file);
    e.ca = "/nonexistent/ca.pem";
    assert_int_equal(latch_config_load(&cfg, env_get, &e, &err), LATCH_FAIL);
    assert_non_null(strstr(err.message, "LATCH_OUTBOUND_CA_FILE: cannot open"));
    e.ca = tmp_dir; /* a directory */
    assert_int_equal(latch_config_load(&cfg, env_get, &e, &err), LATCH_FAIL);
    assert_non_null(strstr(err.message, "not a regular file"));
    latch_config_clear(&cfg);
}

/* After every test, also one that failed half-way, so the next one starts uninitialized. */
static int outbound_down(void **state)
{
    (void)state;
    latch_outbound_shutdown();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_trusted_ca_gets_200, outbound_down),
        cmocka_unit_test_teardown(test_wrong_ca_fails, outbound_down),
        cmocka_unit_test_teardown(test_default_bundle_does_not_trust_test_ca, outbound_down),
        cmocka_unit_test_teardown(test_connect_to_keeps_real_host_name, outbound_down),
        cmocka_unit_test_teardown(test_host_name_is_verified, outbound_down),
        cmocka_unit_test_teardown(test_size_cap, outbound_down),
        cmocka_unit_test_teardown(test_default_cap_is_one_mib, outbound_down),
        cmocka_unit_test_teardown(test_slow_server_times_out, outbound_down),
        cmocka_unit_test_teardown(test_http_url_refused, outbound_down),
        cmocka_unit_test_teardown(test_bad_method_and_headers_refused, outbound_down),
        cmocka_unit_test_teardown(test_post_sends_body_headers_and_user_agent, outbound_down),
        cmocka_unit_test_teardown(test_redirect_not_followed, outbound_down),
        cmocka_unit_test_teardown(test_proxy_variables_honoured, outbound_down),
        cmocka_unit_test(test_address_policy),
        cmocka_unit_test(test_loopback_classifier),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test_teardown(test_private_address_refused_unless_allowed, outbound_down),
        cmocka_unit_test_teardown(test_worker_threads, outbound_down),
        cmocka_unit_test_teardown(test_init_rejects_bad_options, outbound_down),
        cmocka_unit_test_teardown(test_config_outbound_variables, outbound_down),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
