/* Driven by tests/integration/pg_reconnect.test.mjs. Two modes:
 *
 *   kn_pg_reconnect reconnect CONNINFO
 *     Runs a prepared statement on one kn_pg, prints "ready", waits for a line
 *     on stdin (the test restarts PostgreSQL meanwhile), then runs the same
 *     statement again on the same kn_pg: the first attempt may answer
 *     UNAVAILABLE, the second must succeed on a new server session (other
 *     backend pid), which proves reconnect and re-prepare.
 *
 *   kn_pg_reconnect migrate CONNINFO DIR
 *     Runs kn_pg_migrate and prints its status and the recorded versions in
 *     order of application.
 *
 *   kn_pg_reconnect pipeline CONNINFO
 *     The round-trip savers keep transaction semantics: the deferred BEGIN
 *     still makes a transaction atomic, queued statements run before the
 *     next one and their failure rolls the transaction back, a commit riding
 *     on a read commits (or, when the read fails, rolls back), and the
 *     connection serves the next call after every failure. A second
 *     connection checks what was committed. Prints "pipeline: OK" or the
 *     first "error: ..." line.
 *
 *   kn_pg_reconnect plan CONNINFO
 *     Statements marked KN_PG_CACHED_PLAN run with plan_cache_mode auto
 *     (and get generic plans), the others with the database's setting
 *     (made force_custom_plan here, as order-svc's migration does), through
 *     direct calls, transactions, mixed queues, failures and rollbacks that
 *     undo a SET. Prints "plan: OK" or the first "error: ..." line.
 *
 * Output is line-oriented "key: value" for the test to match. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_log.h"
#include "kn_pg.h"

static const kn_pg_stmt probe = {
    .name = "reconnect_probe",
    .sql = "SELECT $1::int + 1, pg_backend_pid()",
    .nparams = 1,
};

static const kn_pg_stmt list_versions = {
    .name = "reconnect_list_versions",
    .sql = "SELECT version FROM schema_migrations ORDER BY applied_at, version",
    .nparams = 0,
};

/* Runs the probe; prints "<label>: OK value=.. pid=.." or the status. */
static kn_code run_probe(kn_pg *pg, const char *label, char *pid, size_t pidlen)
{
    kn_status st;
    const char *params[] = {"41"};
    memset(&st, 0, sizeof(st));
    PGresult *res = kn_pg_exec(pg, &probe, params, &st);
    if (!res) {
        printf("%s: %s %s\n", label, kn_code_name(st.code), st.message);
        fflush(stdout);
        return st.code;
    }
    printf("%s: OK value=%s pid=%s\n", label, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    snprintf(pid, pidlen, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    fflush(stdout);
    return KN_OK;
}

static int mode_reconnect(const char *conninfo)
{
    char pid_before[32] = "", pid_after[32] = "";
    kn_pg *pg = kn_pg_new(conninfo);
    int rc = 1;

    if (run_probe(pg, "before", pid_before, sizeof(pid_before)) != KN_OK)
        goto done;
    printf("ping: %d\n", kn_pg_ping(pg));
    printf("ready\n");
    fflush(stdout);

    char line[64];
    if (!fgets(line, sizeof(line), stdin)) {
        printf("error: stdin closed\n");
        goto done;
    }
    kn_code first = run_probe(pg, "attempt1", pid_after, sizeof(pid_after));
    if (first != KN_OK) {
        if (first != KN_UNAVAILABLE) {
            printf("error: first attempt must be OK or UNAVAILABLE\n");
            goto done;
        }
        if (run_probe(pg, "attempt2", pid_after, sizeof(pid_after)) != KN_OK)
            goto done;
    }
    if (strcmp(pid_before, pid_after) == 0) {
        printf("error: same backend pid after a restart\n");
        goto done;
    }
    /* The new session answers transactions and pings too. */
    kn_status st;
    memset(&st, 0, sizeof(st));
    if (kn_pg_begin(pg, &st) != KN_OK || kn_pg_commit(pg, &st) != KN_OK) {
        printf("error: transaction after reconnect: %s\n", st.message);
        goto done;
    }
    printf("ping-after: %d\n", kn_pg_ping(pg));
    printf("reconnected\n");
    rc = 0;
done:
    fflush(stdout);
    kn_pg_free(pg);
    return rc;
}

static int mode_migrate(const char *conninfo, const char *dir)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    kn_code code = kn_pg_migrate(conninfo, dir, &st);
    printf("migrate: %s %s\n", kn_code_name(code), code == KN_OK ? "" : st.message);
    kn_pg *pg = kn_pg_new(conninfo);
    PGresult *res = kn_pg_exec(pg, &list_versions, NULL, &st);
    if (res) {
        for (int i = 0; i < PQntuples(res); i++)
            printf("version: %s\n", PQgetvalue(res, i, 0));
        PQclear(res);
    }
    kn_pg_free(pg);
    fflush(stdout);
    return code == KN_OK ? 0 : 2;
}

static const kn_pg_stmt pl_create = {
    "pl_create", "CREATE TABLE IF NOT EXISTS kn_pipeline_t (id int PRIMARY KEY, v text)", 0};
static const kn_pg_stmt pl_insert = {"pl_insert",
                                     "INSERT INTO kn_pipeline_t (id, v) VALUES ($1::int, $2)", 2};
static const kn_pg_stmt pl_count = {"pl_count", "SELECT count(*) FROM kn_pipeline_t", 0};
static const kn_pg_stmt pl_get = {"pl_get", "SELECT v FROM kn_pipeline_t WHERE id = $1::int", 1};
static const kn_pg_stmt pl_fail = {"pl_fail", "SELECT 1 / ($1::int - $1::int)", 1};

/* Rows with this id as seen from another session: what was committed. */
static int committed(kn_pg *other, const char *id)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    const char *p[] = {id};
    PGresult *r = kn_pg_exec(other, &pl_get, p, &st);
    if (!r)
        return -1;
    int n = PQntuples(r);
    PQclear(r);
    return n;
}

/* The session is usable and outside any transaction. */
static int healthy(kn_pg *pg)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    PGresult *r = kn_pg_exec(pg, &pl_count, NULL, &st);
    if (!r)
        return 0;
    PQclear(r);
    return 1;
}

#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("error: %s\n", what);                                                           \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

static int mode_pipeline(const char *conninfo)
{
    kn_pg *pg = kn_pg_new(conninfo);
    kn_pg *other = kn_pg_new(conninfo);
    kn_status st;
    memset(&st, 0, sizeof(st));
    int rc = 1;
    PGresult *r = NULL;
    const char *p1[] = {"1", "a"}, *p2[] = {"2", "b"}, *p3[] = {"3", "c"}, *p4[] = {"4", "d"};
    const char *p5[] = {"5", "e"}, *p6[] = {"6", "f"}, *p7[] = {"7", "g"}, *zero[] = {"0"};

    CHECK(kn_pg_run(pg, &pl_create, NULL, &st) >= 0, "create table");

    /* Queued statements run before the next one, in order, in the
     * transaction; the commit makes them visible. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 1");
    CHECK(kn_pg_queue(pg, &pl_insert, p1, &st) == KN_OK, "queue 1");
    CHECK(kn_pg_queue(pg, &pl_insert, p2, &st) == KN_OK, "queue 2");
    CHECK(committed(other, "1") == 0, "a queued insert ran before its round trip");
    r = kn_pg_exec(pg, &pl_count, NULL, &st);
    CHECK(r && strcmp(PQgetvalue(r, 0, 0), "2") == 0, "the read after the queue sees both rows");
    PQclear(r);
    r = NULL;
    CHECK(committed(other, "1") == 0, "visible before the commit");
    CHECK(kn_pg_commit(pg, &st) == KN_OK, "commit 1");
    CHECK(committed(other, "1") == 1 && committed(other, "2") == 1, "committed rows missing");

    /* A queued statement that fails (duplicate key) fails the commit and
     * nothing of the transaction stays. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 2");
    CHECK(kn_pg_queue(pg, &pl_insert, p3, &st) == KN_OK, "queue 3");
    CHECK(kn_pg_queue(pg, &pl_insert, p1, &st) == KN_OK, "queue duplicate");
    CHECK(kn_pg_commit(pg, &st) == KN_INTERNAL, "a failed queued insert must fail the commit");
    CHECK(strcmp(kn_pg_sqlstate(pg), "23505") == 0, "the failure's sqlstate");
    CHECK(committed(other, "3") == 0, "a row of a failed transaction was committed");
    CHECK(healthy(pg), "the session after a failed commit");

    /* The deferred BEGIN still opens the transaction: a direct insert and a
     * failing one, rolled back, leave nothing. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 3");
    CHECK(kn_pg_run(pg, &pl_insert, p7, &st) == 1, "insert 7");
    CHECK(kn_pg_run(pg, &pl_insert, p7, &st) < 0, "a duplicate insert must fail");
    kn_pg_rollback(pg);
    CHECK(committed(other, "7") == 0, "the deferred BEGIN was lost: the insert autocommitted");
    CHECK(healthy(pg), "the session after a rollback");

    /* A commit riding on the last read commits. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 4");
    CHECK(kn_pg_queue(pg, &pl_insert, p4, &st) == KN_OK, "queue 4");
    kn_pg_commit_on_next(pg);
    const char *id4[] = {"4"};
    r = kn_pg_exec(pg, &pl_get, id4, &st);
    CHECK(r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "d") == 0, "the riding read");
    PQclear(r);
    r = NULL;
    CHECK(committed(other, "4") == 1, "a commit riding on a read did not commit");
    CHECK(kn_pg_commit(pg, &st) == KN_OK, "the commit after it is a no-op");

    /* ... and when that read fails, the transaction is rolled back. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 5");
    CHECK(kn_pg_queue(pg, &pl_insert, p5, &st) == KN_OK, "queue 5");
    kn_pg_commit_on_next(pg);
    r = kn_pg_exec(pg, &pl_fail, zero, &st);
    CHECK(!r && st.code == KN_INTERNAL, "division by zero must fail");
    CHECK(committed(other, "5") == 0, "a failed riding read committed");
    CHECK(healthy(pg), "the session after a failed riding read");

    /* Rolled back before anything was sent: nothing ran. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 6");
    CHECK(kn_pg_queue(pg, &pl_insert, p6, &st) == KN_OK, "queue 6");
    kn_pg_rollback(pg);
    CHECK(committed(other, "6") == 0, "a queued insert of a rolled back transaction ran");
    /* Outside a transaction a queued statement runs at once. */
    CHECK(kn_pg_queue(pg, &pl_insert, p6, &st) == KN_OK, "queue outside a transaction");
    CHECK(committed(other, "6") == 1, "a statement queued outside a transaction did not run");
    /* A transaction in which nothing ran commits. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK && kn_pg_commit(pg, &st) == KN_OK, "an empty transaction");
    CHECK(healthy(pg), "the session at the end");
    printf("pipeline: OK\n");
    rc = 0;
done:
    PQclear(r);
    fflush(stdout);
    kn_pg_free(pg);
    kn_pg_free(other);
    return rc;
}

static const kn_pg_stmt plan_show = {"plan_show", "SELECT current_setting('plan_cache_mode')", 0};
static const kn_pg_stmt plan_show_cached = {
    "plan_show_cached", KN_PG_CACHED_PLAN "SELECT current_setting('plan_cache_mode')", 0};
static const kn_pg_stmt plan_lookup = {"plan_lookup", "SELECT v FROM kn_plan_t WHERE id = $1::int",
                                       1};
static const kn_pg_stmt plan_lookup_cached = {
    "plan_lookup_cached", KN_PG_CACHED_PLAN "SELECT v FROM kn_plan_t WHERE id = $1::int", 1};
static const kn_pg_stmt plan_insert_cached = {
    "plan_insert_cached", KN_PG_CACHED_PLAN "INSERT INTO kn_plan_t VALUES ($1::int, 'x')", 1};
static const kn_pg_stmt plan_counts = {
    "plan_counts", "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1",
    1};

/* The session's plan_cache_mode as the statement runs it: 1 if it is want. */
static int mode_is(kn_pg *pg, const kn_pg_stmt *stmt, const char *want)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    PGresult *r = kn_pg_exec(pg, stmt, NULL, &st);
    int ok = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), want) == 0;
    if (r && !ok)
        printf("note: %s ran with %s\n", stmt->name, PQgetvalue(r, 0, 0));
    PQclear(r);
    return ok;
}

/* generic_plans and custom_plans of a statement prepared on pg's session. */
static int plan_counts_of(kn_pg *pg, const char *name, long *generic, long *custom)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    const char *p[] = {name};
    PGresult *r = kn_pg_exec(pg, &plan_counts, p, &st);
    int ok = r && PQntuples(r) == 1;
    if (ok) {
        *generic = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        *custom = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    return ok;
}

static int mode_plan(const char *conninfo)
{
    int rc = 1;
    kn_pg *pg = NULL;
    PGresult *r = NULL;
    kn_status st;
    memset(&st, 0, sizeof(st));
    const char *force = "force_custom_plan";
    const char *one[] = {"1"}, *zero[] = {"0"}, *nine[] = {"9"};
    long generic = -1, custom = -1;

    /* The database's setting, as the services' migrations make it; new
     * sessions take it. */
    PGconn *setup = PQconnectdb(conninfo);
    CHECK(PQstatus(setup) == CONNECTION_OK, "setup connection");
    r = PQexec(setup, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = "
                      "force_custom_plan', current_database()); END $$;"
                      "DROP TABLE IF EXISTS kn_plan_t;"
                      "CREATE TABLE kn_plan_t (id int PRIMARY KEY, v text);"
                      "INSERT INTO kn_plan_t SELECT g, 'v' || g FROM generate_series(1, 100) g");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK, "setup");
    PQclear(r);
    r = NULL;

    pg = kn_pg_new(conninfo);
    CHECK(mode_is(pg, &plan_show, force), "a statement not marked runs with the database's mode");
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "a marked statement runs with auto");
    CHECK(mode_is(pg, &plan_show, force), "the next unmarked statement is back to the default");

    /* Plans: a marked lookup gets a generic plan after PostgreSQL's five
     * custom ones; an unmarked one is planned every time. */
    for (int i = 0; i < 8; i++) {
        r = kn_pg_exec(pg, &plan_lookup_cached, one, &st);
        CHECK(r && PQntuples(r) == 1, "marked lookup");
        PQclear(r);
        r = kn_pg_exec(pg, &plan_lookup, one, &st);
        CHECK(r && PQntuples(r) == 1, "unmarked lookup");
        PQclear(r);
        r = NULL;
    }
    CHECK(plan_counts_of(pg, "plan_lookup_cached", &generic, &custom) && generic >= 1,
          "the marked statement never got a generic plan");
    CHECK(plan_counts_of(pg, "plan_lookup", &generic, &custom) && generic == 0 && custom == 8,
          "the unmarked statement was not planned each time");

    /* A SET inside a transaction that rolls back is undone: the next marked
     * statement must set it again. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 1");
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked, in a transaction");
    kn_pg_rollback(pg);
    CHECK(mode_is(pg, &plan_show, force), "unmarked after the rollback");
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 2");
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked, in a second transaction");
    kn_pg_rollback(pg);
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked after the rollback");

    /* Mixed marks in one round trip: a queued marked insert, then an
     * unmarked read, then commit. */
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 3");
    CHECK(kn_pg_queue(pg, &plan_insert_cached, (const char *const[]){"200"}, &st) == KN_OK,
          "queue marked insert");
    CHECK(mode_is(pg, &plan_show, force), "unmarked read after a queued marked insert");
    CHECK(kn_pg_commit(pg, &st) == KN_OK, "commit 3");
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked after the mixed transaction");

    /* A failure in a pipeline that changed the mode: its implicit
     * transaction aborts, and the modes stay right afterwards. */
    CHECK(mode_is(pg, &plan_show, force), "unmarked before the failure");
    CHECK(kn_pg_queue(pg, &plan_insert_cached, (const char *const[]){"200"}, &st) != KN_OK,
          "a duplicate marked insert must fail");
    CHECK(mode_is(pg, &plan_show, force), "unmarked after the failure");
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked after the failure");
    CHECK(kn_pg_begin(pg, &st) == KN_OK, "begin 4");
    r = kn_pg_exec(pg, &plan_lookup_cached, nine, &st);
    CHECK(r && PQntuples(r) == 1, "marked lookup in a transaction");
    PQclear(r);
    r = kn_pg_exec(pg, &pl_fail, zero, &st);
    CHECK(!r && st.code == KN_INTERNAL, "division by zero must fail");
    kn_pg_rollback(pg);
    CHECK(mode_is(pg, &plan_show_cached, "auto"), "marked after a failed transaction");
    CHECK(mode_is(pg, &plan_show, force), "unmarked after a failed transaction");
    printf("plan: OK\n");
    rc = 0;
done:
    PQclear(r);
    if (setup) {
        PQclear(PQexec(setup, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET "
                              "plan_cache_mode', current_database()); END $$;"
                              "DROP TABLE IF EXISTS kn_plan_t"));
        PQfinish(setup);
    }
    fflush(stdout);
    kn_pg_free(pg);
    return rc;
}

int main(int argc, char **argv)
{
    kn_log_init("kn_pg_reconnect");
    if (argc == 3 && strcmp(argv[1], "reconnect") == 0)
        return mode_reconnect(argv[2]);
    if (argc == 4 && strcmp(argv[1], "migrate") == 0)
        return mode_migrate(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "pipeline") == 0)
        return mode_pipeline(argv[2]);
    if (argc == 3 && strcmp(argv[1], "plan") == 0)
        return mode_plan(argv[2]);
    fprintf(stderr,
            "usage: %s reconnect CONNINFO | migrate CONNINFO DIR | pipeline CONNINFO | plan "
            "CONNINFO\n",
            argv[0]);
    return 64;
}
