/*
 * The SMTP email connector (smtp.so), factory id `simple-mail-transfer-protocol`, with Logto's
 * SMTP connector's configuration (host, port, auth {user, pass}, fromEmail, replyTo, templates
 * [{usageType, contentType, subject, content}], secure / requireTLS / ignoreTLS), so a Logto
 * configuration works here as it is. Written against plugins-api/latch/connector.h alone (ABI
 * 1.1): the template filling (render_template), the SMTP session (smtp_send: libcurl in the
 * host, under its outbound policy), base64, random bytes and JSON reading come from the host
 * services table, so the .so links nothing but libc.
 *
 * send_message picks a template — the tenant's own for the message's type and locale when the
 * host passes one, else the configured one whose usageType is the type's name, else the
 * "Generic" one — fills it in (values HTML-escaped in text/html content), and writes an RFC 5322
 * message: Date, Message-ID, From, To, Reply-To, Subject (RFC 2047 when it is not plain ASCII),
 * MIME-Version, a text/plain or text/html body in UTF-8, quoted-printable, CRLF line ends.
 *
 * TLS, from Logto's nodemailer switches: secure → TLS from the first byte (port 465 usually);
 * otherwise STARTTLS, required (nodemailer would fall back to plain text when a server does not
 * offer it; this connector does not); ignoreTLS (and not secure) → no TLS, which the host allows
 * to a server on this machine only. No state is kept between calls.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <latch/connector.h>

#include "smtp_assets.h" /* generated: SMTP_LOGO_SVG, SMTP_README_MD */

#define MAX_TEMPLATES  64
#define HOST_MAX       253
#define ADDRESS_MAX    320
#define NAME_MAX_BYTES 256
#define MESSAGE_MAX    ((size_t)1 << 20) /* what smtp_send takes */
#define QP_LINE        76                /* RFC 2045 §6.7 (5) */
#define WORD_BYTES     45 /* raw bytes per RFC 2047 encoded word: 60 base64 characters, 75 in all */
/* The first word, after "Subject: " or "Reply-To: ": 56 base64 characters, the line within 78. */
#define FIRST_WORD_BYTES 42
#define SEND_TIMEOUT_MS  20000

#define LOG_WARN  LATCH_CONNECTOR_LOG_WARN
#define LOG_ERROR LATCH_CONNECTOR_LOG_ERROR

/* The usage types Logto's SMTP connector requires a template for. */
static const char *const required_usage_types[] = {"Register", "SignIn", "ForgotPassword",
                                                   "Generic"};

/* A configuration, read and checked. Strings are the host's (arena). */
struct smtp_config {
    const char *host;
    uint16_t port;
    uint32_t tls;            /* enum latch_connector_smtp_tls */
    const char *user, *pass; /* NULL: no AUTH */
    const char *from;        /* fromEmail as configured: "a@b" or "Name <a@b>" */
    const char *reply_to;    /* NULL: none */
    const char *templates;   /* JSON array text */
};

/* One template: the tenant's or one of the configured. */
struct smtp_template {
    const char *subject;
    const char *content;
    bool html;
};

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static bool is_true(const char *s)
{
    return s != NULL && strcmp(s, "true") == 0;
}

/* ---- addresses ---- */

/* An address as SMTP and a header carry it: printable ASCII or UTF-8, no spaces, no brackets
 * or separators, one '@' with text on both sides. */
static bool address_ok(const char *a, size_t n)
{
    const char *at = memchr(a, '@', n);

    if (n == 0 || n > ADDRESS_MAX || at == NULL || at == a || at == a + n - 1 ||
        memchr(at + 1, '@', (size_t)(a + n - (at + 1))) != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c == 0x7f || strchr("<>()[],;:\\\"", c) != NULL)
            return false;
    }
    return true;
}

/* "a@b" or "Name <a@b>" (nodemailer's forms) split into the address and the display name
 * (NULL when none; surrounding quotes dropped). False when it is neither form. */
static bool split_mailbox(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                          const char *s, const char **address, const char **name)
{
    size_t n = strlen(s);
    const char *lt = strchr(s, '<');

    *address = *name = NULL;
    if (lt == NULL) {
        if (!address_ok(s, n))
            return false;
        *address = s;
        return true;
    }
    const char *gt = strchr(lt, '>');
    if (gt == NULL || gt[1] != '\0' || !address_ok(lt + 1, (size_t)(gt - lt - 1)))
        return false;
    *address = host->format(ctx, "%.*s", (int)(gt - lt - 1), lt + 1);
    const char *b = s, *e = lt;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e - b >= 2 && *b == '"' && e[-1] == '"') {
        b++;
        e--;
    }
    if ((size_t)(e - b) > NAME_MAX_BYTES)
        return false;
    for (const char *p = b; p < e; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    if (e > b)
        *name = host->format(ctx, "%.*s", (int)(e - b), b);
    return *address != NULL && (e == b || *name != NULL);
}

static bool loopback_host(const char *h)
{
    return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
}

static bool host_ok(const char *h)
{
    size_t n = strlen(h);

    if (n == 0 || n > HOST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == ':'))
            return false;
    }
    return true;
}

/* ---- configuration ---- */

/* Element i of the templates array as a template (usageType in *usage), or false when the
 * array has no object there. */
static bool template_at(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const char *templates, size_t i, const char **usage,
                        const char **content_type, struct smtp_template *t)
{
    struct latch_connector_json_members m = LATCH_CONNECTOR_JSON_MEMBERS_INIT;
    char path[24];

    snprintf(path, sizeof(path), "%zu", i);
    *usage = *content_type = NULL;
    memset(t, 0, sizeof(*t));
    if (host->json_members(ctx, templates, path, &m) != LATCH_CONNECTOR_OK)
        return false;
    for (size_t k = 0; k < m.count; k++) {
        if (m.types[k] != LATCH_CONNECTOR_JSON_STRING)
            continue;
        if (strcmp(m.names[k], "usageType") == 0)
            *usage = m.values[k];
        else if (strcmp(m.names[k], "contentType") == 0)
            *content_type = m.values[k];
        else if (strcmp(m.names[k], "subject") == 0)
            t->subject = m.values[k];
        else if (strcmp(m.names[k], "content") == 0)
            t->content = m.values[k];
    }
    t->html = *content_type != NULL && strcmp(*content_type, "text/html") == 0;
    return true;
}

/* Checks the templates array as Logto does (each with usageType, contentType text/plain or
 * text/html, subject and content; Register, SignIn, ForgotPassword and Generic present). */
static const char *check_templates(struct latch_connector_ctx *ctx,
                                   const struct latch_connector_host *host, const char *templates)
{
    const char *p = templates;
    bool have[sizeof(required_usage_types) / sizeof(required_usage_types[0])] = {false};
    size_t i;

    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p != '[')
        return "templates must be a JSON array of {usageType, contentType, subject, content}.";
    for (i = 0; i < MAX_TEMPLATES; i++) {
        const char *usage, *ctype;
        struct smtp_template t;
        char path[24];
        if (!template_at(ctx, host, templates, i, &usage, &ctype, &t)) {
            snprintf(path, sizeof(path), "%zu", i);
            if (host->json_get(ctx, templates, path) != NULL)
                return host->format(ctx, "templates[%zu] must be an object.", i);
            break;
        }
        if (usage == NULL || t.subject == NULL || t.content == NULL || ctype == NULL)
            return host->format(ctx,
                                "templates[%zu] needs the strings usageType, contentType, "
                                "subject and content.",
                                i);
        if (strcmp(ctype, "text/plain") != 0 && strcmp(ctype, "text/html") != 0)
            return host->format(ctx, "templates[%zu].contentType must be text/plain or text/html.",
                                i);
        for (size_t r = 0; r < sizeof(have) / sizeof(have[0]); r++)
            have[r] |= strcmp(usage, required_usage_types[r]) == 0;
    }
    if (i == MAX_TEMPLATES)
        return host->format(ctx, "templates has more than %d entries.", MAX_TEMPLATES - 1);
    char *missing = "";
    for (size_t r = 0; r < sizeof(have) / sizeof(have[0]) && missing != NULL; r++)
        if (!have[r])
            missing = host->format(ctx, "%s%s%s", missing, missing[0] ? ", " : "",
                                   required_usage_types[r]);
    if (missing == NULL)
        return "out of memory";
    if (missing[0] != '\0')
        return host->format(ctx, "Template with UsageType (%s) should be provided!", missing);
    return NULL;
}

/* Reads and checks the configuration; NULL, or what is wrong (for the administrator). */
static const char *read_config(struct latch_connector_ctx *ctx,
                               const struct latch_connector_host *host, struct smtp_config *c)
{
    const char *address, *name;

    memset(c, 0, sizeof(*c));
    c->host = host->config_get(ctx, "host");
    if (!nonempty(c->host) || !host_ok(c->host))
        return "host must be the mail server's DNS name or IP address.";
    const char *port = host->config_get(ctx, "port");
    char *end = NULL;
    long pn = port != NULL ? strtol(port, &end, 10) : 0;
    if (port == NULL || end == port || *end != '\0' || pn < 1 || pn > 65535)
        return "port must be a number from 1 to 65535.";
    c->port = (uint16_t)pn;

    /* nodemailer's switches onto the host's three modes. */
    if (is_true(host->config_get(ctx, "secure")))
        c->tls = LATCH_CONNECTOR_SMTP_TLS_IMPLICIT;
    else if (is_true(host->config_get(ctx, "ignoreTLS")) &&
             !is_true(host->config_get(ctx, "requireTLS")))
        c->tls = LATCH_CONNECTOR_SMTP_TLS_NONE;
    else
        c->tls = LATCH_CONNECTOR_SMTP_TLS_STARTTLS;
    if (c->tls == LATCH_CONNECTOR_SMTP_TLS_NONE && !loopback_host(c->host))
        return "ignoreTLS (mail without TLS) is allowed only to a server on this machine "
               "(localhost, 127.0.0.1 or ::1); use secure (port 465) or STARTTLS.";

    const char *auth = host->config_get(ctx, "auth");
    if (auth != NULL) {
        const char *type = host->json_get(ctx, auth, "type");
        if (type != NULL && strcasecmp(type, "login") != 0)
            return "auth.type: only login (user and pass) is supported.";
        c->user = host->json_get(ctx, auth, "user");
        c->pass = host->json_get(ctx, auth, "pass");
        if (c->user != NULL && c->user[0] == '\0')
            c->user = NULL;
        if (c->user != NULL && c->pass == NULL)
            return "auth needs user and pass.";
    }

    c->from = host->config_get(ctx, "fromEmail");
    if (!nonempty(c->from) || !split_mailbox(ctx, host, c->from, &address, &name))
        return "fromEmail must be an email address, or a name and an address as "
               "Name <address@example.com>.";
    c->reply_to = host->config_get(ctx, "replyTo");
    if (nonempty(c->reply_to) && !split_mailbox(ctx, host, c->reply_to, &address, &name))
        return "replyTo must be an email address, or a name and an address.";
    if (!nonempty(c->reply_to))
        c->reply_to = NULL;

    c->templates = host->config_get(ctx, "templates");
    if (c->templates == NULL)
        return "templates is required.";
    return check_templates(ctx, host, c->templates);
}

/* The configured template for usage type `usage`, or false when there is none. */
static bool find_template(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                          const char *templates, const char *usage, struct smtp_template *t)
{
    for (size_t i = 0; i < MAX_TEMPLATES; i++) {
        const char *u, *ctype;
        if (!template_at(ctx, host, templates, i, &u, &ctype, t))
            return false;
        if (u != NULL && strcmp(u, usage) == 0 && t->subject != NULL && t->content != NULL)
            return true;
    }
    return false;
}

/* ---- the message (RFC 5322, MIME: RFC 2045, RFC 2047) ---- */

/* A growing text in the call's arena; failed once memory or the message bound ran out. */
struct buf {
    struct latch_connector_ctx *ctx;
    const struct latch_connector_host *host;
    char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > MESSAGE_MAX || b->len + n > MESSAGE_MAX) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        /* The arena has no realloc: a new block twice the size; the old one goes with the
         * call. */
        size_t cap = b->cap != 0 ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *q = b->host->alloc(b->ctx, cap);
        if (q == NULL) {
            b->failed = true;
            return;
        }
        if (b->len > 0)
            memcpy(q, b->p, b->len);
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_str(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static const char hex_digits[] = "0123456789ABCDEF";

/* The body as quoted-printable (RFC 2045 §6.7): line breaks of any kind become CRLF, printable
 * ASCII but '=' stays, a space or tab stays unless it ends a line, everything else is =XX, and
 * soft breaks keep each line within 76 characters. */
static void put_qp(struct buf *b, const char *s)
{
    size_t col = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        if (*p == '\r' || *p == '\n') {
            p += *p == '\r' && p[1] == '\n' ? 2 : 1;
            put(b, "\r\n", 2);
            col = 0;
            continue;
        }
        unsigned char c = *p;
        bool ends_line = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
        char tok[3];
        size_t t = 1;
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !ends_line)) {
            tok[0] = (char)c;
        } else {
            tok[0] = '=';
            tok[1] = hex_digits[c >> 4];
            tok[2] = hex_digits[c & 15];
            t = 3;
        }
        if (col + t > QP_LINE - 1) {
            put(b, "=\r\n", 3);
            col = 0;
        }
        put(b, tok, t);
        col += t;
        p++;
    }
    if (col > 0)
        put(b, "\r\n", 2);
}

/* Whether a header text can go as it is: printable ASCII, nothing that reads as an encoded
 * word, not so long that a line would pass 998 characters. */
static bool header_plain(const char *s)
{
    size_t n = strlen(s);

    if (n > 900 || strstr(s, "=?") != NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

/* s as RFC 2047 encoded words (UTF-8, base64), each at most 75 characters and cut between
 * characters, folded onto continuation lines; the first word takes at most first bytes of s,
 * so that the header's name fits on its line too. */
static void put_encoded_words(struct buf *b, const char *s, size_t first)
{
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        size_t most = i == 0 ? first : WORD_BYTES;
        size_t take = n - i > most ? most : n - i;
        while (take > 0 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        if (take == 0) /* not UTF-8: cut anywhere */
            take = n - i > most ? most : n - i;
        char *word = b->host->base64(b->ctx, s + i, take);
        if (word == NULL) {
            b->failed = true;
            return;
        }
        if (i > 0)
            put(b, "\r\n ", 3);
        put_str(b, "=?UTF-8?B?");
        put_str(b, word);
        put_str(b, "?=");
        i += take;
    }
}

/* A header's unstructured text (Subject): control characters, line breaks above all, become
 * spaces, so a value cannot add a header. */
static void put_text(struct buf *b, const char *s)
{
    char *t = b->host->dup(b->ctx, s);

    if (t == NULL) {
        b->failed = true;
        return;
    }
    for (char *p = t; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (header_plain(t))
        put_str(b, t);
    else
        put_encoded_words(b, t, FIRST_WORD_BYTES);
}

/* A mailbox ("Name" <a@b>, or a@b), its display name quoted or encoded. */
static void put_mailbox(struct buf *b, const char *configured)
{
    const char *address, *name;

    if (!split_mailbox(b->ctx, b->host, configured, &address, &name)) {
        b->failed = true;
        return;
    }
    if (name == NULL) {
        put_str(b, address);
        return;
    }
    if (header_plain(name)) {
        put(b, "\"", 1);
        for (const char *p = name; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                put(b, "\\", 1);
            put(b, p, 1);
        }
        put(b, "\"", 1);
    } else {
        put_encoded_words(b, name, FIRST_WORD_BYTES);
    }
    put_str(b, " <");
    put_str(b, address);
    put_str(b, ">");
}

/* RFC 5322 §3.3 date-time, in UTC, with English names whatever the process's locale. */
static void put_date(struct buf *b)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    char out[64];

    if (gmtime_r(&now, &tm) == NULL) {
        b->failed = true;
        return;
    }
    snprintf(out, sizeof(out), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    put_str(b, out);
}

/* <128 random bits in hex @ the sender's domain>. */
static void put_message_id(struct buf *b, const char *from_address)
{
    unsigned char r[16];
    char id[33];

    if (b->host->random_bytes(b->ctx, r, sizeof(r)) != LATCH_CONNECTOR_OK) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < sizeof(r); i++) {
        id[2 * i] = hex_digits[r[i] >> 4];
        id[2 * i + 1] = hex_digits[r[i] & 15];
    }
    id[32] = '\0';
    put_str(b, "<");
    put_str(b, id);
    put_str(b, strchr(from_address, '@'));
    put_str(b, ">");
}

/* The whole message; NULL when it would exceed MESSAGE_MAX or memory ran out. */
static char *build_message(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                           const struct smtp_config *c, const char *from_address, const char *to,
                           const char *subject, const char *body, bool html)
{
    struct buf b = {.ctx = ctx, .host = host};

    put_str(&b, "Date: ");
    put_date(&b);
    put_str(&b, "\r\nMessage-ID: ");
    put_message_id(&b, from_address);
    put_str(&b, "\r\nFrom: ");
    put_mailbox(&b, c->from);
    put_str(&b, "\r\nTo: ");
    put_str(&b, to);
    if (c->reply_to != NULL) {
        put_str(&b, "\r\nReply-To: ");
        put_mailbox(&b, c->reply_to);
    }
    put_str(&b, "\r\nSubject: ");
    put_text(&b, subject);
    put_str(&b, "\r\nMIME-Version: 1.0\r\nContent-Type: ");
    put_str(&b, html ? "text/html" : "text/plain");
    put_str(&b, "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
    put_qp(&b, body);
    return b.failed ? NULL : b.p;
}

/* ---- operations ---- */

static int smtp_validate_config(struct latch_connector_ctx *ctx,
                                const struct latch_connector_host *host, const char **why)
{
    struct smtp_config c;

    *why = read_config(ctx, host, &c);
    return *why != NULL ? LATCH_CONNECTOR_ERR_INVALID_CONFIG : LATCH_CONNECTOR_OK;
}

static int smtp_send_message(struct latch_connector_ctx *ctx,
                             const struct latch_connector_host *host,
                             const struct latch_connector_message *msg)
{
    struct latch_connector_smtp_request req = LATCH_CONNECTOR_SMTP_REQUEST_INIT;
    struct latch_connector_smtp_response resp = LATCH_CONNECTOR_SMTP_RESPONSE_INIT;
    struct smtp_config c;
    struct smtp_template t;
    const char *from_address, *from_name;

    /* Declared 1.1, so only a 1.1 host loads this; checked all the same, so a broken host
     * fails the call instead of crashing it. */
    if (!LATCH_CONNECTOR_HAS(host, struct latch_connector_host, smtp_send)) {
        host->log_msg(ctx, LOG_ERROR, "the host lacks render_template and smtp_send (ABI 1.1)");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    const char *why = read_config(ctx, host, &c);
    if (why != NULL) {
        host->log_msg(ctx, LOG_WARN, "configuration: %s", why);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    if (msg->to == NULL || !address_ok(msg->to, strlen(msg->to))) {
        host->log_msg(ctx, LOG_WARN, "the recipient is not an email address");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    /* The tenant's template for this type and locale, else the configured one for the type,
     * else the configured Generic one. */
    if (msg->content != NULL) {
        t.subject = msg->subject != NULL ? msg->subject : "";
        t.content = msg->content;
        t.html = msg->content_type != NULL && strcmp(msg->content_type, "text/html") == 0;
    } else if (!find_template(ctx, host, c.templates, msg->type_name, &t) &&
               !find_template(ctx, host, c.templates, "Generic", &t)) {
        host->log_msg(ctx, LOG_WARN, "no template for %s and no Generic template", msg->type_name);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    const char *subject = host->render_template(ctx, t.subject, msg->vars, msg->nvars, 0);
    const char *body = host->render_template(ctx, t.content, msg->vars, msg->nvars,
                                             t.html ? LATCH_CONNECTOR_RENDER_HTML : 0);
    if (subject == NULL || body == NULL ||
        !split_mailbox(ctx, host, c.from, &from_address, &from_name)) {
        host->log_msg(ctx, LOG_ERROR, "the filled-in template exceeds the call's memory");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    char *data = build_message(ctx, host, &c, from_address, msg->to, subject, body, t.html);
    if (data == NULL) {
        host->log_msg(ctx, LOG_WARN, "the message would be larger than %zu bytes", MESSAGE_MAX);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    const char *rcpt[] = {msg->to};
    req.timeout_ms = SEND_TIMEOUT_MS;
    req.host = c.host;
    req.port = c.port;
    req.tls = c.tls;
    req.username = c.user;
    req.password = c.pass;
    req.mail_from = from_address;
    req.rcpt = rcpt;
    req.nrcpt = 1;
    req.data = data;
    req.data_len = strlen(data);
    /* On failure the host has logged why (never the password); its status says what kind. */
    return host->smtp_send(ctx, &req, &resp);
}

/* ---- descriptor ---- */

#define I18N(en, es) ((const struct latch_connector_i18n[]){{"en", en}, {"es", es}, {NULL, NULL}})
#define FIELD(k, ty, req, conf, def, lab, desc)                                                  \
    {                                                                                              \
        .struct_size = sizeof(struct latch_connector_field), .type = (ty), .key = (k),             \
        .required = (req), .confidential = (conf), .default_value = (def), .label = (lab),       \
        .description = (desc)                                                                      \
    }

#define DEFAULT_TEMPLATES                                                                          \
    "[{\"usageType\": \"SignIn\", \"contentType\": \"text/plain\", \"subject\": \"Your sign-in "   \
    "code\", \"content\": \"Your sign-in verification code is {{code}}. It is valid for 10 "       \
    "minutes.\"}, {\"usageType\": \"Register\", \"contentType\": \"text/plain\", \"subject\": "    \
    "\"Your sign-up code\", \"content\": \"Your sign-up verification code is {{code}}. It is "     \
    "valid for 10 minutes.\"}, {\"usageType\": \"ForgotPassword\", \"contentType\": "              \
    "\"text/plain\", \"subject\": \"Your password reset code\", \"content\": \"Your password "     \
    "reset verification code is {{code}}. It is valid for 10 minutes.\"}, {\"usageType\": "        \
    "\"Generic\", \"contentType\": \"text/plain\", \"subject\": \"Your verification code\", "      \
    "\"content\": \"Your verification code is {{code}}. It is valid for 10 minutes.\"}]"

static const struct latch_connector_field smtp_fields[] = {
    FIELD("host", LATCH_CONNECTOR_FIELD_TEXT, 1, 0, NULL, I18N("Host", "Servidor"),
          I18N("The SMTP server's name or address, e.g. smtp.example.com.",
               "Nombre o dirección del servidor SMTP, p. ej. smtp.example.com.")),
    FIELD("port", LATCH_CONNECTOR_FIELD_NUMBER, 1, 0, NULL, I18N("Port", "Puerto"),
          I18N("465 with Secure on; 587 (or 25) with STARTTLS.",
               "465 con Secure activado; 587 (o 25) con STARTTLS.")),
    FIELD("auth", LATCH_CONNECTOR_FIELD_JSON, 1, 1, NULL, I18N("Auth", "Autenticación"),
          I18N("{\"user\": \"...\", \"pass\": \"...\"}: AUTH PLAIN or LOGIN. Encrypted at rest.",
               "{\"user\": \"...\", \"pass\": \"...\"}: AUTH PLAIN o LOGIN. Cifrado en reposo.")),
    FIELD("fromEmail", LATCH_CONNECTOR_FIELD_TEXT, 1, 0, NULL, I18N("From Email", "Remitente"),
          I18N("noreply@example.com, or Name <noreply@example.com>.",
               "noreply@example.com, o Nombre <noreply@example.com>.")),
    FIELD("replyTo", LATCH_CONNECTOR_FIELD_TEXT, 0, 0, NULL, I18N("Reply To", "Responder a"), NULL),
    FIELD("templates", LATCH_CONNECTOR_FIELD_JSON, 1, 0, DEFAULT_TEMPLATES,
          I18N("Templates", "Plantillas"),
          I18N("[{usageType, contentType (text/plain or text/html), subject, content}] with "
               "{{code}}, {{link}}...; Register, SignIn, ForgotPassword and Generic required.",
               "[{usageType, contentType (text/plain o text/html), subject, content}] con "
               "{{code}}, {{link}}...; Register, SignIn, ForgotPassword y Generic obligatorias.")),
    FIELD("secure", LATCH_CONNECTOR_FIELD_SWITCH, 0, 0, "false", I18N("Secure", "Seguro"),
          I18N("TLS from the first byte (port 465). Off: STARTTLS, which the server must offer.",
               "TLS desde el primer byte (puerto 465). Apagado: STARTTLS, que el servidor debe "
               "ofrecer.")),
    FIELD("requireTLS", LATCH_CONNECTOR_FIELD_SWITCH, 0, 0, NULL, I18N("Require TLS", "Exigir TLS"),
          I18N("Always on in Latch; kept for Logto configurations.",
               "Siempre activo en Latch; se conserva por las configuraciones de Logto.")),
    FIELD("ignoreTLS", LATCH_CONNECTOR_FIELD_SWITCH, 0, 0, NULL, I18N("Ignore TLS", "Ignorar TLS"),
          I18N("No TLS at all: only for a server on this machine (localhost).",
               "Sin TLS: solo para un servidor en esta máquina (localhost).")),
};

static const struct latch_connector_ops smtp_ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .validate_config = smtp_validate_config,
    .send_message = smtp_send_message,
};

static const struct latch_connector_descriptor smtp_descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = LATCH_CONNECTOR_EMAIL,
    .id = "simple-mail-transfer-protocol",
    .target = "smtp",
    .version = "1.0.0",
    .name = I18N("SMTP", "SMTP"),
    .description =
        I18N("The SMTP is an internet standard communication protocol for electronic mail "
             "transmission.",
             "SMTP es el protocolo estándar de Internet para el envío de correo electrónico."),
    .logo = SMTP_LOGO_SVG,
    .logo_dark = NULL,
    .readme = SMTP_README_MD,
    .config_template = "{\"host\": \"smtp.example.com\", \"port\": 587, \"auth\": {\"user\": "
                       "\"<username>\", \"pass\": \"<password>\"}, \"fromEmail\": "
                       "\"Example <noreply@example.com>\", \"templates\": " DEFAULT_TEMPLATES "}",
    .fields = smtp_fields,
    .nfields = sizeof(smtp_fields) / sizeof(smtp_fields[0]),
    .ops = &smtp_ops,
};

LATCH_CONNECTOR_DEFINE(smtp_descriptor)
