/*
 * Management API: social, email and SMS connectors, in Logto's shapes.
 *
 *   GET  /api/connector-factories[/:id]   what the node has loaded (plugin/ registry)
 *   GET  /api/connectors                   the tenant's connector instances
 *   POST /api/connectors                   {connectorId, config, metadata?, id?, syncProfile?}
 *   GET, PATCH, DELETE /api/connectors/:id
 *   POST /api/connectors/:factoryId/test   {email | phone, config, locale?}: a test message
 *
 * A tenant has at most one email and one SMS connector (Logto's rule): creating one of another
 * factory deletes the old one in the same transaction (connectors.type, with a unique index as
 * the backstop when two creations race). The test endpoint sends Logto's Generic template with
 * the code 000000 through the factory with the config given, stores nothing, and is throttled
 * per tenant.
 *
 * A connector's config is validated by its factory (schema and validate_config op) on the worker
 * pool, since a connector op may block. Confidential fields (the factory's formItems with
 * isConfidential) are sealed before they reach PostgreSQL: each becomes
 * {"$sealed": "<base64url of iv || ciphertext || tag>"} (AES-256-GCM under a key derived from
 * LATCH_SECRET_KEY, bound to tenant, connector and field), or {"$sealedJson": …} over the JSON
 * text of a value that is no string (SMTP's auth object), and answers show them as "********".
 * A PATCH that sends "********" back for a confidential field keeps the stored value.
 *
 * The connector JSON is the row's (id, tenantId, connectorId, config, metadata, syncProfile,
 * createdAt, type) over the factory's metadata (target, name, logo, formItems, …), with platform
 * "Universal" for social connectors and null for email and SMS ones, as Logto's
 * ConnectorResponse. Factory lookups only read the registry;
 * they do not call into a connector, so they run on the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/base64.h"
#include "jose/secret.h"
#include "messages/messages.h"
#include "mgmt/mgmt_internal.h"
#include "plugin/plugin.h"
#include "tenants/tenants.h"
#include "util/log.h"
#include "util/ratelimit.h"

#define CONNECTOR_ID_MAX 128
#define CONFIG_KEYS_MAX  64
#define SEALED_MASK      "********"
/* A sealed string value is {"$sealed": …}; a sealed JSON value (an object such as SMTP's auth,
 * a number, a boolean) is {"$sealedJson": …} over its JSON text. */
#define SEALED_KEY       "$sealed"
#define SEALED_JSON_KEY  "$sealedJson"
#define SEAL_PURPOSE     "latch/connector-config/v1"
#define GENERATED_ID_LEN 21
#define CONNECTOR_ENTITY "connector"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* The row as JSON, confidential values masked. */
#define CONNECTOR_ROW_JSON(c)                                                                      \
    "json_build_object('id', " c ".id, 'tenantId', " c ".tenant_id,"                               \
    " 'connectorId', " c ".connector_id,"                                                          \
    " 'config', coalesce((SELECT jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) ="       \
    " 'object' AND (e.value ? '" SEALED_KEY "' OR e.value ? '" SEALED_JSON_KEY "')"                \
    " THEN '\"" SEALED_MASK "\"'::jsonb ELSE e.value END)"                                          \
    " FROM jsonb_each(" c ".config) AS e), '{}'::jsonb),"                                          \
    " 'metadata', " c ".metadata, 'syncProfile', " c ".sync_profile, 'type', " c ".type,"         \
    " 'createdAt', " LATCH_MGMT_SQL_MS(c ".created_at") ")::text"

static const struct latch_stmt list_stmt = {
    .name = "mgmt_connectors_list",
    .sql = "SELECT " CONNECTOR_ROW_JSON("c") " FROM connectors c WHERE c.tenant_id = $1"
           " ORDER BY c.created_at, c.id",
    .nparams = 1,
};

static const struct latch_stmt get_stmt = {
    .name = "mgmt_connectors_get",
    .sql = "SELECT " CONNECTOR_ROW_JSON("c") ", c.connector_id, c.config::text, c.type"
           " FROM connectors c WHERE c.tenant_id = $1 AND c.id = $2",
    .nparams = 2,
};

/* $7: the factory allows several instances. No row: one exists already. $8: the type
 * ("Social", "Email", "Sms"). */
static const struct latch_stmt insert_stmt = {
    .name = "mgmt_connectors_insert",
    .sql = "INSERT INTO connectors AS c (tenant_id, id, connector_id, config, metadata,"
           " sync_profile, type)"
           " SELECT $1::text, $2::text, $3::text, $4::jsonb, coalesce($5::jsonb, '{}'::jsonb),"
           " coalesce($6::boolean, false), $8::text"
           " WHERE $7::boolean OR NOT EXISTS (SELECT 1 FROM connectors"
           " WHERE tenant_id = $1::text AND connector_id = $3::text)"
           " RETURNING " CONNECTOR_ROW_JSON("c"),
    .nparams = 8,
};

/* Before inserting an email or SMS connector ($2 its type, $3 its factory), in the same
 * transaction: the tenant's connector of that type from another factory goes (Logto: "we can
 * have only one working email/sms connector"). One of the same factory stays, and the insert
 * then finds it and refuses, as Logto's one-instance rule does. */
static const struct latch_stmt replace_stmt = {
    .name = "mgmt_connectors_replace",
    .sql = "DELETE FROM connectors WHERE tenant_id = $1 AND type = $2::text"
           " AND connector_id <> $3::text RETURNING id",
    .nparams = 3,
};

/* $3 config, $4 metadata, $5 syncProfile: NULL keeps the stored value. $6: the config read
 * before (the row must not have changed meanwhile). */
static const struct latch_stmt update_stmt = {
    .name = "mgmt_connectors_update",
    .sql = "UPDATE connectors AS c SET config = coalesce($3::jsonb, c.config),"
           " metadata = coalesce($4::jsonb, c.metadata),"
           " sync_profile = coalesce($5::boolean, c.sync_profile)"
           " WHERE c.tenant_id = $1 AND c.id = $2 AND ($6::jsonb IS NULL OR c.config = $6::jsonb)"
           " RETURNING " CONNECTOR_ROW_JSON("c"),
    .nparams = 6,
};

static const struct latch_stmt delete_stmt = {
    .name = "mgmt_connectors_delete",
    .sql = "DELETE FROM connectors WHERE tenant_id = $1 AND id = $2 RETURNING 1",
    .nparams = 2,
};
// clang-format on

/* ---- secrets: writing that wipes, sealing and opening ---- */

/* A writer for text that holds plaintext secrets: every buffer it leaves behind is wiped. */
static struct latch_json *secret_gen_new(void)
{
    struct latch_json *g = malloc(sizeof(*g));
    if (g != NULL)
        latch_json_init_secret(g);
    return g;
}

/* The writer's text as a malloc'd string (wipe and free it), then frees the writer. */
static char *secret_gen_take(struct latch_json *g)
{
    char *out = latch_json_take(g, NULL);
    latch_mgmt_gen_free(g);
    return out;
}

static void wipe_tree(yajl_val v)
{
    if (v == NULL)
        return;
    if (YAJL_IS_STRING(v)) {
        explicit_bzero(v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_NUMBER(v) && v->u.number.r != NULL) {
        explicit_bzero(v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++)
            wipe_tree(v->u.object.values[i]);
    } else if (YAJL_IS_ARRAY(v)) {
        for (size_t i = 0; i < v->u.array.len; i++)
            wipe_tree(v->u.array.values[i]);
    }
}

static void secret_tree_free(yajl_val v)
{
    wipe_tree(v);
    yajl_tree_free(v);
}

void latch_mgmt_connector_config_free(char *config)
{
    if (config != NULL) {
        explicit_bzero(config, strlen(config));
        free(config);
    }
}

static bool seal_aad(char *aad, size_t cap, const char *tenant_id, const char *connector_id,
                     const char *key)
{
    int n = snprintf(aad, cap, "%s/%s/%s", tenant_id, connector_id, key);
    return n > 0 && (size_t)n < cap;
}

/* {"<marker>": "<b64url>"} for plain; marker is SEALED_KEY or SEALED_JSON_KEY. */
static bool gen_sealed(struct latch_json *g, const uint8_t key[32], const char *aad,
                       const char *marker, const char *plain)
{
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    if (latch_jose_seal(key, aad, (const uint8_t *)plain, strlen(plain), &sealed, &sealed_len) !=
        LATCH_OK)
        return false;
    size_t cap = latch_base64url_encoded_len(sealed_len) + 1;
    char *text = malloc(cap);
    ssize_t n = text ? latch_base64url_encode(sealed, sealed_len, text, cap) : -1;
    free(sealed);
    if (n < 0) {
        free(text);
        return false;
    }
    text[n] = '\0';
    latch_json_begin_object(g);
    latch_mgmt_gen_str(g, marker);
    latch_mgmt_gen_str(g, text);
    latch_json_end_object(g);
    free(text);
    return true;
}

/* The sealed text of a stored value, NULL when it is not sealed; *json: it seals JSON text. */
static yajl_val sealed_member(yajl_val v, bool *json)
{
    if (v == NULL || !YAJL_IS_OBJECT(v) || v->u.object.len != 1 ||
        !YAJL_IS_STRING(v->u.object.values[0]))
        return NULL;
    *json = strcmp(v->u.object.keys[0], SEALED_JSON_KEY) == 0;
    if (!*json && strcmp(v->u.object.keys[0], SEALED_KEY) != 0)
        return NULL;
    return v->u.object.values[0];
}

/* Plaintext of a {"$sealed": …} value (malloc'd; wipe and free), NULL on failure. */
static char *open_sealed(const uint8_t key[32], const char *aad, const char *b64)
{
    size_t len = strlen(b64);
    size_t cap = latch_base64_decoded_len(len) + 1;
    uint8_t *sealed = malloc(cap);
    ssize_t n = sealed ? latch_base64url_decode(b64, len, sealed, cap) : -1;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    char *out = NULL;
    if (n >= 0 && latch_jose_open(key, aad, sealed, (size_t)n, &plain, &plain_len) == LATCH_OK &&
        memchr(plain, '\0', plain_len) == NULL && (out = malloc(plain_len + 1)) != NULL) {
        memcpy(out, plain, plain_len);
        out[plain_len] = '\0';
    }
    if (plain != NULL) {
        explicit_bzero(plain, plain_len);
        free(plain);
    }
    free(sealed);
    return out;
}

char *latch_mgmt_connector_config_open(const uint8_t master[32], const char *tenant_id,
                                       const char *connector_id, const char *stored)
{
    uint8_t key[32];
    char *out = NULL;
    struct latch_json *g = NULL;
    yajl_val tree = yajl_tree_parse(stored, NULL, 0);
    if (tree == NULL || !YAJL_IS_OBJECT(tree))
        goto done;
    if (latch_jose_derive_key(master, SEAL_PURPOSE, key) != LATCH_OK)
        goto done;
    if ((g = secret_gen_new()) == NULL)
        goto done;
    latch_json_begin_object(g);
    for (size_t i = 0; i < tree->u.object.len; i++) {
        const char *k = tree->u.object.keys[i];
        yajl_val v = tree->u.object.values[i];
        latch_mgmt_gen_str(g, k);
        bool json = false;
        yajl_val s = sealed_member(v, &json);
        if (s == NULL) {
            latch_mgmt_gen_value(g, v);
            continue;
        }
        char aad[512];
        char *plain = seal_aad(aad, sizeof(aad), tenant_id, connector_id, k)
                          ? open_sealed(key, aad, s->u.string)
                          : NULL;
        yajl_val value = plain && json ? yajl_tree_parse(plain, NULL, 0) : NULL;
        if (plain == NULL || (json && value == NULL)) {
            latch_warn("tenant %s: connector %s: config field %s cannot be opened (wrong "
                       "LATCH_SECRET_KEY or tampered row)",
                       tenant_id, connector_id, k);
            latch_mgmt_connector_config_free(plain);
            goto done;
        }
        if (json)
            latch_mgmt_gen_value(g, value);
        else
            latch_mgmt_gen_str(g, plain);
        secret_tree_free(value);
        latch_mgmt_connector_config_free(plain);
    }
    latch_json_end_object(g);
    out = secret_gen_take(g);
    g = NULL;
done:
    if (g != NULL)
        latch_mgmt_gen_free(g);
    explicit_bzero(key, sizeof(key));
    yajl_tree_free(tree);
    return out;
}

latch_rc latch_mgmt_connector_call_open(struct latch_plugin_call *call, const uint8_t master[32],
                                        const char *tenant_id, const char *connector_id,
                                        const char *stored)
{
    char *config = latch_mgmt_connector_config_open(master, tenant_id, connector_id, stored);
    call->config_json = config;
    if (config != NULL)
        return LATCH_OK;
    snprintf(call->error_code, sizeof(call->error_code), "connector.invalid_config");
    snprintf(call->error_detail, sizeof(call->error_detail), "the stored config cannot be opened");
    return LATCH_FAIL;
}

void latch_mgmt_connector_call_close(struct latch_plugin_call *call)
{
    /* The config was opened here, so it is this module's to wipe. */
    latch_mgmt_connector_config_free((char *)call->config_json);
    call->config_json = NULL;
}

/* ---- factories ---- */

/* The factory's metadata, parsed (free with yajl_tree_free), NULL when unavailable. */
static yajl_val factory_tree(const struct latch_plugin *p)
{
    char *text = latch_plugin_factory_json(p);
    if (text == NULL)
        return NULL;
    yajl_val t = yajl_tree_parse(text, NULL, 0);
    free(text);
    if (t != NULL && !YAJL_IS_OBJECT(t)) {
        yajl_tree_free(t);
        t = NULL;
    }
    return t;
}

static yajl_val obj_get(yajl_val obj, const char *key)
{
    if (obj == NULL || !YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    return NULL;
}

/* Whether formItems marks key confidential. */
static bool factory_confidential(yajl_val factory, const char *key)
{
    yajl_val items = obj_get(factory, "formItems");
    if (items == NULL || !YAJL_IS_ARRAY(items))
        return false;
    for (size_t i = 0; i < items->u.array.len; i++) {
        yajl_val item = items->u.array.values[i];
        yajl_val k = obj_get(item, "key");
        yajl_val c = obj_get(item, "isConfidential");
        if (k != NULL && YAJL_IS_STRING(k) && strcmp(k->u.string, key) == 0)
            return c != NULL && YAJL_IS_TRUE(c);
    }
    return false;
}

static bool factory_standard(yajl_val factory)
{
    yajl_val v = obj_get(factory, "isStandard");
    return v != NULL && YAJL_IS_TRUE(v);
}

struct factories {
    struct latch_json *g;
};

static void each_factory(struct latch_plugin *p, void *arg)
{
    struct factories *f = arg;
    if (latch_plugin_kind_type(latch_plugin_info(p)->kind) == NULL)
        return;
    yajl_val t = factory_tree(p);
    if (t != NULL)
        latch_mgmt_gen_value(f->g, t);
    yajl_tree_free(t);
}

static void list_factories(struct latch_request *req, void *arg)
{
    struct factories f = {.g = latch_mgmt_gen_new()};
    if (f.g == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_json_begin_array(f.g);
    latch_plugin_each(each_factory, &f);
    latch_json_end_array(f.g);
    const char *body = latch_mgmt_gen_take(req, f.g);
    if (body == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, 200, body, strlen(body));
}

static const char *param_connector_id(struct latch_request *req, const char *name,
                                      const char *entity)
{
    const char *id = latch_http_param(req, name);
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > CONNECTOR_ID_MAX ||
        strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-.") != n) {
        latch_mgmt_not_found(req, entity, id ? id : "");
        return NULL;
    }
    return id;
}

static void get_factory(struct latch_request *req, void *arg)
{
    const char *id = param_connector_id(req, "id", "connector factory");
    if (id == NULL)
        return;
    struct latch_plugin *p = latch_plugin_get(id);
    if (p == NULL) {
        latch_mgmt_not_found(req, "connector factory", id);
        return;
    }
    char *text = latch_plugin_factory_json(p);
    latch_plugin_unref(p);
    if (text == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    latch_http_respond_json(req, 200, text, strlen(text));
    free(text);
}

/* ---- connector JSON ---- */

/* Writes the connector: the factory's metadata (when loaded), then the row over it. With
 * target, only a connector of that target (its own, or its factory's) is written: false when
 * it was left out. */
static bool gen_connector(struct latch_json *g, yajl_val row, const char *target)
{
    yajl_val cid = obj_get(row, "connectorId");
    struct latch_plugin *p = cid && YAJL_IS_STRING(cid) ? latch_plugin_get(cid->u.string) : NULL;
    yajl_val factory = p ? factory_tree(p) : NULL;
    if (p != NULL)
        latch_plugin_unref(p);
    yajl_val meta = obj_get(row, "metadata");
    static const char *const overrides[] = {"target", "name", "logo", "logoDark", NULL};
    if (target != NULL) {
        yajl_val own = obj_get(meta, "target");
        yajl_val t = own != NULL && YAJL_IS_STRING(own) ? own : obj_get(factory, "target");
        if (t == NULL || !YAJL_IS_STRING(t) || strcmp(t->u.string, target) != 0) {
            yajl_tree_free(factory);
            return false;
        }
    }

    latch_json_begin_object(g);
    if (factory != NULL) {
        for (size_t i = 0; i < factory->u.object.len; i++) {
            const char *k = factory->u.object.keys[i];
            if (obj_get(row, k) != NULL || strcmp(k, "platform") == 0)
                continue;
            bool overridden = false;
            for (const char *const *o = overrides; *o && !overridden; o++) {
                yajl_val mv = obj_get(meta, *o);
                overridden = strcmp(*o, k) == 0 && mv != NULL && !YAJL_IS_NULL(mv);
            }
            if (overridden)
                continue;
            latch_mgmt_gen_str(g, k);
            latch_mgmt_gen_value(g, factory->u.object.values[i]);
        }
    }
    /* A standard connector's instance names its own target, name and logo. */
    for (const char *const *o = overrides; *o; o++) {
        yajl_val mv = obj_get(meta, *o);
        if (mv != NULL && !YAJL_IS_NULL(mv)) {
            latch_mgmt_gen_str(g, *o);
            latch_mgmt_gen_value(g, mv);
        } else if (factory == NULL && strcmp(*o, "target") == 0) {
            /* The factory is not loaded on this node: say so rather than guess. */
            latch_mgmt_gen_str(g, "target");
            latch_json_null(g);
        }
    }
    for (size_t i = 0; i < row->u.object.len; i++) {
        latch_mgmt_gen_str(g, row->u.object.keys[i]);
        latch_mgmt_gen_value(g, row->u.object.values[i]);
    }
    /* The row's type ("Social", "Email", "Sms") came with it; Logto gives email and SMS
     * connectors no platform. */
    yajl_val type = obj_get(row, "type");
    bool social = type == NULL || !YAJL_IS_STRING(type) || strcmp(type->u.string, "Social") == 0;
    latch_mgmt_gen_str(g, "platform");
    if (social)
        latch_mgmt_gen_str(g, "Universal");
    else
        latch_json_null(g);
    latch_json_end_object(g);
    yajl_tree_free(factory);
    return true;
}

/* Answers rows[0..n) (column 0 each) as one connector or a list; a list keeps only the
 * connectors of Logto's ?target= when the query has one. */
static void respond_connectors(struct latch_request *req, const struct latch_store_result *res,
                               int status, bool list)
{
    const char *target = list ? latch_mgmt_query(req, "target") : NULL;
    if (target != NULL && target[0] == '\0')
        target = NULL;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    int rows = latch_store_result_rows(res), n = 0;
    if (list)
        latch_json_begin_array(g);
    for (int i = 0; i < rows && (list || i < 1); i++) {
        yajl_val row = yajl_tree_parse(latch_store_result_value(res, i, 0), NULL, 0);
        if (row != NULL && YAJL_IS_OBJECT(row) && gen_connector(g, row, target))
            n++;
        yajl_tree_free(row);
    }
    if (list)
        latch_json_end_array(g);
    const char *body = latch_mgmt_gen_take(req, g);
    if (body == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    if (list) {
        char total[24];
        snprintf(total, sizeof(total), "%d", n);
        latch_http_add_header(req, "Total-Number", total);
    }
    latch_http_respond_json(req, status, body, strlen(body));
}

struct cx {
    struct latch_request *req;
    const char *id;
    const char *factory_id;
    /* POST/PATCH */
    struct latch_plugin *plugin;
    char *config_plain; /* malloc'd, wiped: what the factory validates */
    char *config_sealed;
    const char *metadata_json;
    const char *sync_profile; /* "true"/"false"/NULL */
    const char *old_config;   /* PATCH: the stored text the update is based on */
    const char *type;         /* Logto's ConnectorType: "Social", "Email", "Sms" */
    bool standard;
    bool config_given;
    char **confidential; /* keys, NULL-terminated (arena) */
    struct latch_error err;
    latch_rc rc;
};

static void cx_clear(struct cx *c)
{
    latch_mgmt_connector_config_free(c->config_plain);
    c->config_plain = NULL;
    free(c->config_sealed);
    c->config_sealed = NULL;
    if (c->plugin != NULL) {
        latch_plugin_unref(c->plugin);
        c->plugin = NULL;
    }
}

static void rows_done(struct latch_store_result *const *results, int n,
                      const struct latch_error *err, void *arg)
{
    struct cx *c = arg;
    if (err != NULL) {
        latch_mgmt_store_error(c->req, err, NULL, NULL);
        return;
    }
    if (c->id == NULL) {
        respond_connectors(c->req, results[0], 200, true);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_mgmt_not_found(c->req, CONNECTOR_ENTITY, c->id);
        return;
    }
    respond_connectors(c->req, results[0], 200, false);
}

static struct cx *cx_new(struct latch_request *req)
{
    struct cx *c = latch_arena_calloc(req->arena, 1, sizeof(*c));
    if (c == NULL)
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
    else
        c->req = req;
    return c;
}

static void list_connectors(struct latch_request *req, void *arg)
{
    struct cx *c = cx_new(req);
    if (c == NULL)
        return;
    struct latch_store_op op = {.stmt = &list_stmt, .params = {req->tenant->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, rows_done, c);
}

static void get_connector(struct latch_request *req, void *arg)
{
    struct cx *c = cx_new(req);
    if (c == NULL || (c->id = param_connector_id(req, "id", CONNECTOR_ENTITY)) == NULL)
        return;
    struct latch_store_op op = {.stmt = &get_stmt, .params = {req->tenant->id, c->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, rows_done, c);
}

static void delete_done(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct cx *c = arg;
    if (err != NULL) {
        latch_mgmt_store_error(c->req, err, NULL, NULL);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_mgmt_not_found(c->req, CONNECTOR_ENTITY, c->id);
        return;
    }
    latch_http_log(c->req, LATCH_LOG_INFO, "connector %s deleted", c->id);
    latch_http_respond(c->req, 204, NULL, NULL, 0);
}

static void delete_connector(struct latch_request *req, void *arg)
{
    struct cx *c = cx_new(req);
    if (c == NULL || (c->id = param_connector_id(req, "id", CONNECTOR_ENTITY)) == NULL)
        return;
    struct latch_store_op op = {.stmt = &delete_stmt, .params = {req->tenant->id, c->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, delete_done, c);
}

/* ---- POST and PATCH ---- */

/*
 * From the body's config (an object) and, for PATCH, the stored config (opened): the plaintext
 * config the factory validates, with "********" for a confidential field replaced by the stored
 * value. Fills c->config_plain; answers 400 and returns false when invalid.
 */
static bool build_plain(struct cx *c, yajl_val config, yajl_val factory, yajl_val stored)
{
    struct latch_request *req = c->req;
    if (config->u.object.len > CONFIG_KEYS_MAX) {
        latch_mgmt_invalid(req, "config", "has too many members");
        return false;
    }
    c->confidential = latch_arena_calloc(req->arena, config->u.object.len + 1, sizeof(char *));
    struct latch_json *g = secret_gen_new();
    if (c->confidential == NULL || g == NULL) {
        if (g != NULL)
            latch_mgmt_gen_free(g);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    size_t nconf = 0;
    latch_json_begin_object(g);
    for (size_t i = 0; i < config->u.object.len; i++) {
        const char *k = config->u.object.keys[i];
        yajl_val v = config->u.object.values[i];
        latch_mgmt_gen_str(g, k);
        bool conf = factory_confidential(factory, k);
        if (conf && (c->confidential[nconf++] = latch_arena_strdup(req->arena, k)) == NULL) {
            latch_mgmt_gen_free(g);
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            return false;
        }
        if (conf && YAJL_IS_STRING(v) && strcmp(v->u.string, SEALED_MASK) == 0) {
            yajl_val old = obj_get(stored, k);
            if (old == NULL) {
                latch_mgmt_gen_free(g);
                char field[160];
                snprintf(field, sizeof(field), "config.%.100s", k);
                latch_mgmt_invalid(req, field, "the masked value can only keep a stored value");
                return false;
            }
            latch_mgmt_gen_value(g, old);
            continue;
        }
        latch_mgmt_gen_value(g, v);
    }
    latch_json_end_object(g);
    c->config_plain = secret_gen_take(g);
    if (c->config_plain == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    return true;
}

/* c->config_plain with its confidential string fields sealed, into c->config_sealed. */
static latch_rc seal_config(struct cx *c, const uint8_t master[32])
{
    uint8_t key[32];
    latch_rc rc = LATCH_FAIL;
    struct latch_json *g = NULL;
    yajl_val tree = yajl_tree_parse(c->config_plain, NULL, 0);
    if (tree == NULL || !YAJL_IS_OBJECT(tree) ||
        latch_jose_derive_key(master, SEAL_PURPOSE, key) != LATCH_OK ||
        (g = latch_mgmt_gen_new()) == NULL)
        goto done;
    latch_json_begin_object(g);
    for (size_t i = 0; i < tree->u.object.len; i++) {
        const char *k = tree->u.object.keys[i];
        yajl_val v = tree->u.object.values[i];
        bool conf = false;
        for (char **ck = c->confidential; ck && *ck && !conf; ck++)
            conf = strcmp(*ck, k) == 0;
        latch_mgmt_gen_str(g, k);
        char aad[512];
        if (conf && YAJL_IS_STRING(v)) {
            if (!seal_aad(aad, sizeof(aad), c->req->tenant->id, c->id, k) ||
                !gen_sealed(g, key, aad, SEALED_KEY, v->u.string))
                goto done;
        } else if (conf && !YAJL_IS_NULL(v)) {
            /* An object (SMTP's auth {user, pass}), a number or a boolean: its JSON text. */
            struct latch_json *vg = secret_gen_new();
            char *text = NULL;
            if (vg != NULL) {
                latch_mgmt_gen_value(vg, v);
                text = secret_gen_take(vg);
            }
            bool sealed = text != NULL &&
                          seal_aad(aad, sizeof(aad), c->req->tenant->id, c->id, k) &&
                          gen_sealed(g, key, aad, SEALED_JSON_KEY, text);
            latch_mgmt_connector_config_free(text);
            if (!sealed)
                goto done;
        } else {
            latch_mgmt_gen_value(g, v);
        }
    }
    latch_json_end_object(g);
    if ((c->config_sealed = latch_json_take(g, NULL)) == NULL)
        goto done;
    rc = LATCH_OK;
done:
    if (g != NULL)
        latch_mgmt_gen_free(g);
    explicit_bzero(key, sizeof(key));
    secret_tree_free(tree);
    return rc;
}

static void write_done(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct cx *c = arg;
    struct latch_request *req = c->req;
    bool insert = c->old_config == NULL && req->method == LATCH_HTTP_POST;
    bool replacing = insert && n == 2;
    if (err != NULL) {
        if (replacing)
            latch_mgmt_store_error(req, err, "connector.id_already_exists",
                                   "A connector with this ID already exists, or another connector "
                                   "of this type was created at the same time; try again.");
        else
            latch_mgmt_store_error(req, err, "connector.id_already_exists",
                                   "A connector with this ID already exists.");
        return;
    }
    const struct latch_store_result *res = results[n - 1];
    if (latch_store_result_rows(res) < 1) {
        if (insert)
            latch_http_respond_errorf(req, 422, "connector.multiple_instances_not_supported",
                                      "Multiple instances are not supported for this "
                                      "connector.");
        else if (c->old_config != NULL)
            latch_http_respond_errorf(req, 409, "entity.unique_integrity_violation",
                                      "The connector changed meanwhile; try again.");
        else
            latch_mgmt_not_found(req, CONNECTOR_ENTITY, c->id);
        return;
    }
    latch_http_log(req, LATCH_LOG_INFO, "connector %s (%s) %s", c->id,
                   c->factory_id ? c->factory_id : "-", insert ? "created" : "updated");
    for (int i = 0; replacing && i < latch_store_result_rows(results[0]); i++)
        latch_http_log(req, LATCH_LOG_INFO,
                       "connector %s deleted: replaced by %s (one %s "
                       "connector per tenant)",
                       latch_store_result_value(results[0], i, 0), c->id, c->type);
    respond_connectors(req, res, 200, false);
}

static void write_row(struct cx *c)
{
    struct latch_request *req = c->req;
    struct latch_store_op ops[2];
    int nops = 0;
    memset(ops, 0, sizeof(ops));
    if (req->method == LATCH_HTTP_POST) {
        if (strcmp(c->type, "Social") != 0)
            ops[nops++] = (struct latch_store_op){
                .stmt = &replace_stmt, .params = {req->tenant->id, c->type, c->factory_id}};
        struct latch_store_op *op = &ops[nops++];
        op->stmt = &insert_stmt;
        op->params[0] = req->tenant->id;
        op->params[1] = c->id;
        op->params[2] = c->factory_id;
        op->params[3] = c->config_sealed;
        op->params[4] = c->metadata_json;
        op->params[5] = c->sync_profile;
        op->params[6] = c->standard ? "true" : "false";
        op->params[7] = c->type;
    } else {
        struct latch_store_op *op = &ops[nops++];
        op->stmt = &update_stmt;
        op->params[0] = req->tenant->id;
        op->params[1] = c->id;
        op->params[2] = c->config_sealed;
        op->params[3] = c->metadata_json;
        op->params[4] = c->sync_profile;
        op->params[5] = c->config_given ? c->old_config : NULL;
    }
    /* The params are copied when the statements are sent. */
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, ops, nops, write_done, c);
    cx_clear(c);
}

static void validate_work(void *arg)
{
    struct cx *c = arg;
    c->rc = latch_plugin_validate_config(c->plugin, c->config_plain, &c->err);
}

static void validate_done(void *arg)
{
    struct cx *c = arg;
    struct latch_request *req = c->req;
    if (c->rc != LATCH_OK) {
        latch_http_respond_errorf(req, 400, "connector.invalid_config", "%s",
                                  c->err.message[0] ? c->err.message
                                                    : "The connector's config is invalid.");
        cx_clear(c);
        return;
    }
    if (seal_config(c, latch_loop_config(req->loop)->secret_key) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        cx_clear(c);
        return;
    }
    write_row(c);
}

/* Validates (worker pool) then writes; or writes at once when the config did not change. */
static void validate_then_write(struct cx *c)
{
    if (!c->config_given) {
        write_row(c);
        return;
    }
    struct latch_error err;
    if (latch_http_submit(c->req, LATCH_LANE_IO, validate_work, validate_done, c, &err) !=
        LATCH_OK) {
        latch_http_respond_error(c->req, &err);
        cx_clear(c);
    }
}

/* metadata: {target?, name?, logo?, logoDark?} as given (strings or i18n objects). */
static bool read_common(struct cx *c, yajl_val body)
{
    struct latch_request *req = c->req;
    struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
    yajl_val meta = latch_mgmt_member(&o, "metadata");
    if (meta != NULL && !YAJL_IS_NULL(meta)) {
        if (!YAJL_IS_OBJECT(meta)) {
            latch_mgmt_invalid(req, "metadata", "must be an object");
            return false;
        }
        struct latch_json *g = latch_mgmt_gen_new();
        if (g == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            return false;
        }
        latch_mgmt_gen_value(g, meta);
        if ((c->metadata_json = latch_mgmt_gen_take(req, g)) == NULL) {
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            return false;
        }
    }
    int sync = -1;
    if (!latch_mgmt_get_bool(&o, "syncProfile", 0, &sync))
        return false;
    c->sync_profile = sync < 0 ? NULL : sync ? "true" : "false";
    return true;
}

static void create_connector(struct latch_request *req, void *arg)
{
    struct cx *c = cx_new(req);
    if (c == NULL)
        return;
    yajl_val factory = NULL;
    yajl_val body = latch_mgmt_body(req);
    if (body == NULL)
        return;
    if (req->body != NULL) /* the tree has its own copy of the secrets */
        explicit_bzero((char *)req->body, req->body_len);
    struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
    const char *fid = NULL, *id = NULL;
    if (!latch_mgmt_get_str(&o, "connectorId", 1, CONNECTOR_ID_MAX, LATCH_MGMT_REQUIRED, &fid,
                            NULL) ||
        !latch_mgmt_get_str(&o, "id", 1, CONNECTOR_ID_MAX, LATCH_MGMT_NO_SPACE, &id, NULL) ||
        !read_common(c, body))
        goto fail;
    if (id != NULL && strspn(id, "0123456789abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ_-.") != strlen(id)) {
        latch_mgmt_invalid(req, "id", "may contain only letters, digits, '_', '-' and '.'");
        goto fail;
    }
    yajl_val config = latch_mgmt_member(&o, "config");
    if (config == NULL || !YAJL_IS_OBJECT(config)) {
        latch_mgmt_invalid(req, "config", "must be an object");
        goto fail;
    }
    c->factory_id = fid;
    c->plugin = latch_plugin_get(fid);
    c->type = c->plugin ? latch_plugin_kind_type(latch_plugin_info(c->plugin)->kind) : NULL;
    if (c->type == NULL) {
        latch_http_respond_errorf(req, 422, "connector.not_found_with_connector_id",
                                  "Can not find connector with given standard connector id.");
        goto fail;
    }
    factory = factory_tree(c->plugin);
    if (factory == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        goto fail;
    }
    c->standard = factory_standard(factory);
    if (id == NULL) {
        char *gen = latch_arena_alloc(req->arena, GENERATED_ID_LEN + 1);
        if (gen == NULL || latch_jose_random_id(gen, GENERATED_ID_LEN) != LATCH_OK) {
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            goto fail;
        }
        id = gen;
    }
    c->id = id;
    c->config_given = true;
    if (!build_plain(c, config, factory, NULL))
        goto fail;
    yajl_tree_free(factory);
    secret_tree_free(body);
    validate_then_write(c);
    return;
fail:
    yajl_tree_free(factory);
    secret_tree_free(body);
    cx_clear(c);
}

/* PATCH: the stored row first (the factory, and the sealed values "********" keeps). */
struct patch {
    struct cx *c;
    yajl_val body;
};

static void patch_loaded(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct patch *pt = arg;
    struct cx *c = pt->c;
    struct latch_request *req = c->req;
    yajl_val factory = NULL, stored = NULL;
    char *opened = NULL;
    if (err != NULL) {
        latch_mgmt_store_error(req, err, NULL, NULL);
        goto fail;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) < 1) {
        latch_mgmt_not_found(req, CONNECTOR_ENTITY, c->id);
        goto fail;
    }
    c->factory_id = latch_arena_strdup(req->arena, latch_store_result_value(res, 0, 1));
    c->old_config = latch_arena_strdup(req->arena, latch_store_result_value(res, 0, 2));
    if (c->factory_id == NULL || c->old_config == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        goto fail;
    }
    /* Logto: only a social connector syncs a profile. */
    if (c->sync_profile != NULL && strcmp(c->sync_profile, "true") == 0 &&
        strcmp(latch_store_result_value(res, 0, 3), "Social") != 0) {
        latch_http_respond_errorf(req, 422, "connector.invalid_type_for_syncing_profile",
                                  "Only a social connector can sync the user profile.");
        goto fail;
    }
    struct latch_mgmt_obj o = {.req = req, .val = pt->body, .path = ""};
    yajl_val config = latch_mgmt_member(&o, "config");
    if (config != NULL && !YAJL_IS_NULL(config)) {
        if (!YAJL_IS_OBJECT(config)) {
            latch_mgmt_invalid(req, "config", "must be an object");
            goto fail;
        }
        c->plugin = latch_plugin_get(c->factory_id);
        if (c->plugin == NULL) {
            latch_http_respond_errorf(req, 422, "connector.not_found_with_connector_id",
                                      "Can not find connector with given standard connector "
                                      "id.");
            goto fail;
        }
        if ((factory = factory_tree(c->plugin)) == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            goto fail;
        }
        opened = latch_mgmt_connector_config_open(latch_loop_config(req->loop)->secret_key,
                                                  req->tenant->id, c->id, c->old_config);
        stored = opened ? yajl_tree_parse(opened, NULL, 0) : NULL;
        if (stored == NULL) {
            latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
            goto fail;
        }
        c->config_given = true;
        if (!build_plain(c, config, factory, stored))
            goto fail;
    }
    yajl_tree_free(factory);
    secret_tree_free(stored);
    latch_mgmt_connector_config_free(opened);
    secret_tree_free(pt->body);
    validate_then_write(c);
    return;
fail:
    yajl_tree_free(factory);
    secret_tree_free(stored);
    latch_mgmt_connector_config_free(opened);
    secret_tree_free(pt->body);
    cx_clear(c);
}

static void patch_connector(struct latch_request *req, void *arg)
{
    struct cx *c = cx_new(req);
    if (c == NULL || (c->id = param_connector_id(req, "id", CONNECTOR_ENTITY)) == NULL)
        return;
    struct patch *pt = latch_arena_calloc(req->arena, 1, sizeof(*pt));
    if (pt == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    pt->c = c;
    pt->body = latch_mgmt_body(req);
    if (pt->body == NULL)
        return;
    if (req->body != NULL)
        explicit_bzero((char *)req->body, req->body_len);
    if (!read_common(c, pt->body)) {
        secret_tree_free(pt->body);
        return;
    }
    struct latch_store_op op = {.stmt = &get_stmt, .params = {req->tenant->id, c->id}};
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, patch_loaded, pt);
}

/* ---- POST /api/connectors/:factoryId/test ---- */

/* Test sends a tenant may make a minute on one node. Each is a real message to an address the
 * administrator typed, with a config that need not be stored: without a bound the endpoint
 * would be a way to send mail or SMS in bulk through any configured provider. */
#define TEST_SENDS_PER_MINUTE 10
/* Logto's test message: the Generic template with this code. */
#define TEST_CODE "000000"

struct test_call {
    struct latch_request *req;
    const char *factory_id;
    struct latch_plugin *plugin;
    char *config; /* plaintext JSON (malloc'd; wiped) */
    struct latch_messages_send m;
    struct latch_messages_var code;
    struct latch_plugin_call call;
    struct latch_error err;
    latch_rc rc;
};

static void test_clear(struct test_call *t)
{
    if (t->plugin != NULL)
        latch_plugin_unref(t->plugin);
    t->plugin = NULL;
    latch_mgmt_connector_config_free(t->config);
    t->config = NULL;
}

static void test_work(void *arg)
{
    struct test_call *t = arg;
    t->rc = latch_plugin_validate_config(t->plugin, t->config, &t->err);
    if (t->rc != LATCH_OK)
        return;
    t->call.config_json = t->config;
    t->rc = latch_messages_deliver(t->plugin, &t->call, &t->m, NULL, t->req->client_ip, &t->err);
}

static void test_done(void *arg)
{
    struct test_call *t = arg;
    struct latch_request *req = t->req;
    if (t->rc != LATCH_OK) {
        latch_http_log(req, LATCH_LOG_WARN, "connector factory %s: test message failed: %s %s",
                       t->factory_id, t->err.code, t->call.error_detail);
        if (t->err.status == 0)
            latch_error_set(&t->err, 400, "connector.invalid_config",
                            "The connector's config is invalid.");
        latch_messages_respond_error(req, &t->err);
    } else {
        latch_http_log(req, LATCH_LOG_INFO, "connector factory %s: test message sent",
                       t->factory_id);
        latch_http_respond(req, 204, NULL, NULL, 0);
    }
    test_clear(t);
}

/* The body's config as plaintext JSON text into t->config; answers 400 when it is no object. */
static bool test_config(struct test_call *t, struct latch_mgmt_obj *o)
{
    yajl_val config = latch_mgmt_member(o, "config");
    if (config == NULL || !YAJL_IS_OBJECT(config)) {
        latch_mgmt_invalid(t->req, "config", "must be an object");
        return false;
    }
    if (config->u.object.len > CONFIG_KEYS_MAX) {
        latch_mgmt_invalid(t->req, "config", "has too many members");
        return false;
    }
    struct latch_json *g = secret_gen_new();
    if (g != NULL) {
        latch_mgmt_gen_value(g, config);
        t->config = secret_gen_take(g);
    }
    if (t->config == NULL) {
        latch_http_respond_errorf(t->req, 503, "service_unavailable", "Out of memory.");
        return false;
    }
    return true;
}

/* The recipient and the factory (of the recipient's kind); answers the error itself. */
static bool test_target(struct test_call *t, struct latch_mgmt_obj *o)
{
    struct latch_request *req = t->req;
    const char *email = NULL, *phone = NULL, *locale = NULL;
    if (!latch_mgmt_get_str(o, "email", 1, LATCH_MESSAGES_TO_MAX, LATCH_MGMT_NO_SPACE, &email,
                            NULL) ||
        !latch_mgmt_get_str(o, "phone", 1, 32, LATCH_MGMT_NO_SPACE, &phone, NULL) ||
        !latch_mgmt_get_str(o, "locale", 1, LATCH_MESSAGES_LOCALE_MAX, LATCH_MGMT_NO_SPACE, &locale,
                            NULL))
        return false;
    if (email == NULL && phone == NULL) {
        latch_mgmt_invalid(req, "email", "an email address or a phone number is required");
        return false;
    }
    /* Logto: the phone when both are given. */
    enum latch_messages_channel want = phone != NULL ? LATCH_MESSAGES_SMS : LATCH_MESSAGES_EMAIL;
    const char *want_name = want == LATCH_MESSAGES_SMS ? "Sms" : "Email";
    t->plugin = latch_plugin_get(t->factory_id);
    enum latch_messages_channel have =
        t->plugin ? latch_messages_kind_channel(latch_plugin_info(t->plugin)->kind) : 0;
    if (have == 0) {
        latch_http_respond_errorf(req, 404, "connector.not_found",
                                  "No %s connector factory `%s` is loaded on this server.",
                                  want_name, t->factory_id);
        return false;
    }
    if (have != want) {
        latch_http_respond_errorf(req, 400, "connector.unexpected_type",
                                  "The connector factory `%s` sends %s messages: test it with %s.",
                                  t->factory_id, want == LATCH_MESSAGES_SMS ? "email" : "SMS",
                                  want == LATCH_MESSAGES_SMS ? "an email address"
                                                             : "a phone number");
        return false;
    }
    t->code = (struct latch_messages_var){.name = "code", .value = TEST_CODE};
    t->m = (struct latch_messages_send){.channel = want,
                                        .type = LATCH_MESSAGES_TEMPLATE_GENERIC,
                                        .to = want == LATCH_MESSAGES_SMS ? phone : email,
                                        .locale = locale,
                                        .vars = &t->code,
                                        .nvars = 1};
    struct latch_error err;
    if (latch_messages_check(&t->m, &err) != LATCH_OK) {
        latch_http_respond_error(req, &err);
        return false;
    }
    return true;
}

/* Whether the tenant may send another test message now; answers 429 if not. */
static bool test_allowed(struct latch_request *req)
{
    char key[96], retry_after[16];
    int retry = 0;
    snprintf(key, sizeof(key), "conntest:%s", req->tenant->id);
    if (latch_ratelimit_allow_per_minute(TEST_SENDS_PER_MINUTE, key, &retry)) {
        latch_ratelimit_fail_per_minute(TEST_SENDS_PER_MINUTE, key); /* every send counts */
        return true;
    }
    snprintf(retry_after, sizeof(retry_after), "%d", retry);
    latch_http_add_header(req, "Retry-After", retry_after);
    latch_http_respond_errorf(req, 429, "guard.too_many_requests",
                              "Too many test messages from this tenant (at most %d a minute); "
                              "try again in %d seconds.",
                              TEST_SENDS_PER_MINUTE, retry);
    return false;
}

static void test_connector(struct latch_request *req, void *arg)
{
    struct test_call *t = latch_arena_calloc(req->arena, 1, sizeof(*t));
    if (t == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    t->req = req;
    if ((t->factory_id = param_connector_id(req, "factoryId", "connector factory")) == NULL)
        return;
    yajl_val body = latch_mgmt_body(req);
    if (body == NULL)
        return;
    if (req->body != NULL) /* the tree has its own copy of the secrets */
        explicit_bzero((char *)req->body, req->body_len);
    struct latch_mgmt_obj o = {.req = req, .val = body, .path = ""};
    bool ok = test_target(t, &o) && test_config(t, &o) && test_allowed(req);
    secret_tree_free(body);
    struct latch_error err;
    if (!ok) {
        test_clear(t);
        return;
    }
    t->call.request_id = req->request_id;
    t->call.tenant = req->tenant->id;
    if (latch_http_submit(req, LATCH_LANE_IO, test_work, test_done, t, &err) != LATCH_OK) {
        latch_http_respond_error(req, &err);
        test_clear(t);
    }
}

latch_rc latch_mgmt_connectors_register(struct latch_server *srv)
{
    if (latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/connector-factories", list_factories) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/connector-factories/:id", get_factory) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/connectors", list_connectors) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_POST, "/api/connectors", create_connector) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_GET, "/api/connectors/:id", get_connector) != LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_PATCH, "/api/connectors/:id", patch_connector) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_DELETE, "/api/connectors/:id", delete_connector) !=
            LATCH_OK ||
        latch_mgmt_route(srv, LATCH_HTTP_POST, "/api/connectors/:factoryId/test", test_connector) !=
            LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
