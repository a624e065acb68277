/*
 * libFuzzer driver for the password-hash strings of stored users (core/users/password.c):
 * the Argon2 PHC head ("$argon2id$v=19$m=…,t=…,p=…$") and the bcrypt shape check, which decide
 * whether a stored hash is worth verifying. Parsing only: no Argon2 or bcrypt runs here. Checks
 * that an accepted PHC head names one of the three Argon2 types, and that parsing is a pure
 * function of the head (the same numbers once the salt and tag are cut off).
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_phc.
 */
#include <argon2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "users/password.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    struct latch_password_phc phc, again;

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    if (latch_password_phc_parse(s, &phc)) {
        if (phc.type != Argon2_i && phc.type != Argon2_id && phc.type != Argon2_d)
            abort();
        /* The head ends at its fourth '$' (third without v=): cut there, parse again. */
        int dollars = 0, want = strstr(s, "$v=") != NULL ? 4 : 3;
        char *p = s;
        while (*p && dollars < want)
            if (*p++ == '$')
                dollars++;
        *p = '\0';
        if (!latch_password_phc_parse(s, &again) || again.type != phc.type ||
            again.version != phc.version || again.m != phc.m || again.t != phc.t ||
            again.p != phc.p)
            abort();
    }
    if (latch_password_bcrypt_shape(s) && strlen(s) != 60)
        abort();
    free(s);
    return 0;
}
