/* ListAssignments: the ledger by user, order or package (filters combine
 * with AND), newest fencing token first. A technician sees only entries
 * that involve themselves. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "assign.h"
#include "kn_pagetoken.h"
#include "kn_validate.h"

Konnect__Assign__V1__Assignment *assign_entry_to_pb(kn_arena *a, const assign_entry *e)
{
    Konnect__Assign__V1__Assignment *p =
        kn_arena_msg(a, &konnect__assign__v1__assignment__descriptor);
    p->id = e->id;
    p->tenant_id = e->tenant_id;
    p->target = (Konnect__Assign__V1__AssignmentTarget)e->target;
    p->order_id = e->order_id;
    p->package_id = e->package_id;
    p->actor_user_id = e->actor_user_id;
    p->before_user_id = e->before_user_id;
    p->after_user_id = e->after_user_id;
    p->fencing_token = e->fencing_token;
    p->state = (Konnect__Assign__V1__AssignmentState)e->state;
    p->create_time = assign_ts(a, e->create_us);
    p->complete_time = assign_ts(a, e->complete_us);
    return p;
}

kn_code assign_list_assignments(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Konnect__Assign__V1__ListAssignmentsRequest *r =
        (const Konnect__Assign__V1__ListAssignmentsRequest *)req;
    kn_worker *w = kn_call_worker(call);
    kn_arena *a = kn_call_arena(call);
    const kn_identity *id = kn_call_identity(call);
    kn_status st;
    kn_status_clear(&st);
    int page = 0;
    if (kn_check_uuid_opt("user_id", r->user_id, &st) != KN_OK ||
        kn_check_uuid_opt("order_id", r->order_id, &st) != KN_OK ||
        kn_check_uuid_opt("package_id", r->package_id, &st) != KN_OK ||
        kn_page_size("page_size", r->page_size, 50, 500, &page, &st) != KN_OK)
        return kn_call_fail(call, &st);
    const char *user = r->user_id;
    if (id->role != KN_ROLE_HQ) {
        if (*user && strcasecmp(user, id->user_id) != 0)
            return kn_call_error(call, KN_PERMISSION_DENIED,
                                 "a technician may list only their own assignments");
        user = id->user_id;
    }

    const char *parts[] = {id->tenant_id, "assignments", user, r->order_id, r->package_id};
    uint64_t qh = kn_page_query_hash(parts, sizeof(parts) / sizeof(parts[0]));
    assign_entry_query q;
    memset(&q, 0, sizeof(q));
    kn_page_key key;
    if (*r->page_token) {
        if (kn_page_token_decode("page_token", r->page_token, qh, &key, &st) != KN_OK)
            return kn_call_fail(call, &st);
        q.has_before = 1;
        q.before_token = key.time_us;
    }
    q.tenant = id->tenant_id;
    q.user_id = user;
    q.order_id = r->order_id;
    q.package_id = r->package_id;
    q.limit = page + 1;
    assign_entry *rows = NULL;
    size_t n = 0;
    if (assign_store_entry_list(w->pg, a, &q, &rows, &n, &st) != KN_OK)
        return kn_call_fail(call, &st);

    Konnect__Assign__V1__ListAssignmentsResponse *out =
        kn_arena_msg(a, &konnect__assign__v1__list_assignments_response__descriptor);
    size_t shown = n > (size_t)page ? (size_t)page : n;
    out->assignments =
        kn_arena_alloc(a, sizeof(Konnect__Assign__V1__Assignment *) * (shown ? shown : 1));
    for (size_t i = 0; i < shown; i++)
        out->assignments[i] = assign_entry_to_pb(a, &rows[i]);
    out->n_assignments = shown;
    out->next_page_token = "";
    if (n > (size_t)page) {
        memset(&key, 0, sizeof(key));
        key.time_us = rows[shown - 1].fencing_token;
        snprintf(key.id, sizeof(key.id), "%s", rows[shown - 1].id);
        char tok[256];
        if (kn_page_token_encode(&key, qh, tok, sizeof(tok)) < 0)
            return kn_call_error(call, KN_INTERNAL, "page token too long");
        out->next_page_token = kn_arena_strdup(a, tok);
    }
    *resp = &out->base;
    return KN_OK;
}
