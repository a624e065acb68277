/* Tenant resolution from request paths and tenant lookup; see tenants.h. */
#include "tenants/tenants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const struct latch_stmt tenant_get = {
    .name = "tenants_get",
    .sql = "SELECT id, name, is_suspended FROM tenants WHERE id = $1",
    .nparams = 1,
};

bool latch_tenants_resolve(const char *raw_path, const char **id_out, size_t *id_len,
                           const char **inner_out)
{
    if (strncmp(raw_path, "/t/", 3) != 0) {
        *id_out = LATCH_TENANT_DEFAULT;
        *id_len = strlen(LATCH_TENANT_DEFAULT);
        *inner_out = raw_path;
        return true;
    }
    const char *id = raw_path + 3;
    const char *slash = strchr(id, '/');
    size_t len = slash ? (size_t)(slash - id) : strlen(id);
    if (!latch_tenants_valid_id_len(id, len))
        return false;
    *id_out = id;
    *id_len = len;
    *inner_out = slash ? slash : "/";
    return true;
}

struct lookup {
    latch_tenants_lookup_cb cb;
    void *arg;
};

static void lookup_done(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct lookup *lk = arg;
    if (err != NULL) {
        lk->cb(NULL, err, lk->arg);
        free(lk);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) == 0) {
        lk->cb(NULL, NULL, lk->arg);
        free(lk);
        return;
    }
    struct latch_tenant t;
    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", latch_store_result_value(res, 0, 0));
    snprintf(t.name, sizeof(t.name), "%s", latch_store_result_value(res, 0, 1));
    t.is_suspended = strcmp(latch_store_result_value(res, 0, 2), "t") == 0;
    lk->cb(&t, NULL, lk->arg);
    free(lk);
}

void latch_tenants_lookup(struct latch_store *store, const char *id, latch_tenants_lookup_cb cb,
                          void *arg)
{
    struct lookup *lk = malloc(sizeof(*lk));
    if (lk == NULL) {
        static const struct latch_error oom = {
            .status = 503, .code = "service_unavailable", .message = "Out of memory."};
        cb(NULL, &oom, arg);
        return;
    }
    lk->cb = cb;
    lk->arg = arg;
    const char *params[1] = {id};
    latch_store_query(store, NULL, &tenant_get, params, lookup_done, lk);
}
