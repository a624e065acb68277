/*
 * The HTTP server: loop threads, listening sockets, connections, request framing and dispatch.
 *
 * Each loop thread owns an event_base, an evconnlistener on the shared port (SO_REUSEPORT lets
 * the kernel spread connections over the loops), its store and its mailbox. A connection reads
 * a head (bounded by LATCH_MAX_HEADER_BYTES), then a body, then stops reading while its handler
 * runs; the answer re-arms it for the next request.
 *
 * Memory before authentication: the route is matched as soon as the head is parsed, and its body
 * bound (router.h: 64 KiB for most routes, none on GET, LATCH_MAX_BODY_BYTES where the handler
 * checks credentials first) is applied from Content-Length before a byte of the body is read. On
 * LATCH_ROUTE_AUTH_FIRST routes a body that did not come with the head is read only once the
 * handler asks for it (latch_http_read_body). Every body also takes its size from a node-wide
 * budget (LATCH_BODY_BUDGET_BYTES, one atomic counter shared by the loops) until its request's
 * memory is released; past the budget, 503.
 *
 * Slow clients: the idle timeout (bufferevent timeouts) restarts on every byte, so each request
 * also has a deadline of its own, one timer per connection: the whole head within
 * LATCH_HEADER_TIMEOUT_MS of its first byte, the body within LATCH_BODY_TIMEOUT_MS plus its
 * length at LATCH_MIN_BODY_RATE; past it, 408 and close. Open connections are also counted per
 * TCP peer (LATCH_MAX_CONNECTIONS_PER_IP) in a table shared by the loops.
 */
#include "http/server_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "store/store.h"
#include "tenants/cache.h"
#include "tenants/tenants.h"
#include "util/log.h"
#include "util/percent.h"
#include "util/workpool.h"

#define DB_QUEUE_MAX 2048
#define DB_IN_FLIGHT 64

static void conn_process(struct conn *c);
static void conn_free(struct conn *c);

/* ---- small helpers ---- */

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, per loop, seeded from getrandom(); request ids need uniqueness, not
 * secrecy. */
static uint64_t loop_random(struct latch_loop *loop)
{
    uint64_t *s = loop->rng;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static bool valid_request_id(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 63)
        return false;
    for (const char *p = v; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.' || *p == ':'))
            return false;
    return true;
}

static bool addr_trusted(const struct latch_config *cfg, const uint8_t addr[16])
{
    return cfg->n_trusted_proxies > 0 &&
           latch_cidr_contains(cfg->trusted_proxies, cfg->n_trusted_proxies, addr);
}

static bool peer_trusted(const struct conn *c)
{
    return addr_trusted(c->loop->srv->cfg, c->peer_addr);
}

#define RATE_WARN_SECONDS 10

static void loop_warn(struct latch_loop *loop, struct rate_warn *rw, const char *what)
{
    time_t now = time(NULL);
    if (now - rw->last < RATE_WARN_SECONDS) {
        rw->suppressed++;
        return;
    }
    if (rw->suppressed > 0)
        latch_warn("loop %d: %s (and %ld more such events since the last warning)", loop->index,
                   what, rw->suppressed);
    else
        latch_warn("loop %d: %s", loop->index, what);
    rw->last = now;
    rw->suppressed = 0;
}

static void deadline_arm(struct conn *c, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    event_add(&c->deadline, &tv);
}

/* The body's deadline: LATCH_BODY_TIMEOUT_MS after the head, plus the time the body takes at
 * LATCH_MIN_BODY_RATE; for a chunked body, whose length is unknown, plus what has arrived so far
 * at that rate, so that the client must keep at least the minimum rate on average. */
static void body_deadline_arm(struct conn *c, size_t length)
{
    const struct latch_config *cfg = c->loop->srv->cfg;
    uint64_t ms =
        (uint64_t)cfg->body_timeout_ms + (uint64_t)length * 1000 / (uint64_t)cfg->min_body_rate;
    uint64_t elapsed = (latch_http_now_ns() - c->body_start_ns) / 1000000;
    deadline_arm(c, ms > elapsed ? ms - elapsed : 0);
}

/* ---- connections per peer ---- */

/*
 * LATCH_MAX_CONNECTIONS_PER_IP counts the TCP peer at accept time: X-Forwarded-For is known only
 * once a head is parsed, and a connection must be refused before it costs anything. Peers in
 * LATCH_TRUSTED_PROXIES are not counted (a load balancer carries many clients; bound those at
 * the balancer). IPv6 peers count by their /64, since one host commonly holds a whole /64.
 *
 * The counts are shared by all loops, so the bound is exact whatever LATCH_THREADS is, and
 * lock-free: two rows of atomic counters indexed by a keyed hash of the address (a count-min
 * sketch). A peer is over the bound when both of its counters are; distinct peers share a
 * counter only by collision in both rows, which can only make a bound bite early for peers that
 * collide with heavy ones, never let a peer past it. The key is random per process, so that
 * collisions cannot be aimed.
 */
#define PEER_SLOTS 16384 /* per row, a power of two; two rows: 128 KiB */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void peer_slots(const struct latch_server *srv, const uint8_t addr[16], size_t slot[2])
{
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint64_t hi, lo;
    memcpy(&hi, addr, 8);
    memcpy(&lo, addr + 8, 8);
    if (memcmp(addr, v4_prefix, sizeof(v4_prefix)) != 0)
        lo = 0; /* IPv6: the /64 */
    uint64_t h = mix64(mix64(hi ^ srv->peer_key[0]) ^ lo ^ srv->peer_key[1]);
    slot[0] = (size_t)(h & (PEER_SLOTS - 1));
    slot[1] = PEER_SLOTS + (size_t)((h >> 32) & (PEER_SLOTS - 1));
}

/* Counts a new connection from addr; false (and nothing counted) when the peer is at the bound.
 * *counted says whether conn_free must uncount it. Any loop thread. */
static bool peer_admit(struct latch_server *srv, const uint8_t addr[16], bool *counted)
{
    *counted = false;
    if (srv->peer_counts == NULL || addr_trusted(srv->cfg, addr))
        return true;
    size_t slot[2];
    peer_slots(srv, addr, slot);
    unsigned a = atomic_fetch_add_explicit(&srv->peer_counts[slot[0]], 1, memory_order_relaxed);
    unsigned b = atomic_fetch_add_explicit(&srv->peer_counts[slot[1]], 1, memory_order_relaxed);
    if ((a < b ? a : b) >= (unsigned)srv->cfg->max_connections_per_ip) {
        atomic_fetch_sub_explicit(&srv->peer_counts[slot[0]], 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&srv->peer_counts[slot[1]], 1, memory_order_relaxed);
        return false;
    }
    *counted = true;
    return true;
}

static void peer_release(struct latch_server *srv, const uint8_t addr[16])
{
    size_t slot[2];
    peer_slots(srv, addr, slot);
    atomic_fetch_sub_explicit(&srv->peer_counts[slot[0]], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&srv->peer_counts[slot[1]], 1, memory_order_relaxed);
}

#define TOO_MANY_BODY                                                                              \
    "{\"code\":\"http.too_many_connections\",\"message\":\"Too many open connections from this "   \
    "address.\"}"

/* Refuses an accepted socket over the per-peer bound: a fixed 429 if the socket takes it at
 * once (no buffering, no state), then close. */
static void peer_refuse(struct latch_loop *loop, evutil_socket_t fd, const char *ip)
{
    static const char answer[] = "HTTP/1.1 429 Too Many Requests\r\n"
                                 "Content-Type: application/json; charset=utf-8\r\n"
                                 "Retry-After: 1\r\nConnection: close\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "Content-Length: 93\r\n\r\n" TOO_MANY_BODY;
    _Static_assert(sizeof(TOO_MANY_BODY) - 1 == 93, "Content-Length of the 429 body");
    ssize_t n = send(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n; /* best effort: the close says the same */
    /* Closing with unread bytes would send a reset, which can make the client lose the answer:
     * take what already arrived (a request sent with the connect), without waiting. */
    char sink[4096];
    n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
    evutil_closesocket(fd);
    char what[200];
    snprintf(what, sizeof(what),
             "refused a connection from %s: LATCH_MAX_CONNECTIONS_PER_IP (%d) open connections "
             "from that peer",
             ip, loop->srv->cfg->max_connections_per_ip);
    loop_warn(loop, &loop->peer_warn, what);
}

static bool text_to_addr16(const char *text, uint8_t out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

/*
 * The client address: the peer, or, when the peer is a trusted proxy, the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy.
 */
static void resolve_client(struct conn *c, struct latch_request *req)
{
    snprintf(req->client_ip, sizeof(req->client_ip), "%s", c->peer_ip);
    const char *xff = latch_http_header_get(req, "x-forwarded-for");
    if (xff == NULL || !peer_trusted(c))
        return;
    const struct latch_config *cfg = c->loop->srv->cfg;
    const char *end = xff + strlen(xff);
    while (end > xff) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        char ip[64];
        uint8_t addr[16];
        size_t n = (size_t)(b - a);
        if (n == 0 || n >= sizeof(ip) ||
            (memcpy(ip, a, n), ip[n] = '\0', !text_to_addr16(ip, addr)))
            return; /* malformed: keep what we have */
        snprintf(req->client_ip, sizeof(req->client_ip), "%s", ip);
        if (!latch_cidr_contains(cfg->trusted_proxies, cfg->n_trusted_proxies, addr))
            return;
        end = start > xff ? start - 1 : xff;
    }
}

static void assign_request_id(struct conn *c, struct latch_request *req)
{
    const char *given = latch_http_header_get(req, "x-request-id");
    if (given != NULL && peer_trusted(c) && valid_request_id(given)) {
        snprintf(req->request_id, sizeof(req->request_id), "%s", given);
        return;
    }
    uint64_t a = loop_random(c->loop), b = loop_random(c->loop);
    snprintf(req->request_id, sizeof(req->request_id), "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
}

/* ---- public request helpers ---- */

const char *latch_http_header_get(const struct latch_request *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

const char *latch_http_param(const struct latch_request *req, const char *name)
{
    if (req->route == NULL)
        return NULL;
    for (int i = 0; i < req->route->nparams; i++)
        if (strcmp(req->route->params[i].name, name) == 0)
            return req->route->params[i].value;
    return NULL;
}

struct latch_store *latch_loop_store(struct latch_loop *loop)
{
    return loop->store;
}

struct event_base *latch_loop_base(struct latch_loop *loop)
{
    return loop->base;
}

int latch_loop_index(const struct latch_loop *loop)
{
    return loop->index;
}

const struct latch_config *latch_loop_config(const struct latch_loop *loop)
{
    return loop->srv->cfg;
}

struct latch_tenant_cache *latch_loop_tenant_cache(struct latch_loop *loop)
{
    return loop->tenant_cache;
}

void *latch_loop_local(struct latch_loop *loop, int slot, void *(*create)(struct latch_loop *),
                       void (*destroy)(void *))
{
    if (loop->locals[slot] == NULL) {
        loop->locals[slot] = create(loop);
        loop->local_free[slot] = destroy;
    }
    return loop->locals[slot];
}

bool latch_loop_is_stopping(const struct latch_loop *loop)
{
    return loop->stopping;
}

bool latch_loop_is_draining(const struct latch_loop *loop)
{
    return atomic_load_explicit(&loop->srv->draining, memory_order_relaxed);
}

/* ---- dispatch ---- */

static void respond_route_miss(struct latch_request *req, enum latch_route_result r,
                               const struct latch_route_match *m)
{
    if (r == LATCH_ROUTE_METHOD_NOT_ALLOWED) {
        latch_http_add_header(req, "Allow", m->allow);
        latch_http_respond_errorf(req, 405, "http.method_not_allowed",
                                  "Method %s is not allowed here.", req->method_text);
    } else if (r == LATCH_ROUTE_BAD_PATH && m->nparams > 0) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "%s: is not valid percent-encoded UTF-8",
                                  m->params[m->nparams - 1].name);
    } else if (r == LATCH_ROUTE_BAD_PATH) {
        latch_http_respond_errorf(req, 400, "http.bad_request", "Malformed request path.");
    } else {
        latch_http_respond_errorf(req, 404, "http.not_found", "Not found.");
    }
}

static void tenant_ready(const struct latch_tenant *tenant, const struct latch_error *err,
                         void *arg)
{
    struct latch_request *req = arg;
    struct conn *c = req->priv;
    if (err != NULL) {
        latch_http_log_error(req, "tenant lookup failed", err);
        latch_http_respond_error(req, err);
        return;
    }
    if (tenant == NULL) {
        latch_http_respond_errorf(req, 404, "tenant.not_found", "Tenant not found.");
        return;
    }
    if (tenant->is_suspended) {
        latch_http_respond_errorf(req, 403, "tenant.suspended", "This tenant is suspended.");
        return;
    }
    struct latch_tenant *copy = latch_arena_alloc(req->arena, sizeof(*copy));
    if (copy == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    *copy = *tenant;
    req->tenant = copy;
    c->route.handler(req, c->route.arg);
}

/* What a request's head leads to, decided before its body is read (route_request) and acted
 * on once it is (dispatch). */
enum route_outcome {
    ROUTE_NODE = 0,  /* a node route matched */
    ROUTE_TENANT,    /* a tenant route matched; the tenant is looked up in dispatch */
    ROUTE_MISS,      /* no route: respond_route_miss(route_result) */
    ROUTE_NO_TENANT, /* not a tenant endpoint */
    ROUTE_BAD_PATH,  /* the path inside the tenant endpoint does not decode */
};

/* Matches the parsed head against the routes and sets the body's bound: the route's, within
 * LATCH_MAX_BODY_BYTES; requests that match nothing are answered without looking at their body,
 * so they take no more than a small one. */
static void route_request(struct conn *c)
{
    struct latch_request *req = c->req;
    struct latch_server *srv = c->loop->srv;
    size_t limit = LATCH_ROUTE_SMALL_BODY;

    enum latch_route_result r =
        latch_router_match(srv->node_routes, req->method, req->raw_path, req->arena, &c->route);
    c->route_result = (int)r;
    if (r == LATCH_ROUTE_FOUND) {
        c->outcome = ROUTE_NODE;
        limit = c->route.max_body;
    } else if (r != LATCH_ROUTE_NOT_FOUND) {
        c->outcome = ROUTE_MISS;
    } else {
        const char *id, *inner;
        size_t id_len;
        char *inner_decoded = NULL;
        if (!latch_tenants_resolve(req->raw_path, &id, &id_len, &inner)) {
            c->outcome = ROUTE_NO_TENANT;
            goto done;
        }
        req->tenant_id = latch_arena_strndup(req->arena, id, id_len);
        inner_decoded = latch_arena_alloc(req->arena, strlen(inner) + 1);
        if (req->tenant_id == NULL || inner_decoded == NULL ||
            latch_percent_decode(inner_decoded, inner, strlen(inner)) < 0) {
            c->outcome = ROUTE_BAD_PATH;
            goto done;
        }
        req->route_path = inner_decoded;
        r = latch_router_match(srv->tenant_routes, req->method, inner, req->arena, &c->route);
        c->route_result = (int)r;
        c->outcome = r == LATCH_ROUTE_FOUND ? ROUTE_TENANT : ROUTE_MISS;
        if (r == LATCH_ROUTE_FOUND)
            limit = c->route.max_body;
    }
done:
    c->body_limit = limit < srv->cfg->max_body_bytes ? limit : srv->cfg->max_body_bytes;
}

static void dispatch(struct conn *c)
{
    struct latch_request *req = c->req;

    switch ((enum route_outcome)c->outcome) {
    case ROUTE_NODE:
        req->route = &c->route;
        req->route_path = req->path;
        c->route.handler(req, c->route.arg);
        return;
    case ROUTE_MISS:
        respond_route_miss(req, (enum latch_route_result)c->route_result, &c->route);
        return;
    case ROUTE_NO_TENANT:
        latch_http_respond_errorf(req, 404, "tenant.not_found", "Tenant not found.");
        return;
    case ROUTE_BAD_PATH:
        latch_http_respond_errorf(req, 400, "http.bad_request", "Malformed request path.");
        return;
    case ROUTE_TENANT:
        break;
    }
    req->route = &c->route;
    latch_tenant_cache_lookup(c->loop->tenant_cache, req->tenant_id,
                              (c->route.flags & LATCH_ROUTE_FRESH_TENANT) != 0, tenant_ready, req);
}

/* ---- reading requests ---- */

static void body_append(void *arg, const char *data, size_t n)
{
    evbuffer_add(arg, data, n);
}

/* Answers a framing error and closes: after one, the byte stream cannot be trusted. */
static void framing_error(struct conn *c, const struct latch_error *err)
{
    c->info.keep_alive = false;
    c->linger = true;
    latch_http_respond_error(c->req, err);
}

/* Answers before the body was read (the body's bound, the body budget) in the route's error
 * shape, and closes: the unread body cannot be told from a next request. */
static void body_refused(struct conn *c, const struct latch_error *err, const char *oauth_error)
{
    c->info.keep_alive = false;
    c->linger = true;
    if (err->status == 503)
        latch_http_add_header(c->req, "Retry-After", "1");
    if ((c->outcome == ROUTE_NODE || c->outcome == ROUTE_TENANT) &&
        (c->route.flags & LATCH_ROUTE_OAUTH_ERRORS)) {
        latch_http_respond_oauth_error(c->req, err->status, oauth_error, err->message);
        return;
    }
    latch_http_respond_error(c->req, err);
}

/* Body budget: takes n bytes of LATCH_BODY_BUDGET_BYTES for this request; false (nothing
 * taken) when they would pass it. Any loop thread: the counter is shared by all loops. */
static bool budget_take(struct conn *c, size_t n)
{
    struct latch_server *srv = c->loop->srv;
    size_t budget = srv->cfg->body_budget_bytes;
    if (budget == 0 || n == 0)
        return true;
    size_t before = atomic_fetch_add_explicit(&srv->body_bytes, n, memory_order_relaxed);
    if (before > budget || n > budget - before) {
        atomic_fetch_sub_explicit(&srv->body_bytes, n, memory_order_relaxed);
        return false;
    }
    c->body_reserved += n;
    return true;
}

/* Bodies up to this size cost no more than a request head (which the budget does not count
 * either): they leave the budget with the answer and the arena at the next request's start. */
#define BODY_KEEP_MAX 2048

/* Gives back what the request took, once its body's memory is released. */
static void budget_release(struct conn *c)
{
    if (c->body_reserved == 0)
        return;
    atomic_fetch_sub_explicit(&c->loop->srv->body_bytes, c->body_reserved, memory_order_relaxed);
    c->body_reserved = 0;
}

static void budget_refuse(struct conn *c)
{
    struct latch_loop *loop = c->loop;
    char line[200];
    snprintf(line, sizeof(line),
             "refused a request body from %s: LATCH_BODY_BUDGET_BYTES (%zu) of bodies buffered; "
             "answered 503",
             c->peer_ip, loop->srv->cfg->body_budget_bytes);
    loop_warn(loop, &loop->budget_warn, line);
    struct latch_error err;
    latch_error_set(&err, 503, "http.body_budget_exceeded",
                    "Too many request bodies are being received; try again later.");
    body_refused(c, &err, "temporarily_unavailable");
}

/* Head read, body next: takes the body's share of the budget and starts reading it. False when
 * the request was answered instead (503). */
static bool body_begin(struct conn *c)
{
    const struct latch_config *cfg = c->loop->srv->cfg;
    if (!c->info.chunked && !budget_take(c, c->info.content_length)) {
        budget_refuse(c);
        return false;
    }
    if (c->info.expect_continue)
        bufferevent_write(c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    c->body_start_ns = latch_http_now_ns();
    c->body_received = 0;
    body_deadline_arm(c, c->info.chunked ? 0 : c->info.content_length);
    if (c->info.chunked) {
        c->body = evbuffer_new();
        if (c->body == NULL)
            return false; /* conn_process notices: state is still CONN_READ_HEAD */
        c->state = CONN_READ_CHUNKED;
        return true;
    }
    /* The whole body must fit in the input buffer before it is taken: raise the read
     * watermark for a big one (and only then, so small requests cost no call). */
    if (c->info.content_length > LATCH_ROUTE_SMALL_BODY) {
        bufferevent_setwatermark(c->bev, EV_READ, 0,
                                 c->info.content_length + cfg->max_header_bytes + 65536);
        c->big_watermark = true;
    }
    c->state = CONN_READ_BODY;
    return true;
}

static bool start_request(struct conn *c)
{
    struct latch_loop *loop = c->loop;
    const struct latch_config *cfg = loop->srv->cfg;
    if (c->arena == NULL) {
        c->arena = latch_arena_new(cfg->max_body_bytes + cfg->max_header_bytes * 4 + (1u << 20));
        if (c->arena == NULL)
            return false;
    } else {
        latch_arena_reset(c->arena);
        budget_release(c); /* the previous request's body is gone with the reset */
    }
    c->req = latch_arena_calloc(c->arena, 1, sizeof(*c->req));
    if (c->req == NULL)
        return false;
    c->req->arena = c->arena;
    c->req->loop = loop;
    c->req->priv = c;
    c->req->method_text = "-";
    c->req->raw_path = c->req->path = "-";
    c->req->query = "";
    c->resp_headers = NULL;
    c->has_cache_control = false;
    c->responded = false;
    memset(&c->info, 0, sizeof(c->info));
    memset(&c->chunked, 0, sizeof(c->chunked));
    c->start_ns = latch_http_now_ns();
    /* The head's deadline runs from its first byte, whatever the pace of the bytes after it. */
    deadline_arm(c, (uint64_t)cfg->header_timeout_ms);
    snprintf(c->req->client_ip, sizeof(c->req->client_ip), "%s", c->peer_ip);
    assign_request_id(c, c->req); /* a fresh id until the head is parsed */
    return true;
}

/* Looks for the end of the head; returns its length, 0 when incomplete, -1 when too long. */
static long find_head_end(struct conn *c, struct evbuffer *in, size_t max)
{
    size_t len = evbuffer_get_length(in);
    struct evbuffer_ptr start;
    size_t from = c->scanned > 3 ? c->scanned - 3 : 0;
    if (evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET) != 0)
        return 0;
    struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, &start);
    if (pos.pos >= 0) {
        size_t head = (size_t)pos.pos + 4;
        return head > max ? -1 : (long)head;
    }
    c->scanned = len;
    return len > max ? -1 : 0;
}

static void begin_head_error(struct conn *c, struct evbuffer *in, size_t max)
{
    /* 414 when the request line alone is over the bound, else 431. */
    size_t len = evbuffer_get_length(in);
    size_t look = len < max ? len : max;
    unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)look);
    struct latch_error err;
    if (p != NULL && memchr(p, '\n', look) == NULL)
        latch_error_set(&err, 414, "http.uri_too_long", "Request line exceeds %zu bytes.", max);
    else
        latch_error_set(&err, 431, "http.header_too_large",
                        "Request header fields exceed %zu bytes.", max);
    framing_error(c, &err);
}

static void conn_process(struct conn *c)
{
    if (c->in_process)
        return;
    c->in_process = true;
    const struct latch_config *cfg = c->loop->srv->cfg;
    while (c->bev != NULL) {
        struct evbuffer *in = bufferevent_get_input(c->bev);
        if (c->state == CONN_READ_HEAD) {
            if (evbuffer_get_length(in) == 0)
                break;
            if (c->req == NULL && !start_request(c))
                goto oom;
            long head = find_head_end(c, in, cfg->max_header_bytes);
            if (head == 0)
                break;
            if (head < 0) {
                begin_head_error(c, in, cfg->max_header_bytes);
                continue;
            }
            c->scanned = 0;
            event_del(&c->deadline);
            const char *p = (const char *)evbuffer_pullup(in, head);
            struct latch_error err;
            if (p == NULL)
                goto oom;
            latch_rc rc = latch_http_parse_head(c->req, p, (size_t)head, &c->info, &err);
            evbuffer_drain(in, (size_t)head);
            if (rc != LATCH_OK) {
                framing_error(c, &err);
                continue;
            }
            resolve_client(c, c->req);
            assign_request_id(c, c->req);
            route_request(c);
            if (c->info.has_content_length && c->info.content_length > c->body_limit) {
                latch_error_set(&err, 413, "http.payload_too_large",
                                "Request body exceeds %zu bytes.", c->body_limit);
                body_refused(c, &err, "invalid_request");
                continue;
            }
            bool has_body =
                c->info.chunked || (c->info.has_content_length && c->info.content_length > 0);
            if (!has_body) {
                c->req->body = "";
                c->state = CONN_HANDLING;
            } else if ((c->route.flags & LATCH_ROUTE_AUTH_FIRST) && c->outcome == ROUTE_TENANT &&
                       (c->info.chunked || evbuffer_get_length(in) < c->info.content_length)) {
                /* Credentials first: the handler sees the head before a byte of the body is
                 * buffered beyond what came with it (latch_http_read_body). An answer before
                 * then closes the connection. No 100 Continue until the body is wanted. */
                c->body_deferred = true;
                c->deferred_keep_alive = c->info.keep_alive;
                c->info.keep_alive = false;
                c->linger = true;
                c->state = CONN_HANDLING;
            } else if (!body_begin(c)) {
                if (c->state == CONN_READ_HEAD)
                    goto oom;
                continue; /* answered 503 */
            }
        }
        if (c->state == CONN_READ_BODY) {
            size_t need = c->info.content_length;
            if (evbuffer_get_length(in) < need)
                break;
            char *body = latch_arena_alloc(c->arena, need + 1);
            if (body == NULL)
                goto oom;
            evbuffer_remove(in, body, need);
            body[need] = '\0';
            c->req->body = body;
            c->req->body_len = need;
            c->state = CONN_HANDLING;
        }
        if (c->state == CONN_READ_CHUNKED) {
            size_t avail = evbuffer_get_length(in);
            if (avail == 0)
                break;
            const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)avail);
            size_t used = 0;
            struct latch_error err;
            int rc = latch_chunked_feed(&c->chunked, p, avail, &used, c->body_limit, body_append,
                                        c->body, &err);
            evbuffer_drain(in, used);
            if (rc < 0) {
                if (err.status == 413)
                    body_refused(c, &err, "invalid_request");
                else
                    framing_error(c, &err);
                continue;
            }
            /* A chunked body takes its share of the budget as it grows, 16 KiB at a time. */
            size_t decoded = evbuffer_get_length(c->body);
            if (decoded > c->body_reserved &&
                !budget_take(c, ((decoded - c->body_reserved) + 16383) & ~(size_t)16383)) {
                budget_refuse(c);
                continue;
            }
            if (rc == 0) {
                if (used > 0) {
                    c->body_received += used;
                    body_deadline_arm(c, c->body_received);
                }
                break;
            }
            size_t n = evbuffer_get_length(c->body);
            char *body = latch_arena_alloc(c->arena, n + 1);
            if (body == NULL)
                goto oom;
            evbuffer_remove(c->body, body, n);
            body[n] = '\0';
            evbuffer_free(c->body);
            c->body = NULL;
            c->req->body = body;
            c->req->body_len = n;
            c->state = CONN_HANDLING;
        }
        if (c->state == CONN_HANDLING) {
            /* One request at a time: pipelined bytes wait in the buffer until we answer. */
            bufferevent_disable(c->bev, EV_READ);
            event_del(&c->deadline);
            if (c->body_next != NULL) {
                /* The deferred body has arrived: back to the handler that asked for it. */
                latch_http_handler next = c->body_next;
                c->body_next = NULL;
                next(c->req, c->body_next_arg);
            } else {
                dispatch(c);
            }
            if (c->state == CONN_HANDLING)
                break; /* answered later, from a completion */
            continue;  /* answered at once; maybe another request is buffered */
        }
        break; /* CONN_CLOSING */
    }
    c->in_process = false;
    if (c->bev == NULL && c->state != CONN_HANDLING)
        conn_free(c);
    return;
oom:
    c->in_process = false;
    latch_err("out of memory reading a request");
    conn_free(c);
}

/* Called by response.c once an answer is queued for writing. */
void latch_http_conn_request_done(struct conn *c)
{
    bool keep = c->info.keep_alive && !c->loop->stopping && c->bev != NULL;
    event_del(&c->deadline);
    c->req = NULL;
    c->body_deferred = false;
    c->body_next = NULL;
    if (c->body != NULL) {
        evbuffer_free(c->body);
        c->body = NULL;
    }
    if (c->big_watermark && c->bev != NULL) {
        const struct latch_config *cfg = c->loop->srv->cfg;
        bufferevent_setwatermark(c->bev, EV_READ, 0, cfg->max_header_bytes + 65536);
        c->big_watermark = false;
    }
    if (c->bev == NULL) {
        /* The peer went away while the handler ran. */
        if (!c->in_process)
            conn_free(c);
        else
            c->state = CONN_CLOSING;
        return;
    }
    if (!keep) {
        c->state = CONN_CLOSING;
        bufferevent_disable(c->bev, EV_READ);
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 && !c->in_process)
            conn_free(c);
        return;
    }
    c->state = CONN_READ_HEAD;
    /* A body that may have outgrown the arena's first block goes once the answer's call stack
     * has unwound (the deadline timer at 0 ms, see on_deadline), not when the next request
     * begins: an idle keep-alive connection must not hold a big body, nor its share of the
     * budget. A small one is left to the next request (BODY_KEEP_MAX): no timer per request. */
    if (c->body_reserved > BODY_KEEP_MAX)
        deadline_arm(c, 0);
    else
        budget_release(c);
    bufferevent_enable(c->bev, EV_READ);
    if (!c->in_process && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
        conn_process(c);
}

void latch_http_read_body(struct latch_request *req, latch_http_handler next, void *arg)
{
    struct conn *c = req->priv;
    if (!c->body_deferred) {
        next(req, arg);
        return;
    }
    c->body_deferred = false;
    if (c->bev == NULL) {
        /* The client went away meanwhile: nobody reads this answer. */
        latch_http_respond_errorf(req, 400, "http.bad_request", "The client went away.");
        return;
    }
    c->info.keep_alive = c->deferred_keep_alive;
    c->linger = false;
    if (!body_begin(c)) {
        if (c->state == CONN_HANDLING)
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return; /* answered */
    }
    c->body_next = next;
    c->body_next_arg = arg;
    bufferevent_enable(c->bev, EV_READ);
    if (!c->in_process)
        conn_process(c);
}

/* ---- connection events ---- */

#define LINGER_MS        2000
#define LINGER_MAX_BYTES (64u << 20)

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        c->lingered += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
        if (c->lingered > LINGER_MAX_BYTES)
            conn_free(c);
        return;
    }
    conn_process(c);
}

/* After an early answer the client may still be sending its body; closing now would make the
 * kernel reset the connection and the client could lose the answer. So: shut our side, read
 * and discard for a while, then close (the "lingering close" of RFC 9112 §9.6). */
static void start_linger(struct conn *c)
{
    c->state = CONN_LINGER;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    struct timeval tv = {.tv_sec = LINGER_MS / 1000, .tv_usec = (LINGER_MS % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &tv, NULL);
    /* The read timeout restarts on every byte; a client that keeps dribbling must not keep
     * a lingering connection open either. */
    deadline_arm(c, LINGER_MS);
    evbuffer_drain(bufferevent_get_input(c->bev),
                   evbuffer_get_length(bufferevent_get_input(c->bev)));
    bufferevent_enable(c->bev, EV_READ);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CLOSING && !c->in_process) {
        if (c->linger && !c->loop->stopping)
            start_linger(c);
        else
            conn_free(c);
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_HANDLING) {
        /* Keep the request alive for its handler; drop the socket. */
        bufferevent_free(c->bev);
        c->bev = NULL;
        return;
    }
    conn_free(c);
}

/* The request's deadline passed (or lingering's): 408 if nothing of it was answered, then close. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_READ_HEAD && c->req == NULL && c->bev != NULL) {
        /* Between requests (latch_http_conn_request_done): release the last body. */
        latch_arena_reset(c->arena);
        budget_release(c);
        return;
    }
    if (c->bev == NULL || c->req == NULL || c->responded ||
        (c->state != CONN_READ_HEAD && c->state != CONN_READ_BODY &&
         c->state != CONN_READ_CHUNKED)) {
        conn_free(c);
        return;
    }
    struct latch_loop *loop = c->loop;
    const struct latch_config *cfg = loop->srv->cfg;
    bool head = c->state == CONN_READ_HEAD;
    char line[200];
    snprintf(line, sizeof(line), "request %s from %s too slow (LATCH_%s); answered 408 and closed",
             head ? "head" : "body", c->peer_ip,
             head ? "HEADER_TIMEOUT_MS" : "BODY_TIMEOUT_MS, LATCH_MIN_BODY_RATE");
    loop_warn(loop, &loop->timeout_warn, line);
    struct latch_error err;
    if (head)
        latch_error_set(&err, 408, "http.request_timeout",
                        "The request head did not arrive within %d ms.", cfg->header_timeout_ms);
    else
        latch_error_set(&err, 408, "http.request_timeout",
                        "The request body arrived slower than %d bytes/s.", cfg->min_body_rate);
    framing_error(c, &err);
}

static void conn_free(struct conn *c)
{
    struct latch_loop *loop = c->loop;
    if (c->state == CONN_HANDLING && c->req != NULL) {
        /* A handler still owns the request; it frees the connection when it answers. */
        if (c->bev != NULL) {
            bufferevent_free(c->bev);
            c->bev = NULL;
        }
        return;
    }
    event_del(&c->deadline);
    budget_release(c);
    if (c->ip_counted)
        peer_release(loop->srv, c->peer_addr);
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->body != NULL)
        evbuffer_free(c->body);
    latch_arena_free(c->arena);
    if (c->prev)
        c->prev->next = c->next;
    else
        loop->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    loop->nconns--;
    free(c);
    if (loop->stopping && loop->nconns == 0)
        event_base_loopexit(loop->base, NULL);
    /* Resume below 90% of the cap, so that accepting does not flap at the bound. */
    if (loop->accept_paused && loop->listener != NULL &&
        !evtimer_pending(loop->ev_accept_resume, NULL) &&
        loop->nconns < loop->max_conns - loop->max_conns / 10) {
        loop->accept_paused = false;
        evconnlistener_enable(loop->listener);
        latch_info("loop %d: accepting connections again (%d open)", loop->index, loop->nconns);
    }
}

/* Takes an accepted socket into the loop. */
static struct conn *conn_open(struct latch_loop *loop, evutil_socket_t fd,
                              const struct sockaddr *sa)
{
    const struct latch_config *cfg = loop->srv->cfg;
    struct conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    c->loop = loop;
    event_assign(&c->deadline, loop->base, -1, 0, on_deadline, c);
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, c->peer_ip, sizeof(c->peer_ip));
        c->peer_addr[10] = c->peer_addr[11] = 0xff;
        memcpy(c->peer_addr + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_ip, sizeof(c->peer_ip));
        memcpy(c->peer_addr, &in6->sin6_addr, 16);
    } else {
        snprintf(c->peer_ip, sizeof(c->peer_ip), "unix");
    }
    if (sa->sa_family != AF_UNIX && !peer_admit(loop->srv, c->peer_addr, &c->ip_counted)) {
        peer_refuse(loop, fd, c->peer_ip);
        free(c);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        if (c->ip_counted)
            peer_release(loop->srv, c->peer_addr);
        free(c);
        return NULL;
    }
    c->next = loop->conns;
    if (loop->conns)
        loop->conns->prev = c;
    loop->conns = c;
    loop->nconns++;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    /* Stop reading once a full head could be buffered (the bound answers earlier); a big body
     * raises the mark while it is read (body_begin). */
    bufferevent_setwatermark(c->bev, EV_READ, 0, cfg->max_header_bytes + 65536);
    struct timeval idle = {.tv_sec = cfg->idle_timeout_ms / 1000,
                           .tv_usec = (cfg->idle_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    bufferevent_enable(c->bev, EV_READ);
    return c;
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct latch_loop *loop = arg;
    if (conn_open(loop, fd, sa) == NULL)
        return;
    /* At the cap, new connections wait in the kernel's backlog (and past it, clients retry):
     * back-pressure instead of running out of descriptors or memory. */
    if (loop->nconns >= loop->max_conns && !loop->accept_paused) {
        loop->accept_paused = true;
        evconnlistener_disable(listener);
        loop_warn(loop, &loop->accept_warn,
                  "LATCH_MAX_CONNECTIONS reached; accepting paused until connections close");
    }
}

#define ACCEPT_PAUSE_MS 100

static void on_accept_error(struct evconnlistener *listener, void *arg)
{
    struct latch_loop *loop = arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        /* The pending connection stays readable: accepting again at once would spin. Pause,
         * and let connections close meanwhile. */
        evconnlistener_disable(listener);
        loop->accept_paused = true;
        struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_PAUSE_MS * 1000};
        evtimer_add(loop->ev_accept_resume, &tv);
        char what[160];
        snprintf(what, sizeof(what),
                 "accept failed: %s; pausing accepting for %d ms (raise the descriptor limit or "
                 "lower LATCH_MAX_CONNECTIONS)",
                 evutil_socket_error_to_string(e), ACCEPT_PAUSE_MS);
        loop_warn(loop, &loop->accept_warn, what);
        return;
    }
    latch_debug("accept failed: %s", evutil_socket_error_to_string(e));
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct latch_loop *loop = arg;
    if (loop->listener == NULL || loop->nconns >= loop->max_conns)
        return; /* stopping, or at the cap: conn_free resumes */
    loop->accept_paused = false;
    evconnlistener_enable(loop->listener);
}

/* Accepts what is already in the listen backlog: those clients connected before we stopped
 * accepting, and closing the listener would reset them. They are served (one request each,
 * with Connection: close) before the loop ends. */
static void accept_backlog(struct latch_loop *loop)
{
    evutil_socket_t lfd = evconnlistener_get_fd(loop->listener);
    for (int n = 0; n < 4096; n++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        struct conn *c = conn_open(loop, fd, (struct sockaddr *)&ss);
        if (c == NULL)
            continue;
        c->from_backlog = true;
        /* A client that connected but says nothing must not hold the shutdown for long. */
        struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
        bufferevent_set_timeouts(c->bev, &tv, &tv);
    }
}

/* Whether the peer has sent bytes we have not read yet (a request on its way). */
static bool unread_bytes(struct conn *c)
{
    char b;
    ssize_t n = recv(bufferevent_getfd(c->bev), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0;
}

/* ---- loops ---- */

static void on_grace_expired(evutil_socket_t fd, short what, void *arg)
{
    struct latch_loop *loop = arg;
    latch_warn("loop %d: %d connection(s) still busy after the grace period; closing them",
               loop->index, loop->nconns);
    event_base_loopbreak(loop->base);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct latch_loop *loop = arg;
    if (loop->stopping)
        return;
    loop->stopping = true;
    evtimer_del(loop->ev_accept_resume);
    if (loop->listener != NULL) {
        accept_backlog(loop);
        evconnlistener_free(loop->listener);
        loop->listener = NULL;
    }
    /* Idle keep-alive connections go now; busy ones, and those whose next request is arriving,
     * close after their answer. */
    for (struct conn *c = loop->conns, *next; c != NULL; c = next) {
        next = c->next;
        if (c->state == CONN_READ_HEAD && c->bev != NULL && !c->from_backlog &&
            evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 && !unread_bytes(c))
            conn_free(c);
    }
    if (loop->nconns == 0) {
        event_base_loopexit(loop->base, NULL);
        return;
    }
    int ms = loop->srv->cfg->shutdown_grace_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(loop->ev_grace, &tv);
}

static void *loop_main(void *arg)
{
    struct latch_loop *loop = arg;
    event_base_dispatch(loop->base);
    return NULL;
}

static int bind_listener(struct latch_loop *loop, struct latch_error *err)
{
    const struct latch_config *cfg = loop->srv->cfg;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->listen_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(cfg->listen_host[0] ? cfg->listen_host : NULL, port, &hints, &ai);
    if (gai != 0)
        return latch_error_set(err, 0, "config.invalid", "LATCH_LISTEN: cannot resolve %s: %s",
                               cfg->listen_host, gai_strerror(gai));
    unsigned flags =
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;
    loop->listener = evconnlistener_new_bind(loop->base, on_accept, loop, flags, 1024, ai->ai_addr,
                                             (int)ai->ai_addrlen);
    int e = errno;
    freeaddrinfo(ai);
    if (loop->listener == NULL)
        return latch_error_set(err, 0, "listen_failed", "cannot listen on %s:%u: %s",
                               cfg->listen_host, cfg->listen_port, strerror(e));
    evconnlistener_set_error_cb(loop->listener, on_accept_error);
    return LATCH_OK;
}

struct latch_server *latch_server_new(const struct latch_config *cfg, struct latch_error *err)
{
    struct latch_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        goto oom;
    srv->cfg = cfg;
    srv->node_routes = latch_router_new();
    srv->tenant_routes = latch_router_new();
    if (srv->node_routes == NULL || srv->tenant_routes == NULL)
        goto oom;
    return srv;
oom:
    latch_server_free(srv);
    latch_error_set(err, 500, "server_error", "out of memory");
    return NULL;
}

latch_rc latch_server_add_node_route(struct latch_server *srv, enum latch_http_method method,
                                     const char *pattern, latch_http_handler handler, void *arg)
{
    return latch_router_add(srv->node_routes, method, pattern, handler, arg);
}

latch_rc latch_server_add_tenant_route(struct latch_server *srv, enum latch_http_method method,
                                       const char *pattern, latch_http_handler handler, void *arg)
{
    return latch_router_add(srv->tenant_routes, method, pattern, handler, arg);
}

latch_rc latch_server_add_tenant_route_flags(struct latch_server *srv,
                                             enum latch_http_method method, const char *pattern,
                                             latch_http_handler handler, void *arg, unsigned flags)
{
    return latch_router_add_flags(srv->tenant_routes, method, pattern, handler, arg, flags);
}

latch_rc latch_server_add_tenant_route_fresh(struct latch_server *srv,
                                             enum latch_http_method method, const char *pattern,
                                             latch_http_handler handler, void *arg)
{
    return latch_router_add_flags(srv->tenant_routes, method, pattern, handler, arg,
                                  LATCH_ROUTE_FRESH_TENANT);
}

void latch_server_each_tenant_route(struct latch_server *srv,
                                    void (*fn)(enum latch_http_method method, const char *pattern,
                                               void *arg),
                                    void *arg)
{
    latch_router_each(srv->tenant_routes, fn, arg);
}

latch_rc latch_server_start(struct latch_server *srv, struct latch_error *err)
{
    const struct latch_config *cfg = srv->cfg;
    if (latch_server_lanes_start(srv, err) != LATCH_OK)
        return LATCH_FAIL;
    srv->loops = calloc((size_t)cfg->threads, sizeof(struct latch_loop));
    if (srv->loops == NULL)
        return latch_error_set(err, 500, "server_error", "cannot start the event loops");
    if (cfg->max_connections_per_ip > 0) {
        srv->peer_counts = calloc(2 * PEER_SLOTS, sizeof(*srv->peer_counts));
        if (srv->peer_counts == NULL ||
            getrandom(srv->peer_key, sizeof(srv->peer_key), 0) != (ssize_t)sizeof(srv->peer_key))
            return latch_error_set(err, 500, "server_error", "cannot set up the per-peer counts");
    }

    struct latch_store_options sopts = {
        .conninfo = cfg->database_url,
        .pool_size = cfg->db_pool_size,
        .max_queue = DB_QUEUE_MAX,
        .max_in_flight = DB_IN_FLIGHT,
        .transaction_pooling = cfg->db_transaction_pooling,
    };
    for (int i = 0; i < cfg->threads; i++) {
        struct latch_loop *loop = &srv->loops[i];
        loop->srv = srv;
        loop->index = i;
        loop->base = event_base_new();
        if (loop->base == NULL)
            return latch_error_set(err, 500, "server_error", "cannot create event loop");
        srv->nloops++;
        if (getrandom(loop->rng, sizeof(loop->rng), 0) != (ssize_t)sizeof(loop->rng))
            return latch_error_set(err, 500, "server_error", "getrandom failed");
        loop->ev_stop = event_new(loop->base, -1, 0, on_stop, loop);
        loop->ev_grace = evtimer_new(loop->base, on_grace_expired, loop);
        loop->ev_accept_resume = evtimer_new(loop->base, on_accept_resume, loop);
        loop->max_conns = (cfg->max_connections + cfg->threads - 1) / cfg->threads;
        loop->mailbox = latch_mailbox_new(loop->base);
        loop->store = latch_store_new(loop->base, &sopts);
        loop->tenant_cache =
            latch_tenant_cache_new(cfg, loop->store, srv->lanes[LATCH_LANE_CPU], loop->mailbox);
        if (loop->ev_stop == NULL || loop->ev_grace == NULL || loop->ev_accept_resume == NULL ||
            loop->mailbox == NULL || loop->store == NULL || loop->tenant_cache == NULL)
            return latch_error_set(err, 500, "server_error", "cannot set up loop %d", i);
        if (bind_listener(loop, err) != LATCH_OK)
            return LATCH_FAIL;
    }
    /* Loop threads never take the process signals; the main thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < srv->nloops; i++) {
        if (pthread_create(&srv->loops[i].thread, NULL, loop_main, &srv->loops[i]) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return latch_error_set(err, 500, "server_error", "cannot start loop thread %d", i);
        }
        srv->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    latch_info("listening on %s:%u with %d loop thread(s), %d worker(s)", cfg->listen_host,
               cfg->listen_port, srv->nloops, cfg->workers);
    return LATCH_OK;
}

void latch_server_drain(struct latch_server *srv)
{
    atomic_store(&srv->draining, true);
}

void latch_server_shutdown(struct latch_server *srv)
{
    if (srv == NULL || !srv->started)
        return;
    for (int i = 0; i < srv->nloops; i++)
        event_active(srv->loops[i].ev_stop, EV_READ, 0);
    for (int i = 0; i < srv->nloops; i++)
        pthread_join(srv->loops[i].thread, NULL);
    srv->started = false;
}

void latch_server_free(struct latch_server *srv)
{
    if (srv == NULL)
        return;
    latch_server_shutdown(srv);
    latch_server_lanes_free(srv);
    for (int i = 0; i < srv->nloops; i++) {
        struct latch_loop *loop = &srv->loops[i];
        loop->stopping = true;
        if (loop->listener)
            evconnlistener_free(loop->listener);
        /* Pending database calls complete with errors; their handlers answer. */
        latch_store_free(loop->store);
        loop->store = NULL;
        for (int k = 0; k < LATCH_LOOP_SLOTS; k++)
            if (loop->locals[k] != NULL && loop->local_free[k] != NULL)
                loop->local_free[k](loop->locals[k]);
        latch_tenant_cache_free(loop->tenant_cache);
        for (struct conn *c = loop->conns, *next; c != NULL; c = next) {
            next = c->next;
            if (c->state != CONN_HANDLING)
                conn_free(c);
        }
        latch_mailbox_free(loop->mailbox);
        if (loop->ev_stop)
            event_free(loop->ev_stop);
        if (loop->ev_grace)
            event_free(loop->ev_grace);
        if (loop->ev_accept_resume)
            event_free(loop->ev_accept_resume);
        if (loop->base)
            event_base_free(loop->base);
    }
    free(srv->loops);
    free(srv->peer_counts);
    latch_router_free(srv->node_routes);
    latch_router_free(srv->tenant_routes);
    free(srv);
}

struct latch_loop *latch_server_loop(struct latch_server *srv, int i)
{
    return srv != NULL && i >= 0 && i < srv->nloops ? &srv->loops[i] : NULL;
}
