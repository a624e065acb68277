/*
 * mock: a social connector for tests, with no upstream at all (factory id `mock-social`, target
 * `mock`). Its authorization URI is <config.authorizationEndpoint>?state=…&redirect_uri=…, and
 * its profile comes from the callback parameters themselves: `id` (required), `name`, `email`,
 * `email_verified` ("true"), `avatar`; an `error` parameter (as an upstream sends when the
 * person denies consent) fails with authorization_failed. The raw profile records which version
 * of the connector read it, so tests can tell an upgrade happened, and its confidential Json
 * field secretParams when set, so tests can tell the host opened it.
 *
 * Built three times by connectors/mock/meson.build: mock.so and mock_v1.so (version 1.0.0) and
 * mock_v2.so (MOCK_V2: version 2.0.0, name "Mock v2"), for the upgrade tests.
 */
#include <string.h>

#include <latch/connector.h>

#ifdef MOCK_V2
#define MOCK_VERSION "2.0.0"
#define MOCK_NAME    "Mock v2"
#else
#define MOCK_VERSION "1.0.0"
#define MOCK_NAME    "Mock"
#endif

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
    const char *endpoint = host->config_get(ctx, "authorizationEndpoint");
    char *query = NULL;

    if (endpoint == NULL || endpoint[0] == '\0') {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "authorizationEndpoint is not configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    /* Kept for get_user_info, the way real connectors keep their redirect URI. */
    if (host->session_set(ctx, "redirectUri", req->redirect_uri) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (host->form_add(ctx, &query, "state", req->state) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "redirect_uri", req->redirect_uri) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = host->format(ctx, "%s%c%s", endpoint, strchr(endpoint, '?') != NULL ? '&' : '?',
                        query != NULL ? query : "");
    return *uri != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static int get_user_info(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out)
{
    const char *error = param(params, nparams, "error");
    const char *id = param(params, nparams, "id");
    const char *name = param(params, nparams, "name");
    const char *email = param(params, nparams, "email");
    const char *verified = param(params, nparams, "email_verified");
    const char *avatar = param(params, nparams, "avatar");

    if (error != NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the upstream answered error=%.64s", error);
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    }
    if (host->session_get(ctx, "redirectUri") == NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "no redirectUri in the connector session");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (id == NULL || id[0] == '\0') {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the callback has no id parameter");
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    }
    out->id = id;
    out->name = name;
    out->email = email;
    out->email_verified = verified != NULL && strcmp(verified, "true") == 0;
    out->avatar = avatar;
    /* secretParams, when configured, as the connector received it (opened by the host). */
    const char *secret = host->config_get(ctx, "secretParams");
    out->raw_json = host->format(
        ctx, "{\"id\":%s,\"name\":%s,\"email\":%s,\"connectorVersion\":\"" MOCK_VERSION "\"%s%s}",
        host->json_string(ctx, id), host->json_string(ctx, name), host->json_string(ctx, email),
        secret != NULL ? ",\"secretParams\":" : "", secret != NULL ? secret : "");
    return out->raw_json != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static int validate_config(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                           const char **why)
{
    const char *endpoint = host->config_get(ctx, "authorizationEndpoint");

    if (endpoint == NULL ||
        (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)) {
        *why = "authorizationEndpoint must be an http:// or https:// URL.";
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    return LATCH_CONNECTOR_OK;
}

static const struct latch_connector_ops ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .get_authorization_uri = get_authorization_uri,
    .get_user_info = get_user_info,
    .validate_config = validate_config,
};

static const struct latch_connector_field fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "authorizationEndpoint",
        .required = 1,
        .label =
            (const struct latch_connector_i18n[]){{"en", "Authorization endpoint"}, {NULL, NULL}},
        .description = (const struct latch_connector_i18n[]){{"en", "Where the mock sends "
                                                                    "people to sign in."},
                                                             {NULL, NULL}},
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "clientId",
        .label = (const struct latch_connector_i18n[]){{"en", "Client ID"}, {NULL, NULL}},
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .key = "clientSecret",
        .confidential = 1,
        .label = (const struct latch_connector_i18n[]){{"en", "Client secret"}, {NULL, NULL}},
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_MULTILINE_TEXT,
        .key = "scope",
        .default_value = "profile",
        .label = (const struct latch_connector_i18n[]){{"en", "Scope"}, {NULL, NULL}},
    },
    {
        /* A confidential Json field (as an SMTP connector's auth): sealed as a whole at rest. */
        .struct_size = sizeof(struct latch_connector_field),
        .type = LATCH_CONNECTOR_FIELD_JSON,
        .key = "secretParams",
        .confidential = 1,
        .label = (const struct latch_connector_i18n[]){{"en", "Secret parameters"}, {NULL, NULL}},
    },
};

static const struct latch_connector_i18n name[] = {
    {"en", MOCK_NAME},
    {"es", MOCK_NAME " (pruebas)"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description[] = {
    {"en", "A social connector for tests: the profile comes from the callback parameters."},
    {NULL, NULL},
};

static const char logo[] = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 24 24\">"
                           "<circle cx=\"12\" cy=\"12\" r=\"10\" fill=\"#888\"/></svg>";

static const struct latch_connector_descriptor descriptor = {
    /* 1.0: built against the current header, it stays loadable by 1.0 hosts (and tests that
     * a 1.0 declaration still loads). */
    LATCH_CONNECTOR_DESCRIPTOR_HEADER_MINOR(0),
    .kind = LATCH_CONNECTOR_SOCIAL,
    .id = "mock-social",
    .target = "mock",
    .version = MOCK_VERSION,
    .name = name,
    .description = description,
    .logo = logo,
    .readme = "# Mock\n\nA test connector. Set `authorizationEndpoint` to a page that redirects "
              "to the redirect URI with `state`, `id`, `name` and `email` parameters.\n",
    .config_template = "{\"authorizationEndpoint\":\"http://127.0.0.1:9999/authorize\"}",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .ops = &ops,
};

LATCH_CONNECTOR_DEFINE(descriptor)
