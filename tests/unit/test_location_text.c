/* Unit tests of location-svc's pure helpers (location-svc/loc_text.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../location-svc/loc_text.c"

static void test_like_pattern(void **state)
{
    char out[64];
    (void)state;
    assert_int_equal(loc_like_pattern("abc", 0, out, sizeof out), 4);
    assert_string_equal(out, "abc%");
    loc_like_pattern("abc", 1, out, sizeof out);
    assert_string_equal(out, "%abc%");
    loc_like_pattern("50%_a\\b", 1, out, sizeof out);
    assert_string_equal(out, "%50\\%\\_a\\\\b%");
    loc_like_pattern("", 1, out, sizeof out);
    assert_string_equal(out, "%%");
    loc_like_pattern("", 0, out, sizeof out);
    assert_string_equal(out, "%");
    /* Worst case: every character escaped, plus two wildcards and NUL. */
    assert_int_equal(loc_like_pattern("%%%", 1, out, 9), 8);
    assert_string_equal(out, "%\\%\\%\\%%");
    assert_int_equal(loc_like_pattern("%%%", 1, out, 8), -1);
    assert_int_equal(loc_like_pattern("abc", 0, out, 4), -1);
}

static void test_uuid_array(void **state)
{
    char *ids[] = {"a", "bb", "ccc"};
    char out[32];
    (void)state;
    assert_int_equal(loc_uuid_array(ids, 3, out, sizeof out), 10);
    assert_string_equal(out, "{a,bb,ccc}");
    assert_int_equal(loc_uuid_array(ids, 0, out, sizeof out), 2);
    assert_string_equal(out, "{}");
    assert_int_equal(loc_uuid_array(ids, 3, out, 10), -1);
}

static void test_text_array(void **state)
{
    const char *v[] = {"a", "x,y} NULL", "q\"b\\c", ""};
    char out[64];
    (void)state;
    assert_int_equal(loc_text_array(v, 4, out, sizeof out), 30);
    assert_string_equal(out, "{\"a\",\"x,y} NULL\",\"q\\\"b\\\\c\",\"\"}");
    assert_int_equal(loc_text_array(v, 0, out, sizeof out), 2);
    assert_string_equal(out, "{}");
    /* Every size short of the whole literal is refused, never overrun. */
    for (size_t len = 0; len <= 30; len++)
        assert_int_equal(loc_text_array(v, 4, out, len), -1);
    assert_int_equal(loc_text_array(v, 4, out, 31), 30);
}

static void test_duplicates(void **state)
{
    char *ids[] = {"0a3e5f3c-0000-4000-8000-000000000001", "0A3E5F3C-0000-4000-8000-000000000001",
                   "0a3e5f3c-0000-4000-8000-000000000002"};
    (void)state;
    assert_true(loc_has_duplicate(ids, 2));
    assert_false(loc_has_duplicate(ids + 1, 2));
    assert_false(loc_has_duplicate(ids, 1));
    assert_false(loc_has_duplicate(ids, 0));
}

static void test_fence(void **state)
{
    const char *a = "0a3e5f3c-0000-4000-8000-000000000001";
    const char *A = "0A3E5F3C-0000-4000-8000-000000000001";
    const char *b = "0a3e5f3c-0000-4000-8000-000000000002";
    (void)state;
    assert_int_equal(loc_fence_decide(5, a, 4, b), LOC_FENCE_APPLY);
    assert_int_equal(loc_fence_decide(5, "", 0, ""), LOC_FENCE_APPLY);
    assert_int_equal(loc_fence_decide(5, a, 5, A), LOC_FENCE_NOOP);
    assert_int_equal(loc_fence_decide(0, "", 0, ""), LOC_FENCE_NOOP);
    assert_int_equal(loc_fence_decide(5, b, 5, a), LOC_FENCE_STALE);
    assert_int_equal(loc_fence_decide(4, a, 5, a), LOC_FENCE_STALE);
    assert_int_equal(loc_fence_decide(INT64_MAX, a, INT64_MAX - 1, b), LOC_FENCE_APPLY);
    assert_int_equal(loc_fence_decide(1, NULL, 1, ""), LOC_FENCE_NOOP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_like_pattern), cmocka_unit_test(test_uuid_array),
        cmocka_unit_test(test_text_array),   cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_fence),

    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
