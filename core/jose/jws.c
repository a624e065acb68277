/*
 * JWS compact serialisation: building and signing tokens, and the checks a token from the
 * network goes through before its signature is verified (the key operations are jwk.c's). See
 * jws.h.
 */
#include "jose/jws.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "util/base64.h"
#include "metrics/metrics.h"

static latch_rc internal_fail(struct latch_error *err, const char *what)
{
    unsigned long e;
    char buf[256];

    latch_error_set(err, 500, "server_error", "Internal server error.");
    latch_error_detail(err, "jws: %s failed", what);
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        latch_error_detail(err, "; %s", buf);
    }
    return LATCH_FAIL;
}

/* A token refused: 401 invalid_token with a client-safe message and a log-only detail. */
static latch_rc bad_token(struct latch_error *err, const char *message, const char *detail)
{
    latch_error_set(err, 401, "invalid_token", "%s", message);
    latch_error_detail(err, "jws: %s", detail);
    ERR_clear_error();
    return LATCH_FAIL;
}

latch_rc latch_jose_sign_compact(const struct latch_jose_key *key, const char *header, size_t hlen,
                                 const void *payload, size_t plen, char **out,
                                 struct latch_error *err)
{
    uint8_t sig[LATCH_JOSE_SIG_MAX];
    size_t siglen = 0;
    char *buf = NULL;
    latch_rc rc = LATCH_FAIL;

    *out = NULL;
    if (!key->has_private) {
        internal_fail(err, "signing with a public key");
        goto done;
    }
    if (hlen > LATCH_JOSE_TOKEN_MAX || plen > SIZE_MAX / 4) {
        internal_fail(err, "signing an oversized header or payload");
        goto done;
    }
    size_t eh = latch_base64url_encoded_len(hlen);
    size_t ep = latch_base64url_encoded_len(plen);
    size_t es = latch_base64url_encoded_len(latch_jose_key_sig_len(key));
    size_t total = eh + 1 + ep + 1 + es + 1;
    buf = malloc(total);
    if (buf == NULL) {
        internal_fail(err, "allocating a token");
        goto done;
    }
    /* The buffer is sized exactly, so the encoders cannot fail; the checks guard the sizing. */
    bool ok = latch_base64url_encode((const uint8_t *)header, hlen, buf, eh + 1) == (ssize_t)eh;
    buf[eh] = '.';
    ok = ok && latch_base64url_encode(payload, plen, buf + eh + 1, ep + 1) == (ssize_t)ep;
    buf[eh + 1 + ep] = '.';
    if (!ok) {
        internal_fail(err, "encoding a token");
        goto done;
    }
    if (latch_jose_key_sign(key, buf, eh + 1 + ep, sig, sizeof(sig), &siglen, err) != LATCH_OK)
        goto done;
    if (latch_base64url_encode(sig, siglen, buf + eh + ep + 2, es + 1) != (ssize_t)es) {
        internal_fail(err, "encoding a signature");
        goto done;
    }
    *out = buf;
    buf = NULL;
    rc = LATCH_OK;
    latch_metrics_token_signed((int)key->alg);
done:
    free(buf);
    return rc;
}

latch_rc latch_jose_sign(const struct latch_jose_key *key, const char *header_json_extra,
                         const char *payload_json, size_t len, char **out, struct latch_error *err)
{
    char stackbuf[512];
    char *header = stackbuf;
    size_t extra = header_json_extra != NULL ? strlen(header_json_extra) : 0;
    latch_rc rc = LATCH_FAIL;

    *out = NULL;
    if (!key->has_private || key->header == NULL) {
        internal_fail(err, "signing with a public key");
        goto done;
    }
    if (extra > LATCH_JOSE_TOKEN_MAX) {
        internal_fail(err, "signing an oversized header");
        goto done;
    }
    size_t hlen = key->header_len + (extra > 0 ? 1 + extra : 0) + 1;
    if (hlen > sizeof(stackbuf)) {
        header = malloc(hlen);
        if (header == NULL) {
            internal_fail(err, "allocating a header");
            goto done;
        }
    }
    memcpy(header, key->header, key->header_len);
    size_t at = key->header_len;
    if (extra > 0) {
        header[at++] = ',';
        memcpy(header + at, header_json_extra, extra);
        at += extra;
    }
    header[at++] = '}';
    rc = latch_jose_sign_compact(key, header, at, payload_json, len, out, err);
done:
    if (header != stackbuf)
        free(header);
    return rc;
}

/* ---- verification ------------------------------------------------------------------------ */

void latch_jose_jws_clear(struct latch_jose_jws *jws)
{
    if (jws == NULL)
        return;
    free(jws->header);
    free(jws->payload);
    yajl_tree_free(jws->header_json);
    memset(jws, 0, sizeof(*jws));
}

/* Strictly decodes part[0..len) into a malloc'd NUL-terminated buffer. */
static char *decode_part(const char *part, size_t len, size_t *out_len)
{
    size_t cap = latch_base64_decoded_len(len);
    char *buf = malloc(cap + 1);
    if (buf == NULL)
        return NULL;
    ssize_t n = latch_base64url_decode(part, len, (uint8_t *)buf, cap);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *out_len = (size_t)n;
    return buf;
}

latch_rc latch_jose_verify(const char *token, size_t len, const struct latch_jose_key *const *keys,
                           int nkeys, unsigned allowed_algs, struct latch_jose_jws *out,
                           struct latch_error *err)
{
    static const char malformed[] = "The token is malformed.";
    struct latch_jose_jws jws = {0};
    const struct latch_jose_key *key = NULL;
    uint8_t sig[LATCH_JOSE_SIG_MAX];
    latch_rc rc = LATCH_FAIL;

    memset(out, 0, sizeof(*out));
    if (len > LATCH_JOSE_TOKEN_MAX) {
        bad_token(err, "The token is too long.", "token longer than LATCH_JOSE_TOKEN_MAX");
        goto done;
    }
    const char *dot1 = len > 0 ? memchr(token, '.', len) : NULL;
    const char *dot2 =
        dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        bad_token(err, malformed, "not three dot-separated parts");
        goto done;
    }
    size_t hpart = (size_t)(dot1 - token);
    size_t ppart = (size_t)(dot2 - dot1 - 1);
    size_t spart = len - (size_t)(dot2 - token) - 1;
    if (hpart == 0 || ppart == 0 || spart == 0) {
        bad_token(err, malformed, "an empty part");
        goto done;
    }

    jws.header = decode_part(token, hpart, &jws.header_len);
    if (jws.header == NULL) {
        bad_token(err, malformed, "header is not base64url");
        goto done;
    }
    struct latch_json_limits lim = latch_jose_json_limits(LATCH_JOSE_HEADER_DEPTH);
    struct latch_error perr = {0};
    if (latch_json_parse(jws.header, jws.header_len, &lim, &jws.header_json, &perr) != LATCH_OK) {
        bad_token(err, malformed, "header is not a strict JSON object");
        latch_error_detail(err, " (%s)", perr.message);
        goto done;
    }
    yajl_val alg = latch_jose_json_get(jws.header_json, "alg");
    if (!YAJL_IS_STRING(alg)) {
        bad_token(err, malformed, "header has no string \"alg\"");
        goto done;
    }
    if (!latch_jose_alg_from_name(alg->u.string, strlen(alg->u.string), &jws.alg)) {
        bad_token(err, "The token's algorithm is not accepted.",
                  strcmp(alg->u.string, "none") == 0 ? "alg none" : "alg not implemented");
        goto done;
    }
    if ((allowed_algs & LATCH_JOSE_ALG_BIT(jws.alg)) == 0) {
        bad_token(err, "The token's algorithm is not accepted.", "alg not allowed here");
        latch_error_detail(err, " (%s)", latch_jose_alg_name(jws.alg));
        goto done;
    }
    /* RFC 7515 §4.1.11: extensions we do not understand must be refused, and we know none. */
    if (latch_jose_json_get(jws.header_json, "crit") != NULL) {
        bad_token(err, malformed, "header has \"crit\"");
        goto done;
    }

    yajl_val kid = latch_jose_json_get(jws.header_json, "kid");
    if (kid != NULL) {
        if (!YAJL_IS_STRING(kid)) {
            bad_token(err, malformed, "\"kid\" is not a string");
            goto done;
        }
        for (int i = 0; keys != NULL && i < nkeys && key == NULL; i++)
            if (keys[i] != NULL && strcmp(keys[i]->kid, kid->u.string) == 0)
                key = keys[i];
    } else if (nkeys == 1 && keys != NULL && keys[0] != NULL) {
        /* Without a kid only an unambiguous single key may be tried. */
        key = keys[0];
    }
    if (key == NULL) {
        bad_token(err, "The token's signing key is not known.",
                  kid != NULL ? "no key with that kid" : "no kid and not exactly one key");
        goto done;
    }
    /* The key decides the algorithm: a header may not pick e.g. RS256 for an EC key. */
    if (key->alg != jws.alg) {
        bad_token(err, "The token's algorithm is not accepted.", "alg does not match the key");
        latch_error_detail(err, " (header %s, key %s)", latch_jose_alg_name(jws.alg),
                           latch_jose_alg_name(key->alg));
        goto done;
    }

    size_t want = latch_jose_key_sig_len(key);
    ssize_t got = latch_base64url_decode(dot2 + 1, spart, sig, want);
    if (want == 0 || got != (ssize_t)want) {
        bad_token(err, malformed, "signature is not base64url of the algorithm's length");
        goto done;
    }
    if (!latch_jose_key_verify(key, token, hpart + 1 + ppart, sig, want)) {
        bad_token(err, "The token's signature is invalid.", "signature does not verify");
        goto done;
    }
    jws.payload = decode_part(dot1 + 1, ppart, &jws.payload_len);
    if (jws.payload == NULL) {
        bad_token(err, malformed, "payload is not base64url");
        goto done;
    }
    jws.key = key;
    *out = jws;
    memset(&jws, 0, sizeof(jws));
    rc = LATCH_OK;
done:
    latch_jose_jws_clear(&jws);
    return rc;
}
