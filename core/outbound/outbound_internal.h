/*
 * outbound/ internals shared by outbound.c (HTTPS, and the node-wide options) and smtp.c (mail):
 * the connection rules both protocols obey — the address policy checked in libcurl's
 * open-socket callback, TLS verification with the operator's CA bundle, connect-to mapping and
 * timeouts — set on a curl handle in one place. Not for use outside core/outbound/.
 */
#ifndef LATCH_OUTBOUND_OUTBOUND_INTERNAL_H
#define LATCH_OUTBOUND_OUTBOUND_INTERNAL_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>

#include "outbound/outbound.h"

/* Per transfer: which addresses the connection may go to, and why it was not opened. */
struct outbound_refusal {
    bool loopback_only; /* in: only a loopback address will do (SMTP without TLS) */
    bool direct;        /* in: never through a proxy (SMTP): a proxy does not relax the policy */
    bool refused;       /* out: the open-socket callback refused the address */
    bool not_loopback;  /* out: ... because it is not loopback (loopback_only) */
    char ip[INET6_ADDRSTRLEN];
};

/* Sets a curl option unless an earlier one failed: cc keeps the first failure (an option fails
 * only for lack of memory or a feature libcurl lacks). */
#define OUTBOUND_SET(curl, cc, opt, val)                                                           \
    do {                                                                                           \
        if ((cc) == CURLE_OK)                                                                      \
            (cc) = curl_easy_setopt((curl), (opt), (val));                                         \
    } while (0)

/* Whether latch_outbound_init() has run (and not shut down since). */
bool outbound_ready(void);

/* Sets on curl what every outbound connection obeys: errbuf (CURL_ERROR_SIZE bytes) as the
 * error buffer, no signals, timeout_ms for the whole transfer and at most 3 s of it to connect,
 * the address policy through r (which must outlive the transfer), TLS peer and host
 * verification with the operator's CA bundle, the connect-to mapping, no redirects. Returns the
 * first option that failed (memory, or a feature libcurl lacks). */
CURLcode outbound_connection_options(CURL *curl, uint32_t timeout_ms, struct outbound_refusal *r,
                                     char *errbuf);

/* Fills err for a connection the address policy refused (code LATCH_OUTBOUND_ERR_ADDRESS, or
 * for a loopback_only transfer to another address, LATCH_OUTBOUND_ERR_CONFIG); host is the name
 * the caller asked for. Returns LATCH_FAIL. */
latch_rc outbound_address_refused(struct latch_error *err, const char *host,
                                  const struct outbound_refusal *r);

/* Milliseconds since t0 (CLOCK_MONOTONIC), for debug lines. */
long outbound_elapsed_ms(const struct timespec *t0);

#endif
