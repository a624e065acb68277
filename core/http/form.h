/*
 * application/x-www-form-urlencoded and query-string parsing into the request arena, with the
 * bounds OAuth needs: a cap on fields, and detection of repeated parameters (RFC 6749 §3.1:
 * "Request and response parameters MUST NOT be included more than once"), while still letting
 * a caller read a parameter that may legitimately repeat (RFC 8707 `resource`).
 */
#ifndef LATCH_HTTP_FORM_H
#define LATCH_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"
#include "util/error.h"

#define LATCH_FORM_MAX_FIELDS 64

struct latch_form_field {
    const char *name;  /* decoded */
    const char *value; /* decoded ('+' is a space) */
};

struct latch_form {
    struct latch_form_field fields[LATCH_FORM_MAX_FIELDS];
    int n;
    /* After a failed parse: the name of the first field whose name or value is not well-formed
     * UTF-8 ("(parameter name)" when the name itself is not), NULL when the parse failed for
     * another reason. Only in that case are fields[] complete (invalid values included), so the
     * authorization endpoint can still read client_id and redirect_uri to decide where the error
     * goes. */
    const char *invalid;
};

/* Parses text[0..len). 400 "invalid_request" on malformed escapes, NULs, too many fields, or a
 * name or value that is not well-formed UTF-8 once decoded (the message names the field). */
latch_rc latch_form_parse(struct latch_form *form, struct latch_arena *arena, const char *text,
                          size_t len, struct latch_error *err) LATCH_MUST_CHECK;

/* First value of name, NULL when absent. */
const char *latch_form_get(const struct latch_form *form, const char *name);

/* How many times name occurs. */
int latch_form_count(const struct latch_form *form, const char *name);

/* Name of the first parameter (other than those in allow_repeat, NULL-terminated) that occurs
 * more than once, or NULL. */
const char *latch_form_repeated(const struct latch_form *form, const char *const *allow_repeat);

#endif
