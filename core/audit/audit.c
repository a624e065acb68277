/*
 * The audit log's entries and each loop thread's writer (see audit.h): a tracked request's entry
 * is made when it is answered and queued on its loop; the loop's writer sends the queue in
 * batches over its own PostgreSQL connection, one batch in flight at a time.
 *
 * Flushing: a batch goes out as soon as AUDIT_BATCH entries wait and none is in flight, else
 * LATCH_AUDIT_LOG_FLUSH_MS after the first entry that found the queue idle. A batch that fails is
 * dropped (counted, one log line a minute): entries are not retried, so that a row the database
 * refuses cannot hold up every entry behind it. At shutdown (the loop threads have stopped), what
 * is still queued, and a batch whose answer the shutdown cut off (its INSERT is idempotent), is
 * written synchronously when the database was reachable.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "audit/audit.h"
#include "audit/queue.h"
#include "config/config.h"
#include "jose/secret.h"
#include "metrics/metrics.h"
#include "store/admin.h"
#include "store/store.h"
#include "tenants/tenants.h"
#include "util/json.h"
#include "util/log.h"

#define AUDIT_BATCH          512  /* entries a batch takes at most */
#define AUDIT_ROW_MAX        8192 /* bytes of one rendered entry; a larger one is dropped */
#define AUDIT_BYTES_EACH     1024 /* the queue's byte bound: this much per entry of its bound */
#define AUDIT_VALUE_MAX      256  /* a noted value is cut here */
#define AUDIT_UA_MAX         512  /* User-Agent is cut here */
#define AUDIT_ERROR_MAX      2048 /* an error answer larger than this is recorded by status only */
#define AUDIT_ID_LEN         21   /* Logto's nanoid length */
#define AUDIT_WARN_SECONDS   60   /* at most one drop line a minute per loop and reason */
#define AUDIT_CREATED_ID_MAX 128  /* the longest id read from a creation's answer */

static const char *const field_names[LATCH_AUDIT_FIELDS] = {
    [LATCH_AUDIT_USER_ID] = "userId",
    [LATCH_AUDIT_APPLICATION_ID] = "applicationId",
    [LATCH_AUDIT_ORGANIZATION_ID] = "organizationId",
    [LATCH_AUDIT_CONNECTOR_ID] = "connectorId",
    [LATCH_AUDIT_CONNECTOR_VERSION] = "connectorVersion",
    [LATCH_AUDIT_EVENT] = "interactionEvent",
    [LATCH_AUDIT_VERIFICATION_ID] = "verificationId",
    [LATCH_AUDIT_SCOPE] = "scope",
    [LATCH_AUDIT_TARGET_ID] = "targetId",
    [LATCH_AUDIT_PATH] = "path",
};

/* The statements of a batch: per tenant, select it for row-level security, then insert its
 * rows. The rows carry their own id and time, so writing a batch twice (shutdown) is harmless. */
static const struct latch_stmt set_tenant_stmt = {
    .name = "audit_set_tenant",
    .sql = "SELECT set_config('latch.tenant_id', $1, true)",
    .nparams = 1,
};

#define INSERT_SQL                                                                                 \
    "INSERT INTO logs (tenant_id, id, key, payload, created_at)"                                   \
    " SELECT current_setting('latch.tenant_id'), r.id, r.key, r.payload, r.created_at"             \
    " FROM jsonb_to_recordset($1::jsonb)"                                                          \
    " AS r(id varchar, key varchar, payload jsonb, created_at timestamptz)"                        \
    " ON CONFLICT DO NOTHING"

static const struct latch_stmt insert_stmt = {
    .name = "audit_insert",
    .sql = INSERT_SQL,
    .nparams = 1,
};

/* ---- the loop's writer ---- */

struct warn_limit {
    time_t last;
    unsigned long suppressed;
};

struct writer {
    const struct latch_config *cfg;
    struct latch_store *store;
    struct event *timer;
    struct latch_audit_queue queue;
    struct latch_audit_batch batch; /* in flight when busy */
    bool busy;
    bool timer_armed;
    bool closing; /* the loop has stopped: destroy() writes what is left */
    struct warn_limit full_warn, fail_warn;
};

/* A warning at most once a minute, with the count of the ones it held back. */
static bool warn_allowed(struct warn_limit *w, unsigned long *suppressed)
{
    time_t now = time(NULL);
    if (w->last != 0 && now - w->last < AUDIT_WARN_SECONDS) {
        w->suppressed++;
        return false;
    }
    *suppressed = w->suppressed;
    w->suppressed = 0;
    w->last = now;
    return true;
}

static void flush(struct writer *w);

static void arm_timer(struct writer *w)
{
    if (w->timer_armed || w->closing)
        return;
    int ms = w->cfg->audit_log_flush_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    if (evtimer_add(w->timer, &tv) == 0)
        w->timer_armed = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct writer *w = arg;
    w->timer_armed = false;
    flush(w);
}

static void batch_written(struct latch_store_result *const *results, int n,
                          const struct latch_error *err, void *arg)
{
    struct writer *w = arg;
    w->busy = false;
    if (w->closing) {
        /* Cut off by the shutdown: destroy() writes the batch again (or learns it was). */
        if (err == NULL) {
            latch_metrics_audit_written(w->batch.count);
            latch_audit_batch_reset(&w->batch);
        }
        return;
    }
    if (err != NULL) {
        latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_WRITE_FAILED, w->batch.count);
        unsigned long held = 0;
        if (warn_allowed(&w->fail_warn, &held))
            latch_warn("audit log: %zu entries dropped: the batch could not be written (%s: %s; "
                       "%lu earlier failures not logged). If no partition of \"logs\" fits, "
                       "check that latch_logs_maintain() runs (LATCH_LOG_MAINTENANCE_SECONDS)",
                       w->batch.count, err->code, err->detail[0] ? err->detail : err->message,
                       held);
    } else {
        latch_metrics_audit_written(w->batch.count);
    }
    latch_audit_batch_reset(&w->batch);
    if (w->queue.count >= AUDIT_BATCH)
        flush(w);
    else if (w->queue.count > 0)
        arm_timer(w);
}

static void flush(struct writer *w)
{
    if (w->busy || w->closing || w->queue.count == 0)
        return;
    if (latch_audit_batch_take(&w->batch, &w->queue) == 0)
        return;
    struct latch_store_op ops[2 * LATCH_AUDIT_BATCH_TENANTS];
    char *json[LATCH_AUDIT_BATCH_TENANTS] = {0};
    int nops = 0;
    for (int t = 0; t < w->batch.ntenants; t++) {
        size_t len;
        json[t] = latch_audit_batch_json(&w->batch, t, &len);
        if (json[t] == NULL)
            goto oom;
        ops[nops++] = (struct latch_store_op){&set_tenant_stmt, {w->batch.tenants[t]}};
        ops[nops++] = (struct latch_store_op){&insert_stmt, {json[t]}};
    }
    w->busy = true;
    /* The store copies the parameters before it returns. */
    latch_store_exec(w->store, NULL, ops, nops, batch_written, w);
    for (int t = 0; t < w->batch.ntenants; t++)
        free(json[t]);
    return;
oom:
    for (int t = 0; t < w->batch.ntenants; t++)
        free(json[t]);
    latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_WRITE_FAILED, w->batch.count);
    latch_audit_batch_reset(&w->batch);
}

/* Writes the batch and the queue synchronously (shutdown, main thread): per tenant of each
 * batch, one transaction. */
static void write_rest(struct writer *w)
{
    size_t written = 0, dropped = 0;
    struct latch_error err = {0};
    bool failed = false;
    for (;;) {
        for (int t = 0; t < w->batch.ntenants && !failed; t++) {
            size_t len;
            char *json = latch_audit_batch_json(&w->batch, t, &len);
            struct latch_admin_op op = {.sql = INSERT_SQL, .nparams = 1, .params = {json}};
            if (json == NULL || latch_store_admin_run(w->cfg->database_url, w->batch.tenants[t],
                                                      &op, 1, NULL, 0, &err) != LATCH_OK)
                failed = true;
            free(json);
        }
        if (failed)
            dropped += w->batch.count;
        else
            written += w->batch.count;
        latch_audit_batch_reset(&w->batch);
        if (w->queue.count == 0 || latch_audit_batch_take(&w->batch, &w->queue) == 0)
            break;
    }
    latch_metrics_audit_written(written);
    if (dropped > 0) {
        latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_WRITE_FAILED, dropped);
        latch_warn("audit log: %zu entries not written at shutdown (%s)", dropped,
                   err.message[0] ? err.message : "out of memory");
    }
}

static void writer_destroy(void *arg)
{
    struct writer *w = arg;
    if (w == NULL)
        return;
    w->closing = true;
    bool reachable = w->store != NULL && latch_store_is_connected(w->store);
    if (w->timer != NULL)
        event_free(w->timer);
    /* A batch in flight completes here (with an error unless its answer had come). */
    latch_store_free(w->store);
    if (reachable && (w->batch.count > 0 || w->queue.count > 0)) {
        write_rest(w);
    } else if (w->batch.count + w->queue.count > 0) {
        latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_WRITE_FAILED,
                                    w->batch.count + w->queue.count);
        latch_warn("audit log: %zu entries not written at shutdown: the database is unreachable",
                   w->batch.count + w->queue.count);
    }
    latch_audit_batch_clear(&w->batch);
    latch_audit_queue_clear(&w->queue);
    free(w);
}

static void *writer_create(struct latch_loop *loop)
{
    const struct latch_config *cfg = latch_loop_config(loop);
    struct writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->cfg = cfg;
    size_t cap = (size_t)cfg->audit_log_queue;
    if (latch_audit_queue_init(&w->queue, cap, cap * AUDIT_BYTES_EACH) != LATCH_OK ||
        latch_audit_batch_init(&w->batch, AUDIT_BATCH) != LATCH_OK)
        goto fail;
    w->timer = evtimer_new(latch_loop_base(loop), on_timer, w);
    /* A connection of its own: a batch never waits behind, nor delays, a request's statements.
     * One call at a time, so the store's queue holds nothing but that call. */
    struct latch_store_options opts = {
        .conninfo = cfg->database_url,
        .pool_size = 1,
        .max_queue = 2,
        .max_in_flight = 1,
        .transaction_pooling = cfg->db_transaction_pooling,
    };
    w->store = latch_store_new(latch_loop_base(loop), &opts);
    if (w->timer == NULL || w->store == NULL)
        goto fail;
    return w;
fail:
    latch_err("audit log: cannot set up the writer of loop %d; its entries are dropped",
              latch_loop_index(loop));
    writer_destroy(w);
    return NULL;
}

/* Queues a rendered row on req's loop (taking it), or drops it. */
static void writer_push(struct latch_request *req, char *row, size_t len)
{
    struct writer *w =
        latch_loop_local(req->loop, LATCH_LOOP_SLOT_AUDIT, writer_create, writer_destroy);
    if (w == NULL || len > AUDIT_ROW_MAX ||
        !latch_audit_queue_push(&w->queue, req->tenant->id, row, len)) {
        free(row);
        latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_QUEUE_FULL, 1);
        unsigned long held = 0;
        if (w != NULL && warn_allowed(&w->full_warn, &held))
            latch_warn("audit log: an entry was dropped: %zu entries (%zu bytes) wait to be "
                       "written on loop %d, the bound (LATCH_AUDIT_LOG_QUEUE) is reached "
                       "(%lu more drops not logged in the last minute)",
                       w->queue.count, w->queue.bytes, latch_loop_index(req->loop), held);
        return;
    }
    /* Draining: the node stops soon, write at once rather than at the next tick. */
    if (w->queue.count >= AUDIT_BATCH || latch_loop_is_draining(req->loop))
        flush(w);
    if (w->queue.count > 0)
        arm_timer(w);
}

/* ---- entries ---- */

struct track {
    const char *key;
    const char *fields[LATCH_AUDIT_FIELDS];
};

/* "2026-12-03T09:00:00.123456Z" */
static void now_text(char out[40])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* The key with "{event}" replaced; NULL when it needs an event that was not noted. */
static const char *resolve_key(struct latch_request *req, const struct track *t)
{
    const char *at = strstr(t->key, LATCH_AUDIT_EVENT_PLACEHOLDER);
    if (at == NULL)
        return t->key;
    const char *event = t->fields[LATCH_AUDIT_EVENT];
    if (event == NULL)
        return NULL;
    return latch_arena_printf(req->arena, "%.*s%s%s", (int)(at - t->key), t->key, event,
                              at + strlen(LATCH_AUDIT_EVENT_PLACEHOLDER));
}

/* A token answer's kinds of token and its scope, read from the member names the token endpoint
 * writes (the values, which are the tokens, are never read). */
static void write_token_facts(struct latch_json *j, const struct track *t, const char *body,
                              size_t len)
{
    if (body == NULL || len == 0 || memchr(body, '\0', len) != NULL)
        return;
    /* A scope is NQCHARs (RFC 6749 A.4): no quote or backslash ends it early. */
    const char *scope = strstr(body, "\"scope\":\"");
    if (scope != NULL && t->fields[LATCH_AUDIT_SCOPE] == NULL) {
        scope += 9;
        const char *end = strchr(scope, '"');
        if (end != NULL) {
            latch_json_key(j, "scope");
            latch_json_string_n(j, scope, (size_t)(end - scope));
        }
    }
    static const struct {
        const char *member, *type;
    } kinds[] = {{"\"access_token\":", "AccessToken"},
                 {"\"refresh_token\":", "RefreshToken"},
                 {"\"id_token\":", "IdToken"}};
    latch_json_key(j, "tokenTypes");
    latch_json_begin_array(j);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strstr(body, kinds[i].member) != NULL)
            latch_json_string(j, kinds[i].type);
    latch_json_end_array(j);
}

/* A Management API creation answers with the new item, whose first member is its id: that id
 * is the change's target (and the user of User.Created). Only that member is read, so a
 * secret elsewhere in the answer (a new application's) is never touched. */
static void write_created_id(struct latch_json *j, const char *key, const char *body, size_t len)
{
    size_t klen = strlen(key);
    if (klen < 8 || strcmp(key + klen - 8, ".Created") != 0 || body == NULL)
        return;
    const char *p = body, *end = body + len;
    const char *want[] = {"{", "\"id\"", ":", "\""};
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        while (p < end && (*p == ' ' || *p == '\n'))
            p++;
        size_t n = strlen(want[w]);
        if ((size_t)(end - p) < n || memcmp(p, want[w], n) != 0)
            return;
        p += n;
    }
    const char *q = p;
    while (q < end && q - p <= AUDIT_CREATED_ID_MAX && *q != '"' && *q != '\\')
        q++;
    if (q >= end || *q != '"' || q == p || q - p > AUDIT_CREATED_ID_MAX)
        return;
    latch_json_key(j, "targetId");
    latch_json_string_n(j, p, (size_t)(q - p));
    if (strcmp(key, "User.Created") == 0) {
        latch_json_key(j, "userId");
        latch_json_string_n(j, p, (size_t)(q - p));
    }
}

/* The error the client got: the answer's JSON object when it is one (Logto's {code, message} or
 * OAuth's {error, error_description}), else only the status. */
static void write_error(struct latch_json *j, int status, const char *body, size_t len)
{
    latch_json_key(j, "error");
    yajl_val tree = NULL;
    struct latch_error err;
    static const struct latch_json_limits lim = {
        .max_bytes = AUDIT_ERROR_MAX, .max_depth = 4, .max_members = 16, .require_object = true};
    if (body != NULL && len > 0 && len <= AUDIT_ERROR_MAX && body[0] == '{' &&
        latch_json_parse(body, len, &lim, &tree, &err) == LATCH_OK) {
        latch_json_begin_object(j);
        latch_json_key(j, "status");
        latch_json_int(j, status);
        for (size_t i = 0; i < tree->u.object.len; i++) {
            if (strcmp(tree->u.object.keys[i], "status") == 0)
                continue;
            latch_json_key(j, tree->u.object.keys[i]);
            latch_json_value(j, tree->u.object.values[i]);
        }
        latch_json_end_object(j);
        yajl_tree_free(tree);
        return;
    }
    latch_json_begin_object(j);
    latch_json_key(j, "status");
    latch_json_int(j, status);
    latch_json_end_object(j);
}

static void answered(struct latch_request *req, int status, const char *body, size_t len, void *arg)
{
    const struct track *t = arg;
    if (req->tenant == NULL)
        return;
    const char *key = resolve_key(req, t);
    if (key == NULL)
        return;
    char id[AUDIT_ID_LEN + 1], ts[40];
    if (latch_jose_random_id(id, AUDIT_ID_LEN) != LATCH_OK)
        return;
    now_text(ts);
    bool ok = status < 400;

    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "id");
    latch_json_string(&j, id);
    latch_json_key(&j, "key");
    latch_json_string(&j, key);
    latch_json_key(&j, "created_at");
    latch_json_string(&j, ts);
    latch_json_key(&j, "payload");
    latch_json_begin_object(&j);
    latch_json_key(&j, "key");
    latch_json_string(&j, key);
    latch_json_key(&j, "result");
    latch_json_string(&j, ok ? "Success" : "Error");
    if (!ok)
        write_error(&j, status, body, len);
    latch_json_key(&j, "ip");
    latch_json_string(&j, req->client_ip);
    const char *ua = latch_http_header_get(req, "user-agent");
    if (ua != NULL) {
        latch_json_key(&j, "userAgent");
        latch_json_string_n(&j, ua, strnlen(ua, AUDIT_UA_MAX));
    }
    for (int f = 0; f < LATCH_AUDIT_FIELDS; f++) {
        if (t->fields[f] == NULL)
            continue;
        latch_json_key(&j, field_names[f]);
        latch_json_string(&j, t->fields[f]);
    }
    if (ok && strncmp(key, "ExchangeTokenBy.", 16) == 0)
        write_token_facts(&j, t, body, len);
    if (ok && t->fields[LATCH_AUDIT_TARGET_ID] == NULL)
        write_created_id(&j, key, body, len);
    latch_json_end_object(&j);
    latch_json_end_object(&j);
    size_t rlen = 0;
    char *row = latch_json_take(&j, &rlen);
    if (row == NULL) {
        latch_metrics_audit_dropped(LATCH_METRICS_AUDIT_QUEUE_FULL, 1);
        return;
    }
    writer_push(req, row, rlen);
}

void latch_audit_track(struct latch_request *req, const char *key)
{
    if (!latch_loop_config(req->loop)->audit_log)
        return;
    struct track *t = req->on_answer == answered ? req->on_answer_arg : NULL;
    if (t == NULL) {
        t = latch_arena_calloc(req->arena, 1, sizeof(*t));
        if (t == NULL)
            return;
        req->on_answer = answered;
        req->on_answer_arg = t;
    }
    t->key = key;
}

void latch_audit_note(struct latch_request *req, enum latch_audit_field field, const char *value)
{
    if (req->on_answer != answered || (int)field < 0 || field >= LATCH_AUDIT_FIELDS)
        return;
    struct track *t = req->on_answer_arg;
    t->fields[field] =
        value != NULL ? latch_arena_printf(req->arena, "%.*s", AUDIT_VALUE_MAX, value) : NULL;
}

void latch_audit_note_default(struct latch_request *req, enum latch_audit_field field,
                              const char *value)
{
    if (req->on_answer != answered || (int)field < 0 || field >= LATCH_AUDIT_FIELDS)
        return;
    const struct track *t = req->on_answer_arg;
    if (t->fields[field] == NULL)
        latch_audit_note(req, field, value);
}

bool latch_audit_tracked(const struct latch_request *req)
{
    return req->on_answer == answered;
}

const char *latch_audit_key(const struct latch_request *req)
{
    return req->on_answer == answered ? ((const struct track *)req->on_answer_arg)->key : NULL;
}
