/* kn_redis: hiredis with timeouts and reconnect. One kn_redis per thread.
 * Redis is never the source of truth: every failure is reported to the
 * caller (NULL reply) who then falls back to PostgreSQL; after a failure,
 * reconnects are throttled so that a down Redis costs a request nothing but
 * a flag check. */
#ifndef KN_REDIS_H
#define KN_REDIS_H

#include <stddef.h>
#include <hiredis.h>
#include "kn_arena.h"

typedef struct kn_redis kn_redis;

/* url: "redis://host:port" (or "" to disable Redis entirely). */
kn_redis *kn_redis_new(const char *url, int timeout_ms);
void kn_redis_free(kn_redis *r);

/* Parses redis://[[user]:password@]host[:port][/db] (port 6379, db 0 by
 * default); 0 or -1. password may be NULL. Used to check KN_REDIS_URL at
 * start. kn_redis_new returns NULL for a URL this refuses, and every
 * function here treats a NULL kn_redis as "Redis disabled". */
int kn_redis_parse_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                       char *password, size_t pwlen);

/* redisCommand with reconnect; NULL when Redis is unavailable or replied
 * with an error. Caller freeReplyObject()s. */
redisReply *kn_redis_command(kn_redis *r, const char *fmt, ...);
redisReply *kn_redis_commandargv(kn_redis *r, int argc, const char **argv, const size_t *argvlen);

/* Marks which keys are this process's cache (a SCAN pattern such as
 * "kn:order:*"): when a reconnect meets a restarted Redis (a new run_id),
 * they are deleted before anything is read, since a Redis restored from a
 * snapshot may hold values that writes during its outage could not
 * invalidate. Locks and other keys are left alone. */
void kn_redis_set_cache_pattern(kn_redis *r, const char *pattern);

/* 1 if the last command reached Redis. */
int kn_redis_up(const kn_redis *r);

/* Cache helpers. get: 1 hit (*val in arena), 0 miss, -1 Redis down. */
int kn_cache_get(kn_redis *r, const char *key, kn_arena *a, char **val, size_t *len);
/* set with a TTL in seconds; 0 ok, -1 Redis down. */
int kn_cache_set(kn_redis *r, const char *key, const void *val, size_t len, int ttl_s);
int kn_cache_del(kn_redis *r, const char *key);
/* Deletes n keys in one round trip; 0 ok (or n == 0), -1 Redis down. */
int kn_cache_del_n(kn_redis *r, const char *const *keys, size_t n);

#endif
