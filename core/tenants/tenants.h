/*
 * tenants/: which tenant a request is for, and looking tenants up.
 *
 * A tenant endpoint is LATCH_PUBLIC_URL for tenant `default` and LATCH_PUBLIC_URL/t/<id> for
 * the others. Resolution splits the request path into the tenant id and the path inside the
 * endpoint; the lookup reads the global `tenants` table through the store.
 */
#ifndef LATCH_TENANTS_TENANTS_H
#define LATCH_TENANTS_TENANTS_H

#include <stdbool.h>

#include "store/store.h"
#include "tenants/tenant_id.h"
#include "util/error.h"

#define LATCH_TENANT_DEFAULT "default"

struct latch_tenant {
    char id[LATCH_TENANT_ID_MAX + 1];
    char name[256];
    bool is_suspended;
};

/*
 * Splits a raw request path into tenant id and inner path: "/t/acme/api/x" → ("acme",
 * "/api/x"); "/t/acme" → ("acme", "/"); anything else → ("default", path). *id_out and
 * *inner_out point into raw_path or at static strings; id_len gets the id's length.
 * Returns false when the "/t/<id>" id is malformed (answer 404: no such tenant can exist).
 */
bool latch_tenants_resolve(const char *raw_path, const char **id_out, size_t *id_len,
                           const char **inner_out);

/* Completion of a lookup: tenant NULL when not found (err NULL) or on error (err set). */
typedef void (*latch_tenants_lookup_cb)(const struct latch_tenant *tenant,
                                        const struct latch_error *err, void *arg);

/* Looks a tenant up by id; cb runs later on the store's loop thread. */
void latch_tenants_lookup(struct latch_store *store, const char *id, latch_tenants_lookup_cb cb,
                          void *arg);

#endif
