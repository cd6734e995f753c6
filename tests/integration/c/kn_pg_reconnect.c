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

int main(int argc, char **argv)
{
    kn_log_init("kn_pg_reconnect");
    if (argc == 3 && strcmp(argv[1], "reconnect") == 0)
        return mode_reconnect(argv[2]);
    if (argc == 4 && strcmp(argv[1], "migrate") == 0)
        return mode_migrate(argv[2], argv[3]);
    fprintf(stderr, "usage: %s reconnect CONNINFO | migrate CONNINFO DIR\n", argv[0]);
    return 64;
}
