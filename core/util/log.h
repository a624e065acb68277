/*
 * Structured logging: one JSON object per line on stderr. Lines logged while serving a request
 * carry its id and tenant (latch_log_request, and latch_http_log in http/http.h).
 *
 * Any thread may log. The level can change at run time (SIGHUP); reads of it are relaxed atomics.
 * Never pass secrets, passwords, codes or tokens; use latch_log_fingerprint() to correlate.
 */
#ifndef LATCH_UTIL_LOG_H
#define LATCH_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

enum latch_log_level {
    LATCH_LOG_DEBUG = 0,
    LATCH_LOG_INFO,
    LATCH_LOG_WARN,
    LATCH_LOG_ERROR,
};

void latch_log_set_level(enum latch_log_level level);
enum latch_log_level latch_log_get_level(void);
bool latch_log_enabled(enum latch_log_level level);

/* Parses "debug", "info", "warn" or "error". */
bool latch_log_parse_level(const char *text, enum latch_log_level *out);
const char *latch_log_level_name(enum latch_log_level level);

/* Logs {"time":…,"level":…,"msg":<formatted>} */
void latch_log(enum latch_log_level level, const char *fmt, ...) LATCH_PRINTF(2, 3);

/* Logs an error with its code, message and detail. */
void latch_log_error(const char *what, const struct latch_error *err);

/* As latch_log() and latch_log_error(), for a line logged while serving a request: the line
 * also carries "requestId" and "tenant" (null when tenant is NULL), named as in the access log.
 * Request handlers use latch_http_log() and latch_http_log_error() (http/http.h), which pass the
 * request's own; these are for code that holds the two strings but not the request. */
void latch_log_request(enum latch_log_level level, const char *request_id, const char *tenant,
                       const char *fmt, ...) LATCH_PRINTF(4, 5);
void latch_log_request_v(enum latch_log_level level, const char *request_id, const char *tenant,
                         const char *fmt, va_list ap) LATCH_PRINTF(4, 0);
void latch_log_request_error(const char *request_id, const char *tenant, const char *what,
                             const struct latch_error *err);

/* Writes a complete, already-formatted JSON object as one line (used by the access log). */
void latch_log_raw_line(const char *json, size_t len);

/* Appends `s` to `out` (capacity `cap`) as JSON string content (no quotes); returns the new length
 * or cap when it did not fit. */
size_t latch_log_json_escape(char *out, size_t used, size_t cap, const char *s, size_t len);

/* Formats the current UTC time as RFC 3339 with milliseconds into buf (at least 32 bytes). */
void latch_log_timestamp(char *buf, size_t cap);

#define latch_debug(...) latch_log(LATCH_LOG_DEBUG, __VA_ARGS__)
#define latch_info(...)  latch_log(LATCH_LOG_INFO, __VA_ARGS__)
#define latch_warn(...)  latch_log(LATCH_LOG_WARN, __VA_ARGS__)
#define latch_err(...)   latch_log(LATCH_LOG_ERROR, __VA_ARGS__)

#endif
