/* The assignment engine shared by orders and packages:
 *   1. lock the target (Redis, or PostgreSQL when Redis is down);
 *   2. insert the pending ledger entry, which takes the fencing token.
 *      Package: the entry is reserved, the caller reads and checks the
 *      package, then marks the entry "applying". Order: the entry is
 *      inserted applying, the before user read from the ledger in the same
 *      transaction (one durable commit, no read from order-svc); order-svc
 *      checks the order's status when it applies;
 *   3. the caller sends the change with the token to order-svc /
 *      location-svc;
 *   4. mark the entry done (or rolled back) and release the lock.
 * A crash after "applying" leaves a pending entry the repair loop rolls
 * forward with the same token. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "assign.h"
#include "kn_log.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static long pause_ms(kn_call *call)
{
    if (!assign_cfg.test_hooks)
        return 0;
    const char *m = kn_call_metadata(call, "x-kn-test-pause-ms");
    if (m && *m)
        return strtol(m, NULL, 10);
    return assign_cfg.test_pause_ms;
}

/* The test hook between step 2 and step 3 (KN_TEST_HOOKS=1 only). */
static void test_pause(assign_op *op)
{
    long p = pause_ms(op->call);
    if (p > 0) {
        kn_log_info("test hook: pausing %ld ms before applying token %lld", p,
                    (long long)op->entry.fencing_token);
        sleep_ms(p);
    }
}

kn_code assign_op_begin(assign_op *op, int *noop, kn_status *st)
{
    *noop = 0;
    const char *kind = op->target == ASSIGN_TARGET_ORDER ? "order" : "package";
    const char *id = op->target == ASSIGN_TARGET_ORDER ? op->order_id : op->package_id;
    /* Keep part of the caller's deadline for the work after the lock. */
    int64_t budget = assign_cfg.lock_wait_ms;
    int64_t left = kn_call_remaining_ms(op->call);
    if (left != INT64_MAX && left / 2 < budget)
        budget = left / 2;
    int64_t deadline = now_ms() + (budget > 0 ? budget : 0);
    long backoff = 2;
    /* Whether the last attempt held the lock but met another holder's
     * pending entry rather than a busy lock. */
    int blocked_by_entry = 0;

    for (;;) {
        if (op->precheck) {
            if (op->precheck(op, noop, st) != KN_OK)
                return st->code;
            if (*noop)
                return KN_OK;
        }
        int got = 0;
        if (assign_lock_try(op->w, op->tenant, kind, id, &op->lock, &got, st) != KN_OK)
            return st->code;
        blocked_by_entry = got;
        if (got && op->open) {
            int outcome = ASSIGN_OPEN_OK;
            kn_code c =
                assign_store_entry_open(op->w->pg, op->a, op->tenant, op->order_id, op->actor,
                                        op->after, op->lock.owner, op->require_free, op->before,
                                        &op->entry, &op->latest, &op->found_latest, &outcome, st);
            if (c == KN_OK && outcome != ASSIGN_OPEN_OK)
                assign_lock_release(op->w, &op->lock);
            if (c == KN_OK && outcome == ASSIGN_OPEN_NOOP) {
                *noop = 1;
                return KN_OK;
            }
            if (c == KN_OK && outcome == ASSIGN_OPEN_TAKEN)
                return kn_status_set(st, KN_FAILED_PRECONDITION, "order is already taken");
            if (c == KN_OK) {
                test_pause(op);
                return KN_OK;
            }
            assign_lock_release(op->w, &op->lock);
            if (c != KN_ABORTED)
                return c;
        } else if (got) {
            kn_code c = assign_store_entry_reserve(
                op->w->pg, op->a, op->tenant, op->target,
                op->target == ASSIGN_TARGET_ORDER ? op->order_id : NULL,
                op->target == ASSIGN_TARGET_PACKAGE ? op->package_id : NULL, op->actor, op->after,
                op->lock.owner, &op->entry, st);
            if (c == KN_OK) {
                op->reserved = 1;
                return KN_OK;
            }
            assign_lock_release(op->w, &op->lock);
            /* ABORTED: a pending entry of another holder (an expired lock's
             * holder still at work, or a crashed one awaiting repair). */
            if (c != KN_ABORTED)
                return c;
        }
        if (now_ms() >= deadline && blocked_by_entry)
            /* The entry's holder lost its lock: it crashed or stalled, and the
             * repair loop finishes its work shortly. Not a lost race, a
             * dependency not yet back: the client retries. */
            return kn_status_set(st, KN_UNAVAILABLE,
                                 "%s %s has an interrupted assignment being repaired; retry", kind,
                                 id);
        if (now_ms() >= deadline)
            return kn_status_set(st, KN_ABORTED,
                                 "%s %s is being assigned by another request; retry", kind, id);
        long jitter = (long)randombytes_uniform((uint32_t)backoff + 1);
        sleep_ms(backoff + jitter);
        backoff = backoff * 2 > 50 ? 50 : backoff * 2;
    }
}

void assign_op_abandon(assign_op *op)
{
    if (op->reserved) {
        kn_status st;
        kn_status_clear(&st);
        /* If this fails the repair loop drops the reserved entry later. */
        assign_store_entry_delete_reserved(op->w->pg, op->entry.id, &st);
        op->reserved = 0;
    }
    assign_lock_release(op->w, &op->lock);
}

kn_code assign_op_applying(assign_op *op, const char *before, kn_status *st)
{
    int ok = 0;
    if (assign_store_entry_applying(op->w->pg, op->entry.id, before, &ok, st) != KN_OK) {
        assign_lock_release(op->w, &op->lock);
        op->reserved = 0;
        return st->code;
    }
    op->reserved = 0;
    if (!ok) {
        assign_lock_release(op->w, &op->lock);
        return kn_status_set(st, KN_ABORTED, "the assignment was taken over; retry");
    }
    op->entry.phase = ASSIGN_PHASE_APPLYING;
    op->entry.before_user_id = kn_arena_strdup(op->a, before);
    test_pause(op);
    return KN_OK;
}

kn_code assign_op_finish(assign_op *op, int state, char *const *package_ids, size_t n,
                         kn_status *st)
{
    const char *arr = package_ids ? assign_uuid_array(op->a, package_ids, n) : NULL;
    assign_entry e;
    kn_code c = assign_store_entry_finish(op->w->pg, op->a, op->entry.id, state, arr, &e, st);
    assign_lock_release(op->w, &op->lock);
    if (c == KN_OK)
        op->entry = e;
    return c;
}

void assign_op_discard(assign_op *op)
{
    kn_status st;
    kn_status_clear(&st);
    /* If this fails the repair loop re-sends the token and is refused the
     * same way, then rolls the entry back. */
    assign_store_entry_discard(op->w->pg, op->entry.id, &st);
    assign_lock_release(op->w, &op->lock);
}

void assign_op_leave_pending(assign_op *op)
{
    assign_lock_release(op->w, &op->lock);
}

Konnect__Assign__V1__Assignment *assign_noop_result(assign_op *op, kn_status *st)
{
    assign_entry e;
    int found = 0;
    const char *id = op->target == ASSIGN_TARGET_ORDER ? op->order_id : op->package_id;
    if (assign_store_entry_latest(op->w->pg, op->a, op->tenant, op->target, id, &e, &found, st) !=
        KN_OK)
        return NULL;
    if (found && strcmp(e.after_user_id, op->after) == 0)
        return assign_entry_to_pb(op->a, &e);
    /* Nothing in the ledger says so (e.g. an order created assigned before
     * the ledger existed): answer the state without an entry. */
    memset(&e, 0, sizeof(e));
    e.id = "";
    e.tenant_id = (char *)op->tenant;
    e.target = op->target;
    e.order_id = (char *)(op->order_id ? op->order_id : "");
    e.package_id = (char *)(op->package_id ? op->package_id : "");
    e.actor_user_id = (char *)op->actor;
    e.before_user_id = (char *)op->after;
    e.after_user_id = (char *)op->after;
    e.state = ASSIGN_STATE_DONE;
    return assign_entry_to_pb(op->a, &e);
}
