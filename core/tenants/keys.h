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

/*
 * The most signing keys a tenant holds at once: the current key, the next key and up to
 * LATCH_KEYS_MAX - 2 (6) previous keys still in their grace period. Every node's cache holds
 * this many (LATCH_TENANT_MAX_KEYS), and latch_rotate_keys (schema/0006) refuses a rotation that
 * would keep more, raising LATCH_KEYS_LIMIT_SQLSTATE. Changing it needs no migration: latchd
 * passes it to the database on every rotation.
 */
#define LATCH_KEYS_MAX            8
#define LATCH_KEYS_LIMIT_SQLSTATE "LK001"
/* LATCH_KEYS_MAX as text, the statement parameter. */
#define LATCH_KEYS_TEXT_(x) #x
#define LATCH_KEYS_TEXT(x)  LATCH_KEYS_TEXT_(x)
#define LATCH_KEYS_MAX_TEXT LATCH_KEYS_TEXT(LATCH_KEYS_MAX)

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
/* SELECT latch_rotate_keys($1, $2 grace s, $3 LATCH_KEYS_MAX_TEXT, $4-$7 new, $8-$11 next). */
extern const struct latch_stmt latch_keys_rotate_stmt;
/* Whether err is latch_rotate_keys refusing a rotation over LATCH_KEYS_MAX. */
bool latch_keys_limit_reached(const struct latch_error *err);
/* Fills err with the answer to that refusal: 422 oidc.key_limit naming the limit; returns
 * LATCH_FAIL. */
latch_rc latch_keys_limit_error(struct latch_error *err);

/* SELECT latch_keys_json($1). */
extern const struct latch_stmt latch_keys_list_stmt;

#endif
