/*
 * The HTTP email and HTTP SMS connectors (http-email.so, http-sms.so), behaving as Logto's
 * connector-http-email and connector-http-sms do (factory and target ids http-email and
 * http-sms): each message becomes one JSON POST to an endpoint the operator runs,
 *
 *     {"to": "...", "type": "SignIn", "payload": {"code": "123456", "locale": "en", ...},
 *      "ip": "203.0.113.7"}
 *
 * with the configured Authorization header (sent as is, when set), so that any mail or SMS
 * provider can be bridged. A 2xx answer means sent; anything else fails the call with a log
 * line that names the HTTP status, never the authorization value, the code or the link.
 *
 * One source, built twice: HTTP_MESSAGE_SMS selects the SMS build (connectors/http-sms/), its
 * absence the email build (connectors/http-email/). Written against plugins-api/latch/connector.h
 * and connectors/kit/ alone; the host calls send_message on its I/O worker lane, and nothing
 * here keeps state, so it is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <latch/connector.h>

#include "http_message_assets.h" /* generated: HM_LOGO_SVG, HM_README_MD */
#include "kit.h"

#ifdef HTTP_MESSAGE_SMS
#define HM_ID      "http-sms"
#define HM_KIND    LATCH_CONNECTOR_SMS
#define HM_WHAT    "SMS"
#define HM_NAME_EN "HTTP SMS"
#define HM_NAME_ES "SMS por HTTP"
#define HM_DESC_EN "Send SMS via HTTP call: each message is POSTed as JSON to your endpoint."
#define HM_DESC_ES                                                                                 \
    "Envía SMS mediante una llamada HTTP: cada mensaje se envía como JSON a tu endpoint."
#define HM_PLACEHOLDER "https://example.com/your-http-sms-endpoint"
#else
#define HM_ID      "http-email"
#define HM_KIND    LATCH_CONNECTOR_EMAIL
#define HM_WHAT    "email"
#define HM_NAME_EN "HTTP Email"
#define HM_NAME_ES "Correo por HTTP"
#define HM_DESC_EN "Send email via HTTP call: each message is POSTed as JSON to your endpoint."
#define HM_DESC_ES                                                                                 \
    "Envía correo mediante una llamada HTTP: cada mensaje se envía como JSON a tu endpoint."
#define HM_PLACEHOLDER "https://example.com/your-http-email-endpoint"
#endif

/* Logto's got call sets no timeout; a sign-in waits on this one, so it is bounded. */
#define SEND_TIMEOUT_MS 10000

/* The longest upstream message quoted in a log line. */
#define QUOTE_MAX 200

/* What is wrong with the configuration, or NULL; *field names the field at fault. */
static const char *config_problem(struct latch_connector_ctx *ctx,
                                  const struct latch_connector_host *host, const char **field)
{
    const char *endpoint = host->config_get(ctx, "endpoint");
    const char *authorization = host->config_get(ctx, "authorization");
    const char *why;

    *field = "endpoint";
    why = kit_https_url_problem(endpoint);
    if (why != NULL)
        return why;
    *field = "authorization";
    if (authorization != NULL && (why = kit_header_value_problem(authorization)) != NULL)
        return why;
    return NULL;
}

static int hm_validate_config(struct latch_connector_ctx *ctx,
                              const struct latch_connector_host *host, const char **why)
{
    const char *field;
    const char *problem;

    if (why == NULL || !kit_host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    *why = NULL;
    problem = config_problem(ctx, host, &field);
    if (problem == NULL)
        return LATCH_CONNECTOR_OK;
    *why = host->format(ctx, "%s %s", field, problem);
    if (*why == NULL)
        *why = "the configuration is not valid";
    return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
}

/* Logto's body: {to, type, payload, ip?}; payload holds the variables as strings. */
static char *payload_json(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                          const struct latch_connector_message *msg, const struct kit_vars *vars)
{
    char *payload = host->dup(ctx, "");
    char *to = host->json_string(ctx, msg->to);
    char *type = host->json_string(ctx, msg->type_name);

    for (size_t i = 0; payload != NULL && i < vars->n; i++) {
        char *name = host->json_string(ctx, vars->v[i].name);
        char *value = host->json_string(ctx, vars->v[i].value);
        if (name == NULL || value == NULL)
            return NULL;
        payload = host->format(ctx, "%s%s%s: %s", payload, i > 0 ? ", " : "", name, value);
    }
    if (payload == NULL || to == NULL || type == NULL)
        return NULL;
    if (!kit_nonempty(msg->ip))
        return host->format(ctx, "{\"to\": %s, \"type\": %s, \"payload\": {%s}}", to, type,
                            payload);
    char *ip = host->json_string(ctx, msg->ip);
    if (ip == NULL)
        return NULL;
    return host->format(ctx, "{\"to\": %s, \"type\": %s, \"payload\": {%s}, \"ip\": %s}", to, type,
                        payload, ip);
}

/* The endpoint's own explanation when its answer is JSON with one ("message", "error" or
 * "error.message"), else NULL. */
static const char *upstream_message(struct latch_connector_ctx *ctx,
                                    const struct latch_connector_host *host,
                                    const struct latch_connector_http_response *resp)
{
    static const char *const paths[] = {"message", "error.message", "error"};
    const char *text = NULL;

    if (resp->body == NULL || resp->body_len == 0)
        return NULL;
    for (size_t i = 0; text == NULL && i < sizeof(paths) / sizeof(paths[0]); i++)
        text = host->json_get(ctx, resp->body, paths[i]);
    return text;
}

static int refused(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                   const struct latch_connector_http_response *resp, const struct kit_vars *vars)
{
    const char *text = upstream_message(ctx, host, resp);
    const char *hint = "";
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    if (resp->status == 401 || resp->status == 403) {
        hint = " (check the authorization field)";
        rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    } else if (resp->status == 404) {
        hint = " (check the endpoint URL)";
        rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    } else if (resp->status >= 300 && resp->status < 400) {
        hint = " (redirects are not followed: configure the final URL)";
    }
    text = kit_quote(ctx, host, text, QUOTE_MAX, vars);
    host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the %s endpoint answered HTTP %d%s%s%s", HM_WHAT,
                  resp->status, hint, text != NULL ? ": " : "", text != NULL ? text : "");
    return rc;
}

static int hm_send_message(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                           const struct latch_connector_message *msg)
{
    struct kit_vars vars;
    struct latch_connector_http_header headers[2];
    const char *field;
    const char *problem;
    const char *authorization;
    char *body;
    size_t nheaders = 0;
    int rc;

    if (!kit_host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (!kit_message_vars(ctx, host, msg, &vars))
        return LATCH_CONNECTOR_ERR_GENERAL;
    /* Logto checks the config on every send, too: an instance saved before a check existed
     * fails here with the reason instead of upstream with a guess. */
    problem = config_problem(ctx, host, &field);
    if (problem != NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "%s %s", field, problem);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    body = payload_json(ctx, host, msg, &vars);
    if (body == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    headers[nheaders++] = (struct latch_connector_http_header){"Content-Type", "application/json"};
    authorization = host->config_get(ctx, "authorization");
    if (kit_nonempty(authorization))
        headers[nheaders++] = (struct latch_connector_http_header){"Authorization", authorization};
    struct latch_connector_http_request req = {
        .struct_size = sizeof(req),
        .timeout_ms = SEND_TIMEOUT_MS,
        .method = "POST",
        .url = host->config_get(ctx, "endpoint"),
        .headers = headers,
        .nheaders = nheaders,
        .body = body,
        .body_len = strlen(body),
    };
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;

    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "the %s endpoint did not answer%s", HM_WHAT,
                      rc == LATCH_CONNECTOR_ERR_TIMEOUT ? " in time" : "");
        return kit_http_failure(rc);
    }
    if (resp.status < 200 || resp.status > 299)
        return refused(ctx, host, &resp, &vars);
    host->log_msg(ctx, LATCH_CONNECTOR_LOG_INFO,
                  "the %s endpoint accepted the %s message (HTTP %d)", HM_WHAT, msg->type_name,
                  resp.status);
    return LATCH_CONNECTOR_OK;
}

/* ---- the descriptor ---- */

static const struct latch_connector_i18n hm_name[] = {
    {"en", HM_NAME_EN},
    {"es", HM_NAME_ES},
    {NULL, NULL},
};

static const struct latch_connector_i18n hm_description[] = {
    {"en", HM_DESC_EN},
    {"es", HM_DESC_ES},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_endpoint[] = {
    {"en", "Endpoint"},
    {"es", "Endpoint"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_endpoint[] = {
    {"en", "The https URL Latch POSTs each message to, e.g. " HM_PLACEHOLDER "."},
    {"es", "La URL https a la que Latch envía (POST) cada mensaje, p. ej. " HM_PLACEHOLDER "."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_authorization[] = {
    {"en", "Authorization Header"},
    {"es", "Cabecera Authorization"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_authorization[] = {
    {"en", "Sent as the Authorization header of every request, e.g. \"Bearer <your-token>\"; "
           "check it in your server. Optional."},
    {"es", "Se envía como cabecera Authorization de cada petición, p. ej. \"Bearer <tu-token>\"; "
           "compruébala en tu servidor. Opcional."},
    {NULL, NULL},
};

static const struct latch_connector_field hm_fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "endpoint",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 0,
        .default_value = NULL,
        .label = label_endpoint,
        .description = description_endpoint,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "authorization",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 0,
        .confidential = 1,
        .default_value = NULL,
        .label = label_authorization,
        .description = description_authorization,
    },
};

static const struct latch_connector_ops hm_ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .validate_config = hm_validate_config,
    .send_message = hm_send_message,
};

static const struct latch_connector_descriptor hm_descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = HM_KIND,
    .flags = 0,
    .id = HM_ID,
    .target = HM_ID,
    .version = "1.0.0",
    .name = hm_name,
    .description = hm_description,
    .logo = HM_LOGO_SVG,
    .logo_dark = NULL,
    .readme = HM_README_MD,
    .config_template = "{\"endpoint\": \"" HM_PLACEHOLDER "\", "
                       "\"authorization\": \"Bearer <your-token>\"}",
    .fields = hm_fields,
    .nfields = sizeof(hm_fields) / sizeof(hm_fields[0]),
    .ops = &hm_ops,
};

LATCH_CONNECTOR_DEFINE(hm_descriptor)
