/*
 * JWT claims (RFC 7519) on top of jws.h: a small builder that writes a claims object as JSON
 * with every string escaped and validated as UTF-8 (so request text can never break out of its
 * value), and the checks a verifier makes after the signature: issuer, audience, expiry,
 * not-before and issued-at with a leeway, and optionally the header "typ" (RFC 9068 "at+jwt").
 * Errors on the verifying side are client-safe 401 "invalid_token".
 *
 * A builder belongs to one thread at a time; the verifying functions are pure and any thread
 * may call them.
 */
#ifndef LATCH_JOSE_JWT_H
#define LATCH_JOSE_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "jose/jws.h"
#include "util/error.h"

/* ---- building ---------------------------------------------------------------------------- */

/* Most claims one builder takes; names must be unique. */
#define LATCH_JOSE_CLAIMS_MAX 64

struct latch_jose_claims;

/* A new, empty claims object; NULL when out of memory. Free with latch_jose_claims_free(). */
struct latch_jose_claims *latch_jose_claims_new(void);
void latch_jose_claims_free(struct latch_jose_claims *c);

/* Each adder appends one member. Errors (NULL name or value, invalid UTF-8, a repeated name,
 * more than LATCH_JOSE_CLAIMS_MAX claims, out of memory) are sticky: the first is kept, later
 * adders do nothing, and latch_jose_claims_finish() reports it. Strings are copied. */
void latch_jose_claims_add_string(struct latch_jose_claims *c, const char *name, const char *value);
void latch_jose_claims_add_stringn(struct latch_jose_claims *c, const char *name, const char *value,
                                   size_t len);
void latch_jose_claims_add_int(struct latch_jose_claims *c, const char *name, int64_t value);
void latch_jose_claims_add_bool(struct latch_jose_claims *c, const char *name, bool value);
/* A JSON array of strings; n may be 0 (an empty array). */
void latch_jose_claims_add_strings(struct latch_jose_claims *c, const char *name,
                                   const char *const *values, size_t n);

/* Closes the object and hands the JSON over: *json is malloc'd, NUL-terminated, the caller's to
 * free(); *len (may be NULL) excludes the NUL. Fails (500 server_error, detail naming the claim)
 * if an adder failed. The builder is spent afterwards either way: only _free() it. */
latch_rc latch_jose_claims_finish(struct latch_jose_claims *c, char **json, size_t *len,
                                  struct latch_error *err) LATCH_MUST_CHECK;

/* ---- verifying --------------------------------------------------------------------------- */

/* What a verifier expects. issuer and audience are required; the rest may be zero/NULL. */
struct latch_jose_jwt_rules {
    const char *issuer;    /* "iss" must equal it exactly */
    const char *audience;  /* "aud" must equal it, or be an array of strings containing it */
    const char *typ;       /* when set, the header "typ" must be it, compared case-insensitively
                            * and with an optional "application/" prefix (RFC 7515 §4.1.9) */
    int64_t now;           /* seconds since the epoch */
    int64_t leeway;        /* clock skew allowed, seconds (0 to 300) */
    int64_t max_age;       /* when > 0, "iat" is required and may be at most this old */
    unsigned allowed_algs; /* LATCH_JOSE_ALG_BIT() set passed to latch_jose_verify() */
};

/* Deepest JSON nesting accepted in claims. */
#define LATCH_JOSE_CLAIMS_DEPTH 8

/* A verified JWT. */
struct latch_jose_jwt {
    struct latch_jose_jws jws; /* owned: header and payload text, the key that verified */
    yajl_val claims;           /* owned: the payload parsed, an object */
    int64_t exp;
    int64_t iat; /* 0 when absent */
    int64_t nbf; /* 0 when absent */
};

/* Checks already verified claims payload[0..len) against rules (see struct latch_jose_jwt_rules):
 * the payload must be a strict JSON object (jwk.h) with a string "iss" equal to rules->issuer,
 * "aud" containing rules->audience, a numeric "exp" with now < exp + leeway, and, when present,
 * numeric "nbf" <= now + leeway and "iat" <= now + leeway (and within max_age). On success
 * *claims (may be NULL) receives the parsed tree, the caller's to yajl_tree_free(). */
latch_rc latch_jose_jwt_check_claims(const char *payload, size_t len,
                                     const struct latch_jose_jwt_rules *rules, yajl_val *claims,
                                     struct latch_error *err) LATCH_MUST_CHECK;

/* latch_jose_verify() with rules->allowed_algs, then the header "typ" check and
 * latch_jose_jwt_check_claims(). On success *out is filled (release with
 * latch_jose_jwt_clear()); on failure it is cleared and err says why (401 invalid_token). */
latch_rc latch_jose_jwt_verify(const char *token, size_t len,
                               const struct latch_jose_key *const *keys, int nkeys,
                               const struct latch_jose_jwt_rules *rules, struct latch_jose_jwt *out,
                               struct latch_error *err) LATCH_MUST_CHECK;

void latch_jose_jwt_clear(struct latch_jose_jwt *jwt);

/* The string claim `name`, or NULL when absent or not a string; borrowed from jwt. */
const char *latch_jose_jwt_get_string(const struct latch_jose_jwt *jwt, const char *name);

#endif
