/*
 * Experience API verifications, each answering {verificationId}:
 *
 * POST /api/experience/verification/password: who is this? The identifier (username, email or
 * phone; case-insensitive but the phone) is looked up together with the interaction and the
 * sentinel state in one round trip; the password is checked on the worker pool (Argon2 is far
 * too slow for a loop thread), against a fixed dummy hash when nobody has that identifier, so
 * both cost the same. A hash in an older format or with weaker parameters is replaced on
 * success.
 *
 * The sentinel (Logto's sentinelPolicy, in PostgreSQL, so shared by every node) counts failures
 * within an hour (LATCH_XP_SENTINEL_WINDOW_MINUTES) per user when the identifier names one
 * (key "user:<id>": the lockout holds whichever of the user's identifiers is typed next) and per
 * identifier when it names nobody (key "<type>:<value>"), so an unknown identifier locks after
 * the same number of failures as a known one. The failure that reaches maxAttempts locks for
 * lockoutDuration minutes, and while locked every attempt gets the same 400 whether the account
 * exists or not and whether the password is right or wrong; a success clears the count.
 *
 * Besides, each node counts wrong passwords per tenant and client IP (the tenant's
 * rateLimits.passwordFailuresPerIpPerMinute, else LATCH_LIMIT_IP_PASSWORD_FAILURES; util/
 * ratelimit.h): past it, 429 with Retry-After once the interaction is read and before any
 * hashing, which bounds guessing across many identifiers from one address.
 *
 * POST /api/experience/verification/new-password-identity: a registration. The username must be
 * well-formed and free, the password must satisfy the tenant's policy; the hash (made on the
 * worker pool) waits in the interaction's params._pending until identification creates the user.
 * The hash never leaves the server. "Username already in use" answers count per tenant and
 * client IP (rateLimits.registrationChecksPerIpPerMinute, else LATCH_LIMIT_IP_REGISTRATION_CHECKS
 * a minute): past it, 429, so that registration is no unthrottled oracle of who has an account.
 * The passkey options' identifier lookups that find no passkey (webauthn.c) spend the same budget
 * (latch_xp_lookup_allowed/_missed).
 *
 * PUT /api/experience/profile/password {password} (ForgotPassword, once identification named the
 * person through a verified code): checked against the password policy and the person's own
 * info, hashed on the worker pool, and kept in params._newPassword (tied to that user) until
 * POST /api/experience/submit (latch_xp_password_reset_submit) sets it, ends every session of the
 * person and revokes their refresh tokens and grants, all in one statement; 204.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "config/config.h"
#include "experience/experience_internal.h"
#include "mgmt/mgmt_internal.h"
#include "metrics/metrics.h"
#include "users/password.h"
#include "users/users.h"
#include "util/json.h"
#include "util/log.h"
#include "util/ratelimit.h"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* Minutes left (rounded up) when the identifier is locked; no row otherwise. */
#define LOCK_MINUTES "greatest(1, ceil(extract(epoch FROM locked_until - now()) / 60))::int"

/*
 * Whether the sentinel holds a lock for what the identifier $3 names: the user who has it
 * (sha256("user:<id>"), latch_xp_sentinel_user_key) or, when nobody has it, the identifier
 * itself ($2, latch_xp_sentinel_key). One statement per identifier type, in the order of
 * sentinel_get_stmt(), matching with users.h's LATCH_USERS_SQL_MATCH_* as users_find_* do, so
 * both resolve to the same user in the same transaction.
 */
#define SENTINEL_GET(type, match)                                                                  \
    {                                                                                              \
        .name = "xp_sentinel_get_" type,                                                           \
        .sql = "SELECT " LOCK_MINUTES " FROM sentinel_activities"                                  \
               " WHERE tenant_id = $1 AND locked_until > now() AND identifier_hash ="              \
               " coalesce((SELECT sha256(convert_to('user:' || u.id, 'UTF8')) FROM users u"         \
               " WHERE u.tenant_id = $1 AND " match "), $2::bytea)",                               \
        .nparams = 3,                                                                              \
    }
static const struct latch_stmt sentinel_get[] = {
    SENTINEL_GET("username", LATCH_USERS_SQL_MATCH_USERNAME("u.", "$3")),
    SENTINEL_GET("email", LATCH_USERS_SQL_MATCH_EMAIL("u.", "$3")),
    SENTINEL_GET("phone", LATCH_USERS_SQL_MATCH_PHONE("u.", "$3")),
};

/* A right password: unless the identifier got locked meanwhile, the interaction records the
 * verification and the failure count is cleared. $3 sentinel key, $4 user, $5 verification id.
 * Answers (minutes locked or NULL, whether the interaction was updated). */
static const struct latch_stmt password_ok = {
    .name = "xp_password_ok",
    .sql = "WITH lock AS (SELECT " LOCK_MINUTES " AS minutes FROM sentinel_activities"
           " WHERE tenant_id = $1 AND identifier_hash = $3::bytea AND locked_until > now()),"
           " upd AS (UPDATE interactions SET verified_user_id = $4, verification_id = $5"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
           " AND NOT EXISTS (SELECT 1 FROM lock) RETURNING 1),"
           " clr AS (DELETE FROM sentinel_activities WHERE tenant_id = $1"
           " AND identifier_hash = $3::bytea AND NOT EXISTS (SELECT 1 FROM lock) RETURNING 1)"
           " SELECT (SELECT minutes FROM lock), EXISTS (SELECT 1 FROM upd)",
    .nparams = 5,
};

/*
 * A failure. In one statement, so concurrent failures all count: a lock still running is kept;
 * after a lock ran out, or when the window started too long ago, counting starts again at 1;
 * otherwise the count goes up. Reaching $3 (maxAttempts) locks for $4 minutes.
 * Answers (was it locked before this attempt, minutes locked now or NULL).
 */
#define XSTR(x) #x
#define STR(x)  XSTR(x)
#define FRESH                                                                                      \
    "(s.locked_until IS NOT NULL OR s.window_started_at <= now() - interval '"                     \
    STR(LATCH_XP_SENTINEL_WINDOW_MINUTES) " minutes')"
static const struct latch_stmt sentinel_fail = {
    .name = "xp_sentinel_fail",
    .sql = "WITH before AS (SELECT " LOCK_MINUTES " AS minutes FROM sentinel_activities"
           " WHERE tenant_id = $1 AND identifier_hash = $2::bytea AND locked_until > now()),"
           " up AS (INSERT INTO sentinel_activities AS s (tenant_id, identifier_hash,"
           " failed_attempts, window_started_at, locked_until)"
           " VALUES ($1, $2::bytea, 1, now(), CASE WHEN $3::int <= 1"
           " THEN now() + make_interval(mins => $4::int) END)"
           " ON CONFLICT (tenant_id, identifier_hash) DO UPDATE SET"
           " failed_attempts = CASE WHEN s.locked_until > now() THEN s.failed_attempts"
           " WHEN " FRESH " THEN 1 ELSE s.failed_attempts + 1 END,"
           " window_started_at = CASE WHEN s.locked_until > now() THEN s.window_started_at"
           " WHEN " FRESH " THEN now() ELSE s.window_started_at END,"
           " locked_until = CASE WHEN s.locked_until > now() THEN s.locked_until"
           " WHEN (CASE WHEN " FRESH " THEN 1 ELSE s.failed_attempts + 1 END) >= $3::int"
           " THEN now() + make_interval(mins => $4::int) END"
           " RETURNING locked_until)"
           " SELECT (SELECT minutes FROM before),"
           " (SELECT " LOCK_MINUTES " FROM up WHERE locked_until > now())",
    .nparams = 4,
};

static const struct latch_stmt username_taken = {
    .name = "xp_username_taken",
    .sql = "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1"
           " AND lower(username) = lower($2))",
    .nparams = 2,
};

/* The password reset's user and what the policy's userInfo rule needs (no row: nobody is
 * identified, or the user is gone). */
static const struct latch_stmt reset_user = {
    .name = "xp_reset_user",
    .sql = "SELECT u.id, u.username, u.primary_email, u.primary_phone, u.name,"
           " u.password_encrypted IS NOT NULL"
           " FROM interactions i JOIN users u ON u.tenant_id = i.tenant_id"
           " AND u.id = i.result_user_id"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()",
    .nparams = 2,
};

/* The new password waits in params._newPassword, tied to the user it was checked for ($3). */
static const struct latch_stmt new_password_set = {
    .name = "xp_new_password_set",
    .sql = "UPDATE interactions SET params = params || jsonb_build_object('_newPassword',"
           " jsonb_build_object('userId', $3::text, 'passwordEncrypted', $4::text,"
           " 'passwordEncryptionMethod', 'Argon2i'))"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now()"
           " AND event = 'ForgotPassword' AND result_user_id = $3 RETURNING 1",
    .nparams = 4,
};

/* POST /api/experience/profile {type: "password"}: the identified user ($3), who has none, gets
 * one at once. */
static const struct latch_stmt profile_password_set = {
    .name = "xp_profile_password_set",
    .sql = "UPDATE users u SET password_encrypted = $4, password_encryption_method = 'Argon2i',"
           " updated_at = now() FROM interactions i"
           " WHERE i.tenant_id = $1 AND i.id_hash = $2::bytea AND i.expires_at > now()"
           " AND i.result_user_id = $3 AND u.tenant_id = $1 AND u.id = $3"
           " AND u.password_encrypted IS NULL RETURNING 1",
    .nparams = 4,
};

/*
 * The reset, in one statement: the password; every session of the user ended, every refresh
 * token revoked, every authorization code not yet used spent (a later use then counts as a
 * reuse), every grant recorded in revoked_grants (so the access tokens issued from them stop
 * working at userinfo, schema/0008), the sentinel's lock on the user cleared; the interaction
 * back to no event. Answers (user id or NULL when nothing was waiting, sessions ended, refresh
 * tokens revoked, grants revoked).
 */
static const struct latch_stmt password_reset = {
    .name = "xp_password_reset",
    .sql = "WITH i AS (SELECT result_user_id AS uid, params->'_newPassword' AS p"
           " FROM interactions WHERE tenant_id = $1 AND id_hash = $2::bytea"
           " AND expires_at > now() AND event = 'ForgotPassword' AND result_user_id IS NOT NULL"
           " AND params->'_newPassword'->>'userId' = result_user_id FOR UPDATE),"
           " pw AS (UPDATE users u SET password_encrypted = i.p->>'passwordEncrypted',"
           " password_encryption_method = i.p->>'passwordEncryptionMethod', updated_at = now()"
           " FROM i WHERE u.tenant_id = $1 AND u.id = i.uid RETURNING u.id),"
           " ses AS (UPDATE sessions SET ended_at = now() WHERE tenant_id = $1"
           " AND user_id = (SELECT id FROM pw) AND ended_at IS NULL RETURNING 1),"
           " rt AS (UPDATE refresh_tokens SET revoked_at = now() WHERE tenant_id = $1"
           " AND user_id = (SELECT id FROM pw) AND revoked_at IS NULL RETURNING 1),"
           " ac AS (UPDATE authorization_codes SET consumed_at = now() WHERE tenant_id = $1"
           " AND user_id = (SELECT id FROM pw) AND consumed_at IS NULL RETURNING 1),"
           " g AS (INSERT INTO revoked_grants (tenant_id, grant_id)"
           " SELECT $1, grant_id FROM (SELECT grant_id FROM refresh_tokens WHERE tenant_id = $1"
           " AND user_id = (SELECT id FROM pw) UNION SELECT grant_id FROM authorization_codes"
           " WHERE tenant_id = $1 AND user_id = (SELECT id FROM pw)) AS grants"
           " ON CONFLICT DO NOTHING RETURNING 1),"
           " sen AS (DELETE FROM sentinel_activities WHERE tenant_id = $1 AND identifier_hash ="
           " sha256(convert_to('user:' || (SELECT id FROM pw), 'UTF8')) RETURNING 1),"
           " ia AS (UPDATE interactions SET event = NULL, result_user_id = NULL,"
           " verified_user_id = NULL, verification_id = NULL,"
           " params = params - '_newPassword' - '_pending', " LATCH_XP_MFA_RESET
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND EXISTS (SELECT 1 FROM pw)"
           " RETURNING 1)"
           " SELECT (SELECT id FROM pw), (SELECT count(*) FROM ses), (SELECT count(*) FROM rt),"
           " (SELECT count(*) FROM g), (SELECT count(*) FROM ac) + (SELECT count(*) FROM sen)"
           " + (SELECT count(*) FROM ia)",
    .nparams = 2,
};

static const struct latch_stmt pending_set = {
    .name = "xp_pending_set",
    .sql = "UPDATE interactions SET params = params || jsonb_build_object('_pending',"
           " jsonb_build_object('username', $3::text, 'passwordEncrypted', $4::text,"
           " 'passwordEncryptionMethod', 'Argon2i')),"
           " verification_id = $5, verified_user_id = NULL"
           " WHERE tenant_id = $1 AND id_hash = $2::bytea AND expires_at > now() RETURNING 1",
    .nparams = 5,
};
// clang-format on

/* ---- shared ---- */

static char *password_dup(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

static void password_free(char **p)
{
    if (*p != NULL) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

static void respond_blocked(struct latch_request *req, const char *minutes)
{
    long m = minutes ? strtol(minutes, NULL, 10) : 1;
    latch_metrics_signin(LATCH_METRICS_SIGNIN_PASSWORD, LATCH_METRICS_SIGNIN_LOCKED);
    latch_http_respond_errorf(req, 400, "session.verification_blocked_too_many_attempts",
                              "Too many attempts in a short time. Please try again in %ld "
                              "minute%s.",
                              m, m == 1 ? "" : "s");
}

/* ---- throttles ---- */

/* The per-IP throttles of this file: wrong passwords and usernames found taken. */
enum throttle_kind { THROTTLE_PASSWORD, THROTTLE_REGISTRATION };

/* One throttle of one request: its bucket key and the limit a minute that applies. The key
 * names the tenant, so one tenant's limit never spends another's budget for the same address. */
struct throttle {
    char key[128];
    int limit;
};

/* ---- POST /api/experience/verification/password ---- */

struct pw_call {
    char type[16];
    const char *value;
    char key[LATCH_TOKEN_HASH_TEXT]; /* sentinel key: the identifier's, then the user's if found */
    char *password;                  /* heap, wiped */
    struct latch_sentinel_policy sentinel;
    struct throttle throttle;

    /* the user, when found */
    bool found, suspended;
    char user_id[16];
    char *encrypted; /* heap; NULL when the user has no password */
    char method[32];

    /* worker results */
    bool ok, needs_upgrade, upgraded;
    char new_hash[LATCH_PASSWORD_HASH_MAX];
    char verification_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
};

static void pw_cleanup(struct latch_xp_call *call)
{
    struct pw_call *pc = call->data;
    password_free(&pc->password);
    free(pc->encrypted);
    pc->encrypted = NULL;
    explicit_bzero(pc->new_hash, sizeof(pc->new_hash));
}

/* The tenant's rateLimits override the node's LATCH_LIMIT_* (read leniently: what is stored
 * was validated when written). */
static void throttle_init(struct throttle *t, const struct latch_xp_call *call,
                          enum throttle_kind kind)
{
    const struct latch_request *req = call->req;
    const struct latch_config *cfg = latch_loop_config(req->loop);
    struct latch_xp_rate_limits rl;
    yajl_val v = yajl_tree_parse(call->ia.rate_limits, NULL, 0);
    (void)latch_xp_rate_limits_read(v, false, &rl, NULL, 0);
    yajl_tree_free(v);
    bool pw = kind == THROTTLE_PASSWORD;
    int tenant_limit = pw ? rl.password_failures_per_ip : rl.registration_checks_per_ip;
    t->limit = tenant_limit > 0 ? tenant_limit
               : pw             ? cfg->limit_ip_password_failures
                                : cfg->limit_ip_registration_checks;
    snprintf(t->key, sizeof(t->key), "%s:%s:ip:%s", pw ? "pw" : "reg", req->tenant->id,
             req->client_ip);
}

/* Whether this client IP may try now; answers 429 with Retry-After if not. */
static bool throttle_allows(struct latch_request *req, const struct throttle *t)
{
    char ra[16];
    int retry = 0;
    if (latch_ratelimit_allow_per_minute(t->limit, t->key, &retry))
        return true;
    snprintf(ra, sizeof(ra), "%d", retry);
    latch_http_add_header(req, "Retry-After", ra);
    latch_http_respond_errorf(req, 429, "guard.too_many_requests",
                              "Too many attempts from this address; try again later.");
    return false;
}

static void throttle_fail(const struct throttle *t)
{
    latch_ratelimit_fail_per_minute(t->limit, t->key);
}

bool latch_xp_lookup_allowed(const struct latch_xp_call *call)
{
    struct throttle t;
    throttle_init(&t, call, THROTTLE_REGISTRATION);
    return throttle_allows(call->req, &t);
}

void latch_xp_lookup_missed(const struct latch_xp_call *call)
{
    struct throttle t;
    throttle_init(&t, call, THROTTLE_REGISTRATION);
    throttle_fail(&t);
}

static void invalid_credentials(struct latch_request *req, const struct throttle *t)
{
    throttle_fail(t);
    latch_metrics_signin(LATCH_METRICS_SIGNIN_PASSWORD, LATCH_METRICS_SIGNIN_FAILURE);
    latch_http_respond_errorf(req, 422, "session.invalid_credentials",
                              "Incorrect account or password. Please check your input.");
}

static void pw_fail_done(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (!latch_store_result_isnull(res, 0, 0)) {
        /* Locked by a concurrent attempt before this one was counted. */
        respond_blocked(call->req, latch_store_result_value(res, 0, 0));
        return;
    }
    struct pw_call *pc = call->data;
    invalid_credentials(call->req, &pc->throttle);
}

static void pw_ok_done(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct pw_call *pc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (!latch_store_result_isnull(res, 0, 0)) {
        respond_blocked(call->req, latch_store_result_value(res, 0, 0));
        return;
    }
    if (strcmp(latch_store_result_value(res, 0, 1), "t") != 0) {
        latch_xp_not_found(call->req);
        return;
    }
    if (pc->upgraded)
        latch_http_log(call->req, LATCH_LOG_INFO, "password hash of user %s upgraded to Argon2i",
                       pc->user_id);
    latch_metrics_signin(LATCH_METRICS_SIGNIN_PASSWORD, LATCH_METRICS_SIGNIN_SUCCESS);
    latch_xp_respond_verification(call->req, pc->verification_id);
}

static void pw_work(void *arg)
{
    struct latch_xp_call *call = arg;
    struct pw_call *pc = call->data;
    if (pc->found && pc->encrypted != NULL && pc->method[0] != '\0') {
        pc->ok = latch_password_verify(pc->password, pc->encrypted, pc->method, &pc->needs_upgrade);
    } else {
        latch_password_verify_dummy(pc->password);
        pc->ok = false;
    }
    if (pc->ok && pc->needs_upgrade && !pc->suspended) {
        struct latch_error err;
        if (latch_password_hash(pc->password, pc->new_hash, &err) == LATCH_OK)
            pc->upgraded = true;
        else
            latch_http_log_error(call->req, "password hash upgrade failed", &err);
    }
    explicit_bzero(pc->password, strlen(pc->password));
}

static void pw_done(void *arg)
{
    struct latch_xp_call *call = arg;
    struct pw_call *pc = call->data;
    struct latch_request *req = call->req;
    const char *tenant = req->tenant->id;
    password_free(&pc->password);
    if (pc->found)
        latch_audit_note(req, LATCH_AUDIT_USER_ID, pc->user_id);

    if (!pc->ok) {
        char max[16], minutes[16];
        snprintf(max, sizeof(max), "%d", pc->sentinel.max_attempts);
        snprintf(minutes, sizeof(minutes), "%d", pc->sentinel.lockout_minutes);
        struct latch_store_op op = {.stmt = &sentinel_fail,
                                    .params = {tenant, pc->key, max, minutes}};
        pw_cleanup(call);
        latch_xp_exec(call, &op, 1, pw_fail_done);
        return;
    }
    if (pc->suspended) {
        pw_cleanup(call);
        latch_metrics_signin(LATCH_METRICS_SIGNIN_PASSWORD, LATCH_METRICS_SIGNIN_SUSPENDED);
        latch_http_respond_errorf(req, 401, "user.suspended", "This account is suspended.");
        return;
    }
    if (latch_jose_random_id(pc->verification_id, LATCH_XP_VERIFICATION_ID_LEN) != LATCH_OK) {
        pw_cleanup(call);
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    latch_audit_note(req, LATCH_AUDIT_VERIFICATION_ID, pc->verification_id);
    struct latch_store_op ops[2] = {
        {.stmt = &password_ok,
         .params = {tenant, call->id_hash, pc->key, pc->user_id, pc->verification_id}},
        /* Replaces the outdated hash, only if it is still the one that was verified. */
        {.stmt = &latch_users_stmt_upgrade_password,
         .params = {tenant, pc->user_id, pc->new_hash, pc->encrypted}},
    };
    /* Parameters are copied by the store: the hashes can be wiped right after. */
    latch_xp_exec(call, ops, pc->upgraded ? 2 : 1, pw_ok_done);
    pw_cleanup(call);
}

static void pw_loaded(struct latch_xp_call *call, struct latch_store_result *const *results, int n)
{
    struct pw_call *pc = call->data;
    struct latch_request *req = call->req;

    throttle_init(&pc->throttle, call, THROTTLE_PASSWORD);
    if (!throttle_allows(req, &pc->throttle)) {
        pw_cleanup(call);
        return;
    }
    yajl_val v = yajl_tree_parse(call->ia.sentinel_policy, NULL, 0);
    (void)latch_xp_sentinel_policy_read(v, false, &pc->sentinel, NULL, 0);
    yajl_tree_free(v);

    if (latch_store_result_rows(results[1]) > 0) {
        /* Locked: the same answer for every attempt, so skip the expensive check. */
        pw_cleanup(call);
        respond_blocked(req, latch_store_result_value(results[1], 0, 0));
        return;
    }
    const struct latch_store_result *user = results[0];
    if (latch_store_result_rows(user) > 0) {
        pc->found = true;
        snprintf(pc->user_id, sizeof(pc->user_id), "%s", latch_store_result_value(user, 0, 0));
        if (!latch_store_result_isnull(user, 0, 1) && !latch_store_result_isnull(user, 0, 2)) {
            pc->encrypted = password_dup(latch_store_result_value(user, 0, 1));
            snprintf(pc->method, sizeof(pc->method), "%s", latch_store_result_value(user, 0, 2));
        }
        pc->suspended = strcmp(latch_store_result_value(user, 0, 3), "t") == 0;
    }
    struct latch_error err;
    /* From here on the sentinel counts the user, whichever identifier was typed. */
    if ((pc->found && latch_xp_sentinel_user_key(pc->user_id, pc->key) != LATCH_OK) ||
        (pc->found && pc->method[0] != '\0' && pc->encrypted == NULL) ||
        latch_http_submit(req, LATCH_LANE_CPU, pw_work, pw_done, call, &err) != LATCH_OK) {
        pw_cleanup(call);
        latch_http_respond_errorf(req, 503, "service_unavailable",
                                  "The server is busy; try again shortly.");
    }
}

/* Reads {identifier: {type, value}, password}; answers 400 and returns false when invalid.
 * *password points into the tree. */
static bool read_identifier(struct latch_request *req, yajl_val body, const char **type,
                            const char **value, const char **password)
{
    yajl_val ident = NULL;
    for (size_t i = 0; i < body->u.object.len; i++)
        if (strcmp(body->u.object.keys[i], "identifier") == 0)
            ident = body->u.object.values[i];
    if (ident == NULL || !YAJL_IS_OBJECT(ident)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier: must be an object {type, value}");
        return false;
    }
    return latch_xp_get_str(req, ident, "type", "identifier.type", 16, true, type) &&
           latch_xp_get_str(req, ident, "value", "identifier.value", LATCH_XP_IDENTIFIER_MAX, true,
                            value) &&
           latch_xp_get_str(req, body, "password", "password", LATCH_PASSWORD_MAX, true, password);
}

/* The sentinel_get statement of an identifier type (NULL for an unknown type). */
static const struct latch_stmt *sentinel_get_stmt(const char *type)
{
    static const char *const types[] = {"username", "email", "phone"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i], type) == 0)
            return &sentinel_get[i];
    return NULL;
}

static void post_password(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call;
    latch_audit_track(req, "Interaction.{event}.Verification.Password.Submit");
    yajl_val body = latch_xp_begin_body(req, sizeof(struct pw_call), &call);
    if (body == NULL)
        return;
    struct pw_call *pc = call->data;
    const char *type, *value, *password;
    bool ok = read_identifier(req, body, &type, &value, &password);
    if (ok && (latch_users_find_stmt(type) == NULL || sentinel_get_stmt(type) == NULL)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier.type: must be username, email or phone");
        ok = false;
    }
    if (ok) {
        snprintf(pc->type, sizeof(pc->type), "%s", type);
        pc->value = latch_arena_strdup(req->arena, value);
        pc->password = password_dup(password);
        if (pc->value == NULL || pc->password == NULL ||
            latch_xp_sentinel_key(type, value, pc->key) != LATCH_OK) {
            password_free(&pc->password);
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->cleanup = pw_cleanup;
    const char *tenant = req->tenant->id;
    struct latch_store_op extra[2] = {
        {.stmt = latch_users_find_stmt(pc->type), .params = {tenant, pc->value}},
        {.stmt = sentinel_get_stmt(pc->type), .params = {tenant, pc->key, pc->value}},
    };
    latch_xp_load(call, extra, 2, pw_loaded);
}

/* ---- POST /api/experience/verification/new-password-identity ---- */

struct npi_call {
    bool profile; /* POST /api/experience/profile, not PUT …/profile/password */
    const char *username;
    char user_id[LATCH_USERS_ID_LEN + 1]; /* a password reset's user */
    char *password;                       /* heap, wiped */
    latch_rc rc;
    char hash[LATCH_PASSWORD_HASH_MAX];
    char verification_id[LATCH_XP_VERIFICATION_ID_LEN + 1];
};

static void npi_cleanup(struct latch_xp_call *call)
{
    struct npi_call *nc = call->data;
    password_free(&nc->password);
    explicit_bzero(nc->hash, sizeof(nc->hash));
}

/* Answers 422 password.rejected with Logto's issues in data.issues. */
static void respond_rejected(struct latch_request *req, unsigned issues,
                             const struct latch_password_policy *policy)
{
    char first[200] = "";
    struct latch_json j;
    latch_json_init(&j);
    latch_json_begin_object(&j);
    latch_json_key(&j, "code");
    latch_json_string(&j, "password.rejected");
    for (unsigned bit = 1; bit != 0 && first[0] == '\0'; bit <<= 1)
        if (issues & bit)
            latch_xp_password_issue_text(bit, policy, first, sizeof(first));
    latch_json_key(&j, "message");
    latch_json_string(&j, first);
    latch_json_key(&j, "data");
    latch_json_begin_object(&j);
    latch_json_key(&j, "issues");
    latch_json_begin_array(&j);
    for (unsigned bit = 1; bit != 0; bit <<= 1) {
        if (!(issues & bit))
            continue;
        const char *name;
        int value;
        latch_xp_password_issue_interpolation(bit, policy, &name, &value);
        latch_json_begin_object(&j);
        latch_json_key(&j, "code");
        latch_json_string(&j, latch_users_password_issue_code(bit));
        if (name != NULL) {
            latch_json_key(&j, "interpolation");
            latch_json_begin_object(&j);
            latch_json_key(&j, name);
            latch_json_int(&j, value);
            latch_json_end_object(&j);
        }
        latch_json_end_object(&j);
    }
    latch_json_end_array(&j);
    latch_json_end_object(&j);
    latch_json_end_object(&j);
    latch_xp_respond_json(req, 422, &j);
}

static void npi_set_done(struct latch_store_result *const *results, int n,
                         const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct npi_call *nc = call->data;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    if (latch_store_result_rows(results[0]) < 1) {
        latch_xp_not_found(call->req);
        return;
    }
    latch_xp_respond_verification(call->req, nc->verification_id);
}

static void npi_work(void *arg)
{
    struct latch_xp_call *call = arg;
    struct npi_call *nc = call->data;
    struct latch_error err;
    nc->rc = latch_password_hash(nc->password, nc->hash, &err);
    if (nc->rc != LATCH_OK)
        latch_http_log_error(call->req, "password hashing failed", &err);
    explicit_bzero(nc->password, strlen(nc->password));
}

static void npi_done(void *arg)
{
    struct latch_xp_call *call = arg;
    struct npi_call *nc = call->data;
    struct latch_request *req = call->req;
    password_free(&nc->password);
    if (nc->rc != LATCH_OK ||
        latch_jose_random_id(nc->verification_id, LATCH_XP_VERIFICATION_ID_LEN) != LATCH_OK) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {
        .stmt = &pending_set,
        .params = {req->tenant->id, call->id_hash, nc->username, nc->hash, nc->verification_id},
    };
    latch_xp_exec(call, &op, 1, npi_set_done);
    npi_cleanup(call);
}

/* Checks nc->password against the tenant's password policy (info for its userInfo rule), then
 * hashes it on the worker pool and runs done there after; answers 422 password.rejected (or
 * 503) and wipes it otherwise. */
static void check_and_hash(struct latch_xp_call *call, const struct latch_users_info *info,
                           void (*done)(void *))
{
    struct npi_call *nc = call->data;
    struct latch_request *req = call->req;
    struct latch_password_policy *pp = latch_arena_alloc(req->arena, sizeof(*pp));
    if (pp == NULL) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    struct latch_error err;
    if (latch_users_policy_parse(call->ia.password_policy, pp, &err) != LATCH_OK)
        latch_http_log(req, LATCH_LOG_WARN,
                       "stored password policy is invalid (%s); using the defaults", err.message);
    unsigned issues = latch_users_password_issues(nc->password, pp, info);
    if (issues != 0) {
        npi_cleanup(call);
        respond_rejected(req, issues, pp);
        return;
    }
    if (latch_http_submit(req, LATCH_LANE_CPU, npi_work, done, call, &err) != LATCH_OK) {
        npi_cleanup(call);
        latch_http_respond_error(req, &err);
    }
}

static void npi_loaded(struct latch_xp_call *call, struct latch_store_result *const *results, int n)
{
    struct npi_call *nc = call->data;
    struct latch_request *req = call->req;
    struct throttle throttle;
    throttle_init(&throttle, call, THROTTLE_REGISTRATION);
    if (!throttle_allows(req, &throttle)) {
        npi_cleanup(call);
        return;
    }
    if (!latch_xp_mode_allows(call->ia.sign_in_mode, LATCH_XP_EVENT_REGISTER)) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 403, "auth.forbidden", "Registration is not enabled.");
        return;
    }
    if (strcmp(latch_store_result_value(results[0], 0, 0), "t") == 0) {
        throttle_fail(&throttle);
        npi_cleanup(call);
        latch_http_respond_errorf(req, 422, "user.username_already_in_use",
                                  "This username is already in use.");
        return;
    }
    struct latch_users_info info = {.username = nc->username};
    check_and_hash(call, &info, npi_done);
}

static void post_new_password_identity(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct npi_call), &call);
    if (body == NULL)
        return;
    struct npi_call *nc = call->data;
    const char *type, *value, *password;
    bool ok = read_identifier(req, body, &type, &value, &password);
    if (ok && strcmp(type, "username") != 0) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier.type: only username is supported for registration");
        ok = false;
    }
    if (ok && !latch_users_username_ok(value)) {
        latch_http_respond_errorf(req, 400, "guard.invalid_input",
                                  "identifier.value: a username starts with a letter or an "
                                  "underscore and has only letters, digits and underscores "
                                  "(at most 128)");
        ok = false;
    }
    if (ok) {
        nc->username = latch_arena_strdup(req->arena, value);
        nc->password = password_dup(password);
        if (nc->username == NULL || nc->password == NULL) {
            password_free(&nc->password);
            latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
            ok = false;
        }
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->cleanup = npi_cleanup;
    struct latch_store_op extra = {.stmt = &username_taken,
                                   .params = {req->tenant->id, nc->username}};
    latch_xp_load(call, &extra, 1, npi_loaded);
}

/* ---- PUT /api/experience/profile/password (ForgotPassword) ---- */

static void np_set_done(struct latch_store_result *const *results, int n,
                        const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    if (err != NULL) {
        latch_xp_store_error(call->req, err);
        return;
    }
    struct npi_call *nc = call->data;
    if (latch_store_result_rows(results[0]) < 1) {
        /* Expired, or the event or the person changed meanwhile (or, for the profile, someone
         * set a password meanwhile). */
        latch_xp_identifier_not_found(call->req);
        return;
    }
    if (nc->profile)
        latch_http_log(call->req, LATCH_LOG_INFO, "user %s: password set at sign-in", nc->user_id);
    latch_http_respond(call->req, 204, NULL, NULL, 0);
}

static void np_done(void *arg)
{
    struct latch_xp_call *call = arg;
    struct npi_call *nc = call->data;
    struct latch_request *req = call->req;
    password_free(&nc->password);
    if (nc->rc != LATCH_OK) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 500, "server_error", "Internal error.");
        return;
    }
    struct latch_store_op op = {
        .stmt = nc->profile ? &profile_password_set : &new_password_set,
        .params = {req->tenant->id, call->id_hash, nc->user_id, nc->hash},
    };
    latch_xp_exec(call, &op, 1, np_set_done);
    npi_cleanup(call);
}

static void np_loaded(struct latch_xp_call *call, struct latch_store_result *const *results, int n)
{
    struct npi_call *nc = call->data;
    struct latch_request *req = call->req;
    const struct latch_store_result *user = results[0];
    bool reset = latch_xp_event_parse(call->ia.event) == LATCH_XP_EVENT_FORGOT_PASSWORD;
    if (reset == nc->profile) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 400, "session.invalid_interaction_type",
                                  nc->profile ? "Use PUT /api/experience/profile/password to "
                                                "reset a password."
                                              : "A new password is set only in the "
                                                "ForgotPassword event.");
        return;
    }
    if (call->ia.result_user_id == NULL || latch_store_result_rows(user) < 1) {
        npi_cleanup(call);
        latch_xp_identifier_not_found(req);
        return;
    }
    if (nc->profile && strcmp(latch_store_result_value(user, 0, 5), "t") == 0) {
        npi_cleanup(call);
        latch_http_respond_errorf(req, 422, "user.password_exists_in_profile",
                                  "This account already has a password.");
        return;
    }
    snprintf(nc->user_id, sizeof(nc->user_id), "%s", latch_store_result_value(user, 0, 0));
    struct latch_users_info info = {
        .username =
            latch_store_result_isnull(user, 0, 1) ? NULL : latch_store_result_value(user, 0, 1),
        .email =
            latch_store_result_isnull(user, 0, 2) ? NULL : latch_store_result_value(user, 0, 2),
        .phone =
            latch_store_result_isnull(user, 0, 3) ? NULL : latch_store_result_value(user, 0, 3),
        .name = latch_store_result_isnull(user, 0, 4) ? NULL : latch_store_result_value(user, 0, 4),
    };
    check_and_hash(call, &info, np_done);
}

void latch_xp_profile_password(struct latch_xp_call *call, const char *password)
{
    struct latch_request *req = call->req;
    struct npi_call *nc = latch_arena_calloc(req->arena, 1, sizeof(*nc));
    if (nc == NULL || (nc->password = password_dup(password)) == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    nc->profile = true;
    call->data = nc;
    call->cleanup = npi_cleanup;
    struct latch_store_op extra = {.stmt = &reset_user, .params = {req->tenant->id, call->id_hash}};
    latch_xp_load(call, &extra, 1, np_loaded);
}

static void put_profile_password(struct latch_request *req, void *arg)
{
    struct latch_xp_call *call;
    yajl_val body = latch_xp_begin_body(req, sizeof(struct npi_call), &call);
    if (body == NULL)
        return;
    struct npi_call *nc = call->data;
    const char *password;
    bool ok =
        latch_xp_get_str(req, body, "password", "password", LATCH_PASSWORD_MAX, true, &password);
    if (ok && (nc->password = password_dup(password)) == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        ok = false;
    }
    latch_xp_body_free(req, body);
    if (!ok)
        return;
    call->cleanup = npi_cleanup;
    struct latch_store_op extra = {.stmt = &reset_user, .params = {req->tenant->id, call->id_hash}};
    latch_xp_load(call, &extra, 1, np_loaded);
}

/* ---- POST /api/experience/submit of ForgotPassword ---- */

static void new_password_required(struct latch_request *req)
{
    latch_http_respond_errorf(req, 422, "user.new_password_required_in_profile",
                              "Set a new password first (PUT /api/experience/profile/password).");
}

static void reset_done(struct latch_store_result *const *results, int n,
                       const struct latch_error *err, void *arg)
{
    struct latch_xp_call *call = arg;
    struct latch_request *req = call->req;
    if (err != NULL) {
        latch_xp_store_error(req, err);
        return;
    }
    const struct latch_store_result *res = results[0];
    if (latch_store_result_isnull(res, 0, 0)) {
        new_password_required(req);
        return;
    }
    latch_http_log(req, LATCH_LOG_INFO,
                   "password of user %s reset: %s sessions ended, %s refresh tokens and %s "
                   "grants revoked",
                   latch_store_result_value(res, 0, 0), latch_store_result_value(res, 0, 1),
                   latch_store_result_value(res, 0, 2), latch_store_result_value(res, 0, 3));
    latch_http_respond(req, 204, NULL, NULL, 0);
}

void latch_xp_password_reset_submit(struct latch_xp_call *call)
{
    struct latch_request *req = call->req;
    if (!call->ia.has_new_password) {
        new_password_required(req);
        return;
    }
    /* PostResetPassword and User.Data.Updated go to the outbox in the reset's own transaction,
     * after it (the reset clears the interaction's event and user, which the submit's events
     * statement reads: that one would find nothing). */
    const char *head = latch_mgmt_hook_xp_head(req, NULL);
    if (head == NULL) {
        latch_http_respond_errorf(req, 503, "service_unavailable", "Out of memory.");
        return;
    }
    struct latch_store_op ops[2] = {
        {.stmt = &password_reset, .params = {req->tenant->id, call->id_hash}},
        {.stmt = &latch_mgmt_hook_reset_stmt,
         .params = {req->tenant->id, call->id_hash, head, call->ia.result_user_id}},
    };
    latch_xp_exec(call, ops, 2, reset_done);
}

latch_rc latch_xp_verification_register(struct latch_server *srv)
{
    if (latch_server_add_tenant_route(srv, LATCH_HTTP_POST, "/api/experience/verification/password",
                                      post_password, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_POST,
                                      "/api/experience/verification/new-password-identity",
                                      post_new_password_identity, NULL) != LATCH_OK ||
        latch_server_add_tenant_route(srv, LATCH_HTTP_PUT, "/api/experience/profile/password",
                                      put_profile_password, NULL) != LATCH_OK)
        return LATCH_FAIL;
    return LATCH_OK;
}
