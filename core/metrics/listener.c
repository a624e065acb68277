/*
 * The metrics listener (LATCH_METRICS_LISTEN): one thread with its own event_base serving
 * GET /metrics in the text exposition format; see metrics.h.
 *
 * Deliberately small and separate from http/: one request per connection (answered with
 * Connection: close), a request head of at most 4 KiB read within 10 s, at most 32 connections
 * at once (more are closed on accept). A scrape runs the gauge probes and may wait for them a
 * quarter of a second; only this thread waits, never a loop thread.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/log.h"

#define HEAD_MAX     4096
#define TIMEOUT_SEC  10
#define MAX_CLIENTS  32
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct client {
    struct client *prev, *next;
    struct bufferevent *bev;
    bool answered;
};

static struct {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *resume; /* re-enables accepting after running out of descriptors */
    pthread_t thread;
    bool running;
    struct client *clients;
    int nclients;
} L;

static void client_free(struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        L.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    L.nclients--;
    bufferevent_free(c->bev);
    free(c);
}

static void respond(struct client *c, int status, const char *reason, const char *extra_header,
                    const char *body, size_t len, bool head_only)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                        status, reason, status == 200 ? CONTENT_TYPE : "text/plain; charset=utf-8",
                        len, extra_header ? extra_header : "");
    if (!head_only && len > 0)
        evbuffer_add(out, body, len);
    c->answered = true;
    /* Nothing more is read; the connection closes once the answer is written. */
    bufferevent_disable(c->bev, EV_READ);
}

static void respond_text(struct client *c, int status, const char *reason, const char *extra,
                         const char *text)
{
    respond(c, status, reason, extra, text, strlen(text), false);
}

static void serve_metrics(struct client *c, bool head_only)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool ok = f != NULL && latch_metrics_render_all(f);
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (ok)
        respond(c, 200, "OK", NULL, buf, len, head_only);
    else
        respond_text(c, 500, "Internal Server Error", NULL, "cannot render the metrics\n");
    free(buf);
}

/* The request line of a complete head: METHOD SP target SP HTTP/1.x. */
static void handle(struct client *c, const char *head, size_t len)
{
    const char *eol = memchr(head, '\r', len);
    size_t n = eol != NULL ? (size_t)(eol - head) : len;
    char line[HEAD_MAX + 1];
    memcpy(line, head, n);
    line[n] = '\0';

    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || sp2[8] == '\0' ||
        sp2[9] != '\0') {
        respond_text(c, 400, "Bad Request", NULL, "bad request\n");
        return;
    }
    *sp1 = *sp2 = '\0';
    const char *method = line, *target = sp1 + 1;
    size_t path_len = strcspn(target, "?");
    if (path_len != 8 || strncmp(target, "/metrics", 8) != 0) {
        respond_text(c, 404, "Not Found", NULL, "not found; try /metrics\n");
        return;
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        serve_metrics(c, method[0] == 'H');
    else
        respond_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "method not allowed\n");
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t avail = evbuffer_get_length(in);
    size_t n = avail < HEAD_MAX ? avail : HEAD_MAX;
    char head[HEAD_MAX];

    if (c->answered)
        return;
    evbuffer_copyout(in, head, n);
    for (size_t i = 3; i < n; i++) {
        if (head[i] == '\n' && head[i - 1] == '\r' && head[i - 2] == '\n' && head[i - 3] == '\r') {
            handle(c, head, i + 1);
            return;
        }
    }
    if (avail >= HEAD_MAX)
        respond_text(c, 431, "Request Header Fields Too Large", NULL, "request too large\n");
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    if (c->answered)
        client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    /* EOF, error or timeout: nothing to answer any more. */
    client_free(arg);
}

static void on_accept(struct evconnlistener *lst, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    if (L.nclients >= MAX_CLIENTS) {
        evutil_closesocket(fd);
        return;
    }
    struct client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        return;
    }
    c->bev = bufferevent_socket_new(L.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev == NULL) {
        evutil_closesocket(fd);
        free(c);
        return;
    }
    c->next = L.clients;
    if (L.clients)
        L.clients->prev = c;
    L.clients = c;
    L.nclients++;
    struct timeval tv = {.tv_sec = TIMEOUT_SEC};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, HEAD_MAX);
    bufferevent_enable(c->bev, EV_READ);
}

static void on_accept_error(struct evconnlistener *lst, void *arg)
{
    int e = EVUTIL_SOCKET_ERROR();
    latch_warn("metrics listener: accept failed: %s", evutil_socket_error_to_string(e));
    if ((e == EMFILE || e == ENFILE) && L.resume != NULL) {
        /* Out of descriptors: stop accepting for a second instead of spinning. */
        evconnlistener_disable(lst);
        evtimer_add(L.resume, &(struct timeval){.tv_sec = 1});
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    evconnlistener_enable(L.listener);
}

static void *listener_main(void *arg)
{
    event_base_dispatch(L.base);
    return NULL;
}

static void teardown(void)
{
    while (L.clients != NULL)
        client_free(L.clients);
    if (L.listener != NULL)
        evconnlistener_free(L.listener);
    if (L.resume != NULL)
        event_free(L.resume);
    if (L.base != NULL)
        event_base_free(L.base);
    memset(&L, 0, sizeof(L));
}

latch_rc latch_metrics_listener_start(const char *host, uint16_t port, struct latch_error *err)
{
    char port_s[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    latch_rc rc = LATCH_FAIL;

    latch_metrics_init();
    if (L.running)
        return latch_error_set(err, 0, "listen_failed", "the metrics listener runs already");
    snprintf(port_s, sizeof(port_s), "%u", port);
    int gai = getaddrinfo(host[0] ? host : NULL, port_s, &hints, &ai);
    if (gai != 0) {
        latch_error_set(err, 0, "config.invalid", "LATCH_METRICS_LISTEN: cannot resolve %s: %s",
                        host, gai_strerror(gai));
        goto out;
    }
    L.base = event_base_new();
    if (L.base == NULL) {
        latch_error_set(err, 0, "listen_failed", "cannot create the metrics event loop");
        goto out;
    }
    L.listener = evconnlistener_new_bind(
        L.base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        64, ai->ai_addr, (int)ai->ai_addrlen);
    if (L.listener == NULL) {
        latch_error_set(err, 0, "listen_failed", "LATCH_METRICS_LISTEN: cannot listen on %s:%u: %s",
                        host, port, strerror(errno));
        goto out;
    }
    evconnlistener_set_error_cb(L.listener, on_accept_error);
    L.resume = evtimer_new(L.base, on_resume, NULL);
    if (L.resume == NULL) {
        latch_error_set(err, 0, "listen_failed", "cannot create the metrics event loop");
        goto out;
    }

    /* The thread never takes the process signals; the main thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&L.thread, NULL, listener_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        latch_error_set(err, 0, "listen_failed", "cannot start the metrics thread: %s",
                        strerror(e));
        goto out;
    }
    L.running = true;
    latch_info("metrics on http://%s%s%s:%u/metrics", strchr(host, ':') ? "[" : "", host,
               strchr(host, ':') ? "]" : "", port);
    rc = LATCH_OK;
out:
    if (ai != NULL)
        freeaddrinfo(ai);
    if (rc != LATCH_OK)
        teardown();
    return rc;
}

void latch_metrics_listener_stop(void)
{
    if (L.running) {
        event_base_loopbreak(L.base); /* thread-safe: libevent runs with pthreads support */
        pthread_join(L.thread, NULL);
        teardown();
    }
    latch_metrics_clear_sources();
}
