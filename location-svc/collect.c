/* CollectPackages: the assignee (or hq) opens the door and takes them. */
#include "loc.h"
#include "location_store.h"

LOC_HANDLER(collect_packages)
{
    const Konnect__Location__V1__CollectPackagesRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    loc_ids doors = {0};
    if (kn_check_uuid_opt("order_id", r->order_id, &st) != KN_OK ||
        loc_check_ids("package_ids", r->package_ids, r->n_package_ids, r->order_id[0] ? 0 : 1,
                      &st) != KN_OK)
        return kn_call_fail(call, &st);
    /* An order's packages are collected through order-svc CollectOrder,
     * which checks the order's state and assignee first. */
    if (r->order_id[0] && !kn_call_peer_service(call))
        return kn_call_error(call, KN_PERMISSION_DENIED,
                             "order_id: collect an order through CollectOrder");
    loc_ctx_from_call(call, &cx);
    kn_code rc = loc_store_collect_packages(loc_pg(call), a, &cx, r->package_ids, r->n_package_ids,
                                            r->order_id, &page, &doors, &st);
    if (rc != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del_doors(call, doors.ids, doors.n);
    Konnect__Location__V1__CollectPackagesResponse *out =
        kn_arena_msg(a, &konnect__location__v1__collect_packages_response__descriptor);
    out->packages = (Konnect__Location__V1__Package **)page.items;
    out->n_packages = page.n;
    *resp = &out->base;
    return KN_OK;
}
