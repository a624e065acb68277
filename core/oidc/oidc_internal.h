/* What the files of oidc/ share. */
#ifndef LATCH_OIDC_OIDC_INTERNAL_H
#define LATCH_OIDC_OIDC_INTERNAL_H

#include "oidc/oidc.h"

void latch_oidc_discovery(struct latch_request *req, void *arg);
void latch_oidc_token(struct latch_request *req, void *arg);

#endif
