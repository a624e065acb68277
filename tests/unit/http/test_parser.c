/* Unit tests for http/parser.c: request heads, bounds, smuggling defences, chunked bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/parser.h"
#include "util/percent.h"

struct head_case {
    const char *name;
    const char *raw;
    int status; /* 0 = parses */
    const char *path;
    const char *query;
    bool keep_alive;
    bool chunked;
    long content_length; /* -1 = none */
};

static const struct head_case head_cases[] = {
    {"simple GET", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/healthz", "", true, false, -1},
    {"query split", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/a/b", "x=1&y=2", true,
     false, -1},
    {"percent-decoded path", "GET /a%20b HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/a b", "", true, false,
     -1},
    {"absolute-form", "GET http://example.com/p?q HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/p", "q", true,
     false, -1},
    {"absolute-form no path", "GET https://example.com HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/", "",
     true, false, -1},
    {"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", 0, "/", "", false, false, -1},
    {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "/", "", true,
     false, -1},
    {"connection close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\n\r\n", 0, "/",
     "", false, false, -1},
    {"content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", 0, "/", "", true,
     false, 12},
    {"same content-length twice",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, "/", "",
     true, false, 3},
    {"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "/", "",
     true, true, -1},
    {"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, "/", "", true, false, -1},
    {"OWS trimmed", "GET / HTTP/1.1\r\nHost:   x  \r\n\r\n", 0, "/", "", true, false, -1},

    {"missing host", "GET / HTTP/1.1\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"duplicate host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, NULL, NULL, false,
     false, -1},
    {"conflicting content-length",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, NULL,
     NULL, false, false, -1},
    {"negative content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400,
     NULL, NULL, false, false, -1},
    {"overflowing content-length",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, NULL,
     NULL, false, false, -1},
    {"CL and TE together",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     NULL, NULL, false, false, -1},
    {"unknown transfer-coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     501, NULL, NULL, false, false, -1},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400, NULL, NULL, false, false,
     -1},
    {"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400, NULL, NULL, false, false, -1},
    {"no version", "GET /\r\nHost: x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"HTTP/2 line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, NULL, NULL, false, false, -1},
    {"relative target", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"bad escape", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"encoded NUL", "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"control char in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01 b\r\n\r\n", 400, NULL, NULL,
     false, false, -1},
    {"bad method char", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, NULL, NULL, false, false, -1},
    {"unsupported expect", "POST / HTTP/1.1\r\nHost: x\r\nExpect: nope\r\n\r\n", 417, NULL, NULL,
     false, false, -1},
};

static void test_heads(void **state)
{
    for (size_t i = 0; i < sizeof(head_cases) / sizeof(head_cases[0]); i++) {
        const struct head_case *tc = &head_cases[i];
        struct latch_arena *arena = latch_arena_new(0);
        struct latch_request req = {.arena = arena};
        struct latch_http_head_info info;
        struct latch_error err = {0};
        latch_rc rc = latch_http_parse_head(&req, tc->raw, strlen(tc->raw), &info, &err);
        if (tc->status == 0) {
            if (rc != LATCH_OK)
                fail_msg("%s: unexpected error %d %s", tc->name, err.status, err.message);
            assert_string_equal(req.path, tc->path);
            assert_string_equal(req.query, tc->query);
            assert_int_equal(info.keep_alive, tc->keep_alive);
            assert_int_equal(info.chunked, tc->chunked);
            assert_int_equal(info.has_content_length, tc->content_length >= 0);
            if (tc->content_length >= 0)
                assert_int_equal(info.content_length, (size_t)tc->content_length);
        } else {
            if (rc == LATCH_OK)
                fail_msg("%s: parsed but expected %d", tc->name, tc->status);
            if (err.status != tc->status)
                fail_msg("%s: got %d, expected %d", tc->name, err.status, tc->status);
        }
        latch_arena_free(arena);
    }
}

static void test_too_many_headers(void **state)
{
    char raw[8192];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < LATCH_HTTP_MAX_HEADERS + 1; i++)
        n += (size_t)snprintf(raw + n, sizeof(raw) - n, "X-%d: v\r\n", i);
    n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\r\n");
    struct latch_arena *arena = latch_arena_new(0);
    struct latch_request req = {.arena = arena};
    struct latch_http_head_info info;
    struct latch_error err = {0};
    assert_int_equal(latch_http_parse_head(&req, raw, n, &info, &err), LATCH_FAIL);
    assert_int_equal(err.status, 431);
    latch_arena_free(arena);
}

static void test_header_lookup_values(void **state)
{
    const char *raw = "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n\r\n";
    struct latch_arena *arena = latch_arena_new(0);
    struct latch_request req = {.arena = arena};
    struct latch_http_head_info info;
    struct latch_error err;
    assert_int_equal(latch_http_parse_head(&req, raw, strlen(raw), &info, &err), LATCH_OK);
    assert_int_equal(req.nheaders, 2);
    assert_string_equal(req.headers[1].name, "X-Forwarded-For");
    assert_string_equal(req.headers[1].value, "1.2.3.4, 5.6.7.8");
    assert_string_equal(req.method_text, "GET");
    assert_int_equal(req.method, LATCH_HTTP_GET);
    latch_arena_free(arena);
}

struct sink {
    char buf[256];
    size_t len;
};

static void sink_append(void *arg, const char *data, size_t n)
{
    struct sink *s = arg;
    assert_true(s->len + n < sizeof(s->buf));
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

/* Feeds the input one byte at a time, as a slow client would send it. */
static int feed_bytewise(const char *in, size_t max, struct sink *out, struct latch_error *err)
{
    struct latch_chunked ck = {0};
    size_t len = strlen(in), pending_start = 0;
    for (size_t end = 1; end <= len; end++) {
        size_t used = 0;
        int rc = latch_chunked_feed(&ck, in + pending_start, end - pending_start, &used, max,
                                    sink_append, out, err);
        pending_start += used;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void test_chunked(void **state)
{
    struct sink out = {0};
    struct latch_error err = {0};
    assert_int_equal(
        feed_bytewise("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: y\r\n\r\n", 100, &out, &err),
        1);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.buf, "hello world", 11);

    memset(&out, 0, sizeof(out));
    assert_int_equal(feed_bytewise("a\r\n0123456789\r\n0\r\n\r\n", 5, &out, &err), -1);
    assert_int_equal(err.status, 413);

    memset(&out, 0, sizeof(out));
    assert_int_equal(feed_bytewise("zz\r\n", 100, &out, &err), -1);
    assert_int_equal(err.status, 400);

    memset(&out, 0, sizeof(out));
    assert_int_equal(feed_bytewise("3\r\nabcX\r\n", 100, &out, &err), -1);
    assert_int_equal(err.status, 400);

    memset(&out, 0, sizeof(out));
    assert_int_equal(feed_bytewise("ffffffffffffffff1\r\n", SIZE_MAX, &out, &err), -1);
    assert_int_equal(err.status, 400);
}

static void test_percent_decode(void **state)
{
    char out[32];
    assert_int_equal(latch_percent_decode(out, "a%2Fb", 5), 3);
    assert_string_equal(out, "a/b");
    assert_int_equal(latch_percent_decode(out, "%", 1), -1);
    assert_int_equal(latch_percent_decode(out, "%4", 2), -1);
    assert_int_equal(latch_percent_decode(out, "%g0", 3), -1);
    assert_int_equal(latch_percent_decode(out, "a+b", 3), 3);
    assert_string_equal(out, "a+b"); /* '+' is only a space in form bodies */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_header_lookup_values),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_percent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
