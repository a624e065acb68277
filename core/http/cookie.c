/* Cookies; see cookie.h. */
#include "http/cookie.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"

const char *latch_http_cookie_get(struct latch_request *req, const char *name)
{
    size_t nlen = strlen(name);
    for (int i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, "cookie") != 0)
            continue;
        const char *p = req->headers[i].value;
        while (*p) {
            while (*p == ' ' || *p == ';')
                p++;
            const char *eq = strchr(p, '=');
            const char *end = strchr(p, ';');
            if (end == NULL)
                end = p + strlen(p);
            if (eq != NULL && eq < end && (size_t)(eq - p) == nlen && strncmp(p, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vlen = (size_t)(end - v);
                if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                    v++;
                    vlen -= 2;
                }
                return latch_arena_strndup(req->arena, v, vlen);
            }
            p = end;
        }
    }
    return NULL;
}

void latch_http_set_cookie(struct latch_request *req, const struct latch_cookie *c)
{
    char max_age[48] = "";
    if (c->max_age >= 0)
        snprintf(max_age, sizeof(max_age), "; Max-Age=%ld", c->max_age);
    char *header =
        latch_arena_printf(req->arena, "%s=%s; Path=%s%s%s%s; SameSite=%s", c->name, c->value,
                           c->path ? c->path : "/", max_age, c->http_only ? "; HttpOnly" : "",
                           c->secure ? "; Secure" : "", c->same_site ? c->same_site : "Lax");
    if (header != NULL)
        latch_http_add_header(req, "Set-Cookie", header);
}

const char *latch_http_tenant_cookie_name(struct latch_request *req, const char *prefix)
{
    return latch_arena_printf(req->arena, "%s_%s", prefix,
                              req->tenant_id ? req->tenant_id : "default");
}

const char *latch_http_tenant_cookie_path(struct latch_request *req)
{
    const struct latch_config *cfg = latch_loop_config(req->loop);
    const char *id = req->tenant_id ? req->tenant_id : "default";
    if (strcmp(id, "default") == 0)
        return latch_arena_printf(req->arena, "%s/", cfg->public_path);
    return latch_arena_printf(req->arena, "%s/t/%s/", cfg->public_path, id);
}
