/*
 * base64 and base64url (see base64.h): one encoder and one strict decoder, each parameterised by
 * the alphabet and the padding rule, behind the public spellings.
 */
#include "util/base64.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define ALPHA_STD 1u /* '+' '/' */
#define ALPHA_URL 2u /* '-' '_' */

enum pad_rule {
    PAD_NONE,     /* '=' is a foreign character */
    PAD_REQUIRED, /* the length is a multiple of 4, '=' completing the last group */
    PAD_OPTIONAL, /* either, but '=' only ever completes the last group */
};

static const char std_table[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_table[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t latch_base64_encoded_len(size_t n)
{
    return (n / 3 + (n % 3 != 0)) * 4;
}

size_t latch_base64url_encoded_len(size_t n)
{
    return (n / 3) * 4 + ((n % 3) == 0 ? 0 : (n % 3) + 1);
}

size_t latch_base64_decoded_len(size_t n)
{
    return (n / 4) * 3 + ((n % 4) <= 1 ? 0 : (n % 4) - 1);
}

static ssize_t encode(const uint8_t *in, size_t len, char *out, size_t cap, const char *table,
                      bool pad)
{
    /* Sizes whose encoded length would overflow are refused before comparing with cap. */
    size_t need = pad ? latch_base64_encoded_len(len) : latch_base64url_encoded_len(len);
    if (len > SIZE_MAX / 2 || need >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = table[(v >> 18) & 63];
        out[o++] = table[(v >> 12) & 63];
        out[o++] = table[(v >> 6) & 63];
        out[o++] = table[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = table[(v >> 18) & 63];
        out[o++] = table[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = table[(v >> 18) & 63];
        out[o++] = table[(v >> 12) & 63];
        out[o++] = table[(v >> 6) & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (ssize_t)o;
}

ssize_t latch_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    return encode(in, len, out, cap, std_table, true);
}

ssize_t latch_base64url_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    return encode(in, len, out, cap, url_table, false);
}

/* Value 0..63 of one character, or -1 outside the alphabets allowed; *seen collects which
 * alphabet-specific characters occurred. Branches, not a table: the two alphabets differ only
 * in 62 and 63. */
static inline int digit(unsigned char c, unsigned allowed, unsigned *seen)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if ((allowed & ALPHA_STD) && (c == '+' || c == '/')) {
        *seen |= ALPHA_STD;
        return c == '+' ? 62 : 63;
    }
    if ((allowed & ALPHA_URL) && (c == '-' || c == '_')) {
        *seen |= ALPHA_URL;
        return c == '-' ? 62 : 63;
    }
    return -1;
}

static ssize_t decode(const char *in, size_t len, uint8_t *out, size_t cap, unsigned allowed,
                      enum pad_rule rule)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned seen = 0;
    size_t pad = 0;

    if (len > (size_t)SSIZE_MAX)
        return -1;
    if (rule == PAD_REQUIRED && len % 4 != 0)
        return -1;
    if (rule != PAD_NONE) {
        while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
            pad++;
        /* '=' only completes a 4-character group. */
        if (pad > 0 && len % 4 != 0)
            return -1;
    }
    len -= pad;
    size_t rem = len % 4;
    /* A lone trailing character carries only 6 bits: never a whole byte. With padding, this
     * also refuses a group of one character and three '=' (the third '=' is left in the text
     * and is a foreign character below anyway). */
    if (rem == 1 || latch_base64_decoded_len(len) > cap)
        return -1;

    size_t o = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        int a = digit(s[i], allowed, &seen), b = digit(s[i + 1], allowed, &seen);
        int c = digit(s[i + 2], allowed, &seen), d = digit(s[i + 3], allowed, &seen);
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (rem == 2) {
        int a = digit(s[i], allowed, &seen), b = digit(s[i + 1], allowed, &seen);
        /* The low 4 bits of the second character fall outside the byte: they must be zero,
         * or two different strings would decode to the same bytes. */
        if ((a | b) < 0 || (b & 0x0f) != 0)
            return -1;
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
    } else if (rem == 3) {
        int a = digit(s[i], allowed, &seen), b = digit(s[i + 1], allowed, &seen);
        int c = digit(s[i + 2], allowed, &seen);
        if ((a | b | c) < 0 || (c & 0x03) != 0)
            return -1;
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
        out[o++] = (uint8_t)(((b & 0x0f) << 4) | (c >> 2));
    }
    /* One text, one alphabet: "+" next to "_" is a typo or a splice, not a key. */
    if (seen == (ALPHA_STD | ALPHA_URL))
        return -1;
    return (ssize_t)o;
}

ssize_t latch_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    return decode(in, len, out, cap, ALPHA_STD, PAD_REQUIRED);
}

ssize_t latch_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    return decode(in, len, out, cap, ALPHA_URL, PAD_NONE);
}

ssize_t latch_base64_decode_any(const char *in, size_t len, uint8_t *out, size_t cap)
{
    return decode(in, len, out, cap, ALPHA_STD | ALPHA_URL, PAD_OPTIONAL);
}
