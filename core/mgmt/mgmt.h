/*
 * mgmt/: the Management API under <tenant endpoint>/api, in Logto's paths and JSON shapes.
 *
 * Every route is registered with latch_mgmt_route(), which wraps the handler with the bearer
 * check: a JWT signed by this tenant's keys, issuer <tenant endpoint>/oidc, audience the
 * tenant's Management API indicator (<tenant endpoint>/api), scope containing `all`
 * (401 without or with a bad token, 403 without the scope). The handler runs only when the
 * check passed, with req->tenant set.
 */
#ifndef LATCH_MGMT_MGMT_H
#define LATCH_MGMT_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "http/http.h"
#include "store/store.h"

/* Registers pattern (inside the tenant endpoint, e.g. "/api/applications/:id") as a protected
 * Management API route. Main thread, before the server starts. */
latch_rc latch_mgmt_route(struct latch_server *srv, enum latch_http_method method,
                          const char *pattern, latch_http_handler handler) LATCH_MUST_CHECK;

/* A table of protected routes, registered in order with latch_mgmt_routes(). */
struct latch_mgmt_route_def {
    enum latch_http_method method;
    const char *pattern;
    latch_http_handler handler;
    const void *arg; /* passed to the handler (NULL when left out) */
};
latch_rc latch_mgmt_routes(struct latch_server *srv, const struct latch_mgmt_route_def *routes,
                           size_t n) LATCH_MUST_CHECK;

/* Registers every Management API route (each module's register function). */
latch_rc latch_mgmt_register(struct latch_server *srv) LATCH_MUST_CHECK;

/* ---- webhook delivery (hook_delivery.c) ---- */

struct event_base;
struct latch_workpool;

struct latch_mgmt_hooks_options {
    const char *conninfo; /* the pool's database URL (copied by the store) */
    bool transaction_pooling;
    struct latch_workpool *io; /* the I/O lane (latch_server_lane) */
    int timeout_ms;            /* one attempt */
    int retry_base_ms;         /* the first retry's delay */
    int sweep_ms;              /* how often the outbox is swept */
};

/* Starts delivering webhooks from this node on base's thread (latchd's main thread, after
 * latch_server_start). */
latch_rc latch_mgmt_hooks_start(struct event_base *base,
                                const struct latch_mgmt_hooks_options *opts) LATCH_MUST_CHECK;
/* A NOTIFY on channel latch_hooks (payload: the tenant id) was heard: claim what is due there.
 * base's thread. */
void latch_mgmt_hooks_wake(const char *tenant_id);
#define LATCH_MGMT_HOOKS_CHANNEL "latch_hooks"
/* Stops claiming and frees the store (before the server and its lanes are freed); the mailbox
 * goes with latch_mgmt_hooks_free(), after the lanes. */
void latch_mgmt_hooks_stop(void);
void latch_mgmt_hooks_free(void);

/* ---- helpers for handlers (mgmt/util.c) ---- */

/* Parses the JSON request body with latch_json_parse() (util/json.h): an object, nesting depth
 * <= 16, well-formed UTF-8, no NUL bytes, no "\u0000" escapes, no duplicate keys. On failure
 * answers 400
 * {"code":"guard.invalid_input",...} itself and returns NULL. The caller owns the tree and must
 * yajl_tree_free() it: copy what it needs into req->arena, then free the tree before starting
 * anything asynchronous. */
yajl_val latch_mgmt_body(struct latch_request *req);

/* Answers 400 {"code":"guard.invalid_input","message":"<field>: <problem>"}. */
void latch_mgmt_invalid(struct latch_request *req, const char *field, const char *problem);

/* Pagination as Logto: ?page=1&page_size=20 (page >= 1, 1 <= page_size <= 100 here; both
 * optional, defaults 1 and 20). Fills limit/offset text for SQL. Answers 400
 * {"code":"guard.invalid_pagination",...} itself and returns false on bad values. */
bool latch_mgmt_page(struct latch_request *req, char limit[16], char offset[16]);

/* A query parameter (decoded, first occurrence; in req->arena) or NULL, also when the query
 * string is malformed. */
const char *latch_mgmt_query(struct latch_request *req, const char *name);

/* Maps a store error to Logto-like answers: unique violation (23505) → 422 with conflict_code
 * and conflict_message (defaults: "entity.unique_integrity_violation"), foreign-key violation →
 * 422 "entity.relation_foreign_key_not_found", check or not-null violation → 400
 * "guard.invalid_input", anything else → the error itself (5xx with a generic message; the
 * detail goes to the log). */
void latch_mgmt_store_error(struct latch_request *req, const struct latch_error *err,
                            const char *conflict_code, const char *conflict_message);

/* The hash key for client secrets (derived from LATCH_SECRET_KEY at start-up). */
const uint8_t *latch_mgmt_secret_hash_key(void);

#endif
