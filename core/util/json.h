/*
 * The one JSON writer and the one bounded JSON reader of core/.
 *
 * The writer builds text into a growing buffer (malloc'd): objects, arrays, escaped strings,
 * integers, numbers and whole yajl trees. Errors (out of memory, or ill-formed UTF-8 in a strict
 * writer) are sticky and reported once by latch_json_take(). One writer belongs to one thread.
 *
 * The reader, latch_json_parse(), is the only way network JSON (request bodies, JOSE headers and
 * claims, JWKs, what connectors and their upstreams answer) becomes a yajl tree: it enforces the
 * caller's size, depth and member bounds and refuses what yajl_tree_parse() alone would let
 * through (see its comment). Pure, any thread.
 */
#ifndef LATCH_UTIL_JSON_H
#define LATCH_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "util/error.h"

struct latch_json {
    char *buf;
    size_t len, cap;
    bool failed;
    bool comma;       /* a value was written at this level */
    bool strict_utf8; /* ill-formed UTF-8 in a string fails the writer (else U+FFFD) */
    bool bad_utf8;    /* a string was ill-formed UTF-8 (sets failed when strict_utf8) */
    unsigned indent;  /* pretty-printing: spaces per level (0 = compact), as JSON.stringify */
    unsigned level;   /* current nesting, for pretty-printing */
    bool after_key;   /* a key was written; the next string is its value */
    uint64_t objects; /* bit n: the container at level n+1 is an object */
};

/* Containers nest at most this deep; deeper fails the writer. */
#define LATCH_JSON_MAX_LEVEL 64

/* A compact writer. Strings that are not well-formed UTF-8 are written with U+FFFD for each
 * byte that does not start a well-formed sequence, so the output is always valid JSON. Every
 * buffer the text leaves (growth, latch_json_clear()) is wiped first, whatever the writer holds:
 * token responses and connector configs are written here. Text handed over by latch_json_take()
 * is the caller's to wipe. */
void latch_json_init(struct latch_json *j);
/* Like latch_json_init(), but a string that is not well-formed UTF-8 fails the writer (for text
 * that is signed or stored, where a silent replacement would change its meaning). */
void latch_json_init_strict(struct latch_json *j);
/* The writer for text holding secrets (connector configs): strict about UTF-8, like
 * latch_json_init_strict(); its buffers are wiped as every writer's are. */
void latch_json_init_secret(struct latch_json *j);
/* Frees the buffer (when not taken). */
void latch_json_clear(struct latch_json *j);

void latch_json_begin_object(struct latch_json *j);
void latch_json_end_object(struct latch_json *j);
void latch_json_begin_array(struct latch_json *j);
void latch_json_end_array(struct latch_json *j);
/* A key inside an object; the next call writes its value. */
void latch_json_key(struct latch_json *j, const char *key);
/* A string value; inside an object where a key is due, the string is the key (as yajl_gen
 * writes members), so latch_json_key() is optional. */
void latch_json_string(struct latch_json *j, const char *s);
void latch_json_string_n(struct latch_json *j, const char *s, size_t n);
void latch_json_int(struct latch_json *j, int64_t v);
/* A number given as its JSON text (e.g. a yajl tree's v->u.number.r); text that is not a JSON
 * number fails the writer. */
void latch_json_number(struct latch_json *j, const char *text, size_t n);
void latch_json_bool(struct latch_json *j, bool v);
void latch_json_null(struct latch_json *j);
/* Already-valid JSON text as a value. */
void latch_json_raw(struct latch_json *j, const char *json, size_t n);
/* A whole yajl tree as a value (NULL writes null). The tree's depth is the caller's bound (a
 * tree from latch_json_parse() is bounded by its limits). */
void latch_json_value(struct latch_json *j, yajl_val v);

/* Hands over the NUL-terminated text (caller frees); NULL when anything failed. */
char *latch_json_take(struct latch_json *j, size_t *len);

/* ---- the bounded reader ---- */

struct latch_json_limits {
    size_t max_bytes;    /* longer text is refused */
    unsigned max_depth;  /* nesting of objects and arrays ({} and [] are depth 1) */
    size_t max_members;  /* members of one object; 0 = no bound beyond max_bytes */
    bool require_object; /* the top-level value must be an object */
};

/*
 * Parses text[0..len) (need not be NUL-terminated) into a yajl tree. Beyond yajl's own grammar it
 * refuses: text longer than max_bytes; nesting deeper than max_depth (checked before yajl runs,
 * whose tree code recurses); NUL bytes and "\u0000" escapes (the tree keeps C strings, which
 * would silently cut there); comments (yajl's tree parser allows them, JSON does not); text that
 * is not well-formed UTF-8 and escapes that decode to ill-formed UTF-8 (lone UTF-16 surrogates),
 * which PostgreSQL would refuse with SQLSTATE 22021; an object with more than max_members members
 * or with a member name given twice at any level (RFC 8259 leaves the meaning open; which one wins
 * must not be up to the parser); a non-object top level when require_object.
 *
 * On success *out is the caller's (yajl_tree_free()). On failure *out is NULL and err is a 400
 * "invalid_request" whose message is a short phrase about the text, safe to show a client after
 * the name of what was parsed ("nested too deeply", "duplicate key `name`", "is not valid
 * UTF-8"). Out of memory is a 500. Any thread.
 */
latch_rc latch_json_parse(const char *text, size_t len, const struct latch_json_limits *lim,
                          yajl_val *out, struct latch_error *err) LATCH_MUST_CHECK;

#endif
