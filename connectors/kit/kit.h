/*
 * connectors/kit/: what the message connectors (http-email, http-sms, twilio-sms) share, built
 * into each of their .so files (kit.c is one of each module's sources; the symbols stay hidden,
 * so every connector still exports latch_connector_describe alone). Written, like the
 * connectors, against plugins-api/latch/connector.h only: memory, JSON, HTTP and logging come
 * from the host services table the caller passes in. Every function is thread-safe: none keeps
 * state between calls.
 */
#ifndef LATCH_CONNECTOR_KIT_H
#define LATCH_CONNECTOR_KIT_H

#include <stdbool.h>
#include <stddef.h>

#include <latch/connector.h>

#define KIT_LOG_DEBUG LATCH_CONNECTOR_LOG_DEBUG
#define KIT_LOG_INFO  LATCH_CONNECTOR_LOG_INFO
#define KIT_LOG_WARN  LATCH_CONNECTOR_LOG_WARN
#define KIT_LOG_ERROR LATCH_CONNECTOR_LOG_ERROR

/* The most variables a message carries (struct latch_connector_message.nvars), plus the locale
 * kit_message_vars may add. */
#define KIT_VARS_MAX 33

/* A message's variables as a connector uses them (see kit_message_vars). */
struct kit_vars {
    struct latch_connector_param v[KIT_VARS_MAX];
    size_t n;
};

bool kit_nonempty(const char *s);

/* The host table has every 1.1 service a message connector calls (render_template is the last
 * of them) and the major this connector was built for: a broken or older host fails the call
 * instead of crashing it. */
bool kit_host_ok(const struct latch_connector_host *host);

/* Checks the parts of msg every message connector reads (struct size, a type name, a recipient,
 * at most 32 variables with names) and copies its variables into *out in order, leaving out a
 * later duplicate of a name and adding "locale" from msg->locale when the variables lack it
 * (Logto's payload carries the locale there). Logs why and returns false when msg is unusable. */
bool kit_message_vars(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                      const struct latch_connector_message *msg, struct kit_vars *out);

/* True when text contains the value of a variable that must not reach a log (a code, a link:
 * any value of 4 characters or more), so that an upstream answer echoing the request is not
 * logged. */
bool kit_repeats_vars(const char *text, const struct kit_vars *vars);

/* An upstream's text made fit for one log line: a copy (arena) with every control character
 * replaced by '?', cut after max bytes with "..." appended; the replacement phrase when text
 * repeats a message variable (kit_repeats_vars); NULL when text is NULL or memory runs out. */
const char *kit_quote(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                      const char *text, size_t max, const struct kit_vars *vars);

/* NULL when url is an absolute https URL a connector may call (https scheme, a host, no user
 * name or password, no fragment, no space or control character, at most 2048 bytes); else a
 * static phrase saying what is wrong, to follow the field's name ("must be an https URL"). */
const char *kit_https_url_problem(const char *url);

/* NULL when value may be sent as an HTTP header value (no control character, at most 4096
 * bytes), else a static phrase saying why not. */
const char *kit_header_value_problem(const char *value);

/* The status for a host->http that brought no answer: its own when it is a timeout. */
int kit_http_failure(int rc);

#endif
