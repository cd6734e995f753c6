#include "loc.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "loc_text.h"
#include "location_store.h"

void loc_ctx_from_call(kn_call *call, loc_ctx *cx)
{
    const kn_identity *id = kn_call_identity(call);
    cx->tenant = id->tenant_id;
    cx->actor = id->user_id;
    cx->is_hq = id->role == KN_ROLE_HQ;
    cx->only_user = cx->is_hq ? NULL : id->user_id;
}

kn_pg *loc_pg(kn_call *call)
{
    return ((kn_worker *)kn_call_worker(call))->pg;
}

kn_code loc_check_ids(const char *field, char *const *ids, size_t n, size_t min, kn_status *st)
{
    if (n < min)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: at least %zu id(s) required", field,
                             min);
    if (n > LOC_MAX_IDS)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: at most %d ids", field, LOC_MAX_IDS);
    for (size_t i = 0; i < n; i++)
        if (kn_check_uuid(field, ids[i], st) != KN_OK)
            return st->code;
    if (loc_has_duplicate(ids, n))
        return kn_status_set(st, KN_INVALID_ARGUMENT, "%s: an id is repeated", field);
    return KN_OK;
}

kn_code loc_check_request_id(const char *value, kn_status *st)
{
    return kn_check_text("request_id", value, 0, LOC_MAX_REQUEST_ID, st);
}

/* --- cache -------------------------------------------------------------- */

/* When an invalidation could not reach Redis, an entry written before it
 * may still be there when Redis comes back: this process then ignores the
 * cache until every such entry has expired (one TTL). Other replicas are
 * bounded by the TTL alone. */
static _Atomic long long cache_distrust_until_ms;

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int cache_trusted(void)
{
    return now_ms() >= atomic_load(&cache_distrust_until_ms);
}

static kn_worker *worker(kn_call *call)
{
    return kn_call_worker(call);
}

ProtobufCMessage *loc_cache_get(kn_call *call, const char *key,
                                const ProtobufCMessageDescriptor *desc)
{
    char *val = NULL;
    size_t len = 0;
    kn_arena *a = kn_call_arena(call);
    if (!cache_trusted() || kn_cache_get(worker(call)->redis, key, a, &val, &len) != 1)
        return NULL;
    return protobuf_c_message_unpack(desc, kn_arena_allocator(a), len, (const uint8_t *)val);
}

void loc_cache_put(kn_call *call, const char *key, const ProtobufCMessage *msg)
{
    if (!cache_trusted())
        return;
    kn_arena *a = kn_call_arena(call);
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = kn_arena_alloc(a, len + 1);
    protobuf_c_message_pack(msg, buf);
    kn_cache_set(worker(call)->redis, key, buf, len, (int)worker(call)->cfg->cache_ttl_s);
}

/* A delete that did not reach a configured Redis may leave a stale entry
 * there: the cache is not read until every entry written before has
 * expired. */
static void cache_del_done(kn_worker *w, int rc)
{
    if (rc != 0 && w->cfg->redis_url && w->cfg->redis_url[0])
        atomic_store(&cache_distrust_until_ms, now_ms() + (w->cfg->cache_ttl_s + 1) * 1000);
}

void loc_cache_del(kn_call *call, const char *key)
{
    kn_worker *w = worker(call);
    cache_del_done(w, kn_cache_del(w->redis, key));
}

const char *loc_key_location(kn_call *call, const char *location_id)
{
    return kn_arena_sprintf(kn_call_arena(call), "kn:location:%s:location:%s",
                            kn_call_identity(call)->tenant_id, location_id);
}

const char *loc_key_door(kn_call *call, const char *door_id)
{
    return kn_arena_sprintf(kn_call_arena(call), "kn:location:%s:door:%s:contents",
                            kn_call_identity(call)->tenant_id, door_id);
}

void loc_cache_del_doors(kn_call *call, char **door_ids, size_t n)
{
    kn_worker *w = worker(call);
    const char **keys = kn_arena_alloc(kn_call_arena(call), sizeof(char *) * (n > 0 ? n : 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (door_ids[i] && door_ids[i][0])
            keys[k++] = loc_key_door(call, door_ids[i]);
    cache_del_done(w, kn_cache_del_n(w->redis, keys, k));
}

kn_code loc_lookup_location(kn_call *call, const char *field, const char *id,
                            Konnect__Location__V1__Location **out, kn_status *st)
{
    const char *key = loc_key_location(call, id);
    *out = (Konnect__Location__V1__Location *)loc_cache_get(
        call, key, &konnect__location__v1__location__descriptor);
    if (*out)
        return KN_OK;
    kn_code rc = loc_store_get_location(loc_pg(call), kn_call_arena(call),
                                        kn_call_identity(call)->tenant_id, id, out, st);
    if (rc == KN_NOT_FOUND)
        return kn_status_set(st, KN_NOT_FOUND, "%s: location %s not found", field, id);
    if (rc == KN_OK)
        loc_cache_put(call, key, &(*out)->base);
    return rc;
}

kn_code loc_page_begin(const char *const *parts, size_t nparts, const char *token, int page_size,
                       uint64_t *hash, kn_page_key *key, const kn_page_key **after, int *limit,
                       kn_status *st)
{
    *after = NULL;
    if (kn_page_size("page_size", page_size, LOC_PAGE_DEFAULT, LOC_PAGE_MAX, limit, st) != KN_OK)
        return st->code;
    *hash = kn_page_query_hash(parts, nparts);
    if (!token || !token[0])
        return KN_OK;
    if (kn_page_token_decode("page_token", token, *hash, key, st) != KN_OK)
        return st->code;
    *after = key;
    return KN_OK;
}

char *loc_page_next(kn_arena *a, const loc_page *page, uint64_t hash)
{
    if (!page->has_more)
        return (char *)"";
    char *out = kn_arena_alloc(a, 256);
    if (kn_page_token_encode(&page->next, hash, out, 256) < 0)
        return (char *)"";
    return out;
}
