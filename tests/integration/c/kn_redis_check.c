/* kn_redis_check: drives one kn_redis through the steps of
 * tests/integration/redis_client.test.mjs. The node test owns the
 * redis-server (stops and starts it between steps) and sends one step name
 * per line on stdin; each step answers one line on stdout, "ok <step> ..."
 * or "FAIL <step>: <why>". The same kn_redis lives through every step, so
 * "up" proves it recovers without being recreated.
 *
 *   kn_redis_check redis://127.0.0.1:PORT
 *   steps: basic | ttl | down | up | quit
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kn_arena.h"
#include "kn_log.h"
#include "kn_redis.h"
#include "kn_server.h"

#define TIMEOUT_MS 200

static char fail_msg[512];

static int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char key_prefix[64];

static const char *key(const char *name)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s:%s", key_prefix, name);
    return buf;
}

static int step_basic(kn_redis *r, kn_arena *a)
{
    char *val = NULL;
    size_t len = 0;
    if (kn_cache_del(r, key("s")) != 0)
        return failf("del on a missing key failed");
    int rc = kn_cache_get(r, key("s"), a, &val, &len);
    if (rc != 0)
        return failf("get of a missing key returned %d, want 0 (miss)", rc);
    if (!kn_redis_up(r))
        return failf("kn_redis_up is 0 after a successful command");
    if (kn_cache_set(r, key("s"), "hello", 5, 60) != 0)
        return failf("set failed");
    rc = kn_cache_get(r, key("s"), a, &val, &len);
    if (rc != 1 || len != 5 || memcmp(val, "hello", 5) != 0 || val[5] != '\0')
        return failf("get after set: rc %d len %zu", rc, len);

    /* Binary: every byte value, NULs included, and a large value. */
    size_t blen = 256 * 64 + 3;
    unsigned char *bin = malloc(blen);
    for (size_t i = 0; i < blen; i++)
        bin[i] = (unsigned char)(i * 7 + i / 256);
    bin[0] = 0;
    bin[blen - 1] = 0;
    if (kn_cache_set(r, key("bin"), bin, blen, 60) != 0) {
        free(bin);
        return failf("set of a binary value failed");
    }
    rc = kn_cache_get(r, key("bin"), a, &val, &len);
    int same = rc == 1 && len == blen && memcmp(val, bin, blen) == 0;
    free(bin);
    if (!same)
        return failf("binary value changed on the way: rc %d len %zu want %zu", rc, len, blen);

    /* The empty value is a hit, not a miss. */
    if (kn_cache_set(r, key("empty"), "", 0, 60) != 0)
        return failf("set of an empty value failed");
    rc = kn_cache_get(r, key("empty"), a, &val, &len);
    if (rc != 1 || len != 0)
        return failf("empty value: rc %d len %zu", rc, len);

    /* A key with spaces and binary-safe formatting (%b, not %s). */
    if (kn_cache_set(r, key("with space\nnewline"), "v", 1, 60) != 0)
        return failf("set with an odd key failed");
    rc = kn_cache_get(r, key("with space\nnewline"), a, &val, &len);
    if (rc != 1 || len != 1 || val[0] != 'v')
        return failf("odd key: rc %d", rc);

    if (kn_cache_del(r, key("s")) != 0)
        return failf("del failed");
    rc = kn_cache_get(r, key("s"), a, &val, &len);
    if (rc != 0)
        return failf("get after del returned %d, want 0", rc);

    /* kn_redis_command: a reply, and an error reply reported as NULL. */
    redisReply *rep = kn_redis_command(r, "INCRBY %s %d", key("n"), 5);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER || rep->integer != 5)
        return failf("INCRBY reply wrong");
    freeReplyObject(rep);
    rep = kn_redis_command(r, "LPUSH %s x", key("n")); /* WRONGTYPE */
    if (rep != NULL) {
        freeReplyObject(rep);
        return failf("an error reply was not reported as NULL");
    }
    if (!kn_redis_up(r))
        return failf("an error reply marked Redis down");
    rep = kn_redis_command(r, "DEL %s", key("n"));
    if (rep == NULL)
        return failf("command after an error reply failed");
    freeReplyObject(rep);
    return 0;
}

static int step_ttl(kn_redis *r, kn_arena *a)
{
    if (kn_cache_set(r, key("ttl"), "x", 1, 1) != 0)
        return failf("set with ttl 1 failed");
    redisReply *rep = kn_redis_command(r, "PTTL %s", key("ttl"));
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER || rep->integer <= 0 ||
        rep->integer > 1000) {
        long long v = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -99;
        if (rep)
            freeReplyObject(rep);
        return failf("PTTL after set with ttl 1 s is %lld", v);
    }
    freeReplyObject(rep);
    /* A ttl of 0 must not mean "forever". */
    if (kn_cache_set(r, key("ttl0"), "x", 1, 0) != 0)
        return failf("set with ttl 0 failed");
    rep = kn_redis_command(r, "TTL %s", key("ttl0"));
    long long ttl0 = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -99;
    if (rep)
        freeReplyObject(rep);
    if (ttl0 < 0)
        return failf("a ttl of 0 stored a key without expiry (TTL %lld)", ttl0);
    sleep_ms(1300);
    char *val = NULL;
    size_t len = 0;
    int rc = kn_cache_get(r, key("ttl"), a, &val, &len);
    if (rc != 0)
        return failf("key still there (rc %d) 1.3 s after a 1 s ttl", rc);
    return 0;
}

/* Redis is stopped: every call fails, and fast. The first may pay one
 * timeout (the socket may still look open); the ones after it must cost
 * next to nothing (reconnects are throttled). */
static int step_down(kn_redis *r, kn_arena *a, char *info, size_t infolen)
{
    int64_t worst_first = 0, worst_rest = 0;
    for (int i = 0; i < 120; i++) {
        char *val = NULL;
        size_t len = 0;
        int64_t t0 = now_us();
        int rc_get = kn_cache_get(r, key("s"), a, &val, &len);
        int rc_set = kn_cache_set(r, key("s"), "v", 1, 10);
        int rc_del = kn_cache_del(r, key("s"));
        redisReply *rep = kn_redis_command(r, "PING");
        int64_t dt = now_us() - t0;
        if (rep != NULL) {
            freeReplyObject(rep);
            return failf("PING answered while Redis is stopped (call %d)", i);
        }
        if (rc_get != -1 || rc_set != -1 || rc_del != -1)
            return failf("call %d with Redis down: get %d set %d del %d, want -1", i, rc_get,
                         rc_set, rc_del);
        if (kn_redis_up(r))
            return failf("kn_redis_up is 1 with Redis down");
        if (i == 0)
            worst_first = dt;
        else if (dt > worst_rest)
            worst_rest = dt;
        sleep_ms(10);
    }
    snprintf(info, infolen, "first_us=%lld rest_max_us=%lld", (long long)worst_first,
             (long long)worst_rest);
    /* Four calls in the first round, each bounded by one connect or read
     * timeout; with throttled reconnects a reconnect attempt costs at most
     * one connect timeout (refused at once on a closed local port). */
    if (worst_first > 4 * (TIMEOUT_MS + 100) * 1000LL)
        return failf("first calls with Redis down took %lld ms", (long long)worst_first / 1000);
    if (worst_rest > (TIMEOUT_MS + 100) * 1000LL)
        return failf("calls with Redis down took up to %lld ms", (long long)worst_rest / 1000);
    return 0;
}

/* Redis is back: the same kn_redis works again within the retry interval. */
static int step_up(kn_redis *r, kn_arena *a, char *info, size_t infolen)
{
    int64_t t0 = now_us();
    int64_t until = t0 + 5000000;
    while (kn_cache_set(r, key("back"), "again", 5, 60) != 0) {
        if (now_us() > until)
            return failf("still failing 5 s after Redis came back");
        sleep_ms(50);
    }
    int64_t took = now_us() - t0;
    char *val = NULL;
    size_t len = 0;
    int rc = kn_cache_get(r, key("back"), a, &val, &len);
    if (rc != 1 || len != 5 || memcmp(val, "again", 5) != 0)
        return failf("get after recovery: rc %d", rc);
    if (!kn_redis_up(r))
        return failf("kn_redis_up is 0 after recovery");
    snprintf(info, infolen, "recovered_ms=%lld", (long long)took / 1000);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s redis://host:port\n", argv[0]);
        return 2;
    }
    /* As in a service: the runtime's signal and library setup. */
    kn_runtime_init();
    kn_log_init("kn_redis_check");
    snprintf(key_prefix, sizeof key_prefix, "kn:test:%d", (int)getpid());

    /* A URL kn_redis refuses, and the empty URL: NULL / disabled, never a crash. */
    kn_redis *bad = kn_redis_new("http://nope", TIMEOUT_MS);
    kn_redis *off = kn_redis_new("", TIMEOUT_MS);
    kn_arena *a = kn_arena_new(0);
    char *v = NULL;
    size_t l = 0;
    if (bad != NULL || kn_cache_get(bad, "k", a, &v, &l) != -1 ||
        kn_cache_get(off, "k", a, &v, &l) != -1 || kn_cache_set(off, "k", "v", 1, 1) != -1 ||
        kn_redis_up(off)) {
        printf("FAIL init: a bad or empty URL did not disable Redis\n");
        return 1;
    }
    kn_redis_free(off);
    kn_redis_free(bad);

    kn_redis *r = kn_redis_new(argv[1], TIMEOUT_MS);
    if (r == NULL) {
        printf("FAIL init: kn_redis_new(%s) returned NULL\n", argv[1]);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    char line[64];
    int failures = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "quit") == 0)
            break;
        char info[128] = "";
        int rc;
        fail_msg[0] = '\0';
        if (strcmp(line, "basic") == 0)
            rc = step_basic(r, a);
        else if (strcmp(line, "ttl") == 0)
            rc = step_ttl(r, a);
        else if (strcmp(line, "down") == 0)
            rc = step_down(r, a, info, sizeof info);
        else if (strcmp(line, "up") == 0)
            rc = step_up(r, a, info, sizeof info);
        else
            rc = failf("unknown step");
        kn_arena_reset(a);
        if (rc == 0) {
            printf("ok %s %s\n", line, info);
        } else {
            printf("FAIL %s: %s\n", line, fail_msg);
            failures++;
        }
        fflush(stdout);
    }
    kn_redis_free(r);
    kn_arena_free(a);
    kn_runtime_shutdown();
    return failures ? 1 : 0;
}
