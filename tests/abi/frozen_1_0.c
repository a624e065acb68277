/*
 * A connector built against the FROZEN copy of the ABI 1.0 header (tests/abi/frozen-1.0/, a
 * verbatim copy of plugins-api/latch/connector.h as released at 1.0, never to be edited). Every
 * later 1.x host must keep loading it and calling it: tests/unit/plugin/test_loader.c does.
 * It uses every 1.0 structure: a schema with each field type, the three operations, the
 * session, and host services.
 */
#include <string.h>

#include <latch/connector.h>

#if LATCH_CONNECTOR_ABI_MAJOR != 1 || LATCH_CONNECTOR_ABI_MINOR != 0
#error "tests/abi/frozen-1.0 must stay the ABI 1.0 header"
#endif

static int get_authorization_uri(struct latch_connector_ctx *ctx,
                                 const struct latch_connector_host *host,
                                 const struct latch_connector_auth_request *req, char **uri)
{
    char *query = NULL;

    if (host->session_set(ctx, "redirectUri", req->redirect_uri) != LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "client_id", host->config_get(ctx, "clientId")) !=
            LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "scope",
                       req->scope ? req->scope : host->config_get(ctx, "scope")) !=
            LATCH_CONNECTOR_OK ||
        host->form_add(ctx, &query, "state", req->state) != LATCH_CONNECTOR_OK)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = host->format(ctx, "https://frozen.example/authorize?%s", query);
    return LATCH_CONNECTOR_OK;
}

static int get_user_info(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const struct latch_connector_param *params, size_t nparams,
                         struct latch_connector_user_info *out)
{
    const char *code = NULL;

    for (size_t i = 0; i < nparams; i++)
        if (strcmp(params[i].name, "code") == 0)
            code = params[i].value;
    if (code == NULL)
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    if (host->session_get(ctx, "redirectUri") == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    out->id = host->format(ctx, "frozen-%s", code);
    out->name = host->dup(ctx, "Frozen Person");
    out->email = "frozen@example.com";
    out->email_verified = 1;
    out->raw_json =
        host->format(ctx, "{\"code\":%s,\"abi\":\"1.0\"}", host->json_string(ctx, code));
    host->log_msg(ctx, LATCH_CONNECTOR_LOG_DEBUG, "profile read for code of %zu bytes",
                  strlen(code));
    return LATCH_CONNECTOR_OK;
}

static int validate_config(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                           const char **why)
{
    const char *n = host->config_get(ctx, "retries");

    if (n != NULL && strcmp(n, "13") == 0) {
        *why = "retries must not be 13.";
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

#define EN(s) ((const struct latch_connector_i18n[]){{"en", s}, {NULL, NULL}})

static const struct latch_connector_field fields[] = {
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_TEXT, "clientId", 1, 0, NULL,
     EN("Client ID"), NULL},
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_TEXT, "clientSecret", 1, 1, NULL,
     EN("Client secret"), EN("Kept secret.")},
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_MULTILINE_TEXT, "scope", 0, 0,
     "openid profile", EN("Scope"), NULL},
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_NUMBER, "retries", 0, 0, "2",
     EN("Retries"), NULL},
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_SWITCH, "pkce", 0, 0, "true",
     EN("PKCE"), NULL},
    {sizeof(struct latch_connector_field), LATCH_CONNECTOR_FIELD_JSON, "mapping", 0, 0,
     "{\"id\":\"sub\"}", EN("Profile mapping"), NULL},
};

static const struct latch_connector_descriptor descriptor = {
    LATCH_CONNECTOR_MAGIC,
    sizeof(struct latch_connector_descriptor),
    1,
    0,
    LATCH_CONNECTOR_SOCIAL,
    LATCH_CONNECTOR_FLAG_STANDARD,
    "frozen-social",
    "frozen",
    "1.0.0",
    (const struct latch_connector_i18n[]){{"en", "Frozen"}, {"es", "Congelado"}, {NULL, NULL}},
    EN("Built against the frozen ABI 1.0 header."),
    "data:image/png;base64,iVBORw0KGgo=",
    NULL,
    "# Frozen\n",
    "{\"clientId\":\"\",\"clientSecret\":\"\"}",
    fields,
    sizeof(fields) / sizeof(fields[0]),
    &ops,
};

LATCH_CONNECTOR_DEFINE(descriptor)
