/*
 * latchctl: the operator's command line. Applies schema migrations and manages tenants in the
 * database named by LATCH_DATABASE_URL (or --database-url). It has no event loop, so blocking
 * libpq is fine here. Input reaches SQL only as query parameters.
 *
 * Connectors: `connectors list` reads the connector directory on this host (dlopen()ing each
 * file to read its descriptor, as latchd would); `connectors load|unload|reload` NOTIFY every
 * latchd of the cluster on the latch_connectors channel, and each node acts on its own
 * connector directory.
 *
 * Exit status: 0 done, 1 the operation failed, 2 usage error.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/migrate.h"
#include "tenants/tenant_id.h"
#include "util/error.h"
#include "util/json.h"
#include "util/log.h"
#include "config/config.h"
#include "jose/secret.h"
#include "plugin/plugin.h"
#include "tenants/bootstrap.h"
#include "tenants/cache.h"
#include "tenants/keys.h"
#include <openssl/crypto.h>

#ifndef LATCH_VERSION
#define LATCH_VERSION "unknown" /* the build passes -DLATCH_VERSION="<project version>" */
#endif

#define EXIT_OK     0
#define EXIT_FAILED 1
#define EXIT_USAGE  2

#define MAX_POSITIONAL  4
#define TENANT_NAME_MAX 256 /* characters; tenants_name_length in schema/0001_tenants.sql */

static const char usage_text[] =
    "usage: latchctl [--database-url URL] <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  migrate                           apply pending schema migrations\n"
    "  tenant create <id> --name <name>  create a tenant\n"
    "  tenant list [--json]              list tenants\n"
    "  tenant suspend <id>               suspend a tenant\n"
    "  tenant resume <id>                resume a suspended tenant\n"
    "  app create --tenant <id> --type <type> --name <name> [--management]\n"
    "                                    create an application (type MachineToMachine,\n"
    "                                    Traditional, SPA or Native); prints {\"id\",\"secret\"};\n"
    "                                    --management grants the Management API role\n"
    "  admin create --tenant <id> --username <name> | --email <address> [--hours N]\n"
    "                                    make a console administrator (the user is created when\n"
    "                                    none has that username or email) and print a one-time\n"
    "                                    link to set the password, valid N hours (default 24)\n"
    "  keys rotate --tenant <id> [--algorithm EC|EC-P256|RSA|Ed25519] [--grace SECONDS]\n"
    "                                    rotate the tenant's signing keys\n"
    "  connectors list [--json]          the connector files of LATCH_CONNECTOR_DIR on this host\n"
    "                                    and what their descriptors say (id, version, ABI,\n"
    "                                    sha256), or why latchd would refuse them\n"
    "  connectors load <file>            every latchd of the cluster loads <file> from its\n"
    "                                    connector directory (an upgrade when the id is loaded)\n"
    "  connectors unload <id>            every latchd unloads connector factory <id>\n"
    "  connectors reload                 every latchd rescans its connector directory\n"
    "  version                           print the version and the schema version it carries\n"
    "  help, --help                      print this text\n"
    "\n"
    "environment:\n"
    "  LATCH_DATABASE_URL  libpq connection string or URI; --database-url overrides it (prefer\n"
    "                      the environment: command lines are visible to other users)\n"
    "  LATCH_SECRET_KEY    needed by 'app', 'admin', 'keys' and 'tenant create' (signing keys and\n"
    "                      secrets are sealed or hashed with it); the same value as latchd's\n"
    "  LATCH_PUBLIC_URL    as latchd's: the Management API indicator is derived from it\n"
    "  LATCH_CONNECTOR_DIR as latchd's: the directory 'connectors list' reads\n"
    "\n"
    "A tenant id is 1 to 21 lowercase letters, digits or dashes, and neither starts nor ends\n"
    "with a dash.\n"
    "\n"
    "exit status: 0 done, 1 the operation failed, 2 usage error\n";

struct args {
    const char *database_url;
    const char *name;
    const char *tenant;
    const char *type;
    const char *algorithm;
    const char *grace;
    const char *username;
    const char *email;
    const char *hours;
    bool management;
    bool json;
    bool help;
    const char *pos[MAX_POSITIONAL];
    int npos;
};

static int usage_error(const char *fmt, ...) LATCH_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("latchctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'latchctl --help'.\n", stderr);
    return EXIT_USAGE;
}

/* Matches "--opt VALUE" and "--opt=VALUE"; *i advances past a separate value. */
static bool option_value(int argc, char **argv, int *i, const char *opt, const char **out,
                         bool *missing)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n) != 0)
        return false;
    if (a[n] == '=') {
        *out = a + n + 1;
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        *missing = true;
        return true;
    }
    *out = argv[++*i];
    return true;
}

/* Returns EXIT_OK or EXIT_USAGE (after printing why). */
static int parse_args(int argc, char **argv, struct args *a)
{
    bool only_positional = false;
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->npos == MAX_POSITIONAL)
                return usage_error("unexpected argument '%s'", arg);
            a->pos[a->npos++] = arg;
        } else if (strcmp(arg, "--") == 0) {
            only_positional = true;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (strcmp(arg, "--management") == 0) {
            a->management = true;
        } else if (option_value(argc, argv, &i, "--database-url", &a->database_url, &missing) ||
                   option_value(argc, argv, &i, "--name", &a->name, &missing) ||
                   option_value(argc, argv, &i, "--tenant", &a->tenant, &missing) ||
                   option_value(argc, argv, &i, "--type", &a->type, &missing) ||
                   option_value(argc, argv, &i, "--algorithm", &a->algorithm, &missing) ||
                   option_value(argc, argv, &i, "--grace", &a->grace, &missing) ||
                   option_value(argc, argv, &i, "--username", &a->username, &missing) ||
                   option_value(argc, argv, &i, "--email", &a->email, &missing) ||
                   option_value(argc, argv, &i, "--hours", &a->hours, &missing)) {
            if (missing)
                return usage_error("option '%s' needs a value", arg);
        } else {
            return usage_error("unknown option '%s'", arg);
        }
    }
    return EXIT_OK;
}

/* Copies a libpq message without its trailing newline. */
static void one_line(char *buf, size_t cap, const char *msg)
{
    snprintf(buf, cap, "%s", msg != NULL ? msg : "");
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
}

static void print_pg_error(const char *what, PGconn *conn, const PGresult *res)
{
    char msg[1024];
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(msg, sizeof(msg), primary != NULL ? primary : PQerrorMessage(conn));
    fprintf(stderr, "latchctl: %s: %s\n", what, msg);
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state != NULL && strcmp(state, "42P01") == 0) /* undefined_table */
        fputs("latchctl: the schema is missing or old; run 'latchctl migrate' first\n", stderr);
}

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Opens a blocking connection; prints why and returns NULL when it cannot. */
static PGconn *connect_db(const char *conninfo)
{
    PGconn *conn = PQconnectdb(conninfo);
    if (conn == NULL) {
        fputs("latchctl: cannot connect to the database: out of memory\n", stderr);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and user, never the password. */
        print_pg_error("cannot connect to the database", conn, NULL);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, quiet_notice, NULL);
    if (PQsetClientEncoding(conn, "UTF8") != 0) {
        print_pg_error("cannot use UTF8 with the database", conn, NULL);
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Runs one parameterized statement; returns the result when its status is `want`, else NULL
 * after printing the error. */
static PGresult *exec_params(PGconn *conn, const char *what, const char *sql, int nparams,
                             const char *const *params, ExecStatusType want)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        print_pg_error(what, conn, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int cmd_migrate(const char *conninfo)
{
    struct latch_error err;
    int applied = 0;
    latch_error_clear(&err);
    if (latch_migrate_apply(conninfo, &applied, &err) != LATCH_OK) {
        fprintf(stderr, "latchctl: %s\n", err.message);
        if (err.detail[0] != '\0')
            fprintf(stderr, "latchctl: %s\n", err.detail);
        if (applied > 0)
            fprintf(stderr, "latchctl: %d migration%s applied before the failure\n", applied,
                    applied == 1 ? " was" : "s were");
        return EXIT_FAILED;
    }
    printf("applied %d migration%s; schema at version %d\n", applied, applied == 1 ? "" : "s",
           latch_migrate_latest_version());
    return EXIT_OK;
}

/* 1..TENANT_NAME_MAX UTF-8 characters, no control characters. */
static bool valid_tenant_name(const char *name)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7F)
            return false;
        if ((*p & 0xC0) != 0x80)
            chars++;
    }
    return chars >= 1 && chars <= TENANT_NAME_MAX;
}

static int cmd_tenant_create(PGconn *conn, const char *id, const char *name)
{
    static const char sql[] = "INSERT INTO tenants (id, name) VALUES ($1, $2) "
                              "ON CONFLICT (id) DO NOTHING RETURNING id";
    const char *params[2] = {id, name};
    PGresult *res = exec_params(conn, "cannot create the tenant", sql, 2, params, PGRES_TUPLES_OK);
    if (res == NULL)
        return EXIT_FAILED;
    int n = PQntuples(res);
    PQclear(res);
    if (n == 0) {
        fprintf(stderr, "latchctl: tenant %s already exists\n", id);
        return EXIT_FAILED;
    }
    printf("created tenant %s\n", id);
    return EXIT_OK;
}

/* ---- commands that need LATCH_SECRET_KEY (keys, secrets) ---- */

struct env_override {
    const char *database_url;
};

static const char *config_getenv(const char *name, void *arg)
{
    const struct env_override *o = arg;
    if (o->database_url != NULL && strcmp(name, "LATCH_DATABASE_URL") == 0)
        return o->database_url;
    return getenv(name);
}

static struct latch_config secret_cfg;

/* Loads latchd's configuration (for LATCH_SECRET_KEY and LATCH_PUBLIC_URL). */
static bool load_secret_config(const char *conninfo, bool quiet)
{
    struct env_override o = {.database_url = conninfo};
    struct latch_error err;
    if (latch_config_load(&secret_cfg, config_getenv, &o, &err) != LATCH_OK) {
        if (!quiet)
            fprintf(stderr, "latchctl: %s\n", err.message);
        return false;
    }
    latch_tenant_cache_set_master_key(secret_cfg.secret_key);
    return true;
}

static int report(const char *what, const struct latch_error *err)
{
    fprintf(stderr, "latchctl: %s: %s%s%s\n", what, err->message, err->detail[0] ? ": " : "",
            err->detail);
    return EXIT_FAILED;
}

static int cmd_app_create(const struct args *a, const char *conninfo)
{
    static const char *const types[] = {"MachineToMachine", "Traditional", "SPA", "Native", NULL};
    if (a->npos != 2)
        return usage_error("%s", "usage: latchctl app create --tenant <id> --type <type> --name "
                                 "<name> [--management]");
    if (a->tenant == NULL || !latch_tenants_valid_id(a->tenant))
        return usage_error("%s", "'app create' needs --tenant <valid tenant id>");
    if (a->name == NULL || !valid_tenant_name(a->name))
        return usage_error("%s", "'app create' needs --name <1 to 256 characters>");
    bool known = false;
    for (const char *const *t = types; *t && a->type; t++)
        known |= strcmp(*t, a->type) == 0;
    if (!known)
        return usage_error("%s", "--type must be MachineToMachine, Traditional, SPA or Native");
    if (a->management && strcmp(a->type, "MachineToMachine") != 0)
        return usage_error("%s", "--management needs --type MachineToMachine");
    if (!load_secret_config(conninfo, false))
        return EXIT_FAILED;
    char id[22], secret[LATCH_CLIENT_SECRET_LEN + 1];
    struct latch_error err;
    if (latch_bootstrap_app(&secret_cfg, a->tenant, NULL, NULL, a->type, a->name, a->management,
                            false, id, secret, sizeof(secret), &err) != LATCH_OK)
        return report("cannot create the application", &err);
    printf("{\"id\":\"%s\",\"secret\":\"%s\"}\n", id, secret);
    OPENSSL_cleanse(secret, sizeof(secret));
    return EXIT_OK;
}

static int cmd_admin_create(const struct args *a, const char *conninfo)
{
    if (a->npos != 2)
        return usage_error("%s", "usage: latchctl admin create --tenant <id> --username <name> | "
                                 "--email <address> [--hours N]");
    if (a->tenant == NULL || !latch_tenants_valid_id(a->tenant))
        return usage_error("%s", "'admin create' needs --tenant <valid tenant id>");
    if ((a->username == NULL) == (a->email == NULL))
        return usage_error("%s", "'admin create' needs --username or --email (one of them)");
    if (a->username != NULL && !latch_users_username_ok(a->username))
        return usage_error("%s", "--username: a letter or '_' then letters, digits or '_' (at "
                                 "most 128)");
    if (a->email != NULL && !latch_users_email_ok(a->email))
        return usage_error("%s", "--email: not an email address");
    long hours = 24;
    if (a->hours != NULL) {
        char *end = NULL;
        hours = strtol(a->hours, &end, 10);
        if (end == a->hours || *end != '\0' || hours < 1 || hours > 720)
            return usage_error("%s", "--hours must be 1 to 720");
    }
    if (!load_secret_config(conninfo, false))
        return EXIT_FAILED;
    char user_id[LATCH_USERS_ID_LEN + 1], link[1400];
    bool created = false;
    struct latch_error err;
    if (latch_bootstrap_admin(&secret_cfg, a->tenant, a->username, a->email, (int)hours, user_id,
                              link, sizeof(link), &created, &err) != LATCH_OK)
        return report("cannot create the administrator", &err);
    printf("%s user %s (%s) is an administrator of tenant %s.\n", created ? "New" : "Existing",
           user_id, a->username ? a->username : a->email, a->tenant);
    printf("Open this link within %ld hours to set the password (it works once):\n%s\n", hours,
           link);
    OPENSSL_cleanse(link, sizeof(link));
    return EXIT_OK;
}

static int cmd_keys_rotate(const struct args *a, const char *conninfo)
{
    if (a->npos != 2 || strcmp(a->pos[1], "rotate") != 0)
        return usage_error("%s", "usage: latchctl keys rotate --tenant <id> [--algorithm EC] "
                                 "[--grace SECONDS]");
    if (a->tenant == NULL || !latch_tenants_valid_id(a->tenant))
        return usage_error("%s", "'keys rotate' needs --tenant <valid tenant id>");
    const char *alg = a->algorithm ? a->algorithm : LATCH_KEYS_DEFAULT_ALGORITHM;
    if (!latch_keys_algorithm(alg, NULL))
        return usage_error("%s", "--algorithm must be EC, EC-P256, RSA or Ed25519");
    long grace = LATCH_KEYS_DEFAULT_GRACE_SECONDS;
    if (a->grace != NULL) {
        char *end = NULL;
        grace = strtol(a->grace, &end, 10);
        if (end == a->grace || *end != '\0' || grace < 0 || grace > 30L * 86400)
            return usage_error("%s", "--grace must be 0 to 2592000 seconds");
    }
    if (!load_secret_config(conninfo, false))
        return EXIT_FAILED;
    struct latch_error err;
    if (latch_bootstrap_rotate_keys(&secret_cfg, a->tenant, alg, grace, &err) != LATCH_OK)
        return report("cannot rotate the keys", &err);
    printf("rotated the signing keys of tenant %s to %s\n", a->tenant, alg);
    return EXIT_OK;
}

static int cmd_tenant_set_suspended(PGconn *conn, const char *id, bool suspend)
{
    /* The subquery reads the old value under the row lock, to tell "already" apart. */
    static const char sql[] =
        "UPDATE tenants t SET is_suspended = $2::boolean "
        "FROM (SELECT id, is_suspended FROM tenants WHERE id = $1 FOR UPDATE) old "
        "WHERE t.id = old.id RETURNING old.is_suspended";
    const char *params[2] = {id, suspend ? "true" : "false"};
    PGresult *res =
        exec_params(conn, suspend ? "cannot suspend the tenant" : "cannot resume the tenant", sql,
                    2, params, PGRES_TUPLES_OK);
    if (res == NULL)
        return EXIT_FAILED;
    if (PQntuples(res) == 0) {
        PQclear(res);
        fprintf(stderr, "latchctl: tenant %s not found\n", id);
        return EXIT_FAILED;
    }
    bool was = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (was == suspend)
        printf("tenant %s was already %s\n", id, suspend ? "suspended" : "active");
    else
        printf("%s tenant %s\n", suspend ? "suspended" : "resumed", id);
    return EXIT_OK;
}

enum { COL_ID, COL_NAME, COL_CREATED, COL_CREATED_MS, COL_SUSPENDED };

static int print_tenants_json(PGresult *res)
{
    struct latch_json j;
    latch_json_init(&j);
    j.indent = 2; /* for people; scripts parse it */
    latch_json_begin_array(&j);
    for (int i = 0; i < PQntuples(res); i++) {
        const char *ms = PQgetvalue(res, i, COL_CREATED_MS);
        latch_json_begin_object(&j);
        latch_json_key(&j, "id");
        latch_json_string(&j, PQgetvalue(res, i, COL_ID));
        latch_json_key(&j, "name");
        latch_json_string(&j, PQgetvalue(res, i, COL_NAME));
        latch_json_key(&j, "createdAt"); /* epoch milliseconds, as Logto's API */
        latch_json_number(&j, ms, strlen(ms));
        latch_json_key(&j, "isSuspended");
        latch_json_bool(&j, strcmp(PQgetvalue(res, i, COL_SUSPENDED), "t") == 0);
        latch_json_end_object(&j);
    }
    latch_json_end_array(&j);
    size_t len = 0;
    char *text = latch_json_take(&j, &len);
    if (text == NULL) {
        fputs("latchctl: cannot write JSON (out of memory or a bad value)\n", stderr);
        return EXIT_FAILED;
    }
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    free(text);
    return EXIT_OK;
}

static void print_tenants_table(PGresult *res)
{
    static const char *const headers[] = {"ID", "NAME", "CREATED", "SUSPENDED"};
    static const int cols[] = {COL_ID, COL_NAME, COL_CREATED, COL_SUSPENDED};
    int width[4];
    for (int c = 0; c < 4; c++) {
        width[c] = (int)strlen(headers[c]);
        for (int i = 0; i < PQntuples(res); i++) {
            int w = PQgetlength(res, i, cols[c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    printf("%-*s  %-*s  %-*s  %s\n", width[0], headers[0], width[1], headers[1], width[2],
           headers[2], headers[3]);
    for (int i = 0; i < PQntuples(res); i++) {
        bool suspended = strcmp(PQgetvalue(res, i, COL_SUSPENDED), "t") == 0;
        printf("%-*s  %-*s  %-*s  %s\n", width[0], PQgetvalue(res, i, COL_ID), width[1],
               PQgetvalue(res, i, COL_NAME), width[2], PQgetvalue(res, i, COL_CREATED),
               suspended ? "yes" : "no");
    }
}

static int cmd_tenant_list(PGconn *conn, bool json)
{
    static const char sql[] =
        "SELECT id, name,"
        " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " (extract(epoch FROM created_at) * 1000)::bigint,"
        " is_suspended "
        "FROM tenants ORDER BY id";
    PGresult *res = exec_params(conn, "cannot list tenants", sql, 0, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return EXIT_FAILED;
    int rc = EXIT_OK;
    if (json)
        rc = print_tenants_json(res);
    else
        print_tenants_table(res);
    PQclear(res);
    return rc;
}

/* `tenant …`: validates the arguments, then connects and runs the subcommand. */
static int cmd_tenant(const struct args *a, const char *conninfo)
{
    if (a->npos < 2)
        return usage_error("%s", "'tenant' needs a subcommand: create, list, suspend or resume");
    const char *sub = a->pos[1];
    bool is_list = strcmp(sub, "list") == 0;
    bool is_create = strcmp(sub, "create") == 0;
    bool is_suspend = strcmp(sub, "suspend") == 0;
    bool is_resume = strcmp(sub, "resume") == 0;
    if (!is_list && !is_create && !is_suspend && !is_resume)
        return usage_error("unknown tenant subcommand '%s'", sub);

    const char *id = NULL;
    if (is_list) {
        if (a->npos > 2)
            return usage_error("unexpected argument '%s'", a->pos[2]);
    } else {
        if (a->npos < 3)
            return usage_error("'tenant %s' needs a tenant id", sub);
        if (a->npos > 3)
            return usage_error("unexpected argument '%s'", a->pos[3]);
        id = a->pos[2];
        if (!latch_tenants_valid_id(id))
            return usage_error("invalid tenant id '%s': use 1 to 21 lowercase letters, digits "
                               "or dashes, not starting or ending with a dash",
                               id);
    }
    if (a->json && !is_list)
        return usage_error("%s", "--json applies only to 'tenant list'");
    if (a->name != NULL && !is_create)
        return usage_error("%s", "--name applies only to 'tenant create'");
    if (is_create) {
        if (a->name == NULL)
            return usage_error("%s", "'tenant create' needs --name <name>");
        if (!valid_tenant_name(a->name))
            return usage_error("%s", "a tenant name is 1 to 256 characters, without control "
                                     "characters");
    }

    PGconn *conn = connect_db(conninfo);
    if (conn == NULL)
        return EXIT_FAILED;
    int rc;
    if (is_list)
        rc = cmd_tenant_list(conn, a->json);
    else if (is_create) {
        rc = cmd_tenant_create(conn, id, a->name);
        /* Give the tenant its keys and Management API now when we can; latchd otherwise
         * does it on the tenant's first request. */
        struct latch_error err;
        if (rc == EXIT_OK && load_secret_config(conninfo, true) &&
            latch_bootstrap_tenant(&secret_cfg, id, &err) != LATCH_OK)
            rc = report("cannot create the tenant's signing keys", &err);
    } else
        rc = cmd_tenant_set_suspended(conn, id, is_suspend);
    PQfinish(conn);
    return rc;
}

/* ---- connectors ---- */

static int so_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return e->d_name[0] != '.' && n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

/* One file of the directory, as a scan of latchd would see it. */
struct connector_row {
    char file[256];
    struct latch_plugin_info info;
    char status[512]; /* "ok", "duplicate of <file>", or the loader's message */
    bool ok;
};

/* The loader's messages may quote file names: a byte that is not UTF-8 is written as U+FFFD. */
static int print_connectors_json(const struct connector_row *rows, int n)
{
    struct latch_json j;
    latch_json_init(&j);
    j.indent = 2; /* for people; scripts parse it */
    latch_json_begin_array(&j);
    for (int i = 0; i < n; i++) {
        const struct latch_plugin_info *info = &rows[i].info;
        char abi[16];
        snprintf(abi, sizeof(abi), "%u.%u", info->abi_major, info->abi_minor);
        latch_json_begin_object(&j);
        latch_json_key(&j, "file");
        latch_json_string(&j, rows[i].file);
        if (info->id[0] != '\0') {
            latch_json_key(&j, "id");
            latch_json_string(&j, info->id);
            latch_json_key(&j, "target");
            latch_json_string(&j, info->target);
            latch_json_key(&j, "type");
            latch_json_string(&j, latch_plugin_kind_type(info->kind));
            latch_json_key(&j, "version");
            latch_json_string(&j, info->version);
            latch_json_key(&j, "abi");
            latch_json_string(&j, abi);
            latch_json_key(&j, "sha256");
            latch_json_string(&j, info->sha256);
        }
        latch_json_key(&j, "ok");
        latch_json_bool(&j, rows[i].ok);
        latch_json_key(&j, "status");
        latch_json_string(&j, rows[i].status);
        latch_json_end_object(&j);
    }
    latch_json_end_array(&j);
    size_t len = 0;
    char *text = latch_json_take(&j, &len);
    if (text == NULL) {
        fputs("latchctl: cannot write JSON\n", stderr);
        return EXIT_FAILED;
    }
    fwrite(text, 1, len, stdout);
    fputc('\n', stdout);
    free(text);
    return EXIT_OK;
}

static void print_connectors_table(const struct connector_row *rows, int n)
{
    int wf = 4, wi = 2, wv = 7;
    for (int i = 0; i < n; i++) {
        wf = (int)strlen(rows[i].file) > wf ? (int)strlen(rows[i].file) : wf;
        wi = (int)strlen(rows[i].info.id) > wi ? (int)strlen(rows[i].info.id) : wi;
        wv = (int)strlen(rows[i].info.version) > wv ? (int)strlen(rows[i].info.version) : wv;
    }
    printf("%-*s  %-*s  %-6s  %-*s  %-3s  %-12s  %s\n", wf, "FILE", wi, "ID", "TYPE", wv, "VERSION",
           "ABI", "SHA256", "STATUS");
    for (int i = 0; i < n; i++) {
        const struct latch_plugin_info *info = &rows[i].info;
        const char *type = info->id[0] != '\0' ? latch_plugin_kind_type(info->kind) : NULL;
        char abi[16] = "-";
        if (info->id[0] != '\0')
            snprintf(abi, sizeof(abi), "%u.%u", info->abi_major, info->abi_minor);
        printf("%-*s  %-*s  %-6s  %-*s  %-3s  %-12.12s  %s\n", wf, rows[i].file, wi,
               info->id[0] ? info->id : "-", type != NULL ? type : "-", wv,
               info->version[0] ? info->version : "-", abi, info->sha256[0] ? info->sha256 : "-",
               rows[i].status);
    }
}

static int cmd_connectors_list(bool json)
{
    char dir[1024];
    struct latch_error err;
    struct dirent **names = NULL;
    struct connector_row *rows = NULL;
    int n, rc = EXIT_OK;

    if (latch_config_connector_dir(NULL, NULL, dir, sizeof(dir), &err) != LATCH_OK) {
        fprintf(stderr, "latchctl: %s\n", err.message);
        return EXIT_FAILED;
    }
    if (dir[0] == '\0') {
        fputs("latchctl: no connector directory: set LATCH_CONNECTOR_DIR\n", stderr);
        return EXIT_FAILED;
    }
    n = scandir(dir, &names, so_filter, alphasort);
    if (n < 0) {
        fprintf(stderr, "latchctl: cannot read %s: %s\n", dir, strerror(errno));
        return EXIT_FAILED;
    }
    rows = calloc(n > 0 ? (size_t)n : 1, sizeof(*rows));
    if (rows == NULL) {
        fputs("latchctl: out of memory\n", stderr);
        rc = EXIT_FAILED;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        struct connector_row *r = &rows[i];
        snprintf(r->file, sizeof(r->file), "%s", names[i]->d_name);
        latch_error_clear(&err);
        if (latch_plugin_inspect(dir, r->file, &r->info, &err) != LATCH_OK) {
            snprintf(r->status, sizeof(r->status), "%s", err.message);
            continue;
        }
        r->ok = true;
        snprintf(r->status, sizeof(r->status), "ok");
        /* As a scan at start-up: the first file by name with an id wins. */
        for (int j = 0; j < i; j++) {
            if (rows[j].ok && strcmp(rows[j].info.id, r->info.id) == 0) {
                r->ok = false;
                if (strcmp(rows[j].info.sha256, r->info.sha256) == 0)
                    snprintf(r->status, sizeof(r->status), "same file as %s (loaded once)",
                             rows[j].file);
                else
                    snprintf(r->status, sizeof(r->status), "duplicate id: %s provides it",
                             rows[j].file);
                break;
            }
        }
    }
    if (json)
        rc = print_connectors_json(rows, n);
    else if (n == 0)
        printf("no connector files in %s\n", dir);
    else
        print_connectors_table(rows, n);
out:
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(rows);
    return rc;
}

/* Checks an argument bound for a NOTIFY payload: printable, bounded. */
static bool notify_arg_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 500)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static int cmd_connectors(const struct args *a, const char *conninfo)
{
    const char *sub = a->npos > 1 ? a->pos[1] : NULL;
    char payload[600];

    if (sub == NULL)
        return usage_error("%s", "'connectors' needs a subcommand: list, load, unload or reload");
    bool is_list = strcmp(sub, "list") == 0;
    bool is_load = strcmp(sub, "load") == 0;
    bool is_unload = strcmp(sub, "unload") == 0;
    bool is_reload = strcmp(sub, "reload") == 0;
    if (!is_list && !is_load && !is_unload && !is_reload)
        return usage_error("unknown connectors subcommand '%s'", sub);
    if (a->json && !is_list)
        return usage_error("%s", "--json applies only to 'connectors list'");
    if (a->name != NULL || a->tenant != NULL || a->type != NULL || a->algorithm != NULL ||
        a->grace != NULL || a->management)
        return usage_error("%s", "'connectors' takes no such option");
    if (is_list || is_reload) {
        if (a->npos > 2)
            return usage_error("unexpected argument '%s'", a->pos[2]);
        if (is_list)
            return cmd_connectors_list(a->json);
        snprintf(payload, sizeof(payload), "reload");
    } else {
        if (a->npos < 3)
            return usage_error("'connectors %s' needs %s", sub, is_load ? "a file" : "an id");
        if (a->npos > 3)
            return usage_error("unexpected argument '%s'", a->pos[3]);
        if (!notify_arg_ok(a->pos[2]))
            return usage_error("invalid %s: 1 to 500 printable characters",
                               is_load ? "file" : "id");
        if (is_load) {
            /* When this host has the file, check it first, so a broken file is reported
             * here rather than in every node's log. */
            char dir[1024], path[2048];
            struct latch_error err;
            struct latch_plugin_info info;
            latch_error_clear(&err);
            if (latch_config_connector_dir(NULL, NULL, dir, sizeof(dir), &err) == LATCH_OK &&
                dir[0] != '\0') {
                snprintf(path, sizeof(path), "%s/%s", dir, a->pos[2]);
                if (a->pos[2][0] != '/' && access(path, F_OK) == 0) {
                    if (latch_plugin_inspect(dir, a->pos[2], &info, &err) != LATCH_OK) {
                        fprintf(stderr, "latchctl: %s\n", err.message);
                        return EXIT_FAILED;
                    }
                    printf("%s: %s %s (ABI %u.%u, sha256 %s)\n", a->pos[2], info.id, info.version,
                           info.abi_major, info.abi_minor, info.sha256);
                }
            }
        }
        snprintf(payload, sizeof(payload), "%s %s", sub, a->pos[2]);
    }
    if (conninfo == NULL || conninfo[0] == '\0')
        return usage_error("%s", "no database: set LATCH_DATABASE_URL or pass --database-url");
    PGconn *conn = connect_db(conninfo);
    if (conn == NULL)
        return EXIT_FAILED;
    const char *params[2] = {LATCH_PLUGIN_CHANNEL, payload};
    PGresult *res = exec_params(conn, "cannot notify the nodes", "SELECT pg_notify($1, $2)", 2,
                                params, PGRES_TUPLES_OK);
    PQfinish(conn);
    if (res == NULL)
        return EXIT_FAILED;
    PQclear(res);
    printf("sent '%s' to every latchd listening; each logs what it did\n", payload);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != EXIT_OK)
        return rc;

    const char *cmd = a.npos > 0 ? a.pos[0] : NULL;
    if (a.help || (cmd != NULL && strcmp(cmd, "help") == 0)) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (cmd == NULL) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "version") == 0) {
        if (a.npos > 1)
            return usage_error("unexpected argument '%s'", a.pos[1]);
        printf("latchctl %s (schema version %d)\n", LATCH_VERSION, latch_migrate_latest_version());
        return EXIT_OK;
    }
    const char *conninfo = a.database_url != NULL ? a.database_url : getenv("LATCH_DATABASE_URL");
    if (strcmp(cmd, "connectors") == 0)
        return cmd_connectors(&a, conninfo);
    bool is_migrate = strcmp(cmd, "migrate") == 0;
    bool is_app = strcmp(cmd, "app") == 0 && a.npos > 1 && strcmp(a.pos[1], "create") == 0;
    bool is_keys = strcmp(cmd, "keys") == 0;
    bool is_admin = strcmp(cmd, "admin") == 0 && a.npos > 1 && strcmp(a.pos[1], "create") == 0;
    if (!is_migrate && !is_app && !is_keys && !is_admin && strcmp(cmd, "tenant") != 0)
        return usage_error("unknown command '%s'", cmd);
    if (is_migrate) {
        if (a.npos > 1)
            return usage_error("unexpected argument '%s'", a.pos[1]);
        if (a.json || a.name != NULL)
            return usage_error("%s", "'migrate' takes no options");
    }

    if (conninfo == NULL || conninfo[0] == '\0')
        return usage_error("%s", "no database: set LATCH_DATABASE_URL or pass --database-url");

    if (is_migrate)
        return cmd_migrate(conninfo);
    if (is_app)
        return cmd_app_create(&a, conninfo);
    if (is_keys)
        return cmd_keys_rotate(&a, conninfo);
    if (is_admin)
        return cmd_admin_create(&a, conninfo);
    return cmd_tenant(&a, conninfo);
}
