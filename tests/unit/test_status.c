/* kn_status: code names and message formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kn_status.h"

static void test_names(void **state)
{
    assert_string_equal(kn_code_name(KN_OK), "OK");
    assert_string_equal(kn_code_name(KN_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(kn_code_name(KN_FAILED_PRECONDITION), "FAILED_PRECONDITION");
    assert_string_equal(kn_code_name(KN_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(kn_code_name((kn_code)17), "UNKNOWN");
    assert_string_equal(kn_code_name((kn_code)-1), "UNKNOWN");
}

static void test_set_and_clear(void **state)
{
    kn_status st;
    assert_int_equal(kn_status_set(&st, KN_NOT_FOUND, "order %s not found", "x1"), KN_NOT_FOUND);
    assert_int_equal(st.code, KN_NOT_FOUND);
    assert_string_equal(st.message, "order x1 not found");
    kn_status_clear(&st);
    assert_int_equal(st.code, KN_OK);
    assert_string_equal(st.message, "");
    assert_int_equal(kn_status_set(NULL, KN_ABORTED, "ignored"), KN_ABORTED);
}

static void test_truncation(void **state)
{
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    kn_status st;
    kn_status_set(&st, KN_INVALID_ARGUMENT, "%s", big);
    assert_int_equal(strlen(st.message), KN_STATUS_MSG_MAX - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_set_and_clear),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
