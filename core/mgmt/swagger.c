/*
 * GET <tenant endpoint>/api/swagger.json: an OpenAPI 3.0 document of the Management API,
 * generated at start-up from the routes actually registered (so it lists exactly what exists),
 * with summaries and request bodies from the table below. Served without authentication, as
 * Logto's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "mgmt/mgmt_internal.h"
#include "util/json.h"

struct body_doc {
    const char *method_pattern; /* "POST /api/applications" */
    const char *schema;         /* JSON schema of the body */
};

static const struct body_doc bodies[] = {
    {"POST /api/applications",
     "{\"type\":\"object\",\"required\":[\"name\",\"type\"],\"properties\":{"
     "\"name\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
     "\"type\":{\"type\":\"string\",\"enum\":[\"Native\",\"SPA\",\"Traditional\","
     "\"MachineToMachine\"]},\"oidcClientMetadata\":{\"type\":\"object\"},"
     "\"customClientMetadata\":{\"type\":\"object\"}}}"},
    {"POST /api/applications/:id/secrets",
     "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},"
     "\"expiresAt\":{\"type\":\"integer\",\"description\":\"epoch milliseconds\"}}}"},
    {"POST /api/resources",
     "{\"type\":\"object\",\"required\":[\"name\",\"indicator\"],\"properties\":{"
     "\"name\":{\"type\":\"string\"},\"indicator\":{\"type\":\"string\",\"format\":\"uri\"},"
     "\"accessTokenTtl\":{\"type\":\"integer\"}}}"},
    {"POST /api/resources/:resourceId/scopes",
     "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},"
     "\"description\":{\"type\":\"string\"}}}"},
    {"POST /api/roles",
     "{\"type\":\"object\",\"required\":[\"name\",\"description\"],\"properties\":{"
     "\"name\":{\"type\":\"string\"},\"description\":{\"type\":\"string\"},"
     "\"type\":{\"type\":\"string\",\"enum\":[\"User\",\"MachineToMachine\"]},"
     "\"scopeIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"},
    {"POST /api/users",
     "{\"type\":\"object\",\"description\":\"Every member is optional; password and "
     "passwordDigest exclude each other.\",\"properties\":{"
     "\"username\":{\"type\":\"string\",\"pattern\":\"^[A-Z_a-z]\\\\w*$\",\"maxLength\":128},"
     "\"primaryEmail\":{\"type\":\"string\",\"pattern\":\"^\\\\S+@\\\\S+\\\\.\\\\S+$\"},"
     "\"primaryPhone\":{\"type\":\"string\",\"pattern\":\"^\\\\d+$\"},"
     "\"name\":{\"type\":\"string\"},\"avatar\":{\"type\":\"string\",\"format\":\"url\","
     "\"nullable\":true},\"password\":{\"type\":\"string\",\"minLength\":1,"
     "\"maxLength\":256},\"passwordDigest\":{\"type\":\"string\",\"maxLength\":256},"
     "\"passwordAlgorithm\":{\"type\":\"string\",\"enum\":[\"Argon2i\",\"Argon2id\","
     "\"Argon2d\",\"Bcrypt\"]},\"customData\":{\"type\":\"object\"},"
     "\"profile\":{\"type\":\"object\"}}}"},
    {"PATCH /api/users/:userId",
     "{\"type\":\"object\",\"description\":\"Members present replace the stored values; \\\"\\\" "
     "or null clears a text member.\",\"properties\":{"
     "\"username\":{\"type\":\"string\",\"nullable\":true},"
     "\"primaryEmail\":{\"type\":\"string\",\"nullable\":true},"
     "\"primaryPhone\":{\"type\":\"string\",\"nullable\":true},"
     "\"name\":{\"type\":\"string\",\"nullable\":true},"
     "\"avatar\":{\"type\":\"string\",\"nullable\":true},"
     "\"customData\":{\"type\":\"object\"},\"profile\":{\"type\":\"object\"}}}"},
    {"POST /api/organizations",
     "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
     "\"name\":{\"type\":\"string\",\"maxLength\":128},\"description\":{\"type\":\"string\","
     "\"nullable\":true},\"customData\":{\"type\":\"object\"},\"isMfaRequired\":{\"type\":"
     "\"boolean\"},\"branding\":{\"type\":\"object\"}}}"},
    {"POST /api/organizations/:id/users",
     "{\"type\":\"object\",\"required\":[\"userIds\"],\"properties\":{\"userIds\":{"
     "\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1}}}"},
    {"POST /api/organizations/:id/users/:userId/roles",
     "{\"type\":\"object\",\"required\":[\"organizationRoleIds\"],\"properties\":{"
     "\"organizationRoleIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"},
    {"POST /api/organizations/:id/applications",
     "{\"type\":\"object\",\"required\":[\"applicationIds\"],\"properties\":{"
     "\"applicationIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
     "\"minItems\":1}}}"},
    {"POST /api/organizations/:id/jit/email-domains",
     "{\"type\":\"object\",\"required\":[\"emailDomain\"],\"properties\":{"
     "\"emailDomain\":{\"type\":\"string\",\"maxLength\":128}}}"},
    {"POST /api/organization-roles",
     "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
     "\"name\":{\"type\":\"string\",\"maxLength\":128},\"description\":{\"type\":\"string\"},"
     "\"type\":{\"type\":\"string\",\"enum\":[\"User\",\"MachineToMachine\"]},"
     "\"organizationScopeIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"resourceScopeIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}"},
    {"POST /api/organization-scopes",
     "{\"type\":\"object\",\"required\":[\"name\"],\"properties\":{"
     "\"name\":{\"type\":\"string\",\"maxLength\":128},\"description\":{\"type\":\"string\"}}}"},
    {"POST /api/organization-invitations",
     "{\"type\":\"object\",\"required\":[\"organizationId\",\"invitee\",\"expiresAt\"],"
     "\"properties\":{\"organizationId\":{\"type\":\"string\"},\"invitee\":{\"type\":"
     "\"string\",\"format\":\"email\"},\"expiresAt\":{\"type\":\"integer\",\"description\":"
     "\"epoch milliseconds, in the future\"},\"inviterId\":{\"type\":\"string\"},"
     "\"organizationRoleIds\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"messagePayload\":{\"type\":\"boolean\",\"enum\":[false]}}}"},
    {"PUT /api/organization-invitations/:id/status",
     "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{"
     "\"type\":\"string\",\"enum\":[\"Accepted\",\"Revoked\"]},\"acceptedUserId\":{"
     "\"type\":\"string\",\"description\":\"required to accept; the user's primary email must "
     "be the invitee\"}}}"},
    {"POST /api/connectors/:factoryId/test",
     "{\"type\":\"object\",\"required\":[\"config\"],\"description\":\"Sends the Generic "
     "template with the code 000000 through the factory with this config; stores nothing; at "
     "most 10 a minute per tenant\",\"properties\":{\"email\":{\"type\":\"string\"},"
     "\"phone\":{\"type\":\"string\",\"pattern\":\"^\\\\d+$\"},\"config\":{\"type\":"
     "\"object\"},\"locale\":{\"type\":\"string\",\"maxLength\":16}}}"},
    {"PUT /api/email-templates",
     "{\"type\":\"object\",\"required\":[\"templates\"],\"properties\":{\"templates\":{"
     "\"type\":\"array\",\"minItems\":1,\"maxItems\":100,\"items\":{\"type\":\"object\","
     "\"required\":[\"languageTag\",\"templateType\",\"details\"],\"properties\":{"
     "\"languageTag\":{\"type\":\"string\",\"maxLength\":16},\"templateType\":{\"type\":"
     "\"string\",\"enum\":[\"SignIn\",\"Register\",\"ForgotPassword\",\"Generic\","
     "\"OrganizationInvitation\",\"UserPermissionValidation\",\"BindNewIdentifier\","
     "\"MfaVerification\",\"BindMfa\"]},\"details\":{\"type\":\"object\",\"required\":["
     "\"subject\",\"content\"],\"properties\":{\"subject\":{\"type\":\"string\"},"
     "\"content\":{\"type\":\"string\"},\"contentType\":{\"type\":\"string\",\"enum\":["
     "\"text/html\",\"text/plain\"]},\"replyTo\":{\"type\":\"string\"},\"sendFrom\":{"
     "\"type\":\"string\"}}}}}}}}"},
    {"POST /api/configs/oidc/private-keys/rotate",
     "{\"type\":\"object\",\"properties\":{\"signingKeyAlgorithm\":{\"type\":\"string\","
     "\"enum\":[\"EC\",\"EC-P256\",\"RSA\",\"Ed25519\"]},\"gracePeriod\":{\"type\":\"integer\","
     "\"description\":\"seconds the previous key stays published (default 86400); a tenant "
     "holds at most 6 previous keys in their grace period, else 422 oidc.key_limit\"}}}"},
};

static char *document;
static size_t document_len;

struct build {
    struct latch_json j;
    char last_path[512];
    bool path_open;
};

static void to_openapi_path(const char *pattern, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 2 < cap; p++) {
        if (*p == ':' && (p == pattern || p[-1] == '/')) {
            out[o++] = '{';
            while (p[1] && p[1] != '/' && o + 2 < cap)
                out[o++] = *++p;
            out[o++] = '}';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static const char *verb(enum latch_http_method m, const char *pattern)
{
    bool item = strrchr(pattern, '/')[1] == ':'; /* "/api/roles/:id" names one item */
    switch (m) {
    case LATCH_HTTP_GET:
        return item ? "Get" : "List";
    case LATCH_HTTP_POST:
        return "Create or run";
    case LATCH_HTTP_PUT:
        return "Replace";
    case LATCH_HTTP_PATCH:
        return "Update";
    case LATCH_HTTP_DELETE:
        return "Delete";
    default:
        return "Call";
    }
}

static void add_route(enum latch_http_method method, const char *pattern, void *arg)
{
    struct build *b = arg;
    if (strncmp(pattern, "/api/", 5) != 0 || strcmp(pattern, "/api/status") == 0 ||
        strncmp(pattern, "/api/experience", 15) == 0 || strcmp(pattern, "/api/swagger.json") == 0)
        return;
    char path[512];
    to_openapi_path(pattern, path, sizeof(path));
    struct latch_json *j = &b->j;
    /* Routes of one path are registered together; a path seen again starts a new key, which
     * OpenAPI readers merge poorly, so registration keeps them adjacent. */
    if (!b->path_open || strcmp(path, b->last_path) != 0) {
        if (b->path_open)
            latch_json_end_object(j);
        latch_json_key(j, path);
        latch_json_begin_object(j);
        snprintf(b->last_path, sizeof(b->last_path), "%s", path);
        b->path_open = true;
    }
    char mname[16];
    snprintf(mname, sizeof(mname), "%s", latch_http_method_name(method));
    for (char *c = mname; *c; c++)
        *c = (char)(*c - 'A' + 'a');
    latch_json_key(j, mname);
    latch_json_begin_object(j);
    char summary[600];
    snprintf(summary, sizeof(summary), "%s %s", verb(method, pattern), pattern + 4);
    latch_json_key(j, "summary");
    latch_json_string(j, summary);
    latch_json_key(j, "parameters");
    latch_json_begin_array(j);
    for (const char *p = strchr(path, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        latch_json_begin_object(j);
        latch_json_key(j, "name");
        latch_json_string_n(j, p + 1, (size_t)(e - p - 1));
        latch_json_key(j, "in");
        latch_json_string(j, "path");
        latch_json_key(j, "required");
        latch_json_bool(j, true);
        latch_json_key(j, "schema");
        latch_json_raw(j, "{\"type\":\"string\"}", 17);
        latch_json_end_object(j);
    }
    if (method == LATCH_HTTP_GET && strrchr(path, '}') != path + strlen(path) - 1) {
        static const char page[] =
            "{\"name\":\"page\",\"in\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1}},"
            "{\"name\":\"page_size\",\"in\":\"query\",\"schema\":{\"type\":\"integer\","
            "\"minimum\":1,\"maximum\":100}}";
        latch_json_raw(j, page, sizeof(page) - 1);
    }
    latch_json_end_array(j);
    char key[600];
    snprintf(key, sizeof(key), "%s %s", latch_http_method_name(method), pattern);
    bool has_body =
        method == LATCH_HTTP_POST || method == LATCH_HTTP_PATCH || method == LATCH_HTTP_PUT;
    if (has_body) {
        const char *schema = "{\"type\":\"object\"}";
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
            if (strcmp(bodies[i].method_pattern, key) == 0)
                schema = bodies[i].schema;
        latch_json_key(j, "requestBody");
        latch_json_begin_object(j);
        latch_json_key(j, "content");
        latch_json_begin_object(j);
        latch_json_key(j, "application/json");
        latch_json_begin_object(j);
        latch_json_key(j, "schema");
        latch_json_raw(j, schema, strlen(schema));
        latch_json_end_object(j);
        latch_json_end_object(j);
        latch_json_end_object(j);
    }
    static const char responses[] =
        "{\"200\":{\"description\":\"OK\"},\"201\":{\"description\":\"Created\"},"
        "\"204\":{\"description\":\"No Content\"},"
        "\"400\":{\"$ref\":\"#/components/responses/Error\"},"
        "\"401\":{\"$ref\":\"#/components/responses/Error\"},"
        "\"403\":{\"$ref\":\"#/components/responses/Error\"},"
        "\"404\":{\"$ref\":\"#/components/responses/Error\"},"
        "\"422\":{\"$ref\":\"#/components/responses/Error\"}}";
    latch_json_key(j, "responses");
    latch_json_raw(j, responses, sizeof(responses) - 1);
    latch_json_end_object(j);
}

static void swagger(struct latch_request *req, void *arg)
{
    latch_http_add_header(req, "Cache-Control", "public, max-age=3600");
    latch_http_respond_json(req, 200, document, document_len);
}

latch_rc latch_mgmt_swagger_register(struct latch_server *srv)
{
    struct build b;
    memset(&b, 0, sizeof(b));
    latch_json_init(&b.j);
    struct latch_json *j = &b.j;
    static const char head[] =
        "\"openapi\":\"3.0.3\",\"info\":{\"title\":\"Latch Management "
        "API\",\"version\":\"" LATCH_VERSION
        "\",\"description\":\"Logto-compatible Management API of one tenant. Authenticate with "
        "a Bearer access token from the client_credentials grant for the resource "
        "<tenant endpoint>/api with scope all.\"},\"servers\":[{\"url\":\"/\"}],"
        "\"security\":[{\"bearerAuth\":[]}],"
        "\"components\":{\"securitySchemes\":{\"bearerAuth\":{\"type\":\"http\",\"scheme\":"
        "\"bearer\",\"bearerFormat\":\"JWT\"}},\"responses\":{\"Error\":{\"description\":"
        "\"Error\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\","
        "\"properties\":{\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}}}}}";
    latch_json_begin_object(j);
    latch_json_raw(j, head, sizeof(head) - 1);
    latch_json_key(j, "paths");
    latch_json_begin_object(j);
    latch_server_each_tenant_route(srv, add_route, &b);
    if (b.path_open)
        latch_json_end_object(j);
    latch_json_end_object(j);
    latch_json_end_object(j);
    document = latch_json_take(j, &document_len);
    if (document == NULL)
        return LATCH_FAIL;
    return latch_server_add_tenant_route(srv, LATCH_HTTP_GET, "/api/swagger.json", swagger, NULL);
}
