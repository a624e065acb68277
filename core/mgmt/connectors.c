/*
 * Management API: social connectors, in Logto's shapes.
 *
 *   GET  /api/connector-factories[/:id]   what the node has loaded (plugin/ registry)
 *   GET  /api/connectors                   the tenant's connector instances
 *   POST /api/connectors                   {connectorId, config, metadata?, id?, syncProfile?}
 *   GET, PATCH, DELETE /api/connectors/:id
 *
 * A connector's config is validated by its factory (schema and validate_config op) on the worker
 * pool, since a connector op may block. Confidential fields (the factory's formItems with
 * isConfidential) are sealed before they reach PostgreSQL: each becomes
 * {"$sealed": "<base64url of iv || ciphertext || tag>"} (AES-256-GCM under a key derived from
 * LATCH_SECRET_KEY, bound to tenant, connector and field), or for a Json field (an SMTP
 * connector's auth {user, pass}) {"$sealedJson": ...} over the value's JSON text, and answers
 * show them as "********".
 * A PATCH that sends "********" back for a confidential field keeps the stored value.
 *
 * The connector JSON is the row's (id, tenantId, connectorId, config, metadata, syncProfile,
 * createdAt) over the factory's metadata (target, name, logo, formItems, …), type "Social" and
 * platform "Universal", as Logto's ConnectorResponse. Factory lookups only read the registry;
 * they do not call into a connector, so they run on the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "util/base64.h"
#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "plugin/plugin.h"
#include "tenants/tenants.h"
#include "util/log.h"

#define CONNECTOR_ID_MAX 128
#define CONFIG_KEYS_MAX  64
#define SEALED_MASK      "********"
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
    " 'object' AND (e.value ? '$sealed' OR e.value ? '$sealedJson') THEN"                       \
    " '\"" SEALED_MASK "\"'::jsonb ELSE e.value END)"                                               \
    " FROM jsonb_each(" c ".config) AS e), '{}'::jsonb),"                                          \
    " 'metadata', " c ".metadata, 'syncProfile', " c ".sync_profile,"                              \
    " 'createdAt', " LATCH_MGMT_SQL_MS(c ".created_at") ")::text"

static const struct latch_stmt list_stmt = {
    .name = "mgmt_connectors_list",
    .sql = "SELECT " CONNECTOR_ROW_JSON("c") " FROM connectors c WHERE c.tenant_id = $1"
           " ORDER BY c.created_at, c.id",
    .nparams = 1,
};

static const struct latch_stmt get_stmt = {
    .name = "mgmt_connectors_get",
    .sql = "SELECT " CONNECTOR_ROW_JSON("c") ", c.connector_id, c.config::text"
           " FROM connectors c WHERE c.tenant_id = $1 AND c.id = $2",
    .nparams = 2,
};

/* $7: the factory allows several instances. No row: one exists already. */
static const struct latch_stmt insert_stmt = {
    .name = "mgmt_connectors_insert",
    .sql = "INSERT INTO connectors AS c (tenant_id, id, connector_id, config, metadata,"
           " sync_profile)"
           " SELECT $1::text, $2::text, $3::text, $4::jsonb, coalesce($5::jsonb, '{}'::jsonb),"
           " coalesce($6::boolean, false)"
           " WHERE $7::boolean OR NOT EXISTS (SELECT 1 FROM connectors"
           " WHERE tenant_id = $1::text AND connector_id = $3::text)"
           " RETURNING " CONNECTOR_ROW_JSON("c"),
    .nparams = 7,
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

/* {marker: "<b64url>"} for plain; marker "$sealed" (a string) or "$sealedJson" (JSON text). */
static bool gen_sealed(struct latch_json *g, const uint8_t key[32], const char *aad,
                       const char *plain, const char *marker)
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

/* The sealed text of a {"$sealed": …} or {"$sealedJson": …} value (*json: which), or NULL. */
static yajl_val sealed_member(yajl_val v, bool *json)
{
    if (v == NULL || !YAJL_IS_OBJECT(v) || v->u.object.len != 1 ||
        !YAJL_IS_STRING(v->u.object.values[0]))
        return NULL;
    *json = strcmp(v->u.object.keys[0], "$sealedJson") == 0;
    if (!*json && strcmp(v->u.object.keys[0], "$sealed") != 0)
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
        if (plain == NULL) {
            latch_warn("tenant %s: connector %s: config field %s cannot be opened (wrong "
                       "LATCH_SECRET_KEY or tampered row)",
                       tenant_id, connector_id, k);
            goto done;
        }
        yajl_val value = json ? yajl_tree_parse(plain, NULL, 0) : NULL;
        if (json && value == NULL) {
            latch_mgmt_connector_config_free(plain);
            latch_warn("tenant %s: connector %s: config field %s is not JSON once opened",
                       tenant_id, connector_id, k);
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
    if (latch_plugin_info(p)->kind != 1 /* social */)
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

/* Writes the connector: the factory's metadata (when loaded), then the row over it. */
static void gen_connector(struct latch_json *g, yajl_val row)
{
    yajl_val cid = obj_get(row, "connectorId");
    struct latch_plugin *p = cid && YAJL_IS_STRING(cid) ? latch_plugin_get(cid->u.string) : NULL;
    yajl_val factory = p ? factory_tree(p) : NULL;
    if (p != NULL)
        latch_plugin_unref(p);
    yajl_val meta = obj_get(row, "metadata");
    static const char *const overrides[] = {"target", "name", "logo", "logoDark", NULL};

    latch_json_begin_object(g);
    if (factory != NULL) {
        for (size_t i = 0; i < factory->u.object.len; i++) {
            const char *k = factory->u.object.keys[i];
            if (obj_get(row, k) != NULL || strcmp(k, "type") == 0 || strcmp(k, "platform") == 0)
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
    latch_mgmt_gen_str(g, "type");
    latch_mgmt_gen_str(g, "Social");
    latch_mgmt_gen_str(g, "platform");
    latch_mgmt_gen_str(g, "Universal");
    latch_json_end_object(g);
    yajl_tree_free(factory);
}

/* Answers rows[0..n) (column 0 each) as one connector or a list. */
static void respond_connectors(struct latch_request *req, const struct latch_store_result *res,
                               int status, bool list)
{
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    int n = latch_store_result_rows(res);
    if (list)
        latch_json_begin_array(g);
    for (int i = 0; i < n && (list || i < 1); i++) {
        yajl_val row = yajl_tree_parse(latch_store_result_value(res, i, 0), NULL, 0);
        if (row != NULL && YAJL_IS_OBJECT(row))
            gen_connector(g, row);
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
                !gen_sealed(g, key, aad, v->u.string, "$sealed"))
                goto done;
        } else if (conf && (YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v))) {
            /* A Json field holding a secret (auth {user, pass}): its JSON text, sealed. */
            struct latch_json *t = secret_gen_new();
            if (t != NULL)
                latch_mgmt_gen_value(t, v);
            char *text = t != NULL ? secret_gen_take(t) : NULL;
            bool ok = text != NULL && seal_aad(aad, sizeof(aad), c->req->tenant->id, c->id, k) &&
                      gen_sealed(g, key, aad, text, "$sealedJson");
            latch_mgmt_connector_config_free(text);
            if (!ok)
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
    if (err != NULL) {
        latch_mgmt_store_error(req, err, "connector.id_already_exists",
                               "A connector with this ID already exists.");
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
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
    respond_connectors(req, results[0], 200, false);
}

static void write_row(struct cx *c)
{
    struct latch_request *req = c->req;
    struct latch_store_op op;
    memset(&op, 0, sizeof(op));
    if (req->method == LATCH_HTTP_POST) {
        op.stmt = &insert_stmt;
        op.params[0] = req->tenant->id;
        op.params[1] = c->id;
        op.params[2] = c->factory_id;
        op.params[3] = c->config_sealed;
        op.params[4] = c->metadata_json;
        op.params[5] = c->sync_profile;
        op.params[6] = c->standard ? "true" : "false";
    } else {
        op.stmt = &update_stmt;
        op.params[0] = req->tenant->id;
        op.params[1] = c->id;
        op.params[2] = c->config_sealed;
        op.params[3] = c->metadata_json;
        op.params[4] = c->sync_profile;
        op.params[5] = c->config_given ? c->old_config : NULL;
    }
    /* The params are copied when the statement is sent. */
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, write_done, c);
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
    if (c->plugin == NULL || latch_plugin_info(c->plugin)->kind != 1 /* social */) {
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
            LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
