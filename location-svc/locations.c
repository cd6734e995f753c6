/* CreateLocation, GetLocation, ListLocations. */
#include <string.h>

#include "loc.h"
#include "loc_text.h"
#include "location_store.h"

LOC_HANDLER(create_location)
{
    const Konnect__Location__V1__CreateLocationRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Location *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (loc_check_request_id(r->request_id, &st) != KN_OK ||
        kn_check_text("name", r->name, 1, LOC_MAX_NAME, &st) != KN_OK ||
        kn_check_text("code", r->code, 1, LOC_MAX_CODE, &st) != KN_OK ||
        kn_check_text("address", r->address, 0, LOC_MAX_ADDRESS, &st) != KN_OK ||
        kn_check_text("time_zone", r->time_zone, 0, LOC_MAX_TZ, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_create_location(loc_pg(call), kn_call_arena(call), &cx, r, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(get_location)
{
    const Konnect__Location__V1__GetLocationRequest *r = (const void *)req;
    kn_status st = {0};
    Konnect__Location__V1__Location *out = NULL;
    if (kn_check_uuid("id", r->id, &st) != KN_OK ||
        loc_lookup_location(call, "id", r->id, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(list_locations)
{
    const Konnect__Location__V1__ListLocationsRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    kn_page_key key;
    const kn_page_key *after;
    uint64_t hash;
    int limit;
    loc_page page = {0};
    const char *like = "";
    if (kn_check_text("query", r->query, 0, LOC_MAX_QUERY, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const char *parts[] = {"locations", kn_call_identity(call)->tenant_id, r->query};
    if (loc_page_begin(parts, 3, r->page_token, r->page_size, &hash, &key, &after, &limit, &st) !=
        KN_OK)
        return kn_call_fail(call, &st);
    if (r->query[0]) {
        size_t len = strlen(r->query) * 2 + 3;
        char *buf = kn_arena_alloc(a, len);
        loc_like_pattern(r->query, 1, buf, len);
        like = buf;
    }
    if (loc_store_list_locations(loc_pg(call), a, kn_call_identity(call)->tenant_id, like, after,
                                 limit, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ListLocationsResponse *out =
        kn_arena_msg(a, &konnect__location__v1__list_locations_response__descriptor);
    out->locations = (Konnect__Location__V1__Location **)page.items;
    out->n_locations = page.n;
    out->next_page_token = loc_page_next(a, &page, hash);
    *resp = &out->base;
    return KN_OK;
}
