/* OAuth client cache; see clients.h. */
#include "oidc/clients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "store/store.h"
#include "tenants/cache.h"
#include "util/hex.h"
#include "util/log.h"

#define CLIENT_BUCKETS 1024
#define CLIENT_MAX     16384

static const struct latch_stmt app_stmt = {
    .name = "client_app",
    .sql = "SELECT type, name, oidc_client_metadata::text, custom_client_metadata::text "
           "FROM applications WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

static const struct latch_stmt secrets_stmt = {
    .name = "client_secrets",
    .sql = "SELECT encode(secret_hash, 'hex'), "
           "coalesce(extract(epoch FROM expires_at)::bigint, 0) "
           "FROM application_secrets WHERE tenant_id = $1 AND application_id = $2",
    .nparams = 2,
};

static const struct latch_stmt scopes_stmt = {
    .name = "client_scopes",
    .sql = "SELECT DISTINCT r.indicator, s.name FROM applications_roles ar "
           "JOIN roles_scopes rs ON rs.tenant_id = ar.tenant_id AND rs.role_id = ar.role_id "
           "JOIN scopes s ON s.tenant_id = rs.tenant_id AND s.id = rs.scope_id "
           "JOIN resources r ON r.tenant_id = s.tenant_id AND r.id = s.resource_id "
           "WHERE ar.tenant_id = $1 AND ar.application_id = $2",
    .nparams = 2,
};

struct waiter {
    struct waiter *next;
    latch_client_cb cb;
    void *arg;
};

struct slot {
    struct slot *next;
    char tenant[32], id[32];
    struct latch_client *client;
    bool loading;
    uint64_t load_epoch;
    struct waiter *waiters;
    struct client_cache *cache;
};

struct client_cache {
    struct latch_loop *loop;
    struct slot *buckets[CLIENT_BUCKETS];
    int count;
};

static void free_list(char **list, int n)
{
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void client_free(struct latch_client *c)
{
    free_list(c->redirect_uris, c->nredirect_uris);
    free_list(c->post_logout_uris, c->npost_logout_uris);
    free_list(c->cors_origins, c->ncors_origins);
    free(c->name);
    for (int i = 0; i < c->nscopes; i++) {
        free(c->scopes[i].indicator);
        free(c->scopes[i].name);
    }
    free(c->scopes);
    free(c->secrets);
    free(c);
}

void latch_client_unref(struct latch_client *client)
{
    if (client != NULL && --client->refs == 0)
        client_free(client);
}

static void *cache_create(struct latch_loop *loop)
{
    struct client_cache *cache = calloc(1, sizeof(*cache));
    if (cache != NULL)
        cache->loop = loop;
    return cache;
}

/* Frees every slot not waiting on a load (a bound on memory, not an LRU). */
static void drop_idle(struct client_cache *cache)
{
    for (int b = 0; b < CLIENT_BUCKETS; b++) {
        struct slot **pp = &cache->buckets[b];
        while (*pp != NULL) {
            struct slot *s = *pp;
            if (s->loading) {
                pp = &s->next;
                continue;
            }
            *pp = s->next;
            latch_client_unref(s->client);
            free(s);
            cache->count--;
        }
    }
}

static void cache_destroy(void *arg)
{
    struct client_cache *cache = arg;
    for (int b = 0; b < CLIENT_BUCKETS; b++) {
        for (struct slot *s = cache->buckets[b], *next; s != NULL; s = next) {
            next = s->next;
            if (s->loading) {
                s->cache = NULL;
                continue;
            }
            latch_client_unref(s->client);
            free(s);
        }
    }
    free(cache);
}

static size_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = a; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    h = (h ^ '/') * 1099511628211u;
    for (const char *p = b; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211u;
    return (size_t)(h % CLIENT_BUCKETS);
}

static bool string_list(yajl_val obj, const char *key, char ***out, int *n)
{
    const char *path[] = {key, NULL};
    yajl_val arr = obj ? yajl_tree_get(obj, path, yajl_t_array) : NULL;
    *out = NULL;
    *n = 0;
    if (arr == NULL)
        return true;
    size_t len = YAJL_GET_ARRAY(arr)->len;
    *out = calloc(len ? len : 1, sizeof(char *));
    if (*out == NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        const char *text = YAJL_GET_STRING(YAJL_GET_ARRAY(arr)->values[i]);
        if (text == NULL)
            continue;
        (*out)[*n] = strdup(text);
        if ((*out)[*n] == NULL)
            return false;
        (*n)++;
    }
    return true;
}

static void number(yajl_val obj, const char *key, long scale, long *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj ? yajl_tree_get(obj, path, yajl_t_number) : NULL;
    if (v != NULL && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0)
        *out = (long)YAJL_GET_INTEGER(v) * scale;
}

static void boolean(yajl_val obj, const char *key, bool *out)
{
    const char *path[] = {key, NULL};
    yajl_val v = obj ? yajl_tree_get(obj, path, yajl_t_any) : NULL;
    if (v != NULL && YAJL_IS_TRUE(v))
        *out = true;
    else if (v != NULL && YAJL_IS_FALSE(v))
        *out = false;
}

/* The metadata JSON was validated by the Management API when stored. */
static bool parse_metadata(struct latch_client *c, const char *oidc, const char *custom)
{
    yajl_val o = yajl_tree_parse(oidc, NULL, 0);
    yajl_val m = yajl_tree_parse(custom, NULL, 0);
    bool ok =
        string_list(o, "redirectUris", &c->redirect_uris, &c->nredirect_uris) &&
        string_list(o, "postLogoutRedirectUris", &c->post_logout_uris, &c->npost_logout_uris) &&
        string_list(m, "corsAllowedOrigins", &c->cors_origins, &c->ncors_origins);
    number(m, "idTokenTtl", 1, &c->id_token_ttl);
    number(m, "refreshTokenTtlInDays", 86400, &c->refresh_token_ttl);
    boolean(m, "rotateRefreshToken", &c->rotate_refresh_token);
    boolean(m, "alwaysIssueRefreshToken", &c->always_issue_refresh_token);
    yajl_tree_free(o);
    yajl_tree_free(m);
    return ok;
}

static struct latch_client *build(struct slot *s, struct latch_store_result *const *results)
{
    struct latch_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->epoch = s->load_epoch;
    snprintf(c->tenant, sizeof(c->tenant), "%s", s->tenant);
    snprintf(c->id, sizeof(c->id), "%s", s->id);
    c->exists = latch_store_result_rows(results[0]) == 1;
    if (!c->exists)
        return c;
    snprintf(c->type, sizeof(c->type), "%s", latch_store_result_value(results[0], 0, 0));
    c->is_public = strcmp(c->type, "SPA") == 0 || strcmp(c->type, "Native") == 0;
    c->name = strdup(latch_store_result_value(results[0], 0, 1));
    c->id_token_ttl = 3600;
    c->access_token_ttl = 3600;
    c->refresh_token_ttl = 14L * 86400;
    c->rotate_refresh_token = true;
    if (c->name == NULL || !parse_metadata(c, latch_store_result_value(results[0], 0, 2),
                                           latch_store_result_value(results[0], 0, 3)))
        goto oom;

    int n = latch_store_result_rows(results[1]);
    c->secrets = calloc((size_t)(n ? n : 1), sizeof(*c->secrets));
    if (c->secrets == NULL)
        goto oom;
    for (int r = 0; r < n; r++) {
        const char *hex = latch_store_result_value(results[1], r, 0);
        if (strlen(hex) != 2 * LATCH_SECRET_HASH_LEN)
            continue;
        struct latch_client_secret *sec = &c->secrets[c->nsecrets];
        bool ok = latch_hex_decode(hex, 2 * LATCH_SECRET_HASH_LEN, sec->hash, sizeof(sec->hash)) ==
                  LATCH_SECRET_HASH_LEN;
        sec->expires_at = strtoll(latch_store_result_value(results[1], r, 1), NULL, 10);
        if (ok)
            c->nsecrets++;
    }
    n = latch_store_result_rows(results[2]);
    c->scopes = calloc((size_t)(n ? n : 1), sizeof(*c->scopes));
    if (c->scopes == NULL)
        goto oom;
    for (int r = 0; r < n; r++) {
        c->scopes[r].indicator = strdup(latch_store_result_value(results[2], r, 0));
        c->scopes[r].name = strdup(latch_store_result_value(results[2], r, 1));
        c->nscopes++;
        if (c->scopes[r].indicator == NULL || c->scopes[r].name == NULL)
            goto oom;
    }
    return c;
oom:
    client_free(c);
    return NULL;
}

static void loaded(struct latch_store_result *const *results, int nresults,
                   const struct latch_error *err, void *arg)
{
    struct slot *s = arg;
    struct latch_client *c = err == NULL ? build(s, results) : NULL;
    struct latch_error oom;
    if (err == NULL && c == NULL) {
        latch_error_set(&oom, 503, "service_unavailable", "Out of memory.");
        err = &oom;
    }
    s->loading = false;
    struct waiter *w = s->waiters;
    s->waiters = NULL;
    if (c != NULL && s->cache != NULL) {
        latch_client_unref(s->client);
        s->client = c;
        c->refs++; /* the slot's */
    }
    while (w != NULL) {
        struct waiter *next = w->next;
        if (c != NULL)
            c->refs++;
        w->cb(c, c ? NULL : err, w->arg);
        free(w);
        w = next;
    }
    latch_client_unref(c); /* build's reference */
    if (s->cache == NULL) {
        latch_client_unref(s->client);
        free(s);
    }
}

void latch_client_get(struct latch_loop *loop, const char *tenant_id, const char *client_id,
                      latch_client_cb cb, void *arg)
{
    static const struct latch_error oom = {
        .status = 503, .code = "service_unavailable", .message = "Out of memory."};
    struct client_cache *cache =
        latch_loop_local(loop, LATCH_LOOP_SLOT_CLIENTS, cache_create, cache_destroy);
    if (cache == NULL) {
        cb(NULL, &oom, arg);
        return;
    }
    uint64_t epoch = latch_tenant_epoch_get(tenant_id);
    size_t b = hash2(tenant_id, client_id);
    struct slot *s = cache->buckets[b];
    while (s != NULL && (strcmp(s->tenant, tenant_id) != 0 || strcmp(s->id, client_id) != 0))
        s = s->next;
    if (s != NULL && s->client != NULL && s->client->epoch == epoch) {
        s->client->refs++;
        cb(s->client, NULL, arg);
        return;
    }
    if (s == NULL) {
        if (cache->count >= CLIENT_MAX)
            drop_idle(cache); /* bounded: start over rather than grow */
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            cb(NULL, &oom, arg);
            return;
        }
        snprintf(s->tenant, sizeof(s->tenant), "%s", tenant_id);
        snprintf(s->id, sizeof(s->id), "%s", client_id);
        s->cache = cache;
        s->next = cache->buckets[b];
        cache->buckets[b] = s;
        cache->count++;
    }
    struct waiter *w = malloc(sizeof(*w));
    if (w == NULL) {
        cb(NULL, &oom, arg);
        return;
    }
    w->cb = cb;
    w->arg = arg;
    w->next = s->waiters;
    s->waiters = w;
    if (s->loading)
        return;
    s->loading = true;
    s->load_epoch = epoch;
    struct latch_store_op ops[3] = {
        {.stmt = &app_stmt, .params = {tenant_id, client_id}},
        {.stmt = &secrets_stmt, .params = {tenant_id, client_id}},
        {.stmt = &scopes_stmt, .params = {tenant_id, client_id}},
    };
    latch_store_exec(latch_loop_store(loop), tenant_id, ops, 3, loaded, s);
}

bool latch_client_check_secret(const struct latch_client *client, const char *secret, time_t now)
{
    uint8_t hash[LATCH_SECRET_HASH_LEN];
    if (latch_jose_client_secret_hash(latch_tenant_secret_hash_key(), secret, strlen(secret),
                                      hash) != LATCH_OK)
        return false;
    bool ok = false;
    for (int i = 0; i < client->nsecrets; i++) {
        bool live = client->secrets[i].expires_at == 0 || client->secrets[i].expires_at > now;
        /* Compare every secret, so the time taken says nothing about which one matched. */
        ok |= latch_jose_equal(hash, client->secrets[i].hash, sizeof(hash)) && live;
    }
    return ok;
}

static bool in_list(char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

bool latch_client_redirect_uri_ok(const struct latch_client *client, const char *uri)
{
    return uri != NULL && in_list(client->redirect_uris, client->nredirect_uris, uri);
}

bool latch_client_post_logout_uri_ok(const struct latch_client *client, const char *uri)
{
    return uri != NULL && in_list(client->post_logout_uris, client->npost_logout_uris, uri);
}

/* scheme://host[:port] of an absolute URL into out; false when it has none. */
static bool origin_of(const char *url, char *out, size_t cap)
{
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return false;
    const char *end = strpbrk(sep + 3, "/?#");
    size_t n = end ? (size_t)(end - url) : strlen(url);
    if (n + 1 > cap)
        return false;
    memcpy(out, url, n);
    out[n] = '\0';
    return true;
}

bool latch_client_origin_ok(const struct latch_client *client, const char *origin)
{
    if (origin == NULL)
        return false;
    if (in_list(client->cors_origins, client->ncors_origins, origin))
        return true;
    char o[512];
    for (int i = 0; i < client->nredirect_uris; i++)
        if (origin_of(client->redirect_uris[i], o, sizeof(o)) && strcmp(o, origin) == 0)
            return true;
    return false;
}
