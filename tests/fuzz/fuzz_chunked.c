/*
 * libFuzzer driver for the Transfer-Encoding: chunked decoder (core/http/parser.c). The first
 * input byte chooses how the rest is cut into pieces, as TCP would deliver it; the pieces are fed
 * in order, unconsumed bytes carried over as server.c does. Checks that the decoder never
 * reports more bytes consumed than it was given, that what it appends adds up to its own total
 * and stays within max_body, that the input decodes the same whatever the cuts, and that nothing
 * is consumed once the body is complete.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_chunked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define MAX_BODY 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    char buf[MAX_BODY];
    size_t len;
};

static void append(void *arg, const char *d, size_t n)
{
    struct sink *s = arg;
    if (n > sizeof(s->buf) - s->len)
        abort(); /* beyond max_body */
    memcpy(s->buf + s->len, d, n);
    s->len += n;
}

/* Decodes in[0..len) in pieces of `step` bytes (0: all at once). Returns the final verdict. */
static int decode(const char *in, size_t len, size_t step, struct sink *out, size_t *used_total)
{
    struct latch_chunked ck = {0};
    struct latch_error err;
    size_t start = 0, avail = 0;
    int rc = 0;

    out->len = 0;
    *used_total = 0;
    while (rc == 0) {
        /* Bytes received so far: [start, start + avail); add one more piece. */
        size_t more = step == 0 ? len : step;
        if (start + avail >= len)
            break;
        avail = start + avail + more > len ? len - start : avail + more;
        size_t used = 0;
        rc = latch_chunked_feed(&ck, in + start, avail, &used, MAX_BODY, append, out, &err);
        if (used > avail)
            abort();
        if (rc < 0 && err.status != 400 && err.status != 413)
            abort();
        start += used;
        avail -= used;
        *used_total += used;
    }
    if (rc == 1 && ck.total != out->len)
        abort();
    if (rc == 1) {
        /* A complete body consumes nothing more. */
        size_t used = 0;
        if (latch_chunked_feed(&ck, in + start, len - start, &used, MAX_BODY, append, out, &err) !=
                1 ||
            used != 0)
            abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sink whole, cut;
    size_t used_whole, used_cut;

    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 16 + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;

    int a = decode(in, len, 0, &whole, &used_whole);
    int b = decode(in, len, step, &cut, &used_cut);
    /* A complete body decodes to the same bytes however it arrived. */
    if (a == 1 && (b != 1 || whole.len != cut.len || memcmp(whole.buf, cut.buf, whole.len) != 0 ||
                   used_whole != used_cut))
        abort();
    return 0;
}
