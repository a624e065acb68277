/* Hexadecimal encoding and decoding; see hex.h. */
#include "util/hex.h"

#include <limits.h>
#include <stdint.h>

int latch_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ssize_t latch_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";

    if (len > SSIZE_MAX / 2 || cap <= 2 * len) {
        if (cap > 0)
            out[0] = '\0';
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
    return (ssize_t)(2 * len);
}

ssize_t latch_hex_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 2 != 0 || len / 2 > cap || len > (size_t)SSIZE_MAX)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = latch_hex_digit((unsigned char)in[2 * i]);
        int lo = latch_hex_digit((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (ssize_t)(len / 2);
}
