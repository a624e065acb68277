/* Blocking administrative transactions; see admin.h. */
#include "store/admin.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void quiet(void *arg, const char *message)
{
}

latch_rc latch_store_admin_run(const char *conninfo, const char *tenant_id,
                               const struct latch_admin_op *ops, int nops, char *out, size_t outcap,
                               struct latch_error *err)
{
    latch_rc rc = LATCH_FAIL;
    PGresult *res = NULL;
    static const char *const keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {conninfo, "latch-admin", NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        latch_error_set(err, 503, "store.unreachable", "cannot connect to PostgreSQL");
        latch_error_detail(err, "%s", pg ? PQerrorMessage(pg) : "out of memory");
        goto out;
    }
    PQsetNoticeProcessor(pg, quiet, NULL);
    res = PQexec(pg, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto pg_fail;
    PQclear(res);
    const char *tp[1] = {tenant_id};
    res = PQexecParams(pg, "SELECT set_config('latch.tenant_id', $1, true)", 1, NULL, tp, NULL,
                       NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        goto pg_fail;
    for (int i = 0; i < nops; i++) {
        PQclear(res);
        res = PQexecParams(pg, ops[i].sql, ops[i].nparams, NULL, ops[i].params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            goto pg_fail;
    }
    if (out != NULL && outcap > 0)
        snprintf(out, outcap, "%s",
                 PQntuples(res) > 0 && PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    res = PQexec(pg, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto pg_fail;
    rc = LATCH_OK;
    goto out;
pg_fail : {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    bool unique = state != NULL && strcmp(state, "23505") == 0;
    /* The SQLSTATE is the code, as the asynchronous store does, so callers can tell errors
     * their functions raise on purpose (e.g. latch_rotate_keys' limit) from failures. */
    latch_error_set(err, unique ? 409 : 500,
                    unique ? "conflict" : (state != NULL ? state : "store.failed"),
                    unique ? "already exists" : "the database refused the operation");
    latch_error_detail(err, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
}
out:
    PQclear(res);
    PQfinish(pg);
    return rc;
}
