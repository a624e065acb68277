/*
 * Webhook delivery: every node delivers the events of the outbox (schema/0014_hooks.sql) that
 * are due. It runs on the main thread's event loop with a small store of its own: woken by the
 * NOTIFY latch_hook_emit() sends when a change commits (latch_mgmt_hooks_wake, from latchd's
 * listener), and by a periodic sweep that finds what a missed NOTIFY or a node that died in
 * the middle of a delivery left behind. latch_hook_claim() leases the head event of each hook
 * (FOR UPDATE SKIP LOCKED), so a hook has at most one attempt in flight anywhere and gets its
 * events in order; the POST runs on the I/O lane (keyed by tenant) through the outbound
 * service; the outcome is recorded (hook_logs) and the delivery marked delivered, or retried
 * after an exponential backoff with jitter, until it is 24 hours old. A node that dies holding
 * a lease delays that hook until the lease runs out; then another node delivers the event again
 * (at least once).
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "outbound/outbound.h"
#include "util/log.h"
#include "util/workpool.h"

/* Deliveries one node has in flight at once (every hook together). */
#define MAX_IN_FLIGHT 16
/* The lease outlives the attempt's timeout by this much: the time to record the outcome. */
#define LEASE_MARGIN_MS 5000
/* Retries are spread over 24 hours; one delay is at most an hour. */
#define MAX_DELAY_MS 3600000LL
#define GIVE_UP_MS   (24LL * 3600 * 1000)

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
static const struct latch_stmt claim_stmt = {
    .name = "hook_claim",
    .sql = "SELECT tenant_id, id, hook_id, event, body, url, headers, signing_key, attempts,"
           " age_ms FROM latch_hook_claim($1, $2::integer, $3::integer)",
    .nparams = 3,
};

/* Logto's TriggerHook log entry. $1 tenant, $2 hook, $3 key, $4 result, $5 request body,
 * $6 status or NULL, $7 response body, $8 't' when it is JSON, $9 error or NULL. */
static const struct latch_stmt log_stmt = {
    .name = "hook_log",
    .sql = "INSERT INTO hook_logs (tenant_id, hook_id, key, payload)"
           " VALUES ($1::text, $2::text, $3::text, jsonb_build_object('key', $3::text,"
           " 'result', $4::text,"
           " 'hookId', $2::text, 'hookRequest', jsonb_build_object('body', $5::jsonb))"
           " || CASE WHEN $6::int IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('response',"
           " jsonb_build_object('statusCode', $6::int, 'body', CASE WHEN $8::text = 't'"
           " THEN $7::text::jsonb ELSE to_jsonb($7::text) END)) END"
           " || CASE WHEN $9::text IS NULL THEN '{}'::jsonb"
           " ELSE jsonb_build_object('error', $9::text) END)",
    .nparams = 9,
};

/* $1 tenant, $2 delivery, $3 't' when delivered, $4 the delay before the next attempt (ms). */
static const struct latch_stmt done_stmt = {
    .name = "hook_done",
    .sql = "UPDATE hook_deliveries SET locked_until = NULL,"
           " state = CASE WHEN $3 = 't' THEN 'delivered'"
           " WHEN created_at + interval '24 hours' < now() + make_interval(secs => $4::bigint / 1000.0)"
           " THEN 'failed' ELSE 'pending' END,"
           " next_attempt_at = now() + make_interval(secs => $4::bigint / 1000.0)"
           " WHERE tenant_id = $1::text AND id = $2::bigint",
    .nparams = 4,
};
// clang-format on

struct delivery {
    char *tenant_id, *id, *hook_id, *event, *body, *url, *headers, *key;
    int attempts;
    struct latch_mgmt_hook_result result;
};

static struct {
    struct event_base *base;
    struct latch_store *store;
    struct latch_mailbox *mailbox;
    struct latch_workpool *io;
    struct event *sweep;
    int timeout_ms, retry_base_ms, sweep_ms;
    int in_flight;
    bool claiming;    /* a claim is in progress */
    bool claim_again; /* a wake came while claiming: claim everywhere when it is done */
    bool stopping;
    unsigned seed;
} d;

static void claim(const char *tenant_id);

static void delivery_free(struct delivery *x)
{
    if (x == NULL)
        return;
    if (x->key != NULL)
        explicit_bzero(x->key, strlen(x->key));
    free(x->tenant_id);
    free(x->id);
    free(x->hook_id);
    free(x->event);
    free(x->body);
    free(x->url);
    free(x->headers);
    free(x->key);
    latch_mgmt_hook_result_clear(&x->result);
    free(x);
}

void latch_mgmt_hook_result_clear(struct latch_mgmt_hook_result *r)
{
    free(r->body);
    *r = (struct latch_mgmt_hook_result){0};
}

/* ---- the POST (I/O lane) ---- */

void latch_mgmt_hook_send(const char *url, const char *headers, const char *body, const char *key,
                          struct latch_mgmt_hook_result *out)
{
    struct latch_outbound_header h[LATCH_OUTBOUND_MAX_HEADERS];
    size_t nh = 0;
    char sig[65];
    char errbuf[128];
    struct latch_outbound_response resp = {0};
    struct latch_error err;
    yajl_val tree = NULL;

    *out = (struct latch_mgmt_hook_result){0};
    if (latch_jose_hmac_sha256_hex(key, strlen(key), body, strlen(body), sig) != LATCH_OK) {
        out->failed = true;
        snprintf(out->error, sizeof(out->error), "cannot sign the payload");
        return;
    }
    h[nh++] = (struct latch_outbound_header){"Content-Type", "application/json"};
    h[nh++] = (struct latch_outbound_header){"User-Agent", "Logto (https://logto.io/)"};
    /* The hook's own headers, checked when it was stored (hooks.c), may replace the agent. */
    tree = headers != NULL ? yajl_tree_parse(headers, errbuf, sizeof(errbuf)) : NULL;
    if (tree != NULL && YAJL_IS_OBJECT(tree)) {
        for (size_t i = 0; i < tree->u.object.len && nh < LATCH_OUTBOUND_MAX_HEADERS - 1; i++) {
            yajl_val v = tree->u.object.values[i];
            if (!YAJL_IS_STRING(v))
                continue;
            if (strcasecmp(tree->u.object.keys[i], "user-agent") == 0)
                h[1].value = v->u.string;
            else
                h[nh++] = (struct latch_outbound_header){tree->u.object.keys[i], v->u.string};
        }
    }
    h[nh++] = (struct latch_outbound_header){LATCH_HOOKS_SIGNATURE_HEADER, sig};
    struct latch_outbound_request req = {
        .method = "POST",
        .url = url,
        .headers = h,
        .nheaders = nh,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = (uint32_t)(d.timeout_ms > 0 ? d.timeout_ms : 10000),
    };
    if (latch_outbound_request(&req, &resp, &err) != LATCH_OK) {
        out->failed = true;
        snprintf(out->error, sizeof(out->error), "%s", err.message);
        goto out;
    }
    out->status = resp.status;
    size_t keep = resp.body_len;
    if (keep > LATCH_MGMT_HOOK_LOG_BODY) {
        keep = LATCH_MGMT_HOOK_LOG_BODY;
        out->body_cut = true;
    }
    out->body = malloc(keep + 1);
    if (out->body != NULL) {
        memcpy(out->body, resp.body, keep);
        out->body[keep] = '\0';
        /* Logto's parseResponse: the body as JSON when it is JSON, else as text. */
        yajl_val parsed = out->body_cut || keep == 0 || memchr(out->body, '\0', keep) != NULL
                              ? NULL
                              : yajl_tree_parse(out->body, errbuf, sizeof(errbuf));
        out->body_json = parsed != NULL;
        yajl_tree_free(parsed);
    }
out:
    explicit_bzero(sig, sizeof(sig));
    yajl_tree_free(tree);
    latch_outbound_response_clear(&resp);
}

static void deliver_work(void *arg)
{
    struct delivery *x = arg;
    latch_mgmt_hook_send(x->url, x->headers, x->body, x->key, &x->result);
}

/* ---- recording the outcome (main thread) ---- */

/* Exponential backoff with jitter: base * 2^(attempts-1), capped, then a random point in its
 * upper half, so that hooks that failed together do not retry together. */
static long long retry_delay_ms(int attempts)
{
    long long delay = d.retry_base_ms;
    for (int i = 1; i < attempts && delay < MAX_DELAY_MS; i++)
        delay *= 2;
    if (delay > MAX_DELAY_MS)
        delay = MAX_DELAY_MS;
    /* Jitter needs no cryptographic randomness; main thread only. */
    uint32_t r = (uint32_t)rand_r(&d.seed);
    return delay / 2 + (long long)(r % (uint32_t)(delay / 2 + 1));
}

static void recorded(struct latch_store_result *const *results, int n,
                     const struct latch_error *err, void *arg)
{
    struct delivery *x = arg;
    if (err != NULL && !d.stopping)
        latch_warn("webhook %s: cannot record delivery %s (the lease will run out and it is "
                   "tried again): %s",
                   x->hook_id, x->id, err->detail[0] ? err->detail : err->message);
    char tenant[32];
    snprintf(tenant, sizeof(tenant), "%s", x->tenant_id);
    delivery_free(x);
    d.in_flight--;
    if (!d.stopping)
        claim(tenant);
}

static void deliver_done(void *arg)
{
    struct delivery *x = arg;
    struct latch_mgmt_hook_result *r = &x->result;
    bool ok = !r->failed && r->status >= 200 && r->status <= 299;
    char key[160], status[16], delay[32];
    snprintf(key, sizeof(key), "TriggerHook.%s", x->event);
    snprintf(status, sizeof(status), "%d", r->status);
    snprintf(delay, sizeof(delay), "%lld", ok ? 0LL : retry_delay_ms(x->attempts));
    const char *error = r->failed ? r->error : ok ? NULL : "The endpoint did not answer 2xx.";
    latch_debug("webhook %s: delivery %s (%s) attempt %d: %s", x->hook_id, x->id, x->event,
                x->attempts,
                ok          ? "delivered"
                : r->failed ? r->error
                            : status);
    if (d.stopping) {
        delivery_free(x);
        d.in_flight--;
        return;
    }
    struct latch_store_op ops[2] = {
        {&log_stmt,
         {x->tenant_id, x->hook_id, key, ok ? "Success" : "Error", x->body,
          r->failed ? NULL : status, r->body != NULL ? r->body : "", r->body_json ? "t" : "f",
          error}},
        {&done_stmt, {x->tenant_id, x->id, ok ? "t" : "f", delay}},
    };
    latch_store_exec(d.store, x->tenant_id, ops, 2, recorded, x);
}

/* ---- claiming ---- */

static char *dup_col(const struct latch_store_result *res, int row, int col)
{
    return strdup(latch_store_result_value(res, row, col));
}

static void claimed(struct latch_store_result *const *results, int n, const struct latch_error *err,
                    void *arg)
{
    d.claiming = false;
    if (d.stopping)
        return;
    if (err != NULL) {
        latch_debug("webhook claim failed: %s", err->detail[0] ? err->detail : err->message);
        return;
    }
    const struct latch_store_result *res = results[0];
    int rows = latch_store_result_rows(res);
    for (int i = 0; i < rows; i++) {
        struct delivery *x = calloc(1, sizeof(*x));
        if (x == NULL)
            break;
        x->tenant_id = dup_col(res, i, 0);
        x->id = dup_col(res, i, 1);
        x->hook_id = dup_col(res, i, 2);
        x->event = dup_col(res, i, 3);
        x->body = dup_col(res, i, 4);
        x->url = dup_col(res, i, 5);
        x->headers = dup_col(res, i, 6);
        x->key = dup_col(res, i, 7);
        x->attempts = atoi(latch_store_result_value(res, i, 8));
        if (x->tenant_id == NULL || x->id == NULL || x->hook_id == NULL || x->event == NULL ||
            x->body == NULL || x->url == NULL || x->headers == NULL || x->key == NULL) {
            delivery_free(x);
            continue;
        }
        struct latch_error serr;
        d.in_flight++;
        if (latch_workpool_submit_keyed(d.io, d.mailbox, x->tenant_id, deliver_work, deliver_done,
                                        x, &serr) != LATCH_OK) {
            /* The lane is full: the lease runs out and the sweep tries again. */
            latch_debug("webhook %s: delivery %s waits: %s", x->hook_id, x->id, serr.message);
            d.in_flight--;
            delivery_free(x);
        }
    }
    if (d.claim_again) {
        d.claim_again = false;
        claim(NULL);
    }
}

/* Claims what is due in tenant_id (NULL: every tenant), as many as there are free slots. */
static void claim(const char *tenant_id)
{
    if (d.stopping || d.store == NULL)
        return;
    if (d.claiming || d.in_flight >= MAX_IN_FLIGHT) {
        d.claim_again = true;
        return;
    }
    char limit[16], lease[16];
    snprintf(limit, sizeof(limit), "%d", MAX_IN_FLIGHT - d.in_flight);
    snprintf(lease, sizeof(lease), "%d", d.timeout_ms + LEASE_MARGIN_MS);
    struct latch_store_op op = {&claim_stmt, {tenant_id, limit, lease}};
    d.claiming = true;
    latch_store_exec(d.store, NULL, &op, 1, claimed, NULL);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    if (d.in_flight >= MAX_IN_FLIGHT)
        return;
    d.claim_again = false;
    claim(NULL);
}

void latch_mgmt_hooks_wake(const char *tenant_id)
{
    if (d.store == NULL)
        return;
    /* The payload is the tenant id latch_hook_emit() wrote; anything else: look everywhere. */
    claim(tenant_id != NULL && tenant_id[0] != '\0' && strlen(tenant_id) <= 21 ? tenant_id : NULL);
}

latch_rc latch_mgmt_hooks_start(struct event_base *base, const struct latch_mgmt_hooks_options *o)
{
    d.base = base;
    d.io = o->io;
    d.timeout_ms = o->timeout_ms;
    d.retry_base_ms = o->retry_base_ms;
    d.sweep_ms = o->sweep_ms;
    d.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    d.mailbox = latch_mailbox_new(base);
    struct latch_store_options sopts = {
        .conninfo = o->conninfo,
        .pool_size = 1,
        .transaction_pooling = o->transaction_pooling,
    };
    d.store = d.mailbox != NULL ? latch_store_new(base, &sopts) : NULL;
    d.sweep = d.store != NULL ? event_new(base, -1, EV_PERSIST, on_sweep, NULL) : NULL;
    struct timeval tv = {.tv_sec = d.sweep_ms / 1000, .tv_usec = (d.sweep_ms % 1000) * 1000};
    if (d.sweep == NULL || event_add(d.sweep, &tv) != 0)
        return LATCH_FAIL;
    latch_info("webhooks: delivering from this node (attempt timeout %d ms, first retry after "
               "%d ms, sweep every %d ms)",
               d.timeout_ms, d.retry_base_ms, d.sweep_ms);
    return LATCH_OK;
}

void latch_mgmt_hooks_stop(void)
{
    d.stopping = true;
    if (d.sweep != NULL) {
        event_free(d.sweep);
        d.sweep = NULL;
    }
    latch_store_free(d.store);
    d.store = NULL;
}

void latch_mgmt_hooks_free(void)
{
    latch_mailbox_free(d.mailbox);
    d.mailbox = NULL;
}
