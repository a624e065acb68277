/*
 * Unit tests for core/util/base64.c. base64url (JOSE): the RFC 4648 §10 vectors in the URL-safe
 * unpadded form, the two URL-safe characters, exact and short output capacities, round trips of
 * every length, and the strict decoder: padding, foreign characters, 4k+1 lengths, non-zero
 * trailing bits (checked exhaustively: a string decodes exactly when it is the encoding of what
 * it decodes to). Standard padded base64 (HTTP Basic): the RFC 4648 §10 vectors as printed, round
 * trips, and the padding rules. The operator-key decoder: both alphabets, optional padding, never
 * both alphabets in one text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

static void test_rfc4648_vectors(void **state)
{
    /* RFC 4648 §10, with the padding removed as RFC 7515 §2 requires. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char out[32];
    uint8_t dec[32];

    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        size_t n = strlen(plain[i]);
        assert_int_equal(latch_base64url_encoded_len(n), strlen(enc[i]));
        assert_int_equal(latch_base64url_encode((const uint8_t *)plain[i], n, out, sizeof(out)),
                         strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        assert_int_equal(latch_base64url_decode(enc[i], strlen(enc[i]), dec, sizeof(dec)), n);
        assert_memory_equal(dec, plain[i], n);
    }
}

static void test_url_safe_alphabet(void **state)
{
    /* Standard base64 gives "-_8" as "+/8=": the bytes that exercise values 62 and 63. */
    static const uint8_t bytes[] = {0xfb, 0xff};
    static const uint8_t all_ones[] = {0xff, 0xff, 0xff};
    char out[8];
    uint8_t dec[8];

    (void)state;
    assert_int_equal(latch_base64url_encode(bytes, 2, out, sizeof(out)), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(latch_base64url_decode("-_8", 3, dec, sizeof(dec)), 2);
    assert_memory_equal(dec, bytes, 2);
    assert_int_equal(latch_base64url_encode(all_ones, 3, out, sizeof(out)), 4);
    assert_string_equal(out, "____");
    /* The standard alphabet's characters are refused. */
    assert_int_equal(latch_base64url_decode("+/8", 3, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64url_decode("////", 4, dec, sizeof(dec)), -1);
}

static void test_encode_capacity(void **state)
{
    static const uint8_t in[] = "foobar";
    char out[16];

    (void)state;
    /* 8 characters need 9 bytes with the NUL. */
    memset(out, 'x', sizeof(out));
    assert_int_equal(latch_base64url_encode(in, 6, out, 8), -1);
    assert_int_equal(out[0], '\0');
    assert_int_equal(latch_base64url_encode(in, 6, out, 9), 8);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(latch_base64url_encode(in, 6, out, 0), -1);
    assert_int_equal(latch_base64url_encode(in, 0, out, 1), 0);
    assert_string_equal(out, "");
}

static void test_decode_capacity(void **state)
{
    uint8_t dec[8];

    (void)state;
    /* "Zm9vYmFy" is 6 bytes: a 5-byte buffer is refused, a 6-byte one is enough. */
    assert_int_equal(latch_base64url_decode("Zm9vYmFy", 8, dec, 5), -1);
    assert_int_equal(latch_base64url_decode("Zm9vYmFy", 8, dec, 6), 6);
    assert_int_equal(latch_base64url_decode("", 0, dec, 0), 0);
}

static void test_lengths(void **state)
{
    (void)state;
    for (size_t n = 0; n < 100; n++) {
        size_t e = latch_base64url_encoded_len(n);
        assert_int_equal(e, (n * 8 + 5) / 6);
        assert_int_equal(latch_base64_decoded_len(e), n);
    }
    assert_int_equal(latch_base64_decoded_len(5), 3); /* an upper bound, 4k+1 is invalid */
}

static void test_round_trip_every_length(void **state)
{
    uint8_t in[300];
    char enc[410];
    uint8_t dec[300];

    (void)state;
    srand(7);
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rand();
        ssize_t e = latch_base64url_encode(in, n, enc, sizeof(enc));
        assert_int_equal(e, latch_base64url_encoded_len(n));
        assert_int_equal(strlen(enc), (size_t)e);
        assert_null(strpbrk(enc, "+/="));
        assert_int_equal(latch_base64url_decode(enc, (size_t)e, dec, n), n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_decode_rejects(void **state)
{
    static const char *const bad[] = {
        "Zg==",         /* padding */
        "Zm8=",         /* padding */
        "Zm9vY",        /* 4k+1 characters */
        "Z",            /* 4k+1 characters */
        "Zh",           /* 'h' leaves non-zero bits after the byte */
        "Zm9",          /* '9' leaves non-zero bits after the two bytes */
        "Zm 9v",        /* whitespace */
        "Zm9v\n",       /* newline */
        "Zm.v",         /* a dot, as between JWS parts */
        "Zm9v\xc3\xa9", /* non-ASCII */
    };
    uint8_t dec[16];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(latch_base64url_decode(bad[i], strlen(bad[i]), dec, sizeof(dec)), -1);
    /* A NUL inside the given length is a foreign byte too. */
    assert_int_equal(latch_base64url_decode("Zm\0v", 4, dec, sizeof(dec)), -1);
}

/* Every string of 2 and 3 characters over the whole byte range decodes exactly when it is the
 * canonical encoding of its result, so no two strings decode to the same bytes. */
static void test_canonical_exhaustive(void **state)
{
    char s[4];
    char again[8];
    uint8_t dec[4];
    size_t accepted2 = 0;
    size_t accepted3 = 0;

    (void)state;
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            ssize_t n = latch_base64url_decode(s, 2, dec, sizeof(dec));
            if (n >= 0) {
                accepted2++;
                assert_int_equal(n, 1);
                assert_int_equal(latch_base64url_encode(dec, 1, again, sizeof(again)), 2);
                assert_memory_equal(again, s, 2);
            }
        }
    }
    /* 256 one-byte values, one encoding each. */
    assert_int_equal(accepted2, 256);

    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int a = 0; a < 64; a++) {
        for (int b = 0; b < 64; b++) {
            for (int c = 0; c < 64; c++) {
                s[0] = alphabet[a];
                s[1] = alphabet[b];
                s[2] = alphabet[c];
                ssize_t n = latch_base64url_decode(s, 3, dec, sizeof(dec));
                if (n >= 0) {
                    accepted3++;
                    assert_int_equal(latch_base64url_encode(dec, 2, again, sizeof(again)), 3);
                    assert_memory_equal(again, s, 3);
                }
            }
        }
    }
    assert_int_equal(accepted3, 65536);
}

static void test_std_rfc4648_vectors(void **state)
{
    /* RFC 4648 §10, exactly as printed there. */
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    char out[32];
    uint8_t dec[32];

    (void)state;
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        size_t n = strlen(plain[i]);
        assert_int_equal(latch_base64_encoded_len(n), strlen(enc[i]));
        assert_int_equal(latch_base64_encode((const uint8_t *)plain[i], n, out, sizeof(out)),
                         strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        assert_int_equal(latch_base64_decode(enc[i], strlen(enc[i]), dec, sizeof(dec)), n);
        assert_memory_equal(dec, plain[i], n);
        /* The operator-key decoder takes the padded form and the unpadded one. */
        assert_int_equal(latch_base64_decode_any(enc[i], strlen(enc[i]), dec, sizeof(dec)), n);
        assert_memory_equal(dec, plain[i], n);
        size_t bare = strcspn(enc[i], "=");
        assert_int_equal(latch_base64_decode_any(enc[i], bare, dec, sizeof(dec)), n);
        assert_memory_equal(dec, plain[i], n);
    }
}

static void test_std_alphabet_and_capacity(void **state)
{
    static const uint8_t bytes[] = {0xfb, 0xff};
    char out[8];
    uint8_t dec[8];

    (void)state;
    assert_int_equal(latch_base64_encode(bytes, 2, out, sizeof(out)), 4);
    assert_string_equal(out, "+/8=");
    assert_int_equal(latch_base64_decode("+/8=", 4, dec, sizeof(dec)), 2);
    assert_memory_equal(dec, bytes, 2);
    /* The URL-safe characters are foreign to standard base64. */
    assert_int_equal(latch_base64_decode("-_8=", 4, dec, sizeof(dec)), -1);
    /* "Zm9vYg==" needs 9 bytes with the NUL; decodes to 4, so 3 are refused. */
    memset(out, 'x', sizeof(out));
    assert_int_equal(latch_base64_encode((const uint8_t *)"foob", 4, out, 8), -1);
    assert_int_equal(out[0], '\0');
    char big[9];
    assert_int_equal(latch_base64_encode((const uint8_t *)"foob", 4, big, 9), 8);
    assert_int_equal(latch_base64_decode("Zm9vYg==", 8, dec, 3), -1);
    assert_int_equal(latch_base64_decode("Zm9vYg==", 8, dec, 4), 4);
}

static void test_std_round_trip(void **state)
{
    uint8_t in[200];
    char enc[280];
    uint8_t dec[200];

    (void)state;
    srand(11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)rand();
        ssize_t e = latch_base64_encode(in, n, enc, sizeof(enc));
        assert_int_equal(e, latch_base64_encoded_len(n));
        assert_int_equal(e % 4, 0);
        assert_null(strpbrk(enc, "-_"));
        assert_int_equal(latch_base64_decode(enc, (size_t)e, dec, n), n);
        assert_memory_equal(dec, in, n);
        assert_int_equal(latch_base64_decode_any(enc, (size_t)e, dec, n), n);
        assert_memory_equal(dec, in, n);
    }
}

static void test_std_decode_rejects(void **state)
{
    static const char *const bad[] = {
        "Zg",       /* padding is required */
        "Zm8",      /* padding is required */
        "Zg=",      /* incomplete padding */
        "Z===",     /* three '=' */
        "Zg==Zg==", /* padding in the middle */
        "Zm=v",     /* '=' before a character */
        "Zh==",     /* non-zero bits after the byte */
        "Zm9=",     /* non-zero bits after the two bytes */
        "Zm9v\r\n", /* line break (MIME style) */
        " Zm9v",    /* leading space */
        "Zm9v====", /* a group of padding only */
        "====",     /* padding only */
        "Zm9vY_==", /* a URL-safe character */
    };
    uint8_t dec[16];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (latch_base64_decode(bad[i], strlen(bad[i]), dec, sizeof(dec)) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
    assert_int_equal(latch_base64_decode("Zm\0v", 4, dec, sizeof(dec)), -1);
}

static void test_any_rules(void **state)
{
    uint8_t dec[16];

    (void)state;
    /* Either alphabet, padded or not. */
    assert_int_equal(latch_base64_decode_any("+/8=", 4, dec, sizeof(dec)), 2);
    assert_int_equal(latch_base64_decode_any("+/8", 3, dec, sizeof(dec)), 2);
    assert_int_equal(latch_base64_decode_any("-_8=", 4, dec, sizeof(dec)), 2);
    assert_int_equal(latch_base64_decode_any("-_8", 3, dec, sizeof(dec)), 2);
    assert_int_equal(dec[0], 0xfb);
    assert_int_equal(dec[1], 0xff);
    /* Never both alphabets in one text. */
    assert_int_equal(latch_base64_decode_any("+_8=", 4, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64_decode_any("-/8", 3, dec, sizeof(dec)), -1);
    /* Padding only completes the last group; bits and lengths as strict as the others. */
    assert_int_equal(latch_base64_decode_any("Zg=", 3, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64_decode_any("Zg===", 5, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64_decode_any("Zh", 2, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64_decode_any("Zm9vY", 5, dec, sizeof(dec)), -1);
    assert_int_equal(latch_base64_decode_any("Zm9v\n", 5, dec, sizeof(dec)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_url_safe_alphabet),
        cmocka_unit_test(test_encode_capacity),
        cmocka_unit_test(test_decode_capacity),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_round_trip_every_length),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_canonical_exhaustive),
        cmocka_unit_test(test_std_rfc4648_vectors),
        cmocka_unit_test(test_std_alphabet_and_capacity),
        cmocka_unit_test(test_std_round_trip),
        cmocka_unit_test(test_std_decode_rejects),
        cmocka_unit_test(test_any_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
