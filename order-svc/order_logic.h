/* order_logic: the pure decisions of order-svc (no I/O), kept apart so that
 * unit tests can check them without a database: which list query serves a
 * filter, the index ranges it binds, the idempotency hash of a create, the
 * order id derived from a request id, and etags. */
#ifndef ORDER_LOGIC_H
#define ORDER_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "kn_jwt.h"
#include "kn_status.h"

#define ORDER_NIL_UUID        "00000000-0000-0000-0000-000000000000"
#define ORDER_MAX_UUID        "ffffffff-ffff-ffff-ffff-ffffffffffff"
#define ORDER_IDENTIFIER_MAX  64
#define ORDER_SKU_MAX         64
#define ORDER_MAX_PACKAGES    200
#define ORDER_MAX_STOCK_LINES 200
#define ORDER_PAGE_DEFAULT    50
#define ORDER_PAGE_MAX        500

/* The proto enum values, as plain ints (the database stores them). */
#define ORDER_TYPE_JOB      1
#define ORDER_TYPE_STOCK    2
#define ORDER_ST_ACTIVE     1
#define ORDER_ST_COLLECTED  2
#define ORDER_ST_CANCELLED  3
#define ORDER_AF_ANY        1
#define ORDER_AF_ASSIGNED   2
#define ORDER_AF_UNASSIGNED 3

/* Which statement serves a ListOrders request: the leading equality of the
 * index it scans (see migrations/0001_orders.sql). */
typedef enum {
    ORDER_LIST_EMPTY = 0, /* the filters exclude every row the caller may see */
    ORDER_LIST_ALL,       /* tenant only */
    ORDER_LIST_LOCATION,  /* tenant + location_id */
    ORDER_LIST_ASSIGNEE,  /* tenant + assignee_key (a user, or nil = unassigned) */
    ORDER_LIST_STATUS,    /* tenant + status */
    ORDER_LIST_TECH,      /* technician: own UNION ALL unassigned */
} order_list_shape;

/* The validated filters of a ListOrders request (0 / "" = not set). */
typedef struct {
    int status;                        /* 0 or 1..3 */
    int assignment;                    /* 0/1 any, 2 assigned, 3 unassigned */
    const char *assignee;              /* "" or a uuid */
    const char *location;              /* "" or a uuid */
    const char *start_date, *end_date; /* "" or YYYY-MM-DD */
    int type;                          /* 0 or 1..2 */
    kn_role role;
    const char *user_id; /* the caller */
} order_list_filter;

/* The plan: a shape, the lead value, and every filter as a closed range on
 * an index column (an unset filter is the full range), all as text
 * parameters. */
typedef struct {
    order_list_shape shape;
    char lead[40];
    /* ORDER_LIST_ASSIGNEE / ORDER_LIST_TECH with a location filter: the
     * location, a second leading equality (orders_list_assignee_location);
     * "" otherwise. */
    char lead_loc[40];
    char status_lo[12], status_hi[12];
    char type_lo[12], type_hi[12];
    char loc_lo[40], loc_hi[40];
    char akey_lo[40], akey_hi[40];
    char date_lo[16], date_hi[16];
    char time_lo[40], time_hi[40];
    /* The exclusive upper bound of create_time in µs (INT64_MAX: none).
     * The store folds it into the keyset cursor: two upper bounds on the
     * same index column (a row comparison and a plain one) make the btree
     * start at the looser one and walk every newer row. */
    int64_t time_hi_us;
} order_list_plan;

/* Validates nothing (the caller did); fills plan. */
void order_list_plan_make(const order_list_filter *f, order_list_plan *plan);

/* Validates the raw ListOrders fields; KN_INVALID_ARGUMENT naming the field. */
kn_code order_list_validate(int page_size, int status, int assignment, const char *assignee,
                            const char *location, const char *start_date, const char *end_date,
                            int type, int *page_size_out, kn_status *st);

/* Hash of the query for the page token: tenant, caller and every filter. */
uint64_t order_list_query_hash(const char *tenant, const order_list_filter *f);

/* "YYYY-MM-DD" + days → "YYYY-MM-DD HH:MM:SS+00" shifted by hours (may be
 * negative); out must hold 40 bytes. Returns 0, -1 on a bad date. */
int order_date_bound(const char *date, int add_days, int add_hours, char *out, size_t outlen);
/* The same bound in microseconds since the epoch (0 on a bad date). */
int64_t order_date_bound_us(const char *date, int add_days, int add_hours);

/* Microseconds since the epoch → "YYYY-MM-DD HH:MM:SS.uuuuuu+00". */
void order_format_time_us(int64_t us, char *out, size_t outlen);

/* One create's body as canonical text for the idempotency hash: every
 * field that shapes the order, in request order. hex must hold 65 bytes. */
void order_request_hash(int type, const char *identifier, const char *location,
                        const char *const *package_ids, size_t npkg, const char *const *skus,
                        const int *quantities, size_t nlines, char hex[65]);

/* The order id of a create with a request id: a UUID (version 8, RFC 9562
 * layout) from SHA-256(tenant "\n" request_id), so that a retry after a
 * crash reaches the same intent and the same attached packages. */
void order_id_from_request(const char *tenant, const char *request_id, char out[37]);
/* A random version-4 UUID. */
void order_id_random(char out[37]);

/* etag: the decimal version. Parses a client etag; -1 when malformed. */
int64_t order_etag_parse(const char *etag);

/* Checks a list of uuids: each a UUID, no duplicates, count within
 * [min, max]; KN_INVALID_ARGUMENT naming field (and the index). */
kn_code order_check_uuid_list(const char *field, char *const *ids, size_t n, size_t min, size_t max,
                              kn_status *st);

#endif
