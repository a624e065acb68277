/*
 * TOTP and base32; see totp.h. HMAC-SHA-1 through EVP_MAC (one-shot EVP_Q_mac), randomness from
 * RAND_bytes.
 */
#include "jose/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int64_t latch_jose_totp_step(int64_t t)
{
    /* Floor division: a time before 1970 (never in practice) still maps to one step. */
    return t >= 0 ? t / LATCH_TOTP_STEP_SECONDS
                  : -((-t + LATCH_TOTP_STEP_SECONDS - 1) / LATCH_TOTP_STEP_SECONDS);
}

latch_rc latch_jose_totp_code(const uint8_t *key, size_t key_len, uint64_t counter, unsigned digits,
                              char *out)
{
    static const uint32_t mod[] = {1000000u, 10000000u, 100000000u};
    if (digits < 6 || digits > 8 || key == NULL || key_len == 0)
        return LATCH_FAIL;
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    for (int i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(counter & 0xff);
        counter >>= 8;
    }
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, key, key_len, msg, sizeof(msg), mac,
                  sizeof(mac), &mac_len) == NULL ||
        mac_len != 20)
        return LATCH_FAIL;
    /* RFC 4226 §5.3 dynamic truncation. */
    unsigned off = mac[19] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    uint32_t v = bin % mod[digits - 6];
    for (int i = (int)digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[digits] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
    return LATCH_OK;
}

bool latch_jose_totp_match(const uint8_t *key, size_t key_len, const char *code, int64_t t,
                           int64_t *step)
{
    if (code == NULL || strlen(code) != LATCH_TOTP_DIGITS)
        return false;
    int64_t now = latch_jose_totp_step(t);
    bool found = false;
    for (int64_t s = now - 1; s <= now + 1; s++) {
        char want[LATCH_TOTP_DIGITS + 1];
        if (s < 0 ||
            latch_jose_totp_code(key, key_len, (uint64_t)s, LATCH_TOTP_DIGITS, want) != LATCH_OK)
            continue;
        /* No early exit: the same work whichever step matches. */
        if (CRYPTO_memcmp(want, code, LATCH_TOTP_DIGITS) == 0 && !found) {
            found = true;
            *step = s;
        }
        OPENSSL_cleanse(want, sizeof(want));
    }
    return found;
}

int latch_jose_base32_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = (len * 8 + 4) / 5;
    if (cap < need + 1)
        return -1;
    size_t n = 0;
    uint32_t buf = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        buf = (buf << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            out[n++] = B32[(buf >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[n++] = B32[(buf << (5 - bits)) & 31];
    out[n] = '\0';
    return (int)n;
}

int latch_jose_base32_decode(const char *in, uint8_t *out, size_t cap)
{
    size_t n = 0;
    uint32_t buf = 0;
    int bits = 0;
    bool padding = false;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        if (padding)
            return -1; /* data after '=' */
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a';
        else if (c >= '2' && c <= '7')
            v = c - '2' + 26;
        else
            return -1;
        buf = (buf << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            if (n >= cap)
                return -1;
            out[n++] = (uint8_t)(buf >> (bits - 8));
            bits -= 8;
        }
        buf &= (1u << bits) - 1;
    }
    if (buf != 0) /* leftover bits must be zero padding */
        return -1;
    return (int)n;
}

latch_rc latch_jose_totp_secret_new(uint8_t out[LATCH_TOTP_SECRET_BYTES])
{
    return RAND_bytes(out, LATCH_TOTP_SECRET_BYTES) == 1 ? LATCH_OK : LATCH_FAIL;
}
