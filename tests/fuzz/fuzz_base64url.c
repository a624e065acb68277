/*
 * libFuzzer driver for base64url (core/jose/base64url.c). Round trips both ways: the input as
 * text, when the strict decoder accepts it, encodes back to exactly the same text (one accepted
 * encoding per byte string); the input as bytes encodes to text of the announced length that
 * decodes back to the same bytes. A buffer one byte short is refused, never overrun.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_base64url.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose/base64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t dcap = latch_jose_b64url_decoded_len(size);
    size_t ecap = latch_jose_b64url_encoded_len(size) + 1;
    uint8_t *dec = malloc(dcap + 1);
    char *enc = malloc(ecap);
    char *again = malloc(latch_jose_b64url_encoded_len(dcap) + 1);
    uint8_t *back = malloc(size + 1);

    if (dec == NULL || enc == NULL || again == NULL || back == NULL)
        abort();

    /* As text. */
    ssize_t n = latch_jose_b64url_decode((const char *)data, size, dec, dcap);
    if (n >= 0) {
        if ((size_t)n > dcap || (size_t)n != latch_jose_b64url_decoded_len(size))
            abort();
        ssize_t m = latch_jose_b64url_encode(dec, (size_t)n, again,
                                             latch_jose_b64url_encoded_len((size_t)n) + 1);
        if (m < 0 || (size_t)m != size || memcmp(again, data, size) != 0)
            abort();
        if (n > 0 && latch_jose_b64url_decode((const char *)data, size, dec, (size_t)n - 1) != -1)
            abort(); /* a buffer one byte short */
    }

    /* As bytes. */
    if (latch_jose_b64url_encode(data, size, enc, ecap - 1) != -1 || (ecap > 1 && enc[0] != '\0'))
        abort(); /* too small: refused, and the output left empty */
    ssize_t e = latch_jose_b64url_encode(data, size, enc, ecap);
    if (e < 0 || (size_t)e != ecap - 1 || enc[e] != '\0')
        abort();
    ssize_t d = latch_jose_b64url_decode(enc, (size_t)e, back, size);
    if (d < 0 || (size_t)d != size || memcmp(back, data, size) != 0)
        abort();

    free(dec);
    free(enc);
    free(again);
    free(back);
    return 0;
}
