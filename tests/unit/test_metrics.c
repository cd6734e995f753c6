/* kn_metrics: the exact exposition text for known values, label bounds,
 * lock-free recording from several threads, and the kn_admin listener
 * serving it over HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "kn_admin.h"
#include "kn_metrics.h"
#include "kn_status.h"

#define M_CREATE "/konnect.order.v1.OrderService/CreateOrder"
#define M_GET    "/konnect.order.v1.OrderService/GetOrder"

static char *render(void)
{
    size_t len = 0;
    char *s = kn_metrics_render_alloc(&len);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    return s;
}

/* The block starting at `# HELP <name> ` up to the next `# HELP` (or the end). */
static char *block(const char *text, const char *name)
{
    char head[200];
    snprintf(head, sizeof head, "# HELP %s ", name);
    const char *b = strstr(text, head);
    if (b == NULL) {
        fail_msg("no block for %s in:\n%s", name, text);
        return NULL;
    }
    const char *e = strstr(b + 1, "# HELP ");
    size_t n = e != NULL ? (size_t)(e - b) : strlen(b);
    char *out = malloc(n + 1);
    memcpy(out, b, n);
    out[n] = '\0';
    return out;
}

static void assert_block(const char *text, const char *name, const char *want)
{
    char *got = block(text, name);
    if (strcmp(got, want) != 0)
        fail_msg("block %s differs.\n--- want\n%s--- got\n%s", name, want, got);
    free(got);
}

static int setup(void **state)
{
    kn_metrics_reset();
    return 0;
}

static void test_grpc_exact_text(void **state)
{
    kn_metrics_init("order-svc");
    int create = kn_metrics_method_register(M_CREATE);
    int get = kn_metrics_method_register(M_GET);
    assert_int_equal(create, 0);
    assert_int_equal(get, 1);
    assert_int_equal(kn_metrics_method_register(M_CREATE), create);
    assert_int_equal(kn_metrics_method_index(M_GET), get);
    assert_int_equal(kn_metrics_method_index("/nope/Nope"), KN_METRICS_OTHER);

    kn_metrics_grpc_observe(create, KN_OK, 300);   /* <= 0.0005 */
    kn_metrics_grpc_observe(create, KN_OK, 500);   /* exactly on the bound: le is inclusive */
    kn_metrics_grpc_observe(create, KN_OK, 12000); /* 0.025 bucket */
    kn_metrics_grpc_request(M_GET, KN_NOT_FOUND, 2000);
    kn_metrics_grpc_request("/evil.Svc/Random", KN_UNIMPLEMENTED, 7000000); /* > 5 s */
    kn_metrics_grpc_observe(get, 99, 1); /* out-of-range code: UNKNOWN */

    char *t = render();
    assert_block(t, "konnect_grpc_requests_total",
                 "# HELP konnect_grpc_requests_total gRPC calls served, by method and status "
                 "code.\n"
                 "# TYPE konnect_grpc_requests_total counter\n"
                 "konnect_grpc_requests_total{method=\"" M_CREATE "\",code=\"OK\"} 3\n"
                 "konnect_grpc_requests_total{method=\"" M_GET "\",code=\"UNKNOWN\"} 1\n"
                 "konnect_grpc_requests_total{method=\"" M_GET "\",code=\"NOT_FOUND\"} 1\n"
                 "konnect_grpc_requests_total{method=\"other\",code=\"UNIMPLEMENTED\"} 1\n");

    char *h = block(t, "konnect_grpc_request_duration_seconds");
    const char *create_ok =
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.0005\"} 2\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.001\"} 2\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.0025\"} 2\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.005\"} 2\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.01\"} 2\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.025\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.05\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.1\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.25\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"0.5\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"1\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"2.5\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"5\"} 3\n"
        "konnect_grpc_request_duration_seconds_bucket{method=\"" M_CREATE
        "\",code=\"OK\",le=\"+Inf\"} 3\n"
        "konnect_grpc_request_duration_seconds_sum{method=\"" M_CREATE "\",code=\"OK\"} 0.0128\n"
        "konnect_grpc_request_duration_seconds_count{method=\"" M_CREATE "\",code=\"OK\"} 3\n";
    const char *pos = strstr(h, create_ok);
    if (pos == NULL)
        fail_msg("CreateOrder OK histogram not found in:\n%s", h);
    assert_true(strncmp(h,
                        "# HELP konnect_grpc_request_duration_seconds Time from receiving a gRPC "
                        "call to sending its status.\n"
                        "# TYPE konnect_grpc_request_duration_seconds histogram\n",
                        150) == 0);
    /* The > 5 s call is only in +Inf; the sum keeps its full value. */
    assert_non_null(strstr(h, "konnect_grpc_request_duration_seconds_bucket{method=\"other\","
                              "code=\"UNIMPLEMENTED\",le=\"5\"} 0\n"
                              "konnect_grpc_request_duration_seconds_bucket{method=\"other\","
                              "code=\"UNIMPLEMENTED\",le=\"+Inf\"} 1\n"
                              "konnect_grpc_request_duration_seconds_sum{method=\"other\","
                              "code=\"UNIMPLEMENTED\"} 7\n"));
    assert_non_null(strstr(h, "konnect_grpc_request_duration_seconds_sum{method=\"" M_GET
                              "\",code=\"UNKNOWN\"} 0.000001\n"));
    /* 2 + 1 + 1 + 1 series of 16 lines each, plus the two header lines. */
    int lines = 0;
    for (const char *p = h; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 2 + 4 * 16);
    free(h);
    assert_non_null(
        strstr(t, "konnect_build_info{service=\"order-svc\",version=\"" KN_VERSION "\"} 1\n"));
    free(t);
}

static void test_other_series_exact_text(void **state)
{
    kn_metrics_cache(KN_METRICS_CACHE_HIT);
    kn_metrics_cache(KN_METRICS_CACHE_HIT);
    kn_metrics_cache(KN_METRICS_CACHE_MISS);
    kn_metrics_db_open(3);
    kn_metrics_db_open(-1);
    kn_metrics_db_in_use(1);
    kn_metrics_db_error();
    kn_metrics_lock(KN_METRICS_LOCK_ACQUIRED, 400);
    kn_metrics_lock(KN_METRICS_LOCK_FALLBACK, 20000);
    kn_metrics_lock(KN_METRICS_LOCK_BUSY, 1500);
    kn_metrics_grpc_in_flight(2);
    kn_metrics_grpc_in_flight(-1);

    char *t = render();
    assert_block(t, "konnect_cache_requests_total",
                 "# HELP konnect_cache_requests_total Redis cache lookups by result (error: Redis "
                 "unavailable).\n"
                 "# TYPE konnect_cache_requests_total counter\n"
                 "konnect_cache_requests_total{result=\"hit\"} 2\n"
                 "konnect_cache_requests_total{result=\"miss\"} 1\n"
                 "konnect_cache_requests_total{result=\"error\"} 0\n");
    assert_block(t, "konnect_db_connections_open",
                 "# HELP konnect_db_connections_open Open PostgreSQL connections.\n"
                 "# TYPE konnect_db_connections_open gauge\n"
                 "konnect_db_connections_open 2\n");
    assert_block(t, "konnect_db_connections_in_use",
                 "# HELP konnect_db_connections_in_use PostgreSQL connections running a "
                 "statement right now.\n"
                 "# TYPE konnect_db_connections_in_use gauge\n"
                 "konnect_db_connections_in_use 1\n");
    assert_block(t, "konnect_db_errors_total",
                 "# HELP konnect_db_errors_total Failed PostgreSQL connects and statements.\n"
                 "# TYPE konnect_db_errors_total counter\n"
                 "konnect_db_errors_total 1\n");
    assert_block(t, "konnect_grpc_requests_in_flight",
                 "# HELP konnect_grpc_requests_in_flight gRPC calls being served right now.\n"
                 "# TYPE konnect_grpc_requests_in_flight gauge\n"
                 "konnect_grpc_requests_in_flight 1\n");
    assert_block(t, "konnect_lock_wait_seconds",
                 "# HELP konnect_lock_wait_seconds Time spent acquiring a distributed lock.\n"
                 "# TYPE konnect_lock_wait_seconds histogram\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.0005\"} 1\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.001\"} 1\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.005\"} 2\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.01\"} 2\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.05\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.1\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"0.5\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"1\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"5\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"10\"} 3\n"
                 "konnect_lock_wait_seconds_bucket{le=\"+Inf\"} 3\n"
                 "konnect_lock_wait_seconds_sum 0.0219\n"
                 "konnect_lock_wait_seconds_count 3\n");
    assert_block(t, "konnect_lock_acquire_total",
                 "# HELP konnect_lock_acquire_total Distributed lock attempts by result "
                 "(fallback: PostgreSQL advisory lock).\n"
                 "# TYPE konnect_lock_acquire_total counter\n"
                 "konnect_lock_acquire_total{result=\"acquired\"} 1\n"
                 "konnect_lock_acquire_total{result=\"fallback\"} 1\n"
                 "konnect_lock_acquire_total{result=\"busy\"} 1\n"
                 "konnect_lock_acquire_total{result=\"error\"} 0\n");
    /* No gRPC call yet: the headers only. */
    assert_block(t, "konnect_grpc_requests_total",
                 "# HELP konnect_grpc_requests_total gRPC calls served, by method and status "
                 "code.\n"
                 "# TYPE konnect_grpc_requests_total counter\n");
    free(t);
}

static void test_process_metrics(void **state)
{
    kn_metrics_init("x");
    char *t = render();
    const char *p = strstr(t, "\nkonnect_process_start_time_seconds ");
    assert_non_null(p);
    double start = strtod(p + strlen("\nkonnect_process_start_time_seconds "), NULL);
    assert_true(start > 1.6e9);
    p = strstr(t, "\nkonnect_process_resident_memory_bytes ");
    assert_non_null(p);
    long long rss = strtoll(p + strlen("\nkonnect_process_resident_memory_bytes "), NULL, 10);
    assert_true(rss > 1000000);
    assert_non_null(strstr(t, "# TYPE konnect_process_start_time_seconds gauge\n"));
    /* Every line is a comment or "name{labels} value". */
    for (char *line = t; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_true(line[0] == '#' || strncmp(line, "konnect_", 8) == 0);
        line = nl + 1;
    }
    free(t);
}

static void test_render_truncates_like_snprintf(void **state)
{
    kn_metrics_method_register(M_CREATE);
    kn_metrics_grpc_request(M_CREATE, KN_OK, 10);
    size_t need = kn_metrics_render(NULL, 0);
    assert_true(need > 1000);
    char small[100];
    size_t n = kn_metrics_render(small, sizeof small);
    assert_true(n >= need - 2 && n <= need + 2); /* resident memory may change a digit */
    assert_int_equal(strlen(small), sizeof small - 1);
    char *full = malloc(n + 64);
    size_t n2 = kn_metrics_render(full, n + 64);
    assert_int_equal(strlen(full), n2);
    assert_memory_equal(full, small, sizeof small - 1);
    free(full);
}

static void test_method_bounds_and_escaping(void **state)
{
    char name[64];
    for (int i = 0; i < KN_METRICS_MAX_METHODS; i++) {
        snprintf(name, sizeof name, "/s.S/M%d", i);
        assert_int_equal(kn_metrics_method_register(name), i);
    }
    assert_int_equal(kn_metrics_method_register("/s.S/OneTooMany"), KN_METRICS_OTHER);
    char longname[300];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(kn_metrics_method_register(longname), KN_METRICS_OTHER);
    kn_metrics_grpc_request("/s.S/OneTooMany", KN_OK, 1);
    kn_metrics_grpc_observe(1000, KN_OK, 1);
    kn_metrics_grpc_observe(-5, KN_OK, 1);
    char *t = render();
    assert_non_null(strstr(t, "konnect_grpc_requests_total{method=\"other\",code=\"OK\"} 3\n"));
    free(t);

    kn_metrics_reset();
    kn_metrics_init("we\"ird\\svc\n");
    int m = kn_metrics_method_register("/a\"b");
    kn_metrics_grpc_observe(m, KN_OK, 1);
    t = render();
    assert_non_null(strstr(t, "{service=\"we\\\"ird\\\\svc\\n\","));
    assert_non_null(strstr(t, "konnect_grpc_requests_total{method=\"/a\\\"b\",code=\"OK\"} 1\n"));
    free(t);
}

#define NTHREADS   4
#define PER_THREAD 50000

static void *hammer(void *arg)
{
    intptr_t id = (intptr_t)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        kn_metrics_grpc_request(i % 2 ? M_CREATE : M_GET, KN_OK, 1000 + (i % 7));
        kn_metrics_cache(i % 3 == 0 ? KN_METRICS_CACHE_MISS : KN_METRICS_CACHE_HIT);
        kn_metrics_db_in_use(1);
        kn_metrics_db_in_use(-1);
        if (id == 0 && i % 1000 == 0) {
            /* Scrapes racing with recording must not crash or tear. */
            free(kn_metrics_render_alloc(NULL));
        }
    }
    return NULL;
}

static unsigned long long value_of(const char *text, const char *series)
{
    const char *p = strstr(text, series);
    if (p == NULL)
        fail_msg("%s not found", series);
    return strtoull(p + strlen(series), NULL, 10);
}

static void test_concurrent_recording(void **state)
{
    kn_metrics_method_register(M_CREATE);
    kn_metrics_method_register(M_GET);
    pthread_t th[NTHREADS];
    for (intptr_t i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    char *t = render();
    unsigned long long per_method = NTHREADS * PER_THREAD / 2;
    assert_int_equal(
        value_of(t, "konnect_grpc_requests_total{method=\"" M_CREATE "\",code=\"OK\"} "),
        per_method);
    assert_int_equal(value_of(t, "konnect_grpc_requests_total{method=\"" M_GET "\",code=\"OK\"} "),
                     per_method);
    assert_int_equal(value_of(t, "konnect_grpc_request_duration_seconds_count{method=\"" M_GET
                                 "\",code=\"OK\"} "),
                     per_method);
    /* Every duration is 1.000..1.006 ms: all in the 0.0025 bucket, none in 0.001. */
    unsigned long long on_bound = 0;
    for (int i = 0; i < PER_THREAD; i += 2)
        on_bound += i % 7 == 0;
    assert_int_equal(value_of(t, "konnect_grpc_request_duration_seconds_bucket{method=\"" M_GET
                                 "\",code=\"OK\",le=\"0.001\"} "),
                     NTHREADS * on_bound);
    unsigned long long misses = NTHREADS * ((PER_THREAD + 2) / 3);
    assert_int_equal(value_of(t, "konnect_cache_requests_total{result=\"miss\"} "), misses);
    assert_int_equal(value_of(t, "konnect_cache_requests_total{result=\"hit\"} "),
                     NTHREADS * PER_THREAD - misses);
    assert_int_equal(value_of(t, "konnect_db_connections_in_use "), 0);

    /* The exact sum: per thread, durations 1000 + i % 7 over all i. */
    unsigned long long sum_create = 0;
    for (int i = 1; i < PER_THREAD; i += 2)
        sum_create += 1000 + (unsigned long long)(i % 7);
    sum_create *= NTHREADS;
    char frac[16];
    snprintf(frac, sizeof frac, "%06llu", sum_create % 1000000);
    for (size_t l = strlen(frac); l > 0 && frac[l - 1] == '0'; l--)
        frac[l - 1] = '\0';
    char want[200];
    snprintf(want, sizeof want,
             "konnect_grpc_request_duration_seconds_sum{method=\"" M_CREATE "\",code=\"OK\"} "
             "%llu%s%s\n",
             sum_create / 1000000, *frac ? "." : "", frac);
    if (strstr(t, want) == NULL)
        fail_msg("want %s in\n%s", want, t);
    free(t);
}

/* --- kn_admin ----------------------------------------------------------- */

static char *http_get(int port, const char *req)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    size_t n = strlen(req);
    assert_int_equal(write(fd, req, n), (ssize_t)n);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void test_admin_http(void **state)
{
    kn_status st;
    kn_status_clear(&st);
    assert_null(kn_admin_start("nonsense", &st));
    assert_int_equal(st.code, KN_INVALID_ARGUMENT);
    assert_null(kn_admin_start("127.0.0.1:99999", &st));

    kn_admin *a = kn_admin_start("127.0.0.1:0", &st);
    assert_non_null(a);
    int port = kn_admin_port(a);
    assert_true(port > 0);

    /* The port is taken now: a second listener fails cleanly. */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    kn_status_clear(&st);
    assert_null(kn_admin_start(addr, &st));
    assert_int_equal(st.code, KN_UNAVAILABLE);

    kn_metrics_method_register(M_CREATE);
    kn_metrics_grpc_request(M_CREATE, KN_ABORTED, 100);
    char *r = http_get(port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 200 "));
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r, "\r\n\r\n# HELP konnect_build_info"));
    assert_non_null(
        strstr(r, "konnect_grpc_requests_total{method=\"" M_CREATE "\",code=\"ABORTED\"} 1\n"));
    free(r);

    r = http_get(port, "GET /healthz HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 200 "));
    assert_non_null(strstr(r, "\r\n\r\nok\n"));
    free(r);

    r = http_get(port, "GET /other HTTP/1.0\r\n\r\n");
    assert_non_null(strstr(r, " 404 "));
    free(r);

    r = http_get(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
    assert_non_null(strstr(r, " 405 "));
    assert_non_null(strstr(r, "Allow: GET, HEAD"));
    free(r);

    kn_admin_stop(a);
    kn_admin_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_grpc_exact_text, setup),
        cmocka_unit_test_setup(test_other_series_exact_text, setup),
        cmocka_unit_test_setup(test_process_metrics, setup),
        cmocka_unit_test_setup(test_render_truncates_like_snprintf, setup),
        cmocka_unit_test_setup(test_method_bounds_and_escaping, setup),
        cmocka_unit_test_setup(test_concurrent_recording, setup),
        cmocka_unit_test_setup(test_admin_http, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
