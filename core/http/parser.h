/*
 * HTTP/1.1 request-head parser and chunked body decoder (RFC 9112), used by server.c and by
 * the fuzzer. Pure functions over caller-supplied bytes: no I/O, no allocation but the request
 * arena. Every limit it enforces becomes a status the server answers with.
 */
#ifndef LATCH_HTTP_PARSER_H
#define LATCH_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "util/error.h"

/* What the head says about the body and the connection. */
struct latch_http_head_info {
    bool has_content_length;
    size_t content_length;
    bool chunked;
    bool keep_alive;
    bool expect_continue;
};

/*
 * Parses a complete request head buf[0..len), which ends with the empty line, into req (strings
 * go to req->arena). On failure err->status is 400, 413, 414, 417, 431, 501 or 505.
 */
latch_rc latch_http_parse_head(struct latch_request *req, const char *buf, size_t len,
                               struct latch_http_head_info *info,
                               struct latch_error *err) LATCH_MUST_CHECK;

/* Incremental decoder for Transfer-Encoding: chunked. */
enum latch_chunked_state {
    LATCH_CHUNKED_SIZE = 0,
    LATCH_CHUNKED_DATA,
    LATCH_CHUNKED_DATA_CRLF,
    LATCH_CHUNKED_TRAILER,
    LATCH_CHUNKED_DONE,
};

struct latch_chunked {
    enum latch_chunked_state state;
    size_t remaining; /* bytes left in the current chunk */
    size_t total;     /* decoded bytes so far */
};

/*
 * Feeds in[0..len). Decoded data is appended to out via append(out_arg, data, n). *consumed
 * gets how many input bytes were used; incomplete lines are left unconsumed for the next call.
 * Returns 1 when the body is complete, 0 when more input is needed, -1 on error (err filled:
 * 400 for malformed framing, 413 when total would exceed max_body).
 */
int latch_chunked_feed(struct latch_chunked *ck, const char *in, size_t len, size_t *consumed,
                       size_t max_body, void (*append)(void *out_arg, const char *data, size_t n),
                       void *out_arg, struct latch_error *err);

#endif
