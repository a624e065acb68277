/*
 * Discovery (<issuer>/.well-known/openid-configuration) and JWKS (<issuer>/jwks): both are
 * rendered once per tenant state (tenants/cache.c) and served from it.
 */
#include <stdio.h>
#include <string.h>

#include "oidc/oidc_internal.h"
#include "tenants/cache.h"

enum doc { DOC_DISCOVERY, DOC_JWKS };

static void serve(struct latch_tenant_state *st, const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    bool jwks = strcmp(req->route_path + strlen(req->route_path) - 5, "/jwks") == 0;
    /* Short enough that a rotation reaches clients soon; the next key is published ahead. */
    latch_http_add_header(req, "Cache-Control",
                          jwks ? "public, max-age=300" : "public, max-age=600");
    latch_http_add_header(req, "Access-Control-Allow-Origin", "*");
    if (jwks)
        latch_http_respond(req, 200, "application/jwk-set+json; charset=utf-8", st->jwks,
                           st->jwks_len);
    else
        latch_http_respond_json(req, 200, st->discovery, st->discovery_len);
    latch_tenant_state_unref(st);
}

void latch_oidc_discovery(struct latch_request *req, void *arg)
{
    latch_tenant_state_get(latch_loop_tenant_cache(req->loop), req->tenant, serve, req);
}
