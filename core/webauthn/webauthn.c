/*
 * WebAuthn relying-party verification on libcbor and OpenSSL 3: the bounded CBOR reader, the
 * authenticatorData and attestation-object grammars, COSE keys, clientDataJSON, the `none` and
 * `packed` attestation statements and the assertion check with the counter rule. See webauthn.h.
 */
#include "webauthn/webauthn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/base64.h"
#include "util/json.h"

/* The CBOR a ceremony carries nests at most 3 deep (attestation object > attStmt > x5c); COSE
 * keys and extensions nest less. Containers hold few entries. Both bounds come before libcbor
 * builds a tree, so neither its allocation from a declared size nor its recursive free can be
 * driven by the input. */
#define CBOR_MAX_DEPTH   8
#define CBOR_MAX_ENTRIES 64
/* Certificates in an x5c chain. */
#define X5C_MAX 8
/* A DER ECDSA P-256 signature: SEQUENCE(2) + 2 x INTEGER(2 + 33). */
#define ES256_SIG_MAX 72
/* id-fido-gen-ce-aaguid (FIDO Metadata, WebAuthn §8.2.1). */
#define OID_FIDO_AAGUID "1.3.6.1.4.1.45724.1.1.4"

/* ---- errors ------------------------------------------------------------------------------ */

static latch_rc refuse(struct latch_error *err, const char *fmt, ...) LATCH_PRINTF(2, 3);

/* A verification failure: 400 with the reason as the client message (the reasons never quote
 * secrets; the challenge is compared, not echoed). */
static latch_rc refuse(struct latch_error *err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return latch_error_set(err, 400, LATCH_WEBAUTHN_ERR_FAILED, "WebAuthn: %s.", msg);
}

static latch_rc internal_fail(struct latch_error *err, const char *what)
{
    unsigned long e = ERR_peek_last_error();

    latch_error_set(err, 500, "server_error", "Internal server error.");
    latch_error_detail(err, "webauthn: %s failed%s%s", what, e ? ": " : "",
                       e ? ERR_reason_error_string(e) : "");
    ERR_clear_error();
    return LATCH_FAIL;
}

bool latch_webauthn_is_clone(const struct latch_error *err)
{
    return err != NULL && strcmp(err->code, LATCH_WEBAUTHN_ERR_CLONED) == 0;
}

/* ---- bounded CBOR ------------------------------------------------------------------------ */

/* The pre-scan: libcbor's streaming decoder reports one item head at a time; this keeps the
 * number of items still due in each open container, so it knows where the first complete item
 * ends and how deep it nests. Indefinite lengths and tags are refused (CTAP2's canonical CBOR has
 * neither), as are simple values libcbor reports with no callback. */
struct scan {
    size_t left[CBOR_MAX_DEPTH];
    unsigned depth;
    bool bad, done, fired;
};

static void scan_item(struct scan *s)
{
    s->fired = true;
    for (;;) {
        if (s->depth == 0) {
            s->done = true;
            return;
        }
        if (--s->left[s->depth - 1] > 0)
            return;
        s->depth--; /* the container is complete: it is one item of its parent */
    }
}

static void scan_container(struct scan *s, size_t entries)
{
    s->fired = true;
    if (entries > 2 * CBOR_MAX_ENTRIES || s->depth == CBOR_MAX_DEPTH) {
        s->bad = true;
        return;
    }
    if (entries == 0) {
        scan_item(s);
        return;
    }
    s->left[s->depth++] = entries;
}

static void scan_bad(void *ctx)
{
    struct scan *s = ctx;
    s->fired = true;
    s->bad = true;
}
static void scan_bad64(void *ctx, uint64_t v)
{
    (void)v;
    scan_bad(ctx);
}
static void scan_u8(void *ctx, uint8_t v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_u16(void *ctx, uint16_t v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_u32(void *ctx, uint32_t v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_u64(void *ctx, uint64_t v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_str(void *ctx, cbor_data d, size_t n)
{
    (void)d;
    (void)n;
    scan_item(ctx);
}
static void scan_simple(void *ctx)
{
    scan_item(ctx);
}
static void scan_bool(void *ctx, bool v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_f4(void *ctx, float v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_f8(void *ctx, double v)
{
    (void)v;
    scan_item(ctx);
}
static void scan_array(void *ctx, size_t n)
{
    scan_container(ctx, n > CBOR_MAX_ENTRIES ? SIZE_MAX : n);
}
static void scan_map(void *ctx, size_t n)
{
    scan_container(ctx, n > CBOR_MAX_ENTRIES ? SIZE_MAX : 2 * n);
}

static const struct cbor_callbacks scan_callbacks = {
    .uint8 = scan_u8,
    .uint16 = scan_u16,
    .uint32 = scan_u32,
    .uint64 = scan_u64,
    .negint8 = scan_u8,
    .negint16 = scan_u16,
    .negint32 = scan_u32,
    .negint64 = scan_u64,
    .byte_string = scan_str,
    .byte_string_start = scan_bad,
    .string = scan_str,
    .string_start = scan_bad,
    .array_start = scan_array,
    .indef_array_start = scan_bad,
    .map_start = scan_map,
    .indef_map_start = scan_bad,
    .tag = scan_bad64,
    .float2 = scan_f4,
    .float4 = scan_f4,
    .float8 = scan_f8,
    .undefined = scan_simple,
    .null = scan_simple,
    .boolean = scan_bool,
    .indef_break = scan_bad,
};

/* The length of the CBOR item at p[0..len), which must be well formed within the bounds above. */
static latch_rc cbor_item_len(const uint8_t *p, size_t len, size_t *item_len, const char *what,
                              struct latch_error *err)
{
    struct scan s = {0};
    size_t off = 0;

    while (!s.done) {
        if (off >= len)
            return refuse(err, "%s is truncated", what);
        s.fired = false;
        struct cbor_decoder_result r = cbor_stream_decode(p + off, len - off, &scan_callbacks, &s);
        if (r.status == CBOR_DECODER_NEDATA)
            return refuse(err, "%s is truncated", what);
        if (r.status != CBOR_DECODER_FINISHED || !s.fired || r.read == 0)
            return refuse(err, "%s is not valid CBOR", what);
        if (s.bad)
            return refuse(err,
                          "%s uses CBOR this server does not accept (indefinite lengths, "
                          "tags, or nesting or sizes beyond its bounds)",
                          what);
        off += r.read;
    }
    *item_len = off;
    return LATCH_OK;
}

/* Decodes exactly p[0..len) as one CBOR item (the caller cbor_decref()s it). */
static latch_rc cbor_decode_exact(const uint8_t *p, size_t len, cbor_item_t **out, const char *what,
                                  struct latch_error *err)
{
    size_t n;
    struct cbor_load_result r;

    if (cbor_item_len(p, len, &n, what, err) != LATCH_OK)
        return LATCH_FAIL;
    if (n != len)
        return refuse(err, "%s has bytes after its end", what);
    *out = cbor_load(p, n, &r);
    if (*out == NULL) {
        if (r.error.code == CBOR_ERR_MEMERROR)
            return internal_fail(err, "decoding CBOR");
        return refuse(err, "%s is not valid CBOR", what);
    }
    if (r.read != n) {
        cbor_decref(out);
        return refuse(err, "%s is not valid CBOR", what);
    }
    return LATCH_OK;
}

static bool cbor_int_value(const cbor_item_t *it, int64_t *v)
{
    if (!cbor_isa_uint(it) && !cbor_isa_negint(it))
        return false;
    uint64_t u = cbor_get_int(it);
    if (u > (uint64_t)INT64_MAX)
        return false;
    *v = cbor_isa_uint(it) ? (int64_t)u : -1 - (int64_t)u;
    return true;
}

static bool cbor_text_is(const cbor_item_t *it, const char *s)
{
    size_t n = strlen(s);
    return cbor_isa_string(it) && cbor_string_is_definite(it) && cbor_string_length(it) == n &&
           memcmp(cbor_string_handle(it), s, n) == 0;
}

static bool cbor_bytes(const cbor_item_t *it, const uint8_t **p, size_t *n)
{
    if (!cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it))
        return false;
    *p = cbor_bytestring_handle(it);
    *n = cbor_bytestring_length(it);
    return *n == 0 || *p != NULL;
}

/* The value of the member whose key is the text `skey` (when non-NULL) or the integer `ikey`.
 * Returns 1 found, 0 absent, -1 given twice (which the caller refuses: which one counts must not
 * be up to a parser). */
static int map_find(const cbor_item_t *map, const char *skey, int64_t ikey, cbor_item_t **val)
{
    struct cbor_pair *pairs = cbor_map_handle(map);
    size_t n = cbor_map_size(map);
    int found = 0;

    *val = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t k;
        bool match = skey != NULL ? cbor_text_is(pairs[i].key, skey)
                                  : cbor_int_value(pairs[i].key, &k) && k == ikey;
        if (match) {
            if (found)
                return -1;
            found = 1;
            *val = pairs[i].value;
        }
    }
    return found;
}

/* ---- authenticatorData ------------------------------------------------------------------- */

latch_rc latch_webauthn_auth_data_parse(const uint8_t *p, size_t len,
                                        struct latch_webauthn_auth_data *out,
                                        struct latch_error *err)
{
    size_t off = 37, n;

    memset(out, 0, sizeof(*out));
    if (p == NULL || len < 37)
        return refuse(err, "authenticator data is too short");
    out->rp_id_hash = p;
    out->flags = p[32];
    out->sign_count = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 | (uint32_t)p[35] << 8 | p[36];

    if (out->flags & LATCH_WEBAUTHN_FLAG_AT) {
        if (len - off < 18)
            return refuse(err, "attested credential data is truncated");
        out->aaguid = p + off;
        n = (size_t)p[off + 16] << 8 | p[off + 17];
        off += 18;
        if (n == 0 || n > LATCH_WEBAUTHN_CRED_ID_MAX)
            return refuse(err, "credential id length %zu is out of bounds (1 to %d)", n,
                          LATCH_WEBAUTHN_CRED_ID_MAX);
        if (len - off < n)
            return refuse(err, "credential id is truncated");
        out->cred_id = p + off;
        out->cred_id_len = n;
        off += n;
        if (off >= len)
            return refuse(err, "credential public key is missing");
        if (p[off] >> 5 != CBOR_TYPE_MAP)
            return refuse(err, "credential public key is not a CBOR map");
        if (cbor_item_len(p + off, len - off, &n, "credential public key", err) != LATCH_OK)
            return LATCH_FAIL;
        out->cose_key = p + off;
        out->cose_key_len = n;
        off += n;
    }
    if (out->flags & LATCH_WEBAUTHN_FLAG_ED) {
        if (off >= len)
            return refuse(err, "extensions are missing");
        if (p[off] >> 5 != CBOR_TYPE_MAP)
            return refuse(err, "extensions are not a CBOR map");
        if (cbor_item_len(p + off, len - off, &n, "extensions", err) != LATCH_OK)
            return LATCH_FAIL;
        out->extensions = p + off;
        out->extensions_len = n;
        off += n;
    }
    if (off != len)
        return refuse(err, "authenticator data has %zu bytes after its end", len - off);
    return LATCH_OK;
}

/* ---- attestation object ------------------------------------------------------------------ */

void latch_webauthn_attestation_clear(struct latch_webauthn_attestation_object *ao)
{
    if (ao->cbor != NULL) {
        cbor_item_t *root = ao->cbor;
        cbor_decref(&root);
    }
    memset(ao, 0, sizeof(*ao));
}

latch_rc latch_webauthn_attestation_parse(const uint8_t *p, size_t len,
                                          struct latch_webauthn_attestation_object *out,
                                          struct latch_error *err)
{
    cbor_item_t *root = NULL, *fmt, *stmt, *ad;
    latch_rc rc = LATCH_FAIL;

    memset(out, 0, sizeof(*out));
    if (p == NULL || len == 0 || len > LATCH_WEBAUTHN_ATTESTATION_MAX)
        return refuse(err, "attestation object is empty or larger than %d bytes",
                      LATCH_WEBAUTHN_ATTESTATION_MAX);
    if (cbor_decode_exact(p, len, &root, "attestation object", err) != LATCH_OK)
        return LATCH_FAIL;
    if (!cbor_isa_map(root) || cbor_map_size(root) != 3) {
        refuse(err, "attestation object is not a map of fmt, attStmt and authData");
        goto done;
    }
    if (map_find(root, "fmt", 0, &fmt) != 1 || map_find(root, "attStmt", 0, &stmt) != 1 ||
        map_find(root, "authData", 0, &ad) != 1) {
        refuse(err, "attestation object is not a map of fmt, attStmt and authData");
        goto done;
    }
    if (!cbor_isa_string(fmt) || !cbor_string_is_definite(fmt) || cbor_string_length(fmt) == 0 ||
        cbor_string_length(fmt) >= sizeof(out->fmt)) {
        refuse(err, "attestation format is not a short text");
        goto done;
    }
    /* Kept only when it is printable ASCII, so it can be named in a message or a log. */
    size_t fn = cbor_string_length(fmt);
    const uint8_t *fp = cbor_string_handle(fmt);
    for (size_t i = 0; i < fn; i++) {
        if (fp[i] < 0x21 || fp[i] > 0x7e) {
            refuse(err, "attestation format is not printable ASCII");
            goto done;
        }
    }
    memcpy(out->fmt, fp, fn);
    if (!cbor_isa_map(stmt)) {
        refuse(err, "attestation statement is not a map");
        goto done;
    }
    if (!cbor_bytes(ad, &out->auth_data, &out->auth_data_len)) {
        refuse(err, "authData is not a byte string");
        goto done;
    }
    if (latch_webauthn_auth_data_parse(out->auth_data, out->auth_data_len, &out->ad, err) !=
        LATCH_OK)
        goto done;
    if (!(out->ad.flags & LATCH_WEBAUTHN_FLAG_AT)) {
        refuse(err, "authenticator data carries no attested credential data");
        goto done;
    }
    out->cbor = root;
    out->att_stmt = stmt;
    root = NULL;
    rc = LATCH_OK;
done:
    if (root != NULL)
        cbor_decref(&root);
    if (rc != LATCH_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- COSE keys --------------------------------------------------------------------------- */

static latch_rc ec_p256_key(const uint8_t *x, const uint8_t *y, EVP_PKEY **out,
                            struct latch_error *err)
{
    uint8_t pub[65];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    latch_rc rc = LATCH_FAIL;

    pub[0] = 0x04;
    memcpy(pub + 1, x, 32);
    memcpy(pub + 33, y, 32);
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1) {
        internal_fail(err, "building an EC key");
        goto done;
    }
    /* fromdata decodes the point, which must lie on the curve; public_check adds the rest. */
    if (EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
        (check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) == NULL ||
        EVP_PKEY_public_check(check) != 1) {
        EVP_PKEY_free(*out);
        *out = NULL;
        refuse(err, "credential public key is not a valid P-256 point");
        goto done;
    }
    rc = LATCH_OK;
done:
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

static latch_rc rsa_key(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len,
                        EVP_PKEY **out, struct latch_error *err)
{
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    latch_rc rc = LATCH_FAIL;

    if (bn_n == NULL || bn_e == NULL || bld == NULL) {
        internal_fail(err, "building an RSA key");
        goto done;
    }
    int bits = BN_num_bits(bn_n);
    if (bits < LATCH_WEBAUTHN_RSA_MIN_BITS || bits > LATCH_WEBAUTHN_RSA_MAX_BITS) {
        refuse(err, "RSA key of %d bits is outside %d to %d", bits, LATCH_WEBAUTHN_RSA_MIN_BITS,
               LATCH_WEBAUTHN_RSA_MAX_BITS);
        goto done;
    }
    if (!BN_is_odd(bn_e) || BN_num_bits(bn_e) < 2 || BN_num_bits(bn_e) > 64 || !BN_is_odd(bn_n)) {
        refuse(err, "RSA key is not valid");
        goto done;
    }
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        internal_fail(err, "building an RSA key");
        goto done;
    }
    rc = LATCH_OK;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return rc;
}

/* A required byte-string member of a COSE key, of exactly `want` bytes (0 = any length). */
static latch_rc cose_bytes(const cbor_item_t *map, int64_t label, size_t want, const uint8_t **p,
                           size_t *n, struct latch_error *err)
{
    cbor_item_t *v;
    int f = map_find(map, NULL, label, &v);

    if (f != 1 || !cbor_bytes(v, p, n) || (want != 0 && *n != want) || *n == 0)
        return refuse(err, "credential public key parameter %lld is missing or malformed",
                      (long long)label);
    return LATCH_OK;
}

static latch_rc cose_int(const cbor_item_t *map, int64_t label, int64_t *v, struct latch_error *err)
{
    cbor_item_t *it;

    if (map_find(map, NULL, label, &it) != 1 || !cbor_int_value(it, v))
        return refuse(err, "credential public key parameter %lld is missing or malformed",
                      (long long)label);
    return LATCH_OK;
}

latch_rc latch_webauthn_cose_key_parse(const uint8_t *p, size_t len, int *alg,
                                       struct evp_pkey_st **pkey, struct latch_error *err)
{
    cbor_item_t *map = NULL;
    EVP_PKEY *key = NULL;
    int64_t kty, a, crv;
    const uint8_t *x, *y;
    size_t xn, yn;
    latch_rc rc = LATCH_FAIL;

    if (pkey != NULL)
        *pkey = NULL;
    if (p == NULL || len == 0 || len > LATCH_WEBAUTHN_COSE_KEY_MAX)
        return refuse(err, "credential public key is empty or larger than %d bytes",
                      LATCH_WEBAUTHN_COSE_KEY_MAX);
    if (cbor_decode_exact(p, len, &map, "credential public key", err) != LATCH_OK)
        return LATCH_FAIL;
    if (!cbor_isa_map(map) || cbor_map_size(map) > 16) {
        refuse(err, "credential public key is not a COSE key map");
        goto done;
    }
    if (cose_int(map, 1, &kty, err) != LATCH_OK || cose_int(map, 3, &a, err) != LATCH_OK)
        goto done;
    switch (kty) {
    case 2: /* EC2 */
        if (a != LATCH_WEBAUTHN_ALG_ES256) {
            refuse(err, "EC2 credential key with alg %lld is not supported (ES256 is)",
                   (long long)a);
            goto done;
        }
        if (cose_int(map, -1, &crv, err) != LATCH_OK)
            goto done;
        if (crv != 1) {
            refuse(err, "EC2 credential key on curve %lld is not supported (P-256 is)",
                   (long long)crv);
            goto done;
        }
        if (cose_bytes(map, -2, 32, &x, &xn, err) != LATCH_OK ||
            cose_bytes(map, -3, 32, &y, &yn, err) != LATCH_OK)
            goto done;
        if (ec_p256_key(x, y, &key, err) != LATCH_OK)
            goto done;
        break;
    case 3: /* RSA */
        if (a != LATCH_WEBAUTHN_ALG_RS256) {
            refuse(err, "RSA credential key with alg %lld is not supported (RS256 is)",
                   (long long)a);
            goto done;
        }
        if (cose_bytes(map, -1, 0, &x, &xn, err) != LATCH_OK ||
            cose_bytes(map, -2, 0, &y, &yn, err) != LATCH_OK)
            goto done;
        if (xn > LATCH_WEBAUTHN_RSA_MAX_BITS / 8 + 1 || yn > 8) {
            refuse(err, "RSA credential key parameters are too long");
            goto done;
        }
        if (rsa_key(x, xn, y, yn, &key, err) != LATCH_OK)
            goto done;
        break;
    case 1: /* OKP */
        if (a != LATCH_WEBAUTHN_ALG_EDDSA) {
            refuse(err, "OKP credential key with alg %lld is not supported (EdDSA is)",
                   (long long)a);
            goto done;
        }
        if (cose_int(map, -1, &crv, err) != LATCH_OK)
            goto done;
        if (crv != 6) {
            refuse(err, "OKP credential key on curve %lld is not supported (Ed25519 is)",
                   (long long)crv);
            goto done;
        }
        if (cose_bytes(map, -2, 32, &x, &xn, err) != LATCH_OK)
            goto done;
        key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xn);
        if (key == NULL) {
            internal_fail(err, "building an Ed25519 key");
            goto done;
        }
        break;
    default:
        refuse(err, "credential key type %lld is not supported", (long long)kty);
        goto done;
    }
    /* A private part has no business in a stored public key. */
    cbor_item_t *d;
    if (map_find(map, NULL, -4, &d) != 0) {
        refuse(err, "credential public key carries a private key parameter");
        goto done;
    }
    *alg = (int)a;
    if (pkey != NULL) {
        *pkey = key;
        key = NULL;
    }
    rc = LATCH_OK;
done:
    EVP_PKEY_free(key);
    cbor_decref(&map);
    return rc;
}

/* ---- signatures -------------------------------------------------------------------------- */

/* Whether pkey is the kind of key alg signs with. */
static bool key_fits_alg(EVP_PKEY *pkey, int alg)
{
    char group[32];
    size_t glen = 0;

    switch (alg) {
    case LATCH_WEBAUTHN_ALG_ES256:
        return EVP_PKEY_is_a(pkey, "EC") &&
               EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                              sizeof(group), &glen) == 1 &&
               strcmp(group, "prime256v1") == 0;
    case LATCH_WEBAUTHN_ALG_RS256:
        return EVP_PKEY_is_a(pkey, "RSA") &&
               EVP_PKEY_get_bits(pkey) >= LATCH_WEBAUTHN_RSA_MIN_BITS &&
               EVP_PKEY_get_bits(pkey) <= LATCH_WEBAUTHN_RSA_MAX_BITS;
    case LATCH_WEBAUTHN_ALG_EDDSA:
        return EVP_PKEY_is_a(pkey, "ED25519");
    default:
        return false;
    }
}

/* Verifies sig over auth_data || client_data_hash with pkey under alg. `whose` names the key in
 * the refusal. */
static latch_rc verify_sig(EVP_PKEY *pkey, int alg, const uint8_t *auth_data, size_t ad_len,
                           const uint8_t cd_hash[32], const uint8_t *sig, size_t sig_len,
                           const char *whose, struct latch_error *err)
{
    EVP_MD_CTX *md = NULL;
    uint8_t *msg = NULL;
    latch_rc rc = LATCH_FAIL;

    if (!key_fits_alg(pkey, alg))
        return refuse(err, "%s does not fit algorithm %d", whose, alg);
    if (sig == NULL || sig_len == 0 || sig_len > LATCH_WEBAUTHN_SIG_MAX ||
        (alg == LATCH_WEBAUTHN_ALG_ES256 && sig_len > ES256_SIG_MAX) ||
        (alg == LATCH_WEBAUTHN_ALG_EDDSA && sig_len != 64))
        return refuse(err, "signature has an impossible length");
    msg = malloc(ad_len + 32);
    md = EVP_MD_CTX_new();
    if (msg == NULL || md == NULL) {
        internal_fail(err, "allocating a verifier");
        goto done;
    }
    memcpy(msg, auth_data, ad_len);
    memcpy(msg + ad_len, cd_hash, 32);
    /* Ed25519 is one-shot with no digest; ES256 takes the DER signature the authenticator sent
     * (OpenSSL refuses non-canonical DER); RS256 is PKCS#1 v1.5, OpenSSL's RSA default. */
    const EVP_MD *digest = alg == LATCH_WEBAUTHN_ALG_EDDSA ? NULL : EVP_sha256();
    if (EVP_DigestVerifyInit(md, NULL, digest, NULL, pkey) != 1) {
        internal_fail(err, "starting a signature check");
        goto done;
    }
    if (EVP_DigestVerify(md, sig, sig_len, msg, ad_len + 32) != 1) {
        refuse(err, "signature by the %s is not valid", whose);
        goto done;
    }
    rc = LATCH_OK;
done:
    EVP_MD_CTX_free(md);
    free(msg);
    return rc;
}

/* ---- clientDataJSON ---------------------------------------------------------------------- */

static const char *json_str(yajl_val tree, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(tree, path, yajl_t_string);
    return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static latch_rc check_client_data(const struct latch_webauthn_expect *exp, const char *type,
                                  const uint8_t *cdj, size_t len, uint8_t hash[32],
                                  struct latch_error *err)
{
    const struct latch_json_limits lim = {
        .max_bytes = LATCH_WEBAUTHN_CLIENT_DATA_MAX,
        .max_depth = 4,
        .max_members = 32,
        .require_object = true,
    };
    struct latch_error jerr;
    yajl_val tree = NULL;
    const char *s;
    latch_rc rc = LATCH_FAIL;

    if (exp == NULL || exp->rp_id == NULL || exp->origin == NULL || exp->challenge == NULL)
        return internal_fail(err, "a WebAuthn check without expectations");
    if (cdj == NULL || len == 0 || len > LATCH_WEBAUTHN_CLIENT_DATA_MAX)
        return refuse(err, "clientDataJSON is empty or larger than %d bytes",
                      LATCH_WEBAUTHN_CLIENT_DATA_MAX);
    if (latch_json_parse((const char *)cdj, len, &lim, &tree, &jerr) != LATCH_OK) {
        if (jerr.status >= 500)
            return internal_fail(err, "parsing clientDataJSON");
        return refuse(err, "clientDataJSON %s", jerr.message);
    }
    if ((s = json_str(tree, "type")) == NULL || strcmp(s, type) != 0) {
        refuse(err, "clientDataJSON type is not %s", type);
        goto done;
    }
    s = json_str(tree, "challenge");
    size_t want = strlen(exp->challenge);
    if (s == NULL || strlen(s) != want || want == 0 ||
        CRYPTO_memcmp(s, exp->challenge, want) != 0) {
        refuse(err, "challenge does not match the one issued");
        goto done;
    }
    if ((s = json_str(tree, "origin")) == NULL || strcmp(s, exp->origin) != 0) {
        refuse(err, "origin does not match %s", exp->origin);
        goto done;
    }
    const char *cross[] = {"crossOrigin", NULL};
    yajl_val co = yajl_tree_get(tree, cross, yajl_t_any);
    if (co != NULL && !YAJL_IS_FALSE(co)) {
        refuse(err, "cross-origin ceremonies are not accepted");
        goto done;
    }
    /* Token binding (Level 2): "present" would have to match the TLS connection's binding,
     * which this server does not negotiate; "supported" or absent is fine. */
    const char *tb[] = {"tokenBinding", "status", NULL};
    yajl_val tbs = yajl_tree_get(tree, tb, yajl_t_string);
    const char *tb_status = tbs != NULL ? YAJL_GET_STRING(tbs) : NULL;
    if (tb_status != NULL && strcmp(tb_status, "present") == 0) {
        refuse(err, "token binding is not supported");
        goto done;
    }
    SHA256(cdj, len, hash);
    rc = LATCH_OK;
done:
    yajl_tree_free(tree);
    return rc;
}

/* rpIdHash, UP, UV when required, BS only with BE. */
static latch_rc check_auth_data(const struct latch_webauthn_expect *exp,
                                const struct latch_webauthn_auth_data *ad, struct latch_error *err)
{
    uint8_t rp_hash[32];

    SHA256((const uint8_t *)exp->rp_id, strlen(exp->rp_id), rp_hash);
    if (CRYPTO_memcmp(rp_hash, ad->rp_id_hash, 32) != 0)
        return refuse(err, "RP ID hash does not match %s", exp->rp_id);
    if (!(ad->flags & LATCH_WEBAUTHN_FLAG_UP))
        return refuse(err, "user presence flag is not set");
    if (exp->require_uv && !(ad->flags & LATCH_WEBAUTHN_FLAG_UV))
        return refuse(err, "user verification is required but was not performed");
    if ((ad->flags & LATCH_WEBAUTHN_FLAG_BS) && !(ad->flags & LATCH_WEBAUTHN_FLAG_BE))
        return refuse(err, "backed-up flag is set without backup eligibility");
    return LATCH_OK;
}

/* ---- packed attestation ------------------------------------------------------------------ */

static bool name_has(X509_NAME *name, int nid, const char *want)
{
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0)
        return false;
    if (want == NULL)
        return true;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    size_t n = strlen(want);
    return s != NULL && (size_t)ASN1_STRING_length(s) == n &&
           memcmp(ASN1_STRING_get0_data(s), want, n) == 0;
}

/* The attestation certificate requirements of WebAuthn §8.2.1. */
static latch_rc check_packed_cert(X509 *leaf, const uint8_t aaguid[16], struct latch_error *err)
{
    X509_NAME *subj = X509_get_subject_name(leaf);
    BASIC_CONSTRAINTS *bc;
    ASN1_OBJECT *oid = NULL;
    int crit = 0;
    latch_rc rc = LATCH_FAIL;

    if (X509_get_version(leaf) != X509_VERSION_3)
        return refuse(err, "attestation certificate is not X.509 version 3");
    if (subj == NULL || !name_has(subj, NID_organizationalUnitName, "Authenticator Attestation"))
        return refuse(err, "attestation certificate subject OU is not \"Authenticator "
                           "Attestation\"");
    if (!name_has(subj, NID_countryName, NULL) || !name_has(subj, NID_organizationName, NULL) ||
        !name_has(subj, NID_commonName, NULL))
        return refuse(err, "attestation certificate subject lacks C, O or CN");
    bc = X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, NULL);
    if (bc == NULL)
        return refuse(err, "attestation certificate has no (single) basic constraints");
    bool ca = bc->ca != 0;
    BASIC_CONSTRAINTS_free(bc);
    if (ca)
        return refuse(err, "attestation certificate is a CA certificate");

    oid = OBJ_txt2obj(OID_FIDO_AAGUID, 1);
    if (oid == NULL)
        return internal_fail(err, "making the AAGUID extension OID");
    int idx = X509_get_ext_by_OBJ(leaf, oid, -1);
    if (idx >= 0) {
        X509_EXTENSION *ext = X509_get_ext(leaf, idx);
        const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
        /* The extension's value is the DER of an OCTET STRING of the 16-byte AAGUID. */
        const uint8_t *d = v != NULL ? ASN1_STRING_get0_data(v) : NULL;
        if (X509_get_ext_by_OBJ(leaf, oid, idx) >= 0) {
            refuse(err, "attestation certificate names its AAGUID twice");
            goto done;
        }
        if (X509_EXTENSION_get_critical(ext)) {
            refuse(err, "attestation certificate AAGUID extension is critical");
            goto done;
        }
        if (d == NULL || ASN1_STRING_length(v) != 18 || d[0] != 0x04 || d[1] != 16 ||
            memcmp(d + 2, aaguid, 16) != 0) {
            refuse(err, "attestation certificate AAGUID does not match the authenticator's");
            goto done;
        }
    }
    rc = LATCH_OK;
done:
    ASN1_OBJECT_free(oid);
    return rc;
}

static latch_rc verify_packed(const struct latch_webauthn_attestation_object *ao, EVP_PKEY *cred,
                              int cred_alg, const uint8_t cd_hash[32],
                              enum latch_webauthn_attestation *type, struct latch_error *err)
{
    const cbor_item_t *stmt = ao->att_stmt;
    cbor_item_t *alg_it, *sig_it, *x5c, *other;
    const uint8_t *sig;
    size_t sig_len;
    int64_t alg;
    X509 *leaf = NULL;
    latch_rc rc = LATCH_FAIL;

    if (map_find(stmt, "ecdaaKeyId", 0, &other) != 0)
        return refuse(err, "ECDAA attestation is not supported");
    int has_x5c = map_find(stmt, "x5c", 0, &x5c);
    if (map_find(stmt, "alg", 0, &alg_it) != 1 || !cbor_int_value(alg_it, &alg) ||
        map_find(stmt, "sig", 0, &sig_it) != 1 || !cbor_bytes(sig_it, &sig, &sig_len) ||
        has_x5c < 0 || cbor_map_size(stmt) != (size_t)(2 + has_x5c))
        return refuse(err, "packed attestation statement is not {alg, sig[, x5c]}");
    if (alg != LATCH_WEBAUTHN_ALG_ES256 && alg != LATCH_WEBAUTHN_ALG_RS256 &&
        alg != LATCH_WEBAUTHN_ALG_EDDSA)
        return refuse(err, "packed attestation algorithm %lld is not supported", (long long)alg);

    if (!has_x5c) {
        /* Self attestation: the credential key signs, under its own algorithm. */
        if (alg != cred_alg)
            return refuse(err,
                          "self attestation algorithm %lld does not match the credential "
                          "key's %d",
                          (long long)alg, cred_alg);
        if (verify_sig(cred, cred_alg, ao->auth_data, ao->auth_data_len, cd_hash, sig, sig_len,
                       "credential key", err) != LATCH_OK)
            return LATCH_FAIL;
        *type = LATCH_WEBAUTHN_ATTESTATION_SELF;
        return LATCH_OK;
    }

    if (!cbor_isa_array(x5c) || cbor_array_size(x5c) == 0 || cbor_array_size(x5c) > X5C_MAX)
        return refuse(err, "x5c is not an array of 1 to %d certificates", X5C_MAX);
    cbor_item_t **certs = cbor_array_handle(x5c);
    for (size_t i = 0; i < cbor_array_size(x5c); i++) {
        const uint8_t *der, *q;
        size_t der_len;
        if (!cbor_bytes(certs[i], &der, &der_len) || der_len == 0 || der_len > 8192) {
            refuse(err, "x5c entry %zu is not a DER certificate", i);
            goto done;
        }
        q = der;
        X509 *c = d2i_X509(NULL, &q, (long)der_len);
        if (c == NULL || q != der + der_len) {
            X509_free(c);
            refuse(err, "x5c entry %zu is not a DER certificate", i);
            goto done;
        }
        if (i == 0)
            leaf = c;
        else
            X509_free(c);
    }
    EVP_PKEY *leaf_key = X509_get0_pubkey(leaf);
    if (leaf_key == NULL) {
        refuse(err, "attestation certificate key is not usable");
        goto done;
    }
    if (verify_sig(leaf_key, (int)alg, ao->auth_data, ao->auth_data_len, cd_hash, sig, sig_len,
                   "attestation certificate", err) != LATCH_OK)
        goto done;
    if (check_packed_cert(leaf, ao->ad.aaguid, err) != LATCH_OK)
        goto done;
    *type = LATCH_WEBAUTHN_ATTESTATION_BASIC;
    rc = LATCH_OK;
done:
    X509_free(leaf);
    return rc;
}

/* ---- the ceremonies ---------------------------------------------------------------------- */

latch_rc latch_webauthn_rp_from_url(const char *url, char rp_id[LATCH_WEBAUTHN_RP_ID_MAX + 1],
                                    char origin[LATCH_WEBAUTHN_ORIGIN_MAX + 1],
                                    struct latch_error *err)
{
    const char *scheme, *host, *end;
    size_t hostlen, portlen;
    bool https;

    rp_id[0] = origin[0] = '\0';
    if (url == NULL)
        goto bad;
    if (strncasecmp(url, "https://", 8) == 0) {
        https = true;
        host = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = false;
        host = url + 7;
    } else {
        goto bad;
    }
    scheme = https ? "https" : "http";
    end = host + strcspn(host, "/?#");
    hostlen = strcspn(host, ":/?#");
    portlen = (size_t)(end - host) - hostlen; /* ":port" or nothing */
    if (hostlen == 0 || hostlen > LATCH_WEBAUTHN_RP_ID_MAX || memchr(host, '@', hostlen) ||
        host[0] == '[')
        goto bad;
    bool digits_and_dots = true;
    for (size_t i = 0; i < hostlen; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok)
            goto bad;
        if (!(c >= '0' && c <= '9') && c != '.')
            digits_and_dots = false;
    }
    if (digits_and_dots)
        return latch_error_set(err, 500, "server_error",
                               "WebAuthn needs LATCH_PUBLIC_URL with a domain name, not an IP "
                               "address.");
    for (size_t i = 0; i < hostlen; i++)
        rp_id[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] - 'A' + 'a' : host[i]);
    rp_id[hostlen] = '\0';
    if (portlen > 0) {
        const char *port = host + hostlen + 1;
        size_t n = portlen - 1;
        if (n == 0 || n > 5 || strspn(port, "0123456789") < n)
            goto bad;
        if ((https && n == 3 && memcmp(port, "443", 3) == 0) ||
            (!https && n == 2 && memcmp(port, "80", 2) == 0))
            portlen = 0;
    }
    if (snprintf(origin, LATCH_WEBAUTHN_ORIGIN_MAX + 1, "%s://%s%.*s", scheme, rp_id, (int)portlen,
                 host + hostlen) > LATCH_WEBAUTHN_ORIGIN_MAX)
        goto bad;
    return LATCH_OK;
bad:
    rp_id[0] = origin[0] = '\0';
    return latch_error_set(
        err, 500, "server_error",
        "LATCH_PUBLIC_URL gives no WebAuthn RP ID (want http(s)://host[:port]).");
}

latch_rc latch_webauthn_challenge_new(char out[LATCH_WEBAUTHN_CHALLENGE_LEN + 1],
                                      struct latch_error *err)
{
    uint8_t raw[LATCH_WEBAUTHN_CHALLENGE_BYTES];

    out[0] = '\0';
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return internal_fail(err, "drawing a challenge");
    if (latch_base64url_encode(raw, sizeof(raw), out, LATCH_WEBAUTHN_CHALLENGE_LEN + 1) !=
        LATCH_WEBAUTHN_CHALLENGE_LEN)
        return internal_fail(err, "encoding a challenge");
    return LATCH_OK;
}

latch_rc latch_webauthn_verify_registration(const struct latch_webauthn_expect *exp,
                                            const uint8_t *client_data_json, size_t cdj_len,
                                            const uint8_t *attestation_object, size_t ao_len,
                                            struct latch_webauthn_credential *out,
                                            struct latch_error *err)
{
    struct latch_webauthn_attestation_object ao;
    enum latch_webauthn_attestation type = LATCH_WEBAUTHN_ATTESTATION_NONE;
    uint8_t cd_hash[32];
    EVP_PKEY *cred = NULL;
    int alg = 0;
    latch_rc rc = LATCH_FAIL;

    memset(out, 0, sizeof(*out));
    if (check_client_data(exp, "webauthn.create", client_data_json, cdj_len, cd_hash, err) !=
        LATCH_OK)
        return LATCH_FAIL;
    if (latch_webauthn_attestation_parse(attestation_object, ao_len, &ao, err) != LATCH_OK)
        return LATCH_FAIL;
    if (check_auth_data(exp, &ao.ad, err) != LATCH_OK)
        goto done;
    if (latch_webauthn_cose_key_parse(ao.ad.cose_key, ao.ad.cose_key_len, &alg, &cred, err) !=
        LATCH_OK)
        goto done;

    if (strcmp(ao.fmt, "none") == 0) {
        if (cbor_map_size(ao.att_stmt) != 0) {
            refuse(err, "a none attestation statement must be empty");
            goto done;
        }
    } else if (strcmp(ao.fmt, "packed") == 0) {
        if (verify_packed(&ao, cred, alg, cd_hash, &type, err) != LATCH_OK)
            goto done;
    } else if (!exp->other_formats_as_none) {
        refuse(err, "attestation format %s is not supported (none and packed are)", ao.fmt);
        goto done;
    }

    memcpy(out->id, ao.ad.cred_id, ao.ad.cred_id_len);
    out->id_len = ao.ad.cred_id_len;
    memcpy(out->cose_key, ao.ad.cose_key, ao.ad.cose_key_len);
    out->cose_key_len = ao.ad.cose_key_len;
    out->alg = alg;
    out->sign_count = ao.ad.sign_count;
    memcpy(out->aaguid, ao.ad.aaguid, 16);
    out->flags = ao.ad.flags;
    out->attestation = type;
    memcpy(out->fmt, ao.fmt, sizeof(out->fmt));
    rc = LATCH_OK;
done:
    EVP_PKEY_free(cred);
    latch_webauthn_attestation_clear(&ao);
    return rc;
}

latch_rc
latch_webauthn_verify_assertion(const struct latch_webauthn_expect *exp, const uint8_t *cose_key,
                                size_t cose_key_len, uint32_t stored_sign_count,
                                const uint8_t *client_data_json, size_t cdj_len,
                                const uint8_t *auth_data, size_t auth_data_len, const uint8_t *sig,
                                size_t sig_len, const uint8_t *user_handle, size_t user_handle_len,
                                struct latch_webauthn_assertion *out, struct latch_error *err)
{
    struct latch_webauthn_auth_data ad;
    uint8_t cd_hash[32];
    EVP_PKEY *key = NULL;
    int alg = 0;
    latch_rc rc = LATCH_FAIL;

    memset(out, 0, sizeof(*out));
    if (auth_data_len > LATCH_WEBAUTHN_AUTH_DATA_MAX)
        return refuse(err, "authenticator data is larger than %d bytes",
                      LATCH_WEBAUTHN_AUTH_DATA_MAX);
    if (user_handle_len > LATCH_WEBAUTHN_USER_HANDLE_MAX ||
        (user_handle_len > 0 && user_handle == NULL))
        return refuse(err, "user handle is longer than %d bytes", LATCH_WEBAUTHN_USER_HANDLE_MAX);
    if (check_client_data(exp, "webauthn.get", client_data_json, cdj_len, cd_hash, err) != LATCH_OK)
        return LATCH_FAIL;
    if (latch_webauthn_auth_data_parse(auth_data, auth_data_len, &ad, err) != LATCH_OK ||
        check_auth_data(exp, &ad, err) != LATCH_OK)
        return LATCH_FAIL;
    if (latch_webauthn_cose_key_parse(cose_key, cose_key_len, &alg, &key, err) != LATCH_OK)
        return LATCH_FAIL;
    if (verify_sig(key, alg, auth_data, auth_data_len, cd_hash, sig, sig_len, "credential key",
                   err) != LATCH_OK)
        goto done;
    /* WebAuthn §7.2 step 21: a counter that does not move forward, when either side counts,
     * means two authenticators hold the key. */
    if ((stored_sign_count != 0 || ad.sign_count != 0) && ad.sign_count <= stored_sign_count) {
        latch_error_set(err, 400, LATCH_WEBAUTHN_ERR_CLONED,
                        "WebAuthn: the signature counter did not increase; the authenticator "
                        "may have been cloned.");
        latch_error_detail(err, "webauthn: sign count %u after stored %u", ad.sign_count,
                           stored_sign_count);
        goto done;
    }
    out->sign_count = ad.sign_count;
    out->flags = ad.flags;
    if (user_handle_len > 0)
        memcpy(out->user_handle, user_handle, user_handle_len);
    out->user_handle_len = user_handle_len;
    rc = LATCH_OK;
done:
    EVP_PKEY_free(key);
    return rc;
}
