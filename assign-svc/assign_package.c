/* AssignPackage / UnassignPackage: a single package, for packages outside
 * an order (SPEC §2 item 8). A package in an order follows its order. */
#include <string.h>

#include "assign.h"
#include "kn_log.h"
#include "kn_validate.h"

static kn_code run_package(kn_call *call, const char *package_id, const char *after,
                           ProtobufCMessage **resp)
{
    const kn_identity *id = kn_call_identity(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st;
    kn_status_clear(&st);
    assign_op op;
    memset(&op, 0, sizeof(op));
    op.call = call;
    op.w = kn_call_worker(call);
    op.a = a;
    op.tenant = id->tenant_id;
    op.actor = id->user_id;
    op.target = ASSIGN_TARGET_PACKAGE;
    op.package_id = package_id;
    op.after = after;

    int noop = 0;
    if (assign_op_begin(&op, &noop, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Location__V1__Package *p = NULL;
    if (assign_get_package(call, a, op.tenant, package_id, &p, &st) != KN_OK) {
        assign_op_abandon(&op);
        assign_map_downstream("package", package_id, &st);
        return kn_call_fail(call, &st);
    }
    const char *cur = p->assignee_user_id ? p->assignee_user_id : "";
    noop = strcmp(cur, after) == 0;
    if (!noop && p->order_id && *p->order_id) {
        assign_op_abandon(&op);
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "package %s belongs to order %s and follows its assignee: %s the "
                             "order instead",
                             package_id, p->order_id, *after ? "assign" : "unassign");
    }
    if (!noop && (p->state == KONNECT__LOCATION__V1__PACKAGE_STATE__PACKAGE_STATE_COLLECTED ||
                  p->state == KONNECT__LOCATION__V1__PACKAGE_STATE__PACKAGE_STATE_RETURNED)) {
        assign_op_abandon(&op);
        return kn_call_error(
            call, KN_FAILED_PRECONDITION, "package %s is %s", package_id,
            p->state == KONNECT__LOCATION__V1__PACKAGE_STATE__PACKAGE_STATE_COLLECTED ? "collected"
                                                                                      : "returned");
    }
    if (noop) {
        assign_op_abandon(&op);
        Konnect__Assign__V1__Assignment *out = assign_noop_result(&op, &st);
        if (!out)
            return kn_call_fail(call, &st);
        *resp = &out->base;
        return KN_OK;
    }
    if (assign_op_applying(&op, cur, &st) != KN_OK)
        return kn_call_fail(call, &st);
    char *ids[1] = {(char *)package_id};
    kn_code c = assign_set_package_assignee(call, a, op.tenant, ids, 1, after,
                                            op.entry.fencing_token, "", &st);
    if (c == KN_ABORTED || c == KN_FAILED_PRECONDITION || c == KN_NOT_FOUND ||
        c == KN_INVALID_ARGUMENT) {
        kn_status fst;
        kn_status_clear(&fst);
        assign_op_finish(&op, ASSIGN_STATE_ROLLED_BACK, NULL, 0, &fst);
        if (c == KN_ABORTED)
            kn_status_set(&st, KN_ABORTED,
                          "package %s: superseded by a newer assignment, nothing changed",
                          package_id);
        else
            assign_map_downstream("package", package_id, &st);
        return kn_call_fail(call, &st);
    }
    if (c != KN_OK) {
        assign_op_leave_pending(&op);
        assign_map_downstream("location", package_id, &st);
        return kn_call_fail(call, &st);
    }
    if (assign_op_finish(&op, ASSIGN_STATE_DONE, ids, 1, &st) != KN_OK)
        return kn_call_fail(call, &st);
    Konnect__Assign__V1__Assignment *out = assign_entry_to_pb(a, &op.entry);
    *resp = &out->base;
    return KN_OK;
}

kn_code assign_assign_package(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__AssignPackageRequest *r =
        (const Konnect__Assign__V1__AssignPackageRequest *)req;
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "assign packages") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("package_id", r->package_id, &st) != KN_OK ||
        kn_check_uuid("user_id", r->user_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const kn_identity *id = kn_call_identity(call);
    if (assign_require_active_user(kn_call_worker(call), kn_call_arena(call), id->tenant_id,
                                   r->user_id, "user_id", &st) != KN_OK)
        return kn_call_fail(call, &st);
    return run_package(call, r->package_id, r->user_id, resp);
}

kn_code assign_unassign_package(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__UnassignPackageRequest *r =
        (const Konnect__Assign__V1__UnassignPackageRequest *)req;
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "unassign packages") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("package_id", r->package_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    return run_package(call, r->package_id, "", resp);
}
