/*
 * mailer: a test email connector (ABI 1.1), or with -DMAILER_SMS an SMS one, loaded by
 * tests/unit/plugin/test_loader.c to drive send_message through the real host. It writes what
 * it received to the file its config names (outFile) as a JSON object — type, type name,
 * recipient, locale, client address, variables, the tenant's template — with the template
 * rendered by host->render_template (HTML-escaped for text/html); config "fail" makes it fail
 * with that status, and mode "smtp" hands a small mail to host->smtp_send (smtpHost, smtpPort,
 * smtpTls, smtpUser, smtpPass) and records the server's reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <latch/connector.h>

#ifdef MAILER_SMS
#define MAILER_KIND LATCH_CONNECTOR_SMS
#define MAILER_ID   "test-sms"
#else
#define MAILER_KIND LATCH_CONNECTOR_EMAIL
#define MAILER_ID   "test-mailer"
#endif

/* The configured template, used when the tenant has none for the message. */
#define DEFAULT_TEMPLATE "{{type}}: your code is {{ code }}"

static int write_file(const char *path, const char *text)
{
    FILE *f = path != NULL ? fopen(path, "w") : NULL;
    if (f == NULL)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* The message's variables as a JSON object, and "type" (the type's name) added for templates. */
static char *vars_json(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                       const struct latch_connector_message *msg)
{
    char *out = "{";
    for (size_t i = 0; out != NULL && i < msg->nvars; i++)
        out = host->format(ctx, "%s%s%s:%s", out, i > 0 ? "," : "",
                           host->json_string(ctx, msg->vars[i].name),
                           host->json_string(ctx, msg->vars[i].value));
    return out != NULL ? host->format(ctx, "%s}", out) : NULL;
}

static int smtp_mode(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                     const struct latch_connector_message *msg, const char *out_file)
{
    struct latch_connector_smtp_request req = LATCH_CONNECTOR_SMTP_REQUEST_INIT;
    struct latch_connector_smtp_response resp = LATCH_CONNECTOR_SMTP_RESPONSE_INIT;
    const char *port = host->config_get(ctx, "smtpPort");
    const char *tls = host->config_get(ctx, "smtpTls");
    const char *rcpt[] = {msg->to};
    char *data = host->format(ctx,
                              "From: <noreply@latch.test>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n"
                              ".code %s\r\n",
                              msg->to, msg->type_name, msg->nvars > 0 ? msg->vars[0].value : "");

    req.host = host->config_get(ctx, "smtpHost");
    req.port = (uint16_t)(port != NULL ? atoi(port) : 0);
    req.tls = (uint32_t)(tls != NULL ? atoi(tls) : LATCH_CONNECTOR_SMTP_TLS_NONE);
    req.username = host->config_get(ctx, "smtpUser");
    req.password = host->config_get(ctx, "smtpPass");
    req.mail_from = "noreply@latch.test";
    req.rcpt = rcpt;
    req.nrcpt = 1;
    req.data = data;
    req.data_len = data != NULL ? strlen(data) : 0;
    int rc = host->smtp_send(ctx, &req, &resp);
    char *report = host->format(ctx, "{\"rc\":%d,\"code\":%d,\"message\":%s}", rc, resp.code,
                                host->json_string(ctx, resp.message));
    if (report == NULL || write_file(out_file, report) != 0)
        return LATCH_CONNECTOR_ERR_GENERAL;
    return rc;
}

static int send_message(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                        const struct latch_connector_message *msg)
{
    const char *out_file = host->config_get(ctx, "outFile");
    const char *fail = host->config_get(ctx, "fail");
    const char *mode = host->config_get(ctx, "mode");

    if (fail != NULL && atoi(fail) != 0) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_WARN, "failing on purpose with %d", atoi(fail));
        return atoi(fail);
    }
    if (mode != NULL && strcmp(mode, "smtp") == 0)
        return smtp_mode(ctx, host, msg, out_file);

    /* The template: the tenant's when there is one, else the configured one; "type" is one
     * more variable for it. */
    struct latch_connector_param *vars =
        host->alloc(ctx, (msg->nvars + 1) * sizeof(struct latch_connector_param));
    if (vars == NULL)
        return LATCH_CONNECTOR_ERR_GENERAL;
    if (msg->nvars > 0)
        memcpy(vars, msg->vars, msg->nvars * sizeof(*vars));
    vars[msg->nvars].name = "type";
    vars[msg->nvars].value = msg->type_name;
    const char *tpl = msg->content != NULL ? msg->content : DEFAULT_TEMPLATE;
    unsigned flags = msg->content_type != NULL && strcmp(msg->content_type, "text/html") == 0
                         ? LATCH_CONNECTOR_RENDER_HTML
                         : 0;
    char *body = host->render_template(ctx, tpl, vars, msg->nvars + 1, flags);
    char *subject = msg->subject != NULL
                        ? host->render_template(ctx, msg->subject, vars, msg->nvars + 1, 0)
                        : NULL;

#define S(x) host->json_string(ctx, (x))
    char *report = host->format(
        ctx,
        "{\"struct_size\":%u,\"type\":%u,\"type_name\":%s,\"to\":%s,\"locale\":%s,\"ip\":%s,"
        "\"vars\":%s,\"subject\":%s,\"content_type\":%s,\"body\":%s}",
        (unsigned)msg->struct_size, (unsigned)msg->type, S(msg->type_name), S(msg->to),
        S(msg->locale), S(msg->ip), vars_json(ctx, host, msg), S(subject), S(msg->content_type),
        S(body));
#undef S
    if (report == NULL || write_file(out_file, report) != 0) {
        host->log_msg(ctx, LATCH_CONNECTOR_LOG_ERROR, "cannot write the report");
        return LATCH_CONNECTOR_ERR_GENERAL;
    }
    return LATCH_CONNECTOR_OK;
}

static const struct latch_connector_ops ops = {
    .struct_size = sizeof(struct latch_connector_ops),
    .send_message = send_message,
};

#define LABEL(t) ((const struct latch_connector_i18n[]){{"en", t}, {NULL, NULL}})

static const struct latch_connector_field fields[] = {
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_TEXT,
     .key = "outFile",
     .required = 1,
     .label = LABEL("Report file")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_TEXT,
     .key = "mode",
     .default_value = "file",
     .label = LABEL("Mode")},
    {.struct_size = sizeof(struct latch_connector_field),
     .type = LATCH_CONNECTOR_FIELD_TEXT,
     .key = "smtpPass",
     .confidential = 1,
     .label = LABEL("SMTP password")},
};

static const struct latch_connector_descriptor descriptor = {
    LATCH_CONNECTOR_DESCRIPTOR_HEADER,
    .kind = MAILER_KIND,
    .id = MAILER_ID,
    .target = "mailer",
    .version = "1.1.0",
    .name = LABEL("Test mailer"),
    .description = LABEL("Records the messages it is asked to send."),
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .ops = &ops,
};

LATCH_CONNECTOR_DEFINE(descriptor)
