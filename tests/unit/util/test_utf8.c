/* Unit tests for util/utf8.c, and the UTF-8 checks built on it in http/form.c (query and form
 * parameters) and http/router.c (path parameters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/form.h"
#include "http/router.h"
#include "util/utf8.h"

struct utf8_case {
    const char *bytes;
    size_t len;
    bool valid;
};

#define C(s, v)                                                                                    \
    {                                                                                              \
        s, sizeof(s) - 1, v                                                                        \
    }

static const struct utf8_case cases[] = {
    C("", true),
    C("plain ascii", true),
    C("caf\xc3\xa9", true),      /* é */
    C("\xe2\x82\xac", true),     /* € */
    C("\xf0\x9f\x98\x80", true), /* U+1F600 */
    C("\xf4\x8f\xbf\xbf", true), /* U+10FFFF, the last code point */
    C("\xef\xbf\xbf", true),     /* U+FFFF is a noncharacter, still well-formed */
    C("a\0b", true),             /* NUL is U+0000; callers refuse it separately */
    C("\xff", false),            /* never in UTF-8 */
    C("\xff\xfe", false),        /* a UTF-16 byte-order mark */
    C("\xfe", false),
    C("\x80", false), /* stray continuation byte */
    C("a\xbf", false),
    C("\xc0\xaf", false),         /* overlong '/' */
    C("\xc1\xbf", false),         /* overlong */
    C("\xe0\x80\xaf", false),     /* overlong '/' in three bytes */
    C("\xe0\x9f\xbf", false),     /* overlong U+07FF */
    C("\xf0\x80\x80\xaf", false), /* overlong '/' in four bytes */
    C("\xf0\x8f\xbf\xbf", false), /* overlong U+FFFF */
    C("\xed\xa0\x80", false),     /* lone high surrogate U+D800 */
    C("\xed\xbf\xbf", false),     /* low surrogate U+DFFF */
    C("\xed\x9f\xbf", true),      /* U+D7FF, just below the surrogates */
    C("\xf4\x90\x80\x80", false), /* U+110000 */
    C("\xf5\x80\x80\x80", false),
    C("\xc3", false),         /* truncated two-byte sequence */
    C("\xe2\x82", false),     /* truncated three-byte sequence */
    C("\xf0\x9f\x98", false), /* truncated four-byte sequence */
    C("\xe2\x82"
      "a",
      false),                       /* continuation replaced by ASCII */
    C("ok\xc3\xa9\xe2\x82", false), /* valid start, truncated end */
};

static void test_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (latch_utf8_valid(cases[i].bytes, cases[i].len) != cases[i].valid)
            fail_msg("case %zu: expected %s", i, cases[i].valid ? "valid" : "invalid");
    }
    assert_true(latch_utf8_valid_str("caf\xc3\xa9"));
    assert_false(latch_utf8_valid_str("caf\xc3"));
}

static void test_seq_len(void **state)
{
    (void)state;
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"a", 1), 1);
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"\xc3\xa9", 2), 2);
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    /* The length bound counts, not the NUL after it. */
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
    assert_int_equal(latch_utf8_seq_len((const unsigned char *)"\xed\xa0\x80", 3), 0);
}

struct form_case {
    const char *text;
    bool ok;
    const char *invalid; /* form.invalid after a failure, or NULL */
};

static void test_form(void **state)
{
    (void)state;
    static const struct form_case fcases[] = {
        {"client_id=abc&scope=openid", true, NULL},
        {"state=caf%C3%A9", true, NULL},
        {"client_id=%ff%fe", false, "client_id"},
        {"a=1&state=%c0%af", false, "state"},
        {"code=%ed%a0%80", false, "code"},
        {"scope=%e2%82", false, "scope"},
        {"x=1&%ff=1", false, "(parameter name)"},
        {"a=1&b=%ff&c=%fe", false, "b"}, /* the first one is named */
        {"a=%zz&b=%ff", false, NULL},    /* a malformed escape is not a UTF-8 problem */
        {"a=%00", false, NULL},
    };
    struct latch_arena *arena = latch_arena_new(1 << 16);
    assert_non_null(arena);
    for (size_t i = 0; i < sizeof(fcases) / sizeof(fcases[0]); i++) {
        struct latch_form form;
        struct latch_error err;
        latch_rc rc = latch_form_parse(&form, arena, fcases[i].text, strlen(fcases[i].text), &err);
        if ((rc == LATCH_OK) != fcases[i].ok)
            fail_msg("form case %zu (%s): rc %d", i, fcases[i].text, rc);
        if (fcases[i].invalid == NULL) {
            assert_null(form.invalid);
        } else {
            assert_non_null(form.invalid);
            assert_string_equal(form.invalid, fcases[i].invalid);
            assert_int_equal(err.status, 400);
            assert_string_equal(err.code, "invalid_request");
            assert_non_null(strstr(err.message, fcases[i].invalid));
        }
    }
    /* After a UTF-8 failure every field is there, so the authorization endpoint can still read
     * client_id and redirect_uri. */
    struct latch_form form;
    struct latch_error err;
    const char *t = "client_id=app&state=%ff&redirect_uri=https%3A%2F%2Fa.example%2Fcb";
    assert_int_equal(latch_form_parse(&form, arena, t, strlen(t), &err), LATCH_FAIL);
    assert_string_equal(form.invalid, "state");
    assert_string_equal(latch_form_get(&form, "client_id"), "app");
    assert_string_equal(latch_form_get(&form, "redirect_uri"), "https://a.example/cb");
    latch_arena_free(arena);
}

static void h(struct latch_request *req, void *arg)
{
}

static void test_router_params(void **state)
{
    (void)state;
    struct latch_router *r = latch_router_new();
    assert_non_null(r);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_DELETE, "/api/keys/:keyId", h, NULL), LATCH_OK);
    struct latch_arena *arena = latch_arena_new(1 << 16);
    struct latch_route_match m;
    assert_int_equal(latch_router_match(r, LATCH_HTTP_DELETE, "/api/keys/caf%C3%A9", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_string_equal(m.params[0].value, "caf\xc3\xa9");
    static const char *const bad[] = {"/api/keys/%ff", "/api/keys/%c0%af", "/api/keys/%ed%a0%80",
                                      "/api/keys/a%e2%82", "/api/keys/%zz"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(latch_router_match(r, LATCH_HTTP_DELETE, bad[i], arena, &m),
                         LATCH_ROUTE_BAD_PATH);
        assert_int_equal(m.nparams, 1);
        assert_string_equal(m.params[m.nparams - 1].name, "keyId");
    }
    latch_arena_free(arena);
    latch_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_seq_len),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_router_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
