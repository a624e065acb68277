/*
 * The per-loop cache of OAuth clients (applications) as the token endpoint needs them: type,
 * secret hashes with expiry, and the (resource indicator, scope) pairs granted through the
 * application's roles. Entries carry their tenant's epoch (tenants/cache.h) and are reloaded
 * after any change to that tenant; unknown client ids are cached too, so guessing ids costs the
 * database nothing more.
 */
#ifndef LATCH_OIDC_CLIENTS_H
#define LATCH_OIDC_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http/http.h"
#include "jose/secret.h"

struct latch_client_secret {
    uint8_t hash[LATCH_SECRET_HASH_LEN];
    int64_t expires_at; /* unix seconds, 0 = never */
};

struct latch_client_scope {
    char *indicator;
    char *name;
};

struct latch_client {
    int refs;
    uint64_t epoch;
    bool exists;
    char tenant[32];
    char id[32];
    char type[32];
    char *name;
    /* oidcClientMetadata and customClientMetadata, as the token and authorization endpoints
     * need them */
    char **redirect_uris;
    int nredirect_uris;
    char **post_logout_uris;
    int npost_logout_uris;
    char **cors_origins;
    int ncors_origins;
    long id_token_ttl;         /* seconds, default 3600 */
    long refresh_token_ttl;    /* seconds, default 14 days */
    long access_token_ttl;     /* seconds for tokens without a resource, default 3600 */
    bool rotate_refresh_token; /* default true */
    bool always_issue_refresh_token;
    bool is_public; /* SPA and Native: no secret, PKCE required */
    struct latch_client_secret *secrets;
    int nsecrets;
    struct latch_client_scope *scopes;
    int nscopes;
};

typedef void (*latch_client_cb)(struct latch_client *client, const struct latch_error *err,
                                void *arg);

/* Gets the client (exists=false when unknown); cb owns one reference. Loop thread. */
void latch_client_get(struct latch_loop *loop, const char *tenant_id, const char *client_id,
                      latch_client_cb cb, void *arg);
void latch_client_unref(struct latch_client *client);

/* Exact match (RFC 6749 §3.1.2.3, OAuth 2.1): no normalization, no prefix, no wildcard. */
bool latch_client_redirect_uri_ok(const struct latch_client *client, const char *uri);
bool latch_client_post_logout_uri_ok(const struct latch_client *client, const char *uri);
/* Whether origin may call the CORS endpoints: corsAllowedOrigins plus redirect-URI origins. */
bool latch_client_origin_ok(const struct latch_client *client, const char *origin);

/* Whether secret matches one of the client's unexpired secrets (constant time per secret). */
bool latch_client_check_secret(const struct latch_client *client, const char *secret, time_t now);

#endif
