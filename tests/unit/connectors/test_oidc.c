/*
 * connectors/oidc/: the generic OpenID Connect connector, loaded from the build's oidc.so with
 * dlopen (as latchd loads it) and driven through its operations with the shared fake host
 * (fake_host.h: config and session tables, canned HTTP routes with every request recorded, the
 * JSON, codec and crypto services as the real host does them). oidc.so is loaded afresh for each
 * test (its discovery cache starts empty), and its monotonic clock is this file's clock_gettime
 * (the executable exports it, so the .so binds to it): cache expiry is tested by moving that
 * clock, never by waiting.
 *
 * Covered: the descriptor; the authorization URI (parameters, nonce kept in the session, PKCE
 * challenge = base64url(SHA-256(verifier)) checked with OpenSSL; nonce and verifier from the
 * host's random_bytes); a host without the 1.1 services refused; endpoints from discovery and
 * by hand; the discovery cache (hits, expiry, the bound, failures cached briefly, concurrent
 * callers); client_secret_basic, client_secret_post and public clients; profile mapping with
 * nested paths; the id_token's claim checks; each error mapping; validate_config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/sha.h>

#include <latch/connector.h>

#include "fake_host.h"

#ifndef LATCH_TEST_OIDC_SO
#error "the build passes LATCH_TEST_OIDC_SO, the path of oidc.so"
#endif

#define ISSUER        "https://idp.example"
#define DISCOVERY_URL "https://idp.example/.well-known/openid-configuration"
#define AUTHZ_URL     "https://idp.example/authorize"
#define TOKEN_URL     "https://idp.example/token"
#define USERINFO_URL  "https://idp.example/userinfo"
#define CLIENT_ID     "client-1"
#define CLIENT_SECRET "s3cret"
#define REDIRECT_URI  "https://auth.example.com/callback/c0nn3ct0r"
#define STATE         "state-123"

/* The connector's discovery cache (connectors/oidc/oidc.c). */
#define CACHE_TTL         600
#define CACHE_FAIL_TTL    30
#define CACHE_MAX_ENTRIES 256

/* ---- the connector's clock ---- */

/* CLOCK_MONOTONIC as oidc.so sees it: frozen, moved only by the tests (advance()). Other clocks
 * are the real ones. */
static time_t fake_monotonic = 1000000;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *);

    if (id == CLOCK_MONOTONIC) {
        ts->tv_sec = __atomic_load_n(&fake_monotonic, __ATOMIC_SEQ_CST);
        ts->tv_nsec = 0;
        return 0;
    }
    if (real == NULL)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(id, ts);
}

static void advance(time_t seconds)
{
    __atomic_add_fetch(&fake_monotonic, seconds, __ATOMIC_SEQ_CST);
}

/* ---- test helpers ---- */

/* Each test loads oidc.so afresh, so its discovery cache starts empty (and unloading it checks,
 * under ASan, that the cache frees what it holds); the clock moves a day on besides, so nothing
 * cached could survive even if the loader kept the object. */
static int fresh(void **state)
{
    fake_host_clear();
    advance(86400);
    return fake_host_load(LATCH_TEST_OIDC_SO);
}

static int cleanup(void **state)
{
    fake_host_unload();
    fake_host_clear();
    return 0;
}

static void config_manual(void)
{
    config("authorizationEndpoint", AUTHZ_URL);
    config("tokenEndpoint", TOKEN_URL);
    config("userInfoEndpoint", USERINFO_URL);
    config("clientId", CLIENT_ID);
    config("clientSecret", CLIENT_SECRET);
}

/* The discovery document of the issuer whose well-known URL was asked. */
static const char *discovery_for(struct latch_connector_ctx *ctx, const char *url)
{
    static const char suffix[] = "/.well-known/openid-configuration";
    size_t n = strlen(url) - (sizeof(suffix) - 1);

    assert_string_equal(url + n, suffix);
    return fake_format(ctx,
                       "{\"issuer\": \"%.*s\", \"authorization_endpoint\": "
                       "\"%.*s/authorize\", \"token_endpoint\": \"%.*s/token\"}",
                       (int)n, url, (int)n, url, (int)n, url);
}

/* Every GET under url_prefix answers the discovery document of the issuer it names. */
static void route_any_issuer(struct latch_connector_ctx *ctx, const char *url_prefix)
{
    assert_true(ctx->nroutes < FAKE_MAX_ITEMS);
    ctx->routes[ctx->nroutes++] =
        (struct route){"GET", url_prefix, LATCH_CONNECTOR_OK, 200, NULL, discovery_for};
}

static const char *discovery_doc(bool with_userinfo)
{
    return fake_format(&F,
                       "{\"issuer\": \"%s\", \"authorization_endpoint\": "
                       "\"https://idp.example/oauth2/v1/authorize\", \"token_endpoint\": "
                       "\"https://idp.example/oauth2/v1/token\"%s, \"jwks_uri\": "
                       "\"https://idp.example/oauth2/v1/keys\"}",
                       ISSUER,
                       with_userinfo ? ", \"userinfo_endpoint\": "
                                       "\"https://idp.example/oauth2/v1/userinfo\""
                                     : "");
}

static int auth_uri_scope(const char *scope, char **uri)
{
    struct latch_connector_auth_request req = LATCH_CONNECTOR_AUTH_REQUEST_INIT;
    req.state = STATE;
    req.redirect_uri = REDIRECT_URI;
    req.scope = scope;
    *uri = NULL;
    return D->ops->get_authorization_uri(&F, &fake_host, &req, uri);
}

static int auth_uri(char **uri)
{
    return auth_uri_scope(NULL, uri);
}

static char *b64url(const void *data, size_t len)
{
    char *out = fake_base64(&F, data, len);
    char *o = out;
    for (char *p = out; *p; p++) {
        if (*p == '=')
            break;
        *o++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    *o = '\0';
    return out;
}

/* An unsigned-looking JWS: base64url(header).base64url(payload).base64url("signature"). */
static const char *jwt(const char *payload)
{
    static const char hdr[] = "{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}";
    return fake_format(&F, "%s.%s.%s", b64url(hdr, strlen(hdr)), b64url(payload, strlen(payload)),
                       b64url("signature", 9));
}

static const char *token_body(const char *id_token)
{
    if (id_token == NULL)
        return "{\"access_token\": \"at-1\", \"token_type\": \"Bearer\", \"expires_in\": 3600}";
    return fake_format(&F,
                       "{\"access_token\": \"at-1\", \"token_type\": \"Bearer\", \"expires_in\": "
                       "3600, \"id_token\": \"%s\"}",
                       id_token);
}

/* id_token claims for this flow: iss, aud, exp, nonce as given (NULL: left out). */
static const char *claims(const char *iss, const char *aud_json, long exp_offset, const char *nonce,
                          const char *extra)
{
    return fake_format(
        &F, "{%s%s%s\"sub\": \"user-42\", \"aud\": %s, \"exp\": %ld, \"iat\": %ld%s%s%s%s}",
        iss ? "\"iss\": \"" : "", iss ? iss : "", iss ? "\", " : "", aud_json,
        (long)time(NULL) + exp_offset, (long)time(NULL), nonce ? ", \"nonce\": \"" : "",
        nonce ? nonce : "", nonce ? "\"" : "", extra ? extra : "");
}

static int user_info(const char *code, const char *error, struct latch_connector_user_info *out)
{
    struct latch_connector_param params[3];
    size_t n = 0;
    if (code != NULL)
        params[n++] = (struct latch_connector_param){"code", code};
    params[n++] = (struct latch_connector_param){"state", STATE};
    if (error != NULL)
        params[n++] = (struct latch_connector_param){"error", error};
    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    return D->ops->get_user_info(&F, &fake_host, params, n, out);
}

static const char *USERINFO_STANDARD =
    "{\"sub\": \"user-42\", \"name\": \"Ada Lovelace\", \"email\": \"ada@example.com\", "
    "\"email_verified\": true, \"picture\": \"https://cdn.example/ada.png\", "
    "\"phone_number\": \"+15550100\", \"preferred_username\": \"ada\"}";

/* A whole flow against the manual endpoints: authorization URI, then the callback with the given
 * token response and userinfo answer (NULL: no userinfo route). */
static int flow(const char *token_response, const char *userinfo,
                struct latch_connector_user_info *out)
{
    char *uri;
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 200, token_response);
    if (userinfo != NULL)
        route("GET", USERINFO_URL, 200, userinfo);
    return user_info("code-1", NULL, out);
}

/* ---- tests ---- */

static void test_descriptor(void **state)
{
    static const char *const keys[] = {"issuer",        "authorizationEndpoint",
                                       "tokenEndpoint", "userInfoEndpoint",
                                       "clientId",      "clientSecret",
                                       "scope",         "tokenEndpointAuthMethod",
                                       "pkce",          "profileMap"};

    assert_int_equal(D->magic, LATCH_CONNECTOR_MAGIC);
    assert_int_equal(D->abi_major, 1);
    assert_int_equal(D->abi_minor, 1); /* it uses the 1.1 services sha256 and random_bytes */
    assert_string_equal(D->version, "1.1.0");
    assert_int_equal(D->kind, LATCH_CONNECTOR_SOCIAL);
    assert_true(D->flags & LATCH_CONNECTOR_FLAG_STANDARD);
    assert_string_equal(D->id, "oidc");
    assert_string_equal(D->target, "oidc");
    assert_string_equal(D->name[0].lang, "en");
    assert_string_equal(D->name[0].text, "OpenID Connect");
    assert_string_equal(D->name[1].lang, "es");
    assert_string_equal(D->name[1].text, "OpenID Connect");
    assert_non_null(D->logo);
    assert_true(strncmp(D->logo, "<svg", 4) == 0);
    assert_non_null(D->readme);
    assert_non_null(strstr(D->readme, "signature is NOT verified"));
    assert_non_null(D->ops->get_authorization_uri);
    assert_non_null(D->ops->get_user_info);
    assert_non_null(D->ops->validate_config);
    assert_int_equal(D->nfields, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < D->nfields; i++) {
        assert_int_equal(D->fields[i].struct_size, sizeof(struct latch_connector_field));
        assert_string_equal(D->fields[i].key, keys[i]);
        assert_int_equal(D->fields[i].required, strcmp(keys[i], "clientId") == 0);
        assert_int_equal(D->fields[i].confidential, strcmp(keys[i], "clientSecret") == 0);
    }
    assert_string_equal(fake_config_get(&F, "scope"), "openid profile email");
    assert_string_equal(fake_config_get(&F, "tokenEndpointAuthMethod"), "client_secret_basic");
    assert_string_equal(fake_config_get(&F, "pkce"), "true");
    assert_int_equal(D->fields[8].type, LATCH_CONNECTOR_FIELD_SWITCH);
    assert_int_equal(D->fields[9].type, LATCH_CONNECTOR_FIELD_JSON);
    assert_string_equal(fake_json_get(&F, fake_config_get(&F, "profileMap"), "avatar"), "picture");
}

static void test_authorization_uri(void **state)
{
    char *uri;
    const char *verifier, *nonce;
    unsigned char digest[SHA256_DIGEST_LENGTH];

    config_manual();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_non_null(uri);
    assert_true(strncmp(uri, AUTHZ_URL "?", strlen(AUTHZ_URL) + 1) == 0);
    assert_string_equal(form_value(uri, "response_type"), "code");
    assert_string_equal(form_value(uri, "client_id"), CLIENT_ID);
    assert_string_equal(form_value(uri, "redirect_uri"), REDIRECT_URI);
    assert_string_equal(form_value(uri, "scope"), "openid profile email");
    assert_string_equal(form_value(uri, "state"), STATE);
    assert_string_equal(form_value(uri, "code_challenge_method"), "S256");
    /* No secret in the URL, and no request made with manual endpoints. */
    assert_null(strstr(uri, CLIENT_SECRET));
    assert_int_equal(F.nrequests, 0);

    /* The nonce and the verifier are kept for the callback; the nonce is the one sent. */
    assert_string_equal(fake_session_get(&F, "redirectUri"), REDIRECT_URI);
    nonce = fake_session_get(&F, "nonce");
    assert_non_null(nonce);
    assert_true(strlen(nonce) >= 22);
    assert_string_equal(form_value(uri, "nonce"), nonce);
    verifier = fake_session_get(&F, "codeVerifier");
    assert_non_null(verifier);
    /* RFC 7636 §4.1: 43 to 128 unreserved characters. */
    assert_true(strlen(verifier) >= 43 && strlen(verifier) <= 128);
    assert_int_equal(strspn(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-._~"),
                     strlen(verifier));
    /* code_challenge = BASE64URL(SHA256(ASCII(code_verifier))), computed by OpenSSL here. */
    SHA256((const unsigned char *)verifier, strlen(verifier), digest);
    assert_string_equal(form_value(uri, "code_challenge"), b64url(digest, sizeof(digest)));
    assert_null(strstr(uri, verifier));
    /* Nonce and verifier from the host's random_bytes, the challenge from its sha256. */
    assert_int_equal(F.nrandom, 2);
    assert_int_equal(F.nsha256, 1);
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"), TOKEN_URL);
    assert_string_equal(fake_session_get(&F, "userInfoEndpoint"), USERINFO_URL);
    assert_null(fake_session_get(&F, "issuer"));

    /* A second sign-in draws new values. */
    char *first_nonce = fake_dup(&F, nonce), *first_verifier = fake_dup(&F, verifier);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_string_not_equal(fake_session_get(&F, "nonce"), first_nonce);
    assert_string_not_equal(fake_session_get(&F, "codeVerifier"), first_verifier);
    SHA256((const unsigned char *)fake_session_get(&F, "codeVerifier"),
           strlen(fake_session_get(&F, "codeVerifier")), digest);
    assert_string_equal(form_value(uri, "code_challenge"), b64url(digest, sizeof(digest)));

    /* The host's generator fails: no sign-in with a guessable nonce or verifier. */
    new_flow();
    F.random_fails = true;
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);
    assert_null(uri);
    assert_null(fake_session_get(&F, "nonce"));
}

/* A host whose services table ends at 1.0's base64 (a broken host: the loader refuses this
 * 1.1 connector on a real 1.0 host) fails the call instead of calling past the table. */
static void test_host_without_1_1_services(void **state)
{
    struct latch_connector_host old = fake_host;
    struct latch_connector_auth_request req = LATCH_CONNECTOR_AUTH_REQUEST_INIT;
    char *uri = NULL;
    const char *why = NULL;

    config_manual();
    old.struct_size = offsetof(struct latch_connector_host, sha256);
    old.host_minor = 0;
    req.state = STATE;
    req.redirect_uri = REDIRECT_URI;
    assert_int_equal(D->ops->get_authorization_uri(&F, &old, &req, &uri),
                     LATCH_CONNECTOR_ERR_GENERAL);
    assert_null(uri);
    assert_int_equal(D->ops->validate_config(&F, &old, &why), LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(F.nrandom, 0);
    assert_int_equal(F.nrequests, 0);
}

static void test_authorization_uri_scope_and_query(void **state)
{
    char *uri;

    config_manual();
    config("authorizationEndpoint", "https://idp.example/authorize?tenant=acme");
    config("scope", "openid email offline_access");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(strncmp(uri, "https://idp.example/authorize?tenant=acme&response_type=code&", 61) ==
                0);
    assert_string_equal(form_value(uri, "scope"), "openid email offline_access");
    /* The request's scope wins over the configured one. */
    new_flow();
    assert_int_equal(auth_uri_scope("openid", &uri), LATCH_CONNECTOR_OK);
    assert_string_equal(form_value(uri, "scope"), "openid");

    /* Missing inputs. */
    struct latch_connector_auth_request req = LATCH_CONNECTOR_AUTH_REQUEST_INIT;
    req.redirect_uri = REDIRECT_URI;
    assert_int_equal(D->ops->get_authorization_uri(&F, &fake_host, &req, &uri),
                     LATCH_CONNECTOR_ERR_GENERAL);
    config("clientId", "");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
}

static void test_without_pkce(void **state)
{
    struct latch_connector_user_info out;
    char *uri;
    const struct recorded *r;

    config_manual();
    config("pkce", "false");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_null(form_value(uri, "code_challenge"));
    assert_null(form_value(uri, "code_challenge_method"));
    assert_null(fake_session_get(&F, "codeVerifier"));
    assert_non_null(form_value(uri, "nonce"));
    route("POST", TOKEN_URL, 200, token_body(NULL));
    route("GET", USERINFO_URL, 200, USERINFO_STANDARD);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_OK);
    r = request_to("POST", TOKEN_URL);
    assert_non_null(r);
    assert_null(form_value(r->body, "code_verifier"));
}

static void test_client_secret_basic(void **state)
{
    struct latch_connector_user_info out;
    const struct recorded *r;
    const char *verifier;

    config_manual();
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out), LATCH_CONNECTOR_OK);
    verifier = fake_session_get(&F, "codeVerifier");
    r = request_to("POST", TOKEN_URL);
    assert_non_null(r);
    assert_int_equal(r->timeout_ms, 10000);
    assert_string_equal(header(r, "Authorization"),
                        fake_format(&F, "Basic %s",
                                    fake_base64(&F, CLIENT_ID ":" CLIENT_SECRET,
                                                strlen(CLIENT_ID ":" CLIENT_SECRET))));
    assert_string_equal(header(r, "Content-Type"), "application/x-www-form-urlencoded");
    assert_string_equal(header(r, "Accept"), "application/json");
    assert_string_equal(form_value(r->body, "grant_type"), "authorization_code");
    assert_string_equal(form_value(r->body, "code"), "code-1");
    assert_string_equal(form_value(r->body, "redirect_uri"), REDIRECT_URI);
    assert_string_equal(form_value(r->body, "code_verifier"), verifier);
    assert_null(form_value(r->body, "client_secret"));
    assert_null(form_value(r->body, "client_id"));

    /* RFC 6749 §2.3.1: id and secret are form-encoded before base64. */
    new_flow();
    config("clientSecret", "a:b/c d");
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out), LATCH_CONNECTOR_OK);
    r = request_to("POST", TOKEN_URL);
    assert_string_equal(header(r, "Authorization"),
                        fake_format(&F, "Basic %s",
                                    fake_base64(&F, CLIENT_ID ":a%3Ab%2Fc%20d",
                                                strlen(CLIENT_ID ":a%3Ab%2Fc%20d"))));
}

static void test_client_secret_post(void **state)
{
    struct latch_connector_user_info out;
    const struct recorded *r;

    config_manual();
    config("tokenEndpointAuthMethod", "client_secret_post");
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out), LATCH_CONNECTOR_OK);
    r = request_to("POST", TOKEN_URL);
    assert_non_null(r);
    assert_null(header(r, "Authorization"));
    assert_string_equal(form_value(r->body, "client_id"), CLIENT_ID);
    assert_string_equal(form_value(r->body, "client_secret"), CLIENT_SECRET);
    assert_string_equal(form_value(r->body, "grant_type"), "authorization_code");
    assert_non_null(form_value(r->body, "code_verifier"));
}

static void test_public_client(void **state)
{
    struct latch_connector_user_info out;
    const struct recorded *r;

    config_manual();
    config("clientSecret", NULL);
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out), LATCH_CONNECTOR_OK);
    r = request_to("POST", TOKEN_URL);
    assert_null(header(r, "Authorization"));
    assert_string_equal(form_value(r->body, "client_id"), CLIENT_ID);
    assert_null(form_value(r->body, "client_secret"));
    assert_non_null(form_value(r->body, "code_verifier"));
}

static void test_discovery(void **state)
{
    struct latch_connector_user_info out;
    const struct recorded *r;
    char *uri;

    config("issuer", ISSUER "/");
    config("clientId", CLIENT_ID);
    config("clientSecret", CLIENT_SECRET);
    route("GET", DISCOVERY_URL, 200, discovery_doc(true));
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(strncmp(uri, "https://idp.example/oauth2/v1/authorize?", 40) == 0);
    r = request_to("GET", DISCOVERY_URL);
    assert_non_null(r);
    assert_int_equal(r->timeout_ms, 5000);
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"),
                        "https://idp.example/oauth2/v1/token");
    assert_string_equal(fake_session_get(&F, "userInfoEndpoint"),
                        "https://idp.example/oauth2/v1/userinfo");
    assert_string_equal(fake_session_get(&F, "issuer"), ISSUER);

    /* The callback uses the endpoints the sign-in started with: no second discovery. */
    F.nrequests = 0;
    F.nroutes = 0;
    route("POST", "https://idp.example/oauth2/v1/token", 200,
          token_body(
              jwt(claims(ISSUER, "\"" CLIENT_ID "\"", 600, fake_session_get(&F, "nonce"), NULL))));
    route("GET", "https://idp.example/oauth2/v1/userinfo", 200, USERINFO_STANDARD);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_OK);
    assert_int_equal(F.nrequests, 2);
    r = request_to("GET", "https://idp.example/oauth2/v1/userinfo");
    assert_non_null(r);
    assert_string_equal(header(r, "Authorization"), "Bearer at-1");
    assert_string_equal(out.id, "user-42");
    assert_string_equal(out.name, "Ada Lovelace");

    /* A session without the endpoints (a sign-in begun elsewhere) resolves them again: from
     * the discovery cache, no request (there is no discovery route now). */
    new_flow();
    fake_session_set(&F, "redirectUri", REDIRECT_URI);
    route("POST", "https://idp.example/oauth2/v1/token", 200, token_body(NULL));
    route("GET", "https://idp.example/oauth2/v1/userinfo", 200, USERINFO_STANDARD);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_OK);
    assert_null(request_to("GET", DISCOVERY_URL));
    assert_int_equal(F.nrequests, 2);
}

/* The discovery URL was requested in the last call (and how many requests there were). */
static bool discovered(size_t expect_requests)
{
    assert_int_equal(F.nrequests, expect_requests);
    return request_to("GET", DISCOVERY_URL) != NULL;
}

/* A document is fetched once and used for CACHE_TTL seconds, for every instance whose issuer
 * has that discovery URL; then fetched again, and the new one is used. */
static void test_discovery_cache(void **state)
{
    char *uri;

    config("issuer", ISSUER);
    config("clientId", CLIENT_ID);
    route("GET", DISCOVERY_URL, 200, discovery_doc(true));
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(discovered(1));

    /* No route: a request would fail the test (fake_http's "unexpected request"). */
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_false(discovered(0));
    assert_true(strncmp(uri, "https://idp.example/oauth2/v1/authorize?", 40) == 0);
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"),
                        "https://idp.example/oauth2/v1/token");
    assert_string_equal(fake_session_get(&F, "userInfoEndpoint"),
                        "https://idp.example/oauth2/v1/userinfo");
    assert_string_equal(fake_session_get(&F, "issuer"), ISSUER);

    /* Another instance, the same issuer but for a trailing '/', and its own hand-set token
     * endpoint: the same document, merged with its own settings. */
    new_flow();
    config("issuer", ISSUER "/");
    config("tokenEndpoint", "https://token.idp.example/t");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_false(discovered(0));
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"), "https://token.idp.example/t");
    config("tokenEndpoint", NULL);
    config("issuer", ISSUER);

    /* Still cached one second before CACHE_TTL. */
    advance(CACHE_TTL - 1);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_false(discovered(0));

    /* Expired: fetched again, and the provider's new endpoints are used. */
    advance(1);
    new_flow();
    route("GET", DISCOVERY_URL, 200,
          "{\"issuer\": \"" ISSUER "\", \"authorization_endpoint\": "
          "\"https://idp.example/v2/authorize\", \"token_endpoint\": "
          "\"https://idp.example/v2/token\"}");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(discovered(1));
    assert_true(strncmp(uri, "https://idp.example/v2/authorize?", 33) == 0);
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"), "https://idp.example/v2/token");
    assert_null(fake_session_get(&F, "userInfoEndpoint"));
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_false(discovered(0));
}

/* One sign-in start with issuer https://idp-<i>.example; whether it fetched discovery. */
static bool start_with_issuer(int i)
{
    char *uri;
    const char *issuer = fake_format(&F, "https://idp-%d.example", i);

    new_flow();
    route_any_issuer(&F, "https://idp-");
    config("issuer", issuer);
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(strncmp(uri, fake_format(&F, "%s/authorize?", issuer), strlen(issuer) + 11) == 0);
    assert_true(F.nrequests <= 1);
    return F.nrequests == 1;
}

/* At most CACHE_MAX_ENTRIES documents; one more replaces the one fetched longest ago. */
static void test_discovery_cache_bound(void **state)
{
    config("clientId", CLIENT_ID);
    /* CACHE_MAX_ENTRIES issuers, one second apart: each fetched once, all then cached. */
    for (int i = 0; i < CACHE_MAX_ENTRIES; i++) {
        assert_true(start_with_issuer(i));
        advance(1);
    }
    for (int i = 0; i < CACHE_MAX_ENTRIES; i++)
        assert_false(start_with_issuer(i));

    /* One more: it is cached, and the oldest (issuer 0) is gone; the others stay. */
    assert_true(start_with_issuer(CACHE_MAX_ENTRIES));
    assert_false(start_with_issuer(CACHE_MAX_ENTRIES));
    for (int i = 1; i < CACHE_MAX_ENTRIES; i++)
        assert_false(start_with_issuer(i));
    advance(1);
    assert_true(start_with_issuer(0));
    /* ... which in turn replaced the oldest left, issuer 1. */
    assert_true(start_with_issuer(1));
    assert_false(start_with_issuer(CACHE_MAX_ENTRIES));
}

/* A failure is replayed, not retried, for CACHE_FAIL_TTL seconds (a hung issuer costs one
 * timeout per 30 s, not one per sign-in); a request that failed fast before any answer for
 * another reason (e.g. refused by the host's address policy) is not cached. */
static void test_discovery_failure_cache(void **state)
{
    char *uri;

    config("issuer", ISSUER);
    config("clientId", CLIENT_ID);
    route_fail("GET", DISCOVERY_URL, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_true(discovered(1));

    /* No route now: within CACHE_FAIL_TTL the failure comes back without a request, with the
     * first failure's message as the detail. */
    for (int i = 0; i < 3; i++) {
        new_flow();
        assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_TIMEOUT);
        assert_null(uri);
        assert_false(discovered(0));
        assert_int_equal(F.last_log_level, LATCH_CONNECTOR_LOG_WARN);
        assert_non_null(strstr(F.last_log, "discovery request to " DISCOVERY_URL " failed"));
        assert_non_null(strstr(F.last_log, "not retried for 30 s"));
        advance(CACHE_FAIL_TTL / 3 - 1);
    }
    advance(CACHE_FAIL_TTL - 3 * (CACHE_FAIL_TTL / 3 - 1) - 1);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_false(discovered(0));

    /* CACHE_FAIL_TTL after the failure: asked again; the answer is cached as any other. */
    advance(1);
    new_flow();
    route("GET", DISCOVERY_URL, 200, discovery_doc(true));
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(discovered(1));
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_false(discovered(0));

    /* An answer that is a failure (HTTP 503) is cached too. */
    advance(CACHE_TTL);
    new_flow();
    route("GET", DISCOVERY_URL, 503, "");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);
    assert_true(discovered(1));
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);
    assert_false(discovered(0));
    assert_non_null(strstr(F.last_log, "answered HTTP 503"));

    /* No answer and no timeout (the address policy, DNS, TLS, a refused connection): asked
     * every time, so the host's classification reaches each sign-in. */
    advance(CACHE_FAIL_TTL);
    for (int i = 0; i < 2; i++) {
        new_flow();
        route_fail("GET", DISCOVERY_URL, LATCH_CONNECTOR_ERR_GENERAL);
        assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);
        assert_true(discovered(1));
    }
}

/* Many sign-ins at once on several threads, over more issuers than the cache holds (so entries
 * are replaced while others read them): each gets its own issuer's endpoints. Run under ASan in
 * the sanitizer build, which reports any use of a replaced entry. */
#define THREADS       4
#define THREAD_CALLS  300
#define THREAD_ISSUER 400

struct worker {
    struct latch_connector_ctx *ctx;
    int id;
    int wrong; /* calls that failed or got another issuer's endpoint */
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct latch_connector_ctx *ctx = w->ctx;

    for (int i = 0; i < THREAD_CALLS; i++) {
        int n = (i * 7 + w->id * 101) % THREAD_ISSUER;
        struct latch_connector_auth_request req = LATCH_CONNECTOR_AUTH_REQUEST_INIT;
        char *uri = NULL;
        const char *issuer = fake_format(ctx, "https://idp-%d.example", n);
        const char *want = fake_format(ctx, "%s/authorize?", issuer);

        ctx->nsession = 0;
        ctx->nrequests = 0;
        ctx->config[0] = (struct kv){"issuer", issuer};
        req.state = STATE;
        req.redirect_uri = REDIRECT_URI;
        if (D->ops->get_authorization_uri(ctx, &fake_host, &req, &uri) != LATCH_CONNECTOR_OK ||
            uri == NULL || strncmp(uri, want, strlen(want)) != 0)
            w->wrong++;
    }
    return NULL;
}

static void test_discovery_cache_threads(void **state)
{
    struct latch_connector_ctx *ctxs[THREADS];
    struct worker workers[THREADS];
    pthread_t threads[THREADS];

    for (int t = 0; t < THREADS; t++) {
        ctxs[t] = calloc(1, sizeof(*ctxs[t]));
        assert_non_null(ctxs[t]);
        ctxs[t]->config[0] = (struct kv){"issuer", NULL};
        ctxs[t]->config[1] = (struct kv){"clientId", CLIENT_ID};
        ctxs[t]->nconfig = 2;
        route_any_issuer(ctxs[t], "https://idp-");
        workers[t] = (struct worker){ctxs[t], t, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, worker_run, &workers[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(workers[t].wrong, 0);
        for (size_t i = 0; i < ctxs[t]->nblocks; i++)
            free(ctxs[t]->blocks[i]);
        free(ctxs[t]->blocks);
        free(ctxs[t]);
    }
}

static void test_discovery_hand_set_endpoint_wins(void **state)
{
    char *uri;

    config("issuer", ISSUER);
    config("clientId", CLIENT_ID);
    config("tokenEndpoint", "https://token.idp.example/t");
    route("GET", DISCOVERY_URL, 200, discovery_doc(false));
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_true(strncmp(uri, "https://idp.example/oauth2/v1/authorize?", 40) == 0);
    assert_string_equal(fake_session_get(&F, "tokenEndpoint"), "https://token.idp.example/t");
    /* The document has no userinfo_endpoint: none, the profile will come from the id_token. */
    assert_null(fake_session_get(&F, "userInfoEndpoint"));

    /* All three set by hand with an issuer: no discovery, the issuer is kept for iss. */
    new_flow();
    config_manual();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_int_equal(F.nrequests, 0);
    assert_string_equal(fake_session_get(&F, "issuer"), ISSUER);
}

/* A new flow after the last failure's CACHE_FAIL_TTL, so it is asked again. */
static void next_failure(void)
{
    new_flow();
    advance(CACHE_FAIL_TTL);
}

static void test_discovery_errors(void **state)
{
    char *uri;

    config("issuer", ISSUER);
    config("clientId", CLIENT_ID);

    route("GET", DISCOVERY_URL, 200,
          "{\"issuer\": \"https://evil.example\", \"authorization_endpoint\": "
          "\"https://evil.example/a\", \"token_endpoint\": \"https://evil.example/t\"}");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_null(uri);
    assert_non_null(strstr(F.last_log, "not the configured"));

    next_failure();
    route("GET", DISCOVERY_URL, 404, "not found");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_CONFIG);

    next_failure();
    route("GET", DISCOVERY_URL, 503, "");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);

    next_failure();
    route_fail("GET", DISCOVERY_URL, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_TIMEOUT);

    next_failure();
    route_fail("GET", DISCOVERY_URL, LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_GENERAL);

    next_failure();
    route("GET", DISCOVERY_URL, 200, "<html>nope</html>");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    next_failure();
    route("GET", DISCOVERY_URL, 200,
          "{\"issuer\": \"https://idp.example\", \"authorization_endpoint\": "
          "\"http://idp.example/a\", \"token_endpoint\": \"https://idp.example/t\"}");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    next_failure();
    route("GET", DISCOVERY_URL, 200, "{\"issuer\": \"https://idp.example\"}");
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
}

static void test_default_profile_mapping(void **state)
{
    struct latch_connector_user_info out;

    config_manual();
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out), LATCH_CONNECTOR_OK);
    assert_string_equal(out.id, "user-42");
    assert_string_equal(out.name, "Ada Lovelace");
    assert_string_equal(out.email, "ada@example.com");
    assert_true(out.email_verified);
    assert_string_equal(out.avatar, "https://cdn.example/ada.png");
    assert_string_equal(out.phone, "+15550100");
    assert_string_equal(out.raw_json, USERINFO_STANDARD);
    assert_int_equal(request_to("GET", USERINFO_URL)->timeout_ms, 5000);

    /* email_verified false, or absent: not verified. */
    new_flow();
    assert_int_equal(flow(token_body(NULL), "{\"sub\": \"u\", \"email_verified\": false}", &out),
                     LATCH_CONNECTOR_OK);
    assert_false(out.email_verified);
    assert_null(out.email);
    assert_null(out.name);
}

static void test_nested_profile_mapping(void **state)
{
    static const char body[] =
        "{\"code\": 0, \"data\": {\"user\": {\"id\": 4242, \"nick\": \"Ada\", "
        "\"avatar_url\": \"https://cdn.example/a.png\"}, \"emails\": [{\"value\": "
        "\"ada@example.com\", \"verified\": true}, {\"value\": \"other@example.com\"}]}}";
    struct latch_connector_user_info out;

    config_manual();
    config("profileMap", "{\"id\": \"data.user.id\", \"name\": \"data.user.nick\", "
                         "\"avatar\": \"data.user.avatar_url\", \"email\": "
                         "\"data.emails.0.value\", \"emailVerified\": \"data.emails.0.verified\"}");
    assert_int_equal(flow(token_body(NULL), body, &out), LATCH_CONNECTOR_OK);
    assert_string_equal(out.id, "4242");
    assert_string_equal(out.name, "Ada");
    assert_string_equal(out.avatar, "https://cdn.example/a.png");
    assert_string_equal(out.email, "ada@example.com");
    assert_true(out.email_verified);
    assert_null(out.phone);
    assert_string_equal(out.raw_json, body);

    /* A partial map keeps the defaults for the keys it leaves out (Logto's behaviour). */
    new_flow();
    config("profileMap", "{\"id\": \"uid\"}");
    assert_int_equal(flow(token_body(NULL),
                          "{\"uid\": \"u-1\", \"sub\": \"ignored\", \"name\": \"N\", "
                          "\"picture\": \"https://p\"}",
                          &out),
                     LATCH_CONNECTOR_OK);
    assert_string_equal(out.id, "u-1");
    assert_string_equal(out.name, "N");
    assert_string_equal(out.avatar, "https://p");

    /* No value at the id path, or an object there: INVALID_RESPONSE. */
    new_flow();
    config("profileMap", "{\"id\": \"data.user.id\"}");
    assert_int_equal(flow(token_body(NULL), "{\"data\": {\"user\": {\"name\": \"x\"}}}", &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "data.user.id"));
    new_flow();
    config("profileMap", "{\"id\": \"data.user\"}");
    assert_int_equal(flow(token_body(NULL), "{\"data\": {\"user\": {\"id\": 1}}}", &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    /* A profileMap the host let through but the connector cannot use. */
    new_flow();
    config("profileMap", "{\"id\": 5}");
    assert_int_equal(flow(token_body(NULL), USERINFO_STANDARD, &out),
                     LATCH_CONNECTOR_ERR_INVALID_CONFIG);
}

static void test_id_token_claims_without_userinfo(void **state)
{
    struct latch_connector_user_info out;
    const char *payload;
    char *uri;

    config("issuer", ISSUER);
    config("clientId", CLIENT_ID);
    config("clientSecret", CLIENT_SECRET);
    route("GET", DISCOVERY_URL, 200, discovery_doc(false));
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    /* aud as an array that contains the client, azp the client, extra claims. */
    payload = claims(ISSUER, "[\"other\", \"" CLIENT_ID "\"]", 600, fake_session_get(&F, "nonce"),
                     ", \"azp\": \"" CLIENT_ID "\", \"name\": \"Ada\", \"email\": "
                     "\"ada@example.com\", \"email_verified\": true");
    route("POST", "https://idp.example/oauth2/v1/token", 200, token_body(jwt(payload)));
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_OK);
    assert_string_equal(out.id, "user-42");
    assert_string_equal(out.name, "Ada");
    assert_string_equal(out.email, "ada@example.com");
    assert_true(out.email_verified);
    assert_string_equal(out.raw_json, payload);
    /* Only the token endpoint was called: no userinfo. */
    assert_int_equal(F.nrequests, 2);

    /* No userinfo endpoint and no id_token: nothing to read a profile from. */
    F.nroutes = 0;
    F.nrequests = 0;
    route("POST", "https://idp.example/oauth2/v1/token", 200, token_body(NULL));
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
}

/* One callback with the given id_token payload (manual endpoints with an issuer), on the
 * session the caller set. */
static int with_token(const char *id_token, const char *userinfo)
{
    struct latch_connector_user_info out;
    F.nroutes = 0;
    F.nrequests = 0;
    route("POST", TOKEN_URL, 200, token_body(id_token));
    if (userinfo != NULL)
        route("GET", USERINFO_URL, 200, userinfo);
    return user_info("code-1", NULL, &out);
}

static int with_id_token(const char *payload, const char *userinfo)
{
    struct latch_connector_user_info out;
    F.nroutes = 0;
    F.nrequests = 0;
    route("POST", TOKEN_URL, 200, token_body(jwt(payload)));
    if (userinfo != NULL)
        route("GET", USERINFO_URL, 200, userinfo);
    return user_info("code-1", NULL, &out);
}

static void test_id_token_checks(void **state)
{
    char *uri;
    char nonce[128];
    const char *aud = "\"" CLIENT_ID "\"";

    config_manual();
    config("issuer", ISSUER);
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    snprintf(nonce, sizeof(nonce), "%s", fake_session_get(&F, "nonce"));
    /* Keep the sign-in's session across the callbacks below. */
    struct kv saved[32];
    size_t nsaved = F.nsession;
    memcpy(saved, F.session, sizeof(saved));
#define CALLBACK(payload, userinfo)                                                                \
    (memcpy(F.session, saved, sizeof(saved)), F.nsession = nsaved,                                 \
     with_id_token((payload), (userinfo)))

    /* All good, with and without userinfo's sub matching. */
    assert_int_equal(CALLBACK(claims(ISSUER, aud, 600, nonce, NULL), USERINFO_STANDARD),
                     LATCH_CONNECTOR_OK);
    assert_int_equal(CALLBACK(claims(ISSUER "/", aud, 600, nonce, NULL), USERINFO_STANDARD),
                     LATCH_CONNECTOR_OK);
    /* The same good token with its payload padded with '=' is refused: JWS parts are unpadded
     * base64url (RFC 7515 §2), and the host's decoder is strict. Blanks after the claims make
     * the payload's encoding a length that padding would complete. */
    const char *good = claims(ISSUER, aud, 600, nonce, NULL);
    while (strlen(b64url(good, strlen(good))) % 4 == 0)
        good = fake_format(&F, "%s ", good);
    const char *unpadded = jwt(good);
    const char *sig = strrchr(unpadded, '.');
    size_t pad = 4 - strlen(b64url(good, strlen(good))) % 4;
    const char *padded =
        fake_format(&F, "%.*s%.*s%s", (int)(sig - unpadded), unpadded, (int)pad, "==", sig);
    memcpy(F.session, saved, sizeof(saved));
    F.nsession = nsaved;
    assert_int_equal(with_token(unpadded, USERINFO_STANDARD), LATCH_CONNECTOR_OK);
    memcpy(F.session, saved, sizeof(saved));
    F.nsession = nsaved;
    assert_int_equal(with_token(padded, USERINFO_STANDARD), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "not base64url JSON"));
    /* Expired a moment ago, within the clock skew allowed. */
    assert_int_equal(CALLBACK(claims(ISSUER, aud, -30, nonce, NULL), USERINFO_STANDARD),
                     LATCH_CONNECTOR_OK);

    /* Wrong audience; audience array without us; azp of another client. */
    assert_int_equal(CALLBACK(claims(ISSUER, "\"someone-else\"", 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "aud"));
    assert_int_equal(CALLBACK(claims(ISSUER, "[\"a\", \"b\"]", 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_int_equal(
        CALLBACK(claims(ISSUER, "[\"a\", \"" CLIENT_ID "\"]", 600, nonce, ", \"azp\": \"a\""),
                 NULL),
        LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "azp"));
    assert_int_equal(CALLBACK(claims(ISSUER, "7", 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    /* Expired. */
    assert_int_equal(CALLBACK(claims(ISSUER, aud, -3600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "expired"));
    /* No exp, or not a number. */
    assert_int_equal(CALLBACK(fake_format(&F,
                                          "{\"iss\": \"%s\", \"sub\": \"s\", \"aud\": \"%s\", "
                                          "\"nonce\": \"%s\"}",
                                          ISSUER, CLIENT_ID, nonce),
                              NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_int_equal(CALLBACK(fake_format(&F,
                                          "{\"iss\": \"%s\", \"sub\": \"s\", \"aud\": \"%s\", "
                                          "\"exp\": \"soon\", \"nonce\": \"%s\"}",
                                          ISSUER, CLIENT_ID, nonce),
                              NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    /* Wrong nonce, missing nonce. */
    assert_int_equal(CALLBACK(claims(ISSUER, aud, 600, "another-sign-in", NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "nonce"));
    assert_int_equal(CALLBACK(claims(ISSUER, aud, 600, NULL, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    /* Wrong or missing issuer. */
    assert_int_equal(CALLBACK(claims("https://evil.example", aud, 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "iss"));
    assert_int_equal(CALLBACK(claims(NULL, aud, 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);

    /* userinfo for another subject than the id_token's. */
    assert_int_equal(CALLBACK(claims(ISSUER, aud, 600, nonce, NULL), "{\"sub\": \"user-43\"}"),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    assert_non_null(strstr(F.last_log, "sub"));

    /* Not a JWS: two parts, five parts (JWE), bad base64url, payload not JSON. */
    static const char *const malformed[] = {
        "abc.def",
        "a.b.c.d.e",
        "eyJhbGciOiJSUzI1NiJ9.!!!.c2ln",
        "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
        "bm90IGpzb24.eyJzdWIiOiJ4In0.c2ln",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        struct latch_connector_user_info out;
        memcpy(F.session, saved, sizeof(saved));
        F.nsession = nsaved;
        F.nroutes = 0;
        route("POST", TOKEN_URL, 200, token_body(malformed[i]));
        route("GET", USERINFO_URL, 200, USERINFO_STANDARD);
        assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    }

    /* Without an issuer configured, iss is not compared. */
    config("issuer", NULL);
    assert_int_equal(CALLBACK(claims("https://whoever.example", aud, 600, nonce, NULL), NULL),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE); /* the session still has the issuer */
    fake_session_set(&F, "issuer", NULL);
    nsaved = F.nsession;
    memcpy(saved, F.session, sizeof(saved));
    assert_int_equal(
        CALLBACK(claims("https://whoever.example", aud, 600, nonce, NULL), USERINFO_STANDARD),
        LATCH_CONNECTOR_OK);
#undef CALLBACK
}

static void test_error_mapping(void **state)
{
    struct latch_connector_user_info out;
    char *uri;

    config_manual();

    /* The person declined: error=access_denied, with or without a code. */
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    assert_int_equal(user_info(NULL, "access_denied", &out),
                     LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED);
    assert_int_equal(user_info("code-1", "access_denied", &out),
                     LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED);
    assert_int_equal(user_info(NULL, NULL, &out), LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED);
    assert_int_equal(user_info("", NULL, &out), LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED);
    assert_int_equal(F.nrequests, 0);

    /* The token endpoint refuses the code (4xx). */
    new_flow();
    assert_int_equal(flow("{\"error\": \"invalid_grant\"}", NULL, &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE); /* 200 without access_token */
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 400, "{\"error\": \"invalid_grant\"}");
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID);
    assert_non_null(strstr(F.last_log, "invalid_grant"));
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 401, "{\"error\": \"invalid_client\"}");
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID);
    /* 5xx, timeout, no answer. */
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 502, "bad gateway");
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_GENERAL);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route_fail("POST", TOKEN_URL, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_TIMEOUT);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route_fail("POST", TOKEN_URL, LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_GENERAL);
    /* A token answer that is not JSON, or an empty access token. */
    new_flow();
    assert_int_equal(flow("access_token=x&token_type=bearer", NULL, &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    new_flow();
    assert_int_equal(flow("{\"access_token\": \"\", \"token_type\": \"Bearer\"}", NULL, &out),
                     LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID);

    /* userinfo: 401, 5xx, not JSON, timeout. */
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 200, token_body(NULL));
    route("GET", USERINFO_URL, 401, "{\"error\": \"invalid_token\"}");
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 200, token_body(NULL));
    route("GET", USERINFO_URL, 500, "");
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_GENERAL);
    new_flow();
    assert_int_equal(flow(token_body(NULL), "<html>oops</html>", &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    new_flow();
    assert_int_equal(flow(token_body(NULL), "{\"sub\": ", &out),
                     LATCH_CONNECTOR_ERR_INVALID_RESPONSE);
    new_flow();
    assert_int_equal(auth_uri(&uri), LATCH_CONNECTOR_OK);
    route("POST", TOKEN_URL, 200, token_body(NULL));
    route_fail("GET", USERINFO_URL, LATCH_CONNECTOR_ERR_TIMEOUT);
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_TIMEOUT);

    /* The session lost the redirect URI. */
    new_flow();
    assert_int_equal(user_info("code-1", NULL, &out), LATCH_CONNECTOR_ERR_GENERAL);
    assert_int_equal(F.nrequests, 0);
}

static int validate(const char **why)
{
    *why = NULL;
    return D->ops->validate_config(&F, &fake_host, why);
}

static void expect_invalid(const char *needle)
{
    const char *why;
    assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
    assert_non_null(why);
    if (strstr(why, needle) == NULL)
        fail_msg("why \"%s\" does not mention \"%s\"", why, needle);
}

static void test_validate_config(void **state)
{
    const char *why;

    /* Issuer alone; all three endpoints alone; both. */
    config("clientId", CLIENT_ID);
    config("issuer", ISSUER);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("issuer", NULL);
    config_manual();
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("issuer", ISSUER);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);

    /* Neither issuer nor all three endpoints. */
    config("issuer", NULL);
    config("userInfoEndpoint", "");
    expect_invalid("issuer");
    config("userInfoEndpoint", USERINFO_URL);
    config("authorizationEndpoint", NULL);
    expect_invalid("authorizationEndpoint");
    config("authorizationEndpoint", AUTHZ_URL);

    /* URLs: https only, no fragment; the issuer has no query. */
    config("tokenEndpoint", "http://idp.example/token");
    expect_invalid("tokenEndpoint");
    config("tokenEndpoint", "https://idp.example/token#x");
    expect_invalid("tokenEndpoint");
    config("tokenEndpoint", TOKEN_URL);
    config("issuer", "https://idp.example?x=1");
    expect_invalid("issuer");
    config("issuer", "idp.example");
    expect_invalid("issuer");
    config("issuer", NULL);

    /* clientId; auth method; public client without PKCE. */
    config("clientId", "");
    expect_invalid("clientId");
    config("clientId", CLIENT_ID);
    config("tokenEndpointAuthMethod", "private_key_jwt");
    expect_invalid("tokenEndpointAuthMethod");
    config("tokenEndpointAuthMethod", "client_secret_post");
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("clientSecret", "");
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("pkce", "false");
    expect_invalid("PKCE");
    config("clientSecret", CLIENT_SECRET);
    assert_int_equal(validate(&why), LATCH_CONNECTOR_OK);
    config("pkce", "true");

    /* profileMap: an object of dotted-path strings among the known keys. */
    static const char *const good[] = {
        "{}",
        " { \"id\" : \"data.user.id\" } ",
        "{\"id\": \"sub\", \"name\": \"name\", \"email\": \"emails.0.value\", \"phone\": "
        "\"phone_number\", \"avatar\": \"picture\", \"emailVerified\": \"email_verified\"}",
        "{\"name\": \"pr\\u00e9nom\", \"id\": \"a\\/b\"}",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int before = F.njson_members;
        config("profileMap", good[i]);
        if (validate(&why) != LATCH_CONNECTOR_OK)
            fail_msg("profileMap %s refused: %s", good[i], why);
        /* Read with the host's json_members, not a parser of the connector's own. */
        assert_int_equal(F.njson_members, before + 1);
    }
    static const struct {
        const char *map, *needle;
    } bad[] = {
        {"[\"id\"]", "profileMap is not a JSON object"},
        {"\"sub\"", "profileMap is not a JSON object"},
        {"{\"id\": 5}", "profileMap.id must be a string"},
        {"{\"id\": {\"path\": \"sub\"}}", "profileMap.id must be a string"},
        {"{\"id\": null}", "profileMap.id must be a string"},
        {"{\"name\": [\"a\"]}", "profileMap.name must be a string"},
        {"{\"uid\": \"sub\"}", "unknown key \"uid\""},
        {"{\"id\": \"\"}", "dotted path"},
        {"{\"id\": \"data..id\"}", "dotted path"},
        {"{\"id\": \".id\"}", "dotted path"},
        {"{\"id\": \"id.\"}", "dotted path"},
        /* The host's reader refuses these (a key given twice too), and the connector says so. */
        {"{\"id\": \"a\", \"id\": \"b\"}", "profileMap is not valid JSON: duplicate key `id`"},
        {"{\"id\": \"a\",}", "profileMap is not valid JSON"},
        {"{\"id\" \"a\"}", "profileMap is not valid JSON"},
        {"{\"id\": \"a\"", "profileMap is not valid JSON"},
        {"{\"id\": \"a\"} x", "profileMap is not valid JSON"},
        {"{\"id\": \"\\ud800\"}", "profileMap is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        config("profileMap", bad[i].map);
        assert_int_equal(validate(&why), LATCH_CONNECTOR_ERR_INVALID_CONFIG);
        assert_non_null(why);
        if (strstr(why, bad[i].needle) == NULL)
            fail_msg("profileMap %s: why \"%s\" lacks \"%s\"", bad[i].map, why, bad[i].needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_descriptor, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_authorization_uri, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_host_without_1_1_services, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_authorization_uri_scope_and_query, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_without_pkce, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_client_secret_basic, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_client_secret_post, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_public_client, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_hand_set_endpoint_wins, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_errors, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_cache, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_cache_bound, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_failure_cache, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_discovery_cache_threads, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_default_profile_mapping, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_nested_profile_mapping, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_id_token_claims_without_userinfo, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_id_token_checks, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_error_mapping, fresh, cleanup),
        cmocka_unit_test_setup_teardown(test_validate_config, fresh, cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
