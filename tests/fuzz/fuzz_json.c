/*
 * libFuzzer driver for the one JSON reader and the one JSON writer (core/util/json.c):
 * - latch_json_parse(), with the JOSE layer's limits (an object, depth 6, at most 256 members)
 *   and with the connector host's (any value, depth 8): an accepted tree is no deeper than
 *   asked, has no object with more members than asked and no duplicate member name at any
 *   level, and every string and key in it is well-formed UTF-8 without NUL; a refusal is a 400
 *   with a message;
 * - the writer round trip: an accepted tree written with latch_json_value() parses again (same
 *   limits) to a tree that writes the same text;
 * - latch_json_string_n(): any bytes become one JSON string that the reader accepts; well-formed
 *   UTF-8 without NUL reads back as exactly the same bytes.
 * Build: bash -c 'source deploy/lib.sh && latch_fuzz_build build-fuzz'; run:
 * build-fuzz/tests/fuzz/fuzz_json tests/fuzz/corpus/fuzz_json.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "jose/jwk.h"
#include "util/json.h"
#include "util/utf8.h"

#define JOSE_DEPTH   6
#define PLUGIN_DEPTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth of v (a scalar is 0, {} is 1); aborts on what the reader must have refused. */
static unsigned check_tree(yajl_val v, size_t max_members)
{
    unsigned d = 0;
    if (YAJL_IS_STRING(v)) {
        if (!latch_utf8_valid_str(v->u.string))
            abort();
        return 0;
    }
    if (YAJL_IS_OBJECT(v)) {
        if (max_members > 0 && v->u.object.len > max_members)
            abort();
        for (size_t i = 0; i < v->u.object.len; i++) {
            if (!latch_utf8_valid_str(v->u.object.keys[i]))
                abort();
            for (size_t k = 0; k < i; k++)
                if (strcmp(v->u.object.keys[i], v->u.object.keys[k]) == 0)
                    abort(); /* a duplicate member name was accepted */
            unsigned c = check_tree(v->u.object.values[i], max_members);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            unsigned c = check_tree(v->u.array.values[i], max_members);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    return 0;
}

/* The tree as compact text (malloc'd); aborts when the writer fails on a tree the reader made. */
static char *write_tree(yajl_val v, size_t *len)
{
    struct latch_json j;
    latch_json_init_strict(&j);
    latch_json_value(&j, v);
    char *text = latch_json_take(&j, len);
    if (text == NULL)
        abort();
    return text;
}

static void reader(const uint8_t *data, size_t size, const struct latch_json_limits *lim)
{
    struct latch_error err = {0};
    yajl_val tree = NULL;
    if (latch_json_parse((const char *)data, size, lim, &tree, &err) != LATCH_OK) {
        if (tree != NULL || err.status != 400 || err.message[0] == '\0')
            abort(); /* a refusal is a 400 that says why (out of memory aborts under ASan) */
        return;
    }
    if (tree == NULL || (lim->require_object && !YAJL_IS_OBJECT(tree)) ||
        check_tree(tree, lim->max_members) > lim->max_depth)
        abort();
    /* Round trip: written, read again, written again: the same text. */
    size_t n1 = 0, n2 = 0;
    char *t1 = write_tree(tree, &n1);
    yajl_tree_free(tree);
    struct latch_json_limits again = *lim;
    again.max_bytes = n1; /* escapes may make the text longer than the input */
    if (latch_json_parse(t1, n1, &again, &tree, &err) != LATCH_OK)
        abort();
    char *t2 = write_tree(tree, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        abort();
    yajl_tree_free(tree);
    free(t1);
    free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct latch_json_limits jose = latch_jose_json_limits(JOSE_DEPTH);
    struct latch_json_limits plugin = {.max_bytes = 1 << 20, .max_depth = PLUGIN_DEPTH};
    reader(data, size, &jose);
    reader(data, size, &plugin);

    /* The writer: the input bytes as one string value. */
    struct latch_json j;
    latch_json_init(&j);
    latch_json_string_n(&j, (const char *)data, size);
    size_t out_len = 0;
    char *out = latch_json_take(&j, &out_len);
    if (out == NULL || strlen(out) != out_len)
        abort(); /* NUL is escaped, so the text has no NUL inside */
    struct latch_json_limits scalar = {.max_bytes = out_len, .max_depth = 0};
    struct latch_error err = {0};
    yajl_val v = NULL;
    bool has_nul = memchr(data, '\0', size) != NULL;
    latch_rc rc = latch_json_parse(out, out_len, &scalar, &v, &err);
    if (has_nul) {
        /* The reader refuses "\u0000" by design; nothing else to compare. */
        if (rc == LATCH_OK)
            abort();
    } else {
        if (rc != LATCH_OK || !YAJL_IS_STRING(v))
            abort(); /* any bytes written as a string are valid JSON and UTF-8 */
        if (latch_utf8_valid((const char *)data, size) &&
            (strlen(v->u.string) != size || memcmp(v->u.string, data, size) != 0))
            abort(); /* well-formed UTF-8 reads back unchanged */
    }
    yajl_tree_free(v);
    free(out);
    return 0;
}
