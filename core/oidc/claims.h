/*
 * Scopes → claims, as Logto's core-kit (openid.ts): which user claims a token or the userinfo
 * answer carries for the granted scopes. Pure functions; any thread.
 */
#ifndef LATCH_OIDC_CLAIMS_H
#define LATCH_OIDC_CLAIMS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/json.h"

/* What the claims are made from: one users row (text as PostgreSQL returns it; NULL or "" when
 * the column is NULL; JSON columns as JSON text). */
struct latch_claims_user {
    const char *id;
    const char *username;
    const char *primary_email;
    const char *primary_phone;
    const char *name;
    const char *avatar;
    const char *profile;            /* jsonb: OIDC standard claims (given_name, …, address) */
    const char *custom_data;        /* jsonb */
    const char *identities;         /* jsonb */
    const char *roles;              /* JSON array of the user's role names */
    const char *organizations;      /* JSON array of the ids of the user's organizations */
    const char *organization_data;  /* JSON array of {id, name, description} */
    const char *organization_roles; /* JSON array of "<organizationId>:<roleName>" */
    int64_t created_at;             /* unix ms */
    int64_t updated_at;             /* unix seconds */
};

enum latch_claims_for {
    LATCH_CLAIMS_ID_TOKEN, /* standard claims, roles, organizations and organization_roles
                            * (Logto's default enabled extended claims) */
    LATCH_CLAIMS_USERINFO, /* every claim of every granted scope */
};

/* Whether the space-separated scope list contains name. */
bool latch_scope_has(const char *scope, const char *name);

/* Writes the claims of the granted scopes as members of the JSON object being built in j
 * (after "sub" and whatever else the caller wrote). */
void latch_claims_write(struct latch_json *j, const struct latch_claims_user *u, const char *scope,
                        enum latch_claims_for target);

/* Logto's organization scopes: claims `organizations` (+ `organization_data` in userinfo), and
 * `organization_roles`; the first also lets a refresh token ask for organization tokens. */
#define LATCH_SCOPE_ORGANIZATIONS      "urn:logto:scope:organizations"
#define LATCH_SCOPE_ORGANIZATION_ROLES "urn:logto:scope:organization_roles"

/* The scopes Latch knows for people ("openid offline_access profile email phone address
 * custom_data identities roles" and the two organization scopes), for discovery. */
extern const char *const latch_user_scopes[];
#endif
