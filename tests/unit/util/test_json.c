/* Unit tests for util/json.c: the writer (escaping, UTF-8, nesting, implicit keys, numbers,
 * pretty-printing, trees) and the bounded reader latch_json_parse() (size, depth, members,
 * duplicate keys, NUL, comments, UTF-8 and surrogates, valid edge cases). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/json.h"

/* Takes the writer's text, compares it with want, frees it. */
static void expect_text(struct latch_json *j, const char *want)
{
    size_t len = 0;
    char *text = latch_json_take(j, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(want));
    assert_string_equal(text, want);
    free(text);
}

static void test_escaping(void **state)
{
    (void)state;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_string_n(&j, "a\"b\\c\n\r\t\x01\x1f\x7f/", 12);
    expect_text(&j, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\x7f/\"");

    /* A NUL in a counted string is escaped, never a raw byte. */
    latch_json_init(&j);
    latch_json_string_n(&j, "a\0b", 3);
    expect_text(&j, "\"a\\u0000b\"");

    /* Well-formed UTF-8 (2, 3 and 4 bytes, U+2028) passes unescaped. */
    latch_json_init(&j);
    latch_json_string(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8");
    expect_text(&j, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8\"");

    /* Ill-formed UTF-8: U+FFFD per byte that starts no sequence; the writer notes it. */
    latch_json_init(&j);
    latch_json_string(&j, "a\xff"
                          "b\xc0\xaf"
                          "c\xed\xa0\x80");
    assert_true(j.bad_utf8);
    expect_text(&j, "\"a\xef\xbf\xbd"
                    "b\xef\xbf\xbd\xef\xbf\xbd"
                    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
    /* A truncated sequence at the end. */
    latch_json_init(&j);
    latch_json_string(&j, "\xe2\x82");
    expect_text(&j, "\"\xef\xbf\xbd\xef\xbf\xbd\"");

    /* Strict: the same fails the writer. */
    latch_json_init_strict(&j);
    latch_json_string(&j, "a\xff");
    assert_null(latch_json_take(&j, NULL));
    latch_json_init_strict(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "\xc3");
    latch_json_int(&j, 1);
    latch_json_end_object(&j);
    assert_null(latch_json_take(&j, NULL));
    /* Strict accepts well-formed text. */
    latch_json_init_strict(&j);
    latch_json_string(&j, "\xc3\xa9");
    expect_text(&j, "\"\xc3\xa9\"");
}

static void test_nesting_and_keys(void **state)
{
    (void)state;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "a");
    latch_json_begin_array(&j);
    latch_json_int(&j, 1);
    latch_json_begin_object(&j);
    latch_json_end_object(&j);
    latch_json_begin_array(&j);
    latch_json_end_array(&j);
    latch_json_null(&j);
    latch_json_end_array(&j);
    /* Without latch_json_key(): a string where a key is due is the key. */
    latch_json_string(&j, "k\"");
    latch_json_string(&j, "v");
    latch_json_string(&j, "o");
    latch_json_begin_object(&j);
    latch_json_string(&j, "in");
    latch_json_bool(&j, false);
    latch_json_end_object(&j);
    latch_json_key(&j, "raw");
    latch_json_raw(&j, "[1,2]", 5);
    latch_json_end_object(&j);
    expect_text(&j, "{\"a\":[1,{},[],null],\"k\\\"\":\"v\",\"o\":{\"in\":false},\"raw\":[1,2]}");

    /* Nesting is bounded: level 64 is fine, 65 fails the writer. */
    for (int depth = 64; depth <= 65; depth++) {
        latch_json_init(&j);
        for (int i = 0; i < depth; i++)
            latch_json_begin_array(&j);
        for (int i = 0; i < depth; i++)
            latch_json_end_array(&j);
        char *text = latch_json_take(&j, NULL);
        if (depth == 64) {
            assert_non_null(text);
            assert_int_equal(strlen(text), 128);
        } else {
            assert_null(text);
        }
        free(text);
    }
}

static void test_numbers(void **state)
{
    (void)state;
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_array(&j);
    latch_json_int(&j, 0);
    latch_json_int(&j, -1);
    latch_json_int(&j, INT64_MAX);
    latch_json_int(&j, INT64_MIN);
    static const char *const good[] = {"0", "-0", "12", "1.5", "-0.25e+10", "1E-3", "9e9"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        latch_json_number(&j, good[i], strlen(good[i]));
    latch_json_end_array(&j);
    expect_text(&j, "[0,-1,9223372036854775807,-9223372036854775808,0,-0,12,1.5,-0.25e+10,1E-3,"
                    "9e9]");
    static const char *const bad[] = {"",    "-",   "01",  "1.", ".5", "1e",
                                      "1e+", "NaN", "0x1", "1 ", "+1", "Infinity"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        latch_json_init(&j);
        latch_json_number(&j, bad[i], strlen(bad[i]));
        char *text = latch_json_take(&j, NULL);
        if (text != NULL)
            fprintf(stderr, "accepted number %s\n", bad[i]);
        assert_null(text);
    }
}

static void test_pretty_and_tree(void **state)
{
    (void)state;
    struct latch_json j;
    latch_json_init(&j);
    j.indent = 2;
    latch_json_begin_array(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "id");
    latch_json_string(&j, "t1");
    latch_json_key(&j, "tags");
    latch_json_begin_array(&j);
    latch_json_end_array(&j);
    latch_json_end_object(&j);
    latch_json_end_array(&j);
    /* As JSON.stringify(v, null, 2). */
    expect_text(&j, "[\n  {\n    \"id\": \"t1\",\n    \"tags\": []\n  }\n]");

    /* A parsed tree written back is the same text (compact, member order kept). */
    const char *in = "{\"b\":[1,2.5,-3e2,true,false,null,\"x\\u00e9\"],\"a\":{\"c\":{}}}";
    struct latch_json_limits lim = {.max_bytes = 1024, .max_depth = 8};
    struct latch_error err = {0};
    yajl_val v = NULL;
    assert_int_equal(latch_json_parse(in, strlen(in), &lim, &v, &err), LATCH_OK);
    latch_json_init(&j);
    latch_json_value(&j, v);
    yajl_tree_free(v);
    expect_text(&j, "{\"b\":[1,2.5,-3e2,true,false,null,\"x\xc3\xa9\"],\"a\":{\"c\":{}}}");

    /* The secret writer grows and clears like the others. */
    latch_json_init_secret(&j);
    latch_json_begin_array(&j);
    for (int i = 0; i < 200; i++)
        latch_json_string(&j, "secret-value");
    latch_json_end_array(&j);
    size_t len = 0;
    char *text = latch_json_take(&j, &len);
    assert_non_null(text);
    assert_int_equal(len, 2 + 200 * 14 + 199);
    free(text);
}

/* ---- reader ---- */

struct parse_case {
    const char *text;
    size_t len;
    const char *problem; /* NULL: accepted */
};

#define OK(s)                                                                                      \
    {                                                                                              \
        s, sizeof(s) - 1, NULL                                                                     \
    }
#define NO(s, p)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1, p                                                                        \
    }

static const struct parse_case cases[] = {
    OK("{}"),
    OK("[]"),
    OK("0"),
    OK("\"\""),
    OK(" { \"a\" : [ 1 , { \"b\" : null } ] } "),
    OK("{\"a\":1,\"A\":2,\"a \":3}"),        /* distinct keys, not duplicates */
    OK("{\"a\":{\"x\":1},\"b\":{\"x\":1}}"), /* the same key in different objects */
    OK("[{\"a\":1},{\"a\":1}]"),
    OK("{\"s\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}"),
    OK("{\"s\":\"\\ud83d\\ude00\"}"), /* a surrogate pair */
    OK("{\"s\":\"\\u0001 \\u00e9 \\uffff\"}"),
    OK("{\"s\":\"a/b//c\\/\"}"), /* slashes in strings are not comments */
    OK("{\"s\":\"\\\\u0000\"}"), /* an escaped backslash, then text */
    OK("[[[[[[[[1]]]]]]]]"),     /* depth 8 = the bound */
    NO("", "is empty"),
    NO("[[[[[[[[[1]]]]]]]]]", "nested too deeply"),
    NO("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}", "nested too deeply"),
    NO("{\"a\":1,\"a\":2}", "duplicate key `a`"),
    NO("{\"n\":{\"k\":1,\"j\":2,\"k\":3}}", "duplicate key `k`"),
    NO("[{\"a\":1,\"a\":1}]", "duplicate key `a`"),
    NO("{\"\\u0061\":1,\"a\":2}", "duplicate key `a`"), /* equal once decoded */
    NO("{\"a\":1}\0", "contains a NUL byte"),
    NO("{\"a\":\"x\\u0000\"}", "\\u0000 is not allowed in strings"),
    NO("{\"a\":1}//", "contains a comment"),
    NO("/*c*/{}", "contains a comment"),
    NO("{\"a\":\"\xff\"}", "is not valid UTF-8"),
    NO("{\"a\":\"\xc0\xaf\"}", "is not valid UTF-8"),
    NO("{\"a\":\"\xed\xa0\x80\"}", "is not valid UTF-8"),
    NO("{\"a\":\"\xe2\x82\"}", "is not valid UTF-8"),
    NO("{\"\xf5\x80\x80\x80\":1}", "is not valid UTF-8"),
    NO("{\"a\":\"\\udc00\"}", "a string holds a lone UTF-16 surrogate"),
    NO("{\"a\":\"\\ud800\"}", "a string holds a lone UTF-16 surrogate"),
    NO("{\"a\":\"\\ud800\\u0041\"}", "a string holds a lone UTF-16 surrogate"),
    NO("{\"a\":1,}", "is not valid JSON"),
    NO("{\"a\":1} {}", "is not valid JSON"),
    /* Found by fuzz_connector_json: yajl alone accepts an unfinished string after the value. */
    NO("{}\"ZZZ", "is not valid JSON"),
    NO("{\"a\":1}\"", "is not valid JSON"),
    NO("[1] \"x", "is not valid JSON"),
    NO("{'a':1}", "is not valid JSON"),
    NO("{\"a\":\"x\ny\"}", "is not valid JSON"),
    NO("[1,2", "is not valid JSON"),
};

static void test_reader_cases(void **state)
{
    (void)state;
    struct latch_json_limits lim = {.max_bytes = 4096, .max_depth = 8};
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        const struct parse_case *c = &cases[i];
        struct latch_error err = {0};
        yajl_val v = (yajl_val)&err; /* must be reset */
        latch_rc rc = latch_json_parse(c->text, c->len, &lim, &v, &err);
        if ((rc == LATCH_OK) != (c->problem == NULL) ||
            (c->problem != NULL && strcmp(err.message, c->problem) != 0))
            fprintf(stderr, "case %zu: %.*s -> rc %d, %s\n", i, (int)c->len, c->text, rc,
                    err.message);
        if (c->problem == NULL) {
            assert_int_equal(rc, LATCH_OK);
            assert_non_null(v);
            yajl_tree_free(v);
        } else {
            assert_int_equal(rc, LATCH_FAIL);
            assert_null(v);
            assert_int_equal(err.status, 400);
            assert_string_equal(err.code, "invalid_request");
            assert_string_equal(err.message, c->problem);
        }
    }
}

static void test_reader_limits(void **state)
{
    (void)state;
    struct latch_error err = {0};
    yajl_val v = NULL;

    /* Size: max_bytes is allowed, one more is not. The text need not be NUL-terminated. */
    char buf[64];
    memset(buf, ' ', sizeof(buf));
    memcpy(buf, "{\"a\":1}", 7);
    struct latch_json_limits lim = {.max_bytes = 32, .max_depth = 4};
    assert_int_equal(latch_json_parse(buf, 32, &lim, &v, &err), LATCH_OK);
    yajl_tree_free(v);
    assert_int_equal(latch_json_parse(buf, 33, &lim, &v, &err), LATCH_FAIL);
    assert_string_equal(err.message, "is too large");
    /* Only len bytes are read: a prefix that is not JSON is refused even if more follows. */
    assert_int_equal(latch_json_parse("{\"a\":1}", 5, &lim, &v, &err), LATCH_FAIL);
    assert_string_equal(err.message, "is not valid JSON");

    /* Texts longer than the reader's stack buffer take the heap path. */
    size_t big = 200000;
    char *text = malloc(big + 16);
    if (text == NULL) { /* not assert_non_null(): GCC's -Warray-bounds needs to see the return */
        fail();
        return;
    }
    size_t k = (size_t)sprintf(text, "{\"s\":\"");
    memset(text + k, 'y', big);
    k += big;
    k += (size_t)sprintf(text + k, "\"}");
    lim.max_bytes = k;
    assert_int_equal(latch_json_parse(text, k, &lim, &v, &err), LATCH_OK);
    assert_int_equal(strlen(v->u.object.values[0]->u.string), big);
    yajl_tree_free(v);
    free(text);

    /* Members: max_members is allowed, one more is not; 0 means no bound. */
    char obj[4096];
    for (size_t n = 3; n <= 4; n++) {
        size_t o = 0;
        obj[o++] = '{';
        for (size_t i = 0; i < n; i++)
            o += (size_t)sprintf(obj + o, "%s\"k%zu\":%zu", i ? "," : "", i, i);
        obj[o++] = '}';
        struct latch_json_limits m = {.max_bytes = sizeof(obj), .max_depth = 2, .max_members = 3};
        latch_rc rc = latch_json_parse(obj, o, &m, &v, &err);
        assert_int_equal(rc == LATCH_OK, n == 3);
        yajl_tree_free(v);
        m.max_members = 0;
        assert_int_equal(latch_json_parse(obj, o, &m, &v, &err), LATCH_OK);
        yajl_tree_free(v);
    }
    struct latch_json_limits m = {.max_bytes = 64, .max_depth = 2, .max_members = 1};
    assert_int_equal(latch_json_parse("{\"a\":1,\"b\":2}", 13, &m, &v, &err), LATCH_FAIL);
    assert_string_equal(err.message, "an object has too many members");

    /* A duplicate among many keys is found (sorted, not pairwise). */
    size_t o = 0;
    obj[o++] = '{';
    for (int i = 0; i < 300; i++)
        o += (size_t)sprintf(obj + o, "%s\"k%d\":1", i ? "," : "", i == 299 ? 7 : i);
    obj[o++] = '}';
    struct latch_json_limits many = {.max_bytes = sizeof(obj), .max_depth = 2};
    assert_int_equal(latch_json_parse(obj, o, &many, &v, &err), LATCH_FAIL);
    assert_string_equal(err.message, "duplicate key `k7`");

    /* require_object. */
    struct latch_json_limits ro = {.max_bytes = 64, .max_depth = 2, .require_object = true};
    assert_int_equal(latch_json_parse("[1]", 3, &ro, &v, &err), LATCH_FAIL);
    assert_string_equal(err.message, "must be a JSON object");
    assert_int_equal(latch_json_parse("{}", 2, &ro, &v, &err), LATCH_OK);
    yajl_tree_free(v);

    /* Depth 0 allows scalars only. */
    struct latch_json_limits flat = {.max_bytes = 64, .max_depth = 0};
    assert_int_equal(latch_json_parse("\"x\"", 3, &flat, &v, &err), LATCH_OK);
    yajl_tree_free(v);
    assert_int_equal(latch_json_parse("[]", 2, &flat, &v, &err), LATCH_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),     cmocka_unit_test(test_nesting_and_keys),
        cmocka_unit_test(test_numbers),      cmocka_unit_test(test_pretty_and_tree),
        cmocka_unit_test(test_reader_cases), cmocka_unit_test(test_reader_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
