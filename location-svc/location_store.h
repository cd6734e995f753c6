/* location_store: every SQL statement of location-svc, each a static const
 * kn_pg_stmt next to the function that runs it. Functions answer a kn_code
 * with st set (client errors name the field); a database error never
 * reaches the client as text. Changes and their activity rows commit in one
 * transaction; a failed change writes no activity. */
#ifndef LOCATION_STORE_H
#define LOCATION_STORE_H

#include "kn_arena.h"
#include "kn_pagetoken.h"
#include "kn_pg.h"
#include "loc.h"

typedef Konnect__Location__V1__Location loc_location;
typedef Konnect__Location__V1__Door loc_door;
typedef Konnect__Location__V1__Package loc_package;
typedef Konnect__Location__V1__Activity loc_activity;
typedef Konnect__Location__V1__StockItem loc_stock_item;

/* --- locations ---------------------------------------------------------- */
kn_code loc_store_create_location(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                  const Konnect__Location__V1__CreateLocationRequest *req,
                                  loc_location **out, kn_status *st);
kn_code loc_store_get_location(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                               loc_location **out, kn_status *st);
kn_code loc_store_list_locations(kn_pg *pg, kn_arena *a, const char *tenant, const char *query,
                                 const kn_page_key *after, int limit, loc_page *page,
                                 kn_status *st);

/* --- doors ------------------------------------------------------------- */
kn_code loc_store_create_door(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                              const Konnect__Location__V1__CreateDoorRequest *req, int size,
                              loc_door **out, kn_status *st);
kn_code loc_store_list_doors(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                             const kn_page_key *after, int limit, loc_page *page, kn_status *st);
kn_code loc_store_update_door(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                              const Konnect__Location__V1__UpdateDoorRequest *req, loc_door **out,
                              kn_status *st);
/* The door (of that location) and the packages IN_LOCKER in it, unfiltered. */
kn_code loc_store_door_contents(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                                const char *door_id,
                                Konnect__Location__V1__ListDoorContentsResponse **out,
                                kn_status *st);

/* --- packages ---------------------------------------------------------- */
kn_code loc_store_register_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                   const Konnect__Location__V1__RegisterPackageRequest *req,
                                   loc_package **out, kn_status *st);
kn_code loc_store_get_package(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                              loc_package **out, kn_status *st);
kn_code loc_store_list_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ListPackagesRequest *req,
                                const kn_page_key *after, int limit, loc_page *page, kn_status *st);
kn_code loc_store_deliver_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *id,
                                  const char *door_id, loc_package **out, kn_status *st);
kn_code loc_store_return_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *id,
                                 const char *reason, loc_package **out, kn_status *st);
/* order_id "" for a user's direct collect (loose packages only); set by
 * order-svc for an order's packages. ids may be empty with an order_id:
 * every package of the order. */
kn_code loc_store_collect_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx, char **ids, size_t n,
                                   const char *order_id, loc_page *out, loc_ids *doors,
                                   kn_status *st);

/* --- internal (order-svc, assign-svc) ----------------------------------- */
kn_code loc_store_attach_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                  const Konnect__Location__V1__AttachPackagesRequest *req,
                                  loc_page *out, loc_ids *doors, kn_status *st);
/* assignee: NULL leaves the packages' assignee; otherwise they leave the
 * order with it ("" unassigns). */
kn_code loc_store_detach_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *order_id,
                                  char **ids, size_t n, const char *assignee, loc_page *out,
                                  loc_ids *doors, kn_status *st);
/* No package_ids with an order_id: every package attached to the order. */
kn_code loc_store_set_assignee(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                               const Konnect__Location__V1__SetPackageAssigneeRequest *req,
                               loc_page *out, loc_ids *doors, kn_status *st);

/* --- activity ---------------------------------------------------------- */
typedef struct {
    const char *query; /* "" for none */
    const char *location_id;
    const char *package_id;
    int kind;
    const char *from_us; /* decimal microseconds or NULL */
    const char *to_us;
} loc_activity_filter;

/* Keys carry the rank in id as "<rank>:<uuid>". */
kn_code loc_store_search_activity(kn_pg *pg, kn_arena *a, const char *tenant,
                                  const loc_activity_filter *f, const kn_page_key *after, int limit,
                                  loc_page *page, kn_status *st);

/* --- stock ------------------------------------------------------------- */
kn_code loc_store_list_stock(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                             const kn_page_key *after, int limit, loc_page *page, kn_status *st);
kn_code loc_store_adjust_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                               const Konnect__Location__V1__AdjustStockRequest *req,
                               loc_stock_item **out, kn_status *st);
kn_code loc_store_reserve_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ReserveStockRequest *req,
                                loc_page *out, kn_status *st);
kn_code loc_store_release_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ReleaseStockRequest *req,
                                loc_page *out, kn_status *st);

#endif
