/*
 * Pieces of the test servers of tests/unit/outbound/ (the HTTPS server of test_outbound.c, the
 * fake SMTP server): certificates made at test time with OpenSSL (a CA, and leaves it signs for
 * the names a server answers to), a TLS server context, and a listening socket on 127.0.0.1.
 * Failures are cmocka assertions.
 */
#ifndef LATCH_TEST_SERVER_H
#define LATCH_TEST_SERVER_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* A certificate for key named cn, signed by issuer with issuer_key, with the subjectAltName san
 * ("DNS:a.example,IP:127.0.0.1"); issuer NULL: a self-signed CA (san unused). Valid from an
 * hour ago for a day. */
X509 *latch_test_make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                           const char *san);

/* Writes cert to path as PEM. */
void latch_test_write_cert(const char *path, X509 *cert);

/* A TLS server context whose certificate, for cn with the subjectAltName san, is signed by a new
 * CA; the CA's certificate is written to ca_path (PEM), for the client to trust. */
SSL_CTX *latch_test_server_ctx(const char *ca_path, const char *cn, const char *san);

/* A TCP socket listening on 127.0.0.1 at a port the kernel picks, returned in *port. */
int latch_test_listen(uint16_t *port);

#endif
