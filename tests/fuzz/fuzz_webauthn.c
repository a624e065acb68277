/*
 * libFuzzer driver for the WebAuthn attestation-object reader (core/webauthn/webauthn.c): the
 * bounded CBOR pre-scan in front of libcbor, the attestation object's map, authenticatorData,
 * the COSE key and the `none`/`packed` statements (x5c certificates included), through
 * latch_webauthn_verify_registration() with a fixed, valid clientDataJSON so every input reaches
 * the attestation object. Also feeds the input as bare authenticatorData, as a bare COSE key, and
 * as an assertion (authenticatorData, then a signature; the last byte says where they part)
 * checked against a fixed ES256 key, which must never verify.
 * Invariants: authData is bytes of the input and the pointers into it stay inside it, lengths
 * add up, a registered credential's id and key are copies of bytes of the input within their
 * bounds, every refusal is a 400 (never a 500: nothing here is an internal failure).
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_webauthn.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webauthn/webauthn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    return p != NULL && p >= data && n <= size && (size_t)(p - data) <= size - n;
}

static void check_refusal(const struct latch_error *err)
{
    if (err->status != 400)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char cdj[] = "{\"type\":\"webauthn.create\",\"challenge\":"
                              "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                              "\"origin\":\"https://login.example.com\",\"crossOrigin\":false}";
    const struct latch_webauthn_expect exp = {
        .rp_id = "login.example.com",
        .origin = "https://login.example.com",
        .challenge = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        .other_formats_as_none = (size & 1) != 0,
    };
    struct latch_webauthn_attestation_object ao;
    struct latch_webauthn_auth_data ad;
    struct latch_webauthn_credential cred;
    struct latch_error err = {0};
    int alg;

    if (latch_webauthn_attestation_parse(data, size, &ao, &err) == LATCH_OK) {
        /* authData is libcbor's copy of a byte string of the input. */
        if (ao.auth_data_len == 0 || ao.auth_data_len > size ||
            memmem(data, size, ao.auth_data, ao.auth_data_len) == NULL ||
            !inside(ao.ad.cose_key, ao.ad.cose_key_len, ao.auth_data, ao.auth_data_len) ||
            !inside(ao.ad.cred_id, ao.ad.cred_id_len, ao.auth_data, ao.auth_data_len) ||
            ao.ad.cred_id_len == 0 || ao.ad.cred_id_len > LATCH_WEBAUTHN_CRED_ID_MAX ||
            ao.att_stmt == NULL || ao.fmt[0] == '\0')
            abort();
        latch_webauthn_attestation_clear(&ao);
        if (ao.cbor != NULL)
            abort();
    } else {
        check_refusal(&err);
        if (ao.cbor != NULL)
            abort();
    }

    if (latch_webauthn_verify_registration(&exp, (const uint8_t *)cdj, sizeof(cdj) - 1, data, size,
                                           &cred, &err) == LATCH_OK) {
        if (cred.id_len == 0 || cred.id_len > LATCH_WEBAUTHN_CRED_ID_MAX ||
            cred.cose_key_len == 0 || cred.cose_key_len > LATCH_WEBAUTHN_COSE_KEY_MAX ||
            memmem(data, size, cred.id, cred.id_len) == NULL ||
            memmem(data, size, cred.cose_key, cred.cose_key_len) == NULL ||
            latch_webauthn_cose_key_parse(cred.cose_key, cred.cose_key_len, &alg, NULL, &err) !=
                LATCH_OK ||
            alg != cred.alg)
            abort();
    } else {
        check_refusal(&err);
    }

    if (latch_webauthn_auth_data_parse(data, size, &ad, &err) == LATCH_OK) {
        size_t total = 37;
        if (ad.flags & LATCH_WEBAUTHN_FLAG_AT)
            total += 18 + ad.cred_id_len + ad.cose_key_len;
        if (ad.flags & LATCH_WEBAUTHN_FLAG_ED)
            total += ad.extensions_len;
        if (total != size)
            abort();
    } else {
        check_refusal(&err);
    }

    /* An assertion against a fixed key nobody holds the private half of (a seed's): reaching
     * the signature check needs the RP ID hash and flags right, passing it is impossible. */
    static const uint8_t key[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0xd8,
                                  0x4d, 0xb3, 0xba, 0x53, 0x76, 0x9f, 0x10, 0xd9, 0x77, 0xf1, 0xcf,
                                  0x59, 0x82, 0x9b, 0x15, 0xd0, 0xe3, 0xc6, 0xc7, 0x59, 0xc2, 0x59,
                                  0xbc, 0xe4, 0x28, 0x6a, 0x3c, 0x52, 0xc5, 0xe2, 0x33, 0x22, 0x58,
                                  0x20, 0x46, 0xb6, 0xb4, 0xcd, 0x1d, 0xaa, 0x00, 0xe4, 0xdb, 0xe1,
                                  0xfb, 0x8c, 0x8c, 0x0c, 0xd1, 0xa9, 0xa1, 0xaf, 0x8e, 0x0e, 0x91,
                                  0x08, 0x40, 0x11, 0x01, 0x7a, 0xbd, 0x5d, 0xa0, 0xe6, 0x55, 0x68};
    static const char get_cdj[] = "{\"type\":\"webauthn.get\",\"challenge\":"
                                  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                                  "\"origin\":\"https://login.example.com\"}";
    if (size > 0) {
        size_t body = size - 1, ad_len = 37 + (size_t)data[size - 1];
        if (ad_len > body)
            ad_len = body;
        struct latch_webauthn_assertion as;
        if (latch_webauthn_verify_assertion(&exp, key, sizeof(key), 0, (const uint8_t *)get_cdj,
                                            sizeof(get_cdj) - 1, data, ad_len, data + ad_len,
                                            body - ad_len, NULL, 0, &as, &err) == LATCH_OK)
            abort();
        check_refusal(&err);
    }

    if (latch_webauthn_cose_key_parse(data, size, &alg, NULL, &err) == LATCH_OK) {
        if (alg != LATCH_WEBAUTHN_ALG_ES256 && alg != LATCH_WEBAUTHN_ALG_RS256 &&
            alg != LATCH_WEBAUTHN_ALG_EDDSA)
            abort();
    } else {
        check_refusal(&err);
    }
    return 0;
}
