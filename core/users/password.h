/*
 * Password hashing: Argon2i in PHC string form with Logto's parameters (t=8, m=8192 KiB, p=1 by
 * default; LATCH_PASSWORD_ARGON2_* change them). Verification also accepts Argon2id, Argon2d and
 * bcrypt hashes of imported users and says when a hash should be upgraded.
 *
 * Every function here is CPU-heavy and blocking: call them on the CPU worker lane
 * (latch_http_submit, LATCH_LANE_CPU), never on a loop thread. Any worker thread may call them.
 */
#ifndef LATCH_USERS_PASSWORD_H
#define LATCH_USERS_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define LATCH_PASSWORD_HASH_MAX 256
#define LATCH_PASSWORD_MAX      256 /* bytes; longer input is refused before hashing */

struct latch_password_params {
    uint32_t iterations;  /* t */
    uint32_t memory_kib;  /* m */
    uint32_t parallelism; /* p */
};

/* Sets the parameters new hashes use (start-up, before threads). */
void latch_password_configure(const struct latch_password_params *params);

/* Hashes password into out (PHC "$argon2i$v=19$m=…,t=…,p=…$salt$hash"); method gets "Argon2i". */
latch_rc latch_password_hash(const char *password, char out[LATCH_PASSWORD_HASH_MAX],
                             struct latch_error *err) LATCH_MUST_CHECK;

/*
 * Checks password against encrypted (method "Argon2i", "Argon2id", "Argon2d" or "Bcrypt"). On a
 * match, *needs_upgrade says whether the hash should be replaced by a new Argon2i hash with the
 * current parameters (other algorithm, or weaker parameters).
 */
bool latch_password_verify(const char *password, const char *encrypted, const char *method,
                           bool *needs_upgrade);

/* Spends the time of one verification against a fixed hash, for unknown users, so that their
 * absence cannot be told from the time taken. */
void latch_password_verify_dummy(const char *password);

/* The head of an Argon2 PHC string, as latch_password_verify() reads it before deciding whether
 * the hash is worth verifying. Public for the fuzzer (tests/fuzz/fuzz_phc.c): parsing only. */
struct latch_password_phc {
    int type;         /* an argon2_type */
    unsigned version; /* 0x10 when the string has no v= (Argon2 1.0) */
    uint32_t m, t, p;
};

/* Reads "$argon2<x>$[v=<n>$]m=<n>,t=<n>,p=<n>$" from the NUL-terminated s; false when s does
 * not start so. Any thread. */
bool latch_password_phc_parse(const char *s, struct latch_password_phc *out);

/* Whether s looks like a bcrypt hash Latch agrees to verify ("$2a$NN$" + 53 characters, NN in
 * 04..LATCH_PASSWORD_VERIFY_MAX_BCRYPT). Any thread. */
bool latch_password_bcrypt_shape(const char *s);

#endif
