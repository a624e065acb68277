/*
 * Blocking administrative transactions for latchctl and for latchd's start-up (never a loop
 * thread): a few statements run in one transaction with the tenant set for row-level security.
 */
#ifndef LATCH_STORE_ADMIN_H
#define LATCH_STORE_ADMIN_H

#include <stddef.h>

#include "util/error.h"

#define LATCH_ADMIN_MAX_PARAMS 12

struct latch_admin_op {
    const char *sql;
    int nparams;
    const char *params[LATCH_ADMIN_MAX_PARAMS];
};

/* Runs ops in one transaction with latch.tenant_id = tenant_id. When out is not NULL, it gets
 * the first column of the first row of the last statement ("" when none). A unique violation
 * fails with status 409. */
latch_rc latch_store_admin_run(const char *conninfo, const char *tenant_id,
                               const struct latch_admin_op *ops, int nops, char *out, size_t outcap,
                               struct latch_error *err) LATCH_MUST_CHECK;

#endif
