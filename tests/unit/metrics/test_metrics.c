/*
 * Unit tests for core/metrics/metrics.c: series numbering, histogram bucketing at and around
 * the bounds (upper bounds are inclusive), the text exposition of counters, gauges and
 * histograms (cumulative buckets, +Inf equal to _count, _sum in seconds), label escaping, sparse
 * families, route classes of the real route patterns, and the whole exposition of the process
 * (every sample under a declared family, the recorders moving exactly their series).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

/* Renders f into a malloc'd string. */
static char *render(const struct latch_metrics_family *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_true(latch_metrics_family_render(f, out));
    assert_int_equal(fclose(out), 0);
    return buf;
}

static char *render_all(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_true(latch_metrics_render_all(out));
    assert_int_equal(fclose(out), 0);
    return buf;
}

/* The value of the sample line that starts with `prefix ` exactly; fails when absent. */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s in:\n%s", prefix, text);
    return -1;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

static const char *const colors[] = {"red", "green"};
static const char *const sizes[] = {"s", "m", "l"};
static const struct latch_metrics_label two_labels[] = {
    {.name = "color", .values = colors, .nvalues = 2},
    {.name = "size", .values = sizes, .nvalues = 3},
};

static void test_series_numbering(void **state)
{
    static _Atomic uint64_t data[6];
    struct latch_metrics_family f = {.name = "t_total",
                                     .help = "h",
                                     .type = LATCH_METRICS_COUNTER,
                                     .labels = two_labels,
                                     .nlabels = 2,
                                     .data = data};
    (void)state;
    assert_int_equal(latch_metrics_series_count(&f), 6);
    assert_int_equal(latch_metrics_cells(&f), 1);
    assert_int_equal(latch_metrics_series(&f, (int[]){0, 0}), 0);
    assert_int_equal(latch_metrics_series(&f, (int[]){0, 2}), 2);
    assert_int_equal(latch_metrics_series(&f, (int[]){1, 0}), 3);
    assert_int_equal(latch_metrics_series(&f, (int[]){1, 2}), 5);
    assert_int_equal(latch_metrics_series(&f, (int[]){2, 0}), -1);
    assert_int_equal(latch_metrics_series(&f, (int[]){0, -1}), -1);

    latch_metrics_counter_add(&f, 5, 3);
    latch_metrics_counter_add(&f, 3, 1);
    latch_metrics_counter_add(&f, -1, 100); /* ignored */
    latch_metrics_counter_add(&f, 6, 100);  /* ignored */
    char *text = render(&f);
    assert_true(has_line(text, "# HELP t_total h"));
    assert_true(has_line(text, "# TYPE t_total counter"));
    assert_true(has_line(text, "t_total{color=\"green\",size=\"l\"} 3"));
    assert_true(has_line(text, "t_total{color=\"green\",size=\"s\"} 1"));
    assert_true(has_line(text, "t_total{color=\"red\",size=\"s\"} 0")); /* dense: zeros shown */
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2 + 6);
    free(text);
}

static const uint64_t bounds[] = {1000000, 5000000, 1000000000}; /* 1 ms, 5 ms, 1 s */

static void test_bucketing(void **state)
{
    static _Atomic uint64_t data[5];
    struct latch_metrics_family f = {.name = "t_seconds",
                                     .help = "h",
                                     .type = LATCH_METRICS_HISTOGRAM,
                                     .bounds = bounds,
                                     .nbounds = 3,
                                     .data = data};
    (void)state;
    assert_int_equal(latch_metrics_cells(&f), 5);
    assert_int_equal(latch_metrics_bucket(&f, 0), 0);
    assert_int_equal(latch_metrics_bucket(&f, 999999), 0);
    assert_int_equal(latch_metrics_bucket(&f, 1000000), 0); /* le is inclusive */
    assert_int_equal(latch_metrics_bucket(&f, 1000001), 1);
    assert_int_equal(latch_metrics_bucket(&f, 5000000), 1);
    assert_int_equal(latch_metrics_bucket(&f, 5000001), 2);
    assert_int_equal(latch_metrics_bucket(&f, 1000000000), 2);
    assert_int_equal(latch_metrics_bucket(&f, 1000000001), 3); /* +Inf */
    assert_int_equal(latch_metrics_bucket(&f, UINT64_MAX), 3);
}

static void test_histogram_exposition(void **state)
{
    static _Atomic uint64_t data[2 * 5];
    static const char *const ops[] = {"read", "write"};
    static const struct latch_metrics_label op_label[] = {
        {.name = "op", .values = ops, .nvalues = 2}};
    struct latch_metrics_family f = {.name = "t_duration_seconds",
                                     .help = "Durations.",
                                     .type = LATCH_METRICS_HISTOGRAM,
                                     .labels = op_label,
                                     .nlabels = 1,
                                     .bounds = bounds,
                                     .nbounds = 3,
                                     .data = data};
    (void)state;
    latch_metrics_observe(&f, 1, 500000);     /* 0.5 ms: first bucket */
    latch_metrics_observe(&f, 1, 1000000);    /* 1 ms: first bucket, on the bound */
    latch_metrics_observe(&f, 1, 3000000);    /* 3 ms */
    latch_metrics_observe(&f, 1, 2000000000); /* 2 s: +Inf only */
    latch_metrics_observe(&f, 2, 1);          /* no such series: ignored */
    char *text = render(&f);
    assert_true(has_line(text, "# TYPE t_duration_seconds histogram"));
    assert_true(has_line(text, "t_duration_seconds_bucket{op=\"write\",le=\"0.001\"} 2"));
    assert_true(has_line(text, "t_duration_seconds_bucket{op=\"write\",le=\"0.005\"} 3"));
    assert_true(has_line(text, "t_duration_seconds_bucket{op=\"write\",le=\"1\"} 3"));
    assert_true(has_line(text, "t_duration_seconds_bucket{op=\"write\",le=\"+Inf\"} 4"));
    assert_true(has_line(text, "t_duration_seconds_count{op=\"write\"} 4"));
    assert_true(has_line(text, "t_duration_seconds_sum{op=\"write\"} 2.0045"));
    assert_true(has_line(text, "t_duration_seconds_bucket{op=\"read\",le=\"+Inf\"} 0"));
    assert_true(has_line(text, "t_duration_seconds_sum{op=\"read\"} 0"));
    free(text);

    /* Without labels, the bucket lines carry le alone and _sum/_count none. */
    static _Atomic uint64_t data1[5];
    struct latch_metrics_family g = {.name = "t_plain_seconds",
                                     .help = "h",
                                     .type = LATCH_METRICS_HISTOGRAM,
                                     .bounds = bounds,
                                     .nbounds = 3,
                                     .data = data1};
    latch_metrics_observe(&g, 0, 5000000);
    text = render(&g);
    assert_true(has_line(text, "t_plain_seconds_bucket{le=\"0.001\"} 0"));
    assert_true(has_line(text, "t_plain_seconds_bucket{le=\"0.005\"} 1"));
    assert_true(has_line(text, "t_plain_seconds_count 1"));
    assert_true(has_line(text, "t_plain_seconds_sum 0.005"));
    free(text);
}

static void test_gauge_and_sparse(void **state)
{
    static _Atomic uint64_t gdata[1], sdata[6];
    struct latch_metrics_family g = {
        .name = "t_gauge", .help = "h", .type = LATCH_METRICS_GAUGE, .data = gdata};
    struct latch_metrics_family s = {.name = "t_sparse_total",
                                     .help = "h",
                                     .type = LATCH_METRICS_COUNTER,
                                     .labels = two_labels,
                                     .nlabels = 2,
                                     .sparse = true,
                                     .data = sdata};
    (void)state;
    latch_metrics_gauge_set(&g, 0, -7);
    char *text = render(&g);
    assert_true(has_line(text, "# TYPE t_gauge gauge"));
    assert_true(has_line(text, "t_gauge -7"));
    free(text);

    text = render(&s);
    assert_string_equal(text, "# HELP t_sparse_total h\n# TYPE t_sparse_total counter\n");
    free(text);
    latch_metrics_counter_add(&s, latch_metrics_series(&s, (int[]){1, 1}), 2);
    text = render(&s);
    assert_string_equal(text, "# HELP t_sparse_total h\n# TYPE t_sparse_total counter\n"
                              "t_sparse_total{color=\"green\",size=\"m\"} 2\n");
    free(text);
}

static void test_label_escaping(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    (void)state;
    latch_metrics_write_label_value(out, "a\\b\"c\nd");
    fclose(out);
    assert_string_equal(buf, "a\\\\b\\\"c\\nd");
    free(buf);
}

static void test_route_classes(void **state)
{
    static const struct {
        const char *pattern;
        const char *route;
    } cases[] = {
        {"/oidc/token", "oidc_token"},
        {"/oidc/token/revocation", "oidc_other"},
        {"/oidc/token/introspection", "oidc_other"},
        {"/oidc/auth", "oidc_auth"},
        {"/oidc/auth/resume", "oidc_auth"},
        {"/oidc/.well-known/openid-configuration", "oidc_discovery"},
        {"/oidc/jwks", "oidc_jwks"},
        {"/oidc/me", "oidc_userinfo"},
        {"/oidc/session/end", "oidc_other"},
        {"/api/experience", "experience"},
        {"/api/experience/verification/password", "experience"},
        {"/callback/:connectorId", "experience"},
        {"/api/experiences", "mgmt"}, /* a prefix of a segment is not the segment */
        {"/api/users/:id/roles", "mgmt"},
        {"/api/swagger.json", "mgmt"},
        {"/api/status", "health"},
        {"/healthz", "health"},
        {"/readyz", "health"},
        {"/sign-in", "pages"},
        {"/register", "pages"},
        {"/ui/:file", "pages"},
        {"/oidcx", "other"},
        {"/", "other"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(latch_metrics_route_name(latch_metrics_route_class(cases[i].pattern)),
                            cases[i].route);
    assert_string_equal(latch_metrics_route_name(latch_metrics_route_class(NULL)), "unmatched");
    assert_string_equal(latch_metrics_route_name(LATCH_METRICS_ROUTE_COUNT), "other");
}

/* Every sample line's name is a declared family (or its _bucket/_sum/_count for histograms). */
static void check_exposition(const char *text)
{
    char families[64][96];
    char types[64][16];
    int nfam = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol); /* every line ends with \n */
        char line[1024];
        size_t n = (size_t)(eol - p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p = eol + 1;
        if (strncmp(line, "# HELP ", 7) == 0)
            continue;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(nfam < 64);
            assert_int_equal(sscanf(line + 7, "%95s %15s", families[nfam], types[nfam]), 2);
            nfam++;
            continue;
        }
        assert_true(line[0] != '#');
        size_t name_len = strcspn(line, "{ ");
        bool found = false;
        for (int f = 0; f < nfam && !found; f++) {
            size_t fl = strlen(families[f]);
            if (name_len < fl || strncmp(line, families[f], fl) != 0)
                continue;
            const char *suffix = line + fl;
            size_t sl = name_len - fl;
            if (sl == 0)
                found = strcmp(types[f], "histogram") != 0;
            else if (strcmp(types[f], "histogram") == 0)
                found = (sl == 7 && strncmp(suffix, "_bucket", 7) == 0) ||
                        (sl == 4 && strncmp(suffix, "_sum", 4) == 0) ||
                        (sl == 6 && strncmp(suffix, "_count", 6) == 0);
        }
        if (!found)
            fail_msg("sample of no declared family: %s", line);
    }
}

static void test_render_all(void **state)
{
    (void)state;
    latch_metrics_init();
    char *before = render_all();
    check_exposition(before);
    assert_true(has_line(before, "latch_build_info{version=\"" LATCH_VERSION "\"} 1"));
    double tok = sample(before, "latch_http_requests_total{route=\"oidc_token\",status=\"2xx\"}");
    double tok5 = sample(before, "latch_http_requests_total{route=\"oidc_token\",status=\"5xx\"}");
    double cnt = sample(before, "latch_http_request_duration_seconds_count{route=\"oidc_token\"}");
    double es384 = sample(before, "latch_tokens_signed_total{alg=\"ES384\"}");
    free(before);

    latch_metrics_http_request(LATCH_METRICS_ROUTE_OIDC_TOKEN, 200, 2000000);
    latch_metrics_http_request(LATCH_METRICS_ROUTE_OIDC_TOKEN, 204, 2000000);
    latch_metrics_http_request(LATCH_METRICS_ROUTE_OIDC_TOKEN, 503, 2000000);
    latch_metrics_token_signed(1);
    latch_metrics_token_signed(9); /* out of range: ignored */
    latch_metrics_db_error("57P01");
    latch_metrics_db_error("Z!");
    latch_metrics_db_error(NULL);
    latch_metrics_signin(LATCH_METRICS_SIGNIN_PASSWORD, LATCH_METRICS_SIGNIN_LOCKED);
    latch_metrics_connector_call("mock", "1.0.0", LATCH_METRICS_CONNECTOR_USER_INFO, false,
                                 30000000);
    latch_metrics_connector_call("we\"ird", "2", LATCH_METRICS_CONNECTOR_AUTHORIZATION_URI, true,
                                 1000);

    char *after = render_all();
    check_exposition(after);
    assert_true(sample(after, "latch_http_requests_total{route=\"oidc_token\",status=\"2xx\"}") ==
                tok + 2);
    assert_true(sample(after, "latch_http_requests_total{route=\"oidc_token\",status=\"5xx\"}") ==
                tok5 + 1);
    assert_true(sample(after, "latch_http_request_duration_seconds_count{route=\"oidc_token\"}") ==
                cnt + 3);
    assert_true(sample(after, "latch_tokens_signed_total{alg=\"ES384\"}") == es384 + 1);
    assert_true(sample(after, "latch_db_statement_errors_total{class=\"57\"}") == 1);
    assert_true(sample(after, "latch_db_statement_errors_total{class=\"other\"}") == 2);
    assert_true(
        sample(after, "latch_signin_attempts_total{method=\"password\",outcome=\"locked\"}") == 1);
    assert_true(sample(after, "latch_connector_calls_total{connector=\"mock\",version=\"1.0.0\","
                              "op=\"user_info\",outcome=\"error\"}") == 1);
    assert_true(sample(after, "latch_connector_call_duration_seconds_bucket{connector=\"mock\","
                              "version=\"1.0.0\",op=\"user_info\",le=\"0.025\"}") == 0);
    assert_true(sample(after, "latch_connector_call_duration_seconds_bucket{connector=\"mock\","
                              "version=\"1.0.0\",op=\"user_info\",le=\"0.05\"}") == 1);
    assert_true(sample(after, "latch_connector_calls_total{connector=\"we\\\"ird\",version=\"2\","
                              "op=\"authorization_uri\",outcome=\"ok\"}") == 1);
    free(after);
}

static void test_connector_table_is_bounded(void **state)
{
    char id[32];
    (void)state;
    for (int i = 0; i < LATCH_METRICS_MAX_CONNECTORS + 10; i++) {
        snprintf(id, sizeof(id), "bulk-%d", i);
        latch_metrics_connector_call(id, "1", LATCH_METRICS_CONNECTOR_VALIDATE_CONFIG, true, 1);
    }
    char *text = render_all();
    check_exposition(text);
    int series = 0;
    const char *prefix = "latch_connector_calls_total{";
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *eol = strchr(p, '\n');
        const char *op = strstr(p, "op=\"validate_config\",outcome=\"ok\"");
        if (strncmp(p, prefix, strlen(prefix)) == 0 && op != NULL && op < eol)
            series++;
    }
    /* The table holds at most MAX pairs (two are taken by test_render_all), then "other". */
    assert_int_equal(series, LATCH_METRICS_MAX_CONNECTORS - 2 + 1);
    assert_true(sample(text, "latch_connector_calls_total{connector=\"other\",version=\"\","
                             "op=\"validate_config\",outcome=\"ok\"}") == 12);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_numbering),
        cmocka_unit_test(test_bucketing),
        cmocka_unit_test(test_histogram_exposition),
        cmocka_unit_test(test_gauge_and_sparse),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_route_classes),
        cmocka_unit_test(test_render_all),
        cmocka_unit_test(test_connector_table_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
