/* order_common: helpers the handler files share. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "kn_log.h"
#include "order_svc.h"

static Google__Protobuf__Timestamp *ts(kn_arena *a, int64_t us)
{
    if (us == 0)
        return NULL;
    Google__Protobuf__Timestamp *t = kn_arena_msg(a, &google__protobuf__timestamp__descriptor);
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    t->seconds = secs;
    t->nanos = (int32_t)((us - secs * 1000000) * 1000);
    return t;
}

Konnect__Order__V1__Order *order_to_pb(kn_arena *a, const order_row *r)
{
    Konnect__Order__V1__Order *o = kn_arena_msg(a, &konnect__order__v1__order__descriptor);
    o->id = r->id;
    o->tenant_id = r->tenant_id;
    o->type = (Konnect__Order__V1__OrderType)r->type;
    o->identifier = r->identifier;
    o->status = (Konnect__Order__V1__OrderStatus)r->status;
    o->location_id = r->location_id;
    o->n_package_ids = r->npkg;
    o->package_ids = r->package_ids;
    if (r->nlines) {
        o->n_stock_lines = r->nlines;
        o->stock_lines = kn_arena_alloc(a, r->nlines * sizeof(Konnect__Order__V1__StockLine *));
        for (size_t i = 0; i < r->nlines; i++) {
            Konnect__Order__V1__StockLine *l =
                kn_arena_msg(a, &konnect__order__v1__stock_line__descriptor);
            l->sku = r->skus[i];
            l->quantity = r->quantities[i];
            o->stock_lines[i] = l;
        }
    }
    o->assignee_user_id = r->assignee;
    o->etag = kn_arena_sprintf(a, "%" PRId64, r->version);
    o->create_time = ts(a, r->create_us);
    o->update_time = ts(a, r->update_us);
    o->collect_time = ts(a, r->collect_us);
    o->cancel_time = ts(a, r->cancel_us);
    return o;
}

int order_visible(const kn_identity *id, const char *assignee)
{
    if (id->role == KN_ROLE_HQ)
        return 1;
    if (id->role != KN_ROLE_TECHNICIAN)
        return 0;
    return !assignee || !*assignee || strcasecmp(assignee, id->user_id) == 0;
}

kn_code order_downstream_fail(kn_call *call, const char *what, const kn_status *st)
{
    switch (st->code) {
    case KN_INVALID_ARGUMENT:
    case KN_NOT_FOUND:
    case KN_ALREADY_EXISTS:
    case KN_FAILED_PRECONDITION:
    case KN_ABORTED:
    case KN_OUT_OF_RANGE:
        /* The callee's message names the package / sku: pass it on. */
        return kn_call_error(call, st->code, "%s", st->message);
    case KN_DEADLINE_EXCEEDED:
        return kn_call_error(call, KN_DEADLINE_EXCEEDED, "%s: location-svc did not answer in time",
                             what);
    default:
        kn_log_warn("%s: location-svc answered %s: %s", what, kn_code_name(st->code), st->message);
        return kn_call_error(call, KN_UNAVAILABLE, "%s: location-svc unavailable", what);
    }
}

/* A client error from location-svc means it changed nothing (its calls are
 * all or none); anything else leaves the outcome unknown. */
int order_downstream_definite(const kn_status *st)
{
    switch (st->code) {
    case KN_INVALID_ARGUMENT:
    case KN_NOT_FOUND:
    case KN_ALREADY_EXISTS:
    case KN_FAILED_PRECONDITION:
    case KN_ABORTED:
    case KN_OUT_OF_RANGE:
    case KN_PERMISSION_DENIED:
        return 1;
    default:
        return 0;
    }
}
