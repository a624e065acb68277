/*
 * Management API: applications, their client secrets and their roles, in Logto's paths and JSON
 * (/api/applications...). Handlers validate the body, then send their statements in one
 * latch_store_exec() call (one transaction, tenant set for row-level security) through
 * latch_mgmt_run(). Client secrets are generated here, shown once, and stored as an
 * HMAC-SHA-256 under the key of latch_mgmt_secret_hash_key(); the plaintext never reaches
 * PostgreSQL. See docs/management-api.md for every route's shapes and errors.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jose/secret.h"
#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"
#include "util/hex.h"
#include "util/log.h"

#define NAME_MAX_CHARS  256
#define DESC_MAX_CHARS  4096
#define URI_MAX_CHARS   2048
#define URIS_MAX        50
#define SECRET_HINT_LEN 4

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define APP_JSON LATCH_MGMT_SQL_APP_JSON("a")
#define SECRET_JSON                                                                                \
    "json_build_object('tenantId', s.tenant_id, 'applicationId', s.application_id, "              \
    "'name', s.name, 'hint', s.secret_hint, 'createdAt', " LATCH_MGMT_SQL_MS("s.created_at")      \
    ", 'expiresAt', " LATCH_MGMT_SQL_MS("s.expires_at") ")"

/* ---- statements ---- */

static const struct latch_stmt app_list = {
    .name = "mgmt_app_list",
    .sql = "WITH f AS (SELECT a.* FROM applications a WHERE a.tenant_id = $1"
           " AND ($2::json IS NULL OR a.type IN (SELECT json_array_elements_text($2::json)))"
           " AND ($3::text IS NULL OR a.id ILIKE $3 OR a.name ILIKE $3"
           " OR coalesce(a.description, '') ILIKE $3)),"
           " p AS (SELECT " LATCH_MGMT_SQL_APP_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $4::bigint OFFSET $5::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 5,
};

static const struct latch_stmt app_get = {
    .name = "mgmt_app_get",
    .sql = "SELECT " APP_JSON " FROM applications a WHERE a.tenant_id = $1 AND a.id = $2",
    .nparams = 2,
};

static const struct latch_stmt app_insert = {
    .name = "mgmt_app_insert",
    .sql = "INSERT INTO applications AS a (tenant_id, id, name, description, type,"
           " oidc_client_metadata, custom_client_metadata, custom_data, is_third_party)"
           " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9::boolean)"
           " RETURNING " APP_JSON,
    .nparams = 9,
};

static const struct latch_stmt app_default_secret = {
    .name = "mgmt_app_default_secret",
    .sql = "INSERT INTO application_secrets (tenant_id, application_id, name, secret_hash,"
           " secret_hint) VALUES ($1, $2, 'Default secret', decode($3, 'hex'), $4)",
    .nparams = 4,
};

/* $3 name, $4 description (applied when $5), $6/$7/$8 JSON merged into the metadata and custom
 * data, $9 type (must equal the stored one), $10 whether a redirect URI uses a custom scheme. */
static const struct latch_stmt app_update = {
    .name = "mgmt_app_update",
    .sql = "WITH cur AS (SELECT type FROM applications WHERE tenant_id = $1 AND id = $2),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN $9::text IS NOT NULL AND $9::text <> (SELECT type FROM cur) THEN 'type_immutable'"
           " WHEN $10::boolean AND (SELECT type FROM cur) <> 'Native' THEN 'custom_scheme'"
           " END AS problem),"
           " upd AS (UPDATE applications AS a SET name = coalesce($3, a.name),"
           " description = CASE WHEN $5::boolean THEN $4::text ELSE a.description END,"
           " oidc_client_metadata = a.oidc_client_metadata || coalesce($6::jsonb, '{}'),"
           " custom_client_metadata = a.custom_client_metadata || coalesce($7::jsonb, '{}'),"
           " custom_data = a.custom_data || coalesce($8::jsonb, '{}')"
           " WHERE a.tenant_id = $1 AND a.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " APP_JSON " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, (SELECT problem FROM chk)",
    .nparams = 10,
};

static const struct latch_stmt app_delete = {
    .name = "mgmt_app_delete",
    .sql = "DELETE FROM applications WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

static const struct latch_stmt secret_list = {
    .name = "mgmt_app_secret_list",
    .sql = "SELECT (SELECT coalesce(json_agg(" SECRET_JSON " ORDER BY s.created_at, s.name),"
           " '[]'::json) FROM application_secrets s"
           " WHERE s.tenant_id = $1 AND s.application_id = $2)"
           " FROM applications a WHERE a.tenant_id = $1 AND a.id = $2",
    .nparams = 2,
};

/* $3 name, $4 hash (hex), $5 hint, $6 expiry (epoch ms or NULL). */
static const struct latch_stmt secret_insert = {
    .name = "mgmt_app_secret_insert",
    .sql = "WITH app AS (SELECT type FROM applications WHERE tenant_id = $1 AND id = $2),"
           " ins AS (INSERT INTO application_secrets AS s (tenant_id, application_id, name,"
           " secret_hash, secret_hint, expires_at)"
           " SELECT $1, $2, $3, decode($4, 'hex'), $5, to_timestamp($6::bigint / 1000.0)"
           " FROM app WHERE app.type IN ('Traditional', 'MachineToMachine')"
           " RETURNING " SECRET_JSON " AS j)"
           " SELECT (SELECT j FROM ins), NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM app) THEN 'not_found'"
           " WHEN NOT EXISTS (SELECT 1 FROM ins) THEN 'no_secrets' END",
    .nparams = 6,
};

static const struct latch_stmt secret_delete = {
    .name = "mgmt_app_secret_delete",
    .sql = "WITH d AS (DELETE FROM application_secrets WHERE tenant_id = $1"
           " AND application_id = $2 AND name = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'secret_not_found' END,"
           " $3::text",
    .nparams = 3,
};

static const struct latch_stmt secret_rename = {
    .name = "mgmt_app_secret_rename",
    .sql = "WITH u AS (UPDATE application_secrets AS s SET name = $4 WHERE s.tenant_id = $1"
           " AND s.application_id = $2 AND s.name = $3 RETURNING " SECRET_JSON " AS j)"
           " SELECT (SELECT j FROM u), NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM applications WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'secret_not_found' END,"
           " $3::text",
    .nparams = 4,
};

static const struct latch_stmt app_role_list = {
    .name = "mgmt_app_role_list",
    .sql = "WITH app AS (SELECT type FROM applications WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT r.* FROM roles r JOIN applications_roles ar"
           " ON ar.tenant_id = r.tenant_id AND ar.role_id = r.id"
           " WHERE r.tenant_id = $1 AND ar.tenant_id = $1 AND ar.application_id = $2"
           " AND ($5::text IS NULL OR r.id ILIKE $5 OR r.name ILIKE $5 OR r.description ILIKE $5)),"
           " p AS (SELECT " LATCH_MGMT_SQL_ROLE_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM app) THEN 'not_found'"
           " WHEN (SELECT type FROM app) <> 'MachineToMachine' THEN 'app_not_m2m' END",
    .nparams = 5,
};

/* What adding or replacing an application's roles checks first: the application exists and is
 * MachineToMachine, every role in $3 (a JSON array of ids) exists and is MachineToMachine. */
#define APP_ROLES_CHECK                                                                            \
    "WITH app AS (SELECT type FROM applications WHERE tenant_id = $1 AND id = $2),"                \
    " want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($3::json) AS v),"            \
    " found AS (SELECT r.id, r.type FROM roles r JOIN want w ON w.id = r.id"                       \
    " WHERE r.tenant_id = $1),"                                                                    \
    " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM app) THEN 'not_found'"                    \
    " WHEN (SELECT type FROM app) <> 'MachineToMachine' THEN 'app_not_m2m'"                        \
    " WHEN m.id IS NOT NULL THEN 'role_missing'"                                                   \
    " WHEN n.id IS NOT NULL THEN 'role_not_m2m' END AS problem,"                                   \
    " coalesce(m.id, n.id) AS detail FROM (SELECT 1) AS one"                                       \
    " LEFT JOIN LATERAL (SELECT w.id FROM want w WHERE NOT EXISTS"                                 \
    " (SELECT 1 FROM found f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) m ON true"                  \
    " LEFT JOIN LATERAL (SELECT f.id FROM found f WHERE f.type <> 'MachineToMachine'"              \
    " ORDER BY f.id LIMIT 1) n ON true)"

static const struct latch_stmt app_role_add = {
    .name = "mgmt_app_role_add",
    .sql = APP_ROLES_CHECK ","
           " ins AS (INSERT INTO applications_roles (tenant_id, application_id, role_id)"
           " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING role_id)"
           " SELECT json_build_object('roleIds', $3::json, 'addedRoleIds',"
           " (SELECT coalesce(json_agg(role_id ORDER BY role_id), '[]'::json) FROM ins)),"
           " NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt app_role_replace = {
    .name = "mgmt_app_role_replace",
    .sql = APP_ROLES_CHECK ","
           " del AS (DELETE FROM applications_roles ar WHERE ar.tenant_id = $1"
           " AND ar.application_id = $2 AND ar.role_id NOT IN (SELECT id FROM want)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " ins AS (INSERT INTO applications_roles (tenant_id, application_id, role_id)"
           " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt app_role_delete = {
    .name = "mgmt_app_role_delete",
    .sql = "WITH app AS (SELECT type FROM applications WHERE tenant_id = $1 AND id = $2),"
           " d AS (DELETE FROM applications_roles WHERE tenant_id = $1 AND application_id = $2"
           " AND role_id = $3 AND (SELECT type FROM app) = 'MachineToMachine' RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM app) THEN 'not_found'"
           " WHEN (SELECT type FROM app) <> 'MachineToMachine' THEN 'app_not_m2m'"
           " WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'role_not_assigned' END, $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem app_problems[] = {
    {"app_not_m2m", 422, "application.invalid_type",
     "Only machine to machine applications can have associated roles."},
    {"role_missing", 404, "entity.not_exists_with_id", "The role with ID `{}` does not exist."},
    {"role_not_m2m", 422, "application.invalid_role_type",
     "Can not assign user type role to machine to machine application."},
    {"role_not_assigned", 404, "entity.not_found",
     "The role `{}` is not assigned to this application."},
    {"no_secrets", 422, "application.invalid_type",
     "Only Traditional and MachineToMachine applications have secrets."},
    {"secret_not_found", 404, "entity.not_exists", "The application secret `{}` does not exist."},
    {"type_immutable", 400, "guard.invalid_input", "type: cannot be changed"},
    {"custom_scheme", 400, "guard.invalid_input",
     "oidcClientMetadata: custom URI schemes are only allowed for Native applications"},
    {NULL, 0, NULL, NULL},
};

/* ---- validation ---- */

static const char *const app_types[] = {"Traditional", "SPA", "Native", "MachineToMachine", NULL};

static bool valid_type(const char *t)
{
    for (const char *const *p = app_types; *p; p++)
        if (strcmp(*p, t) == 0)
            return true;
    return false;
}

static bool is_confidential(const char *type)
{
    return strcmp(type, "Traditional") == 0 || strcmp(type, "MachineToMachine") == 0;
}

/* Length of a URI scheme at the start of s (letters, digits, "+-.", starting with a letter),
 * 0 when s does not start with "<scheme>:". */
static size_t scheme_len(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return s[i] == ':' ? i : 0;
}

/* The host of "//authority..." after the scheme, without userinfo and port, in out. */
static bool authority_host(const char *rest, char *out, size_t cap)
{
    if (strncmp(rest, "//", 2) != 0)
        return false;
    const char *a = rest + 2;
    size_t alen = strcspn(a, "/?#");
    const char *at = memchr(a, '@', alen);
    if (at != NULL) {
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    size_t hlen;
    if (a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (close == NULL)
            return false;
        hlen = (size_t)(close + 1 - a);
    } else {
        const char *colon = memchr(a, ':', alen);
        hlen = colon ? (size_t)(colon - a) : alen;
    }
    if (hlen == 0 || hlen >= cap)
        return false;
    memcpy(out, a, hlen);
    out[hlen] = '\0';
    return true;
}

static bool is_loopback(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0 ||
           strcmp(host, "[::1]") == 0;
}

/* Checks a redirect URI; returns the problem or NULL. *custom is set when it uses a custom
 * (private-use) scheme, which only Native applications may use. */
static const char *check_redirect_uri(const char *uri, bool *custom)
{
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return "must not contain whitespace or control characters";
    if (strchr(uri, '#') != NULL)
        return "must not contain a fragment";
    size_t sl = scheme_len(uri);
    if (sl == 0)
        return "must be an absolute URI";
    char scheme[32];
    if (sl >= sizeof(scheme))
        return "has an unsupported scheme";
    for (size_t i = 0; i < sl; i++)
        scheme[i] = (char)(uri[i] >= 'A' && uri[i] <= 'Z' ? uri[i] + 32 : uri[i]);
    scheme[sl] = '\0';
    const char *rest = uri + sl + 1;
    char host[256];
    if (strcmp(scheme, "https") == 0) {
        if (!authority_host(rest, host, sizeof(host)))
            return "must have a host";
        return NULL;
    }
    if (strcmp(scheme, "http") == 0) {
        if (!authority_host(rest, host, sizeof(host)))
            return "must have a host";
        if (!is_loopback(host))
            return "may use http only for localhost, 127.0.0.1 or [::1]";
        return NULL;
    }
    static const char *const blocked[] = {"javascript", "data",       "vbscript", "file", "about",
                                          "blob",       "filesystem", "ws",       "wss",  NULL};
    for (const char *const *b = blocked; *b; b++)
        if (strcmp(scheme, *b) == 0)
            return "has a scheme that is not allowed";
    if (rest[0] == '\0')
        return "must not be only a scheme";
    *custom = true;
    return NULL;
}

/* An origin for CORS: http(s)://host[:port], nothing after it. */
static bool valid_origin(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    if (rest[0] == '\0' || rest[strcspn(rest, "/?#@ ")] != '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)rest; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return false;
    return true;
}

/* Writes key: [validated URIs] into g. */
static bool gen_uris(const struct latch_mgmt_obj *o, const char *key, yajl_val arr, bool native,
                     bool *custom, struct latch_json *g)
{
    if (!YAJL_IS_ARRAY(arr) || arr->u.array.len > URIS_MAX) {
        latch_mgmt_invalid_member(o, key, "must be an array of at most 50 URIs");
        return false;
    }
    latch_mgmt_gen_str(g, key);
    latch_json_begin_array(g);
    for (size_t i = 0; i < arr->u.array.len; i++) {
        yajl_val item = arr->u.array.values[i];
        char problem[160];
        long n = YAJL_IS_STRING(item) ? latch_mgmt_utf8_len(item->u.string) : -1;
        if (n < 1 || n > URI_MAX_CHARS) {
            snprintf(problem, sizeof(problem), "item %zu must be a URI of 1 to %d characters", i,
                     URI_MAX_CHARS);
            latch_mgmt_invalid_member(o, key, problem);
            return false;
        }
        bool item_custom = false;
        const char *why = check_redirect_uri(item->u.string, &item_custom);
        if (why == NULL && item_custom && native == false && custom == NULL)
            why = "may use a custom scheme only in Native applications";
        if (why != NULL) {
            snprintf(problem, sizeof(problem), "item %zu %s", i, why);
            latch_mgmt_invalid_member(o, key, problem);
            return false;
        }
        if (item_custom && custom != NULL)
            *custom = true;
        latch_mgmt_gen_str(g, item->u.string);
    }
    latch_json_end_array(g);
    return true;
}

/* oidcClientMetadata → JSON text. create: both arrays, [] when absent; update: only those given.
 * custom: NULL when the type is known (native tells), else set when a custom scheme is used. */
static bool oidc_metadata(const struct latch_mgmt_obj *body, bool create, bool native, bool *custom,
                          const char **out)
{
    struct latch_mgmt_obj m;
    static const char *const keys[] = {"redirectUris", "postLogoutRedirectUris", NULL};
    *out = NULL;
    if (!latch_mgmt_get_obj(body, "oidcClientMetadata", 0, &m))
        return false;
    if (m.val == NULL && !create)
        return true;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL)
        goto oom;
    latch_json_begin_object(g);
    for (const char *const *k = keys; *k; k++) {
        yajl_val arr = latch_mgmt_member(&m, *k);
        if (arr == NULL || YAJL_IS_NULL(arr)) {
            if (arr != NULL && !create) {
                latch_mgmt_invalid_member(&m, *k, "must be an array of URIs");
                latch_mgmt_gen_free(g);
                return false;
            }
            if (create) {
                latch_mgmt_gen_str(g, *k);
                latch_json_begin_array(g);
                latch_json_end_array(g);
            }
            continue;
        }
        if (!gen_uris(&m, *k, arr, native, custom, g)) {
            latch_mgmt_gen_free(g);
            return false;
        }
    }
    latch_json_end_object(g);
    *out = latch_mgmt_gen_take(body->req, g);
    if (*out == NULL)
        goto oom;
    return true;
oom:
    latch_http_respond_errorf(body->req, 500, "server_error", "Out of memory.");
    return false;
}

/* customClientMetadata → JSON text with the members given (NULL when absent). */
static bool custom_metadata(const struct latch_mgmt_obj *body, const char **out)
{
    struct latch_mgmt_obj m;
    long long ttl, days;
    bool has_ttl, has_days;
    int always, rotate;
    *out = NULL;
    if (!latch_mgmt_get_obj(body, "customClientMetadata", 0, &m))
        return false;
    if (m.val == NULL)
        return true;
    if (!latch_mgmt_get_int(&m, "idTokenTtl", 1, 86400, 0, &ttl, &has_ttl) ||
        !latch_mgmt_get_int(&m, "refreshTokenTtlInDays", 1, 365, 0, &days, &has_days) ||
        !latch_mgmt_get_bool(&m, "alwaysIssueRefreshToken", 0, &always) ||
        !latch_mgmt_get_bool(&m, "rotateRefreshToken", 0, &rotate))
        return false;
    yajl_val origins = latch_mgmt_member(&m, "corsAllowedOrigins");
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL)
        goto oom;
    latch_json_begin_object(g);
    if (origins != NULL) {
        if (!YAJL_IS_ARRAY(origins) || origins->u.array.len > URIS_MAX) {
            latch_mgmt_gen_free(g);
            latch_mgmt_invalid_member(&m, "corsAllowedOrigins",
                                      "must be an array of at most 50 origins");
            return false;
        }
        latch_mgmt_gen_str(g, "corsAllowedOrigins");
        latch_json_begin_array(g);
        for (size_t i = 0; i < origins->u.array.len; i++) {
            yajl_val item = origins->u.array.values[i];
            if (!YAJL_IS_STRING(item) || strlen(item->u.string) > URI_MAX_CHARS ||
                !valid_origin(item->u.string)) {
                char problem[96];
                snprintf(problem, sizeof(problem),
                         "item %zu must be an origin such as https://app.example.com", i);
                latch_mgmt_gen_free(g);
                latch_mgmt_invalid_member(&m, "corsAllowedOrigins", problem);
                return false;
            }
            latch_mgmt_gen_str(g, item->u.string);
        }
        latch_json_end_array(g);
    }
    if (has_ttl) {
        latch_mgmt_gen_str(g, "idTokenTtl");
        latch_json_int(g, ttl);
    }
    if (has_days) {
        latch_mgmt_gen_str(g, "refreshTokenTtlInDays");
        latch_json_int(g, days);
    }
    if (always >= 0) {
        latch_mgmt_gen_str(g, "alwaysIssueRefreshToken");
        latch_json_bool(g, always);
    }
    if (rotate >= 0) {
        latch_mgmt_gen_str(g, "rotateRefreshToken");
        latch_json_bool(g, rotate);
    }
    latch_json_end_object(g);
    *out = latch_mgmt_gen_take(body->req, g);
    if (*out == NULL)
        goto oom;
    return true;
oom:
    latch_http_respond_errorf(body->req, 500, "server_error", "Out of memory.");
    return false;
}

/* customData: any object, stored as given. */
static bool custom_data(const struct latch_mgmt_obj *body, const char **out)
{
    struct latch_mgmt_obj m;
    *out = NULL;
    if (!latch_mgmt_get_obj(body, "customData", 0, &m))
        return false;
    if (m.val == NULL)
        return true;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g != NULL)
        latch_mgmt_gen_value(g, m.val);
    *out = g ? latch_mgmt_gen_take(body->req, g) : NULL;
    if (*out == NULL) {
        latch_http_respond_errorf(body->req, 500, "server_error", "Out of memory.");
        return false;
    }
    return true;
}

struct app_input {
    const char *name;
    const char *description;
    bool description_set;
    const char *type;
    const char *oidc;        /* JSON text or NULL */
    const char *custom;      /* JSON text or NULL */
    const char *custom_data; /* JSON text or NULL */
    int is_third_party;      /* -1 absent */
    bool custom_scheme;      /* update: a redirect URI uses a custom scheme */
};

/* Reads and checks the body of POST (create) or PATCH; answers 400 itself. */
static bool read_app(struct latch_request *req, yajl_val tree, bool create, struct app_input *in)
{
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    memset(in, 0, sizeof(*in));
    unsigned req_flag = create ? LATCH_MGMT_REQUIRED : 0;
    if (!latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, req_flag, &in->name, NULL) ||
        !latch_mgmt_get_str(&body, "type", 1, 32, req_flag, &in->type, NULL) ||
        !latch_mgmt_get_str(&body, "description", 0, DESC_MAX_CHARS, LATCH_MGMT_NULLABLE,
                            &in->description, &in->description_set) ||
        !latch_mgmt_get_bool(&body, "isThirdParty", 0, &in->is_third_party))
        return false;
    if (in->type != NULL && !valid_type(in->type)) {
        latch_mgmt_invalid(req, "type",
                           "must be one of Traditional, SPA, Native, MachineToMachine");
        return false;
    }
    bool native = in->type != NULL && strcmp(in->type, "Native") == 0;
    if (!oidc_metadata(&body, create, native, create ? NULL : &in->custom_scheme, &in->oidc) ||
        !custom_metadata(&body, &in->custom) || !custom_data(&body, &in->custom_data))
        return false;
    if (create && in->is_third_party == 1 && strcmp(in->type, "Traditional") != 0) {
        latch_http_respond_errorf(req, 422, "application.invalid_third_party_application_type",
                                  "Only traditional web applications can be marked as a "
                                  "third-party app.");
        return false;
    }
    return true;
}

/* ---- secrets ---- */

struct new_secret {
    char value[LATCH_CLIENT_SECRET_LEN + 1];
    char hash_hex[LATCH_SECRET_HASH_LEN * 2 + 1];
    char hint[SECRET_HINT_LEN + 1];
};

static bool make_secret(struct latch_request *req, struct new_secret *s)
{
    const uint8_t *key = latch_mgmt_secret_hash_key();
    uint8_t hash[LATCH_SECRET_HASH_LEN];
    if (key == NULL || latch_jose_client_secret_new(s->value) != LATCH_OK ||
        latch_jose_client_secret_hash(key, s->value, strlen(s->value), hash) != LATCH_OK) {
        explicit_bzero(s, sizeof(*s));
        latch_http_log(req, LATCH_LOG_ERROR, "management api: cannot generate a client secret");
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return false;
    }
    (void)latch_hex_encode(hash, sizeof(hash), s->hash_hex, sizeof(s->hash_hex)); /* sized */
    memcpy(s->hint, s->value, SECRET_HINT_LEN);
    s->hint[SECRET_HINT_LEN] = '\0';
    return true;
}

/* ",\"<member>\":\"<secret>\"" in the arena, for latch_mgmt_reply.append; wipes s->value. */
static char *secret_member(struct latch_request *req, const char *member, struct new_secret *s)
{
    char *out = latch_arena_printf(req->arena, ",\"%s\":\"%s\"", member, s->value);
    explicit_bzero(s->value, sizeof(s->value));
    if (out == NULL)
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
    return out;
}

/* ---- handlers ---- */

static void list_apps(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search, *types[8];
    if (!latch_mgmt_paginate(req, true, &limit, &offset) || !latch_mgmt_search(req, &search))
        return;
    int ntypes = latch_mgmt_query_all(req, "types", types, 8);
    if (ntypes < 0)
        return;
    const char *types_json = NULL;
    if (ntypes > 0) {
        struct latch_json *g = latch_mgmt_gen_new();
        if (g == NULL)
            goto oom;
        latch_json_begin_array(g);
        for (int i = 0; i < ntypes; i++) {
            if (!valid_type(types[i])) {
                latch_mgmt_gen_free(g);
                latch_mgmt_invalid(req, "types",
                                   "must be Traditional, SPA, Native or MachineToMachine");
                return;
            }
            latch_mgmt_gen_str(g, types[i]);
        }
        latch_json_end_array(g);
        types_json = latch_mgmt_gen_take(req, g);
        if (types_json == NULL)
            goto oom;
    }
    struct latch_store_op op = {&app_list, {req->tenant->id, types_json, search, limit, offset}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "application", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
    return;
oom:
    latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
}

static void create_app(struct latch_request *req, void *arg)
{
    struct app_input in;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    bool ok = read_app(req, tree, true, &in);
    yajl_tree_free(tree);
    if (!ok)
        return;

    char *id = latch_arena_alloc(req->arena, LATCH_MGMT_ID_LEN + 1);
    if (id == NULL || latch_jose_random_id(id, LATCH_MGMT_ID_LEN) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op ops[2] = {
        {&app_insert,
         {req->tenant->id, id, in.name, in.description, in.type, in.oidc,
          in.custom ? in.custom : "{}", in.custom_data ? in.custom_data : "{}",
          in.is_third_party == 1 ? "true" : "false"}},
    };
    struct latch_mgmt_reply reply = {.status = 200, .entity = "application", .id = id};
    struct new_secret s;
    int nops = 1;
    if (is_confidential(in.type)) {
        /* Logto gives confidential apps a first secret and shows it once, as `secret`. */
        if (!make_secret(req, &s))
            return;
        ops[1] =
            (struct latch_store_op){&app_default_secret, {req->tenant->id, id, s.hash_hex, s.hint}};
        nops = 2;
        reply.append = secret_member(req, "secret", &s);
        if (reply.append == NULL)
            return;
    }
    latch_mgmt_run(req, ops, nops, &reply);
}

static void update_app(struct latch_request *req, void *arg)
{
    struct app_input in;
    const char *id = latch_mgmt_param_id(req, "id", "application");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    bool ok = read_app(req, tree, false, &in);
    yajl_tree_free(tree);
    if (!ok)
        return;
    /* The console's application keeps its type and redirect URIs (schema/0015_console.sql). */
    if ((in.type != NULL || in.oidc != NULL) &&
        latch_mgmt_refuse_reserved(req, "id", LATCH_MGMT_CONSOLE_APP, "application.reserved",
                                   "The admin console's type and URIs cannot be changed."))
        return;
    struct latch_store_op op = {&app_update,
                                {req->tenant->id, id, in.name, in.description,
                                 in.description_set ? "true" : "false", in.oidc, in.custom,
                                 in.custom_data, in.type, in.custom_scheme ? "true" : "false"}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "application", .id = id, .problems = app_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void create_secret(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "application");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *name;
    long long expires = 0;
    bool has_expiry = false;
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, LATCH_MGMT_REQUIRED, &name, NULL) &&
        latch_mgmt_get_int(&body, "expiresAt", 0, 253402300799999LL, LATCH_MGMT_NULLABLE, &expires,
                           &has_expiry);
    yajl_tree_free(tree);
    if (!ok)
        return;
    if (has_expiry && expires <= latch_mgmt_now_ms()) {
        latch_mgmt_invalid(req, "expiresAt", "must be in the future");
        return;
    }
    char *expires_s = NULL;
    if (has_expiry && (expires_s = latch_arena_printf(req->arena, "%lld", expires)) == NULL) {
        latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
        return;
    }
    struct new_secret s;
    if (!make_secret(req, &s))
        return;
    struct latch_store_op op = {&secret_insert,
                                {req->tenant->id, id, name, s.hash_hex, s.hint, expires_s}};
    struct latch_mgmt_reply reply = {
        .status = 201,
        .entity = "application",
        .id = id,
        .problems = app_problems,
        .conflict_code = "application.secret_name_exists",
        .conflict_message = "Secret name already exists.",
    };
    reply.append = secret_member(req, "value", &s);
    if (reply.append == NULL)
        return;
    latch_mgmt_run(req, &op, 1, &reply);
}

static void delete_secret(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "application");
    const char *name =
        id ? latch_mgmt_param_name(req, "name", NAME_MAX_CHARS, "application secret") : NULL;
    if (name == NULL)
        return;
    struct latch_store_op op = {&secret_delete, {req->tenant->id, id, name}};
    struct latch_mgmt_reply reply = {
        .status = 204, .entity = "application", .id = id, .problems = app_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void rename_secret(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "application");
    const char *name =
        id ? latch_mgmt_param_name(req, "name", NAME_MAX_CHARS, "application secret") : NULL;
    if (name == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *new_name;
    bool ok =
        latch_mgmt_get_str(&body, "name", 1, NAME_MAX_CHARS, LATCH_MGMT_REQUIRED, &new_name, NULL);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct latch_store_op op = {&secret_rename, {req->tenant->id, id, name, new_name}};
    struct latch_mgmt_reply reply = {
        .status = 200,
        .entity = "application",
        .id = id,
        .problems = app_problems,
        .conflict_code = "application.secret_name_exists",
        .conflict_message = "Secret name already exists.",
    };
    latch_mgmt_run(req, &op, 1, &reply);
}

static void list_app_roles(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    const char *id = latch_mgmt_param_id(req, "id", "application");
    if (id == NULL || !latch_mgmt_paginate(req, false, &limit, &offset) ||
        !latch_mgmt_search(req, &search))
        return;
    struct latch_store_op op = {&app_role_list, {req->tenant->id, id, limit, offset, search}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "application", .id = id, .problems = app_problems, .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* POST (add) and PUT (replace) /api/applications/:id/roles {roleIds}. */
static void set_app_roles(struct latch_request *req, bool replace)
{
    const char *id = latch_mgmt_param_id(req, "id", "application");
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *ids;
    bool ok = latch_mgmt_get_ids(&body, "roleIds", LATCH_MGMT_REQUIRED, false, &ids);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct latch_store_op op = {replace ? &app_role_replace : &app_role_add,
                                {req->tenant->id, id, ids}};
    struct latch_mgmt_reply reply = {
        .status = replace ? 200 : 201,
        .entity = "application",
        .id = id,
        .problems = app_problems,
        .no_body = replace, /* Logto's PUT answers 200 without a body */
    };
    latch_mgmt_run(req, &op, 1, &reply);
}

static void add_app_roles(struct latch_request *req, void *arg)
{
    set_app_roles(req, false);
}

static void replace_app_roles(struct latch_request *req, void *arg)
{
    set_app_roles(req, true);
}

static void delete_app_role(struct latch_request *req, void *arg)
{
    const char *id = latch_mgmt_param_id(req, "id", "application");
    const char *role = id ? latch_mgmt_param_id(req, "roleId", "role") : NULL;
    if (role == NULL)
        return;
    struct latch_store_op op = {&app_role_delete, {req->tenant->id, id, role}};
    struct latch_mgmt_reply reply = {
        .status = 204, .entity = "application", .id = id, .problems = app_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_app_call = {&app_get, "id", "application", 200, NULL};
static const struct latch_mgmt_by_id delete_app_call = {&app_delete, "id", "application", 204,
                                                        NULL};
static const struct latch_mgmt_by_id list_secrets_call = {&secret_list, "id", "application", 200,
                                                          NULL};

static void delete_app(struct latch_request *req, void *arg)
{
    if (latch_mgmt_refuse_reserved(req, "id", LATCH_MGMT_CONSOLE_APP, "application.reserved",
                                   "The admin console's application cannot be deleted."))
        return;
    latch_mgmt_by_id(req, (void *)&delete_app_call);
}

latch_rc latch_mgmt_applications_register(struct latch_server *srv)
{
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/applications", list_apps, NULL},
        {LATCH_HTTP_POST, "/api/applications", create_app, NULL},
        {LATCH_HTTP_GET, "/api/applications/:id", latch_mgmt_by_id, &get_app_call},
        {LATCH_HTTP_PATCH, "/api/applications/:id", update_app, NULL},
        {LATCH_HTTP_DELETE, "/api/applications/:id", delete_app, NULL},
        {LATCH_HTTP_GET, "/api/applications/:id/secrets", latch_mgmt_by_id, &list_secrets_call},
        {LATCH_HTTP_POST, "/api/applications/:id/secrets", create_secret, NULL},
        {LATCH_HTTP_PATCH, "/api/applications/:id/secrets/:name", rename_secret, NULL},
        {LATCH_HTTP_DELETE, "/api/applications/:id/secrets/:name", delete_secret, NULL},
        {LATCH_HTTP_GET, "/api/applications/:id/roles", list_app_roles, NULL},
        {LATCH_HTTP_POST, "/api/applications/:id/roles", add_app_roles, NULL},
        {LATCH_HTTP_PUT, "/api/applications/:id/roles", replace_app_roles, NULL},
        {LATCH_HTTP_DELETE, "/api/applications/:id/roles/:roleId", delete_app_role, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
