/*
 * Blocking set-up operations shared by latchctl and latchd's start-up: a tenant's Management
 * API resource and first signing keys, key rotation, and machine-to-machine applications.
 * Never call them from a loop thread.
 */
#ifndef LATCH_TENANTS_BOOTSTRAP_H
#define LATCH_TENANTS_BOOTSTRAP_H

#include <stdbool.h>

#include "config/config.h"
#include "jose/secret.h"
#include "users/users.h"
#include "util/error.h"

/* Makes sure tenant_id has its Management API resource, scope `all`, role, and keys. */
latch_rc latch_bootstrap_tenant(const struct latch_config *cfg, const char *tenant_id,
                                struct latch_error *err) LATCH_MUST_CHECK;

/* Rotates the tenant's signing keys (latch_rotate_keys, schema/0006); a rotation over
 * LATCH_KEYS_MAX keys is refused with 422 oidc.key_limit naming the limit. */
latch_rc latch_bootstrap_rotate_keys(const struct latch_config *cfg, const char *tenant_id,
                                     const char *algorithm, long grace_seconds,
                                     struct latch_error *err) LATCH_MUST_CHECK;

/*
 * Creates (or, with upsert, makes sure of) an application. id NULL: a new random id; secret
 * NULL: a new random secret. management: grants the Management API role. id_out (22 bytes) and
 * secret_out (at least LATCH_CLIENT_SECRET_LEN + 1, or the given secret's length + 1) get the
 * values.
 */
latch_rc latch_bootstrap_app(const struct latch_config *cfg, const char *tenant_id, const char *id,
                             const char *secret, const char *type, const char *name,
                             bool management, bool upsert, char *id_out, char *secret_out,
                             size_t secret_cap, struct latch_error *err) LATCH_MUST_CHECK;

/*
 * Makes the tenant's user with this username or email (either may be NULL, not both) an
 * administrator of the console (role console-admin), creating the user when there is none, and
 * stores a one-time link to set the password, valid for valid_hours: link_out gets
 * "<tenant endpoint>/console/set-password#token=<token>" (only the token's hash is stored).
 * *created says whether the user is new. 409 when the username and the email name two users.
 */
latch_rc latch_bootstrap_admin(const struct latch_config *cfg, const char *tenant_id,
                               const char *username, const char *email, int valid_hours,
                               char user_id_out[LATCH_USERS_ID_LEN + 1], char *link_out,
                               size_t link_cap, bool *created,
                               struct latch_error *err) LATCH_MUST_CHECK;

#endif
