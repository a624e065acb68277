/*
 * A fake SMTP server for tests, on 127.0.0.1 in a thread of the test: EHLO, STARTTLS, AUTH
 * PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT, with implicit TLS or STARTTLS under a
 * certificate for smtp.test and 127.0.0.1 signed by a CA made at start. It records each session
 * (envelope, message with the dot-stuffing undone, whether TLS and AUTH happened) for the test to
 * check. One connection at a time. Used by tests/unit/outbound/test_smtp.c and the plugin
 * loader's test (host->smtp_send).
 */
#ifndef LATCH_TEST_FAKE_SMTP_H
#define LATCH_TEST_FAKE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_SMTP_MAX_RCPT 16

/* How the server behaves for the next connections. */
struct fake_smtp_options {
    bool implicit_tls;   /* TLS from the first byte (smtps) */
    bool offer_starttls; /* EHLO offers STARTTLS (before TLS) */
    const char *auth;    /* the mechanisms EHLO's AUTH line offers ("PLAIN LOGIN"); NULL none */
    const char *user;    /* the credentials AUTH accepts */
    const char *pass;
    bool require_auth;       /* MAIL before a successful AUTH: 530 */
    const char *reject_rcpt; /* RCPT TO this address: 550 */
};

/* One connection, as the server saw it. */
struct fake_smtp_session {
    bool tls;      /* the message (or QUIT) came over TLS */
    bool starttls; /* STARTTLS was negotiated */
    char ehlo[256];
    char auth_mech[16]; /* the last AUTH's mechanism, "" when none */
    char auth_user[256];
    char auth_pass[256];
    bool authed;
    char mail_from[512]; /* what was between < and > */
    char rcpt[FAKE_SMTP_MAX_RCPT][512];
    int nrcpt;
    char data[65536]; /* the message, dot-stuffing undone, without the final "." line */
    size_t data_len;
    bool data_ok; /* DATA ended with "." and was answered 250 */
    bool quit;
};

/* Starts the server; writes the PEM of its CA to ca_path. Once per test program. */
void fake_smtp_start(const char *ca_path);
void fake_smtp_stop(void);
uint16_t fake_smtp_port(void);
/* Options for the connections accepted from now on. */
void fake_smtp_configure(const struct fake_smtp_options *opts);
/* How many sessions have ended so far. */
int fake_smtp_sessions(void);
/* Waits (up to 5 s) until more than `after` sessions have ended, then copies the last one into
 * *out. False on timeout. */
bool fake_smtp_wait(int after, struct fake_smtp_session *out);

#endif
