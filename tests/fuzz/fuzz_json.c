/*
 * libFuzzer driver for the JSON readers and the writer's string escaping:
 * - latch_jose_json_parse_object() (core/jose/jwk.c), the bounded reader of JOSE headers,
 *   claims and JWKs: an accepted input is an object no deeper than asked, with at most 256
 *   members per object and no duplicate member name at any level (checked on the tree);
 * - latch_plugin_json_parse() (core/plugin/host.c), the connector host's bounded reader: an
 *   accepted tree is no deeper than asked;
 * - latch_json_string_n() (core/util/json.c): valid UTF-8 written as a JSON string reads back
 *   (with yajl) as exactly the same bytes.
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_json.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "jose/jwk.h"
#include "plugin/plugin_internal.h"
#include "util/json.h"

#define JOSE_DEPTH   6
#define PLUGIN_DEPTH 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Depth of v (a scalar is 0, {} is 1); also checks objects for the jose reader's rules. */
static unsigned depth_of(yajl_val v, bool jose_rules)
{
    unsigned d = 0;
    if (YAJL_IS_OBJECT(v)) {
        if (jose_rules && v->u.object.len > 256)
            abort();
        for (size_t i = 0; i < v->u.object.len; i++) {
            if (jose_rules)
                for (size_t k = 0; k < i; k++)
                    if (strcmp(v->u.object.keys[i], v->u.object.keys[k]) == 0)
                        abort(); /* a duplicate member name was accepted */
            unsigned c = depth_of(v->u.object.values[i], jose_rules);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++) {
            unsigned c = depth_of(v->u.array.values[i], jose_rules);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    return 0;
}

/* Whether s[0..n) is valid UTF-8 as yajl sees it (it refuses invalid UTF-8 by default). */
static bool yajl_reads_string(const char *json, const char *want, size_t n)
{
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    bool same = v != NULL && YAJL_IS_STRING(v) && strlen(v->u.string) == n &&
                memcmp(v->u.string, want, n) == 0;
    yajl_tree_free(v);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    yajl_val tree = NULL;

    if (latch_jose_json_parse_object((const char *)data, size, JOSE_DEPTH, &tree, &why)) {
        if (tree == NULL || !YAJL_IS_OBJECT(tree) || depth_of(tree, true) > JOSE_DEPTH)
            abort();
        yajl_tree_free(tree);
    } else if (why == NULL) {
        abort(); /* a refusal always says why */
    }

    char *text = malloc(size + 1);
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    tree = latch_plugin_json_parse(text, 1 << 20, PLUGIN_DEPTH);
    if (tree != NULL) {
        if (depth_of(tree, false) > PLUGIN_DEPTH)
            abort();
        yajl_tree_free(tree);
    }

    /* The writer: the input (up to its first NUL) as a string value. */
    size_t n = strlen(text);
    struct latch_json j;
    latch_json_init(&j);
    latch_json_string_n(&j, text, n);
    size_t out_len = 0;
    char *out = latch_json_take(&j, &out_len);
    if (out == NULL || strlen(out) != out_len)
        abort();
    /* Valid UTF-8 must read back unchanged; yajl refuses invalid UTF-8, so compare only when
     * the bytes themselves read back as a JSON string once quoted by the writer. */
    yajl_val raw = yajl_tree_parse(out, NULL, 0);
    if (raw != NULL) {
        if (!YAJL_IS_STRING(raw))
            abort(); /* the writer's string must be one string value */
        if (latch_plugin_utf8_ok(text, n) && !yajl_reads_string(out, text, n))
            abort();
        yajl_tree_free(raw);
    } else if (latch_plugin_utf8_ok(text, n)) {
        abort(); /* valid UTF-8 written as a string must be valid JSON */
    }
    free(out);
    free(text);
    return 0;
}
