/*
 * Helpers of the Management API handlers (mgmt.h, mgmt_internal.h): the bounded JSON body
 * parser, field readers that answer 400 naming the field, pagination and query parameters,
 * store-error mapping, and latch_mgmt_run(), which sends a handler's statements for the
 * request's tenant and turns the answering row into the HTTP answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/form.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/utf8.h"

#define BODY_MAX_DEPTH 16
#define SEARCH_MAX     256
#define ID_ITEM_MAX    128

/* ---- body ---- */

/* The value of four hex digits at s, or -1. */
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

/* Checks what yajl_tree_parse() does not: nesting depth, and "\u0000", which would end the C
 * string yajl hands back and silently cut the value. Returns a problem or NULL. */
static const char *body_prescan(const char *s, size_t len)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\') {
                if (i + 5 < len && s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' &&
                    s[i + 4] == '0' && s[i + 5] == '0')
                    return "\\u0000 is not allowed in strings";
                /* yajl turns a lone high surrogate into "?" and a lone low one into ill-formed
                 * UTF-8: a surrogate must be a high one followed by a low one. */
                long u = i + 5 < len && s[i + 1] == 'u' ? hex4(s + i + 2) : -1;
                if (u >= 0xdc00 && u <= 0xdfff)
                    return "a string holds a lone UTF-16 surrogate";
                if (u >= 0xd800 && u <= 0xdbff) {
                    long lo =
                        i + 11 < len && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8) : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return "a string holds a lone UTF-16 surrogate";
                    i += 6; /* the low half is checked */
                }
                i++; /* skip the escaped character */
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > BODY_MAX_DEPTH)
                return "nested too deeply";
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return NULL;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first key that occurs twice in obj, or NULL (also NULL when out of memory, after which
 * the answer is a 500 anyway). Sorting a copy keeps a body with many keys O(n log n). */
static const char *duplicate_key(struct latch_request *req, yajl_val obj)
{
    size_t n = obj->u.object.len;
    if (n < 2)
        return NULL;
    const char **keys = latch_arena_alloc(req->arena, n * sizeof(*keys));
    if (keys == NULL)
        return NULL;
    memcpy(keys, obj->u.object.keys, n * sizeof(*keys));
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return keys[i];
    return NULL;
}

/* Checks what the parsed tree may still hold: an object key given twice (RFC 8259 leaves the
 * meaning open; which one wins must not be up to the parser), and strings that escapes made
 * ill-formed UTF-8. Answers 400 naming the key or field; the depth is bounded by the prescan. */
static bool tree_check(struct latch_request *req, yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        if (!latch_utf8_valid_str(v->u.string)) {
            latch_mgmt_invalid(req, "body", "a string is not valid UTF-8");
            return false;
        }
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            if (!latch_utf8_valid_str(v->u.object.keys[i])) {
                latch_mgmt_invalid(req, "body", "a key is not valid UTF-8");
                return false;
            }
        }
        const char *dup = duplicate_key(req, v);
        if (dup != NULL) {
            latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                      "body: duplicate key `%.64s`", dup);
            return false;
        }
        for (size_t i = 0; i < v->u.object.len; i++)
            if (!tree_check(req, v->u.object.values[i]))
                return false;
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            if (!tree_check(req, v->u.array.values[i]))
                return false;
    }
    return true;
}

yajl_val latch_mgmt_body(struct latch_request *req)
{
    if (req->body == NULL || req->body_len == 0) {
        latch_mgmt_invalid(req, "body", "a JSON object is required");
        return NULL;
    }
    if (memchr(req->body, '\0', req->body_len) != NULL) {
        latch_mgmt_invalid(req, "body", "contains a NUL byte");
        return NULL;
    }
    const char *problem = body_prescan(req->body, req->body_len);
    if (problem != NULL) {
        latch_mgmt_invalid(req, "body", problem);
        return NULL;
    }
    /* Raw bytes first (yajl would only say "not valid JSON"), then the decoded tree, where
     * escapes such as "\udc00" (a lone surrogate, which yajl encodes as ED B0 80) can still
     * make ill-formed UTF-8 that PostgreSQL refuses. */
    if (!latch_utf8_valid(req->body, req->body_len)) {
        latch_mgmt_invalid(req, "body", "is not valid UTF-8");
        return NULL;
    }
    char errbuf[128];
    yajl_val tree = yajl_tree_parse(req->body, errbuf, sizeof(errbuf));
    if (tree == NULL) {
        latch_mgmt_invalid(req, "body", "is not valid JSON");
        return NULL;
    }
    if (!YAJL_IS_OBJECT(tree)) {
        yajl_tree_free(tree);
        latch_mgmt_invalid(req, "body", "must be a JSON object");
        return NULL;
    }
    if (!tree_check(req, tree)) {
        yajl_tree_free(tree);
        return NULL;
    }
    return tree;
}

void latch_mgmt_invalid(struct latch_request *req, const char *field, const char *problem)
{
    latch_http_respond_errorf(req, 400, "guard.invalid_input", "%s: %s", field, problem);
}

void latch_mgmt_not_found(struct latch_request *req, const char *entity, const char *id)
{
    latch_http_respond_errorf(req, 404, "entity.not_exists_with_id",
                              "The %s with ID `%s` does not exist.", entity, id);
}

/* ---- strings ---- */

long latch_mgmt_utf8_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;
    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned min;
        if (c < 0x80) {
            extra = 0;
            min = 0;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            min = 0x80;
            c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            min = 0x800;
            c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return -1;
        }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return -1;
            c = c << 6 | (*p & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return -1;
        n++;
    }
    return n;
}

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return true;
    return false;
}

/* Whitespace, ASCII or Unicode (White_Space property); s is valid UTF-8. */
static bool has_space(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p;
        int n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
        if (n == 2)
            c = (c & 0x1F) << 6 | (p[1] & 0x3F);
        else if (n == 3)
            c = (c & 0x0F) << 12 | (unsigned)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        else if (n == 4)
            c = 0x10000; /* no whitespace outside the BMP */
        if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
            (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
            c == 0x205F || c == 0x3000)
            return true;
        p += n;
    }
    return false;
}

long long latch_mgmt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- path and query parameters ---- */

const char *latch_mgmt_param_id(struct latch_request *req, const char *name, const char *entity)
{
    const char *id = latch_http_param(req, name);
    size_t len = id ? strlen(id) : 0;
    bool ok = len >= 1 && len <= LATCH_MGMT_ID_LEN;
    for (size_t i = 0; ok && i < len; i++) {
        char c = id[i];
        ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             c == '_' || c == '-';
    }
    if (!ok) {
        /* Shown in the message, so cut what cannot be an id anyway. */
        char shown[LATCH_MGMT_ID_LEN + 8];
        snprintf(shown, sizeof(shown), "%.*s", (int)(len > 24 ? 24 : len), id ? id : "");
        if (latch_mgmt_utf8_len(shown) < 0 || has_control(shown))
            snprintf(shown, sizeof(shown), "?");
        latch_mgmt_not_found(req, entity, shown);
        return NULL;
    }
    return id;
}

const char *latch_mgmt_param_name(struct latch_request *req, const char *name, int max,
                                  const char *entity)
{
    const char *value = latch_http_param(req, name);
    long n = value ? latch_mgmt_utf8_len(value) : -1;
    if (n < 1 || n > max || has_control(value)) {
        latch_http_respond_errorf(req, 404, "entity.not_exists", "The %s does not exist.", entity);
        return NULL;
    }
    return value;
}

static bool parse_query(struct latch_request *req, struct latch_form *form)
{
    struct latch_error err;
    return latch_form_parse(form, req->arena, req->query, strlen(req->query), &err) == LATCH_OK;
}

const char *latch_mgmt_query(struct latch_request *req, const char *name)
{
    struct latch_form form;
    if (!parse_query(req, &form))
        return NULL;
    return latch_form_get(&form, name);
}

int latch_mgmt_query_all(struct latch_request *req, const char *name, const char **out, int max)
{
    struct latch_form form;
    if (!parse_query(req, &form))
        return 0;
    int n = 0;
    for (int i = 0; i < form.n; i++) {
        if (strcmp(form.fields[i].name, name) != 0)
            continue;
        if (n == max) {
            latch_mgmt_invalid(req, name, "too many values");
            return -1;
        }
        out[n++] = form.fields[i].value;
    }
    return n;
}

bool latch_mgmt_query_flag(struct latch_request *req, const char *name)
{
    const char *v = latch_mgmt_query(req, name);
    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0 ||
                         strcmp(v, "y") == 0);
}

/* The `search` query parameter, validated; NULL (and true) when absent or empty. */
static bool search_param(struct latch_request *req, const char **value)
{
    const char *s = latch_mgmt_query(req, "search");
    *value = NULL;
    if (s == NULL || s[0] == '\0')
        return true;
    long n = latch_mgmt_utf8_len(s);
    if (n < 0 || n > SEARCH_MAX || has_control(s)) {
        latch_mgmt_invalid(req, "search", "must be valid text of at most 256 characters");
        return false;
    }
    *value = s;
    return true;
}

bool latch_mgmt_search(struct latch_request *req, const char **pattern)
{
    const char *s;
    *pattern = NULL;
    if (!search_param(req, &s))
        return false;
    if (s == NULL)
        return true;
    *pattern = latch_arena_printf(req->arena, "%%%s%%", s);
    if (*pattern == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

bool latch_mgmt_search_users(struct latch_request *req, const char **pattern)
{
    const char *s;
    *pattern = NULL;
    if (!search_param(req, &s))
        return false;
    if (s == NULL)
        return true;
    if (strchr(s, '%') != NULL) {
        *pattern = s;
        return true;
    }
    size_t len = strlen(s), o = 0;
    char *p = latch_arena_alloc(req->arena, 2 * len + 3);
    if (p == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return false;
    }
    p[o++] = '%';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_' || s[i] == '\\')
            p[o++] = '\\';
        p[o++] = s[i];
    }
    p[o++] = '%';
    p[o] = '\0';
    *pattern = p;
    return true;
}

/* A positive decimal integer of at most 9 digits; false for anything else. */
static bool parse_positive(const char *s, long *out)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 9)
        return false;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v < 1)
        return false;
    *out = v;
    return true;
}

static bool paginate(struct latch_request *req, bool optional, char limit[16], char offset[16],
                     bool *all)
{
    struct latch_form form;
    *all = false;
    if (!parse_query(req, &form)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input", "query: malformed query string");
        return false;
    }
    const char *page_s = latch_form_get(&form, "page");
    const char *size_s = latch_form_get(&form, "page_size");
    long page = 1, size = 20;
    if (optional && page_s == NULL && size_s == NULL) {
        *all = true;
        limit[0] = '\0';
        snprintf(offset, 16, "%d", 0);
        return true;
    }
    if ((page_s != NULL && !parse_positive(page_s, &page)) ||
        (size_s != NULL && (!parse_positive(size_s, &size) || size > 100))) {
        latch_http_respond_errorf(req, 400, "guard.invalid_pagination",
                                  "The request pagination value is invalid: page must be >= 1 "
                                  "and page_size between 1 and 100.");
        return false;
    }
    /* page <= 999999999 and size <= 100, so both fit in 16 bytes. */
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld", size);
    memcpy(limit, buf, (size_t)n + 1);
    n = snprintf(buf, sizeof(buf), "%lld", (long long)(page - 1) * size);
    memcpy(offset, buf, (size_t)n + 1);
    return true;
}

bool latch_mgmt_page(struct latch_request *req, char limit[16], char offset[16])
{
    bool all;
    return paginate(req, false, limit, offset, &all);
}

bool latch_mgmt_paginate(struct latch_request *req, bool optional, const char **limit,
                         const char **offset)
{
    char *l = latch_arena_alloc(req->arena, 16);
    char *o = latch_arena_alloc(req->arena, 16);
    bool all;
    if (l == NULL || o == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return false;
    }
    if (!paginate(req, optional, l, o, &all))
        return false;
    *limit = all ? NULL : l;
    *offset = o;
    return true;
}

/* ---- store errors ---- */

void latch_mgmt_store_error(struct latch_request *req, const struct latch_error *err,
                            const char *conflict_code, const char *conflict_message)
{
    if (strcmp(err->code, "23505") == 0) {
        latch_http_respond_errorf(
            req, 422, conflict_code ? conflict_code : "entity.unique_integrity_violation", "%s",
            conflict_message ? conflict_message
                             : "The entity already exists. Please check the input and try again.");
        return;
    }
    if (strcmp(err->code, "23503") == 0) {
        latch_http_respond_errorf(req, 422, "entity.relation_foreign_key_not_found",
                                  "Cannot find one or more foreign keys. Please check the input "
                                  "and ensure that all referenced entities exist.");
        return;
    }
    /* The store answers every data exception (SQLSTATE class 22: too long, out of range, not
     * UTF-8) with 400 invalid_request; its detail names the SQLSTATE. */
    if (strcmp(err->code, "23514") == 0 || strcmp(err->code, "23502") == 0 ||
        (err->status == 400 && strcmp(err->code, "invalid_request") == 0)) {
        latch_warn("management api: request %s: constraint: %s", req->request_id, err->detail);
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "body: a value is malformed or out of the allowed range");
        return;
    }
    if (err->status >= 500)
        latch_log_error("management api store call", err);
    latch_http_respond_error(req, err);
}

/* ---- running statements ---- */

struct run {
    struct latch_request *req;
    struct latch_mgmt_reply reply;
};

static void wipe_append(struct run *run)
{
    if (run->reply.append != NULL)
        explicit_bzero(run->reply.append, strlen(run->reply.append));
}

/* message with the first "{}" replaced by detail. */
static void answer_problem(struct run *run, const struct latch_mgmt_problem *p, const char *detail)
{
    const char *mark = strstr(p->message, "{}");
    if (mark == NULL) {
        latch_http_respond_errorf(run->req, p->status, p->code, "%s", p->message);
        return;
    }
    latch_http_respond_errorf(run->req, p->status, p->code, "%.*s%s%s", (int)(mark - p->message),
                              p->message, detail, mark + 2);
}

/* Answers the problem reported in res, if any. The request (and run, in its arena) must not be
 * touched once answered, so the secret to append is wiped first. */
static bool check_problem(struct run *run, const struct latch_store_result *res)
{
    if (latch_store_result_cols(res) < 3 || latch_store_result_rows(res) < 1 ||
        latch_store_result_isnull(res, 0, 2))
        return false;
    wipe_append(run);
    const char *name = latch_store_result_value(res, 0, 2);
    const char *detail =
        latch_store_result_cols(res) > 3 ? latch_store_result_value(res, 0, 3) : "";
    if (strcmp(name, "not_found") == 0) {
        latch_mgmt_not_found(run->req, run->reply.entity, run->reply.id ? run->reply.id : "");
        return true;
    }
    for (const struct latch_mgmt_problem *p = run->reply.problems; p && p->name; p++) {
        if (strcmp(p->name, name) == 0) {
            answer_problem(run, p, detail);
            return true;
        }
    }
    latch_err("management api: request %s: unhandled problem %s", run->req->request_id, name);
    latch_http_respond_errorf(run->req, 500, "server_error", "Internal error.");
    return true;
}

static void answer_json(struct run *run, int status, const char *json, size_t len)
{
    struct latch_request *req = run->req;
    const char *append = run->reply.append;
    if (append == NULL || append[0] == '\0' || len == 0 || json[len - 1] != '}') {
        latch_http_respond_json(req, status, json, len);
        return;
    }
    /* The body carries a secret: build it on the heap to wipe it once it was handed over. */
    size_t alen = strlen(append);
    char *body = malloc(len + alen);
    if (body == NULL) {
        wipe_append(run);
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    memcpy(body, json, len - 1);
    memcpy(body + len - 1, append, alen);
    body[len - 1 + alen] = '}';
    wipe_append(run);
    latch_http_respond_json(req, status, body, len + alen);
    explicit_bzero(body, len + alen);
    free(body);
}

static void run_done(struct latch_store_result *const *results, int nresults,
                     const struct latch_error *err, void *arg)
{
    struct run *run = arg;
    struct latch_request *req = run->req;
    const struct latch_mgmt_reply *r = &run->reply;
    if (err != NULL) {
        wipe_append(run);
        latch_mgmt_store_error(req, err, r->conflict_code, r->conflict_message);
        return;
    }
    for (int i = 0; i < nresults; i++)
        if (check_problem(run, results[i]))
            return;
    const struct latch_store_result *res = results[r->op];
    if (latch_store_result_rows(res) < 1) {
        wipe_append(run);
        latch_mgmt_not_found(req, r->entity, r->id ? r->id : "");
        return;
    }
    if (r->list && latch_store_result_cols(res) > 1)
        latch_http_add_header(req, "Total-Number", latch_store_result_value(res, 0, 1));
    if (r->status == 204 || r->no_body || latch_store_result_cols(res) < 1 ||
        latch_store_result_isnull(res, 0, 0)) {
        wipe_append(run);
        latch_http_respond(req, r->status, NULL, NULL, 0);
        return;
    }
    answer_json(run, r->status, latch_store_result_value(res, 0, 0),
                latch_store_result_length(res, 0, 0));
}

void latch_mgmt_run(struct latch_request *req, const struct latch_store_op *ops, int nops,
                    const struct latch_mgmt_reply *reply)
{
    struct run *run = latch_arena_alloc(req->arena, sizeof(*run));
    if (run == NULL) {
        if (reply->append != NULL)
            explicit_bzero(reply->append, strlen(reply->append));
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    run->req = req;
    run->reply = *reply;
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, ops, nops, run_done, run);
}

/* ---- body fields ---- */

yajl_val latch_mgmt_member(const struct latch_mgmt_obj *o, const char *key)
{
    if (o->val == NULL || !YAJL_IS_OBJECT(o->val))
        return NULL;
    for (size_t i = 0; i < o->val->u.object.len; i++)
        if (strcmp(o->val->u.object.keys[i], key) == 0)
            return o->val->u.object.values[i];
    return NULL;
}

void latch_mgmt_invalid_member(const struct latch_mgmt_obj *o, const char *key, const char *problem)
{
    if (o->path == NULL || o->path[0] == '\0') {
        latch_mgmt_invalid(o->req, key, problem);
        return;
    }
    latch_http_respond_errorf(o->req, 400, "guard.invalid_input", "%s.%s: %s", o->path, key,
                              problem);
}

/* Absent or null: answers 400 when required (or null but not nullable); sets *done when the
 * caller has nothing more to read. */
static bool absent_ok(const struct latch_mgmt_obj *o, const char *key, yajl_val v, unsigned flags,
                      bool *done)
{
    *done = false;
    if (v == NULL || YAJL_IS_NULL(v)) {
        *done = true;
        if (flags & LATCH_MGMT_REQUIRED) {
            latch_mgmt_invalid_member(o, key, "is required");
            return false;
        }
        if (v != NULL && !(flags & LATCH_MGMT_NULLABLE)) {
            latch_mgmt_invalid_member(o, key, "must not be null");
            return false;
        }
    }
    return true;
}

bool latch_mgmt_get_str(const struct latch_mgmt_obj *o, const char *key, int min, int max,
                        unsigned flags, const char **out, bool *present)
{
    yajl_val v = latch_mgmt_member(o, key);
    bool done;
    *out = NULL;
    if (present != NULL)
        *present = v != NULL;
    if (!absent_ok(o, key, v, flags, &done))
        return false;
    if (done)
        return true;
    if (!YAJL_IS_STRING(v)) {
        latch_mgmt_invalid_member(o, key, "must be a string");
        return false;
    }
    const char *s = v->u.string;
    long n = latch_mgmt_utf8_len(s);
    if (n < 0 || has_control(s)) {
        latch_mgmt_invalid_member(o, key, "must not contain control characters");
        return false;
    }
    if (n < min || n > max) {
        char problem[96];
        if (min == max)
            snprintf(problem, sizeof(problem), "must be %d characters long", min);
        else
            snprintf(problem, sizeof(problem), "must be %d to %d characters long", min, max);
        latch_mgmt_invalid_member(o, key, problem);
        return false;
    }
    if ((flags & LATCH_MGMT_NO_SPACE) && has_space(s)) {
        latch_mgmt_invalid_member(o, key, "must not contain whitespace");
        return false;
    }
    *out = latch_arena_strdup(o->req->arena, s);
    if (*out == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

bool latch_mgmt_get_bool(const struct latch_mgmt_obj *o, const char *key, unsigned flags, int *out)
{
    yajl_val v = latch_mgmt_member(o, key);
    bool done;
    *out = -1;
    if (!absent_ok(o, key, v, flags, &done))
        return false;
    if (done)
        return true;
    if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
        latch_mgmt_invalid_member(o, key, "must be a boolean");
        return false;
    }
    *out = YAJL_IS_TRUE(v) ? 1 : 0;
    return true;
}

bool latch_mgmt_get_int(const struct latch_mgmt_obj *o, const char *key, long long min,
                        long long max, unsigned flags, long long *out, bool *present)
{
    yajl_val v = latch_mgmt_member(o, key);
    bool done;
    *present = false;
    if (!absent_ok(o, key, v, flags, &done))
        return false;
    if (done)
        return true;
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min || YAJL_GET_INTEGER(v) > max) {
        char problem[96];
        snprintf(problem, sizeof(problem), "must be an integer from %lld to %lld", min, max);
        latch_mgmt_invalid_member(o, key, problem);
        return false;
    }
    *out = YAJL_GET_INTEGER(v);
    *present = true;
    return true;
}

bool latch_mgmt_get_obj(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        struct latch_mgmt_obj *out)
{
    yajl_val v = latch_mgmt_member(o, key);
    bool done;
    out->req = o->req;
    out->val = NULL;
    out->path = key;
    if (!absent_ok(o, key, v, flags, &done))
        return false;
    if (done)
        return true;
    if (!YAJL_IS_OBJECT(v)) {
        latch_mgmt_invalid_member(o, key, "must be an object");
        return false;
    }
    if (o->path != NULL && o->path[0] != '\0')
        out->path = latch_arena_printf(o->req->arena, "%s.%s", o->path, key);
    out->val = v;
    return out->path != NULL;
}

bool latch_mgmt_get_ids(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        bool nonempty, const char **json)
{
    yajl_val v = latch_mgmt_member(o, key);
    bool done;
    *json = NULL;
    if (!absent_ok(o, key, v, flags, &done))
        return false;
    if (done)
        return true;
    if (!YAJL_IS_ARRAY(v)) {
        latch_mgmt_invalid_member(o, key, "must be an array of ids");
        return false;
    }
    size_t n = v->u.array.len;
    if (n > LATCH_MGMT_MAX_IDS || (nonempty && n == 0)) {
        latch_mgmt_invalid_member(
            o, key, nonempty ? "must list 1 to 100 ids" : "must list at most 100 ids");
        return false;
    }
    yajl_gen g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    yajl_gen_array_open(g);
    for (size_t i = 0; i < n; i++) {
        yajl_val item = v->u.array.values[i];
        long len = YAJL_IS_STRING(item) ? latch_mgmt_utf8_len(item->u.string) : -1;
        if (len < 1 || len > ID_ITEM_MAX || has_control(item->u.string)) {
            yajl_gen_free(g);
            char problem[64];
            snprintf(problem, sizeof(problem), "item %zu must be an id (1 to %d characters)", i,
                     ID_ITEM_MAX);
            latch_mgmt_invalid_member(o, key, problem);
            return false;
        }
        latch_mgmt_gen_str(g, item->u.string);
    }
    yajl_gen_array_close(g);
    *json = latch_mgmt_gen_take(o->req, g);
    if (*json == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

/* ---- JSON text ---- */

yajl_gen latch_mgmt_gen_new(void)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g != NULL)
        yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

char *latch_mgmt_gen_take(struct latch_request *req, yajl_gen g)
{
    const unsigned char *buf;
    size_t len;
    char *out = NULL;
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
        out = latch_arena_strndup(req->arena, (const char *)buf, len);
    yajl_gen_free(g);
    return out;
}

void latch_mgmt_gen_str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void latch_mgmt_gen_value(yajl_gen g, yajl_val v)
{
    if (v == NULL || YAJL_IS_NULL(v)) {
        yajl_gen_null(g);
    } else if (YAJL_IS_STRING(v)) {
        latch_mgmt_gen_str(g, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(g, YAJL_IS_TRUE(v));
    } else if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(g);
        for (size_t i = 0; i < v->u.object.len; i++) {
            latch_mgmt_gen_str(g, v->u.object.keys[i]);
            latch_mgmt_gen_value(g, v->u.object.values[i]);
        }
        yajl_gen_map_close(g);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(g);
        for (size_t i = 0; i < v->u.array.len; i++)
            latch_mgmt_gen_value(g, v->u.array.values[i]);
        yajl_gen_array_close(g);
    }
}

void latch_mgmt_by_id(struct latch_request *req, void *arg)
{
    const struct latch_mgmt_by_id *call = arg;
    const char *id = latch_mgmt_param_id(req, call->param, call->entity);
    if (id == NULL)
        return;
    struct latch_store_op op = {call->stmt, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {
        .status = call->status, .entity = call->entity, .id = id, .problems = call->problems};
    latch_mgmt_run(req, &op, 1, &reply);
}
