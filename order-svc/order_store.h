/* order_store: every SQL statement of order-svc, as static const
 * kn_pg_stmt next to the function that runs it. Every statement is scoped
 * by tenant_id; parameters are bound, never formatted into SQL. Rows come
 * back in the caller's arena. */
#ifndef ORDER_STORE_H
#define ORDER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kn_arena.h"
#include "kn_pg.h"
#include "kn_status.h"
#include "order_logic.h"

typedef struct {
    char *id, *tenant_id;
    int type;
    char *identifier;
    int status;
    char *location_id, *time_zone;
    char *assignee; /* "" when unassigned */
    int64_t version, fencing_token;
    int64_t create_us, update_us, collect_us, cancel_us; /* 0 = not set */
    char *request_hash;
    char **package_ids;
    size_t npkg;
    char **skus;
    int *quantities;
    size_t nlines;
    /* For keyset pagination. */
    int64_t sort_us;
} order_row;

/* KN_OK, KN_NOT_FOUND (message names the order), or a database error.
 * for_update locks the row (inside a transaction). */
kn_code order_store_get(kn_pg *pg, kn_arena *a, const char *tenant, const char *id, int for_update,
                        order_row **out, kn_status *st);
/* KN_OK, or KN_NOT_FOUND when no order has this request id. */
kn_code order_store_get_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                   const char *request_id, order_row **out, kn_status *st);
/* 1 taken, 0 free, -1 error. */
int order_store_identifier_taken(kn_pg *pg, const char *tenant, const char *identifier,
                                 kn_status *st);

/* --- create ------------------------------------------------------------ */

typedef struct {
    char *id; /* intent id */
    char *identifier;
    char *request_hash;
} order_intent;

/* Finds or writes (committed) the create intent of order_id; generates the
 * identifier when identifier is "". */
kn_code order_store_intent_create(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                                  int type, const char *location, const char *identifier,
                                  const char *request_hash, char *const *package_ids, size_t npkg,
                                  order_intent *out, kn_status *st);
/* Writes an intent (kind add/remove/cancel) in the current transaction or
 * as its own; returns its id in out_id (37 bytes). */
kn_code order_store_intent_add(kn_pg *pg, const char *tenant, const char *order_id,
                               const char *kind, int type, const char *location,
                               char *const *package_ids, size_t npkg, char out_id[37],
                               kn_status *st);
/* Locks the intent row (in a transaction): KN_OK, or KN_ABORTED when it is
 * gone (the repair tick undid it). */
kn_code order_store_intent_lock(kn_pg *pg, const char *intent_id, kn_status *st);
kn_code order_store_intent_delete(kn_pg *pg, const char *intent_id, kn_status *st);

typedef struct {
    const char *intent_id;
    const char *id, *tenant, *actor;
    int type;
    const char *identifier, *location, *time_zone;
    const char *request_id, *request_hash; /* "" = none */
    char *const *package_ids;
    size_t npkg;
    char *const *skus;
    const int *quantities;
    size_t nlines;
} order_new;

/* Inserts the order, its packages / stock lines and the CREATED history
 * row, and deletes the intent, in one statement. Unique violations come
 * back as KN_ALREADY_EXISTS (identifier / request id) or
 * KN_FAILED_PRECONDITION (a package in another active order). */
kn_code order_store_insert(kn_pg *pg, kn_arena *a, const order_new *o, kn_status *st);

/* --- edits (inside a transaction, with the row locked) ------------------- */

/* Each bumps the version only if it still is `version` and the order is
 * ACTIVE (the database's guard); KN_ABORTED otherwise; writes history. */
kn_code order_store_set_identifier(kn_pg *pg, const order_row *o, const char *actor,
                                   const char *identifier, kn_status *st);
kn_code order_store_add_packages(kn_pg *pg, const order_row *o, const char *actor, char *const *ids,
                                 size_t n, kn_status *st);
/* remove and cancel also write intent_id (kind remove / cancel) in the
 * same statement: the repair tick detaches / releases at location-svc if
 * this process dies before doing it. */
kn_code order_store_remove_packages(kn_pg *pg, const order_row *o, const char *actor,
                                    char *const *ids, size_t n, const char *intent_id,
                                    kn_status *st);
kn_code order_store_cancel(kn_pg *pg, const order_row *o, const char *actor, const char *reason,
                           const char *intent_id, kn_status *st);
kn_code order_store_collect(kn_pg *pg, const order_row *o, const char *actor, kn_status *st);
kn_code order_store_set_assignee(kn_pg *pg, const order_row *o, const char *actor,
                                 const char *assignee, int64_t token, kn_status *st);

/* --- reads ---------------------------------------------------------------- */

/* One page of ListOrders: rows newest first after the cursor. */
kn_code order_store_list(kn_pg *pg, kn_arena *a, const char *tenant, const order_list_plan *plan,
                         int64_t cursor_us, const char *cursor_id, int limit, order_row ***rows,
                         size_t *n, kn_status *st);

typedef struct {
    int64_t seq;
    char *id, *order_id, *actor, *before, *after, *detail;
    int64_t time_us;
    int kind;
} order_history_row;

kn_code order_store_history(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                            int64_t after_seq, int limit, order_history_row **rows, size_t *n,
                            kn_status *st);

/* --- repair ---------------------------------------------------------------- */

typedef struct {
    char *id, *tenant, *order_id, *kind, *location;
    int type;
    int order_status; /* 0 = no order */
    char *assignee;   /* the order's, "" when unassigned or no order */
    char **detach;    /* intent packages the order does not hold */
    size_t ndetach;
} order_intent_row;

/* Ids of intents older than age_s (at most limit). */
kn_code order_store_stale_intents(kn_pg *pg, kn_arena *a, int age_s, int limit, char ***ids,
                                  size_t *n, kn_status *st);
/* In a transaction: locks one intent (SKIP LOCKED); KN_NOT_FOUND when it is
 * gone or locked by a call still working on it. */
kn_code order_store_intent_take(kn_pg *pg, kn_arena *a, const char *intent_id,
                                order_intent_row *out, kn_status *st);

/* Text array literal {"a","b"} for a bound parameter. */
char *order_pg_array(kn_arena *a, const char *const *items, size_t n);

#endif
