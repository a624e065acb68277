/*
 * The per-node view of a tenant's OIDC state: its signing keys (decrypted), JWKS and discovery
 * documents, API resources, and its endpoint URLs. Each loop thread keeps its own cache (no
 * locks on the request path); entries are immutable once published and refcounted, so a
 * request keeps its entry while a newer one replaces it.
 *
 * Invalidation: every change to a tenant's rows NOTIFYs latch_invalidate with the tenant id
 * (triggers in schema/0002). One listener per node bumps that tenant's epoch; an entry whose
 * epoch is older is reloaded on next use. A listener reconnect bumps the global epoch, since
 * notifications may have been lost meanwhile.
 */
#ifndef LATCH_TENANTS_CACHE_H
#define LATCH_TENANTS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jose/jwk.h"
#include "store/store.h"
#include "tenants/keys.h"
#include "tenants/tenants.h"
#include "util/error.h"

struct event_base;
struct latch_config;
struct latch_workpool;
struct latch_mailbox;

/* Keys held per tenant: current, next and the newest previous ones (see LATCH_KEYS_MAX). */
#define LATCH_TENANT_MAX_KEYS      LATCH_KEYS_MAX
#define LATCH_TENANT_MAX_RESOURCES 256

enum latch_key_state { LATCH_KEY_NEXT = 0, LATCH_KEY_CURRENT, LATCH_KEY_PREVIOUS };

struct latch_tenant_key {
    struct latch_jose_key *key;
    enum latch_key_state state;
    char algorithm[16]; /* "EC", "EC-P256", "RSA", "Ed25519" */
};

struct latch_resource {
    char *id;
    char *indicator;
    long ttl;
    bool is_default, is_management;
};

struct latch_tenant_state {
    int refs;
    uint64_t epoch;
    char id[LATCH_TENANT_ID_MAX + 1];
    char *endpoint;       /* <PUBLIC_URL> or <PUBLIC_URL>/t/<id> */
    char *issuer;         /* endpoint + "/oidc" */
    char *mgmt_indicator; /* endpoint + "/api" */
    struct latch_tenant_key keys[LATCH_TENANT_MAX_KEYS];
    int nkeys;
    int current; /* index of the signing key */
    /* CLOCK_MONOTONIC ms at which the first previous key's grace period ends (0: none); the
     * state is stale from then on, so that key leaves the JWKS and stops verifying. */
    uint64_t keys_expire_ms;
    char *jwks; /* {"keys":[…]} */
    size_t jwks_len;
    char *discovery; /* openid-configuration */
    size_t discovery_len;
    struct latch_resource *resources;
    int nresources;
    char **origins; /* browser origins any application allows (CORS preflights) */
    int norigins;
};

/* Whether some application of the tenant lets origin call its browser endpoints. */
bool latch_tenant_origin_allowed(const struct latch_tenant_state *state, const char *origin);

/* ---- node-wide epochs (any thread) ---- */

void latch_tenant_epoch_bump(const char *tenant_id); /* NULL: every tenant */
uint64_t latch_tenant_epoch_get(const char *tenant_id);

/* The NOTIFY handler and reconnect handler to pass to a listening store. */
void latch_tenant_cache_on_notify(const char *channel, const char *payload, void *arg);
void latch_tenant_cache_on_connect(void *arg);

/* The key derived for sealing signing keys (set once at start-up, before threads). */
void latch_tenant_cache_set_master_key(const uint8_t master[32]);
const uint8_t *latch_tenant_seal_key(void);
const uint8_t *latch_tenant_secret_hash_key(void);

/* ---- per loop ---- */

struct latch_tenant_cache;

/* Builds the documents from cfg (borrowed for the cache's life). */
struct latch_tenant_cache *latch_tenant_cache_new(const struct latch_config *cfg,
                                                  struct latch_store *store,
                                                  struct latch_workpool *pool,
                                                  struct latch_mailbox *mailbox);
void latch_tenant_cache_free(struct latch_tenant_cache *cache);

typedef void (*latch_tenant_state_cb)(struct latch_tenant_state *state,
                                      const struct latch_error *err, void *arg);

/* Gets tenant's state: calls cb at once when cached and fresh, else after loading (also
 * creating the tenant's first signing keys and Management API resource when missing). cb owns
 * one reference: release it with latch_tenant_state_unref(). */
void latch_tenant_state_get(struct latch_tenant_cache *cache, const struct latch_tenant *tenant,
                            latch_tenant_state_cb cb, void *arg);
void latch_tenant_state_unref(struct latch_tenant_state *state);

/* Looks tenant id up (the `tenants` row), from this loop's cache when it is fresh, else from
 * PostgreSQL; fresh=true always asks PostgreSQL. Unknown ids are not cached. cb may run before
 * this returns. */
void latch_tenant_cache_lookup(struct latch_tenant_cache *cache, const char *id, bool fresh,
                               latch_tenants_lookup_cb cb, void *arg);

/* Finds a resource by indicator; NULL when the tenant has none. */
const struct latch_resource *latch_tenant_resource(const struct latch_tenant_state *state,
                                                   const char *indicator);
const struct latch_resource *latch_tenant_default_resource(const struct latch_tenant_state *state);

/* The endpoint of tenant id under cfg's public URL into a malloc'd string. */
char *latch_tenant_endpoint(const struct latch_config *cfg, const char *tenant_id);

#endif
