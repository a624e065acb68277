/*
 * JWT claims: the escaping builder over util/json.c's strict writer and the post-signature claim
 * checks. See jwt.h.
 */
#include "jose/jwt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/json.h"

struct latch_jose_claims {
    struct latch_json gen;
    bool failed;
    bool finished;
    char error[160];
    size_t n;
    char *names[LATCH_JOSE_CLAIMS_MAX];
};

/* ---- building ---------------------------------------------------------------------------- */

struct latch_jose_claims *latch_jose_claims_new(void)
{
    struct latch_jose_claims *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    /* Invalid UTF-8 in a value is an error, not bytes copied (or replaced) into the token. */
    latch_json_init_strict(&c->gen);
    latch_json_begin_object(&c->gen);
    return c;
}

void latch_jose_claims_free(struct latch_jose_claims *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    latch_json_clear(&c->gen);
    free(c);
}

static void claims_fail(struct latch_jose_claims *c, const char *name, const char *why)
{
    if (c->failed)
        return;
    c->failed = true;
    snprintf(c->error, sizeof(c->error), "claim \"%.64s\": %s", name != NULL ? name : "(null)",
             why);
}

/* Starts member `name`: checks it and writes the key. False when the builder is failed. */
static bool claims_begin(struct latch_jose_claims *c, const char *name)
{
    if (c == NULL || c->failed || c->finished)
        return false;
    if (name == NULL) {
        claims_fail(c, name, "no name");
        return false;
    }
    if (c->n == LATCH_JOSE_CLAIMS_MAX) {
        claims_fail(c, name, "too many claims");
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->names[i], name) == 0) {
            claims_fail(c, name, "added twice");
            return false;
        }
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        claims_fail(c, name, "out of memory");
        return false;
    }
    c->names[c->n++] = copy;
    latch_json_key(&c->gen, name);
    if (c->gen.bad_utf8) {
        claims_fail(c, name, "the name is not valid UTF-8");
        return false;
    }
    return true;
}

/* After a value: the writer's sticky state says whether it went in. */
static void claims_check(struct latch_jose_claims *c, const char *name)
{
    if (c->gen.bad_utf8)
        claims_fail(c, name, "the value is not valid UTF-8");
    else if (c->gen.failed)
        claims_fail(c, name, "the JSON writer failed");
}

void latch_jose_claims_add_stringn(struct latch_jose_claims *c, const char *name, const char *value,
                                   size_t len)
{
    if (!claims_begin(c, name))
        return;
    if (value == NULL) {
        claims_fail(c, name, "no value");
        return;
    }
    latch_json_string_n(&c->gen, value, len);
    claims_check(c, name);
}

void latch_jose_claims_add_string(struct latch_jose_claims *c, const char *name, const char *value)
{
    latch_jose_claims_add_stringn(c, name, value, value != NULL ? strlen(value) : 0);
}

void latch_jose_claims_add_int(struct latch_jose_claims *c, const char *name, int64_t value)
{
    if (claims_begin(c, name)) {
        latch_json_int(&c->gen, value);
        claims_check(c, name);
    }
}

void latch_jose_claims_add_bool(struct latch_jose_claims *c, const char *name, bool value)
{
    if (claims_begin(c, name)) {
        latch_json_bool(&c->gen, value);
        claims_check(c, name);
    }
}

void latch_jose_claims_add_strings(struct latch_jose_claims *c, const char *name,
                                   const char *const *values, size_t n)
{
    if (!claims_begin(c, name))
        return;
    latch_json_begin_array(&c->gen);
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL) {
            claims_fail(c, name, "a NULL array element");
            return;
        }
        latch_json_string(&c->gen, values[i]);
    }
    latch_json_end_array(&c->gen);
    claims_check(c, name);
}

latch_rc latch_jose_claims_finish(struct latch_jose_claims *c, char **json, size_t *len,
                                  struct latch_error *err)
{
    size_t n = 0;
    char *text = NULL;

    *json = NULL;
    if (c == NULL)
        return latch_error_set(err, 500, "server_error", "Internal server error.");
    if (c->finished)
        claims_fail(c, NULL, "the builder was already finished");
    c->finished = true;
    if (!c->failed) {
        latch_json_end_object(&c->gen);
        text = latch_json_take(&c->gen, &n);
        if (text == NULL)
            claims_fail(c, NULL, "out of memory");
    }
    if (c->failed) {
        latch_error_set(err, 500, "server_error", "Internal server error.");
        latch_error_detail(err, "jwt: %s", c->error);
        return LATCH_FAIL;
    }
    *json = text;
    if (len != NULL)
        *len = n;
    return LATCH_OK;
}

/* ---- verifying --------------------------------------------------------------------------- */

static latch_rc bad_claims(struct latch_error *err, const char *message, const char *detail)
{
    latch_error_set(err, 401, "invalid_token", "%s", message);
    latch_error_detail(err, "jwt: %s", detail);
    return LATCH_FAIL;
}

/* A NumericDate (RFC 7519 §2): an integer, or a finite number rounded down. */
static bool numeric_date(yajl_val v, int64_t *out)
{
    if (YAJL_IS_INTEGER(v)) {
        *out = (int64_t)v->u.number.i;
        return true;
    }
    if (YAJL_IS_DOUBLE(v)) {
        double d = v->u.number.d;
        /* Beyond ±2^62 no date makes sense, and the cast must stay defined. */
        if (!isfinite(d) || d > 4.6e18 || d < -4.6e18)
            return false;
        int64_t t = (int64_t)d; /* truncates toward zero: step down for negatives */
        *out = (double)t > d ? t - 1 : t;
        return true;
    }
    return false;
}

static bool audience_matches(yajl_val aud, const char *want, bool *malformed)
{
    *malformed = false;
    if (YAJL_IS_STRING(aud))
        return strcmp(aud->u.string, want) == 0;
    if (!YAJL_IS_ARRAY(aud)) {
        *malformed = true;
        return false;
    }
    bool found = false;
    for (size_t i = 0; i < aud->u.array.len; i++) {
        yajl_val v = aud->u.array.values[i];
        if (!YAJL_IS_STRING(v)) {
            *malformed = true;
            return false;
        }
        found = found || strcmp(v->u.string, want) == 0;
    }
    return found;
}

/* Checks the claims in tree against rules; fills exp, iat and nbf (0 when absent). */
static latch_rc check_tree(yajl_val claims, const struct latch_jose_jwt_rules *rules,
                           int64_t *exp_out, int64_t *iat_out, int64_t *nbf_out,
                           struct latch_error *err)
{
    static const char malformed[] = "The token's claims are malformed.";
    int64_t exp = 0;
    int64_t iat = 0;
    int64_t nbf = 0;
    bool aud_malformed = false;

    yajl_val iss = latch_jose_json_get(claims, "iss");
    if (!YAJL_IS_STRING(iss) || strcmp(iss->u.string, rules->issuer) != 0)
        return bad_claims(err, "The token's issuer is not accepted.",
                          iss == NULL ? "no iss" : "iss differs");
    yajl_val aud = latch_jose_json_get(claims, "aud");
    if (aud == NULL)
        return bad_claims(err, "The token's audience is not accepted.", "no aud");
    if (!audience_matches(aud, rules->audience, &aud_malformed))
        return bad_claims(err, aud_malformed ? malformed : "The token's audience is not accepted.",
                          aud_malformed ? "aud is not a string or an array of strings"
                                        : "aud does not contain the expected audience");

    yajl_val v = latch_jose_json_get(claims, "exp");
    if (v == NULL)
        return bad_claims(err, malformed, "no exp");
    if (!numeric_date(v, &exp))
        return bad_claims(err, malformed, "exp is not a NumericDate");
    /* Expired when now >= exp + leeway; written so it cannot overflow. */
    if (rules->now - rules->leeway >= exp)
        return bad_claims(err, "The token has expired.", "exp passed");

    v = latch_jose_json_get(claims, "nbf");
    if (v != NULL) {
        if (!numeric_date(v, &nbf))
            return bad_claims(err, malformed, "nbf is not a NumericDate");
        if (nbf > rules->now + rules->leeway)
            return bad_claims(err, "The token is not valid yet.", "nbf in the future");
    }
    v = latch_jose_json_get(claims, "iat");
    if (v != NULL) {
        if (!numeric_date(v, &iat))
            return bad_claims(err, malformed, "iat is not a NumericDate");
        if (iat > rules->now + rules->leeway)
            return bad_claims(err, "The token's issue time is invalid.", "iat in the future");
    }
    if (rules->max_age > 0) {
        if (v == NULL)
            return bad_claims(err, malformed, "no iat but a maximum age applies");
        if (rules->now - iat > rules->max_age + rules->leeway)
            return bad_claims(err, "The token has expired.", "iat older than the maximum age");
    }
    *exp_out = exp;
    *iat_out = iat;
    *nbf_out = nbf;
    return LATCH_OK;
}

/* Programming errors in rules are the server's, not the client's. */
static bool rules_ok(const struct latch_jose_jwt_rules *rules, struct latch_error *err)
{
    /* Bounds keep now ± leeway and now - iat far from overflow. */
    if (rules == NULL || rules->issuer == NULL || rules->audience == NULL || rules->leeway < 0 ||
        rules->leeway > 300 || rules->now < 0 || rules->now > ((int64_t)1 << 40) ||
        rules->max_age < 0 || rules->max_age > ((int64_t)1 << 40)) {
        latch_error_set(err, 500, "server_error", "Internal server error.");
        latch_error_detail(err, "jwt: invalid verification rules");
        return false;
    }
    return true;
}

latch_rc latch_jose_jwt_check_claims(const char *payload, size_t len,
                                     const struct latch_jose_jwt_rules *rules, yajl_val *claims,
                                     struct latch_error *err)
{
    yajl_val tree = NULL;
    int64_t exp;
    int64_t iat;
    int64_t nbf;
    latch_rc rc = LATCH_FAIL;

    if (claims != NULL)
        *claims = NULL;
    if (!rules_ok(rules, err))
        goto done;
    struct latch_json_limits lim = latch_jose_json_limits(LATCH_JOSE_CLAIMS_DEPTH);
    struct latch_error perr = {0};
    if (latch_json_parse(payload, len, &lim, &tree, &perr) != LATCH_OK) {
        bad_claims(err, "The token's claims are malformed.", "payload is not a strict object");
        latch_error_detail(err, " (%s)", perr.message);
        goto done;
    }
    if (check_tree(tree, rules, &exp, &iat, &nbf, err) != LATCH_OK)
        goto done;
    if (claims != NULL) {
        *claims = tree;
        tree = NULL;
    }
    rc = LATCH_OK;
done:
    yajl_tree_free(tree);
    return rc;
}

/* RFC 7515 §4.1.9: "typ" is a media type whose "application/" prefix may be left out. */
static bool typ_matches(yajl_val typ, const char *want)
{
    if (!YAJL_IS_STRING(typ))
        return false;
    const char *t = typ->u.string;
    if (strncasecmp(t, "application/", 12) == 0)
        t += 12;
    if (strncasecmp(want, "application/", 12) == 0)
        want += 12;
    return strcasecmp(t, want) == 0;
}

latch_rc latch_jose_jwt_verify(const char *token, size_t len,
                               const struct latch_jose_key *const *keys, int nkeys,
                               const struct latch_jose_jwt_rules *rules, struct latch_jose_jwt *out,
                               struct latch_error *err)
{
    struct latch_jose_jwt jwt = {0};
    latch_rc rc = LATCH_FAIL;

    memset(out, 0, sizeof(*out));
    if (!rules_ok(rules, err))
        goto done;
    if (latch_jose_verify(token, len, keys, nkeys, rules->allowed_algs, &jwt.jws, err) != LATCH_OK)
        goto done;
    if (rules->typ != NULL &&
        !typ_matches(latch_jose_json_get(jwt.jws.header_json, "typ"), rules->typ)) {
        bad_claims(err, "The token's type is not accepted.", "typ differs");
        goto done;
    }
    struct latch_json_limits lim = latch_jose_json_limits(LATCH_JOSE_CLAIMS_DEPTH);
    struct latch_error perr = {0};
    if (latch_json_parse(jwt.jws.payload, jwt.jws.payload_len, &lim, &jwt.claims, &perr) !=
        LATCH_OK) {
        bad_claims(err, "The token's claims are malformed.", "payload is not a strict object");
        latch_error_detail(err, " (%s)", perr.message);
        goto done;
    }
    if (check_tree(jwt.claims, rules, &jwt.exp, &jwt.iat, &jwt.nbf, err) != LATCH_OK)
        goto done;
    *out = jwt;
    memset(&jwt, 0, sizeof(jwt));
    rc = LATCH_OK;
done:
    latch_jose_jwt_clear(&jwt);
    return rc;
}

void latch_jose_jwt_clear(struct latch_jose_jwt *jwt)
{
    if (jwt == NULL)
        return;
    latch_jose_jws_clear(&jwt->jws);
    yajl_tree_free(jwt->claims);
    memset(jwt, 0, sizeof(*jwt));
}

const char *latch_jose_jwt_get_string(const struct latch_jose_jwt *jwt, const char *name)
{
    yajl_val v = latch_jose_json_get(jwt->claims, name);
    return YAJL_IS_STRING(v) ? v->u.string : NULL;
}
