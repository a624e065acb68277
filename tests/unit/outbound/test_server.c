/* Pieces of the test servers; see test_server.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_server.h"

static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    bool ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok;
}

X509 *latch_test_make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                           const char *san)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509_NAME *name;
    bool ca = issuer == NULL;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    name = X509_get_subject_name(x);
    assert_int_equal(
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
        1);
    assert_int_equal(X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)), 1);

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca ? x : issuer, x, NULL, NULL, 0);
    assert_true(add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"));
    assert_true(add_ext(x, &ctx, NID_key_usage,
                        ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"));
    assert_true(add_ext(x, &ctx, NID_subject_key_identifier, "hash"));
    assert_true(add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always"));
    if (!ca) {
        assert_true(add_ext(x, &ctx, NID_ext_key_usage, "serverAuth"));
        assert_true(add_ext(x, &ctx, NID_subject_alt_name, san));
    }
    assert_true(X509_sign(x, ca ? key : issuer_key, EVP_sha256()) > 0);
    return x;
}

void latch_test_write_cert(const char *path, X509 *cert)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, cert), 1);
    assert_int_equal(fclose(f), 0);
}

SSL_CTX *latch_test_server_ctx(const char *ca_path, const char *cn, const char *san)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *leaf_key = EVP_EC_gen("P-256");
    assert_non_null(ca_key);
    assert_non_null(leaf_key);
    X509 *ca = latch_test_make_cert(ca_key, "Latch Test CA", NULL, NULL, NULL);
    X509 *leaf = latch_test_make_cert(leaf_key, cn, ca, ca_key, san);
    latch_test_write_cert(ca_path, ca);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, leaf), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, leaf_key), 1);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(leaf_key);
    return ctx;
}

int latch_test_listen(uint16_t *port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t alen = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 64), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &alen), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}
