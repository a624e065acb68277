/*
 * Schema migrations: forward-only SQL files from schema/, compiled into the binaries
 * (see schema/meson.build), applied in order, each in its own transaction, recorded in
 * `latch_migrations`. A session advisory lock makes concurrent runs (two nodes starting at once,
 * or latchctl beside a node) apply each migration exactly once.
 *
 * These functions use a blocking connection: call them from latchctl, or from latchd before its
 * loop threads start. Never from a loop thread.
 */
#ifndef LATCH_STORE_MIGRATE_H
#define LATCH_STORE_MIGRATE_H

#include <stdbool.h>

#include "util/error.h"

struct latch_migration {
    int version;      /* from the NNNN_ prefix of the file name */
    const char *name; /* file name without the NNNN_ prefix and .sql */
    const char *sql;
};

/* The migrations compiled into this binary, ordered by version. */
extern const struct latch_migration latch_migrations[];
extern const int latch_migrations_count;

/* Highest version compiled in (0 when there are none). */
int latch_migrate_latest_version(void);

/* Applies pending migrations; *applied (may be NULL) gets how many were applied by this call. */
latch_rc latch_migrate_apply(const char *conninfo, int *applied,
                             struct latch_error *err) LATCH_MUST_CHECK;

/* SQL that returns one row with the current version (0 when nothing was applied). */
#define LATCH_MIGRATE_VERSION_SQL "SELECT coalesce(max(version), 0) FROM latch_migrations"

#endif
