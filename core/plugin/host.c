/*
 * The host side of a connector call (plugin.h): the per-call context, the host services table
 * every operation receives (plugins-api/latch/connector.h, struct latch_connector_host), the
 * calls themselves with what they hand back checked and copied out of the call's arena, config
 * validation against a factory's schema, the messages of email and SMS connectors (ABI 1.1), and
 * the factory rendered as Logto's connector-factory JSON.
 *
 * A call runs on one worker thread with its own context: an arena (everything the connector
 * allocates through the host, freed when the call ends), the instance's config parsed once, and
 * the connector session as a small key/value table read from and written back to JSON text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <yajl/yajl_tree.h>

#include "metrics/metrics.h"
#include "outbound/outbound.h"
#include "plugin/plugin_internal.h"
#include "util/arena.h"
#include "util/base64.h"
#include "util/json.h"
#include "util/log.h"
#include "util/percent.h"
#include "util/template.h"

#define CALL_ARENA_LIMIT  ((size_t)8 << 20)
#define SESSION_MAX_KEYS  32
#define SESSION_MAX_BYTES 16384
#define SESSION_KEY_MAX   64
#define JSON_MAX_DEPTH    64
#define JSON_MAX_BYTES    ((size_t)4 << 20)
#define CONFIG_MAX_BYTES  ((size_t)1 << 20)
#define URI_MAX_BYTES     8192
#define PROFILE_RAW_MAX   ((size_t)1 << 20)
#define HTTP_MAX_HEADERS  32
#define RANDOM_MAX_BYTES  65536
#define HMAC_KEY_MAX      ((size_t)1 << 20)
/* send_message's input (struct latch_connector_message), as the header bounds it. */
#define MESSAGE_MAX_VARS      32
#define MESSAGE_VAR_NAME_MAX  64
#define MESSAGE_VAR_VALUE_MAX 8192
#define MESSAGE_EMAIL_MAX     320 /* RFC 5321: 64 for the local part, 255 for the domain */
#define MESSAGE_PHONE_MAX     15  /* E.164 */
#define MESSAGE_LOCALE_MAX    35
#define MESSAGE_IP_MAX        45
#define MESSAGE_SUBJECT_MAX   998 /* RFC 5322's line limit */
#define MESSAGE_CONTENT_MAX   ((size_t)1 << 20)

struct session_kv {
    char *key;   /* arena */
    char *value; /* arena */
};

struct latch_connector_ctx {
    struct latch_plugin *plugin;
    struct latch_arena *arena;
    yajl_val config; /* an object, or NULL */
    struct session_kv session[SESSION_MAX_KEYS];
    int nsession;
    char problem[256];      /* the last warning or error the connector logged (error detail) */
    bool address_refused;   /* an outbound request was refused by the address policy */
    const char *request_id; /* the request served (latch_plugin_call), NULL for none */
    const char *tenant;
};

/* Logs a line about a call, with the request's id and tenant when the call serves one. */
static void ctx_log(const struct latch_connector_ctx *ctx, enum latch_log_level level,
                    const char *fmt, ...) LATCH_PRINTF(3, 4);
static void ctx_log(const struct latch_connector_ctx *ctx, enum latch_log_level level,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!latch_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ctx->request_id != NULL)
        latch_log_request(level, ctx->request_id, ctx->tenant, "%s", msg);
    else
        latch_log(level, "%s", msg);
}

/* ---- JSON ---- */

yajl_val latch_plugin_json_parse(const char *text, size_t max_len, unsigned max_depth)
{
    if (text == NULL)
        return NULL;
    struct latch_json_limits lim = {.max_bytes = max_len, .max_depth = max_depth};
    struct latch_error err = {0};
    yajl_val v = NULL;
    if (latch_json_parse(text, strnlen(text, max_len + 1), &lim, &v, &err) != LATCH_OK)
        return NULL;
    return v;
}

static yajl_val obj_get(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

/* A scalar as text into the arena; objects and arrays as JSON text when `structured`. */
static const char *value_text(struct latch_arena *arena, yajl_val v, bool structured)
{
    if (v == NULL || YAJL_IS_NULL(v))
        return NULL;
    if (YAJL_IS_STRING(v))
        return latch_arena_strdup(arena, v->u.string);
    if (YAJL_IS_NUMBER(v))
        return latch_arena_strdup(arena, v->u.number.r);
    if (YAJL_IS_TRUE(v))
        return "true";
    if (YAJL_IS_FALSE(v))
        return "false";
    if (!structured)
        return NULL;
    struct latch_json g;
    size_t len = 0;
    latch_json_init(&g);
    latch_json_value(&g, v);
    char *text = latch_json_take(&g, &len);
    const char *out = text != NULL ? latch_arena_strndup(arena, text, len) : NULL;
    free(text);
    return out;
}

bool latch_plugin_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned char c = p[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* ---- host services ---- */

static void *host_alloc(struct latch_connector_ctx *ctx, size_t size)
{
    return latch_arena_calloc(ctx->arena, 1, size == 0 ? 1 : size);
}

static char *host_dup(struct latch_connector_ctx *ctx, const char *s)
{
    return s != NULL ? latch_arena_strdup(ctx->arena, s) : NULL;
}

static char *vformat(struct latch_arena *arena, const char *fmt, va_list ap) LATCH_PRINTF(2, 0);

static char *vformat(struct latch_arena *arena, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *out;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    out = latch_arena_alloc(arena, (size_t)n + 1);
    if (out != NULL)
        vsnprintf(out, (size_t)n + 1, fmt, ap);
    return out;
}

static char *host_format(struct latch_connector_ctx *ctx, const char *fmt, ...) LATCH_PRINTF(2, 3);

static char *host_format(struct latch_connector_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *out;

    va_start(ap, fmt);
    out = vformat(ctx->arena, fmt, ap);
    va_end(ap);
    return out;
}

static void note_problem(struct latch_connector_ctx *ctx, const char *fmt, ...) LATCH_PRINTF(2, 3);

static void note_problem(struct latch_connector_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->problem, sizeof(ctx->problem), fmt, ap);
    va_end(ap);
}

static void host_log(struct latch_connector_ctx *ctx, int level, const char *fmt, ...)
    LATCH_PRINTF(3, 4);

static void host_log(struct latch_connector_ctx *ctx, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    enum latch_log_level l;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    switch (level) {
    case LATCH_CONNECTOR_LOG_DEBUG:
        l = LATCH_LOG_DEBUG;
        break;
    case LATCH_CONNECTOR_LOG_INFO:
        l = LATCH_LOG_INFO;
        break;
    case LATCH_CONNECTOR_LOG_WARN:
        l = LATCH_LOG_WARN;
        break;
    default:
        l = LATCH_LOG_ERROR;
        break;
    }
    if (l >= LATCH_LOG_WARN) {
        size_t n = strnlen(msg, sizeof(ctx->problem) - 1);
        memcpy(ctx->problem, msg, n);
        ctx->problem[n] = '\0';
    }
    if (latch_log_enabled(l))
        ctx_log(ctx, l, "connector %s %s: %s", ctx->plugin->info.id, ctx->plugin->info.version,
                msg);
}

static const struct latch_connector_field *schema_field(const struct latch_plugin *p,
                                                        const char *key)
{
    for (size_t i = 0; i < p->desc.nfields; i++)
        if (strcmp(p->fields[i].key, key) == 0)
            return &p->fields[i];
    return NULL;
}

static const char *host_config_get(struct latch_connector_ctx *ctx, const char *key)
{
    const struct latch_connector_field *f;
    yajl_val v;

    if (key == NULL)
        return NULL;
    v = obj_get(ctx->config, key);
    if (v != NULL && !YAJL_IS_NULL(v))
        return value_text(ctx->arena, v, true);
    f = schema_field(ctx->plugin, key);
    return f != NULL ? f->default_value : NULL;
}

static bool session_key_ok(const char *key)
{
    size_t n = key != NULL ? strnlen(key, SESSION_KEY_MAX + 1) : 0;

    if (n == 0 || n > SESSION_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static size_t session_bytes(const struct latch_connector_ctx *ctx, int skip)
{
    size_t n = 0;

    for (int i = 0; i < ctx->nsession; i++)
        if (i != skip)
            n += strlen(ctx->session[i].key) + strlen(ctx->session[i].value);
    return n;
}

static int session_put(struct latch_connector_ctx *ctx, const char *key, const char *value)
{
    int at = -1;

    if (!session_key_ok(key)) {
        note_problem(ctx, "session_set: invalid key");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    for (int i = 0; i < ctx->nsession; i++)
        if (strcmp(ctx->session[i].key, key) == 0)
            at = i;
    if (value == NULL) {
        if (at >= 0)
            ctx->session[at] = ctx->session[--ctx->nsession];
        return LATCH_CONNECTOR_OK;
    }
    if (at < 0 && ctx->nsession == SESSION_MAX_KEYS) {
        note_problem(ctx, "session_set: more than %d keys", SESSION_MAX_KEYS);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (session_bytes(ctx, at) + strlen(key) + strlen(value) > SESSION_MAX_BYTES ||
        !latch_plugin_utf8_ok(value, strlen(value))) {
        note_problem(ctx, "session_set: value of %s is not UTF-8 or the session exceeds %d bytes",
                     key, SESSION_MAX_BYTES);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    char *k = latch_arena_strdup(ctx->arena, key);
    char *v = latch_arena_strdup(ctx->arena, value);
    if (k == NULL || v == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (at < 0)
        at = ctx->nsession++;
    ctx->session[at].key = k;
    ctx->session[at].value = v;
    return LATCH_CONNECTOR_OK;
}

static int host_session_set(struct latch_connector_ctx *ctx, const char *key, const char *value)
{
    return session_put(ctx, key, value);
}

static const char *host_session_get(struct latch_connector_ctx *ctx, const char *key)
{
    for (int i = 0; key != NULL && i < ctx->nsession; i++)
        if (strcmp(ctx->session[i].key, key) == 0)
            return ctx->session[i].value;
    return NULL;
}

/* scheme://host of a URL, for logs (the path and query may hold secrets). */
static void url_origin(const char *url, char *out, size_t cap)
{
    const char *p = url != NULL ? strstr(url, "://") : NULL;
    size_t n = p != NULL ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;

    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), url != NULL ? url : "");
}

static int host_http(struct latch_connector_ctx *ctx,
                     const struct latch_connector_http_request *req,
                     struct latch_connector_http_response *resp)
{
    struct latch_outbound_header headers[HTTP_MAX_HEADERS];
    struct latch_outbound_response oresp;
    struct latch_error err;
    char origin[256];
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    memset(&oresp, 0, sizeof(oresp));
    latch_error_clear(&err);
    if (req == NULL || resp == NULL || req->struct_size < PLUGIN_HTTP_REQUEST_SIZE_1_0 ||
        resp->struct_size < PLUGIN_END_OF(struct latch_connector_http_response, content_type)) {
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "http: request or response missing, or its struct_size too small (use "
                 "LATCH_CONNECTOR_HTTP_REQUEST_INIT and _RESPONSE_INIT)");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (req->nheaders > HTTP_MAX_HEADERS || (req->nheaders > 0 && req->headers == NULL)) {
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR, "http: more than %d headers", HTTP_MAX_HEADERS);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        headers[i].name = req->headers[i].name;
        headers[i].value = req->headers[i].value;
    }
    struct latch_outbound_request oreq = {
        .method = req->method,
        .url = req->url,
        .headers = req->nheaders > 0 ? headers : NULL,
        .nheaders = req->nheaders,
        .body = req->body,
        .body_len = req->body != NULL ? req->body_len : 0,
        .timeout_ms = req->timeout_ms,
    };
    url_origin(req->url, origin, sizeof(origin));
    if (latch_outbound_request(&oreq, &oresp, &err) != LATCH_OK) {
        bool timeout = strcmp(err.code, LATCH_OUTBOUND_ERR_TIMEOUT) == 0;
        ctx->address_refused |= strcmp(err.code, LATCH_OUTBOUND_ERR_ADDRESS) == 0;
        host_log(ctx, LATCH_CONNECTOR_LOG_WARN, "http %s %s: %s%s%s",
                 req->method != NULL ? req->method : "GET", origin, err.message,
                 err.detail[0] ? ": " : "", err.detail);
        return timeout ? LATCH_CONNECTOR_ERR_TIMEOUT : LATCH_CONNECTOR_ERR_GENERAL;
    }
    char *body = latch_arena_strndup(ctx->arena, oresp.body != NULL ? oresp.body : "",
                                     oresp.body != NULL ? oresp.body_len : 0);
    char *ctype =
        oresp.content_type != NULL ? latch_arena_strdup(ctx->arena, oresp.content_type) : NULL;
    if (body == NULL || (oresp.content_type != NULL && ctype == NULL)) {
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR, "http %s: the answer exceeds the call's memory",
                 origin);
        goto out;
    }
    resp->status = oresp.status;
    resp->body = body;
    resp->body_len = oresp.body != NULL ? oresp.body_len : 0;
    resp->content_type = ctype;
    ctx_log(ctx, LATCH_LOG_DEBUG, "connector %s: %s %s -> %d (%zu bytes)", ctx->plugin->info.id,
            req->method != NULL ? req->method : "GET", origin, oresp.status, resp->body_len);
    rc = LATCH_CONNECTOR_OK;
out:
    latch_outbound_response_clear(&oresp);
    return rc;
}

static int host_form_add(struct latch_connector_ctx *ctx, char **buf, const char *key,
                         const char *value)
{
    char *k, *v, *out;

    if (buf == NULL || key == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (value == NULL)
        return LATCH_CONNECTOR_OK;
    k = latch_percent_encode(ctx->arena, key);
    v = latch_percent_encode(ctx->arena, value);
    if (k == NULL || v == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (*buf != NULL && (*buf)[0] != '\0')
        out = host_format(ctx, "%s&%s=%s", *buf, k, v);
    else
        out = host_format(ctx, "%s=%s", k, v);
    if (out == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *buf = out;
    return LATCH_CONNECTOR_OK;
}

/* The value at a dotted path ("" is root itself; a numeric segment indexes an array), or NULL
 * when the path is absent. */
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
        if (*p == '.') {
            p++;
            if (*p == '\0') {
                v = NULL; /* "a.": an empty last segment names nothing, as an empty middle one */
                break;
            }
        }
        if (YAJL_IS_OBJECT(v)) {
            v = obj_get(v, seg);
        } else if (YAJL_IS_ARRAY(v) && strspn(seg, "0123456789") == n && n < 10) {
            size_t idx = (size_t)strtoul(seg, NULL, 10);
            v = idx < v->u.array.len ? v->u.array.values[idx] : NULL;
        } else {
            v = NULL;
        }
    }
    return v;
}

static const char *host_json_get(struct latch_connector_ctx *ctx, const char *json,
                                 const char *path)
{
    yajl_val root, v;
    const char *out = NULL;

    if (json == NULL || path == NULL)
        return NULL;
    root = latch_plugin_json_parse(json, JSON_MAX_BYTES, JSON_MAX_DEPTH);
    if (root == NULL)
        return NULL;
    v = json_at(root, path);
    if (v != NULL)
        out = value_text(ctx->arena, v, false);
    yajl_tree_free(root);
    return out;
}

static char *host_json_string(struct latch_connector_ctx *ctx, const char *s)
{
    struct latch_json j;
    char *text, *out;

    if (s == NULL)
        return latch_arena_strdup(ctx->arena, "null");
    latch_json_init(&j);
    latch_json_string(&j, s);
    text = latch_json_take(&j, NULL);
    if (text == NULL)
        return NULL;
    out = latch_arena_strdup(ctx->arena, text);
    free(text);
    return out;
}

static char *host_base64(struct latch_connector_ctx *ctx, const void *data, size_t len)
{
    char *out;

    if (len > (size_t)1 << 28 || (data == NULL && len > 0))
        return NULL;
    size_t cap = latch_base64_encoded_len(len) + 1;
    out = latch_arena_alloc(ctx->arena, cap);
    if (out == NULL || latch_base64_encode(data, len, out, cap) < 0)
        return NULL;
    return out;
}

/* ---- 1.1: SHA-256, HMAC-SHA-256, random bytes (OpenSSL), so connectors carry no crypto ---- */

static int host_sha256(struct latch_connector_ctx *ctx, const void *data, size_t len,
                       unsigned char out[32])
{
    unsigned int n = 0;

    if (out == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if ((data == NULL && len > 0) ||
        EVP_Digest(len > 0 ? data : "", len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(out, 0, 32);
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR, "sha256: no data, or the digest failed");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    return LATCH_CONNECTOR_OK;
}

static int host_hmac_sha256(struct latch_connector_ctx *ctx, const void *key, size_t keylen,
                            const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    if (out == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    /* HMAC() takes the key length as an int; no real key comes near the bound. */
    if ((key == NULL && keylen > 0) || (data == NULL && len > 0) || keylen > HMAC_KEY_MAX ||
        HMAC(EVP_sha256(), keylen > 0 ? key : "", (int)keylen, len > 0 ? data : (const void *)"",
             len, out, &n) == NULL ||
        n != 32) {
        memset(out, 0, 32);
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "hmac_sha256: no key or data, a key over %zu bytes, or the MAC failed",
                 HMAC_KEY_MAX);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    return LATCH_CONNECTOR_OK;
}

static int host_random_bytes(struct latch_connector_ctx *ctx, void *buf, size_t len)
{
    if (buf == NULL && len > 0)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (len == 0)
        return LATCH_CONNECTOR_OK;
    if (len > RANDOM_MAX_BYTES || RAND_bytes(buf, (int)len) != 1) {
        /* Never hand out a buffer that might look random. */
        OPENSSL_cleanse(buf, len);
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "random_bytes: more than %d bytes asked, or the generator failed",
                 RANDOM_MAX_BYTES);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    return LATCH_CONNECTOR_OK;
}

/* ---- 1.1: base64url and JSON object members (core/util's), so connectors carry no codec ---- */

static char *host_base64url(struct latch_connector_ctx *ctx, const void *data, size_t len)
{
    char *out;

    if (len > (size_t)1 << 28 || (data == NULL && len > 0))
        return NULL;
    size_t cap = latch_base64url_encoded_len(len) + 1;
    out = latch_arena_alloc(ctx->arena, cap);
    if (out == NULL || latch_base64url_encode(data, len, out, cap) < 0)
        return NULL;
    return out;
}

static unsigned char *host_base64url_decode(struct latch_connector_ctx *ctx, const char *text,
                                            size_t len, size_t *out_len)
{
    unsigned char *out;
    ssize_t n;

    if (out_len != NULL)
        *out_len = 0;
    if (out_len == NULL || (text == NULL && len > 0) || len > (size_t)1 << 28)
        return NULL;
    size_t cap = latch_base64_decoded_len(len) + 1;
    out = latch_arena_alloc(ctx->arena, cap);
    if (out == NULL)
        return NULL;
    n = latch_base64url_decode(len > 0 ? text : "", len, out, cap - 1);
    if (n < 0)
        return NULL;
    out[n] = '\0';
    *out_len = (size_t)n;
    return out;
}

static int json_type(yajl_val v)
{
    if (YAJL_IS_STRING(v))
        return LATCH_CONNECTOR_JSON_STRING;
    if (YAJL_IS_NUMBER(v))
        return LATCH_CONNECTOR_JSON_NUMBER;
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        return LATCH_CONNECTOR_JSON_BOOLEAN;
    if (YAJL_IS_OBJECT(v))
        return LATCH_CONNECTOR_JSON_OBJECT;
    if (YAJL_IS_ARRAY(v))
        return LATCH_CONNECTOR_JSON_ARRAY;
    return LATCH_CONNECTOR_JSON_NULL;
}

static int host_json_members(struct latch_connector_ctx *ctx, const char *json, const char *path,
                             struct latch_connector_json_members *out)
{
    struct latch_json_limits lim = {.max_bytes = JSON_MAX_BYTES, .max_depth = JSON_MAX_DEPTH};
    struct latch_error err;
    yajl_val root = NULL, obj;
    const char **names, **values;
    int *types;
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    if (out == NULL || out->struct_size < PLUGIN_END_OF(struct latch_connector_json_members, why)) {
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "json_members: out missing or its struct_size too small (use "
                 "LATCH_CONNECTOR_JSON_MEMBERS_INIT)");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    out->count = 0;
    out->names = out->values = NULL;
    out->types = NULL;
    out->why = NULL;
    latch_error_clear(&err);
    if (json == NULL) {
        out->why = "is not valid JSON";
        goto out;
    }
    /* The reader refuses duplicate names, bad UTF-8, NULs and depth beyond the bound: the
     * members handed out are exactly the document's, with no guess at which duplicate wins. */
    if (latch_json_parse(json, strnlen(json, JSON_MAX_BYTES + 1), &lim, &root, &err) != LATCH_OK) {
        /* The reader's phrases either read after a name ("is too large") or name a part
         * ("duplicate key `id`"). */
        bool phrase = strncmp(err.message, "is ", 3) == 0 || strncmp(err.message, "must ", 5) == 0;
        out->why = err.status >= 500 ? "exceeds the host's memory"
                   : phrase          ? host_dup(ctx, err.message)
                                     : host_format(ctx, "is not valid JSON: %s", err.message);
        if (out->why == NULL)
            out->why = "is not valid JSON";
        goto out;
    }
    obj = json_at(root, path != NULL ? path : "");
    if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
        out->why = path != NULL && path[0] != '\0'
                       ? host_format(ctx, "has no JSON object at \"%.200s\"", path)
                       : "is not a JSON object";
        if (out->why == NULL)
            out->why = "is not a JSON object";
        goto out;
    }
    size_t n = obj->u.object.len;
    if (n > LATCH_CONNECTOR_JSON_MEMBERS_MAX) {
        out->why = host_format(ctx, "has more than %d members", LATCH_CONNECTOR_JSON_MEMBERS_MAX);
        goto out;
    }
    if (n == 0) {
        rc = LATCH_CONNECTOR_OK;
        goto out;
    }
    names = latch_arena_calloc(ctx->arena, n, sizeof(*names));
    values = latch_arena_calloc(ctx->arena, n, sizeof(*values));
    types = latch_arena_calloc(ctx->arena, n, sizeof(*types));
    if (names == NULL || values == NULL || types == NULL) {
        out->why = "exceeds the call's memory";
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        yajl_val v = obj->u.object.values[i];
        names[i] = latch_arena_strdup(ctx->arena, obj->u.object.keys[i]);
        types[i] = json_type(v);
        values[i] = value_text(ctx->arena, v, false);
        if (names[i] == NULL || ((YAJL_IS_STRING(v) || YAJL_IS_NUMBER(v)) && values[i] == NULL)) {
            out->why = "exceeds the call's memory";
            goto out;
        }
    }
    out->count = n;
    out->names = names;
    out->values = values;
    out->types = types;
    rc = LATCH_CONNECTOR_OK;
out:
    yajl_tree_free(root);
    if (rc != LATCH_CONNECTOR_OK)
        ctx_log(ctx, LATCH_LOG_DEBUG, "connector %s: json_members: the document %s",
                ctx->plugin->info.id, out->why);
    return rc;
}

/* ---- 1.1: message templates (util/template's renderer) ---- */

static char *host_render_template(struct latch_connector_ctx *ctx, const char *tpl,
                                  const struct latch_connector_param *vars, size_t nvars,
                                  unsigned flags)
{
    const char **names = NULL, **values = NULL;

    if (tpl == NULL || (nvars > 0 && vars == NULL))
        return NULL;
    if (nvars > 0) {
        names = latch_arena_calloc(ctx->arena, nvars, sizeof(*names));
        values = latch_arena_calloc(ctx->arena, nvars, sizeof(*values));
        if (names == NULL || values == NULL)
            return NULL;
        for (size_t i = 0; i < nvars; i++) {
            names[i] = vars[i].name;
            values[i] = vars[i].value;
        }
    }
    char *out =
        latch_template_render(ctx->arena, tpl, names, values, nvars,
                              (flags & LATCH_CONNECTOR_RENDER_HTML) != 0 ? LATCH_TEMPLATE_HTML : 0);
    if (out == NULL)
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "render_template: the result exceeds %u bytes or the call's memory",
                 LATCH_TEMPLATE_OUTPUT_MAX);
    return out;
}

/* ---- 1.1: SMTP (outbound/'s client, under the same policy as http) ---- */

static int host_smtp_send(struct latch_connector_ctx *ctx,
                          const struct latch_connector_smtp_request *req,
                          struct latch_connector_smtp_response *resp)
{
    struct latch_error err;
    int reply = 0;

    if (resp == NULL ||
        resp->struct_size < PLUGIN_END_OF(struct latch_connector_smtp_response, message)) {
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "smtp_send: response missing or its struct_size too small (use "
                 "LATCH_CONNECTOR_SMTP_RESPONSE_INIT)");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    resp->code = 0;
    resp->message = "";
    if (req == NULL ||
        req->struct_size < PLUGIN_END_OF(struct latch_connector_smtp_request, data_len)) {
        resp->message = "no request, or its struct_size is too small";
        host_log(ctx, LATCH_CONNECTOR_LOG_ERROR,
                 "smtp_send: request missing or its struct_size too small (use "
                 "LATCH_CONNECTOR_SMTP_REQUEST_INIT)");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    struct latch_outbound_smtp_request oreq = {
        .host = req->host,
        .port = req->port,
        .tls = (enum latch_outbound_smtp_tls)req->tls,
        .username = req->username,
        .password = req->password,
        .mail_from = req->mail_from,
        .rcpt = req->rcpt,
        .nrcpt = req->nrcpt,
        .data = req->data,
        .data_len = req->data_len,
        .timeout_ms = req->timeout_ms,
    };
    latch_error_clear(&err);
    latch_rc rc = latch_outbound_smtp_send(&oreq, &reply, &err);
    resp->code = reply;
    if (rc == LATCH_OK) {
        resp->message = host_format(ctx, "accepted (reply %d)", reply);
        if (resp->message == NULL)
            resp->message = "accepted";
        ctx_log(ctx, LATCH_LOG_DEBUG, "connector %s: smtp_send: reply %d", ctx->plugin->info.id,
                reply);
        return LATCH_CONNECTOR_OK;
    }
    /* outbound/'s messages name the server and the reply, never the password. */
    resp->message = host_dup(ctx, err.message);
    if (resp->message == NULL)
        resp->message = "";
    host_log(ctx, LATCH_CONNECTOR_LOG_WARN, "smtp_send: %s%s%s", err.message,
             err.detail[0] ? ": " : "", err.detail);
    if (strcmp(err.code, LATCH_OUTBOUND_ERR_ADDRESS) == 0) {
        ctx->address_refused = true;
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    if (strcmp(err.code, LATCH_OUTBOUND_ERR_CONFIG) == 0)
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    if (strcmp(err.code, LATCH_OUTBOUND_ERR_TIMEOUT) == 0)
        return LATCH_CONNECTOR_ERR_TIMEOUT;
    return LATCH_CONNECTOR_ERR_GENERAL;
}

static const struct latch_connector_host host_table = {
    .struct_size = sizeof(struct latch_connector_host),
    .host_major = LATCH_CONNECTOR_ABI_MAJOR,
    .host_minor = LATCH_CONNECTOR_ABI_MINOR,
    .alloc = host_alloc,
    .dup = host_dup,
    .format = host_format,
    .log_msg = host_log,
    .config_get = host_config_get,
    .session_set = host_session_set,
    .session_get = host_session_get,
    .http = host_http,
    .form_add = host_form_add,
    .json_get = host_json_get,
    .json_string = host_json_string,
    .base64 = host_base64,
    .sha256 = host_sha256,
    .hmac_sha256 = host_hmac_sha256,
    .random_bytes = host_random_bytes,
    .base64url = host_base64url,
    .base64url_decode = host_base64url_decode,
    .json_members = host_json_members,
    .render_template = host_render_template,
    .smtp_send = host_smtp_send,
};

/* ---- calls ---- */

static const char *status_code(int status)
{
    switch (status) {
    case LATCH_CONNECTOR_ERR_INVALID_CONFIG:
        return "connector.invalid_config";
    case LATCH_CONNECTOR_ERR_INVALID_RESPONSE:
        return "connector.invalid_response";
    case LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED:
        return "connector.authorization_failed";
    case LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID:
        return "connector.social_auth_code_invalid";
    case LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID:
        return "connector.social_invalid_access_token";
    case LATCH_CONNECTOR_ERR_TIMEOUT:
        return "connector.timeout";
    case LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED:
        return "connector.not_implemented";
    default:
        return "connector.general";
    }
}

static latch_rc call_fail(struct latch_plugin_call *call, int status, const char *fmt, ...)
    LATCH_PRINTF(3, 4);

static latch_rc call_fail(struct latch_plugin_call *call, int status, const char *fmt, ...)
{
    va_list ap;

    snprintf(call->error_code, sizeof(call->error_code), "%s", status_code(status));
    va_start(ap, fmt);
    vsnprintf(call->error_detail, sizeof(call->error_detail), fmt, ap);
    va_end(ap);
    return LATCH_FAIL;
}

static void ctx_clear(struct latch_connector_ctx *ctx)
{
    yajl_tree_free(ctx->config);
    latch_arena_free(ctx->arena);
    memset(ctx, 0, sizeof(*ctx));
}

/* Parses a config: NULL or "" is an empty one. */
static latch_rc parse_config(const char *json, yajl_val *out, const char **why)
{
    *out = NULL;
    if (json == NULL || json[0] == '\0')
        return LATCH_OK;
    *out = latch_plugin_json_parse(json, CONFIG_MAX_BYTES, JSON_MAX_DEPTH);
    if (*out == NULL || !YAJL_IS_OBJECT(*out)) {
        yajl_tree_free(*out);
        *out = NULL;
        *why = "The connector config is not a JSON object.";
        return LATCH_FAIL;
    }
    return LATCH_OK;
}

static latch_rc ctx_init(struct latch_connector_ctx *ctx, struct latch_plugin *p,
                         const char *config_json, const char *session_json, const char **why)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->plugin = p;
    ctx->arena = latch_arena_new(CALL_ARENA_LIMIT);
    if (ctx->arena == NULL) {
        *why = "out of memory";
        return LATCH_FAIL;
    }
    if (parse_config(config_json, &ctx->config, why) != LATCH_OK)
        goto fail;
    if (session_json != NULL && session_json[0] != '\0') {
        yajl_val s = latch_plugin_json_parse(session_json, SESSION_MAX_BYTES * 4, 4);
        if (s == NULL || !YAJL_IS_OBJECT(s)) {
            yajl_tree_free(s);
            *why = "the connector session is not a JSON object";
            goto fail;
        }
        /* Values are strings; anything else is dropped rather than guessed at. */
        for (size_t i = 0; i < s->u.object.len; i++)
            if (YAJL_IS_STRING(s->u.object.values[i]))
                (void)session_put(ctx, s->u.object.keys[i], s->u.object.values[i]->u.string);
        yajl_tree_free(s);
    }
    ctx->problem[0] = '\0';
    return LATCH_OK;
fail:
    ctx_clear(ctx);
    return LATCH_FAIL;
}

static char *session_json(const struct latch_connector_ctx *ctx)
{
    struct latch_json j;

    latch_json_init(&j);
    latch_json_begin_object(&j);
    for (int i = 0; i < ctx->nsession; i++) {
        latch_json_key(&j, ctx->session[i].key);
        latch_json_string(&j, ctx->session[i].value);
    }
    latch_json_end_object(&j);
    return latch_json_take(&j, NULL);
}

static void call_reset(struct latch_plugin_call *call)
{
    call->session_out = NULL;
    call->error_code[0] = '\0';
    call->error_detail[0] = '\0';
}

/* A connector's failure: its status, and what it logged last as the detail. */
static latch_rc op_failed(struct latch_plugin_call *call, struct latch_connector_ctx *ctx,
                          const char *op, int status)
{
    call_fail(call, status, "%s %s: %s returned %d%s%s", ctx->plugin->info.id,
              ctx->plugin->info.version, op, status, ctx->problem[0] ? ": " : "", ctx->problem);
    /* Whatever the connector made of it, the cause is the operator's address policy. */
    if (ctx->address_refused)
        snprintf(call->error_code, sizeof(call->error_code), "%s", LATCH_OUTBOUND_ERR_ADDRESS);
    return LATCH_FAIL;
}

static bool uri_ok(const char *u)
{
    size_t n = strnlen(u, URI_MAX_BYTES + 1);

    if (n == 0 || n > URI_MAX_BYTES)
        return false;
    if (strncasecmp(u, "https://", 8) != 0 && strncasecmp(u, "http://", 7) != 0)
        return false;
    /* It becomes a Location header: no spaces, no control characters, ASCII. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return false;
    return true;
}

latch_rc latch_plugin_authorization_uri(struct latch_plugin *p, struct latch_plugin_call *call,
                                        const char *state, const char *redirect_uri,
                                        const char *scope, char **uri)
{
    struct latch_connector_ctx ctx;
    struct latch_connector_auth_request req = LATCH_CONNECTOR_AUTH_REQUEST_INIT;
    const char *why = NULL;
    char *u = NULL;
    latch_rc rc = LATCH_FAIL;
    int st;

    *uri = NULL;
    call_reset(call);
    /* Only social connectors sign people in; the loader lets an email or SMS one leave this
     * NULL, whatever a tenant's settings ask for. */
    if (p->ops.get_authorization_uri == NULL || p->ops.get_user_info == NULL)
        return call_fail(call, LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED, "%s %s: not a social connector",
                         p->info.id, p->info.version);
    if (ctx_init(&ctx, p, call->config_json, call->session_json, &why) != LATCH_OK)
        return call_fail(call, LATCH_CONNECTOR_ERR_INVALID_CONFIG, "%s: %s", p->info.id, why);
    ctx.request_id = call->request_id;
    ctx.tenant = call->tenant;
    req.state = state;
    req.redirect_uri = redirect_uri;
    req.scope = scope;
    uint64_t t0 = latch_metrics_now_ns();
    st = p->ops.get_authorization_uri(&ctx, &host_table, &req, &u);
    latch_metrics_connector_call(p->info.id, p->info.version,
                                 LATCH_METRICS_CONNECTOR_AUTHORIZATION_URI,
                                 st == LATCH_CONNECTOR_OK, latch_metrics_now_ns() - t0);
    if (st != LATCH_CONNECTOR_OK) {
        op_failed(call, &ctx, "get_authorization_uri", st);
        goto out;
    }
    if (u == NULL || !uri_ok(u)) {
        call_fail(call, LATCH_CONNECTOR_ERR_INVALID_RESPONSE,
                  "%s %s: get_authorization_uri returned %s", p->info.id, p->info.version,
                  u == NULL ? "no URI" : "something that is not an http(s) URL");
        goto out;
    }
    *uri = strdup(u);
    call->session_out = session_json(&ctx);
    if (*uri == NULL || call->session_out == NULL) {
        free(*uri);
        *uri = NULL;
        free(call->session_out);
        call->session_out = NULL;
        call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
        goto out;
    }
    rc = LATCH_OK;
out:
    ctx_clear(&ctx);
    return rc;
}

/* A profile string, copied when it is UTF-8 without control characters and not too long;
 * otherwise dropped with a warning (only the id is essential). */
static bool profile_str(struct latch_connector_ctx *ctx, const char *what, const char *s,
                        size_t max, char **out)
{
    size_t n;

    *out = NULL;
    if (s == NULL || s[0] == '\0')
        return true;
    n = strnlen(s, max + 1);
    bool ok = n <= max && latch_plugin_utf8_ok(s, n);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] >= 0x20 && s[i] != 0x7f;
    if (!ok) {
        host_log(ctx, LATCH_CONNECTOR_LOG_WARN,
                 "profile %s dropped: longer than %zu bytes, not UTF-8, or with control characters",
                 what, max);
        return true;
    }
    *out = strdup(s);
    return *out != NULL;
}

latch_rc latch_plugin_user_info(struct latch_plugin *p, struct latch_plugin_call *call,
                                const char *const *names, const char *const *values, size_t nparams,
                                struct latch_plugin_user *user)
{
    struct latch_connector_ctx ctx;
    struct latch_connector_user_info out = LATCH_CONNECTOR_USER_INFO_INIT;
    struct latch_connector_param *params = NULL;
    const char *why = NULL;
    latch_rc rc = LATCH_FAIL;
    int st;

    memset(user, 0, sizeof(*user));
    call_reset(call);
    if (p->ops.get_user_info == NULL)
        return call_fail(call, LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED, "%s %s: not a social connector",
                         p->info.id, p->info.version);
    if (ctx_init(&ctx, p, call->config_json, call->session_json, &why) != LATCH_OK)
        return call_fail(call, LATCH_CONNECTOR_ERR_INVALID_CONFIG, "%s: %s", p->info.id, why);
    ctx.request_id = call->request_id;
    ctx.tenant = call->tenant;
    if (nparams > 0) {
        params = latch_arena_calloc(ctx.arena, nparams, sizeof(*params));
        if (params == NULL) {
            call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
            goto out;
        }
        for (size_t i = 0; i < nparams; i++) {
            params[i].name = names[i];
            params[i].value = values[i];
        }
    }
    uint64_t t0 = latch_metrics_now_ns();
    st = p->ops.get_user_info(&ctx, &host_table, params, nparams, &out);
    latch_metrics_connector_call(p->info.id, p->info.version, LATCH_METRICS_CONNECTOR_USER_INFO,
                                 st == LATCH_CONNECTOR_OK, latch_metrics_now_ns() - t0);
    if (st != LATCH_CONNECTOR_OK) {
        op_failed(call, &ctx, "get_user_info", st);
        goto out;
    }
    if (!profile_str(&ctx, "id", out.id, 256, &user->id) || user->id == NULL) {
        call_fail(call, LATCH_CONNECTOR_ERR_INVALID_RESPONSE,
                  "%s %s: get_user_info returned no usable id", p->info.id, p->info.version);
        goto out;
    }
    if (!profile_str(&ctx, "name", out.name, 1024, &user->name) ||
        !profile_str(&ctx, "email", out.email, 320, &user->email) ||
        !profile_str(&ctx, "phone", out.phone, 64, &user->phone) ||
        !profile_str(&ctx, "avatar", out.avatar, 4096, &user->avatar)) {
        call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
        goto out;
    }
    user->email_verified = out.email_verified != 0 && user->email != NULL;
    if (out.raw_json != NULL) {
        yajl_val raw = latch_plugin_json_parse(out.raw_json, PROFILE_RAW_MAX, JSON_MAX_DEPTH);
        if (raw != NULL && YAJL_IS_OBJECT(raw) &&
            latch_plugin_utf8_ok(out.raw_json, strlen(out.raw_json))) {
            user->raw_json = strdup(out.raw_json);
            if (user->raw_json == NULL) {
                yajl_tree_free(raw);
                call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
                goto out;
            }
        } else {
            host_log(&ctx, LATCH_CONNECTOR_LOG_WARN,
                     "profile raw_json dropped: not a JSON object of at most 1 MiB");
        }
        yajl_tree_free(raw);
    }
    call->session_out = session_json(&ctx);
    if (call->session_out == NULL) {
        call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
        goto out;
    }
    rc = LATCH_OK;
out:
    if (rc != LATCH_OK)
        latch_plugin_user_clear(user);
    ctx_clear(&ctx);
    return rc;
}

void latch_plugin_user_clear(struct latch_plugin_user *user)
{
    free(user->id);
    free(user->name);
    free(user->email);
    free(user->phone);
    free(user->avatar);
    free(user->raw_json);
    memset(user, 0, sizeof(*user));
}

/* ---- send_message (1.1: email and SMS connectors) ---- */

/* Logto's TemplateType names, by enum latch_connector_template value. */
static const char *const template_names[] = {
    NULL,
    "SignIn",
    "Register",
    "ForgotPassword",
    "Generic",
    "OrganizationInvitation",
    "UserPermissionValidation",
    "BindNewIdentifier",
    "MfaVerification",
    "BindMfa",
};

int latch_plugin_template_type(const char *name)
{
    for (size_t t = 1; name != NULL && t < sizeof(template_names) / sizeof(template_names[0]); t++)
        if (strcmp(name, template_names[t]) == 0)
            return (int)t;
    return 0;
}

/* s is NULL, or at most max bytes of UTF-8 without control characters (tab and, when
 * multiline, CR and LF aside). */
static bool text_ok(const char *s, size_t max, bool multiline)
{
    if (s == NULL)
        return true;
    size_t n = strnlen(s, max + 1);
    if (n > max || !latch_plugin_utf8_ok(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && !(multiline && (c == '\r' || c == '\n'))) || c == 0x7f)
            return false;
    }
    return true;
}

/* A recipient as the connector's kind expects it: an email address (one '@' with text on both
 * sides, nothing an SMTP command or a mail header could be split at), or E.164 digits. */
static bool recipient_ok(int kind, const char *to)
{
    size_t n = to != NULL ? strnlen(to, MESSAGE_EMAIL_MAX + 1) : 0;

    if (n == 0)
        return false;
    if (kind == LATCH_CONNECTOR_SMS) {
        if (n > MESSAGE_PHONE_MAX)
            return false;
        for (size_t i = 0; i < n; i++)
            if (to[i] < '0' || to[i] > '9')
                return false;
        return true;
    }
    const char *at = strchr(to, '@');
    if (n > MESSAGE_EMAIL_MAX || at == NULL || at == to || at[1] == '\0' ||
        strchr(at + 1, '@') != NULL || !latch_plugin_utf8_ok(to, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)to[i];
        if (c <= 0x20 || c == 0x7f || strchr("<>()[],;:\\\"", c) != NULL)
            return false;
    }
    return true;
}

static bool var_name_ok(const char *s)
{
    size_t n = s != NULL ? strnlen(s, MESSAGE_VAR_NAME_MAX + 1) : 0;

    if (n == 0 || n > MESSAGE_VAR_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* What is wrong with msg for connector p, or NULL when nothing is. */
static const char *message_problem(const struct latch_plugin *p,
                                   const struct latch_plugin_message *msg)
{
    if (msg->type <= 0 || (size_t)msg->type >= sizeof(template_names) / sizeof(template_names[0]))
        return "unknown template type";
    if (!recipient_ok(p->info.kind, msg->to))
        return p->info.kind == LATCH_CONNECTOR_SMS
                   ? "the recipient is not a phone number (1 to 15 digits, no '+')"
                   : "the recipient is not a plain email address";
    if (msg->nvars > MESSAGE_MAX_VARS ||
        (msg->nvars > 0 && (msg->var_names == NULL || msg->var_values == NULL)))
        return "more than 32 variables";
    for (size_t i = 0; i < msg->nvars; i++)
        if (!var_name_ok(msg->var_names[i]) ||
            !text_ok(msg->var_values[i], MESSAGE_VAR_VALUE_MAX, false))
            return "a variable's name is not 1 to 64 of A-Z a-z 0-9 _ . -, or its value is "
                   "longer than 8 KiB, not UTF-8 or holds control characters";
    if (!text_ok(msg->locale, MESSAGE_LOCALE_MAX, false) ||
        !text_ok(msg->ip, MESSAGE_IP_MAX, false))
        return "the locale or the client address is too long or malformed";
    if (!text_ok(msg->subject, MESSAGE_SUBJECT_MAX, false) ||
        !text_ok(msg->content, MESSAGE_CONTENT_MAX, true))
        return "the template's subject is longer than 998 bytes, its content longer than "
               "1 MiB, or either is not UTF-8 text";
    if (msg->content != NULL &&
        (msg->content_type == NULL || (strcmp(msg->content_type, "text/html") != 0 &&
                                       strcmp(msg->content_type, "text/plain") != 0)))
        return "the template's content type is not text/html or text/plain";
    return NULL;
}

latch_rc latch_plugin_send_message(struct latch_plugin *p, struct latch_plugin_call *call,
                                   const struct latch_plugin_message *msg)
{
    struct latch_connector_ctx ctx;
    struct latch_connector_message m = LATCH_CONNECTOR_MESSAGE_INIT;
    struct latch_connector_param *vars = NULL;
    const char *why = NULL;
    latch_rc rc = LATCH_FAIL;

    call_reset(call);
    if (p->info.kind == LATCH_CONNECTOR_SOCIAL || p->ops.send_message == NULL)
        return call_fail(call, LATCH_CONNECTOR_ERR_NOT_IMPLEMENTED,
                         "%s %s: a social connector sends no messages", p->info.id,
                         p->info.version);
    why = msg != NULL ? message_problem(p, msg) : "no message";
    if (why != NULL)
        return call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: message refused: %s", p->info.id,
                         why);
    if (ctx_init(&ctx, p, call->config_json, NULL, &why) != LATCH_OK)
        return call_fail(call, LATCH_CONNECTOR_ERR_INVALID_CONFIG, "%s: %s", p->info.id, why);
    ctx.request_id = call->request_id;
    ctx.tenant = call->tenant;
    if (msg->nvars > 0) {
        vars = latch_arena_calloc(ctx.arena, msg->nvars, sizeof(*vars));
        if (vars == NULL) {
            call_fail(call, LATCH_CONNECTOR_ERR_GENERAL, "%s: out of memory", p->info.id);
            goto out;
        }
        for (size_t i = 0; i < msg->nvars; i++) {
            vars[i].name = msg->var_names[i];
            vars[i].value = msg->var_values[i] != NULL ? msg->var_values[i] : "";
        }
    }
    m.type = (uint32_t)msg->type;
    m.type_name = template_names[msg->type];
    m.to = msg->to;
    m.locale = msg->locale;
    m.vars = vars;
    m.nvars = msg->nvars;
    m.ip = msg->ip;
    m.subject = msg->content != NULL ? msg->subject : NULL;
    m.content = msg->content;
    m.content_type = msg->content != NULL ? msg->content_type : NULL;
    uint64_t t0 = latch_metrics_now_ns();
    int st = p->ops.send_message(&ctx, &host_table, &m);
    latch_metrics_connector_call(p->info.id, p->info.version, LATCH_METRICS_CONNECTOR_SEND_MESSAGE,
                                 st == LATCH_CONNECTOR_OK, latch_metrics_now_ns() - t0);
    if (st != LATCH_CONNECTOR_OK) {
        op_failed(call, &ctx, "send_message", st);
        goto out;
    }
    rc = LATCH_OK;
out:
    ctx_clear(&ctx);
    return rc;
}

/* ---- config validation ---- */

static bool type_ok(uint32_t type, yajl_val v)
{
    switch (type) {
    case LATCH_CONNECTOR_FIELD_TEXT:
    case LATCH_CONNECTOR_FIELD_MULTILINE_TEXT:
        return YAJL_IS_STRING(v);
    case LATCH_CONNECTOR_FIELD_NUMBER:
        return YAJL_IS_NUMBER(v);
    case LATCH_CONNECTOR_FIELD_SWITCH:
        return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
    case LATCH_CONNECTOR_FIELD_JSON:
        return YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v);
    default:
        return false;
    }
}

static const char *type_expect(uint32_t type)
{
    switch (type) {
    case LATCH_CONNECTOR_FIELD_NUMBER:
        return "a number";
    case LATCH_CONNECTOR_FIELD_SWITCH:
        return "true or false";
    case LATCH_CONNECTOR_FIELD_JSON:
        return "a JSON object or array";
    default:
        return "a string";
    }
}

latch_rc latch_plugin_validate_config(struct latch_plugin *p, const char *config_json,
                                      struct latch_error *err)
{
    struct latch_connector_ctx ctx;
    const char *why = NULL;
    latch_rc rc = LATCH_FAIL;

    if (config_json == NULL || config_json[0] == '\0')
        config_json = "{}";
    if (ctx_init(&ctx, p, config_json, NULL, &why) != LATCH_OK)
        return latch_error_set(err, 400, "connector.invalid_config", "%s", why);
    for (size_t i = 0; i < p->desc.nfields; i++) {
        const struct latch_connector_field *f = &p->fields[i];
        yajl_val v = obj_get(ctx.config, f->key);
        bool missing = v == NULL || YAJL_IS_NULL(v) ||
                       (YAJL_IS_STRING(v) && v->u.string[0] == '\0' && f->required);
        if (missing) {
            if (f->required && f->default_value == NULL) {
                latch_error_set(err, 400, "connector.invalid_config", "%s is required.", f->key);
                goto out;
            }
            continue;
        }
        if (!type_ok(f->type, v)) {
            latch_error_set(err, 400, "connector.invalid_config", "%s must be %s.", f->key,
                            type_expect(f->type));
            goto out;
        }
        if (YAJL_IS_STRING(v) && !latch_plugin_utf8_ok(v->u.string, strlen(v->u.string))) {
            latch_error_set(err, 400, "connector.invalid_config", "%s is not valid UTF-8.", f->key);
            goto out;
        }
    }
    if (p->ops.validate_config != NULL) {
        const char *reason = NULL;
        uint64_t t0 = latch_metrics_now_ns();
        int st = p->ops.validate_config(&ctx, &host_table, &reason);
        latch_metrics_connector_call(p->info.id, p->info.version,
                                     LATCH_METRICS_CONNECTOR_VALIDATE_CONFIG,
                                     st == LATCH_CONNECTOR_OK, latch_metrics_now_ns() - t0);
        if (st != LATCH_CONNECTOR_OK) {
            latch_error_set(err, 400, "connector.invalid_config", "%.200s",
                            reason != NULL && reason[0] != '\0' ? reason
                                                                : "The connector rejected the "
                                                                  "config.");
            latch_error_detail(err, "%s %s: validate_config returned %d%s%s", p->info.id,
                               p->info.version, st, ctx.problem[0] ? ": " : "", ctx.problem);
            goto out;
        }
    }
    rc = LATCH_OK;
out:
    ctx_clear(&ctx);
    return rc;
}

/* ---- factory JSON (Logto's connector factory) ---- */

static void json_i18n(struct latch_json *j, const struct latch_connector_i18n *t)
{
    latch_json_begin_object(j);
    for (int i = 0; t != NULL && i < PLUGIN_MAX_I18N && t[i].lang != NULL; i++) {
        latch_json_key(j, t[i].lang);
        latch_json_string(j, t[i].text);
    }
    latch_json_end_object(j);
}

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    return s;
}

/* A logo as Logto serves it: a data: URI (an SVG document is encoded) or a URL as is. */
static void json_logo(struct latch_json *j, const char *logo)
{
    if (logo == NULL || logo[0] == '\0') {
        latch_json_null(j);
        return;
    }
    if (*skip_space(logo) != '<') {
        latch_json_string(j, logo);
        return;
    }
    static const char prefix[] = "data:image/svg+xml;base64,";
    size_t n = strlen(logo);
    size_t cap = sizeof(prefix) + latch_base64_encoded_len(n);
    char *uri = n < SIZE_MAX / 2 ? malloc(cap) : NULL;
    if (uri == NULL) {
        j->failed = true;
        return;
    }
    memcpy(uri, prefix, sizeof(prefix) - 1);
    if (latch_base64_encode((const uint8_t *)logo, n, uri + sizeof(prefix) - 1,
                            cap - (sizeof(prefix) - 1)) < 0)
        j->failed = true;
    else
        latch_json_string(j, uri);
    free(uri);
}

static void json_default(struct latch_json *j, const struct latch_connector_field *f)
{
    switch (f->type) {
    case LATCH_CONNECTOR_FIELD_NUMBER:
    case LATCH_CONNECTOR_FIELD_SWITCH:
    case LATCH_CONNECTOR_FIELD_JSON:
        /* Checked at load: valid JSON of the field's type. */
        latch_json_raw(j, f->default_value, strlen(f->default_value));
        break;
    default:
        latch_json_string(j, f->default_value);
        break;
    }
}

const char *latch_plugin_kind_type(int kind)
{
    switch (kind) {
    case LATCH_CONNECTOR_SOCIAL:
        return "Social";
    case LATCH_CONNECTOR_EMAIL:
        return "Email";
    case LATCH_CONNECTOR_SMS:
        return "Sms";
    default:
        return NULL;
    }
}

char *latch_plugin_factory_json(const struct latch_plugin *p)
{
    static const char *const types[] = {"Text",   "Text",   "MultilineText",
                                        "Number", "Switch", "Json"};
    const struct latch_connector_descriptor *d = &p->desc;
    struct latch_json j;

    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "id");
    latch_json_string(&j, d->id);
    latch_json_key(&j, "target");
    latch_json_string(&j, d->target);
    /* Latch's additions to Logto's shape: which loaded file serves this factory. */
    latch_json_key(&j, "version");
    latch_json_string(&j, p->info.version);
    latch_json_key(&j, "abiVersion");
    char abi[16];
    snprintf(abi, sizeof(abi), "%u.%u", (unsigned)p->info.abi_major, (unsigned)p->info.abi_minor);
    latch_json_string(&j, abi);
    latch_json_key(&j, "sha256");
    latch_json_string(&j, p->info.sha256);
    /* Logto's ConnectorType; its email and SMS connectors have no platform. */
    latch_json_key(&j, "type");
    latch_json_string(&j, latch_plugin_kind_type((int)d->kind));
    latch_json_key(&j, "platform");
    if (d->kind == LATCH_CONNECTOR_SOCIAL)
        latch_json_string(&j, "Universal");
    else
        latch_json_null(&j);
    latch_json_key(&j, "name");
    json_i18n(&j, d->name);
    latch_json_key(&j, "description");
    json_i18n(&j, d->description);
    latch_json_key(&j, "logo");
    json_logo(&j, d->logo);
    latch_json_key(&j, "logoDark");
    json_logo(&j, d->logo_dark);
    latch_json_key(&j, "readme");
    latch_json_string(&j, d->readme != NULL ? d->readme : "");
    if (d->config_template != NULL) {
        latch_json_key(&j, "configTemplate");
        latch_json_string(&j, d->config_template);
    }
    latch_json_key(&j, "formItems");
    latch_json_begin_array(&j);
    for (size_t i = 0; i < d->nfields; i++) {
        const struct latch_connector_field *f = &p->fields[i];
        const char *desc = latch_plugin_text_en(f->description);
        latch_json_begin_object(&j);
        latch_json_key(&j, "key");
        latch_json_string(&j, f->key);
        latch_json_key(&j, "type");
        latch_json_string(&j, types[f->type <= LATCH_CONNECTOR_FIELD_JSON ? f->type : 0]);
        latch_json_key(&j, "label");
        latch_json_string(&j, latch_plugin_text_en(f->label));
        latch_json_key(&j, "required");
        latch_json_bool(&j, f->required != 0);
        latch_json_key(&j, "isConfidential");
        latch_json_bool(&j, f->confidential != 0);
        if (f->default_value != NULL) {
            latch_json_key(&j, "defaultValue");
            json_default(&j, f);
        }
        if (desc != NULL) {
            latch_json_key(&j, "description");
            latch_json_string(&j, desc);
        }
        latch_json_end_object(&j);
    }
    latch_json_end_array(&j);
    latch_json_key(&j, "isStandard");
    latch_json_bool(&j, (d->flags & LATCH_CONNECTOR_FLAG_STANDARD) != 0);
    latch_json_end_object(&j);
    return latch_json_take(&j, NULL);
}
