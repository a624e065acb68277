/* What the files of oidc/ share. */
#ifndef LATCH_OIDC_OIDC_INTERNAL_H
#define LATCH_OIDC_OIDC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/form.h"
#include "oidc/clients.h"
#include "oidc/oidc.h"
#include "tenants/cache.h"

#define LATCH_SESSION_TTL     (14L * 86400)
#define LATCH_INTERACTION_TTL 3600
#define LATCH_CODE_TTL        60

void latch_oidc_discovery(struct latch_request *req, void *arg);
void latch_oidc_token(struct latch_request *req, void *arg);
void latch_oidc_authorize(struct latch_request *req, void *arg);
void latch_oidc_resume(struct latch_request *req, void *arg);
void latch_oidc_userinfo(struct latch_request *req, void *arg);
void latch_oidc_preflight(struct latch_request *req, void *arg);
void latch_oidc_end_session(struct latch_request *req, void *arg);
void latch_oidc_revocation(struct latch_request *req, void *arg);
void latch_oidc_introspection(struct latch_request *req, void *arg);

/* Percent-encodes s for a query component into the request arena. */
char *latch_oidc_urlencode(struct latch_request *req, const char *s);

/* Answers 400 with a small HTML page (for errors that must not redirect). */
void latch_oidc_error_page(struct latch_request *req, int status, const char *title,
                           const char *message);

/* Parses the request's parameters: the query for GET, the form body for POST (which must be
 * application/x-www-form-urlencoded). Answers invalid_request itself and returns false. */
bool latch_oidc_params(struct latch_request *req, struct latch_form *form, bool page_errors);

/* The grant a token request resolved to, with the client already authenticated. */
struct latch_token_request {
    struct latch_request *req;
    struct latch_form form;
    struct latch_tenant_state *state;
    struct latch_client *client;
};

/* Authenticates the client of a token-endpoint style request (basic, post, or none for public
 * clients), then calls done with the client (a reference the callee releases) or answers
 * invalid_client itself. */
typedef void (*latch_oidc_client_cb)(struct latch_token_request *tr);
void latch_oidc_authenticate(struct latch_request *req, bool allow_public,
                             latch_oidc_client_cb done);

/* Grants (grants.c). */
void latch_oidc_grant_authorization_code(struct latch_token_request *tr);
void latch_oidc_grant_refresh_token(struct latch_token_request *tr);

/* Issues the code for an authorized request and redirects the browser with it (authorize.c). */
struct latch_code_request {
    const char *client_id;
    const char *redirect_uri;
    const char *scope;
    const char *resource;
    const char *nonce;
    const char *code_challenge;
    const char *code_challenge_method;
    const char *state;
    const char *user_id;
    const char *sid;
    const char *auth_time; /* PostgreSQL timestamptz text */
    const char *amr;       /* RFC 8176 methods, space-separated; NULL or "" for none */
};

/* Whether the SQL scope list `scope` (space-separated text) holds the scope `name`. */
#define LATCH_SQL_SCOPE_HAS(scope, name) "strpos(' ' || " scope " || ' ', ' " name " ') > 0"

/* The users columns the claims are made from (see read_user in grants.c). $3 is the resource
 * indicator whose scopes the user's roles hold (NULL: none). `scope` is SQL for the scope list of
 * the grant: columns 14 (organizations) and 16 (organization_roles) are read only when it holds
 * their scope, NULL otherwise. Column 15 is `org_data`: ORGANIZATION_DATA_SQL for userinfo, "NULL"
 * for tokens (the ID token has no organization_data claim). */
#define USER_COLUMNS_FOR(scope, org_data)                                                          \
    "u.id, u.username, u.primary_email, u.primary_phone, u.name, u.avatar, u.profile::text, "      \
    "u.custom_data::text, u.identities::text, (extract(epoch FROM u.created_at) * 1000)::bigint, " \
    "extract(epoch FROM u.updated_at)::bigint, u.is_suspended, "                                   \
    "(SELECT coalesce(json_agg(DISTINCT ro.name), '[]')::text FROM users_roles ur "                \
    "JOIN roles ro ON ro.tenant_id = ur.tenant_id AND ro.id = ur.role_id "                         \
    "WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id), "                                    \
    "(SELECT string_agg(DISTINCT s.name, ' ') FROM users_roles ur "                                \
    "JOIN roles_scopes rs ON rs.tenant_id = ur.tenant_id AND rs.role_id = ur.role_id "             \
    "JOIN scopes s ON s.tenant_id = rs.tenant_id AND s.id = rs.scope_id "                          \
    "JOIN resources r ON r.tenant_id = s.tenant_id AND r.id = s.resource_id "                      \
    "WHERE ur.tenant_id = u.tenant_id AND ur.user_id = u.id AND r.indicator = $3), "               \
    "CASE WHEN " LATCH_SQL_SCOPE_HAS(                                                              \
        scope,                                                                                     \
        LATCH_SCOPE_ORGANIZATIONS) " THEN "                                                        \
                                   "(SELECT coalesce(json_agg(m.organization_id ORDER BY "         \
                                   "m.organization_id), '[]')::text "                              \
                                   "FROM organization_user_relations m WHERE m.tenant_id = "       \
                                   "u.tenant_id AND m.user_id = u.id) "                            \
                                   "END, " org_data ", "                                           \
                                   "CASE WHEN " LATCH_SQL_SCOPE_HAS(                               \
                                       scope,                                                      \
                                       LATCH_SCOPE_ORGANIZATION_ROLES) " THEN "                    \
                                                                       "(SELECT "                  \
                                                                       "coalesce(json_agg(x.v "    \
                                                                       "ORDER BY x.v), "           \
                                                                       "'[]')::text FROM (SELECT " \
                                                                       "ru.organization_id "       \
                                                                       "|| ':' || orr.name AS v "  \
                                                                       "FROM "                     \
                                                                       "organization_role_user_"   \
                                                                       "relations ru JOIN "        \
                                                                       "organization_roles "       \
                                                                       "orr ON orr.tenant_id = "   \
                                                                       "ru.tenant_id AND orr.id "  \
                                                                       "= "                        \
                                                                       "ru.organization_role_id "  \
                                                                       "WHERE ru.tenant_id = "     \
                                                                       "u.tenant_id AND "          \
                                                                       "ru.user_id = u.id) x) END"

/* Column 15 of USER_COLUMNS_FOR for userinfo: the organization_data claim. */
#define ORGANIZATION_DATA_SQL                                                                      \
    "(SELECT coalesce(json_agg(json_build_object('id', o.id, 'name', o.name, 'description', "      \
    "o.description) ORDER BY o.id), '[]')::text FROM organization_user_relations m "               \
    "JOIN organizations o ON o.tenant_id = m.tenant_id AND o.id = m.organization_id "              \
    "WHERE m.tenant_id = u.tenant_id AND m.user_id = u.id)"

/* What an organization member holds in organization `org`, as one column: the organization
 * scopes its roles grant (LATCH_OIDC_ORG_HELD) or the scopes of the API resource `res` they grant
 * (LATCH_OIDC_ORG_RESOURCE_HELD); space-separated, NULL when none. rel is the member's role
 * relation (organization_role_user_relations or organization_role_application_relations), col
 * its member column and who the member's id; org, res and who are SQL expressions. (Two macros,
 * not one CASE on whether res is NULL: a statement whose plan depends on a parameter that way is
 * planned anew at every execution.) */
#define LATCH_OIDC_ORG_HELD(rel, col, who, org)                                                    \
    "(SELECT string_agg(DISTINCT s.name, ' ') FROM " rel " x "                                     \
    "JOIN organization_role_scope_relations rs ON rs.tenant_id = x.tenant_id "                     \
    "AND rs.organization_role_id = x.organization_role_id "                                        \
    "JOIN organization_scopes s ON s.tenant_id = rs.tenant_id AND s.id = "                         \
    "rs.organization_scope_id "                                                                    \
    "WHERE x.tenant_id = $1 AND x.organization_id = " org " AND x." col " = " who ")"
#define LATCH_OIDC_ORG_RESOURCE_HELD(rel, col, who, org, res)                                      \
    "(SELECT string_agg(DISTINCT s.name, ' ') FROM " rel " x "                                     \
    "JOIN organization_role_resource_scope_relations rr ON rr.tenant_id = x.tenant_id "            \
    "AND rr.organization_role_id = x.organization_role_id "                                        \
    "JOIN scopes s ON s.tenant_id = rr.tenant_id AND s.id = rr.scope_id "                          \
    "JOIN resources r ON r.tenant_id = s.tenant_id AND r.id = s.resource_id "                      \
    "WHERE x.tenant_id = $1 AND x.organization_id = " org " AND x." col " = " who                  \
    " AND r.indicator = " res ")"

/* Logto's reserved resource indicator that SDKs send with the organizations scope. */
#define LATCH_RESOURCE_ORGANIZATIONS "urn:logto:resource:organizations"

/* The token request's `resource`, NULL when absent or when it is the reserved organizations
 * resource (organization tokens are asked for with organization_id). */
const char *latch_oidc_resource_param(const struct latch_form *form);

/* The audience of an organization token (Logto RFC 0001). */
#define LATCH_ORGANIZATION_URN "urn:logto:organization:"

/* Whether s is a well-formed organization id (what the Management API generates or accepts:
 * 1..21 characters of [0-9A-Za-z_-]); anything else names no organization. */
bool latch_oidc_organization_id_ok(const char *s);

/* What an access token (RFC 9068) says, for every grant: client_credentials (with or without an
 * organization), authorization_code and refresh_token. latch_oidc_access_token() alone turns it
 * into claims, so the grants cannot drift apart. Strings are borrowed. */
struct latch_oidc_access {
    const char *sub;             /* the user, or the client itself for client_credentials */
    const char *aud;             /* the resource indicator, organization URN or <issuer>/me */
    const char *scope;           /* the granted scopes, space-separated */
    long ttl;                    /* seconds from iat to exp */
    int64_t iat;                 /* issued at (the ID token issued with it shares it) */
    const char *organization_id; /* optional: an organization token (Logto RFC 0001) */
    const char *sid;             /* optional: the session the grant was made in */
    const char *grant_id;        /* optional: the grant, revoked when its code is reused */
};

/* Builds the access token's claims (jti, sub, iat, exp, scope, client_id, iss, aud, then the
 * optional ones) and signs them with the tenant's current key as an at+jwt. *token is a heap
 * string the caller frees. On failure err says what to answer (503 without a key or
 * randomness, 500 when signing fails, which is also logged). Loop thread. */
latch_rc latch_oidc_access_token(const struct latch_token_request *tr,
                                 const struct latch_oidc_access *at, char **token,
                                 struct latch_error *err) LATCH_MUST_CHECK;

/* Starts a token response: {"access_token","expires_in","token_type":"Bearer","scope"; the
 * caller adds its other members (id_token, refresh_token) and ends the object. */
struct latch_json;
void latch_oidc_token_body_begin(struct latch_json *j, const char *access_token, long ttl,
                                 const char *scope);

/* Signs a client_credentials access token and answers with it (token.c): aud, lifetime,
 * granted scopes, and the organization_id claim when organization_id is not NULL. Does not
 * release the request's references. */
void latch_oidc_machine_token(struct latch_token_request *tr, const char *aud, long ttl,
                              const char *scope, const char *organization_id);

/* The client_credentials grant with organization_id (organizations.c in oidc/): a token for an
 * organization the MachineToMachine application is a member of. Releases the references. */
void latch_oidc_grant_client_organization(struct latch_token_request *tr,
                                          const char *organization_id);

#endif
