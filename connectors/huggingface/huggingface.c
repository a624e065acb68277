/*
 * The Hugging Face social connector (huggingface.so): "Continue with Hugging Face" through
 * Hugging Face's OAuth 2.0 authorization-code flow, behaving as Logto's connector-huggingface
 * does (factory id huggingface-universal, target huggingface). Written against
 * plugins-api/latch/connector.h alone: HTTP, JSON, base64, form encoding, memory and the
 * per-flow session all come from the host services table, so the .so links nothing but libc.
 *
 * Flow: get_authorization_uri keeps the redirect URI in the connector session and sends the
 * person to https://huggingface.co/oauth/authorize; get_user_info exchanges the callback's code
 * at /oauth/token (client_secret_basic) and reads /oauth/userinfo with the token. The host calls
 * both on its worker pool; the connector keeps no state of its own, so it is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <latch/connector.h>

#include "huggingface_assets.h" /* generated: HF_LOGO_SVG, HF_README_MD */

#define AUTHORIZATION_ENDPOINT "https://huggingface.co/oauth/authorize"
#define TOKEN_ENDPOINT         "https://huggingface.co/oauth/token"
#define USERINFO_ENDPOINT      "https://huggingface.co/oauth/userinfo"
#define DEFAULT_SCOPE          "profile"
#define SESSION_REDIRECT_URI   "redirectUri"

/* Logto gives the userinfo call 5 s; its token call sets none, so ky's 10 s default applies. */
#define USERINFO_TIMEOUT_MS 5000
#define TOKEN_TIMEOUT_MS    10000

#define LOG_INFO  LATCH_CONNECTOR_LOG_INFO
#define LOG_WARN  LATCH_CONNECTOR_LOG_WARN
#define LOG_ERROR LATCH_CONNECTOR_LOG_ERROR

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Every service used here is in 1.0, which every 1.x host has; checked all the same, so a
 * broken host fails the call instead of crashing it. */
static bool host_ok(const struct latch_connector_host *host)
{
    return host != NULL && host->host_major == LATCH_CONNECTOR_ABI_MAJOR &&
           LATCH_CONNECTOR_HAS(host, struct latch_connector_host, base64);
}

/* The value of a callback parameter, NULL when absent. */
static const char *param(const struct latch_connector_param *params, size_t nparams,
                         const char *name)
{
    for (size_t i = 0; i < nparams; i++)
        if (params[i].name != NULL && strcmp(params[i].name, name) == 0)
            return params[i].value;
    return NULL;
}

/* What host->http returned when no answer came: its own status when it is one of ours. */
static int http_failure(int rc)
{
    return rc == LATCH_CONNECTOR_ERR_TIMEOUT ? LATCH_CONNECTOR_ERR_TIMEOUT
                                             : LATCH_CONNECTOR_ERR_GENERAL;
}

static int hf_get_authorization_uri(struct latch_connector_ctx *ctx,
                                    const struct latch_connector_host *host,
                                    const struct latch_connector_auth_request *req, char **uri)
{
    const char *client_id;
    const char *config_scope;
    const char *scope;
    char *query = NULL;

    if (uri == NULL || !host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = NULL;
    if (req == NULL || !nonempty(req->state) || !nonempty(req->redirect_uri)) {
        host->log_msg(ctx, LOG_ERROR, "authorization request without a state or a redirect URI");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    client_id = host->config_get(ctx, "clientId");
    if (!nonempty(client_id)) {
        host->log_msg(ctx, LOG_ERROR, "clientId is not configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    /* The request's scope, else the configured one, else "profile". */
    config_scope = host->config_get(ctx, "scope");
    scope = nonempty(req->scope)     ? req->scope
            : nonempty(config_scope) ? config_scope
                                     : DEFAULT_SCOPE;

    /* get_user_info must send the token endpoint the very redirect URI used here. */
    if (host->session_set(ctx, SESSION_REDIRECT_URI, req->redirect_uri) != 0) {
        host->log_msg(ctx, LOG_ERROR, "cannot keep the redirect URI in the connector session");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    /* Logto's parameter order. */
    if (host->form_add(ctx, &query, "response_type", "code") != 0 ||
        host->form_add(ctx, &query, "client_id", client_id) != 0 ||
        host->form_add(ctx, &query, "scope", scope) != 0 ||
        host->form_add(ctx, &query, "redirect_uri", req->redirect_uri) != 0 ||
        host->form_add(ctx, &query, "state", req->state) != 0 || query == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    *uri = host->format(ctx, "%s?%s", AUTHORIZATION_ENDPOINT, query);
    return *uri != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

/* POST /oauth/token: the code for an access token. *authorization gets "<type> <token>". */
static int exchange_code(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                         const char *code, const char *redirect_uri, const char **authorization)
{
    const char *client_id = host->config_get(ctx, "clientId");
    const char *client_secret = host->config_get(ctx, "clientSecret");
    const char *credentials;
    const char *basic;
    const char *access_token;
    const char *token_type;
    const char *scope;
    char *body = NULL;
    int rc;

    if (!nonempty(client_id) || !nonempty(client_secret)) {
        host->log_msg(ctx, LOG_ERROR, "clientId or clientSecret is not configured");
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    /* client_secret_basic as Logto sends it: base64 of "id:secret", not form-encoded first. */
    credentials = host->format(ctx, "%s:%s", client_id, client_secret);
    if (credentials == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    basic = host->base64(ctx, credentials, strlen(credentials));
    if (basic == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    basic = host->format(ctx, "Basic %s", basic);
    if (basic == NULL || host->form_add(ctx, &body, "grant_type", "authorization_code") != 0 ||
        host->form_add(ctx, &body, "code", code) != 0 ||
        host->form_add(ctx, &body, "redirect_uri", redirect_uri) != 0 || body == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    const struct latch_connector_http_header headers[] = {
        {"Authorization", basic},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = {
        .struct_size = sizeof(req),
        .method = "POST",
        .url = TOKEN_ENDPOINT,
        .headers = headers,
        .nheaders = sizeof(headers) / sizeof(headers[0]),
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = TOKEN_TIMEOUT_MS,
    };
    struct latch_connector_http_response resp = {.struct_size = sizeof(resp)};

    rc = host->http(ctx, &req, &resp);
    if (rc != 0) {
        host->log_msg(ctx, LOG_WARN, "token request failed before an answer (%d)", rc);
        return http_failure(rc);
    }
    if (resp.status >= 400 && resp.status < 500) {
        const char *error = resp.body != NULL ? host->json_get(ctx, resp.body, "error") : NULL;
        host->log_msg(ctx, LOG_WARN, "token endpoint refused the code: HTTP %d%s%.64s", resp.status,
                      error != NULL ? ", error " : "", error != NULL ? error : "");
        return LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID;
    }
    if (resp.status < 200 || resp.status > 299) {
        host->log_msg(ctx, LOG_WARN, "token endpoint answered HTTP %d", resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    if (resp.body == NULL) {
        host->log_msg(ctx, LOG_WARN, "token endpoint answered no body");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }

    /* Logto's guard: access_token, scope and token_type are all required strings. */
    access_token = host->json_get(ctx, resp.body, "access_token");
    token_type = host->json_get(ctx, resp.body, "token_type");
    scope = host->json_get(ctx, resp.body, "scope");
    if (access_token == NULL || token_type == NULL || scope == NULL) {
        host->log_msg(ctx, LOG_WARN,
                      "token response lacks access_token, token_type or scope (or is not JSON)");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    if (access_token[0] == '\0') {
        host->log_msg(ctx, LOG_WARN, "token response has an empty access_token");
        return LATCH_CONNECTOR_ERR_AUTH_CODE_INVALID;
    }
    /* token_type verbatim, as Logto sends it ("Bearer"). */
    *authorization = host->format(ctx, "%s %s", token_type, access_token);
    return *authorization != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

/* GET /oauth/userinfo and the mapping sub→id, name, picture→avatar, email, email_verified. */
static int read_profile(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const char *authorization, struct latch_connector_user_info *out)
{
    const struct latch_connector_http_header headers[] = {
        {"Authorization", authorization},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = {
        .struct_size = sizeof(req),
        .method = "GET",
        .url = USERINFO_ENDPOINT,
        .headers = headers,
        .nheaders = sizeof(headers) / sizeof(headers[0]),
        .timeout_ms = USERINFO_TIMEOUT_MS,
    };
    struct latch_connector_http_response resp = {.struct_size = sizeof(resp)};
    const char *sub;
    const char *verified;
    int rc;

    rc = host->http(ctx, &req, &resp);
    if (rc != 0) {
        host->log_msg(ctx, LOG_WARN, "userinfo request failed before an answer (%d)", rc);
        return http_failure(rc);
    }
    if (resp.status == 401) {
        host->log_msg(ctx, LOG_WARN, "userinfo refused the access token (HTTP 401)");
        return LATCH_CONNECTOR_ERR_ACCESS_TOKEN_INVALID;
    }
    if (resp.status < 200 || resp.status > 299) {
        host->log_msg(ctx, LOG_WARN, "userinfo answered HTTP %d", resp.status);
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    sub = resp.body != NULL ? host->json_get(ctx, resp.body, "sub") : NULL;
    if (!nonempty(sub)) {
        host->log_msg(ctx, LOG_WARN, "userinfo answer is not JSON or has no sub");
        return LATCH_CONNECTOR_ERR_INVALID_RESPONSE;
    }
    out->id = sub;
    out->name = host->json_get(ctx, resp.body, "name");
    out->avatar = host->json_get(ctx, resp.body, "picture");
    out->email = host->json_get(ctx, resp.body, "email");
    verified = host->json_get(ctx, resp.body, "email_verified");
    out->email_verified =
        verified != NULL && (strcmp(verified, "true") == 0 || strcmp(verified, "1") == 0);
    /* The whole profile: preferred_username, isPro and the rest survive here only. */
    out->raw_json = host->dup(ctx, resp.body);
    return out->raw_json != NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_GENERAL;
}

static int hf_get_user_info(struct latch_connector_ctx *ctx,
                            const struct latch_connector_host *host,
                            const struct latch_connector_param *params, size_t nparams,
                            struct latch_connector_user_info *out)
{
    const char *code;
    const char *redirect_uri;
    const char *authorization = NULL;
    int rc;

    if (out == NULL || !host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    code = params != NULL ? param(params, nparams, "code") : NULL;
    if (!nonempty(code)) {
        /* Denied consent comes back as error=access_denied and no code. */
        const char *error = params != NULL ? param(params, nparams, "error") : NULL;
        host->log_msg(ctx, LOG_INFO, "authorization failed: %.64s",
                      error != NULL ? error : "no code in the callback");
        return LATCH_CONNECTOR_ERR_AUTHORIZATION_FAILED;
    }
    redirect_uri = host->session_get(ctx, SESSION_REDIRECT_URI);
    if (!nonempty(redirect_uri)) {
        host->log_msg(ctx, LOG_ERROR, "Cannot find `redirectUri` from connector session.");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    rc = exchange_code(ctx, host, code, redirect_uri, &authorization);
    if (rc != LATCH_CONNECTOR_OK)
        return rc;
    return read_profile(ctx, host, authorization, out);
}

/* ---- the descriptor ---- */

static const struct latch_connector_i18n hf_name[] = {
    {"en", "Hugging Face"},
    {"es", "Hugging Face"},
    {NULL, NULL},
};

static const struct latch_connector_i18n hf_description[] = {
    {"en", "Sign in with a Hugging Face account. Hugging Face is the machine learning platform "
           "and community where people build, train, deploy and share models and datasets."},
    {"es", "Inicia sesión con una cuenta de Hugging Face, la plataforma y comunidad de "
           "aprendizaje automático donde se crean, entrenan, despliegan y comparten modelos y "
           "conjuntos de datos."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_client_id[] = {
    {"en", "Client ID"},
    {"es", "ID de cliente"},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_client_secret[] = {
    {"en", "Client Secret"},
    {"es", "Secreto de cliente"},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_scope[] = {
    {"en", "Scope"},
    {"es", "Ámbito"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_client_id[] = {
    {"en", "The Client ID of your OAuth app at huggingface.co/settings/connected-applications."},
    {"es", "El ID de cliente de tu aplicación OAuth en "
           "huggingface.co/settings/connected-applications."},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_client_secret[] = {
    {"en", "An App secret of the same OAuth app."},
    {"es", "Un secreto (App secret) de la misma aplicación OAuth."},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_scope[] = {
    {"en", "Space-separated scopes: `profile` for the name and picture, `email` for the email "
           "address; alone or together. Empty means `profile`."},
    {"es", "Ámbitos separados por espacios: `profile` para el nombre y la foto, `email` para el "
           "correo electrónico; solos o juntos. Vacío equivale a `profile`."},
    {NULL, NULL},
};

static const struct latch_connector_field hf_fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "clientId",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 0,
        .default_value = NULL,
        .label = label_client_id,
        .description = description_client_id,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "clientSecret",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 1,
        .default_value = NULL,
        .label = label_client_secret,
        .description = description_client_secret,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "scope",
        .type = LATCH_CONNECTOR_FIELD_MULTILINE_TEXT,
        .required = 0,
        .confidential = 0,
        .default_value = DEFAULT_SCOPE,
        .label = label_scope,
        .description = description_scope,
    },
};

static const struct latch_connector_ops hf_ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .get_authorization_uri = hf_get_authorization_uri,
    .get_user_info = hf_get_user_info,
    .validate_config = NULL,
};

static const struct latch_connector_descriptor hf_descriptor = {
    /* Uses only 1.0 services: declares 1.0 so that every 1.x host loads it. */
    LATCH_CONNECTOR_DESCRIPTOR_HEADER_MINOR(0),
    .kind = LATCH_CONNECTOR_SOCIAL,
    .flags = 0,
    .id = "huggingface-universal",
    .target = "huggingface",
    .version = "1.0.0",
    .name = hf_name,
    .description = hf_description,
    .logo = HF_LOGO_SVG,
    .logo_dark = NULL,
    .readme = HF_README_MD,
    .config_template = "{\"clientId\": \"<client-id>\", \"clientSecret\": \"<client-secret>\", "
                       "\"scope\": \"openid profile email\"}",
    .fields = hf_fields,
    .nfields = sizeof(hf_fields) / sizeof(hf_fields[0]),
    .ops = &hf_ops,
};

LATCH_CONNECTOR_DEFINE(hf_descriptor)
