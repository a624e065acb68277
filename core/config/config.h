/*
 * Node configuration: read once at start-up from the environment and, optionally, from a file of
 * KEY=VALUE lines (LATCH_CONFIG_FILE). The environment wins over the file. Every value is
 * validated; an invalid one stops start-up with a message naming the variable and what it expects.
 *
 * The struct is plain data owned by its holder; latch_config_clear() wipes the secret key.
 */
#ifndef LATCH_CONFIG_CONFIG_H
#define LATCH_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "util/error.h"
#include "util/log.h"

#define LATCH_CONFIG_MAX_PROXIES    32
#define LATCH_SECRET_KEY_LEN        32
#define LATCH_CONFIG_MAX_CONNECT_TO 16

/* One trusted-proxy network: an IPv4 network is stored as an IPv4-mapped IPv6 prefix. */
struct latch_cidr {
    uint8_t addr[16];
    int prefix; /* 0..128, counted on the 16-byte form */
};

struct latch_config {
    /* LATCH_PUBLIC_URL, normalized: scheme://host[:port][/path] with no trailing slash. */
    char public_url[512];
    bool public_https;     /* scheme is https */
    char public_path[256]; /* path part of public_url, "" when none */

    /* LATCH_LISTEN host:port ([v6]:port accepted). Default 0.0.0.0:3001. */
    char listen_host[256];
    uint16_t listen_port;

    /* LATCH_DATABASE_URL, a libpq connection string or URI (required). */
    char database_url[1024];
    /* LATCH_DATABASE_LISTEN_URL: a direct session connection for LISTEN and migrations;
     * defaults to database_url. */
    char database_listen_url[1024];
    /* LATCH_DB_POOL_MODE=transaction: the database URL goes through a transaction-mode pooler
     * (PgBouncer): no named prepared statements, no pipelining across transactions. */
    bool db_transaction_pooling;

    int threads;      /* LATCH_THREADS, 1..256, default: online cores */
    int workers;      /* LATCH_WORKERS: deprecated, the default of LATCH_CPU_WORKERS */
    int db_pool_size; /* LATCH_DB_POOL_SIZE, connections per loop thread, 1..64, default 2 */

    /* The worker lanes (http/lanes.c). LATCH_CPU_WORKERS 1..256, default LATCH_WORKERS (so the
     * cores); LATCH_IO_WORKERS 1..1024, default 16; LATCH_IO_TENANT_WORKERS, the I/O workers
     * one tenant's jobs may hold at once, 1..io_workers, default half of io_workers. */
    int cpu_workers;
    int io_workers;
    int io_tenant_workers;

    struct latch_cidr trusted_proxies[LATCH_CONFIG_MAX_PROXIES]; /* LATCH_TRUSTED_PROXIES */
    int n_trusted_proxies;

    enum latch_log_level log_level; /* LATCH_LOG_LEVEL, default info */

    uint8_t secret_key[LATCH_SECRET_KEY_LEN]; /* LATCH_SECRET_KEY: base64 of exactly 32 bytes */

    bool auto_migrate; /* LATCH_AUTO_MIGRATE, 0/1/true/false, default false */

    size_t max_header_bytes; /* LATCH_MAX_HEADER_BYTES, request line + headers, default 16384 */
    size_t max_body_bytes;   /* LATCH_MAX_BODY_BYTES, default 1 MiB */
    int shutdown_grace_ms;   /* LATCH_SHUTDOWN_GRACE_MS, default 10000 */
    int drain_delay_ms;      /* LATCH_DRAIN_DELAY_MS, SIGTERM to stop accepting, default 5000 */
    int hook_timeout_ms;     /* LATCH_HOOK_TIMEOUT_MS, one webhook attempt, default 10000 */
    int hook_retry_base_ms;  /* LATCH_HOOK_RETRY_BASE_MS, first retry delay, default 10000 */
    int hook_sweep_ms;       /* LATCH_HOOK_SWEEP_MS, outbox sweep period, default 5000 */
    int max_connections;     /* LATCH_MAX_CONNECTIONS, open client connections, default 10000 */
    /* Failure throttling per node (util/ratelimit.h), failures per minute; 0 turns it off:
     * LATCH_LIMIT_CLIENT_AUTH_FAILURES per client id (default 30), LATCH_LIMIT_IP_AUTH_FAILURES
     * per client IP (default 120: failed client authentication and invalid bearer tokens). */
    int limit_client_auth_failures;
    int limit_ip_auth_failures;
    /* LATCH_LIMIT_IP_PASSWORD_FAILURES: wrong passwords at the Experience API per client IP a
     * minute (default 60); LATCH_LIMIT_IP_REGISTRATION_CHECKS: registrations that found the
     * username taken, per client IP a minute (default 30). */
    int limit_ip_password_failures;
    int limit_ip_registration_checks;
    /* LATCH_LIMIT_IP_CODE_SENDS: verification codes sent per tenant and client IP a minute
     * (default 10; 0 = off). */
    int limit_ip_code_sends;
    int idle_timeout_ms; /* LATCH_IDLE_TIMEOUT_MS, keep-alive idle, default 60000 */
    /* Per-connection limits against slow clients (docs/operations.md, "Connection limits"). */
    int header_timeout_ms;      /* LATCH_HEADER_TIMEOUT_MS, whole head, default 10000 */
    int body_timeout_ms;        /* LATCH_BODY_TIMEOUT_MS, body deadline base, default 10000 */
    int min_body_rate;          /* LATCH_MIN_BODY_RATE, bytes/s on top of it, default 1024 */
    int max_connections_per_ip; /* LATCH_MAX_CONNECTIONS_PER_IP, per TCP peer, 0 = off, 256 */

    /* LATCH_BODY_BUDGET_BYTES: request bodies buffered at once by the whole node (all loops),
     * default 64 MiB, 0 = no bound; a body that would pass it gets 503 with Retry-After. */
    size_t body_budget_bytes;

    /* LATCH_BOOTSTRAP_CLIENT_ID / _SECRET: a management application tenant `default` gets at
     * start-up (both or neither; "" when unset). */
    char bootstrap_client_id[22];
    char bootstrap_client_secret[256];

    char config_file[512]; /* LATCH_CONFIG_FILE, "" when none */

    /* Parameters of new Argon2i password hashes (Logto's defaults t=8, m=8192 KiB, p=1):
     * LATCH_PASSWORD_ARGON2_ITERATIONS 1..64, LATCH_PASSWORD_ARGON2_MEMORY_KIB 1024..1048576,
     * LATCH_PASSWORD_ARGON2_PARALLELISM 1..16. */
    int password_argon2_iterations;
    int password_argon2_memory_kib;
    int password_argon2_parallelism;

    /* Outbound HTTPS of connectors (outbound/): LATCH_OUTBOUND_CA_FILE, a readable PEM bundle
     * of the CAs to trust instead of the system's ("" for the system's);
     * LATCH_OUTBOUND_CONNECT_TO, comma-separated libcurl connect-to entries
     * host:port:connect-host:connect-port (at most LATCH_CONFIG_MAX_CONNECT_TO; "" for none). */
    char outbound_ca_file[512];
    char outbound_connect_to[1024];
    /* LATCH_OUTBOUND_ALLOW_PRIVATE: "all", or networks that outbound requests may reach although
     * they are not public (loopback, private, link-local...); none by default. */
    bool outbound_allow_private_all;
    struct latch_cidr outbound_allow[LATCH_CONFIG_MAX_PROXIES];
    int n_outbound_allow;

    /* LATCH_CONNECTOR_DIR: the directory connector .so files are loaded from, canonical (symbolic
     * links resolved); it must exist. Default: the installed connectors directory,
     * <prefix>/<libdir>/latch/connectors (LATCH_DEFAULT_CONNECTOR_DIR, set by meson), or none when
     * that does not exist. Set to ""
     * for none. "" when none: no connectors are loaded. */
    char connector_dir[1024];

    /* LATCH_METRICS_LISTEN host:port ([v6]:port accepted) of the Prometheus metrics listener;
     * off (metrics_port 0) when unset or empty. Never the port of LATCH_LISTEN. */
    char metrics_host[256];
    uint16_t metrics_port;

    /* The audit log (audit/, docs/events.md "Audit log"). LATCH_AUDIT_LOG on|off (default on);
     * LATCH_AUDIT_LOG_QUEUE entries waiting per loop thread before new ones are dropped
     * (16..1000000, default 8192); LATCH_AUDIT_LOG_FLUSH_MS, the longest an entry waits before
     * its batch is written (10..60000, default 250); LATCH_LOG_RETENTION_DAYS, days of entries
     * kept (1..3650, default 30); LATCH_LOG_MAINTENANCE_SECONDS, how often a node creates the
     * coming days' partitions and drops expired ones (1..86400, default 3600). */
    bool audit_log;
    int audit_log_queue;
    int audit_log_flush_ms;
    int log_retention_days;
    int log_maintenance_seconds;
};

/* Function used to read variables; tests pass their own. Returns NULL when unset. */
typedef const char *(*latch_config_getenv_fn)(const char *name, void *arg);

/*
 * Loads and validates the configuration. `getenv_fn` NULL means the process environment.
 * On failure err->message names the variable and what it expects.
 */
latch_rc latch_config_load(struct latch_config *cfg, latch_config_getenv_fn getenv_fn, void *arg,
                           struct latch_error *err) LATCH_MUST_CHECK;

/* Resolves LATCH_CONNECTOR_DIR alone (environment, else LATCH_CONFIG_FILE, else the default) and
 * validates it as latch_config_load() does, for tools that need nothing else (latchctl
 * connectors). out gets "" when there is none. */
latch_rc latch_config_connector_dir(latch_config_getenv_fn getenv_fn, void *arg, char *out,
                                    size_t cap, struct latch_error *err) LATCH_MUST_CHECK;

/* Re-reads only what may change at run time (the log level) into *level. */
latch_rc latch_config_reload_log_level(const struct latch_config *cfg, enum latch_log_level *level,
                                       struct latch_error *err) LATCH_MUST_CHECK;

/* Parses one CIDR ("10.0.0.0/8", "::1/128", or a bare address). */
latch_rc latch_config_parse_cidr(const char *text, struct latch_cidr *out) LATCH_MUST_CHECK;

/* True when addr (16-byte form, IPv4 mapped) lies in one of the networks. */
bool latch_cidr_contains(const struct latch_cidr *nets, int n, const uint8_t addr[16]);

/* Wipes secrets. */
void latch_config_clear(struct latch_config *cfg);

#endif
