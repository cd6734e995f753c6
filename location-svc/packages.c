/* RegisterPackage, GetPackage, ListPackages, DeliverPackage, ReturnPackage. */
#include <stdio.h>
#include <strings.h>

#include "loc.h"
#include "location_store.h"

LOC_HANDLER(register_package)
{
    const Konnect__Location__V1__RegisterPackageRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Package *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (loc_check_request_id(r->request_id, &st) != KN_OK ||
        kn_check_text("barcode", r->barcode, 1, LOC_MAX_BARCODE, &st) != KN_OK ||
        kn_check_text("tracking_number", r->tracking_number, 0, LOC_MAX_BARCODE, &st) != KN_OK ||
        kn_check_text("carrier", r->carrier, 0, LOC_MAX_CARRIER, &st) != KN_OK ||
        kn_check_text("description", r->description, 0, LOC_MAX_DESC, &st) != KN_OK ||
        kn_check_uuid("location_id", r->location_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_register_package(loc_pg(call), kn_call_arena(call), &cx, r, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(get_package)
{
    const Konnect__Location__V1__GetPackageRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Package *out = NULL;
    if (kn_check_uuid("id", r->id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_get_package(loc_pg(call), kn_call_arena(call), cx.tenant, r->id, &out, &st) !=
        KN_OK)
        return kn_call_fail(call, &st);
    /* Another technician's package does not exist for this caller. */
    if (cx.only_user && out->assignee_user_id[0] &&
        strcasecmp(out->assignee_user_id, cx.only_user) != 0)
        return kn_call_error(call, KN_NOT_FOUND, "package %s not found", r->id);
    *resp = &out->base;
    return KN_OK;
}

static kn_code check_list_request(const Konnect__Location__V1__ListPackagesRequest *r,
                                  kn_status *st)
{
    if (kn_check_uuid_opt("location_id", r->location_id, st) != KN_OK ||
        kn_check_uuid_opt("door_id", r->door_id, st) != KN_OK ||
        kn_check_uuid_opt("assignee_user_id", r->assignee_user_id, st) != KN_OK ||
        kn_check_uuid_opt("order_id", r->order_id, st) != KN_OK ||
        kn_check_text("query", r->query, 0, LOC_MAX_QUERY, st) != KN_OK)
        return st->code;
    if ((int)r->state < 0 || r->state > 4)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "state: unknown package state %d",
                             (int)r->state);
    if ((int)r->assignment < 0 || r->assignment > 3)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "assignment: unknown filter %d",
                             (int)r->assignment);
    return KN_OK;
}

LOC_HANDLER(list_packages)
{
    const Konnect__Location__V1__ListPackagesRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    kn_page_key key;
    const kn_page_key *after;
    uint64_t hash;
    int limit;
    loc_page page = {0};
    char state[16], assignment[16];
    if (check_list_request(r, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    snprintf(state, sizeof state, "%d", (int)r->state);
    snprintf(assignment, sizeof assignment, "%d", (int)r->assignment);
    const char *parts[] = {"packages", cx.tenant,  cx.only_user,        r->location_id, r->door_id,
                           state,      assignment, r->assignee_user_id, r->order_id,    r->query};
    if (loc_page_begin(parts, 10, r->page_token, r->page_size, &hash, &key, &after, &limit, &st) !=
            KN_OK ||
        loc_store_list_packages(loc_pg(call), a, &cx, r, after, limit, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ListPackagesResponse *out =
        kn_arena_msg(a, &konnect__location__v1__list_packages_response__descriptor);
    out->packages = (Konnect__Location__V1__Package **)page.items;
    out->n_packages = page.n;
    out->next_page_token = loc_page_next(a, &page, hash);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(deliver_package)
{
    const Konnect__Location__V1__DeliverPackageRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Package *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (kn_check_uuid("id", r->id, &st) != KN_OK ||
        kn_check_uuid("door_id", r->door_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    rc = loc_store_deliver_package(loc_pg(call), kn_call_arena(call), &cx, r->id, r->door_id, &out,
                                   &st);
    loc_cache_del(call, loc_key_door(call, r->door_id));
    if (rc != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(return_package)
{
    const Konnect__Location__V1__ReturnPackageRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Package *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (kn_check_uuid("id", r->id, &st) != KN_OK ||
        kn_check_text("reason", r->reason, 0, LOC_MAX_REASON, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_return_package(loc_pg(call), kn_call_arena(call), &cx, r->id, r->reason, &out,
                                 &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del(call, loc_key_door(call, out->door_id));
    *resp = &out->base;
    return KN_OK;
}
