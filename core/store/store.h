/*
 * store/: the only module that includes libpq.
 *
 * Asynchronous access for loop threads: each loop thread owns one struct latch_store, a small
 * pool of non-blocking PGconn driven by that loop's event_base. Connections run in pipeline
 * mode; every call below sends one pipeline segment (optionally `set_config('latch.tenant_id',
 * …, true)`, then the statements, then a Sync), so a call is one round trip and runs in one
 * implicit transaction: all of its statements commit together or not at all, and the tenant
 * setting that row-level security reads lasts exactly that long.
 *
 * Statements are declared once as `static const struct latch_stmt` and prepared lazily on each
 * connection the first time they are used there.
 *
 * While PostgreSQL is unreachable, calls complete with a 503 error ("service_unavailable");
 * connections reconnect by themselves with backoff. Every store of the process hears of every
 * other: the first connection that succeeds after an outage wakes the reconnects of all stores
 * at once, and a call on a store whose connections are still down waits briefly (wait_ms) for
 * one when another store of the process is connected, instead of failing.
 *
 * Behind a transaction-mode pooler (PgBouncer), set transaction_pooling: statements are sent
 * unnamed and one call at a time per connection. In session mode, the errors that only such a
 * pooler causes (a prepared statement missing or already there) switch every store of the
 * process to transaction pooling, with one log line telling the operator to configure it.
 *
 * A database host name is resolved on a helper thread (never on the loop), and the connection
 * is made to the addresses found (libpq's hostaddr), keeping the name for TLS and Kerberos.
 *
 * Threading: a struct latch_store and everything it hands out belong to its loop thread.
 * Callbacks run on that thread exactly once, also on error or when the store is freed.
 */
#ifndef LATCH_STORE_STORE_H
#define LATCH_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct event_base;
struct latch_store;
struct latch_store_result;

#define LATCH_STORE_MAX_PARAMS 16
#define LATCH_STORE_MAX_OPS    8

/* A statement text with a stable name; define them `static const`. */
struct latch_stmt {
    const char *name; /* unique across the program, e.g. "tenants_get" */
    const char *sql;  /* $1..$n text parameters */
    int nparams;
};

/* One statement of a call, with its text parameters (NULL = SQL NULL). */
struct latch_store_op {
    const struct latch_stmt *stmt;
    const char *params[LATCH_STORE_MAX_PARAMS];
};

/*
 * Completion: results[i] is the result of ops[i] (NULL entries only when err != NULL).
 * err is NULL on success. The results are valid only during the callback.
 */
typedef void (*latch_store_cb)(struct latch_store_result *const *results, int nresults,
                               const struct latch_error *err, void *arg);

struct latch_store_options {
    const char *conninfo;     /* libpq connection string or URI; copied */
    int pool_size;            /* connections, >= 1 */
    int max_queue;            /* calls waiting for a connection before new ones get 503 */
    int max_in_flight;        /* pipeline depth per connection */
    int wait_ms;              /* how long a call may wait for a connection of a store with none
                               * ready while the database is reachable (0: 1000 ms) */
    bool transaction_pooling; /* the conninfo goes through a transaction-mode pooler */

    /* Optional: LISTEN on these channels on every connection — listen_channel, and each of
     * listen_channels (a NULL-terminated list), at most LATCH_STORE_MAX_OPS in all; on_notify
     * gets each notification with its channel, on_connect runs whenever a connection is
     * (re-)established and its LISTEN took effect (notifications may have been missed while it
     * was down). Both run on the store's thread. Channel names are our own identifiers,
     * never input. */
    const char *listen_channel;
    const char *const *listen_channels;
    void (*on_notify)(const char *channel, const char *payload, void *arg);
    void (*on_connect)(void *arg);
    void *notify_arg;
};

/* Creates the pool and starts connecting; never blocks. Returns NULL on allocation failure. */
struct latch_store *latch_store_new(struct event_base *base,
                                    const struct latch_store_options *opts);

/* Fails every pending call (503), closes connections, frees the store. */
void latch_store_free(struct latch_store *store);

/*
 * Runs ops[0..nops) in one implicit transaction, with `latch.tenant_id` set to tenant_id for
 * its duration (NULL: not set, so row-level security hides every tenant-owned row).
 * Parameters are copied before this returns. cb runs later, never from inside this call.
 */
void latch_store_exec(struct latch_store *store, const char *tenant_id,
                      const struct latch_store_op *ops, int nops, latch_store_cb cb, void *arg);

/* Convenience for one statement: params has stmt->nparams entries. */
void latch_store_query(struct latch_store *store, const char *tenant_id,
                       const struct latch_stmt *stmt, const char *const *params, latch_store_cb cb,
                       void *arg);

/* True when at least one connection is established. */
bool latch_store_is_connected(const struct latch_store *store);

/* True once this store has had a connection established (since it was created). */
bool latch_store_has_connected(const struct latch_store *store);

/* Connections established across every store of the process (any thread). */
int latch_store_ready_total(void);

/* True once transaction pooling was detected on a store set up for session pooling (every
 * store of the process then works as under transaction pooling). Any thread. */
bool latch_store_transaction_pooling(void);

/* Why the store is not connected (last connection error), "" when connected. Borrowed. */
const char *latch_store_last_error(const struct latch_store *store);

/* Result access (rows and columns from 0; values are text). */
int latch_store_result_rows(const struct latch_store_result *res);
int latch_store_result_cols(const struct latch_store_result *res);
bool latch_store_result_isnull(const struct latch_store_result *res, int row, int col);
/* Borrowed, valid during the callback; "" for NULL. */
const char *latch_store_result_value(const struct latch_store_result *res, int row, int col);
size_t latch_store_result_length(const struct latch_store_result *res, int row, int col);
/* Rows affected by INSERT/UPDATE/DELETE. */
long latch_store_result_affected(const struct latch_store_result *res);

/* The pool's state, for metrics. Only on the store's thread. */
struct latch_store_stats {
    int connections; /* configured */
    int ready;       /* established */
    int busy;        /* established, with calls in flight */
    int waiting;     /* calls queued for a connection */
};
void latch_store_stats_get(const struct latch_store *store, struct latch_store_stats *out);

#endif
