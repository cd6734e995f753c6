/* loc: what the location-svc handlers share: the caller context, input
 * checks, the Redis cache-aside helpers and the handler declarations. */
#ifndef LOC_H
#define LOC_H

#include <stddef.h>

#include "kn_pagetoken.h"
#include "kn_service.h"
#include "kn_validate.h"
#include "konnect/location/v1/location.pb-c.h"

/* Limits of client input (bytes). */
#define LOC_MAX_NAME       200
#define LOC_MAX_CODE       64
#define LOC_MAX_ADDRESS    500
#define LOC_MAX_TZ         64
#define LOC_MAX_LABEL      32
#define LOC_MAX_BARCODE    128
#define LOC_MAX_CARRIER    64
#define LOC_MAX_DESC       1000
#define LOC_MAX_QUERY      256
#define LOC_MAX_SKU        60
#define LOC_MAX_REASON     256
#define LOC_MAX_REQUEST_ID 128
#define LOC_MAX_IDS        500
#define LOC_PAGE_DEFAULT   50
#define LOC_PAGE_MAX       500

/* Who is calling, as the store needs it. */
typedef struct {
    const char *tenant;
    const char *actor; /* the caller's user id */
    int is_hq;
    /* For technicians, their user id: they see only their own and
     * unassigned packages. NULL for hq. */
    const char *only_user;
} loc_ctx;

/* A page of results: at most limit items; when more exist, has_more is set
 * and next holds the key of the last item returned. */
typedef struct {
    void **items;
    size_t n;
    int has_more;
    kn_page_key next;
} loc_page;

/* A list of ids touched by a change (doors whose cached contents must go). */
typedef struct {
    char **ids;
    size_t n;
} loc_ids;

/* Reads page_size and page_token for a query hashed from parts: *after is
 * NULL on the first page, else points at key. */
kn_code loc_page_begin(const char *const *parts, size_t nparts, const char *token, int page_size,
                       uint64_t *hash, kn_page_key *key, const kn_page_key **after, int *limit,
                       kn_status *st);
/* The next_page_token for a page ("" on the last page). */
char *loc_page_next(kn_arena *a, const loc_page *page, uint64_t hash);

void loc_ctx_from_call(kn_call *call, loc_ctx *cx);
kn_pg *loc_pg(kn_call *call);

/* KN_INVALID_ARGUMENT naming field unless every id is a UUID, there are
 * between min and LOC_MAX_IDS of them and none repeats. */
kn_code loc_check_ids(const char *field, char *const *ids, size_t n, size_t min, kn_status *st);
/* Request ids are opaque client text. */
kn_code loc_check_request_id(const char *value, kn_status *st);

/* Cache-aside. Keys are "kn:location:<tenant>:<what>". A get answers NULL on
 * a miss, with Redis down, or while invalidations are in doubt. */
ProtobufCMessage *loc_cache_get(kn_call *call, const char *key,
                                const ProtobufCMessageDescriptor *desc);
void loc_cache_put(kn_call *call, const char *key, const ProtobufCMessage *msg);
void loc_cache_del(kn_call *call, const char *key);
const char *loc_key_location(kn_call *call, const char *location_id);
const char *loc_key_door(kn_call *call, const char *door_id);
/* Deletes the contents key of each door (NULL or "" entries skipped). */
void loc_cache_del_doors(kn_call *call, char **door_ids, size_t n);

/* A location of the caller's tenant, from the cache or the database;
 * NOT_FOUND naming field. */
kn_code loc_lookup_location(kn_call *call, const char *field, const char *id,
                            Konnect__Location__V1__Location **out, kn_status *st);

/* Handlers (kn_handler). */
#define LOC_HANDLER(name)                                                                          \
    kn_code loc_##name(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
LOC_HANDLER(create_location);
LOC_HANDLER(get_location);
LOC_HANDLER(list_locations);
LOC_HANDLER(create_door);
LOC_HANDLER(list_doors);
LOC_HANDLER(update_door);
LOC_HANDLER(list_door_contents);
LOC_HANDLER(register_package);
LOC_HANDLER(get_package);
LOC_HANDLER(list_packages);
LOC_HANDLER(deliver_package);
LOC_HANDLER(return_package);
LOC_HANDLER(collect_packages);
LOC_HANDLER(search_activity);
LOC_HANDLER(list_stock);
LOC_HANDLER(adjust_stock);
LOC_HANDLER(reserve_stock);
LOC_HANDLER(release_stock);
LOC_HANDLER(attach_packages);
LOC_HANDLER(detach_packages);
LOC_HANDLER(set_package_assignee);

#endif
