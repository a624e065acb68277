/* Blocking tenant set-up; see bootstrap.h. */
#include "tenants/bootstrap.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin.h"
#include "tenants/cache.h"
#include "tenants/keys.h"
#include "util/hex.h"

static latch_rc two_keys(const struct latch_config *cfg, const char *tenant_id,
                         const char *algorithm, struct latch_prepared_key *a,
                         struct latch_prepared_key *b, struct latch_error *err)
{
    if (latch_keys_prepare(latch_tenant_seal_key(), tenant_id, algorithm, a, err) != LATCH_OK)
        return LATCH_FAIL;
    if (latch_keys_prepare(latch_tenant_seal_key(), tenant_id, algorithm, b, err) != LATCH_OK) {
        latch_prepared_key_clear(a);
        return LATCH_FAIL;
    }
    return LATCH_OK;
}

latch_rc latch_bootstrap_tenant(const struct latch_config *cfg, const char *tenant_id,
                                struct latch_error *err)
{
    struct latch_prepared_key cur, nxt;
    char *endpoint = latch_tenant_endpoint(cfg, tenant_id);
    if (endpoint == NULL)
        return latch_error_set(err, 500, "server_error", "out of memory");
    char indicator[1100];
    snprintf(indicator, sizeof(indicator), "%s/api", endpoint);
    free(endpoint);
    if (two_keys(cfg, tenant_id, LATCH_KEYS_DEFAULT_ALGORITHM, &cur, &nxt, err) != LATCH_OK)
        return LATCH_FAIL;
    struct latch_admin_op ops[2] = {
        {.sql = "SELECT latch_bootstrap_tenant($1, $2)",
         .nparams = 2,
         .params = {tenant_id, indicator}},
        {.sql = latch_keys_init_stmt.sql,
         .nparams = 9,
         .params = {tenant_id, cur.kid, cur.algorithm, cur.sealed_hex, cur.jwk, nxt.kid,
                    nxt.algorithm, nxt.sealed_hex, nxt.jwk}},
    };
    latch_rc rc = latch_store_admin_run(cfg->database_url, tenant_id, ops, 2, NULL, 0, err);
    latch_prepared_key_clear(&cur);
    latch_prepared_key_clear(&nxt);
    return rc;
}

latch_rc latch_bootstrap_rotate_keys(const struct latch_config *cfg, const char *tenant_id,
                                     const char *algorithm, long grace_seconds,
                                     struct latch_error *err)
{
    struct latch_prepared_key cur, nxt;
    char grace[32];
    if (latch_bootstrap_tenant(cfg, tenant_id, err) != LATCH_OK)
        return LATCH_FAIL;
    if (two_keys(cfg, tenant_id, algorithm, &cur, &nxt, err) != LATCH_OK)
        return LATCH_FAIL;
    snprintf(grace, sizeof(grace), "%ld", grace_seconds);
    struct latch_admin_op op = {.sql = latch_keys_rotate_stmt.sql,
                                .nparams = latch_keys_rotate_stmt.nparams,
                                .params = {tenant_id, grace, LATCH_KEYS_MAX_TEXT, cur.kid,
                                           cur.algorithm, cur.sealed_hex, cur.jwk, nxt.kid,
                                           nxt.algorithm, nxt.sealed_hex, nxt.jwk}};
    latch_rc rc = latch_store_admin_run(cfg->database_url, tenant_id, &op, 1, NULL, 0, err);
    if (rc != LATCH_OK && latch_keys_limit_reached(err)) {
        /* Keep the database's DETAIL line (how many keys, when the first grace period ends). */
        char db[sizeof(err->detail)];
        snprintf(db, sizeof(db), "%s", err->detail);
        (void)latch_keys_limit_error(err);
        const char *d = strstr(db, "DETAIL:");
        if (d != NULL) {
            d += strlen("DETAIL:");
            d += strspn(d, " ");
            latch_error_detail(err, "%.*s", (int)strcspn(d, "\n"), d);
        }
    }
    latch_prepared_key_clear(&cur);
    latch_prepared_key_clear(&nxt);
    return rc;
}

latch_rc latch_bootstrap_app(const struct latch_config *cfg, const char *tenant_id, const char *id,
                             const char *secret, const char *type, const char *name,
                             bool management, bool upsert, char *id_out, char *secret_out,
                             size_t secret_cap, struct latch_error *err)
{
    char new_id[22], new_secret[LATCH_CLIENT_SECRET_LEN + 1];
    uint8_t hash[LATCH_SECRET_HASH_LEN];
    char hash_hex[2 * LATCH_SECRET_HASH_LEN + 3];
    char hint[8];
    if (latch_bootstrap_tenant(cfg, tenant_id, err) != LATCH_OK)
        return LATCH_FAIL;
    if (id == NULL) {
        if (latch_jose_random_id(new_id, 21) != LATCH_OK)
            return latch_error_set(err, 500, "server_error", "no randomness");
        id = new_id;
    }
    if (secret == NULL) {
        if (latch_jose_client_secret_new(new_secret) != LATCH_OK)
            return latch_error_set(err, 500, "server_error", "no randomness");
        secret = new_secret;
    }
    if (strlen(secret) + 1 > secret_cap || strlen(id) > 21)
        return latch_error_set(err, 400, "invalid", "id or secret too long");
    if (latch_jose_client_secret_hash(latch_tenant_secret_hash_key(), secret, strlen(secret),
                                      hash) != LATCH_OK)
        return latch_error_set(err, 500, "server_error", "cannot hash the secret");
    hash_hex[0] = '\\';
    hash_hex[1] = 'x';
    (void)latch_hex_encode(hash, sizeof(hash), hash_hex + 2, sizeof(hash_hex) - 2); /* sized */
    snprintf(hint, sizeof(hint), "%.4s", secret);

    const char *conflict =
        upsert ? " ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name" : "";
    char app_sql[512];
    snprintf(app_sql, sizeof(app_sql),
             "INSERT INTO applications (tenant_id, id, name, type) VALUES ($1, $2, $3, $4)%s",
             conflict);
    struct latch_admin_op ops[3] = {
        {.sql = app_sql, .nparams = 4, .params = {tenant_id, id, name, type}},
        {.sql = "INSERT INTO application_secrets (tenant_id, application_id, name, secret_hash, "
                "secret_hint) VALUES ($1, $2, $3, $4::bytea, $5) "
                "ON CONFLICT (tenant_id, application_id, name) DO UPDATE "
                "SET secret_hash = EXCLUDED.secret_hash, secret_hint = EXCLUDED.secret_hint",
         .nparams = 5,
         .params = {tenant_id, id, upsert ? "Bootstrap secret" : "Default secret", hash_hex, hint}},
        {.sql = "INSERT INTO applications_roles (tenant_id, application_id, role_id) "
                "SELECT $1, $2, 'management-api-access' WHERE $3 = 'true' "
                "ON CONFLICT DO NOTHING",
         .nparams = 3,
         .params = {tenant_id, id, management ? "true" : "false"}},
    };
    latch_rc rc = latch_store_admin_run(cfg->database_url, tenant_id, ops, 3, NULL, 0, err);
    if (rc == LATCH_OK) {
        snprintf(id_out, 22, "%s", id);
        snprintf(secret_out, secret_cap, "%s", secret);
    }
    OPENSSL_cleanse(new_secret, sizeof(new_secret));
    return rc;
}

latch_rc latch_bootstrap_admin(const struct latch_config *cfg, const char *tenant_id,
                               const char *username, const char *email, int valid_hours,
                               char user_id_out[LATCH_USERS_ID_LEN + 1], char *link_out,
                               size_t link_cap, bool *created, struct latch_error *err)
{
    char new_id[LATCH_USERS_ID_LEN + 1], token[LATCH_CLIENT_SECRET_LEN + 1];
    char hash[LATCH_TOKEN_HASH_TEXT], hours[16], out[64];
    latch_rc rc = LATCH_FAIL;
    char *endpoint = NULL;
    if (latch_bootstrap_tenant(cfg, tenant_id, err) != LATCH_OK)
        return LATCH_FAIL;
    if (latch_users_new_id(new_id) != LATCH_OK || latch_jose_token_new(token) != LATCH_OK ||
        latch_jose_token_hash(token, hash) != LATCH_OK) {
        latch_error_set(err, 500, "server_error", "no randomness");
        goto done;
    }
    endpoint = latch_tenant_endpoint(cfg, tenant_id);
    if (endpoint == NULL) {
        latch_error_set(err, 500, "server_error", "out of memory");
        goto done;
    }
    snprintf(hours, sizeof(hours), "%d", valid_hours);
    /* An existing user with that username or email becomes an administrator (and gets a new
     * link): how an operator who lost a link, or wants a second administrator, gets one. */
#define WHO                                                                                        \
    "tenant_id = $1::text AND (lower(username) = lower($2::text)"                                  \
    " OR lower(primary_email) = lower($3::text))"
    /* ...when exactly one user matches (not one by username and another by email). */
#define ONE "(SELECT count(*) FROM users WHERE " WHO ") = 1"
    struct latch_admin_op ops[3] = {
        {.sql = "INSERT INTO users (tenant_id, id, username, primary_email)"
                " SELECT $1::text, $4::text, $2::text, $3::text"
                " WHERE NOT EXISTS (SELECT 1 FROM users WHERE " WHO ")",
         .nparams = 4,
         .params = {tenant_id, username, email, new_id}},
        {.sql = "INSERT INTO users_roles (tenant_id, user_id, role_id)"
                " SELECT $1::text, id, 'console-admin' FROM users WHERE " WHO " AND " ONE
                " ON CONFLICT DO NOTHING",
         .nparams = 3,
         .params = {tenant_id, username, email}},
        {.sql = "INSERT INTO password_links (tenant_id, token_hash, user_id, expires_at)"
                " SELECT $1::text, $4::bytea, id, now() + make_interval(hours => $5::int)"
                " FROM users WHERE " WHO " AND " ONE " RETURNING user_id",
         .nparams = 5,
         .params = {tenant_id, username, email, hash, hours}},
    };
#undef WHO
#undef ONE
    if (latch_store_admin_run(cfg->database_url, tenant_id, ops, 3, out, sizeof(out), err) !=
        LATCH_OK)
        goto done;
    if (strlen(out) != LATCH_USERS_ID_LEN) {
        /* Two users matched: no single administrator. */
        latch_error_set(err, 409, "ambiguous", "the username and the email name different users");
        goto done;
    }
    snprintf(user_id_out, LATCH_USERS_ID_LEN + 1, "%s", out);
    *created = strcmp(out, new_id) == 0;
    /* The token travels in the fragment: browsers never send it, so no access log holds it. */
    if ((size_t)snprintf(link_out, link_cap, "%s/console/set-password#token=%s", endpoint, token) >=
        link_cap) {
        latch_error_set(err, 500, "server_error", "link too long");
        goto done;
    }
    rc = LATCH_OK;
done:
    OPENSSL_cleanse(token, sizeof(token));
    free(endpoint);
    return rc;
}
