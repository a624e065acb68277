/* HTML escaping; see html.h. */
#include "util/html.h"

#include <stdint.h>
#include <string.h>

/* The replacement of one byte, or NULL when it stands for itself. */
static const char *entity(char c)
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    default:
        return NULL;
    }
}

char *latch_html_escape(struct latch_arena *arena, const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        const char *rep = entity(*p);
        size_t add = rep != NULL ? strlen(rep) : 1;
        if (n > SIZE_MAX - 1 - add)
            return NULL;
        n += add;
    }
    char *out = latch_arena_alloc(arena, n + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    for (const char *p = s; *p; p++) {
        const char *rep = entity(*p);
        if (rep == NULL) {
            *o++ = *p;
            continue;
        }
        size_t r = strlen(rep);
        memcpy(o, rep, r);
        o += r;
    }
    *o = '\0';
    return out;
}
