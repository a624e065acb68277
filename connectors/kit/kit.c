/*
 * connectors/kit/kit.c: the helpers the message connectors share (see kit.h): host checks, a
 * message's variables, URL and header checks, and the redaction test for upstream answers.
 */
#include "kit.h"

#include <string.h>

#define URL_MAX    2048
#define HEADER_MAX 4096

bool kit_nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool kit_host_ok(const struct latch_connector_host *host)
{
    return host != NULL && host->host_major == LATCH_CONNECTOR_ABI_MAJOR &&
           LATCH_CONNECTOR_HAS(host, struct latch_connector_host, render_template) &&
           host->render_template != NULL;
}

static bool has_var(const struct kit_vars *vars, const char *name)
{
    for (size_t i = 0; i < vars->n; i++)
        if (strcmp(vars->v[i].name, name) == 0)
            return true;
    return false;
}

bool kit_message_vars(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                      const struct latch_connector_message *msg, struct kit_vars *out)
{
    out->n = 0;
    if (msg == NULL ||
        msg->struct_size < offsetof(struct latch_connector_message, ip) + sizeof(msg->ip)) {
        host->log_msg(ctx, KIT_LOG_ERROR, "no message, or a message struct older than ABI 1.1");
        return false;
    }
    if (!kit_nonempty(msg->type_name) || !kit_nonempty(msg->to)) {
        host->log_msg(ctx, KIT_LOG_ERROR, "message without a type name or a recipient");
        return false;
    }
    if (msg->nvars > KIT_VARS_MAX - 1 || (msg->nvars > 0 && msg->vars == NULL)) {
        host->log_msg(ctx, KIT_LOG_ERROR, "message with %zu variables; at most %d", msg->nvars,
                      KIT_VARS_MAX - 1);
        return false;
    }
    for (size_t i = 0; i < msg->nvars; i++) {
        const struct latch_connector_param *p = &msg->vars[i];
        if (!kit_nonempty(p->name)) {
            host->log_msg(ctx, KIT_LOG_ERROR, "message variable %zu has no name", i);
            return false;
        }
        /* A JSON object names a member once; the first value of a name is the one kept. */
        if (p->value != NULL && !has_var(out, p->name))
            out->v[out->n++] = *p;
    }
    if (kit_nonempty(msg->locale) && !has_var(out, "locale"))
        out->v[out->n++] = (struct latch_connector_param){"locale", msg->locale};
    return true;
}

bool kit_repeats_vars(const char *text, const struct kit_vars *vars)
{
    if (text == NULL)
        return false;
    for (size_t i = 0; i < vars->n; i++)
        if (strlen(vars->v[i].value) >= 4 && strstr(text, vars->v[i].value) != NULL)
            return true;
    return false;
}

const char *kit_quote(struct latch_connector_ctx *ctx, const struct latch_connector_host *host,
                      const char *text, size_t max, const struct kit_vars *vars)
{
    char *out;
    size_t n;

    if (text == NULL)
        return NULL;
    /* An upstream that echoes the request would put the code in its message. */
    if (kit_repeats_vars(text, vars))
        return "(not logged: it repeats the message's variables)";
    n = strlen(text);
    out = host->format(ctx, "%.*s%s", (int)(n > max ? max : n), text, n > max ? "..." : "");
    if (out == NULL)
        return NULL;
    /* One line per log entry, whatever the upstream wrote. */
    for (unsigned char *p = (unsigned char *)out; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

static bool has_control_or_space(const char *s, bool space_ok)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f || (!space_ok && *p == ' '))
            return true;
    return false;
}

const char *kit_https_url_problem(const char *url)
{
    const char *authority;
    size_t alen;

    if (!kit_nonempty(url))
        return "is required";
    if (strlen(url) > URL_MAX)
        return "is longer than 2048 characters";
    if (strncmp(url, "https://", 8) != 0)
        return "must be an https URL (https://...)";
    if (has_control_or_space(url, false))
        return "must not contain spaces or control characters";
    if (strchr(url, '#') != NULL)
        return "must not have a fragment (#...)";
    authority = url + 8;
    alen = strcspn(authority, "/?");
    if (alen == 0 || authority[0] == ':')
        return "must name a host (https://host/...)";
    /* Credentials in the URL would end up wherever URLs are logged; the authorization field is
     * the place for them. */
    if (memchr(authority, '@', alen) != NULL)
        return "must not carry a user name or password (use the authorization field)";
    return NULL;
}

const char *kit_header_value_problem(const char *value)
{
    if (strlen(value) > HEADER_MAX)
        return "is longer than 4096 characters";
    if (has_control_or_space(value, true))
        return "must not contain line breaks or control characters";
    return NULL;
}

int kit_http_failure(int rc)
{
    return rc == LATCH_CONNECTOR_ERR_TIMEOUT ? LATCH_CONNECTOR_ERR_TIMEOUT
                                             : LATCH_CONNECTOR_ERR_GENERAL;
}
