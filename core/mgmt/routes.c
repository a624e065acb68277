/*
 * Registers every Management API route under <tenant endpoint>/api: each module's register
 * function in turn (applications, resources, roles, signing keys, users, connectors, email
 * templates, the OpenAPI document, which comes last because it lists what the others
 * registered). Main thread, before the server starts.
 */
#include "mgmt/mgmt_internal.h"

latch_rc latch_mgmt_register(struct latch_server *srv)
{
    if (latch_mgmt_applications_register(srv) != LATCH_OK ||
        latch_mgmt_resources_register(srv) != LATCH_OK ||
        latch_mgmt_roles_register(srv) != LATCH_OK || latch_mgmt_keys_register(srv) != LATCH_OK ||
        latch_mgmt_users_register(srv) != LATCH_OK ||
        latch_mgmt_users_mfa_register(srv) != LATCH_OK ||
        latch_mgmt_connectors_register(srv) != LATCH_OK ||
        latch_mgmt_email_templates_register(srv) != LATCH_OK ||
        latch_mgmt_organizations_register(srv) != LATCH_OK ||
        latch_mgmt_organization_roles_register(srv) != LATCH_OK ||
        latch_mgmt_invitations_register(srv) != LATCH_OK ||
        latch_mgmt_hooks_register(srv) != LATCH_OK || latch_mgmt_logs_register(srv) != LATCH_OK ||
        latch_mgmt_swagger_register(srv) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
