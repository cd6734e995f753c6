/* kn_config: settings from environment variables only (12-factor), each with
 * a default that works for the local cluster. docs/configuration.md lists
 * every variable. A value that does not parse stops the process at start
 * with a message naming the variable, rather than running misconfigured. */
#ifndef KN_CONFIG_H
#define KN_CONFIG_H

#include <stddef.h>
#include "kn_status.h"

/* The variable's value, or def when unset or empty. */
const char *kn_config_str(const char *name, const char *def);

/* Parses a decimal integer in [min, max]; def when unset or empty.
 * KN_INVALID_ARGUMENT (naming the variable) when it does not parse or is
 * out of range. */
kn_code kn_config_int(const char *name, long def, long min, long max, long *out, kn_status *st);

/* true/false, 1/0, yes/no, on/off. */
kn_code kn_config_bool(const char *name, int def, int *out, kn_status *st);

/* Settings every service reads. */
typedef struct {
    const char *service;           /* "order-svc" */
    const char *listen;            /* KN_<SVC>_LISTEN, e.g. "127.0.0.1:7101" */
    const char *admin_listen;      /* KN_<SVC>_ADMIN_LISTEN (metrics), "" = off */
    const char *database_url;      /* KN_<SVC>_DATABASE_URL (libpq conninfo) */
    const char *migrations_dir;    /* KN_<SVC>_MIGRATIONS_DIR */
    const char *redis_url;         /* KN_REDIS_URL "redis://127.0.0.1:6379" */
    const char *jwt_secret;        /* KN_JWT_SECRET */
    const char *jwt_verify_secret; /* KN_JWT_VERIFY_SECRET: also accepted, never signs */
    const char *internal_secret;   /* KN_INTERNAL_SECRET */
    long workers;                  /* KN_WORKERS */
    long max_message_bytes;        /* KN_MAX_MESSAGE_BYTES */
    long grace_ms;                 /* KN_SHUTDOWN_GRACE_MS */
    long redis_timeout_ms;         /* KN_REDIS_TIMEOUT_MS */
    long cache_ttl_s;              /* KN_CACHE_TTL_S */
} kn_service_config;

/* Fills cfg for the service named e.g. "order-svc" (env prefix KN_ORDER_SVC_)
 * with the given defaults for listen address and migrations dir. */
kn_code kn_service_config_load(kn_service_config *cfg, const char *service,
                               const char *default_listen, const char *default_migrations_dir,
                               kn_status *st);

#endif
