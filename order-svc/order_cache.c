/* order_cache: cache-aside for GetOrder in Redis.
 *
 * Key kn:order:<tenant>:order:<id>, value the packed Order (which carries
 * its etag = version), TTL KN_CACHE_TTL_S. Every write path deletes the key
 * after its commit. Redis is never the source of truth: with Redis down,
 * reads go to PostgreSQL.
 *
 * The hole in delete-on-write is a delete that cannot reach Redis (Redis
 * down) followed by Redis coming back with the old value (it persisted
 * it). So a failed delete is remembered here; while anything is
 * remembered this process neither reads nor fills the cache, and every
 * request and every tick (1 s) retries the deletes first. When more keys
 * are remembered than fit, every kn:order:* key is flushed (SCAN + DEL).
 * Other replicas do not know this process's list: for them the stale
 * window is bounded by this process's next tick (or, if it died, by the
 * TTL). See docs/order-svc.md. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_log.h"
#include "order_svc.h"

#define PENDING_MAX 4096
#define KEY_MAX     128

static pthread_mutex_t pending_mu = PTHREAD_MUTEX_INITIALIZER;
static char pending[PENDING_MAX][KEY_MAX];
static size_t npending;
static int pending_overflow;
static atomic_int pending_flag;

static void cache_key(char *out, size_t n, const char *tenant, const char *id)
{
    snprintf(out, n, "kn:order:%s:order:%s", tenant, id);
    /* Ids arrive in either case; one key per order. */
    for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
}

static int redis_enabled(kn_worker *w)
{
    return w && w->redis && w->cfg && w->cfg->redis_url && *w->cfg->redis_url;
}

static int flush_all_order_keys(kn_redis *r)
{
    char cursor[32] = "0";
    do {
        redisReply *rep =
            kn_redis_command(r, "SCAN %s MATCH kn:order:*:order:* COUNT 1000", cursor);
        if (!rep)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            if (kn_cache_del(r, keys->element[i]->str) != 0) {
                freeReplyObject(rep);
                return -1;
            }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int order_cache_flush_pending(kn_worker *w)
{
    if (!atomic_load(&pending_flag))
        return 0;
    if (!redis_enabled(w))
        return -1;
    /* One flusher at a time; the others just skip the cache meanwhile. */
    if (pthread_mutex_trylock(&pending_mu) != 0)
        return -1;
    int rc = 0;
    if (pending_overflow) {
        if (flush_all_order_keys(w->redis) != 0)
            rc = -1;
        else
            pending_overflow = 0, npending = 0;
    }
    while (rc == 0 && npending > 0) {
        if (kn_cache_del(w->redis, pending[npending - 1]) != 0)
            rc = -1;
        else
            npending--;
    }
    if (rc == 0) {
        atomic_store(&pending_flag, 0);
        kn_log_info("order cache: deletes missed while Redis was down are applied");
    }
    pthread_mutex_unlock(&pending_mu);
    return rc;
}

void order_cache_invalidate(kn_worker *w, const char *tenant, const char *id)
{
    if (!redis_enabled(w))
        return;
    char key[KEY_MAX];
    cache_key(key, sizeof(key), tenant, id);
    if (kn_cache_del(w->redis, key) == 0)
        return;
    pthread_mutex_lock(&pending_mu);
    if (npending < PENDING_MAX)
        memcpy(pending[npending++], key, sizeof(key));
    else
        pending_overflow = 1;
    atomic_store(&pending_flag, 1);
    pthread_mutex_unlock(&pending_mu);
}

Konnect__Order__V1__Order *order_cache_get(kn_worker *w, kn_arena *a, const char *tenant,
                                           const char *id)
{
    if (!redis_enabled(w) || order_cache_flush_pending(w) != 0)
        return NULL;
    char key[KEY_MAX];
    cache_key(key, sizeof(key), tenant, id);
    char *val = NULL;
    size_t len = 0;
    if (kn_cache_get(w->redis, key, a, &val, &len) != 1)
        return NULL;
    Konnect__Order__V1__Order *o =
        konnect__order__v1__order__unpack(kn_arena_allocator(a), len, (const uint8_t *)val);
    if (!o || strcmp(o->tenant_id, tenant) != 0) {
        kn_cache_del(w->redis, key);
        return NULL;
    }
    return o;
}

void order_cache_put(kn_worker *w, kn_arena *a, const char *tenant,
                     const Konnect__Order__V1__Order *o)
{
    if (!redis_enabled(w) || atomic_load(&pending_flag))
        return;
    char key[KEY_MAX];
    cache_key(key, sizeof(key), tenant, o->id);
    size_t len = konnect__order__v1__order__get_packed_size(o);
    uint8_t *buf = kn_arena_alloc(a, len + 1);
    konnect__order__v1__order__pack(o, buf);
    int ttl = w->cfg->cache_ttl_s > 0 ? (int)w->cfg->cache_ttl_s : 60;
    kn_cache_set(w->redis, key, buf, len, ttl);
}
