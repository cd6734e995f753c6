/* order_store: the SQL of order-svc. See order_store.h and
 * migrations/0001_orders.sql (which index serves which list query). */
#include "order_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kn_log.h"

#define SQLSTATE_UNIQUE   "23505"
#define SQLSTATE_CHECK    "23514"
#define SQLSTATE_BAD_ZONE "22023"

/* The columns of an order_row, from `orders o`; parse_row reads them. The
 * package ids and stock lines come with the row (one round trip); a stock
 * line is sku US quantity, lines separated by RS (validated skus hold no
 * control characters). */
/* The order's own columns, then its packages and its stock lines. */
#define ORDER_ROW_COLS                                                                             \
    "o.id, o.tenant_id, o.type, o.identifier, o.status, o.location_id, o.time_zone, "              \
    "coalesce(o.assignee_user_id::text, ''), o.version, o.fencing_token, "                         \
    "(extract(epoch from o.create_time) * 1000000)::bigint, "                                      \
    "(extract(epoch from o.update_time) * 1000000)::bigint, "                                      \
    "coalesce((extract(epoch from o.collect_time) * 1000000)::bigint, 0), "                        \
    "coalesce((extract(epoch from o.cancel_time) * 1000000)::bigint, 0), "                         \
    "coalesce(o.request_hash, ''), "
#define ORDER_PACKAGES_COL                                                                         \
    "coalesce((SELECT string_agg(p.package_id::text, ',' ORDER BY p.position) "                    \
    "FROM order_packages p WHERE p.order_id = o.id), '')"
#define ORDER_STOCK_COL                                                                            \
    "coalesce((SELECT string_agg(l.sku || chr(31) || l.quantity, chr(30) ORDER BY l.position) "    \
    "FROM order_stock_lines l WHERE l.order_id = o.id), '')"
#define ORDER_COLS  ORDER_ROW_COLS ORDER_PACKAGES_COL ", " ORDER_STOCK_COL
#define ORDER_NCOLS 17

static char *col(PGresult *r, kn_arena *a, int row, int c)
{
    return kn_arena_strdup(a, PQgetvalue(r, row, c));
}

static int64_t col_i64(PGresult *r, int row, int c)
{
    return strtoll(PQgetvalue(r, row, c), NULL, 10);
}

/* Splits s at sep into arena strings; "" gives none. */
static char **split(kn_arena *a, char *s, char sep, size_t *n)
{
    *n = 0;
    if (!*s)
        return NULL;
    size_t cnt = 1;
    for (char *p = s; *p; p++)
        cnt += *p == sep;
    char **out = kn_arena_alloc(a, cnt * sizeof(char *));
    char *p = s;
    for (size_t i = 0; i < cnt; i++) {
        out[i] = p;
        char *e = strchr(p, sep);
        if (e) {
            *e = '\0';
            p = e + 1;
        }
    }
    *n = cnt;
    return out;
}

static order_row *parse_row(PGresult *r, kn_arena *a, int i)
{
    order_row *o = kn_arena_alloc(a, sizeof(*o));
    o->id = col(r, a, i, 0);
    o->tenant_id = col(r, a, i, 1);
    o->type = (int)col_i64(r, i, 2);
    o->identifier = col(r, a, i, 3);
    o->status = (int)col_i64(r, i, 4);
    o->location_id = col(r, a, i, 5);
    o->time_zone = col(r, a, i, 6);
    o->assignee = col(r, a, i, 7);
    o->version = col_i64(r, i, 8);
    o->fencing_token = col_i64(r, i, 9);
    o->create_us = col_i64(r, i, 10);
    o->update_us = col_i64(r, i, 11);
    o->collect_us = col_i64(r, i, 12);
    o->cancel_us = col_i64(r, i, 13);
    o->request_hash = col(r, a, i, 14);
    o->package_ids = split(a, col(r, a, i, 15), ',', &o->npkg);
    size_t nl;
    char **lines = split(a, col(r, a, i, 16), '\x1e', &nl);
    o->nlines = nl;
    if (nl) {
        o->skus = kn_arena_alloc(a, nl * sizeof(char *));
        o->quantities = kn_arena_alloc(a, nl * sizeof(int));
        for (size_t k = 0; k < nl; k++) {
            char *us = strrchr(lines[k], '\x1f');
            if (us) {
                *us = '\0';
                o->quantities[k] = (int)strtol(us + 1, NULL, 10);
            }
            o->skus[k] = lines[k];
        }
    }
    o->sort_us = o->create_us;
    return o;
}

char *order_pg_array(kn_arena *a, const char *const *items, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(items[i]) + 3;
    char *out = kn_arena_alloc(a, len);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = items[i]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

static char *int_array(kn_arena *a, const int *v, size_t n)
{
    char *out = kn_arena_alloc(a, n * 12 + 3);
    char *p = out;
    *p++ = '{';
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%d", i ? "," : "", v[i]);
    *p++ = '}';
    *p = '\0';
    return out;
}

/* --- single order --------------------------------------------------------- */

static const kn_pg_stmt q_get = {
    "order_get",
    KN_PG_CACHED_PLAN "SELECT " ORDER_COLS " FROM orders o WHERE o.tenant_id = $1 AND o.id = $2",
    2};
static const kn_pg_stmt q_get_lock = {"order_get_lock",
                                      KN_PG_CACHED_PLAN
                                      "SELECT " ORDER_COLS " FROM orders o "
                                      "WHERE o.tenant_id = $1 AND o.id = $2 FOR UPDATE OF o",
                                      2};

kn_code order_store_get(kn_pg *pg, kn_arena *a, const char *tenant, const char *id, int for_update,
                        order_row **out, kn_status *st)
{
    const char *params[] = {tenant, id};
    PGresult *r = kn_pg_exec(pg, for_update ? &q_get_lock : &q_get, params, st);
    if (!r)
        return st->code;
    kn_code rc = KN_OK;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "order %s not found", id);
    else
        *out = parse_row(r, a, 0);
    PQclear(r);
    return rc;
}

static const kn_pg_stmt q_get_by_request = {
    "order_get_by_request",
    "SELECT " ORDER_COLS " FROM orders o WHERE o.tenant_id = $1 AND o.request_id = $2", 2};

kn_code order_store_get_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                   const char *request_id, order_row **out, kn_status *st)
{
    const char *params[] = {tenant, request_id};
    PGresult *r = kn_pg_exec(pg, &q_get_by_request, params, st);
    if (!r)
        return st->code;
    kn_code rc = KN_OK;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "no order for request_id");
    else
        *out = parse_row(r, a, 0);
    PQclear(r);
    return rc;
}

static const kn_pg_stmt q_identifier_taken = {
    "order_identifier_taken",
    "SELECT EXISTS (SELECT 1 FROM orders WHERE tenant_id = $1 AND identifier = $2)", 2};

int order_store_identifier_taken(kn_pg *pg, const char *tenant, const char *identifier,
                                 kn_status *st)
{
    const char *params[] = {tenant, identifier};
    PGresult *r = kn_pg_exec(pg, &q_identifier_taken, params, st);
    if (!r)
        return -1;
    int taken = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return taken;
}

/* --- create ------------------------------------------------------------- */

static const kn_pg_stmt q_intent_find = {
    "order_intent_find",
    KN_PG_CACHED_PLAN "SELECT id, identifier, request_hash FROM order_intents "
                      "WHERE order_id = $1 AND kind = 'create' AND tenant_id = $2",
    2};

/* The generated identifier is drawn only when none was given (CASE), in
 * the same statement that records it. */
static const kn_pg_stmt q_intent_create = {
    "order_intent_create",
    KN_PG_CACHED_PLAN
    "INSERT INTO order_intents (tenant_id, order_id, kind, type, location_id, identifier, "
    "request_hash, package_ids) "
    "VALUES ($1, $2, 'create', $3, $4, "
    "CASE WHEN $5::text = '' THEN order_next_identifier($1, $3::smallint) ELSE $5::text END, "
    "$6, $7::uuid[]) "
    "ON CONFLICT (order_id) WHERE kind = 'create' DO NOTHING "
    "RETURNING id, identifier, request_hash",
    7};

static int intent_found(PGresult *r, kn_arena *a, order_intent *out)
{
    if (PQntuples(r) == 0)
        return 0;
    out->id = col(r, a, 0, 0);
    out->identifier = col(r, a, 0, 1);
    out->request_hash = col(r, a, 0, 2);
    return 1;
}

kn_code order_store_intent_create(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                                  int type, const char *location, const char *identifier,
                                  const char *request_hash, char *const *package_ids, size_t npkg,
                                  order_intent *out, kn_status *st)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *fp[] = {order_id, tenant};
        PGresult *r = kn_pg_exec(pg, &q_intent_find, fp, st);
        if (!r)
            return st->code;
        int found = intent_found(r, a, out);
        PQclear(r);
        if (found)
            return KN_OK;
        char type_s[8];
        snprintf(type_s, sizeof(type_s), "%d", type);
        const char *ip[] = {tenant,
                            order_id,
                            type_s,
                            location,
                            identifier,
                            request_hash,
                            order_pg_array(a, (const char *const *)package_ids, npkg)};
        r = kn_pg_exec(pg, &q_intent_create, ip, st);
        if (!r)
            return st->code;
        found = intent_found(r, a, out);
        PQclear(r);
        if (found)
            return KN_OK;
        /* A concurrent retry wrote it first: read theirs. */
    }
    return kn_status_set(st, KN_ABORTED, "concurrent create with the same request_id; retry");
}

static const kn_pg_stmt q_intent_add = {
    "order_intent_add",
    "INSERT INTO order_intents (id, tenant_id, order_id, kind, type, location_id, package_ids) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::uuid[])",
    7};

kn_code order_store_intent_add(kn_pg *pg, const char *tenant, const char *order_id,
                               const char *kind, int type, const char *location,
                               char *const *package_ids, size_t npkg, char out_id[37],
                               kn_status *st)
{
    kn_arena *a = kn_arena_new(1024);
    char type_s[8];
    snprintf(type_s, sizeof(type_s), "%d", type);
    order_id_random(out_id);
    const char *p[] = {out_id,
                       tenant,
                       order_id,
                       kind,
                       type_s,
                       location,
                       order_pg_array(a, (const char *const *)package_ids, npkg)};
    long n = kn_pg_run(pg, &q_intent_add, p, st);
    kn_arena_free(a);
    return n < 0 ? st->code : KN_OK;
}

static const kn_pg_stmt q_intent_lock = {
    "order_intent_lock", KN_PG_CACHED_PLAN "SELECT 1 FROM order_intents WHERE id = $1 FOR UPDATE",
    1};

kn_code order_store_intent_lock(kn_pg *pg, const char *intent_id, kn_status *st)
{
    const char *p[] = {intent_id};
    PGresult *r = kn_pg_exec(pg, &q_intent_lock, p, st);
    if (!r)
        return st->code;
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return kn_status_set(st, KN_ABORTED, "the create was undone by the repair job; retry");
    return KN_OK;
}

static const kn_pg_stmt q_intent_delete = {"order_intent_delete",
                                           "DELETE FROM order_intents WHERE id = $1", 1};

kn_code order_store_intent_delete(kn_pg *pg, const char *intent_id, kn_status *st)
{
    const char *p[] = {intent_id};
    return kn_pg_run(pg, &q_intent_delete, p, st) < 0 ? st->code : KN_OK;
}

/* One statement: the intent is consumed, the order, its packages, stock
 * lines and the CREATED history row are written; nothing when the intent is
 * gone. */
static const kn_pg_stmt q_insert = {
    "order_insert",
    KN_PG_CACHED_PLAN
    "WITH del AS (DELETE FROM order_intents WHERE id = $1 RETURNING 1), "
    "t AS (SELECT clock_timestamp() AS now), "
    "o AS (INSERT INTO orders (id, tenant_id, type, identifier, status, location_id, time_zone, "
    "  request_id, request_hash, create_time, create_date, update_time) "
    "  SELECT $2, $3, $4, $5::text, 1, $6, $7::text, $8, $9, t.now, "
    "  (t.now AT TIME ZONE $7::text)::date, t.now FROM del, t RETURNING id, tenant_id), "
    "p AS (INSERT INTO order_packages (order_id, package_id, tenant_id, position) "
    "  SELECT o.id, x.pid, o.tenant_id, x.ord FROM o, "
    "  unnest($10::uuid[]) WITH ORDINALITY AS x(pid, ord)), "
    "s AS (INSERT INTO order_stock_lines (order_id, sku, quantity, position) "
    "  SELECT o.id, x.sku, x.q, x.ord FROM o, "
    "  unnest($11::text[], $12::int[]) WITH ORDINALITY AS x(sku, q, ord)), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, after) "
    "  SELECT o.tenant_id, o.id, $13, 1, jsonb_build_object('type', $4::int, "
    "  'identifier', $5::text, 'location_id', $6::text, 'package_ids', to_jsonb($10::uuid[]), "
    "  'stock_lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('sku', y.sku, "
    "  'quantity', y.q)), '[]'::jsonb) FROM unnest($11::text[], $12::int[]) AS y(sku, q))) "
    "  FROM o) "
    "SELECT count(*) FROM o",
    13};

kn_code order_store_insert(kn_pg *pg, kn_arena *a, const order_new *o, kn_status *st)
{
    char type_s[8];
    snprintf(type_s, sizeof(type_s), "%d", o->type);
    const char *p[] = {o->intent_id,
                       o->id,
                       o->tenant,
                       type_s,
                       o->identifier,
                       o->location,
                       o->time_zone,
                       o->request_id && *o->request_id ? o->request_id : NULL,
                       o->request_id && *o->request_id ? o->request_hash : NULL,
                       order_pg_array(a, (const char *const *)o->package_ids, o->npkg),
                       order_pg_array(a, (const char *const *)o->skus, o->nlines),
                       int_array(a, o->quantities, o->nlines),
                       o->actor};
    PGresult *r = kn_pg_exec(pg, &q_insert, p, st);
    if (!r) {
        const char *state = kn_pg_sqlstate(pg);
        const char *cons = kn_pg_constraint(pg);
        if (strcmp(state, SQLSTATE_UNIQUE) == 0) {
            if (strcmp(cons, "orders_identifier_unique") == 0)
                return kn_status_set(st, KN_ALREADY_EXISTS, "identifier %s already exists",
                                     o->identifier);
            if (strcmp(cons, "orders_request_unique") == 0)
                return kn_status_set(st, KN_ALREADY_EXISTS, "request_id already used");
            if (strcmp(cons, "order_packages_one_active") == 0)
                return kn_status_set(st, KN_FAILED_PRECONDITION,
                                     "package_ids: a package is already in an active order");
            if (strcmp(cons, "orders_pkey") == 0)
                return kn_status_set(st, KN_ALREADY_EXISTS, "request_id already used");
        }
        if (strcmp(state, SQLSTATE_BAD_ZONE) == 0)
            return kn_status_set(st, KN_FAILED_PRECONDITION,
                                 "location_id: the location's time zone is not known");
        return st->code;
    }
    int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (n != 1)
        return kn_status_set(st, KN_ABORTED, "the create was undone by the repair job; retry");
    return KN_OK;
}

/* --- edits ----------------------------------------------------------------
 * Every edit is one statement: an UPDATE of the order guarded by its
 * version and ACTIVE status (the etag check and "two concurrent edits
 * cannot both win" in the database), the dependent rows, and the history
 * row, returning how many orders changed. */

static kn_code edit_result(kn_pg *pg, PGresult *r, const order_row *o, kn_status *st)
{
    if (!r) {
        if (strcmp(kn_pg_sqlstate(pg), SQLSTATE_UNIQUE) == 0) {
            const char *cons = kn_pg_constraint(pg);
            if (strcmp(cons, "orders_identifier_unique") == 0)
                return kn_status_set(st, KN_ALREADY_EXISTS, "identifier already exists");
            if (strcmp(cons, "order_packages_one_active") == 0)
                return kn_status_set(st, KN_FAILED_PRECONDITION,
                                     "package_ids: a package is already in an active order");
            if (strcmp(cons, "order_packages_pkey") == 0)
                return kn_status_set(st, KN_FAILED_PRECONDITION,
                                     "package_ids: a package is already in this order");
        }
        if (strcmp(kn_pg_sqlstate(pg), SQLSTATE_CHECK) == 0)
            return kn_status_set(st, KN_FAILED_PRECONDITION, "order %s is not active", o->id);
        return st->code;
    }
    int n = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (n != 1)
        return kn_status_set(st, KN_ABORTED, "order %s changed concurrently; reload and retry",
                             o->id);
    return KN_OK;
}

#define EDIT_GUARD "WHERE tenant_id = $1 AND id = $2 AND version = $3 AND status = 1 "

static const kn_pg_stmt q_set_identifier = {
    "order_set_identifier",
    "WITH u AS (UPDATE orders SET identifier = $5::text, version = version + 1, "
    "  update_time = now() " EDIT_GUARD "RETURNING id, tenant_id), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after) "
    "  SELECT u.tenant_id, u.id, $4, 2, jsonb_build_object('identifier', $6::text), "
    "  jsonb_build_object('identifier', $5::text) FROM u) "
    "SELECT count(*) FROM u",
    6};

kn_code order_store_set_identifier(kn_pg *pg, const order_row *o, const char *actor,
                                   const char *identifier, kn_status *st)
{
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    const char *p[] = {o->tenant_id, o->id, ver, actor, identifier, o->identifier};
    return edit_result(pg, kn_pg_exec(pg, &q_set_identifier, p, st), o, st);
}

static const kn_pg_stmt q_add_packages = {
    "order_add_packages",
    "WITH u AS (UPDATE orders SET version = version + 1, update_time = now() " EDIT_GUARD
    "  RETURNING id, tenant_id), "
    "old AS (SELECT coalesce(max(position), 0) AS m, "
    "  coalesce(jsonb_agg(package_id ORDER BY position), '[]'::jsonb) AS ids "
    "  FROM order_packages WHERE order_id = $2), "
    "ins AS (INSERT INTO order_packages (order_id, package_id, tenant_id, position) "
    "  SELECT u.id, x.pid, u.tenant_id, old.m + x.ord FROM u, old, "
    "  unnest($5::uuid[]) WITH ORDINALITY AS x(pid, ord)), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after, "
    "  detail) SELECT u.tenant_id, u.id, $4, 3, jsonb_build_object('package_ids', old.ids), "
    "  jsonb_build_object('package_ids', old.ids || to_jsonb($5::uuid[])), "
    "  'added ' || cardinality($5::uuid[]) FROM u, old) "
    "SELECT count(*) FROM u",
    5};

kn_code order_store_add_packages(kn_pg *pg, const order_row *o, const char *actor, char *const *ids,
                                 size_t n, kn_status *st)
{
    kn_arena *a = kn_arena_new(1024);
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    const char *p[] = {o->tenant_id, o->id, ver, actor,
                       order_pg_array(a, (const char *const *)ids, n)};
    kn_code rc = edit_result(pg, kn_pg_exec(pg, &q_add_packages, p, st), o, st);
    kn_arena_free(a);
    return rc;
}

/* The intent row (written in the same transaction) makes the repair tick
 * detach the removed packages at location-svc if this process dies before
 * it does so itself. */
static const kn_pg_stmt q_remove_packages = {
    "order_remove_packages",
    "WITH u AS (UPDATE orders SET version = version + 1, update_time = now() " EDIT_GUARD
    "  RETURNING id, tenant_id, type, location_id), "
    "old AS (SELECT coalesce(jsonb_agg(package_id ORDER BY position), '[]'::jsonb) AS ids, "
    "  coalesce(jsonb_agg(package_id ORDER BY position) FILTER (WHERE NOT package_id = ANY "
    "  ($5::uuid[])), '[]'::jsonb) AS kept FROM order_packages WHERE order_id = $2), "
    "d AS (DELETE FROM order_packages p USING u WHERE p.order_id = u.id "
    "  AND p.package_id = ANY ($5::uuid[])), "
    "i AS (INSERT INTO order_intents (id, tenant_id, order_id, kind, type, location_id, "
    "  package_ids) SELECT $6, u.tenant_id, u.id, 'remove', u.type, u.location_id, "
    "  $5::uuid[] FROM u), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after, "
    "  detail) SELECT u.tenant_id, u.id, $4, 4, jsonb_build_object('package_ids', old.ids), "
    "  jsonb_build_object('package_ids', old.kept), "
    "  'removed ' || cardinality($5::uuid[]) FROM u, old) "
    "SELECT count(*) FROM u",
    6};

kn_code order_store_remove_packages(kn_pg *pg, const order_row *o, const char *actor,
                                    char *const *ids, size_t n, const char *intent_id,
                                    kn_status *st)
{
    kn_arena *a = kn_arena_new(1024);
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    const char *p[] = {
        o->tenant_id, o->id, ver, actor, order_pg_array(a, (const char *const *)ids, n), intent_id};
    kn_code rc = edit_result(pg, kn_pg_exec(pg, &q_remove_packages, p, st), o, st);
    kn_arena_free(a);
    return rc;
}

static const kn_pg_stmt q_cancel = {
    "order_cancel",
    "WITH u AS (UPDATE orders SET status = 3, cancel_time = now(), update_time = now(), "
    "  version = version + 1 " EDIT_GUARD "RETURNING id, tenant_id, type, location_id), "
    "p AS (UPDATE order_packages SET holds = false FROM u "
    "  WHERE order_packages.order_id = u.id), "
    "i AS (INSERT INTO order_intents (id, tenant_id, order_id, kind, type, location_id, "
    "  package_ids) SELECT $6, u.tenant_id, u.id, 'cancel', u.type, u.location_id, "
    "  coalesce((SELECT array_agg(package_id) FROM order_packages WHERE order_id = $2), "
    "  '{}'::uuid[]) FROM u), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after, "
    "  detail) SELECT u.tenant_id, u.id, $4, 7, '{\"status\": \"ORDER_STATUS_ACTIVE\"}', "
    "  '{\"status\": \"ORDER_STATUS_CANCELLED\"}', $5::text FROM u) "
    "SELECT count(*) FROM u",
    6};

kn_code order_store_cancel(kn_pg *pg, const order_row *o, const char *actor, const char *reason,
                           const char *intent_id, kn_status *st)
{
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    const char *p[] = {o->tenant_id, o->id, ver, actor, reason ? reason : "", intent_id};
    return edit_result(pg, kn_pg_exec(pg, &q_cancel, p, st), o, st);
}

static const kn_pg_stmt q_collect = {
    "order_collect",
    "WITH u AS (UPDATE orders SET status = 2, collect_time = now(), update_time = now(), "
    "  version = version + 1 " EDIT_GUARD "RETURNING id, tenant_id), "
    "p AS (UPDATE order_packages SET holds = false FROM u "
    "  WHERE order_packages.order_id = u.id), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after) "
    "  SELECT u.tenant_id, u.id, $4, 8, '{\"status\": \"ORDER_STATUS_ACTIVE\"}', "
    "  '{\"status\": \"ORDER_STATUS_COLLECTED\"}' FROM u) "
    "SELECT count(*) FROM u",
    4};

kn_code order_store_collect(kn_pg *pg, const order_row *o, const char *actor, kn_status *st)
{
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    const char *p[] = {o->tenant_id, o->id, ver, actor};
    return edit_result(pg, kn_pg_exec(pg, &q_collect, p, st), o, st);
}

/* The fencing rule is in the WHERE too: a token not above the stored one
 * changes nothing. $7 is the history kind, 0 when only the token moves. */
static const kn_pg_stmt q_set_assignee = {
    "order_set_assignee",
    KN_PG_CACHED_PLAN
    "WITH u AS (UPDATE orders SET assignee_user_id = $5::uuid, fencing_token = $6::bigint, "
    "  version = version + 1, update_time = now() " EDIT_GUARD
    "  AND fencing_token < $6::bigint RETURNING id, tenant_id), "
    "h AS (INSERT INTO order_history (tenant_id, order_id, actor_user_id, kind, before, after, "
    "  detail) SELECT u.tenant_id, u.id, $4, $7::smallint, "
    "  jsonb_build_object('assignee_user_id', $8::text), "
    "  jsonb_build_object('assignee_user_id', coalesce($5::text, '')), "
    "  'fencing token ' || $6::text FROM u WHERE $7::smallint > 0) "
    "SELECT count(*) FROM u",
    8};

kn_code order_store_set_assignee(kn_pg *pg, const order_row *o, const char *actor,
                                 const char *assignee, int64_t token, kn_status *st)
{
    char ver[24], tok[24], kind[4];
    snprintf(ver, sizeof(ver), "%" PRId64, o->version);
    snprintf(tok, sizeof(tok), "%" PRId64, token);
    int changed = strcasecmp(assignee, o->assignee) != 0;
    snprintf(kind, sizeof(kind), "%d", !changed ? 0 : (*assignee ? 5 : 6));
    const char *p[] = {o->tenant_id, o->id, ver,        actor, *assignee ? assignee : NULL,
                       tok,          kind,  o->assignee};
    return edit_result(pg, kn_pg_exec(pg, &q_set_assignee, p, st), o, st);
}

/* --- ListOrders -------------------------------------------------------------
 * Every filter is a closed range on an index column (order_logic.c makes
 * them); the keyset cursor is (create_time, id) < cursor, and the end of a
 * date range is folded into it (one upper bound). FILTER(b) binds $b ..
 * $b+12. */
#define LIST_FILTER(s0, s1, t0, t1, l0, l1, a0, a1, d0, d1, tm0, c0, c1)                           \
    " AND o.status BETWEEN $" #s0 " AND $" #s1 " AND o.type BETWEEN $" #t0 " AND $" #t1            \
    " AND o.location_id BETWEEN $" #l0 " AND $" #l1 " AND o.assignee_key BETWEEN $" #a0            \
    " AND $" #a1 " AND o.create_date BETWEEN $" #d0 " AND $" #d1 " AND o.create_time >= $" #tm0    \
    " AND (o.create_time, o.id) < ($" #c0 ", $" #c1 ")"
#define LIST_FILTER2 LIST_FILTER(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
#define LIST_FILTER3 LIST_FILTER(3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define LIST_FILTER4 LIST_FILTER(4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
#define LIST_ORDER   " ORDER BY o.create_time DESC, o.id DESC"

/* ORDER_COLS for the list statements, with one subquery per row instead of
 * two: a job order has packages and no stock lines, a stock order the
 * reverse (CreateOrder and AddPackages refuse anything else), so the other
 * subquery's answer is known to be ''. The two subqueries were most of a
 * page's execution time (EXPLAIN ANALYZE, 1M rows, location filter: 260
 * buffers and 0.72 ms with both, 158 and 0.51 ms with one). */
#define ORDER_LIST_COLS                                                                            \
    ORDER_ROW_COLS "CASE WHEN o.type = 1 THEN " ORDER_PACKAGES_COL " ELSE '' END, "                \
                   "CASE WHEN o.type = 2 THEN " ORDER_STOCK_COL " ELSE '' END"

/* Serves: no filter, type, assigned, dates (index orders_list_all). */
static const kn_pg_stmt order_list_all = {
    "order_list_all",
    "SELECT " ORDER_LIST_COLS " FROM orders o WHERE o.tenant_id = $1" LIST_FILTER2 LIST_ORDER
    " LIMIT $15",
    15};
/* Serves: location_id with anything but a specific assignee
 * (orders_list_location). */
static const kn_pg_stmt order_list_location = {
    "order_list_location",
    "SELECT " ORDER_LIST_COLS
    " FROM orders o WHERE o.tenant_id = $1 AND o.location_id = $2" LIST_FILTER3 LIST_ORDER
    " LIMIT $16",
    16};
/* Serves: assignee_user_id, unassigned, a technician's own or unassigned
 * (orders_list_assignee). */
static const kn_pg_stmt order_list_assignee = {
    "order_list_assignee",
    "SELECT " ORDER_LIST_COLS
    " FROM orders o WHERE o.tenant_id = $1 AND o.assignee_key = $2" LIST_FILTER3 LIST_ORDER
    " LIMIT $16",
    16};
/* Serves: status with type / assigned / dates (orders_list_status). */
static const kn_pg_stmt order_list_status = {
    "order_list_status",
    "SELECT " ORDER_LIST_COLS
    " FROM orders o WHERE o.tenant_id = $1 AND o.status = $2::smallint" LIST_FILTER3 LIST_ORDER
    " LIMIT $16",
    16};
/* Serves: a technician with no assignment filter: own UNION ALL unassigned,
 * each a LIMITed scan of orders_list_assignee in key order, merged (Merge
 * Append) and cut to one page before the package and stock line subqueries
 * run: the merge reads only as many rows of each range as the page takes,
 * and the subqueries run once per returned row, not once per row of both
 * ranges (EXPLAIN ANALYZE at 1M rows, first page, with ORDER_LIST_COLS:
 * 163 buffers and 0.5 ms instead of 520 and 1.4 ms). */
#define LIST_TECH_COLS                                                                             \
    "o.id, o.tenant_id, o.type, o.identifier, o.status, o.location_id, o.time_zone, "              \
    "o.assignee_user_id, o.version, o.fencing_token, o.create_time, o.update_time, "               \
    "o.collect_time, o.cancel_time, o.request_hash"
static const kn_pg_stmt order_list_tech = {
    "order_list_tech",
    "SELECT " ORDER_LIST_COLS " FROM ((SELECT " LIST_TECH_COLS
    " FROM orders o WHERE o.tenant_id = $1 AND o.assignee_key = $2" LIST_FILTER3 LIST_ORDER
    " LIMIT $16) UNION ALL "
    "(SELECT " LIST_TECH_COLS " FROM orders o WHERE o.tenant_id = $1 "
    "AND o.assignee_key = '" ORDER_NIL_UUID "'::uuid" LIST_FILTER3 LIST_ORDER " LIMIT $16) "
    "ORDER BY create_time DESC, id DESC LIMIT $16) o" LIST_ORDER,
    16};

/* order_list_assignee and order_list_tech at one location ($3):
 * orders_list_assignee_location leads with (assignee_key, location_id), so
 * each range is read in key order from its first matching row instead of
 * walking the assignee's rows of every location (technician + location at
 * 1M rows: 317 buffers, most of them other locations' index pages). */
static const kn_pg_stmt order_list_assignee_loc = {
    "order_list_assignee_loc",
    "SELECT " ORDER_LIST_COLS " FROM orders o WHERE o.tenant_id = $1 AND o.assignee_key = $2"
    " AND o.location_id = $3" LIST_FILTER4 LIST_ORDER " LIMIT $17",
    17};
static const kn_pg_stmt order_list_tech_loc = {
    "order_list_tech_loc",
    "SELECT " ORDER_LIST_COLS " FROM ((SELECT " LIST_TECH_COLS
    " FROM orders o WHERE o.tenant_id = $1 AND o.assignee_key = $2 AND o.location_id = "
    "$3" LIST_FILTER4 LIST_ORDER " LIMIT $17) UNION ALL "
    "(SELECT " LIST_TECH_COLS " FROM orders o WHERE o.tenant_id = $1 "
    "AND o.assignee_key = '" ORDER_NIL_UUID "'::uuid AND o.location_id = $3" LIST_FILTER4 LIST_ORDER
    " LIMIT $17) "
    "ORDER BY create_time DESC, id DESC LIMIT $17) o" LIST_ORDER,
    17};

kn_code order_store_list(kn_pg *pg, kn_arena *a, const char *tenant, const order_list_plan *pl,
                         int64_t cursor_us, const char *cursor_id, int limit, order_row ***rows,
                         size_t *n, kn_status *st)
{
    *rows = NULL;
    *n = 0;
    if (pl->shape == ORDER_LIST_EMPTY)
        return KN_OK;
    char cur_t[48], lim[16];
    /* (create_time, id) < (hi, nil) is create_time < hi: one bound. */
    if (pl->time_hi_us != INT64_MAX && (cursor_us == INT64_MAX || cursor_us >= pl->time_hi_us)) {
        cursor_us = pl->time_hi_us;
        cursor_id = ORDER_NIL_UUID;
    }
    if (cursor_us == INT64_MAX)
        snprintf(cur_t, sizeof(cur_t), "infinity");
    else
        order_format_time_us(cursor_us, cur_t, sizeof(cur_t));
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *filters[] = {pl->status_lo, pl->status_hi, pl->type_lo, pl->type_hi, pl->loc_lo,
                             pl->loc_hi,    pl->akey_lo,   pl->akey_hi, pl->date_lo, pl->date_hi,
                             pl->time_lo,   cur_t,         cursor_id,   lim};
    const char *params[17]; /* tenant, lead, lead_loc, the 14 filters */
    size_t k = 0;
    params[k++] = tenant;
    const kn_pg_stmt *stmt = &order_list_all;
    switch (pl->shape) {
    case ORDER_LIST_LOCATION:
        stmt = &order_list_location;
        break;
    case ORDER_LIST_ASSIGNEE:
        stmt = pl->lead_loc[0] ? &order_list_assignee_loc : &order_list_assignee;
        break;
    case ORDER_LIST_STATUS:
        stmt = &order_list_status;
        break;
    case ORDER_LIST_TECH:
        stmt = pl->lead_loc[0] ? &order_list_tech_loc : &order_list_tech;
        break;
    default:
        break;
    }
    if (stmt != &order_list_all)
        params[k++] = pl->lead;
    if (stmt == &order_list_assignee_loc || stmt == &order_list_tech_loc)
        params[k++] = pl->lead_loc;
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
        params[k++] = filters[i];
    PGresult *r = kn_pg_exec(pg, stmt, params, st);
    if (!r)
        return st->code;
    int nt = PQntuples(r);
    if (nt > 0) {
        *rows = kn_arena_alloc(a, (size_t)nt * sizeof(order_row *));
        for (int i = 0; i < nt; i++)
            (*rows)[i] = parse_row(r, a, i);
    }
    *n = (size_t)nt;
    PQclear(r);
    return KN_OK;
}

/* --- history ---------------------------------------------------------------- */

/* Serves from order_history_order. */
static const kn_pg_stmt q_history = {
    "order_history",
    "SELECT seq, id, order_id, (extract(epoch from time) * 1000000)::bigint, actor_user_id, "
    "kind, before::text, after::text, detail FROM order_history "
    "WHERE tenant_id = $1 AND order_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
    4};

kn_code order_store_history(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                            int64_t after_seq, int limit, order_history_row **rows, size_t *n,
                            kn_status *st)
{
    char seq[24], lim[16];
    snprintf(seq, sizeof(seq), "%" PRId64, after_seq);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {tenant, order_id, seq, lim};
    PGresult *r = kn_pg_exec(pg, &q_history, p, st);
    if (!r)
        return st->code;
    int nt = PQntuples(r);
    *rows = nt ? kn_arena_alloc(a, (size_t)nt * sizeof(order_history_row)) : NULL;
    for (int i = 0; i < nt; i++) {
        order_history_row *h = &(*rows)[i];
        h->seq = col_i64(r, i, 0);
        h->id = col(r, a, i, 1);
        h->order_id = col(r, a, i, 2);
        h->time_us = col_i64(r, i, 3);
        h->actor = col(r, a, i, 4);
        h->kind = (int)col_i64(r, i, 5);
        h->before = col(r, a, i, 6);
        h->after = col(r, a, i, 7);
        h->detail = col(r, a, i, 8);
    }
    *n = (size_t)nt;
    PQclear(r);
    return KN_OK;
}

/* --- repair ------------------------------------------------------------------ */

/* Serves from order_intents_created. */
static const kn_pg_stmt q_stale_intents = {
    "order_stale_intents",
    "SELECT id FROM order_intents WHERE created < now() - make_interval(secs => $1::int) "
    "ORDER BY created LIMIT $2",
    2};

kn_code order_store_stale_intents(kn_pg *pg, kn_arena *a, int age_s, int limit, char ***ids,
                                  size_t *n, kn_status *st)
{
    char age[16], lim[16];
    snprintf(age, sizeof(age), "%d", age_s);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {age, lim};
    PGresult *r = kn_pg_exec(pg, &q_stale_intents, p, st);
    if (!r)
        return st->code;
    int nt = PQntuples(r);
    *ids = nt ? kn_arena_alloc(a, (size_t)nt * sizeof(char *)) : NULL;
    for (int i = 0; i < nt; i++)
        (*ids)[i] = col(r, a, i, 0);
    *n = (size_t)nt;
    PQclear(r);
    return KN_OK;
}

static const kn_pg_stmt q_intent_take = {
    "order_intent_take",
    "SELECT i.id, i.tenant_id, i.order_id, i.kind, i.location_id, i.type, "
    "coalesce(o.status, 0), "
    "coalesce((SELECT string_agg(x::text, ',') FROM unnest(i.package_ids) AS x "
    "  WHERE NOT EXISTS (SELECT 1 FROM order_packages p WHERE p.order_id = i.order_id "
    "  AND p.package_id = x AND p.holds)), ''), "
    "coalesce(o.assignee_user_id::text, '') "
    "FROM order_intents i LEFT JOIN orders o ON o.id = i.order_id "
    "WHERE i.id = $1 FOR UPDATE OF i SKIP LOCKED",
    1};

kn_code order_store_intent_take(kn_pg *pg, kn_arena *a, const char *intent_id,
                                order_intent_row *out, kn_status *st)
{
    const char *p[] = {intent_id};
    PGresult *r = kn_pg_exec(pg, &q_intent_take, p, st);
    if (!r)
        return st->code;
    kn_code rc = KN_OK;
    if (PQntuples(r) == 0) {
        rc = kn_status_set(st, KN_NOT_FOUND, "intent gone or busy");
    } else {
        out->id = col(r, a, 0, 0);
        out->tenant = col(r, a, 0, 1);
        out->order_id = col(r, a, 0, 2);
        out->kind = col(r, a, 0, 3);
        out->location = col(r, a, 0, 4);
        out->type = (int)col_i64(r, 0, 5);
        out->order_status = (int)col_i64(r, 0, 6);
        out->detach = split(a, col(r, a, 0, 7), ',', &out->ndetach);
        out->assignee = col(r, a, 0, 8);
    }
    PQclear(r);
    return rc;
}
