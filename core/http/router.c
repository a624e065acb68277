/* Route table and matching; see router.h. */
#include "http/router.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "metrics/metrics.h"
#include "util/percent.h"
#include "util/utf8.h"

struct segment {
    char *text; /* literal, or the parameter name */
    bool is_param;
};

struct route {
    enum latch_http_method method;
    struct segment segs[LATCH_ROUTE_MAX_SEGMENTS];
    int nsegs;
    latch_http_handler handler;
    void *arg;
    unsigned flags;
    size_t max_body;
    int metrics_route; /* classified once here, so requests only copy it */
};

struct latch_router {
    struct route *routes;
    int n, cap;
};

const char *latch_http_method_name(enum latch_http_method method)
{
    switch (method) {
    case LATCH_HTTP_GET:
        return "GET";
    case LATCH_HTTP_HEAD:
        return "HEAD";
    case LATCH_HTTP_POST:
        return "POST";
    case LATCH_HTTP_PUT:
        return "PUT";
    case LATCH_HTTP_PATCH:
        return "PATCH";
    case LATCH_HTTP_DELETE:
        return "DELETE";
    case LATCH_HTTP_OPTIONS:
        return "OPTIONS";
    case LATCH_HTTP_OTHER:
        break;
    }
    return "OTHER";
}

struct latch_router *latch_router_new(void)
{
    return calloc(1, sizeof(struct latch_router));
}

void latch_router_free(struct latch_router *router)
{
    if (router == NULL)
        return;
    for (int i = 0; i < router->n; i++)
        for (int s = 0; s < router->routes[i].nsegs; s++)
            free(router->routes[i].segs[s].text);
    free(router->routes);
    free(router);
}

latch_rc latch_router_add(struct latch_router *router, enum latch_http_method method,
                          const char *pattern, latch_http_handler handler, void *arg)
{
    return latch_router_add_flags(router, method, pattern, handler, arg, 0);
}

latch_rc latch_router_add_flags(struct latch_router *router, enum latch_http_method method,
                                const char *pattern, latch_http_handler handler, void *arg,
                                unsigned flags)
{
    if (pattern == NULL || pattern[0] != '/' || handler == NULL)
        return LATCH_FAIL;
    if (router->n == router->cap) {
        int cap = router->cap ? router->cap * 2 : 16;
        struct route *r = realloc(router->routes, (size_t)cap * sizeof(*r));
        if (r == NULL)
            return LATCH_FAIL;
        router->routes = r;
        router->cap = cap;
    }
    struct route *rt = &router->routes[router->n];
    memset(rt, 0, sizeof(*rt));
    rt->method = method;
    rt->handler = handler;
    rt->arg = arg;
    rt->flags = flags;
    if (strncmp(pattern, "/oidc/", 6) == 0)
        rt->flags |= LATCH_ROUTE_OAUTH_ERRORS;
    /* Bodies are bounded per route before a byte of them is read: only routes whose handler
     * checks credentials first (and so refuses strangers before their body) take big ones. */
    if (method == LATCH_HTTP_GET || method == LATCH_HTTP_HEAD)
        rt->max_body = 0;
    else if (flags & LATCH_ROUTE_AUTH_FIRST)
        rt->max_body = SIZE_MAX;
    else
        rt->max_body = LATCH_ROUTE_SMALL_BODY;
    rt->metrics_route = (int)latch_metrics_route_class(pattern);

    int nparams = 0;
    const char *p = pattern + 1;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || rt->nsegs == LATCH_ROUTE_MAX_SEGMENTS)
            goto fail;
        struct segment *seg = &rt->segs[rt->nsegs];
        seg->is_param = p[0] == ':';
        if (seg->is_param && (len < 2 || len > 31 || ++nparams > LATCH_ROUTE_MAX_PARAMS))
            goto fail;
        seg->text = strndup(seg->is_param ? p + 1 : p, seg->is_param ? len - 1 : len);
        if (seg->text == NULL)
            goto fail;
        rt->nsegs++;
        p += len;
        if (*p == '/')
            p++;
    }
    router->n++;
    return LATCH_OK;
fail:
    for (int s = 0; s < rt->nsegs; s++)
        free(rt->segs[s].text);
    return LATCH_FAIL;
}

/* Splits raw_path into segments; a trailing slash is not a segment ("/a/" == "/a"). */
static int split(const char *raw_path, const char *starts[], size_t lens[])
{
    int n = 0;
    const char *p = raw_path;
    if (*p == '/')
        p++;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == LATCH_ROUTE_MAX_SEGMENTS)
            return -1;
        if (len == 0 && slash != NULL)
            return -1; /* "//" never matches a route */
        if (len > 0) {
            starts[n] = p;
            lens[n] = len;
            n++;
        }
        p += len;
        if (*p == '/')
            p++;
    }
    return n;
}

static bool method_matches(enum latch_http_method route, enum latch_http_method req)
{
    return route == req || (route == LATCH_HTTP_GET && req == LATCH_HTTP_HEAD);
}

enum latch_route_result latch_router_match(const struct latch_router *router,
                                           enum latch_http_method method, const char *raw_path,
                                           struct latch_arena *arena,
                                           struct latch_route_match *match)
{
    const char *starts[LATCH_ROUTE_MAX_SEGMENTS];
    size_t lens[LATCH_ROUTE_MAX_SEGMENTS];
    memset(match, 0, sizeof(*match));
    int n = split(raw_path, starts, lens);
    if (n < 0)
        return LATCH_ROUTE_NOT_FOUND;

    const struct route *found = NULL;
    bool path_matched = false;
    for (int i = 0; i < router->n; i++) {
        const struct route *rt = &router->routes[i];
        if (rt->nsegs != n)
            continue;
        bool ok = true;
        for (int s = 0; s < n && ok; s++)
            ok = rt->segs[s].is_param || (strlen(rt->segs[s].text) == lens[s] &&
                                          memcmp(rt->segs[s].text, starts[s], lens[s]) == 0);
        if (!ok)
            continue;
        path_matched = true;
        if (method_matches(rt->method, method)) {
            found = rt;
            break;
        }
        const char *name = latch_http_method_name(rt->method);
        size_t used = strlen(match->allow);
        if (strstr(match->allow, name) == NULL && used + strlen(name) + 3 < sizeof(match->allow))
            snprintf(match->allow + used, sizeof(match->allow) - used, "%s%s", used ? ", " : "",
                     name);
    }
    if (found == NULL)
        return path_matched ? LATCH_ROUTE_METHOD_NOT_ALLOWED : LATCH_ROUTE_NOT_FOUND;

    match->handler = found->handler;
    match->arg = found->arg;
    match->flags = found->flags;
    match->max_body = found->max_body;
    match->metrics_route = found->metrics_route;
    match->allow[0] = '\0';
    for (int s = 0; s < n; s++) {
        if (!found->segs[s].is_param)
            continue;
        struct latch_route_param *param = &match->params[match->nparams++];
        snprintf(param->name, sizeof(param->name), "%s", found->segs[s].text);
        char *value = latch_arena_alloc(arena, lens[s] + 1);
        /* An id that is not UTF-8 can match nothing stored, and PostgreSQL would refuse it
         * with 22021: a 400 naming the parameter (params[nparams - 1]), before any handler. */
        long dlen = value ? latch_percent_decode(value, starts[s], lens[s]) : -1;
        if (dlen < 0 || !latch_utf8_valid(value, (size_t)dlen))
            return LATCH_ROUTE_BAD_PATH;
        param->value = value;
    }
    return LATCH_ROUTE_FOUND;
}

void latch_router_each(const struct latch_router *router,
                       void (*fn)(enum latch_http_method method, const char *pattern, void *arg),
                       void *arg)
{
    for (int i = 0; i < router->n; i++) {
        const struct route *rt = &router->routes[i];
        char pattern[512];
        size_t n = 0;
        for (int s = 0; s < rt->nsegs && n < sizeof(pattern); s++)
            n += (size_t)snprintf(pattern + n, sizeof(pattern) - n, "/%s%s",
                                  rt->segs[s].is_param ? ":" : "", rt->segs[s].text);
        if (rt->nsegs == 0)
            snprintf(pattern, sizeof(pattern), "/");
        fn(rt->method, pattern, arg);
    }
}
