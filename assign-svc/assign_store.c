/* assign_store: the SQL of assign-svc. Statements are prepared once per
 * connection by kn_pg; parameters are always bound. */
#include "assign_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assign.h"

static char *col(kn_arena *a, const PGresult *r, int row, int c)
{
    if (PQgetisnull(r, row, c))
        return kn_arena_strdup(a, "");
    return kn_arena_strndup(a, PQgetvalue(r, row, c), (size_t)PQgetlength(r, row, c));
}

static int64_t col_i64(const PGresult *r, int row, int c)
{
    if (PQgetisnull(r, row, c))
        return 0;
    return strtoll(PQgetvalue(r, row, c), NULL, 10);
}

static int col_bool(const PGresult *r, int row, int c)
{
    return !PQgetisnull(r, row, c) && PQgetvalue(r, row, c)[0] == 't';
}

static int is_unique_violation(const kn_pg *pg)
{
    return strcmp(kn_pg_sqlstate(pg), "23505") == 0;
}

/* --- users --------------------------------------------------------------- */

#define USER_COLS                                                                                  \
    "id::text, tenant_id::text, display_name, email, employee_number, role, active, "              \
    "(extract(epoch FROM create_time) * 1000000)::bigint"
#define USER_NCOLS 8

static void user_row(kn_arena *a, const PGresult *r, int row, assign_user_row *u)
{
    memset(u, 0, sizeof(*u));
    u->id = col(a, r, row, 0);
    u->tenant_id = col(a, r, row, 1);
    u->display_name = col(a, r, row, 2);
    u->email = col(a, r, row, 3);
    u->employee_number = col(a, r, row, 4);
    u->role = (int)col_i64(r, row, 5);
    u->active = col_bool(r, row, 6);
    u->create_us = col_i64(r, row, 7);
}

static kn_code user_constraint(kn_pg *pg, kn_status *st)
{
    const char *c = kn_pg_constraint(pg);
    if (strcmp(c, "users_tenant_employee_key") == 0)
        return kn_status_set(st, KN_ALREADY_EXISTS,
                             "employee_number: another user of the tenant has it");
    if (strcmp(c, "users_pkey") == 0)
        return kn_status_set(st, KN_ALREADY_EXISTS, "id: user exists");
    return kn_status_set(st, KN_ALREADY_EXISTS, "email: another user of the tenant has it");
}

static const kn_pg_stmt stmt_user_insert = {
    "assign_user_insert",
    "INSERT INTO users (id, tenant_id, display_name, email, employee_number, role, "
    "password_hash, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
    "ON CONFLICT (tenant_id, request_id) WHERE request_id <> '' DO NOTHING "
    "RETURNING " USER_COLS,
    8};

kn_code assign_store_user_insert(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                                 const char *display_name, const char *email,
                                 const char *employee_number, int role, const char *hash,
                                 const char *request_id, assign_user_row *out, int *replayed,
                                 kn_status *st)
{
    char rolebuf[8];
    snprintf(rolebuf, sizeof(rolebuf), "%d", role);
    const char *p[] = {id,
                       tenant,
                       display_name,
                       email,
                       employee_number,
                       rolebuf,
                       hash,
                       request_id ? request_id : ""};
    *replayed = 0;
    PGresult *r = kn_pg_exec(pg, &stmt_user_insert, p, st);
    if (!r)
        return is_unique_violation(pg) ? user_constraint(pg, st) : st->code;
    int n = PQntuples(r);
    if (n == 1)
        user_row(a, r, 0, out);
    PQclear(r);
    if (n == 1)
        return KN_OK;
    int found = 0;
    if (assign_store_user_by_request(pg, a, tenant, request_id, out, &found, st) != KN_OK)
        return st->code;
    if (!found)
        return kn_status_set(st, KN_ABORTED, "request_id: concurrent request, retry");
    *replayed = 1;
    return KN_OK;
}

static const kn_pg_stmt stmt_user_get = {
    "assign_user_get", "SELECT " USER_COLS " FROM users WHERE tenant_id = $1 AND id = $2", 2};

kn_code assign_store_user_get(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                              assign_user_row *out, kn_status *st)
{
    const char *p[] = {tenant, id};
    PGresult *r = kn_pg_exec(pg, &stmt_user_get, p, st);
    if (!r)
        return st->code;
    int n = PQntuples(r);
    if (n == 1)
        user_row(a, r, 0, out);
    PQclear(r);
    if (n != 1)
        return kn_status_set(st, KN_NOT_FOUND, "user %s not found", id);
    return KN_OK;
}

static const kn_pg_stmt stmt_user_by_request = {
    "assign_user_by_request",
    "SELECT " USER_COLS " FROM users WHERE tenant_id = $1 AND request_id = $2 AND request_id <> ''",
    2};

kn_code assign_store_user_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                     const char *request_id, assign_user_row *out, int *found,
                                     kn_status *st)
{
    const char *p[] = {tenant, request_id};
    *found = 0;
    PGresult *r = kn_pg_exec(pg, &stmt_user_by_request, p, st);
    if (!r)
        return st->code;
    if (PQntuples(r) == 1) {
        user_row(a, r, 0, out);
        *found = 1;
    }
    PQclear(r);
    return KN_OK;
}

/* Keyset on (create_time DESC, id DESC); without a page token the bound is
 * +infinity so the comparison stays an index condition. */
#define USER_LIST_TAIL                                                                             \
    " AND ($2::int = 0 OR role = $2::int) AND ($3::bool OR active) "                               \
    "AND (create_time, id) < (CASE WHEN $4::bigint IS NULL THEN 'infinity'::timestamptz "          \
    "ELSE 'epoch'::timestamptz + $4::bigint * interval '1 microsecond' END, "                      \
    "coalesce($5::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)) "                           \
    "ORDER BY create_time DESC, id DESC LIMIT $6"

/* ListUsers without a query: users_tenant_list_idx. */
static const kn_pg_stmt stmt_user_list = {
    "assign_user_list", "SELECT " USER_COLS " FROM users WHERE tenant_id = $1" USER_LIST_TAIL, 6};

/* ListUsers with a query: users_search_trgm_idx (ILIKE '%q%', the pattern
 * escaped by assign_like_pattern). */
static const kn_pg_stmt stmt_user_search = {
    "assign_user_search",
    "SELECT " USER_COLS " FROM users WHERE tenant_id = $1 AND (display_name ILIKE $7 OR "
    "email ILIKE $7 OR employee_number ILIKE $7)" USER_LIST_TAIL,
    7};

kn_code assign_store_user_list(kn_pg *pg, kn_arena *a, const assign_user_query *q,
                               assign_user_row **rows, size_t *n, kn_status *st)
{
    char role[8], us[24], lim[12];
    snprintf(role, sizeof(role), "%d", q->role);
    snprintf(us, sizeof(us), "%" PRId64, q->after_us);
    snprintf(lim, sizeof(lim), "%d", q->limit);
    const char *p[] = {q->tenant,
                       role,
                       q->include_inactive ? "true" : "false",
                       q->has_after ? us : NULL,
                       q->has_after ? q->after_id : NULL,
                       lim,
                       q->pattern};
    PGresult *r = kn_pg_exec(pg, q->pattern ? &stmt_user_search : &stmt_user_list, p, st);
    if (!r)
        return st->code;
    int cnt = PQntuples(r);
    *rows = kn_arena_alloc(a, sizeof(**rows) * (size_t)(cnt ? cnt : 1));
    for (int i = 0; i < cnt; i++)
        user_row(a, r, i, &(*rows)[i]);
    *n = (size_t)cnt;
    PQclear(r);
    return KN_OK;
}

static const kn_pg_stmt stmt_user_update = {
    "assign_user_update",
    "UPDATE users SET display_name = coalesce($3, display_name), "
    "employee_number = coalesce($4, employee_number), active = coalesce($5::bool, active), "
    "password_hash = coalesce($6, password_hash), update_time = now() "
    "WHERE tenant_id = $1 AND id = $2 RETURNING " USER_COLS,
    6};

kn_code assign_store_user_update(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                                 const char *display_name, const char *employee_number, int active,
                                 const char *hash, assign_user_row *out, kn_status *st)
{
    const char *act = active < 0 ? NULL : (active ? "true" : "false");
    const char *p[] = {tenant, id, display_name, employee_number, act, hash};
    PGresult *r = kn_pg_exec(pg, &stmt_user_update, p, st);
    if (!r)
        return is_unique_violation(pg) ? user_constraint(pg, st) : st->code;
    int n = PQntuples(r);
    if (n == 1)
        user_row(a, r, 0, out);
    PQclear(r);
    if (n != 1)
        return kn_status_set(st, KN_NOT_FOUND, "user %s not found", id);
    return KN_OK;
}

/* Authenticate: tenants_code_key, then users_tenant_email_key. */
static const kn_pg_stmt stmt_auth_lookup = {
    "assign_auth_lookup",
    "SELECT u.id::text, u.tenant_id::text, u.display_name, u.email, u.employee_number, u.role, "
    "u.active, (extract(epoch FROM u.create_time) * 1000000)::bigint, u.password_hash "
    "FROM tenants t JOIN users u ON u.tenant_id = t.id "
    "WHERE lower(t.code) = lower($1) AND lower(u.email) = lower($2)",
    2};

kn_code assign_store_auth_lookup(kn_pg *pg, kn_arena *a, const char *tenant_code, const char *email,
                                 assign_user_row *out, int *found, kn_status *st)
{
    const char *p[] = {tenant_code, email};
    *found = 0;
    PGresult *r = kn_pg_exec(pg, &stmt_auth_lookup, p, st);
    if (!r)
        return st->code;
    if (PQntuples(r) == 1) {
        user_row(a, r, 0, out);
        out->password_hash = PQgetisnull(r, 0, USER_NCOLS) ? NULL : col(a, r, 0, USER_NCOLS);
        *found = 1;
    }
    PQclear(r);
    return KN_OK;
}

static const kn_pg_stmt stmt_user_set_hash = {
    "assign_user_set_hash", "UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
    3};

kn_code assign_store_user_set_hash(kn_pg *pg, const char *tenant, const char *id, const char *hash,
                                   kn_status *st)
{
    const char *p[] = {tenant, id, hash};
    return kn_pg_run(pg, &stmt_user_set_hash, p, st) < 0 ? st->code : KN_OK;
}

/* Authenticate: login_failures_key_idx. */
static const kn_pg_stmt stmt_login_count = {
    "assign_login_count",
    "SELECT count(*) FROM login_failures WHERE account_key = $1 "
    "AND at > now() - $2::int * interval '1 second'",
    2};

kn_code assign_store_login_failures(kn_pg *pg, const char *key, long window_s, long *count,
                                    kn_status *st)
{
    char w[24];
    snprintf(w, sizeof(w), "%ld", window_s);
    const char *p[] = {key, w};
    PGresult *r = kn_pg_exec(pg, &stmt_login_count, p, st);
    if (!r)
        return st->code;
    *count = (long)col_i64(r, 0, 0);
    PQclear(r);
    return KN_OK;
}

static const kn_pg_stmt stmt_login_add = {
    "assign_login_add", "INSERT INTO login_failures (account_key) VALUES ($1)", 1};

kn_code assign_store_login_failure_add(kn_pg *pg, const char *key, kn_status *st)
{
    const char *p[] = {key};
    return kn_pg_run(pg, &stmt_login_add, p, st) < 0 ? st->code : KN_OK;
}

static const kn_pg_stmt stmt_login_clear = {"assign_login_clear",
                                            "DELETE FROM login_failures WHERE account_key = $1", 1};

kn_code assign_store_login_failures_clear(kn_pg *pg, const char *key, kn_status *st)
{
    const char *p[] = {key};
    return kn_pg_run(pg, &stmt_login_clear, p, st) < 0 ? st->code : KN_OK;
}

/* The repair tick: login_failures_at_idx. */
static const kn_pg_stmt stmt_login_purge = {
    "assign_login_purge",
    "DELETE FROM login_failures WHERE at < now() - $1::int * interval '1 second'", 1};

kn_code assign_store_login_failures_purge(kn_pg *pg, long window_s, kn_status *st)
{
    char w[24];
    snprintf(w, sizeof(w), "%ld", window_s);
    const char *p[] = {w};
    return kn_pg_run(pg, &stmt_login_purge, p, st) < 0 ? st->code : KN_OK;
}

/* --- tenants --------------------------------------------------------------- */

static const kn_pg_stmt stmt_tenant_by_code = {
    "assign_tenant_by_code", "SELECT id::text FROM tenants WHERE lower(code) = lower($1)", 1};

static const kn_pg_stmt stmt_tenant_insert = {
    "assign_tenant_insert",
    "INSERT INTO tenants (id, code, name, time_zone) VALUES (gen_random_uuid(), $1, $2, $3) "
    "RETURNING id::text",
    3};

kn_code assign_store_tenant_ensure(kn_pg *pg, kn_arena *a, const char *code, const char *name,
                                   const char *time_zone, char **tenant_id, int *created,
                                   kn_status *st)
{
    const char *p1[] = {code};
    *created = 0;
    PGresult *r = kn_pg_exec(pg, &stmt_tenant_by_code, p1, st);
    if (!r)
        return st->code;
    if (PQntuples(r) == 1) {
        *tenant_id = col(a, r, 0, 0);
        PQclear(r);
        return KN_OK;
    }
    PQclear(r);
    const char *p2[] = {code, name, time_zone};
    r = kn_pg_exec(pg, &stmt_tenant_insert, p2, st);
    if (!r)
        return is_unique_violation(pg)
                   ? kn_status_set(st, KN_ABORTED, "code: created concurrently, retry")
                   : st->code;
    *tenant_id = col(a, r, 0, 0);
    *created = 1;
    PQclear(r);
    return KN_OK;
}

/* --- ledger -------------------------------------------------------------- */

#define ENTRY_COLS                                                                                 \
    "id::text, tenant_id::text, target, coalesce(order_id::text, ''), "                            \
    "coalesce(package_id::text, ''), actor_user_id::text, coalesce(before_user_id::text, ''), "    \
    "coalesce(after_user_id::text, ''), fencing_token, state, phase, "                             \
    "(extract(epoch FROM create_time) * 1000000)::bigint, "                                        \
    "coalesce((extract(epoch FROM complete_time) * 1000000)::bigint, 0), package_ids::text"

static void entry_row(kn_arena *a, const PGresult *r, int row, assign_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->id = col(a, r, row, 0);
    e->tenant_id = col(a, r, row, 1);
    e->target = (int)col_i64(r, row, 2);
    e->order_id = col(a, r, row, 3);
    e->package_id = col(a, r, row, 4);
    e->actor_user_id = col(a, r, row, 5);
    e->before_user_id = col(a, r, row, 6);
    e->after_user_id = col(a, r, row, 7);
    e->fencing_token = col_i64(r, row, 8);
    e->state = (int)col_i64(r, row, 9);
    e->phase = (int)col_i64(r, row, 10);
    e->create_us = col_i64(r, row, 11);
    e->complete_us = col_i64(r, row, 12);
    e->n_package_ids = assign_parse_uuid_array(a, PQgetvalue(r, row, 13), &e->package_ids);
}

/* The fencing token comes from fencing_token_seq (the column default): one
 * sequence for every lock kind keeps tokens monotonic across a Redis
 * failover. assignments_pending_*_key turns a second pending entry into
 * 23505. */
static const kn_pg_stmt stmt_entry_reserve = {
    "assign_entry_reserve",
    "INSERT INTO assignments (id, tenant_id, target, order_id, package_id, actor_user_id, "
    "after_user_id, owner) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, "
    "nullif($6, '')::uuid, $7) RETURNING " ENTRY_COLS,
    7};

kn_code assign_store_entry_reserve(kn_pg *pg, kn_arena *a, const char *tenant, int target,
                                   const char *order_id, const char *package_id, const char *actor,
                                   const char *after, const char *owner, assign_entry *out,
                                   kn_status *st)
{
    char t[4];
    snprintf(t, sizeof(t), "%d", target);
    const char *p[] = {tenant, t, order_id, package_id, actor, after, owner};
    PGresult *r = kn_pg_exec(pg, &stmt_entry_reserve, p, st);
    if (!r) {
        if (is_unique_violation(pg))
            return kn_status_set(st, KN_ABORTED, "another assignment of this %s is in progress",
                                 target == ASSIGN_TARGET_ORDER ? "order" : "package");
        return st->code;
    }
    entry_row(a, r, 0, out);
    PQclear(r);
    return KN_OK;
}

/* assignments_pending_order_key makes a second pending entry 23505. */
static const kn_pg_stmt stmt_entry_open = {
    "assign_entry_open",
    "INSERT INTO assignments (id, tenant_id, target, order_id, actor_user_id, after_user_id, "
    "owner, phase) VALUES (gen_random_uuid(), $1, 1, $2, $3, nullif($4, '')::uuid, $5, 1) "
    "RETURNING " ENTRY_COLS,
    5};

static const kn_pg_stmt stmt_entry_set_before = {
    "assign_entry_set_before",
    "UPDATE assignments SET before_user_id = nullif($2, '')::uuid WHERE id = $1", 2};

kn_code assign_store_entry_open(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                                const char *actor, const char *after, const char *owner,
                                int require_free, const char *before, assign_entry *out,
                                assign_entry *latest, int *found_latest, int *outcome,
                                kn_status *st)
{
    *outcome = ASSIGN_OPEN_OK;
    *found_latest = 0;
    if (kn_pg_begin(pg, st) != KN_OK)
        return st->code;
    const char *p[] = {tenant, order_id, actor, after, owner};
    PGresult *r = kn_pg_exec(pg, &stmt_entry_open, p, st);
    if (!r) {
        int busy = is_unique_violation(pg);
        kn_pg_rollback(pg);
        if (busy)
            return kn_status_set(st, KN_ABORTED, "another assignment of this order is in progress");
        return st->code;
    }
    entry_row(a, r, 0, out);
    PQclear(r);
    if (before == NULL) {
        /* A new statement, so a new snapshot: the insert may have waited
         * for another holder's entry to finish, and this sees its end. */
        if (assign_store_entry_latest(pg, a, tenant, ASSIGN_TARGET_ORDER, order_id, latest,
                                      found_latest, st) != KN_OK)
            goto fail;
        before = *found_latest ? latest->after_user_id : "";
        if (strcasecmp(before, after) == 0) {
            *outcome = ASSIGN_OPEN_NOOP;
            kn_pg_rollback(pg);
            return KN_OK;
        }
        if (require_free && *before) {
            *outcome = ASSIGN_OPEN_TAKEN;
            kn_pg_rollback(pg);
            return KN_OK;
        }
    }
    const char *bp[] = {out->id, before};
    /* Sent with the COMMIT: one round trip. */
    if (kn_pg_queue(pg, &stmt_entry_set_before, bp, st) != KN_OK)
        goto fail;
    if (kn_pg_commit(pg, st) != KN_OK)
        return st->code;
    out->before_user_id = kn_arena_strdup(a, before);
    return KN_OK;
fail:
    kn_pg_rollback(pg);
    return st->code;
}

static const kn_pg_stmt stmt_entry_discard = {
    "assign_entry_discard", "DELETE FROM assignments WHERE id = $1 AND state = 1", 1};

kn_code assign_store_entry_discard(kn_pg *pg, const char *id, kn_status *st)
{
    const char *p[] = {id};
    return kn_pg_run(pg, &stmt_entry_discard, p, st) < 0 ? st->code : KN_OK;
}

static const kn_pg_stmt stmt_entry_applying = {
    "assign_entry_applying",
    "UPDATE assignments SET phase = 1, before_user_id = nullif($2, '')::uuid, "
    "update_time = now() WHERE id = $1 AND state = 1 AND phase = 0",
    2};

kn_code assign_store_entry_applying(kn_pg *pg, const char *id, const char *before, int *ok,
                                    kn_status *st)
{
    const char *p[] = {id, before};
    long n = kn_pg_run(pg, &stmt_entry_applying, p, st);
    if (n < 0)
        return st->code;
    *ok = n == 1;
    return KN_OK;
}

static const kn_pg_stmt stmt_entry_delete_reserved = {
    "assign_entry_delete_reserved",
    "DELETE FROM assignments WHERE id = $1 AND state = 1 AND phase = 0", 1};

kn_code assign_store_entry_delete_reserved(kn_pg *pg, const char *id, kn_status *st)
{
    const char *p[] = {id};
    return kn_pg_run(pg, &stmt_entry_delete_reserved, p, st) < 0 ? st->code : KN_OK;
}

kn_code assign_store_entry_drop_reserved(kn_pg *pg, const char *id, kn_status *st)
{
    return assign_store_entry_delete_reserved(pg, id, st);
}

/* set_config(..., true) lasts for the statement's own transaction: its
 * commit does not wait for the WAL flush (see the header for why that is
 * safe here). */
static const kn_pg_stmt stmt_entry_finish = {
    "assign_entry_finish",
    "WITH nowait AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "UPDATE assignments SET state = $2::smallint, package_ids = coalesce($3::uuid[], "
    "package_ids), complete_time = now(), update_time = now() FROM nowait "
    "WHERE id = $1 AND state = 1 RETURNING " ENTRY_COLS,
    3};

kn_code assign_store_entry_finish(kn_pg *pg, kn_arena *a, const char *id, int state,
                                  const char *package_ids_array, assign_entry *out, kn_status *st)
{
    char s[4];
    snprintf(s, sizeof(s), "%d", state);
    const char *p[] = {id, s, package_ids_array};
    PGresult *r = kn_pg_exec(pg, &stmt_entry_finish, p, st);
    if (!r)
        return st->code;
    int n = PQntuples(r);
    if (n == 1)
        entry_row(a, r, 0, out);
    PQclear(r);
    if (n == 1)
        return KN_OK;
    return assign_store_entry_get(pg, a, id, out, st);
}

static const kn_pg_stmt stmt_entry_get = {
    "assign_entry_get", "SELECT " ENTRY_COLS " FROM assignments WHERE id = $1", 1};

kn_code assign_store_entry_get(kn_pg *pg, kn_arena *a, const char *id, assign_entry *out,
                               kn_status *st)
{
    const char *p[] = {id};
    PGresult *r = kn_pg_exec(pg, &stmt_entry_get, p, st);
    if (!r)
        return st->code;
    int n = PQntuples(r);
    if (n == 1)
        entry_row(a, r, 0, out);
    PQclear(r);
    if (n != 1)
        return kn_status_set(st, KN_NOT_FOUND, "assignment %s not found", id);
    return KN_OK;
}

/* No-op answers: assignments_order_idx / assignments_package_idx. */
static const kn_pg_stmt stmt_entry_latest_order = {
    "assign_entry_latest_order",
    "SELECT " ENTRY_COLS " FROM assignments WHERE tenant_id = $1 AND order_id = $2 "
    "AND target = 1 AND state = 2 ORDER BY fencing_token DESC LIMIT 1",
    2};

static const kn_pg_stmt stmt_entry_latest_package = {
    "assign_entry_latest_package",
    "SELECT " ENTRY_COLS " FROM assignments WHERE tenant_id = $1 AND package_id = $2 "
    "AND target = 2 AND state = 2 ORDER BY fencing_token DESC LIMIT 1",
    2};

kn_code assign_store_entry_latest(kn_pg *pg, kn_arena *a, const char *tenant, int target,
                                  const char *id, assign_entry *out, int *found, kn_status *st)
{
    const char *p[] = {tenant, id};
    *found = 0;
    PGresult *r = kn_pg_exec(
        pg, target == ASSIGN_TARGET_ORDER ? &stmt_entry_latest_order : &stmt_entry_latest_package,
        p, st);
    if (!r)
        return st->code;
    if (PQntuples(r) == 1) {
        entry_row(a, r, 0, out);
        *found = 1;
    }
    PQclear(r);
    return KN_OK;
}

/* ListAssignments: one statement per leading filter so each has an index
 * to drive it (a generic plan over "$n IS NULL OR ..." would not); the
 * other filters apply on top. Entries still reserved (checks not passed,
 * nothing sent) are not shown. Keyset on the fencing token, unique and
 * monotonic. */
#define ENTRY_LIST_FILTERS                                                                         \
    " AND ($2::uuid IS NULL OR after_user_id = $2 OR before_user_id = $2) "                        \
    "AND ($3::uuid IS NULL OR order_id = $3) "                                                     \
    "AND ($4::uuid IS NULL OR package_id = $4 OR package_ids @> ARRAY[$4::uuid]) "                 \
    "AND (state <> 1 OR phase = 1) AND fencing_token < $5 "                                        \
    "ORDER BY fencing_token DESC LIMIT $6"

/* assignments_order_idx */
static const kn_pg_stmt stmt_entry_list_order = {
    "assign_entry_list_order",
    "SELECT " ENTRY_COLS
    " FROM assignments WHERE tenant_id = $1 AND order_id = $3" ENTRY_LIST_FILTERS,
    6};
/* assignments_package_idx + assignments_package_ids_idx */
static const kn_pg_stmt stmt_entry_list_package = {
    "assign_entry_list_package",
    "SELECT " ENTRY_COLS " FROM assignments WHERE tenant_id = $1 AND (package_id = $4 OR "
    "package_ids @> ARRAY[$4::uuid])" ENTRY_LIST_FILTERS,
    6};
/* assignments_after_idx + assignments_before_idx */
static const kn_pg_stmt stmt_entry_list_user = {
    "assign_entry_list_user",
    "SELECT " ENTRY_COLS " FROM assignments WHERE tenant_id = $1 AND (after_user_id = $2 OR "
    "before_user_id = $2)" ENTRY_LIST_FILTERS,
    6};
/* assignments_tenant_idx */
static const kn_pg_stmt stmt_entry_list_all = {
    "assign_entry_list_all",
    "SELECT " ENTRY_COLS " FROM assignments WHERE tenant_id = $1" ENTRY_LIST_FILTERS, 6};

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

kn_code assign_store_entry_list(kn_pg *pg, kn_arena *a, const assign_entry_query *q,
                                assign_entry **rows, size_t *n, kn_status *st)
{
    char before[24], lim[12];
    snprintf(before, sizeof(before), "%" PRId64, q->has_before ? q->before_token : INT64_MAX);
    snprintf(lim, sizeof(lim), "%d", q->limit);
    const char *p[] = {q->tenant, nz(q->user_id), nz(q->order_id), nz(q->package_id), before, lim};
    const kn_pg_stmt *s = nz(q->order_id)     ? &stmt_entry_list_order
                          : nz(q->package_id) ? &stmt_entry_list_package
                          : nz(q->user_id)    ? &stmt_entry_list_user
                                              : &stmt_entry_list_all;
    PGresult *r = kn_pg_exec(pg, s, p, st);
    if (!r)
        return st->code;
    int cnt = PQntuples(r);
    *rows = kn_arena_alloc(a, sizeof(**rows) * (size_t)(cnt ? cnt : 1));
    for (int i = 0; i < cnt; i++)
        entry_row(a, r, i, &(*rows)[i]);
    *n = (size_t)cnt;
    PQclear(r);
    return KN_OK;
}

/* Repair: assignments_pending_idx. SKIP LOCKED and the bumped update_time
 * keep two replicas' repair loops off the same entry. */
static const kn_pg_stmt stmt_entry_claim = {
    "assign_entry_claim",
    "UPDATE assignments SET update_time = now() WHERE id IN (SELECT id FROM assignments "
    "WHERE state = 1 AND update_time < now() - $1::int * interval '1 millisecond' "
    "ORDER BY update_time LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING " ENTRY_COLS,
    2};

kn_code assign_store_entry_claim_stale(kn_pg *pg, kn_arena *a, long older_ms, int limit,
                                       assign_entry **rows, size_t *n, kn_status *st)
{
    char ms[24], lim[12];
    snprintf(ms, sizeof(ms), "%ld", older_ms);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {ms, lim};
    PGresult *r = kn_pg_exec(pg, &stmt_entry_claim, p, st);
    if (!r)
        return st->code;
    int cnt = PQntuples(r);
    *rows = kn_arena_alloc(a, sizeof(**rows) * (size_t)(cnt ? cnt : 1));
    for (int i = 0; i < cnt; i++)
        entry_row(a, r, i, &(*rows)[i]);
    *n = (size_t)cnt;
    PQclear(r);
    return KN_OK;
}
