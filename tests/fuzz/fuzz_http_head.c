/*
 * libFuzzer driver for the HTTP/1.1 request-head parser (core/http/parser.c): each input is a
 * request head as the server would hand it over. Checks that an accepted head has a method, a
 * target and a path inside the request, at most LATCH_HTTP_MAX_HEADERS headers with names and
 * values, and that a failure carries one of the statuses parser.h promises.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_http_head.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct latch_arena *arena = latch_arena_new(1 << 20);
    struct latch_request req;
    struct latch_http_head_info info;
    struct latch_error err;

    if (arena == NULL)
        abort();
    memset(&req, 0, sizeof(req));
    memset(&err, 0, sizeof(err));
    req.arena = arena;
    if (latch_http_parse_head(&req, (const char *)data, size, &info, &err) == LATCH_OK) {
        if (req.method_text == NULL || req.target == NULL || req.path == NULL ||
            req.query == NULL || req.nheaders < 0 || req.nheaders > LATCH_HTTP_MAX_HEADERS)
            abort();
        /* The decoded path never contains a NUL and is no longer than the target. */
        if (strlen(req.path) > strlen(req.target))
            abort();
        for (int i = 0; i < req.nheaders; i++)
            if (req.headers[i].name == NULL || req.headers[i].value == NULL ||
                req.headers[i].name[0] == '\0')
                abort();
        if (info.has_content_length && info.chunked)
            abort(); /* RFC 9112 §6.3: both together is refused (request smuggling) */
    } else if (err.status != 400 && err.status != 413 && err.status != 414 && err.status != 417 &&
               err.status != 431 && err.status != 501 && err.status != 505) {
        abort();
    }
    latch_arena_free(arena);
    return 0;
}
