/* kn_pg: PostgreSQL on libpq. One kn_pg is one connection used by one thread
 * at a time (each server worker owns one). Statements are prepared once per
 * connection on first use, parameters are always bound (no SQL is built
 * from input), and a broken connection is re-established on the next call
 * (after the server restarts), re-preparing what it needs.
 *
 * Errors: a lost connection answers KN_UNAVAILABLE ("database unavailable");
 * any other database error answers KN_INTERNAL with a generic message, the
 * details going to the log only. Callers that expect a constraint violation
 * read kn_pg_sqlstate() and map it to a client error naming the field. */
#ifndef KN_PG_H
#define KN_PG_H

#include <libpq-fe.h>
#include "kn_status.h"

typedef struct kn_pg kn_pg;

/* A statement, declared as a static const next to the store function that
 * runs it. name must be unique in the process. */
typedef struct {
    const char *name;
    const char *sql;
    int nparams;
} kn_pg_stmt;

/* A statement whose sql begins with KN_PG_CACHED_PLAN is planned the way
 * PostgreSQL plans by default: after a few executions, once a plan for any
 * values costs no more, that plan is kept and reused. Every other statement
 * follows the database's plan_cache_mode, which order-svc and location-svc
 * set to plan each execution with its values (their list and search
 * statements need it). Mark key lookups and writes whose best plan does not
 * depend on the values: planning was most of their server time. kn_pg sets
 * the session's mode in the same round trip when it must change. */
#define KN_PG_CACHED_PLAN "/* kn: cached plan */ "

kn_pg *kn_pg_new(const char *conninfo);
void kn_pg_free(kn_pg *pg);

/* Connects if needed; KN_OK or KN_UNAVAILABLE. */
kn_code kn_pg_ensure(kn_pg *pg, kn_status *st);

/* Runs a prepared statement with text parameters (NULL = SQL NULL). Returns
 * a result the caller PQclear()s, or NULL with st set. */
PGresult *kn_pg_exec(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st);

/* Runs a statement that returns no rows and clears the result. Returns the
 * number of affected rows (>= 0) or -1 with st set. */
long kn_pg_run(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st);

/* BEGIN / COMMIT / ROLLBACK. Rollback never fails the caller (a broken
 * connection has no transaction left).
 *
 * Round trips, the main cost of a short transaction: kn_pg_begin sends
 * nothing, BEGIN goes out in one pipeline with the first statement; a
 * transaction in which nothing ran commits without a round trip. A commit
 * after a transaction's last statement (kn_pg_commit_on_next) is a no-op. */
kn_code kn_pg_begin(kn_pg *pg, kn_status *st);
kn_code kn_pg_commit(kn_pg *pg, kn_status *st);
void kn_pg_rollback(kn_pg *pg);
/* Inside a transaction: COMMIT goes out right after the next statement, in
 * the same round trip, for a transaction whose last statement reads the
 * answer. That statement's result is returned only if the COMMIT succeeded
 * too; on any failure the transaction is rolled back. */
void kn_pg_commit_on_next(kn_pg *pg);
/* Inside a transaction: a statement whose result the caller does not need
 * (an UPDATE or INSERT that cannot affect the next decision) is kept and
 * sent ahead of the next statement or the COMMIT, in the same round trip.
 * Its failure is reported by that next call (kn_pg_sqlstate names it).
 * Outside a transaction it runs at once. Parameters are copied. */
kn_code kn_pg_queue(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st);

/* Called by the runtime after every handler: rolls back a transaction the
 * handler left open (with a warning), so one forgotten rollback on an error
 * path cannot poison the worker's connection for the calls that follow. */
void kn_pg_end_call(kn_pg *pg);

/* SQLSTATE of the last failed statement ("23505"), or "" . */
const char *kn_pg_sqlstate(const kn_pg *pg);
/* The constraint name of the last failed statement, or "". */
const char *kn_pg_constraint(const kn_pg *pg);

/* Limits each statement to ms (SET statement_timeout), 0 = none. */
kn_code kn_pg_set_timeout(kn_pg *pg, int ms, kn_status *st);

/* 1 if `SELECT 1` answers. */
int kn_pg_ping(kn_pg *pg);

/* Applies the dir/NNNN_name.sql files not yet applied, in file-name order, each in its own
 * transaction, under a session advisory lock so that replicas starting
 * together apply each file once. Recorded in schema_migrations. */
kn_code kn_pg_migrate(const char *conninfo, const char *dir, kn_status *st);

/* Sorts migration file names the way kn_pg_migrate applies them (numeric
 * prefix, then name); exposed for unit tests. */
void kn_pg_migration_sort(char **names, size_t n);

#endif
