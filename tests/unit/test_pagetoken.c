/* kn_pagetoken: round trip, and every way a token is refused: edited by
 * hand, cut short, not base64url, another version, another query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "kn_pagetoken.h"

#define ID "123e4567-e89b-42d3-a456-426614174000"

static uint64_t query(const char *tenant, const char *status)
{
    const char *parts[] = {tenant, "user-1", status, NULL};
    return kn_page_query_hash(parts, 4);
}

static void expect_invalid(const char *token, uint64_t qh)
{
    kn_page_key k;
    kn_status st;
    memset(&st, 0, sizeof(st));
    kn_code rc = kn_page_token_decode("page_token", token, qh, &k, &st);
    if (rc != KN_INVALID_ARGUMENT || strcmp(st.message, "invalid page_token") != 0)
        fail_msg("token '%s': want INVALID_ARGUMENT 'invalid page_token', got %d '%s'", token, rc,
                 st.message);
}

static void test_round_trip(void **state)
{
    kn_page_key in = {.time_us = 1700000000123456LL}, out;
    kn_status st;
    char tok[256];
    strcpy(in.id, ID);
    uint64_t qh = query("t1", "ACTIVE");
    int n = kn_page_token_encode(&in, qh, tok, sizeof(tok));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    /* base64url alphabet only: safe in a URL query without escaping */
    assert_int_equal(
        strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), (size_t)n);
    memset(&st, 0, sizeof(st));
    memset(&out, 0x55, sizeof(out));
    assert_int_equal(kn_page_token_decode("page_token", tok, qh, &out, &st), KN_OK);
    assert_int_equal(out.time_us, in.time_us);
    assert_string_equal(out.id, ID);

    /* Negative and extreme keys, empty and maximum-length ids. */
    int64_t times[] = {0, -1, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        in.time_us = times[i];
        in.id[0] = '\0';
        assert_true(kn_page_token_encode(&in, qh, tok, sizeof(tok)) > 0);
        assert_int_equal(kn_page_token_decode("page_token", tok, qh, &out, &st), KN_OK);
        assert_int_equal(out.time_us, times[i]);
        assert_string_equal(out.id, "");
    }
    memset(in.id, 'z', sizeof(in.id) - 1);
    in.id[sizeof(in.id) - 1] = '\0';
    assert_true(kn_page_token_encode(&in, qh, tok, sizeof(tok)) > 0);
    assert_int_equal(kn_page_token_decode("page_token", tok, qh, &out, &st), KN_OK);
    assert_string_equal(out.id, in.id);

    /* Too small an output buffer. */
    assert_int_equal(kn_page_token_encode(&in, qh, tok, 10), -1);
}

static void test_other_query(void **state)
{
    kn_page_key in = {.time_us = 42};
    char tok[256];
    strcpy(in.id, ID);
    assert_true(kn_page_token_encode(&in, query("t1", "ACTIVE"), tok, sizeof(tok)) > 0);
    expect_invalid(tok, query("t2", "ACTIVE"));    /* another tenant */
    expect_invalid(tok, query("t1", "CANCELLED")); /* other filters */
    /* Parts are separated: ("ab","c") is not ("a","bc"); NULL is "". */
    const char *p1[] = {"ab", "c"}, *p2[] = {"a", "bc"}, *p3[] = {NULL, "x"}, *p4[] = {"", "x"};
    assert_true(kn_page_query_hash(p1, 2) != kn_page_query_hash(p2, 2));
    assert_true(kn_page_query_hash(p3, 2) == kn_page_query_hash(p4, 2));
}

static void test_tampered(void **state)
{
    kn_page_key in = {.time_us = 1700000000123456LL};
    char tok[256], bad[300];
    strcpy(in.id, ID);
    uint64_t qh = query("t1", "ACTIVE");
    int n = kn_page_token_encode(&in, qh, tok, sizeof(tok));
    assert_true(n > 0);

    /* Every single-character edit is refused (version, hash, time, id, check). */
    const char *alphabet = "AQgw_-";
    for (int i = 0; i < n; i++) {
        for (const char *c = alphabet; *c; c++) {
            if (tok[i] == *c)
                continue;
            strcpy(bad, tok);
            bad[i] = *c;
            kn_page_key k;
            kn_status st;
            memset(&st, 0, sizeof(st));
            if (kn_page_token_decode("page_token", bad, qh, &k, &st) == KN_OK)
                fail_msg("edit at %d ('%c') accepted", i, *c);
            assert_string_equal(st.message, "invalid page_token");
        }
    }
    /* Cut short, extended, not base64url, padded, empty. */
    snprintf(bad, sizeof(bad), "%.*s", n - 1, tok);
    expect_invalid(bad, qh);
    snprintf(bad, sizeof(bad), "%.*s", n - 4, tok);
    expect_invalid(bad, qh);
    snprintf(bad, sizeof(bad), "%sAAAA", tok);
    expect_invalid(bad, qh);
    snprintf(bad, sizeof(bad), "%s=", tok);
    expect_invalid(bad, qh);
    strcpy(bad, tok);
    bad[5] = '+';
    expect_invalid(bad, qh);
    expect_invalid("", qh);
    expect_invalid("!!!!", qh);
    expect_invalid("AAAA", qh);

    /* A well-formed token of another version (check recomputed). */
    unsigned char bin[128];
    size_t len = 0;
    assert_int_equal(sodium_base642bin(bin, sizeof(bin), tok, (size_t)n, NULL, &len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    bin[0] = 2;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len - 4; i++) {
        h ^= bin[i];
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 4; i++)
        bin[len - 4 + (size_t)i] = (unsigned char)((uint32_t)h >> (8 * (3 - i)));
    sodium_bin2base64(bad, sizeof(bad), bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    expect_invalid(bad, qh);
    /* ... and the same recomputation with version 1 decodes: the test's
     * check matches the implementation, so the refusal above is the version. */
    bin[0] = 1;
    h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len - 4; i++) {
        h ^= bin[i];
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 4; i++)
        bin[len - 4 + (size_t)i] = (unsigned char)((uint32_t)h >> (8 * (3 - i)));
    sodium_bin2base64(bad, sizeof(bad), bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_string_equal(bad, tok);
}

static void test_field_named(void **state)
{
    kn_page_key k;
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_page_token_decode("next_page_token", "%%", 1, &k, &st),
                     KN_INVALID_ARGUMENT);
    assert_string_equal(st.message, "invalid next_page_token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_other_query),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_field_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
