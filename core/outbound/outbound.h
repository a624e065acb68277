/*
 * outbound/: the node's outbound HTTPS and SMTP client, on libcurl. Connectors reach their
 * upstreams (huggingface.co, an OIDC provider, a mail server) only through it, via the host
 * services of plugin/, so the rules live in one place: https only (and SMTP with TLS, or without
 * TLS to loopback only), TLS verification always on, no redirects followed,
 * timeouts, a response-size cap, the operator's CA bundle (LATCH_OUTBOUND_CA_FILE), connect-to
 * mapping (LATCH_OUTBOUND_CONNECT_TO, libcurl's CURLOPT_CONNECT_TO) and the proxy environment
 * variables (http_proxy, https_proxy, no_proxy), which libcurl honours.
 *
 * Address policy (server-side request forgery): a connection is opened only to a public address,
 * checked on the address libcurl resolved, right before it connects (so a DNS answer cannot
 * change between the check and the connection). Loopback, private, link-local, shared,
 * multicast, reserved and documentation ranges are refused unless the operator allows them
 * (allow_private_all, or networks in allow), and so are IPv6 forms that embed such an IPv4
 * address. The connect-hosts of the operator's connect-to entries are allowed. Behind a proxy
 * (https_proxy or all_proxy set), the proxy resolves the names, and the policy is the proxy's.
 *
 * latch_outbound_request() blocks for up to the request's timeout: call it on the worker pool
 * only, never on a loop thread. Each thread keeps one cached curl handle (its connections and TLS
 * sessions are reused by the next request of that thread).
 */
#ifndef LATCH_OUTBOUND_OUTBOUND_H
#define LATCH_OUTBOUND_OUTBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "util/error.h"

#define LATCH_OUTBOUND_DEFAULT_TIMEOUT_MS 5000
#define LATCH_OUTBOUND_MAX_TIMEOUT_MS     30000
#define LATCH_OUTBOUND_DEFAULT_MAX_BYTES  ((size_t)1 << 20)
#define LATCH_OUTBOUND_MAX_HEADERS        32
#define LATCH_OUTBOUND_MAX_CONNECT_TO     16
#define LATCH_OUTBOUND_MAX_URL_BYTES      8192

/* Error codes (struct latch_error.code) of latch_outbound_request(). */
#define LATCH_OUTBOUND_ERR_TIMEOUT "connector.timeout"
#define LATCH_OUTBOUND_ERR_GENERAL "connector.general"
#define LATCH_OUTBOUND_ERR_ADDRESS "connector.address_refused"
/* A setting of the caller is wrong (SMTP: refused credentials, no STARTTLS, no TLS off
 * loopback). */
#define LATCH_OUTBOUND_ERR_CONFIG "connector.invalid_config"

/* Node-wide settings, copied by latch_outbound_init(). */
struct latch_outbound_options {
    /* PEM bundle of the CAs to trust, instead of (not besides) the system's: to keep trusting
     * public CAs too, append /etc/ssl/certs/ca-certificates.crt to it. NULL or "" for the
     * system's CAs. */
    const char *ca_file;
    /* Comma-separated CURLOPT_CONNECT_TO entries, "host:port:connect-host:connect-port"
     * (e.g. "huggingface.co:443:127.0.0.1:8443"); NULL or "" for none. */
    const char *connect_to;
    /* Largest response body accepted; a larger one is an error, never truncated. 0: 1 MiB. */
    size_t max_response_bytes;
    /* Non-public addresses that may be reached: all of them, or these networks (IPv4 as
     * IPv4-mapped IPv6 prefixes, as config/ parses them). */
    bool allow_private_all;
    const struct latch_cidr *allow;
    int nallow;
};

/* Whether addr (16 bytes; IPv4 as ::ffff:a.b.c.d) is a public unicast address. Any thread. */
bool latch_outbound_address_public(const uint8_t addr[16]);
/* Whether addr (as above) is a loopback address: 127.0.0.0/8 or ::1. Any thread. */
bool latch_outbound_address_loopback(const uint8_t addr[16]);

/* Whether url may be called at all, checked before it is stored (webhook URLs): a well-formed
 * https:// URL whose host, when it is an IP literal or "localhost", is an address the policy
 * allows. A name is checked again on the address it resolves to when a request is made.
 * err gets a 400 with a client-safe message. Any thread, after latch_outbound_init(). */
latch_rc latch_outbound_url_check(const char *url, struct latch_error *err) LATCH_MUST_CHECK;

struct latch_outbound_header {
    const char *name;  /* a header field name, e.g. "Authorization" */
    const char *value; /* no CR or LF */
};

struct latch_outbound_request {
    const char *method; /* "GET", "POST", "PUT", "PATCH" or "DELETE"; NULL: GET */
    const char *url;    /* an https:// URL */
    const struct latch_outbound_header *headers; /* may be NULL */
    size_t nheaders;                             /* at most LATCH_OUTBOUND_MAX_HEADERS */
    const char *body;                            /* may be NULL */
    size_t body_len;
    /* Whole request, connection included. 0: 5000 ms; larger than 30000: 30000 ms. */
    uint32_t timeout_ms;
};

/* Embedded by the caller: latch_outbound_request() fills it, latch_outbound_response_clear()
 * frees what it holds. */
struct latch_outbound_response {
    int status;         /* the HTTP status of the answer (3xx included: redirects are not
                           followed) */
    char *body;         /* malloc'd, NUL-terminated (also when empty) */
    size_t body_len;    /* without the NUL */
    char *content_type; /* malloc'd, NULL when the answer had none */
};

/*
 * Start-up, on the main thread before any other thread exists: initializes libcurl
 * (curl_global_init) and copies the options. Fails when an option is malformed. May be called
 * again after latch_outbound_shutdown() (tests do, to change the options).
 */
latch_rc latch_outbound_init(const struct latch_outbound_options *opts,
                             struct latch_error *err) LATCH_MUST_CHECK;

/* Frees the options and the calling thread's cached handle and cleans libcurl up. Call it after
 * every other thread that made requests has exited. */
void latch_outbound_shutdown(void);

/*
 * Performs one request and waits for the whole answer. Returns LATCH_OK when an answer arrived,
 * whatever its HTTP status, with *resp filled (clear it afterwards). Otherwise returns
 * LATCH_FAIL with *resp empty and err filled: code "connector.timeout" (status 504) when the
 * upstream did not answer in time, "connector.general" (status 502) for everything else (TLS and
 * connection failures, a refused URL, a body over the size cap), curl's message in err->detail.
 * Blocking: worker threads only. The URL's query may hold secrets; it is never logged.
 */
latch_rc latch_outbound_request(const struct latch_outbound_request *req,
                                struct latch_outbound_response *resp,
                                struct latch_error *err) LATCH_MUST_CHECK;

void latch_outbound_response_clear(struct latch_outbound_response *resp);

/* ---- SMTP (smtp.c) ---- */

#define LATCH_OUTBOUND_SMTP_DEFAULT_TIMEOUT_MS 10000
#define LATCH_OUTBOUND_SMTP_MAX_RCPT           16
#define LATCH_OUTBOUND_SMTP_MAX_DATA           ((size_t)1 << 20)

/* How the connection to the mail server is protected. */
enum latch_outbound_smtp_tls {
    LATCH_OUTBOUND_SMTP_TLS_IMPLICIT = 1, /* smtps: TLS from the first byte (port 465) */
    LATCH_OUTBOUND_SMTP_TLS_STARTTLS = 2, /* smtp, then STARTTLS, which must succeed */
    LATCH_OUTBOUND_SMTP_TLS_NONE = 3,     /* plain text: to a loopback address only */
};

struct latch_outbound_smtp_request {
    const char *host; /* a DNS name or an IP literal (IPv6 without brackets) */
    uint16_t port;    /* 0: 465 for IMPLICIT, 587 otherwise */
    enum latch_outbound_smtp_tls tls;
    const char *username;    /* AUTH PLAIN or LOGIN when set; NULL: no AUTH */
    const char *password;    /* never logged nor put in a message */
    const char *mail_from;   /* envelope sender, an address without <> */
    const char *const *rcpt; /* envelope recipients, addresses without <> */
    size_t nrcpt;            /* 1 to LATCH_OUTBOUND_SMTP_MAX_RCPT */
    const char *data;        /* the RFC 5322 message, CRLF line ends; dot-stuffed by libcurl */
    size_t data_len;         /* at most LATCH_OUTBOUND_SMTP_MAX_DATA */
    uint32_t timeout_ms;     /* whole transaction. 0: 10000 ms; larger than 30000: 30000 ms */
};

/*
 * Hands one message to an SMTP server: EHLO, STARTTLS (STARTTLS mode), AUTH (when a username
 * is set), MAIL FROM, RCPT TO for each recipient, DATA, QUIT, on a connection of its own (never
 * reused: connections are per server and per credentials) that obeys the address policy, the
 * CA bundle, connect-to and timeouts as HTTPS does; without TLS the resolved address must also
 * be loopback. *reply_code (may be NULL) is set to the server's last reply code (250 once the
 * message is accepted, 535 for refused credentials...), 0 when none arrived. Returns LATCH_OK
 * when the server accepted the message; otherwise err's code is LATCH_OUTBOUND_ERR_CONFIG
 * (credentials refused, STARTTLS not offered, TLS none off loopback, a malformed request),
 * LATCH_OUTBOUND_ERR_ADDRESS, LATCH_OUTBOUND_ERR_TIMEOUT or LATCH_OUTBOUND_ERR_GENERAL (the
 * server refused a step, or the connection failed). Messages never hold the password. Blocking:
 * worker threads only.
 */
latch_rc latch_outbound_smtp_send(const struct latch_outbound_smtp_request *req, int *reply_code,
                                  struct latch_error *err) LATCH_MUST_CHECK;

#endif
