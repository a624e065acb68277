/*
 * Unit tests for core/users/mfa.c: the sealed TOTP secret opens only for its tenant and person
 * and refuses tampering; backup codes have Logto's shape, are distinct, and hash to values bound
 * to tenant and person, the same whatever case and surrounding spaces were typed, and nothing
 * for a code of another shape; the otpauth:// URI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "users/mfa.h"
#include "util/hex.h"

static const uint8_t MASTER[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void totp_sealing(void **state)
{
    (void)state;
    const uint8_t secret[20] = "12345678901234567890";
    char sealed[LATCH_MFA_SEALED_HEX_MAX];
    assert_int_equal(latch_users_mfa_totp_seal(MASTER, "t1", "u1", secret, 20, sealed), LATCH_OK);
    /* 12-byte IV + 20 + 16-byte tag, in hex; never the secret in the clear. */
    assert_int_equal(strlen(sealed), 2 * (12 + 20 + 16));
    char clear[41];
    assert_int_equal(latch_hex_encode(secret, 20, clear, sizeof(clear)), 40);
    assert_null(strstr(sealed, clear));

    uint8_t out[LATCH_TOTP_SECRET_MAX];
    size_t len = 0;
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t1", "u1", sealed, out, &len), LATCH_OK);
    assert_int_equal(len, 20);
    assert_memory_equal(out, secret, 20);
    /* PostgreSQL's bytea text form opens too. */
    char *pg = malloc(strlen(sealed) + 3);
    strcpy(pg, "\\x");
    strcat(pg, sealed);
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t1", "u1", pg, out, &len), LATCH_OK);
    free(pg);
    /* Another person, another tenant, another master key, one flipped digit: refused. */
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t1", "u2", sealed, out, &len), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t2", "u1", sealed, out, &len), LATCH_FAIL);
    uint8_t other[32];
    memcpy(other, MASTER, 32);
    other[0] ^= 1;
    assert_int_equal(latch_users_mfa_totp_open(other, "t1", "u1", sealed, out, &len), LATCH_FAIL);
    sealed[30] = sealed[30] == '0' ? '1' : '0';
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t1", "u1", sealed, out, &len), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_totp_open(MASTER, "t1", "u1", "zz", out, &len), LATCH_FAIL);
}

static void backup_codes(void **state)
{
    (void)state;
    char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1];
    assert_int_equal(latch_users_mfa_backup_codes_new(codes), LATCH_OK);
    for (int i = 0; i < LATCH_MFA_BACKUP_CODES; i++) {
        assert_int_equal(strlen(codes[i]), LATCH_MFA_BACKUP_CODE_LEN);
        for (int k = 0; k < LATCH_MFA_BACKUP_CODE_LEN; k++)
            assert_true(latch_hex_digit((unsigned char)codes[i][k]) >= 0 &&
                        !(codes[i][k] >= 'A' && codes[i][k] <= 'F'));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
    }
}

static void backup_hash(void **state)
{
    (void)state;
    uint8_t key[32] = {7};
    char a[LATCH_TOKEN_HASH_TEXT], b[LATCH_TOKEN_HASH_TEXT];
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "0123456789", a), LATCH_OK);
    assert_int_equal(strlen(a), 66);
    assert_memory_equal(a, "\\x", 2);
    /* Typed in upper case with spaces around: the same code. */
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", " 0123456789 ", b), LATCH_OK);
    assert_string_equal(a, b);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "abcdefabcd", a), LATCH_OK);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "ABCDEFABCD", b), LATCH_OK);
    assert_string_equal(a, b);
    /* Bound to the person, the tenant and the key. */
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u2", "abcdefabcd", b), LATCH_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t2", "u1", "abcdefabcd", b), LATCH_OK);
    assert_string_not_equal(a, b);
    uint8_t key2[32] = {8};
    assert_int_equal(latch_users_mfa_backup_hash(key2, "t1", "u1", "abcdefabcd", b), LATCH_OK);
    assert_string_not_equal(a, b);
    /* Other shapes are refused before any hashing. */
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "012345678", b), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "01234567890", b), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "01234 56789", b), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "0123456789g", b), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t1", "u1", "", b), LATCH_FAIL);
    assert_int_equal(latch_users_mfa_backup_hash(key, "t\n1", "u1", "0123456789", b), LATCH_FAIL);
}

static void otpauth_uri(void **state)
{
    (void)state;
    char *uri = latch_users_mfa_otpauth_uri("auth.example.com", "ana maría@example.com",
                                            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    assert_non_null(uri);
    assert_string_equal(uri, "otpauth://totp/auth.example.com%3Aana%20mar%C3%ADa%40example.com"
                             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=auth.example.com"
                             "&algorithm=SHA1&digits=6&period=30");
    free(uri);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(totp_sealing),
        cmocka_unit_test(backup_codes),
        cmocka_unit_test(backup_hash),
        cmocka_unit_test(otpauth_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
