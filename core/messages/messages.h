/*
 * INTERIM (branch h11-codes): the interface of core/messages as agreed with branch h11-msg, which
 * implements it. This file and messages.c are replaced by that branch when it is merged; they
 * exist so that the verification codes of experience/ build and run before it lands.
 *
 * Sends a message (a verification code, an invitation) through the tenant's email or SMS
 * connector.
 */
#ifndef LATCH_MESSAGES_MESSAGES_H
#define LATCH_MESSAGES_MESSAGES_H

#include <stddef.h>

#include "http/http.h"
#include "util/error.h"

enum latch_messages_channel { LATCH_MESSAGES_EMAIL = 1, LATCH_MESSAGES_SMS = 2 };

struct latch_messages_var {
    const char *name, *value;
};

struct latch_messages_send {
    enum latch_messages_channel channel;
    int type; /* Logto's TemplateType: SignIn 1, Register 2, ForgotPassword 3, Generic 4,
               * OrganizationInvitation 5, UserPermissionValidation 6, BindNewIdentifier 7 */
    const char *to;
    const char *locale;
    const struct latch_messages_var *vars;
    size_t nvars;
};

typedef void (*latch_messages_cb)(struct latch_request *req, const struct latch_error *err,
                                  void *arg);

/* cb runs once on req's loop; err NULL = sent; 400 connector.not_found when the tenant has no
 * connector of the channel. */
void latch_messages_send(struct latch_request *req, const struct latch_messages_send *m,
                         latch_messages_cb cb, void *arg);

#endif
