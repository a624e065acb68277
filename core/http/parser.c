/*
 * HTTP/1.1 request-head parsing and chunked decoding; see parser.h.
 *
 * Strict where laxness enables request smuggling (both Content-Length and Transfer-Encoding,
 * conflicting Content-Length values, obsolete line folding, bare CR), tolerant where RFC 9112
 * asks recipients to be (optional whitespace around header values).
 */
#include "http/parser.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "util/hex.h"
#include "util/percent.h"

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
    if (isalnum(c))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static enum latch_http_method method_from(const char *m, size_t n)
{
    static const struct {
        const char *name;
        enum latch_http_method method;
    } methods[] = {
        {"GET", LATCH_HTTP_GET},         {"HEAD", LATCH_HTTP_HEAD},   {"POST", LATCH_HTTP_POST},
        {"PUT", LATCH_HTTP_PUT},         {"PATCH", LATCH_HTTP_PATCH}, {"DELETE", LATCH_HTTP_DELETE},
        {"OPTIONS", LATCH_HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == n && memcmp(methods[i].name, m, n) == 0)
            return methods[i].method;
    return LATCH_HTTP_OTHER;
}

/* Token list contains `want` (case-insensitive), as in "Connection: keep-alive, Upgrade". */
static bool token_list_has(const char *value, const char *want)
{
    size_t wl = strlen(want);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == wl && strncasecmp(start, want, wl) == 0)
            return true;
    }
    return false;
}

static latch_rc parse_request_line(struct latch_request *req, const char *line, size_t len,
                                   struct latch_error *err)
{
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line)
        return latch_error_set(err, 400, "http.bad_request", "Malformed request line.");
    size_t mlen = (size_t)(sp1 - line);
    for (size_t i = 0; i < mlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return latch_error_set(err, 400, "http.bad_request", "Malformed request method.");

    const char *target = sp1 + 1;
    const char *end = line + len;
    const char *sp2 = memchr(target, ' ', (size_t)(end - target));
    if (sp2 == NULL || sp2 == target)
        return latch_error_set(err, 400, "http.bad_request", "Malformed request line.");
    size_t tlen = (size_t)(sp2 - target);

    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(end - ver);
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) ||
        ver[6] != '.' || !isdigit((unsigned char)ver[7]))
        return latch_error_set(err, 400, "http.bad_request", "Malformed HTTP version.");
    if (ver[5] != '1')
        return latch_error_set(err, 505, "http.version_not_supported",
                               "Only HTTP/1.0 and HTTP/1.1 are supported.");
    req->minor_version = ver[7] - '0';

    for (size_t i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= 0x20 || c >= 0x7f)
            return latch_error_set(err, 400, "http.bad_request", "Malformed request target.");
    }

    req->method_text = latch_arena_strndup(req->arena, line, mlen);
    req->target = latch_arena_strndup(req->arena, target, tlen);
    if (req->method_text == NULL || req->target == NULL)
        return latch_error_set(err, 431, "http.header_too_large", "Request head too large.");
    req->method = method_from(line, mlen);

    /* origin-form, or absolute-form which a server must accept (RFC 9112 §3.2.2). */
    const char *p = target;
    const char *tend = target + tlen;
    size_t scheme = 0;
    if (tlen >= 7 && strncasecmp(p, "http://", 7) == 0)
        scheme = 7;
    else if (tlen >= 8 && strncasecmp(p, "https://", 8) == 0)
        scheme = 8;
    if (scheme > 0) {
        const char *authority = p + scheme;
        p = memchr(authority, '/', (size_t)(tend - authority));
        if (p == NULL) {
            p = "/";
            tend = p + 1;
        }
    } else if (tlen == 1 && *p == '*' && req->method == LATCH_HTTP_OPTIONS) {
        /* asterisk-form: no path to route */
    } else if (*p != '/') {
        return latch_error_set(err, 400, "http.bad_request", "Malformed request target.");
    }

    const char *q = memchr(p, '?', (size_t)(tend - p));
    const char *pend = q ? q : tend;
    /* The fragment is never sent by conforming clients; drop it if present. */
    const char *hash = memchr(p, '#', (size_t)(tend - p));
    if (hash != NULL && hash < pend)
        pend = hash;
    size_t plen = (size_t)(pend - p);
    char *raw = latch_arena_strndup(req->arena, p, plen);
    char *decoded = latch_arena_alloc(req->arena, plen + 1);
    if (raw == NULL || decoded == NULL)
        return latch_error_set(err, 431, "http.header_too_large", "Request head too large.");
    if (latch_percent_decode(decoded, p, plen) < 0)
        return latch_error_set(err, 400, "http.bad_request", "Malformed percent-encoding in path.");
    req->raw_path = raw;
    req->path = decoded;
    if (q != NULL) {
        const char *qend = (hash != NULL && hash > q) ? hash : tend;
        req->query = latch_arena_strndup(req->arena, q + 1, (size_t)(qend - q - 1));
    } else {
        req->query = "";
    }
    if (req->query == NULL)
        return latch_error_set(err, 431, "http.header_too_large", "Request head too large.");
    return LATCH_OK;
}

/* Parses a decimal Content-Length without sign, spaces or overflow. */
static bool parse_length(const char *v, size_t *out)
{
    if (*v == '\0')
        return false;
    size_t n = 0;
    for (const char *p = v; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (n > (SIZE_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

latch_rc latch_http_parse_head(struct latch_request *req, const char *buf, size_t len,
                               struct latch_http_head_info *info, struct latch_error *err)
{
    memset(info, 0, sizeof(*info));
    const char *end = buf + len;

    /* RFC 9112 §2.2: ignore at least one empty line before the request line. */
    while (end - buf >= 2 && buf[0] == '\r' && buf[1] == '\n')
        buf += 2;

    const char *eol = memchr(buf, '\n', (size_t)(end - buf));
    if (eol == NULL || eol == buf || eol[-1] != '\r')
        return latch_error_set(err, 400, "http.bad_request", "Malformed request line.");
    if (parse_request_line(req, buf, (size_t)(eol - 1 - buf), err) != LATCH_OK)
        return LATCH_FAIL;

    bool seen_host = false, seen_cl = false, seen_te = false;
    bool conn_close = false, conn_keep_alive = false;
    const char *p = eol + 1;
    for (;;) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL || eol[-1] != '\r' || eol - 1 < p)
            return latch_error_set(err, 400, "http.bad_request", "Malformed header line.");
        const char *lend = eol - 1;
        if (lend == p)
            break; /* the empty line */
        if (*p == ' ' || *p == '\t')
            return latch_error_set(err, 400, "http.bad_request",
                                   "Obsolete header line folding is not accepted.");
        const char *colon = memchr(p, ':', (size_t)(lend - p));
        if (colon == NULL || colon == p)
            return latch_error_set(err, 400, "http.bad_request", "Malformed header line.");
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return latch_error_set(err, 400, "http.bad_request", "Malformed header name.");
        const char *v = colon + 1;
        while (v < lend && (*v == ' ' || *v == '\t'))
            v++;
        const char *vend = lend;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        for (const char *c = v; c < vend; c++) {
            unsigned char ch = (unsigned char)*c;
            if (ch == '\0' || ch == '\r' || ch == '\n' || (ch < 0x20 && ch != '\t') || ch == 0x7f)
                return latch_error_set(err, 400, "http.bad_request", "Malformed header value.");
        }
        if (req->nheaders >= LATCH_HTTP_MAX_HEADERS)
            return latch_error_set(err, 431, "http.header_too_large",
                                   "Too many request header fields.");
        const char *name = latch_arena_strndup(req->arena, p, (size_t)(colon - p));
        const char *value = latch_arena_strndup(req->arena, v, (size_t)(vend - v));
        if (name == NULL || value == NULL)
            return latch_error_set(err, 431, "http.header_too_large", "Request head too large.");
        req->headers[req->nheaders].name = name;
        req->headers[req->nheaders].value = value;
        req->nheaders++;

        if (strcasecmp(name, "host") == 0) {
            if (seen_host)
                return latch_error_set(err, 400, "http.bad_request", "Duplicate Host header.");
            seen_host = true;
        } else if (strcasecmp(name, "content-length") == 0) {
            size_t n;
            if (!parse_length(value, &n))
                return latch_error_set(err, 400, "http.bad_request", "Invalid Content-Length.");
            if (seen_cl && n != info->content_length)
                return latch_error_set(err, 400, "http.bad_request",
                                       "Conflicting Content-Length headers.");
            seen_cl = true;
            info->has_content_length = true;
            info->content_length = n;
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            if (seen_te || strcasecmp(value, "chunked") != 0)
                return latch_error_set(err, 501, "http.not_implemented",
                                       "Only Transfer-Encoding: chunked is supported.");
            seen_te = true;
            info->chunked = true;
        } else if (strcasecmp(name, "connection") == 0) {
            conn_close |= token_list_has(value, "close");
            conn_keep_alive |= token_list_has(value, "keep-alive");
        } else if (strcasecmp(name, "expect") == 0) {
            if (strcasecmp(value, "100-continue") != 0)
                return latch_error_set(err, 417, "http.expectation_failed",
                                       "Unsupported Expect header.");
            info->expect_continue = true;
        }
        p = eol + 1;
    }
    if (seen_cl && seen_te)
        return latch_error_set(err, 400, "http.bad_request",
                               "Content-Length and Transfer-Encoding together are not accepted.");
    if (req->minor_version >= 1 && !seen_host)
        return latch_error_set(err, 400, "http.bad_request", "Missing Host header.");
    if (req->minor_version >= 1)
        info->keep_alive = !conn_close;
    else
        info->keep_alive = conn_keep_alive && !conn_close;
    if (req->minor_version == 0 && info->chunked)
        return latch_error_set(err, 400, "http.bad_request", "Chunked encoding needs HTTP/1.1.");
    return LATCH_OK;
}

int latch_chunked_feed(struct latch_chunked *ck, const char *in, size_t len, size_t *consumed,
                       size_t max_body, void (*append)(void *out_arg, const char *data, size_t n),
                       void *out_arg, struct latch_error *err)
{
    size_t i = 0;
    while (i < len && ck->state != LATCH_CHUNKED_DONE) {
        switch (ck->state) {
        case LATCH_CHUNKED_SIZE: {
            const char *nl = memchr(in + i, '\n', len - i);
            if (nl == NULL) {
                if (len - i > 1024)
                    goto bad;
                goto more;
            }
            size_t llen = (size_t)(nl - (in + i));
            /* The same bound whether the line came in one read or several (found by
             * tests/fuzz/fuzz_chunked: a long extension passed when it arrived whole). */
            if (llen == 0 || llen > 1024 || in[i + llen - 1] != '\r')
                goto bad;
            size_t n = 0, digits = 0;
            size_t k = i;
            for (; k < i + llen - 1; k++) {
                int h = latch_hex_digit((unsigned char)in[k]);
                if (h < 0)
                    break;
                if (++digits > 15)
                    goto bad;
                n = n * 16 + (size_t)h;
            }
            /* chunk extensions (";name=value") are allowed and ignored */
            if (digits == 0 || (k < i + llen - 1 && in[k] != ';' && in[k] != ' ' && in[k] != '\t'))
                goto bad;
            i += llen + 1;
            if (n == 0) {
                ck->state = LATCH_CHUNKED_TRAILER;
            } else {
                if (n > max_body || ck->total > max_body - n) {
                    latch_error_set(err, 413, "http.payload_too_large",
                                    "Request body exceeds %zu bytes.", max_body);
                    *consumed = i;
                    return -1;
                }
                ck->remaining = n;
                ck->state = LATCH_CHUNKED_DATA;
            }
            break;
        }
        case LATCH_CHUNKED_DATA: {
            size_t take = len - i < ck->remaining ? len - i : ck->remaining;
            append(out_arg, in + i, take);
            ck->total += take;
            ck->remaining -= take;
            i += take;
            if (ck->remaining == 0)
                ck->state = LATCH_CHUNKED_DATA_CRLF;
            break;
        }
        case LATCH_CHUNKED_DATA_CRLF:
            if (len - i < 2)
                goto more;
            if (in[i] != '\r' || in[i + 1] != '\n')
                goto bad;
            i += 2;
            ck->state = LATCH_CHUNKED_SIZE;
            break;
        case LATCH_CHUNKED_TRAILER: {
            const char *nl = memchr(in + i, '\n', len - i);
            if (nl == NULL) {
                if (len - i > 8192)
                    goto bad;
                goto more;
            }
            size_t llen = (size_t)(nl - (in + i));
            if (llen == 0 || llen > 8192 || in[i + llen - 1] != '\r')
                goto bad;
            i += llen + 1;
            if (llen == 1)
                ck->state = LATCH_CHUNKED_DONE; /* trailer fields are ignored */
            break;
        }
        case LATCH_CHUNKED_DONE:
            break;
        }
    }
more:
    *consumed = i;
    return ck->state == LATCH_CHUNKED_DONE ? 1 : 0;
bad:
    *consumed = i;
    latch_error_set(err, 400, "http.bad_request", "Malformed chunked request body.");
    return -1;
}
