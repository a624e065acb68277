/*
 * tests/unit/connectors/fake_host.{h,c}: the fake connector host the connector unit tests share.
 * A test loads a connector's .so with dlopen (as latchd does) and drives its operations through
 * fake_host, a services table whose state is the whole struct latch_connector_ctx below (the
 * connector sees it as opaque): configuration and connector session in tables, an HTTP service
 * that answers from canned routes keyed by method and URL and records every request, json_get
 * with dotted paths on yajl, form encoding, base64 and the crypto services (OpenSSL) as the real
 * host does them, base64url, json_get and json_members on core/util's codec and bounded JSON
 * reader (the real host's own), render_template on core/util/template.c (the real host's
 * renderer), an smtp_send that records the request instead of connecting, and an arena that is a
 * list of malloc'd blocks freed by fake_host_clear(). One connector is loaded at a time (D); F is
 * the ctx most tests use.
 */
#ifndef LATCH_TEST_FAKE_HOST_H
#define LATCH_TEST_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <latch/connector.h>

#define FAKE_MAX_ITEMS 64

struct kv {
    const char *key;
    const char *value;
};

struct latch_connector_ctx;

/* A canned answer. With answer set, url is a prefix and every GET under it is answered 200 with
 * what answer returns for the URL asked. */
struct route {
    const char *method;
    const char *url;
    int rc; /* what http returns: OK (answer below), TIMEOUT or GENERAL */
    int status;
    const char *body;
    const char *(*answer)(struct latch_connector_ctx *ctx, const char *url);
};

struct recorded {
    const char *method;
    const char *url;
    const char *body;
    size_t body_len;
    uint32_t timeout_ms;
    size_t nheaders;
    struct kv headers[32];
};

/* The connector sees an opaque ctx; this test's is the whole fake state. */
struct latch_connector_ctx {
    void **blocks; /* the arena */
    size_t nblocks, cap;
    struct kv config[FAKE_MAX_ITEMS];
    size_t nconfig;
    struct kv session[32];
    size_t nsession;
    struct route routes[FAKE_MAX_ITEMS];
    size_t nroutes;
    struct recorded requests[FAKE_MAX_ITEMS];
    size_t nrequests;
    char last_log[1024];
    int last_log_level;
    char all_logs[8192]; /* every line logged since the last new_flow, one per line */
    int nrandom, nsha256, njson_members; /* calls of the 1.1 services */
    int nrender;                         /* calls of render_template */
    unsigned last_render_flags;
    bool random_fails;
    /* smtp_send: what it returns, how often it was called, and the last request it got (its
     * strings are the connector's, which live in this arena until fake_host_clear) */
    int smtp_rc;
    int nsent;
    struct latch_connector_smtp_request smtp_req;
    const char *rcpt0;
};

extern struct latch_connector_ctx F;
extern const struct latch_connector_descriptor *D;
extern const struct latch_connector_host fake_host;

/* Loads the connector at path into D (0, or -1 with the reason on stderr); unloads it. */
int fake_host_load(const char *path);
void fake_host_unload(void);
/* Frees F's arena and zeroes F. */
void fake_host_clear(void);

/* The services, callable by the tests too. */
void *fake_alloc(struct latch_connector_ctx *ctx, size_t size);
char *fake_dup(struct latch_connector_ctx *ctx, const char *s);
char *fake_format(struct latch_connector_ctx *ctx, const char *fmt, ...)
    LATCH_CONNECTOR_PRINTF(2, 3);
const char *fake_config_get(struct latch_connector_ctx *ctx, const char *key);
int fake_session_set(struct latch_connector_ctx *ctx, const char *key, const char *value);
const char *fake_session_get(struct latch_connector_ctx *ctx, const char *key);
const char *fake_json_get(struct latch_connector_ctx *ctx, const char *json, const char *path);
char *fake_base64(struct latch_connector_ctx *ctx, const void *data, size_t len);

/* Test helpers on F. */
void new_flow(void); /* forgets session, routes, requests and logs; keeps config and arena */
void config(const char *key, const char *value);
void route(const char *method, const char *url, int status, const char *body);
void route_fail(const char *method, const char *url, int rc);
/* The decoded value of name in a query string or form body (the part after '?' for a URL). */
const char *form_value(const char *text, const char *name);
const struct recorded *request_to(const char *method, const char *url);
const char *header(const struct recorded *r, const char *name);

/* Fails the test when a line logged since the last new_flow contains one of secrets (a
 * NULL-terminated list). */
void assert_logs_lack(const char *const *secrets);

/* A message connector's failing send: with POST url answering status and body, D's send_message
 * of msg returns want after one request, its last log line is a warning containing needle, and
 * no log line holds one of secrets. */
void expect_send_failure(const struct latch_connector_message *msg, const char *url, int status,
                         const char *body, int want, const char *needle,
                         const char *const *secrets);

#endif
