/* order-svc's pure logic: list query choice and ranges, date bounds, ids,
 * idempotency hashes, etags, id lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../order-svc/order_logic.c"

#define ME    "11111111-1111-1111-1111-111111111111"
#define OTHER "22222222-2222-2222-2222-222222222222"
#define LOC   "33333333-3333-3333-3333-333333333333"

static order_list_filter hq(void)
{
    order_list_filter f = {.assignee = "",
                           .location = "",
                           .start_date = "",
                           .end_date = "",
                           .role = KN_ROLE_HQ,
                           .user_id = ME};
    return f;
}

static void test_shape_choice(void **state)
{
    (void)state;
    order_list_plan p;
    order_list_filter f = hq();
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ALL);
    assert_string_equal(p.status_lo, "1");
    assert_string_equal(p.status_hi, "3");
    assert_string_equal(p.akey_lo, ORDER_NIL_UUID);
    assert_string_equal(p.akey_hi, ORDER_MAX_UUID);

    f.status = 3;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_STATUS);
    assert_string_equal(p.lead, "3");

    f.location = LOC; /* location beats status */
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_LOCATION);
    assert_string_equal(p.lead, LOC);
    assert_string_equal(p.loc_lo, LOC);
    assert_string_equal(p.loc_hi, LOC);

    assert_string_equal(p.lead_loc, "");

    f.assignee = OTHER; /* a specific assignee beats location */
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ASSIGNEE);
    assert_string_equal(p.lead, OTHER);
    assert_string_equal(p.lead_loc, LOC); /* ... and leads with it */

    f = hq();
    f.assignment = ORDER_AF_UNASSIGNED;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ASSIGNEE);
    assert_string_equal(p.lead, ORDER_NIL_UUID);
    assert_string_equal(p.akey_hi, ORDER_NIL_UUID);

    f.assignment = ORDER_AF_ASSIGNED;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ALL);
    assert_string_equal(p.akey_lo, "00000000-0000-0000-0000-000000000001");

    f = hq();
    f.assignee = OTHER;
    f.assignment = ORDER_AF_UNASSIGNED; /* contradictory: nothing */
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_EMPTY);
}

static void test_technician_visibility(void **state)
{
    (void)state;
    order_list_plan p;
    order_list_filter f = hq();
    f.role = KN_ROLE_TECHNICIAN;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_TECH);
    assert_string_equal(p.lead, ME);
    assert_string_equal(p.lead_loc, "");
    f.location = LOC; /* own and unassigned, both at one location */
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_TECH);
    assert_string_equal(p.lead_loc, LOC);
    f.location = "";
    f.assignment = ORDER_AF_ASSIGNED;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ASSIGNEE);
    assert_string_equal(p.lead, ME);
    f.assignment = ORDER_AF_UNASSIGNED;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ASSIGNEE);
    assert_string_equal(p.lead, ORDER_NIL_UUID);
    f.assignment = 0;
    f.assignee = OTHER; /* someone else's orders: none visible */
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_EMPTY);
    f.assignee = ME;
    order_list_plan_make(&f, &p);
    assert_int_equal(p.shape, ORDER_LIST_ASSIGNEE);
}

static void test_dates(void **state)
{
    (void)state;
    order_list_plan p;
    order_list_filter f = hq();
    f.start_date = "2024-03-01";
    f.end_date = "2024-03-31";
    order_list_plan_make(&f, &p);
    assert_string_equal(p.date_lo, "2024-03-01");
    assert_string_equal(p.date_hi, "2024-03-31");
    assert_string_equal(p.time_lo, "2024-02-29 10:00:00.000000+00");
    assert_string_equal(p.time_hi, "2024-04-01 12:00:00.000000+00");
    char out[48];
    order_format_time_us(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31 23:59:59.999999+00");
}

static void test_validate(void **state)
{
    (void)state;
    kn_status st = {0};
    int ps = 0;
    assert_int_equal(order_list_validate(0, 0, 0, "", "", "", "", 0, &ps, &st), KN_OK);
    assert_int_equal(ps, 50);
    assert_int_equal(order_list_validate(9999, 0, 0, "", "", "", "", 0, &ps, &st), KN_OK);
    assert_int_equal(ps, 500);
    assert_int_equal(order_list_validate(-1, 0, 0, "", "", "", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "page_size"));
    assert_int_equal(order_list_validate(0, 4, 0, "", "", "", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "status"));
    assert_int_equal(order_list_validate(0, 0, 9, "", "", "", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "assignment"));
    assert_int_equal(order_list_validate(0, 0, 0, "", "", "", "", 7, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "type"));
    assert_int_equal(order_list_validate(0, 0, 0, "nope", "", "", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "assignee_user_id"));
    assert_int_equal(order_list_validate(0, 0, 0, "", "x", "", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "location_id"));
    assert_int_equal(order_list_validate(0, 0, 0, "", "", "2024-02-30", "", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "start_date"));
    assert_int_equal(order_list_validate(0, 0, 0, "", "", "2024-02-03", "2024-02-02", 0, &ps, &st),
                     KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "end_date"));
}

static void test_query_hash(void **state)
{
    (void)state;
    order_list_filter a = hq(), b = hq();
    assert_true(order_list_query_hash("t1", &a) == order_list_query_hash("t1", &b));
    assert_true(order_list_query_hash("t1", &a) != order_list_query_hash("t2", &b));
    b.status = 1;
    assert_true(order_list_query_hash("t1", &a) != order_list_query_hash("t1", &b));
    b = hq();
    b.user_id = OTHER;
    assert_true(order_list_query_hash("t1", &a) != order_list_query_hash("t1", &b));
    b = hq();
    b.assignment = ORDER_AF_ANY; /* UNSPECIFIED == ANY */
    assert_true(order_list_query_hash("t1", &a) == order_list_query_hash("t1", &b));
}

static void test_ids_and_hashes(void **state)
{
    (void)state;
    char a[37], b[37], c[37];
    order_id_from_request("t", "r1", a);
    order_id_from_request("t", "r1", b);
    order_id_from_request("t", "r2", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(kn_is_uuid(a));
    assert_int_equal(a[14], '8');
    order_id_random(c);
    assert_true(kn_is_uuid(c));
    assert_int_equal(c[14], '4');

    const char *p1[] = {LOC, ME};
    const char *p2[] = {ME, LOC};
    char h1[65], h2[65], h3[65];
    order_request_hash(1, "", LOC, p1, 2, NULL, NULL, 0, h1);
    order_request_hash(1, "", LOC, p1, 2, NULL, NULL, 0, h2);
    order_request_hash(1, "", LOC, p2, 2, NULL, NULL, 0, h3);
    assert_string_equal(h1, h2);
    assert_string_not_equal(h1, h3);
    order_request_hash(1, "X", LOC, p1, 2, NULL, NULL, 0, h3);
    assert_string_not_equal(h1, h3);
}

static void test_etag_and_lists(void **state)
{
    (void)state;
    assert_int_equal(order_etag_parse("12"), 12);
    assert_int_equal(order_etag_parse(""), -1);
    assert_int_equal(order_etag_parse("0"), -1);
    assert_int_equal(order_etag_parse("1a"), -1);
    assert_int_equal(order_etag_parse("\"3\""), -1);
    kn_status st = {0};
    char *ok[] = {ME, OTHER};
    char *dup[] = {ME, "11111111-1111-1111-1111-111111111111"};
    char *bad[] = {ME, "zz"};
    assert_int_equal(order_check_uuid_list("package_ids", ok, 2, 1, 10, &st), KN_OK);
    assert_int_equal(order_check_uuid_list("package_ids", ok, 0, 1, 10, &st), KN_INVALID_ARGUMENT);
    assert_int_equal(order_check_uuid_list("package_ids", dup, 2, 1, 10, &st), KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "package_ids[1]"));
    assert_int_equal(order_check_uuid_list("package_ids", bad, 2, 1, 10, &st), KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "package_ids[1]"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_choice),   cmocka_unit_test(test_technician_visibility),
        cmocka_unit_test(test_dates),          cmocka_unit_test(test_validate),
        cmocka_unit_test(test_query_hash),     cmocka_unit_test(test_ids_and_hashes),
        cmocka_unit_test(test_etag_and_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
