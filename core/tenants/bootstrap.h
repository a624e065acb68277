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

#endif
