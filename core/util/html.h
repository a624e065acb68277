/*
 * HTML escaping: the one escaper behind the hosted pages and the error pages, for text and for
 * quoted attribute values. Any thread may call it.
 */
#ifndef LATCH_UTIL_HTML_H
#define LATCH_UTIL_HTML_H

#include "util/arena.h"

/* s with &, <, >, " and ' written as &amp; &lt; &gt; &quot; &#39;, safe in element text and in
 * a single- or double-quoted attribute value. Allocated in arena; NULL when out of memory. */
char *latch_html_escape(struct latch_arena *arena, const char *s);

#endif
