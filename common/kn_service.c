/* kn_service: the main() of every Konnect service. Startup order matters:
 * signals are blocked before any thread exists, migrations run before the
 * port opens (so Health never says SERVING on an old schema), and a
 * failure at any step exits 1 with one log line saying what went wrong. */
#include "kn_service.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kn_admin.h"
#include "kn_log.h"
#include "kn_metrics.h"

#define KN_MIGRATE_RETRY_MS 30000
#define KN_MIGRATE_PAUSE_MS 500

typedef struct {
    const kn_service_def *def;
    const kn_service_config *cfg;
    kn_pg *ready_pg; /* used by the readiness thread only */

    pthread_t tick_tid;
    int tick_started;
    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
    int tick_stop;
} kn_svc_ctx;

static kn_worker *kn_worker_new(const kn_service_def *def, const kn_service_config *cfg, int index)
{
    kn_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        abort();
    w->index = index;
    w->cfg = cfg;
    w->pg = kn_pg_new(cfg->database_url);
    w->redis =
        kn_redis_new(cfg->redis_url != NULL ? cfg->redis_url : "", (int)cfg->redis_timeout_ms);
    kn_redis_set_cache_pattern(w->redis, def->cache_key_pattern);
    return w;
}

static void kn_worker_free(kn_worker *w)
{
    if (w == NULL)
        return;
    kn_pg_free(w->pg);
    kn_redis_free(w->redis);
    free(w);
}

static void *kn_svc_worker_init(int index, void *ud)
{
    kn_svc_ctx *x = ud;
    return kn_worker_new(x->def, x->cfg, index);
}

static void kn_svc_worker_destroy(void *ctx, void *ud)
{
    kn_worker_free(ctx);
}

/* A handler that failed half-way may leave its transaction open; the next
 * call on this worker's connection must not inherit it. */
static void kn_svc_call_done(void *ctx, void *ud)
{
    kn_worker *w = ctx;
    kn_pg_end_call(w->pg);
}

static int kn_svc_ready(void *ud)
{
    kn_svc_ctx *x = ud;
    return kn_pg_ping(x->ready_pg);
}

static void kn_deadline_after(struct timespec *ts, long ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *kn_svc_tick_main(void *arg)
{
    kn_svc_ctx *x = arg;
    kn_worker *w = kn_worker_new(x->def, x->cfg, (int)x->cfg->workers);
    long interval = x->def->tick_interval_ms > 0 ? x->def->tick_interval_ms : 1000;
    pthread_mutex_lock(&x->tick_mu);
    while (!x->tick_stop) {
        struct timespec until;
        kn_deadline_after(&until, interval);
        while (!x->tick_stop &&
               pthread_cond_timedwait(&x->tick_cv, &x->tick_mu, &until) != ETIMEDOUT) {
        }
        if (x->tick_stop)
            break;
        pthread_mutex_unlock(&x->tick_mu);
        x->def->tick(w);
        pthread_mutex_lock(&x->tick_mu);
    }
    pthread_mutex_unlock(&x->tick_mu);
    kn_worker_free(w);
    return NULL;
}

/* Sleeps ms unless SIGINT/SIGTERM arrives (they are blocked, so they wait
 * here rather than kill the process mid-migration). Returns the signal or 0. */
static int kn_pause_or_signal(long ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static int64_t kn_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 migrated, 1 failed, 2 stopped by a signal while waiting. */
static int kn_svc_migrate(const kn_service_config *cfg)
{
    if (cfg->migrations_dir == NULL || *cfg->migrations_dir == '\0') {
        kn_log_warn("no migrations directory configured: skipping migrations");
        return 0;
    }
    int64_t until = kn_mono_ms() + KN_MIGRATE_RETRY_MS;
    for (int attempt = 1;; attempt++) {
        kn_status st;
        kn_status_clear(&st);
        kn_code rc = kn_pg_migrate(cfg->database_url, cfg->migrations_dir, &st);
        if (rc == KN_OK)
            return 0;
        if (rc != KN_UNAVAILABLE) {
            kn_log_error("migrations failed: %s", st.message);
            return 1;
        }
        if (kn_mono_ms() >= until) {
            kn_log_error("database not reachable after %d s: %s", KN_MIGRATE_RETRY_MS / 1000,
                         st.message);
            return 1;
        }
        kn_log_warn("database not reachable yet (attempt %d): %s; retrying", attempt, st.message);
        int sig = kn_pause_or_signal(KN_MIGRATE_PAUSE_MS);
        if (sig != 0) {
            kn_log_info("received %s during startup, exiting",
                        sig == SIGINT ? "SIGINT" : "SIGTERM");
            return 2;
        }
    }
}

static void kn_usage(const char *name)
{
    fprintf(stderr,
            "usage: %s [--version]\n"
            "Configuration comes from environment variables (docs/configuration.md).\n",
            name);
}

int kn_service_main(int argc, char **argv, const kn_service_def *def)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", def->name, KN_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            kn_usage(def->name);
            return 0;
        }
        kn_usage(def->name);
        return 1;
    }

    kn_runtime_init();
    kn_log_init(def->name);
    kn_metrics_init(def->name);

    int exit_code = 1;
    int setup_done = 0;
    kn_server *server = NULL;
    kn_admin *admin = NULL;
    kn_service_config cfg;
    kn_status st;
    kn_status_clear(&st);
    kn_svc_ctx x;
    memset(&x, 0, sizeof x);
    x.def = def;
    x.cfg = &cfg;
    pthread_mutex_init(&x.tick_mu, NULL);
    pthread_cond_init(&x.tick_cv, NULL);

    if (kn_service_config_load(&cfg, def->name, def->default_listen, def->default_migrations_dir,
                               &st) != KN_OK) {
        kn_log_error("bad configuration: %s", st.message);
        goto done;
    }
    kn_log_info("starting %s %s (listen %s, %ld workers)", def->name, KN_VERSION, cfg.listen,
                cfg.workers);

    /* Before the migrations: /healthz and /metrics answer while a long
     * migration runs. */
    if (cfg.admin_listen != NULL && *cfg.admin_listen != '\0') {
        admin = kn_admin_start(cfg.admin_listen, &st);
        if (admin == NULL) {
            kn_log_error("%s", st.message);
            goto done;
        }
    }

    int m = kn_svc_migrate(&cfg);
    if (m == 2) {
        exit_code = 0;
        goto done;
    }
    if (m != 0)
        goto done;

    if (def->setup != NULL) {
        if (def->setup(&cfg, &st) != KN_OK) {
            kn_log_error("setup failed: %s", st.message);
            goto done;
        }
    }
    setup_done = 1;

    x.ready_pg = kn_pg_new(cfg.database_url);
    kn_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.service = def->name;
    sc.listen = cfg.listen;
    sc.workers = (int)cfg.workers;
    sc.max_message_bytes = (int)cfg.max_message_bytes;
    sc.grace_ms = (int)cfg.grace_ms;
    sc.jwt_secret = (const unsigned char *)(cfg.jwt_secret ? cfg.jwt_secret : "");
    sc.jwt_secret_len = cfg.jwt_secret ? strlen(cfg.jwt_secret) : 0;
    sc.jwt_verify_secret = (const unsigned char *)cfg.jwt_verify_secret;
    sc.jwt_verify_secret_len = cfg.jwt_verify_secret ? strlen(cfg.jwt_verify_secret) : 0;
    sc.internal_secret = (const unsigned char *)(cfg.internal_secret ? cfg.internal_secret : "");
    sc.internal_secret_len = cfg.internal_secret ? strlen(cfg.internal_secret) : 0;
    sc.worker_init = kn_svc_worker_init;
    sc.worker_destroy = kn_svc_worker_destroy;
    sc.ready_check = kn_svc_ready;
    sc.ready_interval_ms = 1000;
    sc.call_done = kn_svc_call_done;
    if (strcmp(kn_config_str("KN_TEST_HOOKS", "0"), "1") == 0) {
        long slow_ms = 0;
        sc.test_slow_method = kn_config_str("KN_TEST_HOOK_SLOW_METHOD", NULL);
        if (kn_config_int("KN_TEST_HOOK_SLOW_MS", 0, 0, 600000, &slow_ms, &st) != KN_OK) {
            kn_log_error("bad configuration: %s", st.message);
            goto done;
        }
        sc.test_slow_ms = (int)slow_ms;
    }
    sc.ud = &x;
    server = kn_server_new(&sc);
    if (kn_server_add_service(server, def->service, def->bindings, def->nbindings, &st) != KN_OK) {
        kn_log_error("cannot serve %s: %s", def->service->name, st.message);
        goto done;
    }
    if (kn_server_start(server) < 0) {
        kn_log_error("cannot bind %s: address in use or invalid", cfg.listen);
        goto done;
    }

    if (def->tick != NULL) {
        if (pthread_create(&x.tick_tid, NULL, kn_svc_tick_main, &x) != 0) {
            kn_log_error("cannot start the tick thread");
            goto done;
        }
        x.tick_started = 1;
    }

    kn_server_wait(server);
    exit_code = 0;

done:
    if (x.tick_started) {
        pthread_mutex_lock(&x.tick_mu);
        x.tick_stop = 1;
        pthread_cond_broadcast(&x.tick_cv);
        pthread_mutex_unlock(&x.tick_mu);
        pthread_join(x.tick_tid, NULL);
    }
    /* Stops the workers (if still running) before teardown closes what
     * their handlers use. */
    kn_server_free(server);
    /* After the drain: a last scrape still sees the in-flight calls end. */
    kn_admin_stop(admin);
    if (setup_done && def->teardown != NULL)
        def->teardown();
    kn_pg_free(x.ready_pg);
    pthread_mutex_destroy(&x.tick_mu);
    pthread_cond_destroy(&x.tick_cv);
    kn_runtime_shutdown();
    if (exit_code == 0)
        kn_log_info("%s stopped", def->name);
    return exit_code;
}
