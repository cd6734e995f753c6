/* kn_config: parsing of integers, ranges and booleans, the messages naming
 * the variable, and the per-service loading with its defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kn_config.h"
#include "kn_redis.h"

static const char *const all_vars[] = {
    "KN_TEST_INT",
    "KN_TEST_BOOL",
    "KN_TEST_STR",
    "KN_ORDER_SVC_LISTEN",
    "KN_ORDER_SVC_ADMIN_LISTEN",
    "KN_ORDER_SVC_DATABASE_URL",
    "KN_ORDER_SVC_MIGRATIONS_DIR",
    "KN_ORDER_SVC_WORKERS",
    "KN_WORKERS",
    "KN_REDIS_URL",
    "KN_JWT_SECRET",
    "KN_INTERNAL_SECRET",
    "KN_MAX_MESSAGE_BYTES",
    "KN_SHUTDOWN_GRACE_MS",
    "KN_REDIS_TIMEOUT_MS",
    "KN_CACHE_TTL_S",
    "KN_ASSIGN_SVC_WORKERS",
};

static int clean_env(void **state)
{
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
        unsetenv(all_vars[i]);
    return 0;
}

static void test_str(void **state)
{
    assert_string_equal(kn_config_str("KN_TEST_STR", "def"), "def");
    setenv("KN_TEST_STR", "", 1);
    assert_string_equal(kn_config_str("KN_TEST_STR", "def"), "def");
    setenv("KN_TEST_STR", "value", 1);
    assert_string_equal(kn_config_str("KN_TEST_STR", "def"), "value");
}

static void test_int(void **state)
{
    long v = 0;
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_OK);
    assert_int_equal(v, 42);
    setenv("KN_TEST_INT", "17", 1);
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_OK);
    assert_int_equal(v, 17);
    setenv("KN_TEST_INT", " 18 ", 1);
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_OK);
    assert_int_equal(v, 18);
    setenv("KN_TEST_INT", "-5", 1);
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, -10, 100, &v, &st), KN_OK);
    assert_int_equal(v, -5);
    setenv("KN_TEST_INT", "100", 1); /* bounds are inclusive */
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_OK);
    assert_int_equal(v, 100);

    const char *bad[] = {"abc", "12abc", "1.5", "0x10", "99999999999999999999999", "-", " "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("KN_TEST_INT", bad[i], 1);
        v = 7;
        memset(&st, 0, sizeof(st));
        /* " ": whitespace only is set, and not a number */
        assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_INVALID_ARGUMENT);
        assert_non_null(strstr(st.message, "KN_TEST_INT"));
        assert_int_equal(v, 7); /* untouched on error */
    }
    setenv("KN_TEST_INT", "0", 1);
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "KN_TEST_INT"));
    assert_non_null(strstr(st.message, "between 1 and 100"));
    setenv("KN_TEST_INT", "101", 1);
    assert_int_equal(kn_config_int("KN_TEST_INT", 42, 1, 100, &v, &st), KN_INVALID_ARGUMENT);
}

static void test_bool(void **state)
{
    int b = -1;
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(kn_config_bool("KN_TEST_BOOL", 1, &b, &st), KN_OK);
    assert_int_equal(b, 1);
    assert_int_equal(kn_config_bool("KN_TEST_BOOL", 0, &b, &st), KN_OK);
    assert_int_equal(b, 0);
    const char *yes[] = {"1", "true", "TRUE", "yes", "Yes", "on"};
    const char *no[] = {"0", "false", "False", "no", "off", "OFF"};
    for (size_t i = 0; i < 6; i++) {
        setenv("KN_TEST_BOOL", yes[i], 1);
        assert_int_equal(kn_config_bool("KN_TEST_BOOL", 0, &b, &st), KN_OK);
        assert_int_equal(b, 1);
        setenv("KN_TEST_BOOL", no[i], 1);
        assert_int_equal(kn_config_bool("KN_TEST_BOOL", 1, &b, &st), KN_OK);
        assert_int_equal(b, 0);
    }
    setenv("KN_TEST_BOOL", "maybe", 1);
    assert_int_equal(kn_config_bool("KN_TEST_BOOL", 1, &b, &st), KN_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message, "KN_TEST_BOOL"));
    setenv("KN_TEST_BOOL", "2", 1);
    assert_int_equal(kn_config_bool("KN_TEST_BOOL", 1, &b, &st), KN_INVALID_ARGUMENT);
}

static void test_service_defaults(void **state)
{
    kn_service_config c;
    kn_status st;
    memset(&st, 0, sizeof(st));
    assert_int_equal(
        kn_service_config_load(&c, "order-svc", "127.0.0.1:7102", "/srv/order-svc/migrations", &st),
        KN_OK);
    assert_string_equal(c.service, "order-svc");
    assert_string_equal(c.listen, "127.0.0.1:7102");
    assert_string_equal(c.admin_listen, "");
    assert_string_equal(c.database_url, "postgresql://postgres@127.0.0.1:5432/konnect_order");
    assert_string_equal(c.migrations_dir, "/srv/order-svc/migrations");
    assert_string_equal(c.redis_url, "redis://127.0.0.1:6379");
    assert_string_equal(c.jwt_secret, "konnect-dev-secret-change-me");
    assert_true(strlen(c.internal_secret) > 0);
    assert_string_not_equal(c.internal_secret, c.jwt_secret);
    assert_int_equal(c.workers, 8);
    assert_int_equal(c.max_message_bytes, 4 * 1024 * 1024);
    assert_int_equal(c.grace_ms, 5000);
    assert_int_equal(c.redis_timeout_ms, 200);
    assert_int_equal(c.cache_ttl_s, 60);

    assert_int_equal(kn_service_config_load(&c, "location-svc", "127.0.0.1:7101", "m", &st), KN_OK);
    assert_string_equal(c.database_url, "postgresql://postgres@127.0.0.1:5432/konnect_location");
    assert_int_equal(kn_service_config_load(&c, "assign-svc", "127.0.0.1:7103", "m", &st), KN_OK);
    assert_string_equal(c.database_url, "postgresql://postgres@127.0.0.1:5432/konnect_assign");
}

static void test_service_env(void **state)
{
    kn_service_config c;
    kn_status st;
    memset(&st, 0, sizeof(st));
    setenv("KN_ORDER_SVC_LISTEN", "0.0.0.0:9000", 1);
    setenv("KN_ORDER_SVC_ADMIN_LISTEN", "127.0.0.1:9100", 1);
    setenv("KN_ORDER_SVC_DATABASE_URL", "host=/tmp dbname=x", 1);
    setenv("KN_ORDER_SVC_MIGRATIONS_DIR", "/m", 1);
    setenv("KN_WORKERS", "3", 1);
    setenv("KN_JWT_SECRET", "s1", 1);
    setenv("KN_INTERNAL_SECRET", "s2", 1);
    setenv("KN_MAX_MESSAGE_BYTES", "65536", 1);
    setenv("KN_SHUTDOWN_GRACE_MS", "0", 1);
    setenv("KN_REDIS_TIMEOUT_MS", "50", 1);
    setenv("KN_CACHE_TTL_S", "5", 1);
    setenv("KN_REDIS_URL", "", 1); /* set but empty: Redis disabled */
    assert_int_equal(kn_service_config_load(&c, "order-svc", "127.0.0.1:7102", "d", &st), KN_OK);
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_string_equal(c.admin_listen, "127.0.0.1:9100");
    assert_string_equal(c.database_url, "host=/tmp dbname=x");
    assert_string_equal(c.migrations_dir, "/m");
    assert_int_equal(c.workers, 3); /* from KN_WORKERS */
    assert_string_equal(c.jwt_secret, "s1");
    assert_string_equal(c.internal_secret, "s2");
    assert_int_equal(c.max_message_bytes, 65536);
    assert_int_equal(c.grace_ms, 0);
    assert_int_equal(c.redis_timeout_ms, 50);
    assert_int_equal(c.cache_ttl_s, 5);
    assert_string_equal(c.redis_url, "");

    /* The per-service worker count wins over the shared one. */
    setenv("KN_ORDER_SVC_WORKERS", "2", 1);
    assert_int_equal(kn_service_config_load(&c, "order-svc", "l", "d", &st), KN_OK);
    assert_int_equal(c.workers, 2);
    /* ... and only for that service. */
    assert_int_equal(kn_service_config_load(&c, "assign-svc", "l", "d", &st), KN_OK);
    assert_int_equal(c.workers, 3);
}

static void expect_load_error(const char *var, const char *value)
{
    kn_service_config c;
    kn_status st;
    memset(&st, 0, sizeof(st));
    setenv(var, value, 1);
    kn_code rc = kn_service_config_load(&c, "order-svc", "l", "d", &st);
    unsetenv(var);
    if (rc != KN_INVALID_ARGUMENT || !strstr(st.message, var))
        fail_msg("%s=%s: want INVALID_ARGUMENT naming it, got %d '%s'", var, value, rc, st.message);
}

static void test_service_bad_values(void **state)
{
    expect_load_error("KN_WORKERS", "0");
    expect_load_error("KN_WORKERS", "257");
    expect_load_error("KN_WORKERS", "many");
    expect_load_error("KN_ORDER_SVC_WORKERS", "-1");
    expect_load_error("KN_MAX_MESSAGE_BYTES", "4MiB");
    expect_load_error("KN_SHUTDOWN_GRACE_MS", "-1");
    expect_load_error("KN_REDIS_TIMEOUT_MS", "0");
    expect_load_error("KN_CACHE_TTL_S", "1e3");
}

/* KN_REDIS_URL is checked with kn_redis_parse_url at start. */
static void test_redis_url(void **state)
{
    char host[64], pw[64];
    int port = 0, db = -1;
    assert_int_equal(kn_redis_parse_url("redis://127.0.0.1:6379", host, sizeof(host), &port, &db,
                                        pw, sizeof(pw)),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6379);
    assert_int_equal(db, 0);
    assert_string_equal(pw, "");
    assert_int_equal(
        kn_redis_parse_url("redis://cache.svc:7000/3", host, sizeof(host), &port, &db, NULL, 0), 0);
    assert_string_equal(host, "cache.svc");
    assert_int_equal(port, 7000);
    assert_int_equal(db, 3);
    assert_int_equal(
        kn_redis_parse_url("redis://localhost", host, sizeof(host), &port, &db, pw, sizeof(pw)), 0);
    assert_int_equal(port, 6379);
    assert_int_equal(
        kn_redis_parse_url("redis://:s3cret@h:1/", host, sizeof(host), &port, &db, pw, sizeof(pw)),
        0);
    assert_string_equal(host, "h");
    assert_string_equal(pw, "s3cret");
    const char *bad[] = {"",
                         "127.0.0.1:6379",
                         "http://h:1",
                         "redis://",
                         "redis://h:",
                         "redis://h:0",
                         "redis://h:70000",
                         "redis://h:12x",
                         "redis://h/db",
                         "redis://h:1/2/3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (kn_redis_parse_url(bad[i], host, sizeof(host), &port, &db, pw, sizeof(pw)) == 0)
            fail_msg("'%s' accepted", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_str, clean_env),
        cmocka_unit_test_setup(test_int, clean_env),
        cmocka_unit_test_setup(test_bool, clean_env),
        cmocka_unit_test_setup(test_service_defaults, clean_env),
        cmocka_unit_test_setup(test_service_env, clean_env),
        cmocka_unit_test_setup(test_service_bad_values, clean_env),
        cmocka_unit_test(test_redis_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
