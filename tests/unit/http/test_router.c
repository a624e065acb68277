/* Unit tests for http/router.c and tenant path resolution (tenants/tenants.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"
#include "tenants/tenants.h"

static void h_a(struct latch_request *req, void *arg)
{
}
static void h_b(struct latch_request *req, void *arg)
{
}
static void h_c(struct latch_request *req, void *arg)
{
}

struct route_case {
    enum latch_http_method method;
    const char *path;
    enum latch_route_result result;
    latch_http_handler handler;
    const char *param_id; /* expected :id, or NULL */
    const char *allow;    /* expected Allow for 405 */
};

static void test_routes(void **state)
{
    struct latch_router *r = latch_router_new();
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "/api/users", h_a, NULL), LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_POST, "/api/users", h_b, NULL), LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "/api/users/:id", h_c, NULL), LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_PATCH, "/api/users/:id/password", h_a, NULL),
                     LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "bad", h_a, NULL), LATCH_FAIL);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "/a//b", h_a, NULL), LATCH_FAIL);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "/a/:", h_a, NULL), LATCH_FAIL);

    const struct route_case cases[] = {
        {LATCH_HTTP_GET, "/api/users", LATCH_ROUTE_FOUND, h_a, NULL, NULL},
        {LATCH_HTTP_HEAD, "/api/users", LATCH_ROUTE_FOUND, h_a, NULL, NULL},
        {LATCH_HTTP_POST, "/api/users", LATCH_ROUTE_FOUND, h_b, NULL, NULL},
        {LATCH_HTTP_GET, "/api/users/", LATCH_ROUTE_FOUND, h_a, NULL, NULL},
        {LATCH_HTTP_GET, "/api/users/u1", LATCH_ROUTE_FOUND, h_c, "u1", NULL},
        {LATCH_HTTP_GET, "/api/users/a%2Fb", LATCH_ROUTE_FOUND, h_c, "a/b", NULL},
        {LATCH_HTTP_PATCH, "/api/users/x/password", LATCH_ROUTE_FOUND, h_a, "x", NULL},
        {LATCH_HTTP_DELETE, "/api/users", LATCH_ROUTE_METHOD_NOT_ALLOWED, NULL, NULL, "GET, POST"},
        {LATCH_HTTP_GET, "/api/users/x/password", LATCH_ROUTE_METHOD_NOT_ALLOWED, NULL, NULL,
         "PATCH"},
        {LATCH_HTTP_GET, "/api/users/x/y", LATCH_ROUTE_NOT_FOUND, NULL, NULL, NULL},
        {LATCH_HTTP_GET, "/api", LATCH_ROUTE_NOT_FOUND, NULL, NULL, NULL},
        {LATCH_HTTP_GET, "/api//users", LATCH_ROUTE_NOT_FOUND, NULL, NULL, NULL},
        {LATCH_HTTP_GET, "/API/users", LATCH_ROUTE_NOT_FOUND, NULL, NULL, NULL},
        {LATCH_HTTP_GET, "/api/users/%zz", LATCH_ROUTE_BAD_PATH, NULL, NULL, NULL},
        {LATCH_HTTP_GET, "/api/users/%00", LATCH_ROUTE_BAD_PATH, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct latch_arena *arena = latch_arena_new(0);
        struct latch_route_match m;
        enum latch_route_result res =
            latch_router_match(r, cases[i].method, cases[i].path, arena, &m);
        if (res != cases[i].result)
            fail_msg("%s: got %d, expected %d", cases[i].path, res, cases[i].result);
        if (res == LATCH_ROUTE_FOUND) {
            assert_ptr_equal(m.handler, cases[i].handler);
            if (cases[i].param_id) {
                assert_int_equal(m.nparams, 1);
                assert_string_equal(m.params[0].name, "id");
                assert_string_equal(m.params[0].value, cases[i].param_id);
            }
        }
        if (cases[i].allow)
            assert_string_equal(m.allow, cases[i].allow);
        latch_arena_free(arena);
    }
    latch_router_free(r);
}

struct resolve_case {
    const char *path;
    bool ok;
    const char *id;
    const char *inner;
};

/* Body bounds and error shapes are classified per route when it is added. */
static void test_body_bounds(void **state)
{
    struct latch_router *r = latch_router_new();
    struct latch_arena *arena = latch_arena_new(0);
    struct latch_route_match m;
    assert_int_equal(latch_router_add(r, LATCH_HTTP_POST, "/oidc/token", h_a, NULL), LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_GET, "/oidc/jwks", h_a, NULL), LATCH_OK);
    assert_int_equal(latch_router_add(r, LATCH_HTTP_PUT, "/api/experience", h_a, NULL), LATCH_OK);
    assert_int_equal(latch_router_add_flags(r, LATCH_HTTP_POST, "/api/applications", h_b, NULL,
                                            LATCH_ROUTE_AUTH_FIRST),
                     LATCH_OK);
    assert_int_equal(latch_router_add_flags(r, LATCH_HTTP_GET, "/api/applications", h_b, NULL,
                                            LATCH_ROUTE_AUTH_FIRST),
                     LATCH_OK);

    assert_int_equal(latch_router_match(r, LATCH_HTTP_POST, "/oidc/token", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_int_equal(m.max_body, LATCH_ROUTE_SMALL_BODY);
    assert_true(m.flags & LATCH_ROUTE_OAUTH_ERRORS);
    assert_false(m.flags & LATCH_ROUTE_AUTH_FIRST);

    assert_int_equal(latch_router_match(r, LATCH_HTTP_HEAD, "/oidc/jwks", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_int_equal(m.max_body, 0);
    assert_true(m.flags & LATCH_ROUTE_OAUTH_ERRORS);

    assert_int_equal(latch_router_match(r, LATCH_HTTP_PUT, "/api/experience", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_int_equal(m.max_body, LATCH_ROUTE_SMALL_BODY);
    assert_false(m.flags & LATCH_ROUTE_OAUTH_ERRORS);

    assert_int_equal(latch_router_match(r, LATCH_HTTP_POST, "/api/applications", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_true(m.max_body == SIZE_MAX);
    assert_true(m.flags & LATCH_ROUTE_AUTH_FIRST);
    assert_false(m.flags & LATCH_ROUTE_OAUTH_ERRORS);

    assert_int_equal(latch_router_match(r, LATCH_HTTP_GET, "/api/applications", arena, &m),
                     LATCH_ROUTE_FOUND);
    assert_int_equal(m.max_body, 0);

    latch_arena_free(arena);
    latch_router_free(r);
}

static void test_tenant_resolution(void **state)
{
    const struct resolve_case cases[] = {
        {"/api/status", true, "default", "/api/status"},
        {"/", true, "default", "/"},
        {"/t/acme/api/status", true, "acme", "/api/status"},
        {"/t/acme", true, "acme", "/"},
        {"/t/acme/", true, "acme", "/"},
        {"/t/a-1/oidc/jwks", true, "a-1", "/oidc/jwks"},
        {"/tx/acme", true, "default", "/tx/acme"},
        {"/t/", false, NULL, NULL},
        {"/t//api", false, NULL, NULL},
        {"/t/ACME/api", false, NULL, NULL},
        {"/t/-acme/api", false, NULL, NULL},
        {"/t/acme-/api", false, NULL, NULL},
        {"/t/a_b/api", false, NULL, NULL},
        {"/t/abcdefghijklmnopqrstuv/api", false, NULL, NULL}, /* 22 characters */
        {"/t/%61cme/api", false, NULL, NULL},                 /* ids are never percent-encoded */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *id = NULL, *inner = NULL;
        size_t len = 0;
        bool ok = latch_tenants_resolve(cases[i].path, &id, &len, &inner);
        if (ok != cases[i].ok)
            fail_msg("%s: got %d", cases[i].path, ok);
        if (!ok)
            continue;
        assert_int_equal(len, strlen(cases[i].id));
        assert_memory_equal(id, cases[i].id, len);
        assert_string_equal(inner, cases[i].inner);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_body_bounds),
        cmocka_unit_test(test_tenant_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
