/*
 * webauthn_verify: a test-only command (never installed) through which the end-to-end tests check
 * what a real browser produced with core/webauthn/, before the Experience API routes exist: it
 * reads one JSON request on stdin, runs latch_webauthn_verify_registration() or
 * latch_webauthn_verify_assertion() and writes one JSON answer on stdout. Binary fields are
 * base64url, as the browser's PublicKeyCredential.toJSON() gives them.
 *
 *   {"ceremony":"registration","rpId","origin","challenge","requireUv"?,"otherFormatsAsNone"?,
 *    "clientDataJSON","attestationObject"}
 *   -> {"ok":true,"credentialId","publicKey","alg","signCount","flags","attestation","fmt"}
 *   {"ceremony":"authentication","rpId","origin","challenge","requireUv"?,"publicKey",
 *    "storedSignCount","clientDataJSON","authenticatorData","signature","userHandle"?}
 *   -> {"ok":true,"signCount","flags","userHandle"}
 *   failures -> {"ok":false,"status","code","message","clone"}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/json.h"
#include "webauthn/webauthn.h"

#define INPUT_MAX (64 * 1024)

static const char *str(yajl_val tree, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(tree, path, yajl_t_string);
    return v != NULL ? YAJL_GET_STRING(v) : NULL;
}

static bool flag(yajl_val tree, const char *name)
{
    const char *path[] = {name, NULL};
    return YAJL_IS_TRUE(yajl_tree_get(tree, path, yajl_t_any));
}

/* Decodes member `name` into a fresh buffer; an absent member is an empty one. */
static uint8_t *bytes(yajl_val tree, const char *name, size_t *len)
{
    const char *s = str(tree, name);
    size_t n = s != NULL ? strlen(s) : 0;
    uint8_t *out = malloc(latch_base64_decoded_len(n) + 1);
    ssize_t got = out != NULL ? latch_base64url_decode(s != NULL ? s : "", n, out,
                                                       latch_base64_decoded_len(n) + 1)
                              : -1;
    if (got < 0) {
        fprintf(stderr, "webauthn_verify: %s is not base64url\n", name);
        exit(2);
    }
    *len = (size_t)got;
    return out;
}

static void b64(struct latch_json *j, const char *key, const uint8_t *p, size_t n)
{
    char buf[2048];
    if (latch_base64url_encode(p, n, buf, sizeof(buf)) < 0)
        exit(3);
    latch_json_key(j, key);
    latch_json_string(j, buf);
}

int main(void)
{
    static char in[INPUT_MAX];
    size_t n = fread(in, 1, sizeof(in), stdin);
    const struct latch_json_limits lim = {
        .max_bytes = INPUT_MAX, .max_depth = 2, .require_object = true};
    struct latch_error err = {0};
    struct latch_json j;
    yajl_val tree;
    latch_rc rc;

    if (latch_json_parse(in, n, &lim, &tree, &err) != LATCH_OK) {
        fprintf(stderr, "webauthn_verify: input %s\n", err.message);
        return 2;
    }
    const char *ceremony = str(tree, "ceremony");
    struct latch_webauthn_expect exp = {
        .rp_id = str(tree, "rpId"),
        .origin = str(tree, "origin"),
        .challenge = str(tree, "challenge"),
        .require_uv = flag(tree, "requireUv"),
        .other_formats_as_none = flag(tree, "otherFormatsAsNone"),
    };
    size_t cdj_len;
    uint8_t *cdj = bytes(tree, "clientDataJSON", &cdj_len);

    latch_json_init(&j);
    latch_json_begin_object(&j);
    if (ceremony != NULL && strcmp(ceremony, "registration") == 0) {
        struct latch_webauthn_credential c;
        size_t ao_len;
        uint8_t *ao = bytes(tree, "attestationObject", &ao_len);
        rc = latch_webauthn_verify_registration(&exp, cdj, cdj_len, ao, ao_len, &c, &err);
        if (rc == LATCH_OK) {
            static const char *const types[] = {"none", "self", "basic"};
            latch_json_key(&j, "ok");
            latch_json_bool(&j, true);
            b64(&j, "credentialId", c.id, c.id_len);
            b64(&j, "publicKey", c.cose_key, c.cose_key_len);
            latch_json_key(&j, "alg");
            latch_json_int(&j, c.alg);
            latch_json_key(&j, "signCount");
            latch_json_int(&j, c.sign_count);
            latch_json_key(&j, "flags");
            latch_json_int(&j, c.flags);
            latch_json_key(&j, "attestation");
            latch_json_string(&j, types[c.attestation]);
            latch_json_key(&j, "fmt");
            latch_json_string(&j, c.fmt);
        }
        free(ao);
    } else if (ceremony != NULL && strcmp(ceremony, "authentication") == 0) {
        struct latch_webauthn_assertion a;
        size_t key_len, ad_len, sig_len, uh_len;
        uint8_t *key = bytes(tree, "publicKey", &key_len),
                *ad = bytes(tree, "authenticatorData", &ad_len),
                *sig = bytes(tree, "signature", &sig_len), *uh = bytes(tree, "userHandle", &uh_len);
        const char *path[] = {"storedSignCount", NULL};
        yajl_val sc = yajl_tree_get(tree, path, yajl_t_number);
        long long stored = sc != NULL && YAJL_IS_INTEGER(sc) ? YAJL_GET_INTEGER(sc) : 0;
        rc = latch_webauthn_verify_assertion(&exp, key, key_len, (uint32_t)stored, cdj, cdj_len, ad,
                                             ad_len, sig, sig_len, uh, uh_len, &a, &err);
        if (rc == LATCH_OK) {
            latch_json_key(&j, "ok");
            latch_json_bool(&j, true);
            latch_json_key(&j, "signCount");
            latch_json_int(&j, a.sign_count);
            latch_json_key(&j, "flags");
            latch_json_int(&j, a.flags);
            b64(&j, "userHandle", a.user_handle, a.user_handle_len);
        }
        free(key);
        free(ad);
        free(sig);
        free(uh);
    } else {
        fprintf(stderr, "webauthn_verify: ceremony must be registration or authentication\n");
        return 2;
    }
    if (rc != LATCH_OK) {
        latch_json_key(&j, "ok");
        latch_json_bool(&j, false);
        latch_json_key(&j, "status");
        latch_json_int(&j, err.status);
        latch_json_key(&j, "code");
        latch_json_string(&j, err.code);
        latch_json_key(&j, "message");
        latch_json_string(&j, err.message);
        latch_json_key(&j, "clone");
        latch_json_bool(&j, latch_webauthn_is_clone(&err));
    }
    latch_json_end_object(&j);
    size_t out_len;
    char *out = latch_json_take(&j, &out_len);
    if (out == NULL)
        return 3;
    printf("%s\n", out);
    free(out);
    free(cdj);
    yajl_tree_free(tree);
    return 0;
}
