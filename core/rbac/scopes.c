/* Scope decisions; see scopes.h. */
#include "rbac/scopes.h"

#include <string.h>

bool latch_rbac_scope_token_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e)
            return false;
    }
    return n > 0;
}

/* The next scope of a list: skips spaces, sets *n to its length; NULL at the end. */
static const char *next_scope(const char *p, size_t *n)
{
    if (p == NULL)
        return NULL;
    while (*p == ' ')
        p++;
    if (*p == '\0')
        return NULL;
    *n = strcspn(p, " ");
    return p;
}

bool latch_rbac_list_has(const char *list, const char *name, size_t n)
{
    size_t m = 0;
    for (const char *p = next_scope(list, &m); p != NULL; p = next_scope(p + m, &m))
        if (m == n && memcmp(p, name, n) == 0)
            return true;
    return false;
}

/* Appends s[0..n) to out unless it is there already. */
static bool append_once(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (latch_rbac_list_has(out, s, n))
        return true;
    size_t need = *len + (*len > 0) + n + 1;
    if (need > cap)
        return false;
    if (*len > 0)
        out[(*len)++] = ' ';
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

/* LATCH_RBAC_OK, MALFORMED or TOO_MANY for a requested list; *any: whether it names a scope. */
static enum latch_rbac_result check_list(const char *list, bool *any)
{
    size_t n = 0, count = 0;
    for (const char *p = next_scope(list, &n); p != NULL; p = next_scope(p + n, &n)) {
        if (!latch_rbac_scope_token_ok(p, n))
            return LATCH_RBAC_MALFORMED;
        if (++count > LATCH_RBAC_MAX_SCOPES)
            return LATCH_RBAC_TOO_MANY;
    }
    *any = count > 0;
    return LATCH_RBAC_OK;
}

enum latch_rbac_result latch_rbac_check(const char *list)
{
    bool any;
    return check_list(list, &any);
}

const char *latch_rbac_describe(enum latch_rbac_result r)
{
    switch (r) {
    case LATCH_RBAC_OK:
        return "The scope parameter is valid.";
    case LATCH_RBAC_MALFORMED:
        return "The scope parameter is malformed.";
    case LATCH_RBAC_TOO_MANY:
        return "The scope parameter names too many scopes.";
    case LATCH_RBAC_TOO_LONG:
        break;
    }
    return "The scope parameter is too long.";
}

enum latch_rbac_result latch_rbac_grant(const char *requested, const char *held,
                                        enum latch_rbac_unrequested unrequested, char *out,
                                        size_t cap)
{
    if (cap == 0)
        return LATCH_RBAC_TOO_LONG;
    out[0] = '\0';
    bool any = false;
    enum latch_rbac_result checked = check_list(requested, &any);
    if (checked != LATCH_RBAC_OK)
        return checked;
    size_t len = 0, n = 0;
    for (const char *p = next_scope(requested, &n); p != NULL; p = next_scope(p + n, &n)) {
        if (latch_rbac_list_has(held, p, n) && !append_once(out, cap, &len, p, n)) {
            out[0] = '\0';
            return LATCH_RBAC_TOO_LONG;
        }
    }
    if (any || unrequested == LATCH_RBAC_NOTHING)
        return LATCH_RBAC_OK;
    for (const char *p = next_scope(held, &n); p != NULL; p = next_scope(p + n, &n)) {
        if (!append_once(out, cap, &len, p, n)) {
            out[0] = '\0';
            return LATCH_RBAC_TOO_LONG;
        }
    }
    return LATCH_RBAC_OK;
}
