/* Management API: being written (issue 6). */
#include "mgmt/mgmt_internal.h"

latch_rc latch_mgmt_invitations_register(struct latch_server *srv)
{
    (void)srv;
    return LATCH_OK;
}
