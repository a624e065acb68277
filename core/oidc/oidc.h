/*
 * oidc/: the OpenID Connect provider endpoints under <tenant endpoint>/oidc.
 */
#ifndef LATCH_OIDC_OIDC_H
#define LATCH_OIDC_OIDC_H

#include "http/http.h"

/* Registers discovery, JWKS and the token endpoint. Main thread, before the server starts. */
latch_rc latch_oidc_register(struct latch_server *srv) LATCH_MUST_CHECK;

#endif
