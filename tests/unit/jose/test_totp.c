/*
 * Unit tests for core/jose/totp.c: RFC 6238 Appendix B's SHA-1 vectors (8 digits as printed,
 * and their last 6 digits, which is what a 6-digit TOTP is), RFC 4226 Appendix D's HOTP values,
 * the ±1 step window and its edges, and base32 against RFC 4648 §10's vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "jose/totp.h"

static const uint8_t RFC_KEY[] = "12345678901234567890"; /* RFC 6238 B: SHA-1 seed */

static const struct {
    int64_t t;
    const char *code8;
} rfc6238[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

static void rfc6238_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
        char out[9];
        uint64_t step = (uint64_t)latch_jose_totp_step(rfc6238[i].t);
        assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, step, 8, out), LATCH_OK);
        assert_string_equal(out, rfc6238[i].code8);
        assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, step, 6, out), LATCH_OK);
        assert_string_equal(out, rfc6238[i].code8 + 2);
    }
}

static void rfc4226_hotp(void **state)
{
    (void)state;
    static const char *want[] = {"755224", "287082", "359152", "969429", "338314",
                                 "254676", "287922", "162583", "399871", "520489"};
    for (uint64_t c = 0; c < 10; c++) {
        char out[7];
        assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, c, 6, out), LATCH_OK);
        assert_string_equal(out, want[c]);
    }
}

static void bad_arguments(void **state)
{
    (void)state;
    char out[10];
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, 1, 5, out), LATCH_FAIL);
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, 1, 9, out), LATCH_FAIL);
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 0, 1, 6, out), LATCH_FAIL);
}

static void window(void **state)
{
    (void)state;
    int64_t t = 1111111111; /* step 37037037 */
    int64_t now = latch_jose_totp_step(t);
    char code[7];
    int64_t got = -1;
    for (int64_t d = -1; d <= 1; d++) {
        assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, (uint64_t)(now + d), 6, code), LATCH_OK);
        assert_true(latch_jose_totp_match(RFC_KEY, 20, code, t, &got));
        assert_int_equal(got, now + d);
    }
    /* Two steps away is outside the window. */
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, (uint64_t)(now + 2), 6, code), LATCH_OK);
    assert_false(latch_jose_totp_match(RFC_KEY, 20, code, t, &got));
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, (uint64_t)(now - 2), 6, code), LATCH_OK);
    assert_false(latch_jose_totp_match(RFC_KEY, 20, code, t, &got));
    /* Shapes that are not six digits never match. */
    assert_false(latch_jose_totp_match(RFC_KEY, 20, "05047", t, &got));
    assert_false(latch_jose_totp_match(RFC_KEY, 20, "0504711", t, &got));
    assert_false(latch_jose_totp_match(RFC_KEY, 20, "", t, &got));
    assert_false(latch_jose_totp_match(RFC_KEY, 20, NULL, t, &got));
    /* Another key does not give the same code. */
    assert_int_equal(latch_jose_totp_code(RFC_KEY, 20, (uint64_t)now, 6, code), LATCH_OK);
    assert_false(latch_jose_totp_match((const uint8_t *)"12345678901234567891", 20, code, t, &got));
    /* Step boundaries: t = 29 and 30 are different steps. */
    assert_int_equal(latch_jose_totp_step(29), 0);
    assert_int_equal(latch_jose_totp_step(30), 1);
}

static void base32_rfc4648(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},
             {"f", "MY"},
             {"fo", "MZXQ"},
             {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"},
             {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char enc[32];
        uint8_t dec[32];
        int n =
            latch_jose_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), enc, sizeof(enc));
        assert_int_equal(n, (int)strlen(v[i].out));
        assert_string_equal(enc, v[i].out);
        n = latch_jose_base32_decode(v[i].out, dec, sizeof(dec));
        assert_int_equal(n, (int)strlen(v[i].in));
        assert_memory_equal(dec, v[i].in, strlen(v[i].in));
    }
    uint8_t dec[32];
    /* Lower case, spaces and padding as apps show them. */
    assert_int_equal(latch_jose_base32_decode("mzxw 6ytb oi======", dec, sizeof(dec)), 6);
    assert_memory_equal(dec, "foobar", 6);
    /* Not base32, data after padding, non-zero leftover bits, too small a buffer. */
    assert_int_equal(latch_jose_base32_decode("MZXW1", dec, sizeof(dec)), -1);
    assert_int_equal(latch_jose_base32_decode("MY=A", dec, sizeof(dec)), -1);
    assert_int_equal(latch_jose_base32_decode("MZ", dec, sizeof(dec)), -1);
    assert_int_equal(latch_jose_base32_decode("MZXW6YTBOI", dec, 5), -1);
    char small[4];
    assert_int_equal(latch_jose_base32_encode((const uint8_t *)"foo", 3, small, sizeof(small)), -1);
    /* The RFC 6238 key as an app would receive it round-trips to the same codes. */
    char b32[LATCH_TOTP_SECRET_B32 + 1];
    assert_int_equal(latch_jose_base32_encode(RFC_KEY, 20, b32, sizeof(b32)), 32);
    assert_string_equal(b32, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc6238_vectors), cmocka_unit_test(rfc4226_hotp),
        cmocka_unit_test(bad_arguments),   cmocka_unit_test(window),
        cmocka_unit_test(base32_rfc4648),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
