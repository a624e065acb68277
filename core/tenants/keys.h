/*
 * Signing-key material for the database: generates a key for one of Logto's algorithm names
 * ("EC" = P-384/ES384, "EC-P256", "RSA", "Ed25519"), seals its PKCS#8 form with AES-256-GCM
 * bound to "<tenant>/<kid>", and renders the public JWK. Used by latchd (on the worker pool:
 * RSA generation takes a while) and by latchctl. Any thread.
 */
#ifndef LATCH_TENANTS_KEYS_H
#define LATCH_TENANTS_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "jose/jwk.h"
#include "store/store.h"
#include "util/error.h"

#define LATCH_KEYS_DEFAULT_ALGORITHM     "EC"
#define LATCH_KEYS_DEFAULT_GRACE_SECONDS 86400

struct latch_prepared_key {
    char kid[LATCH_JOSE_KID_MAX + 1];
    char algorithm[16];
    char *sealed_hex; /* "\x…" bytea text form; malloc'd */
    char *jwk;        /* public JWK JSON; malloc'd */
};

/* Maps a Logto algorithm name to the JWS algorithm; false when unknown. */
bool latch_keys_algorithm(const char *name, enum latch_jose_alg *alg);

latch_rc latch_keys_prepare(const uint8_t seal_key[32], const char *tenant_id,
                            const char *algorithm, struct latch_prepared_key *out,
                            struct latch_error *err) LATCH_MUST_CHECK;
void latch_prepared_key_clear(struct latch_prepared_key *key);

/* Opens a sealed key read back from the database (bytea text form "\x…"). */
latch_rc latch_keys_open(const uint8_t seal_key[32], const char *tenant_id, const char *kid,
                         const char *sealed_hex, struct latch_jose_key **out,
                         struct latch_error *err) LATCH_MUST_CHECK;

/* SELECT latch_init_keys($1, cur…, nxt…): $1 tenant, $2-$5 current, $6-$9 next. */
extern const struct latch_stmt latch_keys_init_stmt;
/* SELECT latch_rotate_keys($1, $2 grace s, $3-$6 new, $7-$10 next). */
extern const struct latch_stmt latch_keys_rotate_stmt;
/* SELECT latch_keys_json($1). */
extern const struct latch_stmt latch_keys_list_stmt;

#endif
