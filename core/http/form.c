/* Form and query-string parsing; see form.h. */
#include "http/form.h"

#include <string.h>

#include "util/percent.h"
#include "util/utf8.h"

static char *decode_component(struct latch_arena *arena, const char *s, size_t len)
{
    char *tmp = latch_arena_alloc(arena, len + 1);
    if (tmp == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        tmp[i] = s[i] == '+' ? ' ' : s[i];
    char *out = latch_arena_alloc(arena, len + 1);
    if (out == NULL || latch_percent_decode(out, tmp, len) < 0)
        return NULL;
    return out;
}

latch_rc latch_form_parse(struct latch_form *form, struct latch_arena *arena, const char *text,
                          size_t len, struct latch_error *err)
{
    form->n = 0;
    form->invalid = NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *fend = amp ? amp : end;
        if (fend > p) {
            if (form->n == LATCH_FORM_MAX_FIELDS) {
                form->invalid = NULL; /* fields[] is incomplete */
                return latch_error_set(err, 400, "invalid_request", "Too many parameters.");
            }
            const char *eq = memchr(p, '=', (size_t)(fend - p));
            const char *nend = eq ? eq : fend;
            const char *vstart = eq ? eq + 1 : fend;
            char *name = decode_component(arena, p, (size_t)(nend - p));
            char *value = decode_component(arena, vstart, (size_t)(fend - vstart));
            if (name == NULL || value == NULL) {
                form->invalid = NULL;
                return latch_error_set(err, 400, "invalid_request", "Malformed form encoding.");
            }
            /* PostgreSQL refuses ill-formed UTF-8 (22021): stop it here, with the field's name.
             * Parsing goes on so that fields[] is complete for callers that route the error. */
            if (form->invalid == NULL && !latch_utf8_valid_str(name))
                form->invalid = "(parameter name)";
            else if (form->invalid == NULL && !latch_utf8_valid_str(value))
                form->invalid = name;
            form->fields[form->n].name = name;
            form->fields[form->n].value = value;
            form->n++;
        }
        p = amp ? amp + 1 : end;
    }
    if (form->invalid != NULL)
        return latch_error_set(err, 400, "invalid_request", "Parameter `%.64s` is not valid UTF-8.",
                               form->invalid);
    return LATCH_OK;
}

const char *latch_form_get(const struct latch_form *form, const char *name)
{
    for (int i = 0; i < form->n; i++)
        if (strcmp(form->fields[i].name, name) == 0)
            return form->fields[i].value;
    return NULL;
}

int latch_form_count(const struct latch_form *form, const char *name)
{
    int n = 0;
    for (int i = 0; i < form->n; i++)
        n += strcmp(form->fields[i].name, name) == 0;
    return n;
}

const char *latch_form_repeated(const struct latch_form *form, const char *const *allow_repeat)
{
    for (int i = 0; i < form->n; i++) {
        bool allowed = false;
        for (const char *const *a = allow_repeat; a && *a; a++)
            allowed |= strcmp(*a, form->fields[i].name) == 0;
        if (allowed)
            continue;
        for (int j = i + 1; j < form->n; j++)
            if (strcmp(form->fields[i].name, form->fields[j].name) == 0)
                return form->fields[i].name;
    }
    return NULL;
}
