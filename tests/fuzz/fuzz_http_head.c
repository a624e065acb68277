/*
 * libFuzzer driver for the HTTP request-head parser and the chunked decoder.
 * Build: meson setup build-fuzz -Dfuzz=true (clang), run: build-fuzz/tests/fuzz_http_head.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void discard(void *arg, const char *d, size_t n)
{
    (void)arg;
    (void)d;
    (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct latch_arena *arena = latch_arena_new(1 << 20);
    struct latch_request req;
    memset(&req, 0, sizeof(req));
    req.arena = arena;
    struct latch_http_head_info info;
    struct latch_error err;
    (void)latch_http_parse_head(&req, (const char *)data, size, &info, &err);

    struct latch_chunked ck = {0};
    size_t used = 0;
    (void)latch_chunked_feed(&ck, (const char *)data, size, &used, 1 << 16, discard, NULL, &err);
    latch_arena_free(arena);
    return 0;
}
