/*
 * What server.c and response.c share: the connection and loop structs. Not for other modules.
 */
#ifndef LATCH_HTTP_SERVER_INTERNAL_H
#define LATCH_HTTP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event_struct.h>

#include "config/config.h"
#include "http/http.h"
#include "http/parser.h"
#include "http/router.h"

struct bufferevent;
struct evconnlistener;
struct event;
struct evbuffer;
struct latch_mailbox;
struct latch_workpool;

enum conn_state {
    CONN_READ_HEAD = 0,
    CONN_READ_BODY,
    CONN_READ_CHUNKED,
    CONN_HANDLING,
    CONN_CLOSING, /* answer written or being written; close when the output drains */
    CONN_LINGER,  /* answered early (413, 431…): writes shut, reading and discarding what the
                   * client still sends, so that closing does not reset the answer away */
};

struct resp_header {
    struct resp_header *next;
    const char *name;
    const char *value;
};

struct conn {
    struct conn *prev, *next; /* the loop's list */
    struct latch_loop *loop;
    struct bufferevent *bev; /* NULL once the peer has gone */
    enum conn_state state;
    size_t scanned; /* head bytes already searched for the empty line */
    struct latch_arena *arena;
    struct latch_request *req;
    struct latch_http_head_info info;
    struct latch_chunked chunked;
    struct evbuffer *body; /* chunked bodies are decoded into this */
    struct resp_header *resp_headers;
    bool has_cache_control;
    bool responded;
    bool in_process;   /* conn_process() is on the stack */
    bool linger;       /* the client may still be sending: linger before closing */
    bool from_backlog; /* accepted from the backlog at shutdown: served before closing */
    size_t lingered;   /* bytes discarded while lingering */
    struct latch_route_match route;
    int outcome;       /* enum route_outcome in server.c: what dispatch() will do */
    int route_result;  /* enum latch_route_result of a miss */
    size_t body_limit; /* the route's body bound, within LATCH_MAX_BODY_BYTES */
    /* Memory before authentication (latch_http_read_body): the handler of an AUTH_FIRST route
     * runs before its body is read; until it asks for the body, an answer closes. */
    bool body_deferred;
    bool deferred_keep_alive;
    latch_http_handler body_next; /* runs once the deferred body has arrived */
    void *body_next_arg;
    size_t body_reserved; /* bytes of the node's body budget this request holds */
    bool big_watermark;   /* the read watermark was raised for a big body */
    uint64_t start_ns;
    /* The request's deadline, independent of per-read activity (the idle timeout restarts on
     * every byte): the head's, then the body's, then the bound on lingering. */
    struct event deadline;
    uint64_t body_start_ns; /* when the head was complete */
    size_t body_received;   /* body bytes taken so far (chunked framing included) */
    bool ip_counted;        /* counted in the server's per-peer table (conn_free uncounts) */
    char peer_ip[64];
    uint8_t peer_addr[16];
};

/* At most one warning line every RATE_WARN_SECONDS per loop and kind, with a count of the
 * suppressed ones: under a flood the log must not become the next problem. */
struct rate_warn {
    time_t last;
    long suppressed;
};

struct latch_loop {
    struct latch_server *srv;
    int index;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    struct latch_store *store;
    struct latch_mailbox *mailbox;
    struct latch_tenant_cache *tenant_cache;
    void *locals[LATCH_LOOP_SLOTS];
    void (*local_free[LATCH_LOOP_SLOTS])(void *);
    struct event *ev_stop;
    struct event *ev_grace;
    struct event *ev_accept_resume; /* re-enables accepting after EMFILE and the like */
    struct conn *conns;
    int nconns;
    int max_conns;      /* this loop's share of LATCH_MAX_CONNECTIONS */
    bool accept_paused; /* at max_conns, or out of descriptors */
    struct rate_warn accept_warn;
    struct rate_warn peer_warn;    /* LATCH_MAX_CONNECTIONS_PER_IP refusals */
    struct rate_warn timeout_warn; /* head and body deadlines */
    struct rate_warn budget_warn;  /* LATCH_BODY_BUDGET_BYTES refusals */
    bool stopping;
    uint64_t rng[4];
    time_t date_sec;
    char date[40];
};

struct latch_server {
    const struct latch_config *cfg;
    struct latch_loop *loops;
    int nloops;
    struct latch_workpool *lanes[LATCH_LANES]; /* lanes.c */
    struct latch_router *node_routes;
    struct latch_router *tenant_routes;
    bool started;
    atomic_bool draining;
    /* Open connections per TCP peer, shared by the loops (lock-free: atomics only); NULL when
     * LATCH_MAX_CONNECTIONS_PER_IP is 0. See peer_admit() in server.c. */
    atomic_uint *peer_counts;
    uint64_t peer_key[2];
    /* Request body bytes the loops buffer now, against LATCH_BODY_BUDGET_BYTES. */
    atomic_size_t body_bytes;
};

/* lanes.c: start the worker lanes (before the loops) and free them (after the loops stop). */
latch_rc latch_server_lanes_start(struct latch_server *srv, struct latch_error *err);
void latch_server_lanes_free(struct latch_server *srv);

/* response.c */
void latch_http_conn_finish(struct conn *c, int status, const char *content_type, const char *body,
                            size_t len);
void latch_http_conn_request_done(struct conn *c);
uint64_t latch_http_now_ns(void);

#endif
