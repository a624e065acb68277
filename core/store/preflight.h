/*
 * Start-up checks of the database, with a blocking connection: call before the loop threads
 * start, never from a loop thread.
 */
#ifndef LATCH_STORE_PREFLIGHT_H
#define LATCH_STORE_PREFLIGHT_H

#include "util/error.h"

/*
 * Waits up to wait_ms for PostgreSQL to accept a connection, then refuses roles that bypass
 * row-level security (superusers and BYPASSRLS roles): with them, tenant isolation would rest
 * on every query being right instead of on PostgreSQL.
 */
latch_rc latch_store_preflight(const char *conninfo, int wait_ms,
                               struct latch_error *err) LATCH_MUST_CHECK;

#endif
