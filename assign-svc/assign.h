/* assign-svc internals shared by its files: settings, the downstream
 * channels, the lock, and the 4-step assignment engine. */
#ifndef ASSIGN_H
#define ASSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "kn_arena.h"
#include "kn_client.h"
#include "kn_server.h"
#include "kn_service.h"
#include "kn_status.h"
#include "konnect/assign/v1/assign.pb-c.h"
#include "konnect/location/v1/location.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"

#include "assign_store.h"

#define ASSIGN_SYSTEM_USER "00000000-0000-0000-0000-000000000000"

/* Settings read once at start (docs/assign-svc.md lists them). */
typedef struct {
    long lock_ttl_ms;        /* KN_ASSIGN_LOCK_TTL_MS */
    long lock_wait_ms;       /* KN_ASSIGN_LOCK_WAIT_MS */
    long repair_after_ms;    /* KN_ASSIGN_REPAIR_AFTER_MS */
    long repair_interval_ms; /* KN_ASSIGN_REPAIR_INTERVAL_MS */
    long login_max_failures; /* KN_ASSIGN_LOGIN_MAX_FAILURES */
    long login_window_s;     /* KN_ASSIGN_LOGIN_WINDOW_S */
    unsigned long long pwhash_opslimit;
    size_t pwhash_memlimit;
    int test_hooks;       /* KN_TEST_HOOKS */
    long test_pause_ms;   /* KN_TEST_HOOK_ASSIGN_PAUSE_MS */
    char dummy_hash[128]; /* verified when the account is unknown */
    const kn_service_config *svc;
} assign_settings;

extern assign_settings assign_cfg;

/* Reads the KN_ASSIGN_* variables (main, before serving and for the
 * create-tenant command). */
kn_code assign_settings_load(kn_status *st);

/* --- assign_util.c: pure helpers ---------------------------------------- */

/* '%' + s with \ % _ escaped + '%', for ILIKE ... ESCAPE '\'. */
char *assign_like_pattern(kn_arena *a, const char *s);
kn_code assign_check_email(const char *field, const char *email, kn_status *st);
kn_code assign_check_tenant_code(const char *field, const char *code, kn_status *st);
/* lower(code) "\n" lower(email): the key failed logins are counted under. */
char *assign_account_key(kn_arena *a, const char *code, const char *email);
/* "{a,b,c}" for a uuid[] parameter. */
char *assign_uuid_array(kn_arena *a, char *const *ids, size_t n);
/* Parses "{a,b}" from PostgreSQL into arena strings. */
size_t assign_parse_uuid_array(kn_arena *a, const char *s, char ***out);
/* A random (version 4) UUID, lower-case. */
void assign_uuid_v4(char out[KN_UUID_STR_LEN + 1]);

/* --- passwords (auth.c) -------------------------------------------------- */

kn_code assign_check_password(const char *field, const char *pw, kn_status *st);
/* Argon2id hash into out (crypto_pwhash_STRBYTES). */
kn_code assign_hash_password(const char *pw, char *out, size_t outlen, kn_status *st);
kn_code assign_auth_init(kn_status *st);

/* --- downstream.c -------------------------------------------------------- */

kn_code assign_downstream_init(const kn_service_config *cfg, kn_status *st);
void assign_downstream_free(void);
/* Reads with a system token (sub = the system user, role hq) so that a
 * technician's self-assign can see an order somebody else holds. call may
 * be NULL (background repair). */
kn_code assign_get_order(kn_call *call, kn_arena *a, const char *tenant, const char *order_id,
                         Konnect__Order__V1__Order **out, kn_status *st);
kn_code assign_get_package(kn_call *call, kn_arena *a, const char *tenant, const char *package_id,
                           Konnect__Location__V1__Package **out, kn_status *st);
/* Writes carrying the fencing token: from a handler they forward the
 * caller's token (so histories name the real actor); from the repair loop
 * (call NULL) a system token. */
kn_code assign_set_order_assignee(kn_call *call, kn_arena *a, const char *tenant,
                                  const char *order_id, const char *user, int64_t token,
                                  Konnect__Order__V1__Order **out, kn_status *st);
kn_code assign_set_package_assignee(kn_call *call, kn_arena *a, const char *tenant,
                                    char *const *package_ids, size_t n, const char *user,
                                    int64_t token, const char *order_id, kn_status *st);

/* What assign_set_order_and_packages got back from each side. */
typedef struct {
    kn_code order_code;
    kn_status order_st;
    Konnect__Order__V1__Order *order; /* on KN_OK */
    kn_code packages_code;
    kn_status packages_st;
    Konnect__Location__V1__SetPackageAssigneeResponse *packages; /* on KN_OK */
} assign_applied;

/* From a handler: order-svc SetAssignee and location-svc SetPackageAssignee
 * of every package attached to the order, both with the token and sent at
 * once (docs/assign-svc.md says why that is safe); UNAVAILABLE of either is
 * retried as the single calls do. */
void assign_set_order_and_packages(kn_call *call, kn_arena *a, const char *order_id,
                                   const char *user, int64_t token, assign_applied *out);

/* Keeps the code of a downstream answer that is about the client's request
 * (NOT_FOUND reworded to name `what` and id); UNAVAILABLE stays; anything
 * else becomes INTERNAL (logged) so that e.g. a misconfigured secret never
 * reads as the client's fault. Returns the new code. */
kn_code assign_map_downstream(const char *what, const char *id, kn_status *st);

/* --- lock.c -------------------------------------------------------------- */

typedef enum { ASSIGN_LOCK_NONE = 0, ASSIGN_LOCK_REDIS, ASSIGN_LOCK_PG } assign_lock_kind;

typedef struct {
    assign_lock_kind kind;
    char key[192];
    char owner[64];
} assign_lock;

/* Tries once. *got = 1 when the lock is held. Uses Redis (SET NX PX) and
 * falls back to a PostgreSQL session advisory lock when Redis does not
 * answer. KN_UNAVAILABLE when neither answers. */
kn_code assign_lock_try(kn_worker *w, const char *tenant, const char *kind, const char *id,
                        assign_lock *lk, int *got, kn_status *st);
void assign_lock_release(kn_worker *w, assign_lock *lk);

/* --- assign_flow.c: the 4-step engine ----------------------------------- */

typedef struct assign_op assign_op;

/* Checked before each lock attempt (self-assign: a taken order ends the wait
 * at once). Returns KN_OK to go on; *noop = 1 to answer OK without change. */
typedef kn_code (*assign_precheck_fn)(assign_op *op, int *noop, kn_status *st);

struct assign_op {
    kn_call *call;
    kn_worker *w;
    kn_arena *a;
    const char *tenant;
    const char *actor;
    int target;             /* ASSIGN_TARGET_ORDER / _PACKAGE */
    const char *order_id;   /* target order, or NULL */
    const char *package_id; /* target package, or NULL */
    const char *after;      /* "" unassigns */
    assign_precheck_fn precheck;
    void *precheck_ud;
    /* Orders: the entry is opened applying, its before user read from the
     * ledger (assign_store_entry_open), instead of reserved and checked. */
    int open;
    int require_free;    /* open: a self-assign, refused if another has it */
    const char *before;  /* open: the before user when known, else NULL */
    assign_entry latest; /* open and *noop: the newest DONE entry, if any */
    int found_latest;
    assign_lock lock;
    assign_entry entry;
    int reserved; /* entry inserted (phase reserved) */
};

/* Steps 1 and 2: lock, then the pending ledger entry (its fencing token).
 * Waits up to KN_ASSIGN_LOCK_WAIT_MS (and the caller's deadline). On
 * *noop the precheck (or, with op->open, the ledger) decided; nothing is
 * held. With op->open the entry is applying on return (the test pause hook
 * has run), and a taken order answers FAILED_PRECONDITION. */
kn_code assign_op_begin(assign_op *op, int *noop, kn_status *st);
/* The checks failed or nothing is to change: removes the reserved entry and
 * releases the lock. */
void assign_op_abandon(assign_op *op);
/* Checks passed: the entry becomes "applying" (the repair rolls it
 * forward from now on). KN_ABORTED if the entry was taken over. Runs the
 * test pause hook after. */
kn_code assign_op_applying(assign_op *op, const char *before, kn_status *st);
/* Step 4: final state (DONE or ROLLED_BACK), package ids applied, lock
 * released. *final is the entry as stored. */
kn_code assign_op_finish(assign_op *op, int state, char *const *package_ids, size_t n,
                         kn_status *st);
/* Downstream refused before anything changed: the entry is removed and the
 * lock released. */
void assign_op_discard(assign_op *op);
/* Downstream failed transiently: the entry stays pending for the repair. */
void assign_op_leave_pending(assign_op *op);

/* The Assignment to answer for a no-op: the newest done entry of the target
 * when it says `after`, else a synthetic DONE entry without a token. */
Konnect__Assign__V1__Assignment *assign_noop_result(assign_op *op, kn_status *st);

/* KN_PERMISSION_DENIED (recorded on the call) unless the caller is hq;
 * `what` completes "only hq may ...". */
kn_code assign_require_hq(kn_call *call, const char *what);

/* --- users ---------------------------------------------------------------- */

/* The user must exist in the tenant (NOT_FOUND) and be active
 * (FAILED_PRECONDITION). */
kn_code assign_require_active_user(kn_worker *w, kn_arena *a, const char *tenant,
                                   const char *user_id, const char *field, kn_status *st);

/* --- conversions (ledger.c / users.c) ------------------------------------ */

Konnect__Assign__V1__Assignment *assign_entry_to_pb(kn_arena *a, const assign_entry *e);
Konnect__Assign__V1__User *assign_user_to_pb(kn_arena *a, const assign_user_row *u);
Google__Protobuf__Timestamp *assign_ts(kn_arena *a, int64_t us);

/* --- handlers ------------------------------------------------------------- */

kn_code assign_create_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_get_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_list_users(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_update_user(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_authenticate(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_assign_order(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_unassign_order(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_self_assign_order(kn_call *call, const ProtobufCMessage *req,
                                 ProtobufCMessage **resp);
kn_code assign_assign_package(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
kn_code assign_unassign_package(kn_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);
kn_code assign_list_assignments(kn_call *call, const ProtobufCMessage *req,
                                ProtobufCMessage **resp);

/* --- repair.c ------------------------------------------------------------- */

void assign_repair_tick(kn_worker *w);
/* Rolls one applying entry forward (or back when superseded). */
kn_code assign_repair_entry(kn_arena *a, kn_pg *pg, const assign_entry *e, kn_status *st);

/* --- create-tenant (tenant_cmd.c) ------------------------------------------ */

int assign_create_tenant_main(int argc, char **argv);

#endif
