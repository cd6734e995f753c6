/* Pure helpers of assign-svc: the ILIKE pattern escaping of ListUsers, the
 * email and tenant code checks, the failed-login account key, and the
 * uuid[] text form the ledger stores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The file under test has no I/O; compiling it in keeps assign-svc a
 * plain executable. */
#include "../../assign-svc/assign_util.c"

static void test_like_pattern(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(1024);
    assert_string_equal(assign_like_pattern(a, "anna"), "%anna%");
    assert_string_equal(assign_like_pattern(a, ""), "%%");
    assert_string_equal(assign_like_pattern(a, "100%"), "%100\\%%");
    assert_string_equal(assign_like_pattern(a, "a_b"), "%a\\_b%");
    assert_string_equal(assign_like_pattern(a, "c:\\x"), "%c:\\\\x%");
    assert_string_equal(assign_like_pattern(a, "%_\\"), "%\\%\\_\\\\%");
    kn_arena_free(a);
}

static void test_email(void **state)
{
    (void)state;
    kn_status st;
    const char *good[] = {"a@b.se", "first.last+tag@sub.example.com", "Tekla@Acme.example"};
    const char *bad[] = {"",     "ab",       "no-at.example", "@b.se",    "a@",      "a@b",
                         "a@b.", "a b@c.se", "a@@b.se",       "a@b@c.se", "a@b.se\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_int_equal(assign_check_email("email", good[i], &st), KN_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        kn_status_clear(&st);
        assert_int_equal(assign_check_email("email", bad[i], &st), KN_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, "email"));
    }
}

static void test_tenant_code(void **state)
{
    (void)state;
    kn_status st;
    assert_int_equal(assign_check_tenant_code("code", "acme", &st), KN_OK);
    assert_int_equal(assign_check_tenant_code("code", "acme-2", &st), KN_OK);
    assert_int_equal(assign_check_tenant_code("code", "a", &st), KN_INVALID_ARGUMENT);
    assert_int_equal(assign_check_tenant_code("code", "Acme", &st), KN_INVALID_ARGUMENT);
    assert_int_equal(assign_check_tenant_code("code", "ac me", &st), KN_INVALID_ARGUMENT);
    assert_int_equal(assign_check_tenant_code("code", "abcdefghijabcdefghijabcdefghijabc", &st),
                     KN_INVALID_ARGUMENT);
}

static void test_account_key(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(1024);
    assert_string_equal(assign_account_key(a, "ACME", "Boss@Acme.Example"),
                        "acme\nboss@acme.example");
    /* Authenticate refuses control characters in both parts (kn_check_text),
     * so the newline separator cannot be forged. */
    kn_status st;
    assert_int_equal(kn_check_text("email", "b\nc", 1, 254, &st), KN_INVALID_ARGUMENT);
    kn_arena_free(a);
}

static void test_uuid_array(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(1024);
    char *ids[] = {"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"};
    const char *s = assign_uuid_array(a, ids, 2);
    assert_string_equal(s, "{11111111-1111-1111-1111-111111111111,"
                           "22222222-2222-2222-2222-222222222222}");
    assert_string_equal(assign_uuid_array(a, ids, 0), "{}");
    char **back = NULL;
    assert_int_equal(assign_parse_uuid_array(a, s, &back), 2);
    assert_string_equal(back[0], ids[0]);
    assert_string_equal(back[1], ids[1]);
    assert_int_equal(assign_parse_uuid_array(a, "{}", &back), 0);
    assert_int_equal(assign_parse_uuid_array(a, "", &back), 0);
    assert_int_equal(assign_parse_uuid_array(a, "{x}", &back), 1);
    assert_string_equal(back[0], "x");
    kn_arena_free(a);
}

static void test_uuid_v4(void **state)
{
    (void)state;
    char u1[KN_UUID_STR_LEN + 1], u2[KN_UUID_STR_LEN + 1];
    assign_uuid_v4(u1);
    assign_uuid_v4(u2);
    assert_true(kn_is_uuid(u1));
    assert_string_not_equal(u1, u2);
    assert_int_equal(u1[14], '4');
    assert_non_null(strchr("89ab", u1[19]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_pattern), cmocka_unit_test(test_email),
        cmocka_unit_test(test_tenant_code),  cmocka_unit_test(test_account_key),
        cmocka_unit_test(test_uuid_array),   cmocka_unit_test(test_uuid_v4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
