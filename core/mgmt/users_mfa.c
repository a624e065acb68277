/*
 * Management API: a person's MFA factors, Logto's /api/users/:userId/mfa-verifications
 * (admin-user/mfa-verifications.ts):
 *   GET                     → [{id, createdAt, type, name?, agent?, remainCodes? (BackupCode)}]
 *   POST {type: Totp}       → {type, secret, secretQrCode, keyUri}: a new secret, sealed at rest
 *                             (users/mfa.h); secretQrCode is the otpauth:// URI (Logto: a PNG data
 *                             URL of it); 422 user.totp_already_in_use
 *   POST {type: BackupCode} → {type, codes}: ten new codes, stored as keyed hashes; 422
 *                             user.backup_code_already_in_use while one is unused, 422
 *                             session.mfa.backup_code_can_not_be_alone without another factor
 *   DELETE /:verificationId → 204 (404 entity.not_found)
 * Any change of factors signs the person out everywhere (sessions end, refresh tokens are
 * revoked), in the same transaction: whoever reset them must not stay signed in on the strength
 * of the old ones. Secrets and codes in answers are wiped once written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/cache.h"
#include "users/mfa.h"
#include "util/log.h"
#include "util/wipe.h"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define USER_MISSING "NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2)"

static const struct latch_stmt mfa_list = {
    .name = "mgmt_user_mfa_list",
    .sql = "SELECT coalesce(json_agg(json_strip_nulls(json_build_object('id', f.id,"
           " 'createdAt', to_char(f.created_at AT TIME ZONE 'UTC',"
           " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'type', f.type, 'name', f.name,"
           " 'agent', f.agent, 'remainCodes', CASE WHEN f.type = 'BackupCode' THEN"
           " (SELECT count(*) FROM mfa_backup_codes c WHERE c.tenant_id = f.tenant_id"
           " AND c.factor_id = f.id AND c.used_at IS NULL) END))"
           " ORDER BY f.created_at, f.id), '[]')::text, NULL::bigint,"
           " CASE WHEN " USER_MISSING " THEN 'not_found' END"
           " FROM mfa_factors f WHERE f.tenant_id = $1 AND f.user_id = $2",
    .nparams = 2,
};

/* Signing the person out (as users.c does on suspension), after a change of factors. */
#define SIGN_OUT(cond)                                                                             \
    " ses AS (UPDATE sessions SET ended_at = now() WHERE tenant_id = $1 AND user_id = $2"         \
    " AND ended_at IS NULL AND " cond " RETURNING 1),"                                            \
    " rt AS (UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2"  \
    " AND revoked_at IS NULL AND " cond " RETURNING 1)"

/* $3 factor id, $4 sealed secret (hex). Answers ({type}, -, problem, -, display name). */
static const struct latch_stmt mfa_add_totp = {
    .name = "mgmt_user_mfa_add_totp",
    .sql = "WITH chk AS (SELECT CASE WHEN " USER_MISSING " THEN 'not_found'"
           " WHEN EXISTS (SELECT 1 FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2"
           " AND type = 'Totp') THEN 'totp_in_use' END AS problem),"
           " ins AS (INSERT INTO mfa_factors (tenant_id, id, user_id, type, totp_secret_sealed)"
           " SELECT $1, $3, $2, 'Totp', decode($4, 'hex') WHERE (SELECT problem FROM chk) IS NULL"
           " RETURNING 1),"
           SIGN_OUT("EXISTS (SELECT 1 FROM ins)")
           " SELECT CASE WHEN EXISTS (SELECT 1 FROM ins) THEN '{\"type\":\"Totp\"}' END,"
           " (SELECT count(*) FROM ses) + (SELECT count(*) FROM rt), (SELECT problem FROM chk),"
           " NULL::text, (SELECT coalesce(username, primary_email, primary_phone, name, id)"
           " FROM users WHERE tenant_id = $1 AND id = $2)",
    .nparams = 4,
};

/* $3 factor id, $4 JSON array of code hashes (bytea text). */
static const struct latch_stmt mfa_add_backup = {
    .name = "mgmt_user_mfa_add_backup",
    .sql = "WITH chk AS (SELECT CASE WHEN " USER_MISSING " THEN 'not_found'"
           " WHEN EXISTS (SELECT 1 FROM mfa_factors f JOIN mfa_backup_codes c"
           " ON c.tenant_id = f.tenant_id AND c.factor_id = f.id WHERE f.tenant_id = $1"
           " AND f.user_id = $2 AND f.type = 'BackupCode' AND c.used_at IS NULL)"
           " THEN 'backup_in_use'"
           " WHEN NOT EXISTS (SELECT 1 FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2"
           " AND type <> 'BackupCode') THEN 'alone' END AS problem),"
           /* Used-up codes are replaced under the same factor row (one statement cannot delete
            * it and insert its successor under the one-per-person unique index). */
           " ins AS (INSERT INTO mfa_factors (tenant_id, id, user_id, type)"
           " SELECT $1, $3, $2, 'BackupCode' WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT (tenant_id, user_id) WHERE type = 'BackupCode'"
           " DO UPDATE SET created_at = now(), last_used_at = NULL RETURNING id),"
           " del AS (DELETE FROM mfa_backup_codes c USING ins WHERE c.tenant_id = $1"
           " AND c.factor_id = ins.id RETURNING 1),"
           " codes AS (INSERT INTO mfa_backup_codes (tenant_id, factor_id, code_hash)"
           " SELECT $1, ins.id, decode(substr(h, 3), 'hex') FROM ins,"
           " jsonb_array_elements_text($4::jsonb) h RETURNING 1),"
           SIGN_OUT("EXISTS (SELECT 1 FROM ins)")
           " SELECT CASE WHEN EXISTS (SELECT 1 FROM ins) THEN '{\"type\":\"BackupCode\"}' END,"
           " (SELECT count(*) FROM codes) + (SELECT count(*) FROM del)"
           " + (SELECT count(*) FROM ses) + (SELECT count(*) FROM rt), (SELECT problem FROM chk)",
    .nparams = 4,
};

/* $3 factor id. */
static const struct latch_stmt mfa_delete = {
    .name = "mgmt_user_mfa_delete",
    .sql = "WITH del AS (DELETE FROM mfa_factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3"
           " RETURNING 1),"
           SIGN_OUT("EXISTS (SELECT 1 FROM del)")
           " SELECT NULL::text, (SELECT count(*) FROM ses) + (SELECT count(*) FROM rt),"
           " CASE WHEN " USER_MISSING " THEN 'not_found'"
           " WHEN NOT EXISTS (SELECT 1 FROM del) THEN 'factor_missing' END, $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem mfa_problems[] = {
    {"totp_in_use", 422, "user.totp_already_in_use", "TOTP is already in use."},
    {"backup_in_use", 422, "user.backup_code_already_in_use", "Backup code is already in use."},
    {"alone", 422, "session.mfa.backup_code_can_not_be_alone",
     "Backup code can not be the only MFA factor."},
    {"factor_missing", 404, "entity.not_found", "The MFA verification `{}` does not exist."},
    {NULL, 0, NULL, NULL},
};

static const char *path_user(struct latch_request *req)
{
    return latch_mgmt_param_id(req, "userId", "user");
}

static void list_mfa(struct latch_request *req, void *arg)
{
    const char *id = path_user(req);
    if (id == NULL)
        return;
    struct latch_store_op op = {&mfa_list, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "user", .id = id, .problems = mfa_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* What POST answers once the factor is stored. */
struct created {
    char b32[LATCH_TOTP_SECRET_B32 + 1];
    char codes[LATCH_MFA_BACKUP_CODES][LATCH_MFA_BACKUP_CODE_LEN + 1];
    bool totp;
};

static void created_then(struct latch_request *req, struct latch_store_result *const *results,
                         int n, void *arg)
{
    struct created *c = arg;
    struct latch_json j;
    latch_json_init_secret(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "type");
    latch_json_string(&j, c->totp ? "Totp" : "BackupCode");
    if (c->totp) {
        char *endpoint = latch_tenant_endpoint(latch_loop_config(req->loop), req->tenant->id);
        const char *host = endpoint ? strstr(endpoint, "://") : NULL;
        host = host ? host + 3 : "latch";
        char *issuer = latch_arena_strndup(req->arena, host, strcspn(host, "/:"));
        const char *account = latch_store_result_isnull(results[0], 0, 4)
                                  ? "user"
                                  : latch_store_result_value(results[0], 0, 4);
        char *uri = issuer ? latch_users_mfa_otpauth_uri(issuer, account, c->b32) : NULL;
        free(endpoint);
        if (uri == NULL) {
            latch_json_clear(&j);
            explicit_bzero(c->b32, sizeof(c->b32));
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
            return;
        }
        latch_json_key(&j, "secret");
        latch_json_string(&j, c->b32);
        latch_json_key(&j, "secretQrCode");
        latch_json_string(&j, uri);
        latch_json_key(&j, "keyUri");
        latch_json_string(&j, uri);
        latch_wipe_free_str(uri);
    } else {
        latch_json_key(&j, "codes");
        latch_json_begin_array(&j);
        for (int i = 0; i < LATCH_MFA_BACKUP_CODES; i++)
            latch_json_string(&j, c->codes[i]);
        latch_json_end_array(&j);
    }
    latch_json_end_object(&j);
    explicit_bzero(c->b32, sizeof(c->b32));
    explicit_bzero(c->codes, sizeof(c->codes));
    size_t len = 0;
    char *body = latch_json_take(&j, &len);
    if (body == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, 200, body, len);
    latch_wipe_free(body, len);
}

static void create_mfa(struct latch_request *req, void *arg)
{
    const char *id = path_user(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *type = NULL;
    bool ok = latch_mgmt_get_str(&body, "type", 1, 32, LATCH_MGMT_REQUIRED, &type, NULL);
    bool totp = ok && strcmp(type, "Totp") == 0;
    if (ok && !totp && strcmp(type, "BackupCode") != 0) {
        latch_mgmt_invalid(req, "type", "must be Totp or BackupCode");
        ok = false;
    }
    yajl_tree_free(tree);
    struct created *c = ok ? latch_arena_calloc(req->arena, 1, sizeof(*c)) : NULL;
    char factor[LATCH_MFA_FACTOR_ID_LEN + 1];
    if (ok && (c == NULL || latch_jose_random_id(factor, LATCH_MFA_FACTOR_ID_LEN) != LATCH_OK)) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        ok = false;
    }
    if (!ok)
        return;
    c->totp = totp;
    char sealed[LATCH_MFA_SEALED_HEX_MAX];
    const char *param = NULL;
    const uint8_t *master = latch_loop_config(req->loop)->secret_key;
    char *hashes = NULL;
    latch_rc rc = totp ? latch_users_mfa_totp_new(master, req->tenant->id, id, c->b32, sealed)
                       : latch_users_mfa_backup_new(master, req->tenant->id, id, c->codes, &hashes);
    if (rc == LATCH_OK) {
        param = latch_arena_strdup(req->arena, totp ? sealed : hashes);
        free(hashes);
    }
    if (rc != LATCH_OK || param == NULL) {
        explicit_bzero(c->b32, sizeof(c->b32));
        explicit_bzero(c->codes, sizeof(c->codes));
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {
        totp ? &mfa_add_totp : &mfa_add_backup,
        {req->tenant->id, id, latch_arena_strdup(req->arena, factor), param}};
    struct latch_mgmt_reply reply = {.status = 200,
                                     .entity = "user",
                                     .id = id,
                                     .problems = mfa_problems,
                                     .then = created_then,
                                     .then_arg = c};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void delete_mfa(struct latch_request *req, void *arg)
{
    const char *id = path_user(req);
    const char *factor =
        id ? latch_mgmt_param_name(req, "verificationId", 32, "MFA verification") : NULL;
    if (factor == NULL)
        return;
    struct latch_store_op op = {&mfa_delete, {req->tenant->id, id, factor}};
    struct latch_mgmt_reply reply = {
        .status = 204, .entity = "user", .id = id, .problems = mfa_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

latch_rc latch_mgmt_users_mfa_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/users/:userId/mfa-verifications", list_mfa, NULL},
        {LATCH_HTTP_POST, "/api/users/:userId/mfa-verifications", create_mfa, NULL},
        {LATCH_HTTP_DELETE, "/api/users/:userId/mfa-verifications/:verificationId", delete_mfa,
         NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
