/* AssignOrder, UnassignOrder, SelfAssignOrder: the order and its packages
 * get the same assignee, under the lock, with a fencing token. */
#include <string.h>
#include <strings.h>

#include "assign.h"
#include "kn_log.h"
#include "kn_validate.h"

typedef enum { MODE_ASSIGN, MODE_UNASSIGN, MODE_SELF } order_mode;

static const char *order_status_word(int s)
{
    switch (s) {
    case KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_COLLECTED:
        return "collected";
    case KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_CANCELLED:
        return "cancelled";
    default:
        return "not active";
    }
}

static kn_code check_order(const Konnect__Order__V1__Order *o, order_mode mode, const char *after,
                           int *noop, kn_status *st)
{
    *noop = 0;
    if (o->status != KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_ACTIVE)
        return kn_status_set(st, KN_FAILED_PRECONDITION, "order %s is %s", o->id,
                             order_status_word(o->status));
    const char *cur = o->assignee_user_id ? o->assignee_user_id : "";
    if (mode == MODE_SELF && *cur && strcmp(cur, after) != 0)
        return kn_status_set(st, KN_FAILED_PRECONDITION, "order is already taken");
    if (strcmp(cur, after) == 0)
        *noop = 1;
    return KN_OK;
}

/* Before each lock attempt of a self-assign: once the race is decided the
 * losers leave at once instead of queueing for the lock. */
static kn_code self_precheck(assign_op *op, int *noop, kn_status *st)
{
    Konnect__Order__V1__Order *o = NULL;
    if (assign_get_order(op->call, op->a, op->tenant, op->order_id, &o, st) != KN_OK)
        return assign_map_downstream("order", op->order_id, st);
    return check_order(o, MODE_SELF, op->after, noop, st);
}

/* The order says whether the ledger's no-op holds (it exists, the caller
 * may see it, it is active, it has `after`). *disagree = 1 when the order
 * has another assignee than the ledger said: then *before is the order's. */
static kn_code confirm_noop(assign_op *op, order_mode mode, int *disagree, const char **before,
                            kn_status *st)
{
    Konnect__Order__V1__Order *o = NULL;
    int noop = 0;
    *disagree = 0;
    if (assign_get_order(op->call, op->a, op->tenant, op->order_id, &o, st) != KN_OK)
        return assign_map_downstream("order", op->order_id, st);
    if (check_order(o, mode, op->after, &noop, st) != KN_OK)
        return st->code;
    if (!noop) {
        *before = o->assignee_user_id ? o->assignee_user_id : "";
        *disagree = 1;
        kn_log_warn("order %s: the ledger says assignee '%s', the order '%s': assigning from the "
                    "order's",
                    op->order_id, op->after, *before);
    }
    return KN_OK;
}

static kn_code run_order(kn_call *call, const char *order_id, const char *after, order_mode mode,
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
    op.target = ASSIGN_TARGET_ORDER;
    op.order_id = order_id;
    op.after = after;
    op.precheck = mode == MODE_SELF ? self_precheck : NULL;
    op.open = 1;
    op.require_free = mode == MODE_SELF;

    Konnect__Assign__V1__Assignment *out = NULL;
    int noop = 0;
    if (assign_op_begin(&op, &noop, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (noop) {
        int disagree = 0;
        if (confirm_noop(&op, mode, &disagree, &op.before, &st) != KN_OK)
            return kn_call_fail(call, &st);
        if (disagree && assign_op_begin(&op, &noop, &st) != KN_OK)
            return kn_call_fail(call, &st);
        if (!disagree || noop) {
            out = assign_noop_result(&op, &st);
            if (!out)
                return kn_call_fail(call, &st);
            *resp = &out->base;
            return KN_OK;
        }
    }

    /* The order and its packages at once: the chain costs the slower of
     * the two. Where the packages ran ahead of an order that refused (it
     * was cancelled meanwhile), order-svc's detach gives them the order's
     * assignee back (docs/assign-svc.md). */
    assign_applied r;
    assign_set_order_and_packages(call, a, order_id, after, op.entry.fencing_token, &r);
    kn_code c = r.order_code;
    st = r.order_st;
    if (c == KN_ABORTED) {
        /* A newer token was applied first: our change is superseded. */
        kn_status fst;
        kn_status_clear(&fst);
        assign_op_finish(&op, ASSIGN_STATE_ROLLED_BACK, NULL, 0, &fst);
        return kn_call_error(call, KN_ABORTED,
                             "order %s: superseded by a newer assignment, nothing changed",
                             order_id);
    }
    if (c == KN_FAILED_PRECONDITION || c == KN_NOT_FOUND || c == KN_INVALID_ARGUMENT) {
        /* Refused before anything changed (not active, unknown): the
         * ledger keeps no trace of a change that never was. */
        assign_op_discard(&op);
        assign_map_downstream("order", order_id, &st);
        return kn_call_fail(call, &st);
    }
    if (c != KN_OK) {
        /* Maybe applied, maybe not: the repair loop rolls it forward with
         * the same token. */
        assign_op_leave_pending(&op);
        assign_map_downstream("order", order_id, &st);
        return kn_call_fail(call, &st);
    }
    Konnect__Order__V1__Order *applied = r.order;
    c = r.packages_code;
    st = r.packages_st;
    if (c == KN_OK) {
        /* A package the order holds but location-svc did not yet count as
         * the order's when it read them (attached by an edit that committed
         * just before SetAssignee) follows by id. */
        char **late = kn_arena_alloc(a, sizeof(char *) * (applied->n_package_ids + 1));
        size_t nlate = 0;
        for (size_t i = 0; i < applied->n_package_ids; i++) {
            int seen = 0;
            for (size_t j = 0; j < r.packages->n_packages && !seen; j++)
                seen = strcasecmp(applied->package_ids[i], r.packages->packages[j]->id) == 0;
            if (!seen)
                late[nlate++] = applied->package_ids[i];
        }
        if (nlate > 0)
            c = assign_set_package_assignee(call, a, op.tenant, late, nlate, after,
                                            op.entry.fencing_token, order_id, &st);
    }
    if (c == KN_UNAVAILABLE || c == KN_DEADLINE_EXCEEDED || c == KN_INTERNAL || c == KN_UNKNOWN) {
        assign_op_leave_pending(&op);
        assign_map_downstream("location", order_id, &st);
        return kn_call_fail(call, &st);
    }
    /* ABORTED: a package already carries a newer token (a newer change of
     * its own won); the order's change stands. */
    if (c != KN_OK)
        kn_log_warn("order %s: packages not all updated with token %lld: %s %s", order_id,
                    (long long)op.entry.fencing_token, kn_code_name(c), st.message);
    if (assign_op_finish(&op, ASSIGN_STATE_DONE, applied->package_ids, applied->n_package_ids,
                         &st) != KN_OK)
        return kn_call_fail(call, &st);
    out = assign_entry_to_pb(a, &op.entry);
    *resp = &out->base;
    return KN_OK;
}

kn_code assign_assign_order(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__AssignOrderRequest *r =
        (const Konnect__Assign__V1__AssignOrderRequest *)req;
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "assign orders to users") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK ||
        kn_check_uuid("user_id", r->user_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const kn_identity *id = kn_call_identity(call);
    if (assign_require_active_user(kn_call_worker(call), kn_call_arena(call), id->tenant_id,
                                   r->user_id, "user_id", &st) != KN_OK)
        return kn_call_fail(call, &st);
    return run_order(call, r->order_id, r->user_id, MODE_ASSIGN, resp);
}

kn_code assign_unassign_order(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__UnassignOrderRequest *r =
        (const Konnect__Assign__V1__UnassignOrderRequest *)req;
    kn_status st;
    kn_status_clear(&st);
    if (assign_require_hq(call, "unassign orders") != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    return run_order(call, r->order_id, "", MODE_UNASSIGN, resp);
}

/* Any active user of the tenant may take an order for themselves, hq
 * included (docs/assign-svc.md); a token whose sub is not a user of the
 * tenant (e.g. the system user) is refused. */
kn_code assign_self_assign_order(kn_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__SelfAssignOrderRequest *r =
        (const Konnect__Assign__V1__SelfAssignOrderRequest *)req;
    kn_status st;
    kn_status_clear(&st);
    if (kn_check_uuid("order_id", r->order_id, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const kn_identity *id = kn_call_identity(call);
    assign_user_row u;
    kn_code c = assign_store_user_get(((kn_worker *)kn_call_worker(call))->pg, kn_call_arena(call),
                                      id->tenant_id, id->user_id, &u, &st);
    if (c == KN_NOT_FOUND)
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "the caller is not a user of this tenant and cannot take orders");
    if (c != KN_OK)
        return kn_call_fail(call, &st);
    if (!u.active)
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "the caller's user is deactivated and cannot take orders");
    return run_order(call, r->order_id, id->user_id, MODE_SELF, resp);
}
