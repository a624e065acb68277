/*
 * Management API: users, in Logto's paths and JSON (/api/users...): list with search and
 * pagination, create (with a password, or an imported Argon2/bcrypt digest), read, update,
 * delete, password set and verify, suspension, custom data, profile, social identities and the
 * user's (User-type) roles. A user created here gets the tenant's default User roles.
 *
 * Passwords never meet the loop thread's CPU: hashing and verifying run on the CPU worker lane
 * (latch_http_submit) and the statements are sent from the completion. The request's copy of a
 * password is wiped as soon as the worker is done with it. Identifier conflicts are checked in
 * the same statement that writes, and answered with Logto's 422 codes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mgmt/mgmt_internal.h"
#include "tenants/tenants.h"
#include "users/password.h"
#include "users/users.h"
#include "util/log.h"

#define NAME_MAX_CHARS    128  /* users.name is varchar(128) */
#define AVATAR_MAX_CHARS  2048 /* users.avatar is varchar(2048) */
#define PROFILE_MAX_CHARS 2048 /* each profile claim */
#define TARGET_MAX_CHARS  128

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
#define USER_JSON LATCH_USERS_SQL_JSON("u")

/* Conflicts of the identifiers $3 (username), $4 (email) and $5 (phone) with users other than
 * $2, in the order Logto checks them, as a CTE named chk (problem, detail). `extra` adds
 * earlier WHEN branches (e.g. the user does not exist). */
#define IDENTIFIER_CHECK(extra)                                                                    \
    " chk AS (SELECT CASE " extra                                                                  \
    " WHEN $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM users x WHERE x.tenant_id = $1"         \
    " AND lower(x.username) = lower($3::text) AND x.id <> $2) THEN 'username_in_use'"              \
    " WHEN $4::text IS NOT NULL AND EXISTS (SELECT 1 FROM users x WHERE x.tenant_id = $1"         \
    " AND lower(x.primary_email) = lower($4::text) AND x.id <> $2) THEN 'email_in_use'"            \
    " WHEN $5::text IS NOT NULL AND EXISTS (SELECT 1 FROM users x WHERE x.tenant_id = $1"         \
    " AND x.primary_phone = $5::text AND x.id <> $2) THEN 'phone_in_use'"                          \
    " END AS problem, NULL::text AS detail)"

/* ---- statements ---- */

/* $2/$3 limit/offset, $4 search pattern (ILIKE), $5 excludeRoleId. */
static const struct latch_stmt user_list = {
    .name = "mgmt_user_list",
    .sql = "WITH f AS (SELECT u.* FROM users u WHERE u.tenant_id = $1"
           " AND ($4::text IS NULL OR u.id ILIKE $4 OR u.username ILIKE $4"
           " OR u.primary_email ILIKE $4 OR u.primary_phone ILIKE $4 OR u.name ILIKE $4)"
           " AND ($5::text IS NULL OR NOT EXISTS (SELECT 1 FROM users_roles x"
           " WHERE x.tenant_id = $1 AND x.role_id = $5::text AND x.user_id = u.id))),"
           " p AS (SELECT " LATCH_USERS_SQL_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $2::bigint OFFSET $3::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f)",
    .nparams = 5,
};

static const struct latch_stmt user_get = {
    .name = "mgmt_user_get",
    .sql = "SELECT " USER_JSON " FROM users u WHERE u.tenant_id = $1 AND u.id = $2",
    .nparams = 2,
};

/* $3 username, $4 email, $5 phone, $6 name, $7 avatar, $8 hash, $9 method, $10 customData,
 * $11 profile. The new user gets the tenant's default User roles in the same statement, as
 * Logto's insertUser and the sign-up paths (experience/) do. */
static const struct latch_stmt user_insert = {
    .name = "mgmt_user_insert",
    .sql = "WITH" IDENTIFIER_CHECK("") ","
           " ins AS (INSERT INTO users AS u (tenant_id, id, username, primary_email, primary_phone,"
           " name, avatar, password_encrypted, password_encryption_method, custom_data, profile)"
           " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10::jsonb, '{}'),"
           " coalesce($11::jsonb, '{}') FROM chk WHERE chk.problem IS NULL"
           " RETURNING " USER_JSON " AS j, u.id),"
           " dr AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1, ins.id, r.id FROM ins, roles r"
           " WHERE r.tenant_id = $1 AND r.is_default AND r.type = 'User' RETURNING 1)"
           " SELECT (SELECT j FROM ins), NULL::bigint, problem, detail FROM chk",
    .nparams = 11,
};

/* $3/$4/$5 the new identifiers to check (NULL when not set to a value), $6 the changes of the
 * text columns as a JSON object (a member present replaces the column, null clears it),
 * $7 customData and $8 profile (replaced when not NULL, as Logto's PATCH does). */
static const struct latch_stmt user_update = {
    .name = "mgmt_user_update",
    .sql = "WITH" IDENTIFIER_CHECK("WHEN NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1"
                                   " AND id = $2) THEN 'not_found'") ","
           " upd AS (UPDATE users AS u SET"
           " username = CASE WHEN $6::jsonb ? 'username' THEN $6::jsonb->>'username'"
           " ELSE u.username END,"
           " primary_email = CASE WHEN $6::jsonb ? 'primaryEmail' THEN $6::jsonb->>'primaryEmail'"
           " ELSE u.primary_email END,"
           " primary_phone = CASE WHEN $6::jsonb ? 'primaryPhone' THEN $6::jsonb->>'primaryPhone'"
           " ELSE u.primary_phone END,"
           " name = CASE WHEN $6::jsonb ? 'name' THEN $6::jsonb->>'name' ELSE u.name END,"
           " avatar = CASE WHEN $6::jsonb ? 'avatar' THEN $6::jsonb->>'avatar' ELSE u.avatar END,"
           " custom_data = coalesce($7::jsonb, u.custom_data),"
           " profile = coalesce($8::jsonb, u.profile),"
           " updated_at = now()"
           " WHERE u.tenant_id = $1 AND u.id = $2 AND (SELECT problem FROM chk) IS NULL"
           " RETURNING " USER_JSON " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, problem, detail FROM chk",
    .nparams = 8,
};

static const struct latch_stmt user_delete = {
    .name = "mgmt_user_delete",
    .sql = "DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING NULL::json",
    .nparams = 2,
};

/* $3 the new Argon2i hash. */
static const struct latch_stmt user_set_password = {
    .name = "mgmt_user_set_password",
    .sql = "UPDATE users AS u SET password_encrypted = $3, password_encryption_method = 'Argon2i',"
           " updated_at = now() WHERE u.tenant_id = $1 AND u.id = $2 RETURNING " USER_JSON,
    .nparams = 3,
};

static const struct latch_stmt user_password_get = {
    .name = "mgmt_user_password_get",
    .sql = "SELECT password_encrypted, password_encryption_method FROM users"
           " WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

static const struct latch_stmt user_has_password = {
    .name = "mgmt_user_has_password",
    .sql = "SELECT json_build_object('hasPassword', password_encrypted IS NOT NULL) FROM users"
           " WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

/* $3 isSuspended. */
static const struct latch_stmt user_suspend = {
    .name = "mgmt_user_suspend",
    .sql = "UPDATE users AS u SET is_suspended = $3::boolean, updated_at = now()"
           " WHERE u.tenant_id = $1 AND u.id = $2 RETURNING " USER_JSON,
    .nparams = 3,
};

/* Suspending signs the user out everywhere: sessions end and refresh tokens are revoked
 * (Logto's signOutUser). Both run in the same transaction as user_suspend. */
static const struct latch_stmt user_end_sessions = {
    .name = "mgmt_user_end_sessions",
    .sql = "UPDATE sessions SET ended_at = now() WHERE tenant_id = $1 AND user_id = $2"
           " AND ended_at IS NULL AND $3::boolean",
    .nparams = 3,
};

static const struct latch_stmt user_revoke_tokens = {
    .name = "mgmt_user_revoke_tokens",
    .sql = "UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1 AND user_id = $2"
           " AND revoked_at IS NULL AND $3::boolean",
    .nparams = 3,
};

/* DELETE /api/users/:userId/sessions, "sign out everywhere": the same two updates in one
 * statement (the CTEs run whether or not the final SELECT reads them); no row for an unknown
 * user, which latch_mgmt_run() answers with 404. */
static const struct latch_stmt user_sign_out = {
    .name = "mgmt_user_sign_out",
    .sql = "WITH u AS (SELECT id FROM users WHERE tenant_id = $1 AND id = $2),"
           " ses AS (UPDATE sessions s SET ended_at = now() FROM u WHERE s.tenant_id = $1"
           " AND s.user_id = u.id AND s.ended_at IS NULL RETURNING 1),"
           " rt AS (UPDATE refresh_tokens r SET revoked_at = now() FROM u WHERE r.tenant_id = $1"
           " AND r.user_id = u.id AND r.revoked_at IS NULL RETURNING 1)"
           " SELECT NULL::text FROM u",
    .nparams = 2,
};

static const struct latch_stmt user_custom_data_get = {
    .name = "mgmt_user_custom_data_get",
    .sql = "SELECT custom_data FROM users WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

/* Logto merges (jsonb ||) on PATCH .../custom-data and .../profile. */
static const struct latch_stmt user_custom_data_merge = {
    .name = "mgmt_user_custom_data_merge",
    .sql = "UPDATE users SET custom_data = custom_data || $3::jsonb, updated_at = now()"
           " WHERE tenant_id = $1 AND id = $2 RETURNING custom_data",
    .nparams = 3,
};

static const struct latch_stmt user_profile_merge = {
    .name = "mgmt_user_profile_merge",
    .sql = "UPDATE users SET profile = profile || $3::jsonb, updated_at = now()"
           " WHERE tenant_id = $1 AND id = $2 RETURNING profile",
    .nparams = 3,
};

static const struct latch_stmt user_identities = {
    .name = "mgmt_user_identities",
    .sql = "SELECT identities FROM users WHERE tenant_id = $1 AND id = $2",
    .nparams = 2,
};

/* $3 target. */
static const struct latch_stmt user_identity_delete = {
    .name = "mgmt_user_identity_delete",
    .sql = "WITH cur AS (SELECT identities FROM users WHERE tenant_id = $1 AND id = $2),"
           " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM cur) THEN 'not_found'"
           " WHEN NOT ((SELECT identities FROM cur) ? $3::text) THEN 'identity_missing'"
           " END AS problem),"
           " upd AS (UPDATE users AS u SET identities = u.identities - $3::text,"
           " updated_at = now() WHERE u.tenant_id = $1 AND u.id = $2"
           " AND (SELECT problem FROM chk) IS NULL RETURNING " USER_JSON " AS j)"
           " SELECT (SELECT j FROM upd), NULL::bigint, (SELECT problem FROM chk), $3::text",
    .nparams = 3,
};

/* $3/$4 limit/offset, $5 search pattern. */
static const struct latch_stmt user_role_list = {
    .name = "mgmt_user_role_list",
    .sql = "WITH usr AS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2),"
           " f AS (SELECT r.* FROM roles r JOIN users_roles ur"
           " ON ur.tenant_id = r.tenant_id AND ur.role_id = r.id"
           " WHERE r.tenant_id = $1 AND ur.tenant_id = $1 AND ur.user_id = $2"
           " AND ($5::text IS NULL OR r.id ILIKE $5 OR r.name ILIKE $5 OR r.description ILIKE $5)),"
           " p AS (SELECT " LATCH_MGMT_SQL_ROLE_JSON("f") " AS j, f.created_at, f.id FROM f"
           " ORDER BY f.created_at DESC, f.id LIMIT $3::bigint OFFSET $4::bigint)"
           " SELECT coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, p.id) FROM p),"
           " '[]'::json), (SELECT count(*) FROM f),"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM usr) THEN 'not_found' END",
    .nparams = 5,
};

/* What adding or replacing a user's roles checks first: the user exists, every role in $3 (a
 * JSON array of ids) exists and is a User role. */
#define USER_ROLES_CHECK                                                                           \
    "WITH usr AS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2),"                          \
    " want AS (SELECT DISTINCT v AS id FROM json_array_elements_text($3::json) AS v),"            \
    " found AS (SELECT r.id, r.type FROM roles r JOIN want w ON w.id = r.id"                       \
    " WHERE r.tenant_id = $1),"                                                                    \
    " chk AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM usr) THEN 'not_found'"                    \
    " WHEN m.id IS NOT NULL THEN 'role_missing'"                                                   \
    " WHEN n.id IS NOT NULL THEN 'role_not_user' END AS problem,"                                  \
    " coalesce(m.id, n.id) AS detail FROM (SELECT 1) AS one"                                       \
    " LEFT JOIN LATERAL (SELECT w.id FROM want w WHERE NOT EXISTS"                                 \
    " (SELECT 1 FROM found f WHERE f.id = w.id) ORDER BY w.id LIMIT 1) m ON true"                  \
    " LEFT JOIN LATERAL (SELECT f.id FROM found f WHERE f.type <> 'User'"                          \
    " ORDER BY f.id LIMIT 1) n ON true)"

static const struct latch_stmt user_role_add = {
    .name = "mgmt_user_role_add",
    .sql = USER_ROLES_CHECK ","
           " ins AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt user_role_replace = {
    .name = "mgmt_user_role_replace",
    .sql = USER_ROLES_CHECK ","
           " del AS (DELETE FROM users_roles ur WHERE ur.tenant_id = $1 AND ur.user_id = $2"
           " AND ur.role_id NOT IN (SELECT id FROM want)"
           " AND (SELECT problem FROM chk) IS NULL RETURNING 1),"
           " ins AS (INSERT INTO users_roles (tenant_id, user_id, role_id)"
           " SELECT $1, $2, f.id FROM found f WHERE (SELECT problem FROM chk) IS NULL"
           " ON CONFLICT DO NOTHING RETURNING 1)"
           " SELECT NULL::json, NULL::bigint, problem, detail FROM chk",
    .nparams = 3,
};

static const struct latch_stmt user_role_delete = {
    .name = "mgmt_user_role_delete",
    .sql = "WITH d AS (DELETE FROM users_roles WHERE tenant_id = $1 AND user_id = $2"
           " AND role_id = $3 RETURNING 1)"
           " SELECT NULL::json, NULL::bigint,"
           " CASE WHEN NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2)"
           " THEN 'not_found' WHEN NOT EXISTS (SELECT 1 FROM d) THEN 'role_not_assigned' END,"
           " $3::text",
    .nparams = 3,
};
// clang-format on

static const struct latch_mgmt_problem user_problems[] = {
    {"username_in_use", 422, "user.username_already_in_use", "This username is already in use."},
    {"email_in_use", 422, "user.email_already_in_use",
     "This email is associated with an existing account."},
    {"phone_in_use", 422, "user.phone_already_in_use",
     "This phone number is associated with an existing account."},
    {"identity_missing", 404, "user.identity_not_exist",
     "The social identity `{}` has not been registered yet."},
    {"role_missing", 404, "entity.not_exists_with_id", "The role with ID `{}` does not exist."},
    {"role_not_user", 422, "user.invalid_role_type",
     "Invalid role type, can not assign machine-to-machine role `{}` to user."},
    {"role_not_assigned", 404, "entity.not_found", "The role `{}` is not assigned to this user."},
    {NULL, 0, NULL, NULL},
};

static void oom(struct latch_request *req)
{
    latch_http_respond_errorf(req, 500, "server_error", "Out of memory.");
}

static void invalid_credentials(struct latch_request *req)
{
    latch_http_respond_errorf(req, 422, "session.invalid_credentials",
                              "Incorrect account or password. Please check your input.");
}

/* ---- validation ---- */

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return true;
    return false;
}

enum ident_kind { IDENT_USERNAME, IDENT_EMAIL, IDENT_PHONE };

/*
 * An identifier member (username, primaryEmail, primaryPhone) in Logto's format. *out NULL when
 * absent, null or (with clearable, on PATCH) "" — *set then tells whether it was given at all.
 */
static bool get_identifier(const struct latch_mgmt_obj *o, const char *key, enum ident_kind kind,
                           bool clearable, const char **out, bool *set)
{
    const char *v;
    if (!latch_mgmt_get_str(o, key, 0, LATCH_USERS_IDENTIFIER_MAX, LATCH_MGMT_NULLABLE, &v, set))
        return false;
    *out = NULL;
    if (v == NULL)
        return true;
    if (v[0] == '\0' && clearable)
        return true;
    static const char *const problems[] = {
        "must start with a letter or _ and contain only letters, digits and _",
        "must be an email address",
        "must contain only digits",
    };
    bool ok = kind == IDENT_USERNAME ? latch_users_username_ok(v)
              : kind == IDENT_EMAIL  ? latch_users_email_ok(v)
                                     : latch_users_phone_ok(v);
    if (!ok) {
        latch_mgmt_invalid_member(o, key, problems[kind]);
        return false;
    }
    *out = v;
    return true;
}

/* An absolute http(s) URL without whitespace. */
static bool valid_url(const char *s)
{
    const char *rest;
    if (strncasecmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    if (rest[0] == '\0' || rest[0] == '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return false;
    return true;
}

/* name or avatar: a string, "" or null (both clear on PATCH). */
static bool get_text(const struct latch_mgmt_obj *o, const char *key, int max, bool url,
                     const char **out, bool *set)
{
    if (!latch_mgmt_get_str(o, key, 0, max, LATCH_MGMT_NULLABLE, out, set))
        return false;
    if (*out != NULL && (*out)[0] == '\0') {
        *out = NULL;
        return true;
    }
    if (*out != NULL && url && !valid_url(*out)) {
        latch_mgmt_invalid_member(o, key, "must be an http(s) URL");
        return false;
    }
    return true;
}

/* customData: any object, as JSON text (NULL when absent). */
static bool get_custom_data(const struct latch_mgmt_obj *o, unsigned flags, const char **out)
{
    struct latch_mgmt_obj m;
    *out = NULL;
    if (!latch_mgmt_get_obj(o, "customData", flags, &m))
        return false;
    if (m.val == NULL)
        return true;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g != NULL)
        latch_mgmt_gen_value(g, m.val);
    *out = g ? latch_mgmt_gen_take(o->req, g) : NULL;
    if (*out == NULL) {
        oom(o->req);
        return false;
    }
    return true;
}

static const char *const profile_keys[] = {
    "familyName",        "givenName", "middleName", "nickname",
    "preferredUsername", "profile",   "website",    "gender",
    "birthdate",         "zoneinfo",  "locale",     NULL,
};
static const char *const address_keys[] = {
    "formatted", "streetAddress", "locality", "region", "postalCode", "country", NULL,
};

/* Writes the known string members of o (keys) into g; unknown members are dropped, as Logto's
 * guard strips them. */
static bool gen_claims(const struct latch_mgmt_obj *o, const char *const *keys,
                       struct latch_json *g)
{
    for (const char *const *k = keys; *k; k++) {
        const char *v;
        bool present;
        if (!latch_mgmt_get_str(o, *k, 0, PROFILE_MAX_CHARS, 0, &v, &present))
            return false;
        if (v == NULL)
            continue;
        latch_mgmt_gen_str(g, *k);
        latch_mgmt_gen_str(g, v);
    }
    return true;
}

/* profile: OIDC standard claims (Logto's userProfileGuard) as JSON text (NULL when absent). */
static bool get_profile(const struct latch_mgmt_obj *o, unsigned flags, const char **out)
{
    struct latch_mgmt_obj m, addr;
    *out = NULL;
    if (!latch_mgmt_get_obj(o, "profile", flags, &m))
        return false;
    if (m.val == NULL)
        return true;
    if (!latch_mgmt_get_obj(&m, "address", 0, &addr))
        return false;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        oom(o->req);
        return false;
    }
    latch_json_begin_object(g);
    bool ok = gen_claims(&m, profile_keys, g);
    if (ok && addr.val != NULL) {
        latch_mgmt_gen_str(g, "address");
        latch_json_begin_object(g);
        ok = gen_claims(&addr, address_keys, g);
        latch_json_end_object(g);
    }
    latch_json_end_object(g);
    if (!ok) {
        latch_mgmt_gen_free(g);
        return false;
    }
    *out = latch_mgmt_gen_take(o->req, g);
    if (*out == NULL) {
        oom(o->req);
        return false;
    }
    return true;
}

/* A password member: 1..LATCH_PASSWORD_MAX bytes, copied into the arena (the caller wipes it).
 * NUL bytes cannot reach here: the body reader refuses them. */
static bool get_password(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                         char **out)
{
    const char *v;
    *out = NULL;
    if (!latch_mgmt_get_str(o, key, 1, LATCH_PASSWORD_MAX, flags, &v, NULL))
        return false;
    if (v == NULL)
        return true;
    if (strlen(v) > LATCH_PASSWORD_MAX) {
        explicit_bzero((char *)v, strlen(v));
        latch_mgmt_invalid_member(o, key, "must be at most 256 bytes");
        return false;
    }
    *out = (char *)v;
    return true;
}

static void wipe(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
}

/* ---- webhook events of the routes (Logto's managementApiHooksRegistration) ---- */

static const struct latch_mgmt_hook_spec hook_created = {"User.Created", LATCH_MGMT_HOOK_USER,
                                                         "/api/users"};
static const struct latch_mgmt_hook_spec hook_updated = {"User.Data.Updated", LATCH_MGMT_HOOK_USER,
                                                         "/api/users/:userId"};
static const struct latch_mgmt_hook_spec hook_password = {"User.Data.Updated", LATCH_MGMT_HOOK_USER,
                                                          "/api/users/:userId/password"};
static const struct latch_mgmt_hook_spec hook_custom_data = {
    "User.Data.Updated", LATCH_MGMT_HOOK_USER, "/api/users/:userId/custom-data"};
static const struct latch_mgmt_hook_spec hook_profile = {"User.Data.Updated", LATCH_MGMT_HOOK_USER,
                                                         "/api/users/:userId/profile"};
static const struct latch_mgmt_hook_spec hook_suspended = {
    "User.SuspensionStatus.Updated", LATCH_MGMT_HOOK_USER, "/api/users/:userId/is-suspended"};
static const struct latch_mgmt_hook_spec hook_deleted = {"User.Deleted", LATCH_MGMT_HOOK_USER,
                                                         "/api/users/:userId"};

/* ---- hashing on the worker pool ---- */

/* A password to hash on the worker pool, then statements to run with the hash. Lives in the
 * request arena: the request stays valid until it is answered. */
struct hash_job {
    struct latch_request *req;
    char *password; /* wiped by the worker */
    char hash[LATCH_PASSWORD_HASH_MAX];
    latch_rc rc;
    struct latch_error err;
    struct latch_store_op ops[2]; /* the change, then its webhook event (when nops is 2) */
    int nops;
    int hash_param; /* which parameter of ops[0] gets the hash */
    struct latch_mgmt_reply reply;
};

static void hash_work(void *arg)
{
    struct hash_job *job = arg;
    job->rc = latch_password_hash(job->password, job->hash, &job->err);
    wipe(job->password);
}

static void hash_done(void *arg)
{
    struct hash_job *job = arg;
    if (job->rc != LATCH_OK) {
        if (job->err.status >= 500)
            latch_http_log_error(job->req, "password hash", &job->err);
        latch_http_respond_error(job->req, &job->err);
        return;
    }
    job->ops[0].params[job->hash_param] = job->hash;
    /* latch_store_exec() copies the parameters before returning. */
    latch_mgmt_run(job->req, job->ops, job->nops, &job->reply);
    explicit_bzero(job->hash, sizeof(job->hash));
}

/* Runs ops[0..nops) (at most 2) once password is hashed (into parameter hash_param of ops[0]);
 * answers as reply says. */
static void run_with_hash(struct latch_request *req, char *password,
                          const struct latch_store_op *op, int nops, int hash_param,
                          const struct latch_mgmt_reply *reply)
{
    struct hash_job *job = latch_arena_calloc(req->arena, 1, sizeof(*job));
    if (job == NULL) {
        wipe(password);
        oom(req);
        return;
    }
    job->req = req;
    job->password = password;
    job->nops = nops;
    for (int i = 0; i < nops; i++)
        job->ops[i] = op[i];
    job->hash_param = hash_param;
    job->reply = *reply;
    struct latch_error err;
    if (latch_http_submit(req, LATCH_LANE_CPU, hash_work, hash_done, job, &err) != LATCH_OK) {
        wipe(password);
        latch_http_respond_error(req, &err);
    }
}

/* ---- handlers: the collection ---- */

static void list_users(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    if (!latch_mgmt_paginate(req, false, &limit, &offset) || !latch_mgmt_search_users(req, &search))
        return;
    const char *exclude = latch_mgmt_query(req, "excludeRoleId");
    if (exclude != NULL && (exclude[0] == '\0' || strlen(exclude) > LATCH_MGMT_ID_LEN ||
                            latch_mgmt_utf8_len(exclude) < 0 || has_control(exclude))) {
        latch_mgmt_invalid(req, "excludeRoleId", "must be a role id");
        return;
    }
    struct latch_store_op op = {&user_list, {req->tenant->id, limit, offset, search, exclude}};
    struct latch_mgmt_reply reply = {.status = 200, .entity = "user", .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

static const char *const import_methods[] = {"Argon2i", "Argon2id", "Argon2d", "Bcrypt", NULL};

static void create_user(struct latch_request *req, void *arg)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *username, *email, *phone, *name, *avatar, *digest, *method, *custom, *profile;
    char *password = NULL;
    bool set;
    bool ok =
        get_identifier(&body, "username", IDENT_USERNAME, false, &username, &set) &&
        get_identifier(&body, "primaryEmail", IDENT_EMAIL, false, &email, &set) &&
        get_identifier(&body, "primaryPhone", IDENT_PHONE, false, &phone, &set) &&
        get_text(&body, "name", NAME_MAX_CHARS, false, &name, &set) &&
        get_text(&body, "avatar", AVATAR_MAX_CHARS, true, &avatar, &set) &&
        get_password(&body, "password", 0, &password) &&
        latch_mgmt_get_str(&body, "passwordDigest", 1, LATCH_PASSWORD_HASH_MAX, 0, &digest, NULL) &&
        latch_mgmt_get_str(&body, "passwordAlgorithm", 1, 32, 0, &method, NULL) &&
        get_custom_data(&body, 0, &custom) && get_profile(&body, 0, &profile);
    yajl_tree_free(tree);
    if (!ok)
        goto fail;
    if (password != NULL && digest != NULL) {
        latch_http_respond_errorf(req, 400, "user.password_and_digest",
                                  "You cannot set both plain text password and password digest.");
        goto fail;
    }
    if (digest != NULL && method == NULL) {
        latch_http_respond_errorf(req, 400, "user.password_algorithm_required",
                                  "Password algorithm is required.");
        goto fail;
    }
    if (digest != NULL) {
        bool known = false;
        for (const char *const *m = import_methods; *m; m++)
            known = known || strcmp(*m, method) == 0;
        if (!known) {
            latch_mgmt_invalid(req, "passwordAlgorithm",
                               "must be one of Argon2i, Argon2id, Argon2d, Bcrypt");
            goto fail;
        }
        if (!latch_users_digest_ok(method, digest)) {
            latch_mgmt_invalid(req, "passwordDigest", "is not a hash of passwordAlgorithm");
            goto fail;
        }
    } else {
        method = NULL;
    }

    char *id = latch_arena_alloc(req->arena, LATCH_USERS_ID_LEN + 1);
    if (id == NULL || latch_users_new_id(id) != LATCH_OK) {
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        goto fail;
    }
    struct latch_store_op ops[2] = {{&user_insert,
                                     {req->tenant->id, id, username, email, phone, name, avatar,
                                      digest, method, custom, profile}}};
    if (!latch_mgmt_hook_op(req, &ops[1], &hook_created, id, 200))
        goto fail;
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "user", .id = id, .problems = user_problems};
    if (password == NULL) {
        latch_mgmt_run(req, ops, 2, &reply);
        return;
    }
    ops[0].params[8] = "Argon2i";
    run_with_hash(req, password, ops, 2, 7, &reply);
    return;
fail:
    wipe(password);
}

/* ---- handlers: one user ---- */

static const char *user_id(struct latch_request *req)
{
    return latch_mgmt_param_id(req, "userId", "user");
}

/* Runs one statement taking (tenant, user id[, extra]) and answers 200 with its row. */
static void run_simple(struct latch_request *req, const struct latch_stmt *stmt, const char *id,
                       const char *extra, int status)
{
    struct latch_store_op op = {stmt, {req->tenant->id, id, extra}};
    struct latch_mgmt_reply reply = {
        .status = status, .entity = "user", .id = id, .problems = user_problems};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* run_simple() of a change, with its webhook event in the same transaction. */
static void run_change(struct latch_request *req, const struct latch_stmt *stmt, const char *id,
                       const char *extra, const struct latch_mgmt_hook_spec *hook)
{
    struct latch_store_op op = {stmt, {req->tenant->id, id, extra}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "user", .id = id, .problems = user_problems};
    latch_mgmt_run_hooked(req, &op, &reply, hook, id);
}

/* Adds key: value (a string, or null) to the changes. */
static void gen_change(struct latch_json *g, const char *key, const char *value)
{
    latch_mgmt_gen_str(g, key);
    if (value == NULL)
        latch_json_null(g);
    else
        latch_mgmt_gen_str(g, value);
}

static void update_user(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *username, *email, *phone, *name, *avatar, *custom, *profile;
    bool has_username, has_email, has_phone, has_name, has_avatar;
    bool ok = get_identifier(&body, "username", IDENT_USERNAME, true, &username, &has_username) &&
              get_identifier(&body, "primaryEmail", IDENT_EMAIL, true, &email, &has_email) &&
              get_identifier(&body, "primaryPhone", IDENT_PHONE, true, &phone, &has_phone) &&
              get_text(&body, "name", NAME_MAX_CHARS, false, &name, &has_name) &&
              get_text(&body, "avatar", AVATAR_MAX_CHARS, true, &avatar, &has_avatar) &&
              get_custom_data(&body, 0, &custom) && get_profile(&body, 0, &profile);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct latch_json *g = latch_mgmt_gen_new();
    if (g == NULL) {
        oom(req);
        return;
    }
    latch_json_begin_object(g);
    if (has_username)
        gen_change(g, "username", username);
    if (has_email)
        gen_change(g, "primaryEmail", email);
    if (has_phone)
        gen_change(g, "primaryPhone", phone);
    if (has_name)
        gen_change(g, "name", name);
    if (has_avatar)
        gen_change(g, "avatar", avatar);
    latch_json_end_object(g);
    const char *changes = latch_mgmt_gen_take(req, g);
    if (changes == NULL) {
        oom(req);
        return;
    }
    struct latch_store_op ops[2] = {
        {&user_update, {req->tenant->id, id, username, email, phone, changes, custom, profile}}};
    if (!latch_mgmt_hook_op(req, &ops[1], &hook_updated, id, 200))
        return;
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "user", .id = id, .problems = user_problems};
    latch_mgmt_run(req, ops, 2, &reply);
}

/* Reads {"password": "..."} (required). */
static bool read_password_body(struct latch_request *req, char **password)
{
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return false;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    bool ok = get_password(&body, "password", LATCH_MGMT_REQUIRED, password);
    yajl_tree_free(tree);
    return ok;
}

static void set_password(struct latch_request *req, void *arg)
{
    char *password;
    const char *id = user_id(req);
    if (id == NULL || !read_password_body(req, &password))
        return;
    struct latch_store_op ops[2] = {{&user_set_password, {req->tenant->id, id, NULL}}};
    if (!latch_mgmt_hook_op(req, &ops[1], &hook_password, id, 200)) {
        wipe(password);
        return;
    }
    struct latch_mgmt_reply reply = {.status = 200, .entity = "user", .id = id};
    run_with_hash(req, password, ops, 2, 2, &reply);
}

/* POST /api/users/:userId/password/verify: look the hash up, verify on the worker pool (and
 * compute the upgraded hash there when the stored one is weaker or of another algorithm), then
 * store the upgrade and answer 204, or 422 when the password is wrong. */
struct verify_job {
    struct latch_request *req;
    const char *id;
    char *password; /* wiped by the worker */
    char *encrypted;
    char *method;
    bool match;
    bool upgraded;
    char hash[LATCH_PASSWORD_HASH_MAX];
};

static void verify_work(void *arg)
{
    struct verify_job *job = arg;
    bool needs_upgrade = false;
    job->match = latch_password_verify(job->password, job->encrypted, job->method, &needs_upgrade);
    if (job->match && needs_upgrade) {
        struct latch_error err;
        job->upgraded = latch_password_hash(job->password, job->hash, &err) == LATCH_OK;
        if (!job->upgraded)
            latch_http_log_error(job->req, "password upgrade", &err);
    }
    wipe(job->password);
}

static void upgrade_stored(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct verify_job *job = arg;
    /* The password was right either way; a failed upgrade is retried at the next sign-in. */
    if (err != NULL)
        latch_http_log_error(job->req, "password upgrade store", err);
    latch_http_respond(job->req, 204, NULL, NULL, 0);
}

static void verify_done(void *arg)
{
    struct verify_job *job = arg;
    struct latch_request *req = job->req;
    if (!job->match) {
        invalid_credentials(req);
        return;
    }
    if (!job->upgraded) {
        latch_http_respond(req, 204, NULL, NULL, 0);
        return;
    }
    const char *params[4] = {req->tenant->id, job->id, job->hash, job->encrypted};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id,
                      &latch_users_stmt_upgrade_password, params, upgrade_stored, job);
    explicit_bzero(job->hash, sizeof(job->hash));
}

static void verify_found(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct verify_job *job = arg;
    struct latch_request *req = job->req;
    if (err != NULL) {
        wipe(job->password);
        latch_mgmt_store_error(req, err, NULL, NULL);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        wipe(job->password);
        latch_mgmt_not_found(req, "user", job->id);
        return;
    }
    if (latch_store_result_isnull(results[0], 0, 0) ||
        latch_store_result_isnull(results[0], 0, 1)) {
        /* No password to verify against: as Logto, the same answer as a wrong one. */
        wipe(job->password);
        invalid_credentials(req);
        return;
    }
    job->encrypted = latch_arena_strdup(req->arena, latch_store_result_value(results[0], 0, 0));
    job->method = latch_arena_strdup(req->arena, latch_store_result_value(results[0], 0, 1));
    struct latch_error serr;
    if (job->encrypted == NULL || job->method == NULL) {
        wipe(job->password);
        oom(req);
        return;
    }
    if (latch_http_submit(req, LATCH_LANE_CPU, verify_work, verify_done, job, &serr) != LATCH_OK) {
        wipe(job->password);
        latch_http_respond_error(req, &serr);
    }
}

static void verify_password(struct latch_request *req, void *arg)
{
    char *password;
    const char *id = user_id(req);
    if (id == NULL || !read_password_body(req, &password))
        return;
    struct verify_job *job = latch_arena_calloc(req->arena, 1, sizeof(*job));
    if (job == NULL) {
        wipe(password);
        oom(req);
        return;
    }
    job->req = req;
    job->id = id;
    job->password = password;
    const char *params[2] = {req->tenant->id, id};
    latch_store_query(latch_loop_store(req->loop), req->tenant->id, &user_password_get, params,
                      verify_found, job);
}

static void has_password(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id != NULL)
        run_simple(req, &user_has_password, id, NULL, 200);
}

static void set_suspended(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    int suspended;
    bool ok = latch_mgmt_get_bool(&body, "isSuspended", LATCH_MGMT_REQUIRED, &suspended);
    yajl_tree_free(tree);
    if (!ok)
        return;
    const char *flag = suspended ? "true" : "false";
    struct latch_store_op ops[4] = {
        {&user_suspend, {req->tenant->id, id, flag}},
        {&user_end_sessions, {req->tenant->id, id, flag}},
        {&user_revoke_tokens, {req->tenant->id, id, flag}},
    };
    if (!latch_mgmt_hook_op(req, &ops[3], &hook_suspended, id, 200))
        return;
    struct latch_mgmt_reply reply = {.status = 200, .entity = "user", .id = id};
    latch_mgmt_run(req, ops, 4, &reply);
}

/* Logto has only DELETE /api/users/:userId/sessions/:sessionId (one session); this ends them
 * all, as suspension does, and answers 204. Access tokens already issued stay valid until
 * they expire (they are JWTs checked without a lookup). */
static void end_sessions(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    struct latch_store_op op = {&user_sign_out, {req->tenant->id, id}};
    struct latch_mgmt_reply reply = {.status = 204, .entity = "user", .id = id, .no_body = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

static void show_custom_data(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id != NULL)
        run_simple(req, &user_custom_data_get, id, NULL, 200);
}

static void merge_custom_data(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *custom;
    bool ok = get_custom_data(&body, LATCH_MGMT_REQUIRED, &custom);
    yajl_tree_free(tree);
    if (ok)
        run_change(req, &user_custom_data_merge, id, custom, &hook_custom_data);
}

static void merge_profile(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *profile;
    bool ok = get_profile(&body, LATCH_MGMT_REQUIRED, &profile);
    yajl_tree_free(tree);
    if (ok)
        run_change(req, &user_profile_merge, id, profile, &hook_profile);
}

static void get_identities(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    if (id != NULL)
        run_simple(req, &user_identities, id, NULL, 200);
}

static void delete_identity(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    const char *target =
        id ? latch_mgmt_param_name(req, "target", TARGET_MAX_CHARS, "identity") : NULL;
    if (target != NULL)
        run_simple(req, &user_identity_delete, id, target, 200);
}

static void list_user_roles(struct latch_request *req, void *arg)
{
    const char *limit, *offset, *search;
    const char *id = user_id(req);
    if (id == NULL || !latch_mgmt_paginate(req, false, &limit, &offset) ||
        !latch_mgmt_search(req, &search))
        return;
    struct latch_store_op op = {&user_role_list, {req->tenant->id, id, limit, offset, search}};
    struct latch_mgmt_reply reply = {
        .status = 200, .entity = "user", .id = id, .problems = user_problems, .list = true};
    latch_mgmt_run(req, &op, 1, &reply);
}

/* POST (add; 201) and PUT (replace; 200) /api/users/:userId/roles {roleIds}, no body. */
static void set_user_roles(struct latch_request *req, bool replace)
{
    const char *id = user_id(req);
    if (id == NULL)
        return;
    yajl_val tree = latch_mgmt_body(req);
    if (tree == NULL)
        return;
    struct latch_mgmt_obj body = {.req = req, .val = tree, .path = ""};
    const char *ids;
    bool ok = latch_mgmt_get_ids(&body, "roleIds", LATCH_MGMT_REQUIRED, false, &ids);
    yajl_tree_free(tree);
    if (!ok)
        return;
    struct latch_store_op op = {replace ? &user_role_replace : &user_role_add,
                                {req->tenant->id, id, ids}};
    struct latch_mgmt_reply reply = {
        .status = replace ? 200 : 201,
        .entity = "user",
        .id = id,
        .problems = user_problems,
        .no_body = true,
    };
    latch_mgmt_run(req, &op, 1, &reply);
}

static void add_user_roles(struct latch_request *req, void *arg)
{
    set_user_roles(req, false);
}

static void replace_user_roles(struct latch_request *req, void *arg)
{
    set_user_roles(req, true);
}

static void delete_user_role(struct latch_request *req, void *arg)
{
    const char *id = user_id(req);
    const char *role = id ? latch_mgmt_param_id(req, "roleId", "role") : NULL;
    if (role != NULL)
        run_simple(req, &user_role_delete, id, role, 204);
}

/* Routes served by latch_mgmt_by_id: one statement on the item named by the path. */
static const struct latch_mgmt_by_id get_user_call = {&user_get, "userId", "user", 200,
                                                      user_problems};
static const struct latch_mgmt_by_id_hooked delete_user_call = {
    {&user_delete, "userId", "user", 204, user_problems}, &hook_deleted};

latch_rc latch_mgmt_users_register(struct latch_server *srv)
{
    /* Routes of one path stay together (the OpenAPI document groups them in this order). */
    static const struct latch_mgmt_route_def routes[] = {
        {LATCH_HTTP_GET, "/api/users", list_users, NULL},
        {LATCH_HTTP_POST, "/api/users", create_user, NULL},
        {LATCH_HTTP_GET, "/api/users/:userId", latch_mgmt_by_id, &get_user_call},
        {LATCH_HTTP_PATCH, "/api/users/:userId", update_user, NULL},
        {LATCH_HTTP_DELETE, "/api/users/:userId", latch_mgmt_by_id_hooked, &delete_user_call},
        {LATCH_HTTP_PATCH, "/api/users/:userId/password", set_password, NULL},
        {LATCH_HTTP_POST, "/api/users/:userId/password/verify", verify_password, NULL},
        {LATCH_HTTP_GET, "/api/users/:userId/has-password", has_password, NULL},
        {LATCH_HTTP_PATCH, "/api/users/:userId/is-suspended", set_suspended, NULL},
        {LATCH_HTTP_DELETE, "/api/users/:userId/sessions", end_sessions, NULL},
        {LATCH_HTTP_GET, "/api/users/:userId/custom-data", show_custom_data, NULL},
        {LATCH_HTTP_PATCH, "/api/users/:userId/custom-data", merge_custom_data, NULL},
        {LATCH_HTTP_PATCH, "/api/users/:userId/profile", merge_profile, NULL},
        {LATCH_HTTP_GET, "/api/users/:userId/identities", get_identities, NULL},
        {LATCH_HTTP_DELETE, "/api/users/:userId/identities/:target", delete_identity, NULL},
        {LATCH_HTTP_GET, "/api/users/:userId/roles", list_user_roles, NULL},
        {LATCH_HTTP_POST, "/api/users/:userId/roles", add_user_roles, NULL},
        {LATCH_HTTP_PUT, "/api/users/:userId/roles", replace_user_roles, NULL},
        {LATCH_HTTP_DELETE, "/api/users/:userId/roles/:roleId", delete_user_role, NULL},
    };
    return latch_mgmt_routes(srv, routes, sizeof(routes) / sizeof(routes[0]));
}
