/* CancelOrder and CollectOrder: the two ways out of ACTIVE. */
#include <string.h>
#include <strings.h>

#include "kn_log.h"
#include "kn_validate.h"
#include "order_svc.h"

/* Cancel commits first (with an intent row), then releases at
 * location-svc: a crash in between is finished by the repair tick. */
kn_code order_cancel(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__CancelOrderRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    if (kn_call_require_role(call, KN_ROLE_HQ) != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("id", req->id, &st) != KN_OK ||
        kn_check_multiline_text("reason", req->reason, 0, 500, &st) != KN_OK)
        return kn_call_fail(call, &st);
    order_row *row = NULL;
    kn_code rc = order_lock_for_edit(call, req->id, req->etag, 0, &row);
    if (rc != KN_OK || row == NULL) /* row is set whenever rc is OK */
        return rc;
    char intent_id[37];
    order_id_random(intent_id);
    if (order_store_cancel(w->pg, row, me->user_id, req->reason, intent_id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    rc = order_finish_edit(call, req->id, resp);
    if (rc != KN_OK)
        return rc;
    if (row->type == ORDER_TYPE_JOB) {
        order_detach_after_commit(call, row, row->package_ids, row->npkg, intent_id);
    } else {
        Konnect__Location__V1__ReleaseStockRequest *r =
            kn_arena_msg(a, &konnect__location__v1__release_stock_request__descriptor);
        r->order_id = row->id;
        r->location_id = row->location_id;
        r->collected = 0;
        ProtobufCMessage *out = NULL;
        if (kn_call_downstream(call, order_location_channel, LOC_PATH("ReleaseStock"), &r->base,
                               &konnect__location__v1__release_stock_response__descriptor, &out, 1,
                               &st) == KN_OK ||
            order_downstream_definite(&st)) {
            kn_status ignore = {0};
            order_store_intent_delete(w->pg, intent_id, &ignore);
        } else {
            kn_log_warn("ReleaseStock for order %s failed (%s); the repair tick will retry",
                        row->id, st.message);
        }
    }
    return KN_OK;
}

/* Collect asks location-svc first (the door opens, the packages are taken,
 * or the reserved stock leaves the locker) while the order row is locked,
 * then commits. location-svc treats a repeated collect of the same order
 * as done, so a retry after a failed commit converges. */
kn_code order_collect(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__CollectOrderRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    if (kn_check_uuid("id", req->id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    order_row *row = NULL;
    kn_code rc = order_lock_for_edit(call, req->id, NULL, 0, &row);
    if (rc != KN_OK || row == NULL) /* row is set whenever rc is OK */
        return rc;
    if (me->role != KN_ROLE_HQ && strcasecmp(row->assignee, me->user_id) != 0) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "order %s is not assigned to you: take it first", req->id);
    }
    ProtobufCMessage *out = NULL;
    kn_code drc;
    if (row->type == ORDER_TYPE_JOB) {
        Konnect__Location__V1__CollectPackagesRequest *c =
            kn_arena_msg(a, &konnect__location__v1__collect_packages_request__descriptor);
        c->order_id = row->id;
        c->n_package_ids = row->npkg;
        c->package_ids = row->package_ids;
        drc = kn_call_downstream(
            call, order_location_channel, LOC_PATH("CollectPackages"), &c->base,
            &konnect__location__v1__collect_packages_response__descriptor, &out, 0, &st);
    } else {
        Konnect__Location__V1__ReleaseStockRequest *r =
            kn_arena_msg(a, &konnect__location__v1__release_stock_request__descriptor);
        r->order_id = row->id;
        r->location_id = row->location_id;
        r->collected = 1;
        drc = kn_call_downstream(call, order_location_channel, LOC_PATH("ReleaseStock"), &r->base,
                                 &konnect__location__v1__release_stock_response__descriptor, &out,
                                 0, &st);
    }
    if (drc != KN_OK) {
        kn_pg_rollback(w->pg);
        return order_downstream_fail(
            call, row->type == ORDER_TYPE_JOB ? "CollectPackages" : "ReleaseStock", &st);
    }
    if (order_store_collect(w->pg, row, me->user_id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    return order_finish_edit(call, req->id, resp);
}
