/* CreateOrder. Crash safety (see the brief's design decisions): an intent
 * row is committed first, then location-svc attaches the packages / reserves
 * the stock, then one transaction inserts the order and consumes the
 * intent. The intent row stays locked by this call while it works, so the
 * repair tick (repair.c) only undoes intents whose call died. With a
 * request_id the order id is derived from (tenant, request_id): a retry
 * after a crash meets its own intent and re-attaches to the same order. */
#include <string.h>

#include "kn_log.h"
#include "kn_validate.h"
#include "order_svc.h"

/* A day: only bounds what a stale entry could cost if a location were ever
 * re-created with the same id under another zone. */
#define ORDER_LOCATION_TZ_TTL_S 86400

/* A location's time zone never changes (location-svc has no RPC that
 * edits it), so it is cached in Redis without expiry concerns and CreateOrder
 * makes one call to location-svc (Attach or Reserve) instead of two. The
 * first create at a location, or any with Redis down, asks GetLocation. */
static kn_code location_time_zone(kn_call *call, const char *tenant, const char *location_id,
                                  const char **tz, kn_status *st)
{
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    char *key = kn_arena_sprintf(a, "kn:order:%s:location-tz:%s", tenant, location_id);
    char *cached = NULL;
    if (kn_cache_get(w->redis, key, a, &cached, NULL) == 1 && cached[0] != '\0') {
        *tz = cached;
        return KN_OK;
    }
    Konnect__Location__V1__GetLocationRequest *gl =
        kn_arena_msg(a, &konnect__location__v1__get_location_request__descriptor);
    gl->id = (char *)location_id;
    Konnect__Location__V1__Location *loc = NULL;
    if (kn_call_downstream(call, order_location_channel, LOC_PATH("GetLocation"), &gl->base,
                           &konnect__location__v1__location__descriptor, (ProtobufCMessage **)&loc,
                           1, st) != KN_OK)
        return st->code;
    *tz = loc->time_zone && loc->time_zone[0] ? loc->time_zone : "UTC";
    kn_cache_set(w->redis, key, *tz, strlen(*tz), ORDER_LOCATION_TZ_TTL_S);
    return KN_OK;
}

static kn_code validate(kn_call *call, const Konnect__Order__V1__CreateOrderRequest *req,
                        kn_status *st)
{
    if ((int)req->type != ORDER_TYPE_JOB && (int)(int)req->type != ORDER_TYPE_STOCK)
        return kn_status_set(st, KN_INVALID_ARGUMENT,
                             "type must be ORDER_TYPE_JOB or ORDER_TYPE_STOCK");
    if (req->request_id[0] && kn_check_text("request_id", req->request_id, 1, 128, st) != KN_OK)
        return st->code;
    if (req->identifier[0] &&
        kn_check_text("identifier", req->identifier, 1, ORDER_IDENTIFIER_MAX, st) != KN_OK)
        return st->code;
    if (kn_check_uuid("location_id", req->location_id, st) != KN_OK)
        return st->code;
    if ((int)req->type == ORDER_TYPE_JOB) {
        if (req->n_stock_lines)
            return kn_status_set(st, KN_INVALID_ARGUMENT,
                                 "stock_lines must be empty for a job order");
        return order_check_uuid_list("package_ids", req->package_ids, req->n_package_ids, 1,
                                     ORDER_MAX_PACKAGES, st);
    }
    if (req->n_package_ids)
        return kn_status_set(st, KN_INVALID_ARGUMENT,
                             "package_ids must be empty for a stock order");
    if (req->n_stock_lines < 1)
        return kn_status_set(st, KN_INVALID_ARGUMENT,
                             "stock_lines must list at least one line for a stock order");
    if (req->n_stock_lines > ORDER_MAX_STOCK_LINES)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "stock_lines must list at most %d lines",
                             ORDER_MAX_STOCK_LINES);
    for (size_t i = 0; i < req->n_stock_lines; i++) {
        const Konnect__Order__V1__StockLine *l = req->stock_lines[i];
        char field[48];
        snprintf(field, sizeof(field), "stock_lines[%zu].sku", i);
        if (kn_check_text(field, l->sku, 1, ORDER_SKU_MAX, st) != KN_OK)
            return st->code;
        if (l->quantity <= 0)
            return kn_status_set(st, KN_INVALID_ARGUMENT,
                                 "stock_lines[%zu].quantity must be greater than 0", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->stock_lines[j]->sku, l->sku) == 0)
                return kn_status_set(st, KN_INVALID_ARGUMENT,
                                     "stock_lines[%zu].sku is listed twice", i);
    }
    (void)call;
    return KN_OK;
}

/* The same request again: the first order; another body: ALREADY_EXISTS. */
static kn_code answer_existing(kn_call *call, const order_row *row, const char *hash,
                               ProtobufCMessage **resp)
{
    if (strcmp(row->request_hash, hash) != 0)
        return kn_call_error(call, KN_ALREADY_EXISTS,
                             "request_id was already used with a different request");
    *resp = (ProtobufCMessage *)order_to_pb(kn_call_arena(call), row);
    return KN_OK;
}

/* Undoes what location-svc did for this order id; 0 when done. */
static int undo_at_location(kn_call *call, const Konnect__Order__V1__CreateOrderRequest *req,
                            const char *order_id)
{
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    ProtobufCMessage *out = NULL;
    if ((int)req->type == ORDER_TYPE_JOB) {
        Konnect__Location__V1__DetachPackagesRequest *d =
            kn_arena_msg(a, &konnect__location__v1__detach_packages_request__descriptor);
        d->order_id = (char *)order_id;
        d->n_package_ids = req->n_package_ids;
        d->package_ids = req->package_ids;
        if (kn_call_downstream(call, order_location_channel, LOC_PATH("DetachPackages"), &d->base,
                               &konnect__location__v1__detach_packages_response__descriptor, &out,
                               1, &st) != KN_OK)
            return -1;
    } else {
        Konnect__Location__V1__ReleaseStockRequest *r =
            kn_arena_msg(a, &konnect__location__v1__release_stock_request__descriptor);
        r->order_id = (char *)order_id;
        r->location_id = req->location_id;
        r->collected = 0;
        if (kn_call_downstream(call, order_location_channel, LOC_PATH("ReleaseStock"), &r->base,
                               &konnect__location__v1__release_stock_response__descriptor, &out, 1,
                               &st) != KN_OK)
            return -1;
    }
    return 0;
}

kn_code order_create(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__CreateOrderRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    order_row *row = NULL;

    if (validate(call, req, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (me->role == KN_ROLE_TECHNICIAN && (int)req->type != ORDER_TYPE_STOCK)
        return kn_call_error(call, KN_PERMISSION_DENIED,
                             "role technician may create stock orders only");
    if (me->role != KN_ROLE_HQ && me->role != KN_ROLE_TECHNICIAN)
        return kn_call_error(call, KN_PERMISSION_DENIED, "role not allowed");

    const char **skus = kn_arena_alloc(a, (req->n_stock_lines + 1) * sizeof(char *));
    int *qty = kn_arena_alloc(a, (req->n_stock_lines + 1) * sizeof(int));
    for (size_t i = 0; i < req->n_stock_lines; i++) {
        skus[i] = req->stock_lines[i]->sku;
        qty[i] = req->stock_lines[i]->quantity;
    }
    char hash[65];
    order_request_hash((int)req->type, req->identifier, req->location_id,
                       (const char *const *)req->package_ids, req->n_package_ids, skus, qty,
                       req->n_stock_lines, hash);
    char order_id[37];
    int has_rid = req->request_id[0] != '\0';
    if (has_rid) {
        order_id_from_request(me->tenant_id, req->request_id, order_id);
        kn_code rc =
            order_store_get_by_request(w->pg, a, me->tenant_id, req->request_id, &row, &st);
        if (rc == KN_OK)
            return answer_existing(call, row, hash, resp);
        if (rc != KN_NOT_FOUND)
            return kn_call_fail(call, &st);
    } else {
        order_id_random(order_id);
    }
    if (req->identifier[0]) {
        int taken = order_store_identifier_taken(w->pg, me->tenant_id, req->identifier, &st);
        if (taken < 0)
            return kn_call_fail(call, &st);
        if (taken)
            return kn_call_error(call, KN_ALREADY_EXISTS, "identifier %s already exists",
                                 req->identifier);
    }

    /* The location's time zone is copied onto the order (ListOrders dates). */
    const char *tz = NULL;
    kn_code lrc = location_time_zone(call, me->tenant_id, req->location_id, &tz, &st);
    if (lrc != KN_OK) {
        if (lrc == KN_NOT_FOUND)
            return kn_call_error(call, KN_NOT_FOUND, "location_id: location %s not found",
                                 req->location_id);
        return order_downstream_fail(call, "GetLocation", &st);
    }

    order_intent intent;
    if (order_store_intent_create(w->pg, a, me->tenant_id, order_id, (int)req->type,
                                  req->location_id, req->identifier, hash, req->package_ids,
                                  req->n_package_ids, &intent, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (strcmp(intent.request_hash, hash) != 0)
        return kn_call_error(call, KN_ALREADY_EXISTS,
                             "request_id was already used with a different request");

    if (kn_pg_begin(w->pg, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (order_store_intent_lock(w->pg, intent.id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        /* A concurrent retry of the same request finished first. */
        if (has_rid && order_store_get_by_request(w->pg, a, me->tenant_id, req->request_id, &row,
                                                  &st) == KN_OK)
            return answer_existing(call, row, hash, resp);
        return kn_call_fail(call, &st);
    }

    ProtobufCMessage *out = NULL;
    kn_code drc;
    if ((int)req->type == ORDER_TYPE_JOB) {
        Konnect__Location__V1__AttachPackagesRequest *at =
            kn_arena_msg(a, &konnect__location__v1__attach_packages_request__descriptor);
        at->order_id = order_id;
        at->order_identifier = intent.identifier;
        at->location_id = req->location_id;
        at->n_package_ids = req->n_package_ids;
        at->package_ids = req->package_ids;
        drc = kn_call_downstream(
            call, order_location_channel, LOC_PATH("AttachPackages"), &at->base,
            &konnect__location__v1__attach_packages_response__descriptor, &out, 0, &st);
    } else {
        Konnect__Location__V1__ReserveStockRequest *rs =
            kn_arena_msg(a, &konnect__location__v1__reserve_stock_request__descriptor);
        rs->order_id = order_id;
        rs->location_id = req->location_id;
        rs->n_lines = req->n_stock_lines;
        rs->lines =
            kn_arena_alloc(a, req->n_stock_lines * sizeof(Konnect__Location__V1__StockLine *));
        for (size_t i = 0; i < req->n_stock_lines; i++) {
            Konnect__Location__V1__StockLine *l =
                kn_arena_msg(a, &konnect__location__v1__stock_line__descriptor);
            l->sku = req->stock_lines[i]->sku;
            l->quantity = req->stock_lines[i]->quantity;
            rs->lines[i] = l;
        }
        drc = kn_call_downstream(call, order_location_channel, LOC_PATH("ReserveStock"), &rs->base,
                                 &konnect__location__v1__reserve_stock_response__descriptor, &out,
                                 0, &st);
    }
    if (drc != KN_OK) {
        kn_pg_rollback(w->pg);
        kn_status ignore = {0};
        /* A refusal changed nothing there; an unknown outcome is left to
         * the retry or the repair tick. */
        if (order_downstream_definite(&st))
            order_store_intent_delete(w->pg, intent.id, &ignore);
        return order_downstream_fail(
            call, (int)req->type == ORDER_TYPE_JOB ? "AttachPackages" : "ReserveStock", &st);
    }

    order_new o = {
        .intent_id = intent.id,
        .id = order_id,
        .tenant = me->tenant_id,
        .actor = me->user_id,
        .type = (int)req->type,
        .identifier = intent.identifier,
        .location = req->location_id,
        .time_zone = tz,
        .request_id = req->request_id,
        .request_hash = hash,
        .package_ids = req->package_ids,
        .npkg = req->n_package_ids,
        .skus = (char *const *)skus,
        .quantities = qty,
        .nlines = req->n_stock_lines,
    };
    if (order_store_insert(w->pg, a, &o, &st) != KN_OK ||
        order_store_get(w->pg, a, me->tenant_id, order_id, 0, &row, &st) != KN_OK ||
        kn_pg_commit(w->pg, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        kn_status ignore = {0};
        if ((st.code == KN_ALREADY_EXISTS || st.code == KN_FAILED_PRECONDITION) &&
            undo_at_location(call, req, order_id) == 0)
            order_store_intent_delete(w->pg, intent.id, &ignore);
        return kn_call_fail(call, &st);
    }
    kn_log_debug("order %s created (%s)", order_id, intent.identifier);
    *resp = (ProtobufCMessage *)order_to_pb(a, row);
    return KN_OK;
}
