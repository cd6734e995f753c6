/* assign_store: every SQL statement of assign-svc, each a static const
 * kn_pg_stmt next to the function that runs it. All queries are scoped by
 * tenant_id. Strings come from the caller's arena. */
#ifndef ASSIGN_STORE_H
#define ASSIGN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "kn_arena.h"
#include "kn_pg.h"
#include "kn_status.h"

#define ASSIGN_TARGET_ORDER   1
#define ASSIGN_TARGET_PACKAGE 2

#define ASSIGN_STATE_PENDING     1
#define ASSIGN_STATE_DONE        2
#define ASSIGN_STATE_ROLLED_BACK 3

#define ASSIGN_PHASE_RESERVED 0
#define ASSIGN_PHASE_APPLYING 1

typedef struct {
    char *id;
    char *tenant_id;
    char *display_name;
    char *email;
    char *employee_number;
    int role; /* 1 hq, 2 technician (USER_ROLE_*) */
    int active;
    int64_t create_us;
    char *password_hash; /* only from assign_store_auth_lookup; NULL = none */
} assign_user_row;

typedef struct {
    char *id;
    char *tenant_id;
    int target;
    char *order_id;   /* "" when none */
    char *package_id; /* "" when none */
    char *actor_user_id;
    char *before_user_id; /* "" = unassigned */
    char *after_user_id;
    int64_t fencing_token;
    int state;
    int phase;
    int64_t create_us;
    int64_t complete_us; /* 0 while pending */
    char **package_ids;
    size_t n_package_ids;
} assign_entry;

/* --- users --------------------------------------------------------------- */

/* KN_ALREADY_EXISTS naming email / employee_number on a duplicate. When
 * request_id is not empty and a user was already made with it, *out is
 * that user (*replayed = 1). */
kn_code assign_store_user_insert(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                                 const char *display_name, const char *email,
                                 const char *employee_number, int role, const char *hash,
                                 const char *request_id, assign_user_row *out, int *replayed,
                                 kn_status *st);
kn_code assign_store_user_get(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                              assign_user_row *out, kn_status *st);
kn_code assign_store_user_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                     const char *request_id, assign_user_row *out, int *found,
                                     kn_status *st);

typedef struct {
    const char *tenant;
    const char *pattern; /* ILIKE pattern or NULL */
    int role;            /* 0 any */
    int include_inactive;
    int has_after;
    int64_t after_us;
    const char *after_id;
    int limit;
} assign_user_query;

kn_code assign_store_user_list(kn_pg *pg, kn_arena *a, const assign_user_query *q,
                               assign_user_row **rows, size_t *n, kn_status *st);

/* NULL / -1 leave a field unchanged. NOT_FOUND, or ALREADY_EXISTS for a
 * duplicate employee number. */
kn_code assign_store_user_update(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                                 const char *display_name, const char *employee_number, int active,
                                 const char *hash, assign_user_row *out, kn_status *st);

/* The user with that email in the tenant with that code; *found = 0 if
 * either is unknown. */
kn_code assign_store_auth_lookup(kn_pg *pg, kn_arena *a, const char *tenant_code, const char *email,
                                 assign_user_row *out, int *found, kn_status *st);
kn_code assign_store_user_set_hash(kn_pg *pg, const char *tenant, const char *id, const char *hash,
                                   kn_status *st);

kn_code assign_store_login_failures(kn_pg *pg, const char *key, long window_s, long *count,
                                    kn_status *st);
kn_code assign_store_login_failure_add(kn_pg *pg, const char *key, kn_status *st);
kn_code assign_store_login_failures_clear(kn_pg *pg, const char *key, kn_status *st);
kn_code assign_store_login_failures_purge(kn_pg *pg, long window_s, kn_status *st);

/* --- tenants --------------------------------------------------------------- */

/* Inserts the tenant unless its code exists; *tenant_id is the tenant's id
 * either way, *created says which. */
kn_code assign_store_tenant_ensure(kn_pg *pg, kn_arena *a, const char *code, const char *name,
                                   const char *time_zone, char **tenant_id, int *created,
                                   kn_status *st);

/* --- ledger -------------------------------------------------------------- */

/* Step 2: inserts a pending entry (phase reserved) and takes its fencing
 * token from the sequence. KN_ABORTED when the target already has a
 * pending entry (another holder is at work, or a crashed one awaits
 * repair). */
kn_code assign_store_entry_reserve(kn_pg *pg, kn_arena *a, const char *tenant, int target,
                                   const char *order_id, const char *package_id, const char *actor,
                                   const char *after, const char *owner, assign_entry *out,
                                   kn_status *st);
/* The order flow's step 2 in one durable commit: inserts the pending entry
 * of an order already applying, its before user the after user of the
 * order's newest DONE entry (the ledger records every assignee the order
 * ever had: only assign-svc sets it, always through an entry). The read
 * follows the insert, so it sees the work of any holder the insert had to
 * wait for. *outcome says what came of it:
 *   ASSIGN_OPEN_OK     the entry is in *out, before_user_id set;
 *   ASSIGN_OPEN_NOOP   the order already has `after`; nothing written,
 *                      *latest is that DONE entry if *found_latest;
 *   ASSIGN_OPEN_TAKEN  require_free and the order has another assignee;
 *                      nothing written.
 * With `before` non-NULL the ledger is not read: the entry is opened with
 * that before user whatever the ledger says. KN_ABORTED as for reserve. */
enum { ASSIGN_OPEN_OK, ASSIGN_OPEN_NOOP, ASSIGN_OPEN_TAKEN };
kn_code assign_store_entry_open(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                                const char *actor, const char *after, const char *owner,
                                int require_free, const char *before, assign_entry *out,
                                assign_entry *latest, int *found_latest, int *outcome,
                                kn_status *st);
/* Removes a pending entry whose change the downstream service refused
 * before anything changed (the order is not active, or unknown). */
kn_code assign_store_entry_discard(kn_pg *pg, const char *id, kn_status *st);
/* Reserved → applying with the before user; *ok = 0 if the entry is no
 * longer reserved (the repair removed it). */
kn_code assign_store_entry_applying(kn_pg *pg, const char *id, const char *before, int *ok,
                                    kn_status *st);
kn_code assign_store_entry_delete_reserved(kn_pg *pg, const char *id, kn_status *st);
/* Pending → state. When the entry is no longer pending (the repair
 * finished it), *out is the entry as it is. The commit does not wait for
 * the disk: lost in a crash, the entry is pending again and the repair
 * re-sends its token, which order-svc and location-svc accept as the
 * retry it is and the entry ends the same. */
kn_code assign_store_entry_finish(kn_pg *pg, kn_arena *a, const char *id, int state,
                                  const char *package_ids_array, assign_entry *out, kn_status *st);
kn_code assign_store_entry_get(kn_pg *pg, kn_arena *a, const char *id, assign_entry *out,
                               kn_status *st);
/* The newest DONE entry for an order (target order) or a package (target
 * package); *found = 0 if none. */
kn_code assign_store_entry_latest(kn_pg *pg, kn_arena *a, const char *tenant, int target,
                                  const char *id, assign_entry *out, int *found, kn_status *st);

typedef struct {
    const char *tenant;
    const char *user_id;    /* "" any */
    const char *order_id;   /* "" any */
    const char *package_id; /* "" any */
    int has_before;
    int64_t before_token; /* keyset: tokens below this */
    int limit;
} assign_entry_query;

kn_code assign_store_entry_list(kn_pg *pg, kn_arena *a, const assign_entry_query *q,
                                assign_entry **rows, size_t *n, kn_status *st);

/* Repair: claims up to limit pending entries not touched for older_ms
 * (bumping their update time so other replicas leave them alone for as
 * long). */
kn_code assign_store_entry_claim_stale(kn_pg *pg, kn_arena *a, long older_ms, int limit,
                                       assign_entry **rows, size_t *n, kn_status *st);
/* Repair of a reserved entry: nothing reached order-svc or location-svc. */
kn_code assign_store_entry_drop_reserved(kn_pg *pg, const char *id, kn_status *st);

#endif
