/* Internal RPCs (KN_METHOD_INTERNAL: only order-svc / assign-svc reach
 * them): AttachPackages, DetachPackages, SetPackageAssignee. The caller's
 * role was checked by the calling service. */
#include "loc.h"
#include "location_store.h"

static ProtobufCMessage *packages_resp(kn_arena *a, const ProtobufCMessageDescriptor *desc,
                                       const loc_page *page)
{
    /* The three responses share one layout: repeated Package packages = 1. */
    Konnect__Location__V1__AttachPackagesResponse *out = kn_arena_msg(a, desc);
    out->packages = (Konnect__Location__V1__Package **)page->items;
    out->n_packages = page->n;
    return &out->base;
}

LOC_HANDLER(attach_packages)
{
    const Konnect__Location__V1__AttachPackagesRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    loc_ids doors = {0};
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK ||
        kn_check_text("order_identifier", r->order_identifier, 0, LOC_MAX_CODE, &st) != KN_OK ||
        kn_check_uuid("location_id", r->location_id, &st) != KN_OK ||
        kn_check_uuid_opt("assignee_user_id", r->assignee_user_id, &st) != KN_OK ||
        loc_check_ids("package_ids", r->package_ids, r->n_package_ids, 1, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (r->fencing_token < 0)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "fencing_token: must not be negative");
    loc_ctx_from_call(call, &cx);
    if (loc_store_attach_packages(loc_pg(call), a, &cx, r, &page, &doors, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del_doors(call, doors.ids, doors.n);
    *resp = packages_resp(a, &konnect__location__v1__attach_packages_response__descriptor, &page);
    return KN_OK;
}

LOC_HANDLER(detach_packages)
{
    const Konnect__Location__V1__DetachPackagesRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    loc_ids doors = {0};
    /* No package_ids: every package of the order (a cancel). */
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK ||
        loc_check_ids("package_ids", r->package_ids, r->n_package_ids, 0, &st) != KN_OK ||
        kn_check_uuid_opt("assignee_user_id", r->assignee_user_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_detach_packages(loc_pg(call), a, &cx, r->order_id, r->package_ids,
                                  r->n_package_ids, r->set_assignee ? r->assignee_user_id : NULL,
                                  &page, &doors, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del_doors(call, doors.ids, doors.n);
    *resp = packages_resp(a, &konnect__location__v1__detach_packages_response__descriptor, &page);
    return KN_OK;
}

LOC_HANDLER(set_package_assignee)
{
    const Konnect__Location__V1__SetPackageAssigneeRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    loc_ids doors = {0};
    if (kn_check_uuid_opt("assignee_user_id", r->assignee_user_id, &st) != KN_OK ||
        kn_check_uuid_opt("order_id", r->order_id, &st) != KN_OK ||
        loc_check_ids("package_ids", r->package_ids, r->n_package_ids, r->order_id[0] ? 0 : 1,
                      &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (r->fencing_token < 0)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "fencing_token: must not be negative");
    loc_ctx_from_call(call, &cx);
    if (loc_store_set_assignee(loc_pg(call), a, &cx, r, &page, &doors, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del_doors(call, doors.ids, doors.n);
    *resp =
        packages_resp(a, &konnect__location__v1__set_package_assignee_response__descriptor, &page);
    return KN_OK;
}
