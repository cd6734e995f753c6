/* The per-order / per-package lock: Redis SET NX PX with a random owner,
 * released by a Lua compare-and-delete; when Redis does not answer, a
 * PostgreSQL session advisory lock on the worker's connection. Neither is
 * trusted alone: the pending-entry unique index of the ledger and the
 * fencing tokens checked by order-svc and location-svc keep a holder whose
 * lock expired (or a Redis and a PostgreSQL holder during a failover) from
 * doing harm. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "assign.h"
#include "kn_log.h"

/* Deletes the key only if it still holds our owner value: a lock that
 * expired and was taken by another replica is not released by us. */
static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

/* hashtextextended gives a 64-bit key from the same text as the Redis key. */
static const kn_pg_stmt stmt_pg_trylock = {
    "assign_pg_trylock", "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1};
static const kn_pg_stmt stmt_pg_unlock = {"assign_pg_unlock",
                                          "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1};

static void new_owner(char *out, size_t outlen)
{
    unsigned char rnd[12];
    randombytes_buf(rnd, sizeof(rnd));
    char hex[2 * sizeof(rnd) + 1];
    sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
    snprintf(out, outlen, "%s", hex);
}

kn_code assign_lock_try(kn_worker *w, const char *tenant, const char *kind, const char *id,
                        assign_lock *lk, int *got, kn_status *st)
{
    *got = 0;
    lk->kind = ASSIGN_LOCK_NONE;
    snprintf(lk->key, sizeof(lk->key), "kn:assign:%s:lock:%s:%s", tenant, kind, id);
    new_owner(lk->owner, sizeof(lk->owner));

    if (w->redis) {
        redisReply *r = kn_redis_command(w->redis, "SET %s %s NX PX %ld", lk->key, lk->owner,
                                         assign_cfg.lock_ttl_ms);
        if (r) {
            int ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
            freeReplyObject(r);
            if (ok) {
                lk->kind = ASSIGN_LOCK_REDIS;
                *got = 1;
            }
            return KN_OK;
        }
        /* NULL: Redis is down (or disabled); fall through to PostgreSQL. */
    }

    const char *p[] = {lk->key};
    PGresult *res = kn_pg_exec(w->pg, &stmt_pg_trylock, p, st);
    if (!res)
        return kn_status_set(st, KN_UNAVAILABLE, "lock service unavailable");
    int ok = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (ok) {
        lk->kind = ASSIGN_LOCK_PG;
        *got = 1;
    }
    return KN_OK;
}

void assign_lock_release(kn_worker *w, assign_lock *lk)
{
    if (lk->kind == ASSIGN_LOCK_REDIS) {
        redisReply *r =
            kn_redis_command(w->redis, "EVAL %s 1 %s %s", release_lua, lk->key, lk->owner);
        /* Redis gone: the key expires by its TTL. */
        if (r)
            freeReplyObject(r);
    } else if (lk->kind == ASSIGN_LOCK_PG) {
        kn_status st;
        kn_status_clear(&st);
        const char *p[] = {lk->key};
        PGresult *res = kn_pg_exec(w->pg, &stmt_pg_unlock, p, &st);
        /* A lost connection took the session lock with it. */
        if (res)
            PQclear(res);
    }
    lk->kind = ASSIGN_LOCK_NONE;
}
