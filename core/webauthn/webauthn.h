/*
 * WebAuthn Level 2 relying-party verification: the registration ceremony (clientDataJSON and an
 * attestation object in format `none` or `packed`, self or x5c) and the authentication ceremony
 * (clientDataJSON, authenticatorData and a signature checked against a stored credential), with
 * credential keys in COSE form (ES256 on P-256, RS256 of 2048 to 8192 bits, EdDSA on Ed25519).
 *
 * A pure library: no event loop, no database, no global state. CBOR is read with libcbor (after
 * a bounded pre-scan of its structure), JSON with latch_json_parse(), signatures checked with
 * OpenSSL 3. The caller keeps the issued challenge, derives the RP ID and origin from
 * LATCH_PUBLIC_URL, stores what registration returns (credential id, COSE key bytes, counter) and
 * passes it back to verify an assertion. Every function may be called from any thread; inputs are
 * borrowed for the call only. OpenSSL stays out of this header.
 */
#ifndef LATCH_WEBAUTHN_WEBAUTHN_H
#define LATCH_WEBAUTHN_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Bounds on what the network may hand in (longer is refused, never cut). */
#define LATCH_WEBAUTHN_CLIENT_DATA_MAX 4096        /* clientDataJSON, bytes */
#define LATCH_WEBAUTHN_ATTESTATION_MAX (16 * 1024) /* attestationObject, bytes */
#define LATCH_WEBAUTHN_AUTH_DATA_MAX   4096        /* authenticatorData of an assertion */
#define LATCH_WEBAUTHN_SIG_MAX         1024        /* RSA-8192 is 1024 bytes */
#define LATCH_WEBAUTHN_CRED_ID_MAX     1023        /* WebAuthn §6.5.1 */
#define LATCH_WEBAUTHN_USER_HANDLE_MAX 64          /* WebAuthn §5.4.3 */
#define LATCH_WEBAUTHN_COSE_KEY_MAX    1280        /* an RSA-8192 COSE key with room to spare */
#define LATCH_WEBAUTHN_RSA_MIN_BITS    2048
#define LATCH_WEBAUTHN_RSA_MAX_BITS    8192

/* Challenges: 32 random bytes, as 43 characters of unpadded base64url. */
#define LATCH_WEBAUTHN_CHALLENGE_BYTES 32
#define LATCH_WEBAUTHN_CHALLENGE_LEN   43

/* COSE algorithm identifiers (IANA COSE Algorithms) accepted for credentials and attestation. */
#define LATCH_WEBAUTHN_ALG_ES256 (-7)
#define LATCH_WEBAUTHN_ALG_EDDSA (-8)
#define LATCH_WEBAUTHN_ALG_RS256 (-257)

/* authenticatorData flags (WebAuthn §6.1). */
#define LATCH_WEBAUTHN_FLAG_UP 0x01u /* user present */
#define LATCH_WEBAUTHN_FLAG_UV 0x04u /* user verified */
#define LATCH_WEBAUTHN_FLAG_BE 0x08u /* backup eligible */
#define LATCH_WEBAUTHN_FLAG_BS 0x10u /* backed up */
#define LATCH_WEBAUTHN_FLAG_AT 0x40u /* attested credential data included */
#define LATCH_WEBAUTHN_FLAG_ED 0x80u /* extension data included */

/* The err->code of a failed verification (Logto's code for it; status 400, message says why). */
#define LATCH_WEBAUTHN_ERR_FAILED "session.mfa.webauthn_verification_failed"
/* The err->code when the signature counter went backwards: the credential may have been cloned.
 * The caller refuses the sign-in and logs it (latch_webauthn_is_clone()). Status 400. */
#define LATCH_WEBAUTHN_ERR_CLONED "session.mfa.webauthn_cloned_authenticator"

/* What the caller expects of a ceremony. All strings NUL-terminated and borrowed. */
struct latch_webauthn_expect {
    const char *rp_id;     /* e.g. "login.example.com" (LATCH_PUBLIC_URL's host) */
    const char *origin;    /* e.g. "https://login.example.com" (scheme://host[:port]), exact */
    const char *challenge; /* the base64url challenge issued for this ceremony */
    bool require_uv;       /* the UV flag must be set (user verification "required") */
    /* Registration only: the caller asked for attestation "none", so a statement in a format
     * this library does not verify (tpm, android-key, apple, fido-u2f, ...) is disregarded and the
     * credential recorded with attestation NONE. When false such a format is refused. */
    bool other_formats_as_none;
};

enum latch_webauthn_attestation {
    LATCH_WEBAUTHN_ATTESTATION_NONE = 0, /* fmt none (or disregarded, see above) */
    LATCH_WEBAUTHN_ATTESTATION_SELF,     /* packed, signed with the credential key itself */
    LATCH_WEBAUTHN_ATTESTATION_BASIC,    /* packed with x5c; the chain is not checked against any
                                            trust anchor (no metadata service here) */
};

/* A parsed authenticatorData (WebAuthn §6.1); pointers borrow the parsed input. */
struct latch_webauthn_auth_data {
    const uint8_t *rp_id_hash; /* 32 bytes */
    uint8_t flags;
    uint32_t sign_count;
    /* Present when flags has AT: */
    const uint8_t *aaguid; /* 16 bytes */
    const uint8_t *cred_id;
    size_t cred_id_len;
    const uint8_t *cose_key; /* the credential public key, one CBOR map */
    size_t cose_key_len;
    /* Present when flags has ED: one CBOR map, not interpreted. */
    const uint8_t *extensions;
    size_t extensions_len;
};

/* A parsed attestation object (WebAuthn §6.5). `cbor` is libcbor's decoded tree, which holds its
 * own copies of the byte strings: auth_data, ad's pointers and att_stmt point into it and stay
 * valid until latch_webauthn_attestation_clear() releases it. */
struct latch_webauthn_attestation_object {
    char fmt[32];
    const uint8_t *auth_data;
    size_t auth_data_len;
    struct latch_webauthn_auth_data ad;
    void *cbor;     /* libcbor's tree of the whole object (owned) */
    void *att_stmt; /* borrowed from cbor: the attStmt map */
};

/* A credential just registered: everything the caller stores. */
struct latch_webauthn_credential {
    uint8_t id[LATCH_WEBAUTHN_CRED_ID_MAX];
    size_t id_len;
    uint8_t cose_key[LATCH_WEBAUTHN_COSE_KEY_MAX]; /* store as is; hand back to verify */
    size_t cose_key_len;
    int alg; /* LATCH_WEBAUTHN_ALG_* */
    uint32_t sign_count;
    uint8_t aaguid[16];
    uint8_t flags; /* of the registration's authenticatorData (UV, BE, BS ...) */
    enum latch_webauthn_attestation attestation;
    char fmt[32]; /* the attestation statement's format as sent */
};

/* What a verified assertion tells the caller. */
struct latch_webauthn_assertion {
    uint32_t sign_count; /* store it as the credential's new counter */
    uint8_t flags;       /* UV says whether user verification was performed (a passkey with UV
                            counts as two factors), BE/BS the backup state */
    uint8_t user_handle[LATCH_WEBAUTHN_USER_HANDLE_MAX];
    size_t user_handle_len; /* 0 when the authenticator sent none */
};

/* Longest RP ID and origin latch_webauthn_rp_from_url() writes (without the NUL). */
#define LATCH_WEBAUTHN_RP_ID_MAX  253
#define LATCH_WEBAUTHN_ORIGIN_MAX 300

/*
 * The RP ID and origin of a public URL (LATCH_PUBLIC_URL) as a browser derives them for pages
 * served under it: rp_id is the host in lower case; origin is scheme://host[:port] in lower case,
 * the scheme's default port (443 for https, 80 for http) left out. Refuses (500, the operator's
 * configuration) a URL that is not http(s)://host..., a host that is an IP address (WebAuthn takes
 * only domain names as RP IDs), userinfo, and names longer than the bounds above.
 */
latch_rc latch_webauthn_rp_from_url(const char *url, char rp_id[LATCH_WEBAUTHN_RP_ID_MAX + 1],
                                    char origin[LATCH_WEBAUTHN_ORIGIN_MAX + 1],
                                    struct latch_error *err) LATCH_MUST_CHECK;

/* Writes a fresh challenge (32 bytes from OpenSSL's CSPRNG, base64url) and its NUL into out.
 * Fails (500) only when the CSPRNG does. */
latch_rc latch_webauthn_challenge_new(char out[LATCH_WEBAUTHN_CHALLENGE_LEN + 1],
                                      struct latch_error *err) LATCH_MUST_CHECK;

/*
 * The registration ceremony (WebAuthn §7.1 steps 5 to 21 minus trust decisions): clientDataJSON
 * of type webauthn.create with the expected challenge and origin and crossOrigin not true; an
 * attestation object whose authData has the RP ID hash, UP (and UV when required), attested
 * credential data with a supported COSE key and nothing after its extensions; a `none` statement
 * that is empty or a `packed` one verified (self: alg equal to the key's, signature by the key;
 * x5c: the leaf's key signs, the leaf meets §8.2.1). On success *out holds the credential. Errors
 * are 400 LATCH_WEBAUTHN_ERR_FAILED with the reason as message (500 for internal failures).
 */
latch_rc latch_webauthn_verify_registration(const struct latch_webauthn_expect *exp,
                                            const uint8_t *client_data_json, size_t cdj_len,
                                            const uint8_t *attestation_object, size_t ao_len,
                                            struct latch_webauthn_credential *out,
                                            struct latch_error *err) LATCH_MUST_CHECK;

/*
 * The authentication ceremony (WebAuthn §7.2 steps 11 to 21): clientDataJSON of type
 * webauthn.get (challenge, origin, crossOrigin as above); authData with the RP ID hash, UP, UV
 * when required, BS only with BE, no trailing bytes; the signature over authData ||
 * SHA-256(clientDataJSON) by the stored COSE key (DER ECDSA, PKCS#1 v1.5, raw Ed25519); then the
 * counter: when the stored or the new counter is non-zero and new <= stored, the assertion is
 * refused with LATCH_WEBAUTHN_ERR_CLONED (checked last, so only a genuinely signed assertion
 * reports a clone). user_handle may be NULL (length 0); it is copied to *out for discoverable
 * sign-in, where the caller must check it names the credential's owner.
 */
latch_rc latch_webauthn_verify_assertion(
    const struct latch_webauthn_expect *exp, const uint8_t *cose_key, size_t cose_key_len,
    uint32_t stored_sign_count, const uint8_t *client_data_json, size_t cdj_len,
    const uint8_t *auth_data, size_t auth_data_len, const uint8_t *sig, size_t sig_len,
    const uint8_t *user_handle, size_t user_handle_len, struct latch_webauthn_assertion *out,
    struct latch_error *err) LATCH_MUST_CHECK;

/* True when err reports a lowered signature counter (LATCH_WEBAUTHN_ERR_CLONED). */
bool latch_webauthn_is_clone(const struct latch_error *err);

/* Parses authenticatorData (no checks beyond its grammar: lengths, the COSE key a single CBOR
 * map, extensions a single map, nothing after them). For the ceremonies and the fuzz driver. */
latch_rc latch_webauthn_auth_data_parse(const uint8_t *p, size_t len,
                                        struct latch_webauthn_auth_data *out,
                                        struct latch_error *err) LATCH_MUST_CHECK;

/* Parses an attestation object: a CBOR map of fmt (text), attStmt (map), authData (bytes, parsed
 * as above with AT required), nothing else, nothing after it. On success the caller must call
 * latch_webauthn_attestation_clear(); on failure nothing is held. */
latch_rc latch_webauthn_attestation_parse(const uint8_t *p, size_t len,
                                          struct latch_webauthn_attestation_object *out,
                                          struct latch_error *err) LATCH_MUST_CHECK;
void latch_webauthn_attestation_clear(struct latch_webauthn_attestation_object *ao);

/* Checks a COSE key (one of the three supported kinds, alg given and matching) and returns its
 * alg. With pkey non-NULL also returns it as an EVP_PKEY (the caller's, EVP_PKEY_free()). */
struct evp_pkey_st;
latch_rc latch_webauthn_cose_key_parse(const uint8_t *p, size_t len, int *alg,
                                       struct evp_pkey_st **pkey,
                                       struct latch_error *err) LATCH_MUST_CHECK;

#endif
