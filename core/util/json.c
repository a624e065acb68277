/* JSON writer; see json.h. */
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void latch_json_init(struct latch_json *j)
{
    memset(j, 0, sizeof(*j));
}

void latch_json_clear(struct latch_json *j)
{
    if (j->buf != NULL)
        OPENSSL_cleanse(j->buf, j->len);
    free(j->buf);
    memset(j, 0, sizeof(*j));
}

static void put(struct latch_json *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1)
            cap *= 2;
        /* Not realloc(): the old buffer may hold tokens (token responses are built here), so
         * it is wiped before it goes back to the allocator. */
        char *b = malloc(cap);
        if (b == NULL) {
            j->failed = true;
            return;
        }
        if (j->buf != NULL) {
            memcpy(b, j->buf, j->len + 1);
            OPENSSL_cleanse(j->buf, j->len);
            free(j->buf);
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

/* Separates values at one level; a key already wrote its own comma. */
static void value_start(struct latch_json *j)
{
    if (j->comma)
        put(j, ",", 1);
    j->comma = true;
}

void latch_json_begin_object(struct latch_json *j)
{
    value_start(j);
    put(j, "{", 1);
    j->comma = false;
}

void latch_json_end_object(struct latch_json *j)
{
    put(j, "}", 1);
    j->comma = true;
}

void latch_json_begin_array(struct latch_json *j)
{
    value_start(j);
    put(j, "[", 1);
    j->comma = false;
}

void latch_json_end_array(struct latch_json *j)
{
    put(j, "]", 1);
    j->comma = true;
}

static void put_escaped(struct latch_json *j, const char *s, size_t n)
{
    put(j, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(j, s + run, i - run);
        char esc[8];
        switch (c) {
        case '"':
            put(j, "\\\"", 2);
            break;
        case '\\':
            put(j, "\\\\", 2);
            break;
        case '\n':
            put(j, "\\n", 2);
            break;
        case '\r':
            put(j, "\\r", 2);
            break;
        case '\t':
            put(j, "\\t", 2);
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(j, esc, 6);
        }
        run = i + 1;
    }
    put(j, s + run, n - run);
    put(j, "\"", 1);
}

void latch_json_key(struct latch_json *j, const char *key)
{
    value_start(j);
    put_escaped(j, key, strlen(key));
    put(j, ":", 1);
    j->comma = false;
}

void latch_json_string(struct latch_json *j, const char *s)
{
    latch_json_string_n(j, s, strlen(s));
}

void latch_json_string_n(struct latch_json *j, const char *s, size_t n)
{
    value_start(j);
    put_escaped(j, s, n);
}

void latch_json_int(struct latch_json *j, int64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    value_start(j);
    put(j, num, (size_t)n);
}

void latch_json_bool(struct latch_json *j, bool v)
{
    value_start(j);
    put(j, v ? "true" : "false", v ? 4 : 5);
}

void latch_json_null(struct latch_json *j)
{
    value_start(j);
    put(j, "null", 4);
}

void latch_json_raw(struct latch_json *j, const char *json, size_t n)
{
    value_start(j);
    put(j, json, n);
}

char *latch_json_take(struct latch_json *j, size_t *len)
{
    if (j->failed || j->buf == NULL) {
        latch_json_clear(j);
        return NULL;
    }
    char *out = j->buf;
    if (len != NULL)
        *len = j->len;
    memset(j, 0, sizeof(*j));
    return out;
}
