/*
 * example.c: a template social connector for Latch, for an OAuth 2.0 provider with an
 * authorization endpoint, a token endpoint (client_secret_basic) and a userinfo endpoint.
 * Copy it, rename the id, target and texts, point the endpoints at your provider and adapt
 * the profile mapping in get_user_info(). It builds outside the Latch tree:
 *
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags latch-connector) \
 *        -o example.so example.c
 *
 * Rules of the road (docs/connectors.md): include only <latch/connector.h>; allocate only
 * through the host (host->alloc, host->dup, host->format); reach the network only through
 * host->http; keep per-flow values in the session (host->session_set); keep no mutable globals
 * (operations run on several threads at once); never log secrets, codes or tokens.
 */
#include <string.h>

#include <latch/connector.h>

#define AUTHORIZATION_ENDPOINT "https://auth.example.com/oauth/authorize"
#define TOKEN_ENDPOINT         "https://auth.example.com/oauth/token"
#define USERINFO_ENDPOINT      "https://auth.example.com/oauth/userinfo"
#define DEFAULT_SCOPE          "profile email"

static const char *param(const struct latch_connector_param *params, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (params[i].name != NULL && strcmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

static int get_authorization_uri(struct latch_connector_ctx *ctx,
                                 const struct latch_connector_host *host,
                                 const struct latch_connector_auth_request *req, char **uri)
{
    const char *client_id = host->config_get(ctx, "clientId");
    const char *scope = req->scope != NULL ? req->scope : host->config_get(ctx, "scope");
    char *query = NULL;

    /* The token request must repeat the redirect URI: keep it for get_user_info. */
    if (host->session_set(ctx, "redirectUri", req->redirect_uri) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (host->form_add(ctx, &query, "response_type", "code") != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "client_id", client_id) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "scope", scope) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "redirect_uri", req->redirect_uri) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "state", req->state) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = host->format(ctx, "%s?%s", AUTHORIZATION_ENDPOINT, query);
    return *uri != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

/* POST the code to the token endpoint; *access_token in the arena. */
static int exchange_code(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const char *code, const char **access_token)
{
    const char *client_id = host->config_get(ctx, "clientId");
    const char *client_secret = host->config_get(ctx, "clientSecret");
    const char *redirect_uri = host->session_get(ctx, "redirectUri");
    char *credentials, *body = NULL;

    if (redirect_uri == NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "no redirectUri in the connector session");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    credentials = host->format(ctx, "%s:%s", client_id, client_secret);
    if (credentials == NULL ||
        host->form_add(ctx, &body, "grant_type", "authorization_code") != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &body, "code", code) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &body, "redirect_uri", redirect_uri) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    const struct latch_connector_http_header headers[] = {
        {"Authorization",
         host->format(ctx, "Basic %s", host->base64(ctx, credentials, strlen(credentials)))},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = LATCH_CONNECTOR_HTTP_REQUEST_INIT;
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;
    req.method = "POST";
    req.url = TOKEN_ENDPOINT;
    req.headers = headers;
    req.nheaders = sizeof(headers) / sizeof(headers[0]);
    req.body = body;
    req.body_len = strlen(body);
    int rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;
    if (resp.status == 400 || resp.status == 401) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the token endpoint refused the code (%d)",
                      resp.status);
        return LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID;
    }
    if (resp.status != 200) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the token endpoint answered %d", resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    *access_token = host->json_get(ctx, resp.body, "access_token");
    if (*access_token == NULL || (*access_token)[0] == '\0') {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the token response has no access_token");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    return LATCH_CONNECTOR_OK;
}

static int get_user_info(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out)
{
    const char *code = param(params, nparams, "code");
    const char *access_token = NULL;

    if (param(params, nparams, "error") != NULL || code == NULL || code[0] == '\0') {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "no code in the callback (consent denied?)");
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    }
    int rc = exchange_code(ctx, host, code, &access_token);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;

    const struct latch_connector_http_header headers[] = {
        {"Authorization", host->format(ctx, "Bearer %s", access_token)},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = LATCH_CONNECTOR_HTTP_REQUEST_INIT;
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;
    req.url = USERINFO_ENDPOINT;
    req.headers = headers;
    req.nheaders = sizeof(headers) / sizeof(headers[0]);
    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;
    if (resp.status == 401)
        return LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID;
    if (resp.status != 200) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the userinfo endpoint answered %d",
                      resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    /* The mapping: adapt the paths to your provider ("data.user.id" reads nested members). */
    out->id = host->json_get(ctx, resp.body, "sub");
    if (out->id == NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the profile has no sub");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    out->name = host->json_get(ctx, resp.body, "name");
    out->email = host->json_get(ctx, resp.body, "email");
    const char *verified = host->json_get(ctx, resp.body, "email_verified");
    out->email_verified = verified != NULL && strcmp(verified, "true") == 0;
    out->avatar = host->json_get(ctx, resp.body, "picture");
    out->raw_json = resp.body; /* the whole profile, kept by the host */
    return LATCH_CONNECTOR_OK;
}

static const struct latch_connector_ops ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .get_authorization_uri = get_authorization_uri,
    .get_user_info = get_user_info,
    /* .validate_config is optional: the host already checks the schema below. */
};

#define TEXT(en) ((const struct latch_connector_i18n[]){{"en", en}, {NULL, NULL}})

static const struct latch_connector_field fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "clientId",
        .required = 1,
        .label = TEXT("Client ID"),
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "clientSecret",
        .required = 1,
        .confidential = 1,
        .label = TEXT("Client secret"),
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_MULTILINE_TEXT,
        .key = "scope",
        .default_value = DEFAULT_SCOPE,
        .label = TEXT("Scope"),
        .description = TEXT("Space-separated scopes to request."),
    },
};

static const struct latch_connector_i18n name[] = {
    {"en", "Example"},
    {"es", "Ejemplo"},
    {NULL, NULL},
};

static const struct latch_connector_descriptor descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = LATCH_CONNECTOR_SOCIAL,
    .id = "example-universal",
    .target = "example",
    .version = "0.1.0",
    .name = name,
    .description = TEXT("Sign in with an Example account."),
    .logo = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\">"
            "<rect width=\"24\" height=\"24\" rx=\"4\" fill=\"#446\"/></svg>",
    .readme = "# Example\n\nCreate an OAuth application at auth.example.com and register the "
              "redirect URI Latch shows you.\n",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .ops = &ops,
};

LATCH_CONNECTOR_DEFINE(descriptor)
