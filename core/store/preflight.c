/* Start-up database checks; see preflight.h. */
#include "store/preflight.h"

#include <libpq-fe.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

latch_rc latch_store_preflight(const char *conninfo, int wait_ms, struct latch_error *err)
{
    PGconn *pg = NULL;
    PGresult *res = NULL;
    latch_rc rc = LATCH_FAIL;
    int waited = 0, delay = 100;
    static const char *const keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *values[] = {conninfo, "latchd", "5", NULL};

    for (;;) {
        pg = PQconnectdbParams(keys, values, 1);
        if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
            break;
        if (waited >= wait_ms) {
            latch_error_set(err, 503, "store.unreachable",
                            "cannot connect to PostgreSQL (LATCH_DATABASE_URL)");
            latch_error_detail(err, "%s", pg ? PQerrorMessage(pg) : "out of memory");
            goto out;
        }
        if (waited == 0)
            latch_warn("waiting for PostgreSQL: %s", pg ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        pg = NULL;
        sleep_ms(delay);
        waited += delay;
        delay = delay * 2 > 2000 ? 2000 : delay * 2;
    }

    res = PQexec(pg, "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles "
                     "WHERE rolname = current_user");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        latch_error_set(err, 503, "store.preflight_failed", "cannot read the database role");
        latch_error_detail(err, "%s", PQerrorMessage(pg));
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0 || strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        latch_error_set(err, 0, "store.role_bypasses_rls",
                        "LATCH_DATABASE_URL connects as role \"%s\", which %s row-level security; "
                        "connect as a role without SUPERUSER and BYPASSRLS that owns the database "
                        "(see docs/operations.md)",
                        PQgetvalue(res, 0, 0),
                        strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "as a superuser bypasses"
                                                                : "has BYPASSRLS and bypasses");
        goto out;
    }
    rc = LATCH_OK;
out:
    PQclear(res);
    PQfinish(pg);
    return rc;
}
