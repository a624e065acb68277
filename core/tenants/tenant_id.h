/*
 * Tenant ids: the syntax shared by latchctl, the tenant router (/t/<tenantId>) and the database
 * (tenants_id_format in schema/0001_tenants.sql; keep the two in step).
 *
 * A tenant id is 1 to LATCH_TENANT_ID_MAX characters of lowercase ASCII letters, digits and
 * dashes, and neither starts nor ends with a dash. Pure functions; any thread may call them.
 */
#ifndef LATCH_TENANTS_TENANT_ID_H
#define LATCH_TENANTS_TENANT_ID_H

#include <stdbool.h>
#include <stddef.h>

#define LATCH_TENANT_ID_MAX 21

/* True when id (NUL-terminated; NULL allowed and invalid) is a well-formed tenant id. */
bool latch_tenants_valid_id(const char *id);

/* The same for the len bytes at id, which need not be NUL-terminated (a URL path segment). */
bool latch_tenants_valid_id_len(const char *id, size_t len);

#endif
