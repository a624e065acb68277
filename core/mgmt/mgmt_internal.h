/*
 * mgmt/ internals shared by the Management API modules (applications.c, resources.c, roles.c,
 * keys.c, swagger.c) and implemented in util.c (relation handlers in relation.c): each module's
 * register function, a runner that sends a handler's statements and turns their result into the
 * answer, and body readers that validate one field each and answer 400 naming it.
 *
 * Statement convention for latch_mgmt_run(): a statement that answers returns one row whose
 * columns are, in order and each optional:
 *   0  the JSON body (text), NULL for answers without a body;
 *   1  the total number of rows for a list (the Total-Number header);
 *   2  a problem name (NULL when fine), looked up in latch_mgmt_reply.problems; "not_found" is
 *      built in (404 for the reply's entity and id);
 *   3  a detail substituted for "{}" in the problem's message (e.g. the missing id).
 * No row at all from the answering statement means 404 for the reply's entity and id.
 *
 * Everything here runs on the loop thread of the request.
 */
#ifndef LATCH_MGMT_MGMT_INTERNAL_H
#define LATCH_MGMT_MGMT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "util/json.h"

#include "mgmt/mgmt.h"

/* ---- module registration (main thread, before the server starts) ---- */
latch_rc latch_mgmt_applications_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_mgmt_resources_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_mgmt_roles_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc latch_mgmt_keys_register(struct latch_server *srv) LATCH_MUST_CHECK;  /* keys.c */
latch_rc latch_mgmt_users_register(struct latch_server *srv) LATCH_MUST_CHECK; /* users.c */
/* users_mfa.c */
latch_rc latch_mgmt_users_mfa_register(struct latch_server *srv) LATCH_MUST_CHECK;
latch_rc
latch_mgmt_organizations_register(struct latch_server *srv) LATCH_MUST_CHECK; /* organizations.c */
latch_rc latch_mgmt_organization_roles_register(struct latch_server *srv)
    LATCH_MUST_CHECK; /* organization_roles.c: organization roles and scopes */
latch_rc
latch_mgmt_invitations_register(struct latch_server *srv) LATCH_MUST_CHECK;      /* invitations.c */
latch_rc latch_mgmt_swagger_register(struct latch_server *srv) LATCH_MUST_CHECK; /* swagger.c */
latch_rc
latch_mgmt_connectors_register(struct latch_server *srv) LATCH_MUST_CHECK; /* connectors.c */
latch_rc latch_mgmt_email_templates_register(struct latch_server *srv)
    LATCH_MUST_CHECK; /* email_templates.c */
latch_rc latch_mgmt_logs_register(struct latch_server *srv) LATCH_MUST_CHECK;  /* logs.c */
latch_rc latch_mgmt_hooks_register(struct latch_server *srv) LATCH_MUST_CHECK; /* hooks.c */

/* ---- webhooks: events into the outbox (hooks.c), delivery (hook_delivery.c) ---- */

#define LATCH_HOOKS_SIGNATURE_HEADER "logto-signature-sha-256"

/* What an event reports, read back from its row in the same transaction. The items come first
 * (a DELETE reports one before deleting it), then the events of relations. */
enum latch_mgmt_hook_kind {
    LATCH_MGMT_HOOK_USER,
    LATCH_MGMT_HOOK_ORGANIZATION,
    LATCH_MGMT_HOOK_ROLE,
    LATCH_MGMT_HOOK_SCOPE,
    LATCH_MGMT_HOOK_ORGANIZATION_ROLE,
    LATCH_MGMT_HOOK_ORGANIZATION_SCOPE,
    /* Organization.Membership.Updated: {organizationId} instead of data, when this transaction
     * added or removed a member (user or application) */
    LATCH_MGMT_HOOK_MEMBERSHIP,
    /* the same, for the organization of the invitation `id` (an invitation accepted) */
    LATCH_MGMT_HOOK_INVITATION_MEMBERSHIP,
    /* Role.Scopes.Updated, when this transaction granted or took a scope (schema/0017): data
     * is every scope of the role after an add (Logto answers POST with them), none after a
     * removal (Logto answers 204) */
    LATCH_MGMT_HOOK_ROLE_SCOPES,
    /* OrganizationRole.Scopes.Updated, when this transaction changed the role's organization
     * scopes; no data (Logto answers these routes without a body) */
    LATCH_MGMT_HOOK_ORGANIZATION_ROLE_SCOPES,
    LATCH_MGMT_HOOK_KINDS,
};

/* A Management API route's webhook event (Logto's managementApiHooksRegistration). */
struct latch_mgmt_hook_spec {
    const char *event;              /* "User.Created" */
    enum latch_mgmt_hook_kind kind; /* what `data` is */
    const char *route;              /* the matched route, "/api/users/:userId" */
};

/*
 * Fills *op with the statement that puts spec->event into the outbox for each enabled hook of
 * the tenant subscribed to it, with Logto's data-hook payload: {event, createdAt, userAgent, ip,
 * path, method, status, params: {param: id}, matchedRoute, data, hookId}, data being the item
 * of spec->kind with this id as the Management API shows it. Add *op to the change's own
 * statements (one latch_store_exec transaction): after a creation or update, where it reports
 * the item only when this transaction wrote it (a request that stopped at a problem changed
 * nothing and reports nothing), or before a deletion (DELETE requests), while the item is there.
 * Strings go to req->arena; answers 500 and returns false when out of memory. Loop thread.
 */
bool latch_mgmt_hook_op(struct latch_request *req, struct latch_store_op *op,
                        const struct latch_mgmt_hook_spec *spec, const char *id,
                        int status) LATCH_MUST_CHECK;

struct latch_mgmt_reply;
/* latch_mgmt_run() of op with its event (latch_mgmt_hook_op, for the item id, with
 * reply->status) in the same transaction: after op, or before it for a DELETE. */
void latch_mgmt_run_hooked(struct latch_request *req, const struct latch_store_op *op,
                           const struct latch_mgmt_reply *reply,
                           const struct latch_mgmt_hook_spec *spec, const char *id);

/* The sign-in experience's events at submit ($1 tenant, $2 interaction id hash, $3
 * latch_mgmt_hook_xp_head()): PostSignIn, PostRegister with User.Created, once per
 * interaction. */
extern const struct latch_stmt latch_mgmt_hook_xp_stmt;
/* A password reset's PostResetPassword and User.Data.Updated, after the reset's statement in its
 * transaction ($1 tenant, $2 interaction id hash, $3 latch_mgmt_hook_xp_head(), $4 the user):
 * emitted only when that transaction changed the user. */
extern const struct latch_stmt latch_mgmt_hook_reset_stmt;
/* User.Data.Updated when a sign-in binds an MFA factor or completes the profile, after the
 * change's statement in its transaction (the parameters of latch_mgmt_hook_reset_stmt). */
extern const struct latch_stmt latch_mgmt_hook_user_updated_stmt;
/* Organization.Membership.Updated for just-in-time provisioning: run after the statement that
 * created the user and its memberships ($1 tenant, $2 the new user's id, $3
 * latch_mgmt_hook_xp_head()). */
extern const struct latch_stmt latch_mgmt_hook_jit_stmt;
/* The request's members of an interaction payload (",\"createdAt\":…,\"userIp\":…", no
 * braces), in req->arena; NULL when out of memory. */
char *latch_mgmt_hook_xp_head(struct latch_request *req, const char *session_id);

/* The outcome of one webhook POST. */
struct latch_mgmt_hook_result {
    bool failed;     /* no answer (connection, TLS, timeout, address refused) */
    char error[256]; /* why, when failed (no URL query, no secret) */
    int status;      /* the answer's HTTP status */
    char *body;      /* malloc'd: the answer, at most LATCH_MGMT_HOOK_LOG_BODY bytes kept */
    bool body_json;  /* body is JSON text */
    bool body_cut;   /* the answer was longer than what body keeps */
};
#define LATCH_MGMT_HOOK_LOG_BODY 4096
void latch_mgmt_hook_result_clear(struct latch_mgmt_hook_result *r);

/* POSTs body to url with the hook's headers (JSON object text), user-agent and the
 * logto-signature-sha-256 header (hex HMAC-SHA-256 of body under key), through the outbound
 * service (its address policy, TLS checks, CA file and connect-to), with the delivery timeout.
 * Blocking: I/O lane only. */
void latch_mgmt_hook_send(const char *url, const char *headers, const char *body, const char *key,
                          struct latch_mgmt_hook_result *out);

/* ---- the audit log of changes (logs.c) ---- */

/* The audit-log key of a protected route (a static string), NULL for routes that change nothing
 * (GET) or are not recorded. Main thread, at registration. */
const char *latch_mgmt_change_key(enum latch_http_method method, const char *pattern);
/* Tracks req under key (NULL: nothing) with the caller's application id (borrowed for the
 * call), the path and the ids the path names. Loop thread, once the caller is authenticated. */
void latch_mgmt_change_track(struct latch_request *req, const char *key, const char *caller);

/* ---- connector configs at rest (connectors.c) ---- */

/* Opens a stored connector config (JSON object text): each {"$sealed": ...} value becomes its
 * plaintext string again, each {"$sealedJson": ...} the JSON value it sealed. Returns malloc'd
 * JSON text the caller releases with latch_mgmt_connector_config_free() (which wipes it); NULL
 * when a value cannot be opened (tampered row, other LATCH_SECRET_KEY) or on allocation
 * failure. Any thread. */
char *latch_mgmt_connector_config_open(const uint8_t master[32], const char *tenant_id,
                                       const char *connector_id, const char *stored);
void latch_mgmt_connector_config_free(char *config);

struct latch_plugin_call;
/* A connector call on the worker pool (experience/social.c, messages/): opens the stored
 * config of connector_id into call->config_json. On failure fills call->error_code
 * ("connector.invalid_config") and error_detail and returns LATCH_FAIL. Pair it with
 * latch_mgmt_connector_call_close(), which wipes and frees the config (also after a failure).
 * Any thread. */
latch_rc latch_mgmt_connector_call_open(struct latch_plugin_call *call, const uint8_t master[32],
                                        const char *tenant_id, const char *connector_id,
                                        const char *stored) LATCH_MUST_CHECK;
void latch_mgmt_connector_call_close(struct latch_plugin_call *call);

/* ---- SQL fragments shared by the modules ---- */

/* A timestamptz column as epoch milliseconds (JSON number, null stays null). */
#define LATCH_MGMT_SQL_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"

/* SQL text is laid out by hand, one clause per line; clang-format would scatter it. */
// clang-format off
/* Logto's JSON shapes, built in SQL from a row alias (camelCase keys). */
#define LATCH_MGMT_SQL_APP_JSON(a)                                                                 \
    "json_build_object('id', " a ".id, 'tenantId', " a ".tenant_id, 'name', " a ".name, "          \
    "'description', " a ".description, 'type', " a ".type, 'oidcClientMetadata', " a               \
    ".oidc_client_metadata, 'customClientMetadata', " a ".custom_client_metadata, "                 \
    "'customData', " a ".custom_data, 'isThirdParty', " a ".is_third_party, 'createdAt', "         \
    LATCH_MGMT_SQL_MS(a ".created_at") ")"
#define LATCH_MGMT_SQL_ROLE_JSON(r)                                                                \
    "json_build_object('id', " r ".id, 'tenantId', " r ".tenant_id, 'name', " r ".name, "          \
    "'description', " r ".description, 'type', " r ".type, 'isDefault', " r ".is_default)"
#define LATCH_MGMT_SQL_RESOURCE_JSON(r)                                                            \
    "json_build_object('id', " r ".id, 'tenantId', " r ".tenant_id, 'name', " r ".name, "          \
    "'indicator', " r ".indicator, 'isDefault', " r ".is_default, 'accessTokenTtl', " r            \
    ".access_token_ttl)"
#define LATCH_MGMT_SQL_SCOPE_JSON(s)                                                               \
    "json_build_object('id', " s ".id, 'tenantId', " s ".tenant_id, 'resourceId', " s              \
    ".resource_id, 'name', " s ".name, 'description', " s ".description, 'createdAt', "            \
    LATCH_MGMT_SQL_MS(s ".created_at") ")"
// clang-format on

/* Longest id Latch generates or seeds (Logto: 21-character nanoids). */
#define LATCH_MGMT_ID_LEN 21
/* Most ids one request body may list (roleIds, scopeIds, applicationIds). */
#define LATCH_MGMT_MAX_IDS 100

/* ---- running statements and answering ---- */

/* A problem a statement may report in column 2, and how to answer it. */
struct latch_mgmt_problem {
    const char *name;    /* as the SQL returns it, e.g. "app_not_m2m" */
    int status;          /* 400, 403, 404, 422 */
    const char *code;    /* e.g. "application.invalid_type" */
    const char *message; /* "{}" is replaced by column 3 */
};

/* How latch_mgmt_run() answers. Copied; pointed-to strings must live as long as the request
 * (static or in req->arena). */
struct latch_mgmt_reply {
    int status;                /* on success: 200, 201 or 204 */
    int op;                    /* index of the statement whose row answers */
    const char *entity;        /* for 404s: "application", "resource", ... */
    const char *id;            /* for 404s: the id from the path */
    const char *conflict_code; /* unique violation → 422 with this code and message */
    const char *conflict_message;
    const struct latch_mgmt_problem *problems; /* terminated by an entry with name NULL */
    bool list;                                 /* column 1 carries Total-Number */
    bool no_body; /* answer `status` without a body even when column 0 is set */
    char *append; /* JSON members spliced before the closing '}' of the body
                   * (",\"secret\":\"…\""); wiped once the answer is written */
    /* Optional: once the statements succeeded without a problem and the answering row exists,
     * this is called instead of answering (results valid during the call only), and must answer
     * req itself, now or later: work that follows a committed change (sending a message). */
    void (*then)(struct latch_request *req, struct latch_store_result *const *results, int nresults,
                 void *arg);
    void *then_arg;
};

/* Runs ops[0..nops) in one transaction for req->tenant and answers from the result as
 * described above. Problems are looked for in every statement's row, in order. */
void latch_mgmt_run(struct latch_request *req, const struct latch_store_op *ops, int nops,
                    const struct latch_mgmt_reply *reply);

/* A route that runs one statement taking (tenant, the id in the path) and answers with its row:
 * GET or DELETE of one item, or a list belonging to one. The route table passes it as the
 * argument of latch_mgmt_by_id. */
struct latch_mgmt_by_id {
    const struct latch_stmt *stmt;
    const char *param;  /* the path parameter holding the id: "id", "userId" */
    const char *entity; /* for 404s: "application", "organization role", ... */
    int status;         /* 200 with the row, or 204 */
    const struct latch_mgmt_problem *problems; /* may be NULL */
};
void latch_mgmt_by_id(struct latch_request *req, void *arg);

/* latch_mgmt_by_id() of a change (a DELETE), with the route's webhook event in the same
 * transaction (latch_mgmt_run_hooked). The route table passes it as the argument of
 * latch_mgmt_by_id_hooked. */
struct latch_mgmt_by_id_hooked {
    struct latch_mgmt_by_id call;
    const struct latch_mgmt_hook_spec *hook;
};
void latch_mgmt_by_id_hooked(struct latch_request *req, void *arg);

/* Answers 404 {"code":"entity.not_exists_with_id","message":"The <entity> with ID `<id>` does
 * not exist."}. */
void latch_mgmt_not_found(struct latch_request *req, const char *entity, const char *id);

/* A path parameter holding an id: 1..21 characters of [0-9A-Za-z_-]. Anything else cannot name
 * a stored row, so this answers the 404 itself and returns NULL. */
const char *latch_mgmt_param_id(struct latch_request *req, const char *name, const char *entity);

/* A path parameter holding a name (valid UTF-8, 1..max characters), else 404 and NULL. */
const char *latch_mgmt_param_name(struct latch_request *req, const char *name, int max,
                                  const char *entity);

/* Pagination; optional = Logto's `isOptional`: without page and page_size the whole list is
 * returned (*limit NULL, which SQL's LIMIT reads as "no limit"). Answers 400 and returns false
 * on bad values. */
bool latch_mgmt_paginate(struct latch_request *req, bool optional, const char **limit,
                         const char **offset);

/* The `search` query parameter as an ILIKE pattern "%<search>%" (Logto's `%` wildcards keep
 * working), NULL when absent. Answers 400 and returns false when longer than 256 characters or
 * not valid UTF-8. */
bool latch_mgmt_search(struct latch_request *req, const char **pattern);

/* The `search` query parameter of the lists of users (GET /api/users, /api/roles/:id/users), as
 * Logto reads it: a value with `%` is an ILIKE pattern as given (search=%ali%); plain text
 * matches anywhere with `_` and `\` taken literally. Same validation as latch_mgmt_search. */
bool latch_mgmt_search_users(struct latch_request *req, const char **pattern);

/* Logto's `q` query parameter (organization lists) as an ILIKE pattern "%<q>%" (its `%`
 * wildcards keep working), NULL when absent or empty. Answers 400 and returns false when it is
 * not valid text of at most 256 characters (no control characters). */
bool latch_mgmt_search_q(struct latch_request *req, const char **pattern);

/* All values of a repeatable query parameter, in order, into out[0..max); returns how many, or
 * -1 (after answering 400) when there are more than max. */
int latch_mgmt_query_all(struct latch_request *req, const char *name, const char **out, int max);

/* "true"/"false"/absent query flag (Logto's isTrue also takes "1", "yes", "y"). */
bool latch_mgmt_query_flag(struct latch_request *req, const char *name);

/* ---- reading validated fields from a parsed body ---- */

/* An object of the body; path names it in messages ("" at the top, "customClientMetadata"). */
struct latch_mgmt_obj {
    struct latch_request *req;
    yajl_val val;
    const char *path;
};

enum {
    LATCH_MGMT_REQUIRED = 1 << 0,  /* absent (or null) → 400 */
    LATCH_MGMT_NULLABLE = 1 << 1,  /* null is accepted (then *out stays NULL, *present true) */
    LATCH_MGMT_NO_SPACE = 1 << 2,  /* strings: no whitespace at all */
    LATCH_MGMT_MULTILINE = 1 << 3, /* strings: tab, CR and LF allowed (templates, HTML) */
};

/* The member `key` of o, NULL when absent. Borrowed from the tree. */
yajl_val latch_mgmt_member(const struct latch_mgmt_obj *o, const char *key);

/* A string of min..max characters (UTF-8 code points, no control characters), copied into
 * req->arena. *out NULL when absent or null; *present (may be NULL) tells whether the key was
 * there. Answers 400 and returns false when invalid. */
bool latch_mgmt_get_str(const struct latch_mgmt_obj *o, const char *key, int min, int max,
                        unsigned flags, const char **out, bool *present);

/* A boolean: *out -1 when absent, else 0 or 1. */
bool latch_mgmt_get_bool(const struct latch_mgmt_obj *o, const char *key, unsigned flags, int *out);

/* An integer in [min, max]: *present false when absent (or null with NULLABLE). */
bool latch_mgmt_get_int(const struct latch_mgmt_obj *o, const char *key, long long min,
                        long long max, unsigned flags, long long *out, bool *present);

/* A nested object (NULL *out when absent or null). */
bool latch_mgmt_get_obj(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        struct latch_mgmt_obj *out);

/* An array of id strings (1..128 characters each, at most LATCH_MGMT_MAX_IDS, duplicates
 * allowed) as a JSON array text in req->arena for `json_array_elements_text($n::json)`.
 * *json NULL when absent. nonempty: [] is refused. */
bool latch_mgmt_get_ids(const struct latch_mgmt_obj *o, const char *key, unsigned flags,
                        bool nonempty, const char **json);

/* Answers 400 for o's member key (the field is named with o's path). */
void latch_mgmt_invalid_member(const struct latch_mgmt_obj *o, const char *key,
                               const char *problem);

/* ---- JSON text building (util/json.h's writer, bounded by the body it came from) ---- */

/* A new heap writer (compact; ill-formed UTF-8 written as U+FFFD); NULL on allocation failure.
 * Inside an object, a string where a key is due is the key (util/json.h). */
struct latch_json *latch_mgmt_gen_new(void);

/* Frees a writer that was not taken (NULL is fine). */
void latch_mgmt_gen_free(struct latch_json *g);

/* Copies the writer's output into req->arena and frees the writer; NULL on failure. */
char *latch_mgmt_gen_take(struct latch_request *req, struct latch_json *g);

void latch_mgmt_gen_str(struct latch_json *g, const char *s);

/* Writes a parsed value as JSON (for customData, which is stored as given). */
void latch_mgmt_gen_value(struct latch_json *g, yajl_val v);

/* Number of UTF-8 code points in s, or -1 when s is not valid UTF-8. */
long latch_mgmt_utf8_len(const char *s);

/* Current time in epoch milliseconds. */
long long latch_mgmt_now_ms(void);

/* ---- relations (relation.c) ----
 * A relation between the item named by the path's :id (its owner: a role, an organization...)
 * and a set of others, described once; the route table passes the description as the argument
 * of the handlers below. Each statement takes ($1 tenant, $2 owner id, ...):
 *   list     GET    ($3 limit, $4 offset, $5 search pattern or NULL), answers 200 with a list;
 *   add      POST   ($3 ids as a JSON array, at least one), answers 201 without a body, or 200
 *                   with add_answer's row (run after add, in the same transaction) when set;
 *   replace  PUT    ($3 ids, [] removes all), answers 204;
 *   remove   DELETE ($3 the id of the path's :<param>), answers 204.
 * A relation without a statement has no such route. */
enum latch_mgmt_search_kind {
    LATCH_MGMT_SEARCH_NONE,
    LATCH_MGMT_SEARCH_PATTERN, /* `search`, latch_mgmt_search() */
    LATCH_MGMT_SEARCH_USERS,   /* `search`, latch_mgmt_search_users() */
    LATCH_MGMT_SEARCH_Q,       /* `q`, latch_mgmt_search_q() */
};

struct latch_mgmt_relation {
    const char *owner_entity; /* the owner, for a malformed id and 404s: "role" */
    const struct latch_stmt *list, *add, *replace, *remove;
    const struct latch_stmt *add_answer;       /* NULL: add answers 201 without a body */
    const char *ids_key;                       /* body member of POST and PUT: "userIds" */
    const char *param;                         /* path parameter of DELETE: "userId" */
    const char *param_entity;                  /* for a malformed DELETE id: "user" */
    bool page_optional;                        /* latch_mgmt_paginate()'s `optional` for the list */
    enum latch_mgmt_search_kind search;        /* the list's search parameter */
    const struct latch_mgmt_problem *problems; /* may be NULL */
    const char *conflict_code;                 /* add: a unique violation (two adds racing) */
    const char *conflict_message;
    /* add, replace and remove: the event they emit (route: the list's, e.g.
     * "/api/organizations/:id/users"; remove's is that and "/:<param>"); NULL for none */
    const struct latch_mgmt_hook_spec *hook;
};

void latch_mgmt_relation_list(struct latch_request *req, void *arg);
void latch_mgmt_relation_add(struct latch_request *req, void *arg);
void latch_mgmt_relation_replace(struct latch_request *req, void *arg);
void latch_mgmt_relation_remove(struct latch_request *req, void *arg);

/* ---- the admin console's reserved rows (schema/0015_console.sql) ---- */

#define LATCH_MGMT_CONSOLE_APP   "admin-console"
#define LATCH_MGMT_CONSOLE_ROLE  "console-admin"
#define LATCH_MGMT_CONSOLE_SCOPE "management-api-all"

/* Answers 403 {code, message} when the path parameter `param` names the reserved row `id` and
 * returns true; false (nothing answered) otherwise. Deleting the console's application or its
 * administrators' role, or taking the Management API scope from that role, would lock every
 * administrator out of the console. */
bool latch_mgmt_refuse_reserved(struct latch_request *req, const char *param, const char *id,
                                const char *code, const char *message);

#endif
