/* kn_arena: alignment, zeroing, growth, reset, and use by protobuf-c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "grpc/health/v1/health.pb-c.h"
#include "kn_arena.h"

static void test_alignment_and_zero(void **state)
{
    kn_arena *a = kn_arena_new(1024);
    for (size_t n = 1; n < 300; n += 7) {
        unsigned char *p = kn_arena_alloc(a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xab, n);
    }
    /* After a reset the memory handed out again must be zeroed again. */
    kn_arena_reset(a);
    for (size_t n = 1; n < 300; n += 7) {
        unsigned char *p = kn_arena_alloc(a, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], 0);
    }
    kn_arena_free(a);
}

static void test_zero_size_and_distinct(void **state)
{
    kn_arena *a = kn_arena_new(0);
    void *p = kn_arena_alloc(a, 0);
    void *q = kn_arena_alloc(a, 0);
    assert_non_null(p);
    assert_non_null(q);
    assert_ptr_not_equal(p, q);
    kn_arena_free(a);
}

static void test_large_and_growth(void **state)
{
    kn_arena *a = kn_arena_new(1024);
    /* Bigger than a block: gets a block of its own. */
    unsigned char *big = kn_arena_alloc(a, 100000);
    memset(big, 1, 100000);
    /* Many small ones across several blocks stay valid. */
    char *ptrs[500];
    for (int i = 0; i < 500; i++) {
        ptrs[i] = kn_arena_sprintf(a, "item-%d", i);
    }
    for (int i = 0; i < 500; i++) {
        char want[32];
        snprintf(want, sizeof want, "item-%d", i);
        assert_string_equal(ptrs[i], want);
    }
    assert_int_equal(big[99999], 1);
    assert_true(kn_arena_used(a) >= 100000);
    kn_arena_reset(a);
    assert_int_equal(kn_arena_used(a), 0);
    /* The arena is usable after a reset. */
    char *s = kn_arena_strdup(a, "again");
    assert_string_equal(s, "again");
    kn_arena_free(a);
}

static void test_strings(void **state)
{
    kn_arena *a = kn_arena_new(0);
    assert_string_equal(kn_arena_strdup(a, "hello"), "hello");
    assert_string_equal(kn_arena_strndup(a, "hello", 3), "hel");
    assert_string_equal(kn_arena_strndup(a, "hi", 10), "hi");
    assert_null(kn_arena_strdup(a, NULL));
    assert_string_equal(kn_arena_sprintf(a, "%s-%d", "x", 42), "x-42");
    char longfmt[5000];
    memset(longfmt, 'z', sizeof longfmt - 1);
    longfmt[sizeof longfmt - 1] = '\0';
    assert_int_equal(strlen(kn_arena_sprintf(a, "%s", longfmt)), sizeof longfmt - 1);
    kn_arena_free(a);
}

static void test_protobuf(void **state)
{
    kn_arena *a = kn_arena_new(0);
    Grpc__Health__V1__HealthCheckRequest *m =
        kn_arena_msg(a, &grpc__health__v1__health_check_request__descriptor);
    assert_ptr_equal(m->base.descriptor, &grpc__health__v1__health_check_request__descriptor);
    /* message_init sets string defaults to "" */
    assert_non_null(m->service);
    assert_string_equal(m->service, "");
    m->service = "konnect.order.v1.OrderService";
    uint8_t buf[128];
    size_t n = protobuf_c_message_pack(&m->base, buf);

    Grpc__Health__V1__HealthCheckRequest *d = (void *)protobuf_c_message_unpack(
        &grpc__health__v1__health_check_request__descriptor, kn_arena_allocator(a), n, buf);
    assert_non_null(d);
    assert_string_equal(d->service, "konnect.order.v1.OrderService");
    /* free through the allocator is a no-op; the arena frees everything */
    protobuf_c_message_free_unpacked(&d->base, kn_arena_allocator(a));

    const uint8_t bad[] = {0xff, 0xff, 0xff};
    assert_null(protobuf_c_message_unpack(&grpc__health__v1__health_check_request__descriptor,
                                          kn_arena_allocator(a), sizeof bad, bad));
    kn_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment_and_zero), cmocka_unit_test(test_zero_size_and_distinct),
        cmocka_unit_test(test_large_and_growth),   cmocka_unit_test(test_strings),
        cmocka_unit_test(test_protobuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
