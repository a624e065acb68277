/*
 * Cookies (RFC 6265): reading one from the request, and setting one on the response with the
 * attributes Latch always wants (HttpOnly, SameSite, Secure over https, a Path scoped to the
 * tenant endpoint).
 */
#ifndef LATCH_HTTP_COOKIE_H
#define LATCH_HTTP_COOKIE_H

#include <stdbool.h>

#include "http/http.h"

/* The value of cookie name, in req->arena; NULL when absent. Malformed pairs are skipped. */
const char *latch_http_cookie_get(struct latch_request *req, const char *name);

struct latch_cookie {
    const char *name;
    const char *value; /* "" with max_age 0 deletes */
    const char *path;  /* e.g. "/t/acme/" */
    long max_age;      /* seconds; -1: a session cookie (no Max-Age) */
    bool secure;
    bool http_only;
    const char *same_site; /* "Lax", "Strict" or "None" */
};

void latch_http_set_cookie(struct latch_request *req, const struct latch_cookie *cookie);

/* "<prefix>_<tenant id>", in req->arena: per-tenant cookie names, since tenant `default` lives at
 * the root path, above every other tenant's endpoint. */
const char *latch_http_tenant_cookie_name(struct latch_request *req, const char *prefix);

/* The path of the request's tenant endpoint with a trailing slash ("/", "/t/acme/", or under
 * LATCH_PUBLIC_URL's own path), in req->arena. */
const char *latch_http_tenant_cookie_path(struct latch_request *req);

#endif
