/* GetOrder (cache-aside) and ListOrders (keyset pages). */
#include <stdint.h>
#include <string.h>

#include "kn_pagetoken.h"
#include "kn_validate.h"
#include "order_svc.h"

kn_code order_get(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__GetOrderRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    if (kn_check_uuid("id", req->id, &st) != KN_OK)
        return kn_call_fail(call, &st);

    /* A hit does no SQL; visibility is checked on the cached copy too. */
    Konnect__Order__V1__Order *o = order_cache_get(w, a, me->tenant_id, req->id);
    if (!o) {
        order_row *row = NULL;
        if (order_store_get(w->pg, a, me->tenant_id, req->id, 0, &row, &st) != KN_OK)
            return kn_call_fail(call, &st);
        o = order_to_pb(a, row);
        order_cache_put(w, a, me->tenant_id, o);
    }
    if (!order_visible(me, o->assignee_user_id))
        return kn_call_error(call, KN_NOT_FOUND, "order %s not found", req->id);
    *resp = (ProtobufCMessage *)o;
    return KN_OK;
}

kn_code order_list(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__ListOrdersRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    int page_size = 0;
    if (order_list_validate(req->page_size, (int)req->status, (int)req->assignment,
                            req->assignee_user_id, req->location_id, req->start_date, req->end_date,
                            (int)req->type, &page_size, &st) != KN_OK)
        return kn_call_fail(call, &st);

    /* Lower-case uuids: the same filter gives the same page token. */
    char assignee[40], location[40];
    snprintf(assignee, sizeof(assignee), "%s", req->assignee_user_id);
    snprintf(location, sizeof(location), "%s", req->location_id);
    for (char *c = assignee; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    for (char *c = location; *c; c++)
        if (*c >= 'A' && *c <= 'F')
            *c = (char)(*c - 'A' + 'a');
    order_list_filter f = {
        .status = (int)req->status,
        .assignment = (int)req->assignment,
        .assignee = assignee,
        .location = location,
        .start_date = req->start_date,
        .end_date = req->end_date,
        .type = (int)req->type,
        .role = me->role,
        .user_id = me->user_id,
    };
    uint64_t qh = order_list_query_hash(me->tenant_id, &f);
    int64_t cursor_us = INT64_MAX;
    const char *cursor_id = ORDER_MAX_UUID;
    if (req->page_token[0]) {
        kn_page_key key;
        if (kn_page_token_decode("page_token", req->page_token, qh, &key, &st) != KN_OK)
            return kn_call_fail(call, &st);
        if (!kn_is_uuid(key.id))
            return kn_call_error(call, KN_INVALID_ARGUMENT, "page_token is not valid");
        cursor_us = key.time_us;
        cursor_id = kn_arena_strdup(a, key.id);
    }
    order_list_plan plan;
    order_list_plan_make(&f, &plan);

    order_row **rows = NULL;
    size_t n = 0;
    if (order_store_list(w->pg, a, me->tenant_id, &plan, cursor_us, cursor_id, page_size + 1, &rows,
                         &n, &st) != KN_OK)
        return kn_call_fail(call, &st);

    Konnect__Order__V1__ListOrdersResponse *out =
        kn_arena_msg(a, &konnect__order__v1__list_orders_response__descriptor);
    size_t shown = n > (size_t)page_size ? (size_t)page_size : n;
    out->n_orders = shown;
    out->orders = shown ? kn_arena_alloc(a, shown * sizeof(Konnect__Order__V1__Order *)) : NULL;
    for (size_t i = 0; i < shown; i++)
        out->orders[i] = order_to_pb(a, rows[i]);
    if (n > (size_t)page_size) {
        kn_page_key key = {.time_us = rows[shown - 1]->sort_us};
        snprintf(key.id, sizeof(key.id), "%s", rows[shown - 1]->id);
        char tok[256];
        if (kn_page_token_encode(&key, qh, tok, sizeof(tok)) < 0)
            return kn_call_error(call, KN_INTERNAL, "page token");
        out->next_page_token = kn_arena_strdup(a, tok);
    }
    *resp = (ProtobufCMessage *)out;
    return KN_OK;
}
