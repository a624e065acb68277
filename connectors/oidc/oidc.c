/*
 * The generic OpenID Connect / OAuth 2.0 social connector (oidc.so), factory id `oidc`: a
 * "standard" connector (LATCH_CONNECTOR_FLAG_STANDARD, Logto's isStandard), so a tenant may add
 * several instances, each with its own target, name and logo, for any provider that speaks the
 * authorization-code flow. Written against plugins-api/latch/connector.h alone: HTTP, JSON
 * (scalars and profileMap's members), base64 and base64url (the id_token's parts, PKCE), form
 * encoding, SHA-256 (PKCE), random bytes (nonce, verifier), memory and the per-flow session
 * come from the host services table (ABI 1.1), so the .so links nothing but libc and carries
 * no crypto, codec or JSON parser of its own.
 *
 * Flow:
 *   get_authorization_uri: resolves the endpoints (OpenID Provider discovery at
 *     <issuer>/.well-known/openid-configuration, or the ones set by hand, which win), draws a
 *     nonce and a PKCE verifier, keeps them with the redirect URI and the endpoints in the
 *     connector session, and sends the person to the authorization endpoint.
 *   get_user_info: exchanges the code at the token endpoint (client_secret_basic,
 *     client_secret_post, or a public client), checks the id_token's claims when one comes back
 *     (iss, aud, azp, exp, nonce; NOT its signature: the ABI has no verification service, see
 *     README.md), reads the userinfo endpoint when there is one (else takes the id_token's
 *     claims), and maps the profile with profileMap (dotted paths such as "data.user.id").
 *
 * State: one thing is kept across calls, the discovery cache (below): discovery documents by
 * URL, process-wide, shared by every instance and tenant (a document is public and the same for
 * everyone who asks), bounded, under a mutex because operations run on several worker threads
 * at once, and freed when the .so is unloaded. Everything else is per call or in the session.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <latch/connector.h>

#include "oidc_assets.h" /* generated: OIDC_LOGO_SVG, OIDC_README_MD */

#define DEFAULT_SCOPE     "openid profile email"
#define DISCOVERY_PATH    "/.well-known/openid-configuration"
#define AUTH_METHOD_BASIC "client_secret_basic"
#define AUTH_METHOD_POST  "client_secret_post"
#define DEFAULT_PROFILE_MAP                                                                        \
    "{\"id\": \"sub\", \"name\": \"name\", \"email\": \"email\", \"avatar\": \"picture\"}"

/* Session keys (kept by the host between the two operations of one sign-in). */
#define SESSION_REDIRECT_URI  "redirectUri"
#define SESSION_NONCE         "nonce"
#define SESSION_CODE_VERIFIER "codeVerifier"
#define SESSION_TOKEN_EP      "tokenEndpoint"
#define SESSION_USERINFO_EP   "userInfoEndpoint"
#define SESSION_ISSUER        "issuer"

#define DISCOVERY_TIMEOUT_MS 5000
#define TOKEN_TIMEOUT_MS     10000
#define USERINFO_TIMEOUT_MS  5000

/* Leeway for the id_token's exp against this server's clock. */
#define CLOCK_SKEW_SECONDS 60
/* Random bytes behind the nonce and the PKCE verifier: 32 bytes give 43 base64url characters,
 * the length RFC 7636 §4.1 recommends. */
#define RANDOM_BYTES 32
/* The most audiences of an id_token looked at. */
#define MAX_AUDIENCES 64
/* The longest path segment the host's json_get takes. */
#define MAX_SEGMENT 255

#define LOG_INFO  LATCH_CONNECTOR_LOG_INFO
#define LOG_WARN  LATCH_CONNECTOR_LOG_WARN
#define LOG_ERROR LATCH_CONNECTOR_LOG_ERROR

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The descriptor declares ABI 1.1 (sha256, random_bytes, base64url, json_members), so the loader
 * refuses this connector on older hosts; checked all the same, so a broken host fails the call
 * instead of crashing it. */
static bool host_ok(const struct latch_connector_host *host)
{
    return host != NULL && host->host_major == LATCH_CONNECTOR_ABI_MAJOR &&
           LATCH_CONNECTOR_HAS(host, struct latch_connector_host, json_members);
}

static const char *param(const struct latch_connector_param *params, size_t nparams,
                         const char *name)
{
    for (size_t i = 0; params != NULL && i < nparams; i++)
        if (params[i].name != NULL && strcmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

/* What host->http returned when no answer came: its own status when it is one of ours. */
static int http_failure(int rc)
{
    return rc == LATCH_CONNECTOR_ERR_TIMEOUT ? LATCH_CONNECTOR_ERR_TIMEOUT
                                             : LATCH_CONNECTOR_ERR_GENERAL;
}

/* An absolute https URL without a fragment, whitespace or control characters. */
static bool https_url(const char *s)
{
    if (s == NULL || strncmp(s, "https://", 8) != 0 || s[8] == '\0' || s[8] == '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '#')
            return false;
    return true;
}

/* Issuers compare exactly, except for one trailing '/' on either side. */
static bool same_issuer(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 0 && a[na - 1] == '/')
        na--;
    if (nb > 0 && b[nb - 1] == '/')
        nb--;
    return na == nb && memcmp(a, b, na) == 0;
}

/* ---- randomness ---- */

/* A fresh random base64url string (nonce, PKCE verifier) in the arena. */
static char *random_token(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    unsigned char raw[RANDOM_BYTES];
    char *out = NULL;

    if (host->random_bytes(ctx, raw, sizeof(raw)) == LATCH_CONNECTOR_OK)
        out = host->base64url(ctx, raw, sizeof(raw));
    else
        host->log_msg(ctx, LOG_ERROR, "the host's random_bytes failed");
    memset(raw, 0, sizeof(raw));
    return out;
}

/* ---- profileMap: a JSON object of strings ---- */

enum {
    MAP_ID,
    MAP_NAME,
    MAP_EMAIL,
    MAP_PHONE,
    MAP_AVATAR,
    MAP_EMAIL_VERIFIED,
    MAP_COUNT,
};

/* The keys a profileMap may set, and the OpenID Connect standard claims they default to. */
static const struct {
    const char *key;
    const char *claim;
} map_keys[MAP_COUNT] = {
    [MAP_ID] = {"id", "sub"},
    [MAP_NAME] = {"name", "name"},
    [MAP_EMAIL] = {"email", "email"},
    [MAP_PHONE] = {"phone", "phone_number"},
    [MAP_AVATAR] = {"avatar", "picture"},
    [MAP_EMAIL_VERIFIED] = {"emailVerified", "email_verified"},
};

struct profile_map {
    const char *path[MAP_COUNT];
};

/* A dotted path json_get can follow: non-empty segments of at most MAX_SEGMENT bytes. */
static bool dotted_path_ok(const char *path)
{
    const char *p = path;

    if (path[0] == '\0')
        return false;
    for (;;) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n > MAX_SEGMENT)
            return false;
        p += n;
        if (*p == '\0')
            return true;
        p++;
    }
}

/*
 * Reads profileMap (NULL or blank: the defaults): a JSON object whose members are among
 * map_keys and whose values are dotted paths. Keys it leaves out keep their default claim, as
 * Logto's OAuth 2.0 connector does. The host's json_members reads it (and refuses a key given
 * twice, as its JSON reader refuses duplicates everywhere). On failure *why says what is wrong
 * (arena or static).
 */
static bool parse_profile_map(struct latch_connector_ctx *ctx,
                              const struct latch_connector_host *host, const char *json,
                              struct profile_map *map, const char **why)
{
    struct latch_connector_json_members m = LATCH_CONNECTOR_JSON_MEMBERS_INIT;

    for (int i = 0; i < MAP_COUNT; i++)
        map->path[i] = map_keys[i].claim;
    if (json == NULL || json[strspn(json, " \t\r\n")] == '\0')
        return true;
    if (host->json_members(ctx, json, NULL, &m) != LATCH_CONNECTOR_OK) {
        /* m.why reads after the document's name: "is not a JSON object", "is not valid
         * JSON: duplicate key `id`". */
        *why = host->format(ctx,
                            "profileMap %s (it must be a JSON object of dotted paths such as "
                            "{\"id\": \"sub\", \"name\": \"name\"})",
                            m.why != NULL ? m.why : "is not a valid JSON object");
        return false;
    }
    for (size_t i = 0; i < m.count; i++) {
        int k;

        for (k = 0; k < MAP_COUNT && strcmp(map_keys[k].key, m.names[i]) != 0; k++)
            ;
        if (k == MAP_COUNT) {
            *why = host->format(ctx,
                                "profileMap: unknown key \"%.64s\" (the keys are id, name, "
                                "email, phone, avatar and emailVerified)",
                                m.names[i]);
            return false;
        }
        if (m.types[i] != LATCH_CONNECTOR_JSON_STRING) {
            *why = host->format(ctx,
                                "profileMap.%s must be a string: the dotted path of the "
                                "profile value, e.g. \"data.user.id\"",
                                m.names[i]);
            return false;
        }
        if (!dotted_path_ok(m.values[i])) {
            *why = host->format(ctx,
                                "profileMap.%s: \"%.64s\" is not a dotted path (non-empty "
                                "names separated by single dots, e.g. \"data.user.id\")",
                                m.names[i], m.values[i]);
            return false;
        }
        map->path[k] = m.values[i];
    }
    return true;
}

/* ---- configuration ---- */

static bool pkce_enabled(struct latch_connector_ctx *ctx, const struct latch_connector_host *host)
{
    const char *v = host->config_get(ctx, "pkce");
    return v == NULL || strcmp(v, "false") != 0;
}

/* The token endpoint authentication method; NULL when the configured one is unknown. */
static const char *auth_method(struct latch_connector_ctx *ctx,
                               const struct latch_connector_host *host)
{
    const char *v = host->config_get(ctx, "tokenEndpointAuthMethod");
    if (!nonempty(v))
        return AUTH_METHOD_BASIC;
    if (strcmp(v, AUTH_METHOD_BASIC) == 0 || strcmp(v, AUTH_METHOD_POST) == 0)
        return v;
    return NULL;
}

static int oidc_validate_config(struct latch_connector_ctx *ctx,
                                const struct latch_connector_host *host, const char **why)
{
    static const char *const endpoint_keys[] = {"authorizationEndpoint", "tokenEndpoint",
                                                "userInfoEndpoint"};
    const char *issuer, *value;
    struct profile_map map;
    int nendpoints = 0;

    if (why == NULL || !host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    *why = NULL;
    if (!nonempty(host->config_get(ctx, "clientId"))) {
        *why = "clientId is required";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    issuer = host->config_get(ctx, "issuer");
    if (nonempty(issuer) && (!https_url(issuer) || strchr(issuer, '?') != NULL)) {
        *why = "issuer must be an https URL without a query or fragment, e.g. "
               "https://accounts.example.com";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    for (size_t i = 0; i < sizeof(endpoint_keys) / sizeof(endpoint_keys[0]); i++) {
        value = host->config_get(ctx, endpoint_keys[i]);
        if (!nonempty(value))
            continue;
        if (!https_url(value)) {
            *why =
                host->format(ctx, "%s must be an https URL without a fragment", endpoint_keys[i]);
            return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
        }
        nendpoints++;
    }
    if (!nonempty(issuer) && nendpoints < 3) {
        *why = "set issuer (the endpoints are then discovered from "
               "<issuer>/.well-known/openid-configuration), or all of authorizationEndpoint, "
               "tokenEndpoint and userInfoEndpoint";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    if (auth_method(ctx, host) == NULL) {
        *why = "tokenEndpointAuthMethod must be client_secret_basic or client_secret_post";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    value = host->config_get(ctx, "pkce");
    if (value != NULL && strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
        *why = "pkce must be true or false";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    if (!nonempty(host->config_get(ctx, "clientSecret")) && !pkce_enabled(ctx, host)) {
        *why = "a public client (no clientSecret) must use PKCE: set pkce to true";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    if (!parse_profile_map(ctx, host, host->config_get(ctx, "profileMap"), &map, why)) {
        if (*why == NULL)
            *why = "profileMap is not a valid JSON object";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    return LATCH_CONNECTOR_OK;
}

/* ---- endpoints ---- */

struct endpoints {
    const char *authorization;
    const char *token;
    const char *userinfo; /* NULL: none; the profile comes from the id_token */
    const char *issuer;   /* NULL: unknown; the id_token's iss is not compared */
};

/* ---- the discovery cache ----
 *
 * Discovery documents by URL, so a sign-in does not cost a request to the issuer's discovery
 * endpoint each time, and a hung or failing issuer is asked at most once per CACHE_FAIL_TTL
 * instead of tying up a worker for the whole timeout on every sign-in (issue 15, item 3).
 * A document is kept CACHE_TTL seconds (no Cache-Control: a provider changes its endpoints
 * rarely, and ten minutes bounds how long a change takes to be seen); a failure is kept
 * CACHE_FAIL_TTL seconds and replayed with the status and message it had. Not cached: a request
 * that failed before any answer for another reason than a timeout (the address policy refused
 * it, DNS or TLS failed, the connection was refused): those fail fast, and the host's own
 * classification of them (connector.address_refused) must reach every sign-in.
 *
 * At most CACHE_MAX_ENTRIES entries; a new one replaces an expired entry or else the one
 * fetched longest ago, so a tenant adding many issuers can only make others fetch again.
 * Values longer than CACHE_MAX_VALUE are used but not cached (bounded memory: ~2.5 MiB at
 * most). The lock is never held across a request; two threads missing at once both fetch.
 */

#define CACHE_MAX_ENTRIES 256
#define CACHE_TTL         600
#define CACHE_FAIL_TTL    30
#define CACHE_MAX_VALUE   2048

/* What discovery found (or the failure), before the hand-set endpoints are merged in. */
struct discovered {
    int status;                                            /* LATCH_CONNECTOR_OK, or the failure */
    const char *issuer, *authorization, *token, *userinfo; /* on success; each may be NULL */
    const char *problem;                                   /* on failure: what was logged */
};

struct cache_entry {
    char *url; /* the key; NULL: a free slot */
    int64_t fetched_at;
    int status;
    char *issuer, *authorization, *token, *userinfo, *problem; /* malloc'd; NULL when absent */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_entry cache[CACHE_MAX_ENTRIES];

static int64_t monotonic_seconds(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec;
}

static bool entry_fresh(const struct cache_entry *e, int64_t now)
{
    int64_t ttl = e->status == LATCH_CONNECTOR_OK ? CACHE_TTL : CACHE_FAIL_TTL;
    return e->url != NULL && now >= e->fetched_at && now - e->fetched_at < ttl;
}

static void entry_free(struct cache_entry *e)
{
    free(e->url);
    free(e->issuer);
    free(e->authorization);
    free(e->token);
    free(e->userinfo);
    free(e->problem);
    memset(e, 0, sizeof(*e));
}

/* The .so is being unloaded (or the process ends): nothing may outlive it. */
__attribute__((destructor)) static void cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX_ENTRIES; i++)
        entry_free(&cache[i]);
    pthread_mutex_unlock(&cache_lock);
}

/* A fresh entry for url, copied into the call's arena; false when there is none (or no
 * memory, which only costs a fetch). */
static bool cache_lookup(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const char *url, struct discovered *out, int64_t *age)
{
    int64_t now = monotonic_seconds();
    bool hit = false;

    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < CACHE_MAX_ENTRIES; i++) {
        const struct cache_entry *e = &cache[i];
        if (e->url == NULL || strcmp(e->url, url) != 0 || !entry_fresh(e, now))
            continue;
        out->status = e->status;
        out->issuer = host->dup(ctx, e->issuer);
        out->authorization = host->dup(ctx, e->authorization);
        out->token = host->dup(ctx, e->token);
        out->userinfo = host->dup(ctx, e->userinfo);
        out->problem = host->dup(ctx, e->problem);
        *age = now - e->fetched_at;
        hit = (e->issuer == NULL || out->issuer != NULL) &&
              (e->authorization == NULL || out->authorization != NULL) &&
              (e->token == NULL || out->token != NULL) &&
              (e->userinfo == NULL || out->userinfo != NULL) &&
              (e->problem == NULL || out->problem != NULL);
        break;
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static bool copy_value(const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return true;
    if (strlen(s) > CACHE_MAX_VALUE)
        return false;
    *out = strdup(s);
    return *out != NULL;
}

/* Keeps what discovery found for url. Best effort: a value too long or no memory leaves the
 * cache as it was. */
static void cache_store(const char *url, const struct discovered *d)
{
    struct cache_entry fresh, old;
    int64_t now = monotonic_seconds();
    size_t slot = CACHE_MAX_ENTRIES;

    memset(&fresh, 0, sizeof(fresh));
    memset(&old, 0, sizeof(old));
    if (!copy_value(url, &fresh.url) || fresh.url == NULL ||
        !copy_value(d->issuer, &fresh.issuer) ||
        !copy_value(d->authorization, &fresh.authorization) ||
        !copy_value(d->token, &fresh.token) || !copy_value(d->userinfo, &fresh.userinfo) ||
        !copy_value(d->problem, &fresh.problem)) {
        entry_free(&fresh);
        return;
    }
    fresh.status = d->status;
    fresh.fetched_at = now;

    pthread_mutex_lock(&cache_lock);
    /* The same URL (another thread fetched it too, or it expired), else a free or expired
     * slot, else the entry fetched longest ago. */
    for (size_t i = 0; i < CACHE_MAX_ENTRIES && slot == CACHE_MAX_ENTRIES; i++)
        if (cache[i].url != NULL && strcmp(cache[i].url, url) == 0)
            slot = i;
    for (size_t i = 0; i < CACHE_MAX_ENTRIES && slot == CACHE_MAX_ENTRIES; i++)
        if (!entry_fresh(&cache[i], now))
            slot = i;
    if (slot == CACHE_MAX_ENTRIES) {
        slot = 0;
        for (size_t i = 1; i < CACHE_MAX_ENTRIES; i++)
            if (cache[i].fetched_at < cache[slot].fetched_at)
                slot = i;
    }
    old = cache[slot];
    cache[slot] = fresh;
    pthread_mutex_unlock(&cache_lock);
    entry_free(&old);
}

/* Logs a failure of discovery and keeps its text for the cache. */
static void discovery_failed(struct latch_connector_ctx *ctx,
                             const struct latch_connector_host *host, int level, int status,
                             const char *problem, struct discovered *d)
{
    d->status = status;
    d->problem = problem;
    host->log_msg(ctx, level, "%s", problem != NULL ? problem : "discovery failed");
}

/* GET url, <issuer>/.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4), into
 * *d; *cacheable says whether the outcome may be cached (see above). */
static void fetch_discovery(struct latch_connector_ctx *ctx,
                            const struct latch_connector_host *host, const char *url,
                            const char *issuer, struct discovered *d, bool *cacheable)
{
    const char *doc_issuer;
    int rc;

    memset(d, 0, sizeof(*d));
    *cacheable = true;
    const struct latch_connector_http_header headers[] = {{"Accept", "application/json"}};
    struct latch_connector_http_request req = LATCH_CONNECTOR_HTTP_REQUEST_INIT;
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;
    req.method = "GET";
    req.url = url;
    req.headers = headers;
    req.nheaders = 1;
    req.timeout_ms = DISCOVERY_TIMEOUT_MS;

    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK) {
        *cacheable = rc == LATCH_CONNECTOR_ERR_TIMEOUT;
        discovery_failed(
            ctx, host, LOG_WARN, http_failure(rc),
            host->format(ctx, "discovery request to %s failed before an answer (%d)", url, rc), d);
        return;
    }
    if (resp.status >= 400 && resp.status < 500) {
        discovery_failed(ctx, host, LOG_ERROR, LATCH_CONNECTOR_ERR_INVALID_CONFIG,
                         host->format(ctx,
                                      "discovery document %s answered HTTP %d: check the issuer "
                                      "setting",
                                      url, resp.status),
                         d);
        return;
    }
    if (resp.status < 200 || resp.status > 299) {
        discovery_failed(
            ctx, host, LOG_WARN, LATCH_CONNECTOR_ERR_GENERAL,
            host->format(ctx, "discovery document %s answered HTTP %d", url, resp.status), d);
        return;
    }
    doc_issuer = resp.body != NULL ? host->json_get(ctx, resp.body, "issuer") : NULL;
    if (doc_issuer == NULL) {
        discovery_failed(
            ctx, host, LOG_WARN, LATCH_CONNECTOR_ERR_INVALID_RESPONSE,
            host->format(ctx, "discovery document %s is not JSON or has no issuer", url), d);
        return;
    }
    /* Discovery §4.3: the document's issuer is the one we asked for, else it is not ours. The
     * cache key is the URL, which the configured issuer determines up to a trailing '/', which
     * same_issuer ignores too: the outcome is the same for every issuer with this URL. */
    if (!same_issuer(doc_issuer, issuer)) {
        discovery_failed(ctx, host, LOG_WARN, LATCH_CONNECTOR_ERR_INVALID_RESPONSE,
                         host->format(ctx,
                                      "discovery document %s names the issuer \"%.200s\", not "
                                      "the configured \"%.200s\"",
                                      url, doc_issuer, issuer),
                         d);
        return;
    }
    d->status = LATCH_CONNECTOR_OK;
    d->issuer = doc_issuer;
    d->authorization = host->json_get(ctx, resp.body, "authorization_endpoint");
    d->token = host->json_get(ctx, resp.body, "token_endpoint");
    d->userinfo = host->json_get(ctx, resp.body, "userinfo_endpoint");
    if (d->userinfo != NULL && d->userinfo[0] == '\0')
        d->userinfo = NULL;
}

/* The issuer's endpoints, from the cache or its discovery document, for those *ep lacks. */
static int discover(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                    const char *issuer, struct endpoints *ep)
{
    size_t n = strlen(issuer);
    struct discovered d;
    int64_t age = 0;
    bool cacheable;
    const char *url;

    if (n > 0 && issuer[n - 1] == '/')
        n--;
    url = host->format(ctx, "%.*s%s", (int)n, issuer, DISCOVERY_PATH);
    if (url == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    memset(&d, 0, sizeof(d));
    if (cache_lookup(ctx, host, url, &d, &age)) {
        if (d.status != LATCH_CONNECTOR_OK) {
            /* The host's detail for this failure: what happened, and that it was not retried. */
            host->log_msg(ctx, LOG_WARN, "%s (%llds ago; not retried for %d s)",
                          d.problem != NULL ? d.problem : "discovery failed", (long long)age,
                          CACHE_FAIL_TTL);
            return d.status;
        }
    } else {
        fetch_discovery(ctx, host, url, issuer, &d, &cacheable);
        if (cacheable)
            cache_store(url, &d);
        if (d.status != LATCH_CONNECTOR_OK)
            return d.status;
    }

    ep->issuer = d.issuer;
    if (ep->authorization == NULL)
        ep->authorization = d.authorization;
    if (ep->token == NULL)
        ep->token = d.token;
    if (ep->userinfo == NULL)
        ep->userinfo = d.userinfo;
    if (!https_url(ep->authorization) || !https_url(ep->token) ||
        (ep->userinfo != NULL && !https_url(ep->userinfo))) {
        host->log_msg(ctx, LOG_WARN,
                      "discovery document %s lacks an https authorization_endpoint or "
                      "token_endpoint, or has a userinfo_endpoint that is not https",
                      url);
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    return LATCH_CONNECTOR_OK;
}

/* The endpoints from the configuration: those set by hand, the others discovered from the
 * issuer (when one is set). */
static int resolve_endpoints(struct latch_connector_ctx *ctx,
                             const struct latch_connector_host *host, struct endpoints *ep)
{
    const char *issuer = host->config_get(ctx, "issuer");

    memset(ep, 0, sizeof(*ep));
    ep->authorization = host->config_get(ctx, "authorizationEndpoint");
    ep->token = host->config_get(ctx, "tokenEndpoint");
    ep->userinfo = host->config_get(ctx, "userInfoEndpoint");
    if (!nonempty(ep->authorization))
        ep->authorization = NULL;
    if (!nonempty(ep->token))
        ep->token = NULL;
    if (!nonempty(ep->userinfo))
        ep->userinfo = NULL;
    if (nonempty(issuer)) {
        if (ep->authorization == NULL || ep->token == NULL || ep->userinfo == NULL)
            return discover(ctx, host, issuer, ep);
        ep->issuer = issuer;
        return LATCH_CONNECTOR_OK;
    }
    if (ep->authorization == NULL || ep->token == NULL) {
        host->log_msg(ctx, LOG_ERROR,
                      "neither issuer nor authorizationEndpoint and tokenEndpoint are configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    return LATCH_CONNECTOR_OK;
}

/* ---- get_authorization_uri ---- */

static int oidc_get_authorization_uri(struct latch_connector_ctx *ctx,
                                      const struct latch_connector_host *host,
                                      const struct latch_connector_auth_request *req, char **uri)
{
    const char *client_id, *config_scope, *scope;
    const char *nonce, *verifier = NULL, *challenge = NULL;
    struct endpoints ep;
    char *query = NULL;
    int rc;

    if (uri == NULL || !host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = NULL;
    if (req == NULL || !nonempty(req->state) || !nonempty(req->redirect_uri)) {
        host->log_msg(ctx, LOG_ERROR, "authorization request without a state or a redirect URI");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    client_id = host->config_get(ctx, "clientId");
    if (!nonempty(client_id)) {
        host->log_msg(ctx, LOG_ERROR, "clientId is not configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    config_scope = host->config_get(ctx, "scope");
    scope = nonempty(req->scope)     ? req->scope
            : nonempty(config_scope) ? config_scope
                                     : DEFAULT_SCOPE;

    rc = resolve_endpoints(ctx, host, &ep);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;

    /* The nonce binds the id_token to this sign-in (OIDC Core §3.1.2.1); sent always: an
     * OAuth 2.0 server ignores parameters it does not know (RFC 6749 §3.1). */
    nonce = random_token(ctx, host);
    if (nonce == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (pkce_enabled(ctx, host)) {
        unsigned char digest[32];
        verifier = random_token(ctx, host);
        if (verifier == NULL)
            return LATCH_CONNECTOR_ERR_GENERAL;
        if (host->sha256(ctx, verifier, strlen(verifier), digest) != LATCH_CONNECTOR_OK)
            return LATCH_CONNECTOR_ERR_GENERAL;
        challenge = host->base64url(ctx, digest, sizeof(digest));
        if (challenge == NULL)
            return LATCH_CONNECTOR_ERR_GENERAL;
    }

    /* What get_user_info needs: the same redirect URI, the nonce, the verifier, and the
     * endpoints this sign-in started with (no second discovery request). */
    if (host->session_set(ctx, SESSION_REDIRECT_URI, req->redirect_uri) != 0 ||
        host->session_set(ctx, SESSION_NONCE, nonce) != 0 ||
        host->session_set(ctx, SESSION_CODE_VERIFIER, verifier) != 0 ||
        host->session_set(ctx, SESSION_TOKEN_EP, ep.token) != 0 ||
        host->session_set(ctx, SESSION_USERINFO_EP, ep.userinfo) != 0 ||
        host->session_set(ctx, SESSION_ISSUER, ep.issuer) != 0) {
        host->log_msg(ctx, LOG_ERROR, "cannot keep the sign-in's values in the connector session");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }

    if (host->form_add(ctx, &query, "response_type", "code") != 0 ||
        host->form_add(ctx, &query, "client_id", client_id) != 0 ||
        host->form_add(ctx, &query, "redirect_uri", req->redirect_uri) != 0 ||
        host->form_add(ctx, &query, "scope", scope) != 0 ||
        host->form_add(ctx, &query, "state", req->state) != 0 ||
        host->form_add(ctx, &query, "nonce", nonce) != 0 ||
        host->form_add(ctx, &query, "code_challenge", challenge) != 0 ||
        host->form_add(ctx, &query, "code_challenge_method", challenge ? "S256" : NULL) != 0 ||
        query == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = host->format(ctx, "%s%c%s", ep.authorization,
                        strchr(ep.authorization, '?') != NULL ? '&' : '?', query);
    return *uri != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

/* ---- get_user_info ---- */

/* key=value of form_add without the "k=": the percent-encoded value alone. */
static const char *form_encode(struct latch_connector_ctx *ctx,
                               const struct latch_connector_host *host, const char *value)
{
    char *buf = NULL;
    if (host->form_add(ctx, &buf, "k", value) != 0 || buf == NULL)
        return NULL;
    return buf + 2;
}

struct token_set {
    const char *access_token;
    const char *id_token; /* NULL when none came */
};

/* POST the code to the token endpoint (RFC 6749 §4.1.3, with RFC 7636's code_verifier). */
static int exchange_code(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const char *token_endpoint, const char *code, const char *redirect_uri,
                         struct token_set *tokens)
{
    const char *client_id = host->config_get(ctx, "clientId");
    const char *client_secret = host->config_get(ctx, "clientSecret");
    const char *method = auth_method(ctx, host);
    const char *verifier = host->session_get(ctx, SESSION_CODE_VERIFIER);
    const char *basic = NULL;
    char *body = NULL;
    int rc;

    if (!nonempty(client_id) || method == NULL) {
        host->log_msg(ctx, LOG_ERROR, "clientId or tokenEndpointAuthMethod is not usable");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    /* The verifier of this sign-in, when it started with PKCE (whatever the config says now). */
    if (host->form_add(ctx, &body, "grant_type", "authorization_code") != 0 ||
        host->form_add(ctx, &body, "code", code) != 0 ||
        host->form_add(ctx, &body, "redirect_uri", redirect_uri) != 0 ||
        host->form_add(ctx, &body, "code_verifier", nonempty(verifier) ? verifier : NULL) != 0)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (!nonempty(client_secret)) {
        /* A public client identifies itself and proves the flow with PKCE. */
        if (host->form_add(ctx, &body, "client_id", client_id) != 0)
            return LATCH_CONNECTOR_ERR_GENERAL;
    } else if (strcmp(method, AUTH_METHOD_POST) == 0) {
        if (host->form_add(ctx, &body, "client_id", client_id) != 0 ||
            host->form_add(ctx, &body, "client_secret", client_secret) != 0)
            return LATCH_CONNECTOR_ERR_GENERAL;
    } else {
        /* client_secret_basic: RFC 6749 §2.3.1 form-encodes both before base64. */
        const char *id = form_encode(ctx, host, client_id);
        const char *secret = form_encode(ctx, host, client_secret);
        const char *credentials = id && secret ? host->format(ctx, "%s:%s", id, secret) : NULL;
        const char *b64 = credentials ? host->base64(ctx, credentials, strlen(credentials)) : NULL;
        basic = b64 ? host->format(ctx, "Basic %s", b64) : NULL;
        if (basic == NULL)
            return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (body == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    const struct latch_connector_http_header headers[] = {
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
        {"Authorization", basic},
    };
    struct latch_connector_http_request req = LATCH_CONNECTOR_HTTP_REQUEST_INIT;
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;
    req.method = "POST";
    req.url = token_endpoint;
    req.headers = headers;
    req.nheaders = basic != NULL ? 3 : 2;
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = TOKEN_TIMEOUT_MS;

    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK) {
        host->log_msg(ctx, LOG_WARN, "token request failed before an answer (%d)", rc);
        return http_failure(rc);
    }
    if (resp.status >= 400 && resp.status < 500) {
        const char *error = resp.body != NULL ? host->json_get(ctx, resp.body, "error") : NULL;
        host->log_msg(ctx, LOG_WARN, "token endpoint refused the code: HTTP %d%s%.64s", resp.status,
                      error != NULL ? ", error " : "", error != NULL ? error : "");
        return LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID;
    }
    if (resp.status < 200 || resp.status > 299) {
        host->log_msg(ctx, LOG_WARN, "token endpoint answered HTTP %d", resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    tokens->access_token =
        resp.body != NULL ? host->json_get(ctx, resp.body, "access_token") : NULL;
    if (tokens->access_token == NULL) {
        host->log_msg(ctx, LOG_WARN, "token response is not JSON or lacks access_token");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    if (tokens->access_token[0] == '\0') {
        host->log_msg(ctx, LOG_WARN, "token response has an empty access_token");
        return LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID;
    }
    tokens->id_token = host->json_get(ctx, resp.body, "id_token");
    if (tokens->id_token != NULL && tokens->id_token[0] == '\0')
        tokens->id_token = NULL;
    return LATCH_CONNECTOR_OK;
}

/* Whether the JSON text looks like an object (the first non-blank character is '{'); json_get
 * reads it strictly afterwards, and finds nothing in text its reader refuses. No member bound
 * here: a profile may be large. */
static bool json_object_text(const char *s)
{
    return s != NULL && s[strspn(s, " \t\r\n")] == '{';
}

/*
 * The id_token's claims (OIDC Core §3.1.3.7), all but its signature: the ABI has no signature
 * verification service. The token came straight from the token endpoint over TLS the host
 * verified, which §3.1.3.7 item 6 accepts in place of checking the signature. On success
 * *claims is the payload, a JSON object.
 */
static int check_id_token(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                          const char *id_token, const char *client_id, const char *issuer,
                          const char *nonce, const char **claims)
{
    const char *dot1 = strchr(id_token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    const unsigned char *header, *payload;
    const char *iss, *aud, *azp, *exp, *got_nonce;
    size_t header_len, payload_len;
    bool aud_ok = false;
    char *end;
    double exp_value;

    if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL) {
        host->log_msg(ctx, LOG_WARN,
                      "id_token is not a JWS in compact form (three parts); "
                      "encrypted id_tokens are not supported");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    /* JWS compact parts are unpadded base64url (RFC 7515 §2, §7.1): the host's strict decoder. */
    header = host->base64url_decode(ctx, id_token, (size_t)(dot1 - id_token), &header_len);
    payload = host->base64url_decode(ctx, dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload_len);
    if (header == NULL || payload == NULL || memchr(header, '\0', header_len) != NULL ||
        memchr(payload, '\0', payload_len) != NULL || !json_object_text((const char *)payload) ||
        host->json_get(ctx, (const char *)header, "alg") == NULL) {
        host->log_msg(ctx, LOG_WARN, "id_token's header or payload is not base64url JSON");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    *claims = (const char *)payload;

    iss = host->json_get(ctx, *claims, "iss");
    if (iss == NULL) {
        host->log_msg(ctx, LOG_WARN, "id_token has no iss claim (or its payload is not JSON)");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    if (issuer != NULL && !same_issuer(iss, issuer)) {
        host->log_msg(ctx, LOG_WARN, "id_token's iss \"%.200s\" is not the issuer \"%.200s\"", iss,
                      issuer);
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }

    /* aud: a string, or an array of strings one of which is our client id. */
    aud = host->json_get(ctx, *claims, "aud");
    if (aud != NULL) {
        aud_ok = strcmp(aud, client_id) == 0;
    } else {
        for (int i = 0; i < MAX_AUDIENCES && !aud_ok; i++) {
            const char *path = host->format(ctx, "aud.%d", i);
            const char *one = path != NULL ? host->json_get(ctx, *claims, path) : NULL;
            if (one == NULL)
                break;
            aud_ok = strcmp(one, client_id) == 0;
        }
    }
    if (!aud_ok) {
        host->log_msg(ctx, LOG_WARN, "id_token's aud does not contain this connector's clientId");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    azp = host->json_get(ctx, *claims, "azp");
    if (azp != NULL && strcmp(azp, client_id) != 0) {
        host->log_msg(ctx, LOG_WARN, "id_token's azp is another client than this clientId");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }

    exp = host->json_get(ctx, *claims, "exp");
    errno = 0;
    exp_value = exp != NULL ? strtod(exp, &end) : 0;
    if (exp == NULL || end == exp || *end != '\0' || errno != 0) {
        host->log_msg(ctx, LOG_WARN, "id_token has no numeric exp claim");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    if (exp_value + CLOCK_SKEW_SECONDS <= (double)time(NULL)) {
        host->log_msg(ctx, LOG_WARN, "id_token has expired (exp %.0f)", exp_value);
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }

    if (nonempty(nonce)) {
        got_nonce = host->json_get(ctx, *claims, "nonce");
        if (got_nonce == NULL) {
            host->log_msg(ctx, LOG_WARN,
                          "id_token has no nonce claim, though the sign-in sent one");
            return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
        }
        if (strcmp(got_nonce, nonce) != 0) {
            host->log_msg(ctx, LOG_WARN, "id_token's nonce is not this sign-in's");
            return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
        }
    }
    return LATCH_CONNECTOR_OK;
}

/* GET the userinfo endpoint with the bearer token; *profile gets the JSON body. */
static int read_userinfo(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const char *userinfo_endpoint, const char *access_token,
                         const char **profile)
{
    const char *authorization = host->format(ctx, "Bearer %s", access_token);
    int rc;

    if (authorization == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    const struct latch_connector_http_header headers[] = {
        {"Authorization", authorization},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = LATCH_CONNECTOR_HTTP_REQUEST_INIT;
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;
    req.method = "GET";
    req.url = userinfo_endpoint;
    req.headers = headers;
    req.nheaders = 2;
    req.timeout_ms = USERINFO_TIMEOUT_MS;

    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK) {
        host->log_msg(ctx, LOG_WARN, "userinfo request failed before an answer (%d)", rc);
        return http_failure(rc);
    }
    if (resp.status == 401) {
        host->log_msg(ctx, LOG_WARN, "userinfo refused the access token (HTTP 401)");
        return LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID;
    }
    if (resp.status < 200 || resp.status > 299) {
        host->log_msg(ctx, LOG_WARN, "userinfo answered HTTP %d", resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (!json_object_text(resp.body)) {
        host->log_msg(ctx, LOG_WARN,
                      "userinfo answer is not a JSON object (signed or encrypted "
                      "userinfo responses are not supported)");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    *profile = resp.body;
    return LATCH_CONNECTOR_OK;
}

/* Fills out from the profile JSON with profileMap. */
static int map_profile(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                       const char *profile, struct latch_connector_user_info *out)
{
    struct profile_map map;
    const char *why = NULL;
    const char *verified;

    if (!parse_profile_map(ctx, host, host->config_get(ctx, "profileMap"), &map, &why)) {
        host->log_msg(ctx, LOG_ERROR, "%s", why != NULL ? why : "profileMap is not valid");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    out->id = host->json_get(ctx, profile, map.path[MAP_ID]);
    if (!nonempty(out->id)) {
        host->log_msg(ctx, LOG_WARN,
                      "the profile has no value at \"%.200s\" (profileMap.id) or is not JSON",
                      map.path[MAP_ID]);
        out->id = NULL;
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    out->name = host->json_get(ctx, profile, map.path[MAP_NAME]);
    out->email = host->json_get(ctx, profile, map.path[MAP_EMAIL]);
    out->phone = host->json_get(ctx, profile, map.path[MAP_PHONE]);
    out->avatar = host->json_get(ctx, profile, map.path[MAP_AVATAR]);
    verified = host->json_get(ctx, profile, map.path[MAP_EMAIL_VERIFIED]);
    out->email_verified = verified != NULL && strcmp(verified, "true") == 0;
    /* The whole profile, so nothing the mapping leaves out is lost. */
    out->raw_json = host->dup(ctx, profile);
    return out->raw_json != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static int oidc_get_user_info(struct latch_connector_ctx *ctx,
                              const struct latch_connector_host *host,
                              const struct latch_connector_param *params, size_t nparams,
                              struct latch_connector_user_info *out)
{
    const char *code, *error, *redirect_uri, *client_id;
    const char *claims = NULL, *profile = NULL;
    struct token_set tokens = {NULL, NULL};
    struct endpoints ep;
    int rc;

    if (out == NULL || !host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    error = param(params, nparams, "error");
    code = param(params, nparams, "code");
    if (error != NULL || !nonempty(code)) {
        /* Denied consent comes back as error=access_denied and no code (RFC 6749 §4.1.2.1). */
        host->log_msg(ctx, LOG_INFO, "authorization failed: %.64s",
                      error != NULL ? error : "no code in the callback");
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    }
    redirect_uri = host->session_get(ctx, SESSION_REDIRECT_URI);
    if (!nonempty(redirect_uri)) {
        host->log_msg(ctx, LOG_ERROR, "Cannot find `redirectUri` from connector session.");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    client_id = host->config_get(ctx, "clientId");
    if (!nonempty(client_id)) {
        host->log_msg(ctx, LOG_ERROR, "clientId is not configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }

    /* The endpoints this sign-in started with; resolved anew for a session that lacks them. */
    memset(&ep, 0, sizeof(ep));
    ep.token = host->session_get(ctx, SESSION_TOKEN_EP);
    if (nonempty(ep.token)) {
        ep.userinfo = host->session_get(ctx, SESSION_USERINFO_EP);
        ep.issuer = host->session_get(ctx, SESSION_ISSUER);
    } else if ((rc = resolve_endpoints(ctx, host, &ep)) != LATCH_CONNECTOR_OK) {
        return rc;
    }

    rc = exchange_code(ctx, host, ep.token, code, redirect_uri, &tokens);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;
    if (tokens.id_token != NULL) {
        rc = check_id_token(ctx, host, tokens.id_token, client_id, ep.issuer,
                            host->session_get(ctx, SESSION_NONCE), &claims);
        if (rc != LATCH_CONNECTOR_OK)
            return rc;
    }
    if (nonempty(ep.userinfo)) {
        rc = read_userinfo(ctx, host, ep.userinfo, tokens.access_token, &profile);
        if (rc != LATCH_CONNECTOR_OK)
            return rc;
        /* OIDC Core §5.3.2: userinfo's sub must be the id_token's. */
        if (claims != NULL) {
            const char *sub = host->json_get(ctx, claims, "sub");
            const char *info_sub = host->json_get(ctx, profile, "sub");
            if (sub != NULL && info_sub != NULL && strcmp(sub, info_sub) != 0) {
                host->log_msg(ctx, LOG_WARN, "userinfo's sub is not the id_token's sub");
                return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
            }
        }
    } else if (claims != NULL) {
        profile = claims;
    } else {
        host->log_msg(ctx, LOG_WARN,
                      "no userinfo endpoint and no id_token in the token response: nothing to "
                      "read the profile from (add openid to the scope, or set userInfoEndpoint)");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    return map_profile(ctx, host, profile, out);
}

/* ---- the descriptor ---- */

#define I18N_END                                                                                   \
    {                                                                                              \
        NULL, NULL                                                                                 \
    }

static const struct latch_connector_i18n oidc_name[] = {
    {"en", "OpenID Connect"},
    {"es", "OpenID Connect"},
    I18N_END,
};

static const struct latch_connector_i18n oidc_description[] = {
    {"en", "Sign in with any OpenID Connect or OAuth 2.0 provider (authorization code flow, "
           "PKCE, discovery). Add one instance per provider, each with its own target, name "
           "and logo."},
    {"es", "Inicia sesión con cualquier proveedor OpenID Connect u OAuth 2.0 (flujo de código "
           "de autorización, PKCE, descubrimiento). Añade una instancia por proveedor, cada una "
           "con su propio target, nombre y logotipo."},
    I18N_END,
};

static const struct latch_connector_i18n label_issuer[] = {
    {"en", "Issuer"}, {"es", "Emisor (issuer)"}, I18N_END};
static const struct latch_connector_i18n desc_issuer[] = {
    {"en", "The provider's issuer URL, e.g. https://accounts.example.com. When set, the "
           "endpoints are read from <issuer>/.well-known/openid-configuration and the "
           "id_token's iss is checked against it."},
    {"es", "La URL del emisor del proveedor, p. ej. https://accounts.example.com. Si se indica, "
           "los endpoints se leen de <issuer>/.well-known/openid-configuration y el iss del "
           "id_token se compara con ella."},
    I18N_END};
static const struct latch_connector_i18n label_authorization[] = {
    {"en", "Authorization endpoint"}, {"es", "Endpoint de autorización"}, I18N_END};
static const struct latch_connector_i18n label_token[] = {
    {"en", "Token endpoint"}, {"es", "Endpoint de token"}, I18N_END};
static const struct latch_connector_i18n label_userinfo[] = {
    {"en", "Userinfo endpoint"}, {"es", "Endpoint de userinfo"}, I18N_END};
static const struct latch_connector_i18n desc_endpoint[] = {
    {"en", "Optional when issuer is set (a value here wins over the discovered one); required "
           "otherwise."},
    {"es", "Opcional si se indica el emisor (este valor prevalece sobre el descubierto); "
           "obligatorio en otro caso."},
    I18N_END};
static const struct latch_connector_i18n label_client_id[] = {
    {"en", "Client ID"}, {"es", "ID de cliente"}, I18N_END};
static const struct latch_connector_i18n label_client_secret[] = {
    {"en", "Client Secret"}, {"es", "Secreto de cliente"}, I18N_END};
static const struct latch_connector_i18n desc_client_secret[] = {
    {"en", "Leave empty for a public client (PKCE is then required)."},
    {"es", "Déjalo vacío para un cliente público (entonces PKCE es obligatorio)."},
    I18N_END};
static const struct latch_connector_i18n label_scope[] = {
    {"en", "Scope"}, {"es", "Ámbito"}, I18N_END};
static const struct latch_connector_i18n desc_scope[] = {
    {"en", "Space-separated scopes; include openid to receive an id_token."},
    {"es", "Ámbitos separados por espacios; incluye openid para recibir un id_token."},
    I18N_END};
static const struct latch_connector_i18n label_auth_method[] = {
    {"en", "Token endpoint auth method"},
    {"es", "Método de autenticación en el endpoint de token"},
    I18N_END};
static const struct latch_connector_i18n desc_auth_method[] = {
    {"en", "client_secret_basic (HTTP Basic, the default) or client_secret_post (in the form)."},
    {"es", "client_secret_basic (HTTP Basic, por defecto) o client_secret_post (en el "
           "formulario)."},
    I18N_END};
static const struct latch_connector_i18n label_pkce[] = {
    {"en", "PKCE (S256)"}, {"es", "PKCE (S256)"}, I18N_END};
static const struct latch_connector_i18n label_profile_map[] = {
    {"en", "Profile map"}, {"es", "Mapa de perfil"}, I18N_END};
static const struct latch_connector_i18n desc_profile_map[] = {
    {"en", "Where each profile value is in the userinfo answer (or the id_token's claims): keys "
           "id, name, email, phone, avatar, emailVerified; values are dotted paths such as "
           "data.user.id or emails.0.value."},
    {"es", "Dónde está cada dato del perfil en la respuesta de userinfo (o en los claims del "
           "id_token): claves id, name, email, phone, avatar, emailVerified; los valores son "
           "rutas con puntos como data.user.id o emails.0.value."},
    I18N_END};

#define FIELD(k, t, req, conf, def, lab, desc)                                                     \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_field), .key = (k), .type = (t),              \
        .required = (req), .confidential = (conf), .default_value = (def), .label = (lab),         \
        .description = (desc),                                                                     \
    }

static const struct latch_connector_field oidc_fields[] = {
    FIELD("issuer", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, NULL, label_issuer, desc_issuer),
    FIELD("authorizationEndpoint", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, NULL, label_authorization,
          desc_endpoint),
    FIELD("tokenEndpoint", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, NULL, label_token, desc_endpoint),
    FIELD("userInfoEndpoint", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, NULL, label_userinfo,
          desc_endpoint),
    FIELD("clientId", LATCH_CONNECTOR_FIELD_TEXT, 1, 0, NULL, label_client_id, NULL),
    FIELD("clientSecret", LATCH_CONNECTOR_FIELD_TEXT, 0, 1, NULL, label_client_secret,
          desc_client_secret),
    FIELD("scope", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, DEFAULT_SCOPE, label_scope, desc_scope),
    FIELD("tokenEndpointAuthMethod", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, AUTH_METHOD_BASIC,
          label_auth_method, desc_auth_method),
    FIELD("pkce", LATCH_CONNECTOR_FIELD_SWITCH, 0, 0, "true", label_pkce, NULL),
    FIELD("profileMap", LATCH_CONNECTOR_FIELD_JSON, 0, 0, DEFAULT_PROFILE_MAP, label_profile_map,
          desc_profile_map),
};

static const struct latch_connector_ops oidc_ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .get_authorization_uri = oidc_get_authorization_uri,
    .get_user_info = oidc_get_user_info,
    .validate_config = oidc_validate_config,
};

static const struct latch_connector_descriptor oidc_descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = LATCH_CONNECTOR_SOCIAL,
    .flags = LATCH_CONNECTOR_FLAG_STANDARD,
    .id = "oidc",
    .target = "oidc",
    .version = "1.1.0",
    .name = oidc_name,
    .description = oidc_description,
    .logo = OIDC_LOGO_SVG,
    .logo_dark = NULL,
    .readme = OIDC_README_MD,
    .config_template = "{\"issuer\": \"https://accounts.example.com\", \"clientId\": "
                       "\"<client-id>\", \"clientSecret\": \"<client-secret>\", \"scope\": "
                       "\"openid profile email\"}",
    .fields = oidc_fields,
    .nfields = sizeof(oidc_fields) / sizeof(oidc_fields[0]),
    .ops = &oidc_ops,
};

LATCH_CONNECTOR_DEFINE(oidc_descriptor)
