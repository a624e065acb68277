/*
 * libFuzzer driver for reading cookies (core/http/cookie.c). The input, cut at its first NUL, is
 * the value of two Cookie headers of a request (as the parser leaves them: NUL-terminated); a
 * few fixed names and a name taken from the input are looked up. Checks that a value found is
 * no longer than the header it came from.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_cookie.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"latch_session_default", "_session", "a", "", "=", ";"};
    struct latch_arena *arena = latch_arena_new(1 << 20);
    struct latch_request req;

    if (arena == NULL)
        abort();
    char *value = latch_arena_strndup(arena, (const char *)data, size);
    if (value == NULL)
        abort();
    size_t vlen = strlen(value);
    /* A name from the input too: its bytes up to the first '=' (or the first 16). */
    size_t nlen = strcspn(value, "=");
    char *own = latch_arena_strndup(arena, value, nlen < 16 ? nlen : 16);

    memset(&req, 0, sizeof(req));
    req.arena = arena;
    req.headers[0].name = "Host";
    req.headers[0].value = "auth.example.com";
    req.headers[1].name = "Cookie";
    req.headers[1].value = value;
    req.headers[2].name = "cookie";
    req.headers[2].value = value + vlen / 2;
    req.nheaders = 3;

    for (size_t i = 0; i <= sizeof(names) / sizeof(names[0]); i++) {
        const char *name = i < sizeof(names) / sizeof(names[0]) ? names[i] : own;
        const char *got = latch_http_cookie_get(&req, name);
        if (got != NULL && strlen(got) > vlen)
            abort();
    }
    latch_arena_free(arena);
    return 0;
}
