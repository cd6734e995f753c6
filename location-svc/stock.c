/* The locker's stock: ListStock, AdjustStock, and the internal
 * ReserveStock / ReleaseStock for stock orders. */
#include <string.h>

#include "loc.h"
#include "location_store.h"

#define LOC_MAX_LINES 100

static kn_code check_sku(const char *field, const char *sku, kn_status *st)
{
    return kn_check_text(field, sku, 1, LOC_MAX_SKU, st);
}

LOC_HANDLER(list_stock)
{
    const Konnect__Location__V1__ListStockRequest *r = (const void *)req;
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
    const char *tenant = kn_call_identity(call)->tenant_id;
    const char *parts[] = {"stock", tenant, r->location_id};
    if (loc_page_begin(parts, 3, r->page_token, r->page_size, &hash, &key, &after, &limit, &st) !=
            KN_OK ||
        loc_lookup_location(call, "location_id", r->location_id, &loc, &st) != KN_OK ||
        loc_store_list_stock(loc_pg(call), a, tenant, r->location_id, after, limit, &page, &st) !=
            KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ListStockResponse *out =
        kn_arena_msg(a, &konnect__location__v1__list_stock_response__descriptor);
    out->items = (Konnect__Location__V1__StockItem **)page.items;
    out->n_items = page.n;
    out->next_page_token = loc_page_next(a, &page, hash);
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(adjust_stock)
{
    const Konnect__Location__V1__AdjustStockRequest *r = (const void *)req;
    kn_status st = {0};
    loc_ctx cx;
    Konnect__Location__V1__Location *loc;
    Konnect__Location__V1__StockItem *out = NULL;
    kn_code rc;
    if ((rc = kn_call_require_role(call, KN_ROLE_HQ)) != KN_OK)
        return rc;
    if (kn_check_uuid("location_id", r->location_id, &st) != KN_OK ||
        check_sku("sku", r->sku, &st) != KN_OK ||
        kn_check_text("reason", r->reason, 1, LOC_MAX_REASON, &st) != KN_OK ||
        kn_check_text("description", r->description, 0, LOC_MAX_NAME, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_lookup_location(call, "location_id", r->location_id, &loc, &st) != KN_OK ||
        loc_store_adjust_stock(loc_pg(call), kn_call_arena(call), &cx, r, &out, &st) != KN_OK)
        return kn_call_fail(call, &st);
    *resp = &out->base;
    return KN_OK;
}

static kn_code check_lines(const Konnect__Location__V1__ReserveStockRequest *r, kn_status *st)
{
    if (r->n_lines == 0 || r->n_lines > LOC_MAX_LINES)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "lines: between 1 and %d lines",
                             LOC_MAX_LINES);
    for (size_t i = 0; i < r->n_lines; i++) {
        if (check_sku("lines.sku", r->lines[i]->sku, st) != KN_OK)
            return st->code;
        if (r->lines[i]->quantity <= 0)
            return kn_status_set(st, KN_INVALID_ARGUMENT, "lines.quantity: must be positive");
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->lines[i]->sku, r->lines[j]->sku) == 0)
                return kn_status_set(st, KN_INVALID_ARGUMENT, "lines: sku %s is repeated",
                                     r->lines[i]->sku);
    }
    return KN_OK;
}

LOC_HANDLER(reserve_stock)
{
    const Konnect__Location__V1__ReserveStockRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    Konnect__Location__V1__Location *loc;
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK ||
        kn_check_uuid("location_id", r->location_id, &st) != KN_OK || check_lines(r, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_lookup_location(call, "location_id", r->location_id, &loc, &st) != KN_OK ||
        loc_store_reserve_stock(loc_pg(call), a, &cx, r, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ReserveStockResponse *out =
        kn_arena_msg(a, &konnect__location__v1__reserve_stock_response__descriptor);
    out->items = (Konnect__Location__V1__StockItem **)page.items;
    out->n_items = page.n;
    *resp = &out->base;
    return KN_OK;
}

LOC_HANDLER(release_stock)
{
    const Konnect__Location__V1__ReleaseStockRequest *r = (const void *)req;
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    loc_ctx cx;
    loc_page page = {0};
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK ||
        kn_check_uuid("location_id", r->location_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    loc_ctx_from_call(call, &cx);
    if (loc_store_release_stock(loc_pg(call), a, &cx, r, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__ReleaseStockResponse *out =
        kn_arena_msg(a, &konnect__location__v1__release_stock_response__descriptor);
    out->items = (Konnect__Location__V1__StockItem **)page.items;
    out->n_items = page.n;
    *resp = &out->base;
    return KN_OK;
}
