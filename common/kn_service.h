/* kn_service: the main() every Konnect service shares. It loads the
 * configuration (kn_config), runs the service's migrations, opens one
 * PostgreSQL connection and one Redis connection per worker, serves the
 * service's gRPC methods and grpc.health.v1.Health, runs an optional
 * background tick (repair loops) on its own thread with its own
 * connections, and shuts down gracefully on SIGTERM/SIGINT.
 *
 *   int main(int argc, char **argv) { return kn_service_main(argc, argv, &order_service); }
 *
 * `--version` prints "<name> <version>" and exits 0 without touching the
 * network (used by the container image test). */
#ifndef KN_SERVICE_H
#define KN_SERVICE_H

#include "kn_config.h"
#include "kn_pg.h"
#include "kn_redis.h"
#include "kn_server.h"

/* What a handler finds behind kn_call_worker(call). */
typedef struct {
    int index;
    kn_pg *pg;
    kn_redis *redis;
    const kn_service_config *cfg;
} kn_worker;

typedef struct {
    const char *name;                   /* "order-svc" */
    const char *default_listen;         /* "127.0.0.1:7101" */
    const char *default_migrations_dir; /* compiled-in source path */
    const ProtobufCServiceDescriptor *service;
    const kn_method_binding *bindings;
    size_t nbindings;
    /* Called once after the configuration is loaded and migrations ran,
     * before serving (e.g. to open channels to other services). */
    kn_code (*setup)(const kn_service_config *cfg, kn_status *st);
    void (*teardown)(void);
    /* Called every tick_interval_ms on a background thread with its own
     * worker (connections); NULL for none. */
    void (*tick)(kn_worker *w);
    int tick_interval_ms;
    /* SCAN pattern of the service's cache keys ("kn:order:*"), dropped when
     * Redis restarts (kn_redis_set_cache_pattern); NULL: no cache. */
    const char *cache_key_pattern;
} kn_service_def;

int kn_service_main(int argc, char **argv, const kn_service_def *def);

#endif
