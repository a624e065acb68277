/*
 * plugin/: connectors loaded at run time (plugins-api/latch/connector.h), the only module that
 * includes the connector ABI.
 *
 * The registry is node-wide and thread-safe. Each loaded file is a refcounted, immutable
 * `struct latch_plugin` (one version of one factory). Loading a newer file with the same factory
 * id makes it the current version; the old one stays loaded, "retired", until no sign-in holds
 * it and the longest sign-in (the interaction TTL) has passed, so a flow under way finishes on
 * the version it started with. Unloading removes the factory from new flows at once.
 *
 * Threads: lookups (latch_plugin_get, _get_version, _ref, _unref, _info, _each,
 * _factory_json) never block and any thread may call them, loop threads included. Calls into a
 * connector (latch_plugin_authorization_uri, _user_info, _validate_config, _send_message) block:
 * worker pool only. Loading (init, load, unload, rescan, command) blocks on dlopen: the main thread
 * or the worker pool.
 */
#ifndef LATCH_PLUGIN_PLUGIN_H
#define LATCH_PLUGIN_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

struct latch_plugin;

/* What the host and tenant side need to know of a factory (copied out of the descriptor). */
struct latch_plugin_info {
    char id[128];     /* factory id, e.g. "huggingface-universal" */
    char target[64];  /* "huggingface" */
    char version[32]; /* the connector's own version */
    char sha256[65];  /* of the file: identifies this loaded version */
    char path[512];
    uint16_t abi_major, abi_minor;
    int kind; /* enum latch_connector_kind */
};

/* The NOTIFY channel of operator commands: payload "load <file>", "unload <id>" or "reload". */
#define LATCH_PLUGIN_CHANNEL "latch_connectors"

/* How long a version replaced by an upgrade keeps serving the sign-ins that began on it: the
 * interaction TTL. */
#define LATCH_PLUGIN_RETIRE_SECONDS 3600

/* Start-up (main thread, before the loops): the directory connectors may be loaded from
 * (LATCH_CONNECTOR_DIR; NULL or "" for none); loads every *.so in it. Fails only when dir is not
 * an existing directory (or anyone may write to it); errors of single files are logged. */
latch_rc latch_plugin_init(const char *dir, struct latch_error *err) LATCH_MUST_CHECK;
/* Unloads everything not referenced (after the loops and the worker pool have stopped). */
void latch_plugin_shutdown(void);
/* The canonical connector directory, "" when none. */
const char *latch_plugin_dir(void);

/* Operator controls (latchctl via PostgreSQL NOTIFY, SIGHUP rescan). path must resolve inside
 * the connector directory. Load of an id already loaded from another file = upgrade. */
latch_rc latch_plugin_load(const char *path, struct latch_plugin_info *info,
                           struct latch_error *err) LATCH_MUST_CHECK;
latch_rc latch_plugin_unload(const char *factory_id, struct latch_error *err) LATCH_MUST_CHECK;
/* Rescans the directory: loads new or changed files, unloads factories whose file is gone.
 * A new file claiming an id another file provides is refused (logged); a factory unloaded by
 * the operator stays unloaded until one of its files is loaded explicitly (or a restart). */
void latch_plugin_rescan(void);
/* Runs an operator command as received on LATCH_PLUGIN_CHANNEL; logs the outcome. Blocking
 * (dlopen): the main thread or the worker pool, never a loop thread. */
void latch_plugin_command(const char *payload);
/* dlclose()s retired versions no sign-in can still need (unreferenced, retired longer than the
 * retire TTL ago). Load, unload and rescan do it too; call it periodically as well. */
void latch_plugin_collect(void);
/* Tests: the retire TTL in seconds (default LATCH_PLUGIN_RETIRE_SECONDS). */
void latch_plugin_set_retire_ttl(int seconds);

/* Opens and checks one file of dir without registering it, fills *info and closes it again
 * (latchctl connectors list). The same checks and messages as a load, but id uniqueness. */
latch_rc latch_plugin_inspect(const char *dir, const char *path, struct latch_plugin_info *info,
                              struct latch_error *err) LATCH_MUST_CHECK;

/* The current version of factory_id (a reference), or NULL when none is loaded. */
struct latch_plugin *latch_plugin_get(const char *factory_id);
/* A specific loaded version (current or retired), for flows that began on it. */
struct latch_plugin *latch_plugin_get_version(const char *factory_id, const char *sha256);
void latch_plugin_ref(struct latch_plugin *p);
void latch_plugin_unref(struct latch_plugin *p);
const struct latch_plugin_info *latch_plugin_info(const struct latch_plugin *p);

/* Calls fn for each current factory (for GET /api/connector-factories and latchctl list). */
void latch_plugin_each(void (*fn)(struct latch_plugin *p, void *arg), void *arg);

/* The descriptor's texts and schema rendered as Logto's connector-factory JSON (malloc'd). */
char *latch_plugin_factory_json(const struct latch_plugin *p);

/* Validates a connector config (JSON object) against the factory's schema and its
 * validate_config op. On failure err names the field. Worker pool (the op may block). */
latch_rc latch_plugin_validate_config(struct latch_plugin *p, const char *config_json,
                                      struct latch_error *err) LATCH_MUST_CHECK;

/* Per-flow connector session values, as JSON object text (kept in the interaction). */
struct latch_plugin_call {
    const char *config_json;  /* the connector instance's config (decrypted) */
    const char *session_json; /* in: the session so far ("{}" to start) */
    char *session_out;        /* out: the session afterwards (malloc'd; caller frees) */
    char error_code[64];      /* out on failure: "connector.<status>" */
    char error_detail[256];   /* out on failure: log only */
    const char *request_id;   /* the request the call serves (its log lines carry it), or NULL */
    const char *tenant;       /* its tenant, or NULL */
};

/* get_authorization_uri; *uri malloc'd (caller frees). Worker pool. */
latch_rc latch_plugin_authorization_uri(struct latch_plugin *p, struct latch_plugin_call *call,
                                        const char *state, const char *redirect_uri,
                                        const char *scope, char **uri) LATCH_MUST_CHECK;

/* The profile from get_user_info (strings malloc'd; free with latch_plugin_user_clear). */
struct latch_plugin_user {
    char *id, *name, *email, *phone, *avatar, *raw_json;
    bool email_verified;
};

/* params: the callback query as name/value pairs. Worker pool. */
latch_rc latch_plugin_user_info(struct latch_plugin *p, struct latch_plugin_call *call,
                                const char *const *names, const char *const *values, size_t nparams,
                                struct latch_plugin_user *user) LATCH_MUST_CHECK;
void latch_plugin_user_clear(struct latch_plugin_user *user);

/* One message for an email or SMS connector (Logto's SendMessageData); strings are the
 * caller's. type is an enum latch_connector_template value; vars are Logto's payload (code,
 * link, locale, uiLocales, inviter, organization, ...), at most 32; subject/content/content_type
 * are the tenant's template override for the type and locale (NULL when none). */
struct latch_plugin_message {
    int type;
    const char *to; /* an email address, or E.164 digits without '+' */
    const char *locale;
    const char *const *var_names;
    const char *const *var_values;
    size_t nvars;
    const char *ip;
    const char *subject, *content, *content_type;
};

/* send_message of an email or SMS connector (ABI 1.1); call->config_json is the instance's
 * config. On failure call->error_code is "connector.<status>" and error_detail says why (log
 * only). Worker pool (the I/O lane: it blocks on the provider). */
latch_rc latch_plugin_send_message(struct latch_plugin *p, struct latch_plugin_call *call,
                                   const struct latch_plugin_message *msg) LATCH_MUST_CHECK;

#endif
