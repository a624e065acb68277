/*
 * Unit tests for core/config/config.c: defaults, every variable's valid and invalid values (each
 * error must name the variable and say what is expected), the config file (syntax, errors,
 * precedence of the environment), CIDR parsing and matching, and that the secret key never
 * appears in a message. Variables come from a fake getenv; files are written with mkstemp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

#define KEY_STD "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define DB_URL  "postgresql://latch:hunter2@db.internal/latch"

/* ---- fake environment ---- */

#define ENV_MAX 32

struct fake_env {
    const char *names[ENV_MAX];
    const char *values[ENV_MAX];
    int n;
};

static const char *fake_getenv(const char *name, void *arg)
{
    const struct fake_env *env = arg;

    for (int i = 0; i < env->n; i++) {
        if (strcmp(env->names[i], name) == 0)
            return env->values[i];
    }
    return NULL;
}

/* Sets (or replaces) name; value NULL removes it. */
static void env_set(struct fake_env *env, const char *name, const char *value)
{
    for (int i = 0; i < env->n; i++) {
        if (strcmp(env->names[i], name) == 0) {
            if (value == NULL) {
                env->names[i] = env->names[env->n - 1];
                env->values[i] = env->values[env->n - 1];
                env->n--;
            } else {
                env->values[i] = value;
            }
            return;
        }
    }
    if (value == NULL)
        return;
    assert_true(env->n < ENV_MAX);
    env->names[env->n] = name;
    env->values[env->n] = value;
    env->n++;
}

/* The two required variables, valid. */
static void env_base(struct fake_env *env)
{
    memset(env, 0, sizeof(*env));
    env_set(env, "LATCH_DATABASE_URL", DB_URL);
    env_set(env, "LATCH_SECRET_KEY", KEY_STD);
}

static void assert_config_error(const struct latch_error *err, const char *var)
{
    char prefix[128];

    snprintf(prefix, sizeof(prefix), "%s: ", var);
    assert_string_equal(err->code, "config.invalid");
    if (strncmp(err->message, prefix, strlen(prefix)) != 0)
        fail_msg("message \"%s\" does not start with \"%s\"", err->message, prefix);
    if (strstr(err->message, "expected") == NULL)
        fail_msg("message \"%s\" does not say what is expected", err->message);
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

/* ---- temp files ---- */

static void write_temp(char *path, size_t cap, const char *content, size_t len)
{
    int fd;

    snprintf(path, cap, "/tmp/latch-config-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* ---- defaults and required variables ---- */

static void test_defaults(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int expect_threads = cores < 1 ? 1 : cores > 256 ? 256 : (int)cores;

    (void)state;
    env_base(&env);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_string_equal(cfg.public_url, "http://localhost:3001");
    assert_false(cfg.public_https);
    assert_string_equal(cfg.public_path, "");
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 3001);
    assert_string_equal(cfg.database_url, DB_URL);
    assert_int_equal(cfg.threads, expect_threads);
    assert_int_equal(cfg.workers, expect_threads);
    assert_int_equal(cfg.cpu_workers, expect_threads);
    assert_int_equal(cfg.io_workers, 16);
    assert_int_equal(cfg.io_tenant_workers, 8);
    assert_int_equal(cfg.db_pool_size, 2);
    assert_int_equal(cfg.n_trusted_proxies, 0);
    assert_int_equal(cfg.log_level, LATCH_LOG_INFO);
    for (int i = 0; i < LATCH_SECRET_KEY_LEN; i++)
        assert_int_equal(cfg.secret_key[i], i);
    assert_false(cfg.auto_migrate);
    assert_int_equal(cfg.max_header_bytes, 16384);
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.body_budget_bytes, 67108864);
    assert_int_equal(cfg.shutdown_grace_ms, 10000);
    assert_int_equal(cfg.drain_delay_ms, 5000);
    assert_int_equal(cfg.max_connections, 10000);
    assert_false(cfg.db_transaction_pooling);
    assert_int_equal(cfg.idle_timeout_ms, 60000);
    assert_int_equal(cfg.header_timeout_ms, 10000);
    assert_int_equal(cfg.body_timeout_ms, 10000);
    assert_int_equal(cfg.min_body_rate, 1024);
    assert_int_equal(cfg.max_connections_per_ip, 256);
    assert_string_equal(cfg.config_file, "");
    assert_true(cfg.audit_log);
    assert_int_equal(cfg.audit_log_queue, 8192);
    assert_int_equal(cfg.audit_log_flush_ms, 250);
    assert_int_equal(cfg.log_retention_days, 30);
    assert_int_equal(cfg.log_maintenance_seconds, 3600);

    latch_config_clear(&cfg);
    assert_true(all_zero(cfg.secret_key, sizeof(cfg.secret_key)));
    assert_true(all_zero(&cfg, sizeof(cfg)));
}

/* LATCH_WORKERS (deprecated) is the CPU lane's default; the tenant bound follows the I/O lane. */
static void test_worker_lanes(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    env_base(&env);
    env_set(&env, "LATCH_WORKERS", "3");
    env_set(&env, "LATCH_IO_WORKERS", "40");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.cpu_workers, 3);
    assert_int_equal(cfg.io_workers, 40);
    assert_int_equal(cfg.io_tenant_workers, 20);
    latch_config_clear(&cfg);

    env_set(&env, "LATCH_CPU_WORKERS", "5"); /* wins over LATCH_WORKERS */
    env_set(&env, "LATCH_IO_WORKERS", "1");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.cpu_workers, 5);
    assert_int_equal(cfg.io_tenant_workers, 1);
    latch_config_clear(&cfg);

    env_set(&env, "LATCH_IO_TENANT_WORKERS", "2"); /* more than the lane has */
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_IO_TENANT_WORKERS");
    assert_non_null(strstr(err.message, "from 1 to 1"));
}

static void test_required(void **state)
{
    static const char *const required[] = {"LATCH_DATABASE_URL", "LATCH_SECRET_KEY"};

    (void)state;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        env_base(&env);
        env_set(&env, required[i], NULL);
        assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
        assert_config_error(&err, required[i]);
        assert_non_null(strstr(err.message, "not set"));
        /* A failed load leaves nothing behind, the secret key least of all. */
        assert_true(all_zero(&cfg, sizeof(cfg)));
    }
}

static void test_null_getenv_reads_process_env(void **state)
{
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    setenv("LATCH_DATABASE_URL", "postgresql:///latch", 1);
    setenv("LATCH_SECRET_KEY", KEY_STD, 1);
    setenv("LATCH_DB_POOL_SIZE", "7", 1);
    unsetenv("LATCH_CONFIG_FILE");
    assert_int_equal(latch_config_load(&cfg, NULL, NULL, &err), LATCH_OK);
    assert_string_equal(cfg.database_url, "postgresql:///latch");
    assert_int_equal(cfg.db_pool_size, 7);
    unsetenv("LATCH_DATABASE_URL");
    unsetenv("LATCH_SECRET_KEY");
    unsetenv("LATCH_DB_POOL_SIZE");
    latch_config_clear(&cfg);
}

/* ---- one variable at a time ---- */

struct value_case {
    const char *var;
    const char *value;
    bool ok;
    long long expect; /* for integer and boolean settings */
};

static long long int_field(const struct latch_config *cfg, const char *var)
{
    if (strcmp(var, "LATCH_THREADS") == 0)
        return cfg->threads;
    if (strcmp(var, "LATCH_WORKERS") == 0)
        return cfg->workers;
    if (strcmp(var, "LATCH_CPU_WORKERS") == 0)
        return cfg->cpu_workers;
    if (strcmp(var, "LATCH_IO_WORKERS") == 0)
        return cfg->io_workers;
    if (strcmp(var, "LATCH_IO_TENANT_WORKERS") == 0)
        return cfg->io_tenant_workers;
    if (strcmp(var, "LATCH_DB_POOL_SIZE") == 0)
        return cfg->db_pool_size;
    if (strcmp(var, "LATCH_MAX_HEADER_BYTES") == 0)
        return (long long)cfg->max_header_bytes;
    if (strcmp(var, "LATCH_MAX_BODY_BYTES") == 0)
        return (long long)cfg->max_body_bytes;
    if (strcmp(var, "LATCH_BODY_BUDGET_BYTES") == 0)
        return (long long)cfg->body_budget_bytes;
    if (strcmp(var, "LATCH_SHUTDOWN_GRACE_MS") == 0)
        return cfg->shutdown_grace_ms;
    if (strcmp(var, "LATCH_IDLE_TIMEOUT_MS") == 0)
        return cfg->idle_timeout_ms;
    if (strcmp(var, "LATCH_DRAIN_DELAY_MS") == 0)
        return cfg->drain_delay_ms;
    if (strcmp(var, "LATCH_MAX_CONNECTIONS") == 0)
        return cfg->max_connections;
    if (strcmp(var, "LATCH_HEADER_TIMEOUT_MS") == 0)
        return cfg->header_timeout_ms;
    if (strcmp(var, "LATCH_BODY_TIMEOUT_MS") == 0)
        return cfg->body_timeout_ms;
    if (strcmp(var, "LATCH_MIN_BODY_RATE") == 0)
        return cfg->min_body_rate;
    if (strcmp(var, "LATCH_MAX_CONNECTIONS_PER_IP") == 0)
        return cfg->max_connections_per_ip;
    if (strcmp(var, "LATCH_DB_POOL_MODE") == 0)
        return cfg->db_transaction_pooling;
    if (strcmp(var, "LATCH_AUTO_MIGRATE") == 0)
        return cfg->auto_migrate;
    if (strcmp(var, "LATCH_LOG_LEVEL") == 0)
        return cfg->log_level;
    if (strcmp(var, "LATCH_AUDIT_LOG") == 0)
        return cfg->audit_log;
    if (strcmp(var, "LATCH_AUDIT_LOG_QUEUE") == 0)
        return cfg->audit_log_queue;
    if (strcmp(var, "LATCH_AUDIT_LOG_FLUSH_MS") == 0)
        return cfg->audit_log_flush_ms;
    if (strcmp(var, "LATCH_LOG_RETENTION_DAYS") == 0)
        return cfg->log_retention_days;
    if (strcmp(var, "LATCH_LOG_MAINTENANCE_SECONDS") == 0)
        return cfg->log_maintenance_seconds;
    fail_msg("no field for %s", var);
    return -1;
}

static const struct value_case scalar_cases[] = {
    {"LATCH_THREADS", "1", true, 1},
    {"LATCH_THREADS", "256", true, 256},
    {"LATCH_THREADS", "007", true, 7},
    {"LATCH_THREADS", "0", false, 0},
    {"LATCH_THREADS", "257", false, 0},
    {"LATCH_THREADS", "-1", false, 0},
    {"LATCH_THREADS", "", false, 0},
    {"LATCH_THREADS", "four", false, 0},
    {"LATCH_THREADS", " 4", false, 0},
    {"LATCH_THREADS", "4 ", false, 0},
    {"LATCH_THREADS", "+4", false, 0},
    {"LATCH_THREADS", "0x10", false, 0},
    {"LATCH_THREADS", "1.5", false, 0},
    {"LATCH_THREADS", "99999999999999999999999", false, 0},
    {"LATCH_THREADS", "-99999999999999999999999", false, 0},
    {"LATCH_WORKERS", "1", true, 1},
    {"LATCH_WORKERS", "256", true, 256},
    {"LATCH_WORKERS", "0", false, 0},
    {"LATCH_WORKERS", "257", false, 0},
    {"LATCH_CPU_WORKERS", "1", true, 1},
    {"LATCH_CPU_WORKERS", "256", true, 256},
    {"LATCH_CPU_WORKERS", "0", false, 0},
    {"LATCH_CPU_WORKERS", "257", false, 0},
    {"LATCH_IO_WORKERS", "1", true, 1},
    {"LATCH_IO_WORKERS", "1024", true, 1024},
    {"LATCH_IO_WORKERS", "0", false, 0},
    {"LATCH_IO_WORKERS", "1025", false, 0},
    {"LATCH_IO_TENANT_WORKERS", "1", true, 1},
    {"LATCH_IO_TENANT_WORKERS", "16", true, 16}, /* up to LATCH_IO_WORKERS (default 16) */
    {"LATCH_IO_TENANT_WORKERS", "17", false, 0},
    {"LATCH_IO_TENANT_WORKERS", "0", false, 0},
    {"LATCH_DB_POOL_SIZE", "1", true, 1},
    {"LATCH_DB_POOL_SIZE", "64", true, 64},
    {"LATCH_DB_POOL_SIZE", "0", false, 0},
    {"LATCH_DB_POOL_SIZE", "65", false, 0},
    {"LATCH_MAX_HEADER_BYTES", "1024", true, 1024},
    {"LATCH_MAX_HEADER_BYTES", "1048576", true, 1048576},
    {"LATCH_MAX_HEADER_BYTES", "1023", false, 0},
    {"LATCH_MAX_HEADER_BYTES", "1048577", false, 0},
    {"LATCH_MAX_BODY_BYTES", "0", true, 0},
    {"LATCH_MAX_BODY_BYTES", "67108864", true, 67108864},
    {"LATCH_MAX_BODY_BYTES", "67108865", false, 0},
    {"LATCH_MAX_BODY_BYTES", "-1", false, 0},
    {"LATCH_BODY_BUDGET_BYTES", "0", true, 0},
    {"LATCH_BODY_BUDGET_BYTES", "68719476736", true, 68719476736LL},
    {"LATCH_BODY_BUDGET_BYTES", "68719476737", false, 0},
    {"LATCH_BODY_BUDGET_BYTES", "64MiB", false, 0},
    {"LATCH_SHUTDOWN_GRACE_MS", "0", true, 0},
    {"LATCH_SHUTDOWN_GRACE_MS", "600000", true, 600000},
    {"LATCH_SHUTDOWN_GRACE_MS", "600001", false, 0},
    {"LATCH_IDLE_TIMEOUT_MS", "1000", true, 1000},
    {"LATCH_IDLE_TIMEOUT_MS", "3600000", true, 3600000},
    {"LATCH_IDLE_TIMEOUT_MS", "999", false, 0},
    {"LATCH_IDLE_TIMEOUT_MS", "3600001", false, 0},
    {"LATCH_DRAIN_DELAY_MS", "0", true, 0},
    {"LATCH_DRAIN_DELAY_MS", "600000", true, 600000},
    {"LATCH_DRAIN_DELAY_MS", "600001", false, 0},
    {"LATCH_DRAIN_DELAY_MS", "-1", false, 0},
    {"LATCH_MAX_CONNECTIONS", "16", true, 16},
    {"LATCH_MAX_CONNECTIONS", "1000000", true, 1000000},
    {"LATCH_MAX_CONNECTIONS", "15", false, 0},
    {"LATCH_MAX_CONNECTIONS", "1000001", false, 0},
    {"LATCH_HEADER_TIMEOUT_MS", "500", true, 500},
    {"LATCH_HEADER_TIMEOUT_MS", "600000", true, 600000},
    {"LATCH_HEADER_TIMEOUT_MS", "499", false, 0},
    {"LATCH_HEADER_TIMEOUT_MS", "600001", false, 0},
    {"LATCH_HEADER_TIMEOUT_MS", "1.5s", false, 0},
    {"LATCH_BODY_TIMEOUT_MS", "500", true, 500},
    {"LATCH_BODY_TIMEOUT_MS", "600000", true, 600000},
    {"LATCH_BODY_TIMEOUT_MS", "499", false, 0},
    {"LATCH_BODY_TIMEOUT_MS", "600001", false, 0},
    {"LATCH_MIN_BODY_RATE", "1", true, 1},
    {"LATCH_MIN_BODY_RATE", "1073741824", true, 1073741824},
    {"LATCH_MIN_BODY_RATE", "0", false, 0},
    {"LATCH_MIN_BODY_RATE", "1073741825", false, 0},
    {"LATCH_MIN_BODY_RATE", "-1024", false, 0},
    {"LATCH_MAX_CONNECTIONS_PER_IP", "0", true, 0},
    {"LATCH_MAX_CONNECTIONS_PER_IP", "8", true, 8},
    {"LATCH_MAX_CONNECTIONS_PER_IP", "1000000", true, 1000000},
    {"LATCH_MAX_CONNECTIONS_PER_IP", "1000001", false, 0},
    {"LATCH_MAX_CONNECTIONS_PER_IP", "-1", false, 0},
    {"LATCH_DB_POOL_MODE", "session", true, 0},
    {"LATCH_DB_POOL_MODE", "transaction", true, 1},
    {"LATCH_DB_POOL_MODE", "statement", false, 0},
    {"LATCH_DB_POOL_MODE", "Transaction", false, 0},
    {"LATCH_AUTO_MIGRATE", "1", true, 1},
    {"LATCH_AUTO_MIGRATE", "true", true, 1},
    {"LATCH_AUTO_MIGRATE", "YES", true, 1},
    {"LATCH_AUTO_MIGRATE", "0", true, 0},
    {"LATCH_AUTO_MIGRATE", "False", true, 0},
    {"LATCH_AUTO_MIGRATE", "no", true, 0},
    {"LATCH_AUTO_MIGRATE", "2", false, 0},
    {"LATCH_AUTO_MIGRATE", "on", false, 0},
    {"LATCH_AUTO_MIGRATE", "", false, 0},
    {"LATCH_LOG_LEVEL", "debug", true, LATCH_LOG_DEBUG},
    {"LATCH_LOG_LEVEL", "info", true, LATCH_LOG_INFO},
    {"LATCH_LOG_LEVEL", "warn", true, LATCH_LOG_WARN},
    {"LATCH_LOG_LEVEL", "ERROR", true, LATCH_LOG_ERROR},
    {"LATCH_LOG_LEVEL", "verbose", false, 0},
    {"LATCH_LOG_LEVEL", "warning", false, 0},
    {"LATCH_LOG_LEVEL", "", false, 0},
    {"LATCH_AUDIT_LOG", "on", true, 1},
    {"LATCH_AUDIT_LOG", "", true, 1},
    {"LATCH_AUDIT_LOG", "OFF", true, 0},
    {"LATCH_AUDIT_LOG", "false", true, 0},
    {"LATCH_AUDIT_LOG", "0", true, 0},
    {"LATCH_AUDIT_LOG", "maybe", false, 0},
    {"LATCH_AUDIT_LOG_QUEUE", "16", true, 16},
    {"LATCH_AUDIT_LOG_QUEUE", "1000000", true, 1000000},
    {"LATCH_AUDIT_LOG_QUEUE", "15", false, 0},
    {"LATCH_AUDIT_LOG_QUEUE", "1000001", false, 0},
    {"LATCH_AUDIT_LOG_FLUSH_MS", "10", true, 10},
    {"LATCH_AUDIT_LOG_FLUSH_MS", "60000", true, 60000},
    {"LATCH_AUDIT_LOG_FLUSH_MS", "9", false, 0},
    {"LATCH_AUDIT_LOG_FLUSH_MS", "60001", false, 0},
    {"LATCH_LOG_RETENTION_DAYS", "1", true, 1},
    {"LATCH_LOG_RETENTION_DAYS", "3650", true, 3650},
    {"LATCH_LOG_RETENTION_DAYS", "0", false, 0},
    {"LATCH_LOG_RETENTION_DAYS", "3651", false, 0},
    {"LATCH_LOG_MAINTENANCE_SECONDS", "1", true, 1},
    {"LATCH_LOG_MAINTENANCE_SECONDS", "86400", true, 86400},
    {"LATCH_LOG_MAINTENANCE_SECONDS", "0", false, 0},
    {"LATCH_LOG_MAINTENANCE_SECONDS", "86401", false, 0},
};

static void test_scalar_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(scalar_cases) / sizeof(scalar_cases[0]); i++) {
        const struct value_case *c = &scalar_cases[i];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};
        latch_rc rc;

        env_base(&env);
        env_set(&env, c->var, c->value);
        rc = latch_config_load(&cfg, fake_getenv, &env, &err);
        if (c->ok) {
            if (rc != LATCH_OK)
                fail_msg("%s=\"%s\" refused: %s", c->var, c->value, err.message);
            assert_int_equal(int_field(&cfg, c->var), c->expect);
        } else {
            if (rc != LATCH_FAIL)
                fail_msg("%s=\"%s\" accepted", c->var, c->value);
            assert_config_error(&err, c->var);
        }
        latch_config_clear(&cfg);
    }
}

struct url_case {
    const char *value;
    const char *url; /* normalized, NULL when the value must be refused */
    bool https;
    const char *path;
};

static const struct url_case url_cases[] = {
    {"https://auth.example.com", "https://auth.example.com", true, ""},
    {"https://auth.example.com/", "https://auth.example.com", true, ""},
    {"https://auth.example.com/latch//", "https://auth.example.com/latch", true, "/latch"},
    {"HTTPS://Auth.Example.COM:8443/Base/Path", "https://auth.example.com:8443/Base/Path", true,
     "/Base/Path"},
    {"http://localhost:80", "http://localhost", false, ""},
    {"https://x.test:443/p", "https://x.test/p", true, "/p"},
    {"http://x.test:443", "http://x.test:443", false, ""},
    {"http://localhost:03001", "http://localhost:3001", false, ""},
    {"http://[::1]:3001", "http://[::1]:3001", false, ""},
    {"http://[2001:DB8::1]", "http://[2001:db8::1]", false, ""},
    {"http://127.0.0.1:3001/a/b%20c/~x", "http://127.0.0.1:3001/a/b%20c/~x", false, "/a/b%20c/~x"},
    {"ftp://auth.example.com", NULL, false, NULL},
    {"auth.example.com", NULL, false, NULL},
    {"https//auth.example.com", NULL, false, NULL},
    {"https://", NULL, false, NULL},
    {"https:///path", NULL, false, NULL},
    {"https://:443", NULL, false, NULL},
    {"https://host:0", NULL, false, NULL},
    {"https://host:65536", NULL, false, NULL},
    {"https://host:", NULL, false, NULL},
    {"https://host:12a", NULL, false, NULL},
    {"https://host:1:2", NULL, false, NULL},
    {"https://user@host", NULL, false, NULL},
    {"https://user:pw@host", NULL, false, NULL},
    {"https://host/?q=1", NULL, false, NULL},
    {"https://host?q=1", NULL, false, NULL},
    {"https://host/#frag", NULL, false, NULL},
    {"https://host/a/../b", NULL, false, NULL},
    {"https://host/a/./b", NULL, false, NULL},
    {"https://host/a//b", NULL, false, NULL},
    {"https://host/a%2", NULL, false, NULL},
    {"https://host/a%zz", NULL, false, NULL},
    {"https://host/a\"b", NULL, false, NULL},
    {"https://ho st", NULL, false, NULL},
    {"https://host\n", NULL, false, NULL},
    {"https://h\xc3\xa9llo.test", NULL, false, NULL},
    {"https://-bad.test", NULL, false, NULL},
    {"https://bad-.test", NULL, false, NULL},
    {"https://a..b", NULL, false, NULL},
    {"https://host_name", NULL, false, NULL},
    {"https://[::1", NULL, false, NULL},
    {"https://[zz::1]", NULL, false, NULL},
    {"https://[::1]x", NULL, false, NULL},
    {"https://[::1]:", NULL, false, NULL},
    {"", NULL, false, NULL},
};

static void test_public_url(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++) {
        const struct url_case *c = &url_cases[i];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};
        latch_rc rc;

        env_base(&env);
        env_set(&env, "LATCH_PUBLIC_URL", c->value);
        rc = latch_config_load(&cfg, fake_getenv, &env, &err);
        if (c->url != NULL) {
            if (rc != LATCH_OK)
                fail_msg("\"%s\" refused: %s", c->value, err.message);
            assert_string_equal(cfg.public_url, c->url);
            assert_int_equal(cfg.public_https, c->https);
            assert_string_equal(cfg.public_path, c->path);
        } else {
            if (rc != LATCH_FAIL)
                fail_msg("\"%s\" accepted as \"%s\"", c->value, cfg.public_url);
            assert_config_error(&err, "LATCH_PUBLIC_URL");
        }
        latch_config_clear(&cfg);
    }
}

static void test_public_url_too_long(void **state)
{
    char url[700];
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    /* A path of 255 bytes fits public_path, one of 256 does not. */
    snprintf(url, sizeof(url), "https://a.test/%0254d", 0);
    env_base(&env);
    env_set(&env, "LATCH_PUBLIC_URL", url);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(strlen(cfg.public_path), 255);

    snprintf(url, sizeof(url), "https://a.test/%0255d", 0);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_PUBLIC_URL");

    memset(url, 'a', sizeof(url) - 1);
    url[sizeof(url) - 1] = '\0';
    memcpy(url, "https://", 8);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_PUBLIC_URL");
}

struct listen_case {
    const char *value;
    const char *host; /* NULL when refused */
    int port;
};

static const struct listen_case listen_cases[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080},
    {"0.0.0.0:1", "0.0.0.0", 1},
    {"localhost:65535", "localhost", 65535},
    {"[::]:443", "::", 443},
    {"[::1]:3001", "::1", 3001},
    {"[fe80::1:2]:80", "fe80::1:2", 80},
    {"127.0.0.1", NULL, 0},
    {"127.0.0.1:", NULL, 0},
    {"127.0.0.1:0", NULL, 0},
    {"127.0.0.1:65536", NULL, 0},
    {"127.0.0.1:-1", NULL, 0},
    {"127.0.0.1:80x", NULL, 0},
    {":80", NULL, 0},
    {"::1:80", NULL, 0},
    {"[::1]80", NULL, 0},
    {"[::1]", NULL, 0},
    {"[zz]:80", NULL, 0},
    {"[]:80", NULL, 0},
    {"bad host:80", NULL, 0},
    {"", NULL, 0},
};

static void test_listen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
        const struct listen_case *c = &listen_cases[i];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};
        latch_rc rc;

        env_base(&env);
        env_set(&env, "LATCH_LISTEN", c->value);
        rc = latch_config_load(&cfg, fake_getenv, &env, &err);
        if (c->host != NULL) {
            if (rc != LATCH_OK)
                fail_msg("\"%s\" refused: %s", c->value, err.message);
            assert_string_equal(cfg.listen_host, c->host);
            assert_int_equal(cfg.listen_port, c->port);
        } else {
            if (rc != LATCH_FAIL)
                fail_msg("\"%s\" accepted", c->value);
            assert_config_error(&err, "LATCH_LISTEN");
        }
        latch_config_clear(&cfg);
    }
}

/* LATCH_METRICS_LISTEN: off by default and when empty, host:port like LATCH_LISTEN, never the
 * port of LATCH_LISTEN. */
static void test_metrics_listen(void **state)
{
    static const struct {
        const char *listen, *value, *host;
        uint16_t port; /* 0 with host NULL: refused */
    } cases[] = {
        {NULL, NULL, "", 0},
        {NULL, "", "", 0},
        {NULL, "127.0.0.1:9464", "127.0.0.1", 9464},
        {NULL, "[::1]:9464", "::1", 9464},
        {"127.0.0.1:3001", "localhost:9100", "localhost", 9100},
        {NULL, "127.0.0.1:3001", NULL, 0}, /* the default LATCH_LISTEN port */
        {"0.0.0.0:8080", "127.0.0.1:8080", NULL, 0},
        {NULL, "127.0.0.1", NULL, 0},
        {NULL, "127.0.0.1:0", NULL, 0},
        {NULL, "::1:9464", NULL, 0},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        env_base(&env);
        if (cases[i].listen != NULL)
            env_set(&env, "LATCH_LISTEN", cases[i].listen);
        if (cases[i].value != NULL)
            env_set(&env, "LATCH_METRICS_LISTEN", cases[i].value);
        latch_rc rc = latch_config_load(&cfg, fake_getenv, &env, &err);
        if (cases[i].host != NULL) {
            if (rc != LATCH_OK)
                fail_msg("\"%s\" refused: %s", cases[i].value, err.message);
            assert_string_equal(cfg.metrics_host, cases[i].host);
            assert_int_equal(cfg.metrics_port, cases[i].port);
        } else {
            if (rc != LATCH_FAIL)
                fail_msg("\"%s\" accepted", cases[i].value);
            assert_config_error(&err, "LATCH_METRICS_LISTEN");
        }
        latch_config_clear(&cfg);
    }
}

static void test_database_url(void **state)
{
    char url[1100];
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    env_base(&env);
    env_set(&env, "LATCH_DATABASE_URL", "");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_DATABASE_URL");

    /* 1023 bytes fit, 1024 do not; the value (with its password) is never echoed. */
    memset(url, 'x', sizeof(url));
    memcpy(url, DB_URL, strlen(DB_URL));
    url[1023] = '\0';
    env_set(&env, "LATCH_DATABASE_URL", url);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(strlen(cfg.database_url), 1023);
    url[1023] = 'x';
    url[1024] = '\0';
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_DATABASE_URL");
    assert_null(strstr(err.message, "hunter2"));
    assert_null(strstr(err.detail, "hunter2"));
}

static void test_outbound_allow_private(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};
    const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};

    (void)state;
    env_base(&env);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_false(cfg.outbound_allow_private_all);
    assert_int_equal(cfg.n_outbound_allow, 0);
    env_set(&env, "LATCH_OUTBOUND_ALLOW_PRIVATE", "all");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_true(cfg.outbound_allow_private_all);
    env_set(&env, "LATCH_OUTBOUND_ALLOW_PRIVATE", "127.0.0.0/8, fd00::/8");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_false(cfg.outbound_allow_private_all);
    assert_int_equal(cfg.n_outbound_allow, 2);
    assert_true(latch_cidr_contains(cfg.outbound_allow, cfg.n_outbound_allow, lo));
    env_set(&env, "LATCH_OUTBOUND_ALLOW_PRIVATE", "everything");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_OUTBOUND_ALLOW_PRIVATE");
}

static void test_database_listen_url(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    env_base(&env);
    /* Unset or empty: the listener uses LATCH_DATABASE_URL. */
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_string_equal(cfg.database_listen_url, cfg.database_url);
    env_set(&env, "LATCH_DATABASE_LISTEN_URL", "");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_string_equal(cfg.database_listen_url, cfg.database_url);
    env_set(&env, "LATCH_DATABASE_LISTEN_URL", "postgresql://latch@db-direct:5432/latch");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_string_equal(cfg.database_listen_url, "postgresql://latch@db-direct:5432/latch");
    assert_string_equal(cfg.database_url, DB_URL);
}

/* ---- secret key ---- */

struct key_case {
    const char *value;
    bool ok;
    uint8_t first; /* expected first and last bytes when ok */
    uint8_t last;
};

static const struct key_case key_cases[] = {
    {KEY_STD, true, 0x00, 0x1f},
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", true, 0x00, 0x1f},
    {"+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+//v8=", true, 0xfb, 0xff},
    {"-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-__v8", true, 0xfb, 0xff},
    {"-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-__v8=", true, 0xfb, 0xff},
    /* 31 and 33 bytes */
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", false, 0, 0},
    /* 64 bytes */
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
     false, 0, 0},
    /* non-zero unused bits, a second spelling of a valid key */
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", false, 0, 0},
    /* both alphabets at once */
    {"+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+__v8=", false, 0, 0},
    /* bad padding, stray characters, whitespace */
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8===", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREh=MUFRYXGBkaGxwdHh8", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", false, 0, 0},
    {" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREhMU FRYXGBkaGxwdHh8=", false, 0, 0},
    {"AAECAwQFBgcICQoLDA0ODxAREhMU*FRYXGBkaGxwdHh8", false, 0, 0},
    {"A", false, 0, 0},
    {"====", false, 0, 0},
    {"", false, 0, 0},
};

static void test_secret_key(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
        const struct key_case *c = &key_cases[i];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};
        latch_rc rc;

        env_base(&env);
        env_set(&env, "LATCH_SECRET_KEY", c->value);
        rc = latch_config_load(&cfg, fake_getenv, &env, &err);
        if (c->ok) {
            if (rc != LATCH_OK)
                fail_msg("key %zu refused: %s", i, err.message);
            assert_int_equal(cfg.secret_key[0], c->first);
            assert_int_equal(cfg.secret_key[31], c->last);
        } else {
            if (rc != LATCH_FAIL)
                fail_msg("key %zu accepted", i);
            assert_config_error(&err, "LATCH_SECRET_KEY");
            assert_true(all_zero(cfg.secret_key, sizeof(cfg.secret_key)));
            /* No 6-character piece of the value may show up anywhere in the error. */
            for (size_t k = 0; k + 6 <= strlen(c->value); k++) {
                char piece[7];
                memcpy(piece, c->value + k, 6);
                piece[6] = '\0';
                if (strstr(err.message, piece) != NULL || strstr(err.detail, piece) != NULL)
                    fail_msg("key %zu: \"%s\" leaked into \"%s\"", i, piece, err.message);
            }
        }
        latch_config_clear(&cfg);
    }
}

/* ---- trusted proxies, CIDR ---- */

static void addr16(const char *text, uint8_t out[16])
{
    struct in_addr a4;

    if (strchr(text, ':') != NULL) {
        assert_int_equal(inet_pton(AF_INET6, text, out), 1);
        return;
    }
    assert_int_equal(inet_pton(AF_INET, text, &a4), 1);
    memset(out, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    memcpy(out + 12, &a4, 4);
}

static void test_trusted_proxies_valid(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};
    uint8_t a[16];
    char many[32 * 16];
    size_t used = 0;

    (void)state;
    env_base(&env);
    env_set(&env, "LATCH_TRUSTED_PROXIES", "10.0.0.0/8 , 192.168.1.7,\t::1 ,fd00::/8");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.n_trusted_proxies, 4);
    assert_int_equal(cfg.trusted_proxies[0].prefix, 104);
    addr16("10.0.0.0", a);
    assert_memory_equal(cfg.trusted_proxies[0].addr, a, 16);
    assert_int_equal(cfg.trusted_proxies[1].prefix, 128);
    addr16("192.168.1.7", a);
    assert_memory_equal(cfg.trusted_proxies[1].addr, a, 16);
    assert_int_equal(cfg.trusted_proxies[2].prefix, 128);
    addr16("::1", a);
    assert_memory_equal(cfg.trusted_proxies[2].addr, a, 16);
    assert_int_equal(cfg.trusted_proxies[3].prefix, 8);

    addr16("10.200.3.4", a);
    assert_true(latch_cidr_contains(cfg.trusted_proxies, cfg.n_trusted_proxies, a));
    addr16("192.168.1.8", a);
    assert_false(latch_cidr_contains(cfg.trusted_proxies, cfg.n_trusted_proxies, a));
    addr16("fdab::1", a);
    assert_true(latch_cidr_contains(cfg.trusted_proxies, cfg.n_trusted_proxies, a));

    /* Blank means none. */
    env_set(&env, "LATCH_TRUSTED_PROXIES", "  ");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.n_trusted_proxies, 0);

    /* Exactly 32 entries. */
    for (int i = 0; i < 32; i++)
        used +=
            (size_t)snprintf(many + used, sizeof(many) - used, "%s10.0.%d.0/24", i ? "," : "", i);
    env_set(&env, "LATCH_TRUSTED_PROXIES", many);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.n_trusted_proxies, 32);
    latch_config_clear(&cfg);
}

static void test_trusted_proxies_invalid(void **state)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "10.0.0.1/8",  "10.0.0.0/8,,::1", "10.0.0.0/8,", ",10.0.0.0/8",
        "::1/129",     "1.2.3",       "fe80::1%eth0",    "10.0.0.0/",   "10.0.0.0/-1",
        "10.0.0.0/+8", "10.0.0.0/8x", "10.0.0.0/0008",   "host.test",   "10.0.0.0 /8",
        "::1/64",      "01.2.3.4",    "1.2.3.4/8/8",
    };
    char many[33 * 16];
    size_t used = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        env_base(&env);
        env_set(&env, "LATCH_TRUSTED_PROXIES", bad[i]);
        if (latch_config_load(&cfg, fake_getenv, &env, &err) != LATCH_FAIL)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_config_error(&err, "LATCH_TRUSTED_PROXIES");
    }

    for (int i = 0; i < 33; i++)
        used +=
            (size_t)snprintf(many + used, sizeof(many) - used, "%s10.0.%d.0/24", i ? "," : "", i);
    {
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        env_base(&env);
        env_set(&env, "LATCH_TRUSTED_PROXIES", many);
        assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
        assert_config_error(&err, "LATCH_TRUSTED_PROXIES");
        assert_non_null(strstr(err.message, "32"));
    }
}

struct cidr_case {
    const char *net;
    const char *addr;
    bool contains;
};

static const struct cidr_case cidr_cases[] = {
    {"10.0.0.0/8", "10.0.0.0", true},
    {"10.0.0.0/8", "10.255.255.255", true},
    {"10.0.0.0/8", "11.0.0.0", false},
    {"10.0.0.0/8", "::a00:1", false}, /* IPv4-compatible, not mapped */
    {"10.0.0.0/8", "::ffff:10.1.2.3", true},
    {"192.168.0.0/23", "192.168.1.255", true},
    {"192.168.0.0/23", "192.168.2.0", false},
    {"192.168.1.7", "192.168.1.7", true},
    {"192.168.1.7", "192.168.1.6", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "::1", false},
    {"::/0", "::1", true},
    {"::/0", "203.0.113.9", true},
    {"::ffff:0:0/96", "1.2.3.4", true},
    {"::ffff:0:0/96", "2001:db8::1", false},
    {"::ffff:10.0.0.0/104", "10.9.9.9", true},
    {"::1", "::1", true},
    {"::1", "::2", false},
    {"2001:db8::/33", "2001:db8:7fff:ffff::1", true},
    {"2001:db8::/33", "2001:db8:8000::", false},
    {"fe80::/10", "febf::1", true},
    {"fe80::/10", "fec0::1", false},
};

static void test_cidr_contains(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
        const struct cidr_case *c = &cidr_cases[i];
        struct latch_cidr net;
        uint8_t a[16];

        if (latch_config_parse_cidr(c->net, &net) != LATCH_OK)
            fail_msg("\"%s\" refused", c->net);
        addr16(c->addr, a);
        if (latch_cidr_contains(&net, 1, a) != c->contains)
            fail_msg("%s in %s: expected %d", c->addr, c->net, c->contains);
    }
}

static void test_cidr_parse(void **state)
{
    struct latch_cidr net;
    struct latch_cidr nets[2];
    uint8_t a[16];

    (void)state;
    assert_int_equal(latch_config_parse_cidr("172.16.0.0/12", &net), LATCH_OK);
    assert_int_equal(net.prefix, 108);
    assert_int_equal(net.addr[10], 0xff);
    assert_int_equal(net.addr[11], 0xff);
    assert_int_equal(net.addr[12], 172);
    assert_int_equal(net.addr[13], 16);
    assert_int_equal(latch_config_parse_cidr("2001:db8::/32", &net), LATCH_OK);
    assert_int_equal(net.prefix, 32);
    assert_int_equal(latch_config_parse_cidr("::", &net), LATCH_OK);
    assert_int_equal(net.prefix, 128);
    assert_int_equal(latch_config_parse_cidr("", &net), LATCH_FAIL);
    assert_int_equal(latch_config_parse_cidr(NULL, &net), LATCH_FAIL);
    assert_int_equal(latch_config_parse_cidr("10.0.0.0/8 ", &net), LATCH_FAIL);
    assert_int_equal(latch_config_parse_cidr("1.2.3.4/32", &net), LATCH_OK);
    assert_int_equal(net.prefix, 128);
    assert_int_equal(latch_config_parse_cidr("1.2.3.4/33", &net), LATCH_FAIL);

    /* An empty list contains nothing; any of several may match. */
    addr16("1.2.3.4", a);
    assert_false(latch_cidr_contains(nets, 0, a));
    assert_int_equal(latch_config_parse_cidr("::1", &nets[0]), LATCH_OK);
    assert_int_equal(latch_config_parse_cidr("1.2.3.0/24", &nets[1]), LATCH_OK);
    assert_true(latch_cidr_contains(nets, 2, a));
    assert_false(latch_cidr_contains(nets, 1, a));
}

/* ---- the config file ---- */

static void test_file_values_and_precedence(void **state)
{
    static const char content[] = "# Latch node settings\n"
                                  "\n"
                                  "   # indented comment\n"
                                  "LATCH_THREADS=3\n"
                                  "  LATCH_WORKERS =  5  \r\n"
                                  "LATCH_PUBLIC_URL=\"https://auth.example.com/base/\"\n"
                                  "LATCH_DB_POOL_SIZE=\"9\"\n"
                                  "LATCH_LOG_LEVEL=warn\n"
                                  "LATCH_SECRET_KEY=-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-__v8\n"
                                  "LATCH_DATABASE_URL=\"postgresql://a:b#c@db/x\"\n"
                                  "LATCH_TRUSTED_PROXIES=\"10.0.0.0/8, ::1\"\n"
                                  "PATH=/not/ours\n"
                                  "LATCH_AUTO_MIGRATE=yes"; /* no final newline */
    char path[64];
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    write_temp(path, sizeof(path), content, strlen(content));
    memset(&env, 0, sizeof(env));
    env_set(&env, "LATCH_CONFIG_FILE", path);
    env_set(&env, "LATCH_THREADS", "7"); /* the environment wins */
    env_set(&env, "LATCH_LOG_LEVEL", "debug");
    if (latch_config_load(&cfg, fake_getenv, &env, &err) != LATCH_OK)
        fail_msg("refused: %s (%s)", err.message, err.detail);
    assert_string_equal(cfg.config_file, path);
    assert_int_equal(cfg.threads, 7);
    assert_int_equal(cfg.workers, 5);
    assert_string_equal(cfg.public_url, "https://auth.example.com/base");
    assert_string_equal(cfg.public_path, "/base");
    assert_int_equal(cfg.db_pool_size, 9);
    assert_int_equal(cfg.log_level, LATCH_LOG_DEBUG);
    assert_int_equal(cfg.secret_key[0], 0xfb);
    assert_string_equal(cfg.database_url, "postgresql://a:b#c@db/x");
    assert_int_equal(cfg.n_trusted_proxies, 2);
    assert_true(cfg.auto_migrate);

    /* An empty value in the environment still wins, and is judged as it is. */
    env_set(&env, "LATCH_WORKERS", "");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_WORKERS");

    latch_config_clear(&cfg);
    unlink(path);
}

static void test_file_value_error_names_line(void **state)
{
    static const char content[] = "LATCH_DATABASE_URL=x\n"
                                  "LATCH_SECRET_KEY=" KEY_STD "\n"
                                  "\n"
                                  "LATCH_DB_POOL_SIZE=100\n";
    char path[64];
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    write_temp(path, sizeof(path), content, strlen(content));
    memset(&env, 0, sizeof(env));
    env_set(&env, "LATCH_CONFIG_FILE", path);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_DB_POOL_SIZE");
    assert_non_null(strstr(err.detail, "line 4"));
    assert_non_null(strstr(err.detail, path));
    unlink(path);
}

struct file_case {
    const char *content;
    size_t len; /* 0: strlen(content) */
    const char *in_message;
};

static const struct file_case file_cases[] = {
    {"LATCH_THREADS=2\nLATCH_BOGUS=1\n", 0, "line 2: unknown variable LATCH_BOGUS"},
    {"# c\n\nLATCH_THREADS\n", 0, "line 3 has no '='"},
    {"LATCH THREADS=2\n", 0, "line 1 has an invalid key"},
    {"=2\n", 0, "line 1 has an invalid key"},
    {"1LATCH=2\n", 0, "line 1 has an invalid key"},
    {"LATCH_THREADS=\"2\n", 0, "line 1: the value of LATCH_THREADS has an unmatched"},
    {"LATCH_THREADS=\"\n", 0, "line 1: the value of LATCH_THREADS has an unmatched"},
    {"LATCH_CONFIG_FILE=/etc/other\n", 0, "line 1 sets LATCH_CONFIG_FILE"},
    {"LATCH_THREADS=2\n#\nLATCH_THREADS=3\n", 0, "line 3 sets LATCH_THREADS again"},
    {"LATCH_THREADS=2\n\0\n", 18, "NUL byte"},
};

static void test_file_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]); i++) {
        const struct file_case *c = &file_cases[i];
        char path[64];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        write_temp(path, sizeof(path), c->content, c->len ? c->len : strlen(c->content));
        env_base(&env);
        env_set(&env, "LATCH_CONFIG_FILE", path);
        if (latch_config_load(&cfg, fake_getenv, &env, &err) != LATCH_FAIL)
            fail_msg("file case %zu accepted", i);
        assert_config_error(&err, "LATCH_CONFIG_FILE");
        if (strstr(err.message, c->in_message) == NULL)
            fail_msg("file case %zu: \"%s\" not in \"%s\"", i, c->in_message, err.message);
        assert_non_null(strstr(err.detail, path));
        unlink(path);
    }
}

static void test_file_unreadable(void **state)
{
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};

    (void)state;
    env_base(&env);
    env_set(&env, "LATCH_CONFIG_FILE", "/nonexistent/latch.env");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_CONFIG_FILE");
    assert_non_null(strstr(err.message, "cannot open"));

    env_set(&env, "LATCH_CONFIG_FILE", "/tmp");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_CONFIG_FILE");
    assert_non_null(strstr(err.message, "regular file"));

    /* Set but empty: no file. */
    env_set(&env, "LATCH_CONFIG_FILE", "");
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_string_equal(cfg.config_file, "");
    latch_config_clear(&cfg);
}

/* A file line holding only the secret (a paste without "KEY=") must not be echoed. */
static void test_file_errors_never_echo_secret(void **state)
{
    static const char *const contents[] = {
        "LATCH_DATABASE_URL=x\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
        "LATCH_DATABASE_URL=x\nLATCH_SECRET_KEY=\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "LATCH_DATABASE_URL=x\nLATCH_SECRET_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\n",
        "LATCH_DATABASE_URL=x\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 = 1\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        char path[64];
        struct fake_env env;
        struct latch_config cfg;
        struct latch_error err = {0};

        write_temp(path, sizeof(path), contents[i], strlen(contents[i]));
        memset(&env, 0, sizeof(env));
        env_set(&env, "LATCH_CONFIG_FILE", path);
        assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_FAIL);
        if (strstr(err.message, "AAECAwQF") != NULL || strstr(err.detail, "AAECAwQF") != NULL)
            fail_msg("secret leaked: %s / %s", err.message, err.detail);
        unlink(path);
    }
}

/* ---- reloading the log level ---- */

static void rewrite(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_reload_log_level(void **state)
{
    char path[64];
    struct fake_env env;
    struct latch_config cfg;
    struct latch_error err = {0};
    enum latch_log_level level = LATCH_LOG_INFO;

    (void)state;
    unsetenv("LATCH_LOG_LEVEL");
    write_temp(path, sizeof(path), "LATCH_LOG_LEVEL=warn\n", 21);
    env_base(&env);
    env_set(&env, "LATCH_CONFIG_FILE", path);
    assert_int_equal(latch_config_load(&cfg, fake_getenv, &env, &err), LATCH_OK);
    assert_int_equal(cfg.log_level, LATCH_LOG_WARN);

    /* The file is read again from disk. */
    rewrite(path, "# quieter\nLATCH_LOG_LEVEL=\"debug\"\n");
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_OK);
    assert_int_equal(level, LATCH_LOG_DEBUG);

    /* The environment wins. */
    setenv("LATCH_LOG_LEVEL", "error", 1);
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_OK);
    assert_int_equal(level, LATCH_LOG_ERROR);
    setenv("LATCH_LOG_LEVEL", "loud", 1);
    level = LATCH_LOG_WARN;
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_LOG_LEVEL");
    unsetenv("LATCH_LOG_LEVEL");

    rewrite(path, "LATCH_LOG_LEVEL=loud\n");
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_LOG_LEVEL");
    assert_non_null(strstr(err.detail, "line 1"));

    rewrite(path, "LATCH_NOPE=1\n");
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_FAIL);
    assert_config_error(&err, "LATCH_CONFIG_FILE");

    /* Not set anywhere: back to the default. */
    rewrite(path, "LATCH_THREADS=2\n");
    level = LATCH_LOG_ERROR;
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_OK);
    assert_int_equal(level, LATCH_LOG_INFO);
    unlink(path);

    /* Without a config file only the environment counts. */
    latch_config_clear(&cfg);
    setenv("LATCH_LOG_LEVEL", "warn", 1);
    assert_int_equal(latch_config_reload_log_level(&cfg, &level, &err), LATCH_OK);
    assert_int_equal(level, LATCH_LOG_WARN);
    unsetenv("LATCH_LOG_LEVEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_worker_lanes),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_null_getenv_reads_process_env),
        cmocka_unit_test(test_scalar_values),
        cmocka_unit_test(test_public_url),
        cmocka_unit_test(test_public_url_too_long),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_metrics_listen),
        cmocka_unit_test(test_database_url),
        cmocka_unit_test(test_database_listen_url),
        cmocka_unit_test(test_outbound_allow_private),
        cmocka_unit_test(test_secret_key),
        cmocka_unit_test(test_trusted_proxies_valid),
        cmocka_unit_test(test_trusted_proxies_invalid),
        cmocka_unit_test(test_cidr_contains),
        cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_file_values_and_precedence),
        cmocka_unit_test(test_file_value_error_names_line),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_unreadable),
        cmocka_unit_test(test_file_errors_never_echo_secret),
        cmocka_unit_test(test_reload_log_level),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
