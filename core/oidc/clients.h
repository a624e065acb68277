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

/* Whether secret matches one of the client's unexpired secrets (constant time per secret). */
bool latch_client_check_secret(const struct latch_client *client, const char *secret, time_t now);

#endif
