/*
 * Unit tests for core/webauthn/: every ceremony is built here the way an authenticator and a
 * browser build it (libcbor for the attestation object and COSE keys, OpenSSL for the keys, the
 * signatures and an attestation certificate), for ES256, RS256 and EdDSA, with attestation none,
 * packed self and packed x5c; then each input is broken in one way the issue lists (origin,
 * challenge, counter, RP ID, signature, authData, truncation, size, type) and must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/base64.h"
#include "webauthn/webauthn.h"

#define RP_ID     "login.example.com"
#define ORIGIN    "https://login.example.com"
#define CHALLENGE "dGhpcyBpcyBhIDMyLWJ5dGUgY2hhbGxlbmdlIHh4eHg"

static const uint8_t aaguid[16] = {0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a,
                                   0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03};
static const uint8_t cred_id[20] = "credential-id-012345";

struct key {
    EVP_PKEY *pkey;
    int alg;
    uint8_t cose[LATCH_WEBAUTHN_COSE_KEY_MAX];
    size_t cose_len;
};

static struct key es256, rs256, eddsa, other_es256;

/* ---- building what an authenticator sends ------------------------------------------------ */

static void add(cbor_item_t *map, cbor_item_t *k, cbor_item_t *v)
{
    assert_true(cbor_map_add(map, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)}));
}

static cbor_item_t *cbor_int(int64_t v)
{
    if (v >= 0)
        return cbor_build_uint64((uint64_t)v);
    return cbor_build_negint64((uint64_t)(-1 - v));
}

static size_t serialize(cbor_item_t *it, uint8_t *out, size_t cap)
{
    uint8_t *buf = NULL;
    size_t bufsz = 0, n = cbor_serialize_alloc(it, &buf, &bufsz);
    assert_true(n > 0 && n <= cap);
    memcpy(out, buf, n);
    free(buf);
    cbor_decref(&it);
    return n;
}

static void make_key(struct key *k, int alg)
{
    cbor_item_t *m = cbor_new_definite_map(5);
    uint8_t buf[1024];
    size_t n;

    k->alg = alg;
    if (alg == LATCH_WEBAUTHN_ALG_ES256) {
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        assert_non_null(k->pkey);
        assert_int_equal(
            EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, buf, sizeof(buf), &n),
            1);
        assert_int_equal(n, 65);
        add(m, cbor_int(1), cbor_int(2));
        add(m, cbor_int(3), cbor_int(-7));
        add(m, cbor_int(-1), cbor_int(1));
        add(m, cbor_int(-2), cbor_build_bytestring(buf + 1, 32));
        add(m, cbor_int(-3), cbor_build_bytestring(buf + 33, 32));
    } else if (alg == LATCH_WEBAUTHN_ALG_RS256) {
        BIGNUM *bn_n = NULL, *bn_e = NULL;
        uint8_t e[8];
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        assert_non_null(k->pkey);
        assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &bn_n), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &bn_e), 1);
        int nl = BN_bn2bin(bn_n, buf), el = BN_bn2bin(bn_e, e);
        add(m, cbor_int(1), cbor_int(3));
        add(m, cbor_int(3), cbor_int(-257));
        add(m, cbor_int(-1), cbor_build_bytestring(buf, (size_t)nl));
        add(m, cbor_int(-2), cbor_build_bytestring(e, (size_t)el));
        BN_free(bn_n);
        BN_free(bn_e);
    } else {
        k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        assert_non_null(k->pkey);
        n = 32;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k->pkey, buf, &n), 1);
        add(m, cbor_int(1), cbor_int(1));
        add(m, cbor_int(3), cbor_int(-8));
        add(m, cbor_int(-1), cbor_int(6));
        add(m, cbor_int(-2), cbor_build_bytestring(buf, 32));
    }
    k->cose_len = serialize(m, k->cose, sizeof(k->cose));
}

static size_t sign(EVP_PKEY *pkey, int alg, const uint8_t *ad, size_t ad_len, const char *cdj,
                   uint8_t *sig)
{
    uint8_t msg[8192];
    size_t sig_len = 1024;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    memcpy(msg, ad, ad_len);
    SHA256((const uint8_t *)cdj, strlen(cdj), msg + ad_len);
    assert_int_equal(EVP_DigestSignInit(md, NULL,
                                        alg == LATCH_WEBAUTHN_ALG_EDDSA ? NULL : EVP_sha256(), NULL,
                                        pkey),
                     1);
    assert_int_equal(EVP_DigestSign(md, sig, &sig_len, msg, ad_len + 32), 1);
    EVP_MD_CTX_free(md);
    return sig_len;
}

/* authenticatorData; cose NULL = no attested credential data. */
static size_t auth_data(uint8_t *out, const char *rp_id, uint8_t flags, uint32_t count,
                        const struct key *k, bool ext)
{
    size_t n = 0;

    SHA256((const uint8_t *)rp_id, strlen(rp_id), out);
    n = 32;
    out[n++] =
        (uint8_t)(flags | (k ? LATCH_WEBAUTHN_FLAG_AT : 0) | (ext ? LATCH_WEBAUTHN_FLAG_ED : 0));
    out[n++] = (uint8_t)(count >> 24);
    out[n++] = (uint8_t)(count >> 16);
    out[n++] = (uint8_t)(count >> 8);
    out[n++] = (uint8_t)count;
    if (k != NULL) {
        memcpy(out + n, aaguid, 16);
        n += 16;
        out[n++] = 0;
        out[n++] = sizeof(cred_id);
        memcpy(out + n, cred_id, sizeof(cred_id));
        n += sizeof(cred_id);
        memcpy(out + n, k->cose, k->cose_len);
        n += k->cose_len;
    }
    if (ext) {
        cbor_item_t *m = cbor_new_definite_map(1);
        add(m, cbor_build_string("credProtect"), cbor_int(2));
        n += serialize(m, out + n, 64);
    }
    return n;
}

static const char *client_data(const char *type, const char *challenge, const char *origin)
{
    static char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\",\"crossOrigin\":false}", type,
             challenge, origin);
    return buf;
}

static size_t att_object(const char *fmt, cbor_item_t *stmt, const uint8_t *ad, size_t ad_len,
                         uint8_t *out, size_t cap)
{
    cbor_item_t *m = cbor_new_definite_map(3);
    add(m, cbor_build_string("fmt"), cbor_build_string(fmt));
    add(m, cbor_build_string("attStmt"), stmt);
    add(m, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    return serialize(m, out, cap);
}

static cbor_item_t *packed_stmt(int alg, const uint8_t *sig, size_t sig_len, const uint8_t *cert,
                                size_t cert_len)
{
    cbor_item_t *m = cbor_new_definite_map(cert ? 3 : 2);
    add(m, cbor_build_string("alg"), cbor_int(alg));
    add(m, cbor_build_string("sig"), cbor_build_bytestring(sig, sig_len));
    if (cert != NULL) {
        cbor_item_t *a = cbor_new_definite_array(1);
        assert_true(cbor_array_push(a, cbor_move(cbor_build_bytestring(cert, cert_len))));
        add(m, cbor_build_string("x5c"), a);
    }
    return m;
}

/* An attestation certificate for leaf_key, issued by ca_key; the knobs break one §8.2.1 rule. */
struct cert_opts {
    const char *ou;
    bool ca;
    bool no_bc;
    const uint8_t *aaguid; /* NULL: no AAGUID extension */
    bool v1;
};

static size_t make_cert(EVP_PKEY *leaf_key, EVP_PKEY *ca_key, const struct cert_opts *o,
                        uint8_t *out)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    uint8_t *p = out;

    assert_int_equal(X509_set_version(x, o->v1 ? X509_VERSION_1 : X509_VERSION_3), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const uint8_t *)"SE", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const uint8_t *)"Latch Test", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const uint8_t *)o->ou, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const uint8_t *)"Test Key", -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, leaf_key);
    if (!o->v1) {
        if (!o->no_bc) {
            X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints,
                                                     o->ca ? "critical,CA:TRUE" : "CA:FALSE");
            assert_non_null(bc);
            X509_add_ext(x, bc, -1);
            X509_EXTENSION_free(bc);
        }
        if (o->aaguid != NULL) {
            uint8_t der[18] = {0x04, 16};
            memcpy(der + 2, o->aaguid, 16);
            ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
            ASN1_OCTET_STRING_set(os, der, sizeof(der));
            ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
            X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
            assert_non_null(ext);
            X509_add_ext(x, ext, -1);
            X509_EXTENSION_free(ext);
            ASN1_OBJECT_free(obj);
            ASN1_OCTET_STRING_free(os);
        }
    }
    assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
    int n = i2d_X509(x, &p);
    assert_true(n > 0 && n < 4096);
    X509_NAME_free(name);
    X509_free(x);
    return (size_t)n;
}

static struct latch_webauthn_expect expect(void)
{
    return (struct latch_webauthn_expect){.rp_id = RP_ID, .origin = ORIGIN, .challenge = CHALLENGE};
}

static int setup(void **state)
{
    make_key(&es256, LATCH_WEBAUTHN_ALG_ES256);
    make_key(&rs256, LATCH_WEBAUTHN_ALG_RS256);
    make_key(&eddsa, LATCH_WEBAUTHN_ALG_EDDSA);
    make_key(&other_es256, LATCH_WEBAUTHN_ALG_ES256);
    return 0;
}

static int teardown(void **state)
{
    EVP_PKEY_free(es256.pkey);
    EVP_PKEY_free(rs256.pkey);
    EVP_PKEY_free(eddsa.pkey);
    EVP_PKEY_free(other_es256.pkey);
    return 0;
}

/* A `none` registration of k, as bytes. */
static size_t none_registration(const struct key *k, const char *cdj, uint8_t flags, uint8_t *ao,
                                size_t cap)
{
    uint8_t ad[2048];
    size_t ad_len = auth_data(ad, RP_ID, flags, 0, k, false);
    (void)cdj;
    return att_object("none", cbor_new_definite_map(0), ad, ad_len, ao, cap);
}

static latch_rc reg(const struct latch_webauthn_expect *e, const char *cdj, const uint8_t *ao,
                    size_t ao_len, struct latch_webauthn_credential *c, struct latch_error *err)
{
    return latch_webauthn_verify_registration(e, (const uint8_t *)cdj, strlen(cdj), ao, ao_len, c,
                                              err);
}

static void assert_refused(latch_rc rc, const struct latch_error *err, const char *needle)
{
    assert_int_equal(rc, LATCH_FAIL);
    assert_int_equal(err->status, 400);
    assert_string_equal(err->code, LATCH_WEBAUTHN_ERR_FAILED);
    if (strstr(err->message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->message, needle);
}

/* ---- registration ------------------------------------------------------------------------ */

static void check_credential(const struct latch_webauthn_credential *c, const struct key *k,
                             enum latch_webauthn_attestation type, const char *fmt)
{
    assert_int_equal(c->alg, k->alg);
    assert_int_equal(c->id_len, sizeof(cred_id));
    assert_memory_equal(c->id, cred_id, sizeof(cred_id));
    assert_int_equal(c->cose_key_len, k->cose_len);
    assert_memory_equal(c->cose_key, k->cose, k->cose_len);
    assert_memory_equal(c->aaguid, aaguid, 16);
    assert_int_equal(c->attestation, type);
    assert_string_equal(c->fmt, fmt);
}

static void test_register_none_all_algs(void **state)
{
    const struct key *keys[] = {&es256, &rs256, &eddsa};
    const char *cdj = client_data("webauthn.create", CHALLENGE, ORIGIN);
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_credential c;
    struct latch_error err = {0};
    uint8_t ao[4096];

    for (size_t i = 0; i < 3; i++) {
        size_t n = none_registration(keys[i], cdj, LATCH_WEBAUTHN_FLAG_UP | LATCH_WEBAUTHN_FLAG_UV,
                                     ao, sizeof(ao));
        e.require_uv = true;
        assert_int_equal(reg(&e, cdj, ao, n, &c, &err), LATCH_OK);
        check_credential(&c, keys[i], LATCH_WEBAUTHN_ATTESTATION_NONE, "none");
        assert_true(c.flags & LATCH_WEBAUTHN_FLAG_UV);
    }
}

static void test_register_packed_self_all_algs(void **state)
{
    const struct key *keys[] = {&es256, &rs256, &eddsa};
    char cdj[512], other[512];
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_credential c;
    struct latch_error err = {0};
    uint8_t ad[2048], sig[1024], ao[4096];

    /* client_data() answers in one static buffer: keep copies. */
    snprintf(cdj, sizeof(cdj), "%s", client_data("webauthn.create", CHALLENGE, ORIGIN));
    snprintf(other, sizeof(other), "%s", client_data("webauthn.create", CHALLENGE, ORIGIN "/x"));

    for (size_t i = 0; i < 3; i++) {
        /* With an extension map after the key, to check it is skipped exactly. */
        size_t ad_len = auth_data(ad, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 7, keys[i], true);
        size_t sig_len = sign(keys[i]->pkey, keys[i]->alg, ad, ad_len, cdj, sig);
        size_t n = att_object("packed", packed_stmt(keys[i]->alg, sig, sig_len, NULL, 0), ad,
                              ad_len, ao, sizeof(ao));
        assert_int_equal(reg(&e, cdj, ao, n, &c, &err), LATCH_OK);
        check_credential(&c, keys[i], LATCH_WEBAUTHN_ATTESTATION_SELF, "packed");
        assert_int_equal(c.sign_count, 7);

        /* The statement's alg must be the credential key's. */
        int wrong = keys[i]->alg == LATCH_WEBAUTHN_ALG_ES256 ? LATCH_WEBAUTHN_ALG_RS256
                                                             : LATCH_WEBAUTHN_ALG_ES256;
        n = att_object("packed", packed_stmt(wrong, sig, sig_len, NULL, 0), ad, ad_len, ao,
                       sizeof(ao));
        assert_refused(reg(&e, cdj, ao, n, &c, &err), &err, "does not match the credential");

        /* Signed over other client data: refused. */
        sig_len = sign(keys[i]->pkey, keys[i]->alg, ad, ad_len, other, sig);
        n = att_object("packed", packed_stmt(keys[i]->alg, sig, sig_len, NULL, 0), ad, ad_len, ao,
                       sizeof(ao));
        assert_refused(reg(&e, cdj, ao, n, &c, &err), &err, "signature by the credential key");
    }
}

static latch_rc x5c_case(const struct cert_opts *o, EVP_PKEY *signer, struct latch_error *err)
{
    const char *cdj = client_data("webauthn.create", CHALLENGE, ORIGIN);
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_credential c;
    uint8_t ad[2048], sig[1024], ao[8192], cert[4096];

    /* The attestation key is other_es256; the credential is an Ed25519 key. */
    size_t cert_len = make_cert(other_es256.pkey, rs256.pkey, o, cert);
    size_t ad_len = auth_data(ad, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 1, &eddsa, false);
    size_t sig_len = sign(signer, LATCH_WEBAUTHN_ALG_ES256, ad, ad_len, cdj, sig);
    size_t n =
        att_object("packed", packed_stmt(LATCH_WEBAUTHN_ALG_ES256, sig, sig_len, cert, cert_len),
                   ad, ad_len, ao, sizeof(ao));
    latch_rc rc = reg(&e, cdj, ao, n, &c, err);
    if (rc == LATCH_OK)
        check_credential(&c, &eddsa, LATCH_WEBAUTHN_ATTESTATION_BASIC, "packed");
    return rc;
}

static void test_register_packed_x5c(void **state)
{
    struct latch_error err = {0};
    const uint8_t other_aaguid[16] = {1};
    struct cert_opts ok = {.ou = "Authenticator Attestation", .aaguid = aaguid};

    assert_int_equal(x5c_case(&ok, other_es256.pkey, &err), LATCH_OK);
    struct cert_opts no_ext = {.ou = "Authenticator Attestation"};
    assert_int_equal(x5c_case(&no_ext, other_es256.pkey, &err), LATCH_OK);

    /* Signed by a key other than the certificate's. */
    assert_refused(x5c_case(&ok, es256.pkey, &err), &err, "attestation certificate is not valid");
    struct cert_opts bad_ou = {.ou = "Authenticator", .aaguid = aaguid};
    assert_refused(x5c_case(&bad_ou, other_es256.pkey, &err), &err, "OU");
    struct cert_opts ca = {.ou = "Authenticator Attestation", .ca = true};
    assert_refused(x5c_case(&ca, other_es256.pkey, &err), &err, "CA certificate");
    struct cert_opts no_bc = {.ou = "Authenticator Attestation", .no_bc = true};
    assert_refused(x5c_case(&no_bc, other_es256.pkey, &err), &err, "basic constraints");
    struct cert_opts wrong_aaguid = {.ou = "Authenticator Attestation", .aaguid = other_aaguid};
    assert_refused(x5c_case(&wrong_aaguid, other_es256.pkey, &err), &err, "AAGUID");
    struct cert_opts v1 = {.ou = "Authenticator Attestation", .v1 = true};
    assert_refused(x5c_case(&v1, other_es256.pkey, &err), &err, "version 3");
}

static void test_register_refusals(void **state)
{
    const char *good =
        "{\"type\":\"webauthn.create\",\"challenge\":\"" CHALLENGE "\",\"origin\":\"" ORIGIN "\"}";
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_credential c;
    struct latch_error err = {0};
    uint8_t ao[4096], ad[2048];
    size_t n = none_registration(&es256, good, LATCH_WEBAUTHN_FLAG_UP, ao, sizeof(ao));

    assert_int_equal(reg(&e, good, ao, n, &c, &err), LATCH_OK);
    /* clientDataJSON */
    assert_refused(reg(&e, client_data("webauthn.get", CHALLENGE, ORIGIN), ao, n, &c, &err), &err,
                   "type is not webauthn.create");
    assert_refused(
        reg(&e, client_data("webauthn.create", CHALLENGE, "https://evil.example"), ao, n, &c, &err),
        &err, "origin");
    assert_refused(
        reg(&e, client_data("webauthn.create", CHALLENGE, ORIGIN ":443"), ao, n, &c, &err), &err,
        "origin");
    assert_refused(
        reg(&e,
            client_data("webauthn.create", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ORIGIN),
            ao, n, &c, &err),
        &err, "challenge");
    assert_refused(reg(&e, client_data("webauthn.create", CHALLENGE "A", ORIGIN), ao, n, &c, &err),
                   &err, "challenge");
    assert_refused(reg(&e,
                       "{\"type\":\"webauthn.create\",\"challenge\":\"" CHALLENGE
                       "\",\"origin\":\"" ORIGIN "\",\"crossOrigin\":true}",
                       ao, n, &c, &err),
                   &err, "cross-origin");
    assert_refused(
        reg(&e, "{\"type\":\"webauthn.create\",\"type\":\"webauthn.create\"}", ao, n, &c, &err),
        &err, "duplicate");
    assert_refused(reg(&e,
                       "{\"type\":\"webauthn.create\",\"challenge\":\"" CHALLENGE
                       "\",\"origin\":\"" ORIGIN "\",\"tokenBinding\":{\"status\":\"present\","
                       "\"id\":\"AAAA\"}}",
                       ao, n, &c, &err),
                   &err, "token binding");
    assert_int_equal(reg(&e,
                         "{\"type\":\"webauthn.create\",\"challenge\":\"" CHALLENGE
                         "\",\"origin\":\"" ORIGIN "\",\"tokenBinding\":{\"status\":"
                         "\"supported\"}}",
                         ao, n, &c, &err),
                     LATCH_OK);
    /* Every proper prefix of the client data is refused. */
    for (size_t i = 0; i < strlen(good); i++) {
        assert_int_equal(
            latch_webauthn_verify_registration(&e, (const uint8_t *)good, i, ao, n, &c, &err),
            LATCH_FAIL);
        assert_int_equal(err.status, 400);
    }

    /* RP ID: the credential was made for another RP. */
    struct latch_webauthn_expect other_rp = e;
    other_rp.rp_id = "example.com";
    assert_refused(reg(&other_rp, good, ao, n, &c, &err), &err, "RP ID hash");

    /* Flags: no UP; UV required but absent; BS without BE. */
    n = none_registration(&es256, good, 0, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "user presence");
    n = none_registration(&es256, good, LATCH_WEBAUTHN_FLAG_UP, ao, sizeof(ao));
    e.require_uv = true;
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "user verification");
    e.require_uv = false;
    n = none_registration(&es256, good, LATCH_WEBAUTHN_FLAG_UP | LATCH_WEBAUTHN_FLAG_BS, ao,
                          sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "backup");

    /* Truncation: every proper prefix of the attestation object; oversized; trailing bytes. */
    n = none_registration(&es256, good, LATCH_WEBAUTHN_FLAG_UP, ao, sizeof(ao));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(reg(&e, good, ao, i, &c, &err), LATCH_FAIL);
        assert_int_equal(err.status, 400);
    }
    ao[n] = 0;
    assert_refused(reg(&e, good, ao, n + 1, &c, &err), &err, "bytes after");
    uint8_t *big = calloc(1, LATCH_WEBAUTHN_ATTESTATION_MAX + 1);
    memcpy(big, ao, n);
    assert_refused(reg(&e, good, big, LATCH_WEBAUTHN_ATTESTATION_MAX + 1, &c, &err), &err,
                   "larger than");
    free(big);

    /* authData with a byte after its credential key, and with a cut credential key. */
    size_t ad_len = auth_data(ad, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 0, &es256, false);
    ad[ad_len] = 0xa0;
    n = att_object("none", cbor_new_definite_map(0), ad, ad_len + 1, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "after its end");
    n = att_object("none", cbor_new_definite_map(0), ad, ad_len - 1, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "truncated");
    /* A credential id longer than 1023 bytes. */
    ad[32 + 5 + 16] = 0x04;
    ad[32 + 5 + 17] = 0x00;
    n = att_object("none", cbor_new_definite_map(0), ad, ad_len, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "out of bounds");
    /* No attested credential data at all. */
    ad_len = auth_data(ad, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 0, NULL, false);
    n = att_object("none", cbor_new_definite_map(0), ad, ad_len, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "no attested credential data");

    /* Statements: a none statement with content; a format this library does not verify. */
    ad_len = auth_data(ad, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 0, &es256, false);
    cbor_item_t *stmt = cbor_new_definite_map(1);
    add(stmt, cbor_build_string("alg"), cbor_int(-7));
    n = att_object("none", stmt, ad, ad_len, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "must be empty");
    stmt = cbor_new_definite_map(1);
    add(stmt, cbor_build_string("ver"), cbor_build_string("2.0"));
    n = att_object("tpm", stmt, ad, ad_len, ao, sizeof(ao));
    assert_refused(reg(&e, good, ao, n, &c, &err), &err, "format tpm is not supported");
    e.other_formats_as_none = true;
    assert_int_equal(reg(&e, good, ao, n, &c, &err), LATCH_OK);
    check_credential(&c, &es256, LATCH_WEBAUTHN_ATTESTATION_NONE, "tpm");
}

/* Structures libcbor would accept but a bounded verifier must not. */
static void test_cbor_bounds(void **state)
{
    struct latch_webauthn_attestation_object ao;
    struct latch_error err = {0};
    int alg;
    /* An indefinite-length map {_ "fmt": "none"}. */
    const uint8_t indef[] = {0xbf, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e', 0xff};
    /* Nested arrays 20 deep. */
    uint8_t deep[40];
    memset(deep, 0x81, 20);
    deep[20] = 0x00;
    /* A map declaring 2^32-1 entries in 9 bytes. */
    const uint8_t huge[] = {0xbb, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    /* A tagged item. */
    const uint8_t tagged[] = {0xc1, 0x00};

    assert_refused(latch_webauthn_attestation_parse(indef, sizeof(indef), &ao, &err), &err,
                   "does not accept");
    assert_refused(latch_webauthn_attestation_parse(deep, 21, &ao, &err), &err, "does not accept");
    assert_refused(latch_webauthn_attestation_parse(huge, sizeof(huge), &ao, &err), &err,
                   "does not accept");
    assert_refused(latch_webauthn_attestation_parse(tagged, sizeof(tagged), &ao, &err), &err,
                   "does not accept");
    assert_null(ao.cbor);

    /* COSE keys: the three supported re-parse; others are refused. */
    assert_int_equal(latch_webauthn_cose_key_parse(es256.cose, es256.cose_len, &alg, NULL, &err),
                     LATCH_OK);
    assert_int_equal(alg, -7);
    assert_int_equal(latch_webauthn_cose_key_parse(rs256.cose, rs256.cose_len, &alg, NULL, &err),
                     LATCH_OK);
    assert_int_equal(alg, -257);
    assert_int_equal(latch_webauthn_cose_key_parse(eddsa.cose, eddsa.cose_len, &alg, NULL, &err),
                     LATCH_OK);
    assert_int_equal(alg, -8);

    uint8_t buf[1024];
    cbor_item_t *m = cbor_new_definite_map(5);
    add(m, cbor_int(1), cbor_int(2));
    add(m, cbor_int(3), cbor_int(-35)); /* ES384 */
    add(m, cbor_int(-1), cbor_int(2));
    add(m, cbor_int(-2), cbor_build_bytestring(buf, 48));
    add(m, cbor_int(-3), cbor_build_bytestring(buf, 48));
    size_t n = serialize(m, buf, sizeof(buf));
    assert_refused(latch_webauthn_cose_key_parse(buf, n, &alg, NULL, &err), &err, "not supported");
    /* A P-256 key whose point is not on the curve. */
    memcpy(buf, es256.cose, es256.cose_len);
    buf[es256.cose_len - 1] ^= 1;
    assert_refused(latch_webauthn_cose_key_parse(buf, es256.cose_len, &alg, NULL, &err), &err,
                   "P-256 point");
    /* RSA of 1024 bits. */
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    BIGNUM *bn = NULL;
    uint8_t nb[128];
    assert_int_equal(EVP_PKEY_get_bn_param(small, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    BN_bn2bin(bn, nb);
    m = cbor_new_definite_map(4);
    add(m, cbor_int(1), cbor_int(3));
    add(m, cbor_int(3), cbor_int(-257));
    add(m, cbor_int(-1), cbor_build_bytestring(nb, 128));
    add(m, cbor_int(-2), cbor_build_bytestring((const uint8_t *)"\x01\x00\x01", 3));
    n = serialize(m, buf, sizeof(buf));
    assert_refused(latch_webauthn_cose_key_parse(buf, n, &alg, NULL, &err), &err, "1024 bits");
    BN_free(bn);
    EVP_PKEY_free(small);
    /* A key with its kty given twice. */
    m = cbor_new_definite_map(3);
    add(m, cbor_int(1), cbor_int(1));
    add(m, cbor_int(1), cbor_int(1));
    add(m, cbor_int(3), cbor_int(-8));
    n = serialize(m, buf, sizeof(buf));
    assert_refused(latch_webauthn_cose_key_parse(buf, n, &alg, NULL, &err), &err, "parameter 1");
}

/* ---- assertions -------------------------------------------------------------------------- */

struct assertion {
    uint8_t ad[512];
    size_t ad_len;
    uint8_t sig[1024];
    size_t sig_len;
    char cdj[512];
};

static void make_assertion(struct assertion *a, const struct key *k, const char *rp_id,
                           uint8_t flags, uint32_t count, const char *type, const char *challenge,
                           const char *origin)
{
    snprintf(a->cdj, sizeof(a->cdj), "%s", client_data(type, challenge, origin));
    a->ad_len = auth_data(a->ad, rp_id, flags, count, NULL, false);
    a->sig_len = sign(k->pkey, k->alg, a->ad, a->ad_len, a->cdj, a->sig);
}

static latch_rc verify(const struct latch_webauthn_expect *e, const struct key *k, uint32_t stored,
                       const struct assertion *a, struct latch_webauthn_assertion *out,
                       struct latch_error *err)
{
    return latch_webauthn_verify_assertion(e, k->cose, k->cose_len, stored, (const uint8_t *)a->cdj,
                                           strlen(a->cdj), a->ad, a->ad_len, a->sig, a->sig_len,
                                           (const uint8_t *)"user-123", 8, out, err);
}

static void test_assert_all_algs(void **state)
{
    const struct key *keys[] = {&es256, &rs256, &eddsa};
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_assertion out;
    struct latch_error err = {0};
    struct assertion a;

    for (size_t i = 0; i < 3; i++) {
        make_assertion(&a, keys[i], RP_ID, LATCH_WEBAUTHN_FLAG_UP | LATCH_WEBAUTHN_FLAG_UV, 5,
                       "webauthn.get", CHALLENGE, ORIGIN);
        e.require_uv = true;
        assert_int_equal(verify(&e, keys[i], 4, &a, &out, &err), LATCH_OK);
        assert_int_equal(out.sign_count, 5);
        assert_true(out.flags & LATCH_WEBAUTHN_FLAG_UV);
        assert_int_equal(out.user_handle_len, 8);
        assert_memory_equal(out.user_handle, "user-123", 8);

        /* Tampered signature: each of a few bytes flipped. */
        for (size_t j = 0; j < a.sig_len; j += a.sig_len / 7 + 1) {
            a.sig[j] ^= 0x40;
            assert_int_equal(verify(&e, keys[i], 4, &a, &out, &err), LATCH_FAIL);
            assert_string_equal(err.code, LATCH_WEBAUTHN_ERR_FAILED);
            a.sig[j] ^= 0x40;
        }
        /* Tampered authData: a raised counter the authenticator did not sign. */
        a.ad[36] ^= 0x08;
        assert_refused(verify(&e, keys[i], 4, &a, &out, &err), &err, "signature");
        a.ad[36] ^= 0x08;
        /* Signed by another key. */
        assert_refused(verify(&e, keys[(i + 1) % 3], 4, &a, &out, &err), &err, "");
        /* Truncated authData and signature. */
        for (size_t j = 0; j < a.ad_len; j++) {
            assert_int_equal(latch_webauthn_verify_assertion(
                                 &e, keys[i]->cose, keys[i]->cose_len, 4, (const uint8_t *)a.cdj,
                                 strlen(a.cdj), a.ad, j, a.sig, a.sig_len, NULL, 0, &out, &err),
                             LATCH_FAIL);
        }
        assert_int_equal(latch_webauthn_verify_assertion(&e, keys[i]->cose, keys[i]->cose_len, 4,
                                                         (const uint8_t *)a.cdj, strlen(a.cdj),
                                                         a.ad, a.ad_len, a.sig, a.sig_len - 1, NULL,
                                                         0, &out, &err),
                         LATCH_FAIL);
    }
}

static void test_assert_counter(void **state)
{
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_assertion out;
    struct latch_error err = {0};
    struct assertion a;

    /* Both zero: an authenticator without a counter, accepted. */
    make_assertion(&a, &es256, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 0, "webauthn.get", CHALLENGE, ORIGIN);
    assert_int_equal(verify(&e, &es256, 0, &a, &out, &err), LATCH_OK);
    assert_false(latch_webauthn_is_clone(&err));
    /* Lowered, equal, and zero after non-zero: a clone, reported distinctly. */
    make_assertion(&a, &es256, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 9, "webauthn.get", CHALLENGE, ORIGIN);
    assert_int_equal(verify(&e, &es256, 10, &a, &out, &err), LATCH_FAIL);
    assert_true(latch_webauthn_is_clone(&err));
    assert_int_equal(err.status, 400);
    assert_int_equal(verify(&e, &es256, 9, &a, &out, &err), LATCH_FAIL);
    assert_true(latch_webauthn_is_clone(&err));
    assert_int_equal(verify(&e, &es256, 8, &a, &out, &err), LATCH_OK);
    assert_int_equal(out.sign_count, 9);
    make_assertion(&a, &es256, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 0, "webauthn.get", CHALLENGE, ORIGIN);
    assert_int_equal(verify(&e, &es256, 3, &a, &out, &err), LATCH_FAIL);
    assert_true(latch_webauthn_is_clone(&err));
    /* A lowered counter with a bad signature is a bad signature, not a clone. */
    make_assertion(&a, &es256, RP_ID, LATCH_WEBAUTHN_FLAG_UP, 1, "webauthn.get", CHALLENGE, ORIGIN);
    a.sig[a.sig_len - 1] ^= 1;
    assert_refused(verify(&e, &es256, 3, &a, &out, &err), &err, "signature");
    assert_false(latch_webauthn_is_clone(&err));
}

static void test_assert_refusals(void **state)
{
    struct latch_webauthn_expect e = expect();
    struct latch_webauthn_assertion out;
    struct latch_error err = {0};
    struct assertion a;
    const uint8_t P = LATCH_WEBAUTHN_FLAG_UP;

    make_assertion(&a, &eddsa, RP_ID, P, 1, "webauthn.get", CHALLENGE, "https://evil.example");
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "origin");
    make_assertion(&a, &eddsa, RP_ID, P, 1, "webauthn.get", CHALLENGE, "http://login.example.com");
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "origin");
    make_assertion(&a, &eddsa, RP_ID, P, 1, "webauthn.create", CHALLENGE, ORIGIN);
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "type is not webauthn.get");
    make_assertion(&a, &eddsa, "example.com", P, 1, "webauthn.get", CHALLENGE, ORIGIN);
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "RP ID hash");
    make_assertion(&a, &eddsa, RP_ID, 0, 1, "webauthn.get", CHALLENGE, ORIGIN);
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "user presence");
    make_assertion(&a, &eddsa, RP_ID, P, 1, "webauthn.get", CHALLENGE, ORIGIN);
    e.require_uv = true;
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "user verification");
    e.require_uv = false;

    /* Replay: a genuine assertion for an earlier challenge, offered in a new ceremony. */
    char fresh[LATCH_WEBAUTHN_CHALLENGE_LEN + 1];
    assert_int_equal(latch_webauthn_challenge_new(fresh, &err), LATCH_OK);
    assert_int_equal(verify(&e, &eddsa, 0, &a, &out, &err), LATCH_OK);
    e.challenge = fresh;
    assert_refused(verify(&e, &eddsa, 0, &a, &out, &err), &err, "challenge");
    e.challenge = CHALLENGE;

    /* A user handle longer than 64 bytes. */
    uint8_t uh[65] = {0};
    assert_refused(latch_webauthn_verify_assertion(
                       &e, eddsa.cose, eddsa.cose_len, 0, (const uint8_t *)a.cdj, strlen(a.cdj),
                       a.ad, a.ad_len, a.sig, a.sig_len, uh, sizeof(uh), &out, &err),
                   &err, "user handle");
    /* Oversized authData and clientDataJSON. */
    uint8_t *big = calloc(1, 8192);
    memcpy(big, a.ad, a.ad_len);
    assert_refused(latch_webauthn_verify_assertion(&e, eddsa.cose, eddsa.cose_len, 0,
                                                   (const uint8_t *)a.cdj, strlen(a.cdj), big,
                                                   LATCH_WEBAUTHN_AUTH_DATA_MAX + 1, a.sig,
                                                   a.sig_len, NULL, 0, &out, &err),
                   &err, "larger than");
    memset(big, ' ', 8192);
    memcpy(big, a.cdj, strlen(a.cdj));
    assert_refused(latch_webauthn_verify_assertion(&e, eddsa.cose, eddsa.cose_len, 0, big,
                                                   LATCH_WEBAUTHN_CLIENT_DATA_MAX + 1, a.ad,
                                                   a.ad_len, a.sig, a.sig_len, NULL, 0, &out, &err),
                   &err, "larger than");
    free(big);
    /* The stored key cut short. */
    assert_int_equal(latch_webauthn_verify_assertion(
                         &e, eddsa.cose, eddsa.cose_len - 1, 0, (const uint8_t *)a.cdj,
                         strlen(a.cdj), a.ad, a.ad_len, a.sig, a.sig_len, NULL, 0, &out, &err),
                     LATCH_FAIL);
}

static void test_rp_from_url(void **state)
{
    static const struct {
        const char *url, *rp_id, *origin; /* rp_id NULL: refused */
    } cases[] = {
        {"https://login.example.com", "login.example.com", "https://login.example.com"},
        {"https://Login.Example.COM:443/auth/", "login.example.com", "https://login.example.com"},
        {"HTTPS://login.example.com:8443/x?y#z", "login.example.com",
         "https://login.example.com:8443"},
        {"http://localhost:3001", "localhost", "http://localhost:3001"},
        {"http://localhost:80", "localhost", "http://localhost"},
        {"http://localhost:443", "localhost", "http://localhost:443"},
        {"https://127.0.0.1:8443", NULL, NULL},
        {"https://[::1]:8443", NULL, NULL},
        {"https://user@login.example.com", NULL, NULL},
        {"ftp://login.example.com", NULL, NULL},
        {"https://", NULL, NULL},
        {"https://login.example.com:", NULL, NULL},
        {"https://login.example.com:12a", NULL, NULL},
        {"https://login.example.com:123456", NULL, NULL},
        {"https://login_example.com", NULL, NULL},
    };
    char rp[LATCH_WEBAUTHN_RP_ID_MAX + 1], origin[LATCH_WEBAUTHN_ORIGIN_MAX + 1];
    struct latch_error err;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        latch_rc rc = latch_webauthn_rp_from_url(cases[i].url, rp, origin, &err);
        if (cases[i].rp_id == NULL) {
            if (rc != LATCH_FAIL)
                fail_msg("%s accepted as %s / %s", cases[i].url, rp, origin);
            assert_int_equal(err.status, 500);
            assert_string_equal(rp, "");
            continue;
        }
        if (rc != LATCH_OK)
            fail_msg("%s refused: %s", cases[i].url, err.message);
        assert_string_equal(rp, cases[i].rp_id);
        assert_string_equal(origin, cases[i].origin);
    }
}

static void test_challenge(void **state)
{
    char a[LATCH_WEBAUTHN_CHALLENGE_LEN + 1], b[LATCH_WEBAUTHN_CHALLENGE_LEN + 1];
    uint8_t raw[64];
    struct latch_error err = {0};

    assert_int_equal(latch_webauthn_challenge_new(a, &err), LATCH_OK);
    assert_int_equal(latch_webauthn_challenge_new(b, &err), LATCH_OK);
    assert_int_equal(strlen(a), LATCH_WEBAUTHN_CHALLENGE_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(latch_base64url_decode(a, strlen(a), raw, sizeof(raw)), 32);
}

/* ---- real browser output ----------------------------------------------------------------- */

/* Captured from tests/e2e/webauthn.test.mjs: Chromium 156's CDP virtual authenticator (ctap2,
 * internal) asked for attestation "direct" on http://localhost:32773 produced this packed
 * statement with an x5c chain (its "Authenticator Attestation" batch certificate) over an ES256
 * credential. */
static const char chromium_cdj[] =
    "{\"type\":\"webauthn.create\",\"challenge\":\"Wxia6_Fd0sYaqpv8ve0Ft6JwRTtrCKCQVE-3auU_djg\","
    "\"origin\":\"http://localhost:32773\",\"crossOrigin\":false}";
static const uint8_t chromium_ao[] = {
    0xa3, 0x63, 0x66, 0x6d, 0x74, 0x66, 0x70, 0x61, 0x63, 0x6b, 0x65, 0x64, 0x67, 0x61, 0x74, 0x74,
    0x53, 0x74, 0x6d, 0x74, 0xa3, 0x63, 0x61, 0x6c, 0x67, 0x26, 0x63, 0x73, 0x69, 0x67, 0x58, 0x47,
    0x30, 0x45, 0x02, 0x20, 0x5f, 0x26, 0x0e, 0x70, 0x69, 0xe8, 0xa5, 0x78, 0xce, 0x6a, 0x6b, 0x62,
    0x19, 0xba, 0x30, 0xc7, 0xba, 0x81, 0x69, 0xbe, 0x13, 0x28, 0xc3, 0x96, 0xa5, 0x5e, 0x0c, 0xea,
    0x55, 0x71, 0x1a, 0xc0, 0x02, 0x21, 0x00, 0x9c, 0x9f, 0x12, 0x71, 0x8b, 0x03, 0xda, 0x1f, 0x13,
    0x46, 0xdc, 0xe8, 0xb0, 0x64, 0xfc, 0x9c, 0x52, 0xa2, 0x63, 0x7a, 0xaf, 0x1b, 0xeb, 0xd8, 0x7a,
    0xbd, 0x7a, 0x7b, 0x6f, 0x6e, 0xbe, 0xc2, 0x63, 0x78, 0x35, 0x63, 0x81, 0x59, 0x01, 0xd7, 0x30,
    0x82, 0x01, 0xd3, 0x30, 0x82, 0x01, 0x7a, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30,
    0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x30, 0x60, 0x31, 0x0b, 0x30,
    0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x55, 0x53, 0x31, 0x11, 0x30, 0x0f, 0x06, 0x03,
    0x55, 0x04, 0x0a, 0x0c, 0x08, 0x43, 0x68, 0x72, 0x6f, 0x6d, 0x69, 0x75, 0x6d, 0x31, 0x22, 0x30,
    0x20, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x19, 0x41, 0x75, 0x74, 0x68, 0x65, 0x6e, 0x74, 0x69,
    0x63, 0x61, 0x74, 0x6f, 0x72, 0x20, 0x41, 0x74, 0x74, 0x65, 0x73, 0x74, 0x61, 0x74, 0x69, 0x6f,
    0x6e, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x11, 0x42, 0x61, 0x74, 0x63,
    0x68, 0x20, 0x43, 0x65, 0x72, 0x74, 0x69, 0x66, 0x69, 0x63, 0x61, 0x74, 0x65, 0x30, 0x1e, 0x17,
    0x0d, 0x31, 0x37, 0x30, 0x37, 0x31, 0x34, 0x30, 0x32, 0x34, 0x30, 0x30, 0x30, 0x5a, 0x17, 0x0d,
    0x34, 0x36, 0x31, 0x31, 0x32, 0x38, 0x30, 0x39, 0x34, 0x36, 0x35, 0x38, 0x5a, 0x30, 0x60, 0x31,
    0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, 0x55, 0x53, 0x31, 0x11, 0x30, 0x0f,
    0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x08, 0x43, 0x68, 0x72, 0x6f, 0x6d, 0x69, 0x75, 0x6d, 0x31,
    0x22, 0x30, 0x20, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x19, 0x41, 0x75, 0x74, 0x68, 0x65, 0x6e,
    0x74, 0x69, 0x63, 0x61, 0x74, 0x6f, 0x72, 0x20, 0x41, 0x74, 0x74, 0x65, 0x73, 0x74, 0x61, 0x74,
    0x69, 0x6f, 0x6e, 0x31, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x11, 0x42, 0x61,
    0x74, 0x63, 0x68, 0x20, 0x43, 0x65, 0x72, 0x74, 0x69, 0x66, 0x69, 0x63, 0x61, 0x74, 0x65, 0x30,
    0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04, 0x8d, 0x61, 0x7e, 0x65, 0xc9, 0x50,
    0x8e, 0x64, 0xbc, 0xc5, 0x67, 0x3a, 0xc8, 0x2a, 0x67, 0x99, 0xda, 0x3c, 0x14, 0x46, 0x68, 0x2c,
    0x25, 0x8c, 0x46, 0x3f, 0xff, 0xdf, 0x58, 0xdf, 0xd2, 0xfa, 0x3e, 0x6c, 0x37, 0x8b, 0x53, 0xd7,
    0x95, 0xc4, 0xa4, 0xdf, 0xfb, 0x41, 0x99, 0xed, 0xd7, 0x86, 0x2f, 0x23, 0xab, 0xaf, 0x02, 0x03,
    0xb4, 0xb8, 0x91, 0x1b, 0xa0, 0x56, 0x99, 0x94, 0xe1, 0x01, 0xa3, 0x25, 0x30, 0x23, 0x30, 0x0c,
    0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00, 0x30, 0x13, 0x06, 0x0b,
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xe5, 0x1c, 0x02, 0x01, 0x01, 0x04, 0x04, 0x03, 0x02, 0x03,
    0x08, 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x03, 0x47, 0x00,
    0x30, 0x44, 0x02, 0x20, 0x5b, 0xb0, 0xf6, 0x48, 0x3e, 0xfb, 0x19, 0x7d, 0x7a, 0x51, 0x1e, 0xf5,
    0x0e, 0x75, 0xbc, 0x1e, 0x6b, 0xb0, 0x81, 0xa7, 0xbb, 0xd8, 0xf6, 0x7c, 0xeb, 0x58, 0xe1, 0x8b,
    0x6e, 0xfc, 0x33, 0xe5, 0x02, 0x20, 0x7a, 0xd0, 0xf2, 0x11, 0x0a, 0x68, 0x8d, 0x03, 0x4f, 0xd1,
    0x65, 0x6c, 0xc1, 0x83, 0x63, 0xd8, 0xc7, 0x27, 0xf1, 0x78, 0x4c, 0x60, 0x9e, 0x7d, 0xd6, 0x9f,
    0xe0, 0x8e, 0x11, 0xb8, 0xc9, 0xce, 0x68, 0x61, 0x75, 0x74, 0x68, 0x44, 0x61, 0x74, 0x61, 0x58,
    0xa4, 0x49, 0x96, 0x0d, 0xe5, 0x88, 0x0e, 0x8c, 0x68, 0x74, 0x34, 0x17, 0x0f, 0x64, 0x76, 0x60,
    0x5b, 0x8f, 0xe4, 0xae, 0xb9, 0xa2, 0x86, 0x32, 0xc7, 0x99, 0x5c, 0xf3, 0xba, 0x83, 0x1d, 0x97,
    0x63, 0x45, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x20, 0x72, 0x2a, 0xc5, 0x61, 0x79, 0x61, 0x8c, 0xcb,
    0x24, 0xa2, 0xc0, 0x4a, 0xad, 0xde, 0x29, 0x0e, 0x22, 0xbb, 0xb1, 0xa8, 0x09, 0x74, 0xc7, 0x83,
    0x5e, 0x8c, 0x69, 0x67, 0xde, 0xf6, 0x86, 0x32, 0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21,
    0x58, 0x20, 0xf7, 0xc3, 0x88, 0xe0, 0x58, 0x86, 0xef, 0x00, 0xe1, 0xcf, 0x41, 0xdc, 0x78, 0x36,
    0x8a, 0x47, 0x42, 0x9f, 0xdd, 0x7b, 0xd6, 0xf3, 0x54, 0xee, 0xdb, 0xfb, 0xa3, 0xf2, 0x9d, 0x74,
    0xe7, 0x54, 0x22, 0x58, 0x20, 0x07, 0x13, 0x8f, 0x3a, 0x2c, 0xaa, 0x0e, 0x54, 0x37, 0x5c, 0x17,
    0x80, 0x3b, 0xd9, 0xab, 0x4b, 0x06, 0xf3, 0xd1, 0x13, 0x5d, 0xb5, 0x8a, 0xed, 0xb6, 0x30, 0xf6,
    0x07, 0x13, 0xdc, 0x2e, 0x00,
};

static void test_chromium_packed_x5c(void **state)
{
    struct latch_webauthn_expect e = {.rp_id = "localhost",
                                      .origin = "http://localhost:32773",
                                      .challenge = "Wxia6_Fd0sYaqpv8ve0Ft6JwRTtrCKCQVE-3auU_djg",
                                      .require_uv = true};
    struct latch_webauthn_credential c;
    struct latch_error err = {0};
    uint8_t ao[sizeof(chromium_ao)];

    assert_int_equal(reg(&e, chromium_cdj, chromium_ao, sizeof(chromium_ao), &c, &err), LATCH_OK);
    assert_int_equal(c.attestation, LATCH_WEBAUTHN_ATTESTATION_BASIC);
    assert_string_equal(c.fmt, "packed");
    assert_int_equal(c.alg, LATCH_WEBAUTHN_ALG_ES256);
    assert_true(c.flags & LATCH_WEBAUTHN_FLAG_UV);

    /* Every byte outside the attestation certificate, changed, is refused: authData and the
     * statement are signed or checked. Inside the certificate only what §8.2.1 names is checked
     * (there is no trust anchor to verify its own signature against), so changes there need only
     * not crash. The certificate is x5c[0]: "x5c", array of 1, byte string of 2-byte length. */
    const uint8_t *x5c = memmem(chromium_ao, sizeof(chromium_ao), "x5c", 3);
    assert_non_null(x5c);
    assert_int_equal(x5c[3], 0x81);
    assert_int_equal(x5c[4], 0x59);
    size_t cert_start = (size_t)(x5c + 7 - chromium_ao);
    size_t cert_end = cert_start + ((size_t)x5c[5] << 8 | x5c[6]);
    for (size_t i = 0; i < sizeof(ao); i++) {
        memcpy(ao, chromium_ao, sizeof(ao));
        ao[i] ^= 0x01;
        latch_rc rc = reg(&e, chromium_cdj, ao, sizeof(ao), &c, &err);
        if ((i < cert_start || i >= cert_end) && rc == LATCH_OK)
            fail_msg("byte %zu changed was accepted", i);
    }
    e.origin = "http://localhost:32774";
    assert_refused(reg(&e, chromium_cdj, chromium_ao, sizeof(chromium_ao), &c, &err), &err,
                   "origin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_none_all_algs),
        cmocka_unit_test(test_register_packed_self_all_algs),
        cmocka_unit_test(test_register_packed_x5c),
        cmocka_unit_test(test_register_refusals),
        cmocka_unit_test(test_cbor_bounds),
        cmocka_unit_test(test_assert_all_algs),
        cmocka_unit_test(test_assert_counter),
        cmocka_unit_test(test_assert_refusals),
        cmocka_unit_test(test_challenge),
        cmocka_unit_test(test_rp_from_url),
        cmocka_unit_test(test_chromium_packed_x5c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
