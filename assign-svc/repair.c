/* The repair loop (kn_service tick, on every replica): pending ledger
 * entries not touched for KN_ASSIGN_REPAIR_AFTER_MS belong to a holder that
 * crashed or stalls. A reserved entry (nothing sent downstream) is dropped;
 * an applying one is rolled forward with its own fencing token, which
 * order-svc and location-svc accept as a retry (same token, same
 * assignee) or refuse with ABORTED when a newer token won meanwhile (then
 * the entry is rolled back: the newer change stands). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "kn_log.h"

#define REPAIR_BATCH     20
#define PURGE_INTERVAL_S 60

static int refused(kn_code c)
{
    return c == KN_ABORTED || c == KN_FAILED_PRECONDITION || c == KN_NOT_FOUND ||
           c == KN_INVALID_ARGUMENT;
}

kn_code assign_repair_entry(kn_arena *a, kn_pg *pg, const assign_entry *e, kn_status *st)
{
    assign_entry fin;
    if (e->phase == ASSIGN_PHASE_RESERVED) {
        kn_log_info("repair: dropping reserved assignment %s (token %lld)", e->id,
                    (long long)e->fencing_token);
        return assign_store_entry_drop_reserved(pg, e->id, st);
    }
    if (e->target == ASSIGN_TARGET_ORDER) {
        Konnect__Order__V1__Order *o = NULL;
        kn_code c = assign_set_order_assignee(NULL, a, e->tenant_id, e->order_id, e->after_user_id,
                                              e->fencing_token, &o, st);
        if (refused(c)) {
            kn_log_info("repair: assignment %s of order %s rolled back (%s: %s)", e->id,
                        e->order_id, kn_code_name(c), st->message);
            return assign_store_entry_finish(pg, a, e->id, ASSIGN_STATE_ROLLED_BACK, NULL, &fin,
                                             st);
        }
        if (c != KN_OK)
            return c;
        if (o->n_package_ids > 0) {
            c = assign_set_package_assignee(NULL, a, e->tenant_id, o->package_ids, o->n_package_ids,
                                            e->after_user_id, e->fencing_token, e->order_id, st);
            if (c != KN_OK && !refused(c))
                return c;
        }
        kn_log_info("repair: assignment %s of order %s completed with token %lld", e->id,
                    e->order_id, (long long)e->fencing_token);
        return assign_store_entry_finish(pg, a, e->id, ASSIGN_STATE_DONE,
                                         assign_uuid_array(a, o->package_ids, o->n_package_ids),
                                         &fin, st);
    }
    char *ids[1] = {e->package_id};
    kn_code c = assign_set_package_assignee(NULL, a, e->tenant_id, ids, 1, e->after_user_id,
                                            e->fencing_token, "", st);
    if (refused(c)) {
        kn_log_info("repair: assignment %s of package %s rolled back (%s: %s)", e->id,
                    e->package_id, kn_code_name(c), st->message);
        return assign_store_entry_finish(pg, a, e->id, ASSIGN_STATE_ROLLED_BACK, NULL, &fin, st);
    }
    if (c != KN_OK)
        return c;
    kn_log_info("repair: assignment %s of package %s completed with token %lld", e->id,
                e->package_id, (long long)e->fencing_token);
    return assign_store_entry_finish(pg, a, e->id, ASSIGN_STATE_DONE, assign_uuid_array(a, ids, 1),
                                     &fin, st);
}

void assign_repair_tick(kn_worker *w)
{
    static time_t last_purge;
    kn_arena *a = kn_arena_new(16384);
    kn_status st;
    kn_status_clear(&st);
    assign_entry *rows = NULL;
    size_t n = 0;
    if (assign_store_entry_claim_stale(w->pg, a, assign_cfg.repair_after_ms, REPAIR_BATCH, &rows,
                                       &n, &st) == KN_OK) {
        for (size_t i = 0; i < n; i++) {
            kn_status_clear(&st);
            if (assign_repair_entry(a, w->pg, &rows[i], &st) != KN_OK)
                kn_log_warn("repair: assignment %s stays pending: %s %s", rows[i].id,
                            kn_code_name(st.code), st.message);
        }
    }
    time_t now = time(NULL);
    if (now - last_purge >= PURGE_INTERVAL_S) {
        last_purge = now;
        kn_status_clear(&st);
        assign_store_login_failures_purge(w->pg, assign_cfg.login_window_s, &st);
    }
    kn_arena_free(a);
}
