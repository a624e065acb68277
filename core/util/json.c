/* The JSON writer and the bounded JSON reader; see json.h. */
#include "util/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "util/hex.h"
#include "util/utf8.h"

/* ---- writer ---- */

void latch_json_init(struct latch_json *j)
{
    memset(j, 0, sizeof(*j));
}

void latch_json_init_strict(struct latch_json *j)
{
    latch_json_init(j);
    j->strict_utf8 = true;
}

void latch_json_init_secret(struct latch_json *j)
{
    latch_json_init_strict(j);
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

/* Pretty-printing: a new line indented to the current level. */
static void newline(struct latch_json *j)
{
    static const char spaces[] = "                                ";
    put(j, "\n", 1);
    for (size_t n = (size_t)j->indent * j->level; n > 0;) {
        size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        put(j, spaces, k);
        n -= k;
    }
}

/* Separates values at one level; a key already wrote its own comma. */
static void value_start(struct latch_json *j)
{
    if (j->comma)
        put(j, ",", 1);
    if (j->indent > 0 && j->level > 0 && !j->after_key)
        newline(j);
    j->after_key = false;
    j->comma = true;
}

static void container_open(struct latch_json *j, const char *c)
{
    value_start(j);
    if (j->level >= LATCH_JSON_MAX_LEVEL) {
        j->failed = true;
        return;
    }
    put(j, c, 1);
    if (c[0] == '{')
        j->objects |= (uint64_t)1 << j->level;
    else
        j->objects &= ~((uint64_t)1 << j->level);
    j->level++;
    j->comma = false;
}

/* Whether a key is due: inside an object, with no key written for the next value. */
static bool key_due(const struct latch_json *j)
{
    return j->level > 0 && (j->objects >> (j->level - 1) & 1) && !j->after_key;
}

static void container_close(struct latch_json *j, const char *c)
{
    if (j->level > 0)
        j->level--;
    /* An empty container stays "{}" / "[]" as JSON.stringify writes it. */
    if (j->indent > 0 && j->comma)
        newline(j);
    put(j, c, 1);
    j->comma = true;
    j->after_key = false;
}

void latch_json_begin_object(struct latch_json *j)
{
    container_open(j, "{");
}

void latch_json_end_object(struct latch_json *j)
{
    container_close(j, "}");
}

void latch_json_begin_array(struct latch_json *j)
{
    container_open(j, "[");
}

void latch_json_end_array(struct latch_json *j)
{
    container_close(j, "]");
}

/* Writes s[0..n) quoted: '"', '\\' and control characters escaped, well-formed UTF-8 as it is,
 * each byte that does not start a well-formed sequence as U+FFFD (or a failure when strict). */
static void put_escaped(struct latch_json *j, const char *s, size_t n)
{
    put(j, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t k = latch_utf8_seq_len((const unsigned char *)s + i, n - i);
            if (k > 0) {
                i += k;
                continue;
            }
            j->bad_utf8 = true;
            if (j->strict_utf8)
                j->failed = true;
            put(j, s + run, i - run);
            put(j, "\xef\xbf\xbd", 3);
            run = ++i;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
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
        run = ++i;
    }
    put(j, s + run, n - run);
    put(j, "\"", 1);
}

static void put_key(struct latch_json *j, const char *key, size_t n)
{
    value_start(j);
    put_escaped(j, key, n);
    put(j, j->indent > 0 ? ": " : ":", j->indent > 0 ? 2 : 1);
    j->comma = false;
    j->after_key = true;
}

void latch_json_key(struct latch_json *j, const char *key)
{
    put_key(j, key, strlen(key));
}

void latch_json_string(struct latch_json *j, const char *s)
{
    latch_json_string_n(j, s, strlen(s));
}

void latch_json_string_n(struct latch_json *j, const char *s, size_t n)
{
    if (key_due(j)) {
        put_key(j, s, n);
        return;
    }
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

/* Whether s[0..n) is a JSON number (RFC 8259 section 6). */
static bool is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    return i == n;
}

void latch_json_number(struct latch_json *j, const char *text, size_t n)
{
    value_start(j);
    if (!is_number(text, n)) {
        j->failed = true;
        return;
    }
    put(j, text, n);
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

void latch_json_value(struct latch_json *j, yajl_val v)
{
    if (v == NULL || YAJL_IS_NULL(v)) {
        latch_json_null(j);
    } else if (YAJL_IS_STRING(v)) {
        latch_json_string(j, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        latch_json_number(j, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        latch_json_bool(j, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        latch_json_begin_object(j);
        for (size_t i = 0; i < v->u.object.len && !j->failed; i++) {
            latch_json_key(j, v->u.object.keys[i]);
            latch_json_value(j, v->u.object.values[i]);
        }
        latch_json_end_object(j);
    } else if (YAJL_IS_ARRAY(v)) {
        latch_json_begin_array(j);
        for (size_t i = 0; i < v->u.array.len && !j->failed; i++)
            latch_json_value(j, v->u.array.values[i]);
        latch_json_end_array(j);
    } else {
        j->failed = true;
    }
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

/* ---- bounded reader ---- */

static latch_rc refuse(struct latch_error *err, const char *problem)
{
    return latch_error_set(err, 400, "invalid_request", "%s", problem);
}

/* The value of the four hex digits at s, or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = latch_hex_digit((unsigned char)s[k]);
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* The lexical pass before yajl: what its tree would hide or cut (NUL, "\u0000", lone
 * surrogates), what it allows beyond JSON (comments), and the nesting bound, which keeps yajl's
 * recursive tree code and everything that walks the tree within max_depth. Returns the problem
 * or NULL. */
static const char *prescan(const char *s, size_t len, unsigned max_depth)
{
    unsigned depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0')
            return "contains a NUL byte";
        if (in_string) {
            if (c == '\\') {
                long u = i + 5 < len && s[i + 1] == 'u' ? hex4(s + i + 2) : -1;
                if (u == 0)
                    return "\\u0000 is not allowed in strings";
                /* yajl turns a lone high surrogate into "?" and a lone low one into ill-formed
                 * UTF-8: a surrogate must be a high one followed by a low one. */
                if (u >= 0xdc00 && u <= 0xdfff)
                    return "a string holds a lone UTF-16 surrogate";
                if (u >= 0xd800 && u <= 0xdbff) {
                    long lo =
                        i + 11 < len && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return "a string holds a lone UTF-16 surrogate";
                    i += 6; /* the low half is checked */
                }
                i++; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '{':
        case '[':
            if (++depth > max_depth)
                return "nested too deeply";
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            break;
        case '/':
            return "contains a comment";
        default:
            break;
        }
    }
    /* yajl's tree parser accepts a complete value followed by the start of a string it never
     * finishes ({}"abc): its lexer waits for the rest, and completing the parse does not look
     * at what waits. No JSON text ends inside a string. */
    if (in_string)
        return "is not valid JSON";
    return NULL;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What the parsed tree may still hold: too many members, a member name given twice (found by
 * sorting a copy of the names, so a large object costs O(n log n)), strings that escapes made
 * ill-formed UTF-8. The recursion is bounded by the prescan's depth. */
static latch_rc tree_check(yajl_val v, const struct latch_json_limits *lim, struct latch_error *err)
{
    if (YAJL_IS_STRING(v)) {
        if (!latch_utf8_valid_str(v->u.string))
            return refuse(err, "a string is not valid UTF-8");
    } else if (YAJL_IS_OBJECT(v)) {
        size_t n = v->u.object.len;
        if (lim->max_members > 0 && n > lim->max_members)
            return refuse(err, "an object has too many members");
        for (size_t i = 0; i < n; i++)
            if (!latch_utf8_valid_str(v->u.object.keys[i]))
                return refuse(err, "a key is not valid UTF-8");
        if (n > 1) {
            const char **keys = malloc(n * sizeof(*keys));
            if (keys == NULL)
                return latch_error_set(err, 500, "server_error", "Internal server error.");
            memcpy(keys, v->u.object.keys, n * sizeof(*keys));
            qsort(keys, n, sizeof(*keys), key_cmp);
            const char *dup = NULL;
            for (size_t i = 1; i < n && dup == NULL; i++)
                if (strcmp(keys[i - 1], keys[i]) == 0)
                    dup = keys[i];
            if (dup != NULL)
                latch_error_set(err, 400, "invalid_request", "duplicate key `%.64s`", dup);
            free(keys);
            if (dup != NULL)
                return LATCH_FAIL;
        }
        for (size_t i = 0; i < n; i++)
            if (tree_check(v->u.object.values[i], lim, err) != LATCH_OK)
                return LATCH_FAIL;
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            if (tree_check(v->u.array.values[i], lim, err) != LATCH_OK)
                return LATCH_FAIL;
    }
    return LATCH_OK;
}

latch_rc latch_json_parse(const char *text, size_t len, const struct latch_json_limits *lim,
                          yajl_val *out, struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    char stackbuf[1024];
    char *copy = NULL;
    yajl_val v = NULL;
    const char *problem;

    *out = NULL;
    if (text == NULL || len == 0) {
        refuse(err, "is empty");
        goto done;
    }
    if (len > lim->max_bytes) {
        refuse(err, "is too large");
        goto done;
    }
    problem = prescan(text, len, lim->max_depth);
    if (problem != NULL) {
        refuse(err, problem);
        goto done;
    }
    /* Raw bytes before yajl, which would only say "not valid JSON". */
    if (!latch_utf8_valid(text, len)) {
        refuse(err, "is not valid UTF-8");
        goto done;
    }
    /* yajl's tree parser wants a NUL-terminated string. */
    copy = len < sizeof(stackbuf) ? stackbuf : malloc(len + 1);
    if (copy == NULL) {
        latch_error_set(err, 500, "server_error", "Internal server error.");
        latch_error_detail(err, "json: copying %zu bytes", len);
        goto done;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    char errbuf[128];
    v = yajl_tree_parse(copy, errbuf, sizeof(errbuf));
    if (v == NULL) {
        refuse(err, "is not valid JSON");
        goto done;
    }
    if (lim->require_object && !YAJL_IS_OBJECT(v)) {
        refuse(err, "must be a JSON object");
        goto done;
    }
    if (tree_check(v, lim, err) != LATCH_OK)
        goto done;
    *out = v;
    v = NULL;
    rc = LATCH_OK;
done:
    if (copy != stackbuf)
        free(copy);
    yajl_tree_free(v);
    return rc;
}
