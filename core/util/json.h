/*
 * A small JSON writer into a growing buffer (malloc'd): objects, arrays, escaped strings and
 * integers. Errors (out of memory) are sticky and reported once by latch_json_take().
 * Not thread-safe: one writer per thread.
 */
#ifndef LATCH_UTIL_JSON_H
#define LATCH_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct latch_json {
    char *buf;
    size_t len, cap;
    bool failed;
    bool comma; /* a value was written at this level */
};

void latch_json_init(struct latch_json *j);
/* Frees the buffer (when not taken). */
void latch_json_clear(struct latch_json *j);

void latch_json_begin_object(struct latch_json *j);
void latch_json_end_object(struct latch_json *j);
void latch_json_begin_array(struct latch_json *j);
void latch_json_end_array(struct latch_json *j);
/* A key inside an object; the next call writes its value. */
void latch_json_key(struct latch_json *j, const char *key);
void latch_json_string(struct latch_json *j, const char *s);
void latch_json_string_n(struct latch_json *j, const char *s, size_t n);
void latch_json_int(struct latch_json *j, int64_t v);
void latch_json_bool(struct latch_json *j, bool v);
void latch_json_null(struct latch_json *j);
/* Already-valid JSON text as a value. */
void latch_json_raw(struct latch_json *j, const char *json, size_t n);

/* Hands over the NUL-terminated text (caller frees); NULL when anything failed. */
char *latch_json_take(struct latch_json *j, size_t *len);

#endif
