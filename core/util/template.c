/* Message templates; see template.h. */
#include "util/template.h"

#include <stdbool.h>
#include <string.h>

#include "util/html.h"

/* What one render needs between its two passes (measure, then write). */
struct render {
    struct latch_arena *arena;
    const char *const *names;
    const char *const *values;
    size_t n;
    bool html;
    const char **escaped; /* escaped[i]: values[i] escaped (html only), made on first use */
};

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* When p starts a placeholder: its name in *name / *name_len and its whole length. 0 when p
 * does not start one (the text is then copied as is). */
static size_t placeholder(const char *p, const char **name, size_t *name_len)
{
    if (p[0] != '{' || p[1] != '{')
        return 0;
    const char *q = p + 2;
    while (blank(*q))
        q++;
    const char *start = q;
    while (name_char(*q) && (size_t)(q - start) <= LATCH_TEMPLATE_NAME_MAX)
        q++;
    size_t len = (size_t)(q - start);
    if (len == 0 || len > LATCH_TEMPLATE_NAME_MAX)
        return 0;
    while (blank(*q))
        q++;
    if (q[0] != '}' || q[1] != '}')
        return 0;
    *name = start;
    *name_len = len;
    return (size_t)(q + 2 - p);
}

/* The text that replaces the placeholder named name[0..len): "" when no variable has it.
 * Sets *failed when the escaped copy could not be made. */
static const char *value_of(struct render *r, const char *name, size_t len, bool *failed)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->names[i] == NULL || strncmp(r->names[i], name, len) != 0 || r->names[i][len] != '\0')
            continue;
        const char *v = r->values[i] != NULL ? r->values[i] : "";
        if (!r->html)
            return v;
        if (r->escaped[i] == NULL) {
            r->escaped[i] = latch_html_escape(r->arena, v);
            if (r->escaped[i] == NULL) {
                *failed = true;
                return "";
            }
        }
        return r->escaped[i];
    }
    return "";
}

/* One pass over tpl: counts the result's length, and writes it too when out is not NULL (out
 * then has room for the length the counting pass found, plus the NUL). Returns false when the
 * result would exceed LATCH_TEMPLATE_OUTPUT_MAX or an escaped value could not be made. */
static bool expand(struct render *r, const char *tpl, char *out, size_t *len)
{
    size_t o = 0;
    bool failed = false;
    for (const char *p = tpl; *p;) {
        const char *name;
        size_t name_len;
        size_t ph = placeholder(p, &name, &name_len);
        const char *piece = p;
        size_t piece_len = 1;
        if (ph > 0) {
            piece = value_of(r, name, name_len, &failed);
            if (failed)
                return false;
            piece_len = strlen(piece);
            p += ph;
        } else {
            p++;
        }
        if (piece_len > LATCH_TEMPLATE_OUTPUT_MAX - o)
            return false;
        if (out != NULL)
            memcpy(out + o, piece, piece_len);
        o += piece_len;
    }
    if (out != NULL)
        out[o] = '\0';
    *len = o;
    return true;
}

char *latch_template_render(struct latch_arena *arena, const char *tpl, const char *const *names,
                            const char *const *values, size_t n, unsigned flags)
{
    if (tpl == NULL || (n > 0 && (names == NULL || values == NULL)))
        return NULL;
    struct render r = {
        .arena = arena,
        .names = names,
        .values = values,
        .n = n,
        .html = (flags & LATCH_TEMPLATE_HTML) != 0,
    };
    if (r.html && n > 0) {
        r.escaped = latch_arena_calloc(arena, n, sizeof(*r.escaped));
        if (r.escaped == NULL)
            return NULL;
    }
    size_t len;
    if (!expand(&r, tpl, NULL, &len))
        return NULL;
    char *out = latch_arena_alloc(arena, len + 1);
    if (out == NULL)
        return NULL;
    /* The second pass reuses the escaped copies, so it cannot fail or find another length. */
    if (!expand(&r, tpl, out, &len))
        return NULL;
    return out;
}
