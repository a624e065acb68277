/*
 * Password hashing (password.h): new hashes are Argon2i in PHC form with the configured
 * parameters (libargon2, 16-byte salt from RAND_bytes, 32-byte tag); verification also takes
 * Argon2id and Argon2d PHC strings and bcrypt ($2a$, $2b$, $2y$ through libxcrypt's crypt_rn)
 * of imported users. Everything here blocks for tens of milliseconds: worker threads only.
 *
 * Parameters of stored hashes are read from the PHC string before verifying, and hashes above
 * the LATCH_PASSWORD_VERIFY_MAX_* limits of users.h (memory, iterations, lanes, bcrypt cost) are
 * refused rather than verified: a stored hash must not be able to exhaust a worker.
 */
#include "users/password.h"

#include <argon2.h>
#include <crypt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "users/users.h"
#include "util/log.h"

#define SALT_LEN 16
#define TAG_LEN  32

/* Written once by latch_password_configure() before any thread starts, read-only after. */
static struct latch_password_params params = {8, 8192, 1};
static char dummy_hash[LATCH_PASSWORD_HASH_MAX];

/* Fixed input of the dummy hash: neither needs to be secret, only to cost what a real hash
 * costs. */
static const uint8_t dummy_salt[SALT_LEN] = "latch-dummy-salt";
static const char dummy_password[] = "latch dummy password, never a real one";

void latch_password_configure(const struct latch_password_params *p)
{
    params = *p;
    dummy_hash[0] = '\0';
    int rc = argon2i_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                  dummy_password, strlen(dummy_password), dummy_salt, SALT_LEN,
                                  TAG_LEN, dummy_hash, sizeof(dummy_hash));
    if (rc != ARGON2_OK) {
        /* latch_password_verify_dummy() then hashes instead, which costs the same. */
        dummy_hash[0] = '\0';
        latch_warn("password: cannot precompute the dummy hash: %s", argon2_error_message(rc));
    }
}

/* The password's length when it is acceptable input (at most LATCH_PASSWORD_MAX bytes), else
 * -1. A C string cannot carry a NUL, so NUL bytes are refused by the callers that read bodies. */
static long password_len(const char *password)
{
    if (password == NULL)
        return -1;
    size_t n = strnlen(password, LATCH_PASSWORD_MAX + 1);
    return n > LATCH_PASSWORD_MAX ? -1 : (long)n;
}

latch_rc latch_password_hash(const char *password, char out[LATCH_PASSWORD_HASH_MAX],
                             struct latch_error *err)
{
    uint8_t salt[SALT_LEN];
    long len = password_len(password);
    out[0] = '\0';
    if (len < 0)
        return latch_error_set(err, 400, "guard.invalid_input",
                               "password: must be at most %d bytes", LATCH_PASSWORD_MAX);
    if (RAND_bytes(salt, sizeof(salt)) != 1)
        return latch_error_set(err, 500, "server_error", "Internal error.");
    int rc = argon2i_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                  password, (size_t)len, salt, sizeof(salt), TAG_LEN, out,
                                  LATCH_PASSWORD_HASH_MAX);
    OPENSSL_cleanse(salt, sizeof(salt));
    if (rc != ARGON2_OK) {
        out[0] = '\0';
        latch_error_set(err, 500, "server_error", "Internal error.");
        latch_error_detail(err, "argon2i: %s", argon2_error_message(rc));
        return LATCH_FAIL;
    }
    return LATCH_OK;
}

/* ---- PHC strings ---- */

/* A decimal number of at most 10 digits that fits in uint32_t, at *s; advances *s. */
static bool read_u32(const char **s, uint32_t *out)
{
    const char *p = *s;
    unsigned long long v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 11) {
        v = v * 10 + (unsigned)(*p - '0');
        p++;
        digits++;
    }
    if (digits == 0 || digits > 10 || v > UINT32_MAX || (digits > 1 && **s == '0'))
        return false;
    *out = (uint32_t)v;
    *s = p;
    return true;
}

static bool skip(const char **s, const char *lit)
{
    size_t n = strlen(lit);
    if (strncmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

/* Reads "$argon2<x>$[v=<n>$]m=<n>,t=<n>,p=<n>$" (what libargon2 encodes; the rest is left to
 * argon2_verify()). */
bool latch_password_phc_parse(const char *s, struct latch_password_phc *out)
{
    if (skip(&s, "$argon2id$"))
        out->type = Argon2_id;
    else if (skip(&s, "$argon2i$"))
        out->type = Argon2_i;
    else if (skip(&s, "$argon2d$"))
        out->type = Argon2_d;
    else
        return false;
    out->version = ARGON2_VERSION_10;
    if (skip(&s, "v=")) {
        uint32_t v;
        if (!read_u32(&s, &v) || !skip(&s, "$"))
            return false;
        out->version = v;
    }
    return skip(&s, "m=") && read_u32(&s, &out->m) && skip(&s, ",t=") && read_u32(&s, &out->t) &&
           skip(&s, ",p=") && read_u32(&s, &out->p) && skip(&s, "$");
}

static bool verify_argon2(const char *password, size_t len, const char *encrypted, argon2_type want,
                          bool *needs_upgrade)
{
    struct latch_password_phc phc;
    if (!latch_password_phc_parse(encrypted, &phc) || phc.type != (int)want)
        return false;
    if (phc.m > LATCH_PASSWORD_VERIFY_MAX_MEMORY_KIB ||
        phc.t > LATCH_PASSWORD_VERIFY_MAX_ITERATIONS || phc.p > LATCH_PASSWORD_VERIFY_MAX_LANES) {
        latch_warn("password: refusing to verify an Argon2 hash with m=%u,t=%u,p=%u (too costly)",
                   (unsigned)phc.m, (unsigned)phc.t, (unsigned)phc.p);
        return false;
    }
    /* argon2_verify() compares the tags in constant time. */
    if (argon2_verify(encrypted, password, len, want) != ARGON2_OK)
        return false;
    *needs_upgrade = want != Argon2_i || phc.version != ARGON2_VERSION_13 ||
                     phc.m < params.memory_kib || phc.t < params.iterations ||
                     phc.p < params.parallelism;
    return true;
}

/* "$2a$NN$" + 53 characters of salt and hash, NN from 04 to LATCH_PASSWORD_VERIFY_MAX_BCRYPT. */
bool latch_password_bcrypt_shape(const char *s)
{
    if (strlen(s) != 60 || s[0] != '$' || s[1] != '2' ||
        (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$' || s[6] != '$')
        return false;
    if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9')
        return false;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    if (cost < 4 || cost > LATCH_PASSWORD_VERIFY_MAX_BCRYPT)
        return false;
    for (const char *p = s + 7; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '/'))
            return false;
    return true;
}

static bool verify_bcrypt(const char *password, const char *encrypted)
{
    if (!latch_password_bcrypt_shape(encrypted))
        return false;
    struct crypt_data *data = calloc(1, sizeof(*data));
    if (data == NULL)
        return false;
    bool ok = false;
    /* crypt_rn() (libxcrypt) rather than crypt_r(): it answers NULL on failure instead of a
     * "*" string, and AddressSanitizer's crypt_r interceptor crashes with libxcrypt. */
    const char *out = crypt_rn(password, encrypted, data, (int)sizeof(*data));
    if (out != NULL && out[0] == '$' && strlen(out) == strlen(encrypted))
        ok = CRYPTO_memcmp(out, encrypted, strlen(encrypted)) == 0;
    OPENSSL_cleanse(data, sizeof(*data));
    free(data);
    return ok;
}

bool latch_password_verify(const char *password, const char *encrypted, const char *method,
                           bool *needs_upgrade)
{
    bool dummy;
    if (needs_upgrade == NULL)
        needs_upgrade = &dummy;
    *needs_upgrade = false;
    long len = password_len(password);
    if (len < 0 || encrypted == NULL || method == NULL ||
        strnlen(encrypted, LATCH_PASSWORD_HASH_MAX) >= LATCH_PASSWORD_HASH_MAX)
        return false;
    if (strcmp(method, "Argon2i") == 0)
        return verify_argon2(password, (size_t)len, encrypted, Argon2_i, needs_upgrade);
    if (strcmp(method, "Argon2id") == 0)
        return verify_argon2(password, (size_t)len, encrypted, Argon2_id, needs_upgrade);
    if (strcmp(method, "Argon2d") == 0)
        return verify_argon2(password, (size_t)len, encrypted, Argon2_d, needs_upgrade);
    if (strcmp(method, "Bcrypt") == 0) {
        if (!verify_bcrypt(password, encrypted))
            return false;
        *needs_upgrade = true;
        return true;
    }
    return false;
}

void latch_password_verify_dummy(const char *password)
{
    long len = password_len(password);
    /* A real user's over-long password is refused before any hashing: do the same. */
    if (len < 0)
        return;
    if (dummy_hash[0] != '\0') {
        (void)argon2_verify(dummy_hash, password, (size_t)len, Argon2_i);
        return;
    }
    uint8_t tag[TAG_LEN];
    (void)argon2i_hash_raw(params.iterations, params.memory_kib, params.parallelism, password,
                           (size_t)len, dummy_salt, SALT_LEN, tag, sizeof(tag));
    OPENSSL_cleanse(tag, sizeof(tag));
}
