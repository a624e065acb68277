/*
 * Message templates (Logto's handlebars for mail and SMS text): fills every {{name}} of a
 * template with the value of a variable, HTML-escaped when the template is HTML. The one renderer
 * behind the connector service render_template and the core's own messages. Any thread may call
 * it.
 */
#ifndef LATCH_UTIL_TEMPLATE_H
#define LATCH_UTIL_TEMPLATE_H

#include <stddef.h>

#include "util/arena.h"

/* latch_template_render flags. */
#define LATCH_TEMPLATE_HTML 0x1u /* escape values for HTML text and quoted attributes */

/* The longest rendered text: a template whose result would be longer is refused. */
#define LATCH_TEMPLATE_OUTPUT_MAX (1024u * 1024u)
/* The longest variable name a placeholder may hold. */
#define LATCH_TEMPLATE_NAME_MAX 64

/*
 * A copy of tpl in which every placeholder is replaced by the value of the variable of that name
 * (names[i] and values[i], i < n; the first of several equal names wins; a NULL value counts as
 * ""), and by "" when no variable has that name. A placeholder is "{{", optional spaces or tabs,
 * a name of 1 to LATCH_TEMPLATE_NAME_MAX letters, digits, '_', '.' or '-', optional spaces or
 * tabs, "}}"; any other text, braces that do not form a placeholder included, is copied as is,
 * and values are not themselves rendered. With LATCH_TEMPLATE_HTML each value goes through
 * latch_html_escape (& < > " '), so a variable cannot inject markup; the template's own text is
 * never escaped.
 *
 * Allocated in arena. NULL when tpl is NULL, when the result would be longer than
 * LATCH_TEMPLATE_OUTPUT_MAX bytes, or when the arena is exhausted.
 */
char *latch_template_render(struct latch_arena *arena, const char *tpl, const char *const *names,
                            const char *const *values, size_t n, unsigned flags);

#endif
