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
#include "util/json.h"
#include "util/log.h"
#include "util/utf8.h"

#define BODY_MAX_DEPTH 16
#define BODY_MAX_BYTES ((size_t)2 << 20)
#define SEARCH_MAX     256
#define ID_ITEM_MAX    128

/* ---- body ---- */

/* The Management and Experience APIs' bounds for a JSON body (the HTTP layer bounds its size
 * first; this is the reader's own ceiling). */
static const struct latch_json_limits body_limits = {
    .max_bytes = BODY_MAX_BYTES,
    .max_depth = BODY_MAX_DEPTH,
    .require_object = true,
};

yajl_val latch_mgmt_body(struct latch_request *req)
{
    if (req->body == NULL || req->body_len == 0) {
        latch_mgmt_invalid(req, "body", "a JSON object is required");
        return NULL;
    }
    yajl_val tree = NULL;
    struct latch_error err = {0};
    if (latch_json_parse(req->body, req->body_len, &body_limits, &tree, &err) != LATCH_OK) {
        if (err.status >= 500)
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        else
            latch_mgmt_invalid(req, "body", err.message);
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

/* A control character of s that allowed does not list. */
static bool has_control_but(const char *s, const char *allowed)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 || *p == 0x7F) && strchr(allowed, *p) == NULL)
            return true;
    return false;
}

static bool has_control(const char *s)
{
    return has_control_but(s, "");
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

bool latch_mgmt_search_q(struct latch_request *req, const char **pattern)
{
    const char *q = latch_mgmt_query(req, "q");
    *pattern = NULL;
    if (q == NULL || q[0] == '\0')
        return true;
    long n = latch_mgmt_utf8_len(q);
    bool control = false;
    for (const unsigned char *c = (const unsigned char *)q; *c; c++)
        control = control || *c < 0x20 || *c == 0x7F;
    if (n < 0 || n > 256 || control) {
        latch_mgmt_invalid(req, "q", "must be valid text of at most 256 characters");
        return false;
    }
    *pattern = latch_arena_printf(req->arena, "%%%s%%", q);
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
        latch_http_log(req, LATCH_LOG_WARN, "management api: constraint: %s", err->detail);
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "body: a value is malformed or out of the allowed range");
        return;
    }
    if (err->status >= 500)
        latch_http_log_error(req, "management api store call", err);
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
    latch_http_log(run->req, LATCH_LOG_ERROR, "management api: unhandled problem %s", name);
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
    if (r->then != NULL) {
        wipe_append(run);
        r->then(req, results, nresults, r->then_arg);
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
    if (n < 0 || has_control_but(s, (flags & LATCH_MGMT_MULTILINE) ? "\t\r\n" : "")) {
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
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    latch_json_begin_array(g);
    for (size_t i = 0; i < n; i++) {
        yajl_val item = v->u.array.values[i];
        long len = YAJL_IS_STRING(item) ? latch_mgmt_utf8_len(item->u.string) : -1;
        if (len < 1 || len > ID_ITEM_MAX || has_control(item->u.string)) {
            latch_mgmt_gen_free(g);
            char problem[64];
            snprintf(problem, sizeof(problem), "item %zu must be an id (1 to %d characters)", i,
                     ID_ITEM_MAX);
            latch_mgmt_invalid_member(o, key, problem);
            return false;
        }
        latch_mgmt_gen_str(g, item->u.string);
    }
    latch_json_end_array(g);
    *json = latch_mgmt_gen_take(o->req, g);
    if (*json == NULL) {
        latch_http_respond_errorf(o->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

/* ---- JSON text ---- */

struct latch_json *latch_mgmt_gen_new(void)
{
    struct latch_json *g = malloc(sizeof(*g));
    if (g != NULL)
        latch_json_init(g);
    return g;
}

void latch_mgmt_gen_free(struct latch_json *g)
{
    if (g != NULL) {
        latch_json_clear(g);
        free(g);
    }
}

char *latch_mgmt_gen_take(struct latch_request *req, struct latch_json *g)
{
    size_t len = 0;
    char *text = latch_json_take(g, &len);
    char *out = text != NULL ? latch_arena_strndup(req->arena, text, len) : NULL;
    free(text);
    latch_mgmt_gen_free(g);
    return out;
}

void latch_mgmt_gen_str(struct latch_json *g, const char *s)
{
    latch_json_string(g, s);
}

void latch_mgmt_gen_value(struct latch_json *g, yajl_val v)
{
    latch_json_value(g, v);
}

void latch_mgmt_by_id_hooked(struct latch_request *req, void *arg)
{
    const struct latch_mgmt_by_id_hooked *h = arg;
    const char *id = latch_mgmt_param_id(req, h->call.param, h->call.entity);
    if (id == NULL)
        return;
    struct latch_store_op op = {h->call.stmt, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {
        .status = h->call.status, .entity = h->call.entity, .id = id, .problems = h->call.problems};
    latch_mgmt_run_hooked(req, &op, &reply, h->hook, id);
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

bool latch_mgmt_refuse_reserved(struct latch_request *req, const char *param, const char *id,
                                const char *code, const char *message)
{
    const char *v = latch_http_param(req, param);
    if (v == NULL || strcmp(v, id) != 0)
        return false;
    latch_http_respond_errorf(req, 403, code, "%s", message);
    return true;
}
