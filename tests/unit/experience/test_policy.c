/*
 * Unit tests for core/experience/policy.c and core/ui/assets.c: the page language from
 * ui_locales, Accept-Language (q-values, exclusions, malformed entries) and languageInfo; the
 * sentinel and language policies read strictly (Management API bodies: every bad member named)
 * and leniently (stored values: defaults kept); the sentinel keys (SHA-256 of
 * "<type>:<lowercased value>" and of "user:<id>", checked against known digests); the tenant's
 * rateLimits read strictly and leniently and written back; the password policy written in
 * Logto's shape and the interpolation of rejection issues; the JSON content-type, CSRF, event and
 * sign-in-mode checks; and the compiled-in page assets (exact-name lookup only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "experience/policy.h"
#include "ui/assets.h"

/* ---- locale ---- */

struct locale_case {
    const char *ui_locales;
    const char *accept_language;
    bool auto_detect;
    const char *fallback;
    const char *want;
};

static const struct locale_case locale_cases[] = {
    /* defaults */
    {NULL, NULL, true, "en", "en"},
    {"", "", true, "en", "en"},
    /* ui_locales: the first supported tag wins, whatever Accept-Language says */
    {"es", "en-US,en;q=0.9", true, "en", "es"},
    {"es-MX", NULL, true, "en", "es"},
    {"fr de-CH es en", "en", true, "en", "es"},
    {"  en   es", "es", true, "en", "en"},
    {"EN-gb", "es", true, "en", "en"},
    {"fr", "es-ES,es;q=0.9", true, "en", "es"}, /* nothing supported: Accept-Language */
    {"fr", NULL, true, "es", "es"},             /* ... or the fallback */
    {"esperanto", NULL, true, "en", "en"},      /* "esperanto" is not "es" */
    {"es", NULL, false, "en", "es"},            /* ui_locales even without autoDetect */
    /* Accept-Language: highest q among supported languages, first on ties */
    {NULL, "es-ES", true, "en", "es"},
    {NULL, "fr-CH, fr;q=0.9, es;q=0.8, en;q=0.7", true, "en", "es"},
    {NULL, "en;q=0.5, es;q=0.6", true, "en", "es"},
    {NULL, "es;q=0.5, en;q=0.5", true, "en", "es"},
    {NULL, "en;q=0.500,es;q=0.499", true, "en", "en"},
    {NULL, "es;q=0, en;q=0.1", true, "es", "en"}, /* q=0 means "not this one" */
    {NULL, "es;q=0", true, "en", "en"},
    {NULL, "*", true, "es", "es"},
    {NULL, "de, *;q=0.5", true, "en", "en"},
    {NULL, "es;q=abc, en;q=0.2", true, "es", "en"}, /* a malformed q drops that entry */
    {NULL, "es;q=1.0", true, "en", "es"},
    {NULL, "es ; q=0.9 , en ; q=0.8", true, "en", "es"},
    {NULL, ",,,es,,", true, "en", "es"},
    {NULL, "es_ES", true, "en", "es"},
    /* autoDetect off: Accept-Language is ignored */
    {NULL, "es", false, "en", "en"},
    {NULL, "en", false, "es", "es"},
};

static void test_locale(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(locale_cases) / sizeof(locale_cases[0]); i++) {
        const struct locale_case *c = &locale_cases[i];
        struct latch_language_info li = {.auto_detect = c->auto_detect};
        strcpy(li.fallback, c->fallback);
        const char *got = latch_xp_locale(c->ui_locales, c->accept_language, &li);
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu (ui_locales %s, Accept-Language %s): got %s, want %s", i,
                     c->ui_locales ? c->ui_locales : "NULL",
                     c->accept_language ? c->accept_language : "NULL", got, c->want);
    }
    /* No languageInfo: Accept-Language, then English. */
    assert_string_equal(latch_xp_locale(NULL, "es", NULL), "es");
    assert_string_equal(latch_xp_locale(NULL, "fr", NULL), "en");
}

/* ---- policies ---- */

static yajl_val parse(const char *json)
{
    char err[128];
    yajl_val v = yajl_tree_parse(json, err, sizeof(err));
    if (v == NULL)
        fail_msg("bad test JSON %s: %s", json, err);
    return v;
}

static void test_sentinel_policy(void **state)
{
    struct latch_sentinel_policy p;
    char problem[160];
    (void)state;

    assert_true(latch_xp_sentinel_policy_read(NULL, true, &p, problem, sizeof(problem)));
    assert_int_equal(p.max_attempts, 100);
    assert_int_equal(p.lockout_minutes, 60);

    yajl_val v = parse("{\"maxAttempts\": 3, \"lockoutDuration\": 5}");
    assert_true(latch_xp_sentinel_policy_read(v, true, &p, problem, sizeof(problem)));
    assert_int_equal(p.max_attempts, 3);
    assert_int_equal(p.lockout_minutes, 5);
    yajl_tree_free(v);

    /* Only one member given: the other keeps its default. */
    v = parse("{\"lockoutDuration\": 1}");
    assert_true(latch_xp_sentinel_policy_read(v, true, &p, problem, sizeof(problem)));
    assert_int_equal(p.max_attempts, 100);
    assert_int_equal(p.lockout_minutes, 1);
    yajl_tree_free(v);

    static const struct {
        const char *json;
        const char *problem;
    } bad[] = {
        {"{\"maxAttempts\": 0}", "sentinelPolicy.maxAttempts: must be an integer from 1 to 10000"},
        {"{\"maxAttempts\": 10001}", "sentinelPolicy.maxAttempts: must be an integer"},
        {"{\"maxAttempts\": \"3\"}", "sentinelPolicy.maxAttempts: must be an integer"},
        {"{\"maxAttempts\": 2.5}", "sentinelPolicy.maxAttempts: must be an integer"},
        {"{\"lockoutDuration\": -1}", "sentinelPolicy.lockoutDuration: must be an integer"},
        {"{\"lockoutDuration\": 43201}", "sentinelPolicy.lockoutDuration: must be an integer"},
        {"{\"maxAttemps\": 3}", "sentinelPolicy.maxAttemps: is not a known member"},
        {"[1]", "sentinelPolicy: must be an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i].json);
        problem[0] = '\0';
        assert_false(latch_xp_sentinel_policy_read(v, true, &p, problem, sizeof(problem)));
        if (strncmp(problem, bad[i].problem, strlen(bad[i].problem)) != 0)
            fail_msg("%s: problem \"%s\", want \"%s...\"", bad[i].json, problem, bad[i].problem);
        /* Stored values are read leniently: the bad member keeps its default. */
        assert_true(latch_xp_sentinel_policy_read(v, false, &p, NULL, 0));
        assert_in_range(p.max_attempts, 1, 10000);
        assert_in_range(p.lockout_minutes, 1, 43200);
        yajl_tree_free(v);
    }
}

static void test_sentinel_policy_write(void **state)
{
    struct latch_sentinel_policy p = {.max_attempts = 7, .lockout_minutes = 30};
    struct latch_json j;
    (void)state;
    latch_json_init(&j);
    latch_xp_sentinel_policy_write(&p, &j);
    char *text = latch_json_take(&j, NULL);
    assert_string_equal(text, "{\"maxAttempts\":7,\"lockoutDuration\":30}");
    /* What is written reads back the same, strictly. */
    yajl_val v = parse(text);
    struct latch_sentinel_policy q;
    assert_true(latch_xp_sentinel_policy_read(v, true, &q, NULL, 0));
    assert_int_equal(q.max_attempts, 7);
    assert_int_equal(q.lockout_minutes, 30);
    yajl_tree_free(v);
    free(text);
}

static void test_language_info(void **state)
{
    struct latch_language_info li;
    char problem[160];
    (void)state;

    assert_true(latch_xp_language_info_read(NULL, true, &li, problem, sizeof(problem)));
    assert_true(li.auto_detect);
    assert_string_equal(li.fallback, "en");

    yajl_val v = parse("{\"autoDetect\": false, \"fallbackLanguage\": \"es\"}");
    assert_true(latch_xp_language_info_read(v, true, &li, problem, sizeof(problem)));
    assert_false(li.auto_detect);
    assert_string_equal(li.fallback, "es");
    yajl_tree_free(v);

    v = parse("{\"fallbackLanguage\": \"fr\"}");
    assert_false(latch_xp_language_info_read(v, true, &li, problem, sizeof(problem)));
    assert_string_equal(problem, "languageInfo.fallbackLanguage: must be \"en\" or \"es\"");
    assert_true(latch_xp_language_info_read(v, false, &li, NULL, 0));
    assert_string_equal(li.fallback, "en"); /* lenient: unsupported stays on the default */
    yajl_tree_free(v);

    v = parse("{\"autoDetect\": \"yes\"}");
    assert_false(latch_xp_language_info_read(v, true, &li, problem, sizeof(problem)));
    assert_string_equal(problem, "languageInfo.autoDetect: must be a boolean");
    yajl_tree_free(v);

    v = parse("{\"fallback\": \"es\"}");
    assert_false(latch_xp_language_info_read(v, true, &li, problem, sizeof(problem)));
    assert_string_equal(problem, "languageInfo.fallback: is not a known member");
    yajl_tree_free(v);

    struct latch_json j;
    latch_json_init(&j);
    li.auto_detect = false;
    strcpy(li.fallback, "es");
    latch_xp_language_info_write(&li, &j);
    char *text = latch_json_take(&j, NULL);
    assert_string_equal(text, "{\"autoDetect\":false,\"fallbackLanguage\":\"es\"}");
    free(text);
}

static void test_password_policy_write(void **state)
{
    struct latch_password_policy p;
    struct latch_json j;
    (void)state;
    latch_users_policy_default(&p);
    p.min_length = 10;
    p.min_types = 3;
    p.reject_user_info = false;
    p.nwords = 2;
    strcpy(p.words[0], "latch");
    strcpy(p.words[1], "say \"hi\"");
    latch_json_init(&j);
    latch_xp_password_policy_write(&p, &j);
    char *text = latch_json_take(&j, NULL);
    assert_string_equal(text, "{\"length\":{\"min\":10,\"max\":256},\"characterTypes\":{\"min\":3},"
                              "\"rejects\":{\"pwned\":false,\"repetitionAndSequence\":true,"
                              "\"userInfo\":false,\"words\":[\"latch\",\"say \\\"hi\\\"\"]}}");
    /* users/ reads it back to the same policy. */
    struct latch_password_policy q;
    struct latch_error err;
    assert_int_equal(latch_users_policy_parse(text, &q, &err), LATCH_OK);
    assert_int_equal(q.min_length, 10);
    assert_int_equal(q.max_length, 256);
    assert_int_equal(q.min_types, 3);
    assert_false(q.reject_user_info);
    assert_true(q.reject_repetition_and_sequence);
    assert_int_equal(q.nwords, 2);
    assert_string_equal(q.words[1], "say \"hi\"");
    free(text);
}

static void test_password_issues(void **state)
{
    struct latch_password_policy p;
    const char *name;
    int value;
    char text[200];
    (void)state;
    latch_users_policy_default(&p);
    p.min_length = 12;
    p.max_length = 64;
    p.min_types = 3;

    latch_xp_password_issue_interpolation(LATCH_PASSWORD_TOO_SHORT, &p, &name, &value);
    assert_string_equal(name, "min");
    assert_int_equal(value, 12);
    latch_xp_password_issue_interpolation(LATCH_PASSWORD_TOO_LONG, &p, &name, &value);
    assert_string_equal(name, "max");
    assert_int_equal(value, 64);
    latch_xp_password_issue_interpolation(LATCH_PASSWORD_CHARACTER_TYPES, &p, &name, &value);
    assert_string_equal(name, "min");
    assert_int_equal(value, 3);
    latch_xp_password_issue_interpolation(LATCH_PASSWORD_SEQUENCE, &p, &name, &value);
    assert_null(name);

    latch_xp_password_issue_text(LATCH_PASSWORD_TOO_SHORT, &p, text, sizeof(text));
    assert_string_equal(text, "The password must be at least 12 characters long.");
    latch_xp_password_issue_text(LATCH_PASSWORD_USER_INFO, &p, text, sizeof(text));
    assert_string_equal(text, "The password must not contain your username.");
    /* Every issue users/ may report has a sentence of its own. */
    for (unsigned bit = 1; bit <= LATCH_PASSWORD_WORDS; bit <<= 1) {
        latch_xp_password_issue_text(bit, &p, text, sizeof(text));
        assert_string_not_equal(text, "The password does not meet the requirements.");
    }
}

/* ---- sentinel key ---- */

static void test_sentinel_key(void **state)
{
    char a[LATCH_TOKEN_HASH_TEXT], b[LATCH_TOKEN_HASH_TEXT];
    (void)state;
    /* sha256("username:alice") */
    assert_int_equal(latch_xp_sentinel_key("username", "alice", a), LATCH_OK);
    assert_string_equal(a, "\\x9f71f70cbbb709a7dd6262bc14071844193df097d4cdc96dbb287748cba61086");
    /* The same identifier however it is typed. */
    assert_int_equal(latch_xp_sentinel_key("username", "AlIcE", b), LATCH_OK);
    assert_string_equal(a, b);
    /* sha256("email:alice@example.com") */
    assert_int_equal(latch_xp_sentinel_key("email", "Alice@Example.COM", a), LATCH_OK);
    assert_string_equal(a, "\\x889e87fc03d0477823a739f269555750a3fd94dacfd1694589bf2bc4eef07b55");
    /* A username and an email with the same text are different identifiers. */
    assert_int_equal(latch_xp_sentinel_key("username", "alice@example.com", b), LATCH_OK);
    assert_string_not_equal(a, b);
}

static void test_sentinel_user_key(void **state)
{
    char a[LATCH_TOKEN_HASH_TEXT], b[LATCH_TOKEN_HASH_TEXT];
    (void)state;
    /* sha256("user:abc123def456"), as PostgreSQL's sha256(convert_to('user:' || id, 'UTF8')) */
    assert_int_equal(latch_xp_sentinel_user_key("abc123def456", a), LATCH_OK);
    assert_string_equal(a, "\\x46c1348b69ba6d9cac750ad1a19e3ee82385b7afa6309b277b43f11c3fed9490");
    /* Never the key of an identifier, even one spelling the same text. */
    assert_int_equal(latch_xp_sentinel_key("user", "abc123def456", b), LATCH_OK);
    assert_string_equal(a, b); /* same text, same hash: which is why no identifier type is "user" */
    assert_int_equal(latch_xp_sentinel_key("username", "abc123def456", b), LATCH_OK);
    assert_string_not_equal(a, b);
    /* Ids are taken as stored (not case-folded) and bounded. */
    assert_int_equal(latch_xp_sentinel_user_key("ABC123DEF456", b), LATCH_OK);
    assert_string_not_equal(a, b);
    char long_id[80];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(latch_xp_sentinel_user_key(long_id, b), LATCH_FAIL);
}

/* ---- rate limits ---- */

static void test_rate_limits(void **state)
{
    struct latch_xp_rate_limits rl;
    char problem[160];
    (void)state;

    /* Nothing set: every limit is the node's. */
    assert_true(latch_xp_rate_limits_read(NULL, true, &rl, problem, sizeof(problem)));
    assert_int_equal(rl.password_failures_per_ip, 0);
    assert_int_equal(rl.registration_checks_per_ip, 0);

    yajl_val v = parse("{\"passwordFailuresPerIpPerMinute\": 3,"
                       " \"registrationChecksPerIpPerMinute\": null}");
    assert_true(latch_xp_rate_limits_read(v, true, &rl, problem, sizeof(problem)));
    assert_int_equal(rl.password_failures_per_ip, 3);
    assert_int_equal(rl.registration_checks_per_ip, 0);
    yajl_tree_free(v);

    struct latch_json j;
    latch_json_init(&j);
    latch_xp_rate_limits_write(&rl, &j);
    char *text = latch_json_take(&j, NULL);
    assert_string_equal(text, "{\"passwordFailuresPerIpPerMinute\":3}");
    free(text);
    struct latch_xp_rate_limits none = {0};
    latch_json_init(&j);
    latch_xp_rate_limits_write(&none, &j);
    text = latch_json_take(&j, NULL);
    assert_string_equal(text, "{}");
    free(text);

    static const struct {
        const char *json;
        const char *problem;
    } bad[] = {
        {"{\"passwordFailuresPerIpPerMinute\": 0}",
         "rateLimits.passwordFailuresPerIpPerMinute: must be an integer from 1 to 10000"},
        {"{\"passwordFailuresPerIpPerMinute\": 10001}",
         "rateLimits.passwordFailuresPerIpPerMinute: must be an integer"},
        {"{\"registrationChecksPerIpPerMinute\": \"5\"}",
         "rateLimits.registrationChecksPerIpPerMinute: must be an integer"},
        {"{\"registrationChecksPerIpPerMinute\": -3}",
         "rateLimits.registrationChecksPerIpPerMinute: must be an integer"},
        {"{\"clientAuthFailures\": 5}", "rateLimits.clientAuthFailures: is not a known member"},
        {"7", "rateLimits: must be an object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i].json);
        problem[0] = '\0';
        assert_false(latch_xp_rate_limits_read(v, true, &rl, problem, sizeof(problem)));
        if (strncmp(problem, bad[i].problem, strlen(bad[i].problem)) != 0)
            fail_msg("%s: problem \"%s\", want \"%s...\"", bad[i].json, problem, bad[i].problem);
        /* Stored values are read leniently: a bad member means the node's limit. */
        assert_true(latch_xp_rate_limits_read(v, false, &rl, NULL, 0));
        assert_int_equal(rl.password_failures_per_ip, 0);
        assert_int_equal(rl.registration_checks_per_ip, 0);
        yajl_tree_free(v);
    }
}

/* ---- small checks ---- */

static void test_is_json(void **state)
{
    (void)state;
    assert_true(latch_xp_is_json("application/json"));
    assert_true(latch_xp_is_json("application/json; charset=utf-8"));
    assert_true(latch_xp_is_json("Application/JSON;charset=UTF-8"));
    assert_true(latch_xp_is_json(" application/json "));
    assert_false(latch_xp_is_json(NULL));
    assert_false(latch_xp_is_json(""));
    assert_false(latch_xp_is_json("text/plain"));
    assert_false(latch_xp_is_json("application/x-www-form-urlencoded"));
    assert_false(latch_xp_is_json("multipart/form-data; boundary=x"));
    assert_false(latch_xp_is_json("application/jsonp"));
    assert_false(latch_xp_is_json("application/json-patch+json"));
}

static void test_csrf(void **state)
{
    (void)state;
    assert_true(latch_xp_csrf_ok("abc123", "abc123"));
    assert_false(latch_xp_csrf_ok("abc123", "abc124"));
    assert_false(latch_xp_csrf_ok("abc123", "abc1234"));
    assert_false(latch_xp_csrf_ok("abc123", "abc12"));
    assert_false(latch_xp_csrf_ok("abc123", ""));
    assert_false(latch_xp_csrf_ok("abc123", NULL));
    assert_false(latch_xp_csrf_ok(NULL, "abc123"));
    assert_false(latch_xp_csrf_ok("", "")); /* an empty token protects nothing */
}

static void test_events_and_modes(void **state)
{
    (void)state;
    assert_int_equal(latch_xp_event_parse("SignIn"), LATCH_XP_EVENT_SIGN_IN);
    assert_int_equal(latch_xp_event_parse("Register"), LATCH_XP_EVENT_REGISTER);
    assert_int_equal(latch_xp_event_parse("signin"), LATCH_XP_EVENT_NONE);
    assert_int_equal(latch_xp_event_parse("ForgotPassword"), LATCH_XP_EVENT_FORGOT_PASSWORD);
    assert_int_equal(latch_xp_event_parse("forgotpassword"), LATCH_XP_EVENT_NONE);
    assert_int_equal(latch_xp_event_parse(NULL), LATCH_XP_EVENT_NONE);

    assert_true(latch_xp_mode_allows("SignInAndRegister", LATCH_XP_EVENT_SIGN_IN));
    assert_true(latch_xp_mode_allows("SignInAndRegister", LATCH_XP_EVENT_REGISTER));
    assert_true(latch_xp_mode_allows("SignIn", LATCH_XP_EVENT_SIGN_IN));
    assert_false(latch_xp_mode_allows("SignIn", LATCH_XP_EVENT_REGISTER));
    assert_false(latch_xp_mode_allows("Register", LATCH_XP_EVENT_SIGN_IN));
    assert_true(latch_xp_mode_allows("Register", LATCH_XP_EVENT_REGISTER));
    assert_false(latch_xp_mode_allows("SignInAndRegister", LATCH_XP_EVENT_NONE));
    /* a password to reset exists only where people sign in */
    assert_true(latch_xp_mode_allows("SignIn", LATCH_XP_EVENT_FORGOT_PASSWORD));
    assert_true(latch_xp_mode_allows("SignInAndRegister", LATCH_XP_EVENT_FORGOT_PASSWORD));
    assert_false(latch_xp_mode_allows("Register", LATCH_XP_EVENT_FORGOT_PASSWORD));
}

/* ---- compiled-in assets ---- */

static void test_assets(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *type;
    } want[] = {
        {"sign-in.html", "text/html; charset=utf-8"},
        {"sign-in.css", "text/css; charset=utf-8"},
        {"sign-in.js", "text/javascript; charset=utf-8"},
        {"en.json", "application/json; charset=utf-8"},
        {"es.json", "application/json; charset=utf-8"},
        {"logo.svg", "image/svg+xml"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct latch_ui_asset *a = latch_ui_asset_find(want[i].name);
        if (a == NULL)
            fail_msg("asset %s missing", want[i].name);
        assert_string_equal(a->content_type, want[i].type);
        assert_true(a->len > 0);
        assert_int_equal(strlen(a->etag), 18); /* "16 hex digits" */
        assert_int_equal(a->etag[0], '"');
    }
    /* Exact names only: nothing is resolved against a directory. */
    static const char *const missing[] = {"",
                                          "nope.css",
                                          "../sign-in.css",
                                          "./sign-in.css",
                                          "sign-in.css/",
                                          "SIGN-IN.CSS",
                                          "sign-in.css\n",
                                          "ui/sign-in.css",
                                          NULL};
    for (const char *const *m = missing; *m; m++)
        assert_null(latch_ui_asset_find(*m));
    assert_null(latch_ui_asset_find(NULL));
    assert_int_equal(strlen(latch_ui_version), 12);

    /* The page's script loads no other code and carries no inline handlers the CSP would block. */
    const struct latch_ui_asset *html = latch_ui_asset_find("sign-in.html");
    char *page = strndup((const char *)html->data, html->len);
    assert_null(strstr(page, "onclick"));
    assert_null(strstr(page, "style="));
    assert_null(strstr(page, "http://"));
    assert_null(strstr(page, "https://"));
    assert_non_null(
        strstr(page, "<script id=\"i18n\" type=\"application/json\">{{i18n}}</script>"));
    free(page);

    /* Both languages translate the same keys. */
    const struct latch_ui_asset *en = latch_ui_asset_find("en.json");
    const struct latch_ui_asset *es = latch_ui_asset_find("es.json");
    char *en_text = strndup((const char *)en->data, en->len);
    char *es_text = strndup((const char *)es->data, es->len);
    yajl_val a = parse(en_text), b = parse(es_text);
    assert_true(YAJL_IS_OBJECT(a) && YAJL_IS_OBJECT(b));
    assert_int_equal(a->u.object.len, b->u.object.len);
    for (size_t i = 0; i < a->u.object.len; i++) {
        const char *path[] = {a->u.object.keys[i], NULL};
        if (yajl_tree_get(b, path, yajl_t_string) == NULL)
            fail_msg("es.json lacks %s", a->u.object.keys[i]);
    }
    const char *title[] = {"title.signIn", NULL};
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(a, title, yajl_t_string)), "Sign in");
    assert_string_equal(YAJL_GET_STRING(yajl_tree_get(b, title, yajl_t_string)),
                        "Iniciar sesi\xc3\xb3n");
    yajl_tree_free(a);
    yajl_tree_free(b);
    free(en_text);
    free(es_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locale),
        cmocka_unit_test(test_sentinel_policy),
        cmocka_unit_test(test_sentinel_policy_write),
        cmocka_unit_test(test_language_info),
        cmocka_unit_test(test_password_policy_write),
        cmocka_unit_test(test_password_issues),
        cmocka_unit_test(test_sentinel_key),
        cmocka_unit_test(test_sentinel_user_key),
        cmocka_unit_test(test_rate_limits),
        cmocka_unit_test(test_is_json),
        cmocka_unit_test(test_csrf),
        cmocka_unit_test(test_events_and_modes),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
