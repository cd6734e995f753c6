/* kn_redis: one hiredis context per worker thread, connected lazily. Any
 * failure (connect, timeout, dropped socket) frees the context and marks
 * Redis down; the next attempt waits KN_REDIS_RETRY_MS, so while Redis is
 * down a request pays one clock read instead of a connect timeout. */
#include "kn_redis.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kn_log.h"
#include "kn_metrics.h"

#define KN_REDIS_RETRY_MS 1000

struct kn_redis {
    int enabled;
    char host[256];
    int port;
    int db;
    char password[256];
    int timeout_ms;
    redisContext *c;
    int up;                  /* the last command reached Redis */
    int warned_down;         /* log a lost Redis once, not per request */
    int64_t retry_at;        /* monotonic ms before which no reconnect is tried */
    char cache_pattern[128]; /* SCAN pattern of this process's cache keys */
    char run_id[48];         /* the Redis server instance last connected to */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* redis://[[user]:password@]host[:port][/db] */
int kn_redis_parse_url(const char *url, char *host, size_t hostlen, int *port, int *db,
                       char *password, size_t pwlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return -1;
    p += 8;
    if (password && pwlen)
        password[0] = '\0';
    const char *at = strchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (password && pwlen) {
            if (n >= pwlen)
                return -1;
            memcpy(password, pw, n);
            password[n] = '\0';
        }
        p = at + 1;
    }
    const char *hend = p;
    while (*hend && *hend != ':' && *hend != '/')
        hend++;
    size_t hl = (size_t)(hend - p);
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    *port = 6379;
    *db = 0;
    p = hend;
    if (*p == ':') {
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535)
            return -1;
        *port = (int)v;
        p = end;
    }
    if (*p == '/') {
        if (p[1] == '\0')
            return 0;
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 0 || v > 1000 || *end != '\0')
            return -1;
        *db = (int)v;
        p = end;
    }
    return *p == '\0' ? 0 : -1;
}

kn_redis *kn_redis_new(const char *url, int timeout_ms)
{
    kn_redis *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 200;
    if (!url || !*url) {
        kn_log_debug("redis disabled (KN_REDIS_URL is empty)");
        return r;
    }
    if (kn_redis_parse_url(url, r->host, sizeof(r->host), &r->port, &r->db, r->password,
                           sizeof(r->password)) != 0) {
        kn_log_error("KN_REDIS_URL is not redis://host[:port][/db]");
        free(r);
        return NULL;
    }
    r->enabled = 1;
    return r;
}

void kn_redis_free(kn_redis *r)
{
    if (!r)
        return;
    if (r->c)
        redisFree(r->c);
    memset(r->password, 0, sizeof(r->password));
    free(r);
}

static void mark_down(kn_redis *r, const char *why)
{
    if (!r->warned_down)
        kn_log_warn("redis %s:%d unavailable: %s; retrying at most every %d ms", r->host, r->port,
                    why, KN_REDIS_RETRY_MS);
    r->warned_down = 1;
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
    r->up = 0;
    r->retry_at = now_ms() + KN_REDIS_RETRY_MS;
}

/* A command during connection setup; 0 when it answered a non-error. */
static int setup_cmd(kn_redis *r, redisReply *rep)
{
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (rep)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Deletes every key matching the cache pattern; 0 when done. */
static int flush_cache(kn_redis *r)
{
    char cursor[32] = "0";
    do {
        redisReply *rep =
            redisCommand(r->c, "SCAN %s MATCH %s COUNT 1000", cursor, r->cache_pattern);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING) {
            if (rep)
                freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *d = redisCommand(r->c, "UNLINK %b", keys->element[i]->str,
                                         (size_t)keys->element[i]->len);
            if (!d) {
                freeReplyObject(rep);
                return -1;
            }
            freeReplyObject(d);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* A Redis that restarted may have come back from a snapshot holding values
 * that writes made while it was down could not invalidate: on meeting a new
 * server instance (INFO's run_id) the cache keys are dropped before any is
 * read through this connection. 0 when the connection may be used. */
static int check_instance(kn_redis *r)
{
    redisReply *rep = redisCommand(r->c, "INFO server");
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        if (rep)
            freeReplyObject(rep);
        return -1;
    }
    char run_id[sizeof r->run_id] = "";
    const char *p = strstr(rep->str, "run_id:");
    if (p != NULL) {
        p += strlen("run_id:");
        size_t n = strcspn(p, "\r\n");
        if (n >= sizeof run_id)
            n = sizeof run_id - 1;
        memcpy(run_id, p, n);
        run_id[n] = '\0';
    }
    freeReplyObject(rep);
    if (r->cache_pattern[0] && r->run_id[0] && strcmp(run_id, r->run_id) != 0) {
        if (flush_cache(r) != 0)
            return -1;
        kn_log_info("redis restarted: cache keys %s dropped", r->cache_pattern);
    }
    memcpy(r->run_id, run_id, sizeof r->run_id);
    return 0;
}

void kn_redis_set_cache_pattern(kn_redis *r, const char *pattern)
{
    if (r != NULL)
        snprintf(r->cache_pattern, sizeof r->cache_pattern, "%s", pattern ? pattern : "");
}

static int ensure(kn_redis *r)
{
    if (!r || !r->enabled)
        return 0;
    if (r->c)
        return 1;
    if (now_ms() < r->retry_at)
        return 0;
    struct timeval tv = {r->timeout_ms / 1000, (suseconds_t)(r->timeout_ms % 1000) * 1000};
    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->c || r->c->err) {
        mark_down(r, r->c ? r->c->errstr : "out of memory");
        return 0;
    }
    if (redisSetTimeout(r->c, tv) != REDIS_OK) {
        mark_down(r, "cannot set timeout");
        return 0;
    }
    if (r->password[0] && setup_cmd(r, redisCommand(r->c, "AUTH %s", r->password)) != 0) {
        mark_down(r, "AUTH failed");
        return 0;
    }
    if (r->db && setup_cmd(r, redisCommand(r->c, "SELECT %d", r->db)) != 0) {
        mark_down(r, "SELECT failed");
        return 0;
    }
    if (check_instance(r) != 0) {
        mark_down(r, "cannot check the server instance");
        return 0;
    }
    if (r->warned_down)
        kn_log_info("redis %s:%d reachable again", r->host, r->port);
    r->warned_down = 0;
    return 1;
}

static redisReply *finish(kn_redis *r, redisReply *rep)
{
    if (!rep) {
        mark_down(r, r->c && r->c->errstr[0] ? r->c->errstr : "no reply");
        return NULL;
    }
    r->up = 1;
    if (rep->type == REDIS_REPLY_ERROR) {
        kn_log_debug("redis error reply: %.*s", (int)rep->len, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisReply *kn_redis_command(kn_redis *r, const char *fmt, ...)
{
    if (!ensure(r))
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    return finish(r, rep);
}

redisReply *kn_redis_commandargv(kn_redis *r, int argc, const char **argv, const size_t *argvlen)
{
    if (!ensure(r))
        return NULL;
    return finish(r, redisCommandArgv(r->c, argc, argv, argvlen));
}

int kn_redis_up(const kn_redis *r)
{
    return r && r->enabled && r->up;
}

int kn_cache_get(kn_redis *r, const char *key, kn_arena *a, char **val, size_t *len)
{
    redisReply *rep = kn_redis_command(r, "GET %b", key, strlen(key));
    if (!rep) {
        /* A disabled Redis is not an error worth a metric. */
        if (r != NULL && r->enabled)
            kn_metrics_cache(KN_METRICS_CACHE_ERROR);
        return -1;
    }
    int ret = 0;
    if (rep->type == REDIS_REPLY_STRING) {
        char *buf = kn_arena_alloc(a, rep->len + 1);
        memcpy(buf, rep->str, rep->len);
        buf[rep->len] = '\0';
        *val = buf;
        if (len)
            *len = rep->len;
        ret = 1;
    }
    freeReplyObject(rep);
    kn_metrics_cache(ret == 1 ? KN_METRICS_CACHE_HIT : KN_METRICS_CACHE_MISS);
    return ret;
}

int kn_cache_set(kn_redis *r, const char *key, const void *val, size_t len, int ttl_s)
{
    if (ttl_s <= 0)
        ttl_s = 1; /* a cache entry without expiry would outlive every invalidation bug */
    redisReply *rep = kn_redis_command(r, "SET %b %b EX %d", key, strlen(key), val, len, ttl_s);
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

int kn_cache_del(kn_redis *r, const char *key)
{
    redisReply *rep = kn_redis_command(r, "DEL %b", key, strlen(key));
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

/* One DEL per call, not per key: invalidating a handful of doors after one
 * change was a Redis round trip per door. Chunks bound the argv on the
 * stack. */
int kn_cache_del_n(kn_redis *r, const char *const *keys, size_t n)
{
    enum { CHUNK = 32 };
    const char *argv[CHUNK + 1];
    size_t argvlen[CHUNK + 1];
    for (size_t i = 0; i < n;) {
        int argc = 1;
        argv[0] = "DEL";
        argvlen[0] = 3;
        for (; i < n && argc <= CHUNK; i++, argc++) {
            argv[argc] = keys[i];
            argvlen[argc] = strlen(keys[i]);
        }
        redisReply *rep = kn_redis_commandargv(r, argc, argv, argvlen);
        if (!rep)
            return -1;
        freeReplyObject(rep);
    }
    return 0;
}
