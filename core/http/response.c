/*
 * Writing answers and the access log; see http.h. Every answer goes through conn_finish(),
 * which writes status line, headers and body into the connection's output buffer, logs one
 * access line, and hands the connection back to server.c.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/server_internal.h"
#include "metrics/metrics.h"
#include "tenants/cache.h"
#include "util/json.h"
#include "util/log.h"

uint64_t latch_http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 400 ? "OK" : "Error";
    }
}

static const char *http_date(struct latch_loop *loop)
{
    time_t now = time(NULL);
    if (now != loop->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(loop->date, sizeof(loop->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        loop->date_sec = now;
    }
    return loop->date;
}

void latch_http_add_header(struct latch_request *req, const char *name, const char *value)
{
    struct conn *c = req->priv;
    struct resp_header *h = latch_arena_alloc(req->arena, sizeof(*h));
    if (h == NULL)
        return;
    h->name = latch_arena_strdup(req->arena, name);
    h->value = latch_arena_strdup(req->arena, value);
    if (h->name == NULL || h->value == NULL)
        return;
    /* Header values we emit must never carry CR or LF (response splitting). */
    if (strpbrk(h->value, "\r\n") != NULL || strpbrk(h->name, "\r\n: ") != NULL)
        return;
    h->next = c->resp_headers;
    c->resp_headers = h;
    if (strcasecmp(name, "cache-control") == 0)
        c->has_cache_control = true;
}

static bool has_header(const struct conn *c, const char *name)
{
    for (const struct resp_header *h = c->resp_headers; h != NULL; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return true;
    return false;
}

static void access_log(struct conn *c, int status)
{
    if (!latch_log_enabled(LATCH_LOG_INFO))
        return; /* access lines are info lines: LATCH_LOG_LEVEL=warn turns them off */
    struct latch_request *req = c->req;
    char line[1536];
    char ts[40];
    latch_log_timestamp(ts, sizeof(ts));
    double ms = (double)(latch_http_now_ns() - c->start_ns) / 1e6;
    size_t n = (size_t)snprintf(line, sizeof(line),
                                "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"request\","
                                "\"requestId\":\"",
                                ts);
    n = latch_log_json_escape(line, n, sizeof(line), req->request_id, strlen(req->request_id));
    n += (size_t)snprintf(line + n, n < sizeof(line) ? sizeof(line) - n : 0, "\",\"tenant\":");
    if (req->tenant_id != NULL && n < sizeof(line)) {
        line[n++] = '"';
        n = latch_log_json_escape(line, n, sizeof(line), req->tenant_id, strlen(req->tenant_id));
        if (n < sizeof(line))
            line[n++] = '"';
    } else if (n + 4 < sizeof(line)) {
        memcpy(line + n, "null", 4);
        n += 4;
    }
    if (n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"method\":\"");
    if (n < sizeof(line))
        n = latch_log_json_escape(line, n, sizeof(line), req->method_text,
                                  strlen(req->method_text));
    if (n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"path\":\"");
    /* The path only: query strings carry codes and tokens, and never reach the log. */
    size_t plen = strlen(req->raw_path);
    if (plen > 512)
        plen = 512;
    if (n < sizeof(line))
        n = latch_log_json_escape(line, n, sizeof(line), req->raw_path, plen);
    if (n < sizeof(line))
        n += (size_t)snprintf(line + n, sizeof(line) - n,
                              "\",\"status\":%d,\"durationMs\":%.3f,\"ip\":\"%s\"}", status, ms,
                              req->client_ip);
    if (n >= sizeof(line))
        n = sizeof(line) - 1; /* cut, never overflow */
    latch_log_raw_line(line, n);
}

void latch_http_conn_finish(struct conn *c, int status, const char *content_type, const char *body,
                            size_t len)
{
    struct latch_request *req = c->req;
    if (c->responded) {
        latch_http_log(req, LATCH_LOG_ERROR, "request answered twice");
        return;
    }
    c->responded = true;
    if (req->on_answer != NULL)
        req->on_answer(req, status, body, len, req->on_answer_arg);
    if (req->changes_tenant && req->tenant_id != NULL && status >= 200 && status < 300)
        latch_tenant_epoch_bump(req->tenant_id); /* read-your-writes on this node */
    /* Draining: every answer closes its connection, so that the load balancer's reused
     * connections move to other nodes before this one stops accepting. */
    bool keep = c->info.keep_alive && !c->loop->stopping && !latch_loop_is_draining(c->loop);
    if (c->bev != NULL) {
        struct evbuffer *out = bufferevent_get_output(c->bev);
        evbuffer_add_printf(out,
                            "HTTP/1.1 %d %s\r\nDate: %s\r\nX-Request-Id: %s\r\n"
                            "X-Content-Type-Options: nosniff\r\n",
                            status, reason(status), http_date(c->loop), req->request_id);
        if (!c->has_cache_control)
            evbuffer_add(out, "Cache-Control: no-store\r\n", 25);
        /* HSTS (RFC 6797) whenever the public URL is https, even on a response this node sends
         * over plain http behind a TLS-terminating proxy: the browser only honours it over TLS. */
        if (c->loop->srv->cfg->public_https) {
            static const char hsts[] =
                "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n";
            evbuffer_add(out, hsts, sizeof(hsts) - 1);
        }
        for (struct resp_header *h = c->resp_headers; h != NULL; h = h->next)
            evbuffer_add_printf(out, "%s: %s\r\n", h->name, h->value);
        if (status == 503 && !has_header(c, "retry-after")) {
            static const char retry[] = "Retry-After: 1\r\n"; /* outages and overload are brief */
            evbuffer_add(out, retry, sizeof(retry) - 1);
        }
        if (content_type != NULL)
            evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
        if (status != 204 && status != 304)
            evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
        if (!keep)
            evbuffer_add(out, "Connection: close\r\n", 19);
        else if (req->minor_version == 0)
            evbuffer_add(out, "Connection: keep-alive\r\n", 24);
        evbuffer_add(out, "\r\n", 2);
        if (req->method != LATCH_HTTP_HEAD && status != 204 && status != 304 && len > 0)
            evbuffer_add(out, body, len);
    }
    c->info.keep_alive = keep;
    /* The route class of the matched pattern; req->route is NULL when nothing matched. */
    latch_metrics_http_request(req->route != NULL ? req->route->metrics_route
                                                  : LATCH_METRICS_ROUTE_UNMATCHED,
                               status, latch_http_now_ns() - c->start_ns);
    access_log(c, status);
    latch_http_conn_request_done(c);
}

void latch_http_respond(struct latch_request *req, int status, const char *content_type,
                        const char *body, size_t len)
{
    latch_http_conn_finish(req->priv, status, content_type, body, len);
}

void latch_http_respond_json(struct latch_request *req, int status, const char *json, size_t len)
{
    latch_http_conn_finish(req->priv, status, "application/json; charset=utf-8", json, len);
}

bool latch_http_is_sqlstate(const char *code)
{
    size_t i = 0;
    for (; code[i] != '\0'; i++)
        if (i == 5 || !((code[i] >= '0' && code[i] <= '9') || (code[i] >= 'A' && code[i] <= 'Z')))
            return false;
    return i == 5;
}

void latch_http_respond_error(struct latch_request *req, const struct latch_error *err)
{
    char buf[1024];
    int status = err->status >= 400 && err->status <= 599 ? err->status : 500;
    const char *code = err->code[0] ? err->code : "server_error";
    const char *message = err->message[0] ? err->message : "Internal error.";
    /* A store error nobody mapped carries PostgreSQL's SQLSTATE as its code: that names our
     * schema's failure modes and means nothing to a client. The log has it (err->detail). */
    if (latch_http_is_sqlstate(code))
        code = status >= 500 ? "server_error" : "invalid_request";
    if (status >= 500 && status != 503)
        message = "Internal error."; /* details of our failures stay in the log */
    size_t n = (size_t)snprintf(buf, sizeof(buf), "{\"code\":\"");
    n = latch_log_json_escape(buf, n, sizeof(buf), code, strlen(code));
    if (n < sizeof(buf))
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\",\"message\":\"");
    if (n < sizeof(buf))
        n = latch_log_json_escape(buf, n, sizeof(buf), message, strlen(message));
    if (n + 3 > sizeof(buf)) {
        n = (size_t)snprintf(buf, sizeof(buf), "{\"code\":\"server_error\",\"message\":\"\"}");
    } else {
        buf[n++] = '"';
        buf[n++] = '}';
    }
    latch_http_respond_json(req, status, buf, n);
}

void latch_http_respond_oauth_error(struct latch_request *req, int status, const char *error,
                                    const char *description)
{
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "error");
    latch_json_string(&j, error);
    latch_json_key(&j, "error_description");
    latch_json_string(&j, description);
    latch_json_end_object(&j);
    size_t len = 0;
    char *body = latch_json_take(&j, &len);
    latch_http_add_header(req, "Pragma", "no-cache");
    if (body == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, status, body, len);
    free(body);
}

/* The tenant a line names: the one the request's path named (also for an unknown tenant, as
 * the access log does), else the resolved tenant's id, else none. */
static const char *log_tenant(const struct latch_request *req)
{
    if (req->tenant_id != NULL)
        return req->tenant_id;
    return req->tenant != NULL ? req->tenant->id : NULL;
}

void latch_http_log(const struct latch_request *req, enum latch_log_level level, const char *fmt,
                    ...)
{
    va_list ap;
    va_start(ap, fmt);
    latch_log_request_v(level, req->request_id, log_tenant(req), fmt, ap);
    va_end(ap);
}

void latch_http_log_error(const struct latch_request *req, const char *what,
                          const struct latch_error *err)
{
    latch_log_request_error(req->request_id, log_tenant(req), what, err);
}

void latch_http_respond_errorf(struct latch_request *req, int status, const char *code,
                               const char *fmt, ...)
{
    struct latch_error err;
    latch_error_set(&err, status, code, "%s", "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);
    latch_http_respond_error(req, &err);
}
