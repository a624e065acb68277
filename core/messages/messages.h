/*
 * messages/: email and SMS sent by the core on behalf of a tenant (verification codes, password
 * resets, invitations), through the tenant's email or SMS connector (plugin/, ABI 1.1's
 * send_message), with the tenant's email templates (/api/email-templates) over the connector's.
 *
 * A tenant has at most one email and one SMS connector (Logto's rule; `connectors.type`), so a
 * message names only its channel. The connector runs on the I/O worker lane, bounded per tenant,
 * as social connector calls do; nothing here blocks a loop thread.
 *
 * The names and numbers below mirror the connector ABI's (plugins-api/latch/connector.h) so that
 * core callers need not include it; tests/unit/messages checks that they stay equal.
 */
#ifndef LATCH_MESSAGES_MESSAGES_H
#define LATCH_MESSAGES_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct latch_request;
struct latch_plugin;
struct latch_plugin_call;

enum latch_messages_channel { LATCH_MESSAGES_EMAIL = 1, LATCH_MESSAGES_SMS = 2 };

/* Why a message is sent: enum latch_connector_template's values (Logto's TemplateType). */
#define LATCH_MESSAGES_TEMPLATE_SIGN_IN                    1 /* "SignIn" */
#define LATCH_MESSAGES_TEMPLATE_REGISTER                   2 /* "Register" */
#define LATCH_MESSAGES_TEMPLATE_FORGOT_PASSWORD            3 /* "ForgotPassword" */
#define LATCH_MESSAGES_TEMPLATE_GENERIC                    4 /* "Generic" */
#define LATCH_MESSAGES_TEMPLATE_ORGANIZATION_INVITATION    5 /* "OrganizationInvitation" */
#define LATCH_MESSAGES_TEMPLATE_USER_PERMISSION_VALIDATION 6 /* "UserPermissionValidation" */
#define LATCH_MESSAGES_TEMPLATE_BIND_NEW_IDENTIFIER        7 /* "BindNewIdentifier" */
#define LATCH_MESSAGES_TEMPLATE_MFA_VERIFICATION           8 /* "MfaVerification" */
#define LATCH_MESSAGES_TEMPLATE_BIND_MFA                   9 /* "BindMfa" */
#define LATCH_MESSAGES_TEMPLATE_MAX                        9

/* Bounds of what one message carries (the ABI allows 32 variables). */
#define LATCH_MESSAGES_VARS_MAX      32
#define LATCH_MESSAGES_VAR_NAME_MAX  64
#define LATCH_MESSAGES_VAR_VALUE_MAX 2048
#define LATCH_MESSAGES_TO_MAX        256
#define LATCH_MESSAGES_LOCALE_MAX    16 /* Logto's language_tag is varchar(16) */

struct latch_messages_var {
    const char *name, *value;
};

struct latch_messages_send {
    enum latch_messages_channel channel;
    int type;           /* LATCH_MESSAGES_TEMPLATE_* */
    const char *to;     /* email address, or phone digits */
    const char *locale; /* may be NULL */
    const struct latch_messages_var *vars;
    size_t nvars; /* code, link, ... */
};

/* err is NULL when the message was handed to the provider. req is the one given to
 * latch_messages_send, still unanswered. */
typedef void (*latch_messages_cb)(struct latch_request *req, const struct latch_error *err,
                                  void *arg);

/*
 * Sends on behalf of req's tenant: finds the tenant's connector of that channel (its row in
 * `connectors` whose factory is of that kind and loaded on this node), decrypts its config,
 * reads the tenant's email template override for (language, type) when channel is email (the
 * exact locale, then its language without region, then the sign-in experience's fallback
 * language, then the fallback language's Generic template, as Logto; none: the connector's own
 * template), runs latch_plugin_send_message on the I/O worker lane (per-tenant bound), and
 * calls cb on req's loop thread exactly once, never from inside this call (unless req's arena
 * is exhausted, when cb gets a 503 at once): err NULL when sent; else err with a Logto-style
 * code: 400 "connector.not_found" when the tenant has no connector of that channel (or its
 * factory is not loaded on this node), 400 "guard.invalid_input" for a message out of bounds,
 * "connector.<status>" from the connector (400 invalid_config, invalid_response and
 * address_refused; 501 not_implemented; 502 timeout and general), 503 when the lane is full or
 * the store is away. Answer it with latch_messages_respond_error to keep the provider's message.
 * Everything m points to is copied before this returns. Loop thread of req only; req must stay
 * unanswered until cb runs. Never logs the recipient's variables (codes, links).
 */
void latch_messages_send(struct latch_request *req, const struct latch_messages_send *m,
                         latch_messages_cb cb, void *arg);

/* Answers err (from latch_messages_send or latch_messages_deliver) in Logto's shape
 * {code, message}. Unlike latch_http_respond_error, a 501, 502 or 504 keeps its message: the
 * messages set here describe the provider's failure for an administrator and hold nothing of
 * the server's internals. Loop thread of req. */
void latch_messages_respond_error(struct latch_request *req, const struct latch_error *err);

/* ---- shared with the Management API (connectors' test endpoint, email templates) ---- */

/* Logto's name of a template type ("SignIn", ...), NULL when type is unknown. */
const char *latch_messages_template_name(int type);
/* The type of a Logto template name (case-sensitive), 0 when unknown. */
int latch_messages_template_type(const char *name);

/* The connector kind (enum latch_connector_kind) of a channel, and the channel of a kind
 * (0 when the kind sends no messages). */
int latch_messages_channel_kind(enum latch_messages_channel channel);
enum latch_messages_channel latch_messages_kind_channel(int kind);

/* Checks m's bounds: a known channel and type, a recipient of the channel's form (an email
 * address for email, 1 to 32 digits for SMS as Logto's phone numbers), a locale of at most
 * LATCH_MESSAGES_LOCALE_MAX characters of [A-Za-z0-9-_], at most LATCH_MESSAGES_VARS_MAX
 * variables with names of [A-Za-z0-9_.] and bounded values. err: 400 "guard.invalid_input"
 * naming what is wrong. Any thread. */
latch_rc latch_messages_check(const struct latch_messages_send *m,
                              struct latch_error *err) LATCH_MUST_CHECK;

/* The tenant's template for a message (Logto's EmailTemplateDetails), NULL members when none. */
struct latch_messages_template {
    const char *subject, *content, *content_type;
};

/*
 * The blocking part of a send: hands m to the connector p with call->config_json (plaintext),
 * tpl (may be NULL) and ip (may be NULL). On failure err says why in Logto's form (the status
 * the answer should have, "connector.<status>", a message fit for an administrator), and the
 * connector's detail is in call->error_detail (log only). Worker pool only.
 */
latch_rc latch_messages_deliver(struct latch_plugin *p, struct latch_plugin_call *call,
                                const struct latch_messages_send *m,
                                const struct latch_messages_template *tpl, const char *ip,
                                struct latch_error *err) LATCH_MUST_CHECK;

#endif
