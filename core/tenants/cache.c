/*
 * Per-loop tenant state cache; see cache.h.
 *
 * A load is one pipelined round trip: make sure the Management API resource exists, read the
 * live signing keys, read the resources. When the tenant has no current key yet, the keys are
 * generated on the worker pool, inserted, and the load starts again. Concurrent gets of the same
 * tenant on one loop wait on the same load.
 */
#include "tenants/cache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "jose/secret.h"
#include "metrics/metrics.h"
#include "tenants/keys.h"
#include "util/json.h"
#include "util/log.h"
#include "util/workpool.h"

/* The NOTIFY channel of invalidations (schema/0002_oidc.sql): payload a tenant id. */
#define CACHE_CHANNEL "latch_invalidate"

/* ---- node-wide epochs ---- */

#define EPOCH_SLOTS 1024

/*
 * Lock-free: every request reads its tenant's epoch (twice), the listener bumps them. Both
 * counters only grow, so an epoch read while a bump lands is either the old value (the entry is
 * reloaded at the next read) or the new one; the release/acquire pair makes a reader that sees
 * a bump also see what preceded it on the bumping thread.
 */
static _Atomic uint64_t global_epoch = 1;
/* A tenant's epoch is global_epoch + bumps of its hash slot; collisions only cost a reload. */
static _Atomic uint64_t slot_epoch[EPOCH_SLOTS];
static uint8_t seal_key[32], hash_key[32];

static size_t slot_of(const char *id)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    return (size_t)(h % EPOCH_SLOTS);
}

void latch_tenant_epoch_bump(const char *tenant_id)
{
    if (tenant_id == NULL)
        atomic_fetch_add_explicit(&global_epoch, 1, memory_order_release);
    else
        atomic_fetch_add_explicit(&slot_epoch[slot_of(tenant_id)], 1, memory_order_release);
}

uint64_t latch_tenant_epoch_get(const char *tenant_id)
{
    uint64_t g = atomic_load_explicit(&global_epoch, memory_order_acquire);
    uint64_t s = atomic_load_explicit(&slot_epoch[slot_of(tenant_id)], memory_order_acquire);
    return (g << 32) + s;
}

void latch_tenant_cache_on_notify(const char *channel, const char *payload, void *arg)
{
    /* The listener may carry other channels too (latch_connectors): not ours. */
    if (channel != NULL && strcmp(channel, CACHE_CHANNEL) != 0)
        return;
    latch_debug("invalidate tenant %s", payload);
    latch_tenant_epoch_bump(payload);
    latch_metrics_invalidation(false);
}

void latch_tenant_cache_on_connect(void *arg)
{
    latch_tenant_epoch_bump(NULL);
    latch_metrics_invalidation(true);
}

void latch_tenant_cache_set_master_key(const uint8_t master[32])
{
    if (latch_jose_derive_key(master, "latch/signing-keys/v1", seal_key) != LATCH_OK ||
        latch_jose_derive_key(master, "latch/client-secret/v1", hash_key) != LATCH_OK) {
        latch_err("cannot derive keys from LATCH_SECRET_KEY");
        abort();
    }
}

const uint8_t *latch_tenant_seal_key(void)
{
    return seal_key;
}

const uint8_t *latch_tenant_secret_hash_key(void)
{
    return hash_key;
}

char *latch_tenant_endpoint(const struct latch_config *cfg, const char *tenant_id)
{
    size_t n = strlen(cfg->public_url) + strlen(tenant_id) + 8;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    if (strcmp(tenant_id, LATCH_TENANT_DEFAULT) == 0)
        snprintf(out, n, "%s", cfg->public_url);
    else
        snprintf(out, n, "%s/t/%s", cfg->public_url, tenant_id);
    return out;
}

/* ---- states ---- */

static void state_free(struct latch_tenant_state *st)
{
    for (int i = 0; i < st->nkeys; i++)
        latch_jose_key_free(st->keys[i].key);
    for (int i = 0; i < st->nresources; i++) {
        free(st->resources[i].id);
        free(st->resources[i].indicator);
    }
    free(st->resources);
    for (int i = 0; i < st->norigins; i++)
        free(st->origins[i]);
    free(st->origins);
    free(st->endpoint);
    free(st->issuer);
    free(st->mgmt_indicator);
    free(st->jwks);
    free(st->discovery);
    free(st);
}

void latch_tenant_state_unref(struct latch_tenant_state *state)
{
    if (state != NULL && --state->refs == 0)
        state_free(state);
}

const struct latch_resource *latch_tenant_resource(const struct latch_tenant_state *state,
                                                   const char *indicator)
{
    for (int i = 0; i < state->nresources; i++)
        if (strcmp(state->resources[i].indicator, indicator) == 0)
            return &state->resources[i];
    return NULL;
}

const struct latch_resource *latch_tenant_default_resource(const struct latch_tenant_state *state)
{
    for (int i = 0; i < state->nresources; i++)
        if (state->resources[i].is_default)
            return &state->resources[i];
    return NULL;
}

static void json_url(struct latch_json *j, const char *key, const char *base, const char *suffix)
{
    size_t n = strlen(base) + strlen(suffix) + 1;
    char *url = malloc(n);
    if (url == NULL) {
        j->failed = true;
        return;
    }
    snprintf(url, n, "%s%s", base, suffix);
    latch_json_key(j, key);
    latch_json_string(j, url);
    free(url);
}

static void json_strings(struct latch_json *j, const char *key, const char *const *values)
{
    latch_json_key(j, key);
    latch_json_begin_array(j);
    for (const char *const *v = values; *v != NULL; v++)
        latch_json_string(j, *v);
    latch_json_end_array(j);
}

/* The discovery document lists exactly what is implemented. */
static char *build_discovery(const struct latch_tenant_state *st, size_t *len)
{
    static const char *const grants[] = {"authorization_code", "refresh_token",
                                         "client_credentials", NULL};
    static const char *const auth_methods[] = {"client_secret_basic", "client_secret_post", "none",
                                               NULL};
    static const char *const client_auth[] = {"client_secret_basic", "client_secret_post", NULL};
    static const char *const response_types[] = {"code", NULL};
    static const char *const response_modes[] = {"query", NULL};
    static const char *const subjects[] = {"public", NULL};
    static const char *const pkce[] = {"S256", NULL};
    static const char *const prompts[] = {"none", "login", "consent", NULL};
    static const char *const scopes[] = {"openid", "offline_access", "profile", "email", "phone",
                                         "address", "custom_data", "identities", "roles",
                                         /* Served by oidc/ (claims.h); Logto lists them too. */
                                         "urn:logto:scope:organizations",
                                         "urn:logto:scope:organization_roles", NULL};
    static const char *const claims[] = {"sub",
                                         "iss",
                                         "aud",
                                         "exp",
                                         "iat",
                                         "auth_time",
                                         "nonce",
                                         "at_hash",
                                         "sid",
                                         "name",
                                         "family_name",
                                         "given_name",
                                         "middle_name",
                                         "nickname",
                                         "preferred_username",
                                         "profile",
                                         "picture",
                                         "website",
                                         "gender",
                                         "birthdate",
                                         "zoneinfo",
                                         "locale",
                                         "updated_at",
                                         "username",
                                         "created_at",
                                         "email",
                                         "email_verified",
                                         "phone_number",
                                         "phone_number_verified",
                                         "address",
                                         "custom_data",
                                         "identities",
                                         "sso_identities",
                                         "roles",
                                         NULL};
    /* The current key's algorithm first (clients that take the first), then the others still
     * published, so tokens signed before a rotation keep validating. */
    const char *algs[LATCH_TENANT_MAX_KEYS + 2] = {"ES384", NULL};
    int nalgs = 0;
    if (st->current >= 0)
        algs[nalgs++] = latch_jose_alg_name(st->keys[st->current].key->alg);
    for (int i = 0; i < st->nkeys; i++) {
        const char *a = latch_jose_alg_name(st->keys[i].key->alg);
        bool seen = false;
        for (int k = 0; k < nalgs; k++)
            seen |= strcmp(algs[k], a) == 0;
        if (!seen)
            algs[nalgs++] = a;
    }
    if (nalgs == 0)
        nalgs = 1;
    algs[nalgs] = NULL;

    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "issuer");
    latch_json_string(&j, st->issuer);
    json_url(&j, "authorization_endpoint", st->issuer, "/auth");
    json_url(&j, "token_endpoint", st->issuer, "/token");
    json_url(&j, "userinfo_endpoint", st->issuer, "/me");
    json_url(&j, "jwks_uri", st->issuer, "/jwks");
    json_url(&j, "end_session_endpoint", st->issuer, "/session/end");
    json_url(&j, "revocation_endpoint", st->issuer, "/token/revocation");
    json_url(&j, "introspection_endpoint", st->issuer, "/token/introspection");
    json_strings(&j, "scopes_supported", scopes);
    json_strings(&j, "response_types_supported", response_types);
    json_strings(&j, "response_modes_supported", response_modes);
    json_strings(&j, "grant_types_supported", grants);
    json_strings(&j, "subject_types_supported", subjects);
    json_strings(&j, "id_token_signing_alg_values_supported", algs);
    json_strings(&j, "token_endpoint_auth_methods_supported", auth_methods);
    json_strings(&j, "revocation_endpoint_auth_methods_supported", auth_methods);
    json_strings(&j, "introspection_endpoint_auth_methods_supported", client_auth);
    json_strings(&j, "code_challenge_methods_supported", pkce);
    json_strings(&j, "prompt_values_supported", prompts);
    json_strings(&j, "claims_supported", claims);
    latch_json_key(&j, "claims_parameter_supported");
    latch_json_bool(&j, false);
    latch_json_key(&j, "request_parameter_supported");
    latch_json_bool(&j, false);
    latch_json_key(&j, "request_uri_parameter_supported");
    latch_json_bool(&j, false);
    latch_json_key(&j, "authorization_response_iss_parameter_supported");
    latch_json_bool(&j, true);
    latch_json_end_object(&j);
    return latch_json_take(&j, len);
}

/* ---- the cache ---- */

struct waiter {
    struct waiter *next;
    latch_tenant_state_cb cb;
    void *arg;
};

struct entry {
    struct entry *next;
    char id[LATCH_TENANT_ID_MAX + 1];
    struct latch_tenant tenant;       /* the tenants row, valid when tenant_epoch is current */
    uint64_t tenant_epoch;            /* 0: not cached */
    struct latch_tenant_state *state; /* published, or NULL */
    bool loading;
    uint64_t load_epoch;
    int attempts;
    struct waiter *waiters;
    struct latch_tenant_cache *cache;
};

#define CACHE_BUCKETS 256

struct latch_tenant_cache {
    const struct latch_config *cfg;
    struct latch_store *store;
    struct latch_workpool *pool;
    struct latch_mailbox *mailbox;
    struct entry *buckets[CACHE_BUCKETS];
};

struct latch_tenant_cache *latch_tenant_cache_new(const struct latch_config *cfg,
                                                  struct latch_store *store,
                                                  struct latch_workpool *pool,
                                                  struct latch_mailbox *mailbox)
{
    struct latch_tenant_cache *cache = calloc(1, sizeof(*cache));
    if (cache == NULL)
        return NULL;
    cache->cfg = cfg;
    cache->store = store;
    cache->pool = pool;
    cache->mailbox = mailbox;
    return cache;
}

void latch_tenant_cache_free(struct latch_tenant_cache *cache)
{
    if (cache == NULL)
        return;
    for (int b = 0; b < CACHE_BUCKETS; b++) {
        for (struct entry *e = cache->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            if (e->loading) {
                e->cache = NULL; /* the load completes into nothing */
                continue;
            }
            latch_tenant_state_unref(e->state);
            free(e);
        }
    }
    free(cache);
}

static struct entry *find_entry(struct latch_tenant_cache *cache, const char *id, bool create)
{
    size_t b = slot_of(id) % CACHE_BUCKETS;
    for (struct entry *e = cache->buckets[b]; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            return e;
    if (!create)
        return NULL;
    struct entry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->cache = cache;
    e->next = cache->buckets[b];
    cache->buckets[b] = e;
    return e;
}

static void finish(struct entry *e, struct latch_tenant_state *st, const struct latch_error *err)
{
    struct waiter *w = e->waiters;
    e->waiters = NULL;
    e->loading = false;
    e->attempts = 0;
    if (st != NULL) {
        latch_tenant_state_unref(e->state);
        e->state = st; /* the entry's reference */
    } else if (err != NULL && err->status == 503 && e->state != NULL) {
        /* The database is unreachable: keep serving what this node had (discovery, JWKS,
         * tokens of known clients; docs/operations.md); the next use tries again. */
        st = e->state;
    }
    while (w != NULL) {
        struct waiter *next = w->next;
        if (st != NULL)
            st->refs++;
        w->cb(st, st ? NULL : err, w->arg);
        free(w);
        w = next;
    }
}

static void start_load(struct entry *e);

/* ---- key generation on the worker pool ---- */

struct keygen {
    struct entry *entry;
    char tenant[LATCH_TENANT_ID_MAX + 1];
    struct latch_prepared_key cur, nxt;
    latch_rc rc;
    struct latch_error err;
};

static void keygen_work(void *arg)
{
    struct keygen *kg = arg;
    kg->rc =
        latch_keys_prepare(seal_key, kg->tenant, LATCH_KEYS_DEFAULT_ALGORITHM, &kg->cur, &kg->err);
    if (kg->rc == LATCH_OK)
        kg->rc = latch_keys_prepare(seal_key, kg->tenant, LATCH_KEYS_DEFAULT_ALGORITHM, &kg->nxt,
                                    &kg->err);
}

static void keys_inserted(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct entry *e = arg;
    /* A concurrent node may have won (unique violation): either way, load again. */
    if (err != NULL && err->status != 409)
        latch_log_error("cannot store the first signing keys", err);
    if (e->cache == NULL) {
        free(e);
        return;
    }
    start_load(e);
}

static void keygen_done(void *arg)
{
    struct keygen *kg = arg;
    struct entry *e = kg->entry;
    if (e->cache == NULL) {
        free(e);
    } else if (kg->rc != LATCH_OK) {
        latch_log_error("cannot generate signing keys", &kg->err);
        finish(e, NULL, &kg->err);
    } else {
        const char *params[9] = {kg->tenant,         kg->cur.kid,        kg->cur.algorithm,
                                 kg->cur.sealed_hex, kg->cur.jwk,        kg->nxt.kid,
                                 kg->nxt.algorithm,  kg->nxt.sealed_hex, kg->nxt.jwk};
        latch_store_query(e->cache->store, kg->tenant, &latch_keys_init_stmt, params, keys_inserted,
                          e);
    }
    latch_prepared_key_clear(&kg->cur);
    latch_prepared_key_clear(&kg->nxt);
    free(kg);
}

/* ---- loading ---- */

static const struct latch_stmt bootstrap_stmt = {
    .name = "tenant_bootstrap",
    .sql = "SELECT latch_bootstrap_tenant($1, $2)",
    .nparams = 2,
};

/*
 * The keys a node holds: current, next, then the newest previous keys still in their grace
 * period, at most LATCH_TENANT_MAX_KEYS. Rotation keeps a tenant within that bound
 * (schema/0006), but rows written before it, or by hand, may exceed it: then the oldest previous
 * keys are the ones left out, never the current or the next key. Column 4 is the time left until
 * a key's grace period ends, in ms by the database's clock (NULL: no end), column 5 the number of
 * live keys before the LIMIT.
 */
static const struct latch_stmt keys_stmt = {
    .name = "tenant_keys",
    .sql = "SELECT id, algorithm, state, private_key, "
           "ceil(extract(epoch FROM expires_at - now()) * 1000)::bigint, count(*) OVER () "
           "FROM signing_keys "
           "WHERE tenant_id = $1 AND (expires_at IS NULL OR expires_at > now()) "
           "ORDER BY CASE state WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, "
           "created_at DESC, id LIMIT " LATCH_KEYS_MAX_TEXT,
    .nparams = 1,
};

static const struct latch_stmt resources_stmt = {
    .name = "tenant_resources",
    .sql = "SELECT id, indicator, access_token_ttl, is_default, is_management FROM resources "
           "WHERE tenant_id = $1 ORDER BY id",
    .nparams = 1,
};

/* Origins of the redirect URIs and the CORS allow-lists of every application. */
static const struct latch_stmt origins_stmt = {
    .name = "tenant_origins",
    .sql =
        "SELECT DISTINCT o FROM ("
        "SELECT substring(u FROM '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]+') AS o FROM applications a, "
        "jsonb_array_elements_text(coalesce(a.oidc_client_metadata->'redirectUris', '[]')) u "
        "WHERE a.tenant_id = $1 UNION ALL "
        "SELECT c FROM applications a, jsonb_array_elements_text(coalesce("
        "a.custom_client_metadata->'corsAllowedOrigins', '[]')) c WHERE a.tenant_id = $1"
        ") x WHERE o IS NOT NULL LIMIT 1000",
    .nparams = 1,
};

bool latch_tenant_origin_allowed(const struct latch_tenant_state *state, const char *origin)
{
    for (int i = 0; origin != NULL && i < state->norigins; i++)
        if (strcmp(state->origins[i], origin) == 0)
            return true;
    return false;
}

static enum latch_key_state parse_state(const char *s)
{
    if (strcmp(s, "current") == 0)
        return LATCH_KEY_CURRENT;
    if (strcmp(s, "next") == 0)
        return LATCH_KEY_NEXT;
    return LATCH_KEY_PREVIOUS;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Whether a previous key of st has reached the end of its grace period since st was loaded. */
static bool state_keys_expired(const struct latch_tenant_state *st)
{
    return st->keys_expire_ms != 0 && mono_ms() >= st->keys_expire_ms;
}

/* Fills st's keys from the tenant_keys rows; a key that cannot be opened is skipped (logged). */
static void load_keys(struct latch_tenant_state *st, const struct latch_store_result *keys,
                      const char *tenant_id, struct latch_error *err)
{
    int rows = latch_store_result_rows(keys);
    uint64_t now = mono_ms();
    for (int r = 0; r < rows && st->nkeys < LATCH_TENANT_MAX_KEYS; r++) {
        struct latch_tenant_key *k = &st->keys[st->nkeys];
        const char *kid = latch_store_result_value(keys, r, 0);
        if (latch_keys_open(seal_key, tenant_id, kid, latch_store_result_value(keys, r, 3), &k->key,
                            err) != LATCH_OK) {
            latch_log_error("skipping a signing key", err);
            continue;
        }
        snprintf(k->algorithm, sizeof(k->algorithm), "%s", latch_store_result_value(keys, r, 1));
        k->state = parse_state(latch_store_result_value(keys, r, 2));
        if (k->state == LATCH_KEY_CURRENT)
            st->current = st->nkeys;
        if (!latch_store_result_isnull(keys, r, 4)) {
            /* Measured by the database's clock, counted on ours: no skew between the two. */
            long long left = strtoll(latch_store_result_value(keys, r, 4), NULL, 10);
            uint64_t at = now + (uint64_t)(left > 0 ? left : 0);
            if (st->keys_expire_ms == 0 || at < st->keys_expire_ms)
                st->keys_expire_ms = at;
        }
        st->nkeys++;
    }
    long live = rows > 0 ? strtol(latch_store_result_value(keys, 0, 5), NULL, 10) : 0;
    if (live > rows)
        latch_warn("tenant %s: %ld signing keys are live but a node holds %d: the %ld oldest "
                   "previous keys are left out of the JWKS and no longer verify tokens",
                   tenant_id, live, LATCH_TENANT_MAX_KEYS, live - rows);
}

static struct latch_tenant_state *
build_state(struct entry *e, struct latch_store_result *const *results, struct latch_error *err)
{
    const struct latch_config *cfg = e->cache->cfg;
    struct latch_tenant_state *st = calloc(1, sizeof(*st));
    if (st == NULL)
        goto oom;
    st->refs = 1;
    st->epoch = e->load_epoch;
    st->current = -1;
    snprintf(st->id, sizeof(st->id), "%s", e->id);
    st->endpoint = latch_tenant_endpoint(cfg, e->id);
    if (st->endpoint == NULL)
        goto oom;
    size_t n = strlen(st->endpoint) + 8;
    st->issuer = malloc(n);
    st->mgmt_indicator = malloc(n);
    if (st->issuer == NULL || st->mgmt_indicator == NULL)
        goto oom;
    snprintf(st->issuer, n, "%s/oidc", st->endpoint);
    snprintf(st->mgmt_indicator, n, "%s/api", st->endpoint);

    load_keys(st, results[1], e->id, err);
    const struct latch_jose_key *pub[LATCH_TENANT_MAX_KEYS];
    for (int i = 0; i < st->nkeys; i++)
        pub[i] = st->keys[i].key;
    if (latch_jose_jwks(pub, (size_t)st->nkeys, &st->jwks, &st->jwks_len, err) != LATCH_OK)
        goto fail;

    const struct latch_store_result *res = results[2];
    int rows = latch_store_result_rows(res);
    if (rows > 0) {
        st->resources = calloc((size_t)rows, sizeof(*st->resources));
        if (st->resources == NULL)
            goto oom;
    }
    for (int r = 0; r < rows; r++) {
        struct latch_resource *rs = &st->resources[st->nresources++];
        rs->id = strdup(latch_store_result_value(res, r, 0));
        rs->indicator = strdup(latch_store_result_value(res, r, 1));
        rs->ttl = strtol(latch_store_result_value(res, r, 2), NULL, 10);
        rs->is_default = strcmp(latch_store_result_value(res, r, 3), "t") == 0;
        rs->is_management = strcmp(latch_store_result_value(res, r, 4), "t") == 0;
        if (rs->id == NULL || rs->indicator == NULL)
            goto oom;
    }
    const struct latch_store_result *orig = results[3];
    rows = latch_store_result_rows(orig);
    if (rows > 0) {
        st->origins = calloc((size_t)rows, sizeof(char *));
        if (st->origins == NULL)
            goto oom;
    }
    for (int r = 0; r < rows; r++) {
        st->origins[st->norigins] = strdup(latch_store_result_value(orig, r, 0));
        if (st->origins[st->norigins] == NULL)
            goto oom;
        st->norigins++;
    }
    st->discovery = build_discovery(st, &st->discovery_len);
    if (st->discovery == NULL)
        goto oom;
    return st;
oom:
    latch_error_set(err, 503, "service_unavailable", "Out of memory.");
fail:
    if (st != NULL)
        state_free(st);
    return NULL;
}

static void load_done(struct latch_store_result *const *results, int nresults,
                      const struct latch_error *err, void *arg)
{
    struct entry *e = arg;
    if (e->cache == NULL) {
        free(e);
        return;
    }
    if (err != NULL) {
        finish(e, NULL, err);
        return;
    }
    /* Any current key? If not, make the tenant's first keys and load again. */
    bool has_current = false;
    const struct latch_store_result *keys = results[1];
    for (int r = 0; r < latch_store_result_rows(keys); r++)
        has_current |= strcmp(latch_store_result_value(keys, r, 2), "current") == 0;
    if (!has_current) {
        struct latch_error gerr;
        struct keygen *kg = calloc(1, sizeof(*kg));
        if (kg == NULL || ++e->attempts > 3) {
            free(kg);
            latch_error_set(&gerr, 503, "service_unavailable",
                            "The tenant's signing keys are not available.");
            finish(e, NULL, &gerr);
            return;
        }
        kg->entry = e;
        snprintf(kg->tenant, sizeof(kg->tenant), "%s", e->id);
        if (latch_workpool_submit(e->cache->pool, e->cache->mailbox, keygen_work, keygen_done,
                                  kg) != LATCH_OK) {
            free(kg);
            latch_error_set(&gerr, 503, "service_unavailable",
                            "The server is busy; try again shortly.");
            finish(e, NULL, &gerr);
        }
        return;
    }
    struct latch_error berr;
    latch_error_clear(&berr);
    struct latch_tenant_state *st = build_state(e, results, &berr);
    finish(e, st, &berr); /* build_state's reference becomes the entry's */
}

static void start_load(struct entry *e)
{
    struct latch_tenant_cache *cache = e->cache;
    e->load_epoch = latch_tenant_epoch_get(e->id);
    char *endpoint = latch_tenant_endpoint(cache->cfg, e->id);
    char indicator[1100];
    snprintf(indicator, sizeof(indicator), "%s/api", endpoint ? endpoint : "");
    free(endpoint);
    struct latch_store_op ops[4] = {
        {.stmt = &bootstrap_stmt, .params = {e->id, indicator}},
        {.stmt = &keys_stmt, .params = {e->id}},
        {.stmt = &resources_stmt, .params = {e->id}},
        {.stmt = &origins_stmt, .params = {e->id}},
    };
    latch_store_exec(cache->store, e->id, ops, 4, load_done, e);
}

struct lookup {
    struct latch_tenant_cache *cache;
    uint64_t epoch;
    bool fresh; /* the route asked for the database's word: nothing stale */
    char id[LATCH_TENANT_ID_MAX + 1];
    latch_tenants_lookup_cb cb;
    void *arg;
};

static void looked_up(const struct latch_tenant *tenant, const struct latch_error *err, void *arg)
{
    struct lookup *lk = arg;
    if (tenant != NULL && lk->cache != NULL) {
        struct entry *e = find_entry(lk->cache, lk->id, true);
        if (e != NULL) {
            e->tenant = *tenant;
            e->tenant_epoch = lk->epoch;
        }
    } else if (err != NULL && err->status == 503 && lk->cache != NULL && !lk->fresh) {
        /* Unreachable database: a tenant this node knew is served as it was. */
        struct entry *e = find_entry(lk->cache, lk->id, false);
        if (e != NULL && e->tenant_epoch != 0) {
            tenant = &e->tenant;
            err = NULL;
        }
    }
    lk->cb(tenant, err, lk->arg);
    free(lk);
}

void latch_tenant_cache_lookup(struct latch_tenant_cache *cache, const char *id, bool fresh,
                               latch_tenants_lookup_cb cb, void *arg)
{
    uint64_t epoch = latch_tenant_epoch_get(id);
    if (!fresh) {
        struct entry *e = find_entry(cache, id, false);
        if (e != NULL && e->tenant_epoch == epoch) {
            latch_metrics_cache_lookup(LATCH_METRICS_CACHE_TENANT, true);
            cb(&e->tenant, NULL, arg);
            return;
        }
        latch_metrics_cache_lookup(LATCH_METRICS_CACHE_TENANT, false);
    }
    struct lookup *lk = malloc(sizeof(*lk));
    if (lk == NULL) {
        static const struct latch_error oom = {
            .status = 503, .code = "service_unavailable", .message = "Out of memory."};
        cb(NULL, &oom, arg);
        return;
    }
    lk->cache = cache;
    lk->epoch = epoch;
    lk->fresh = fresh;
    snprintf(lk->id, sizeof(lk->id), "%s", id);
    lk->cb = cb;
    lk->arg = arg;
    latch_tenants_lookup(cache->store, id, looked_up, lk);
}

void latch_tenant_state_get(struct latch_tenant_cache *cache, const struct latch_tenant *tenant,
                            latch_tenant_state_cb cb, void *arg)
{
    struct entry *e = find_entry(cache, tenant->id, true);
    if (e == NULL) {
        static const struct latch_error oom = {
            .status = 503, .code = "service_unavailable", .message = "Out of memory."};
        cb(NULL, &oom, arg);
        return;
    }
    bool hit = e->state != NULL && e->state->epoch == latch_tenant_epoch_get(tenant->id) &&
               !state_keys_expired(e->state);
    latch_metrics_cache_lookup(LATCH_METRICS_CACHE_STATE, hit);
    if (hit) {
        e->state->refs++;
        cb(e->state, NULL, arg);
        return;
    }
    struct waiter *w = malloc(sizeof(*w));
    if (w == NULL) {
        static const struct latch_error oom = {
            .status = 503, .code = "service_unavailable", .message = "Out of memory."};
        cb(NULL, &oom, arg);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    w->next = e->waiters;
    e->waiters = w;
    if (!e->loading) {
        e->loading = true;
        start_load(e);
    }
}
