/* CreateDoor, ListDoors, UpdateDoor, ListDoorContents. */
#include <string.h>
#include <strings.h>

#include "loc.h"
#include "location_store.h"

LOC_HANDLER(create_door)
{
    const Konnect__Location__V1__CreateDoorRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Door *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (kn_check_uuid("location_id", r->location_id, &st) != KN_OK ||
        kn_check_text("label", r->label, 1, LOC_MAX_LABEL, &st) != KN_OK)
        return kn_call_fail(call, &st);
    /* An unset size is a medium door, the common one. */
    int size = r->size == 0 ? KONNECT__LOCATION__V1__DOOR_SIZE__DOOR_SIZE_M : (int)r->size;
    if (size < 1 || size > 4)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "size: unknown door size %d", size);
    loc_ctx_from_call(call, &cx);
    if (loc_store_create_door(loc_pg(call), kn_call_arena(call), &cx, r, size, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(list_doors)
{
    const Konnect__Location__V1__ListDoorsRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    kn_page_key key;
    const kn_page_key *after;
    uint64_t hash;
    int limit;
    loc_page page = {0};
    Konnect__Location__V1__Location *loc;
    if (kn_check_uuid("location_id", r->location_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const char *parts[] = {"doors", kn_call_identity(call)->tenant_id, r->location_id};
    if (loc_page_begin(parts, 3, r->page_token, r->page_size, &hash, &key, &after, &limit, &st) !=
            KN_OK ||
        loc_lookup_location(call, "location_id", r->location_id, &loc, &st) != KN_OK ||
        loc_store_list_doors(loc_pg(call), a, kn_call_identity(call)->tenant_id, r->location_id,
                             after, limit, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ListDoorsResponse *out =
        kn_arena_msg(a, &konnect__location__v1__list_doors_response__descriptor);
    out->doors = (Konnect__Location__V1__Door **)page.items;
    out->n_doors = page.n;
    out->next_page_token = loc_page_next(a, &page, hash);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(update_door)
{
    const Konnect__Location__V1__UpdateDoorRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Door *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (kn_check_uuid("id", r->id, &st) != KN_OK ||
        kn_check_uuid_opt("location_id", r->location_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (r->state != 0 && r->state != KONNECT__LOCATION__V1__DOOR_STATE__DOOR_STATE_EMPTY &&
        r->state != KONNECT__LOCATION__V1__DOOR_STATE__DOOR_STATE_OUT_OF_SERVICE)
        return kn_call_error(
            call, KN_INVALID_ARGUMENT,
            "state: only DOOR_STATE_EMPTY or DOOR_STATE_OUT_OF_SERVICE can be set");
    loc_ctx_from_call(call, &cx);
    if (loc_store_update_door(loc_pg(call), kn_call_arena(call), &cx, r, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_cache_del(call, loc_key_door(call, out->id));
    *resp = &out->base;
    return KN_OK;
}

/* Technicians see their own and unassigned packages only. */
static void filter_visible(const loc_ctx *cx, Konnect__Location__V1__ListDoorContentsResponse *m)
{
    size_t k = 0;
    if (!cx->only_user)
        return;
    for (size_t i = 0; i < m->n_packages; i++) {
        const char *as = m->packages[i]->assignee_user_id;
        if (!as[0] || strcasecmp(as, cx->only_user) == 0)
            m->packages[k++] = m->packages[i];
    }
    m->n_packages = k;
}

LOC_HANDLER(list_door_contents)
{
    const Konnect__Location__V1__ListDoorContentsRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__ListDoorContentsResponse *out;
    if (kn_check_uuid("location_id", r->location_id, &st) != KN_OK ||
        kn_check_uuid("door_id", r->door_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    const char *key = loc_key_door(call, r->door_id);
    out = (void *)loc_cache_get(call, key,
                                &konnect__location__v1__list_door_contents_response__descriptor);
    /* The key is per door: a hit for another location is a NOT_FOUND. */
    if (out && (!out->door || strcasecmp(out->door->location_id, r->location_id) != 0))
        return kn_call_error(call, KN_NOT_FOUND, "door %s not found", r->door_id);
    if (!out) {
        if (loc_store_door_contents(loc_pg(call), kn_call_arena(call), cx.tenant, r->location_id,
                                    r->door_id, &out, &st) != KN_OK)
            return kn_call_fail(call, &st);
        loc_cache_put(call, key, &out->base);
    }
    filter_visible(&cx, out);
    *resp = &out->base;
    return KN_OK;
}
