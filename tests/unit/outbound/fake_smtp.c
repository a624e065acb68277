/* The fake SMTP server; see fake_smtp.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "fake_smtp.h"
#include "test_server.h"
#include "util/base64.h"

#define LINE_MAX_BYTES 8192

static struct {
    SSL_CTX *ctx;
    int listen_fd;
    int stop_pipe[2];
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    struct fake_smtp_options opts; /* under lock */
    char user[256], pass[256], auth[64], reject[512];
    struct fake_smtp_session last; /* under lock */
    int done;                      /* sessions ended, under lock */
} fs;

/* A connection: plain, or TLS once ssl is set; a small read buffer. */
struct io {
    int fd;
    SSL *ssl;
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static bool io_write(struct io *io, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = io->ssl != NULL ? SSL_write(io->ssl, s, (int)len) : write(io->fd, s, len);
        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

/* One line without its CRLF into out; false at the end of the connection or on a line too
 * long. */
static bool io_line(struct io *io, char *out, size_t cap)
{
    for (;;) {
        char *nl = memchr(io->buf, '\n', io->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - io->buf);
            size_t keep = n > 0 && io->buf[n - 1] == '\r' ? n - 1 : n;
            if (keep >= cap)
                return false;
            memcpy(out, io->buf, keep);
            out[keep] = '\0';
            memmove(io->buf, nl + 1, io->len - n - 1);
            io->len -= n + 1;
            return true;
        }
        if (io->len == sizeof(io->buf))
            return false;
        ssize_t n = io->ssl != NULL
                        ? SSL_read(io->ssl, io->buf + io->len, (int)(sizeof(io->buf) - io->len))
                        : read(io->fd, io->buf + io->len, sizeof(io->buf) - io->len);
        if (n <= 0)
            return false;
        io->len += (size_t)n;
    }
}

static bool start_tls(struct io *io)
{
    io->ssl = SSL_new(fs.ctx);
    io->len = 0; /* nothing sent before the handshake counts (no command injection) */
    return io->ssl != NULL && SSL_set_fd(io->ssl, io->fd) == 1 && SSL_accept(io->ssl) == 1;
}

/* base64 text into out (NUL-terminated); the decoded length, or -1. */
static ssize_t b64(const char *text, char *out, size_t cap)
{
    ssize_t n = latch_base64_decode(text, strlen(text), (uint8_t *)out, cap - 1);
    if (n >= 0)
        out[n] = '\0';
    return n;
}

/* Between < and > of "MAIL FROM:<x>" or "RCPT TO:<x>". */
static void angle(const char *line, char *out, size_t cap)
{
    const char *lt = strchr(line, '<');
    const char *gt = lt != NULL ? strchr(lt, '>') : NULL;
    if (lt == NULL || gt == NULL)
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
}

static void check_credentials(struct fake_smtp_session *s, const struct fake_smtp_options *o)
{
    s->authed = o->user != NULL && strcmp(s->auth_user, o->user) == 0 && o->pass != NULL &&
                strcmp(s->auth_pass, o->pass) == 0;
}

/* AUTH PLAIN or LOGIN, with or without an initial response. */
static bool do_auth(struct io *io, const char *args, struct fake_smtp_session *s,
                    const struct fake_smtp_options *o)
{
    char line[LINE_MAX_BYTES], dec[1024];
    char mech[16] = "";
    const char *ir = NULL;

    sscanf(args, "%15s", mech);
    ir = strchr(args, ' ');
    ir = ir != NULL ? ir + 1 : NULL;
    snprintf(s->auth_mech, sizeof(s->auth_mech), "%s", mech);
    s->auth_user[0] = s->auth_pass[0] = '\0';
    if (o->auth == NULL || strcasestr(o->auth, mech) == NULL)
        return io_write(io, "504 5.5.4 Unrecognized authentication type\r\n");
    if (strcasecmp(mech, "PLAIN") == 0) {
        if (ir == NULL) {
            if (!io_write(io, "334 \r\n") || !io_line(io, line, sizeof(line)))
                return false;
            ir = line;
        }
        ssize_t n = b64(ir, dec, sizeof(dec));
        /* authzid NUL user NUL password */
        const char *u = n > 0 ? memchr(dec, '\0', (size_t)n) : NULL;
        const char *p = u != NULL ? memchr(u + 1, '\0', (size_t)(dec + n - (u + 1))) : NULL;
        if (u != NULL && p != NULL) {
            snprintf(s->auth_user, sizeof(s->auth_user), "%s", u + 1);
            snprintf(s->auth_pass, sizeof(s->auth_pass), "%.*s", (int)(dec + n - (p + 1)), p + 1);
        }
    } else {
        if (ir == NULL) {
            if (!io_write(io, "334 VXNlcm5hbWU6\r\n") || !io_line(io, line, sizeof(line)))
                return false;
            ir = line;
        }
        if (b64(ir, dec, sizeof(dec)) >= 0)
            snprintf(s->auth_user, sizeof(s->auth_user), "%.255s", dec);
        if (!io_write(io, "334 UGFzc3dvcmQ6\r\n") || !io_line(io, line, sizeof(line)))
            return false;
        if (b64(line, dec, sizeof(dec)) >= 0)
            snprintf(s->auth_pass, sizeof(s->auth_pass), "%.255s", dec);
    }
    check_credentials(s, o);
    return io_write(io, s->authed ? "235 2.7.0 Authentication successful\r\n"
                                  : "535 5.7.8 Authentication credentials invalid\r\n");
}

static bool do_data(struct io *io, struct fake_smtp_session *s)
{
    char line[LINE_MAX_BYTES];

    if (!io_write(io, "354 End data with <CR><LF>.<CR><LF>\r\n"))
        return false;
    s->data_len = 0;
    for (;;) {
        if (!io_line(io, line, sizeof(line)))
            return false;
        if (strcmp(line, ".") == 0)
            break;
        const char *l = line[0] == '.' ? line + 1 : line; /* RFC 5321 §4.5.2 */
        size_t n = strlen(l);
        if (s->data_len + n + 3 > sizeof(s->data))
            return io_write(io, "552 5.3.4 Message too big\r\n");
        memcpy(s->data + s->data_len, l, n);
        memcpy(s->data + s->data_len + n, "\r\n", 2);
        s->data_len += n + 2;
    }
    s->data[s->data_len] = '\0';
    s->data_ok = true;
    return io_write(io, "250 2.0.0 Ok: queued\r\n");
}

static void session(int fd, const struct fake_smtp_options *o, struct fake_smtp_session *s)
{
    struct io *io = calloc(1, sizeof(*io));
    char line[LINE_MAX_BYTES];
    char reply[512];

    if (io == NULL)
        return;
    io->fd = fd;
    if (o->implicit_tls && !start_tls(io))
        goto out;
    s->tls = io->ssl != NULL;
    if (!io_write(io, "220 smtp.test ESMTP fake\r\n"))
        goto out;
    while (io_line(io, line, sizeof(line))) {
        bool ok = true;
        if (strncasecmp(line, "EHLO ", 5) == 0 || strncasecmp(line, "HELO ", 5) == 0) {
            snprintf(s->ehlo, sizeof(s->ehlo), "%.255s", line + 5);
            snprintf(reply, sizeof(reply), "250-smtp.test\r\n%s%s%s%s250 SIZE 10485760\r\n",
                     o->offer_starttls && io->ssl == NULL ? "250-STARTTLS\r\n" : "",
                     o->auth != NULL ? "250-AUTH " : "", o->auth != NULL ? o->auth : "",
                     o->auth != NULL ? "\r\n" : "");
            ok = io_write(io, reply);
        } else if (strcasecmp(line, "STARTTLS") == 0 && o->offer_starttls && io->ssl == NULL) {
            ok = io_write(io, "220 2.0.0 Ready to start TLS\r\n") && start_tls(io);
            s->starttls = s->tls = ok;
        } else if (strncasecmp(line, "AUTH ", 5) == 0) {
            ok = do_auth(io, line + 5, s, o);
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            if (o->require_auth && !s->authed) {
                ok = io_write(io, "530 5.7.0 Authentication required\r\n");
            } else {
                angle(line, s->mail_from, sizeof(s->mail_from));
                s->nrcpt = 0;
                ok = io_write(io, "250 2.1.0 Ok\r\n");
            }
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            char to[512];
            angle(line, to, sizeof(to));
            if (o->reject_rcpt != NULL && strcmp(to, o->reject_rcpt) == 0) {
                ok = io_write(io, "550 5.1.1 No such user\r\n");
            } else if (s->nrcpt < FAKE_SMTP_MAX_RCPT) {
                snprintf(s->rcpt[s->nrcpt++], sizeof(s->rcpt[0]), "%s", to);
                ok = io_write(io, "250 2.1.5 Ok\r\n");
            } else {
                ok = io_write(io, "452 4.5.3 Too many recipients\r\n");
            }
        } else if (strcasecmp(line, "DATA") == 0) {
            ok = do_data(io, s);
        } else if (strcasecmp(line, "RSET") == 0 || strcasecmp(line, "NOOP") == 0) {
            ok = io_write(io, "250 2.0.0 Ok\r\n");
        } else if (strcasecmp(line, "QUIT") == 0) {
            s->quit = true;
            s->tls = io->ssl != NULL;
            io_write(io, "221 2.0.0 Bye\r\n");
            break;
        } else {
            ok = io_write(io, "502 5.5.2 Command not recognized\r\n");
        }
        if (!ok)
            break;
    }
out:
    if (io->ssl != NULL) {
        SSL_shutdown(io->ssl);
        SSL_free(io->ssl);
    }
    free(io);
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = fs.listen_fd, .events = POLLIN},
                              {.fd = fs.stop_pipe[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return NULL;
        if (p[1].revents != 0)
            return NULL;
        if ((p[0].revents & POLLIN) == 0)
            continue;
        int fd = accept(fs.listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = 5};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        struct fake_smtp_options o;
        pthread_mutex_lock(&fs.lock);
        o = fs.opts;
        pthread_mutex_unlock(&fs.lock);
        struct fake_smtp_session *s = calloc(1, sizeof(*s));
        if (s != NULL)
            session(fd, &o, s);
        close(fd);
        pthread_mutex_lock(&fs.lock);
        if (s != NULL)
            fs.last = *s;
        fs.done++;
        pthread_cond_broadcast(&fs.done_cond);
        pthread_mutex_unlock(&fs.lock);
        free(s);
    }
}

void fake_smtp_start(const char *ca_path)
{
    signal(SIGPIPE, SIG_IGN);
    fs.ctx = latch_test_server_ctx(ca_path, "smtp.test", "DNS:smtp.test,IP:127.0.0.1");
    fs.listen_fd = latch_test_listen(&fs.port);
    assert_int_equal(pipe(fs.stop_pipe), 0);
    assert_int_equal(pthread_mutex_init(&fs.lock, NULL), 0);
    assert_int_equal(pthread_cond_init(&fs.done_cond, NULL), 0);
    assert_int_equal(pthread_create(&fs.thread, NULL, server_main, NULL), 0);
}

void fake_smtp_stop(void)
{
    assert_int_equal(write(fs.stop_pipe[1], "x", 1), 1);
    pthread_join(fs.thread, NULL);
    close(fs.listen_fd);
    close(fs.stop_pipe[0]);
    close(fs.stop_pipe[1]);
    SSL_CTX_free(fs.ctx);
    pthread_cond_destroy(&fs.done_cond);
    pthread_mutex_destroy(&fs.lock);
}

uint16_t fake_smtp_port(void)
{
    return fs.port;
}

void fake_smtp_configure(const struct fake_smtp_options *opts)
{
    pthread_mutex_lock(&fs.lock);
    fs.opts = *opts;
    /* Copies: the caller's strings may not live as long as the server. */
    snprintf(fs.user, sizeof(fs.user), "%s", opts->user != NULL ? opts->user : "");
    snprintf(fs.pass, sizeof(fs.pass), "%s", opts->pass != NULL ? opts->pass : "");
    snprintf(fs.auth, sizeof(fs.auth), "%s", opts->auth != NULL ? opts->auth : "");
    snprintf(fs.reject, sizeof(fs.reject), "%s",
             opts->reject_rcpt != NULL ? opts->reject_rcpt : "");
    fs.opts.user = opts->user != NULL ? fs.user : NULL;
    fs.opts.pass = opts->pass != NULL ? fs.pass : NULL;
    fs.opts.auth = opts->auth != NULL ? fs.auth : NULL;
    fs.opts.reject_rcpt = opts->reject_rcpt != NULL ? fs.reject : NULL;
    pthread_mutex_unlock(&fs.lock);
}

int fake_smtp_sessions(void)
{
    pthread_mutex_lock(&fs.lock);
    int n = fs.done;
    pthread_mutex_unlock(&fs.lock);
    return n;
}

bool fake_smtp_wait(int after, struct fake_smtp_session *out)
{
    struct timespec until;
    bool ok = true;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&fs.lock);
    while (fs.done <= after && ok)
        ok = pthread_cond_timedwait(&fs.done_cond, &fs.lock, &until) == 0;
    ok = fs.done > after;
    if (ok && out != NULL)
        *out = fs.last;
    pthread_mutex_unlock(&fs.lock);
    return ok;
}
