/* Strict unpadded base64url for JOSE; see base64url.h. */
#include "jose/base64url.h"

#include <limits.h>

static const char enc_table[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Each alphabet byte maps to its value + 1; 0 marks a byte outside the alphabet ('=', '+',
 * '/', whitespace, NUL, …). */
// clang-format off
static const uint8_t dec_table[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0, 64,
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};
// clang-format on

size_t latch_jose_b64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) == 0 ? 0 : (n % 3) + 1);
}

size_t latch_jose_b64url_decoded_len(size_t n)
{
    return (n / 4) * 3 + ((n % 4) <= 1 ? 0 : (n % 4) - 1);
}

ssize_t latch_jose_b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    /* Sizes whose encoded length would overflow are refused before comparing with cap. */
    if (len > SIZE_MAX / 2 || latch_jose_b64url_encoded_len(len) >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
        out[o++] = enc_table[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
    }
    out[o] = '\0';
    return (ssize_t)o;
}

/* Value of one character, or -1 outside the alphabet. */
static inline int dec(unsigned char ch)
{
    return (int)dec_table[ch] - 1;
}

ssize_t latch_jose_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t rem = len % 4;
    /* A lone trailing character carries only 6 bits: never a whole byte. */
    if (rem == 1 || len > (size_t)SSIZE_MAX)
        return -1;
    if (latch_jose_b64url_decoded_len(len) > cap)
        return -1;

    size_t o = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        int a = dec(s[i]), b = dec(s[i + 1]), c = dec(s[i + 2]), d = dec(s[i + 3]);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (rem == 2) {
        int a = dec(s[i]), b = dec(s[i + 1]);
        /* The low 4 bits of the second character fall outside the byte: they must be zero,
         * or two different strings would decode to the same bytes. */
        if ((a | b) < 0 || (b & 0x0f) != 0)
            return -1;
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
    } else if (rem == 3) {
        int a = dec(s[i]), b = dec(s[i + 1]), c = dec(s[i + 2]);
        if ((a | b | c) < 0 || (c & 0x03) != 0)
            return -1;
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
        out[o++] = (uint8_t)(((b & 0x0f) << 4) | (c >> 2));
    }
    return (ssize_t)o;
}
