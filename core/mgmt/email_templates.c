/*
 * Management API: the tenant's email templates, in Logto's paths and shapes
 * (packages/core/src/routes/email-template):
 *
 *   PUT    /api/email-templates                {templates: [{languageTag, templateType, details}]}
 *                                              creates or replaces (by language and type)
 *   GET    /api/email-templates                ?languageTag=&templateType= filters
 *   DELETE /api/email-templates                the same filters, at least one: {rowCount}
 *   GET    /api/email-templates/:id
 *   DELETE /api/email-templates/:id
 *   PATCH  /api/email-templates/:id/details    members given replace the stored ones
 *
 * details = {subject, content, contentType?: "text/html" | "text/plain", replyTo?, sendFrom?}.
 * A template overrides the email connector's own for its language and type when the core sends
 * a message (messages/: the exact locale, its language, the fallback language, then Generic).
 * Members of details other than these are dropped, as Logto's guard does; every text is bounded.
 */
#include <stdio.h>
#include <string.h>

#include "jose/secret.h"
#include "messages/messages.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"

#define TEMPLATES_MAX       100 /* per PUT: 9 types in a good ten languages */
#define LANGUAGE_TAG_MAX    16  /* the column's size, as Logto's */
#define SUBJECT_MAX         998 /* RFC 5322's line limit */
#define CONTENT_MAX         65536
#define ADDRESS_TEMPLATE_MAX 512
#define TEMPLATE_ENTITY     "email template"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define TEMPLATE_JSON(e)                                                                           \
    "json_build_object('tenantId', " e ".tenant_id, 'id', " e ".id,"                               \
    " 'languageTag', " e ".language_tag, 'templateType', " e ".template_type,"                     \
    " 'details', " e ".details, 'createdAt', " LATCH_MGMT_SQL_MS(e ".created_at") ")"

/* $2 the templates as [{id, languageTag, templateType, details}]; the last one of a language
 * and type wins, as when Logto upserts them one after another. Answers them in the given
 * order. */
static const struct latch_stmt upsert_stmt = {
    .name = "mgmt_email_templates_upsert",
    .sql = "WITH given AS (SELECT DISTINCT ON (t->>'languageTag', t->>'templateType')"
           " t->>'id' AS id, t->>'languageTag' AS language_tag,"
           " t->>'templateType' AS template_type, t->'details' AS details, n"
           " FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS a(t, n)"
           " ORDER BY t->>'languageTag', t->>'templateType', n DESC),"
           " up AS (INSERT INTO email_templates AS e (tenant_id, id, language_tag, template_type,"
           " details) SELECT $1::text, id, language_tag, template_type, details FROM given"
           " ON CONFLICT (tenant_id, language_tag, template_type)"
           " DO UPDATE SET details = excluded.details"
           " RETURNING e.*)"
           " SELECT coalesce(json_agg(" TEMPLATE_JSON("up") " ORDER BY g.n), '[]')::text"
           " FROM up JOIN given g ON g.language_tag = up.language_tag"
           " AND g.template_type = up.template_type",
    .nparams = 2,
};

/* $2 languageTag or NULL, $3 templateType or NULL. */
static const struct latch_stmt list_stmt = {
    .name = "mgmt_email_templates_list",
    .sql = "SELECT coalesce(json_agg(" TEMPLATE_JSON("e")
           " ORDER BY e.language_tag, e.template_type), '[]')::text"
           " FROM email_templates e WHERE e.tenant_id = $1"
           " AND ($2::text IS NULL OR e.language_tag = $2::text)"
           " AND ($3::text IS NULL OR e.template_type = $3::text)",
    .nparams = 3,
};

static const struct latch_stmt delete_many_stmt = {
    .name = "mgmt_email_templates_delete_many",
    .sql = "WITH d AS (DELETE FROM email_templates WHERE tenant_id = $1"
           " AND ($2::text IS NULL OR language_tag = $2::text)"
           " AND ($3::text IS NULL OR template_type = $3::text) RETURNING 1)"
           " SELECT json_build_object('rowCount', count(*))::text FROM d",
    .nparams = 3,
};

static const struct latch_stmt get_stmt = {
    .name = "mgmt_email_templates_get",
    .sql = "SELECT " TEMPLATE_JSON("e") "::text FROM email_templates e"
           " WHERE e.tenant_id = $1 AND e.id = $2",
    .nparams = 2,
};

static const struct latch_stmt delete_stmt = {
    .name = "mgmt_email_templates_delete",
    .sql = "DELETE FROM email_templates WHERE tenant_id = $1 AND id = $2 RETURNING NULL",
    .nparams = 2,
};

/* $3 the details members to replace (a JSON object). */
static const struct latch_stmt patch_stmt = {
    .name = "mgmt_email_templates_patch",
    .sql = "UPDATE email_templates e SET details = e.details || $3::jsonb"
           " WHERE e.tenant_id = $1 AND e.id = $2 RETURNING " TEMPLATE_JSON("e") "::text",
    .nparams = 3,
};
// clang-format on

/* ---- reading ---- */

static bool language_tag_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= LANGUAGE_TAG_MAX &&
           strspn(s, "-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* Writes the details members o holds (all required when full) into g; answers 400 naming the
 * field when one is invalid. */
static bool read_details(struct latch_mgmt_obj *o, bool full, struct latch_json *g)
{
    static const struct {
        const char *key;
        int max;
        bool required;
        unsigned flags;
    } fields[] = {
        {"subject", SUBJECT_MAX, true, 0},
        {"content", CONTENT_MAX, true, LATCH_MGMT_MULTILINE},
        {"contentType", 16, false, LATCH_MGMT_NO_SPACE},
        {"replyTo", ADDRESS_TEMPLATE_MAX, false, 0},
        {"sendFrom", ADDRESS_TEMPLATE_MAX, false, 0},
    };
    latch_json_begin_object(g);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *v = NULL;
        unsigned flags = fields[i].flags | (full && fields[i].required ? LATCH_MGMT_REQUIRED : 0);
        if (!latch_mgmt_get_str(o, fields[i].key, fields[i].required ? 1 : 0, fields[i].max, flags,
                                &v, NULL))
            return false;
        if (v == NULL)
            continue;
        if (strcmp(fields[i].key, "contentType") == 0 && strcmp(v, "text/html") != 0 &&
            strcmp(v, "text/plain") != 0) {
            latch_mgmt_invalid_member(o, "contentType", "must be \"text/html\" or \"text/plain\"");
            return false;
        }
        latch_mgmt_gen_str(g, fields[i].key);
        latch_mgmt_gen_str(g, v);
    }
    latch_json_end_object(g);
    return true;
}

/* One element of PUT's templates, written with a new id into g. */
static bool read_template(struct latch_request *req, yajl_val item, size_t index,
                          struct latch_json *g)
{
    char path[32];
    snprintf(path, sizeof(path), "templates[%zu]", index);
    if (!YAJL_IS_OBJECT(item)) {
        latch_mgmt_invalid(req, path, "must be an object");
        return false;
    }
    struct latch_mgmt_obj o = {.req = req, .val = item, .path = path}, details;
    const char *tag = NULL, *type = NULL;
    if (!latch_mgmt_get_str(&o, "languageTag", 1, LANGUAGE_TAG_MAX,
                            LATCH_MGMT_REQUIRED | LATCH_MGMT_NO_SPACE, &tag, NULL) ||
        !latch_mgmt_get_str(&o, "templateType", 1, 64, LATCH_MGMT_REQUIRED | LATCH_MGMT_NO_SPACE,
                            &type, NULL) ||
        !latch_mgmt_get_obj(&o, "details", LATCH_MGMT_REQUIRED, &details))
        return false;
    if (!language_tag_ok(tag)) {
        latch_mgmt_invalid_member(&o, "languageTag", "must be a language tag such as en or zh-CN");
        return false;
    }
    if (latch_messages_template_type(type) == 0) {
        latch_mgmt_invalid_member(&o, "templateType", "is not a known template type");
        return false;
    }
    char id[LATCH_MGMT_ID_LEN + 1];
    if (latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return false;
    }
    latch_json_begin_object(g);
    latch_mgmt_gen_str(g, "id");
    latch_mgmt_gen_str(g, id);
    latch_mgmt_gen_str(g, "languageTag");
    latch_mgmt_gen_str(g, tag);
    latch_mgmt_gen_str(g, "templateType");
    latch_mgmt_gen_str(g, type);
    latch_mgmt_gen_str(g, "details");
    if (!read_details(&details, true, g))
        return false;
    latch_json_end_object(g);
    return true;
}

/* The languageTag and templateType filters of GET and DELETE; answers 400 when invalid. */
static bool read_filters(struct latch_request *req, const char **tag, const char **type)
{
    *tag = latch_mgmt_query(req, "languageTag");
    *type = latch_mgmt_query(req, "templateType");
    if (*tag != NULL && !language_tag_ok(*tag)) {
        latch_mgmt_invalid(req, "languageTag", "must be a language tag such as en or zh-CN");
        return false;
    }
    if (*type != NULL && latch_messages_template_type(*type) == 0) {
        latch_mgmt_invalid(req, "templateType", "is not a known template type");
        return false;
    }
    return true;
}

/* ---- handlers ---- */

static void run(struct latch_request *req, const struct latch_store_op *op, const char *id,
                int status)
{
    struct latch_mgmt_reply reply = {.status = status, .entity = TEMPLATE_ENTITY, .id = id};
    latch_mgmt_run(req, op, 1, &reply);
}

static void put_templates(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    yajl_val list = latch_mgmt_member(&body, "templates");
    struct latch_json *g = NULL;
    const char *json = NULL;
    if (list == NULL || !YAJL_IS_ARRAY(list) || list->u.array.len < 1) {
        latch_mgmt_invalid(req, "templates", "must be an array of at least one template");
        goto done;
    }
    if (list->u.array.len > TEMPLATES_MAX) {
        char problem[64];
        snprintf(problem, sizeof(problem), "must hold at most %d templates", TEMPLATES_MAX);
        latch_mgmt_invalid(req, "templates", problem);
        goto done;
    }
    if ((g = latch_mgmt_gen_new()) == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        goto done;
    }
    latch_json_begin_array(g);
    for (size_t i = 0; i < list->u.array.len; i++)
        if (!read_template(req, list->u.array.values[i], i, g))
            goto done;
    latch_json_end_array(g);
    json = latch_mgmt_gen_take(req, g);
    g = NULL;
    if (json == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        goto done;
    }
    struct latch_store_op op = {&upsert_stmt, {req->tenant->id, json}};
    run(req, &op, NULL, 200);
done:
    latch_mgmt_gen_free(g);
    yajl_tree_free(tree);
}

static void list_templates(struct latch_request *req, void *arg)
{
    const char *tag, *type;
    if (!read_filters(req, &tag, &type))
        return;
    struct latch_store_op op = {&list_stmt, {req->tenant->id, tag, type}};
    run(req, &op, NULL, 200);
}

static void delete_templates(struct latch_request *req, void *arg)
{
    const char *tag, *type;
    if (!read_filters(req, &tag, &type))
        return;
    if (tag == NULL && type == NULL) {
        latch_http_respond_errorf(req, 422, "connector.email_connector.bulk_deletion_no_filter",
                                  "At least one of languageTag and templateType is required to "
                                  "delete email templates in bulk.");
        return;
    }
    struct latch_store_op op = {&delete_many_stmt, {req->tenant->id, tag, type}};
    run(req, &op, NULL, 200);
}

static void patch_details(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", TEMPLATE_ENTITY);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    struct latch_json *g = latch_mgmt_gen_new();
    const char *json = NULL;
    if (g == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
    } else if (read_details(&body, false, g)) {
        json = latch_mgmt_gen_take(req, g);
        g = NULL;
        if (json == NULL)
            latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
    }
    latch_mgmt_gen_free(g);
    yajl_tree_free(tree);
    if (json == NULL)
        return;
    struct latch_store_op op = {&patch_stmt, {req->tenant->id, id, json}};
    run(req, &op, id, 200);
}

static const struct latch_mgmt_by_id get_call = {&get_stmt, "id", TEMPLATE_ENTITY, 200, NULL};
static const struct latch_mgmt_by_id delete_call = {&delete_stmt, "id", TEMPLATE_ENTITY, 204,
                                                    NULL};

latch_rc latch_mgmt_email_templates_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_PUT, "/api/email-templates", put_templates, NULL},
        {LATCH_HTTP_GET, "/api/email-templates", list_templates, NULL},
        {LATCH_HTTP_DELETE, "/api/email-templates", delete_templates, NULL},
        {LATCH_HTTP_GET, "/api/email-templates/:id", latch_mgmt_by_id, &get_call},
        {LATCH_HTTP_DELETE, "/api/email-templates/:id", latch_mgmt_by_id, &delete_call},
        {LATCH_HTTP_PATCH, "/api/email-templates/:id/details", patch_details, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
