/* Unit tests for oidc/claims.c (Logto's scope → claims table) and for redirect-URI matching
 * (oidc/clients.c): exact, no normalization. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yajl/yajl_tree.h>

#include "oidc/claims.h"
#include "oidc/clients.h"

static const struct latch_claims_user alice = {
    .id = "u1",
    .username = "alice",
    .primary_email = "alice@example.com",
    .primary_phone = "",
    .name = "Alice",
    .avatar = "https://example.com/a.png",
    .profile = "{\"given_name\":\"Al\",\"address\":{\"country\":\"ES\"}}",
    .custom_data = "{\"plan\":\"pro\"}",
    .identities = "{\"huggingface\":{\"userId\":\"42\"}}",
    .roles = "[\"admin\"]",
    .created_at = 1000,
    .updated_at = 2,
};

struct claims_case {
    const char *scope;
    enum latch_claims_for target;
    const char *present[12];
    const char *absent[12];
};

static const struct claims_case cases[] = {
    {"openid", LATCH_CLAIMS_ID_TOKEN, {NULL}, {"name", "email", "roles", "custom_data", NULL}},
    {"openid profile",
     LATCH_CLAIMS_ID_TOKEN,
     {"name", "picture", "username", "preferred_username", "given_name", "updated_at", "created_at",
      NULL},
     {"email", "phone_number", NULL}},
    {"openid email", LATCH_CLAIMS_ID_TOKEN, {"email", "email_verified", NULL}, {"name", NULL}},
    {"openid phone",
     LATCH_CLAIMS_USERINFO,
     {"phone_number", "phone_number_verified", NULL},
     {"email", NULL}},
    {"openid address", LATCH_CLAIMS_USERINFO, {"address", NULL}, {"name", NULL}},
    {"openid roles", LATCH_CLAIMS_ID_TOKEN, {"roles", NULL}, {NULL}},
    /* custom_data and identities are userinfo-only (Logto's ID token extended claims). */
    {"openid custom_data identities",
     LATCH_CLAIMS_ID_TOKEN,
     {NULL},
     {"custom_data", "identities", NULL}},
    {"openid custom_data identities",
     LATCH_CLAIMS_USERINFO,
     {"custom_data", "identities", "sso_identities", NULL},
     {NULL}},
    {"openid emailx profiles", LATCH_CLAIMS_USERINFO, {NULL}, {"email", "name", NULL}},
};

static yajl_val render(const char *scope, enum latch_claims_for target)
{
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "sub");
    latch_json_string(&j, alice.id);
    latch_claims_write(&j, &alice, scope, target);
    latch_json_end_object(&j);
    char *text = latch_json_take(&j, NULL);
    assert_non_null(text);
    char errbuf[128];
    yajl_val v = yajl_tree_parse(text, errbuf, sizeof(errbuf));
    if (v == NULL)
        fail_msg("invalid JSON for %s: %s (%s)", scope, text, errbuf);
    free(text);
    return v;
}

static void test_scope_claims(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        yajl_val v = render(cases[i].scope, cases[i].target);
        for (const char *const *k = cases[i].present; *k; k++) {
            const char *path[] = {*k, NULL};
            if (yajl_tree_get(v, path, yajl_t_any) == NULL)
                fail_msg("%s: claim %s missing", cases[i].scope, *k);
        }
        for (const char *const *k = cases[i].absent; *k; k++) {
            const char *path[] = {*k, NULL};
            if (yajl_tree_get(v, path, yajl_t_any) != NULL)
                fail_msg("%s: claim %s must not be there", cases[i].scope, *k);
        }
        yajl_tree_free(v);
    }
}

static void test_claim_values(void **state)
{
    yajl_val v = render("openid profile email phone", LATCH_CLAIMS_USERINFO);
    const char *ev[] = {"email_verified", NULL};
    const char *pv[] = {"phone_number_verified", NULL};
    const char *pic[] = {"picture", NULL};
    const char *pu[] = {"preferred_username", NULL};
    assert_true(YAJL_IS_TRUE(yajl_tree_get(v, ev, yajl_t_any)));  /* Boolean(primaryEmail) */
    assert_true(YAJL_IS_FALSE(yajl_tree_get(v, pv, yajl_t_any))); /* no phone */
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, pic, yajl_t_string)),
                        "https://example.com/a.png");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(v, pu, yajl_t_string)), "alice");
    yajl_tree_free(v);
}

static void test_scope_has(void **state)
{
    assert_true(latch_scope_has("openid profile", "profile"));
    assert_true(latch_scope_has("  openid   profile ", "openid"));
    assert_false(latch_scope_has("openid profiles", "profile"));
    assert_false(latch_scope_has("openid", "open"));
    assert_false(latch_scope_has("", "openid"));
    assert_false(latch_scope_has(NULL, "openid"));
}

static void test_redirect_uri_exact(void **state)
{
    char *uris[] = {"http://localhost:3000/api/auth/callback/logto", "com.example.app://cb"};
    char *logout[] = {"http://localhost:3000"};
    char *cors[] = {"https://spa.example.com"};
    struct latch_client c = {
        .redirect_uris = uris,
        .nredirect_uris = 2,
        .post_logout_uris = logout,
        .npost_logout_uris = 1,
        .cors_origins = cors,
        .ncors_origins = 1,
    };
    static const struct {
        const char *uri;
        bool ok;
    } uri_cases[] = {
        {"http://localhost:3000/api/auth/callback/logto", true},
        {"com.example.app://cb", true},
        {"http://localhost:3000/api/auth/callback/logto/", false},
        {"http://localhost:3000/api/auth/callback/logto?x=1", false},
        {"http://localhost:3000/api/auth/callback/logto#f", false},
        {"HTTP://localhost:3000/api/auth/callback/logto", false},
        {"http://LOCALHOST:3000/api/auth/callback/logto", false},
        {"http://localhost:3000/api/auth/callback/Logto", false},
        {"http://localhost:3000/api/auth/callback", false},
        {"http://localhost:80/api/auth/callback/logto", false},
        {"http://localhost:3000/api/auth/callback/logto%2F", false},
        {"https://localhost:3000/api/auth/callback/logto", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(uri_cases) / sizeof(uri_cases[0]); i++)
        if (latch_client_redirect_uri_ok(&c, uri_cases[i].uri) != uri_cases[i].ok)
            fail_msg("%s: expected %d", uri_cases[i].uri, uri_cases[i].ok);
    assert_false(latch_client_redirect_uri_ok(&c, NULL));
    assert_true(latch_client_post_logout_uri_ok(&c, "http://localhost:3000"));
    assert_false(latch_client_post_logout_uri_ok(&c, "http://localhost:3000/"));
    assert_true(latch_client_origin_ok(&c, "https://spa.example.com"));
    assert_true(latch_client_origin_ok(&c, "http://localhost:3000")); /* a redirect URI origin */
    assert_false(latch_client_origin_ok(&c, "http://localhost:3001"));
    assert_false(latch_client_origin_ok(&c, "https://evil.example.com"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scope_claims),
        cmocka_unit_test(test_claim_values),
        cmocka_unit_test(test_scope_has),
        cmocka_unit_test(test_redirect_uri_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
