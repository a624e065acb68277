/*
 * Outbound SMTP on libcurl (see outbound.h): one message per call, on a connection of its own
 * that obeys the same rules as HTTPS (outbound_connection_options: address policy in the
 * open-socket callback, CA bundle, connect-to, timeouts), with TLS from the start (smtps), by a
 * STARTTLS that must succeed, or, to loopback only, not at all. libcurl speaks the protocol:
 * EHLO, STARTTLS, AUTH (PLAIN or LOGIN), MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT.
 *
 * The connection is never kept for another message: libcurl would look connections up by host
 * and port, and a mail server's session carries the AUTH of whoever opened it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound/outbound_internal.h"
#include "util/log.h"

#define HOST_MAX       253
#define ADDRESS_MAX    320 /* RFC 5321: 64 for the local part, 255 for the domain */
#define CREDENTIAL_MAX 1024

/* The message being uploaded. */
struct source {
    const char *data;
    size_t len;
    size_t off;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct source *s = arg;
    size_t n = s->len - s->off;

    if (n > size * nitems)
        n = size * nitems;
    memcpy(buf, s->data + s->off, n);
    s->off += n;
    return n;
}

/* A host as the URL will carry it: a DNS name or IPv4 literal as is, an IPv6 literal in
 * brackets. False when it is neither. */
static bool url_host(const char *host, char *out, size_t cap)
{
    unsigned char a6[16];
    size_t n = host != NULL ? strnlen(host, HOST_MAX + 1) : 0;

    if (n == 0 || n > HOST_MAX)
        return false;
    if (inet_pton(AF_INET6, host, a6) == 1)
        return (size_t)snprintf(out, cap, "[%s]", host) < cap;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return host[0] != '.' && host[0] != '-' && (size_t)snprintf(out, cap, "%s", host) < cap;
}

/* An envelope address: what goes between < and > in MAIL FROM and RCPT TO. Printable, no
 * spaces, no angle brackets, with an '@' inside: nothing that could end the command early. */
static bool address_ok(const char *a)
{
    size_t n = a != NULL ? strnlen(a, ADDRESS_MAX + 1) : 0;
    const char *at = n > 0 ? strrchr(a, '@') : NULL;

    if (n == 0 || n > ADDRESS_MAX || at == NULL || at == a || at[1] == '\0')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
            return false;
    }
    return true;
}

static bool credential_ok(const char *s)
{
    return s != NULL && strnlen(s, CREDENTIAL_MAX + 1) <= CREDENTIAL_MAX;
}

/* Checks the request before libcurl sees it; fills the URL. */
static latch_rc check_request(const struct latch_outbound_smtp_request *req, char *url, size_t cap,
                              struct latch_error *err)
{
    char host[HOST_MAX + 3];

    if (req->tls < LATCH_OUTBOUND_SMTP_TLS_IMPLICIT || req->tls > LATCH_OUTBOUND_SMTP_TLS_NONE)
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG, "SMTP: unknown TLS mode %d",
                               (int)req->tls);
    if (!url_host(req->host, host, sizeof(host)))
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                               "SMTP: the host is not a DNS name or an IP address");
    if (req->username != NULL && (!credential_ok(req->username) || !credential_ok(req->password)))
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                               "SMTP: a username needs a password, each at most %d bytes",
                               CREDENTIAL_MAX);
    if (!address_ok(req->mail_from))
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                               "SMTP: the sender is not a plain email address");
    if (req->nrcpt == 0 || req->nrcpt > LATCH_OUTBOUND_SMTP_MAX_RCPT || req->rcpt == NULL)
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                               "SMTP: 1 to %d recipients per message",
                               LATCH_OUTBOUND_SMTP_MAX_RCPT);
    for (size_t i = 0; i < req->nrcpt; i++)
        if (!address_ok(req->rcpt[i]))
            return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                                   "SMTP: recipient %zu is not a plain email address", i + 1);
    /* A NUL cannot travel in DATA; the message is text. */
    if (req->data == NULL || req->data_len == 0 || req->data_len > LATCH_OUTBOUND_SMTP_MAX_DATA ||
        memchr(req->data, '\0', req->data_len) != NULL)
        return latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG,
                               "SMTP: the message is empty, larger than %zu bytes or holds a NUL",
                               LATCH_OUTBOUND_SMTP_MAX_DATA);
    unsigned port = req->port != 0                                 ? req->port
                    : req->tls == LATCH_OUTBOUND_SMTP_TLS_IMPLICIT ? 465u
                                                                   : 587u;
    snprintf(url, cap, "%s://%s:%u",
             req->tls == LATCH_OUTBOUND_SMTP_TLS_IMPLICIT ? "smtps" : "smtp", host, port);
    return LATCH_OK;
}

/* err for a failed transfer: what the administrator should change, or what the server said. */
static void transfer_failed(struct latch_error *err, const char *url, CURLcode cc, long reply,
                            uint32_t timeout)
{
    switch (cc) {
    case CURLE_LOGIN_DENIED:
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_CONFIG,
                        "the mail server at %s refused the username or password (reply %ld), or "
                        "offers neither AUTH PLAIN nor AUTH LOGIN",
                        url, reply);
        break;
    case CURLE_USE_SSL_FAILED:
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_CONFIG,
                        "the mail server at %s does not offer STARTTLS, which this connection "
                        "requires",
                        url);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        latch_error_set(err, 504, LATCH_OUTBOUND_ERR_TIMEOUT,
                        "the mail server at %s did not answer within %u ms", url, timeout);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CONNECT_ERROR:
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                        "TLS with the mail server at %s failed (certificate not trusted or not "
                        "for this host name, or no common protocol)",
                        url);
        break;
    default:
        if (reply >= 400)
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                            "the mail server at %s refused the message (reply %ld)", url, reply);
        else
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "sending mail through %s failed",
                            url);
        break;
    }
}

latch_rc latch_outbound_smtp_send(const struct latch_outbound_smtp_request *req, int *reply_code,
                                  struct latch_error *err)
{
    struct outbound_refusal refusal = {0};
    struct curl_slist *rcpt = NULL;
    struct source src = {0};
    char errbuf[CURL_ERROR_SIZE];
    char url[HOST_MAX + 32];
    char from[ADDRESS_MAX + 3];
    char line[ADDRESS_MAX + 3];
    struct timespec t0;
    long reply = 0;
    CURLcode cc;
    CURL *curl = NULL;
    latch_rc rc = LATCH_FAIL;

    if (reply_code != NULL)
        *reply_code = 0;
    if (!outbound_ready())
        return latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL,
                               "outbound connections are not initialized");
    if (req == NULL || check_request(req, url, sizeof(url), err) != LATCH_OK)
        return req == NULL
                   ? latch_error_set(err, 400, LATCH_OUTBOUND_ERR_CONFIG, "SMTP: no request")
                   : LATCH_FAIL;
    uint32_t timeout =
        req->timeout_ms == 0 ? LATCH_OUTBOUND_SMTP_DEFAULT_TIMEOUT_MS : req->timeout_ms;
    if (timeout > LATCH_OUTBOUND_MAX_TIMEOUT_MS)
        timeout = LATCH_OUTBOUND_MAX_TIMEOUT_MS;
    snprintf(from, sizeof(from), "<%s>", req->mail_from);
    for (size_t i = 0; i < req->nrcpt; i++) {
        snprintf(line, sizeof(line), "<%s>", req->rcpt[i]);
        struct curl_slist *next = curl_slist_append(rcpt, line);
        if (next == NULL) {
            latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "SMTP: out of memory");
            goto out;
        }
        rcpt = next;
    }
    src.data = req->data;
    src.len = req->data_len;
    /* A handle of its own, cleaned up at the end: the connection goes with it. */
    curl = curl_easy_init();
    if (curl == NULL) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "SMTP: out of memory");
        goto out;
    }
    errbuf[0] = '\0';
    refusal.loopback_only = req->tls == LATCH_OUTBOUND_SMTP_TLS_NONE;
    refusal.direct = true;
    cc = outbound_connection_options(curl, timeout, &refusal, errbuf);
#define SET(opt, val) OUTBOUND_SET(curl, cc, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_PROTOCOLS_STR, req->tls == LATCH_OUTBOUND_SMTP_TLS_IMPLICIT ? "smtps" : "smtp");
    SET(CURLOPT_USE_SSL,
        (long)(req->tls == LATCH_OUTBOUND_SMTP_TLS_NONE ? CURLUSESSL_NONE : CURLUSESSL_ALL));
    SET(CURLOPT_FORBID_REUSE, 1L);
    /* Straight to the mail server: no proxy variable applies (all_proxy would), so the address
     * checked is the one connected to. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_MAIL_FROM, from);
    SET(CURLOPT_MAIL_RCPT, rcpt);
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, on_read);
    SET(CURLOPT_READDATA, &src);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->data_len);
    if (req->username != NULL) {
        SET(CURLOPT_USERNAME, req->username);
        SET(CURLOPT_PASSWORD, req->password);
        /* The mechanisms every submission server has; none that would need more than the
         * password (or send a hash of it to whoever answers). */
        SET(CURLOPT_LOGIN_OPTIONS, "AUTH=PLAIN;AUTH=LOGIN");
    }
#undef SET
    if (cc != CURLE_OK) {
        latch_error_set(err, 502, LATCH_OUTBOUND_ERR_GENERAL, "SMTP to %s could not be set up",
                        url);
        latch_error_detail(err, "curl: %s", curl_easy_strerror(cc));
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cc = curl_easy_perform(curl);
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply) != CURLE_OK || reply < 0 ||
        reply > 999)
        reply = 0;
    if (reply_code != NULL)
        *reply_code = (int)reply;
    if (cc != CURLE_OK) {
        if (refusal.refused)
            (void)outbound_address_refused(err, req->host, &refusal);
        else
            transfer_failed(err, url, cc, reply, timeout);
        if (!refusal.refused)
            latch_error_detail(err, "curl error %d: %s", (int)cc,
                               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        latch_debug("outbound SMTP %s failed after %ld ms: %s", url, outbound_elapsed_ms(&t0),
                    err != NULL ? err->detail : curl_easy_strerror(cc));
        goto out;
    }
    latch_debug("outbound SMTP %s: reply %ld, %zu bytes in %ld ms", url, reply, req->data_len,
                outbound_elapsed_ms(&t0));
    rc = LATCH_OK;
out:
    if (curl != NULL)
        curl_easy_cleanup(curl);
    curl_slist_free_all(rcpt);
    return rc;
}
