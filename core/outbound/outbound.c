/*
 * Outbound HTTPS requests on libcurl (see outbound.h). The options are set once at start-up and
 * read-only afterwards; each thread that makes requests keeps one easy handle (reset before each
 * request, so nothing of a previous request's options survives, while its connection and TLS
 * session caches do), freed when the thread exits. A new latch_outbound_init() bumps a
 * generation number so handles made under older options are replaced rather than reused.
 */
#include "outbound/outbound.h"
#include "outbound/outbound_internal.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/log.h"

#define USER_AGENT        "Latch/" LATCH_VERSION
#define INITIAL_BODY_SIZE 4096
#define HEADER_LINE_MAX   8192
/* Connecting never takes long to a healthy upstream; the rest of the timeout is for answers. */
#define CONNECT_TIMEOUT_MAX_MS 3000

/* Node-wide options: written by init and shutdown only, when no request is under way. */
static struct {
    bool ready;
    char *ca_file;
    struct curl_slist *connect_to;
    size_t max_bytes;
    unsigned generation;
    /* the address policy */
    bool allow_all; /* LATCH_OUTBOUND_ALLOW_PRIVATE=all */
    bool proxied;   /* a proxy resolves the names of HTTPS requests (not of SMTP's) */
    struct latch_cidr allow[LATCH_CONFIG_MAX_PROXIES + LATCH_OUTBOUND_MAX_CONNECT_TO];
    int nallow;
} g;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t handle_key;
static bool key_ok;

/* A thread's cached handle and the option generation it was made under. */
struct thread_handle {
    CURL *curl;
    unsigned generation;
};

/* The response body being received, capped at max bytes. */
struct sink {
    char *buf;
    size_t len;
    size_t cap;
    size_t max;
    bool too_big;
};

static void thread_handle_free(void *arg)
{
    struct thread_handle *th = arg;

    if (th == NULL)
        return;
    if (th->curl != NULL)
        curl_easy_cleanup(th->curl);
    free(th);
}

static void key_create(void)
{
    key_ok = pthread_key_create(&handle_key, thread_handle_free) == 0;
}

/* The calling thread's handle, reset for a new request; NULL when out of memory. */
static CURL *thread_curl(void)
{
    struct thread_handle *th = pthread_getspecific(handle_key);

    if (th != NULL && th->generation != g.generation) {
        curl_easy_cleanup(th->curl);
        th->curl = NULL;
    }
    if (th == NULL) {
        th = calloc(1, sizeof(*th));
        if (th == NULL)
            return NULL;
        if (pthread_setspecific(handle_key, th) != 0) {
            free(th);
            return NULL;
        }
    }
    if (th->curl == NULL) {
        th->curl = curl_easy_init();
        th->generation = g.generation;
        return th->curl;
    }
    curl_easy_reset(th->curl);
    return th->curl;
}

static void options_free(void)
{
    free(g.ca_file);
    g.ca_file = NULL;
    curl_slist_free_all(g.connect_to);
    g.connect_to = NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- the address policy ---- */

static bool in_prefix(const uint8_t *a, const uint8_t *net, int bits)
{
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (net[i] & mask))
            return false;
    }
    return true;
}

static bool v4_public(const uint8_t v4[4])
{
    static const struct {
        uint8_t net[4];
        int bits;
    } denied[] = {
        {{0, 0, 0, 0}, 8},       /* "this" network */
        {{10, 0, 0, 0}, 8},      /* private */
        {{100, 64, 0, 0}, 10},   /* shared (carrier-grade NAT) */
        {{127, 0, 0, 0}, 8},     /* loopback */
        {{169, 254, 0, 0}, 16},  /* link-local (cloud metadata services live here) */
        {{172, 16, 0, 0}, 12},   /* private */
        {{192, 0, 0, 0}, 24},    /* IETF protocol assignments */
        {{192, 0, 2, 0}, 24},    /* documentation */
        {{192, 88, 99, 0}, 24},  /* 6to4 relays */
        {{192, 168, 0, 0}, 16},  /* private */
        {{198, 18, 0, 0}, 15},   /* benchmarking */
        {{198, 51, 100, 0}, 24}, /* documentation */
        {{203, 0, 113, 0}, 24},  /* documentation */
        {{224, 0, 0, 0}, 4},     /* multicast */
        {{240, 0, 0, 0}, 4},     /* reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if (in_prefix(v4, denied[i].net, denied[i].bits))
            return false;
    return true;
}

bool latch_outbound_address_public(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t zero[16] = {0};
    static const struct {
        uint8_t net[16];
        int bits;
    } denied[] = {
        {{0}, 96},                         /* ::, ::1, IPv4-compatible (deprecated) */
        {{0, 0x64, 0xff, 0x9b, 0, 1}, 48}, /* local-use NAT64 */
        {{0x01, 0x00}, 64},                /* discard-only */
        {{0x20, 0x01, 0x00, 0x00}, 23},    /* IETF protocol assignments (Teredo, ORCHID) */
        {{0x20, 0x01, 0x0d, 0xb8}, 32},    /* documentation */
        {{0xfc}, 7},                       /* unique local */
        {{0xfe, 0x80}, 10},                /* link-local */
        {{0xfe, 0xc0}, 10},                /* site-local (deprecated) */
        {{0xff}, 8},                       /* multicast */
    };
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_public(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: the IPv4 address is bytes 2..5 */
        return v4_public(a + 2);
    if (memcmp(a, zero, 16) == 0)
        return false;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if (in_prefix(a, denied[i].net, denied[i].bits))
            return false;
    return true;
}

/* direct: the connection goes to a, never through a proxy (SMTP), so the proxy's policy does
 * not stand in for ours. */
static bool address_allowed(const uint8_t a[16], bool direct)
{
    return g.allow_all || (g.proxied && !direct) || latch_outbound_address_public(a) ||
           latch_cidr_contains(g.allow, g.nallow, a);
}

/* The connect-host of a connect-to entry ("host:port:connect-host:connect-port"), when it is an
 * address, joins the allowed networks: the operator pointed that name there on purpose. */
static void allow_connect_host(const char *entry)
{
    const char *p = strchr(entry, ':');
    p = p != NULL ? strchr(p + 1, ':') : NULL;
    const char *end = p != NULL ? strrchr(entry, ':') : NULL;
    if (p == NULL || end == NULL || end <= p + 1 ||
        g.nallow >= (int)(sizeof(g.allow) / sizeof(g.allow[0])))
        return;
    char host[INET6_ADDRSTRLEN + 2];
    size_t n = (size_t)(end - (p + 1));
    if (n >= sizeof(host))
        return;
    memcpy(host, p + 1, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (latch_config_parse_cidr(host, &g.allow[g.nallow]) == LATCH_OK)
        g.nallow++;
}

bool latch_outbound_address_loopback(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    if (memcmp(a, mapped, 12) == 0)
        return a[12] == 127;
    return memcmp(a, v6_loopback, 16) == 0;
}

/* libcurl's CURLOPT_OPENSOCKETFUNCTION: the last moment before connecting, on the address
 * libcurl is about to connect to. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct outbound_refusal *r = clientp;
    uint8_t a[16] = {0};
    if (sa->family == AF_INET) {
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &((struct sockaddr_in *)&sa->addr)->sin_addr, 4);
    } else if (sa->family == AF_INET6) {
        memcpy(a, &((struct sockaddr_in6 *)&sa->addr)->sin6_addr, 16);
    } else {
        r->refused = true;
        snprintf(r->ip, sizeof(r->ip), "family %d", sa->family);
        return CURL_SOCKET_BAD;
    }
    bool not_loopback = r->loopback_only && !latch_outbound_address_loopback(a);
    if (not_loopback || !address_allowed(a, r->direct)) {
        r->refused = true;
        r->not_loopback = not_loopback;
        if (sa->family == AF_INET)
            inet_ntop(AF_INET, a + 12, r->ip, sizeof(r->ip));
        else
            inet_ntop(AF_INET6, a, r->ip, sizeof(r->ip));
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype | SOCK_CLOEXEC, sa->protocol);
}

/* Splits the comma-separated list into curl's list. Entries are checked in depth by config/;
 * here only what would make curl misbehave: empty entries and entries without four fields. */
static latch_rc parse_connect_to(const char *list, struct latch_error *err)
{
    const char *p = list;
    int n = 0;

    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *s = p;
        const char *e = end;
        char entry[512];
        int colons = 0;
        struct curl_slist *next;

        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        n++;
        if (s == e || (size_t)(e - s) >= sizeof(entry) || n > LATCH_OUTBOUND_MAX_CONNECT_TO)
            return latch_error_set(err, 0, "config.invalid",
                                   "connect-to entry %d is empty, too long or one too many; "
                                   "expected at most %d entries host:port:connect-host:"
                                   "connect-port",
                                   n, LATCH_OUTBOUND_MAX_CONNECT_TO);
        memcpy(entry, s, (size_t)(e - s));
        entry[e - s] = '\0';
        for (const char *c = entry; *c != '\0'; c++)
            colons += *c == ':';
        if (colons < 3)
            return latch_error_set(err, 0, "config.invalid",
                                   "connect-to entry %d has fewer than four fields; expected "
                                   "host:port:connect-host:connect-port",
                                   n);
        allow_connect_host(entry);
        next = curl_slist_append(g.connect_to, entry);
        if (next == NULL)
            return latch_error_set(err, 0, "config.invalid", "connect-to: out of memory");
        g.connect_to = next;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return LATCH_OK;
}

latch_rc latch_outbound_init(const struct latch_outbound_options *opts, struct latch_error *err)
{
    CURLcode cc;

    if (g.ready)
        return latch_error_set(err, 0, "outbound.init", "outbound HTTP is already initialized");
    pthread_once(&key_once, key_create);
    if (!key_ok)
        return latch_error_set(err, 0, "outbound.init", "outbound HTTP: no thread-local key");
    cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return latch_error_set(err, 0, "outbound.init", "libcurl failed to initialize: %s",
                               curl_easy_strerror(cc));

    g.max_bytes = LATCH_OUTBOUND_DEFAULT_MAX_BYTES;
    if (opts != NULL && opts->max_response_bytes > 0)
        g.max_bytes = opts->max_response_bytes;
    if (opts != NULL && opts->ca_file != NULL && opts->ca_file[0] != '\0') {
        if (access(opts->ca_file, R_OK) != 0) {
            latch_error_set(err, 0, "config.invalid", "CA file %.256s is not readable",
                            opts->ca_file);
            goto fail;
        }
        g.ca_file = strdup(opts->ca_file);
        if (g.ca_file == NULL) {
            latch_error_set(err, 0, "config.invalid", "CA file: out of memory");
            goto fail;
        }
    }
    g.nallow = 0;
    g.allow_all = opts != NULL && opts->allow_private_all;
    for (int i = 0; opts != NULL && i < opts->nallow && i < LATCH_CONFIG_MAX_PROXIES; i++)
        g.allow[g.nallow++] = opts->allow[i];
    if (opts != NULL && opts->connect_to != NULL && opts->connect_to[0] != '\0' &&
        parse_connect_to(opts->connect_to, err) != LATCH_OK)
        goto fail;
    static const char *const proxies[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    g.proxied = false;
    for (size_t i = 0; !g.allow_all && !g.proxied && i < sizeof(proxies) / sizeof(proxies[0]);
         i++) {
        const char *v = getenv(proxies[i]);
        if (v != NULL && v[0] != '\0') {
            /* The proxy resolves the names: what we could check is the proxy's address. */
            g.proxied = true;
            latch_info("outbound requests go through the proxy in %s: which addresses they may "
                       "reach is the proxy's policy",
                       proxies[i]);
        }
    }

    g.generation++;
    g.ready = true;
    return LATCH_OK;
fail:
    options_free();
    curl_global_cleanup();
    return LATCH_FAIL;
}

void latch_outbound_shutdown(void)
{
    if (!g.ready)
        return;
    thread_handle_free(pthread_getspecific(handle_key));
    pthread_setspecific(handle_key, NULL);
    options_free();
    g.ready = false;
    curl_global_cleanup();
}

void latch_outbound_response_clear(struct latch_outbound_response *resp)
{
    if (resp == NULL)
        return;
    /* A token endpoint's answer holds tokens. */
    if (resp->body != NULL)
        explicit_bzero(resp->body, resp->body_len);
    free(resp->body);
    free(resp->content_type);
    memset(resp, 0, sizeof(*resp));
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t len = size * nmemb;

    if (len > s->max - s->len) {
        s->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (s->len + len + 1 > s->cap) {
        size_t cap = s->cap != 0 ? s->cap : INITIAL_BODY_SIZE;
        char *buf;

        while (cap < s->len + len + 1)
            cap *= 2;
        if (cap > s->max + 1)
            cap = s->max + 1;
        buf = realloc(s->buf, cap);
        if (buf == NULL)
            return 0;
        s->buf = buf;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return len;
}

/* RFC 9110 token characters, for header names and methods. */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool valid_header(const struct latch_outbound_header *h)
{
    if (h->name == NULL || h->name[0] == '\0' || h->value == NULL)
        return false;
    for (const char *p = h->name; *p != '\0'; p++)
        if (!is_tchar(*p))
            return false;
    /* CR or LF would let a value smuggle in another header. */
    for (const char *p = h->value; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n')
            return false;
    return strlen(h->name) + strlen(h->value) + 3 < HEADER_LINE_MAX;
}

/* The URL's host, for messages (never the path or query, which may carry secrets). */
static void url_host(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *host = NULL;

    snprintf(out, cap, "?");
    if (u == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        snprintf(out, cap, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
}

/* Checks the URL before libcurl sees it: https only, well formed, bounded. */
static latch_rc check_url(const char *url, struct latch_error *err)
{
    CURLU *u;
    char *scheme = NULL;
    latch_rc rc = LATCH_FAIL;

    if (url == NULL || strlen(url) > LATCH_OUTBOUND_MAX_URL_BYTES)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: no URL or a URL over %d bytes",
                               LATCH_OUTBOUND_MAX_URL_BYTES);
    if (strncasecmp(url, "https://", 8) != 0)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: only https:// URLs are allowed");
    u = curl_url();
    if (u == NULL)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        strcmp(scheme, "https") != 0) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                        "outbound request refused: the URL is not a valid https:// URL");
        goto out;
    }
    rc = LATCH_OK;
out:
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* The host of a URL as an address (16 bytes, IPv4 as ::ffff:a.b.c.d) when it is an IP literal,
 * or "localhost" (and names under it), which resolves to loopback by definition. */
static bool url_literal_address(const char *host, uint8_t a[16])
{
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    struct in_addr v4;

    if (strcasecmp(host, "localhost") == 0 ||
        (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &v4) == 1) {
        memset(a, 0, 10);
        a[10] = a[11] = 0xff;
        memcpy(a + 12, &v4, 4);
        return true;
    }
    if (n < 2 || n - 2 >= sizeof(buf) || host[0] != '[' || host[n - 1] != ']')
        return false;
    memcpy(buf, host + 1, n - 2);
    buf[n - 2] = '\0';
    char *zone = strchr(buf, '%');
    if (zone != NULL)
        *zone = '\0';
    return inet_pton(AF_INET6, buf, a) == 1;
}

latch_rc latch_outbound_url_check(const char *url, struct latch_error *err)
{
    if (check_url(url, err) != LATCH_OK)
        return LATCH_FAIL;
    CURLU *u = curl_url();
    char *host = NULL;
    uint8_t a[16];
    latch_rc rc = LATCH_FAIL;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        latch_error_set(err, 400, LATCH_OUTBOUND_ERR_GENERAL, "the URL has no host");
        goto out;
    }
    if (url_literal_address(host, a) && !address_allowed(a, true)) {
        latch_error_set(err, 400, LATCH_OUTBOUND_ERR_ADDRESS,
                        "the URL points at a loopback, private or reserved address, which the "
                        "operator does not allow (LATCH_OUTBOUND_ALLOW_PRIVATE)");
        goto out;
    }
    rc = LATCH_OK;
out:
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

static bool valid_method(const char *m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i]) == 0)
            return true;
    return false;
}

/* Header lines carry credentials (Authorization): wiped before they are freed. */
static void headers_free(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l != NULL; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

/* Builds curl's header list, adding "Expect:" unless the caller set Expect. */
static latch_rc build_headers(const struct latch_outbound_request *req, struct curl_slist **out,
                              struct latch_error *err)
{
    struct curl_slist *list = NULL;
    bool expect_set = false;
    char line[HEADER_LINE_MAX];

    *out = NULL;
    if (req->nheaders > LATCH_OUTBOUND_MAX_HEADERS || (req->nheaders > 0 && req->headers == NULL))
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: more than %d headers",
                               LATCH_OUTBOUND_MAX_HEADERS);
    for (size_t i = 0; i < req->nheaders; i++) {
        const struct latch_outbound_header *h = &req->headers[i];
        struct curl_slist *next;
        int n = -1;

        if (valid_header(h)) {
            /* "Name;" is curl's spelling of a header with an empty value. */
            if (h->value[0] == '\0')
                n = snprintf(line, sizeof(line), "%s;", h->name);
            else
                n = snprintf(line, sizeof(line), "%s: %s", h->name, h->value);
        }
        if (n < 0 || (size_t)n >= sizeof(line)) {
            headers_free(list);
            explicit_bzero(line, sizeof(line));
            return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                                   "outbound request refused: header %zu is malformed", i);
        }
        if (strcasecmp(h->name, "Expect") == 0)
            expect_set = true;
        next = curl_slist_append(list, line);
        if (next == NULL) {
            headers_free(list);
            explicit_bzero(line, sizeof(line));
            return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                                   "outbound request: out of memory");
        }
        list = next;
    }
    /* curl waits up to a second for "100 Continue" before sending a larger body: not worth it
     * for the small forms connectors post. */
    if (!expect_set) {
        struct curl_slist *next = curl_slist_append(list, "Expect:");
        if (next == NULL) {
            headers_free(list);
            explicit_bzero(line, sizeof(line));
            return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                                   "outbound request: out of memory");
        }
        list = next;
    }
    *out = list;
    explicit_bzero(line, sizeof(line));
    return LATCH_OK;
}

long outbound_elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

bool outbound_ready(void)
{
    return g.ready;
}

CURLcode outbound_connection_options(CURL *curl, uint32_t timeout_ms, struct outbound_refusal *r,
                                     char *errbuf)
{
    CURLcode cc = CURLE_OK;
#define SET(opt, val) OUTBOUND_SET(curl, cc, opt, val)
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS,
        (long)(timeout_ms < CONNECT_TIMEOUT_MAX_MS ? timeout_ms : CONNECT_TIMEOUT_MAX_MS));
    SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
    SET(CURLOPT_OPENSOCKETDATA, r);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (g.ca_file != NULL) {
        /* The operator's bundle is the whole trust: no default CA directory besides it. */
        SET(CURLOPT_CAINFO, g.ca_file);
        SET(CURLOPT_CAPATH, NULL);
    }
    if (g.connect_to != NULL)
        SET(CURLOPT_CONNECT_TO, g.connect_to);
#undef SET
    return cc;
}

latch_rc outbound_address_refused(struct latch_error *err, const char *host,
                                  const struct outbound_refusal *r)
{
    if (r->not_loopback)
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_CONFIG,
                        "%s resolves to %s, not a loopback address: mail without TLS may only go "
                        "to a server on this machine (use implicit TLS or STARTTLS)",
                        host, r->ip);
    else
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_ADDRESS,
                        "%s resolves to an address that is not public (loopback, private, "
                        "link-local...): this server does not call it unless its operator "
                        "allows it (LATCH_OUTBOUND_ALLOW_PRIVATE)",
                        host);
    latch_error_detail(err, "refused address %s", r->ip);
    return LATCH_FAIL;
}

/* Sets the method and body: POSTFIELDS for every method with a body, CUSTOMREQUEST for the
 * methods curl has no option of its own for. */
static CURLcode set_method(CURL *curl, const char *method, const struct latch_outbound_request *req)
{
    CURLcode cc = CURLE_OK;
    bool has_body = req->body_len > 0 || strcmp(method, "POST") == 0;

    if (strcmp(method, "GET") == 0 && req->body_len == 0)
        return curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    if (has_body) {
        cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
    }
    if (cc == CURLE_OK && strcmp(method, "POST") != 0)
        cc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    return cc;
}

latch_rc latch_outbound_request(const struct latch_outbound_request *req,
                                struct latch_outbound_response *resp, struct latch_error *err)
{
    struct curl_slist *headers = NULL;
    struct sink sink = {0};
    struct outbound_refusal refusal = {0};
    char errbuf[CURL_ERROR_SIZE];
    char host[256];
    const char *method;
    const char *ctype = NULL;
    struct timespec t0;
    uint32_t timeout;
    long status = 0;
    CURLcode cc;
    CURL *curl = NULL;
    latch_rc rc = LATCH_FAIL;

    if (resp == NULL)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request: no response to fill");
    memset(resp, 0, sizeof(*resp));
    if (!outbound_ready())
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound HTTP is not initialized");
    if (req == NULL)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request: no request");
    if (check_url(req->url, err) != LATCH_OK)
        return LATCH_FAIL;
    method = req->method != NULL ? req->method : "GET";
    if (!valid_method(method))
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: method %.16s is not supported", method);
    if (req->body_len > 0 && req->body == NULL)
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound request refused: a body length without a body");
    if (build_headers(req, &headers, err) != LATCH_OK)
        return LATCH_FAIL;
    timeout = req->timeout_ms == 0 ? LATCH_OUTBOUND_DEFAULT_TIMEOUT_MS : req->timeout_ms;
    if (timeout > LATCH_OUTBOUND_MAX_TIMEOUT_MS)
        timeout = LATCH_OUTBOUND_MAX_TIMEOUT_MS;
    url_host(req->url, host, sizeof(host));

    curl = thread_curl();
    if (curl == NULL) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "outbound request: out of memory");
        goto out;
    }
    sink.max = g.max_bytes;
    errbuf[0] = '\0';
    /* Each option can only fail for lack of memory or an unsupported feature; the first
     * failure stops the request. */
    cc = outbound_connection_options(curl, timeout, &refusal, errbuf);
#define SET(opt, val) OUTBOUND_SET(curl, cc, opt, val)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_HTTPHEADER, headers);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, &sink);
    /* Refuses at once a body whose Content-Length is over the cap; on_write catches the rest. */
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)g.max_bytes);
#undef SET
    if (cc == CURLE_OK)
        cc = set_method(curl, method, req);
    if (cc != CURLE_OK) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                        "outbound request to %s could not be set up", host);
        latch_error_detail(err, "curl: %s", curl_easy_strerror(cc));
        goto out;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        if (refusal.refused)
            (void)outbound_address_refused(err, host, &refusal);
        else if (cc == CURLE_OPERATION_TIMEDOUT)
            latch_error_set(err, 504, LATCH_OUTBOUND_ERR_TIMEOUT, "%s did not answer within %u ms",
                            host, timeout);
        else if (sink.too_big || cc == CURLE_FILESIZE_EXCEEDED)
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                            "the answer of %s is larger than %zu bytes", host, g.max_bytes);
        else
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "request to %s failed", host);
        if (!refusal.refused)
            latch_error_detail(err, "curl error %d: %s", (int)cc,
                               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        latch_debug("outbound %s %s failed after %ld ms: %s", method, host,
                    outbound_elapsed_ms(&t0), err != NULL ? err->detail : curl_easy_strerror(cc));
        goto out;
    }
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status < 100 ||
        status > 999) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "%s sent no HTTP status", host);
        goto out;
    }
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL) {
        resp->content_type = strdup(ctype);
        if (resp->content_type == NULL) {
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                            "outbound request: out of memory");
            goto out;
        }
    }
    if (sink.buf == NULL) {
        sink.buf = calloc(1, 1);
        if (sink.buf == NULL) {
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                            "outbound request: out of memory");
            goto out;
        }
    }
    resp->status = (int)status;
    resp->body = sink.buf;
    resp->body_len = sink.len;
    sink.buf = NULL;
    latch_debug("outbound %s %s: %ld, %zu bytes in %ld ms", method, host, status, resp->body_len,
                outbound_elapsed_ms(&t0));
    rc = LATCH_OK;
out:
    /* No pointer into this frame (error buffer, sink, header list) may outlive it in the cached
     * handle; reset keeps the connection and TLS session caches. */
    if (curl != NULL)
        curl_easy_reset(curl);
    headers_free(headers);
    if (sink.buf != NULL)
        explicit_bzero(sink.buf, sink.len);
    free(sink.buf);
    if (rc != LATCH_OK)
        latch_outbound_response_clear(resp);
    return rc;
}
