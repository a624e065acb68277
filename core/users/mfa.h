/*
 * A person's MFA factors at rest (schema/0012): the TOTP secret sealed under LATCH_SECRET_KEY,
 * backup codes generated and stored as keyed hashes, and the otpauth:// URI an authenticator app
 * scans. Shared by the Experience API (experience/mfa.c) and the Management API
 * (mgmt/users_mfa.c). Pure functions over jose/; any thread.
 */
#ifndef LATCH_USERS_MFA_H
#define LATCH_USERS_MFA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jose/secret.h"
#include "jose/totp.h"
#include "util/error.h"

/* Key purposes under LATCH_SECRET_KEY (latch_jose_derive_key). */
#define LATCH_MFA_TOTP_KEY_PURPOSE   "latch/totp-secret/v1"
#define LATCH_MFA_BACKUP_KEY_PURPOSE "latch/backup-code/v1"

/* Factor ids (mfa_factors.id): Logto's 21-character ids. */
#define LATCH_MFA_FACTOR_ID_LEN 21

/* Logto's backup codes: ten codes of ten lower-case hex digits. */
#define LATCH_MFA_BACKUP_CODES    10
#define LATCH_MFA_BACKUP_CODE_LEN 10

/* A sealed TOTP secret as hex (12-byte IV, ciphertext, 16-byte tag): at most this many chars. */
#define LATCH_MFA_SEALED_HEX_MAX (2 * (12 + LATCH_TOTP_SECRET_MAX + 16) + 1)

/*
 * Seals a TOTP secret for user of tenant under master (LATCH_SECRET_KEY): AES-256-GCM with the
 * additional data "tenant/user/totp", as lower-case hex into out. The same sealed value serves
 * the interaction's pending secret and the factor row, and opens for no other person.
 */
latch_rc latch_users_mfa_totp_seal(const uint8_t master[32], const char *tenant, const char *user,
                                   const uint8_t *secret, size_t len,
                                   char out[LATCH_MFA_SEALED_HEX_MAX]) LATCH_MUST_CHECK;

/* Opens what latch_users_mfa_totp_seal() made (hex, either case, with or without PostgreSQL's
 * "\\x") into secret (cap LATCH_TOTP_SECRET_MAX); *len its length. Fails on any tampering, a
 * wrong person or tenant. The caller wipes secret. */
latch_rc latch_users_mfa_totp_open(const uint8_t master[32], const char *tenant, const char *user,
                                   const char *sealed_hex, uint8_t secret[LATCH_TOTP_SECRET_MAX],
                                   size_t *len) LATCH_MUST_CHECK;

/* Writes LATCH_MFA_BACKUP_CODES new codes (each LATCH_MFA_BACKUP_CODE_LEN hex digits + NUL),
 * uniformly random. */
latch_rc latch_users_mfa_backup_codes_new(
    char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1]) LATCH_MUST_CHECK;

/*
 * The stored form of a backup code: HMAC-SHA-256 under key (derived with
 * LATCH_MFA_BACKUP_KEY_PURPOSE) of "tenant\nuser\ncode", the code trimmed and in lower case, as
 * PostgreSQL bytea text. Fails when the code is not LATCH_MFA_BACKUP_CODE_LEN hex digits (so a
 * wrong guess of another shape is refused without a query) or a part has a newline.
 */
latch_rc latch_users_mfa_backup_hash(const uint8_t key[32], const char *tenant, const char *user,
                                     const char *code,
                                     char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/* A new TOTP factor's secret for user: base32 (for the person, the caller wipes it) into b32 and
 * sealed (as latch_users_mfa_totp_seal()) into sealed; the raw bytes are wiped. */
latch_rc latch_users_mfa_totp_new(const uint8_t master[32], const char *tenant, const char *user,
                                  char b32[LATCH_TOTP_SECRET_B32 + 1],
                                  char sealed[LATCH_MFA_SEALED_HEX_MAX]) LATCH_MUST_CHECK;

/* New backup codes for user into codes (the caller wipes them) and their keyed hashes under
 * master as a JSON array of bytea texts into *hashes (malloc'd; the caller frees it). */
latch_rc
latch_users_mfa_backup_new(const uint8_t master[32], const char *tenant, const char *user,
                           char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1],
                           char **hashes) LATCH_MUST_CHECK;

/* The keyed hash of one backup code of user under master (latch_users_mfa_backup_hash() with the
 * derived key). */
latch_rc latch_users_mfa_backup_check_hash(const uint8_t master[32], const char *tenant,
                                           const char *user, const char *code,
                                           char out[LATCH_TOKEN_HASH_TEXT]) LATCH_MUST_CHECK;

/*
 * The otpauth:// URI (Google Authenticator's Key Uri Format) for secret_b32, labelled
 * "issuer:account" with issuer=… and the algorithm, digits and period spelled out; issuer and
 * account percent-encoded. malloc'd; the caller wipes and frees it (it holds the secret). NULL
 * when out of memory.
 */
char *latch_users_mfa_otpauth_uri(const char *issuer, const char *account, const char *secret_b32);

#endif
