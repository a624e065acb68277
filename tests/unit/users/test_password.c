/*
 * Unit tests for core/users/password.c: new hashes are Argon2i PHC strings with the configured
 * parameters and a fresh salt; verification of Argon2i/Argon2id/Argon2d (reference KATs of the
 * Argon2 authors' test suite) and bcrypt ($2a$/$2b$/$2y$ vectors of crypt_blowfish), wrong
 * passwords and mismatched methods; when a hash asks for an upgrade; over-long input and
 * too-costly stored hashes refused; the dummy verification costs what a real one costs.
 * Small Argon2 parameters keep the suite fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <argon2.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "users/password.h"
#include "users/users.h"

#define T 3
#define M 1024
#define P 1

static int setup(void **state)
{
    (void)state;
    latch_password_configure(&(struct latch_password_params){T, M, P});
    return 0;
}

static void test_hash_format(void **state)
{
    char a[LATCH_PASSWORD_HASH_MAX], b[LATCH_PASSWORD_HASH_MAX];
    struct latch_error err;
    (void)state;
    assert_int_equal(latch_password_hash("correct horse battery", a, &err), LATCH_OK);
    assert_int_equal(latch_password_hash("correct horse battery", b, &err), LATCH_OK);
    /* $argon2i$v=19$m=1024,t=3,p=1$<22 chars of 16-byte salt>$<43 chars of 32-byte tag> */
    const char *prefix = "$argon2i$v=19$m=1024,t=3,p=1$";
    assert_memory_equal(a, prefix, strlen(prefix));
    const char *salt = a + strlen(prefix);
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    assert_int_equal(dollar - salt, 22);
    assert_int_equal(strlen(dollar + 1), 43);
    assert_true(latch_users_digest_ok("Argon2i", a));
    /* a fresh salt every time */
    assert_string_not_equal(a, b);
    assert_memory_not_equal(a + strlen(prefix), b + strlen(prefix), 22);
}

static void test_hash_uses_configured_params(void **state)
{
    char h[LATCH_PASSWORD_HASH_MAX];
    struct latch_error err;
    (void)state;
    latch_password_configure(&(struct latch_password_params){2, 2048, 2});
    assert_int_equal(latch_password_hash("pw", h, &err), LATCH_OK);
    assert_memory_equal(h, "$argon2i$v=19$m=2048,t=2,p=2$", 29);
    bool up = true;
    assert_true(latch_password_verify("pw", h, "Argon2i", &up));
    assert_false(up);
    latch_password_configure(&(struct latch_password_params){T, M, P});
}

static void test_verify_own_hash(void **state)
{
    char h[LATCH_PASSWORD_HASH_MAX];
    struct latch_error err;
    bool up = true;
    (void)state;
    assert_int_equal(latch_password_hash("S3cret!pass", h, &err), LATCH_OK);
    assert_true(latch_password_verify("S3cret!pass", h, "Argon2i", &up));
    assert_false(up);
    assert_false(latch_password_verify("S3cret!pasS", h, "Argon2i", &up));
    assert_false(latch_password_verify("", h, "Argon2i", &up));
    assert_false(latch_password_verify("S3cret!pass ", h, "Argon2i", &up));
    /* the method must name the hash's algorithm */
    assert_false(latch_password_verify("S3cret!pass", h, "Argon2id", &up));
    assert_false(latch_password_verify("S3cret!pass", h, "Bcrypt", &up));
    assert_false(latch_password_verify("S3cret!pass", h, "MD5", &up));
    assert_false(latch_password_verify("S3cret!pass", NULL, "Argon2i", &up));
    assert_false(latch_password_verify("S3cret!pass", h, NULL, &up));
    /* the empty password is a password like any other */
    assert_int_equal(latch_password_hash("", h, &err), LATCH_OK);
    assert_true(latch_password_verify("", h, "Argon2i", NULL));
    assert_false(latch_password_verify("x", h, "Argon2i", NULL));
}

/* Reference vectors of the Argon2 authors (phc-winner-argon2 src/test.c), salt "somesalt". */
static const char argon2id_kat[] =
    "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
static const char argon2id_kat_p2[] =
    "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";
static const char argon2i_kat[] =
    "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8";
/* Argon2 version 1.0 (0x10), written without v= as the authors' test suite does. */
static const char argon2i_v10_kat[] =
    "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY";

static void test_argon2_vectors(void **state)
{
    bool up;
    (void)state;
    up = false;
    assert_true(latch_password_verify("password", argon2id_kat, "Argon2id", &up));
    assert_true(up); /* another algorithm */
    up = false;
    assert_true(latch_password_verify("password", argon2id_kat_p2, "Argon2id", &up));
    assert_true(up);
    assert_false(latch_password_verify("Password", argon2id_kat, "Argon2id", &up));
    assert_false(latch_password_verify("password", argon2id_kat, "Argon2i", &up));
    assert_false(latch_password_verify("password", argon2id_kat, "Argon2d", &up));
    up = false;
    assert_true(latch_password_verify("password", argon2i_kat, "Argon2i", &up));
    assert_true(up); /* m=256 < 1024, t=2 < 3 */
    up = false;
    assert_true(latch_password_verify("password", argon2i_v10_kat, "Argon2i", &up));
    assert_true(up);
    /* the same hash with its version written out; an upgrade even at strong parameters */
    assert_true(latch_password_verify(
        "password",
        "$argon2i$v=16$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY",
        "Argon2i", &up));
    latch_password_configure(&(struct latch_password_params){1, 256, 1});
    up = false;
    assert_true(latch_password_verify("password", argon2i_v10_kat, "Argon2i", &up));
    assert_true(up); /* version 1.0 */
    up = true;
    assert_true(latch_password_verify("password", argon2i_kat, "Argon2i", &up));
    assert_false(up); /* version 1.3 at parameters as strong as configured */
    latch_password_configure(&(struct latch_password_params){T, M, P});
    assert_false(latch_password_verify("differentpassword", argon2i_v10_kat, "Argon2i", &up));
    /* a flipped bit of the tag */
    char bad[sizeof(argon2id_kat)];
    memcpy(bad, argon2id_kat, sizeof(bad));
    bad[sizeof(bad) - 2] = bad[sizeof(bad) - 2] == 'A' ? 'B' : 'A';
    assert_false(latch_password_verify("password", bad, "Argon2id", &up));
    assert_true(latch_users_digest_ok("Argon2id", argon2id_kat));
    assert_false(latch_users_digest_ok("Argon2i", argon2id_kat));
}

static void test_argon2d(void **state)
{
    char h[LATCH_PASSWORD_HASH_MAX];
    const uint8_t salt[16] = "0123456789abcdef";
    bool up = false;
    (void)state;
    assert_int_equal(
        argon2d_hash_encoded(T, M, P, "imported", 8, salt, sizeof(salt), 32, h, sizeof(h)),
        ARGON2_OK);
    assert_true(latch_password_verify("imported", h, "Argon2d", &up));
    assert_true(up);
    assert_false(latch_password_verify("imported", h, "Argon2id", &up));
    assert_false(latch_password_verify("Imported", h, "Argon2d", &up));
}

/* crypt_blowfish's test vectors (also in OpenBSD and John the Ripper). */
static const struct {
    const char *password;
    const char *hash;
} bcrypt_vectors[] = {
    {"U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
    {"U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"},
    {"U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"},
    {"U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
    {"U*U", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"},
    /* python3 crypt.crypt('correct horse', '$2b$04$abcdefghijklmnopqrstuu') */
    {"correct horse", "$2b$04$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"},
};

static void test_bcrypt(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bcrypt_vectors) / sizeof(bcrypt_vectors[0]); i++) {
        bool up = false;
        assert_true(latch_users_digest_ok("Bcrypt", bcrypt_vectors[i].hash));
        assert_true(latch_password_verify(bcrypt_vectors[i].password, bcrypt_vectors[i].hash,
                                          "Bcrypt", &up));
        assert_true(up); /* bcrypt is always replaced by Argon2i */
        assert_false(latch_password_verify("U*U*U*", bcrypt_vectors[i].hash, "Bcrypt", &up));
        assert_false(latch_password_verify(bcrypt_vectors[i].password, bcrypt_vectors[i].hash,
                                           "Argon2i", &up));
    }
    /* one generated here with a fixed salt, then verified */
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    assert_non_null(cd);
    const char *gen =
        crypt_rn("Tr0ub4dor&3", "$2b$04$0123456789abcdefghijku", cd, (int)sizeof(*cd));
    assert_non_null(gen);
    assert_int_equal(strlen(gen), 60);
    char copy[61];
    memcpy(copy, gen, 61);
    free(cd);
    assert_true(latch_password_verify("Tr0ub4dor&3", copy, "Bcrypt", NULL));
    assert_false(latch_password_verify("Tr0ub4dor&4", copy, "Bcrypt", NULL));
    /* malformed or too costly: refused without hashing */
    assert_false(latch_password_verify("U*U", "$2a$05$CCCC", "Bcrypt", NULL));
    assert_false(latch_password_verify(
        "U*U", "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "Bcrypt", NULL));
    assert_false(latch_password_verify(
        "U*U", "$2a$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "Bcrypt", NULL));
    assert_false(latch_password_verify("U*U", "$1$abc$defghijklmnopqrstuvwxyz", "Bcrypt", NULL));
    assert_false(latch_users_digest_ok("Bcrypt", "$2a$05$CCCC"));
    assert_false(latch_users_digest_ok("Bcrypt", argon2i_kat));
}

static void test_needs_upgrade(void **state)
{
    static const struct {
        uint32_t t, m, p;
        bool upgrade;
    } cases[] = {
        {T, M, P, false},        /* exactly the configured parameters */
        {T + 1, M, P, false},    /* stronger */
        {T, M * 2, P, false},    /* stronger */
        {T, M, P + 1, false},    /* more lanes */
        {T - 1, M, P, true},     /* fewer iterations */
        {T, M / 2, P, true},     /* less memory */
        {T + 1, M / 2, P, true}, /* one weaker is enough */
    };
    const uint8_t salt[16] = "fedcba9876543210";
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char h[LATCH_PASSWORD_HASH_MAX];
        bool up = !cases[i].upgrade;
        assert_int_equal(argon2i_hash_encoded(cases[i].t, cases[i].m, cases[i].p, "pw", 2, salt,
                                              sizeof(salt), 32, h, sizeof(h)),
                         ARGON2_OK);
        assert_true(latch_password_verify("pw", h, "Argon2i", &up));
        if (up != cases[i].upgrade)
            fail_msg("case %zu (%s): needs_upgrade %d", i, h, up);
    }
    /* configured with more lanes: a p=1 hash is weaker */
    latch_password_configure(&(struct latch_password_params){T, M, 2});
    char h[LATCH_PASSWORD_HASH_MAX];
    bool up = false;
    assert_int_equal(argon2i_hash_encoded(T, M, 1, "pw", 2, salt, sizeof(salt), 32, h, sizeof(h)),
                     ARGON2_OK);
    assert_true(latch_password_verify("pw", h, "Argon2i", &up));
    assert_true(up);
    latch_password_configure(&(struct latch_password_params){T, M, P});
}

static void test_limits(void **state)
{
    char big[LATCH_PASSWORD_MAX + 2];
    char h[LATCH_PASSWORD_HASH_MAX];
    struct latch_error err;
    (void)state;
    memset(big, 'a', sizeof(big));
    big[LATCH_PASSWORD_MAX] = '\0'; /* exactly the maximum: accepted */
    assert_int_equal(latch_password_hash(big, h, &err), LATCH_OK);
    assert_true(latch_password_verify(big, h, "Argon2i", NULL));
    big[LATCH_PASSWORD_MAX] = 'a';
    big[LATCH_PASSWORD_MAX + 1] = '\0'; /* one byte more: refused */
    assert_int_equal(latch_password_hash(big, h, &err), LATCH_FAIL);
    assert_int_equal(err.status, 400);
    assert_string_equal(h, "");
    assert_false(latch_password_verify(big, argon2i_kat, "Argon2i", NULL));
    assert_false(latch_password_verify(NULL, argon2i_kat, "Argon2i", NULL));
    /* a C string ends at its NUL: what follows is not part of the password */
    assert_int_equal(latch_password_hash("abc\0def", h, &err), LATCH_OK);
    assert_true(latch_password_verify("abc", h, "Argon2i", NULL));
    /* a stored hash that would cost too much is refused, not computed */
    assert_false(latch_password_verify(
        "password",
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "Argon2id", NULL));
    assert_false(latch_password_verify(
        "password",
        "$argon2id$v=19$m=256,t=1000,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
        "Argon2id", NULL));
    /* ... and imports of such hashes are refused up front */
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$"
                                                   "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"));
    assert_false(latch_users_digest_ok(
        "Argon2id",
        "$argon2id$v=19$m=256,t=2,p=17$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"));
    assert_false(latch_users_digest_ok(
        "Bcrypt", "$2b$17$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"));
    assert_true(latch_users_digest_ok(
        "Bcrypt", "$2b$16$abcdefghijklmnopqrstuujydOTSfIH/d5oUHpsygqV5X9xJLQc6e"));
    assert_true(latch_users_digest_ok("Argon2i", argon2i_v10_kat));
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$"));
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ"));
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=256,t=2$c29tZXNhbHQ$abc"));
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=256,t=2,p=1$$abc"));
    assert_false(latch_users_digest_ok("Argon2id", "$argon2id$v=19$m=256,t=2,p=1$a b$abc"));
    /* garbage */
    assert_false(latch_password_verify("password", "", "Argon2i", NULL));
    assert_false(latch_password_verify("password", "$argon2i$", "Argon2i", NULL));
    assert_false(
        latch_password_verify("password", "$argon2i$v=19$m=256,t=2,p=1$", "Argon2i", NULL));
    assert_false(latch_password_verify("password", "$argon2i$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$x",
                                       "Argon2i", NULL));
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_dummy_costs_a_verification(void **state)
{
    char h[LATCH_PASSWORD_HASH_MAX];
    struct latch_error err;
    (void)state;
    /* Large enough parameters that the Argon2 work dominates the timing noise. */
    latch_password_configure(&(struct latch_password_params){4, 8192, 1});
    assert_int_equal(latch_password_hash("someone's password", h, &err), LATCH_OK);
    double real = 1e9, dummy = 1e9;
    for (int i = 0; i < 5; i++) {
        double t0 = seconds();
        assert_false(latch_password_verify("a wrong guess", h, "Argon2i", NULL));
        double t1 = seconds();
        latch_password_verify_dummy("a wrong guess");
        double t2 = seconds();
        if (t1 - t0 < real)
            real = t1 - t0;
        if (t2 - t1 < dummy)
            dummy = t2 - t1;
    }
    if (dummy < real / 3 || dummy > real * 3)
        fail_msg("dummy verification %.6f s vs real %.6f s", dummy, real);
    latch_password_configure(&(struct latch_password_params){T, M, P});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_format),
        cmocka_unit_test(test_hash_uses_configured_params),
        cmocka_unit_test(test_verify_own_hash),
        cmocka_unit_test(test_argon2_vectors),
        cmocka_unit_test(test_argon2d),
        cmocka_unit_test(test_bcrypt),
        cmocka_unit_test(test_needs_upgrade),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_dummy_costs_a_verification),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
