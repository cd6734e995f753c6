#include "location_store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "google/protobuf/timestamp.pb-c.h"
#include "loc_text.h"

/* --- rows -> messages ---------------------------------------------------- */

#define COLS_LOC "l.id, l.tenant_id, l.name, l.code, l.address, l.time_zone, kn_us(l.create_time)"
#define COLS_DOOR                                                                                  \
    "d.id, d.location_id, d.label, d.size, d.state, d.multi_item, d.tenant_id, "                   \
    "kn_us(d.create_time)"
#define NCOLS_DOOR 8
#define COLS_PKG                                                                                   \
    "p.id, p.tenant_id, p.barcode, p.tracking_number, p.carrier, p.description, p.location_id, "   \
    "coalesce(p.door_id::text, ''), p.state, coalesce(p.assignee_user_id::text, ''), "             \
    "coalesce(p.order_id::text, ''), kn_us(p.create_time), kn_us(p.update_time)"
#define COLS_STOCK                                                                                 \
    "s.id, s.location_id, s.sku, s.description, s.quantity_on_hand, s.quantity_reserved, "         \
    "kn_us(s.update_time)"
#define COLS_ACT                                                                                   \
    "a.id, kn_us(a.time), a.kind, coalesce(a.actor_user_id::text, ''), "                           \
    "coalesce(a.location_id::text, ''), coalesce(a.door_id::text, ''), "                           \
    "coalesce(a.package_id::text, ''), coalesce(a.order_id::text, ''), a.barcode, "                \
    "a.tracking_number, a.detail, a.order_identifier, a.door_label, a.location_name"

static char *col(kn_arena *a, const PGresult *r, int row, int c)
{
    return kn_arena_strdup(a, PQgetvalue(r, row, c));
}

static int64_t col_i64(const PGresult *r, int row, int c)
{
    return strtoll(PQgetvalue(r, row, c), NULL, 10);
}

static Google__Protobuf__Timestamp *ts_us(kn_arena *a, int64_t us)
{
    Google__Protobuf__Timestamp *t = kn_arena_msg(a, &google__protobuf__timestamp__descriptor);
    int64_t s = us / 1000000, rem = us % 1000000;
    if (rem < 0) {
        rem += 1000000;
        s -= 1;
    }
    t->seconds = s;
    t->nanos = (int32_t)(rem * 1000);
    return t;
}

static loc_location *row_location(kn_arena *a, const PGresult *r, int i)
{
    loc_location *m = kn_arena_msg(a, &konnect__location__v1__location__descriptor);
    m->id = col(a, r, i, 0);
    m->tenant_id = col(a, r, i, 1);
    m->name = col(a, r, i, 2);
    m->code = col(a, r, i, 3);
    m->address = col(a, r, i, 4);
    m->time_zone = col(a, r, i, 5);
    m->create_time = ts_us(a, col_i64(r, i, 6));
    return m;
}

static loc_door *row_door(kn_arena *a, const PGresult *r, int i)
{
    loc_door *m = kn_arena_msg(a, &konnect__location__v1__door__descriptor);
    m->id = col(a, r, i, 0);
    m->location_id = col(a, r, i, 1);
    m->label = col(a, r, i, 2);
    m->size = (Konnect__Location__V1__DoorSize)col_i64(r, i, 3);
    m->state = (Konnect__Location__V1__DoorState)col_i64(r, i, 4);
    m->multi_item = PQgetvalue(r, i, 5)[0] == 't';
    m->tenant_id = col(a, r, i, 6);
    m->create_time = ts_us(a, col_i64(r, i, 7));
    return m;
}

static loc_package *row_package(kn_arena *a, const PGresult *r, int i, int c0)
{
    loc_package *m = kn_arena_msg(a, &konnect__location__v1__package__descriptor);
    m->id = col(a, r, i, c0 + 0);
    m->tenant_id = col(a, r, i, c0 + 1);
    m->barcode = col(a, r, i, c0 + 2);
    m->tracking_number = col(a, r, i, c0 + 3);
    m->carrier = col(a, r, i, c0 + 4);
    m->description = col(a, r, i, c0 + 5);
    m->location_id = col(a, r, i, c0 + 6);
    m->door_id = col(a, r, i, c0 + 7);
    m->state = (Konnect__Location__V1__PackageState)col_i64(r, i, c0 + 8);
    m->assignee_user_id = col(a, r, i, c0 + 9);
    m->order_id = col(a, r, i, c0 + 10);
    m->create_time = ts_us(a, col_i64(r, i, c0 + 11));
    m->update_time = ts_us(a, col_i64(r, i, c0 + 12));
    return m;
}

static loc_stock_item *row_stock(kn_arena *a, const PGresult *r, int i)
{
    loc_stock_item *m = kn_arena_msg(a, &konnect__location__v1__stock_item__descriptor);
    m->id = col(a, r, i, 0);
    m->location_id = col(a, r, i, 1);
    m->sku = col(a, r, i, 2);
    m->description = col(a, r, i, 3);
    m->quantity_on_hand = (int32_t)col_i64(r, i, 4);
    m->quantity_reserved = (int32_t)col_i64(r, i, 5);
    m->update_time = ts_us(a, col_i64(r, i, 6));
    return m;
}

static loc_activity *row_activity(kn_arena *a, const PGresult *r, int i)
{
    loc_activity *m = kn_arena_msg(a, &konnect__location__v1__activity__descriptor);
    m->id = col(a, r, i, 0);
    m->time = ts_us(a, col_i64(r, i, 1));
    m->kind = (Konnect__Location__V1__ActivityKind)col_i64(r, i, 2);
    m->actor_user_id = col(a, r, i, 3);
    m->location_id = col(a, r, i, 4);
    m->door_id = col(a, r, i, 5);
    m->package_id = col(a, r, i, 6);
    m->order_id = col(a, r, i, 7);
    m->barcode = col(a, r, i, 8);
    m->tracking_number = col(a, r, i, 9);
    m->detail = col(a, r, i, 10);
    m->order_identifier = col(a, r, i, 11);
    m->door_label = col(a, r, i, 12);
    m->location_name = col(a, r, i, 13);
    return m;
}

typedef void *(*row_fn)(kn_arena *a, const PGresult *r, int i);

static void *row_package0(kn_arena *a, const PGresult *r, int i)
{
    return row_package(a, r, i, 0);
}

/* Fills a page from r (fetched with LIMIT limit + 1). key_time_col / key_id_col
 * name the columns of the sort key (-1 for none). */
static void fill_page(kn_arena *a, const PGresult *r, row_fn fn, int limit, loc_page *page)
{
    int n = PQntuples(r);
    page->has_more = n > limit;
    if (page->has_more)
        n = limit;
    page->n = (size_t)n;
    page->items = kn_arena_alloc(a, sizeof(void *) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++)
        page->items[i] = fn(a, r, i);
}

static const char *i64s(kn_arena *a, int64_t v)
{
    return kn_arena_sprintf(a, "%lld", (long long)v);
}

static const char *ids_array(kn_arena *a, char *const *ids, size_t n)
{
    size_t len = n * (KN_UUID_STR_LEN + 1) + 3;
    char *out = kn_arena_alloc(a, len);
    if (loc_uuid_array(ids, n, out, len) < 0)
        return "{}";
    return out;
}

static const char *state_name(int s)
{
    switch (s) {
    case 1:
        return "EXPECTED";
    case 2:
        return "IN_LOCKER";
    case 3:
        return "COLLECTED";
    case 4:
        return "RETURNED";
    }
    return "UNKNOWN";
}

/* Maps a failed statement to a client answer where the database enforced a
 * rule; anything else keeps kn_pg's generic status. */
static kn_code db_fail(kn_pg *pg, kn_status *st)
{
    const char *state = kn_pg_sqlstate(pg);
    const char *con = kn_pg_constraint(pg);
    if (strcmp(state, "23505") == 0) {
        if (strcmp(con, "locations_code_key") == 0)
            return kn_status_set(st, KN_ALREADY_EXISTS, "code: a location with this code exists");
        if (strcmp(con, "doors_label_key") == 0)
            return kn_status_set(st, KN_ALREADY_EXISTS,
                                 "label: a door with this label exists at the location");
        if (strcmp(con, "packages_barcode_key") == 0)
            return kn_status_set(st, KN_ALREADY_EXISTS,
                                 "barcode: a package with this barcode exists");
        return kn_status_set(st, KN_ALREADY_EXISTS, "already exists");
    }
    if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)
        return kn_status_set(st, KN_ABORTED, "concurrent update, retry");
    if (strcmp(state, "23514") == 0) {
        if (strcmp(con, "doors_capacity") == 0)
            return kn_status_set(st, KN_FAILED_PRECONDITION,
                                 "multi_item: the door holds more than one package");
        if (strcmp(con, "stock_items_reserved_range") == 0)
            return kn_status_set(st, KN_FAILED_PRECONDITION,
                                 "delta: quantity on hand would go below the reserved quantity");
        return kn_status_set(st, KN_FAILED_PRECONDITION, "the change breaks a rule (%s)", con);
    }
    if (strcmp(state, "22003") == 0)
        return kn_status_set(st, KN_INVALID_ARGUMENT, "delta: quantity out of range");
    return st->code != KN_OK ? st->code : kn_status_set(st, KN_INTERNAL, "database error");
}

static PGresult *exec(kn_pg *pg, const kn_pg_stmt *s, const char *const *p, kn_code *rc,
                      kn_status *st)
{
    PGresult *r = kn_pg_exec(pg, s, p, st);
    if (!r)
        *rc = db_fail(pg, st);
    return r;
}

static kn_code run(kn_pg *pg, const kn_pg_stmt *s, const char *const *p, long *affected,
                   kn_status *st)
{
    long n = kn_pg_run(pg, s, p, st);
    if (n < 0)
        return db_fail(pg, st);
    if (affected)
        *affected = n;
    return KN_OK;
}

/* Sent with the transaction's next statement or its COMMIT, in one round
 * trip: for a write whose row count decides nothing. */
static kn_code queue(kn_pg *pg, const kn_pg_stmt *s, const char *const *p, kn_status *st)
{
    if (kn_pg_queue(pg, s, p, st) != KN_OK)
        return db_fail(pg, st);
    return KN_OK;
}

static kn_code finish(kn_pg *pg, kn_code rc, kn_status *st)
{
    if (rc == KN_OK)
        rc = kn_pg_commit(pg, st);
    if (rc != KN_OK)
        kn_pg_rollback(pg);
    return rc;
}

/* --- locations ---------------------------------------------------------- */

static const kn_pg_stmt tz_valid_stmt = {
    "loc_tz_valid", "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", 1};
static const kn_pg_stmt location_by_request_stmt = {
    "loc_location_by_request",
    "SELECT " COLS_LOC " FROM locations l WHERE l.tenant_id = $1 AND l.request_id = $2", 2};
static const kn_pg_stmt location_insert_stmt = {
    "loc_location_insert",
    "WITH l AS (INSERT INTO locations (id, tenant_id, name, code, address, time_zone, request_id)"
    " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, NULLIF($6, ''))"
    " ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING *)"
    " SELECT " COLS_LOC " FROM l",
    6};

/* A request_id names one request: a retry gets the first result, the same
 * id with other contents is a client bug the gateway must see. The compared
 * fields are never changed after the create. */
static kn_code request_reused(kn_status *st)
{
    return kn_status_set(st, KN_ALREADY_EXISTS,
                         "request_id was already used with a different request");
}

/* *out is the location created with this request_id, or NULL. tz is the
 * time zone as stored ("" defaults to UTC). */
static kn_code location_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                   const Konnect__Location__V1__CreateLocationRequest *req,
                                   const char *tz, loc_location **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, req->request_id};
    PGresult *r = exec(pg, &location_by_request_stmt, p, &rc, st);
    if (!r)
        return rc;
    *out = PQntuples(r) > 0 ? row_location(a, r, 0) : NULL;
    PQclear(r);
    if (*out &&
        (strcmp((*out)->name, req->name) != 0 || strcmp((*out)->code, req->code) != 0 ||
         strcmp((*out)->address, req->address) != 0 || strcmp((*out)->time_zone, tz) != 0)) {
        *out = NULL;
        return request_reused(st);
    }
    return KN_OK;
}

kn_code loc_store_create_location(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                  const Konnect__Location__V1__CreateLocationRequest *req,
                                  loc_location **out, kn_status *st)
{
    kn_code rc = KN_OK;
    PGresult *r = NULL;
    *out = NULL;
    const char *tz = req->time_zone[0] ? req->time_zone : "UTC";
    if (req->request_id[0]) {
        if ((rc = location_by_request(pg, a, cx->tenant, req, tz, out, st)) != KN_OK || *out)
            return rc;
    }
    const char *tp[] = {tz};
    if (!(r = exec(pg, &tz_valid_stmt, tp, &rc, st)))
        goto done;
    if (PQgetvalue(r, 0, 0)[0] != 't') {
        rc = kn_status_set(st, KN_INVALID_ARGUMENT, "time_zone: unknown IANA time zone");
        goto done;
    }
    PQclear(r);
    const char *p[] = {cx->tenant, req->name, req->code, req->address, tz, req->request_id};
    if (!(r = exec(pg, &location_insert_stmt, p, &rc, st)))
        goto done;
    if (PQntuples(r) > 0)
        *out = row_location(a, r, 0);
    else if ((rc = location_by_request(pg, a, cx->tenant, req, tz, out, st)) == KN_OK && !*out)
        rc = kn_status_set(st, KN_ABORTED, "concurrent create, retry");
done:
    PQclear(r);
    return rc;
}

static const kn_pg_stmt location_get_stmt = {
    "loc_location_get", "SELECT " COLS_LOC " FROM locations l WHERE l.tenant_id = $1 AND l.id = $2",
    2};

kn_code loc_store_get_location(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                               loc_location **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, id};
    PGresult *r = exec(pg, &location_get_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "location %s not found", id);
    else
        *out = row_location(a, r, 0);
    PQclear(r);
    return rc;
}

static const kn_pg_stmt location_list_stmt = {
    "loc_location_list",
    "SELECT " COLS_LOC " FROM locations l WHERE l.tenant_id = $1"
    " AND ($2 = '' OR l.name ILIKE $2 OR l.code ILIKE $2)"
    " AND ($3::bigint IS NULL OR (l.create_time, l.id) < (kn_ts($3::bigint), $4::uuid))"
    " ORDER BY l.create_time DESC, l.id DESC LIMIT $5",
    5};

static void *row_location_v(kn_arena *a, const PGresult *r, int i)
{
    return row_location(a, r, i);
}

kn_code loc_store_list_locations(kn_pg *pg, kn_arena *a, const char *tenant, const char *query,
                                 const kn_page_key *after, int limit, loc_page *page, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, query, after ? i64s(a, after->time_us) : NULL,
                       after ? after->id : NULL, i64s(a, limit + 1)};
    PGresult *r = exec(pg, &location_list_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_location_v, limit, page);
    if (page->has_more) {
        page->next.time_us = col_i64(r, limit - 1, 6);
        snprintf(page->next.id, sizeof page->next.id, "%s", PQgetvalue(r, limit - 1, 0));
    }
    PQclear(r);
    return KN_OK;
}

/* --- doors -------------------------------------------------------------- */

static const kn_pg_stmt door_insert_stmt = {
    "loc_door_insert",
    "WITH d AS (INSERT INTO doors (id, tenant_id, location_id, label, size, multi_item)"
    " SELECT gen_random_uuid(), l.tenant_id, l.id, $3, $4::smallint, $5::boolean"
    " FROM locations l WHERE l.tenant_id = $1 AND l.id = $2 RETURNING *)"
    " SELECT " COLS_DOOR " FROM d",
    5};

kn_code loc_store_create_door(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                              const Konnect__Location__V1__CreateDoorRequest *req, int size,
                              loc_door **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {cx->tenant, req->location_id, req->label, i64s(a, size),
                       req->multi_item ? "true" : "false"};
    PGresult *r = exec(pg, &door_insert_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc =
            kn_status_set(st, KN_NOT_FOUND, "location_id: location %s not found", req->location_id);
    else
        *out = row_door(a, r, 0);
    PQclear(r);
    return rc;
}

static const kn_pg_stmt door_list_stmt = {
    "loc_door_list",
    "SELECT " COLS_DOOR " FROM doors d WHERE d.tenant_id = $1 AND d.location_id = $2"
    " AND ($3::text IS NULL OR d.label > $3) ORDER BY d.label LIMIT $4",
    4};

static void *row_door_v(kn_arena *a, const PGresult *r, int i)
{
    return row_door(a, r, i);
}

kn_code loc_store_list_doors(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                             const kn_page_key *after, int limit, loc_page *page, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, location_id, after ? after->id : NULL, i64s(a, limit + 1)};
    PGresult *r = exec(pg, &door_list_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_door_v, limit, page);
    if (page->has_more)
        snprintf(page->next.id, sizeof page->next.id, "%s", PQgetvalue(r, limit - 1, 2));
    PQclear(r);
    return KN_OK;
}

/* state 0 keeps the state; EMPTY puts the door back in service (OCCUPIED
 * when something is inside). */
static const kn_pg_stmt door_update_stmt = {
    "loc_door_update",
    "WITH d AS (UPDATE doors SET"
    " state = CASE $3::int WHEN 4 THEN 4 WHEN 1 THEN CASE WHEN package_count > 0 THEN 2 ELSE 1 END"
    " ELSE state END,"
    " multi_item = CASE WHEN $4::boolean THEN $5::boolean ELSE multi_item END, update_time = now()"
    " WHERE tenant_id = $1 AND id = $2 AND ($6 = '' OR location_id = NULLIF($6, '')::uuid)"
    " RETURNING *) SELECT " COLS_DOOR " FROM d",
    6};

kn_code loc_store_update_door(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                              const Konnect__Location__V1__UpdateDoorRequest *req, loc_door **out,
                              kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {cx->tenant,
                       req->id,
                       i64s(a, req->state),
                       req->update_multi_item ? "true" : "false",
                       req->multi_item ? "true" : "false",
                       req->location_id};
    PGresult *r = exec(pg, &door_update_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "door %s not found", req->id);
    else
        *out = row_door(a, r, 0);
    PQclear(r);
    return rc;
}

/* One statement, so the door and its contents come from one snapshot. */
static const kn_pg_stmt door_contents_stmt = {
    "loc_door_contents",
    "SELECT " COLS_DOOR ", " COLS_PKG " FROM doors d"
    " LEFT JOIN packages p ON p.door_id = d.id AND p.state = 2 AND p.tenant_id = d.tenant_id"
    " WHERE d.tenant_id = $1 AND d.id = $2 AND d.location_id = $3"
    " ORDER BY p.update_time, p.id",
    3};

kn_code loc_store_door_contents(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                                const char *door_id,
                                Konnect__Location__V1__ListDoorContentsResponse **out,
                                kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, door_id, location_id};
    PGresult *r = exec(pg, &door_contents_stmt, p, &rc, st);
    if (!r)
        return rc;
    int n = PQntuples(r);
    if (n == 0) {
        rc = kn_status_set(st, KN_NOT_FOUND, "door %s not found", door_id);
        goto done;
    }
    Konnect__Location__V1__ListDoorContentsResponse *m =
        kn_arena_msg(a, &konnect__location__v1__list_door_contents_response__descriptor);
    m->door = row_door(a, r, 0);
    m->packages = kn_arena_alloc(a, sizeof(loc_package *) * (size_t)n);
    for (int i = 0; i < n; i++)
        if (!PQgetisnull(r, i, NCOLS_DOOR))
            m->packages[m->n_packages++] = row_package(a, r, i, NCOLS_DOOR);
    *out = m;
done:
    PQclear(r);
    return rc;
}

/* --- package locking and activity --------------------------------------- */

typedef struct {
    char *id;
    int state;
    char *location_id;
    char *door_id;
    char *assignee;
    int64_t token;
    char *order_id;
} pkg_lock;

#define COLS_LOCK                                                                                  \
    "id, state, location_id, coalesce(door_id::text, ''), coalesce(assignee_user_id::text, ''), "  \
    "assignee_token, coalesce(order_id::text, '')"

/* Row locks in id order, so that concurrent changes of overlapping package
 * sets queue instead of deadlocking. */
static const kn_pg_stmt lock_ids_stmt = {"loc_lock_ids",
                                         KN_PG_CACHED_PLAN
                                         "SELECT " COLS_LOCK " FROM packages"
                                         " WHERE tenant_id = $1 AND id = ANY($2::uuid[])"
                                         " ORDER BY id FOR UPDATE",
                                         2};
static const kn_pg_stmt lock_order_stmt = {"loc_lock_order",
                                           KN_PG_CACHED_PLAN
                                           "SELECT " COLS_LOCK " FROM packages"
                                           " WHERE tenant_id = $1 AND order_id = $2"
                                           " ORDER BY id FOR UPDATE",
                                           2};

typedef struct {
    pkg_lock *rows;
    size_t n;
} pkg_set;

/* Locks the packages ids (or, with n == 0 and an order, every package of
 * the order). NOT_FOUND naming the first id that is unknown, foreign, or
 * hidden from the technician only_user. */
static kn_code lock_packages(kn_pg *pg, kn_arena *a, const char *tenant, char **ids, size_t n,
                             const char *order_id, const char *only_user, pkg_set *out,
                             kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, n > 0 ? ids_array(a, ids, n) : order_id};
    PGresult *r = exec(pg, n > 0 ? &lock_ids_stmt : &lock_order_stmt, p, &rc, st);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    out->n = (size_t)rows;
    out->rows = kn_arena_alloc(a, sizeof(pkg_lock) * (size_t)(rows > 0 ? rows : 1));
    for (int i = 0; i < rows; i++) {
        pkg_lock *k = &out->rows[i];
        k->id = col(a, r, i, 0);
        k->state = (int)col_i64(r, i, 1);
        k->location_id = col(a, r, i, 2);
        k->door_id = col(a, r, i, 3);
        k->assignee = col(a, r, i, 4);
        k->token = col_i64(r, i, 5);
        k->order_id = col(a, r, i, 6);
        if (only_user && k->assignee[0] && strcasecmp(k->assignee, only_user) != 0) {
            rc = kn_status_set(st, KN_NOT_FOUND, "package %s not found", k->id);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < rows && !found; j++)
            found = strcasecmp(ids[i], out->rows[j].id) == 0;
        if (!found) {
            rc = kn_status_set(st, KN_NOT_FOUND, "package %s not found", ids[i]);
            goto done;
        }
    }
done:
    PQclear(r);
    return rc;
}

/* One activity row per package, from the package's current row. */
static const kn_pg_stmt log_packages_stmt = {
    "loc_log_packages",
    KN_PG_CACHED_PLAN
    "INSERT INTO activity (tenant_id, kind, actor_user_id, location_id, door_id, package_id,"
    " order_id, barcode, tracking_number, order_identifier, door_label, location_name, detail)"
    " SELECT p.tenant_id, $3::smallint, $4::uuid, p.location_id, p.door_id, p.id, p.order_id,"
    " p.barcode, p.tracking_number, CASE WHEN p.order_id IS NULL THEN '' ELSE p.order_identifier "
    "END,"
    " coalesce(d.label, ''), l.name, $5"
    " FROM packages p JOIN locations l ON l.id = p.location_id"
    " LEFT JOIN doors d ON d.id = p.door_id"
    " WHERE p.tenant_id = $1 AND p.id = ANY($2::uuid[]) ORDER BY p.id",
    5};

static kn_code log_packages(kn_pg *pg, const char *tenant, const char *arr, int kind,
                            const char *actor, const char *detail, kn_status *st)
{
    char k[8];
    snprintf(k, sizeof k, "%d", kind);
    const char *p[] = {tenant, arr, k, actor, detail};
    return queue(pg, &log_packages_stmt, p, st);
}

static const kn_pg_stmt packages_by_ids_stmt = {
    "loc_packages_by_ids",
    KN_PG_CACHED_PLAN "SELECT " COLS_PKG
                      " FROM packages p WHERE p.tenant_id = $1 AND p.id = ANY($2::uuid[])"
                      " ORDER BY p.id",
    2};

static kn_code packages_by_ids(kn_pg *pg, kn_arena *a, const char *tenant, const char *arr,
                               loc_page *out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, arr};
    PGresult *r = exec(pg, &packages_by_ids_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_package0, PQntuples(r), out);
    PQclear(r);
    return KN_OK;
}

/* Ends a transaction over a package set: on success the answer (the
 * packages `ids`) is read inside it, where the locked rows are what the
 * commit makes, and the COMMIT rides with that read (one round trip). */
static kn_code finish_read(kn_pg *pg, kn_code rc, kn_arena *a, const char *tenant,
                           const char *const *ids, size_t n, loc_page *out, kn_status *st)
{
    if (rc == KN_OK) {
        kn_pg_commit_on_next(pg);
        rc = packages_by_ids(pg, a, tenant, ids_array(a, (char *const *)ids, n), out, st);
    }
    if (rc != KN_OK)
        kn_pg_rollback(pg);
    return rc;
}

/* A list of package ids picked out of a locked set. */
typedef struct {
    char **ids;
    size_t n;
} id_list;

static void id_list_init(kn_arena *a, id_list *l, size_t cap)
{
    l->ids = kn_arena_alloc(a, sizeof(char *) * (cap > 0 ? cap : 1));
    l->n = 0;
}

static void ids_add_unique(loc_ids *l, char *id)
{
    if (!id || !id[0])
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ids[i], id) == 0)
            return;
    l->ids[l->n++] = id;
}

static void doors_of(kn_arena *a, const pkg_set *s, loc_ids *doors)
{
    doors->ids = kn_arena_alloc(a, sizeof(char *) * (s->n > 0 ? s->n : 1));
    doors->n = 0;
    for (size_t i = 0; i < s->n; i++)
        ids_add_unique(doors, s->rows[i].door_id);
}

static const char **all_ids(kn_arena *a, const pkg_set *s)
{
    const char **ids = kn_arena_alloc(a, sizeof(char *) * (s->n > 0 ? s->n : 1));
    for (size_t i = 0; i < s->n; i++)
        ids[i] = s->rows[i].id;
    return ids;
}

/* --- packages ----------------------------------------------------------- */

static const kn_pg_stmt package_by_request_stmt = {
    "loc_package_by_request",
    "SELECT " COLS_PKG " FROM packages p WHERE p.tenant_id = $1 AND p.request_id = $2", 2};
static const kn_pg_stmt package_insert_stmt = {
    "loc_package_insert",
    "WITH p AS (INSERT INTO packages (id, tenant_id, barcode, tracking_number, carrier,"
    " description, location_id, request_id)"
    " SELECT gen_random_uuid(), l.tenant_id, $3, $4, $5, $6, l.id, NULLIF($7, '')"
    " FROM locations l WHERE l.tenant_id = $1 AND l.id = $2"
    " ON CONFLICT (tenant_id, request_id) WHERE request_id IS NOT NULL DO NOTHING RETURNING *),"
    " a AS (INSERT INTO activity (tenant_id, kind, actor_user_id, location_id, package_id,"
    " barcode, tracking_number, location_name)"
    " SELECT p.tenant_id, 1, $8::uuid, p.location_id, p.id, p.barcode, p.tracking_number, l.name"
    " FROM p JOIN locations l ON l.id = p.location_id)"
    " SELECT " COLS_PKG " FROM p",
    8};

/* *out is the package registered with this request_id, or NULL (see
 * request_reused). */
static kn_code package_by_request(kn_pg *pg, kn_arena *a, const char *tenant,
                                  const Konnect__Location__V1__RegisterPackageRequest *req,
                                  loc_package **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, req->request_id};
    PGresult *r = exec(pg, &package_by_request_stmt, p, &rc, st);
    if (!r)
        return rc;
    *out = PQntuples(r) > 0 ? row_package(a, r, 0, 0) : NULL;
    PQclear(r);
    if (*out && (strcmp((*out)->barcode, req->barcode) != 0 ||
                 strcmp((*out)->tracking_number, req->tracking_number) != 0 ||
                 strcmp((*out)->carrier, req->carrier) != 0 ||
                 strcmp((*out)->description, req->description) != 0 ||
                 strcasecmp((*out)->location_id, req->location_id) != 0)) {
        *out = NULL;
        return request_reused(st);
    }
    return KN_OK;
}

kn_code loc_store_register_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                   const Konnect__Location__V1__RegisterPackageRequest *req,
                                   loc_package **out, kn_status *st)
{
    kn_code rc = KN_OK;
    *out = NULL;
    if (req->request_id[0]) {
        if ((rc = package_by_request(pg, a, cx->tenant, req, out, st)) != KN_OK || *out)
            return rc;
    }
    const char *p[] = {cx->tenant,   req->location_id, req->barcode,    req->tracking_number,
                       req->carrier, req->description, req->request_id, cx->actor};
    PGresult *r = exec(pg, &package_insert_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) > 0)
        *out = row_package(a, r, 0, 0);
    else if (req->request_id[0])
        rc = package_by_request(pg, a, cx->tenant, req, out, st);
    if (rc == KN_OK && !*out)
        rc =
            kn_status_set(st, KN_NOT_FOUND, "location_id: location %s not found", req->location_id);
    PQclear(r);
    return rc;
}

static const kn_pg_stmt package_get_stmt = {
    "loc_package_get", "SELECT " COLS_PKG " FROM packages p WHERE p.tenant_id = $1 AND p.id = $2",
    2};

kn_code loc_store_get_package(kn_pg *pg, kn_arena *a, const char *tenant, const char *id,
                              loc_package **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, id};
    PGresult *r = exec(pg, &package_get_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "package %s not found", id);
    else
        *out = row_package(a, r, 0, 0);
    PQclear(r);
    return rc;
}

/* The text expression matches packages_text_trgm. */
static const kn_pg_stmt package_list_stmt = {
    "loc_package_list",
    "SELECT " COLS_PKG " FROM packages p WHERE p.tenant_id = $1"
    " AND ($2 = '' OR p.location_id = NULLIF($2, '')::uuid)"
    " AND ($3 = '' OR p.door_id = NULLIF($3, '')::uuid)"
    " AND ($4::int = 0 OR p.state = $4::int)"
    " AND ($5::int NOT IN (2, 3) OR ($5::int = 2) = (p.assignee_user_id IS NOT NULL))"
    " AND ($6 = '' OR p.assignee_user_id = NULLIF($6, '')::uuid)"
    " AND ($7 = '' OR p.order_id = NULLIF($7, '')::uuid)"
    " AND ($8 = '' OR lower(p.barcode || E'\\x1f' || p.tracking_number || E'\\x1f' || p.carrier"
    " || E'\\x1f' || p.description) LIKE lower($8))"
    " AND ($9 = '' OR p.assignee_user_id IS NULL OR p.assignee_user_id = NULLIF($9, '')::uuid)"
    " AND ($10::bigint IS NULL OR (p.create_time, p.id) < (kn_ts($10::bigint), $11::uuid))"
    " ORDER BY p.create_time DESC, p.id DESC LIMIT $12",
    12};

kn_code loc_store_list_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ListPackagesRequest *req,
                                const kn_page_key *after, int limit, loc_page *page, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *like = "";
    if (req->query[0]) {
        size_t len = strlen(req->query) * 2 + 3;
        char *buf = kn_arena_alloc(a, len);
        loc_like_pattern(req->query, 1, buf, len);
        like = buf;
    }
    const char *p[] = {cx->tenant,
                       req->location_id,
                       req->door_id,
                       i64s(a, req->state),
                       i64s(a, req->assignment),
                       req->assignee_user_id,
                       req->order_id,
                       like,
                       cx->only_user ? cx->only_user : "",
                       after ? i64s(a, after->time_us) : NULL,
                       after ? after->id : NULL,
                       i64s(a, limit + 1)};
    PGresult *r = exec(pg, &package_list_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_package0, limit, page);
    if (page->has_more) {
        page->next.time_us = col_i64(r, limit - 1, 11);
        snprintf(page->next.id, sizeof page->next.id, "%s", PQgetvalue(r, limit - 1, 0));
    }
    PQclear(r);
    return KN_OK;
}

/* The conditional UPDATE is the capacity rule: only a door of the
 * package's location, in service, empty unless multi-item, takes it. */
static const kn_pg_stmt door_take_stmt = {
    "loc_door_take",
    "UPDATE doors SET package_count = package_count + 1, state = 2, update_time = now()"
    " WHERE tenant_id = $1 AND id = $2 AND location_id = $3 AND state <> 4"
    " AND (multi_item OR package_count = 0)",
    3};
static const kn_pg_stmt door_probe_stmt = {
    "loc_door_probe",
    "SELECT location_id, state, multi_item, package_count FROM doors"
    " WHERE tenant_id = $1 AND id = $2",
    2};
static const kn_pg_stmt package_deliver_stmt = {
    "loc_package_deliver",
    "UPDATE packages SET state = 2, door_id = $3, update_time = now()"
    " WHERE tenant_id = $1 AND id = $2 AND state = 1",
    3};

/* Why a door refused a package. */
static kn_code door_refusal(kn_pg *pg, const char *tenant, const char *door_id,
                            const char *location_id, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, door_id};
    PGresult *r = exec(pg, &door_probe_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_NOT_FOUND, "door_id: door %s not found", door_id);
    else if (strcasecmp(PQgetvalue(r, 0, 0), location_id) != 0)
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "door_id: the door is not at the package's location");
    else if (strtol(PQgetvalue(r, 0, 1), NULL, 10) == 4)
        rc = kn_status_set(st, KN_FAILED_PRECONDITION, "door_id: the door is out of service");
    else
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "door_id: the door is occupied and not multi-item");
    PQclear(r);
    return rc;
}

kn_code loc_store_deliver_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *id,
                                  const char *door_id, loc_package **out, kn_status *st)
{
    kn_code rc;
    pkg_set s;
    char *ids[] = {(char *)id};
    long n = 0;
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    if ((rc = lock_packages(pg, a, cx->tenant, ids, 1, NULL, NULL, &s, st)) != KN_OK)
        goto done;
    if (s.rows[0].state != 1) {
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "package is %s: only an EXPECTED package can be delivered",
                           state_name(s.rows[0].state));
        goto done;
    }
    const char *dp[] = {cx->tenant, door_id, s.rows[0].location_id};
    if ((rc = run(pg, &door_take_stmt, dp, &n, st)) != KN_OK)
        goto done;
    if (n == 0) {
        rc = door_refusal(pg, cx->tenant, door_id, s.rows[0].location_id, st);
        goto done;
    }
    const char *pp[] = {cx->tenant, id, door_id};
    if ((rc = run(pg, &package_deliver_stmt, pp, NULL, st)) != KN_OK)
        goto done;
    rc = log_packages(pg, cx->tenant, ids_array(a, ids, 1), 2, cx->actor, "", st);
done:
    rc = finish(pg, rc, st);
    return rc == KN_OK ? loc_store_get_package(pg, a, cx->tenant, id, out, st) : rc;
}

/* Takes the given packages out of their doors; a door left with nothing
 * is EMPTY again (unless out of service). */
static const kn_pg_stmt doors_release_stmt = {
    "loc_doors_release",
    "UPDATE doors d SET package_count = d.package_count - c.n,"
    " state = CASE WHEN d.state = 4 THEN 4 WHEN d.package_count - c.n > 0 THEN 2 ELSE 1 END,"
    " update_time = now()"
    " FROM (SELECT door_id, count(*)::int AS n FROM packages"
    " WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND state = 2 GROUP BY door_id) c"
    " WHERE d.id = c.door_id AND d.tenant_id = $1",
    2};
static const kn_pg_stmt packages_set_state_stmt = {
    "loc_packages_set_state",
    "UPDATE packages SET state = $3::smallint, update_time = now()"
    " WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
    3};

kn_code loc_store_return_package(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *id,
                                 const char *reason, loc_package **out, kn_status *st)
{
    kn_code rc;
    pkg_set s;
    char *ids[] = {(char *)id};
    const char *arr = ids_array(a, ids, 1);
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    if ((rc = lock_packages(pg, a, cx->tenant, ids, 1, NULL, NULL, &s, st)) != KN_OK)
        goto done;
    if (s.rows[0].state != 2) {
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "package is %s: only an IN_LOCKER package can be returned",
                           state_name(s.rows[0].state));
        goto done;
    }
    if (s.rows[0].order_id[0]) {
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "package is in order %s: remove it from the order first",
                           s.rows[0].order_id);
        goto done;
    }
    const char *dp[] = {cx->tenant, arr};
    if ((rc = run(pg, &doors_release_stmt, dp, NULL, st)) != KN_OK)
        goto done;
    const char *sp[] = {cx->tenant, arr, "4"};
    if ((rc = run(pg, &packages_set_state_stmt, sp, NULL, st)) != KN_OK)
        goto done;
    rc = log_packages(pg, cx->tenant, arr, 9, cx->actor, reason, st);
done:
    rc = finish(pg, rc, st);
    return rc == KN_OK ? loc_store_get_package(pg, a, cx->tenant, id, out, st) : rc;
}

/* One DOOR_OPENED row per door holding any of the packages. */
static const kn_pg_stmt log_doors_opened_stmt = {
    "loc_log_doors_opened",
    "INSERT INTO activity (tenant_id, kind, actor_user_id, location_id, door_id, order_id,"
    " order_identifier, door_label, location_name)"
    " SELECT DISTINCT ON (d.id) d.tenant_id, 7, $3::uuid, d.location_id, d.id, p.order_id,"
    " CASE WHEN p.order_id IS NULL THEN '' ELSE p.order_identifier END, d.label, l.name"
    " FROM packages p JOIN doors d ON d.id = p.door_id JOIN locations l ON l.id = d.location_id"
    " WHERE p.tenant_id = $1 AND p.id = ANY($2::uuid[]) ORDER BY d.id, p.id",
    3};

/* Checks one locked package for CollectPackages; *take = 1 when it is to
 * be collected now, 0 when order-svc retries an already collected one. */
static kn_code collect_check(const loc_ctx *cx, const pkg_lock *k, const char *order_id, int *take,
                             kn_status *st)
{
    *take = 0;
    if (order_id[0]) {
        if (strcasecmp(k->order_id, order_id) != 0)
            return kn_status_set(st, KN_FAILED_PRECONDITION, "package %s is not in order %s", k->id,
                                 order_id);
        if (k->state == 3)
            return KN_OK;
    } else {
        if (k->order_id[0] && k->state <= 2)
            return kn_status_set(st, KN_FAILED_PRECONDITION,
                                 "package %s belongs to order %s: collect the order", k->id,
                                 k->order_id);
        if (cx->only_user && strcasecmp(k->assignee, cx->only_user) != 0)
            return kn_status_set(st, KN_PERMISSION_DENIED, "package %s is not assigned to you",
                                 k->id);
    }
    if (k->state != 2)
        return kn_status_set(st, KN_FAILED_PRECONDITION,
                             "package %s is %s: only an IN_LOCKER package can be collected", k->id,
                             state_name(k->state));
    *take = 1;
    return KN_OK;
}

kn_code loc_store_collect_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx, char **ids, size_t n,
                                   const char *order_id, loc_page *out, loc_ids *doors,
                                   kn_status *st)
{
    kn_code rc;
    pkg_set s = {0};
    id_list take;
    doors->n = 0;
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    /* order-svc collects for the order's assignee: visibility is its check. */
    if ((rc = lock_packages(pg, a, cx->tenant, ids, n, order_id, order_id[0] ? NULL : cx->only_user,
                            &s, st)) != KN_OK)
        goto done;
    if (s.n == 0) {
        rc = kn_status_set(st, KN_FAILED_PRECONDITION, "order %s has no packages", order_id);
        goto done;
    }
    id_list_init(a, &take, s.n);
    for (size_t i = 0; i < s.n; i++) {
        int t = 0;
        if ((rc = collect_check(cx, &s.rows[i], order_id, &t, st)) != KN_OK)
            goto done;
        if (t)
            take.ids[take.n++] = s.rows[i].id;
    }
    if (take.n > 0) {
        const char *arr = ids_array(a, take.ids, take.n);
        const char *lp[] = {cx->tenant, arr, cx->actor};
        const char *dp[] = {cx->tenant, arr};
        const char *sp[] = {cx->tenant, arr, "3"};
        if ((rc = run(pg, &log_doors_opened_stmt, lp, NULL, st)) != KN_OK ||
            (rc = run(pg, &doors_release_stmt, dp, NULL, st)) != KN_OK ||
            (rc = run(pg, &packages_set_state_stmt, sp, NULL, st)) != KN_OK ||
            (rc = log_packages(pg, cx->tenant, arr, 8, cx->actor, "", st)) != KN_OK)
            goto done;
    }
    doors_of(a, &s, doors);
done:
    return finish_read(pg, rc, a, cx->tenant, all_ids(a, &s), s.n, out, st);
}

/* --- internal: orders and assignment ------------------------------------ */

static const kn_pg_stmt packages_set_order_stmt = {
    "loc_packages_set_order",
    KN_PG_CACHED_PLAN "UPDATE packages SET order_id = NULLIF($3, '')::uuid, order_identifier = $4,"
                      " update_time = now() WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
    4};
/* The token only grows: an attach carrying an older token than a package
 * already saw never lowers it. */
static const kn_pg_stmt packages_set_assignee_stmt = {
    "loc_packages_set_assignee",
    KN_PG_CACHED_PLAN "UPDATE packages SET assignee_user_id = NULLIF($3, '')::uuid,"
                      " assignee_token = GREATEST(assignee_token, $4::bigint), update_time = now()"
                      " WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
    4};

/* Applies assignee/token to ids and logs ASSIGNED or UNASSIGNED for those
 * whose assignee changes (changed ⊆ ids). */
static kn_code apply_assignee(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const id_list *ids,
                              const id_list *changed, const char *assignee, int64_t token,
                              kn_status *st)
{
    kn_code rc = KN_OK;
    if (ids->n == 0)
        return KN_OK;
    const char *p[] = {cx->tenant, ids_array(a, ids->ids, ids->n), assignee, i64s(a, token)};
    if ((rc = queue(pg, &packages_set_assignee_stmt, p, st)) != KN_OK || changed->n == 0)
        return rc;
    const char *detail =
        assignee[0] ? kn_arena_sprintf(a, "assigned to %s", assignee) : "unassigned";
    return log_packages(pg, cx->tenant, ids_array(a, changed->ids, changed->n), assignee[0] ? 3 : 4,
                        cx->actor, detail, st);
}

static kn_code attach_check(const pkg_lock *k, const char *order_id, const char *location_id,
                            int *add, kn_status *st)
{
    *add = 0;
    if (strcasecmp(k->order_id, order_id) == 0)
        return KN_OK; /* a retry: already attached */
    if (k->order_id[0])
        return kn_status_set(st, KN_FAILED_PRECONDITION, "package %s is in another order", k->id);
    if (strcasecmp(k->location_id, location_id) != 0)
        return kn_status_set(st, KN_FAILED_PRECONDITION,
                             "package %s is not at the order's location", k->id);
    if (k->state > 2)
        return kn_status_set(st, KN_FAILED_PRECONDITION, "package %s is %s", k->id,
                             state_name(k->state));
    *add = 1;
    return KN_OK;
}

kn_code loc_store_attach_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                  const Konnect__Location__V1__AttachPackagesRequest *req,
                                  loc_page *out, loc_ids *doors, kn_status *st)
{
    kn_code rc;
    pkg_set s;
    id_list add, assign, changed;
    doors->n = 0;
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    if ((rc = lock_packages(pg, a, cx->tenant, req->package_ids, req->n_package_ids, NULL, NULL, &s,
                            st)) != KN_OK)
        goto done;
    id_list_init(a, &add, s.n);
    id_list_init(a, &assign, s.n);
    id_list_init(a, &changed, s.n);
    for (size_t i = 0; i < s.n; i++) {
        const pkg_lock *k = &s.rows[i];
        int ad = 0;
        if ((rc = attach_check(k, req->order_id, req->location_id, &ad, st)) != KN_OK)
            goto done;
        if (!ad)
            continue;
        add.ids[add.n++] = k->id;
        /* The order's assignee wins unless the package saw a newer token. */
        if (req->fencing_token >= k->token) {
            assign.ids[assign.n++] = k->id;
            if (strcasecmp(k->assignee, req->assignee_user_id) != 0)
                changed.ids[changed.n++] = k->id;
        }
    }
    if (add.n > 0) {
        const char *arr = ids_array(a, add.ids, add.n);
        const char *p[] = {cx->tenant, arr, req->order_id, req->order_identifier};
        if ((rc = queue(pg, &packages_set_order_stmt, p, st)) != KN_OK ||
            (rc = log_packages(pg, cx->tenant, arr, 5, cx->actor, "", st)) != KN_OK ||
            (rc = apply_assignee(pg, a, cx, &assign, &changed, req->assignee_user_id,
                                 req->fencing_token, st)) != KN_OK)
            goto done;
    }
    doors_of(a, &s, doors);
done:
    return finish_read(pg, rc, a, cx->tenant, (const char *const *)req->package_ids,
                       req->n_package_ids, out, st);
}

kn_code loc_store_detach_packages(kn_pg *pg, kn_arena *a, const loc_ctx *cx, const char *order_id,
                                  char **ids, size_t n, const char *assignee, loc_page *out,
                                  loc_ids *doors, kn_status *st)
{
    kn_code rc;
    pkg_set s = {0};
    id_list del, changed;
    doors->n = 0;
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    if ((rc = lock_packages(pg, a, cx->tenant, ids, n, order_id, NULL, &s, st)) != KN_OK)
        goto done;
    id_list_init(a, &del, s.n);
    id_list_init(a, &changed, s.n);
    for (size_t i = 0; i < s.n; i++) {
        const pkg_lock *k = &s.rows[i];
        if (!k->order_id[0])
            continue; /* a retry: already detached */
        if (strcasecmp(k->order_id, order_id) != 0) {
            rc = kn_status_set(st, KN_FAILED_PRECONDITION, "package %s is in another order", k->id);
            goto done;
        }
        if (k->state == 3) {
            if (n == 0)
                continue; /* a whole-order detach leaves collected packages be */
            rc = kn_status_set(st, KN_FAILED_PRECONDITION, "package %s was collected", k->id);
            goto done;
        }
        del.ids[del.n++] = k->id;
        if (assignee && strcasecmp(k->assignee, assignee) != 0)
            changed.ids[changed.n++] = k->id;
    }
    /* The token stays (0 never raises it): the package keeps the newest one
     * it saw, and a retry of the change undone here is refused as stale. */
    if ((rc = apply_assignee(pg, a, cx, &changed, &changed, assignee ? assignee : "", 0, st)) !=
        KN_OK)
        goto done;
    if (del.n > 0) {
        const char *arr = ids_array(a, del.ids, del.n);
        const char *p[] = {cx->tenant, arr, "", ""};
        /* Logged first so that the rows still carry the order. */
        if ((rc = log_packages(pg, cx->tenant, arr, 6, cx->actor, "", st)) != KN_OK ||
            (rc = queue(pg, &packages_set_order_stmt, p, st)) != KN_OK)
            goto done;
    }
    doors_of(a, &s, doors);
done:
    return finish_read(pg, rc, a, cx->tenant, all_ids(a, &s), s.n, out, st);
}

kn_code loc_store_set_assignee(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                               const Konnect__Location__V1__SetPackageAssigneeRequest *req,
                               loc_page *out, loc_ids *doors, kn_status *st)
{
    kn_code rc;
    pkg_set s = {0};
    id_list apply, changed;
    const char *order_id = req->order_id;
    doors->n = 0;
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    if ((rc = lock_packages(pg, a, cx->tenant, req->package_ids, req->n_package_ids,
                            req->n_package_ids == 0 ? order_id : NULL, NULL, &s, st)) != KN_OK)
        goto done;
    id_list_init(a, &apply, s.n);
    id_list_init(a, &changed, s.n);
    for (size_t i = 0; i < s.n; i++) {
        const pkg_lock *k = &s.rows[i];
        if (order_id[0] && (strcasecmp(k->order_id, order_id) != 0 || k->state > 2))
            continue; /* left the order meanwhile, or done with */
        if (!order_id[0] && k->order_id[0]) {
            rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                               "package %s is in order %s: assign the order", k->id, k->order_id);
            goto done;
        }
        if (!order_id[0] && k->state > 2) {
            rc = kn_status_set(st, KN_FAILED_PRECONDITION, "package %s is %s", k->id,
                               state_name(k->state));
            goto done;
        }
        loc_fence f =
            loc_fence_decide(req->fencing_token, req->assignee_user_id, k->token, k->assignee);
        if (f == LOC_FENCE_STALE) {
            rc = kn_status_set(st, KN_ABORTED,
                               "fencing_token %lld is stale for package %s (last %lld)",
                               (long long)req->fencing_token, k->id, (long long)k->token);
            goto done;
        }
        if (f == LOC_FENCE_NOOP)
            continue;
        apply.ids[apply.n++] = k->id;
        if (strcasecmp(k->assignee, req->assignee_user_id) != 0)
            changed.ids[changed.n++] = k->id;
    }
    if ((rc = apply_assignee(pg, a, cx, &apply, &changed, req->assignee_user_id, req->fencing_token,
                             st)) != KN_OK)
        goto done;
    doors_of(a, &s, doors);
done:
    if (req->n_package_ids == 0)
        return finish_read(pg, rc, a, cx->tenant, all_ids(a, &s), s.n, out, st);
    return finish_read(pg, rc, a, cx->tenant, (const char *const *)req->package_ids,
                       req->n_package_ids, out, st);
}

/* --- activity ----------------------------------------------------------- */

/* SearchActivity's order (SPEC §5, location.proto): with a query, exact
 * matches first, then prefix matches, then partial ones (case-insensitive,
 * over barcode, tracking number, order identifier, door label and location
 * name), newest first (time DESC, id DESC) within each tier. A row belongs
 * to the best tier any of its fields reaches. The store first looks the
 * query up among the distinct values of those fields (activity_terms_stmt,
 * one statement for every tier), then reads each tier's rows through its
 * values (activity_rows_stmt), tier after tier until the page plus one row
 * is full, so a page is always full when that many rows match and a tier
 * no page reaches is never read. A tier whose values are too many to read
 * one by one is read by a statement over the rows instead
 * (activity_prefix_stmt, activity_walk_stmt): same rows, same order. The
 * page key id is "<tier>:<uuid>": the next page resumes inside that tier
 * after that row and then goes on to the next tiers.
 *
 * Parameters of every row statement: $1 tenant, $2 location, $3 package,
 * $4 kind, $5 from_us, $6 to_us, $7 key time_us and $8 key id (NULL
 * outside the token's tier), $9 rows wanted; then each statement's own.
 * Patterns escape LIKE metacharacters (loc_like_pattern), so '%' and '_'
 * are text. */
#define ACT_FILTERS                                                                                \
    " AND ($2 = '' OR a.location_id = NULLIF($2, '')::uuid)"                                       \
    " AND ($3 = '' OR a.package_id = NULLIF($3, '')::uuid)"                                        \
    " AND ($4::int = 0 OR a.kind = $4::int)"                                                       \
    " AND ($5::bigint IS NULL OR a.time >= kn_ts($5::bigint))"                                     \
    " AND ($6::bigint IS NULL OR a.time <= kn_ts($6::bigint))"                                     \
    " AND ($7::bigint IS NULL OR (a.time, a.id) < (kn_ts($7::bigint), $8::uuid))"
#define ACT_ORDER " ORDER BY a.time DESC, a.id DESC LIMIT $9"
/* A field matches exactly / by prefix. */
#define ACT_EQ(f, q)   "lower(a." f ") = lower(" q ")"
#define ACT_LIKE(f, p) "lower(a." f ") LIKE lower(" p ")"
#define ACT_ANY(M, x)                                                                              \
    "(" M("barcode", x) " OR " M("tracking_number", x) " OR " M("order_identifier", x) " OR " M(   \
        "door_label", x) " OR " M("location_name", x) ")"
/* One arm per field, each a newest-first read of that field's index
 * (migration 0002), merged by time. A row that matches on two fields is
 * kept by the first arm only (`excl` names the fields before). */
#define ACT_ARM(match, excl)                                                                       \
    "(SELECT a.* FROM activity a WHERE a.tenant_id = $1 AND " match excl ACT_FILTERS ACT_ORDER ")"
/* The five arms of a tier: ARM(field, exclusion), the exclusion M(f, x)
 * over the fields before. */
#define ACT_NOT(M, f, x)     " AND NOT " M(f, x)
#define ACT_NOT1(M, x)       ACT_NOT(M, "barcode", x)
#define ACT_NOT2(M, x)       ACT_NOT1(M, x) ACT_NOT(M, "tracking_number", x)
#define ACT_NOT3(M, x)       ACT_NOT2(M, x) ACT_NOT(M, "order_identifier", x)
#define ACT_NOT4(M, x)       ACT_NOT3(M, x) ACT_NOT(M, "door_label", x)
#define ACT_ARMS2(ARM, M, x) ARM("barcode", "") " UNION ALL " ARM("tracking_number", ACT_NOT1(M, x))
#define ACT_ARMS4(ARM, M, x)                                                                       \
    ACT_ARMS2(ARM, M, x)                                                                           \
    " UNION ALL " ARM("order_identifier", ACT_NOT2(M, x)) " UNION ALL " ARM("door_label",          \
                                                                            ACT_NOT3(M, x))
#define ACT_TIER(ARM, M, x)                                                                        \
    "SELECT " COLS_ACT " FROM (" ACT_ARMS4(ARM, M, x) " UNION ALL " ARM(                           \
        "location_name", ACT_NOT4(M, x)) ") a" ACT_ORDER

/* Prefix tier over the rows, when its values are too many: a prefix match
 * on the arm's field and no exact match on any field (those rows are in the
 * exact tier). One arm per field, a range of its index; the planner reads
 * a rare prefix's range and sorts it, or walks a common one newest first.
 * $10 the query, $11 the prefix pattern ("q%"). */
#define ACT_PREFIX_ARM(f, excl)                                                                    \
    ACT_ARM(ACT_LIKE(f, "$11"),                                                                    \
            " AND NOT " ACT_ANY(ACT_EQ, "$10") excl) /* NOLINT: string pasting */
static const kn_pg_stmt activity_prefix_stmt = {"loc_activity_prefix",
                                                ACT_TIER(ACT_PREFIX_ARM, ACT_LIKE, "$11"), 11};

/* Partial tier when the values cannot be used (the query is shorter than
 * a 4-gram, or found in more than ACT_TERMS_MAX values): the tenant's rows
 * newest first (activity_time_idx), each field tested with LIKE; a
 * fragment that common is in the newest rows. $10 the prefix pattern, $11
 * the contains pattern ("%q%"). */
static const kn_pg_stmt activity_walk_stmt = {
    "loc_activity_walk",
    "SELECT " COLS_ACT " FROM activity a WHERE a.tenant_id = $1 AND " ACT_ANY(
        ACT_LIKE, "$11") " AND NOT " ACT_ANY(ACT_LIKE, "$10") ACT_FILTERS ACT_ORDER,
    11};

/* The values (activity_terms, migration 0004) each tier reaches, so that
 * a tier reads only the rows of its values: tier 0 the values equal to the
 * query, tier 1 those starting with it (and not equal), tier 2 those that
 * hold it further in, found by the 4-grams of its last ACT_WINDOW
 * characters ($4; NULL when it has fewer than four) and checked whole
 * (strpos). The query's 4-grams are computed inline, not by
 * activity_grams(): a SQL function that is not inlined is parsed and
 * planned again at every call. Tiers before $5 are not wanted; tiers 1
 * and 2 stop at $6 rows, one more than ACT_TERMS_MAX, to tell when to walk
 * instead. $2 the query, $3 the prefix pattern. */
static const kn_pg_stmt activity_terms_stmt = {
    "loc_activity_terms",
    "SELECT 0, t.term, t.field FROM activity_terms t"
    " WHERE $5::int <= 0 AND t.tenant_id = $1 AND t.term = lower($2)"
    " UNION ALL (SELECT 1, t.term, t.field FROM activity_terms t"
    " WHERE $5::int <= 1 AND t.tenant_id = $1 AND t.term LIKE lower($3) AND t.term <> lower($2)"
    " LIMIT $6)"
    " UNION ALL (SELECT 2, t.term, t.field FROM activity_terms t"
    " WHERE $5::int <= 2 AND $4::text IS NOT NULL AND t.tenant_id = $1"
    " AND activity_grams(t.term) @> ARRAY(SELECT substr(lower($4), i, 4)"
    " FROM generate_series(1, length($4) - 3) AS i) AND strpos(t.term, lower($2)) > 1"
    " LIMIT $6)",
    6};
#define ACT_TERMS_MAX 64
#define ACT_WINDOW    8

/* The rows of a tier's values: per value, the newest rows of its field's
 * index (migration 0002) after the page key, LIMITed; merged newest first.
 * The arm of another field is skipped by its one-time filter on t.field. A
 * row in the tier's values may reach a better tier through another field:
 * tier 1 ($12) leaves out rows with a field equal to the query ($13), tier
 * 2 rows with a field starting with it ($14). A row reached through two of
 * its fields is kept once (DISTINCT ON the order key). $10 the values,
 * $11 their fields. */
#define ACT_TERM_ARM(n, f)                                                                         \
    "(SELECT a.* FROM activity a WHERE t.field = " #n " AND a.tenant_id = $1"                      \
    " AND lower(a." f ") = t.term AND ($12::int < 1 OR NOT " ACT_ANY(                              \
        ACT_EQ, "$13") ") AND ($12::int < 2 OR NOT " ACT_ANY(ACT_LIKE,                             \
                                                             "$14") ")" ACT_FILTERS ACT_ORDER ")"
/* One arm per line. */
/* clang-format off */
#define ACT_TERM_ARMS                                                                              \
    ACT_TERM_ARM(1, "barcode")                                                                     \
    " UNION ALL " ACT_TERM_ARM(2, "tracking_number")                                               \
    " UNION ALL " ACT_TERM_ARM(3, "order_identifier")                                              \
    " UNION ALL " ACT_TERM_ARM(4, "door_label")                                                    \
    " UNION ALL " ACT_TERM_ARM(5, "location_name")
/* clang-format on */
static const kn_pg_stmt activity_rows_stmt = {
    "loc_activity_rows",
    "SELECT DISTINCT ON (a.time, a.id) " COLS_ACT
    " FROM unnest($10::text[], $11::int[]) AS t(term, field), LATERAL (" ACT_TERM_ARMS ") a"
    " ORDER BY a.time DESC, a.id DESC LIMIT $9",
    14};

/* No query: one tier, newest first (activity_time_idx, or the location /
 * package index with those filters). */
static const kn_pg_stmt activity_list_stmt = {
    "loc_activity_list",
    "SELECT " COLS_ACT " FROM activity a WHERE a.tenant_id = $1" ACT_FILTERS ACT_ORDER, 9};

/* Plans are made for the values, without JIT or parallel workers: the
 * database's settings (migration 0003). */
#define ACT_TIERS 3

/* The last ACT_WINDOW characters (UTF-8 code points) of q, or NULL when q
 * has fewer than four: no 4-gram to look up. */
static const char *act_window(const char *q)
{
    const char *p = q + strlen(q);
    int n = 0;
    while (p > q && n < ACT_WINDOW) {
        p--;
        if (((unsigned char)*p & 0xC0) != 0x80)
            n++;
    }
    return n >= 4 ? p : NULL;
}

/* One tier's values from activity_terms_stmt, as the array literals of
 * activity_rows_stmt. */
typedef struct {
    int n;
    const char *terms, *fields;
} act_values;

static kn_code act_values_read(kn_pg *pg, kn_arena *a, const char *tenant,
                               const loc_activity_filter *f, const char *prefix, int tier,
                               act_values *out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {
        tenant, f->query, prefix, act_window(f->query), i64s(a, tier), i64s(a, ACT_TERMS_MAX + 1)};
    PGresult *r = exec(pg, &activity_terms_stmt, p, &rc, st);
    if (!r)
        return rc;
    int rows = PQntuples(r);
    const char **terms = kn_arena_alloc(a, sizeof(char *) * (size_t)(rows + 1));
    const char **fields = kn_arena_alloc(a, sizeof(char *) * (size_t)(rows + 1));
    for (int t = 0; t < ACT_TIERS && rc == KN_OK; t++) {
        int n = 0;
        size_t tlen = 3, flen = 3;
        for (int i = 0; i < rows; i++) {
            if (PQgetvalue(r, i, 0)[0] - '0' != t)
                continue;
            terms[n] = PQgetvalue(r, i, 1);
            fields[n++] = PQgetvalue(r, i, 2);
            tlen += (size_t)PQgetlength(r, i, 1) * 2 + 3;
            flen += (size_t)PQgetlength(r, i, 2) + 3;
        }
        out[t].n = n;
        if (n == 0 || n > ACT_TERMS_MAX)
            continue;
        char *tv = kn_arena_alloc(a, tlen), *fv = kn_arena_alloc(a, flen);
        if (loc_text_array(terms, (size_t)n, tv, tlen) < 0 ||
            loc_text_array(fields, (size_t)n, fv, flen) < 0)
            rc = kn_status_set(st, KN_INTERNAL, "SearchActivity: value list too long");
        out[t].terms = tv;
        out[t].fields = fv;
    }
    PQclear(r);
    return rc;
}

kn_code loc_store_search_activity(kn_pg *pg, kn_arena *a, const char *tenant,
                                  const loc_activity_filter *f, const kn_page_key *after, int limit,
                                  loc_page *page, kn_status *st)
{
    kn_code rc = KN_OK;
    size_t len = strlen(f->query) * 2 + 3;
    char *prefix = kn_arena_alloc(a, len), *contains = kn_arena_alloc(a, len);
    loc_like_pattern(f->query, 0, prefix, len);
    loc_like_pattern(f->query, 1, contains, len);
    int tiers = f->query[0] ? ACT_TIERS : 1, tier = 0;
    const char *key_us = NULL, *key_id = NULL;
    if (after) {
        /* The key id is "<tier>:<uuid>". */
        if (after->id[0] < '0' || after->id[0] >= '0' + tiers || after->id[1] != ':' ||
            !kn_is_uuid(after->id + 2))
            return kn_status_set(st, KN_INVALID_ARGUMENT, "page_token: malformed");
        tier = after->id[0] - '0';
        key_us = i64s(a, after->time_us);
        key_id = after->id + 2;
    }
    act_values vals[ACT_TIERS] = {{0}};
    if (f->query[0] && (rc = act_values_read(pg, a, tenant, f, prefix, tier, vals, st)) != KN_OK)
        return rc;
    /* One row past the page tells whether another page exists. */
    int want = limit + 1, n = 0;
    void **items = kn_arena_alloc(a, sizeof(void *) * (size_t)want);
    const char *kind = i64s(a, f->kind);
    /* One statement per tier, no transaction: each reads its own snapshot,
     * and a row inserted meanwhile above the page's key is missed as by any
     * keyset page. */
    for (; tier < tiers && n < want; tier++, key_us = key_id = NULL) {
        const kn_pg_stmt *s;
        const char *x[5] = {0};
        if (!f->query[0]) {
            s = &activity_list_stmt;
        } else if (vals[tier].n == 0 && (tier < 2 || act_window(f->query))) {
            continue; /* no value reaches this tier: no row does */
        } else if (vals[tier].n > 0 && vals[tier].n <= ACT_TERMS_MAX) {
            s = &activity_rows_stmt;
            x[0] = vals[tier].terms;
            x[1] = vals[tier].fields;
            x[2] = i64s(a, tier);
            x[3] = f->query;
            x[4] = prefix;
        } else if (tier == 1) {
            s = &activity_prefix_stmt;
            x[0] = f->query;
            x[1] = prefix;
        } else {
            s = &activity_walk_stmt;
            x[0] = prefix;
            x[1] = contains;
        }
        const char *p[] = {
            tenant, f->location_id,    f->package_id, kind, f->from_us, f->to_us, key_us,
            key_id, i64s(a, want - n), x[0],          x[1], x[2],       x[3],     x[4]};
        PGresult *r = exec(pg, s, p, &rc, st);
        if (!r)
            return rc;
        int got = PQntuples(r);
        for (int i = 0; i < got && n < want; i++, n++) {
            items[n] = row_activity(a, r, i);
            if (n == limit - 1) {
                /* The page's last row: the next page resumes after it. */
                page->next.time_us = col_i64(r, i, 1);
                snprintf(page->next.id, sizeof page->next.id, "%d:%s", tier, PQgetvalue(r, i, 0));
            }
        }
        PQclear(r);
    }
    page->has_more = n > limit;
    page->n = (size_t)(page->has_more ? limit : n);
    page->items = items;
    return KN_OK;
}

/* --- stock -------------------------------------------------------------- */

static const kn_pg_stmt stock_list_stmt = {
    "loc_stock_list",
    "SELECT " COLS_STOCK " FROM stock_items s WHERE s.tenant_id = $1 AND s.location_id = $2"
    " AND ($3::text IS NULL OR s.sku > $3) ORDER BY s.sku LIMIT $4",
    4};

static void *row_stock_v(kn_arena *a, const PGresult *r, int i)
{
    return row_stock(a, r, i);
}

kn_code loc_store_list_stock(kn_pg *pg, kn_arena *a, const char *tenant, const char *location_id,
                             const kn_page_key *after, int limit, loc_page *page, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, location_id, after ? after->id : NULL, i64s(a, limit + 1)};
    PGresult *r = exec(pg, &stock_list_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_stock_v, limit, page);
    if (page->has_more)
        snprintf(page->next.id, sizeof page->next.id, "%s", PQgetvalue(r, limit - 1, 2));
    PQclear(r);
    return KN_OK;
}

/* An upsert whose update applies only while on hand stays >= reserved; a
 * new item with a negative delta fails stock_items_reserved_range. The
 * movement row is the stock's history, written in the same statement. */
static const kn_pg_stmt stock_adjust_stmt = {
    "loc_stock_adjust",
    "WITH s AS (INSERT INTO stock_items (tenant_id, location_id, sku, description,"
    " quantity_on_hand)"
    " SELECT l.tenant_id, l.id, $3, $4, $5::int FROM locations l"
    " WHERE l.tenant_id = $1 AND l.id = $2"
    " ON CONFLICT (tenant_id, location_id, sku) DO UPDATE SET"
    " quantity_on_hand = stock_items.quantity_on_hand + EXCLUDED.quantity_on_hand,"
    " description = CASE WHEN EXCLUDED.description <> '' THEN EXCLUDED.description"
    " ELSE stock_items.description END, update_time = now()"
    " WHERE stock_items.quantity_on_hand + EXCLUDED.quantity_on_hand"
    " >= stock_items.quantity_reserved RETURNING *),"
    " m AS (INSERT INTO stock_movements (tenant_id, stock_item_id, delta, reason, actor_user_id)"
    " SELECT s.tenant_id, s.id, $5::int, $6, $7::uuid FROM s)"
    " SELECT " COLS_STOCK " FROM s",
    7};

kn_code loc_store_adjust_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                               const Konnect__Location__V1__AdjustStockRequest *req,
                               loc_stock_item **out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {cx->tenant,          req->location_id, req->sku, req->description,
                       i64s(a, req->delta), req->reason,      cx->actor};
    PGresult *r = exec(pg, &stock_adjust_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "delta: quantity on hand would go below the reserved quantity");
    else
        *out = row_stock(a, r, 0);
    PQclear(r);
    return rc;
}

/* No oversell: the row lock serialises concurrent reservations and the
 * condition is re-checked on the latest row version. */
static const kn_pg_stmt stock_reserve_stmt = {
    "loc_stock_reserve",
    "WITH s AS (UPDATE stock_items SET quantity_reserved = quantity_reserved + $4::int,"
    " update_time = now()"
    " WHERE tenant_id = $1 AND location_id = $2 AND sku = $3"
    " AND quantity_on_hand - quantity_reserved >= $4::int RETURNING *),"
    " r AS (INSERT INTO stock_reservations (tenant_id, order_id, stock_item_id, quantity)"
    " SELECT s.tenant_id, $5::uuid, s.id, $4::int FROM s)"
    " SELECT " COLS_STOCK " FROM s",
    5};
static const kn_pg_stmt stock_available_stmt = {
    "loc_stock_available",
    "SELECT quantity_on_hand - quantity_reserved FROM stock_items"
    " WHERE tenant_id = $1 AND location_id = $2 AND sku = $3",
    3};
static const kn_pg_stmt stock_reserved_stmt = {
    "loc_stock_reserved",
    "SELECT " COLS_STOCK " FROM stock_reservations r JOIN stock_items s ON s.id = r.stock_item_id"
    " WHERE r.tenant_id = $1 AND r.order_id = $2 AND s.location_id = $3 ORDER BY s.sku",
    3};

static kn_code stock_shortage(kn_pg *pg, const char *tenant, const char *location_id,
                              const Konnect__Location__V1__StockLine *l, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, location_id, l->sku};
    PGresult *r = exec(pg, &stock_available_stmt, p, &rc, st);
    if (!r)
        return rc;
    if (PQntuples(r) == 0)
        rc =
            kn_status_set(st, KN_NOT_FOUND, "lines: sku %s is not stocked at the location", l->sku);
    else
        rc = kn_status_set(st, KN_FAILED_PRECONDITION,
                           "lines: insufficient stock of sku %s (%s available, %d wanted)", l->sku,
                           PQgetvalue(r, 0, 0), (int)l->quantity);
    PQclear(r);
    return rc;
}

static kn_code stock_of_order(kn_pg *pg, kn_arena *a, const char *tenant, const char *order_id,
                              const char *location_id, loc_page *out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {tenant, order_id, location_id};
    PGresult *r = exec(pg, &stock_reserved_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_stock_v, PQntuples(r), out);
    PQclear(r);
    return KN_OK;
}

static int line_cmp(const void *x, const void *y)
{
    const Konnect__Location__V1__StockLine *const *a = x, *const *b = y;
    return strcmp((*a)->sku, (*b)->sku);
}

kn_code loc_store_reserve_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ReserveStockRequest *req,
                                loc_page *out, kn_status *st)
{
    kn_code rc;
    PGresult *r = NULL;
    /* A retry of the same order reserves nothing twice. */
    if ((rc = stock_of_order(pg, a, cx->tenant, req->order_id, req->location_id, out, st)) !=
            KN_OK ||
        out->n > 0)
        return rc;
    /* Rows locked in sku order: concurrent multi-line reservations queue. */
    Konnect__Location__V1__StockLine **lines = kn_arena_alloc(
        a, sizeof(Konnect__Location__V1__StockLine *) * (req->n_lines > 0 ? req->n_lines : 1));
    memcpy(lines, req->lines, sizeof(Konnect__Location__V1__StockLine *) * req->n_lines);
    qsort(lines, req->n_lines, sizeof(Konnect__Location__V1__StockLine *), line_cmp);
    if ((rc = kn_pg_begin(pg, st)) != KN_OK)
        return rc;
    for (size_t i = 0; i < req->n_lines; i++) {
        const char *p[] = {cx->tenant, req->location_id, lines[i]->sku, i64s(a, lines[i]->quantity),
                           req->order_id};
        if (!(r = exec(pg, &stock_reserve_stmt, p, &rc, st)))
            goto done;
        int got = PQntuples(r);
        PQclear(r);
        r = NULL;
        if (got == 0) {
            rc = stock_shortage(pg, cx->tenant, req->location_id, lines[i], st);
            goto done;
        }
    }
done:
    rc = finish(pg, rc, st);
    /* ALREADY_EXISTS: a concurrent retry for the same order reserved first. */
    if (rc != KN_OK && rc != KN_ALREADY_EXISTS)
        return rc;
    return stock_of_order(pg, a, cx->tenant, req->order_id, req->location_id, out, st);
}

static const kn_pg_stmt stock_release_stmt = {
    "loc_stock_release",
    "WITH r AS (UPDATE stock_reservations SET released = true"
    " WHERE tenant_id = $1 AND order_id = $2 AND NOT released AND stock_item_id IN"
    " (SELECT id FROM stock_items WHERE tenant_id = $1 AND location_id = $3)"
    " RETURNING stock_item_id, quantity),"
    " s AS (UPDATE stock_items si SET quantity_reserved = si.quantity_reserved - r.quantity,"
    " quantity_on_hand = si.quantity_on_hand - CASE WHEN $4::boolean THEN r.quantity ELSE 0 END,"
    " update_time = now() FROM r WHERE si.id = r.stock_item_id RETURNING si.*)"
    " SELECT " COLS_STOCK " FROM s ORDER BY s.sku",
    4};

kn_code loc_store_release_stock(kn_pg *pg, kn_arena *a, const loc_ctx *cx,
                                const Konnect__Location__V1__ReleaseStockRequest *req,
                                loc_page *out, kn_status *st)
{
    kn_code rc = KN_OK;
    const char *p[] = {cx->tenant, req->order_id, req->location_id,
                       req->collected ? "true" : "false"};
    PGresult *r = exec(pg, &stock_release_stmt, p, &rc, st);
    if (!r)
        return rc;
    fill_page(a, r, row_stock_v, PQntuples(r), out);
    PQclear(r);
    return KN_OK;
}
