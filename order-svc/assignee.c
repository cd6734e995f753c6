/* SetAssignee (internal: assign-svc only, enforced by KN_METHOD_INTERNAL).
 * Fencing: token > stored → apply and store the token; token == stored
 * with the same assignee → an idempotent retry, OK and nothing changed;
 * otherwise ABORTED and nothing changed. The UPDATE's WHERE repeats the
 * token check, so a stale holder cannot win a race either. */
#include <string.h>
#include <strings.h>

#include "kn_validate.h"
#include "order_svc.h"

kn_code order_set_assignee(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__SetAssigneeRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_status st = {0};
    if (kn_check_uuid("order_id", req->order_id, &st) != KN_OK ||
        kn_check_uuid_opt("assignee_user_id", req->assignee_user_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (strcmp(req->assignee_user_id, ORDER_NIL_UUID) == 0)
        return kn_call_error(call, KN_INVALID_ARGUMENT,
                             "assignee_user_id must not be the nil UUID");
    if (req->fencing_token <= 0)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "fencing_token must be greater than 0");

    /* No visibility check: assign-svc acts for the user whose token it
     * forwards and has decided already (a technician taking an order). */
    if (kn_pg_begin(w->pg, &st) != KN_OK)
        return kn_call_fail(call, &st);
    order_row *row = NULL;
    if (order_store_get(w->pg, kn_call_arena(call), me->tenant_id, req->order_id, 1, &row, &st) !=
        KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    /* The retry first: a change applied before the order was cancelled or
     * collected stays applied, and the repair re-sending it must hear so. */
    if (req->fencing_token == row->fencing_token &&
        strcasecmp(req->assignee_user_id, row->assignee) == 0) {
        kn_pg_rollback(w->pg);
        *resp = (ProtobufCMessage *)order_to_pb(kn_call_arena(call), row);
        return KN_OK;
    }
    if (row->status != ORDER_ST_ACTIVE) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_FAILED_PRECONDITION, "order %s is %s and cannot be assigned",
                             req->order_id,
                             row->status == ORDER_ST_COLLECTED ? "collected" : "cancelled");
    }
    if (req->fencing_token <= row->fencing_token) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_ABORTED,
                             "fencing_token %lld is not newer than the order's last token",
                             (long long)req->fencing_token);
    }
    if (order_store_set_assignee(w->pg, row, me->user_id, req->assignee_user_id, req->fencing_token,
                                 &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    return order_finish_edit(call, req->order_id, resp);
}
