/* Filling struct latch_error; see error.h. */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

latch_rc latch_error_set(struct latch_error *err, int status, const char *code, const char *fmt,
                         ...)
{
    if (err == NULL)
        return LATCH_FAIL;
    err->status = status;
    snprintf(err->code, sizeof(err->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->detail[0] = '\0';
    return LATCH_FAIL;
}

void latch_error_detail(struct latch_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    size_t used = strlen(err->detail);
    if (used + 1 >= sizeof(err->detail))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail + used, sizeof(err->detail) - used, fmt, ap);
    va_end(ap);
}

void latch_error_clear(struct latch_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof(*err));
}
