/*
 * Structured logging for every module of core/: each record is one JSON object on one line of
 * stderr, built in a stack buffer and handed to the kernel with a single write(2), so lines from
 * different threads never interleave (a line is at most LOG_LINE_MAX bytes, which is PIPE_BUF on
 * Linux, so even a pipe to a log collector receives it atomically). The only shared state is the
 * level, an atomic int. Messages too long for a line are cut at a character boundary and end with
 * a visible marker; the line stays valid JSON.
 */
#include "util/log.h"
#include "util/hex.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* One line, newline included. 4096 = PIPE_BUF on Linux: writes up to it are atomic on pipes. */
#define LOG_LINE_MAX         4096
#define LOG_TRUNC_MARKER     "...[truncated]"
#define LOG_TRUNC_MARKER_LEN (sizeof(LOG_TRUNC_MARKER) - 1)
/* What a cut string field still needs after its content: the marker, '"', and then "}\n". */
#define LOG_FIELD_TAIL (LOG_TRUNC_MARKER_LEN + 1 + 2)

static atomic_int log_level = LATCH_LOG_INFO;

static const char *const level_names[] = {
    [LATCH_LOG_DEBUG] = "debug",
    [LATCH_LOG_INFO] = "info",
    [LATCH_LOG_WARN] = "warn",
    [LATCH_LOG_ERROR] = "error",
};

void latch_log_set_level(enum latch_log_level level)
{
    if ((int)level < LATCH_LOG_DEBUG || (int)level > LATCH_LOG_ERROR)
        return;
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum latch_log_level latch_log_get_level(void)
{
    return (enum latch_log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool latch_log_enabled(enum latch_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

bool latch_log_parse_level(const char *text, enum latch_log_level *out)
{
    if (text == NULL)
        return false;
    for (int i = LATCH_LOG_DEBUG; i <= LATCH_LOG_ERROR; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            if (out != NULL)
                *out = (enum latch_log_level)i;
            return true;
        }
    }
    return false;
}

const char *latch_log_level_name(enum latch_log_level level)
{
    if ((int)level < LATCH_LOG_DEBUG || (int)level > LATCH_LOG_ERROR)
        return "unknown";
    return level_names[level];
}

void latch_log_timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;

    if (buf == NULL || cap == 0)
        return;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        snprintf(buf, cap, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/*
 * The escaper behind latch_log_json_escape(). Appends whole units only (an escape sequence or a
 * UTF-8 character is never split), keeps out NUL-terminated when there is room, and reports
 * through *cut whether it stopped early. Returns the new length.
 */
static size_t escape_units(char *out, size_t used, size_t cap, const char *s, size_t len, bool *cut)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    *cut = false;
    while (i < len) {
        char unit[8];
        const char *src = unit;
        size_t n;
        size_t consumed = 1;
        unsigned char c = p[i];

        if (c == '"' || c == '\\') {
            unit[0] = '\\';
            unit[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            memcpy(unit, "\\u00", 4);
            (void)latch_hex_encode(&c, 1, unit + 4, sizeof(unit) - 4);
            n = 6;
        } else if (c < 0x80) {
            unit[0] = (char)c;
            n = 1;
        } else {
            consumed = latch_utf8_seq_len(p + i, len - i);
            if (consumed == 0) {
                /* Invalid UTF-8 would make the whole line invalid JSON: substitute U+FFFD. */
                src = "\\ufffd";
                n = 6;
                consumed = 1;
            } else {
                src = s + i;
                n = consumed;
            }
        }
        /* Keep one byte for the terminating NUL. */
        if (n >= cap - used) {
            *cut = true;
            break;
        }
        memcpy(out + used, src, n);
        used += n;
        i += consumed;
    }
    out[used] = '\0';
    return used;
}

size_t latch_log_json_escape(char *out, size_t used, size_t cap, const char *s, size_t len)
{
    bool cut;

    if (out == NULL || used >= cap)
        return cap;
    if (s == NULL)
        len = 0;
    used = escape_units(out, used, cap, s, len, &cut);
    return cut ? cap : used;
}

/* A log line under construction; once a field had to be cut, later fields are dropped. */
struct line {
    char buf[LOG_LINE_MAX + 1];
    size_t len;
    bool full;
};

static void line_begin(struct line *ln, enum latch_log_level level)
{
    char ts[40];

    latch_log_timestamp(ts, sizeof(ts));
    ln->full = false;
    ln->len = (size_t)snprintf(ln->buf, sizeof(ln->buf), "{\"time\":\"%s\",\"level\":\"%s\"", ts,
                               latch_log_level_name(level));
}

static void line_put(struct line *ln, const char *s, size_t n)
{
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
}

/* Appends ,"key":"value" — cut with the marker when it does not fit, so the line stays valid. */
static void line_field(struct line *ln, const char *key, const char *value, size_t vlen)
{
    size_t klen = strlen(key);
    size_t room = LOG_LINE_MAX - LOG_FIELD_TAIL;
    bool cut;

    if (ln->full)
        return;
    /* ,"key":" needs klen + 5 bytes, and at least something of the value should follow. */
    if (ln->len + klen + 5 + 1 > room) {
        ln->full = true;
        return;
    }
    line_put(ln, ",\"", 2);
    line_put(ln, key, klen);
    line_put(ln, "\":\"", 3);
    ln->len = escape_units(ln->buf, ln->len, room + 1, value, vlen, &cut);
    if (cut) {
        line_put(ln, LOG_TRUNC_MARKER, LOG_TRUNC_MARKER_LEN);
        ln->full = true;
    }
    line_put(ln, "\"", 1);
}

/* Writes iov_in (at most two parts) with one writev(2), looping only on EINTR or a short write. */
static void write_all(const struct iovec *iov_in, int iovcnt)
{
    struct iovec iov[2] = {{0}};
    int saved_errno = errno;

    memcpy(iov, iov_in, sizeof(iov[0]) * (size_t)iovcnt);
    while (iovcnt > 0) {
        ssize_t w = writev(STDERR_FILENO, iov, iovcnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break; /* nowhere left to report a failure to log */
        }
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov[0].iov_len) {
            left -= iov[0].iov_len;
            iov[0] = iov[1];
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov[0].iov_base = (char *)iov[0].iov_base + left;
            iov[0].iov_len -= left;
        }
    }
    errno = saved_errno;
}

static void line_end(struct line *ln)
{
    struct iovec iov;

    line_put(ln, "}\n", 2);
    iov.iov_base = ln->buf;
    iov.iov_len = ln->len;
    write_all(&iov, 1);
}

/* Appends the request's id and tenant as the access log names them ("requestId", and "tenant"
 * a string or null), so a line can be joined with the request's access line. They come before
 * the message: a long message cut at the end of the line cannot drop them. */
static void line_context(struct line *ln, const char *request_id, const char *tenant)
{
    line_field(ln, "requestId", request_id, strlen(request_id));
    if (tenant != NULL)
        line_field(ln, "tenant", tenant, strlen(tenant));
    else if (!ln->full)
        line_put(ln, ",\"tenant\":null", 14);
}

/* Formats and writes one line; request_id NULL: a line about no request. */
static void log_v(enum latch_log_level level, const char *request_id, const char *tenant,
                  const char *fmt, va_list ap)
{
    struct line ln;
    /* As large as a whole line: a message vsnprintf() had to cut can never fit in the line, so
     * line_field() always cuts it too and adds the marker. */
    char msg[LOG_LINE_MAX];
    int n;
    size_t mlen;
    int saved_errno = errno; /* so callers may log between a failure and reading errno */

    if (!latch_log_enabled(level))
        return;
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0) {
        snprintf(msg, sizeof(msg), "(unformattable log message)");
        n = (int)strlen(msg);
    }
    mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
    line_begin(&ln, level);
    if (request_id != NULL)
        line_context(&ln, request_id, tenant);
    line_field(&ln, "msg", msg, mlen);
    line_end(&ln);
    errno = saved_errno;
}

void latch_log(enum latch_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void latch_log_request(enum latch_log_level level, const char *request_id, const char *tenant,
                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_v(level, request_id != NULL ? request_id : "", tenant, fmt, ap);
    va_end(ap);
}

void latch_log_request_v(enum latch_log_level level, const char *request_id, const char *tenant,
                         const char *fmt, va_list ap)
{
    log_v(level, request_id != NULL ? request_id : "", tenant, fmt, ap);
}

static void log_err(const char *request_id, const char *tenant, const char *what,
                    const struct latch_error *err)
{
    struct line ln;
    int saved_errno = errno;

    if (!latch_log_enabled(LATCH_LOG_ERROR))
        return;
    if (what == NULL)
        what = "";
    line_begin(&ln, LATCH_LOG_ERROR);
    if (request_id != NULL)
        line_context(&ln, request_id, tenant);
    line_field(&ln, "msg", what, strlen(what));
    if (err != NULL) {
        line_field(&ln, "code", err->code, strnlen(err->code, sizeof(err->code)));
        line_field(&ln, "message", err->message, strnlen(err->message, sizeof(err->message)));
        line_field(&ln, "detail", err->detail, strnlen(err->detail, sizeof(err->detail)));
        if (err->status != 0 && !ln.full) {
            char st[32];
            int n = snprintf(st, sizeof(st), ",\"status\":%d", err->status);
            if (n > 0 && ln.len + (size_t)n + 2 <= LOG_LINE_MAX)
                line_put(&ln, st, (size_t)n);
        }
    }
    line_end(&ln);
    errno = saved_errno;
}

void latch_log_error(const char *what, const struct latch_error *err)
{
    log_err(NULL, NULL, what, err);
}

void latch_log_request_error(const char *request_id, const char *tenant, const char *what,
                             const struct latch_error *err)
{
    log_err(request_id != NULL ? request_id : "", tenant, what, err);
}

void latch_log_raw_line(const char *json, size_t len)
{
    struct iovec iov[2];

    if (json == NULL)
        return;
    /* The caller built the line; add the newline unless it has one, in the same writev(2). */
    while (len > 0 && json[len - 1] == '\n')
        len--;
    iov[0].iov_base = (void *)json;
    iov[0].iov_len = len;
    iov[1].iov_base = (void *)"\n";
    iov[1].iov_len = 1;
    write_all(iov, 2);
}
