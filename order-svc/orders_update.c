/* UpdateOrder (identifier), AddPackages, RemovePackages. Every edit locks
 * the order row (SELECT ... FOR UPDATE), checks status and etag, and then
 * runs one statement whose WHERE repeats the version and status checks, so
 * two concurrent edits cannot both win even if the C checks were wrong. */
#include <string.h>
#include <strings.h>

#include "kn_log.h"
#include "kn_validate.h"
#include "order_svc.h"

static const char *status_name(int s)
{
    return s == ORDER_ST_COLLECTED ? "collected" : s == ORDER_ST_CANCELLED ? "cancelled" : "active";
}

kn_code order_lock_for_edit(kn_call *call, const char *id, const char *etag, int etag_required,
                            order_row **row)
{
    kn_worker *w = kn_call_worker(call);
    const kn_identity *me = kn_call_identity(call);
    kn_status st = {0};
    int64_t want = 0;
    if (etag && *etag) {
        want = order_etag_parse(etag);
        if (want < 0)
            return kn_call_error(call, KN_INVALID_ARGUMENT, "etag is malformed");
    } else if (etag_required) {
        return kn_call_error(call, KN_INVALID_ARGUMENT, "etag is required");
    }
    if (kn_pg_begin(w->pg, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (order_store_get(w->pg, kn_call_arena(call), me->tenant_id, id, 1, row, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    if (!order_visible(me, (*row)->assignee)) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_NOT_FOUND, "order %s not found", id);
    }
    if ((*row)->status != ORDER_ST_ACTIVE) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_FAILED_PRECONDITION, "order %s is %s and cannot be changed",
                             id, status_name((*row)->status));
    }
    if (want && want != (*row)->version) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_ABORTED, "etag is stale: the order was changed");
    }
    return KN_OK;
}

kn_code order_finish_edit(kn_call *call, const char *id, ProtobufCMessage **resp)
{
    kn_worker *w = kn_call_worker(call);
    const kn_identity *me = kn_call_identity(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    order_row *row = NULL;
    /* The answer is read inside the transaction (the row is locked, so it
     * is what the commit makes) and the COMMIT rides with it. */
    kn_pg_commit_on_next(w->pg);
    if (order_store_get(w->pg, a, me->tenant_id, id, 0, &row, &st) != KN_OK ||
        kn_pg_commit(w->pg, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    order_cache_invalidate(w, me->tenant_id, id);
    *resp = (ProtobufCMessage *)order_to_pb(a, row);
    return KN_OK;
}

kn_code order_update(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__UpdateOrderRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_status st = {0};
    if (kn_call_require_role(call, KN_ROLE_HQ) != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("id", req->id, &st) != KN_OK ||
        kn_check_text("identifier", req->identifier, 1, ORDER_IDENTIFIER_MAX, &st) != KN_OK)
        return kn_call_fail(call, &st);
    order_row *row = NULL;
    kn_code rc = order_lock_for_edit(call, req->id, req->etag, 1, &row);
    if (rc != KN_OK || row == NULL) /* row is set whenever rc is OK */
        return rc;
    if (strcmp(row->identifier, req->identifier) == 0) {
        kn_pg_rollback(w->pg);
        *resp = (ProtobufCMessage *)order_to_pb(kn_call_arena(call), row);
        return KN_OK;
    }
    if (order_store_set_identifier(w->pg, row, me->user_id, req->identifier, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        if (st.code == KN_ALREADY_EXISTS)
            return kn_call_error(call, KN_ALREADY_EXISTS, "identifier %s already exists",
                                 req->identifier);
        return kn_call_fail(call, &st);
    }
    return order_finish_edit(call, req->id, resp);
}

static int in_list(char *const *ids, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(ids[i], id) == 0)
            return 1;
    return 0;
}

kn_code order_add_packages(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__AddPackagesRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0}, ignore = {0};
    if (kn_call_require_role(call, KN_ROLE_HQ) != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("order_id", req->order_id, &st) != KN_OK ||
        order_check_uuid_list("package_ids", req->package_ids, req->n_package_ids, 1,
                              ORDER_MAX_PACKAGES, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (req->etag[0] && order_etag_parse(req->etag) < 0)
        return kn_call_error(call, KN_INVALID_ARGUMENT, "etag is malformed");

    /* The intent needs the order's type and location: read them unlocked
     * (they never change), write the intent, then lock and check. */
    order_row *row = NULL;
    if (order_store_get(w->pg, a, me->tenant_id, req->order_id, 0, &row, &st) != KN_OK)
        return kn_call_fail(call, &st);
    if (row->type != ORDER_TYPE_JOB)
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "order %s is a stock order and has no packages", req->order_id);
    char intent_id[37];
    if (order_store_intent_add(w->pg, me->tenant_id, req->order_id, "add", row->type,
                               row->location_id, req->package_ids, req->n_package_ids, intent_id,
                               &st) != KN_OK)
        return kn_call_fail(call, &st);

    kn_code rc = order_lock_for_edit(call, req->order_id, req->etag, 0, &row);
    if (rc != KN_OK || row == NULL) { /* row is set whenever rc is OK */
        order_store_intent_delete(w->pg, intent_id, &ignore);
        return rc;
    }
    if (order_store_intent_lock(w->pg, intent_id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    /* Packages already in this order are not added twice. */
    char **fresh = kn_arena_alloc(a, req->n_package_ids * sizeof(char *));
    size_t nfresh = 0;
    for (size_t i = 0; i < req->n_package_ids; i++)
        if (!in_list(row->package_ids, row->npkg, req->package_ids[i]))
            fresh[nfresh++] = req->package_ids[i];
    if (nfresh == 0) {
        kn_pg_rollback(w->pg);
        order_store_intent_delete(w->pg, intent_id, &ignore);
        *resp = (ProtobufCMessage *)order_to_pb(a, row);
        return KN_OK;
    }
    if (row->npkg + nfresh > ORDER_MAX_PACKAGES) {
        kn_pg_rollback(w->pg);
        order_store_intent_delete(w->pg, intent_id, &ignore);
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "package_ids: an order holds at most %d packages", ORDER_MAX_PACKAGES);
    }

    /* The packages take the order's assignee under its fencing token. */
    Konnect__Location__V1__AttachPackagesRequest *at =
        kn_arena_msg(a, &konnect__location__v1__attach_packages_request__descriptor);
    at->order_id = row->id;
    at->order_identifier = row->identifier;
    at->location_id = row->location_id;
    at->n_package_ids = nfresh;
    at->package_ids = fresh;
    at->assignee_user_id = row->assignee;
    at->fencing_token = row->fencing_token;
    ProtobufCMessage *out = NULL;
    if (kn_call_downstream(call, order_location_channel, LOC_PATH("AttachPackages"), &at->base,
                           &konnect__location__v1__attach_packages_response__descriptor, &out, 0,
                           &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        if (order_downstream_definite(&st))
            order_store_intent_delete(w->pg, intent_id, &ignore);
        return order_downstream_fail(call, "AttachPackages", &st);
    }
    if (order_store_add_packages(w->pg, row, me->user_id, fresh, nfresh, &st) != KN_OK ||
        order_store_intent_delete(w->pg, intent_id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        /* Attached there, not here: undo now, or leave it to the tick. */
        Konnect__Location__V1__DetachPackagesRequest *d =
            kn_arena_msg(a, &konnect__location__v1__detach_packages_request__descriptor);
        d->order_id = row->id;
        d->n_package_ids = nfresh;
        d->package_ids = fresh;
        kn_status dst = {0};
        if (kn_call_downstream(call, order_location_channel, LOC_PATH("DetachPackages"), &d->base,
                               &konnect__location__v1__detach_packages_response__descriptor, &out,
                               1, &dst) == KN_OK)
            order_store_intent_delete(w->pg, intent_id, &ignore);
        return kn_call_fail(call, &st);
    }
    return order_finish_edit(call, req->order_id, resp);
}

/* Detaches after the commit; the intent row written with the change lets
 * the repair tick finish the job if this call dies first. */
void order_detach_after_commit(kn_call *call, const order_row *row, char *const *ids, size_t n,
                               const char *intent_id)
{
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    kn_status st = {0};
    ProtobufCMessage *out = NULL;
    if (n == 0) {
        order_store_intent_delete(w->pg, intent_id, &st);
        return;
    }
    Konnect__Location__V1__DetachPackagesRequest *d =
        kn_arena_msg(a, &konnect__location__v1__detach_packages_request__descriptor);
    d->order_id = row->id;
    d->n_package_ids = n;
    d->package_ids = (char **)ids;
    /* They leave with the order's assignee: see assign-svc's AssignOrder,
     * whose package change runs beside the order's and may have reached
     * packages of an order cancelled meanwhile. */
    d->set_assignee = 1;
    d->assignee_user_id = row->assignee;
    if (kn_call_downstream(call, order_location_channel, LOC_PATH("DetachPackages"), &d->base,
                           &konnect__location__v1__detach_packages_response__descriptor, &out, 1,
                           &st) == KN_OK ||
        order_downstream_definite(&st)) {
        if (st.code != KN_OK)
            kn_log_warn("DetachPackages for order %s refused: %s", row->id, st.message);
        kn_status ignore = {0};
        order_store_intent_delete(w->pg, intent_id, &ignore);
    } else {
        kn_log_warn("DetachPackages for order %s failed (%s); the repair tick will retry", row->id,
                    st.message);
    }
}

kn_code order_remove_packages(kn_call *call, const ProtobufCMessage *req_, ProtobufCMessage **resp)
{
    const Konnect__Order__V1__RemovePackagesRequest *req = (const void *)req_;
    const kn_identity *me = kn_call_identity(call);
    kn_worker *w = kn_call_worker(call);
    kn_status st = {0};
    if (kn_call_require_role(call, KN_ROLE_HQ) != KN_OK)
        return KN_PERMISSION_DENIED;
    if (kn_check_uuid("order_id", req->order_id, &st) != KN_OK ||
        order_check_uuid_list("package_ids", req->package_ids, req->n_package_ids, 1,
                              ORDER_MAX_PACKAGES, &st) != KN_OK)
        return kn_call_fail(call, &st);
    order_row *row = NULL;
    kn_code rc = order_lock_for_edit(call, req->order_id, req->etag, 0, &row);
    if (rc != KN_OK || row == NULL) /* row is set whenever rc is OK */
        return rc;
    if (row->type != ORDER_TYPE_JOB) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "order %s is a stock order and has no packages", req->order_id);
    }
    for (size_t i = 0; i < req->n_package_ids; i++) {
        if (!in_list(row->package_ids, row->npkg, req->package_ids[i])) {
            kn_pg_rollback(w->pg);
            return kn_call_error(call, KN_NOT_FOUND,
                                 "package_ids[%zu]: package %s is not in order %s", i,
                                 req->package_ids[i], req->order_id);
        }
    }
    if (req->n_package_ids >= row->npkg) {
        kn_pg_rollback(w->pg);
        return kn_call_error(call, KN_FAILED_PRECONDITION,
                             "package_ids: a job order keeps at least one package; cancel the "
                             "order instead");
    }
    char intent_id[37];
    order_id_random(intent_id);
    if (order_store_remove_packages(w->pg, row, me->user_id, req->package_ids, req->n_package_ids,
                                    intent_id, &st) != KN_OK) {
        kn_pg_rollback(w->pg);
        return kn_call_fail(call, &st);
    }
    rc = order_finish_edit(call, req->order_id, resp);
    if (rc == KN_OK)
        order_detach_after_commit(call, row, req->package_ids, req->n_package_ids, intent_id);
    return rc;
}
