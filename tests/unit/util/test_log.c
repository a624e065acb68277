/*
 * Unit tests for core/util/log.c: JSON string escaping (quotes, backslash, control characters,
 * UTF-8 kept or replaced when invalid, cutting at unit boundaries), level names and parsing, and
 * the lines written to stderr — captured in a temp file and parsed back with yajl, so every line
 * is proved to be one valid JSON object, also when a long message had to be cut; lines about a
 * request carry its id and tenant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "util/log.h"

/* ---- escaping ---- */

struct escape_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *out;
};

static const struct escape_case escape_cases[] = {
    {"plain text", 0, "plain text"},
    {"", 0, ""},
    {"say \"hi\"", 0, "say \\\"hi\\\""},
    {"C:\\path", 0, "C:\\\\path"},
    {"a\nb\rc\td", 0, "a\\u000ab\\u000dc\\u0009d"},
    {"\x01\x1f\x7f", 0, "\\u0001\\u001f\x7f"},
    {"nul\0byte", 8, "nul\\u0000byte"},
    {"/slash/", 0, "/slash/"},
    /* valid UTF-8 passes through: é, €, 😀, U+10FFFF */
    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 0,
     "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"},
    /* invalid UTF-8 becomes U+FFFD, one per bad byte */
    {"a\x80z", 0, "a\\ufffdz"},
    {"a\xc3", 0, "a\\ufffd"},
    {"\xc0\xaf", 0, "\\ufffd\\ufffd"},                       /* overlong '/' */
    {"\xe0\x80\xaf", 0, "\\ufffd\\ufffd\\ufffd"},            /* overlong, 3 bytes */
    {"\xed\xa0\x80", 0, "\\ufffd\\ufffd\\ufffd"},            /* surrogate U+D800 */
    {"\xf4\x90\x80\x80", 0, "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* above U+10FFFF */
    {"\xf5\xff", 0, "\\ufffd\\ufffd"},
    {"\xe2\x82x", 0, "\\ufffd\\ufffdx"}, /* cut short by an ASCII byte */
};

static void test_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        const struct escape_case *c = &escape_cases[i];
        char out[256];
        size_t len = c->len ? c->len : strlen(c->in);
        size_t n = latch_log_json_escape(out, 0, sizeof(out), c->in, len);

        if (n != strlen(c->out) || strcmp(out, c->out) != 0)
            fail_msg("case %zu: got \"%s\" (%zu), expected \"%s\"", i, out, n, c->out);
    }
}

static void test_escape_appends_and_cuts(void **state)
{
    char out[16];
    size_t n;

    (void)state;
    memcpy(out, "ab", 3);
    n = latch_log_json_escape(out, 2, sizeof(out), "c\"d", 3);
    assert_int_equal(n, 6);
    assert_string_equal(out, "abc\\\"d");

    /* Does not fit: returns cap and never leaves half an escape or half a character behind. */
    n = latch_log_json_escape(out, 0, 5, "ab\"cd", 5);
    assert_int_equal(n, 5);
    assert_string_equal(out, "ab\\\"");
    n = latch_log_json_escape(out, 0, 4, "ab\"cd", 5);
    assert_int_equal(n, 4);
    assert_string_equal(out, "ab");
    n = latch_log_json_escape(out, 0, 6, "abc\n", 4);
    assert_int_equal(n, 6);
    assert_string_equal(out, "abc");
    n = latch_log_json_escape(out, 0, 4, "a\xe2\x82\xac", 4);
    assert_int_equal(n, 4);
    assert_string_equal(out, "a");
    /* Exactly fitting content leaves room for the NUL. */
    n = latch_log_json_escape(out, 0, 4, "abc", 3);
    assert_int_equal(n, 3);
    assert_string_equal(out, "abc");
    n = latch_log_json_escape(out, 0, 3, "abc", 3);
    assert_int_equal(n, 3);
    assert_string_equal(out, "ab");

    /* Nothing to append to. */
    assert_int_equal(latch_log_json_escape(out, 16, 16, "x", 1), 16);
    assert_int_equal(latch_log_json_escape(out, 3, 16, NULL, 5), 3);
}

/* ---- levels ---- */

static void test_levels(void **state)
{
    static const struct {
        const char *text;
        bool ok;
        enum latch_log_level level;
    } cases[] = {
        {"debug", true, LATCH_LOG_DEBUG},
        {"info", true, LATCH_LOG_INFO},
        {"warn", true, LATCH_LOG_WARN},
        {"error", true, LATCH_LOG_ERROR},
        {"INFO", true, LATCH_LOG_INFO},
        {"Warn", true, LATCH_LOG_WARN},
        {"warning", false, 0},
        {"", false, 0},
        {"info ", false, 0},
        {"err", false, 0},
        {"trace", false, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum latch_log_level level = LATCH_LOG_ERROR + 1;
        bool ok = latch_log_parse_level(cases[i].text, &level);

        if (ok != cases[i].ok)
            fail_msg("\"%s\": parse returned %d", cases[i].text, ok);
        if (ok)
            assert_int_equal(level, cases[i].level);
    }
    assert_false(latch_log_parse_level(NULL, NULL));

    assert_string_equal(latch_log_level_name(LATCH_LOG_DEBUG), "debug");
    assert_string_equal(latch_log_level_name(LATCH_LOG_INFO), "info");
    assert_string_equal(latch_log_level_name(LATCH_LOG_WARN), "warn");
    assert_string_equal(latch_log_level_name(LATCH_LOG_ERROR), "error");
    assert_string_equal(latch_log_level_name((enum latch_log_level)42), "unknown");

    latch_log_set_level(LATCH_LOG_WARN);
    assert_int_equal(latch_log_get_level(), LATCH_LOG_WARN);
    assert_false(latch_log_enabled(LATCH_LOG_INFO));
    assert_true(latch_log_enabled(LATCH_LOG_WARN));
    assert_true(latch_log_enabled(LATCH_LOG_ERROR));
    latch_log_set_level((enum latch_log_level)9); /* ignored */
    assert_int_equal(latch_log_get_level(), LATCH_LOG_WARN);
    latch_log_set_level(LATCH_LOG_INFO);
}

static void test_timestamp(void **state)
{
    char ts[32];

    (void)state;
    latch_log_timestamp(ts, sizeof(ts));
    /* 2026-11-27T16:24:42.123Z */
    assert_int_equal(strlen(ts), 24);
    for (int i = 0; i < 24; i++) {
        char c = ts[i];
        switch (i) {
        case 4:
        case 7:
            assert_int_equal(c, '-');
            break;
        case 10:
            assert_int_equal(c, 'T');
            break;
        case 13:
        case 16:
            assert_int_equal(c, ':');
            break;
        case 19:
            assert_int_equal(c, '.');
            break;
        case 23:
            assert_int_equal(c, 'Z');
            break;
        default:
            assert_true(c >= '0' && c <= '9');
        }
    }
}

/* ---- lines on stderr ---- */

struct capture {
    char path[64];
    int saved;
    int fd;
};

static void capture_begin(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/latch-log-test-XXXXXX");
    c->fd = mkstemp(c->path);
    assert_true(c->fd >= 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* Restores stderr and returns what was written (malloc'd, NUL-terminated). */
static char *capture_end(struct capture *c, size_t *len)
{
    char *buf;
    off_t size;

    assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
    close(c->saved);
    size = lseek(c->fd, 0, SEEK_END);
    assert_true(size >= 0);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(c->fd, buf, (size_t)size, 0), size);
    buf[size] = '\0';
    close(c->fd);
    unlink(c->path);
    *len = (size_t)size;
    return buf;
}

/* Parses one line (without its newline) and returns the tree; fails the test when not JSON. */
static yajl_val parse_line(const char *line, size_t len)
{
    char *copy = strndup(line, len);
    char errbuf[256];
    yajl_val v;

    assert_non_null(copy);
    v = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
    if (v == NULL || !YAJL_IS_OBJECT(v))
        fail_msg("not a JSON object (%s): %s", errbuf, copy);
    free(copy);
    return v;
}

static const char *field(yajl_val obj, const char *key)
{
    const char *path[] = {key, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);

    return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static void test_log_line(void **state)
{
    struct capture cap;
    size_t len;
    char *out;
    char *nl;
    yajl_val v;

    (void)state;
    latch_log_set_level(LATCH_LOG_INFO);
    capture_begin(&cap);
    latch_info("tenant %s said \"%d\"\n", "acme", 42);
    latch_debug("not shown at info");
    latch_warn("caf\xc3\xa9 \xff");
    out = capture_end(&cap, &len);

    nl = strchr(out, '\n');
    assert_non_null(nl);
    v = parse_line(out, (size_t)(nl - out));
    assert_string_equal(field(v, "level"), "info");
    assert_string_equal(field(v, "msg"), "tenant acme said \"42\"\n");
    assert_int_equal(strlen(field(v, "time")), 24);
    yajl_tree_free(v);

    v = parse_line(nl + 1, strlen(nl + 1) - 1);
    assert_string_equal(field(v, "level"), "warn");
    assert_string_equal(field(v, "msg"), "caf\xc3\xa9 \xef\xbf\xbd");
    yajl_tree_free(v);
    /* Exactly two lines: the debug one was filtered. */
    assert_int_equal(out[len - 1], '\n');
    assert_ptr_equal(strchr(nl + 1, '\n'), out + len - 1);
    free(out);
}

static void test_log_long_message_cut(void **state)
{
    struct capture cap;
    size_t len;
    char *out;
    char *big = malloc(20000);
    yajl_val v;
    const char *msg;
    static const char marker[] = "...[truncated]";

    (void)state;
    assert_non_null(big);
    /* Every third byte a quote, which doubles when escaped. */
    for (size_t i = 0; i < 19999; i++)
        big[i] = (i % 3 == 0) ? '"' : 'x';
    big[19999] = '\0';
    capture_begin(&cap);
    latch_info("%s", big);
    latch_err("%s", big + 1000);
    out = capture_end(&cap, &len);

    /* Two lines, each within 4096 bytes, each valid JSON ending with the marker. */
    for (int line = 0; line < 2; line++) {
        char *nl = strchr(out, '\n');
        assert_non_null(nl);
        assert_true(nl - out + 1 <= 4096);
        v = parse_line(out, (size_t)(nl - out));
        msg = field(v, "msg");
        assert_non_null(msg);
        assert_true(strlen(msg) > 2000);
        assert_string_equal(msg + strlen(msg) - strlen(marker), marker);
        yajl_tree_free(v);
        memmove(out, nl + 1, strlen(nl + 1) + 1);
    }
    assert_string_equal(out, "");
    free(out);
    free(big);
}

static void test_log_error(void **state)
{
    struct capture cap;
    struct latch_error err;
    size_t len;
    char *out;
    yajl_val v;
    const char *path[] = {"status", NULL};

    (void)state;
    latch_error_set(&err, 400, "invalid_grant", "code \"%s\" expired", "c1");
    latch_error_detail(&err, "row %d\tgone", 7);
    capture_begin(&cap);
    latch_log_error("token exchange failed", &err);
    latch_log_error("no error given", NULL);
    out = capture_end(&cap, &len);

    v = parse_line(out, (size_t)(strchr(out, '\n') - out));
    assert_string_equal(field(v, "level"), "error");
    assert_string_equal(field(v, "msg"), "token exchange failed");
    assert_string_equal(field(v, "code"), "invalid_grant");
    assert_string_equal(field(v, "message"), "code \"c1\" expired");
    assert_string_equal(field(v, "detail"), "row 7\tgone");
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, path, yajl_t_number)), 400);
    yajl_tree_free(v);

    v = parse_line(strchr(out, '\n') + 1, strlen(strchr(out, '\n') + 1) - 1);
    assert_string_equal(field(v, "msg"), "no error given");
    assert_null(field(v, "code"));
    yajl_tree_free(v);
    free(out);
}

/* Lines logged while serving a request carry its id and tenant as the access log names them
 * ("requestId", "tenant": a string, or null without a tenant), before the message, so a message
 * cut at the end of the line keeps them. */
static void test_log_request(void **state)
{
    struct capture cap;
    struct latch_error err;
    size_t len;
    char *out, *line, *nl;
    char *big = malloc(9000);
    yajl_val v;
    const char *tenant_path[] = {"tenant", NULL};
    const char *status_path[] = {"status", NULL};

    (void)state;
    assert_non_null(big);
    memset(big, 'y', 8999);
    big[8999] = '\0';
    latch_error_set(&err, 503, "service_unavailable", "Please try again shortly.");
    latch_error_detail(&err, "connection lost");
    latch_log_set_level(LATCH_LOG_INFO);
    capture_begin(&cap);
    latch_log_request(LATCH_LOG_WARN, "0123456789abcdef0123456789abcdef", "acme",
                      "connector %s failed", "c1");
    latch_log_request(LATCH_LOG_INFO, "rid-\"quoted\"", NULL, "no tenant");
    latch_log_request_error("rid-3", "beta", "store call failed", &err);
    latch_log_request(LATCH_LOG_ERROR, "rid-4", "gamma", "%s", big);
    latch_log_request(LATCH_LOG_DEBUG, "rid-5", "acme", "filtered at info");
    out = capture_end(&cap, &len);

    line = out;
    nl = strchr(line, '\n');
    assert_non_null(nl);
    v = parse_line(line, (size_t)(nl - line));
    assert_string_equal(field(v, "level"), "warn");
    assert_string_equal(field(v, "requestId"), "0123456789abcdef0123456789abcdef");
    assert_string_equal(field(v, "tenant"), "acme");
    assert_string_equal(field(v, "msg"), "connector c1 failed");
    /* The same prefix as the access line: time, level, then the request's fields. */
    assert_non_null(strstr(line, "\"level\":\"warn\",\"requestId\":\"0123456789abcdef"));
    yajl_tree_free(v);

    line = nl + 1;
    nl = strchr(line, '\n');
    assert_non_null(nl);
    v = parse_line(line, (size_t)(nl - line));
    assert_string_equal(field(v, "requestId"), "rid-\"quoted\"");
    assert_true(YAJL_IS_NULL(yajl_tree_get(v, tenant_path, yajl_t_any)));
    assert_non_null(yajl_tree_get(v, tenant_path, yajl_t_any));
    assert_string_equal(field(v, "msg"), "no tenant");
    yajl_tree_free(v);

    line = nl + 1;
    nl = strchr(line, '\n');
    assert_non_null(nl);
    v = parse_line(line, (size_t)(nl - line));
    assert_string_equal(field(v, "level"), "error");
    assert_string_equal(field(v, "requestId"), "rid-3");
    assert_string_equal(field(v, "tenant"), "beta");
    assert_string_equal(field(v, "msg"), "store call failed");
    assert_string_equal(field(v, "code"), "service_unavailable");
    assert_string_equal(field(v, "detail"), "connection lost");
    assert_int_equal(YAJL_GET_INTEGER(yajl_tree_get(v, status_path, yajl_t_number)), 503);
    yajl_tree_free(v);

    line = nl + 1;
    nl = strchr(line, '\n');
    assert_non_null(nl);
    assert_true(nl - line + 1 <= 4096);
    v = parse_line(line, (size_t)(nl - line));
    assert_string_equal(field(v, "requestId"), "rid-4");
    assert_string_equal(field(v, "tenant"), "gamma");
    assert_true(strlen(field(v, "msg")) > 3000);
    yajl_tree_free(v);

    /* Four lines: the debug one was filtered. */
    assert_ptr_equal(nl, out + len - 1);
    free(out);
    free(big);
}

static void test_log_raw_line(void **state)
{
    struct capture cap;
    size_t len;
    char *out;

    (void)state;
    capture_begin(&cap);
    latch_log_raw_line("{\"a\":1}", 7);
    latch_log_raw_line("{\"b\":2}\n", 8);
    out = capture_end(&cap, &len);
    assert_string_equal(out, "{\"a\":1}\n{\"b\":2}\n");
    free(out);
}

int main(void)
{
    /* clang-format off */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_appends_and_cuts),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_log_line),
        cmocka_unit_test(test_log_long_message_cut),
        cmocka_unit_test(test_log_error),
        cmocka_unit_test(test_log_request),
        cmocka_unit_test(test_log_raw_line),
    };
    /* clang-format on */

    return cmocka_run_group_tests(tests, NULL, NULL);
}
