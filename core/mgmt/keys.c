/*
 * Signing keys through the Management API, as Logto's /api/configs/oidc/private-keys:
 * list, rotate (with signingKeyAlgorithm and an optional grace period in seconds) and delete a
 * key that is not the current one. New keys are generated on the worker pool (RSA takes long).
 * A rotation that would leave more than LATCH_KEYS_MAX keys (too many previous keys still in
 * their grace period) is refused by the database and answered 422 oidc.key_limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_internal.h"
#include "tenants/cache.h"
#include "tenants/keys.h"
#include "util/log.h"

#define GRACE_MAX_SECONDS (30L * 86400)

static void answer_list(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_mgmt_store_error(req, err, NULL, NULL);
        return;
    }
    const struct latch_store_result *last = results[n - 1];
    latch_http_respond_json(req, 200, latch_store_result_value(last, 0, 0),
                            latch_store_result_length(last, 0, 0));
}

/* After a rotation: a refusal over the key limit is the caller's (422 naming the limit). */
static void answer_rotated(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct latch_request *req = arg;
    if (latch_keys_limit_reached(err)) {
        struct latch_error limit;
        (void)latch_keys_limit_error(&limit);
        latch_http_log(req, LATCH_LOG_INFO, "key rotation refused: %d signing keys held",
                       LATCH_KEYS_MAX);
        latch_http_respond_error(req, &limit);
        return;
    }
    if (err == NULL)
        latch_http_log(req, LATCH_LOG_INFO, "signing keys rotated");
    answer_list(results, n, err, arg);
}

static void list_keys(struct latch_request *req, void *arg)
{
    const char *params[1] = {req->tenant->id};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &latch_keys_list_stmt, params,
                      answer_list, req);
}

struct rotation {
    struct latch_request *req;
    char tenant[LATCH_TENANT_ID_MAX + 1];
    char algorithm[16];
    char grace[24];
    struct latch_prepared_key cur, nxt;
    latch_rc rc;
    struct latch_error err;
};

static void rotate_work(void *arg)
{
    struct rotation *r = arg;
    r->rc = latch_keys_prepare(latch_tenant_seal_key(), r->tenant, r->algorithm, &r->cur, &r->err);
    if (r->rc == LATCH_OK)
        r->rc =
            latch_keys_prepare(latch_tenant_seal_key(), r->tenant, r->algorithm, &r->nxt, &r->err);
}

static void rotate_done(void *arg)
{
    struct rotation *r = arg;
    struct latch_request *req = r->req;
    if (r->rc != LATCH_OK) {
        latch_http_log_error(req, "key generation failed", &r->err);
        latch_http_respond_error(req, &r->err);
    } else {
        struct latch_store_op ops[2] = {
            {.stmt = &latch_keys_rotate_stmt,
             .params = {r->tenant, r->grace, LATCH_KEYS_MAX_TEXT, r->cur.kid, r->cur.algorithm,
                        r->cur.sealed_hex, r->cur.jwk, r->nxt.kid, r->nxt.algorithm,
                        r->nxt.sealed_hex, r->nxt.jwk}},
            {.stmt = &latch_keys_list_stmt, .params = {r->tenant}},
        };
        /* Parameters are copied: the key material can go right after this call. */
        latch_store_exec(latch_loop_store(req->loop), r->tenant, ops, 2, answer_rotated, req);
    }
    latch_prepared_key_clear(&r->cur);
    latch_prepared_key_clear(&r->nxt);
    free(r);
}

static void rotate_keys(struct latch_request *req, void *arg)
{
    const char *algorithm = LATCH_KEYS_DEFAULT_ALGORITHM;
    long grace = LATCH_KEYS_DEFAULT_GRACE_SECONDS;
    if (req->body_len > 0) {
        yajl_val body = latch_mgmt_body(req);
        if (body == NULL)
            return;
        struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
        const char *alg = NULL;
        long long g = 0;
        bool has_alg = false, has_grace = false;
        bool has_logto_grace = false;
        bool ok = latch_mgmt_get_str(&o, "signingKeyAlgorithm", 1, 16, 0, &alg, &has_alg) &&
                  latch_mgmt_get_int(&o, "gracePeriod", 0, GRACE_MAX_SECONDS, 0, &g, &has_grace);
        /* Logto names it rotationGracePeriod; accept both. */
        if (ok && !has_grace)
            ok = latch_mgmt_get_int(&o, "rotationGracePeriod", 0, GRACE_MAX_SECONDS, 0, &g,
                                    &has_logto_grace);
        has_grace |= has_logto_grace;
        if (ok && has_alg && !latch_keys_algorithm(alg, NULL)) {
            latch_mgmt_invalid(req, "signingKeyAlgorithm", "expected EC, EC-P256, RSA or Ed25519");
            ok = false;
        }
        if (ok && has_alg)
            algorithm = latch_arena_strdup(req->arena, alg);
        if (ok && has_grace)
            grace = (long)g;
        yajl_tree_free(body);
        if (!ok)
            return;
    }
    struct rotation *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    r->req = req;
    snprintf(r->tenant, sizeof(r->tenant), "%s", req->tenant->id);
    snprintf(r->algorithm, sizeof(r->algorithm), "%s", algorithm);
    snprintf(r->grace, sizeof(r->grace), "%ld", grace);
    struct latch_error err;
    if (latch_http_submit(req, LATCH_LANE_CPU, rotate_work, rotate_done, r, &err) != LATCH_OK) {
        free(r);
        latch_http_respond_error(req, &err);
    }
}

static const struct latch_stmt delete_key_stmt = {
    .name = "keys_delete",
    .sql = "WITH k AS (SELECT state FROM signing_keys WHERE tenant_id = $1 AND id = $2), "
           "d AS (DELETE FROM signing_keys s WHERE s.tenant_id = $1 AND s.id = $2 "
           "AND s.state <> 'current' RETURNING 1) "
           "SELECT (SELECT state FROM k), (SELECT count(*) FROM d)",
    .nparams = 2,
};

static void deleted(struct latch_store_result *const *results, int n, const struct latch_error *err,
                    void *arg)
{
    struct latch_request *req = arg;
    if (err != NULL) {
        latch_mgmt_store_error(req, err, NULL, NULL);
        return;
    }
    if (latch_store_result_isnull(results[0], 0, 0)) {
        latch_http_respond_errorf(req, 404, "entity.not_exists_with_id",
                                  "The private key with ID `%s` does not exist.",
                                  latch_http_param(req, "keyId"));
        return;
    }
    if (strcmp(latch_store_result_value(results[0], 0, 0), "current") == 0) {
        latch_http_respond_errorf(req, 422, "oidc.key_required",
                                  "The current signing key cannot be deleted; rotate first.");
        return;
    }
    latch_http_respond(req, 204, NULL, NULL, 0);
}

static void delete_key(struct latch_request *req, void *arg)
{
    const char *kid = latch_http_param(req, "keyId");
    if (kid == NULL || strlen(kid) > 64) {
        latch_http_respond_errorf(req, 404, "entity.not_exists_with_id",
                                  "The private key does not exist.");
        return;
    }
    const char *params[2] = {req->tenant->id, kid};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &delete_key_stmt, params,
                      deleted, req);
}

latch_rc latch_mgmt_keys_register(struct latch_server *srv)
{
    if (latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/configs/oidc/private-keys", list_keys) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_POST, "/api/configs/oidc/private-keys/rotate",
                         rotate_keys) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_DELETE, "/api/configs/oidc/private-keys/:keyId",
                         delete_key) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
