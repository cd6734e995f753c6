/* kn_config: environment variables with defaults that run the local cluster.
 * Values that do not parse stop the service at start (the caller exits with
 * the message), so a typo never turns into a silently different setting. */
#include "kn_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kn_log.h"

#define KN_DEV_JWT_SECRET      "konnect-dev-secret-change-me"
#define KN_DEV_INTERNAL_SECRET "konnect-dev-internal-secret-change-me"
#define KN_DEFAULT_REDIS_URL   "redis://127.0.0.1:6379"

/* Strings built here (the default database URL) live as long as the process:
 * the config struct only holds pointers. Keeping them on a static list makes
 * them reachable, so the leak checker stays quiet, and repeated loads of the
 * same service (tests) reuse the same storage. */
typedef struct kept_str {
    struct kept_str *next;
    char s[];
} kept_str;

static kept_str *kept_head;
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *config_keep(const char *s)
{
    const char *found = NULL;
    pthread_mutex_lock(&kept_mu);
    for (kept_str *k = kept_head; k; k = k->next) {
        if (strcmp(k->s, s) == 0) {
            found = k->s;
            break;
        }
    }
    if (!found) {
        size_t len = strlen(s);
        kept_str *k = malloc(sizeof(*k) + len + 1);
        if (!k)
            abort();
        memcpy(k->s, s, len + 1);
        k->next = kept_head;
        kept_head = k;
        found = k->s;
    }
    pthread_mutex_unlock(&kept_mu);
    return found;
}

const char *kn_config_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    return v;
}

kn_code kn_config_int(const char *name, long def, long min, long max, long *out, kn_status *st)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def;
        return KN_OK;
    }
    const char *p = v;
    while (isspace((unsigned char)*p))
        p++;
    errno = 0;
    char *end = NULL;
    long n = strtol(p, &end, 10);
    if (end == p || errno == ERANGE)
        goto bad;
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        goto bad;
    if (n < min || n > max)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be between %ld and %ld, got %ld",
                             name, min, max, n);
    *out = n;
    return KN_OK;
bad:
    return kn_status_set(st, KN_INVALID_ARGUMENT, "%s must be an integer, got \"%.40s\"", name, v);
}

kn_code kn_config_bool(const char *name, int def, int *out, kn_status *st)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    const char *v = getenv(name);
    if (!v || !*v) {
        *out = def ? 1 : 0;
        return KN_OK;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return KN_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return KN_OK;
        }
    }
    return kn_status_set(st, KN_INVALID_ARGUMENT,
                         "%s must be one of true/false, 1/0, yes/no, on/off, got \"%.40s\"", name,
                         v);
}

/* "order-svc" -> "KN_ORDER_SVC_" + suffix. */
static void env_name(char *buf, size_t len, const char *service, const char *suffix)
{
    size_t o = 0;
    const char *pre = "KN_";
    for (const char *p = pre; *p && o + 1 < len; p++)
        buf[o++] = *p;
    for (const char *p = service; *p && o + 1 < len; p++)
        buf[o++] = isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
    if (o + 1 < len)
        buf[o++] = '_';
    for (const char *p = suffix; *p && o + 1 < len; p++)
        buf[o++] = *p;
    buf[o] = '\0';
}

/* A secret left at its development default is worth a warning at every start;
 * the value itself is never logged. */
static const char *config_secret(const char *name, const char *dev_default, int *warned)
{
    const char *v = kn_config_str(name, NULL);
    if (!v) {
        if (*warned)
            return dev_default;
        *warned = 1;
        kn_log_warn("%s is not set: using the development default, which is public; set it "
                    "outside local development",
                    name);
        return dev_default;
    }
    return v;
}

kn_code kn_service_config_load(kn_service_config *cfg, const char *service,
                               const char *default_listen, const char *default_migrations_dir,
                               kn_status *st)
{
    char name[128];
    kn_code rc;
    memset(cfg, 0, sizeof(*cfg));
    cfg->service = service;

    env_name(name, sizeof(name), service, "LISTEN");
    cfg->listen = config_keep(kn_config_str(name, default_listen ? default_listen : ""));

    env_name(name, sizeof(name), service, "ADMIN_LISTEN");
    cfg->admin_listen = config_keep(kn_config_str(name, ""));

    /* The database is named after the service without its "-svc" suffix. */
    char def_db[256];
    size_t slen = strlen(service);
    if (slen > 4 && strcmp(service + slen - 4, "-svc") == 0)
        slen -= 4;
    char base[96];
    if (slen >= sizeof(base))
        slen = sizeof(base) - 1;
    for (size_t i = 0; i < slen; i++)
        base[i] = service[i] == '-' ? '_' : service[i];
    base[slen] = '\0';
    snprintf(def_db, sizeof(def_db), "postgresql://postgres@127.0.0.1:5432/konnect_%s", base);
    env_name(name, sizeof(name), service, "DATABASE_URL");
    cfg->database_url = config_keep(kn_config_str(name, def_db));

    env_name(name, sizeof(name), service, "MIGRATIONS_DIR");
    cfg->migrations_dir =
        config_keep(kn_config_str(name, default_migrations_dir ? default_migrations_dir : ""));

    /* Unset means the local default; set but empty means "no Redis". */
    const char *redis = getenv("KN_REDIS_URL");
    cfg->redis_url = config_keep(redis ? redis : KN_DEFAULT_REDIS_URL);

    /* Once per process: a service loads its config once, tests many times. */
    static int warned_jwt, warned_internal;
    cfg->jwt_secret = config_secret("KN_JWT_SECRET", KN_DEV_JWT_SECRET, &warned_jwt);
    cfg->internal_secret =
        config_secret("KN_INTERNAL_SECRET", KN_DEV_INTERNAL_SECRET, &warned_internal);
    /* Accepted besides KN_JWT_SECRET during a rotation (docs/operations.md). */
    cfg->jwt_verify_secret = config_keep(kn_config_str("KN_JWT_VERIFY_SECRET", ""));

    long shared_workers = 0;
    rc = kn_config_int("KN_WORKERS", 8, 1, 256, &shared_workers, st);
    if (rc != KN_OK)
        return rc;
    env_name(name, sizeof(name), service, "WORKERS");
    rc = kn_config_int(name, shared_workers, 1, 256, &cfg->workers, st);
    if (rc != KN_OK)
        return rc;

    rc = kn_config_int("KN_MAX_MESSAGE_BYTES", 4L * 1024 * 1024, 1024, 256L * 1024 * 1024,
                       &cfg->max_message_bytes, st);
    if (rc != KN_OK)
        return rc;
    rc = kn_config_int("KN_SHUTDOWN_GRACE_MS", 5000, 0, 600000, &cfg->grace_ms, st);
    if (rc != KN_OK)
        return rc;
    rc = kn_config_int("KN_REDIS_TIMEOUT_MS", 200, 1, 60000, &cfg->redis_timeout_ms, st);
    if (rc != KN_OK)
        return rc;
    rc = kn_config_int("KN_CACHE_TTL_S", 60, 1, 86400, &cfg->cache_ttl_s, st);
    if (rc != KN_OK)
        return rc;
    return KN_OK;
}
