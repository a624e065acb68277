/*
 * latchd: the Latch server. Loads the configuration, checks and (optionally) migrates the
 * database, loads the connectors, starts the loop threads, then waits on the main thread for
 * signals: SIGTERM drains (/readyz fails and answers close their connections for
 * LATCH_DRAIN_DELAY_MS, so that the load balancer moves traffic away), then stops accepting and
 * lets requests in flight finish; SIGINT, or a second SIGTERM, skips the rest of the delay.
 * SIGHUP reloads what may change at run time (the log level) and rescans the connector
 * directory. The main thread also listens (NOTIFY) for cache
 * invalidations and for the operator's connector commands (latchctl connectors), which it runs
 * itself: loading a connector blocks, and the main thread is not a loop thread.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "config/config.h"
#include "http/health.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "experience/experience.h"
#include "mgmt/mgmt.h"
#include "oidc/oidc.h"
#include "plugin/plugin.h"
#include "outbound/outbound.h"
#include "store/store.h"
#include "tenants/bootstrap.h"
#include "tenants/cache.h"
#include "store/migrate.h"
#include "store/preflight.h"
#include "users/password.h"
#include "util/log.h"
#include "util/workpool.h"

#define DB_WAIT_MS 30000
/* The listener NOTIFYs itself this often, and expects to hear itself within
 * HEARTBEAT_TIMEOUT_MS: a LISTEN that silently hears nothing (a transaction-mode pooler between
 * us and PostgreSQL, a connection a middlebox dropped) is found and said, and caches fall back
 * to reloading at each heartbeat instead of serving stale entries forever. */
#define HEARTBEAT_SECONDS    30
#define HEARTBEAT_TIMEOUT_MS 3000
#define HEARTBEAT_CHANNEL    "latch_heartbeat"
/* How often retired connector versions are checked for closing. */
#define PLUGIN_COLLECT_SECONDS 60

struct main_state {
    struct event_base *base;
    struct latch_config *cfg;
    struct latch_server *srv;
    struct event *drain_timer;
    int stop_signal;
    bool listener_was_connected;
    /* the listener's heartbeat, sent through the pool's database URL: a NOTIFY from another
     * connection is what every invalidation is */
    struct latch_store *listener, *notifier;
    struct event *heartbeat_timer, *heartbeat_deadline;
    char heartbeat_nonce[40];
    uint64_t heartbeat_sent_ns;
    unsigned long heartbeat_seq;
    bool heartbeat_pending; /* sent, not heard back yet */
    bool heartbeat_failing; /* the last one was not heard: said once until one is */
};

static const struct latch_stmt heartbeat_stmt = {
    .name = "listener_heartbeat",
    .sql = "SELECT pg_notify('" HEARTBEAT_CHANNEL "', $1)",
    .nparams = 1,
};

static void heartbeat_sent(struct latch_store_result *const *results, int n,
                           const struct latch_error *err, void *arg)
{
    struct main_state *st = arg;
    if (err != NULL) {
        /* The database is unreachable: the reconnect will send another one. */
        st->heartbeat_pending = false;
        evtimer_del(st->heartbeat_deadline);
    }
}

static void heartbeat_send(struct main_state *st)
{
    if (st->notifier == NULL)
        return;
    snprintf(st->heartbeat_nonce, sizeof(st->heartbeat_nonce), "%ld-%lu", (long)getpid(),
             ++st->heartbeat_seq);
    const char *params[1] = {st->heartbeat_nonce};
    st->heartbeat_pending = true;
    st->heartbeat_sent_ns = latch_metrics_now_ns();
    struct timeval tv = {.tv_sec = HEARTBEAT_TIMEOUT_MS / 1000,
                         .tv_usec = (HEARTBEAT_TIMEOUT_MS % 1000) * 1000};
    evtimer_add(st->heartbeat_deadline, &tv);
    latch_store_query(st->notifier, NULL, &heartbeat_stmt, params, heartbeat_sent, st);
}

static void on_heartbeat_timer(evutil_socket_t fd, short what, void *arg)
{
    struct main_state *st = arg;
    if (!st->heartbeat_pending && latch_store_is_connected(st->listener))
        heartbeat_send(st);
}

static void on_heartbeat_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct main_state *st = arg;
    if (!st->heartbeat_pending)
        return;
    st->heartbeat_pending = false;
    /* Until the listener hears again, every heartbeat period reloads the caches. */
    latch_tenant_epoch_bump(NULL);
    if (st->heartbeat_failing)
        return;
    st->heartbeat_failing = true;
    latch_err("the listener did not hear its own NOTIFY within %d ms: cache invalidations from "
              "other nodes are not reaching this node. If LATCH_DATABASE_LISTEN_URL (or "
              "LATCH_DATABASE_URL) goes through a transaction-mode pooler such as PgBouncer, "
              "point LATCH_DATABASE_LISTEN_URL at PostgreSQL directly. Meanwhile caches reload "
              "every %d s",
              HEARTBEAT_TIMEOUT_MS, HEARTBEAT_SECONDS);
}

static void heartbeat_heard(struct main_state *st, const char *payload)
{
    if (!st->heartbeat_pending || payload == NULL || strcmp(payload, st->heartbeat_nonce) != 0)
        return; /* another node's, or a late one */
    st->heartbeat_pending = false;
    evtimer_del(st->heartbeat_deadline);
    latch_metrics_invalidation_lag(latch_metrics_now_ns() - st->heartbeat_sent_ns);
    if (st->heartbeat_failing) {
        st->heartbeat_failing = false;
        latch_info("the listener hears NOTIFY again");
    }
}

static void on_drained(evutil_socket_t fd, short what, void *arg)
{
    struct main_state *st = arg;
    event_base_loopbreak(st->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct main_state *st = arg;
    if (sig == SIGHUP) {
        enum latch_log_level level;
        struct latch_error err;
        if (latch_config_reload_log_level(st->cfg, &level, &err) != LATCH_OK) {
            latch_err("SIGHUP: %s; keeping log level %s", err.message,
                      latch_log_level_name(latch_log_get_level()));
        } else {
            latch_log_set_level(level);
            latch_info("SIGHUP: log level is %s", latch_log_level_name(level));
        }
        if (latch_plugin_dir()[0] != '\0') {
            latch_info("SIGHUP: rescanning the connector directory %s", latch_plugin_dir());
            latch_plugin_rescan();
        }
        return;
    }
    bool again = st->stop_signal != 0;
    st->stop_signal = (int)sig;
    if (sig == SIGINT || again || st->cfg->drain_delay_ms == 0) {
        event_base_loopbreak(st->base);
        return;
    }
    latch_server_drain(st->srv);
    latch_info("SIGTERM: draining; /readyz fails and connections close after each answer; "
               "accepting stops in %d ms",
               st->cfg->drain_delay_ms);
    int ms = st->cfg->drain_delay_ms;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(st->drain_timer, &tv);
}

/* The listener's notifications: connector commands here, cache invalidations to the cache. */
static void on_notify(const char *channel, const char *payload, void *arg)
{
    if (channel != NULL && strcmp(channel, HEARTBEAT_CHANNEL) == 0)
        heartbeat_heard(arg, payload);
    else if (channel != NULL && strcmp(channel, LATCH_PLUGIN_CHANNEL) == 0)
        latch_plugin_command(payload);
    else if (channel != NULL && strcmp(channel, LATCH_MGMT_HOOKS_CHANNEL) == 0)
        latch_mgmt_hooks_wake(payload);
    else
        latch_tenant_cache_on_notify(channel, payload, arg);
}

static void on_listener_connect(void *arg)
{
    struct main_state *st = arg;
    latch_tenant_cache_on_connect(arg);
    /* A connector command may have gone by while the listener was down: catch up with the
     * directory (an explicit load of a second file for one id is the one thing a rescan does
     * not replay). */
    if (st->listener_was_connected && latch_plugin_dir()[0] != '\0')
        latch_plugin_rescan();
    st->listener_was_connected = true;
    /* At once on every (re)connect: a pooler in the way is said at start-up. */
    heartbeat_send(st);
}

static void on_collect(evutil_socket_t fd, short what, void *arg)
{
    latch_plugin_collect();
}

/* ---- metrics sources: each pool is sampled on its own thread ---- */

static void listener_db_probe(void *arg, struct latch_metrics_db_sample *out)
{
    struct latch_store_stats s = {0};
    if (arg != NULL)
        latch_store_stats_get(arg, &s);
    *out = (struct latch_metrics_db_sample){
        .connections = s.connections, .ready = s.ready, .busy = s.busy, .waiting = s.waiting};
}

static void loop_db_probe(void *arg, struct latch_metrics_db_sample *out)
{
    listener_db_probe(latch_loop_store(arg), out);
}

struct lane_source {
    struct latch_server *srv;
    enum latch_lane lane;
};

static void lane_probe(void *arg, struct latch_metrics_lane_sample *out)
{
    const struct lane_source *src = arg;
    struct latch_workpool_stats s;
    latch_server_lane_stats(src->srv, src->lane, &s);
    *out = (struct latch_metrics_lane_sample){.threads = s.threads,
                                              .capacity = s.max_queue,
                                              .queued = s.queued,
                                              .busy = s.busy,
                                              .rejected = s.rejected};
}

/* After latch_server_start: the probes, then the listener's thread. */
static latch_rc metrics_start(const struct latch_config *cfg, struct latch_server *srv,
                              struct event_base *main_base, struct latch_store *listener,
                              struct latch_error *err)
{
    struct latch_loop *loop;
    for (int i = 0; (loop = latch_server_loop(srv, i)) != NULL; i++)
        if (latch_metrics_add_db_probe(latch_loop_base(loop), false, loop_db_probe, loop) !=
            LATCH_OK)
            return latch_error_set(err, 0, "metrics", "too many loop threads for the metrics");
    if (latch_metrics_add_db_probe(main_base, true, listener_db_probe, listener) != LATCH_OK)
        return latch_error_set(err, 0, "metrics", "too many loop threads for the metrics");
    static struct lane_source lanes[LATCH_LANES];
    for (int l = 0; l < LATCH_LANES; l++) {
        lanes[l] = (struct lane_source){.srv = srv, .lane = (enum latch_lane)l};
        latch_metrics_set_lane((enum latch_metrics_lane)l, lane_probe, &lanes[l]);
    }
    return latch_metrics_listener_start(cfg->metrics_host, cfg->metrics_port, err);
}

static int usage(void)
{
    fprintf(stderr, "usage: latchd [--version]\n"
                    "Configuration comes from LATCH_* environment variables; see README.md.\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct latch_config cfg;
    struct latch_error err;
    struct latch_server *srv = NULL;
    struct main_state st = {0};
    struct event *sigs[3] = {0};
    struct event *collect_timer = NULL;
    bool plugins_up = false;
    struct latch_store *listener = NULL, *notifier = NULL;
    struct latch_audit_retention *log_retention = NULL;
    int status = 1;

    if (argc > 1) {
        if (strcmp(argv[1], "--version") == 0) {
            printf("latchd %s (schema %d)\n", LATCH_VERSION, latch_migrate_latest_version());
            return 0;
        }
        return usage();
    }
    signal(SIGPIPE, SIG_IGN);

    if (latch_config_load(&cfg, NULL, NULL, &err) != LATCH_OK) {
        latch_err("invalid configuration: %s", err.message);
        return 2;
    }
    latch_log_set_level(cfg.log_level);
    latch_metrics_init();
    /* Before any thread starts: also precomputes the dummy hash for unknown users. */
    latch_password_configure(&(struct latch_password_params){
        .iterations = (uint32_t)cfg.password_argon2_iterations,
        .memory_kib = (uint32_t)cfg.password_argon2_memory_kib,
        .parallelism = (uint32_t)cfg.password_argon2_parallelism,
    });
    /* Before any thread starts: curl_global_init is not thread-safe. */
    if (latch_outbound_init(
            &(struct latch_outbound_options){
                .ca_file = cfg.outbound_ca_file,
                .connect_to = cfg.outbound_connect_to,
                .allow_private_all = cfg.outbound_allow_private_all,
                .allow = cfg.outbound_allow,
                .nallow = cfg.n_outbound_allow,
            },
            &err) != LATCH_OK) {
        latch_log_error("cannot set up outbound HTTP", &err);
        goto out;
    }
    if (evthread_use_pthreads() != 0) {
        latch_err("libevent has no thread support");
        goto out;
    }

    if (latch_store_preflight(cfg.database_url, DB_WAIT_MS, &err) != LATCH_OK) {
        latch_log_error("database check failed", &err);
        goto out;
    }
    if (cfg.auto_migrate) {
        int applied = 0;
        /* A session connection: migrations hold an advisory lock across transactions. */
        if (latch_migrate_apply(cfg.database_listen_url, &applied, &err) != LATCH_OK) {
            latch_log_error("migration failed", &err);
            goto out;
        }
        latch_info("schema at version %d (%d migration(s) applied)", latch_migrate_latest_version(),
                   applied);
    }

    latch_tenant_cache_set_master_key(cfg.secret_key);
    if (cfg.bootstrap_client_id[0] != '\0') {
        char id[22], secret[sizeof(cfg.bootstrap_client_secret)];
        if (latch_bootstrap_app(&cfg, LATCH_TENANT_DEFAULT, cfg.bootstrap_client_id,
                                cfg.bootstrap_client_secret, "MachineToMachine",
                                "Bootstrap management application", true, true, id, secret,
                                sizeof(secret), &err) != LATCH_OK) {
            latch_log_error("cannot set up the bootstrap application", &err);
            goto out;
        }
        OPENSSL_cleanse(secret, sizeof(secret));
        latch_info("bootstrap management application %s is ready in tenant default", id);
    }
    /* Before the loops start: the tenant side finds the factories from the first request on. */
    if (latch_plugin_init(cfg.connector_dir, &err) != LATCH_OK) {
        latch_log_error("cannot load the connectors", &err);
        goto out;
    }
    plugins_up = true;
    srv = latch_server_new(&cfg, &err);
    if (srv == NULL || latch_health_register(srv) != LATCH_OK ||
        latch_oidc_register(srv) != LATCH_OK || latch_experience_register(srv) != LATCH_OK ||
        latch_mgmt_register(srv) != LATCH_OK) {
        latch_err("cannot set up the server");
        goto out;
    }

    st.base = event_base_new();
    st.cfg = &cfg;
    st.srv = srv;
    if (st.base == NULL)
        goto out;
    st.drain_timer = evtimer_new(st.base, on_drained, &st);
    if (st.drain_timer == NULL)
        goto out;
    const int signals[3] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(st.base, signals[i], on_signal, &st);
        if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    collect_timer = event_new(st.base, -1, EV_PERSIST, on_collect, NULL);
    if (collect_timer == NULL ||
        event_add(collect_timer, &(struct timeval){.tv_sec = PLUGIN_COLLECT_SECONDS}) != 0)
        goto out;
    /* One connection per node listens for cache invalidations and connector commands from every
     * node and from latchctl. */
    static const char *const channels[] = {"latch_invalidate", LATCH_PLUGIN_CHANNEL,
                                           HEARTBEAT_CHANNEL, LATCH_MGMT_HOOKS_CHANNEL, NULL};
    st.heartbeat_timer = event_new(st.base, -1, EV_PERSIST, on_heartbeat_timer, &st);
    st.heartbeat_deadline = evtimer_new(st.base, on_heartbeat_deadline, &st);
    if (st.heartbeat_timer == NULL || st.heartbeat_deadline == NULL ||
        event_add(st.heartbeat_timer, &(struct timeval){.tv_sec = HEARTBEAT_SECONDS}) != 0)
        goto out;
    struct latch_store_options lopts = {
        .conninfo = cfg.database_listen_url,
        .pool_size = 1,
        .listen_channels = channels,
        .on_notify = on_notify,
        .on_connect = on_listener_connect,
        .notify_arg = &st,
    };
    listener = latch_store_new(st.base, &lopts);
    if (listener == NULL)
        goto out;
    st.listener = listener;
    struct latch_store_options nopts = {
        .conninfo = cfg.database_url,
        .pool_size = 1,
        .transaction_pooling = cfg.db_transaction_pooling,
    };
    notifier = latch_store_new(st.base, &nopts);
    if (notifier == NULL)
        goto out;
    st.notifier = notifier;
    if (latch_server_start(srv, &err) != LATCH_OK) {
        latch_log_error("cannot start", &err);
        goto out;
    }
    if (latch_mgmt_hooks_start(st.base, &(struct latch_mgmt_hooks_options){
                                            .conninfo = cfg.database_url,
                                            .transaction_pooling = cfg.db_transaction_pooling,
                                            .io = latch_server_lane(srv, LATCH_LANE_IO),
                                            .timeout_ms = cfg.hook_timeout_ms,
                                            .retry_base_ms = cfg.hook_retry_base_ms,
                                            .sweep_ms = cfg.hook_sweep_ms,
                                        }) != LATCH_OK) {
        latch_err("cannot start delivering webhooks");
        goto out;
    }
    if (cfg.metrics_port != 0 && metrics_start(&cfg, srv, st.base, listener, &err) != LATCH_OK) {
        latch_log_error("cannot serve metrics", &err);
        goto out;
    }
    /* Partitions of the audit log: created ahead and dropped past retention. */
    log_retention = latch_audit_retention_start(st.base, notifier, &cfg);
    if (log_retention == NULL)
        goto out;
    latch_info("latchd %s serving %s", LATCH_VERSION, cfg.public_url);
    event_base_dispatch(st.base);

    latch_info("%s: stopping; in-flight requests have %d ms to finish",
               st.stop_signal == SIGINT ? "SIGINT" : "SIGTERM", cfg.shutdown_grace_ms);
    latch_server_drain(srv);
    latch_server_shutdown(srv);
    latch_info("stopped");
    status = 0;
out:
    /* Before the loops' event bases, which the probes use, are freed. */
    latch_metrics_listener_stop();
    latch_mgmt_hooks_stop();
    latch_server_free(srv);
    /* After the lanes, whose workers post deliveries' completions to it. */
    latch_mgmt_hooks_free();
    latch_store_free(listener);
    latch_store_free(notifier);
    latch_audit_retention_free(log_retention);
    if (collect_timer != NULL)
        event_free(collect_timer);
    /* After the loops and the worker pool, which call connectors, are gone. */
    if (plugins_up)
        latch_plugin_shutdown();
    /* After the worker threads, which make outbound requests, are gone. */
    latch_outbound_shutdown();
    for (int i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (st.drain_timer)
        event_free(st.drain_timer);
    if (st.heartbeat_timer)
        event_free(st.heartbeat_timer);
    if (st.heartbeat_deadline)
        event_free(st.heartbeat_deadline);
    if (st.base)
        event_base_free(st.base);
    latch_config_clear(&cfg);
    libevent_global_shutdown();
    return status;
}
