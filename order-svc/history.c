/* ListOrderHistory: oldest first, keyset on the history sequence. */
#include <stdio.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "kn_pagetoken.h"
#include "kn_validate.h"
#include "order_svc.h"

kn_code order_list_history(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__ListOrderHistoryRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    int page_size = 0;
    if (kn_check_uuid("order_id", req->order_id, &st) != KN_OK ||
        kn_page_size("page_size", req->page_size, ORDER_PAGE_DEFAULT, ORDER_PAGE_MAX, &page_size,
                     &st) != KN_OK)
        return kn_call_fail(call, &st);
    const char *parts[] = {"ListOrderHistory", me->tenant_id, me->user_id, req->order_id};
    uint64_t qh = kn_page_query_hash(parts, 4);
    int64_t after = 0;
    if (req->page_token[0]) {
        kn_page_key key;
        if (kn_page_token_decode("page_token", req->page_token, qh, &key, &st) != KN_OK)
            return kn_call_fail(call, &st);
        after = key.time_us;
    }
    order_row *row = NULL;
    if (order_store_get(w->pg, a, me->tenant_id, req->order_id, 0, &row, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (!order_visible(me, row->assignee))
        return kn_call_error(call, KN_NOT_FOUND, "order %s not found", req->order_id);

    order_history_row *rows = NULL;
    size_t n = 0;
    if (order_store_history(w->pg, a, me->tenant_id, req->order_id, after, page_size + 1, &rows, &n,
                            &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Order__V1__ListOrderHistoryResponse *out =
        kn_arena_msg(a, &konnect__order__v1__list_order_history_response__descriptor);
    size_t shown = n > (size_t)page_size ? (size_t)page_size : n;
    out->n_entries = shown;
    out->entries =
        shown ? kn_arena_alloc(a, shown * sizeof(Konnect__Order__V1__OrderHistoryEntry *)) : NULL;
    for (size_t i = 0; i < shown; i++) {
        Konnect__Order__V1__OrderHistoryEntry *e =
            kn_arena_msg(a, &konnect__order__v1__order_history_entry__descriptor);
        e->id = rows[i].id;
        e->order_id = rows[i].order_id;
        Google__Protobuf__Timestamp *t = kn_arena_msg(a, &google__protobuf__timestamp__descriptor);
        t->seconds = rows[i].time_us / 1000000;
        t->nanos = (int32_t)(rows[i].time_us % 1000000) * 1000;
        e->time = t;
        e->actor_user_id = rows[i].actor;
        e->kind = (Konnect__Order__V1__OrderHistoryKind)rows[i].kind;
        e->before = rows[i].before;
        e->after = rows[i].after;
        e->detail = rows[i].detail;
        out->entries[i] = e;
    }
    if (n > (size_t)page_size) {
        kn_page_key key = {.time_us = rows[shown - 1].seq};
        snprintf(key.id, sizeof(key.id), "%s", rows[shown - 1].id);
        char tok[256];
        if (kn_page_token_encode(&key, qh, tok, sizeof(tok)) < 0)
            return kn_call_error(call, KN_INTERNAL, "page token");
        out->next_page_token = kn_arena_strdup(a, tok);
    }
    *resp = (ProtobufCMessage *)out;
    return KN_OK;
}
