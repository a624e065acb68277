/*
 * Errors and results shared by every module of core/.
 *
 * A fallible function returns latch_rc (0 = ok, -1 = failed, must be checked) and fills a
 * struct latch_error: a machine code (an OAuth error such as "invalid_grant", or a Latch code
 * such as "tenant.not_found"), the HTTP status to answer with, a message safe to show a client,
 * and a detail meant only for the log. Asynchronous completions receive a
 * `const struct latch_error *` that is NULL on success.
 */
#ifndef LATCH_UTIL_ERROR_H
#define LATCH_UTIL_ERROR_H

#include <stdarg.h>

typedef int latch_rc;

#if defined(__GNUC__)
#define LATCH_MUST_CHECK   __attribute__((warn_unused_result))
#define LATCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LATCH_MUST_CHECK
#define LATCH_PRINTF(f, a)
#endif

#define LATCH_OK   0
#define LATCH_FAIL (-1)

struct latch_error {
    int status;        /* HTTP status to answer with; 0 when not set */
    char code[64];     /* machine-readable code, e.g. "invalid_request" */
    char message[256]; /* safe for clients */
    char detail[512];  /* log only; may name internal state, never secrets */
};

/* Fills err (which may be NULL) and returns LATCH_FAIL, so callers can `return
 * latch_error_set(...)`. */
latch_rc latch_error_set(struct latch_error *err, int status, const char *code, const char *fmt,
                         ...) LATCH_PRINTF(4, 5);

/* Appends a log-only detail to err (which may be NULL). */
void latch_error_detail(struct latch_error *err, const char *fmt, ...) LATCH_PRINTF(2, 3);

void latch_error_clear(struct latch_error *err);

#endif
