/*
 * Unit tests for core/util/hex.c, percent.c and html.c: RFC 4648 §10 base16 vectors and round
 * trips, the hex decoder's refusals; the percent-encoder's unreserved set (RFC 3986 §2.3) and
 * upper-case escapes, round trips through the strict decoder, and the decoder's refusals
 * (truncated or non-hex escapes, NUL raw or as %00); the five HTML characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/arena.h"
#include "util/hex.h"
#include "util/html.h"
#include "util/percent.h"

static void test_hex_vectors(void **state)
{
    /* RFC 4648 §10 (BASE16), written in lower case as the encoder does. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "66",         "666f",        "666f6f",
                                      "666f6f62", "666f6f6261", "666f6f626172"};
    char out[16];
    uint8_t dec[8];

    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        size_t n = strlen(plain[i]);
        assert_int_equal(latch_hex_encode((const uint8_t *)plain[i], n, out, sizeof(out)), 2 * n);
        assert_string_equal(out, enc[i]);
        assert_int_equal(latch_hex_decode(enc[i], 2 * n, dec, sizeof(dec)), n);
        assert_memory_equal(dec, plain[i], n);
    }
    /* The decoder takes upper case too (RFC 4648 prints it so). */
    assert_int_equal(latch_hex_decode("666F6F626172", 12, dec, sizeof(dec)), 6);
    assert_memory_equal(dec, "foobar", 6);
}

static void test_hex_every_byte(void **state)
{
    uint8_t all[256];
    char out[513];
    uint8_t back[256];

    (void)state;
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    assert_int_equal(latch_hex_encode(all, 256, out, sizeof(out)), 512);
    assert_null(strpbrk(out, "ABCDEF"));
    assert_memory_equal(out + 2 * 0xab, "ab", 2);
    assert_int_equal(latch_hex_decode(out, 512, back, sizeof(back)), 256);
    assert_memory_equal(back, all, 256);
    for (int c = 0; c < 256; c++) {
        int want = c >= '0' && c <= '9'   ? c - '0'
                   : c >= 'a' && c <= 'f' ? c - 'a' + 10
                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                          : -1;
        assert_int_equal(latch_hex_digit((unsigned char)c), want);
    }
}

static void test_hex_refusals(void **state)
{
    char out[8];
    uint8_t dec[4];

    (void)state;
    memset(out, 'x', sizeof(out));
    assert_int_equal(latch_hex_encode((const uint8_t *)"abc", 3, out, 6), -1); /* no room for NUL */
    assert_int_equal(out[0], '\0');
    assert_int_equal(latch_hex_encode((const uint8_t *)"abc", 3, out, 7), 6);
    assert_int_equal(latch_hex_decode("abc", 3, dec, sizeof(dec)), -1); /* odd */
    assert_int_equal(latch_hex_decode("0g", 2, dec, sizeof(dec)), -1);  /* not hex */
    assert_int_equal(latch_hex_decode(" 0", 2, dec, sizeof(dec)), -1);  /* space */
    assert_int_equal(latch_hex_decode("0\0", 2, dec, sizeof(dec)), -1); /* NUL */
    assert_int_equal(latch_hex_decode("0011223344", 10, dec, 4), -1);   /* too long */
    assert_int_equal(latch_hex_decode("00112233", 8, dec, 4), 4);
}

static void test_percent_encode(void **state)
{
    struct latch_arena *a = latch_arena_new(0);

    (void)state;
    assert_non_null(a);
    /* Unreserved characters stay; everything else, '+' and '%' and non-ASCII included, is
     * escaped with upper-case digits. */
    assert_string_equal(latch_percent_encode(a, "AZaz09-._~"), "AZaz09-._~");
    assert_string_equal(latch_percent_encode(a, "a b+c&d=e/f?g#h%"),
                        "a%20b%2Bc%26d%3De%2Ff%3Fg%23h%25");
    assert_string_equal(latch_percent_encode(a, "\xc3\xa9\x7f\x01"), "%C3%A9%7F%01");
    assert_string_equal(latch_percent_encode(a, ""), "");
    latch_arena_free(a);
}

static void test_percent_round_trip(void **state)
{
    struct latch_arena *a = latch_arena_new(0);
    char in[256];
    char out[256];

    (void)state;
    assert_non_null(a);
    for (int i = 1; i < 256; i++)
        in[i - 1] = (char)i;
    in[255] = '\0';
    const char *enc = latch_percent_encode(a, in);
    assert_non_null(enc);
    assert_int_equal(latch_percent_decode(out, enc, strlen(enc)), 255);
    assert_memory_equal(out, in, 256);
    latch_arena_free(a);
}

static void test_percent_decode(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(latch_percent_decode(out, "a%2Fb%2fc", 9), 5);
    assert_string_equal(out, "a/b/c");
    assert_int_equal(latch_percent_decode(out, "a+b", 3), 3); /* '+' is the caller's business */
    assert_string_equal(out, "a+b");
    static const char *const bad[] = {"%", "%4", "a%", "%g0", "%0g", "% 1", "%00", "a%00b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (latch_percent_decode(out, bad[i], strlen(bad[i])) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(latch_percent_decode(out, "a\0b", 3), -1); /* a raw NUL */
}

static void test_html_escape(void **state)
{
    struct latch_arena *a = latch_arena_new(0);

    (void)state;
    assert_non_null(a);
    assert_string_equal(latch_html_escape(a, "<a href=\"x\" title='y'>&amp;</a>"),
                        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
    assert_string_equal(latch_html_escape(a, "plain text, \xc3\xa9"), "plain text, \xc3\xa9");
    assert_string_equal(latch_html_escape(a, ""), "");
    latch_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_vectors),        cmocka_unit_test(test_hex_every_byte),
        cmocka_unit_test(test_hex_refusals),       cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_percent_round_trip), cmocka_unit_test(test_percent_decode),
        cmocka_unit_test(test_html_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
