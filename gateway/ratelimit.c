/* In-memory limiters: a fixed number of slots in buckets of 8, each bucket
 * under its own mutex, keyed by a seeded 64-bit hash of the key. A full
 * bucket evicts its least recently used slot, so memory is bounded however
 * many tokens or addresses appear; an attacker spraying keys can at worst
 * evict others' counters, which only makes the limit more lenient. The
 * gateway keeps no shared state: with N replicas the effective limit is up
 * to N times the configured one (documented in docs/gateway.md). */
#include "gateway.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define BUCKET_SLOTS 8

typedef struct {
    uint64_t key; /* 0 = empty */
    double tokens;
    int64_t window_start_us;
    int count;
    int64_t last_us;
} slot;

typedef struct {
    pthread_mutex_t mu;
    slot s[BUCKET_SLOTS];
} bucket;

struct gw_limiter {
    size_t nbuckets; /* power of two */
    uint64_t seed;
    bucket *b;
};

gw_limiter *gw_limiter_new(size_t slots)
{
    gw_limiter *l = calloc(1, sizeof *l);
    size_t n = 1;
    if (l == NULL)
        return NULL;
    while (n * BUCKET_SLOTS < slots)
        n <<= 1;
    l->nbuckets = n;
    l->b = calloc(n, sizeof *l->b);
    if (l->b == NULL) {
        free(l);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        pthread_mutex_init(&l->b[i].mu, NULL);
    if (getrandom(&l->seed, sizeof l->seed, 0) != sizeof l->seed)
        l->seed = 0x9e3779b97f4a7c15ull;
    return l;
}

void gw_limiter_free(gw_limiter *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nbuckets; i++)
        pthread_mutex_destroy(&l->b[i].mu);
    free(l->b);
    free(l);
}

static uint64_t hash_key(const gw_limiter *l, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ l->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

/* The slot for h in its bucket (locked by the caller); *fresh tells a new
 * one. */
static slot *find_slot(bucket *b, uint64_t h, int64_t now_us, int *fresh)
{
    slot *victim = NULL;
    for (int i = 0; i < BUCKET_SLOTS; i++) {
        slot *s = &b->s[i];
        if (s->key == h) {
            *fresh = 0;
            s->last_us = now_us;
            return s;
        }
        if (s->key == 0) {
            if (victim == NULL || victim->key != 0)
                victim = s;
        } else if (victim == NULL || (victim->key != 0 && s->last_us < victim->last_us)) {
            victim = s;
        }
    }
    memset(victim, 0, sizeof *victim);
    victim->key = h;
    victim->last_us = now_us;
    *fresh = 1;
    return victim;
}

static bucket *bucket_of(gw_limiter *l, uint64_t h)
{
    return &l->b[(h >> 7) & (l->nbuckets - 1)];
}

int gw_limiter_take(gw_limiter *l, const char *key, double rate, double burst, int64_t now_us,
                    int *retry_after_s)
{
    uint64_t h = hash_key(l, key);
    bucket *b = bucket_of(l, h);
    int fresh, ok;
    pthread_mutex_lock(&b->mu);
    int64_t prev = 0;
    for (int i = 0; i < BUCKET_SLOTS; i++)
        if (b->s[i].key == h)
            prev = b->s[i].last_us;
    slot *s = find_slot(b, h, now_us, &fresh);
    if (fresh) {
        s->tokens = burst;
    } else {
        s->tokens += (double)(now_us - prev) / 1e6 * rate;
        if (s->tokens > burst)
            s->tokens = burst;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        ok = 1;
    } else {
        ok = 0;
        *retry_after_s = (int)ceil((1.0 - s->tokens) / rate);
        if (*retry_after_s < 1)
            *retry_after_s = 1;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

int gw_limiter_blocked(gw_limiter *l, const char *key, int max, int window_s, int64_t now_us,
                       int *retry_after_s)
{
    uint64_t h = hash_key(l, key);
    bucket *b = bucket_of(l, h);
    int blocked = 0;
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < BUCKET_SLOTS; i++) {
        slot *s = &b->s[i];
        if (s->key != h)
            continue;
        int64_t end = s->window_start_us + (int64_t)window_s * 1000000;
        if (now_us < end && s->count >= max) {
            blocked = 1;
            *retry_after_s = (int)((end - now_us + 999999) / 1000000);
        }
    }
    pthread_mutex_unlock(&b->mu);
    return blocked;
}

void gw_limiter_fail(gw_limiter *l, const char *key, int window_s, int64_t now_us)
{
    uint64_t h = hash_key(l, key);
    bucket *b = bucket_of(l, h);
    int fresh;
    pthread_mutex_lock(&b->mu);
    slot *s = find_slot(b, h, now_us, &fresh);
    if (fresh || now_us >= s->window_start_us + (int64_t)window_s * 1000000) {
        s->window_start_us = now_us;
        s->count = 0;
    }
    s->count++;
    pthread_mutex_unlock(&b->mu);
}

void gw_limiter_reset(gw_limiter *l, const char *key)
{
    uint64_t h = hash_key(l, key);
    bucket *b = bucket_of(l, h);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < BUCKET_SLOTS; i++)
        if (b->s[i].key == h)
            memset(&b->s[i], 0, sizeof b->s[i]);
    pthread_mutex_unlock(&b->mu);
}
