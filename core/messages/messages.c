/*
 * Sending a message through the tenant's email or SMS connector (messages.h).
 *
 * One round trip reads the tenant's connector of the channel (connectors.type, at most one per
 * kind) and, for email, its best email template (schema/0011); the connector's factory must be
 * loaded on this node. The send then runs on the I/O lane (per-tenant bound): the stored config
 * is opened in memory on the worker (mgmt/'s sealing), handed to send_message, and wiped. The
 * caller's callback runs on the request's loop thread once, from a store or worker completion,
 * or from a zero timeout when the message was refused before anything was sent, so a caller
 * never sees its callback run inside its own call.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/http.h"
#include "messages/messages.h"
#include "mgmt/mgmt_internal.h"
#include "plugin/plugin.h"
#include "store/store.h"
#include "util/json.h"
#include "tenants/tenants.h"
#include "util/log.h"

static const char *const template_names[LATCH_MESSAGES_TEMPLATE_MAX + 1] = {
    [LATCH_MESSAGES_TEMPLATE_SIGN_IN] = "SignIn",
    [LATCH_MESSAGES_TEMPLATE_REGISTER] = "Register",
    [LATCH_MESSAGES_TEMPLATE_FORGOT_PASSWORD] = "ForgotPassword",
    [LATCH_MESSAGES_TEMPLATE_GENERIC] = "Generic",
    [LATCH_MESSAGES_TEMPLATE_ORGANIZATION_INVITATION] = "OrganizationInvitation",
    [LATCH_MESSAGES_TEMPLATE_USER_PERMISSION_VALIDATION] = "UserPermissionValidation",
    [LATCH_MESSAGES_TEMPLATE_BIND_NEW_IDENTIFIER] = "BindNewIdentifier",
    [LATCH_MESSAGES_TEMPLATE_MFA_VERIFICATION] = "MfaVerification",
    [LATCH_MESSAGES_TEMPLATE_BIND_MFA] = "BindMfa",
};

/* enum latch_connector_kind (plugins-api/latch/connector.h); tests/unit/messages checks them. */
#define KIND_EMAIL 2
#define KIND_SMS   3

/* Logto's phone numbers: digits only (E.164 without '+'); a bound well past E.164's 15. */
#define PHONE_DIGITS_MAX 32

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/*
 * $1 tenant, $2 connector type ("Email"/"Sms"), $3 template type name, $4 locale or NULL,
 * $5 its language without region or NULL. One row: the connector (NULLs when none) and the
 * template (NULLs when none or SMS), chosen as Logto's getI18nEmailTemplate: the type in the
 * locale, in its language, in the sign-in experience's fallback language, then Generic in the
 * fallback language.
 */
static const struct latch_stmt load_stmt = {
    .name = "messages_load",
    .sql = "SELECT c.id, c.connector_id, c.config::text, t.details->>'subject',"
           " t.details->>'content', t.details->>'contentType'"
           " FROM (SELECT 1) AS one"
           " LEFT JOIN connectors c ON c.tenant_id = $1 AND c.type = $2::text"
           " LEFT JOIN LATERAL (SELECT e.details FROM email_templates e,"
           " (SELECT lower(coalesce((SELECT s.language_info->>'fallbackLanguage'"
           " FROM sign_in_experiences s WHERE s.tenant_id = $1 AND s.id = 'default'), 'en'))"
           " AS tag) AS fb"
           " WHERE e.tenant_id = $1 AND $2::text = 'Email'"
           " AND ((e.template_type = $3::text AND lower(e.language_tag) IN (lower($4::text),"
           " lower($5::text), fb.tag))"
           " OR (e.template_type = 'Generic' AND lower(e.language_tag) = fb.tag))"
           " ORDER BY CASE WHEN e.template_type <> $3::text THEN 4"
           " WHEN lower(e.language_tag) = lower($4::text) THEN 1"
           " WHEN lower(e.language_tag) = lower($5::text) THEN 2 ELSE 3 END"
           " LIMIT 1) AS t ON true"
           " ORDER BY c.created_at DESC LIMIT 1",
    .nparams = 5,
};
// clang-format on

const char *latch_messages_template_name(int type)
{
    if (type < 1 || type > LATCH_MESSAGES_TEMPLATE_MAX)
        return NULL;
    return template_names[type];
}

int latch_messages_template_type(const char *name)
{
    for (int t = 1; name != NULL && t <= LATCH_MESSAGES_TEMPLATE_MAX; t++)
        if (strcmp(template_names[t], name) == 0)
            return t;
    return 0;
}

int latch_messages_channel_kind(enum latch_messages_channel channel)
{
    return channel == LATCH_MESSAGES_EMAIL ? KIND_EMAIL
           : channel == LATCH_MESSAGES_SMS ? KIND_SMS
                                           : 0;
}

enum latch_messages_channel latch_messages_kind_channel(int kind)
{
    return kind == KIND_EMAIL ? LATCH_MESSAGES_EMAIL
           : kind == KIND_SMS ? LATCH_MESSAGES_SMS
                              : (enum latch_messages_channel)0;
}

/* ---- bounds ---- */

static bool has_space_or_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Logto's emailRegEx /^\S+@\S+\.\S+$/, with a length bound. */
static bool email_ok(const char *s)
{
    size_t n = strnlen(s, LATCH_MESSAGES_TO_MAX + 1);
    if (n == 0 || n > LATCH_MESSAGES_TO_MAX || has_space_or_control(s))
        return false;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s)
        return false;
    const char *dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

static bool phone_ok(const char *s)
{
    size_t n = strnlen(s, PHONE_DIGITS_MAX + 1);
    return n > 0 && n <= PHONE_DIGITS_MAX && strspn(s, "0123456789") == n;
}

static bool charset_ok(const char *s, size_t max, const char *set)
{
    size_t n = strnlen(s, max + 1);
    return n > 0 && n <= max && strspn(s, set) == n;
}

/* Text a template may receive: bounded, no control characters but tab and line breaks. */
static bool value_ok(const char *s)
{
    size_t n = strnlen(s, LATCH_MESSAGES_VAR_VALUE_MAX + 1);
    if (n > LATCH_MESSAGES_VAR_VALUE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return false;
    }
    return true;
}

latch_rc latch_messages_check(const struct latch_messages_send *m, struct latch_error *err)
{
    static const char digits_letters[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (m->channel != LATCH_MESSAGES_EMAIL && m->channel != LATCH_MESSAGES_SMS)
        return latch_error_set(err, 400, "guard.invalid_input", "Unknown message channel.");
    if (latch_messages_template_name(m->type) == NULL)
        return latch_error_set(err, 400, "guard.invalid_input", "Unknown message template type.");
    if (m->to == NULL || !(m->channel == LATCH_MESSAGES_EMAIL ? email_ok(m->to) : phone_ok(m->to)))
        return latch_error_set(err, 400, "guard.invalid_input",
                               m->channel == LATCH_MESSAGES_EMAIL
                                   ? "The email address is invalid."
                                   : "The phone number is invalid (digits only).");
    if (m->locale != NULL && !charset_ok(m->locale, LATCH_MESSAGES_LOCALE_MAX,
                                         "-_0123456789abcdefghijklmnopqrstuvwxyz"
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        return latch_error_set(err, 400, "guard.invalid_input", "The locale is invalid.");
    if (m->nvars > LATCH_MESSAGES_VARS_MAX || (m->nvars > 0 && m->vars == NULL))
        return latch_error_set(err, 400, "guard.invalid_input", "Too many message variables.");
    for (size_t i = 0; i < m->nvars; i++) {
        const struct latch_messages_var *v = &m->vars[i];
        if (v->name == NULL || v->value == NULL)
            return latch_error_set(err, 400, "guard.invalid_input",
                                   "A message variable has no name or value.");
        char set[sizeof(digits_letters) + 2];
        snprintf(set, sizeof(set), "%s_.", digits_letters);
        if (!charset_ok(v->name, LATCH_MESSAGES_VAR_NAME_MAX, set))
            return latch_error_set(err, 400, "guard.invalid_input",
                                   "The message variable name `%.64s` is invalid.", v->name);
        if (!value_ok(v->value))
            return latch_error_set(err, 400, "guard.invalid_input",
                                   "The message variable `%s` is too long or holds control "
                                   "characters.",
                                   v->name);
    }
    return LATCH_OK;
}

/* ---- delivery (worker) ---- */

latch_rc latch_messages_deliver(struct latch_plugin *p, struct latch_plugin_call *call,
                                const struct latch_messages_send *m,
                                const struct latch_messages_template *tpl, const char *ip,
                                struct latch_error *err)
{
    const char *names[LATCH_MESSAGES_VARS_MAX], *values[LATCH_MESSAGES_VARS_MAX];
    size_t n = m->nvars < LATCH_MESSAGES_VARS_MAX ? m->nvars : LATCH_MESSAGES_VARS_MAX;
    for (size_t i = 0; i < n; i++) {
        names[i] = m->vars[i].name;
        values[i] = m->vars[i].value;
    }
    bool with_tpl = tpl != NULL && tpl->content != NULL && m->channel == LATCH_MESSAGES_EMAIL;
    struct latch_plugin_message msg = {
        .type = m->type,
        .to = m->to,
        .locale = m->locale,
        .var_names = n > 0 ? names : NULL,
        .var_values = n > 0 ? values : NULL,
        .nvars = n,
        .ip = ip,
        .subject = with_tpl ? tpl->subject : NULL,
        .content = with_tpl ? tpl->content : NULL,
        .content_type = with_tpl ? (tpl->content_type ? tpl->content_type : "text/html") : NULL,
    };
    if (latch_plugin_send_message(p, call, &msg) == LATCH_OK)
        return LATCH_OK;

    /* Logto's connector error answers (koa-connector-error-handler): the administrator's
     * config or an unusable answer of the provider are 400, a connector that cannot send
     * 501, anything else a failure of the provider (502). */
    const char *code = call->error_code[0] ? call->error_code : "connector.general";
    const char *what = m->channel == LATCH_MESSAGES_EMAIL ? "email" : "SMS";
    if (strcmp(code, "connector.invalid_config") == 0)
        return latch_error_set(err, 400, code,
                               "The %s connector's configuration was refused by its provider "
                               "(for example wrong credentials or a TLS mode the server does not "
                               "offer).",
                               what);
    if (strcmp(code, "connector.invalid_response") == 0)
        return latch_error_set(err, 400, code,
                               "The %s provider answered something the connector could not use.",
                               what);
    if (strcmp(code, "connector.address_refused") == 0)
        return latch_error_set(err, 400, code,
                               "The %s provider's address is not allowed by this server's "
                               "outbound policy (private or loopback addresses need "
                               "LATCH_OUTBOUND_ALLOW_PRIVATE).",
                               what);
    if (strcmp(code, "connector.not_implemented") == 0)
        return latch_error_set(err, 501, code, "The %s connector cannot send messages.", what);
    if (strcmp(code, "connector.timeout") == 0)
        return latch_error_set(err, 502, code, "The %s provider did not answer in time.", what);
    return latch_error_set(err, 502, code,
                           "The %s provider could not be reached or refused the "
                           "message.",
                           what);
}

void latch_messages_respond_error(struct latch_request *req, const struct latch_error *err)
{
    if (err->status != 501 && err->status != 502 && err->status != 504) {
        latch_http_respond_error(req, err);
        return;
    }
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "code");
    latch_json_string(&j, err->code);
    latch_json_key(&j, "message");
    latch_json_string(&j, err->message);
    latch_json_end_object(&j);
    size_t len = 0;
    char *body = latch_json_take(&j, &len);
    if (body == NULL) {
        latch_http_respond_error(req, err);
        return;
    }
    latch_http_respond_json(req, err->status, body, len);
    free(body);
}

/* ---- latch_messages_send ---- */

struct job {
    struct latch_request *req;
    latch_messages_cb cb;
    void *arg;
    struct latch_messages_send m; /* strings and vars copied into req->arena */
    char language[LATCH_MESSAGES_LOCALE_MAX + 1];
    const char *connector_id, *factory_id, *stored_config;
    struct latch_messages_template tpl;
    struct latch_plugin *plugin;
    const uint8_t *master;
    const char *tenant_id;
    struct latch_plugin_call call;
    latch_rc rc;
    struct latch_error err;
};

static void finish(struct job *j, const struct latch_error *err)
{
    if (j->plugin != NULL) {
        latch_plugin_unref(j->plugin);
        j->plugin = NULL;
    }
    j->cb(j->req, err, j->arg);
}

static void finish_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    finish(j, &j->err);
}

/* Reports j->err from a zero timeout (the caller is still inside latch_messages_send). */
static void fail_later(struct job *j)
{
    if (event_base_once(latch_loop_base(j->req->loop), -1, EV_TIMEOUT, finish_deferred, j,
                        &(struct timeval){0}) != 0) {
        /* libevent could not allocate the event: nothing else can carry the answer. */
        latch_http_log(j->req, LATCH_LOG_ERROR, "message: cannot schedule the answer");
        finish(j, &j->err);
    }
}

static void send_work(void *arg)
{
    struct job *j = arg;
    if (latch_mgmt_connector_call_open(&j->call, j->master, j->tenant_id, j->connector_id,
                                       j->stored_config) != LATCH_OK) {
        j->rc = latch_error_set(&j->err, 500, j->call.error_code,
                                "The %s connector's stored configuration cannot be read.",
                                j->m.channel == LATCH_MESSAGES_EMAIL ? "email" : "SMS");
    } else {
        j->rc =
            latch_messages_deliver(j->plugin, &j->call, &j->m, &j->tpl, j->req->client_ip, &j->err);
    }
    latch_mgmt_connector_call_close(&j->call);
}

static void send_done(void *arg)
{
    struct job *j = arg;
    const char *what = j->m.channel == LATCH_MESSAGES_EMAIL ? "email" : "SMS";
    if (j->rc != LATCH_OK) {
        latch_http_log(j->req, LATCH_LOG_WARN,
                       "%s message (%s) through connector %s (%s) failed: %s %s", what,
                       latch_messages_template_name(j->m.type), j->connector_id, j->factory_id,
                       j->err.code, j->call.error_detail);
        finish(j, &j->err);
        return;
    }
    latch_http_log(j->req, LATCH_LOG_INFO, "%s message (%s) sent through connector %s (%s)%s", what,
                   latch_messages_template_name(j->m.type), j->connector_id, j->factory_id,
                   j->tpl.content != NULL ? " with the tenant's template" : "");
    finish(j, NULL);
}

/* A column as a copy in the request's arena, NULL for SQL NULL. */
static const char *col(struct latch_request *req, const struct latch_store_result *res, int c)
{
    if (latch_store_result_isnull(res, 0, c))
        return NULL;
    return latch_arena_strdup(req->arena, latch_store_result_value(res, 0, c));
}

static void loaded(struct latch_store_result *const *results, int n, const struct latch_error *err,
                   void *arg)
{
    (void)n;
    struct job *j = arg;
    struct latch_request *req = j->req;
    const char *what = j->m.channel == LATCH_MESSAGES_EMAIL ? "email" : "SMS";
    if (err != NULL) {
        if (err->status == 503) {
            finish(j, err);
            return;
        }
        latch_http_log_error(req, "message: loading the connector", err);
        latch_error_set(&j->err, 500, "server_error", "Internal error.");
        finish(j, &j->err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_rows(res) < 1 || latch_store_result_isnull(res, 0, 0)) {
        latch_error_set(&j->err, 400, "connector.not_found",
                        "Cannot find any available connector for type: %s.",
                        j->m.channel == LATCH_MESSAGES_EMAIL ? "Email" : "Sms");
        finish(j, &j->err);
        return;
    }
    j->connector_id = col(req, res, 0);
    j->factory_id = col(req, res, 1);
    j->stored_config = col(req, res, 2);
    j->tpl.subject = col(req, res, 3);
    j->tpl.content = col(req, res, 4);
    j->tpl.content_type = col(req, res, 5);
    if (j->connector_id == NULL || j->factory_id == NULL || j->stored_config == NULL) {
        latch_error_set(&j->err, 503, "service_unavailable", "Out of memory.");
        finish(j, &j->err);
        return;
    }
    j->plugin = latch_plugin_get(j->factory_id);
    if (j->plugin == NULL ||
        latch_plugin_info(j->plugin)->kind != latch_messages_channel_kind(j->m.channel)) {
        latch_http_log(req, LATCH_LOG_WARN,
                       "%s connector %s: its factory %s is not loaded on this node", what,
                       j->connector_id, j->factory_id);
        latch_error_set(&j->err, 400, "connector.not_found",
                        "The %s connector of this tenant (%s) is not available on this server.",
                        what, j->factory_id);
        finish(j, &j->err);
        return;
    }
    j->tenant_id = req->tenant->id;
    j->master = latch_loop_config(req->loop)->secret_key;
    j->call.request_id = req->request_id;
    j->call.tenant = req->tenant->id;
    if (latch_http_submit(req, LATCH_LANE_IO, send_work, send_done, j, &j->err) != LATCH_OK)
        finish(j, &j->err);
}

/* Copies m into j (req->arena); false when out of memory. */
static bool copy_message(struct job *j, const struct latch_messages_send *m)
{
    struct latch_arena *a = j->req->arena;
    j->m = *m;
    j->m.to = latch_arena_strdup(a, m->to);
    j->m.locale = m->locale ? latch_arena_strdup(a, m->locale) : NULL;
    if (j->m.to == NULL || (m->locale && j->m.locale == NULL))
        return false;
    j->m.vars = NULL;
    if (m->nvars > 0) {
        struct latch_messages_var *v = latch_arena_calloc(a, m->nvars, sizeof(*v));
        if (v == NULL)
            return false;
        for (size_t i = 0; i < m->nvars; i++) {
            v[i].name = latch_arena_strdup(a, m->vars[i].name);
            v[i].value = latch_arena_strdup(a, m->vars[i].value);
            if (v[i].name == NULL || v[i].value == NULL)
                return false;
        }
        j->m.vars = v;
    }
    if (j->m.locale != NULL) {
        size_t len = strcspn(j->m.locale, "-_");
        if (len < strlen(j->m.locale) && len < sizeof(j->language)) {
            memcpy(j->language, j->m.locale, len);
            j->language[len] = '\0';
        }
    }
    return true;
}

void latch_messages_send(struct latch_request *req, const struct latch_messages_send *m,
                         latch_messages_cb cb, void *arg)
{
    struct job *j = latch_arena_calloc(req->arena, 1, sizeof(*j));
    if (j == NULL) {
        /* Nothing to defer with: answer the caller now, the one exception to "never inside". */
        struct latch_error err;
        latch_error_set(&err, 503, "service_unavailable", "Out of memory.");
        cb(req, &err, arg);
        return;
    }
    j->req = req;
    j->cb = cb;
    j->arg = arg;
    if (latch_messages_check(m, &j->err) != LATCH_OK) {
        fail_later(j);
        return;
    }
    if (!copy_message(j, m)) {
        latch_error_set(&j->err, 503, "service_unavailable", "Out of memory.");
        fail_later(j);
        return;
    }
    struct latch_store_op op = {
        .stmt = &load_stmt,
        .params = {req->tenant->id, j->m.channel == LATCH_MESSAGES_EMAIL ? "Email" : "Sms",
                   latch_messages_template_name(j->m.type), j->m.locale,
                   j->language[0] ? j->language : NULL},
    };
    latch_store_exec(latch_loop_store(req->loop), req->tenant->id, &op, 1, loaded, j);
}
