/*
 * Organization tokens for machines (Logto's client_credentials with organization_id): a
 * MachineToMachine application that is a member of an organization gets a token for it
 * (aud urn:logto:organization:<id>, the organization scopes its organization roles grant), or,
 * with `resource`, a token for that API with the resource scopes its organization roles grant
 * there and the organization_id claim. As for machines without organizations, a request that
 * names no scope gets everything held. Membership is read from PostgreSQL on every request, so
 * an application removed from an organization gets invalid_grant at once.
 */
#include <ctype.h>
#include <string.h>

#include "oidc/oidc_internal.h"
#include "rbac/scopes.h"
#include "util/log.h"

#define MAX_ORGANIZATION_ID 21

/* $2 application id, $3 organization id: membership, and what the application's organization
 * roles grant there (app_member_resource: on the resource $4). */
#define APP_MEMBER(held)                                                                           \
    "SELECT EXISTS (SELECT 1 FROM organization_application_relations m WHERE m.tenant_id = $1 "    \
    "AND m.organization_id = $3 AND m.application_id = $2), " held

static const struct latch_stmt app_member = {
    .name = "grant_client_org",
    .sql = APP_MEMBER(LATCH_OIDC_ORG_HELD("organization_role_application_relations",
                                          "application_id", "$2", "$3")),
    .nparams = 3,
};

static const struct latch_stmt app_member_resource = {
    .name = "grant_client_org_res",
    .sql = APP_MEMBER(LATCH_OIDC_ORG_RESOURCE_HELD("organization_role_application_relations",
                                                   "application_id", "$2", "$3", "$4")),
    .nparams = 4,
};

struct client_org {
    struct latch_token_request *tr;
    const char *organization_id;
    const char *indicator;
};

bool latch_oidc_organization_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_ORGANIZATION_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

const char *latch_oidc_resource_param(const struct latch_form *form)
{
    const char *r = latch_form_get(form, "resource");
    return r != NULL && strcmp(r, LATCH_RESOURCE_ORGANIZATIONS) == 0 ? NULL : r;
}

static void release(struct latch_token_request *tr)
{
    latch_client_unref(tr->client);
    latch_tenant_state_unref(tr->state);
}

static void member_read(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct client_org *co = arg;
    struct latch_token_request *tr = co->tr;
    struct latch_request *req = tr->req;
    (void)n;
    if (err != NULL) {
        latch_http_log_error(req, "organization membership lookup failed", err);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Please try again shortly.");
        release(tr);
        return;
    }
    const struct latch_store_result *r = results[0];
    if (latch_store_result_rows(r) != 1 || strcmp(latch_store_result_value(r, 0, 0), "t") != 0) {
        latch_http_respond_oauth_error(req, 400, "invalid_grant",
                                       "The application is not a member of the organization.");
        release(tr);
        return;
    }
    const char *held =
        latch_store_result_isnull(r, 0, 1) ? NULL : latch_store_result_value(r, 0, 1);
    const char *requested = latch_form_get(&tr->form, "scope");
    size_t cap = (held ? strlen(held) : 0) + 1;
    char *scope = latch_arena_alloc(req->arena, cap);
    enum latch_rbac_result decided =
        scope ? latch_rbac_grant(requested, held, LATCH_RBAC_ALL, scope, cap) : LATCH_RBAC_TOO_LONG;
    const struct latch_resource *res =
        co->indicator ? latch_tenant_resource(tr->state, co->indicator) : NULL;
    const char *aud =
        res ? res->indicator
            : latch_arena_printf(req->arena, LATCH_ORGANIZATION_URN "%s", co->organization_id);
    if (decided != LATCH_RBAC_OK || aud == NULL) /* the scope passed latch_rbac_check() */
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
    else
        latch_oidc_machine_token(tr, aud, res ? res->ttl : tr->client->access_token_ttl, scope,
                                 co->organization_id);
    release(tr);
}

void latch_oidc_grant_client_organization(struct latch_token_request *tr,
                                          const char *organization_id)
{
    struct latch_request *req = tr->req;
    if (!latch_oidc_organization_id_ok(organization_id)) {
        latch_http_respond_oauth_error(req, 400, "invalid_grant",
                                       "The application is not a member of the organization.");
        release(tr);
        return;
    }
    struct client_org *co = latch_arena_calloc(req->arena, 1, sizeof(*co));
    if (co == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        release(tr);
        return;
    }
    co->tr = tr;
    co->organization_id = organization_id;
    co->indicator = latch_oidc_resource_param(&tr->form);
    const char *p[4] = {tr->state->id, tr->client->id, organization_id, co->indicator};
    latch_store_query(latch_loop_store(req->loop), tr->state->id,
                      co->indicator ? &app_member_resource : &app_member, p, member_read, co);
}
