/*
 * Node endpoints (/healthz, /readyz) and the tenant status route (/api/status, as Logto's).
 */
#ifndef LATCH_HTTP_HEALTH_H
#define LATCH_HTTP_HEALTH_H

#include "http/http.h"

/* Registers the routes on srv; main thread, before latch_server_start(). */
latch_rc latch_health_register(struct latch_server *srv) LATCH_MUST_CHECK;

#endif
