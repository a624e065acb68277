/*
 * The Twilio SMS connector (twilio-sms.so): text messages through Twilio's Programmable
 * Messaging API, configured as Logto's connector-twilio-sms is (accountSID, authToken,
 * fromMessagingServiceSID, disableRiskCheck, templates [{usageType, content}]), so that a
 * configuration moves between the two as it is.
 *
 * send_message picks the template whose usageType is the message's type (else the Generic
 * one), fills its {{name}} placeholders with host->render_template (no HTML escaping: an SMS is
 * plain text), and POSTs to https://api.twilio.com/2010-04-01/Accounts/<AccountSid>/Messages.json
 * the form To (E.164 with its '+'), MessagingServiceSid, Body and RiskCheck, with HTTP Basic
 * <AccountSid>:<AuthToken>. A 2xx answer means Twilio queued the message; an error answer's
 * {code, message} becomes the log line, and its HTTP status the result (401, 403 and 404 say
 * the credentials or the account are wrong: ERR_INVALID_CONFIG).
 *
 * Written against plugins-api/latch/connector.h and connectors/kit/ alone (the templates are read
 * with the host's JSON services); the host calls send_message on its I/O worker lane, and
 * nothing here keeps state, so it is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <latch/connector.h>

#include "kit.h"
#include "twilio_sms_assets.h" /* generated: TWILIO_LOGO_SVG, TWILIO_README_MD */

#define MESSAGES_URL "https://api.twilio.com/2010-04-01/Accounts/%s/Messages.json"

/* Twilio answers in well under a second; a sign-in waits on this, so it is bounded. */
#define SEND_TIMEOUT_MS 10000

/* Bounds of the templates field: one template per usage type at most, and Twilio's own limit
 * on a message body (1600 characters). */
#define TEMPLATES_MAX     16
#define CONTENT_CHARS_MAX 1600
#define AUTH_TOKEN_MAX    256

/* The longest part of Twilio's error message quoted in a log line. */
#define QUOTE_MAX 200

/* Logto's TemplateType names: the usageType values a template may have. */
static const char *const usage_types[] = {
    "SignIn",
    "Register",
    "ForgotPassword",
    "OrganizationInvitation",
    "Generic",
    "UserPermissionValidation",
    "BindNewIdentifier",
    "MfaVerification",
    "BindMfa",
};

/* Those Logto requires in every configuration (its twilioSmsConfigGuard). */
static const char *const required_usage_types[] = {"Register", "SignIn", "ForgotPassword",
                                                   "Generic"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* "<prefix>" followed by 32 hex digits: Twilio's SIDs (AC... accounts, MG... services). */
static bool is_sid(const char *s, const char *prefix)
{
    if (s == NULL || strncmp(s, prefix, 2) != 0 || strlen(s) != 34)
        return false;
    return strspn(s + 2, "0123456789abcdefABCDEF") == 32;
}

static bool known_usage_type(const char *name)
{
    for (size_t i = 0; i < COUNT(usage_types); i++)
        if (strcmp(usage_types[i], name) == 0)
            return true;
    return false;
}

/* Characters (UTF-8 code points) in s, as Twilio counts a body's length. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        n += (*p & 0xC0) != 0x80;
    return n;
}

/*
 * The number of elements of the JSON array text (already known to be a valid array, see
 * read_templates): commas at depth one outside strings, plus one unless the array is empty.
 * The host's JSON services read members of objects, not lengths of arrays; in a valid document
 * this count needs no parser.
 */
static size_t array_length(const char *text)
{
    size_t commas = 0;
    int depth = 0;
    bool in_string = false;
    bool any = false;

    for (const char *p = text; *p != '\0'; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                in_string = false;
            continue;
        }
        if (depth == 1 && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != ']')
            any = true;
        if (*p == '"')
            in_string = true;
        else if (*p == '[' || *p == '{')
            depth++;
        else if (*p == ']' || *p == '}')
            depth--;
        else if (*p == ',' && depth == 1)
            commas++;
    }
    return any ? commas + 1 : 0;
}

/* One template as read from the config. */
struct template
{
    const char *usage_type;
    const char *content;
};

/*
 * Reads and checks the templates field (a JSON array of {usageType, content} objects; other
 * members are ignored, as Logto's guard ignores them) into out[*n]. Returns NULL, or a phrase
 * for the administrator saying what is wrong.
 */
static const char *read_templates(struct latch_connector_ctx *ctx,
                                  const struct latch_connector_host *host,
                                  struct template out[TEMPLATES_MAX], size_t *n)
{
    const char *text = host->config_get(ctx, "templates");
    struct latch_connector_json_members top = LATCH_CONNECTOR_JSON_MEMBERS_INIT;
    const char *doc;
    size_t count;

    *n = 0;
    if (!kit_nonempty(text))
        return "templates is required";
    /* Wrapped in an object, the host's reader checks the whole text and tells its type. */
    doc = host->format(ctx, "{\"templates\": %s}", text);
    if (doc == NULL)
        return "templates cannot be read (out of memory)";
    if (host->json_members(ctx, doc, NULL, &top) != LATCH_CONNECTOR_OK)
        return host->format(ctx, "templates %s", top.why != NULL ? top.why : "is not valid JSON");
    if (top.count != 1 || strcmp(top.names[0], "templates") != 0 ||
        top.types[0] != LATCH_CONNECTOR_JSON_ARRAY)
        return "templates must be a JSON array of {\"usageType\", \"content\"} objects";
    count = array_length(text);
    if (count > TEMPLATES_MAX)
        return host->format(ctx, "templates has %zu entries; at most %d", count, TEMPLATES_MAX);

    for (size_t i = 0; i < count; i++) {
        struct latch_connector_json_members t = LATCH_CONNECTOR_JSON_MEMBERS_INIT;
        const char *path = host->format(ctx, "templates.%zu", i);
        const char *usage = NULL;
        const char *content = NULL;

        if (path == NULL || host->json_members(ctx, doc, path, &t) != LATCH_CONNECTOR_OK)
            return host->format(ctx, "templates[%zu] must be an object with usageType and content",
                                i);
        for (size_t m = 0; m < t.count; m++) {
            bool is_usage = strcmp(t.names[m], "usageType") == 0;
            if (!is_usage && strcmp(t.names[m], "content") != 0)
                continue;
            if (t.types[m] != LATCH_CONNECTOR_JSON_STRING)
                return host->format(ctx, "templates[%zu].%s must be a string", i, t.names[m]);
            *(is_usage ? &usage : &content) = t.values[m];
        }
        if (usage == NULL || content == NULL)
            return host->format(ctx, "templates[%zu] lacks %s", i,
                                usage == NULL ? "usageType" : "content");
        if (!known_usage_type(usage))
            return host->format(ctx,
                                "templates[%zu].usageType \"%.64s\" is not one of SignIn, "
                                "Register, ForgotPassword, OrganizationInvitation, Generic, "
                                "UserPermissionValidation, BindNewIdentifier, MfaVerification, "
                                "BindMfa",
                                i, usage);
        for (size_t j = 0; j < *n; j++)
            if (strcmp(out[j].usage_type, usage) == 0)
                return host->format(ctx, "templates has two entries for usageType %s", usage);
        if (content[0] == '\0' || utf8_chars(content) > CONTENT_CHARS_MAX)
            return host->format(ctx, "templates[%zu].content must have 1 to %d characters", i,
                                CONTENT_CHARS_MAX);
        out[(*n)++] = (struct template){usage, content};
    }
    for (size_t r = 0; r < COUNT(required_usage_types); r++) {
        bool found = false;
        for (size_t j = 0; j < *n && !found; j++)
            found = strcmp(out[j].usage_type, required_usage_types[r]) == 0;
        if (!found)
            return host->format(ctx,
                                "templates lacks the %s template (SignIn, Register, "
                                "ForgotPassword and Generic are required)",
                                required_usage_types[r]);
    }
    return NULL;
}

/* The whole configuration's problem, or NULL (templates in out when given). */
static const char *config_problem(struct latch_connector_ctx *ctx,
                                  const struct latch_connector_host *host,
                                  struct template out[TEMPLATES_MAX], size_t *n)
{
    const char *token = host->config_get(ctx, "authToken");
    const char *risk = host->config_get(ctx, "disableRiskCheck");

    if (!is_sid(host->config_get(ctx, "accountSID"), "AC"))
        return "accountSID must be a Twilio Account SID: AC followed by 32 hexadecimal digits";
    if (!kit_nonempty(token))
        return "authToken is required";
    if (strlen(token) > AUTH_TOKEN_MAX || kit_header_value_problem(token) != NULL)
        return "authToken must be at most 256 characters without control characters";
    if (!is_sid(host->config_get(ctx, "fromMessagingServiceSID"), "MG"))
        return "fromMessagingServiceSID must be a Messaging Service SID: MG followed by 32 "
               "hexadecimal digits";
    if (risk != NULL && strcmp(risk, "true") != 0 && strcmp(risk, "false") != 0)
        return "disableRiskCheck must be true or false";
    return read_templates(ctx, host, out, n);
}

static int twilio_validate_config(struct latch_connector_ctx *ctx,
                                  const struct latch_connector_host *host, const char **why)
{
    struct template templates[TEMPLATES_MAX];
    size_t n;

    if (why == NULL || !kit_host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    *why = config_problem(ctx, host, templates, &n);
    return *why == NULL ? LATCH_CONNECTOR_OK : LATCH_CONNECTOR_ERR_INVALID_CONFIG;
}

/* The template for type_name, else the Generic one (Logto's getConfigTemplateByType). */
static const struct template *pick(const struct template *t, size_t n, const char *type_name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].usage_type, type_name) == 0)
            return &t[i];
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].usage_type, "Generic") == 0)
            return &t[i];
    return NULL;
}

/* Twilio's To: E.164 with its '+'. The host hands over digits without it (Logto's form);
 * Logto adds the '+' when it is missing, and so does this. NULL when to is no phone number. */
static const char *e164(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const char *to)
{
    const char *digits = to[0] == '+' ? to + 1 : to;
    size_t n = strlen(digits);

    if (n < 2 || n > 15 || strspn(digits, "0123456789") != n || digits[0] == '0')
        return NULL;
    return host->format(ctx, "+%s", digits);
}

/* Twilio's error answer as a log line and a status. */
static int refused(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                   const struct latch_connector_http_response *resp, const struct kit_vars *vars)
{
    const char *code = host->json_get(ctx, resp->body, "code");
    const char *message = host->json_get(ctx, resp->body, "message");
    const char *hint = "";
    int rc = LATCH_CONNECTOR_ERR_GENERAL;

    switch (resp->status) {
    case 401:
        hint = " (check accountSID and authToken)";
        rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
        break;
    case 403:
        hint = " (the account may not send this message: check the account and its permissions)";
        rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
        break;
    case 404:
        hint = " (check accountSID)";
        rc = LATCH_CONNECTOR_ERR_INVALID_CONFIG;
        break;
    case 429:
        hint = " (rate limited: try again later)";
        break;
    default:
        if (resp->status >= 300 && resp->status < 400)
            hint = " (a redirect, which is not followed)";
        break;
    }
    message = kit_quote(ctx, host, message, QUOTE_MAX, vars);
    code = kit_quote(ctx, host, code, 16, vars);
    host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "Twilio refused the message: HTTP %d%s%s%s%s%s",
                  resp->status, hint, code != NULL ? ", error " : "", code != NULL ? code : "",
                  message != NULL ? ": " : "", message != NULL ? message : "");
    return rc;
}

static int twilio_send_message(struct latch_connector_ctx *ctx,
                               const struct latch_connector_host *host,
                               const struct latch_connector_message *msg)
{
    struct template templates[TEMPLATES_MAX];
    struct kit_vars vars;
    const struct template *tpl;
    const char *problem;
    const char *account;
    const char *to;
    const char *credentials;
    const char *basic;
    const char *url;
    const char *risk;
    char *text;
    char *form = NULL;
    size_t n;
    int rc;

    if (!kit_host_ok(host))
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (!kit_message_vars(ctx, host, msg, &vars))
        return LATCH_CONNECTOR_ERR_GENERAL;
    problem = config_problem(ctx, host, templates, &n);
    if (problem != NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "%s", problem);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    tpl = pick(templates, n, msg->type_name);
    if (tpl == NULL) { /* the check above requires Generic; kept for a later relaxation */
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "no template for %.64s nor a Generic one",
                      msg->type_name);
        return LATCH_CONNECTOR_ERR_INVALID_CONFIG;
    }
    to = e164(ctx, host, msg->to);
    if (to == NULL) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR,
                      "the recipient is not a phone number in E.164 form");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    /* Plain text: no HTML escaping of the values. */
    text = host->render_template(ctx, tpl->content, vars.v, vars.n, 0);
    if (text == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    account = host->config_get(ctx, "accountSID");
    risk = host->config_get(ctx, "disableRiskCheck");
    /* Logto's parameters, in its order. */
    if (host->form_add(ctx, &form, "To", to) != 0 ||
        host->form_add(ctx, &form, "MessagingServiceSid",
                       host->config_get(ctx, "fromMessagingServiceSID")) != 0 ||
        host->form_add(ctx, &form, "Body", text) != 0 ||
        host->form_add(ctx, &form, "RiskCheck",
                       risk != NULL && strcmp(risk, "true") == 0 ? "disable" : "enable") != 0 ||
        form == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    credentials = host->format(ctx, "%s:%s", account, host->config_get(ctx, "authToken"));
    basic = credentials != NULL ? host->base64(ctx, credentials, strlen(credentials)) : NULL;
    basic = basic != NULL ? host->format(ctx, "Basic %s", basic) : NULL;
    url = host->format(ctx, MESSAGES_URL, account);
    if (basic == NULL || url == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;

    const struct latch_connector_http_header headers[] = {
        {"Authorization", basic},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    struct latch_connector_http_request req = {
        .struct_size = sizeof(req),
        .timeout_ms = SEND_TIMEOUT_MS,
        .method = "POST",
        .url = url,
        .headers = headers,
        .nheaders = COUNT(headers),
        .body = form,
        .body_len = strlen(form),
    };
    struct latch_connector_http_response resp = LATCH_CONNECTOR_HTTP_RESPONSE_INIT;

    rc = host->http(ctx, &req, &resp);
    if (rc != LATCH_CONNECTOR_OK) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "Twilio did not answer%s",
                      rc == LATCH_CONNECTOR_ERR_TIMEOUT ? " in time" : "");
        return kit_http_failure(rc);
    }
    if (resp.status < 200 || resp.status > 299)
        return refused(ctx, host, &resp, &vars);
    const char *sid = host->json_get(ctx, resp.body, "sid");
    const char *status = host->json_get(ctx, resp.body, "status");
    host->log_msg(ctx, LATCH_CONNECTOR_LOG_INFO,
                  "Twilio accepted the %.64s message: sid %.40s, status %.32s", msg->type_name,
                  sid != NULL ? sid : "(none)", status != NULL ? status : "(none)");
    return LATCH_CONNECTOR_OK;
}

/* ---- the descriptor ---- */

static const struct latch_connector_i18n twilio_name[] = {
    {"en", "Twilio SMS Service"},
    {"es", "Servicio de SMS de Twilio"},
    {NULL, NULL},
};

static const struct latch_connector_i18n twilio_description[] = {
    {"en", "Twilio provides programmable communication tools for phone calls and messages."},
    {"es", "Twilio ofrece herramientas de comunicación programables para llamadas y mensajes."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_account_sid[] = {
    {"en", "Account SID"},
    {"es", "SID de la cuenta"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_account_sid[] = {
    {"en", "Your Twilio Account SID (AC followed by 32 hexadecimal digits), from the Twilio "
           "Console's Account Info."},
    {"es", "El Account SID de tu cuenta de Twilio (AC seguido de 32 dígitos hexadecimales), en "
           "Account Info de la consola de Twilio."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_auth_token[] = {
    {"en", "Auth Token"},
    {"es", "Token de autenticación"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_auth_token[] = {
    {"en", "The Auth Token of the same account (Account Info in the Twilio Console)."},
    {"es", "El Auth Token de la misma cuenta (Account Info en la consola de Twilio)."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_service_sid[] = {
    {"en", "From Messaging Service SID"},
    {"es", "SID del servicio de mensajería remitente"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_service_sid[] = {
    {"en", "The SID (MG followed by 32 hexadecimal digits) of the Messaging Service whose sender "
           "pool sends the messages."},
    {"es", "El SID (MG seguido de 32 dígitos hexadecimales) del Messaging Service cuyos "
           "remitentes envían los mensajes."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_risk_check[] = {
    {"en", "Disable risk check"},
    {"es", "Desactivar la comprobación de riesgo"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_risk_check[] = {
    {"en", "Turns off Twilio's built-in risk check (SMS pumping protection) for these messages. "
           "Off by default: the check stays on."},
    {"es", "Desactiva la comprobación de riesgo de Twilio (protección contra el SMS pumping) para "
           "estos mensajes. Por defecto la comprobación sigue activa."},
    {NULL, NULL},
};

static const struct latch_connector_i18n label_templates[] = {
    {"en", "Templates"},
    {"es", "Plantillas"},
    {NULL, NULL},
};

static const struct latch_connector_i18n description_templates[] = {
    {"en", "A JSON array of {\"usageType\", \"content\"}: the text sent for each kind of message, "
           "with {{code}} (and {{link}}, {{locale}}...) filled in. SignIn, Register, "
           "ForgotPassword and Generic are required; a type without its own template uses "
           "Generic's."},
    {"es", "Un array JSON de {\"usageType\", \"content\"}: el texto que se envía para cada tipo de "
           "mensaje, con {{code}} (y {{link}}, {{locale}}...) sustituidos. SignIn, Register, "
           "ForgotPassword y Generic son obligatorias; un tipo sin plantilla propia usa la de "
           "Generic."},
    {NULL, NULL},
};

/* Logto's defaults, one template per type, without its brand name. */
static const char default_templates[] =
    "["
    "{\"usageType\": \"SignIn\", "
    "\"content\": \"Your sign-in verification code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"Register\", "
    "\"content\": \"Your sign-up verification code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"ForgotPassword\", "
    "\"content\": \"Your password change verification code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"OrganizationInvitation\", "
    "\"content\": \"Your organization invitation code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"Generic\", "
    "\"content\": \"Your verification code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"UserPermissionValidation\", "
    "\"content\": \"Your permission validation code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"BindNewIdentifier\", "
    "\"content\": \"Your new identifier binding code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"MfaVerification\", "
    "\"content\": \"Your MFA verification code is {{code}}. "
    "The code will remain active for 10 minutes.\"}, "
    "{\"usageType\": \"BindMfa\", "
    "\"content\": \"Your 2-step verification setup code is {{code}}. "
    "The code will remain active for 10 minutes.\"}]";

static const struct latch_connector_field twilio_fields[] = {
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "accountSID",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 0,
        .label = label_account_sid,
        .description = description_account_sid,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "authToken",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 1,
        .label = label_auth_token,
        .description = description_auth_token,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "fromMessagingServiceSID",
        .type = LATCH_CONNECTOR_FIELD_TEXT,
        .required = 1,
        .confidential = 0,
        .label = label_service_sid,
        .description = description_service_sid,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "disableRiskCheck",
        .type = LATCH_CONNECTOR_FIELD_SWITCH,
        .required = 0,
        .confidential = 0,
        .default_value = "false",
        .label = label_risk_check,
        .description = description_risk_check,
    },
    {
        .struct_size = sizeof(struct latch_connector_field),
        .key = "templates",
        .type = LATCH_CONNECTOR_FIELD_JSON,
        .required = 1,
        .confidential = 0,
        .default_value = default_templates,
        .label = label_templates,
        .description = description_templates,
    },
};

static const struct latch_connector_ops twilio_ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .validate_config = twilio_validate_config,
    .send_message = twilio_send_message,
};

static const struct latch_connector_descriptor twilio_descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = LATCH_CONNECTOR_SMS,
    .flags = 0,
    .id = "twilio-short-message-service",
    .target = "twilio-sms",
    .version = "1.0.0",
    .name = twilio_name,
    .description = twilio_description,
    .logo = TWILIO_LOGO_SVG,
    .logo_dark = NULL,
    .readme = TWILIO_README_MD,
    .config_template =
        "{\"accountSID\": \"AC<32 hexadecimal digits>\", \"authToken\": \"<auth-token>\", "
        "\"fromMessagingServiceSID\": \"MG<32 hexadecimal digits>\", \"disableRiskCheck\": false, "
        "\"templates\": [{\"usageType\": \"SignIn\", \"content\": \"Your sign-in code is "
        "{{code}}.\"}, "
        "{\"usageType\": \"Register\", \"content\": \"Your sign-up code is {{code}}.\"}, "
        "{\"usageType\": \"ForgotPassword\", \"content\": \"Your password reset code is "
        "{{code}}.\"}, "
        "{\"usageType\": \"Generic\", \"content\": \"Your verification code is {{code}}.\"}]}",
    .fields = twilio_fields,
    .nfields = COUNT(twilio_fields),
    .ops = &twilio_ops,
};

LATCH_CONNECTOR_DEFINE(twilio_descriptor)
