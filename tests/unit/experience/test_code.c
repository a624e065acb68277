/*
 * Unit tests for core/experience/code.c and the code-related readers of policy.c: codes are six
 * decimal digits with every digit value about equally likely in every position; the stored hash
 * is the HMAC-SHA-256 of "tenant\nid\ntype\nvalue\ncode" (checked against OpenSSL's HMAC computed
 * here), an email's case does not matter but every other part does; the hash comparison; the
 * verdict on a stored code in Logto's order with its error codes; and signIn, signUp,
 * forgotPasswordMethods and verificationCodePolicy read strictly (every bad member named) and
 * leniently (defaults kept), and written back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "experience/code.h"
#include "experience/policy.h"

static const uint8_t key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void test_generate(void **state)
{
    (void)state;
    int counts[LATCH_XP_CODE_DIGITS][10];
    memset(counts, 0, sizeof(counts));
    enum { DRAWS = 20000 };
    char code[LATCH_XP_CODE_DIGITS + 1];
    for (int i = 0; i < DRAWS; i++) {
        assert_int_equal(latch_xp_code_generate(code), LATCH_OK);
        assert_int_equal(strlen(code), LATCH_XP_CODE_DIGITS);
        for (int d = 0; d < LATCH_XP_CODE_DIGITS; d++) {
            assert_true(code[d] >= '0' && code[d] <= '9');
            counts[d][code[d] - '0']++;
        }
    }
    /* 2000 expected per cell, standard deviation about 42: 1700..2300 is over 7 of them, so
     * this fails only for a biased generator (a leading digit that is never 0 would show up as
     * 0 of them). */
    for (int d = 0; d < LATCH_XP_CODE_DIGITS; d++)
        for (int v = 0; v < 10; v++) {
            assert_in_range(counts[d][v], 1700, 2300);
        }
}

static void hmac_hex(const char *msg, char out[LATCH_TOKEN_HASH_TEXT])
{
    unsigned char mac[32];
    unsigned int len = 0;
    assert_non_null(
        HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)msg, strlen(msg), mac, &len));
    assert_int_equal(len, 32);
    out[0] = '\\';
    out[1] = 'x';
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", mac[i]);
}

static void test_hash(void **state)
{
    (void)state;
    char a[LATCH_TOKEN_HASH_TEXT], b[LATCH_TOKEN_HASH_TEXT], want[LATCH_TOKEN_HASH_TEXT];
    assert_int_equal(
        latch_xp_code_hash(key, "acme", "v1", "email", "Alice@Example.COM", "012345", a), LATCH_OK);
    hmac_hex("acme\nv1\nemail\nalice@example.com\n012345", want);
    assert_string_equal(a, want);
    /* an email's case does not matter */
    assert_int_equal(
        latch_xp_code_hash(key, "acme", "v1", "email", "alice@example.com", "012345", b), LATCH_OK);
    assert_true(latch_xp_code_hash_equal(a, b));
    /* a phone is taken as it is */
    assert_int_equal(latch_xp_code_hash(key, "acme", "v1", "phone", "15550001", "012345", b),
                     LATCH_OK);
    hmac_hex("acme\nv1\nphone\n15550001\n012345", want);
    assert_string_equal(b, want);
    /* every other part changes the hash */
    const char *variants[][5] = {
        {"other", "v1", "email", "alice@example.com", "012345"},
        {"acme", "v2", "email", "alice@example.com", "012345"},
        {"acme", "v1", "phone", "alice@example.com", "012345"},
        {"acme", "v1", "email", "bob@example.com", "012345"},
        {"acme", "v1", "email", "alice@example.com", "012346"},
    };
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        assert_int_equal(latch_xp_code_hash(key, variants[i][0], variants[i][1], variants[i][2],
                                            variants[i][3], variants[i][4], b),
                         LATCH_OK);
        assert_false(latch_xp_code_hash_equal(a, b));
    }
    /* a different key */
    uint8_t other[32];
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(
        latch_xp_code_hash(other, "acme", "v1", "email", "alice@example.com", "012345", b),
        LATCH_OK);
    assert_false(latch_xp_code_hash_equal(a, b));
    /* a newline would let two contexts collide: refused */
    assert_int_equal(latch_xp_code_hash(key, "acme", "v1", "email", "a\n@b.c", "012345", b),
                     LATCH_FAIL);
    assert_int_equal(latch_xp_code_hash(key, "acme", "v1", "email", "a@b.c", NULL, b), LATCH_FAIL);
}

static void test_hash_equal(void **state)
{
    (void)state;
    assert_true(latch_xp_code_hash_equal("\\xabcd", "\\xabcd"));
    assert_false(latch_xp_code_hash_equal("\\xabcd", "\\xabce"));
    assert_false(latch_xp_code_hash_equal("\\xabcd", "\\xabc"));
    assert_false(latch_xp_code_hash_equal("", ""));
    assert_false(latch_xp_code_hash_equal(NULL, "\\xabcd"));
    assert_false(latch_xp_code_hash_equal("\\xabcd", NULL));
}

struct check_case {
    struct latch_xp_code_row row;
    const char *type, *value;
    enum latch_xp_code_verdict want;
    const char *code;
};

static void test_check(void **state)
{
    (void)state;
    const struct check_case cases[] = {
        {{.found = false},
         "email",
         "a@b.co",
         LATCH_XP_CODE_NOT_FOUND,
         "verification_code.not_found"},
        /* used (verified or consumed): single use */
        {{true, "email", "a@b.co", true, false, 0, 10},
         "email",
         "a@b.co",
         LATCH_XP_CODE_NOT_FOUND,
         "verification_code.not_found"},
        /* another identifier type is another verification */
        {{true, "phone", "123", false, false, 0, 10},
         "email",
         "a@b.co",
         LATCH_XP_CODE_NOT_FOUND,
         "verification_code.not_found"},
        {{true, "email", "a@b.co", false, false, 0, 10},
         "email",
         "c@b.co",
         LATCH_XP_CODE_EMAIL_MISMATCH,
         "verification_code.email_mismatch"},
        {{true, "phone", "123", false, false, 0, 10},
         "phone",
         "124",
         LATCH_XP_CODE_PHONE_MISMATCH,
         "verification_code.phone_mismatch"},
        /* mismatch before expiry, expiry before tries (Logto's order) */
        {{true, "email", "a@b.co", false, true, 10, 10},
         "email",
         "c@b.co",
         LATCH_XP_CODE_EMAIL_MISMATCH,
         "verification_code.email_mismatch"},
        {{true, "email", "a@b.co", false, true, 10, 10},
         "email",
         "a@b.co",
         LATCH_XP_CODE_EXPIRED,
         "verification_code.expired"},
        {{true, "email", "a@b.co", false, false, 10, 10},
         "email",
         "a@b.co",
         LATCH_XP_CODE_EXCEEDED,
         "verification_code.exceed_max_try"},
        {{true, "email", "a@b.co", false, false, 3, 3},
         "email",
         "a@b.co",
         LATCH_XP_CODE_EXCEEDED,
         "verification_code.exceed_max_try"},
        /* usable: the last try, and an email in another case */
        {{true, "email", "a@b.co", false, false, 9, 10},
         "email",
         "A@B.CO",
         LATCH_XP_CODE_USABLE,
         "verification_code.code_mismatch"},
        {{true, "phone", "123", false, false, 0, 10},
         "phone",
         "123",
         LATCH_XP_CODE_USABLE,
         "verification_code.code_mismatch"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum latch_xp_code_verdict v =
            latch_xp_code_check(&cases[i].row, cases[i].type, cases[i].value);
        if (v != cases[i].want)
            fail_msg("case %zu: verdict %d, want %d", i, (int)v, (int)cases[i].want);
        const char *message = NULL;
        assert_string_equal(latch_xp_code_error(v, &message), cases[i].code);
        assert_non_null(message);
        assert_true(strlen(message) > 10);
    }
}

static void test_templates_and_identifiers(void **state)
{
    (void)state;
    assert_int_equal(latch_xp_code_template_parse("SignIn"), LATCH_XP_TEMPLATE_SIGN_IN);
    assert_int_equal(latch_xp_code_template_parse("Register"), 2);
    assert_int_equal(latch_xp_code_template_parse("ForgotPassword"), 3);
    assert_int_equal(latch_xp_code_template_parse("BindNewIdentifier"), 7);
    assert_int_equal(latch_xp_code_template_parse("signin"), 0);
    assert_int_equal(latch_xp_code_template_parse(NULL), 0);
    assert_string_equal(latch_xp_code_template_name(LATCH_XP_TEMPLATE_FORGOT_PASSWORD),
                        "ForgotPassword");
    assert_null(latch_xp_code_template_name(5));
    assert_null(latch_xp_code_template_name(99));

    assert_true(latch_xp_code_identifier_ok("email", "a@b.co"));
    assert_false(latch_xp_code_identifier_ok("email", "ab.co"));
    assert_true(latch_xp_code_identifier_ok("phone", "15550001"));
    assert_false(latch_xp_code_identifier_ok("phone", "+15550001"));
    assert_false(latch_xp_code_identifier_ok("username", "alice"));
}

static yajl_val parse(const char *text)
{
    char err[128];
    yajl_val v = yajl_tree_parse(text, err, sizeof(err));
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", text, err);
    return v;
}

static char *written(void (*writer)(const void *, struct latch_json *), const void *what)
{
    struct latch_json j;
    latch_json_init(&j);
    writer(what, &j);
    return latch_json_take(&j, NULL);
}

static void write_sign_in(const void *p, struct latch_json *j)
{
    latch_xp_sign_in_write(p, j);
}

static void test_sign_in(void **state)
{
    (void)state;
    char problem[192];
    struct latch_xp_sign_in si;
    /* default: username with password */
    assert_true(latch_xp_sign_in_read(NULL, true, &si, problem, sizeof(problem)));
    assert_int_equal(si.nmethods, 1);
    assert_false(latch_xp_sign_in_by_code(&si, LATCH_XP_ID_EMAIL));
    char *text = written(write_sign_in, &si);
    assert_string_equal(text, "{\"methods\":[{\"identifier\":\"username\",\"password\":true,"
                              "\"verificationCode\":false,\"isPasswordPrimary\":true}]}");
    free(text);

    yajl_val v = parse("{\"methods\":[{\"identifier\":\"email\",\"password\":false,"
                       "\"verificationCode\":true},{\"identifier\":\"username\"}]}");
    assert_true(latch_xp_sign_in_read(v, true, &si, problem, sizeof(problem)));
    assert_int_equal(si.nmethods, 2);
    assert_true(latch_xp_sign_in_by_code(&si, LATCH_XP_ID_EMAIL));
    assert_false(latch_xp_sign_in_by_code(&si, LATCH_XP_ID_PHONE));
    assert_false(latch_xp_sign_in_by_code(&si, LATCH_XP_ID_USERNAME));
    yajl_tree_free(v);

    struct {
        const char *json, *problem;
    } bad[] = {
        {"[]", "signIn: must be an object"},
        {"{\"x\":1}", "signIn.x: is not a known member"},
        {"{\"methods\":{}}", "signIn.methods: must be an array of at most 3 methods"},
        {"{\"methods\":[{\"identifier\":\"fax\"}]}",
         "signIn.methods[0]: identifier must be username, email or phone"},
        {"{\"methods\":[{\"identifier\":\"email\"},{\"identifier\":\"email\"}]}",
         "signIn.methods[1]: identifier must not repeat"},
        {"{\"methods\":[{\"identifier\":\"email\",\"password\":false}]}",
         "signIn.methods[0]: must enable password, verificationCode or both"},
        {"{\"methods\":[{\"identifier\":\"username\",\"verificationCode\":true}]}",
         "signIn.methods[0]: a username cannot receive a verification code"},
        {"{\"methods\":[{\"identifier\":\"email\",\"password\":\"yes\"}]}",
         "signIn.methods[0]: must be a boolean"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i].json);
        problem[0] = '\0';
        assert_false(latch_xp_sign_in_read(v, true, &si, problem, sizeof(problem)));
        assert_string_equal(problem, bad[i].problem);
        /* lenient: what is invalid is skipped, never an error */
        assert_true(latch_xp_sign_in_read(v, false, &si, NULL, 0));
        yajl_tree_free(v);
    }
    /* lenient keeps the valid methods */
    v = parse("{\"methods\":[{\"identifier\":\"fax\"},{\"identifier\":\"phone\","
              "\"verificationCode\":true}]}");
    assert_true(latch_xp_sign_in_read(v, false, &si, NULL, 0));
    assert_int_equal(si.nmethods, 1);
    assert_true(latch_xp_sign_in_by_code(&si, LATCH_XP_ID_PHONE));
    yajl_tree_free(v);
}

static void test_sign_up(void **state)
{
    (void)state;
    struct latch_xp_sign_up su;
    latch_xp_sign_up_read(NULL, &su);
    assert_int_equal(su.identifiers, LATCH_XP_ID_USERNAME);
    assert_true(su.password);
    assert_false(su.verify);
    yajl_val v = parse("{\"identifiers\":[\"email\"],\"password\":false,\"verify\":true}");
    latch_xp_sign_up_read(v, &su);
    assert_int_equal(su.identifiers, LATCH_XP_ID_EMAIL);
    assert_false(su.password);
    assert_true(su.verify);
    yajl_tree_free(v);
    v = parse("{\"identifiers\":[]}");
    latch_xp_sign_up_read(v, &su);
    assert_int_equal(su.identifiers, 0);
    yajl_tree_free(v);
}

static void write_forgot(const void *p, struct latch_json *j)
{
    latch_xp_forgot_methods_write(*(const unsigned *)p, j);
}

static void test_forgot_methods(void **state)
{
    (void)state;
    char problem[192];
    unsigned m = 99;
    assert_true(latch_xp_forgot_methods_read(NULL, true, &m, problem, sizeof(problem)));
    assert_int_equal(m, 0);
    yajl_val v = parse("[\"PhoneVerificationCode\",\"EmailVerificationCode\"]");
    assert_true(latch_xp_forgot_methods_read(v, true, &m, problem, sizeof(problem)));
    assert_int_equal(m, LATCH_XP_ID_EMAIL | LATCH_XP_ID_PHONE);
    char *text = written(write_forgot, &m);
    assert_string_equal(text, "[\"EmailVerificationCode\",\"PhoneVerificationCode\"]");
    free(text);
    yajl_tree_free(v);
    const char *bad[] = {"{}", "[\"Password\"]",
                         "[\"EmailVerificationCode\",\"EmailVerificationCode\"]", "[1]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i]);
        problem[0] = '\0';
        assert_false(latch_xp_forgot_methods_read(v, true, &m, problem, sizeof(problem)));
        assert_true(strncmp(problem, "forgotPasswordMethods: ", 23) == 0);
        assert_true(latch_xp_forgot_methods_read(v, false, &m, NULL, 0));
        yajl_tree_free(v);
    }
    v = parse("[\"Password\",\"EmailVerificationCode\"]");
    assert_true(latch_xp_forgot_methods_read(v, false, &m, NULL, 0));
    assert_int_equal(m, LATCH_XP_ID_EMAIL);
    yajl_tree_free(v);
}

static void write_code_policy(const void *p, struct latch_json *j)
{
    latch_xp_code_policy_write(p, j);
}

static void test_code_policy(void **state)
{
    (void)state;
    char problem[192];
    struct latch_xp_code_policy p;
    assert_true(latch_xp_code_policy_read(NULL, true, &p, problem, sizeof(problem)));
    assert_int_equal(p.ttl_seconds, 600);
    assert_int_equal(p.max_tries, 10);
    yajl_val v = parse("{\"expirationDuration\":60,\"maxRetryAttempts\":100}");
    assert_true(latch_xp_code_policy_read(v, true, &p, problem, sizeof(problem)));
    assert_int_equal(p.ttl_seconds, 60);
    assert_int_equal(p.max_tries, 100);
    char *text = written(write_code_policy, &p);
    assert_string_equal(text, "{\"expirationDuration\":60,\"maxRetryAttempts\":100}");
    free(text);
    yajl_tree_free(v);
    struct {
        const char *json, *problem;
    } bad[] = {
        {"{\"expirationDuration\":59}",
         "verificationCodePolicy.expirationDuration: must be an integer from 60 to 3600"},
        {"{\"expirationDuration\":3601}",
         "verificationCodePolicy.expirationDuration: must be an integer from 60 to 3600"},
        {"{\"maxRetryAttempts\":0}",
         "verificationCodePolicy.maxRetryAttempts: must be an integer from 1 to 100"},
        {"{\"maxRetryAttempts\":\"5\"}",
         "verificationCodePolicy.maxRetryAttempts: must be an integer from 1 to 100"},
        {"{\"other\":1}", "verificationCodePolicy.other: is not a known member"},
        {"5", "verificationCodePolicy: must be an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i].json);
        problem[0] = '\0';
        assert_false(latch_xp_code_policy_read(v, true, &p, problem, sizeof(problem)));
        assert_string_equal(problem, bad[i].problem);
        /* lenient: the defaults stay */
        assert_true(latch_xp_code_policy_read(v, false, &p, NULL, 0));
        assert_int_equal(p.ttl_seconds, 600);
        assert_int_equal(p.max_tries, 10);
        yajl_tree_free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_equal),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_templates_and_identifiers),
        cmocka_unit_test(test_sign_in),
        cmocka_unit_test(test_sign_up),
        cmocka_unit_test(test_forgot_methods),
        cmocka_unit_test(test_code_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
