/*
 * Applying the compiled-in migrations over one blocking libpq connection; see migrate.h.
 *
 * Order of work: connect, take a session advisory lock (so concurrent runners queue up), create
 * latch_migrations if missing, read what is applied, then apply each pending migration in its own
 * transaction together with its latch_migrations row. Before committing a migration the runner
 * asks the database for tenancy violations (latch_tenancy_violations(), from 0001) and refuses to
 * commit one that leaves a table outside the rules of schema/README.md.
 */
#include "store/migrate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "util/log.h"

/* pg_advisory_lock key shared by every Latch binary: "LATCHMIG" in ASCII, 0x4c415443484d4947. */
#define MIGRATE_LOCK_KEY "5494765668321282375"

#define MIGRATE_CODE "store.migrate_failed"

static const char create_table_sql[] = "CREATE TABLE IF NOT EXISTS latch_migrations ("
                                       " version int PRIMARY KEY,"
                                       " name text NOT NULL,"
                                       " applied_at timestamptz NOT NULL DEFAULT now())";

static const char applied_sql[] = "SELECT version, name FROM latch_migrations ORDER BY version";

static const char insert_sql[] =
    "INSERT INTO latch_migrations (version, name) VALUES ($1::int, $2)";

static const char has_check_sql[] =
    "SELECT to_regprocedure('latch_tenancy_violations()') IS NOT NULL";

static const char violations_sql[] =
    "SELECT tbl::text, problem FROM latch_tenancy_violations() LIMIT 20";

static const char bypass_sql[] =
    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user";

int latch_migrate_latest_version(void)
{
    int latest = 0;
    for (int i = 0; i < latch_migrations_count; i++) {
        if (latch_migrations[i].version > latest)
            latest = latch_migrations[i].version;
    }
    return latest;
}

/* 1-based line of the 1-based character position pos in sql (PostgreSQL counts characters). */
static int line_of_position(const char *sql, long pos)
{
    int line = 1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++) {
        if ((*p & 0xC0) == 0x80)
            continue; /* UTF-8 continuation byte: same character */
        if (++chars >= pos)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

/*
 * Fills err from a failed libpq call: message from fmt, detail from the server's error fields
 * (or the connection's message when there is no result). 503 when the connection is gone.
 * `sql`, when given, turns an error position into a line number.
 */
static latch_rc fail_pg(struct latch_error *err, PGconn *conn, const PGresult *res, const char *sql,
                        const char *fmt, ...) LATCH_PRINTF(5, 6);

static latch_rc fail_pg(struct latch_error *err, PGconn *conn, const PGresult *res, const char *sql,
                        const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    int status = PQstatus(conn) == CONNECTION_OK ? 500 : 503;
    latch_error_set(err, status, MIGRATE_CODE, "%s", message);

    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary == NULL) {
        char msg[400];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        latch_error_detail(err, "%s", msg[0] != '\0' ? msg : "no result from the server");
        return LATCH_FAIL;
    }
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    latch_error_detail(err, "%s: %s", state != NULL ? state : "XX000", primary);
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    if (pos != NULL && sql != NULL)
        latch_error_detail(err, " (line %d)", line_of_position(sql, strtol(pos, NULL, 10)));
    const char *more = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    if (more != NULL)
        latch_error_detail(err, "; detail: %s", more);
    const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    if (hint != NULL)
        latch_error_detail(err, "; hint: %s", hint);
    const char *where = PQresultErrorField(res, PG_DIAG_CONTEXT);
    if (where != NULL)
        latch_error_detail(err, "; context: %s", where);
    return LATCH_FAIL;
}

/* Runs sql (no parameters) and checks the result status; res_out (optional) keeps the result. */
static latch_rc run(PGconn *conn, const char *sql, PGresult **res_out, struct latch_error *err,
                    const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail_pg(err, conn, res, NULL, "%s failed", what);
        PQclear(res);
        return LATCH_FAIL;
    }
    if (res_out != NULL)
        *res_out = res;
    else
        PQclear(res);
    return LATCH_OK;
}

/* Server warnings (client_min_messages is raised to warning) go to our log, one line each. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    char line[512];
    snprintf(line, sizeof(line), "%s", message);
    line[strcspn(line, "\n")] = '\0';
    latch_warn("postgresql: %s", line);
}

static void warn_if_bypassing(PGconn *conn)
{
    PGresult *res = PQexec(conn, bypass_sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        latch_warn("migrate: the database role is a superuser or has BYPASSRLS; row-level "
                   "security does not apply to it, so tenant isolation is not enforced for "
                   "connections made as this role");
    PQclear(res);
}

/* Fails when a migration left a table outside the tenancy rules (no-op before 0001). */
static latch_rc check_tenancy(PGconn *conn, const struct latch_migration *m,
                              struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    PGresult *res = NULL;

    if (run(conn, has_check_sql, &res, err, "tenancy check") != LATCH_OK)
        goto done;
    bool available = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    res = NULL;
    if (!available) {
        rc = LATCH_OK;
        goto done;
    }
    if (run(conn, violations_sql, &res, err, "tenancy check") != LATCH_OK)
        goto done;
    if (PQntuples(res) == 0) {
        rc = LATCH_OK;
        goto done;
    }
    latch_error_set(err, 500, MIGRATE_CODE,
                    "migration %04d_%s breaks the tenancy rules (schema/README.md)", m->version,
                    m->name);
    for (int i = 0; i < PQntuples(res); i++)
        latch_error_detail(err, "%s%s: %s", i > 0 ? "; " : "", PQgetvalue(res, i, 0),
                           PQgetvalue(res, i, 1));

done:
    PQclear(res);
    return rc;
}

/* Applies one migration and records it, in one transaction. */
static latch_rc apply_one(PGconn *conn, const struct latch_migration *m, struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    PGresult *res = NULL;
    char label[96];
    snprintf(label, sizeof(label), "%04d_%s", m->version, m->name);

    if (run(conn, "BEGIN", NULL, err, "BEGIN") != LATCH_OK)
        goto done;

    /* PQexec, not PQexecParams: a migration body is several statements. It stops at the first
     * error and returns that error's result. */
    res = PQexec(conn, m->sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
            latch_error_set(err, 500, MIGRATE_CODE,
                            "migration %s uses COPY, which migrations may not", label);
        else
            fail_pg(err, conn, res, m->sql, "migration %s failed", label);
        goto done;
    }
    PQclear(res);
    res = NULL;
    if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
        /* COMMIT or ROLLBACK inside the body broke the one-transaction guarantee. */
        latch_error_set(err, 500, MIGRATE_CODE,
                        "migration %s ended its own transaction; migrations may not contain "
                        "COMMIT, ROLLBACK or statements that cannot run in a transaction",
                        label);
        goto done;
    }

    char version[16];
    snprintf(version, sizeof(version), "%d", m->version);
    const char *params[2] = {version, m->name};
    res = PQexecParams(conn, insert_sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_pg(err, conn, res, NULL, "recording migration %s failed", label);
        goto done;
    }
    PQclear(res);
    res = NULL;

    if (check_tenancy(conn, m, err) != LATCH_OK)
        goto done;
    if (run(conn, "COMMIT", NULL, err, "COMMIT") != LATCH_OK)
        goto done;
    latch_info("migrate: applied %s", label);
    rc = LATCH_OK;

done:
    PQclear(res);
    if (rc != LATCH_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

latch_rc latch_migrate_apply(const char *conninfo, int *applied, struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    bool *done_versions = NULL;
    int count = 0;
    int latest = latch_migrate_latest_version();

    if (applied != NULL)
        *applied = 0;
    if (conninfo == NULL || conninfo[0] == '\0') {
        latch_error_set(err, 500, MIGRATE_CODE, "no database connection string");
        goto done;
    }

    conn = PQconnectdb(conninfo);
    if (conn == NULL) {
        latch_error_set(err, 503, MIGRATE_CODE, "out of memory connecting to the database");
        goto done;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and user, never the password. */
        fail_pg(err, conn, NULL, NULL, "cannot connect to the database");
        goto done;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    if (run(conn, "SET client_min_messages = warning", NULL, err, "SET") != LATCH_OK)
        goto done;

    /* Lock before creating latch_migrations: two concurrent CREATE TABLE IF NOT EXISTS can
     * still collide on the catalog's unique indexes. A session lock is released by PostgreSQL
     * if we die, so a crashed runner never wedges the next one. */
    if (run(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", NULL, err,
            "taking the migration lock") != LATCH_OK)
        goto done;
    if (run(conn, create_table_sql, NULL, err, "creating latch_migrations") != LATCH_OK)
        goto done;
    warn_if_bypassing(conn);

    if (run(conn, applied_sql, &res, err, "reading latch_migrations") != LATCH_OK)
        goto done;
    done_versions = calloc((size_t)latest + 1, sizeof(*done_versions));
    if (done_versions == NULL) {
        latch_error_set(err, 500, MIGRATE_CODE, "out of memory");
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        int v = (int)strtol(PQgetvalue(res, i, 0), NULL, 10);
        const char *name = PQgetvalue(res, i, 1);
        if (v > latest) {
            latch_error_set(err, 500, MIGRATE_CODE,
                            "the database schema is at version %d but this binary knows only "
                            "up to %d: upgrade Latch before using this database",
                            v, latest);
            goto done;
        }
        if (v < 1)
            continue;
        done_versions[v] = true;
        for (int j = 0; j < latch_migrations_count; j++) {
            if (latch_migrations[j].version == v && strcmp(latch_migrations[j].name, name) != 0)
                latch_warn("migrate: version %d was applied as \"%s\" but this binary calls it "
                           "\"%s\"",
                           v, name, latch_migrations[j].name);
        }
    }
    PQclear(res);
    res = NULL;

    for (int i = 0; i < latch_migrations_count; i++) {
        const struct latch_migration *m = &latch_migrations[i];
        if (done_versions[m->version])
            continue;
        if (apply_one(conn, m, err) != LATCH_OK)
            goto done;
        count++;
    }

    if (run(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", NULL, err,
            "releasing the migration lock") != LATCH_OK)
        goto done;
    rc = LATCH_OK;

done:
    if (applied != NULL)
        *applied = count;
    PQclear(res);
    free(done_versions);
    PQfinish(conn); /* also releases the lock when we failed while holding it */
    return rc;
}
