/* kn_validate: UUIDs, text (UTF-8, control characters, length), calendar
 * dates and page sizes; every refusal names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kn_validate.h"

static void expect_invalid(kn_code rc, const kn_status *st, const char *field)
{
    if (rc != KN_INVALID_ARGUMENT || !strstr(st->message, field))
        fail_msg("want INVALID_ARGUMENT naming %s, got %d '%s'", field, rc, st->message);
}

static void test_uuid(void **state)
{
    kn_status st;
    assert_true(kn_is_uuid("123e4567-e89b-42d3-a456-426614174000"));
    assert_true(kn_is_uuid("123E4567-E89B-42D3-A456-426614174000"));
    assert_true(kn_is_uuid("00000000-0000-0000-0000-000000000000"));
    assert_false(kn_is_uuid(NULL));
    assert_false(kn_is_uuid(""));
    assert_false(kn_is_uuid("123e4567-e89b-42d3-a456-42661417400"));   /* short */
    assert_false(kn_is_uuid("123e4567-e89b-42d3-a456-4266141740000")); /* long */
    assert_false(kn_is_uuid("123e4567e89b42d3a456426614174000"));      /* no dashes */
    assert_false(kn_is_uuid("{123e4567-e89b-42d3-a456-426614174000}"));
    assert_false(kn_is_uuid("123e4567-e89b-42d3-a456-42661417400g"));
    assert_false(kn_is_uuid("123e4567_e89b-42d3-a456-426614174000"));
    assert_false(kn_is_uuid(" 123e4567-e89b-42d3-a456-42661417400"));

    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_check_uuid("order_id", "123e4567-e89b-42d3-a456-426614174000", &st), KN_OK);
    expect_invalid(kn_check_uuid("order_id", "nope", &st), &st, "order_id");
    assert_non_null(strstr(st.message, "UUID"));
    expect_invalid(kn_check_uuid("order_id", "", &st), &st, "order_id");
    assert_non_null(strstr(st.message, "required"));
    expect_invalid(kn_check_uuid("order_id", NULL, &st), &st, "order_id");
    assert_int_equal(kn_check_uuid_opt("assignee_user_id", "", &st), KN_OK);
    assert_int_equal(kn_check_uuid_opt("assignee_user_id", NULL, &st), KN_OK);
    expect_invalid(kn_check_uuid_opt("assignee_user_id", "x", &st), &st, "assignee_user_id");
}

static void test_base64url(void **state)
{
    (void)state;
    assert_true(kn_is_base64url("AZaz09-_", 8));
    assert_true(kn_is_base64url("", 0));
    assert_true(kn_is_base64url("ab=", 2)); /* only len bytes are looked at */
    assert_false(kn_is_base64url("ab=", 3));
    assert_false(kn_is_base64url("a+b", 3));
    assert_false(kn_is_base64url("a/b", 3));
    assert_false(kn_is_base64url("a\xdf"
                                 "b",
                                 3)); /* read as '_' by libsodium 1.0.18 */
}

static void test_text(void **state)
{
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_check_text("name", "Centralstationen", 1, 100, &st), KN_OK);
    assert_int_equal(kn_check_text("name", "Hämtad — Åre ✓ 😀", 1, 100, &st), KN_OK);
    assert_int_equal(kn_check_text("note", "", 0, 10, &st), KN_OK);
    assert_int_equal(kn_check_text("note", NULL, 0, 10, &st), KN_OK);
    expect_invalid(kn_check_text("name", "", 1, 10, &st), &st, "name");
    expect_invalid(kn_check_text("name", "ab", 3, 10, &st), &st, "name");
    expect_invalid(kn_check_text("name", "abcdefghijk", 1, 10, &st), &st, "name");
    assert_int_equal(kn_check_text("name", "abcdefghij", 1, 10, &st), KN_OK);
    /* max counts bytes: "åäö" is 6 bytes */
    expect_invalid(kn_check_text("name", "åäö", 1, 5, &st), &st, "name");

    /* control characters */
    expect_invalid(kn_check_text("name", "a\nb", 1, 10, &st), &st, "name");
    assert_non_null(strstr(st.message, "control"));
    expect_invalid(kn_check_text("name", "a\tb", 1, 10, &st), &st, "name");
    expect_invalid(kn_check_text("name", "a\x1b[31mb", 1, 20, &st), &st, "name");
    expect_invalid(kn_check_text("name", "a\x7f", 1, 10, &st), &st, "name");
    expect_invalid(kn_check_text("name", "a\xc2\x85", 1, 10, &st), &st, "name"); /* U+0085 */
    assert_int_equal(kn_check_multiline_text("detail", "line 1\nline 2\r\n\tend", 0, 100, &st),
                     KN_OK);
    expect_invalid(kn_check_multiline_text("detail", "bell\a", 0, 100, &st), &st, "detail");

    /* invalid UTF-8 */
    const char *bad[] = {
        "\xff",             /* never valid */
        "a\xc3",            /* truncated 2-byte */
        "\xc3\x28",         /* bad continuation */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong 3-byte */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf0\x9f\x98",     /* truncated 4-byte */
        "\x80",             /* lone continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&st, 0, sizeof(st));
        expect_invalid(kn_check_text("description", bad[i], 0, 100, &st), &st, "description");
        assert_non_null(strstr(st.message, "UTF-8"));
        /* the value is never echoed */
        assert_null(strstr(st.message, bad[i]));
    }
}

static void test_date(void **state)
{
    kn_status st;
    const char *good[] = {"2024-02-29", "2023-12-31", "2000-02-29", "0001-01-01", "9999-12-31"};
    const char *badd[] = {"2024-02-30", "2023-02-29", "1900-02-29",           "2024-13-01",
                          "2024-00-10", "2024-01-00", "2024-04-31",           "2024-1-01",
                          "24-01-01",   "2024/01/01", "2024-01-01T00:00:00Z", "",
                          "0000-01-01", "2024-01-0a", " 2024-01-01"};
    memset(&st, 0, sizeof(st));
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (kn_check_date("start_date", good[i], &st) != KN_OK)
            fail_msg("%s refused: %s", good[i], st.message);
    for (size_t i = 0; i < sizeof(badd) / sizeof(badd[0]); i++) {
        memset(&st, 0, sizeof(st));
        if (kn_check_date("start_date", badd[i], &st) != KN_INVALID_ARGUMENT ||
            !strstr(st.message, "start_date"))
            fail_msg("'%s' not refused with the field named: %s", badd[i], st.message);
    }
    expect_invalid(kn_check_date("end_date", NULL, &st), &st, "end_date");
}

static void test_page_size(void **state)
{
    kn_status st;
    int out = -1;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_page_size("page_size", 0, 50, 500, &out, &st), KN_OK);
    assert_int_equal(out, 50);
    assert_int_equal(kn_page_size("page_size", 10, 50, 500, &out, &st), KN_OK);
    assert_int_equal(out, 10);
    assert_int_equal(kn_page_size("page_size", 501, 50, 500, &out, &st), KN_OK);
    assert_int_equal(out, 500);
    assert_int_equal(kn_page_size("page_size", 500, 50, 500, &out, &st), KN_OK);
    assert_int_equal(out, 500);
    expect_invalid(kn_page_size("page_size", -1, 50, 500, &out, &st), &st, "page_size");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid), cmocka_unit_test(test_base64url), cmocka_unit_test(test_text),
        cmocka_unit_test(test_date), cmocka_unit_test(test_page_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
