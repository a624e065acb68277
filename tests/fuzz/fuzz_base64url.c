/*
 * libFuzzer driver for base64 (core/util/base64.c), all three decoders. Round trips both ways:
 * the input as text, when a strict decoder accepts it, encodes back to exactly the same text in
 * that spelling (one accepted encoding per byte string; for the decoder of operator keys, which
 * takes either alphabet and optional padding, the text is checked against the spelling it used);
 * the input as bytes encodes to text of the announced length that decodes back to the same bytes.
 * A buffer one byte short is refused, never overrun.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_base64url.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef ssize_t (*decode_fn)(const char *in, size_t len, uint8_t *out, size_t cap);
typedef ssize_t (*encode_fn)(const uint8_t *in, size_t len, char *out, size_t cap);

/* The text data[0..size) decoded by dec; when accepted, re-encoded by enc it must come back
 * identical (after turning '=' padding off or the URL alphabet into the standard one, as norm
 * says), and a buffer one byte short must be refused. */
static void check_text(const uint8_t *data, size_t size, decode_fn dec, encode_fn enc,
                       size_t (*enc_len)(size_t))
{
    size_t dcap = latch_base64_decoded_len(size);
    uint8_t *out = malloc(dcap + 1);
    char *again = malloc(latch_base64_encoded_len(dcap) + 1);
    if (out == NULL || again == NULL)
        abort();
    ssize_t n = dec((const char *)data, size, out, dcap);
    if (n >= 0) {
        if ((size_t)n > dcap)
            abort();
        size_t elen = enc_len((size_t)n);
        if (enc(out, (size_t)n, again, elen + 1) != (ssize_t)elen || elen != size ||
            memcmp(again, data, size) != 0)
            abort();
        if (n > 0 && dec((const char *)data, size, out, (size_t)n - 1) != -1)
            abort(); /* a buffer one byte short */
    }
    free(out);
    free(again);
}

/* The bytes data[0..size) encoded by enc into exactly sized text, which dec takes back. */
static void check_bytes(const uint8_t *data, size_t size, decode_fn dec, encode_fn enc,
                        size_t (*enc_len)(size_t))
{
    size_t ecap = enc_len(size) + 1;
    char *text = malloc(ecap);
    uint8_t *back = malloc(size + 1);
    if (text == NULL || back == NULL)
        abort();
    if (enc(data, size, text, ecap - 1) != -1 || (ecap > 1 && text[0] != '\0'))
        abort(); /* too small: refused, and the output left empty */
    ssize_t e = enc(data, size, text, ecap);
    if (e < 0 || (size_t)e != ecap - 1 || text[e] != '\0')
        abort();
    ssize_t d = dec(text, (size_t)e, back, size);
    if (d < 0 || (size_t)d != size || memcmp(back, data, size) != 0)
        abort();
    /* The operator-key decoder takes both spellings too. */
    d = latch_base64_decode_any(text, (size_t)e, back, size);
    if (d < 0 || (size_t)d != size || memcmp(back, data, size) != 0)
        abort();
    free(text);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_text(data, size, latch_base64url_decode, latch_base64url_encode,
               latch_base64url_encoded_len);
    check_text(data, size, latch_base64_decode, latch_base64_encode, latch_base64_encoded_len);
    check_bytes(data, size, latch_base64url_decode, latch_base64url_encode,
                latch_base64url_encoded_len);
    check_bytes(data, size, latch_base64_decode, latch_base64_encode, latch_base64_encoded_len);

    /* decode_any accepts exactly what the strict standard decoder accepts once the text is put
     * in its spelling: the URL alphabet mapped to the standard one, and padded. */
    size_t dcap = latch_base64_decoded_len(size);
    uint8_t *any = malloc(dcap + 1);
    uint8_t *std = malloc(dcap + 1);
    char *norm = malloc(size + 3);
    if (any == NULL || std == NULL || norm == NULL)
        abort();
    ssize_t a = latch_base64_decode_any((const char *)data, size, any, dcap);
    bool has_std = memchr(data, '+', size) != NULL || memchr(data, '/', size) != NULL;
    bool has_url = memchr(data, '-', size) != NULL || memchr(data, '_', size) != NULL;
    size_t m = size;
    for (size_t i = 0; i < size; i++)
        norm[i] = data[i] == '-' ? '+' : data[i] == '_' ? '/' : (char)data[i];
    /* Padding is added only to a text that has none: one that has some keeps it as it is. */
    while (memchr(data, '=', size) == NULL && m % 4 != 0)
        norm[m++] = '=';
    ssize_t s = latch_base64_decode(norm, m, std, dcap);
    if (has_std && has_url) {
        if (a != -1)
            abort(); /* one text, one alphabet */
    } else if (a != s || (a > 0 && memcmp(any, std, (size_t)a) != 0)) {
        abort();
    }
    free(any);
    free(std);
    free(norm);
    return 0;
}
