/*
 * INTERIM (branch h11-codes), replaced by branch h11-msg's core/messages: before ABI 1.1 no email
 * or SMS connector can be loaded, so every tenant has none and the answer is the one the real
 * implementation gives then, 400 connector.not_found.
 */
#include "messages/messages.h"

void latch_messages_send(struct latch_request *req, const struct latch_messages_send *m,
                         latch_messages_cb cb, void *arg)
{
    struct latch_error err;
    (void)latch_error_set(&err, 400, "connector.not_found",
                          "Cannot find any available connector for type: %s.",
                          m->channel == LATCH_MESSAGES_SMS ? "Sms" : "Email");
    cb(req, &err, arg);
}
