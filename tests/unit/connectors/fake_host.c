/*
 * tests/unit/connectors/fake_host.c: the fake connector host the connector unit tests share
 * (see fake_host.h). The services behave as core/plugin/host.c's do where a connector can tell:
 * json_get and json_members walk the same dotted paths, json_members and base64url use the real
 * host's core/util code, and render_template is core/util/template.c, the host's renderer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <yajl/yajl_tree.h>

#include "fake_host.h"
#include "util/arena.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/template.h"

/* The most variables render_template takes here (a message has at most 32, and the connector
 * may add the locale). */
#define FAKE_RENDER_VARS_MAX 64

struct latch_connector_ctx F;
const struct latch_connector_descriptor *D;
static void *dl;

void *fake_alloc(struct latch_connector_ctx *ctx, size_t size)
{
    void *p;
    if (ctx->nblocks == ctx->cap) {
        size_t cap = ctx->cap ? ctx->cap * 2 : 256;
        void **b = realloc(ctx->blocks, cap * sizeof(*b));
        if (b == NULL)
            return NULL;
        ctx->blocks = b;
        ctx->cap = cap;
    }
    p = calloc(1, size ? size : 1);
    if (p != NULL)
        ctx->blocks[ctx->nblocks++] = p;
    return p;
}

char *fake_dup(struct latch_connector_ctx *ctx, const char *s)
{
    size_t n;
    char *out;
    if (s == NULL)
        return NULL;
    n = strlen(s);
    out = fake_alloc(ctx, n + 1);
    if (out != NULL)
        memcpy(out, s, n + 1);
    return out;
}

__attribute__((format(printf, 2, 0))) static char *fake_vformat(struct latch_connector_ctx *ctx,
                                                                const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *out;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    out = fake_alloc(ctx, (size_t)n + 1);
    if (out != NULL)
        vsnprintf(out, (size_t)n + 1, fmt, ap);
    return out;
}

LATCH_CONNECTOR_PRINTF(2, 3)
char *fake_format(struct latch_connector_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *out;
    va_start(ap, fmt);
    out = fake_vformat(ctx, fmt, ap);
    va_end(ap);
    return out;
}

LATCH_CONNECTOR_PRINTF(3, 4)
static void fake_log(struct latch_connector_ctx *ctx, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_log, sizeof(ctx->last_log), fmt, ap);
    va_end(ap);
    ctx->last_log_level = level;
    size_t used = strlen(ctx->all_logs);
    snprintf(ctx->all_logs + used, sizeof(ctx->all_logs) - used, "%s\n", ctx->last_log);
    if (getenv("CONNECTOR_TEST_VERBOSE") != NULL)
        fprintf(stderr, "  [connector %d] %s\n", level, ctx->last_log);
}

/* The instance's config, with the schema's defaults applied, as the host does. */
const char *fake_config_get(struct latch_connector_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->nconfig; i++)
        if (strcmp(ctx->config[i].key, key) == 0)
            return ctx->config[i].value;
    for (size_t i = 0; i < D->nfields; i++) {
        const struct latch_connector_field *f =
            (const void *)((const char *)D->fields + i * D->fields[0].struct_size);
        if (strcmp(f->key, key) == 0)
            return f->default_value;
    }
    return NULL;
}

static bool session_key_ok(const char *key)
{
    size_t n = key != NULL ? strlen(key) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '_')
            return false;
    return true;
}

int fake_session_set(struct latch_connector_ctx *ctx, const char *key, const char *value)
{
    size_t at;
    assert_true(session_key_ok(key));
    for (at = 0; at < ctx->nsession && strcmp(ctx->session[at].key, key) != 0; at++)
        ;
    if (value == NULL) {
        if (at < ctx->nsession)
            ctx->session[at] = ctx->session[--ctx->nsession];
        return LATCH_CONNECTOR_OK;
    }
    if (at == ctx->nsession) {
        if (ctx->nsession == 32)
            return LATCH_CONNECTOR_ERR_GENERAL;
        ctx->nsession++;
    }
    ctx->session[at].key = fake_dup(ctx, key);
    ctx->session[at].value = fake_dup(ctx, value);
    return LATCH_CONNECTOR_OK;
}

const char *fake_session_get(struct latch_connector_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->nsession; i++)
        if (strcmp(ctx->session[i].key, key) == 0)
            return ctx->session[i].value;
    return NULL;
}

static int fake_http(struct latch_connector_ctx *ctx,
                     const struct latch_connector_http_request *req,
                     struct latch_connector_http_response *resp)
{
    const char *method;
    struct recorded *r;

    assert_non_null(req);
    assert_non_null(resp);
    assert_int_equal(req->struct_size, sizeof(struct latch_connector_http_request));
    assert_int_equal(resp->struct_size, sizeof(struct latch_connector_http_response));
    assert_non_null(req->url);
    assert_true(strncmp(req->url, "https://", 8) == 0);
    assert_true(req->nheaders <= 32);
    assert_true(ctx->nrequests < FAKE_MAX_ITEMS);
    method = req->method != NULL ? req->method : "GET";
    r = &ctx->requests[ctx->nrequests++];
    r->method = fake_dup(ctx, method);
    r->url = fake_dup(ctx, req->url);
    r->timeout_ms = req->timeout_ms;
    if (req->body != NULL) {
        char *b = fake_alloc(ctx, req->body_len + 1);
        memcpy(b, req->body, req->body_len);
        r->body = b;
        r->body_len = req->body_len;
    }
    r->nheaders = req->nheaders;
    for (size_t i = 0; i < req->nheaders; i++) {
        assert_non_null(req->headers[i].name);
        assert_non_null(req->headers[i].value);
        assert_null(strpbrk(req->headers[i].value, "\r\n"));
        r->headers[i].key = fake_dup(ctx, req->headers[i].name);
        r->headers[i].value = fake_dup(ctx, req->headers[i].value);
    }
    for (size_t i = 0; i < ctx->nroutes; i++) {
        const struct route *rt = &ctx->routes[i];
        if (rt->answer != NULL && strcmp(method, "GET") == 0 &&
            strncmp(req->url, rt->url, strlen(rt->url)) == 0) {
            resp->status = 200;
            resp->body = rt->answer(ctx, req->url);
            assert_non_null(resp->body);
            resp->body_len = strlen(resp->body);
            resp->content_type = "application/json";
            return LATCH_CONNECTOR_OK;
        }
        if (strcmp(rt->method, method) != 0 || strcmp(rt->url, req->url) != 0)
            continue;
        if (rt->rc != LATCH_CONNECTOR_OK)
            return rt->rc;
        resp->status = rt->status;
        resp->body = fake_dup(ctx, rt->body != NULL ? rt->body : "");
        resp->body_len = strlen(resp->body);
        resp->content_type = "application/json";
        return LATCH_CONNECTOR_OK;
    }
    fail_msg("unexpected request %s %s", method, req->url);
    return LATCH_CONNECTOR_ERR_GENERAL;
}

static char *percent_encode(struct latch_connector_ctx *ctx, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = fake_alloc(ctx, strlen(s) * 3 + 1);
    char *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

static int fake_form_add(struct latch_connector_ctx *ctx, char **buf, const char *key,
                         const char *value)
{
    if (buf == NULL || key == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (value == NULL)
        return LATCH_CONNECTOR_OK;
    if (*buf != NULL && (*buf)[0] != '\0')
        *buf = fake_format(ctx, "%s&%s=%s", *buf, percent_encode(ctx, key),
                           percent_encode(ctx, value));
    else
        *buf = fake_format(ctx, "%s=%s", percent_encode(ctx, key), percent_encode(ctx, value));
    return *buf != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static yajl_val obj_get(yajl_val obj, const char *key)
{
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

/* The value at a dotted path ("" is the root; a numeric segment indexes an array), as the real
 * host walks it, or NULL when the path is absent. */
static yajl_val json_at(yajl_val root, const char *path)
{
    yajl_val v = root;
    char seg[256];

    for (const char *p = path; v != NULL && *p != '\0';) {
        size_t n = strcspn(p, ".");
        if (n == 0 || n >= sizeof(seg)) {
            v = NULL;
            break;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        p += n;
        if (*p == '.')
            p++;
        if (YAJL_IS_OBJECT(v))
            v = obj_get(v, seg);
        else if (YAJL_IS_ARRAY(v) && strspn(seg, "0123456789") == n)
            v = (size_t)atol(seg) < v->u.array.len ? v->u.array.values[atol(seg)] : NULL;
        else
            v = NULL;
    }
    return v;
}

/* The scalar at a dotted path, as the host's json_get gives it. */
const char *fake_json_get(struct latch_connector_ctx *ctx, const char *json, const char *path)
{
    yajl_val root, v;
    const char *out = NULL;

    struct latch_json_limits lim = {.max_bytes = (size_t)4 << 20, .max_depth = 64};
    struct latch_error err = {0};

    if (json == NULL || path == NULL)
        return NULL;
    /* The real host's bounded reader: duplicate names, bad UTF-8 and excess depth refused. */
    if (latch_json_parse(json, strlen(json), &lim, &root, &err) != LATCH_OK)
        return NULL;
    v = json_at(root, path);
    if (v != NULL) {
        if (YAJL_IS_STRING(v))
            out = fake_dup(ctx, v->u.string);
        else if (YAJL_IS_NUMBER(v))
            out = fake_dup(ctx, v->u.number.r);
        else if (YAJL_IS_TRUE(v))
            out = "true";
        else if (YAJL_IS_FALSE(v))
            out = "false";
    }
    yajl_tree_free(root);
    return out;
}

static char *fake_json_string(struct latch_connector_ctx *ctx, const char *s)
{
    char *out, *o;
    if (s == NULL)
        return fake_dup(ctx, "null");
    out = fake_alloc(ctx, strlen(s) * 6 + 3);
    o = out;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            *o++ = '\\';
            *o++ = (char)*p;
        } else if (*p < 0x20) {
            o += sprintf(o, "\\u%04x", *p);
        } else {
            *o++ = (char)*p;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

char *fake_base64(struct latch_connector_ctx *ctx, const void *data, size_t len)
{
    char *out = fake_alloc(ctx, 4 * ((len + 2) / 3) + 1);
    if (out != NULL && len > 0)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static int fake_sha256(struct latch_connector_ctx *ctx, const void *data, size_t len,
                       unsigned char out[32])
{
    ctx->nsha256++;
    SHA256(len > 0 ? data : (const void *)"", len, out);
    return LATCH_CONNECTOR_OK;
}

static int fake_hmac_sha256(struct latch_connector_ctx *ctx, const void *key, size_t keylen,
                            const void *data, size_t len, unsigned char out[32])
{
    (void)ctx;
    return HMAC(EVP_sha256(), key, (int)keylen, data, len, out, NULL) != NULL
               ? LATCH_CONNECTOR_OK
               : LATCH_CONNECTOR_ERR_GENERAL;
}

static int fake_random_bytes(struct latch_connector_ctx *ctx, void *buf, size_t len)
{
    ctx->nrandom++;
    if (ctx->random_fails || RAND_bytes(buf, (int)len) != 1) {
        memset(buf, 0, len);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    return LATCH_CONNECTOR_OK;
}

/* The 1.1 codec services on core/util's codec and bounded reader, as the real host has them. */
static char *fake_base64url(struct latch_connector_ctx *ctx, const void *data, size_t len)
{
    size_t cap = latch_base64url_encoded_len(len) + 1;
    char *out = fake_alloc(ctx, cap);
    return out != NULL && latch_base64url_encode(data, len, out, cap) >= 0 ? out : NULL;
}

static unsigned char *fake_base64url_decode(struct latch_connector_ctx *ctx, const char *text,
                                            size_t len, size_t *out_len)
{
    size_t cap = latch_base64_decoded_len(len) + 1;
    unsigned char *out = fake_alloc(ctx, cap);
    ssize_t n = out != NULL ? latch_base64url_decode(len > 0 ? text : "", len, out, cap - 1) : -1;

    *out_len = n > 0 ? (size_t)n : 0;
    if (n < 0)
        return NULL;
    out[n] = '\0';
    return out;
}

static int fake_json_members(struct latch_connector_ctx *ctx, const char *json, const char *path,
                             struct latch_connector_json_members *out)
{
    struct latch_json_limits lim = {.max_bytes = (size_t)4 << 20, .max_depth = 64};
    struct latch_error err = {0};
    yajl_val root = NULL, obj;
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    out->count = 0;
    out->names = out->values = NULL;
    out->types = NULL;
    ctx->njson_members++;
    if (json == NULL || latch_json_parse(json, strlen(json), &lim, &root, &err) != LATCH_OK) {
        bool phrase = json == NULL || strncmp(err.message, "is ", 3) == 0;
        out->why =
            phrase ? "is not valid JSON" : fake_format(ctx, "is not valid JSON: %s", err.message);
        return rc;
    }
    obj = json_at(root, path != NULL ? path : "");
    if (obj == NULL || !YAJL_IS_OBJECT(obj) || obj->u.object.len > 256) {
        out->why = path != NULL && path[0] != '\0'
                       ? fake_format(ctx, "has no JSON object at \"%.200s\"", path)
                       : "is not a JSON object";
        goto out;
    }
    size_t n = obj->u.object.len;
    const char **names = fake_alloc(ctx, (n + 1) * sizeof(*names));
    const char **values = fake_alloc(ctx, (n + 1) * sizeof(*values));
    int *types = fake_alloc(ctx, (n + 1) * sizeof(*types));
    for (size_t i = 0; i < n; i++) {
        yajl_val v = obj->u.object.values[i];
        names[i] = fake_dup(ctx, obj->u.object.keys[i]);
        values[i] = NULL;
        types[i] = LATCH_CONNECTOR_JSON_NULL;
        if (YAJL_IS_STRING(v)) {
            values[i] = fake_dup(ctx, v->u.string);
            types[i] = LATCH_CONNECTOR_JSON_STRING;
        } else if (YAJL_IS_NUMBER(v)) {
            values[i] = fake_dup(ctx, v->u.number.r);
            types[i] = LATCH_CONNECTOR_JSON_NUMBER;
        } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
            values[i] = YAJL_IS_TRUE(v) ? "true" : "false";
            types[i] = LATCH_CONNECTOR_JSON_BOOLEAN;
        } else if (YAJL_IS_OBJECT(v)) {
            types[i] = LATCH_CONNECTOR_JSON_OBJECT;
        } else if (YAJL_IS_ARRAY(v)) {
            types[i] = LATCH_CONNECTOR_JSON_ARRAY;
        }
    }
    out->count = n;
    out->names = n > 0 ? names : NULL;
    out->values = n > 0 ? values : NULL;
    out->types = n > 0 ? types : NULL;
    rc = LATCH_CONNECTOR_OK;
out:
    yajl_tree_free(root);
    return rc;
}

/* render_template on core/util/template.c, the renderer behind the real host's service. */
static char *fake_render_template(struct latch_connector_ctx *ctx, const char *tpl,
                                  const struct latch_connector_param *vars, size_t nvars,
                                  unsigned flags)
{
    const char *names[FAKE_RENDER_VARS_MAX];
    const char *values[FAKE_RENDER_VARS_MAX];
    struct latch_arena *arena;
    char *text, *out;

    ctx->nrender++;
    ctx->last_render_flags = flags;
    assert_true(nvars <= FAKE_RENDER_VARS_MAX);
    for (size_t i = 0; i < nvars; i++) {
        names[i] = vars[i].name;
        values[i] = vars[i].value;
    }
    arena = latch_arena_new((size_t)4 << 20);
    assert_non_null(arena);
    text = latch_template_render(arena, tpl, names, values, nvars,
                                 (flags & LATCH_CONNECTOR_RENDER_HTML) ? LATCH_TEMPLATE_HTML : 0);
    out = fake_dup(ctx, text);
    latch_arena_free(arena);
    return out;
}

static int fake_smtp_send(struct latch_connector_ctx *ctx,
                          const struct latch_connector_smtp_request *req,
                          struct latch_connector_smtp_response *resp)
{
    ctx->nsent++;
    ctx->smtp_req = *req;
    ctx->rcpt0 = req->nrcpt > 0 ? req->rcpt[0] : NULL;
    resp->code = ctx->smtp_rc == LATCH_CONNECTOR_OK ? 250 : 535;
    resp->message = ctx->smtp_rc == LATCH_CONNECTOR_OK ? "accepted" : "refused";
    return ctx->smtp_rc;
}

const struct latch_connector_host fake_host = {
    .struct_size = sizeof(struct latch_connector_host),
    .host_major = LATCH_CONNECTOR_ABI_MAJOR,
    .host_minor = LATCH_CONNECTOR_ABI_MINOR,
    .alloc = fake_alloc,
    .dup = fake_dup,
    .format = fake_format,
    .log_msg = fake_log,
    .config_get = fake_config_get,
    .session_set = fake_session_set,
    .session_get = fake_session_get,
    .http = fake_http,
    .form_add = fake_form_add,
    .json_get = fake_json_get,
    .json_string = fake_json_string,
    .base64 = fake_base64,
    .sha256 = fake_sha256,
    .hmac_sha256 = fake_hmac_sha256,
    .random_bytes = fake_random_bytes,
    .base64url = fake_base64url,
    .base64url_decode = fake_base64url_decode,
    .json_members = fake_json_members,
    .render_template = fake_render_template,
    .smtp_send = fake_smtp_send,
};

/* ---- loading, and the helpers on F ---- */

int fake_host_load(const char *path)
{
    latch_connector_describe_fn describe;

    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    describe = (latch_connector_describe_fn)dlsym(dl, LATCH_CONNECTOR_DESCRIBE_SYMBOL);
    if (describe == NULL || (D = describe()) == NULL) {
        fprintf(stderr, "%s: no %s, or it returned NULL\n", path, LATCH_CONNECTOR_DESCRIBE_SYMBOL);
        return -1;
    }
    return 0;
}

void fake_host_unload(void)
{
    if (dl != NULL)
        dlclose(dl);
    dl = NULL;
    D = NULL;
}

void fake_host_clear(void)
{
    for (size_t i = 0; i < F.nblocks; i++)
        free(F.blocks[i]);
    free(F.blocks);
    memset(&F, 0, sizeof(F));
}

void new_flow(void)
{
    F.nsession = 0;
    F.nroutes = 0;
    F.nrequests = 0;
    F.last_log[0] = '\0';
    F.all_logs[0] = '\0';
}

void config(const char *key, const char *value)
{
    for (size_t i = 0; i < F.nconfig; i++)
        if (strcmp(F.config[i].key, key) == 0) {
            F.config[i].value = value;
            return;
        }
    assert_true(F.nconfig < FAKE_MAX_ITEMS);
    F.config[F.nconfig].key = key;
    F.config[F.nconfig++].value = value;
}

void route(const char *method, const char *url, int status, const char *body)
{
    assert_true(F.nroutes < FAKE_MAX_ITEMS);
    F.routes[F.nroutes++] = (struct route){method, url, LATCH_CONNECTOR_OK, status, body, NULL};
}

void route_fail(const char *method, const char *url, int rc)
{
    assert_true(F.nroutes < FAKE_MAX_ITEMS);
    F.routes[F.nroutes++] = (struct route){method, url, rc, 0, NULL, NULL};
}
/* The decoded value of name in a query string or form body (the part after '?' for a URL). */
const char *form_value(const char *text, const char *name)
{
    const char *q = strchr(text, '?');
    const char *p = q != NULL ? q + 1 : text;
    size_t nlen = strlen(name);

    while (*p != '\0') {
        size_t n = strcspn(p, "&");
        if (n > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            char *out = fake_alloc(&F, n), *o = out;
            for (const char *s = p + nlen + 1; s < p + n; s++) {
                if (*s == '%' && s + 2 < p + n + 1) {
                    char hex[3] = {s[1], s[2], 0};
                    *o++ = (char)strtol(hex, NULL, 16);
                    s += 2;
                } else {
                    *o++ = *s == '+' ? ' ' : *s;
                }
            }
            return out;
        }
        p += n;
        if (*p == '&')
            p++;
    }
    return NULL;
}

const struct recorded *request_to(const char *method, const char *url)
{
    for (size_t i = 0; i < F.nrequests; i++)
        if (strcmp(F.requests[i].method, method) == 0 && strcmp(F.requests[i].url, url) == 0)
            return &F.requests[i];
    return NULL;
}

const char *header(const struct recorded *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].key, name) == 0)
            return r->headers[i].value;
    return NULL;
}
void assert_logs_lack(const char *const *secrets)
{
    for (size_t i = 0; secrets[i] != NULL; i++)
        if (strstr(F.all_logs, secrets[i]) != NULL)
            fail_msg("\"%s\" reached the log: %s", secrets[i], F.all_logs);
}

void expect_send_failure(const struct latch_connector_message *msg, const char *url, int status,
                         const char *body, int want, const char *needle, const char *const *secrets)
{
    new_flow();
    route("POST", url, status, body);
    assert_int_equal(D->ops->send_message(&F, &fake_host, msg), want);
    assert_int_equal(F.nrequests, 1);
    assert_int_equal(F.last_log_level, LATCH_CONNECTOR_LOG_WARN);
    if (strstr(F.last_log, needle) == NULL)
        fail_msg("HTTP %d: log \"%s\" lacks \"%s\"", status, F.last_log, needle);
    assert_logs_lack(secrets);
}
