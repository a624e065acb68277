/*
 * libFuzzer driver for redirect-URI and origin matching (core/oidc/clients.c). The input, split
 * at newlines, is a client's registered redirect URIs and CORS origins followed by a candidate;
 * matching is exact (RFC 6749 §3.1.2.3, OAuth 2.1), so the driver checks it against a plain
 * comparison: the candidate is accepted exactly when it equals a registered URI byte for byte,
 * and a registered URI with one byte changed or cut is refused unless it is registered too. The
 * origin check must accept every registered CORS origin and refuse what has no "://".
 * Build: meson setup build-fuzz -Dfuzz=true (clang); run: build-fuzz/tests/fuzz/fuzz_redirect_uri.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oidc/clients.h"

#define MAX_URIS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool registered(char *const *list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strlen(list[i]) == strlen(s) && memcmp(list[i], s, strlen(s)) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char *lines[2 * MAX_URIS + 1];
    int nlines = 0;
    struct latch_client client;

    if (text == NULL)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *p = text; nlines < 2 * MAX_URIS + 1;) {
        lines[nlines++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (nlines < 2) {
        free(text);
        return 0;
    }
    /* The last line is the candidate; the others alternate redirect URI, CORS origin. */
    const char *cand = lines[nlines - 1];
    char *uris[MAX_URIS], *origins[MAX_URIS];
    int nuris = 0, norigins = 0;
    for (int i = 0; i < nlines - 1; i++) {
        if (i % 2 == 0)
            uris[nuris++] = lines[i];
        else
            origins[norigins++] = lines[i];
    }
    memset(&client, 0, sizeof(client));
    client.redirect_uris = uris;
    client.nredirect_uris = nuris;
    client.post_logout_uris = origins;
    client.npost_logout_uris = norigins;
    client.cors_origins = origins;
    client.ncors_origins = norigins;

    if (latch_client_redirect_uri_ok(&client, cand) != registered(uris, nuris, cand))
        abort();
    if (latch_client_post_logout_uri_ok(&client, cand) != registered(origins, norigins, cand))
        abort();
    if (latch_client_redirect_uri_ok(&client, NULL))
        abort();
    for (int i = 0; i < nuris; i++) {
        size_t n = strlen(uris[i]);
        if (!latch_client_redirect_uri_ok(&client, uris[i]))
            abort();
        if (n == 0)
            continue;
        /* One byte changed, then one cut off. */
        char saved = uris[i][n - 1];
        char *copy = malloc(n + 1);
        if (copy == NULL)
            abort();
        memcpy(copy, uris[i], n + 1);
        copy[n - 1] = (char)(saved == 'x' ? 'y' : 'x');
        if (latch_client_redirect_uri_ok(&client, copy) != registered(uris, nuris, copy))
            abort();
        copy[n - 1] = '\0';
        if (latch_client_redirect_uri_ok(&client, copy) != registered(uris, nuris, copy))
            abort();
        free(copy);
    }
    for (int i = 0; i < norigins; i++)
        if (!latch_client_origin_ok(&client, origins[i]))
            abort();
    (void)latch_client_origin_ok(&client, cand);
    if (latch_client_origin_ok(&client, NULL))
        abort();
    free(text);
    return 0;
}
