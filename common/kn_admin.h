/* kn_admin: the admin HTTP listener of a service (KN_<SVC>_ADMIN_LISTEN,
 * 0.0.0.0:9090 in Kubernetes), on libmicrohttpd with its own thread:
 *
 *   GET /metrics  the kn_metrics text (Content-Type: text/plain; version=0.0.4)
 *   GET /healthz  200 "ok" while the process runs (liveness of the HTTP side)
 *
 * Anything else answers 404, another method 405. It serves no user data and
 * takes no token: keep the port inside the cluster (the NetworkPolicy
 * allow-metrics-scrape lets only the monitoring namespace in). */
#ifndef KN_ADMIN_H
#define KN_ADMIN_H

#include "kn_status.h"

typedef struct kn_admin kn_admin;

/* listen: "host:port" ("0.0.0.0:9090", "127.0.0.1:0" for a free port,
 * "[::]:9090"). NULL and KN_UNAVAILABLE/KN_INVALID_ARGUMENT in st when the
 * address does not parse or cannot be bound. */
kn_admin *kn_admin_start(const char *listen, kn_status *st);

/* The bound port (useful with port 0). */
int kn_admin_port(const kn_admin *a);

/* Stops the listener thread and frees a; NULL is a no-op. */
void kn_admin_stop(kn_admin *a);

#endif
