/* The repair tick: finishes at location-svc what a dead call left behind.
 * An intent older than ORDER_INTENT_AGE_S whose call is no longer working
 * (its row is not locked) is undone: packages it names that the order does
 * not hold are detached; the stock of an order that does not exist or was
 * cancelled is released. Both calls are idempotent at location-svc, so a
 * crash of the tick itself only repeats them. Calls are signed as
 * order-svc with a short-lived system token for the intent's tenant. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kn_jwt.h"
#include "kn_log.h"
#include "order_svc.h"

#define ORDER_INTENT_AGE_S 30
#define ORDER_REPAIR_BATCH 20
#define SYSTEM_USER        "00000000-0000-0000-0000-000000000000"

static kn_code repair_one(kn_worker *w, kn_arena *a, const order_intent_row *it, kn_status *st)
{
    kn_identity sys = {.role = KN_ROLE_HQ};
    int64_t now = (int64_t)time(NULL);
    snprintf(sys.user_id, sizeof(sys.user_id), "%s", SYSTEM_USER);
    snprintf(sys.tenant_id, sizeof(sys.tenant_id), "%s", it->tenant);
    sys.exp = now + 60;
    const char *secret = w->cfg->jwt_secret ? w->cfg->jwt_secret : "";
    char tok[1024];
    if (kn_jwt_sign(&sys, now, (const unsigned char *)secret, strlen(secret), tok, sizeof(tok)) < 0)
        return kn_status_set(st, KN_INTERNAL, "cannot sign the system token");
    const char *isecret = w->cfg->internal_secret ? w->cfg->internal_secret : "";
    kn_call_opts opts = {
        .timeout_ms = 5000,
        .idempotent = 1,
        .authorization = kn_arena_sprintf(a, "Bearer %s", tok),
        .caller_service = ORDER_SERVICE_NAME,
        .internal_secret = (const unsigned char *)isecret,
        .internal_secret_len = strlen(isecret),
    };
    ProtobufCMessage *out = NULL;
    if (it->type == ORDER_TYPE_JOB) {
        if (it->ndetach == 0)
            return KN_OK;
        Konnect__Location__V1__DetachPackagesRequest *d =
            kn_arena_msg(a, &konnect__location__v1__detach_packages_request__descriptor);
        d->order_id = it->order_id;
        d->n_package_ids = it->ndetach;
        d->package_ids = it->detach;
        /* As order_detach_after_commit does, when the order exists. */
        d->set_assignee = it->order_status != 0;
        d->assignee_user_id = it->assignee;
        return kn_channel_call(order_location_channel, LOC_PATH("DetachPackages"), &d->base,
                               &konnect__location__v1__detach_packages_response__descriptor, &out,
                               a, &opts, st);
    }
    if (it->order_status != 0 && it->order_status != ORDER_ST_CANCELLED)
        return KN_OK; /* a live or collected stock order keeps its stock */
    Konnect__Location__V1__ReleaseStockRequest *r =
        kn_arena_msg(a, &konnect__location__v1__release_stock_request__descriptor);
    r->order_id = it->order_id;
    r->location_id = it->location;
    r->collected = 0;
    return kn_channel_call(order_location_channel, LOC_PATH("ReleaseStock"), &r->base,
                           &konnect__location__v1__release_stock_response__descriptor, &out, a,
                           &opts, st);
}

void order_repair_tick(kn_worker *w)
{
    order_cache_flush_pending(w);
    kn_arena *a = kn_arena_new(16384);
    kn_status st = {0};
    char **ids = NULL;
    size_t n = 0;
    if (order_store_stale_intents(w->pg, a, ORDER_INTENT_AGE_S, ORDER_REPAIR_BATCH, &ids, &n,
                                  &st) != KN_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        order_intent_row it;
        if (kn_pg_begin(w->pg, &st) != KN_OK)
            goto done;
        if (order_store_intent_take(w->pg, a, ids[i], &it, &st) != KN_OK) {
            kn_pg_rollback(w->pg);
            continue;
        }
        kn_status dst = {0};
        kn_code rc = repair_one(w, a, &it, &dst);
        if (rc != KN_OK && !order_downstream_definite(&dst)) {
            kn_log_warn("repair: %s intent of order %s not undone yet: %s", it.kind, it.order_id,
                        dst.message);
            kn_pg_rollback(w->pg);
            continue;
        }
        if (rc != KN_OK)
            kn_log_warn("repair: location-svc refused undoing %s intent of order %s: %s", it.kind,
                        it.order_id, dst.message);
        if (order_store_intent_delete(w->pg, it.id, &st) != KN_OK ||
            kn_pg_commit(w->pg, &st) != KN_OK) {
            kn_pg_rollback(w->pg);
            continue;
        }
        kn_log_info("repair: undid %s intent of order %s (%zu package(s))", it.kind, it.order_id,
                    it.ndetach);
    }
done:
    kn_arena_free(a);
}
