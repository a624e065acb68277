/*
 * JWS compact serialisation (RFC 7515) over the keys of jwk.h: signing with a key's protected
 * header {"alg":…,"kid":…[,extra]}, and verifying a token from the network against a set of
 * keys. ECDSA signatures are the fixed-size r||s of RFC 7518 §3.4 on the wire and DER inside
 * OpenSSL; both conversions keep leading zero bytes. jwt.h builds JWT claims on top.
 *
 * Both directions are pure functions of their arguments: any thread may call them with keys
 * shared between threads. Signing costs one private-key operation (ECDSA P-384 is the
 * expensive default); verifying one public-key operation.
 */
#ifndef LATCH_JOSE_JWS_H
#define LATCH_JOSE_JWS_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

#include "jose/jwk.h"
#include "util/error.h"

/* Longest compact token latch_jose_verify() looks at; longer ones are refused unread. */
#define LATCH_JOSE_TOKEN_MAX (16 * 1024)
/* Deepest JSON nesting accepted in a protected header. */
#define LATCH_JOSE_HEADER_DEPTH 4

/* Signs payload[0..len) (usually JWT claims JSON) with key, whose private part must be
 * present. The protected header is {"alg":"<key alg>","kid":"<key kid>"} followed, when
 * header_json_extra is not NULL, by ",<header_json_extra>}": pass trusted constant members such
 * as "\"typ\":\"at+jwt\"" (never text from a request, and never "alg" or "kid" again). *out is
 * the malloc'd, NUL-terminated compact JWS, the caller's to free(). */
latch_rc latch_jose_sign(const struct latch_jose_key *key, const char *header_json_extra,
                         const char *payload_json, size_t len, char **out,
                         struct latch_error *err) LATCH_MUST_CHECK;

/* Like latch_jose_sign() with the complete protected header given verbatim (header[0..hlen),
 * which must be a JSON object whose "alg" is the key's; it is not checked). For reproducing
 * published test vectors and for callers that need a header without "kid". */
latch_rc latch_jose_sign_compact(const struct latch_jose_key *key, const char *header, size_t hlen,
                                 const void *payload, size_t plen, char **out,
                                 struct latch_error *err) LATCH_MUST_CHECK;

/* A verified JWS. Strings are NUL-terminated (payload may also hold NUL bytes: use its length). */
struct latch_jose_jws {
    enum latch_jose_alg alg;
    const struct latch_jose_key *key; /* borrowed: the entry of keys that verified it */
    char *header;                     /* owned: decoded protected header JSON */
    size_t header_len;
    yajl_val header_json; /* owned: header parsed (an object) */
    char *payload;        /* owned: decoded payload */
    size_t payload_len;
};

/* Verifies the compact JWS token[0..len) (need not be NUL-terminated), which comes from the
 * network. Refused, with status 401 and code "invalid_token": a token longer than
 * LATCH_JOSE_TOKEN_MAX, other than three non-empty dot-separated parts, not strict base64url, a
 * protected header that is not a strict JSON object (jwk.h latch_jose_json_parse_object) or has
 * "crit", an "alg" that is absent, "none", unknown or not in allowed_algs (a set of
 * LATCH_JOSE_ALG_BIT()), a "kid" that names none of keys, no "kid" while nkeys is not 1, an
 * "alg" other than the chosen key's, a signature of the wrong length, and a signature that does
 * not verify. keys[0..nkeys) are borrowed, NULL entries are skipped. On success *out holds the
 * decoded parts (release with latch_jose_jws_clear()); on failure *out is cleared. The error's
 * message is safe for clients; its detail says which check failed. */
latch_rc latch_jose_verify(const char *token, size_t len, const struct latch_jose_key *const *keys,
                           int nkeys, unsigned allowed_algs, struct latch_jose_jws *out,
                           struct latch_error *err) LATCH_MUST_CHECK;

/* Frees what latch_jose_verify() put in jws and zeroes it; safe on a zeroed struct. */
void latch_jose_jws_clear(struct latch_jose_jws *jws);

#endif
