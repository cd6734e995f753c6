/* kn_pg: one libpq connection per worker. The connection is opened lazily
 * and, once libpq reports it broken (the server restarted, a network cut),
 * the failing call answers UNAVAILABLE and the next call reconnects: a
 * statement whose fate is unknown is never silently re-sent.
 *
 * Prepared statements live on the server session, so the set of names
 * prepared is tracked per connection and emptied on reconnect. */
#include "kn_pg.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kn_log.h"
#include "kn_metrics.h"

/* Applied when the conninfo does not say otherwise: a server that does not
 * answer must not hang a worker for the kernel's TCP timeout. */
#define KN_PG_CONNECT_TIMEOUT_S "5"
/* The advisory lock key that serialises migrations ("knmigrat"). */
#define KN_PG_MIGRATE_LOCK "7813868027634168180"

struct kn_pg {
    char *conninfo;
    PGconn *conn;
    int timeout_ms;
    int in_tx;   /* between kn_pg_begin and commit/rollback */
    int tx_lost; /* the connection broke inside that transaction */
    /* kn_pg_begin sends nothing: BEGIN travels with the transaction's first
     * statement, in one round trip (libpq pipeline mode). */
    int begin_pending;
    /* kn_pg_commit_on_next: COMMIT travels right after the next statement. */
    int commit_next;
    /* kn_pg_queue'd statements, sent ahead of the next statement or the
     * COMMIT, in the same round trip. */
    struct pg_queued *queue;
    size_t nqueue, qcap;
    int counted; /* pg->conn is counted in konnect_db_connections_open */
    /* Names prepared on the current connection: open addressing, strdup'd. */
    char **prepared;
    size_t prep_cap, prep_len;
    /* The session's plan_cache_mode as far as kn_pg set it: PLAN_DEFAULT
     * (the database's), PLAN_CACHED (auto), or PLAN_UNKNOWN after a failure
     * or a rollback, which may have undone a SET. */
    int plan_mode;
    char sqlstate[6];
    char constraint[64];
};

enum { PLAN_UNKNOWN = -1, PLAN_DEFAULT = 0, PLAN_CACHED = 1 };

static int stmt_plan(const kn_pg_stmt *stmt)
{
    return strncmp(stmt->sql, KN_PG_CACHED_PLAN, sizeof(KN_PG_CACHED_PLAN) - 1) == 0 ? PLAN_CACHED
                                                                                     : PLAN_DEFAULT;
}

static void notice_to_log(void *arg, const char *message)
{
    size_t n = strlen(message);
    while (n && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    kn_log_debug("postgres notice: %.*s", (int)n, message);
}

static PGconn *pg_connect(const char *conninfo)
{
    const char *keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {KN_PG_CONNECT_TIMEOUT_S, conninfo, NULL};
    /* expand_dbname: the conninfo (URL or key=value) is expanded in place of
     * dbname, after connect_timeout, so its own values win. */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c)
        PQsetNoticeProcessor(c, notice_to_log, NULL);
    return c;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void prepared_clear(kn_pg *pg)
{
    for (size_t i = 0; i < pg->prep_cap; i++) {
        free(pg->prepared[i]);
        pg->prepared[i] = NULL;
    }
    pg->prep_len = 0;
}

static int prepared_has(const kn_pg *pg, const char *name)
{
    if (!pg->prep_cap)
        return 0;
    size_t mask = pg->prep_cap - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        if (!pg->prepared[i])
            return 0;
        if (strcmp(pg->prepared[i], name) == 0)
            return 1;
    }
}

static void prepared_add(kn_pg *pg, const char *name)
{
    if ((pg->prep_len + 1) * 2 > pg->prep_cap) {
        size_t cap = pg->prep_cap ? pg->prep_cap * 2 : 64;
        char **old = pg->prepared;
        size_t old_cap = pg->prep_cap;
        pg->prepared = calloc(cap, sizeof(char *));
        if (!pg->prepared)
            abort();
        pg->prep_cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            if (!old[i])
                continue;
            size_t j = name_hash(old[i]) & (cap - 1);
            while (pg->prepared[j])
                j = (j + 1) & (cap - 1);
            pg->prepared[j] = old[i];
        }
        free(old);
    }
    size_t mask = pg->prep_cap - 1;
    size_t i = name_hash(name) & mask;
    while (pg->prepared[i])
        i = (i + 1) & mask;
    pg->prepared[i] = strdup(name);
    if (!pg->prepared[i])
        abort();
    pg->prep_len++;
}

static void queue_clear(kn_pg *pg);

kn_pg *kn_pg_new(const char *conninfo)
{
    kn_pg *pg = calloc(1, sizeof(*pg));
    if (!pg)
        abort();
    pg->plan_mode = PLAN_UNKNOWN;
    pg->conninfo = strdup(conninfo ? conninfo : "");
    if (!pg->conninfo)
        abort();
    return pg;
}

void kn_pg_free(kn_pg *pg)
{
    if (!pg)
        return;
    if (pg->counted)
        kn_metrics_db_open(-1);
    if (pg->conn)
        PQfinish(pg->conn);
    prepared_clear(pg);
    free(pg->prepared);
    queue_clear(pg);
    free(pg->queue);
    free(pg->conninfo);
    free(pg);
}

static void drop_connection(kn_pg *pg)
{
    if (pg->counted)
        kn_metrics_db_open(-1);
    pg->counted = 0;
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->plan_mode = PLAN_UNKNOWN;
    prepared_clear(pg);
    if (pg->in_tx)
        pg->tx_lost = 1;
}

static kn_code apply_timeout(kn_pg *pg, kn_status *st);

kn_code kn_pg_ensure(kn_pg *pg, kn_status *st)
{
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
        return KN_OK;
    if (pg->conn)
        drop_connection(pg);
    /* The transaction the caller opened died with the old session: nothing
     * may run until the caller rolls back, or its later statements would
     * autocommit one by one on the new session. */
    if (pg->tx_lost)
        return kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
    pg->conn = pg_connect(pg->conninfo);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        const char *err = pg->conn ? PQerrorMessage(pg->conn) : "out of memory";
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            n--;
        kn_log_warn("database connect failed: %.*s", (int)n, err);
        kn_metrics_db_error();
        drop_connection(pg);
        return kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
    }
    pg->counted = 1;
    pg->plan_mode = PLAN_DEFAULT;
    kn_metrics_db_open(1);
    if (pg->timeout_ms > 0 && apply_timeout(pg, st) != KN_OK)
        return st->code;
    return KN_OK;
}

/* Classifies a failed result (res may be NULL: out of memory or a dead
 * socket) into a status for the client; details go to the log only. */
static kn_code pg_fail(kn_pg *pg, PGresult *res, const char *what, kn_status *st)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
    snprintf(pg->constraint, sizeof(pg->constraint), "%s", cons ? cons : "");

    /* Class 08 is "connection exception"; 57P01..57P03 are the server
     * shutting down or starting up. */
    int conn_lost = !pg->conn || PQstatus(pg->conn) == CONNECTION_BAD ||
                    strncmp(pg->sqlstate, "08", 2) == 0 || strncmp(pg->sqlstate, "57P0", 4) == 0;
    if (conn_lost) {
        const char *msg = pg->conn ? PQerrorMessage(pg->conn) : "no connection";
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            n--;
        kn_log_warn("database connection lost during %s: %.*s", what, (int)n, msg);
        kn_metrics_db_error();
        drop_connection(pg);
        return kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
    }
    const char *msg = res ? PQresultErrorMessage(res) : "";
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        n--;
    if (strcmp(pg->sqlstate, "57014") == 0) {
        kn_log_warn("statement %s cancelled (statement timeout)", what);
        return kn_status_set(st, KN_DEADLINE_EXCEEDED, "deadline exceeded");
    }
    if (strcmp(pg->sqlstate, "40001") == 0 || strcmp(pg->sqlstate, "40P01") == 0) {
        kn_log_info("statement %s: %s (sqlstate %s)", what, "conflict", pg->sqlstate);
        return kn_status_set(st, KN_ABORTED, "conflict, retry");
    }
    /* Class 23 (integrity constraint) is expected by callers that map it to
     * ALREADY_EXISTS and the like: not worth a warning. */
    if (strncmp(pg->sqlstate, "23", 2) == 0)
        kn_log_debug("statement %s failed: sqlstate %s constraint %s: %.*s", what, pg->sqlstate,
                     pg->constraint, (int)n, msg);
    else {
        kn_log_warn("statement %s failed: sqlstate %s: %.*s", what, pg->sqlstate, (int)n, msg);
        kn_metrics_db_error();
    }
    /* The server forgot the statement (DISCARD ALL, a pooler in between):
     * prepare again next time. */
    if (strcmp(pg->sqlstate, "26000") == 0)
        prepared_clear(pg);
    return kn_status_set(st, KN_INTERNAL, "internal database error");
}

static void clear_diag(kn_pg *pg)
{
    pg->sqlstate[0] = '\0';
    pg->constraint[0] = '\0';
}

/* A statement kn_pg_queue kept for the next round trip, with copies of its
 * parameters (the caller's array may be gone by then). */
typedef struct pg_queued {
    const kn_pg_stmt *stmt;
    char **params;
} pg_queued;

static void queue_clear(kn_pg *pg)
{
    for (size_t i = 0; i < pg->nqueue; i++) {
        pg_queued *q = &pg->queue[i];
        for (int j = 0; j < q->stmt->nparams; j++)
            free(q->params[j]);
        free(q->params);
    }
    pg->nqueue = 0;
}

/* Ends the client side of a transaction: nothing pending is sent. */
static void tx_forget(kn_pg *pg)
{
    pg->in_tx = 0;
    pg->tx_lost = 0;
    pg->begin_pending = 0;
    pg->commit_next = 0;
    queue_clear(pg);
}

/* One message of a pipeline. */
typedef enum { STEP_BEGIN, STEP_PLAN, STEP_PREPARE, STEP_EXEC, STEP_COMMIT } step_kind;
typedef struct {
    step_kind kind;
    const kn_pg_stmt *stmt;
    const char *const *params;
} pg_step;

/* STEP_PLAN's two commands (no parameters; sql only). A SET in a
 * transaction lasts past its statement and is undone by a rollback. */
static const kn_pg_stmt plan_cached = {"SET plan_cache_mode", "SET plan_cache_mode = auto", 0};
static const kn_pg_stmt plan_default = {"RESET plan_cache_mode", "RESET plan_cache_mode", 0};

/* The steps of a pipeline fit here unless a caller queued many statements. */
#define KN_PG_STEPS_INLINE 16

static int step_prepares(const pg_step *steps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i].kind == STEP_PREPARE && strcmp(steps[i].stmt->name, name) == 0)
            return 1;
    return 0;
}

/* *mode: the session's plan_cache_mode at this point of the pipeline. */
static size_t add_exec(pg_step *steps, size_t n, const kn_pg *pg, const kn_pg_stmt *stmt,
                       const char *const *params, int *mode)
{
    int want = stmt_plan(stmt);
    if (*mode != want) {
        steps[n++] = (pg_step){STEP_PLAN, want == PLAN_CACHED ? &plan_cached : &plan_default, NULL};
        *mode = want;
    }
    if (!prepared_has(pg, stmt->name) && !step_prepares(steps, n, stmt->name))
        steps[n++] = (pg_step){STEP_PREPARE, stmt, NULL};
    steps[n++] = (pg_step){STEP_EXEC, stmt, params};
    return n;
}

static int step_send(PGconn *c, const pg_step *s)
{
    switch (s->kind) {
    case STEP_BEGIN:
        return PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
    case STEP_COMMIT:
        return PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    case STEP_PLAN:
        return PQsendQueryParams(c, s->stmt->sql, 0, NULL, NULL, NULL, NULL, 0);
    case STEP_PREPARE:
        return PQsendPrepare(c, s->stmt->name, s->stmt->sql, s->stmt->nparams, NULL);
    case STEP_EXEC:
        return PQsendQueryPrepared(c, s->stmt->name, s->stmt->nparams, s->params, NULL, NULL, 0);
    }
    return 0;
}

static const char *step_name(const pg_step *s)
{
    return s->kind == STEP_BEGIN ? "BEGIN" : s->kind == STEP_COMMIT ? "COMMIT" : s->stmt->name;
}

/* Sends the pending BEGIN, the queue, stmt (may be NULL) and, when commit is
 * set, COMMIT, as one pipeline: one round trip. The first failure stops the
 * rest (the server skips them to the sync point) and sets st. On success
 * *out (if stmt) is stmt's result. The queue and pending BEGIN are spent
 * either way; a failed transaction stays open (aborted) for the caller's
 * rollback, except with commit, which always ends it. */
static kn_code pipeline_run(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params,
                            int commit, PGresult **out, kn_status *st)
{
    kn_code rc = KN_OK;
    pg_step inline_steps[KN_PG_STEPS_INLINE];
    size_t cap = 2 + 3 * (pg->nqueue + 1);
    pg_step *steps = cap <= KN_PG_STEPS_INLINE ? inline_steps : malloc(cap * sizeof(*steps));
    size_t n = 0;
    PGresult *target = NULL, *failed = NULL, *commit_res = NULL;
    const char *failed_what = "pipeline";
    int mode = pg->plan_mode;
    if (!steps)
        abort();
    if (pg->begin_pending)
        steps[n++] = (pg_step){STEP_BEGIN, NULL, NULL};
    for (size_t i = 0; i < pg->nqueue; i++)
        n = add_exec(steps, n, pg, pg->queue[i].stmt, (const char *const *)pg->queue[i].params,
                     &mode);
    size_t target_at = n;
    if (stmt) {
        n = add_exec(steps, n, pg, stmt, params, &mode);
        target_at = n - 1;
    }
    if (commit)
        steps[n++] = (pg_step){STEP_COMMIT, NULL, NULL};

    kn_metrics_db_in_use(1);
    int sent = PQenterPipelineMode(pg->conn);
    for (size_t i = 0; sent && i < n; i++)
        sent = step_send(pg->conn, &steps[i]);
    if (sent)
        sent = PQpipelineSync(pg->conn);
    /* Every step answers one result and a NULL; an aborted one answers
     * PGRES_PIPELINE_ABORTED. The sync point ends the pipeline. */
    size_t i = 0;
    while (sent) {
        PGresult *r = PQgetResult(pg->conn);
        if (!r) {
            if (PQstatus(pg->conn) == CONNECTION_BAD)
                break;
            if (++i > n) {
                /* More ends than steps and no sync: not a state to reuse. */
                drop_connection(pg);
                break;
            }
            continue;
        }
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        int ok = i < n && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
        /* An aborted step is the first failure's consequence, not news. */
        int first_failure = !ok && i < n && s != PGRES_PIPELINE_ABORTED && !failed;
        if (ok && steps[i].kind == STEP_PREPARE)
            prepared_add(pg, steps[i].stmt->name);
        if (ok && stmt && i == target_at) {
            target = r;
        } else if (ok && steps[i].kind == STEP_COMMIT) {
            commit_res = r;
        } else if (first_failure) {
            failed = r;
            failed_what = step_name(&steps[i]);
        } else {
            PQclear(r);
        }
        if (PQstatus(pg->conn) == CONNECTION_BAD)
            break;
    }
    kn_metrics_db_in_use(-1);
    if (pg->conn && PQstatus(pg->conn) != CONNECTION_BAD && PQexitPipelineMode(pg->conn) != 1)
        /* Results left unread: the session's state is unknown. */
        drop_connection(pg);
    pg->begin_pending = 0;
    pg->commit_next = 0;
    queue_clear(pg);

    if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD || !sent) {
        rc = pg_fail(pg, failed, failed_what, st);
        if (rc == KN_INTERNAL)
            /* A send failed on a socket libpq still calls healthy. */
            drop_connection(pg);
        rc = kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
    } else if (failed) {
        rc = pg_fail(pg, failed, failed_what, st);
    } else if (commit_res && strcmp(PQcmdStatus(commit_res), "ROLLBACK") == 0) {
        /* COMMIT of a transaction that failed in an earlier round trip. */
        kn_log_warn("COMMIT rolled back: a statement of the transaction had failed");
        rc = kn_status_set(st, KN_INTERNAL, "internal database error");
    }
    /* A failure undoes the pipeline's SET (its implicit transaction aborts)
     * or leaves it to the caller's rollback. */
    pg->plan_mode = rc == KN_OK && pg->conn ? mode : PLAN_UNKNOWN;
    PQclear(failed);
    PQclear(commit_res);
    if (steps != inline_steps)
        free(steps);
    if (commit) {
        /* A failure before COMMIT left the transaction open and aborted. */
        if (rc != KN_OK)
            kn_pg_rollback(pg);
        tx_forget(pg);
    }
    if (rc != KN_OK) {
        PQclear(target);
        return rc;
    }
    if (out)
        *out = target;
    else
        PQclear(target);
    return KN_OK;
}

PGresult *kn_pg_exec(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st)
{
    clear_diag(pg);
    if (pg->tx_lost) {
        kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
        return NULL;
    }
    if (kn_pg_ensure(pg, st) != KN_OK)
        return NULL;
    if (pg->begin_pending || pg->nqueue > 0 || pg->commit_next ||
        pg->plan_mode != stmt_plan(stmt)) {
        PGresult *res = NULL;
        if (pipeline_run(pg, stmt, params, pg->commit_next, &res, st) != KN_OK)
            return NULL;
        return res;
    }
    if (!prepared_has(pg, stmt->name)) {
        PGresult *pr = PQprepare(pg->conn, stmt->name, stmt->sql, stmt->nparams, NULL);
        if (!pr || PQresultStatus(pr) != PGRES_COMMAND_OK) {
            pg_fail(pg, pr, stmt->name, st);
            PQclear(pr);
            return NULL;
        }
        PQclear(pr);
        prepared_add(pg, stmt->name);
    }
    kn_metrics_db_in_use(1);
    PGresult *res = PQexecPrepared(pg->conn, stmt->name, stmt->nparams, params, NULL, NULL, 0);
    kn_metrics_db_in_use(-1);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
        return res;
    pg_fail(pg, res, stmt->name, st);
    PQclear(res);
    return NULL;
}

long kn_pg_run(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st)
{
    PGresult *res = kn_pg_exec(pg, stmt, params, st);
    if (!res)
        return -1;
    const char *n = PQcmdTuples(res);
    long rows = (n && *n) ? strtol(n, NULL, 10) : 0;
    PQclear(res);
    return rows;
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

kn_code kn_pg_queue(kn_pg *pg, const kn_pg_stmt *stmt, const char *const *params, kn_status *st)
{
    if (!pg->in_tx || pg->tx_lost)
        return kn_pg_run(pg, stmt, params, st) < 0 ? st->code : KN_OK;
    if (pg->nqueue == pg->qcap) {
        size_t cap = pg->qcap ? pg->qcap * 2 : 4;
        pg_queued *q = realloc(pg->queue, cap * sizeof(*q));
        if (!q)
            abort();
        pg->queue = q;
        pg->qcap = cap;
    }
    pg_queued *q = &pg->queue[pg->nqueue];
    q->stmt = stmt;
    q->params = calloc((size_t)(stmt->nparams > 0 ? stmt->nparams : 1), sizeof(char *));
    if (!q->params)
        abort();
    for (int j = 0; j < stmt->nparams; j++)
        q->params[j] = dup_or_null(params[j]);
    pg->nqueue++;
    return KN_OK;
}

/* A fixed command (no parameters, nothing from input). */
static kn_code simple(kn_pg *pg, const char *sql, PGresult **out, kn_status *st)
{
    PGresult *res = PQexec(pg->conn, sql);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        if (out)
            *out = res;
        else
            PQclear(res);
        return KN_OK;
    }
    kn_code rc = pg_fail(pg, res, sql, st);
    PQclear(res);
    return rc;
}

kn_code kn_pg_begin(kn_pg *pg, kn_status *st)
{
    clear_diag(pg);
    tx_forget(pg);
    if (kn_pg_ensure(pg, st) != KN_OK)
        return st->code;
    if (PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        kn_log_warn("kn_pg_begin: a transaction was left open; rolling it back");
        PQclear(PQexec(pg->conn, "ROLLBACK"));
        pg->plan_mode = PLAN_UNKNOWN;
    }
    pg->in_tx = 1;
    pg->begin_pending = 1;
    return KN_OK;
}

void kn_pg_commit_on_next(kn_pg *pg)
{
    if (pg->in_tx)
        pg->commit_next = 1;
}

kn_code kn_pg_commit(kn_pg *pg, kn_status *st)
{
    clear_diag(pg);
    if (!pg->in_tx && !pg->tx_lost) {
        /* Committed with its last statement (kn_pg_commit_on_next), or no
         * transaction was opened. */
        return KN_OK;
    }
    if (pg->tx_lost || !pg->conn) {
        tx_forget(pg);
        return kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
    }
    if (pg->begin_pending && pg->nqueue == 0) {
        /* Nothing was sent: there is nothing to commit. */
        tx_forget(pg);
        return KN_OK;
    }
    return pipeline_run(pg, NULL, NULL, 1, NULL, st);
}

void kn_pg_rollback(kn_pg *pg)
{
    tx_forget(pg);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK)
        return;
    if (PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
        return;
    pg->plan_mode = PLAN_UNKNOWN;
    PGresult *res = PQexec(pg->conn, "ROLLBACK");
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        if (PQstatus(pg->conn) == CONNECTION_BAD)
            drop_connection(pg);
        pg->tx_lost = 0;
    }
    PQclear(res);
}

void kn_pg_end_call(kn_pg *pg)
{
    if (!pg)
        return;
    if (pg->in_tx || pg->tx_lost ||
        (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
         PQtransactionStatus(pg->conn) != PQTRANS_IDLE)) {
        kn_log_warn("a handler left a database transaction open; rolled back");
        kn_pg_rollback(pg);
    }
}

const char *kn_pg_sqlstate(const kn_pg *pg)
{
    return pg->sqlstate;
}

const char *kn_pg_constraint(const kn_pg *pg)
{
    return pg->constraint;
}

static kn_code apply_timeout(kn_pg *pg, kn_status *st)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "SET statement_timeout = %d", pg->timeout_ms);
    return simple(pg, sql, NULL, st);
}

kn_code kn_pg_set_timeout(kn_pg *pg, int ms, kn_status *st)
{
    pg->timeout_ms = ms < 0 ? 0 : ms;
    if (kn_pg_ensure(pg, st) != KN_OK)
        return st->code;
    return apply_timeout(pg, st);
}

int kn_pg_ping(kn_pg *pg)
{
    kn_status st;
    PGresult *res = NULL;
    if (kn_pg_ensure(pg, &st) != KN_OK)
        return 0;
    if (simple(pg, "SELECT 1", &res, &st) != KN_OK)
        return 0;
    PQclear(res);
    return 1;
}

/* ---- migrations ---- */

/* Digits at the start of s: their count, and where the significant ones
 * begin (leading zeros skipped), so prefixes of any length compare without
 * overflow. */
static size_t num_prefix(const char *s, const char **sig)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    *sig = s;
    if (n == 0)
        return 0;
    const char *p = s;
    while (p < s + n - 1 && *p == '0')
        p++;
    *sig = p;
    return n;
}

static int migration_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    const char *xs, *ys;
    size_t xn = num_prefix(x, &xs), yn = num_prefix(y, &ys);
    if (xn && yn) {
        size_t xl = xn - (size_t)(xs - x), yl = yn - (size_t)(ys - y);
        if (xl != yl)
            return xl < yl ? -1 : 1;
        int c = memcmp(xs, ys, xl);
        if (c)
            return c;
    } else if (xn || yn) {
        return xn ? -1 : 1; /* numbered files first */
    }
    return strcmp(x, y);
}

void kn_pg_migration_sort(char **names, size_t n)
{
    if (n > 1)
        qsort(names, n, sizeof(char *), migration_cmp);
}

static int has_sql_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".sql") == 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Runs fixed SQL on the migration connection (PQexec, so a file may hold
 * many statements; PQexecParams with one parameter when param is set), logs
 * and classifies a failure. *out receives a successful result if asked. */
static kn_code mig_run(PGconn *c, const char *sql, const char *param, const char *file,
                       PGresult **out, kn_status *st)
{
    PGresult *res = param ? PQexecParams(c, sql, 1, NULL, &param, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    kn_code rc = KN_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        const char *msg = PQerrorMessage(c);
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            n--;
        if (PQstatus(c) == CONNECTION_BAD) {
            kn_log_warn("migrations: database connection lost: %.*s", (int)n, msg);
            rc = kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
        } else if (file) {
            kn_log_error("migration %s failed: %.*s", file, (int)n, msg);
            rc = kn_status_set(st, KN_INTERNAL, "migration %s failed", file);
        } else {
            kn_log_error("migrations: %.*s", (int)n, msg);
            rc = kn_status_set(st, KN_INTERNAL, "migrations: database error");
        }
    } else if (out) {
        *out = res;
        return KN_OK;
    }
    PQclear(res);
    return rc;
}

static kn_code apply_one(PGconn *c, const char *dir, const char *file, int *applied, kn_status *st)
{
    kn_code rc;
    char *sql = NULL;
    PGresult *res = NULL;
    *applied = 0;

    rc = mig_run(c, "SELECT 1 FROM schema_migrations WHERE version = $1", file, file, &res, st);
    if (rc != KN_OK)
        return rc;
    int done_before = PQntuples(res) > 0;
    PQclear(res);
    if (done_before)
        return KN_OK;

    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    sql = read_file(path);
    if (!sql) {
        kn_log_error("migration %s: cannot read %s: %s", file, path, strerror(errno));
        return kn_status_set(st, KN_INTERNAL, "migration %s cannot be read", file);
    }
    if ((rc = mig_run(c, "BEGIN", NULL, file, NULL, st)) != KN_OK)
        goto done;
    if ((rc = mig_run(c, sql, NULL, file, NULL, st)) != KN_OK)
        goto rollback;
    if ((rc = mig_run(c, "INSERT INTO schema_migrations (version) VALUES ($1)", file, file, NULL,
                      st)) != KN_OK)
        goto rollback;
    if ((rc = mig_run(c, "COMMIT", NULL, file, NULL, st)) != KN_OK)
        goto done;
    *applied = 1;
    kn_log_info("migration applied: %s", file);
    goto done;
rollback:
    if (PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "ROLLBACK"));
done:
    free(sql);
    return rc;
}

kn_code kn_pg_migrate(const char *conninfo, const char *dir, kn_status *st)
{
    kn_code rc = KN_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int locked = 0;
    DIR *d = NULL;

    PGconn *c = pg_connect(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *err = c ? PQerrorMessage(c) : "out of memory";
        size_t len = strlen(err);
        while (len && err[len - 1] == '\n')
            len--;
        kn_log_warn("migrations: database connect failed: %.*s", (int)len, err);
        rc = kn_status_set(st, KN_UNAVAILABLE, "database unavailable");
        goto done;
    }
    /* Session lock: held across the per-file transactions, released on
     * unlock or when the connection closes (a crashed migrator frees it). */
    if ((rc = mig_run(c, "SELECT pg_advisory_lock(" KN_PG_MIGRATE_LOCK ")", NULL, NULL, NULL,
                      st)) != KN_OK)
        goto done;
    locked = 1;
    if ((rc = mig_run(c,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version text PRIMARY KEY, "
                      "applied_at timestamptz NOT NULL DEFAULT now())",
                      NULL, NULL, NULL, st)) != KN_OK)
        goto done;

    d = opendir(dir);
    if (!d) {
        kn_log_error("migrations: cannot open %s: %s", dir, strerror(errno));
        rc = kn_status_set(st, KN_INTERNAL, "migrations directory %s cannot be opened", dir);
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_sql_suffix(e->d_name))
            continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(char *));
            if (!nn)
                abort();
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            abort();
        n++;
    }
    kn_pg_migration_sort(names, n);

    size_t applied_count = 0;
    for (size_t i = 0; i < n; i++) {
        int applied = 0;
        if ((rc = apply_one(c, dir, names[i], &applied, st)) != KN_OK)
            goto done;
        applied_count += (size_t)applied;
    }
    kn_log_info("migrations: %zu file(s), %zu applied now", n, applied_count);
done:
    if (locked && PQstatus(c) == CONNECTION_OK)
        PQclear(PQexec(c, "SELECT pg_advisory_unlock(" KN_PG_MIGRATE_LOCK ")"));
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (c)
        PQfinish(c);
    return rc;
}
