/* Tenant id syntax; see tenant_id.h. Deliberately locale-free: no <ctype.h>. */
#include "tenants/tenant_id.h"

#include <string.h>

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool latch_tenants_valid_id_len(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > LATCH_TENANT_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!id_char(id[i]))
            return false;
    }
    return id[0] != '-' && id[len - 1] != '-';
}

bool latch_tenants_valid_id(const char *id)
{
    if (id == NULL)
        return false;
    /* Look one byte past the maximum so an over-long id is seen without reading all of it. */
    size_t len = strnlen(id, LATCH_TENANT_ID_MAX + 1);
    return latch_tenants_valid_id_len(id, len);
}
