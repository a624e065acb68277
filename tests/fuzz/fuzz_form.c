/*
 * libFuzzer driver for application/x-www-form-urlencoded and query strings
 * (core/http/form.c). Checks the bounds form.h promises on an accepted input: at most
 * LATCH_FORM_MAX_FIELDS fields, decoded names and values without a NUL inside their length and
 * no longer than the input, and that latch_form_get / _count / _repeated agree with the fields.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_form.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct latch_arena *arena = latch_arena_new(1 << 20);
    struct latch_form form;
    struct latch_error err;

    if (arena == NULL)
        abort();
    memset(&err, 0, sizeof(err));
    if (latch_form_parse(&form, arena, (const char *)data, size, &err) == LATCH_OK) {
        if (form.n < 0 || form.n > LATCH_FORM_MAX_FIELDS)
            abort();
        bool any_repeat = false;
        for (int i = 0; i < form.n; i++) {
            const struct latch_form_field *f = &form.fields[i];
            if (f->name == NULL || f->value == NULL || strlen(f->name) + strlen(f->value) > size)
                abort();
            const char *first = latch_form_get(&form, f->name);
            int count = latch_form_count(&form, f->name);
            if (first == NULL || count < 1 || count > form.n)
                abort();
            if (count > 1)
                any_repeat = true;
        }
        const char *rep = latch_form_repeated(&form, NULL);
        if ((rep != NULL) != any_repeat || (rep != NULL && latch_form_count(&form, rep) < 2))
            abort();
    } else if (err.status != 400) {
        abort();
    }
    latch_arena_free(arena);
    return 0;
}
