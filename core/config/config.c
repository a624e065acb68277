/*
 * Node configuration (see config.h): every LATCH_ variable is read through a getenv function (the
 * process environment, or the tests' own), falling back to the file named by LATCH_CONFIG_FILE,
 * then to its default, and validated strictly. A table of variables drives the load, and doubles
 * as the list of keys the file may contain. Each failure fills the error with code
 * "config.invalid" and a message "LATCH_X: what is wrong; expected what" — values are echoed only
 * for short, harmless settings, never for the secret key, the database URL or file lines.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/base64.h"
#include "util/hex.h"

#define CONFIG_CODE             "config.invalid"
#define CONFIG_FILE_MAX_BYTES   (1 << 20)
#define CONFIG_FILE_MAX_ENTRIES 64
#define CONFIG_FILE_VAR         "LATCH_CONFIG_FILE"

struct file_entry {
    const char *key;   /* points into config_file.buf */
    const char *value; /* points into config_file.buf */
    int line;
};

/* A parsed LATCH_CONFIG_FILE: the file's bytes, cut in place into keys and values. */
struct config_file {
    char *buf;
    size_t size;
    struct file_entry entries[CONFIG_FILE_MAX_ENTRIES];
    int n;
};

typedef latch_rc (*var_parse_fn)(const char *name, const char *value, struct latch_config *cfg,
                                 struct latch_error *err);

static latch_rc config_error(struct latch_error *err, const char *name, const char *fmt, ...)
    LATCH_PRINTF(3, 4);

static latch_rc config_error(struct latch_error *err, const char *name, const char *fmt, ...)
{
    char what[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return latch_error_set(err, 0, CONFIG_CODE, "%s: %s", name, what);
}

/* ---- character classes (ASCII only, independent of the locale) ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char to_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- scalar values ---- */

/* Strict base-10 integer: optional '-', digits only, whole string, no overflow. */
static bool parse_ll(const char *text, long long *out)
{
    const char *digits = text[0] == '-' ? text + 1 : text;
    char *end;
    long long v = 0;

    if (!is_digit(digits[0]))
        return false;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static latch_rc parse_range(const char *name, const char *value, long long min, long long max,
                            long long def, long long *out, struct latch_error *err)
{
    long long v = 0;

    if (value == NULL) {
        *out = def;
        return LATCH_OK;
    }
    if (!parse_ll(value, &v))
        return config_error(err, name,
                            "\"%.32s\" is not an integer; expected an integer from %lld to %lld",
                            value, min, max);
    if (v < min || v > max)
        return config_error(
            err, name, "%lld is out of range; expected an integer from %lld to %lld", v, min, max);
    *out = v;
    return LATCH_OK;
}

/* An integer variable: fn parses it into cfg->field (of type type) within [min, max], def when
 * unset; the messages are parse_range()'s. */
#define RANGE_VAR(fn, field, type, min, max, def)                                                  \
    static latch_rc fn(const char *name, const char *value, struct latch_config *cfg,              \
                       struct latch_error *err)                                                    \
    {                                                                                              \
        long long v = 0;                                                                           \
        if (parse_range(name, value, min, max, def, &v, err) != LATCH_OK)                          \
            return LATCH_FAIL;                                                                     \
        cfg->field = (type)v;                                                                      \
        return LATCH_OK;                                                                           \
    }

/* Strict port number 1..65535 from exactly [s, s + len). */
static bool parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned v = 0;

    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/* A DNS name (or dotted IPv4): labels of letters, digits and inner hyphens, no empty label. */
static bool valid_hostname(const char *h, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 || h[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
        if (c == '-' && label == 0)
            return false;
        if (++label > 63)
            return false;
    }
    return label != 0 && h[len - 1] != '-';
}

static bool valid_ipv6(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr a;

    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, &a) == 1;
}

/* ---- LATCH_PUBLIC_URL ---- */

#define PUBLIC_URL_EXPECT "expected http(s)://host[:port][/path]"

static bool path_char_ok(char c)
{
    return is_alpha(c) || is_digit(c) || strchr("-._~!$&'()*+,;=:@", c) != NULL;
}

/* Checks a path of "/segment" parts (no empty, "." or ".." segment; %XX escapes well formed). */
static bool valid_path(const char *p, size_t len, const char **why)
{
    size_t i = 0;

    while (i < len) {
        size_t start = ++i; /* skip the '/' */
        while (i < len && p[i] != '/') {
            if (p[i] == '%') {
                if (i + 2 >= len || latch_hex_digit((unsigned char)p[i + 1]) < 0 ||
                    latch_hex_digit((unsigned char)p[i + 2]) < 0) {
                    *why = "path has a malformed %-escape";
                    return false;
                }
                i += 3;
                continue;
            }
            if (!path_char_ok(p[i])) {
                *why = "path has a character that must be %-escaped";
                return false;
            }
            i++;
        }
        size_t seg = i - start;
        if (seg == 0 || (seg == 1 && p[start] == '.') ||
            (seg == 2 && p[start] == '.' && p[start + 1] == '.')) {
            *why = "path has an empty, '.' or '..' segment";
            return false;
        }
    }
    return true;
}

static latch_rc parse_public_url(const char *name, const char *value, struct latch_config *cfg,
                                 struct latch_error *err)
{
    const char *v = value != NULL ? value : "http://localhost:3001";
    size_t len = strlen(v);
    const char *p;
    const char *auth_end;
    const char *host;
    size_t host_len;
    const char *port_s = NULL;
    size_t port_len = 0;
    uint16_t port = 0;
    const char *path;
    size_t path_len;
    const char *why = NULL;
    char host_lc[256];
    int n;

    if (len == 0)
        return config_error(err, name, "is empty; " PUBLIC_URL_EXPECT);
    if (len >= sizeof(cfg->public_url))
        return config_error(err, name, "is too long (%zu bytes); expected at most %zu bytes", len,
                            sizeof(cfg->public_url) - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c <= 0x20 || c >= 0x7f)
            return config_error(
                err, name, "contains a space, control or non-ASCII character; " PUBLIC_URL_EXPECT);
    }
    if (strpbrk(v, "?#") != NULL)
        return config_error(err, name, "must not have a query or fragment; " PUBLIC_URL_EXPECT);

    if (strncasecmp(v, "https://", 8) == 0) {
        cfg->public_https = true;
        p = v + 8;
    } else if (strncasecmp(v, "http://", 7) == 0) {
        cfg->public_https = false;
        p = v + 7;
    } else {
        return config_error(err, name, "scheme is not http or https; " PUBLIC_URL_EXPECT);
    }

    auth_end = p + strcspn(p, "/");
    if (memchr(p, '@', (size_t)(auth_end - p)) != NULL)
        return config_error(err, name, "must not contain userinfo (user@); " PUBLIC_URL_EXPECT);
    if (auth_end == p)
        return config_error(err, name, "has no host; " PUBLIC_URL_EXPECT);

    host = p;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (close == NULL || !valid_ipv6(p + 1, (size_t)(close - p - 1)))
            return config_error(err, name, "has an invalid IPv6 host; " PUBLIC_URL_EXPECT);
        host_len = (size_t)(close + 1 - p);
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return config_error(err, name, "has junk after the IPv6 host; " PUBLIC_URL_EXPECT);
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        host_len = (size_t)((colon != NULL ? colon : auth_end) - p);
        if (!valid_hostname(p, host_len))
            return config_error(err, name, "has an invalid host name; " PUBLIC_URL_EXPECT);
        if (colon != NULL)
            port_s = colon + 1;
    }
    if (port_s != NULL) {
        port_len = (size_t)(auth_end - port_s);
        if (!parse_port(port_s, port_len, &port))
            return config_error(err, name, "has an invalid port; expected a port from 1 to 65535");
    }

    /* Trailing slashes go: the issuer is "<public_url>/oidc", never "<public_url>//oidc". */
    path = auth_end;
    path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (!valid_path(path, path_len, &why))
        return config_error(err, name, "%s; " PUBLIC_URL_EXPECT, why);
    if (path_len >= sizeof(cfg->public_path))
        return config_error(err, name, "path is too long; expected at most %zu bytes",
                            sizeof(cfg->public_path) - 1);

    /* Normalize as a WHATWG URL parser would (lowercase scheme and host, no default port), so the
     * issuer we publish is byte-identical to what clients derive from the same setting. */
    for (size_t i = 0; i < host_len; i++)
        host_lc[i] = to_lower(host[i]);
    host_lc[host_len] = '\0';
    if ((cfg->public_https && port == 443) || (!cfg->public_https && port == 80))
        port = 0;
    if (port != 0)
        n = snprintf(cfg->public_url, sizeof(cfg->public_url), "%s://%s:%u%.*s",
                     cfg->public_https ? "https" : "http", host_lc, (unsigned)port, (int)path_len,
                     path);
    else
        n = snprintf(cfg->public_url, sizeof(cfg->public_url), "%s://%s%.*s",
                     cfg->public_https ? "https" : "http", host_lc, (int)path_len, path);
    if (n < 0 || (size_t)n >= sizeof(cfg->public_url))
        return config_error(err, name, "is too long; expected at most %zu bytes",
                            sizeof(cfg->public_url) - 1);
    memcpy(cfg->public_path, path, path_len);
    cfg->public_path[path_len] = '\0';
    return LATCH_OK;
}

/* ---- LATCH_LISTEN ---- */

#define LISTEN_EXPECT "expected host:port or [ipv6]:port with a port from 1 to 65535"

/* host:port or [v6]:port into host (cap bytes) and *port. */
static latch_rc parse_host_port(const char *name, const char *v, char *host_out, size_t cap,
                                uint16_t *port, struct latch_error *err)
{
    const char *host;
    size_t host_len;
    const char *port_s;

    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL || close[1] != ':')
            return config_error(err, name, "has no ]:port after the IPv6 address; " LISTEN_EXPECT);
        host = v + 1;
        host_len = (size_t)(close - host);
        if (!valid_ipv6(host, host_len))
            return config_error(err, name, "has an invalid IPv6 address; " LISTEN_EXPECT);
        port_s = close + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (colon == NULL)
            return config_error(err, name, "has no port; " LISTEN_EXPECT);
        host = v;
        host_len = (size_t)(colon - v);
        if (memchr(host, ':', host_len) != NULL)
            return config_error(err, name, "has an IPv6 address without brackets; " LISTEN_EXPECT);
        if (!valid_hostname(host, host_len))
            return config_error(err, name, "has an invalid host; " LISTEN_EXPECT);
        port_s = colon + 1;
    }
    if (!parse_port(port_s, strlen(port_s), port))
        return config_error(err, name, "has an invalid port; " LISTEN_EXPECT);
    if (host_len >= cap)
        return config_error(err, name, "host is too long; " LISTEN_EXPECT);
    memcpy(host_out, host, host_len);
    host_out[host_len] = '\0';
    return LATCH_OK;
}

static latch_rc parse_listen(const char *name, const char *value, struct latch_config *cfg,
                             struct latch_error *err)
{
    return parse_host_port(name, value != NULL ? value : "0.0.0.0:3001", cfg->listen_host,
                           sizeof(cfg->listen_host), &cfg->listen_port, err);
}

/* ---- LATCH_METRICS_LISTEN (after LATCH_LISTEN, whose port it must not share) ---- */

static latch_rc parse_metrics_listen(const char *name, const char *value, struct latch_config *cfg,
                                     struct latch_error *err)
{
    cfg->metrics_host[0] = '\0';
    cfg->metrics_port = 0;
    if (value == NULL || value[0] == '\0')
        return LATCH_OK; /* off */
    if (parse_host_port(name, value, cfg->metrics_host, sizeof(cfg->metrics_host),
                        &cfg->metrics_port, err) != LATCH_OK)
        return LATCH_FAIL;
    if (cfg->metrics_port == cfg->listen_port)
        return config_error(err, name,
                            "uses port %u, the port of LATCH_LISTEN; expected a port of its own "
                            "(metrics are never served on the public port)",
                            cfg->metrics_port);
    return LATCH_OK;
}

/* ---- LATCH_DATABASE_URL ---- */

static latch_rc parse_database_url(const char *name, const char *value, struct latch_config *cfg,
                                   struct latch_error *err)
{
    size_t len;

    /* Never echoed: it usually holds a password. */
    if (value == NULL || value[0] == '\0')
        return config_error(err, name,
                            "%s; expected a libpq connection string or URI such as "
                            "postgresql://user@host/db",
                            value == NULL ? "is not set" : "is empty");
    len = strlen(value);
    if (len >= sizeof(cfg->database_url))
        return config_error(err, name, "is too long (%zu bytes); expected fewer than %zu bytes",
                            len, sizeof(cfg->database_url));
    memcpy(cfg->database_url, value, len + 1);
    return LATCH_OK;
}

/* The session connection for LISTEN (and migrations): LATCH_DATABASE_LISTEN_URL, defaulting to
 * LATCH_DATABASE_URL (checked before this one). A pooler in transaction mode cannot carry
 * LISTEN, so deployments behind one point this variable at PostgreSQL itself. */
static latch_rc parse_database_listen_url(const char *name, const char *value,
                                          struct latch_config *cfg, struct latch_error *err)
{
    if (value == NULL || value[0] == '\0') {
        memcpy(cfg->database_listen_url, cfg->database_url, sizeof(cfg->database_listen_url));
        return LATCH_OK;
    }
    size_t len = strlen(value);
    if (len >= sizeof(cfg->database_listen_url))
        return config_error(err, name, "is too long (%zu bytes); expected fewer than %zu bytes",
                            len, sizeof(cfg->database_listen_url));
    memcpy(cfg->database_listen_url, value, len + 1);
    return LATCH_OK;
}

/* LATCH_DB_POOL_MODE: session (default; named prepared statements, pipelined calls) or
 * transaction (behind PgBouncer-style transaction pooling: unnamed statements, one call in
 * flight per connection). */
static latch_rc parse_db_pool_mode(const char *name, const char *value, struct latch_config *cfg,
                                   struct latch_error *err)
{
    if (value == NULL || value[0] == '\0' || strcmp(value, "session") == 0)
        cfg->db_transaction_pooling = false;
    else if (strcmp(value, "transaction") == 0)
        cfg->db_transaction_pooling = true;
    else
        return config_error(err, name, "'%s' is not a pool mode; expected session or transaction",
                            value);
    return LATCH_OK;
}

/* ---- integers ---- */

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > 256 ? 256 : (int)n;
}

RANGE_VAR(parse_threads, threads, int, 1, 256, online_cores())

RANGE_VAR(parse_workers, workers, int, 1, 256, online_cores())

/* LATCH_WORKERS sized the one pool there was; it stays as the CPU lane's default. */
RANGE_VAR(parse_cpu_workers, cpu_workers, int, 1, 256, cfg->workers)

RANGE_VAR(parse_io_workers, io_workers, int, 1, 1024, 16)

/* Checked after LATCH_IO_WORKERS: a bound above the lane's size would bound nothing. */
RANGE_VAR(parse_io_tenant_workers, io_tenant_workers, int, 1, cfg->io_workers,
          cfg->io_workers > 1 ? cfg->io_workers / 2 : 1)

RANGE_VAR(parse_db_pool_size, db_pool_size, int, 1, 64, 2)

RANGE_VAR(parse_max_header_bytes, max_header_bytes, size_t, 1024, 1048576, 16384)

RANGE_VAR(parse_max_body_bytes, max_body_bytes, size_t, 0, 67108864, 1048576)

RANGE_VAR(parse_body_budget_bytes, body_budget_bytes, size_t, 0, 68719476736, 67108864)

RANGE_VAR(parse_shutdown_grace_ms, shutdown_grace_ms, int, 0, 600000, 10000)

RANGE_VAR(parse_drain_delay_ms, drain_delay_ms, int, 0, 600000, 5000)

/* Webhook delivery: each attempt's timeout, the first retry's delay (doubled per attempt, with
 * jitter, for 24 hours), and the sweep that finds events no NOTIFY announced. */
RANGE_VAR(parse_hook_timeout_ms, hook_timeout_ms, int, 1000, 30000, 10000)

RANGE_VAR(parse_hook_retry_base_ms, hook_retry_base_ms, int, 10, 3600000, 10000)

RANGE_VAR(parse_hook_sweep_ms, hook_sweep_ms, int, 100, 600000, 5000)

RANGE_VAR(parse_limit_client_auth_failures, limit_client_auth_failures, int, 0, 1000000, 30)

RANGE_VAR(parse_limit_ip_auth_failures, limit_ip_auth_failures, int, 0, 1000000, 120)

RANGE_VAR(parse_limit_ip_password_failures, limit_ip_password_failures, int, 0, 1000000, 60)

RANGE_VAR(parse_limit_ip_registration_checks, limit_ip_registration_checks, int, 0, 1000000, 30)

RANGE_VAR(parse_limit_ip_code_sends, limit_ip_code_sends, int, 0, 1000000, 10)

RANGE_VAR(parse_max_connections, max_connections, int, 16, 1000000, 10000)

RANGE_VAR(parse_idle_timeout_ms, idle_timeout_ms, int, 1000, 3600000, 60000)

RANGE_VAR(parse_header_timeout_ms, header_timeout_ms, int, 500, 600000, 10000)

RANGE_VAR(parse_body_timeout_ms, body_timeout_ms, int, 500, 600000, 10000)

RANGE_VAR(parse_audit_log_queue, audit_log_queue, int, 16, 1000000, 8192)

RANGE_VAR(parse_audit_log_flush_ms, audit_log_flush_ms, int, 10, 60000, 250)

RANGE_VAR(parse_log_retention_days, log_retention_days, int, 1, 3650, 30)

RANGE_VAR(parse_log_maintenance_seconds, log_maintenance_seconds, int, 1, 86400, 3600)

/* No 0: a body deadline needs a rate to grow with the body's length. */
RANGE_VAR(parse_min_body_rate, min_body_rate, int, 1, 1073741824, 1024)

RANGE_VAR(parse_max_connections_per_ip, max_connections_per_ip, int, 0, 1000000, 256)

/* ---- LATCH_TRUSTED_PROXIES ---- */

latch_rc latch_config_parse_cidr(const char *text, struct latch_cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    char *slash;
    struct latch_cidr c;
    int max_prefix;
    size_t len;

    if (text == NULL || out == NULL)
        return LATCH_FAIL;
    len = strlen(text);
    if (len == 0 || len >= sizeof(buf))
        return LATCH_FAIL;
    memcpy(buf, text, len + 1);
    memset(&c, 0, sizeof(c));

    slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    if (strchr(buf, ':') != NULL) {
        if (inet_pton(AF_INET6, buf, c.addr) != 1)
            return LATCH_FAIL;
        max_prefix = 128;
    } else {
        struct in_addr a4;
        if (inet_pton(AF_INET, buf, &a4) != 1)
            return LATCH_FAIL;
        c.addr[10] = 0xff;
        c.addr[11] = 0xff;
        memcpy(c.addr + 12, &a4, 4);
        max_prefix = 32;
    }

    c.prefix = max_prefix;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = strlen(p);
        int v = 0;
        if (plen == 0 || plen > 3)
            return LATCH_FAIL;
        for (size_t i = 0; i < plen; i++) {
            if (!is_digit(p[i]))
                return LATCH_FAIL;
            v = v * 10 + (p[i] - '0');
        }
        if (v > max_prefix)
            return LATCH_FAIL;
        c.prefix = v;
    }
    if (max_prefix == 32)
        c.prefix += 96;

    /* Bits beyond the prefix must be zero: "10.0.0.1/8" is more likely a typo than a network. */
    for (int bit = c.prefix; bit < 128; bit++) {
        if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
            return LATCH_FAIL;
    }
    *out = c;
    return LATCH_OK;
}

bool latch_cidr_contains(const struct latch_cidr *nets, int n, const uint8_t addr[16])
{
    if (nets == NULL || addr == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        int prefix = nets[i].prefix;
        int whole = prefix / 8;
        int rest = prefix % 8;

        if (prefix < 0 || prefix > 128)
            continue;
        if (memcmp(nets[i].addr, addr, (size_t)whole) != 0)
            continue;
        if (rest != 0) {
            uint8_t mask = (uint8_t)(0xff << (8 - rest));
            if ((nets[i].addr[whole] & mask) != (addr[whole] & mask))
                continue;
        }
        return true;
    }
    return false;
}

#define PROXIES_EXPECT "expected comma-separated networks such as 10.0.0.0/8, ::1 or fd00::/8"

/* A comma-separated list of networks into nets (at most max; *n set). Blank: none. */
static latch_rc parse_cidr_list(const char *name, const char *value, struct latch_cidr *nets,
                                int max, int *n, struct latch_error *err)
{
    const char *p = value;
    int index = 0;

    *n = 0;
    if (value == NULL)
        return LATCH_OK;
    while (is_space(*p))
        p++;
    if (*p == '\0')
        return LATCH_OK; /* set but blank: none */

    p = value;
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *s = p;
        const char *e = end;
        char item[INET6_ADDRSTRLEN + 8];

        index++;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        if (s == e)
            return config_error(err, name, "entry %d is empty; " PROXIES_EXPECT, index);
        if (*n == max)
            return config_error(err, name, "has more than %d entries; expected at most %d networks",
                                max, max);
        if ((size_t)(e - s) >= sizeof(item))
            return config_error(err, name, "entry %d is not a valid network; " PROXIES_EXPECT,
                                index);
        memcpy(item, s, (size_t)(e - s));
        item[e - s] = '\0';
        if (latch_config_parse_cidr(item, &nets[*n]) != LATCH_OK)
            return config_error(err, name,
                                "entry %d (\"%.48s\") is not a valid network or has host bits "
                                "set; " PROXIES_EXPECT,
                                index, item);
        (*n)++;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return LATCH_OK;
}

static latch_rc parse_trusted_proxies(const char *name, const char *value, struct latch_config *cfg,
                                      struct latch_error *err)
{
    return parse_cidr_list(name, value, cfg->trusted_proxies, LATCH_CONFIG_MAX_PROXIES,
                           &cfg->n_trusted_proxies, err);
}

/* LATCH_OUTBOUND_ALLOW_PRIVATE: outbound requests may reach loopback, private, link-local and
 * other non-public addresses: "all", or only those networks (a CIDR list). Unset: none. */
static latch_rc parse_outbound_allow_private(const char *name, const char *value,
                                             struct latch_config *cfg, struct latch_error *err)
{
    cfg->outbound_allow_private_all = false;
    cfg->n_outbound_allow = 0;
    if (value != NULL && strcmp(value, "all") == 0) {
        cfg->outbound_allow_private_all = true;
        return LATCH_OK;
    }
    return parse_cidr_list(name, value, cfg->outbound_allow, LATCH_CONFIG_MAX_PROXIES,
                           &cfg->n_outbound_allow, err);
}

/* ---- LATCH_LOG_LEVEL ---- */

static latch_rc parse_level_value(const char *name, const char *value, enum latch_log_level *out,
                                  struct latch_error *err)
{
    if (value == NULL) {
        *out = LATCH_LOG_INFO;
        return LATCH_OK;
    }
    if (!latch_log_parse_level(value, out))
        return config_error(
            err, name, "\"%.16s\" is not a log level; expected debug, info, warn or error", value);
    return LATCH_OK;
}

static latch_rc parse_log_level(const char *name, const char *value, struct latch_config *cfg,
                                struct latch_error *err)
{
    return parse_level_value(name, value, &cfg->log_level, err);
}

/* ---- LATCH_SECRET_KEY ---- */

#define SECRET_EXPECT "expected exactly 32 bytes in base64 or base64url (openssl rand -base64 32)"

static latch_rc parse_secret_key(const char *name, const char *value, struct latch_config *cfg,
                                 struct latch_error *err)
{
    /* Room for a few bytes more than a key, so "too long" is told apart from "not base64". */
    uint8_t buf[LATCH_SECRET_KEY_LEN + 16];
    latch_rc rc = LATCH_FAIL;
    long n;

    /* Never put the value in a message, not even part of it. */
    if (value == NULL) {
        config_error(err, name, "is not set; " SECRET_EXPECT);
        goto out;
    }
    if (strlen(value) > 4 * ((sizeof(buf) + 2) / 3)) {
        config_error(err, name, "is too long; " SECRET_EXPECT);
        goto out;
    }
    /* Strict (util/base64.h): one alphabet, '=' only as final padding, no whitespace, unused
     * trailing bits zero, so each key has exactly one spelling per alphabet. */
    n = latch_base64_decode_any(value, strlen(value), buf, sizeof(buf));
    if (n <= 0) {
        config_error(err, name, "is not valid base64; " SECRET_EXPECT);
        goto out;
    }
    if (n != LATCH_SECRET_KEY_LEN) {
        config_error(err, name, "decodes to %ld bytes; " SECRET_EXPECT, n);
        goto out;
    }
    memcpy(cfg->secret_key, buf, LATCH_SECRET_KEY_LEN);
    rc = LATCH_OK;
out:
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* ---- LATCH_AUDIT_LOG ---- */

static latch_rc parse_audit_log(const char *name, const char *value, struct latch_config *cfg,
                                struct latch_error *err)
{
    cfg->audit_log = true;
    if (value == NULL || value[0] == '\0' || strcasecmp(value, "on") == 0 ||
        strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
        return LATCH_OK;
    if (strcasecmp(value, "off") == 0 || strcasecmp(value, "false") == 0 ||
        strcmp(value, "0") == 0) {
        cfg->audit_log = false;
        return LATCH_OK;
    }
    return config_error(err, name, "\"%.16s\" is not a switch; expected on or off", value);
}

/* ---- LATCH_AUTO_MIGRATE ---- */

static latch_rc parse_auto_migrate(const char *name, const char *value, struct latch_config *cfg,
                                   struct latch_error *err)
{
    static const char *const yes[] = {"1", "true", "yes"};
    static const char *const no[] = {"0", "false", "no"};

    cfg->auto_migrate = false;
    if (value == NULL)
        return LATCH_OK;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            cfg->auto_migrate = true;
            return LATCH_OK;
        }
        if (strcasecmp(value, no[i]) == 0)
            return LATCH_OK;
    }
    return config_error(err, name,
                        "\"%.16s\" is not a boolean; expected 1, 0, true, false, yes or no", value);
}

/* ---- LATCH_PASSWORD_ARGON2_* ---- */

RANGE_VAR(parse_argon2_iterations, password_argon2_iterations, int, 1, 64, 8)

RANGE_VAR(parse_argon2_memory_kib, password_argon2_memory_kib, int, 1024, 1048576, 8192)

RANGE_VAR(parse_argon2_parallelism, password_argon2_parallelism, int, 1, 16, 1)

/* ---- LATCH_BOOTSTRAP_CLIENT_ID / LATCH_BOOTSTRAP_CLIENT_SECRET ---- */

static latch_rc parse_bootstrap_id(const char *name, const char *value, struct latch_config *cfg,
                                   struct latch_error *err)
{
    cfg->bootstrap_client_id[0] = '\0';
    if (value == NULL || value[0] == '\0')
        return LATCH_OK;
    size_t n = strlen(value);
    if (n > 21)
        return config_error(err, name, "is %zu characters; expected 1 to 21", n);
    for (const char *p = value; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return config_error(err, name,
                                "has a character outside a-z, 0-9, '-' and '_'; expected an "
                                "application id such as m2m-bootstrap");
    memcpy(cfg->bootstrap_client_id, value, n + 1);
    return LATCH_OK;
}

static latch_rc parse_bootstrap_secret(const char *name, const char *value,
                                       struct latch_config *cfg, struct latch_error *err)
{
    cfg->bootstrap_client_secret[0] = '\0';
    if (value == NULL || value[0] == '\0') {
        if (cfg->bootstrap_client_id[0] != '\0')
            return config_error(err, name,
                                "is not set but LATCH_BOOTSTRAP_CLIENT_ID is; expected both or "
                                "neither");
        return LATCH_OK;
    }
    size_t n = strlen(value);
    if (cfg->bootstrap_client_id[0] == '\0')
        return config_error(err, name,
                            "is set but LATCH_BOOTSTRAP_CLIENT_ID is not; expected "
                            "both or neither");
    /* Never echo the value: it is a credential. */
    if (n < 32 || n >= sizeof(cfg->bootstrap_client_secret))
        return config_error(err, name,
                            "has %zu characters; expected 32 to %zu (for example "
                            "`openssl rand -base64 32`)",
                            n, sizeof(cfg->bootstrap_client_secret) - 1);
    for (const char *p = value; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return config_error(err, name,
                                "has a space or a control character; expected "
                                "printable ASCII");
    memcpy(cfg->bootstrap_client_secret, value, n + 1);
    return LATCH_OK;
}

/* ---- LATCH_OUTBOUND_CA_FILE ---- */

static latch_rc parse_outbound_ca_file(const char *name, const char *value,
                                       struct latch_config *cfg, struct latch_error *err)
{
    struct stat st;
    size_t n;
    int fd;

    cfg->outbound_ca_file[0] = '\0';
    if (value == NULL || value[0] == '\0')
        return LATCH_OK;
    n = strlen(value);
    if (n >= sizeof(cfg->outbound_ca_file))
        return config_error(err, name, "path is too long; expected at most %zu bytes",
                            sizeof(cfg->outbound_ca_file) - 1);
    fd = open(value, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return config_error(err, name,
                            "cannot open %.256s (%s); expected a readable PEM file of CA "
                            "certificates",
                            value, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return config_error(err, name,
                            "%.256s is not a regular file; expected a readable PEM file of CA "
                            "certificates",
                            value);
    }
    close(fd);
    memcpy(cfg->outbound_ca_file, value, n + 1);
    return LATCH_OK;
}

/* ---- LATCH_OUTBOUND_CONNECT_TO ---- */

#define CONNECT_TO_EXPECT                                                                          \
    "expected comma-separated host:port:connect-host:connect-port entries such as "                \
    "huggingface.co:443:127.0.0.1:8443"

/*
 * One host field of a connect-to entry at *p (up to end): empty, a host name, a dotted IPv4
 * address or a bracketed IPv6 address. Advances *p past it; false when malformed.
 */
static bool connect_to_host(const char **p, const char *end)
{
    const char *s = *p;
    const char *e;

    if (s < end && *s == '[') {
        const char *close = memchr(s, ']', (size_t)(end - s));
        if (close == NULL || !valid_ipv6(s + 1, (size_t)(close - s - 1)))
            return false;
        *p = close + 1;
        return true;
    }
    e = memchr(s, ':', (size_t)(end - s));
    if (e == NULL)
        e = end;
    if (e > s && !valid_hostname(s, (size_t)(e - s)))
        return false;
    *p = e;
    return true;
}

/* One port field at *p: empty or 1..65535, ended by ':' or the end. */
static bool connect_to_port(const char **p, const char *end)
{
    const char *s = *p;
    const char *e = memchr(s, ':', (size_t)(end - s));
    uint16_t port;

    if (e == NULL)
        e = end;
    if (e > s && !parse_port(s, (size_t)(e - s), &port))
        return false;
    *p = e;
    return true;
}

/* "host:port:connect-host:connect-port" as libcurl reads it (any field may be empty), but one
 * that changes nothing (both connect fields empty) is refused as a likely mistake. */
static bool valid_connect_to(const char *s, const char *end)
{
    const char *p = s;
    const char *connect_start;

    if (!connect_to_host(&p, end) || p >= end || *p++ != ':')
        return false;
    if (!connect_to_port(&p, end) || p >= end || *p++ != ':')
        return false;
    connect_start = p;
    if (!connect_to_host(&p, end) || p >= end || *p++ != ':')
        return false;
    if (!connect_to_port(&p, end) || p != end)
        return false;
    /* connect_start .. end is "connect-host:connect-port"; ":" alone is a no-op. */
    return end - connect_start > 1;
}

static latch_rc parse_outbound_connect_to(const char *name, const char *value,
                                          struct latch_config *cfg, struct latch_error *err)
{
    const char *p;
    size_t len;
    int index = 0;

    cfg->outbound_connect_to[0] = '\0';
    if (value == NULL)
        return LATCH_OK;
    p = value;
    while (is_space(*p))
        p++;
    if (*p == '\0')
        return LATCH_OK; /* set but blank: no mapping */
    len = strlen(value);
    if (len >= sizeof(cfg->outbound_connect_to))
        return config_error(err, name, "is too long (%zu bytes); expected at most %zu bytes", len,
                            sizeof(cfg->outbound_connect_to) - 1);

    p = value;
    for (;;) {
        const char *end = p + strcspn(p, ",");
        const char *s = p;
        const char *e = end;

        index++;
        while (s < e && is_space(*s))
            s++;
        while (e > s && is_space(e[-1]))
            e--;
        if (s == e)
            return config_error(err, name, "entry %d is empty; " CONNECT_TO_EXPECT, index);
        if (index > LATCH_CONFIG_MAX_CONNECT_TO)
            return config_error(err, name, "has more than %d entries; expected at most %d",
                                LATCH_CONFIG_MAX_CONNECT_TO, LATCH_CONFIG_MAX_CONNECT_TO);
        if (!valid_connect_to(s, e))
            return config_error(err, name, "entry %d (\"%.*s\") is malformed; " CONNECT_TO_EXPECT,
                                index, (int)((e - s) > 64 ? 64 : (e - s)), s);
        if (*end == '\0')
            break;
        p = end + 1;
    }
    memcpy(cfg->outbound_connect_to, value, len + 1);
    return LATCH_OK;
}

/* ---- LATCH_CONNECTOR_DIR ---- */

#ifndef LATCH_DEFAULT_CONNECTOR_DIR
#define LATCH_DEFAULT_CONNECTOR_DIR "/usr/local/lib/latch/connectors"
#endif

static latch_rc parse_connector_dir(const char *name, const char *value, struct latch_config *cfg,
                                    struct latch_error *err)
{
    char real[PATH_MAX];
    struct stat st;

    cfg->connector_dir[0] = '\0';
    if (value == NULL) {
        /* The default is where `meson install` puts the connectors; without it, none. */
        if (realpath(LATCH_DEFAULT_CONNECTOR_DIR, real) != NULL && stat(real, &st) == 0 &&
            S_ISDIR(st.st_mode) && strlen(real) < sizeof(cfg->connector_dir))
            memcpy(cfg->connector_dir, real, strlen(real) + 1);
        return LATCH_OK;
    }
    if (value[0] == '\0')
        return LATCH_OK; /* set but empty: no connectors */
    if (strlen(value) >= sizeof(real))
        return config_error(err, name, "path is too long; expected at most %zu bytes",
                            sizeof(real) - 1);
    if (realpath(value, real) == NULL)
        return config_error(err, name,
                            "cannot resolve %.256s (%s); expected an existing directory of "
                            "connector .so files",
                            value, strerror(errno));
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return config_error(err, name,
                            "%.256s is not a directory; expected an existing directory of "
                            "connector .so files",
                            value);
    if (strlen(real) >= sizeof(cfg->connector_dir))
        return config_error(err, name, "path is too long; expected at most %zu bytes",
                            sizeof(cfg->connector_dir) - 1);
    memcpy(cfg->connector_dir, real, strlen(real) + 1);
    return LATCH_OK;
}

/* ---- the variables, in the order they are checked ---- */

static const struct config_var {
    const char *name;
    var_parse_fn parse;
} config_vars[] = {
    {"LATCH_PUBLIC_URL", parse_public_url},
    {"LATCH_LISTEN", parse_listen},
    {"LATCH_DATABASE_URL", parse_database_url},
    {"LATCH_DATABASE_LISTEN_URL", parse_database_listen_url},
    {"LATCH_DB_POOL_MODE", parse_db_pool_mode},
    {"LATCH_THREADS", parse_threads},
    {"LATCH_WORKERS", parse_workers},
    {"LATCH_CPU_WORKERS", parse_cpu_workers},
    {"LATCH_IO_WORKERS", parse_io_workers},
    {"LATCH_IO_TENANT_WORKERS", parse_io_tenant_workers},
    {"LATCH_DB_POOL_SIZE", parse_db_pool_size},
    {"LATCH_TRUSTED_PROXIES", parse_trusted_proxies},
    {"LATCH_LOG_LEVEL", parse_log_level},
    {"LATCH_SECRET_KEY", parse_secret_key},
    {"LATCH_AUTO_MIGRATE", parse_auto_migrate},
    {"LATCH_MAX_HEADER_BYTES", parse_max_header_bytes},
    {"LATCH_MAX_BODY_BYTES", parse_max_body_bytes},
    {"LATCH_BODY_BUDGET_BYTES", parse_body_budget_bytes},
    {"LATCH_SHUTDOWN_GRACE_MS", parse_shutdown_grace_ms},
    {"LATCH_DRAIN_DELAY_MS", parse_drain_delay_ms},
    {"LATCH_HOOK_TIMEOUT_MS", parse_hook_timeout_ms},
    {"LATCH_HOOK_RETRY_BASE_MS", parse_hook_retry_base_ms},
    {"LATCH_HOOK_SWEEP_MS", parse_hook_sweep_ms},
    {"LATCH_MAX_CONNECTIONS", parse_max_connections},
    {"LATCH_LIMIT_CLIENT_AUTH_FAILURES", parse_limit_client_auth_failures},
    {"LATCH_LIMIT_IP_AUTH_FAILURES", parse_limit_ip_auth_failures},
    {"LATCH_LIMIT_IP_PASSWORD_FAILURES", parse_limit_ip_password_failures},
    {"LATCH_LIMIT_IP_REGISTRATION_CHECKS", parse_limit_ip_registration_checks},
    {"LATCH_LIMIT_IP_CODE_SENDS", parse_limit_ip_code_sends},
    {"LATCH_IDLE_TIMEOUT_MS", parse_idle_timeout_ms},
    {"LATCH_HEADER_TIMEOUT_MS", parse_header_timeout_ms},
    {"LATCH_BODY_TIMEOUT_MS", parse_body_timeout_ms},
    {"LATCH_MIN_BODY_RATE", parse_min_body_rate},
    {"LATCH_MAX_CONNECTIONS_PER_IP", parse_max_connections_per_ip},
    {"LATCH_BOOTSTRAP_CLIENT_ID", parse_bootstrap_id},
    {"LATCH_BOOTSTRAP_CLIENT_SECRET", parse_bootstrap_secret},
    {"LATCH_PASSWORD_ARGON2_ITERATIONS", parse_argon2_iterations},
    {"LATCH_PASSWORD_ARGON2_MEMORY_KIB", parse_argon2_memory_kib},
    {"LATCH_PASSWORD_ARGON2_PARALLELISM", parse_argon2_parallelism},
    {"LATCH_OUTBOUND_CA_FILE", parse_outbound_ca_file},
    {"LATCH_OUTBOUND_CONNECT_TO", parse_outbound_connect_to},
    {"LATCH_OUTBOUND_ALLOW_PRIVATE", parse_outbound_allow_private},
    {"LATCH_CONNECTOR_DIR", parse_connector_dir},
    {"LATCH_METRICS_LISTEN", parse_metrics_listen},
    {"LATCH_AUDIT_LOG", parse_audit_log},
    {"LATCH_AUDIT_LOG_QUEUE", parse_audit_log_queue},
    {"LATCH_AUDIT_LOG_FLUSH_MS", parse_audit_log_flush_ms},
    {"LATCH_LOG_RETENTION_DAYS", parse_log_retention_days},
    {"LATCH_LOG_MAINTENANCE_SECONDS", parse_log_maintenance_seconds},
};

#define N_CONFIG_VARS (sizeof(config_vars) / sizeof(config_vars[0]))

static bool known_var(const char *key)
{
    for (size_t i = 0; i < N_CONFIG_VARS; i++) {
        if (strcmp(key, config_vars[i].name) == 0)
            return true;
    }
    return false;
}

/* ---- LATCH_CONFIG_FILE ---- */

static void file_clear(struct config_file *f)
{
    if (f->buf != NULL) {
        /* The file may hold the secret key and the database password. */
        OPENSSL_cleanse(f->buf, f->size + 1);
        free(f->buf);
    }
    memset(f, 0, sizeof(*f));
}

static bool valid_key(const char *k)
{
    if (!is_alpha(k[0]) && k[0] != '_')
        return false;
    for (const char *p = k + 1; *p != '\0'; p++) {
        if (!is_alpha(*p) && !is_digit(*p) && *p != '_')
            return false;
    }
    return true;
}

static char *trim(char *s, char **end_io)
{
    char *e = *end_io;

    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    *e = '\0';
    *end_io = e;
    return s;
}

/* Cuts f->buf into entries. Lines are never echoed in messages: they may hold secrets. */
static latch_rc file_parse(struct config_file *f, struct latch_error *err)
{
    char *p = f->buf;
    char *buf_end = f->buf + f->size;
    int line = 0;

    if (memchr(f->buf, '\0', f->size) != NULL)
        return config_error(err, CONFIG_FILE_VAR,
                            "contains a NUL byte; expected a text file of KEY=VALUE lines");
    while (p < buf_end) {
        char *nl = memchr(p, '\n', (size_t)(buf_end - p));
        char *end = nl != NULL ? nl : buf_end;
        char *eq;
        char *key;
        char *key_end;
        char *value;
        size_t vlen;

        line++;
        *end = '\0';
        key = trim(p, &end);
        p = (nl != NULL ? nl : buf_end) + 1;
        if (*key == '\0' || *key == '#')
            continue;

        eq = strchr(key, '=');
        if (eq == NULL)
            return config_error(err, CONFIG_FILE_VAR, "line %d has no '='; expected KEY=VALUE",
                                line);
        key_end = eq;
        key = trim(key, &key_end);
        value = trim(eq + 1, &end);
        if (!valid_key(key))
            return config_error(err, CONFIG_FILE_VAR,
                                "line %d has an invalid key; expected KEY=VALUE with a key of "
                                "letters, digits and _",
                                line);
        vlen = (size_t)(end - value);
        if (vlen > 0 && value[0] == '"') {
            if (vlen < 2 || value[vlen - 1] != '"')
                return config_error(err, CONFIG_FILE_VAR,
                                    "line %d: the value of %.64s has an unmatched '\"'; expected "
                                    "KEY=\"value\" or KEY=value",
                                    line, key);
            value[vlen - 1] = '\0';
            value++;
        }
        /* Other variables may share the file (an EnvironmentFile, say); they are not ours. */
        if (strncmp(key, "LATCH_", 6) != 0)
            continue;
        if (strcmp(key, CONFIG_FILE_VAR) == 0)
            return config_error(err, CONFIG_FILE_VAR,
                                "line %d sets LATCH_CONFIG_FILE; expected it only in the "
                                "environment",
                                line);
        if (!known_var(key))
            return config_error(err, CONFIG_FILE_VAR,
                                "line %d: unknown variable %.64s; expected one of the LATCH_ "
                                "variables Latch reads",
                                line, key);
        for (int i = 0; i < f->n; i++) {
            if (strcmp(f->entries[i].key, key) == 0)
                return config_error(err, CONFIG_FILE_VAR,
                                    "line %d sets %.64s again (first set on line %d); expected "
                                    "each variable once",
                                    line, key, f->entries[i].line);
        }
        /* Unreachable while duplicates are refused, kept against future edits of the table. */
        if (f->n == CONFIG_FILE_MAX_ENTRIES)
            return config_error(err, CONFIG_FILE_VAR, "has too many entries; expected at most %d",
                                CONFIG_FILE_MAX_ENTRIES);
        f->entries[f->n].key = key;
        f->entries[f->n].value = value;
        f->entries[f->n].line = line;
        f->n++;
    }
    return LATCH_OK;
}

static latch_rc file_load(struct config_file *f, const char *path, struct latch_error *err)
{
    struct stat st;
    size_t got = 0;
    latch_rc rc = LATCH_FAIL;
    int fd;

    memset(f, 0, sizeof(*f));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        config_error(err, CONFIG_FILE_VAR,
                     "cannot open the file (%s); expected a readable file of KEY=VALUE lines",
                     strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        config_error(err, CONFIG_FILE_VAR,
                     "is not a regular file; expected a readable file of KEY=VALUE lines");
        goto out;
    }
    if (st.st_size > CONFIG_FILE_MAX_BYTES) {
        config_error(err, CONFIG_FILE_VAR,
                     "is larger than %d bytes; expected a small file of KEY=VALUE lines",
                     CONFIG_FILE_MAX_BYTES);
        goto out;
    }
    /* One byte more than the size, to notice a file that grows while we read it. */
    f->size = (size_t)st.st_size + 1;
    f->buf = malloc(f->size + 1);
    if (f->buf == NULL) {
        config_error(err, CONFIG_FILE_VAR,
                     "cannot be read (out of memory); expected at most %d bytes",
                     CONFIG_FILE_MAX_BYTES);
        goto out;
    }
    while (got < f->size) {
        ssize_t r = read(fd, f->buf + got, f->size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            config_error(err, CONFIG_FILE_VAR,
                         "cannot be read (%s); expected a readable file of KEY=VALUE lines",
                         strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (got > (size_t)st.st_size) {
        config_error(err, CONFIG_FILE_VAR, "changed while being read; expected a stable file");
        goto out;
    }
    /* file_clear() wipes size + 1 bytes of the allocation, which is size + 2 here. */
    f->buf[got] = '\0';
    f->size = got;
    rc = file_parse(f, err);
out:
    if (rc != LATCH_OK)
        latch_error_detail(err, "config file: %s", path);
    if (fd >= 0)
        close(fd);
    return rc;
}

static const char *file_find(const struct config_file *f, const char *name, int *line)
{
    for (int i = 0; i < f->n; i++) {
        if (strcmp(f->entries[i].key, name) == 0) {
            *line = f->entries[i].line;
            return f->entries[i].value;
        }
    }
    return NULL;
}

/* ---- loading ---- */

static const char *process_getenv(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

latch_rc latch_config_load(struct latch_config *cfg, latch_config_getenv_fn getenv_fn, void *arg,
                           struct latch_error *err)
{
    struct config_file file;
    const char *path;
    latch_rc rc = LATCH_FAIL;

    memset(&file, 0, sizeof(file));
    if (cfg == NULL)
        return latch_error_set(err, 0, CONFIG_CODE, "configuration: no struct to fill");
    memset(cfg, 0, sizeof(*cfg));
    if (getenv_fn == NULL)
        getenv_fn = process_getenv;

    path = getenv_fn(CONFIG_FILE_VAR, arg);
    if (path != NULL && path[0] != '\0') {
        size_t len = strlen(path);
        if (len >= sizeof(cfg->config_file)) {
            config_error(err, CONFIG_FILE_VAR, "path is too long; expected at most %zu bytes",
                         sizeof(cfg->config_file) - 1);
            goto out;
        }
        memcpy(cfg->config_file, path, len + 1);
        if (file_load(&file, cfg->config_file, err) != LATCH_OK)
            goto out;
    }

    for (size_t i = 0; i < N_CONFIG_VARS; i++) {
        const char *name = config_vars[i].name;
        const char *value = getenv_fn(name, arg);
        int line = 0;

        /* The environment wins over the file. */
        if (value == NULL)
            value = file_find(&file, name, &line);
        if (config_vars[i].parse(name, value, cfg, err) != LATCH_OK) {
            if (line > 0)
                latch_error_detail(err, "set in %s line %d", cfg->config_file, line);
            goto out;
        }
    }
    rc = LATCH_OK;
out:
    file_clear(&file);
    if (rc != LATCH_OK)
        latch_config_clear(cfg);
    return rc;
}

latch_rc latch_config_connector_dir(latch_config_getenv_fn getenv_fn, void *arg, char *out,
                                    size_t cap, struct latch_error *err)
{
    static const char name[] = "LATCH_CONNECTOR_DIR";
    struct config_file file;
    struct latch_config *cfg = NULL;
    const char *value;
    const char *path;
    int line = 0;
    latch_rc rc = LATCH_FAIL;

    memset(&file, 0, sizeof(file));
    if (out == NULL || cap == 0)
        return latch_error_set(err, 0, CONFIG_CODE, "%s: nothing to resolve into", name);
    out[0] = '\0';
    if (getenv_fn == NULL)
        getenv_fn = process_getenv;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return latch_error_set(err, 0, CONFIG_CODE, "%s: out of memory", name);
    value = getenv_fn(name, arg);
    path = getenv_fn(CONFIG_FILE_VAR, arg);
    if (value == NULL && path != NULL && path[0] != '\0') {
        snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
        if (file_load(&file, cfg->config_file, err) != LATCH_OK)
            goto out;
        value = file_find(&file, name, &line);
    }
    if (parse_connector_dir(name, value, cfg, err) != LATCH_OK) {
        if (line > 0)
            latch_error_detail(err, "set in %s line %d", cfg->config_file, line);
        goto out;
    }
    if (strlen(cfg->connector_dir) >= cap) {
        config_error(err, name, "path is too long; expected at most %zu bytes", cap - 1);
        goto out;
    }
    memcpy(out, cfg->connector_dir, strlen(cfg->connector_dir) + 1);
    rc = LATCH_OK;
out:
    file_clear(&file);
    latch_config_clear(cfg);
    free(cfg);
    return rc;
}

latch_rc latch_config_reload_log_level(const struct latch_config *cfg, enum latch_log_level *level,
                                       struct latch_error *err)
{
    static const char name[] = "LATCH_LOG_LEVEL";
    struct config_file file;
    const char *value;
    int line = 0;
    latch_rc rc = LATCH_FAIL;

    memset(&file, 0, sizeof(file));
    if (cfg == NULL || level == NULL)
        return latch_error_set(err, 0, CONFIG_CODE, "%s: nothing to reload into", name);
    value = getenv(name);
    /* The file matters only when the environment does not set the level. */
    if (value == NULL && cfg->config_file[0] != '\0') {
        if (file_load(&file, cfg->config_file, err) != LATCH_OK)
            goto out;
        value = file_find(&file, name, &line);
    }
    if (parse_level_value(name, value, level, err) != LATCH_OK) {
        if (line > 0)
            latch_error_detail(err, "set in %s line %d", cfg->config_file, line);
        goto out;
    }
    rc = LATCH_OK;
out:
    file_clear(&file);
    return rc;
}

void latch_config_clear(struct latch_config *cfg)
{
    if (cfg != NULL)
        OPENSSL_cleanse(cfg, sizeof(*cfg));
}
