/* Scopes → claims; see claims.h. */
#include "oidc/claims.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

const char *const latch_user_scopes[] = {
    "openid",
    "offline_access",
    "profile",
    "email",
    "phone",
    "address",
    "custom_data",
    "identities",
    "roles",
    LATCH_SCOPE_ORGANIZATIONS,
    LATCH_SCOPE_ORGANIZATION_ROLES,
    NULL,
};

/* The OIDC standard profile claims Logto keeps in users.profile. */
static const char *const profile_members[] = {
    "family_name",        "given_name", "middle_name", "nickname",
    "preferred_username", "profile",    "website",     "gender",
    "birthdate",          "zoneinfo",   "locale",      NULL,
};

bool latch_scope_has(const char *scope, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = scope; p != NULL && *p;) {
        while (*p == ' ')
            p++;
        const char *e = strchr(p, ' ');
        size_t m = e ? (size_t)(e - p) : strlen(p);
        if (m == n && m > 0 && strncmp(p, name, n) == 0)
            return true;
        p = e;
    }
    return false;
}

static bool present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void str_or_null(struct latch_json *j, const char *key, const char *value)
{
    latch_json_key(j, key);
    if (present(value))
        latch_json_string(j, value);
    else
        latch_json_null(j);
}

static void raw_or(struct latch_json *j, const char *key, const char *json, const char *fallback)
{
    latch_json_key(j, key);
    const char *v = present(json) ? json : fallback;
    latch_json_raw(j, v, strlen(v));
}

static void profile_claims(struct latch_json *j, const struct latch_claims_user *u)
{
    yajl_val profile = present(u->profile) ? yajl_tree_parse(u->profile, NULL, 0) : NULL;
    str_or_null(j, "name", u->name);
    str_or_null(j, "picture", u->avatar);
    str_or_null(j, "username", u->username);
    for (const char *const *m = profile_members; *m; m++) {
        const char *path[] = {*m, NULL};
        yajl_val v = profile ? yajl_tree_get(profile, path, yajl_t_string) : NULL;
        if (v != NULL)
            str_or_null(j, *m, YAJL_GET_STRING(v));
        else if (strcmp(*m, "preferred_username") == 0 && present(u->username))
            str_or_null(j, *m, u->username); /* Logto falls back to the username */
    }
    latch_json_key(j, "created_at");
    latch_json_int(j, u->created_at);
    latch_json_key(j, "updated_at");
    latch_json_int(j, u->updated_at);
    yajl_tree_free(profile);
}

void latch_claims_write(struct latch_json *j, const struct latch_claims_user *u, const char *scope,
                        enum latch_claims_for target)
{
    if (latch_scope_has(scope, "profile"))
        profile_claims(j, u);
    if (latch_scope_has(scope, "email")) {
        str_or_null(j, "email", u->primary_email);
        latch_json_key(j, "email_verified");
        latch_json_bool(j, present(u->primary_email));
    }
    if (latch_scope_has(scope, "phone")) {
        str_or_null(j, "phone_number", u->primary_phone);
        latch_json_key(j, "phone_number_verified");
        latch_json_bool(j, present(u->primary_phone));
    }
    if (latch_scope_has(scope, "address") && present(u->profile)) {
        yajl_val profile = yajl_tree_parse(u->profile, NULL, 0);
        const char *path[] = {"address", NULL};
        yajl_val a = profile ? yajl_tree_get(profile, path, yajl_t_object) : NULL;
        if (a != NULL) {
            /* Re-render the object from the stored JSON text: find it by re-serializing its
             * members as strings (address members are strings in OIDC Core §5.1.1). */
            latch_json_key(j, "address");
            latch_json_begin_object(j);
            for (size_t i = 0; i < YAJL_GET_OBJECT(a)->len; i++) {
                yajl_val v = YAJL_GET_OBJECT(a)->values[i];
                if (YAJL_IS_STRING(v)) {
                    latch_json_key(j, YAJL_GET_OBJECT(a)->keys[i]);
                    latch_json_string(j, YAJL_GET_STRING(v));
                }
            }
            latch_json_end_object(j);
        }
        yajl_tree_free(profile);
    }
    if (latch_scope_has(scope, "roles"))
        raw_or(j, "roles", u->roles, "[]");
    if (latch_scope_has(scope, LATCH_SCOPE_ORGANIZATIONS)) {
        raw_or(j, "organizations", u->organizations, "[]");
        if (target == LATCH_CLAIMS_USERINFO)
            raw_or(j, "organization_data", u->organization_data, "[]");
    }
    if (latch_scope_has(scope, LATCH_SCOPE_ORGANIZATION_ROLES))
        raw_or(j, "organization_roles", u->organization_roles, "[]");
    if (target == LATCH_CLAIMS_USERINFO) {
        if (latch_scope_has(scope, "custom_data"))
            raw_or(j, "custom_data", u->custom_data, "{}");
        if (latch_scope_has(scope, "identities")) {
            raw_or(j, "identities", u->identities, "{}");
            raw_or(j, "sso_identities", NULL, "[]");
        }
    }
}
